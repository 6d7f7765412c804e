//! The naive ways, as plain HTTP clients of our own (reqwest), not cfsecrets' planner:
//!
//! * [`Terraform`]: the provider's request pattern. Its state file maps each secret to its id
//!   and keeps the value it last wrote (so it can tell a changed value without the API, which
//!   never returns values). A refresh is one `GET …/secrets/{id}` per secret in the state;
//!   then one single-item `POST` per create, one `PATCH` per update and one `DELETE` per
//!   delete, 10 requests at a time (Terraform's default `-parallelism`). A plan is the
//!   refresh alone.
//! * [`wrangler_loop`]: a shell loop over `wrangler secrets-store secret …`: for each secret a
//!   list (`search` by name) to find its id, then the write, one after the other.
//!
//! Both are generous: no process start-up, no provider start-up, no state file on disk; the
//! store id is already known; the wrangler loop is told which secrets changed (a loop over
//! every secret would write all of them); on a 429 both wait what `Retry-After` says and try
//! again, however often (Cloudflare's SDKs give up after 2 retries, and the API blocks a
//! token that went over for 5 minutes).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::TOKEN;
use crate::project::{Value, Want};

/// Terraform's default `-parallelism`.
pub const TERRAFORM_PARALLELISM: usize = 10;

/// A bare API client: bearer token, JSON, waits out 429s.
pub struct Http {
    client: reqwest::Client,
    base: String,
    /// 429 answers waited out.
    pub throttled: AtomicU64,
}

impl Http {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            base: base.to_string(),
            throttled: AtomicU64::new(0),
        })
    }

    /// Sends and returns the status and the JSON body (`null` when it is not JSON). A 429 is
    /// waited out (`Retry-After`, else 1 s) and sent again. Errors name the request's
    /// method, path shape and status, never a body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> anyhow::Result<(u16, Json)> {
        loop {
            let mut request = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(TOKEN);
            if let Some(body) = body {
                request = request.json(body);
            }
            let answer = request
                .send()
                .await
                .with_context(|| format!("{method} {} failed to send", shape(path)))?;
            let status = answer.status().as_u16();
            if status == 429 {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                let wait = answer
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .unwrap_or(1.0);
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                continue;
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            return Ok((status, serde_json::from_slice(&bytes).unwrap_or(Json::Null)));
        }
    }

    /// [`Http::send`] that must succeed; returns `result`.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> anyhow::Result<Json> {
        let (status, json) = self.send(method.clone(), path, body).await?;
        if !(200..300).contains(&status) || json["success"] != json!(true) {
            bail!(
                "{method} {} answered http {status} (code {})",
                shape(path),
                json["errors"][0]["code"]
            );
        }
        Ok(json["result"].clone())
    }
}

/// A path with its ids replaced, for messages.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.len() == 32 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                "{id}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn secrets_path(account: &str, store: &str) -> String {
    format!("/accounts/{account}/secrets_store/stores/{store}/secrets")
}

fn new_secret(name: &str, value: &Value) -> Json {
    json!([{ "name": name, "value": value.as_str(), "scopes": ["workers"], "comment": "bench" }])
}

/// One entry of the Terraform state: where the secret lives and the value it holds.
struct Entry {
    store: String,
    id: String,
    value: Value,
}

/// What a Terraform run changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
}

/// The Terraform provider's pattern, with its state (`(account, name)` → id and value).
#[derive(Default)]
pub struct Terraform {
    state: BTreeMap<(String, String), Entry>,
}

enum Change {
    Create {
        account: String,
        name: String,
        value: Value,
    },
    Update {
        key: (String, String),
        value: Value,
    },
    Delete {
        key: (String, String),
    },
}

impl Terraform {
    /// A state as if Terraform had applied `want` itself: ids from the store listing
    /// (`ids`: account → name → id), values from `want`.
    pub fn imported(
        want: &Want,
        stores: &BTreeMap<String, String>,
        ids: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> anyhow::Result<Self> {
        let mut state = BTreeMap::new();
        for account in &want.accounts {
            let store = stores.get(&account.id).context("no store id")?;
            for (name, value) in &account.secrets {
                let id = ids
                    .get(&account.id)
                    .and_then(|m| m.get(name))
                    .with_context(|| format!("{name} is not live"))?;
                state.insert(
                    (account.id.clone(), name.clone()),
                    Entry {
                        store: store.clone(),
                        id: id.clone(),
                        value: value.clone(),
                    },
                );
            }
        }
        Ok(Self { state })
    }

    /// `terraform plan`: a refresh (one GET per secret in the state, 10 at a time; a secret
    /// gone is dropped from the state), then the changes `want` asks for.
    pub async fn plan(&mut self, http: &Http, want: &Want) -> anyhow::Result<Changes> {
        let gone: Vec<(String, String)> = futures::stream::iter(self.state.iter())
            .map(|(key, entry)| async move {
                let path = format!("{}/{}", secrets_path(&key.0, &entry.store), entry.id);
                let (status, _) = http.send(Method::GET, &path, None).await?;
                match status {
                    200..=299 => Ok(None),
                    404 => Ok(Some(key.clone())),
                    other => bail!("GET {} answered http {other}", shape(&path)),
                }
            })
            .buffer_unordered(TERRAFORM_PARALLELISM)
            .collect::<Vec<anyhow::Result<_>>>()
            .await
            .into_iter()
            .filter_map(Result::transpose)
            .collect::<anyhow::Result<_>>()?;
        for key in gone {
            self.state.remove(&key);
        }
        Ok(count(&self.diff(want)))
    }

    fn diff(&self, want: &Want) -> Vec<Change> {
        let mut changes = Vec::new();
        for account in &want.accounts {
            for (name, value) in &account.secrets {
                let key = (account.id.clone(), name.clone());
                match self.state.get(&key) {
                    None => changes.push(Change::Create {
                        account: account.id.clone(),
                        name: name.clone(),
                        value: value.clone(),
                    }),
                    Some(entry) if entry.value.as_str() != value.as_str() => {
                        changes.push(Change::Update {
                            key,
                            value: value.clone(),
                        })
                    }
                    Some(_) => {}
                }
            }
        }
        for key in self.state.keys() {
            let declared = want
                .accounts
                .iter()
                .any(|a| a.id == key.0 && a.secrets.contains_key(&key.1));
            if !declared {
                changes.push(Change::Delete { key: key.clone() });
            }
        }
        changes
    }

    /// `terraform apply`: the plan, then its changes, 10 at a time.
    pub async fn apply(
        &mut self,
        http: &Http,
        want: &Want,
        stores: &BTreeMap<String, String>,
    ) -> anyhow::Result<Changes> {
        self.plan(http, want).await?;
        let changes = self.diff(want);
        let counted = count(&changes);
        let state = &self.state;
        let done: Vec<anyhow::Result<(Change, Option<String>)>> = futures::stream::iter(changes)
            .map(|change| async move {
                match &change {
                    Change::Create {
                        account,
                        name,
                        value,
                    } => {
                        let store = stores.get(account).context("no store id")?;
                        let result = http
                            .ok(
                                Method::POST,
                                &secrets_path(account, store),
                                Some(&new_secret(name, value)),
                            )
                            .await?;
                        let id = result[0]["id"]
                            .as_str()
                            .context("the create answer has no id")?;
                        let id = id.to_string();
                        Ok((change, Some(id)))
                    }
                    Change::Update { key, value } => {
                        let entry = &state[key];
                        let path = format!("{}/{}", secrets_path(&key.0, &entry.store), entry.id);
                        http.ok(
                            Method::PATCH,
                            &path,
                            Some(&json!({ "value": value.as_str() })),
                        )
                        .await?;
                        Ok((change, None))
                    }
                    Change::Delete { key } => {
                        let entry = &state[key];
                        let path = format!("{}/{}", secrets_path(&key.0, &entry.store), entry.id);
                        http.ok(Method::DELETE, &path, None).await?;
                        Ok((change, None))
                    }
                }
            })
            .buffer_unordered(TERRAFORM_PARALLELISM)
            .collect()
            .await;
        for result in done {
            match result? {
                (
                    Change::Create {
                        account,
                        name,
                        value,
                    },
                    Some(id),
                ) => {
                    let store = stores.get(&account).context("no store id")?.clone();
                    self.state
                        .insert((account, name), Entry { store, id, value });
                }
                (Change::Update { key, value }, _) => {
                    if let Some(entry) = self.state.get_mut(&key) {
                        entry.value = value;
                    }
                }
                (Change::Delete { key }, _) => {
                    self.state.remove(&key);
                }
                (Change::Create { .. }, None) => bail!("a create without an id"),
            }
        }
        Ok(counted)
    }
}

fn count(changes: &[Change]) -> Changes {
    let mut c = Changes::default();
    for change in changes {
        match change {
            Change::Create { .. } => c.create += 1,
            Change::Update { .. } => c.update += 1,
            Change::Delete { .. } => c.delete += 1,
        }
    }
    c
}

/// One step of the wrangler loop.
pub enum Job {
    /// `secret list --search NAME` only: does it exist, under which id.
    Check { account: String, name: String },
    /// Find the id, then `secret create` (absent) or `secret update` (present).
    Put {
        account: String,
        name: String,
        value: Value,
    },
    /// Find the id, then `secret delete`.
    Delete { account: String, name: String },
}

/// The wrangler loop: for each job, one after the other, a list to find the secret's id,
/// then its write. Returns how many writes it sent.
pub async fn wrangler_loop(
    http: &Http,
    stores: &BTreeMap<String, String>,
    jobs: &[Job],
) -> anyhow::Result<usize> {
    let mut writes = 0;
    for job in jobs {
        let (Job::Check { account, name }
        | Job::Put { account, name, .. }
        | Job::Delete { account, name }) = job;
        let store = stores.get(account).context("no store id")?;
        let base = secrets_path(account, store);
        let listed = http
            .ok(
                Method::GET,
                &format!("{base}?page=1&per_page=10&search={name}"),
                None,
            )
            .await?;
        let id = listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == json!(name))
            .and_then(|s| s["id"].as_str())
            .map(str::to_string);
        match (job, id) {
            (Job::Check { .. }, _) | (Job::Delete { .. }, None) => {}
            (Job::Put { value, .. }, None) => {
                http.ok(Method::POST, &base, Some(&new_secret(name, value)))
                    .await?;
                writes += 1;
            }
            (Job::Put { value, .. }, Some(id)) => {
                http.ok(
                    Method::PATCH,
                    &format!("{base}/{id}"),
                    Some(&json!({ "value": value.as_str() })),
                )
                .await?;
                writes += 1;
            }
            (Job::Delete { .. }, Some(id)) => {
                http.ok(Method::DELETE, &format!("{base}/{id}"), None)
                    .await?;
                writes += 1;
            }
        }
    }
    Ok(writes)
}
