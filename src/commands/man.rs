//! `cfsecrets man [--dir DIR]`: the man page (roff) from the same clap definitions as
//! `--help`: the page of `cfsecrets` itself on stdout, or one page per command and
//! subcommand written into a directory.

use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::commands::Status;
use crate::commands::context::Context;
use crate::fs::{WriteOptions, write_atomic};

/// Pages are documentation: readable by all.
const PAGE: WriteOptions = WriteOptions::replace().with_mode(0o644);

pub(super) fn run(cx: &mut Context<'_>, args: &ManArgs) -> anyhow::Result<Status> {
    // Built, so that every subcommand knows its full name (`cfsecrets-secret-set`).
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let Some(dir) = &args.dir else {
        let page = render(&cli)?;
        cx.out.print(&page).context("cannot write to stdout")?;
        return Ok(Status::Success);
    };
    if let Ok(meta) = std::fs::metadata(dir) {
        let kind = crate::fs::Kind::of(&meta);
        if kind != crate::fs::Kind::Directory {
            anyhow::bail!(
                "cannot write the pages into {}: it is {}, not a directory",
                dir.display(),
                kind.describe()
            );
        }
    }
    let mut written = Vec::new();
    write_pages(&cli, dir, &mut written)?;
    cx.out.print(&format!(
        "wrote {} to {}: {}",
        crate::text::count(written.len(), "page", "pages"),
        dir.display(),
        written.join(", ")
    ))?;
    Ok(Status::Success)
}

/// One page: the command's name, synopsis, description, options, subcommands and examples.
fn render(cmd: &clap::Command) -> anyhow::Result<String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .context("cannot render the man page")?;
    String::from_utf8(page).context("the man page is not UTF-8")
}

/// Writes the page of `cmd` and of each of its subcommands, depth first, into `dir`;
/// collects the file names.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<String>) -> anyhow::Result<()> {
    let name = format!("{}.1", cmd.get_display_name().unwrap_or(cmd.get_name()));
    write_atomic(&dir.join(&name), render(cmd)?.as_bytes(), PAGE)?;
    written.push(name);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
