//! `cfsecrets secret set`.

use crate::cli::{GlobalArgs, SecretSetArgs};
use crate::commands::Status;
use crate::output::Output;

pub async fn set(_out: &mut Output, _global: &GlobalArgs, _args: &SecretSetArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`secret set` is not implemented yet")
}
