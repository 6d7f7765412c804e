//! `cfsecrets secret rm NAME`: take an entry out of the manifest (deleting its value file
//! when no other entry uses it), or with `--absent` turn it into `ensure: absent`. The same
//! comment-preserving text edit and the same judgement of the edit as `secret set`; the
//! manifest is written first, then the file is deleted and forgotten by the seal index.
//! A bundle is never deleted: other keys in it may be in use.

use std::path::Path;

use anyhow::Context as _;

use crate::cli::SecretRmArgs;
use crate::commands::context::Context;
use crate::commands::editing::target_error;
use crate::commands::{Status, UsageError};
use crate::manifest::edit::{EntryAt, remove_entry, resolve_store, set_absent};
use crate::manifest::raw::{Ensure, RawSecret, RawValue};
use crate::manifest::validate::escape_problem;
use crate::manifest::{Prune, RealFs, base_dir_of, read_as_written};
use crate::values::index::{SealIndex, index_key};

pub(super) async fn run(cx: &mut Context<'_>, args: &SecretRmArgs) -> anyhow::Result<Status> {
    let manifest_path = cx.global.manifest.clone();
    let (text, raw) = cx.read_for_edit()?;
    let (account, store) = resolve_store(
        &raw,
        &manifest_path,
        &args.at.account,
        args.at.store.as_deref(),
    )
    .map_err(target_error)?;
    let name = args.name.as_str();
    let at = EntryAt {
        account: &args.at.account,
        store: &store,
        name,
    };
    let raw_store = account.store(&store);
    let Some(entry) = raw_store.and_then(|s| s.secret(name)) else {
        return Err(UsageError(format!(
            "{}/{store} has no secret {name} in {}",
            args.at.account,
            manifest_path.display()
        ))
        .into());
    };
    let shown = format!("{}/{store}/{name}", args.at.account);
    if args.absent && is_absent(entry) {
        cx.out.print(&format!(
            "{shown} is already `ensure: absent`; nothing to do"
        ))?;
        return Ok(Status::Success);
    }
    let edited = if args.absent {
        set_absent(&text, at)
    } else {
        remove_entry(&text, at)
    }
    .with_context(|| format!("cannot edit {}", manifest_path.display()))?;
    cx.judge_edit(&text, &edited, &[])?;
    let value = entry.value.as_ref().map(|v| &v.value);
    let protected = entry.protect.as_ref().is_some_and(|p| p.value);
    let prune = raw_store.and_then(|s| s.prune).unwrap_or_default();
    cx.write_manifest(&edited)?;

    let manifest = manifest_path.display();
    if args.absent {
        cx.out.print(&format!(
            "marked {shown} `ensure: absent` in {manifest}: the next apply deletes it from Cloudflare"
        ))?;
    } else {
        cx.out.print(&format!("removed {shown} from {manifest}"))?;
    }
    forget_value(cx, &edited, value)?;
    if protected {
        cx.out.warn(&format!(
            "{shown} had `protect: true`: the live secret keeps its protection, so apply does \
             not delete it until a plan has removed that protection"
        ))?;
    } else if !args.absent {
        cx.out.status(&remote_note(&shown, prune))?;
    }
    Ok(Status::Success)
}

fn is_absent(entry: &RawSecret) -> bool {
    entry
        .ensure
        .as_ref()
        .is_some_and(|e| e.value == Ensure::Absent)
}

/// What the next apply does to the live secret once its entry is gone.
fn remote_note(shown: &str, prune: Prune) -> String {
    let what = match prune {
        Prune::Owned => {
            "deletes the live secret if cfsecrets wrote it (`prune: owned`); pass --absent \
             to have it deleted whoever wrote it"
        }
        Prune::All => "deletes the live secret (`prune: all`)",
        Prune::None => {
            "leaves the live secret in place (`prune: none`); pass --absent to have it deleted"
        }
    };
    format!("note: for {shown}, the next apply {what}")
}

/// After the entry is gone: its value file is deleted and dropped from the seal index when
/// the edited manifest no longer names it anywhere (and it stays inside the project); a
/// bundle is only reported as kept.
fn forget_value(
    cx: &mut Context<'_>,
    edited: &str,
    value: Option<&RawValue>,
) -> anyhow::Result<()> {
    let dir = cx.manifest_dir();
    // Text that is not a sealed file's path (`keep`, nothing, or perhaps a value pasted in
    // by mistake) names no file: nothing to delete, and nothing to show.
    let Some(sealed) = value.and_then(RawValue::sealed_file) else {
        return Ok(());
    };
    let path = match value {
        Some(RawValue::Bundle(b)) => {
            let bundle = dir.join(sealed).display().to_string();
            return Ok(cx.out.print(&format!(
                "kept the bundle {bundle} (key {} is still in it): a bundle is never deleted, \
                 only the reference to it",
                crate::text::clipped(&b.key, 60)
            ))?);
        }
        _ => sealed,
    };
    let file = dir.join(path);
    let manifest_path = cx.global.manifest.clone();
    let edited_raw = read_as_written(&manifest_path, edited)
        .map_err(|d| anyhow::anyhow!("cannot read the edited manifest: {d}"))?;
    let base_dir = base_dir_of(&manifest_path);
    if edited_raw.names_file(path) {
        cx.out
            .print(&format!("kept {} (another entry uses it)", file.display()))?;
    } else if escape_problem(path, &base_dir, &RealFs).is_some() || !file.is_file() {
        cx.out.status(&format!(
            "note: {} was not deleted (not a file inside the project)",
            file.display()
        ))?;
    } else {
        std::fs::remove_file(&file).with_context(|| format!("cannot delete {}", file.display()))?;
        forget_in_index(&dir, &file)?;
        cx.out.print(&format!("deleted {}", file.display()))?;
    }
    Ok(())
}

fn forget_in_index(dir: &Path, file: &Path) -> anyhow::Result<()> {
    let mut index = SealIndex::load(dir)?;
    if index.files.remove(&index_key(dir, file)).is_some() {
        index.save(dir)?;
    }
    Ok(())
}
