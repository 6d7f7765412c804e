//! The README's guide, run as written: the first run on a real account, `check`'s sessions,
//! a value sealed by hand with `age`, `init`, `secret set` (and the flow-style rewrite it
//! shows), `reseal`, `import`, the plan under "Reading a plan", and the emulator's start-up
//! and use. Each test takes its
//! blocks by heading (`crate::docs::readme_block` or `readme_section`), so `docs` knows they
//! run; placeholders such as `<API token>` are replaced through `crate::docs::substitute`,
//! which fails when the README no longer has them. "Cloudflare" is the in-process emulator on
//! 127.0.0.1:0 (or, for the emulator's own section, the binary listening on port 0).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use cfsecrets::values::{FingerprintKey, Identities, Recipients, seal, unseal};

use crate::docs::{Ran, ReadmeShell, readme_block, readme_section, run_block, substitute};
use crate::support::{ACCOUNT, Emu, Project, Run, TOKEN, bin, canary::Canaries};

/// The directory of the binary under test, to put first on `PATH`.
fn bin_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cfsecrets")).parent().unwrap()
}

/// A shell in `dir` with `HOME` at `home` and `env` (names and values) besides.
fn shell<'a>(dir: &'a Path, home: &'a Path, env: &[(&str, &str)]) -> ReadmeShell<'a> {
    ReadmeShell {
        dir,
        home,
        bin_dir: bin_dir(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A new identity file at `path` made by the library; returns its public key.
fn keygen(path: &Path) -> String {
    let ids = Identities::generate();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, ids.to_file_text("in a test").as_bytes()).unwrap();
    ids.to_recipients().remove(0)
}

/// The plaintext of the sealed `file`, opened with the identity file `identity`.
fn open(identity: &Path, file: &Path) -> String {
    let ids = Identities::from_file(identity).unwrap();
    let plain = unseal(&std::fs::read(file).unwrap(), &ids, file).unwrap();
    String::from_utf8(plain.to_vec()).unwrap()
}

/// Runs `cfsecrets secret set ARGS` in `dir` with `value` on stdin.
fn secret_set(dir: &Path, args: &[&str], value: &str) -> Run {
    use std::io::Write as _;
    let mut child = bin()
        .args(["secret", "set"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run cfsecrets");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    child.wait_with_output().expect("wait").into()
}

/// Fails when `value` shows in any of `outputs`, in any encoding.
#[track_caller]
fn assert_not_shown(value: &str, outputs: &[String]) {
    let mut canaries = Canaries::new();
    canaries.add("a secret value", value);
    for (i, text) in outputs.iter().enumerate() {
        canaries.assert_absent(&format!("output {i}"), text);
    }
}

/// A project whose manifest declares `production` with one store, `store`, holding `secrets`
/// (YAML lines at the secrets' indentation), sealed to the identity at `identity`.
fn project(dir: &Path, identity: &Path, store: &str, secrets: &str) {
    let recipient = keygen(identity);
    std::fs::write(dir.join(".age-recipients"), format!("{recipient}\n")).unwrap();
    let recipients = Recipients::from_file(&dir.join(".age-recipients")).unwrap();
    let key = FingerprintKey::generate().seal(&recipients).unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/fingerprint.age"), key).unwrap();
    std::fs::write(
        dir.join("cfsecrets.yaml"),
        format!(
            "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
             defaults:\n  scopes: [workers]\naccounts:\n  production:\n    account_id: {ACCOUNT}\n    \
             stores:\n      {store}:\n        secrets:\n{secrets}"
        ),
    )
    .unwrap();
}

#[test]
fn the_first_run_on_a_real_account_runs_as_written() {
    let emu = Emu::start();
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let stripe = "sk_live_readme_first_run_51";
    let url = emu.base_url();
    let script = substitute(
        &readme_block("Using it on a real account"),
        &[("<32-hex account id>", ACCOUNT), ("<API token>", TOKEN)],
    );
    let env = [
        ("CLOUDFLARE_API_BASE_URL", url.as_str()),
        ("CFSECRETS_RETRY_BASE_MS", "1"),
        ("STRIPE_KEY", stripe),
    ];
    let run = shell(dir.path(), home.path(), &env).run(&script);
    run.expect(0);
    assert!(run.stdout.contains("Apply complete"), "{}", run.stdout);
    // What the prose says the lines did: the value filed under the default label, the
    // identity outside the project (so no .gitignore), and the secret live.
    let identity = home.path().join(".config/cfsecrets/me.key");
    let file = dir
        .path()
        .join("values/default/default_secrets_store/STRIPE_KEY.age");
    assert_eq!(open(&identity, &file), stripe);
    assert!(!dir.path().join(".gitignore").exists());
    assert_eq!(emu.names("default_secrets_store"), ["STRIPE_KEY"]);
    assert_not_shown(stripe, &[run.all()]);
}

#[test]
fn the_check_sessions_print_what_check_prints() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let d = dir.path();
    let out = bin()
        .args(["init", "--generate-identity", "me.key"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success());
    // The manifest the sessions speak of, with every file it names.
    let manifest = readme_block("The manifest");
    std::fs::write(d.join("cfsecrets.yaml"), &manifest).unwrap();
    let recipients = Recipients::from_file(&d.join(".age-recipients")).unwrap();
    for (file, text) in [
        (
            "values/production/default_secrets_store/STRIPE_KEY.age",
            "sk",
        ),
        ("values/production.env.age", "OPENAI_KEY=sk-o\n"),
        ("values/db.age", "postgres://"),
    ] {
        std::fs::create_dir_all(d.join(file).parent().unwrap()).unwrap();
        std::fs::write(d.join(file), seal(text.as_bytes(), &recipients).unwrap()).unwrap();
    }
    let blocks = readme_section("Checking it");
    let kinds: Vec<(bool, &str)> = blocks
        .iter()
        .map(|b| (b.is_session(), b.info.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [(true, "text"), (true, "text"), (false, "text")],
        "the section changed shape"
    );
    let sh = shell(d, home.path(), &[]);
    let mut ran = Ran::default();

    // "For the manifest above, with `ai-gateway` written for `ai_gateway` and no values/db.age".
    let broken = substitute(
        &manifest,
        &[("[workers, ai_gateway]", "[workers, ai-gateway]")],
    );
    std::fs::write(d.join("cfsecrets.yaml"), broken).unwrap();
    let db = std::fs::read(d.join("values/db.age")).unwrap();
    std::fs::remove_file(d.join("values/db.age")).unwrap();
    run_block(&blocks[0], &sh, &mut ran);

    // "A clean manifest".
    std::fs::write(d.join("cfsecrets.yaml"), &manifest).unwrap();
    std::fs::write(d.join("values/db.age"), db).unwrap();
    run_block(&blocks[1], &sh, &mut ran);
    assert_eq!(ran.sessions, 2);
    // The third block shows output of another manifest, and runs nothing.
    assert!(!blocks[2].body.contains("$ "));
}

#[test]
fn a_value_sealed_by_hand_with_age_opens_as_the_readme_says() {
    let Some(()) = crate::support::require_tool(
        "age",
        "a_value_sealed_by_hand_with_age_opens_as_the_readme_says",
    ) else {
        return;
    };
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let identity = home.path().join(".config/cfsecrets/me.key");
    let file = "values/production/default_secrets_store/STRIPE_KEY.age";
    project(
        dir.path(),
        &identity,
        "default_secrets_store",
        &format!("          STRIPE_KEY: {{ value: {file} }}\n"),
    );
    std::fs::create_dir_all(dir.path().join(file).parent().unwrap()).unwrap();
    let stripe = "sk_live_readme_by_hand_77";
    let run = shell(dir.path(), home.path(), &[("STRIPE_KEY", stripe)])
        .run(&readme_block("Value files and bundles"));
    run.expect(0);
    assert!(
        run.stdout.contains("1 value decrypted and checked"),
        "{}",
        run.stdout
    );
    assert!(
        std::fs::read_to_string(dir.path().join(file))
            .unwrap()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
    );
    assert_eq!(open(&identity, &dir.path().join(file)), stripe);
    assert_not_shown(stripe, &[run.all()]);
}

#[test]
fn init_with_a_teammate_runs_as_written() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let teammate = keygen(&home.path().join("teammate.key"));
    let script = substitute(
        &readme_block("`cfsecrets init`"),
        &[("<age1… key of a teammate>", &teammate)],
    );
    let run = shell(dir.path(), home.path(), &[]).run(&script);
    run.expect(0);
    let identity = home.path().join(".config/cfsecrets/me.key");
    let mine = Identities::from_file(&identity)
        .unwrap()
        .to_recipients()
        .remove(0);
    let recipients = std::fs::read_to_string(dir.path().join(".age-recipients")).unwrap();
    let keys: BTreeSet<&str> = recipients
        .lines()
        .filter(|l| l.starts_with("age1"))
        .collect();
    assert_eq!(keys, BTreeSet::from([mine.as_str(), teammate.as_str()]));
    for file in [
        "cfsecrets.yaml",
        "keys/fingerprint.age",
        ".cfsecrets-sealed.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
    assert!(!dir.path().join(".gitignore").exists());
    // Both can open what it sealed.
    let key = dir.path().join("keys/fingerprint.age");
    let bytes = std::fs::read(&key).unwrap();
    for who in [&identity, &home.path().join("teammate.key")] {
        let ids = Identities::from_file(who).unwrap();
        let text = unseal(&bytes, &ids, &key).unwrap();
        assert_eq!(String::from_utf8_lossy(&text).trim().len(), 64);
    }
}

#[test]
fn secret_set_runs_as_written_and_rewrites_a_flow_entry_as_shown() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let d = dir.path();
    let identity = home.path().join("me.key");
    project(
        d,
        &identity,
        "main",
        "          X: { value: keep }   # imported\n",
    );
    let blocks = readme_section("`cfsecrets secret set`");
    let infos: Vec<&str> = blocks.iter().map(|b| b.info.as_str()).collect();
    assert_eq!(infos, ["sh", "yaml", "yaml"], "the section changed shape");

    let stripe = "sk_live_readme_secret_set_93";
    let run = shell(d, home.path(), &[("STRIPE_KEY", stripe)]).run(&blocks[0].body);
    run.expect(0);
    let manifest = std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap();
    assert!(
        manifest.contains(
            "          STRIPE_KEY:\n            value: values/production/main/STRIPE_KEY.age\n            \
             scopes: [workers, ai_gateway]\n            comment: \"Stripe live key\"\n"
        ),
        "{manifest}"
    );
    assert_eq!(
        open(&identity, &d.join("values/production/main/STRIPE_KEY.age")),
        stripe
    );

    // The entry "before" is the one in the manifest; `secret set X` makes it the "after",
    // at the secrets' indentation.
    let indent = |text: &str| -> String {
        text.lines()
            .map(|l| format!("          {l}\n"))
            .collect::<String>()
    };
    assert!(manifest.contains(&indent(&blocks[1].body)), "{manifest}");
    let run = secret_set(d, &["X", "--account", "production"], "x-value");
    run.expect(0);
    let manifest = std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap();
    assert!(manifest.contains(&indent(&blocks[2].body)), "{manifest}");
    assert_not_shown(stripe, &[run.all()]);
}

#[test]
fn reseal_runs_as_written_after_a_recipient_is_added() {
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let d = dir.path();
    let identity = home.path().join(".config/cfsecrets/me.key");
    project(
        d,
        &identity,
        "main",
        "          A: { value: values/a.age }\n",
    );
    let recipients = Recipients::from_file(&d.join(".age-recipients")).unwrap();
    std::fs::create_dir_all(d.join("values")).unwrap();
    std::fs::write(
        d.join("values/a.age"),
        seal(b"a-value-reseal", &recipients).unwrap(),
    )
    .unwrap();
    // "When the team changes, edit `.age-recipients`".
    let teammate_key = home.path().join("teammate.key");
    let teammate = keygen(&teammate_key);
    let mut text = std::fs::read_to_string(d.join(".age-recipients")).unwrap();
    text.push_str(&format!("{teammate}\n"));
    std::fs::write(d.join(".age-recipients"), text).unwrap();

    let run = shell(d, home.path(), &[]).run(&readme_block("`cfsecrets reseal`"));
    run.expect(0);
    assert!(
        run.stdout.contains("resealed 2 of 2 files to 2 recipients"),
        "{}",
        run.stdout
    );
    assert_eq!(
        open(&teammate_key, &d.join("values/a.age")),
        "a-value-reseal"
    );
}

#[test]
fn import_runs_as_written_against_secrets_made_by_hand() {
    let emu = Emu::start();
    emu.create_by_hand(
        "default_secrets_store",
        "STRIPE_KEY",
        "sk-hand-1",
        "made by hand",
    );
    emu.create_by_hand("default_secrets_store", "DB_URL", "db-hand-2", "");
    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = emu.base_url();
    let env = [
        ("CLOUDFLARE_API_BASE_URL", url.as_str()),
        ("CLOUDFLARE_API_TOKEN", TOKEN),
        ("CFSECRETS_RETRY_BASE_MS", "1"),
    ];
    let run = shell(dir.path(), home.path(), &env)
        .run(&readme_block("Adopting existing secrets (import)"));
    run.expect(0);
    let imported = std::fs::read_to_string(dir.path().join("cfsecrets.yaml")).unwrap();
    assert!(
        imported.starts_with("# Imported by `cfsecrets import`"),
        "{imported}"
    );
    for name in ["STRIPE_KEY", "DB_URL"] {
        assert!(
            imported.contains(&format!("          {name}:\n            value: keep\n")),
            "{imported}"
        );
    }
    // The plan takes ownership of both (the marker, a comment-only PATCH) and writes no value.
    assert!(
        run.stdout.contains(
            "Plan: 0 to create, 2 to update, 0 to rename, 0 to delete; 2 write requests."
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        emu.count("PATCH", "/stores/{store_id}/secrets/{secret_id}"),
        0
    );
}

/// The emulator's start-up lines as the README shows them, from the binary listening on a
/// free port; then the README's lines against it, in a project.
#[test]
fn the_emulator_section_runs_as_written() {
    let blocks = readme_section("The emulator");
    let infos: Vec<&str> = blocks.iter().map(|b| b.info.as_str()).collect();
    assert_eq!(infos, ["text", "sh"], "the section changed shape");
    let mut lines = blocks[0].body.lines();
    let command = lines.next().unwrap().strip_prefix("$ ").expect("a session");
    let expected: Vec<&str> = lines.collect();
    let words = crate::docs::shell_words(command);
    assert_eq!(words[0], "cfsecrets");

    let mut child = bin()
        .args(&words[1..])
        .args(["--listen", "127.0.0.1:0"])
        .spawn()
        .expect("start the emulator");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let read = |from: &mut dyn BufRead, n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                let mut line = String::new();
                from.read_line(&mut line).unwrap();
                line.trim_end().to_string()
            })
            .collect()
    };
    // Results on stdout, notes on stderr, in that order on a terminal.
    let mut shown = read(&mut stdout, 3);
    shown.extend(read(&mut stderr, 2));
    let addr = shown[0]
        .strip_prefix("emulator listening on ")
        .expect("the first line")
        .to_string();
    let expected: Vec<String> = expected
        .iter()
        .map(|l| l.replace("127.0.0.1:8787", &addr))
        .collect();
    assert_eq!(shown, expected);

    let (dir, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let identity = home.path().join(".config/cfsecrets/me.key");
    let out = bin()
        .arg("init")
        .arg("--generate-identity")
        .arg(&identity)
        .args(["--account-id", ACCOUNT])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    secret_set(dir.path(), &["A", "--account", "default"], "a-emu").expect(0);
    let script = substitute(&blocks[1].body, &[("127.0.0.1:8787", &addr)]);
    let run = shell(dir.path(), home.path(), &[]).run(&script);
    let _ = child.kill();
    let _ = child.wait();
    run.expect(0);
    assert!(
        run.stdout
            .contains("Apply complete: 2 actions done (1 store created, 1 secret created)"),
        "{}",
        run.stdout
    );
    assert_not_shown("a-emu", &[run.all()]);
}

/// `text` with every fingerprint (a word of exactly 8 lowercase hex characters) written
/// `<fp>`: they are keyed by each project's own fingerprint key.
fn mask_fingerprints(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    let hex =
                        w.len() == 8 && w.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                    if hex { "<fp>" } else { w }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The plan under "Reading a plan" is what `plan` prints for the change it describes: a new
/// secret, a rename, a comment and a value changed, and a protected secret left out.
#[test]
fn the_plan_under_reading_a_plan_is_what_plan_prints() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    let file = |name: &str| format!("values/{name}.age");
    for name in [
        "SENDGRID_API_KEY",
        "VALUE_CHANGED",
        "COMMENT_CHANGED",
        "GUARDED",
    ] {
        p.seal(&file(name), &format!("{name}-readme-plan-1"));
    }
    p.manifest(&format!(
        "      default_secrets_store:\n        secrets:\n          \
         SENDGRID_API_KEY: {{ value: {} }}\n          \
         VALUE_CHANGED: {{ value: {} }}\n          \
         COMMENT_CHANGED: {{ value: {}, comment: Rotated yearly by the platform team }}\n          \
         GUARDED: {{ value: {}, protect: true }}\n",
        file("SENDGRID_API_KEY"),
        file("VALUE_CHANGED"),
        file("COMMENT_CHANGED"),
        file("GUARDED"),
    ));
    p.run(&["apply", "--auto-approve"]).expect(0);

    p.seal(&file("VALUE_CHANGED"), "VALUE_CHANGED-readme-plan-2");
    p.seal(&file("NEW_KEY"), "NEW_KEY-readme-plan-1");
    p.manifest(&format!(
        "      default_secrets_store:\n        secrets:\n          \
         NEW_KEY: {{ value: {}, scopes: [workers, ai_gateway], comment: Stripe live key }}\n          \
         SENDGRID_KEY: {{ value: {}, renamed_from: SENDGRID_API_KEY }}\n          \
         VALUE_CHANGED: {{ value: {} }}\n          \
         COMMENT_CHANGED: {{ value: {}, comment: Rotated monthly by the payments team }}\n",
        file("NEW_KEY"),
        file("SENDGRID_API_KEY"),
        file("VALUE_CHANGED"),
        file("COMMENT_CHANGED"),
    ));
    let run = p.run(&["-q", "plan"]);
    run.expect(0);
    assert_eq!(
        mask_fingerprints(run.stdout.trim_end()),
        mask_fingerprints(readme_block("Reading a plan").trim_end())
    );
    p.assert_no_value_leaked(&[]);
}
