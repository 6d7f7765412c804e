//! `cfsecrets apply [PLAN_FILE]`: plan (or load a saved plan and prove it is still current),
//! confirm, execute with [`crate::apply::Applier`], and print a summary.
//!
//! Every check of user input runs before the first write: flags, the saved plan (format,
//! blocked, problems, identity), the staleness of its inputs, the recomputed actions, and each
//! value's fingerprint. Without a plan file and without a terminal, `--auto-approve` is
//! required (exit 64 otherwise).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::apply::{Applier, ApplyReport, Checked, Event, Timing, wait};
use crate::cli::ApplyArgs;
use crate::cloudflare::Client;
use crate::commands::context::{Bindings, Context, Identity, Prepared, watching_pacer};
use crate::commands::{Status, UsageError};
use crate::domain::MAX_PLAN_FILE_BYTES;
use crate::output::Output;
use crate::plan::{Appliable, Plan, RefusedPlan, check_appliable};
use crate::text::count;

pub(super) async fn run(cx: &mut Context<'_>, args: &ApplyArgs) -> anyhow::Result<Status> {
    // The summary's "in total" runs from here: reading the live state counts (its retries
    // are in the same summary), waiting for a `yes` does not.
    let started = Instant::now();
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
        Err(why) => return refuse(cx.out, why, args.plan_file.as_deref()),
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
    let bindings = bindings_to_check(args, saved.as_ref())?;
    let prepared = cx
        .prepare(&args.api, allow_deletes, Identity::Required, &bindings)
        .await?;
    let appliable = match (saved_appliable, &args.plan_file) {
        (Some(saved), Some(path)) => still_current(cx.out, path, saved, &prepared.plan)?,
        _ => {
            let text = crate::plan::render::text(&prepared.plan, &cx.out.palette());
            cx.out.print(&text).context("cannot write to stdout")?;
            check_appliable(&prepared.plan)
        }
    };
    if !prepared.binding_errors.is_empty() {
        return Err(cx.report(&prepared.binding_errors)?);
    }
    let applier = Applier {
        client: &prepared.client,
        live: &prepared.live,
        values: &prepared.values,
        fingerprint_key: prepared.key.as_ref(),
        parallelism: args.parallelism,
    };
    let checked = match appliable.and_then(|appliable| applier.precheck(appliable)) {
        Ok(checked) => checked,
        Err(why) => return refuse(cx.out, why, args.plan_file.as_deref()),
    };
    if checked.plan().is_empty() {
        cx.out.print("No changes; nothing to apply.")?;
        return Ok(Status::Success);
    }
    let mut prompted = Duration::ZERO;
    if saved.is_none() && !args.auto_approve {
        let asked = Instant::now();
        confirm(cx.out, checked.plan())?;
        prompted = asked.elapsed();
    }
    let elapsed = move || started.elapsed().saturating_sub(prompted);
    let plan = checked.plan();
    let status = execute(cx.out, &prepared, &applier, checked, elapsed).await?;
    match args.wait_active {
        Some(seconds) => wait_active(cx.out, &prepared.client, plan, seconds).await,
        None => Ok(status),
    }
}

/// The wrangler configs whose bindings to check: those `--wrangler` names, or for a saved
/// plan the ones it was made with (so `--wrangler` is not needed with a plan file; given, it
/// must name the same configs: a plan is applied as it was reviewed).
fn bindings_to_check(args: &ApplyArgs, saved: Option<&Plan>) -> anyhow::Result<Bindings> {
    let given = &args.bindings;
    let Some(digest) = saved.and_then(|p| p.digest.as_ref()) else {
        return Ok(Bindings {
            paths: given.wrangler.clone(),
            allow_breaks: given.allow_binding_breaks,
        });
    };
    let recorded: BTreeSet<String> = digest.wrangler.keys().cloned().collect();
    if !given.wrangler.is_empty() {
        let named: BTreeSet<String> = given
            .wrangler
            .iter()
            .map(|p| match crate::wrangler::locate(p) {
                Ok((file, _)) => file.display().to_string(),
                Err(_) => p.display().to_string(),
            })
            .collect();
        if named != recorded {
            let list = |set: &BTreeSet<String>| {
                if set.is_empty() {
                    "no wrangler config".to_string()
                } else {
                    set.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            };
            return Err(UsageError(format!(
                "the saved plan was checked against {}, not {}: apply it without --wrangler, \
                 or plan again with the configs you mean",
                list(&recorded),
                list(&named)
            ))
            .into());
        }
    }
    // Nor is the allowance added afterwards: it would change nothing (a plan the bindings
    // block is refused as saved), so saying it silently worked would mislead.
    if given.allow_binding_breaks && !digest.allow_binding_breaks {
        return Err(UsageError(
            "the saved plan was made without --allow-binding-breaks, and a saved plan is \
             applied as it was reviewed: plan again with --allow-binding-breaks"
                .to_string(),
        )
        .into());
    }
    Ok(Bindings {
        paths: recorded.iter().map(PathBuf::from).collect(),
        allow_breaks: digest.allow_binding_breaks,
    })
}

/// `--wait-active SECONDS`: re-lists until every secret the apply created, copied or PATCHed
/// reads `active`, with progress; exits 1 naming what still does not at the deadline.
async fn wait_active(
    out: &mut Output,
    client: &Client,
    plan: &Plan,
    seconds: u64,
) -> anyhow::Result<Status> {
    let stores = wait::awaited(plan);
    let total: usize = stores.iter().map(|s| s.names.len()).sum();
    if total == 0 {
        out.status("--wait-active: this apply created and changed no secret; nothing to wait for")?;
        return Ok(Status::Success);
    }
    let secrets = count(total, "secret", "secrets");
    out.status(&format!(
        "waiting up to {seconds}s for {secrets} to read active"
    ))?;
    let started = Instant::now();
    let before = client.stats().requests_sent;
    let report = {
        let progress = out.progress(total as u64, "waiting for active");
        let on_active = |line: &str| progress.advance(&format!("active: {line}"));
        let waiting = wait::wait_active(client, stores, Duration::from_secs(seconds), &on_active);
        watching_pacer(client, waiting, |line| progress.note(&line)).await
    }
    .context("cannot re-list the stores to see whether the secrets are active")?;
    let requests = count(
        (client.stats().requests_sent - before) as usize,
        "request",
        "requests",
    );
    if report.is_success() {
        out.print(&format!(
            "Active: {secrets} read active after {:.1}s ({requests}).",
            started.elapsed().as_secs_f64()
        ))?;
        return Ok(Status::Success);
    }
    anyhow::bail!(
        "timed out after {seconds}s ({requests}): {} still not active: {}; the apply itself is \
         complete, but a Worker deploy that binds them fails until they are",
        count(report.pending.len(), "secret", "secrets"),
        report.pending.join(", ")
    )
}

/// Reads a plan saved by `plan --out` (at most [`MAX_PLAN_FILE_BYTES`]).
fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let bytes = crate::fs::read_bounded(path, MAX_PLAN_FILE_BYTES).map_err(|err| {
        anyhow::anyhow!(
            "cannot read the plan file {}: {}",
            path.display(),
            err.reason()
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a plan saved by `cfsecrets plan --out` (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Proves the plan saved at `path` still holds: none of its inputs moved, a plan made now is
/// appliable, and it makes the same actions on the same accounts. Returns the saved plan,
/// to be applied as it was reviewed. A refusal names the file, and what moved or the first
/// action that differs.
fn still_current<'p>(
    out: &mut Output,
    path: &Path,
    saved: Appliable<'p>,
    now: &Plan,
) -> anyhow::Result<Result<Appliable<'p>, RefusedPlan>> {
    let (Some(old), Some(new)) = (&saved.plan().digest, &now.digest) else {
        anyhow::bail!("{}: the plan digest is missing", path.display());
    };
    let moved = new.moved_since(old);
    if !moved.is_empty() {
        anyhow::bail!(
            "{}: the saved plan is stale: {} changed since it was made; run `cfsecrets plan` \
             again",
            path.display(),
            moved.join(", ")
        );
    }
    if let Err(why) = check_appliable(now) {
        return Ok(Err(why));
    }
    if let Some(difference) = saved.plan().first_difference(now) {
        anyhow::bail!(
            "{}: the saved plan differs from a plan made now from the same inputs, first at \
             {difference}; was it edited, or made with other flags or another cfsecrets \
             version? run `cfsecrets plan --out` again",
            path.display()
        );
    }
    out.status(&format!(
        "the saved plan is current: {}",
        crate::plan::render::summary_line(saved.plan())
    ))?;
    Ok(Ok(saved))
}

/// Prints the refusal, naming the plan file when there is one, and maps it to an exit:
/// blocked → 3, anything else → 1.
fn refuse(out: &mut Output, why: RefusedPlan, plan_file: Option<&Path>) -> anyhow::Result<Status> {
    let blocked = matches!(why, RefusedPlan::Blocked(_));
    let context = match plan_file {
        Some(path) => format!("refusing to apply {}", path.display()),
        None => "refusing to apply".to_string(),
    };
    let err = anyhow::Error::new(why).context(context);
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
/// report and what to do next. `elapsed` is the time the run has taken so far (the
/// confirmation excluded), for the summary's total.
async fn execute<'a>(
    out: &mut Output,
    prepared: &Prepared,
    applier: &Applier<'a>,
    checked: Checked<'_, 'a>,
    elapsed: impl Fn() -> Duration,
) -> anyhow::Result<Status> {
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
        total: elapsed(),
    };
    if report.is_success() {
        out.print(&format!("Apply complete: {}.", report.summary(timing)))?;
        return Ok(Status::Success);
    }
    out.eprint(&report.failure_text(timing))?;
    anyhow::bail!(
        "apply failed: {} failed",
        count(report.failed.len(), "action", "actions")
    )
}
