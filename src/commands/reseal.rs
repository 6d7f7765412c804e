//! `cfsecrets reseal`: re-encrypt the fingerprint key, every value file and every bundle
//! the manifest names to the current recipients — only those whose recipients changed (or
//! that were sealed outside this tool), unless `--force`.

use crate::cli::ResealArgs;
use crate::commands::Status;
use crate::commands::context::{Context, recipients_count, shown_path};
use crate::values::Recipients;
use crate::values::layout::sealed_files_of;
use crate::values::reseal::reseal_files;

pub(super) async fn run(cx: &mut Context<'_>, args: &ResealArgs) -> anyhow::Result<Status> {
    let ids = cx.require_identities("reseal needs an identity to decrypt with")?;
    // Validate the whole manifest first: nothing is rewritten for a manifest that is wrong.
    let desired = cx.load_manifest()?;
    let recipients = Recipients::from_file(&desired.recipients_file)?;
    let files = sealed_files_of(&desired);
    let report = reseal_files(&desired.base_dir, &files, &recipients, &ids, args.force)?;
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
