//! The `secret set` manifest edit: add or update one secret entry by editing the YAML text,
//! so that comments and formatting everywhere else stay byte-for-byte as they were.
//!
//! The edit walks block-style mappings by indentation (`accounts:` → label → `stores:` →
//! store → `secrets:` → name), then inserts a new entry after the last entry of the store or
//! rewrites the `value`, `scopes` and `comment` keys of the existing one; its other keys
//! (`protect`, `renamed_from`, …) and their comments are kept. An entry in flow style
//! (`NAME: { value: keep }`) is rewritten in block style first; `secrets: {}` becomes a
//! block. Mappings above the entry written in flow style are refused (edit those by hand).
//! The result is parsed again and must contain the new entry before anyone writes it.

use std::path::Path;

use super::layout::{Layout, LayoutValue};

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
                let line = &doc.lines[secrets];
                let colon = line.find(':').expect("a key line has a colon");
                doc.lines[secrets] = line[..=colon].to_string();
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
                let snippet = doc.lines[entry..end]
                    .iter()
                    .map(|l| l.trim())
                    .collect::<Vec<_>>()
                    .join(" ");
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
                let mut new = vec![format!("{key_text}:")];
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
    let layout = Layout::parse(text, Path::new("cfsecrets.yaml")).map_err(|e| match e {
        super::ValuesError::Manifest { line, .. } => EditError::Reparse { line },
        _ => EditError::Reparse { line: 0 },
    })?;
    let entry = layout
        .accounts
        .get(u.account)
        .and_then(|s| s.get(u.store))
        .and_then(|s| s.get(u.name))
        .ok_or(EditError::Lost)?;
    if entry.value != Some(LayoutValue::File(u.value_path.to_string())) {
        return Err(EditError::Lost);
    }
    Ok(())
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
            "                    KEEPER:\n                        value: values/keeper.age\n                        renamed_from: OLD_KEEPER\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn opens_empty_and_missing_secrets_maps() {
        let (out, _) = set_entry(BASE, &upd("staging", "t", "A", "values/a.age")).unwrap();
        let expected = BASE.replace(
            "                secrets: {}   # empty for now\n",
            "                secrets:\n                    A:\n                        value: values/a.age\n",
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
