//! The emulator, spoken to in raw HTTP (reqwest + `serde_json::Value`) and checked against
//! hand-written expectations and the envelope fixtures in `tests/fixtures/envelope/`. It
//! deliberately does not use `cfsecrets::cloudflare`, so the client and the emulator cannot
//! agree on one mistake.

use std::time::Duration;

use crate::support::assert_shape;
use cfsecrets::emulator::{
    BatchMode, Emulator, EmulatorConfig, EmulatorHandle, FaultConfig, FaultKind, ScheduledFault,
};
use reqwest::Method;
use serde_json::{Value, json};

const ACCT: &str = "0123456789abcdef0123456789abcdef";
const OTHER_ACCT: &str = "fedcba9876543210fedcba9876543210";
const TOKEN: &str = "emulator-test-token";
const TREE_TEMPLATE: &str = "/accounts/{account_id}/secrets_store/stores/{store_id}/secrets";

struct Emu {
    handle: EmulatorHandle,
    http: reqwest::Client,
}

/// An answer: status, `Retry-After`, content type and the parsed body (`Null` if not JSON).
struct Answer {
    status: u16,
    retry_after: Option<String>,
    content_type: String,
    text: String,
    json: Value,
}

impl Answer {
    fn error(&self) -> (u64, &str) {
        let e = &self.json["errors"][0];
        (
            e["code"].as_u64().unwrap_or(0),
            e["message"].as_str().unwrap_or(""),
        )
    }
    fn result(&self) -> &Value {
        &self.json["result"]
    }
    fn id(&self) -> String {
        self.json["result"]["id"].as_str().unwrap().to_string()
    }
}

fn config() -> EmulatorConfig {
    EmulatorConfig {
        token: Some(TOKEN.into()),
        seed: Some(42),
        ..EmulatorConfig::default()
    }
}

impl Emu {
    async fn start(config: EmulatorConfig) -> Emu {
        let handle = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Emu { handle, http }
    }

    fn url(&self, account: &str, rest: &str) -> String {
        format!(
            "{}/accounts/{account}/secrets_store{rest}",
            self.handle.base_url()
        )
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header("retry-after");
        let content_type = header("content-type").unwrap_or_default();
        let text = resp.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            retry_after,
            content_type,
            text,
            json,
        })
    }

    /// An authenticated API call for [`ACCT`]; `rest` starts after `/secrets_store`.
    async fn call(&self, method: Method, rest: &str, body: Option<Value>) -> Answer {
        self.try_call(method, rest, body).await.expect("answer")
    }

    async fn try_call(
        &self,
        method: Method,
        rest: &str,
        body: Option<Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self
            .http
            .request(method, self.url(ACCT, rest))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.send(req).await
    }

    async fn raw_body(&self, method: Method, rest: &str, body: &'static str) -> Answer {
        let req = self
            .http
            .request(method, self.url(ACCT, rest))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body);
        self.send(req).await.unwrap()
    }

    async fn admin(&self, method: Method, rest: &str, body: Option<Value>) -> (u16, String) {
        let mut req = self
            .http
            .request(method, format!("{}{rest}", self.handle.admin_url()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Creates the store and returns its id.
    async fn store(&self) -> String {
        let a = self
            .call(Method::POST, "/stores", Some(json!({"name": "main"})))
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.id()
    }

    async fn create(&self, store: &str, items: Value) -> Answer {
        self.call(
            Method::POST,
            &format!("/stores/{store}/secrets"),
            Some(items),
        )
        .await
    }

    async fn create_one(&self, store: &str, name: &str) -> String {
        let a = self
            .create(
                store,
                json!([{"name": name, "value": "v", "scopes": ["workers"]}]),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        a.result()[0]["id"].as_str().unwrap().to_string()
    }

    async fn names(&self, store: &str) -> Vec<String> {
        let a = self
            .call(
                Method::GET,
                &format!("/stores/{store}/secrets?per_page=100"),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        let mut names: Vec<String> = a
            .result()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/envelope/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn envelopes_match_the_fixtures() {
    let emu = Emu::start(EmulatorConfig {
        default_store: Some("default_secrets_store".into()),
        ..config()
    })
    .await;
    let stores = emu.call(Method::GET, "/stores?per_page=100", None).await;
    assert_shape(&fixture("stores_list"), &stores.json, "stores");
    let store = stores.result()[0]["id"].as_str().unwrap().to_string();

    let created = emu
        .create(
            &store,
            json!([{"name": "API_KEY", "value": "s3cr3t", "scopes": ["workers", "ai_gateway"],
                    "comment": "for the billing worker"}]),
        )
        .await;
    assert_shape(&fixture("secrets_create"), &created.json, "create");
    assert_eq!(created.result()[0]["store_id"], json!(store));
    let id = created.result()[0]["id"].as_str().unwrap().to_string();

    let list = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?per_page=100"),
            None,
        )
        .await;
    assert_shape(&fixture("secrets_list"), &list.json, "list");
    // The default configuration shows `pending` once after creation, then `active`.
    let get = emu
        .call(Method::GET, &format!("/stores/{store}/secrets/{id}"), None)
        .await;
    assert_shape(&fixture("secret_get"), &get.json, "get");

    let quota = emu.call(Method::GET, "/quota", None).await;
    assert_shape(&fixture("quota"), &quota.json, "quota");

    let del = emu
        .call(
            Method::DELETE,
            &format!("/stores/{store}/secrets/{id}"),
            None,
        )
        .await;
    assert_shape(&fixture("delete"), &del.json, "delete");
    let gone = emu
        .call(Method::GET, &format!("/stores/{store}/secrets/{id}"), None)
        .await;
    assert_eq!(gone.status, 404);
    assert_shape(&fixture("error_secret_not_found"), &gone.json, "not found");

    let anon = emu
        .send(emu.http.get(emu.url(ACCT, "/quota")))
        .await
        .unwrap();
    assert_eq!(anon.status, 403);
    assert_shape(&fixture("error_auth"), &anon.json, "auth");
}

#[tokio::test]
async fn stores_limit_get_delete_and_force() {
    let emu = Emu::start(config()).await;
    let empty = emu.call(Method::GET, "/stores", None).await;
    assert_eq!(empty.result(), &json!([]));
    assert_eq!(empty.json["result_info"]["total_count"], json!(0));

    let store = emu.store().await;
    let second = emu
        .call(Method::POST, "/stores", Some(json!({"name": "two"})))
        .await;
    assert_eq!(
        (second.status, second.error()),
        (409, (1003, "maximum_stores_exceeded"))
    );

    let got = emu
        .call(Method::GET, &format!("/stores/{store}"), None)
        .await;
    assert_eq!(got.result()["name"], json!("main"));
    assert_eq!(got.result()["account_id"], json!(ACCT));

    emu.create_one(&store, "A").await;
    let refused = emu
        .call(Method::DELETE, &format!("/stores/{store}"), None)
        .await;
    assert_eq!(
        (refused.status, refused.error().1),
        (409, "store_not_empty")
    );
    assert_eq!(emu.names(&store).await, vec!["A"]);

    let forced = emu
        .call(Method::DELETE, &format!("/stores/{store}?force=true"), None)
        .await;
    assert_eq!((forced.status, forced.result()), (200, &Value::Null));
    let missing = emu
        .call(Method::GET, &format!("/stores/{store}"), None)
        .await;
    assert_eq!(
        (missing.status, missing.error()),
        (404, (1001, "store_not_found"))
    );
    let quota = emu.call(Method::GET, "/quota", None).await;
    assert_eq!(quota.result()["secrets"]["usage"], json!(0));

    // An empty store goes without force; an empty name is refused.
    let store = emu.store().await;
    let del = emu
        .call(Method::DELETE, &format!("/stores/{store}"), None)
        .await;
    assert_eq!(del.status, 200);
    let unnamed = emu
        .call(Method::POST, "/stores", Some(json!({"name": ""})))
        .await;
    assert_eq!(
        (unnamed.status, unnamed.error().1),
        (400, "store_name_empty")
    );
}

#[tokio::test]
async fn more_stores_when_configured_and_the_old_array_shape() {
    let emu = Emu::start(EmulatorConfig {
        max_stores: 2,
        ..config()
    })
    .await;
    // The 2025 SDK shape: a one-element array, answered with an array.
    let old = emu
        .call(Method::POST, "/stores", Some(json!([{"name": "a"}])))
        .await;
    assert_eq!(old.status, 200);
    assert_eq!(old.result()[0]["name"], json!("a"));
    emu.store().await;
    let third = emu
        .call(Method::POST, "/stores", Some(json!({"name": "c"})))
        .await;
    assert_eq!(third.error().1, "maximum_stores_exceeded");
    let list = emu
        .call(Method::GET, "/stores?order=name&direction=desc", None)
        .await;
    let names: Vec<_> = list
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("main"), json!("a")]);
    // Another account is separate.
    let other = emu
        .send(
            emu.http
                .get(emu.url(OTHER_ACCT, "/stores"))
                .bearer_auth(TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(other.result(), &json!([]));
}

#[tokio::test]
async fn secret_get_patch_duplicate_delete() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    let created = emu
        .create(
            &store,
            json!([{"name": "DB_URL", "value": "postgres://x", "scopes": ["workers", "access", "workers"]}]),
        )
        .await;
    let secret = &created.result()[0];
    assert_eq!(secret["status"], json!("pending"));
    assert_eq!(secret["scopes"], json!(["access", "workers"]));
    assert!(secret.get("value").is_none());
    let id = secret["id"].as_str().unwrap().to_string();
    let path = format!("/stores/{store}/secrets/{id}");

    let first = emu.call(Method::GET, &path, None).await;
    assert_eq!(first.result()["status"], json!("pending"));
    let second = emu.call(Method::GET, &path, None).await;
    assert_eq!(second.result()["status"], json!("active"));

    let patched = emu
        .call(
            Method::PATCH,
            &path,
            Some(json!({"value": "postgres://y", "comment": "rotated", "scopes": ["workers", "ai_gateway"]})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let p = patched.result();
    assert_eq!(p["id"], json!(id));
    assert_eq!(p["comment"], json!("rotated"));
    assert_eq!(p["scopes"], json!(["ai_gateway", "workers"]));
    let created_at = time::OffsetDateTime::parse(
        p["created"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let modified_at = time::OffsetDateTime::parse(
        p["modified"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(modified_at > created_at, "modified bumps on PATCH");

    let rename = emu
        .call(Method::PATCH, &path, Some(json!({"name": "OTHER"})))
        .await;
    assert_eq!(
        (rename.status, rename.error().1),
        (400, "secret_name_immutable")
    );
    let same_name = emu
        .call(
            Method::PATCH,
            &path,
            Some(json!({"name": "DB_URL", "comment": "c2"})),
        )
        .await;
    assert_eq!(same_name.status, 200);
    let bad_scope = emu
        .call(
            Method::PATCH,
            &path,
            Some(json!({"scopes": ["ai-gateway"]})),
        )
        .await;
    assert_eq!(bad_scope.error(), (1001, "secret_scope_invalid"));
    let bad_json = emu.raw_body(Method::PATCH, &path, "{not json").await;
    assert_eq!(
        (bad_json.status, bad_json.error()),
        (400, (1001, "invalid_json_body"))
    );

    let dup = emu
        .call(
            Method::POST,
            &format!("{path}/duplicate"),
            Some(json!({"name": "DB_URL_COPY", "scopes": ["dex"], "comment": ""})),
        )
        .await;
    assert_eq!(dup.status, 200, "{}", dup.text);
    assert_ne!(dup.id(), id);
    assert_eq!(dup.result()["name"], json!("DB_URL_COPY"));
    assert_eq!(dup.result()["scopes"], json!(["dex"]));
    assert_eq!(dup.result()["status"], json!("pending"));
    for (body, status, token) in [
        (
            json!({"name": "DB_URL", "scopes": ["workers"]}),
            409,
            "secret_name_already_exists",
        ),
        (
            json!({"name": "", "scopes": ["workers"]}),
            400,
            "secret_name_empty",
        ),
        (
            json!({"name": "N2", "scopes": []}),
            400,
            "secret_scopes_empty",
        ),
        (json!({"name": "N2"}), 400, "secret_scopes_empty"),
        (
            json!({"name": "N2", "scopes": ["nope"]}),
            400,
            "secret_scope_invalid",
        ),
    ] {
        let a = emu
            .call(Method::POST, &format!("{path}/duplicate"), Some(body))
            .await;
        assert_eq!((a.status, a.error().1), (status, token), "{}", a.text);
    }
    let missing = format!("/stores/{store}/secrets/{}", "0".repeat(32));
    let a = emu
        .call(
            Method::POST,
            &format!("{missing}/duplicate"),
            Some(json!({"name": "X", "scopes": ["workers"]})),
        )
        .await;
    assert_eq!((a.status, a.error()), (404, (1001, "secret_not_found")));
    let a = emu
        .call(Method::PATCH, &missing, Some(json!({"comment": "x"})))
        .await;
    assert_eq!(a.error().1, "secret_not_found");
    let a = emu.call(Method::DELETE, &missing, None).await;
    assert_eq!(a.error().1, "secret_not_found");

    let del = emu.call(Method::DELETE, &path, None).await;
    assert_eq!((del.status, del.result()), (200, &Value::Null));
    assert_eq!(emu.names(&store).await, vec!["DB_URL_COPY"]);

    // Everything under an unknown store is store_not_found.
    let nowhere = format!("/stores/{}/secrets", "f".repeat(32));
    let a = emu.call(Method::GET, &nowhere, None).await;
    assert_eq!((a.status, a.error()), (404, (1001, "store_not_found")));
    let a = emu
        .create(
            &"f".repeat(32),
            json!([{"name": "A", "value": "v", "scopes": ["workers"]}]),
        )
        .await;
    assert_eq!(a.error().1, "store_not_found");
}

#[tokio::test]
async fn create_validation_and_the_value_limit() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    let item = |name: &str, value: &str, scopes: Value| json!([{"name": name, "value": value, "scopes": scopes}]);
    let cases = [
        (
            item("", "v", json!(["workers"])),
            400,
            1001,
            "secret_name_empty",
        ),
        (
            item("HAS SPACE", "v", json!(["workers"])),
            400,
            1001,
            "secret_name_invalid",
        ),
        (
            item("A", "v", json!(["workers", "ai-gateway"])),
            400,
            1001,
            "secret_scope_invalid",
        ),
        (item("A", "v", json!([])), 400, 1001, "secret_scopes_empty"),
        (
            json!({"name": "A", "value": "v", "scopes": ["workers"]}),
            400,
            1001,
            "invalid_json_body",
        ),
        (
            json!([{"name": "A", "scopes": ["workers"]}]),
            400,
            1001,
            "invalid_json_body",
        ),
        (
            item("A", &"x".repeat(65_537), json!(["workers"])),
            400,
            1001,
            "secret_value_too_long",
        ),
    ];
    for (body, status, code, token) in cases {
        let a = emu.create(&store, body).await;
        assert_eq!((a.status, a.error()), (status, (code, token)), "{}", a.text);
    }
    let garbage = emu
        .raw_body(Method::POST, &format!("/stores/{store}/secrets"), "[{")
        .await;
    assert_eq!(garbage.error(), (1001, "invalid_json_body"));
    assert!(emu.names(&store).await.is_empty());

    let at_limit = emu
        .create(&store, item("BIG", &"x".repeat(65_536), json!(["workers"])))
        .await;
    assert_eq!(at_limit.status, 200);
    let dup = emu
        .create(&store, item("BIG", "v", json!(["workers"])))
        .await;
    assert_eq!(
        (dup.status, dup.error()),
        (409, (1003, "secret_name_already_exists"))
    );

    // The 1,024-byte setting, on create and on PATCH.
    let small = Emu::start(EmulatorConfig {
        value_limit: 1024,
        ..config()
    })
    .await;
    let store = small.store().await;
    let a = small
        .create(&store, item("A", &"x".repeat(1025), json!(["workers"])))
        .await;
    assert_eq!(a.error().1, "secret_value_too_long");
    let a = small
        .create(&store, item("A", &"é".repeat(512), json!(["workers"])))
        .await;
    assert_eq!(a.status, 200, "1,024 bytes exactly");
    let id = a.result()[0]["id"].as_str().unwrap().to_string();
    let a = small
        .call(
            Method::PATCH,
            &format!("/stores/{store}/secrets/{id}"),
            Some(json!({"value": "é".repeat(513)})),
        )
        .await;
    assert_eq!((a.status, a.error().1), (400, "secret_value_too_long"));
}

#[tokio::test]
async fn pagination_search_order_and_scope_filter() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    let items: Vec<Value> = (0..25)
        .map(|i| {
            let scopes = if i % 2 == 0 {
                json!(["workers"])
            } else {
                json!(["workers", "dex"])
            };
            json!({"name": format!("S{i:02}"), "value": "v", "scopes": scopes,
                   "comment": if i == 7 { "the Billing key" } else { "" }})
        })
        .collect();
    assert_eq!(emu.create(&store, Value::Array(items)).await.status, 200);

    let mut seen = Vec::new();
    for (page, count) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let a = emu
            .call(
                Method::GET,
                &format!("/stores/{store}/secrets?page={page}&per_page=10"),
                None,
            )
            .await;
        // Like Cloudflare's lists: total_count, and no total_pages.
        assert_eq!(
            a.json["result_info"],
            json!({"page": page, "per_page": 10, "count": count, "total_count": 25})
        );
        seen.extend(
            a.result()
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].clone()),
        );
    }
    let mut unique = seen.clone();
    unique.sort_by_key(|v| v.to_string());
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (25, 25));

    let capped = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?per_page=500"),
            None,
        )
        .await;
    assert_eq!(capped.json["result_info"]["per_page"], json!(100));
    assert_eq!(capped.json["result_info"]["count"], json!(25));

    let desc = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?order=name&direction=desc&per_page=2"),
            None,
        )
        .await;
    let names: Vec<_> = desc
        .result()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("S24"), json!("S23")]);

    let by_name = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?search=s1"),
            None,
        )
        .await;
    assert_eq!(by_name.json["result_info"]["total_count"], json!(10));
    let by_comment = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?search=billing"),
            None,
        )
        .await;
    assert_eq!(by_comment.result()[0]["name"], json!("S07"));
    assert_eq!(by_comment.json["result_info"]["total_count"], json!(1));

    let dex = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?scopes=dex&per_page=100"),
            None,
        )
        .await;
    assert_eq!(dex.json["result_info"]["total_count"], json!(12));
    let both = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?scopes=dex&scopes=workers&per_page=100"),
            None,
        )
        .await;
    assert_eq!(both.json["result_info"]["total_count"], json!(12));
    let bad = emu
        .call(
            Method::GET,
            &format!("/stores/{store}/secrets?order=colour"),
            None,
        )
        .await;
    assert_eq!(
        (bad.status, bad.error().1),
        (400, "invalid_order_parameter")
    );
}

#[tokio::test]
async fn total_pages_is_sent_only_when_configured() {
    let emu = Emu::start(EmulatorConfig {
        total_pages: true,
        ..config()
    })
    .await;
    let store = emu.store().await;
    let items: Vec<Value> = (0..25)
        .map(|i| json!({"name": format!("S{i:02}"), "value": "v", "scopes": ["workers"]}))
        .collect();
    assert_eq!(emu.create(&store, Value::Array(items)).await.status, 200);
    for (page, count) in [(1, 10), (3, 5), (4, 0)] {
        let a = emu
            .call(
                Method::GET,
                &format!("/stores/{store}/secrets?page={page}&per_page=10"),
                None,
            )
            .await;
        assert_eq!(
            a.json["result_info"],
            json!({"page": page, "per_page": 10, "count": count, "total_count": 25, "total_pages": 3})
        );
    }
    let stores = emu.call(Method::GET, "/stores", None).await;
    assert_eq!(stores.json["result_info"]["total_pages"], json!(1));
}

#[tokio::test]
async fn quota_counts_and_refuses() {
    let emu = Emu::start(EmulatorConfig {
        quota: 3,
        ..config()
    })
    .await;
    let store = emu.store().await;
    let id = emu.create_one(&store, "A").await;
    emu.create_one(&store, "B").await;
    let q = emu.call(Method::GET, "/quota", None).await;
    assert_eq!(q.result(), &json!({"secrets": {"quota": 3, "usage": 2}}));
    // A batch that would pass the quota creates nothing.
    let over = emu
        .create(
            &store,
            json!([{"name": "C", "value": "v", "scopes": ["workers"]},
                   {"name": "D", "value": "v", "scopes": ["workers"]}]),
        )
        .await;
    assert_eq!(
        (over.status, over.error()),
        (409, (1003, "maximum_secrets_exceeded: max 3"))
    );
    assert_eq!(emu.names(&store).await, vec!["A", "B"]);
    emu.create_one(&store, "C").await;
    let dup = emu
        .call(
            Method::POST,
            &format!("/stores/{store}/secrets/{id}/duplicate"),
            Some(json!({"name": "E", "scopes": ["workers"]})),
        )
        .await;
    assert!(dup.error().1.starts_with("maximum_secrets_exceeded"));
}

#[tokio::test]
async fn batch_create_all_or_nothing_versus_partial() {
    let batch = json!([
        {"name": "NEW1", "value": "v", "scopes": ["workers"]},
        {"name": "TAKEN", "value": "v", "scopes": ["workers"]},
        {"name": "NEW2", "value": "v", "scopes": ["bogus"]},
        {"name": "NEW3", "value": "v", "scopes": ["workers"]},
        {"name": "NEW3", "value": "v", "scopes": ["workers"]}
    ]);
    let atomic = Emu::start(config()).await;
    let store = atomic.store().await;
    atomic.create_one(&store, "TAKEN").await;
    let a = atomic.create(&store, batch.clone()).await;
    assert_eq!(
        (a.status, a.error()),
        (409, (1003, "secret_name_already_exists"))
    );
    assert_eq!(a.result(), &Value::Null);
    assert_eq!(atomic.names(&store).await, vec!["TAKEN"]);

    let partial = Emu::start(EmulatorConfig {
        batch_mode: BatchMode::Partial,
        ..config()
    })
    .await;
    let store = partial.store().await;
    partial.create_one(&store, "TAKEN").await;
    let a = partial.create(&store, batch).await;
    assert_eq!(a.json["success"], json!(false));
    assert_eq!(a.result(), &Value::Null);
    let tokens: Vec<_> = a.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        tokens,
        vec![
            "secret_name_already_exists",
            "secret_scope_invalid",
            "secret_name_already_exists"
        ]
    );
    assert_eq!(partial.names(&store).await, vec!["NEW1", "NEW3", "TAKEN"]);
}

#[tokio::test]
async fn bulk_delete_needs_ids_and_is_all_or_nothing() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    let a = emu.create_one(&store, "A").await;
    let b = emu.create_one(&store, "B").await;
    emu.create_one(&store, "C").await;
    let path = format!("/stores/{store}/secrets");
    let none = emu.call(Method::DELETE, &path, None).await;
    assert_eq!(
        (none.status, none.error()),
        (400, (1001, "invalid_json_body"))
    );
    let empty = emu
        .call(Method::DELETE, &path, Some(json!({"secret_ids": []})))
        .await;
    assert_eq!(empty.error().1, "invalid_json_body");
    let unknown = emu
        .call(
            Method::DELETE,
            &path,
            Some(json!({"secret_ids": [a, "0".repeat(32)]})),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, (1001, "secret_not_found"))
    );
    assert_eq!(emu.names(&store).await, vec!["A", "B", "C"]);
    let ok = emu
        .call(Method::DELETE, &path, Some(json!({"secret_ids": [a, b]})))
        .await;
    assert_eq!((ok.status, ok.result()), (200, &Value::Null));
    assert_eq!(emu.names(&store).await, vec!["C"]);
}

#[tokio::test]
async fn authentication_and_routing_errors() {
    let emu = Emu::start(config()).await;
    let url = emu.url(ACCT, "/quota");
    let cases = [
        (emu.http.get(&url), 403),
        (emu.http.get(&url).bearer_auth("wrong"), 403),
        (emu.http.get(&url).header("x-auth-key", TOKEN), 403),
        (
            emu.http
                .get(&url)
                .header("x-auth-email", "ops@example.com")
                .header("x-auth-key", TOKEN),
            200,
        ),
        (emu.http.get(&url).bearer_auth(TOKEN), 200),
    ];
    for (req, status) in cases {
        let a = emu.send(req).await.unwrap();
        assert_eq!(a.status, status, "{}", a.text);
        if status == 403 {
            assert_eq!(a.error(), (10000, "Authentication error"));
        }
    }
    let open = Emu::start(EmulatorConfig::default()).await;
    let a = open
        .send(
            open.http
                .get(open.url(ACCT, "/quota"))
                .bearer_auth("anything"),
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200);

    let bad_account = emu
        .send(
            emu.http
                .get(emu.url("not-an-account", "/quota"))
                .bearer_auth(TOKEN),
        )
        .await
        .unwrap();
    assert_eq!((bad_account.status, bad_account.error().0), (400, 7003));
    let unknown = emu
        .send(
            emu.http
                .get(format!("{}/user/tokens/verify", emu.handle.base_url()))
                .bearer_auth(TOKEN),
        )
        .await
        .unwrap();
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, (7003, "No route for the URI"))
    );
    let wrong_method = emu.call(Method::PUT, "/quota", None).await;
    assert_eq!((wrong_method.status, wrong_method.error().0), (404, 7003));
    let empty_id = emu.call(Method::GET, "/stores//secrets", None).await;
    assert_eq!((empty_id.status, empty_id.error().0), (400, 1000));
}

#[tokio::test]
async fn status_faults_answer_like_cloudflare() {
    let emu = Emu::start(config()).await;
    for (kind, status) in [
        (FaultKind::TooManyRequests, 429),
        (FaultKind::InternalError, 500),
        (FaultKind::BadGateway, 502),
        (FaultKind::Unavailable, 503),
    ] {
        emu.handle.schedule(ScheduledFault {
            method: "GET".into(),
            path: "/accounts/*/secrets_store/quota".into(),
            kind,
            count: 1,
        });
        let a = emu.call(Method::GET, "/quota", None).await;
        assert_eq!(a.status, status);
        match status {
            429 => {
                assert_eq!(a.retry_after.as_deref(), Some("1"));
                assert_shape(&fixture("error_rate_limited"), &a.json, "429");
            }
            500 => assert_eq!(a.json["success"], json!(false)),
            _ => assert!(
                a.content_type.starts_with("text/html"),
                "{}",
                a.content_type
            ),
        }
        let after = emu.call(Method::GET, "/quota", None).await;
        assert_eq!(after.status, 200, "a scheduled fault is used up");
    }
    let log = emu.handle.log();
    let faults: Vec<_> = log.iter().filter_map(|r| r.fault.clone()).collect();
    assert_eq!(faults, vec!["429", "500", "502", "503"]);
}

#[tokio::test]
async fn dropped_connections_and_lost_responses() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    let create_path = format!("/stores/{store}/secrets");

    // Via the admin route: drop the next create before it is handled.
    let (status, _) = emu
        .admin(
            Method::POST,
            "/faults/schedule",
            Some(json!({"method": "POST", "path": "/accounts/*/secrets_store/stores/*/secrets", "kind": "drop"})),
        )
        .await;
    assert_eq!(status, 200);
    let body = json!([{"name": "LOST", "value": "v", "scopes": ["workers"]}]);
    let dropped = emu
        .try_call(Method::POST, &create_path, Some(body.clone()))
        .await;
    assert!(dropped.is_err(), "the connection closes without an answer");
    assert!(emu.names(&store).await.is_empty(), "nothing was created");

    // Succeed, then lose the response: the write happened.
    emu.handle.schedule(ScheduledFault {
        method: "POST".into(),
        path: TREE_TEMPLATE.into(),
        kind: FaultKind::DropResponse,
        count: 1,
    });
    let lost = emu
        .try_call(Method::POST, &create_path, Some(body.clone()))
        .await;
    assert!(lost.is_err());
    assert_eq!(emu.names(&store).await, vec!["LOST"]);
    let again = emu.create(&store, body).await;
    assert_eq!(again.error().1, "secret_name_already_exists");

    let log = emu.handle.log();
    let posts: Vec<_> = log
        .iter()
        .filter(|r| r.method == "POST" && r.path == TREE_TEMPLATE)
        .map(|r| (r.status, r.fault.as_deref()))
        .collect();
    assert_eq!(
        posts,
        vec![
            (None, Some("drop")),
            (None, Some("drop_response")),
            (Some(409), None)
        ]
    );
}

#[tokio::test]
async fn truncated_and_garbled_answers_come_after_the_work_is_done() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    let create_path = format!("/stores/{store}/secrets");
    let schedule = |method: &str, path: &str, kind| ScheduledFault {
        method: method.into(),
        path: path.into(),
        kind,
        count: 1,
    };

    // A create answered with a truncated body: the secret exists all the same.
    emu.handle
        .schedule(schedule("POST", TREE_TEMPLATE, FaultKind::Truncate));
    let a = emu
        .create(
            &store,
            json!([{"name": "CUT", "value": "v", "scopes": ["workers"]}]),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("application/json"));
    assert!(
        serde_json::from_str::<Value>(&a.text).is_err(),
        "{}",
        a.text
    );
    // Cut at a random length: nothing at all, or the start of the JSON answer.
    assert!(a.text.is_empty() || a.text.starts_with('{'), "{}", a.text);
    assert_eq!(emu.names(&store).await, vec!["CUT"]);

    // Via the admin route: garble the next read. Its bytes are no longer UTF-8.
    let (status, text) = emu
        .admin(
            Method::POST,
            "/faults/schedule",
            Some(json!({"method": "GET", "path": "/accounts/*/secrets_store/quota", "kind": "garble"})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let resp = emu
        .http
        .get(emu.url(ACCT, "/quota"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.contains(&0xFF), "{bytes:?}");
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());

    // An error answer is not spoiled (the scheduled fault is used up all the same).
    emu.handle.schedule(schedule(
        "GET",
        "/accounts/*/secrets_store/stores/*",
        FaultKind::Garble,
    ));
    let missing = emu.call(Method::GET, "/stores/nope", None).await;
    assert_eq!(missing.error().1, "store_not_found");
    assert!(emu.handle.scheduled().is_empty());

    // By rate: every success answer, reads and writes alike.
    let (status, _) = emu
        .admin(Method::PUT, "/faults", Some(json!({"corrupt_rate": 1.0})))
        .await;
    assert_eq!(status, 200);
    let patched = emu
        .call(
            Method::PATCH,
            &format!(
                "{create_path}/{}",
                emu.handle.state().accounts[ACCT].stores[0].secrets[0].id
            ),
            Some(json!({"comment": "spoiled answer, done work"})),
        )
        .await;
    assert_eq!((patched.status, patched.json.clone()), (200, Value::Null));
    emu.handle.set_faults(FaultConfig::default());
    let dump = emu.handle.state();
    assert_eq!(
        dump.accounts[ACCT].stores[0].secrets[0].comment.as_deref(),
        Some("spoiled answer, done work")
    );

    let log = emu.handle.log();
    let faults: Vec<_> = log
        .iter()
        .map(|r| (r.method.as_str(), r.status, r.fault.as_deref()))
        .filter(|(_, _, f)| f.is_some())
        .collect();
    assert_eq!(
        faults,
        vec![
            ("POST", Some(200), Some("truncate")),
            ("GET", Some(200), Some("garble")),
            ("PATCH", Some(200), faults.last().unwrap().2),
        ]
    );
    assert!(matches!(faults[2].2, Some("truncate" | "garble")));
    assert!(
        log.iter()
            .any(|r| r.status == Some(404) && r.fault.is_none()),
        "the 404 went out unspoiled: {log:?}"
    );
}

#[tokio::test]
async fn a_read_only_token_reads_and_its_writes_are_refused() {
    const READER: &str = "emulator-reader-token";
    let emu = Emu::start(EmulatorConfig {
        read_only_token: Some(READER.into()),
        ..config()
    })
    .await;
    let store = emu.store().await;
    emu.create_one(&store, "A").await;
    let as_reader = |method: Method, rest: &str| {
        emu.http
            .request(method, emu.url(ACCT, rest))
            .bearer_auth(READER)
    };
    let list = emu
        .send(as_reader(Method::GET, &format!("/stores/{store}/secrets")))
        .await
        .unwrap();
    assert_eq!(list.status, 200);
    assert_eq!(list.result()[0]["name"], json!("A"));
    let create = emu
        .send(
            as_reader(Method::POST, &format!("/stores/{store}/secrets"))
                .json(&json!([{"name": "B", "value": "v", "scopes": ["workers"]}])),
        )
        .await
        .unwrap();
    assert_eq!(
        (create.status, create.error()),
        (403, (10000, "Authentication error"))
    );
    let delete = emu
        .send(as_reader(Method::DELETE, &format!("/stores/{store}")))
        .await
        .unwrap();
    assert_eq!(delete.status, 403);
    assert_eq!(emu.names(&store).await, vec!["A"]);
    assert_eq!(emu.handle.state().accounts[ACCT].stores.len(), 1);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let emu = Emu::start(EmulatorConfig {
        faults: FaultConfig {
            rate_limit: 2,
            rate_window_secs: 300,
            ..FaultConfig::default()
        },
        ..config()
    })
    .await;
    assert_eq!(emu.call(Method::GET, "/quota", None).await.status, 200);
    assert_eq!(emu.call(Method::GET, "/stores", None).await.status, 200);
    let limited = emu.call(Method::GET, "/quota", None).await;
    assert_eq!(limited.status, 429);
    let secs: u64 = limited.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=300).contains(&secs), "{secs}");
    assert_shape(&fixture("error_rate_limited"), &limited.json, "rate limit");
    assert_eq!(
        emu.handle.log().last().unwrap().fault.as_deref(),
        Some("rate_limit")
    );

    // Turned off at runtime through the admin route.
    let (status, text) = emu
        .admin(Method::PUT, "/faults", Some(json!({"rate_limit": 0})))
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(emu.handle.faults().rate_limit, 0);
    assert_eq!(emu.call(Method::GET, "/quota", None).await.status, 200);
    let (status, _) = emu
        .admin(Method::PUT, "/faults", Some(json!({"no_such_knob": 1})))
        .await;
    assert_eq!(status, 400);
}

/// The statuses of 40 quota calls under random faults, each with whether its body parsed
/// and the raw body.
async fn fault_sequence(seed: u64) -> Vec<Option<(u16, bool, String)>> {
    let emu = Emu::start(EmulatorConfig {
        seed: Some(seed),
        faults: FaultConfig {
            error_rate: 0.3,
            drop_rate: 0.15,
            corrupt_rate: 0.2,
            ..FaultConfig::default()
        },
        ..config()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(
            emu.try_call(Method::GET, "/quota", None)
                .await
                .ok()
                .map(|a| (a.status, !a.json.is_null(), a.text)),
        );
    }
    out
}

#[tokio::test]
async fn seeded_faults_repeat_exactly() {
    let a = fault_sequence(7).await;
    let b = fault_sequence(7).await;
    let c = fault_sequence(8).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let statuses: Vec<_> = a.iter().map(|s| s.as_ref().map(|s| (s.0, s.1))).collect();
    for status in [None, Some((200, true)), Some((200, false))] {
        assert!(statuses.contains(&status), "{statuses:?} lacks {status:?}");
    }
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, Some((429 | 500 | 502 | 503, _))))
    );
}

#[tokio::test]
async fn latency_is_added() {
    let emu = Emu::start(config()).await;
    emu.handle.set_faults(FaultConfig {
        latency_ms: 150,
        ..FaultConfig::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(emu.call(Method::GET, "/quota", None).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn state_file_round_trip_keeps_values_for_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("emulator.json");
    let with_file = || EmulatorConfig {
        state_file: Some(file.clone()),
        ..config()
    };
    let emu = Emu::start(with_file()).await;
    let store = emu.store().await;
    let id = emu.create_one(&store, "KEEP").await;
    let before = emu.handle.state();
    emu.handle.shutdown().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(raw["version"], json!(1));

    let emu = Emu::start(with_file()).await;
    assert_eq!(emu.handle.state(), before);
    assert_eq!(emu.names(&store).await, vec!["KEEP"]);
    let dup = emu
        .call(
            Method::POST,
            &format!("/stores/{store}/secrets/{id}/duplicate"),
            Some(json!({"name": "KEPT", "scopes": ["workers"]})),
        )
        .await;
    assert_eq!(dup.status, 200, "{}", dup.text);

    // A broken file is an error at start, not an empty world.
    std::fs::write(&file, "{broken").unwrap();
    let err = Emulator::start(with_file(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("emulator.json"), "{err}");
}

#[tokio::test]
async fn default_store_is_created_once_per_account() {
    let emu = Emu::start(EmulatorConfig {
        default_store: Some("default_secrets_store".into()),
        ..config()
    })
    .await;
    let first = emu.call(Method::GET, "/stores", None).await;
    let again = emu.call(Method::GET, "/stores", None).await;
    assert_eq!(first.result(), again.result());
    assert_eq!(first.result().as_array().unwrap().len(), 1);
    let second = emu
        .call(Method::POST, "/stores", Some(json!({"name": "x"})))
        .await;
    assert_eq!(second.error().1, "maximum_stores_exceeded");
}

#[tokio::test]
async fn admin_log_counters_state_and_reset() {
    let emu = Emu::start(config()).await;
    let store = emu.store().await;
    emu.create_one(&store, "A").await;
    emu.call(Method::GET, "/quota", None).await;
    emu.call(Method::GET, "/quota", None).await;

    let (_, counters) = emu.admin(Method::GET, "/counters", None).await;
    let counters: Value = serde_json::from_str(&counters).unwrap();
    assert_eq!(
        counters,
        json!({
            "GET /accounts/{account_id}/secrets_store/quota": 2,
            "POST /accounts/{account_id}/secrets_store/stores": 1,
            "POST /accounts/{account_id}/secrets_store/stores/{store_id}/secrets": 1,
        })
    );
    assert_eq!(
        emu.handle
            .count("GET", "/accounts/{account_id}/secrets_store/quota"),
        2
    );
    let (_, log) = emu.admin(Method::GET, "/log", None).await;
    let log: Value = serde_json::from_str(&log).unwrap();
    assert_eq!(log.as_array().unwrap().len(), 4);
    assert_eq!(log[0]["seq"], json!(1));
    assert_eq!(log[0]["status"], json!(200));
    // The template, and the path with its ids.
    assert_eq!(
        log[1]["path"],
        json!("/accounts/{account_id}/secrets_store/stores/{store_id}/secrets")
    );
    assert_eq!(
        log[1]["resource"],
        json!(format!(
            "/accounts/{ACCT}/secrets_store/stores/{store}/secrets"
        ))
    );

    let (_, state) = emu.admin(Method::GET, "/state", None).await;
    let state: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        state["accounts"][ACCT]["stores"][0]["secrets"][0]["name"],
        json!("A")
    );

    let (status, _) = emu.admin(Method::POST, "/reset", None).await;
    assert_eq!(status, 204);
    assert!(emu.handle.log().is_empty());
    assert!(emu.handle.state().accounts.is_empty());
    let missing = emu
        .call(Method::GET, &format!("/stores/{store}"), None)
        .await;
    assert_eq!(missing.error().1, "store_not_found");
}

#[tokio::test]
async fn no_value_or_token_escapes() {
    const VALUE: &str = "zebra-quartz-5d1e-distinctive-value";
    let dir = tempfile::tempdir().unwrap();
    let emu = Emu::start(EmulatorConfig {
        state_file: Some(dir.path().join("s.json")),
        ..config()
    })
    .await;
    let store = emu.store().await;
    let mut seen = Vec::new();
    let a = emu
        .create(
            &store,
            json!([{"name": "V", "value": VALUE, "scopes": ["workers"]}]),
        )
        .await;
    let id = a.result()[0]["id"].as_str().unwrap().to_string();
    seen.push(a.text);
    let path = format!("/stores/{store}/secrets/{id}");
    for (method, rest, body) in [
        (Method::GET, path.clone(), None),
        (Method::GET, format!("/stores/{store}/secrets"), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"value": VALUE, "comment": "c"})),
        ),
        (
            Method::POST,
            format!("{path}/duplicate"),
            Some(json!({"name": "V2", "scopes": ["workers"]})),
        ),
        (
            Method::POST,
            format!("/stores/{store}/secrets"),
            Some(json!([{"name": "V", "value": VALUE, "scopes": ["workers"]}])),
        ),
    ] {
        seen.push(emu.call(method, &rest, body).await.text);
    }
    for rest in ["/log", "/counters", "/state", "/faults", "/faults/schedule"] {
        seen.push(emu.admin(Method::GET, rest, None).await.1);
    }
    seen.push(format!("{:?}", emu.handle.state()));
    seen.push(format!("{:?}", emu.handle.log()));
    seen.push(format!("{:?}", emu.handle));
    seen.push(format!("{:?}", config()));
    for text in &seen {
        assert!(!text.contains(VALUE), "value leaked: {text}");
        assert!(!text.contains(TOKEN), "token leaked: {text}");
    }
    // The state file is the one place that holds it (so duplicate survives a restart).
    let file = std::fs::read_to_string(dir.path().join("s.json")).unwrap();
    assert!(file.contains(VALUE));
}

#[tokio::test]
async fn pending_turns_active_by_reads_or_by_time() {
    async fn statuses(config: EmulatorConfig) -> Vec<String> {
        let emu = Emu::start(config).await;
        let store = emu.store().await;
        let id = emu.create_one(&store, "P").await;
        let mut out = Vec::new();
        for _ in 0..3 {
            let a = emu
                .call(Method::GET, &format!("/stores/{store}/secrets/{id}"), None)
                .await;
            out.push(a.result()["status"].as_str().unwrap().to_string());
        }
        out
    }
    let reads = |n| EmulatorConfig {
        activate_after_reads: n,
        ..config()
    };
    assert_eq!(
        statuses(reads(Some(0))).await,
        ["active", "active", "active"]
    );
    assert_eq!(
        statuses(reads(Some(2))).await,
        ["pending", "pending", "active"]
    );
    assert_eq!(
        statuses(reads(None)).await,
        ["pending", "pending", "pending"]
    );
    let by_time = EmulatorConfig {
        activate_after_reads: None,
        activate_after: Some(Duration::ZERO),
        ..config()
    };
    assert_eq!(statuses(by_time).await, ["active", "active", "active"]);
}

#[tokio::test]
async fn an_unwritable_state_file_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        state_file: Some(dir.path().join("missing-dir").join("state.json")),
        ..config()
    };
    let err = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("state.json"), "{err}");
}

#[tokio::test]
async fn seeded_ids_repeat_and_unseeded_ids_differ() {
    let ids = |seed| async move {
        let emu = Emu::start(EmulatorConfig { seed, ..config() }).await;
        let store = emu.store().await;
        let secret = emu.create_one(&store, "A").await;
        (store, secret)
    };
    let a = ids(Some(5)).await;
    assert_eq!(a, ids(Some(5)).await);
    assert_ne!(a, ids(Some(6)).await);
    assert_ne!(ids(None).await, ids(None).await);
    assert_ne!(a.0, a.1);
}

/// Found by the fuzz chapter: a client that closes its sending side once the request is out
/// (as `nc -N` or a script's `shutdown(SHUT_WR)` does) got no answer now and then (1 to 5 times in 100).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_closes_its_sending_side_still_gets_its_answer() {
    use std::io::{Read, Write};
    let emu = Emu::start(config()).await;
    let addr = emu.handle.addr();
    let request = |path: &str| {
        format!(
            "GET /client/v4{path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             authorization: Bearer {TOKEN}\r\n\r\n"
        )
    };
    let quota = request(&format!("/accounts/{ACCT}/secrets_store/quota"));
    let no_route = request("/x");
    let answers = tokio::task::spawn_blocking(move || {
        let mut answers = Vec::new();
        for _ in 0..300 {
            for (request, status) in [(&quota, "200 OK"), (&no_route, "404 Not Found")] {
                let mut conn = std::net::TcpStream::connect(addr).unwrap();
                conn.write_all(request.as_bytes()).unwrap();
                conn.shutdown(std::net::Shutdown::Write).unwrap();
                let mut answer = String::new();
                conn.read_to_string(&mut answer).unwrap();
                answers.push((status, answer));
            }
        }
        answers
    })
    .await
    .unwrap();
    let unanswered = answers
        .iter()
        .filter(|(status, answer)| !answer.starts_with(&format!("HTTP/1.1 {status}\r\n")))
        .count();
    assert_eq!(unanswered, 0, "of {} requests", answers.len());
}
