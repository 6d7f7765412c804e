//! `cfsecrets schema`.

use crate::cli::SchemaArgs;
use crate::commands::Status;
use crate::output::Output;

pub fn run(_out: &mut Output, _args: &SchemaArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`schema` is not implemented yet")
}
