//! The manifest exactly as written: serde types that mirror the YAML, with source spans where
//! validation needs to point, and the JSON Schema (`schemas/manifest.schema.json`) derived
//! from them.
//!
//! The one reader, [`super::structure`], builds them from the generic YAML tree, leaving out
//! what is broken and recording each such key in a [`Broken`] set, so that
//! [`super::validate`] can still check everything else without reporting consequences of a
//! problem already reported. Their serde derives serve the JSON Schema and, in tests, an
//! oracle: on every document the walk finds sound, serde reads the same values. Numbers that have a range (safety)
//! and strings that have a vocabulary (scopes, names) are read loosely and checked in
//! [`super::validate`], so that every such problem is reported in one run.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_saphyr::Spanned;

use crate::domain::{MAX_SECRET_NAME_LEN, Scope};
use crate::manifest::model::Prune;

/// A cfsecrets manifest (`cfsecrets.yaml`): which Cloudflare Secrets Store secrets should
/// exist, with their scopes and comments, and where their age-sealed values live.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cfsecrets manifest")]
pub struct RawManifest {
    /// Manifest format version; only 1 is supported.
    #[schemars(schema_with = "version_schema")]
    pub version: Spanned<i64>,
    /// File of age recipients (public keys, `age1…`), one per line, `#` comments allowed.
    /// Relative to the manifest's directory.
    #[schemars(with = "String")]
    pub recipients_file: Spanned<String>,
    /// The age-sealed fingerprint key (32 random bytes as hex text), used to tell whether a
    /// write-only value changed. Relative to the manifest's directory.
    #[schemars(with = "String")]
    pub fingerprint_key: Spanned<String>,
    /// Defaults for every secret.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// Thresholds that block a plan deleting too much.
    #[serde(default)]
    #[schemars(with = "Option<RawSafety>")]
    pub safety: Option<Spanned<RawSafety>>,
    /// Cloudflare accounts, keyed by a label used in output.
    #[schemars(schema_with = "accounts_schema")]
    pub accounts: Spanned<OrderedMap<RawAccount>>,
    /// Keys present in the manifest but structurally broken (already reported).
    #[serde(skip)]
    #[schemars(skip)]
    pub broken: Broken,
}

/// Defaults applied to secrets that do not set the key themselves.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub struct RawDefaults {
    /// Scopes for secrets that name none.
    #[serde(default)]
    #[schemars(schema_with = "scopes_schema")]
    pub scopes: Option<Spanned<Vec<Spanned<String>>>>,
    /// Keys present in the manifest but structurally broken (already reported).
    #[serde(skip)]
    #[schemars(skip)]
    pub broken: Broken,
}

/// Safety thresholds, enforced per store and per plan. A blocked plan still renders in full.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Safety")]
pub struct RawSafety {
    /// Largest number of deletes one plan may make in a store (no limit when unset).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_deletes: Option<Spanned<i64>>,
    /// Largest share, in percent (0 to 100), of a store's live secrets that one plan may
    /// delete. Default 30.
    #[serde(default)]
    #[schemars(schema_with = "percent_schema")]
    pub max_delete_percent: Option<Spanned<i64>>,
    /// The thresholds apply only to stores holding at least this many live secrets.
    /// Default 10.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub min_existing: Option<Spanned<i64>>,
}

/// One Cloudflare account.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Account")]
pub struct RawAccount {
    /// The account id (32 lowercase hex characters). When omitted, `CLOUDFLARE_ACCOUNT_ID` is
    /// used; then only one account may omit it.
    #[serde(default)]
    #[schemars(schema_with = "account_id_schema")]
    pub account_id: Option<Spanned<String>>,
    /// Secrets stores of this account, keyed by store name.
    #[schemars(schema_with = "stores_schema")]
    pub stores: Spanned<OrderedMap<RawStore>>,
    /// Keys present in the manifest but structurally broken (already reported).
    #[serde(skip)]
    #[schemars(skip)]
    pub broken: Broken,
}

/// One secrets store, identified by name.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Store")]
pub struct RawStore {
    /// What happens to live secrets this store does not declare: `owned` (default) deletes
    /// those this tool wrote, `all` deletes every one, `none` deletes nothing.
    #[serde(default)]
    pub prune: Option<Prune>,
    /// Secrets, keyed by secret name (`^[A-Za-z0-9_-]+$`, at most 255 characters).
    #[schemars(schema_with = "secrets_schema")]
    pub secrets: Spanned<OrderedMap<RawSecret>>,
    /// Keys present in the manifest but structurally broken (already reported).
    #[serde(skip)]
    #[schemars(skip)]
    pub broken: Broken,
}

/// One secret. `ensure: absent` stands alone; a present secret needs `value`.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Secret")]
pub struct RawSecret {
    /// Where the value comes from: a path to an age-sealed file holding just the value,
    /// `keep` (manage the metadata only; never read or write the value), or
    /// `{ bundle, key }` (one key of a sealed dotenv or YAML bundle).
    #[serde(default)]
    #[schemars(with = "Option<RawValue>")]
    pub value: Option<Spanned<RawValue>>,
    /// Scopes that may read the secret; defaults to `defaults.scopes`.
    #[serde(default)]
    #[schemars(schema_with = "scopes_schema")]
    pub scopes: Option<Spanned<Vec<Spanned<String>>>>,
    /// A comment stored with the secret.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub comment: Option<Spanned<String>>,
    /// A protected secret is never deleted, even after it leaves the manifest, until a plan
    /// first removes its protection.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub protect: Option<Spanned<bool>>,
    /// The secret's previous name; the plan renames it in place.
    #[serde(default)]
    #[schemars(schema_with = "renamed_from_schema")]
    pub renamed_from: Option<Spanned<String>>,
    /// `present` (default) or `absent` (delete by name; no other key allowed).
    #[serde(default)]
    #[schemars(with = "Option<Ensure>")]
    pub ensure: Option<Spanned<Ensure>>,
    /// Keys present in the manifest but structurally broken (already reported).
    #[serde(skip)]
    #[schemars(skip)]
    pub broken: Broken,
}

/// Lookups by the name as written (keys are unique: the parser rejects duplicates).
impl RawManifest {
    /// The account with this label.
    pub fn account(&self, label: &str) -> Option<&RawAccount> {
        find(&self.accounts.value, label)
    }

    /// Every secret entry in source order, with where it is written.
    pub fn entries(&self) -> impl Iterator<Item = RawEntry<'_>> {
        self.accounts.value.0.iter().flat_map(|(label, account)| {
            account.stores.value.0.iter().flat_map(move |(store, s)| {
                s.secrets
                    .value
                    .0
                    .iter()
                    .map(move |(name, secret)| RawEntry {
                        account: &label.value,
                        store: &store.value,
                        name: &name.value,
                        secret,
                    })
            })
        })
    }

    /// Whether the manifest names the file `path` (as written, relative to its directory)
    /// anywhere: the recipients file, the fingerprint key, a value file or a bundle.
    pub fn names_file(&self, path: &str) -> bool {
        self.recipients_file.value == path
            || self.fingerprint_key.value == path
            || self.entries().any(|e| match e.value() {
                Some(RawValue::Path(p)) => p == path,
                Some(RawValue::Bundle(b)) => b.bundle == path,
                None => false,
            })
    }
}

/// One secret entry of a [`RawManifest`], with its account label and store name.
#[derive(Clone, Copy, Debug)]
pub struct RawEntry<'m> {
    pub account: &'m str,
    pub store: &'m str,
    pub name: &'m str,
    pub secret: &'m RawSecret,
}

impl<'m> RawEntry<'m> {
    /// Where its value comes from, when the entry says.
    pub fn value(&self) -> Option<&'m RawValue> {
        self.secret.value.as_ref().map(|v| &v.value)
    }

    /// The bundle key it reads from the bundle `bundle`, if it reads one.
    pub fn key_in_bundle(&self, bundle: &str) -> Option<&'m str> {
        match self.value() {
            Some(RawValue::Bundle(b)) if b.bundle == bundle => Some(&b.key),
            _ => None,
        }
    }
}

impl RawAccount {
    /// The store with this name.
    pub fn store(&self, name: &str) -> Option<&RawStore> {
        find(&self.stores.value, name)
    }
}

impl RawStore {
    /// The secret entry with this name.
    pub fn secret(&self, name: &str) -> Option<&RawSecret> {
        find(&self.secrets.value, name)
    }
}

impl<V> OrderedMap<V> {
    /// The keys, in source order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.value.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn find<'m, V>(map: &'m OrderedMap<V>, key: &str) -> Option<&'m V> {
    map.0.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
}

/// Keys of one map that were written but could not be read (wrong type, or a required key
/// missing inside them). Empty after a clean parse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Broken(pub Vec<&'static str>);

impl Broken {
    pub fn has(&self, key: &str) -> bool {
        self.0.contains(&key)
    }

    pub fn insert(&mut self, key: &'static str) {
        if !self.has(key) {
            self.0.push(key);
        }
    }
}

/// Whether a declared secret should exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ensure {
    /// The secret exists with the declared value and metadata.
    Present,
    /// The secret does not exist; it is deleted by name if it does.
    Absent,
}

/// A secret's value source as written: a string (a file path, or `keep`) or a bundle key.
#[derive(Debug, PartialEq, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Value")]
pub enum RawValue {
    /// A path to an age-sealed file holding just the value, or `keep`.
    Path(String),
    /// One key of an age-sealed bundle.
    Bundle(RawBundle),
}

/// The endings of a sealed bundle's file name.
pub const BUNDLE_SUFFIXES: [&str; 3] = [".env.age", ".yaml.age", ".yml.age"];

impl RawValue {
    /// The sealed file this value names: a path ending in `.age`, or a bundle whose name
    /// ends in one of [`BUNDLE_SUFFIXES`], with nothing in it that looks like a secret
    /// ([`crate::text::secret_shape`]). `None` for `keep`, an empty path, and any other text,
    /// which may be a plaintext value pasted where the path belongs: such text is never shown,
    /// used as a file name, written to or deleted.
    pub fn sealed_file(&self) -> Option<&str> {
        let path = match self {
            RawValue::Path(p) => p.ends_with(".age").then_some(p.as_str()),
            RawValue::Bundle(b) => BUNDLE_SUFFIXES
                .iter()
                .any(|s| b.bundle.ends_with(s))
                .then_some(b.bundle.as_str()),
        }?;
        crate::text::secret_shape(path).is_none().then_some(path)
    }
}

/// One key inside an age-sealed bundle: `*.env.age` (dotenv) or `*.yaml.age`/`*.yml.age`
/// (a flat map of string to string).
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Bundle")]
pub struct RawBundle {
    /// Path to the sealed bundle, relative to the manifest's directory.
    pub bundle: String,
    /// The key inside the bundle.
    pub key: String,
}

// Hand-written so that a wrong shape is reported by the parser with its location and a
// clear expectation, instead of serde's "did not match any variant of untagged enum".
impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = RawValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file path, `keep`, or a map `{ bundle, key }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::Path(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<RawValue, E> {
                Ok(RawValue::Path(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawValue, A::Error> {
                RawBundle::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawValue::Bundle)
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// A YAML map read in source order, each key with its location. Duplicate keys never reach
/// it: the parser rejects them.
#[derive(Debug, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<V>()?;
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for OrderedMap<V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let values = generator.subschema_for::<V>();
        json_schema!({ "type": "object", "additionalProperties": values })
    }
}

fn version_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Manifest format version; only 1 is supported.",
        "type": "integer",
        "const": 1
    })
}

fn percent_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["integer", "null"], "minimum": 0, "maximum": 100 })
}

fn account_id_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["string", "null"], "pattern": "^[0-9a-f]{32}$" })
}

fn secret_name_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]+$",
        "minLength": 1,
        "maxLength": MAX_SECRET_NAME_LEN
    })
}

fn renamed_from_schema(_: &mut SchemaGenerator) -> Schema {
    let mut schema = Schema::try_from(secret_name_schema()).expect("an object schema");
    schema.insert("type".into(), serde_json::json!(["string", "null"]));
    schema
}

fn scopes_schema(_: &mut SchemaGenerator) -> Schema {
    let wire: Vec<&str> = Scope::ALL.iter().map(|s| s.as_wire()).collect();
    json_schema!({
        "type": ["array", "null"],
        "minItems": 1,
        "uniqueItems": true,
        "items": { "type": "string", "enum": wire }
    })
}

fn non_empty_map<V: JsonSchema>(
    generator: &mut SchemaGenerator,
    min: u32,
    names: Option<serde_json::Value>,
) -> Schema {
    let mut schema = OrderedMap::<V>::json_schema(generator);
    if min > 0 {
        schema.insert("minProperties".into(), min.into());
    }
    if let Some(names) = names {
        schema.insert("propertyNames".into(), names);
    }
    schema
}

fn accounts_schema(generator: &mut SchemaGenerator) -> Schema {
    non_empty_map::<RawAccount>(generator, 1, None)
}

fn stores_schema(generator: &mut SchemaGenerator) -> Schema {
    non_empty_map::<RawStore>(generator, 1, Some(serde_json::json!({ "minLength": 1 })))
}

fn secrets_schema(generator: &mut SchemaGenerator) -> Schema {
    non_empty_map::<RawSecret>(generator, 0, Some(secret_name_schema()))
}

/// The JSON Schema of the manifest, pretty-printed with a trailing newline; this is what
/// `schemas/manifest.schema.json` holds and `cfsecrets schema manifest` prints.
pub fn manifest_schema_json() -> String {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<RawManifest>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::manifest::structure::read_as_written;

    const TEXT: &str = "\
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
accounts:
  prod:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      main:
        secrets:
          A: { value: values/a.age }
          B: { value: { bundle: b.env.age, key: B_KEY } }
      other:
        secrets:
          C: { ensure: absent }
";

    #[test]
    fn entries_walk_in_source_order_and_name_their_files() {
        let raw = read_as_written(Path::new("m.yaml"), TEXT).unwrap();
        let names: Vec<String> = raw
            .entries()
            .map(|e| format!("{}/{}/{}", e.account, e.store, e.name))
            .collect();
        assert_eq!(names, ["prod/main/A", "prod/main/B", "prod/other/C"]);
        let keys: Vec<&str> = raw
            .entries()
            .filter_map(|e| e.key_in_bundle("b.env.age"))
            .collect();
        assert_eq!(keys, ["B_KEY"]);
        for named in [
            ".age-recipients",
            "keys/fingerprint.age",
            "values/a.age",
            "b.env.age",
        ] {
            assert!(raw.names_file(named), "{named}");
        }
        assert!(!raw.names_file("values/c.age"));
    }
}
