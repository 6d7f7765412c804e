//! One file per subcommand, each a short script of calls: the library's rooms hold the rules,
//! `context.rs` holds the steps more than one command takes (load the manifest, unseal, build
//! the client, read the live state under the pacer, plan), `editing.rs` those of the commands
//! that edit the manifest (`secret set`, `secret import-env`, `secret rm`), and `exit.rs`
//! maps how a run ended to the documented exit codes.
//!
//! Adding a command:
//! 1. its arguments in `cli/mod.rs`: a `Command` variant and an `…Args` struct, each flag
//!    parsed into its type there (a parser in `cli/value.rs` when the type is ours);
//! 2. `commands/<name>.rs` with `pub(super) async fn run(cx: &mut Context<'_>, args: &…Args)
//!    -> anyhow::Result<Status>`: a script of `cx` steps and calls into the rooms, printing
//!    only through `cx.out`; a step a second command needs moves to `context.rs`;
//! 3. one arm in `run` below, and its lines in the README (`tests/it/docs.rs` checks them).

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, SecretCommand};
use crate::output::Output;

mod apply;
mod bindings;
mod check;
mod completions;
mod context;
mod editing;
mod emulator;
mod exit;
mod import;
mod import_env;
mod init;
mod local;
mod man;
mod plan;
mod reseal;
mod schema;
mod secret;
mod secret_rm;

pub use crate::env::Env;
use context::Context;
use exit::{AlreadyReported, EXIT_ERROR, Status, UsageError};

/// Parses the command line, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let env = Env::process();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(exit::usage_exit(err, &mut Output::stdio(false, &env))),
    };
    let mut out = Output::stdio(cli.global.quiet, &env);
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
    let result = runtime.block_on(run(cli, env, &mut out));
    ExitCode::from(exit::exit_code(result, &mut out))
}

/// Runs one command line in-process with the given environment and returns its exit code,
/// exactly as the binary would (used by the quickstart example). Must be called inside a
/// tokio runtime.
pub async fn run_args<I, T>(args: I, out: &mut Output, env: Env) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return exit::usage_exit(err, out),
    };
    let result = run(cli, env, out).await;
    exit::exit_code(result, out)
}

/// Runs the parsed command with `env` beside it. A variable that should name a path or URL
/// but holds what looks like a secret stops every command first, as a usage error.
async fn run(cli: Cli, env: Env, out: &mut Output) -> anyhow::Result<Status> {
    if let Some(refused) = env.secret_where_a_path_belongs() {
        return Err(UsageError(refused.to_string()).into());
    }
    let cx = &mut Context {
        out,
        global: &cli.global,
        env: &env,
    };
    match &cli.command {
        Command::Check(args) => check::run(cx, args).await,
        Command::Plan(args) => plan::run(cx, args).await,
        Command::Apply(args) => apply::run(cx, args).await,
        Command::Import(args) => import::run(cx, args).await,
        Command::Init(args) => init::run(cx, args).await,
        Command::Secret(SecretCommand::Set(args)) => secret::set(cx, args).await,
        Command::Secret(SecretCommand::ImportEnv(args)) => import_env::run(cx, args).await,
        Command::Secret(SecretCommand::Rm(args)) => secret_rm::run(cx, args).await,
        Command::Reseal(args) => reseal::run(cx, args).await,
        Command::Schema(args) => schema::run(cx, args),
        Command::Emulator(args) => emulator::run(cx, args).await,
        Command::Bindings(args) => bindings::run(cx, args).await,
        Command::Local(args) => local::run(cx, args).await,
        Command::Completions(args) => completions::run(cx, args),
        Command::Man(args) => man::run(cx, args),
    }
}
