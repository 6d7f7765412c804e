//! `cfsecrets apply [PLAN_FILE]`: plan (or load a saved plan and prove it is still current),
//! confirm, execute with [`crate::apply::Applier`], and print a summary.
//!
//! Every check of user input runs before the first write: flags, the saved plan (format,
//! blocked, problems, identity), the staleness of its inputs, the recomputed actions, and each
//! value's fingerprint. Without a plan file and without a terminal, `--auto-approve` is
//! required (exit 64 otherwise).

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

use crate::apply::{Applier, ApplyReport, Checked, Event, Timing};
use crate::cli::ApplyArgs;
use crate::commands::context::{Context, Identity, Prepared, watching_pacer};
use crate::commands::{AlreadyReported, Status, UsageError};
use crate::output::Output;
use crate::plan::{Appliable, Plan, RefusedPlan, check_appliable};
use crate::text::count;

pub(super) async fn run(cx: &mut Context<'_>, args: &ApplyArgs) -> anyhow::Result<Status> {
    if args.plan_file.is_none() && !args.auto_approve && !cx.out.can_prompt() {
        return Err(UsageError(
            "not on a terminal: pass --auto-approve, or apply a plan saved by \
             `cfsecrets plan --out FILE` with `cfsecrets apply FILE`"
                .to_string(),
        )
        .into());
    }
    let saved = args.plan_file.as_deref().map(read_plan).transpose()?;
    let saved_appliable = match saved.as_ref().map(check_appliable).transpose() {
        Ok(appliable) => appliable,
        Err(why) => return refuse(cx.out, why),
    };
    if let (Some(path), Some(saved)) = (&args.plan_file, &saved)
        && saved.digest.is_none()
    {
        anyhow::bail!(
            "{} has no digest of its inputs; save plans with `cfsecrets plan --out FILE`",
            path.display()
        );
    }
    // A saved plan is applied with the `--allow-deletes` it was made (and reviewed) with.
    let allow_deletes = args.allow_deletes.or_else(|| {
        saved
            .as_ref()
            .and_then(|s| s.digest.as_ref())
            .and_then(|d| d.allow_deletes)
    });
    let prepared = cx
        .prepare(&args.api, allow_deletes, Identity::Required)
        .await?;
    let appliable = match saved_appliable {
        Some(saved) => still_current(cx.out, saved, &prepared.plan)?,
        None => {
            let text = crate::plan::render::text(&prepared.plan, &cx.out.palette());
            cx.out.print(&text).context("cannot write to stdout")?;
            check_appliable(&prepared.plan)
        }
    };
    let applier = Applier {
        client: &prepared.client,
        live: &prepared.live,
        values: &prepared.values,
        fingerprint_key: prepared.key.as_ref(),
        parallelism: args.parallelism,
    };
    let checked = match appliable.and_then(|appliable| applier.precheck(appliable)) {
        Ok(checked) => checked,
        Err(why) => return refuse(cx.out, why),
    };
    if checked.plan().is_empty() {
        cx.out.print("No changes; nothing to apply.")?;
        return Ok(Status::Success);
    }
    if saved.is_none() && !args.auto_approve {
        confirm(cx.out, checked.plan())?;
    }
    execute(cx.out, &prepared, &applier, checked).await
}

/// Reads a plan saved by `plan --out`.
fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan file {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a plan saved by `cfsecrets plan --out` (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Proves a saved plan still holds: none of its inputs moved, a plan made now is appliable,
/// and it has the same actions. Returns the saved plan, to be applied as it was reviewed.
fn still_current<'p>(
    out: &mut Output,
    saved: Appliable<'p>,
    now: &Plan,
) -> anyhow::Result<Result<Appliable<'p>, RefusedPlan>> {
    let (Some(old), Some(new)) = (&saved.plan().digest, &now.digest) else {
        anyhow::bail!("the plan digest is missing");
    };
    let moved = new.moved_since(old);
    if !moved.is_empty() {
        anyhow::bail!(
            "the saved plan is stale: {} changed since it was made; run `cfsecrets plan` again",
            moved.join(", ")
        );
    }
    if let Err(why) = check_appliable(now) {
        return Ok(Err(why));
    }
    if !saved.plan().same_actions(now) {
        anyhow::bail!(
            "the saved plan's actions differ from a plan made now from the same inputs \
             (different flags or cfsecrets version?); run `cfsecrets plan` again"
        );
    }
    out.status(&format!(
        "the saved plan is current: {}",
        crate::plan::render::summary_line(saved.plan())
    ))?;
    Ok(Ok(saved))
}

/// Prints the refusal and maps it to an exit: blocked → 3, anything else → 1.
fn refuse(out: &mut Output, why: RefusedPlan) -> anyhow::Result<Status> {
    let blocked = matches!(why, RefusedPlan::Blocked(_));
    let err = anyhow::Error::new(why).context("refusing to apply");
    if blocked {
        out.error(&err)?;
        return Ok(Status::Blocked);
    }
    Err(err)
}

/// Asks on the terminal; anything but `yes` cancels.
fn confirm(out: &mut Output, plan: &Plan) -> anyhow::Result<()> {
    let answer = out
        .prompt(&format!(
            "\nApply these changes ({})? Only `yes` is accepted: ",
            count(
                plan.summary.write_requests as usize,
                "write request",
                "write requests"
            )
        ))
        .context("cannot read the confirmation")?;
    if answer.trim() != "yes" {
        anyhow::bail!("apply cancelled; nothing was written");
    }
    Ok(())
}

/// Runs the checked plan under a progress display and prints the summary, or the failure
/// report and what to do next.
async fn execute<'a>(
    out: &mut Output,
    prepared: &Prepared,
    applier: &Applier<'a>,
    checked: Checked<'_, 'a>,
) -> anyhow::Result<Status> {
    let started = Instant::now();
    let total = checked.plan().summary.write_requests as u64;
    let report: ApplyReport = {
        let progress = out.progress(total, "applying");
        let on_event = |event: Event| {
            let line = event.to_string();
            if event.is_failure() {
                progress.advance_noting(&line);
            } else {
                progress.advance(&line);
            }
        };
        watching_pacer(&prepared.client, applier.run(checked, &on_event), |line| {
            progress.note(&line)
        })
        .await
    };
    let stats = prepared.client.stats();
    let timing = Timing {
        retries: stats.retries,
        pacer_wait: stats.pacer_wait,
        total: started.elapsed(),
    };
    if report.is_success() {
        out.print(&format!("Apply complete: {}.", report.summary(timing)))?;
        return Ok(Status::Success);
    }
    out.eprint(&report.failure_text(timing))?;
    let msg = format!(
        "apply failed: {} failed",
        count(report.failed.len(), "action", "actions")
    );
    out.error(&anyhow::anyhow!(msg.clone()))?;
    Err(AlreadyReported(msg).into())
}
