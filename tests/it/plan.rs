//! The planner: every rule on small hand-built states, snapshots of the three renderings for
//! a plan with every action kind, the schema drift check, and property tests over random
//! desired and live states (converges, ordered, nothing desired lost, never leaks a value).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use cfsecrets::domain::{AccountId, Fingerprint, Scope, SecretName};
use cfsecrets::live::{LiveAccount, LiveSecret, LiveState, LiveStore, Quota, SecretStatus};
use cfsecrets::manifest::{
    Desired, DesiredAccount, DesiredSecret, DesiredStore, PresentSecret, Prune, Safety, ValueSource,
};
use cfsecrets::output::Palette;
use cfsecrets::plan::marker::{self, Marker};
use cfsecrets::plan::simulate::{simulate, simulate_steps};
use cfsecrets::plan::{
    self, ActionKind, DeleteCause, Plan, PlanOptions, Stage, ValueChange, ValueFingerprints, render,
};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha2::Sha256;

// ---------------------------------------------------------------- builders

const PROD: &str = "0123456789abcdef0123456789abcdef";
const STAGING: &str = "fedcba9876543210fedcba9876543210";
const STORE: &str = "default_secrets_store";

/// Test-only stand-in for the values room's keyed fingerprint.
fn fingerprint(value: &str) -> Fingerprint {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"test fingerprint key").unwrap();
    mac.update(value.as_bytes());
    let out = mac.finalize().into_bytes();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&out[..8]);
    Fingerprint::from_bytes(bytes)
}

fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

fn scopes(list: &[Scope]) -> BTreeSet<Scope> {
    list.iter().copied().collect()
}

fn present(value: ValueSource, sc: &[Scope]) -> PresentSecret {
    PresentSecret {
        value,
        scopes: scopes(sc),
        comment: None,
        protect: false,
        renamed_from: None,
    }
}

fn file(n: &str) -> ValueSource {
    ValueSource::File(PathBuf::from(format!("values/{n}.age")))
}

fn desired_one(secrets: Vec<(&str, DesiredSecret)>, prune: Prune, safety: Safety) -> Desired {
    Desired {
        manifest_path: PathBuf::from("cfsecrets.yaml"),
        base_dir: PathBuf::from("."),
        recipients_file: PathBuf::from(".age-recipients"),
        fingerprint_key: PathBuf::from("keys/fingerprint.age"),
        safety,
        accounts: vec![DesiredAccount {
            label: "production".into(),
            account_id: AccountId::parse(PROD).unwrap(),
            stores: vec![DesiredStore {
                name: STORE.into(),
                prune,
                secrets: secrets.into_iter().map(|(n, s)| (name(n), s)).collect(),
            }],
        }],
    }
}

fn owned(fp: Option<&str>, protect: bool, user: &str) -> String {
    marker::join(
        user,
        &Marker {
            fingerprint: fp.map(fingerprint),
            protect,
        },
    )
}

fn secret(id: &str, n: &str, comment: &str, sc: &[&str]) -> LiveSecret {
    LiveSecret {
        id: id.into(),
        name: n.into(),
        status: SecretStatus::Active,
        comment: comment.into(),
        scopes: sc.iter().map(|s| s.to_string()).collect(),
        created: "2026-01-01T00:00:00Z".into(),
        modified: "2026-01-01T00:00:00Z".into(),
    }
}

fn live_one(mut secrets: Vec<LiveSecret>, quota: Option<Quota>) -> LiveState {
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    LiveState {
        accounts: vec![LiveAccount {
            account_id: AccountId::parse(PROD).unwrap(),
            quota,
            stores: vec![LiveStore {
                id: "store1".into(),
                name: STORE.into(),
                created: "2026-01-01T00:00:00Z".into(),
                modified: "2026-01-01T00:00:00Z".into(),
                secrets,
            }],
        }],
    }
}

/// Fingerprints for `(secret, value)` pairs in the single production store.
fn fps(pairs: &[(&str, &str)]) -> ValueFingerprints {
    pairs
        .iter()
        .map(|(n, v)| {
            (
                ("production".to_string(), STORE.to_string(), name(n)),
                fingerprint(v),
            )
        })
        .collect()
}

fn no_safety() -> Safety {
    Safety {
        max_deletes: None,
        max_delete_percent: None,
        min_existing: 0,
    }
}

fn plan_of(desired: &Desired, live: &LiveState, values: &ValueFingerprints) -> Plan {
    plan::diff(desired, live, Some(values), &PlanOptions::default())
}

fn kinds(plan: &Plan) -> Vec<(Stage, ActionKind, Vec<String>)> {
    plan.actions()
        .map(|(_, a)| {
            (
                a.stage,
                a.kind,
                a.secrets.iter().map(|s| s.name.clone()).collect(),
            )
        })
        .collect()
}

/// Applies the plan in memory and plans again with the same inputs.
fn replan(desired: &Desired, live: &LiveState, values: &ValueFingerprints) -> (LiveState, Plan) {
    let first = plan_of(desired, live, values);
    let after = simulate(live, &first).expect("simulated apply");
    let second = plan_of(desired, &after, values);
    (after, second)
}

// ---------------------------------------------------------------- rules

#[test]
fn a_missing_secret_is_created_with_marker_and_value_then_converges() {
    let mut p = present(file("A"), &[Scope::Workers, Scope::AiGateway]);
    p.comment = Some("Stripe live key".into());
    let desired = desired_one(
        vec![("A", DesiredSecret::Present(p))],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(vec![], None);
    let values = fps(&[("A", "alpha")]);
    let plan = plan_of(&desired, &live, &values);
    assert_eq!(
        kinds(&plan),
        vec![(
            Stage::CreateSecrets,
            ActionKind::CreateSecrets,
            vec!["A".into()]
        )]
    );
    let change = &plan.accounts[0].actions[0].secrets[0];
    assert!(change.send_value);
    assert_eq!(
        change.value,
        Some(ValueChange::New {
            new: Some(fingerprint("alpha"))
        })
    );
    assert_eq!(
        change.comment.as_deref(),
        Some(format!("Stripe live key [cfsecrets:v1 fp={}]", fingerprint("alpha")).as_str())
    );
    assert_eq!(plan.summary.write_requests, 1);
    assert_eq!(
        plan.values_needed(),
        vec![("production".into(), STORE.into(), name("A"))]
    );
    let (after, again) = replan(&desired, &live, &values);
    assert!(
        again.is_empty(),
        "{}",
        render::text(&again, &Palette::PLAIN)
    );
    assert_eq!(after.accounts[0].stores[0].secrets[0].scopes.len(), 2);
}

#[test]
fn only_changed_fields_are_updated() {
    let desired = desired_one(
        vec![
            (
                "SAME",
                DesiredSecret::Present(present(file("S"), &[Scope::Workers])),
            ),
            (
                "VAL",
                DesiredSecret::Present(present(file("V"), &[Scope::Workers])),
            ),
            (
                "SCOPES",
                DesiredSecret::Present(present(file("C"), &[Scope::Dex, Scope::Workers])),
            ),
        ],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(
        vec![
            secret("1", "SAME", &owned(Some("s"), false, ""), &["workers"]),
            secret("2", "VAL", &owned(Some("old"), false, ""), &["workers"]),
            // Scopes in another order than declared: compared as sets.
            secret(
                "3",
                "SCOPES",
                &owned(Some("c"), false, ""),
                &["access", "workers"],
            ),
        ],
        None,
    );
    let values = fps(&[("SAME", "s"), ("VAL", "new"), ("SCOPES", "c")]);
    let plan = plan_of(&desired, &live, &values);
    assert_eq!(plan.summary.unchanged, 1);
    let updates: Vec<_> = plan.actions().map(|(_, a)| &a.secrets[0]).collect();
    assert_eq!(updates.len(), 2);
    let scopes_change = updates.iter().find(|c| c.name == "SCOPES").unwrap();
    assert!(!scopes_change.send_value && scopes_change.value.is_none());
    assert!(scopes_change.comment.is_none(), "comment untouched");
    let sc = scopes_change.scopes.as_ref().unwrap();
    assert_eq!(sc.added(), vec!["dex".to_string()]);
    assert_eq!(sc.removed(), vec!["access".to_string()]);
    let val = updates.iter().find(|c| c.name == "VAL").unwrap();
    assert_eq!(
        val.value,
        Some(ValueChange::Changed {
            old: fingerprint("old"),
            new: fingerprint("new")
        })
    );
    assert!(val.send_value && val.scopes.is_none() && val.user_comment.is_none());
    assert!(
        val.comment
            .as_deref()
            .unwrap()
            .contains(&fingerprint("new").to_hex())
    );
    assert!(replan(&desired, &live, &values).1.is_empty());
}

#[test]
fn a_user_comment_round_trips_even_when_it_looks_like_a_marker() {
    let tricky = "see [cfsecrets:v1 fp=0000000000000000 protect]";
    let mut p = present(file("A"), &[Scope::Workers]);
    p.comment = Some(tricky.into());
    let desired = desired_one(
        vec![("A", DesiredSecret::Present(p))],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(vec![secret("1", "A", "old words", &["workers"])], None);
    let values = fps(&[("A", "v")]);
    let plan = plan_of(&desired, &live, &values);
    let c = &plan.accounts[0].actions[0].secrets[0];
    assert_eq!(c.user_comment.as_ref().unwrap().new, tricky);
    let (after, again) = replan(&desired, &live, &values);
    assert!(again.is_empty());
    let (user, m) = marker::split(&after.accounts[0].stores[0].secrets[0].comment);
    assert_eq!(user, tricky);
    assert!(!m.unwrap().protect);
}

#[test]
fn an_unowned_secret_is_written_once_then_owned() {
    let desired = desired_one(
        vec![(
            "A",
            DesiredSecret::Present(present(file("A"), &[Scope::Workers])),
        )],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(vec![secret("1", "A", "made by hand", &["workers"])], None);
    let values = fps(&[("A", "v")]);
    let plan = plan_of(&desired, &live, &values);
    let c = &plan.accounts[0].actions[0].secrets[0];
    assert_eq!(
        c.value,
        Some(ValueChange::Unverified {
            new: Some(fingerprint("v"))
        })
    );
    assert!(c.send_value);
    assert!(c.reason.contains("value not verified"), "{}", c.reason);
    // The declared comment is empty, so the hand-written one goes.
    assert_eq!(c.user_comment.as_ref().unwrap().new, "");
    assert!(replan(&desired, &live, &values).1.is_empty());
}

#[test]
fn value_keep_never_touches_the_value() {
    let desired = desired_one(
        vec![
            (
                "NEW",
                DesiredSecret::Present(present(ValueSource::Keep, &[Scope::Workers])),
            ),
            (
                "HAND",
                DesiredSecret::Present(present(ValueSource::Keep, &[Scope::Workers])),
            ),
            (
                "WAS",
                DesiredSecret::Present(present(ValueSource::Keep, &[Scope::Workers])),
            ),
        ],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(
        vec![
            secret("1", "HAND", "", &["workers"]),
            secret("2", "WAS", &owned(Some("x"), false, ""), &["workers"]),
        ],
        None,
    );
    let plan = plan_of(&desired, &live, &fps(&[]));
    // HAND gains a marker without a fingerprint; WAS keeps its fingerprint: nothing to do.
    let changes: Vec<_> = plan
        .actions()
        .flat_map(|(_, a)| a.secrets.iter())
        .filter(|c| c.name != "NEW")
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].name, "HAND");
    assert!(!changes[0].send_value && changes[0].value.is_none());
    assert_eq!(changes[0].comment.as_deref(), Some("[cfsecrets:v1]"));
    // A keep secret that does not exist cannot be created.
    assert!(plan.has_problems());
    assert!(plan.problems[0].message.contains("value: keep"));
    assert!(plan.values_needed().is_empty());
}

#[test]
fn without_identity_structure_shows_and_values_are_not_compared() {
    let desired = desired_one(
        vec![
            (
                "A",
                DesiredSecret::Present(present(file("A"), &[Scope::Workers])),
            ),
            (
                "B",
                DesiredSecret::Present(present(file("B"), &[Scope::Dex])),
            ),
            (
                "C",
                DesiredSecret::Present(present(file("C"), &[Scope::Workers])),
            ),
        ],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(
        vec![
            secret("1", "A", &owned(Some("maybe"), false, ""), &["workers"]),
            secret("2", "B", &owned(Some("b"), false, ""), &["workers"]),
        ],
        None,
    );
    let plan = plan::diff(&desired, &live, None, &PlanOptions::default());
    assert!(!plan.values_compared);
    assert!(plan.notes[0].contains("values were not compared"));
    let k = kinds(&plan);
    assert_eq!(
        k,
        vec![
            (
                Stage::CreateSecrets,
                ActionKind::CreateSecrets,
                vec!["C".into()]
            ),
            (Stage::Updates, ActionKind::Update, vec!["B".into()]),
        ]
    );
    let create = &plan.accounts[0].actions[0].secrets[0];
    assert_eq!(create.value, Some(ValueChange::New { new: None }));
    let update = &plan.accounts[0].actions[1].secrets[0];
    assert!(
        update.value.is_none() && update.comment.is_none(),
        "scopes only"
    );
    assert!(render::text(&plan, &Palette::PLAIN).contains("values were not compared"));
}

#[test]
fn renames_duplicate_server_side_then_delete_the_old_name() {
    let mut p = present(file("N"), &[Scope::Workers]);
    p.renamed_from = Some(name("OLD"));
    let desired = desired_one(
        vec![("NEW", DesiredSecret::Present(p))],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(
        vec![secret(
            "9",
            "OLD",
            &owned(Some("v"), false, "keep me"),
            &["workers"],
        )],
        None,
    );
    let values = fps(&[("NEW", "v")]);
    let plan = plan_of(&desired, &live, &values);
    assert_eq!(
        kinds(&plan),
        vec![
            (Stage::Duplicates, ActionKind::Duplicate, vec!["NEW".into()]),
            (Stage::Deletes, ActionKind::Delete, vec!["OLD".into()]),
        ]
    );
    let dup = &plan.accounts[0].actions[0].secrets[0];
    assert_eq!(dup.source.as_ref().unwrap().id, "9");
    assert!(!dup.send_value);
    assert_eq!(
        plan.accounts[0].actions[1].secrets[0].delete_cause,
        Some(DeleteCause::Rename)
    );
    assert_eq!(plan.summary.secrets_to_rename, 1);
    assert_eq!(plan.summary.secrets_to_delete, 0);
    assert!(replan(&desired, &live, &values).1.is_empty());

    // The value changes as well: written anew instead of copied.
    let values = fps(&[("NEW", "w")]);
    let plan = plan_of(&desired, &live, &values);
    assert_eq!(
        kinds(&plan),
        vec![
            (
                Stage::CreateSecrets,
                ActionKind::CreateSecrets,
                vec!["NEW".into()]
            ),
            (Stage::Deletes, ActionKind::Delete, vec!["OLD".into()]),
        ]
    );
    assert!(plan.accounts[0].actions[0].secrets[0].send_value);
    assert!(replan(&desired, &live, &values).1.is_empty());
}

#[test]
fn renames_when_both_or_neither_name_exist() {
    let mut p = present(file("N"), &[Scope::Workers]);
    p.renamed_from = Some(name("OLD"));
    let desired = desired_one(
        vec![("NEW", DesiredSecret::Present(p))],
        Prune::Owned,
        no_safety(),
    );
    let values = fps(&[("NEW", "v")]);

    // Done already: nothing.
    let live = live_one(
        vec![secret(
            "1",
            "NEW",
            &owned(Some("v"), false, ""),
            &["workers"],
        )],
        None,
    );
    assert!(plan_of(&desired, &live, &values).is_empty());

    // Interrupted (both exist, old owned): finish by deleting the old name, and say so.
    let live = live_one(
        vec![
            secret("1", "NEW", &owned(Some("v"), false, ""), &["workers"]),
            secret("2", "OLD", &owned(Some("v"), false, ""), &["workers"]),
        ],
        None,
    );
    let plan = plan_of(&desired, &live, &values);
    assert_eq!(
        kinds(&plan),
        vec![(Stage::Deletes, ActionKind::Delete, vec!["OLD".into()])]
    );
    assert!(plan.accounts[0].warnings[0].contains("both exist"));

    // Both exist, old not owned: left alone, and said.
    let live = live_one(
        vec![
            secret("1", "NEW", &owned(Some("v"), false, ""), &["workers"]),
            secret("2", "OLD", "hand made", &["workers"]),
        ],
        None,
    );
    let plan = plan_of(&desired, &live, &values);
    assert!(plan.is_empty());
    assert_eq!(plan.accounts[0].unmanaged[0].name, "OLD");
    assert!(plan.accounts[0].warnings[0].contains("not owned"));

    // Neither exists: a plain create.
    let plan = plan_of(&desired, &live_one(vec![], None), &values);
    assert_eq!(
        kinds(&plan),
        vec![(
            Stage::CreateSecrets,
            ActionKind::CreateSecrets,
            vec!["NEW".into()]
        )]
    );
}

#[test]
fn rename_conflicts_are_problems() {
    let mut a = present(file("A"), &[Scope::Workers]);
    a.renamed_from = Some(name("X"));
    let mut b = present(file("B"), &[Scope::Workers]);
    b.renamed_from = Some(name("X"));
    let mut c = present(file("C"), &[Scope::Workers]);
    c.renamed_from = Some(name("A"));
    let desired = desired_one(
        vec![
            ("A", DesiredSecret::Present(a)),
            ("B", DesiredSecret::Present(b)),
            ("C", DesiredSecret::Present(c)),
        ],
        Prune::Owned,
        no_safety(),
    );
    let plan = plan_of(
        &desired,
        &live_one(vec![], None),
        &fps(&[("A", "a"), ("B", "b"), ("C", "c")]),
    );
    let messages: Vec<_> = plan.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("both declared and the renamed_from"))
    );
    assert!(messages.iter().any(|m| m.contains("several secrets: A, B")));
}

fn prune_case(prune: Prune) -> Plan {
    let desired = desired_one(
        vec![(
            "KEEP",
            DesiredSecret::Present(present(file("K"), &[Scope::Workers])),
        )],
        prune,
        no_safety(),
    );
    let live = live_one(
        vec![
            secret("1", "KEEP", &owned(Some("k"), false, ""), &["workers"]),
            secret("2", "OWNED", &owned(Some("o"), false, ""), &["workers"]),
            secret("3", "HAND", "by hand", &["workers"]),
            secret("4", "GUARD", &owned(None, true, ""), &["workers"]),
        ],
        None,
    );
    plan_of(&desired, &live, &fps(&[("KEEP", "k")]))
}

fn deleted(plan: &Plan) -> Vec<String> {
    plan.actions()
        .filter(|(_, a)| a.kind == ActionKind::Delete)
        .map(|(_, a)| a.secrets[0].name.clone())
        .collect()
}

fn unmanaged(plan: &Plan) -> Vec<String> {
    plan.accounts[0]
        .unmanaged
        .iter()
        .map(|k| k.name.clone())
        .collect()
}

#[test]
fn prune_modes() {
    let owned = prune_case(Prune::Owned);
    assert_eq!(deleted(&owned), vec!["OWNED"]);
    assert_eq!(unmanaged(&owned), vec!["HAND"]);
    assert_eq!(owned.accounts[0].protected[0].name, "GUARD");

    let all = prune_case(Prune::All);
    assert_eq!(deleted(&all), vec!["HAND", "OWNED"]);
    assert!(unmanaged(&all).is_empty());
    assert_eq!(all.accounts[0].protected[0].name, "GUARD");

    let none = prune_case(Prune::None);
    assert!(deleted(&none).is_empty());
    assert_eq!(unmanaged(&none), vec!["GUARD", "HAND", "OWNED"]);
    assert!(none.accounts[0].protected.is_empty());
}

#[test]
fn ensure_absent_deletes_by_name_unless_protected() {
    let desired = desired_one(
        vec![
            ("GONE", DesiredSecret::Absent),
            ("NEVER", DesiredSecret::Absent),
            ("GUARD", DesiredSecret::Absent),
        ],
        Prune::None,
        no_safety(),
    );
    let live = live_one(
        vec![
            secret("1", "GONE", "hand made, unowned", &["workers"]),
            secret("2", "GUARD", &owned(Some("g"), true, ""), &["workers"]),
        ],
        None,
    );
    let plan = plan_of(&desired, &live, &fps(&[]));
    assert_eq!(deleted(&plan), vec!["GONE"]);
    assert_eq!(
        plan.accounts[0].actions[0].secrets[0].delete_cause,
        Some(DeleteCause::EnsureAbsent)
    );
    assert_eq!(plan.accounts[0].protected[0].name, "GUARD");
    assert!(
        plan.accounts[0].protected[0]
            .reason
            .contains("protect: false")
    );
}

#[test]
fn protection_must_be_removed_by_an_applied_plan_before_a_delete() {
    let values = fps(&[("DB", "d")]);
    let live = live_one(
        vec![secret("1", "DB", &owned(Some("d"), true, ""), &["workers"])],
        None,
    );
    // Removed from the manifest while protected: kept.
    let removed = desired_one(vec![], Prune::Owned, no_safety());
    let plan = plan_of(&removed, &live, &values);
    assert!(plan.is_empty());
    assert_eq!(plan.summary.protected_kept, 1);

    // Declared with protect: false: the marker loses the flag.
    let unprotect = desired_one(
        vec![(
            "DB",
            DesiredSecret::Present(present(file("D"), &[Scope::Workers])),
        )],
        Prune::Owned,
        no_safety(),
    );
    let plan = plan_of(&unprotect, &live, &values);
    let c = &plan.accounts[0].actions[0].secrets[0];
    assert_eq!(c.reason, "protect removed");
    assert!(!c.send_value);
    let after = simulate(&live, &plan).unwrap();

    // Now removal deletes it.
    let plan = plan_of(&removed, &after, &values);
    assert_eq!(deleted(&plan), vec!["DB"]);
}

#[test]
fn missing_stores_are_created_and_a_different_live_store_is_noted() {
    let mut desired = desired_one(
        vec![(
            "A",
            DesiredSecret::Present(present(file("A"), &[Scope::Workers])),
        )],
        Prune::Owned,
        no_safety(),
    );
    desired.accounts[0].stores[0].name = "fresh".into();
    let live = live_one(vec![secret("1", "X", "", &["workers"])], None);
    let values: ValueFingerprints = [(
        ("production".to_string(), "fresh".to_string(), name("A")),
        fingerprint("a"),
    )]
    .into_iter()
    .collect();
    let plan = plan_of(&desired, &live, &values);
    assert_eq!(
        kinds(&plan),
        vec![
            (Stage::CreateStores, ActionKind::CreateStore, vec![]),
            (
                Stage::CreateSecrets,
                ActionKind::CreateSecrets,
                vec!["A".into()]
            ),
        ]
    );
    assert_eq!(plan.accounts[0].actions[1].store.id, None);
    assert!(plan.accounts[0].warnings[0].contains("one store per account"));
    assert!(
        plan.accounts[0]
            .notes
            .iter()
            .any(|n| n.contains("not declared"))
    );
    // The undeclared store is never deleted, nor its secrets.
    assert!(deleted(&plan).is_empty());
    let (_, again) = replan(&desired, &live, &values);
    assert!(again.is_empty());
}

#[test]
fn creates_are_batched_per_store_in_chunks() {
    let secrets: Vec<_> = ["A", "B", "C", "D", "E"]
        .iter()
        .map(|n| {
            (
                *n,
                DesiredSecret::Present(present(file(n), &[Scope::Workers])),
            )
        })
        .collect();
    let desired = desired_one(secrets, Prune::Owned, no_safety());
    let values = fps(&[("A", "a"), ("B", "b"), ("C", "c"), ("D", "d"), ("E", "e")]);
    let options = PlanOptions {
        batch_size: 2,
        ..PlanOptions::default()
    };
    let plan = plan::diff(&desired, &live_one(vec![], None), Some(&values), &options);
    let sizes: Vec<_> = plan.actions().map(|(_, a)| a.secrets.len()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(plan.summary.write_requests, 3);
    assert_eq!(plan.summary.secrets_to_create, 5);
    assert_eq!(plan.accounts[0].actions[2].reason, "batch 3 of 3");
}

fn quota_case(quota: u64, usage: u64, rename: bool) -> Plan {
    let mut secrets = vec![
        (
            "N1",
            DesiredSecret::Present(present(file("1"), &[Scope::Workers])),
        ),
        ("GONE", DesiredSecret::Absent),
    ];
    if rename {
        let mut r = present(ValueSource::Keep, &[Scope::Workers]);
        r.renamed_from = Some(name("OLD"));
        secrets.push(("RENAMED", DesiredSecret::Present(r)));
    }
    let desired = desired_one(secrets, Prune::Owned, no_safety());
    let live = live_one(
        vec![
            secret("1", "GONE", "", &["workers"]),
            secret("2", "OLD", &owned(None, false, ""), &["workers"]),
        ],
        Some(Quota { quota, usage }),
    );
    plan_of(&desired, &live, &fps(&[("N1", "1")]))
}

#[test]
fn quota_moves_deletes_first_or_fails_the_plan() {
    // Room enough: normal order.
    let plan = quota_case(5, 2, false);
    assert!(!plan.accounts[0].quota.as_ref().unwrap().deletes_first);
    assert_eq!(
        plan.accounts[0].actions.last().unwrap().stage,
        Stage::Deletes
    );

    // Full, but the end state fits: the non-rename delete runs first, and the plan says so.
    let plan = quota_case(4, 3, true);
    assert!(!plan.has_problems(), "{:?}", plan.problems);
    let q = plan.accounts[0].quota.as_ref().unwrap();
    assert!(q.deletes_first);
    assert_eq!((q.peak, q.end), (4, 3));
    let k = kinds(&plan);
    assert_eq!(
        k[0],
        (Stage::EarlyDeletes, ActionKind::Delete, vec!["GONE".into()])
    );
    assert_eq!(
        k.last().unwrap(),
        &(Stage::Deletes, ActionKind::Delete, vec!["OLD".into()])
    );
    assert!(
        plan.accounts[0]
            .notes
            .iter()
            .any(|n| n.contains("before the creates"))
    );
    let live = live_one(
        vec![
            secret("1", "GONE", "", &["workers"]),
            secret("2", "OLD", &owned(None, false, ""), &["workers"]),
        ],
        Some(Quota { quota: 4, usage: 3 }),
    );
    simulate(&live, &plan).expect("the reordered plan stays under the quota");

    // The end state does not fit: a problem.
    let desired = desired_one(
        ["X", "Y", "Z"]
            .iter()
            .map(|n| {
                (
                    *n,
                    DesiredSecret::Present(present(file(n), &[Scope::Workers])),
                )
            })
            .collect(),
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(vec![], Some(Quota { quota: 2, usage: 0 }));
    let plan = plan_of(&desired, &live, &fps(&[("X", "x"), ("Y", "y"), ("Z", "z")]));
    assert!(
        plan.problems[0]
            .message
            .contains("hold 3 secrets after apply; its quota is 2")
    );

    // The renamed copy needs room before the old name goes: a problem too.
    let plan = quota_case(2, 2, true);
    assert!(plan.has_problems());
    assert!(plan.problems[0].message.contains("renamed"));
}

fn safety_case(live_count: usize, deletes: usize, safety: Safety, allow: Option<u32>) -> Plan {
    let desired = desired_one(vec![], Prune::Owned, safety);
    let live = live_one(
        (0..live_count)
            .map(|i| {
                let comment = if i < deletes {
                    owned(Some("x"), false, "")
                } else {
                    String::new()
                };
                secret(
                    &format!("id{i}"),
                    &format!("S{i:02}"),
                    &comment,
                    &["workers"],
                )
            })
            .collect(),
        None,
    );
    let options = PlanOptions {
        allow_deletes: allow,
        ..PlanOptions::default()
    };
    plan::diff(&desired, &live, Some(&fps(&[])), &options)
}

#[test]
fn safety_thresholds_block_but_still_render() {
    let default = Safety::default(); // 30 %, min 10
    assert!(!safety_case(10, 3, default.clone(), None).is_blocked());
    let blocked = safety_case(10, 4, default.clone(), None);
    assert!(blocked.is_blocked());
    assert_eq!(blocked.blocked[0].rule, "max_delete_percent");
    assert_eq!(deleted(&blocked).len(), 4, "the full plan still renders");
    assert!(render::text(&blocked, &Palette::PLAIN).contains("! blocked"));
    // Small stores are exempt.
    assert!(!safety_case(9, 9, default.clone(), None).is_blocked());
    // max_deletes.
    let counted = Safety {
        max_deletes: Some(2),
        max_delete_percent: None,
        min_existing: 0,
    };
    assert!(!safety_case(3, 2, counted.clone(), None).is_blocked());
    assert_eq!(
        safety_case(3, 3, counted, None).blocked[0].rule,
        "max_deletes"
    );
    // --allow-deletes replaces the thresholds.
    assert!(!safety_case(10, 4, default.clone(), Some(4)).is_blocked());
    assert_eq!(
        safety_case(10, 5, default, Some(4)).blocked[0].rule,
        "allow_deletes"
    );
}

#[test]
fn value_sizes_are_checked_before_any_write() {
    let desired = desired_one(
        vec![
            (
                "BIG",
                DesiredSecret::Present(present(file("B"), &[Scope::Workers])),
            ),
            (
                "MID",
                DesiredSecret::Present(present(file("M"), &[Scope::Workers])),
            ),
        ],
        Prune::Owned,
        no_safety(),
    );
    let key = |n: &str| ("production".to_string(), STORE.to_string(), name(n));
    let options = PlanOptions {
        value_sizes: [(key("BIG"), 65_537), (key("MID"), 2_000)]
            .into_iter()
            .collect(),
        ..PlanOptions::default()
    };
    let values = fps(&[("BIG", "b"), ("MID", "m")]);
    let plan = plan::diff(&desired, &live_one(vec![], None), Some(&values), &options);
    assert_eq!(plan.problems.len(), 1);
    assert_eq!(plan.problems[0].secret.as_deref(), Some("BIG"));
    assert!(plan.accounts[0].warnings[0].contains("MID"));
}

// ---------------------------------------------------------------- the showcase plan

/// Every action kind: store create, create, update (value, scopes, comment, protect),
/// unverified value, rename, delete owned, ensure absent, protected kept, unmanaged, quota
/// reorder, blocked.
fn showcase() -> (Desired, LiveState, ValueFingerprints) {
    let mut desired = desired_one(
        vec![],
        Prune::Owned,
        Safety {
            max_deletes: Some(1),
            max_delete_percent: Some(30),
            min_existing: 5,
        },
    );
    let s = &mut desired.accounts[0].stores[0].secrets;
    let mut add = |n: &str, p: PresentSecret| {
        s.insert(name(n), DesiredSecret::Present(p));
    };
    let mut p = present(file("new"), &[Scope::Workers, Scope::AiGateway]);
    p.comment = Some("Stripe live key".into());
    add("NEW_KEY", p);
    add("VALUE_CHANGED", present(file("vc"), &[Scope::Workers]));
    add(
        "SCOPES_CHANGED",
        present(file("sc"), &[Scope::Workers, Scope::Dex]),
    );
    let mut p = present(file("cc"), &[Scope::Workers]);
    p.comment = Some("Rotated monthly by the payments team".into());
    add("COMMENT_CHANGED", p);
    add("LEGACY", present(file("legacy"), &[Scope::Workers]));
    let mut p = present(ValueSource::Keep, &[Scope::Workers]);
    p.renamed_from = Some(name("SENDGRID_API_KEY"));
    add("SENDGRID_KEY", p);
    let mut p = present(file("db"), &[Scope::Workers]);
    p.protect = true;
    add("DB_URL", p);
    add("UNCHANGED", present(file("u"), &[Scope::Workers]));
    s.insert(name("OLD_TOKEN"), DesiredSecret::Absent);

    desired.accounts.push(DesiredAccount {
        label: "staging".into(),
        account_id: AccountId::parse(STAGING).unwrap(),
        stores: vec![DesiredStore {
            name: "staging_store".into(),
            prune: Prune::Owned,
            secrets: [(
                name("API_TOKEN"),
                DesiredSecret::Present(present(file("st"), &[Scope::Workers])),
            )]
            .into_iter()
            .collect(),
        }],
    });

    let mut live = live_one(
        vec![
            secret(
                "a1",
                "VALUE_CHANGED",
                &owned(Some("vc-old"), false, ""),
                &["workers"],
            ),
            secret(
                "a2",
                "SCOPES_CHANGED",
                &owned(Some("sc"), false, ""),
                &["access", "workers"],
            ),
            secret(
                "a3",
                "COMMENT_CHANGED",
                &owned(Some("cc"), false, "Rotated yearly by the platform team"),
                &["workers"],
            ),
            secret("a4", "LEGACY", "created in the dashboard", &["workers"]),
            secret(
                "a5",
                "SENDGRID_API_KEY",
                &owned(None, false, "mail"),
                &["workers"],
            ),
            secret("a6", "DB_URL", &owned(Some("db"), false, ""), &["workers"]),
            secret(
                "a7",
                "UNCHANGED",
                &owned(Some("u"), false, ""),
                &["workers"],
            ),
            secret("a8", "OLD_TOKEN", "", &["workers"]),
            secret("a9", "RETIRED", &owned(Some("r"), false, ""), &["workers"]),
            secret("b1", "GUARDED", &owned(Some("g"), true, ""), &["workers"]),
            secret("b2", "MANUAL", "made by hand", &["workers"]),
        ],
        Some(Quota {
            quota: 12,
            usage: 11,
        }),
    );
    live.accounts.push(LiveAccount {
        account_id: AccountId::parse(STAGING).unwrap(),
        quota: Some(Quota {
            quota: 100,
            usage: 0,
        }),
        stores: vec![LiveStore {
            id: "st-old".into(),
            name: "legacy_store".into(),
            created: "2026-01-01T00:00:00Z".into(),
            modified: "2026-01-01T00:00:00Z".into(),
            secrets: vec![],
        }],
    });
    let mut values = fps(&[
        ("NEW_KEY", "sk_live_NEWVALUE"),
        ("VALUE_CHANGED", "vc-new"),
        ("SCOPES_CHANGED", "sc"),
        ("COMMENT_CHANGED", "cc"),
        ("LEGACY", "legacy"),
        ("DB_URL", "db"),
        ("UNCHANGED", "u"),
    ]);
    values.insert(
        ("staging".into(), "staging_store".into(), name("API_TOKEN")),
        fingerprint("st"),
    );
    (desired, live, values)
}

fn showcase_plan() -> Plan {
    let (desired, live, values) = showcase();
    plan_of(&desired, &live, &values)
}

#[test]
fn showcase_exercises_every_rule() {
    let plan = showcase_plan();
    let s = &plan.summary;
    assert_eq!(
        (
            s.stores_to_create,
            s.secrets_to_create,
            s.secrets_to_update,
            s.secrets_to_rename,
            s.secrets_to_delete,
            s.protected_kept,
            s.unmanaged,
            s.unchanged
        ),
        (1, 2, 5, 1, 2, 1, 1, 1)
    );
    assert!(plan.is_blocked());
    assert!(plan.accounts[0].quota.as_ref().unwrap().deletes_first);
    let kinds: BTreeSet<_> = plan.actions().map(|(_, a)| a.kind).collect();
    assert_eq!(kinds.len(), 5, "every action kind");
    let (_, live, values) = showcase();
    let (desired, _, _) = showcase();
    let (_, again) = replan(&desired, &live, &values);
    assert!(
        again.is_empty(),
        "{}",
        render::text(&again, &Palette::PLAIN)
    );
}

#[test]
fn snapshot_text() {
    insta::assert_snapshot!(render::text(&showcase_plan(), &Palette::PLAIN));
}

#[test]
fn snapshot_markdown() {
    insta::assert_snapshot!(render::markdown(&showcase_plan()));
}

#[test]
fn snapshot_json() {
    insta::assert_snapshot!(render::json(&showcase_plan()));
}

#[test]
fn colour_only_with_the_ansi_palette() {
    let plan = showcase_plan();
    assert!(!render::text(&plan, &Palette::PLAIN).contains('\x1b'));
    assert!(!render::markdown(&plan).contains('\x1b'));
    assert!(render::text(&plan, &Palette::ANSI).contains("\x1b[32m+"));
}

#[test]
fn comments_cannot_inject_terminal_escapes_or_markdown() {
    let mut p = present(file("A"), &[Scope::Workers]);
    p.comment = Some("\x1b[31mred</details>```".into());
    let desired = desired_one(
        vec![("A", DesiredSecret::Present(p))],
        Prune::Owned,
        no_safety(),
    );
    let plan = plan_of(&desired, &live_one(vec![], None), &fps(&[("A", "a")]));
    let text = render::text(&plan, &Palette::PLAIN);
    assert!(!text.contains('\x1b'), "{text}");
    let md = render::markdown(&plan);
    // The comment sits inside a fence longer than its own backticks, where HTML is inert.
    let open = md.find("````diff\n").expect("a four-backtick fence");
    let close = md[open + 8..].find("\n````\n").expect("closed") + open + 8;
    let at = md.find("red</details>").unwrap();
    assert!(open < at && at < close, "{md}");
    assert_eq!(md[close..].matches("</details>").count(), 1, "{md}");
}

#[test]
fn markdown_stays_under_the_limit_with_a_truncation_note() {
    let secrets: Vec<_> = (0..200).map(|i| format!("SECRET_NUMBER_{i:04}")).collect();
    let desired = desired_one(
        secrets
            .iter()
            .map(|n| {
                (
                    n.as_str(),
                    DesiredSecret::Present(present(file(n), &[Scope::Workers])),
                )
            })
            .collect(),
        Prune::Owned,
        no_safety(),
    );
    let values: ValueFingerprints = secrets
        .iter()
        .map(|n| (("production".into(), STORE.into(), name(n)), fingerprint(n)))
        .collect();
    let plan = plan_of(&desired, &live_one(vec![], None), &values);
    let full = render::markdown(&plan);
    assert!(full.len() < render::MARKDOWN_LIMIT);
    assert!(!full.contains("Truncated"));
    let short = render::markdown_with_limit(&plan, 4_000);
    assert!(short.len() <= 4_000, "{}", short.len());
    assert!(short.contains("**Truncated**"));
    assert!(short.starts_with("### cfsecrets plan\n\n**Plan: 200 to create"));
    assert_eq!(
        short.matches("<details>").count(),
        short.matches("</details>").count()
    );
}

#[test]
fn plans_are_deterministic_and_round_trip_through_json() {
    let a = render::json(&showcase_plan());
    let b = render::json(&showcase_plan());
    assert_eq!(a, b);
    let parsed: Plan = serde_json::from_str(&a).unwrap();
    assert_eq!(parsed, showcase_plan());
}

#[test]
fn schema_has_not_drifted() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json");
    let generated = plan::schema::plan_schema_json();
    if std::env::var_os("CFSECRETS_UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/plan.schema.json is stale; rerun with CFSECRETS_UPDATE_SCHEMAS=1"
    );
    // The showcase document validates structurally against the schema's top-level keys.
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&render::json(&showcase_plan())).unwrap();
    for key in schema["required"].as_array().unwrap() {
        assert!(doc.get(key.as_str().unwrap()).is_some(), "{key}");
    }
}

// ---------------------------------------------------------------- properties

const POOL: [&str; 6] = ["A", "B", "C", "D", "E", "F"];
const COMMENTS: [&str; 4] = ["", "note", "[cfsecrets:v1 protect]", "two words"];

#[derive(Clone, Debug)]
struct LiveGen {
    owned: Option<Option<usize>>, // None: no marker; Some(fp of value index or none)
    protect: bool,
    scopes: Vec<Scope>,
    comment: usize,
}

#[derive(Clone, Debug)]
enum DesiredGen {
    Absent,
    Present {
        value: Option<usize>, // None: keep
        scopes: Vec<Scope>,
        comment: usize,
        protect: bool,
        renamed_from: Option<usize>,
    },
}

fn scopes_gen() -> impl Strategy<Value = Vec<Scope>> {
    proptest::sample::subsequence(Scope::ALL.to_vec(), 1..=3)
}

fn live_gen() -> impl Strategy<Value = LiveGen> {
    (
        proptest::option::of(proptest::option::of(0..3usize)),
        any::<bool>(),
        scopes_gen(),
        0..COMMENTS.len(),
    )
        .prop_map(|(owned, protect, scopes, comment)| LiveGen {
            owned,
            protect,
            scopes,
            comment,
        })
}

fn desired_gen() -> impl Strategy<Value = DesiredGen> {
    prop_oneof![
        1 => Just(DesiredGen::Absent),
        5 => (
            proptest::option::weighted(0.8, 0..3usize),
            scopes_gen(),
            0..COMMENTS.len(),
            any::<bool>(),
            proptest::option::weighted(0.3, 0..POOL.len()),
        )
            .prop_map(|(value, scopes, comment, protect, renamed_from)| DesiredGen::Present {
                value,
                scopes,
                comment,
                protect,
                renamed_from,
            }),
    ]
}

#[derive(Debug, Clone)]
struct World {
    desired: Desired,
    live: LiveState,
    values: ValueFingerprints,
    plaintexts: Vec<String>,
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::btree_map(0..POOL.len(), live_gen(), 0..=POOL.len()),
        proptest::collection::btree_map(0..POOL.len(), desired_gen(), 0..=POOL.len()),
        prop_oneof![Just(Prune::Owned), Just(Prune::All), Just(Prune::None)],
        proptest::collection::vec("[g-z]{24}", 3),
        proptest::option::of(0..4u64),
        any::<bool>(),
    )
        .prop_map(
            |(live_map, desired_map, prune, plaintexts, headroom, store_live)| {
                let secrets: Vec<LiveSecret> = if store_live {
                    live_map
                        .iter()
                        .map(|(i, g)| {
                            let user = COMMENTS[g.comment];
                            let comment = match g.owned {
                                None => user.to_string(),
                                Some(fp) => marker::join(
                                    user,
                                    &Marker {
                                        fingerprint: fp.map(|v| fingerprint(&plaintexts[v])),
                                        protect: g.protect,
                                    },
                                ),
                            };
                            let sc: Vec<&str> = g.scopes.iter().map(|s| s.as_wire()).collect();
                            secret(&format!("live{i}"), POOL[*i], &comment, &sc)
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let count = secrets.len() as u64;
                let mut live = live_one(
                    secrets,
                    headroom.map(|h| Quota {
                        quota: count + h,
                        usage: count,
                    }),
                );
                if !store_live {
                    live.accounts[0].stores.clear();
                }
                let mut values = ValueFingerprints::new();
                let entries: Vec<(&str, DesiredSecret)> = desired_map
                    .iter()
                    .map(|(i, g)| {
                        let d = match g {
                            DesiredGen::Absent => DesiredSecret::Absent,
                            DesiredGen::Present {
                                value,
                                scopes,
                                comment,
                                protect,
                                renamed_from,
                            } => {
                                let source = match value {
                                    Some(v) => {
                                        values.insert(
                                            ("production".into(), STORE.into(), name(POOL[*i])),
                                            fingerprint(&plaintexts[*v]),
                                        );
                                        file(POOL[*i])
                                    }
                                    None => ValueSource::Keep,
                                };
                                DesiredSecret::Present(PresentSecret {
                                    value: source,
                                    scopes: scopes.iter().copied().collect(),
                                    comment: (!COMMENTS[*comment].is_empty())
                                        .then(|| COMMENTS[*comment].to_string()),
                                    protect: *protect,
                                    renamed_from: renamed_from
                                        .filter(|r| r != i)
                                        .map(|r| name(POOL[r])),
                                })
                            }
                        };
                        (POOL[*i], d)
                    })
                    .collect();
                World {
                    desired: desired_one(entries, prune, no_safety()),
                    live,
                    values,
                    plaintexts,
                }
            },
        )
}

fn desired_present_names(desired: &Desired) -> Vec<(String, Option<String>)> {
    desired.accounts[0].stores[0]
        .secrets
        .iter()
        .filter_map(|(n, s)| match s {
            DesiredSecret::Present(p) => Some((
                n.to_string(),
                p.renamed_from.as_ref().map(|r| r.to_string()),
            )),
            DesiredSecret::Absent => None,
        })
        .collect()
}

fn names_in(state: &LiveState) -> BTreeSet<String> {
    state
        .accounts
        .iter()
        .flat_map(|a| &a.stores)
        .flat_map(|s| s.secrets.iter().map(|x| x.name.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn applying_a_plan_converges(w in world()) {
        let plan = plan_of(&w.desired, &w.live, &w.values);
        prop_assume!(!plan.has_problems());
        let after = simulate(&w.live, &plan).map_err(TestCaseError::fail)?;
        let again = plan_of(&w.desired, &after, &w.values);
        prop_assert!(again.is_empty(), "second plan:\n{}", render::text(&again, &Palette::PLAIN));
    }

    #[test]
    fn creates_and_renames_come_before_deletes(w in world()) {
        let plan = plan_of(&w.desired, &w.live, &w.values);
        for account in &plan.accounts {
            let stages: Vec<Stage> = account.actions.iter().map(|a| a.stage).collect();
            let mut sorted = stages.clone();
            sorted.sort();
            prop_assert_eq!(&stages, &sorted, "stages in their fixed order");
            let first_delete = account.actions.iter().position(|a| a.stage == Stage::Deletes);
            let last_write = account.actions.iter().rposition(|a| {
                matches!(a.kind, ActionKind::CreateSecrets | ActionKind::Duplicate | ActionKind::Update)
            });
            if let (Some(d), Some(c)) = (first_delete, last_write) {
                prop_assert!(c < d);
            }
            let deletes_first = account.quota.as_ref().is_some_and(|q| q.deletes_first);
            for a in account.actions.iter().filter(|a| a.stage == Stage::EarlyDeletes) {
                prop_assert!(deletes_first);
                prop_assert_ne!(a.secrets[0].delete_cause, Some(DeleteCause::Rename));
            }
        }
    }

    #[test]
    fn nothing_still_desired_is_ever_absent(w in world()) {
        let plan = plan_of(&w.desired, &w.live, &w.values);
        prop_assume!(!plan.has_problems());
        let before = names_in(&w.live);
        let steps = simulate_steps(&w.live, &plan).map_err(TestCaseError::fail)?;
        for step in &steps {
            let now = names_in(step);
            for (n, from) in desired_present_names(&w.desired) {
                if before.contains(&n) {
                    prop_assert!(now.contains(&n), "{} vanished mid-apply", n);
                }
                if let Some(from) = from
                    && before.contains(&from)
                {
                    prop_assert!(now.contains(&n) || now.contains(&from), "rename {} lost", from);
                }
            }
        }
    }

    #[test]
    fn rendered_plans_never_contain_a_value(w in world()) {
        for values in [Some(&w.values), None] {
            let plan = plan::diff(&w.desired, &w.live, values, &PlanOptions::default());
            let outputs = [
                render::text(&plan, &Palette::PLAIN),
                render::text(&plan, &Palette::ANSI),
                render::markdown(&plan),
                render::json(&plan),
                format!("{plan:?}"),
            ];
            for out in &outputs {
                for v in &w.plaintexts {
                    prop_assert!(!out.contains(v.as_str()));
                }
            }
        }
    }

    #[test]
    fn planning_is_deterministic(w in world()) {
        let a = render::json(&plan_of(&w.desired, &w.live, &w.values));
        let b = render::json(&plan_of(&w.desired.clone(), &w.live.clone(), &w.values.clone()));
        prop_assert_eq!(a, b);
    }
}

#[test]
fn the_showcase_never_contains_a_value() {
    let plan = showcase_plan();
    for out in [
        render::text(&plan, &Palette::PLAIN),
        render::markdown(&plan),
        render::json(&plan),
    ] {
        assert!(!out.contains("sk_live_NEWVALUE"));
        assert!(out.contains(&fingerprint("sk_live_NEWVALUE").short()));
    }
    let _ = BTreeMap::<u8, u8>::new();
}

#[test]
fn a_declared_value_without_a_fingerprint_is_a_problem() {
    let desired = desired_one(
        vec![
            (
                "A",
                DesiredSecret::Present(present(file("A"), &[Scope::Workers])),
            ),
            (
                "K",
                DesiredSecret::Present(present(ValueSource::Keep, &[Scope::Workers])),
            ),
        ],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(vec![secret("1", "K", "", &["workers"])], None);
    let plan = plan_of(&desired, &live, &fps(&[]));
    assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
    assert_eq!(plan.problems[0].secret.as_deref(), Some("A"));
    // Without any identity it is not a problem, just not compared.
    assert!(!plan::diff(&desired, &live, None, &PlanOptions::default()).has_problems());
}

#[test]
fn an_empty_plan_says_so_and_a_digest_round_trips() {
    let desired = desired_one(
        vec![(
            "A",
            DesiredSecret::Present(present(file("A"), &[Scope::Workers])),
        )],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(
        vec![secret("1", "A", &owned(Some("a"), false, ""), &["workers"])],
        None,
    );
    let mut plan = plan_of(&desired, &live, &fps(&[("A", "a")]));
    assert!(plan.is_empty() && !plan.has_changes() && !plan.is_blocked());
    assert_eq!(plan.summary.write_requests, 0);
    assert!(render::text(&plan, &Palette::PLAIN).contains("No changes. 1 unchanged"));
    assert!(render::markdown(&plan).contains("**No changes."));
    plan.digest = Some(plan::PlanDigest {
        manifest: "m".repeat(64),
        values: [("values/A.age".to_string(), "v".repeat(64))]
            .into_iter()
            .collect(),
        live: plan::live_digest(&live),
        live_accounts: Default::default(),
        allow_deletes: None,
    });
    let json = render::json(&plan);
    assert!(json.contains("\"values/A.age\""));
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}

/// Found by `the_quota_holds_at_every_step`: an account already over its quota (the quota
/// was lowered, or other tools wrote) failed every plan, even one with no change at all,
/// because the end count was checked even when nothing is added. Only requests that add
/// secrets can hit the quota.
#[test]
fn an_account_over_its_quota_is_a_problem_only_for_plans_that_add() {
    let values = fps(&[("A", "a"), ("N", "n")]);
    let a = || {
        (
            "A",
            DesiredSecret::Present(present(file("A"), &[Scope::Workers])),
        )
    };
    let over = Some(Quota { quota: 0, usage: 2 });
    let live = live_one(
        vec![
            secret("1", "A", &owned(Some("a"), false, ""), &["workers"]),
            secret("2", "GONE", &owned(Some("g"), false, ""), &["workers"]),
        ],
        over,
    );

    // Unchanged and a delete: nothing is added, so the quota cannot stop it.
    let desired = desired_one(vec![a()], Prune::Owned, no_safety());
    let plan = plan_of(&desired, &live, &values);
    assert!(!plan.has_problems(), "{:?}", plan.problems);
    assert_eq!(deleted(&plan), vec!["GONE"]);
    let after = simulate(&live, &plan).expect("deletes are accepted over the quota");
    assert!(plan_of(&desired, &after, &values).is_empty());

    // Nothing to do at all: an empty plan, not a problem.
    let plan = plan_of(&desired, &after, &values);
    assert!(
        plan.is_empty() && !plan.has_problems(),
        "{:?}",
        plan.problems
    );

    // Adding one while still over: a problem, as before.
    let desired = desired_one(
        vec![
            a(),
            (
                "N",
                DesiredSecret::Present(present(file("N"), &[Scope::Workers])),
            ),
        ],
        Prune::None,
        no_safety(),
    );
    let plan = plan_of(&desired, &live, &values);
    assert!(plan.has_problems());
    assert!(plan.problems[0].message.contains("quota"));
}

/// Found by `deletes_are_justified_and_never_protected`: renaming a protected secret deleted
/// its old name (the minimal case: `A` renamed from `R2`, whose live comment is
/// `[cfsecrets:v1 protect]`). Protection means no plan deletes it until a plan first
/// removes the flag; the rename still makes the new name, and the old one is kept.
#[test]
fn a_rename_never_deletes_a_protected_old_name() {
    let values = fps(&[("NEW", "v")]);
    let desired = desired_one(
        vec![(
            "NEW",
            DesiredSecret::Present(PresentSecret {
                renamed_from: Some(name("OLD")),
                ..present(file("NEW"), &[Scope::Workers])
            }),
        )],
        Prune::Owned,
        no_safety(),
    );
    // The value differs (written anew) or matches (copied server-side).
    for (old_comment, kind) in [
        (owned(None, true, ""), ActionKind::CreateSecrets),
        (owned(Some("v"), true, "db"), ActionKind::Duplicate),
    ] {
        let live = live_one(vec![secret("1", "OLD", &old_comment, &["workers"])], None);
        let plan = plan_of(&desired, &live, &values);
        assert!(
            deleted(&plan).is_empty(),
            "{old_comment}: {:?}",
            kinds(&plan)
        );
        assert_eq!(kinds(&plan)[0].1, kind, "{old_comment}");
        assert_eq!(plan.accounts[0].protected.len(), 1);
        assert_eq!(plan.accounts[0].protected[0].name, "OLD");
        let after = simulate(&live, &plan).unwrap();
        let names: Vec<&str> = after.accounts[0].stores[0]
            .secrets
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["NEW", "OLD"]);
        let again = plan_of(&desired, &after, &values);
        assert!(again.is_empty(), "{:?}", kinds(&again));
        assert_eq!(again.accounts[0].protected[0].name, "OLD");
    }
}
