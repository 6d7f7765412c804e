//! Editing the manifest text: the comment-preserving entry edit of `secret set`, and the
//! check that an edit introduces no problem, made with the real parser and validator.
//!
//! [`set_entry`] walks block-style mappings by indentation (`accounts:` → label → `stores:`
//! → store → `secrets:` → name), then inserts a new entry after the last entry of the store
//! or rewrites the `value`, `scopes` and `comment` keys of the existing one; its other keys
//! (`protect`, `renamed_from`, …) and their comments are kept, and every other line stays
//! byte-for-byte (line endings and indentation width included). An entry in flow style
//! (`NAME: { value: keep }   # note`) is rewritten in block style, its comments moved onto
//! their own lines just above it; `secrets: {}` becomes a block (its comment kept). Mappings above the entry
//! written in flow style are refused (edit those by hand). The result must parse again and
//! hold the new entry.
//!
//! [`read_as_written`] gives the manifest as the structural pass reads it (every sound part,
//! even when other parts have problems), for finding accounts, stores and entries before the
//! edit. [`check_edit`] validates the original and the edited text with [`super::parse`] and
//! splits the edited text's problems into those the original already had and those the edit
//! introduces; a caller writes nothing while the second list is not empty. Pure: files are
//! only asked about through [`FileCheck`].

use std::path::{Path, PathBuf};

use super::raw::{RawManifest, RawValue};
use super::structure;
use super::{Desired, Diagnostic, Diagnostics, FileCheck};

/// What to write into the entry.
#[derive(Clone, Debug)]
pub struct EntryUpdate<'a> {
    pub account: &'a str,
    pub store: &'a str,
    pub name: &'a str,
    /// The value file, relative to the manifest's directory, `/`-separated.
    pub value_path: &'a str,
    /// Replace (or add) `scopes`.
    pub scopes: Option<&'a [String]>,
    /// Replace (or add) `comment`.
    pub comment: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditOutcome {
    Added,
    Updated,
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

    fn locate(&self, u: &EntryUpdate) -> Result<Locate, EditError> {
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

/// A YAML scalar for `s`: plain when unambiguous, else double-quoted.
pub fn yaml_str(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !s.starts_with(['-', '.'])
        && !matches!(
            lower.as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "keep"
        )
        && s.parse::<f64>().is_err()
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

fn yaml_flow_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| yaml_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

fn render_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => yaml_str(s),
        serde_json::Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(render_json).collect();
            format!("[{}]", inner.join(", "))
        }
        serde_json::Value::Object(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_str(k), render_json(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

/// Order for keys of an entry rewritten from flow to block style.
fn key_rank(k: &str) -> usize {
    [
        "value",
        "scopes",
        "comment",
        "protect",
        "renamed_from",
        "ensure",
    ]
    .iter()
    .position(|x| *x == k)
    .unwrap_or(99)
}

/// Adds or updates the entry in `text`; returns the new text. Nothing is written here.
pub fn set_entry(text: &str, u: &EntryUpdate) -> Result<(String, EditOutcome), EditError> {
    let mut doc = Doc::parse(text);
    let mut outcome = EditOutcome::Updated;
    // Each structural step changes the lines; locate again after it.
    for _ in 0..4 {
        match doc.locate(u)? {
            Locate::NoSecretsKey { store } => {
                let ci = doc.child_indent(store);
                let end = doc.block_end(store);
                doc.lines.insert(end, format!("{}secrets:", " ".repeat(ci)));
            }
            Locate::SecretsEmptyFlow { secrets } => {
                // `secrets: {}   # note` becomes `secrets: # note`: the comment stays.
                let line = &doc.lines[secrets];
                let colon = line.find(':').expect("a key line has a colon");
                let comment = line[strip_comment(line).len()..].trim();
                doc.lines[secrets] = if comment.is_empty() {
                    line[..=colon].to_string()
                } else {
                    format!("{} {comment}", &line[..=colon])
                };
            }
            Locate::Missing { secrets } => {
                let ind = doc.child_indent(secrets);
                let end = doc.block_end(secrets);
                let pad = " ".repeat(ind + doc.step);
                let mut new = vec![format!("{}{}:", " ".repeat(ind), yaml_str(u.name))];
                new.push(format!("{pad}value: {}", yaml_str(u.value_path)));
                if let Some(scopes) = u.scopes {
                    new.push(format!("{pad}scopes: {}", yaml_flow_list(scopes)));
                }
                if let Some(comment) = u.comment {
                    new.push(format!("{pad}comment: {}", yaml_str(comment)));
                }
                doc.lines.splice(end..end, new);
                outcome = EditOutcome::Added;
                break;
            }
            Locate::FlowEntry { entry } => {
                let end = doc.block_end(entry);
                // Comments inside or after the flow map move above the rewritten block.
                let mut comments = Vec::new();
                let mut parts = Vec::new();
                for line in &doc.lines[entry..end] {
                    let body = strip_comment(line);
                    let comment = line[body.len()..].trim();
                    if !comment.is_empty() {
                        comments.push(comment.to_string());
                    }
                    if !body.trim().is_empty() {
                        parts.push(body.trim());
                    }
                }
                let snippet = parts.join(" ");
                let parsed: std::collections::BTreeMap<String, serde_json::Value> =
                    serde_saphyr::from_str(&snippet).map_err(|_| EditError::FlowStyle {
                        line: entry + 1,
                        what: u.name.to_string(),
                    })?;
                let Some(serde_json::Value::Object(fields)) = parsed.into_values().next() else {
                    return Err(EditError::FlowStyle {
                        line: entry + 1,
                        what: u.name.to_string(),
                    });
                };
                let ind = indent_of(&doc.lines[entry]);
                let key_text =
                    doc.lines[entry][..doc.lines[entry].find(':').unwrap_or(0)].to_string();
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
                        " ".repeat(ind + doc.step),
                        yaml_str(&k),
                        render_json(&v)
                    ));
                }
                doc.lines.splice(entry..end, new);
            }
            Locate::BlockEntry { .. } => {
                let fields: [(&str, Option<String>); 3] = [
                    ("value", Some(yaml_str(u.value_path))),
                    ("scopes", u.scopes.map(yaml_flow_list)),
                    ("comment", u.comment.map(yaml_str)),
                ];
                for (key, rendered) in fields {
                    if let Some(rendered) = rendered {
                        let Locate::BlockEntry { entry } = doc.locate(u)? else {
                            unreachable!("the entry was just found");
                        };
                        doc.set_field(entry, key, &rendered);
                    }
                }
                break;
            }
        }
    }
    let out = doc.render();
    verify(&out, u)?;
    Ok((out, outcome))
}

fn verify(text: &str, u: &EntryUpdate) -> Result<(), EditError> {
    let raw =
        read_as_written(Path::new("cfsecrets.yaml"), text).map_err(|d| EditError::Reparse {
            line: usize::try_from(d.line).unwrap_or(0),
        })?;
    let entry = raw
        .account(u.account)
        .and_then(|a| a.store(u.store))
        .and_then(|s| s.secret(u.name))
        .ok_or(EditError::Lost)?;
    match entry.value.as_ref().map(|v| &v.value) {
        Some(RawValue::Path(p)) if p == u.value_path => Ok(()),
        _ => Err(EditError::Lost),
    }
}

/// The manifest as written, read by the real parser's structural pass: every sound part is
/// there even when other parts have problems (left for [`check_edit`] and `cfsecrets check`
/// to report; a broken key is missing and named in its map's `broken` set). Fails only when
/// the text is not a YAML map at all (a syntax error, a duplicate key, an empty file): past
/// that, nothing in it can be trusted.
pub fn read_as_written(path: &Path, text: &str) -> Result<RawManifest, Diagnostic> {
    match structure::parse_tree(text) {
        Ok(tree) if matches!(tree.value, structure::Kind::Map(_)) => {
            Ok(structure::walk(path, text, &tree).0)
        }
        Ok(_) => Err(match serde_saphyr::from_str::<RawManifest>(text) {
            Err(err) => super::parser_diagnostic(path, &err),
            Ok(_) => Diagnostic::error(path, 0, 0, "the manifest is not a map"),
        }),
        Err(err) => Err(super::parser_diagnostic(path, &err)),
    }
}

/// A [`FileCheck`] that also counts one more file as existing: the value file an edit is
/// about to write (resolved the same way validation resolves paths: `base_dir.join(path)`).
pub struct AlsoExisting<'a> {
    pub fs: &'a dyn FileCheck,
    pub file: PathBuf,
}

impl FileCheck for AlsoExisting<'_> {
    fn is_file(&self, path: &Path) -> bool {
        path == self.file || self.fs.is_file(path)
    }
}

/// What validating an edit found. Positions are those of the edited text.
#[derive(Debug)]
pub struct EditCheck {
    /// The edited manifest, validated, when it has no problem at all.
    pub desired: Option<Desired>,
    /// Problems of the edited manifest that the original already had.
    pub pre_existing: Diagnostics,
    /// Problems the edit introduces; the edit must not be written unless this is empty.
    pub introduced: Diagnostics,
}

/// Validates `original` and `edited` with [`super::parse`] (same `path`, `base_dir`,
/// account id and file check) and tells the edited text's problems apart: one the original
/// had at the same place (or, for problems inside the edited lines, anywhere with the same
/// message) is pre-existing; every other one is introduced by the edit.
pub fn check_edit(
    path: &Path,
    base_dir: &Path,
    original: &str,
    edited: &str,
    env_account_id: Option<&str>,
    fs: &dyn FileCheck,
) -> EditCheck {
    let after = match super::parse(path, edited, base_dir, env_account_id, fs) {
        Ok(desired) => {
            return EditCheck {
                desired: Some(desired),
                pre_existing: Diagnostics::new(),
                introduced: Diagnostics::new(),
            };
        }
        Err(after) => after,
    };
    let before = super::parse(path, original, base_dir, env_account_id, fs)
        .err()
        .unwrap_or_default();
    let (pre_existing, introduced) = split_introduced(original, &before, edited, after);
    EditCheck {
        desired: None,
        pre_existing,
        introduced,
    }
}

/// The lines that differ between two texts, as one region: the common prefix and suffix
/// (in lines) are unchanged.
struct Changed {
    prefix: u64,
    suffix: u64,
    original_len: u64,
    edited_len: u64,
}

impl Changed {
    fn new(original: &str, edited: &str) -> Changed {
        let o: Vec<&str> = original.split('\n').collect();
        let e: Vec<&str> = edited.split('\n').collect();
        let prefix = o.iter().zip(&e).take_while(|(a, b)| a == b).count();
        let max_suffix = o.len().min(e.len()) - prefix;
        let suffix = o
            .iter()
            .rev()
            .zip(e.iter().rev())
            .take(max_suffix)
            .take_while(|(a, b)| a == b)
            .count();
        Changed {
            prefix: prefix as u64,
            suffix: suffix as u64,
            original_len: o.len() as u64,
            edited_len: e.len() as u64,
        }
    }

    /// The original line of edited line `line` (1-based; 0 is the whole file), or `None`
    /// when it lies in the changed region.
    fn original_line(&self, line: u64) -> Option<u64> {
        if line <= self.prefix {
            Some(line)
        } else if line > self.edited_len - self.suffix {
            Some(line + self.original_len - self.edited_len)
        } else {
            None
        }
    }

    fn in_original_region(&self, line: u64) -> bool {
        line > self.prefix && line <= self.original_len - self.suffix
    }
}

/// Splits `after` into (pre-existing, introduced) by matching against `before`, each
/// diagnostic of `before` used at most once.
fn split_introduced(
    original: &str,
    before: &Diagnostics,
    edited: &str,
    after: Diagnostics,
) -> (Diagnostics, Diagnostics) {
    let changed = Changed::new(original, edited);
    let mut unused: Vec<Option<&Diagnostic>> = before.iter().map(Some).collect();
    let mut take = |pred: &dyn Fn(&Diagnostic) -> bool| -> bool {
        match unused.iter_mut().find(|b| b.is_some_and(pred)) {
            Some(slot) => {
                *slot = None;
                true
            }
            None => false,
        }
    };
    let same = |a: &Diagnostic, b: &Diagnostic| a.severity == b.severity && a.message == b.message;
    let mut matched = vec![false; after.len()];
    // First the problems at the same place in unchanged lines.
    for (i, d) in after.iter().enumerate() {
        if let Some(line) = changed.original_line(d.line) {
            matched[i] = take(&|b| same(b, d) && b.line == line && b.column == d.column);
        }
    }
    // Then problems inside the edited lines, which may have moved within them.
    for (i, d) in after.iter().enumerate() {
        if !matched[i] && changed.original_line(d.line).is_none() {
            matched[i] = take(&|b| same(b, d) && changed.in_original_region(b.line));
        }
    }
    let mut pre_existing = Diagnostics::new();
    let mut introduced = Diagnostics::new();
    for (d, m) in after.into_iter().zip(matched) {
        if m {
            pre_existing.push(d);
        } else {
            introduced.push(d);
        }
    }
    (pre_existing, introduced)
}

#[cfg(test)]
mod tests {
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

    fn upd<'a>(account: &'a str, store: &'a str, name: &'a str, path: &'a str) -> EntryUpdate<'a> {
        EntryUpdate {
            account,
            store,
            name,
            value_path: path,
            scopes: None,
            comment: None,
        }
    }

    #[test]
    fn adds_a_new_entry_after_the_last_one() {
        let scopes = vec!["workers".to_string(), "ai_gateway".to_string()];
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
            Some(super::super::raw::Ensure::Absent)
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

    /// Files that exist for the edit checks: the recipients, the fingerprint key, `a.age`.
    struct Files;
    impl FileCheck for Files {
        fn is_file(&self, path: &Path) -> bool {
            ["r", "k", "a.age"].iter().any(|f| path == Path::new(f))
        }
    }

    const SMALL: &str = "\
version: 1
recipients_file: r
fingerprint_key: k
defaults: { scopes: [workers] }
accounts:
  prod:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      s:
        secrets:
          A: { value: a.age }
          NEW: { renamed_from: OLD, value: keep }
";

    fn edit_and_check(text: &str, u: &EntryUpdate) -> (String, EditCheck) {
        let (edited, _) = set_entry(text, u).unwrap();
        let fs = AlsoExisting {
            fs: &Files,
            file: PathBuf::from(u.value_path),
        };
        let path = Path::new("m.yaml");
        let checked = check_edit(path, Path::new(""), text, &edited, None, &fs);
        (edited, checked)
    }

    #[test]
    fn a_clean_edit_validates_and_counts_the_new_file_as_written() {
        let (_, c) = edit_and_check(SMALL, &upd("prod", "s", "B", "b.age"));
        assert!(
            c.introduced.is_empty() && c.pre_existing.is_empty(),
            "{c:?}"
        );
        let desired = c.desired.unwrap();
        assert_eq!(desired.accounts[0].stores[0].secrets.len(), 3);
    }

    #[test]
    fn an_edit_that_breaks_a_rule_is_introduced_with_its_position() {
        // Adding OLD collides with NEW's `renamed_from: OLD`.
        let (_, c) = edit_and_check(SMALL, &upd("prod", "s", "OLD", "old.age"));
        assert!(c.pre_existing.is_empty());
        assert_eq!(
            c.introduced.to_string(),
            "m.yaml:12:32: error: secret `NEW` is renamed from `OLD`, which is also declared in this store"
        );
        // A scope listed twice.
        let twice = ["workers".to_string(), "workers".to_string()];
        let mut u = upd("prod", "s", "A", "a.age");
        u.scopes = Some(&twice);
        let (_, c) = edit_and_check(SMALL, &u);
        assert_eq!(c.introduced.len(), 1, "{c:?}");
        assert!(c.introduced.0[0].message.contains("listed twice"), "{c:?}");
        assert_eq!(c.introduced.0[0].line, 13);
    }

    #[test]
    fn problems_the_manifest_already_had_are_told_apart_after_lines_shift() {
        // Three unrelated problems: one above the edit, two below it (their lines move by one).
        let text = SMALL
            .replace("fingerprint_key: k\n", "fingerprint_key: missing.age\n")
            .replace(
                "          A: { value: a.age }\n",
                "          A: { value: a.age }\n          BAD: { value: gone.age }\n",
            )
            + "  other:\n    account_id: 0123456789abcdef0123456789abcdef\n    stores: { t: { secrets: {} } }\n";
        let (edited, c) = edit_and_check(&text, &upd("prod", "s", "A", "a2.age"));
        assert!(c.introduced.is_empty(), "{c:?}");
        assert_eq!(c.pre_existing.len(), 3, "{c:?}");
        assert!(c.desired.is_none());
        // Positions are those of the edited text (A grew from one line to two).
        let lines: Vec<_> = c.pre_existing.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![3, 13, 16], "{edited}\n{c:?}");
        // The same edit also introducing a problem: only the new one is introduced.
        let (_, c) = edit_and_check(&text, &upd("prod", "s", "OLD", "old.age"));
        assert_eq!(c.pre_existing.len(), 3, "{c:?}");
        assert_eq!(c.introduced.len(), 1, "{c:?}");
        assert!(c.introduced.0[0].message.contains("also declared"));
    }

    #[test]
    fn the_same_message_twice_counts_as_one_more() {
        let before = Diagnostics(vec![Diagnostic::error(Path::new("m"), 2, 1, "same")]);
        let after = Diagnostics(vec![
            Diagnostic::error(Path::new("m"), 2, 1, "same"),
            Diagnostic::error(Path::new("m"), 3, 1, "same"),
        ]);
        let (pre, new) = split_introduced("a\nb\nc\n", &before, "a\nb\nx\nc\n", after);
        assert_eq!(pre.0[0].line, 2);
        assert_eq!(new.0[0].line, 3);
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
}
