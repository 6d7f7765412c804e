//! `cfsecrets secret set`: seal one value (from stdin or a hidden prompt, never argv) to the
//! manifest's recipients and add or update its manifest entry, keeping the rest of the
//! manifest byte-for-byte. Every check (name, scopes, account, store, the manifest edit and
//! the validation of the edited manifest) runs before the value is read and before anything
//! is written.

use std::path::PathBuf;

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::cli::SecretSetArgs;
use crate::commands::context::{Context, recipients_count};
use crate::commands::editing::resolve;
use crate::commands::{Status, UsageError};
use crate::domain::{MAX_VALUE_BYTES, SecretName, ValueSizeProblem, value_size_problem};
use crate::manifest::edit::{EntryRequest, set_entry};
use crate::manifest::{RealFs, base_dir_of};
use crate::output::Output;
use crate::values::Recipients;
use crate::values::reseal::seal_and_record;

pub(super) async fn set(cx: &mut Context<'_>, args: &SecretSetArgs) -> anyhow::Result<Status> {
    refuse_stray(args)?;
    let name = &args.name;
    let manifest_path = cx.global.manifest.clone();
    let (manifest_text, raw) = cx.read_for_edit()?;
    let request = EntryRequest {
        account: &args.at.account,
        store: args.at.store.as_deref(),
        name,
        scopes_given: !args.scopes.is_empty(),
        bundle: None,
    };
    let target = resolve(&raw, &manifest_path, request)?;
    target.check_paths(&base_dir_of(&manifest_path), &RealFs)?;
    let dir = cx.manifest_dir();
    let recipients = Recipients::from_file(&dir.join(&target.recipients_file))?;

    let scopes = (!args.scopes.is_empty()).then_some(&args.scopes[..]);
    let (edited, outcome) = set_entry(
        &manifest_text,
        &target.update(scopes, args.comment.as_deref()),
    )
    .with_context(|| format!("cannot edit {}", manifest_path.display()))?;
    cx.judge_edit(&manifest_text, &edited, &[&target.value_path])?;

    let value = read_value(cx.out, name.as_str())?;
    check_value(name, &value)?;
    let value_file: PathBuf = dir.join(&target.value_path);
    seal_and_record(&dir, &value_file, value.as_bytes(), &recipients, false)?;
    drop(value);
    cx.write_manifest(&edited)?;
    cx.out.print(&format!(
        "sealed {name} to {}: {}",
        recipients_count(&recipients),
        value_file.display()
    ))?;
    let verb = outcome.verb();
    let (account, store) = (&target.account, &target.store);
    let manifest = manifest_path.display();
    cx.out
        .print(&format!("{verb} {account}/{store}/{name} in {manifest}"))?;
    Ok(Status::Success)
}

/// A stray argument (a value typed where it does not belong) is refused without being used
/// or repeated.
fn refuse_stray(args: &SecretSetArgs) -> anyhow::Result<()> {
    if !args.stray.is_empty() {
        return Err(UsageError(
            "`secret set` takes the value from stdin or a hidden prompt, never from arguments: \
             the extra argument was not used (it may now be in your shell history)"
                .to_string(),
        )
        .into());
    }
    Ok(())
}

/// A value the API accepts ([`value_size_problem`]).
fn check_value(name: &SecretName, value: &str) -> anyhow::Result<()> {
    match value_size_problem(value.len()) {
        None => Ok(()),
        Some(ValueSizeProblem::Empty) => {
            anyhow::bail!("the value for {name} is empty; nothing was written")
        }
        Some(ValueSizeProblem::TooLarge { bytes }) => anyhow::bail!(
            "the value for {name} is {bytes} bytes; the limit is {MAX_VALUE_BYTES}; nothing was written"
        ),
    }
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
        let read = out
            .read_stdin(MAX_STDIN_BYTES)
            .context("cannot read the value from stdin")?;
        let Some(bytes) = read else {
            anyhow::bail!(
                "the value for {name} is more than {}; the limit is {MAX_VALUE_BYTES}; nothing was written",
                crate::text::bytes(MAX_STDIN_BYTES)
            );
        };
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
