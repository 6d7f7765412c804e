//! `cfsecrets reseal`.

use crate::cli::{GlobalArgs, ResealArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _global: &GlobalArgs, _args: &ResealArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`reseal` is not implemented yet")
}
