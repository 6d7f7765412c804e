//! The benchmark: prints its figures in one run; it asserts nothing about speed.
//!
//! ```sh
//! cargo run --release --example bench
//! ```
//!
//! It builds a throw-away project with the library (a fresh identity, `.age-recipients`, a
//! sealed fingerprint key, [`N`] sealed values and a manifest), starts the emulator in-process
//! on 127.0.0.1 with [`LATENCY_MS`] of added latency per request (standing in for the
//! network), and measures:
//!
//! 1. `apply` throughput against `--parallelism`: the real command, in-process, each run
//!    updating every value (one PATCH per secret);
//! 2. the pacer: the library's applier with a client whose sliding window is shortened to
//!    [`PACER_WINDOW`], so that a budget binds within seconds instead of 5 minutes;
//! 3. the pure planner, `plan::diff`, on synthetic states, and the three renderers.
//!
//! Values and the identity are never printed: command output is captured (only its last
//! lines are shown, if a step fails) and checked to contain none of them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use rand::RngCore;
use zeroize::Zeroizing;

use cfsecrets::apply::Applier;
use cfsecrets::cloudflare::{Auth, Client, ClientConfig, Credential};
use cfsecrets::commands::{Env, run_args};
use cfsecrets::domain::{AccountId, Fingerprint, Scope, SecretName};
use cfsecrets::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultConfig};
use cfsecrets::fs::{WriteOptions, write_atomic};
use cfsecrets::live::{LiveAccount, LiveSecret, LiveState, LiveStore, Quota, SecretStatus};
use cfsecrets::manifest::{
    Desired, DesiredAccount, DesiredSecret, DesiredStore, PresentSecret, Prune, Safety, ValueSource,
};
use cfsecrets::marker::{self, Marker};
use cfsecrets::output::{Output, Palette};
use cfsecrets::plan::{self, Plan, PlanOptions, ValueFact, ValueFacts, ValueKey};
use cfsecrets::values::{FingerprintKey, Identities, Recipients, seal, unseal_all};

/// Secrets in the apply benchmark (the emulator's default quota is 100 per account).
const N: usize = 90;
/// Latency the emulator adds before answering each API request.
const LATENCY_MS: u64 = 25;
/// `--parallelism` values measured, each [`APPLY_REPEATS`] times (the median is reported).
const PARALLELISM: [usize; 4] = [1, 2, 4, 8];
const APPLY_REPEATS: usize = 3;
/// The pacer run: this many requests per [`PACER_WINDOW`], at parallelism [`PACER_PARALLELISM`].
const PACER_BUDGET: u32 = 30;
const PACER_WINDOW: Duration = Duration::from_secs(1);
const PACER_PARALLELISM: usize = 8;
/// Planner sizes: accounts of [`SECRETS_PER_ACCOUNT`] declared secrets each.
const PLANNER_ACCOUNTS: [usize; 3] = [1, 10, 50];
const SECRETS_PER_ACCOUNT: usize = 100;
/// Timed repetitions per planner and renderer figure (the median is reported).
const ITERATIONS: usize = 21;

/// The emulator's token for this run; it guards nothing but this process.
const TOKEN: &str = "bench-emulator-token";
const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
const STORE: &str = "default_secrets_store";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    header();

    let faults = FaultConfig {
        latency_ms: LATENCY_MS,
        ..FaultConfig::default()
    };
    let config = EmulatorConfig {
        token: Some(TOKEN.to_string()),
        seed: Some(1),
        faults,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .context("cannot start the emulator")?;
    let mut project = Project::new(N)?;

    let result = async {
        apply_throughput(&emulator, &mut project).await?;
        pacer(&emulator, &mut project).await?;
        project.check_no_leak()
    }
    .await;
    emulator.shutdown().await;
    result?;

    planner()?;
    Ok(())
}

fn header() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".to_string());
    let profile = if cfg!(debug_assertions) {
        "debug (figures are not representative: use --release)"
    } else {
        "release"
    };
    println!("cfsecrets benchmark");
    println!("  machine:   {cpus} logical cpu(s), {model}");
    println!("  build:     {profile}");
    println!(
        "  emulator:  in-process on 127.0.0.1, +{LATENCY_MS} ms per API request (stands in for the network)"
    );
    println!(
        "  apply:     N={N} secrets in one store; parallelism {PARALLELISM:?}; median of {APPLY_REPEATS} runs each"
    );
    println!(
        "  pacer:     {PACER_BUDGET} requests per {} s sliding window, parallelism {PACER_PARALLELISM}",
        PACER_WINDOW.as_secs()
    );
    println!(
        "  planner:   {PLANNER_ACCOUNTS:?} accounts x {SECRETS_PER_ACCOUNT} secrets; median of {ITERATIONS}"
    );
    println!();
}

// ── The project ─────────────────────────────────────────────────────────────────────────

/// A byte sink shared between the captured stdout and stderr of command runs.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// A temporary project: identity (kept in memory only), recipients, sealed fingerprint key,
/// `n` sealed values and a manifest, all made with the library.
struct Project {
    dir: tempfile::TempDir,
    n: usize,
    identity: Zeroizing<String>,
    recipients: Recipients,
    /// Every plaintext ever sealed, for the leak check.
    plaintexts: Vec<Zeroizing<String>>,
    /// Every captured output of every command run.
    outputs: Vec<String>,
    round: usize,
}

impl Project {
    fn new(n: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let ids = Identities::generate();
        let identity = ids.to_file_text("benchmark run");
        let public = ids.to_recipients();
        let recipients = Recipients::from_strings(&public)?;
        std::fs::write(
            dir.path().join(".age-recipients"),
            format!("# benchmark\n{}\n", public.join("\n")),
        )
        .context("cannot write .age-recipients")?;
        let key = FingerprintKey::generate();
        write_atomic(
            &dir.path().join("keys/fingerprint.age"),
            &key.seal(&recipients)?,
            WriteOptions::replace(),
        )?;
        let mut manifest = format!(
            "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
             defaults:\n  scopes: [workers]\naccounts:\n  bench:\n    account_id: {ACCOUNT}\n    \
             stores:\n      {STORE}:\n        secrets:\n"
        );
        for i in 0..n {
            manifest.push_str(&format!(
                "          {}:\n            value: values/{}.age\n            comment: benchmark secret {i}\n",
                secret_name(i),
                secret_name(i)
            ));
        }
        std::fs::write(dir.path().join("cfsecrets.yaml"), manifest)
            .context("cannot write the manifest")?;
        let mut project = Self {
            dir,
            n,
            identity,
            recipients,
            plaintexts: Vec::new(),
            outputs: Vec::new(),
            round: 0,
        };
        project.reseal_all()?;
        Ok(project)
    }

    fn manifest(&self) -> PathBuf {
        self.dir.path().join("cfsecrets.yaml")
    }

    /// Seals a new random plaintext into every value file; returns how long that took.
    fn reseal_all(&mut self) -> anyhow::Result<Duration> {
        self.round += 1;
        let started = Instant::now();
        for i in 0..self.n {
            let mut random = [0u8; 12];
            rand::rng().fill_bytes(&mut random);
            let plaintext = Zeroizing::new(format!(
                "bench-value-{}-{i}-{}",
                self.round,
                hex::encode(random)
            ));
            let sealed = seal(plaintext.as_bytes(), &self.recipients)?;
            let path = self
                .dir
                .path()
                .join(format!("values/{}.age", secret_name(i)));
            write_atomic(&path, &sealed, WriteOptions::replace())?;
            self.plaintexts.push(plaintext);
        }
        Ok(started.elapsed())
    }

    fn env(&self) -> Env {
        Env::fixed([
            ("CLOUDFLARE_API_TOKEN", TOKEN.to_string()),
            ("CFSECRETS_AGE_KEY", self.identity.to_string()),
        ])
    }

    /// Runs one command line in-process, output captured; returns the exit code.
    async fn run(&mut self, command: &[&str], api_url: &str) -> u8 {
        let sink = Sink::default();
        let mut out = Output::capture(Box::new(sink.clone()), Box::new(sink.clone()));
        let manifest = self.manifest().display().to_string();
        let mut args: Vec<String> = vec!["cfsecrets".into(), "-f".into(), manifest];
        args.extend(command.iter().map(|s| s.to_string()));
        args.extend(["--api-url".to_string(), api_url.to_string()]);
        let code = run_args(args, &mut out, self.env()).await;
        self.outputs.push(sink.text());
        code
    }

    /// The last captured output's final lines (for an error report; never holds a value).
    fn last_output_tail(&self) -> String {
        let last = self.outputs.last().map(String::as_str).unwrap_or("");
        let lines: Vec<&str> = last.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// Fails if any captured output contains a plaintext or the identity.
    fn check_no_leak(&self) -> anyhow::Result<()> {
        let secret_key = self
            .identity
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .context("the generated identity has no key line")?;
        for output in &self.outputs {
            ensure!(
                !output.contains(secret_key),
                "the identity appeared in command output"
            );
            for value in &self.plaintexts {
                ensure!(
                    !output.contains(value.as_str()),
                    "a secret value appeared in command output"
                );
            }
        }
        println!(
            "leak check: none of {} sealed values nor the identity appeared in {} captured command outputs",
            self.plaintexts.len(),
            self.outputs.len()
        );
        println!();
        Ok(())
    }
}

fn secret_name(i: usize) -> String {
    format!("BENCH_SECRET_{i:03}")
}

/// Requests per method between two counter snapshots: (writes, reads).
fn requests_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> (u64, u64) {
    let mut writes = 0;
    let mut reads = 0;
    for (key, &count) in after {
        let delta = count - before.get(key).copied().unwrap_or(0);
        if key.starts_with("GET ") {
            reads += delta;
        } else {
            writes += delta;
        }
    }
    (writes, reads)
}

fn patches_between(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    after
        .iter()
        .filter(|(k, _)| k.starts_with("PATCH "))
        .map(|(k, &c)| c - before.get(k).copied().unwrap_or(0))
        .sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ── 1. apply throughput against --parallelism ──────────────────────────────────────────

async fn apply_throughput(emu: &EmulatorHandle, project: &mut Project) -> anyhow::Result<()> {
    let url = emu.base_url();
    println!("1. apply throughput against --parallelism");

    let before = emu.counters();
    let started = Instant::now();
    let code = project.run(&["apply", "--auto-approve"], &url).await;
    let first = started.elapsed();
    if code != 0 {
        bail!(
            "the first apply exited {code}:\n{}",
            project.last_output_tail()
        );
    }
    let (writes, reads) = requests_between(&before, &emu.counters());
    println!(
        "   first apply (store + batch create of {N} secrets): {:.0} ms, {writes} write request(s), {reads} read(s)",
        ms(first)
    );

    let mut rows = Vec::new();
    let mut seal_times = Vec::new();
    for p in PARALLELISM {
        let mut walls = Vec::new();
        let mut requests = (0, 0);
        for _ in 0..APPLY_REPEATS {
            seal_times.push(project.reseal_all()?);
            let before = emu.counters();
            let started = Instant::now();
            let parallelism = p.to_string();
            let code = project
                .run(
                    &["apply", "--auto-approve", "--parallelism", &parallelism],
                    &url,
                )
                .await;
            let wall = started.elapsed();
            if code != 0 {
                bail!(
                    "apply --parallelism {p} exited {code}:\n{}",
                    project.last_output_tail()
                );
            }
            let after = emu.counters();
            let patches = patches_between(&before, &after);
            ensure!(
                patches == N as u64,
                "apply --parallelism {p} sent {patches} PATCHes, expected {N}"
            );
            requests = requests_between(&before, &after);
            walls.push(wall);
        }
        walls.sort();
        rows.push((p, walls, requests.0, requests.1));
    }

    // A last plan must be empty: the runs really did converge.
    let code = project.run(&["plan", "--detailed-exitcode"], &url).await;
    ensure!(
        code == 0,
        "the plan after the last apply exited {code}, expected 0 (no changes)"
    );

    println!();
    println!(
        "   {:>11} | {:>14} | {:>11} | {:>8} | {:>6} | {:>5} | {:>8} | {:>8}",
        "parallelism",
        "median wall ms",
        "min-max ms",
        "floor ms",
        "writes",
        "reads",
        "writes/s",
        "speed-up"
    );
    println!("   {}", "-".repeat(95));
    let median_of = |walls: &[Duration]| walls[walls.len() / 2];
    let base = median_of(&rows[0].1).as_secs_f64();
    for (p, walls, writes, reads) in &rows {
        let wall = median_of(walls);
        let range = format!("{:.0}-{:.0}", ms(walls[0]), ms(walls[walls.len() - 1]));
        // Two read round trips (quota with the store list, then the secret list), then the
        // PATCHes in waves of `p`: the time the added latency alone accounts for.
        let floor = (2 + N.div_ceil(*p)) as u64 * LATENCY_MS;
        println!(
            "   {:>11} | {:>14.0} | {:>11} | {:>8} | {:>6} | {:>5} | {:>8.1} | {:>7.2}x",
            p,
            ms(wall),
            range,
            floor,
            writes,
            reads,
            *writes as f64 / wall.as_secs_f64(),
            base / wall.as_secs_f64()
        );
    }
    let seal_ms = seal_times.iter().map(|d| ms(*d)).sum::<f64>() / seal_times.len() as f64;
    println!(
        "   (wall time of the whole command: load, unseal {N} values, read live state, plan, apply;\n    \
         floor = (2 read round trips + ceil({N} / parallelism) PATCH waves) x {LATENCY_MS} ms;\n    \
         re-sealing {N} values before each run took {seal_ms:.0} ms on average and is not included;\n    \
         a plan after the last run was empty)"
    );
    println!();
    Ok(())
}

// ── 2. the pacer ────────────────────────────────────────────────────────────────────────

/// One library-level apply (read live, plan, apply) with the given pacer budget.
async fn paced_apply(
    emu: &EmulatorHandle,
    project: &mut Project,
    budget: u32,
    window: Duration,
) -> anyhow::Result<(Duration, cfsecrets::cloudflare::ClientStats)> {
    project.reseal_all()?;
    let (desired, _warnings) = cfsecrets::manifest::load(&project.manifest(), None)
        .into_result()
        .map_err(|d| anyhow!("the benchmark manifest is invalid:\n{d}"))?;
    let ids = Identities::parse(&project.identity, "the benchmark identity")?;
    let key = FingerprintKey::load(&desired.fingerprint_key, &ids)?;
    let (values, problems) = unseal_all(&desired, &ids);
    ensure!(
        problems.is_empty(),
        "{} value(s) could not be unsealed",
        problems.len()
    );
    let facts: ValueFacts = values
        .iter()
        .map(|(k, v)| {
            let fingerprint = key.fingerprint(v);
            (
                k.clone(),
                ValueFact {
                    fingerprint,
                    len: v.len(),
                },
            )
        })
        .collect();
    let mut config = ClientConfig::new(&emu.base_url(), Auth::Token(Credential::new(TOKEN)))?;
    config.rate_limit_per_5min = budget;
    config.rate_window = window;
    let client = Client::new(config)?;

    let accounts: Vec<AccountId> = desired
        .accounts
        .iter()
        .map(|a| a.account_id.clone())
        .collect();
    let started = Instant::now();
    let live = cfsecrets::live::fetch(&client, &accounts).await?;
    let plan = plan::diff(&desired, &live, &facts, &PlanOptions::default());
    let applier = Applier {
        client: &client,
        live: &live,
        values: &values,
        fingerprint_key: Some(&key),
        parallelism: PACER_PARALLELISM,
    };
    let checked = plan::check_appliable(&plan)
        .and_then(|appliable| applier.precheck(appliable))
        .map_err(|why| anyhow!("the applier refused the plan: {why}"))?;
    let report = applier.run(checked, &|_| {}).await;
    let wall = started.elapsed();
    ensure!(
        report.is_success() && report.done.len() == N,
        "the paced apply did {} of {N} actions ({} failed)",
        report.done.len(),
        report.failed.len()
    );
    Ok((wall, client.stats()))
}

async fn pacer(emu: &EmulatorHandle, project: &mut Project) -> anyhow::Result<()> {
    println!("2. the pacer (library applier, parallelism {PACER_PARALLELISM})");
    println!(
        "   `--rate-limit` counts per 5-minute window, so a binding budget takes minutes through\n   \
         the CLI; here the client's `rate_window` is shortened to {} s instead.",
        PACER_WINDOW.as_secs()
    );
    let runs = [
        (
            "default: 1200 per 300 s",
            cfsecrets::cloudflare::DEFAULT_RATE_LIMIT_PER_5MIN,
            Duration::from_secs(300),
        ),
        ("binding: 30 per 1 s", PACER_BUDGET, PACER_WINDOW),
    ];
    println!();
    println!(
        "   {:<24} | {:>8} | {:>8} | {:>10} | {:>14} | {:>13}",
        "budget", "wall ms", "requests", "requests/s", "pacer wait ms*", "lower bound ms"
    );
    println!("   {}", "-".repeat(92));
    for (label, budget, window) in runs {
        let (wall, stats) = paced_apply(emu, project, budget, window).await?;
        // Request k (from 0) cannot start before floor(k / budget) windows have passed.
        let sent = stats.requests_sent;
        let windows = sent.saturating_sub(1) / u64::from(budget);
        let bound = window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX));
        let bound = if windows == 0 {
            "-".to_string()
        } else {
            format!("{:.0}", ms(bound))
        };
        println!(
            "   {:<24} | {:>8.0} | {:>8} | {:>10.1} | {:>14.0} | {:>13}",
            label,
            ms(wall),
            sent,
            sent as f64 / wall.as_secs_f64(),
            ms(stats.pacer_wait),
            bound
        );
    }
    println!(
        "   (* summed over concurrent tasks; requests = every attempt the client sent: reads and {N} PATCHes)"
    );
    println!();
    Ok(())
}

// ── 3. the pure planner and the renderers ──────────────────────────────────────────────

/// Synthetic desired and live states: per account, of 100 declared secrets 60 are
/// unchanged, 10 have a new value, 5 a new comment, 5 new scopes, and 20 are new; 10 more
/// live secrets carry the marker but are no longer declared (deleted under `prune: owned`).
fn synthetic(accounts: usize) -> anyhow::Result<(Desired, LiveState, ValueFacts, PlanOptions)> {
    let fp = |a: usize, i: usize, salt: u64| {
        let n = ((a as u64) << 32) ^ (i as u64) ^ (salt << 60);
        Fingerprint::from_bytes(n.to_be_bytes())
    };
    let workers: BTreeSet<Scope> = [Scope::Workers].into();
    let wider: BTreeSet<Scope> = [Scope::Workers, Scope::AiGateway].into();
    let mut desired_accounts = Vec::new();
    let mut live_accounts = Vec::new();
    let mut facts = BTreeMap::new();
    for a in 0..accounts {
        let label = format!("account{a:03}");
        let account_id = AccountId::parse(&format!("{:032x}", a + 1)).map_err(|e| anyhow!(e))?;
        let mut secrets = BTreeMap::new();
        let mut live = Vec::new();
        for i in 0..SECRETS_PER_ACCOUNT {
            let name = SecretName::parse(&format!("SECRET_{i:03}")).map_err(|e| anyhow!(e))?;
            let comment = format!("synthetic secret {i}");
            let scopes = if (75..80).contains(&i) {
                wider.clone()
            } else {
                workers.clone()
            };
            secrets.insert(
                name.clone(),
                DesiredSecret::Present(PresentSecret {
                    value: ValueSource::File(PathBuf::from(format!("values/{name}.age"))),
                    scopes,
                    comment: Some(comment.clone()),
                    protect: false,
                    renamed_from: None,
                }),
            );
            let key = ValueKey::new(&label, STORE, name.clone());
            let fingerprint = fp(a, i, 0);
            facts.insert(
                key,
                ValueFact {
                    fingerprint,
                    len: 40,
                },
            );
            if i >= 80 {
                continue; // declared, not live: created
            }
            let live_fp = if (60..70).contains(&i) {
                fp(a, i, 1) // value changed
            } else {
                fp(a, i, 0)
            };
            let live_comment = if (70..75).contains(&i) {
                format!("old comment {i}")
            } else {
                comment
            };
            live.push(live_secret(a, i, name.as_str(), &live_comment, live_fp));
        }
        for j in 0..10 {
            let name = format!("RETIRED_{j:03}");
            live.push(live_secret(
                a,
                1000 + j,
                &name,
                "retired",
                fp(a, 1000 + j, 0),
            ));
        }
        live.sort_by(|x, y| x.name.cmp(&y.name));
        desired_accounts.push(DesiredAccount {
            label,
            account_id: account_id.clone(),
            stores: vec![DesiredStore {
                name: STORE.to_string(),
                prune: Prune::Owned,
                secrets,
            }],
        });
        live_accounts.push(LiveAccount {
            account_id,
            quota: Some(Quota {
                quota: 200,
                usage: 90,
            }),
            stores: vec![LiveStore {
                id: format!("{:032x}", 0xabc000 + a).into(),
                name: STORE.to_string(),
                created: "2026-01-01T00:00:00Z".to_string(),
                modified: "2026-01-01T00:00:00Z".to_string(),
                secrets: live,
            }],
        });
    }
    let desired = Desired {
        manifest_path: PathBuf::from("cfsecrets.yaml"),
        base_dir: PathBuf::from("."),
        recipients_file: PathBuf::from(".age-recipients"),
        fingerprint_key: PathBuf::from("keys/fingerprint.age"),
        safety: Safety::default(),
        accounts: desired_accounts,
    };
    let live = LiveState {
        accounts: live_accounts,
    };
    Ok((
        desired,
        live,
        ValueFacts::Compared(facts),
        PlanOptions::default(),
    ))
}

fn live_secret(a: usize, i: usize, name: &str, comment: &str, fp: Fingerprint) -> LiveSecret {
    let marker = Marker {
        fingerprint: Some(fp),
        protect: false,
    };
    LiveSecret {
        id: format!("{:016x}{:016x}", a + 1, i + 1).into(),
        name: name.to_string(),
        status: SecretStatus::Active,
        comment: marker::join(comment, &marker).into(),
        scopes: ["workers".to_string()].into(),
        created: "2026-01-01T00:00:00Z".to_string(),
        modified: "2026-01-01T00:00:00Z".to_string(),
    }
}

/// Median wall time of `ITERATIONS` runs of `f` (after one warm-up run).
fn median<T>(mut f: impl FnMut() -> T) -> Duration {
    std::hint::black_box(f());
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// One of the plan renderers, with the palette fixed.
type Renderer = fn(&Plan) -> String;

fn planner() -> anyhow::Result<()> {
    println!("3. the pure planner (plan::diff) on synthetic states");
    println!(
        "   per account: {SECRETS_PER_ACCOUNT} declared (60 unchanged, 10 value, 5 comment, 5 scope changes, 20 new)\n   \
         plus 10 owned live secrets no longer declared (deleted)"
    );
    println!();
    println!(
        "   {:>8} | {:>8} | {:>10} | {:>13} | {:>27}",
        "accounts", "secrets", "median ms", "us per secret", "create/update/delete/writes"
    );
    println!("   {}", "-".repeat(80));
    let mut largest = None;
    for accounts in PLANNER_ACCOUNTS {
        let (desired, live, facts, options) = synthetic(accounts)?;
        let plan = plan::diff(&desired, &live, &facts, &options);
        let s = &plan.summary;
        ensure!(
            !plan.is_blocked() && !plan.has_problems(),
            "the synthetic plan is blocked or has problems"
        );
        let expected = (20 * accounts, 20 * accounts, 10 * accounts);
        let got = (
            s.secrets_to_create as usize,
            s.secrets_to_update as usize,
            s.secrets_to_delete as usize,
        );
        ensure!(
            got == expected,
            "the synthetic plan has {got:?} creates/updates/deletes, expected {expected:?}"
        );
        let time = median(|| plan::diff(&desired, &live, &facts, &options));
        let secrets = accounts * SECRETS_PER_ACCOUNT;
        println!(
            "   {:>8} | {:>8} | {:>10.3} | {:>13.2} | {:>27}",
            accounts,
            secrets,
            ms(time),
            time.as_secs_f64() * 1e6 / secrets as f64,
            format!(
                "{}/{}/{}/{}",
                s.secrets_to_create, s.secrets_to_update, s.secrets_to_delete, s.write_requests
            )
        );
        largest = Some((accounts, plan));
    }
    let (accounts, plan) = largest.context("no planner sizes")?;

    println!();
    println!(
        "   renderers on the largest plan ({accounts} accounts, {} secrets)",
        accounts * SECRETS_PER_ACCOUNT
    );
    println!(
        "   {:>8} | {:>10} | {:>12} | {:>5}",
        "format", "median ms", "output bytes", "lines"
    );
    println!("   {}", "-".repeat(46));
    let renderers: [(&str, Renderer); 3] = [
        ("text", |p| plan::render::text(p, &Palette::PLAIN)),
        ("markdown", plan::render::markdown),
        ("json", plan::render::json),
    ];
    for (name, render) in &renderers {
        let output = render(&plan);
        let time = median(|| render(&plan));
        println!(
            "   {:>8} | {:>10.3} | {:>12} | {:>5}",
            name,
            ms(time),
            output.len(),
            output.lines().count()
        );
    }
    println!("   (markdown is cut below 65,000 characters for a pull-request comment, by design)");
    Ok(())
}
