//! The benchmark against the naive ways. It prints a table, asserts nothing about time, and
//! writes its figures, with the machine and the date, into `BENCHMARKS.md`.
//!
//! ```sh
//! cargo run --release --example bench                 # about 4 minutes; rewrites BENCHMARKS.md
//! cargo run --release --example bench -- --repeats 1 --no-write
//! ```
//!
//! Everything runs against the in-process emulator on 127.0.0.1 with [`LATENCY_MS`] added to
//! every API request (standing in for the network). Three tools, over the same emulator:
//!
//! * cfsecrets: the real command line (`plan`, `apply`), run as a child process of this very
//!   binary (see [`child`]), so that its wall time includes starting up and its peak memory
//!   (VmHWM) is its own; in S5 with `--rate-limit` and the pacer's window shortened by the
//!   hidden `CFSECRETS_RATE_WINDOW_MS`.
//! * the Terraform provider's pattern and a wrangler loop: plain HTTP clients written here
//!   ([`baselines`]), not cfsecrets' planner.
//!
//! The scenarios ([`scenarios`]): S1 one account × 100 secrets from empty; S2 the same after
//! 20 rotations, 5 deletes and 5 creates; S3 a plan with no changes; S4 five accounts × 100,
//! plan only; S5 a rotation of every value under a rate limit scaled down from 1,200 per
//! 5 minutes. Then the `--parallelism` sweep, `check --decrypt` of 5,000 values on one core
//! and on all, bulk sealing (one-by-one `secret set` beside `secret import-env`), and the
//! pure planner ([`micro`]).
//!
//! Values and the identity are never printed: command output is captured, shown only as the
//! last lines of a failed step, and checked to contain none of them.

// A benchmark prints its figures; `pub` in its modules marks what `main` uses (a binary has no
// outside callers for `unreachable_pub` to protect).
#![allow(clippy::print_stdout, clippy::print_stderr, unreachable_pub)]

mod baselines;
mod child;
mod machine;
mod micro;
mod project;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

/// Latency the emulator adds before answering each API request.
pub const LATENCY_MS: u64 = 25;
/// The emulator's token for this run; it guards nothing but this process.
pub const TOKEN: &str = "bench-emulator-token";

/// Command-line options.
pub struct Options {
    /// Runs of each measurement (the median is reported).
    pub repeats: usize,
    /// Where to write the figures (`None`: print only).
    pub write: Option<PathBuf>,
    /// Only these parts (`s1-s3`, `s4`, `s5`, `sweep`, `micro`); nothing is written then.
    pub only: Option<Vec<String>>,
}

impl Options {
    /// Whether the part named `part` runs.
    pub fn runs(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == part))
    }
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut options = Options {
            repeats: 3,
            write: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md")),
            only: None,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--repeats" => {
                    let n = args.next().context("--repeats needs a number")?;
                    options.repeats = n
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .context("--repeats needs a number of at least 1")?;
                }
                "--no-write" => options.write = None,
                "--only" => {
                    let parts = args.next().context("--only needs a list of parts")?;
                    options.only = Some(parts.split(',').map(str::to_lowercase).collect());
                }
                "--out" => {
                    options.write = Some(PathBuf::from(args.next().context("--out needs a path")?))
                }
                "-h" | "--help" => {
                    println!(
                        "usage: cargo run --release --example bench -- [--repeats N] [--no-write | --out FILE]\n\
                         \x20      [--only s1-s3,s4,s5,sweep,micro]  (a partial run writes nothing)"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?} (try --help)"),
            }
        }
        if options.only.is_some() {
            options.write = None;
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    if let Some(code) = child::run_if_child() {
        return code;
    }
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(64);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> anyhow::Result<()> {
    let machine = machine::Machine::read();
    report::header(&machine, &options);
    let results = scenarios::run(&options).await?;
    report::scenario_table(&results);
    let micro = micro::run(&options).await?;
    report::micro(&micro);
    report::leak_check(&results, &micro);
    println!("Load average at the end: {}", machine::load_now());
    let md = report::markdown(&machine, &options, &results, &micro);
    match &options.write {
        Some(path) if cfg!(debug_assertions) => println!(
            "not writing {}: a debug build's figures are not representative (use --release)",
            path.display()
        ),
        Some(path) => {
            std::fs::write(path, md).with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        None => println!("(--no-write: BENCHMARKS.md left as it was)"),
    }
    Ok(())
}
