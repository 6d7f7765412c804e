//! The one manifest reader: the text read as a generic YAML tree with locations, walked
//! against the expected shape so that every unknown key, wrong type and missing required key
//! is reported in one run, and the [`raw`](super::raw) types built from whatever is sound.
//!
//! A syntax error or a duplicate key stops the YAML parser, and then the document cannot be
//! trusted past that point, so those stay single. Scalars are judged the way serde-saphyr
//! reads them into the typed structs (any non-null scalar is a string; quoted `"1"` is still
//! an integer and `"true"` still a boolean): on every document the walk finds sound, serde
//! reads the same raw values (the `oracle` tests check it on generated manifests).

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use crate::manifest::diagnostic::{Diagnostic, Diagnostics, quoted, shown};
use crate::manifest::model::Prune;
use crate::manifest::raw::{
    Broken, Ensure, OrderedMap, RawAccount, RawBundle, RawDefaults, RawManifest, RawSafety,
    RawSecret, RawStore, RawValue,
};

/// A YAML node with its location.
pub type Node = Spanned<Kind>;

/// A YAML node as serde-saphyr presents it to an untyped visitor.
#[derive(Debug)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Spanned<String>, Node)>),
}

impl Kind {
    /// What the node is, for "found …" in messages. Never the value itself.
    fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "nothing",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl<'de> Visitor<'de> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
                Ok(Kind::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
                Ok(Kind::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
                Kind::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
                Ok(Kind::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
                Ok(Kind::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
                Ok(Kind::Int(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
                Ok(Kind::Int(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
                Ok(Kind::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
                Ok(Kind::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
                Ok(Kind::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(Kind::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<Node>()?;
                    entries.push((key, value));
                }
                Ok(Kind::Map(entries))
            }
        }
        deserializer.deserialize_any(KindVisitor)
    }
}

/// How deep a manifest may nest. The deepest a manifest goes is eight levels (a bundle
/// value's map, or a list of scopes, in a secret in a store in an account); each level costs
/// the reader tens of kilobytes of stack in a debug build, so the YAML reader's default of 64
/// overflowed a 2 MiB thread (a test's, or a tokio worker's) at about 50.
pub const MAX_DEPTH: usize = 16;

/// The YAML reader's limits for a manifest: its defaults, nesting cut to [`MAX_DEPTH`].
pub fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget
}

/// Parses `text` into a tree. Fails on what stops the parser (syntax, duplicate keys); the
/// caller then lets the typed parse report it.
pub fn parse_tree(text: &str) -> Result<Node, serde_saphyr::Error> {
    // An untyped read refuses `.nan` and `.inf` by default, though a string key may hold
    // them (a comment, say); keep them as numbers, whose source text is kept too.
    let mut options = serde_saphyr::Options::default();
    options.non_finite_float_policy = serde_saphyr::options::NonFiniteFloatPolicy::PassThrough;
    options.budget = Some(budget());
    serde_saphyr::from_str_with_options::<Node>(text, options)
}

// The keys of each map, as the raw types declare them (a unit test compares them with the
// generated schema, so the two cannot drift apart).
pub const MANIFEST_KEYS: [&str; 6] = [
    "version",
    "recipients_file",
    "fingerprint_key",
    "defaults",
    "safety",
    "accounts",
];
pub const MANIFEST_REQUIRED: [&str; 4] =
    ["version", "recipients_file", "fingerprint_key", "accounts"];
pub const DEFAULTS_KEYS: [&str; 1] = ["scopes"];
pub const SAFETY_KEYS: [&str; 3] = ["max_deletes", "max_delete_percent", "min_existing"];
pub const ACCOUNT_KEYS: [&str; 2] = ["account_id", "stores"];
pub const ACCOUNT_REQUIRED: [&str; 1] = ["stores"];
pub const STORE_KEYS: [&str; 2] = ["prune", "secrets"];
pub const STORE_REQUIRED: [&str; 1] = ["secrets"];
pub const SECRET_KEYS: [&str; 6] = [
    "value",
    "scopes",
    "comment",
    "protect",
    "renamed_from",
    "ensure",
];
pub const BUNDLE_KEYS: [&str; 2] = ["bundle", "key"];
pub const BUNDLE_REQUIRED: [&str; 2] = ["bundle", "key"];

/// The outcome of reading one key.
enum Got<T> {
    /// Not written, or written as null where that means "not set".
    Absent,
    Ok(T),
    /// Written, but wrong; already reported.
    Broken,
}

impl<T> Got<T> {
    /// The value, recording `key` in `broken` when it could not be read.
    fn into_option(self, key: &'static str, broken: &mut Broken) -> Option<T> {
        match self {
            Got::Absent => None,
            Got::Ok(value) => Some(value),
            Got::Broken => {
                broken.insert(key);
                None
            }
        }
    }
}

/// A required key's value, or (when it is missing or broken, which is already reported) a
/// placeholder, with the key marked in `broken`.
fn required<T>(
    got: Got<Spanned<T>>,
    key: &'static str,
    empty: T,
    broken: &mut Broken,
) -> Spanned<T> {
    match got {
        Got::Ok(value) => value,
        Got::Absent | Got::Broken => {
            broken.insert(key);
            Spanned::new(empty, Location::UNKNOWN, Location::UNKNOWN)
        }
    }
}

/// The known keys of one map, each with its value, and the known keys that unknown ones
/// were taken for (`valu` → `value`).
#[derive(Default)]
struct Fields<'n> {
    known: Vec<(&'static str, &'n Node)>,
    meant: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.known
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, node)| *node)
    }

    /// A misspelled key stands for the key it was meant to be: marking that one broken keeps
    /// validation from also reporting it as missing.
    fn mark_meant(&self, broken: &mut Broken) {
        for &k in &self.meant {
            if self.get(k).is_none() {
                broken.insert(k);
            }
        }
    }
}

/// Walks a parsed tree and collects diagnostics.
pub struct Walker<'a> {
    path: &'a Path,
    text: &'a str,
    diags: Diagnostics,
}

/// Checks the structure of `root` (a map) and builds the raw manifest from the sound parts.
/// Any key whose value is broken is left out and recorded in the owning map's [`Broken`].
pub fn walk(path: &Path, text: &str, root: &Node) -> (RawManifest, Diagnostics) {
    let mut walker = Walker {
        path,
        text,
        diags: Diagnostics::new(),
    };
    let raw = walker.manifest(root);
    (raw, walker.diags)
}

/// The manifest as written, read by the one reader's structural pass: every sound part is
/// there even when other parts have problems (left for
/// [`check_edit`](super::edit::check_edit) and `cfsecrets check` to report; a broken key is
/// missing and named in its map's `broken` set). Fails only when the text is not a YAML map
/// at all (a syntax error, a duplicate key, an empty file): past that, nothing in it can be
/// trusted.
pub fn read_as_written(path: &Path, text: &str) -> Result<RawManifest, Diagnostic> {
    match parse_tree(text) {
        Ok(tree) if matches!(tree.value, Kind::Map(_)) => Ok(walk(path, text, &tree).0),
        Ok(tree) => Err(super::syntax::not_a_map(path, text, &tree)),
        Err(err) => Err(super::syntax::syntax_diagnostic(path, text, &err)),
    }
}

/// The known key closest to an unknown one, when it is a plausible typo
/// (`scope` → `scopes`, `account-id` → `account_id`, `renamedFrom` → `renamed_from`).
pub fn suggest_key(written: &str, known: &[&'static str]) -> Option<&'static str> {
    let normalized = written.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let squashed = normalized.replace('_', "");
    known
        .iter()
        .map(|&k| {
            let distance = if k.replace('_', "") == squashed {
                0
            } else {
                strsim::levenshtein(&normalized, k)
            };
            (distance, k)
        })
        .filter(|&(distance, k)| distance <= (k.len() / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, k)| k)
}

impl Walker<'_> {
    fn error(&mut self, at: &Location, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(
            self.path,
            at.line(),
            at.column(),
            message,
        ));
    }

    fn wrong_type(&mut self, node: &Node, key: &str, expected: &str) {
        self.wrong_shape(node, &format!("`{key}`"), expected);
    }

    /// `subject` is already formatted: "`defaults`", "secret `A`".
    fn wrong_shape(&mut self, node: &Node, subject: &str, expected: &str) {
        self.error(
            &node.referenced,
            format!(
                "wrong type for {subject}: expected {expected}, found {}",
                node.value.describe()
            ),
        );
    }

    /// The source text of a scalar that the untyped read turned into a number or boolean,
    /// so that `account_id: 0123…` stays the digits written. Taken at the definition, so an
    /// alias yields its anchor's text.
    fn scalar_text(&self, node: &Node) -> Option<String> {
        match &node.value {
            Kind::Str(s) => Some(s.clone()),
            Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => {
                let span = node.defined.span();
                let written = span
                    .byte_offset()
                    .zip(span.byte_len())
                    .and_then(|(start, len)| {
                        let start = usize::try_from(start).ok()?;
                        let end = start.checked_add(usize::try_from(len).ok()?)?;
                        self.text.get(start..end)
                    })
                    .filter(|t| !t.is_empty() && !t.starts_with(['&', '*', '!']));
                Some(match (written, &node.value) {
                    (Some(t), _) => t.to_string(),
                    (None, Kind::Bool(b)) => b.to_string(),
                    (None, Kind::Int(i)) => i.to_string(),
                    (None, Kind::Float(f)) => f.to_string(),
                    (None, _) => return None,
                })
            }
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// Splits a map into its known keys, reporting unknown and missing ones. `owner_at` is
    /// where a missing key is reported (the map's own key, or the document start); `what`
    /// names the map in those messages.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        subject: &str,
        expected: &str,
        (known, required): (&[&'static str], &[&'static str]),
        owner_at: &Location,
        what: &str,
    ) -> Option<Fields<'n>> {
        let entries = match &node.value {
            Kind::Map(entries) => entries,
            // `store:` with nothing after it: say so at the key, not "found nothing" at the
            // end of its line.
            Kind::Null => {
                self.error(owner_at, format!("{subject} is empty; expected {expected}"));
                return None;
            }
            _ => {
                self.wrong_shape(node, subject, expected);
                return None;
            }
        };
        let mut fields = Fields::default();
        for (name, value) in entries {
            match known.iter().find(|k| **k == name.value) {
                Some(&k) => fields.known.push((k, value)),
                None => {
                    let meant = suggest_key(&name.value, known);
                    fields.meant.extend(meant);
                    let hint = meant
                        .map(|k| format!("; did you mean `{k}`?"))
                        .unwrap_or_default();
                    self.error(
                        &name.referenced,
                        format!(
                            "unknown key `{}`; expected one of {}{hint}",
                            shown(&name.value),
                            quoted(known)
                        ),
                    );
                }
            }
        }
        for &k in required {
            if fields.get(k).is_none() && !fields.meant.contains(&k) {
                self.error(owner_at, format!("missing key `{k}`{what}"));
            }
        }
        Some(fields)
    }

    fn string(&mut self, node: Option<&Node>, key: &str, required: bool) -> Got<Spanned<String>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        match &node.value {
            Kind::Null if !required => Got::Absent,
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => {
                self.wrong_type(node, key, "a string");
                Got::Broken
            }
            _ => match self.scalar_text(node) {
                Some(text) => Got::Ok(Spanned::new(text, node.referenced, node.defined)),
                None => Got::Broken,
            },
        }
    }

    fn integer(&mut self, node: Option<&Node>, key: &str, required: bool) -> Got<Spanned<i64>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        let value = match &node.value {
            Kind::Null if !required => return Got::Absent,
            Kind::Int(i) => match i64::try_from(*i) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.error(&node.referenced, format!("`{key}` is out of range"));
                    return Got::Broken;
                }
            },
            // A quoted number still reads as one.
            Kind::Str(s) => serde_saphyr::from_str::<i64>(s).ok(),
            _ => None,
        };
        match value {
            Some(v) => Got::Ok(Spanned::new(v, node.referenced, node.defined)),
            None => {
                self.wrong_type(node, key, "an integer");
                Got::Broken
            }
        }
    }

    fn boolean(&mut self, node: Option<&Node>, key: &str) -> Got<Spanned<bool>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        let value = match &node.value {
            Kind::Null => return Got::Absent,
            Kind::Bool(b) => Some(*b),
            // A quoted boolean still reads as one.
            Kind::Str(s) => serde_saphyr::from_str::<bool>(s).ok(),
            _ => None,
        };
        match value {
            Some(v) => Got::Ok(Spanned::new(v, node.referenced, node.defined)),
            None => {
                self.wrong_type(node, key, "`true` or `false`");
                Got::Broken
            }
        }
    }

    /// One of a fixed set of words.
    fn word<T: Copy>(
        &mut self,
        node: Option<&Node>,
        key: &str,
        words: &[(&str, T)],
    ) -> Got<Spanned<T>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        if matches!(node.value, Kind::Null) {
            return Got::Absent;
        }
        let Some(text) = self.scalar_text(node) else {
            let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
            self.wrong_type(node, key, &format!("one of {}", quoted(&names)));
            return Got::Broken;
        };
        match words.iter().find(|(w, _)| *w == text) {
            Some((_, value)) => Got::Ok(Spanned::new(*value, node.referenced, node.defined)),
            None => {
                let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                self.error(
                    &node.referenced,
                    format!(
                        "unknown value `{}`; expected one of {}",
                        shown(&text),
                        quoted(&names)
                    ),
                );
                Got::Broken
            }
        }
    }

    fn scopes(&mut self, node: Option<&Node>, key: &str) -> Got<Spanned<Vec<Spanned<String>>>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        let items = match &node.value {
            Kind::Null => return Got::Absent,
            Kind::Seq(items) => items,
            _ => {
                self.wrong_type(node, key, "a list of scopes (e.g. `[workers]`)");
                return Got::Broken;
            }
        };
        let mut ok = true;
        let mut scopes = Vec::new();
        for item in items {
            match &item.value {
                Kind::Null | Kind::Seq(_) | Kind::Map(_) => {
                    self.wrong_shape(item, &format!("an item of `{key}`"), "a scope name");
                    ok = false;
                }
                _ => match self.scalar_text(item) {
                    Some(text) => scopes.push(Spanned::new(text, item.referenced, item.defined)),
                    None => ok = false,
                },
            }
        }
        if ok {
            Got::Ok(Spanned::new(scopes, node.referenced, node.defined))
        } else {
            Got::Broken
        }
    }

    /// A map keyed by name (accounts, stores, secrets), each entry read by `entry`; an entry
    /// that is not a map is reported and left out.
    fn named<V>(
        &mut self,
        node: Option<&Node>,
        key: &str,
        mut entry: impl FnMut(&mut Self, &Spanned<String>, &Node) -> Option<V>,
    ) -> Got<Spanned<OrderedMap<V>>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        let Kind::Map(entries) = &node.value else {
            let hint = if matches!(node.value, Kind::Null) {
                " (write `{}` for none)"
            } else {
                ""
            };
            self.wrong_type(node, key, &format!("a map{hint}"));
            return Got::Broken;
        };
        let mut out = Vec::new();
        for (name, value) in entries {
            if let Some(v) = entry(self, name, value) {
                out.push((name.clone(), v));
            }
        }
        if out.is_empty() && !entries.is_empty() {
            // Every entry was written but broken (and reported): the map is not empty, so
            // validation must not say it is.
            return Got::Broken;
        }
        Got::Ok(Spanned::new(OrderedMap(out), node.referenced, node.defined))
    }

    fn manifest(&mut self, root: &Node) -> RawManifest {
        let at = root.referenced;
        let fields = self
            .fields(
                root,
                "the manifest",
                "a map",
                (&MANIFEST_KEYS, &MANIFEST_REQUIRED),
                &at,
                "",
            )
            .unwrap_or_default();
        let version = self.integer(fields.get("version"), "version", true);
        let recipients = self.string(fields.get("recipients_file"), "recipients_file", true);
        let fingerprint = self.string(fields.get("fingerprint_key"), "fingerprint_key", true);
        let defaults = self.defaults(fields.get("defaults"));
        let safety = self.safety(fields.get("safety"));
        let accounts = self.named(fields.get("accounts"), "accounts", |w, label, node| {
            w.account(label, node)
        });

        // A required key that is missing or broken was reported above; a placeholder stands
        // in and the key is marked so validation stays silent about it.
        let mut broken = Broken::default();
        fields.mark_meant(&mut broken);
        let version = required(version, "version", 1, &mut broken);
        let recipients_file = required(recipients, "recipients_file", String::new(), &mut broken);
        let fingerprint_key = required(fingerprint, "fingerprint_key", String::new(), &mut broken);
        let accounts = required(accounts, "accounts", OrderedMap(Vec::new()), &mut broken);
        let defaults = defaults.into_option("defaults", &mut broken);
        let safety = safety.into_option("safety", &mut broken);
        RawManifest {
            version,
            recipients_file,
            fingerprint_key,
            defaults,
            safety,
            accounts,
            broken,
        }
    }

    fn defaults(&mut self, node: Option<&Node>) -> Got<RawDefaults> {
        let Some(node) = node else {
            return Got::Absent;
        };
        if matches!(node.value, Kind::Null) {
            return Got::Absent;
        }
        let at = node.referenced;
        let Some(fields) = self.fields(node, "`defaults`", "a map", (&DEFAULTS_KEYS, &[]), &at, "")
        else {
            return Got::Broken;
        };
        let mut broken = Broken::default();
        fields.mark_meant(&mut broken);
        let scopes = self
            .scopes(fields.get("scopes"), "scopes")
            .into_option("scopes", &mut broken);
        Got::Ok(RawDefaults { scopes, broken })
    }

    fn safety(&mut self, node: Option<&Node>) -> Got<Spanned<RawSafety>> {
        let Some(node) = node else {
            return Got::Absent;
        };
        if matches!(node.value, Kind::Null) {
            return Got::Absent;
        }
        let at = node.referenced;
        let Some(fields) = self.fields(node, "`safety`", "a map", (&SAFETY_KEYS, &[]), &at, "")
        else {
            return Got::Broken;
        };
        let mut unused = Broken::default();
        let mut number = |w: &mut Self, key: &'static str| {
            w.integer(fields.get(key), key, false)
                .into_option(key, &mut unused)
        };
        let safety = RawSafety {
            max_deletes: number(self, "max_deletes"),
            max_delete_percent: number(self, "max_delete_percent"),
            min_existing: number(self, "min_existing"),
        };
        Got::Ok(Spanned::new(safety, node.referenced, node.defined))
    }

    fn account(&mut self, label: &Spanned<String>, node: &Node) -> Option<RawAccount> {
        let what = format!(" in account `{}`", shown(&label.value));
        let fields = self.fields(
            node,
            &format!("account `{}`", shown(&label.value)),
            "a map with `stores` and optionally `account_id`",
            (&ACCOUNT_KEYS, &ACCOUNT_REQUIRED),
            &label.referenced,
            &what,
        )?;
        let mut broken = Broken::default();
        fields.mark_meant(&mut broken);
        let account_id = self
            .string(fields.get("account_id"), "account_id", false)
            .into_option("account_id", &mut broken);
        let stores = self.named(fields.get("stores"), "stores", |w, name, node| {
            w.store(&label.value, name, node)
        });
        let stores = required(stores, "stores", OrderedMap(Vec::new()), &mut broken);
        Some(RawAccount {
            account_id,
            stores,
            broken,
        })
    }

    fn store(&mut self, account: &str, name: &Spanned<String>, node: &Node) -> Option<RawStore> {
        let what = format!(
            " in store `{}` of account `{}`",
            shown(&name.value),
            shown(account)
        );
        let fields = self.fields(
            node,
            &format!("store `{}`", shown(&name.value)),
            "a map with `secrets` and optionally `prune`",
            (&STORE_KEYS, &STORE_REQUIRED),
            &name.referenced,
            &what,
        )?;
        let mut broken = Broken::default();
        fields.mark_meant(&mut broken);
        let prune = self
            .word(
                fields.get("prune"),
                "prune",
                &[
                    ("owned", Prune::Owned),
                    ("all", Prune::All),
                    ("none", Prune::None),
                ],
            )
            .into_option("prune", &mut broken)
            .map(|p| p.value);
        let secrets = self.named(fields.get("secrets"), "secrets", |w, name, node| {
            w.secret(name, node)
        });
        let secrets = required(secrets, "secrets", OrderedMap(Vec::new()), &mut broken);
        Some(RawStore {
            prune,
            secrets,
            broken,
        })
    }

    fn secret(&mut self, name: &Spanned<String>, node: &Node) -> Option<RawSecret> {
        let fields = self.fields(
            node,
            &format!("secret `{}`", shown(&name.value)),
            "a map such as `{ value: … }`",
            (&SECRET_KEYS, &[]),
            &name.referenced,
            "",
        )?;
        let mut b = Broken::default();
        fields.mark_meant(&mut b);
        let value = self.value(fields.get("value")).into_option("value", &mut b);
        let scopes = self
            .scopes(fields.get("scopes"), "scopes")
            .into_option("scopes", &mut b);
        let comment = self
            .string(fields.get("comment"), "comment", false)
            .into_option("comment", &mut b);
        let protect = self
            .boolean(fields.get("protect"), "protect")
            .into_option("protect", &mut b);
        let renamed_from = self
            .string(fields.get("renamed_from"), "renamed_from", false)
            .into_option("renamed_from", &mut b);
        let ensure = self
            .word(
                fields.get("ensure"),
                "ensure",
                &[("present", Ensure::Present), ("absent", Ensure::Absent)],
            )
            .into_option("ensure", &mut b);
        Some(RawSecret {
            value,
            scopes,
            comment,
            protect,
            renamed_from,
            ensure,
            broken: b,
        })
    }

    fn value(&mut self, node: Option<&Node>) -> Got<Spanned<RawValue>> {
        const EXPECTED: &str = "a file path, `keep`, or a map `{ bundle, key }`";
        let Some(node) = node else {
            return Got::Absent;
        };
        let value = match &node.value {
            Kind::Null => return Got::Absent,
            Kind::Str(path) => RawValue::Path(path.clone()),
            Kind::Map(_) => {
                let at = node.referenced;
                let Some(fields) = self.fields(
                    node,
                    "`value`",
                    EXPECTED,
                    (&BUNDLE_KEYS, &BUNDLE_REQUIRED),
                    &at,
                    " in the bundle value",
                ) else {
                    return Got::Broken;
                };
                let bundle = self.string(fields.get("bundle"), "bundle", true);
                let key = self.string(fields.get("key"), "key", true);
                match (bundle, key) {
                    (Got::Ok(bundle), Got::Ok(key)) => RawValue::Bundle(RawBundle {
                        bundle: bundle.value,
                        key: key.value,
                    }),
                    _ => return Got::Broken,
                }
            }
            _ => {
                self.wrong_type(node, "value", EXPECTED);
                return Got::Broken;
            }
        };
        Got::Ok(Spanned::new(value, node.referenced, node.defined))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(schema: &serde_json::Value) -> (Vec<String>, Vec<String>) {
        let mut keys: Vec<String> = schema["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        let mut required: Vec<String> = schema["required"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        required.sort();
        (keys, required)
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn the_key_lists_match_the_schema() {
        let schema: serde_json::Value =
            serde_json::from_str(&crate::manifest::manifest_schema_json()).unwrap();
        let defs = &schema["$defs"];
        let cases: [(&serde_json::Value, &[&str], &[&str]); 7] = [
            (&schema, &MANIFEST_KEYS, &MANIFEST_REQUIRED),
            (&defs["Defaults"], &DEFAULTS_KEYS, &[]),
            (&defs["Safety"], &SAFETY_KEYS, &[]),
            (&defs["Account"], &ACCOUNT_KEYS, &ACCOUNT_REQUIRED),
            (&defs["Store"], &STORE_KEYS, &STORE_REQUIRED),
            (&defs["Secret"], &SECRET_KEYS, &[]),
            (&defs["Bundle"], &BUNDLE_KEYS, &BUNDLE_REQUIRED),
        ];
        for (def, keys, required) in cases {
            assert_eq!(names(def), (sorted(keys), sorted(required)), "{def}");
            assert_eq!(def["additionalProperties"], false, "{def}");
        }
    }

    #[test]
    fn reads_the_manifest_as_written_even_with_problems() {
        let text = "\
version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults: { scopes: [workers] }
unknown_extra: ignored
accounts:
  production:
    stores:
      default_secrets_store:
        secrets:
          SENDGRID_KEY: { renamed_from: SENDGRID_API_KEY, value: keep }
          OLD_TOKEN: { ensure: absent }
  staging:
    stores:
      s: { secrets: {} }
";
        let raw = read_as_written(Path::new("repo/cfsecrets.yaml"), text).unwrap();
        assert_eq!(
            Path::new("repo").join(&raw.recipients_file.value),
            Path::new("repo/.age-recipients")
        );
        let defaults = raw
            .defaults
            .as_ref()
            .and_then(|d| d.scopes.as_ref())
            .unwrap();
        assert_eq!(defaults.value[0].value, "workers");
        let store = raw
            .account("production")
            .and_then(|a| a.store("default_secrets_store"))
            .unwrap();
        assert!(matches!(
            store.secret("SENDGRID_KEY").and_then(|s| s.value.as_ref()).map(|v| &v.value),
            Some(RawValue::Path(p)) if p == "keep"
        ));
        assert_eq!(
            store
                .secret("OLD_TOKEN")
                .and_then(|s| s.ensure.as_ref())
                .map(|e| e.value),
            Some(Ensure::Absent)
        );
        assert!(
            raw.account("staging")
                .and_then(|a| a.store("s"))
                .unwrap()
                .secrets
                .value
                .is_empty()
        );
        assert!(raw.account("nope").is_none());

        let err = read_as_written(Path::new("m.yaml"), "a: [1\nb: 2\n").unwrap_err();
        assert!(err.line > 0, "{err}");
        let err = read_as_written(Path::new("m.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate key"), "{err}");
        assert!(read_as_written(Path::new("m.yaml"), "").is_err());
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        assert_eq!(suggest_key("scope", &SECRET_KEYS), Some("scopes"));
        assert_eq!(suggest_key("valu", &SECRET_KEYS), Some("value"));
        assert_eq!(
            suggest_key("renamedFrom", &SECRET_KEYS),
            Some("renamed_from")
        );
        assert_eq!(suggest_key("account-id", &ACCOUNT_KEYS), Some("account_id"));
        assert_eq!(suggest_key("default", &MANIFEST_KEYS), Some("defaults"));
        assert_eq!(suggest_key("colour", &SECRET_KEYS), None);
        assert_eq!(suggest_key("x", &BUNDLE_KEYS), None);
    }

    #[test]
    fn numbers_written_as_digits_keep_their_text() {
        let text = "a: 0123456789012345678901234567890123\nb: &n 007\nc: *n\nd: .nan\n";
        let root = parse_tree(text).unwrap();
        let Kind::Map(entries) = &root.value else {
            panic!("a map")
        };
        let walker = Walker {
            path: Path::new("m.yaml"),
            text,
            diags: Diagnostics::new(),
        };
        let texts: Vec<_> = entries
            .iter()
            .map(|(_, node)| walker.scalar_text(node).unwrap())
            .collect();
        assert_eq!(
            texts,
            ["0123456789012345678901234567890123", "007", "007", ".nan"]
        );
    }
}
