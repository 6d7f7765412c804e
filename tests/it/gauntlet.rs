//! The gauntlet: the real binary's `apply --auto-approve` through a fault-injecting proxy of
//! this chapter's own, in front of the emulator (whose own fault knobs stay off, so the two
//! fault codes cannot share a mistake). Driven by a seed, the proxy resets connections,
//! forwards a request and then loses its answer, answers 429 with `Retry-After` and 5xx with
//! an HTML page, adds latency, and truncates, garbles or cuts off success bodies. Other runs
//! are killed with SIGKILL at seeded points, including right after a write landed and before
//! its answer left the proxy.
//!
//! After every scenario: `apply` converged within three re-runs (every failed run an orderly
//! exit 1); a plan then shows no changes; no request ever deleted a secret that existed and is
//! still desired (checked on the emulator's request log, which names every resource, and by
//! sampling the emulator's state while the runs go on), nor anything undeclared; the kept
//! secrets keep their ids; no value appears in any output.
//!
//! The normal run takes a handful of seeds. `CFSECRETS_SOAK_SEEDS=200 cargo test --test it
//! gauntlet` runs 200 seeds per scenario.
//!
//! The chapter also holds the end-to-end checks of how `apply` and `plan` report what the
//! client makes of spoiled answers and refused credentials.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use cfsecrets::emulator::{EmulatorConfig, FaultKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{ACCOUNT, Emu, Project, Run, schedule};

const STORE: &str = "main";
const SECRET_TEMPLATE: &str =
    "/accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}";

// ---------------------------------------------------------------------------------------------
// The proxy.

/// What the proxy does to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Forward and answer faithfully.
    Pass,
    /// Close the connection with a TCP reset before forwarding.
    Reset,
    /// Forward (the work is done), then close without answering.
    LoseAnswer,
    /// Answer 429 with `Retry-After: 1` without forwarding.
    TooMany,
    /// Answer 502 or 503 with an HTML page without forwarding.
    ServerError,
    /// Forward; a success answer goes out as a complete HTTP answer with its body cut short.
    Truncate,
    /// Forward; a success answer goes out with a run of its body overwritten.
    Garble,
    /// Forward; a success answer announces its full length, sends half, and the connection
    /// closes.
    CutOff,
}

const FAULTS: [Fault; 7] = [
    Fault::Reset,
    Fault::LoseAnswer,
    Fault::TooMany,
    Fault::ServerError,
    Fault::Truncate,
    Fault::Garble,
    Fault::CutOff,
];

/// What a garbled body is overwritten with (0xFF and 0xFE never occur in UTF-8).
const GARBAGE: &[u8] = b"\xff#garbled\xfe!";

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    fault: Fault,
    /// The emulator's status, when the request was forwarded.
    upstream: Option<u16>,
}

/// "After the n-th forwarded write, tell the test and hold the answer."
struct KillHook {
    at_write: u32,
    tell: mpsc::Sender<()>,
}

struct ProxyState {
    upstream: SocketAddr,
    seed: u64,
    /// Fault rate in parts per million (so it can change while connections run).
    rate_ppm: AtomicU32,
    /// How often each (method, path, body) was seen: the dice for a request depend on the
    /// seed, the request and this count, not on how concurrent requests interleave.
    counts: Mutex<HashMap<u64, u32>>,
    seen: Mutex<Vec<Seen>>,
    writes: AtomicU32,
    kill: Mutex<Option<KillHook>>,
    http: reqwest::Client,
}

struct Proxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    rt: tokio::runtime::Runtime,
}

/// A request read off the wire.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Proxy {
    fn start(upstream: SocketAddr, seed: u64) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let state = Arc::new(ProxyState {
            upstream,
            seed,
            rate_ppm: AtomicU32::new(0),
            counts: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            writes: AtomicU32::new(0),
            kill: Mutex::new(None),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        });
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        rt.spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(st.clone(), sock));
            }
        });
        Self { addr, state, rt }
    }

    fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    fn set_rate(&self, rate: f64) {
        self.state
            .rate_ppm
            .store((rate * 1e6) as u32, Ordering::Relaxed);
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn arm_kill(&self, at_write: u32) -> mpsc::Receiver<()> {
        let (tell, rx) = mpsc::channel();
        self.state.writes.store(0, Ordering::Relaxed);
        *self.state.kill.lock().unwrap() = Some(KillHook { at_write, tell });
        rx
    }

    fn disarm_kill(&self) {
        *self.state.kill.lock().unwrap() = None;
    }
}

impl ProxyState {
    /// The dice for one request: a fault at the configured rate, and sometimes latency.
    fn decide(&self, req: &Request) -> (Fault, Duration) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&req.method, &req.target, &req.body).hash(&mut h);
        let key = h.finish();
        let n = {
            let mut counts = self.counts.lock().unwrap();
            let n = counts.entry(key).or_insert(0);
            *n += 1;
            *n
        };
        let mut rng = StdRng::seed_from_u64(
            self.seed ^ key.rotate_left(17) ^ u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let rate = f64::from(self.rate_ppm.load(Ordering::Relaxed)) / 1e6;
        let fault = if rng.random::<f64>() < rate {
            FAULTS[rng.random_range(0..FAULTS.len())]
        } else {
            Fault::Pass
        };
        let latency = if rate > 0.0 && rng.random::<f64>() < 0.3 {
            Duration::from_millis(rng.random_range(1..=15))
        } else {
            Duration::ZERO
        };
        (fault, latency)
    }

    fn record(&self, req: &Request, fault: Fault, upstream: Option<u16>) {
        self.seen.lock().unwrap().push(Seen {
            method: req.method.clone(),
            path: req.target.clone(),
            fault,
            upstream,
        });
    }

    async fn forward(&self, req: &Request) -> Option<(u16, Vec<(String, String)>, Vec<u8>)> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).ok()?;
        let mut builder = self
            .http
            .request(method, format!("http://{}{}", self.upstream, req.target));
        for (name, value) in &req.headers {
            if matches!(
                name.as_str(),
                "authorization" | "x-auth-email" | "x-auth-key" | "content-type"
            ) {
                builder = builder.header(name, value);
            }
        }
        let resp = builder.body(req.body.clone()).send().await.ok()?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "content-type" | "retry-after"))
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = resp.bytes().await.ok()?.to_vec();
        Some((status, headers, body))
    }

    /// After a forwarded write: if it is the armed one, tell the test and hold its answer
    /// until the client is gone (or a while has passed).
    async fn maybe_hold(&self, req: &Request) {
        if req.method == "GET" {
            return;
        }
        let n = self.writes.fetch_add(1, Ordering::Relaxed) + 1;
        let tell = {
            let kill = self.kill.lock().unwrap();
            match &*kill {
                Some(hook) if hook.at_write == n => Some(hook.tell.clone()),
                _ => None,
            }
        };
        if let Some(tell) = tell {
            let _ = tell.send(());
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    }
}

/// Serves one client connection, request after request.
async fn serve(st: Arc<ProxyState>, mut sock: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut sock, &mut buf).await else {
            return;
        };
        let (fault, latency) = st.decide(&req);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match fault {
            Fault::Reset => {
                st.record(&req, fault, None);
                let _ = sock.set_zero_linger();
                return;
            }
            Fault::TooMany => {
                st.record(&req, fault, None);
                let body = br#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}"#;
                if write_answer(
                    &mut sock,
                    429,
                    "application/json",
                    &[("retry-after", "1")],
                    body,
                )
                .await
                .is_err()
                {
                    return;
                }
                continue;
            }
            Fault::ServerError => {
                st.record(&req, fault, None);
                let status = if req.body.len() % 2 == 0 { 502 } else { 503 };
                let page = format!(
                    "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr><center>cloudflare</center></body></html>\n"
                );
                if write_answer(&mut sock, status, "text/html", &[], page.as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            _ => {}
        }
        let Some((status, headers, mut body)) = st.forward(&req).await else {
            st.record(&req, fault, None);
            return;
        };
        st.record(&req, fault, Some(status));
        st.maybe_hold(&req).await;
        let ok = (200..300).contains(&status);
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map_or("application/json".to_string(), |(_, v)| v.clone());
        let extra: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(k, _)| k == "retry-after")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match fault {
            Fault::LoseAnswer => return,
            Fault::Truncate if ok => body.truncate(body.len() / 3),
            Fault::Garble if ok => {
                let start = (body.len() / 2).saturating_sub(6);
                let end = (start + 12).min(body.len());
                for (i, b) in body[start..end].iter_mut().enumerate() {
                    *b = GARBAGE[i % GARBAGE.len()];
                }
            }
            Fault::CutOff if ok => {
                let head = format!(
                    "HTTP/1.1 {status} OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body[..body.len() / 2]).await;
                let _ = sock.shutdown().await;
                return;
            }
            _ => {}
        }
        if write_answer(&mut sock, status, &content_type, &extra, &body)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request (head and a `content-length` body). `buf` carries bytes read
/// past the previous request on the same connection.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(Some(0), |(_, v)| v.parse().ok())?;
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

async fn write_answer(
    sock: &mut TcpStream,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body).await
}

// ---------------------------------------------------------------------------------------------
// The scenario.

/// How a run of the scenario ends its first `apply`.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// Not killed.
    No,
    /// SIGKILL right after the n-th write reached the emulator, before its answer left.
    AfterWrite(u32),
    /// SIGKILL this long after the start.
    After(Duration),
}

/// The seeds of a gauntlet: `CFSECRETS_SOAK_SEEDS=N` runs N of them, otherwise `normal`.
fn seeds(normal: &[u64]) -> Vec<u64> {
    match std::env::var("CFSECRETS_SOAK_SEEDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(n) if n > 0 => (1..=n).collect(),
        _ => normal.to_vec(),
    }
}

fn line(name: &str, rest: &str) -> String {
    format!("          {name}: {{ {rest} }}\n")
}

/// The manifest before (`after = false`) and after the change under test.
fn manifest(after: bool) -> String {
    let mut s = String::new();
    for i in 0..6 {
        s.push_str(&line(
            &format!("KEEP{i}"),
            &format!("value: values/KEEP{i}.age"),
        ));
    }
    for i in 0..4 {
        s.push_str(&line(
            &format!("ROT{i}"),
            &format!("value: values/ROT{i}.age"),
        ));
    }
    for i in 0..2 {
        let rest = if after {
            format!("value: values/META{i}.age, comment: moved on, scopes: [workers, ai_gateway]")
        } else {
            format!("value: values/META{i}.age, comment: as it was")
        };
        s.push_str(&line(&format!("META{i}"), &rest));
    }
    if after {
        for i in 0..4 {
            s.push_str(&line(
                &format!("NEW{i}"),
                &format!("value: values/NEW{i}.age"),
            ));
        }
        s.push_str(&line("R_NEW", "renamed_from: R_OLD, value: values/R.age"));
    } else {
        for i in 0..3 {
            s.push_str(&line(
                &format!("GONE{i}"),
                &format!("value: values/GONE{i}.age"),
            ));
        }
        s.push_str(&line("R_OLD", "value: values/R.age"));
    }
    format!("      {STORE}:\n        prune: owned\n        secrets:\n{s}")
}

/// The secrets every scenario ends with.
fn expected_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (prefix, n) in [
        ("KEEP", 6),
        ("ROT", 4),
        ("META", 2),
        ("NEW", 4),
        ("HAND", 2),
    ] {
        for i in 0..n {
            names.insert(format!("{prefix}{i}"));
        }
    }
    names.insert("R_NEW".into());
    names
}

/// What one scenario did, for the summary line.
struct Outcome {
    runs: usize,
    faults: usize,
    killed: bool,
}

/// The emulator's state: secret ids by name in the store.
fn live_ids(emu: &Emu) -> BTreeMap<String, String> {
    let dump = emu.handle().state();
    dump.accounts
        .get(ACCOUNT)
        .and_then(|a| a.stores.iter().find(|s| s.name == STORE))
        .map(|s| {
            s.secrets
                .iter()
                .map(|x| (x.name.clone(), x.id.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `apply --auto-approve` through the proxy, killing it as `kill` says. `None` when it
/// was killed.
fn apply_through(p: &Project, proxy: &Proxy, kill: Kill) -> Option<Run> {
    let args = ["apply", "--auto-approve"];
    if let Kill::No = kill {
        return Some(p.run(&args));
    }
    let hook = match kill {
        Kill::AfterWrite(n) => Some(proxy.arm_kill(n)),
        _ => None,
    };
    let started = Instant::now();
    let mut child = p.command(&args, true).spawn().expect("spawn apply");
    let killed = loop {
        let due = match (kill, &hook) {
            (Kill::After(d), _) => started.elapsed() >= d,
            (_, Some(rx)) => rx.try_recv().is_ok(),
            _ => false,
        };
        if due {
            // Child::kill sends SIGKILL on Unix.
            let _ = child.kill();
            break true;
        }
        if child.try_wait().expect("wait").is_some() {
            break false;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "apply hung under {kill:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    proxy.disarm_kill();
    let out = child.wait_with_output().expect("collect apply");
    let run = Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    p.outputs.lock().unwrap().push(run.all());
    if killed && run.code.is_none() {
        return None;
    }
    Some(run)
}

/// One scenario: set up, change the manifest, apply through the proxy at `rate` (killing the
/// first run as `kill` says) until it converges, then check every guarantee.
fn scenario(seed: u64, rate: f64, kill: Kill) -> Outcome {
    let label = format!("seed {seed}, rate {rate}, {kill:?}");
    let emu = Emu::start_with(EmulatorConfig {
        seed: Some(seed),
        ..EmulatorConfig::default()
    });
    let p = Project::new(&emu);
    for (prefix, n) in [
        ("KEEP", 6),
        ("ROT", 4),
        ("META", 2),
        ("GONE", 3),
        ("NEW", 4),
    ] {
        for i in 0..n {
            p.seal(
                &format!("values/{prefix}{i}.age"),
                &format!("gauntlet-{prefix}-{i}-{seed}-first-b7e2"),
            );
        }
    }
    p.seal("values/R.age", &format!("gauntlet-renamed-{seed}-4c1d"));
    p.manifest(&manifest(false));
    p.run(&["apply", "--auto-approve"]).expect(0);
    for i in 0..2 {
        emu.create_by_hand(
            STORE,
            &format!("HAND{i}"),
            &format!("gauntlet-hand-{i}-{seed}-93fa"),
            "made by hand",
        );
        p.values
            .lock()
            .unwrap()
            .push(format!("gauntlet-hand-{i}-{seed}-93fa"));
    }
    let before = live_ids(&emu);
    // Kept: everything still declared under its name, and the undeclared hand-made ones.
    let kept: BTreeMap<String, String> = before
        .iter()
        .filter(|(name, _)| expected_names().contains(*name))
        .map(|(n, i)| (n.clone(), i.clone()))
        .collect();
    assert_eq!(kept.len(), 14, "{label}: {before:?}");
    let deletable: BTreeSet<String> = before
        .iter()
        .filter(|(name, _)| name.starts_with("GONE") || *name == "R_OLD")
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(deletable.len(), 4);

    for i in 0..4 {
        p.seal(
            &format!("values/ROT{i}.age"),
            &format!("gauntlet-ROT-{i}-{seed}-rotated-51aa"),
        );
    }
    p.manifest(&manifest(true));
    emu.handle().clear_log();

    let proxy = Proxy::start(emu.handle().addr(), seed);
    proxy.set_rate(rate);
    p.env
        .lock()
        .unwrap()
        .push(("CLOUDFLARE_API_BASE_URL".into(), proxy.base_url()));

    // Watch the store while the runs go on: every kept secret present at every sample.
    let stop = AtomicBool::new(false);
    let (runs, killed) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut samples = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let live = live_ids(&emu);
                for (name, id) in &kept {
                    assert_eq!(
                        live.get(name),
                        Some(id),
                        "{label}: {name} was absent or replaced at some moment"
                    );
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            samples
        });
        let mut killed = false;
        let mut runs = 0;
        let mut done = false;
        for run in 0..4 {
            runs += 1;
            let this_kill = if run == 0 { kill } else { Kill::No };
            match apply_through(&p, &proxy, this_kill) {
                None => killed = true,
                Some(r) if r.code == Some(0) => {
                    done = true;
                    break;
                }
                Some(r) => {
                    assert_eq!(r.code, Some(1), "{label}: {}", r.all());
                    // Two honest ways for a faulty run to end: an orderly stop after a
                    // failed write, or a failed read before any write (the dice decide).
                    assert!(
                        r.stderr.contains("apply stopped after a failure")
                            || r.stderr.contains("cannot read the live state"),
                        "{label}: {}",
                        r.stderr
                    );
                    assert!(
                        !r.stderr.contains("will fail the same way"),
                        "{label}: a fault was taken for a lasting refusal: {}",
                        r.stderr
                    );
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let samples = watcher.join().expect("the watcher saw every kept secret");
        assert!(samples > 0);
        assert!(done, "{label}: apply did not converge within 3 re-runs");
        (runs, killed)
    });

    // Converged: a plan straight at the emulator shows nothing to do.
    p.env.lock().unwrap().clear();
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    let after = live_ids(&emu);
    let names: BTreeSet<String> = after.keys().cloned().collect();
    assert_eq!(names, expected_names(), "{label}");
    for (name, id) in &kept {
        assert_eq!(after.get(name), Some(id), "{label}: {name} was replaced");
    }
    // Every delete that reached the emulator was one the plan asked for.
    for r in emu.handle().log() {
        if r.method != "DELETE" {
            continue;
        }
        assert_eq!(r.path, SECRET_TEMPLATE, "{label}: {r:?}");
        let id = r.resource.rsplit('/').next().unwrap();
        assert!(deletable.contains(id), "{label}: deleted {id}: {r:?}");
    }
    p.assert_no_value_leaked(&[]);
    let faults = proxy
        .seen()
        .iter()
        .filter(|s| s.fault != Fault::Pass)
        .count();
    Outcome {
        runs,
        faults,
        killed,
    }
}

fn gauntlet(rate: f64, normal: &[u64], kill: impl Fn(u64) -> Kill) {
    let mut faults = 0;
    let mut reruns = BTreeMap::new();
    let mut killed = 0;
    let list = seeds(normal);
    for &seed in &list {
        let o = scenario(seed, rate, kill(seed));
        faults += o.faults;
        *reruns.entry(o.runs - 1).or_insert(0) += 1;
        killed += usize::from(o.killed);
    }
    eprintln!(
        "gauntlet at {:.0}%: {} seeds, {faults} faults injected, re-runs needed {reruns:?}, {killed} runs killed",
        rate * 100.0,
        list.len()
    );
    if rate > 0.0 {
        assert!(faults > 0, "no fault was injected");
    }
}

#[test]
fn apply_converges_through_a_faulty_proxy_at_20_percent() {
    gauntlet(0.2, &[1, 2, 3], |_| Kill::No);
}

#[test]
fn apply_converges_through_a_faulty_proxy_at_50_percent() {
    gauntlet(0.5, &[4, 5, 6], |_| Kill::No);
}

#[test]
fn apply_killed_at_random_points_converges_when_run_again() {
    // Even seeds: killed right after a seeded write landed, before its answer; odd seeds:
    // after a seeded time. A light fault rate keeps the retry paths busy too.
    gauntlet(0.1, &[7, 8, 9, 10], |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        if seed % 2 == 0 {
            Kill::AfterWrite(rng.random_range(1..=10))
        } else {
            Kill::After(Duration::from_millis(rng.random_range(20..=400)))
        }
    });
}

#[test]
fn the_proxy_does_what_it_says() {
    // The proxy's faults, seen from a plain HTTP client: so a passing gauntlet means the
    // faults really happened.
    let emu = Emu::start();
    let proxy = Proxy::start(emu.handle().addr(), 1);
    proxy.set_rate(1.0);
    let url = format!(
        "{}/accounts/{ACCOUNT}/secrets_store/quota",
        proxy.base_url()
    );
    /// A status and body, or why none came.
    type Answer = Result<(u16, Vec<u8>), String>;
    let outcomes: Vec<(Fault, Answer)> = proxy.rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..60 {
            // A fresh client each time: a reset or cut-off connection is not reused.
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let r = http
                .get(format!("{url}?n={i}"))
                .bearer_auth(crate::support::TOKEN)
                .send()
                .await;
            let r = match r {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.bytes()
                        .await
                        .map(|b| (status, b.to_vec()))
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            let fault = proxy.seen().last().unwrap().fault;
            out.push((fault, r));
        }
        out
    });
    let mut kinds = BTreeSet::new();
    for (fault, result) in &outcomes {
        kinds.insert(format!("{fault:?}"));
        let parses = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).is_ok();
        match (fault, result) {
            (Fault::Reset | Fault::LoseAnswer | Fault::CutOff, r) => {
                assert!(r.is_err(), "{fault:?}: {r:?}")
            }
            (Fault::TooMany, Ok((429, b))) => assert!(parses(b)),
            (Fault::ServerError, Ok((502 | 503, b))) => assert!(b.starts_with(b"<html>")),
            (Fault::Truncate | Fault::Garble, Ok((200, b))) => {
                assert!(!parses(b), "{fault:?}: {}", String::from_utf8_lossy(b))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds.len(), FAULTS.len(), "{kinds:?}");
    // Forwarded faults reached the emulator; the others did not.
    let forwarded: Vec<String> = proxy
        .seen()
        .iter()
        .filter(|s| s.upstream.is_some())
        .map(|s| {
            let path = s.path.split('?').next().unwrap();
            format!("{} {}", s.method, path.trim_start_matches("/client/v4"))
        })
        .collect();
    let reached: Vec<String> = emu
        .handle()
        .log()
        .iter()
        .map(|r| format!("{} {}", r.method, r.resource))
        .collect();
    assert_eq!(reached, forwarded);
    assert!(forwarded.len() < outcomes.len());
}

// ---------------------------------------------------------------------------------------------
// What apply and plan say about spoiled answers and refused credentials.

fn three(emu: &Emu) -> Project {
    let p = Project::new(emu);
    p.seal("values/A.age", "gauntlet-alpha-value-6e01");
    p.seal("values/B.age", "gauntlet-bravo-value-c3d2");
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          A: {{ value: values/A.age }}\n          B: {{ value: values/B.age }}\n"
    ));
    p
}

#[test]
fn an_update_whose_answers_stay_unreadable_is_transient_and_a_rerun_finishes() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.seal("values/A.age", "gauntlet-alpha-rotated-77b0");
    // Every attempt of the PATCH lands, and every answer comes back garbled (5 attempts).
    schedule(
        &emu,
        "PATCH",
        "/stores/{store_id}/secrets/{secret_id}",
        FaultKind::Garble,
        5,
    );
    let r = p.run(&["apply", "--auto-approve"]);
    r.expect(1);
    assert!(
        r.stderr.contains("unreadable answer after 5 attempts"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Run `cfsecrets apply` again to finish"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("will fail the same way"), "{}", r.stderr);
    let again = p.run(&["apply", "--auto-approve"]);
    again.expect(0);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn garbled_list_answers_are_read_again_instead_of_ending_the_run() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.seal("values/B.age", "gauntlet-bravo-rotated-10fe");
    schedule(
        &emu,
        "GET",
        "/stores/{store_id}/secrets",
        FaultKind::Garble,
        2,
    );
    schedule(&emu, "GET", "/stores", FaultKind::Truncate, 1);
    let r = p.run(&["apply", "--auto-approve"]);
    r.expect(0);
    assert!(r.stdout.contains("1 action done"), "{}", r.stdout);
    assert!(
        emu.handle().scheduled().is_empty(),
        "every spoiled answer was met"
    );
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn refused_credentials_name_the_permission_the_step_needed() {
    const READER: &str = "gauntlet-read-only-token-2b";
    let emu = Emu::start_with(EmulatorConfig {
        read_only_token: Some(READER.into()),
        ..EmulatorConfig::default()
    });
    let p = three(&emu);
    p.env
        .lock()
        .unwrap()
        .push(("CLOUDFLARE_API_TOKEN".into(), READER.into()));
    // Reading is allowed: the plan shows the creates.
    p.run(&["plan", "--detailed-exitcode"]).expect(2);
    // Writing is not: apply says which permission the write needed, and that a rerun fails
    // the same way.
    let r = p.run(&["apply", "--auto-approve"]);
    r.expect(1);
    assert!(
        r.stderr
            .contains("changing secrets needs a token with Secrets Store Write"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("will fail the same way"), "{}", r.stderr);
    assert!(emu.names(STORE).is_empty());
    // A token refused outright fails the first read, which asks for Read.
    p.env.lock().unwrap().clear();
    p.env
        .lock()
        .unwrap()
        .push(("CLOUDFLARE_API_TOKEN".into(), "not-the-token".into()));
    let r = p.run(&["plan"]);
    r.expect(1);
    assert!(
        r.stderr
            .contains("reading secrets needs a token with Secrets Store Read"),
        "{}",
        r.stderr
    );
    for output in p.outputs.lock().unwrap().iter() {
        assert!(!output.contains(READER) && !output.contains("not-the-token"));
    }
}
