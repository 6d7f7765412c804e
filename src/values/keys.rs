//! Age keys: [`Identities`] (private keys, to unseal) and [`Recipients`] (public keys, to
//! seal to).
//!
//! Identities come from `-i/--identity FILE` (repeatable), `CFSECRETS_AGE_KEY` (the key text
//! itself) and `CFSECRETS_AGE_KEY_FILE`; all that are supplied are used together. An empty
//! environment variable counts as unset (CI systems pass missing secrets as empty strings to
//! pull requests from forks). The identity format is what `age-keygen` and `rage-keygen`
//! write: `AGE-SECRET-KEY-1…` lines, `#` comments and blank lines. Only X25519 keys are
//! supported (no SSH keys, no plugins, no passphrase-protected identity files).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::ValuesError;
use super::secret::REDACTED;
use crate::domain::{MAX_IDENTITY_FILE_BYTES, MAX_RECIPIENTS_FILE_BYTES};
use crate::fs::FsError;
use crate::text::looks_like_private_key;

/// Environment variable holding identity text (for CI secrets).
pub const ENV_AGE_KEY: &str = "CFSECRETS_AGE_KEY";
/// Environment variable naming an identity file.
pub const ENV_AGE_KEY_FILE: &str = "CFSECRETS_AGE_KEY_FILE";

/// One or more age private keys. `Debug` shows only how many.
pub struct Identities(Vec<x25519::Identity>);

impl Identities {
    /// Collects identities from files and the environment. `Ok(None)` means none was
    /// supplied at all (the fork-PR mode: plan without comparing values).
    pub fn from_sources(
        files: &[PathBuf],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Identities>, ValuesError> {
        let mut keys = Vec::new();
        for file in files {
            keys.extend(Self::from_path(file, "-i/--identity")?.0);
        }
        if let Some(text) = env(ENV_AGE_KEY).filter(|t| !t.trim().is_empty()) {
            let text = Zeroizing::new(text);
            keys.extend(Self::parse(&text, ENV_AGE_KEY)?.0);
        }
        if let Some(path) = env(ENV_AGE_KEY_FILE).filter(|t| !t.trim().is_empty()) {
            let path = Zeroizing::new(path);
            keys.extend(Self::from_path(Path::new(path.as_str()), ENV_AGE_KEY_FILE)?.0);
        }
        Ok(if keys.is_empty() {
            None
        } else {
            Some(Identities(keys))
        })
    }

    /// Reads an identity file (age-keygen format).
    pub fn from_file(path: &Path) -> Result<Identities, ValuesError> {
        Self::from_path(path, "the identity path")
    }

    /// [`Self::from_file`]; `origin` names where the path came from, for the one error that
    /// cannot show the path: a path that is really key text.
    fn from_path(path: &Path, origin: &str) -> Result<Identities, ValuesError> {
        // The one rule for secret-shaped text where a name belongs (the command line applies
        // it first; this guards callers of the library).
        match crate::text::secret_shape(&path.to_string_lossy()) {
            None => {}
            Some(crate::text::SecretShape::PrivateKey) => {
                return Err(ValuesError::KeyInsteadOfPath {
                    origin: origin.to_string(),
                });
            }
            Some(shape) => {
                return Err(ValuesError::SecretInsteadOfPath {
                    origin: origin.to_string(),
                    noun: shape.noun(),
                });
            }
        }
        let bytes =
            crate::fs::read_capped(path, MAX_IDENTITY_FILE_BYTES).map_err(|err| match err {
                FsError::Read { source, .. } => ValuesError::ReadIdentity {
                    path: path.to_path_buf(),
                    origin: origin.to_string(),
                    source,
                },
                other => ValuesError::Fs(other),
            })?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Err(ValuesError::ReadIdentity {
                path: path.to_path_buf(),
                origin: origin.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                ),
            });
        };
        Self::parse(text, &path.display().to_string())
    }

    /// Parses identity text; `origin` names the file or variable in errors. Errors never
    /// quote the offending line.
    pub fn parse(text: &str, origin: &str) -> Result<Identities, ValuesError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let reason = if line.starts_with("AGE-SECRET-KEY-1") {
                match x25519::Identity::from_str(line) {
                    Ok(key) => {
                        keys.push(key);
                        continue;
                    }
                    Err(why) => format!("invalid age identity ({why})"),
                }
            } else if line.starts_with("AGE-PLUGIN-") {
                "plugin identities are not supported".to_string()
            } else if line.starts_with("-----BEGIN") || line.starts_with("age-encryption.org") {
                "encrypted or SSH identity files are not supported".to_string()
            } else {
                "not an age identity (expected AGE-SECRET-KEY-1…)".to_string()
            };
            return Err(ValuesError::Identity {
                origin: origin.to_string(),
                line: i + 1,
                reason,
            });
        }
        if keys.is_empty() {
            return Err(ValuesError::NoIdentity {
                origin: origin.to_string(),
            });
        }
        Ok(Identities(keys))
    }

    /// A fresh identity (for `init --generate-identity` and tests).
    pub fn generate() -> Identities {
        Identities(vec![x25519::Identity::generate()])
    }

    /// The identity file text for these keys, age-keygen style (zeroized on drop).
    pub fn to_file_text(&self, created: &str) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::new());
        for key in &self.0 {
            text.push_str(&format!("# created: {created}\n"));
            text.push_str(&format!("# public key: {}\n", key.to_public()));
            text.push_str(key.to_string().expose_secret());
            text.push('\n');
        }
        text
    }

    /// The public keys of these identities.
    pub fn to_recipients(&self) -> Vec<String> {
        self.0.iter().map(|k| k.to_public().to_string()).collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.0.iter().map(|k| k as &dyn age::Identity)
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} keys, {REDACTED})", self.0.len())
    }
}

/// The public keys values are sealed to, as listed in the recipients file.
#[derive(Clone, Debug)]
pub struct Recipients {
    keys: Vec<x25519::Recipient>,
}

impl Recipients {
    /// Reads a recipients file: one `age1…` per line; `#` comment lines and blank lines
    /// allowed (the format `age -R` reads). At least one key is required. The file is read
    /// bounded ([`MAX_RECIPIENTS_FILE_BYTES`]); binary data is refused with a reason.
    pub fn from_file(path: &Path) -> Result<Recipients, ValuesError> {
        let bytes = crate::fs::read_bounded(path, MAX_RECIPIENTS_FILE_BYTES)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if !text.contains('\0') => Self::parse(text, path),
            _ => Err(ValuesError::RecipientsNotText {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Parses recipients-file text, reporting every bad line (by number, never quoting it).
    pub fn parse(text: &str, path: &Path) -> Result<Recipients, ValuesError> {
        let mut keys = Vec::new();
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = if looks_like_private_key(line) {
                Err(
                    "this is a private key, not a recipient; remove it from this file and \
                     list its public key instead (`age-keygen -y FILE` prints it)"
                        .to_string(),
                )
            } else if line.contains('#') {
                Err("put comments on their own line (as `age -R` requires)".to_string())
            } else {
                Self::parse_one(line)
            };
            match parsed {
                Ok(key) => keys.push(key),
                Err(reason) => bad.push((i + 1, reason)),
            }
        }
        if !bad.is_empty() {
            return Err(ValuesError::Recipients {
                path: path.to_path_buf(),
                lines: bad,
            });
        }
        if keys.is_empty() {
            return Err(ValuesError::NoRecipients {
                path: path.to_path_buf(),
            });
        }
        Ok(Recipients { keys })
    }

    /// Parses recipients given on the command line. A bad one is quoted only when it starts
    /// like a public key (`age1…`, `ssh-…`); anything else may be a secret pasted by mistake
    /// and is named by its position instead.
    pub fn from_strings(list: &[String]) -> Result<Recipients, ValuesError> {
        let mut keys = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let text = r.trim();
            if looks_like_private_key(text) {
                return Err(ValuesError::RecipientArgHidden {
                    position: i + 1,
                    reason: "this is a private key, not a recipient; give its public key \
                             (`age-keygen -y FILE` prints it)"
                        .to_string(),
                });
            }
            keys.push(Self::parse_one(text).map_err(|reason| {
                // Quoted only when it starts like a public key and nothing in it looks like
                // a secret (`ssh-` followed by a pasted token is not shown).
                let public = text.starts_with("age1") || text.starts_with("ssh-");
                if public && crate::text::secret_shape(text).is_none() {
                    ValuesError::RecipientArg {
                        recipient: r.clone(),
                        reason,
                    }
                } else {
                    ValuesError::RecipientArgHidden {
                        position: i + 1,
                        reason,
                    }
                }
            })?);
        }
        Ok(Recipients { keys })
    }

    fn parse_one(s: &str) -> Result<x25519::Recipient, String> {
        if s.starts_with("ssh-") {
            return Err("ssh recipients are not supported; use an age1… key".to_string());
        }
        x25519::Recipient::from_str(s).map_err(|why| format!("not an age x25519 recipient ({why})"))
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys as text, sorted and deduplicated.
    pub fn sorted(&self) -> Vec<String> {
        let mut list: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        list.sort();
        list.dedup();
        list
    }

    /// A stable digest of the recipient set (order and duplicates do not matter): sha256 of
    /// the sorted keys, one per line, in lowercase hex.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for key in self.sorted() {
            hasher.update(key.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }

    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.keys.iter().map(|k| k as &dyn age::Recipient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse_keygen_format_and_redact() {
        let id = Identities::generate();
        let text = id.to_file_text("2026-01-01T00:00:00Z");
        let parsed = Identities::parse(&text, "test").unwrap();
        assert_eq!(parsed.to_recipients(), id.to_recipients());
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("AGE-SECRET-KEY"), "{debug}");
        assert!(debug.contains("1 keys"));
    }

    #[test]
    fn identity_errors_name_the_line_not_the_text() {
        let err = Identities::parse("# c\n\nAGE-SECRET-KEY-1NOTVALIDATALL\n", "f.txt")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.txt:3:"), "{err}");
        assert!(!err.contains("NOTVALID"), "{err}");
        let err = Identities::parse("# only comments\n", "f.txt").unwrap_err();
        assert!(matches!(err, ValuesError::NoIdentity { .. }));
    }

    #[test]
    fn a_secret_given_as_an_identity_path_is_refused_unread_and_unshown() {
        let key = Identities::generate().to_file_text("now").to_string();
        let key_line = key
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        let token = "Zx9vQ2mK7pL4sT8wR1yU6eN3bH5jC0aD";
        for (text, private) in [(key_line, true), (token, false)] {
            let err = Identities::from_file(Path::new(text)).unwrap_err();
            assert_eq!(
                matches!(err, ValuesError::KeyInsteadOfPath { .. }),
                private,
                "{err:?}"
            );
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(&text[..20]), "{shown}");
            assert!(shown.contains("not a file path"), "{shown}");
        }
    }

    #[test]
    fn empty_environment_means_no_identity() {
        let env = |name: &str| (name == ENV_AGE_KEY).then(|| "  ".to_string());
        assert!(Identities::from_sources(&[], &env).unwrap().is_none());
        let key = Identities::generate().to_file_text("now");
        let text = key.to_string();
        let env = move |name: &str| (name == ENV_AGE_KEY).then(|| text.clone());
        let ids = Identities::from_sources(&[], &env).unwrap().unwrap();
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn a_bad_recipient_argument_is_quoted_only_when_nothing_in_it_looks_like_a_secret() {
        let token = "Zx9vQ2mK7pL4sT8wR1yU6eN3bH5jC0aD";
        for (arg, quoted) in [
            ("age1notvalid".to_string(), true),
            ("ssh-rsa notvalid".to_string(), true),
            (format!("ssh-{token}"), false),
            (format!("ssh-ed25519 {token}"), false),
            (format!("age1{token}"), false),
            (token.to_string(), false),
        ] {
            let err = Recipients::from_strings(std::slice::from_ref(&arg)).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert_eq!(shown.contains(&arg), quoted, "{shown}");
            assert!(!shown.contains(token), "{shown}");
        }
    }

    #[test]
    fn recipients_file_allows_comments_and_reports_lines() {
        let a = Identities::generate().to_recipients().remove(0);
        let b = Identities::generate().to_recipients().remove(0);
        let text = format!("# team\n{a}\n\n  {b}\n");
        let r = Recipients::parse(&text, Path::new("r")).unwrap();
        assert_eq!(r.len(), 2);
        let swapped = Recipients::parse(&format!("{b}\n{a}\n{a}\n"), Path::new("r")).unwrap();
        assert_eq!(r.digest(), swapped.digest());
        let err = Recipients::parse(&format!("{a}\nage1bogus\n"), Path::new("r"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("r:2:"), "{err}");
        let err = Recipients::parse(&format!("# x\n{a} # ci\n"), Path::new("r"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("r:2: put comments"), "{err}");
        assert!(matches!(
            Recipients::parse("# none\n", Path::new("r")),
            Err(ValuesError::NoRecipients { .. })
        ));
    }

    #[test]
    fn every_bad_recipients_line_is_named_and_an_identity_is_never_shown() {
        let a = Identities::generate().to_recipients().remove(0);
        let id = Identities::generate().to_file_text("now");
        let key = id
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        let text = format!("{a}\ngarbage\n# fine\n{a} # ci\n  {key}\nage1bogus\n");
        let err = Recipients::parse(&text, Path::new("r"))
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 4, "{err}");
        assert!(
            lines[0].starts_with("r:2: not an age x25519 recipient"),
            "{err}"
        );
        assert_eq!(
            lines[1],
            "r:4: put comments on their own line (as `age -R` requires)"
        );
        assert!(
            lines[2].starts_with("r:5: this is a private key, not a recipient"),
            "{err}"
        );
        assert!(lines[3].starts_with("r:6: "), "{err}");
        assert!(!err.contains(key) && !err.contains("garbage") && !err.contains("bogus"));
    }

    #[test]
    fn a_binary_recipients_file_gets_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        std::fs::write(&path, b"age1\0\xff\xfe binary").unwrap();
        let err = Recipients::from_file(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: not a text file (it holds binary data); list one age1… public key per line",
                path.display()
            )
        );
    }
}
