//! The applier: executes a [`Plan`] against the client, account by account and stage by stage,
//! in the order the planner fixed, and reports what was done, what failed and what was not
//! attempted. It never re-plans and never prints: progress goes to a callback ([`Event`]) that
//! the `apply` command turns into a progress bar or one line per action.
//!
//! * Before the first write, [`Applier::run`] checks the whole plan: not blocked, no problems,
//!   values compared, and every value it will send present and matching the fingerprint the
//!   plan was made with (a mismatch means the value file moved under the plan).
//! * Store creates first (the new ids are recorded for the later actions of that store); one
//!   batch create per action; duplicates, PATCHes and deletes concurrently, bounded by
//!   `parallelism`, under the client's shared pacer.
//! * Writes that are not idempotent (store create, batch create, duplicate) are followed, when
//!   they fail or their outcome is unknown, by a re-list that decides what exists: a secret
//!   listed with exactly the comment (and so the ownership marker) that was sent counts as
//!   created. What is still missing after an unknown outcome is sent once more.
//! * After each store's deletes the store is listed again: every deleted id must be gone and
//!   nothing else may have vanished; anything else is a loud failure.
//! * On the first failure, requests already running finish, nothing new starts, and the
//!   report says what was done, what failed and what was not attempted. Each failure keeps a
//!   [`FailureCause`] from the typed client error: a transient one converges on the next run
//!   (it re-plans from live state); a permanent one (value size, quota, store limit, scopes,
//!   credentials) will fail again until something is changed.
//!
//! Plaintext leaves its [`SecretValue`] only into a request body ([`NewSecret`] /
//! [`SecretPatch`]); no event, report line or error carries it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::StreamExt;

use crate::cloudflare::{
    Client, ClientError, DuplicateSecret, ErrorKind, ListSecrets, NewSecret, Secret, SecretPatch,
};
use crate::domain::Fingerprint;
use crate::plan::{
    AccountPlan, Action, ActionKind, FORMAT_VERSION, Plan, SecretChange, ValueChange,
};
use crate::values::{FingerprintKey, SecretValue, UnsealedValues};

/// Why a plan was refused before any write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefusedPlan {
    #[error("plan format version {0} is not supported (expected {FORMAT_VERSION})")]
    FormatVersion(u32),
    #[error("the plan is blocked by a safety rule ({0})")]
    Blocked(String),
    #[error("the plan has {} and cannot be applied", crate::output::count(*.0, "problem", "problems"))]
    Problems(usize),
    #[error(
        "the plan was made without an identity: values were not compared, so it cannot be applied"
    )]
    ValuesNotCompared,
    #[error("the plan gives no fingerprint for {0}")]
    NoFingerprint(String),
    #[error("no unsealed value for {0}")]
    MissingValue(String),
    #[error(
        "the value of {secret} does not match the plan (planned {planned}, now {actual}); plan again"
    )]
    FingerprintMismatch {
        secret: String,
        planned: String,
        actual: String,
    },
}

/// Checks a plan can be applied at all: format, not blocked, no problems, values compared.
pub fn check_appliable(plan: &Plan) -> Result<(), RefusedPlan> {
    if plan.format_version != FORMAT_VERSION {
        return Err(RefusedPlan::FormatVersion(plan.format_version));
    }
    if plan.has_problems() {
        return Err(RefusedPlan::Problems(plan.problems.len()));
    }
    if plan.is_blocked() {
        let rules: Vec<String> = plan
            .blocked
            .iter()
            .map(|b| format!("{}/{}: {}", b.account, b.store, b.message))
            .collect();
        return Err(RefusedPlan::Blocked(rules.join("; ")));
    }
    if !plan.values_compared {
        return Err(RefusedPlan::ValuesNotCompared);
    }
    Ok(())
}

/// The fingerprint a change says its value has (`None` for changes that send no value).
pub fn planned_fingerprint(change: &SecretChange) -> Option<Fingerprint> {
    match change.value.as_ref()? {
        ValueChange::New { new } | ValueChange::Unverified { new } => *new,
        ValueChange::Changed { new, .. } => Some(*new),
    }
}

/// Something that happened during an apply, for progress output. Never carries a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A write finished successfully (`note`: e.g. "confirmed by re-list").
    Done {
        account: String,
        action: String,
        note: Option<String>,
    },
    /// A write (or a verification) failed.
    Failed {
        account: String,
        action: String,
        error: String,
    },
}

/// Why a write failed, as far as running `apply` again is concerned. Derived from the typed
/// [`ClientError`] (never from its text), so the command can say whether a second run will
/// finish or fail the same way, and what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureCause {
    /// Transport trouble, an unknown outcome, 429 or 5xx, or live state that moved meanwhile
    /// (a name taken, a secret or store gone): a new run re-plans and should finish.
    Transient,
    /// `secret_value_too_long`: the account refuses a value this size.
    ValueTooLong,
    /// `maximum_secrets_exceeded`: the account's secret quota is full.
    SecretQuota,
    /// `maximum_stores_exceeded`: the account cannot hold another store.
    StoreLimit,
    /// The credentials were refused (or lack a permission).
    Credentials,
    /// `secret_scope_invalid` / `secret_scopes_empty`.
    Scopes,
    /// Any other refusal by the API (a 4xx, an unusable answer): it will be refused again.
    Refused,
    /// A check made by the applier itself failed (deletes not verified, a value that no
    /// longer matches the plan): look before running again.
    Verification,
}

impl FailureCause {
    /// The cause of a client error.
    pub fn of(e: &ClientError) -> Self {
        match e {
            ClientError::Transport { .. } | ClientError::OutcomeUnknown { .. } => Self::Transient,
            ClientError::Api(api) => {
                if api.is(ErrorKind::RateLimited) || api.status >= 500 {
                    Self::Transient
                } else if api.is(ErrorKind::Authentication) || matches!(api.status, 401 | 403) {
                    Self::Credentials
                } else if api.is(ErrorKind::SecretValueTooLong) {
                    Self::ValueTooLong
                } else if api.is(ErrorKind::MaximumSecretsExceeded) {
                    Self::SecretQuota
                } else if api.is(ErrorKind::MaximumStoresExceeded) {
                    Self::StoreLimit
                } else if api.is(ErrorKind::SecretScopeInvalid)
                    || api.is(ErrorKind::SecretScopesEmpty)
                {
                    Self::Scopes
                } else if api.is(ErrorKind::SecretNameAlreadyExists)
                    || api.is(ErrorKind::SecretNotFound)
                    || api.is(ErrorKind::StoreNotFound)
                {
                    // Someone changed the store meanwhile; the next plan sees it.
                    Self::Transient
                } else {
                    Self::Refused
                }
            }
            ClientError::RepeatedPage { .. } | ClientError::Refused { .. } => Self::Refused,
        }
    }

    /// Whether running `apply` again is expected to finish the work.
    pub fn is_transient(self) -> bool {
        self == Self::Transient
    }

    /// Of a write's failure and a follow-up's failure, the one that decides: a permanent
    /// cause wins over a transient one.
    fn or(self, other: Self) -> Self {
        if self.is_transient() { other } else { self }
    }
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// `label: description` of each action done.
    pub done: Vec<String>,
    /// `label: description: error` of each failure.
    pub failed: Vec<String>,
    /// The cause of each failure, in the order of [`ApplyReport::failed`].
    pub causes: Vec<FailureCause>,
    /// `label: description` of each action not attempted after a failure.
    pub not_attempted: Vec<String>,
    /// Write calls made (each logical call once; the client's retries are in its stats).
    pub write_requests: u64,
    /// What the actions done amounted to, store by store and secret by secret.
    pub tally: DoneTally,
}

/// Stores and secrets touched by the actions done (one batch create counts each secret).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoneTally {
    pub stores_created: usize,
    pub secrets_created: usize,
    pub secrets_copied: usize,
    pub secrets_updated: usize,
    pub secrets_deleted: usize,
}

impl DoneTally {
    fn add(&mut self, action: &Action) {
        let n = action.secrets.len();
        match action.kind {
            ActionKind::CreateStore => self.stores_created += 1,
            ActionKind::CreateSecrets => self.secrets_created += n,
            ActionKind::Duplicate => self.secrets_copied += n,
            ActionKind::Update => self.secrets_updated += n,
            ActionKind::Delete => self.secrets_deleted += n,
        }
    }

    /// `1 store created, 3 secrets created, 2 updated` (empty when nothing was done).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.stores_created > 0 {
            parts.push(format!(
                "{} created",
                crate::output::count(self.stores_created, "store", "stores")
            ));
        }
        let mut noun = true;
        for (n, verb) in [
            (self.secrets_created, "created"),
            (self.secrets_copied, "copied"),
            (self.secrets_updated, "updated"),
            (self.secrets_deleted, "deleted"),
        ] {
            if n == 0 {
                continue;
            }
            if noun {
                parts.push(format!(
                    "{} {verb}",
                    crate::output::count(n, "secret", "secrets")
                ));
                noun = false;
            } else {
                parts.push(format!("{n} {verb}"));
            }
        }
        parts.join(", ")
    }
}

impl ApplyReport {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.not_attempted.is_empty()
    }

    /// Whether every failure is transient, so running `apply` again should finish.
    pub fn only_transient_failures(&self) -> bool {
        self.causes.iter().all(|c| c.is_transient())
    }

    /// The permanent causes among the failures, each once, in a fixed order.
    pub fn permanent_causes(&self) -> Vec<FailureCause> {
        let set: BTreeSet<FailureCause> = self
            .causes
            .iter()
            .copied()
            .filter(|c| !c.is_transient())
            .collect();
        set.into_iter().collect()
    }
}

/// A one-line description of an action (names only).
pub fn describe(action: &Action) -> String {
    let store = &action.store.name;
    let names = || {
        action
            .secrets
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match action.kind {
        ActionKind::CreateStore => format!("create store {store}"),
        ActionKind::CreateSecrets => format!("create {store}/{}", names()),
        ActionKind::Duplicate => {
            let from = action
                .secrets
                .first()
                .and_then(|s| s.source.as_ref())
                .map(|s| s.name.as_str())
                .unwrap_or("?");
            format!("copy {store}/{from} to {}", names())
        }
        ActionKind::Update => format!("update {store}/{}", names()),
        ActionKind::Delete => format!("delete {store}/{}", names()),
    }
}

/// Executes plans. Borrowed inputs: the client, the unsealed values and the fingerprint key.
pub struct Applier<'a> {
    pub client: &'a Client,
    pub values: &'a UnsealedValues,
    /// `None` only when no action sends a value (e.g. every secret is `value: keep`).
    pub fingerprint_key: Option<&'a FingerprintKey>,
    /// Concurrent duplicates, PATCHes and deletes (at least 1).
    pub parallelism: usize,
}

enum Outcome {
    Done(Option<String>),
    Failed(String, FailureCause),
    NotAttempted,
}

impl Outcome {
    /// A failure of the applier's own checks.
    fn check(message: String) -> Self {
        Outcome::Failed(message, FailureCause::Verification)
    }

    /// A failed client call.
    fn client(e: &ClientError) -> Self {
        Outcome::Failed(e.to_string(), FailureCause::of(e))
    }

    /// A write failed and the re-list meant to learn its outcome failed too.
    fn relist_failed(write: &ClientError, list: &ClientError) -> Self {
        Outcome::Failed(
            format!("{write}; re-list failed: {list}"),
            FailureCause::of(write).or(FailureCause::of(list)),
        )
    }
}

fn wire_scopes(change: &SecretChange) -> Vec<String> {
    change
        .scopes
        .as_ref()
        .map(|s| s.new_wire())
        .unwrap_or_default()
}

impl<'a> Applier<'a> {
    /// Every check of the plan and its values, before any write.
    pub fn precheck(&self, plan: &Plan) -> Result<(), RefusedPlan> {
        check_appliable(plan)?;
        for (account, action) in plan.actions() {
            for change in &action.secrets {
                if !change.send_value {
                    continue;
                }
                let shown = format!("{}/{}/{}", account.label, action.store.name, change.name);
                let key = Plan::value_key(account, action, change)
                    .ok_or_else(|| RefusedPlan::MissingValue(shown.clone()))?;
                let planned = planned_fingerprint(change)
                    .ok_or_else(|| RefusedPlan::NoFingerprint(shown.clone()))?;
                let value = self
                    .values
                    .get(&key)
                    .ok_or_else(|| RefusedPlan::MissingValue(shown.clone()))?;
                let fingerprint_key = self
                    .fingerprint_key
                    .ok_or_else(|| RefusedPlan::MissingValue(shown.clone()))?;
                let actual = fingerprint_key.fingerprint(value);
                if actual != planned {
                    return Err(RefusedPlan::FingerprintMismatch {
                        secret: shown,
                        planned: planned.short(),
                        actual: actual.short(),
                    });
                }
            }
        }
        Ok(())
    }

    fn value(
        &self,
        account: &AccountPlan,
        action: &Action,
        change: &SecretChange,
    ) -> Option<&'a SecretValue> {
        let key = Plan::value_key(account, action, change)?;
        let value = self.values.get(&key)?;
        // Re-checked at send time too: the map must hold what the plan was made from.
        (Some(self.fingerprint_key?.fingerprint(value)) == planned_fingerprint(change))
            .then_some(value)
    }

    /// Checks the plan ([`Applier::precheck`]) and, if it passes, executes it.
    pub async fn run(
        &self,
        plan: &Plan,
        on_event: &(dyn Fn(Event) + Sync),
    ) -> Result<ApplyReport, RefusedPlan> {
        self.precheck(plan)?;
        let writes = AtomicU64::new(0);
        let mut report = ApplyReport::default();
        let mut stopped = false;
        for account in &plan.accounts {
            let mut stores: BTreeMap<String, String> = account
                .actions
                .iter()
                .filter_map(|a| a.store.id.clone().map(|id| (a.store.name.clone(), id)))
                .collect();
            let actions = &account.actions;
            let mut i = 0;
            while i < actions.len() {
                let stage = actions[i].stage;
                let end = i + actions[i..].iter().take_while(|a| a.stage == stage).count();
                let group = &actions[i..end];
                i = end;
                if stopped {
                    for a in group {
                        report
                            .not_attempted
                            .push(format!("{}: {}", account.label, describe(a)));
                    }
                    continue;
                }
                let outcomes = self
                    .run_stage(account, group, &mut stores, &writes, on_event)
                    .await;
                for (action, planned, outcome) in outcomes {
                    let line = format!("{}: {}", account.label, action);
                    match outcome {
                        Outcome::Done(_) => {
                            report.done.push(line);
                            if let Some(planned) = planned {
                                report.tally.add(planned);
                            }
                        }
                        Outcome::Failed(error, cause) => {
                            stopped = true;
                            report.failed.push(format!("{line}: {error}"));
                            report.causes.push(cause);
                        }
                        Outcome::NotAttempted => report.not_attempted.push(line),
                    }
                }
            }
        }
        report.write_requests = writes.load(Ordering::Relaxed);
        Ok(report)
    }

    /// Runs one stage of one account; returns (description, outcome) per action, plus
    /// verification failures.
    async fn run_stage<'p>(
        &self,
        account: &AccountPlan,
        group: &'p [Action],
        stores: &mut BTreeMap<String, String>,
        writes: &AtomicU64,
        on_event: &(dyn Fn(Event) + Sync),
    ) -> Vec<(String, Option<&'p Action>, Outcome)> {
        let emit = |action: &str, outcome: &Outcome| match outcome {
            Outcome::Done(note) => on_event(Event::Done {
                account: account.label.clone(),
                action: action.to_string(),
                note: note.clone(),
            }),
            Outcome::Failed(error, _) => on_event(Event::Failed {
                account: account.label.clone(),
                action: action.to_string(),
                error: error.clone(),
            }),
            Outcome::NotAttempted => {}
        };
        let mut results = Vec::new();
        let Some(first) = group.first() else {
            return results;
        };
        match first.kind {
            ActionKind::CreateStore | ActionKind::CreateSecrets => {
                // Sequential: at most one per store.
                let mut failed = false;
                for action in group {
                    let outcome = if failed {
                        Outcome::NotAttempted
                    } else if action.kind == ActionKind::CreateStore {
                        self.create_store(account, action, stores, writes).await
                    } else {
                        self.create_secrets(account, action, stores, writes).await
                    };
                    failed |= matches!(outcome, Outcome::Failed(..));
                    emit(&describe(action), &outcome);
                    results.push((describe(action), Some(action), outcome));
                }
            }
            ActionKind::Duplicate | ActionKind::Update | ActionKind::Delete => {
                let deleting = first.kind == ActionKind::Delete;
                // Before deletes: what each store holds, to verify afterwards.
                let mut before: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
                if deleting {
                    for action in group {
                        let name = &action.store.name;
                        if before.contains_key(name) {
                            continue;
                        }
                        let Some(id) = stores.get(name) else { continue };
                        match self.list(account, id).await {
                            Ok(listed) => {
                                before.insert(name.clone(), listed);
                            }
                            Err(e) => {
                                let what = format!("list {name} before deleting");
                                let outcome = Outcome::client(&e);
                                emit(&what, &outcome);
                                results.push((what, None, outcome));
                                for a in group {
                                    results.push((describe(a), Some(a), Outcome::NotAttempted));
                                }
                                return results;
                            }
                        }
                    }
                }
                let stop = AtomicBool::new(false);
                let stores_ro: &BTreeMap<String, String> = stores;
                let mut by_index: Vec<(usize, String, Outcome)> =
                    futures::stream::iter(group.iter().enumerate())
                        .map(|(index, action)| {
                            let stop = &stop;
                            async move {
                                if stop.load(Ordering::SeqCst) {
                                    return (index, describe(action), Outcome::NotAttempted);
                                }
                                let outcome = match stores_ro.get(&action.store.name) {
                                    None => Outcome::check(format!(
                                        "store {} has no id (was it created?)",
                                        action.store.name
                                    )),
                                    Some(store_id) => {
                                        self.single(account, action, store_id, writes).await
                                    }
                                };
                                if matches!(outcome, Outcome::Failed(..)) {
                                    stop.store(true, Ordering::SeqCst);
                                }
                                let description = describe(action);
                                emit(&description, &outcome);
                                (index, description, outcome)
                            }
                        })
                        .buffer_unordered(self.parallelism.max(1))
                        .collect()
                        .await;
                // Report in plan order.
                by_index.sort_by_key(|(i, _, _)| *i);
                if deleting {
                    for (store, listed_before) in &before {
                        let requested: BTreeSet<&str> = group
                            .iter()
                            .filter(|a| &a.store.name == store)
                            .flat_map(|a| a.secrets.iter().filter_map(|s| s.id.as_deref()))
                            .collect();
                        let done: BTreeSet<&str> = by_index
                            .iter()
                            .filter(|(i, _, o)| {
                                matches!(o, Outcome::Done(_))
                                    && group.get(*i).is_some_and(|a| &a.store.name == store)
                            })
                            .flat_map(|(i, _, _)| {
                                group[*i].secrets.iter().filter_map(|s| s.id.as_deref())
                            })
                            .collect();
                        let what = format!("verify deletes in {store}");
                        let outcome = match self.list(account, &stores_ro[store]).await {
                            Err(e) => Outcome::client(&e),
                            Ok(after) => verify_deletes(listed_before, &after, &requested, &done),
                        };
                        if let Outcome::Failed(..) = outcome {
                            emit(&what, &outcome);
                            by_index.push((usize::MAX, what, outcome));
                        }
                    }
                }
                results.extend(by_index.into_iter().map(|(i, d, o)| (d, group.get(i), o)));
            }
        }
        results
    }

    /// Lists a store's secrets: id → (name, comment) flattened to id → name, skipping
    /// `deleted` ones.
    async fn list(
        &self,
        account: &AccountPlan,
        store_id: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        Ok(self
            .relist(account, store_id)
            .await?
            .map(|s| (s.id, s.name))
            .collect())
    }

    /// Names in a store with their comments (for confirming creates after a re-list).
    async fn comments(
        &self,
        account: &AccountPlan,
        store_id: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        Ok(self
            .relist(account, store_id)
            .await?
            .map(|s| (s.name, s.comment.unwrap_or_default()))
            .collect())
    }

    /// The store's live secrets, `deleted` ones dropped.
    async fn relist(
        &self,
        account: &AccountPlan,
        store_id: &str,
    ) -> Result<impl Iterator<Item = Secret> + use<>, ClientError> {
        Ok(self
            .client
            .list_secrets(&account.account_id, store_id, &ListSecrets::default())
            .await?
            .into_iter()
            .filter(|s| s.status != "deleted"))
    }

    async fn create_store(
        &self,
        account: &AccountPlan,
        action: &Action,
        stores: &mut BTreeMap<String, String>,
        writes: &AtomicU64,
    ) -> Outcome {
        let name = &action.store.name;
        let mut last_error = String::new();
        let mut last_cause = FailureCause::Transient;
        for _ in 0..2 {
            writes.fetch_add(1, Ordering::Relaxed);
            match self.client.create_store(&account.account_id, name).await {
                Ok(store) => {
                    stores.insert(name.clone(), store.id);
                    return Outcome::Done(None);
                }
                Err(e) => {
                    last_error = e.to_string();
                    last_cause = FailureCause::of(&e);
                    let unknown = e.is_outcome_unknown();
                    match self.client.list_stores(&account.account_id).await {
                        Ok(listed) => {
                            if let Some(found) = listed.into_iter().find(|s| &s.name == name) {
                                stores.insert(name.clone(), found.id);
                                return Outcome::Done(Some("confirmed by re-list".into()));
                            }
                        }
                        Err(list_error) => {
                            return Outcome::relist_failed(&e, &list_error);
                        }
                    }
                    if !unknown {
                        break;
                    }
                }
            }
        }
        Outcome::Failed(last_error, last_cause)
    }

    async fn create_secrets(
        &self,
        account: &AccountPlan,
        action: &Action,
        stores: &BTreeMap<String, String>,
        writes: &AtomicU64,
    ) -> Outcome {
        let Some(store_id) = stores.get(&action.store.name) else {
            return Outcome::check(format!(
                "store {} has no id (was it created?)",
                action.store.name
            ));
        };
        let mut pending: Vec<&SecretChange> = action.secrets.iter().collect();
        let mut last_error = String::new();
        let mut last_cause = FailureCause::Transient;
        for _ in 0..2 {
            let mut scopes = Vec::with_capacity(pending.len());
            for change in &pending {
                scopes.push(wire_scopes(change));
            }
            let mut items = Vec::with_capacity(pending.len());
            for (change, scopes) in pending.iter().zip(&scopes) {
                let Some(value) = self.value(account, action, change) else {
                    return Outcome::check(format!(
                        "value of {} does not match the plan",
                        change.name
                    ));
                };
                items.push(NewSecret {
                    name: &change.name,
                    value: value.expose_secret(),
                    scopes,
                    comment: change.comment.as_deref(),
                });
            }
            writes.fetch_add(1, Ordering::Relaxed);
            let result = self
                .client
                .create_secrets(&account.account_id, store_id, &items)
                .await;
            drop(items);
            let error = match result {
                Ok(_) => return Outcome::Done(None),
                Err(e) => e,
            };
            last_error = error.to_string();
            last_cause = FailureCause::of(&error);
            // Learn what exists before deciding.
            let listed = match self.comments(account, store_id).await {
                Ok(listed) => listed,
                Err(list_error) => {
                    return Outcome::relist_failed(&error, &list_error);
                }
            };
            pending.retain(|c| listed.get(&c.name) != c.comment.as_ref());
            if pending.is_empty() {
                return Outcome::Done(Some("confirmed by re-list".into()));
            }
            if !error.is_outcome_unknown() {
                break;
            }
        }
        let missing: Vec<&str> = pending.iter().map(|c| c.name.as_str()).collect();
        Outcome::Failed(
            format!("{last_error} (not created: {})", missing.join(", ")),
            last_cause,
        )
    }

    /// One duplicate, PATCH or delete.
    async fn single(
        &self,
        account: &AccountPlan,
        action: &Action,
        store_id: &str,
        writes: &AtomicU64,
    ) -> Outcome {
        let Some(change) = action.secrets.first() else {
            return Outcome::check("action names no secret".into());
        };
        let account_id = account.account_id.as_str();
        match action.kind {
            ActionKind::Duplicate => {
                let Some(source) = &change.source else {
                    return Outcome::check("copy names no source".into());
                };
                let scopes = wire_scopes(change);
                let body = DuplicateSecret {
                    name: &change.name,
                    scopes: &scopes,
                    comment: change.comment.as_deref(),
                };
                let mut last_error = String::new();
                let mut last_cause = FailureCause::Transient;
                for _ in 0..2 {
                    writes.fetch_add(1, Ordering::Relaxed);
                    match self
                        .client
                        .duplicate_secret(account_id, store_id, &source.id, &body)
                        .await
                    {
                        Ok(_) => return Outcome::Done(None),
                        Err(e) => {
                            last_error = e.to_string();
                            last_cause = FailureCause::of(&e);
                            match self.comments(account, store_id).await {
                                Ok(listed)
                                    if listed.get(&change.name) == change.comment.as_ref() =>
                                {
                                    return Outcome::Done(Some("confirmed by re-list".into()));
                                }
                                Ok(_) => {}
                                Err(list_error) => {
                                    return Outcome::relist_failed(&e, &list_error);
                                }
                            }
                            if !e.is_outcome_unknown() {
                                break;
                            }
                        }
                    }
                }
                Outcome::Failed(last_error, last_cause)
            }
            ActionKind::Update => {
                let Some(id) = &change.id else {
                    return Outcome::check("update names no secret id".into());
                };
                let value = if change.send_value {
                    match self.value(account, action, change) {
                        Some(v) => Some(v.expose_secret()),
                        None => {
                            return Outcome::check(format!(
                                "value of {} does not match the plan",
                                change.name
                            ));
                        }
                    }
                } else {
                    None
                };
                let scopes = change.scopes.as_ref().map(|_| wire_scopes(change));
                let patch = SecretPatch {
                    value,
                    scopes: scopes.as_deref(),
                    comment: change.comment.as_deref(),
                };
                writes.fetch_add(1, Ordering::Relaxed);
                match self
                    .client
                    .patch_secret(account_id, store_id, id, &patch)
                    .await
                {
                    Ok(_) => Outcome::Done(None),
                    Err(e) => Outcome::client(&e),
                }
            }
            ActionKind::Delete => {
                let Some(id) = &change.id else {
                    return Outcome::check("delete names no secret id".into());
                };
                writes.fetch_add(1, Ordering::Relaxed);
                match self.client.delete_secret(account_id, store_id, id).await {
                    Ok(()) => Outcome::Done(None),
                    Err(e) if e.is(ErrorKind::SecretNotFound) => {
                        Outcome::Done(Some("already gone".into()))
                    }
                    Err(e) => Outcome::client(&e),
                }
            }
            ActionKind::CreateStore | ActionKind::CreateSecrets => {
                Outcome::check("not a single-secret action".into())
            }
        }
    }
}

/// After a store's deletes: every id reported deleted is gone, and nothing vanished that was
/// not asked for. `before`/`after` map id → name.
fn verify_deletes(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    requested: &BTreeSet<&str>,
    done: &BTreeSet<&str>,
) -> Outcome {
    let still: Vec<&str> = done
        .iter()
        .filter(|id| after.contains_key(**id))
        .filter_map(|id| before.get(*id).map(String::as_str).or(Some(*id)))
        .collect();
    let vanished: Vec<&str> = before
        .iter()
        .filter(|(id, _)| !after.contains_key(*id) && !requested.contains(id.as_str()))
        .map(|(_, name)| name.as_str())
        .collect();
    let mut errors = Vec::new();
    if !still.is_empty() {
        errors.push(format!(
            "still listed after their delete succeeded: {}",
            still.join(", ")
        ));
    }
    if !vanished.is_empty() {
        errors.push(format!(
            "secrets vanished that this apply did not delete: {}",
            vanished.join(", ")
        ));
    }
    if errors.is_empty() {
        Outcome::Done(None)
    } else {
        Outcome::check(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SecretName;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn delete_verification_names_leftovers_and_strays() {
        let before = map(&[("1", "A"), ("2", "B"), ("3", "C")]);
        let requested: BTreeSet<&str> = ["1"].into_iter().collect();
        let done = requested.clone();
        assert!(matches!(
            verify_deletes(&before, &map(&[("2", "B"), ("3", "C")]), &requested, &done),
            Outcome::Done(_)
        ));
        match verify_deletes(&before, &map(&[("1", "A"), ("3", "C")]), &requested, &done) {
            Outcome::Failed(e, cause) => {
                assert_eq!(cause, FailureCause::Verification);
                assert!(e.contains("still listed") && e.contains('A'), "{e}");
                assert!(e.contains("did not delete: B"), "{e}");
            }
            _ => panic!("expected a failure"),
        }
    }

    fn create_plan(fp: Fingerprint, values_compared: bool) -> Plan {
        let change = SecretChange {
            name: "A".into(),
            id: None,
            source: None,
            delete_cause: None,
            value: Some(ValueChange::New { new: Some(fp) }),
            send_value: true,
            scopes: None,
            user_comment: None,
            marker: None,
            comment: None,
            reason: String::new(),
        };
        Plan {
            format_version: FORMAT_VERSION,
            values_compared,
            accounts: vec![AccountPlan {
                label: "prod".into(),
                account_id: "0123456789abcdef0123456789abcdef".into(),
                quota: None,
                actions: vec![Action {
                    stage: crate::plan::Stage::CreateSecrets,
                    kind: ActionKind::CreateSecrets,
                    store: crate::plan::StoreRef {
                        name: "main".into(),
                        id: Some("s".into()),
                    },
                    secrets: vec![change],
                    reason: String::new(),
                }],
                protected: Vec::new(),
                unmanaged: Vec::new(),
                notes: Vec::new(),
                warnings: Vec::new(),
            }],
            notes: Vec::new(),
            problems: Vec::new(),
            blocked: Vec::new(),
            summary: Default::default(),
            digest: None,
        }
    }

    #[test]
    fn precheck_refuses_before_any_write() {
        let key = FingerprintKey::from_text(&[b'a'; 64], std::path::Path::new("k")).unwrap();
        let value = SecretValue::new("precheck-plaintext-1234".to_string());
        let good = key.fingerprint(&value);
        let other = key.fingerprint(&SecretValue::new("another".to_string()));
        let mut values = UnsealedValues::new();
        values.insert(
            crate::domain::ValueKey::new("prod", "main", SecretName::parse("A").unwrap()),
            value,
        );
        let config = crate::cloudflare::ClientConfig::new(
            "http://127.0.0.1:9/client/v4",
            crate::cloudflare::Auth::Token(crate::cloudflare::Credential::new("t")),
        )
        .unwrap();
        let client = Client::new(config).unwrap();
        let applier = Applier {
            client: &client,
            values: &values,
            fingerprint_key: Some(&key),
            parallelism: 4,
        };
        assert_eq!(applier.precheck(&create_plan(good, true)), Ok(()));
        let err = applier.precheck(&create_plan(other, true)).unwrap_err();
        assert!(matches!(err, RefusedPlan::FingerprintMismatch { .. }));
        assert!(!err.to_string().contains("precheck-plaintext"));
        assert_eq!(
            applier.precheck(&create_plan(good, false)),
            Err(RefusedPlan::ValuesNotCompared)
        );
        let empty = UnsealedValues::new();
        let without = Applier {
            values: &empty,
            ..applier
        };
        assert!(matches!(
            without.precheck(&create_plan(good, true)),
            Err(RefusedPlan::MissingValue(s)) if s == "prod/main/A"
        ));
    }

    fn api(status: u16, code: Option<u32>, token: &str) -> ClientError {
        ClientError::Api(crate::cloudflare::ApiError {
            endpoint: crate::cloudflare::Endpoint::CreateSecrets,
            account_id: "a".into(),
            status,
            code,
            message_token: token.into(),
            more: vec![],
        })
    }

    #[test]
    fn failures_are_classed_by_whether_a_new_run_can_finish() {
        use FailureCause::*;
        let cases = [
            (api(429, Some(971), "Please wait"), Transient),
            (api(503, None, ""), Transient),
            (
                api(409, Some(1003), "secret_name_already_exists"),
                Transient,
            ),
            (api(400, Some(1001), "secret_value_too_long"), ValueTooLong),
            (
                api(409, Some(1003), "maximum_secrets_exceeded: max 5"),
                SecretQuota,
            ),
            (api(409, Some(1003), "maximum_stores_exceeded"), StoreLimit),
            (api(400, Some(1001), "secret_scope_invalid"), Scopes),
            (api(403, Some(10000), "Authentication error"), Credentials),
            (api(400, Some(1001), "invalid_json_body"), Refused),
        ];
        for (error, cause) in cases {
            assert_eq!(FailureCause::of(&error), cause, "{error}");
        }
        let unknown = ClientError::OutcomeUnknown {
            endpoint: crate::cloudflare::Endpoint::CreateSecrets,
            account_id: "a".into(),
            kind: crate::cloudflare::TransportKind::Timeout,
        };
        assert_eq!(FailureCause::of(&unknown), Transient);
        // A permanent write failure is not hidden by a transient re-list failure.
        assert_eq!(ValueTooLong.or(Transient), ValueTooLong);
        assert_eq!(Transient.or(SecretQuota), SecretQuota);
        let report = ApplyReport {
            causes: vec![Transient, SecretQuota, Transient, SecretQuota],
            ..ApplyReport::default()
        };
        assert!(!report.only_transient_failures());
        assert_eq!(report.permanent_causes(), [SecretQuota]);
    }

    #[test]
    fn descriptions_name_store_and_secrets() {
        let change = |name: &str| SecretChange {
            name: name.into(),
            id: Some("x".into()),
            source: None,
            delete_cause: None,
            value: None,
            send_value: false,
            scopes: None,
            user_comment: None,
            marker: None,
            comment: None,
            reason: String::new(),
        };
        let action = Action {
            stage: crate::plan::Stage::CreateSecrets,
            kind: ActionKind::CreateSecrets,
            store: crate::plan::StoreRef {
                name: "main".into(),
                id: None,
            },
            secrets: vec![change("A"), change("B")],
            reason: String::new(),
        };
        assert_eq!(describe(&action), "create main/A, B");
    }
}
