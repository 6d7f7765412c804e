//! Typed flag values: each parser turns one argument's text into the type a command takes,
//! so a command never checks a string itself. A parser refuses with a [`Refused`] that
//! words the problem without repeating the text, unless the text is plainly a name or a path
//! ([`may_quote`]): a secret value or an age identity pasted into the wrong argument must
//! never come back on a terminal or in a CI log. [`super::error`] renders the refusal.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::domain::{AccountId, Scope, SecretName, check_label};
use crate::text::{count, looks_like_private_key};
use crate::wrangler::check::looks_like_store_id;

/// Why a parser refused an argument, worded without its text (or quoting it where
/// [`may_quote`] allows).
#[derive(Debug)]
pub(crate) struct Refused {
    reason: String,
    /// The argument's text, quoted before the reason (`--label `a/b` must not …`).
    quoted: Option<String>,
}

impl Refused {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            quoted: None,
        }
    }

    /// The message for the argument clap names `arg` (`--label <LABEL>`, `<NAME>`):
    /// `--flag: reason` or `--flag `text` reason` for a flag, the reason alone for a
    /// positional argument (its parser words it whole).
    pub(crate) fn message(&self, arg: &str) -> String {
        let flag = arg.split(' ').next().unwrap_or(arg);
        let positional = !flag.starts_with('-');
        match (&self.quoted, positional) {
            (Some(text), true) => format!("`{text}` {}", self.reason),
            (Some(text), false) => format!("{flag} `{text}` {}", self.reason),
            (None, true) => self.reason.clone(),
            (None, false) => format!("{flag}: {}", self.reason),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Refused {}

/// Whether a refused text may be quoted back: short, made only of the characters names and
/// paths are written with, and nothing like key material. Anything else may be a secret
/// pasted into the wrong argument (tokens and keys carry `+`, `=`, `:` or are long).
pub(crate) fn may_quote(text: &str) -> bool {
    text.chars().count() <= 24
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '/' | '\\'))
        && !looks_like_private_key(text)
}

/// The refusal of text that looks like private key material where `what` belongs: it is
/// not used and not repeated.
fn private_key(what: &str) -> Refused {
    Refused::new(format!(
        "this is a private key (AGE-SECRET-KEY-…), not {what}; it was not used (it may now be \
         in your shell history)"
    ))
}

/// A name the manifest is searched for (`--account LABEL`, `--store NAME`, `--secret NAME`):
/// any text but private key material, which is refused before it can be repeated in a
/// "not found" message.
pub(crate) fn name(s: &str) -> Result<String, Refused> {
    if looks_like_private_key(s) {
        return Err(private_key("a name"));
    }
    Ok(s.to_string())
}

/// A comment for a manifest entry (`secret set --comment`): any text but private key
/// material, which would otherwise be written into the manifest and sent to Cloudflare.
pub(crate) fn comment(s: &str) -> Result<String, Refused> {
    if looks_like_private_key(s) {
        return Err(private_key("a comment"));
    }
    Ok(s.to_string())
}

/// A path to read or write (`-f`, `--out`, `--dir`, a plan file, …): any path but private
/// key material, which would otherwise be repeated in a "cannot read" message. (`-i` has
/// its own check, which says how identities are given.)
pub(crate) fn path(s: &str) -> Result<PathBuf, Refused> {
    if looks_like_private_key(s) {
        return Err(private_key("a path"));
    }
    Ok(PathBuf::from(s))
}

/// An account id (`import --account`, `init --account-id`); blanks around it are ignored.
pub(crate) fn account_id(s: &str) -> Result<AccountId, Refused> {
    AccountId::from_str(s.trim()).map_err(Refused::new)
}

/// A secret's name (`secret set NAME`). Text that looks like an age identity is refused
/// as such: it would otherwise be a valid name, written into the manifest and printed.
pub(crate) fn secret_name(s: &str) -> Result<SecretName, Refused> {
    if looks_like_private_key(s) {
        return Err(Refused::new(
            "invalid secret name: this is a private key (AGE-SECRET-KEY-…), not a name; it \
             was not used (it may now be in your shell history)",
        ));
    }
    SecretName::from_str(s).map_err(|e| Refused::new(format!("invalid secret name: {e}")))
}

/// One scope of a comma-separated list (`secret set --scopes`); blanks around it are ignored.
pub(crate) fn scope(s: &str) -> Result<Scope, Refused> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Refused::new(
            "empty scope: list scopes separated by commas, e.g. --scopes workers,ai_gateway",
        ));
    }
    Scope::from_str(s).map_err(|unknown| {
        if may_quote(s) {
            Refused::new(unknown.to_string())
        } else {
            Refused::new(format!(
                "unknown scope (not repeated here); {}",
                unknown.hint()
            ))
        }
    })
}

/// An account label for a manifest (`import --label`): the manifest's own rule, so the
/// written file passes `check`, and no private key material (it would be written and printed).
pub(crate) fn label(s: &str) -> Result<String, Refused> {
    if looks_like_private_key(s) {
        return Err(private_key("a label"));
    }
    match check_label(s) {
        Ok(()) => Ok(s.to_string()),
        Err(reason) if may_quote(s) => Err(Refused {
            reason: reason.to_string(),
            quoted: Some(s.to_string()),
        }),
        Err(reason) => Err(Refused::new(format!("the label {reason}"))),
    }
}

/// A store id (`bindings --store-id`): 32 hexadecimal characters, kept in lowercase as
/// Cloudflare writes ids.
pub(crate) fn store_id(s: &str) -> Result<String, Refused> {
    let id = s.trim().to_ascii_lowercase();
    if looks_like_store_id(&id) {
        Ok(id)
    } else {
        Err(Refused::new(format!(
            "expected 32 hexadecimal characters, got {}",
            count(id.chars().count(), "character", "characters")
        )))
    }
}

/// A count that must be at least 1 (`--parallelism`, `--rate-limit`).
pub(crate) fn at_least_one<T: FromStr + PartialOrd + From<u8>>(s: &str) -> Result<T, Refused> {
    let n = s
        .trim()
        .parse::<T>()
        .map_err(|_| Refused::new("expected a whole number, at least 1"))?;
    if n < T::from(1) {
        return Err(Refused::new("must be at least 1"));
    }
    Ok(n)
}

/// The longest `apply --wait-active` accepts, in seconds.
pub(crate) const MAX_WAIT_SECONDS: u64 = 3600;

/// Seconds to wait (`apply --wait-active`): a whole number from 1 to [`MAX_WAIT_SECONDS`].
/// The flag's value is optional, so a plan file written right after it is read as its value:
/// the refusal says how to write it.
pub(crate) fn wait_seconds(s: &str) -> Result<u64, Refused> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_WAIT_SECONDS).contains(&n) => Ok(n),
        Ok(_) => Err(Refused::new(format!(
            "seconds must be from 1 to {MAX_WAIT_SECONDS}"
        ))),
        Err(_) => Err(Refused::new(
            "expected a number of seconds; to wait the default 30, put the plan file before \
             --wait-active, or write --wait-active=SECONDS",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_flag_and_quote_only_plain_text() {
        let err = account_id("nope").unwrap_err();
        assert_eq!(
            err.message("--account <ID>"),
            "--account: account id must be 32 lowercase hex characters, got 4 characters"
        );
        assert_eq!(
            label("a/b").unwrap_err().message("--label <LABEL>"),
            "--label `a/b` must not contain `/` or `\\` or be `.` or `..`"
        );
        let pasted = label("sk_live/51Hx+pasted==")
            .unwrap_err()
            .message("--label <LABEL>");
        assert!(!pasted.contains("pasted"), "{pasted}");
        assert!(
            pasted.starts_with("--label: the label must not contain"),
            "{pasted}"
        );
        assert_eq!(
            scope("ai-gateway")
                .unwrap_err()
                .message("--scopes <SCOPE,…>"),
            "--scopes: unknown scope `ai-gateway`; did you mean `ai_gateway`?"
        );
        let pasted = scope("pasted+value==")
            .unwrap_err()
            .message("--scopes <SCOPE,…>");
        assert!(!pasted.contains("pasted"), "{pasted}");
        assert_eq!(
            secret_name("bad name").unwrap_err().message("<NAME>"),
            "invalid secret name: secret name may contain only letters, digits, '-' and '_' \
             (found ' ')"
        );
        assert_eq!(at_least_one::<usize>("4").unwrap(), 4);
        assert_eq!(
            at_least_one::<u32>("0")
                .unwrap_err()
                .message("--rate-limit <N>"),
            "--rate-limit: must be at least 1"
        );
    }

    #[test]
    fn an_identity_is_never_a_name_and_never_quoted() {
        let identity =
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        assert!(
            SecretName::parse(identity).is_ok(),
            "a valid name by its characters"
        );
        assert!(secret_name(identity).is_err());
        for refused in [
            name(identity).unwrap_err(),
            comment(&format!("see {identity}")).unwrap_err(),
            path(&format!("keys/{}", identity.to_lowercase())).unwrap_err(),
        ] {
            let message = refused.message("--x <X>");
            assert!(
                message.starts_with("--x: this is a private key"),
                "{message}"
            );
            assert!(
                !message.contains("QQQQ") && !message.contains("qqqq"),
                "{message}"
            );
        }
        assert_eq!(name("prod").unwrap(), "prod");
        assert_eq!(path("a/b.yaml").unwrap(), PathBuf::from("a/b.yaml"));
        assert!(!may_quote("age-secret-key-1x"));
        assert!(may_quote("a/b") && may_quote("kv") && !may_quote("x=1"));
    }
}
