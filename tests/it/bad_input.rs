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

/// What a file holds, as far as "unchanged" goes: its bytes; or, for a file over
/// [`READ_AT_MOST`] (the sparse files that stand for oversize input), its length, its
/// modification time and its inode — a write changes the time, an atomic replace the inode.
#[derive(Debug, PartialEq, Eq)]
enum Content {
    Bytes(Vec<u8>),
    Large {
        len: u64,
        modified: std::time::SystemTime,
        inode: u64,
    },
}

/// Files larger than this are compared by their metadata, not read.
const READ_AT_MOST: u64 = 4 << 20;

/// Every regular file below `root` (symbolic links and special files are not followed or
/// read), with what it holds.
fn files(root: &Path) -> BTreeMap<PathBuf, Content> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() && meta.len() > READ_AT_MOST {
                #[cfg(unix)]
                let inode = std::os::unix::fs::MetadataExt::ino(&meta);
                #[cfg(not(unix))]
                let inode = 0;
                let large = Content::Large {
                    len: meta.len(),
                    modified: meta.modified().unwrap(),
                    inode,
                };
                out.insert(path, large);
            } else if meta.is_file() {
                out.insert(path.clone(), Content::Bytes(std::fs::read(&path).unwrap()));
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
        assert!(
            !run.all().contains(&p.identity_line()),
            "{args:?} printed the identity"
        );
        assert!(
            !holds_key_text(&run.all()),
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
    let key = &p.identity_line();
    // The init file has two comment lines, then the key on line 3.
    p.write(
        ".age-recipients",
        &format!("{good}not-a-key-but-maybe-a-secret\n{key}\nage1 # note\n"),
    );
    // `check` refuses it, and so does every command before anything else (invariant 6).
    refused(
        &p,
        &emu,
        READERS_AND_RESEAL,
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
    // Reaching the limit takes a debug build seconds per command: `check` meets it here;
    // plan and apply share its loader, and the gauntlet's nesting row proves that they word
    // a breached limit the same way.
    refused(
        &p,
        &emu,
        &[&["check"]],
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

// ── the API's address ───────────────────────────────────────────────────────────────────

#[test]
fn a_bad_api_url_is_a_usage_error_before_any_request_flag_or_variable() {
    // Every command that talks to the API checks its address as an argument: exit 64, the
    // reason, nothing sent (not even a read), no file changed, and no user info, query or
    // fragment repeated.
    let emu = Emu::start();
    let p = project(&emu, "");
    let commands: &[&[&str]] = &[
        &["plan"],
        &["apply", "--auto-approve"],
        &["bindings", "--account", "production"],
    ];
    for (url, says) in [
        ("not a url", "not a valid url"),
        ("http://api.example.com/client/v4", "must use https"),
        ("ftp://127.0.0.1/client/v4", "must use https"),
        ("https://api.cloudflare.com/client/v4#SEKRIT", "fragment"),
        (
            "https://SEKRIT:pw@api.cloudflare.com/client/v4",
            "user name",
        ),
    ] {
        let before = files(p.root());
        for args in commands {
            let flagged: Vec<&str> = args.iter().copied().chain(["--api-url", url]).collect();
            let from_flag = run(&p, &flagged);
            p.env
                .lock()
                .unwrap()
                .push(("CLOUDFLARE_API_BASE_URL".to_string(), url.to_string()));
            let from_env = run(&p, args);
            p.env.lock().unwrap().pop();
            for (how, got) in [("flag", &from_flag), ("variable", &from_env)] {
                got.expect(64);
                assert!(
                    got.stderr.contains(says) && got.stderr.contains("--api-url"),
                    "{args:?} {how} {url}: {}",
                    got.stderr
                );
                assert!(
                    !got.all().contains("SEKRIT"),
                    "{args:?} {how}: {}",
                    got.all()
                );
            }
        }
        assert_eq!(emu.handle().log().len(), 0, "{url}: requests were sent");
        assert!(
            files(p.root()) == before,
            "{url}: a file of the project changed"
        );
    }
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

// ── the gauntlet: one row per bad input ─────────────────────────────────────────────────
//
// Every row makes one bad input in a fresh project (which declares `A`, sealed, in store
// `main` of account `production`: the manifest's line 12), runs the real binary on it with
// the commands that meet it, and proves for each command: the documented exit code, the
// message naming the file (`file:line:col` where there is one), no identity text and no
// sealed value in any output, no request at all from a command that works offline and from
// a refusal that comes before the live state is read, no write request from any, and every
// file of the project (and of a directory outside it) byte-identical afterwards.

/// What a row's commands run in.
struct Bench<'a> {
    p: &'a Project,
    /// A directory outside the project, for paths that leave it.
    outside: &'a Path,
}

impl Bench<'_> {
    /// `text` with `{outside}` (the outside directory) and `{key}` (the project's identity
    /// line) filled in.
    fn fill(&self, text: &str) -> String {
        text.replace("{outside}", &self.outside.display().to_string())
            .replace("{key}", &self.p.identity_line())
    }

    /// Replaces the first `from` in the manifest with `to` (both filled in).
    fn edit(&self, from: &str, to: &str) {
        edit_manifest(self.p, &self.fill(from), &self.fill(to));
    }

    /// A sparse file of `len` bytes at `rel` (its size is in the metadata; nothing is
    /// written to disk).
    fn sparse(&self, rel: &str, len: u64) {
        let path = self.p.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::File::create(path).unwrap().set_len(len).unwrap();
    }

    /// A FIFO at `rel`; false when `mkfifo` is not available.
    fn fifo(&self, rel: &str) -> bool {
        std::process::Command::new("mkfifo")
            .arg(self.p.path(rel))
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Seals `plaintext` (any bytes) at `rel` to the project's recipients, or to a key
    /// nobody here holds (`foreign`), and remembers it as a value that must never show.
    fn seal_bytes(&self, rel: &str, plaintext: &[u8], foreign: bool) {
        let recipients = if foreign {
            let other = cfsecrets::values::Identities::generate();
            cfsecrets::values::Recipients::from_strings(&other.to_recipients()).unwrap()
        } else {
            cfsecrets::values::Recipients::from_file(&self.p.path(".age-recipients")).unwrap()
        };
        let sealed = cfsecrets::values::seal(plaintext, &recipients).unwrap();
        self.p.write(rel, "");
        std::fs::write(self.p.path(rel), sealed).unwrap();
        let text = String::from_utf8_lossy(plaintext).into_owned();
        if text.len() >= 8 {
            self.p.values.lock().unwrap().push(text);
        }
    }

    /// Runs the binary in the project for a row's setup; it must exit `code`.
    fn setup(&self, args: &[&str], identity: bool, code: i32) {
        let run = if identity {
            self.p.run(args)
        } else {
            self.p.run_without_identity(args)
        };
        run.expect(code);
    }

    /// Rewrites the saved plan `rel` through `change`.
    fn edit_plan(&self, rel: &str, change: impl FnOnce(&mut serde_json::Value)) {
        let mut plan: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.p.path(rel)).unwrap()).unwrap();
        change(&mut plan);
        self.p
            .write(rel, &serde_json::to_string_pretty(&plan).unwrap());
    }
}

/// One command line of a row.
#[derive(Clone)]
struct Line {
    args: Vec<String>,
    /// Fed on stdin (`secret set`); stdin is empty otherwise.
    stdin: Option<String>,
    /// Whether the project's identity is in the environment.
    identity: bool,
    env: Vec<(String, String)>,
}

impl Line {
    fn new(args: &[&str]) -> Self {
        Line {
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: None,
            identity: true,
            env: Vec::new(),
        }
    }

    /// The subcommand (global flags skipped).
    fn command(&self) -> &str {
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-f" | "--manifest" | "-i" | "--identity" => {
                    args.next();
                }
                "-q" | "--quiet" => {}
                other => return other,
            }
        }
        ""
    }

    /// The line with `--account LABEL` in place of the account it names.
    fn with_account(mut self, label: &str) -> Self {
        let at = self.args.iter().position(|a| a == "--account").unwrap();
        self.args[at + 1] = label.to_string();
        self
    }

    /// Whether the command works without the network: it may send no request at all.
    fn offline(&self) -> bool {
        !matches!(self.command(), "plan" | "apply" | "import")
    }
}

type Make = Box<dyn Fn(&Bench) -> bool + Send + Sync>;

/// One bad input.
struct Case {
    name: &'static str,
    /// Makes the bad input; false skips the row (a tool it needs is missing).
    make: Vec<Make>,
    lines: Vec<Line>,
    code: i32,
    /// Text each command's stderr must hold (`stdout:` first: its stdout), filled in.
    says: Vec<String>,
    /// The refusal comes after the live state was read (a saved plan compared with it, a
    /// problem of the plan): reads are allowed, writes still are not.
    reads: bool,
}

/// `check`, `plan` and `apply --auto-approve`.
fn readers() -> Vec<Line> {
    READERS.iter().map(|a| Line::new(a)).collect()
}

/// `check --decrypt`, `plan` and `apply --auto-approve`: the commands that unseal.
fn unsealers() -> Vec<Line> {
    [
        &["check", "--decrypt"][..],
        &["plan"],
        &["apply", "--auto-approve"],
    ]
    .iter()
    .map(|a| Line::new(a))
    .collect()
}

/// `secret set B --account production` with a value on stdin.
fn secret_set_line(extra: &[&str]) -> Line {
    let mut args = vec!["secret", "set"];
    args.extend_from_slice(extra);
    Line {
        stdin: Some(format!("{VALUE}\n")),
        identity: false,
        ..Line::new(&args)
    }
}

fn row(name: &'static str, code: i32, lines: Vec<Line>, says: &[&str]) -> Case {
    Case {
        name,
        make: Vec::new(),
        lines,
        code,
        says: says.iter().map(|s| s.to_string()).collect(),
        reads: false,
    }
}

impl Case {
    fn make(mut self, f: impl Fn(&Bench) + Send + Sync + 'static) -> Self {
        self.make.push(Box::new(move |b| {
            f(b);
            true
        }));
        self
    }

    /// A step that may skip the row (returns false when a tool is missing).
    fn make_or_skip(mut self, f: impl Fn(&Bench) -> bool + Send + Sync + 'static) -> Self {
        self.make.push(Box::new(f));
        self
    }

    fn edit(self, from: &'static str, to: &'static str) -> Self {
        self.make(move |b| b.edit(from, to))
    }

    /// Also runs `line`.
    fn and(mut self, line: Line) -> Self {
        self.lines.push(line);
        self
    }

    fn after_reads(mut self) -> Self {
        self.reads = true;
        self
    }
}

/// The line of `A` in the project's manifest (line 12).
const A_LINE: &str = "          A: { value: values/A.age }\n";

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(syntax_cases());
    cases.extend(structure_cases());
    cases.extend(secret_cases());
    cases.extend(path_cases());
    cases.extend(recipients_cases());
    cases.extend(value_cases());
    cases.extend(identity_cases());
    cases.extend(saved_plan_cases());
    cases.extend(flag_cases());
    cases.extend(secret_set_cases());
    cases.extend(import_env_cases());
    cases.extend(secret_rm_cases());
    cases.extend(wrangler_cases());
    cases.extend(wait_and_local_cases());
    cases
}

/// YAML that does not read: reported alone, at the place that causes it.
fn syntax_cases() -> Vec<Case> {
    vec![
        row("unclosed bracket", 1, readers(), &["cfsecrets.yaml:5:11: error: unclosed `[`"])
            .edit("  scopes: [workers]\n", "  scopes: [workers\n")
            .and(secret_set_line(&["B", "--account", "production"])),
        row("unclosed brace", 1, readers(), &["cfsecrets.yaml:5:11: error: unclosed `{`"])
            .edit("  scopes: [workers]", "  scopes: {workers"),
        row(
            "a tab in the indentation",
            1,
            readers(),
            &["cfsecrets.yaml:6:2: error: tabs disallowed within this context"],
        )
        .edit("  scopes: [workers]\n", "  scopes: [workers]\n\tbad: 1\n"),
        row(
            "a key indented one space short",
            1,
            readers(),
            &["cfsecrets.yaml:9:4: error: while parsing a block mapping, did not find expected key"],
        )
        .edit("    stores:", "   stores:"),
        row("a duplicate top-level key", 1, readers(), &["cfsecrets.yaml:2:1: error: duplicate key `version`"])
            .edit("version: 1\n", "version: 1\nversion: 1\n")
            .and(secret_set_line(&["B", "--account", "production"])),
        row("a duplicate secret", 1, readers(), &["cfsecrets.yaml:13:11: error: duplicate key `A`"])
            .edit(A_LINE, "          A: { value: values/A.age }\n          A: { value: keep }\n"),
        row(
            "nesting deeper than 16 levels",
            1,
            readers(),
            &["cfsecrets.yaml:4:19: error: the document is too large or too complex to read: nested more than 16 levels deep"],
        )
        .make(|b| b.edit("defaults:", &format!("x: {}{}\ndefaults:", "[".repeat(70), "]".repeat(70)))),
        // The reader stops at 250,000 nodes; `check` alone meets it here (reaching that
        // limit takes a debug build seconds), plan and apply share its loader (the rows
        // above), and `the_yaml_readers_limits_are_worded_not_dumped` runs them all on it.
        row(
            "an alias bomb",
            1,
            vec![Line::new(&["check"])],
            &["error: the document is too large or too complex to read: more than 250,000 values, lists and maps"],
        )
        .make(|b| {
            let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 1..6 {
                let refs = vec![format!("*a{}", i - 1); 10].join(", ");
                bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
            }
            b.edit("defaults:", &format!("{bomb}defaults:"));
        }),
        row("an alias to nothing", 1, readers(), &["cfsecrets.yaml:5:11: error: reference to unknown value"])
            .edit("  scopes: [workers]", "  scopes: *nowhere"),
        row(
            "a manifest that is not UTF-8",
            1,
            readers(),
            &["cfsecrets.yaml:7:8: error: cannot read the manifest: not valid UTF-8 (the first bad byte is here)"],
        )
        .make(|b| {
            let mut text = std::fs::read(b.p.path("cfsecrets.yaml")).unwrap();
            let at = text.windows(5).position(|w| w == b"produ").unwrap() + 5;
            text.insert(at, 0xe9);
            std::fs::write(b.p.path("cfsecrets.yaml"), text).unwrap();
        }),
        row("an empty manifest", 1, readers(), &["cfsecrets.yaml:1:1: error: unexpected end of file (is the manifest empty?)"]).make(|b| b.p.write("cfsecrets.yaml", "")),
        row("a manifest that is one word", 1, readers(), &["cfsecrets.yaml:1:1: error: wrong type: expected a map"])
            .make(|b| b.p.write("cfsecrets.yaml", "production\n")),
        row("a manifest that is a list", 1, readers(), &["cfsecrets.yaml:1:1: error: wrong type: expected a map"])
            .make(|b| b.p.write("cfsecrets.yaml", "- version: 1\n- accounts: {}\n")),
        row(
            "a manifest that does not exist",
            1,
            vec![Line::new(&["-f", "nope.yaml", "check"]), Line::new(&["-f", "nope.yaml", "plan"])],
            &["nope.yaml: error: cannot read the manifest: file not found"],
        ),
        row(
            "a manifest that is a directory",
            1,
            vec![Line::new(&["-f", "values", "check"]), Line::new(&["-f", "values", "apply", "--auto-approve"])],
            &["values: error: cannot read the manifest: it is a directory, not a file"],
        ),
        row(
            "a manifest over 4 MiB",
            1,
            vec![Line::new(&["-f", "huge.yaml", "check"]), Line::new(&["-f", "huge.yaml", "plan"])],
            &["huge.yaml: error: cannot read the manifest: it is too large (4,194,305 bytes; the limit is 4,194,304 bytes)"],
        )
        .make(|b| b.sparse("huge.yaml", (4 << 20) + 1)),
    ]
}

/// The manifest's keys, types and numbers: every problem at its own position.
fn structure_cases() -> Vec<Case> {
    let version = |name, to, says| row(name, 1, readers(), &[says]).edit("version: 1\n", to);
    vec![
        version("version 2", "version: 2\n", "cfsecrets.yaml:1:10: error: unsupported manifest version 2; this cfsecrets reads version 1"),
        version("no version", "", "cfsecrets.yaml:1:1: error: missing key `version`"),
        version("a version that is a word", "version: one\n", "cfsecrets.yaml:1:10: error: wrong type for `version`: expected an integer, found a string"),
        row("no recipients_file", 1, readers(), &["cfsecrets.yaml:1:1: error: missing key `recipients_file`"])
            .edit("recipients_file: .age-recipients\n", ""),
        row("no fingerprint_key", 1, readers(), &["cfsecrets.yaml:1:1: error: missing key `fingerprint_key`"])
            .edit("fingerprint_key: keys/fingerprint.age\n", ""),
        row("no accounts", 1, readers(), &["cfsecrets.yaml:1:1: error: missing key `accounts`"])
            .make(|b| b.p.write("cfsecrets.yaml", "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n")),
        row("no account in accounts", 1, readers(), &["cfsecrets.yaml:4:11: error: `accounts` is empty; declare at least one account"])
            .make(|b| b.p.write("cfsecrets.yaml", "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\naccounts: {}\n")),
        row("accounts as a list", 1, readers(), &["cfsecrets.yaml:7:3: error: wrong type for `accounts`: expected a map, found a list"])
            .edit("accounts:\n  production:", "accounts:\n  - production:"),
        row(
            "an unknown top-level key",
            1,
            readers(),
            &["cfsecrets.yaml:4:1: error: unknown key `recipient_file`; expected one of `version`, `recipients_file`, `fingerprint_key`, `defaults`, `safety`, `accounts`; did you mean `recipients_file`?"],
        )
        .edit("defaults:", "recipient_file: x\ndefaults:"),
        row("an unknown key in defaults", 1, readers(), &["cfsecrets.yaml:6:3: error: unknown key `comment`; expected one of `scopes`"])
            .edit("  scopes: [workers]", "  scopes: [workers]\n  comment: x"),
        row(
            "default scopes as a string",
            1,
            readers(),
            &["cfsecrets.yaml:5:11: error: wrong type for `scopes`: expected a list of scopes (e.g. `[workers]`), found a string"],
        )
        .edit("  scopes: [workers]", "  scopes: workers"),
        row(
            "an unknown default scope",
            1,
            readers(),
            &["cfsecrets.yaml:5:12: error: unknown scope `kv`; expected one of `access`, `ai_gateway`, `containers`, `dex`, `websearch`, `workers`"],
        )
        .edit("  scopes: [workers]", "  scopes: [kv]"),
        row(
            "no scopes anywhere",
            1,
            readers(),
            &["cfsecrets.yaml:10:11: error: secret `A` names no scopes and `defaults.scopes` is not set"],
        )
        .edit("defaults:\n  scopes: [workers]\n", ""),
        row(
            "a delete percentage over 100",
            1,
            readers(),
            &["cfsecrets.yaml:5:23: error: safety.max_delete_percent must be between 0 and 100, got 150"],
        )
        .edit("defaults:", "safety:\n  max_delete_percent: 150\ndefaults:"),
        row(
            "a negative delete limit",
            1,
            readers(),
            &["cfsecrets.yaml:5:16: error: safety.max_deletes must be between 0 and 4294967295, got -1"],
        )
        .edit("defaults:", "safety:\n  max_deletes: -1\ndefaults:"),
        row(
            "an unknown safety key",
            1,
            readers(),
            &["cfsecrets.yaml:5:3: error: unknown key `max_delets`; expected one of `max_deletes`, `max_delete_percent`, `min_existing`; did you mean `max_deletes`?"],
        )
        .edit("defaults:", "safety:\n  max_delets: 3\ndefaults:"),
        row(
            "a safety number that is a word",
            1,
            readers(),
            &["cfsecrets.yaml:5:17: error: wrong type for `min_existing`: expected an integer, found a string"],
        )
        .edit("defaults:", "safety:\n  min_existing: many\ndefaults:"),
        row(
            "a short account id",
            1,
            readers(),
            &["cfsecrets.yaml:8:17: error: account `production`: account id must be 32 lowercase hex characters, got 16 characters"],
        )
        .edit("account_id: 0123456789abcdef0123456789abcdef", "account_id: 0123456789abcdef"),
        row(
            "an uppercase account id",
            1,
            readers(),
            &["cfsecrets.yaml:8:17: error: account `production`: account id must be 32 lowercase hex characters"],
        )
        .edit("account_id: 0123456789abcdef0123456789abcdef", "account_id: 0123456789ABCDEF0123456789abcdef"),
        row(
            "two accounts with one id",
            1,
            readers(),
            &["cfsecrets.yaml:11:17: error: account `production` has the same account id as account `staging`"],
        )
        .edit(
            "  production:\n",
            "  staging:\n    account_id: 0123456789abcdef0123456789abcdef\n    stores: { main: { secrets: {} } }\n  production:\n",
        ),
        row(
            "an account label with a slash",
            1,
            readers(),
            &["cfsecrets.yaml:7:3: error: account label `prod/eu` must not contain `/` or `\\` or be `.` or `..`"],
        )
        .edit("  production:", "  prod/eu:"),
        row(
            "an account label `..`",
            1,
            readers(),
            &["cfsecrets.yaml:7:3: error: account label `..` must not contain `/` or `\\` or be `.` or `..`"],
        )
        .edit("  production:", "  \"..\":"),
        row("an account without stores", 1, readers(), &["cfsecrets.yaml:7:3: error: missing key `stores` in account `production`"])
            .make(|b| {
                let text = std::fs::read_to_string(b.p.path("cfsecrets.yaml")).unwrap();
                let cut = text.find("    stores:").unwrap();
                b.p.write("cfsecrets.yaml", &text[..cut]);
            }),
        row(
            "an unknown key in an account",
            1,
            readers(),
            &["cfsecrets.yaml:9:5: error: unknown key `store`; expected one of `account_id`, `stores`; did you mean `stores`?"],
        )
        .edit("    stores:", "    store:"),
        row(
            "an account without an id and no CLOUDFLARE_ACCOUNT_ID",
            1,
            readers(),
            &["cfsecrets.yaml:7:3: error: account `production` has no `account_id` and CLOUDFLARE_ACCOUNT_ID is not set"],
        )
        .edit("    account_id: 0123456789abcdef0123456789abcdef\n", ""),
        row(
            "a store name with a slash",
            1,
            readers(),
            &["cfsecrets.yaml:10:7: error: store name `ma/in` of account `production` must not contain `/` or `\\` or be `.` or `..`"],
        )
        .edit("      main:", "      ma/in:"),
        row(
            "a store with an empty body",
            1,
            readers(),
            &["cfsecrets.yaml:10:7: error: store `main` is empty; expected a map with `secrets` and optionally `prune`"],
        )
        .edit("      main:\n        secrets:\n          A: { value: values/A.age }\n", "      main:\n"),
        row(
            "a store without secrets",
            1,
            readers(),
            &["cfsecrets.yaml:10:7: error: missing key `secrets` in store `main` of account `production`"],
        )
        .edit("        secrets:\n          A: { value: values/A.age }\n", "        prune: owned\n"),
        row("an unknown prune mode", 1, readers(), &["cfsecrets.yaml:11:16: error: unknown value `some`; expected one of `owned`, `all`, `none`"])
            .edit("        secrets:", "        prune: some\n        secrets:"),
        row("an unknown key in a store", 1, readers(), &["cfsecrets.yaml:11:9: error: unknown key `purne`; expected one of `prune`, `secrets`"])
            .edit("        secrets:", "        purne: all\n        secrets:"),
        row("stores as a list", 1, readers(), &["cfsecrets.yaml:10:7: error: wrong type for `stores`: expected a map, found a list"])
            .edit("      main:", "      - main:"),
        row("secrets as a list", 1, readers(), &["cfsecrets.yaml:12:11: error: wrong type for `secrets`: expected a map, found a list"])
            .edit(A_LINE, "          - A\n"),
    ]
}

/// One secret's entry: names, scopes, values, renames.
fn secret_cases() -> Vec<Case> {
    let secret = |name, entry, says| row(name, 1, readers(), &[says]).edit(A_LINE, entry);
    vec![
        secret(
            "a secret name with a space",
            "          A: { value: values/A.age }\n          \"B C\": { value: values/A.age }\n",
            "cfsecrets.yaml:13:11: error: invalid secret name `B C`: secret name may contain only letters, digits, '-' and '_' (found ' ')",
        ),
        row("a secret name of 256 characters", 1, readers(), &["cfsecrets.yaml:13:11: error: invalid secret name `NNNN", "secret name is 256 characters long; the limit is 255"])
            .make(|b| b.edit(A_LINE, &format!("{A_LINE}          {}: {{ value: values/A.age }}\n", "N".repeat(256)))),
        secret(
            "an unknown key in a secret",
            "          A: { value: values/A.age, scope: [workers] }\n",
            "cfsecrets.yaml:12:37: error: unknown key `scope`; expected one of `value`, `scopes`, `comment`, `protect`, `renamed_from`, `ensure`; did you mean `scopes`?",
        ),
        secret(
            "scopes as a string",
            "          A: { value: values/A.age, scopes: workers }\n",
            "cfsecrets.yaml:12:45: error: wrong type for `scopes`: expected a list of scopes (e.g. `[workers]`), found a string",
        ),
        secret(
            "an unknown scope",
            "          A: { value: values/A.age, scopes: [ai-gateway] }\n",
            "cfsecrets.yaml:12:46: error: unknown scope `ai-gateway`; did you mean `ai_gateway`?",
        ),
        secret(
            "a scope listed twice",
            "          A: { value: values/A.age, scopes: [workers, workers] }\n",
            "cfsecrets.yaml:12:55: error: scope `workers` is listed twice in secret `A`",
        ),
        secret(
            "an empty scope list",
            "          A: { value: values/A.age, scopes: [] }\n",
            "cfsecrets.yaml:12:45: error: secret `A` has an empty scope list",
        ),
        secret(
            "no value",
            "          A: { comment: x }\n",
            "cfsecrets.yaml:12:11: error: secret `A` has no `value`; give a sealed file path, `keep`, or `{ bundle, key }`",
        ),
        row(
            "a plaintext value pasted into the manifest",
            1,
            readers(),
            &["cfsecrets.yaml:12:23: error: `value` of secret `A` must be a sealed file ending in `.age`, `keep`, or `{ bundle, key }`; the text given is not shown in case it is a secret"],
        )
        .make(|b| {
            b.edit(A_LINE, "          A: { value: sk_live_pasted_7f3a9c2e }\n");
            b.p.values.lock().unwrap().push("sk_live_pasted_7f3a9c2e".into());
        }),
        secret(
            "a value path not ending in .age",
            "          A: { value: values/A.txt }\n",
            "cfsecrets.yaml:12:23: error: `value` of secret `A` must be a sealed file ending in `.age`, `keep`, or `{ bundle, key }`",
        ),
        secret(
            "a value that is a number",
            "          A: { value: 12 }\n",
            "cfsecrets.yaml:12:23: error: wrong type for `value`: expected a file path, `keep`, or a map `{ bundle, key }`, found an integer",
        ),
        secret(
            "a bundle without a key",
            "          A: { value: { bundle: values/A.env.age } }\n",
            "cfsecrets.yaml:12:23: error: missing key `key` in the bundle value",
        ),
        secret(
            "a bundle of an unknown format",
            "          A: { value: { bundle: values/A.txt.age, key: A } }\n",
            "cfsecrets.yaml:12:23: error: bundle `values/A.txt.age` of secret `A` must end in .env.age, .yaml.age or .yml.age",
        ),
        secret(
            "an unknown key in a bundle value",
            "          A: { value: { bundle: values/A.env.age, key: A, format: env } }\n",
            "cfsecrets.yaml:12:59: error: unknown key `format`; expected one of `bundle`, `key`",
        ),
        secret(
            "protect that is a word",
            "          A: { value: values/A.age, protect: maybe }\n",
            "cfsecrets.yaml:12:46: error: wrong type for `protect`: expected `true` or `false`, found a string",
        ),
        secret(
            "an unknown ensure",
            "          A: { value: values/A.age, ensure: gone }\n",
            "cfsecrets.yaml:12:45: error: unknown value `gone`; expected one of `present`, `absent`",
        ),
        secret(
            "ensure: absent with a value",
            "          A: { value: values/A.age, ensure: absent }\n",
            "cfsecrets.yaml:12:45: error: secret `A` has `ensure: absent`, which allows no other key (found `value`)",
        ),
        secret(
            "a comment that is a map",
            "          A: { value: values/A.age, comment: { a: b } }\n",
            "cfsecrets.yaml:12:46: error: wrong type for `comment`: expected a string, found a map",
        ),
        secret(
            "a secret that is a list",
            "          A: [values/A.age]\n",
            "cfsecrets.yaml:12:14: error: wrong type for secret `A`: expected a map such as `{ value: … }`, found a list",
        ),
        secret(
            "a secret with nothing after it",
            "          A:\n",
            "cfsecrets.yaml:12:11: error: secret `A` is empty; expected a map such as `{ value: … }`",
        ),
        secret(
            "a rename from a declared name",
            "          A: { value: values/A.age }\n          B: { renamed_from: A, value: values/A.age }\n",
            "cfsecrets.yaml:13:30: error: secret `B` is renamed from `A`, which is also declared in this store",
        ),
        secret(
            "two renames from one name",
            "          A: { value: values/A.age }\n          B: { renamed_from: OLD, value: values/A.age }\n          C: { renamed_from: OLD, value: values/A.age }\n",
            "cfsecrets.yaml:14:30: error: secrets `B` and `C` are both renamed from `OLD`",
        ),
        secret(
            "a chain of renames",
            "          A: { value: values/A.age }\n          B: { renamed_from: C, value: values/A.age }\n          D: { renamed_from: B, value: values/A.age }\n",
            "cfsecrets.yaml:14:30: error: secret `D` is renamed from `B`, which is itself renamed from `C`; renames cannot chain",
        ),
        secret(
            "a rename from itself",
            "          A: { value: values/A.age, renamed_from: A }\n",
            "cfsecrets.yaml:12:51: error: secret `A` is renamed from itself",
        ),
        secret(
            "a rename from an invalid name",
            "          A: { value: values/A.age, renamed_from: \"o ld\" }\n",
            "cfsecrets.yaml:12:51: error: secret `A` is renamed from an invalid name `o ld`",
        ),
    ]
}

/// `check`, `plan`, `apply --auto-approve` and `reseal --force`.
fn readers_and_reseal() -> Vec<Line> {
    READERS_AND_RESEAL.iter().map(|a| Line::new(a)).collect()
}

/// Files the manifest names: inside the project, regular, within their limits.
fn path_cases() -> Vec<Case> {
    let b_line = |path: &'static str| {
        move |b: &Bench| {
            b.edit(
                A_LINE,
                &format!("{A_LINE}          B: {{ value: {path} }}\n"),
            )
        }
    };
    let bundle_line = |path: &'static str| {
        move |b: &Bench| {
            b.edit(
                A_LINE,
                &format!("{A_LINE}          B: {{ value: {{ bundle: {path}, key: B }} }}\n"),
            )
        }
    };
    let header = |key: &'static str, from: &'static str, to: &'static str| {
        move |b: &Bench| b.edit(&format!("{key}: {from}"), &format!("{key}: {to}"))
    };
    let mut cases = vec![
        row(
            "an absolute value path",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `{outside}/far.age` of secret `B` must be a path relative to the manifest's directory"],
        )
        .make(|b| {
            // It exists and opens with the project's identity: only the rule refuses it.
            let recipients = cfsecrets::values::Recipients::from_file(&b.p.path(".age-recipients")).unwrap();
            let sealed = cfsecrets::values::seal(VALUE.as_bytes(), &recipients).unwrap();
            std::fs::write(b.outside.join("far.age"), sealed).unwrap();
        })
        .make(b_line("{outside}/far.age")),
        row(
            "a value path that climbs out",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `../c.age` of secret `B` climbs out of the manifest's directory (`..`)"],
        )
        .make(b_line("../c.age")),
        row(
            "a bundle path that climbs out",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: bundle file `values/../../d.env.age` of secret `B` climbs out of the manifest's directory (`..`)"],
        )
        .make(bundle_line("values/../../d.env.age")),
        row(
            "a value file that does not exist",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `values/nope.age` of secret `B` does not exist"],
        )
        .make(b_line("values/nope.age")),
        row(
            "a directory where a value file belongs",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `values/dir.age` of secret `B` is a directory, not a file"],
        )
        .make(|b| std::fs::create_dir_all(b.p.path("values/dir.age")).unwrap())
        .make(b_line("values/dir.age")),
        row(
            "a value file over 1 MiB",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `values/huge.age` of secret `B` is too large (1,048,577 bytes; the limit is 1,048,576 bytes)"],
        )
        .make(|b| b.sparse("values/huge.age", (1 << 20) + 1))
        .make(b_line("values/huge.age")),
        row(
            "a bundle over 16 MiB",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: bundle file `values/huge.env.age` of secret `B` is too large (16,777,217 bytes; the limit is 16,777,216 bytes)"],
        )
        .make(|b| b.sparse("values/huge.env.age", (16 << 20) + 1))
        .make(bundle_line("values/huge.env.age")),
        row(
            "an absolute recipients path",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:2:18: error: recipients file `{outside}/r` must be a path relative to the manifest's directory"],
        )
        .make(|b| std::fs::copy(b.p.path(".age-recipients"), b.outside.join("r")).map(drop).unwrap())
        .make(header("recipients_file", ".age-recipients", "{outside}/r")),
        row("a recipients file that does not exist", 1, readers_and_reseal(), &["cfsecrets.yaml:2:18: error: recipients file `nope` does not exist"])
            .make(header("recipients_file", ".age-recipients", "nope")),
        row(
            "a directory where the recipients file belongs",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:2:18: error: recipients file `values` is a directory, not a file"],
        )
        .make(header("recipients_file", ".age-recipients", "values")),
        row(
            "a recipients file over 1 MiB",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:2:18: error: recipients file `big-recipients` is too large (1,048,577 bytes; the limit is 1,048,576 bytes)"],
        )
        .make(|b| b.sparse("big-recipients", (1 << 20) + 1))
        .make(header("recipients_file", ".age-recipients", "big-recipients")),
        row(
            "a fingerprint key path that climbs out",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:3:18: error: fingerprint key file `../fp.age` climbs out of the manifest's directory (`..`)"],
        )
        .make(header("fingerprint_key", "keys/fingerprint.age", "../fp.age")),
        row(
            "a fingerprint key that does not exist",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:3:18: error: fingerprint key file `keys/nope.age` does not exist"],
        )
        .make(header("fingerprint_key", "keys/fingerprint.age", "keys/nope.age")),
        row(
            "a directory where the fingerprint key belongs",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:3:18: error: fingerprint key file `keys` is a directory, not a file"],
        )
        .make(header("fingerprint_key", "keys/fingerprint.age", "keys")),
    ];
    #[cfg(unix)]
    cases.extend([
        row(
            "a FIFO where a value file belongs",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `values/pipe.age` of secret `B` is a FIFO (named pipe), not a file"],
        )
        .make_or_skip(|b| b.fifo("values/pipe.age"))
        .make(b_line("values/pipe.age")),
        row(
            "a value file linked out of the project",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:13:23: error: value file `values/link/x.age` of secret `B` resolves outside the manifest's directory (through a symbolic link)"],
        )
        .make(|b| {
            b.seal_bytes("values/x.age", b"linked-out-value-4b1d", false);
            std::fs::rename(b.p.path("values/x.age"), b.outside.join("x.age")).unwrap();
            std::os::unix::fs::symlink(b.outside, b.p.path("values/link")).unwrap();
        })
        .make(b_line("values/link/x.age")),
        row(
            "a recipients file linked out of the project",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:2:18: error: recipients file `linked` resolves outside the manifest's directory (through a symbolic link)"],
        )
        .make(|b| {
            std::fs::copy(b.p.path(".age-recipients"), b.outside.join("r")).unwrap();
            std::os::unix::fs::symlink(b.outside.join("r"), b.p.path("linked")).unwrap();
        })
        .make(header("recipients_file", ".age-recipients", "linked")),
        row(
            "a fingerprint key linked out of the project",
            1,
            readers_and_reseal(),
            &["cfsecrets.yaml:3:18: error: fingerprint key file `keys/fp.age` resolves outside the manifest's directory (through a symbolic link)"],
        )
        .make(|b| {
            std::fs::copy(b.p.path("keys/fingerprint.age"), b.outside.join("fp.age")).unwrap();
            std::os::unix::fs::symlink(b.outside.join("fp.age"), b.p.path("keys/fp.age")).unwrap();
        })
        .make(header("fingerprint_key", "keys/fingerprint.age", "keys/fp.age")),
    ]);
    cases
}

/// The recipients file's lines: `check` refuses them, and so does every command before it
/// reads anything else (invariant 6).
fn recipients_cases() -> Vec<Case> {
    let lines = || {
        let mut lines = readers_and_reseal();
        lines.push(secret_set_line(&["B", "--account", "production"]));
        lines
    };
    let append = |line: &'static str| {
        move |b: &Bench| {
            let text = std::fs::read_to_string(b.p.path(".age-recipients")).unwrap();
            b.p.write(".age-recipients", &format!("{text}{}\n", b.fill(line)));
        }
    };
    vec![
        row(
            "a garbage line in the recipients file",
            1,
            lines(),
            &[".age-recipients:4: not an age x25519 recipient"],
        )
        .make(append("garbage-not-a-key")),
        row(
            "a private key in the recipients file",
            1,
            lines(),
            &[".age-recipients:4: this is a private key, not a recipient"],
        )
        .make(append("{key}")),
        row(
            "a comment after a key",
            1,
            lines(),
            &[".age-recipients:4: put comments on their own line (as `age -R` requires)"],
        )
        .make(|b| {
            let text = std::fs::read_to_string(b.p.path(".age-recipients")).unwrap();
            let key = text.lines().find(|l| l.starts_with("age1")).unwrap().to_string();
            b.p.write(".age-recipients", &format!("{text}{key} # mine\n"));
        }),
        row(
            "an ssh key in the recipients file",
            1,
            lines(),
            &[".age-recipients:4: ssh recipients are not supported; use an age1… key"],
        )
        .make(append("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc me@host")),
        row(
            "a binary recipients file",
            1,
            lines(),
            &[".age-recipients: not a text file (it holds binary data); list one age1… public key per line"],
        )
        .make(|b| std::fs::write(b.p.path(".age-recipients"), b"\x00\x01age\xff").unwrap()),
        row(
            "a recipients file without a recipient",
            1,
            lines(),
            &[".age-recipients: lists no recipient; add at least one age1… public key"],
        )
        .make(|b| b.p.write(".age-recipients", "# nobody\n")),
    ]
}

/// What the sealed files hold: every problem, never the value.
fn value_cases() -> Vec<Case> {
    let b_bundle = |path: &'static str| {
        move |b: &Bench| {
            b.edit(
                A_LINE,
                &format!("{A_LINE}          B: {{ value: {{ bundle: {path}, key: B }} }}\n"),
            )
        }
    };
    vec![
        row(
            "a value file that is not an age file",
            1,
            unsealers(),
            &["error: production/main/A: ./values/A.age: cannot decrypt: not an age file (or a damaged one)"],
        )
        .make(|b| b.p.write("values/A.age", "not-sealed-value-0c2f\n")),
        row(
            "a value sealed to someone else",
            1,
            unsealers(),
            &["error: production/main/A: ./values/A.age: cannot decrypt: no identity matches any recipient of this file"],
        )
        .make(|b| b.seal_bytes("values/A.age", b"foreign-sealed-value-77e1", true)),
        row("an empty value", 1, unsealers(), &["error: production/main/A: ./values/A.age: value is empty"])
            .make(|b| b.seal_bytes("values/A.age", b"", false)),
        row("a value that is not UTF-8", 1, unsealers(), &["error: production/main/A: ./values/A.age: value is not valid UTF-8"])
            .make(|b| b.seal_bytes("values/A.age", b"latin1-value-caf\xe9-0d", false)),
        row(
            "a bundle without the key",
            1,
            unsealers(),
            &["error: production/main/B: ./values/b.env.age (key B): key not found in the bundle"],
        )
        .make(|b| b.seal_bytes("values/b.env.age", b"C=bundled-value-c-91aa\n", false))
        .make(b_bundle("values/b.env.age")),
        row(
            "a dotenv bundle that does not parse",
            1,
            unsealers(),
            &["error: production/main/B: ./values/b.env.age (key B): bundle does not parse: line 2: expected KEY=value"],
        )
        .make(|b| b.seal_bytes("values/b.env.age", b"B=bundled-value-b-52de\nno-equals-sign-value-1f\n", false))
        .make(b_bundle("values/b.env.age")),
        row(
            "a YAML bundle that is not flat",
            1,
            unsealers(),
            &["error: production/main/B: ./values/b.yaml.age (key B): bundle does not parse: line 1: a list where a string belongs"],
        )
        .make(|b| b.seal_bytes("values/b.yaml.age", b"B: [listed-value-a6a6]\n", false))
        .make(b_bundle("values/b.yaml.age")),
        row(
            "a fingerprint key that is not an age file",
            1,
            unsealers(),
            &["keys/fingerprint.age", "not an age file (or a damaged one)"],
        )
        .make(|b| b.p.write("keys/fingerprint.age", "not sealed\n")),
        row(
            "a fingerprint key that is not 64 hex characters",
            1,
            unsealers(),
            &["keys/fingerprint.age", "64 hex characters (32 bytes)"],
        )
        .make(|b| b.seal_bytes("keys/fingerprint.age", b"zz-not-hex-key-text", false)),
        row(
            "a fingerprint key sealed to someone else",
            1,
            unsealers(),
            &["keys/fingerprint.age", "no identity matches any recipient of this file"],
        )
        .make(|b| b.seal_bytes("keys/fingerprint.age", "ab".repeat(32).as_bytes(), true)),
        row(
            "a value over 65,536 bytes",
            1,
            vec![Line::new(&["plan"]), Line::new(&["apply", "--auto-approve"])],
            &["stdout:! problem: production/main/B: the value of B is 65,537 bytes; the API's limit is 65,536 bytes"],
        )
        .make(|b| b.seal_bytes("values/B.age", "oversize-value-".repeat(4370).as_bytes()[..65_537].to_vec().as_slice(), false))
        .make(|b| b.edit(A_LINE, &format!("{A_LINE}          B: {{ value: values/B.age }}\n")))
        .after_reads(),
        row(
            "a value over 65,536 bytes, checked offline",
            1,
            vec![Line::new(&["check", "--decrypt"])],
            &["error: production/main/B: ./values/B.age: value is 65537 bytes; the limit is 65536"],
        )
        .make(|b| b.seal_bytes("values/B.age", "oversize-value-".repeat(4370).as_bytes()[..65_537].to_vec().as_slice(), false))
        .make(|b| b.edit(A_LINE, &format!("{A_LINE}          B: {{ value: values/B.age }}\n"))),
        row(
            "two files reseal cannot decrypt",
            1,
            vec![Line::new(&["reseal", "--force"])],
            &[
                "error: values/A.age: cannot decrypt: no identity matches any recipient of this file\n\
                 error: values/B.age: cannot decrypt: no identity matches any recipient of this file\n\
                 error: reseal failed: 2 of 3 files could not be read or decrypted; nothing was written",
            ],
        )
        .make(|b| b.seal_bytes("values/A.age", b"foreign-sealed-value-a-19", true))
        .make(|b| b.seal_bytes("values/B.age", b"foreign-sealed-value-b-28", true))
        .make(|b| b.edit(A_LINE, &format!("{A_LINE}          B: {{ value: values/B.age }}\n"))),
    ]
}

/// Identities from `-i` and the environment.
fn identity_cases() -> Vec<Case> {
    let with = |global: &[&str]| -> Vec<Line> {
        [
            &["check", "--decrypt"][..],
            &["plan"],
            &["apply", "--auto-approve"],
            &["reseal"],
        ]
        .iter()
        .map(|args| {
            let mut all: Vec<&str> = global.to_vec();
            all.extend_from_slice(args);
            Line {
                identity: false,
                ..Line::new(&all)
            }
        })
        .collect()
    };
    let env = |name: &str, value: &str| -> Vec<Line> {
        with(&[])
            .into_iter()
            .map(|line| Line {
                env: vec![(name.to_string(), value.to_string())],
                ..line
            })
            .collect()
    };
    vec![
        row(
            "an identity file that does not exist",
            1,
            with(&["-i", "nope.key"]),
            &["error: cannot read identity file nope.key (from -i/--identity)"],
        ),
        row(
            "an identity path that is a directory",
            1,
            with(&["-i", "values"]),
            &["error: values is a directory, not a file"],
        ),
        row(
            "an identity file that holds no identity",
            1,
            with(&["-i", "cfsecrets.yaml"]),
            &["error: cfsecrets.yaml:1: not an age identity (expected AGE-SECRET-KEY-1…)"],
        ),
        row(
            "an identity given where its path belongs",
            64,
            with(&["-i", "{key}"]),
            &[
                "error: --identity: this is a private key (AGE-SECRET-KEY-…), not a path; it was not used",
            ],
        ),
        row(
            "CFSECRETS_AGE_KEY that is not an identity",
            1,
            env("CFSECRETS_AGE_KEY", "garbage-identity-text"),
            &["error: CFSECRETS_AGE_KEY:1: not an age identity (expected AGE-SECRET-KEY-1…)"],
        ),
        row(
            "CFSECRETS_AGE_KEY_FILE that holds the key itself",
            64,
            env("CFSECRETS_AGE_KEY_FILE", "{key}"),
            &[
                "error: CFSECRETS_AGE_KEY_FILE holds what looks like a private key (AGE-SECRET-KEY-…), not a path or URL; it was not used",
            ],
        ),
        row(
            "CFSECRETS_AGE_KEY_FILE naming nothing",
            1,
            env("CFSECRETS_AGE_KEY_FILE", "{outside}/nope.key"),
            &["error: cannot read identity file {outside}/nope.key (from CFSECRETS_AGE_KEY_FILE)"],
        ),
        row(
            "no identity for a command that must decrypt",
            64,
            vec![
                Line {
                    identity: false,
                    ..Line::new(&["check", "--decrypt"])
                },
                Line {
                    identity: false,
                    ..Line::new(&["apply", "--auto-approve"])
                },
                Line {
                    identity: false,
                    ..Line::new(&["reseal"])
                },
            ],
            &[
                "needs an identity",
                ": pass -i FILE or set CFSECRETS_AGE_KEY or CFSECRETS_AGE_KEY_FILE",
            ],
        ),
    ]
}

/// Saves a plan of the project (A to create) at `p.json`, with the identity.
fn saved(b: &Bench) {
    b.setup(&["plan", "--out", "p.json"], true, 0);
}

/// Saved plans: read within bounds, refused when they do not hold, naming the file.
fn saved_plan_cases() -> Vec<Case> {
    let apply = || vec![Line::new(&["apply", "p.json"])];
    let mut cases = vec![
        row(
            "a saved plan whose value fingerprint was edited",
            1,
            apply(),
            &["error: p.json: the saved plan differs from a plan made now from the same inputs, first at account `production`, store `main`, secret `A`: its value differs (fingerprint 00000000 in the saved plan, "],
        )
        .make(saved)
        .make(|b| {
            b.edit_plan("p.json", |plan| {
                plan["accounts"][0]["actions"][1]["secrets"][0]["value"]["new"] = "0000000000000000".into();
            })
        })
        .after_reads(),
        row(
            "a saved plan whose account id was edited",
            1,
            apply(),
            &["error: p.json: the saved plan differs from a plan made now from the same inputs, first at account `production`: its account id is fedcba9876543210fedcba9876543210 in the saved plan, 0123456789abcdef0123456789abcdef now"],
        )
        .make(saved)
        .make(|b| {
            b.edit_plan("p.json", |plan| {
                plan["accounts"][0]["account_id"] = "fedcba9876543210fedcba9876543210".into();
            })
        })
        .after_reads(),
        row(
            "a saved plan with an action removed",
            1,
            apply(),
            &["error: p.json: the saved plan differs from a plan made now from the same inputs, first at account `production`, store `main`, secret `A`: a plan made now has this batch create as action 2; the saved plan does not"],
        )
        .make(saved)
        .make(|b| {
            b.edit_plan("p.json", |plan| {
                plan["accounts"][0]["actions"].as_array_mut().unwrap().pop();
            })
        })
        .after_reads(),
        row(
            "a saved plan whose inputs moved",
            1,
            apply(),
            &["error: p.json: the saved plan is stale: manifest changed since it was made; run `cfsecrets plan` again"],
        )
        .make(saved)
        .edit(A_LINE, "          A: { value: values/A.age, comment: edited after the plan }\n")
        .after_reads(),
        row("a saved plan that is not JSON", 1, apply(), &["error: p.json is not a plan saved by `cfsecrets plan --out` (line 1, column 2)"])
            .make(|b| b.p.write("p.json", "not json\n")),
        row(
            "a saved plan without a digest",
            1,
            apply(),
            &["error: p.json has no digest of its inputs; save plans with `cfsecrets plan --out FILE`"],
        )
        .make(saved)
        .make(|b| {
            b.edit_plan("p.json", |plan| {
                plan.as_object_mut().unwrap().remove("digest");
            })
        }),
        row(
            "a saved plan of another format version",
            1,
            apply(),
            &["error: refusing to apply p.json\n", "plan format version 99 is not supported (expected 1)"],
        )
        .make(saved)
        .make(|b| b.edit_plan("p.json", |plan| plan["format_version"] = 99.into())),
        row(
            "a saved plan made without an identity",
            1,
            apply(),
            &["error: refusing to apply p.json\n", "the plan was made without an identity: values were not compared, so it cannot be applied"],
        )
        .make(|b| b.setup(&["plan", "--out", "p.json"], false, 0)),
        row("a saved plan that does not exist", 1, apply(), &["error: cannot read the plan file p.json: file not found"]),
        row(
            "a saved plan that is a directory",
            1,
            apply(),
            &["error: cannot read the plan file p.json: it is a directory, not a file"],
        )
        .make(|b| std::fs::create_dir(b.p.path("p.json")).unwrap()),
        row(
            "a saved plan over 64 MiB",
            1,
            apply(),
            &["error: cannot read the plan file p.json: it is too large (67,108,865 bytes; the limit is 67,108,864 bytes)"],
        )
        .make(|b| b.sparse("p.json", (64 << 20) + 1)),
    ];
    #[cfg(unix)]
    cases.push(
        row(
            "a saved plan that is a FIFO",
            1,
            apply(),
            &["error: cannot read the plan file p.json: it is a FIFO (named pipe), not a file"],
        )
        .make_or_skip(|b| b.fifo("p.json")),
    );
    cases
}

/// Flags and arguments: refused before anything is read or sent.
fn flag_cases() -> Vec<Case> {
    let one = |args: &[&str]| vec![Line::new(args)];
    let out =
        |name, target: &'static str, says| row(name, 1, one(&["plan", "--out", target]), &[says]);
    vec![
        row(
            "apply without a terminal, --auto-approve or a plan file",
            64,
            one(&["apply"]),
            &["error: not on a terminal: pass --auto-approve, or apply a plan saved by `cfsecrets plan --out FILE` with `cfsecrets apply FILE`"],
        ),
        row("--parallelism 0", 64, one(&["apply", "--auto-approve", "--parallelism", "0"]), &["error: --parallelism: must be at least 1"]),
        row("--rate-limit 0", 64, one(&["plan", "--rate-limit", "0"]), &["error: --rate-limit: must be at least 1"]),
        row("an unknown --format", 64, one(&["plan", "--format", "yaml"]), &["error: invalid value 'yaml' for '--format <FORMAT>'"]),
        row("an unknown flag", 64, one(&["apply", "--yes"]), &["error: unexpected argument '--yes' found"]),
        row("a negative --allow-deletes", 64, one(&["apply", "--allow-deletes", "-1"]), &["error: unexpected argument '-1' found"]),
        row(
            "an identity given as the manifest path",
            64,
            one(&["-f", "{key}", "check"]),
            &["error: --manifest: this is a private key (AGE-SECRET-KEY-…), not a path; it was not used"],
        ),
        row(
            "an identity given as the --out path",
            64,
            one(&["plan", "--out", "{key}"]),
            &["error: --out: this is a private key (AGE-SECRET-KEY-…), not a path; it was not used"],
        ),
        row(
            "an identity given as the plan file",
            64,
            one(&["apply", "{key}"]),
            &["error: this is a private key (AGE-SECRET-KEY-…), not a path; it was not used"],
        ),
        out("--out into a directory that does not exist", "nodir/p.json", "error: cannot write --out nodir/p.json: the directory nodir does not exist"),
        out(
            "--out onto the manifest",
            "cfsecrets.yaml",
            "error: refusing to overwrite cfsecrets.yaml: it exists and is not a plan saved by `cfsecrets plan --out`; choose another --out path",
        ),
        out("--out onto the identity", "me.key", "error: refusing to overwrite me.key: it exists and is not a plan saved by `cfsecrets plan --out`"),
        out("--out onto a directory", "values", "error: cannot check --out values: it is a directory, not a file"),
        out("--out onto a file larger than any plan", "big.json", "error: refusing to overwrite big.json: it exists and is not a plan saved by `cfsecrets plan --out`")
            .make(|b| b.sparse("big.json", (64 << 20) + 1)),
        row(
            "an emulator state file that is not JSON",
            1,
            one(&["emulator", "--listen", "127.0.0.1:0", "--state", "state.json"]),
            &["error: cannot start the emulator", "emulator state state.json is not valid (line 1, column 2)"],
        )
        .make(|b| b.p.write("state.json", "not json\n")),
        row(
            "an emulator state file over 256 MiB",
            1,
            one(&["emulator", "--listen", "127.0.0.1:0", "--state", "state.json"]),
            &["cannot read emulator state: state.json is too large (268,435,457 bytes; the limit is 268,435,456 bytes)"],
        )
        .make(|b| b.sparse("state.json", (256 << 20) + 1)),
        row(
            "an emulator state path that is a directory",
            1,
            one(&["emulator", "--listen", "127.0.0.1:0", "--state", "values"]),
            &["cannot read emulator state: values is a directory, not a file"],
        ),
    ]
}

/// `secret set`: every check before the value is read and before anything is written.
fn secret_set_cases() -> Vec<Case> {
    let set = |extra: &[&str]| vec![secret_set_line(extra)];
    vec![
        row("secret set with an invalid name", 64, set(&["B C", "--account", "production"]), &["error: invalid secret name: secret name may contain only letters, digits, '-' and '_' (found ' ')"]),
        row("secret set for an unknown account", 64, set(&["B", "--account", "staging"]), &["error: no account \"staging\" in cfsecrets.yaml (accounts: production)"]),
        row("secret set with an unknown scope", 64, set(&["B", "--account", "production", "--scopes", "kv"]), &["error: --scopes: unknown scope `kv`; expected one of"]),
        row(
            "secret set with the value as an argument",
            64,
            set(&["B", "--account", "production", "pasted-value-argument-91"]),
            &["error: `secret set` takes the value from stdin or a hidden prompt, never from arguments"],
        )
        .make(|b| b.p.values.lock().unwrap().push("pasted-value-argument-91".into())),
        row(
            "secret set with an empty value",
            1,
            vec![Line {
                stdin: Some(String::new()),
                ..secret_set_line(&["B", "--account", "production"])
            }],
            &["error: the value for B is empty; nothing was written"],
        ),
        row(
            "secret set whose edit collides with a rename",
            1,
            set(&["OLD", "--account", "production"]),
            &[
                "cfsecrets.yaml:13:30: error: secret `B` is renamed from `OLD`, which is also declared in this store",
                "error: refused: the edit would add 1 problem to cfsecrets.yaml; nothing was written",
            ],
        )
        .edit(A_LINE, "          A: { value: values/A.age }\n          B: { renamed_from: OLD, value: keep }\n"),
    ]
}

/// `secret import-env FILE --account production` and `extra`.
fn import_env(file: &str, extra: &[&str]) -> Vec<Line> {
    let mut args = vec!["secret", "import-env", file, "--account", "production"];
    args.extend_from_slice(extra);
    vec![Line {
        identity: false,
        ..Line::new(&args)
    }]
}

/// `secret import-env`: every line of the dotenv file judged, and every refusal made,
/// before anything is sealed or written.
fn import_env_cases() -> Vec<Case> {
    let dotenv =
        |rel: &'static str, text: &'static str| move |b: &Bench| b.p.write(rel, &b.fill(text));
    vec![
        row(
            "import-env with a duplicate key",
            1,
            import_env("dup.env", &[]),
            &["dup.env:3: error: duplicate key B", "\nerror: refused: 1 line in dup.env; nothing was written\n"],
        )
        .make(dotenv("dup.env", "B=import-env-canary-1\nC=import-env-canary-2\nB=import-env-canary-3\n"))
        .make(|b| b.p.values.lock().unwrap().extend(["import-env-canary-1".into(), "import-env-canary-3".into()])),
        row(
            "import-env with an empty value",
            1,
            import_env("empty.env", &[]),
            &["empty.env:2: error: the value is empty (cfsecrets, like wrangler, never stores an empty secret): give it a value or remove the line"],
        )
        .make(dotenv("empty.env", "B=import-env-canary-4\nC=\n")),
        row(
            "import-env with keys the API refuses as names",
            1,
            import_env("names.env", &[]),
            &[
                "names.env:1: error: the key is not a secret name the API accepts: secret name may contain only letters, digits, '-' and '_' (found '.')",
                "names.env:2: error: invalid key (letters, digits, '_', '-', '.')",
                "\nerror: refused: 2 lines in names.env; nothing was written\n",
            ],
        )
        .make(dotenv("names.env", "has.dot=import-env-canary-5\nbad key=import-env-canary-6\nGOOD=import-env-canary-7\n")),
        row(
            "import-env with keys that are secrets",
            1,
            import_env("pasted.env", &[]),
            &[
                "pasted.env:1: error: the key looks like a private key, not a name; it is not shown, used or sent",
                "pasted.env:2: error: the key looks like an API token, not a name; it is not shown, used or sent",
            ],
        )
        .make(dotenv("pasted.env", "{key}=import-env-canary-8\nXk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq=import-env-canary-9\n")),
        row(
            "import-env with lines that do not parse",
            1,
            import_env("syntax.env", &[]),
            &[
                "syntax.env:1: error: expected KEY=value",
                "syntax.env:2: error: unterminated double quote",
                "syntax.env:3: error: unexpected text after the closing quote",
            ],
        )
        .make(dotenv("syntax.env", "import-env-canary-10\nB=\"import-env-canary-11\nC='x' import-env-canary-12\n")),
        row(
            "import-env with a value over 65,536 bytes",
            1,
            import_env("big.env", &[]),
            &["big.env:1: error: the value is 65537 bytes; the limit is 65536"],
        )
        .make(|b| {
            let value = format!("import-env-canary-{}", "b".repeat(65_537 - 18));
            b.p.write("big.env", &format!("B={value}\n"));
            b.p.values.lock().unwrap().push(value);
        }),
        row(
            "import-env of a file that is not UTF-8",
            1,
            import_env("binary.env", &[]),
            &["error: binary.env is not UTF-8 text; nothing was written"],
        )
        .make(|b| std::fs::write(b.p.path("binary.env"), b"B=import-env-canary-13\xff\xfe\n").unwrap()),
        row(
            "import-env of a FIFO",
            1,
            import_env("pipe.env", &[]),
            &["error: cannot import pipe.env", "pipe.env is a FIFO (named pipe), not a file"],
        )
        .make_or_skip(|b| b.fifo("pipe.env")),
        row(
            "import-env of a file over 16 MiB",
            1,
            import_env("huge.env", &[]),
            &["error: cannot import huge.env", "huge.env is too large (16,777,217 bytes; the limit is 16,777,216 bytes)"],
        )
        .make(|b| b.sparse("huge.env", (16 << 20) + 1)),
        row(
            "import-env of a directory",
            1,
            import_env("values", &[]),
            &["error: cannot import values", "values is a directory, not a file"],
        ),
        row(
            "import-env of a file that does not exist",
            1,
            import_env("nope.env", &[]),
            &["error: cannot import nope.env"],
        ),
        row(
            "import-env of a key already declared",
            1,
            import_env("a.env", &[]),
            &["a.env:1: error: production/main/A is already declared in cfsecrets.yaml; pass --overwrite to replace its value"],
        )
        .make(dotenv("a.env", "A=import-env-canary-14\n")),
        row(
            "import-env from stdin with a refused line",
            1,
            vec![Line {
                stdin: Some("B=import-env-canary-15\nC D=import-env-canary-16\n".into()),
                identity: false,
                ..Line::new(&["secret", "import-env", "-", "--account", "production"])
            }],
            &["stdin:2: error: invalid key (letters, digits, '_', '-', '.')", "\nerror: refused: 1 line in stdin; nothing was written\n"],
        )
        .make(|b| b.p.values.lock().unwrap().extend(["import-env-canary-15".into(), "import-env-canary-16".into()])),
        row(
            "import-env with an absolute --bundle",
            64,
            import_env("ok.env", &["--bundle", "{outside}/x.env.age"]),
            &["error: --bundle {outside}/x.env.age must be a path relative to the manifest's directory; nothing was written"],
        )
        .make(dotenv("ok.env", "B=import-env-canary-17\n")),
        row(
            "import-env with a --bundle that climbs out",
            64,
            import_env("ok.env", &["--bundle", "values/../../x.env.age"]),
            &["error: --bundle values/../../x.env.age climbs out of the manifest's directory (`..`); nothing was written"],
        )
        .make(dotenv("ok.env", "B=import-env-canary-18\n")),
        row(
            "import-env with a --bundle through a symbolic link out",
            64,
            import_env("ok.env", &["--bundle", "out/x.env.age"]),
            &["error: --bundle out/x.env.age resolves outside the manifest's directory (through a symbolic link); nothing was written"],
        )
        .make(dotenv("ok.env", "B=import-env-canary-19\n"))
        .make(|b| std::os::unix::fs::symlink(b.outside, b.p.path("out")).unwrap()),
        row(
            "import-env with a --bundle that is not a dotenv bundle",
            64,
            import_env("ok.env", &["--bundle", "values/x.yaml.age"]),
            &["error: --bundle values/x.yaml.age: the bundle import-env writes is dotenv, so its name must end in .env.age"],
        )
        .make(dotenv("ok.env", "B=import-env-canary-20\n")),
        row(
            "import-env for an unknown account",
            64,
            vec![Line {
                identity: false,
                ..Line::new(&["secret", "import-env", "ok.env", "--account", "staging"])
            }],
            &["error: no account \"staging\" in cfsecrets.yaml (accounts: production)"],
        )
        .make(dotenv("ok.env", "B=import-env-canary-21\n")),
    ]
}

/// `secret rm`: a name, account or store the manifest does not hold.
fn secret_rm_cases() -> Vec<Case> {
    let rm = |args: &[&str]| {
        let mut all = vec!["secret", "rm"];
        all.extend_from_slice(args);
        vec![Line {
            identity: false,
            ..Line::new(&all)
        }]
    };
    vec![
        row(
            "secret rm of an unknown name",
            64,
            rm(&["NOPE", "--account", "production"]),
            &["error: production/main has no secret NOPE in cfsecrets.yaml"],
        ),
        row(
            "secret rm --absent of an unknown name",
            64,
            rm(&["NOPE", "--account", "production", "--absent"]),
            &["error: production/main has no secret NOPE in cfsecrets.yaml"],
        ),
        row(
            "secret rm for an unknown account",
            64,
            rm(&["A", "--account", "staging"]),
            &["error: no account \"staging\" in cfsecrets.yaml (accounts: production)"],
        ),
        row(
            "secret rm in an unknown store",
            64,
            rm(&["A", "--account", "production", "--store", "other"]),
            &["error: account \"production\" has no store \"other\""],
        ),
        row(
            "secret rm of an invalid name",
            64,
            rm(&["A.B", "--account", "production"]),
            &[
                "error: invalid secret name: secret name may contain only letters, digits, '-' and '_' (found '.')",
            ],
        ),
    ]
}

/// A store id no account has.
const STORE_ID: &str = "5f3c0c2b8f7d4e1a9b6c2d7e8f901234";

/// A wrangler program that records that it ran, outside the project: a row whose refusal
/// must come before wrangler runs fails on the file it leaves.
fn trap(b: &Bench) {
    let script = format!(
        "#!/bin/sh\n/bin/cat > /dev/null\n: > '{}/wrangler-ran'\n",
        b.outside.display()
    );
    crate::support::write_script(&b.outside.join("bin"), "wrangler", &script);
}

/// `cfsecrets local --account production --wrangler CONFIG` and `extra`, with [`trap`] as
/// the only wrangler on `PATH`.
fn local_line(config: &str, extra: &[&str]) -> Line {
    let mut args = vec!["local", "--account", "production", "--wrangler", config];
    args.extend_from_slice(extra);
    Line {
        env: vec![("PATH".into(), "{outside}/bin:/usr/bin:/bin".into())],
        ..Line::new(&args)
    }
}

/// Every command that reads a wrangler config: `check`, `plan` and `apply` with
/// `--wrangler CONFIG`, and `local`.
fn wrangler_readers(config: &str) -> Vec<Line> {
    vec![
        Line::new(&["check", "--wrangler", config]),
        Line::new(&["plan", "--wrangler", config]),
        Line::new(&["apply", "--auto-approve", "--wrangler", config]),
        local_line(config, &[]),
    ]
}

/// Broken wrangler configs: each error at its `file:line:col`, before any request and
/// before wrangler runs.
fn wrangler_cases() -> Vec<Case> {
    let config = |rel: &'static str, text: &'static str| {
        move |b: &Bench| b.p.write(rel, &text.replace("{store}", STORE_ID))
    };
    let wr = |name, config_path: &str, says: &[&str]| {
        row(name, 1, wrangler_readers(config_path), says).make(trap)
    };
    vec![
        wr(
            "a wrangler.toml that does not parse",
            "w",
            &["w/wrangler.toml:4:45: error: not valid TOML: invalid basic string, expected `\"`"],
        )
        .make(config("w/wrangler.toml", "name = \"api\"\n[[secrets_store_secrets]]\nbinding = \"A\"\nstore_id = \"{store}\nsecret_name = \"A\"\n")),
        wr(
            "a wrangler.jsonc that does not parse",
            "w/wrangler.jsonc",
            &["w/wrangler.jsonc:4:91: error: not valid JSON: expected comma"],
        )
        .make(config(
            "w/wrangler.jsonc",
            "{\n  // the api Worker\n  \"secrets_store_secrets\": [\n    { \"binding\": \"A\", \"store_id\": \"{store}\", \"secret_name\": \"A\" }\n    { \"binding\": \"B\", \"store_id\": \"{store}\", \"secret_name\": \"A\" },\n  ],\n}\n",
        )),
        wr(
            "a wrangler.json with single quotes",
            "w/wrangler.json",
            &["w/wrangler.json:2:3: error: not valid JSON"],
        )
        .make(config("w/wrangler.json", "{\n  'secrets_store_secrets': []\n}\n")),
        wr(
            "a wrangler config with the wrong types",
            "w",
            &[
                "w/wrangler.toml:3:11: error: wrong type for `binding` in `secrets_store_secrets[0]`: expected a string, found an integer",
                "w/wrangler.toml:4:12: error: wrong type for `store_id` in `secrets_store_secrets[0]`: expected a string, found an array",
            ],
        )
        .make(config("w/wrangler.toml", "[[secrets_store_secrets]]\nsecret_name = \"A\"\nbinding = 7\nstore_id = [\"{store}\"]\n")),
        wr(
            "secrets_store_secrets that is not a list",
            "w",
            &["w/wrangler.toml:1:25: error: wrong type for `secrets_store_secrets`"],
        )
        .make(config("w/wrangler.toml", "secrets_store_secrets = \"A\"\n")),
        wr(
            "an env that is not a table",
            "w",
            &["w/wrangler.toml:2:11: error: wrong type for `env.staging`"],
        )
        .make(config("w/wrangler.toml", "[env]\nstaging = 3\n")),
        wr(
            "a binding with keys missing",
            "w",
            &["w/wrangler.json:1:30: error: `secrets_store_secrets[0]` is missing keys `store_id` and `secret_name`"],
        )
        .make(config("w/wrangler.json", "{ \"secrets_store_secrets\": [ { \"binding\": \"A\" } ] }\n")),
        wr(
            "a binding name that is not a JavaScript identifier",
            "w",
            &["w/wrangler.toml:2:11: error: binding name `a-key` is not a JavaScript identifier: it contains `-` (use `_`)"],
        )
        .make(config("w/wrangler.toml", "[[secrets_store_secrets]]\nbinding = \"a-key\"\nstore_id = \"{store}\"\nsecret_name = \"A\"\n")),
        wr(
            "a binding name used twice in one environment",
            "w",
            &["w/wrangler.toml:6:11: error: binding name `K` is repeated in the top level (first at line 2)"],
        )
        .make(config("w/wrangler.toml", "[[secrets_store_secrets]]\nbinding = \"K\"\nstore_id = \"{store}\"\nsecret_name = \"A\"\n[[secrets_store_secrets]]\nbinding = \"K\"\nstore_id = \"{store}\"\nsecret_name = \"A\"\n")),
        // Offline, the manifest is all there is to check a binding against; `plan` and
        // `apply` check it against the live stores and the plan instead (after reading).
        row(
            "a binding to a secret the manifest does not declare",
            1,
            vec![Line::new(&["check", "--wrangler", "w"]), local_line("w", &[])],
            &["w/wrangler.toml:4:15: error: secret `NOPE` is not declared in "],
        )
        .make(trap)
        .make(config("w/wrangler.toml", "[[secrets_store_secrets]]\nbinding = \"K\"\nstore_id = \"{store}\"\nsecret_name = \"NOPE\"\n")),
        row(
            "a binding to a store no managed account has",
            1,
            vec![
                Line::new(&["plan", "--wrangler", "w"]),
                Line::new(&["apply", "--auto-approve", "--wrangler", "w"]),
            ],
            &["w/wrangler.toml:3:12: error: store_id `5f3c0c2b8f7d4e1a9b6c2d7e8f901234` is not a store of any managed account"],
        )
        .after_reads()
        .make(config("w/wrangler.toml", "[[secrets_store_secrets]]\nbinding = \"K\"\nstore_id = \"{store}\"\nsecret_name = \"NOPE\"\n")),
        wr(
            "a directory without a wrangler config",
            "w",
            &["w: error: no wrangler config here (looked for wrangler.json, wrangler.jsonc, wrangler.toml)"],
        )
        .make(|b| std::fs::create_dir_all(b.p.path("w")).unwrap()),
        wr(
            "a wrangler config over 4 MiB",
            "w/wrangler.toml",
            &["w/wrangler.toml: error: cannot read the wrangler config: it is too large (4,194,305 bytes; the limit is 4,194,304 bytes)"],
        )
        .make(|b| b.sparse("w/wrangler.toml", (4 << 20) + 1)),
        wr(
            "a wrangler config that does not exist",
            "w/wrangler.toml",
            &["w/wrangler.toml: error: cannot read the wrangler config"],
        ),
        wr(
            "a wrangler config that is a FIFO",
            "w/wrangler.toml",
            &["w/wrangler.toml: error: cannot read the wrangler config: it is a FIFO (named pipe), not a file"],
        )
        .make(|b| std::fs::create_dir_all(b.p.path("w")).unwrap())
        .make_or_skip(|b| b.fifo("w/wrangler.toml")),
        wr(
            "a wrangler config that is not UTF-8",
            "w/wrangler.toml",
            &["w/wrangler.toml:1:7: error: cannot read the wrangler config: not valid UTF-8 (the first bad byte is here)"],
        )
        .make(|b| {
            std::fs::create_dir_all(b.p.path("w")).unwrap();
            std::fs::write(b.p.path("w/wrangler.toml"), b"name=\"\xe9\"\n").unwrap();
        }),
    ]
}

/// `apply --wait-active` with a value it refuses, and `local` missing what it needs.
fn wait_and_local_cases() -> Vec<Case> {
    let one = |args: &[&str]| vec![Line::new(args)];
    let says_seconds = "error: --wait-active: seconds must be from 1 to 3600";
    let says_number = "error: --wait-active: expected a number of seconds; to wait the default 30, put the plan file before --wait-active, or write --wait-active=SECONDS";
    let bound = |secret: &'static str| {
        move |b: &Bench| {
            b.p.write(
                "w/wrangler.toml",
                &format!("[[secrets_store_secrets]]\nbinding = \"K\"\nstore_id = \"{STORE_ID}\"\nsecret_name = \"{secret}\"\n"),
            )
        }
    };
    vec![
        row("--wait-active=0", 64, one(&["apply", "--auto-approve", "--wait-active=0"]), &[says_seconds]),
        row("--wait-active over an hour", 64, one(&["apply", "--auto-approve", "--wait-active=3601"]), &[says_seconds]),
        row("--wait-active that is not a number", 64, one(&["apply", "--auto-approve", "--wait-active=soon"]), &[says_number]),
        row("--wait-active before a plan file", 64, one(&["apply", "--wait-active", "p.json"]), &[says_number]),
        row(
            "local without --account",
            64,
            one(&["local", "--wrangler", "w"]),
            &["error: the following required arguments were not provided:", "--account <LABEL>"],
        )
        .make(bound("A")),
        row(
            "local without --wrangler",
            64,
            one(&["local", "--account", "production"]),
            &["error: the following required arguments were not provided:", "--wrangler <PATH>"],
        ),
        row("local for an unknown account", 64, vec![local_line("w", &[]).with_account("staging")], &["error: no account \"staging\" in cfsecrets.yaml (accounts: production)"])
            .make(trap)
            .make(bound("A")),
        row("local for an unknown store", 64, vec![local_line("w", &["--store", "other"])], &["error: account production has no store \"other\" (stores: main)"])
            .make(trap)
            .make(bound("A")),
        row("local for an unknown env", 64, vec![local_line("w", &["--env", "prod"])], &["error: w/wrangler.toml has no env \"prod\" (envs: none)"])
            .make(trap)
            .make(bound("A")),
        row(
            "local with a binding the account does not declare",
            1,
            vec![local_line("w", &[])],
            &["w/wrangler.toml:4:15: error: secret `NOPE` is not declared in account production"],
        )
        .make(trap)
        .make(bound("NOPE")),
        row(
            "local with a binding whose value is kept",
            1,
            vec![local_line("w", &[])],
            &["w/wrangler.toml:4:15: error: secret `B` is `value: keep` in production/main: the manifest holds no value for it"],
        )
        .make(trap)
        .make(bound("B"))
        .edit(A_LINE, "          A: { value: values/A.age }\n          B: { value: keep }\n"),
        row(
            "local with a config that binds nothing",
            1,
            vec![local_line("w", &[])],
            &["error: w/wrangler.toml binds no Secrets Store secret in the top level: nothing to fill"],
        )
        .make(trap)
        .make(|b| b.p.write("w/wrangler.toml", "name = \"api\"\n")),
        row(
            "local without an identity",
            64,
            vec![Line { identity: false, ..local_line("w", &[]) }],
            &["error: `local` needs an identity to unseal the values"],
        )
        .make(trap)
        .make(bound("A")),
        row(
            "man --dir onto a file",
            1,
            one(&["man", "--dir", "cfsecrets.yaml"]),
            &["error: cannot write the pages into cfsecrets.yaml: it is a file, not a directory"],
        ),
        row(
            "completions for an unknown shell",
            64,
            one(&["completions", "tcsh"]),
            &["error: invalid value 'tcsh' for '<SHELL>'"],
        ),
    ]
}

/// Emulators (and threads) the gauntlet runs its rows on; each row resets its emulator.
const WORKERS: usize = 3;

#[test]
fn the_gauntlet_of_bad_input() {
    let cases = cases();
    assert!(cases.len() >= 80, "only {} rows", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "two rows share a name");

    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let skipped = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                let emu = Emu::start();
                let template = project(&emu, "");
                while let Some(case) =
                    cases.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    emu.handle().reset();
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_case(&emu, &template, case)
                    }));
                    match outcome {
                        Ok(Ok(true)) => {}
                        Ok(Ok(false)) => skipped.lock().unwrap().push(case.name),
                        Ok(Err(why)) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {why}", case.name)),
                        Err(panic) => {
                            let why = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{}: panicked: {why}", case.name));
                        }
                    }
                }
            });
        }
    });
    let skipped = skipped.into_inner().unwrap();
    if !skipped.is_empty() {
        eprintln!(
            "note: skipped (mkfifo is not available): {}",
            skipped.join(", ")
        );
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Makes one row's bad input in a fresh copy of `template` and runs its commands;
/// `Ok(false)` when the row was skipped, `Err` with every way it failed.
fn run_case(emu: &Emu, template: &Project, case: &Case) -> Result<bool, String> {
    let p = template.copy();
    let outside = tempfile::tempdir().unwrap();
    let bench = Bench {
        p: &p,
        outside: outside.path(),
    };
    for make in &case.make {
        if !make(&bench) {
            return Ok(false);
        }
    }
    let before = (files(p.root()), files(outside.path()));
    let identity = p.identity_line();
    let mut problems = Vec::new();
    for line in &case.lines {
        emu.handle().clear_log();
        let run = run_line(&bench, line);
        let shown = line.args.join(" ");
        let all = run.all();
        if run.code != Some(case.code) {
            problems.push(format!(
                "`{shown}` exited {:?}, not {}:\n{all}",
                run.code, case.code
            ));
        }
        for says in &case.says {
            let (stream, text) = match says.strip_prefix("stdout:") {
                Some(text) => (&run.stdout, text),
                None => (&run.stderr, says.as_str()),
            };
            let text = bench.fill(text);
            if !stream.contains(&text) {
                problems.push(format!("`{shown}` does not say `{text}`:\n{all}"));
            }
        }
        if all.contains(&identity) || holds_key_text(&all) {
            problems.push(format!("`{shown}` printed identity text"));
        }
        // Only a network command whose refusal comes after the live state was read may
        // have read; nothing may have written.
        let reads_allowed = case.reads && !line.offline();
        let log = emu.handle().log();
        let sent: Vec<String> = log
            .iter()
            .filter(|r| !reads_allowed || r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        if !sent.is_empty() {
            let what = if reads_allowed {
                "write requests"
            } else {
                "requests"
            };
            problems.push(format!("`{shown}` sent {what}: {sent:?}"));
        }
    }
    if (files(p.root()), files(outside.path())) != before {
        problems.push("a file changed".to_string());
    }
    let values = p.values.lock().unwrap().clone();
    for output in p.outputs.lock().unwrap().iter() {
        if values.iter().any(|v| output.contains(v.as_str())) {
            problems.push("a sealed value was printed".to_string());
        }
    }
    if problems.is_empty() {
        Ok(true)
    } else {
        Err(problems.join("\n"))
    }
}

/// Whether `text` holds age identity text: `AGE-SECRET-KEY-1` (in any case) followed by
/// key characters, not just the prefix a message may name (`expected AGE-SECRET-KEY-1…`).
fn holds_key_text(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    upper.match_indices("AGE-SECRET-KEY-1").any(|(at, prefix)| {
        upper[at + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count()
            >= 8
    })
}

/// Runs one command line of a row, failing if it has not finished within a minute (a read
/// that blocks on a FIFO would hang forever). Its output joins the project's.
fn run_line(b: &Bench, line: &Line) -> Run {
    use std::io::Write as _;
    let args: Vec<String> = line.args.iter().map(|a| b.fill(a)).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = b.p.command(&args, line.identity);
    for (k, v) in &line.env {
        cmd.env(k, b.fill(v));
    }
    if line.stdin.is_some() {
        cmd.stdin(std::process::Stdio::piped());
    }
    let mut child = cmd.spawn().expect("run cfsecrets");
    if let Some(text) = &line.stdin {
        let mut stdin = child.stdin.take().expect("stdin");
        match stdin.write_all(text.as_bytes()) {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("write stdin"),
        }
    }
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let run = Run::from(child.wait_with_output().expect("output"));
    b.p.outputs.lock().unwrap().push(run.all());
    run
}

// ── what the server refuses, named ──────────────────────────────────────────────────────

#[test]
fn a_value_the_account_refuses_is_named_though_the_api_does_not_say_which() {
    // An account that still enforces 1,024 bytes: the plan cannot know, the batch create is
    // refused as a whole, and the failure names the value most likely refused.
    let emu = Emu::start_with(cfsecrets::emulator::EmulatorConfig {
        value_limit: 1024,
        ..Default::default()
    });
    let p = project(
        &emu,
        "          BIG: { value: values/BIG.age }\n          C: { value: values/C.age }\n",
    );
    p.seal(
        "values/BIG.age",
        &format!("refused-value-{}", "r".repeat(1486)),
    );
    p.seal("values/C.age", "small-value-c-3e7d");
    let run = p.run(&["apply", "--auto-approve"]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "secret_value_too_long (not created: A, BIG, C); the API does not say which value: \
             over 1,024 bytes: BIG (1,500 bytes)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("shorten the value the failure above names"),
        "{}",
        run.stderr
    );
    assert!(emu.names(STORE).is_empty(), "{:?}", emu.names(STORE));
    p.assert_no_value_leaked(&[]);
}
