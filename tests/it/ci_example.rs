//! The CI workflows in `examples/ci/`: each parses as YAML and every `cfsecrets …` command in
//! its `run:` steps names a subcommand and flags the binary has (the checker of the `docs`
//! chapter). `github-actions.yml` plans on pull requests and applies a saved plan on main;
//! `emulator-dry-run.yml` plans and applies against `cfsecrets emulator` on loopback, with no
//! Cloudflare account.

use crate::docs::{check_command, commands_in_line};

fn load(name: &str) -> serde_json::Value {
    let path = format!("{}/examples/ci/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

/// The `on:` map (YAML 1.1 readers turn the key `on` into `true`).
fn triggers(workflow: &serde_json::Value) -> &serde_json::Value {
    workflow
        .get("on")
        .or_else(|| workflow.get("true"))
        .expect("an on: key")
}

/// Every `cfsecrets …` command line in the workflow's `run:` steps.
fn commands(workflow: &serde_json::Value) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for job in workflow["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            if let Some(run) = step["run"].as_str() {
                found.extend(run.lines().flat_map(commands_in_line));
            }
        }
    }
    found
}

/// Loads a workflow and checks all its commands against `--help`.
fn checked(name: &str) -> (serde_json::Value, Vec<Vec<String>>) {
    let workflow = load(name);
    let commands = commands(&workflow);
    let failures: Vec<String> = commands
        .iter()
        .filter_map(|c| check_command(c).err())
        .collect();
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    (workflow, commands)
}

fn has(commands: &[Vec<String>], line: &str) -> bool {
    let want: Vec<&str> = line.split_whitespace().collect();
    commands
        .iter()
        .any(|c| c.starts_with(&want.iter().map(|w| w.to_string()).collect::<Vec<_>>()))
}

#[test]
fn the_github_actions_example_uses_real_commands_and_flags() {
    let (workflow, commands) = checked("github-actions.yml");
    let on = triggers(&workflow);
    assert!(on.get("pull_request").is_some() && on.get("push").is_some());
    // The apply job applies a saved plan (refused when stale), never a fresh unreviewed one
    // from a pull request.
    let apply_job = &workflow["jobs"]["apply"];
    assert_eq!(apply_job["if"], "github.event_name == 'push'");
    assert!(has(&commands, "cfsecrets apply plan.json"), "{commands:?}");
    assert!(
        has(&commands, "cfsecrets plan --out plan.json"),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c[1] == "plan" && c.contains(&"--detailed-exitcode".to_string()))
    );
}

#[test]
fn the_emulator_dry_run_needs_no_account_and_checks_convergence() {
    let (workflow, commands) = checked("emulator-dry-run.yml");
    assert!(triggers(&workflow).get("pull_request").is_some());
    let job = &workflow["jobs"]["dry-run"];
    let env = &job["env"];

    // The emulator starts in the background on loopback, and the client is pointed at it with
    // the token the emulator demands.
    let start = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .flat_map(str::lines)
        .find(|l| l.trim_start().starts_with("cfsecrets emulator"))
        .expect("a step starts the emulator");
    assert!(
        start.trim_end().ends_with('&'),
        "not in the background: {start}"
    );
    let words: Vec<&str> = start.split_whitespace().collect();
    let listen = words[words.iter().position(|w| *w == "--listen").unwrap() + 1];
    assert!(listen.starts_with("127.0.0.1:"), "{listen}");
    assert_eq!(
        env["CLOUDFLARE_API_BASE_URL"],
        format!("http://{listen}/client/v4").as_str()
    );
    assert_eq!(env["CLOUDFLARE_API_TOKEN"], env["CFSECRETS_EMULATOR_TOKEN"]);

    // No Cloudflare credential is read from the repository's secrets.
    let text = serde_json::to_string(&workflow).unwrap();
    assert!(!text.contains("secrets.CLOUDFLARE"), "a real token is used");

    // A dry run of plan and apply, then a plan that must come back empty.
    assert!(
        has(&commands, "cfsecrets plan --out plan.json"),
        "{commands:?}"
    );
    assert!(has(&commands, "cfsecrets apply plan.json"), "{commands:?}");
    assert!(
        has(&commands, "cfsecrets plan --detailed-exitcode"),
        "{commands:?}"
    );
}
