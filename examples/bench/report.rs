//! The tables, printed as text and written as Markdown into `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::baselines::TERRAFORM_PARALLELISM;
use crate::machine::Machine;
use crate::micro::{DECRYPT_ACCOUNTS, DECRYPT_PER_ACCOUNT, Micro, SEALING_VALUES};
use crate::scenarios::{
    QUOTA, Results, S5_BUDGET, S5_WINDOW, SCENARIOS, Sample, Scenario, TOOLS, Tool, median,
    rate_bound,
};
use crate::{LATENCY_MS, Options};

/// A table: printed aligned, written as Markdown.
struct Table {
    headers: Vec<&'static str>,
    /// Right-aligned columns (numbers).
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[(&'static str, bool)]) -> Self {
        Table {
            headers: headers.iter().map(|(h, _)| *h).collect(),
            right: headers.iter().map(|(_, r)| *r).collect(),
            rows: Vec::new(),
        }
    }

    fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    if self.right[i] {
                        format!("{}{c}", " ".repeat(pad))
                    } else {
                        format!("{c}{}", " ".repeat(pad))
                    }
                })
                .collect();
            format!("  {}\n", parts.join(" | ").trim_end())
        };
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let mut out = line(&headers);
        let total: usize = widths.iter().sum::<usize>() + 3 * widths.len().saturating_sub(1);
        out.push_str(&format!("  {}\n", "-".repeat(total)));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("| {} |\n|", self.headers.join(" | "));
        for right in &self.right {
            out.push_str(if *right { "---:|" } else { "---|" });
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("—".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn times(base: Duration, ours: Duration) -> String {
    format!("{:.2}×", base.as_secs_f64() / ours.as_secs_f64().max(1e-9))
}

/// 429 answers over all runs of a cell.
fn throttled(samples: &[Sample]) -> String {
    samples.iter().map(|s| s.throttled).sum::<u64>().to_string()
}

fn range(samples: &[Sample]) -> String {
    let min = samples.iter().map(|s| s.wall).min().unwrap_or_default();
    let max = samples.iter().map(|s| s.wall).max().unwrap_or_default();
    format!("{}–{}", ms(min), ms(max))
}

pub fn header(m: &Machine, options: &Options) {
    println!("cfsecrets benchmark against the naive ways");
    println!(
        "  machine:  {} logical CPU(s) ({} usable), {}; {}; {} memory",
        m.logical, m.usable, m.cpu, m.os, m.memory
    );
    println!("  load:     {} (1, 5, 15 min) at the start", m.load);
    println!("  build:    {}; {}", m.profile, m.date);
    println!(
        "  emulator: in-process on 127.0.0.1, +{LATENCY_MS} ms per API request; median of {} run(s)",
        options.repeats
    );
    println!();
}

fn main_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        ("Scenario", false),
        ("Tool", false),
        ("GET", true),
        ("POST", true),
        ("PATCH", true),
        ("DELETE", true),
        ("Requests", true),
        ("Bound", true),
        ("Ratio", true),
        ("429s, all runs", true),
        ("Wall ms", true),
        ("Range ms", true),
        ("CPU ms", true),
        ("Peak RSS MiB", true),
        ("vs Terraform", true),
        ("vs wrangler", true),
    ]);
    for scenario in SCENARIOS {
        for tool in TOOLS {
            let Some(samples) = results.cells.get(&(scenario, tool)) else {
                continue;
            };
            let s = median(samples);
            let n = |m: &str| s.requests.get(m).copied().unwrap_or(0).to_string();
            let bound = scenario.bound();
            let speedup = |other: Tool| match (tool, results.cell(scenario, other)) {
                (Tool::Cfsecrets, Some(base)) => times(base.wall, s.wall),
                _ => "—".into(),
            };
            table.rows.push(vec![
                scenario.id().into(),
                tool.name().into(),
                n("GET"),
                n("POST"),
                n("PATCH"),
                n("DELETE"),
                s.total().to_string(),
                bound.to_string(),
                format!("{:.2}", s.total() as f64 / bound as f64),
                throttled(samples),
                ms(s.wall),
                range(samples),
                s.cpu.map_or("—".into(), ms),
                mib(s.peak_kib),
                speedup(Tool::Terraform),
                speedup(Tool::Wrangler),
            ]);
        }
    }
    table
}

fn s5_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        ("Tool", false),
        ("Requests", true),
        ("429s, all runs", true),
        ("Wall ms", true),
        ("Requests phase ms", true),
        ("Bound ms", true),
        ("Requests phase over the bound", true),
        ("Wall over the bound", true),
        ("Its own bound ms", true),
    ]);
    let bound = rate_bound(Scenario::S5.bound());
    let over = |d: Duration| {
        format!(
            "{:+.1} %",
            (d.as_secs_f64() / bound.as_secs_f64() - 1.0) * 100.0
        )
    };
    for tool in TOOLS {
        let Some(samples) = results.cells.get(&(Scenario::S5, tool)) else {
            continue;
        };
        let s = median(samples);
        // The baselines start no process: their wall time is their requests phase.
        let phase = s.requests_phase.unwrap_or(s.wall);
        table.rows.push(vec![
            tool.name().into(),
            s.total().to_string(),
            throttled(samples),
            ms(s.wall),
            ms(phase),
            ms(bound),
            over(phase),
            over(s.wall),
            ms(rate_bound(s.total() - s.throttled)),
        ]);
    }
    table
}

fn sweep_table(results: &Results) -> Table {
    let mut table = Table::new(&[
        ("--parallelism", true),
        ("S2 apply ms", true),
        ("S2 range", true),
        ("S2 floor ms", true),
        ("S2 requests", true),
        ("rotate 100 ms", true),
        ("rotate range", true),
        ("rotate floor ms", true),
    ]);
    let l = LATENCY_MS;
    for row in &results.sweep {
        let p = row.parallelism as u64;
        // Reads: quota with the store list, then the secret list; then the batch create,
        // the PATCH waves, the delete wave(s) and the listing after them.
        let s2_floor = (2 + 1 + 20u64.div_ceil(p) + 5u64.div_ceil(p) + 1) * l;
        let rotate_floor = (2 + 100u64.div_ceil(p)) * l;
        let marker = if row.parallelism == results.default_parallelism {
            format!("{} (default)", row.parallelism)
        } else {
            row.parallelism.to_string()
        };
        table.rows.push(vec![
            marker,
            ms(median(&row.s2).wall),
            range(&row.s2),
            s2_floor.to_string(),
            median(&row.s2).total().to_string(),
            ms(median(&row.rotate).wall),
            range(&row.rotate),
            rotate_floor.to_string(),
        ]);
    }
    table
}

fn decrypt_table(micro: &Micro) -> Table {
    let mut table = Table::new(&[
        ("5,000 values", false),
        ("Wall ms", true),
        ("CPU ms (user + sys)", true),
        ("Peak RSS MiB", true),
    ]);
    for row in &micro.decrypt {
        table.rows.push(vec![
            row.label.clone(),
            ms(row.wall),
            row.cpu.map_or("—".into(), ms),
            mib(row.peak_kib),
        ]);
    }
    table
}

fn sealing_table(micro: &Micro) -> Table {
    let mut table = Table::new(&[
        ("Sealing values into an empty store", false),
        ("Wall ms", true),
        ("Note", false),
    ]);
    for row in &micro.sealing {
        table.rows.push(vec![
            row.label.clone(),
            row.wall.map_or("—".into(), ms),
            row.note.clone(),
        ]);
    }
    table
}

fn planner_tables(micro: &Micro) -> (Table, Table) {
    let mut planner = Table::new(&[
        ("Accounts", true),
        ("Secrets", true),
        ("Median ms", true),
        ("µs per secret", true),
        ("create/update/delete/writes", true),
    ]);
    for row in &micro.planner {
        let secrets = row.accounts * 100;
        planner.rows.push(vec![
            row.accounts.to_string(),
            secrets.to_string(),
            format!("{:.3}", row.median.as_secs_f64() * 1000.0),
            format!("{:.2}", row.median.as_secs_f64() * 1e6 / secrets as f64),
            row.summary.clone(),
        ]);
    }
    let mut renderers = Table::new(&[
        ("Format", false),
        ("Median ms", true),
        ("Output bytes", true),
    ]);
    for row in &micro.renderers {
        renderers.rows.push(vec![
            row.format.into(),
            format!("{:.3}", row.median.as_secs_f64() * 1000.0),
            row.bytes.to_string(),
        ]);
    }
    (planner, renderers)
}

pub fn scenario_table(results: &Results) {
    println!("Scenarios (median of each cell; speed-ups are wall-time ratios)");
    for scenario in SCENARIOS {
        println!("  {}: {}", scenario.id(), scenario.what());
    }
    print!("{}", main_table(results).text());
    println!();
    println!(
        "S5 against the rate limit ({S5_BUDGET} requests per {} s)",
        S5_WINDOW.as_secs()
    );
    print!("{}", s5_table(results).text());
    println!();
    println!("--parallelism sweep (cfsecrets apply)");
    print!("{}", sweep_table(results).text());
    println!();
}

pub fn micro(micro: &Micro) {
    println!(
        "check --decrypt of {DECRYPT_ACCOUNTS} x {DECRYPT_PER_ACCOUNT} values (sealing them with the library took {} ms, not counted)",
        ms(micro.decrypt_sealing)
    );
    print!("{}", decrypt_table(micro).text());
    println!();
    println!("Bulk sealing");
    print!("{}", sealing_table(micro).text());
    println!();
    let (planner, renderers) = planner_tables(micro);
    println!("The pure planner (plan::diff) on synthetic states");
    print!("{}", planner.text());
    println!("Renderers on the largest plan");
    print!("{}", renderers.text());
    println!();
}

pub fn leak_check(results: &Results, micro: &Micro) {
    println!(
        "Leak check: none of {} values nor the identity appeared in {} captured outputs of cfsecrets.",
        results.leak_check.0 + micro.leak_check.0,
        results.leak_check.1 + micro.leak_check.1
    );
}

pub fn markdown(m: &Machine, options: &Options, results: &Results, micro: &Micro) -> String {
    let mut md = String::new();
    let repeats = options.repeats;
    let default_p = results.default_parallelism;
    let _ = write!(
        md,
        "# Benchmarks\n\n\
         Written by `cargo run --release --example bench` (the code is in `examples/bench/`); run it\n\
         again to replace this file. It asserts nothing about time: it prints what it measured.\n\
         Each cell is the median of {repeats} run(s).\n\n\
         ## Machine\n\n\
         - Date: {date}\n\
         - CPU: {cpu}, {logical} logical CPU(s), {usable} usable by the run\n\
         - Memory: {memory}\n\
         - OS: {os}\n\
         - Load average (1, 5, 15 min) at the start: {load}; at the end: {load_end}. The machine\n  \
         may be shared: Linux then shares the CPU between sessions, not threads, so a busy\n  \
         machine hides what more threads gain.\n\
         - Build: {profile}\n\n",
        date = m.date,
        cpu = m.cpu,
        logical = m.logical,
        usable = m.usable,
        memory = m.memory,
        os = m.os,
        load = m.load,
        load_end = crate::machine::load_now(),
        profile = m.profile,
    );
    let _ = write!(
        md,
        "## Set-up\n\n\
         - **Emulator**: cfsecrets' own, in the benchmark's process on 127.0.0.1, with {LATENCY_MS} ms\n  \
         added before every API answer (standing in for the network), a quota of {QUOTA} secrets per\n  \
         account and the store every account has (made on its first request, as the dashboard does).\n  \
         Requests are counted from its request log.\n\
         - **cfsecrets**: the real command line (`apply --auto-approve`, `plan --detailed-exitcode`) as\n  \
         a child process, default `--parallelism` ({default_p}); its wall time includes starting up,\n  \
         loading the manifest and unsealing every value. In S5 its pacer's window is shortened to\n  \
         the emulator's (below).\n\
         - **Terraform pattern**: the provider's requests, by a plain HTTP client of the benchmark:\n  \
         a refresh is one `GET` per secret in its state; then one single-item `POST` per create, one\n  \
         `PATCH` per update, one `DELETE` per delete, {TERRAFORM_PARALLELISM} at a time. A plan is the\n  \
         refresh. **Its state file keeps every value in plaintext** (the API never returns values, so\n  \
         that is how it notices a change).\n\
         - **wrangler loop**: a script over `wrangler secrets-store secret …`: for each secret one list\n  \
         (`search` by name) to find its id, then its write, one after the other. A plan-only run\n  \
         is the lists alone; it cannot tell a changed value at all.\n\
         - Both baselines are generous: no process or provider start-up, no state file on disk, the\n  \
         store id known, the wrangler loop told which secrets changed (a loop over all would write\n  \
         all 100), and a 429 waited out as `Retry-After` says, however often (the SDKs give up after\n  \
         2 retries; Cloudflare blocks a token that went over for 5 minutes). Their peak memory is\n  \
         not measured: they run inside the benchmark and say nothing about Terraform's.\n\
         - **Lower bound** of requests: per account the quota, the store list and one list page per\n  \
         100 secrets; then one request per batch create of up to 100, per duplicate, per PATCH and per\n  \
         delete, plus one listing after a store's deletes. *Ratio* is requests sent (429 answers\n  \
         included) over that bound.\n\
         - **Peak RSS** and **CPU**: of the cfsecrets process (VmHWM from `/proc/self/status`, user\n  \
         plus system time from `/proc/self/stat`), read by the process as it exits.\n\n"
    );
    md.push_str("Scenarios:\n\n");
    for scenario in SCENARIOS {
        let _ = writeln!(md, "- {}: {}", scenario.id(), scenario.what());
    }
    md.push('\n');
    md.push_str("## Results\n\n");
    md.push_str(&main_table(results).markdown());
    md.push_str(
        "\n*vs Terraform* and *vs wrangler*: the baseline's median wall time over cfsecrets'.\n\n",
    );

    let bound = rate_bound(Scenario::S5.bound());
    let _ = write!(
        md,
        "## S5: under the rate limit\n\n\
         Cloudflare allows 1,200 requests per 5 minutes per token. Scaled down to {S5_BUDGET} requests per\n\
         {window} s (the emulator's fixed window, and the same budget in cfsecrets' pacer), a\n\
         rotation of 100 values binds within seconds. The bound: with B requests allowed per window\n\
         W, R requests need ⌈R/B⌉ windows, so the last one cannot be answered before\n\
         (⌈R/B⌉ − 1) × W after the first, plus one round trip. For the scenario's {r} requests\n\
         (3 reads and 100 PATCHes) that is (⌈{r}/{S5_BUDGET}⌉ − 1) × {window} s + {LATENCY_MS} ms = {b} ms.\n\
         The *requests phase* runs from a tool's first request to its last answer (seen in the\n\
         emulator's request log, polled every millisecond); cfsecrets' wall time adds starting the\n\
         process, loading the manifest and unsealing 100 values. It runs `apply --rate-limit\n\
         {S5_BUDGET}` with the pacer's window set to {window} s by `CFSECRETS_RATE_WINDOW_MS` (the hidden\n\
         knob the tests use). *Its own bound* is the same sum over the requests each tool needed\n\
         (429 answers not counted). cfsecrets' pacer holds each request's slot from its send until\n\
         one window after its answer (see `src/cloudflare/pacer.rs`): the server counts a request\n\
         when it arrives, between the two.\n\n",
        window = S5_WINDOW.as_secs(),
        r = Scenario::S5.bound(),
        b = ms(bound),
    );
    md.push_str(&s5_table(results).markdown());
    md.push('\n');

    let _ = write!(
        md,
        "## `--parallelism`\n\n\
         cfsecrets' apply of S2 and of a rotation of all 100 values at each `--parallelism`. The\n\
         floor is what the latency alone accounts for: S2 = reads (2 round trips) + the batch create\n\
         + ⌈20/p⌉ PATCH waves + ⌈5/p⌉ delete waves + the listing after them; the rotation = reads +\n\
         ⌈100/p⌉ waves. For comparison, an ideal Terraform S2 at {TERRAFORM_PARALLELISM} is ⌈100/10⌉ + ⌈30/10⌉ = 13\n\
         round trips, 325 ms. The pacer bounds the request rate whatever the parallelism. The\n\
         default is {default_p}, Terraform's too: S2 gains little beyond it, and 10 requests in flight at\n\
         a round trip of 50 ms are Cloudflare's 200 requests per second per IP.\n\n"
    );
    md.push_str(&sweep_table(results).markdown());

    let _ = write!(
        md,
        "\n## `check --decrypt`\n\n\
         {DECRYPT_ACCOUNTS} × {DECRYPT_PER_ACCOUNT} = 5,000 values, each in its own sealed file. Pinned to one\n\
         core, the command takes the sequential path, as it did before it decrypted on every core.\n\
         The in-process rows time the same steps inside the benchmark (its CPU time is the\n\
         whole process's). Sealing the values with the library took {} ms (not counted).\n\n",
        ms(micro.decrypt_sealing)
    );
    md.push_str(&decrypt_table(micro).markdown());

    let _ = write!(
        md,
        "\n## Bulk sealing\n\n\
         Values sealed into an empty store of a new project: one by one with `secret set` (a run\n\
         per value, each re-reading and re-validating the whole manifest), and from a .env file\n\
         with one `secret import-env` run (one read, one validation and one write of the manifest\n\
         and of the seal index; each value sealed once; the files written on a few threads). Each\n\
         `import-env` figure is the median of fresh projects; `check --decrypt` confirms every\n\
         value landed (for `secret set` after its first {SEALING_VALUES} runs and after all of them).\n\n"
    );
    md.push_str(&sealing_table(micro).markdown());

    let (planner, renderers) = planner_tables(micro);
    md.push_str(
        "\n## The planner\n\n\
         `plan::diff` (pure) on synthetic states: per account 100 declared secrets (60 unchanged,\n\
         10 new values, 5 new comments, 5 new scopes, 20 new) and 10 owned live secrets no longer\n\
         declared.\n\n",
    );
    md.push_str(&planner.markdown());
    md.push_str(
        "\nRendering the largest plan (Markdown is cut below 65,000 characters by design):\n\n",
    );
    md.push_str(&renderers.markdown());
    let _ = write!(
        md,
        "\nLeak check: none of the {} values nor the identity appeared in the {} captured outputs\n\
         of cfsecrets.\n",
        results.leak_check.0 + micro.leak_check.0,
        results.leak_check.1 + micro.leak_check.1
    );
    md
}
