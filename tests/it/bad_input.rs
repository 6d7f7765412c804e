//! Bad input, class by class: paths that are not regular files or are too large, paths that
//! leave the project, broken recipients files and bundles, and YAML whose first error is not
//! its cause. Each case runs the real binary and proves the same four things: the documented
//! exit code, the file (and `line:col` where there is one) named in the message, no value or
//! identity text in any output, and nothing written — no write request at the emulator and
//! every file of the project byte-identical afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Emu, Project, Run};

const STORE: &str = "main";
/// The value every project here seals; it must never appear in any output.
const VALUE: &str = "bad-input-canary-value-5f1c0e";

/// A project declaring `A` (sealed) in store `main`, plus `extra` secret lines.
fn project(emu: &Emu, extra: &str) -> Project {
    let p = Project::new(emu);
    p.seal("values/A.age", VALUE);
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          A: {{ value: values/A.age }}\n{extra}"
    ));
    p
}

/// Every regular file below `root` (symbolic links and special files are not followed or
/// read), with its bytes.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Requests that could change the live state.
fn writes(emu: &Emu) -> Vec<String> {
    emu.handle()
        .log()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Runs `args` in `p`, failing the test if it has not finished within a minute (a read
/// that blocks on a FIFO would hang forever).
fn run(p: &Project, args: &[&str]) -> Run {
    let mut child = p.command(args, true).spawn().expect("run cfsecrets");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = Run::from(child.wait_with_output().expect("output"));
    p.outputs.lock().unwrap().push(run.all());
    run
}

/// Runs each of `commands` and asserts the exit code, that stderr holds every one of
/// `needles`, that no value or identity text was printed, that no write request reached the
/// emulator and that no file of the project changed.
#[track_caller]
fn refused(p: &Project, emu: &Emu, commands: &[&[&str]], code: i32, needles: &[&str]) {
    let before = files(p.root());
    emu.handle().clear_log();
    for args in commands {
        let run = run(p, args);
        run.expect(code);
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{args:?}: `{needle}` not in stderr:\n{}",
                run.stderr
            );
        }
        let identity = std::fs::read_to_string(&p.identity).unwrap();
        let key = identity
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        assert!(!run.all().contains(key), "{args:?} printed the identity");
        assert!(
            !run.all().to_ascii_uppercase().contains("AGE-SECRET-KEY-1"),
            "{args:?} printed identity text"
        );
    }
    assert_eq!(
        writes(emu),
        Vec::<String>::new(),
        "write requests were sent"
    );
    assert!(files(p.root()) == before, "a file of the project changed");
    p.assert_no_value_leaked(&[]);
}

/// `check`, `plan` and `apply --auto-approve`: every command that reads the manifest.
const READERS: &[&[&str]] = &[&["check"], &["plan"], &["apply", "--auto-approve"]];

// ── what a path is, and how large ───────────────────────────────────────────────────────

#[test]
fn a_directory_where_a_value_file_belongs_is_called_a_directory() {
    let emu = Emu::start();
    let p = project(&emu, "          B: { value: values/dir.age }\n");
    std::fs::create_dir_all(p.path("values/dir.age")).unwrap();
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:13:23: error: value file `values/dir.age` of secret `B` is a directory, not a file",
        ],
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_where_a_file_belongs_is_named_and_never_blocks() {
    let emu = Emu::start();
    let p = project(
        &emu,
        "          B: { value: values/pipe.age }\n          C: { value: { bundle: values/pipe.env.age, key: C } }\n",
    );
    for fifo in ["values/pipe.age", "values/pipe.env.age"] {
        let status = std::process::Command::new("mkfifo")
            .arg(p.path(fifo))
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("note: mkfifo is not available; skipped");
            return;
        }
    }
    refused(
        &p,
        &emu,
        &[
            &["check", "--decrypt"],
            &["plan"],
            &["apply", "--auto-approve"],
        ],
        1,
        &[
            "cfsecrets.yaml:13:23: error: value file `values/pipe.age` of secret `B` is a FIFO (named pipe), not a file",
            "cfsecrets.yaml:14:23: error: bundle file `values/pipe.env.age` of secret `C` is a FIFO (named pipe), not a file",
        ],
    );
}

#[test]
fn oversize_value_files_and_bundles_are_refused_by_size_before_reading() {
    let emu = Emu::start();
    let p = project(
        &emu,
        "          B: { value: values/huge.age }\n          C: { value: { bundle: values/huge.env.age, key: C } }\n",
    );
    // Sparse files: their size is in the metadata, nothing is written to disk.
    for (file, size) in [
        ("values/huge.age", 2 << 20),
        ("values/huge.env.age", 17 << 20),
    ] {
        std::fs::File::create(p.path(file))
            .unwrap()
            .set_len(size)
            .unwrap();
    }
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:13:23: error: value file `values/huge.age` of secret `B` is too large (2,097,152 bytes; the limit is 1,048,576 bytes)",
            "cfsecrets.yaml:14:23: error: bundle file `values/huge.env.age` of secret `C` is too large (17,825,792 bytes; the limit is 16,777,216 bytes)",
        ],
    );
}

#[test]
fn an_oversize_or_special_recipients_file_is_named_at_its_key() {
    let emu = Emu::start();
    let p = project(&emu, "");
    std::fs::File::create(p.path(".age-recipients"))
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:2:18: error: recipients file `.age-recipients` is too large (2,097,152 bytes; the limit is 1,048,576 bytes)",
        ],
    );
    std::fs::remove_file(p.path(".age-recipients")).unwrap();
    std::fs::create_dir(p.path(".age-recipients")).unwrap();
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:2:18: error: recipients file `.age-recipients` is a directory, not a file",
        ],
    );
}

#[test]
fn a_manifest_that_is_too_large_or_not_a_file_is_refused_before_reading() {
    let emu = Emu::start();
    let p = project(&emu, "");
    std::fs::create_dir(p.path("dir.yaml")).unwrap();
    let cases: [(&str, &str); 2] = [
        (
            "dir.yaml",
            "dir.yaml: error: cannot read the manifest: it is a directory, not a file",
        ),
        (
            "huge.yaml",
            "huge.yaml: error: cannot read the manifest: it is too large (5,242,880 bytes; the limit is 4,194,304 bytes)",
        ),
    ];
    let manifest = std::fs::read(p.path("cfsecrets.yaml")).unwrap();
    let huge = std::fs::File::create(p.path("huge.yaml")).unwrap();
    std::io::Write::write_all(&mut &huge, &manifest).unwrap();
    huge.set_len(5 << 20).unwrap();
    for (file, message) in cases {
        refused(
            &p,
            &emu,
            &[
                &["-f", file, "check"],
                &["-f", file, "plan"],
                &["-f", file, "apply", "--auto-approve"],
            ],
            1,
            &[message],
        );
    }
    let before = files(p.root());
    let out = crate::support::secret_set(
        &p,
        &["-f", "huge.yaml", "B", "--account", "production"],
        VALUE,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("huge.yaml: error: cannot read the manifest: it is too large")
            && stderr.contains("cannot edit huge.yaml; nothing was written"),
        "{stderr}"
    );
    assert!(!stderr.contains(VALUE));
    assert!(files(p.root()) == before, "secret set wrote a file");
}

#[test]
fn a_manifest_that_is_not_utf8_is_named_at_its_first_bad_byte() {
    let emu = Emu::start();
    let p = project(&emu, "");
    let mut text = std::fs::read(p.path("cfsecrets.yaml")).unwrap();
    // Line 7 is `  production:`; put a Latin-1 byte after `produ`.
    let at = text.windows(5).position(|w| w == b"produ").unwrap() + 5;
    text.insert(at, 0xe9);
    std::fs::write(p.path("cfsecrets.yaml"), &text).unwrap();
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:7:8: error: cannot read the manifest: not valid UTF-8 (the first bad byte is here)",
        ],
    );
}

// ── paths stay inside the project ───────────────────────────────────────────────────────

/// Every command that reads the manifest and, for `reseal --force`, rewrites what it names.
const READERS_AND_RESEAL: &[&[&str]] = &[
    &["check"],
    &["plan"],
    &["apply", "--auto-approve"],
    &["reseal", "--force"],
];

/// Seals `plaintext` to `p`'s recipients into `path` (anywhere, also outside `p`).
fn seal_to(p: &Project, path: &Path, plaintext: &str) {
    let recipients = cfsecrets::values::Recipients::from_file(&p.path(".age-recipients")).unwrap();
    let sealed = cfsecrets::values::seal(plaintext.as_bytes(), &recipients).unwrap();
    std::fs::write(path, sealed).unwrap();
}

#[test]
fn absolute_and_climbing_paths_are_refused_at_their_position() {
    let emu = Emu::start();
    let outside = tempfile::tempdir().unwrap();
    let far = outside.path().join("far.age");
    let p = project(
        &emu,
        &format!(
            "          B: {{ value: {} }}\n          C: {{ value: ../c.age }}\n          \
             D: {{ value: {{ bundle: values/../../d.env.age, key: D }} }}\n",
            far.display()
        ),
    );
    // The absolute file exists and opens with the project's identity: only the rule
    // refuses it.
    seal_to(&p, &far, VALUE);
    let before = std::fs::read(&far).unwrap();
    let absolute = format!(
        "cfsecrets.yaml:13:23: error: value file `{}` of secret `B` must be a path relative to the manifest's directory",
        far.display()
    );
    refused(
        &p,
        &emu,
        READERS_AND_RESEAL,
        1,
        &[
            &absolute,
            "cfsecrets.yaml:14:23: error: value file `../c.age` of secret `C` climbs out of the manifest's directory (`..`)",
            "cfsecrets.yaml:15:23: error: bundle file `values/../../d.env.age` of secret `D` climbs out of the manifest's directory (`..`)",
        ],
    );
    assert_eq!(std::fs::read(&far).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_project_is_refused_and_reseal_never_rewrites_through_it() {
    let emu = Emu::start();
    let outside = tempfile::tempdir().unwrap();
    let p = project(
        &emu,
        "          B: { value: values/link/x.age }\n          \
         C: { value: { bundle: values/link/y.env.age, key: C } }\n",
    );
    seal_to(&p, &outside.path().join("x.age"), VALUE);
    seal_to(
        &p,
        &outside.path().join("y.env.age"),
        &format!("C={VALUE}\n"),
    );
    std::os::unix::fs::symlink(outside.path(), p.path("values/link")).unwrap();
    let before = files(outside.path());
    refused(
        &p,
        &emu,
        READERS_AND_RESEAL,
        1,
        &[
            "cfsecrets.yaml:13:23: error: value file `values/link/x.age` of secret `B` resolves outside the manifest's directory (through a symbolic link)",
            "cfsecrets.yaml:14:23: error: bundle file `values/link/y.env.age` of secret `C` resolves outside the manifest's directory (through a symbolic link)",
        ],
    );
    assert!(
        files(outside.path()) == before,
        "a file outside the project changed"
    );
}

#[cfg(unix)]
#[test]
fn the_recipients_file_and_the_fingerprint_key_stay_inside_too() {
    let emu = Emu::start();
    let outside = tempfile::tempdir().unwrap();
    let p = project(&emu, "");
    std::fs::copy(p.path(".age-recipients"), outside.path().join("r")).unwrap();
    std::fs::copy(
        p.path("keys/fingerprint.age"),
        outside.path().join("fp.age"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path().join("r"), p.path("linked-recipients")).unwrap();
    let text = std::fs::read_to_string(p.path("cfsecrets.yaml"))
        .unwrap()
        .replace(
            "recipients_file: .age-recipients",
            "recipients_file: linked-recipients",
        )
        .replace(
            "fingerprint_key: keys/fingerprint.age",
            &format!(
                "fingerprint_key: {}",
                outside.path().join("fp.age").display()
            ),
        );
    p.write("cfsecrets.yaml", &text);
    let before = files(outside.path());
    let key = format!(
        "cfsecrets.yaml:3:18: error: fingerprint key file `{}` must be a path relative to the manifest's directory",
        outside.path().join("fp.age").display()
    );
    refused(
        &p,
        &emu,
        READERS_AND_RESEAL,
        1,
        &[
            "cfsecrets.yaml:2:18: error: recipients file `linked-recipients` resolves outside the manifest's directory (through a symbolic link)",
            &key,
        ],
    );
    assert!(
        files(outside.path()) == before,
        "a file outside the project changed"
    );
}

#[test]
fn secret_set_never_writes_outside_the_project() {
    let emu = Emu::start();
    let p = project(&emu, "");
    // A name no other run shares, beside the project's directory.
    let name = format!("{}-b.age", p.root().file_name().unwrap().to_string_lossy());
    let parent = p.root().parent().unwrap().join(&name);
    let text = std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap()
        + &format!("          B: {{ value: ../{name} }}\n");
    p.write("cfsecrets.yaml", &text);
    let before = files(p.root());
    let out = crate::support::secret_set(&p, &["B", "--account", "production"], VALUE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: value file `../{name}` climbs out of the manifest's directory (`..`); nothing was written"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(VALUE));
    assert!(!parent.exists(), "secret set wrote outside the project");
    assert!(files(p.root()) == before, "secret set wrote a file");
}

#[cfg(unix)]
#[test]
fn secret_set_never_writes_through_a_symbolic_link_out_of_the_project() {
    let emu = Emu::start();
    let p = project(&emu, "");
    let outside = tempfile::tempdir().unwrap();
    // The default value path of a new secret is values/production/main/NEW.age.
    std::os::unix::fs::symlink(outside.path(), p.path("values/production")).unwrap();
    let before = files(p.root());
    let out = crate::support::secret_set(&p, &["NEW", "--account", "production"], VALUE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: value file `values/production/main/NEW.age` resolves outside the manifest's directory (through a symbolic link); nothing was written"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(VALUE));
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(files(p.root()) == before, "secret set wrote a file");
}

// ── recipients files ────────────────────────────────────────────────────────────────────

#[test]
fn every_bad_recipients_line_is_named_and_a_pasted_identity_is_never_shown() {
    let emu = Emu::start();
    let p = project(&emu, "");
    let good = std::fs::read_to_string(p.path(".age-recipients")).unwrap();
    let identity = std::fs::read_to_string(&p.identity).unwrap();
    let key = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    // The init file has two comment lines, then the key on line 3.
    p.write(
        ".age-recipients",
        &format!("{good}not-a-key-but-maybe-a-secret\n{key}\nage1 # note\n"),
    );
    refused(
        &p,
        &emu,
        &[&["check"]],
        1,
        &[
            "error: ./.age-recipients:4: not an age x25519 recipient",
            "error: ./.age-recipients:5: this is a private key, not a recipient",
            "error: ./.age-recipients:6: put comments on their own line",
            "check failed: 3 errors",
        ],
    );
    let all = p.outputs.lock().unwrap().join("\n");
    assert!(!all.contains("not-a-key-but-maybe-a-secret"), "{all}");
    // `secret set` reads the same file before anything is written.
    let before = files(p.root());
    let out = crate::support::secret_set(&p, &["B", "--account", "production"], VALUE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(".age-recipients:5: this is a private key"),
        "{stderr}"
    );
    assert!(!stderr.contains(key) && !stderr.contains(VALUE), "{stderr}");
    assert!(files(p.root()) == before, "secret set wrote a file");
}

#[test]
fn a_binary_recipients_file_is_called_binary() {
    let emu = Emu::start();
    let p = project(&emu, "");
    std::fs::write(p.path(".age-recipients"), b"\x00\x01age\xff\xfe").unwrap();
    refused(
        &p,
        &emu,
        &[&["check"]],
        1,
        &[
            "error: ./.age-recipients: not a text file (it holds binary data); list one age1… public key per line",
            "check failed: 1 error",
        ],
    );
}

// ── messages that name the cause ────────────────────────────────────────────────────────

/// `p`'s manifest with `from` replaced by `to`.
fn edit_manifest(p: &Project, from: &str, to: &str) {
    let text = std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap();
    assert!(text.contains(from), "{from:?} not in the manifest");
    p.write("cfsecrets.yaml", &text.replacen(from, to, 1));
}

#[test]
fn an_unclosed_bracket_is_reported_where_it_opens() {
    let emu = Emu::start();
    let p = project(&emu, "");
    // Line 5 opens the list; the parser only stops at line 6, on its colon.
    edit_manifest(&p, "  scopes: [workers]\n", "  scopes: [workers\n");
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:5:11: error: unclosed `[` (the YAML parser stopped at line 6: illegal placement of ':' indicator)",
        ],
    );
    let out = crate::support::secret_set(&p, &["B", "--account", "production"], VALUE);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cfsecrets.yaml:5:11: error: unclosed `[`"),
        "{stderr}"
    );
}

#[test]
fn the_yaml_readers_limits_are_worded_not_dumped() {
    let emu = Emu::start();
    let p = project(&emu, "");
    let many = vec!["1"; 250_001].join(",");
    edit_manifest(&p, "defaults:\n", &format!("defaults:\n  x: [{many}]\n"));
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:5:",
            "error: the document is too large or too complex to read: more than 250,000 values, lists and maps",
        ],
    );
    let all = p.outputs.lock().unwrap().join("\n");
    assert!(
        !all.contains("Nodes {") && !all.contains("limits breached"),
        "{all}"
    );
}

#[test]
fn a_store_with_an_empty_body_is_called_empty_at_its_key() {
    let emu = Emu::start();
    let p = project(&emu, "");
    edit_manifest(
        &p,
        "      main:\n        secrets:\n          A: { value: values/A.age }\n",
        "      main:\n",
    );
    refused(
        &p,
        &emu,
        READERS,
        1,
        &[
            "cfsecrets.yaml:10:7: error: store `main` is empty; expected a map with `secrets` and optionally `prune`\ncheck failed: 1 error",
        ],
    );
    let all = p.outputs.lock().unwrap().join("\n");
    assert!(!all.contains("has no stores"), "{all}");
}

// ── bundles ─────────────────────────────────────────────────────────────────────────────

#[test]
fn every_bad_bundle_line_is_reported_without_its_text() {
    let emu = Emu::start();
    let p = project(
        &emu,
        "          B: { value: { bundle: values/app.env.age, key: B } }\n          \
         C: { value: { bundle: values/flat.yaml.age, key: C } }\n",
    );
    p.seal(
        "values/app.env.age",
        "B=fine-bundle-value-1a\nbroken-line-value-2b\nD=\"unterminated-value-3c\n",
    );
    p.seal(
        "values/flat.yaml.age",
        "C: fine-bundle-value-4d\nE:\n  nested: nested-value-5e\nF: [listed-value-6f]\n",
    );
    p.values.lock().unwrap().extend(
        [
            "broken-line-value-2b",
            "unterminated-value-3c",
            "fine-bundle-value-4d",
            "nested-value-5e",
            "listed-value-6f",
        ]
        .map(String::from),
    );
    refused(
        &p,
        &emu,
        &[
            &["check", "--decrypt"],
            &["plan"],
            &["apply", "--auto-approve"],
        ],
        1,
        &[
            "values/app.env.age (key B): bundle does not parse: line 2: expected KEY=value; line 3: unterminated double quote",
            "values/flat.yaml.age (key C): bundle does not parse: line 2: a map where a string belongs (bundles are flat); line 4: a list where a string belongs",
        ],
    );
}

#[test]
fn secret_set_reads_a_bounded_amount_of_stdin() {
    let emu = Emu::start();
    let p = project(&emu, "");
    let before = files(p.root());
    let huge = "v".repeat(3 << 20);
    let out = crate::support::secret_set(&p, &["B", "--account", "production"], &huge);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the value for B is more than 1,048,576 bytes; the limit is 65536; nothing was written"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("vvvvvvvv"), "{stderr}");
    assert!(files(p.root()) == before, "secret set wrote a file");
}
