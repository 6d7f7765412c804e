//! Workers bindings: `cfsecrets bindings` (each output format, the store id from the API or
//! from `--store-id`) and `cfsecrets check --wrangler` (wrangler.toml, wrangler.json and
//! wrangler.jsonc, top level and named environments), `plan`/`apply --wrangler` (the blocked
//! plan, `--allow-binding-breaks`) and `apply --wait-active` against the emulator's pending
//! reads, through the real binary against the emulator. The README's "Workers bindings"
//! section is run here as written: its files are written, its `sh` commands must succeed, and
//! each `$ cfsecrets …` in a `text` block must print exactly what follows it.

use std::path::Path;

use cfsecrets::wrangler::render::{Entry, Style, render};

use crate::docs::{ReadmeShell, check_command, run_readme_section, shell_words};
use crate::support::{ACCOUNT, Emu, Project, Run, TOKEN, bin};

const STORE: &str = "default_secrets_store";

// ---------------------------------------------------------------------------------------------
// The renderers

fn entries() -> Vec<Entry> {
    [
        ("STRIPE_KEY", "STRIPE_KEY"),
        ("webhook_secret", "webhook-secret"),
    ]
    .into_iter()
    .map(|(binding, secret)| Entry {
        binding: binding.into(),
        store_id: "0123456789abcdef0123456789abcdef".into(),
        secret_name: secret.into(),
    })
    .collect()
}

#[test]
fn rendered_toml() {
    insta::assert_snapshot!(
        "bindings_toml",
        render(Style::Toml, "production", STORE, &entries())
    );
}

#[test]
fn rendered_jsonc() {
    insta::assert_snapshot!(
        "bindings_jsonc",
        render(Style::Jsonc, "production", STORE, &entries())
    );
}

#[test]
fn rendered_ts() {
    insta::assert_snapshot!(
        "bindings_ts",
        render(Style::Ts, "production", STORE, &entries())
    );
}

// ---------------------------------------------------------------------------------------------
// `cfsecrets bindings` against the emulator

/// A project whose store holds two `workers` secrets, one `ai_gateway` secret and one absent.
fn project(emu: &Emu) -> Project {
    let p = Project::new(emu);
    p.manifest(
        "      default_secrets_store:\n        secrets:\n\
         \x20         STRIPE_KEY: { value: values/stripe.age, scopes: [workers, ai_gateway] }\n\
         \x20         webhook-secret: { value: values/webhook.age }\n\
         \x20         OPENAI_KEY: { value: values/openai.age, scopes: [ai_gateway] }\n\
         \x20         OLD_TOKEN: { ensure: absent }\n",
    );
    p.seal("values/stripe.age", "sk_live_bindings_1");
    p.seal("values/webhook.age", "whsec_bindings_2");
    p.seal("values/openai.age", "sk-openai-bindings-3");
    p
}

fn create_store(emu: &Emu, name: &str) -> String {
    let client = emu.client();
    emu.block_on(client.create_store(ACCOUNT, name)).unwrap().id
}

#[test]
fn bindings_learn_the_store_id_with_one_request_in_every_format() {
    let emu = Emu::start();
    let p = project(&emu);
    let id = create_store(&emu, STORE);
    for (format, expect) in [
        (
            "toml",
            format!(
                "binding = \"webhook_secret\"\nstore_id = \"{id}\"\nsecret_name = \"webhook-secret\"\n"
            ),
        ),
        (
            "jsonc",
            format!("    \"binding\": \"STRIPE_KEY\",\n    \"store_id\": \"{id}\",\n"),
        ),
        (
            "ts",
            "  webhook_secret: SecretsStoreSecret; // secret webhook-secret\n".to_string(),
        ),
    ] {
        let before = emu.count("GET", "/stores");
        let run = p.run(&["bindings", "--account", "production", "--format", format]);
        run.expect(0);
        assert_eq!(emu.count("GET", "/stores"), before + 1, "{format}");
        assert!(run.stdout.contains(&expect), "{format}:\n{}", run.stdout);
        // Only the `workers` secrets: not OPENAI_KEY (ai_gateway), not OLD_TOKEN (absent).
        assert!(!run.stdout.contains("OPENAI_KEY") && !run.stdout.contains("OLD_TOKEN"));
        assert_eq!(
            run.stderr,
            "2 bindings for production/default_secrets_store\n"
        );
    }
    // What the toml format prints is exactly the renderer's output for the live id.
    let run = p.run(&["bindings", "--account", "production"]);
    let expected: Vec<Entry> = entries()
        .into_iter()
        .map(|e| Entry {
            store_id: id.clone(),
            ..e
        })
        .collect();
    assert_eq!(
        run.stdout,
        render(Style::Toml, "production", STORE, &expected)
    );
    p.assert_no_value_leaked(&[]);
}

#[test]
fn a_store_id_given_keeps_bindings_offline() {
    let emu = Emu::start();
    let p = project(&emu);
    let run = p.run(&[
        "bindings",
        "--account",
        "production",
        "--secret",
        "webhook-secret",
        "--store-id",
        "ABCDEF0123456789ABCDEF0123456789",
        "--format",
        "ts",
    ]);
    run.expect(0);
    assert_eq!(emu.count("GET", "/stores"), 0);
    assert!(
        run.stdout
            .contains("export interface Env {\n  webhook_secret: SecretsStoreSecret; // secret webhook-secret\n}\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("STRIPE_KEY"), "{}", run.stdout);

    // The id is printed as Cloudflare writes ids: lowercase.
    let run = p.run(&[
        "bindings",
        "--account",
        "production",
        "--store-id",
        "ABCDEF0123456789ABCDEF0123456789",
    ]);
    assert!(
        run.stdout
            .contains("store_id = \"abcdef0123456789abcdef0123456789\""),
        "{}",
        run.stdout
    );

    let run = p.run(&["bindings", "--account", "production", "--store-id", "abc"]);
    run.expect(64);
    assert!(
        run.stderr
            .contains("--store-id: expected 32 hexadecimal characters, got 3 characters"),
        "{}",
        run.stderr
    );
    assert_eq!(emu.count("GET", "/stores"), 0);
}

#[test]
fn secrets_that_cannot_be_bound_are_refused_before_any_request() {
    let emu = Emu::start();
    let p = project(&emu);
    create_store(&emu, STORE);
    let run = p.run(&[
        "bindings",
        "--account",
        "production",
        "--secret",
        "OPENAI_KEY",
        "--secret",
        "OLD_TOKEN",
        "--secret",
        "NOPE",
        "--secret",
        "STRIPE_KEY",
    ]);
    run.expect(1);
    assert_eq!(
        run.stderr,
        "error: secret `OPENAI_KEY` lacks the `workers` scope in production/default_secrets_store\n\
         error: secret `OLD_TOKEN` is declared `ensure: absent` in production/default_secrets_store\n\
         error: secret `NOPE` is not declared in production/default_secrets_store\n"
    );
    assert_eq!(run.stdout, "");
    assert_eq!(emu.count("GET", "/stores"), 0);

    for (args, code, says) in [
        (
            vec!["bindings", "--account", "staging"],
            64,
            "no account \"staging\" in cfsecrets.yaml (accounts: production)",
        ),
        (
            vec!["bindings", "--account", "production", "--store", "other"],
            64,
            "account production has no store \"other\" (stores: default_secrets_store)",
        ),
    ] {
        let run = p.run(&args);
        run.expect(code);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert_eq!(emu.count("GET", "/stores"), 0);
}

#[test]
fn a_store_not_created_yet_has_no_id_and_the_error_says_what_to_do() {
    let emu = Emu::start();
    let p = project(&emu);
    let run = p.run(&["bindings", "--account", "production"]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "error: store default_secrets_store does not exist yet in account production \
             (0123456789abcdef0123456789abcdef): run `cfsecrets apply` to create it, or pass \
             --store-id"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn an_unbindable_name_is_left_out_with_a_warning() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.manifest(
        "      default_secrets_store:\n        secrets:\n\
         \x20         1PASSWORD_TOKEN: { value: values/a.age }\n\
         \x20         GOOD: { value: values/a.age }\n",
    );
    p.seal("values/a.age", "v-unbindable-1");
    let id = "0123456789abcdef0123456789abcdef";
    let run = p.run(&["bindings", "--account", "production", "--store-id", id]);
    run.expect(0);
    assert!(run.stdout.contains("binding = \"GOOD\""), "{}", run.stdout);
    assert!(!run.stdout.contains("1PASSWORD"), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "warning: secret `1PASSWORD_TOKEN` cannot be a binding name: it starts with a digit"
        ),
        "{}",
        run.stderr
    );
    let run = p.run(&[
        "bindings",
        "--account",
        "production",
        "--store-id",
        id,
        "--secret",
        "1PASSWORD_TOKEN",
    ]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("error: secret `1PASSWORD_TOKEN` cannot be a binding name"),
        "{}",
        run.stderr
    );
}

#[test]
fn bindings_help_ends_with_examples_that_are_real_commands() {
    let out = bin().args(["bindings", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let tail = help.trim_end().rsplit("Examples:\n").next().unwrap();
    let examples: Vec<&str> = tail.lines().map(str::trim).collect();
    assert!(!examples.is_empty() && examples.len() <= 2, "{help}");
    for example in examples {
        assert!(example.starts_with("cfsecrets bindings "), "{example}");
        assert_eq!(check_command(&shell_words(example)), Ok(()), "{example}");
    }
}

// ---------------------------------------------------------------------------------------------
// `cfsecrets check --wrangler`

const ID: &str = "5f3c0c2b8f7d4e1a9b6c2d7e8f901234";

fn check(p: &Project, paths: &[&str]) -> Run {
    let mut args = vec!["check"];
    for path in paths {
        args.extend(["--wrangler", path]);
    }
    p.run_without_identity(&args)
}

#[test]
fn check_reads_toml_json_and_jsonc_with_named_environments() {
    let emu = Emu::start();
    let p = project(&emu);
    p.write(
        "api/wrangler.toml",
        &format!(
            "name = \"api\"\n\
             [[secrets_store_secrets]]\nbinding = \"STRIPE\"\nstore_id = \"{ID}\"\nsecret_name = \"STRIPE_KEY\"\n\
             [env.staging]\nsecrets_store_secrets = [ {{ binding = \"AI\", store_id = \"{ID}\", secret_name = \"OPENAI_KEY\" }} ]\n"
        ),
    );
    p.write(
        "cron/wrangler.json",
        &format!(
            "{{\n  \"name\": \"cron\",\n  \"env\": {{\n    \"dev\": {{\n      \"secrets_store_secrets\": [\n        {{ \"binding\": \"HOOK\", \"store_id\": \"{ID}\", \"secret_name\": \"webhook-secret\" }},\n        {{ \"binding\": \"HOOK\", \"store_id\": \"{ID}\", \"secret_name\": \"OLD_TOKEN\" }}\n      ]\n    }}\n  }}\n}}\n"
        ),
    );
    p.write(
        "queue/wrangler.jsonc",
        &format!(
            "// the queue consumer\n{{\n  \"name\": \"queue\", /* no vars */\n  \"secrets_store_secrets\": [\n    {{ \"binding\": \"my-hook\", \"store_id\": \"{ID}\", \"secret_name\": \"webhook-secret\", }},\n  ],\n}}\n"
        ),
    );
    let run = check(&p, &["api", "cron/wrangler.json", "queue"]);
    run.expect(1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "api/wrangler.toml:7:106: error: secret `OPENAI_KEY` lacks the `workers` scope (production/default_secrets_store: ai_gateway): a Worker cannot read it; add `workers` to its scopes in cfsecrets.yaml\n\
         cron/wrangler.json:7:22: error: binding name `HOOK` is repeated in env `dev` (first at line 6)\n\
         cron/wrangler.json:7:93: error: secret `OLD_TOKEN` is declared `ensure: absent` in cfsecrets.yaml (production/default_secrets_store): the binding would fail\n\
         queue/wrangler.jsonc:5:18: error: binding name `my-hook` is not a JavaScript identifier: it contains `-` (use `_`)\n\
         check failed: 4 errors\n"
    );

    // Fixed, the same three configs pass, and the summary counts what was checked.
    for (file, from, to) in [
        ("api/wrangler.toml", "OPENAI_KEY", "STRIPE_KEY"),
        (
            "cron/wrangler.json",
            "\"HOOK\", \"store_id\": \"5f3c0c2b8f7d4e1a9b6c2d7e8f901234\", \"secret_name\": \"OLD_TOKEN\"",
            "\"STRIPE\", \"store_id\": \"5f3c0c2b8f7d4e1a9b6c2d7e8f901234\", \"secret_name\": \"STRIPE_KEY\"",
        ),
        ("queue/wrangler.jsonc", "my-hook", "my_hook"),
    ] {
        let text = std::fs::read_to_string(p.path(file)).unwrap();
        assert!(text.contains(from), "{file}");
        p.write(file, &text.replace(from, to));
    }
    let run = check(&p, &["api", "cron/wrangler.json", "queue"]);
    run.expect(0);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "ok: cfsecrets.yaml — 1 account, 1 store, 4 secrets (1 absent); 5 bindings in 3 wrangler configs checked\n"
    );
}

#[test]
fn check_warns_without_failing_and_a_bad_config_does_not_hide_the_others() {
    let emu = Emu::start();
    let p = project(&emu);
    p.write("empty/wrangler.toml", "name = \"nothing-bound\"\n");
    p.write("broken/wrangler.jsonc", "{ \"secrets_store_secrets\": [ }");
    let run = check(&p, &["empty"]);
    run.expect(0);
    assert_eq!(
        run.stderr,
        "empty/wrangler.toml: warning: binds no Secrets Store secret: no `secrets_store_secrets` entry at the top level or in any env\n"
    );
    assert!(
        run.stdout
            .ends_with("; 0 bindings in 1 wrangler config checked (1 warning)\n"),
        "{}",
        run.stdout
    );
    let run = check(&p, &["broken", "empty", "missing"]);
    run.expect(1);
    assert_eq!(
        run.stderr,
        "broken/wrangler.jsonc:1:30: error: not valid JSON: unexpected close brace\n\
         empty/wrangler.toml: warning: binds no Secrets Store secret: no `secrets_store_secrets` entry at the top level or in any env\n\
         missing: error: cannot read the wrangler config: file not found\n\
         check failed: 2 errors, 1 warning\n"
    );
}

#[test]
fn a_value_pasted_into_a_wrangler_config_is_never_repeated() {
    let emu = Emu::start();
    let p = project(&emu);
    let pasted = "sk_live 51Hx/pasted+value==";
    p.write(
        "wrangler.jsonc",
        &format!(
            "{{ \"secrets_store_secrets\": [\n  {{ \"binding\": \"{pasted}\", \"store_id\": \"{pasted}\", \"secret_name\": \"{pasted}\" }}\n] }}"
        ),
    );
    let run = check(&p, &["."]);
    run.expect(1);
    assert!(!run.all().contains("pasted"), "{}", run.all());
    assert_eq!(
        run.stderr.matches("wrangler.jsonc:2:").count(),
        3,
        "{}",
        run.stderr
    );
    let run = p.run(&["bindings", "--account", "production", "--secret", pasted]);
    run.expect(1);
    assert!(!run.all().contains("pasted"), "{}", run.all());
}

// ---------------------------------------------------------------------------------------------
// `cfsecrets plan --wrangler` and `apply --wrangler`

/// A project declaring A and B (both `workers`), not applied.
fn two_secrets(emu: &Emu) -> Project {
    let p = Project::new(emu);
    p.manifest(
        "      default_secrets_store:\n        secrets:\n\
         \x20         A: { value: values/a.age }\n\
         \x20         B: { value: values/b.age }\n",
    );
    p.seal("values/a.age", "sk_live_two_a1");
    p.seal("values/b.age", "whsec_two_b2");
    p
}

/// A project with A and B applied (both `workers`), and a wrangler.toml binding A at the top
/// level and B in env `staging`, with the live store id. Returns it and the store id.
fn bound_project(emu: &Emu) -> (Project, String) {
    let p = two_secrets(emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    let client = emu.client();
    let id = emu.block_on(client.list_stores(ACCOUNT)).unwrap()[0]
        .id
        .clone();
    p.write(
        "wrangler.toml",
        &format!(
            "name = \"api\"\n\n\
             [[secrets_store_secrets]]\nbinding = \"A_KEY\"\nstore_id = \"{id}\"\nsecret_name = \"A\"\n\n\
             [env.staging]\nsecrets_store_secrets = [\n  {{ binding = \"B_KEY\", store_id = \"{id}\", secret_name = \"B\" }},\n]\n"
        ),
    );
    (p, id)
}

/// The manifest after a change that deletes A and takes `workers` from B.
fn break_both(p: &Project) {
    p.manifest(
        "      default_secrets_store:\n        secrets:\n\
         \x20         A: { ensure: absent }\n\
         \x20         B: { value: values/b.age, scopes: [dex] }\n",
    );
}

const BLOCKED_A: &str = "wrangler.toml:3:1: binding `A_KEY` (the top level) would break: this plan deletes secret `A` from production/default_secrets_store";
const BLOCKED_B: &str = "wrangler.toml:10:3: binding `B_KEY` (env `staging`) would break: this plan removes the `workers` scope from secret `B` in production/default_secrets_store";

#[test]
fn a_sound_plan_says_its_bindings_were_checked() {
    let emu = Emu::start();
    let (p, _) = bound_project(&emu);
    let run = p.run(&["plan", "--wrangler", ".", "--detailed-exitcode"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("note: 2 Workers bindings in 1 wrangler config checked against this plan\n"),
        "{}",
        run.stdout
    );
    // Without --wrangler, nothing is said about bindings.
    let run = p.run(&["plan"]);
    assert!(!run.stdout.contains("Workers binding"), "{}", run.stdout);
}

#[test]
fn a_plan_that_breaks_bindings_is_blocked_and_shown_in_every_format() {
    let emu = Emu::start();
    let (p, _) = bound_project(&emu);
    break_both(&p);
    let run = p.run(&["plan", "--wrangler", "."]);
    run.expect(3);
    for line in [
        format!("! blocked: {BLOCKED_A}\n"),
        format!("! blocked: {BLOCKED_B}\n"),
        "note: 2 Workers bindings in 1 wrangler config checked against this plan: 2 bindings would break\n".to_string(),
        "This plan is blocked by a safety rule; apply will refuse it (use --allow-binding-breaks to allow it).\n".to_string(),
    ] {
        assert!(run.stdout.contains(&line), "missing {line:?}:\n{}", run.stdout);
    }
    // The plan itself is shown in full.
    assert!(
        run.stdout.contains("  - default_secrets_store/A"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.ends_with(
            "warning: the plan is blocked by a safety rule; `apply` refuses it (change the \
             bindings first, or pass --allow-binding-breaks)\n"
        ),
        "{}",
        run.stderr
    );

    let md = p.run(&["plan", "--wrangler", ".", "--format", "markdown"]);
    md.expect(3);
    assert!(
        md.stdout.contains("> **Blocked by a safety rule**"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout
            .contains("> - wrangler.toml:3:1: binding &#96;A&#95;KEY&#96;"),
        "{}",
        md.stdout
    );

    let json = p.run(&["plan", "--wrangler", ".", "--format", "json"]);
    json.expect(3);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let blocked = doc["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 2);
    assert_eq!(blocked[1]["rule"], "workers_binding");
    assert_eq!(blocked[1]["message"], BLOCKED_B);
    assert_eq!(
        blocked[1]["binding"],
        serde_json::json!({"file": "wrangler.toml", "line": 10, "column": 3, "env": "staging", "name": "B_KEY", "secret": "B"})
    );

    // apply refuses the same plan before any write; --allow-binding-breaks lets it through.
    let writes = |emu: &Emu| {
        emu.count("DELETE", "/stores/{store_id}/secrets/{secret_id}")
            + emu.count("PATCH", "/stores/{store_id}/secrets/{secret_id}")
    };
    let run = p.run(&["apply", "--auto-approve", "--wrangler", "."]);
    run.expect(3);
    assert!(run.stderr.contains(BLOCKED_A), "{}", run.stderr);
    assert_eq!(writes(&emu), 0);
    let run = p.run(&[
        "plan",
        "--wrangler",
        ".",
        "--allow-binding-breaks",
        "--detailed-exitcode",
    ]);
    run.expect(2);
    assert!(
        run.stdout.contains(&format!(
            "  warning: {BLOCKED_A} (allowed by --allow-binding-breaks)\n"
        )),
        "{}",
        run.stdout
    );
    p.run(&[
        "apply",
        "--auto-approve",
        "--wrangler",
        ".",
        "--allow-binding-breaks",
    ])
    .expect(0);
    assert_eq!(writes(&emu), 2);
    // Now the bindings point at what is gone: a plain error, the (empty) plan still shown.
    let run = p.run(&["plan", "--wrangler", "."]);
    run.expect(1);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "wrangler.toml:6:15: error: store_id names production/default_secrets_store, where \
             secret `A` is declared `ensure: absent`\n"
        ),
        "{}",
        run.stderr
    );
    p.assert_no_value_leaked(&[]);
}

#[test]
fn a_saved_plan_carries_its_configs_and_goes_stale_when_one_is_edited() {
    let emu = Emu::start();
    let (p, _) = bound_project(&emu);
    break_both(&p);
    // Blocked when saved: apply refuses it (3), whatever flags it is given.
    p.run(&["plan", "--wrangler", ".", "--out", "plan.json"])
        .expect(3);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("plan.json")).unwrap()).unwrap();
    let digest = &saved["digest"]["wrangler"];
    assert!(
        digest["wrangler.toml"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "{digest}"
    );
    let run = p.run(&["apply", "plan.json", "--allow-binding-breaks"]);
    run.expect(3);
    assert!(run.stderr.contains(BLOCKED_B), "{}", run.stderr);

    // Saved with --allow-binding-breaks, and the config edited since: stale, named.
    p.run(&[
        "plan",
        "--wrangler",
        ".",
        "--allow-binding-breaks",
        "--out",
        "plan.json",
    ])
    .expect(0);
    let text = std::fs::read_to_string(p.path("wrangler.toml")).unwrap();
    p.write("wrangler.toml", &format!("# edited\n{text}"));
    let run = p.run(&["apply", "plan.json"]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "the saved plan is stale: wrangler config wrangler.toml changed since it was made"
        ),
        "{}",
        run.stderr
    );
    p.write("wrangler.toml", &text);

    // --wrangler with a plan file must name the configs it recorded.
    let run = p.run(&["apply", "plan.json", "--wrangler", "elsewhere"]);
    run.expect(64);
    assert!(
        run.stderr.contains(
            "the saved plan was checked against wrangler.toml, not elsewhere: apply it without \
             --wrangler, or plan again with the configs you mean"
        ),
        "{}",
        run.stderr
    );
    // Applied without --wrangler (and with the same config named), it re-reads the config it
    // recorded and keeps the allowance it was made with.
    let run = p.run(&["apply", "plan.json", "--wrangler", "."]);
    run.expect(0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    let names = emu.names(STORE);
    assert_eq!(names, ["B"]);

    // A saved plan made without the allowance is not given it afterwards: said, not
    // silently ignored.
    p.run(&["plan", "--out", "sound.json"]).expect(0);
    emu.handle().clear_log();
    let run = p.run(&["apply", "sound.json", "--allow-binding-breaks"]);
    run.expect(64);
    assert!(
        run.stderr.contains(
            "the saved plan was made without --allow-binding-breaks, and a saved plan is \
             applied as it was reviewed: plan again with --allow-binding-breaks"
        ),
        "{}",
        run.stderr
    );
    assert!(emu.handle().log().is_empty(), "requests were sent");
}

#[test]
fn store_ids_are_checked_against_the_managed_stores() {
    let emu = Emu::start();
    let (p, id) = bound_project(&emu);
    let text = std::fs::read_to_string(p.path("wrangler.toml")).unwrap();
    p.write("wrangler.toml", &text.replacen(&id, ID, 1));
    let run = p.run(&["plan", "--wrangler", "."]);
    run.expect(1);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    assert_eq!(
        run.stderr,
        format!(
            "reading live state of 1 account from {}\n\
             wrangler.toml:5:12: error: store_id `{ID}` is not a store of any managed account\n\
             check failed: 1 error\n",
            emu.base_url()
        )
    );

    // A store this plan creates has no id yet, and the message says so.
    let fresh = Emu::start();
    let q = Project::new(&fresh);
    q.manifest(
        "      default_secrets_store:\n        secrets:\n          A: { value: values/a.age }\n",
    );
    q.seal("values/a.age", "sk_live_fresh_3");
    q.write(
        "workers/api/wrangler.jsonc",
        &format!("{{ \"secrets_store_secrets\": [ {{ \"binding\": \"A\", \"store_id\": \"{ID}\", \"secret_name\": \"A\" }} ] }}\n"),
    );
    let run = q.run(&["apply", "--auto-approve", "--wrangler", "workers/api"]);
    run.expect(1);
    assert!(
        run.stderr.contains(&format!(
            "workers/api/wrangler.jsonc:1:60: error: store_id `{ID}` is not a store of any \
             managed account; this plan creates store production/default_secrets_store, which \
             has no id until it is applied: apply it first (without --wrangler), then set \
             store_id from `cfsecrets bindings`\n"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(fresh.count("POST", "/stores"), 0, "nothing was written");
}

#[test]
fn a_config_that_cannot_be_right_stops_before_any_request() {
    let emu = Emu::start();
    let (p, id) = bound_project(&emu);
    p.write(
        "bad/wrangler.toml",
        &format!("[[secrets_store_secrets]]\nbinding = \"a-key\"\nstore_id = \"{id}\"\nsecret_name = \"A\"\n"),
    );
    let before = emu.count("GET", "/stores");
    for args in [
        vec!["plan", "--wrangler", "bad"],
        vec![
            "apply",
            "--auto-approve",
            "--wrangler",
            ".",
            "--wrangler",
            "bad",
        ],
    ] {
        let run = p.run(&args);
        run.expect(1);
        assert_eq!(
            run.stderr,
            "bad/wrangler.toml:2:11: error: binding name `a-key` is not a JavaScript identifier: it contains `-` (use `_`)\n\
             check failed: 1 error\n",
            "{args:?}"
        );
        assert_eq!(run.stdout, "");
    }
    assert_eq!(emu.count("GET", "/stores"), before);
    let run = p.run(&["plan", "--allow-binding-breaks"]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("warning: --allow-binding-breaks does nothing without --wrangler"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// `cfsecrets apply --wait-active`

/// An emulator whose new secrets read `pending` `reads` times (forever with `None`).
fn pending_emu(reads: Option<u32>) -> Emu {
    Emu::start_with(cfsecrets::emulator::EmulatorConfig {
        activate_after_reads: reads,
        ..Default::default()
    })
}

const LISTS: &str = "/stores/{store_id}/secrets";

#[test]
fn wait_active_relists_until_new_secrets_read_active() {
    let emu = pending_emu(Some(2));
    let p = two_secrets(&emu);
    let run = p.run(&["apply", "--auto-approve", "--wait-active"]);
    run.expect(0);
    // The store was created by this apply: one `GET /stores` learns its id, then one list per
    // round: pending, pending, active.
    assert_eq!(emu.count("GET", LISTS), 3);
    let last = run.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("Active: 2 secrets read active after ")
            && last.ends_with("s (4 requests)."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("waiting up to 30s for 2 secrets to read active\n")
            && run
                .stderr
                .contains("active: production/default_secrets_store/A\n")
            && run
                .stderr
                .contains("active: production/default_secrets_store/B\n"),
        "{}",
        run.stderr
    );

    // A rotation (a value PATCH) is waited for too; it reads active at once here.
    p.seal("values/a.age", "sk_live_wait_a1-rotated");
    let before = emu.count("GET", LISTS);
    let run = p.run(&["apply", "--auto-approve", "--wait-active=5"]);
    run.expect(0);
    assert!(
        run.stderr
            .contains("waiting up to 5s for 1 secret to read active\n"),
        "{}",
        run.stderr
    );
    // One list for the plan's live read, one round of the wait.
    assert_eq!(emu.count("GET", LISTS), before + 2);
    assert!(
        run.stdout.contains("Active: 1 secret read active after "),
        "{}",
        run.stdout
    );

    // Deletes only: nothing to wait for, and no extra request.
    p.manifest(
        "      default_secrets_store:\n        secrets:\n          A: { value: values/a.age }\n",
    );
    let before = emu.count("GET", LISTS);
    let run = p.run(&["apply", "--auto-approve", "--wait-active"]);
    run.expect(0);
    assert!(
        run.stderr.contains(
            "--wait-active: this apply created and changed no secret; nothing to wait for"
        ),
        "{}",
        run.stderr
    );
    // The plan's live read, and the check after the deletes (what the store held before
    // them comes from that live read).
    assert_eq!(emu.count("GET", LISTS), before + 2);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn wait_active_times_out_naming_what_is_still_pending() {
    let emu = pending_emu(None);
    let p = two_secrets(&emu);
    let run = p.run(&["apply", "--auto-approve", "--wait-active=1"]);
    run.expect(1);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    let error = run.stderr.lines().last().unwrap();
    assert!(
        error.starts_with("error: timed out after 1s (")
            && error.ends_with(
                "): 2 secrets still not active: production/default_secrets_store/A, \
                 production/default_secrets_store/B; the apply itself is complete, but a \
                 Worker deploy that binds them fails until they are"
            ),
        "{}",
        run.stderr
    );
    // The writes were made, and the re-lists stopped at the deadline: rounds at 0 s, 0.5 s
    // and 1 s at most (fewer only if a round itself ran late).
    let rounds = emu.count("GET", LISTS);
    assert!((1..=3).contains(&rounds), "{rounds} rounds in 1 s");
    assert_eq!(emu.names(STORE), ["A", "B"]);
}

#[test]
fn without_wait_active_nothing_waits() {
    let emu = pending_emu(None);
    let p = two_secrets(&emu);
    let run = p.run(&["apply", "--auto-approve"]);
    run.expect(0);
    assert_eq!(emu.count("GET", LISTS), 0, "no re-list after the writes");
    assert!(!run.all().contains("active"), "{}", run.all());

    // The flag's value is optional, so a plan file right after it is read as its value: the
    // refusal says how to write it, without running anything.
    let run = p.run(&["apply", "--wait-active", "plan.json"]);
    run.expect(64);
    assert!(
        run.stderr.contains(
            "--wait-active: expected a number of seconds; to wait the default 30, put the plan \
             file before --wait-active, or write --wait-active=SECONDS"
        ),
        "{}",
        run.stderr
    );
    for bad in ["0", "3601"] {
        let run = p.run(&["apply", "--auto-approve", &format!("--wait-active={bad}")]);
        run.expect(64);
        assert!(
            run.stderr.contains("seconds must be from 1 to 3600"),
            "{}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The README's "Workers bindings" section, run as written

/// How the README's sections run in `p`: `bin_dir` (the binary, and any stub) first on `PATH`,
/// the emulator's URL and token, the identity in `CFSECRETS_AGE_KEY_FILE`, and `extra`.
pub fn project_shell<'a>(
    p: &'a Project,
    emu: &Emu,
    bin_dir: &'a Path,
    extra: &[(&str, String)],
) -> ReadmeShell<'a> {
    let mut env: Vec<(String, String)> = vec![
        ("CLOUDFLARE_API_TOKEN".into(), TOKEN.into()),
        ("CLOUDFLARE_API_BASE_URL".into(), emu.base_url()),
        ("CFSECRETS_RETRY_BASE_MS".into(), "1".into()),
        (
            "CFSECRETS_AGE_KEY_FILE".into(),
            p.identity.display().to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    ReadmeShell {
        dir: p.root(),
        home: p.root(),
        bin_dir,
        env,
    }
}

/// The store id the README's examples use.
const README_STORE_ID: &str = "5f3c0c2b8f7d4e1a9b6c2d7e8f901234";

/// An emulator whose account already holds the README's store, with the id the README shows
/// (loaded from a state file, the emulator's documented format).
pub fn readme_emulator(state_dir: &Path) -> Emu {
    let state = state_dir.join("emulator-state.json");
    std::fs::write(
        &state,
        format!(
            "{{\"version\": 1, \"accounts\": {{\"{ACCOUNT}\": {{\"stores\": [{{\"id\": \
             \"{README_STORE_ID}\", \"name\": \"{STORE}\", \"created\": \"2026-01-01T00:00:00Z\", \
             \"modified\": \"2026-01-01T00:00:00Z\", \"secrets\": []}}]}}}}}}"
        ),
    )
    .unwrap();
    Emu::start_with(cfsecrets::emulator::EmulatorConfig {
        state_file: Some(state),
        ..Default::default()
    })
}

/// A directory holding a `cfsecrets` link to the binary under test, to put first on `PATH`.
pub fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_cfsecrets"),
        dir.path().join("cfsecrets"),
    )
    .unwrap();
    dir
}

#[test]
fn the_readme_workers_bindings_section_runs_as_shown() {
    let state = tempfile::tempdir().unwrap();
    let emu = readme_emulator(state.path());
    let p = Project::new(&emu);
    p.seal("values/stripe.age", "sk_live_readme_1");
    p.seal("values/webhook.age", "whsec_readme_2");
    p.seal("values/openai.age", "sk-openai-readme-3");
    std::fs::create_dir_all(p.path("src")).unwrap();
    let bin_dir = bin_dir();
    let ran = run_readme_section(
        "Workers bindings",
        &project_shell(&p, &emu, bin_dir.path(), &[]),
    );
    p.outputs.lock().unwrap().extend(ran.outputs);
    assert_eq!(
        (ran.files, ran.lines, ran.sessions),
        (5, 4, 4),
        "the section changed shape"
    );

    // The sh lines did what the README says: entries with the live store id appended to
    // wrangler.toml, and an Env interface; the blocked rename was applied once the binding
    // pointed at the new name.
    let toml = std::fs::read_to_string(p.path("wrangler.toml")).unwrap();
    assert!(
        toml.contains(&format!("store_id = \"{README_STORE_ID}\"")),
        "{toml}"
    );
    let ts = std::fs::read_to_string(p.path("src/env.ts")).unwrap();
    assert!(ts.contains("  STRIPE_KEY: SecretsStoreSecret;\n"), "{ts}");
    assert_eq!(
        emu.names(STORE),
        ["OPENAI_KEY", "STRIPE_KEY", "WEBHOOK_SECRET"]
    );
    p.assert_no_value_leaked(&[]);
}
