//! `cfsecrets reseal`: re-encrypt the fingerprint key, every value file and every bundle
//! the manifest names to the current recipients — only those whose recipients changed (or
//! that were sealed outside this tool), unless `--force`.

use crate::cli::{GlobalArgs, ResealArgs};
use crate::commands::plan::shown_path;
use crate::commands::{Status, identity_missing};
use crate::output::Output;
use crate::values::Recipients;
use crate::values::layout::sealed_files_of;
use crate::values::reseal::reseal_files;

pub async fn run(
    out: &mut Output,
    global: &GlobalArgs,
    args: &ResealArgs,
) -> anyhow::Result<Status> {
    let ids = crate::commands::identities(global)?
        .ok_or_else(|| identity_missing("reseal needs an identity to decrypt with"))?;
    // Validate the whole manifest first: nothing is rewritten for a manifest that is wrong.
    let desired = crate::commands::load_manifest(out, global)?;
    let recipients = Recipients::from_file(&desired.recipients_file)?;
    let files = sealed_files_of(&desired);
    let report = reseal_files(&desired.base_dir, &files, &recipients, &ids, args.force)?;
    for path in &report.resealed {
        out.status(&format!("resealed {}", shown_path(&desired, path)))?;
    }
    let why = if args.force {
        "--force".to_string()
    } else {
        format!("{} already current", report.unchanged.len())
    };
    out.print(&format!(
        "resealed {} of {} files to {} ({why})",
        report.resealed.len(),
        files.len(),
        crate::commands::init::recipients_count(&recipients),
    ))?;
    Ok(Status::Success)
}
