//! `cfsecrets plan`.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _global: &GlobalArgs, _args: &PlanArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`plan` is not implemented yet")
}
