//! The quickstart (`cargo run --example quickstart`) does plan → apply → plan against the
//! emulator with `examples/quickstart`; this chapter runs the same three steps through the
//! real binary, so the committed manifest, demo identity and sealed values stay working.

use std::path::PathBuf;

use crate::support::{Emu, TOKEN, bin};

/// The demo values sealed in examples/quickstart (public on purpose; see its README notes).
const DEMO_VALUES: [&str; 3] = [
    "sk_test_demo_only_4242",
    "postgres://demo:demo@localhost/demo",
    "demo-webhook-signing-secret",
];

/// The account id in examples/quickstart/cfsecrets.yaml.
const QUICKSTART_ACCOUNT: &str = "00000000000000000000000000000001";

fn quickstart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}

#[test]
fn quickstart_plans_applies_and_converges() {
    let emu = Emu::start();
    let dir = quickstart_dir();
    let run = |args: &[&str]| {
        let out = bin()
            .arg("-f")
            .arg(dir.join("cfsecrets.yaml"))
            .arg("-i")
            .arg(dir.join("demo-identity.key"))
            .args(args)
            .env("CLOUDFLARE_API_TOKEN", TOKEN)
            .env("CLOUDFLARE_API_BASE_URL", emu.base_url())
            .output()
            .expect("run cfsecrets");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for value in DEMO_VALUES {
            assert!(!text.contains(value), "a demo value leaked:\n{text}");
        }
        (out.status.code(), text)
    };

    let (code, text) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{text}");
    // The whole run as a user sees it: exit status, stdout, stderr.
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]")]}, {
        insta::assert_snapshot!("quickstart_first_plan", format!("exit: {code:?}\n{text}"));
    });
    assert!(text.contains("+ store default_secrets_store"), "{text}");
    for name in ["DATABASE_URL", "STRIPE_KEY", "WEBHOOK_SECRET"] {
        assert!(
            text.contains(&format!("+ default_secrets_store/{name}")),
            "{text}"
        );
    }

    let (code, text) = run(&["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{text}");
    let live: Vec<String> = emu
        .secrets_in(QUICKSTART_ACCOUNT, "default_secrets_store")
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(live, ["DATABASE_URL", "STRIPE_KEY", "WEBHOOK_SECRET"]);

    let (code, text) = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("No changes."), "{text}");
}

#[test]
fn the_demo_identity_is_labelled_as_such() {
    let identity = std::fs::read_to_string(quickstart_dir().join("demo-identity.key")).unwrap();
    assert!(
        identity.starts_with("# DEMO IDENTITY"),
        "{}",
        identity.lines().next().unwrap_or("")
    );
    let manifest = std::fs::read_to_string(quickstart_dir().join("cfsecrets.yaml")).unwrap();
    assert!(manifest.contains("DEMO identity"));
}
