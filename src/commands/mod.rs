//! One file per subcommand, each a thin script: load → decrypt → fetch → plan → render/apply.
//! Domain rules live in the library rooms; this room wires them together and decides exit
//! codes.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GlobalArgs, SecretCommand};
use crate::manifest::{self, Desired, Diagnostics};
use crate::output::Output;
use crate::values::Identities;

pub mod apply;
pub mod bindings;
pub mod check;
pub mod emulator;
mod env;
pub mod import;
pub mod init;
pub mod plan;
pub mod reseal;
pub mod schema;
pub mod secret;

pub use env::Env;

/// How a command that did not fail ended; mapped to the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0: success, or nothing to change.
    Success,
    /// 2: the plan has changes (`plan --detailed-exitcode`).
    Changes,
    /// 3: a safety rule blocked the plan.
    Blocked,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Changes => 2,
            Status::Blocked => 3,
        }
    }
}

/// Exit code for errors.
pub const EXIT_ERROR: u8 = 1;
/// Exit code for usage errors (sysexits `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

/// A mistake in how the command was called (bad flag combination, missing argument that
/// clap could not check). Exits 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An error whose message was already printed in full (e.g. a list of diagnostics); the
/// process exits 1 without printing anything more.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AlreadyReported(pub String);

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(usage_exit(&err)),
    };
    let mut out = Output::stdio(cli.global.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            let _ = out.error(&anyhow::Error::new(err).context("cannot start the async runtime"));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = runtime.block_on(run(cli, &mut out));
    ExitCode::from(exit_code(result, &mut out))
}

/// Runs one command line in-process with the given environment and returns its exit code,
/// exactly as the binary would (used by the quickstart example). Must be called inside a
/// tokio runtime.
pub async fn run_args<I, T>(args: I, out: &mut Output, env: Env) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return usage_exit(&err),
    };
    cli.global.env = env;
    let result = run(cli, out).await;
    exit_code(result, out)
}

/// Prints a clap error (or `--help`/`--version`) and returns its exit code.
fn usage_exit(err: &clap::Error) -> u8 {
    let _ = err.print();
    if err.use_stderr() { EXIT_USAGE } else { 0 }
}

/// Loads and validates the manifest named by `-f`, taking a missing account id from
/// `CLOUDFLARE_ACCOUNT_ID`. Warnings are printed and the run goes on; errors are printed in
/// full and the error then exits 1.
pub fn load_manifest(out: &mut Output, global: &GlobalArgs) -> anyhow::Result<Desired> {
    let env_account_id = global.env.get("CLOUDFLARE_ACCOUNT_ID");
    match manifest::load(&global.manifest, env_account_id.as_deref()).into_result() {
        Ok((desired, warnings)) => {
            print_diagnostics(out, &warnings)?;
            Ok(desired)
        }
        Err(diagnostics) => Err(check::report(out, &diagnostics)?),
    }
}

/// Prints diagnostics to stderr, one per line (nothing when there are none).
pub fn print_diagnostics(out: &mut Output, diagnostics: &Diagnostics) -> anyhow::Result<()> {
    if !diagnostics.is_empty() {
        out.eprint(&format!("{diagnostics}\n"))?;
    }
    Ok(())
}

/// The identities from `-i` and the environment; `None` when none was supplied.
pub fn identities(global: &GlobalArgs) -> anyhow::Result<Option<Identities>> {
    Ok(Identities::from_sources(&global.identities, &|name| {
        global.env.get(name)
    })?)
}

/// The usage error for a command that cannot go on without an identity; `why` opens it
/// (e.g. `reseal needs an identity to decrypt with`) and the rest says how to supply one.
pub fn identity_missing(why: &str) -> UsageError {
    UsageError(format!(
        "{why}: pass -i FILE or set CFSECRETS_AGE_KEY or CFSECRETS_AGE_KEY_FILE"
    ))
}

async fn run(cli: Cli, out: &mut Output) -> anyhow::Result<Status> {
    let global = &cli.global;
    match &cli.command {
        Command::Check(args) => check::run(out, global, args).await,
        Command::Plan(args) => plan::run(out, global, args).await,
        Command::Apply(args) => apply::run(out, global, args).await,
        Command::Import(args) => import::run(out, global, args).await,
        Command::Init(args) => init::run(out, global, args).await,
        Command::Secret(SecretCommand::Set(args)) => secret::set(out, global, args).await,
        Command::Reseal(args) => reseal::run(out, global, args).await,
        Command::Schema(args) => schema::run(out, args),
        Command::Emulator(args) => emulator::run(out, args).await,
        Command::Bindings(args) => bindings::run(out, global, args).await,
    }
}

/// Maps a command's result to the process exit code, printing the error if there is one.
/// A broken pipe (e.g. `cfsecrets plan | head`) exits quietly, but with [`EXIT_ERROR`]: the
/// command stopped at that write, so an apply may not have run and a plan's own exit code
/// (changes, blocked, problems) was never reached. Exiting 0 would claim a success nobody saw.
pub fn exit_code(result: anyhow::Result<Status>, out: &mut Output) -> u8 {
    match result {
        Ok(status) => status.code(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return EXIT_ERROR;
            }
            if err.downcast_ref::<AlreadyReported>().is_none() {
                let _ = out.error(&err);
            }
            if err.downcast_ref::<UsageError>().is_some() {
                EXIT_USAGE
            } else {
                EXIT_ERROR
            }
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
