//! Journeys found by exploratory testing: what a careful engineer adopting cfsecrets for
//! production keys actually does, each pinned after a problem was found (and fixed). Output
//! piped into a reader that stops early (`| head`) must not turn an unfinished apply or a
//! plan with changes into exit 0.

use std::process::Stdio;

use crate::support::{Emu, Project, bin, secret_set};

const STORE: &str = "main";

/// A project declaring one sealed secret `A` in store `main`.
fn one_secret(emu: &Emu) -> Project {
    let p = Project::new(emu);
    p.seal("values/A.age", "journey-alpha-value-7d3e91");
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          A: {{ value: values/A.age }}\n"
    ));
    p
}

/// Runs the binary in `p` with stdout and stderr connected to a pipe whose reader is
/// already gone, as with `cfsecrets … | head` once `head` has exited. Returns the exit code.
fn run_into_closed_pipe(p: &Project, args: &[&str]) -> Option<i32> {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    p.command(args, true)
        .stdout(Stdio::from(writer.try_clone().expect("clone pipe")))
        .stderr(Stdio::from(writer))
        .status()
        .expect("run cfsecrets")
        .code()
}

#[test]
fn apply_into_a_closed_pipe_does_not_report_success_when_nothing_was_applied() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    let code = run_into_closed_pipe(&p, &["apply", "--auto-approve"]);
    // The pipe closes at the first line, so the run stops there (exit 1), or, if that line
    // came after the writes, it may have applied; exit 0 without the write would be a lie.
    let applied = emu.names(STORE) == ["A"];
    match code {
        Some(1) => {}
        Some(0) => assert!(applied, "apply exited 0 but wrote nothing"),
        other => panic!("apply into a closed pipe exited {other:?}"),
    }
}

#[test]
fn detailed_exitcode_plan_into_a_closed_pipe_does_not_claim_no_changes() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    p.run(&["plan", "--detailed-exitcode"]).expect(2);
    let code = run_into_closed_pipe(&p, &["plan", "--detailed-exitcode"]);
    // The first line written fails: an error, not "no changes" and not "changes" either.
    assert_eq!(code, Some(1), "a plan into a closed pipe");
}

#[test]
fn secret_set_into_an_empty_secrets_map_keeps_its_comment() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.manifest(&format!(
        "      {STORE}:\n        secrets: {{}}   # owned by the payments team\n"
    ));
    let out = secret_set(&p, &["A", "--account", "production"], "journey-value-c41a");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap();
    assert!(
        text.contains("        secrets: # owned by the payments team\n          A:\n"),
        "{text}"
    );
}

#[test]
fn a_zero_client_rate_limit_is_a_usage_error_not_a_silent_crawl() {
    // The emulator's `--rate-limit 0` means "off"; the client's must not quietly mean "one
    // request per five minutes", which makes `plan` sit silent for ten minutes.
    let emu = Emu::start();
    let p = one_secret(&emu);
    let run = p.run(&["plan", "--rate-limit", "0"]);
    run.expect(64);
    assert!(run.stderr.contains("--rate-limit"), "{}", run.stderr);
    assert_eq!(emu.count("GET", "/stores"), 0, "no request may be sent");
}

#[test]
fn quiet_init_prints_what_it_created_but_no_next_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["init", "-q", "--generate-identity", "me.key"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("created cfsecrets.yaml"), "{stdout}");
    assert!(
        !stdout.contains("next steps") && !stderr.contains("next steps"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Without -q the hints are still there.
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["init", "--generate-identity", "me.key"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("next steps"));
}

#[test]
fn plan_out_never_overwrites_a_file_that_is_not_a_saved_plan() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    // A slip of the shell (`--out cfsecrets.yaml`, `--out me.key`) must not replace the
    // manifest, a sealed value or the private key with plan JSON.
    for victim in ["cfsecrets.yaml", "values/A.age", "me.key"] {
        let before = std::fs::read(p.path(victim)).unwrap();
        let run = p.run(&["plan", "--out", victim]);
        run.expect(1);
        assert!(
            run.stderr.contains(victim) && run.stderr.contains("not a plan"),
            "{}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(p.path(victim)).unwrap(),
            before,
            "{victim} changed"
        );
    }
    // Saving over an earlier saved plan stays the normal CI routine.
    p.run(&["plan", "--out", "plan.json"]).expect(0);
    p.run(&["plan", "--out", "plan.json"]).expect(0);
    p.run(&["apply", "plan.json"]).expect(0);
    assert_eq!(emu.names(STORE), ["A"]);
}

#[test]
fn a_live_comment_cannot_reorder_the_plan_text_with_bidi_controls() {
    // Anyone with dashboard access can set a comment; a right-to-left override in it would
    // make the terminal show the rest of the plan line reversed ("Trojan Source").
    let emu = Emu::start();
    let p = Project::new(&emu);
    emu.create_by_hand(
        STORE,
        "B",
        "journey-bravo-5e0c",
        "ok \u{202e}deleted\u{2066} x",
    );
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          B: {{ value: keep, comment: plain }}\n"
    ));
    let run = p.run(&["plan"]);
    run.expect(0);
    assert!(run.stdout.contains("main/B"), "{}", run.stdout);
    for c in ['\u{202e}', '\u{2066}'] {
        assert!(
            !run.stdout.contains(c),
            "{c:?} reached the terminal:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("\\u{202e}"), "{}", run.stdout);
}

#[test]
fn a_missing_identity_file_is_named_as_an_identity_with_its_source() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    let run = p.run(&["check", "--decrypt", "-i", "gone.key"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains("cannot read identity file gone.key (from -i/--identity)"),
        "{}",
        run.stderr
    );
    p.env.lock().unwrap().push((
        "CFSECRETS_AGE_KEY_FILE".to_string(),
        "/nonexistent/ci.key".to_string(),
    ));
    let run = p.run(&["check", "--decrypt"]);
    run.expect(1);
    assert!(
        run.stderr.contains(
            "cannot read identity file /nonexistent/ci.key (from CFSECRETS_AGE_KEY_FILE)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn check_catches_a_broken_recipients_file_before_secret_set_does() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    let good = std::fs::read_to_string(p.path(".age-recipients")).unwrap();
    p.write(
        ".age-recipients",
        &format!("{good}ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc me@host\n"),
    );
    let run = p.run(&["check"]);
    run.expect(1);
    assert!(
        run.stderr
            .contains(".age-recipients:4: ssh recipients are not supported"),
        "{}",
        run.stderr
    );
    // A private key pasted into the file is refused without being repeated.
    let key = std::fs::read_to_string(&p.identity).unwrap();
    let secret_line = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    p.write(".age-recipients", &format!("{good}{secret_line}\n"));
    let run = p.run(&["check"]);
    run.expect(1);
    assert!(run.stderr.contains(".age-recipients:4:"), "{}", run.stderr);
    assert!(
        !run.all().contains(secret_line),
        "the private key was printed"
    );
}

#[test]
fn a_failure_that_will_repeat_is_not_reported_as_run_again_to_finish() {
    // An account that enforces 1,024 bytes (as some did in 2025) refuses a 1,500-byte value every time:
    // "run apply again to finish" would send the user round in circles.
    let emu = Emu::start_with(cfsecrets::emulator::EmulatorConfig {
        value_limit: 1024,
        ..Default::default()
    });
    let p = Project::new(&emu);
    let long = format!("journey-long-{}", "x".repeat(1500 - 13));
    p.seal("values/BIG.age", &long);
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          BIG: {{ value: values/BIG.age }}\n"
    ));
    let run = p.run(&["apply", "--auto-approve"]);
    run.expect(1);
    assert!(
        run.stderr.contains("secret_value_too_long"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("again to finish"),
        "a permanent failure was called transient:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("will fail the same way") && run.stderr.contains("shorten the value"),
        "{}",
        run.stderr
    );
    p.assert_no_value_leaked(&[]);

    // A transient failure still says to run apply again.
    let emu = Emu::start();
    let p = one_secret(&emu);
    emu.handle().schedule(cfsecrets::emulator::ScheduledFault {
        method: "POST".into(),
        path: "/accounts/*/secrets_store/stores/*/secrets".into(),
        kind: cfsecrets::emulator::FaultKind::Unavailable,
        count: 10,
    });
    let run = p.run(&["apply", "--auto-approve"]);
    run.expect(1);
    assert!(run.stderr.contains("again to finish"), "{}", run.stderr);
    assert!(!run.stderr.contains("fail the same way"), "{}", run.stderr);
}

#[test]
fn a_request_held_back_by_the_pacer_is_announced_not_silent() {
    // With a low --rate-limit the pacer holds requests back for minutes; the user must see
    // why. The hidden window knob turns "per 5 minutes" into "per 2 seconds".
    let emu = Emu::start();
    let p = one_secret(&emu);
    p.env
        .lock()
        .unwrap()
        .push(("CFSECRETS_RATE_WINDOW_MS".to_string(), "2000".to_string()));
    // Quota and store list go out together: one of them waits for the budget.
    let run = p.run(&["plan", "--rate-limit", "1"]);
    run.expect(0);
    let notes: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("for the request budget"))
        .collect();
    // The slot frees a window (2 s) after the first answer came back, when the wait starts:
    // just under 2 s, shown rounded up.
    assert_eq!(
        notes,
        ["waiting 2s for the request budget (1 per 2 seconds; see --rate-limit)"],
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("main/A"), "{}", run.stdout);
    // --quiet keeps it off stderr.
    let run = p.run(&["plan", "-q", "--rate-limit", "1"]);
    run.expect(0);
    assert!(!run.stderr.contains("request budget"), "{}", run.stderr);
}

#[test]
fn an_out_path_in_a_missing_directory_is_refused_before_reading_live_state() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    let run = p.run(&["plan", "--out", "missing/dir/p.json"]);
    run.expect(1);
    assert!(
        run.stderr.contains("missing/dir/p.json") && run.stderr.contains("does not exist"),
        "{}",
        run.stderr
    );
    p.write("afile", "x");
    let run = p.run(&[
        "import",
        "--account",
        crate::support::ACCOUNT,
        "--out",
        "afile/x.yaml",
    ]);
    run.expect(1);
    assert!(
        run.stderr.contains("afile/x.yaml") && run.stderr.contains("not a directory"),
        "{}",
        run.stderr
    );
    let run = p.run(&[
        "import",
        "--account",
        crate::support::ACCOUNT,
        "--out",
        "missing/x.yaml",
    ]);
    run.expect(1);
    assert!(run.stderr.contains("missing/x.yaml"), "{}", run.stderr);
    assert_eq!(emu.count("GET", "/stores"), 0, "live state was read first");
    assert_eq!(emu.count("GET", "/quota"), 0, "live state was read first");
}

/// Makes every `GET /quota` of the next runs fail (past the client's retries).
fn break_quota(emu: &Emu) {
    emu.handle().schedule(cfsecrets::emulator::ScheduledFault {
        method: "GET".into(),
        path: "/accounts/*/secrets_store/quota".into(),
        kind: cfsecrets::emulator::FaultKind::InternalError,
        count: 100,
    });
}

#[test]
fn a_plan_says_when_the_quota_could_not_be_checked() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    break_quota(&emu);
    // With creates planned.
    let run = p.run(&["plan"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("note: quota not checked (GET /quota failed)"),
        "{}",
        run.stdout
    );
    // Without creates (only a comment update), a reviewer still learns it was not checked.
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          A: {{ value: values/A.age, comment: now }}\n"
    ));
    let run = p.run(&["plan"]);
    run.expect(0);
    assert!(run.stdout.contains("main/A"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("note: quota not checked (GET /quota failed)"),
        "{}",
        run.stdout
    );
    let json = p.run(&["plan", "--format", "json"]);
    assert!(json.stdout.contains("quota not checked"), "{}", json.stdout);
}

#[test]
fn wording_matches_the_rules_it_describes() {
    let emu = Emu::start();
    let p = one_secret(&emu);
    // The label rule is the manifest's: one plain path segment.
    let run = p.run(&[
        "import",
        "--account",
        crate::support::ACCOUNT,
        "--label",
        "a/b",
    ]);
    run.expect(64);
    assert!(
        run.stderr
            .contains("--label `a/b` must not contain `/` or `\\` or be `.` or `..`"),
        "{}",
        run.stderr
    );
    // An empty scope is called empty, not unknown.
    let out = secret_set(
        &p,
        &["B", "--account", "production", "--scopes", ""],
        "v-9d1e",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("empty scope") && !stderr.contains("unknown scope"),
        "{stderr}"
    );
    // A hand-made secret planned without an identity: no dangling "written once as".
    emu.create_by_hand(STORE, "A", "journey-hand-made-51c2", "by hand");
    // What that rule allows, `check` accepts.
    p.run(&[
        "import",
        "--account",
        crate::support::ACCOUNT,
        "--label",
        ".my prod",
        "--out",
        "imported.yaml",
    ])
    .expect(0);
    p.run(&["check", "-f", "imported.yaml"]).expect(0);
    let run = p.run_without_identity(&["plan"]);
    assert!(run.stdout.contains("main/A"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("written once as (not compared)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("value: not verified, written once"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_apply_summary_says_what_its_action_count_counts() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    for name in ["A", "B", "C"] {
        p.seal(
            &format!("values/{name}.age"),
            &format!("journey-summary-{name}-8a"),
        );
    }
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          A: {{ value: values/A.age }}\n          \
         B: {{ value: values/B.age }}\n          C: {{ value: values/C.age }}\n"
    ));
    let run = p.run(&["apply", "--auto-approve"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("Apply complete: 2 actions done (1 store created, 3 secrets created)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_value_of_two_thousand_bytes_plans_and_applies_without_a_warning() {
    // 65,536 bytes is the settled limit: the old 1,024-byte warning printed on every plan
    // and apply (twice per plan), for values nothing would refuse.
    let emu = Emu::start();
    let p = Project::new(&emu);
    let long = format!("journey-2000-{}", "x".repeat(2000 - 13));
    assert_eq!(long.len(), 2000);
    p.seal("values/LONG.age", &long);
    p.manifest(&format!(
        "      {STORE}:\n        secrets:\n          LONG: {{ value: values/LONG.age }}\n"
    ));
    let quiet = |run: &crate::support::Run, what: &str| {
        let all = run.all();
        assert!(!all.contains("warning"), "{what} warned:\n{all}");
        assert!(
            !all.contains("1024") && !all.contains("1,024"),
            "{what}:\n{all}"
        );
    };
    let plan = p.run(&["plan"]);
    plan.expect(0);
    assert!(plan.stdout.contains("LONG"), "{}", plan.stdout);
    quiet(&plan, "plan (create)");
    quiet(
        p.run(&["apply", "--auto-approve"]).expect(0),
        "apply (create)",
    );
    // A changed value of the same size: the update path.
    let longer = format!("journey-2000-{}", "y".repeat(2000 - 13));
    p.seal("values/LONG.age", &longer);
    let plan = p.run(&["plan", "--format", "markdown"]);
    plan.expect(0);
    assert!(plan.stdout.contains("LONG"), "{}", plan.stdout);
    quiet(&plan, "plan (update)");
    quiet(
        p.run(&["apply", "--auto-approve"]).expect(0),
        "apply (update)",
    );
    assert_eq!(emu.names(STORE), ["LONG"]);
    p.assert_no_value_leaked(&[]);
}
