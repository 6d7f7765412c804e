//! `cfsecrets import`.

use crate::cli::{GlobalArgs, ImportArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _global: &GlobalArgs, _args: &ImportArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`import` is not implemented yet")
}
