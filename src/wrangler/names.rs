//! Binding names. A Worker reads a binding as `env.NAME` (or destructures it:
//! `const { NAME } = env`), so a binding name must be a JavaScript identifier that works in
//! both places.
//!
//! The rule: ASCII only — the first character a letter, `_` or `$`, the rest letters, digits,
//! `_` or `$` — and not one of [`RESERVED`]: the ECMAScript reserved words, the words reserved
//! in strict mode (module code is strict), and `arguments` and `eval`, which strict mode
//! refuses as binding names. Unicode identifiers are legal JavaScript but refused here: they
//! are rare in bindings, easy to confuse, and `wrangler types` output should stay plain.
//!
//! `cfsecrets bindings` derives a binding name from a secret name by replacing each `-` with
//! `_` (secret names are `[A-Za-z0-9_-]+`, so nothing else needs changing; case is kept).
//! A name that still is not an identifier (it starts with a digit, or is a reserved word) is
//! not guessed at: it is refused with the reason.

/// Words that cannot be a binding name.
pub const RESERVED: [&str; 46] = [
    // Reserved words (ECMAScript 2024, 12.7.2), literals included.
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    // Reserved in strict mode.
    "implements",
    "interface",
    "let",
    "package",
    "private",
    "protected",
    "public",
    "static",
];

/// Refused in strict mode as binding names, though not reserved words.
const STRICT_RESTRICTED: [&str; 2] = ["arguments", "eval"];

/// Why `name` is not a usable binding name, or `None` when it is one.
pub fn identifier_problem(name: &str) -> Option<String> {
    let Some(first) = name.chars().next() else {
        return Some("it is empty".to_string());
    };
    if first.is_ascii_digit() {
        return Some("it starts with a digit".to_string());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$')))
    {
        return Some(match bad {
            '-' => "it contains `-` (use `_`)".to_string(),
            // Shown escaped: a bidirectional control would reorder the terminal's line.
            c if crate::text::is_unsafe(c) => format!(
                "it contains `{}`, a control character",
                crate::text::printable(&c.to_string())
            ),
            c => format!("it contains `{c}` (use ASCII letters, digits, `_` and `$`)"),
        });
    }
    if RESERVED.contains(&name) || STRICT_RESTRICTED.contains(&name) {
        return Some("it is a reserved word in JavaScript".to_string());
    }
    None
}

/// The binding name for a secret: `-` becomes `_`. `Err` says why the result still is not an
/// identifier.
pub fn derive_binding(secret: &str) -> Result<String, String> {
    let name = secret.replace('-', "_");
    match identifier_problem(&name) {
        None => Ok(name),
        Some(why) if name == secret => Err(why),
        Some(why) => Err(format!("`{name}` would not do: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_ascii_and_not_reserved() {
        for good in ["STRIPE_KEY", "_x", "$", "a1", "Api$Key", "classy", "Let"] {
            assert_eq!(identifier_problem(good), None, "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("1PASSWORD", "starts with a digit"),
            ("MY-KEY", "contains `-` (use `_`)"),
            ("a b", "contains ` `"),
            ("clé", "contains `é`"),
            ("a\u{1b}b", "contains `\\u{1b}`, a control character"),
            // Found by the wrangler fuzz target: a bidirectional control was shown as it is.
            ("a\u{202e}b", "contains `\\u{202e}`, a control character"),
            ("class", "reserved word"),
            ("let", "reserved word"),
            ("static", "reserved word"),
            ("eval", "reserved word"),
            ("await", "reserved word"),
        ] {
            let got = identifier_problem(bad).unwrap_or_default();
            assert!(got.contains(why), "{bad:?}: {got}");
        }
    }

    #[test]
    fn derived_names_replace_hyphens_and_refuse_the_rest() {
        assert_eq!(derive_binding("STRIPE_KEY").unwrap(), "STRIPE_KEY");
        assert_eq!(
            derive_binding("stripe-live-key").unwrap(),
            "stripe_live_key"
        );
        assert_eq!(
            derive_binding("1PASSWORD").unwrap_err(),
            "it starts with a digit"
        );
        assert_eq!(
            derive_binding("9-lives").unwrap_err(),
            "`9_lives` would not do: it starts with a digit"
        );
        assert!(derive_binding("delete").unwrap_err().contains("reserved"));
    }
}
