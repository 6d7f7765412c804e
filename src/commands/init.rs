//! `cfsecrets init`.

use crate::cli::{GlobalArgs, InitArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _global: &GlobalArgs, _args: &InitArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`init` is not implemented yet")
}
