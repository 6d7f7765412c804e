//! Adopting cfsecrets in a project: `init` keeps the identity it generates out of git,
//! `secret import-env` seals a dotenv file in one manifest edit, and `secret rm` takes an
//! entry out again. Through the real binary, comparing files byte for byte.

use std::path::Path;

use cfsecrets::values::{Identities, unseal};

use crate::docs::{readme_block, run_shell};
use crate::support::{Emu, Project, Run, bin};

/// Runs the binary in `dir` without stdin.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cfsecrets")
        .into()
}

/// One `init` case: files before, the arguments, the `.gitignore` expected afterwards (path
/// and text, `None`: no .gitignore anywhere) and what stdout says.
struct InitCase {
    before: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    after: Option<(&'static str, &'static str)>,
    says: Option<&'static str>,
}

#[test]
fn init_adds_an_identity_inside_the_project_to_gitignore_once() {
    let cases = [
        // A fresh project: .gitignore is created with the identity's path.
        InitCase {
            before: &[],
            args: &["--generate-identity", "me.key"],
            after: Some((".gitignore", "me.key\n")),
            says: Some("created .gitignore (ignores the identity me.key)"),
        },
        // An existing .gitignore (no final newline) keeps its lines; the path is relative to
        // the project (--dir), not to the working directory.
        InitCase {
            before: &[
                ("proj/keys/.keep", ""),
                ("proj/.gitignore", "target/\n*.log"),
            ],
            args: &["--dir", "proj", "--generate-identity", "proj/keys/me.key"],
            after: Some(("proj/.gitignore", "target/\n*.log\nkeys/me.key\n")),
            says: Some("added keys/me.key to proj/.gitignore (the new identity)"),
        },
        // Already listed (anchored): not added twice, and said so.
        InitCase {
            before: &[(".gitignore", "/me.key\n")],
            args: &["--generate-identity", "me.key"],
            after: Some((".gitignore", "/me.key\n")),
            says: Some(".gitignore already ignores me.key"),
        },
        // An identity outside the project: no .gitignore anywhere, and no word of one.
        InitCase {
            before: &[("proj/.keep", "")],
            args: &["--dir", "proj", "--generate-identity", "me.key"],
            after: None,
            says: None,
        },
    ];
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (file, text) in case.before {
            std::fs::create_dir_all(d.join(file).parent().unwrap()).unwrap();
            std::fs::write(d.join(file), text).unwrap();
        }
        let mut args = vec!["init"];
        args.extend_from_slice(case.args);
        let run = run_in(d, &args);
        run.expect(0);
        match case.after {
            Some((file, text)) => {
                assert_eq!(
                    std::fs::read_to_string(d.join(file)).unwrap(),
                    text,
                    "{args:?}"
                )
            }
            None => {
                assert!(!d.join("proj/.gitignore").exists() && !d.join(".gitignore").exists())
            }
        }
        match case.says {
            Some(line) => assert!(run.stdout.contains(line), "{args:?}: {}", run.stdout),
            None => assert!(!run.stdout.contains("gitignore"), "{}", run.stdout),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// secret import-env

/// The values of [`DOTENV`], as the dotenv rules read them.
const VALUES: [(&str, &str); 4] = [
    ("API_KEY", "adopt-canary-api # not a comment"),
    ("DB_URL", "postgres://adopt:canary-db@db/app"),
    ("TOKEN", "adopt-canary-single"),
    ("MULTI", "adopt-canary\nsecond line"),
];

/// A dotenv file as people write them: comments, `export`, quotes, blank lines, CRLF.
const DOTENV: &str = "# app settings\r\nexport API_KEY=\"adopt-canary-api # not a comment\"\r\n\r\nDB_URL=postgres://adopt:canary-db@db/app   # trailing comment\r\nTOKEN='adopt-canary-single'\r\nMULTI=\"adopt-canary\\nsecond line\"\r\n";

/// A project whose store `main` already has one entry, with a comment to keep.
fn adopt_project(emu: &Emu) -> Project {
    let p = Project::new(emu);
    p.manifest("      main:   # the only store\n        secrets:\n          KEPT: { value: keep }   # imported earlier\n");
    for (_, value) in VALUES {
        p.values.lock().unwrap().push(value.to_string());
    }
    p
}

/// Asserts that `text` (an output) contains `needle`, showing the text when it does not.
#[track_caller]
fn says(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

fn read(p: &Project, rel: &str) -> String {
    std::fs::read_to_string(p.path(rel)).unwrap()
}

fn unsealed(p: &Project, rel: &str) -> String {
    let ids = Identities::from_file(&p.identity).unwrap();
    let plain = unseal(&std::fs::read(p.path(rel)).unwrap(), &ids, Path::new(rel)).unwrap();
    String::from_utf8(plain.to_vec()).unwrap()
}

#[test]
fn import_env_seals_every_key_in_one_edit_and_apply_creates_them() {
    let emu = Emu::start();
    let p = adopt_project(&emu);
    p.write(".env", DOTENV);
    let before = read(&p, "cfsecrets.yaml");
    let run = p.run(&["secret", "import-env", ".env", "--account", "production"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("sealed 4 values to 1 recipient: one file each\n")
            && run
                .stdout
                .contains("added 4, updated 0 in production/main in cfsecrets.yaml\n"),
        "{}",
        run.stdout
    );
    says(
        &run.stderr,
        "warning: .env still holds these values in plain text: delete it",
    );
    assert_eq!(
        read(&p, ".env"),
        DOTENV,
        "the plaintext file is the user's to delete"
    );
    // The manifest: everything as it was, the new entries after the last one, in file order.
    let mut expected = before.clone();
    for (name, _) in VALUES {
        expected.push_str(&format!(
            "          {name}:\n            value: values/production/main/{name}.age\n"
        ));
    }
    assert_eq!(read(&p, "cfsecrets.yaml"), expected);
    for (name, value) in VALUES {
        assert_eq!(
            unsealed(&p, &format!("values/production/main/{name}.age")),
            value
        );
    }
    // Recorded in the seal index: reseal finds nothing to do.
    let reseal = p.run(&["reseal"]);
    reseal.expect(0);
    says(&reseal.stdout, "resealed 0 of 5 files");
    p.run(&["check", "--decrypt"]).expect(0);
    // KEPT is `value: keep` and does not exist live: create it by hand first.
    emu.create_by_hand("main", "KEPT", "adopt-hand-made", "");
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        emu.names("main"),
        ["API_KEY", "DB_URL", "KEPT", "MULTI", "TOKEN"]
    );
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    plan.expect(0);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn import_env_into_one_bundle_reads_back_the_same_values() {
    let emu = Emu::start();
    let p = adopt_project(&emu);
    p.write("prod.env", DOTENV);
    let run = p.run(&[
        "secret",
        "import-env",
        "prod.env",
        "--account",
        "production",
        "--scopes",
        "workers,ai_gateway",
        "--bundle",
        "values/production.env.age",
    ]);
    run.expect(0);
    says(
        &run.stdout,
        "sealed 4 values to 1 recipient: the bundle values/production.env.age",
    );
    let manifest = read(&p, "cfsecrets.yaml");
    for (name, _) in VALUES {
        let entry = format!(
            "          {name}:\n            value: {{ bundle: values/production.env.age, key: {name} }}\n            scopes: [workers, ai_gateway]\n"
        );
        assert!(manifest.contains(&entry), "{manifest}");
    }
    assert!(!p.path("values/production").exists(), "no value files");
    // The bundle parses back to the same values, by the rules of the file it came from.
    let bundle = unsealed(&p, "values/production.env.age");
    let (entries, bad) = cfsecrets::values::bundle::dotenv_entries(&bundle);
    assert!(bad.is_empty());
    let back: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.expose_secret()))
        .collect();
    assert_eq!(back, VALUES);
    p.run(&["check", "--decrypt"]).expect(0);
    emu.create_by_hand("main", "KEPT", "adopt-hand-made", "");
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);

    // Again into the same bundle: refused without --overwrite; with it, replaced.
    let again = p.run(&[
        "secret",
        "import-env",
        "prod.env",
        "--account",
        "production",
        "--bundle",
        "values/production.env.age",
    ]);
    again.expect(1);
    says(&again.stderr, "already declared");
    p.write("prod.env", "API_KEY=adopt-canary-rotated\n");
    p.values.lock().unwrap().push("adopt-canary-rotated".into());
    let partial = p.run(&[
        "secret",
        "import-env",
        "prod.env",
        "--account",
        "production",
        "--bundle",
        "values/production.env.age",
        "--overwrite",
    ]);
    partial.expect(1);
    assert!(
        partial
            .stderr
            .contains("would lose keys that other entries read")
            && partial
                .stderr
                .contains("production/main/DB_URL (key DB_URL)"),
        "{}",
        partial.stderr
    );
    // Every key again, with --overwrite: the bundle is replaced, the entries stay.
    let manifest = read(&p, "cfsecrets.yaml");
    p.write(
        "prod.env",
        &DOTENV.replace("adopt-canary-single", "adopt-canary-rotated"),
    );
    let full = p.run(&[
        "secret",
        "import-env",
        "prod.env",
        "--account",
        "production",
        "--bundle",
        "values/production.env.age",
        "--overwrite",
    ]);
    full.expect(0);
    says(&full.stdout, "added 0, updated 4 in production/main");
    assert_eq!(read(&p, "cfsecrets.yaml"), manifest);
    assert!(unsealed(&p, "values/production.env.age").contains("TOKEN=\"adopt-canary-rotated\""));
    // A bundle outside the project is refused once, before any key is looked at.
    let outside = p.run(&[
        "secret",
        "import-env",
        "prod.env",
        "--account",
        "production",
        "--bundle",
        "../elsewhere.env.age",
    ]);
    outside.expect(64);
    assert!(
        outside
            .stderr
            .contains("--bundle ../elsewhere.env.age climbs out of the manifest's directory"),
        "{}",
        outside.stderr
    );
    p.assert_no_value_leaked(&[]);
}

#[test]
fn import_env_refuses_bad_lines_by_number_and_writes_nothing() {
    let emu = Emu::start();
    let p = adopt_project(&emu);
    let before = read(&p, "cfsecrets.yaml");
    p.write(
        ".env",
        "GOOD=adopt-canary-good\nadopt-canary-noequals\nEMPTY=\nbad.name=adopt-canary-dotted\n\
         GOOD=adopt-canary-twice\nQUOTE=\"adopt-canary-open\nKEPT=adopt-canary-kept\n",
    );
    for v in [
        "adopt-canary-good",
        "adopt-canary-noequals",
        "adopt-canary-dotted",
        "adopt-canary-twice",
        "adopt-canary-open",
        "adopt-canary-kept",
    ] {
        p.values.lock().unwrap().push(v.to_string());
    }
    let run = p.run(&["secret", "import-env", ".env", "--account", "production"]);
    run.expect(1);
    let expected = [
        ".env:2: error: expected KEY=value",
        ".env:3: error: the value is empty (cfsecrets, like wrangler, never stores an empty secret)",
        ".env:4: error: the key is not a secret name the API accepts: secret name may contain only letters, digits, '-' and '_' (found '.')",
        ".env:5: error: duplicate key GOOD",
        ".env:6: error: unterminated double quote",
        "error: refused: 5 lines in .env; nothing was written",
    ];
    for line in expected {
        assert!(run.stderr.contains(line), "{line}\n{}", run.stderr);
    }
    // Once the file parses, a key the manifest declares is refused by its line too.
    p.write(".env", "GOOD=adopt-canary-good\nKEPT=adopt-canary-kept\n");
    let run = p.run(&["secret", "import-env", ".env", "--account", "production"]);
    run.expect(1);
    says(
        &run.stderr,
        ".env:2: error: production/main/KEPT is already declared in cfsecrets.yaml; pass --overwrite to replace its value",
    );
    // Usage errors: the account, the store, a bundle that is not dotenv.
    for (args, needle) in [
        (&["--account", "nope"][..], "no account \"nope\""),
        (
            &["--account", "production", "--store", "x"],
            "has no store \"x\"",
        ),
        (
            &["--account", "production", "--bundle", "b.yaml.age"],
            "must end in .env.age",
        ),
    ] {
        let mut all = vec!["secret", "import-env", ".env"];
        all.extend_from_slice(args);
        let run = p.run(&all);
        run.expect(64);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    assert_eq!(read(&p, "cfsecrets.yaml"), before);
    assert!(!p.path("values").exists(), "nothing was sealed");
    p.assert_no_value_leaked(&[]);
}

#[test]
fn import_env_judges_the_edit_like_secret_set() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.manifest("      main:\n        secrets:\n          NEW_NAME: { renamed_from: OLD_NAME, value: keep }\n");
    let before = read(&p, "cfsecrets.yaml");
    // OLD_NAME collides with NEW_NAME's rename: the edit would add a problem.
    p.write(
        ".env",
        "FRESH=adopt-canary-fresh\nOLD_NAME=adopt-canary-old\n",
    );
    p.values.lock().unwrap().push("adopt-canary-fresh".into());
    let run = p.run(&["secret", "import-env", ".env", "--account", "production"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("is renamed from `OLD_NAME`, which is also declared in this store")
            && run.stderr.contains(
                "refused: the edit would add 1 problem to cfsecrets.yaml; nothing was written"
            ),
        "{}",
        run.stderr
    );
    assert_eq!(read(&p, "cfsecrets.yaml"), before);
    assert!(!p.path("values/production").exists());
    // A problem the manifest already had only warns.
    let broken = before.replace("keep }", "keep, scopes: [ai-gateway] }");
    p.write("cfsecrets.yaml", &broken);
    p.write(".env", "FRESH=adopt-canary-fresh\n");
    let run = p.run(&["secret", "import-env", "-", "--account", "production"]);
    run.expect(1);
    says(&run.stderr, "stdin holds no KEY=value line");
    let run = p.run(&["secret", "import-env", ".env", "--account", "production"]);
    run.expect(0);
    says(
        &run.stderr,
        "warning: the manifest already had 1 problem; run `cfsecrets check`",
    );
    assert_eq!(
        read(&p, "cfsecrets.yaml"),
        broken + "          FRESH:\n            value: values/production/main/FRESH.age\n"
    );
    p.assert_no_value_leaked(&[]);
}

#[test]
fn import_env_overwrites_existing_entries_only_when_asked_and_reads_stdin() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/custom.age", "adopt-canary-old-value");
    p.manifest("      main:\n        secrets:\n          API: { value: values/custom.age, protect: true }   # ours\n");
    let before = read(&p, "cfsecrets.yaml");
    let mut child = p
        .command(
            &[
                "secret",
                "import-env",
                "-",
                "--account",
                "production",
                "--overwrite",
                "--scopes",
                "dex",
            ],
            true,
        )
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"API=adopt-canary-new-value\nNEW=adopt-canary-n\n")
        .unwrap();
    let run: Run = child.wait_with_output().unwrap().into();
    p.values.lock().unwrap().extend([
        "adopt-canary-new-value".to_string(),
        "adopt-canary-n".to_string(),
    ]);
    run.expect(0);
    says(&run.stdout, "added 1, updated 1 in production/main");
    assert!(
        !run.stderr.contains("plain text"),
        "stdin leaves no file behind: {}",
        run.stderr
    );
    // The existing entry keeps its own file and its other keys; the comment moves above it.
    let expected = before.replace(
        "          API: { value: values/custom.age, protect: true }   # ours\n",
        "          # ours\n          API:\n            value: values/custom.age\n            protect: true\n            scopes: [dex]\n          NEW:\n            value: values/production/main/NEW.age\n            scopes: [dex]\n",
    );
    assert_eq!(read(&p, "cfsecrets.yaml"), expected);
    assert_eq!(unsealed(&p, "values/custom.age"), "adopt-canary-new-value");
    p.assert_no_value_leaked(&[]);
}

// ---------------------------------------------------------------------------------------------
// secret rm

const RM_MANIFEST: &str = "\
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
                    # the API key
                    API: { value: values/api.age }   # sealed by hand
                    SHARED_A: { value: values/shared.age }
                    SHARED_B: { value: values/shared.age }
                    BUNDLED: { value: { bundle: values/b.env.age, key: BUNDLED } }
                    LAST:
                        value: values/last.age   # block style
                        comment: \"last one\"
";

#[test]
fn secret_rm_takes_out_the_entry_and_its_file_and_keeps_the_rest_byte_for_byte() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    for (file, value) in [
        ("values/api.age", "rm-canary-api"),
        ("values/shared.age", "rm-canary-shared"),
        ("values/b.env.age", "BUNDLED=rm-canary-bundled"),
        ("values/last.age", "rm-canary-last"),
    ] {
        p.seal(file, value);
    }
    let text = RM_MANIFEST.replace('\n', "\r\n");
    p.write("cfsecrets.yaml", &text);
    p.run(&["reseal"]).expect(0);
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(emu.names("main").len(), 5);
    let index = || read(&p, ".cfsecrets-sealed.json");
    assert!(index().contains("values/api.age"));

    // A flow entry: its line goes, the comment above it stays; its file is deleted.
    let run = p.run(&["secret", "rm", "API", "--account", "production"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("removed production/main/API from cfsecrets.yaml\n")
            && run.stdout.contains("deleted values/api.age\n"),
        "{}",
        run.stdout
    );
    says(
        &run.stderr,
        "the next apply deletes the live secret if cfsecrets wrote it (`prune: owned`)",
    );
    let text = text.replace(
        "                    API: { value: values/api.age }   # sealed by hand\r\n",
        "",
    );
    assert_eq!(read(&p, "cfsecrets.yaml"), text);
    assert!(!p.path("values/api.age").exists());
    assert!(!index().contains("values/api.age"), "{}", index());
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(!emu.names("main").contains(&"API".to_string()));

    // A file another entry uses is kept; a bundle is never deleted.
    let run = p.run(&["secret", "rm", "SHARED_A", "--account", "production"]);
    run.expect(0);
    says(
        &run.stdout,
        "kept values/shared.age (another entry uses it)",
    );
    assert!(p.path("values/shared.age").is_file());
    let run = p.run(&[
        "secret",
        "rm",
        "BUNDLED",
        "--account",
        "production",
        "--store",
        "main",
    ]);
    run.expect(0);
    says(
        &run.stdout,
        "kept the bundle values/b.env.age (key BUNDLED is still in it): a bundle is never deleted",
    );
    assert!(p.path("values/b.env.age").is_file());
    let text = text
        .replace("                    SHARED_A: { value: values/shared.age }\r\n", "")
        .replace(
            "                    BUNDLED: { value: { bundle: values/b.env.age, key: BUNDLED } }\r\n",
            "",
        );
    assert_eq!(read(&p, "cfsecrets.yaml"), text);

    // --absent: a block entry becomes one flow line, its comment above it; apply deletes it.
    let run = p.run(&[
        "secret",
        "rm",
        "LAST",
        "--account",
        "production",
        "--absent",
    ]);
    run.expect(0);
    says(
        &run.stdout,
        "marked production/main/LAST `ensure: absent` in cfsecrets.yaml: the next apply deletes it from Cloudflare",
    );
    let text = text.replace(
        "                    LAST:\r\n                        value: values/last.age   # block style\r\n                        comment: \"last one\"\r\n",
        "                    # block style\r\n                    LAST: { ensure: absent }\r\n",
    );
    assert_eq!(read(&p, "cfsecrets.yaml"), text);
    assert!(!p.path("values/last.age").exists());
    p.run(&["check"]).expect(0);
    p.run(&["apply", "--auto-approve"]).expect(0);
    // SHARED_A and BUNDLED were written by cfsecrets: `prune: owned` took them too.
    assert_eq!(emu.names("main"), ["SHARED_B"]);
    let again = p.run(&[
        "secret",
        "rm",
        "LAST",
        "--account",
        "production",
        "--absent",
    ]);
    again.expect(0);
    assert!(
        again
            .stdout
            .contains("already `ensure: absent`; nothing to do"),
        "{}",
        again.stdout
    );
    assert_eq!(read(&p, "cfsecrets.yaml"), text);

    let missing = p.run(&["secret", "rm", "NOPE", "--account", "production"]);
    missing.expect(64);
    assert!(
        missing
            .stderr
            .contains("production/main has no secret NOPE"),
        "{}",
        missing.stderr
    );
    assert_eq!(read(&p, "cfsecrets.yaml"), text);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn secret_rm_of_the_last_entry_leaves_an_empty_map_and_warns_about_protection() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/only.age", "rm-canary-only");
    p.manifest("      main:\n        prune: none\n        secrets:   # one left\n          ONLY:\n            value: values/only.age\n            protect: true\n");
    let before = read(&p, "cfsecrets.yaml");
    let run = p.run(&["secret", "rm", "ONLY", "--account", "production"]);
    run.expect(0);
    says(
        &run.stderr,
        "warning: production/main/ONLY had `protect: true`",
    );
    assert_eq!(
        read(&p, "cfsecrets.yaml"),
        before.replace(
            "        secrets:   # one left\n          ONLY:\n            value: values/only.age\n            protect: true\n",
            "        secrets: {}   # one left\n"
        )
    );
    p.run(&["check"]).expect(0);
    // Without protection, `prune: none` is named: the live secret would stay.
    p.seal("values/two.age", "rm-canary-two");
    p.manifest("      main:\n        prune: none\n        secrets:\n          TWO: { value: values/two.age }\n");
    let run = p.run(&["secret", "rm", "TWO", "--account", "production"]);
    run.expect(0);
    says(
        &run.stderr,
        "leaves the live secret in place (`prune: none`); pass --absent",
    );
    p.assert_no_value_leaked(&[]);
}

// ---------------------------------------------------------------------------------------------
// The README's adoption lines, run as written

#[test]
fn the_readme_adoption_from_dotenv_runs_as_written() {
    let Some(()) =
        crate::support::require_tool("bash", "the_readme_adoption_from_dotenv_runs_as_written")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join(".env"),
        "export STRIPE_KEY=readme-canary-stripe\nDB_URL='readme-canary-db'\n",
    )
    .unwrap();
    let block = readme_block("From a `.env` file (`cfsecrets secret import-env`)");
    let run = run_shell(&block, d, d);
    run.expect(0);
    assert!(!d.join(".env").exists(), "the block deletes the plaintext");
    says(&run.stdout, "2 values decrypted and checked");
    for (name, value) in [
        ("STRIPE_KEY", "readme-canary-stripe"),
        ("DB_URL", "readme-canary-db"),
    ] {
        let file = d.join(format!("values/default/default_secrets_store/{name}.age"));
        let ids = Identities::from_file(&d.join("me.key")).unwrap();
        let plain = unseal(&std::fs::read(&file).unwrap(), &ids, &file).unwrap();
        assert_eq!(&plain[..], value.as_bytes());
        assert!(!run.all().contains(value));
    }
}

#[test]
fn the_readme_secret_rm_lines_run_as_written() {
    let Some(()) =
        crate::support::require_tool("bash", "the_readme_secret_rm_lines_run_as_written")
    else {
        return;
    };
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/old.age", "readme-canary-old");
    p.manifest("      main:\n        secrets:\n          OLD_TOKEN: { value: values/old.age }\n          OTHER: { value: keep }\n");
    let block = readme_block("`cfsecrets secret rm`");
    let run = run_shell(&block, p.root(), p.root());
    run.expect(0);
    says(
        &run.stdout,
        "marked production/main/OLD_TOKEN `ensure: absent`",
    );
    says(&run.stdout, "removed production/main/OLD_TOKEN");
    assert!(!p.path("values/old.age").exists());
    assert!(
        read(&p, "cfsecrets.yaml")
            .ends_with("        secrets:\n          OTHER: { value: keep }\n"),
        "{}",
        read(&p, "cfsecrets.yaml")
    );
}

/// Every file name below `root`, recursively.
fn file_names(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            names.push(entry.file_name().to_string_lossy().into_owned());
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    names
}

#[test]
fn text_pasted_where_a_value_path_belongs_is_never_a_file_name_or_shown_by_set_or_rm() {
    // The validator refuses such an entry without repeating it; `secret set` and `secret rm`,
    // the natural ways to mend it, must neither seal to a file named after it nor print it,
    // whatever its shape: plain text, a token-shaped word (alone or as a `.age` file name),
    // or a bundle path without a sealed ending (and a bundle key).
    let emu = Emu::start();
    let p = Project::new(&emu);
    let pasted = [
        "plain-pasted-canary-4b1e",
        "Zx9vQ2mK7pL4sT8wR1yU6eN3bH5jC0aD",
        "bundle-canary-8c2d",
        "bundle-canary-9d3e",
        "Qw8eR7tY6uI5oP4aS3dF2gH1jK0lZxCv",
        "Lp3kJ9hG2fD8sA7qW1eR6tY5uI4oP0zX",
    ];
    p.manifest(&format!(
        "      main:\n        secrets:\n          \
         PASTED: {{ value: {} }}\n          \
         TOKEN: {{ value: {} }}\n          \
         BUNDLED: {{ value: {{ bundle: {}, key: KEY }} }}\n          \
         OTHER: {{ value: {{ bundle: {}, key: {} }} }}\n          \
         SHAPED: {{ value: values/{}.age }}\n",
        pasted[0], pasted[1], pasted[2], pasted[3], pasted[4], pasted[5]
    ));
    let mut outputs = Vec::new();
    for name in ["PASTED", "BUNDLED", "SHAPED"] {
        let out = crate::support::secret_set(
            &p,
            &[name, "--account", "production"],
            "a-new-sealed-value",
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {all}");
        // The entry now names its default sealed file, which holds the new value.
        let rel = format!("values/production/main/{name}.age");
        says(&read(&p, "cfsecrets.yaml"), &format!("value: {rel}"));
        assert_eq!(unsealed(&p, &rel), "a-new-sealed-value");
        outputs.push(all);
    }
    for name in ["TOKEN", "OTHER"] {
        let run = p.run(&["secret", "rm", name, "--account", "production"]);
        run.expect(0);
        outputs.push(run.all());
    }
    let manifest = read(&p, "cfsecrets.yaml");
    let names = file_names(p.root());
    for text in pasted {
        for (i, out) in outputs.iter().enumerate() {
            assert!(!out.contains(text), "output {i} shows {text}:\n{out}");
        }
        assert!(
            !names.iter().any(|n| n.contains(text)),
            "a file is named after {text}: {names:?}"
        );
        assert!(!manifest.contains(text), "{text} is still in the manifest");
    }
}
