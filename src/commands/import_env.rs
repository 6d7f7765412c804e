//! `cfsecrets secret import-env FILE`: adopt a dotenv file. Every key is sealed once (to its
//! own value file, or all into one bundle) and every entry goes into the manifest in one
//! edit, judged once by the validator that `secret set` uses: one read of the manifest, one
//! validation, one write of it and of the seal index, whatever the number of keys.
//!
//! Every check runs before the first write: the file parses (the rules of a `*.env.age`
//! bundle, so imported and sealed files agree), each key is a name the API accepts, each
//! value is non-empty and within the API's limit, no key is declared already (unless
//! `--overwrite`), and the edited manifest introduces no problem. A refused key is named by
//! its line in FILE, never by its value. FILE is left where it is, and the output says so.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::SecretImportEnvArgs;
use crate::commands::context::{Context, recipients_count};
use crate::commands::editing::target_error;
use crate::commands::{Status, UsageError};
use crate::domain::{
    MAX_BUNDLE_FILE_BYTES, MAX_VALUE_BYTES, SecretName, ValueSizeProblem, value_size_problem,
};
use crate::manifest::edit::{EditOutcome, EntryRequest, EntryTarget, TargetError, set_entries};
use crate::manifest::raw::RawManifest;
use crate::manifest::validate::escape_problem;
use crate::manifest::{RealFs, base_dir_of};
use crate::text::count;
use crate::values::Recipients;
use crate::values::bundle::{self, BundleFormat, DotenvEntry};
use crate::values::reseal::seal_and_record_all;

/// A key of FILE that passed every check, with where it goes.
struct Key {
    entry: DotenvEntry,
    target: EntryTarget,
}

pub(super) async fn run(
    cx: &mut Context<'_>,
    args: &SecretImportEnvArgs,
) -> anyhow::Result<Status> {
    let bundle = bundle_path(args, &cx.global.manifest)?;
    let source = Source::of(&args.file);
    let entries = read_entries(cx, &source)?;
    let manifest_path = cx.global.manifest.clone();
    let (text, raw) = cx.read_for_edit()?;
    let keys = resolve_keys(cx, &source, &raw, args, entries, bundle.as_deref())?;
    if let Some(bundle) = &bundle {
        check_bundle_file(cx, &raw, bundle, &keys, args.overwrite)?;
    }
    let dir = cx.manifest_dir();
    let recipients = Recipients::from_file(&dir.join(&keys[0].target.recipients_file))?;
    let scopes = (!args.scopes.is_empty()).then_some(&args.scopes[..]);
    let updates: Vec<_> = keys.iter().map(|k| k.target.update(scopes, None)).collect();
    let (edited, outcomes) = set_entries(&text, &updates)
        .with_context(|| format!("cannot edit {}", manifest_path.display()))?;
    let written: Vec<&str> = match &bundle {
        Some(bundle) => vec![bundle.as_str()],
        None => keys.iter().map(|k| k.target.value_path.as_str()).collect(),
    };
    cx.judge_edit(&text, &edited, &written)?;

    seal_all(&dir, &keys, bundle.as_deref(), &recipients)?;
    cx.write_manifest(&edited)?;
    report(cx, &keys, &outcomes, bundle.as_deref(), &recipients)?;
    if let Source::File(path) = &source {
        cx.out.warn(&format!(
            "{} still holds these values in plain text: delete it now (the sealed copies are \
             all cfsecrets needs), or at the very least keep it out of git",
            path.display()
        ))?;
    }
    Ok(Status::Success)
}

/// Where the dotenv text comes from.
enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    fn of(path: &Path) -> Source {
        if path == Path::new("-") {
            Source::Stdin
        } else {
            Source::File(path.to_path_buf())
        }
    }

    /// How messages name it: the path, or `stdin`.
    fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Stdin => "stdin".to_string(),
        }
    }
}

/// `--bundle` as the manifest will write it (`/`-separated): a dotenv bundle inside the
/// manifest's directory.
fn bundle_path(args: &SecretImportEnvArgs, manifest: &Path) -> anyhow::Result<Option<String>> {
    let Some(path) = &args.bundle else {
        return Ok(None);
    };
    if BundleFormat::of(path) != Some(BundleFormat::Dotenv) {
        return Err(UsageError(format!(
            "--bundle {}: the bundle import-env writes is dotenv, so its name must end in .env.age",
            path.display()
        ))
        .into());
    }
    let Some(text) = path.to_str() else {
        return Err(UsageError("--bundle: the path is not UTF-8".to_string()).into());
    };
    let text = text.replace('\\', "/");
    if let Some(problem) = escape_problem(&text, &base_dir_of(manifest), &RealFs) {
        return Err(UsageError(format!("--bundle {text} {problem}; nothing was written")).into());
    }
    Ok(Some(text))
}

/// The entries of the dotenv text, each key a name the API accepts and each value one it
/// accepts; every refused line is printed (`FILE:LINE: error: reason`) before refusing.
fn read_entries(cx: &mut Context<'_>, source: &Source) -> anyhow::Result<Vec<DotenvEntry>> {
    let bytes = match source {
        Source::File(path) => crate::fs::read_bounded(path, MAX_BUNDLE_FILE_BYTES)
            .with_context(|| format!("cannot import {}", path.display()))?,
        Source::Stdin => {
            let read = cx.out.read_stdin(MAX_BUNDLE_FILE_BYTES);
            read.context("cannot read stdin")?.with_context(|| {
                format!(
                    "stdin holds more than {}; nothing was written",
                    crate::text::bytes(MAX_BUNDLE_FILE_BYTES)
                )
            })?
        }
    };
    let name = source.name();
    let Ok(text) = std::str::from_utf8(&bytes) else {
        anyhow::bail!("{name} is not UTF-8 text; nothing was written");
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (entries, mut refused) = bundle::dotenv_entries(text);
    for entry in &entries {
        if let Some(reason) = key_problem(entry) {
            refused.push((entry.line, reason));
        }
    }
    refuse_lines(cx, &name, refused)?;
    if entries.is_empty() {
        anyhow::bail!("{name} holds no KEY=value line; nothing was written");
    }
    Ok(entries)
}

/// Why the API would refuse this key or its value; never quotes either.
fn key_problem(entry: &DotenvEntry) -> Option<String> {
    // A valid name by its characters, but a secret pasted as a key: refused here, at its
    // line, rather than by the validator at a line of a manifest that was never written.
    if let Some(shape) = crate::text::secret_shape(&entry.key) {
        return Some(format!(
            "the key looks like {}, not a name; it is not shown, used or sent",
            shape.noun()
        ));
    }
    if let Err(reason) = SecretName::parse(&entry.key) {
        return Some(format!(
            "the key is not a secret name the API accepts: {reason}"
        ));
    }
    match value_size_problem(entry.value.len())? {
        ValueSizeProblem::Empty => Some(
            "the value is empty (cfsecrets, like wrangler, never stores an empty secret): give it \
             a value or remove the line"
                .to_string(),
        ),
        ValueSizeProblem::TooLarge { bytes } => Some(format!(
            "the value is {bytes} bytes; the limit is {MAX_VALUE_BYTES}"
        )),
    }
}

/// Prints each refused line and refuses the import when there is one.
fn refuse_lines(
    cx: &mut Context<'_>,
    name: &str,
    mut lines: Vec<(usize, String)>,
) -> anyhow::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    lines.sort_by_key(|(line, _)| *line);
    let text: String = lines
        .iter()
        .map(|(line, reason)| format!("{name}:{line}: error: {reason}\n"))
        .collect();
    cx.out.eprint(&text)?;
    anyhow::bail!(
        "refused: {} in {name}; nothing was written",
        count(lines.len(), "line", "lines")
    )
}

/// Resolves every key on the manifest: the account and store (a usage error at once), then
/// per key whether it may be written — an existing entry needs `--overwrite`; one declared
/// absent, or (without `--bundle`) taking its value from a bundle, is refused as
/// `secret set` refuses it — and whether its file stays inside the project.
fn resolve_keys(
    cx: &mut Context<'_>,
    source: &Source,
    raw: &RawManifest,
    args: &SecretImportEnvArgs,
    entries: Vec<DotenvEntry>,
    bundle: Option<&str>,
) -> anyhow::Result<Vec<Key>> {
    let manifest_path = cx.global.manifest.clone();
    let base_dir = base_dir_of(&manifest_path);
    let mut keys = Vec::with_capacity(entries.len());
    let mut refused = Vec::new();
    for entry in entries {
        let name = SecretName::parse(&entry.key).map_err(anyhow::Error::msg)?;
        let request = EntryRequest {
            account: &args.at.account,
            store: args.at.store.as_deref(),
            name: &name,
            scopes_given: !args.scopes.is_empty(),
            bundle,
        };
        let target = match EntryTarget::resolve(raw, &manifest_path, request) {
            Ok(target) => target,
            Err(err) if err.is_usage() => return Err(target_error(err)),
            Err(err) => {
                refused.push((entry.line, err.to_string()));
                continue;
            }
        };
        if target.exists && !args.overwrite {
            refused.push((entry.line, already_declared(&target, &manifest_path)));
        } else if let Err(err) = target.check_paths(&base_dir, &RealFs) {
            refused.push((entry.line, outside(err)));
        } else {
            keys.push(Key { entry, target });
        }
    }
    refuse_lines(cx, &source.name(), refused)?;
    Ok(keys)
}

fn already_declared(target: &EntryTarget, manifest: &Path) -> String {
    format!(
        "{}/{}/{} is already declared in {}; pass --overwrite to replace its value",
        target.account,
        target.store,
        target.name,
        manifest.display()
    )
}

fn outside(err: TargetError) -> String {
    err.to_string()
        .trim_end_matches("; nothing was written")
        .to_string()
}

/// An existing `--bundle` file is replaced only with `--overwrite`, and only when no entry
/// of the manifest reads a key from it that FILE does not hold (that key would be lost).
fn check_bundle_file(
    cx: &mut Context<'_>,
    raw: &RawManifest,
    bundle: &str,
    keys: &[Key],
    overwrite: bool,
) -> anyhow::Result<()> {
    let path = cx.manifest_dir().join(bundle);
    if !path.exists() {
        return Ok(());
    }
    if !overwrite {
        anyhow::bail!(
            "{} already exists; pass --overwrite to replace it with the keys of this file; \
             nothing was written",
            path.display()
        );
    }
    let imported: std::collections::HashSet<&str> =
        keys.iter().map(|k| k.entry.key.as_str()).collect();
    let lost: Vec<String> = raw
        .entries()
        .filter_map(|e| {
            let key = e.key_in_bundle(bundle)?;
            // Names from the manifest as written, not yet validated: filtered.
            let shown =
                [e.account, e.store, e.name, key].map(|part| crate::text::clipped(part, 60));
            let shown = format!("{}/{}/{} (key {})", shown[0], shown[1], shown[2], shown[3]);
            (!imported.contains(key)).then_some(shown)
        })
        .collect();
    if !lost.is_empty() {
        anyhow::bail!(
            "refused: replacing {} would lose keys that other entries read: {}; nothing was written",
            path.display(),
            lost.join(", ")
        );
    }
    Ok(())
}

/// Seals every value once: each to its own file, or all into the one bundle.
fn seal_all(
    dir: &Path,
    keys: &[Key],
    bundle: Option<&str>,
    recipients: &Recipients,
) -> anyhow::Result<()> {
    match bundle {
        None => {
            let files: Vec<(PathBuf, &[u8])> = keys
                .iter()
                .map(|k| {
                    let value = k.entry.value.expose_secret().as_bytes();
                    (dir.join(&k.target.value_path), value)
                })
                .collect();
            seal_and_record_all(dir, &files, recipients)?;
        }
        Some(bundle) => {
            let pairs: Vec<_> = keys
                .iter()
                .map(|k| (k.entry.key.as_str(), &k.entry.value))
                .collect();
            let text = bundle::render_dotenv(&pairs);
            // Armor and age's framing add about 40 %: keep the sealed file under the limit
            // every reader holds a bundle to.
            if text.len() as u64 > MAX_BUNDLE_FILE_BYTES / 10 * 7 {
                anyhow::bail!(
                    "the values take {}, too much for one bundle; import without --bundle; \
                     nothing was written",
                    crate::text::bytes(text.len() as u64)
                );
            }
            seal_and_record_all(dir, &[(dir.join(bundle), text.as_bytes())], recipients)?;
        }
    }
    Ok(())
}

/// What was done: counts on stdout, each key on a status line (silenced by `--quiet`).
fn report(
    cx: &mut Context<'_>,
    keys: &[Key],
    outcomes: &[EditOutcome],
    bundle: Option<&str>,
    recipients: &Recipients,
) -> anyhow::Result<()> {
    for (key, outcome) in keys.iter().zip(outcomes) {
        let t = &key.target;
        cx.out.status(&format!(
            "  {} {}/{}/{} ({})",
            outcome.verb(),
            t.account,
            t.store,
            t.name,
            t.value_path
        ))?;
    }
    let into = match bundle {
        Some(bundle) => format!("the bundle {}", cx.manifest_dir().join(bundle).display()),
        None => "one file each".to_string(),
    };
    cx.out.print(&format!(
        "sealed {} to {}: {into}",
        count(keys.len(), "value", "values"),
        recipients_count(recipients)
    ))?;
    let added = outcomes
        .iter()
        .filter(|o| **o == EditOutcome::Added)
        .count();
    let (account, store) = (&keys[0].target.account, &keys[0].target.store);
    cx.out.print(&format!(
        "added {added}, updated {} in {account}/{store} in {}",
        outcomes.len() - added,
        cx.global.manifest.display()
    ))?;
    Ok(())
}
