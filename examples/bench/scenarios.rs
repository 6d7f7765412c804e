//! S1–S5 for each tool over one emulator, and the `--parallelism` sweep.
//!
//! Requests are counted from the emulator's request log (cleared before each measured run);
//! a 429 answer counts as a request, and is also counted on its own. Each tool starts from
//! the same world: S1–S3 are one sequence per tool (empty → S1 → S2 → S3) after an emulator
//! reset; S4 and S5 start from a world that an unmeasured cfsecrets apply set up (Terraform's
//! state is then imported from it, as `terraform import` would).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use reqwest::Method;

use cfsecrets::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultConfig};

use crate::baselines::{Changes, Http, Job, Terraform, wrangler_loop};
use crate::project::{ChildOptions, ChildRun, Project, STORE, Want, secret_name};
use crate::{LATENCY_MS, Options, TOKEN};

/// The emulator's secret quota per account: room for S2's creates before its deletes, so
/// that no tool has to order them.
pub const QUOTA: u64 = 200;
/// S5: the rate limit, 1,200 per 5 minutes scaled to [`S5_BUDGET`] per [`S5_WINDOW`] (the
/// emulator's fixed window and the pacer's sliding one alike): 1/30 of the budget in 1/150 of
/// the window, so that 100 rotations need three windows.
pub const S5_BUDGET: u32 = 40;
pub const S5_WINDOW: Duration = Duration::from_secs(2);
/// The `--parallelism` values of the sweep.
pub const SWEEP: [usize; 4] = [4, 8, 10, 16];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    Cfsecrets,
    Terraform,
    Wrangler,
}

pub const TOOLS: [Tool; 3] = [Tool::Cfsecrets, Tool::Terraform, Tool::Wrangler];

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Cfsecrets => "cfsecrets",
            Tool::Terraform => "Terraform pattern",
            Tool::Wrangler => "wrangler loop",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    S1,
    S2,
    S3,
    S4,
    S5,
}

pub const SCENARIOS: [Scenario; 5] = [
    Scenario::S1,
    Scenario::S2,
    Scenario::S3,
    Scenario::S4,
    Scenario::S5,
];

impl Scenario {
    pub fn id(self) -> &'static str {
        match self {
            Scenario::S1 => "S1",
            Scenario::S2 => "S2",
            Scenario::S3 => "S3",
            Scenario::S4 => "S4",
            Scenario::S5 => "S5",
        }
    }

    pub fn what(self) -> String {
        match self {
            Scenario::S1 => "one account × 100 secrets, from empty".into(),
            Scenario::S2 => "the same after 20 rotations, 5 deletes and 5 creates".into(),
            Scenario::S3 => "a plan with no changes (100 secrets)".into(),
            Scenario::S4 => "five accounts × 100 secrets, plan only".into(),
            Scenario::S5 => format!(
                "a rotation of all 100 values under a rate limit of {S5_BUDGET} requests per {} s \
                 (1,200 per 5 minutes, scaled down)",
                S5_WINDOW.as_secs()
            ),
        }
    }

    /// The scenario's shape, for its lower bound.
    fn shape(self) -> Shape {
        let one = |live_before, creates, patches, deletes| Shape {
            accounts: 1,
            live_before,
            creates,
            patches,
            deletes,
        };
        match self {
            Scenario::S1 => one(0, 100, 0, 0),
            Scenario::S2 => one(100, 5, 20, 5),
            Scenario::S3 => one(100, 0, 0, 0),
            Scenario::S4 => Shape {
                accounts: 5,
                ..one(100, 0, 0, 0)
            },
            Scenario::S5 => one(100, 0, 100, 0),
        }
    }

    /// The lower bound of requests: per account the quota, the store list and one list page
    /// per 100 secrets (at least one); then one request per batch create of up to 100, per
    /// PATCH and per delete, plus one listing (a page per 100 secrets left) after a store's
    /// deletes.
    pub fn bound(self) -> u64 {
        let s = self.shape();
        let pages = |n: usize| n.div_ceil(100).max(1);
        let left = s.live_before + s.creates - s.deletes;
        let per_account = 2
            + pages(s.live_before)
            + s.creates.div_ceil(100)
            + s.patches
            + s.deletes
            + if s.deletes > 0 { pages(left) } else { 0 };
        (s.accounts * per_account) as u64
    }
}

struct Shape {
    accounts: usize,
    live_before: usize,
    creates: usize,
    patches: usize,
    deletes: usize,
}

/// One measured run.
#[derive(Clone, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// Requests by method, 429 answers included.
    pub requests: BTreeMap<String, u64>,
    /// 429 answers.
    pub throttled: u64,
    /// cfsecrets only: its process's peak RSS (KiB) and CPU time.
    pub peak_kib: Option<u64>,
    pub cpu: Option<Duration>,
    /// S5: from the first request's send to the last answer (for cfsecrets, its wall time
    /// less starting up, loading the manifest and unsealing), seen in the request log.
    pub requests_phase: Option<Duration>,
}

impl Sample {
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// The samples of one cell, ordered by wall time.
pub fn median(samples: &[Sample]) -> &Sample {
    let mut order: Vec<&Sample> = samples.iter().collect();
    order.sort_by_key(|s| s.wall);
    order[order.len() / 2]
}

/// One row of the `--parallelism` sweep.
pub struct SweepRow {
    pub parallelism: usize,
    pub s2: Vec<Sample>,
    pub rotate: Vec<Sample>,
}

pub struct Results {
    pub cells: BTreeMap<(Scenario, Tool), Vec<Sample>>,
    pub sweep: Vec<SweepRow>,
    pub default_parallelism: usize,
    /// Values and captured outputs the leak check covered.
    pub leak_check: (usize, usize),
}

impl Results {
    pub fn cell(&self, scenario: Scenario, tool: Tool) -> Option<&Sample> {
        self.cells
            .get(&(scenario, tool))
            .filter(|s| !s.is_empty())
            .map(|s| median(s))
    }
}

/// S5's own bound: with B requests allowed per window W, R requests need ⌈R/B⌉ windows;
/// the last one cannot be answered before (⌈R/B⌉ − 1) windows after the first, plus one
/// round trip.
pub fn rate_bound(requests: u64) -> Duration {
    let windows = requests.div_ceil(u64::from(S5_BUDGET));
    S5_WINDOW * u32::try_from(windows.saturating_sub(1)).unwrap_or(u32::MAX)
        + Duration::from_millis(LATENCY_MS)
}

/// Runs `work` while watching the request log (every millisecond): returns its output and
/// the time from its first request's send (the first record, less the added latency) to
/// its last answer (the last record).
async fn requests_phase<T>(
    emu: &EmulatorHandle,
    work: impl std::future::Future<Output = T>,
) -> (T, Option<Duration>) {
    let done = AtomicBool::new(false);
    let work = async {
        let out = work.await;
        done.store(true, Ordering::SeqCst);
        out
    };
    let watch = async {
        let (mut seen, mut first, mut last) = (0, None, None);
        loop {
            let finished = done.load(Ordering::SeqCst);
            let n = emu.log().len();
            if n > seen {
                let now = Instant::now();
                first.get_or_insert(now);
                last = Some(now);
                seen = n;
            }
            if finished {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        first
            .zip(last)
            .map(|(f, l)| l - f + Duration::from_millis(LATENCY_MS))
    };
    tokio::join!(work, watch)
}

/// S2 after S1: 20 rotations (`BENCH_000`–`019`), 5 deletes (`095`–`099`) and 5 creates
/// (`100`–`104`).
fn s2_of(v1: &Want, project: &mut Project) -> Want {
    let mut v2 = v1.clone();
    let account = &mut v2.accounts[0];
    for i in 0..20 {
        account.secrets.insert(secret_name(i), project.new_value());
    }
    for i in 95..100 {
        account.secrets.remove(&secret_name(i));
    }
    for i in 100..105 {
        account.secrets.insert(secret_name(i), project.new_value());
    }
    v2
}

struct Bench {
    emu: EmulatorHandle,
    http: Http,
    url: String,
    project: Project,
    repeats: usize,
}

pub async fn run(options: &Options) -> anyhow::Result<Results> {
    let config = EmulatorConfig {
        token: Some(TOKEN.to_string()),
        seed: Some(1),
        quota: QUOTA,
        default_store: Some(STORE.to_string()),
        faults: latency_only(),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .context("cannot start the emulator")?;
    let url = emu.base_url();
    let mut bench = Bench {
        http: Http::new(&url)?,
        url,
        emu,
        project: Project::new()?,
        repeats: options.repeats,
    };
    let mut cells: BTreeMap<(Scenario, Tool), Vec<Sample>> = BTreeMap::new();
    let result = async {
        for round in (0..bench.repeats).filter(|_| options.runs("s1-s3")) {
            progress(&format!("S1-S3, round {} of {}", round + 1, bench.repeats));
            for tool in TOOLS {
                for (scenario, sample) in bench.s1_to_s3(tool).await? {
                    cells.entry((scenario, tool)).or_default().push(sample);
                }
            }
        }
        if options.runs("s4") {
            progress("S4");
            for (tool, sample) in bench.s4().await? {
                cells.entry((Scenario::S4, tool)).or_default().push(sample);
            }
        }
        for round in (0..bench.repeats).filter(|_| options.runs("s5")) {
            progress(&format!("S5, round {} of {}", round + 1, bench.repeats));
            for tool in TOOLS {
                let sample = bench.s5(tool).await?;
                cells.entry((Scenario::S5, tool)).or_default().push(sample);
            }
        }
        let mut sweep = Vec::new();
        for p in SWEEP.into_iter().filter(|_| options.runs("sweep")) {
            progress(&format!("--parallelism {p}"));
            sweep.push(bench.sweep(p).await?);
        }
        let leak_check = bench.project.check_no_leak()?;
        Ok(Results {
            cells,
            sweep,
            default_parallelism: cfsecrets::apply::DEFAULT_PARALLELISM,
            leak_check,
        })
    }
    .await;
    bench.emu.shutdown().await;
    result
}

fn progress(what: &str) {
    eprintln!("  … {what}");
}

fn latency_only() -> FaultConfig {
    FaultConfig {
        latency_ms: LATENCY_MS,
        ..FaultConfig::default()
    }
}

impl Bench {
    /// Empties the emulator and makes each account's store (one request each, not
    /// measured); returns account id → store id.
    async fn fresh_world(&self, want: &Want) -> anyhow::Result<BTreeMap<String, String>> {
        self.emu.reset();
        for account in &want.accounts {
            self.http
                .ok(
                    Method::GET,
                    &format!("/accounts/{}/secrets_store/stores", account.id),
                    None,
                )
                .await?;
        }
        let state = self.emu.state();
        want.accounts
            .iter()
            .map(|a| {
                let store = state
                    .accounts
                    .get(&a.id)
                    .and_then(|acc| acc.stores.iter().find(|s| s.name == STORE))
                    .context("the emulator made no store")?;
                Ok((a.id.clone(), store.id.clone()))
            })
            .collect()
    }

    /// Live secret ids: account → name → id.
    fn live_ids(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.emu
            .state()
            .accounts
            .into_iter()
            .map(|(account, dump)| {
                let ids = dump
                    .stores
                    .into_iter()
                    .flat_map(|s| s.secrets)
                    .map(|s| (s.name, s.id))
                    .collect();
                (account, ids)
            })
            .collect()
    }

    /// Fails unless the live names are exactly what `want` declares.
    fn check_live(&self, want: &Want, what: &str) -> anyhow::Result<()> {
        let live = self.live_ids();
        for account in &want.accounts {
            let names: Vec<&String> = live
                .get(&account.id)
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            let wanted: Vec<&String> = account.secrets.keys().collect();
            ensure!(
                names == wanted,
                "{what}: {} live secret(s) in {}, {} declared (or other names)",
                names.len(),
                account.label,
                wanted.len()
            );
        }
        Ok(())
    }

    /// A sample from the request log since it was cleared.
    fn sample(&self, wall: Duration) -> Sample {
        let mut requests = BTreeMap::new();
        let mut throttled = 0;
        for r in self.emu.log() {
            *requests.entry(r.method.clone()).or_insert(0) += 1;
            if r.status == Some(429) {
                throttled += 1;
            }
        }
        Sample {
            wall,
            requests,
            throttled,
            peak_kib: None,
            cpu: None,
            requests_phase: None,
        }
    }

    /// cfsecrets `args --api-url URL` as a measured child run that must exit `code`.
    async fn cfsecrets(&mut self, args: &[&str], code: i32, what: &str) -> anyhow::Result<Sample> {
        let mut all = args.to_vec();
        all.extend(["--api-url", &self.url]);
        self.emu.clear_log();
        let run = self.project.cli(&all).await?;
        self.project.expect(&run, code, what)?;
        Ok(self.child_sample(&run))
    }

    /// A sample of a cfsecrets child run: the request log, its wall time, memory and CPU.
    fn child_sample(&self, run: &ChildRun) -> Sample {
        Sample {
            peak_kib: run.peak_kib,
            cpu: run.cpu,
            ..self.sample(run.wall)
        }
    }

    /// An unmeasured cfsecrets apply that makes the live state `want`.
    async fn set_up(&mut self, want: &Want, before: Option<&Want>) -> anyhow::Result<()> {
        self.project.declare(want, before)?;
        let url = self.url.clone();
        let run = self
            .project
            .cli(&["apply", "--auto-approve", "--api-url", &url])
            .await?;
        self.project.expect(&run, 0, "the set-up apply")?;
        self.check_live(want, "after the set-up apply")
    }

    /// S1, S2 and S3 in a row for one tool, from an empty emulator.
    async fn s1_to_s3(&mut self, tool: Tool) -> anyhow::Result<Vec<(Scenario, Sample)>> {
        let v1 = Want::fresh(&mut self.project, 1, 100);
        let stores = self.fresh_world(&v1).await?;
        let v2 = s2_of(&v1, &mut self.project);
        let label = v2.accounts[0].id.clone();
        let mut out = Vec::new();
        match tool {
            Tool::Cfsecrets => {
                self.project.declare(&v1, None)?;
                let s1 = self
                    .cfsecrets(&["apply", "--auto-approve"], 0, "S1 apply")
                    .await?;
                self.check_live(&v1, "S1")?;
                self.project.declare(&v2, Some(&v1))?;
                let s2 = self
                    .cfsecrets(&["apply", "--auto-approve"], 0, "S2 apply")
                    .await?;
                self.check_live(&v2, "S2")?;
                let s3 = self
                    .cfsecrets(&["plan", "--detailed-exitcode"], 0, "S3 plan (no changes)")
                    .await?;
                out.extend([(Scenario::S1, s1), (Scenario::S2, s2), (Scenario::S3, s3)]);
            }
            Tool::Terraform => {
                let mut tf = Terraform::default();
                let expect = [(100, 0, 0), (5, 20, 5), (0, 0, 0)];
                for (scenario, want, (create, update, delete)) in [
                    (Scenario::S1, &v1, expect[0]),
                    (Scenario::S2, &v2, expect[1]),
                    (Scenario::S3, &v2, expect[2]),
                ] {
                    self.emu.clear_log();
                    let started = Instant::now();
                    let changes = if scenario == Scenario::S3 {
                        tf.plan(&self.http, want).await?
                    } else {
                        tf.apply(&self.http, want, &stores).await?
                    };
                    let sample = self.sample(started.elapsed());
                    ensure!(
                        changes
                            == Changes {
                                create,
                                update,
                                delete
                            },
                        "Terraform {}: {changes:?}",
                        scenario.id()
                    );
                    self.check_live(want, scenario.id())?;
                    out.push((scenario, sample));
                }
            }
            Tool::Wrangler => {
                let put = |name: &String, want: &Want| Job::Put {
                    account: label.clone(),
                    name: name.clone(),
                    value: want.accounts[0].secrets[name].clone(),
                };
                let s1: Vec<Job> = v1.accounts[0].secrets.keys().map(|n| put(n, &v1)).collect();
                let mut s2: Vec<Job> = (0..20)
                    .chain(100..105)
                    .map(|i| put(&secret_name(i), &v2))
                    .collect();
                s2.extend((95..100).map(|i| Job::Delete {
                    account: label.clone(),
                    name: secret_name(i),
                }));
                let s3: Vec<Job> = v2.accounts[0]
                    .secrets
                    .keys()
                    .map(|n| Job::Check {
                        account: label.clone(),
                        name: n.clone(),
                    })
                    .collect();
                for (scenario, jobs, want, writes) in [
                    (Scenario::S1, s1, &v1, 100),
                    (Scenario::S2, s2, &v2, 30),
                    (Scenario::S3, s3, &v2, 0),
                ] {
                    self.emu.clear_log();
                    let started = Instant::now();
                    let sent = wrangler_loop(&self.http, &stores, &jobs).await?;
                    let sample = self.sample(started.elapsed());
                    ensure!(sent == writes, "wrangler {}: {sent} writes", scenario.id());
                    self.check_live(want, scenario.id())?;
                    out.push((scenario, sample));
                }
            }
        }
        Ok(out)
    }

    /// S4: five accounts of 100, set up once; each tool plans `repeats` times, in turn.
    async fn s4(&mut self) -> anyhow::Result<Vec<(Tool, Sample)>> {
        let want = Want::fresh(&mut self.project, 5, 100);
        let stores = self.fresh_world(&want).await?;
        self.set_up(&want, None).await?;
        let ids = self.live_ids();
        let mut out = Vec::new();
        for _ in 0..self.repeats {
            for tool in TOOLS {
                let sample = match tool {
                    Tool::Cfsecrets => {
                        self.cfsecrets(&["plan", "--detailed-exitcode"], 0, "S4 plan")
                            .await?
                    }
                    Tool::Terraform => {
                        let mut tf = Terraform::imported(&want, &stores, &ids)?;
                        self.emu.clear_log();
                        let started = Instant::now();
                        let changes = tf.plan(&self.http, &want).await?;
                        let sample = self.sample(started.elapsed());
                        ensure!(changes == Changes::default(), "Terraform S4: {changes:?}");
                        sample
                    }
                    Tool::Wrangler => {
                        let jobs: Vec<Job> = want
                            .accounts
                            .iter()
                            .flat_map(|a| {
                                a.secrets.keys().map(|n| Job::Check {
                                    account: a.id.clone(),
                                    name: n.clone(),
                                })
                            })
                            .collect();
                        self.emu.clear_log();
                        let started = Instant::now();
                        wrangler_loop(&self.http, &stores, &jobs).await?;
                        self.sample(started.elapsed())
                    }
                };
                out.push((tool, sample));
            }
        }
        Ok(out)
    }

    /// S5 for one tool: 100 secrets set up (not measured), then every value rotated under
    /// the scaled rate limit. cfsecrets runs `apply --rate-limit BUDGET` with the pacer's
    /// window shortened by `CFSECRETS_RATE_WINDOW_MS` (the hidden knob tests use).
    async fn s5(&mut self, tool: Tool) -> anyhow::Result<Sample> {
        let before = Want::fresh(&mut self.project, 1, 100);
        let stores = self.fresh_world(&before).await?;
        self.set_up(&before, None).await?;
        let after = before.rotate_all(&mut self.project);
        let limited = FaultConfig {
            rate_limit: S5_BUDGET,
            rate_window_secs: S5_WINDOW.as_secs(),
            ..latency_only()
        };
        let mut sample = match tool {
            Tool::Cfsecrets => {
                self.project.declare(&after, Some(&before))?;
                let budget = S5_BUDGET.to_string();
                let args = [
                    "-f",
                    &self.project.manifest().display().to_string(),
                    "apply",
                    "--auto-approve",
                    "--rate-limit",
                    &budget,
                    "--api-url",
                    &self.url,
                ]
                .map(str::to_string);
                let options = ChildOptions {
                    env: vec![(
                        "CFSECRETS_RATE_WINDOW_MS",
                        S5_WINDOW.as_millis().to_string(),
                    )],
                    ..ChildOptions::default()
                };
                self.emu.set_faults(limited);
                self.emu.clear_log();
                let (run, phase) =
                    requests_phase(&self.emu, self.project.spawn(&args, options)).await;
                let run = run?;
                self.project.expect(&run, 0, "S5 apply")?;
                let mut sample = self.child_sample(&run);
                sample.requests_phase = phase;
                // Every value was written: a plan now is empty.
                self.emu.set_faults(latency_only());
                let url = self.url.clone();
                let plan = self
                    .project
                    .cli(&["plan", "--detailed-exitcode", "--api-url", &url])
                    .await?;
                self.project.expect(&plan, 0, "the plan after S5")?;
                sample
            }
            Tool::Terraform => {
                let ids = self.live_ids();
                let mut tf = Terraform::imported(&before, &stores, &ids)?;
                self.emu.set_faults(limited);
                self.emu.clear_log();
                let started = Instant::now();
                let (changes, phase) =
                    requests_phase(&self.emu, tf.apply(&self.http, &after, &stores)).await;
                let mut sample = self.sample(started.elapsed());
                sample.requests_phase = phase;
                let changes = changes?;
                ensure!(changes.update == 100, "Terraform S5: {changes:?}");
                sample
            }
            Tool::Wrangler => {
                let account = &after.accounts[0];
                let jobs: Vec<Job> = account
                    .secrets
                    .iter()
                    .map(|(name, value)| Job::Put {
                        account: account.id.clone(),
                        name: name.clone(),
                        value: value.clone(),
                    })
                    .collect();
                self.emu.set_faults(limited);
                self.emu.clear_log();
                let started = Instant::now();
                let (sent, phase) =
                    requests_phase(&self.emu, wrangler_loop(&self.http, &stores, &jobs)).await;
                let mut sample = self.sample(started.elapsed());
                sample.requests_phase = phase;
                let sent = sent?;
                ensure!(sent == 100, "wrangler S5: {sent} writes");
                sample
            }
        };
        self.emu.set_faults(latency_only());
        self.check_live(&after, "S5")?;
        if sample.requests_phase.is_none() {
            sample.requests_phase = Some(sample.wall);
        }
        Ok(sample)
    }

    /// The sweep at one `--parallelism`: S2's apply, and a rotation of all 100 values.
    async fn sweep(&mut self, parallelism: usize) -> anyhow::Result<SweepRow> {
        let p = parallelism.to_string();
        let args = ["apply", "--auto-approve", "--parallelism", &p];
        let mut row = SweepRow {
            parallelism,
            s2: Vec::new(),
            rotate: Vec::new(),
        };
        for _ in 0..self.repeats {
            let v1 = Want::fresh(&mut self.project, 1, 100);
            self.fresh_world(&v1).await?;
            self.set_up(&v1, None).await?;
            let v2 = s2_of(&v1, &mut self.project);
            self.project.declare(&v2, Some(&v1))?;
            row.s2
                .push(self.cfsecrets(&args, 0, "sweep S2 apply").await?);
            self.check_live(&v2, "sweep S2")?;
            let v3 = v2.rotate_all(&mut self.project);
            self.project.declare(&v3, Some(&v2))?;
            row.rotate
                .push(self.cfsecrets(&args, 0, "sweep rotation").await?);
        }
        Ok(row)
    }
}
