//! `cfsecrets emulator`: runs the Secrets Store API emulator in the foreground until Ctrl-C.

use anyhow::Context as _;

use crate::cli::EmulatorArgs;
use crate::commands::context::Context;
use crate::commands::{Status, UsageError};
use crate::emulator::{BatchMode, Emulator, EmulatorConfig, FaultConfig};

/// Turns the flags into an emulator configuration, checking the fractions.
fn config(args: &EmulatorArgs) -> Result<EmulatorConfig, UsageError> {
    for (flag, p) in [
        ("--error-rate", args.error_rate),
        ("--drop-rate", args.drop_rate),
        ("--drop-response-rate", args.drop_response_rate),
        ("--corrupt-rate", args.corrupt_rate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(UsageError(format!("{flag} must be between 0 and 1")));
        }
    }
    if args.rate_window == 0 {
        return Err(UsageError(
            "--rate-window must be at least 1 second (turn the limit off with --rate-limit 0)"
                .into(),
        ));
    }
    if args.token.as_deref().is_some_and(str::is_empty) {
        return Err(UsageError("--token must not be empty".into()));
    }
    if args.read_only_token.as_deref().is_some_and(str::is_empty) {
        return Err(UsageError("--read-only-token must not be empty".into()));
    }
    if args.read_only_token.is_some() && args.read_only_token == args.token {
        return Err(UsageError(
            "--read-only-token must differ from --token".into(),
        ));
    }
    Ok(EmulatorConfig {
        token: args.token.clone(),
        read_only_token: args.read_only_token.clone(),
        value_limit: args.value_limit,
        quota: args.quota,
        max_stores: args.max_stores,
        batch_mode: if args.partial_batches {
            BatchMode::Partial
        } else {
            BatchMode::AllOrNothing
        },
        default_store: args.default_store.clone(),
        faults: FaultConfig {
            latency_ms: args.latency_ms,
            rate_limit: args.rate_limit,
            rate_window_secs: args.rate_window,
            error_rate: args.error_rate,
            drop_rate: args.drop_rate,
            drop_response_rate: args.drop_response_rate,
            corrupt_rate: args.corrupt_rate,
        },
        seed: args.seed,
        state_file: args.state.clone(),
        activate_after_reads: Some(args.pending_reads),
        activate_after: None,
        total_pages: args.total_pages,
    })
}

pub(super) async fn run(cx: &mut Context<'_>, args: &EmulatorArgs) -> anyhow::Result<Status> {
    let out = &mut *cx.out;
    let config = config(args)?;
    let token_note = if config.token.is_some() {
        "clients must send the token given by --token (Bearer, or X-Auth-Key with X-Auth-Email)"
    } else {
        "no --token given: any non-empty Bearer token (or X-Auth-Email plus X-Auth-Key) is accepted"
    };
    // Listen for Ctrl-C before announcing the address, so an early interrupt is not lost.
    let interrupted = tokio::spawn(tokio::signal::ctrl_c());
    let handle = Emulator::start(config, args.listen)
        .await
        .context("cannot start the emulator")?;
    out.print(&format!(
        "emulator listening on {}\nbase URL: {}\nadmin:    {}/\n",
        handle.addr(),
        handle.base_url(),
        handle.admin_url()
    ))?;
    out.status(&format!("note: {token_note}"))?;
    if let Some(path) = &args.state {
        out.status(&format!(
            "note: state is kept in {} (mode 0600; it holds secret values)",
            path.display()
        ))?;
    }
    out.status("note: press Ctrl-C to stop")?;
    interrupted
        .await
        .context("cannot wait for Ctrl-C")?
        .context("cannot wait for Ctrl-C")?;
    let failures = handle.persist_failures();
    handle.shutdown().await;
    if failures > 0 {
        out.warn(&format!("{failures} state-file writes failed"))?;
    }
    out.status("emulator stopped")?;
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(extra: &[&str]) -> EmulatorArgs {
        let mut argv = vec!["cfsecrets", "emulator"];
        argv.extend_from_slice(extra);
        match Cli::parse_from(argv).command {
            Command::Emulator(args) => args,
            _ => unreachable!("parsed the emulator subcommand"),
        }
    }

    #[test]
    fn a_zero_rate_window_is_a_usage_error() {
        let err = config(&args(&["--rate-limit", "5", "--rate-window", "0"])).unwrap_err();
        assert!(err.0.contains("--rate-window"), "{}", err.0);
        assert_eq!(
            config(&args(&["--rate-window", "1"]))
                .unwrap()
                .faults
                .rate_window_secs,
            1
        );
    }

    #[test]
    fn flags_become_config() {
        let c = config(&args(&[
            "--partial-batches",
            "--value-limit",
            "1024",
            "--rate-limit",
            "5",
            "--seed",
            "9",
            "--pending-reads",
            "0",
            "--corrupt-rate",
            "0.25",
            "--total-pages",
            "--read-only-token",
            "reader",
        ]))
        .unwrap();
        assert_eq!(c.faults.corrupt_rate, 0.25);
        assert!(c.total_pages);
        assert_eq!(c.read_only_token.as_deref(), Some("reader"));
        assert_eq!(c.batch_mode, BatchMode::Partial);
        assert_eq!(c.value_limit, 1024);
        assert_eq!(c.faults.rate_limit, 5);
        assert_eq!(c.seed, Some(9));
        assert_eq!(c.activate_after_reads, Some(0));
        let defaults = config(&args(&[])).unwrap();
        assert_eq!(defaults.batch_mode, BatchMode::AllOrNothing);
        assert!(
            !defaults.total_pages,
            "Cloudflare's lists carry no total_pages"
        );
        assert_eq!(defaults.faults.corrupt_rate, 0.0);
    }

    #[test]
    fn fractions_outside_zero_to_one_are_refused() {
        let err = config(&args(&["--drop-rate", "1.5"])).unwrap_err();
        assert!(err.0.contains("--drop-rate"), "{}", err.0);
        let err = config(&args(&["--corrupt-rate=-0.1"])).unwrap_err();
        assert!(err.0.contains("--corrupt-rate"), "{}", err.0);
        let err = config(&args(&["--token", "t", "--read-only-token", "t"])).unwrap_err();
        assert!(err.0.contains("--read-only-token"), "{}", err.0);
    }
}
