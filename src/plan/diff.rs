//! The planner: `diff(desired, live, value facts, options) -> Plan`.
//!
//! Architecture invariant: pure and deterministic. No I/O, no async, no clock, no randomness,
//! no plaintext: the same inputs give a byte-identical plan. Iteration follows the manifest's
//! order for accounts and stores and name order for secrets.
//!
//! Each account is planned in named steps (`AccountPlanner::run`):
//!
//! 1. `plan_stores`: per declared store, its create when it is missing, its secrets
//!    (`plan/store.rs`, building changes in `plan/change.rs`) and its safety check
//!    (`plan/safety.rs`);
//! 2. `note_undeclared_stores`: live stores the manifest does not name are left alone;
//! 3. `plan_quota`: whether the plan fits the account's quota, and whether deletes must
//!    run first for it to (`plan/quota.rs`);
//! 4. the ordering of the changes into actions, stage by stage (`plan/order.rs`).

use std::collections::BTreeSet;

use crate::live::{LiveAccount, LiveState, LiveStore};
use crate::manifest::{Desired, DesiredAccount, DesiredStore, Safety};
use crate::text::count;

use super::facts::ValueFacts;
use super::model::*;
use super::quota::{self, Growth};
use super::store::StorePlanner;
use super::{order, safety};

// The value size limit (API notes §10): above `MAX_VALUE_BYTES` the API refuses a value (a
// problem). It is the limit `values` checks when unsealing, shared so the two can never
// disagree.
pub use crate::domain::MAX_VALUE_BYTES;
/// Default number of secrets per batch create request.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Knobs that do not come from the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--allow-deletes N`: allow up to N deletes per store, replacing the manifest's safety
    /// thresholds.
    pub allow_deletes: Option<u32>,
    /// Secrets per batch create request (at least 1; default 100).
    pub batch_size: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            allow_deletes: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// Plans the changes that make `live` match `desired`, given what is known of the declared
/// values (without an identity, [`ValueFacts::NotCompared`]: values are then not compared).
pub fn diff(
    desired: &Desired,
    live: &LiveState,
    values: &ValueFacts,
    options: &PlanOptions,
) -> Plan {
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        values_compared: values.is_compared(),
        accounts: Vec::new(),
        notes: Vec::new(),
        problems: Vec::new(),
        blocked: Vec::new(),
        summary: Summary::default(),
        digest: None,
    };
    if !values.is_compared() {
        plan.notes.push(
            "values were not compared: no identity was available, so value changes are unknown \
             and this plan cannot be applied"
                .to_string(),
        );
    }
    for account in &desired.accounts {
        let live_account = live.account(&account.account_id);
        let section = AccountPlanner {
            desired: account,
            live: live_account,
            values,
            options,
            safety: &desired.safety,
            problems: &mut plan.problems,
            blocked: &mut plan.blocked,
            summary: &mut plan.summary,
        }
        .run();
        plan.accounts.push(section);
    }
    plan.summary.write_requests = plan.accounts.iter().map(|a| a.actions.len() as u32).sum();
    plan
}

/// One store's changes, before they are ordered into actions.
#[derive(Default)]
pub(super) struct StoreWork {
    pub creates: Vec<SecretChange>,
    pub duplicates: Vec<SecretChange>,
    pub updates: Vec<SecretChange>,
    pub deletes: Vec<SecretChange>,
}

/// Plans one account; what it finds wrong goes to the plan-wide lists and counts.
pub(super) struct AccountPlanner<'a> {
    pub desired: &'a DesiredAccount,
    pub live: Option<&'a LiveAccount>,
    pub values: &'a ValueFacts,
    pub options: &'a PlanOptions,
    pub safety: &'a Safety,
    pub problems: &'a mut Vec<Problem>,
    pub blocked: &'a mut Vec<BlockReason>,
    pub summary: &'a mut Summary,
}

impl AccountPlanner<'_> {
    fn run(mut self) -> AccountPlan {
        let mut section = self.section();
        let (store_creates, work) = self.plan_stores(&mut section);
        self.note_undeclared_stores(&mut section);
        let deletes_first = self.plan_quota(&work, &mut section);
        section.actions =
            order::actions(store_creates, &work, deletes_first, self.options.batch_size);
        section
    }

    /// The account's section, empty but for a note when the account is not live.
    fn section(&self) -> AccountPlan {
        let mut section = AccountPlan {
            label: self.desired.label.clone(),
            account_id: self.desired.account_id.clone(),
            quota: None,
            actions: Vec::new(),
            protected: Vec::new(),
            unmanaged: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        };
        if self.live.is_none() {
            section
                .notes
                .push("account not found in the live snapshot; treated as empty".to_string());
        }
        section
    }

    /// Each declared store: its create when missing, its changes and its safety check.
    fn plan_stores(
        &mut self,
        section: &mut AccountPlan,
    ) -> (Vec<Action>, Vec<(StoreRef, StoreWork)>) {
        let mut store_creates = Vec::new();
        let mut work = Vec::new();
        for store in &self.desired.stores {
            let live_store = self.live.and_then(|a| a.store(&store.name));
            let store_ref = StoreRef {
                name: store.name.clone(),
                id: live_store.map(|s| s.id.clone()),
            };
            if live_store.is_none() {
                store_creates.push(self.create_store(store, &store_ref, section));
            }
            let w = StorePlanner::new(self, section, store, live_store).plan();
            self.check_safety(store, live_store, &w);
            work.push((store_ref, w));
        }
        (store_creates, work)
    }

    /// The create of a declared store that is not live, with a warning when the account
    /// already holds another (the beta allows one store per account).
    fn create_store(
        &mut self,
        store: &DesiredStore,
        store_ref: &StoreRef,
        section: &mut AccountPlan,
    ) -> Action {
        let others: Vec<&str> = self
            .live
            .map(|a| a.stores.iter().map(|s| s.name.as_str()).collect())
            .unwrap_or_default();
        if !others.is_empty() {
            section.warnings.push(format!(
                "account already holds store {}; the beta allows one store per account, so \
                 creating {} may fail",
                others.join(", "),
                store.name
            ));
        }
        self.summary.stores_to_create += 1;
        Action {
            stage: Stage::CreateStores,
            kind: ActionKind::CreateStore,
            store: store_ref.clone(),
            secrets: Vec::new(),
            reason: "declared, not found live".to_string(),
        }
    }

    /// The safety step (`plan/safety.rs`) for one store's planned deletes.
    fn check_safety(&mut self, store: &DesiredStore, live: Option<&LiveStore>, w: &StoreWork) {
        self.blocked.extend(safety::check(
            &self.desired.label,
            store,
            live,
            &w.deletes,
            self.safety,
            self.options.allow_deletes,
        ));
    }

    /// Live stores the manifest does not name: left alone, and said so.
    fn note_undeclared_stores(&self, section: &mut AccountPlan) {
        let Some(live) = self.live else {
            return;
        };
        let declared: BTreeSet<&str> = self
            .desired
            .stores
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        for store in &live.stores {
            if !declared.contains(store.name.as_str()) {
                section.notes.push(format!(
                    "store {} is not declared; it and its {} are left alone",
                    store.name,
                    count(store.secrets.len(), "secret", "secrets")
                ));
            }
        }
    }

    /// The quota step (`plan/quota.rs`) for an account that is live; returns whether the
    /// deletes that are not renames run before the creates.
    fn plan_quota(&mut self, work: &[(StoreRef, StoreWork)], section: &mut AccountPlan) -> bool {
        let Some(live) = self.live else {
            return false;
        };
        let decision = quota::decide(live.quota, Growth::of(work));
        let deletes_first = decision.deletes_first();
        if let Some(problem) = decision.problem {
            self.problem(None, problem);
        }
        section.notes.extend(decision.note);
        section.quota = decision.check;
        deletes_first
    }

    pub(super) fn problem(&mut self, store_secret: Option<(&str, Option<&str>)>, message: String) {
        self.problems.push(Problem {
            account: self.desired.label.clone(),
            store: store_secret.map(|(s, _)| s.to_string()),
            secret: store_secret.and_then(|(_, n)| n.map(str::to_string)),
            message,
        });
    }
}
