//! What an apply did: the [`ApplyReport`] (done, failed with their causes, not attempted,
//! write requests, [`DoneTally`]) and its wording (the summary line, the failure report and
//! what to do next), the progress [`Event`]s the command shows while it runs, and the
//! one-line [`describe`] of an action that both use. Names only; never a value.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use crate::text::count;

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

impl Event {
    /// Whether the event is a failure (worth a line even above a progress bar).
    pub fn is_failure(&self) -> bool {
        matches!(self, Event::Failed { .. })
    }
}

impl fmt::Display for Event {
    /// `done: prod: create main/A (note)` or `failed: prod: update main/B: error`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Done {
                account,
                action,
                note: Some(note),
            } => write!(f, "done: {account}: {action} ({note})"),
            Event::Done {
                account, action, ..
            } => write!(f, "done: {account}: {action}"),
            Event::Failed {
                account,
                action,
                error,
            } => write!(f, "failed: {account}: {action}: {error}"),
        }
    }
}

/// The client's side of an apply, for the summary line: retries and time spent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    /// Attempts after the first, over all calls.
    pub retries: u64,
    /// Time spent waiting for the pacer.
    pub pacer_wait: Duration,
    /// The apply from start to end.
    pub total: Duration,
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

    /// `2 actions done (1 store created, 3 secrets created), 2 write requests, 0 retries,
    /// 0.0s waiting on the pacer, 0.4s in total`.
    pub fn summary(&self, timing: Timing) -> String {
        let tally = self.tally.describe();
        format!(
            "{} done{}, {}, {}, {:.1}s waiting on the pacer, {:.1}s in total",
            count(self.done.len(), "action", "actions"),
            if tally.is_empty() {
                String::new()
            } else {
                format!(" ({tally})")
            },
            count(
                self.write_requests as usize,
                "write request",
                "write requests"
            ),
            count(timing.retries as usize, "retry", "retries"),
            timing.pacer_wait.as_secs_f64(),
            timing.total.as_secs_f64()
        )
    }

    /// The report of an apply that stopped: what was done, what failed, what was not
    /// attempted, the summary line and what to do next.
    pub fn failure_text(&self, timing: Timing) -> String {
        let mut text = String::from("apply stopped after a failure.\n");
        let failed: Vec<String> = self.failed.iter().map(ToString::to_string).collect();
        for (title, lines) in [
            ("done", &self.done),
            ("failed", &failed),
            ("not attempted", &self.not_attempted),
        ] {
            text.push_str(&format!("{title} ({}):\n", lines.len()));
            for line in lines.iter() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        text.push_str(&format!("{}.\n{}", self.summary(timing), self.what_next()));
        text
    }

    /// What to do after a failed apply: run it again when every failure was transient; else
    /// say, per cause, that it will fail again and what to change. Names no value.
    pub fn what_next(&self) -> String {
        let again = "Run `cfsecrets apply` again to finish: it re-plans from the live state.\n";
        if self.only_transient_failures() {
            return again.to_string();
        }
        let mut text = String::from(
            "Running `cfsecrets apply` again will fail the same way until this is changed:\n",
        );
        for advice in self
            .permanent_causes()
            .into_iter()
            .filter_map(FailureCause::advice)
        {
            text.push_str(&format!("  - {advice}\n"));
        }
        if self.any_transient_failure() {
            text.push_str(
                "The other failures were transient: once the above is fixed, run `cfsecrets \
                 apply` again to finish.\n",
            );
        }
        text
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
                count(self.stores_created, "store", "stores")
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
                parts.push(format!("{} {verb}", count(n, "secret", "secrets")));
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
