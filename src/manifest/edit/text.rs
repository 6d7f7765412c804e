//! The text edit of `secret set`: walks block-style mappings by indentation (`accounts:` →
//! label → `stores:` → store → `secrets:` → name), then inserts a new entry after the last
//! entry of the store or rewrites the `value`, `scopes` and `comment` keys of the existing
//! one; its other keys (`protect`, `renamed_from`, …) and their comments are kept, and every
//! other line stays byte-for-byte (line endings and indentation width included). An entry in
//! flow style (`NAME: { value: keep }   # note`) is rewritten in block style, its comments
//! moved onto their own lines just above it; `secrets: {}` becomes a block (its comment
//! kept). Mappings above the entry written in flow style are refused (edit those by hand).
//! The result must parse again and hold the new entry.
//!
//! Many entries go in one edit ([`set_entries`], for `secret import-env`): existing entries
//! are updated one by one, and the new entries of each store are inserted in one splice,
//! so that a thousand new entries cost one pass, one render and one re-parse. An entry is
//! taken out ([`remove_entry`]) or turned into `NAME: { ensure: absent }` ([`set_absent`],
//! its comments moved above it) by the same walk; a store left without entries gets
//! `secrets: {}`. Comment lines above a removed entry stay.

use std::path::Path;

use crate::domain::Scope;
use crate::manifest::raw::{Ensure, RawManifest, RawSecret, RawValue};
use crate::manifest::structure::{SECRET_KEYS, read_as_written};
use crate::manifest::yaml::{render_json, yaml_scopes, yaml_str};

/// Where an entry is (or goes): account label, store, secret name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryAt<'a> {
    pub account: &'a str,
    pub store: &'a str,
    pub name: &'a str,
}

/// Where an entry's value comes from, as the edit writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryValue<'a> {
    /// A value file, relative to the manifest's directory, `/`-separated.
    File(&'a str),
    /// One key of a sealed bundle: `{ bundle: PATH, key: KEY }`.
    Bundle { bundle: &'a str, key: &'a str },
}

impl EntryValue<'_> {
    /// The file the value lives in (the value file, or the bundle).
    pub fn file(&self) -> &str {
        match self {
            EntryValue::File(path) => path,
            EntryValue::Bundle { bundle, .. } => bundle,
        }
    }

    fn render(&self) -> String {
        match self {
            EntryValue::File(path) => yaml_str(path),
            EntryValue::Bundle { bundle, key } => {
                format!("{{ bundle: {}, key: {} }}", yaml_str(bundle), yaml_str(key))
            }
        }
    }

    fn is(&self, raw: Option<&RawValue>) -> bool {
        match (self, raw) {
            (EntryValue::File(path), Some(RawValue::Path(p))) => p == path,
            (EntryValue::Bundle { bundle, key }, Some(RawValue::Bundle(b))) => {
                b.bundle == *bundle && b.key == *key
            }
            _ => false,
        }
    }
}

/// What to write into the entry.
#[derive(Clone, Debug)]
pub struct EntryUpdate<'a> {
    pub account: &'a str,
    pub store: &'a str,
    pub name: &'a str,
    /// The value source.
    pub value: EntryValue<'a>,
    /// Replace (or add) `scopes`.
    pub scopes: Option<&'a [Scope]>,
    /// Replace (or add) `comment`.
    pub comment: Option<&'a str>,
}

impl<'a> EntryUpdate<'a> {
    pub fn at(&self) -> EntryAt<'a> {
        EntryAt {
            account: self.account,
            store: self.store,
            name: self.name,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditOutcome {
    Added,
    Updated,
}

impl EditOutcome {
    /// `added` or `updated`, as the commands report an entry.
    pub fn verb(self) -> &'static str {
        match self {
            EditOutcome::Added => "added",
            EditOutcome::Updated => "updated",
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("no top-level `accounts:` mapping in the manifest")]
    NoAccounts,
    #[error("no account {0:?} in the manifest")]
    UnknownAccount(String),
    #[error("account {0:?} has no `stores:` mapping")]
    NoStores(String),
    #[error("account {account:?} has no store {store:?}")]
    UnknownStore { account: String, store: String },
    #[error(
        "line {line}: `{what}` is written in flow style; rewrite it in block style to let `secret set` edit it"
    )]
    FlowStyle { line: usize, what: String },
    #[error("the edited manifest would not parse (line {line}); nothing was written")]
    Reparse { line: usize },
    #[error("the edited manifest does not hold the new entry; nothing was written")]
    Lost,
    #[error("{0} is named twice in one edit")]
    Twice(String),
    #[error("account {account:?} store {store:?} has no secret {name:?}")]
    NoEntry {
        account: String,
        store: String,
        name: String,
    },
}

struct Doc {
    lines: Vec<String>,
    nl: &'static str,
    trailing_newline: bool,
    step: usize,
}

enum Locate {
    NoSecretsKey { store: usize },
    SecretsEmptyFlow { secrets: usize },
    Missing { secrets: usize },
    FlowEntry { entry: usize },
    BlockEntry { entry: usize },
}

fn indent_of(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

fn is_content(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && !t.starts_with('#') && t != "---" && !t.starts_with('%')
}

/// Splits a mapping line (`key: rest`) into the unquoted key and the rest after the colon,
/// trimmed, with a trailing comment removed.
fn split_key(line: &str) -> Option<(String, String)> {
    let t = line.trim_start();
    if t.starts_with("- ") || t == "-" {
        return None;
    }
    let (key, after) = if let Some(q) = t.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = t[1..].find(q)? + 1;
        let after = t[close + 1..].trim_start().strip_prefix(':')?;
        (t[1..close].to_string(), after)
    } else {
        let mut pos = None;
        for (i, c) in t.char_indices() {
            if c == ':' {
                let next = t[i + 1..].chars().next();
                if next.is_none() || next == Some(' ') || next == Some('\t') {
                    pos = Some(i);
                    break;
                }
            }
        }
        let i = pos?;
        (t[..i].trim_end().to_string(), &t[i + 1..])
    };
    let rest = strip_comment(after).trim().to_string();
    Some((key, rest))
}

/// Removes a ` #…` comment that is outside quotes.
fn strip_comment(s: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && (prev == ' ' || prev == '\t') => return &s[..i],
            None => {}
        }
        prev = c;
    }
    s
}

/// A line split into what comes before its comment and the comment itself (`# …`, trimmed;
/// empty when there is none).
fn split_comment(line: &str) -> (&str, &str) {
    let body = strip_comment(line);
    (body, line[body.len()..].trim())
}

impl Doc {
    fn parse(text: &str) -> Doc {
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let trailing_newline = text.ends_with('\n');
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
            .collect();
        let mut doc = Doc {
            lines,
            nl,
            trailing_newline,
            step: 2,
        };
        if let Some(accounts) = doc.find(None, "accounts")
            && let (_, Some(child)) = doc.children(Some(accounts))
            && child > 0
        {
            doc.step = child;
        }
        doc
    }

    fn render(&self) -> String {
        let mut out = self.lines.join(self.nl);
        if self.trailing_newline {
            out.push_str(self.nl);
        }
        out
    }

    /// End (exclusive) of the block owned by line `i`: one past its last more-indented
    /// content line.
    fn block_end(&self, i: usize) -> usize {
        let ind = indent_of(&self.lines[i]);
        let mut end = i + 1;
        for j in i + 1..self.lines.len() {
            if !is_content(&self.lines[j]) {
                continue;
            }
            if indent_of(&self.lines[j]) <= ind {
                break;
            }
            end = j + 1;
        }
        end
    }

    /// The key lines directly below `parent` (the whole document for `None`) and their
    /// indentation.
    fn children(&self, parent: Option<usize>) -> (Vec<(usize, String)>, Option<usize>) {
        let (start, end) = match parent {
            Some(p) => (p + 1, self.block_end(p)),
            None => (0, self.lines.len()),
        };
        let mut child_indent = None;
        let mut out = Vec::new();
        for j in start..end {
            let line = &self.lines[j];
            if !is_content(line) {
                continue;
            }
            let ind = indent_of(line);
            let ci = *child_indent.get_or_insert(ind);
            if ind == ci
                && let Some((key, _)) = split_key(line)
            {
                out.push((j, key));
            }
        }
        (out, child_indent)
    }

    fn find(&self, parent: Option<usize>, key: &str) -> Option<usize> {
        self.children(parent)
            .0
            .into_iter()
            .find(|(_, k)| k == key)
            .map(|(i, _)| i)
    }

    fn rest(&self, i: usize) -> String {
        split_key(&self.lines[i])
            .map(|(_, r)| r)
            .unwrap_or_default()
    }

    fn expect_block(&self, i: usize, what: &str) -> Result<(), EditError> {
        if self.rest(i).is_empty() {
            Ok(())
        } else {
            Err(EditError::FlowStyle {
                line: i + 1,
                what: what.to_string(),
            })
        }
    }

    fn child_indent(&self, parent: usize) -> usize {
        self.children(Some(parent))
            .1
            .unwrap_or(indent_of(&self.lines[parent]) + self.step)
    }

    fn locate(&self, u: EntryAt) -> Result<Locate, EditError> {
        let accounts = self.find(None, "accounts").ok_or(EditError::NoAccounts)?;
        self.expect_block(accounts, "accounts")?;
        let account = self
            .find(Some(accounts), u.account)
            .ok_or_else(|| EditError::UnknownAccount(u.account.to_string()))?;
        self.expect_block(account, u.account)?;
        let stores = self
            .find(Some(account), "stores")
            .ok_or_else(|| EditError::NoStores(u.account.to_string()))?;
        self.expect_block(stores, "stores")?;
        let store = self
            .find(Some(stores), u.store)
            .ok_or_else(|| EditError::UnknownStore {
                account: u.account.to_string(),
                store: u.store.to_string(),
            })?;
        self.expect_block(store, u.store)?;
        let Some(secrets) = self.find(Some(store), "secrets") else {
            return Ok(Locate::NoSecretsKey { store });
        };
        let rest = self.rest(secrets);
        if rest == "{}" {
            return Ok(Locate::SecretsEmptyFlow { secrets });
        }
        self.expect_block(secrets, "secrets")?;
        match self.find(Some(secrets), u.name) {
            None => Ok(Locate::Missing { secrets }),
            Some(entry) => {
                let rest = self.rest(entry);
                if rest.is_empty() {
                    Ok(Locate::BlockEntry { entry })
                } else if rest.starts_with('{') {
                    Ok(Locate::FlowEntry { entry })
                } else {
                    Err(EditError::FlowStyle {
                        line: entry + 1,
                        what: u.name.to_string(),
                    })
                }
            }
        }
    }

    /// Replaces the child `key` of `entry` (with its nested lines) by `key: rendered`, or
    /// adds it (first for `value`, last otherwise).
    fn set_field(&mut self, entry: usize, key: &str, rendered: &str) {
        let ci = self.child_indent(entry);
        let line = format!("{}{key}: {rendered}", " ".repeat(ci));
        match self.find(Some(entry), key) {
            Some(i) => {
                let end = self.block_end(i);
                self.lines.splice(i..end, [line]);
            }
            None if key == "value" => self.lines.insert(entry + 1, line),
            None => {
                let end = self.block_end(entry);
                self.lines.insert(end, line);
            }
        }
    }
}

/// Order for keys of an entry rewritten from flow to block style: the schema's order.
fn key_rank(k: &str) -> usize {
    SECRET_KEYS
        .iter()
        .position(|x| *x == k)
        .unwrap_or(usize::MAX)
}

/// Adds or updates the entry in `text`; returns the new text. Nothing is written here.
pub fn set_entry(text: &str, u: &EntryUpdate) -> Result<(String, EditOutcome), EditError> {
    let (out, outcomes) = set_entries(text, std::slice::from_ref(u))?;
    Ok((out, outcomes[0]))
}

/// Adds or updates every entry of `updates` in one edit of `text`; returns the new text and
/// each entry's outcome, in order. Existing entries are updated in place; the new entries
/// of a store follow its last entry, in the order given. An entry named twice is refused.
pub fn set_entries(
    text: &str,
    updates: &[EntryUpdate],
) -> Result<(String, Vec<EditOutcome>), EditError> {
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = updates.iter().find(|u| !seen.insert(u.at())) {
        return Err(EditError::Twice(twice.name.to_string()));
    }
    let mut doc = Doc::parse(text);
    let mut outcomes = Vec::with_capacity(updates.len());
    // Per store, in first-seen order: the new entries.
    let mut new: Vec<((&str, &str), Vec<&EntryUpdate>)> = Vec::new();
    for u in updates {
        if doc.update_existing(u)? {
            outcomes.push(EditOutcome::Updated);
            continue;
        }
        outcomes.push(EditOutcome::Added);
        let store = (u.account, u.store);
        match new.iter_mut().find(|(s, _)| *s == store) {
            Some((_, list)) => list.push(u),
            None => new.push((store, vec![u])),
        }
    }
    for (_, entries) in &new {
        doc.insert_entries(entries)?;
    }
    let out = doc.render();
    verify(&out, updates.iter().map(|u| (u.at(), Some(u.value))))?;
    Ok((out, outcomes))
}

/// Takes the entry out of `text`; the store keeps `secrets: {}` when it was the last one.
pub fn remove_entry(text: &str, at: EntryAt) -> Result<String, EditError> {
    let mut doc = Doc::parse(text);
    let (secrets, entry) = doc.existing(at)?;
    let end = doc.block_end(entry);
    doc.lines.drain(entry..end);
    if doc.children(Some(secrets)).0.is_empty() {
        doc.close_empty_secrets(secrets);
    }
    let out = doc.render();
    verify(&out, [(at, None)])?;
    Ok(out)
}

/// Turns the entry into `NAME: { ensure: absent }` (its other keys dropped, as the schema
/// wants; its comments moved onto their own lines above it).
pub fn set_absent(text: &str, at: EntryAt) -> Result<String, EditError> {
    let mut doc = Doc::parse(text);
    let (_, entry) = doc.existing(at)?;
    let end = doc.block_end(entry);
    let ind = indent_of(&doc.lines[entry]);
    let mut new: Vec<String> = doc.lines[entry..end]
        .iter()
        .filter_map(|line| {
            let (_, comment) = split_comment(line);
            (!comment.is_empty()).then(|| format!("{}{comment}", " ".repeat(ind)))
        })
        .collect();
    let key_text = strip_comment(&doc.lines[entry]);
    let key_text = &key_text[..key_text.find(':').unwrap_or(key_text.len())];
    new.push(format!("{}: {{ ensure: absent }}", key_text.trim_end()));
    doc.lines.splice(entry..end, new);
    let out = doc.render();
    let raw = reparse(&out)?;
    let absent = secret_in(&raw, at)
        .and_then(|e| e.ensure.as_ref())
        .is_some_and(|e| e.value == Ensure::Absent);
    if !absent {
        return Err(EditError::Lost);
    }
    Ok(out)
}

impl Doc {
    /// Updates `u`'s entry when it exists (a flow entry is first rewritten in block style);
    /// false when it does not, leaving the text as it was.
    fn update_existing(&mut self, u: &EntryUpdate) -> Result<bool, EditError> {
        loop {
            match self.locate(u.at())? {
                Locate::NoSecretsKey { .. }
                | Locate::SecretsEmptyFlow { .. }
                | Locate::Missing { .. } => return Ok(false),
                Locate::FlowEntry { entry } => self.rewrite_in_block_style(entry, u)?,
                Locate::BlockEntry { .. } => {
                    self.update_entry(u)?;
                    return Ok(true);
                }
            }
        }
    }

    /// Inserts `entries` (new, all of one store) after the last entry of their store, in
    /// one splice; opens `secrets:` first when the store has none or an empty flow map.
    fn insert_entries(&mut self, entries: &[&EntryUpdate]) -> Result<(), EditError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        // Each structural step changes the lines; locate again after it.
        for _ in 0..3 {
            match self.locate(first.at())? {
                Locate::NoSecretsKey { store } => self.add_secrets_key(store),
                Locate::SecretsEmptyFlow { secrets } => self.open_empty_secrets(secrets),
                Locate::Missing { secrets } => {
                    self.insert_new(secrets, entries);
                    return Ok(());
                }
                Locate::FlowEntry { .. } | Locate::BlockEntry { .. } => break,
            }
        }
        Err(EditError::Lost)
    }

    /// The `secrets:` line and the entry line of an existing entry.
    fn existing(&self, at: EntryAt) -> Result<(usize, usize), EditError> {
        let missing = || EditError::NoEntry {
            account: at.account.to_string(),
            store: at.store.to_string(),
            name: at.name.to_string(),
        };
        match self.locate(at)? {
            Locate::FlowEntry { entry } | Locate::BlockEntry { entry } => {
                let secrets = (0..entry)
                    .rev()
                    .find(|&i| {
                        is_content(&self.lines[i])
                            && indent_of(&self.lines[i]) < indent_of(&self.lines[entry])
                    })
                    .ok_or_else(missing)?;
                Ok((secrets, entry))
            }
            _ => Err(missing()),
        }
    }

    /// `secrets:   # note` with no entry left becomes `secrets: {}   # note`.
    fn close_empty_secrets(&mut self, secrets: usize) {
        let (body, comment) = split_comment(&self.lines[secrets]);
        let mut closed = format!("{} {{}}", body.trim_end());
        if !comment.is_empty() {
            closed.push_str(&format!("   {comment}"));
        }
        self.lines[secrets] = closed;
    }

    /// A store without `secrets:` gets one, at the end of its block.
    fn add_secrets_key(&mut self, store: usize) {
        let ci = self.child_indent(store);
        let end = self.block_end(store);
        self.lines
            .insert(end, format!("{}secrets:", " ".repeat(ci)));
    }

    /// `secrets: {}   # note` becomes `secrets: # note`: the comment stays.
    fn open_empty_secrets(&mut self, secrets: usize) {
        let line = &self.lines[secrets];
        let colon = line.find(':').expect("a key line has a colon");
        let (_, comment) = split_comment(line);
        self.lines[secrets] = if comment.is_empty() {
            line[..=colon].to_string()
        } else {
            format!("{} {comment}", &line[..=colon])
        };
    }

    /// New entries after the last entry of `secrets`, in one splice.
    fn insert_new(&mut self, secrets: usize, entries: &[&EntryUpdate]) {
        let ind = self.child_indent(secrets);
        let end = self.block_end(secrets);
        let pad = " ".repeat(ind + self.step);
        let mut new = Vec::with_capacity(entries.len() * 3);
        for u in entries {
            new.push(format!("{}{}:", " ".repeat(ind), yaml_str(u.name)));
            new.push(format!("{pad}value: {}", u.value.render()));
            if let Some(scopes) = u.scopes {
                new.push(format!("{pad}scopes: {}", yaml_scopes(scopes)));
            }
            if let Some(comment) = u.comment {
                new.push(format!("{pad}comment: {}", yaml_str(comment)));
            }
        }
        self.lines.splice(end..end, new);
    }

    /// A flow entry (`NAME: { … }   # note`, possibly over several lines) rewritten in block
    /// style, its keys in the schema's order; comments inside or after the flow map move
    /// onto their own lines above it.
    fn rewrite_in_block_style(&mut self, entry: usize, u: &EntryUpdate) -> Result<(), EditError> {
        let not_editable = || EditError::FlowStyle {
            line: entry + 1,
            what: u.name.to_string(),
        };
        let end = self.block_end(entry);
        let mut comments = Vec::new();
        let mut parts = Vec::new();
        for line in &self.lines[entry..end] {
            let (body, comment) = split_comment(line);
            if !comment.is_empty() {
                comments.push(comment.to_string());
            }
            if !body.trim().is_empty() {
                parts.push(body.trim());
            }
        }
        let snippet = parts.join(" ");
        let parsed: std::collections::BTreeMap<String, serde_json::Value> =
            serde_saphyr::from_str(&snippet).map_err(|_| not_editable())?;
        let Some(serde_json::Value::Object(fields)) = parsed.into_values().next() else {
            return Err(not_editable());
        };
        let ind = indent_of(&self.lines[entry]);
        let key_text = self.lines[entry][..self.lines[entry].find(':').unwrap_or(0)].to_string();
        let mut fields: Vec<_> = fields.into_iter().collect();
        fields.sort_by_key(|(k, _)| key_rank(k));
        let mut new: Vec<String> = comments
            .iter()
            .map(|c| format!("{}{c}", " ".repeat(ind)))
            .collect();
        new.push(format!("{key_text}:"));
        for (k, v) in fields {
            new.push(format!(
                "{}{}: {}",
                " ".repeat(ind + self.step),
                yaml_str(&k),
                render_json(&v)
            ));
        }
        self.lines.splice(entry..end, new);
        Ok(())
    }

    /// Sets `value`, and `scopes` and `comment` when given, in a block entry.
    fn update_entry(&mut self, u: &EntryUpdate) -> Result<(), EditError> {
        let fields: [(&str, Option<String>); 3] = [
            ("value", Some(u.value.render())),
            ("scopes", u.scopes.map(yaml_scopes)),
            ("comment", u.comment.map(yaml_str)),
        ];
        for (key, rendered) in fields {
            if let Some(rendered) = rendered {
                let Locate::BlockEntry { entry } = self.locate(u.at())? else {
                    unreachable!("the entry was just found");
                };
                self.set_field(entry, key, &rendered);
            }
        }
        Ok(())
    }
}

fn reparse(text: &str) -> Result<RawManifest, EditError> {
    read_as_written(Path::new("cfsecrets.yaml"), text).map_err(|d| EditError::Reparse {
        line: usize::try_from(d.line).unwrap_or(0),
    })
}

fn secret_in<'m>(raw: &'m RawManifest, at: EntryAt) -> Option<&'m RawSecret> {
    raw.account(at.account)
        .and_then(|a| a.store(at.store))
        .and_then(|s| s.secret(at.name))
}

/// The edited text parses, and holds each entry with its value (`None`: the entry is gone).
fn verify<'a>(
    text: &str,
    expected: impl IntoIterator<Item = (EntryAt<'a>, Option<EntryValue<'a>>)>,
) -> Result<(), EditError> {
    let raw = reparse(text)?;
    for (at, value) in expected {
        let entry = secret_in(&raw, at);
        let holds = match (value, entry) {
            (None, None) => true,
            (Some(value), Some(entry)) => value.is(entry.value.as_ref().map(|v| &v.value)),
            _ => false,
        };
        if !holds {
            return Err(EditError::Lost);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const BASE: &str = "\
# Top comment: keep me.
version: 1
recipients_file: .age-recipients   # who can read
fingerprint_key: keys/fingerprint.age
defaults:
  scopes: [workers]
accounts:
    # four-space indentation on purpose
    production:
        account_id: 0123456789abcdef0123456789abcdef
        stores:
            main:
                prune: owned
                secrets:
                    # the Stripe key
                    STRIPE_KEY:
                        value: values/stripe.age   # sealed
                        protect: true
                        comment: |
                          multi
                          line
                    KEEPER: { renamed_from: OLD_KEEPER, value: keep }   # imported
                    GONE: { ensure: absent }

    # staging below
    staging:
        stores:
            s: { secrets: {} }
            t:
                secrets: {}   # empty for now
            u:
                prune: none
";

    /// An update of the value path only.
    pub(crate) fn upd<'a>(
        account: &'a str,
        store: &'a str,
        name: &'a str,
        path: &'a str,
    ) -> EntryUpdate<'a> {
        EntryUpdate {
            account,
            store,
            name,
            value: EntryValue::File(path),
            scopes: None,
            comment: None,
        }
    }

    #[test]
    fn adds_a_new_entry_after_the_last_one() {
        let scopes = [Scope::Workers, Scope::AiGateway];
        let mut u = upd(
            "production",
            "main",
            "NEW_KEY",
            "values/production/main/NEW_KEY.age",
        );
        u.scopes = Some(&scopes);
        u.comment = Some("a: tricky # comment");
        let (out, outcome) = set_entry(BASE, &u).unwrap();
        assert_eq!(outcome, EditOutcome::Added);
        let expected = BASE.replace(
            "                    GONE: { ensure: absent }\n",
            "                    GONE: { ensure: absent }\n                    NEW_KEY:\n                        value: values/production/main/NEW_KEY.age\n                        scopes: [workers, ai_gateway]\n                        comment: \"a: tricky # comment\"\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn updates_value_and_keeps_other_keys() {
        let mut u = upd("production", "main", "STRIPE_KEY", "values/new.age");
        u.comment = Some("one line");
        let (out, outcome) = set_entry(BASE, &u).unwrap();
        assert_eq!(outcome, EditOutcome::Updated);
        let expected = BASE.replace(
            "                        value: values/stripe.age   # sealed\n                        protect: true\n                        comment: |\n                          multi\n                          line\n",
            "                        value: values/new.age\n                        protect: true\n                        comment: \"one line\"\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn rewrites_a_flow_entry_in_block_style() {
        let u = upd("production", "main", "KEEPER", "values/keeper.age");
        let (out, _) = set_entry(BASE, &u).unwrap();
        let expected = BASE.replace(
            "                    KEEPER: { renamed_from: OLD_KEEPER, value: keep }   # imported\n",
            "                    # imported\n                    KEEPER:\n                        value: values/keeper.age\n                        renamed_from: OLD_KEEPER\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn a_multi_line_flow_entry_keeps_every_comment_in_order() {
        let text = BASE.replace(
            "                    GONE: { ensure: absent }\n",
            "                    GONE: { ensure: absent }\n                    MULTI: { value: keep,   # first\n                        scopes: [dex] }   # second\n",
        );
        let (out, _) =
            set_entry(&text, &upd("production", "main", "MULTI", "values/m.age")).unwrap();
        let expected = BASE.replace(
            "                    GONE: { ensure: absent }\n",
            "                    GONE: { ensure: absent }\n                    # first\n                    # second\n                    MULTI:\n                        value: values/m.age\n                        scopes: [dex]\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn a_flow_entry_comment_survives_in_a_crlf_two_space_file() {
        let text = "version: 1\r\naccounts:\r\n  a:\r\n    stores:\r\n      s:\r\n        secrets:\r\n          X: { value: keep }   # comment: keep me\r\n          Y: { value: keep }\r\n";
        let (out, outcome) = set_entry(text, &upd("a", "s", "X", "values/x.age")).unwrap();
        assert_eq!(outcome, EditOutcome::Updated);
        assert_eq!(
            out,
            "version: 1\r\naccounts:\r\n  a:\r\n    stores:\r\n      s:\r\n        secrets:\r\n          # comment: keep me\r\n          X:\r\n            value: values/x.age\r\n          Y: { value: keep }\r\n"
        );
    }

    #[test]
    fn opens_empty_and_missing_secrets_maps() {
        let (out, _) = set_entry(BASE, &upd("staging", "t", "A", "values/a.age")).unwrap();
        let expected = BASE.replace(
            "                secrets: {}   # empty for now\n",
            "                secrets: # empty for now\n                    A:\n                        value: values/a.age\n",
        );
        assert_eq!(out, expected);
        let (out, _) = set_entry(BASE, &upd("staging", "u", "B", "values/b.age")).unwrap();
        let expected = BASE.replace(
            "                prune: none\n",
            "                prune: none\n                secrets:\n                    B:\n                        value: values/b.age\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn refuses_what_it_cannot_edit() {
        assert_eq!(
            set_entry(BASE, &upd("nope", "main", "A", "a.age")).unwrap_err(),
            EditError::UnknownAccount("nope".into())
        );
        assert!(matches!(
            set_entry(BASE, &upd("production", "nope", "A", "a.age")).unwrap_err(),
            EditError::UnknownStore { .. }
        ));
        assert!(matches!(
            set_entry(BASE, &upd("staging", "s", "A", "a.age")).unwrap_err(),
            EditError::FlowStyle { line: 28, .. }
        ));
    }

    #[test]
    fn crlf_and_odd_names_survive() {
        let text = BASE.replace('\n', "\r\n");
        let (out, _) = set_entry(&text, &upd("production", "main", "123", "values/x.age")).unwrap();
        assert!(
            out.contains("\r\n                    \"123\":\r\n"),
            "{out}"
        );
        assert!(!out.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn many_entries_go_in_one_edit_new_ones_after_the_last_of_their_store() {
        let mut stripe = upd("production", "main", "STRIPE_KEY", "values/s2.age");
        stripe.comment = Some("rotated");
        let bundled = EntryUpdate {
            value: EntryValue::Bundle {
                bundle: "values/prod.env.age",
                key: "B",
            },
            ..upd("production", "main", "B", "")
        };
        let updates = [
            upd("production", "main", "A", "values/a.age"),
            stripe,
            upd("staging", "t", "T", "values/t.age"),
            bundled,
        ];
        let (out, outcomes) = set_entries(BASE, &updates).unwrap();
        use EditOutcome::{Added, Updated};
        assert_eq!(outcomes, [Added, Updated, Added, Added]);
        let expected = BASE
            .replace(
                "                        value: values/stripe.age   # sealed\n                        protect: true\n                        comment: |\n                          multi\n                          line\n",
                "                        value: values/s2.age\n                        protect: true\n                        comment: rotated\n",
            )
            .replace(
                "                    GONE: { ensure: absent }\n",
                "                    GONE: { ensure: absent }\n                    A:\n                        value: values/a.age\n                    B:\n                        value: { bundle: values/prod.env.age, key: B }\n",
            )
            .replace(
                "                secrets: {}   # empty for now\n",
                "                secrets: # empty for now\n                    T:\n                        value: values/t.age\n",
            );
        assert_eq!(out, expected);
        // One entry twice is refused.
        let twice = [upd("a", "s", "X", "x.age"), upd("a", "s", "X", "y.age")];
        assert_eq!(
            set_entries(BASE, &twice).unwrap_err(),
            EditError::Twice("X".into())
        );
    }

    fn at<'a>(account: &'a str, store: &'a str, name: &'a str) -> EntryAt<'a> {
        EntryAt {
            account,
            store,
            name,
        }
    }

    #[test]
    fn removing_an_entry_takes_its_lines_and_nothing_else() {
        let out = remove_entry(BASE, at("production", "main", "STRIPE_KEY")).unwrap();
        let expected = BASE.replace(
            "                    STRIPE_KEY:\n                        value: values/stripe.age   # sealed\n                        protect: true\n                        comment: |\n                          multi\n                          line\n",
            "",
        );
        assert_eq!(out, expected);
        let out = remove_entry(&out, at("production", "main", "KEEPER")).unwrap();
        let out = remove_entry(&out, at("production", "main", "GONE")).unwrap();
        // The last entry gone: an empty map, the comment line above it kept.
        assert!(
            out.contains("                secrets: {}\n                    # the Stripe key\n\n    # staging below\n"),
            "{out}"
        );
        assert!(matches!(
            remove_entry(BASE, at("production", "main", "NOPE")).unwrap_err(),
            EditError::NoEntry { .. }
        ));
        assert!(matches!(
            remove_entry(BASE, at("staging", "s", "X")).unwrap_err(),
            EditError::FlowStyle { .. }
        ));
    }

    #[test]
    fn an_entry_made_absent_keeps_its_comments_above_it() {
        let out = set_absent(BASE, at("production", "main", "STRIPE_KEY")).unwrap();
        let expected = BASE.replace(
            "                    STRIPE_KEY:\n                        value: values/stripe.age   # sealed\n                        protect: true\n                        comment: |\n                          multi\n                          line\n",
            "                    # sealed\n                    STRIPE_KEY: { ensure: absent }\n",
        );
        assert_eq!(out, expected);
        let out = set_absent(BASE, at("production", "main", "KEEPER")).unwrap();
        let expected = BASE.replace(
            "                    KEEPER: { renamed_from: OLD_KEEPER, value: keep }   # imported\n",
            "                    # imported\n                    KEEPER: { ensure: absent }\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn removal_in_a_crlf_two_space_file_keeps_its_line_endings() {
        let text = "version: 1\r\naccounts:\r\n  a:\r\n    stores:\r\n      s:\r\n        secrets:   # all\r\n          X: { value: keep }   # x\r\n";
        let out = remove_entry(text, at("a", "s", "X")).unwrap();
        assert_eq!(
            out,
            "version: 1\r\naccounts:\r\n  a:\r\n    stores:\r\n      s:\r\n        secrets: {}   # all\r\n"
        );
        let out = set_absent(text, at("a", "s", "X")).unwrap();
        assert_eq!(
            out,
            "version: 1\r\naccounts:\r\n  a:\r\n    stores:\r\n      s:\r\n        secrets:   # all\r\n          # x\r\n          X: { ensure: absent }\r\n"
        );
    }
}
