//! A local, stateful emulator of Cloudflare's Secrets Store API, with fault injection.
//!
//! It serves `/client/v4/accounts/{account_id}/secrets_store/…` (the twelve endpoints of
//! `SECRETS_STORE_API.md`) for any number of accounts, in memory, optionally persisted to a
//! JSON state file. Admin routes under `/__emulator/` expose a request log, counters, the
//! fault knobs and a value-free state dump. Tests start it in-process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), cfsecrets::emulator::EmulatorError> {
//! use cfsecrets::emulator::{Emulator, EmulatorConfig};
//! let handle = Emulator::start(EmulatorConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! let base = handle.base_url(); // http://127.0.0.1:PORT/client/v4
//! # let _ = base;
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Invariants: values are held only to honour `duplicate` and are written only to the state
//! file; no endpoint, log, counter, `Debug` output or state dump carries them. This module
//! shares no logic with the client in [`crate::cloudflare`] (so the two cannot share one
//! mistake); it was written from the API reference alone.
//!
//! Connections are served by our own accept loop (hyper) rather than `axum::serve`, so
//! that a handler can close its connection without answering (the `drop` and
//! `drop_response` faults). The `truncate` and `garble` faults send a complete HTTP answer
//! whose JSON body was spoiled after the request was carried out.

mod api;
mod faults;
mod state;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use faults::{FaultConfig, FaultKind, ScheduledFault};
pub use state::{AccountDump, SecretDump, StateDump, StoreDump};

use api::{ApiError, Reply, Resolved};
use faults::{Decision, FaultEngine};
use state::World;

/// Errors starting or persisting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read emulator state {}", path.display())]
    ReadState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A state file that is not a regular file, or is over its size limit.
    #[error("cannot read emulator state: {0}")]
    StateFile(crate::fs::FsError),
    /// Only the position: the parser's own message can quote the file, which holds values.
    #[error("emulator state {} is not valid (line {line}, column {column})", path.display())]
    ParseState {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    #[error("emulator state {} has unknown version {version}", path.display())]
    StateVersion { path: PathBuf, version: u32 },
    #[error("cannot write emulator state {}", path.display())]
    WriteState {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a batch create does when one item is bad (the reference leaves it UNCERTAIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchMode {
    /// Nothing is created; the first item's error is returned.
    #[default]
    AllOrNothing,
    /// The good items are created; the answer is still a failure listing every bad item,
    /// with `result: null`, so the client must re-list to learn what exists.
    Partial,
}

/// How the emulator behaves. `Default` gives the documented Cloudflare behaviour.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The token clients must present (Bearer, or `X-Auth-Key` with `X-Auth-Email`);
    /// `None` accepts any non-empty token.
    pub token: Option<String>,
    /// A second token that may only read: its writes are refused as an authentication error
    /// (403, code 10000), as Cloudflare refuses a token without Secrets Store Write.
    pub read_only_token: Option<String>,
    /// Largest value in bytes (65,536; 1,024 mimics the limit accounts enforced in 2025).
    pub value_limit: usize,
    /// Secrets per account (100).
    pub quota: u64,
    /// Stores per account (1).
    pub max_stores: usize,
    pub batch_mode: BatchMode,
    /// A store created in every account on its first request (as the dashboard does).
    pub default_store: Option<String>,
    pub faults: FaultConfig,
    /// Seeds ids and fault dice; `None` uses OS randomness.
    pub seed: Option<u64>,
    /// Persist state here (atomic writes, mode 0600; holds values so `duplicate` survives a
    /// restart) and load it at start.
    pub state_file: Option<PathBuf>,
    /// A new secret shows `pending` in its create answer and in this many reads, then
    /// `active` (`None`: reads do not activate it).
    pub activate_after_reads: Option<u32>,
    /// …or once this long has passed since it was created (`None`: time does not).
    pub activate_after: Option<Duration>,
    /// Whether list answers carry `result_info.total_pages`. Cloudflare's do not (API notes
    /// §10), so the default leaves it out; turn it on to play a server that sends it.
    pub total_pages: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token: None,
            read_only_token: None,
            value_limit: 65_536,
            quota: 100,
            max_stores: 1,
            batch_mode: BatchMode::AllOrNothing,
            default_store: None,
            faults: FaultConfig::default(),
            seed: None,
            state_file: None,
            activate_after_reads: Some(1),
            activate_after: None,
            total_pages: false,
        }
    }
}

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "read_only_token",
                &self.read_only_token.as_ref().map(|_| "<redacted>"),
            )
            .field("value_limit", &self.value_limit)
            .field("quota", &self.quota)
            .field("max_stores", &self.max_stores)
            .field("batch_mode", &self.batch_mode)
            .field("default_store", &self.default_store)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("state_file", &self.state_file)
            .field("activate_after_reads", &self.activate_after_reads)
            .field("activate_after", &self.activate_after)
            .field("total_pages", &self.total_pages)
            .finish()
    }
}

/// One API request as the log keeps it: never a body, a query, a header or a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// 1, 2, 3… in arrival order (since the last reset).
    pub seq: u64,
    pub method: String,
    /// The path template without `/client/v4`, e.g.
    /// `/accounts/{account_id}/secrets_store/stores/{store_id}/secrets`; `(no route)` for
    /// paths outside the API.
    pub path: String,
    /// The path itself, ids included, without `/client/v4` and without the query, e.g.
    /// `/accounts/0123…/secrets_store/stores/ab12…/secrets/cd34…`: which store or secret a
    /// request touched (ids are not secret).
    pub resource: String,
    /// The HTTP status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// The fault applied, if any: `429`, `500`, `502`, `503`, `drop`, `drop_response`,
    /// `truncate`, `garble`, `rate_limit`.
    pub fault: Option<String>,
}

/// The shared heart of a running emulator.
struct Shared {
    config: EmulatorConfig,
    world: Mutex<World>,
    faults: Mutex<FaultEngine>,
    ids: Mutex<StdRng>,
    /// The request log; a record's `seq` is its position in it, counted from 1.
    log: Mutex<Vec<RequestRecord>>,
    persist_failures: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn id_rng(seed: Option<u64>) -> StdRng {
    match seed {
        // A different stream from the fault dice.
        Some(seed) => StdRng::seed_from_u64(seed ^ 0x5EC2_E75D_1D5E_ED00),
        None => StdRng::from_os_rng(),
    }
}

impl Shared {
    fn new_id(&self) -> String {
        let mut bytes = [0u8; 16];
        lock(&self.ids).fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    fn record(&self, req: &Seen<'_>, status: Option<u16>, fault: Option<&str>) {
        let mut log = lock(&self.log);
        let seq = log.len() as u64 + 1;
        log.push(RequestRecord {
            seq,
            method: req.method.to_string(),
            path: req.template.to_string(),
            resource: req.resource.to_string(),
            status,
            fault: fault.map(str::to_string),
        });
    }

    fn counters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in lock(&self.log).iter() {
            *out.entry(format!("{} {}", r.method, r.path)).or_insert(0) += 1;
        }
        out
    }

    fn clear_log(&self) {
        lock(&self.log).clear();
    }

    fn reset(&self) {
        let mut world = lock(&self.world);
        *world = World::default();
        lock(&self.faults).reset();
        *lock(&self.ids) = id_rng(self.config.seed);
        self.clear_log();
        self.persist(&world);
    }

    /// Writes the state file (called with the world locked, so writes cannot reorder).
    fn persist(&self, world: &World) {
        if let Some(path) = &self.config.state_file {
            // A failed write must not take the server down; it is counted and visible
            // through `EmulatorHandle::persist_failures`.
            if state::save(path, world).is_err() {
                *lock(&self.persist_failures) += 1;
            }
        }
    }
}

/// What the log keeps of a request.
struct Seen<'a> {
    method: &'a Method,
    template: &'a str,
    resource: &'a str,
}

/// Per-connection switch a handler pulls to close its connection without an answer.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Loads the state file (if configured), binds `addr` (use `127.0.0.1:0` in tests) and
    /// serves until the handle is shut down or dropped.
    pub async fn start(
        config: EmulatorConfig,
        addr: SocketAddr,
    ) -> Result<EmulatorHandle, EmulatorError> {
        let world = match &config.state_file {
            Some(path) => {
                let world = state::load(path)?;
                // Write once now, so an unwritable path fails at start, not silently later.
                state::save(path, &world)?;
                world
            }
            None => World::default(),
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            faults: Mutex::new(FaultEngine::new(config.faults.clone(), config.seed)),
            ids: Mutex::new(id_rng(config.seed)),
            world: Mutex::new(world),
            log: Mutex::new(Vec::new()),
            persist_failures: Mutex::new(0),
            config,
        });
        let app = router(shared.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, app, stop_rx));
        Ok(EmulatorHandle {
            addr,
            shared,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

async fn serve(listener: tokio::net::TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let kill = Arc::new(Notify::new());
                let app = app.clone();
                let conn_kill = ConnKill(kill.clone());
                let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(conn_kill.clone());
                    let mut app = app.clone();
                    async move { tower::Service::call(&mut app, req).await }
                });
                let mut stop = stop.clone();
                conns.spawn(async move {
                    // A client may close its sending side once the request is out (`nc -N`,
                    // a script's `shutdown(SHUT_WR)`); it still gets its answer.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .half_close(true)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = kill.notified() => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        }
    }
    conns.abort_all();
}

/// A running emulator. Dropping it stops the server; [`EmulatorHandle::shutdown`] also
/// waits for it.
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/client/v4`, the value for `CLOUDFLARE_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// `http://ADDR/__emulator`, where the admin routes live.
    pub fn admin_url(&self) -> String {
        format!("http://{}/__emulator", self.addr)
    }

    /// The request log (API requests only, oldest first).
    pub fn log(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Requests per `"METHOD /path/template"`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.shared.counters()
    }

    /// Requests seen for one method and path template (e.g.
    /// `("GET", "/accounts/{account_id}/secrets_store/quota")`).
    pub fn count(&self, method: &str, template: &str) -> u64 {
        self.counters()
            .get(&format!("{method} {template}"))
            .copied()
            .unwrap_or(0)
    }

    /// Forgets the log and counters only.
    pub fn clear_log(&self) {
        self.shared.clear_log();
    }

    /// Empties the world, the log, the counters and the scheduled faults; restarts the
    /// seeded dice and ids. The fault knobs stay as they are.
    pub fn reset(&self) {
        self.shared.reset();
    }

    pub fn faults(&self) -> FaultConfig {
        lock(&self.shared.faults).config.clone()
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        lock(&self.shared.faults).set_config(faults);
    }

    /// Fails the next `count` requests matching the method and path pattern.
    pub fn schedule(&self, fault: ScheduledFault) {
        lock(&self.shared.faults).scheduled.push(fault);
    }

    /// Scheduled faults not yet used up.
    pub fn scheduled(&self) -> Vec<ScheduledFault> {
        lock(&self.shared.faults).scheduled.clone()
    }

    /// How many state-file writes failed (0 when all succeeded or no file is configured).
    pub fn persist_failures(&self) -> u64 {
        *lock(&self.shared.persist_failures)
    }

    /// Every account, store and secret, without values.
    pub fn state(&self) -> StateDump {
        lock(&self.shared.world).dump()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__emulator/log", get(admin_log).delete(admin_clear_log))
        .route("/__emulator/counters", get(admin_counters))
        .route("/__emulator/reset", post(admin_reset))
        .route(
            "/__emulator/faults",
            get(admin_faults).put(admin_set_faults),
        )
        .route(
            "/__emulator/faults/schedule",
            get(admin_scheduled)
                .post(admin_schedule)
                .delete(admin_clear_scheduled),
        )
        .route("/__emulator/state", get(admin_state))
        .fallback(api_request)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

type AppState = State<Arc<Shared>>;

async fn admin_log(State(s): AppState) -> Response {
    axum::Json(lock(&s.log).clone()).into_response()
}

async fn admin_clear_log(State(s): AppState) -> StatusCode {
    s.clear_log();
    StatusCode::NO_CONTENT
}

async fn admin_counters(State(s): AppState) -> Response {
    axum::Json(s.counters()).into_response()
}

async fn admin_reset(State(s): AppState) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}

async fn admin_faults(State(s): AppState) -> Response {
    axum::Json(lock(&s.faults).config.clone()).into_response()
}

async fn admin_set_faults(State(s): AppState, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(config) => {
            lock(&s.faults).set_config(config.clone());
            axum::Json(config).into_response()
        }
        Err(err) => (
            StatusCode::BAD_REQUEST,
            format!("invalid fault config: {err}\n"),
        )
            .into_response(),
    }
}

async fn admin_scheduled(State(s): AppState) -> Response {
    axum::Json(lock(&s.faults).scheduled.clone()).into_response()
}

async fn admin_schedule(State(s): AppState, body: Bytes) -> Response {
    match serde_json::from_slice::<ScheduledFault>(&body) {
        Ok(fault) => {
            lock(&s.faults).scheduled.push(fault);
            axum::Json(lock(&s.faults).scheduled.clone()).into_response()
        }
        Err(err) => (
            StatusCode::BAD_REQUEST,
            format!("invalid scheduled fault: {err}\n"),
        )
            .into_response(),
    }
}

async fn admin_clear_scheduled(State(s): AppState) -> StatusCode {
    lock(&s.faults).scheduled.clear();
    StatusCode::NO_CONTENT
}

async fn admin_state(State(s): AppState) -> Response {
    axum::Json(lock(&s.world).dump()).into_response()
}

/// Closes this request's connection without an answer; never returns.
async fn drop_connection(kill: Option<axum::Extension<ConnKill>>) -> Response {
    if let Some(axum::Extension(ConnKill(kill))) = kill {
        kill.notify_one();
        std::future::pending::<()>().await;
    }
    // Not served by our accept loop (cannot happen): answer something unmistakable.
    StatusCode::IM_A_TEAPOT.into_response()
}

fn json_reply(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(reply.body)).into_response()
}

fn edge_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let reason = status.canonical_reason().unwrap_or("error");
    let html = format!(
        "<html>\n<head><title>{code} {reason}</title></head>\n<body>\n<center><h1>{code} {reason}</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n",
        code = status.as_u16()
    );
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
        html,
    )
        .into_response()
}

fn rate_limited(retry_after: u64) -> Response {
    let mut resp = json_reply(Reply::error(&ApiError::rate_limited()));
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Every request outside `/__emulator/`: faults, authentication, routing, the endpoint.
async fn api_request(
    State(s): AppState,
    kill: Option<axum::Extension<ConnKill>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (path, template) = api::template(uri.path())
        .unwrap_or_else(|| (uri.path().to_string(), "(no route)".to_string()));
    let seen = Seen {
        method: &method,
        template: &template,
        resource: &path,
    };
    let latency = lock(&s.faults).config.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let decision = lock(&s.faults).decide(
        method.as_str(),
        &path,
        &template,
        api::is_write(&method),
        Instant::now(),
    );
    let mut lose_response = false;
    let mut spoil = None;
    match decision {
        Decision::Pass => {}
        Decision::RateLimited(secs) => {
            s.record(&seen, Some(429), Some("rate_limit"));
            return rate_limited(secs);
        }
        Decision::Corrupt { kind, at } => spoil = Some((kind, at)),
        Decision::Fault(kind) => match kind {
            FaultKind::Drop => {
                s.record(&seen, None, Some(kind.label()));
                return drop_connection(kill).await;
            }
            FaultKind::DropResponse => lose_response = true,
            FaultKind::TooManyRequests => {
                s.record(&seen, Some(429), Some(kind.label()));
                return rate_limited(1);
            }
            FaultKind::InternalError => {
                s.record(&seen, Some(500), Some(kind.label()));
                return json_reply(Reply::error(&ApiError::internal()));
            }
            FaultKind::BadGateway | FaultKind::Unavailable => {
                let status = if kind == FaultKind::BadGateway {
                    502
                } else {
                    503
                };
                s.record(&seen, Some(status), Some(kind.label()));
                return edge_error(status);
            }
            // The engine hands these out as `Decision::Corrupt`.
            FaultKind::Truncate | FaultKind::Garble => spoil = Some((kind, 0.5)),
        },
    }

    let allowed = match api::access(&headers, &s.config) {
        api::Access::Full => true,
        api::Access::ReadOnly => !api::is_write(&method),
        api::Access::Denied => false,
    };
    let reply = match api::resolve(&method, uri.path()) {
        Resolved::Error(err) if err.code == 7003 && err.status == 404 => Reply::error(&err),
        _ if !allowed => Reply::error(&ApiError::auth()),
        Resolved::Error(err) => Reply::error(&err),
        Resolved::Api(route) => handle(&s, &route, &uri, &body),
    };
    if lose_response {
        s.record(&seen, None, Some(FaultKind::DropResponse.label()));
        return drop_connection(kill).await;
    }
    if let Some((kind, at)) = spoil.filter(|_| (200..300).contains(&reply.status)) {
        s.record(&seen, Some(reply.status), Some(kind.label()));
        let mut bytes = serde_json::to_vec(&reply.body).unwrap_or_default();
        faults::corrupt(kind, &mut bytes, at);
        let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
        return (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response();
    }
    s.record(&seen, Some(reply.status), None);
    json_reply(reply)
}

/// Runs an authorised API call against the world.
fn handle(s: &Arc<Shared>, route: &api::Route, uri: &Uri, body: &[u8]) -> Reply {
    let now = state::now_nanos();
    let delay = s.config.activate_after;
    let delay_elapsed =
        |created: i128| delay.is_some_and(|d| now.saturating_sub(created) >= d.as_nanos() as i128);
    let shared = s.clone();
    let mut new_id = move || shared.new_id();
    let mut ctx = api::Ctx {
        config: &s.config,
        new_id: &mut new_id,
        now,
        delay_elapsed: &delay_elapsed,
    };
    let mut world = lock(&s.world);
    let reply = api::dispatch(&mut world, &mut ctx, route, uri, body);
    if reply.changed {
        s.persist(&world);
    }
    reply
}
