//! What commands share: the [`Context`] every command runs in (where to print, the global
//! flags, the environment) and the steps that more than one command takes — load the
//! manifest, find the identities, build the client, wait under the pacer, unseal, read the
//! live state and plan ([`Context::prepare`]), digest the inputs, check an `--out` path.
//!
//! A command file is a script of these calls and of calls into the library's rooms; a step
//! that a second command needs moves here rather than being imported from the first.
//!
//! Hidden test knobs: `CFSECRETS_RETRY_BASE_MS` sets the client's first backoff delay and
//! caps every wait (backoff and `Retry-After`) at 16 times it, so fault-injection tests run
//! fast; `CFSECRETS_RATE_WINDOW_MS` shortens the pacer's 5-minute window, so a test can meet
//! the "waiting for the request budget" line in seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::{ApiArgs, GlobalArgs};
use crate::cloudflare::{Client, ClientConfig, PacerWait};
use crate::commands::{AlreadyReported, UsageError};
use crate::domain::{AccountId, MAX_DIGESTED_FILE_BYTES, MAX_MANIFEST_FILE_BYTES};
use crate::env::Env;
use crate::live::{self, LiveState};
use crate::manifest::{self, Desired, DesiredAccount, DesiredStore, Diagnostics, Severity};
use crate::output::Output;
use crate::plan::{self, Plan, PlanDigest, PlanOptions, ValueFact, ValueFacts};
use crate::text::{count, printable};
use crate::values::{
    self, FingerprintKey, Identities, ProblemKind, Recipients, UnsealedValues, ValueProblem,
};
use crate::wrangler::{self, WranglerConfig};

/// Environment variable for the hidden retry-delay knob (tests).
const ENV_RETRY_BASE_MS: &str = "CFSECRETS_RETRY_BASE_MS";
/// Environment variable for the hidden pacer-window knob (tests): the `--rate-limit` budget
/// then counts per this many milliseconds instead of per 5 minutes.
const ENV_RATE_WINDOW_MS: &str = "CFSECRETS_RATE_WINDOW_MS";

/// What a command runs with: where to print, the global flags, and the environment (which
/// travels beside the parsed command line, never inside it).
pub(crate) struct Context<'a> {
    pub(crate) out: &'a mut Output,
    pub(crate) global: &'a GlobalArgs,
    pub(crate) env: &'a Env,
}

/// What `plan` and `apply` share: the plan (digest filled), the unseal results and the
/// client.
pub(crate) struct Prepared {
    pub(crate) plan: Plan,
    /// The live state the plan was made from (the applier starts its own bookkeeping there).
    pub(crate) live: LiveState,
    /// Empty without an identity.
    pub(crate) values: UnsealedValues,
    /// `None` without an identity.
    pub(crate) key: Option<FingerprintKey>,
    pub(crate) client: Client,
    /// Bindings (`--wrangler`) whose `store_id` or secret does not match the managed stores:
    /// the command shows the plan, then fails with these.
    pub(crate) binding_errors: Diagnostics,
}

/// The Workers bindings `plan` and `apply` check the plan against (`--wrangler`,
/// `--allow-binding-breaks`); empty `paths` checks none.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bindings {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) allow_breaks: bool,
}

/// Whether a command may plan without an identity (`plan`: values are then not compared) or
/// needs one to go on (`apply`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    Optional,
    Required,
}

impl Context<'_> {
    // ── the manifest ────────────────────────────────────────────────────────────────────

    /// Loads and validates the manifest named by `-f`, taking a missing account id from
    /// `CLOUDFLARE_ACCOUNT_ID`. Warnings are printed and the run goes on; errors are printed
    /// in full and the error then exits 1.
    pub(crate) fn load_manifest(&mut self) -> anyhow::Result<Desired> {
        let env_account_id = self.env.get("CLOUDFLARE_ACCOUNT_ID");
        match manifest::load(&self.global.manifest, env_account_id.as_deref()).into_result() {
            Ok((desired, warnings)) => {
                self.print_diagnostics(&warnings)?;
                Ok(desired)
            }
            Err(diagnostics) => Err(self.report(&diagnostics)?),
        }
    }

    /// The offline checks `check` makes (without `--decrypt` or `--wrangler`), which every
    /// command that reads the manifest runs before anything else (invariant 6): the manifest
    /// is loaded and validated ([`Context::load_manifest`]), and the recipients file it names
    /// is read and every line of it checked. No request, no identity, no write. Every problem
    /// is printed; the error then exits 1.
    pub(crate) fn load_checked(&mut self) -> anyhow::Result<(Desired, Recipients)> {
        let desired = self.load_manifest()?;
        match Recipients::from_file(&desired.recipients_file) {
            Ok(recipients) => Ok((desired, recipients)),
            Err(err) => {
                // One problem per line (a recipients file reports every bad line).
                let text = err.to_string();
                let lines: Vec<String> = text.lines().map(|l| format!("error: {l}\n")).collect();
                Err(self.failed(lines.concat(), lines.len(), 0)?)
            }
        }
    }

    /// Prints diagnostics to stderr, one per line (nothing when there are none).
    pub(crate) fn print_diagnostics(&mut self, diagnostics: &Diagnostics) -> anyhow::Result<()> {
        if !diagnostics.is_empty() {
            self.out.eprint(&format!("{diagnostics}\n"))?;
        }
        Ok(())
    }

    /// Prints every diagnostic and a count line to stderr; returns the error to exit 1 with.
    pub(crate) fn report(&mut self, diagnostics: &Diagnostics) -> anyhow::Result<anyhow::Error> {
        let mut text = String::new();
        for d in diagnostics.iter() {
            text.push_str(&d.to_string());
            text.push('\n');
        }
        let errors = diagnostics.error_count();
        let warnings = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        self.failed(text, errors, warnings)
    }

    /// Prints `text` and the `check failed: N errors, M warnings` line; returns the error to
    /// exit 1 with.
    pub(crate) fn failed(
        &mut self,
        mut text: String,
        errors: usize,
        warnings: usize,
    ) -> anyhow::Result<anyhow::Error> {
        let mut tally = count(errors, "error", "errors");
        if warnings > 0 {
            tally.push_str(&format!(", {}", count(warnings, "warning", "warnings")));
        }
        text.push_str(&format!("check failed: {tally}\n"));
        self.out.eprint(&text).context("cannot write to stderr")?;
        Ok(AlreadyReported(format!("check failed: {tally}")).into())
    }

    // ── identities and the client ───────────────────────────────────────────────────────

    /// The identities from `-i` and the environment; `None` when none was supplied.
    pub(crate) fn identities(&self) -> anyhow::Result<Option<Identities>> {
        Ok(Identities::from_sources(
            &self.global.identities,
            &|name| self.env.get(name),
        )?)
    }

    /// The identities, for a command that cannot go on without one; `why` opens the usage
    /// error (e.g. `reseal needs an identity to decrypt with`).
    pub(crate) fn require_identities(&self, why: &str) -> anyhow::Result<Identities> {
        self.identities()?
            .ok_or_else(|| identity_missing(why).into())
    }

    /// The API client from `--api-url`/`CLOUDFLARE_API_BASE_URL`, the credential variables
    /// and `--rate-limit`.
    pub(crate) fn client(&self, api: &ApiArgs) -> anyhow::Result<Client> {
        let env = self.env;
        let mut config = ClientConfig::from_env(&api.api_url, &|k| env.get(k))
            .context("cannot configure the cloudflare client")?;
        config.rate_limit_per_5min = api.rate_limit;
        let millis = |name| env.get(name).and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(ms) = millis(ENV_RETRY_BASE_MS) {
            let base = Duration::from_millis(ms);
            config.base_delay = base;
            config.max_delay = base * 16;
            config.max_retry_after = base * 16;
        }
        if let Some(ms) = millis(ENV_RATE_WINDOW_MS).filter(|ms| *ms > 0) {
            config.rate_window = Duration::from_millis(ms);
        }
        Client::new(config).context("cannot configure the cloudflare client")
    }

    /// Runs `work` with the client, printing a status line for each wait the pacer
    /// announces.
    pub(crate) async fn paced<F: std::future::Future>(
        &mut self,
        client: &Client,
        work: F,
    ) -> F::Output {
        let out = &mut *self.out;
        watching_pacer(client, work, |line| {
            let _ = out.status(&line);
        })
        .await
    }

    // ── plan and apply: load, unseal, read the live state, plan ─────────────────────────

    /// Loads, unseals, fetches and plans. Without an identity the plan is made in "values
    /// not compared" mode, unless the command requires one, which makes it an error. With
    /// `bindings`, the wrangler configs are read and checked before any request, and against
    /// the plan once it is made.
    pub(crate) async fn prepare(
        &mut self,
        api: &ApiArgs,
        allow_deletes: Option<u32>,
        identity: Identity,
        bindings: &Bindings,
    ) -> anyhow::Result<Prepared> {
        // Everything `check` checks, before any request.
        let (desired, _) = self.load_checked()?;
        let configs = self.load_wrangler(bindings)?;
        // Credentials are checked before anything is decrypted.
        let client = self.client(api)?;
        let (values, key, facts) = self.unseal(&desired, identity)?;
        let live = self.read_live(&client, &desired).await?;
        let options = PlanOptions {
            allow_deletes,
            ..PlanOptions::default()
        };
        let mut plan = plan::diff(&desired, &live, &facts, &options);
        let mut inputs = digest(&desired, &live)?;
        inputs.allow_deletes = allow_deletes;
        let binding_errors =
            check_bindings(&mut plan, &mut inputs, &desired, &live, &configs, bindings)?;
        plan.digest = Some(inputs);
        Ok(Prepared {
            plan,
            live,
            values,
            key,
            client,
            binding_errors,
        })
    }

    /// Reads the wrangler configs `bindings` names and checks the shape of their bindings,
    /// offline: errors are printed and exit 1, warnings printed. Which secret each binding
    /// reads is checked once the live state and the plan are known ([`check_bindings`]).
    fn load_wrangler(&mut self, bindings: &Bindings) -> anyhow::Result<Vec<WranglerConfig>> {
        if bindings.paths.is_empty() {
            if bindings.allow_breaks {
                self.out
                    .warn("--allow-binding-breaks does nothing without --wrangler")?;
            }
            return Ok(Vec::new());
        }
        let (configs, diagnostics) = wrangler::load_and_check_shapes(&bindings.paths);
        if diagnostics.has_errors() {
            return Err(self.report(&diagnostics)?);
        }
        self.print_diagnostics(&diagnostics)?;
        Ok(configs)
    }

    /// Unseals the fingerprint key and every value, printing each problem; returns the
    /// values, the key and what the planner learns of them. Without an identity nothing is
    /// unsealed.
    fn unseal(
        &mut self,
        desired: &Desired,
        identity: Identity,
    ) -> anyhow::Result<(UnsealedValues, Option<FingerprintKey>, ValueFacts)> {
        // A manifest whose secrets are all `value: keep` or absent holds no value to compare:
        // its plan is complete without an identity.
        let counts = desired.counts();
        let holds_values = counts.secrets > counts.absent + counts.kept;
        let Some(ids) = self.identities()? else {
            if holds_values && identity == Identity::Required {
                return Err(identity_missing("apply needs an identity to unseal values").into());
            }
            // Without an identity the plan says, once, that values were not compared.
            let facts = value_facts(&UnsealedValues::new(), None, holds_values);
            return Ok((UnsealedValues::new(), None, facts));
        };
        let key = FingerprintKey::load(&desired.fingerprint_key, &ids).with_context(|| {
            format!(
                "cannot unseal the fingerprint key {}",
                desired.fingerprint_key.display()
            )
        })?;
        let (values, mut problems) = values::unseal_all(desired, &ids);
        // A value over the API's limit is a problem of the plan, which names the secret and
        // refuses to be applied; the planner has its length.
        problems.retain(|problem| !matches!(problem.kind, ProblemKind::TooLarge { .. }));
        self.report_value_problems(&problems)?;
        let facts = value_facts(&values, Some(&key), holds_values);
        Ok((values, Some(key), facts))
    }

    /// Prints each problem unsealing found; an error (exit 1) when any is an error.
    pub(crate) fn report_value_problems(
        &mut self,
        problems: &[ValueProblem],
    ) -> anyhow::Result<()> {
        let mut errors = 0;
        for problem in problems {
            match problem.severity() {
                Severity::Error => {
                    errors += 1;
                    self.out.eprint(&format!("error: {problem}\n"))?;
                }
                Severity::Warning => self.out.warn(&problem.to_string())?,
            }
        }
        if errors > 0 {
            anyhow::bail!("{} could not be unsealed", count(errors, "value", "values"));
        }
        Ok(())
    }

    /// The live state of every account the manifest declares.
    async fn read_live(&mut self, client: &Client, desired: &Desired) -> anyhow::Result<LiveState> {
        let accounts: Vec<AccountId> = desired
            .accounts
            .iter()
            .map(|a| a.account_id.clone())
            .collect();
        self.out.status(&format!(
            "reading live state of {} from {}",
            count(accounts.len(), "account", "accounts"),
            client.base_url()
        ))?;
        self.paced(client, live::fetch(client, &accounts))
            .await
            .context("cannot read the live state")
    }
}

/// The usage error for a command that cannot go on without an identity; `why` opens it
/// and the rest says how to supply one.
pub(crate) fn identity_missing(why: &str) -> UsageError {
    UsageError(format!(
        "{why}: pass -i FILE or set CFSECRETS_AGE_KEY or CFSECRETS_AGE_KEY_FILE"
    ))
}

/// The status line for a wait announced by the pacer, e.g. `waiting 42s for the request
/// budget (1200 per 5 minutes)`.
fn pacer_wait_line(wait: &PacerWait) -> String {
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
/// announced wait (the client never prints; the caller decides where the line goes — a
/// status line, or above a progress bar).
pub(crate) async fn watching_pacer<F: std::future::Future>(
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

/// The hex SHA-256 of the file at `path`, read through the bounded reader (at most `limit`
/// bytes, a regular file only).
fn sha256_file(path: &Path, limit: u64) -> anyhow::Result<String> {
    let bytes = crate::fs::read_bounded(path, limit)?;
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
fn digest(desired: &Desired, live: &LiveState) -> anyhow::Result<PlanDigest> {
    let manifest = sha256_file(&desired.manifest_path, MAX_MANIFEST_FILE_BYTES)?;
    let mut values = BTreeMap::new();
    for path in values::layout::sealed_files_of(desired) {
        let digest = sha256_file(&path, MAX_DIGESTED_FILE_BYTES)?;
        values.insert(shown_path(desired, &path), digest);
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
        wrangler: BTreeMap::new(),
        allow_binding_breaks: false,
    })
}

/// Checks every binding of `configs` against the managed stores and the plan
/// ([`wrangler::check_live`]): a binding the plan breaks blocks it (or, allowed, is a
/// warning), and the configs and the allowance enter the digest. Returns the bindings whose
/// store or secret does not match.
fn check_bindings(
    plan: &mut Plan,
    inputs: &mut PlanDigest,
    desired: &Desired,
    live: &LiveState,
    configs: &[WranglerConfig],
    bindings: &Bindings,
) -> anyhow::Result<Diagnostics> {
    if configs.is_empty() {
        return Ok(Diagnostics::new());
    }
    for config in configs {
        inputs
            .wrangler
            .insert(config.path.display().to_string(), config.sha256.clone());
    }
    inputs.allow_binding_breaks = bindings.allow_breaks;
    let report = wrangler::check_live(
        configs,
        &plan::bindings::managed_stores(desired, live),
        &wrangler::Declared::from_desired(desired),
        &plan::bindings::planned_breaks(plan),
    );
    let checked = plan::bindings::BindingsChecked {
        bindings: configs.iter().map(|c| c.bindings.len()).sum(),
        configs: configs.len(),
    };
    plan::bindings::record(plan, live, &report.broken, bindings.allow_breaks, checked);
    Ok(report.diagnostics)
}

/// Checks, before any network call, that `--out PATH` can be created: its directory exists
/// and is a directory. Shared by `plan` and `import`.
pub(crate) fn check_out_dir(path: &Path) -> anyhow::Result<()> {
    let parent = crate::fs::dir_of(path);
    match std::fs::metadata(&parent) {
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

/// The manifest account labelled `label` (exit 64 naming the labels there are).
pub(crate) fn find_account<'a>(
    accounts: &'a [DesiredAccount],
    label: &str,
    manifest: &str,
) -> anyhow::Result<&'a DesiredAccount> {
    accounts.iter().find(|a| a.label == label).ok_or_else(|| {
        let labels: Vec<&str> = accounts.iter().map(|a| a.label.as_str()).collect();
        UsageError(format!(
            "no account {:?} in {manifest} (accounts: {})",
            printable(label),
            labels.join(", ")
        ))
        .into()
    })
}

/// The account's store `name`, or its only store (exit 64 naming the stores there are).
pub(crate) fn find_store<'a>(
    account: &'a DesiredAccount,
    name: Option<&str>,
) -> anyhow::Result<&'a DesiredStore> {
    let names: Vec<&str> = account.stores.iter().map(|s| s.name.as_str()).collect();
    match name {
        Some(name) => account
            .stores
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                UsageError(format!(
                    "account {} has no store {:?} (stores: {})",
                    account.label,
                    printable(name),
                    names.join(", ")
                ))
                .into()
            }),
        None => match account.stores.as_slice() {
            [only] => Ok(only),
            _ => Err(UsageError(format!(
                "account {} has {} stores ({}): pass --store NAME",
                account.label,
                names.len(),
                names.join(", ")
            ))
            .into()),
        },
    }
}

/// "1 recipient", "2 recipients" (distinct keys).
pub(crate) fn recipients_count(r: &Recipients) -> String {
    count(r.sorted().len(), "recipient", "recipients")
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
