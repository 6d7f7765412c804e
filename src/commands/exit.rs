//! How a run ends: the [`Status`] of a command that did not fail, the errors that choose
//! their own exit code ([`UsageError`], [`AlreadyReported`]), and the mapping of both to the
//! documented exit codes.

use crate::output::Output;

/// How a command that did not fail ended; mapped to the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// 0: success, or nothing to change.
    Success,
    /// 2: the plan has changes (`plan --detailed-exitcode`).
    Changes,
    /// 3: a safety rule blocked the plan.
    Blocked,
}

impl Status {
    pub(crate) fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Changes => 2,
            Status::Blocked => 3,
        }
    }
}

/// Exit code for errors.
pub(crate) const EXIT_ERROR: u8 = 1;
/// Exit code for usage errors (sysexits `EX_USAGE`).
pub(crate) const EXIT_USAGE: u8 = 64;

/// A mistake in how the command was called (bad flag combination, missing argument that
/// clap could not check). Exits 64.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// An error whose message was already printed in full (e.g. a list of diagnostics); the
/// process exits 1 without printing anything more.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct AlreadyReported(pub(crate) String);

/// Maps a command's result to the process exit code, printing the error if there is one.
/// A broken pipe (e.g. `cfsecrets plan | head`) exits quietly, but with [`EXIT_ERROR`]: the
/// command stopped at that write, so an apply may not have run and a plan's own exit code
/// (changes, blocked, problems) was never reached. Exiting 0 would claim a success nobody saw.
pub(crate) fn exit_code(result: anyhow::Result<Status>, out: &mut Output) -> u8 {
    match result {
        Ok(status) => status.code(),
        Err(err) => {
            if is_broken_pipe(&err) {
                return EXIT_ERROR;
            }
            if err.downcast_ref::<AlreadyReported>().is_none() {
                let _ = out.error(&err);
            }
            if err.downcast_ref::<UsageError>().is_some() {
                EXIT_USAGE
            } else {
                EXIT_ERROR
            }
        }
    }
}

/// Prints a command-line error as `cli` allows (a value refused by one of its parsers as
/// that parser worded it; anything else as clap words it, cleaned of what may be a secret),
/// or `--help`/`--version` as clap renders them, on stdout; returns the exit code. Both go
/// through `out`, so an embedding that captures the output gets them too.
pub(crate) fn usage_exit(err: clap::Error, out: &mut Output) -> u8 {
    if !err.use_stderr() {
        let text = err.render();
        let text = if out.stdout_color() {
            text.ansi().to_string()
        } else {
            text.to_string()
        };
        let _ = out.print(&text);
        return 0;
    }
    let _ = match crate::cli::refusal(&err) {
        Some(message) => out.error(&anyhow::anyhow!(message)),
        None => out.eprint(&crate::cli::shown(err, out.stderr_color())),
    };
    EXIT_USAGE
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use clap::Parser as _;

    use super::*;
    use crate::cli::Cli;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn help_and_version_reach_the_output_they_are_given() {
        for (args, expect) in [
            (vec!["cfsecrets", "--version"], "cfsecrets "),
            (vec!["cfsecrets", "plan", "--help"], "Usage: cfsecrets plan"),
        ] {
            let (stdout, stderr) = (Shared::default(), Shared::default());
            let mut out = Output::capture(Box::new(stdout.clone()), Box::new(stderr.clone()));
            let err = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(usage_exit(err, &mut out), 0, "{args:?}");
            let printed = String::from_utf8(stdout.0.lock().unwrap().clone()).unwrap();
            assert!(printed.contains(expect), "{args:?}: {printed}");
            assert!(
                !printed.contains('\x1b'),
                "captured output is never coloured"
            );
            assert!(stderr.0.lock().unwrap().is_empty());
        }
    }
}
