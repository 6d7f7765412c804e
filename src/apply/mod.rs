//! The applier: executes a [`Plan`] against the client, account by account and stage by stage,
//! in the order the planner fixed, and reports what was done, what failed and what was not
//! attempted. It never re-plans and never prints: progress goes to a callback ([`Event`]) that
//! the `apply` command turns into a progress bar or one line per action.
//!
//! * Before the first write, [`Applier::precheck`] takes a plan that
//!   [`crate::plan::check_appliable`] accepted (not blocked, no problems, values compared) and
//!   checks every value it will send: present and matching the fingerprint the plan was made
//!   with (a mismatch means the value file moved under the plan). It returns the [`Checked`]
//!   plan, the only thing [`Applier::run`] executes, so each check runs once.
//! * Store creates first (the new ids are recorded for the later actions of that store); one
//!   batch create per action; duplicates, PATCHes and deletes concurrently, bounded by
//!   `parallelism`, under the client's shared pacer (`write.rs`).
//! * Writes that are not idempotent (store create, batch create, duplicate) are followed, when
//!   they fail or their outcome is unknown, by a re-list that decides what exists: a secret
//!   listed with exactly the comment (and so the ownership marker) that was sent counts as
//!   created. What is still missing after an unknown outcome is sent once more (`confirm.rs`).
//! * What each store holds before its deletes is known without a request: the live state the
//!   plan was made from, plus what this run's creates and copies answered. After the deletes
//!   the store is listed once: every deleted id must be gone and nothing else may have
//!   vanished; anything else is a loud failure (`verify.rs`).
//! * On the first failure, requests already running finish, nothing new starts, and the
//!   report says what was done, what failed and what was not attempted (`report.rs`). Each
//!   failure keeps a [`FailureCause`] from the typed client error: a transient one converges
//!   on the next run (it re-plans from live state); a permanent one (value size, quota, store
//!   limit, scopes, credentials) will fail again until something is changed (`failure.rs`).
//!
//! Plaintext leaves its [`SecretValue`] only into a request body (`NewSecret` /
//! `SecretPatch`); no event, report line or error carries it.

mod confirm;
mod failure;
mod report;
mod verify;
mod write;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::StreamExt;

use crate::cloudflare::Client;
use crate::domain::{StoreId, ValueKey};
use crate::live::LiveState;
use crate::plan::{AccountPlan, Action, ActionKind, Appliable, Plan, RefusedPlan, SecretChange};
use crate::values::{FingerprintKey, SecretValue, UnsealedValues};

pub use failure::FailureCause;
pub use report::{ApplyReport, DoneTally, Event, Failure, Timing, describe};

use report::{Outcome, Step};
use verify::Listing;

/// Concurrent duplicates, PATCHes and deletes when `--parallelism` is not given: Terraform's
/// default too. The pacer bounds the request rate whatever this is; the benchmark's sweep
/// (4, 8, 10, 16) found a 100-secret update with 20 PATCHes and 5 deletes a third faster at 10
/// than at 4, and no faster at 16 (BENCHMARKS.md).
pub const DEFAULT_PARALLELISM: usize = 10;

/// Executes plans. Borrowed inputs: the client, the live state the plan was made from, the
/// unsealed values and the fingerprint key.
pub struct Applier<'a> {
    pub client: &'a Client,
    /// The live state the plan was made from (for a saved plan: the state its digest was
    /// found current against). The check around deletes starts from its listings instead of
    /// listing each store again.
    pub live: &'a LiveState,
    pub values: &'a UnsealedValues,
    /// `None` only when no action sends a value (e.g. every secret is `value: keep`).
    pub fingerprint_key: Option<&'a FingerprintKey>,
    /// Concurrent duplicates, PATCHes and deletes (at least 1).
    pub parallelism: usize,
}

/// A plan that passed [`Applier::precheck`], with each value it sends, found and matching
/// its planned fingerprint. Only [`Applier::precheck`] makes one.
pub struct Checked<'p, 'a> {
    plan: &'p Plan,
    values: BTreeMap<ValueKey, &'a SecretValue>,
}

impl<'p> Checked<'p, '_> {
    /// The plan that was checked.
    pub fn plan(&self) -> &'p Plan {
        self.plan
    }
}

impl<'a> Applier<'a> {
    /// Every check of the values an appliable plan sends, before any write.
    pub fn precheck<'p>(&self, plan: Appliable<'p>) -> Result<Checked<'p, 'a>, RefusedPlan> {
        let plan = plan.plan();
        let unsealed: &'a UnsealedValues = self.values;
        let mut values = BTreeMap::new();
        for (account, action) in plan.actions() {
            for change in action.secrets.iter().filter(|c| c.send_value) {
                let shown = format!("{}/{}/{}", account.label, action.store.name, change.name);
                let key = Plan::value_key(account, action, change)
                    .ok_or_else(|| RefusedPlan::MissingValue(shown.clone()))?;
                let planned = change
                    .planned_fingerprint()
                    .ok_or_else(|| RefusedPlan::NoFingerprint(shown.clone()))?;
                let value = unsealed
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
                values.insert(key, value);
            }
        }
        Ok(Checked { plan, values })
    }

    /// Executes a checked plan: each account's stages in order, until the first failure.
    pub async fn run(
        &self,
        checked: Checked<'_, 'a>,
        on_event: &(dyn Fn(Event) + Sync),
    ) -> ApplyReport {
        let mut report = ApplyReport::default();
        for account in &checked.plan.accounts {
            let mut run = AccountRun::new(self, account, &checked.values, on_event);
            for stage in account.actions.chunk_by(|a, b| a.stage == b.stage) {
                if report.stopped() {
                    report.skip(account, stage);
                    continue;
                }
                let steps = run.stage(stage).await;
                report.record(account, steps);
            }
            report.write_requests += run.writes.into_inner();
        }
        report
    }
}

/// What the apply of one account carries from stage to stage.
struct AccountRun<'r, 'a> {
    client: &'a Client,
    parallelism: usize,
    account: &'r AccountPlan,
    /// The checked values, by [`Plan::value_key`].
    values: &'r BTreeMap<ValueKey, &'a SecretValue>,
    /// Store name → id: the ids the plan knows, then each store created.
    stores: BTreeMap<String, StoreId>,
    /// What each store holds as far as this run knows, by store id: the plan's live listing,
    /// plus what each create and copy answered, replaced by each listing after deletes. A
    /// store missing here (a write's outcome was learnt by a re-list) is listed before its
    /// deletes.
    known: Mutex<BTreeMap<StoreId, Listing>>,
    /// Write calls made (each logical call once).
    writes: AtomicU64,
    on_event: &'r (dyn Fn(Event) + Sync),
}

impl<'r, 'a> AccountRun<'r, 'a> {
    fn new(
        applier: &Applier<'a>,
        account: &'r AccountPlan,
        values: &'r BTreeMap<ValueKey, &'a SecretValue>,
        on_event: &'r (dyn Fn(Event) + Sync),
    ) -> Self {
        let stores = account
            .actions
            .iter()
            .filter_map(|a| a.store.id.clone().map(|id| (a.store.name.clone(), id)))
            .collect();
        let known = applier
            .live
            .account(&account.account_id)
            .map(|live| {
                live.stores
                    .iter()
                    .map(|store| (store.id.clone(), verify::listing(store)))
                    .collect()
            })
            .unwrap_or_default();
        AccountRun {
            client: applier.client,
            parallelism: applier.parallelism.max(1),
            account,
            values,
            stores,
            known: Mutex::new(known),
            writes: AtomicU64::new(0),
            on_event,
        }
    }

    /// Runs one stage (actions of one [`crate::plan::Stage`], all of one kind).
    async fn stage<'p>(&mut self, stage: &'p [Action]) -> Vec<Step<'p>> {
        match stage.first().map(|a| a.kind) {
            None => Vec::new(),
            Some(ActionKind::CreateStore | ActionKind::CreateSecrets) => {
                self.one_by_one(stage).await
            }
            Some(ActionKind::Duplicate | ActionKind::Update) => self.concurrently(stage).await,
            Some(ActionKind::Delete) => self.deletes(stage).await,
        }
    }

    /// Creates run one at a time (there is at most one per store); the first failure leaves
    /// the rest not attempted.
    async fn one_by_one<'p>(&mut self, stage: &'p [Action]) -> Vec<Step<'p>> {
        let mut steps = Vec::with_capacity(stage.len());
        let mut failed = false;
        for action in stage {
            let outcome = if failed {
                Outcome::NotAttempted
            } else if action.kind == ActionKind::CreateStore {
                self.create_store(action).await
            } else {
                self.create_secrets(action).await
            };
            failed |= outcome.is_failed();
            self.emit(&describe(action), &outcome);
            steps.push(Step::of(action, outcome));
        }
        steps
    }

    /// Single-secret writes, `parallelism` at a time; after a failure nothing new starts.
    /// Steps come back in plan order.
    async fn concurrently<'p>(&self, stage: &'p [Action]) -> Vec<Step<'p>> {
        let stop = AtomicBool::new(false);
        let mut steps: Vec<(usize, Step<'p>)> = futures::stream::iter(stage.iter().enumerate())
            .map(|(index, action)| {
                let stop = &stop;
                async move {
                    if stop.load(Ordering::SeqCst) {
                        return (index, Step::of(action, Outcome::NotAttempted));
                    }
                    let outcome = self.single(action).await;
                    if outcome.is_failed() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    self.emit(&describe(action), &outcome);
                    (index, Step::of(action, outcome))
                }
            })
            .buffer_unordered(self.parallelism)
            .collect()
            .await;
        steps.sort_by_key(|(index, _)| *index);
        steps.into_iter().map(|(_, step)| step).collect()
    }

    /// Deletes, between what their stores held and a check that they did what they said.
    async fn deletes<'p>(&self, stage: &'p [Action]) -> Vec<Step<'p>> {
        let before = match self.before_deletes(stage).await {
            Ok(before) => before,
            Err(failed) => {
                let mut steps = vec![failed];
                steps.extend(stage.iter().map(|a| Step::of(a, Outcome::NotAttempted)));
                return steps;
            }
        };
        let mut steps = self.concurrently(stage).await;
        let checks = self.verify_after(stage, &before, &steps).await;
        steps.extend(checks);
        steps
    }

    /// The id of the store `action` writes to: known to the plan, or created earlier.
    fn store_id(&self, action: &Action) -> Result<&StoreId, Outcome> {
        self.stores.get(&action.store.name).ok_or_else(|| {
            Outcome::check(format!(
                "store {} has no id (was it created?)",
                action.store.name
            ))
        })
    }

    /// The checked value `change` sends.
    fn value(&self, action: &Action, change: &SecretChange) -> Result<&'a SecretValue, Outcome> {
        Plan::value_key(self.account, action, change)
            .and_then(|key| self.values.get(&key).copied())
            .ok_or_else(|| {
                Outcome::check(format!("value of {} does not match the plan", change.name))
            })
    }

    fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Tells the caller how a write (or a check) ended.
    fn emit(&self, what: &str, outcome: &Outcome) {
        let account = self.account.label.clone();
        let action = what.to_string();
        match outcome {
            Outcome::Done(note) => (self.on_event)(Event::Done {
                account,
                action,
                note: note.clone(),
            }),
            Outcome::Failed(error, _) => (self.on_event)(Event::Failed {
                account,
                action,
                error: error.clone(),
            }),
            Outcome::NotAttempted => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Fingerprint, SecretName};
    use crate::plan::{FORMAT_VERSION, StoreRef, ValueChange, check_appliable};

    fn create_plan(fp: Fingerprint, values_compared: bool) -> Plan {
        let change = SecretChange {
            value: Some(ValueChange::New { new: Some(fp) }),
            send_value: true,
            ..SecretChange::new("A", "")
        };
        Plan {
            format_version: FORMAT_VERSION,
            values_compared,
            accounts: vec![AccountPlan {
                label: "prod".into(),
                account_id: crate::domain::AccountId::parse("0123456789abcdef0123456789abcdef")
                    .unwrap(),
                quota: None,
                actions: vec![Action {
                    stage: crate::plan::Stage::CreateSecrets,
                    kind: ActionKind::CreateSecrets,
                    store: StoreRef {
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
        let value_key = ValueKey::new("prod", "main", SecretName::parse("A").unwrap());
        values.insert(value_key.clone(), value);
        let config = crate::cloudflare::ClientConfig::new(
            "http://127.0.0.1:9/client/v4",
            crate::cloudflare::Auth::Token(crate::cloudflare::Credential::new("t")),
        )
        .unwrap();
        let client = Client::new(config).unwrap();
        let live = LiveState::default();
        let applier = Applier {
            client: &client,
            live: &live,
            values: &values,
            fingerprint_key: Some(&key),
            parallelism: 4,
        };
        let precheck = |plan: &Plan| {
            let appliable = check_appliable(plan).expect("an appliable plan");
            applier.precheck(appliable).err()
        };
        let plan = create_plan(good, true);
        let checked = applier
            .precheck(check_appliable(&plan).unwrap())
            .expect("a matching value passes");
        assert!(std::ptr::eq(checked.plan(), &plan));
        // The checked plan carries the value it will send, and only that.
        let sent: Vec<&ValueKey> = checked.values.keys().collect();
        assert_eq!(sent, [&value_key]);
        let err = precheck(&create_plan(other, true)).expect("a moved value is refused");
        assert!(matches!(err, RefusedPlan::FingerprintMismatch { .. }));
        assert!(!err.to_string().contains("precheck-plaintext"));
        assert_eq!(
            check_appliable(&create_plan(good, false)).err(),
            Some(RefusedPlan::ValuesNotCompared)
        );
        let empty = UnsealedValues::new();
        let without = Applier {
            values: &empty,
            ..applier
        };
        let plan = create_plan(good, true);
        assert!(matches!(
            without.precheck(check_appliable(&plan).unwrap()).err(),
            Some(RefusedPlan::MissingValue(s)) if s == "prod/main/A"
        ));
    }
}
