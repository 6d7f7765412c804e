//! The quota step of the planner: whether one account's plan fits its secret quota, and
//! whether it fits only when the deletes that are not renames run before the creates.
//!
//! Only requests that add secrets can hit the quota: an account already over it (not our
//! doing) can still take updates and deletes. The old names of renames are deleted last (the
//! copy must exist first), so they never help a create fit.

use crate::live::Quota;

use super::StoreWork;
use super::model::{DeleteCause, QuotaCheck, StoreRef};

/// How one account's plan changes the number of secrets it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Growth {
    /// Batch-created secrets (renames written anew included).
    pub creates: u64,
    /// Server-side copies (renames).
    pub duplicates: u64,
    /// Deletes of the old names of renames.
    pub rename_deletes: u64,
    /// Every other delete (`ensure: absent`, prunes).
    pub other_deletes: u64,
}

impl Growth {
    /// The growth of one account's planned work.
    pub(super) fn of(work: &[(StoreRef, StoreWork)]) -> Self {
        let mut growth = Growth::default();
        for (_, w) in work {
            growth.creates += w.creates.len() as u64;
            growth.duplicates += w.duplicates.len() as u64;
            for d in &w.deletes {
                if d.delete_cause == Some(DeleteCause::Rename) {
                    growth.rename_deletes += 1;
                } else {
                    growth.other_deletes += 1;
                }
            }
        }
        growth
    }

    fn adds(self) -> u64 {
        self.creates + self.duplicates
    }
}

/// What the quota step decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct QuotaDecision {
    /// The check to show, when the quota was read.
    pub check: Option<QuotaCheck>,
    /// Why the plan cannot be applied, when it does not fit.
    pub problem: Option<String>,
    /// What a reviewer should know: deletes moved ahead, or the quota not checked.
    pub note: Option<String>,
}

impl QuotaDecision {
    /// Whether the deletes that are not renames run before the creates.
    pub(crate) fn deletes_first(&self) -> bool {
        self.check.as_ref().is_some_and(|c| c.deletes_first)
    }
}

/// Decides for an account whose live quota is `quota` (`None` when `GET /quota` failed).
pub(super) fn decide(quota: Option<Quota>, growth: Growth) -> QuotaDecision {
    let Some(quota) = quota else {
        // Said whether or not secrets are added, so a reviewer knows it was not checked.
        let note = if growth.adds() > 0 {
            "quota not checked (GET /quota failed): the new secrets may not fit"
        } else {
            "quota not checked (GET /quota failed)"
        };
        return QuotaDecision {
            check: None,
            problem: None,
            note: Some(note.to_string()),
        };
    };
    let usage = quota.usage as i64;
    let q = quota.quota as i64;
    let grow = growth.adds() as i64;
    let end = usage + grow - (growth.rename_deletes + growth.other_deletes) as i64;
    let mut peak = usage + grow;
    let mut deletes_first = false;
    let mut problem = None;
    let mut note = None;
    if grow > 0 && end > q {
        problem = Some(format!(
            "the account would hold {end} secrets after apply; its quota is {q}"
        ));
    } else if grow > 0 && peak > q {
        let other = growth.other_deletes;
        let reordered = usage - other as i64 + grow;
        if reordered <= q {
            deletes_first = true;
            peak = reordered;
            note = Some(format!(
                "{} before the creates so the account stays within its quota",
                if other == 1 {
                    "1 delete runs".to_string()
                } else {
                    format!("{other} deletes run")
                }
            ));
        } else {
            problem = Some(format!(
                "the quota ({q}) cannot hold the renamed secrets before their old names are \
                 deleted: {reordered} would be in use"
            ));
        }
    }
    QuotaDecision {
        check: Some(QuotaCheck {
            quota: quota.quota,
            usage: quota.usage,
            peak: peak.max(usage).max(0) as u64,
            end: end.max(0) as u64,
            deletes_first,
        }),
        problem,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(quota: u64, usage: u64) -> Option<Quota> {
        Some(Quota { quota, usage })
    }

    #[test]
    fn deletes_move_first_only_when_that_makes_the_creates_fit() {
        let growth = Growth {
            creates: 2,
            other_deletes: 2,
            ..Growth::default()
        };
        // Roomy: nothing moves.
        let roomy = decide(quota(10, 5), growth);
        assert_eq!(
            (roomy.deletes_first(), &roomy.problem, &roomy.note),
            (false, &None, &None)
        );
        assert_eq!(roomy.check.map(|c| (c.peak, c.end)), Some((7, 5)));
        // Tight: the deletes go first, and the peak is what that order holds.
        let tight = decide(quota(5, 5), growth);
        assert!(tight.deletes_first());
        assert_eq!(tight.check.map(|c| c.peak), Some(5));
        assert_eq!(
            tight.note.as_deref(),
            Some("2 deletes run before the creates so the account stays within its quota")
        );
        // Too full even at the end: a problem.
        let full = decide(quota(4, 5), growth);
        assert!(!full.deletes_first());
        assert!(
            full.problem
                .unwrap()
                .contains("would hold 5 secrets after apply")
        );
    }

    #[test]
    fn rename_deletes_never_make_room_for_the_copy() {
        let growth = Growth {
            duplicates: 1,
            rename_deletes: 1,
            ..Growth::default()
        };
        let decision = decide(quota(5, 5), growth);
        assert!(!decision.deletes_first());
        assert!(
            decision
                .problem
                .unwrap()
                .contains("cannot hold the renamed secrets before their old names are deleted")
        );
    }

    #[test]
    fn an_unread_quota_is_said_and_an_account_over_it_can_still_shrink() {
        let adds = Growth {
            creates: 1,
            ..Growth::default()
        };
        let unread = decide(None, adds);
        assert_eq!(unread.check, None);
        assert!(
            unread
                .note
                .unwrap()
                .ends_with("the new secrets may not fit")
        );
        let shrink = Growth {
            other_deletes: 1,
            ..Growth::default()
        };
        assert_eq!(
            decide(None, shrink).note.as_deref(),
            Some("quota not checked (GET /quota failed)")
        );
        let over = decide(quota(3, 5), shrink);
        assert_eq!(over.problem, None);
        assert_eq!(over.check.map(|c| (c.peak, c.end)), Some((5, 4)));
    }
}
