//! Removing the values a request or a program was given, and the credentials it was sent
//! with, from what a server or the program says back.
//!
//! A server may quote what it was sent (`secret_value_too_long: value <the value>`, or a
//! proxy's `bad header Authorization: Bearer <the token>`), whole, cut short, JSON-escaped or
//! in another letter case; so may wrangler on its stderr. Before the client stores an error
//! message in an [`crate::cloudflare::ApiError`], and before `cfsecrets local` shows
//! wrangler's stderr, every stretch of the text that matches one of the values is replaced
//! by a mark: each whole occurrence of a value (or of its JSON-escaped form), and every run
//! of [`FRAGMENT`] or more bytes that also occurs inside one, compared without ASCII case.
//! So no run of `FRAGMENT` bytes of a value survives.
//!
//! A value shorter than `FRAGMENT` bytes is removed where it stands as a word of its own (not
//! glued to letters, digits or `_`) in an API error: a value `v` must not turn
//! `secret_scope_invalid` into something no error kind matches. Text only shown to a person
//! ([`Short::Anywhere`]) loses it wherever it stands.

use std::collections::HashSet;

/// What a removed stretch of an API error becomes.
pub(crate) const MARK: &str = "<redacted>";

/// The shortest run of a value's bytes that is removed wherever it appears.
pub(crate) const FRAGMENT: usize = 8;

/// Where a value shorter than [`FRAGMENT`] bytes is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Short {
    /// Only where it stands as a word of its own (text that is matched afterwards: an API
    /// error's message token).
    AsWord,
    /// Wherever it stands (text that is only shown).
    Anywhere,
}

/// `message` with every stretch that matches one of `values` replaced by [`MARK`], short
/// values only as words: for an API error.
pub fn redact(message: &str, values: &[&str]) -> String {
    redact_as(message, values, MARK, Short::AsWord)
}

/// `message` with every stretch that matches one of `values` replaced by `mark`.
pub fn redact_as(message: &str, values: &[&str], mark: &str, short: Short) -> String {
    let hay = message.as_bytes().to_ascii_lowercase();
    let mut hidden = vec![false; hay.len()];
    for value in values.iter().filter(|v| !v.is_empty()) {
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let escaped = escaped
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or_default();
        for form in [*value, escaped] {
            hide(
                &hay,
                &form.as_bytes().to_ascii_lowercase(),
                short,
                &mut hidden,
            );
        }
    }
    if !hidden.contains(&true) {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut in_mark = false;
    for (i, c) in message.char_indices() {
        if hidden[i..i + c.len_utf8()].contains(&true) {
            if !in_mark {
                out.push_str(mark);
                in_mark = true;
            }
        } else {
            out.push(c);
            in_mark = false;
        }
    }
    out
}

/// Marks in `hidden` every occurrence of `form` in `hay` (for a short form and
/// [`Short::AsWord`], those standing as a word) and every `FRAGMENT`-byte window of `hay`
/// that occurs in `form`.
fn hide(hay: &[u8], form: &[u8], short: Short, hidden: &mut [bool]) {
    if form.is_empty() || hay.len() < form.len().min(FRAGMENT) {
        return;
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let as_word = form.len() < FRAGMENT && short == Short::AsWord;
    if form.len() <= hay.len() {
        for start in 0..=hay.len() - form.len() {
            let end = start + form.len();
            if !hay[start..].starts_with(form) {
                continue;
            }
            let glued_before = start > 0 && word(form[0]) && word(hay[start - 1]);
            let glued_after = end < hay.len() && word(form[form.len() - 1]) && word(hay[end]);
            if !as_word || !(glued_before || glued_after) {
                hidden[start..end].fill(true);
            }
        }
    }
    if form.len() >= FRAGMENT {
        let windows: HashSet<&[u8]> = form.windows(FRAGMENT).collect();
        for (start, window) in hay.windows(FRAGMENT).enumerate() {
            if windows.contains(window) {
                hidden[start..start + FRAGMENT].fill(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "CANARY-7f3a9b2c-unique-value";

    /// No `FRAGMENT`-byte window of `value` appears in `text`, in any ASCII case.
    fn nothing_of(value: &str, text: &str) -> bool {
        let text = text.to_ascii_lowercase();
        let value = value.to_ascii_lowercase();
        value
            .as_bytes()
            .windows(FRAGMENT)
            .all(|w| !text.as_bytes().windows(FRAGMENT).any(|t| t == w))
    }

    #[test]
    fn whole_cut_escaped_and_recased_echoes_are_removed() {
        let cases = [
            format!("secret_value_too_long: value {CANARY}"),
            format!("secret_value_too_long: value {}…", &CANARY[..12]),
            format!("bad value \"{}\" here", &CANARY[5..20]),
            format!("echo {} twice {CANARY}", CANARY.to_ascii_uppercase()),
        ];
        for message in &cases {
            let out = redact(message, &[CANARY]);
            assert!(out.starts_with(message.split(' ').next().unwrap()), "{out}");
            assert!(out.contains(MARK), "{out}");
            assert!(nothing_of(CANARY, &out), "{out}");
        }
        assert_eq!(
            redact(&format!("secret_value_too_long: value {CANARY}"), &[CANARY]),
            "secret_value_too_long: value <redacted>"
        );
    }

    #[test]
    fn json_escaped_values_and_every_value_of_a_batch() {
        let quoted = "line1\n\"quoted\"\tCANARY-esc-0451";
        let other = "CANARY-second-9e21";
        let message = format!(
            "invalid: {} and {other}",
            serde_json::to_string(quoted).unwrap()
        );
        let out = redact(&message, &["short", quoted, other]);
        assert!(nothing_of(quoted, &out) && nothing_of(other, &out), "{out}");
        assert!(!out.contains("CANARY"), "{out}");
        assert!(out.starts_with("invalid: "), "{out}");
    }

    #[test]
    fn short_values_go_whole_and_unrelated_text_stays() {
        assert_eq!(
            redact("value abc too long", &["abc"]),
            "value <redacted> too long"
        );
        assert_eq!(redact("value=v", &["v"]), "value=<redacted>");
        assert_eq!(
            redact("secret_scope_invalid", &["v"]),
            "secret_scope_invalid"
        );
        assert_eq!(redact("a-b: a-b", &["a-b"]), "<redacted>: <redacted>");
        assert_eq!(redact("store_not_found", &[CANARY]), "store_not_found");
        assert_eq!(redact("store_not_found", &[]), "store_not_found");
        assert_eq!(redact("anything", &[""]), "anything");
        // Multi-byte text around a removed stretch stays whole.
        let value = "wert-ÄÖÜ-geheim-1234";
        let out = redact(&format!("zu lang: «{value}» ✓"), &[value]);
        assert_eq!(out, "zu lang: «<redacted>» ✓");
    }

    #[test]
    fn text_only_shown_loses_short_values_wherever_they_stand() {
        assert_eq!(
            redact_as("tokenabc1 and abc", &["abc"], "[value]", Short::Anywhere),
            "token[value]1 and [value]"
        );
        assert_eq!(
            redact_as(
                "err: CANARY-7F3A9B2C…",
                &[CANARY],
                "[value]",
                Short::Anywhere
            ),
            "err: [value]…"
        );
    }
}
