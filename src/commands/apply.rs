//! `cfsecrets apply [PLAN_FILE]`: plan (or load a saved plan and prove it is still current),
//! confirm, execute with [`crate::apply::Applier`], and print a summary.
//!
//! Every check of user input runs before the first write: flags, the saved plan (format,
//! blocked, problems, identity), the staleness of its inputs, the recomputed actions, and each
//! value's fingerprint. Without a plan file and without a terminal, `--auto-approve` is
//! required (exit 64 otherwise).

use std::io::BufRead as _;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context as _;

use crate::apply::{Applier, ApplyReport, Event, FailureCause};
use crate::cli::{ApplyArgs, GlobalArgs, PlanFormat};
use crate::commands::plan::{prepare, render, watching_pacer};
use crate::commands::{AlreadyReported, Status, UsageError};
use crate::output::Output;
use crate::output::count;
use crate::plan::{MAX_VALUE_BYTES, Plan, RefusedPlan, WARN_VALUE_BYTES, check_appliable};

fn read_plan(path: &std::path::Path) -> anyhow::Result<Plan> {
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

pub async fn run(
    out: &mut Output,
    global: &GlobalArgs,
    args: &ApplyArgs,
) -> anyhow::Result<Status> {
    if args.parallelism == 0 {
        return Err(UsageError("--parallelism must be at least 1".to_string()).into());
    }
    if args.plan_file.is_none() && !args.auto_approve && !out.can_prompt() {
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
        Err(why) => return refuse(out, why),
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
    let prepared = prepare(out, global, &args.api, allow_deletes, true).await?;
    let now = &prepared.plan;
    let appliable = match saved_appliable {
        Some(saved) => {
            let (Some(old), Some(new)) = (&saved.plan().digest, &now.digest) else {
                anyhow::bail!("the plan digest is missing");
            };
            let moved = new.moved_since(old);
            if !moved.is_empty() {
                anyhow::bail!(
                    "the saved plan is stale: {} changed since it was made; run `cfsecrets plan` \
                     again",
                    moved.join(", ")
                );
            }
            if let Err(why) = check_appliable(now) {
                return refuse(out, why);
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
            saved
        }
        None => {
            out.print(&render(out, now, PlanFormat::Text))
                .context("cannot write to stdout")?;
            match check_appliable(now) {
                Ok(appliable) => appliable,
                Err(why) => return refuse(out, why),
            }
        }
    };
    let applier = Applier {
        client: &prepared.client,
        live: &prepared.live,
        values: &prepared.values,
        fingerprint_key: prepared.key.as_ref(),
        parallelism: args.parallelism,
    };
    let checked = match applier.precheck(appliable) {
        Ok(checked) => checked,
        Err(why) => return refuse(out, why),
    };
    let plan = checked.plan();
    if plan.is_empty() {
        out.print("No changes; nothing to apply.")?;
        return Ok(Status::Success);
    }
    if saved.is_none() && !args.auto_approve {
        confirm(out, plan)?;
    }

    let total = plan.summary.write_requests as u64;
    let bar = out.progress(total, "applying");
    let started = Instant::now();
    let report = {
        let shared = Mutex::new(&mut *out);
        let on_event = |event: Event| {
            let line = match &event {
                Event::Done {
                    account,
                    action,
                    note,
                } => match note {
                    Some(note) => format!("done: {account}: {action} ({note})"),
                    None => format!("done: {account}: {action}"),
                },
                Event::Failed {
                    account,
                    action,
                    error,
                } => format!("failed: {account}: {action}: {error}"),
            };
            let mut out = shared.lock().unwrap_or_else(|p| p.into_inner());
            match &bar {
                Some(bar) => {
                    bar.inc(1);
                    if matches!(event, Event::Failed { .. }) {
                        bar.suspend(|| out.status(&line)).ok();
                    }
                }
                None => {
                    let _ = out.status(&line);
                }
            }
        };
        watching_pacer(&prepared.client, applier.run(checked, &on_event), |line| {
            let mut out = shared.lock().unwrap_or_else(|p| p.into_inner());
            match &bar {
                Some(bar) => bar.suspend(|| out.status(&line)).ok(),
                None => out.status(&line).ok(),
            };
        })
        .await
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let stats = prepared.client.stats();
    let tally = report.tally.describe();
    let summary = format!(
        "{} done{}, {}, {}, {:.1}s waiting on the pacer, {:.1}s in total",
        count(report.done.len(), "action", "actions"),
        if tally.is_empty() {
            String::new()
        } else {
            format!(" ({tally})")
        },
        count(
            report.write_requests as usize,
            "write request",
            "write requests"
        ),
        count(stats.retries as usize, "retry", "retries"),
        stats.pacer_wait.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if report.is_success() {
        out.print(&format!("Apply complete: {summary}."))?;
        return Ok(Status::Success);
    }
    let mut text = String::from("apply stopped after a failure.\n");
    let failed: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
    for (title, lines) in [
        ("done", &report.done),
        ("failed", &failed),
        ("not attempted", &report.not_attempted),
    ] {
        text.push_str(&format!("{title} ({}):\n", lines.len()));
        for line in lines.iter() {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text.push_str(&format!("{summary}.\n{}", what_next(&report)));
    out.eprint(&text)?;
    let msg = format!(
        "apply failed: {} failed",
        count(report.failed.len(), "action", "actions")
    );
    out.error(&anyhow::anyhow!(msg.clone()))?;
    Err(AlreadyReported(msg).into())
}

/// What to do after a failed apply: run it again when every failure was transient; else say,
/// per cause, that it will fail again and what to change. Names no value.
pub fn what_next(report: &ApplyReport) -> String {
    let again = "Run `cfsecrets apply` again to finish: it re-plans from the live state.\n";
    if report.only_transient_failures() {
        return again.to_string();
    }
    let mut text = String::from(
        "Running `cfsecrets apply` again will fail the same way until this is changed:\n",
    );
    for cause in report.permanent_causes() {
        let advice = match cause {
            FailureCause::ValueTooLong => format!(
                "the account refuses a value this long (secret_value_too_long): some accounts \
                 still accept at most {WARN_VALUE_BYTES} bytes, the documented limit is \
                 {MAX_VALUE_BYTES}; shorten the value named above (`cfsecrets secret set`) or \
                 remove it from the manifest"
            ),
            FailureCause::SecretQuota => "the account's secret quota is full \
                 (maximum_secrets_exceeded): delete secrets it no longer needs, or ask \
                 Cloudflare to raise the quota"
                .to_string(),
            FailureCause::StoreLimit => "the account cannot hold another store \
                 (maximum_stores_exceeded): declare the store the account already has, or \
                 delete the other store first"
                .to_string(),
            FailureCause::Credentials => "the credentials were refused: check \
                 CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL) and that \
                 the token has Secrets Store Read and Write for this account"
                .to_string(),
            FailureCause::Scopes => "a scope was refused (secret_scope_invalid or \
                 secret_scopes_empty): fix the scopes of the secret named above in the manifest"
                .to_string(),
            FailureCause::Refused => "the API refused a request (the error above names it): \
                 change what it names first"
                .to_string(),
            FailureCause::Verification => "a check apply makes on its own work failed (see \
                 above): look at the store before running apply again"
                .to_string(),
            FailureCause::Transient => continue,
        };
        text.push_str(&format!("  - {advice}\n"));
    }
    if report.any_transient_failure() {
        text.push_str(
            "The other failures were transient: once the above is fixed, run `cfsecrets apply` \
             again to finish.\n",
        );
    }
    text
}

/// Asks on the terminal; anything but `yes` cancels.
fn confirm(out: &mut Output, plan: &Plan) -> anyhow::Result<()> {
    out.eprint(&format!(
        "\nApply these changes ({})? Only `yes` is accepted: ",
        count(
            plan.summary.write_requests as usize,
            "write request",
            "write requests"
        )
    ))?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the confirmation")?;
    if answer.trim() != "yes" {
        anyhow::bail!("apply cancelled; nothing was written");
    }
    Ok(())
}
