//! `cfsecrets reseal`: re-encrypt the fingerprint key, every value file and every bundle
//! the manifest names to the current recipients — only those whose recipients changed (or
//! that were sealed outside this tool), unless `--force`. Every file is decrypted before the
//! first write; when any cannot be, each one is named and nothing is written.

use crate::cli::ResealArgs;
use crate::commands::Status;
use crate::commands::context::{Context, recipients_count, shown_path};
use crate::text::count;
use crate::values::ValuesError;
use crate::values::layout::sealed_files_of;
use crate::values::reseal::reseal_files;

pub(super) async fn run(cx: &mut Context<'_>, args: &ResealArgs) -> anyhow::Result<Status> {
    let ids = cx.require_identities("reseal needs an identity to decrypt with")?;
    // Everything `check` checks first: nothing is rewritten for a manifest that is wrong.
    let (desired, recipients) = cx.load_checked()?;
    let files = sealed_files_of(&desired);
    let report = match reseal_files(&desired.base_dir, &files, &recipients, &ids, args.force) {
        Ok(report) => report,
        Err(ValuesError::CannotReseal { files: failed }) => {
            // Every file that failed, like `check --decrypt`, then one line for the outcome.
            let mut text = String::new();
            for (path, reason) in &failed {
                text.push_str(&format!(
                    "error: {}: {reason}\n",
                    shown_path(&desired, path)
                ));
            }
            cx.out.eprint(&text)?;
            anyhow::bail!(
                "reseal failed: {} of {} could not be read or decrypted; nothing was written",
                failed.len(),
                count(files.len(), "file", "files"),
            );
        }
        Err(err) => return Err(err.into()),
    };
    for path in &report.resealed {
        cx.out
            .status(&format!("resealed {}", shown_path(&desired, path)))?;
    }
    let why = if args.force {
        "--force".to_string()
    } else {
        format!("{} already current", report.unchanged.len())
    };
    cx.out.print(&format!(
        "resealed {} of {} files to {} ({why})",
        report.resealed.len(),
        files.len(),
        recipients_count(&recipients),
    ))?;
    Ok(Status::Success)
}
