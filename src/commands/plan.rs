//! `cfsecrets plan`: load the manifest, unseal the values (when an identity is present),
//! read the live state, diff, render, optionally save the plan with a digest of its inputs.
//!
//! Exit codes: 0 (no changes, or changes without `--detailed-exitcode`), 2 (changes, with
//! `--detailed-exitcode`), 3 (blocked by a safety rule), 1 (an error, or a plan with problems).

use std::path::Path;

use anyhow::Context as _;

use crate::cli::{PlanArgs, PlanFormat};
use crate::commands::Status;
use crate::commands::context::{Bindings, Context, Identity, check_out_dir};
use crate::domain::MAX_PLAN_FILE_BYTES;
use crate::fs::{FsError, WriteOptions};
use crate::output::Output;
use crate::plan::{self, BlockReason, Plan, RefusedPlan};

pub(super) async fn run(cx: &mut Context<'_>, args: &PlanArgs) -> anyhow::Result<Status> {
    if let Some(path) = &args.out {
        check_out_path(path)?;
    }
    let bindings = Bindings {
        paths: args.bindings.wrangler.clone(),
        allow_breaks: args.bindings.allow_binding_breaks,
    };
    let prepared = cx
        .prepare(&args.api, args.allow_deletes, Identity::Optional, &bindings)
        .await?;
    let plan = &prepared.plan;
    let text = render(cx.out, plan, args.format);
    cx.out.print(&text).context("cannot write to stdout")?;
    if let Some(path) = &args.out {
        save(cx.out, plan, path)?;
    }
    if !prepared.binding_errors.is_empty() {
        return Err(cx.report(&prepared.binding_errors)?);
    }
    status_of(cx.out, plan, args.detailed_exitcode)
}

/// Renders the plan in `format` (text gets the output's palette).
fn render(out: &Output, plan: &Plan, format: PlanFormat) -> String {
    match format {
        PlanFormat::Text => plan::render::text(plan, &out.palette()),
        PlanFormat::Markdown => plan::render::markdown(plan),
        PlanFormat::Json => plan::render::json(plan),
    }
}

/// Saves the plan as JSON for `apply FILE` and says whether it can be applied.
fn save(out: &mut Output, plan: &Plan, path: &Path) -> anyhow::Result<()> {
    let json = plan::render::json(plan);
    crate::fs::write_atomic(
        path,
        json.as_bytes(),
        WriteOptions::replace().with_mode(0o644),
    )
    .with_context(|| format!("cannot save the plan to {}", path.display()))?;
    if plan.values_compared {
        out.status(&format!(
            "saved the plan to {}; apply it with `cfsecrets apply {}`",
            path.display(),
            path.display()
        ))?;
    } else {
        out.status(&format!(
            "saved the plan to {} for review only: made without an identity, it cannot be \
             applied",
            path.display()
        ))?;
    }
    Ok(())
}

/// Refuses an `--out` path that holds something other than a saved plan: a slip like
/// `--out cfsecrets.yaml` or `--out me.key` must not replace the manifest, a sealed value or
/// a private key. A missing file, or an earlier saved plan (any JSON object with
/// `format_version`), may be written.
fn check_out_path(path: &Path) -> anyhow::Result<()> {
    check_out_dir(path)?;
    // Read through the bounded reader: what is larger than any saved plan is not one.
    let is_plan = match crate::fs::read_bounded(path, MAX_PLAN_FILE_BYTES) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|v| v.get("format_version").is_some()),
        Err(FsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(());
        }
        Err(FsError::TooLarge { .. }) => false,
        Err(err) => anyhow::bail!("cannot check --out {}: {}", path.display(), err.reason()),
    };
    if !is_plan {
        anyhow::bail!(
            "refusing to overwrite {}: it exists and is not a plan saved by `cfsecrets plan \
             --out`; choose another --out path",
            path.display()
        );
    }
    Ok(())
}

/// The exit status of a plan: problems → error (1); blocked → 3; changes → 2 with
/// `--detailed-exitcode`; else 0.
fn status_of(out: &mut Output, plan: &Plan, detailed: bool) -> anyhow::Result<Status> {
    if plan.has_problems() {
        return Err(RefusedPlan::Problems(plan.problems.len()).into());
    }
    if plan.is_blocked() {
        let mut ways = Vec::new();
        if plan.blocked.iter().any(|b| !b.is_binding()) {
            ways.push("raise the thresholds in `safety:` or pass --allow-deletes N");
        }
        if plan.blocked.iter().any(BlockReason::is_binding) {
            ways.push("change the bindings first, or pass --allow-binding-breaks");
        }
        out.warn(&format!(
            "the plan is blocked by a safety rule; `apply` refuses it ({})",
            ways.join("; ")
        ))?;
        return Ok(Status::Blocked);
    }
    if detailed && plan.has_changes() {
        return Ok(Status::Changes);
    }
    Ok(Status::Success)
}
