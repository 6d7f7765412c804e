//! `cfsecrets secret set`: seal one value (from stdin or a hidden prompt, never argv) to the
//! manifest's recipients and add or update its manifest entry, keeping the rest of the
//! manifest byte-for-byte. Every check (name, scopes, account, store, the manifest edit and
//! the validation of the edited manifest) runs before the value is read and before anything
//! is written.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::cli::SecretSetArgs;
use crate::commands::context::{Context, recipients_count};
use crate::commands::{Status, UsageError};
use crate::domain::{MAX_VALUE_BYTES, SecretName};
use crate::fs::{WriteOptions, write_atomic};
use crate::manifest::edit::{
    AlsoExisting, EditOutcome, EntryRequest, EntryTarget, check_edit, set_entry,
};
use crate::manifest::raw::RawManifest;
use crate::manifest::{RealFs, base_dir_of};
use crate::manifest::{read_as_written, read_text};
use crate::output::Output;
use crate::text::count;
use crate::values::Recipients;
use crate::values::reseal::seal_and_record;

pub(super) async fn set(cx: &mut Context<'_>, args: &SecretSetArgs) -> anyhow::Result<Status> {
    let scopes = checked_args(args)?;
    let name = &args.name;
    let manifest_path = &cx.global.manifest;
    let (manifest_text, raw) = read_manifest(cx.out, manifest_path)?;
    let target = resolve(&raw, manifest_path, args)?;
    target.check_paths(&base_dir_of(manifest_path), &RealFs)?;
    // Paths in messages stay as the manifest's directory writes them (`values/…` for a
    // manifest in the current directory); validation resolves against `base_dir_of`.
    let dir = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let recipients = Recipients::from_file(&dir.join(&target.recipients_file))?;

    let scopes = (!scopes.is_empty()).then_some(&scopes[..]);
    let (edited, outcome) = set_entry(
        &manifest_text,
        &target.update(scopes, args.comment.as_deref()),
    )
    .with_context(|| format!("cannot edit {}", manifest_path.display()))?;
    let pre_existing = check_the_edit(cx, &manifest_text, &edited, &target)?;

    let value = read_value(cx.out, name.as_str())?;
    check_value(name, &value)?;
    let value_file: PathBuf = dir.join(&target.value_path);
    seal_and_record(&dir, &value_file, value.as_bytes(), &recipients, false)?;
    drop(value);
    let options = WriteOptions {
        mode: manifest_mode(manifest_path),
        no_clobber: false,
    };
    write_atomic(manifest_path, edited.as_bytes(), options)?;
    cx.out.print(&format!(
        "sealed {name} to {}: {}",
        recipients_count(&recipients),
        value_file.display()
    ))?;
    let verb = match outcome {
        EditOutcome::Added => "added",
        EditOutcome::Updated => "updated",
    };
    let (account, store) = (&target.account, &target.store);
    let manifest = manifest_path.display();
    cx.out
        .print(&format!("{verb} {account}/{store}/{name} in {manifest}"))?;
    if pre_existing > 0 {
        cx.out.warn(&format!(
            "the manifest already had {}; run `cfsecrets check`",
            count(pre_existing, "problem", "problems")
        ))?;
    }
    Ok(Status::Success)
}

/// Which entry the command sets: account, store, existing entry and value path, resolved
/// on the manifest as written. A wrong `--account` or `--store` is a usage error.
fn resolve(raw: &RawManifest, path: &Path, args: &SecretSetArgs) -> anyhow::Result<EntryTarget> {
    let request = EntryRequest {
        account: &args.account,
        store: args.store.as_deref(),
        name: &args.name,
        scopes_given: !args.scopes.is_empty(),
    };
    EntryTarget::resolve(raw, path, request).map_err(|err| {
        if err.is_usage() {
            anyhow::Error::new(UsageError(err.to_string()))
        } else {
            anyhow::Error::new(err)
        }
    })
}

/// The manifest's text (bounded), and the manifest as the real reader reads it; only text
/// that is not YAML at all is refused here (other problems are weighed after the edit).
fn read_manifest(out: &mut Output, path: &Path) -> anyhow::Result<(String, RawManifest)> {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(diagnostic) => {
            out.eprint(&format!("{diagnostic}\n"))?;
            anyhow::bail!("cannot edit {}; nothing was written", path.display());
        }
    };
    match read_as_written(path, &text) {
        Ok(raw) => Ok((text, raw)),
        Err(diagnostic) => {
            out.eprint(&format!("{diagnostic}\n"))?;
            anyhow::bail!(
                "cannot edit {}: it does not parse as a YAML map; fix it first; nothing was written",
                path.display()
            );
        }
    }
}

/// The scopes (wire spellings) from the command line; a stray argument (a value typed where
/// it does not belong) is refused without being used or repeated.
fn checked_args(args: &SecretSetArgs) -> anyhow::Result<Vec<String>> {
    if !args.stray.is_empty() {
        return Err(UsageError(
            "`secret set` takes the value from stdin or a hidden prompt, never from arguments: \
             the extra argument was not used (it may now be in your shell history)"
                .to_string(),
        )
        .into());
    }
    Ok(args
        .scopes
        .iter()
        .map(|s| s.as_wire().to_string())
        .collect())
}

/// The edited manifest must pass the real validator, the value file counted as written;
/// what the manifest got wrong before the edit is only a warning. Returns how many problems
/// it already had.
fn check_the_edit(
    cx: &mut Context<'_>,
    original: &str,
    edited: &str,
    target: &EntryTarget,
) -> anyhow::Result<usize> {
    let manifest_path = &cx.global.manifest;
    let base_dir = base_dir_of(manifest_path);
    let env_account_id = cx.env.get("CLOUDFLARE_ACCOUNT_ID");
    let fs = AlsoExisting {
        fs: &RealFs,
        file: base_dir.join(&target.value_path),
    };
    let checked = check_edit(
        manifest_path,
        &base_dir,
        original,
        edited,
        env_account_id.as_deref(),
        &fs,
    );
    cx.print_diagnostics(&checked.warnings)?;
    if !checked.introduced.is_empty() {
        let problems = count(checked.introduced.len(), "problem", "problems");
        cx.out.eprint(&format!("{}\n", checked.introduced))?;
        anyhow::bail!(
            "refused: the edit would add {problems} to {}; nothing was written",
            manifest_path.display()
        );
    }
    Ok(checked.pre_existing.len())
}

/// A value the API accepts: not empty, at most [`MAX_VALUE_BYTES`].
fn check_value(name: &SecretName, value: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        anyhow::bail!("the value for {name} is empty; nothing was written");
    }
    if value.len() > MAX_VALUE_BYTES {
        anyhow::bail!(
            "the value for {name} is {} bytes; the limit is {MAX_VALUE_BYTES}; nothing was written",
            value.len()
        );
    }
    Ok(())
}

/// The most of stdin `secret set` reads: far above the API's limit, so that a value a little
/// too long is still measured exactly, and bounded, so that `yes | cfsecrets secret set …`
/// cannot fill the memory.
const MAX_STDIN_BYTES: u64 = 1 << 20;

/// The value: stdin when it is not a terminal (one trailing newline removed), else a hidden
/// prompt. Never from the command line.
fn read_value(out: &mut Output, name: &str) -> anyhow::Result<Zeroizing<String>> {
    let mut value = if out.stdin_is_terminal() {
        if !out.can_prompt() {
            anyhow::bail!("no value: pipe it on stdin or run in a terminal to be prompted");
        }
        out.prompt_hidden(&format!("value for {name} (hidden): "))
            .context("cannot read the value from the terminal")?
    } else {
        let bytes = out
            .read_stdin(MAX_STDIN_BYTES)
            .context("cannot read the value from stdin")?;
        if bytes.len() as u64 > MAX_STDIN_BYTES {
            anyhow::bail!(
                "the value for {name} is more than {}; the limit is {MAX_VALUE_BYTES}; nothing was written",
                crate::text::bytes(MAX_STDIN_BYTES)
            );
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => Zeroizing::new(text.to_string()),
            Err(_) => anyhow::bail!("the value on stdin is not valid UTF-8; nothing was written"),
        }
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    Ok(value)
}

#[cfg(unix)]
fn manifest_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn manifest_mode(_: &Path) -> Option<u32> {
    None
}
