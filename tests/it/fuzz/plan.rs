//! Saved plan files: what `apply FILE` does with one before its first request (read it as a
//! [`Plan`], check it can be applied, compare its digest and its actions with a plan made
//! now, word its summary), and the renderers, on hand-edited and arbitrary files. Every
//! message `apply` prints from a file is printable; a file that is not a plan is refused with
//! a position inside it.

use std::collections::BTreeMap;

use cfsecrets::output::Palette;
use cfsecrets::plan::{Plan, PlanDigest, check_appliable, render};
use proptest::prelude::*;
use proptest::sample::select;

use super::{JSON, apply, bytes, config, edits, printable};

/// The planner chapter's showcase plan (every action kind, blocked) as `plan --out` writes
/// it, and the same plan unblocked: an appliable plan with a digest.
fn seeds() -> Vec<String> {
    let blocked = crate::plan::showcase_plan();
    let mut appliable = blocked.clone();
    appliable.blocked.clear();
    appliable.digest = Some(digest());
    vec![render::json(&blocked), render::json(&appliable)]
}

fn digest() -> PlanDigest {
    PlanDigest {
        manifest: "aa".repeat(32),
        values: BTreeMap::from([("values/a.age".to_string(), "bb".repeat(32))]),
        live: "cc".repeat(32),
        live_accounts: BTreeMap::from([("production".to_string(), "dd".repeat(32))]),
        allow_deletes: Some(2),
        wrangler: BTreeMap::new(),
        allow_binding_breaks: false,
    }
}

const TOKENS: &[&str] = &[
    "1.5",
    "\"format_version\": 2,",
    "\"values_compared\": false,",
    "\"blocked\": [],",
    "\"problems\": [],",
    "\"digest\": null,",
    "\"stage\": \"deletes\",",
    "\"kind\": \"update\",",
    "\"kind\": \"nope\",",
    "\"send_value\": true,",
    "\"id\": \"\",",
    "\"name\": \"a b\",",
    "\"name\": \"\\u001b[31m\",",
    "\"label\": \"\\u202e\",",
    "\"account_id\": \"xyz\",",
    "\"scopes\": [\"nope\"],",
    "\"fingerprint\": \"zz\",",
    // Inside a string, these reach the text a plan's messages are made of.
    "\\u001b[31m",
    "\\u202e",
    "\u{202e}",
    "\u{7f}",
    "\\n",
    "\\r",
];

/// What `apply FILE` checks and prints, on `text`.
fn check(text: &str) -> Result<(), TestCaseError> {
    let plan = match serde_json::from_str::<Plan>(text) {
        Ok(plan) => plan,
        Err(err) => {
            // `apply` names this position (serde's: lines end at `\n`, columns count bytes).
            let lines: Vec<&str> = text.split('\n').collect();
            let (line, column) = (err.line(), err.column());
            prop_assert!(line >= 1 && line <= lines.len(), "line {line}: {err}");
            prop_assert!(
                column <= lines[line - 1].len() + 1,
                "column {column} of line {line}: {err}"
            );
            return Ok(());
        }
    };
    match check_appliable(&plan) {
        Ok(appliable) => prop_assert!(std::ptr::eq(appliable.plan(), &plan)),
        Err(why) => printable(&why.to_string())?,
    }
    printable(&render::summary_line(&plan))?;
    if let Some(saved) = &plan.digest {
        for moved in digest()
            .moved_since(saved)
            .iter()
            .chain(&saved.moved_since(&digest()))
        {
            printable(moved)?;
        }
    }
    let showcase = crate::plan::showcase_plan();
    prop_assert_eq!(plan.same_actions(&showcase), showcase.same_actions(&plan));
    let _ = plan.values_needed();
    let _ = render::text(&plan, &Palette::PLAIN);
    let _ = render::markdown(&plan);
    let again: Plan = serde_json::from_str(&render::json(&plan)).expect("a plan's JSON reads");
    prop_assert_eq!(again, plan, "a plan read from a file round-trips");
    Ok(())
}

proptest! {
    #![proptest_config(config(300, false))]

    #[test]
    fn edited_plan_files_are_refused_or_read(
        seed in select(seeds()),
        edits in edits(&[JSON, TOKENS]),
    ) {
        check(&apply(&seed, &edits))?;
    }

    #[test]
    fn any_bytes_are_refused_or_read(bytes in bytes()) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check(text)?;
        } else {
            prop_assert!(serde_json::from_slice::<Plan>(&bytes).is_err());
        }
    }
}

#[test]
fn the_seeds_are_read_and_one_is_appliable() {
    let plans: Vec<Plan> = seeds()
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert!(check_appliable(&plans[0]).is_err());
    assert!(check_appliable(&plans[1]).is_ok());
}
