//! The client reading whatever a server answers: a tiny fake on 127.0.0.1 answers every
//! request with one status, headers and body (Cloudflare's envelopes, an edge's HTML page,
//! broken by edits, cut short, or arbitrary bytes) and each endpoint call ends, with a result
//! or an error, in time. An error about a request that carried values shows no stretch of
//! them, whatever the server echoed, in its message, its causes or its `Debug`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cfsecrets::cloudflare::{
    Auth, Client, ClientConfig, ClientError, Credential, DuplicateSecret, ListSecrets, NewSecret,
    SecretPatch,
};
use proptest::prelude::*;
use proptest::sample::select;

use super::{JSON, apply, bytes, config, edits, printable, run, shows};
use crate::support::ACCOUNT;

/// The values the calls carry.
const VALUE: &str = "cli-canary-Hd3Kq8Zm5Wx1";
const VALUE2: &str = "second-CANARY-pN6vB2tY9";
const TOKEN: &str = "fuzz-token-Rk4Jw7";

/// Answers every request with the current answer, then closes the connection.
struct Fake {
    addr: SocketAddr,
    answer: Arc<Mutex<Vec<u8>>>,
}

impl Fake {
    fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let answer: Arc<Mutex<Vec<u8>>> = Arc::default();
        let shared = answer.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let answer = shared.lock().unwrap().clone();
                std::thread::spawn(move || serve(conn, &answer));
            }
        });
        Fake { addr, answer }
    }

    fn set(&self, raw: Vec<u8>) {
        *self.answer.lock().unwrap() = raw;
    }
}

/// Reads one request (head and `content-length` body), writes `answer`, closes.
fn serve(mut conn: TcpStream, answer: &[u8]) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while seen.len() < head_end + length {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let _ = conn.write_all(answer);
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

/// Bodies a server may answer with, before edits: what the calls expect, errors that echo
/// the values in every spelling, an edge page, and empty.
fn bodies() -> Vec<String> {
    let escaped = VALUE
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect::<String>();
    let secret = r#"{"id":"x1","name":"A","store_id":"s1","status":"pending","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","comment":"c","scopes":["workers"]}"#;
    vec![
        format!(r#"{{"success":true,"errors":[],"messages":[],"result":[{secret}]}}"#),
        format!(r#"{{"success":true,"errors":[],"messages":[],"result":{secret}}}"#),
        format!(
            r#"{{"success":true,"errors":[],"messages":[],"result":[{secret}],"result_info":{{"page":1,"per_page":100,"count":1,"total_count":18446744073709551615}}}}"#
        ),
        r#"{"success":true,"result":{"secrets":{"quota":100,"usage":"7"}}}"#.to_string(),
        format!(
            r#"{{"success":false,"errors":[{{"code":1001,"message":"secret_value_too_long: value {VALUE}"}},{{"code":"1002","message":"{} and {escaped}"}},{{"code":1003,"message":"{VALUE2} {VALUE2}"}}],"messages":[{{"message":"{VALUE}"}}],"result":null}}"#,
            VALUE.to_uppercase()
        ),
        format!(
            r#"{{"success":false,"errors":[{{"code":10000,"message":"Authentication error","documentation_url":"https://x/{VALUE}"}}]}}"#
        ),
        format!("<html><body><h1>502 Bad Gateway</h1>{VALUE}</body></html>"),
        String::new(),
    ]
}

const TOKENS: &[&str] = &[
    "1.5",
    "\"success\":",
    "\"errors\":",
    "\"result\":",
    "\"result_info\":",
    "\"message\":",
    "\"code\":",
    "\"id\":",
    "\\u001b[31m",
    VALUE,
    VALUE2,
    "secret_value_too_long: ",
];

const STATUSES: &[u16] = &[
    200, 200, 200, 201, 204, 299, 304, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 599,
];

const RETRY_AFTER: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "0.001",
    "NaN",
    "inf",
    "1e308",
    "18446744073709551616",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "\u{1}",
];

/// How the answer is framed.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// The right `content-length`.
    Exact,
    /// A `content-length` larger than the body (the connection closes first).
    Short,
    /// No length: the body runs to the end of the connection.
    ToClose,
}

#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    content_type: &'static str,
    retry_after: &'static str,
    framing: Framing,
    body: Vec<u8>,
}

impl Answer {
    fn raw(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", self.status);
        if !self.content_type.is_empty() {
            head.push_str(&format!("content-type: {}\r\n", self.content_type));
        }
        if !self.retry_after.is_empty() {
            head.push_str(&format!("retry-after: {}\r\n", self.retry_after));
            head.push_str(&format!("retry-after-ms: {}\r\n", self.retry_after));
        }
        match self.framing {
            Framing::Exact => head.push_str(&format!("content-length: {}\r\n", self.body.len())),
            Framing::Short => {
                head.push_str(&format!("content-length: {}\r\n", self.body.len() + 10))
            }
            Framing::ToClose => {}
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(&self.body);
        raw
    }
}

fn answer() -> impl Strategy<Value = Answer> {
    let body = prop_oneof![
        4 => (select(bodies()), edits(&[JSON, TOKENS])).prop_map(|(b, e)| apply(&b, &e).into_bytes()),
        2 => select(bodies()).prop_map(String::into_bytes),
        1 => bytes(),
    ];
    (
        select(STATUSES),
        select(&["application/json", "text/html", ""][..]),
        select(RETRY_AFTER),
        select(
            &[
                Framing::Exact,
                Framing::Exact,
                Framing::Short,
                Framing::ToClose,
            ][..],
        ),
        body,
    )
        .prop_map(
            |(status, content_type, retry_after, framing, body)| Answer {
                status,
                content_type,
                retry_after,
                framing,
                body,
            },
        )
}

/// The endpoints, by what they send.
#[derive(Clone, Copy, Debug)]
enum Call {
    CreateSecrets,
    PatchSecret,
    ListSecrets,
    ListStores,
    Quota,
    CreateStore,
    DeleteSecret,
    BulkDelete,
    Duplicate,
}

impl Call {
    const ALL: [Call; 9] = [
        Call::CreateSecrets,
        Call::PatchSecret,
        Call::ListSecrets,
        Call::ListStores,
        Call::Quota,
        Call::CreateStore,
        Call::DeleteSecret,
        Call::BulkDelete,
        Call::Duplicate,
    ];

    /// The values the request carries.
    fn values(self) -> &'static [&'static str] {
        match self {
            Call::CreateSecrets => &[VALUE, VALUE2],
            Call::PatchSecret => &[VALUE],
            _ => &[],
        }
    }

    /// Makes the call; only whether and how it failed matters.
    async fn run(self, client: &Client) -> Result<(), ClientError> {
        let scopes = vec!["workers".to_string()];
        let ids = vec!["x1".to_string()];
        match self {
            Call::CreateSecrets => {
                let items = [VALUE, VALUE2].map(|value| NewSecret {
                    name: "A",
                    value,
                    scopes: &scopes,
                    comment: None,
                });
                client.create_secrets(ACCOUNT, "s1", &items).await.map(drop)
            }
            Call::PatchSecret => {
                let patch = SecretPatch {
                    value: Some(VALUE),
                    ..SecretPatch::default()
                };
                client
                    .patch_secret(ACCOUNT, "s1", "x1", &patch)
                    .await
                    .map(drop)
            }
            Call::ListSecrets => client
                .list_secrets(ACCOUNT, "s1", &ListSecrets::default())
                .await
                .map(drop),
            Call::ListStores => client.list_stores(ACCOUNT).await.map(drop),
            Call::Quota => client.quota(ACCOUNT).await.map(drop),
            Call::CreateStore => client.create_store(ACCOUNT, "main").await.map(drop),
            Call::DeleteSecret => client.delete_secret(ACCOUNT, "s1", "x1").await,
            Call::BulkDelete => client.bulk_delete_secrets(ACCOUNT, "s1", &ids).await,
            Call::Duplicate => {
                let body = DuplicateSecret {
                    name: "B",
                    scopes: &scopes,
                    comment: None,
                };
                client
                    .duplicate_secret(ACCOUNT, "s1", "x1", &body)
                    .await
                    .map(drop)
            }
        }
    }
}

fn client(addr: SocketAddr) -> Client {
    let mut config = ClientConfig::new(
        &format!("http://{addr}/client/v4"),
        Auth::Token(Credential::new(TOKEN)),
    )
    .unwrap();
    config.max_retries = 2;
    config.base_delay = Duration::from_millis(1);
    config.max_delay = Duration::from_millis(2);
    config.max_retry_after = Duration::from_millis(5);
    config.request_timeout = Duration::from_secs(5);
    config.rate_limit_per_5min = 1_000_000;
    Client::new(config).unwrap()
}

#[test]
fn every_answer_ends_a_call_and_no_error_shows_a_value() {
    let fake = Fake::start();
    let client = client(fake.addr);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    run(
        config(150, true),
        (answer(), select(&Call::ALL[..])),
        |(answer, call)| {
            fake.set(answer.raw());
            let result = rt
                .block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), call.run(&client)).await
                })
                .map_err(|_| TestCaseError::fail("the call did not end within 30 s"))?;
            let Err(err) = result else {
                return Ok(());
            };
            let display = err.to_string();
            printable(&display)?;
            let debug = format!("{err:?}");
            let all = format!("{display}\n{:#}\n{debug}", anyhow::Error::new(err));
            prop_assert!(!all.contains(TOKEN), "the token is shown: {all}");
            for value in call.values() {
                prop_assert!(!shows(&all, value, 8), "a value is shown: {all}");
            }
            Ok(())
        },
    );
}
