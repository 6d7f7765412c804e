//! What the YAML parser refused, in words: a syntax error at its cause (an unclosed bracket
//! where it opens, not where the parser gave up), the reader's limits instead of their debug
//! text, a document that is empty or not a map, and the parser's other errors with input
//! made printable.

use std::path::Path;

use serde_saphyr::{MessageFormatter, UserMessageFormatter};

use super::diagnostic::{Diagnostic, quoted, shown};
use super::structure::Node;
use crate::text::{printable, unless_secret};

/// The diagnostic for text the YAML parser refused. When the cause is a flow collection
/// opened on an earlier line and never closed (`scopes: [workers` followed by the next key),
/// the parser stops only at a later line with a message about something else; the
/// diagnostic then points at the opening bracket and says so.
pub fn syntax_diagnostic(path: &Path, text: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let stopped = parser_diagnostic(path, err);
    let is_syntax = !matches!(
        err,
        serde_saphyr::Error::DuplicateMappingKey { .. } | serde_saphyr::Error::Budget { .. }
    );
    if is_syntax
        && stopped.line > 1
        && let Some((line, column, open)) = unclosed_flow(text, stopped.line)
    {
        return Diagnostic::error(
            path,
            line,
            column,
            format!(
                "unclosed `{open}` (the YAML parser stopped at line {}: {})",
                stopped.line, stopped.message
            ),
        );
    }
    stopped
}

/// The innermost flow collection (`[` or `{`) still open where line `stop` (1-based)
/// begins, with its line and column, when line `stop` cannot continue it: it is indented no
/// deeper than the line that opened it. Quoted scalars, comments and block scalars are
/// skipped; in block context a bracket opens a collection only where a value starts.
fn unclosed_flow(text: &str, stop: u64) -> Option<(u64, u64, char)> {
    let lines = yaml_lines(text);
    let indent = |line: &str| line.len() - line.trim_start_matches(' ').len();
    // (line, column, bracket, indentation of its line)
    let mut open: Vec<(u64, u64, char, usize)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut block_scalar: Option<usize> = None;
    for (i, line) in lines
        .iter()
        .enumerate()
        .take(usize::try_from(stop).ok()? - 1)
    {
        let n = i as u64 + 1;
        let ind = indent(line);
        if let Some(parent) = block_scalar {
            if line.trim().is_empty() || ind > parent {
                continue;
            }
            block_scalar = None;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut prev = ' ';
        let mut value_start = true;
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            if let Some(q) = quote {
                if q == '"' && c == '\\' {
                    j += 2;
                    continue;
                }
                if c == q {
                    if q == '\'' && chars.get(j + 1) == Some(&'\'') {
                        j += 2;
                        continue;
                    }
                    quote = None;
                }
                prev = c;
                j += 1;
                continue;
            }
            let in_flow = !open.is_empty();
            let token_start = if in_flow {
                matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':')
            } else {
                value_start
            };
            match c {
                '#' if matches!(prev, ' ' | '\t') => break,
                '"' | '\'' if token_start => quote = Some(c),
                '[' | '{' if in_flow || value_start => open.push((n, j as u64 + 1, c, ind)),
                ']' | '}' if in_flow => {
                    open.pop();
                }
                '|' | '>' if !in_flow && value_start => {
                    block_scalar = Some(ind);
                    break;
                }
                _ => {}
            }
            if !in_flow {
                value_start = if matches!(c, ' ' | '\t') {
                    value_start || matches!(prev, ':' | '-')
                } else {
                    false
                };
            }
            prev = c;
            j += 1;
        }
    }
    let &(line, column, bracket, opened_at) = open.last()?;
    let stop_line = lines.get(usize::try_from(stop).ok()? - 1)?;
    (quote.is_none() && indent(stop_line) <= opened_at).then_some((line, column, bracket))
}

/// The lines of `text` as YAML counts them: each ends at `\n`, `\r\n` or a lone `\r`.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(end) = rest.find(['\r', '\n']) {
        lines.push(&rest[..end]);
        let after = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + after..];
    }
    lines.push(rest);
    lines
}

/// The diagnostic for a document whose root is not a map: an empty one (nothing but
/// comments, blank lines and markers) says so; anything else is the wrong type.
pub fn not_a_map(path: &Path, text: &str, root: &Node) -> Diagnostic {
    let message = if holds_no_document(text) {
        "unexpected end of file (is the manifest empty?)"
    } else {
        "wrong type: expected a map"
    };
    Diagnostic::error(
        path,
        root.referenced.line(),
        root.referenced.column(),
        message,
    )
}

/// Whether `text` holds no YAML document: only blank lines, comments, directives and
/// document-end markers (`---` starts a document, even an empty one).
fn holds_no_document(text: &str) -> bool {
    yaml_lines(text.trim_start_matches('\u{feff}'))
        .iter()
        .all(|line| {
            let line = line.trim();
            line.is_empty()
                || line.starts_with('#')
                || line.starts_with('%')
                || line == "..."
                || line.starts_with("... ")
        })
}

/// Turns a parser error (syntax, duplicate or unknown key, wrong type) into a diagnostic.
pub fn parser_diagnostic(path: &Path, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    Diagnostic::error(path, line, column, parser_message(err))
}

fn parser_message(err: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match err {
        E::WithSnippet { error, .. } => parser_message(error),
        E::AliasError { error, .. } => parser_message(error),
        E::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown key `{}`; expected one of {}",
            shown(field),
            quoted(expected)
        ),
        E::SerdeMissingField { field, .. } => format!("missing key `{field}`"),
        E::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{}`", shown(key))
        }
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_string(),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "unknown value `{}`; expected one of {}",
            shown(variant),
            quoted(expected)
        ),
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("wrong type: found {unexpected}, expected {expected}"),
        E::Unexpected { expected, .. } => format!(
            "wrong type: expected {}",
            match *expected {
                "mapping start" => "a map",
                "sequence start" => "a list",
                other => other,
            }
        ),
        E::Eof { .. } => "unexpected end of file (is the manifest empty?)".to_string(),
        E::InvalidBooleanStrict { .. } => "wrong type: expected `true` or `false`".to_string(),
        E::InvalidScalar { ty, .. } => format!("wrong type: expected {}", scalar_kind(ty)),
        E::Budget { breach, .. } => format!(
            "the document is too large or too complex to read: {}",
            budget_reason(breach)
        ),
        // Parser messages may quote input: made printable, and never shown when what they
        // quote looks like a private key.
        other => {
            let message = UserMessageFormatter.format_message(other);
            if crate::text::secret_shape(&message).is_some() {
                format!(
                    "not valid YAML here (the parser's words quote {})",
                    unless_secret(&message)
                )
            } else {
                printable(&message)
            }
        }
    }
}

/// Which of the YAML reader's limits a document breached, in words (the limits guard
/// against documents built to exhaust memory, such as alias bombs).
fn budget_reason(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let limits = super::structure::budget();
    match breach {
        B::Nodes { .. } => format!(
            "more than {} values, lists and maps",
            thousands(limits.max_nodes)
        ),
        B::Events { .. } => format!("more than {} YAML events", thousands(limits.max_events)),
        B::Depth { .. } => format!("nested more than {} levels deep", limits.max_depth),
        B::Aliases { .. } => format!(
            "more than {} aliases (`*name`)",
            thousands(limits.max_aliases)
        ),
        B::Anchors { .. } => format!(
            "more than {} anchors (`&name`)",
            thousands(limits.max_anchors)
        ),
        B::AliasAnchorRatio { .. } => {
            "far more aliases (`*name`) than anchors (`&name`), as in an alias bomb".to_string()
        }
        B::Documents { .. } => format!(
            "more than {} YAML documents (`---`)",
            thousands(limits.max_documents)
        ),
        B::ScalarBytes { .. } => format!(
            "more than {} of text in its values",
            crate::text::bytes(limits.max_total_scalar_bytes as u64)
        ),
        B::MergeKeys { .. } => format!(
            "more than {} merge keys (`<<`)",
            thousands(limits.max_merge_keys)
        ),
        _ => "it exceeds one of the YAML reader's limits".to_string(),
    }
}

fn thousands(n: usize) -> String {
    crate::text::thousands(n as u64)
}

fn scalar_kind(ty: &str) -> &str {
    match ty {
        "bool" => "`true` or `false`",
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" => {
            "an integer"
        }
        "f32" | "f64" => "a number",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_bracket_is_found_where_it_opens() {
        type Opened = Option<(u64, u64, char)>;
        let cases: [(&str, u64, Opened); 10] = [
            ("a:\n  b: [x\nc: 1\n", 3, Some((2, 6, '['))),
            ("a: {x: 1\nc: 1\n", 2, Some((1, 4, '{'))),
            ("a:\n  - [x\n  - y\nb: 1\n", 4, Some((2, 5, '['))),
            // A flow collection may span lines when they are indented deeper.
            ("a: [x,\n  y\n", 2, None),
            // Brackets inside quotes, comments, plain text and block scalars open nothing.
            ("a: \"[\"\nb: '['  # [\nc: x[y\nd: |\n  [z\ne: 1\n", 6, None),
            (
                "a: [x, 'it''s [', \"q\\\" [\"\nb: 1\n",
                2,
                Some((1, 4, '[')),
            ),
            ("a: [x]\nb: 1\n", 2, None),
            ("- [a\n- b\n", 2, Some((1, 3, '['))),
            // Found by the manifest fuzz target: lines end at a lone `\r` too, as the parser
            // counts them.
            ("a:\r  b: [x\rc: 1\r", 3, Some((2, 6, '['))),
            ("a: {x: 1\r\nc: 1\r\n", 2, Some((1, 4, '{'))),
        ];
        for (text, stop, expected) in cases {
            assert_eq!(unclosed_flow(text, stop), expected, "{text:?}");
        }
    }
}
