//! Typed flag values: each parser turns one argument's text into the type a command takes,
//! so a command never checks a string itself. A parser refuses with a [`Refused`] that
//! words the problem without repeating the text, unless the text is plainly a name or a path
//! ([`may_quote`]): a secret value or an age identity pasted into the wrong argument must
//! never come back on a terminal or in a CI log. [`super::error`] renders the refusal.
//!
//! The one rule for text that is not itself a secret (a path, a URL, a name, a comment):
//! text that looks like one ([`crate::text::secret_shape`]: an age identity, or an API
//! token) is refused by [`not_secret`] before it can be used, shown, written or made a file
//! name. Every argument goes through it except the few that hold a secret by design
//! ([`HOLDS_A_SECRET`]); `every_argument_refuses_pasted_secrets` below walks the whole
//! command line to keep it so.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::domain::{AccountId, Scope, SecretName, check_label};
use crate::text::{SecretShape, count, is_plain, looks_like_private_key, secret_shape};
use crate::wrangler::check::looks_like_store_id;

/// The arguments (by id) whose text is a secret by design, so it is never refused for
/// looking like one: the emulator's tokens, and the hidden catch-all of `secret set`
/// (refused there whatever it holds, without being repeated).
#[cfg(test)]
pub(crate) const HOLDS_A_SECRET: [&str; 3] = ["token", "read_only_token", "stray"];

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
    is_plain(text, 24, |c| {
        c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '/' | '\\')
    })
}

/// The one check every argument that is not a secret goes through: `s` unless it looks
/// like a secret, which is refused as `what` (`a path`, `a name`, …) without being
/// repeated. `hint` ends the message (how to do what was meant), or is empty.
fn not_secret<'s>(s: &'s str, what: &str, hint: &str) -> Result<&'s str, Refused> {
    let Some(shape) = secret_shape(s) else {
        return Ok(s);
    };
    let opening = match shape {
        SecretShape::PrivateKey => "this is a private key (AGE-SECRET-KEY-…)",
        SecretShape::ApiToken => "this looks like an API token",
    };
    Err(Refused::new(format!(
        "{opening}, not {what}; it was not used (it may now be in your shell history){hint}"
    )))
}

/// A name the manifest is searched for (`--account LABEL`, `--store NAME`, `--secret NAME`):
/// any text but a secret, which is refused before it can be repeated in a "not found"
/// message.
pub(crate) fn name(s: &str) -> Result<String, Refused> {
    not_secret(s, "a name", "").map(str::to_string)
}

/// A comment for a manifest entry (`secret set --comment`): any text but a secret, which
/// would otherwise be written into the manifest and sent to Cloudflare.
pub(crate) fn comment(s: &str) -> Result<String, Refused> {
    not_secret(s, "a comment", "").map(str::to_string)
}

/// A path to read or write (`-f`, `--out`, `--dir`, a plan file, …): any path but a
/// secret, which would otherwise be repeated in a "cannot read" message or become the name
/// of a file written into the project.
pub(crate) fn path(s: &str) -> Result<PathBuf, Refused> {
    not_secret(s, "a path", "").map(PathBuf::from)
}

/// An identity file (`-i`): a [`path`], whose refusal says how key text is given instead.
pub(crate) fn identity_file(s: &str) -> Result<PathBuf, Refused> {
    let hint = "; put key text in CFSECRETS_AGE_KEY, or give the path of a file that holds it";
    not_secret(s, "a path", hint).map(PathBuf::from)
}

/// The API's base URL (`--api-url`, also from `CLOUDFLARE_API_BASE_URL`): not a secret,
/// which would otherwise be printed as the address read from, and an API root the client
/// accepts (a usage error, exit 64, like any other bad argument; the reason never repeats
/// user info, a query or a fragment).
pub(crate) fn url(s: &str) -> Result<String, Refused> {
    let hint = "; without --api-url, it came from CLOUDFLARE_API_BASE_URL";
    not_secret(s, "a URL", hint)?;
    crate::cloudflare::check_base_url(s).map_err(|e| Refused::new(format!("{e}{hint}")))?;
    Ok(s.to_string())
}

/// An age recipient (`init -r`): a public key, never key material. (An `ssh-…` key is
/// left for `init` to refuse with its own reason.)
pub(crate) fn recipient(s: &str) -> Result<String, Refused> {
    if looks_like_private_key(s) {
        return Err(Refused::new(
            "this is a private key, not a recipient; it was not used (it may now be in your \
             shell history); give its public key (`age-keygen -y FILE` prints it)",
        ));
    }
    if s.trim_start().starts_with("ssh-") {
        return Ok(s.to_string());
    }
    not_secret(s, "a recipient", "").map(str::to_string)
}

/// An account id (`import --account`, `init --account-id`); blanks around it are ignored.
pub(crate) fn account_id(s: &str) -> Result<AccountId, Refused> {
    AccountId::from_str(s.trim()).map_err(Refused::new)
}

/// A secret's name (`secret set NAME`). Text that looks like a secret is refused as such:
/// it would otherwise be a valid name, written into the manifest, made a file name and
/// printed.
pub(crate) fn secret_name(s: &str) -> Result<SecretName, Refused> {
    let s = not_secret(s, "a name", "")
        .map_err(|refused| Refused::new(format!("invalid secret name: {}", refused.reason)))?;
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
/// written file passes `check`, and nothing that looks like a secret (it would be written
/// and printed).
pub(crate) fn label(s: &str) -> Result<String, Refused> {
    not_secret(s, "a label", "")?;
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
            identity_file(identity).unwrap_err(),
            url(&format!("https://{identity}/client/v4")).unwrap_err(),
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
        let recipient = recipient(identity)
            .unwrap_err()
            .message("--recipient <AGE1…>");
        assert!(
            recipient.starts_with("--recipient: this is a private key, not a recipient"),
            "{recipient}"
        );
    }

    #[test]
    fn a_token_is_never_a_path_a_url_or_a_name() {
        let token = "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq";
        for refused in [
            path(token).unwrap_err(),
            path(&format!("plans/{token}.json")).unwrap_err(),
            identity_file(token).unwrap_err(),
            url(&format!("https://proxy.example/{token}/client/v4")).unwrap_err(),
            name(token).unwrap_err(),
            label(token).unwrap_err(),
            comment(token).unwrap_err(),
        ] {
            let message = refused.message("--x <X>");
            assert!(
                message.starts_with("--x: this looks like an API token, not "),
                "{message}"
            );
            assert!(!message.contains("Xk4v"), "{message}");
        }
        let named = secret_name(token).unwrap_err().message("<NAME>");
        assert!(
            named.starts_with("invalid secret name: this looks like an API token"),
            "{named}"
        );
        assert_eq!(
            url("http://127.0.0.1:8787/client/v4").unwrap(),
            "http://127.0.0.1:8787/client/v4"
        );
        assert!(recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx7Tq9Bz").is_ok());
    }

    /// The one rule holds for the whole command line, including arguments added later:
    /// every argument that takes a value refuses an age identity and an API token, unless it
    /// holds a secret by design ([`HOLDS_A_SECRET`]); every argument named like a path or
    /// URL still takes an ordinary one.
    #[test]
    fn every_argument_refuses_pasted_secrets() {
        use clap::error::ErrorKind;
        use clap::{CommandFactory as _, Parser as _};

        let identity =
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        let token = "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq";
        /// Every value-taking argument as (the words that reach it, the argument).
        fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<(Vec<String>, clap::Arg)>) {
            for arg in cmd.get_arguments() {
                let inherited = arg.is_global_set() && path.len() > 1;
                if arg.get_action().takes_values() && !inherited {
                    out.push((path.to_vec(), arg.clone()));
                }
            }
            for sub in cmd.get_subcommands() {
                let mut next = path.to_vec();
                next.push(sub.get_name().to_string());
                walk(sub, &next, out);
            }
        }
        let mut cmd = crate::cli::Cli::command();
        cmd.build();
        let mut args = Vec::new();
        walk(&cmd, &["cfsecrets".to_string()], &mut args);
        // The error clap gives for `text` in `arg` (reached through `path`), if any.
        let parse = |path: &[String], arg: &clap::Arg, text: &str| {
            let mut argv = path.to_vec();
            match arg.get_long() {
                Some(long) => argv.push(format!("--{long}={text}")),
                None => {
                    assert_eq!(
                        arg.get_index(),
                        Some(1),
                        "{path:?} {}: extend this walk to later positionals",
                        arg.get_id()
                    );
                    argv.push(text.to_string());
                }
            }
            crate::cli::Cli::try_parse_from(argv)
                .err()
                .map(|e| e.kind())
        };
        let refused = |kind: Option<ErrorKind>| {
            matches!(
                kind,
                Some(ErrorKind::ValueValidation | ErrorKind::InvalidValue)
            )
        };
        let mut walked = Vec::new();
        for (path, arg) in &args {
            let id = arg.get_id().as_str();
            walked.push(format!("{} {id}", path.join(" ")));
            if HOLDS_A_SECRET.contains(&id) {
                continue;
            }
            for pasted in [identity, token] {
                assert!(
                    refused(parse(path, arg, pasted)),
                    "`{} {id}` takes text that looks like a secret: give it a parser from \
                     cli/value.rs",
                    path.join(" ")
                );
            }
            let names = arg.get_value_names().unwrap_or_default();
            let ordinary = names.iter().find_map(|n| match n.as_str() {
                "URL" => Some("https://api.example.com/client/v4"),
                "FILE" | "PATH" | "DIR" | "PLAN_FILE" => Some("plans/main.json"),
                _ => None,
            });
            if let Some(ordinary) = ordinary {
                assert!(
                    !refused(parse(path, arg, ordinary)),
                    "`{} {id}` refuses {ordinary}",
                    path.join(" ")
                );
            }
        }
        for expected in [
            "cfsecrets manifest",
            "cfsecrets identities",
            "cfsecrets apply plan_file",
            "cfsecrets plan api_url",
            "cfsecrets plan out",
            "cfsecrets emulator state",
            "cfsecrets secret set name",
            "cfsecrets check wrangler",
            "cfsecrets apply wait_active",
            "cfsecrets secret import-env file",
            "cfsecrets secret import-env bundle",
            "cfsecrets secret rm name",
            "cfsecrets local wrangler",
            "cfsecrets local wrangler_bin",
            "cfsecrets man dir",
        ] {
            assert!(
                walked.iter().any(|s| s == expected),
                "{expected} not walked: {walked:?}"
            );
        }
    }
}
