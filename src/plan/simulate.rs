//! Test support: applies a [`Plan`] to a [`LiveState`] in memory, the way the API would, so
//! property tests can check that planning converges and that nothing desired disappears
//! mid-apply. Deterministic: new ids are `sim-1`, `sim-2`, … (skipping ids already live).
//! Not used by the binary.

use std::collections::BTreeSet;

use crate::live::{LiveAccount, LiveSecret, LiveState, LiveStore, SecretStatus};

use super::model::{ActionKind, Plan};

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
    let mut ids: BTreeSet<String> = state
        .accounts
        .iter()
        .flat_map(|a| &a.stores)
        .flat_map(|s| {
            std::iter::once(s.id.to_string()).chain(s.secrets.iter().map(|x| x.id.to_string()))
        })
        .collect();
    let mut counter = 0u64;
    let mut fresh = move || loop {
        counter += 1;
        let id = format!("sim-{counter}");
        if ids.insert(id.clone()) {
            return id;
        }
    };
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
            if action.kind == ActionKind::CreateStore {
                if account.store(&action.store.name).is_some() {
                    return Err(format!("store {} already exists", action.store.name));
                }
                account.stores.push(LiveStore {
                    id: fresh().into(),
                    name: action.store.name.clone(),
                    created: "sim".into(),
                    modified: "sim".into(),
                    secrets: Vec::new(),
                });
                steps.push(state.clone());
                continue;
            }
            let mut added = 0i64;
            let store = account
                .stores
                .iter_mut()
                .find(|s| s.name == action.store.name)
                .ok_or_else(|| format!("store {} not found", action.store.name))?;
            for change in &action.secrets {
                match action.kind {
                    ActionKind::CreateSecrets | ActionKind::Duplicate => {
                        if store.secret(change.name.as_str()).is_some() {
                            return Err(format!("secret_name_already_exists: {}", change.name));
                        }
                        if action.kind == ActionKind::CreateSecrets && !change.send_value {
                            return Err(format!("{}: created without a value", change.name));
                        }
                        if change.scopes.is_none() {
                            return Err(format!("{}: no scopes sent", change.name));
                        }
                        let scopes = change.wire_scopes().into_iter().collect();
                        if action.kind == ActionKind::Duplicate {
                            let source =
                                change.source.as_ref().ok_or("duplicate without source")?;
                            if !store.secrets.iter().any(|s| s.id == source.id) {
                                return Err(format!("secret_not_found: {}", source.id));
                            }
                        }
                        store.secrets.push(LiveSecret {
                            id: fresh().into(),
                            name: change.name.to_string(),
                            status: SecretStatus::Pending,
                            comment: change.comment.clone().unwrap_or_default().into(),
                            scopes,
                            created: "sim".into(),
                            modified: "sim".into(),
                        });
                        added += 1;
                    }
                    ActionKind::Update => {
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
                    }
                    ActionKind::Delete => {
                        let id = change.id.as_ref().ok_or("delete without id")?;
                        let before = store.secrets.len();
                        store.secrets.retain(|s| &s.id != id);
                        if store.secrets.len() == before {
                            return Err(format!("secret_not_found: {id}"));
                        }
                        added -= 1;
                    }
                    ActionKind::CreateStore => unreachable!("handled above"),
                }
            }
            store.secrets.sort_by(|a, b| a.name.cmp(&b.name));
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
            steps.push(state.clone());
        }
    }
    Ok(steps)
}

/// Applies `plan` to `live` and returns the final state.
pub fn simulate(live: &LiveState, plan: &Plan) -> Result<LiveState, String> {
    Ok(simulate_steps(live, plan)?
        .pop()
        .unwrap_or_else(|| live.clone()))
}
