//! `cfsecrets emulator`.

use crate::cli::EmulatorArgs;
use crate::commands::Status;
use crate::output::Output;

pub async fn run(_out: &mut Output, _args: &EmulatorArgs) -> anyhow::Result<Status> {
    anyhow::bail!("`emulator` is not implemented yet")
}
