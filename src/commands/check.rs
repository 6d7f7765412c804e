//! `cfsecrets check`.

use crate::cli::{GlobalArgs, CheckArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _global: &GlobalArgs, _args: &CheckArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`check` is not implemented yet")
}
