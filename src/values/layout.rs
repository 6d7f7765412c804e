//! The few manifest fields `secret set` and `reseal` need, read leniently.
//!
//! This is not a validator: unknown keys are ignored and nothing but the shape of these
//! fields is checked (`cfsecrets check` does the real validation). It lets `secret set` find
//! the recipients, the defaults and the existing entries, and `reseal` list every sealed file.
//! [`sealed_files_of`] gives the same file list from a validated [`Desired`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::manifest::{Desired, DesiredSecret, ValueSource};

use super::ValuesError;

#[derive(Debug, Deserialize)]
struct RawManifest {
    recipients_file: String,
    fingerprint_key: String,
    #[serde(default)]
    defaults: Option<RawDefaults>,
    accounts: BTreeMap<String, RawAccount>,
}

#[derive(Debug, Deserialize)]
struct RawDefaults {
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct RawAccount {
    #[serde(default)]
    stores: Option<BTreeMap<String, RawStore>>,
}

#[derive(Debug, Deserialize)]
struct RawStore {
    #[serde(default)]
    secrets: Option<BTreeMap<String, RawSecret>>,
}

#[derive(Debug, Deserialize)]
struct RawSecret {
    #[serde(default)]
    value: Option<RawValue>,
    #[serde(default)]
    ensure: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Path(String),
    Bundle { bundle: String, key: String },
}

/// Where a declared secret's value lives, as written in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutValue {
    Keep,
    /// Path as written (relative to the manifest's directory).
    File(String),
    Bundle {
        bundle: String,
        key: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutSecret {
    pub value: Option<LayoutValue>,
    pub absent: bool,
}

/// The sealing-relevant view of a manifest.
#[derive(Clone, Debug)]
pub struct Layout {
    pub manifest_path: PathBuf,
    pub base_dir: PathBuf,
    pub recipients_file: PathBuf,
    pub fingerprint_key: PathBuf,
    /// `defaults.scopes`, as written (empty when absent).
    pub default_scopes: Vec<String>,
    /// account label → store name → secret name → entry.
    pub accounts: BTreeMap<String, BTreeMap<String, BTreeMap<String, LayoutSecret>>>,
}

impl Layout {
    pub fn read(manifest_path: &Path) -> Result<Layout, ValuesError> {
        let text = std::fs::read_to_string(manifest_path).map_err(|source| ValuesError::Read {
            path: manifest_path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, manifest_path)
    }

    pub fn parse(text: &str, manifest_path: &Path) -> Result<Layout, ValuesError> {
        let raw: RawManifest = serde_saphyr::from_str(text).map_err(|e| ValuesError::Manifest {
            path: manifest_path.to_path_buf(),
            line: e.location().map(|l| l.line() as usize).unwrap_or(0),
            reason: "does not parse; run `cfsecrets check` for details".to_string(),
        })?;
        // An empty parent stays empty, so `base_dir.join(p)` prints as `p`.
        let base_dir = manifest_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let accounts = raw
            .accounts
            .into_iter()
            .map(|(label, account)| {
                let stores = account
                    .stores
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, store)| {
                        let secrets = store
                            .secrets
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(secret, raw)| {
                                let value = raw.value.map(|v| match v {
                                    RawValue::Path(p) if p == "keep" => LayoutValue::Keep,
                                    RawValue::Path(p) => LayoutValue::File(p),
                                    RawValue::Bundle { bundle, key } => {
                                        LayoutValue::Bundle { bundle, key }
                                    }
                                });
                                let absent = raw.ensure.as_deref() == Some("absent");
                                (secret, LayoutSecret { value, absent })
                            })
                            .collect();
                        (name, secrets)
                    })
                    .collect();
                (label, stores)
            })
            .collect();
        Ok(Layout {
            manifest_path: manifest_path.to_path_buf(),
            recipients_file: base_dir.join(&raw.recipients_file),
            fingerprint_key: base_dir.join(&raw.fingerprint_key),
            default_scopes: raw.defaults.and_then(|d| d.scopes).unwrap_or_default(),
            accounts,
            base_dir,
        })
    }

    /// The fingerprint key, then every value file and bundle, each once, resolved.
    pub fn sealed_files(&self) -> Vec<PathBuf> {
        let mut seen = BTreeSet::new();
        let mut files = vec![self.fingerprint_key.clone()];
        seen.insert(self.fingerprint_key.clone());
        for stores in self.accounts.values() {
            for secrets in stores.values() {
                for secret in secrets.values() {
                    let path = match &secret.value {
                        Some(LayoutValue::File(p)) => self.base_dir.join(p),
                        Some(LayoutValue::Bundle { bundle, .. }) => self.base_dir.join(bundle),
                        _ => continue,
                    };
                    if seen.insert(path.clone()) {
                        files.push(path);
                    }
                }
            }
        }
        files
    }
}

/// The fingerprint key, then every value file and bundle a validated manifest uses, each once.
pub fn sealed_files_of(desired: &Desired) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    let mut files = vec![desired.fingerprint_key.clone()];
    seen.insert(desired.fingerprint_key.clone());
    for account in &desired.accounts {
        for store in &account.stores {
            for secret in store.secrets.values() {
                let DesiredSecret::Present(p) = secret else {
                    continue;
                };
                let path = match &p.value {
                    ValueSource::File(path) | ValueSource::Bundle { path, .. } => path.clone(),
                    ValueSource::Keep => continue,
                };
                if seen.insert(path.clone()) {
                    files.push(path);
                }
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"# top comment
version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults: { scopes: [workers] }
unknown_extra: ignored
accounts:
  production:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      default_secrets_store:
        prune: owned
        secrets:
          STRIPE_KEY:
            value: values/production/STRIPE_KEY.age
            scopes: [workers, ai_gateway]
          OPENAI_KEY:
            value: { bundle: values/production.env.age, key: OPENAI_KEY }
          ANTHROPIC_KEY:
            value: { bundle: values/production.env.age, key: ANTHROPIC_KEY }
          SENDGRID_KEY: { renamed_from: SENDGRID_API_KEY, value: keep }
          OLD_TOKEN: { ensure: absent }
  staging:
    stores:
      s: { secrets: {} }
"#;

    #[test]
    fn reads_what_sealing_needs() {
        let l = Layout::parse(MANIFEST, Path::new("repo/cfsecrets.yaml")).unwrap();
        assert_eq!(l.recipients_file, Path::new("repo/.age-recipients"));
        assert_eq!(l.default_scopes, vec!["workers"]);
        let store = &l.accounts["production"]["default_secrets_store"];
        assert_eq!(store["SENDGRID_KEY"].value, Some(LayoutValue::Keep));
        assert!(store["OLD_TOKEN"].absent);
        assert!(l.accounts["staging"]["s"].is_empty());
        let files: Vec<_> = l.sealed_files();
        assert_eq!(
            files,
            vec![
                PathBuf::from("repo/keys/fingerprint.age"),
                PathBuf::from("repo/values/production.env.age"),
                PathBuf::from("repo/values/production/STRIPE_KEY.age"),
            ]
        );
    }
}
