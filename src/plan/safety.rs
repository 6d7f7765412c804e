//! The safety step of the planner: the thresholds a store's planned deletes may not exceed
//! (`safety:` in the manifest, or `--allow-deletes N` in their place). A plan that breaks one
//! is still made and rendered in full, but `apply` refuses it. The old names of renames are
//! not counted: their values live on under the new names.

use crate::live::LiveStore;
use crate::manifest::{DesiredStore, Safety};

use super::model::{BlockReason, DeleteCause, SecretChange};

/// The rules that `deletes`, planned in `store` of the account labelled `account`, break.
pub(super) fn check(
    account: &str,
    store: &DesiredStore,
    live: Option<&LiveStore>,
    deletes: &[SecretChange],
    safety: &Safety,
    allow_deletes: Option<u32>,
) -> Vec<BlockReason> {
    let deletes = deletes
        .iter()
        .filter(|d| d.delete_cause != Some(DeleteCause::Rename))
        .count() as u32;
    let mut blocked = Vec::new();
    if deletes == 0 {
        return blocked;
    }
    let existing = live.map(|s| s.secrets.len() as u32).unwrap_or(0);
    let mut block = |rule: &str, message: String| {
        blocked.push(BlockReason {
            account: account.to_string(),
            store: store.name.clone(),
            deletes,
            existing,
            rule: rule.to_string(),
            message,
            binding: None,
        });
    };
    if let Some(allowed) = allow_deletes {
        if deletes > allowed {
            block(
                "allow_deletes",
                format!("{deletes} deletes exceed --allow-deletes {allowed}"),
            );
        }
        return blocked;
    }
    if existing < safety.min_existing {
        return blocked;
    }
    if let Some(max) = safety.max_deletes
        && deletes > max
    {
        block(
            "max_deletes",
            format!("{deletes} deletes exceed safety.max_deletes {max}"),
        );
    }
    if let Some(pct) = safety.max_delete_percent
        && u64::from(deletes) * 100 > u64::from(pct) * u64::from(existing)
    {
        block(
            "max_delete_percent",
            format!("{deletes} of {existing} secrets is over safety.max_delete_percent {pct}%"),
        );
    }
    blocked
}
