//! `examples/ci/github-actions.yml`: parses as YAML, plans on pull requests and applies on
//! main, and every `cfsecrets …` command in it names a subcommand and flags the binary has.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cfsecrets"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "cfsecrets {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Every `cfsecrets …` command line in the workflow's `run:` steps.
fn commands(workflow: &serde_json::Value) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for job in workflow["jobs"].as_object().unwrap().values() {
        for step in job["steps"].as_array().unwrap() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            for line in run.lines() {
                let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                if words.first().map(String::as_str) == Some("cfsecrets") {
                    found.push(words);
                }
            }
        }
    }
    found
}

#[test]
fn the_github_actions_example_uses_real_commands_and_flags() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/ci/github-actions.yml"
    ))
    .unwrap();
    let workflow: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
    let on = workflow.get("on").or_else(|| workflow.get("true")).unwrap();
    assert!(on.get("pull_request").is_some() && on.get("push").is_some());

    let commands = commands(&workflow);
    let subcommands: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    assert!(subcommands.contains(&"plan") && subcommands.contains(&"apply"));
    let top = help(&[]);
    for command in &commands {
        let sub = &command[1];
        assert!(top.contains(&format!("  {sub} ")), "no subcommand {sub}");
        let sub_help = help(&[sub]);
        for word in &command[2..] {
            if word.starts_with("--") {
                assert!(
                    sub_help.contains(word.as_str()),
                    "`{sub}` has no flag {word}"
                );
            }
            if word == ">" {
                break;
            }
        }
    }
    // The apply job applies a saved plan (refused when stale), never a fresh unreviewed one
    // from a pull request.
    let apply_job = &workflow["jobs"]["apply"];
    assert_eq!(apply_job["if"], "github.event_name == 'push'");
    assert!(
        commands
            .iter()
            .any(|c| c[1] == "apply" && c[2] == "plan.json")
    );
    assert!(
        commands
            .iter()
            .any(|c| c[1] == "plan" && c.contains(&"--detailed-exitcode".to_string()))
    );
}
