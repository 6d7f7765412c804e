//! Adopting cfsecrets in a project: `init` keeps the identity it generates out of git,
//! `secret import-env` seals a dotenv file in one manifest edit, and `secret rm` takes an
//! entry out again. Through the real binary, comparing files byte for byte.

use std::path::Path;

use crate::support::{Run, bin};

/// Runs the binary in `dir` without stdin.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cfsecrets")
        .into()
}

#[test]
fn init_adds_an_identity_inside_the_project_to_gitignore_once() {
    // A fresh project: .gitignore is created with the identity's path.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = run_in(d, &["init", "--generate-identity", "me.key"]);
    run.expect(0);
    assert_eq!(
        std::fs::read_to_string(d.join(".gitignore")).unwrap(),
        "me.key\n"
    );
    assert!(
        run.stdout
            .contains("created .gitignore (ignores the identity me.key)"),
        "{}",
        run.stdout
    );

    // An existing .gitignore keeps its lines; the path is relative to the project (--dir),
    // not to the working directory.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("proj/keys")).unwrap();
    std::fs::write(d.join("proj/.gitignore"), "target/\n*.log").unwrap();
    let run = run_in(
        d,
        &[
            "init",
            "--dir",
            "proj",
            "--generate-identity",
            "proj/keys/me.key",
        ],
    );
    run.expect(0);
    assert_eq!(
        std::fs::read_to_string(d.join("proj/.gitignore")).unwrap(),
        "target/\n*.log\nkeys/me.key\n"
    );
    assert!(
        run.stdout
            .contains("added keys/me.key to proj/.gitignore (the new identity)"),
        "{}",
        run.stdout
    );

    // Already listed (anchored): not added twice, and said so.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), "/me.key\n").unwrap();
    let run = run_in(d, &["init", "--generate-identity", "me.key"]);
    run.expect(0);
    assert_eq!(
        std::fs::read_to_string(d.join(".gitignore")).unwrap(),
        "/me.key\n"
    );
    assert!(
        run.stdout.contains(".gitignore already ignores me.key"),
        "{}",
        run.stdout
    );

    // An identity outside the project: no .gitignore anywhere.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("proj")).unwrap();
    let run = run_in(
        d,
        &["init", "--dir", "proj", "--generate-identity", "me.key"],
    );
    run.expect(0);
    assert!(d.join("me.key").is_file());
    assert!(!d.join("proj/.gitignore").exists() && !d.join(".gitignore").exists());
    assert!(!run.stdout.contains("gitignore"), "{}", run.stdout);
}
