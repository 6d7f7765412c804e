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
use cfsecrets::marker::{self, Marker};
use cfsecrets::output::Palette;
use cfsecrets::plan::simulate::{simulate, simulate_steps};
use cfsecrets::plan::{
    self, ActionKind, DeleteCause, Plan, PlanDigest, PlanOptions, Stage, ValueChange, ValueFact,
    ValueFacts, ValueKey, check_appliable, render,
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

/// What the planner learns of one value: its stand-in fingerprint and its length.
fn fact(value: &str) -> ValueFact {
    ValueFact {
        fingerprint: fingerprint(value),
        len: value.len(),
    }
}

/// Value facts for `(secret, value)` pairs in the single production store.
fn fps(pairs: &[(&str, &str)]) -> ValueFacts {
    pairs
        .iter()
        .map(|(n, v)| (ValueKey::new("production", STORE, name(n)), fact(v)))
        .collect()
}

fn no_safety() -> Safety {
    Safety {
        max_deletes: None,
        max_delete_percent: None,
        min_existing: 0,
    }
}

fn plan_of(desired: &Desired, live: &LiveState, values: &ValueFacts) -> Plan {
    plan::diff(desired, live, values, &PlanOptions::default())
}

fn kinds(plan: &Plan) -> Vec<(Stage, ActionKind, Vec<String>)> {
    plan.actions()
        .map(|(_, a)| {
            (
                a.stage,
                a.kind,
                a.secrets.iter().map(|s| s.name.to_string()).collect(),
            )
        })
        .collect()
}

/// Applies the plan in memory and plans again with the same inputs.
fn replan(desired: &Desired, live: &LiveState, values: &ValueFacts) -> (LiveState, Plan) {
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
        vec![ValueKey::new("production", STORE, name("A"))]
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
    let (user, m) = marker::split(after.accounts[0].stores[0].secrets[0].comment.raw());
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
    let plan = plan::diff(
        &desired,
        &live,
        &ValueFacts::NotCompared,
        &PlanOptions::default(),
    );
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
    assert_eq!(dup.source.as_ref().unwrap().id.as_str(), "9");
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
        .map(|(_, a)| a.secrets[0].name.to_string())
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
    let values: ValueFacts = [(ValueKey::new("production", "fresh", name("A")), fact("a"))]
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
    let plan = plan::diff(&desired, &live_one(vec![], None), &values, &options);
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
    plan::diff(&desired, &live, &fps(&[]), &options)
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
    let sized = |n: &str, value: &str, len: usize| {
        let key = ValueKey::new("production", STORE, name(n));
        let fingerprint = fingerprint(value);
        (key, ValueFact { fingerprint, len })
    };
    let values: ValueFacts = [sized("BIG", "b", 65_537), sized("MID", "m", 2_000)]
        .into_iter()
        .collect();
    let live = live_one(vec![], None);
    let plan = plan::diff(&desired, &live, &values, &PlanOptions::default());
    assert_eq!(plan.problems.len(), 1);
    assert_eq!(plan.problems[0].secret.as_deref(), Some("BIG"));
    // 2,000 bytes is well under the settled 65,536-byte limit: no warning.
    assert!(
        plan.accounts[0].warnings.is_empty(),
        "{:?}",
        plan.accounts[0].warnings
    );
}

// ---------------------------------------------------------------- Workers bindings against a plan

/// A plan that renames OLD to A, takes `workers` from B, deletes C and leaves D alone, and a
/// wrangler config binding all four (top level and env `staging`).
fn binding_plan() -> (
    Desired,
    LiveState,
    Plan,
    Vec<cfsecrets::wrangler::WranglerConfig>,
) {
    let mut a = present(file("A"), &[Scope::Workers]);
    a.renamed_from = Some(name("OLD"));
    let desired = desired_one(
        vec![
            ("A", DesiredSecret::Present(a)),
            (
                "B",
                DesiredSecret::Present(present(file("B"), &[Scope::Dex])),
            ),
            ("C", DesiredSecret::Absent),
            (
                "D",
                DesiredSecret::Present(present(file("D"), &[Scope::Workers])),
            ),
        ],
        Prune::Owned,
        no_safety(),
    );
    let live = live_one(
        vec![
            secret("s-old", "OLD", &owned(Some("a"), false, ""), &["workers"]),
            secret(
                "s-b",
                "B",
                &owned(Some("b"), false, ""),
                &["dex", "workers"],
            ),
            secret("s-c", "C", &owned(Some("c"), false, ""), &["workers"]),
            secret("s-d", "D", &owned(Some("d"), false, ""), &["workers"]),
        ],
        None,
    );
    let plan = plan_of(&desired, &live, &fps(&[("A", "a"), ("B", "b"), ("D", "d")]));
    let entry = |binding: &str, secret: &str| {
        format!(
            "{{ \"binding\": \"{binding}\", \"store_id\": \"store1\", \"secret_name\": \"{secret}\" }}"
        )
    };
    let text = format!(
        "{{\n  \"secrets_store_secrets\": [{}],\n  \"env\": {{ \"staging\": {{ \"secrets_store_secrets\": [\n    {},\n    {},\n    {}\n  ] }} }}\n}}\n",
        entry("OLD_KEY", "OLD"),
        entry("B", "B"),
        entry("C", "C"),
        entry("D", "D"),
    );
    let (config, shape) = cfsecrets::wrangler::read::parse(
        std::path::Path::new("wrangler.jsonc"),
        &text,
        cfsecrets::wrangler::Format::Jsonc,
    );
    assert!(shape.is_empty(), "{shape}");
    (desired, live, plan, vec![config])
}

fn check_bindings(
    desired: &Desired,
    live: &LiveState,
    plan: &Plan,
    configs: &[cfsecrets::wrangler::WranglerConfig],
) -> cfsecrets::wrangler::LiveReport {
    cfsecrets::wrangler::check_live(
        configs,
        &plan::bindings::managed_stores(desired, live),
        &cfsecrets::wrangler::Declared::from_desired(desired),
        &plan::bindings::planned_breaks(plan),
    )
}

#[test]
fn a_plan_that_breaks_bindings_is_blocked_in_every_rendering() {
    use cfsecrets::wrangler::Break;
    let (desired, live, mut plan, configs) = binding_plan();
    let breaks: Vec<(String, Break)> = plan::bindings::planned_breaks(&plan)
        .into_iter()
        .map(|b| (b.secret, b.what))
        .collect();
    assert_eq!(
        breaks,
        [
            ("OLD".to_string(), Break::RenamedTo("A".into())),
            ("B".to_string(), Break::WorkersRemoved),
            ("C".to_string(), Break::Deleted),
        ]
    );
    let report = check_bindings(&desired, &live, &plan, &configs);
    assert!(report.diagnostics.is_empty(), "{}", report.diagnostics);
    assert_eq!(report.broken.len(), 3);
    assert!(!plan.is_blocked());
    let checked = plan::bindings::BindingsChecked {
        bindings: 4,
        configs: 1,
    };
    plan::bindings::record(&mut plan, &live, &report.broken, false, checked);
    assert!(plan.is_blocked());
    let rules: Vec<(&str, Option<&str>, u32, u32)> = plan
        .blocked
        .iter()
        .map(|b| {
            let r = b.binding.as_ref().unwrap();
            (b.rule.as_str(), r.env.as_deref(), b.deletes, b.existing)
        })
        .collect();
    // C is the one non-rename delete in a store of four.
    assert_eq!(
        rules,
        [
            ("workers_binding", None, 1, 4),
            ("workers_binding", Some("staging"), 1, 4),
            ("workers_binding", Some("staging"), 1, 4),
        ]
    );
    let first = plan.blocked[0].binding.as_ref().unwrap();
    assert_eq!(
        (
            first.file.as_str(),
            first.line,
            first.column,
            first.name.as_str(),
            first.secret.as_str()
        ),
        ("wrangler.jsonc", 2, 29, "OLD_KEY", "OLD")
    );

    let text = render::text(&plan, &Palette::PLAIN);
    for line in [
        "note: 4 Workers bindings in 1 wrangler config checked against this plan: 3 bindings would break\n",
        "! blocked: wrangler.jsonc:2:29: binding `OLD_KEY` (the top level) would break: this plan renames secret `OLD` in production/default_secrets_store to `A`; set secret_name to it\n",
        "! blocked: wrangler.jsonc:4:5: binding `B` (env `staging`) would break: this plan removes the `workers` scope from secret `B` in production/default_secrets_store\n",
        "! blocked: wrangler.jsonc:5:5: binding `C` (env `staging`) would break: this plan deletes secret `C` from production/default_secrets_store\n",
        "This plan is blocked by a safety rule; apply will refuse it (use --allow-binding-breaks to allow it).\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let md = render::markdown(&plan);
    assert!(md.contains("> **Blocked by a safety rule**"), "{md}");
    assert!(
        md.contains(
            "> - wrangler.jsonc:5:5: binding &#96;C&#96; (env &#96;staging&#96;) would break"
        ),
        "{md}"
    );
    let json = render::json(&plan);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["blocked"][2]["rule"], "workers_binding");
    assert_eq!(
        doc["blocked"][2]["binding"],
        serde_json::json!({"file": "wrangler.jsonc", "line": 5, "column": 5, "env": "staging", "name": "C", "secret": "C"})
    );
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
    let refused = plan::check_appliable(&plan).unwrap_err();
    assert!(
        refused.to_string().starts_with(
            "the plan is blocked by a safety rule (wrangler.jsonc:2:29: binding `OLD_KEY`"
        ),
        "{refused}"
    );
}

#[test]
fn allowed_binding_breaks_are_warnings_and_a_sound_plan_only_notes_the_check() {
    let (desired, live, mut plan, configs) = binding_plan();
    let report = check_bindings(&desired, &live, &plan, &configs);
    let checked = plan::bindings::BindingsChecked {
        bindings: 4,
        configs: 1,
    };
    plan::bindings::record(&mut plan, &live, &report.broken, true, checked);
    assert!(!plan.is_blocked());
    assert!(plan::check_appliable(&plan).is_ok());
    assert_eq!(plan.accounts[0].warnings.len(), 3);
    let text = render::text(&plan, &Palette::PLAIN);
    assert!(
        text.contains("  warning: wrangler.jsonc:5:5: binding `C` (env `staging`) would break: this plan deletes secret `C` from production/default_secrets_store (allowed by --allow-binding-breaks)\n"),
        "{text}"
    );
    assert!(
        text.contains("3 bindings would break (allowed by --allow-binding-breaks)"),
        "{text}"
    );

    // Once applied, the same bindings against the next (empty) plan: nothing breaks, but the
    // bindings that still read the old secrets no longer match the store.
    let after = simulate(&live, &plan).unwrap();
    let mut next = plan_of(
        &desired,
        &after,
        &fps(&[("A", "a"), ("B", "b"), ("D", "d")]),
    );
    assert!(next.is_empty());
    let report = check_bindings(&desired, &after, &next, &configs);
    assert!(report.broken.is_empty());
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        errors,
        [
            "store_id names production/default_secrets_store, which does not declare secret `OLD`",
            "store_id names production/default_secrets_store, where secret `B` lacks the `workers` scope",
            "store_id names production/default_secrets_store, where secret `C` is declared `ensure: absent`",
        ]
    );
    plan::bindings::record(&mut next, &after, &report.broken, false, checked);
    assert!(!next.is_blocked());
    assert_eq!(
        next.notes,
        ["4 Workers bindings in 1 wrangler config checked against this plan"]
    );
}

// ---------------------------------------------------------------- the showcase plan

/// Every action kind: store create, create, update (value, scopes, comment, protect),
/// unverified value, rename, delete owned, ensure absent, protected kept, unmanaged, quota
/// reorder, blocked.
fn showcase() -> (Desired, LiveState, ValueFacts) {
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
    let production = [
        ("NEW_KEY", "sk_live_NEWVALUE"),
        ("VALUE_CHANGED", "vc-new"),
        ("SCOPES_CHANGED", "sc"),
        ("COMMENT_CHANGED", "cc"),
        ("LEGACY", "legacy"),
        ("DB_URL", "db"),
        ("UNCHANGED", "u"),
    ]
    .map(|(n, v)| (ValueKey::new("production", STORE, name(n)), fact(v)));
    let staging = (
        ValueKey::new("staging", "staging_store", name("API_TOKEN")),
        fact("st"),
    );
    let values = production.into_iter().chain([staging]).collect();
    (desired, live, values)
}

pub(crate) fn showcase_plan() -> Plan {
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

/// Found by the fuzz chapter (in a soak): the safety rules of a hand-edited blocked plan, and
/// the paths and labels of its digest, reached the terminal as written, escapes and all.
#[test]
fn text_from_a_plan_file_is_printable_in_what_apply_says() {
    let mut plan = showcase_plan();
    plan.blocked[0].store = "\u{1b}[2Jmain\u{202e}".to_string();
    let why = check_appliable(&plan).unwrap_err().to_string();
    assert!(why.contains("/\\u{1b}[2Jmain\\u{202e}: "), "{why}");
    let digest = |values: &[&str], labels: &[&str]| PlanDigest {
        manifest: "aa".repeat(32),
        values: values
            .iter()
            .map(|v| (v.to_string(), "bb".repeat(32)))
            .collect(),
        live: "cc".repeat(32),
        live_accounts: labels
            .iter()
            .map(|l| (l.to_string(), "dd".repeat(32)))
            .collect(),
        allow_deletes: None,
        wrangler: BTreeMap::new(),
        allow_binding_breaks: false,
    };
    let now = digest(&["values/a.age"], &["production"]);
    let saved = digest(&["values/a.age", "values/\u{7f}x.age"], &["pro\rduction"]);
    assert_eq!(
        now.moved_since(&saved),
        [
            "value file values/\\u{7f}x.age",
            "live state of account pro\\rduction",
            "live state of account production",
        ]
    );
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
    let values: ValueFacts = secrets
        .iter()
        .map(|n| (ValueKey::new("production", STORE, name(n)), fact(n)))
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
//
// Random worlds: 1–3 accounts, each with 1–3 stores (declared and live, declared but missing
// live, live but undeclared), every secret shape the manifest allows (file and bundle values,
// `value: keep`, `ensure: absent`, `renamed_from` whose source exists live or not, `protect`,
// scope subsets, comments that look like markers), owned live secrets whose fingerprint may
// or may not match and unowned ones, every prune mode, quotas from unknown through tight to
// too small (and accounts already over theirs), safety thresholds with and without
// `--allow-deletes`, and batch sizes that force chunking.
//
// Values are random 24-letter strings over g–z (never hex), mapped to fingerprints by the
// test-only keyed hash `fingerprint` above, so a value can only reach output by a leak.
//
// 256 cases per property; `PROPTEST_CASES` overrides the count and `PROPTEST_RNG_SEED=<u64>`
// fixes the seed of a whole run. Proptest saves a failing case's seed under
// `tests/proptest-regressions/` and replays it first on the next run; once understood, such a
// case becomes a named test in the last section of this file and the file is deleted (never
// committed).

const ACCOUNT_IDS: [&str; 3] = [PROD, STAGING, "00112233445566778899aabbccddeeff"];
const STORE_POOL: [&str; 4] = [STORE, "payments", "legacy", "edge"];
/// Declared names are the first six; `R1`/`R2` are mostly rename sources; the last one is a
/// live name outside the manifest's rules (live names are plain strings).
const NAMES: [&str; 9] = ["A", "B", "C", "D", "E", "F", "R1", "R2", "odd.name"];
const DECLARABLE: usize = 6;
const RENAMEABLE: usize = 8;
const COMMENTS: [&str; 7] = [
    "",
    "note",
    "two words",
    "[cfsecrets:v1 protect]",
    "see [cfsecrets:v1 fp=0011223344556677]",
    " [cfsecrets:v1]",
    "x[cfsecrets:v1]",
];
const VALUE_POOL: usize = 4;
/// A scope the API returned that this build does not know.
const UNKNOWN_SCOPE: &str = "legacy_scope";

#[derive(Clone, Debug)]
enum LiveFp {
    /// A marker without a fingerprint (`value: keep`, never written by us).
    Absent,
    /// The fingerprint of one of the generated values.
    Value(usize),
    /// Some other fingerprint (a value written earlier, now changed).
    Random([u8; 8]),
}

#[derive(Clone, Debug)]
struct LiveSecretGen {
    /// `None`: no marker of ours (unowned); else the fingerprint and the protect flag.
    marker: Option<(LiveFp, bool)>,
    scopes: Vec<Scope>,
    unknown_scope: bool,
    comment: usize,
}

#[derive(Clone, Debug)]
enum ValueGen {
    File(usize),
    Bundle(usize),
    Keep,
}

#[derive(Clone, Debug)]
enum DesiredGen {
    Absent,
    Present {
        value: ValueGen,
        scopes: Vec<Scope>,
        comment: usize,
        protect: bool,
        renamed_from: Option<usize>,
    },
}

#[derive(Clone, Copy, Debug)]
enum Presence {
    Declared,
    Live,
    Both,
}

#[derive(Clone, Debug)]
struct StoreGen {
    presence: Presence,
    prune: Prune,
    /// Keys index `NAMES[..DECLARABLE]`.
    desired: BTreeMap<usize, DesiredGen>,
    /// Keys index `NAMES`.
    live: BTreeMap<usize, LiveSecretGen>,
    /// True: a `value: keep` secret with nothing live to keep becomes a file value (so most
    /// worlds are appliable); false leaves it, and the plan must report a problem.
    keep_only_where_live: bool,
}

#[derive(Clone, Debug)]
struct AccountGen {
    /// Keys index `STORE_POOL`.
    stores: BTreeMap<usize, StoreGen>,
    /// False: the account is missing from the live snapshot.
    live: bool,
    /// Quota minus current usage (negative: already over); `None`: quota unknown.
    headroom: Option<i64>,
}

/// Which generated value; biased to the first so live fingerprints often match.
fn value_index() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 1 => 0..VALUE_POOL]
}

fn scopes_gen() -> impl Strategy<Value = Vec<Scope>> {
    proptest::sample::subsequence(Scope::ALL.to_vec(), 1..=3)
}

fn live_secret_gen() -> impl Strategy<Value = LiveSecretGen> {
    let fp = prop_oneof![
        1 => Just(LiveFp::Absent),
        3 => value_index().prop_map(LiveFp::Value),
        1 => any::<[u8; 8]>().prop_map(LiveFp::Random),
    ];
    (
        proptest::option::weighted(0.7, (fp, proptest::bool::weighted(0.25))),
        scopes_gen(),
        proptest::bool::weighted(0.1),
        0..COMMENTS.len(),
    )
        .prop_map(|(marker, scopes, unknown_scope, comment)| LiveSecretGen {
            marker,
            scopes,
            unknown_scope,
            comment,
        })
}

fn desired_gen() -> impl Strategy<Value = DesiredGen> {
    let value = prop_oneof![
        4 => value_index().prop_map(ValueGen::File),
        2 => value_index().prop_map(ValueGen::Bundle),
        1 => Just(ValueGen::Keep),
    ];
    // Mostly the undeclared R1/R2; sometimes a declared name (a conflict, hence a problem).
    let source = prop_oneof![6 => DECLARABLE..RENAMEABLE, 1 => 0..DECLARABLE];
    prop_oneof![
        1 => Just(DesiredGen::Absent),
        6 => (
            value,
            scopes_gen(),
            0..COMMENTS.len(),
            proptest::bool::weighted(0.25),
            proptest::option::weighted(0.35, source),
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

fn store_gen() -> impl Strategy<Value = StoreGen> {
    (
        prop_oneof![
            1 => Just(Presence::Declared),
            1 => Just(Presence::Live),
            4 => Just(Presence::Both),
        ],
        prop_oneof![Just(Prune::Owned), Just(Prune::All), Just(Prune::None)],
        proptest::collection::btree_map(0..DECLARABLE, desired_gen(), 0..=5),
        // R1/R2 (rename sources) are live more often than other names.
        proptest::collection::btree_map(
            prop_oneof![2 => 0..NAMES.len(), 1 => DECLARABLE..RENAMEABLE],
            live_secret_gen(),
            0..=5,
        ),
        proptest::bool::weighted(0.8),
    )
        .prop_map(
            |(presence, prune, desired, live, keep_only_where_live)| StoreGen {
                presence,
                prune,
                desired,
                live,
                keep_only_where_live,
            },
        )
}

fn account_gen() -> impl Strategy<Value = AccountGen> {
    (
        proptest::collection::btree_map(0..STORE_POOL.len(), store_gen(), 1..=3),
        proptest::bool::weighted(0.9),
        // Over the quota already, tight, or roomy.
        proptest::option::weighted(0.7, prop_oneof![1 => -2i64..0, 2 => 0i64..3, 5 => 3i64..16]),
    )
        .prop_map(|(stores, live, headroom)| AccountGen {
            stores,
            live,
            headroom,
        })
}

fn safety_gen() -> impl Strategy<Value = (Safety, Option<u32>)> {
    let safety = prop_oneof![
        3 => Just(no_safety()),
        1 => Just(Safety::default()),
        2 => (
            proptest::option::of(0..4u32),
            proptest::option::of(0..=100u8),
            0..4u32,
        )
            .prop_map(|(max_deletes, max_delete_percent, min_existing)| Safety {
                max_deletes,
                max_delete_percent,
                min_existing,
            }),
    ];
    (safety, proptest::option::weighted(0.25, 0..4u32))
}

/// One generated world: the inputs of `diff`, plus the plaintexts the fingerprints stand for.
#[derive(Clone, Debug)]
struct World {
    desired: Desired,
    live: LiveState,
    values: ValueFacts,
    options: PlanOptions,
    plaintexts: Vec<String>,
}

fn world() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(account_gen(), 1..=3),
        proptest::collection::vec("[g-z]{24}", VALUE_POOL),
        safety_gen(),
        prop_oneof![Just(plan::DEFAULT_BATCH_SIZE), 1..=3usize],
    )
        .prop_map(
            |(accounts, plaintexts, (safety, allow_deletes), batch_size)| {
                build_world(&accounts, plaintexts, safety, allow_deletes, batch_size)
            },
        )
}

fn build_world(
    accounts: &[AccountGen],
    plaintexts: Vec<String>,
    safety: Safety,
    allow_deletes: Option<u32>,
    batch_size: usize,
) -> World {
    let mut desired_accounts = Vec::new();
    let mut live_accounts = Vec::new();
    let mut values = BTreeMap::new();
    for (i, a) in accounts.iter().enumerate() {
        let label = format!("acct{i}");
        let account_id = AccountId::parse(ACCOUNT_IDS[i]).unwrap();
        let mut stores = Vec::new();
        let mut live_stores = Vec::new();
        for (&s, g) in &a.stores {
            let store_name = STORE_POOL[s];
            if !matches!(g.presence, Presence::Live) {
                let mut secrets = BTreeMap::new();
                for (&n, d) in &g.desired {
                    let secret_name = name(NAMES[n]);
                    let d = match d {
                        DesiredGen::Absent => DesiredSecret::Absent,
                        DesiredGen::Present {
                            value,
                            scopes,
                            comment,
                            protect,
                            renamed_from,
                        } => {
                            let key = ValueKey::new(&label, store_name, secret_name.clone());
                            let value = match value {
                                ValueGen::File(v) => {
                                    values.insert(key, fact(&plaintexts[*v]));
                                    file(&format!("{label}-{store_name}-{n}"))
                                }
                                ValueGen::Bundle(v) => {
                                    values.insert(key, fact(&plaintexts[*v]));
                                    ValueSource::Bundle {
                                        path: PathBuf::from(format!("values/{store_name}.env.age")),
                                        key: NAMES[n].to_string(),
                                    }
                                }
                                ValueGen::Keep => {
                                    let live = |i: usize| {
                                        !matches!(g.presence, Presence::Declared)
                                            && g.live.contains_key(&i)
                                    };
                                    if g.keep_only_where_live
                                        && !live(n)
                                        && !renamed_from.is_some_and(live)
                                    {
                                        values.insert(key, fact(&plaintexts[0]));
                                        file(&format!("{label}-{store_name}-{n}"))
                                    } else {
                                        ValueSource::Keep
                                    }
                                }
                            };
                            DesiredSecret::Present(PresentSecret {
                                value,
                                scopes: scopes.iter().copied().collect(),
                                comment: (!COMMENTS[*comment].is_empty())
                                    .then(|| COMMENTS[*comment].to_string()),
                                protect: *protect,
                                renamed_from: renamed_from.map(|r| name(NAMES[r])),
                            })
                        }
                    };
                    secrets.insert(secret_name, d);
                }
                stores.push(DesiredStore {
                    name: store_name.to_string(),
                    prune: g.prune,
                    secrets,
                });
            }
            if !matches!(g.presence, Presence::Declared) {
                let mut secrets: Vec<LiveSecret> = g
                    .live
                    .iter()
                    .map(|(&n, l)| {
                        let user = COMMENTS[l.comment];
                        let comment = match &l.marker {
                            None => user.to_string(),
                            Some((fp, protect)) => marker::join(
                                user,
                                &Marker {
                                    fingerprint: match fp {
                                        LiveFp::Absent => None,
                                        LiveFp::Value(v) => Some(fingerprint(&plaintexts[*v])),
                                        LiveFp::Random(b) => Some(Fingerprint::from_bytes(*b)),
                                    },
                                    protect: *protect,
                                },
                            ),
                        };
                        let mut sc: Vec<&str> = l.scopes.iter().map(|s| s.as_wire()).collect();
                        if l.unknown_scope {
                            sc.push(UNKNOWN_SCOPE);
                        }
                        secret(&format!("sec-{i}-{s}-{n}"), NAMES[n], &comment, &sc)
                    })
                    .collect();
                secrets.sort_by(|x, y| x.name.cmp(&y.name));
                live_stores.push(LiveStore {
                    id: format!("store-{i}-{s}").into(),
                    name: store_name.to_string(),
                    created: "2026-01-01T00:00:00Z".into(),
                    modified: "2026-01-01T00:00:00Z".into(),
                    secrets,
                });
            }
        }
        desired_accounts.push(DesiredAccount {
            label,
            account_id: account_id.clone(),
            stores,
        });
        if a.live {
            live_stores.sort_by(|x, y| x.name.cmp(&y.name));
            let usage: u64 = live_stores.iter().map(|s| s.secrets.len() as u64).sum();
            live_accounts.push(LiveAccount {
                account_id,
                quota: a.headroom.map(|h| Quota {
                    quota: (usage as i64 + h).max(0) as u64,
                    usage,
                }),
                stores: live_stores,
            });
        }
    }
    let mut desired = desired_one(vec![], Prune::Owned, safety);
    desired.accounts = desired_accounts;
    World {
        desired,
        live: LiveState {
            accounts: live_accounts,
        },
        values: ValueFacts::Compared(values),
        options: PlanOptions {
            allow_deletes,
            batch_size,
        },
        plaintexts,
    }
}

/// (account label, store, secret name).
type Key = (String, String, String);

impl World {
    fn plan(&self) -> Plan {
        self.plan_from(&self.live)
    }

    fn plan_from(&self, live: &LiveState) -> Plan {
        plan::diff(&self.desired, live, &self.values, &self.options)
    }

    fn label(&self, account_id: &AccountId) -> String {
        self.desired
            .accounts
            .iter()
            .find(|a| &a.account_id == account_id)
            .map(|a| a.label.clone())
            .expect("every live account is declared")
    }

    /// Every live secret of `state`, by key.
    fn secrets<'s>(&self, state: &'s LiveState) -> BTreeMap<Key, &'s LiveSecret> {
        let mut out = BTreeMap::new();
        for a in &state.accounts {
            let label = self.label(&a.account_id);
            for s in &a.stores {
                for x in &s.secrets {
                    out.insert((label.clone(), s.name.clone(), x.name.clone()), x);
                }
            }
        }
        out
    }

    fn desired_store(&self, label: &str, store: &str) -> Option<&DesiredStore> {
        self.desired
            .accounts
            .iter()
            .find(|a| a.label == label)?
            .stores
            .iter()
            .find(|s| s.name == store)
    }

    /// Every declared present secret, by key.
    fn present(&self) -> Vec<(Key, &PresentSecret)> {
        let mut out = Vec::new();
        for a in &self.desired.accounts {
            for s in &a.stores {
                for (n, d) in &s.secrets {
                    if let DesiredSecret::Present(p) = d {
                        out.push(((a.label.clone(), s.name.clone(), n.to_string()), p));
                    }
                }
            }
        }
        out
    }

    fn wanted_fp(&self, key: &Key) -> Option<Fingerprint> {
        self.values
            .get(&ValueKey::new(&key.0, &key.1, name(&key.2)))
            .map(|fact| fact.fingerprint)
    }
}

fn appliable(plan: &Plan) -> bool {
    !plan.has_problems() && !plan.is_blocked()
}

fn protected(secret: &LiveSecret) -> bool {
    marker::split(secret.comment.raw())
        .1
        .is_some_and(|m| m.protect)
}

fn account_count(state: &LiveState, account_id: &str) -> u64 {
    state
        .accounts
        .iter()
        .filter(|a| a.account_id.as_str() == account_id)
        .flat_map(|a| &a.stores)
        .map(|s| s.secrets.len() as u64)
        .sum()
}

/// The value fingerprint the simulated API holds for each secret after `plan` runs, tracked
/// beside `simulate` (which keeps no values): a live secret starts with its marker's
/// fingerprint (`None`: unknown), a sent value is the declared one, a duplicate copies its
/// source's. The marker is trusted at the start only; after that only writes count.
fn values_after(w: &World, plan: &Plan) -> BTreeMap<Key, Option<Fingerprint>> {
    let mut held: BTreeMap<Key, Option<Fingerprint>> = w
        .secrets(&w.live)
        .into_iter()
        .map(|(k, s)| {
            (
                k,
                marker::split(s.comment.raw()).1.and_then(|m| m.fingerprint),
            )
        })
        .collect();
    for (account, action) in plan.actions() {
        for c in &action.secrets {
            let key: Key = (
                account.label.clone(),
                action.store.name.clone(),
                c.name.to_string(),
            );
            let sent = || c.send_value.then(|| w.wanted_fp(&key)).flatten();
            match action.kind {
                ActionKind::CreateStore => {}
                ActionKind::CreateSecrets => {
                    held.insert(key.clone(), sent());
                }
                ActionKind::Duplicate => {
                    let source = c.source.as_ref().expect("duplicate has a source");
                    let from = (key.0.clone(), key.1.clone(), source.name.to_string());
                    let v = held.get(&from).copied().flatten();
                    held.insert(key.clone(), v);
                }
                ActionKind::Update => {
                    if c.send_value {
                        held.insert(key.clone(), sent());
                    }
                }
                ActionKind::Delete => {
                    held.remove(&key);
                }
            }
        }
    }
    held
}

/// Checks the end state against the manifest directly (not through the planner).
fn check_end_state(w: &World, plan: &Plan, after: &LiveState) -> Result<(), TestCaseError> {
    let live = w.secrets(after);
    let before = w.secrets(&w.live);
    let held = values_after(w, plan);
    for (key, p) in w.present() {
        let s = live
            .get(&key)
            .ok_or_else(|| TestCaseError::fail(format!("{key:?} missing after apply")))?;
        let wire: BTreeSet<String> = p.scopes.iter().map(|s| s.as_wire().to_string()).collect();
        prop_assert_eq!(&s.scopes, &wire, "scopes of {:?}", key);
        let (user, m) = marker::split(s.comment.raw());
        prop_assert_eq!(
            user.as_str(),
            p.comment.as_deref().unwrap_or(""),
            "user comment of {:?}",
            key
        );
        let m = m.ok_or_else(|| TestCaseError::fail(format!("{key:?} has no marker")))?;
        prop_assert_eq!(m.protect, p.protect, "protect flag of {:?}", key);
        if p.value != ValueSource::Keep {
            let wanted = w.wanted_fp(&key);
            prop_assert_eq!(m.fingerprint, wanted, "marker fingerprint of {:?}", key);
            prop_assert_eq!(
                held.get(&key).copied().flatten(),
                wanted,
                "the value {:?} holds is not the declared one",
                key
            );
        }
    }
    // Undeclared live secrets (rename sources aside) follow the prune mode.
    for ((label, store, n), b) in &before {
        let Some(s) = w.desired_store(label, store) else {
            prop_assert!(live.contains_key(&(label.clone(), store.clone(), n.clone())));
            continue;
        };
        let declared = SecretName::parse(n).is_ok_and(|x| s.secrets.contains_key(&x));
        let source = s.secrets.values().any(|d| {
            matches!(d, DesiredSecret::Present(p) if p.renamed_from.as_ref().is_some_and(|f| f.as_str() == n))
        });
        if declared || source {
            continue;
        }
        let owned = marker::split(b.comment.raw()).1.is_some();
        let goes = !protected(b)
            && match s.prune {
                Prune::All => true,
                Prune::Owned => owned,
                Prune::None => false,
            };
        let key = (label.clone(), store.clone(), n.clone());
        prop_assert_eq!(
            live.contains_key(&key),
            !goes,
            "undeclared {:?} (prune {:?}, owned {}, protected {})",
            key,
            s.prune,
            owned,
            protected(b)
        );
    }
    for a in &w.desired.accounts {
        for s in &a.stores {
            for (n, d) in &s.secrets {
                let key = (a.label.clone(), s.name.clone(), n.to_string());
                if *d == DesiredSecret::Absent && live.contains_key(&key) {
                    prop_assert!(
                        before.get(&key).is_some_and(|b| protected(b)),
                        "{:?} is ensure: absent, unprotected, and still there",
                        key
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    /// (1) Applied by the simulator, an appliable plan reaches the declared state (checked
    /// against the manifest: names, scopes, comments, protect flags, the values held, prune
    /// modes), a second plan is empty, and applying that changes nothing.
    #[test]
    fn applying_a_plan_converges(w in world()) {
        let plan = w.plan();
        if !appliable(&plan) {
            return Ok(());
        }
        let after = simulate(&w.live, &plan).map_err(TestCaseError::fail)?;
        check_end_state(&w, &plan, &after)?;
        let again = w.plan_from(&after);
        prop_assert!(
            again.is_empty() && appliable(&again),
            "second plan is not empty:\n{}",
            render::text(&again, &Palette::PLAIN)
        );
        let twice = simulate(&after, &again).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&twice, &after, "applying the second plan changed the state");
    }

    /// (1b) An apply interrupted after any action converges when run again (apply re-plans
    /// from live state; no journal).
    #[test]
    fn an_interrupted_apply_converges_when_run_again(
        w in world(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let plan = w.plan();
        if !appliable(&plan) || plan.is_empty() {
            return Ok(());
        }
        let steps = simulate_steps(&w.live, &plan).map_err(TestCaseError::fail)?;
        let partial = &steps[cut.index(steps.len())];
        let resumed = w.plan_from(partial);
        prop_assert!(
            !resumed.has_problems(),
            "re-plan after an interruption has problems: {:?}",
            resumed.problems
        );
        if resumed.is_blocked() {
            return Ok(());
        }
        let after = simulate(partial, &resumed).map_err(TestCaseError::fail)?;
        let again = w.plan_from(&after);
        prop_assert!(
            again.is_empty(),
            "third plan is not empty:\n{}",
            render::text(&again, &Palette::PLAIN)
        );
    }

    /// (2) Within each account the stages come in their fixed order; every create, duplicate
    /// and update runs before the first `deletes`-stage delete; early deletes happen only
    /// when the quota check says so and never for a rename's old name.
    #[test]
    fn actions_are_ordered(w in world()) {
        let plan = w.plan();
        for account in &plan.accounts {
            let stages: Vec<Stage> = account.actions.iter().map(|a| a.stage).collect();
            prop_assert!(stages.is_sorted(), "{}: stages out of order: {:?}", account.label, stages);
            let deletes_first = account.quota.as_ref().is_some_and(|q| q.deletes_first);
            let first_delete = account.actions.iter().position(|a| a.stage == Stage::Deletes);
            let last_write = account.actions.iter().rposition(|a| {
                matches!(a.kind, ActionKind::CreateSecrets | ActionKind::Duplicate | ActionKind::Update)
            });
            if let (Some(d), Some(c)) = (first_delete, last_write) {
                prop_assert!(c < d, "{}: a write after a delete", account.label);
            }
            for a in &account.actions {
                let expected = match a.stage {
                    Stage::CreateStores => ActionKind::CreateStore,
                    Stage::CreateSecrets => ActionKind::CreateSecrets,
                    Stage::Duplicates => ActionKind::Duplicate,
                    Stage::Updates => ActionKind::Update,
                    Stage::EarlyDeletes | Stage::Deletes => ActionKind::Delete,
                };
                prop_assert_eq!(a.kind, expected, "{}: kind of a {:?} action", &account.label, a.stage);
                match a.kind {
                    ActionKind::CreateStore => prop_assert!(a.secrets.is_empty()),
                    ActionKind::CreateSecrets => prop_assert!(
                        !a.secrets.is_empty() && a.secrets.len() <= w.options.batch_size,
                        "{}: batch of {} with batch size {}", &account.label, a.secrets.len(), w.options.batch_size
                    ),
                    _ => prop_assert_eq!(a.secrets.len(), 1),
                }
                if a.stage == Stage::EarlyDeletes {
                    prop_assert!(deletes_first, "{}: early delete without the quota saying so", &account.label);
                    prop_assert_ne!(a.secrets[0].delete_cause, Some(DeleteCause::Rename));
                }
                if a.stage == Stage::Deletes && deletes_first {
                    prop_assert_eq!(
                        a.secrets[0].delete_cause, Some(DeleteCause::Rename),
                        "{}: a non-rename delete left after the creates though deletes go first", &account.label
                    );
                }
            }
        }
    }

    /// (3) At no step of an apply is a secret that existed before and is still declared
    /// (under its name, or as the target of a rename from it) absent.
    #[test]
    fn nothing_still_desired_is_ever_absent(w in world()) {
        let plan = w.plan();
        if !appliable(&plan) {
            return Ok(());
        }
        let before = w.secrets(&w.live);
        let steps = simulate_steps(&w.live, &plan).map_err(TestCaseError::fail)?;
        for (i, step) in steps.iter().enumerate() {
            let now = w.secrets(step);
            for (key, p) in w.present() {
                if before.contains_key(&key) {
                    prop_assert!(now.contains_key(&key), "{:?} absent after action {}", key, i);
                }
                if let Some(from) = &p.renamed_from {
                    let old = (key.0.clone(), key.1.clone(), from.to_string());
                    if before.contains_key(&old) {
                        prop_assert!(
                            now.contains_key(&key) || now.contains_key(&old),
                            "rename {:?} -> {:?}: both absent after action {}", old, key, i
                        );
                    }
                }
            }
        }
    }

    /// (4) Every delete names a live secret of a declared store, is not protected, and is
    /// ordered by the manifest: `ensure: absent`, a rename's old name, or pruning (owned with
    /// `prune: owned`, anything with `prune: all`). Nothing is done in undeclared stores.
    #[test]
    fn deletes_are_justified_and_never_protected(w in world()) {
        let plan = w.plan();
        for account in &plan.accounts {
            for action in &account.actions {
                let store = w.desired_store(&account.label, &action.store.name);
                prop_assert!(store.is_some(), "{}: action in undeclared store {}", &account.label, &action.store.name);
                let store = store.unwrap();
                if action.kind != ActionKind::Delete {
                    continue;
                }
                let c = &action.secrets[0];
                let live = w
                    .live
                    .accounts
                    .iter()
                    .find(|a| a.account_id == account.account_id)
                    .and_then(|a| a.store(&store.name))
                    .and_then(|s| s.secrets.iter().find(|x| Some(&x.id) == c.id.as_ref()));
                let live = live.ok_or_else(|| TestCaseError::fail(format!("delete of unknown {:?}", c.id)))?;
                prop_assert_eq!(live.name.as_str(), c.name.as_str());
                prop_assert!(!protected(live), "{}/{}: protected {} deleted", &account.label, &store.name, &c.name);
                let declared = SecretName::parse(c.name.as_str()).ok().and_then(|n| store.secrets.get(&n));
                let rename_source = store.secrets.values().any(|d| matches!(
                    d,
                    DesiredSecret::Present(p) if p.renamed_from.as_ref().is_some_and(|f| f.as_str() == c.name.as_str())
                ));
                let owned = marker::split(live.comment.raw()).1.is_some();
                let ordered = match declared {
                    Some(DesiredSecret::Absent) => true,
                    Some(DesiredSecret::Present(_)) => false,
                    None => rename_source
                        || store.prune == Prune::All
                        || (store.prune == Prune::Owned && owned),
                };
                prop_assert!(
                    ordered,
                    "{}/{}: {} deleted without an order (cause {:?}, prune {:?}, owned {})",
                    &account.label, &store.name, &c.name, c.delete_cause, store.prune, owned
                );
            }
        }
    }

    /// (5) With a known quota: a plan without problems never makes an account exceed it at
    /// any step, and its reported peak and end are what the apply does; a plan whose every
    /// order would exceed it has a problem, and a plan that adds nothing never does.
    #[test]
    fn the_quota_holds_at_every_step(w in world()) {
        let plan = w.plan();
        for account in &plan.accounts {
            let Some(quota) = w
                .live
                .accounts
                .iter()
                .find(|a| a.account_id == account.account_id)
                .and_then(|a| a.quota)
            else {
                continue;
            };
            let changes = |kinds: &[ActionKind]| -> Vec<&plan::SecretChange> {
                account.actions.iter().filter(|a| kinds.contains(&a.kind)).flat_map(|a| &a.secrets).collect()
            };
            let grow = changes(&[ActionKind::CreateSecrets, ActionKind::Duplicate]).len() as i64;
            let deletes = changes(&[ActionKind::Delete]);
            let other = deletes.iter().filter(|d| d.delete_cause != Some(DeleteCause::Rename)).count() as i64;
            let best_peak = quota.usage as i64 - other + grow;
            let quota_problem = plan.problems.iter().any(|p| p.account == account.label && p.message.contains("quota"));
            prop_assert_eq!(
                quota_problem,
                grow > 0 && best_peak > quota.quota as i64,
                "{}: quota {:?}, {} added, {} non-rename deletes: problems {:?}",
                &account.label, quota, grow, other, &plan.problems
            );
        }
        if plan.has_problems() {
            prop_assert!(simulate_steps(&w.live, &plan).is_err(), "a plan with problems was simulated");
            return Ok(());
        }
        let steps = simulate_steps(&w.live, &plan).map_err(TestCaseError::fail)?;
        for account in &plan.accounts {
            let Some(check) = &account.quota else { continue };
            let mut prev = account_count(&w.live, account.account_id.as_str());
            let mut peak = prev;
            for (i, step) in steps.iter().enumerate() {
                let now = account_count(step, account.account_id.as_str());
                if now > prev {
                    prop_assert!(now <= check.quota, "{}: {} secrets after action {}, quota {}", &account.label, now, i, check.quota);
                }
                peak = peak.max(now);
                prev = now;
            }
            prop_assert_eq!(peak, check.peak, "{}: reported peak", &account.label);
            prop_assert_eq!(prev, check.end, "{}: reported end", &account.label);
        }
    }

    /// (6) The same inputs give equal plans and byte-identical JSON, with and without values.
    #[test]
    fn planning_is_deterministic(w in world()) {
        let copy = w.clone();
        for (a, b) in [
            (&w.values, &copy.values),
            (&ValueFacts::NotCompared, &ValueFacts::NotCompared),
        ] {
            let first = plan::diff(&w.desired, &w.live, a, &w.options);
            let second = plan::diff(&copy.desired, &copy.live, b, &copy.options);
            let json = render::json(&first);
            prop_assert_eq!(&json, &render::json(&second));
            prop_assert_eq!(&first, &second);
            // A saved plan reads back as the same plan.
            let back: Plan = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back, &first, "the JSON plan does not read back");
        }
    }

    /// The summary counts what the actions and lists hold.
    #[test]
    fn the_summary_counts_the_plan(w in world()) {
        let plan = w.plan();
        let changes = |kind: ActionKind| plan.actions().filter(move |(_, a)| a.kind == kind).flat_map(|(_, a)| &a.secrets);
        let s = &plan.summary;
        prop_assert_eq!(s.write_requests as usize, plan.actions().count(), "write requests");
        prop_assert_eq!(s.stores_to_create as usize, plan.actions().filter(|(_, a)| a.kind == ActionKind::CreateStore).count(), "stores to create");
        prop_assert_eq!(s.secrets_to_update as usize, changes(ActionKind::Update).count(), "updates");
        prop_assert_eq!(
            s.secrets_to_delete as usize,
            changes(ActionKind::Delete).filter(|c| c.delete_cause != Some(DeleteCause::Rename)).count(),
            "deletes"
        );
        prop_assert_eq!(s.protected_kept as usize, plan.accounts.iter().map(|a| a.protected.len()).sum::<usize>(), "protected");
        prop_assert_eq!(s.unmanaged as usize, plan.accounts.iter().map(|a| a.unmanaged.len()).sum::<usize>(), "unmanaged");
        // Every new secret is a create or a rename; every rename makes at most one.
        let made = changes(ActionKind::CreateSecrets).count() + changes(ActionKind::Duplicate).count();
        prop_assert!(made >= s.secrets_to_create as usize, "creates");
        prop_assert!(made <= (s.secrets_to_create + s.secrets_to_rename) as usize, "creates and renames");
    }

    /// (7) No rendering (text with and without colour, Markdown, JSON, Debug) of any plan
    /// contains a generated value, with or without values compared, before or after apply.
    #[test]
    fn rendered_plans_never_contain_a_value(w in world()) {
        let not_compared = plan::diff(&w.desired, &w.live, &ValueFacts::NotCompared, &w.options);
        let mut plans = vec![w.plan(), not_compared];
        if !plans[0].has_problems()
            && let Ok(after) = simulate(&w.live, &plans[0])
        {
            plans.push(w.plan_from(&after));
        }
        for plan in &plans {
            let outputs = [
                render::text(plan, &Palette::PLAIN),
                render::text(plan, &Palette::ANSI),
                render::markdown(plan),
                render::json(plan),
                format!("{plan:?}"),
            ];
            for out in &outputs {
                for v in &w.plaintexts {
                    prop_assert!(!out.contains(v.as_str()), "a generated value appears in a rendering");
                }
            }
        }
    }

    /// `value: keep` is never written, and a kept secret that exists neither under its name
    /// nor as a live rename source is a plan problem (it cannot be created without a value).
    #[test]
    fn keep_never_sends_a_value_and_needs_a_live_secret(w in world()) {
        let plan = w.plan();
        let live = w.secrets(&w.live);
        for (account, action) in plan.actions() {
            for c in &action.secrets {
                let keep = w
                    .desired_store(&account.label, &action.store.name)
                    .and_then(|s| s.secrets.get(&SecretName::parse(c.name.as_str()).ok()?))
                    .is_some_and(|d| matches!(d, DesiredSecret::Present(p) if p.value == ValueSource::Keep));
                prop_assert!(!(keep && c.send_value), "{} is value: keep but its value is sent", &c.name);
            }
        }
        for (key, p) in w.present() {
            if p.value != ValueSource::Keep || live.contains_key(&key) {
                continue;
            }
            let source_live = p.renamed_from.as_ref().is_some_and(|f| {
                live.contains_key(&(key.0.clone(), key.1.clone(), f.to_string()))
            });
            if !source_live {
                prop_assert!(
                    plan.problems.iter().any(|x| x.secret.as_deref() == Some(key.2.as_str())),
                    "{:?} is value: keep and not live, yet the plan has no problem for it", key
                );
            }
        }
    }

    /// Safety: with `--allow-deletes N` a plan is blocked exactly when a store has more than
    /// N non-rename deletes; every block reason counts the deletes the plan really has.
    #[test]
    fn safety_blocks_match_the_deletes(w in world()) {
        let plan = w.plan();
        let mut per_store: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (account, action) in plan.actions() {
            if action.kind == ActionKind::Delete && action.secrets[0].delete_cause != Some(DeleteCause::Rename) {
                *per_store.entry((account.label.clone(), action.store.name.clone())).or_default() += 1;
            }
        }
        for b in &plan.blocked {
            let n = per_store.get(&(b.account.clone(), b.store.clone())).copied().unwrap_or(0);
            prop_assert_eq!(b.deletes, n, "block reason {:?}", b);
            prop_assert!(n > 0);
        }
        if let Some(allowed) = w.options.allow_deletes {
            prop_assert_eq!(
                plan.is_blocked(),
                per_store.values().any(|&n| n > allowed),
                "allow_deletes {}: {:?} vs {:?}", allowed, &per_store, &plan.blocked
            );
        }
    }
}

/// The properties above are not vacuous: over a fixed sample of worlds (deterministic RNG),
/// every kind of world they are meant to cover occurs. `--nocapture` prints the shares.
#[test]
fn the_generator_covers_every_kind_of_world() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = world();
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    let n = 600;
    for _ in 0..n {
        let w = strategy.new_tree(&mut runner).unwrap().current();
        let plan = w.plan();
        let mut bump = |k: &'static str, on: bool| {
            if on {
                *counts.entry(k).or_default() += 1;
            }
        };
        bump("appliable", appliable(&plan));
        bump("appliable, not empty", appliable(&plan) && !plan.is_empty());
        bump("problems", plan.has_problems());
        bump("blocked", plan.is_blocked());
        bump(
            "appliable with early deletes",
            appliable(&plan)
                && plan
                    .accounts
                    .iter()
                    .any(|a| a.quota.as_ref().is_some_and(|q| q.deletes_first)),
        );
        bump(
            "appliable over its quota",
            appliable(&plan)
                && w.live
                    .accounts
                    .iter()
                    .any(|a| a.quota.is_some_and(|q| q.usage > q.quota)),
        );
        bump(
            "appliable with a duplicate",
            appliable(&plan) && plan.actions().any(|(_, a)| a.kind == ActionKind::Duplicate),
        );
        bump(
            "appliable with a rename delete",
            appliable(&plan)
                && plan.actions().any(|(_, a)| {
                    a.secrets
                        .iter()
                        .any(|c| c.delete_cause == Some(DeleteCause::Rename))
                }),
        );
        bump(
            "appliable with a prune",
            appliable(&plan)
                && plan.actions().any(|(_, a)| {
                    a.secrets
                        .iter()
                        .any(|c| c.delete_cause == Some(DeleteCause::Prune))
                }),
        );
        bump(
            "appliable with a store create",
            appliable(&plan) && plan.summary.stores_to_create > 0,
        );
        bump("has protected kept", plan.summary.protected_kept > 0);
        bump("3 accounts", plan.accounts.len() == 3);
        for (k, needle) in [
            ("problem: keep", "value: keep"),
            ("problem: rename conflict", "renamed_from"),
            ("problem: quota", "quota"),
        ] {
            bump(k, plan.problems.iter().any(|p| p.message.contains(needle)));
        }
    }
    for (k, v) in &counts {
        println!("{k:32} {:5.1}%", f64::from(*v) * 100.0 / f64::from(n));
    }
    // At least 1% of the sample each (observed shares are several times higher), and at
    // least a third of the worlds appliable, so the apply properties run often.
    let kinds = [
        "3 accounts",
        "appliable, not empty",
        "appliable with a duplicate",
        "appliable with a rename delete",
        "appliable with a prune",
        "appliable with a store create",
        "appliable with early deletes",
        "appliable over its quota",
        "blocked",
        "has protected kept",
        "problem: keep",
        "problem: quota",
        "problem: rename conflict",
    ];
    for k in kinds {
        let got = counts.get(k).copied().unwrap_or(0);
        assert!(got * 100 >= n, "{k}: only {got} of {n} worlds");
    }
    assert!(counts["appliable"] * 3 >= n, "too few appliable worlds");
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
    let not_compared = ValueFacts::NotCompared;
    assert!(!plan::diff(&desired, &live, &not_compared, &PlanOptions::default()).has_problems());
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
        wrangler: Default::default(),
        allow_binding_breaks: false,
    });
    let json = render::json(&plan);
    assert!(json.contains("\"values/A.age\""));
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}

// ---------------------------------------------------------------- cases the properties found

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
