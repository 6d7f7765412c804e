//! What a plan does to the secrets Workers bind (`plan --wrangler`): the inputs of the
//! wrangler room's live check ([`crate::wrangler::check_live`]) taken from a plan, the live
//! state and the manifest, and how its findings enter the plan. Pure: the configs are read
//! by the caller.
//!
//! A binding the plan breaks (it deletes the secret, renames it away or takes `workers` from
//! it) blocks the plan like a safety threshold: a [`BlockReason`] with the rule
//! [`BlockReason::WORKERS_BINDING`] and the binding's place ([`BindingRef`]), so that `apply`
//! refuses the plan, and so does any reader of a saved plan that only knows `blocked`. With
//! `--allow-binding-breaks` each one is a warning of its account instead.

use crate::live::LiveState;
use crate::manifest::Desired;
use crate::text::count;
use crate::wrangler::read::name_shown;
use crate::wrangler::{Break, BrokenBinding, Environment, ManagedStore, PlannedBreak};

use super::model::{ActionKind, BindingRef, BlockReason, DeleteCause, Plan};

/// Every secret the plan deletes (not the old name of a rename: that is the rename),
/// renames away, or takes the `workers` scope from, by its name before the plan.
pub fn planned_breaks(plan: &Plan) -> Vec<PlannedBreak> {
    let mut breaks = Vec::new();
    for (account, action) in plan.actions() {
        for change in &action.secrets {
            let (secret, what) = match action.kind {
                ActionKind::Delete if change.delete_cause != Some(DeleteCause::Rename) => {
                    (change.name.to_string(), Break::Deleted)
                }
                ActionKind::Duplicate => match &change.source {
                    Some(source) => (
                        source.name.to_string(),
                        Break::RenamedTo(change.name.to_string()),
                    ),
                    None => continue,
                },
                ActionKind::Update
                    if change.scopes.as_ref().is_some_and(|s| {
                        s.removed()
                            .iter()
                            .any(|r| r == crate::domain::Scope::Workers.as_wire())
                    }) =>
                {
                    (change.name.to_string(), Break::WorkersRemoved)
                }
                _ => continue,
            };
            breaks.push(PlannedBreak {
                account: account.label.clone(),
                store: action.store.name.clone(),
                secret,
                what,
            });
        }
    }
    breaks
}

/// Every store the manifest declares, with its live id (`None` for a store the plan
/// creates).
pub fn managed_stores(desired: &Desired, live: &LiveState) -> Vec<ManagedStore> {
    let mut stores = Vec::new();
    for account in &desired.accounts {
        let live_account = live.account(&account.account_id);
        for store in &account.stores {
            stores.push(ManagedStore {
                account: account.label.clone(),
                store: store.name.clone(),
                id: live_account
                    .and_then(|a| a.store(&store.name))
                    .map(|s| s.id.as_str().to_string()),
            });
        }
    }
    stores
}

/// How many bindings were checked, and in how many configs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingsChecked {
    pub bindings: usize,
    pub configs: usize,
}

/// Enters the live check's findings into `plan`: each broken binding blocks it (or, with
/// `allow_breaks`, is a warning of its account), and a note says what was checked.
pub fn record(
    plan: &mut Plan,
    live: &LiveState,
    broken: &[BrokenBinding],
    allow_breaks: bool,
    checked: BindingsChecked,
) {
    let mut note = format!(
        "{} in {} checked against this plan",
        count(checked.bindings, "Workers binding", "Workers bindings"),
        count(checked.configs, "wrangler config", "wrangler configs")
    );
    if !broken.is_empty() {
        note.push_str(&format!(
            ": {} would break{}",
            count(broken.len(), "binding", "bindings"),
            if allow_breaks {
                " (allowed by --allow-binding-breaks)"
            } else {
                ""
            }
        ));
    }
    plan.notes.push(note);
    for b in broken {
        let d = b.diagnostic();
        let message = format!("{}: {}", b.binding.location(), d.message);
        if allow_breaks {
            if let Some(account) = plan.accounts.iter_mut().find(|a| a.label == b.account) {
                account
                    .warnings
                    .push(format!("{message} (allowed by --allow-binding-breaks)"));
            }
            continue;
        }
        let (deletes, existing) = store_counts(plan, live, &b.account, &b.store);
        plan.blocked.push(BlockReason {
            account: b.account.clone(),
            store: b.store.clone(),
            deletes,
            existing,
            rule: BlockReason::WORKERS_BINDING.to_string(),
            message,
            binding: Some(binding_ref(b)),
        });
    }
}

/// The deletes the plan makes in a store (old names of renames excluded, as the safety rules
/// count them) and the live secrets it holds.
fn store_counts(plan: &Plan, live: &LiveState, account: &str, store: &str) -> (u32, u32) {
    let Some(section) = plan.accounts.iter().find(|a| a.label == account) else {
        return (0, 0);
    };
    let deletes = section
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Delete && a.store.name == store)
        .flat_map(|a| &a.secrets)
        .filter(|c| c.delete_cause != Some(DeleteCause::Rename))
        .count() as u32;
    let existing = live
        .account(&section.account_id)
        .and_then(|a| a.store(store))
        .map_or(0, |s| s.secrets.len() as u32);
    (deletes, existing)
}

fn binding_ref(b: &BrokenBinding) -> BindingRef {
    let binding = &b.binding;
    BindingRef {
        file: binding.file.display().to_string(),
        line: binding.at.line,
        column: binding.at.column,
        env: match &binding.env {
            Environment::TopLevel => None,
            Environment::Named(name) => Some(crate::text::printable(name)),
        },
        // A broken binding passed the shape checks, so both are names; anything else is not
        // repeated, in case it is a value pasted in the wrong place.
        name: name_shown(&binding.binding.value)
            .unwrap_or("(not shown)")
            .to_string(),
        secret: name_shown(&binding.secret_name.value)
            .unwrap_or("(not shown)")
            .to_string(),
    }
}
