//! `cfsecrets completions SHELL`: prints a completion script generated from the same clap
//! definitions as `--help`, so the two cannot drift.

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::Status;
use crate::commands::context::Context;

pub(super) fn run(cx: &mut Context<'_>, args: &CompletionsArgs) -> anyhow::Result<Status> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "cfsecrets", &mut script);
    let script = String::from_utf8(script).context("the completion script is not UTF-8")?;
    cx.out.print(&script).context("cannot write to stdout")?;
    Ok(Status::Success)
}
