//! The emulator's request handling, through its socket on 127.0.0.1: requests of any method,
//! path, query, headers and body (valid ones broken by edits) are each answered, API answers
//! in Cloudflare's envelope, and no answer, log entry or state dump ever holds a value.
//! Arbitrary bytes on a raw connection neither stop it nor keep it from answering others. A
//! state file broken by edits starts the emulator or is refused by position, never showing a
//! value it holds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cfsecrets::cloudflare::NewSecret;
use cfsecrets::emulator::{Emulator, EmulatorConfig};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use super::{JSON, apply, bytes, config, edits, run, shows};
use crate::support::{ACCOUNT, Emu, TOKEN};

/// The value of every secret the emulator holds here; never in any answer.
const VALUE: &str = "emu-canary-Qx7Vw2Lp9Rt4";
const PREFIX: &str = "/client/v4/accounts/{a}/secrets_store";

/// A well-framed HTTP request, its parts free to be anything else.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// The seed requests: every endpoint, valid. `{a}`, `{s}` and `{x}` stand for the account,
/// the store and a secret.
const SEEDS: &[(&str, &str, &str, &str)] = &[
    ("GET", "/quota", "", ""),
    (
        "GET",
        "/stores",
        "page=1&per_page=20&order=name&direction=desc",
        "",
    ),
    ("POST", "/stores", "", r#"{"name":"second"}"#),
    ("POST", "/stores", "", r#"[{"name":"third"}]"#),
    ("GET", "/stores/{s}", "", ""),
    ("DELETE", "/stores/{s}", "force=true", ""),
    (
        "GET",
        "/stores/{s}/secrets",
        "page=2&per_page=1&order=comment&direction=asc&search=a&scopes=workers,ai_gateway",
        "",
    ),
    (
        "POST",
        "/stores/{s}/secrets",
        "",
        r#"[{"name":"NEW","value":"emu-canary-Qx7Vw2Lp9Rt4","scopes":["workers"],"comment":"c"},{"name":"NEW2","value":"v","scopes":["dex","access"]}]"#,
    ),
    (
        "DELETE",
        "/stores/{s}/secrets",
        "",
        r#"{"secret_ids":["{x}"]}"#,
    ),
    ("GET", "/stores/{s}/secrets/{x}", "", ""),
    (
        "PATCH",
        "/stores/{s}/secrets/{x}",
        "",
        r#"{"value":"emu-canary-Qx7Vw2Lp9Rt4","scopes":["workers"],"comment":"new","name":"A"}"#,
    ),
    ("DELETE", "/stores/{s}/secrets/{x}", "", ""),
    (
        "POST",
        "/stores/{s}/secrets/{x}/duplicate",
        "",
        r#"{"name":"COPY","scopes":["workers"],"comment":null}"#,
    ),
];

const METHODS: &[&str] = &[
    "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "TRACE", "get", "FOO",
];

const PATH_TOKENS: &[&str] = &[
    "/",
    "//",
    "..",
    "/..",
    ".",
    "%2F",
    "%00",
    "%zz",
    "%",
    "%E2%80%AE",
    "accounts",
    "secrets_store",
    "stores",
    "secrets",
    "duplicate",
    "quota",
    "0123456789abcdef0123456789abcdef",
    "{",
    "}",
    ";",
    "@",
    "~",
    "+",
];

const QUERY_TOKENS: &[&str] = &[
    "&",
    "=",
    "page=",
    "per_page=",
    "page=0",
    "per_page=0",
    "page=18446744073709551615",
    "per_page=18446744073709551615",
    "page=-1",
    "order=",
    "order=status",
    "direction=",
    "search=",
    "scopes=",
    "scopes[]=dex",
    "scopes=nope",
    "force=1",
    "%",
    "%zz",
    "%00",
    "+",
    "&&&",
];

const BODY_TOKENS: &[&str] = &[
    "1",
    "\"name\":",
    "\"value\":",
    "\"scopes\":",
    "\"comment\":",
    "\"secret_ids\":",
    "[]",
    "{}",
    "\"\"",
    "\"workers\"",
    "\"nope\"",
    "emu-canary-Qx7Vw2Lp9Rt4",
];

const AUTH: &[&[(&str, &str)]] = &[
    &[("authorization", "Bearer e2e-test-token-0f3b")],
    &[("authorization", "Bearer e2e-test-token-0f3b")],
    &[],
    &[("authorization", "Bearer wrong")],
    &[("authorization", "Bearer ")],
    &[("authorization", "Basic e2e-test-token-0f3b")],
    &[
        ("x-auth-email", "a@example.com"),
        ("x-auth-key", "e2e-test-token-0f3b"),
    ],
    &[("x-auth-key", "e2e-test-token-0f3b")],
    &[
        ("authorization", "Bearer e2e-test-token-0f3b"),
        ("authorization", "Bearer other"),
    ],
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "text/plain",
    "",
    "application/json; charset=latin1",
];

/// A seed request with its ids filled in and one of its parts broken.
fn request() -> impl Strategy<Value = Request> {
    (
        select(SEEDS),
        prop_oneof![3 => Just(None), 1 => select(METHODS).prop_map(Some)],
        0..4usize,
        edits(&[PATH_TOKENS]),
        edits(&[QUERY_TOKENS]),
        edits(&[JSON, BODY_TOKENS]),
        select(AUTH),
        select(CONTENT_TYPES),
    )
        .prop_map(
            |((method, path, query, body), other, broken, p, q, b, auth, content_type)| {
                let mut headers: Vec<(String, String)> = auth
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                if !content_type.is_empty() {
                    headers.push(("content-type".into(), content_type.into()));
                }
                let path = format!("{PREFIX}{path}");
                Request {
                    method: other.unwrap_or(method).to_string(),
                    path: if broken == 0 { apply(&path, &p) } else { path },
                    query: if broken == 1 {
                        apply(query, &q)
                    } else {
                        query.to_string()
                    },
                    headers,
                    body: if broken == 2 {
                        apply(body, &b)
                    } else {
                        body.to_string()
                    },
                }
            },
        )
}

/// A request target as a client would send it: whatever cannot stand in a request line is
/// percent-encoded.
fn target(path: &str, query: &str, ids: &Ids) -> String {
    let fill = |s: &str| {
        s.replace("{a}", ACCOUNT)
            .replace("{s}", &ids.store)
            .replace("{x}", &ids.secret)
    };
    let mut out = String::new();
    for b in fill(path).bytes() {
        if b.is_ascii_graphic() && b != b'?' && b != b'#' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if !query.is_empty() {
        out.push('?');
        for b in fill(query).bytes() {
            if b.is_ascii_graphic() && b != b'#' {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The ids of the seeded world.
struct Ids {
    store: String,
    secret: String,
}

/// Empties the emulator and seeds one store with three secrets holding [`VALUE`]. Ids are
/// seeded too, so every case sees the same ones.
fn seed(emu: &Emu) -> Ids {
    emu.handle().reset();
    let client = emu.client();
    let scopes = vec!["workers".to_string()];
    emu.block_on(async {
        let store = client.create_store(ACCOUNT, "main").await.unwrap();
        let created = client
            .create_secrets(
                ACCOUNT,
                &store.id,
                &["A", "B", "C"].map(|name| NewSecret {
                    name,
                    value: VALUE,
                    scopes: &scopes,
                    comment: Some("seeded"),
                }),
            )
            .await
            .unwrap();
        Ids {
            store: store.id,
            secret: created[0].id.clone(),
        }
    })
}

/// A raw answer: status, headers (lowercase names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sends `raw` on a new connection (closing our side after it) and reads the whole answer.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut conn = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    // The server may close early (e.g. on a bad request line); what it answered still counts.
    let _ = conn.write_all(raw);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    match conn.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => Ok(out),
        Err(e) => Err(format!("no end of answer within 10 s: {e}")),
    }
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn encode(req: &Request, ids: &Ids) -> Vec<u8> {
    let body = req
        .body
        .replace("{x}", &ids.secret)
        .replace("{s}", &ids.store);
    let mut raw = format!(
        "{} {} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        req.method,
        target(&req.path, &req.query, ids),
        body.len()
    );
    for (k, v) in &req.headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body.as_bytes());
    raw
}

/// What must hold of the answer to `req`, and of the emulator after it.
fn check_request(emu: &Emu, req: &Request) -> Result<(), TestCaseError> {
    let ids = seed(emu);
    let raw = exchange(emu.handle().addr(), &encode(req, &ids)).map_err(TestCaseError::fail)?;
    let answer = parse_answer(&raw);
    prop_assert!(
        answer.is_some(),
        "no HTTP answer: {:?}",
        String::from_utf8_lossy(&raw)
    );
    let answer = answer.expect("checked");
    prop_assert!(
        !shows(&String::from_utf8_lossy(&raw), VALUE, 8),
        "an answer shows a value"
    );
    let json = answer
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/json"));
    if json && req.method != "HEAD" {
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| TestCaseError::fail(format!("a JSON answer that is not JSON: {e}")))?;
        let success = body["success"].as_bool();
        prop_assert_eq!(
            success,
            Some((200..300).contains(&answer.status)),
            "`success` agrees with the status {}: {}",
            answer.status,
            body
        );
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        prop_assert_eq!(errors.is_empty(), success == Some(true), "{}", body);
        for e in &errors {
            prop_assert!(e["code"].is_u64() && e["message"].is_string(), "{}", body);
        }
    }
    // The world: names unique per store, and nothing of a value in the log or the dump.
    let state = emu.handle().state();
    for account in state.accounts.values() {
        for store in &account.stores {
            let mut names: Vec<&str> = store.secrets.iter().map(|s| s.name.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            prop_assert_eq!(before, names.len(), "a store holds one name twice");
        }
    }
    let seen = serde_json::to_string(&(emu.handle().log(), state)).expect("serialisable");
    prop_assert!(
        !shows(&seen, VALUE, 8),
        "the log or the state shows a value"
    );
    Ok(())
}

#[test]
fn requests_of_any_shape_are_answered_in_the_envelope() {
    let emu = Emu::start();
    run(config(200, true), request(), |req| {
        check_request(&emu, &req)
    });
}

/// The well-formed request every other answer is measured by.
fn quota_answers(addr: SocketAddr) -> Result<(), TestCaseError> {
    let raw = format!(
        "GET /client/v4/accounts/{ACCOUNT}/secrets_store/quota HTTP/1.1\r\nhost: x\r\n\
         connection: close\r\nauthorization: Bearer {TOKEN}\r\n\r\n"
    );
    let answer = exchange(addr, raw.as_bytes()).map_err(TestCaseError::fail)?;
    let status = parse_answer(&answer).map(|a| a.status);
    prop_assert_eq!(status, Some(200), "{}", String::from_utf8_lossy(&answer));
    Ok(())
}

/// Junk: arbitrary bytes, or the start of a valid request followed by arbitrary bytes.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    let valid = format!(
        "POST /client/v4/accounts/{ACCOUNT}/secrets_store/stores HTTP/1.1\r\nhost: x\r\n\
         authorization: Bearer {TOKEN}\r\ncontent-length: 16\r\n\r\n{{\"name\":\"junk\"}}"
    );
    prop_oneof![
        bytes(),
        (0..=valid.len(), bytes()).prop_map(move |(cut, tail)| {
            let mut raw = valid.as_bytes()[..cut].to_vec();
            raw.extend(tail);
            raw
        }),
    ]
}

#[test]
fn arbitrary_bytes_on_a_connection_neither_stop_nor_wedge_the_emulator() {
    let emu = Emu::start();
    let addr = emu.handle().addr();
    run(config(100, true), junk(), |junk| {
        // A connection left open after junk does not keep others from being answered…
        let mut open = TcpStream::connect(addr).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = open.write_all(&junk);
        quota_answers(addr)?;
        drop(open);
        // …and one that ends after it is closed by the server in time.
        exchange(addr, &junk).map_err(TestCaseError::fail)?;
        quota_answers(addr)
    });
}

// ---------------------------------------------------------------------------------------------
// The state file.

fn state_seed() -> String {
    let secret = |id: &str, name: &str| {
        format!(
            r#"{{"id":"{id}","name":"{name}","value":"{VALUE}","comment":"c","scopes":["workers"],"created":"2026-01-01T00:00:00Z","modified":"2026-01-02T00:00:00.5Z","active":true,"pending_reads":0}}"#
        )
    };
    format!(
        r#"{{"version":1,"accounts":{{"{ACCOUNT}":{{"stores":[{{"id":"s1","name":"main","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","secrets":[{},{}]}}]}}}}}}"#,
        secret("x1", "A"),
        secret("x2", "B")
    )
}

const STATE_TOKENS: &[&str] = &[
    "1",
    "2",
    "\"\"",
    "\"9999-12-31T23:59:59.999999999Z\"",
    "\"0000-01-01T00:00:00Z\"",
    "\"1970-01-01T00:00:00+23:59\"",
    "\"id\":\"x1\",",
    "\"name\":\"A\",",
    "\"value\":",
    "\"scopes\":[],",
    "\"pending_reads\":4294967295,",
    "\"active\":false,",
    "\"version\":1,",
];

#[test]
fn a_broken_state_file_starts_the_emulator_or_is_refused_by_position() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    run(config(60, true), edits(&[JSON, STATE_TOKENS]), |edits| {
        let text = apply(&state_seed(), &edits);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, &text).unwrap();
        let config = EmulatorConfig {
            token: Some(TOKEN.to_string()),
            state_file: Some(path),
            ..EmulatorConfig::default()
        };
        match rt.block_on(Emulator::start(config, "127.0.0.1:0".parse().unwrap())) {
            Err(err) => {
                let shown = format!("{:#}", anyhow::Error::new(err));
                prop_assert!(!shows(&shown, VALUE, 8), "a value is shown: {shown}");
            }
            Ok(handle) => {
                let addr = handle.addr();
                quota_answers(addr)?;
                let raw = format!(
                    "GET /client/v4/accounts/{ACCOUNT}/secrets_store/stores/s1/secrets HTTP/1.1\r\n\
                     host: x\r\nconnection: close\r\nauthorization: Bearer {TOKEN}\r\n\r\n"
                );
                let answer = exchange(addr, raw.as_bytes()).map_err(TestCaseError::fail)?;
                prop_assert!(parse_answer(&answer).is_some());
                prop_assert!(!shows(&String::from_utf8_lossy(&answer), VALUE, 8));
                rt.block_on(handle.shutdown());
            }
        }
        Ok(())
    });
}
