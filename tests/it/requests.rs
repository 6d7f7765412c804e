//! Request counts: an apply sends exactly the lower bound of requests — per account the quota,
//! the store list and one page per 100 secrets; then one batch create per store, one request
//! per copy, PATCH and delete, and one listing after a store's deletes. What a store holds
//! before its deletes comes from the live state the plan was read from and the answers of the
//! creates, not from another listing; the check after the deletes still notices a secret that
//! vanished since that state was read.

use std::collections::BTreeMap;

use cfsecrets::apply::{Applier, FailureCause};
use cfsecrets::emulator::EmulatorConfig;
use cfsecrets::plan::{self, PlanOptions, ValueFact, ValueFacts};
use cfsecrets::values::{FingerprintKey, Identities, unseal_all};

use crate::support::{ACCOUNT, Emu, Project};

const STORE: &str = "main";

/// `prune: owned` store `main` declaring `S{i}` for each `i` in `keep` and `N{i}` for each
/// `i` in `new`, sealing any value file not sealed yet.
fn manifest(p: &Project, keep: std::ops::Range<usize>, new: std::ops::Range<usize>) {
    let mut secrets = String::new();
    for (prefix, range) in [("S", keep), ("N", new)] {
        for i in range {
            let rel = format!("values/{prefix}{i}.age");
            if !p.path(&rel).exists() {
                p.seal(&rel, &format!("requests-{prefix}-{i}-value-5e1d"));
            }
            secrets.push_str(&format!("          {prefix}{i}: {{ value: {rel} }}\n"));
        }
    }
    p.manifest(&format!(
        "      {STORE}:\n        prune: owned\n        secrets:\n{secrets}"
    ));
}

/// The requests since the log was last cleared, by `METHOD template-after-the-account`, in
/// arrival order of their first appearance.
fn requests(emu: &Emu) -> BTreeMap<String, u64> {
    let prefix = "/accounts/{account_id}/secrets_store";
    let mut counts = BTreeMap::new();
    for r in emu.handle().log() {
        let path = r.path.strip_prefix(prefix).unwrap_or(&r.path);
        *counts.entry(format!("{} {path}", r.method)).or_insert(0) += 1;
    }
    counts
}

fn expected(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Issue 8's S2, scaled down: 3 rotations, 2 creates and 2 deletes in a store of 12. With room
/// in the quota the creates run first; with a quota of 13 the deletes must go first. Either
/// way: 3 reads, 1 batch create, 3 PATCHes, 2 deletes and 1 listing to check them.
#[test]
fn rotations_creates_and_deletes_send_exactly_the_lower_bound() {
    for quota in [100, 13] {
        let emu = Emu::start_with(EmulatorConfig {
            quota,
            ..EmulatorConfig::default()
        });
        let p = Project::new(&emu);
        manifest(&p, 0..12, 0..0);
        p.run(&["apply", "--auto-approve"]).expect(0);
        for i in 0..3 {
            p.seal(
                &format!("values/S{i}.age"),
                &format!("requests-rotated-{i}-77c2"),
            );
        }
        manifest(&p, 0..10, 0..2);
        emu.handle().clear_log();
        p.run(&["apply", "--auto-approve"]).expect(0);
        assert_eq!(
            requests(&emu),
            expected(&[
                ("GET /quota", 1),
                ("GET /stores", 1),
                ("GET /stores/{store_id}/secrets", 2),
                ("POST /stores/{store_id}/secrets", 1),
                ("PATCH /stores/{store_id}/secrets/{secret_id}", 3),
                ("DELETE /stores/{store_id}/secrets/{secret_id}", 2),
            ]),
            "quota {quota}"
        );
        // The order: reads, then (quota 13) deletes and their check before the create.
        let methods: Vec<String> = emu
            .handle()
            .log()
            .iter()
            .map(|r| r.method.clone())
            .collect();
        let first_delete = methods.iter().position(|m| m == "DELETE").unwrap();
        let create = methods.iter().position(|m| m == "POST").unwrap();
        assert_eq!(
            first_delete < create,
            quota == 13,
            "quota {quota}: {methods:?}"
        );
        let names = emu.names(STORE);
        assert_eq!(names.len(), 12, "{names:?}");
        assert!(names.contains(&"N1".to_string()) && !names.contains(&"S11".to_string()));
        p.run(&["plan", "--detailed-exitcode"]).expect(0);
        p.assert_no_value_leaked(&[]);
    }
}

/// A rename copies server-side and then deletes the old name: the copy's answer joins what
/// the store holds, so the delete needs no listing before it.
#[test]
fn a_rename_sends_one_copy_one_delete_and_one_check() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    manifest(&p, 0..4, 0..0);
    p.run(&["apply", "--auto-approve"]).expect(0);
    p.manifest(&format!(
        "      {STORE}:\n        prune: owned\n        secrets:\n\
         \x20         S0: {{ value: values/S0.age }}\n\
         \x20         S1: {{ value: values/S1.age }}\n\
         \x20         S2: {{ value: values/S2.age }}\n\
         \x20         R3: {{ renamed_from: S3, value: values/S3.age }}\n"
    ));
    emu.handle().clear_log();
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        requests(&emu),
        expected(&[
            ("GET /quota", 1),
            ("GET /stores", 1),
            ("GET /stores/{store_id}/secrets", 2),
            ("POST /stores/{store_id}/secrets/{secret_id}/duplicate", 1),
            ("DELETE /stores/{store_id}/secrets/{secret_id}", 1),
        ])
    );
    assert_eq!(emu.names(STORE), ["R3", "S0", "S1", "S2"]);
    p.run(&["plan", "--detailed-exitcode"]).expect(0);
}

/// The check after deletes compares with what the store held when the live state was read: a
/// secret deleted behind the plan's back, between that read and the deletes, is a loud
/// verification failure naming it (the delete that was asked for still happened).
#[test]
fn a_secret_gone_since_the_live_state_was_read_fails_the_delete_check() {
    let emu = Emu::start();
    let p = Project::new(&emu);
    manifest(&p, 0..12, 0..0);
    p.run(&["apply", "--auto-approve"]).expect(0);
    manifest(&p, 0..11, 0..0);

    let (desired, _) = cfsecrets::manifest::load(&p.path("cfsecrets.yaml"), None)
        .into_result()
        .expect("the manifest loads");
    let ids = Identities::from_file(&p.identity).unwrap();
    let key = FingerprintKey::load(&desired.fingerprint_key, &ids).unwrap();
    let (values, problems) = unseal_all(&desired, &ids);
    assert!(problems.is_empty());
    let facts: ValueFacts = values
        .iter()
        .map(|(k, v)| {
            let fact = ValueFact {
                fingerprint: key.fingerprint(v),
                len: v.len(),
            };
            (k.clone(), fact)
        })
        .collect();
    let client = emu.client();
    let account = cfsecrets::domain::AccountId::parse(ACCOUNT).unwrap();
    let live = emu
        .block_on(cfsecrets::live::fetch(&client, &[account]))
        .unwrap();
    let plan = plan::diff(&desired, &live, &facts, &PlanOptions::default());
    assert_eq!(plan.summary.secrets_to_delete, 1, "S11 leaves");

    // Behind the plan's back, after the live state was read.
    let gone = emu.ids(STORE)["S5"].clone();
    let store_id = live.accounts[0].stores[0].id.clone();
    emu.block_on(client.delete_secret(ACCOUNT, store_id.as_str(), &gone))
        .unwrap();

    emu.handle().clear_log();
    let applier = Applier {
        client: &client,
        live: &live,
        values: &values,
        fingerprint_key: Some(&key),
        parallelism: 4,
    };
    let checked = applier
        .precheck(plan::check_appliable(&plan).unwrap())
        .unwrap();
    let report = emu.block_on(applier.run(checked, &|_| {}));
    assert_eq!(report.done, ["production: delete main/S11"]);
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failure = &report.failed[0];
    assert_eq!(failure.cause, FailureCause::Verification);
    assert_eq!(failure.action, "production: verify deletes in main");
    assert!(
        failure.error.contains("vanished") && failure.error.ends_with(": S5"),
        "{}",
        failure.error
    );
    assert_eq!(
        requests(&emu),
        expected(&[
            ("GET /stores/{store_id}/secrets", 1),
            ("DELETE /stores/{store_id}/secrets/{secret_id}", 1),
        ]),
        "one listing, after the delete"
    );
    let names = emu.names(STORE);
    assert!(!names.contains(&"S11".to_string()) && names.len() == 10);
}
