//! The Secrets Store API itself: routing of `/client/v4/accounts/{account_id}/secrets_store/…`,
//! authentication, the v4 envelope, and the twelve endpoints over the [`World`].
//!
//! Routing is done by hand (not by axum's router) so that malformed account ids, empty path
//! ids and unknown routes get Cloudflare's envelopes, and so that every request has a path
//! template for the log and counters. Written from the API reference only; it shares no
//! code with the client in `crate::cloudflare`.

use std::cmp::Ordering;

use axum::extract::Query;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Map, Value, json};

use super::state::{Account, Secret, SecretValue, Store, World, rfc3339};
use super::{BatchMode, EmulatorConfig};

/// The scopes the API knows, in sorted order.
pub(crate) const SCOPES: [&str; 6] = [
    "access",
    "ai_gateway",
    "containers",
    "dex",
    "websearch",
    "workers",
];

const MAX_PER_PAGE: u64 = 100;

/// An error answer: HTTP status, Cloudflare code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub(crate) fn no_route() -> Self {
        Self::new(404, 7003, "No route for the URI")
    }
    pub(crate) fn bad_account() -> Self {
        Self::new(400, 7003, "No route for the URI")
    }
    pub(crate) fn empty_id() -> Self {
        Self::new(400, 1000, "invalid_path_parameter")
    }
    pub(crate) fn auth() -> Self {
        Self::new(403, 10000, "Authentication error")
    }
    pub(crate) fn rate_limited() -> Self {
        Self::new(
            429,
            971,
            "Please wait and consider throttling your request speed",
        )
    }
    /// Not code 1000: the reference gives 1000 one meaning (an empty path id), and a client
    /// matching on code would read a 500 as that. 10013 "An unknown error has occurred" is
    /// the generic code Cloudflare's API answers with elsewhere (seen in wrangler output).
    pub(crate) fn internal() -> Self {
        Self::new(500, 10013, "An unknown error has occurred")
    }
    fn invalid_json() -> Self {
        Self::new(400, 1001, "invalid_json_body")
    }
    fn invalid_param(name: &str) -> Self {
        Self::new(400, 1001, format!("invalid_{name}_parameter"))
    }
    fn store_not_found() -> Self {
        Self::new(404, 1001, "store_not_found")
    }
    fn secret_not_found() -> Self {
        Self::new(404, 1001, "secret_not_found")
    }
    fn bad(token: &str) -> Self {
        Self::new(400, 1001, token)
    }
    fn conflict(token: impl Into<String>) -> Self {
        Self::new(409, 1003, token)
    }
}

/// A JSON answer: status and envelope.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    /// Whether the request changed the world (the state file is rewritten).
    pub changed: bool,
}

impl Reply {
    fn ok(result: Value) -> Self {
        Self {
            status: 200,
            body: json!({"success": true, "errors": [], "messages": [], "result": result}),
            changed: false,
        }
    }
    /// A list page. `result_info` holds `page`, `per_page`, `count` and `total_count`, as
    /// Cloudflare's lists do, and `total_pages` only when `with_total_pages`.
    fn list(items: Vec<Value>, p: &Paging, total: u64, with_total_pages: bool) -> Self {
        let count = items.len() as u64;
        let mut info = json!({
            "page": p.page, "per_page": p.per_page, "count": count, "total_count": total,
        });
        if with_total_pages {
            info["total_pages"] = json!(total.div_ceil(p.per_page));
        }
        Self {
            status: 200,
            body: json!({
                "success": true, "errors": [], "messages": [], "result": items,
                "result_info": info,
            }),
            changed: false,
        }
    }
    fn changed(mut self) -> Self {
        self.changed = true;
        self
    }
    pub(crate) fn error(err: &ApiError) -> Self {
        Self::errors(err.status, std::slice::from_ref(err))
    }
    fn errors(status: u16, errs: &[ApiError]) -> Self {
        let errors: Vec<Value> = errs
            .iter()
            .map(|e| json!({"code": e.code, "message": e.message}))
            .collect();
        Self {
            status,
            body: json!({"success": false, "errors": errors, "messages": [], "result": null}),
            changed: false,
        }
    }
}

impl From<ApiError> for Reply {
    fn from(err: ApiError) -> Self {
        Reply::error(&err)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Quota,
    ListStores,
    CreateStore,
    GetStore,
    DeleteStore,
    ListSecrets,
    CreateSecrets,
    DeleteSecrets,
    GetSecret,
    EditSecret,
    DeleteSecret,
    DuplicateSecret,
}

/// A matched API route.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub endpoint: Endpoint,
    pub account: String,
    pub store: String,
    pub secret: String,
}

/// What the path and method resolve to.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    Api(Route),
    Error(ApiError),
}

/// Path without `/client/v4`, and its template (ids replaced by `{account_id}` etc.).
/// `None` when the path is not under `/client/v4/accounts/…/secrets_store`.
pub(crate) fn template(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/client/v4")?;
    let segs: Vec<&str> = rest.split('/').skip(1).collect();
    if segs.len() < 3 || segs[0] != "accounts" || segs[2] != "secrets_store" {
        return None;
    }
    let mut out = String::new();
    for (i, seg) in segs.iter().enumerate() {
        out.push('/');
        let name = match (i, i.checked_sub(1).map(|j| segs[j])) {
            (1, _) => "{account_id}",
            (4, Some("stores")) => "{store_id}",
            (6, Some("secrets")) => "{secret_id}",
            _ => seg,
        };
        out.push_str(name);
    }
    Some((rest.to_string(), out))
}

/// Resolves a request to an endpoint, or to the error Cloudflare answers.
pub(crate) fn resolve(method: &Method, path: &str) -> Resolved {
    let Some(rest) = path.strip_prefix("/client/v4/") else {
        return Resolved::Error(ApiError::no_route());
    };
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.len() < 4 || segs[0] != "accounts" || segs[2] != "secrets_store" {
        return Resolved::Error(ApiError::no_route());
    }
    let endpoint = match (&segs[3..], method.as_str()) {
        (["quota"], "GET") => Endpoint::Quota,
        (["stores"], "GET") => Endpoint::ListStores,
        (["stores"], "POST") => Endpoint::CreateStore,
        (["stores", _], "GET") => Endpoint::GetStore,
        (["stores", _], "DELETE") => Endpoint::DeleteStore,
        (["stores", _, "secrets"], "GET") => Endpoint::ListSecrets,
        (["stores", _, "secrets"], "POST") => Endpoint::CreateSecrets,
        (["stores", _, "secrets"], "DELETE") => Endpoint::DeleteSecrets,
        (["stores", _, "secrets", _], "GET") => Endpoint::GetSecret,
        (["stores", _, "secrets", _], "PATCH") => Endpoint::EditSecret,
        (["stores", _, "secrets", _], "DELETE") => Endpoint::DeleteSecret,
        (["stores", _, "secrets", _, "duplicate"], "POST") => Endpoint::DuplicateSecret,
        _ => return Resolved::Error(ApiError::no_route()),
    };
    let account = segs[1];
    if !is_account_id(account) {
        return Resolved::Error(ApiError::bad_account());
    }
    let store = segs.get(4).copied().unwrap_or_default();
    let secret = segs.get(6).copied().unwrap_or_default();
    if (segs.len() > 4 && store.is_empty()) || (segs.len() > 6 && secret.is_empty()) {
        return Resolved::Error(ApiError::empty_id());
    }
    Resolved::Api(Route {
        endpoint,
        account: account.to_string(),
        store: store.to_string(),
        secret: secret.to_string(),
    })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a request's credentials allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Full,
    /// The configured read-only token: reads only.
    ReadOnly,
    Denied,
}

/// The credential a request carries: `Authorization: Bearer T`, or `X-Auth-Key: T` with a
/// non-empty `X-Auth-Email`.
fn credential(headers: &HeaderMap) -> Option<&str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(bearer) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(bearer.trim());
    }
    match (header("x-auth-email"), header("x-auth-key")) {
        (Some(email), Some(key)) if !email.trim().is_empty() => Some(key.trim()),
        _ => None,
    }
}

/// What the request's credential allows: the configured read-only token reads; the
/// configured token (any non-empty one when none is configured) does everything.
pub(crate) fn access(headers: &HeaderMap, config: &EmulatorConfig) -> Access {
    let Some(given) = credential(headers).filter(|g| !g.is_empty()) else {
        return Access::Denied;
    };
    if config.read_only_token.as_deref() == Some(given) {
        return Access::ReadOnly;
    }
    match &config.token {
        Some(token) if given != token => Access::Denied,
        _ => Access::Full,
    }
}

/// Everything a handler needs besides the world.
pub(crate) struct Ctx<'a> {
    pub config: &'a EmulatorConfig,
    pub new_id: &'a mut dyn FnMut() -> String,
    pub now: i128,
    pub delay_elapsed: &'a dyn Fn(i128) -> bool,
}

/// Runs one API call against the world.
pub(crate) fn dispatch(
    world: &mut World,
    ctx: &mut Ctx<'_>,
    route: &Route,
    uri: &Uri,
    body: &[u8],
) -> Reply {
    let query = match Query::<Vec<(String, String)>>::try_from_uri(uri) {
        Ok(Query(q)) => q,
        Err(_) => return ApiError::bad("invalid_query").into(),
    };
    let fresh = ensure_default_store(world, ctx, &route.account);
    let result = match route.endpoint {
        Endpoint::Quota => Ok(quota(world, ctx, &route.account)),
        Endpoint::ListStores => list_stores(world, ctx, route, &query),
        Endpoint::CreateStore => create_store(world, ctx, route, body),
        Endpoint::GetStore => get_store(world, route),
        Endpoint::DeleteStore => delete_store(world, route, &query),
        Endpoint::ListSecrets => list_secrets(world, ctx, route, &query),
        Endpoint::CreateSecrets => create_secrets(world, ctx, route, body),
        Endpoint::DeleteSecrets => delete_secrets(world, route, body),
        Endpoint::GetSecret => get_secret(world, ctx, route),
        Endpoint::EditSecret => edit_secret(world, ctx, route, body),
        Endpoint::DeleteSecret => delete_secret(world, route),
        Endpoint::DuplicateSecret => duplicate_secret(world, ctx, route, body),
    };
    let mut reply = result.unwrap_or_else(Reply::from);
    reply.changed |= fresh;
    reply
}

/// Creates the account on first use, with the default store if one is configured; says
/// whether that changed the world.
fn ensure_default_store(world: &mut World, ctx: &mut Ctx<'_>, account: &str) -> bool {
    if world.accounts.contains_key(account) {
        return false;
    }
    let mut fresh = Account::default();
    if let Some(name) = &ctx.config.default_store {
        fresh.stores.push(Store {
            id: (ctx.new_id)(),
            name: name.clone(),
            created: ctx.now,
            modified: ctx.now,
            secrets: Vec::new(),
        });
    }
    let changed = !fresh.stores.is_empty();
    world.accounts.insert(account.to_string(), fresh);
    changed
}

fn quota(world: &World, ctx: &Ctx<'_>, account: &str) -> Reply {
    Reply::ok(json!({"secrets": {"quota": ctx.config.quota, "usage": world.usage(account)}}))
}

fn account_mut<'w>(world: &'w mut World, account: &str) -> &'w mut Account {
    world.accounts.entry(account.to_string()).or_default()
}

fn store_mut<'w>(world: &'w mut World, route: &Route) -> Result<&'w mut Store, ApiError> {
    account_mut(world, &route.account)
        .stores
        .iter_mut()
        .find(|s| s.id == route.store)
        .ok_or_else(ApiError::store_not_found)
}

fn store_json(store: &Store, account: &str) -> Value {
    json!({
        "id": store.id,
        "name": store.name,
        "created": rfc3339(store.created),
        "modified": rfc3339(store.modified),
        "account_id": account,
    })
}

/// Renders a secret for a read, turning it `active` once it has been read as `pending`
/// often enough (or long enough after creation).
fn read_secret(secret: &mut Secret, store_id: &str, ctx: &Ctx<'_>) -> Value {
    if !secret.active {
        let by_reads = ctx
            .config
            .activate_after_reads
            .is_some_and(|n| secret.pending_reads >= n);
        if by_reads || (ctx.delay_elapsed)(secret.created) {
            secret.active = true;
        } else {
            secret.pending_reads += 1;
        }
    }
    secret_json(secret, store_id)
}

fn secret_json(secret: &Secret, store_id: &str) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), json!(secret.id));
    obj.insert("name".into(), json!(secret.name));
    obj.insert("store_id".into(), json!(store_id));
    obj.insert("status".into(), json!(secret.status()));
    obj.insert("created".into(), json!(rfc3339(secret.created)));
    obj.insert("modified".into(), json!(rfc3339(secret.modified)));
    if let Some(comment) = &secret.comment {
        obj.insert("comment".into(), json!(comment));
    }
    obj.insert("scopes".into(), json!(secret.scopes));
    Value::Object(obj)
}

struct Paging {
    page: u64,
    per_page: u64,
    order: Option<String>,
    desc: bool,
}

fn paging(
    query: &[(String, String)],
    orders: &[&str],
    default_per_page: u64,
) -> Result<Paging, ApiError> {
    let mut p = Paging {
        page: 1,
        per_page: default_per_page,
        order: None,
        desc: false,
    };
    for (key, value) in query {
        match key.as_str() {
            "page" => {
                p.page = value
                    .parse::<u64>()
                    .map_err(|_| ApiError::invalid_param("page"))?
                    .max(1)
            }
            "per_page" => {
                let n = value
                    .parse::<u64>()
                    .map_err(|_| ApiError::invalid_param("per_page"))?;
                p.per_page = if n == 0 {
                    default_per_page
                } else {
                    n.min(MAX_PER_PAGE)
                };
            }
            "order" if orders.contains(&value.as_str()) => p.order = Some(value.clone()),
            "order" => return Err(ApiError::invalid_param("order")),
            "direction" => match value.as_str() {
                "asc" => p.desc = false,
                "desc" => p.desc = true,
                _ => return Err(ApiError::invalid_param("direction")),
            },
            _ => {}
        }
    }
    Ok(p)
}

/// The index range of page `page` of `total` items.
fn window(p: &Paging, total: usize) -> std::ops::Range<usize> {
    let start = ((p.page - 1).saturating_mul(p.per_page)).min(total as u64) as usize;
    let end = (start as u64 + p.per_page).min(total as u64) as usize;
    start..end
}

fn list_stores(
    world: &mut World,
    ctx: &Ctx<'_>,
    route: &Route,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    let p = paging(query, &["name", "created", "modified"], 20)?;
    let account = account_mut(world, &route.account);
    let mut stores: Vec<&Store> = account.stores.iter().collect();
    let key = |a: &&Store, b: &&Store| -> Ordering {
        match p.order.as_deref() {
            Some("name") => a.name.cmp(&b.name),
            Some("modified") => a.modified.cmp(&b.modified),
            _ => a.created.cmp(&b.created),
        }
    };
    stores.sort_by(|a, b| if p.desc { key(b, a) } else { key(a, b) });
    let total = stores.len();
    let items = stores[window(&p, total)]
        .iter()
        .map(|s| store_json(s, &route.account))
        .collect();
    Ok(Reply::list(items, &p, total as u64, ctx.config.total_pages))
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::invalid_json())
}

fn create_store(
    world: &mut World,
    ctx: &mut Ctx<'_>,
    route: &Route,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let max = ctx.config.max_stores;
    if account_mut(world, &route.account).stores.len() >= max {
        return Err(ApiError::conflict("maximum_stores_exceeded"));
    }
    // The object form is current; the one-element array form is what SDKs sent in 2025-26
    // and is answered in kind.
    let (obj, as_array) = match parse_json(body)? {
        Value::Object(obj) => (obj, false),
        Value::Array(items) if items.len() == 1 => match items.into_iter().next() {
            Some(Value::Object(obj)) => (obj, true),
            _ => return Err(ApiError::invalid_json()),
        },
        _ => return Err(ApiError::invalid_json()),
    };
    let name = match obj.get("name") {
        Some(Value::String(name)) => name.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(ApiError::invalid_json()),
    };
    if name.trim().is_empty() {
        return Err(ApiError::bad("store_name_empty"));
    }
    let store = Store {
        id: (ctx.new_id)(),
        name,
        created: ctx.now,
        modified: ctx.now,
        secrets: Vec::new(),
    };
    let rendered = store_json(&store, &route.account);
    account_mut(world, &route.account).stores.push(store);
    let result = if as_array {
        json!([rendered])
    } else {
        rendered
    };
    Ok(Reply::ok(result).changed())
}

fn get_store(world: &mut World, route: &Route) -> Result<Reply, ApiError> {
    let store = store_mut(world, route)?;
    Ok(Reply::ok(store_json(store, &route.account)))
}

fn delete_store(
    world: &mut World,
    route: &Route,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    let force = query
        .iter()
        .any(|(k, v)| k == "force" && matches!(v.as_str(), "true" | "1"));
    let store = store_mut(world, route)?;
    if !store.secrets.is_empty() && !force {
        return Err(ApiError::conflict("store_not_empty"));
    }
    account_mut(world, &route.account)
        .stores
        .retain(|s| s.id != route.store);
    Ok(Reply::ok(Value::Null).changed())
}

fn list_secrets(
    world: &mut World,
    ctx: &mut Ctx<'_>,
    route: &Route,
    query: &[(String, String)],
) -> Result<Reply, ApiError> {
    let p = paging(
        query,
        &["name", "comment", "created", "modified", "status"],
        20,
    )?;
    let search: Option<String> = query
        .iter()
        .find(|(k, _)| k == "search")
        .map(|(_, v)| v.to_lowercase())
        .filter(|v| !v.is_empty());
    let scopes: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "scopes" || k == "scopes[]")
        .flat_map(|(_, v)| v.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    if scopes.iter().any(|s| !SCOPES.contains(s)) {
        return Err(ApiError::bad("secret_scope_invalid"));
    }
    let store = store_mut(world, route)?;
    let store_id = store.id.clone();
    let mut matching: Vec<usize> = store
        .secrets
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            search.as_ref().is_none_or(|needle| {
                s.name.to_lowercase().contains(needle)
                    || s.comment
                        .as_ref()
                        .is_some_and(|c| c.to_lowercase().contains(needle))
            })
        })
        .filter(|(_, s)| scopes.iter().all(|want| s.scopes.iter().any(|h| h == want)))
        .map(|(i, _)| i)
        .collect();
    let secrets = &store.secrets;
    let key = |a: &usize, b: &usize| -> Ordering {
        let (a, b) = (&secrets[*a], &secrets[*b]);
        match p.order.as_deref() {
            Some("name") => a.name.cmp(&b.name),
            Some("comment") => a.comment.cmp(&b.comment),
            Some("modified") => a.modified.cmp(&b.modified),
            Some("status") => a.active.cmp(&b.active),
            _ => a.created.cmp(&b.created),
        }
    };
    matching.sort_by(|a, b| if p.desc { key(b, a) } else { key(a, b) });
    let total = matching.len();
    let items = matching[window(&p, total)]
        .iter()
        .map(|&i| read_secret(&mut store.secrets[i], &store_id, ctx))
        .collect();
    Ok(Reply::list(items, &p, total as u64, ctx.config.total_pages))
}

/// A validated new secret from a create body.
struct NewSecret {
    name: String,
    value: String,
    scopes: Vec<String>,
    comment: Option<String>,
}

fn check_name(name: Option<&Value>) -> Result<String, ApiError> {
    let name = match name {
        None | Some(Value::Null) => return Err(ApiError::bad("secret_name_empty")),
        Some(Value::String(name)) => name,
        Some(_) => return Err(ApiError::invalid_json()),
    };
    if name.is_empty() {
        return Err(ApiError::bad("secret_name_empty"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::bad("secret_name_invalid"));
    }
    Ok(name.clone())
}

fn check_scopes(scopes: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let list = match scopes {
        None | Some(Value::Null) => return Err(ApiError::bad("secret_scopes_empty")),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ApiError::invalid_json()),
    };
    if list.is_empty() {
        return Err(ApiError::bad("secret_scopes_empty"));
    }
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let Value::String(scope) = item else {
            return Err(ApiError::invalid_json());
        };
        if !SCOPES.contains(&scope.as_str()) {
            return Err(ApiError::bad("secret_scope_invalid"));
        }
        out.push(scope.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn check_value(value: Option<&Value>, limit: usize) -> Result<String, ApiError> {
    match value {
        Some(Value::String(value)) if value.len() > limit => {
            Err(ApiError::bad("secret_value_too_long"))
        }
        Some(Value::String(value)) => Ok(value.clone()),
        _ => Err(ApiError::invalid_json()),
    }
}

fn check_comment(comment: Option<&Value>) -> Result<Option<String>, ApiError> {
    match comment {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) => Ok(Some(c.clone())),
        Some(_) => Err(ApiError::invalid_json()),
    }
}

fn check_new_secret(item: &Value, limit: usize) -> Result<NewSecret, ApiError> {
    let Value::Object(obj) = item else {
        return Err(ApiError::invalid_json());
    };
    Ok(NewSecret {
        name: check_name(obj.get("name"))?,
        value: check_value(obj.get("value"), limit)?,
        scopes: check_scopes(obj.get("scopes"))?,
        comment: check_comment(obj.get("comment"))?,
    })
}

fn quota_error(ctx: &Ctx<'_>) -> ApiError {
    ApiError::conflict(format!(
        "maximum_secrets_exceeded: max {}",
        ctx.config.quota
    ))
}

fn create_secrets(
    world: &mut World,
    ctx: &mut Ctx<'_>,
    route: &Route,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let mut usage = world.usage(&route.account);
    let store = store_mut(world, route)?;
    let items = match parse_json(body)? {
        Value::Array(items) if !items.is_empty() => items,
        _ => return Err(ApiError::invalid_json()),
    };
    let quota = ctx.config.quota;
    let limit = ctx.config.value_limit;
    // Check every item against the store, the batch so far and the quota.
    let mut accepted: Vec<NewSecret> = Vec::new();
    let mut errors: Vec<ApiError> = Vec::new();
    for item in &items {
        let checked = check_new_secret(item, limit).and_then(|new| {
            let taken = store.secrets.iter().any(|s| s.name == new.name)
                || accepted.iter().any(|a| a.name == new.name);
            if taken {
                Err(ApiError::conflict("secret_name_already_exists"))
            } else if usage >= quota {
                Err(quota_error(ctx))
            } else {
                Ok(new)
            }
        });
        match checked {
            Ok(new) => {
                usage += 1;
                accepted.push(new);
            }
            Err(err) => errors.push(err),
        }
    }
    if !errors.is_empty() && ctx.config.batch_mode == BatchMode::AllOrNothing {
        return Err(errors.swap_remove(0));
    }
    let store_id = store.id.clone();
    let mut created = Vec::with_capacity(accepted.len());
    let changed = !accepted.is_empty();
    for new in accepted {
        let secret = Secret {
            id: (ctx.new_id)(),
            name: new.name,
            value: SecretValue::new(new.value),
            comment: new.comment,
            scopes: new.scopes,
            created: ctx.now,
            modified: ctx.now,
            active: false,
            pending_reads: 0,
        };
        created.push(secret_json(&secret, &store_id));
        store.secrets.push(secret);
    }
    if !errors.is_empty() {
        // Partial mode: the good items were created; the answer is a failure that does not
        // say which, so a client has to re-list.
        let mut reply = Reply::errors(errors[0].status, &errors);
        reply.changed = changed;
        return Ok(reply);
    }
    Ok(Reply::ok(Value::Array(created)).changed())
}

fn delete_secrets(world: &mut World, route: &Route, body: &[u8]) -> Result<Reply, ApiError> {
    let store = store_mut(world, route)?;
    let ids: Vec<String> = match parse_json(body)? {
        Value::Object(obj) => match obj.get("secret_ids") {
            Some(Value::Array(ids)) if !ids.is_empty() => ids
                .iter()
                .map(|id| id.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(ApiError::invalid_json)?,
            _ => return Err(ApiError::invalid_json()),
        },
        _ => return Err(ApiError::invalid_json()),
    };
    if ids
        .iter()
        .any(|id| !store.secrets.iter().any(|s| &s.id == id))
    {
        return Err(ApiError::secret_not_found());
    }
    store.secrets.retain(|s| !ids.contains(&s.id));
    Ok(Reply::ok(Value::Null).changed())
}

fn secret_index(store: &Store, route: &Route) -> Result<usize, ApiError> {
    store
        .secrets
        .iter()
        .position(|s| s.id == route.secret)
        .ok_or_else(ApiError::secret_not_found)
}

fn get_secret(world: &mut World, ctx: &mut Ctx<'_>, route: &Route) -> Result<Reply, ApiError> {
    let store = store_mut(world, route)?;
    let i = secret_index(store, route)?;
    let store_id = store.id.clone();
    Ok(Reply::ok(read_secret(
        &mut store.secrets[i],
        &store_id,
        ctx,
    )))
}

fn edit_secret(
    world: &mut World,
    ctx: &mut Ctx<'_>,
    route: &Route,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let store = store_mut(world, route)?;
    let i = secret_index(store, route)?;
    let Value::Object(obj) = parse_json(body)? else {
        return Err(ApiError::invalid_json());
    };
    let secret = &store.secrets[i];
    // `name` is not part of the PATCH schema; repeating the current name is tolerated
    // (2025 clients sent it), a different one is refused.
    match obj.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) if *name == secret.name => {}
        Some(Value::String(_)) => return Err(ApiError::bad("secret_name_immutable")),
        Some(_) => return Err(ApiError::invalid_json()),
    }
    let value = match obj.get("value") {
        None | Some(Value::Null) => None,
        v => Some(check_value(v, ctx.config.value_limit)?),
    };
    let scopes = match obj.get("scopes") {
        None | Some(Value::Null) => None,
        v => Some(check_scopes(v)?),
    };
    let comment = check_comment(obj.get("comment"))?;
    let store_id = store.id.clone();
    let secret = &mut store.secrets[i];
    if let Some(value) = value {
        secret.value = SecretValue::new(value);
    }
    if let Some(scopes) = scopes {
        secret.scopes = scopes;
    }
    if let Some(comment) = comment {
        secret.comment = Some(comment);
    }
    secret.modified = ctx.now.max(secret.modified + 1_000);
    Ok(Reply::ok(secret_json(secret, &store_id)).changed())
}

fn delete_secret(world: &mut World, route: &Route) -> Result<Reply, ApiError> {
    let store = store_mut(world, route)?;
    let i = secret_index(store, route)?;
    store.secrets.remove(i);
    Ok(Reply::ok(Value::Null).changed())
}

fn duplicate_secret(
    world: &mut World,
    ctx: &mut Ctx<'_>,
    route: &Route,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let usage = world.usage(&route.account);
    let store = store_mut(world, route)?;
    let i = secret_index(store, route)?;
    let Value::Object(obj) = parse_json(body)? else {
        return Err(ApiError::invalid_json());
    };
    let name = check_name(obj.get("name"))?;
    let scopes = check_scopes(obj.get("scopes"))?;
    let comment = match obj.get("comment") {
        None => store.secrets[i].comment.clone(),
        c => check_comment(c)?,
    };
    if store.secrets.iter().any(|s| s.name == name) {
        return Err(ApiError::conflict("secret_name_already_exists"));
    }
    if usage >= ctx.config.quota {
        return Err(quota_error(ctx));
    }
    let secret = Secret {
        id: (ctx.new_id)(),
        name,
        value: store.secrets[i].value.clone(),
        comment,
        scopes,
        created: ctx.now,
        modified: ctx.now,
        active: false,
        pending_reads: 0,
    };
    let rendered = secret_json(&secret, &store.id);
    store.secrets.push(secret);
    Ok(Reply::ok(rendered).changed())
}

/// Whether a method writes (for the "lost response" fault).
pub(crate) fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_replace_ids() {
        let (rest, t) =
            template("/client/v4/accounts/0123/secrets_store/stores/ab/secrets/cd/duplicate")
                .unwrap();
        assert_eq!(
            rest,
            "/accounts/0123/secrets_store/stores/ab/secrets/cd/duplicate"
        );
        assert_eq!(
            t,
            "/accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}/duplicate"
        );
        assert!(template("/client/v4/user").is_none());
    }

    #[test]
    fn resolve_rejects_bad_accounts_and_empty_ids() {
        let acct = "0123456789abcdef0123456789abcdef";
        let ok = format!("/client/v4/accounts/{acct}/secrets_store/stores/s1/secrets");
        assert!(
            matches!(resolve(&Method::GET, &ok), Resolved::Api(r) if r.endpoint == Endpoint::ListSecrets && r.store == "s1")
        );
        let bad = "/client/v4/accounts/NOPE/secrets_store/quota";
        assert!(matches!(resolve(&Method::GET, bad), Resolved::Error(e) if e.code == 7003));
        let empty = format!("/client/v4/accounts/{acct}/secrets_store/stores//secrets");
        assert!(matches!(resolve(&Method::GET, &empty), Resolved::Error(e) if e.code == 1000));
        let wrong_method = format!("/client/v4/accounts/{acct}/secrets_store/quota");
        assert!(
            matches!(resolve(&Method::POST, &wrong_method), Resolved::Error(e) if e.status == 404)
        );
    }

    #[test]
    fn auth_accepts_bearer_or_email_and_key() {
        let with = |token: Option<&str>, read_only: Option<&str>| EmulatorConfig {
            token: token.map(str::to_string),
            read_only_token: read_only.map(str::to_string),
            ..EmulatorConfig::default()
        };
        let mut h = HeaderMap::new();
        assert_eq!(access(&h, &with(None, None)), Access::Denied);
        h.insert("authorization", "Bearer tok".parse().unwrap());
        assert_eq!(access(&h, &with(None, None)), Access::Full);
        assert_eq!(access(&h, &with(Some("tok"), None)), Access::Full);
        assert_eq!(access(&h, &with(Some("other"), None)), Access::Denied);
        assert_eq!(
            access(&h, &with(Some("other"), Some("tok"))),
            Access::ReadOnly
        );
        // Without a configured token any token is accepted, but the read-only one stays
        // read-only.
        assert_eq!(access(&h, &with(None, Some("tok"))), Access::ReadOnly);
        let mut h = HeaderMap::new();
        h.insert("x-auth-key", "tok".parse().unwrap());
        assert_eq!(access(&h, &with(Some("tok"), None)), Access::Denied);
        h.insert("x-auth-email", "a@example.com".parse().unwrap());
        assert_eq!(access(&h, &with(Some("tok"), None)), Access::Full);
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(access(&h, &with(None, None)), Access::Denied);
    }
}
