//! The Cloudflare Secrets Store REST client.
//!
//! Owns: the twelve endpoints of `SECRETS_STORE_API.md` §4, the v4 envelope, pagination
//! (`per_page=100`; stop on an empty or short page, once `total_count` items are in, or at
//! `total_pages` when a server sends it; refuse repeated ids), retries with exponential
//! backoff and jitter (429, 500/502/503/504, timeouts, dropped connections, unreadable
//! success answers, honouring `Retry-After` / `retry-after-ms`), a shared pacer (N requests
//! per sliding 5 minutes), typed errors and the wire DTOs. It knows nothing of manifests or
//! plans, and shares no logic with the emulator.
//!
//! Retry rules. A transport fault is anything that leaves the answer unknown: no connection,
//! a timeout, a dropped connection, or a 2xx answer whose body cannot be read (truncated or
//! garbled on the way). GET, PATCH and DELETE are idempotent and are retried after any
//! transport fault; a retried DELETE that then meets "not found" counts as done. POSTs (store
//! create, batch create, duplicate) are retried only when the failure proves nothing happened:
//! a connect error, or a 429/5xx *answer*. When a POST was sent and no readable answer came
//! back, the call fails with [`ClientError::OutcomeUnknown`] and the caller must re-list
//! before deciding. Either way the failure is transient: running again finishes the work.
//!
//! Secrecy. Credentials live in [`Credential`] (redacted `Debug`) and in sensitive header
//! values. Plaintext values enter only as `&str` inside [`NewSecret`] / [`SecretPatch`], are
//! serialised into a zeroised buffer, and never reach an error, `Debug` output or a log. A
//! server message that quotes a value the request carried has it removed before the message
//! is stored ([`crate::text::redact`]).

mod config;
mod error;
mod pacer;
mod wire;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use zeroize::Zeroizing;

pub use config::{
    Auth, ClientConfig, ConfigError, Credential, DEFAULT_BASE_URL, DEFAULT_RATE_LIMIT_PER_5MIN,
    check_base_url,
};
pub use error::{ApiError, ClientError, ErrorKind, TransportCause, TransportKind};
pub use pacer::{ANNOUNCE_WAIT_OVER, ClientStats, PacerWait};
pub use wire::{
    ApiMessage, DuplicateSecret, Envelope, NewSecret, Quota, QuotaCounts, ResultInfo, Secret,
    SecretPatch, Store,
};

use pacer::{Counters, Pacer};
use wire::{BulkDelete, HasId, NewStore, OneOrMany};

/// Always asked for; the documented maximum.
pub const PER_PAGE: u32 = 100;

/// A hard stop for runaway pagination (100 × 1,000 items is far above any quota).
const MAX_PAGES: u64 = 1000;

/// The twelve endpoints, named by method and path template (relative to
/// `/accounts/{account_id}/secrets_store`). Errors carry one of these, never a full URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Quota,
    ListStores,
    CreateStore,
    GetStore,
    DeleteStore,
    ListSecrets,
    CreateSecrets,
    BulkDeleteSecrets,
    GetSecret,
    PatchSecret,
    DeleteSecret,
    DuplicateSecret,
}

impl Endpoint {
    pub fn method(self) -> Method {
        use Endpoint::*;
        match self {
            Quota | ListStores | GetStore | ListSecrets | GetSecret => Method::GET,
            CreateStore | CreateSecrets | DuplicateSecret => Method::POST,
            DeleteStore | BulkDeleteSecrets | DeleteSecret => Method::DELETE,
            PatchSecret => Method::PATCH,
        }
    }

    /// `METHOD /path/{template}`.
    pub fn as_str(self) -> &'static str {
        use Endpoint::*;
        match self {
            Quota => "GET /quota",
            ListStores => "GET /stores",
            CreateStore => "POST /stores",
            GetStore => "GET /stores/{store_id}",
            DeleteStore => "DELETE /stores/{store_id}",
            ListSecrets => "GET /stores/{store_id}/secrets",
            CreateSecrets => "POST /stores/{store_id}/secrets",
            BulkDeleteSecrets => "DELETE /stores/{store_id}/secrets",
            GetSecret => "GET /stores/{store_id}/secrets/{secret_id}",
            PatchSecret => "PATCH /stores/{store_id}/secrets/{secret_id}",
            DeleteSecret => "DELETE /stores/{store_id}/secrets/{secret_id}",
            DuplicateSecret => "POST /stores/{store_id}/secrets/{secret_id}/duplicate",
        }
    }

    /// May this request be repeated blindly after an unknown outcome?
    pub fn is_idempotent(self) -> bool {
        self.method() != Method::POST
    }

    /// For deletes: the error that, after a retry, means "already done".
    fn gone_kind(self) -> Option<ErrorKind> {
        match self {
            Endpoint::DeleteStore => Some(ErrorKind::StoreNotFound),
            Endpoint::DeleteSecret | Endpoint::BulkDeleteSecrets => Some(ErrorKind::SecretNotFound),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `order` for [`Client::list_secrets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretOrder {
    Name,
    Comment,
    Created,
    Modified,
    Status,
}

impl SecretOrder {
    fn as_str(self) -> &'static str {
        match self {
            SecretOrder::Name => "name",
            SecretOrder::Comment => "comment",
            SecretOrder::Created => "created",
            SecretOrder::Modified => "modified",
            SecretOrder::Status => "status",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// Optional filters for [`Client::list_secrets`]. `search` matches name and comment as a
/// substring on the server; filter for exact names client-side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListSecrets {
    pub search: Option<String>,
    pub order: Option<SecretOrder>,
    pub direction: Option<Direction>,
}

/// The client. Cheap to clone; clones share the connection pool, the pacer and the counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    /// Auth headers, built once and marked sensitive.
    auth_headers: HeaderMap,
    pacer: Pacer,
    counters: Counters,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("auth", &self.inner.config.auth)
            .finish_non_exhaustive()
    }
}

/// One request, ready to be (re)sent.
struct Call<'a> {
    endpoint: Endpoint,
    account_id: &'a str,
    url: Url,
    /// Serialised JSON; may hold plaintext, so it is wiped on drop and never shown.
    body: Option<Zeroizing<Vec<u8>>>,
    /// The plaintext values in `body`, to be removed from any message the server answers.
    values: Vec<&'a str>,
    /// Whether a success answer must carry `result` (an answer without one is unreadable).
    needs_result: bool,
}

impl<'a> Call<'a> {
    /// Names the plaintext values this call's body carries.
    fn carrying(mut self, values: impl IntoIterator<Item = &'a str>) -> Self {
        self.values.extend(values);
        self
    }
}

/// How a 2xx answer was taken.
enum Finished<T> {
    Done(Result<Envelope<T>, ClientError>),
    /// Not the expected envelope: a transport fault.
    Unreadable {
        status: u16,
        detail: String,
    },
}

/// A raw answer: status, headers, body bytes.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Client {
    /// Builds the HTTP client (rustls; connect and request timeouts). Loopback base URLs
    /// bypass any system proxy.
    pub fn new(config: ClientConfig) -> Result<Self, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent.clone());
        if config.is_loopback() {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| ConfigError::HttpClient(e.without_url().to_string()))?;
        let auth_headers = auth_headers(&config.auth)?;
        let pacer = Pacer::new(config.rate_limit_per_5min, config.rate_window);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                auth_headers,
                pacer,
                counters: Counters::default(),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.config.base_url
    }

    /// Counters since this client (and its clones) were created.
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// Requests sent inside the pacer's current window.
    pub fn requests_in_window(&self) -> usize {
        self.inner.pacer.in_window()
    }

    /// Announcements of waits for the request budget (longer than [`ANNOUNCE_WAIT_OVER`], one
    /// per wait period), for the command layer to show; the client itself never prints.
    pub fn pacer_waits(&self) -> tokio::sync::watch::Receiver<Option<PacerWait>> {
        self.inner.pacer.waits()
    }

    // -----------------------------------------------------------------------------------------
    // Endpoints.

    /// `GET /quota`.
    pub async fn quota(&self, account_id: &str) -> Result<Quota, ClientError> {
        let call = self.call(Endpoint::Quota, account_id, &["quota"], None)?;
        self.send_for_result(call).await
    }

    /// `GET /stores`, every page.
    pub async fn list_stores(&self, account_id: &str) -> Result<Vec<Store>, ClientError> {
        let url = self.url(Endpoint::ListStores, account_id, &["stores"])?;
        self.list_all(Endpoint::ListStores, account_id, url, &[])
            .await
    }

    /// `POST /stores` with `{"name": …}`.
    ///
    /// Not idempotent: if the request was sent and no answer came back, this fails with
    /// [`ClientError::OutcomeUnknown`]; list the stores before trying again.
    pub async fn create_store(&self, account_id: &str, name: &str) -> Result<Store, ClientError> {
        let body = json_body(Endpoint::CreateStore, &NewStore { name })?;
        let call = self.call(Endpoint::CreateStore, account_id, &["stores"], Some(body))?;
        let result: OneOrMany<Store> = self.send_for_result(call).await?;
        // An empty array: the store may have been made, but we cannot tell its id.
        result.into_first().ok_or_else(|| {
            Counters::bump(&self.inner.counters.outcome_unknown);
            ClientError::OutcomeUnknown {
                endpoint: Endpoint::CreateStore,
                account_id: account_id.to_string(),
                kind: TransportKind::Unreadable,
            }
        })
    }

    /// `GET /stores/{store_id}`.
    pub async fn get_store(&self, account_id: &str, store_id: &str) -> Result<Store, ClientError> {
        nonempty(Endpoint::GetStore, store_id)?;
        let call = self.call(Endpoint::GetStore, account_id, &["stores", store_id], None)?;
        self.send_for_result(call).await
    }

    /// `DELETE /stores/{store_id}`, with `?force=true` to delete the secrets in it first.
    /// Without `force` a non-empty store answers 409 `store_not_empty`.
    pub async fn delete_store(
        &self,
        account_id: &str,
        store_id: &str,
        force: bool,
    ) -> Result<(), ClientError> {
        nonempty(Endpoint::DeleteStore, store_id)?;
        let mut call = self.call(
            Endpoint::DeleteStore,
            account_id,
            &["stores", store_id],
            None,
        )?;
        if force {
            call.url.query_pairs_mut().append_pair("force", "true");
        }
        self.send::<IgnoredAny>(call).await.map(drop)
    }

    /// `GET /stores/{store_id}/secrets`, every page.
    pub async fn list_secrets(
        &self,
        account_id: &str,
        store_id: &str,
        query: &ListSecrets,
    ) -> Result<Vec<Secret>, ClientError> {
        nonempty(Endpoint::ListSecrets, store_id)?;
        let url = self.url(
            Endpoint::ListSecrets,
            account_id,
            &["stores", store_id, "secrets"],
        )?;
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if let Some(search) = &query.search {
            extra.push(("search", search));
        }
        if let Some(order) = query.order {
            extra.push(("order", order.as_str()));
        }
        if let Some(direction) = query.direction {
            extra.push((
                "direction",
                match direction {
                    Direction::Asc => "asc",
                    Direction::Desc => "desc",
                },
            ));
        }
        self.list_all(Endpoint::ListSecrets, account_id, url, &extra)
            .await
    }

    /// `POST /stores/{store_id}/secrets` with an array body; returns the created secrets.
    ///
    /// Not idempotent. If the request was sent and no answer came back (timeout, dropped
    /// connection, unreadable success body), this fails with [`ClientError::OutcomeUnknown`]:
    /// some, all or none of the batch may exist. Re-list the store and create only what is
    /// still missing; never resend the batch blindly. A 429/5xx answer means "not done" and is
    /// retried here. The reference leaves open whether a failed batch is all-or-nothing, so
    /// re-list after any error too.
    pub async fn create_secrets(
        &self,
        account_id: &str,
        store_id: &str,
        secrets: &[NewSecret<'_>],
    ) -> Result<Vec<Secret>, ClientError> {
        nonempty(Endpoint::CreateSecrets, store_id)?;
        if secrets.is_empty() {
            return Err(ClientError::Refused {
                endpoint: Endpoint::CreateSecrets,
                reason: "refusing to send a batch create with no secrets",
            });
        }
        let body = json_body(Endpoint::CreateSecrets, &secrets)?;
        let call = self
            .call(
                Endpoint::CreateSecrets,
                account_id,
                &["stores", store_id, "secrets"],
                Some(body),
            )?
            .carrying(secrets.iter().map(|s| s.value));
        self.send_for_result(call).await
    }

    /// `GET /stores/{store_id}/secrets/{secret_id}`.
    pub async fn get_secret(
        &self,
        account_id: &str,
        store_id: &str,
        secret_id: &str,
    ) -> Result<Secret, ClientError> {
        nonempty(Endpoint::GetSecret, store_id)?;
        nonempty(Endpoint::GetSecret, secret_id)?;
        let call = self.call(
            Endpoint::GetSecret,
            account_id,
            &["stores", store_id, "secrets", secret_id],
            None,
        )?;
        self.send_for_result(call).await
    }

    /// `PATCH /stores/{store_id}/secrets/{secret_id}` sending only the fields given. An empty
    /// patch is refused locally. Retried like any idempotent request (same body each time).
    pub async fn patch_secret(
        &self,
        account_id: &str,
        store_id: &str,
        secret_id: &str,
        patch: &SecretPatch<'_>,
    ) -> Result<Secret, ClientError> {
        nonempty(Endpoint::PatchSecret, store_id)?;
        nonempty(Endpoint::PatchSecret, secret_id)?;
        if patch.is_empty() {
            return Err(ClientError::Refused {
                endpoint: Endpoint::PatchSecret,
                reason: "refusing to send an empty patch",
            });
        }
        let body = json_body(Endpoint::PatchSecret, patch)?;
        let call = self
            .call(
                Endpoint::PatchSecret,
                account_id,
                &["stores", store_id, "secrets", secret_id],
                Some(body),
            )?
            .carrying(patch.value);
        self.send_for_result(call).await
    }

    /// `DELETE /stores/{store_id}/secrets/{secret_id}`. After a retry, `secret_not_found`
    /// counts as done.
    pub async fn delete_secret(
        &self,
        account_id: &str,
        store_id: &str,
        secret_id: &str,
    ) -> Result<(), ClientError> {
        nonempty(Endpoint::DeleteSecret, store_id)?;
        nonempty(Endpoint::DeleteSecret, secret_id)?;
        let call = self.call(
            Endpoint::DeleteSecret,
            account_id,
            &["stores", store_id, "secrets", secret_id],
            None,
        )?;
        self.send::<IgnoredAny>(call).await.map(drop)
    }

    /// `DELETE /stores/{store_id}/secrets` with `{"secret_ids": [...]}`. An empty id list is
    /// refused locally: a body-less bulk delete has undocumented (possibly delete-all)
    /// semantics, so it is never sent.
    pub async fn bulk_delete_secrets(
        &self,
        account_id: &str,
        store_id: &str,
        secret_ids: &[String],
    ) -> Result<(), ClientError> {
        nonempty(Endpoint::BulkDeleteSecrets, store_id)?;
        if secret_ids.is_empty() || secret_ids.iter().any(|id| id.trim().is_empty()) {
            return Err(ClientError::Refused {
                endpoint: Endpoint::BulkDeleteSecrets,
                reason: "refusing to send a bulk delete without secret ids",
            });
        }
        let body = json_body(Endpoint::BulkDeleteSecrets, &BulkDelete { secret_ids })?;
        let call = self.call(
            Endpoint::BulkDeleteSecrets,
            account_id,
            &["stores", store_id, "secrets"],
            Some(body),
        )?;
        self.send::<IgnoredAny>(call).await.map(drop)
    }

    /// `POST /stores/{store_id}/secrets/{secret_id}/duplicate`: a new secret carrying the
    /// source's value, which never leaves Cloudflare.
    ///
    /// Not idempotent: an unknown outcome fails with [`ClientError::OutcomeUnknown`]; re-list
    /// and look for the new name before trying again.
    pub async fn duplicate_secret(
        &self,
        account_id: &str,
        store_id: &str,
        secret_id: &str,
        body: &DuplicateSecret<'_>,
    ) -> Result<Secret, ClientError> {
        nonempty(Endpoint::DuplicateSecret, store_id)?;
        nonempty(Endpoint::DuplicateSecret, secret_id)?;
        let body = json_body(Endpoint::DuplicateSecret, body)?;
        let call = self.call(
            Endpoint::DuplicateSecret,
            account_id,
            &["stores", store_id, "secrets", secret_id, "duplicate"],
            Some(body),
        )?;
        self.send_for_result(call).await
    }

    // -----------------------------------------------------------------------------------------
    // Plumbing.

    fn url(&self, endpoint: Endpoint, account_id: &str, rest: &[&str]) -> Result<Url, ClientError> {
        nonempty(endpoint, account_id)?;
        let mut url = self.inner.config.base_url.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| ClientError::Refused {
                endpoint,
                reason: "api url cannot take a path",
            })?;
            segments
                .pop_if_empty()
                .extend(["accounts", account_id, "secrets_store"])
                .extend(rest);
        }
        Ok(url)
    }

    fn call<'a>(
        &self,
        endpoint: Endpoint,
        account_id: &'a str,
        rest: &[&str],
        body: Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Call<'a>, ClientError> {
        Ok(Call {
            endpoint,
            account_id,
            url: self.url(endpoint, account_id, rest)?,
            body,
            values: Vec::new(),
            needs_result: false,
        })
    }

    /// Sends and returns `result`; a success answer without one is unreadable (retried like
    /// any transport fault, or an unknown outcome for a POST).
    async fn send_for_result<T: DeserializeOwned>(
        &self,
        mut call: Call<'_>,
    ) -> Result<T, ClientError> {
        call.needs_result = true;
        let (endpoint, account_id) = (call.endpoint, call.account_id.to_string());
        match self.send::<T>(call).await?.result {
            Some(result) => Ok(result),
            // `finish` already refused such an answer; kept total rather than panicking.
            None => Err(ClientError::Transport {
                endpoint,
                account_id,
                kind: TransportKind::Unreadable,
                attempts: 1,
                source: TransportCause::Unreadable {
                    status: 200,
                    detail: "result is missing".to_string(),
                },
            }),
        }
    }

    /// Every page of a list (`per_page=100`), stopping as soon as the answers say it was the
    /// last page (see [`is_last_page`]); a page that repeats an id is refused.
    async fn list_all<T: DeserializeOwned + HasId>(
        &self,
        endpoint: Endpoint,
        account_id: &str,
        base: Url,
        extra: &[(&str, &str)],
    ) -> Result<Vec<T>, ClientError> {
        let mut items: Vec<T> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut page: u64 = 1;
        loop {
            let mut url = base.clone();
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in extra {
                    q.append_pair(k, v);
                }
                q.append_pair("page", &page.to_string());
                q.append_pair("per_page", &PER_PAGE.to_string());
            }
            let envelope: Envelope<Vec<T>> = self
                .send(Call {
                    endpoint,
                    account_id,
                    url,
                    body: None,
                    values: Vec::new(),
                    // A page without `result` is unreadable (read again), not an empty
                    // page that would end the list early.
                    needs_result: true,
                })
                .await?;
            let batch = envelope.result.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            let got = batch.len() as u64;
            for item in batch {
                if !seen.insert(item.id().to_string()) {
                    return Err(ClientError::RepeatedPage {
                        endpoint,
                        account_id: account_id.to_string(),
                        page,
                        id: item.id().to_string(),
                    });
                }
                items.push(item);
            }
            let info = envelope.result_info.unwrap_or_default();
            if is_last_page(&info, page, got, items.len() as u64) || page >= MAX_PAGES {
                break;
            }
            page += 1;
        }
        Ok(items)
    }

    /// Sends with pacing and retries; returns the parsed envelope of a successful answer.
    async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<Envelope<T>, ClientError> {
        let inner = &*self.inner;
        let endpoint = call.endpoint;
        let account_id = || call.account_id.to_string();
        let mut attempt: u32 = 0;
        loop {
            let (slot, waited) = inner.pacer.acquire().await;
            Counters::add_wait(&inner.counters.pacer_wait_us, waited);
            Counters::bump(&inner.counters.requests);
            if attempt > 0 {
                Counters::bump(&inner.counters.retries);
            }
            let answer = self.attempt(&call).await;
            // The answer is in (or the attempt is over): the slot's window starts now.
            drop(slot);
            let fault = match answer {
                Err(e) => (classify(&e), TransportCause::Http(e.without_url())),
                Ok(answer) if is_retryable_status(answer.status) => {
                    if answer.status == 429 {
                        Counters::bump(&inner.counters.rate_limited);
                    }
                    if attempt >= inner.config.max_retries {
                        return Err(api_error(&call, &answer, &inner.config.auth).into());
                    }
                    let delay = self.backoff(attempt, retry_after_of(&answer.headers));
                    self.wait(delay).await;
                    attempt += 1;
                    continue;
                }
                Ok(answer) => match self.finish(&call, answer, attempt) {
                    Finished::Done(result) => return result,
                    Finished::Unreadable { status, detail } => (
                        TransportKind::Unreadable,
                        TransportCause::Unreadable { status, detail },
                    ),
                },
            };
            let (kind, source) = fault;
            if kind != TransportKind::Connect && !endpoint.is_idempotent() {
                // The write may have happened: only a re-list can tell.
                Counters::bump(&inner.counters.outcome_unknown);
                return Err(ClientError::OutcomeUnknown {
                    endpoint,
                    account_id: account_id(),
                    kind,
                });
            }
            if attempt >= inner.config.max_retries {
                return Err(ClientError::Transport {
                    endpoint,
                    account_id: account_id(),
                    kind,
                    attempts: attempt + 1,
                    source,
                });
            }
            self.wait(self.backoff(attempt, None)).await;
            attempt += 1;
        }
    }

    async fn wait(&self, delay: Duration) {
        Counters::add_wait(&self.inner.counters.backoff_wait_us, delay);
        tokio::time::sleep(delay).await;
    }

    /// Turns a final (non-retryable) answer into a result, or says it was unreadable.
    fn finish<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        answer: Answer,
        attempt: u32,
    ) -> Finished<T> {
        let endpoint = call.endpoint;
        if (200..300).contains(&answer.status) {
            match serde_json::from_slice::<Envelope<T>>(&answer.body) {
                Ok(envelope) if envelope.success == Some(false) => {}
                Ok(envelope) if call.needs_result && envelope.result.is_none() => {
                    return Finished::Unreadable {
                        status: answer.status,
                        detail: "result is missing".to_string(),
                    };
                }
                Ok(envelope) => return Finished::Done(Ok(envelope)),
                Err(e) => {
                    return Finished::Unreadable {
                        status: answer.status,
                        detail: serde_detail(&e),
                    };
                }
            }
        }
        let err = api_error(call, &answer, &self.inner.config.auth);
        if attempt > 0 && endpoint.gone_kind().is_some_and(|k| err.is(k)) {
            // An earlier attempt of this delete may have landed; "not found" means done.
            return Finished::Done(Ok(Envelope {
                success: Some(true),
                errors: Vec::new(),
                messages: Vec::new(),
                result: None,
                result_info: None,
            }));
        }
        Finished::Done(Err(err.into()))
    }

    /// One HTTP attempt. Reading the body is part of it, so a connection dropped mid-answer
    /// is a transport error.
    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, reqwest::Error> {
        let inner = &*self.inner;
        let mut req = inner
            .http
            .request(call.endpoint.method(), call.url.clone())
            .headers(inner.auth_headers.clone());
        if let Some(body) = &call.body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Exponential backoff with jitter (half to full of `base × 2^attempt`, capped), unless
    /// the server said how long to wait.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let config = &self.inner.config;
        if let Some(wait) = retry_after {
            return wait.min(config.max_retry_after);
        }
        let exp = config
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(config.max_delay);
        let jitter: f64 = rand::Rng::random_range(&mut rand::rng(), 0.5..=1.0);
        exp.mul_f64(jitter)
    }
}

fn nonempty(endpoint: Endpoint, id: &str) -> Result<(), ClientError> {
    if id.trim().is_empty() {
        return Err(ClientError::Refused {
            endpoint,
            reason: "refusing a request with an empty id in its path",
        });
    }
    Ok(())
}

fn json_body<B: Serialize + ?Sized>(
    endpoint: Endpoint,
    body: &B,
) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    serde_json::to_vec(body)
        .map(Zeroizing::new)
        .map_err(|_| ClientError::Refused {
            endpoint,
            reason: "could not serialise the request body",
        })
}

fn auth_headers(auth: &Auth) -> Result<HeaderMap, ConfigError> {
    let sensitive = |s: &str| {
        let mut v = HeaderValue::from_str(s).map_err(|_| ConfigError::InvalidCredential)?;
        v.set_sensitive(true);
        Ok::<_, ConfigError>(v)
    };
    let mut headers = HeaderMap::new();
    match auth {
        Auth::Token(token) => {
            headers.insert(
                AUTHORIZATION,
                sensitive(&format!("Bearer {}", token.expose()))?,
            );
        }
        Auth::KeyEmail { key, email } => {
            headers.insert(HeaderName::from_static("x-auth-email"), sensitive(email)?);
            headers.insert(
                HeaderName::from_static("x-auth-key"),
                sensitive(key.expose())?,
            );
        }
    }
    Ok(headers)
}

fn classify(e: &reqwest::Error) -> TransportKind {
    if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Dropped
    }
}

/// Whether the page just read (the `page`-th, holding `got` items, `seen` in all so far) was
/// the last. Cloudflare's lists carry `total_count` but no `total_pages` (API notes §10):
///
/// * `total_count`, when sent: the list is done once that many items are in, and a short
///   page before that (a server whose pages are smaller than it says) does not end it;
/// * `total_pages`, when sent: the list is done at that page;
/// * with neither, a page shorter than the page size (the server's `per_page`, else ours)
///   is the last.
///
/// Where the two totals disagree, the one that reads on wins: an empty page always ends the
/// list (checked by the caller), so a server that overstates costs one request more, never
/// a loop (repeated ids are refused, pages are capped), while stopping early would lose
/// secrets.
fn is_last_page(info: &ResultInfo, page: u64, got: u64, seen: u64) -> bool {
    let by_pages = info.total_pages.map(|total| page >= total);
    let by_count = info.total_count.map(|total| seen >= total);
    if by_pages.is_some() || by_count.is_some() {
        return by_pages.unwrap_or(true) && by_count.unwrap_or(true);
    }
    let per_page = info
        .per_page
        .filter(|&n| n > 0)
        .unwrap_or(u64::from(PER_PAGE));
    got < per_page
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// `retry-after-ms` (milliseconds, may be fractional) wins over `retry-after` (seconds).
/// HTTP-date forms are ignored (backoff applies). Either is cut to a day, so a huge number
/// cannot overflow a `Duration`.
fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v)
    };
    let secs = match number("retry-after-ms") {
        Some(ms) => ms / 1000.0,
        None => number("retry-after")?,
    };
    Some(Duration::from_secs_f64(secs.min(86_400.0)))
}

/// The typed error of a failed answer. Each message has the call's values and the
/// credentials it was sent with removed (before it is cut or cleaned, so neither can be split
/// past the removal), then is made printable.
fn api_error(call: &Call<'_>, answer: &Answer, auth: &Auth) -> ApiError {
    let items = serde_json::from_slice::<Envelope<IgnoredAny>>(&answer.body)
        .map(|e| e.errors)
        .unwrap_or_default();
    let mut sent = call.values.clone();
    sent.extend(auth.credentials());
    let mut items = items
        .into_iter()
        .map(|m| (m.code, clip(&crate::text::redact(&m.message, &sent))));
    let (code, message_token) = items.next().unwrap_or((None, String::new()));
    ApiError {
        endpoint: call.endpoint,
        account_id: call.account_id.to_string(),
        status: answer.status,
        code,
        message_token,
        more: items.take(8).collect(),
    }
}

/// A server-supplied message made safe to print: control characters (a terminal escape
/// sequence from a hostile or broken server) are escaped, and it is cut to 200 characters.
fn clip(s: &str) -> String {
    let clean = crate::text::printable(s);
    match clean.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

/// A serde error without quoted input: "missing field `id` at line 1 column 9" stays whole,
/// "invalid type: string \"…\", expected …" keeps only "invalid type".
fn serde_detail(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let head = msg.split(':').next().unwrap_or_default();
    let head = head.split(" at line ").next().unwrap_or_default();
    format!("{head} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_printable_and_short() {
        assert_eq!(clip("store_not_found"), "store_not_found");
        assert_eq!(clip("bad\x1b[31mred\n"), "bad\\u{1b}[31mred\\n");
        let long = "x".repeat(300);
        assert_eq!(clip(&long).chars().count(), 201);
    }

    #[test]
    fn the_last_page_is_known_without_total_pages() {
        let info = |per_page, total_count, total_pages| ResultInfo {
            per_page,
            total_count,
            total_pages,
            ..ResultInfo::default()
        };
        // Cloudflare's shape: total_count only.
        assert!(is_last_page(&info(Some(100), Some(100), None), 1, 100, 100));
        assert!(!is_last_page(
            &info(Some(100), Some(250), None),
            1,
            100,
            100
        ));
        assert!(!is_last_page(
            &info(Some(100), Some(250), None),
            2,
            100,
            200
        ));
        assert!(is_last_page(&info(Some(100), Some(250), None), 3, 50, 250));
        // A short page before total_count is reached does not end the list.
        assert!(!is_last_page(&info(Some(100), Some(250), None), 1, 50, 50));
        // total_pages is believed when sent alone, and agreeing totals end the list...
        assert!(is_last_page(&info(Some(100), None, Some(1)), 1, 100, 100));
        assert!(is_last_page(
            &info(Some(100), Some(250), Some(3)),
            3,
            50,
            250
        ));
        // ...but where the totals disagree, the one that reads on wins: stopping early
        // would lose secrets.
        assert!(!is_last_page(
            &info(Some(100), Some(250), Some(1)),
            1,
            100,
            100
        ));
        assert!(!is_last_page(
            &info(Some(50), Some(100), Some(3)),
            2,
            50,
            100
        ));
        assert!(!is_last_page(&info(None, None, Some(3)), 2, 100, 200));
        assert!(!is_last_page(&info(Some(100), None, Some(2)), 1, 2, 2));
        // Neither: a short page ends it, a full one does not.
        assert!(is_last_page(&info(None, None, None), 1, 99, 99));
        assert!(!is_last_page(&info(None, None, None), 1, 100, 100));
        // The server's page size counts when it says one.
        assert!(!is_last_page(&info(Some(20), None, None), 1, 20, 20));
        assert!(is_last_page(&info(Some(20), None, None), 2, 7, 27));
    }

    #[test]
    fn retry_after_prefers_ms_and_caps_huge_values() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let day = Some(Duration::from_secs(86_400));
        assert_eq!(
            retry_after_of(&headers(&[("retry-after", "2"), ("retry-after-ms", "250")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after_of(&headers(&[("retry-after-ms", "1e300")])),
            day
        );
        assert_eq!(retry_after_of(&headers(&[("retry-after", "1e300")])), day);
        assert_eq!(retry_after_of(&headers(&[("retry-after", "-1")])), None);
        assert_eq!(
            retry_after_of(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2026 07:28:00 GMT"
            )])),
            None
        );
    }
}
