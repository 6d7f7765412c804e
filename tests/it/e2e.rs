//! End to end: the real binary against the in-process emulator. Plan, apply, plan again is
//! empty; renames copy server-side; prune modes; protect; the safety block; stale saved plans
//! named by input; a fork-style plan without identity; convergence under injected faults; no
//! value in any output or plan file; import round trip.

use cfsecrets::emulator::{EmulatorConfig, FaultConfig, FaultKind};

use crate::support::{ACCOUNT, Emu, Project, schedule};

const STORE: &str = "main";

fn store_block(prune: &str, secrets: &str) -> String {
    format!("      {STORE}:\n        prune: {prune}\n        secrets:\n{secrets}")
}

/// A project with three sealed values (two files and a bundle) declared in `main`.
fn three(emu: &Emu) -> Project {
    let p = Project::new(emu);
    p.seal("values/A.age", "e2e-alpha-value-51c7e0");
    p.seal("values/B.age", "e2e-bravo-value-9a22b4");
    p.seal("values/bundle.env.age", "C=e2e-charlie-value-0d5e33\n");
    p.manifest(&store_block(
        "owned",
        "          A: { value: values/A.age, comment: first one }\n\
         \x20         B: { value: values/B.age, scopes: [workers, ai_gateway] }\n\
         \x20         C: { value: { bundle: values/bundle.env.age, key: C } }\n",
    ));
    p
}

#[test]
fn plan_apply_then_plan_is_empty() {
    let emu = Emu::start();
    let p = three(&emu);
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    plan.expect(2);
    assert!(
        plan.stdout
            .contains("  + main/A  (declared, not found live)\n      value: new "),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("3 to create"), "{}", plan.stdout);

    // Every rendering, and the saved plan, carry fingerprints only.
    let md = p.run(&["plan", "--format", "markdown"]);
    md.expect(0);
    assert!(
        md.stdout.contains(&format!(
            "<details><summary><b>production</b> ({ACCOUNT}): 4 changes</summary>\n\n```diff\n\
             + store main  (declared, not found live)\n+ main/A  (declared, not found live)\n"
        )),
        "{}",
        md.stdout
    );
    let json = p.run(&["plan", "--format", "json", "--out", "saved.json"]);
    json.expect(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["summary"]["secrets_to_create"], 3);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("saved.json")).unwrap()).unwrap();
    let digest = &saved["digest"];
    assert_eq!(digest["manifest"].as_str().unwrap().len(), 64);
    for f in [
        "values/A.age",
        "values/B.age",
        "values/bundle.env.age",
        "keys/fingerprint.age",
    ] {
        assert!(digest["values"][f].is_string(), "{f} in {digest}");
    }
    assert!(digest["live_accounts"]["production"].is_string());
    p.assert_no_value_leaked(&["saved.json"]);

    // No terminal, no plan file, no --auto-approve: a usage error before any request.
    emu.handle().clear_log();
    let usage = p.run(&["apply"]);
    usage.expect(64);
    assert!(
        usage
            .stderr
            .contains("not on a terminal: pass --auto-approve"),
        "{}",
        usage.stderr
    );
    assert_eq!(
        emu.handle().log().len(),
        0,
        "apply sent requests before exiting 64"
    );
    assert!(emu.names(STORE).is_empty());

    let apply = p.run(&["apply", "--auto-approve"]);
    apply.expect(0);
    assert!(apply.stdout.contains("Apply complete"), "{}", apply.stdout);
    assert!(apply.stderr.contains("done: production: create store main"));
    assert_eq!(emu.names(STORE), ["A", "B", "C"]);
    let live = emu.secrets(STORE);
    assert!(
        live[0].1.starts_with("first one [cfsecrets:v1 fp="),
        "{}",
        live[0].1
    );
    assert_eq!(live[1].2, ["ai_gateway", "workers"]);

    let again = p.run(&["plan", "--detailed-exitcode"]);
    again.expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    let nothing = p.run(&["apply", "--auto-approve"]);
    nothing.expect(0);
    assert!(
        nothing.stdout.contains("No changes; nothing to apply."),
        "{}",
        nothing.stdout
    );

    // A changed value is written once, then the plan is empty again.
    p.seal("values/A.age", "e2e-alpha-value-rotated-77f1");
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    plan.expect(2);
    assert!(plan.stdout.contains("value changed"), "{}", plan.stdout);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn rename_copies_server_side() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.manifest(&store_block(
        "owned",
        "          A: { value: values/A.age, comment: first one }\n\
         \x20         B2: { renamed_from: B, value: values/B.age, scopes: [workers, ai_gateway] }\n\
         \x20         C: { value: { bundle: values/bundle.env.age, key: C } }\n",
    ));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    plan.expect(2);
    assert!(plan.stdout.contains("> main/B → B2"), "{}", plan.stdout);
    let creates_before = emu.count("POST", "/stores/{store_id}/secrets");
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        emu.count("POST", "/stores/{store_id}/secrets/{secret_id}/duplicate"),
        1
    );
    assert_eq!(
        emu.count("POST", "/stores/{store_id}/secrets"),
        creates_before,
        "no value was sent for the rename"
    );
    assert_eq!(emu.names(STORE), ["A", "B2", "C"]);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn prune_modes() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    emu.create_by_hand(STORE, "HAND", "e2e-hand-made-3141", "made in the dashboard");
    p.values.lock().unwrap().push("e2e-hand-made-3141".into());
    // C leaves the manifest.
    let without_c = "          A: { value: values/A.age, comment: first one }\n\
                     \x20         B: { value: values/B.age, scopes: [workers, ai_gateway] }\n";

    p.manifest(&store_block("none", without_c));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    plan.expect(0);
    assert!(
        plan.stdout
            .contains("  unmanaged (left alone): 2\n    main/C  (")
            && plan.stdout.contains("\n    main/HAND  ("),
        "{}",
        plan.stdout
    );
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(emu.names(STORE), ["A", "B", "C", "HAND"]);

    p.manifest(&store_block("owned", without_c));
    p.run(&["plan", "--detailed-exitcode"]).expect(2);
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        emu.names(STORE),
        ["A", "B", "HAND"],
        "owned C deleted, HAND kept"
    );

    p.manifest(&store_block("all", without_c));
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(emu.names(STORE), ["A", "B"], "prune: all deletes HAND");
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn protect_keeps_until_unprotected() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.seal("values/A.age", "e2e-protected-value-2718");
    p.seal("values/B.age", "e2e-plain-value-1618");
    p.manifest(&store_block(
        "owned",
        "          A: { value: values/A.age, protect: true }\n\
         \x20         B: { value: values/B.age }\n",
    ));
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(emu.secrets(STORE)[0].1.ends_with(" protect]"));

    p.manifest(&store_block(
        "owned",
        "          B: { value: values/B.age }\n",
    ));
    let plan = p.run(&["plan", "--detailed-exitcode"]);
    plan.expect(0);
    assert!(plan.stdout.contains("! main/A kept"), "{}", plan.stdout);
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(emu.names(STORE), ["A", "B"]);

    p.manifest(&store_block(
        "owned",
        "          A: { value: values/A.age, protect: false }\n\
         \x20         B: { value: values/B.age }\n",
    ));
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.manifest(&store_block(
        "owned",
        "          B: { value: values/B.age }\n",
    ));
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(emu.names(STORE), ["B"]);
    p.assert_no_value_leaked(&[]);
}

fn many(p: &Project, n: usize, keep: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let rel = format!("values/S{i}.age");
        if !p.path(&rel).exists() {
            p.seal(&rel, &format!("e2e-many-value-{i}-8d0c"));
        }
        if i < keep {
            s.push_str(&format!("          S{i}: {{ value: {rel} }}\n"));
        }
    }
    s
}

#[test]
fn safety_block_refuses_until_allowed() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.manifest(&store_block("owned", &many(&p, 12, 12)));
    p.run(&["apply", "--auto-approve"]).expect(0);
    // 5 of 12 deletes is over the default 30 %.
    p.manifest(&store_block("owned", &many(&p, 12, 7)));
    let plan = p.run(&["plan", "--out", "blocked.json"]);
    plan.expect(3);
    assert!(plan.stdout.contains("blocked"), "{}", plan.stdout);
    let apply = p.run(&["apply", "--auto-approve"]);
    apply.expect(3);
    assert!(
        apply.stderr.contains("blocked by a safety rule"),
        "{}",
        apply.stderr
    );
    p.run(&["apply", "blocked.json"]).expect(3);
    assert_eq!(emu.names(STORE).len(), 12, "nothing deleted");
    p.run(&["apply", "--auto-approve", "--allow-deletes", "4"])
        .expect(3);
    // A plan saved with --allow-deletes is applied with it (the reviewed decision).
    p.run(&["plan", "--allow-deletes", "5", "--out", "allowed.json"])
        .expect(0);
    p.run(&["apply", "allowed.json"]).expect(0);
    assert_eq!(emu.names(STORE).len(), 7);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&["blocked.json", "allowed.json"]);
}

#[test]
fn stale_plans_are_refused_naming_the_input() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.seal("values/A.age", "e2e-alpha-value-second-4e4e");

    // The manifest moved.
    p.run(&["plan", "--out", "p.json"]).expect(0);
    let text = std::fs::read_to_string(p.path("cfsecrets.yaml")).unwrap();
    p.write(
        "cfsecrets.yaml",
        &text.replace("first one", "first one edited"),
    );
    let r = p.run(&["apply", "p.json"]);
    r.expect(1);
    assert!(r.stderr.contains("stale: manifest changed"), "{}", r.stderr);
    p.write("cfsecrets.yaml", &text);

    // A value file moved.
    p.run(&["plan", "--out", "p.json"]).expect(0);
    p.seal("values/B.age", "e2e-bravo-value-second-6b6b");
    let r = p.run(&["apply", "p.json"]);
    r.expect(1);
    assert!(
        r.stderr.contains("stale: value file values/B.age changed"),
        "{}",
        r.stderr
    );

    // The live state moved.
    p.run(&["plan", "--out", "p.json"]).expect(0);
    emu.patch_comment(STORE, "C", "edited in the dashboard");
    let r = p.run(&["apply", "p.json"]);
    r.expect(1);
    assert!(
        r.stderr
            .contains("stale: live state of account production changed"),
        "{}",
        r.stderr
    );
    assert!(
        emu.secrets(STORE)[0].1.contains("first one ["),
        "nothing written by a refused apply"
    );

    // A current plan applies without --auto-approve (the file is the approval).
    p.run(&["plan", "--out", "p.json"]).expect(0);
    let r = p.run(&["apply", "p.json"]);
    r.expect(0);
    assert!(
        r.stderr.contains("the saved plan is current"),
        "{}",
        r.stderr
    );
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&["p.json"]);
}

#[test]
fn fork_plan_without_identity() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.seal("values/A.age", "e2e-alpha-value-fork-9c9c");
    p.manifest(&store_block(
        "owned",
        "          A: { value: values/A.age, comment: first one }\n\
         \x20         B: { value: values/B.age, scopes: [workers] }\n\
         \x20         C: { value: { bundle: values/bundle.env.age, key: C } }\n\
         \x20         D: { value: values/B.age }\n",
    ));
    let plan = p.run_without_identity(&["plan", "--detailed-exitcode", "--out", "fork.json"]);
    plan.expect(2);
    assert!(
        plan.all().contains("values were not compared"),
        "{}",
        plan.all()
    );
    assert!(plan.stdout.contains("main/D"), "structural create shown");
    assert!(plan.stdout.contains("main/B"), "scope change shown");
    assert!(
        !plan.stdout.contains("value changed"),
        "values not compared"
    );

    let r = p.run_without_identity(&["apply", "--auto-approve"]);
    r.expect(64);
    assert!(r.stderr.contains("needs an identity"), "{}", r.stderr);
    let r = p.run(&["apply", "fork.json"]);
    r.expect(1);
    assert!(r.stderr.contains("without an identity"), "{}", r.stderr);
    assert_eq!(emu.names(STORE), ["A", "B", "C"]);
    p.assert_no_value_leaked(&["fork.json"]);
}

/// Applies until it succeeds; returns how many runs it took.
fn apply_until_done(p: &Project, limit: usize) -> usize {
    for run in 1..=limit {
        let r = p.run(&["apply", "--auto-approve", "--parallelism", "4"]);
        if r.code == Some(0) {
            return run;
        }
        // A failed run is an orderly stop (exit 1 with the done/failed/not attempted
        // report), or a failed read before any write.
        assert_eq!(r.code, Some(1), "{}", r.all());
        assert!(
            r.stderr.contains("apply stopped after a failure")
                || r.stderr.contains("cannot read the live state"),
            "{}",
            r.stderr
        );
    }
    panic!("apply did not converge in {limit} runs");
}

fn converge_under(faults: FaultConfig, label: &str, max_runs: usize) {
    let emu = Emu::start_with(EmulatorConfig {
        seed: Some(42),
        ..EmulatorConfig::default()
    });
    let p = Project::new(&emu);
    p.manifest(&store_block("owned", &many(&p, 24, 24)));
    emu.set_faults(faults.clone());
    let first = apply_until_done(&p, max_runs);
    let ids_after_first = emu.ids(STORE);
    assert_eq!(
        ids_after_first.len(),
        24,
        "{label}: every secret created once"
    );
    // Second round: rotate a few values, change scopes, rename one, delete two.
    for i in 0..4 {
        p.seal(
            &format!("values/S{i}.age"),
            &format!("e2e-many-rotated-{i}-5a5a"),
        );
    }
    let mut secrets = many(&p, 24, 22).replace(
        "S5: { value: values/S5.age }",
        "S5: { value: values/S5.age, scopes: [workers, ai_gateway] }",
    );
    secrets = secrets.replace(
        "S6: { value: values/S6.age }",
        "S6b: { renamed_from: S6, value: values/S6.age }",
    );
    p.manifest(&store_block("owned", &secrets));
    let second = apply_until_done(&p, max_runs);
    let injected = emu
        .handle()
        .log()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    emu.set_faults(FaultConfig::default());
    let r = p.run(&["plan", "--detailed-exitcode"]);
    r.expect(0);
    let names = emu.names(STORE);
    assert_eq!(names.len(), 22);
    assert!(names.contains(&"S6b".to_string()) && !names.contains(&"S6".to_string()));
    // Nothing desired was lost on the way: every secret still declared under its name kept
    // the id it got in the first round (a delete and re-create would change it).
    let ids_now = emu.ids(STORE);
    for (name, id) in &ids_after_first {
        if ["S6", "S22", "S23"].contains(&name.as_str()) {
            assert!(
                !ids_now.contains_key(name),
                "{label}: {name} should be gone"
            );
        } else {
            assert_eq!(ids_now.get(name), Some(id), "{label}: {name} was replaced");
        }
    }
    eprintln!(
        "{label}: {injected} faults injected; converged after {first} and {second} apply run(s)"
    );
    assert!(injected > 0, "{label}: no fault was injected");
    p.assert_no_value_leaked(&[]);
}

#[test]
fn apply_converges_under_429s_and_5xx() {
    converge_under(
        FaultConfig {
            error_rate: 0.3,
            ..FaultConfig::default()
        },
        "429/5xx at 30%",
        2,
    );
    converge_under(
        FaultConfig {
            error_rate: 0.6,
            ..FaultConfig::default()
        },
        "429/5xx at 60%",
        10,
    );
}

#[test]
fn apply_converges_under_dropped_connections() {
    converge_under(
        FaultConfig {
            drop_rate: 0.3,
            ..FaultConfig::default()
        },
        "dropped connections at 30%",
        2,
    );
    converge_under(
        FaultConfig {
            drop_rate: 0.6,
            ..FaultConfig::default()
        },
        "dropped connections at 60%",
        10,
    );
}

#[test]
fn apply_converges_under_dropped_responses() {
    converge_under(
        FaultConfig {
            drop_response_rate: 0.3,
            ..FaultConfig::default()
        },
        "dropped responses at 30%",
        2,
    );
    converge_under(
        FaultConfig {
            drop_response_rate: 0.7,
            ..FaultConfig::default()
        },
        "dropped responses at 70%",
        10,
    );
}

#[test]
fn apply_converges_under_truncated_and_garbled_answers() {
    converge_under(
        FaultConfig {
            corrupt_rate: 0.3,
            ..FaultConfig::default()
        },
        "spoiled answers at 30%",
        2,
    );
    converge_under(
        FaultConfig {
            corrupt_rate: 0.6,
            ..FaultConfig::default()
        },
        "spoiled answers at 60%",
        10,
    );
}

#[test]
fn import_round_trip() {
    let emu = Emu::start();
    let p = three(&emu);
    p.run(&["apply", "--auto-approve"]).expect(0);
    emu.create_by_hand(STORE, "HAND", "e2e-hand-made-2222", "made: by hand");
    p.values.lock().unwrap().push("e2e-hand-made-2222".into());
    let r = p.run(&[
        "import",
        "--account",
        ACCOUNT,
        "--label",
        "production",
        "--out",
        "imported.yaml",
    ]);
    r.expect(0);
    let text = std::fs::read_to_string(p.path("imported.yaml")).unwrap();
    assert_eq!(
        text.matches("\n            value: keep\n").count(),
        4,
        "{text}"
    );
    assert!(text.contains("comment: \"first one\""), "{text}");
    assert!(text.contains("\"made: by hand\""), "{text}");
    assert!(!text.contains("cfsecrets:v1"), "marker split off: {text}");
    p.run(&["check", "-f", "imported.yaml"]).expect(0);
    // Adopting: no creates, no deletes; only markers for the hand-made secret.
    let plan = p.run(&["plan", "-f", "imported.yaml", "--format", "json"]);
    plan.expect(0);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(json["summary"]["secrets_to_create"], 0);
    assert_eq!(json["summary"]["secrets_to_delete"], 0);
    // Never overwrites.
    let again = p.run(&["import", "--account", ACCOUNT, "--out", "imported.yaml"]);
    again.expect(1);
    assert!(again.stderr.contains("already exists"));
    p.assert_no_value_leaked(&["imported.yaml"]);
}

#[test]
fn missing_credentials_are_named() {
    let emu = Emu::start();
    let p = three(&emu);
    p.env
        .lock()
        .unwrap()
        .push(("CLOUDFLARE_API_TOKEN".into(), String::new()));
    let r = p.run(&["plan"]);
    r.expect(1);
    assert!(r.stderr.contains("CLOUDFLARE_API_TOKEN"), "{}", r.stderr);
}

#[test]
fn a_failed_write_stops_the_apply_and_a_rerun_finishes_it() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    p.manifest(&store_block("owned", &many(&p, 4, 4)));
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.seal("values/S0.age", "e2e-stop-rotated-0-1111");
    p.seal("values/S1.age", "e2e-stop-rotated-1-2222");
    p.manifest(&store_block("owned", &many(&p, 4, 3)));
    // Every attempt of the first PATCH fails (the client tries 5 times).
    schedule(
        &emu,
        "PATCH",
        "/stores/{store_id}/secrets/{secret_id}",
        FaultKind::InternalError,
        5,
    );
    let r = p.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    r.expect(1);
    assert!(r.stderr.contains("failed (1):"), "{}", r.stderr);
    assert!(r.stderr.contains("http 500"), "{}", r.stderr);
    assert!(
        r.stderr.contains("not attempted (2):") && r.stderr.contains("delete main/S3"),
        "the other update and the delete stage are not started: {}",
        r.stderr
    );
    assert!(r.stderr.contains("Run `cfsecrets apply` again"));
    assert_eq!(
        emu.names(STORE).len(),
        4,
        "nothing deleted after the failure"
    );
    let r = p.run(&["apply", "--auto-approve"]);
    r.expect(0);
    assert!(r.stdout.contains("3 actions done"), "{}", r.stdout);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&[]);
}

#[test]
fn unknown_outcomes_are_settled_by_relisting() {
    let emu = Emu::start();
    let p = three(&emu);
    // The batch create lands but its answer is lost: a re-list confirms it, nothing resent.
    schedule(
        &emu,
        "POST",
        "/stores/{store_id}/secrets",
        FaultKind::DropResponse,
        1,
    );
    let r = p.run(&["apply", "--auto-approve"]);
    r.expect(0);
    assert!(
        r.stderr
            .contains("create main/A, B, C (confirmed by re-list)"),
        "{}",
        r.stderr
    );
    assert_eq!(emu.count("POST", "/stores/{store_id}/secrets"), 1);

    // The copy of a rename is dropped before it is handled: the re-list finds nothing, so it
    // is sent once more.
    p.manifest(&store_block(
        "owned",
        "          A2: { renamed_from: A, value: values/A.age, comment: first one }\n\
         \x20         B: { value: values/B.age, scopes: [workers, ai_gateway] }\n\
         \x20         C: { value: { bundle: values/bundle.env.age, key: C } }\n",
    ));
    schedule(
        &emu,
        "POST",
        "/stores/{store_id}/secrets/{secret_id}/duplicate",
        FaultKind::Drop,
        1,
    );
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        emu.count("POST", "/stores/{store_id}/secrets/{secret_id}/duplicate"),
        2
    );
    assert_eq!(emu.names(STORE), ["A2", "B", "C"]);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
    p.assert_no_value_leaked(&[]);
}

/// A manifest that only keeps values (e.g. straight after `import`) holds nothing to unseal:
/// it plans and applies metadata changes without any identity.
#[test]
fn keep_only_manifests_need_no_identity() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    emu.create_by_hand(STORE, "KEPT", "e2e-kept-value-never-read-77", "old words");
    p.manifest(&store_block(
        "none",
        "          KEPT: { value: keep, comment: new words, scopes: [workers, ai_gateway] }\n",
    ));
    let plan = p.run_without_identity(&["plan", "--detailed-exitcode"]);
    plan.expect(2);
    assert!(
        !plan.all().contains("values were not compared"),
        "{}",
        plan.all()
    );
    p.run_without_identity(&["apply", "--auto-approve"])
        .expect(0);
    let live = emu.secrets(STORE);
    assert_eq!(live.len(), 1);
    assert!(live[0].1.starts_with("new words"), "{:?}", live[0]);
    assert_eq!(live[0].2, ["ai_gateway", "workers"]);
    p.run_without_identity(&["plan", "--detailed-exitcode"])
        .expect(0);
    for output in p.outputs.lock().unwrap().iter() {
        assert!(!output.contains("e2e-kept-value-never-read-77"), "{output}");
    }
}

#[test]
fn the_apply_summary_counts_the_read_phase_in_its_time() {
    let emu = Emu::start();
    let p = three(&emu);
    // The first list of stores is answered 429 with `Retry-After: 1`; with a 50 ms base
    // delay the client waits 16 times that (800 ms) before it reads again. The writes
    // that follow take milliseconds.
    p.env
        .lock()
        .unwrap()
        .push(("CFSECRETS_RETRY_BASE_MS".into(), "50".into()));
    schedule(&emu, "GET", "/stores", FaultKind::TooManyRequests, 1);
    let r = p.run(&["apply", "--auto-approve"]);
    r.expect(0);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Apply complete: "))
        .unwrap_or_else(|| panic!("no summary:\n{}", r.stdout));
    assert!(line.contains(", 1 retry, "), "{line}");
    let total: f64 = line
        .rsplit_once(", ")
        .and_then(|(_, last)| last.strip_suffix("s in total."))
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("no total in {line}"));
    // A lower bound only: the wait happened, so the total cannot be shorter.
    assert!(
        total >= 0.8,
        "the summary's total ({total}s) leaves out the read phase's 0.8s wait: {line}"
    );
}
