//! `cfsecrets import`: writes a manifest for what is live in one account, with `value: keep`
//! on every secret, so a team can adopt existing secrets and add values later.
//!
//! The manifest carries each secret's scopes, the user's comment (the ownership marker split
//! off) and `protect: true` where the marker says so. It references the conventional
//! `.age-recipients` and `keys/fingerprint.age` (what `cfsecrets init` writes); when they do
//! not exist beside the output, the command says how to create them. Live secrets the manifest
//! cannot express (a name outside `[A-Za-z0-9_-]`, no scopes, an unknown scope) are written as
//! YAML comments with the reason, so the file still passes `cfsecrets check`.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::ImportArgs;
use crate::commands::Status;
use crate::commands::context::{Context, check_out_dir};
use crate::live::{self, LiveAccount, LiveStore};
use crate::manifest::write::{
    self, FINGERPRINT_KEY, ImportCounts, ImportedSecret, ImportedStore, RECIPIENTS_FILE,
};
use crate::output::Output;
use crate::text::count;

/// The live stores as the manifest writer takes them: each comment split from its marker.
fn to_import<'a>(stores: &[&'a LiveStore]) -> Vec<ImportedStore<'a>> {
    stores
        .iter()
        .map(|store| ImportedStore {
            name: &store.name,
            secrets: store
                .secrets
                .iter()
                .map(|secret| ImportedSecret {
                    name: &secret.name,
                    id: secret.id.as_str(),
                    scopes: secret.scopes.iter().map(String::as_str).collect(),
                    comment: secret.comment.user().to_string(),
                    protect: secret.comment.marker().is_some_and(|m| m.protect),
                })
                .collect(),
        })
        .collect()
}

pub(super) async fn run(cx: &mut Context<'_>, args: &ImportArgs) -> anyhow::Result<Status> {
    let account_id = &args.account;
    if let Some(path) = &args.out {
        check_out_dir(path)?;
        if path.exists() {
            anyhow::bail!("{} already exists; import never overwrites", path.display());
        }
    }
    let client = cx.client(&args.api)?;
    cx.out.status(&format!("reading account {account_id}"))?;
    let live = cx
        .paced(
            &client,
            live::fetch(&client, std::slice::from_ref(account_id)),
        )
        .await
        .context("cannot read the live state")?;
    let account = live.accounts.first().context("the account was not read")?;
    let stores = chosen_stores(account, args.store.as_deref())?;
    let (text, counts) = write::imported(&args.label, account_id, &to_import(&stores));
    match &args.out {
        None => cx.out.print(&text).context("cannot write to stdout")?,
        Some(path) => write_new(cx.out, path, &text, &counts)?,
    }
    if counts.skipped > 0 {
        cx.out.warn(&format!(
            "{} could not be expressed and {} left as comments",
            count(counts.skipped, "live secret", "live secrets"),
            if counts.skipped == 1 { "is" } else { "are" }
        ))?;
    }
    if counts.comments_left_out > 0 {
        cx.out.warn(&format!(
            "{} looked like a secret pasted into it and {} left out unshown; the next apply \
             removes {} from Cloudflare unless the manifest gives {} one",
            count(counts.comments_left_out, "live comment", "live comments"),
            if counts.comments_left_out == 1 {
                "was"
            } else {
                "were"
            },
            if counts.comments_left_out == 1 {
                "it"
            } else {
                "them"
            },
            if counts.comments_left_out == 1 {
                "the secret"
            } else {
                "those secrets"
            },
        ))?;
    }
    note_missing_files(cx.out, args.out.as_deref())?;
    Ok(Status::Success)
}

/// The stores to import: the one named by `--store`, else every store of the account.
fn chosen_stores<'a>(
    account: &'a LiveAccount,
    name: Option<&str>,
) -> anyhow::Result<Vec<&'a LiveStore>> {
    let account_id = &account.account_id;
    let stores: Vec<&LiveStore> = match name {
        Some(name) => vec![account.store(name).with_context(|| {
            let names: Vec<&str> = account.stores.iter().map(|s| s.name.as_str()).collect();
            format!(
                "store {name} not found in account {account_id} (it holds: {})",
                if names.is_empty() {
                    "no stores".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?],
        None => account.stores.iter().collect(),
    };
    if stores.is_empty() {
        anyhow::bail!("account {account_id} holds no secrets store; nothing to import");
    }
    Ok(stores)
}

/// Writes the manifest to `path`, which must not exist yet.
fn write_new(
    out: &mut Output,
    path: &Path,
    text: &str,
    counts: &ImportCounts,
) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.status(&format!(
        "wrote {}: {} in {}, each with `value: keep`",
        path.display(),
        count(counts.secrets, "secret", "secrets"),
        count(counts.stores, "store", "stores")
    ))?;
    Ok(())
}

/// Says how to create the recipients file and the fingerprint key the manifest references,
/// when they do not exist beside it.
fn note_missing_files(out: &mut Output, manifest: Option<&Path>) -> anyhow::Result<()> {
    let base = manifest
        .map(crate::fs::dir_of)
        .unwrap_or_else(|| Path::new(".").to_path_buf());
    let missing: Vec<&str> = [RECIPIENTS_FILE, FINGERPRINT_KEY]
        .into_iter()
        .filter(|f| !base.join(f).exists())
        .collect();
    if !missing.is_empty() {
        out.status(&format!(
            "note: the manifest references {} which {} not exist yet; create them with \
             `cfsecrets init --generate-identity FILE` in an empty directory (or reuse a \
             project's), then `cfsecrets check`",
            missing.join(" and "),
            if missing.len() == 1 { "does" } else { "do" }
        ))?;
    }
    Ok(())
}
