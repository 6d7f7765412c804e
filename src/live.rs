//! The live snapshot: what Cloudflare holds, converted from wire DTOs into domain terms.
//!
//! Built from one store list and paginated secret lists per store, plus `GET /quota`, run
//! concurrently across accounts. No per-secret GETs: the list carries comment, scopes, status
//! and timestamps. This room only reads. Each comment's ownership marker is parsed here, once
//! ([`LiveComment`]).

use std::collections::BTreeSet;

use crate::cloudflare::{self as wire, Client, ClientError, ListSecrets};
use crate::domain::{AccountId, SecretId, StoreId};
use crate::marker::LiveComment;

/// Everything fetched for the accounts a manifest names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveState {
    pub accounts: Vec<LiveAccount>,
}

impl LiveState {
    pub fn account(&self, id: &AccountId) -> Option<&LiveAccount> {
        self.accounts.iter().find(|a| &a.account_id == id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveAccount {
    pub account_id: AccountId,
    /// `None` when the quota call failed or was not made; the planner then cannot check it.
    pub quota: Option<Quota>,
    pub stores: Vec<LiveStore>,
}

impl LiveAccount {
    pub fn store(&self, name: &str) -> Option<&LiveStore> {
        self.stores.iter().find(|s| s.name == name)
    }
}

/// `GET /quota`: how many secrets the account may hold and holds now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub quota: u64,
    pub usage: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveStore {
    pub id: StoreId,
    pub name: String,
    pub created: String,
    pub modified: String,
    /// Secrets sorted by name; items with status `deleted` are dropped on the way in.
    pub secrets: Vec<LiveSecret>,
}

impl LiveStore {
    pub fn secret(&self, name: &str) -> Option<&LiveSecret> {
        self.secrets.iter().find(|s| s.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSecret {
    pub id: SecretId,
    /// Kept as a plain string: a live name outside the manifest's rules must not break a read.
    pub name: String,
    pub status: SecretStatus,
    /// The live comment, split once into the user's comment and the ownership marker
    /// ([`crate::marker`]); the raw text is kept for the digest.
    pub comment: LiveComment,
    /// Wire spellings, sorted. Unknown scopes are kept, not dropped.
    pub scopes: BTreeSet<String>,
    pub created: String,
    pub modified: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretStatus {
    Pending,
    Active,
    /// Any status this tool does not know; treated like `active`.
    Other,
}

impl SecretStatus {
    /// The API's status text; `None` for `deleted` (a secret that no longer counts).
    pub fn of(status: &str) -> Option<SecretStatus> {
        match status {
            "deleted" => None,
            "pending" => Some(SecretStatus::Pending),
            "active" => Some(SecretStatus::Active),
            _ => Some(SecretStatus::Other),
        }
    }
}

/// Why the live state could not be read. Names the account; never a value or token.
#[derive(Debug, thiserror::Error)]
#[error("reading account {account_id}")]
pub struct FetchError {
    pub account_id: AccountId,
    #[source]
    pub source: ClientError,
}

/// Reads every named account concurrently: `GET /quota` (a failure there gives
/// `quota: None`, not an error), one store list, and every page of each store's secrets.
/// Stores and secrets come back sorted by name; `deleted` secrets are dropped; an unknown
/// status becomes [`SecretStatus::Other`]. Accounts keep the order they were given in.
pub async fn fetch(client: &Client, accounts: &[AccountId]) -> Result<LiveState, FetchError> {
    let accounts = futures::future::try_join_all(accounts.iter().map(|account_id| async move {
        fetch_account(client, account_id)
            .await
            .map_err(|source| FetchError {
                account_id: account_id.clone(),
                source,
            })
    }))
    .await?;
    Ok(LiveState { accounts })
}

async fn fetch_account(
    client: &Client,
    account_id: &AccountId,
) -> Result<LiveAccount, ClientError> {
    let id = account_id.as_str();
    let (quota, stores) = tokio::join!(client.quota(id), client.list_stores(id));
    let stores = stores?;
    let all = ListSecrets::default();
    let secrets = futures::future::try_join_all(
        stores
            .iter()
            .map(|store| client.list_secrets(id, &store.id, &all)),
    )
    .await?;
    let mut stores: Vec<LiveStore> = stores
        .into_iter()
        .zip(secrets)
        .map(|(store, secrets)| live_store(store, secrets))
        .collect();
    stores.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(LiveAccount {
        account_id: account_id.clone(),
        quota: quota.ok().map(|q| Quota {
            quota: q.secrets.quota,
            usage: q.secrets.usage,
        }),
        stores,
    })
}

fn live_store(store: wire::Store, secrets: Vec<wire::Secret>) -> LiveStore {
    let mut secrets: Vec<LiveSecret> = secrets.into_iter().filter_map(live_secret).collect();
    secrets.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    LiveStore {
        id: store.id.into(),
        name: store.name,
        created: store.created,
        modified: store.modified,
        secrets,
    }
}

/// `None` for a `deleted` secret.
fn live_secret(secret: wire::Secret) -> Option<LiveSecret> {
    let status = SecretStatus::of(&secret.status)?;
    Some(LiveSecret {
        id: secret.id.into(),
        name: secret.name,
        status,
        comment: secret.comment.unwrap_or_default().into(),
        scopes: secret.scopes.into_iter().collect(),
        created: secret.created,
        modified: secret.modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire_secret(name: &str, status: &str) -> wire::Secret {
        wire::Secret {
            id: format!("id-{name}"),
            name: name.to_string(),
            store_id: "s".to_string(),
            status: status.to_string(),
            created: "c".to_string(),
            modified: "m".to_string(),
            comment: None,
            scopes: vec!["workers".to_string(), "ai_gateway".to_string()],
        }
    }

    #[test]
    fn conversion_sorts_drops_deleted_and_maps_unknown_status() {
        let store = wire::Store {
            id: "s".into(),
            name: "main".into(),
            created: "c".into(),
            modified: "m".into(),
            account_id: None,
        };
        let live = live_store(
            store,
            vec![
                wire_secret("ZED", "active"),
                wire_secret("GONE", "deleted"),
                wire_secret("ALPHA", "pending"),
                wire_secret("MID", "rotating"),
            ],
        );
        let names: Vec<_> = live.secrets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ALPHA", "MID", "ZED"]);
        assert_eq!(live.secrets[0].status, SecretStatus::Pending);
        assert_eq!(live.secrets[1].status, SecretStatus::Other);
        assert_eq!(live.secrets[2].status, SecretStatus::Active);
        assert_eq!(live.secrets[0].comment.raw(), "");
        assert_eq!(live.secrets[0].comment.marker(), None);
        let scopes: Vec<_> = live.secrets[0].scopes.iter().map(String::as_str).collect();
        assert_eq!(scopes, ["ai_gateway", "workers"]);
    }
}
