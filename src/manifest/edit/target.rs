//! Which entry an edit targets: `secret set NAME --account A [--store S]` resolved on the
//! manifest as written ([`RawManifest`], read even when other parts have problems) into the
//! account, the store, whether the entry exists, and the value file to seal to.
//!
//! Pure: the manifest is already read, and nothing here touches a file.

use std::path::{Path, PathBuf};

use crate::domain::{Scope, SecretName, check_label};
use crate::manifest::FileCheck;
use crate::manifest::raw::{Ensure, RawAccount, RawManifest, RawValue};
use crate::manifest::validate::escape_problem;

use super::text::{EntryUpdate, EntryValue};

/// What the caller asks for.
#[derive(Clone, Copy, Debug)]
pub struct EntryRequest<'a> {
    /// The account label.
    pub account: &'a str,
    /// The store; may be left out when the account has one store.
    pub store: Option<&'a str>,
    pub name: &'a SecretName,
    /// Scopes are given for the entry (else a new entry needs `defaults.scopes`).
    pub scopes_given: bool,
    /// The value goes into this bundle (relative to the manifest's directory) under the
    /// secret's name, whatever the entry's source was; `None`: a value file.
    pub bundle: Option<&'a str>,
}

/// Where the edit goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryTarget {
    pub account: String,
    pub store: String,
    pub name: SecretName,
    /// The entry is already declared (its other keys are kept).
    pub exists: bool,
    /// The file the value is sealed into, relative to the manifest's directory,
    /// `/`-separated: the requested bundle; else the entry's own path, or
    /// `values/<account>/<store>/<NAME>.age` for a new entry or one with `keep`.
    pub value_path: String,
    /// The value is the key of this name in the bundle `value_path`.
    pub in_bundle: bool,
    /// The recipients file as the manifest writes it (relative to its directory).
    pub recipients_file: PathBuf,
}

/// Why an edit cannot target the entry. [`TargetError::is_usage`] tells a mistake in how
/// the command was called from a manifest that does not allow the edit.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no account {account:?} in {} (accounts: {})", manifest.display(), listed(labels))]
    UnknownAccount {
        account: String,
        manifest: PathBuf,
        labels: Vec<String>,
    },
    #[error("account {account:?} has no store {store:?}")]
    UnknownStore { account: String, store: String },
    #[error(
        "account {account:?} has {} stores; choose one with --store ({})",
        stores.len(),
        listed(stores)
    )]
    StoreNeeded {
        account: String,
        stores: Vec<String>,
    },
    #[error("{account}/{store}/{name} is declared `ensure: absent`; remove that line first")]
    DeclaredAbsent {
        account: String,
        store: String,
        name: SecretName,
    },
    #[error(
        "{account}/{store}/{name} takes its value from bundle {}; edit the bundle instead",
        crate::text::clipped(.bundle, 60)
    )]
    InBundle {
        account: String,
        store: String,
        name: SecretName,
        bundle: String,
    },
    #[error(
        "cannot derive a file name from `{}`; add the entry with a value path by hand",
        crate::text::clipped(.part, 60)
    )]
    NoDefaultPath { part: String },
    #[error(
        "{name} is new and the manifest has no defaults.scopes; pass --scopes (e.g. --scopes workers)"
    )]
    ScopesNeeded { name: SecretName },
    #[error("{} has no readable `recipients_file`; run `cfsecrets check`", manifest.display())]
    NoRecipientsFile { manifest: PathBuf },
    /// The value file to write, or the recipients file to read, is outside the project.
    #[error("{what} `{}` {problem}; nothing was written", crate::text::clipped(.path, 60))]
    Outside {
        what: &'static str,
        path: String,
        problem: &'static str,
    },
}

/// Labels or store names read from the manifest as written (not yet validated), listed in a
/// message: each cleaned and clipped, and not shown at all when it looks like a secret.
fn listed(names: &[String]) -> String {
    names
        .iter()
        .map(|n| crate::text::clipped(n, 60))
        .collect::<Vec<_>>()
        .join(", ")
}

impl TargetError {
    /// The command was called wrongly (exit 64), rather than the manifest refusing the edit.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            TargetError::UnknownAccount { .. }
                | TargetError::UnknownStore { .. }
                | TargetError::StoreNeeded { .. }
                | TargetError::ScopesNeeded { .. }
        )
    }
}

impl EntryTarget {
    /// Resolves `request` on `raw`, the manifest read from `manifest` (named in messages).
    /// Checks in the order a user fixes them: account, store, the entry's own value, scopes,
    /// then the recipients file.
    pub fn resolve(
        raw: &RawManifest,
        manifest: &Path,
        request: EntryRequest<'_>,
    ) -> Result<EntryTarget, TargetError> {
        let account_label = request.account.to_string();
        let (account, store) = resolve_store(raw, manifest, request.account, request.store)?;
        let name = request.name.clone();
        let existing = account.store(&store).and_then(|s| s.secret(name.as_str()));
        if existing
            .and_then(|e| e.ensure.as_ref())
            .is_some_and(|e| e.value == Ensure::Absent)
        {
            return Err(TargetError::DeclaredAbsent {
                account: account_label,
                store,
                name,
            });
        }
        // The entry's own sealed file is kept; `keep`, nothing, or text that is not a sealed
        // file's path (perhaps a value pasted in by mistake, never used as a file name) gives
        // way to the default path.
        let source = existing.and_then(|e| e.value.as_ref()).map(|v| &v.value);
        let sealed = source.and_then(|v| Some((v, v.sealed_file()?)));
        let value_path = match (request.bundle, sealed) {
            (Some(bundle), _) => bundle.to_string(),
            (None, Some((RawValue::Bundle(_), bundle))) => {
                return Err(TargetError::InBundle {
                    account: account_label,
                    store,
                    name,
                    bundle: bundle.to_string(),
                });
            }
            (None, Some((RawValue::Path(_), path))) => path.to_string(),
            (None, None) => default_value_path(&account_label, &store, &name)?,
        };
        let has_default_scopes = raw.defaults.as_ref().is_some_and(|d| d.scopes.is_some());
        if existing.is_none() && !request.scopes_given && !has_default_scopes {
            return Err(TargetError::ScopesNeeded { name });
        }
        if raw.broken.has("recipients_file") {
            return Err(TargetError::NoRecipientsFile {
                manifest: manifest.to_path_buf(),
            });
        }
        Ok(EntryTarget {
            account: account_label,
            store,
            name,
            exists: existing.is_some(),
            value_path,
            in_bundle: request.bundle.is_some(),
            recipients_file: PathBuf::from(&raw.recipients_file.value),
        })
    }

    /// Refuses a value file or recipients file outside the manifest's directory `base_dir`
    /// (absolute, `..`, or through a symbolic link): `secret set` reads the one and writes
    /// the other.
    pub fn check_paths(&self, base_dir: &Path, fs: &dyn FileCheck) -> Result<(), TargetError> {
        let recipients = self.recipients_file.to_string_lossy();
        for (what, path) in [
            ("value file", self.value_path.as_str()),
            ("recipients file", recipients.as_ref()),
        ] {
            if let Some(problem) = escape_problem(path, base_dir, fs) {
                return Err(TargetError::Outside {
                    what,
                    path: path.to_string(),
                    problem,
                });
            }
        }
        Ok(())
    }

    /// The text edit for this target: its value path, and `scopes` and `comment` when given.
    pub fn update<'a>(
        &'a self,
        scopes: Option<&'a [Scope]>,
        comment: Option<&'a str>,
    ) -> EntryUpdate<'a> {
        let value = if self.in_bundle {
            EntryValue::Bundle {
                bundle: &self.value_path,
                key: self.name.as_str(),
            }
        } else {
            EntryValue::File(&self.value_path)
        };
        EntryUpdate {
            account: &self.account,
            store: &self.store,
            name: self.name.as_str(),
            value,
            scopes,
            comment,
        }
    }
}

/// The account and store `--account` and `--store` name on the manifest as written: the
/// given store, or the account's only one.
pub fn resolve_store<'m>(
    raw: &'m RawManifest,
    manifest: &Path,
    account: &str,
    store: Option<&str>,
) -> Result<(&'m RawAccount, String), TargetError> {
    let found = raw
        .account(account)
        .ok_or_else(|| TargetError::UnknownAccount {
            account: account.to_string(),
            manifest: manifest.to_path_buf(),
            labels: raw.accounts.value.keys().map(str::to_string).collect(),
        })?;
    let stores = &found.stores.value;
    let store = match store {
        Some(s) if found.store(s).is_some() => s.to_string(),
        Some(s) => {
            return Err(TargetError::UnknownStore {
                account: account.to_string(),
                store: s.to_string(),
            });
        }
        None if stores.len() == 1 => stores.keys().next().unwrap_or_default().to_string(),
        None => {
            return Err(TargetError::StoreNeeded {
                account: account.to_string(),
                stores: stores.keys().map(str::to_string).collect(),
            });
        }
    };
    Ok((found, store))
}

/// `values/<account>/<store>/<NAME>.age`, refusing labels that are not one plain path
/// segment (the manifest's own label rule).
fn default_value_path(
    account: &str,
    store: &str,
    name: &SecretName,
) -> Result<String, TargetError> {
    for part in [account, store] {
        if check_label(part).is_err() {
            return Err(TargetError::NoDefaultPath {
                part: part.to_string(),
            });
        }
    }
    Ok(format!("values/{account}/{store}/{name}.age"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::read_as_written;

    const TEXT: &str = "\
version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
accounts:
  prod:
    stores:
      main:
        secrets:
          FILE: { value: values/custom.age }
          KEPT: { value: keep }
          GONE: { ensure: absent }
          BUNDLED: { value: { bundle: b.env.age, key: K } }
  multi:
    stores:
      one: { secrets: {} }
      two: { secrets: {} }
";

    fn resolve(account: &str, store: Option<&str>, name: &str) -> Result<EntryTarget, TargetError> {
        let raw = read_as_written(Path::new("m.yaml"), TEXT).unwrap();
        let name = SecretName::parse(name).unwrap();
        EntryTarget::resolve(
            &raw,
            Path::new("m.yaml"),
            EntryRequest {
                account,
                store,
                name: &name,
                scopes_given: true,
                bundle: None,
            },
        )
    }

    #[test]
    fn an_entry_keeps_its_own_path_and_a_new_or_kept_one_gets_the_default() {
        let t = resolve("prod", None, "FILE").unwrap();
        assert_eq!((t.store.as_str(), t.exists), ("main", true));
        assert_eq!(t.value_path, "values/custom.age");
        assert_eq!(t.recipients_file, Path::new(".age-recipients"));
        let t = resolve("prod", Some("main"), "KEPT").unwrap();
        assert_eq!(t.value_path, "values/prod/main/KEPT.age");
        let t = resolve("prod", None, "NEW").unwrap();
        assert!(!t.exists);
        assert_eq!(t.value_path, "values/prod/main/NEW.age");
    }

    #[test]
    fn what_cannot_be_targeted_says_why_and_whether_it_is_usage() {
        let cases: [(&str, Option<&str>, &str, &str, bool); 5] = [
            (
                "nope",
                None,
                "A",
                "no account \"nope\" in m.yaml (accounts: prod, multi)",
                true,
            ),
            (
                "prod",
                Some("x"),
                "A",
                "account \"prod\" has no store \"x\"",
                true,
            ),
            (
                "multi",
                None,
                "A",
                "account \"multi\" has 2 stores; choose one with --store (one, two)",
                true,
            ),
            (
                "prod",
                None,
                "GONE",
                "prod/main/GONE is declared `ensure: absent`; remove that line first",
                false,
            ),
            (
                "prod",
                None,
                "BUNDLED",
                "prod/main/BUNDLED takes its value from bundle b.env.age; edit the bundle instead",
                false,
            ),
        ];
        for (account, store, name, message, usage) in cases {
            let err = resolve(account, store, name).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert_eq!(err.is_usage(), usage, "{message}");
        }
    }

    #[test]
    fn paths_outside_the_project_are_refused_before_anything_is_written() {
        struct NoLinks;
        impl FileCheck for NoLinks {
            fn is_file(&self, _: &Path) -> bool {
                false
            }
        }
        let text = TEXT.replace("values/custom.age", "../custom.age").replace(
            "recipients_file: .age-recipients",
            "recipients_file: /etc/r",
        );
        let raw = read_as_written(Path::new("m.yaml"), &text).unwrap();
        let name = SecretName::parse("FILE").unwrap();
        let request = EntryRequest {
            account: "prod",
            store: None,
            name: &name,
            scopes_given: true,
            bundle: None,
        };
        let target = EntryTarget::resolve(&raw, Path::new("m.yaml"), request).unwrap();
        let err = target.check_paths(Path::new("."), &NoLinks).unwrap_err();
        assert_eq!(
            err.to_string(),
            "value file `../custom.age` climbs out of the manifest's directory (`..`); nothing was written"
        );
        assert!(!err.is_usage());
        let new = SecretName::parse("NEW").unwrap();
        let target = EntryTarget::resolve(
            &raw,
            Path::new("m.yaml"),
            EntryRequest {
                name: &new,
                ..request
            },
        )
        .unwrap();
        assert_eq!(
            target
                .check_paths(Path::new("."), &NoLinks)
                .unwrap_err()
                .to_string(),
            "recipients file `/etc/r` must be a path relative to the manifest's directory; nothing was written"
        );
    }

    #[test]
    fn a_new_entry_needs_scopes_from_somewhere() {
        let raw = read_as_written(Path::new("m.yaml"), TEXT).unwrap();
        let name = SecretName::parse("NEW").unwrap();
        let request = EntryRequest {
            account: "prod",
            store: None,
            name: &name,
            scopes_given: false,
            bundle: None,
        };
        let err = EntryTarget::resolve(&raw, Path::new("m.yaml"), request).unwrap_err();
        assert_eq!(err, TargetError::ScopesNeeded { name: name.clone() });
        assert!(err.is_usage());
        // An existing entry keeps its scopes.
        let file = SecretName::parse("FILE").unwrap();
        let request = EntryRequest {
            name: &file,
            ..request
        };
        assert!(EntryTarget::resolve(&raw, Path::new("m.yaml"), request).is_ok());
    }
}
