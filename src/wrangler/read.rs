//! Reading a wrangler config: the text goes through a real parser that keeps positions
//! (`toml_edit` or `jsonc-parser`), is reduced to one small located tree ([`Node`]), and that
//! tree is walked for `secrets_store_secrets` at the top level and under each `env.<name>`.
//! Every bad shape is reported, and reading goes on past it; only a syntax error stops the
//! file (past it the document cannot be trusted).
//!
//! Only the parts that hold bindings are checked: everything else in the file is wrangler's
//! business.

use std::path::Path;

pub(crate) use crate::manifest::diagnostic::shown;
use crate::manifest::{Diagnostic, Diagnostics};
use crate::text::printable;

use super::{Binding, Environment, Format, Located, Pos, WranglerConfig};

/// The key wrangler reads Secrets Store bindings from.
pub const KEY: &str = "secrets_store_secrets";
/// The three keys of one entry, all required strings.
pub const ENTRY_KEYS: [&str; 3] = ["binding", "store_id", "secret_name"];

/// One value of the config, with where it starts.
#[derive(Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Str(String),
    /// Entries in file order; JSON may repeat a key (TOML refuses that while parsing).
    Map(Vec<Entry>),
    List(Vec<Node>),
    /// Anything else, by what it is called in the format (`an integer`, `null`, …).
    Other(&'static str),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// Byte offsets to 1-based line and column (in characters). A line ends at `\n`, `\r\n` or
/// a lone `\r`, as editors count them (a file saved with old Mac line endings is not one
/// long line).
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        let bytes = text.as_bytes();
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
                .map(|(i, _)| i + 1),
        );
        Self { text, starts }
    }

    pub(crate) fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        // The `\n` of a `\r\n` is where the line ends, as its `\r` is.
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.trim_end_matches('\r').chars().count());
        Pos {
            line: line as u64 + 1,
            column: column as u64 + 1,
        }
    }

    fn span(&self, span: Option<std::ops::Range<usize>>, fallback: Pos) -> Pos {
        span.map_or(fallback, |s| self.pos(s.start))
    }
}

/// Parses `text` (the contents of `path`, written in `format`) and collects its bindings.
/// Pure.
pub fn parse(path: &Path, text: &str, format: Format) -> (WranglerConfig, Diagnostics) {
    let tree = match format {
        Format::Toml => toml_tree(text),
        Format::Jsonc => jsonc_tree(text),
    };
    match tree {
        Ok(root) => {
            let (config, mut diagnostics) = walk(path, format, &root);
            diagnostics.sort();
            (config, diagnostics)
        }
        Err((pos, message)) => {
            let config = WranglerConfig {
                path: path.to_path_buf(),
                ..WranglerConfig::default()
            };
            let d = Diagnostic::error(path, pos.line, pos.column, message);
            (config, Diagnostics(vec![d]))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TOML

fn toml_tree(text: &str) -> Result<Node, (Pos, String)> {
    let lines = Lines::new(text);
    let doc = toml_edit::Document::parse(text).map_err(|err| {
        let pos = lines.span(err.span(), Pos { line: 1, column: 1 });
        (pos, syntax_message("TOML", err.message()))
    })?;
    let start = Pos { line: 1, column: 1 };
    Ok(toml_table(&lines, doc.as_table(), start))
}

fn toml_table(lines: &Lines, table: &toml_edit::Table, fallback: Pos) -> Node {
    let pos = lines.span(table.span(), fallback);
    let pairs = table.iter().filter_map(|(k, _)| table.get_key_value(k));
    Node {
        pos,
        kind: Kind::Map(toml_entries(lines, pairs, pos)),
    }
}

/// The entries of a table or an inline table, each key with its position.
fn toml_entries<'a>(
    lines: &Lines,
    pairs: impl Iterator<Item = (&'a toml_edit::Key, &'a toml_edit::Item)>,
    pos: Pos,
) -> Vec<Entry> {
    pairs
        .filter_map(|(key, item)| {
            let key_pos = lines.span(key.span(), pos);
            let value = toml_item(lines, item, key_pos)?;
            Some(Entry {
                key: key.get().to_string(),
                key_pos,
                value,
            })
        })
        .collect()
}

fn toml_item(lines: &Lines, item: &toml_edit::Item, fallback: Pos) -> Option<Node> {
    use toml_edit::Item;
    match item {
        Item::None => None,
        Item::Value(value) => Some(toml_value(lines, value, fallback)),
        Item::Table(table) => Some(toml_table(lines, table, fallback)),
        Item::ArrayOfTables(tables) => {
            let pos = lines.span(tables.span(), fallback);
            let items = tables.iter().map(|t| toml_table(lines, t, pos)).collect();
            Some(Node {
                pos,
                kind: Kind::List(items),
            })
        }
    }
}

fn toml_value(lines: &Lines, value: &toml_edit::Value, fallback: Pos) -> Node {
    use toml_edit::Value;
    let pos = lines.span(value.span(), fallback);
    let kind = match value {
        Value::String(s) => Kind::Str(s.value().clone()),
        Value::Integer(_) => Kind::Other("an integer"),
        Value::Float(_) => Kind::Other("a float"),
        Value::Boolean(_) => Kind::Other("a boolean"),
        Value::Datetime(_) => Kind::Other("a date-time"),
        Value::Array(array) => {
            Kind::List(array.iter().map(|v| toml_value(lines, v, pos)).collect())
        }
        Value::InlineTable(table) => {
            let pairs = table.iter().filter_map(|(k, _)| table.get_key_value(k));
            Kind::Map(toml_entries(lines, pairs, pos))
        }
    };
    Node { pos, kind }
}

// ---------------------------------------------------------------------------------------------
// JSON and JSONC

/// What wrangler's JSONC reading accepts beyond JSON: comments and trailing commas. The
/// JSON5-style extensions `jsonc-parser` could also take are refused, as wrangler refuses them.
fn jsonc_options() -> jsonc_parser::ParseOptions {
    jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_trailing_commas: true,
        allow_loose_object_property_names: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

fn jsonc_tree(text: &str) -> Result<Node, (Pos, String)> {
    let lines = Lines::new(text);
    let parsed =
        jsonc_parser::parse_to_ast(text, &Default::default(), &jsonc_options()).map_err(|err| {
            let pos = lines.pos(err.range().start);
            (pos, syntax_message("JSON", &err.kind().to_string()))
        })?;
    match parsed.value {
        Some(value) => Ok(jsonc_value(&lines, &value)),
        None => Err((
            Pos { line: 1, column: 1 },
            "the file holds no JSON value (expected an object)".to_string(),
        )),
    }
}

fn jsonc_value(lines: &Lines, value: &jsonc_parser::ast::Value) -> Node {
    use jsonc_parser::ast::Value;
    use jsonc_parser::common::Ranged as _;
    let pos = lines.pos(value.range().start);
    let kind = match value {
        Value::StringLit(s) => Kind::Str(s.value.to_string()),
        Value::NumberLit(_) => Kind::Other("a number"),
        Value::BooleanLit(_) => Kind::Other("a boolean"),
        Value::NullKeyword(_) => Kind::Other("null"),
        Value::Array(array) => Kind::List(
            array
                .elements
                .iter()
                .map(|v| jsonc_value(lines, v))
                .collect(),
        ),
        Value::Object(object) => Kind::Map(
            object
                .properties
                .iter()
                .map(|prop| Entry {
                    key: prop.name.as_str().to_string(),
                    key_pos: lines.pos(prop.range.start),
                    value: jsonc_value(lines, &prop.value),
                })
                .collect(),
        ),
    };
    Node { pos, kind }
}

/// A parser's message, on one line and safe for a terminal; a word in it that looks like a
/// secret (a key it quotes) is not shown.
fn syntax_message(format: &str, message: &str) -> String {
    let one_line: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let text = printable(&crate::text::without_secrets(&one_line.join("; ")));
    format!("not valid {format}: {}", text.to_lowercase())
}

// ---------------------------------------------------------------------------------------------
// The walk

/// What a map and a list are called in `format`.
fn words(format: Format) -> (&'static str, &'static str) {
    match format {
        Format::Toml => ("a table", "an array"),
        Format::Jsonc => ("an object", "an array"),
    }
}

fn found(format: Format, node: &Node) -> &'static str {
    let (map, list) = words(format);
    match &node.kind {
        Kind::Str(_) => "a string",
        Kind::Map(_) => map,
        Kind::List(_) => list,
        Kind::Other(what) => what,
    }
}

struct Walker<'a> {
    path: &'a Path,
    format: Format,
    diagnostics: Diagnostics,
}

impl Walker<'_> {
    fn error(&mut self, pos: Pos, message: String) {
        self.diagnostics
            .push(Diagnostic::error(self.path, pos.line, pos.column, message));
    }

    fn warning(&mut self, pos: Pos, message: String) {
        self.diagnostics.push(Diagnostic::warning(
            self.path, pos.line, pos.column, message,
        ));
    }

    /// The last entry named `key` (what wrangler's parsers keep); an earlier one is an error.
    fn get<'n>(&mut self, entries: &'n [Entry], key: &str, at: &str) -> Option<&'n Entry> {
        let all: Vec<&Entry> = entries.iter().filter(|e| e.key == key).collect();
        for repeated in all.iter().skip(1) {
            self.error(
                repeated.key_pos,
                format!(
                    "duplicate key `{}` in {at} (first at line {}); only the last one counts",
                    shown(key),
                    all[0].key_pos.line
                ),
            );
        }
        all.last().copied()
    }
}

/// Collects the bindings of a parsed config.
fn walk(path: &Path, format: Format, root: &Node) -> (WranglerConfig, Diagnostics) {
    let mut w = Walker {
        path,
        format,
        diagnostics: Diagnostics::new(),
    };
    let mut config = WranglerConfig {
        path: path.to_path_buf(),
        ..WranglerConfig::default()
    };
    let Kind::Map(top) = &root.kind else {
        let (map, _) = words(format);
        w.error(
            root.pos,
            format!(
                "wrong type for the whole file: expected {map}, found {}",
                found(format, root)
            ),
        );
        return (config, w.diagnostics);
    };
    if let Some(entry) = w.get(top, KEY, "the top level") {
        let list = entry_list(&mut w, &entry.value, Environment::TopLevel, KEY.to_string());
        config.bindings.extend(list);
    }
    if let Some(env) = w.get(top, "env", "the top level") {
        match &env.value.kind {
            Kind::Map(envs) => {
                let mut seen: Vec<&str> = Vec::new();
                for named in envs {
                    if seen.contains(&named.key.as_str()) {
                        // Reported by `get` below, once per repeated name.
                        continue;
                    }
                    seen.push(&named.key);
                    let Some(named) = w.get(envs, &named.key, "`env`") else {
                        continue;
                    };
                    config.envs.push(named.key.clone());
                    let label = format!("env.{}", shown(&named.key));
                    let Kind::Map(inner) = &named.value.kind else {
                        let (map, _) = words(format);
                        w.error(
                            named.value.pos,
                            format!(
                                "wrong type for `{label}`: expected {map}, found {}",
                                found(format, &named.value)
                            ),
                        );
                        continue;
                    };
                    if let Some(entry) = w.get(inner, KEY, &format!("`{label}`")) {
                        let env = Environment::Named(named.key.clone());
                        let list = entry_list(&mut w, &entry.value, env, format!("{label}.{KEY}"));
                        config.bindings.extend(list);
                    }
                }
            }
            _ => {
                let (map, _) = words(format);
                let what = found(format, &env.value);
                w.error(
                    env.value.pos,
                    format!("wrong type for `env`: expected {map} of environments, found {what}"),
                );
            }
        }
    }
    (config, w.diagnostics)
}

/// The bindings of one `secrets_store_secrets` list; `label` names it in messages.
fn entry_list(w: &mut Walker, node: &Node, env: Environment, label: String) -> Vec<Binding> {
    let (map, list) = words(w.format);
    let Kind::List(items) = &node.kind else {
        let what = found(w.format, node);
        w.error(
            node.pos,
            format!("wrong type for `{label}`: expected {list} of {{ binding, store_id, secret_name }}, found {what}"),
        );
        return Vec::new();
    };
    let mut bindings = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{label}[{i}]");
        let Kind::Map(entries) = &item.kind else {
            let what = found(w.format, item);
            w.error(
                item.pos,
                format!("wrong type for `{at}`: expected {map} with `binding`, `store_id` and `secret_name`, found {what}"),
            );
            continue;
        };
        for unknown in entries
            .iter()
            .filter(|e| !ENTRY_KEYS.contains(&e.key.as_str()))
        {
            let hint = ENTRY_KEYS
                .iter()
                .map(|k| (strsim::levenshtein(&unknown.key, k), k))
                .filter(|(d, _)| *d <= 3)
                .min()
                .map(|(_, k)| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            w.warning(
                unknown.key_pos,
                format!(
                    "unknown key `{}` in `{at}`; expected `binding`, `store_id` and `secret_name`{hint}",
                    shown(&unknown.key)
                ),
            );
        }
        let mut values = Vec::new();
        let mut missing = Vec::new();
        for key in ENTRY_KEYS {
            match w.get(entries, key, &format!("`{at}`")) {
                None => missing.push(key),
                Some(entry) => {
                    match &entry.value.kind {
                        Kind::Str(s) => values.push(Located {
                            value: s.clone(),
                            pos: entry.value.pos,
                        }),
                        _ => {
                            let what = found(w.format, &entry.value);
                            w.error(
                            entry.value.pos,
                            format!("wrong type for `{key}` in `{at}`: expected a string, found {what}"),
                        );
                        }
                    }
                }
            }
        }
        if !missing.is_empty() {
            let mut keys: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
            let last = keys.pop().unwrap_or_default();
            let list = if keys.is_empty() {
                last
            } else {
                format!("{} and {last}", keys.join(", "))
            };
            w.error(
                item.pos,
                format!(
                    "`{at}` is missing {} {list}",
                    if missing.len() == 1 { "key" } else { "keys" },
                ),
            );
        }
        if let Ok([binding, store_id, secret_name]) = <[Located<String>; 3]>::try_from(values) {
            bindings.push(Binding {
                file: w.path.to_path_buf(),
                env: env.clone(),
                at: item.pos,
                binding,
                store_id,
                secret_name,
            });
        }
    }
    bindings
}

/// A name from a config or the command line, as a message may show it: only when it is made
/// of the characters names use (ASCII letters, digits, `_`, `$`, `-`; at most 100) and does
/// not look like a secret ([`crate::text::is_plain`]). Text of any other shape may be a value
/// pasted in the wrong place, and is never repeated.
pub(crate) fn name_shown(s: &str) -> Option<&str> {
    let plain = !s.is_empty()
        && crate::text::is_plain(s, 100, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-')
        });
    plain.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn read(text: &str, format: Format) -> (Vec<String>, Vec<String>) {
        let name = match format {
            Format::Toml => "wrangler.toml",
            Format::Jsonc => "wrangler.jsonc",
        };
        let (config, d) = parse(Path::new(name), text, format);
        let bindings = config
            .bindings
            .iter()
            .map(|b| {
                let env = match &b.env {
                    Environment::TopLevel => "-".to_string(),
                    Environment::Named(n) => n.clone(),
                };
                format!(
                    "{env} {}:{} {}@{}:{} {}@{}:{} {}@{}:{}",
                    b.at.line,
                    b.at.column,
                    b.binding.value,
                    b.binding.pos.line,
                    b.binding.pos.column,
                    b.store_id.value.len(),
                    b.store_id.pos.line,
                    b.store_id.pos.column,
                    b.secret_name.value,
                    b.secret_name.pos.line,
                    b.secret_name.pos.column,
                )
            })
            .collect();
        (bindings, d.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn toml_tables_inline_tables_and_environments() {
        let text = format!(
            "name = \"w\"\n\
             [[secrets_store_secrets]]\n\
             binding = \"A\"\n\
             store_id = \"{ID}\"\n\
             secret_name = \"SA\"\n\
             \n\
             [env.staging]\n\
             secrets_store_secrets = [ {{ binding = \"B\", store_id = \"{ID}\", secret_name = \"SB\" }} ]\n\
             \n\
             [env.empty]\n\
             vars = {{ X = \"1\" }}\n\
             \n\
             [[env.prod.secrets_store_secrets]]\n\
             binding = \"C\" # a comment\n\
             store_id = \"{ID}\"\n\
             secret_name = \"SC\"\n"
        );
        let (bindings, d) = read(&text, Format::Toml);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            bindings,
            [
                "- 2:1 A@3:11 32@4:12 SA@5:15",
                "staging 8:27 B@8:39 32@8:55 SB@8:105",
                "prod 13:1 C@14:11 32@15:12 SC@16:15",
            ]
        );
        let (config, _) = parse(Path::new("w.toml"), &text, Format::Toml);
        assert_eq!(config.envs, ["staging", "empty", "prod"]);
    }

    #[test]
    fn toml_dotted_keys_reach_the_same_places() {
        let text = format!(
            "env.dev.secrets_store_secrets = [\n  {{ binding = \"D\", store_id = \"{ID}\", secret_name = \"SD\" }},\n]\n"
        );
        let (bindings, d) = read(&text, Format::Toml);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(bindings, ["dev 2:3 D@2:15 32@2:31 SD@2:81"]);
    }

    #[test]
    fn json_with_comments_and_trailing_commas() {
        let text = format!(
            "// wrangler.jsonc\n{{\n  \"name\": \"w\", /* inline */\n  \"secrets_store_secrets\": [\n    {{ \"binding\": \"A\", \"store_id\": \"{ID}\", \"secret_name\": \"SA\" }},\n  ],\n  \"env\": {{\n    \"staging\": {{\n      \"secrets_store_secrets\": [\n        {{\n          \"binding\": \"B\",\n          \"store_id\": \"{ID}\",\n          \"secret_name\": \"SB\",\n        }},\n      ],\n    }},\n  }},\n}}\n"
        );
        let (bindings, d) = read(&text, Format::Jsonc);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            bindings,
            [
                "- 5:5 A@5:18 32@5:35 SA@5:86",
                "staging 10:9 B@11:22 32@12:23 SB@13:26",
            ]
        );
    }

    #[test]
    fn every_bad_shape_is_reported_at_once() {
        let text = format!(
            "secrets_store_secrets = [\n\
             \x20 {{ binding = \"OK\", store_id = \"{ID}\", secret_name = \"S\" }},\n\
             \x20 {{ binding = \"NO_ID\", secret_name = \"S\" }},\n\
             \x20 {{ binding = 7, store_id = \"{ID}\", secret_name = \"S\", bindng = \"x\" }},\n\
             \x20 \"just a string\",\n\
             ]\n\
             [env.a]\n\
             secrets_store_secrets = {{ binding = \"X\" }}\n\
             [env.b]\n\
             secrets_store_secrets = [{{}}]\n"
        );
        let (bindings, d) = read(&text, Format::Toml);
        assert_eq!(bindings, ["- 2:3 OK@2:15 32@2:32 S@2:82"]);
        assert_eq!(
            d,
            [
                "wrangler.toml:3:3: error: `secrets_store_secrets[1]` is missing key `store_id`",
                "wrangler.toml:4:15: error: wrong type for `binding` in `secrets_store_secrets[2]`: expected a string, found an integer",
                "wrangler.toml:4:84: warning: unknown key `bindng` in `secrets_store_secrets[2]`; expected `binding`, `store_id` and `secret_name`; did you mean `binding`?",
                "wrangler.toml:5:3: error: wrong type for `secrets_store_secrets[3]`: expected a table with `binding`, `store_id` and `secret_name`, found a string",
                "wrangler.toml:8:25: error: wrong type for `env.a.secrets_store_secrets`: expected an array of { binding, store_id, secret_name }, found a table",
                "wrangler.toml:10:26: error: `env.b.secrets_store_secrets[0]` is missing keys `binding`, `store_id` and `secret_name`",
            ]
        );
    }

    #[test]
    fn json_shapes_and_repeated_keys() {
        let text = "{\n  \"env\": { \"x\": [], \"y\": { \"secrets_store_secrets\": null } },\n  \"secrets_store_secrets\": [],\n  \"secrets_store_secrets\": [ { \"binding\": \"A\", \"binding\": \"B\", \"store_id\": \"i\", \"secret_name\": \"s\" } ]\n}";
        let (bindings, d) = read(text, Format::Jsonc);
        // The last of a repeated key counts, as in wrangler's parser.
        assert_eq!(bindings, ["- 4:30 B@4:59 1@4:76 s@4:96"]);
        assert_eq!(
            d,
            [
                "wrangler.jsonc:2:17: error: wrong type for `env.x`: expected an object, found an array",
                "wrangler.jsonc:2:53: error: wrong type for `env.y.secrets_store_secrets`: expected an array of { binding, store_id, secret_name }, found null",
                "wrangler.jsonc:4:3: error: duplicate key `secrets_store_secrets` in the top level (first at line 3); only the last one counts",
                "wrangler.jsonc:4:48: error: duplicate key `binding` in `secrets_store_secrets[0]` (first at line 4); only the last one counts",
            ]
        );
    }

    #[test]
    fn a_parser_message_never_repeats_a_secret_it_quotes() {
        let token = "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq";
        // Today's parsers do not quote a duplicate key; should a version quote it, the
        // message still leaves it out.
        assert_eq!(
            syntax_message("TOML", &format!("duplicate key `{token}`\nat line 3")),
            "not valid TOML: duplicate key `(api token not shown)`; at line 3"
        );
        // A token pasted as a key, then repeated.
        let (_, d) = read(&format!("[vars]\n{token} = 1\n{token} = 2\n"), Format::Toml);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("wrangler.toml:3:"), "{d:?}");
        assert!(!d[0].contains(&token[..12]), "{d:?}");
        let (_, d) = read(
            &format!("{{ \"{token}\": 1, \"{token}\" 2 }}"),
            Format::Jsonc,
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(!d[0].contains(&token[..12]), "{d:?}");
    }

    #[test]
    fn syntax_errors_stop_the_file_with_a_position() {
        let (_, d) = read("name = \"w\"\n[[secrets_store_secrets]\n", Format::Toml);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("wrangler.toml:2:"), "{d:?}");
        assert!(d[0].contains("error: not valid TOML: "), "{d:?}");
        // JSON5 extensions wrangler does not take are refused.
        let (_, d) = read("{\n  'name': 'w'\n}", Format::Jsonc);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].starts_with("wrangler.jsonc:2:3: error: not valid JSON: "),
            "{d:?}"
        );
        let (_, d) = read("", Format::Jsonc);
        assert_eq!(
            d,
            ["wrangler.jsonc:1:1: error: the file holds no JSON value (expected an object)"]
        );
        let (_, d) = read("[1]", Format::Jsonc);
        assert_eq!(
            d,
            [
                "wrangler.jsonc:1:1: error: wrong type for the whole file: expected an object, found an array"
            ]
        );
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        let lines = Lines::new("a\rbc\r\nd\ne");
        assert_eq!(lines.pos(2), Pos { line: 2, column: 1 });
        assert_eq!(lines.pos(4), Pos { line: 2, column: 3 });
        assert_eq!(lines.pos(6), Pos { line: 3, column: 1 });
        assert_eq!(lines.pos(8), Pos { line: 4, column: 1 });
        // The `\n` of a `\r\n` is at the end of its line, as the `\r` is.
        assert_eq!(lines.pos(5), Pos { line: 2, column: 3 });
        // Found by the wrangler fuzz target: a JSON config with `\r` line endings had every
        // problem on line 1.
        let text = "{\r  \"secrets_store_secrets\": 7\r}";
        let (_, d) = parse(Path::new("w.jsonc"), text, Format::Jsonc);
        assert_eq!(d.len(), 1);
        assert!(
            d.0[0].to_string().starts_with("w.jsonc:2:28: error: "),
            "{d}"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let lines = Lines::new("é = 1\n  x");
        assert_eq!(lines.pos(3), Pos { line: 1, column: 3 });
        assert_eq!(lines.pos(9), Pos { line: 2, column: 3 });
        assert_eq!(lines.pos(0), Pos { line: 1, column: 1 });
    }

    #[test]
    fn control_characters_in_keys_never_reach_the_terminal() {
        let text = "{\"secrets_store_secrets\": [{\"binding\": \"A\", \"store_id\": \"i\", \"secret_name\": \"s\", \"\\u001b[31m\": 1}]}";
        let (_, d) = read(text, Format::Jsonc);
        assert_eq!(d.len(), 1);
        assert!(!d[0].contains('\u{1b}'), "{d:?}");
    }

    #[test]
    fn a_name_is_shown_only_when_plain_and_nothing_like_a_secret() {
        assert_eq!(name_shown("STRIPE_KEY"), Some("STRIPE_KEY"));
        assert_eq!(name_shown(ID), Some(ID));
        assert_eq!(name_shown(""), None);
        assert_eq!(name_shown("a b"), None);
        // An API token pasted as a secret_name, or a store_id, is not repeated.
        assert_eq!(name_shown("Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq"), None);
        assert_eq!(name_shown("AGE-SECRET-KEY-1QQQQ"), None);
    }
}
