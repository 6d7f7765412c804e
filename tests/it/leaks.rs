//! The leak hunt: secret values, API credentials and age identities must never appear in
//! output, errors, `Debug`, plan files, the emulator's log or state dump, or a panic.
//!
//! Every test plants distinctive canaries (`CANARY-VALUE-…`, `CANARY-TOKEN-…`, a freshly
//! generated age identity), drives a path where they exist, and then searches everything the
//! path produced. A test here fails by finding a canary.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::str::FromStr;

use cfsecrets::cloudflare::{Auth, Client, ClientConfig, Credential, NewSecret, SecretPatch};
use cfsecrets::emulator::{BatchMode, EmulatorConfig, FaultConfig};
use cfsecrets::values::bundle::{BundleFormat, parse as parse_bundle};
use cfsecrets::values::{Identities, Recipients, SecretValue};

use crate::support::{ACCOUNT, Emu, Project, Run, TOKEN, bin, canary};

const STORE: &str = "main";

/// Panics (naming `what`) if any canary occurs in `text`, raw or encoded
/// ([`canary::find`]).
#[track_caller]
fn assert_clean(what: &str, text: &str, canaries: &[&str]) {
    canary::assert_no_leak(what, text, canaries);
}

/// A run of the binary in `dir` with exactly `env` (plus PATH and NO_COLOR).
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = bin();
    cmd.args(args).current_dir(dir).env("HOME", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn store_block(secrets: &str) -> String {
    format!("      {STORE}:\n        secrets:\n{secrets}")
}

/// Seals raw bytes in age's binary format (as `age -r` without `-a` writes).
fn seal_binary(p: &Project, rel: &str, plaintext: &[u8]) {
    let text = std::fs::read_to_string(p.path(".age-recipients")).unwrap();
    let keys: Vec<age::x25519::Recipient> = text
        .lines()
        .filter(|l| l.starts_with("age1"))
        .map(|l| age::x25519::Recipient::from_str(l).unwrap())
        .collect();
    let enc =
        age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plaintext).unwrap();
    w.finish().unwrap();
    let path = p.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, out).unwrap();
}

/// Seals raw (possibly non-UTF-8) bytes, armored.
fn seal_bytes(p: &Project, rel: &str, plaintext: &[u8]) {
    let r = Recipients::from_file(&p.path(".age-recipients")).unwrap();
    let sealed = cfsecrets::values::seal(plaintext, &r).unwrap();
    cfsecrets::fs::write_atomic(
        &p.path(rel),
        &sealed,
        cfsecrets::fs::WriteOptions::replace(),
    )
    .unwrap();
}

/// Everything the emulator can show about itself: request log, counters, state dump (both
/// through the handle and over the admin HTTP routes) and the handle's `Debug`.
pub(crate) fn emulator_views(emu: &Emu) -> String {
    let h = emu.handle();
    let mut all = format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n",
        h.log(),
        h.counters(),
        h.state(),
        h
    );
    all.push_str(&emu.block_on(admin_views(&h.admin_url())));
    all
}

/// What an emulator's admin routes (`…/__emulator`) answer, one route per line.
pub(crate) async fn admin_views(admin: &str) -> String {
    let mut all = String::new();
    for route in ["log", "counters", "state", "faults", "faults/schedule"] {
        let text = reqwest::get(format!("{admin}/{route}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        all.push_str(&text);
        all.push('\n');
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Values: unsealing, bundles, check --decrypt, plan, apply.

#[test]
fn values_never_leak_through_unsealing_check_plan_and_apply() {
    let emu = Emu::start_with(EmulatorConfig {
        value_limit: 1024,
        ..EmulatorConfig::default()
    });
    let p = Project::new(&emu);
    let big = format!("CANARY-VALUE-BIG-{}-CANARY-VALUE-BIGEND", "x".repeat(1500));
    p.seal("values/ARMORED.age", "CANARY-VALUE-ARMORED-7c1e");
    seal_binary(&p, "values/BINARY.age", b"CANARY-VALUE-BINARY-44a0");
    p.seal(
        "values/QUOTED.age",
        "CANARY-VALUE-\"quoted\"\n: yaml-ish: [x]\n---\n",
    );
    p.seal("values/BIG.age", &big);
    p.seal(
        "values/good.env.age",
        "export GOOD=\"CANARY-VALUE-DOTENV-9f\\n2\"\nOTHER='CANARY-VALUE-SINGLE'\n",
    );
    p.seal(
        "values/good.yaml.age",
        "Y1: CANARY-VALUE-YAML-1\nY2: \"CANARY-VALUE-YAML-2\"\n",
    );
    p.manifest(&store_block(
        "          ARMORED: { value: values/ARMORED.age }\n\
         \x20         BINARY: { value: values/BINARY.age }\n\
         \x20         QUOTED: { value: values/QUOTED.age }\n\
         \x20         BIG: { value: values/BIG.age }\n\
         \x20         GOOD: { value: { bundle: values/good.env.age, key: GOOD } }\n\
         \x20         OTHER: { value: { bundle: values/good.env.age, key: OTHER } }\n\
         \x20         Y1: { value: { bundle: values/good.yaml.age, key: Y1 } }\n\
         \x20         Y2: { value: { bundle: values/good.yaml.age, key: Y2 } }\n",
    ));
    let canaries = ["CANARY-VALUE", "yaml-ish", &p.identity_line()];

    let check = p.run(&["check", "--decrypt"]);
    check.expect(0);
    // 1,500 bytes is well under the settled limit: no warning (the old 1,024-byte one named BIG).
    assert!(!check.stderr.contains("warning"), "{}", check.stderr);
    for format in ["text", "markdown", "json"] {
        p.run(&["plan", "--format", format, "--out", "saved.json"])
            .expect(0);
        assert_clean(
            "the saved plan",
            &std::fs::read_to_string(p.path("saved.json")).unwrap(),
            &canaries,
        );
    }
    // BIG is over the emulator's 1,024-byte limit: secret_value_too_long on create.
    let apply = p.run(&["apply", "--auto-approve"]);
    apply.expect(1);
    assert!(
        apply.all().contains("secret_value_too_long"),
        "{}",
        apply.all()
    );
    // Now shrink BIG and apply; then change every value so that PATCH carries them, with
    // the limit hit again by one of them.
    p.seal("values/BIG.age", "CANARY-VALUE-SMALL");
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.seal("values/ARMORED.age", &big);
    p.seal("values/QUOTED.age", "CANARY-VALUE-CHANGED");
    let apply = p.run(&["apply", "--auto-approve"]);
    apply.expect(1);
    assert!(
        apply.all().contains("secret_value_too_long"),
        "{}",
        apply.all()
    );
    // ARMORED is left to write (the emulator refused it): the plan says so and saves.
    p.run(&["plan", "--format", "json", "--out", "saved.json"])
        .expect(0);
    p.run(&["import", "--account", ACCOUNT, "--store", STORE])
        .expect(0);
    p.run(&["reseal", "--force"]).expect(0);

    for (i, out) in p.outputs.lock().unwrap().iter().enumerate() {
        assert_clean(&format!("output of run {i}"), out, &canaries);
    }
    assert_clean("the emulator's views", &emulator_views(&emu), &canaries);
}

#[test]
fn broken_values_and_bundles_are_reported_without_their_content() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    // Non-UTF-8, with canary text around the bad byte.
    seal_bytes(
        &p,
        "values/LATIN1.age",
        b"CANARY-VALUE-LATIN1-\xe9t\xe9-end",
    );
    p.seal("values/EMPTY.age", "");
    // Over 65,536 bytes, with a multi-byte character straddling the limit.
    let mut huge = String::from("CANARY-VALUE-HUGE-");
    while huge.len() < 65_535 {
        huge.push('y');
    }
    huge.push('€');
    huge.push_str("CANARY-VALUE-HUGE-END");
    p.seal("values/HUGE.age", &huge);
    std::fs::write(p.path("values/JUNK.age"), "CANARY-VALUE-NOT-SEALED\n").unwrap();
    p.seal(
        "values/bad.env.age",
        "A=1\nCANARY-VALUE-NO-EQUALS-LINE\nB=\"CANARY-VALUE-OPEN-QUOTE\n",
    );
    p.seal(
        "values/key.env.age",
        "CANARY VALUE KEY=CANARY-VALUE-BADKEY\n",
    );
    p.seal(
        "values/tail.env.age",
        "T='CANARY-VALUE-T' CANARY-VALUE-TAIL\n",
    );
    p.seal(
        "values/dup.env.age",
        "D=CANARY-VALUE-D1\nD=CANARY-VALUE-D2\n",
    );
    p.seal(
        "values/nested.yaml.age",
        "N: CANARY-VALUE-N\nM:\n  deep: CANARY-VALUE-NESTED\n",
    );
    p.seal("values/list.yaml.age", "- CANARY-VALUE-LIST\n- two\n");
    p.seal(
        "values/bad.yaml.age",
        "K: \"CANARY-VALUE-UNCLOSED\nL: [CANARY-VALUE-x\n",
    );
    p.seal(
        "values/dupkey.yaml.age",
        "K: CANARY-VALUE-K1\nK: CANARY-VALUE-K2\n",
    );
    p.seal(
        "values/tab.yaml.age",
        "K:\tCANARY-VALUE-TAB\n\tX: CANARY-VALUE-X\n",
    );
    p.manifest(&store_block(
        "          LATIN1: { value: values/LATIN1.age }\n\
         \x20         EMPTY: { value: values/EMPTY.age }\n\
         \x20         HUGE: { value: values/HUGE.age }\n\
         \x20         JUNK: { value: values/JUNK.age }\n\
         \x20         BADENV: { value: { bundle: values/bad.env.age, key: A } }\n\
         \x20         BADKEY: { value: { bundle: values/key.env.age, key: K } }\n\
         \x20         TAIL: { value: { bundle: values/tail.env.age, key: T } }\n\
         \x20         DUP: { value: { bundle: values/dup.env.age, key: D } }\n\
         \x20         NESTED: { value: { bundle: values/nested.yaml.age, key: N } }\n\
         \x20         LIST: { value: { bundle: values/list.yaml.age, key: N } }\n\
         \x20         BADYAML: { value: { bundle: values/bad.yaml.age, key: K } }\n\
         \x20         DUPKEY: { value: { bundle: values/dupkey.yaml.age, key: K } }\n\
         \x20         TAB: { value: { bundle: values/tab.yaml.age, key: K } }\n",
    ));
    let check = p.run(&["check", "--decrypt"]);
    check.expect(1);
    // Every broken secret is named.
    for name in [
        "LATIN1", "EMPTY", "HUGE", "JUNK", "BADENV", "BADKEY", "TAIL", "DUP", "NESTED", "LIST",
        "BADYAML",
    ] {
        assert!(check.stderr.contains(name), "{name}: {}", check.stderr);
    }
    p.run(&["plan"]).expect(1);
    p.run(&["apply", "--auto-approve"]).expect(1);
    // JUNK is not an age file: reseal refuses before writing anything.
    p.run(&["reseal", "--force"]).expect(1);
    let canaries = ["CANARY", "\u{e9}t", "yyyyyyyy", &p.identity_line()];
    for (i, out) in p.outputs.lock().unwrap().iter().enumerate() {
        assert_clean(&format!("output of run {i}"), out, &canaries);
        assert!(!out.contains("panicked"), "{out}");
    }
}

#[test]
fn bundle_parse_errors_never_quote_the_text() {
    let cases: [(&str, BundleFormat); 12] = [
        ("CANARY-VALUE-1\n", BundleFormat::Dotenv),
        ("=CANARY-VALUE-2\n", BundleFormat::Dotenv),
        ("9K=CANARY-VALUE-3\n", BundleFormat::Dotenv),
        ("K=\"CANARY-VALUE-4\\\"\n", BundleFormat::Dotenv),
        ("K='CANARY-VALUE-5\n", BundleFormat::Dotenv),
        ("K=\"a\" CANARY-VALUE-6\n", BundleFormat::Dotenv),
        ("K: [CANARY-VALUE-7\n", BundleFormat::Yaml),
        ("K: {a: CANARY-VALUE-8}\n", BundleFormat::Yaml),
        ("CANARY-VALUE-9\n", BundleFormat::Yaml),
        ("K: &a CANARY-VALUE-10\nL: *b\n", BundleFormat::Yaml),
        ("K: !!binary CANARY-VALUE-11\n", BundleFormat::Yaml),
        ("? [CANARY-VALUE-12]\n: v\n", BundleFormat::Yaml),
    ];
    let mut failures = 0;
    for (text, format) in cases {
        if let Err(err) = parse_bundle(text, format) {
            failures += 1;
            assert_clean("a bundle error", &format!("{err} {err:?}"), &["CANARY"]);
        }
    }
    assert!(failures >= 10, "only {failures} cases failed to parse");
    let ok = parse_bundle("A=CANARY-VALUE-OK\n", BundleFormat::Dotenv).unwrap();
    assert_clean("Debug of a bundle", &format!("{ok:?}"), &["CANARY"]);
}

#[test]
fn values_at_the_size_limit_with_odd_bytes_do_not_panic_or_leak() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    let mut exact = String::from("CANARY-VALUE-EXACT-\u{0}");
    while exact.len() < 65_536 - 3 {
        exact.push('z');
    }
    exact.push('€');
    assert_eq!(exact.len(), 65_536);
    let mut over = exact.clone();
    over.push('!');
    p.seal("values/EXACT.age", &exact);
    p.seal("values/OVER.age", &over);
    p.seal("values/NUL.age", "CANARY-VALUE-\u{0}\u{0}-NUL\r\n\u{feff}");
    p.manifest(&store_block(
        "          EXACT: { value: values/EXACT.age }\n\
         \x20         NUL: { value: values/NUL.age }\n",
    ));
    p.env
        .lock()
        .unwrap()
        .push(("RUST_BACKTRACE".to_string(), "1".to_string()));
    p.run(&["check", "--decrypt"]).expect(0);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.manifest(&store_block(
        "          EXACT: { value: values/OVER.age }\n\
         \x20         NUL: { value: values/NUL.age }\n",
    ));
    p.run(&["check", "--decrypt"]).expect(1);
    p.run(&["apply", "--auto-approve"]).expect(1);
    for out in p.outputs.lock().unwrap().iter() {
        assert_clean("output", out, &["CANARY", "zzzzzzzz"]);
        assert!(!out.contains("panicked"), "{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Apply failures answered by the API, faults and unknown outcomes.

#[test]
fn api_failures_during_apply_never_carry_values() {
    let canaries = ["CANARY-VALUE"];
    // Quota exceeded (all-or-nothing and partial batches), then faults on every write.
    for (mode, faults) in [
        (BatchMode::AllOrNothing, FaultConfig::default()),
        (BatchMode::Partial, FaultConfig::default()),
        (
            BatchMode::AllOrNothing,
            FaultConfig {
                drop_response_rate: 1.0,
                ..FaultConfig::default()
            },
        ),
        (
            BatchMode::AllOrNothing,
            FaultConfig {
                error_rate: 1.0,
                ..FaultConfig::default()
            },
        ),
        (
            BatchMode::AllOrNothing,
            FaultConfig {
                drop_rate: 1.0,
                ..FaultConfig::default()
            },
        ),
    ] {
        let emu = Emu::start_with(EmulatorConfig {
            quota: 2,
            batch_mode: mode,
            ..EmulatorConfig::default()
        });
        let p = Project::new(&emu);
        let mut block = String::new();
        for i in 0..3 {
            p.seal(&format!("values/S{i}.age"), &format!("CANARY-VALUE-Q{i}"));
            block.push_str(&format!("          S{i}: {{ value: values/S{i}.age }}\n"));
        }
        p.manifest(&store_block(&block));
        emu.set_faults(faults);
        let apply = p.run(&["apply", "--auto-approve"]);
        apply.expect(1);
        for out in p.outputs.lock().unwrap().iter() {
            assert_clean("apply output", out, &canaries);
        }
        assert_clean("the emulator's views", &emulator_views(&emu), &canaries);
    }
}

#[test]
fn client_errors_and_debug_never_carry_values_or_tokens() {
    let emu = Emu::start_with(EmulatorConfig {
        value_limit: 8,
        quota: 1,
        ..EmulatorConfig::default()
    });
    let client = emu.client();
    let canaries = ["CANARY-VALUE", TOKEN];
    emu.block_on(async {
        let store = client.create_store(ACCOUNT, STORE).await.unwrap();
        let scopes = vec!["workers".to_string()];
        let bad_scopes = vec!["CANARY-VALUE-as-scope".to_string()];
        let mut errors = Vec::new();
        let long = NewSecret {
            name: "LONG",
            value: "CANARY-VALUE-too-long-for-eight",
            scopes: &scopes,
            comment: None,
        };
        errors.push(client.create_secrets(ACCOUNT, &store.id, &[long]).await);
        let scope = NewSecret {
            name: "SCOPE",
            value: "CANARY-VALUE",
            scopes: &bad_scopes,
            comment: None,
        };
        errors.push(client.create_secrets(ACCOUNT, &store.id, &[scope]).await);
        let ok = NewSecret {
            name: "OK",
            value: "v",
            scopes: &scopes,
            comment: None,
        };
        let made = client
            .create_secrets(ACCOUNT, &store.id, &[ok])
            .await
            .unwrap();
        let quota = NewSecret {
            name: "Q",
            value: "CANARY-VALUE-q",
            scopes: &scopes,
            comment: None,
        };
        errors.push(client.create_secrets(ACCOUNT, &store.id, &[quota]).await);
        let patch = SecretPatch {
            value: Some("CANARY-VALUE-patch-too-long"),
            ..SecretPatch::default()
        };
        let e = client
            .patch_secret(ACCOUNT, &store.id, &made[0].id, &patch)
            .await;
        assert!(e.is_err());
        let text = format!("{} {:?} {patch:?}", e.as_ref().unwrap_err(), e);
        assert_clean("a patch error", &text, &canaries);
        for e in errors {
            let e = e.unwrap_err();
            let shown = format!("{e} {e:?}");
            let text = format!("{shown} {:?}", anyhow::Error::new(e));
            assert_clean("a create error", &text, &canaries);
        }
    });
    assert_clean("Debug of the client", &format!("{client:?}"), &canaries);
    assert_clean(
        "Debug of its config",
        &format!("{:?}", client.config()),
        &canaries,
    );
    assert_clean("the emulator's views", &emulator_views(&emu), &canaries);
}

// ---------------------------------------------------------------------------------------------
// Credentials.

#[test]
fn credentials_never_appear_in_errors_for_any_endpoint_failure() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/A.age", "CANARY-VALUE-A");
    p.manifest(&store_block("          A: { value: values/A.age }\n"));
    let token = "CANARY-TOKEN-5d1f0c2a";
    let key = "CANARY-KEY-9b8e7d6c";
    let email = "canary-email@leak.example";
    let canaries = [token, key, email, "CANARY-VALUE"];
    let emu_url = emu.base_url();
    let tls_url = emu_url.replace("http://", "https://");
    // A listener that accepts and closes at once: the connection drops mid-request.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/client/v4", closed.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in closed.incoming().take(64) {
            drop(conn);
        }
    });
    let urls = [
        emu_url.as_str(), // 403: wrong credentials
        "http://127.0.0.1:1/client/v4",
        "http://api.example.com/client/v4",
        "not a url",
        "https://user:pw@api.example.com/client/v4",
        tls_url.as_str(),
        closed_url.as_str(),
    ];
    let refused_urls = [
        "http://api.example.com/client/v4",
        "not a url",
        "https://user:pw@api.example.com/client/v4",
    ];
    let cred_sets: [&[(&str, &str)]; 3] = [
        &[("CLOUDFLARE_API_TOKEN", token)],
        &[("CLOUDFLARE_API_KEY", key), ("CLOUDFLARE_EMAIL", email)],
        &[("CLOUDFLARE_API_KEY", key)],
    ];
    let identity = p.identity.to_str().unwrap().to_string();
    for url in urls {
        for creds in cred_sets {
            for args in [
                &["plan"][..],
                &["apply", "--auto-approve"][..],
                &["import", "--account", ACCOUNT][..],
            ] {
                let mut env = vec![
                    ("CLOUDFLARE_API_BASE_URL", url),
                    ("CFSECRETS_RETRY_BASE_MS", "1"),
                    ("CFSECRETS_AGE_KEY_FILE", identity.as_str()),
                ];
                env.extend_from_slice(creds);
                let run = run_in(p.root(), args, &env);
                // A URL the client refuses is a bad argument (exit 64, before anything
                // else); the others fail to reach an API that takes these credentials (an
                // error, exit 1).
                let code = if refused_urls.contains(&url) { 64 } else { 1 };
                assert_eq!(run.code, Some(code), "{args:?} {url}: {}", run.all());
                assert_clean(&format!("{args:?} against {url}"), &run.all(), &canaries);
            }
        }
    }
    // A credential with a newline cannot become a header: refused without being shown.
    let run = run_in(
        p.root(),
        &["plan"],
        &[
            ("CLOUDFLARE_API_BASE_URL", emu_url.as_str()),
            ("CLOUDFLARE_API_TOKEN", "CANARY-TOKEN-a\nCANARY-TOKEN-b"),
        ],
    );
    run.expect(1);
    assert_clean("a bad credential error", &run.all(), &["CANARY-TOKEN"]);
    assert_clean("the emulator's views", &emulator_views(&emu), &canaries);

    // Debug of the credential types.
    let config = ClientConfig::new(
        &emu_url,
        Auth::KeyEmail {
            key: Credential::new(key),
            email: email.to_string(),
        },
    )
    .unwrap();
    let client = Client::new(config.clone()).unwrap();
    let env = cfsecrets::commands::Env::fixed([("CLOUDFLARE_API_TOKEN", token)]);
    assert_clean(
        "Debug of config, client and env",
        &format!("{config:?} {client:?} {env:?}"),
        &canaries,
    );
}

#[test]
fn help_never_shows_sensitive_environment_values() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("CLOUDFLARE_API_TOKEN", "CANARY-TOKEN-help"),
        ("CLOUDFLARE_API_KEY", "CANARY-KEY-help"),
        ("CLOUDFLARE_EMAIL", "canary-help@leak.example"),
        ("CFSECRETS_EMULATOR_TOKEN", "CANARY-TOKEN-emulator"),
        ("CFSECRETS_AGE_KEY", "AGE-SECRET-KEY-1CANARYHELP"),
    ];
    let canaries = [
        "CANARY-TOKEN",
        "CANARY-KEY",
        "canary-help",
        "AGE-SECRET-KEY-1CANARY",
    ];
    for sub in [
        "check", "plan", "apply", "import", "init", "secret", "reseal", "schema", "emulator",
    ] {
        for args in [vec![sub, "--help"], vec![sub, "-h"]] {
            let run = run_in(dir.path(), &args, &env);
            run.expect(0);
            assert_clean(&format!("{args:?}"), &run.all(), &canaries);
        }
    }
    let run = run_in(dir.path(), &["secret", "set", "--help"], &env);
    assert_clean("secret set --help", &run.all(), &canaries);
    let run = run_in(dir.path(), &["--help"], &env);
    assert_clean("--help", &run.all(), &canaries);
    // A usage error next to the token flag does not echo the token either.
    let run = run_in(
        dir.path(),
        &["emulator", "--listen", "not-an-address"],
        &env,
    );
    run.expect(64);
    assert_clean("an emulator usage error", &run.all(), &canaries);
}

#[test]
fn emulator_command_output_and_log_never_show_its_token_or_values() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = bin()
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .env("CFSECRETS_EMULATOR_TOKEN", "CANARY-TOKEN-emu")
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let mut base = String::new();
    while !printed.contains("admin:") {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "{printed}");
        if let Some(url) = line.strip_prefix("base URL: ") {
            base = url.trim().to_string();
        }
        printed.push_str(&line);
    }
    // A client writes a value with the right token, and tries a wrong one.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = |token: &str| {
            let mut c = ClientConfig::new(&base, Auth::Token(Credential::new(token))).unwrap();
            c.max_retries = 0;
            Client::new(c).unwrap()
        };
        let good = client("CANARY-TOKEN-emu");
        let store = good.create_store(ACCOUNT, STORE).await.unwrap();
        let scopes = vec!["workers".to_string()];
        let secret = NewSecret {
            name: "S",
            value: "CANARY-VALUE-emu",
            scopes: &scopes,
            comment: None,
        };
        good.create_secrets(ACCOUNT, &store.id, &[secret])
            .await
            .unwrap();
        let bad = client("CANARY-TOKEN-wrong");
        let e = bad.list_stores(ACCOUNT).await.unwrap_err();
        assert_clean("a 403", &format!("{e} {e:?}"), &["CANARY"]);
        let admin = base.replace("/client/v4", "/__emulator");
        for route in ["log", "counters", "state", "faults"] {
            let text = reqwest::get(format!("{admin}/{route}"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_clean(&format!("admin {route}"), &text, &["CANARY"]);
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    stdout.read_to_string(&mut printed).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("--token"), "{err}");
    assert_clean(
        "the emulator's stdout and stderr",
        &(printed + &err),
        &["CANARY"],
    );
    // The state file holds the value (by design, mode 0600) but never the token.
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("CANARY-VALUE-emu"));
    assert_clean("the state file", &text, &["CANARY-TOKEN"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}

// ---------------------------------------------------------------------------------------------
// Identities.

#[test]
fn malformed_identities_are_never_echoed() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/A.age", "CANARY-VALUE-A");
    p.manifest(&store_block("          A: { value: values/A.age }\n"));
    let real = p.identity_line();
    let body = real.trim_start_matches("AGE-SECRET-KEY-1");
    let cases = [
        format!("{real}X"),
        format!("{real}\nCANARY-VALUE-stray-line"),
        format!("# c\n{real}\n{}", real.to_lowercase()),
        real[..40].to_string(),
        format!("AGE-SECRET-KEY-1{}", &body[..body.len() - 1]),
        format!("AGE-PLUGIN-CANARY-1{body}"),
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"),
        format!("age-encryption.org/v1\n-> X25519 {body}"),
        format!("export CFSECRETS_AGE_KEY={real}"),
        format!("\"{real}\""),
        format!("{real} # trailing comment"),
    ];
    let identity_file = p.path("bad.key");
    for case in &cases {
        let lower = body.to_lowercase();
        let canaries = [body, &body[..20], &lower, "CANARY-VALUE"];
        // As the environment variable.
        let run = run_in(
            p.root(),
            &["check", "--decrypt"],
            &[("CFSECRETS_AGE_KEY", case.as_str())],
        );
        assert_clean(
            &format!("CFSECRETS_AGE_KEY={case:?}"),
            &run.all(),
            &canaries,
        );
        // As an identity file, by flag and by variable.
        std::fs::write(&identity_file, case).unwrap();
        let run = run_in(p.root(), &["check", "--decrypt", "-i", "bad.key"], &[]);
        assert_clean(&format!("-i with {case:?}"), &run.all(), &canaries);
        let run = run_in(
            p.root(),
            &["plan"],
            &[
                ("CFSECRETS_AGE_KEY_FILE", "bad.key"),
                ("CLOUDFLARE_API_TOKEN", TOKEN),
                ("CLOUDFLARE_API_BASE_URL", &emu.base_url()),
            ],
        );
        assert_clean(&format!("key file with {case:?}"), &run.all(), &canaries);
    }
    let ids = Identities::from_file(&p.identity).unwrap();
    assert_clean("Debug of identities", &format!("{ids:?}"), &[body]);
    let v = SecretValue::new("CANARY-VALUE-debug".to_string());
    assert_clean("Debug of a value", &format!("{v:?} {v}"), &["CANARY"]);
}

#[test]
fn an_identity_given_where_a_path_is_expected_is_not_echoed() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/A.age", "CANARY-VALUE-A");
    p.manifest(&store_block("          A: { value: values/A.age }\n"));
    let real = p.identity_line();
    let body = real.trim_start_matches("AGE-SECRET-KEY-1").to_string();
    // The key text put into the *_FILE variable: a common CI mix-up.
    let run = run_in(
        p.root(),
        &["check", "--decrypt"],
        &[("CFSECRETS_AGE_KEY_FILE", real.as_str())],
    );
    run.expect(64);
    assert!(
        run.stderr.contains("CFSECRETS_AGE_KEY_FILE"),
        "{}",
        run.stderr
    );
    assert_clean("CFSECRETS_AGE_KEY_FILE=<key>", &run.all(), &[&body]);
    // The key text given to -i.
    let run = run_in(p.root(), &["check", "--decrypt", "-i", &real], &[]);
    run.expect(64);
    assert_clean("-i <key>", &run.all(), &[&body]);
}

#[test]
fn a_private_key_given_as_init_recipient_is_not_echoed() {
    let id = Identities::generate();
    let text = id.to_file_text("now");
    let real = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_string();
    let body = real.trim_start_matches("AGE-SECRET-KEY-1").to_string();
    let ssh =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----");
    for bad in [real.as_str(), &real.to_lowercase(), &ssh] {
        let dir = tempfile::tempdir().unwrap();
        // `--recipient=…`: clap itself echoes a separate argument that starts with `-` as
        // "unexpected argument" (outside cfsecrets' control; see the report).
        let arg = format!("--recipient={bad}");
        let run = run_in(dir.path(), &["init", &arg], &[]);
        run.expect(64);
        assert_clean(
            "init -r <private key>",
            &run.all(),
            &[&body, &body.to_lowercase()],
        );
        assert!(!dir.path().join("cfsecrets.yaml").exists());
    }
    // A mistyped public key is still shown, to help fix the typo.
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(dir.path(), &["init", "-r", "age1typo"], &[]);
    run.expect(64);
    assert!(run.stderr.contains("age1typo"), "{}", run.stderr);
}

#[test]
fn init_writes_the_identity_only_to_its_0600_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_in(
        dir.path(),
        &[
            "init",
            "--generate-identity",
            "me.key",
            "--account-id",
            ACCOUNT,
        ],
        &[],
    );
    run.expect(0);
    let key = std::fs::read_to_string(dir.path().join("me.key")).unwrap();
    let line = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    let body = line.trim_start_matches("AGE-SECRET-KEY-1");
    assert_clean("init output", &run.all(), &[body]);
    for entry in canary::files_under(dir.path()) {
        if entry.ends_with("me.key") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        assert_clean(
            &entry.display().to_string(),
            &String::from_utf8_lossy(&bytes),
            &[body],
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("me.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

// ---------------------------------------------------------------------------------------------
// `secret set`.

/// [`crate::support::secret_set`] (which tolerates a refused command exiting before its
/// stdin is written), its output recorded for the leak search.
fn secret_set(p: &Project, args: &[&str], stdin: &[u8]) -> Run {
    let run = Run::from(crate::support::secret_set(p, args, stdin));
    p.outputs.lock().unwrap().push(run.all());
    run
}

#[test]
fn secret_set_never_writes_the_value_outside_its_sealed_file() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    let odd: [&[u8]; 6] = [
        b"CANARY-VALUE-plain\n",
        b"CANARY-VALUE-yaml: {a: [1, 2]}\n---\n- \"CANARY-VALUE-quoted\"\n",
        b"CANARY-VALUE-'single' \"double\" \\back\\ # not a comment\r\n",
        b"CANARY-VALUE-\x00NUL\x00\n\n\n",
        b"\xef\xbb\xbfCANARY-VALUE-bom \xe2\x80\xae rtl",
        b"  CANARY-VALUE-spaces  \t",
    ];
    for (i, value) in odd.iter().enumerate() {
        let name = format!("ODD{i}");
        let comment = "a comment";
        secret_set(
            &p,
            &[&name, "--account", "default", "--comment", comment],
            value,
        )
        .expect(0);
        let manifest = std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap();
        assert_clean("the manifest", &manifest, &["CANARY"]);
    }
    // Refused values: not UTF-8, empty, over the limit.
    let mut over = b"CANARY-VALUE-over-".to_vec();
    over.resize(65_537, b'w');
    for (value, why) in [
        (&b"CANARY-VALUE-\xff\xfe-latin"[..], "UTF-8"),
        (&b"\n"[..], "empty"),
        (&over[..], "65536"),
    ] {
        let run = secret_set(&p, &["BAD", "--account", "default"], value);
        run.expect(1);
        assert!(run.stderr.contains(why), "{why}: {}", run.stderr);
    }
    // A name or scope that is wrong is echoed (it is not a value), but the value on stdin
    // is never read.
    let run = secret_set(
        &p,
        &["ODD0", "--account", "default", "--scopes", "nope"],
        b"CANARY-VALUE-unused",
    );
    run.expect(64);
    p.run(&["check", "--decrypt"]).expect(0);
    p.run(&["reseal", "--force"]).expect(0);
    for (i, out) in p.outputs.lock().unwrap().iter().enumerate() {
        assert_clean(&format!("output {i}"), out, &["CANARY", "wwwwwwww"]);
    }
    for entry in canary::files_under(p.root()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert_clean(
            &entry.display().to_string(),
            &String::from_utf8_lossy(&bytes),
            &["CANARY"],
        );
    }
}

#[test]
fn a_broken_emulator_state_file_is_reported_without_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let secret = |value: &str| {
        format!(
            "{{\"version\": 1, \"accounts\": {{\"{ACCOUNT}\": {{\"stores\": [{{\"id\": \"s\", \
             \"name\": \"main\", \"created\": \"2026-01-01T00:00:00Z\", \"modified\": \
             \"2026-01-01T00:00:00Z\", \"secrets\": [{{\"id\": \"x\", \"name\": \"A\", \
             \"value\": {value}, \"scopes\": [\"workers\"], \"created\": \
             \"2026-01-01T00:00:00Z\", \"modified\": \"2026-01-01T00:00:00Z\"}}]}}]}}}}}}"
        )
    };
    // The file holds values; a hand-seeded one may hold a number (a PIN), or a value string
    // in a field of another type. Neither may be quoted back.
    for value in [
        "31415926535".to_string(),
        "\"CANARY-VALUE-s\", \"active\": \"CANARY-VALUE-b\"".to_string(),
        "\"CANARY-VALUE-t\", \"pending_reads\": \"CANARY-VALUE-n\"".to_string(),
    ] {
        std::fs::write(&state, secret(&value)).unwrap();
        let run = run_in(
            dir.path(),
            &[
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--state",
                "state.json",
            ],
            &[],
        );
        run.expect(1);
        assert!(run.stderr.contains("state.json"), "{}", run.stderr);
        assert_clean("a state-file error", &run.all(), &["CANARY", "31415926535"]);
    }
}

#[test]
fn help_never_shows_an_api_url_that_carries_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    // Such URLs are refused by every command; `--help` must not print them either.
    for url in [
        "https://proxy.example/client/v4?token=CANARY-TOKEN-query",
        "https://me:CANARY-TOKEN-userinfo@proxy.example/client/v4",
    ] {
        let env = [("CLOUDFLARE_API_BASE_URL", url)];
        for sub in ["plan", "apply", "import"] {
            let run = run_in(dir.path(), &[sub, "--help"], &env);
            run.expect(0);
            assert!(
                run.stdout.contains("CLOUDFLARE_API_BASE_URL"),
                "{}",
                run.stdout
            );
            assert_clean(&format!("{sub} --help"), &run.all(), &["CANARY-TOKEN"]);
            let run = run_in(dir.path(), &[sub], &env);
            // A usage error each: the URL (and, for `apply` and `import`, a missing
            // --auto-approve or --account).
            assert_eq!(run.code, Some(64), "{sub}: {}", run.all());
            assert_clean(sub, &run.all(), &["CANARY-TOKEN"]);
        }
    }
}

#[test]
fn unreadable_sealed_files_and_fingerprint_keys_are_reported_without_content() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    let other = Recipients::from_strings(&Identities::generate().to_recipients()).unwrap();
    let foreign = cfsecrets::values::seal(b"CANARY-VALUE-foreign", &other).unwrap();
    std::fs::create_dir_all(p.path("values")).unwrap();
    std::fs::write(p.path("values/FOREIGN.age"), foreign).unwrap();
    // Plaintext dressed as armor, armor with a damaged body, and a truncated binary file.
    p.write(
        "values/FAKEARMOR.age",
        "-----BEGIN AGE ENCRYPTED FILE-----\nCANARY-VALUE-fake armor body\n-----END AGE ENCRYPTED FILE-----\n",
    );
    p.write(
        "values/HEADER.age",
        "age-encryption.org/v1\n-> X25519 CANARY-VALUE-stanza\nCANARY-VALUE-body\n--- CANARY\n",
    );
    p.seal("values/OK.age", "CANARY-VALUE-ok");
    let sealed = std::fs::read(p.path("values/OK.age")).unwrap();
    std::fs::write(p.path("values/TRUNC.age"), &sealed[..sealed.len() / 2]).unwrap();
    p.manifest(&store_block(
        "          FOREIGN: { value: values/FOREIGN.age }\n\
         \x20         FAKEARMOR: { value: values/FAKEARMOR.age }\n\
         \x20         HEADER: { value: values/HEADER.age }\n\
         \x20         TRUNC: { value: values/TRUNC.age }\n\
         \x20         OK: { value: values/OK.age }\n",
    ));
    let check = p.run(&["check", "--decrypt"]);
    check.expect(1);
    for name in ["FOREIGN", "FAKEARMOR", "HEADER", "TRUNC"] {
        assert!(check.stderr.contains(name), "{name}: {}", check.stderr);
    }
    p.run(&["plan"]).expect(1);
    // A fingerprint key that decrypts to something other than 64 hex characters.
    p.seal("keys/fingerprint.age", "CANARY-VALUE-not-a-hex-key\n");
    p.manifest(&store_block("          OK: { value: values/OK.age }\n"));
    p.run(&["check", "--decrypt"]).expect(1);
    p.run(&["plan"]).expect(1);
    p.run(&["apply", "--auto-approve"]).expect(1);
    for (i, out) in p.outputs.lock().unwrap().iter().enumerate() {
        assert_clean(&format!("output {i}"), out, &["CANARY"]);
    }
}

#[test]
fn a_plaintext_file_dressed_as_armor_reveals_none_of_its_bytes() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    // A value pasted between armor lines instead of being sealed. base64's error would name
    // the first byte outside its alphabet and its offset ("Invalid byte 61, offset 3").
    p.write(
        "values/PIN.age",
        "-----BEGIN AGE ENCRYPTED FILE-----\npin=4711\n-----END AGE ENCRYPTED FILE-----\n",
    );
    p.manifest(&store_block("          PIN: { value: values/PIN.age }\n"));
    let run = p.run(&["check", "--decrypt"]);
    run.expect(1);
    assert!(run.stderr.contains("PIN.age"), "{}", run.stderr);
    assert!(run.stderr.contains("not an age file"), "{}", run.stderr);
    assert_clean("the error", &run.all(), &["byte 61", "offset 3", "4711"]);
}

#[test]
fn an_identity_pasted_into_the_recipients_file_is_not_echoed() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/A.age", "CANARY-VALUE-A");
    p.manifest(&store_block("          A: { value: values/A.age }\n"));
    let key = std::fs::read_to_string(&p.identity).unwrap();
    let line = p.identity_line();
    let body = line.trim_start_matches("AGE-SECRET-KEY-1");
    let recipients = std::fs::read_to_string(p.path(".age-recipients")).unwrap();
    for pasted in [
        format!("{recipients}{line}\n"),
        format!("{recipients}{key}"),
        format!("{recipients}{line} # mine\n"),
    ] {
        p.write(".age-recipients", &pasted);
        p.run(&["reseal", "--force"]).expect(1);
        let set = secret_set(&p, &["B", "--account", "production"], b"CANARY-VALUE-B\n");
        set.expect(1);
        p.run(&["check", "--decrypt"]).expect(1);
    }
    for (i, out) in p.outputs.lock().unwrap().iter().enumerate() {
        assert_clean(&format!("output {i}"), out, &[body, "CANARY-VALUE"]);
    }
}

/// Every argument clap parses into a typed value, and every argument whose text could come
/// back in a message, is refused without repeating a pasted token or an age identity: each
/// command line exits 64 at parsing, before anything is read, sent or written.
#[test]
fn no_argument_repeats_a_pasted_token_or_identity() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.manifest(&store_block(""));
    let before = std::fs::read(p.path("cfsecrets.yaml")).unwrap();
    let identity = p.identity_line();
    let body = identity.trim_start_matches("AGE-SECRET-KEY-1").to_string();
    // A token-like canary: its `+`, `/` and `=` keep it from ever being quoted back.
    let token = "tok+CANARY/7c1e==";
    let recipient = Identities::generate().to_recipients()[0].clone();
    // Each command line with `@` for the pasted text.
    let typed = [
        "import --account @",
        "import --account ACCOUNT --label @",
        "init --account-id @ -r RECIPIENT",
        "secret set @ --account production",
        "secret set X --account production --scopes @",
        "secret set X --account production @",
        "bindings --account production --store-id @",
        "apply --parallelism @",
        "plan --rate-limit @",
        "plan --format @",
        "plan @",
        "@",
        "emulator --latency-ms @",
    ];
    // Text arguments that are names, comments and paths: only key material is refused.
    let text = [
        "-f @ check",
        "check --wrangler @",
        "plan --out @",
        "apply @",
        "import --account ACCOUNT --store @",
        "import --account ACCOUNT --out @",
        "init --dir @ -r RECIPIENT",
        "init --generate-identity @",
        "secret set X --account @",
        "secret set X --account production --store @",
        "secret set X --account production --comment @",
        "bindings --account @",
        "bindings --account production --store @",
        "bindings --account production --secret @",
        "emulator --state @",
        "emulator --default-store @",
    ];
    let line = |template: &str, pasted: &str| -> Vec<String> {
        let word = |w: &str| match w {
            "@" => pasted.to_string(),
            "ACCOUNT" => ACCOUNT.to_string(),
            "RECIPIENT" => recipient.clone(),
            w => w.to_string(),
        };
        template.split_whitespace().map(word).collect()
    };
    let mut cases: Vec<Vec<String>> = typed.iter().map(|t| line(t, token)).collect();
    cases.extend(typed.iter().chain(&text).map(|t| line(t, &identity)));
    let id = identity.as_str();
    emu.handle().clear_log();
    for case in &cases {
        let args: Vec<&str> = case.iter().map(String::as_str).collect();
        let run = run_in(p.root(), &args, &[("CLOUDFLARE_API_TOKEN", TOKEN)]);
        let shown: Vec<&str> = args
            .iter()
            .map(|a| if *a == id { "<identity>" } else { a })
            .collect();
        assert_eq!(run.code, Some(64), "{shown:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("error: "),
            "{shown:?}: {}",
            run.stderr
        );
        assert_clean(&format!("{shown:?}"), &run.all(), &["CANARY", &body]);
        assert!(
            !run.all().to_ascii_uppercase().contains("AGE-SECRET-KEY-1"),
            "{shown:?}: {}",
            run.all()
        );
    }
    assert!(emu.handle().log().is_empty(), "a request was sent");
    assert_eq!(std::fs::read(p.path("cfsecrets.yaml")).unwrap(), before);
    assert!(!p.path("values/production").exists());
}
