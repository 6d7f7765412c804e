//! The `Plan` document: what the planner decided, in the order the applier must run it.
//!
//! This is the contract between the planner, the renderers, saved plan files
//! (`plan --out`, `schemas/plan.schema.json`) and the applier. It holds names, ids,
//! fingerprints and comments — never a value.
//!
//! # For the applier
//!
//! * Run [`AccountPlan::actions`] account by account, stage by stage, in the order given
//!   ([`Stage`] is already sorted). Actions of one stage in one account are independent of
//!   each other and may run concurrently (duplicates, updates, deletes).
//! * Stores are referenced by name ([`StoreRef`]); `id` is `None` for a store that a
//!   `create_store` action earlier in the same plan creates: look the id up from that result.
//! * [`ActionKind::CreateSecrets`] is one `POST …/secrets` with every item of
//!   [`Action::secrets`]; send each item's `name`, `scopes` (as given), `comment` (the full
//!   live comment, marker included) and the value for [`Plan::value_key`].
//! * [`ActionKind::Duplicate`]: `POST …/secrets/{source.id}/duplicate` with `name`,
//!   `scopes`, `comment`.
//! * [`ActionKind::Update`]: one `PATCH …/secrets/{id}` with only the present fields:
//!   `value` when [`SecretChange::send_value`], `scopes` when [`SecretChange::scopes`] is set,
//!   `comment` when [`SecretChange::comment`] (the full live comment) is set.
//! * [`ActionKind::Delete`]: one `DELETE …/secrets/{id}` (the bulk delete endpoint is
//!   undocumented; see the API notes §4.8).
//! * Refuse a plan that [`Plan::is_blocked`] (exit 3), has [`Plan::problems`], or was made
//!   without fingerprints ([`Plan::values_compared`] is false).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{Fingerprint, Scope, SecretName};

/// Version of the plan document; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

pub use crate::domain::ValueKey;

/// Fingerprints of the declared values, computed by `values` from the plaintext. `None` in
/// place of this map means "no identity" (a fork pull request): values are not compared.
pub type ValueFingerprints = BTreeMap<ValueKey, Fingerprint>;

/// A complete plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// False when no identity was available: value changes are unknown and the plan cannot be
    /// applied.
    pub values_compared: bool,
    /// One section per account, in manifest order.
    pub accounts: Vec<AccountPlan>,
    /// Plan-level notes (e.g. values not compared).
    pub notes: Vec<String>,
    /// Problems that make the plan unappliable (quota, names, value sizes).
    pub problems: Vec<Problem>,
    /// Safety rules the plan breaks; `apply` refuses a blocked plan.
    pub blocked: Vec<BlockReason>,
    pub summary: Summary,
    /// Hashes of the plan's inputs, filled in by the plan command for `plan --out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<PlanDigest>,
}

/// The plan for one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountPlan {
    /// The manifest label, used in output instead of the id.
    pub label: String,
    /// The 32-hex account id.
    pub account_id: String,
    /// The quota check, when the quota was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaCheck>,
    /// The ordered actions.
    pub actions: Vec<Action>,
    /// Secrets that would be deleted but are protected by their marker.
    pub protected: Vec<KeptSecret>,
    /// Live secrets the manifest does not declare and this plan leaves alone.
    pub unmanaged: Vec<KeptSecret>,
    /// Informational notes about this account.
    pub notes: Vec<String>,
    /// Things worth a second look that do not stop the plan.
    pub warnings: Vec<String>,
}

/// The fixed stages, in execution order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `POST /stores` for declared stores that are missing.
    CreateStores,
    /// Deletes moved ahead of the creates because the quota cannot hold both (non-rename
    /// deletes only; empty unless the plan says so in a note).
    EarlyDeletes,
    /// Batch `POST …/secrets`, one per store, chunked.
    CreateSecrets,
    /// Server-side copies for renames.
    Duplicates,
    /// `PATCH` of changed fields.
    Updates,
    /// `DELETE` of secrets that leave (including the old names of renames).
    Deletes,
}

/// What an action does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    CreateStore,
    CreateSecrets,
    Duplicate,
    Update,
    Delete,
}

/// One write request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    pub stage: Stage,
    pub kind: ActionKind,
    pub store: StoreRef,
    /// The secrets this request touches: none for `create_store`, several for
    /// `create_secrets`, exactly one otherwise.
    pub secrets: Vec<SecretChange>,
    /// Why, in a few words.
    pub reason: String,
}

/// A store by name; `id` is known when it exists live.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoreRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A live secret by name and id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    pub name: String,
    pub id: String,
}

/// Why a delete happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeleteCause {
    /// The old name of a renamed secret (its value lives on under the new name).
    Rename,
    /// `ensure: absent`.
    EnsureAbsent,
    /// Undeclared and owned (`prune: owned`) or undeclared (`prune: all`).
    Prune,
}

/// What happens to one secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretChange {
    /// The secret's (new) name.
    pub name: String,
    /// The live id, for updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The secret copied from, for duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SecretRef>,
    /// For deletes: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_cause: Option<DeleteCause>,
    /// The value change, if the value is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueChange>,
    /// True when the request must carry the value (create, or an update of the value).
    #[serde(default)]
    pub send_value: bool,
    /// The scopes to send (creates and duplicates always; updates when they change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<ScopesChange>,
    /// The user's comment, old and new (marker excluded), when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_comment: Option<TextChange>,
    /// The marker, old and new, when it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<TextChange>,
    /// The full live comment to send (user comment + marker), when a comment is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Why, in a few words.
    pub reason: String,
}

impl SecretChange {
    /// The fingerprint this change says its value has (`None` for changes that send no
    /// value, and for new values planned without an identity).
    pub fn planned_fingerprint(&self) -> Option<Fingerprint> {
        match self.value.as_ref()? {
            ValueChange::New { new } | ValueChange::Unverified { new } => *new,
            ValueChange::Changed { new, .. } => Some(*new),
        }
    }
}

/// How the value changes. Fingerprints only; never a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ValueChange {
    /// A new secret's value (`new` is unknown without an identity).
    New {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<String>")]
        new: Option<Fingerprint>,
    },
    /// The live marker's fingerprint differs from the declared value's.
    Changed {
        #[schemars(with = "String")]
        old: Fingerprint,
        #[schemars(with = "String")]
        new: Fingerprint,
    },
    /// The live secret carries no fingerprint, so its value cannot be compared: it is
    /// written once and owned afterwards.
    Unverified {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<String>")]
        new: Option<Fingerprint>,
    },
}

/// Scopes to send; `old` is the live set (wire spellings) for updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopesChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Vec<String>>,
    #[schemars(with = "Vec<String>")]
    pub new: Vec<Scope>,
}

impl ScopesChange {
    /// The scopes to send, in wire spellings (the order of `new`).
    pub fn new_wire(&self) -> Vec<String> {
        self.new.iter().map(|s| s.as_wire().to_string()).collect()
    }

    /// Scopes gained (wire spellings, sorted).
    pub fn added(&self) -> Vec<String> {
        let old = self.old.as_deref().unwrap_or_default();
        self.new_wire()
            .into_iter()
            .filter(|s| !old.contains(s))
            .collect()
    }

    /// Scopes lost (wire spellings, sorted).
    pub fn removed(&self) -> Vec<String> {
        let new = self.new_wire();
        self.old
            .iter()
            .flatten()
            .filter(|s| !new.contains(s))
            .cloned()
            .collect()
    }
}

/// A text field's old and new form (`old` absent for a new secret or a missing marker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TextChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    pub new: String,
}

/// A live secret the plan leaves alone, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeptSecret {
    pub store: String,
    pub name: String,
    pub id: String,
    pub reason: String,
}

/// The account quota across the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QuotaCheck {
    pub quota: u64,
    pub usage: u64,
    /// Highest number of secrets held at any point during the apply, in the planned order.
    pub peak: u64,
    /// Number held after the apply.
    pub end: u64,
    /// True when non-rename deletes were moved before the creates to stay under the quota.
    pub deletes_first: bool,
}

/// A problem that makes the plan unappliable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub message: String,
}

/// A safety threshold the plan exceeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockReason {
    pub account: String,
    pub store: String,
    /// Deletes planned in this store (old names of renames excluded).
    pub deletes: u32,
    /// Live secrets in the store.
    pub existing: u32,
    /// Which rule: `max_deletes`, `max_delete_percent` or `allow_deletes`.
    pub rule: String,
    pub message: String,
}

/// Counts over the whole plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub stores_to_create: u32,
    pub secrets_to_create: u32,
    pub secrets_to_update: u32,
    pub secrets_to_rename: u32,
    pub secrets_to_delete: u32,
    pub protected_kept: u32,
    pub unmanaged: u32,
    pub unchanged: u32,
    /// Write requests `apply` will make (one per action).
    pub write_requests: u32,
}

/// Hashes of the inputs a saved plan was made from (hex SHA-256). `apply FILE` recomputes
/// them and refuses a plan whose inputs moved, naming which.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDigest {
    /// The manifest file's bytes.
    pub manifest: String,
    /// Each sealed value file's bytes, by path as written in the manifest.
    pub values: BTreeMap<String, String>,
    /// The live snapshot: [`crate::plan::live_digest`].
    pub live: String,
    /// The live snapshot per account, by manifest label (each a [`crate::plan::live_digest`]
    /// of that account alone), so a stale plan can name the account that moved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub live_accounts: BTreeMap<String, String>,
    /// The `--allow-deletes N` the plan was made with; `apply FILE` uses it when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_deletes: Option<u32>,
}

impl Plan {
    /// True when the plan changes nothing (notes, unmanaged and protected lists aside).
    pub fn is_empty(&self) -> bool {
        self.accounts.iter().all(|a| a.actions.is_empty())
    }

    /// True when `apply` would make at least one write request.
    pub fn has_changes(&self) -> bool {
        !self.is_empty()
    }

    /// True when a safety rule blocks the plan (exit 3).
    pub fn is_blocked(&self) -> bool {
        !self.blocked.is_empty()
    }

    /// True when the plan has problems that make it unappliable.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// True when `other` makes the same actions, account by account: a saved plan is applied
    /// only if a plan made now from the same inputs agrees with it.
    pub fn same_actions(&self, other: &Plan) -> bool {
        self.accounts.len() == other.accounts.len()
            && self
                .accounts
                .iter()
                .zip(&other.accounts)
                .all(|(a, b)| a.label == b.label && a.actions == b.actions)
    }

    /// Every action with its account, in execution order.
    pub fn actions(&self) -> impl Iterator<Item = (&AccountPlan, &Action)> {
        self.accounts
            .iter()
            .flat_map(|a| a.actions.iter().map(move |x| (a, x)))
    }

    /// The value the applier must send for `change` in `action` of `account`, if any.
    pub fn value_key(
        account: &AccountPlan,
        action: &Action,
        change: &SecretChange,
    ) -> Option<ValueKey> {
        if !change.send_value {
            return None;
        }
        let name = SecretName::parse(&change.name).ok()?;
        Some(ValueKey::new(&account.label, &action.store.name, name))
    }

    /// Every value the apply will send, so the caller can unseal only those.
    pub fn values_needed(&self) -> Vec<ValueKey> {
        let mut keys = Vec::new();
        for (account, action) in self.actions() {
            for change in &action.secrets {
                if let Some(key) = Plan::value_key(account, action, change) {
                    keys.push(key);
                }
            }
        }
        keys
    }
}
