//! Unsealing every value a validated manifest declares, and the value checks behind
//! `check --decrypt`.
//!
//! Each bundle is decrypted and parsed once, however many secrets point into it. Problems
//! are collected, not returned early: one run reports every unreadable or unfit value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::manifest::Severity;
use crate::manifest::{Desired, DesiredSecret, ValueSource};

use super::bundle::{self, Bundle, BundleFormat};
use super::keys::Identities;
use super::seal::unseal_file;
use super::secret::SecretValue;

pub use crate::domain::ValueKey;
use crate::domain::{MAX_BUNDLE_FILE_BYTES, MAX_SEALED_VALUE_FILE_BYTES, MAX_VALUE_BYTES};

/// Every unsealed value, by secret. Secrets with `value: keep`, absent secrets and values
/// with an error-level problem are not in it.
pub type UnsealedValues = BTreeMap<ValueKey, SecretValue>;

/// What is wrong with a value. No variant carries plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file could not be read or decrypted (reason from the reader or age).
    Unreadable(String),
    /// The bundle's extension is neither `.env.age` nor `.yaml.age`/`.yml.age`.
    UnknownBundleFormat,
    /// The decrypted bundle does not parse.
    BundleSyntax(String),
    MissingBundleKey,
    NotUtf8,
    Empty,
    TooLarge {
        bytes: usize,
    },
}

impl ProblemKind {
    /// Every value problem is an error today; the severity stays in the type so that
    /// callers print warnings and errors alike should one return.
    pub fn severity(&self) -> Severity {
        Severity::Error
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::Unreadable(reason) => f.write_str(reason),
            ProblemKind::UnknownBundleFormat => {
                f.write_str("bundle must end in .env.age, .yaml.age or .yml.age")
            }
            ProblemKind::BundleSyntax(reason) => write!(f, "bundle does not parse: {reason}"),
            ProblemKind::MissingBundleKey => f.write_str("key not found in the bundle"),
            ProblemKind::NotUtf8 => f.write_str("value is not valid UTF-8"),
            ProblemKind::Empty => f.write_str("value is empty"),
            ProblemKind::TooLarge { bytes } => {
                write!(f, "value is {bytes} bytes; the limit is {MAX_VALUE_BYTES}")
            }
        }
    }
}

/// One problem with one secret's value: names the secret, the file (and bundle key), never
/// the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueProblem {
    pub secret: ValueKey,
    pub file: PathBuf,
    pub bundle_key: Option<String>,
    pub kind: ProblemKind,
}

impl ValueProblem {
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.secret, self.file.display())?;
        if let Some(key) = &self.bundle_key {
            write!(f, " (key {key})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// Unseals every present secret whose value is not `keep` and checks it (decrypts, UTF-8,
/// non-empty, at most [`MAX_VALUE_BYTES`], bundle key exists). Values with an error are
/// left out of the map.
/// Problems come in manifest order (accounts, stores, then secrets by name).
pub fn unseal_all(desired: &Desired, ids: &Identities) -> (UnsealedValues, Vec<ValueProblem>) {
    let mut values = UnsealedValues::new();
    let mut problems = Vec::new();
    let mut bundles: BTreeMap<PathBuf, Result<Bundle, ProblemKind>> = BTreeMap::new();
    for account in &desired.accounts {
        for store in &account.stores {
            for (name, secret) in &store.secrets {
                let DesiredSecret::Present(present) = secret else {
                    continue;
                };
                let key = ValueKey {
                    account: account.label.clone(),
                    store: store.name.clone(),
                    secret: name.clone(),
                };
                let (file, bundle_key, result) = match &present.value {
                    ValueSource::Keep => continue,
                    ValueSource::File(path) => (
                        path.clone(),
                        None,
                        decrypt_text(path, ids, MAX_SEALED_VALUE_FILE_BYTES),
                    ),
                    ValueSource::Bundle { path, key: bkey } => {
                        let bundle = bundles
                            .entry(path.clone())
                            .or_insert_with(|| load_bundle(path, ids));
                        let result = match bundle {
                            Err(kind) => Err(kind.clone()),
                            Ok(b) => b.get(bkey).cloned().ok_or(ProblemKind::MissingBundleKey),
                        };
                        (path.clone(), Some(bkey.clone()), result)
                    }
                };
                let mut push = |kind: ProblemKind| {
                    problems.push(ValueProblem {
                        secret: key.clone(),
                        file: file.clone(),
                        bundle_key: bundle_key.clone(),
                        kind,
                    })
                };
                match result {
                    Err(kind) => push(kind),
                    Ok(value) => match size_problem(&value) {
                        Some(kind) if kind.severity() == Severity::Error => push(kind),
                        Some(kind) => {
                            push(kind);
                            values.insert(key.clone(), value);
                        }
                        None => {
                            values.insert(key.clone(), value);
                        }
                    },
                }
            }
        }
    }
    (values, problems)
}

/// The checks of `check --decrypt`: every problem [`unseal_all`] finds, values dropped at once.
pub fn check_values(desired: &Desired, ids: &Identities) -> Vec<ValueProblem> {
    unseal_all(desired, ids).1
}

fn size_problem(value: &SecretValue) -> Option<ProblemKind> {
    let bytes = value.len();
    if bytes == 0 {
        Some(ProblemKind::Empty)
    } else if bytes > MAX_VALUE_BYTES {
        Some(ProblemKind::TooLarge { bytes })
    } else {
        None
    }
}

fn decrypt_text(path: &Path, ids: &Identities, limit: u64) -> Result<SecretValue, ProblemKind> {
    let bytes =
        unseal_file(path, ids, limit).map_err(|e| ProblemKind::Unreadable(short_reason(&e)))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ProblemKind::NotUtf8)?;
    Ok(SecretValue::new(text.to_string()))
}

/// The error without the path (the problem already names the file).
fn short_reason(err: &super::ValuesError) -> String {
    use super::ValuesError as E;
    match err {
        E::Read { source, .. } | E::Fs(crate::fs::FsError::Read { source, .. }) => {
            format!("cannot read: {source}")
        }
        E::Fs(fs) => format!("cannot read: {}", fs.reason()),
        E::Decrypt { reason, .. } => format!("cannot decrypt: {reason}"),
        other => other.to_string(),
    }
}

fn load_bundle(path: &Path, ids: &Identities) -> Result<Bundle, ProblemKind> {
    let format = BundleFormat::of(path).ok_or(ProblemKind::UnknownBundleFormat)?;
    let text = decrypt_text(path, ids, MAX_BUNDLE_FILE_BYTES)?;
    bundle::parse(text.expose_secret(), format)
        .map_err(|e| ProblemKind::BundleSyntax(e.to_string()))
}
