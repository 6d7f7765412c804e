//! `cfsecrets apply`.

use crate::cli::{GlobalArgs, ApplyArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _global: &GlobalArgs, _args: &ApplyArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`apply` is not implemented yet")
}
