//! `cfsecrets secret set`: seal one value (from stdin or a hidden prompt, never argv) to the
//! manifest's recipients and add or update its manifest entry, keeping the rest of the
//! manifest byte-for-byte. Every check (name, scopes, account, store, the manifest edit and
//! the validation of the edited manifest) runs before the value is read and before anything
//! is written.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use zeroize::Zeroizing;

use crate::cli::{GlobalArgs, SecretSetArgs};
use crate::commands::{Status, UsageError};
use crate::domain::{LEGACY_VALUE_BYTES, MAX_VALUE_BYTES};
use crate::domain::{Scope, SecretName, check_label};
use crate::fs::{WriteOptions, write_atomic};
use crate::manifest::edit::{
    AlsoExisting, EditOutcome, EntryUpdate, check_edit, read_as_written, set_entry,
};
use crate::manifest::raw::{Ensure, RawValue};
use crate::manifest::{RealFs, base_dir_of};
use crate::output::Output;
use crate::text::count;
use crate::values::Recipients;
use crate::values::reseal::seal_and_record;

pub async fn set(
    out: &mut Output,
    global: &GlobalArgs,
    args: &SecretSetArgs,
) -> anyhow::Result<Status> {
    if !args.stray.is_empty() {
        return Err(UsageError(
            "`secret set` takes the value from stdin or a hidden prompt, never from arguments: \
             the extra argument was not used (it may now be in your shell history)"
                .to_string(),
        )
        .into());
    }
    let name = SecretName::parse(&args.name)
        .map_err(|e| UsageError(format!("invalid secret name {:?}: {e}", args.name)))?;
    let mut scopes = Vec::new();
    for s in &args.scopes {
        let s = s.trim();
        if s.is_empty() {
            return Err(UsageError(
                "empty scope in --scopes: list scopes separated by commas, e.g. \
                 --scopes workers,ai_gateway"
                    .to_string(),
            )
            .into());
        }
        let scope = Scope::parse(s).map_err(|unknown| UsageError(unknown.to_string()))?;
        scopes.push(scope.as_wire().to_string());
    }

    let manifest_path = &global.manifest;
    let manifest_text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    // The manifest as the real parser reads it; only text that is not YAML at all is refused
    // here (other problems are weighed after the edit, below).
    let raw = match read_as_written(manifest_path, &manifest_text) {
        Ok(raw) => raw,
        Err(diagnostic) => {
            out.eprint(&format!("{diagnostic}\n"))?;
            anyhow::bail!(
                "cannot edit {}: it does not parse as a YAML map; fix it first; nothing was written",
                manifest_path.display()
            );
        }
    };
    // Paths in messages stay as the manifest's directory writes them (`values/…` for a
    // manifest in the current directory); validation resolves against `base_dir_of`.
    let dir = manifest_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    let labels = raw.accounts.value.keys().collect::<Vec<_>>().join(", ");
    let account = raw.account(&args.account).ok_or_else(|| {
        UsageError(format!(
            "no account {:?} in {} (accounts: {labels})",
            args.account,
            manifest_path.display(),
        ))
    })?;
    let stores = &account.stores.value;
    let store = match &args.store {
        Some(s) if account.store(s).is_some() => s.clone(),
        Some(s) => {
            return Err(
                UsageError(format!("account {:?} has no store {s:?}", args.account)).into(),
            );
        }
        None if stores.len() == 1 => stores.keys().next().unwrap_or_default().to_string(),
        None => {
            return Err(UsageError(format!(
                "account {:?} has {} stores; choose one with --store ({})",
                args.account,
                stores.len(),
                stores.keys().collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
    };
    let existing = account.store(&store).and_then(|s| s.secret(name.as_str()));
    let absent = existing
        .and_then(|e| e.ensure.as_ref())
        .is_some_and(|e| e.value == Ensure::Absent);
    let rel_path = match existing.and_then(|e| e.value.as_ref()).map(|v| &v.value) {
        _ if absent => anyhow::bail!(
            "{}/{store}/{name} is declared `ensure: absent`; remove that line first",
            args.account
        ),
        Some(RawValue::Bundle(bundle)) => anyhow::bail!(
            "{}/{store}/{name} takes its value from bundle {}; edit the bundle instead",
            args.account,
            bundle.bundle
        ),
        Some(RawValue::Path(path)) if path != "keep" && !path.trim().is_empty() => path.clone(),
        _ => default_path(&args.account, &store, name.as_str())?,
    };
    let has_default_scopes = raw.defaults.as_ref().is_some_and(|d| d.scopes.is_some());
    if existing.is_none() && scopes.is_empty() && !has_default_scopes {
        return Err(UsageError(format!(
            "{name} is new and the manifest has no defaults.scopes; pass --scopes (e.g. --scopes workers)"
        ))
        .into());
    }
    if raw.broken.has("recipients_file") {
        anyhow::bail!(
            "{} has no readable `recipients_file`; run `cfsecrets check`",
            manifest_path.display()
        );
    }
    let recipients = Recipients::from_file(&dir.join(&raw.recipients_file.value))?;

    let update = EntryUpdate {
        account: &args.account,
        store: &store,
        name: name.as_str(),
        value_path: &rel_path,
        scopes: (!scopes.is_empty()).then_some(&scopes[..]),
        comment: args.comment.as_deref(),
    };
    let (edited, outcome) = set_entry(&manifest_text, &update)
        .with_context(|| format!("cannot edit {}", manifest_path.display()))?;

    // The edited manifest must pass the real validator, the value file counted as written;
    // what the manifest got wrong before the edit is only a warning.
    let base_dir = base_dir_of(manifest_path);
    let env_account_id = global.env.get("CLOUDFLARE_ACCOUNT_ID");
    let fs = AlsoExisting {
        fs: &RealFs,
        file: base_dir.join(&rel_path),
    };
    let checked = check_edit(
        manifest_path,
        &base_dir,
        &manifest_text,
        &edited,
        env_account_id.as_deref(),
        &fs,
    );
    if !checked.introduced.is_empty() {
        let problems = count(checked.introduced.len(), "problem", "problems");
        out.eprint(&format!("{}\n", checked.introduced))?;
        anyhow::bail!(
            "refused: the edit would add {problems} to {}; nothing was written",
            manifest_path.display()
        );
    }
    let pre_existing = checked.pre_existing.len();

    let value = read_value(out, name.as_str())?;
    if value.is_empty() {
        anyhow::bail!("the value for {name} is empty; nothing was written");
    }
    if value.len() > MAX_VALUE_BYTES {
        anyhow::bail!(
            "the value for {name} is {} bytes; the limit is {MAX_VALUE_BYTES}; nothing was written",
            value.len()
        );
    }
    if value.len() > LEGACY_VALUE_BYTES {
        out.warn(&format!(
            "the value for {name} is {} bytes; some accounts still enforce {LEGACY_VALUE_BYTES}",
            value.len()
        ))?;
    }

    let value_file: PathBuf = dir.join(&rel_path);
    seal_and_record(&dir, &value_file, value.as_bytes(), &recipients, false)?;
    drop(value);
    let options = WriteOptions {
        mode: manifest_mode(manifest_path),
        no_clobber: false,
    };
    write_atomic(manifest_path, edited.as_bytes(), options)?;
    out.print(&format!(
        "sealed {name} to {}: {}",
        crate::commands::init::recipients_count(&recipients),
        value_file.display()
    ))?;
    let verb = match outcome {
        EditOutcome::Added => "added",
        EditOutcome::Updated => "updated",
    };
    out.print(&format!(
        "{verb} {}/{store}/{name} in {}",
        args.account,
        manifest_path.display()
    ))?;
    if pre_existing > 0 {
        out.warn(&format!(
            "the manifest already had {}; run `cfsecrets check`",
            count(pre_existing, "problem", "problems")
        ))?;
    }
    Ok(Status::Success)
}

/// `values/<account>/<store>/<NAME>.age`, refusing labels that are not plain file names.
fn default_path(account: &str, store: &str, name: &str) -> anyhow::Result<String> {
    for part in [account, store] {
        if check_label(part).is_err() {
            anyhow::bail!(
                "cannot derive a file name from {part:?}; add the entry with a value path by hand"
            );
        }
    }
    Ok(format!("values/{account}/{store}/{name}.age"))
}

/// The value: stdin when it is not a terminal (one trailing newline removed), else a hidden
/// prompt. Never from the command line.
fn read_value(out: &mut Output, name: &str) -> anyhow::Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    let mut value = if stdin.is_terminal() {
        if !out.can_prompt() {
            anyhow::bail!("no value: pipe it on stdin or run in a terminal to be prompted");
        }
        Zeroizing::new(
            rpassword::prompt_password(format!("value for {name} (hidden): "))
                .context("cannot read the value from the terminal")?,
        )
    } else {
        let mut bytes = Zeroizing::new(Vec::new());
        stdin
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read the value from stdin")?;
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
