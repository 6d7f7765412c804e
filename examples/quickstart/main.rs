//! The quickstart: the whole main job without a Cloudflare account.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It starts the built-in Secrets Store emulator on 127.0.0.1 (a free port), then runs the
//! real commands in-process against it with the manifest beside this file:
//!
//! 1. `plan`   — everything is new: a store and three secrets to create;
//! 2. `apply`  — executes that plan;
//! 3. `plan`   — again, now empty: live state matches the manifest.
//!
//! The values are sealed to `demo-identity.key`, a DEMO identity committed on purpose so that
//! nothing needs setting up. Never seal a real secret to it.

// The example narrates its steps on stderr itself, around the commands' own output.
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use cfsecrets::commands::{Env, run_args};
use cfsecrets::emulator::{Emulator, EmulatorConfig};
use cfsecrets::output::Output;

/// The emulator's API token for this run; not a secret (it guards nothing but this process).
const DEMO_TOKEN: &str = "quickstart-demo-token";

#[tokio::main]
async fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    let manifest = dir.join("cfsecrets.yaml");
    let identity = dir.join("demo-identity.key");

    let config = EmulatorConfig {
        token: Some(DEMO_TOKEN.to_string()),
        ..EmulatorConfig::default()
    };
    let emulator = match Emulator::start(config, ([127, 0, 0, 1], 0).into()).await {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("error: cannot start the emulator: {err}");
            return ExitCode::FAILURE;
        }
    };
    let api_url = emulator.base_url();
    eprintln!("emulator listening on {api_url}\n");

    let mut out = Output::stdio(false, &Env::process());
    let env = Env::fixed([("CLOUDFLARE_API_TOKEN", DEMO_TOKEN)]);
    let common = |command: &str| {
        vec![
            "cfsecrets".to_string(),
            "-f".to_string(),
            manifest.display().to_string(),
            "-i".to_string(),
            identity.display().to_string(),
            command.to_string(),
            "--api-url".to_string(),
            api_url.clone(),
        ]
    };

    let steps: [(&str, Vec<String>, u8); 3] = [
        (
            "1. cfsecrets plan  (everything is new; exit 2 = changes present)",
            [common("plan"), vec!["--detailed-exitcode".into()]].concat(),
            2,
        ),
        (
            "2. cfsecrets apply --auto-approve",
            [common("apply"), vec!["--auto-approve".into()]].concat(),
            0,
        ),
        (
            "3. cfsecrets plan  (again: nothing left to do; exit 0)",
            [common("plan"), vec!["--detailed-exitcode".into()]].concat(),
            0,
        ),
    ];
    for (title, args, expected) in steps {
        eprintln!("── {title}");
        let code = run_args(args, &mut out, env.clone()).await;
        eprintln!();
        if code != expected {
            eprintln!("error: this step exited {code}, expected {expected}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("quickstart ok: planned, applied, and the second plan is empty.");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}
