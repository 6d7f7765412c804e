//! `cfsecrets plan`: load the manifest, unseal the values (when an identity is present),
//! read the live state, diff, render, optionally save the plan with a digest of its inputs.
//!
//! [`prepare`] is the shared front half of `plan` and `apply`; [`client_from`] builds the
//! client for every command that talks to the API (`import` too).
//!
//! Exit codes: 0 (no changes, or changes without `--detailed-exitcode`), 2 (changes, with
//! `--detailed-exitcode`), 3 (blocked by a safety rule), 1 (an error, or a plan with problems).
//!
//! Hidden test knob: `CFSECRETS_RETRY_BASE_MS` sets the client's first backoff delay and caps
//! every wait (backoff and `Retry-After`) at 16 times it, so fault-injection tests run fast;
//! `CFSECRETS_RATE_WINDOW_MS` shortens the pacer's 5-minute window, so a test can meet the
//! "waiting for the request budget" line in seconds.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::{ApiArgs, GlobalArgs, PlanArgs, PlanFormat};
use crate::cloudflare::{Client, ClientConfig, PacerWait};
use crate::commands::{AlreadyReported, Env, Status, identity_missing};
use crate::domain::AccountId;
use crate::fs::WriteOptions;
use crate::live::{self, LiveState};
use crate::manifest::{Desired, Severity};
use crate::output::{Output, count};
use crate::plan::{self, Plan, PlanDigest, PlanOptions, ValueFact, ValueFacts};
use crate::values::{self, FingerprintKey, UnsealedValues};

/// Environment variable for the hidden retry-delay knob (tests).
pub const ENV_RETRY_BASE_MS: &str = "CFSECRETS_RETRY_BASE_MS";
/// Environment variable for the hidden pacer-window knob (tests): the `--rate-limit` budget
/// then counts per this many milliseconds instead of per 5 minutes.
pub const ENV_RATE_WINDOW_MS: &str = "CFSECRETS_RATE_WINDOW_MS";

/// Builds the API client from `--api-url`/`CLOUDFLARE_API_BASE_URL`, the credential variables
/// and `--rate-limit`.
pub fn client_from(api: &ApiArgs, env: &Env) -> anyhow::Result<Client> {
    let mut config = ClientConfig::from_env(&api.api_url, &|k| env.get(k))
        .context("cannot configure the cloudflare client")?;
    config.rate_limit_per_5min = api.rate_limit;
    if let Some(ms) = env
        .get(ENV_RETRY_BASE_MS)
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        let base = Duration::from_millis(ms);
        config.base_delay = base;
        config.max_delay = base * 16;
        config.max_retry_after = base * 16;
    }
    if let Some(ms) = env
        .get(ENV_RATE_WINDOW_MS)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
    {
        config.rate_window = Duration::from_millis(ms);
    }
    Client::new(config).context("cannot configure the cloudflare client")
}

/// The status line for a wait announced by the pacer, e.g. `waiting 42s for the request
/// budget (1200 per 5 minutes)`.
pub fn pacer_wait_line(wait: &PacerWait) -> String {
    let window = wait.window;
    let per = if window.as_millis().is_multiple_of(60_000) {
        count((window.as_secs() / 60) as usize, "minute", "minutes")
    } else if window.as_millis().is_multiple_of(1000) {
        count(window.as_secs() as usize, "second", "seconds")
    } else {
        format!("{} ms", window.as_millis())
    };
    let per = per.strip_prefix("1 ").unwrap_or(&per).to_string();
    format!(
        "waiting {}s for the request budget ({} per {per}; see --rate-limit)",
        wait.wait.as_secs_f64().ceil() as u64,
        wait.limit
    )
}

/// Runs `work` while the client's pacer may hold requests back, handing `note` one line per
/// announced wait (the client never prints; the caller decides where the line goes).
pub async fn watching_pacer<F: std::future::Future>(
    client: &Client,
    work: F,
    mut note: impl FnMut(String),
) -> F::Output {
    let mut waits = client.pacer_waits();
    waits.mark_unchanged();
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            Ok(()) = waits.changed() => {
                let wait = *waits.borrow_and_update();
                if let Some(wait) = wait {
                    note(pacer_wait_line(&wait));
                }
            }
        }
    }
}

/// What `plan` and `apply` share: the validated manifest, the plan (digest filled), the
/// unseal results and the client.
pub struct Prepared {
    pub desired: Desired,
    pub plan: Plan,
    /// The live state the plan was made from.
    pub live: LiveState,
    /// Empty without an identity.
    pub values: UnsealedValues,
    /// `None` without an identity.
    pub key: Option<FingerprintKey>,
    pub client: Client,
}

/// Loads, unseals, fetches and plans. Without an identity the plan is made in "values not
/// compared" mode unless `need_identity` (apply), which makes it an error.
pub async fn prepare(
    out: &mut Output,
    global: &GlobalArgs,
    api: &ApiArgs,
    allow_deletes: Option<u32>,
    need_identity: bool,
) -> anyhow::Result<Prepared> {
    let desired = crate::commands::load_manifest(out, global)?;
    // Credentials are checked before anything is decrypted.
    let client = client_from(api, &global.env)?;

    let ids = crate::commands::identities(global)?;
    // A manifest whose secrets are all `value: keep` or absent holds no value to compare: its
    // plan is complete without an identity.
    let counts = desired.counts();
    let holds_values = counts.secrets > counts.absent + counts.kept;
    let (values, key) = match &ids {
        None if holds_values && need_identity => {
            return Err(identity_missing("apply needs an identity to unseal values").into());
        }
        // Without an identity the plan says, once, that values were not compared.
        None => (UnsealedValues::new(), None),
        Some(ids) => {
            let key = FingerprintKey::load(&desired.fingerprint_key, ids).with_context(|| {
                format!(
                    "cannot unseal the fingerprint key {}",
                    desired.fingerprint_key.display()
                )
            })?;
            let (values, problems) = values::unseal_all(&desired, ids);
            let mut errors = 0;
            for problem in &problems {
                match problem.severity() {
                    Severity::Error => {
                        errors += 1;
                        out.eprint(&format!("error: {problem}\n"))?;
                    }
                    Severity::Warning => out.warn(&problem.to_string())?,
                }
            }
            if errors > 0 {
                let msg = format!("{} could not be unsealed", count(errors, "value", "values"));
                out.eprint(&format!("{msg}\n"))?;
                return Err(AlreadyReported(msg).into());
            }
            (values, Some(key))
        }
    };
    let facts = value_facts(&values, key.as_ref(), holds_values);

    let accounts: Vec<AccountId> = desired
        .accounts
        .iter()
        .map(|a| a.account_id.clone())
        .collect();
    out.status(&format!(
        "reading live state of {} from {}",
        count(accounts.len(), "account", "accounts"),
        client.base_url()
    ))?;
    let live = watching_pacer(&client, live::fetch(&client, &accounts), |line| {
        let _ = out.status(&line);
    })
    .await
    .context("cannot read the live state")?;

    let options = PlanOptions {
        allow_deletes,
        ..PlanOptions::default()
    };
    let mut plan = plan::diff(&desired, &live, &facts, &options);
    let mut inputs = digest(&desired, &live)?;
    inputs.allow_deletes = allow_deletes;
    plan.digest = Some(inputs);
    Ok(Prepared {
        desired,
        plan,
        live,
        values,
        key,
        client,
    })
}

/// What the planner learns of the values: each one's fingerprint and length once unsealed.
/// Without an identity the values are not compared, unless the manifest holds none to
/// compare (every secret `value: keep` or absent): that plan is complete without one.
fn value_facts(
    values: &UnsealedValues,
    key: Option<&FingerprintKey>,
    holds_values: bool,
) -> ValueFacts {
    match key {
        Some(key) => values
            .iter()
            .map(|(k, v)| {
                let fact = ValueFact {
                    fingerprint: key.fingerprint(v),
                    len: v.len(),
                };
                (k.clone(), fact)
            })
            .collect(),
        None if !holds_values => ValueFacts::Compared(BTreeMap::new()),
        None => ValueFacts::NotCompared,
    }
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(values::index::sha256_hex(&bytes))
}

/// How a sealed file is named (in the digest, by `reseal`): as the manifest writes it,
/// relative to the manifest's directory.
pub(crate) fn shown_path(desired: &Desired, path: &Path) -> String {
    path.strip_prefix(&desired.base_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The digest of a plan's inputs: manifest, each sealed file (fingerprint key included), the
/// live snapshot as a whole and per account label.
pub fn digest(desired: &Desired, live: &LiveState) -> anyhow::Result<PlanDigest> {
    let manifest = sha256_file(&desired.manifest_path)?;
    let mut values = BTreeMap::new();
    for path in values::layout::sealed_files_of(desired) {
        values.insert(shown_path(desired, &path), sha256_file(&path)?);
    }
    let live_accounts = desired
        .accounts
        .iter()
        .map(|a| {
            let one = LiveState {
                accounts: live.account(&a.account_id).cloned().into_iter().collect(),
            };
            (a.label.clone(), plan::live_digest(&one))
        })
        .collect();
    Ok(PlanDigest {
        manifest,
        values,
        live: plan::live_digest(live),
        live_accounts,
        allow_deletes: None,
    })
}

/// Renders the plan in `format` (text gets the output's palette).
pub fn render(out: &Output, plan: &Plan, format: PlanFormat) -> String {
    match format {
        PlanFormat::Text => plan::render::text(plan, &out.palette()),
        PlanFormat::Markdown => plan::render::markdown(plan),
        PlanFormat::Json => plan::render::json(plan),
    }
}

/// Checks, before any network call, that `--out PATH` can be created: its directory exists
/// and is a directory. Shared by `plan` and `import`.
pub fn check_out_dir(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => anyhow::bail!(
            "cannot write --out {}: {} is not a directory",
            path.display(),
            parent.display()
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "cannot write --out {}: the directory {} does not exist",
            path.display(),
            parent.display()
        ),
        Err(err) => Err(err).with_context(|| format!("cannot check --out {}", path.display())),
    }
}

/// Refuses an `--out` path that holds something other than a saved plan: a slip like
/// `--out cfsecrets.yaml` or `--out me.key` must not replace the manifest, a sealed value or
/// a private key. A missing file, or an earlier saved plan (any JSON object with
/// `format_version`), may be written.
fn check_out_path(path: &Path) -> anyhow::Result<()> {
    check_out_dir(path)?;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot check --out {}", path.display()));
        }
    };
    let is_plan = serde_json::from_slice::<serde_json::Value>(&bytes)
        .is_ok_and(|v| v.get("format_version").is_some());
    if !is_plan {
        anyhow::bail!(
            "refusing to overwrite {}: it exists and is not a plan saved by `cfsecrets plan \
             --out`; choose another --out path",
            path.display()
        );
    }
    Ok(())
}

pub async fn run(out: &mut Output, global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Status> {
    if let Some(path) = &args.out {
        check_out_path(path)?;
    }
    let prepared = prepare(out, global, &args.api, args.allow_deletes, false).await?;
    let plan = &prepared.plan;
    out.print(&render(out, plan, args.format))
        .context("cannot write to stdout")?;
    if let Some(path) = &args.out {
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
    }
    status_of(out, plan, args.detailed_exitcode)
}

/// The exit status of a plan: problems → error (1); blocked → 3; changes → 2 with
/// `--detailed-exitcode`; else 0.
pub fn status_of(out: &mut Output, plan: &Plan, detailed: bool) -> anyhow::Result<Status> {
    if plan.has_problems() {
        let msg = crate::plan::RefusedPlan::Problems(plan.problems.len()).to_string();
        out.error(&anyhow::anyhow!(msg.clone()))?;
        return Err(AlreadyReported(msg).into());
    }
    if plan.is_blocked() {
        out.warn(
            "the plan is blocked by a safety rule; `apply` refuses it (raise the thresholds in \
             `safety:` or pass --allow-deletes N)",
        )?;
        return Ok(Status::Blocked);
    }
    if detailed && plan.has_changes() {
        return Ok(Status::Changes);
    }
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_lines_name_the_wait_and_the_budget() {
        let line = |secs: f64, limit, window_ms| {
            pacer_wait_line(&PacerWait {
                wait: Duration::from_secs_f64(secs),
                limit,
                window: Duration::from_millis(window_ms),
            })
        };
        assert_eq!(
            line(41.2, 3, 300_000),
            "waiting 42s for the request budget (3 per 5 minutes; see --rate-limit)"
        );
        assert!(line(1.5, 1200, 60_000).contains("(1200 per minute;"));
        assert!(line(1.5, 2, 1500).contains("(2 per 1500 ms;"));
    }
}
