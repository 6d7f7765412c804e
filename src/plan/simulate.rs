//! Test support: applies a [`Plan`] to a [`LiveState`] in memory, the way the API would, so
//! property tests can check that planning converges and that nothing desired disappears
//! mid-apply. Deterministic: new ids are `sim-1`, `sim-2`, … (skipping ids already live).
//! Not used by the binary.

use std::collections::BTreeSet;

use crate::live::{LiveAccount, LiveSecret, LiveState, LiveStore, SecretStatus};

use super::model::{Action, ActionKind, Plan, SecretChange};

/// Applies every action of `plan` in order and returns the state after each one.
///
/// Refuses a plan with problems, as the applier does. Otherwise fails like the API would: a
/// create or duplicate onto an existing name, a create without its value, a duplicate of an
/// unknown source, an update or delete of an unknown id, a missing store, or a request that
/// adds secrets beyond a known quota (a request that only removes secrets is accepted even
/// when the account is already over its quota).
pub fn simulate_steps(live: &LiveState, plan: &Plan) -> Result<Vec<LiveState>, String> {
    if plan.has_problems() {
        return Err(format!(
            "the plan has {} problem(s); it cannot be applied",
            plan.problems.len()
        ));
    }
    let mut state = live.clone();
    let mut ids = FreshIds::beside(&state);
    let mut steps = Vec::new();
    for account_plan in &plan.accounts {
        let account_id = &account_plan.account_id;
        if state.account(account_id).is_none() {
            state.accounts.push(LiveAccount {
                account_id: account_id.clone(),
                quota: None,
                stores: Vec::new(),
            });
        }
        for action in &account_plan.actions {
            let account = state
                .accounts
                .iter_mut()
                .find(|a| &a.account_id == account_id)
                .ok_or("account vanished")?;
            apply_action(account, action, &mut ids)?;
            steps.push(state.clone());
        }
    }
    Ok(steps)
}

/// New ids `sim-1`, `sim-2`, …, skipping those already live.
struct FreshIds {
    taken: BTreeSet<String>,
    counter: u64,
}

impl FreshIds {
    fn beside(state: &LiveState) -> Self {
        let taken = state
            .accounts
            .iter()
            .flat_map(|a| &a.stores)
            .flat_map(|s| {
                std::iter::once(s.id.to_string()).chain(s.secrets.iter().map(|x| x.id.to_string()))
            })
            .collect();
        Self { taken, counter: 0 }
    }

    fn next(&mut self) -> String {
        loop {
            self.counter += 1;
            let id = format!("sim-{}", self.counter);
            if self.taken.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// One action, as one request: a store created, or each secret change applied to its store
/// and the account's quota charged with the net number of secrets added.
fn apply_action(
    account: &mut LiveAccount,
    action: &Action,
    ids: &mut FreshIds,
) -> Result<(), String> {
    if action.kind == ActionKind::CreateStore {
        if account.store(&action.store.name).is_some() {
            return Err(format!("store {} already exists", action.store.name));
        }
        account.stores.push(LiveStore {
            id: ids.next().into(),
            name: action.store.name.clone(),
            created: "sim".into(),
            modified: "sim".into(),
            secrets: Vec::new(),
        });
        return Ok(());
    }
    let store = account
        .stores
        .iter_mut()
        .find(|s| s.name == action.store.name)
        .ok_or_else(|| format!("store {} not found", action.store.name))?;
    let mut added = 0i64;
    for change in &action.secrets {
        added += match action.kind {
            ActionKind::CreateSecrets | ActionKind::Duplicate => {
                create(store, action.kind, change, ids)?
            }
            ActionKind::Update => update(store, change)?,
            ActionKind::Delete => delete(store, change)?,
            ActionKind::CreateStore => unreachable!("handled above"),
        };
    }
    store.secrets.sort_by(|a, b| a.name.cmp(&b.name));
    charge_quota(account, added)
}

/// A created or duplicated secret: pending, under a fresh id. Adds one.
fn create(
    store: &mut LiveStore,
    kind: ActionKind,
    change: &SecretChange,
    ids: &mut FreshIds,
) -> Result<i64, String> {
    if store.secret(change.name.as_str()).is_some() {
        return Err(format!("secret_name_already_exists: {}", change.name));
    }
    if kind == ActionKind::CreateSecrets && !change.send_value {
        return Err(format!("{}: created without a value", change.name));
    }
    if change.scopes.is_none() {
        return Err(format!("{}: no scopes sent", change.name));
    }
    if kind == ActionKind::Duplicate {
        let source = change.source.as_ref().ok_or("duplicate without source")?;
        if !store.secrets.iter().any(|s| s.id == source.id) {
            return Err(format!("secret_not_found: {}", source.id));
        }
    }
    store.secrets.push(LiveSecret {
        id: ids.next().into(),
        name: change.name.to_string(),
        status: SecretStatus::Pending,
        comment: change.comment.clone().unwrap_or_default().into(),
        scopes: change.wire_scopes().into_iter().collect(),
        created: "sim".into(),
        modified: "sim".into(),
    });
    Ok(1)
}

/// A PATCH: new scopes and comment, when the change carries them. Adds none.
fn update(store: &mut LiveStore, change: &SecretChange) -> Result<i64, String> {
    let id = change.id.as_ref().ok_or("update without id")?;
    let secret = store
        .secrets
        .iter_mut()
        .find(|s| &s.id == id)
        .ok_or_else(|| format!("secret_not_found: {id}"))?;
    if let Some(scopes) = &change.scopes {
        secret.scopes = scopes.new_wire().into_iter().collect();
    }
    if let Some(comment) = &change.comment {
        secret.comment = comment.clone().into();
    }
    secret.modified = "sim".into();
    Ok(0)
}

/// A delete of a live id. Removes one.
fn delete(store: &mut LiveStore, change: &SecretChange) -> Result<i64, String> {
    let id = change.id.as_ref().ok_or("delete without id")?;
    let before = store.secrets.len();
    store.secrets.retain(|s| &s.id != id);
    if store.secrets.len() == before {
        return Err(format!("secret_not_found: {id}"));
    }
    Ok(-1)
}

/// A known quota charged with `added` secrets (negative: removed); a request that adds
/// beyond it is refused, one that removes is accepted even over it.
fn charge_quota(account: &mut LiveAccount, added: i64) -> Result<(), String> {
    if let Some(quota) = &mut account.quota {
        let usage = quota.usage as i64 + added;
        if added > 0 && usage > quota.quota as i64 {
            return Err(format!(
                "maximum_secrets_exceeded: {usage} of {}",
                quota.quota
            ));
        }
        quota.usage = usage.max(0) as u64;
    }
    Ok(())
}

/// Applies `plan` to `live` and returns the final state.
pub fn simulate(live: &LiveState, plan: &Plan) -> Result<LiveState, String> {
    Ok(simulate_steps(live, plan)?
        .pop()
        .unwrap_or_else(|| live.clone()))
}
