//! Unsealing every value a validated manifest declares, and the value checks behind
//! `check --decrypt`.
//!
//! Each file is decrypted (and a bundle parsed) once, however many secrets point into it,
//! on every core the process may use; the results are put back in manifest order, so the
//! output does not depend on the number of threads. Problems are collected, not returned
//! early: one run reports every unreadable or unfit value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::manifest::Severity;
use crate::manifest::{Desired, DesiredSecret, ValueSource};

use super::bundle::{self, Bundle, BundleFormat};
use super::keys::Identities;
use super::seal::unseal_file;
use super::secret::SecretValue;

pub use crate::domain::ValueKey;
use crate::domain::{
    MAX_BUNDLE_FILE_BYTES, MAX_SEALED_VALUE_FILE_BYTES, MAX_VALUE_BYTES, ValueSizeProblem,
    value_size_problem,
};

/// Every unsealed value, by secret. Secrets with `value: keep`, absent secrets and values
/// with an error-level problem are not in it — except a value over the size limit, which is
/// kept beside its problem, so a plan can report it as a problem of that secret.
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
/// left out of the map, but for one over [`MAX_VALUE_BYTES`] (the planner refuses it as a
/// plan problem naming the secret).
/// Problems come in manifest order (accounts, stores, then secrets by name).
///
/// Files are decrypted on every core the process may use ([`unseal_all_on`]).
pub fn unseal_all(desired: &Desired, ids: &Identities) -> (UnsealedValues, Vec<ValueProblem>) {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    unseal_all_on(desired, ids, threads)
}

/// [`unseal_all`] on at most `threads` threads (1: on the calling thread only). Each file is
/// decrypted once, however many secrets point into it; the result, problems included and in
/// their order, does not depend on `threads`.
pub fn unseal_all_on(
    desired: &Desired,
    ids: &Identities,
    threads: usize,
) -> (UnsealedValues, Vec<ValueProblem>) {
    // Each distinct file to decrypt, in first-use order, and each secret with its file.
    let mut files: Vec<(PathBuf, FileKind)> = Vec::new();
    let mut index: BTreeMap<(PathBuf, FileKind), usize> = BTreeMap::new();
    let mut uses: Vec<(ValueKey, usize, Option<String>)> = Vec::new();
    for account in &desired.accounts {
        for store in &account.stores {
            for (name, secret) in &store.secrets {
                let DesiredSecret::Present(present) = secret else {
                    continue;
                };
                let (path, kind, bundle_key) = match &present.value {
                    ValueSource::Keep => continue,
                    ValueSource::File(path) => (path, FileKind::Value, None),
                    ValueSource::Bundle { path, key } => {
                        (path, FileKind::Bundle, Some(key.clone()))
                    }
                };
                let file = *index.entry((path.clone(), kind)).or_insert_with(|| {
                    files.push((path.clone(), kind));
                    files.len() - 1
                });
                let key = ValueKey {
                    account: account.label.clone(),
                    store: store.name.clone(),
                    secret: name.clone(),
                };
                uses.push((key, file, bundle_key));
            }
        }
    }

    let opened = parallel_map(&files, threads, |(path, kind)| match kind {
        FileKind::Value => decrypt_text(path, ids, MAX_SEALED_VALUE_FILE_BYTES).map(Opened::Value),
        FileKind::Bundle => load_bundle(path, ids).map(Opened::Bundle),
    });

    let mut values = UnsealedValues::new();
    let mut problems = Vec::new();
    for (key, file, bundle_key) in uses {
        let result = match (&opened[file], &bundle_key) {
            (Err(kind), _) => Err(kind.clone()),
            (Ok(Opened::Value(value)), _) => Ok(value.clone()),
            (Ok(Opened::Bundle(bundle)), Some(bkey)) => bundle
                .get(bkey)
                .cloned()
                .ok_or(ProblemKind::MissingBundleKey),
            // A bundle is only opened for secrets that name a key in it.
            (Ok(Opened::Bundle(_)), None) => Err(ProblemKind::MissingBundleKey),
        };
        let mut push = |kind: ProblemKind| {
            problems.push(ValueProblem {
                secret: key.clone(),
                file: files[file].0.clone(),
                bundle_key: bundle_key.clone(),
                kind,
            })
        };
        match result {
            Err(kind) => push(kind),
            Ok(value) => match size_problem(&value) {
                // An empty value is no value; an oversize one stays beside its problem, so
                // the planner can name it as a plan problem.
                Some(ProblemKind::Empty) => push(ProblemKind::Empty),
                Some(kind) => {
                    push(kind);
                    values.insert(key, value);
                }
                None => {
                    values.insert(key, value);
                }
            },
        }
    }
    (values, problems)
}

/// What a value path holds: one value, or a bundle of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum FileKind {
    Value,
    Bundle,
}

/// A decrypted file.
enum Opened {
    Value(SecretValue),
    Bundle(Bundle),
}

/// `f` over `items` on at most `threads` scoped threads, each taking the next item as it
/// finishes one; the results come back in the order of `items`. A panic in `f` is carried
/// over to the caller.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            break mine;
                        };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The checks of `check --decrypt`: every problem [`unseal_all`] finds, values dropped at once.
pub fn check_values(desired: &Desired, ids: &Identities) -> Vec<ValueProblem> {
    unseal_all(desired, ids).1
}

fn size_problem(value: &SecretValue) -> Option<ProblemKind> {
    value_size_problem(value.len()).map(|problem| match problem {
        ValueSizeProblem::Empty => ProblemKind::Empty,
        ValueSizeProblem::TooLarge { bytes } => ProblemKind::TooLarge { bytes },
    })
}

fn decrypt_text(path: &Path, ids: &Identities, limit: u64) -> Result<SecretValue, ProblemKind> {
    let bytes = unseal_file(path, ids, limit).map_err(|e| ProblemKind::Unreadable(e.reason()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ProblemKind::NotUtf8)?;
    Ok(SecretValue::new(text.to_string()))
}

fn load_bundle(path: &Path, ids: &Identities) -> Result<Bundle, ProblemKind> {
    let format = BundleFormat::of(path).ok_or(ProblemKind::UnknownBundleFormat)?;
    let text = decrypt_text(path, ids, MAX_BUNDLE_FILE_BYTES)?;
    bundle::parse(text.expose_secret(), format)
        .map_err(|e| ProblemKind::BundleSyntax(e.to_string()))
}
