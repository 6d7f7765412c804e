//! Writing a new manifest: the skeleton `cfsecrets init` writes, and the manifest
//! `cfsecrets import` writes for what is live in one account. The editor of an existing
//! manifest is [`super::edit`]; both write YAML through [`super::yaml`].
//!
//! Pure and deterministic: no dates, no file system; the caller says whether a schema is
//! there to point at and hands over the live secrets already split from their markers.

use crate::domain::{AccountId, Scope, SecretName};
use crate::manifest::yaml::{yaml_scopes, yaml_str};
use crate::text::{secret_shape, unless_secret};

/// Where `init` puts the recipients file and the fingerprint key, beside the manifest; the
/// manifests written here reference the same paths.
pub const RECIPIENTS_FILE: &str = ".age-recipients";
pub const FINGERPRINT_KEY: &str = "keys/fingerprint.age";
/// The manifest's JSON Schema, relative to the manifest, when the project carries it.
pub const SCHEMA_PATH: &str = "schemas/manifest.schema.json";

/// The skeleton `init` writes: one account `default` with the store
/// `default_secrets_store` and no secrets yet. With `schema`, a first line points editors at
/// [`SCHEMA_PATH`].
pub fn skeleton(account_id: Option<&AccountId>, schema: bool) -> String {
    let mut text = String::new();
    if schema {
        text.push_str(&format!("# yaml-language-server: $schema={SCHEMA_PATH}\n"));
    }
    text.push_str(&format!(
        "# cfsecrets manifest. Paths are relative to this file.\n\
         version: 1\n\
         recipients_file: {RECIPIENTS_FILE}\n\
         fingerprint_key: {FINGERPRINT_KEY}\n\
         defaults:\n\
         \x20 scopes: [workers]\n\
         accounts:\n\
         \x20 default:\n"
    ));
    match account_id {
        Some(id) => text.push_str(&format!("    account_id: {id}\n")),
        None => text.push_str(
            "    # account_id: 0123456789abcdef0123456789abcdef   # else CLOUDFLARE_ACCOUNT_ID\n",
        ),
    }
    text.push_str(
        "    stores:\n\
         \x20     default_secrets_store:\n\
         \x20       secrets: {}   # `cfsecrets secret set NAME --account default` adds entries here\n",
    );
    text
}

/// One live secret to import, as the live snapshot has it, its comment already split from
/// the ownership marker.
#[derive(Clone, Debug)]
pub struct ImportedSecret<'a> {
    pub name: &'a str,
    pub id: &'a str,
    /// Wire spellings, sorted.
    pub scopes: Vec<&'a str>,
    /// The user's comment (the marker removed).
    pub comment: String,
    /// The marker says the secret is protected.
    pub protect: bool,
}

/// One live store to import, its secrets sorted by name.
#[derive(Clone, Debug)]
pub struct ImportedStore<'a> {
    pub name: &'a str,
    pub secrets: Vec<ImportedSecret<'a>>,
}

/// What [`imported`] wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub stores: usize,
    pub secrets: usize,
    /// Secrets written as comments only.
    pub skipped: usize,
    /// Live comments left out because they look like a secret someone pasted into them.
    pub comments_left_out: usize,
}

/// The manifest for `stores` of one account, each secret with `value: keep`. A secret the
/// manifest cannot express (a name outside its rule or that looks like a secret, no scopes,
/// an unknown scope) is written as a comment with the reason, so the file still passes
/// `cfsecrets check`; so is a live comment that looks like a secret pasted into it, which is
/// left out unshown.
pub fn imported(
    label: &str,
    account_id: &AccountId,
    stores: &[ImportedStore<'_>],
) -> (String, ImportCounts) {
    let mut counts = ImportCounts::default();
    let mut text = String::new();
    text.push_str(&format!(
        "# Imported by `cfsecrets import` from account {account_id}.\n\
         # Every secret has `value: keep`: cfsecrets manages its scopes and comment and never\n\
         # reads or writes its value. To manage a value, run `cfsecrets secret set NAME \
         --account {label}`.\n\
         version: 1\n\
         recipients_file: {RECIPIENTS_FILE}\n\
         fingerprint_key: {FINGERPRINT_KEY}\n\
         accounts:\n  {}:\n    account_id: {account_id}\n    stores:\n",
        yaml_str(label)
    ));
    for store in stores {
        counts.stores += 1;
        text.push_str(&format!("      {}:\n", yaml_str(store.name)));
        text.push_str("        prune: owned\n");
        let mut body = String::new();
        for secret in &store.secrets {
            match expressible(secret) {
                Ok(scopes) => {
                    counts.secrets += 1;
                    if secret_shape(&secret.comment).is_some() {
                        counts.comments_left_out += 1;
                    }
                    body.push_str(&entry(secret, &scopes));
                }
                Err(reason) => {
                    counts.skipped += 1;
                    body.push_str(&format!(
                        "          # not imported: {} (id {}): {reason}\n",
                        crate::text::printable(&unless_secret(secret.name)),
                        secret.id
                    ));
                }
            }
        }
        if counts.secrets == 0 && body.is_empty() {
            text.push_str("        secrets: {}\n");
        } else {
            text.push_str("        secrets:\n");
            text.push_str(&body);
            if !body.lines().any(|l| !l.trim_start().starts_with('#')) {
                // Only comments: an empty map still needs a value.
                text.push_str("          {}\n");
            }
        }
    }
    (text, counts)
}

/// The secret's scopes when the manifest can express it, else why not.
fn expressible(secret: &ImportedSecret<'_>) -> Result<Vec<Scope>, String> {
    if let Some(shape) = secret_shape(secret.name) {
        return Err(format!("its name looks like {}", shape.noun()));
    }
    if SecretName::parse(secret.name).is_err() {
        return Err("its name is not one cfsecrets accepts".to_string());
    }
    if secret.scopes.is_empty() {
        return Err("it has no scopes".to_string());
    }
    secret
        .scopes
        .iter()
        .map(|s| Scope::from_wire(s).ok_or_else(|| format!("unknown scope {s}")))
        .collect()
}

/// One `value: keep` entry.
fn entry(secret: &ImportedSecret<'_>, scopes: &[Scope]) -> String {
    let mut text = format!("          {}:\n", yaml_str(secret.name));
    text.push_str("            value: keep\n");
    text.push_str(&format!("            scopes: {}\n", yaml_scopes(scopes)));
    if let Some(shape) = secret_shape(&secret.comment) {
        // Not carried into a file that may be committed; the next apply removes it live.
        text.push_str(&format!(
            "            # comment left out: it looks like {}\n",
            shape.noun()
        ));
    } else if !secret.comment.is_empty() {
        text.push_str(&format!(
            "            comment: {}\n",
            yaml_str(&secret.comment)
        ));
    }
    if secret.protect {
        text.push_str("            protect: true\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::read_as_written;
    use std::path::Path;

    #[test]
    fn the_skeleton_is_readable_by_the_manifest_reader() {
        let text = skeleton(None, false);
        let raw = read_as_written(Path::new("d/cfsecrets.yaml"), &text).unwrap();
        assert_eq!(
            Path::new("d").join(&raw.fingerprint_key.value),
            Path::new("d/keys/fingerprint.age")
        );
        let store = raw
            .account("default")
            .and_then(|a| a.store("default_secrets_store"))
            .unwrap();
        assert!(store.secrets.value.is_empty());
        assert!(raw.broken.0.is_empty());
        assert!(!text.contains("yaml-language-server"));
        let id = AccountId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let with = skeleton(Some(&id), true);
        assert!(with.starts_with("# yaml-language-server: $schema=schemas/manifest.schema.json\n"));
        assert!(with.contains("\n    account_id: 0123456789abcdef0123456789abcdef\n"));
    }

    fn secret<'a>(name: &'a str, scopes: &[&'a str], comment: &str) -> ImportedSecret<'a> {
        ImportedSecret {
            name,
            id: "id-1",
            scopes: scopes.to_vec(),
            comment: comment.to_string(),
            protect: false,
        }
    }

    #[test]
    fn an_import_writes_keep_entries_and_comments_out_what_it_cannot_express() {
        let id = AccountId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let mut kept = secret("API_KEY", &["ai_gateway", "workers"], "made: by hand");
        kept.protect = true;
        let stores = [
            ImportedStore {
                name: "main",
                secrets: vec![
                    kept,
                    secret("bad name\x1b", &["workers"], ""),
                    secret("NO_SCOPES", &[], ""),
                    secret("ODD", &["kv"], ""),
                ],
            },
            ImportedStore {
                name: "empty",
                secrets: vec![],
            },
        ];
        let (text, counts) = imported("prod", &id, &stores);
        assert_eq!(
            counts,
            ImportCounts {
                stores: 2,
                secrets: 1,
                skipped: 3,
                comments_left_out: 0,
            }
        );
        let body = text.split_once("    stores:\n").unwrap().1;
        let expected = [
            "      main:",
            "        prune: owned",
            "        secrets:",
            "          API_KEY:",
            "            value: keep",
            "            scopes: [ai_gateway, workers]",
            "            comment: \"made: by hand\"",
            "            protect: true",
            "          # not imported: bad name\\u{1b} (id id-1): its name is not one cfsecrets accepts",
            "          # not imported: NO_SCOPES (id id-1): it has no scopes",
            "          # not imported: ODD (id id-1): unknown scope kv",
            "      empty:",
            "        prune: owned",
            // The count of written secrets runs over all stores, so a later empty store is
            // opened as a block holding `{}` (kept byte for byte from the first writer).
            "        secrets:",
            "          {}",
            "",
        ];
        assert_eq!(body, expected.join("\n"));
        let raw = read_as_written(Path::new("m.yaml"), &text).unwrap();
        assert!(raw.broken.0.is_empty());
    }

    #[test]
    fn an_import_never_writes_what_looks_like_a_secret() {
        let id = AccountId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let token = "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq";
        let stores = [ImportedStore {
            name: "main",
            secrets: vec![
                secret("API_KEY", &["workers"], &format!("pasted {token} here")),
                secret(token, &["workers"], ""),
            ],
        }];
        let (text, counts) = imported("prod", &id, &stores);
        assert!(!text.contains("Xk4v"), "{text}");
        assert_eq!(
            (counts.secrets, counts.skipped, counts.comments_left_out),
            (1, 1, 1)
        );
        assert!(
            text.contains("            # comment left out: it looks like an API token\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# not imported: <not shown: it looks like an API token> (id id-1): its name \
                 looks like an API token"
            ),
            "{text}"
        );
    }
}
