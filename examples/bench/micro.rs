//! The figures that need no baseline: `check --decrypt` of 5,000 values on one core and on
//! all, bulk sealing (one-by-one `secret set` beside `secret import-env`), and the pure
//! planner with its renderers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, ensure};

use cfsecrets::domain::{AccountId, Fingerprint, Scope, SecretName};
use cfsecrets::live::{LiveAccount, LiveSecret, LiveState, LiveStore, Quota, SecretStatus};
use cfsecrets::manifest::{
    Desired, DesiredAccount, DesiredSecret, DesiredStore, PresentSecret, Prune, Safety, ValueSource,
};
use cfsecrets::marker::{self, Marker};
use cfsecrets::output::Palette;
use cfsecrets::plan::{self, Plan, PlanOptions, ValueFact, ValueFacts, ValueKey};

use crate::Options;
use crate::project::{ChildOptions, Project, STORE, Want};

/// `check --decrypt`: accounts × secrets.
pub const DECRYPT_ACCOUNTS: usize = 50;
pub const DECRYPT_PER_ACCOUNT: usize = 100;
/// Bulk sealing: values sealed one by one with `secret set`, and by `secret import-env`.
pub const SEALING_VALUES: usize = 100;
/// Bulk sealing: the larger .env file `secret import-env` seals in one run.
pub const IMPORT_VALUES: usize = 1000;
/// Planner sizes: accounts of [`SECRETS_PER_ACCOUNT`] declared secrets each.
const PLANNER_ACCOUNTS: [usize; 3] = [1, 10, 50];
const SECRETS_PER_ACCOUNT: usize = 100;
/// Timed repetitions per planner and renderer figure (the median is reported).
const ITERATIONS: usize = 21;

/// One `check --decrypt` configuration (or step of it), median of its runs.
pub struct DecryptRow {
    pub label: String,
    pub wall: Duration,
    pub cpu: Option<Duration>,
    pub peak_kib: Option<u64>,
}

/// One way of sealing [`SEALING_VALUES`] values into a project.
pub struct SealingRow {
    pub label: String,
    /// `None`: not measured (not implemented yet).
    pub wall: Option<Duration>,
    pub note: String,
}

pub struct PlannerRow {
    pub accounts: usize,
    pub median: Duration,
    /// create/update/delete/writes.
    pub summary: String,
}

pub struct RendererRow {
    pub format: &'static str,
    pub median: Duration,
    pub bytes: usize,
}

pub struct Micro {
    /// How long the library took to seal the 5,000 values (not part of `check`).
    pub decrypt_sealing: Duration,
    pub decrypt: Vec<DecryptRow>,
    pub sealing: Vec<SealingRow>,
    pub planner: Vec<PlannerRow>,
    pub renderers: Vec<RendererRow>,
    pub leak_check: (usize, usize),
}

pub async fn run(options: &Options) -> anyhow::Result<Micro> {
    let mut micro = Micro {
        decrypt_sealing: Duration::ZERO,
        decrypt: Vec::new(),
        sealing: Vec::new(),
        planner: Vec::new(),
        renderers: Vec::new(),
        leak_check: (0, 0),
    };
    if !options.runs("micro") {
        return Ok(micro);
    }
    eprintln!("  … check --decrypt");
    let mut project = Project::new()?;
    (micro.decrypt_sealing, micro.decrypt) = check_decrypt(&mut project, options.repeats).await?;
    eprintln!("  … bulk sealing");
    let mut sealing_project = Project::new()?;
    let imported;
    (micro.sealing, imported) = bulk_sealing(&mut sealing_project, options.repeats).await?;
    let a = project.check_no_leak()?;
    let b = sealing_project.check_no_leak()?;
    micro.leak_check = (a.0 + b.0 + imported.0, a.1 + b.1 + imported.1);
    eprintln!("  … planner");
    (micro.planner, micro.renderers) = planner()?;
    Ok(micro)
}

// ── check --decrypt ─────────────────────────────────────────────────────────────────────

/// `check --decrypt` of 5,000 values, pinned to one core (`taskset -c 0`: the sequential
/// path, as the command ran before it used the cores) and on every core; `repeats` runs
/// each, alternating, the median reported.
async fn check_decrypt(
    project: &mut Project,
    repeats: usize,
) -> anyhow::Result<(Duration, Vec<DecryptRow>)> {
    let want = Want::fresh(project, DECRYPT_ACCOUNTS, DECRYPT_PER_ACCOUNT);
    let sealing = project.declare(&want, None)?;
    let taskset = std::process::Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let configs: Vec<(&'static str, bool)> = if taskset {
        vec![("one core (taskset -c 0)", true), ("every core", false)]
    } else {
        vec![("every core", false)]
    };
    let mut runs: Vec<Vec<crate::project::ChildRun>> = configs.iter().map(|_| Vec::new()).collect();
    for _ in 0..repeats {
        for (i, (label, one_core)) in configs.iter().enumerate() {
            let options = ChildOptions {
                one_core: *one_core,
                ..ChildOptions::default()
            };
            let run = project.child(&["check", "--decrypt"], options).await?;
            project.expect(&run, 0, &format!("check --decrypt on {label}"))?;
            runs[i].push(run);
        }
    }
    let mut rows: Vec<DecryptRow> = configs
        .iter()
        .zip(runs)
        .map(|((label, _), mut runs)| {
            runs.sort_by_key(|r| r.wall);
            let mid = &runs[runs.len() / 2];
            DecryptRow {
                label: format!("`check --decrypt`, {label}"),
                wall: mid.wall,
                cpu: mid.cpu,
                peak_kib: mid.peak_kib,
            }
        })
        .collect();
    rows.extend(steps(project, repeats)?);
    Ok((sealing, rows))
}

/// The same work in this process, step by step: loading the manifest, then
/// `unseal_all_on` with one thread and with one per core (wall time and the process's CPU
/// time, median of `repeats`).
fn steps(project: &Project, repeats: usize) -> anyhow::Result<Vec<DecryptRow>> {
    let ids = project.identities()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let timed =
        |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<(Duration, Duration)> {
            let mut runs = Vec::new();
            for _ in 0..repeats {
                let cpu = crate::child::cpu_time().unwrap_or_default();
                let started = Instant::now();
                f()?;
                let wall = started.elapsed();
                runs.push((
                    wall,
                    crate::child::cpu_time()
                        .unwrap_or_default()
                        .saturating_sub(cpu),
                ));
            }
            runs.sort();
            Ok(runs[runs.len() / 2])
        };
    let load = || {
        cfsecrets::manifest::load(&project.manifest(), None)
            .into_result()
            .map(|(desired, _)| desired)
            .map_err(|d| anyhow!("the benchmark manifest is invalid:\n{d}"))
    };
    let desired = load()?;
    let mut rows = Vec::new();
    let (wall, cpu) = timed(&mut || load().map(drop))?;
    rows.push(DecryptRow {
        label: "in-process: loading and checking the manifest".into(),
        wall,
        cpu: Some(cpu),
        peak_kib: None,
    });
    for threads in [1, cores] {
        let (wall, cpu) = timed(&mut || {
            let (values, problems) = cfsecrets::values::unseal_all_on(&desired, &ids, threads);
            ensure!(
                problems.is_empty() && values.len() == DECRYPT_ACCOUNTS * DECRYPT_PER_ACCOUNT,
                "unseal_all_on found {} problem(s)",
                problems.len()
            );
            Ok(())
        })?;
        rows.push(DecryptRow {
            label: format!(
                "in-process: `unseal_all_on`, {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            ),
            wall,
            cpu: Some(cpu),
            peak_kib: None,
        });
    }
    Ok(rows)
}

// ── BULK SEALING ────────────────────────────────────────────────────────────────────────
//
// One-by-one `secret set` (a run per value, each re-reading and re-validating the whole
// manifest) beside `secret import-env` (one run for a whole .env file: one read, one
// validation and one write of the manifest and the seal index, each value sealed once).

/// [`IMPORT_VALUES`] values sealed one by one with `secret set NAME --account a0` (value on
/// stdin), each a run of cfsecrets, into an empty store; [`SEALING_VALUES`] and
/// [`IMPORT_VALUES`] values with one `secret import-env` run each (into value files, and
/// into one bundle), `repeats` fresh projects each, the median reported. Returns the rows
/// and the leak check of the import-env projects (values, outputs).
async fn bulk_sealing(
    project: &mut Project,
    repeats: usize,
) -> anyhow::Result<(Vec<SealingRow>, (usize, usize))> {
    empty_store(project)?;
    // The one-by-one path is run, not extrapolated: each run re-reads a manifest that grows,
    // so the last runs are the slow ones.
    let want = Want::fresh(project, 1, IMPORT_VALUES);
    let started = Instant::now();
    let mut finished = Vec::with_capacity(IMPORT_VALUES);
    // The check after the first runs is not part of any run's time.
    let mut checking = Duration::ZERO;
    for (name, value) in &want.accounts[0].secrets {
        let options = ChildOptions {
            stdin: Some(value.clone()),
            ..ChildOptions::default()
        };
        let run = project
            .child(&["secret", "set", name, "--account", "a0"], options)
            .await?;
        project.expect(&run, 0, "secret set")?;
        finished.push(started.elapsed() - checking);
        if finished.len() == SEALING_VALUES {
            let check = Instant::now();
            check_sealed(project, SEALING_VALUES, "secret set").await?;
            checking = check.elapsed();
        }
    }
    check_sealed(project, IMPORT_VALUES, "secret set").await?;
    let first = finished[SEALING_VALUES - 1];
    let all = finished[IMPORT_VALUES - 1];
    let last = all - finished[IMPORT_VALUES - SEALING_VALUES - 1];
    let ms_per = |d: Duration| d.as_secs_f64() * 1000.0 / SEALING_VALUES as f64;
    let mut rows = vec![
        SealingRow {
            label: format!("`secret set`, one run per value, the first {SEALING_VALUES} runs"),
            wall: Some(first),
            note: format!(
                "{:.1} ms per value, process start-up included",
                ms_per(first)
            ),
        },
        SealingRow {
            label: format!("`secret set`, one run per value, all {IMPORT_VALUES} runs"),
            wall: Some(all),
            note: format!(
                "the last {SEALING_VALUES} runs took {:.1} ms per value: each re-reads and \
                 re-validates a manifest that grows",
                ms_per(last)
            ),
        },
    ];
    let mut leak_check = (0, 0);
    for (values, bundle) in [
        (SEALING_VALUES, false),
        (IMPORT_VALUES, false),
        (IMPORT_VALUES, true),
    ] {
        let mut walls = Vec::new();
        for _ in 0..repeats.max(1) {
            let (wall, checked) = import_env(values, bundle).await?;
            walls.push(wall);
            leak_check = (leak_check.0 + checked.0, leak_check.1 + checked.1);
        }
        walls.sort();
        let wall = walls[walls.len() / 2];
        let per_value = wall.as_secs_f64() * 1e6 / values as f64;
        let into = if bundle {
            "into one bundle (`--bundle`)"
        } else {
            "one file per value"
        };
        rows.push(SealingRow {
            label: format!("`secret import-env`, {values} values in one run, {into}"),
            wall: Some(wall),
            note: format!("{per_value:.0} µs per value, process start-up included"),
        });
    }
    Ok((rows, leak_check))
}

/// The manifest of a project with one account `a0` and one empty store.
fn empty_store(project: &Project) -> anyhow::Result<()> {
    std::fs::write(
        project.manifest(),
        format!(
            "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
             defaults:\n  scopes: [workers]\naccounts:\n  a0:\n    account_id: {}\n    stores:\n      \
             {STORE}:\n        secrets: {{}}\n",
            crate::project::account_id(0)
        ),
    )
    .context("cannot write the manifest")
}

/// Every value landed: `check --decrypt` unseals all of them, and the manifest declares
/// `values` entries.
async fn check_sealed(project: &mut Project, values: usize, what: &str) -> anyhow::Result<()> {
    let run = project.cli(&["check", "--decrypt"]).await?;
    project.expect(&run, 0, &format!("check --decrypt after {what}"))?;
    let text = std::fs::read_to_string(project.manifest())?;
    let declared = text.matches("        value: ").count();
    ensure!(
        declared == values,
        "{what} declared {declared} values, expected {values}"
    );
    Ok(())
}

/// One `secret import-env` run sealing a .env file of `values` fresh values into an empty
/// store of a fresh project; its wall time, and the project's leak check.
async fn import_env(values: usize, bundle: bool) -> anyhow::Result<(Duration, (usize, usize))> {
    let mut project = Project::new()?;
    empty_store(&project)?;
    let want = Want::fresh(&mut project, 1, values);
    let mut dotenv = zeroize::Zeroizing::new(String::with_capacity(values * 64));
    for (name, value) in &want.accounts[0].secrets {
        dotenv.push_str(&format!("{name}={}\n", value.as_str()));
    }
    let env_file = project.dir.path().join(".env");
    std::fs::write(&env_file, dotenv.as_bytes()).context("cannot write the .env file")?;
    let env_file = env_file.display().to_string();
    let mut args = vec!["secret", "import-env", &env_file, "--account", "a0"];
    if bundle {
        args.extend(["--bundle", "values/a0.env.age"]);
    }
    let run = project.cli(&args).await?;
    project.expect(&run, 0, "secret import-env")?;
    check_sealed(&mut project, values, "secret import-env").await?;
    Ok((run.wall, project.check_no_leak()?))
}

// ── The pure planner and the renderers ──────────────────────────────────────────────

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

fn planner() -> anyhow::Result<(Vec<PlannerRow>, Vec<RendererRow>)> {
    let mut rows = Vec::new();
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
        rows.push(PlannerRow {
            accounts,
            median: time,
            summary: format!(
                "{}/{}/{}/{}",
                s.secrets_to_create, s.secrets_to_update, s.secrets_to_delete, s.write_requests
            ),
        });
        largest = Some(plan);
    }
    let plan = largest.context("no planner sizes")?;
    let renderers: [(&str, Renderer); 3] = [
        ("text", |p| plan::render::text(p, &Palette::PLAIN)),
        ("markdown", plan::render::markdown),
        ("json", plan::render::json),
    ];
    let renderers = renderers
        .iter()
        .map(|(format, render)| RendererRow {
            format,
            median: median(|| render(&plan)),
            bytes: render(&plan).len(),
        })
        .collect();
    Ok((rows, renderers))
}
