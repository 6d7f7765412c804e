//! The validated desired state: what the manifest asks for, after every check passed.
//!
//! These types are the contract between the manifest room and everything downstream (values,
//! planner, applier, renderers). They hold paths and names, never plaintext. Collections are
//! ordered (`Vec` in manifest order for accounts and stores, `BTreeMap` for secrets) so that
//! the planner's output is deterministic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::domain::{AccountId, Scopes, SecretName};

/// Everything the manifest declares, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The manifest file itself (as given on the command line).
    pub manifest_path: PathBuf,
    /// Directory that relative paths in the manifest are resolved against.
    pub base_dir: PathBuf,
    /// File of age recipients (public keys) that values are sealed to, resolved.
    pub recipients_file: PathBuf,
    /// The sealed fingerprint key (DESIGN.md §4), resolved.
    pub fingerprint_key: PathBuf,
    pub safety: Safety,
    /// Accounts in manifest order.
    pub accounts: Vec<DesiredAccount>,
}

/// One account, known in output by its manifest label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredAccount {
    /// The manifest key, e.g. `production`. Used in output instead of the id.
    pub label: String,
    pub account_id: AccountId,
    /// Stores in manifest order.
    pub stores: Vec<DesiredStore>,
}

/// One store of an account, identified by name (store ids are looked up live).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredStore {
    pub name: String,
    pub prune: Prune,
    /// Secrets by name.
    pub secrets: BTreeMap<SecretName, DesiredSecret>,
}

/// What happens to live secrets the manifest does not declare.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Prune {
    /// Delete undeclared secrets that carry this tool's ownership marker (the default).
    #[default]
    Owned,
    /// Delete every undeclared secret.
    All,
    /// Never delete undeclared secrets.
    None,
}

/// One declared secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DesiredSecret {
    /// The secret should exist with this metadata and value.
    Present(PresentSecret),
    /// `ensure: absent`: the secret should not exist; deleted by name if it does.
    Absent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentSecret {
    pub value: ValueSource,
    /// Never empty (validation guarantees it).
    pub scopes: Scopes,
    /// The user's comment; `None` means no comment (an empty user comment).
    pub comment: Option<String>,
    /// A protected secret is never deleted, even when removed from the manifest, until a plan
    /// first removes its protection.
    pub protect: bool,
    /// The live name this secret had before; the plan renames it server-side.
    pub renamed_from: Option<SecretName>,
}

/// Where a secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ValueSource {
    /// An age-sealed file holding exactly the value (path resolved against `base_dir`).
    File(PathBuf),
    /// One key inside an age-sealed bundle (dotenv or YAML), decrypted once per bundle.
    Bundle { path: PathBuf, key: String },
    /// `value: keep`: manage the metadata; never read or write the value.
    Keep,
}

/// Safety thresholds enforced by the planner. A plan over a threshold still renders in full,
/// marks itself blocked, and `apply` refuses it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Safety {
    /// Largest number of deletes allowed in one plan (per store).
    pub max_deletes: Option<u32>,
    /// Largest share of a store's existing secrets that one plan may delete, in percent.
    pub max_delete_percent: Option<u8>,
    /// The thresholds apply only to stores holding at least this many live secrets.
    pub min_existing: u32,
}

impl Default for Safety {
    fn default() -> Self {
        Self {
            max_deletes: None,
            max_delete_percent: Some(30),
            min_existing: 10,
        }
    }
}
