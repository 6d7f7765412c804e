//! What an apply did: the [`ApplyReport`] (done, failed with their causes, not attempted,
//! write requests, [`DoneTally`]), the progress [`Event`]s the command shows while it runs,
//! and the one-line [`describe`] of an action that both use. Names only; never a value.

use std::collections::BTreeSet;
use std::fmt;

use crate::plan::{AccountPlan, Action, ActionKind};

use super::failure::FailureCause;

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

/// One failed action (or verification) with its error and why it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `label: description` of the action.
    pub action: String,
    /// The error, names only.
    pub error: String,
    pub cause: FailureCause,
}

impl fmt::Display for Failure {
    /// `label: description: error`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.action, self.error)
    }
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// `label: description` of each action done.
    pub done: Vec<String>,
    /// Each failure, in the order they were reported.
    pub failed: Vec<Failure>,
    /// `label: description` of each action not attempted after a failure.
    pub not_attempted: Vec<String>,
    /// Write calls made (each logical call once; the client's retries are in its stats).
    pub write_requests: u64,
    /// What the actions done amounted to, store by store and secret by secret.
    pub tally: DoneTally,
}

impl ApplyReport {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.not_attempted.is_empty()
    }

    /// Whether every failure is transient, so running `apply` again should finish.
    pub fn only_transient_failures(&self) -> bool {
        self.failed.iter().all(|f| f.cause.is_transient())
    }

    /// Whether at least one failure is transient.
    pub fn any_transient_failure(&self) -> bool {
        self.failed.iter().any(|f| f.cause.is_transient())
    }

    /// The permanent causes among the failures, each once, in a fixed order.
    pub fn permanent_causes(&self) -> Vec<FailureCause> {
        let set: BTreeSet<FailureCause> = self
            .failed
            .iter()
            .map(|f| f.cause)
            .filter(|c| !c.is_transient())
            .collect();
        set.into_iter().collect()
    }

    /// Whether a failure was recorded: nothing new starts after one.
    pub(super) fn stopped(&self) -> bool {
        !self.failed.is_empty()
    }

    /// Records the steps of one stage of `account`, in the order given.
    pub(super) fn record(&mut self, account: &AccountPlan, steps: Vec<Step<'_>>) {
        for step in steps {
            let line = format!("{}: {}", account.label, step.what);
            match step.outcome {
                Outcome::Done(_) => {
                    self.done.push(line);
                    if let Some(action) = step.action {
                        self.tally.add(action);
                    }
                }
                Outcome::Failed(error, cause) => self.failed.push(Failure {
                    action: line,
                    error,
                    cause,
                }),
                Outcome::NotAttempted => self.not_attempted.push(line),
            }
        }
    }

    /// Records every action of a stage that was not started because an earlier one failed.
    pub(super) fn skip(&mut self, account: &AccountPlan, stage: &[Action]) {
        for action in stage {
            self.not_attempted
                .push(format!("{}: {}", account.label, describe(action)));
        }
    }
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
                crate::text::count(self.stores_created, "store", "stores")
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
                    crate::text::count(n, "secret", "secrets")
                ));
                noun = false;
            } else {
                parts.push(format!("{n} {verb}"));
            }
        }
        parts.join(", ")
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

/// How one write (or one check) ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Done; the note says how when it is worth saying (e.g. "confirmed by re-list").
    Done(Option<String>),
    Failed(String, FailureCause),
    NotAttempted,
}

impl Outcome {
    /// A failure of the applier's own checks.
    pub(super) fn check(message: String) -> Self {
        Outcome::Failed(message, FailureCause::Verification)
    }

    /// A failed client call.
    pub(super) fn client(e: &crate::cloudflare::ClientError) -> Self {
        Outcome::Failed(e.to_string(), FailureCause::of(e))
    }

    pub(super) fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(..))
    }
}

/// One line of a stage's result: an action (or a check of the stage, which has no action)
/// and how it ended.
#[derive(Debug)]
pub(super) struct Step<'p> {
    /// `describe(action)`, or what the check was (`verify deletes in main`).
    pub what: String,
    /// The action, when the step is one (it counts in the [`DoneTally`]).
    pub action: Option<&'p Action>,
    pub outcome: Outcome,
}

impl<'p> Step<'p> {
    pub(super) fn of(action: &'p Action, outcome: Outcome) -> Self {
        Step {
            what: describe(action),
            action: Some(action),
            outcome,
        }
    }

    pub(super) fn check(what: String, outcome: Outcome) -> Self {
        Step {
            what,
            action: None,
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{SecretChange, StoreRef};

    #[test]
    fn only_permanent_causes_make_a_rerun_pointless() {
        use FailureCause::*;
        let failure = |cause| Failure {
            action: "prod: create main/A".into(),
            error: "e".into(),
            cause,
        };
        let report = ApplyReport {
            failed: vec![
                failure(Transient),
                failure(SecretQuota),
                failure(Transient),
                failure(SecretQuota),
            ],
            ..ApplyReport::default()
        };
        assert!(!report.only_transient_failures());
        assert!(report.any_transient_failure());
        assert_eq!(report.permanent_causes(), [SecretQuota]);
        assert_eq!(report.failed[0].to_string(), "prod: create main/A: e");
        let transient = ApplyReport {
            failed: vec![failure(Transient)],
            ..ApplyReport::default()
        };
        assert!(transient.only_transient_failures());
        assert!(transient.permanent_causes().is_empty());
    }

    #[test]
    fn descriptions_name_store_and_secrets() {
        let change = |name: &str| SecretChange {
            id: Some("x".into()),
            ..SecretChange::new(name, "")
        };
        let action = Action {
            stage: crate::plan::Stage::CreateSecrets,
            kind: ActionKind::CreateSecrets,
            store: StoreRef {
                name: "main".into(),
                id: None,
            },
            secrets: vec![change("A"), change("B")],
            reason: String::new(),
        };
        assert_eq!(describe(&action), "create main/A, B");
    }
}
