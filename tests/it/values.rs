//! Sealed values: age interop with the real `age` CLI (both ways, armored and binary),
//! `init`, `secret set` and `reseal` round trips through the real binary, `unseal_all` and
//! the value checks over a hand-built `Desired`, and properties that plaintext never shows.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cfsecrets::domain::{AccountId, Scope, SecretName};
use cfsecrets::manifest::{
    Desired, DesiredAccount, DesiredSecret, DesiredStore, PresentSecret, Prune, Safety, ValueSource,
};
use cfsecrets::values::bundle::{self, BundleFormat};
use cfsecrets::values::{
    FingerprintKey, Identities, ProblemKind, Recipients, SecretValue, Severity, ValueKey,
    ValueProblem, fingerprints, seal, unseal, unseal_all, unseal_all_on,
};
use proptest::prelude::*;

use crate::support::bin;

/// Runs the binary in `dir` with `stdin` piped in.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cfsecrets");
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    match written {
        // A command refused before it reads stdin may have exited already.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `age` command-line tool, when it is on `PATH`. A fresh machine has only Rust, so the
/// interop checks skip with a visible note there; `.ci/run` installs `age` and sets
/// `CFSECRETS_REQUIRE_TOOLS=age`, which turns a missing tool into a failure.
fn age_cli(test: &str) -> Option<()> {
    crate::support::require_tool("age", test)
}

/// A new identity file made by the library (the `age-keygen` format); returns (path, public
/// key). Making keys needs no outside program.
fn keygen(dir: &Path, file: &str) -> (PathBuf, String) {
    let path = dir.join(file);
    let ids = Identities::generate();
    std::fs::write(&path, ids.to_file_text("in a test").as_bytes()).unwrap();
    let public = ids.to_recipients().remove(0);
    (path, public)
}

/// Opens `file` with the identity file at `identity`, through the library.
fn decrypt(identity: &Path, file: &Path) -> String {
    let ids = Identities::from_file(identity).unwrap();
    let bytes = std::fs::read(file).unwrap();
    String::from_utf8(unseal(&bytes, &ids, file).unwrap().to_vec()).unwrap()
}

/// Seals `plaintext` as a binary (unarmored) age file, the way `age` writes by default, with the
/// age library directly rather than through cfsecrets' sealing.
fn seal_binary(recipients: &[&str], plaintext: &str, out_file: &Path) {
    let parsed: Vec<age::x25519::Recipient> =
        recipients.iter().map(|r| r.parse().unwrap()).collect();
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient)).unwrap();
    let mut bytes = Vec::new();
    let mut writer = encryptor.wrap_output(&mut bytes).unwrap();
    writer.write_all(plaintext.as_bytes()).unwrap();
    writer.finish().unwrap();
    std::fs::write(out_file, bytes).unwrap();
}

fn age_decrypt(identity: &Path, file: &Path) -> String {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn age_encrypt(recipients: &[&str], armor: bool, plaintext: &str, out_file: &Path) {
    let mut cmd = Command::new("age");
    for r in recipients {
        cmd.arg("-r").arg(r);
    }
    if armor {
        cmd.arg("-a");
    }
    let mut child = cmd
        .arg("-o")
        .arg(out_file)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plaintext.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn interop_with_the_age_cli_both_ways() {
    let Some(()) = age_cli("interop_with_the_age_cli_both_ways") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (id_path, public) = keygen(dir.path(), "key.txt");
    let ids = Identities::from_file(&id_path).expect("age-keygen output loads");
    assert_eq!(ids.to_recipients(), vec![public.clone()]);

    // Ours → age -d.
    let recipients = Recipients::from_strings(std::slice::from_ref(&public)).unwrap();
    let ours = dir.path().join("ours.age");
    std::fs::write(
        &ours,
        seal("from cfsecrets ✓".as_bytes(), &recipients).unwrap(),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&ours)
            .unwrap()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
    );
    assert_eq!(age_decrypt(&id_path, &ours), "from cfsecrets ✓");

    // age -r (armored and binary) → ours.
    for armor in [true, false] {
        let theirs = dir.path().join(format!("theirs-{armor}.age"));
        age_encrypt(&[&public], armor, "from age", &theirs);
        let bytes = std::fs::read(&theirs).unwrap();
        assert_eq!(bytes.starts_with(b"-----BEGIN"), armor);
        let plain = unseal(&bytes, &ids, &theirs).unwrap();
        assert_eq!(&plain[..], b"from age");
    }
}

#[test]
fn identities_from_environment_and_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let (id_path, public) = keygen(dir.path(), "key.txt");
    let text = std::fs::read_to_string(&id_path).unwrap();
    let path_text = id_path.display().to_string();
    let env = |k: &str| match k {
        "CFSECRETS_AGE_KEY" => Some(text.clone()),
        "CFSECRETS_AGE_KEY_FILE" => Some(path_text.clone()),
        _ => None,
    };
    let ids = Identities::from_sources(std::slice::from_ref(&id_path), &env)
        .unwrap()
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids.to_recipients(), vec![public; 3]);
    let none = Identities::from_sources(&[], &|_| None).unwrap();
    assert!(none.is_none());
    let missing = Identities::from_sources(&[dir.path().join("nope")], &|_| None).unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[test]
fn init_creates_a_skeleton_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, other) = keygen(d, "other.txt");
    let out = run(
        d,
        &[
            "init",
            "--generate-identity",
            "me.key",
            "-r",
            &other,
            "--account-id",
            "0123456789abcdef0123456789abcdef",
        ],
        "",
    );
    let stdout = ok(&out);
    for f in [
        "me.key",
        ".age-recipients",
        "keys/fingerprint.age",
        "cfsecrets.yaml",
    ] {
        assert!(d.join(f).is_file(), "{f} missing");
        assert!(stdout.contains(f), "{stdout}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("me.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The new identity opens the fingerprint key it sealed.
    let key = decrypt(&d.join("me.key"), &d.join("keys/fingerprint.age"));
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let recipients = std::fs::read_to_string(d.join(".age-recipients")).unwrap();
    assert!(recipients.contains(&other));
    init_files_work_with_the_age_cli(d);
    let manifest = std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap();
    assert!(manifest.contains("account_id: 0123456789abcdef0123456789abcdef"));

    let again = run(d, &["init", "-r", &other], "");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let empty = tempfile::tempdir().unwrap();
    let none = run(empty.path(), &["init"], "");
    assert_eq!(none.status.code(), Some(64));
    assert!(
        std::fs::read_dir(empty.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// What `init` wrote is what the age CLI expects: `age -d` opens the fingerprint key with the
/// new identity, and `age -R` accepts the recipients file.
fn init_files_work_with_the_age_cli(d: &Path) {
    let Some(()) = age_cli("init_creates_a_skeleton_and_refuses_to_overwrite (age CLI part)")
    else {
        return;
    };
    let key = age_decrypt(&d.join("me.key"), &d.join("keys/fingerprint.age"));
    assert_eq!(key.trim().len(), 64);
    let by_hand = d.join("by-hand.age");
    let mut child = Command::new("age")
        .args(["-a", "-R", ".age-recipients", "-o", "by-hand.age"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hand").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(age_decrypt(&d.join("me.key"), &by_hand), "hand");
    std::fs::remove_file(by_hand).unwrap();
}

const MANIFEST: &str = "\
# Team manifest — comments must survive `secret set`.
version: 1
recipients_file: .age-recipients    # public keys
fingerprint_key: keys/fingerprint.age
defaults:
  scopes: [workers]

accounts:
  production:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      default_secrets_store:
        prune: owned
        secrets:
          # Stripe, rotated quarterly
          STRIPE_KEY:
            value: values/stripe.age   # sealed
            protect: true
          IMPORTED: { value: keep }   # from cfsecrets import
  # staging has two stores
  staging:
    account_id: fedcba9876543210fedcba9876543210
    stores:
      a:
        secrets: {}
      b:
        prune: none
        secrets: {}
";

/// init (with a fresh identity), then our own manifest with comments.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(
        dir.path(),
        &["init", "--generate-identity", "me.key"],
        "",
    ));
    std::fs::write(dir.path().join("cfsecrets.yaml"), MANIFEST).unwrap();
    let id = dir.path().join("me.key");
    (dir, id)
}

#[test]
fn secret_set_adds_updates_and_keeps_the_rest_of_the_manifest() {
    let (dir, id) = project();
    let d = dir.path();

    // New entry in a store with an empty flow map; value from stdin, trailing newline dropped.
    let out = run(
        d,
        &[
            "secret",
            "set",
            "NEW_TOKEN",
            "--account",
            "staging",
            "--store",
            "a",
            "--scopes",
            "workers,ai_gateway",
            "--comment",
            "added by test",
        ],
        "s3cr3t-value\n",
    );
    let stdout = ok(&out);
    assert!(stdout.contains("added staging/a/NEW_TOKEN"), "{stdout}");
    assert!(!stdout.contains("s3cr3t") && !String::from_utf8_lossy(&out.stderr).contains("s3cr3t"));
    let file = d.join("values/staging/a/NEW_TOKEN.age");
    assert_eq!(decrypt(&id, &file), "s3cr3t-value");
    let after = std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap();
    let expected = MANIFEST.replace(
        "      a:\n        secrets: {}\n",
        "      a:\n        secrets:\n          NEW_TOKEN:\n            value: values/staging/a/NEW_TOKEN.age\n            scopes: [workers, ai_gateway]\n            comment: \"added by test\"\n",
    );
    assert_eq!(after, expected);

    // Update an existing file entry in the account's only store: same file, other keys kept.
    std::fs::create_dir_all(d.join("values")).unwrap();
    let out = run(
        d,
        &["secret", "set", "STRIPE_KEY", "--account", "production"],
        "sk_live_rotated",
    );
    assert!(ok(&out).contains("updated production/default_secrets_store/STRIPE_KEY"));
    let after2 = std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap();
    assert_eq!(
        after2,
        expected.replace(
            "value: values/stripe.age   # sealed\n",
            "value: values/stripe.age\n"
        )
    );
    let ids = Identities::from_file(&id).unwrap();
    let sealed = std::fs::read(d.join("values/stripe.age")).unwrap();
    assert_eq!(
        &unseal(&sealed, &ids, Path::new("stripe.age")).unwrap()[..],
        b"sk_live_rotated"
    );

    // A `keep` entry gets its own file.
    ok(&run(
        d,
        &["secret", "set", "IMPORTED", "--account", "production"],
        "now-known",
    ));
    let after3 = std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap();
    assert!(after3.contains("          IMPORTED:\n            value: values/production/default_secrets_store/IMPORTED.age\n"), "{after3}");
    assert_eq!(
        decrypt(
            &id,
            &d.join("values/production/default_secrets_store/IMPORTED.age")
        ),
        "now-known"
    );
}

#[test]
fn secret_set_rejects_bad_input_before_writing() {
    let (dir, _) = project();
    let d = dir.path();
    let cases: &[(&[&str], &str)] = &[
        (
            &["secret", "set", "bad name", "--account", "production"],
            "invalid secret name",
        ),
        (
            &[
                "secret",
                "set",
                "X",
                "--account",
                "production",
                "--scopes",
                "ai-gateway",
            ],
            "unknown scope `ai-gateway`; did you mean `ai_gateway`?",
        ),
        (&["secret", "set", "X", "--account", "nope"], "no account"),
        (&["secret", "set", "X", "--account", "staging"], "--store"),
        (
            &[
                "secret",
                "set",
                "X",
                "--account",
                "staging",
                "--store",
                "zzz",
            ],
            "no store",
        ),
    ];
    for (args, needle) in cases {
        let out = run(d, args, "value-that-must-not-land");
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let empty = run(d, &["secret", "set", "X", "--account", "production"], "");
    assert_eq!(empty.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap(),
        MANIFEST
    );
    assert!(!d.join("values").exists());
}

/// A manifest `check` accepts once `init` has run (recipients and fingerprint key exist).
const CLEAN: &str = "\
version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults:
  scopes: [workers]
accounts:
  production:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      default_secrets_store:
        secrets:
          NEW_NAME: { renamed_from: OLD_NAME, value: keep }   # renamed last week
";

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn secret_set_refuses_an_edit_that_check_would_reject_and_writes_nothing() {
    let (dir, _) = project();
    let d = dir.path();
    std::fs::write(d.join("cfsecrets.yaml"), CLEAN).unwrap();
    ok(&run(d, &["check"], ""));

    // Declaring OLD_NAME collides with NEW_NAME's rename.
    let out = run(
        d,
        &["secret", "set", "OLD_NAME", "--account", "production"],
        "value-that-must-not-land",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "cfsecrets.yaml:12:37: error: secret `NEW_NAME` is renamed from `OLD_NAME`, which is also declared in this store\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "error: refused: the edit would add 1 problem to cfsecrets.yaml; nothing was written"
        ),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // A scope listed twice, on an entry that the edit rewrites from flow to block style.
    let out = run(
        d,
        &[
            "secret",
            "set",
            "NEW_NAME",
            "--account",
            "production",
            "--scopes",
            "workers,workers",
        ],
        "value-that-must-not-land",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(
            "cfsecrets.yaml:16:31: error: scope `workers` is listed twice in secret `NEW_NAME`\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("value-that-must-not-land"));

    assert_eq!(
        std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap(),
        CLEAN
    );
    assert!(!d.join("values").exists(), "no sealed file was written");
}

#[test]
fn secret_set_warns_about_problems_the_manifest_already_had() {
    let (dir, id) = project();
    let d = dir.path();
    let text = CLEAN.to_string() + "          OTHER: { value: keep, scopes: [ai-gateway] }\n";
    std::fs::write(d.join("cfsecrets.yaml"), &text).unwrap();
    let before = run(d, &["check"], "");
    assert_eq!(before.status.code(), Some(1));

    let out = run(
        d,
        &["secret", "set", "FRESH", "--account", "production"],
        "fresh-value",
    );
    let stdout = ok(&out);
    assert!(
        stdout.contains("added production/default_secrets_store/FRESH"),
        "{stdout}"
    );
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("warning: the manifest already had 1 problem; run `cfsecrets check`"),
        "{stderr}"
    );
    assert_eq!(
        decrypt(
            &id,
            &d.join("values/production/default_secrets_store/FRESH.age")
        ),
        "fresh-value"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap(),
        text + "          FRESH:\n            value: values/production/default_secrets_store/FRESH.age\n"
    );
    // `check` still reports the old problem, and only it.
    let after = run(d, &["check"], "");
    assert_eq!(after.status.code(), Some(1));
    let report = stderr_of(&after);
    assert!(report.contains("unknown scope `ai-gateway`"), "{report}");
    assert!(report.contains("check failed: 1 error"), "{report}");
}

#[test]
fn secret_set_refuses_a_manifest_that_is_not_yaml() {
    let (dir, _) = project();
    let d = dir.path();
    let text = CLEAN.replace("defaults:\n", "defaults:\ndefaults:\n");
    std::fs::write(d.join("cfsecrets.yaml"), &text).unwrap();
    let out = run(
        d,
        &["secret", "set", "FRESH", "--account", "production"],
        "value-that-must-not-land",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("cfsecrets.yaml:5:1: error: duplicate key `defaults`"),
        "{stderr}"
    );
    assert!(stderr.contains("does not parse as a YAML map"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap(),
        text
    );
    assert!(!d.join("values").exists());
}

#[test]
fn secret_set_keeps_a_crlf_four_space_manifest_byte_for_byte() {
    let (dir, id) = project();
    let d = dir.path();
    let text = "\
# four spaces, CRLF
version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults:
    scopes: [workers]   # default scope
accounts:
    production:
        account_id: 0123456789abcdef0123456789abcdef
        stores:
            main:
                secrets:
                    KEPT: { value: keep }   # imported from Cloudflare
                    LAST:
                        value: keep
"
    .replace('\n', "\r\n");
    std::fs::write(d.join("cfsecrets.yaml"), &text).unwrap();

    ok(&run(
        d,
        &["secret", "set", "KEPT", "--account", "production"],
        "kept-value",
    ));
    let once = text.replace(
        "                    KEPT: { value: keep }   # imported from Cloudflare\r\n",
        "                    # imported from Cloudflare\r\n                    KEPT:\r\n                        value: values/production/main/KEPT.age\r\n",
    );
    assert_eq!(
        std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap(),
        once
    );

    ok(&run(
        d,
        &[
            "secret",
            "set",
            "ADDED",
            "--account",
            "production",
            "--scopes",
            "dex",
        ],
        "added-value\r\n",
    ));
    let twice = once.clone()
        + "                    ADDED:\r\n                        value: values/production/main/ADDED.age\r\n                        scopes: [dex]\r\n";
    assert_eq!(
        std::fs::read_to_string(d.join("cfsecrets.yaml")).unwrap(),
        twice
    );
    assert_eq!(
        decrypt(&id, &d.join("values/production/main/KEPT.age")),
        "kept-value"
    );
    assert_eq!(
        decrypt(&id, &d.join("values/production/main/ADDED.age")),
        "added-value"
    );
    ok(&run(d, &["check"], ""));
}

#[test]
fn reseal_round_trip() {
    let (dir, id) = project();
    let d = dir.path();
    ok(&run(
        d,
        &["secret", "set", "STRIPE_KEY", "--account", "production"],
        "v1",
    ));
    ok(&run(
        d,
        &[
            "secret",
            "set",
            "A1",
            "--account",
            "staging",
            "--store",
            "a",
        ],
        "v2",
    ));
    let idarg = id.display().to_string();

    // Nothing changed yet.
    let out = ok(&run(d, &["reseal", "-i", &idarg], ""));
    assert!(out.contains("resealed 0 of 3 files"), "{out}");

    // A new team member: add their key, reseal, they can decrypt everything.
    let (new_id, new_pub) = keygen(d, "new.key");
    let mut recipients = std::fs::read_to_string(d.join(".age-recipients")).unwrap();
    recipients.push_str(&format!("# new member\n{new_pub}\n"));
    std::fs::write(d.join(".age-recipients"), &recipients).unwrap();
    let out = ok(&run(d, &["reseal", "-i", &idarg], ""));
    assert!(
        out.contains("resealed 3 of 3 files to 2 recipients"),
        "{out}"
    );
    assert_eq!(decrypt(&new_id, &d.join("values/stripe.age")), "v1");
    assert_eq!(decrypt(&new_id, &d.join("values/staging/a/A1.age")), "v2");
    assert_eq!(
        decrypt(&new_id, &d.join("keys/fingerprint.age"))
            .trim()
            .len(),
        64
    );

    // Again: nothing is rewritten.
    let before = std::fs::read(d.join("values/stripe.age")).unwrap();
    let out = ok(&run(d, &["reseal", "-i", &idarg], ""));
    assert!(out.contains("resealed 0 of 3 files"), "{out}");
    assert_eq!(std::fs::read(d.join("values/stripe.age")).unwrap(), before);

    // Sealed outside cfsecrets (binary, as `age` writes by default): unknown to the index, so
    // resealed.
    let own_pub = Identities::from_file(&id)
        .unwrap()
        .to_recipients()
        .remove(0);
    seal_binary(
        &[&own_pub, &new_pub],
        "v1-by-hand",
        &d.join("values/stripe.age"),
    );
    let out = ok(&run(d, &["reseal", "-i", &idarg], ""));
    assert!(out.contains("resealed 1 of 3 files"), "{out}");
    let resealed = std::fs::read_to_string(d.join("values/stripe.age")).unwrap();
    assert!(resealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert_eq!(decrypt(&new_id, &d.join("values/stripe.age")), "v1-by-hand");

    // The key from the environment works too; --force rewrites everything.
    let key_text = std::fs::read_to_string(&new_id).unwrap();
    let out = bin()
        .args(["reseal", "--force"])
        .current_dir(d)
        .env("CFSECRETS_AGE_KEY", key_text)
        .output()
        .unwrap();
    assert!(ok(&out).contains("resealed 3 of 3 files"));
}

#[test]
fn reseal_without_identity_fails_clearly() {
    let (dir, _) = project();
    let out = run(dir.path(), &["reseal"], "");
    assert_eq!(
        out.status.code(),
        Some(64),
        "a missing identity is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an identity"));
}

struct Fixture {
    _dir: tempfile::TempDir,
    desired: Desired,
    ids: Identities,
}

fn key(store: &str, name: &str) -> ValueKey {
    ValueKey {
        account: "prod".to_string(),
        store: store.to_string(),
        secret: SecretName::parse(name).unwrap(),
    }
}

fn present(value: ValueSource) -> DesiredSecret {
    DesiredSecret::Present(PresentSecret {
        value,
        scopes: [Scope::Workers].into_iter().collect(),
        comment: None,
        protect: false,
        renamed_from: None,
    })
}

/// A `Desired` built by hand over sealed files covering every value problem.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ids = Identities::generate();
    let r = Recipients::from_strings(&ids.to_recipients()).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, seal(bytes, &r).unwrap()).unwrap();
        p
    };
    let good = write("good.age", b"good-value");
    let empty = write("empty.age", b"");
    let big = write("big.age", &vec![b'x'; 65_537]);
    let long = write("long.age", &vec![b'y'; 2000]);
    let binary = write("binary.age", &[0xff, 0xfe, 0x00]);
    let env = write(
        "b.env.age",
        b"# bundle\nONE=first-bundled\nexport TWO=\"second bundled\"\n",
    );
    let yaml = write("b.yaml.age", b"THREE: third-bundled\n");
    let broken = write("broken.env.age", b"ONE=ok\nleaked-secret-line\n");
    let foreign = d.join("foreign.age");
    std::fs::write(
        &foreign,
        seal(
            b"x",
            &Recipients::from_strings(&Identities::generate().to_recipients()).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let mut secrets = BTreeMap::new();
    let mut add = |name: &str, s: DesiredSecret| {
        secrets.insert(SecretName::parse(name).unwrap(), s);
    };
    add("GOOD", present(ValueSource::File(good)));
    add("EMPTY", present(ValueSource::File(empty)));
    add("BIG", present(ValueSource::File(big)));
    add("LONG", present(ValueSource::File(long)));
    add("BINARY", present(ValueSource::File(binary)));
    add(
        "MISSING_FILE",
        present(ValueSource::File(d.join("nope.age"))),
    );
    add("FOREIGN", present(ValueSource::File(foreign)));
    add(
        "ONE",
        present(ValueSource::Bundle {
            path: env.clone(),
            key: "ONE".into(),
        }),
    );
    add(
        "TWO",
        present(ValueSource::Bundle {
            path: env.clone(),
            key: "TWO".into(),
        }),
    );
    add(
        "NOKEY",
        present(ValueSource::Bundle {
            path: env,
            key: "ABSENT_KEY".into(),
        }),
    );
    add(
        "THREE",
        present(ValueSource::Bundle {
            path: yaml,
            key: "THREE".into(),
        }),
    );
    add(
        "BROKEN",
        present(ValueSource::Bundle {
            path: broken,
            key: "ONE".into(),
        }),
    );
    add("KEPT", present(ValueSource::Keep));
    add("GONE", DesiredSecret::Absent);
    let desired = Desired {
        manifest_path: d.join("cfsecrets.yaml"),
        base_dir: d.to_path_buf(),
        recipients_file: d.join(".age-recipients"),
        fingerprint_key: d.join("keys/fingerprint.age"),
        safety: Safety::default(),
        accounts: vec![DesiredAccount {
            label: "prod".into(),
            account_id: AccountId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            stores: vec![DesiredStore {
                name: "main".into(),
                prune: Prune::Owned,
                secrets,
            }],
        }],
    };
    Fixture {
        _dir: dir,
        desired,
        ids,
    }
}

#[test]
fn unseal_all_returns_values_and_every_problem() {
    let f = fixture();
    let (values, problems) = unseal_all(&f.desired, &f.ids);
    let names: Vec<String> = values.keys().map(|k| k.secret.to_string()).collect();
    // A value over the size limit is kept beside its problem, for the planner to refuse.
    assert_eq!(names, ["BIG", "GOOD", "LONG", "ONE", "THREE", "TWO"]);
    assert_eq!(values[&key("main", "ONE")].expose_secret(), "first-bundled");
    assert_eq!(
        values[&key("main", "TWO")].expose_secret(),
        "second bundled"
    );
    assert_eq!(
        values[&key("main", "THREE")].expose_secret(),
        "third-bundled"
    );

    let summary: Vec<(String, Severity, String)> = problems
        .iter()
        .map(|p| {
            (
                p.secret.secret.to_string(),
                p.severity(),
                format!("{:?}", p.kind)
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let expect = |n: &str, s: Severity, k: &str| (n.to_string(), s, k.to_string());
    assert_eq!(
        summary,
        vec![
            expect("BIG", Severity::Error, "TooLarge"),
            expect("BINARY", Severity::Error, "NotUtf8"),
            expect("BROKEN", Severity::Error, "BundleSyntax"),
            expect("EMPTY", Severity::Error, "Empty"),
            expect("FOREIGN", Severity::Error, "Unreadable"),
            expect("MISSING_FILE", Severity::Error, "Unreadable"),
            expect("NOKEY", Severity::Error, "MissingBundleKey"),
        ]
    );
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text[2].ends_with(
            "broken.env.age (key ONE): bundle does not parse: line 2: expected KEY=value"
        ),
        "{}",
        text[2]
    );
    assert!(
        text[4].ends_with(
            "foreign.age: cannot decrypt: no identity matches any recipient of this file"
        ),
        "{}",
        text[4]
    );
    for t in &text {
        assert!(
            !t.contains("leaked-secret-line") && !t.contains("first-bundled"),
            "{t}"
        );
    }
    assert_eq!(
        cfsecrets::values::check_values(&f.desired, &f.ids),
        problems
    );

    // Fingerprints: one per value, keyed, stable.
    let fk = FingerprintKey::generate();
    let fps = fingerprints(&values, &fk);
    assert_eq!(fps.len(), values.len());
    assert_eq!(
        fps[&key("main", "GOOD")],
        fk.fingerprint(&SecretValue::new("good-value".into()))
    );
    assert_ne!(fps[&key("main", "ONE")], fps[&key("main", "TWO")]);
}

#[test]
fn unseal_all_gives_the_same_values_and_problems_on_any_number_of_threads() {
    let f = fixture();
    let seen = |threads: usize| {
        let (values, problems) = unseal_all_on(&f.desired, &f.ids, threads);
        let values: Vec<(String, String)> = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.expose_secret().to_string()))
            .collect();
        (values, problems)
    };
    let one = seen(1);
    // Every value but the empty one: an oversize value stays beside its problem.
    assert_eq!(
        one.0.len(),
        6,
        "{:?}",
        one.0.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    // Seven errors; the 2,000-byte LONG value is no problem (no 1,024-byte warning).
    assert_eq!(one.1.len(), 7);
    for threads in [2, 3, 8, 64] {
        assert!(
            seen(threads) == one,
            "{threads} threads gave another result"
        );
    }
    let (values, problems) = unseal_all(&f.desired, &f.ids);
    assert_eq!(values.len(), one.0.len());
    assert_eq!(problems, one.1);
}

/// Values that cannot occur by chance in our own messages.
fn secret_text() -> impl Strategy<Value = String> {
    "zq[A-Za-z0-9 !#$%&()*+,./:;<=>?@^_~-]{6,40}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn plaintext_never_shows_in_debug_or_errors(value in secret_text()) {
        let v = SecretValue::new(value.clone());
        let holds = !format!("{v:?}").contains(&value);
        prop_assert!(holds);
        prop_assert!(!v.to_string().contains(&value));
        let map: BTreeMap<ValueKey, SecretValue> = [(key("s", "K"), v.clone())].into_iter().collect();
        let holds = !format!("{map:?}").contains(&value);
        prop_assert!(holds);

        // Bundles that hold it, parse or not.
        let good = bundle::parse(&format!("K={value:?}\n"), BundleFormat::Dotenv);
        if let Ok(b) = &good {
            let holds = !format!("{b:?}").contains(&value);
            prop_assert!(holds);
        }
        // (text, whether the text is in a key's position: a bundle's Debug lists its keys,
        // which are names, not values).
        for (text, format, as_key) in [
            (format!("A=1\n{value}\n"), BundleFormat::Dotenv, false),
            (format!("A=\"{value}\n"), BundleFormat::Dotenv, false),
            (format!("{value}=x\n"), BundleFormat::Dotenv, true),
            (format!("A: [\"{value}\"]\n"), BundleFormat::Yaml, false),
            (format!("A:\n  - {value}\n  b: {value}\n"), BundleFormat::Yaml, false),
            (format!("\"{value}\n"), BundleFormat::Yaml, false),
        ] {
            match bundle::parse(&text, format) {
                Err(e) => {
                    prop_assert!(!e.to_string().contains(&value), "{}", e);
                    let holds = !format!("{e:?}").contains(&value);
                    prop_assert!(holds);
                }
                Ok(b) if !as_key => {
                    let holds = !format!("{b:?}").contains(&value);
                    prop_assert!(holds)
                },
                Ok(_) => {}
            }
        }

        // Problems about it.
        let p = ValueProblem {
            secret: key("s", "K"),
            file: PathBuf::from("v.age"),
            bundle_key: Some("K".into()),
            kind: ProblemKind::TooLarge { bytes: value.len() },
        };
        let holds = !p.to_string().contains(&value) && !format!("{p:?}").contains(&value);
        prop_assert!(holds);

        // Keys and identities.
        let ids = Identities::generate();
        let text = ids.to_file_text("now");
        let secret_line = text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap().to_string();
        let holds = !format!("{ids:?}").contains(&secret_line);
        prop_assert!(holds);
        let fk = FingerprintKey::generate();
        prop_assert_eq!(format!("{fk:?}"), "FingerprintKey([redacted])");
        let bad = Identities::parse(&format!("AGE-SECRET-KEY-1{value}\n"), "env").unwrap_err();
        let holds = !bad.to_string().contains(&value) && !format!("{bad:?}").contains(&value);
        prop_assert!(holds);
    }
}

#[test]
fn check_decrypt_unseals_every_value_and_reports_problems_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&run(
        d,
        &[
            "init",
            "--generate-identity",
            "me.key",
            "--account-id",
            "0123456789abcdef0123456789abcdef",
        ],
        "",
    ));
    let id = "me.key";
    let secret = "check-decrypt-plaintext-7d1e";
    ok(&run(
        d,
        &["secret", "set", "API", "--account", "default"],
        secret,
    ));

    // Clean: the summary counts the decrypted values.
    let out = ok(&run(d, &["check", "--decrypt", "-i", id], ""));
    assert!(out.contains("1 value decrypted and checked"), "{out}");

    // No identity: a usage error, nothing decrypted.
    let out = run(d, &["check", "--decrypt"], "");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an identity"));

    // A value of 2,000 bytes passes without a word (65,536 is the settled limit); an empty
    // one fails. Neither is printed.
    let long = format!("{secret}{}", "x".repeat(2000 - secret.len()));
    let set = run(d, &["secret", "set", "LONG", "--account", "default"], &long);
    ok(&set);
    assert!(
        set.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let out = run(d, &["check", "--decrypt", "-i", id], "");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 values decrypted and checked"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let empty_file = d.join("values/default/default_secrets_store/API.age");
    std::fs::write(
        &empty_file,
        seal(
            b"",
            &Recipients::from_file(&d.join(".age-recipients")).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let out = run(d, &["check", "--decrypt", "-i", id], "");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("API") && stderr.contains("check failed: 1 error\n"),
        "{stderr}"
    );
    for output in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(output).contains(secret));
    }
}

#[test]
fn secret_set_refuses_a_value_given_as_an_argument_without_echoing_it() {
    let (dir, _) = project();
    let before = std::fs::read(dir.path().join("cfsecrets.yaml")).unwrap();
    for args in [
        &[
            "secret",
            "set",
            "X",
            "--account",
            "production",
            "argv-secret-4e1d",
        ][..],
        &[
            "secret",
            "set",
            "X",
            "--account",
            "production",
            "-argv-secret-4e1d",
        ][..],
        &[
            "secret",
            "set",
            "X",
            "--account",
            "production",
            "--",
            "argv-secret-4e1d",
        ][..],
    ] {
        let out = run(dir.path(), args, "stdin-value");
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("never from arguments"), "{all}");
        assert!(!all.contains("argv-secret-4e1d"), "{all}");
    }
    assert_eq!(
        std::fs::read(dir.path().join("cfsecrets.yaml")).unwrap(),
        before
    );
    assert!(!dir.path().join("values/production").exists());
}
