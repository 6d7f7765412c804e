//! The one terminal-safe filter for text that comes from outside (a user's file, a live
//! comment, a server's message), and the clipped form a message quotes. Text that looks like
//! a secret ([`super::secret_shape`]) is not quoted at all.

use super::secret::{secret_shape, unless_secret};

/// Unicode bidirectional controls: they reorder how a terminal shows the rest of a line
/// ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` must not reach a terminal as it is: a control character (an ANSI escape, a
/// carriage return, a newline inside a one-line message) or a bidirectional control.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// Text from outside made safe for a terminal. The one policy: every control character and
/// every bidirectional control is escaped the way Rust writes it (`\u{1b}`, `\n`,
/// `\u{202e}`), so nothing can drive or reorder the terminal and the reader still sees that
/// something was there. Everything else is kept as written.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`printable`], cut to `max` characters with `…` when longer (a 10,000-character key in a
/// message helps nobody): for text from outside quoted in a message. Text that looks like a
/// secret is not quoted at all ([`unless_secret`]).
pub fn clipped(s: &str, max: usize) -> String {
    if secret_shape(s).is_some() {
        return unless_secret(s).into_owned();
    }
    let clean = printable(s);
    match clean.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_controls_are_escaped_and_nothing_else() {
        assert_eq!(printable("plain `x` é 名"), "plain `x` é 名");
        assert_eq!(printable("bad\x1b[31mred\n"), "bad\\u{1b}[31mred\\n");
        assert_eq!(printable("a\rb\tc\u{7f}\u{9b}"), "a\\rb\\tc\\u{7f}\\u{9b}");
        assert_eq!(
            printable("ok \u{202e}deleted\u{2066} \u{200f}x\u{061c}"),
            "ok \\u{202e}deleted\\u{2066} \\u{200f}x\\u{61c}"
        );
        for s in ["\x1b]0;title\x07", "\u{202e}\u{2066}\u{2069}", "\r\n\u{85}"] {
            assert!(!printable(s).chars().any(is_unsafe), "{s:?}");
        }
    }

    #[test]
    fn clipping_counts_characters_after_escaping() {
        assert_eq!(clipped("short", 60), "short");
        assert_eq!(clipped(&"x".repeat(60), 60), "x".repeat(60));
        assert_eq!(clipped(&"é".repeat(61), 60), format!("{}…", "é".repeat(60)));
        assert_eq!(clipped("\x1b\x1b", 7), "\\u{1b}\\…");
    }

    #[test]
    fn text_that_looks_like_a_private_key_is_never_clipped_into_view() {
        for key in [
            "AGE-SECRET-KEY-1QFWZ3VGK8YX7M2NCJ9HDLTR5UPE6SA4Q0W3RZXF8GVKJ7Y2MNC9DLHTP5U",
            "values/age-secret-key-1qfwz3vgk.age",
            "AGE-PLUGIN-YUBIKEY-1QQ",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
        ] {
            assert_eq!(clipped(key, 60), "<not shown: it looks like a private key>");
        }
        assert_eq!(clipped("age1qqq", 60), "age1qqq");
    }
}
