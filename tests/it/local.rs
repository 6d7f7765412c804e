//! `cfsecrets local` with a stub `wrangler` on `PATH` that records each call (its arguments,
//! working directory, environment and stdin): the value reaches wrangler on stdin and nowhere
//! else, `--remote` is never passed, each environment gets its own store id, every check runs
//! before wrangler first runs, and wrangler's stderr is shown without a value. The real
//! wrangler is driven by `tests/official_clients/wrangler_local.sh` (run by `.ci/run`).

use std::path::{Path, PathBuf};

use crate::support::{Emu, Project, Run};

const PROD_STORE: &str = "5f3c0c2b8f7d4e1a9b6c2d7e8f901234";
const STAGING_STORE: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A stub program that records each call in `$STUB_LOG` (argv, cwd, env, stdin) and fails,
/// echoing its stdin to stderr, when `$STUB_FAIL` is set. It names its tools by full path: a
/// test may run it with a `PATH` that holds nothing else.
const STUB: &str = r#"#!/bin/sh
log="$STUB_LOG"
n=1
while [ -e "$log/argv.$n" ]; do n=$((n + 1)); done
printf '%s\n' "$@" > "$log/argv.$n"
pwd > "$log/cwd.$n"
/usr/bin/env > "$log/env.$n"
/bin/cat > "$log/stdin.$n"
if [ -n "$STUB_FAIL" ]; then
  printf 'X ERROR could not create the secret: %s\n' "$(/bin/cat "$log/stdin.$n")" >&2
  exit 7
fi
echo "Created secret (value: REDACTED)"
"#;

/// Writes the stub as `dir/name`, executable.
pub fn write_stub(dir: &Path, name: &str) -> PathBuf {
    crate::support::write_script(dir, name, STUB)
}

/// One recorded call.
#[derive(Debug)]
pub struct Call {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: String,
    pub stdin: String,
}

/// Every call recorded in `log`, in order.
pub fn calls(log: &Path) -> Vec<Call> {
    let mut calls = Vec::new();
    for n in 1.. {
        let read = |what: &str| std::fs::read_to_string(log.join(format!("{what}.{n}")));
        let Ok(argv) = read("argv") else {
            break;
        };
        calls.push(Call {
            argv: argv.lines().map(str::to_string).collect(),
            cwd: PathBuf::from(read("cwd").unwrap().trim_end()),
            env: read("env").unwrap(),
            stdin: read("stdin").unwrap(),
        });
    }
    calls
}

/// A project with a `production` and a `dev` account, the same names in each with other
/// values, and a Worker in `workers/api` binding two of them at the top level and one in env
/// `staging`.
fn project(emu: &Emu) -> (Project, tempfile::TempDir) {
    let p = Project::new(emu);
    p.write(
        "cfsecrets.yaml",
        "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
         defaults:\n  scopes: [workers]\naccounts:\n\
         \x20 production:\n    account_id: 0123456789abcdef0123456789abcdef\n    stores:\n\
         \x20     default_secrets_store:\n        secrets:\n\
         \x20         STRIPE_KEY: { value: values/prod/stripe.age }\n\
         \x20         webhook-secret: { value: values/prod/webhook.age }\n\
         \x20 dev:\n    account_id: fedcba9876543210fedcba9876543210\n    stores:\n\
         \x20     default_secrets_store:\n        secrets:\n\
         \x20         STRIPE_KEY: { value: values/dev/stripe.age }\n\
         \x20         webhook-secret: { value: values/dev/webhook.age, scopes: [ai_gateway] }\n\
         \x20         KEPT: { value: keep }\n\
         \x20         GONE: { ensure: absent }\n",
    );
    p.seal("values/prod/stripe.age", "sk_live_PROD_never_local");
    p.seal("values/prod/webhook.age", "whsec_PROD_never_local");
    p.seal("values/dev/stripe.age", "sk_test_dev_stripe_1");
    p.seal("values/dev/webhook.age", "whsec_dev_webhook\nsecond line");
    p.write(
        "workers/api/wrangler.jsonc",
        &format!(
            "// the api Worker\n{{\n  \"name\": \"api\",\n  \"secrets_store_secrets\": [\n\
             \x20   {{ \"binding\": \"STRIPE\", \"store_id\": \"{PROD_STORE}\", \"secret_name\": \"STRIPE_KEY\" }},\n\
             \x20   {{ \"binding\": \"HOOK\", \"store_id\": \"{PROD_STORE}\", \"secret_name\": \"webhook-secret\" }},\n\
             \x20   {{ \"binding\": \"STRIPE_AGAIN\", \"store_id\": \"{PROD_STORE}\", \"secret_name\": \"STRIPE_KEY\" }},\n\
             \x20 ],\n  \"env\": {{\n    \"staging\": {{ \"secrets_store_secrets\": [\n\
             \x20     {{ \"binding\": \"STRIPE\", \"store_id\": \"{STAGING_STORE}\", \"secret_name\": \"STRIPE_KEY\" }},\n\
             \x20   ] }},\n    \"empty\": {{}},\n  }},\n}}\n"
        ),
    );
    let log = tempfile::tempdir().unwrap();
    let stubs = p.path("stubs");
    write_stub(&stubs, "wrangler");
    p.env.lock().unwrap().extend([
        (
            "PATH".to_string(),
            format!("{}:/usr/bin:/bin", stubs.display()),
        ),
        ("STUB_LOG".to_string(), log.path().display().to_string()),
    ]);
    (p, log)
}

fn local(p: &Project, more: &[&str]) -> Run {
    let mut args = vec!["local", "--account", "dev", "--wrangler", "workers/api"];
    args.extend(more);
    p.run(&args)
}

#[test]
fn each_bound_secret_goes_to_wrangler_on_stdin_never_on_its_command_line() {
    let emu = Emu::start();
    let (p, log) = project(&emu);
    let run = local(&p, &[]);
    run.expect(0);
    let calls = calls(log.path());
    // STRIPE_KEY is bound twice in the same store: filled once.
    assert_eq!(calls.len(), 2, "{calls:?}");
    let create = |store: &str, name: &str| -> Vec<String> {
        [
            "secrets-store",
            "secret",
            "create",
            store,
            "--name",
            name,
            "--scopes",
            "workers",
            "--config",
            "wrangler.jsonc",
        ]
        .map(String::from)
        .to_vec()
    };
    assert_eq!(calls[0].argv, create(PROD_STORE, "STRIPE_KEY"));
    assert_eq!(calls[1].argv, create(PROD_STORE, "webhook-secret"));
    // The dev account's values, exactly, on stdin; never on the command line, in the
    // environment or in cfsecrets' output.
    assert_eq!(calls[0].stdin, "sk_test_dev_stripe_1");
    assert_eq!(calls[1].stdin, "whsec_dev_webhook\nsecond line");
    let api = p.path("workers/api").canonicalize().unwrap();
    for call in &calls {
        assert_eq!(call.cwd.canonicalize().unwrap(), api);
        assert!(!call.argv.iter().any(|a| a == "--remote"));
        for value in ["sk_test_dev", "whsec_dev", "PROD_never"] {
            assert!(!call.argv.join(" ").contains(value));
            assert!(
                !call.env.contains(value),
                "a value in wrangler's environment"
            );
        }
        // Nor the identity or a Cloudflare credential: a local create needs neither.
        assert!(call.env.contains("STUB_LOG="), "{}", call.env);
        assert!(!call.env.contains("CFSECRETS_AGE_KEY"), "{}", call.env);
        assert!(!call.env.contains("CLOUDFLARE_API_TOKEN"), "{}", call.env);
    }
    assert_eq!(
        run.stdout,
        format!(
            "filled STRIPE_KEY (store {PROD_STORE})\n\
             filled webhook-secret (store {PROD_STORE})\n\
             Filled 2 secrets of dev into the local Secrets Store of `wrangler dev` for \
             workers/api/wrangler.jsonc (the top level).\n"
        )
    );
    assert!(
        run.stderr.contains(
            "workers/api/wrangler.jsonc:6:89: warning: secret `webhook-secret` lacks the \
             `workers` scope in dev/default_secrets_store: filled locally, but a Worker deployed \
             against that account could not read it\n"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with(
            "warning: the local store keeps these values in plain text under \
             workers/api/.wrangler/state: keep .wrangler out of git, and fill it with \
             development values only\n"
        ),
        "{}",
        run.stderr
    );
    // No request to Cloudflare.
    assert_eq!(emu.count("GET", "/stores"), 0);

    // An environment has its own bindings and store id, and wrangler gets `--env`.
    let run = local(&p, &["--env", "staging"]);
    run.expect(0);
    let calls = self::calls(log.path());
    assert_eq!(calls.len(), 3);
    let mut expected = create(STAGING_STORE, "STRIPE_KEY");
    expected.extend(["--env".to_string(), "staging".to_string()]);
    assert_eq!(calls[2].argv, expected);
    assert_eq!(calls[2].stdin, "sk_test_dev_stripe_1");
    assert!(run.stdout.ends_with("(env `staging`).\n"), "{}", run.stdout);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn every_binding_without_a_value_is_named_before_wrangler_runs() {
    let emu = Emu::start();
    let (p, log) = project(&emu);
    let text = std::fs::read_to_string(p.path("workers/api/wrangler.jsonc")).unwrap();
    let text = text
        .replacen("\"secret_name\": \"STRIPE_KEY\" },\n    { \"binding\": \"HOOK\"", "\"secret_name\": \"KEPT\" },\n    { \"binding\": \"HOOK\"", 1)
        .replacen("\"secret_name\": \"webhook-secret\"", "\"secret_name\": \"GONE\"", 1)
        .replacen("\"STRIPE_AGAIN\", \"store_id\": \"5f3c0c2b8f7d4e1a9b6c2d7e8f901234\", \"secret_name\": \"STRIPE_KEY\"", "\"STRIPE_AGAIN\", \"store_id\": \"5f3c0c2b8f7d4e1a9b6c2d7e8f901234\", \"secret_name\": \"NOWHERE\"", 1);
    p.write("workers/api/wrangler.jsonc", &text);
    let run = local(&p, &[]);
    run.expect(1);
    assert_eq!(
        run.stderr,
        "workers/api/wrangler.jsonc:5:91: error: secret `KEPT` is `value: keep` in dev/default_secrets_store: the manifest holds no value for it\n\
         workers/api/wrangler.jsonc:6:89: error: secret `GONE` is declared `ensure: absent` in dev/default_secrets_store: there is no value to fill\n\
         workers/api/wrangler.jsonc:7:97: error: secret `NOWHERE` is not declared in account dev\n\
         check failed: 3 errors\n"
    );
    assert!(calls(log.path()).is_empty(), "wrangler ran");

    for (args, code, says) in [
        (
            vec!["--env", "prod"],
            64,
            "workers/api/wrangler.jsonc has no env \"prod\" (envs: staging, empty)",
        ),
        (
            vec!["--env", "empty"],
            1,
            "workers/api/wrangler.jsonc binds no Secrets Store secret in env `empty`: nothing to fill",
        ),
        (
            vec!["--store", "other"],
            64,
            "account dev has no store \"other\" (stores: default_secrets_store)",
        ),
    ] {
        let run = local(&p, &args);
        run.expect(code);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let run = p.run(&["local", "--account", "qa", "--wrangler", "workers/api"]);
    run.expect(64);
    assert!(run.stderr.contains("no account \"qa\""), "{}", run.stderr);
    assert!(calls(log.path()).is_empty(), "wrangler ran");
}

#[test]
fn a_failing_wrangler_is_reported_without_the_value() {
    let emu = Emu::start();
    let (p, log) = project(&emu);
    p.env
        .lock()
        .unwrap()
        .push(("STUB_FAIL".to_string(), "1".to_string()));
    let run = local(&p, &[]);
    run.expect(1);
    // The stub echoed the value to its stderr; what is shown has it replaced.
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("X ERROR") || l.starts_with("error:"))
            .collect::<Vec<_>>(),
        [
            "X ERROR could not create the secret: <redacted>",
            "error: wrangler exited with status 7 creating STRIPE_KEY in the local store (after 0 secrets filled)",
        ]
    );
    assert_eq!(calls(log.path()).len(), 1, "stopped at the first failure");
    assert_eq!(run.stdout, "");
    p.assert_no_value_leaked(&[]);
}

#[test]
fn wrangler_is_found_as_given_then_on_path_then_through_npx() {
    let emu = Emu::start();
    let (p, log) = project(&emu);
    let elsewhere = p.path("tools");
    let given = write_stub(&elsewhere, "my-wrangler");
    // Neither wrangler nor npx on PATH: a clear error, nothing run.
    let empty = p.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    p.env
        .lock()
        .unwrap()
        .push(("PATH".to_string(), empty.display().to_string()));
    let run = local(&p, &[]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "error: wrangler not found: no `wrangler` and no `npx` on PATH; install wrangler in \
             the project (npm install --save-dev wrangler), or pass --wrangler-bin PATH"
        ),
        "{}",
        run.stderr
    );
    // --wrangler-bin, or CFSECRETS_WRANGLER.
    let given = given.display().to_string();
    local(&p, &["--wrangler-bin", &given]).expect(0);
    p.env
        .lock()
        .unwrap()
        .push(("CFSECRETS_WRANGLER".to_string(), given.clone()));
    local(&p, &[]).expect(0);
    assert_eq!(calls(log.path()).len(), 4);
    // npx: `npx --no-install wrangler …`, a project-local install, never a download.
    p.env
        .lock()
        .unwrap()
        .retain(|(k, _)| k != "CFSECRETS_WRANGLER");
    write_stub(&empty, "npx");
    local(&p, &[]).expect(0);
    let calls = calls(log.path());
    assert_eq!(calls.len(), 6);
    assert_eq!(
        calls[4].argv[..5],
        [
            "--no-install",
            "wrangler",
            "secrets-store",
            "secret",
            "create"
        ]
    );
    assert_eq!(calls[4].stdin, "sk_test_dev_stripe_1", "{calls:#?}");
}

#[test]
fn local_help_ends_with_examples_that_are_real_commands() {
    let out = crate::support::bin()
        .args(["local", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("keeps values in PLAIN TEXT under `.wrangler/state`"),
        "{help}"
    );
    for command in ["local", "plan", "apply"] {
        let out = crate::support::bin()
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let tail = help.trim_end().rsplit("Examples:\n").next().unwrap();
        let examples: Vec<&str> = tail.lines().map(str::trim).collect();
        assert!(!examples.is_empty() && examples.len() <= 2, "{help}");
        for example in examples {
            assert!(
                example.starts_with(&format!("cfsecrets {command} ")),
                "{example}"
            );
            let words = crate::docs::shell_words(example);
            assert_eq!(crate::docs::check_command(&words), Ok(()), "{example}");
        }
    }
}

/// The README's "Local development" section, run as written with the stub as `wrangler`.
#[test]
fn the_readme_local_development_section_runs_as_shown() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/production/stripe.age", "sk_live_readme_local_1");
    p.seal("values/production/webhook.age", "whsec_live_readme_local_2");
    p.seal("values/dev/stripe.age", "sk_test_readme_local_3");
    p.seal("values/dev/webhook.age", "whsec_test_readme_local_4");
    let bin_dir = crate::bindings::bin_dir();
    write_stub(bin_dir.path(), "wrangler");
    let log = tempfile::tempdir().unwrap();
    let extra = [("STUB_LOG", log.path().display().to_string())];
    let ran = crate::docs::run_readme_section(
        "Local development",
        &crate::bindings::project_shell(&p, &emu, bin_dir.path(), &extra),
    );
    p.outputs.lock().unwrap().extend(ran.outputs);
    assert_eq!(
        (ran.files, ran.lines, ran.sessions),
        (2, 1, 1),
        "the section changed shape"
    );
    // The top level's one binding, then env staging's two, each with its dev value.
    let calls = calls(log.path());
    let got: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c.argv[5].as_str(),
                c.argv.last().unwrap().as_str(),
                c.stdin.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("STRIPE_KEY", "wrangler.toml", "sk_test_readme_local_3"),
            ("STRIPE_KEY", "staging", "sk_test_readme_local_3"),
            ("WEBHOOK_SECRET", "staging", "whsec_test_readme_local_4"),
        ]
    );
    assert_eq!(emu.count("GET", "/stores"), 0);
    p.assert_no_value_leaked(&[]);
}
