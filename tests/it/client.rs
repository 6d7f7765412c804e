//! The Cloudflare client against small purpose-built fakes on 127.0.0.1:0: request shapes of
//! all twelve endpoints, error envelopes, pagination, retries and faults, the pacer, the
//! loopback rule, and that the token never shows. (Contract tests against the emulator live
//! elsewhere; these fakes share nothing with it.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use cfsecrets::cloudflare::{
    Auth, Client, ClientConfig, ClientError, ConfigError, Credential, Direction, DuplicateSecret,
    Endpoint, ErrorKind, ListSecrets, NewSecret, SecretOrder, SecretPatch, TransportKind,
};
use cfsecrets::domain::AccountId;
use cfsecrets::live::{self, SecretStatus};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const ACCOUNT_B: &str = "fedcba9876543210fedcba9876543210";
const TOKEN: &str = "test-token-SEKRIT-9f8e7d";
const VALUE: &str = "plaintext-VALUE-do-not-leak";
const PREFIX: &str = "/client/v4/accounts/0123456789abcdef0123456789abcdef/secrets_store";

// ---------------------------------------------------------------------------------------------
// A recording fake.

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Option<Duration>,
}

impl Reply {
    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// An answer with this status and body, no extra headers, no delay.
fn answer(status: u16, body: impl Into<String>) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: body.into(),
        delay: None,
    }
}

fn ok(result: Value) -> Reply {
    answer(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result}).to_string(),
    )
}

fn page(result: Value, page: u64, total_pages: Option<u64>) -> Reply {
    let count = result.as_array().map_or(0, Vec::len);
    let mut info = json!({"page": page, "per_page": 100, "count": count});
    if let Some(t) = total_pages {
        info["total_pages"] = json!(t);
    }
    answer(
        200,
        json!({"success": true, "errors": [], "messages": [], "result": result, "result_info": info}).to_string(),
    )
}

fn fail(status: u16, code: u32, message: &str) -> Reply {
    answer(
        status,
        json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}).to_string(),
    )
}

type Responder = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct FakeState {
    seen: Mutex<Vec<Seen>>,
    respond: Box<Responder>,
}

struct Fake {
    base: String,
    state: Arc<FakeState>,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
    fn count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }
}

async fn handle(
    State(st): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let n = {
        let mut log = st.seen.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let reply = (st.respond)(&seen, n);
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        [("content-type", "application/json")],
        reply.body,
    )
        .into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// Starts a fake whose answer to the n-th request (0-based) is `respond(&request, n)`.
async fn fake(respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Fake {
    let state = Arc::new(FakeState {
        seen: Mutex::new(Vec::new()),
        respond: Box::new(respond),
    });
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Fake {
        base: format!("http://{addr}/client/v4"),
        state,
    }
}

/// What a raw TCP fake does with the n-th connection.
#[derive(Clone)]
enum Raw {
    /// Read the whole request, then close without answering.
    Drop,
    /// Answer with this status and JSON body.
    Answer(u16, String),
}

/// A raw TCP fake for faults axum cannot produce. Returns the base URL and a log of
/// `"METHOD /path"` lines with their bodies. The last step repeats.
async fn raw_fake(steps: Vec<Raw>) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let step = steps[n.min(steps.len() - 1)].clone();
            n += 1;
            let log = log2.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, content_length) = loop {
                    let read = sock.read(&mut chunk).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        break (pos + 4, len);
                    }
                };
                while buf.len() < head_end + content_length {
                    let read = sock.read(&mut chunk).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let line = head.lines().next().unwrap_or_default();
                let request_line = line.rsplit_once(' ').map_or(line, |(l, _)| l).to_string();
                let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                log.lock().unwrap().push((request_line, body));
                match step {
                    Raw::Drop => drop(sock),
                    Raw::Answer(status, body) => {
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/client/v4"), log)
}

fn config(base: &str) -> ClientConfig {
    let mut c = ClientConfig::new(base, Auth::Token(Credential::new(TOKEN))).unwrap();
    c.base_delay = Duration::from_millis(1);
    c.max_delay = Duration::from_millis(5);
    c.max_retries = 3;
    c.request_timeout = Duration::from_secs(10);
    c
}

fn client(base: &str) -> Client {
    Client::new(config(base)).unwrap()
}

fn store_json(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "created": "2026-01-01T00:00:00Z", "modified": "2026-01-02T00:00:00Z", "account_id": ACCOUNT})
}

fn secret_json(id: &str, name: &str, status: &str) -> Value {
    json!({"id": id, "name": name, "store_id": "st1", "status": status,
           "created": "2026-01-01T00:00:00Z", "modified": "2026-01-02T00:00:00Z",
           "comment": format!("about {name}"), "scopes": ["ai_gateway", "workers"], "unknown_field": 1})
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `create_secrets` of one secret `A` holding [`VALUE`] with scope `workers`.
async fn create_a(c: &Client) -> Result<Vec<cfsecrets::cloudflare::Secret>, ClientError> {
    let sc = scopes(&["workers"]);
    c.create_secrets(
        ACCOUNT,
        "st1",
        &[NewSecret {
            name: "A",
            value: VALUE,
            scopes: &sc,
            comment: None,
        }],
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Request shapes and parsing.

#[tokio::test]
async fn store_endpoints_send_the_documented_requests() {
    let f = fake(
        |req, _| match (req.method.as_str(), req.path.rsplit('/').next().unwrap()) {
            ("GET", "quota") => ok(json!({"secrets": {"quota": 100, "usage": 7}})),
            ("GET", "stores") => page(json!([store_json("st1", "main")]), 1, Some(1)),
            ("POST", "stores") => ok(store_json("st2", "new")),
            ("GET", "st1") => ok(store_json("st1", "main")),
            ("DELETE", "st1") => ok(Value::Null),
            _ => fail(404, 7003, "No route for the URI"),
        },
    )
    .await;
    let c = client(&f.base);

    let q = c.quota(ACCOUNT).await.unwrap();
    assert_eq!((q.secrets.quota, q.secrets.usage), (100, 7));
    let stores = c.list_stores(ACCOUNT).await.unwrap();
    assert_eq!(stores.len(), 1);
    assert_eq!(stores[0].name, "main");
    assert_eq!(stores[0].account_id.as_deref(), Some(ACCOUNT));
    let created = c.create_store(ACCOUNT, "new").await.unwrap();
    assert_eq!(created.id, "st2");
    assert_eq!(
        c.get_store(ACCOUNT, "st1").await.unwrap().modified,
        "2026-01-02T00:00:00Z"
    );
    c.delete_store(ACCOUNT, "st1", false).await.unwrap();
    c.delete_store(ACCOUNT, "st1", true).await.unwrap();

    let seen = f.seen();
    let shapes: Vec<(&str, String, &str)> = seen
        .iter()
        .map(|s| {
            (
                s.method.as_str(),
                s.path.replace(PREFIX, ""),
                s.query.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shapes,
        [
            ("GET", "/quota".to_string(), ""),
            ("GET", "/stores".to_string(), "page=1&per_page=100"),
            ("POST", "/stores".to_string(), ""),
            ("GET", "/stores/st1".to_string(), ""),
            ("DELETE", "/stores/st1".to_string(), ""),
            ("DELETE", "/stores/st1".to_string(), "force=true"),
        ]
    );
    // Store create is a single object, not an array.
    assert_eq!(seen[2].json(), json!({"name": "new"}));
    assert_eq!(seen[2].header("content-type"), Some("application/json"));
    for s in &seen {
        assert_eq!(
            s.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(s.header("x-auth-key").is_none());
    }
    // Bodyless requests carry no body.
    assert!(seen[0].body.is_empty() && seen[4].body.is_empty());
}

#[tokio::test]
async fn secret_endpoints_send_the_documented_requests() {
    let f = fake(|req, _| {
        let tail = req.path.replace(PREFIX, "");
        match (req.method.as_str(), tail.as_str()) {
            ("GET", "/stores/st1/secrets") => page(
                json!([secret_json("s1", "A", "active"), secret_json("s2", "B", "pending")]),
                1,
                Some(1),
            ),
            ("POST", "/stores/st1/secrets") => ok(json!([
                secret_json("s3", "NEW1", "pending"),
                {"id": "s4", "name": "NEW2", "store_id": "st1", "status": "pending", "created": "c", "modified": "m"}
            ])),
            ("GET", "/stores/st1/secrets/s1") => ok(secret_json("s1", "A", "active")),
            ("PATCH", "/stores/st1/secrets/s1") => ok(secret_json("s1", "A", "active")),
            ("DELETE", "/stores/st1/secrets/s1") => ok(Value::Null),
            ("DELETE", "/stores/st1/secrets") => ok(Value::Null),
            ("POST", "/stores/st1/secrets/s1/duplicate") => ok(secret_json("s9", "A_COPY", "pending")),
            _ => fail(404, 7003, "No route for the URI"),
        }
    })
    .await;
    let c = client(&f.base);

    let listed = c
        .list_secrets(
            ACCOUNT,
            "st1",
            &ListSecrets {
                search: Some("A B&c".into()),
                order: Some(SecretOrder::Modified),
                direction: Some(Direction::Desc),
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].scopes, ["ai_gateway", "workers"]);
    assert_eq!(listed[1].status, "pending");
    assert_eq!(listed[1].comment.as_deref(), Some("about B"));

    let sc = scopes(&["workers", "ai_gateway"]);
    let created = c
        .create_secrets(
            ACCOUNT,
            "st1",
            &[
                NewSecret {
                    name: "NEW1",
                    value: VALUE,
                    scopes: &sc,
                    comment: Some("c1"),
                },
                NewSecret {
                    name: "NEW2",
                    value: "v2",
                    scopes: &sc,
                    comment: None,
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    assert!(created[1].scopes.is_empty() && created[1].comment.is_none());

    assert_eq!(c.get_secret(ACCOUNT, "st1", "s1").await.unwrap().name, "A");
    let only_scopes = scopes(&["workers"]);
    c.patch_secret(
        ACCOUNT,
        "st1",
        "s1",
        &SecretPatch {
            scopes: Some(&only_scopes),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.patch_secret(
        ACCOUNT,
        "st1",
        "s1",
        &SecretPatch {
            value: Some(VALUE),
            comment: Some(""),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    c.delete_secret(ACCOUNT, "st1", "s1").await.unwrap();
    c.bulk_delete_secrets(ACCOUNT, "st1", &scopes(&["s1", "s2"]))
        .await
        .unwrap();
    let dup = c
        .duplicate_secret(
            ACCOUNT,
            "st1",
            "s1",
            &DuplicateSecret {
                name: "A_COPY",
                scopes: &sc,
                comment: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(dup.id, "s9");

    let seen = f.seen();
    let shapes: Vec<(&str, String)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.replace(PREFIX, "")))
        .collect();
    assert_eq!(
        shapes,
        [
            ("GET", "/stores/st1/secrets".to_string()),
            ("POST", "/stores/st1/secrets".to_string()),
            ("GET", "/stores/st1/secrets/s1".to_string()),
            ("PATCH", "/stores/st1/secrets/s1".to_string()),
            ("PATCH", "/stores/st1/secrets/s1".to_string()),
            ("DELETE", "/stores/st1/secrets/s1".to_string()),
            ("DELETE", "/stores/st1/secrets".to_string()),
            ("POST", "/stores/st1/secrets/s1/duplicate".to_string()),
        ]
    );
    assert_eq!(
        seen[0].query,
        "search=A+B%26c&order=modified&direction=desc&page=1&per_page=100"
    );
    // Batch create: an array, scopes sorted, comment omitted when absent.
    assert_eq!(
        seen[1].json(),
        json!([
            {"name": "NEW1", "value": VALUE, "scopes": ["ai_gateway", "workers"], "comment": "c1"},
            {"name": "NEW2", "value": "v2", "scopes": ["ai_gateway", "workers"]}
        ])
    );
    // PATCH sends only the fields given.
    assert_eq!(seen[3].json(), json!({"scopes": ["workers"]}));
    assert_eq!(seen[4].json(), json!({"value": VALUE, "comment": ""}));
    assert!(seen[5].body.is_empty());
    assert_eq!(seen[6].json(), json!({"secret_ids": ["s1", "s2"]}));
    assert_eq!(
        seen[7].json(),
        json!({"name": "A_COPY", "scopes": ["ai_gateway", "workers"]})
    );
    assert!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(&*format!("Bearer {TOKEN}")))
    );
}

#[tokio::test]
async fn key_and_email_auth_sends_both_headers() {
    let f = fake(|_, _| ok(json!({"secrets": {"quota": 1, "usage": 0}}))).await;
    let env = |k: &str| match k {
        "CLOUDFLARE_API_KEY" => Some("global-key-SEKRIT".to_string()),
        "CLOUDFLARE_EMAIL" => Some("ops@example.com".to_string()),
        _ => None,
    };
    let c = Client::new(ClientConfig::from_env(&f.base, &env).unwrap()).unwrap();
    c.quota(ACCOUNT).await.unwrap();
    let seen = f.seen();
    assert_eq!(seen[0].header("x-auth-key"), Some("global-key-SEKRIT"));
    assert_eq!(seen[0].header("x-auth-email"), Some("ops@example.com"));
    assert!(seen[0].header("authorization").is_none());
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("SEKRIT") && !debug.contains("ops@example.com"),
        "{debug}"
    );
}

#[tokio::test]
async fn local_refusals_send_nothing() {
    let f = fake(|_, _| ok(Value::Null)).await;
    let c = client(&f.base);
    let err = c
        .bulk_delete_secrets(ACCOUNT, "st1", &[])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ClientError::Refused {
            endpoint: Endpoint::BulkDeleteSecrets,
            ..
        }
    ));
    assert!(c.create_secrets(ACCOUNT, "st1", &[]).await.is_err());
    assert!(
        c.patch_secret(ACCOUNT, "st1", "s1", &SecretPatch::default())
            .await
            .is_err()
    );
    assert!(c.get_secret(ACCOUNT, "st1", "").await.is_err());
    assert_eq!(f.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[tokio::test]
async fn error_envelopes_become_typed_errors() {
    let f = fake(|req, _| match req.method.as_str() {
        "POST" => fail(409, 1003, "secret_name_already_exists"),
        "DELETE" => fail(409, 1001, "store_not_empty"),
        _ => fail(404, 1001, "secret_not_found"),
    })
    .await;
    let c = client(&f.base);
    let sc = scopes(&["workers"]);
    let err = c
        .create_secrets(
            ACCOUNT,
            "st1",
            &[NewSecret {
                name: "DUP",
                value: VALUE,
                scopes: &sc,
                comment: None,
            }],
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretNameAlreadyExists), "{err:?}");
    assert!(!err.is(ErrorKind::MaximumStoresExceeded));
    let api = err.api().unwrap();
    assert_eq!((api.status, api.code), (409, Some(1003)));
    assert_eq!(api.message_token, "secret_name_already_exists");
    assert_eq!(api.endpoint, Endpoint::CreateSecrets);
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("secret_name_already_exists") && shown.contains("409"),
        "{shown}"
    );
    assert!(shown.contains(ACCOUNT));
    assert!(!shown.contains(VALUE) && !shown.contains(TOKEN), "{shown}");
    // A 4xx answer is final: no retry.
    assert_eq!(f.count(), 1);

    let err = c.get_secret(ACCOUNT, "st1", "nope").await.unwrap_err();
    assert!(err.is(ErrorKind::SecretNotFound) && !err.is(ErrorKind::StoreNotFound));
    let err = c.delete_store(ACCOUNT, "st1", false).await.unwrap_err();
    assert!(err.is(ErrorKind::StoreNotEmpty));
    // A delete that was never retried does not swallow not-found.
    assert_eq!(f.count(), 3);
}

#[tokio::test]
async fn success_false_in_a_2xx_is_an_error_and_non_json_errors_still_type() {
    let f = fake(|req, _| {
        if req.path.ends_with("quota") {
            fail(200, 7003, "No route for the URI")
        } else {
            answer(403, "<html>denied</html>")
        }
    })
    .await;
    let c = client(&f.base);
    let err = c.quota(ACCOUNT).await.unwrap_err();
    assert!(err.is(ErrorKind::NoRoute), "{err:?}");
    let err = c.get_store(ACCOUNT, "st1").await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!((api.status, api.code), (403, None));
}

// ---------------------------------------------------------------------------------------------
// Pagination.

fn secrets_range(from: usize, to: usize) -> Value {
    Value::Array(
        (from..to)
            .map(|i| secret_json(&format!("id{i:04}"), &format!("S{i:04}"), "active"))
            .collect(),
    )
}

fn page_of(req: &Seen) -> usize {
    req.query
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn pagination_follows_total_pages() {
    let f = fake(|req, _| {
        let p = page_of(req);
        let items = match p {
            1 => secrets_range(0, 100),
            2 => secrets_range(100, 200),
            3 => secrets_range(200, 250),
            _ => panic!("page {p} beyond total_pages was requested"),
        };
        page(items, p as u64, Some(3))
    })
    .await;
    let all = client(&f.base)
        .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    assert_eq!(all[249].id, "id0249");
    let queries: Vec<String> = f.seen().into_iter().map(|s| s.query).collect();
    assert_eq!(
        queries,
        [
            "page=1&per_page=100",
            "page=2&per_page=100",
            "page=3&per_page=100"
        ]
    );
}

#[tokio::test]
async fn pagination_without_totals_stops_on_a_short_page() {
    let f = fake(|req, _| match page_of(req) {
        1 => page(secrets_range(0, 100), 1, None),
        2 => page(secrets_range(100, 130), 2, None),
        p => panic!("page {p} after a short page was requested"),
    })
    .await;
    let all = client(&f.base)
        .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 130);
    assert_eq!(f.count(), 2);
}

/// Which totals a paginating fake puts into `result_info`.
#[derive(Clone, Copy, Debug)]
enum Totals {
    /// `total_count` only: what Cloudflare's Secrets Store lists send (API notes §10).
    Count,
    /// `total_count` and `total_pages`.
    CountAndPages,
    /// Neither: only `page`, `per_page` and `count`.
    Neither,
}

/// A fake that pages `n` secrets honestly by `page` and `per_page`.
async fn paging_fake(n: usize, totals: Totals) -> Fake {
    fake(move |req, _| {
        let p = page_of(req);
        let start = ((p - 1) * 100).min(n);
        let end = (start + 100).min(n);
        let items = secrets_range(start, end);
        let mut info = json!({"page": p, "per_page": 100, "count": end - start});
        if matches!(totals, Totals::Count | Totals::CountAndPages) {
            info["total_count"] = json!(n);
        }
        if matches!(totals, Totals::CountAndPages) {
            info["total_pages"] = json!(n.div_ceil(100));
        }
        answer(
            200,
            json!({"success": true, "errors": [], "messages": [], "result": items, "result_info": info}).to_string(),
        )
    })
    .await
}

#[tokio::test]
async fn pagination_costs_exactly_the_pages_it_needs() {
    // (items, totals sent, requests): a full first page that total_count (or total_pages)
    // says is everything costs one request; only a server that sends neither total needs
    // the empty page after a full last page.
    let cases = [
        (0, Totals::Count, 1),
        (100, Totals::Count, 1),
        (250, Totals::Count, 3),
        (100, Totals::CountAndPages, 1),
        (250, Totals::CountAndPages, 3),
        (99, Totals::Neither, 1),
        (100, Totals::Neither, 2),
        (250, Totals::Neither, 3),
    ];
    for (n, totals, requests) in cases {
        let f = paging_fake(n, totals).await;
        let all = client(&f.base)
            .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
            .await
            .unwrap();
        assert_eq!(all.len(), n, "{n} items, {totals:?}");
        let ids: std::collections::BTreeSet<_> = all.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids.len(), n, "{n} items, {totals:?}: each once");
        assert_eq!(f.count(), requests, "{n} items, {totals:?}");
    }
}

#[tokio::test]
async fn a_short_page_does_not_end_a_list_that_total_count_says_goes_on() {
    // A server whose pages hold 50 items although it says per_page 100: stopping at the
    // first short page would lose 70 secrets.
    let f = fake(|req, _| {
        let p = page_of(req);
        let start = ((p - 1) * 50).min(120);
        let end = (start + 50).min(120);
        let info = json!({"page": p, "per_page": 100, "count": end - start, "total_count": 120});
        answer(
            200,
            json!({"success": true, "errors": [], "messages": [], "result": secrets_range(start, end), "result_info": info}).to_string(),
        )
    })
    .await;
    let all = client(&f.base)
        .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 120);
    assert_eq!(f.count(), 3);
}

#[tokio::test]
async fn a_page_without_result_is_read_again_and_disagreeing_totals_read_on() {
    // Page 2 first comes back without `result` (taken as an empty page, it would end the list
    // 50 secrets short); and every page says total_pages 1 while total_count says 150.
    let f = fake(|req, n| {
        let p = page_of(req);
        let info = json!({"page": p, "per_page": 100, "total_count": 150, "total_pages": 1});
        if p == 2 && n == 1 {
            return answer(
                200,
                json!({"success": true, "errors": [], "messages": [], "result_info": info})
                    .to_string(),
            );
        }
        let (start, end) = if p == 1 { (0, 100) } else { (100, 150) };
        answer(
            200,
            json!({"success": true, "errors": [], "messages": [], "result": secrets_range(start, end), "result_info": info}).to_string(),
        )
    })
    .await;
    let all = client(&f.base)
        .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 150);
    assert_eq!(f.count(), 3);
}

#[tokio::test]
async fn pagination_refuses_a_page_that_repeats_ids() {
    // A server that ignores `page` and always returns the first page, claiming more pages.
    let f = fake(|_, _| page(secrets_range(0, 100), 1, Some(5))).await;
    let err = client(&f.base)
        .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
        .await
        .unwrap_err();
    match &err {
        ClientError::RepeatedPage { page, id, .. } => {
            assert_eq!((*page, id.as_str()), (2, "id0000"));
        }
        other => panic!("expected RepeatedPage, got {other:?}"),
    }
    assert!(err.to_string().contains("repeats id"));
    assert_eq!(f.count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Retries and faults.

#[tokio::test]
async fn retries_a_429_honouring_retry_after_seconds() {
    let f = fake(|_, n| match n {
        0 => fail(429, 10000, "rate limited").with_header("retry-after", "1"),
        _ => ok(json!({"secrets": {"quota": 100, "usage": 1}})),
    })
    .await;
    let c = client(&f.base);
    c.quota(ACCOUNT).await.unwrap();
    let stats = c.stats();
    assert_eq!(
        (stats.requests_sent, stats.retries, stats.rate_limited),
        (2, 1, 1)
    );
    // The backoff without the header would be at most max_delay (5 ms).
    assert!(stats.backoff_wait >= Duration::from_secs(1), "{stats:?}");
}

#[tokio::test]
async fn retries_a_429_honouring_retry_after_ms() {
    let f = fake(|_, n| match n {
        0 => fail(429, 10000, "rate limited")
            .with_header("retry-after-ms", "40")
            .with_header("retry-after", "30"),
        _ => ok(json!({"secrets": {"quota": 100, "usage": 1}})),
    })
    .await;
    let c = client(&f.base);
    c.quota(ACCOUNT).await.unwrap();
    let stats = c.stats();
    assert!(stats.backoff_wait >= Duration::from_millis(40), "{stats:?}");
    assert!(
        stats.backoff_wait < Duration::from_secs(30),
        "retry-after-ms wins: {stats:?}"
    );
}

#[tokio::test]
async fn retries_5xx_answers_even_for_a_batch_create() {
    let f = fake(|_, n| match n {
        0 => fail(500, 10001, "internal"),
        1 => fail(502, 10001, "bad gateway"),
        2 => fail(503, 10001, "unavailable"),
        _ => ok(json!([secret_json("s1", "A", "pending")])),
    })
    .await;
    let c = client(&f.base);
    let created = create_a(&c).await.unwrap();
    assert_eq!(created[0].id, "s1");
    assert_eq!(f.count(), 4);
    // Each attempt carried the same body.
    assert!(f.seen().iter().all(|s| s.json()[0]["name"] == "A"));
    assert_eq!(c.stats().retries, 3);
}

/// `body` cut to its first half: a complete HTTP answer whose JSON stops short.
fn truncated(body: &str) -> Reply {
    answer(200, &body[..body.len() / 2])
}

/// `body` with its start overwritten by junk (so it cannot parse, wherever strings lie).
fn garbled(body: &str) -> Reply {
    answer(200, format!("#\u{1}~garbled~{}", &body[12..]))
}

fn null_body() -> String {
    json!({"success": true, "errors": [], "messages": [], "result": null}).to_string()
}

#[tokio::test]
async fn unreadable_success_answers_are_retried_on_reads_patches_and_deletes() {
    // Each endpoint: truncated, then garbled, then a readable answer.
    let f = fake(|req, n| {
        let good = match req.method.as_str() {
            "DELETE" => null_body(),
            _ if req.path.ends_with("/secrets") => json!({"success": true, "errors": [], "messages": [], "result": secrets_range(0, 3), "result_info": {"page": 1, "per_page": 100, "count": 3, "total_count": 3}}).to_string(),
            _ => secret_body("s1"),
        };
        match n % 3 {
            0 => truncated(&good),
            1 => garbled(&good),
            _ => answer(200, good),
        }
    })
    .await;
    let c = client(&f.base);
    assert_eq!(c.get_secret(ACCOUNT, "st1", "s1").await.unwrap().id, "s1");
    let patch = SecretPatch {
        value: Some(VALUE),
        ..Default::default()
    };
    assert_eq!(
        c.patch_secret(ACCOUNT, "st1", "s1", &patch)
            .await
            .unwrap()
            .id,
        "s1"
    );
    c.delete_secret(ACCOUNT, "st1", "s1").await.unwrap();
    let listed = c
        .list_secrets(ACCOUNT, "st1", &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(f.count(), 12);
    let stats = c.stats();
    assert_eq!((stats.retries, stats.outcome_unknown), (8, 0));
    // The PATCH was resent with the same body each time.
    let patches: Vec<String> = f
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| s.body)
        .collect();
    assert_eq!(patches.len(), 3);
    assert!(patches.iter().all(|b| *b == patches[0]));
}

#[tokio::test]
async fn a_retried_delete_whose_answer_was_unreadable_then_finds_nothing_is_done() {
    let f = fake(|_, n| match n {
        0 => truncated(&null_body()),
        _ => fail(404, 1001, "secret_not_found"),
    })
    .await;
    client(&f.base)
        .delete_secret(ACCOUNT, "st1", "s1")
        .await
        .unwrap();
    assert_eq!(f.count(), 2);
}

#[tokio::test]
async fn a_success_answer_without_its_result_is_unreadable_too() {
    let f = fake(|_, n| match n {
        0 => answer(200, null_body()),
        _ => answer(200, secret_body("s1")),
    })
    .await;
    let c = client(&f.base);
    assert_eq!(c.get_secret(ACCOUNT, "st1", "s1").await.unwrap().id, "s1");
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn an_unreadable_answer_to_a_create_is_an_unknown_outcome_and_not_resent() {
    let created = json!({"success": true, "errors": [], "messages": [], "result": [secret_json("s1", "A", "pending")]}).to_string();
    let f = fake(move |req, _| {
        if req.path.ends_with("/stores") {
            // A store create answered with an empty array: made, but which?
            answer(
                200,
                json!({"success": true, "errors": [], "messages": [], "result": []}).to_string(),
            )
        } else {
            garbled(&created)
        }
    })
    .await;
    let c = client(&f.base);
    let sc = scopes(&["workers"]);
    let err = create_a(&c).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::OutcomeUnknown {
                kind: TransportKind::Unreadable,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("re-list"), "{err}");
    let err = c
        .duplicate_secret(
            ACCOUNT,
            "st1",
            "s1",
            &DuplicateSecret {
                name: "B",
                scopes: &sc,
                comment: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    let err = c.create_store(ACCOUNT, "main").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::OutcomeUnknown {
                kind: TransportKind::Unreadable,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(f.count(), 3, "each POST was sent once");
    assert_eq!(c.stats().outcome_unknown, 3);
    assert!(!format!("{err} {err:?}").contains(VALUE));
}

#[tokio::test]
async fn answers_unreadable_to_the_end_are_a_transport_error() {
    let f = fake(|_, _| truncated(&secret_body("s1"))).await;
    let err = client(&f.base)
        .get_secret(ACCOUNT, "st1", "s1")
        .await
        .unwrap_err();
    match &err {
        ClientError::Transport {
            kind: TransportKind::Unreadable,
            attempts,
            source,
            ..
        } => {
            assert_eq!(*attempts, 4);
            let cause = source.to_string();
            assert!(cause.starts_with("http 200: EOF while parsing"), "{cause}");
        }
        other => panic!("expected an unreadable transport error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("unreadable answer after 4 attempts"),
        "{err}"
    );
    assert_eq!(f.count(), 4);
}

#[tokio::test]
async fn gives_up_after_max_retries_with_the_last_answer() {
    let f = fake(|_, _| fail(503, 10001, "unavailable")).await;
    let c = client(&f.base);
    let err = c.get_store(ACCOUNT, "st1").await.unwrap_err();
    assert_eq!(err.api().map(|e| e.status), Some(503));
    assert_eq!(f.count(), 4, "one attempt plus max_retries = 3");
}

fn secret_body(id: &str) -> String {
    json!({"success": true, "errors": [], "messages": [], "result": secret_json(id, "A", "active")})
        .to_string()
}

#[tokio::test]
async fn retries_idempotent_requests_after_a_dropped_connection() {
    let (base, log) = raw_fake(vec![
        Raw::Drop,
        Raw::Drop,
        Raw::Answer(200, secret_body("s1")),
    ])
    .await;
    let c = client(&base);
    assert_eq!(c.get_secret(ACCOUNT, "st1", "s1").await.unwrap().id, "s1");
    assert_eq!(log.lock().unwrap().len(), 3);

    // A PATCH is resent with the same body.
    let (base, log) = raw_fake(vec![Raw::Drop, Raw::Answer(200, secret_body("s1"))]).await;
    let c = client(&base);
    c.patch_secret(
        ACCOUNT,
        "st1",
        "s1",
        &SecretPatch {
            comment: Some("x"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], log[1]);
    assert!(log[0].0.starts_with("PATCH "));
}

#[tokio::test]
async fn a_retried_delete_that_finds_nothing_is_done() {
    let gone = json!({"success": false, "errors": [{"code": 1001, "message": "secret_not_found"}], "messages": [], "result": null}).to_string();
    let (base, log) = raw_fake(vec![Raw::Drop, Raw::Answer(404, gone.clone())]).await;
    client(&base)
        .delete_secret(ACCOUNT, "st1", "s1")
        .await
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 2);

    // Without a prior unknown attempt, not-found is an error.
    let (base, _) = raw_fake(vec![Raw::Answer(404, gone)]).await;
    let err = client(&base)
        .delete_secret(ACCOUNT, "st1", "s1")
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretNotFound));
}

#[tokio::test]
async fn a_batch_create_is_not_resent_after_a_dropped_connection() {
    let (base, log) = raw_fake(vec![Raw::Drop, Raw::Answer(200, secret_body("s1"))]).await;
    let c = client(&base);
    let sc = scopes(&["workers"]);
    let err = create_a(&c).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(matches!(
        err,
        ClientError::OutcomeUnknown {
            kind: TransportKind::Dropped,
            ..
        }
    ));
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "the batch was sent exactly once"
    );
    assert!(err.to_string().contains("re-list"));
    assert!(!format!("{err} {err:?}").contains(VALUE));
    assert_eq!(c.stats().outcome_unknown, 1);

    // Same for duplicate.
    let (base, log) = raw_fake(vec![Raw::Drop, Raw::Answer(200, secret_body("s2"))]).await;
    let err = client(&base)
        .duplicate_secret(
            ACCOUNT,
            "st1",
            "s1",
            &DuplicateSecret {
                name: "B",
                scopes: &sc,
                comment: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown());
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_batch_create_that_times_out_is_outcome_unknown() {
    let f = fake(|_, _| Reply {
        delay: Some(Duration::from_secs(30)),
        ..ok(json!([]))
    })
    .await;
    let mut cfg = config(&f.base);
    cfg.request_timeout = Duration::from_millis(300);
    let c = Client::new(cfg).unwrap();
    let err = create_a(&c).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::OutcomeUnknown {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(f.count(), 1);
}

#[tokio::test]
async fn connect_errors_are_retried_even_for_posts_and_name_no_token() {
    // A port that was just free: connecting is refused, so nothing was ever sent.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(&format!("http://{addr}/client/v4"));
    let err = c.create_store(ACCOUNT, "main").await.unwrap_err();
    match &err {
        ClientError::Transport {
            kind: TransportKind::Connect,
            attempts,
            ..
        } => assert_eq!(*attempts, 4),
        other => panic!("expected a connect error, got {other:?}"),
    }
    let shown = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert_eq!(c.stats().requests_sent, 4);
}

// ---------------------------------------------------------------------------------------------
// Pacer.

#[tokio::test]
async fn pacer_holds_requests_beyond_the_window_budget() {
    let f = fake(|_, _| ok(json!({"secrets": {"quota": 100, "usage": 1}}))).await;
    let mut cfg = config(&f.base);
    cfg.rate_limit_per_5min = 3;
    cfg.rate_window = Duration::from_secs(3600);
    let c = Client::new(cfg).unwrap();
    // Five concurrent tasks on clones of one client share one budget.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.quota(ACCOUNT).await })
        })
        .collect();
    for _ in 0..500 {
        if f.count() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Give any unpaced request ample chance to arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.count(), 3);
    assert_eq!(c.requests_in_window(), 3);
    assert_eq!(c.stats().requests_sent, 3);
    assert_eq!(tasks.iter().filter(|t| t.is_finished()).count(), 3);
    for t in tasks {
        t.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration and secrecy.

#[test]
fn plain_http_is_refused_for_non_loopback_hosts() {
    let env = |k: &str| (k == "CLOUDFLARE_API_TOKEN").then(|| TOKEN.to_string());
    let err = ClientConfig::from_env("http://api.cloudflare.com/client/v4", &env).unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }));
    assert!(err.to_string().contains("https"));
    assert!(ClientConfig::from_env("http://127.0.0.1:8787/client/v4", &env).is_ok());
    assert!(ClientConfig::from_env("http://[::1]:8787/client/v4", &env).is_ok());
    assert!(ClientConfig::from_env("http://localhost:8787/client/v4", &env).is_ok());
    assert!(ClientConfig::from_env("https://api.cloudflare.com/client/v4", &env).is_ok());
}

#[test]
fn an_api_url_with_a_fragment_is_refused_without_being_shown() {
    let env = |k: &str| (k == "CLOUDFLARE_API_TOKEN").then(|| TOKEN.to_string());
    for url in [
        "https://api.cloudflare.com/client/v4#frag-SEKRIT",
        "http://127.0.0.1:8787/client/v4#SEKRIT",
        "https://api.cloudflare.com/client/v4?SEKRIT=1",
        "https://SEKRIT@api.cloudflare.com/client/v4",
    ] {
        let err = ClientConfig::from_env(url, &env).unwrap_err();
        assert_eq!(err, ConfigError::UrlWithCredentials, "{url}");
        assert!(err.to_string().contains("fragment"), "{err}");
        assert!(!format!("{err} {err:?}").contains("SEKRIT"), "{err}");
    }
}

/// Canary values for the echo tests: long, distinctive, with characters JSON escapes.
const CANARY_A: &str = "CANARY-echo-a-5d1f0e\"quoted\"-7b29c4";
const CANARY_B: &str = "CANARY-echo-b-e83a51-0c94d2";

/// Whether any 8-byte run of `value` (in any ASCII case) appears in `text`.
fn any_of(value: &str, text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let value = value.to_ascii_lowercase();
    value
        .as_bytes()
        .windows(8)
        .any(|w| text.as_bytes().windows(8).any(|t| t == w))
}

#[tokio::test]
async fn a_server_that_echoes_values_has_them_removed_from_its_errors() {
    // The fake quotes every value it was sent: whole, JSON-escaped, cut short, upper-cased.
    let f = fake(|req, _| {
        let body = req.json();
        let values: Vec<String> = match &body {
            Value::Array(items) => items
                .iter()
                .map(|i| i["value"].as_str().unwrap().to_string())
                .collect(),
            other => vec![other["value"].as_str().unwrap().to_string()],
        };
        let mut errors = vec![json!({"code": 1001, "message": format!("secret_value_too_long: value {}", values[0])})];
        for v in &values {
            errors.push(json!({"code": 1001, "message": format!("got {} ({}…) {}", serde_json::to_string(v).unwrap(), &v[..12], v.to_uppercase())}));
        }
        answer(
            400,
            json!({"success": false, "errors": errors, "messages": [], "result": null}).to_string(),
        )
    })
    .await;
    let c = client(&f.base);
    let sc = scopes(&["workers"]);
    let batch = [
        NewSecret {
            name: "A",
            value: CANARY_A,
            scopes: &sc,
            comment: None,
        },
        NewSecret {
            name: "B",
            value: CANARY_B,
            scopes: &sc,
            comment: None,
        },
    ];
    let create = c.create_secrets(ACCOUNT, "st1", &batch).await.unwrap_err();
    let patch = c
        .patch_secret(
            ACCOUNT,
            "st1",
            "s1",
            &SecretPatch {
                value: Some(CANARY_B),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    for err in [&create, &patch] {
        assert!(err.is(ErrorKind::SecretValueTooLong), "{err}");
        let api = err.api().unwrap();
        assert_eq!(api.message_token, "secret_value_too_long: value <redacted>");
        let stored = format!("{err} | {err:?} | {:?}", api.more);
        assert!(stored.contains("<redacted>"), "{stored}");
        for canary in [CANARY_A, CANARY_B] {
            assert!(!stored.contains(canary), "{stored}");
            assert!(
                !any_of(canary, &stored),
                "a piece of a value survived: {stored}"
            );
        }
        assert!(!stored.contains("CANARY"), "{stored}");
    }
    assert_eq!(create.api().unwrap().more.len(), 2, "every item was kept");
}

#[tokio::test]
async fn the_token_never_shows_in_debug_or_errors() {
    let f = fake(|_, _| fail(403, 10000, "Authentication error")).await;
    let c = client(&f.base);
    let debug = format!("{c:?} {:?}", c.config());
    assert!(!debug.contains(TOKEN), "{debug}");
    let err = c.list_stores(ACCOUNT).await.unwrap_err();
    let shown = format!("{err} | {err:?}");
    assert!(shown.contains("403"));
    assert!(!shown.contains(TOKEN), "{shown}");
    // It was sent, though.
    assert_eq!(
        f.seen()[0].header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );
}

// ---------------------------------------------------------------------------------------------
// live::fetch.

#[tokio::test]
async fn live_fetch_reads_accounts_concurrently_and_converts() {
    let f = fake(|req, _| {
        let on_b = req.path.contains(ACCOUNT_B);
        let tail = req.path.rsplit("secrets_store").next().unwrap().to_string();
        match (on_b, tail.as_str()) {
            (false, "/quota") => ok(json!({"secrets": {"quota": 100, "usage": 3}})),
            (true, "/quota") => fail(500, 10001, "internal"),
            (false, "/stores") => page(json!([store_json("st1", "main")]), 1, Some(1)),
            (true, "/stores") => page(json!([]), 1, Some(0)),
            (false, "/stores/st1/secrets") => match page_of(req) {
                1 => page(
                    json!([
                        secret_json("i3", "ZED", "active"),
                        secret_json("i1", "GONE", "deleted")
                    ]),
                    1,
                    Some(2),
                ),
                _ => page(
                    json!([
                        secret_json("i2", "ALPHA", "pending"),
                        secret_json("i4", "MID", "rotating")
                    ]),
                    2,
                    Some(2),
                ),
            },
            _ => fail(404, 7003, "No route for the URI"),
        }
    })
    .await;
    let mut cfg = config(&f.base);
    cfg.max_retries = 1;
    let c = Client::new(cfg).unwrap();
    let a = AccountId::parse(ACCOUNT).unwrap();
    let b = AccountId::parse(ACCOUNT_B).unwrap();
    let state = live::fetch(&c, &[b.clone(), a.clone()]).await.unwrap();

    assert_eq!(state.accounts.len(), 2);
    assert_eq!(
        state.accounts[0].account_id, b,
        "accounts keep the given order"
    );
    let acc_b = state.account(&b).unwrap();
    assert_eq!(acc_b.quota, None, "a failing quota call is not fatal");
    assert!(acc_b.stores.is_empty());
    let acc_a = state.account(&a).unwrap();
    assert_eq!(acc_a.quota.map(|q| (q.quota, q.usage)), Some((100, 3)));
    let store = acc_a.store("main").unwrap();
    let names: Vec<_> = store.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ALPHA", "MID", "ZED"]);
    let statuses: Vec<_> = store.secrets.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            SecretStatus::Pending,
            SecretStatus::Other,
            SecretStatus::Active
        ]
    );
    assert_eq!(store.secret("ZED").unwrap().comment.raw(), "about ZED");
    assert_eq!(store.secret("ZED").unwrap().scopes.len(), 2);
}

#[tokio::test]
async fn live_fetch_names_the_account_that_failed() {
    let f = fake(|req, _| {
        if req.path.ends_with("/stores") {
            fail(403, 10000, "Authentication error")
        } else {
            ok(json!({"secrets": {"quota": 100, "usage": 3}}))
        }
    })
    .await;
    let a = AccountId::parse(ACCOUNT).unwrap();
    let err = live::fetch(&client(&f.base), &[a]).await.unwrap_err();
    // The account is named once, and the cause follows in the error chain (not repeated).
    assert_eq!(err.to_string(), format!("reading account {ACCOUNT}"));
    let cause = std::error::Error::source(&err)
        .expect("a cause")
        .to_string();
    assert!(
        cause.contains("403")
            && cause.contains("check CLOUDFLARE_API_TOKEN")
            && cause.contains("reading secrets needs a token with Secrets Store Read"),
        "{cause}"
    );
    assert!(!format!("{err} {cause} {err:?}").contains(TOKEN));
}
