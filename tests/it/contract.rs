//! The contract: the real `cfsecrets::cloudflare::Client` against an in-process
//! `cfsecrets::emulator::Emulator` on 127.0.0.1:0. Each half was written from
//! `SECRETS_STORE_API.md` alone and neither calls the other's code; this chapter is where they
//! must agree. It covers all twelve endpoints (success and typed error paths), pagination
//! across several pages (with and without `total_pages`), every fault kind of the emulator
//! (latency, rate limit with `Retry-After`, 429/500/502/503 fractions, dropped connections,
//! drop after success, truncated and garbled success bodies), the client's pacer against the
//! emulator's rate limit, and `live::fetch` over several accounts.
//!
//! Envelope fixtures (`tests/fixtures/envelope/*.json`) are checked in both directions:
//! * client side — every fixture file must deserialize with the client's wire types and give
//!   the expected values and error kinds ([`fixtures_deserialize_with_the_client_wire_types`];
//!   a fixture without a client check fails the test);
//! * emulator side — the emulator's live answers are compared with the fixtures, in raw HTTP
//!   without the client: the original nine in `emulator.rs` (`envelopes_match_the_fixtures`),
//!   the ones added with this chapter here ([`emulator_answers_match_the_added_fixtures`]);
//!   [`every_fixture_is_checked_against_the_emulator`] fails if a fixture is compared nowhere.
//!
//! Retry delays are tiny (`ClientConfig` fields) so the chapter runs in a few seconds; the
//! only real waits are the emulator's 1-second rate-limit window and the pacer test.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::{assert_shape, is_id32, is_rfc3339};
use cfsecrets::cloudflare::{
    ApiError, Auth, Client, ClientConfig, ClientError, Credential, Direction, DuplicateSecret,
    Endpoint, Envelope, ErrorKind, ListSecrets, NewSecret, Quota, Secret, SecretOrder, SecretPatch,
    Store, TransportKind,
};
use cfsecrets::domain::AccountId;
use cfsecrets::emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, FaultConfig, FaultKind, RequestRecord, ScheduledFault,
};
use cfsecrets::live::{self, SecretStatus};
use serde::de::IgnoredAny;
use serde_json::{Value, json};

const ACCT: &str = "0123456789abcdef0123456789abcdef";
const ACCT_B: &str = "fedcba9876543210fedcba9876543210";
const ACCT_C: &str = "00000000000000000000000000000abc";
const TOKEN: &str = "contract-token-k33p-0ut";

const QUOTA: &str = "/accounts/{account_id}/secrets_store/quota";
const STORES: &str = "/accounts/{account_id}/secrets_store/stores";
const STORE: &str = "/accounts/{account_id}/secrets_store/stores/{store_id}";
const SECRETS: &str = "/accounts/{account_id}/secrets_store/stores/{store_id}/secrets";
const SECRET: &str = "/accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}";
const DUPLICATE: &str =
    "/accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}/duplicate";

// ---------------------------------------------------------------------------------------------
// Harness.

fn emu_config() -> EmulatorConfig {
    EmulatorConfig {
        token: Some(TOKEN.into()),
        seed: Some(7),
        ..EmulatorConfig::default()
    }
}

async fn start(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// Small delays, a few retries, a server-requested wait capped at 20 ms (raised where the
/// rate-limit window must really be waited out).
fn client_config(emu: &EmulatorHandle) -> ClientConfig {
    let mut c =
        ClientConfig::new(&emu.base_url(), Auth::Token(Credential::new(TOKEN))).expect("config");
    c.base_delay = Duration::from_millis(1);
    c.max_delay = Duration::from_millis(5);
    c.max_retry_after = Duration::from_millis(20);
    c.max_retries = 4;
    c.connect_timeout = Duration::from_secs(2);
    c.request_timeout = Duration::from_secs(5);
    c
}

fn client(emu: &EmulatorHandle) -> Client {
    Client::new(client_config(emu)).expect("client")
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn rfc3339(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| panic!("{s:?} is not RFC 3339"))
}

async fn make_store(c: &Client, account: &str) -> Store {
    c.create_store(account, "main").await.expect("store create")
}

/// Creates `names` in one batch, each with value `v-NAME` and scope `workers`.
async fn create_named(c: &Client, account: &str, store: &str, names: &[String]) -> Vec<Secret> {
    let scopes = strings(&["workers"]);
    let values: Vec<String> = names.iter().map(|n| format!("v-{n}")).collect();
    let batch: Vec<NewSecret<'_>> = names
        .iter()
        .zip(&values)
        .map(|(name, value)| NewSecret {
            name,
            value,
            scopes: &scopes,
            comment: None,
        })
        .collect();
    c.create_secrets(account, store, &batch)
        .await
        .expect("batch create")
}

async fn names_in(c: &Client, account: &str, store: &str) -> Vec<String> {
    let mut names: Vec<String> = c
        .list_secrets(account, store, &ListSecrets::default())
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    names.sort();
    names
}

/// PATCHes a comment while one fault is scheduled for it: the call succeeds, the answer
/// shows the comment, and the PATCH was sent exactly twice.
async fn patch_comment_through_a_fault(
    emu: &EmulatorHandle,
    c: &Client,
    store: &str,
    id: &str,
    comment: &str,
) {
    let before = emu.count("PATCH", SECRET);
    let patch = SecretPatch {
        comment: Some(comment),
        ..SecretPatch::default()
    };
    let patched = c.patch_secret(ACCT, store, id, &patch).await.unwrap();
    assert_eq!(patched.comment.as_deref(), Some(comment));
    assert_eq!(emu.count("PATCH", SECRET), before + 2);
}

fn faults_in(log: &[RequestRecord]) -> Vec<&str> {
    log.iter().filter_map(|r| r.fault.as_deref()).collect()
}

fn api(err: &ClientError) -> &ApiError {
    err.api()
        .unwrap_or_else(|| panic!("expected an api error, got {err}"))
}

// ---------------------------------------------------------------------------------------------
// The twelve endpoints: success paths.

#[tokio::test]
async fn store_endpoints_and_quota_agree() {
    let emu = start(emu_config()).await;
    let c = client(&emu);

    let q = c.quota(ACCT).await.unwrap();
    assert_eq!((q.secrets.quota, q.secrets.usage), (100, 0));
    assert!(c.list_stores(ACCT).await.unwrap().is_empty());

    let store = make_store(&c, ACCT).await;
    assert!(is_id32(&store.id), "{store:?}");
    assert_eq!(store.name, "main");
    assert_eq!(store.account_id.as_deref(), Some(ACCT));
    assert!(is_rfc3339(&store.created) && is_rfc3339(&store.modified));
    assert_eq!(c.get_store(ACCT, &store.id).await.unwrap(), store);
    assert_eq!(c.list_stores(ACCT).await.unwrap(), vec![store.clone()]);

    // A second account is separate.
    assert!(c.list_stores(ACCT_B).await.unwrap().is_empty());

    c.delete_store(ACCT, &store.id, false).await.unwrap();
    assert!(c.list_stores(ACCT).await.unwrap().is_empty());

    for template in [QUOTA, STORES, STORE] {
        assert!(
            emu.counters().keys().any(|k| k.ends_with(template)),
            "{template}"
        );
    }
    assert_eq!(emu.count("POST", STORES), 1);
    assert_eq!(emu.count("DELETE", STORE), 1);
    assert_eq!(emu.count("GET", STORE), 1);
    assert_eq!(c.stats().retries, 0);
}

#[tokio::test]
async fn secret_endpoints_agree() {
    let emu = start(emu_config()).await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;

    let both = strings(&["workers", "ai_gateway"]);
    let workers = strings(&["workers"]);
    let created = c
        .create_secrets(
            ACCT,
            &store,
            &[
                NewSecret {
                    name: "API_KEY",
                    value: "first-value",
                    scopes: &both,
                    comment: Some("for the billing worker"),
                },
                NewSecret {
                    name: "DB_URL",
                    value: "second-value",
                    scopes: &workers,
                    comment: None,
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    let (api_key, db_url) = (&created[0], &created[1]);
    assert_eq!(api_key.name, "API_KEY");
    assert_eq!(api_key.status, "pending");
    assert_eq!(api_key.store_id, store);
    assert_eq!(
        api_key.scopes,
        ["ai_gateway", "workers"],
        "sorted by the API"
    );
    assert_eq!(api_key.comment.as_deref(), Some("for the billing worker"));
    assert_eq!(db_url.comment, None);
    assert!(is_id32(&api_key.id) && is_id32(&db_url.id) && api_key.id != db_url.id);
    assert!(is_rfc3339(&api_key.created) && is_rfc3339(&api_key.modified));

    let q = c.quota(ACCT).await.unwrap();
    assert_eq!(q.secrets.usage, 2);

    // List: everything, with comment and scopes; then search, order and direction.
    let all = c
        .list_secrets(ACCT, &store, &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let listed = all.iter().find(|s| s.id == api_key.id).unwrap();
    assert_eq!(listed.scopes, api_key.scopes);
    assert_eq!(listed.comment, api_key.comment);
    let billing = c
        .list_secrets(
            ACCT,
            &store,
            &ListSecrets {
                search: Some("billing".into()),
                ..ListSecrets::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        billing.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["API_KEY"]
    );
    let desc = c
        .list_secrets(
            ACCT,
            &store,
            &ListSecrets {
                order: Some(SecretOrder::Name),
                direction: Some(Direction::Desc),
                ..ListSecrets::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        desc.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["DB_URL", "API_KEY"]
    );

    // Get: read after the list, so no longer pending.
    let got = c.get_secret(ACCT, &store, &api_key.id).await.unwrap();
    assert_eq!(got.id, api_key.id);
    assert_eq!(got.status, "active");

    // PATCH: value, comment and scopes; name and id stay.
    let dex = strings(&["dex", "access"]);
    let patched = c
        .patch_secret(
            ACCT,
            &store,
            &db_url.id,
            &SecretPatch {
                value: Some("rotated"),
                scopes: Some(&dex),
                comment: Some("rotated today"),
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.id, db_url.id);
    assert_eq!(patched.name, "DB_URL");
    assert_eq!(patched.scopes, ["access", "dex"]);
    assert_eq!(patched.comment.as_deref(), Some("rotated today"));
    assert!(
        rfc3339(&patched.modified) > rfc3339(&db_url.modified),
        "PATCH bumps modified"
    );

    // Duplicate: a new id under a new name; the source is untouched.
    let copy = c
        .duplicate_secret(
            ACCT,
            &store,
            &api_key.id,
            &DuplicateSecret {
                name: "API_KEY_COPY",
                scopes: &workers,
                comment: Some("copy"),
            },
        )
        .await
        .unwrap();
    assert_ne!(copy.id, api_key.id);
    assert_eq!(copy.name, "API_KEY_COPY");
    assert_eq!(copy.scopes, ["workers"]);
    assert_eq!(copy.comment.as_deref(), Some("copy"));
    let source = c.get_secret(ACCT, &store, &api_key.id).await.unwrap();
    assert_eq!(source.name, "API_KEY");
    assert_eq!(source.scopes, ["ai_gateway", "workers"]);
    assert_eq!(
        names_in(&c, ACCT, &store).await,
        ["API_KEY", "API_KEY_COPY", "DB_URL"]
    );

    // Bulk delete two, then delete the last one by id.
    c.bulk_delete_secrets(ACCT, &store, &[api_key.id.clone(), copy.id.clone()])
        .await
        .unwrap();
    assert_eq!(names_in(&c, ACCT, &store).await, ["DB_URL"]);
    c.delete_secret(ACCT, &store, &db_url.id).await.unwrap();
    assert!(names_in(&c, ACCT, &store).await.is_empty());
    assert_eq!(c.quota(ACCT).await.unwrap().secrets.usage, 0);

    // Every secret endpoint was reached exactly as often as called, with no retries.
    assert_eq!(emu.count("POST", SECRETS), 1);
    assert_eq!(emu.count("DELETE", SECRETS), 1);
    assert_eq!(emu.count("PATCH", SECRET), 1);
    assert_eq!(emu.count("DELETE", SECRET), 1);
    assert_eq!(emu.count("GET", SECRET), 2);
    assert_eq!(emu.count("POST", DUPLICATE), 1);
    assert_eq!(c.stats().retries, 0);
    assert_eq!(c.stats().requests_sent, emu.log().len() as u64);
    // No value ever came back: the emulator's log and state hold none.
    let dump = serde_json::to_string(&emu.state()).unwrap();
    for value in ["first-value", "second-value", "rotated"] {
        assert!(!dump.contains(value));
    }
}

// ---------------------------------------------------------------------------------------------
// Error paths: the emulator's answers become the client's typed kinds.

#[tokio::test]
async fn store_errors_are_typed() {
    let emu = start(emu_config()).await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let missing = "0".repeat(32);

    let err = c.create_store(ACCT, "second").await.unwrap_err();
    assert!(err.is(ErrorKind::MaximumStoresExceeded), "{err}");

    for err in [
        c.get_store(ACCT, &missing).await.unwrap_err(),
        c.delete_store(ACCT, &missing, false).await.unwrap_err(),
        c.list_secrets(ACCT, &missing, &ListSecrets::default())
            .await
            .unwrap_err(),
        c.create_secrets(
            ACCT,
            &missing,
            &[NewSecret {
                name: "X",
                value: "v",
                scopes: &strings(&["workers"]),
                comment: None,
            }],
        )
        .await
        .unwrap_err(),
    ] {
        assert!(err.is(ErrorKind::StoreNotFound), "{err}");
        assert!(!err.is(ErrorKind::SecretNotFound), "{err}");
    }

    // store_not_empty (409) without force; force deletes store and secrets.
    create_named(&c, ACCT, &store, &strings(&["A", "B"])).await;
    let err = c.delete_store(ACCT, &store, false).await.unwrap_err();
    assert!(err.is(ErrorKind::StoreNotEmpty), "{err}");
    assert_eq!(api(&err).status, 409);
    assert_eq!(
        c.list_stores(ACCT).await.unwrap().len(),
        1,
        "nothing deleted"
    );
    c.delete_store(ACCT, &store, true).await.unwrap();
    assert!(c.list_stores(ACCT).await.unwrap().is_empty());
    assert_eq!(c.quota(ACCT).await.unwrap().secrets.usage, 0);
    assert_eq!(c.stats().retries, 0, "4xx answers are not retried");
}

#[tokio::test]
async fn secret_errors_are_typed() {
    let emu = start(EmulatorConfig {
        quota: 3,
        value_limit: 1024,
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let existing = create_named(&c, ACCT, &store, &strings(&["ONE"])).await;
    let one = existing[0].id.clone();
    let missing = "f".repeat(32);
    let workers = strings(&["workers"]);
    let bad_scope = strings(&["ai-gateway"]);

    // Name taken, by create and by duplicate.
    let new = |name, value, scopes| NewSecret {
        name,
        value,
        scopes,
        comment: None,
    };
    let err = c
        .create_secrets(ACCT, &store, &[new("ONE", "v", &workers)])
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretNameAlreadyExists), "{err}");
    let dup = |name| DuplicateSecret {
        name,
        scopes: &workers,
        comment: None,
    };
    let err = c
        .duplicate_secret(ACCT, &store, &one, &dup("ONE"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretNameAlreadyExists), "{err}");

    // Empty name and empty scopes.
    let none: Vec<String> = Vec::new();
    let err = c
        .create_secrets(ACCT, &store, &[new("", "v", &workers)])
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretNameEmpty), "{err}");
    let err = c
        .duplicate_secret(ACCT, &store, &one, &dup(""))
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretNameEmpty), "{err}");
    let err = c
        .create_secrets(ACCT, &store, &[new("TWO", "v", &none)])
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretScopesEmpty), "{err}");
    let err = c
        .duplicate_secret(
            ACCT,
            &store,
            &one,
            &DuplicateSecret {
                name: "TWO",
                scopes: &none,
                comment: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretScopesEmpty), "{err}");

    // Scope spelling, on create, patch and duplicate.
    let err = c
        .create_secrets(ACCT, &store, &[new("TWO", "v", &bad_scope)])
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretScopeInvalid), "{err}");
    let scopes_patch = SecretPatch {
        scopes: Some(&bad_scope),
        ..SecretPatch::default()
    };
    let err = c
        .patch_secret(ACCT, &store, &one, &scopes_patch)
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretScopeInvalid), "{err}");
    let err = c
        .duplicate_secret(
            ACCT,
            &store,
            &one,
            &DuplicateSecret {
                name: "TWO",
                scopes: &bad_scope,
                comment: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretScopeInvalid), "{err}");

    // Value limit (1,024 here): exactly at the limit is fine, one byte over is not.
    let long = "x".repeat(1025);
    let err = c
        .create_secrets(ACCT, &store, &[new("TWO", &long, &workers)])
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretValueTooLong), "{err}");
    let err = c
        .patch_secret(
            ACCT,
            &store,
            &one,
            &SecretPatch {
                value: Some(&long),
                ..SecretPatch::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretValueTooLong), "{err}");
    assert!(!err.to_string().contains("xxxx"), "no value in errors");
    c.patch_secret(
        ACCT,
        &store,
        &one,
        &SecretPatch {
            value: Some(&long[..1024]),
            ..SecretPatch::default()
        },
    )
    .await
    .unwrap();

    // A batch with one bad item creates nothing (the emulator's default).
    let err = c
        .create_secrets(
            ACCT,
            &store,
            &[new("TWO", "v", &workers), new("THREE", "v", &bad_scope)],
        )
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::SecretScopeInvalid), "{err}");
    assert_eq!(names_in(&c, ACCT, &store).await, ["ONE"]);

    // Unknown secret id on get, patch, delete, duplicate and bulk delete.
    let comment_patch = SecretPatch {
        comment: Some("c"),
        ..SecretPatch::default()
    };
    for err in [
        c.get_secret(ACCT, &store, &missing).await.unwrap_err(),
        c.patch_secret(ACCT, &store, &missing, &comment_patch)
            .await
            .unwrap_err(),
        c.delete_secret(ACCT, &store, &missing).await.unwrap_err(),
        c.duplicate_secret(ACCT, &store, &missing, &dup("TWO"))
            .await
            .unwrap_err(),
        c.bulk_delete_secrets(ACCT, &store, &[one.clone(), missing.clone()])
            .await
            .unwrap_err(),
    ] {
        assert!(err.is(ErrorKind::SecretNotFound), "{err}");
        assert!(!err.is(ErrorKind::StoreNotFound), "{err}");
    }
    assert_eq!(
        names_in(&c, ACCT, &store).await,
        ["ONE"],
        "bulk delete kept ONE"
    );

    // The quota (3): fill it, then both create and duplicate are refused.
    create_named(&c, ACCT, &store, &strings(&["TWO", "THREE"])).await;
    let err = c
        .create_secrets(ACCT, &store, &[new("FOUR", "v", &workers)])
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::MaximumSecretsExceeded), "{err}");
    let err = c
        .duplicate_secret(ACCT, &store, &one, &dup("FOUR"))
        .await
        .unwrap_err();
    assert!(err.is(ErrorKind::MaximumSecretsExceeded), "{err}");
    let q = c.quota(ACCT).await.unwrap();
    assert_eq!((q.secrets.quota, q.secrets.usage), (3, 3));

    assert_eq!(c.stats().retries, 0, "4xx answers are not retried");
}

#[tokio::test]
async fn authentication_and_routing_errors() {
    let emu = start(emu_config()).await;

    // A wrong token: Cloudflare's authentication error, which never names the token.
    let mut wrong = client_config(&emu);
    wrong.auth = Auth::Token(Credential::new("not-the-token"));
    let wrong = Client::new(wrong).unwrap();
    let err = wrong.list_stores(ACCT).await.unwrap_err();
    let e = api(&err);
    assert_eq!((e.status, e.code), (403, Some(10000)), "{err}");
    assert!(!err.to_string().contains("not-the-token"));
    assert!(!format!("{err:?}").contains("not-the-token"));
    assert_eq!(wrong.stats().retries, 0);

    // Email plus global key: accepted with the right key, refused with a wrong one.
    let mut legacy = client_config(&emu);
    legacy.auth = Auth::KeyEmail {
        key: Credential::new(TOKEN),
        email: "ops@example.com".into(),
    };
    let legacy = Client::new(legacy).unwrap();
    assert_eq!(legacy.quota(ACCT).await.unwrap().secrets.quota, 100);
    let mut bad_key = client_config(&emu);
    bad_key.auth = Auth::KeyEmail {
        key: Credential::new("wrong-key"),
        email: "ops@example.com".into(),
    };
    let err = Client::new(bad_key).unwrap().quota(ACCT).await.unwrap_err();
    assert_eq!(api(&err).code, Some(10000), "{err}");

    // A malformed account id: 7003 "No route for the URI", on every kind of endpoint.
    let c = client(&emu);
    for err in [
        c.quota("NOT-AN-ACCOUNT").await.unwrap_err(),
        c.list_stores("0123").await.unwrap_err(),
        c.create_store("0123456789ABCDEF0123456789ABCDEF", "x")
            .await
            .unwrap_err(),
        c.get_secret("0123", "s", "x").await.unwrap_err(),
    ] {
        assert!(err.is(ErrorKind::NoRoute), "{err}");
    }
    assert_eq!(c.stats().retries, 0);
}

// ---------------------------------------------------------------------------------------------
// Pagination.

#[tokio::test]
async fn a_list_costs_exactly_the_pages_it_needs_with_and_without_total_pages() {
    // 100 secrets: page 1 is full and total_count (or total_pages) says that was all, so one
    // request; 250: pages of 100, 100 and 50. No empty page is ever fetched.
    for total_pages in [false, true] {
        let emu = start(EmulatorConfig {
            quota: 300,
            total_pages,
            ..emu_config()
        })
        .await;
        let c = client(&emu);
        let store = make_store(&c, ACCT).await.id;
        let names: Vec<String> = (0..250).map(|i| format!("S{i:03}")).collect();
        let mut made = 0;
        for (n, requests) in [(100, 1), (250, 3)] {
            for chunk in names[made..n].chunks(100) {
                create_named(&c, ACCT, &store, chunk).await;
            }
            made = n;
            emu.clear_log();
            let listed = c
                .list_secrets(ACCT, &store, &ListSecrets::default())
                .await
                .unwrap();
            assert_eq!(listed.len(), n, "total_pages {total_pages}");
            assert_eq!(
                emu.count("GET", SECRETS),
                requests,
                "{n} secrets, total_pages {total_pages}"
            );
            assert_eq!(emu.log().len() as u64, requests);
        }
        // The store list: one store, one request.
        emu.clear_log();
        assert_eq!(c.list_stores(ACCT).await.unwrap().len(), 1);
        assert_eq!(emu.count("GET", STORES), 1);
    }
}

#[tokio::test]
async fn pagination_returns_every_secret_once() {
    let emu = start(EmulatorConfig {
        quota: 300,
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let names: Vec<String> = (0..250).map(|i| format!("S{i:03}")).collect();
    for chunk in names.chunks(100) {
        create_named(&c, ACCT, &store, chunk).await;
    }
    emu.clear_log();

    let listed = c
        .list_secrets(ACCT, &store, &ListSecrets::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 250);
    let ids: BTreeSet<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 250, "no id twice");
    let got: BTreeSet<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    let want: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(got, want);
    assert_eq!(emu.count("GET", SECRETS), 3, "pages of 100, 100 and 50");

    // Ordered by name, descending, across pages.
    let desc = c
        .list_secrets(
            ACCT,
            &store,
            &ListSecrets {
                order: Some(SecretOrder::Name),
                direction: Some(Direction::Desc),
                ..ListSecrets::default()
            },
        )
        .await
        .unwrap();
    let mut expected = names.clone();
    expected.reverse();
    assert_eq!(
        desc.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(c.quota(ACCT).await.unwrap().secrets.usage, 250);
}

// ---------------------------------------------------------------------------------------------
// Faults.

#[tokio::test]
async fn latency_is_tolerated_and_a_timed_out_create_is_not_resent() {
    let emu = start(EmulatorConfig {
        faults: FaultConfig {
            latency_ms: 30,
            ..FaultConfig::default()
        },
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    create_named(&c, ACCT, &store, &strings(&["SLOW"])).await;
    assert_eq!(names_in(&c, ACCT, &store).await, ["SLOW"]);
    assert_eq!(c.stats().retries, 0);

    // Latency beyond the client's request timeout.
    emu.set_faults(FaultConfig {
        latency_ms: 600,
        ..FaultConfig::default()
    });
    let mut cfg = client_config(&emu);
    cfg.request_timeout = Duration::from_millis(150);
    cfg.max_retries = 1;
    let impatient = Client::new(cfg).unwrap();
    emu.clear_log();

    let err = impatient.list_stores(ACCT).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Transport {
                kind: TransportKind::Timeout,
                attempts: 2,
                ..
            }
        ),
        "{err}"
    );
    let err = impatient
        .create_secrets(
            ACCT,
            &store,
            &[NewSecret {
                name: "LATE",
                value: "v",
                scopes: &strings(&["workers"]),
                comment: None,
            }],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::OutcomeUnknown {
                endpoint: Endpoint::CreateSecrets,
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(impatient.stats().outcome_unknown, 1);
    // Let the emulator finish whatever it was doing, then look: at most the one POST.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(emu.count("POST", SECRETS) <= 1, "{:?}", emu.log());
    assert_eq!(
        impatient.stats().requests_sent,
        3,
        "2 list attempts + 1 create"
    );
}

#[tokio::test]
async fn rate_limit_retry_after_is_waited_out() {
    let emu = start(EmulatorConfig {
        faults: FaultConfig {
            rate_limit: 3,
            rate_window_secs: 1,
            ..FaultConfig::default()
        },
        ..emu_config()
    })
    .await;
    let mut cfg = client_config(&emu);
    cfg.max_retry_after = Duration::from_secs(3);
    let c = Client::new(cfg).unwrap();
    for _ in 0..5 {
        c.quota(ACCT).await.expect("succeeds after waiting");
    }
    let log = emu.log();
    let limited: Vec<_> = log
        .iter()
        .filter(|r| r.fault.as_deref() == Some("rate_limit"))
        .collect();
    assert!(!limited.is_empty(), "the emulator limited: {log:?}");
    assert!(limited.iter().all(|r| r.status == Some(429)));
    assert_eq!(
        log.iter().filter(|r| r.status == Some(200)).count(),
        5,
        "every call eventually answered"
    );
    let stats = c.stats();
    assert_eq!(stats.rate_limited, limited.len() as u64);
    assert_eq!(stats.retries, limited.len() as u64);
    assert!(stats.backoff_wait > Duration::ZERO);
}

#[tokio::test]
async fn error_fractions_are_retried_without_duplicating_writes() {
    let emu = start(EmulatorConfig {
        faults: FaultConfig {
            error_rate: 0.35,
            ..FaultConfig::default()
        },
        seed: Some(11),
        ..emu_config()
    })
    .await;
    let mut cfg = client_config(&emu);
    cfg.max_retries = 12;
    let c = Client::new(cfg).unwrap();

    let store = make_store(&c, ACCT).await.id;
    let names: Vec<String> = (0..8).map(|i| format!("N{i}")).collect();
    let mut ids = Vec::new();
    for name in &names {
        let made = create_named(&c, ACCT, &store, std::slice::from_ref(name)).await;
        ids.push(made[0].id.clone());
    }
    let comment = SecretPatch {
        comment: Some("touched"),
        ..SecretPatch::default()
    };
    for id in &ids {
        c.get_secret(ACCT, &store, id).await.unwrap();
        c.patch_secret(ACCT, &store, id, &comment).await.unwrap();
    }
    let workers = strings(&["workers"]);
    c.duplicate_secret(
        ACCT,
        &store,
        &ids[0],
        &DuplicateSecret {
            name: "N0_COPY",
            scopes: &workers,
            comment: None,
        },
    )
    .await
    .unwrap();
    c.delete_secret(ACCT, &store, &ids[1]).await.unwrap();
    c.bulk_delete_secrets(ACCT, &store, &ids[2..4])
        .await
        .unwrap();
    c.quota(ACCT).await.unwrap();

    let log = emu.log();
    let faults = faults_in(&log);
    for kind in ["429", "500", "502", "503"] {
        assert!(faults.contains(&kind), "seed 11 injects {kind}: {faults:?}");
    }
    // Each fault answer cost exactly one retry, and nothing else was resent.
    let stats = c.stats();
    assert_eq!(stats.retries, faults.len() as u64);
    assert_eq!(stats.requests_sent, log.len() as u64);
    // Each write landed once.
    let expected = ["N0", "N0_COPY", "N4", "N5", "N6", "N7"];
    assert_eq!(names_in(&c, ACCT, &store).await, expected);
    let dump = emu.state();
    let secrets = &dump.accounts[ACCT].stores[0].secrets;
    assert_eq!(secrets.len(), expected.len());
    assert!(
        secrets
            .iter()
            .filter(|s| s.name != "N0_COPY")
            .all(|s| s.comment.as_deref() == Some("touched"))
    );
    let ok_posts = log
        .iter()
        .filter(|r| r.method == "POST" && r.path == SECRETS && r.status == Some(200))
        .count();
    assert_eq!(ok_posts, 8, "one successful create per secret");
}

#[tokio::test]
async fn dropped_connections_retry_reads_and_stop_creates() {
    let emu = start(emu_config()).await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let made = create_named(&c, ACCT, &store, &strings(&["KEEP", "GONE"])).await;
    let (keep, gone) = (made[0].id.clone(), made[1].id.clone());
    let drop = |method: &str, path: &str, count| ScheduledFault {
        method: method.into(),
        path: path.into(),
        kind: FaultKind::Drop,
        count,
    };

    // Idempotent calls: dropped twice, then answered.
    emu.schedule(drop("GET", SECRETS, 2));
    assert_eq!(names_in(&c, ACCT, &store).await, ["GONE", "KEEP"]);
    emu.schedule(drop("GET", QUOTA, 1));
    assert_eq!(c.quota(ACCT).await.unwrap().secrets.usage, 2);
    emu.schedule(drop("PATCH", SECRET, 1));
    let patched = c
        .patch_secret(
            ACCT,
            &store,
            &keep,
            &SecretPatch {
                comment: Some("after a drop"),
                ..SecretPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.comment.as_deref(), Some("after a drop"));
    emu.schedule(drop("DELETE", SECRET, 1));
    c.delete_secret(ACCT, &store, &gone).await.unwrap();
    assert!(emu.scheduled().is_empty(), "every scheduled drop was used");
    let drops = faults_in(&emu.log())
        .iter()
        .filter(|f| **f == "drop")
        .count();
    assert_eq!(drops, 5);
    assert_eq!(c.stats().retries, 5);

    // Creates: the connection drops after sending, so the outcome is unknown; the client
    // stops and does not resend (the emulator saw exactly one POST).
    let workers = strings(&["workers"]);
    for (path, template) in [
        ("/accounts/*/secrets_store/stores/*/secrets", SECRETS),
        (
            "/accounts/*/secrets_store/stores/*/secrets/*/duplicate",
            DUPLICATE,
        ),
        ("/accounts/*/secrets_store/stores", STORES),
    ] {
        emu.schedule(drop("POST", path, 1));
        let before = emu.count("POST", template);
        let err = match template {
            SECRETS => c
                .create_secrets(
                    ACCT,
                    &store,
                    &[NewSecret {
                        name: "NEW",
                        value: "v",
                        scopes: &workers,
                        comment: None,
                    }],
                )
                .await
                .map(std::mem::drop),
            DUPLICATE => c
                .duplicate_secret(
                    ACCT,
                    &store,
                    &keep,
                    &DuplicateSecret {
                        name: "NEW",
                        scopes: &workers,
                        comment: None,
                    },
                )
                .await
                .map(std::mem::drop),
            _ => c.create_store(ACCT, "other").await.map(std::mem::drop),
        }
        .unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::OutcomeUnknown {
                    kind: TransportKind::Dropped,
                    ..
                }
            ),
            "{template}: {err}"
        );
        assert_eq!(
            emu.count("POST", template),
            before + 1,
            "{template}: no resend"
        );
    }
    // A dropped connection means nothing happened: re-listing shows no NEW.
    assert_eq!(names_in(&c, ACCT, &store).await, ["KEEP"]);
    assert_eq!(c.list_stores(ACCT).await.unwrap().len(), 1);
    assert_eq!(c.stats().outcome_unknown, 3);
}

#[tokio::test]
async fn random_drops_are_survived_by_idempotent_calls() {
    let emu = start(EmulatorConfig {
        seed: Some(5),
        ..emu_config()
    })
    .await;
    let mut cfg = client_config(&emu);
    cfg.max_retries = 12;
    let c = Client::new(cfg).unwrap();
    let store = make_store(&c, ACCT).await.id;
    let made = create_named(&c, ACCT, &store, &strings(&["A", "B", "C"])).await;
    emu.set_faults(FaultConfig {
        drop_rate: 0.4,
        ..FaultConfig::default()
    });
    for s in &made {
        assert_eq!(c.get_secret(ACCT, &store, &s.id).await.unwrap().id, s.id);
        assert_eq!(names_in(&c, ACCT, &store).await.len(), 3);
        c.quota(ACCT).await.unwrap();
    }
    let drops = faults_in(&emu.log()).len() as u64;
    assert!(drops > 0, "seed 5 drops some connections");
    assert_eq!(c.stats().retries, drops);
}

#[tokio::test]
async fn drop_after_success_leaves_the_write_done_and_the_outcome_unknown() {
    let emu = start(EmulatorConfig {
        max_stores: 2,
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let made = create_named(&c, ACCT, &store, &strings(&["SRC", "DEL", "BULK"])).await;
    let lose = |method: &str, path: &str| ScheduledFault {
        method: method.into(),
        path: path.into(),
        kind: FaultKind::DropResponse,
        count: 1,
    };
    let workers = strings(&["workers"]);

    // Batch create: the secret exists, the client reports OutcomeUnknown, one POST only.
    emu.schedule(lose("POST", SECRETS));
    let err = c
        .create_secrets(
            ACCT,
            &store,
            &[NewSecret {
                name: "LANDED",
                value: "v",
                scopes: &workers,
                comment: None,
            }],
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err}");
    assert_eq!(
        emu.count("POST", SECRETS),
        2,
        "the setup create and this one"
    );
    assert!(
        names_in(&c, ACCT, &store)
            .await
            .contains(&"LANDED".to_string())
    );

    // Duplicate: the same.
    emu.schedule(lose("POST", DUPLICATE));
    let err = c
        .duplicate_secret(
            ACCT,
            &store,
            &made[0].id,
            &DuplicateSecret {
                name: "SRC_COPY",
                scopes: &workers,
                comment: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err}");
    assert_eq!(emu.count("POST", DUPLICATE), 1);
    assert!(
        names_in(&c, ACCT, &store)
            .await
            .contains(&"SRC_COPY".to_string())
    );

    // Store create: the same.
    emu.schedule(lose("POST", STORES));
    let err = c.create_store(ACCT, "second").await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err}");
    let stores = c.list_stores(ACCT).await.unwrap();
    assert!(stores.iter().any(|s| s.name == "second"));

    // PATCH: applied, answer lost, resent (idempotent), answered.
    emu.schedule(lose("PATCH", SECRET));
    patch_comment_through_a_fault(&emu, &c, &store, &made[0].id, "patched twice").await;

    // Deletes: applied, answer lost; the retry meets "not found", which counts as done.
    emu.schedule(lose("DELETE", SECRET));
    c.delete_secret(ACCT, &store, &made[1].id).await.unwrap();
    emu.schedule(lose("DELETE", SECRETS));
    c.bulk_delete_secrets(ACCT, &store, std::slice::from_ref(&made[2].id))
        .await
        .unwrap();
    assert_eq!(
        names_in(&c, ACCT, &store).await,
        ["LANDED", "SRC", "SRC_COPY"]
    );
    let second = stores.iter().find(|s| s.name == "second").unwrap();
    emu.schedule(lose("DELETE", STORE));
    c.delete_store(ACCT, &second.id, true).await.unwrap();
    assert_eq!(c.list_stores(ACCT).await.unwrap().len(), 1);

    let lost = faults_in(&emu.log())
        .iter()
        .filter(|f| **f == "drop_response")
        .count();
    assert_eq!(lost, 7);
    assert_eq!(c.stats().outcome_unknown, 3);
}

#[tokio::test]
async fn truncated_and_garbled_answers_are_retried_or_settled_by_relisting() {
    let emu = start(EmulatorConfig {
        max_stores: 2,
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let made = create_named(&c, ACCT, &store, &strings(&["SRC", "DEL"])).await;
    let spoil = |method: &str, path: &str, kind, count| ScheduledFault {
        method: method.into(),
        path: path.into(),
        kind,
        count,
    };
    let workers = strings(&["workers"]);

    // Reads: a garbled list page and a truncated quota are read again.
    emu.schedule(spoil("GET", SECRETS, FaultKind::Garble, 2));
    assert_eq!(names_in(&c, ACCT, &store).await, ["DEL", "SRC"]);
    emu.schedule(spoil("GET", QUOTA, FaultKind::Truncate, 1));
    assert_eq!(c.quota(ACCT).await.unwrap().secrets.usage, 2);
    assert_eq!(emu.count("GET", SECRETS), 3);

    // PATCH: carried out, answer spoiled, sent again with the same body, answered.
    emu.schedule(spoil("PATCH", SECRET, FaultKind::Truncate, 1));
    patch_comment_through_a_fault(&emu, &c, &store, &made[0].id, "through a cut answer").await;

    // DELETE: carried out, answer garbled; the retry meets "not found", which is done.
    emu.schedule(spoil("DELETE", SECRET, FaultKind::Garble, 1));
    c.delete_secret(ACCT, &store, &made[1].id).await.unwrap();
    assert_eq!(emu.count("DELETE", SECRET), 2);

    // Creates: the write landed, the answer cannot be read: outcome unknown, sent once.
    emu.schedule(spoil("POST", SECRETS, FaultKind::Truncate, 1));
    let err = c
        .create_secrets(
            ACCT,
            &store,
            &[NewSecret {
                name: "LANDED",
                value: "v",
                scopes: &workers,
                comment: None,
            }],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::OutcomeUnknown {
                kind: TransportKind::Unreadable,
                ..
            }
        ),
        "{err}"
    );
    emu.schedule(spoil("POST", DUPLICATE, FaultKind::Garble, 1));
    let err = c
        .duplicate_secret(
            ACCT,
            &store,
            &made[0].id,
            &DuplicateSecret {
                name: "SRC_COPY",
                scopes: &workers,
                comment: None,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err}");
    emu.schedule(spoil("POST", STORES, FaultKind::Garble, 1));
    let err = c.create_store(ACCT, "second").await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err}");
    assert_eq!(
        (
            emu.count("POST", SECRETS),
            emu.count("POST", DUPLICATE),
            emu.count("POST", STORES)
        ),
        (2, 1, 2),
        "no POST was resent"
    );
    // A re-list shows each of them landed.
    assert_eq!(
        names_in(&c, ACCT, &store).await,
        ["LANDED", "SRC", "SRC_COPY"]
    );
    assert_eq!(c.list_stores(ACCT).await.unwrap().len(), 2);

    let log = emu.log();
    let spoiled = faults_in(&log);
    assert_eq!(
        spoiled,
        [
            "garble", "garble", "truncate", "truncate", "garble", "truncate", "garble", "garble"
        ]
    );
    let stats = c.stats();
    assert_eq!((stats.retries, stats.outcome_unknown), (5, 3));
}

#[tokio::test]
async fn answers_spoiled_at_random_cost_retries_never_duplicate_writes() {
    let emu = start(EmulatorConfig {
        seed: Some(23),
        ..emu_config()
    })
    .await;
    let mut cfg = client_config(&emu);
    cfg.max_retries = 12;
    let c = Client::new(cfg).unwrap();
    let store = make_store(&c, ACCT).await.id;
    let made = create_named(&c, ACCT, &store, &strings(&["A", "B", "C", "D"])).await;
    emu.set_faults(FaultConfig {
        corrupt_rate: 0.4,
        ..FaultConfig::default()
    });
    emu.clear_log();
    let before = c.stats();
    for (i, s) in made.iter().enumerate() {
        assert_eq!(c.get_secret(ACCT, &store, &s.id).await.unwrap().id, s.id);
        let comment = format!("round {i}");
        c.patch_secret(
            ACCT,
            &store,
            &s.id,
            &SecretPatch {
                comment: Some(&comment),
                ..SecretPatch::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(names_in(&c, ACCT, &store).await.len(), 4);
    }
    c.delete_secret(ACCT, &store, &made[3].id).await.unwrap();
    let log = emu.log();
    let spoiled = faults_in(&log);
    assert!(
        spoiled.contains(&"truncate") && spoiled.contains(&"garble"),
        "{spoiled:?}"
    );
    // Each spoiled answer cost one retry; nothing else was sent twice.
    let stats = c.stats();
    assert_eq!(stats.retries - before.retries, spoiled.len() as u64);
    assert_eq!(stats.requests_sent - before.requests_sent, log.len() as u64);
    emu.set_faults(FaultConfig::default());
    let dump = emu.state();
    let secrets = &dump.accounts[ACCT].stores[0].secrets;
    assert_eq!(secrets.len(), 3);
    for (i, s) in secrets.iter().enumerate() {
        assert_eq!(s.comment.as_deref(), Some(format!("round {i}").as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// Pacing.

#[tokio::test]
async fn the_pacer_keeps_the_client_under_the_emulators_rate_limit() {
    // The emulator allows 10 requests per 1-second window; the client budgets 3 per 500 ms
    // (at most 9 in any 1.5 s), shared by four concurrent tasks.
    let emu = start(EmulatorConfig {
        faults: FaultConfig {
            rate_limit: 10,
            rate_window_secs: 1,
            ..FaultConfig::default()
        },
        ..emu_config()
    })
    .await;
    let mut cfg = client_config(&emu);
    cfg.rate_limit_per_5min = 3;
    cfg.rate_window = Duration::from_millis(500);
    cfg.max_retries = 0;
    let c = Client::new(cfg).unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                for _ in 0..4 {
                    c.quota(ACCT).await.expect("never limited");
                    assert!(c.requests_in_window() <= 3);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let log = emu.log();
    assert_eq!(log.len(), 16);
    assert!(log.iter().all(|r| r.status == Some(200)), "{log:?}");
    let stats = c.stats();
    assert_eq!((stats.rate_limited, stats.retries), (0, 0));
    assert!(
        stats.pacer_wait > Duration::ZERO,
        "the pacer held requests back"
    );
}

// ---------------------------------------------------------------------------------------------
// live::fetch.

#[tokio::test]
async fn live_fetch_reads_several_accounts() {
    let emu = start(EmulatorConfig {
        quota: 150,
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    // A: three secrets, one patched. B: 120 secrets (two pages). C: no store at all.
    let store_a = make_store(&c, ACCT).await.id;
    let made = create_named(&c, ACCT, &store_a, &strings(&["ZED", "ALPHA", "MID"])).await;
    let both = strings(&["workers", "ai_gateway"]);
    c.patch_secret(
        ACCT,
        &store_a,
        &made[0].id,
        &SecretPatch {
            scopes: Some(&both),
            comment: Some("owned"),
            ..SecretPatch::default()
        },
    )
    .await
    .unwrap();
    let store_b = make_store(&c, ACCT_B).await.id;
    let names_b: Vec<String> = (0..120).map(|i| format!("B{i:03}")).collect();
    create_named(&c, ACCT_B, &store_b, &names_b[..100]).await;
    create_named(&c, ACCT_B, &store_b, &names_b[100..]).await;
    emu.clear_log();

    let accounts: Vec<AccountId> = [ACCT_C, ACCT, ACCT_B]
        .iter()
        .map(|a| AccountId::parse(a).unwrap())
        .collect();
    let state = live::fetch(&c, &accounts).await.unwrap();
    let order: Vec<&str> = state
        .accounts
        .iter()
        .map(|a| a.account_id.as_str())
        .collect();
    assert_eq!(order, [ACCT_C, ACCT, ACCT_B], "the order given");

    let c_acct = &state.accounts[0];
    assert!(c_acct.stores.is_empty());
    assert_eq!(c_acct.quota.map(|q| (q.quota, q.usage)), Some((150, 0)));

    let a = &state.accounts[1];
    assert_eq!(a.quota.map(|q| q.usage), Some(3));
    let main = a.store("main").unwrap();
    assert_eq!(main.id.as_str(), store_a);
    let names: Vec<&str> = main.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ALPHA", "MID", "ZED"], "sorted by name");
    let zed = main.secret("ZED").unwrap();
    assert_eq!(zed.comment.raw(), "owned");
    assert_eq!(
        zed.scopes.iter().map(String::as_str).collect::<Vec<_>>(),
        ["ai_gateway", "workers"]
    );
    assert_eq!(main.secret("ALPHA").unwrap().comment.raw(), "");

    let b = &state.accounts[2];
    assert_eq!(b.quota.map(|q| q.usage), Some(120));
    assert_eq!(b.stores[0].secrets.len(), 120);

    // The snapshot agrees with the emulator's own view, secret by secret.
    let dump = emu.state();
    for account in &state.accounts {
        let Some(truth) = dump.accounts.get(account.account_id.as_str()) else {
            assert!(account.stores.is_empty());
            continue;
        };
        assert_eq!(account.stores.len(), truth.stores.len());
        for store in &account.stores {
            let t = truth
                .stores
                .iter()
                .find(|s| s.id == store.id.as_str())
                .unwrap();
            assert_eq!(store.secrets.len(), t.secrets.len());
            for s in &store.secrets {
                let ts = t.secrets.iter().find(|x| x.id == s.id.as_str()).unwrap();
                assert_eq!(s.name, ts.name);
                assert_eq!(s.comment.raw(), ts.comment.clone().unwrap_or_default());
                assert_eq!(s.scopes.iter().cloned().collect::<Vec<_>>(), ts.scopes);
                assert_eq!((&s.created, &s.modified), (&ts.created, &ts.modified));
                let status = match s.status {
                    SecretStatus::Pending => "pending",
                    SecretStatus::Active => "active",
                    SecretStatus::Other => "other",
                };
                assert_eq!(status, ts.status, "{}", s.name);
            }
        }
    }
    // Per account: one quota, one store list, one secret list per 100 secrets.
    assert_eq!(emu.count("GET", QUOTA), 3);
    assert_eq!(emu.count("GET", STORES), 3);
    assert_eq!(emu.count("GET", SECRETS), 1 + 2);
    assert_eq!(emu.count("GET", SECRET), 0, "no per-secret reads");
}

// ---------------------------------------------------------------------------------------------
// Envelope fixtures, in both directions.

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/envelope")
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> Envelope<T> {
    serde_json::from_str(&fixture_text(name))
        .unwrap_or_else(|e| panic!("fixture {name} does not fit the client's wire types: {e}"))
}

/// What the client makes of an error fixture answered with `status`.
fn fixture_error(name: &str, status: u16) -> ApiError {
    let env: Envelope<IgnoredAny> = parse(name);
    assert_eq!(env.success, Some(false), "{name}");
    assert!(env.result.is_none(), "{name}");
    let first = env.errors.first().expect("an error item").clone();
    ApiError {
        endpoint: Endpoint::CreateSecrets,
        account_id: ACCT.into(),
        status,
        code: first.code,
        message_token: first.message,
        more: Vec::new(),
    }
}

fn assert_secret_fixture(s: &Secret, status: &str) {
    assert_eq!(s.id, "<id32>");
    assert_eq!(s.name, "API_KEY");
    assert_eq!(s.status, status);
    assert_eq!(s.comment.as_deref(), Some("for the billing worker"));
    assert_eq!(s.scopes, ["ai_gateway", "workers"]);
}

#[test]
fn fixtures_deserialize_with_the_client_wire_types() {
    let mut checked = Vec::new();
    for name in fixture_names() {
        match name.as_str() {
            "stores_list" => {
                let env: Envelope<Vec<Store>> = parse(&name);
                let stores = env.result.unwrap();
                assert_eq!(stores.len(), 1);
                assert_eq!(stores[0].name, "default_secrets_store");
                assert_eq!(stores[0].account_id.as_deref(), Some(ACCT));
                let info = env.result_info.unwrap();
                assert_eq!((info.total_pages, info.total_count), (None, Some(1)));
            }
            "store_create" => {
                let env: Envelope<Store> = parse(&name);
                assert_eq!(env.success, Some(true));
                assert_eq!(env.result.unwrap().name, "main");
            }
            "secrets_create" => {
                let env: Envelope<Vec<Secret>> = parse(&name);
                let created = env.result.unwrap();
                assert_eq!(created.len(), 1, "an array even for one secret");
                assert_secret_fixture(&created[0], "pending");
            }
            "secrets_list" => {
                let env: Envelope<Vec<Secret>> = parse(&name);
                assert_secret_fixture(&env.result.unwrap()[0], "pending");
                let info = env.result_info.unwrap();
                assert_eq!(
                    (info.page, info.per_page, info.count, info.total_count),
                    (Some(1), Some(100), Some(1), Some(1))
                );
                assert_eq!(info.total_pages, None, "Cloudflare sends no total_pages");
            }
            "secrets_list_page2" => {
                let env: Envelope<Vec<Secret>> = parse(&name);
                assert_eq!(env.result.unwrap().len(), 1);
                let info = env.result_info.unwrap();
                assert_eq!(
                    (info.page, info.per_page, info.total_pages, info.total_count),
                    (Some(2), Some(1), None, Some(2)),
                    "the client stops here: total_count items are in"
                );
            }
            "secret_get" => {
                let env: Envelope<Secret> = parse(&name);
                assert_secret_fixture(&env.result.unwrap(), "active");
            }
            "quota" => {
                let env: Envelope<Quota> = parse(&name);
                let q = env.result.unwrap();
                assert_eq!((q.secrets.quota, q.secrets.usage), (100, 1));
            }
            "delete" => {
                let env: Envelope<IgnoredAny> = parse(&name);
                assert_eq!(env.success, Some(true));
                assert!(env.result.is_none() && env.errors.is_empty());
            }
            "error_auth" => {
                let e = fixture_error(&name, 403);
                assert_eq!(e.code, Some(10000));
            }
            "error_rate_limited" => {
                assert!(fixture_error(&name, 429).is(ErrorKind::RateLimited));
            }
            "error_secret_not_found" => {
                let e = fixture_error(&name, 404);
                assert!(e.is(ErrorKind::SecretNotFound) && !e.is(ErrorKind::StoreNotFound));
            }
            "error_store_not_empty" => {
                assert!(fixture_error(&name, 409).is(ErrorKind::StoreNotEmpty));
            }
            "error_secret_name_already_exists" => {
                assert!(fixture_error(&name, 409).is(ErrorKind::SecretNameAlreadyExists));
            }
            "error_maximum_secrets_exceeded" => {
                assert!(fixture_error(&name, 409).is(ErrorKind::MaximumSecretsExceeded));
            }
            "error_no_route" => {
                assert!(fixture_error(&name, 400).is(ErrorKind::NoRoute));
            }
            other => panic!("fixture {other} has no client-side check in contract.rs"),
        }
        checked.push(name);
    }
    assert!(checked.len() >= 15, "{checked:?}");
}

/// The fixtures this chapter added; the original ones are compared in `emulator.rs`.
const ADDED_FIXTURES: [&str; 6] = [
    "store_create",
    "secrets_list_page2",
    "error_store_not_empty",
    "error_secret_name_already_exists",
    "error_maximum_secrets_exceeded",
    "error_no_route",
];

#[test]
fn every_fixture_is_checked_against_the_emulator() {
    let emulator_chapter = include_str!("emulator.rs");
    for name in fixture_names() {
        let in_emulator = emulator_chapter.contains(&format!("fixture(\"{name}\")"));
        let here = ADDED_FIXTURES.contains(&name.as_str());
        assert!(
            in_emulator || here,
            "fixture {name} is compared with no emulator answer"
        );
        assert!(!(in_emulator && here), "fixture {name} is compared twice");
    }
}

/// The emulator's side of the added fixtures, in raw HTTP (no client code involved).
#[tokio::test]
async fn emulator_answers_match_the_added_fixtures() {
    let emu = start(emu_config()).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |method: reqwest::Method, account: &str, rest: &str, body: Option<Value>| {
        let mut req = http
            .request(
                method,
                format!("{}/accounts/{account}/secrets_store{rest}", emu.base_url()),
            )
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let fixture = |name: &str| -> Value { serde_json::from_str(&fixture_text(name)).unwrap() };
    use reqwest::Method as M;

    let (status, created) = call(M::POST, ACCT, "/stores", Some(json!({"name": "main"}))).await;
    assert_eq!(status, 200);
    assert_shape(&fixture("store_create"), &created, "store create");
    let store = created["result"]["id"].as_str().unwrap().to_string();
    let secrets = format!("/stores/{store}/secrets");

    let item = |name: &str| {
        json!({"name": name, "value": "v", "scopes": ["workers", "ai_gateway"],
               "comment": "for the billing worker"})
    };
    let (status, _) = call(
        M::POST,
        ACCT,
        &secrets,
        Some(json!([item("API_KEY"), item("API_KEY_2")])),
    )
    .await;
    assert_eq!(status, 200);
    let (status, page2) = call(
        M::GET,
        ACCT,
        &format!("{secrets}?page=2&per_page=1&order=name"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    // Page 2 ordered by name holds API_KEY_2; the fixture names the secret API_KEY.
    let mut page2_named = page2.clone();
    page2_named["result"][0]["name"] = json!("API_KEY");
    assert_eq!(page2["result"][0]["name"], json!("API_KEY_2"));
    assert_shape(&fixture("secrets_list_page2"), &page2_named, "page 2");

    let (status, exists) = call(M::POST, ACCT, &secrets, Some(json!([item("API_KEY")]))).await;
    assert_eq!(status, 409);
    assert_shape(
        &fixture("error_secret_name_already_exists"),
        &exists,
        "name exists",
    );

    let (status, not_empty) = call(M::DELETE, ACCT, &format!("/stores/{store}"), None).await;
    assert_eq!(status, 409);
    assert_shape(&fixture("error_store_not_empty"), &not_empty, "not empty");

    let fill: Vec<Value> = (0..98).map(|i| item(&format!("FILL_{i}"))).collect();
    let (status, _) = call(M::POST, ACCT, &secrets, Some(Value::Array(fill))).await;
    assert_eq!(status, 200);
    let (status, full) = call(M::POST, ACCT, &secrets, Some(json!([item("ONE_MORE")]))).await;
    assert_eq!(status, 409);
    assert_shape(&fixture("error_maximum_secrets_exceeded"), &full, "quota");

    let (status, no_route) = call(M::GET, "not-an-account", "/quota", None).await;
    assert_eq!(status, 400);
    assert_shape(&fixture("error_no_route"), &no_route, "no route");
}

// ---------------------------------------------------------------------------------------------
// Choices the reference leaves open, seen from the client.

#[tokio::test]
async fn a_partial_batch_is_an_error_and_a_relist_shows_what_landed() {
    let emu = start(EmulatorConfig {
        batch_mode: cfsecrets::emulator::BatchMode::Partial,
        ..emu_config()
    })
    .await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    create_named(&c, ACCT, &store, &strings(&["TAKEN"])).await;
    let workers = strings(&["workers"]);
    let bad = strings(&["nope"]);
    let item = |name, scopes| NewSecret {
        name,
        value: "v",
        scopes,
        comment: None,
    };
    let err = c
        .create_secrets(
            ACCT,
            &store,
            &[
                item("GOOD", &workers),
                item("TAKEN", &workers),
                item("BAD_SCOPE", &bad),
            ],
        )
        .await
        .unwrap_err();
    // Both item errors are reported and both are recognised.
    assert!(err.is(ErrorKind::SecretNameAlreadyExists), "{err}");
    assert!(err.is(ErrorKind::SecretScopeInvalid), "{err}");
    assert_eq!(api(&err).more.len(), 1);
    assert_eq!(names_in(&c, ACCT, &store).await, ["GOOD", "TAKEN"]);
    assert_eq!(c.stats().retries, 0);
}

#[tokio::test]
async fn search_terms_survive_query_encoding() {
    let emu = start(emu_config()).await;
    let c = client(&emu);
    let store = make_store(&c, ACCT).await.id;
    let workers = strings(&["workers"]);
    let item = |name, comment| NewSecret {
        name,
        value: "v",
        scopes: &workers,
        comment: Some(comment),
    };
    c.create_secrets(
        ACCT,
        &store,
        &[
            item("PLUS", "a+b & c=d"),
            item("SPACE", "a b"),
            item("UNICODE", "clé für ünïcode"),
        ],
    )
    .await
    .unwrap();
    for (search, want) in [
        ("a+b & c=d", vec!["PLUS"]),
        ("a b", vec!["SPACE"]),
        ("für", vec!["UNICODE"]),
        ("c", vec!["PLUS", "SPACE", "UNICODE"]),
    ] {
        let mut got: Vec<String> = c
            .list_secrets(
                ACCT,
                &store,
                &ListSecrets {
                    search: Some(search.into()),
                    ..ListSecrets::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        got.sort();
        assert_eq!(got, want, "search {search:?}");
    }
}

#[tokio::test]
async fn a_final_server_error_is_not_mistaken_for_a_documented_kind() {
    let emu = start(emu_config()).await;
    let mut cfg = client_config(&emu);
    cfg.max_retries = 1;
    let c = Client::new(cfg).unwrap();
    for kind in [
        FaultKind::InternalError,
        FaultKind::BadGateway,
        FaultKind::Unavailable,
    ] {
        emu.schedule(ScheduledFault {
            method: "GET".into(),
            path: QUOTA.into(),
            kind,
            count: 2,
        });
        let err = c.quota(ACCT).await.unwrap_err();
        let e = api(&err);
        assert!(matches!(e.status, 500 | 502 | 503), "{err}");
        for documented in [
            ErrorKind::NoRoute,
            ErrorKind::EmptyPathId,
            ErrorKind::InvalidJsonBody,
            ErrorKind::StoreNotFound,
            ErrorKind::SecretNotFound,
            ErrorKind::SecretNameEmpty,
            ErrorKind::SecretScopeInvalid,
            ErrorKind::SecretScopesEmpty,
            ErrorKind::SecretValueTooLong,
            ErrorKind::SecretNameAlreadyExists,
            ErrorKind::MaximumStoresExceeded,
            ErrorKind::MaximumSecretsExceeded,
            ErrorKind::StoreNotEmpty,
            ErrorKind::RateLimited,
        ] {
            assert!(!err.is(documented), "{err} read as {documented:?}");
        }
    }
    assert_eq!(c.stats().retries, 3);
}
