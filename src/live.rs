//! The live snapshot: what Cloudflare holds, converted from wire DTOs into domain terms.
//!
//! Built from one store list and paginated secret lists per store, plus `GET /quota`, run
//! concurrently across accounts. No per-secret GETs: the list carries comment, scopes, status
//! and timestamps. This room only reads.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::AccountId;

/// Everything fetched for the accounts a manifest names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveState {
    pub accounts: Vec<LiveAccount>,
}

impl LiveState {
    pub fn account(&self, id: &AccountId) -> Option<&LiveAccount> {
        self.accounts.iter().find(|a| &a.account_id == id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub quota: u64,
    pub usage: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStore {
    pub id: String,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSecret {
    pub id: String,
    /// Kept as a plain string: a live name outside the manifest's rules must not break a read.
    pub name: String,
    pub status: SecretStatus,
    /// The raw live comment, ownership marker included (see `plan::marker`).
    pub comment: String,
    /// Wire spellings, sorted. Unknown scopes are kept, not dropped.
    pub scopes: BTreeSet<String>,
    pub created: String,
    pub modified: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretStatus {
    Pending,
    Active,
    /// Any status this tool does not know; treated like `active`.
    Other,
}
