//! The one rule for what looks like a secret pasted in the wrong place (an age identity, a
//! PEM block or an API token), which every argument, path variable, manifest name and
//! quoted text goes through, and the forms a message may show instead.

/// Whether `text` looks like private key material (an age identity or plugin identity, in
/// any case, or a PEM block) rather than a name, a path or a public key. Such text is never
/// quoted in a message.
pub fn looks_like_private_key(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    upper.contains("AGE-SECRET-KEY-")
        || upper.contains("AGE-PLUGIN-")
        || upper.contains("-----BEGIN")
}

/// Whether `text` may be quoted back in a message as it is: at most `max` characters, every
/// one `allowed` (the characters a caller's names or paths are written with), and nothing that
/// looks like a secret ([`secret_shape`]). Callers differ in the characters and the length
/// they allow; what looks like a secret is this one rule.
pub fn is_plain(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    text.chars().count() <= max && text.chars().all(allowed) && secret_shape(text).is_none()
}

/// What a text that must not be shown looks like: [`secret_shape`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretShape {
    /// Private key material ([`looks_like_private_key`]).
    PrivateKey,
    /// A word shaped like an API token or key ([`looks_like_api_token`]).
    ApiToken,
}

impl SecretShape {
    /// `a private key (AGE-SECRET-KEY-…)`, `an API token`: what the text looks like, for a
    /// message that does not show it.
    pub fn what(self) -> &'static str {
        match self {
            SecretShape::PrivateKey => "a private key (AGE-SECRET-KEY-…)",
            SecretShape::ApiToken => "an API token",
        }
    }

    /// `a private key`, `an API token`: [`Self::what`] without the example.
    pub fn noun(self) -> &'static str {
        match self {
            SecretShape::PrivateKey => "a private key",
            SecretShape::ApiToken => "an API token",
        }
    }
}

/// The one rule for text that names something (a path, a URL, a name): whether it looks
/// like a secret pasted in the wrong place — private key material anywhere in it, or a word
/// (a run of letters, digits, `-` and `_`) shaped like an API token. Such text is refused
/// where it was given and never shown, used as a file name or written.
pub fn secret_shape(text: &str) -> Option<SecretShape> {
    if looks_like_private_key(text) {
        return Some(SecretShape::PrivateKey);
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .any(looks_like_api_token)
        .then_some(SecretShape::ApiToken)
}

/// Whether one word is shaped like an API token or key rather than a name: Cloudflare's
/// global API key (37 lowercase hexadecimal characters), or at least 32 characters that mix
/// upper and lower case and change between classes (upper, lower, digit, `-` or `_`) at
/// least once every three characters, as random text does (Cloudflare's tokens are 40 such
/// characters). Names written by people change class far less often
/// (`MyServiceAccountCredentialsBackup2024`), and ids are lower case (`0123…cdef`).
pub fn looks_like_api_token(word: &str) -> bool {
    let bytes = word.as_bytes();
    if bytes.len() == 37 && bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return true;
    }
    if bytes.len() < 32
        || !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        return false;
    }
    let class = |b: &u8| match b {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    let has = |c| bytes.iter().any(|b| class(b) == c);
    let changes = bytes
        .windows(2)
        .filter(|w| class(&w[0]) != class(&w[1]))
        .count();
    has(0) && has(1) && changes * 3 >= bytes.len()
}

/// `text` with every word that looks like a secret ([`secret_shape`]) replaced by
/// `(private key not shown)` or `(API token not shown)`; a word ends at white space or a
/// quote. For text that quotes what a user or a file wrote (a command-line parser's errors,
/// a wrangler config parser's).
pub fn without_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match secret_shape(word) {
            Some(SecretShape::PrivateKey) => out.push_str("(private key not shown)"),
            Some(SecretShape::ApiToken) => out.push_str("(API token not shown)"),
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '\'' | '"' | '`') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// `text`, or `<not shown: it looks like …>` in its place when it looks like a secret
/// ([`secret_shape`]): for text from outside that output shows whole (a live comment).
pub fn unless_secret(text: &str) -> std::borrow::Cow<'_, str> {
    match secret_shape(text) {
        Some(shape) => format!("<not shown: it looks like {}>", shape.noun()).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::clipped;

    #[test]
    fn secrets_are_cut_out_word_by_word() {
        let text =
            "error: unexpected argument 'age-secret-key-1qqqq' found\n  AGE-PLUGIN-YUBIKEY-1X `x`";
        assert_eq!(
            without_secrets(text),
            "error: unexpected argument '(private key not shown)' found\n  (private key not shown) `x`"
        );
        assert_eq!(
            without_secrets("age1public and a/path"),
            "age1public and a/path"
        );
        assert_eq!(
            without_secrets("duplicate key `Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq` in table"),
            "duplicate key `(API token not shown)` in table"
        );
    }

    #[test]
    fn secrets_are_told_from_names_paths_and_ids() {
        let token = "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq";
        assert_eq!(token.len(), 40);
        for text in [
            token,
            "plans/Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq.json",
            "https://proxy.example/Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq/client/v4",
            "0123456789abcdef0123456789abcdef01234",
        ] {
            assert_eq!(secret_shape(text), Some(SecretShape::ApiToken), "{text}");
        }
        assert_eq!(
            secret_shape("keys/age-secret-key-1qqqq"),
            Some(SecretShape::PrivateKey)
        );
        for text in [
            "cfsecrets.yaml",
            "plan.json",
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.json",
            "MyServiceAccountCredentialsBackup2024.yaml",
            "values/production/main/STRIPE_SECRET_KEY_FOR_CHECKOUT_2024.age",
            "123e4567-e89b-12d3-a456-426614174000",
            "https://api.cloudflare.com/client/v4",
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        ] {
            assert_eq!(secret_shape(text), None, "{text}");
        }
        assert_eq!(
            clipped(token, 60),
            "<not shown: it looks like an API token>"
        );
        assert_eq!(
            clipped("AGE-SECRET-KEY-1QQQQ", 60),
            "<not shown: it looks like a private key>"
        );
    }

    #[test]
    fn random_tokens_are_recognised() {
        // Cloudflare's alphabet; a fixed xorshift so the test is the same on every run.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut missed = 0;
        for _ in 0..2000 {
            let token: String = (0..40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % 64) as usize] as char
                })
                .collect();
            if !looks_like_api_token(&token) {
                missed += 1;
            }
        }
        assert!(
            missed <= 2,
            "{missed} of 2000 random tokens were taken for names"
        );
    }

    #[test]
    fn plain_text_is_short_made_of_allowed_characters_and_nothing_like_a_secret() {
        let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
        assert!(is_plain("STRIPE_KEY", 100, name));
        assert!(!is_plain("STRIPE KEY", 100, name));
        assert!(!is_plain("STRIPE_KEY", 5, name));
        assert!(!is_plain(
            "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq",
            100,
            name
        ));
        assert!(!is_plain("AGE-SECRET-KEY-1QQQQ", 100, name));
    }
}
