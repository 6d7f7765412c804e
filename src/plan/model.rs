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
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::{AccountId, Fingerprint, Scopes, SecretId, SecretName, StoreId};

/// Version of the plan document; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

pub use crate::domain::ValueKey;

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
    /// Safety rules the plan breaks (delete thresholds, Workers bindings); `apply` refuses a
    /// blocked plan.
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
    #[schemars(with = "String")]
    pub account_id: AccountId,
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
    #[schemars(with = "Option<String>")]
    pub id: Option<StoreId>,
}

/// A live secret by name and id.
// Only the source of a rename, so `name` is the declared `renamed_from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    #[schemars(with = "String")]
    pub name: SecretName,
    #[schemars(with = "String")]
    pub id: SecretId,
}

/// The name of the secret a change touches. Every change that writes names a declared
/// [`SecretName`]; only a prune may name a live secret whose name the manifest's rule refuses
/// (the API refuses little: an empty name, spaces), kept as the API spells it. Built only
/// through `From`, so one spelling is always one value; serialized as the plain string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct ChangeName(Name);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Name {
    Declarable(SecretName),
    /// Never a valid [`SecretName`].
    Other(String),
}

impl ChangeName {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Name::Declarable(name) => name.as_str(),
            Name::Other(name) => name,
        }
    }

    /// The name as the manifest declares it, when it follows the manifest's rule.
    pub fn declarable(&self) -> Option<&SecretName> {
        match &self.0 {
            Name::Declarable(name) => Some(name),
            Name::Other(_) => None,
        }
    }
}

impl From<SecretName> for ChangeName {
    fn from(name: SecretName) -> Self {
        Self(Name::Declarable(name))
    }
}

impl From<&SecretName> for ChangeName {
    fn from(name: &SecretName) -> Self {
        Self(Name::Declarable(name.clone()))
    }
}

impl From<String> for ChangeName {
    /// A live name: declarable when it follows the manifest's rule.
    fn from(name: String) -> Self {
        match SecretName::parse(&name) {
            Ok(declarable) => Self(Name::Declarable(declarable)),
            Err(_) => Self(Name::Other(name)),
        }
    }
}

impl From<&str> for ChangeName {
    fn from(name: &str) -> Self {
        Self::from(name.to_string())
    }
}

impl From<ChangeName> for String {
    fn from(name: ChangeName) -> String {
        match name.0 {
            Name::Declarable(name) => name.into(),
            Name::Other(name) => name,
        }
    }
}

impl PartialEq<&str> for ChangeName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for ChangeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    #[schemars(with = "String")]
    pub name: ChangeName,
    /// The live id, for updates and deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub id: Option<SecretId>,
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
    /// A change of `name` that changes nothing yet, for `reason`: the planner fills in the
    /// fields its kind of change needs.
    pub fn new(name: impl Into<ChangeName>, reason: impl Into<String>) -> Self {
        SecretChange {
            name: name.into(),
            id: None,
            source: None,
            delete_cause: None,
            value: None,
            send_value: false,
            scopes: None,
            user_comment: None,
            marker: None,
            comment: None,
            reason: reason.into(),
        }
    }

    /// The scopes this change sends, in wire spellings (none when it sends no scopes).
    pub fn wire_scopes(&self) -> Vec<String> {
        self.scopes
            .as_ref()
            .map(ScopesChange::new_wire)
            .unwrap_or_default()
    }

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
// `old` keeps unknown live scopes; `new` is a set, so comparing never depends on order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopesChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Vec<String>>,
    #[schemars(with = "Vec<String>")]
    pub new: Scopes,
}

impl ScopesChange {
    /// The scopes to send, in wire spellings (sorted): the one place a plan's scopes become
    /// the API's strings.
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
    // The live name: it may fall outside the manifest's rule. (Doc comments here would change
    // `schemas/plan.schema.json`.)
    pub name: String,
    #[schemars(with = "String")]
    pub id: SecretId,
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

/// A safety rule the plan breaks: a delete threshold, or a Workers binding it would break
/// (`plan --wrangler`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockReason {
    pub account: String,
    pub store: String,
    /// Deletes planned in this store (old names of renames excluded).
    pub deletes: u32,
    /// Live secrets in the store.
    pub existing: u32,
    /// Which rule: `max_deletes`, `max_delete_percent` or `allow_deletes`; or
    /// `workers_binding` when the plan breaks a Workers binding (`plan --wrangler`).
    pub rule: String,
    pub message: String,
    /// For `workers_binding`: the binding the plan would break.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingRef>,
}

/// A Workers binding (`secrets_store_secrets` entry) in a wrangler config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BindingRef {
    /// The wrangler config, as `--wrangler` found it.
    pub file: String,
    /// Where the entry starts (1-based; the column counts characters).
    pub line: u64,
    pub column: u64,
    /// `env.<name>`; absent for the top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The binding's name (`env.NAME` in the Worker).
    pub name: String,
    /// The secret it reads, as named before the plan.
    pub secret: String,
}

impl BlockReason {
    /// The rule of a block on a broken Workers binding.
    pub const WORKERS_BINDING: &'static str = "workers_binding";

    /// Whether this block is a broken Workers binding (lifted by `--allow-binding-breaks`,
    /// not by `--allow-deletes`).
    pub fn is_binding(&self) -> bool {
        self.rule == Self::WORKERS_BINDING
    }
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
    /// Each wrangler config the plan's bindings were checked in (`--wrangler`), by its path
    /// as found: `apply FILE` reads these paths again and checks the bindings once more.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub wrangler: BTreeMap<String, String>,
    /// Whether the plan was made with `--allow-binding-breaks`; `apply FILE` keeps it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_binding_breaks: bool,
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
        let name = change.name.declarable()?.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_name_has_one_value_per_spelling() {
        let declared = SecretName::parse("STRIPE_KEY").unwrap();
        let from_live = ChangeName::from("STRIPE_KEY");
        assert_eq!(ChangeName::from(&declared), from_live);
        assert_eq!(from_live.declarable(), Some(&declared));
        // A live name the manifest's rule refuses is kept as spelt, and is not declarable.
        let odd = ChangeName::from("odd.name");
        assert_eq!(odd, "odd.name");
        assert_eq!(odd.declarable(), None);
        for name in [from_live, odd] {
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<ChangeName>(&json).unwrap(), name);
        }
    }
}
