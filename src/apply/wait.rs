//! `apply --wait-active`: after the writes, re-list each store that holds a secret the apply
//! wrote until every one of them reads `active`, within a deadline. A Worker deploy whose
//! binding names a still-`pending` secret is rejected as not found (API notes §10), so a
//! pipeline that runs `wrangler deploy` next waits here first.
//!
//! What is waited for ([`awaited`]): every secret a batch create made, every copy a rename
//! made, and every secret PATCHed — value and metadata alike. The notes leave open whether a
//! metadata-only PATCH turns a secret `pending` (Alchemy polls after each create and patch),
//! and waiting for one costs nothing when it reads `active`: the re-list is one request per
//! store whatever number of its secrets is awaited.
//!
//! The re-lists go through the client, so its pacer and retries apply; between rounds the
//! delay starts at [`FIRST_DELAY`] and doubles up to [`MAX_DELAY`], never past the deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::cloudflare::{Client, ClientError, ListSecrets};
use crate::plan::{ActionKind, Plan};

/// The first delay between two rounds of re-lists.
pub const FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest delay between two rounds.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// The secrets of one store that must read `active`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwaitedStore {
    /// The account's manifest label.
    pub label: String,
    pub account_id: String,
    pub store: String,
    /// `None` for a store the plan created: its id is looked up once.
    pub store_id: Option<String>,
    pub names: BTreeSet<String>,
}

impl AwaitedStore {
    fn shown(&self, name: &str) -> String {
        format!("{}/{}/{}", self.label, self.store, name)
    }
}

/// Every secret `plan` creates, copies or PATCHes, store by store in plan order.
pub fn awaited(plan: &Plan) -> Vec<AwaitedStore> {
    let mut stores: BTreeMap<(usize, String), AwaitedStore> = BTreeMap::new();
    for (i, account) in plan.accounts.iter().enumerate() {
        for action in &account.actions {
            if !matches!(
                action.kind,
                ActionKind::CreateSecrets | ActionKind::Duplicate | ActionKind::Update
            ) {
                continue;
            }
            let entry = stores
                .entry((i, action.store.name.clone()))
                .or_insert_with(|| AwaitedStore {
                    label: account.label.clone(),
                    account_id: account.account_id.as_str().to_string(),
                    store: action.store.name.clone(),
                    store_id: None,
                    names: BTreeSet::new(),
                });
            if let Some(id) = &action.store.id {
                entry.store_id = Some(id.as_str().to_string());
            }
            entry
                .names
                .extend(action.secrets.iter().map(|c| c.name.to_string()));
        }
    }
    stores.into_values().collect()
}

/// How a wait ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitReport {
    /// Secrets awaited.
    pub awaited: usize,
    /// `label/store/name` of each one still not `active` at the deadline (empty: all are).
    pub pending: Vec<String>,
    /// Rounds of re-lists made.
    pub rounds: u32,
}

impl WaitReport {
    pub fn is_success(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Re-lists until every secret of `stores` reads `active` or `timeout` has passed, calling
/// `on_active` with `label/store/name` as each one does.
pub async fn wait_active(
    client: &Client,
    mut stores: Vec<AwaitedStore>,
    timeout: Duration,
    on_active: &(dyn Fn(&str) + Sync),
) -> Result<WaitReport, ClientError> {
    let deadline = Instant::now() + timeout;
    let awaited = stores.iter().map(|s| s.names.len()).sum();
    resolve_store_ids(client, &mut stores).await?;
    let mut delay = FIRST_DELAY;
    let mut rounds = 0;
    loop {
        rounds += 1;
        for store in stores.iter_mut().filter(|s| !s.names.is_empty()) {
            relist(client, store, on_active).await?;
        }
        let now = Instant::now();
        if stores.iter().all(|s| s.names.is_empty()) || now >= deadline {
            break;
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
    let pending = stores
        .iter()
        .flat_map(|s| s.names.iter().map(|n| s.shown(n)))
        .collect();
    Ok(WaitReport {
        awaited,
        pending,
        rounds,
    })
}

/// Looks up the id of each store the plan created: one `GET /stores` per account that has
/// one. A store that is not listed keeps no id, and its secrets stay pending.
async fn resolve_store_ids(
    client: &Client,
    stores: &mut [AwaitedStore],
) -> Result<(), ClientError> {
    let accounts: BTreeSet<String> = stores
        .iter()
        .filter(|s| s.store_id.is_none())
        .map(|s| s.account_id.clone())
        .collect();
    for account in accounts {
        let live = client.list_stores(&account).await?;
        for store in stores
            .iter_mut()
            .filter(|s| s.account_id == account && s.store_id.is_none())
        {
            store.store_id = live
                .iter()
                .find(|l| l.name == store.store)
                .map(|l| l.id.clone());
        }
    }
    Ok(())
}

/// One re-list of `store`: each awaited secret listed as `active` leaves the set.
async fn relist(
    client: &Client,
    store: &mut AwaitedStore,
    on_active: &(dyn Fn(&str) + Sync),
) -> Result<(), ClientError> {
    let Some(id) = store.store_id.clone() else {
        return Ok(());
    };
    let listed = client
        .list_secrets(&store.account_id, &id, &ListSecrets::default())
        .await?;
    let active = |s: &&crate::cloudflare::Secret| {
        crate::live::SecretStatus::of(&s.status) == Some(crate::live::SecretStatus::Active)
    };
    for secret in listed.iter().filter(active) {
        if store.names.remove(&secret.name) {
            on_active(&store.shown(&secret.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, SecretId};
    use crate::plan::{
        AccountPlan, Action, DeleteCause, SecretChange, SecretRef, Stage, StoreRef, Summary,
    };

    fn action(kind: ActionKind, store: &str, id: Option<&str>, names: &[&str]) -> Action {
        let stage = match kind {
            ActionKind::CreateStore => Stage::CreateStores,
            ActionKind::CreateSecrets => Stage::CreateSecrets,
            ActionKind::Duplicate => Stage::Duplicates,
            ActionKind::Update => Stage::Updates,
            ActionKind::Delete => Stage::Deletes,
        };
        Action {
            stage,
            kind,
            store: StoreRef {
                name: store.into(),
                id: id.map(crate::domain::StoreId::from),
            },
            secrets: names
                .iter()
                .map(|n| {
                    let mut c = SecretChange::new(*n, "test");
                    if kind == ActionKind::Duplicate {
                        c.source = Some(SecretRef {
                            name: "OLD".parse().unwrap(),
                            id: SecretId::from("s-old"),
                        });
                    }
                    if kind == ActionKind::Delete {
                        c.delete_cause = Some(DeleteCause::Prune);
                    }
                    c
                })
                .collect(),
            reason: "test".into(),
        }
    }

    #[test]
    fn creates_copies_and_patches_are_awaited_deletes_are_not() {
        let account = AccountPlan {
            label: "production".into(),
            account_id: AccountId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            quota: None,
            actions: vec![
                action(ActionKind::CreateStore, "new", None, &[]),
                action(ActionKind::CreateSecrets, "new", None, &["A", "B"]),
                action(ActionKind::Duplicate, "main", Some("s1"), &["C"]),
                action(ActionKind::Update, "main", Some("s1"), &["D"]),
                action(ActionKind::Update, "main", Some("s1"), &["E"]),
                action(ActionKind::Delete, "main", Some("s1"), &["F"]),
                action(ActionKind::Delete, "gone", Some("s2"), &["G"]),
            ],
            protected: vec![],
            unmanaged: vec![],
            notes: vec![],
            warnings: vec![],
        };
        let plan = Plan {
            format_version: crate::plan::FORMAT_VERSION,
            values_compared: true,
            accounts: vec![account],
            notes: vec![],
            problems: vec![],
            blocked: vec![],
            summary: Summary::default(),
            digest: None,
        };
        let got = awaited(&plan);
        let shape: Vec<(&str, Option<&str>, Vec<&str>)> = got
            .iter()
            .map(|s| {
                (
                    s.store.as_str(),
                    s.store_id.as_deref(),
                    s.names.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("main", Some("s1"), vec!["C", "D", "E"]),
                ("new", None, vec!["A", "B"]),
            ]
        );
        assert_eq!(got[0].shown("C"), "production/main/C");
    }
}
