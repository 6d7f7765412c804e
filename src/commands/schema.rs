//! `cfsecrets schema`: prints a JSON Schema generated from the Rust types.

use anyhow::Context as _;

use crate::cli::{SchemaArgs, SchemaKind};
use crate::commands::Status;
use crate::commands::context::Context;

pub(super) fn run(cx: &mut Context<'_>, args: &SchemaArgs) -> anyhow::Result<Status> {
    let text = match args.kind {
        SchemaKind::Manifest => crate::manifest::manifest_schema_json(),
        SchemaKind::Plan => crate::plan::schema::plan_schema_json(),
    };
    cx.out.print(&text).context("cannot write to stdout")?;
    Ok(Status::Success)
}
