//! Whether a plan can be applied at all, and the words for why not: [`check_appliable`] and
//! [`RefusedPlan`]. Facts about a [`Plan`] alone, shared by `plan` (its exit status), `apply`
//! (a saved plan and a fresh one) and the applier (which adds the checks of the values).

use super::model::{FORMAT_VERSION, Plan};

/// Why a plan was refused before any write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefusedPlan {
    #[error("plan format version {0} is not supported (expected {FORMAT_VERSION})")]
    FormatVersion(u32),
    #[error("the plan is blocked by a safety rule ({0})")]
    Blocked(String),
    #[error("the plan has {} and cannot be applied", crate::text::count(*.0, "problem", "problems"))]
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

/// A plan that [`check_appliable`] accepted: the applier's precheck takes only this.
#[derive(Clone, Copy, Debug)]
pub struct Appliable<'p>(&'p Plan);

impl<'p> Appliable<'p> {
    pub fn plan(self) -> &'p Plan {
        self.0
    }
}

/// Checks a plan can be applied at all: format, no problems, not blocked, values compared.
pub fn check_appliable(plan: &Plan) -> Result<Appliable<'_>, RefusedPlan> {
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
            // A saved plan is a file anyone can edit: its text is made printable.
            .map(|b| {
                // A broken binding's message starts at its `file:line:col` and names the store.
                let text = if b.is_binding() {
                    b.message.clone()
                } else {
                    format!("{}/{}: {}", b.account, b.store, b.message)
                };
                crate::text::printable(&text)
            })
            .collect();
        return Err(RefusedPlan::Blocked(rules.join("; ")));
    }
    if !plan.values_compared {
        return Err(RefusedPlan::ValuesNotCompared);
    }
    Ok(Appliable(plan))
}
