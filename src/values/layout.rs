//! Which sealed files a validated manifest uses: the fingerprint key, then every value file
//! and bundle, each once. `plan` and `reseal` take the list from here. Reading the manifest
//! itself is the manifest room's business (`crate::manifest`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::manifest::{Desired, DesiredSecret, ValueSource};

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
    use std::path::Path;

    use super::*;
    use crate::manifest::FileCheck;

    struct AllFiles;
    impl FileCheck for AllFiles {
        fn is_file(&self, _: &Path) -> bool {
            true
        }
    }

    const MANIFEST: &str = r#"# top comment
version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults: { scopes: [workers] }
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
    account_id: fedcba9876543210fedcba9876543210
    stores:
      s: { secrets: {} }
"#;

    #[test]
    fn lists_each_sealed_file_once_fingerprint_key_first() {
        let path = Path::new("repo/cfsecrets.yaml");
        let (desired, warnings) =
            crate::manifest::parse(path, MANIFEST, Path::new("repo"), None, &AllFiles)
                .into_result()
                .unwrap();
        assert!(warnings.is_empty(), "{warnings}");
        assert_eq!(
            sealed_files_of(&desired),
            vec![
                PathBuf::from("repo/keys/fingerprint.age"),
                PathBuf::from("repo/values/production.env.age"),
                PathBuf::from("repo/values/production/STRIPE_KEY.age"),
            ]
        );
    }
}
