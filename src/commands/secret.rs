//! `cfsecrets secret set`: seal one value (from stdin or a hidden prompt, never argv) to the
//! manifest's recipients and add or update its manifest entry, keeping the rest of the
//! manifest byte-for-byte. Every check (name, scopes, account, store, the manifest edit)
//! runs before the value is read and before anything is written.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use zeroize::Zeroizing;

use crate::cli::{GlobalArgs, SecretSetArgs};
use crate::commands::{Status, UsageError};
use crate::domain::{Scope, SecretName};
use crate::output::Output;
use crate::values::edit::{EditOutcome, EntryUpdate, set_entry};
use crate::values::layout::{Layout, LayoutValue};
use crate::values::reseal::seal_and_record;
use crate::values::seal::write_atomic;
use crate::values::{LEGACY_VALUE_BYTES, MAX_VALUE_BYTES, Recipients};

pub async fn set(
    out: &mut Output,
    global: &GlobalArgs,
    args: &SecretSetArgs,
) -> anyhow::Result<Status> {
    let name = SecretName::parse(&args.name)
        .map_err(|e| UsageError(format!("invalid secret name {:?}: {e}", args.name)))?;
    let mut scopes = Vec::new();
    for s in &args.scopes {
        let s = s.trim();
        match Scope::from_wire(s) {
            Some(scope) => scopes.push(scope.as_wire().to_string()),
            None => {
                let hint = Scope::suggest(s)
                    .map(|x| format!("; did you mean {x}?"))
                    .unwrap_or_default();
                return Err(UsageError(format!("unknown scope {s:?}{hint}")).into());
            }
        }
    }

    let manifest_path = &global.manifest;
    let layout = Layout::read(manifest_path)?;
    let stores = layout.accounts.get(&args.account).ok_or_else(|| {
        UsageError(format!(
            "no account {:?} in {} (accounts: {})",
            args.account,
            manifest_path.display(),
            layout
                .accounts
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let store = match &args.store {
        Some(s) if stores.contains_key(s) => s.clone(),
        Some(s) => {
            return Err(
                UsageError(format!("account {:?} has no store {s:?}", args.account)).into(),
            );
        }
        None if stores.len() == 1 => stores.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(UsageError(format!(
                "account {:?} has {} stores; choose one with --store ({})",
                args.account,
                stores.len(),
                stores.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
    };
    let existing = stores.get(&store).and_then(|s| s.get(name.as_str()));
    let rel_path = match existing.map(|e| (e.absent, &e.value)) {
        Some((true, _)) => anyhow::bail!(
            "{}/{store}/{name} is declared `ensure: absent`; remove that line first",
            args.account
        ),
        Some((_, Some(LayoutValue::Bundle { bundle, .. }))) => anyhow::bail!(
            "{}/{store}/{name} takes its value from bundle {bundle}; edit the bundle instead",
            args.account
        ),
        Some((_, Some(LayoutValue::File(path)))) => path.clone(),
        _ => default_path(&args.account, &store, name.as_str())?,
    };
    if existing.is_none() && scopes.is_empty() && layout.default_scopes.is_empty() {
        return Err(UsageError(format!(
            "{name} is new and the manifest has no defaults.scopes; pass --scopes (e.g. --scopes workers)"
        ))
        .into());
    }
    let recipients = Recipients::from_file(&layout.recipients_file)?;
    let manifest_text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
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

    let value_file = layout.base_dir.join(&rel_path);
    seal_and_record(
        &layout.base_dir,
        &value_file,
        value.as_bytes(),
        &recipients,
        false,
    )?;
    drop(value);
    let mode = manifest_mode(manifest_path);
    write_atomic(manifest_path, edited.as_bytes(), mode, false)?;
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
    Ok(Status::Success)
}

/// `values/<account>/<store>/<NAME>.age`, refusing labels that are not plain file names.
fn default_path(account: &str, store: &str, name: &str) -> anyhow::Result<String> {
    for part in [account, store] {
        if part.is_empty() || part == "." || part == ".." || part.contains(['/', '\\', '\0']) {
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
