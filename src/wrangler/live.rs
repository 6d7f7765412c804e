//! The checks `plan --wrangler` needs once the live state and the plan are known, over plain
//! inputs so that they do not depend on the planner's types. Pure.
//!
//! * Each binding's `store_id` must be a store of a managed account ([`ManagedStore`]); a
//!   store the plan is about to create has no id yet, and the message says so.
//! * A binding whose store resolves must name a secret that store declares present with the
//!   `workers` scope (offline, only the whole manifest could be searched).
//! * A binding to a secret the plan deletes, renames away or takes `workers` from
//!   ([`PlannedBreak`]) is broken: [`LiveReport::broken`] lists each one with its
//!   `file:line:col`, for the caller to block the plan on.

use std::collections::BTreeMap;

use crate::manifest::{Diagnostic, Diagnostics};

use super::check::{Declared, State, looks_like_store_id};
use super::read::{name_shown, shown};
use super::{Binding, WranglerConfig};

/// A store of a managed account, as the plan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedStore {
    /// The account's manifest label.
    pub account: String,
    pub store: String,
    /// The live id; `None` for a store this plan creates.
    pub id: Option<String>,
}

/// What a plan does to a secret that breaks a binding to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Break {
    /// The secret is deleted.
    Deleted,
    /// The secret is renamed to this name.
    RenamedTo(String),
    /// The secret loses the `workers` scope.
    WorkersRemoved,
}

/// One secret a plan changes in a way that breaks bindings to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBreak {
    pub account: String,
    pub store: String,
    /// The secret's name before the plan.
    pub secret: String,
    pub what: Break,
}

/// A binding the plan would break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenBinding {
    pub binding: Binding,
    pub account: String,
    pub store: String,
    pub what: Break,
}

impl BrokenBinding {
    /// `wrangler.toml:12:3: error: binding `STRIPE` (env `staging`) reads secret …`.
    pub fn diagnostic(&self) -> Diagnostic {
        let b = &self.binding;
        let secret = shown(&b.secret_name.value);
        let place = format!("{}/{}", shown(&self.account), shown(&self.store));
        let what = match &self.what {
            Break::Deleted => format!("this plan deletes secret `{secret}` from {place}"),
            Break::RenamedTo(new) => format!(
                "this plan renames secret `{secret}` in {place} to `{}`; set secret_name to it",
                shown(new)
            ),
            Break::WorkersRemoved => {
                format!("this plan removes the `workers` scope from secret `{secret}` in {place}")
            }
        };
        let called = name_shown(&b.binding.value)
            .map_or("binding".to_string(), |n| format!("binding `{n}`"));
        b.error_at(b.at, format!("{called} ({}) would break: {what}", b.env))
    }
}

/// What [`check_live`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveReport {
    /// Bindings whose `store_id` or secret does not match the managed stores.
    pub diagnostics: Diagnostics,
    /// Bindings the plan would break, in file and position order.
    pub broken: Vec<BrokenBinding>,
}

/// Checks every binding of `configs` against the managed `stores` (with their live ids), the
/// manifest's declarations and the secrets the plan breaks.
pub fn check_live(
    configs: &[WranglerConfig],
    stores: &[ManagedStore],
    declared: &Declared,
    breaks: &[PlannedBreak],
) -> LiveReport {
    let by_id: BTreeMap<&str, &ManagedStore> = stores
        .iter()
        .filter_map(|s| Some((s.id.as_deref()?, s)))
        .collect();
    let pending: Vec<String> = stores
        .iter()
        .filter(|s| s.id.is_none())
        .map(|s| format!("{}/{}", shown(&s.account), shown(&s.store)))
        .collect();
    let mut report = LiveReport::default();
    for b in configs.iter().flat_map(|c| &c.bindings) {
        let Some(store) = by_id.get(b.store_id.value.as_str()) else {
            report.diagnostics.push(unknown_store(b, stores, &pending));
            continue;
        };
        let name = b.secret_name.value.as_str();
        let broken = breaks
            .iter()
            .find(|x| x.account == store.account && x.store == store.store && x.secret == name);
        if let Some(x) = broken {
            report.broken.push(BrokenBinding {
                binding: b.clone(),
                account: x.account.clone(),
                store: x.store.clone(),
                what: x.what.clone(),
            });
            continue;
        }
        let place = format!("{}/{}", shown(&store.account), shown(&store.store));
        let secret = name_shown(name).unwrap_or("(not a secret name)");
        let problem = match declared.in_store(name, &store.account, &store.store) {
            None => Some(format!(
                "store_id names {place}, which does not declare secret `{secret}`"
            )),
            Some(d) => match &d.state {
                State::Absent => Some(format!(
                    "store_id names {place}, where secret `{secret}` is declared `ensure: absent`"
                )),
                s if !s.has_workers() => Some(format!(
                    "store_id names {place}, where secret `{secret}` lacks the `workers` scope"
                )),
                _ => None,
            },
        };
        if let Some(message) = problem {
            report
                .diagnostics
                .push(b.error_at(b.secret_name.pos, message));
        }
    }
    report.diagnostics.sort();
    report
        .broken
        .sort_by(|a, b| (&a.binding.file, a.binding.at).cmp(&(&b.binding.file, b.binding.at)));
    report
}

fn unknown_store(b: &Binding, stores: &[ManagedStore], pending: &[String]) -> Diagnostic {
    let id = &b.store_id.value;
    let mut message = if looks_like_store_id(id) {
        format!("store_id `{id}` is not a store of any managed account")
    } else {
        "store_id is not a store of any managed account".to_string()
    };
    if !pending.is_empty() {
        message.push_str(&format!(
            "; this plan creates {} {}, which {} no id until it is applied: apply it first \
             (without --wrangler), then set store_id from `cfsecrets bindings`",
            if pending.len() == 1 {
                "store"
            } else {
                "stores"
            },
            pending.join(", "),
            if pending.len() == 1 { "has" } else { "have" },
        ));
    } else if stores.is_empty() {
        message.push_str(" (the manifest manages no store)");
    }
    b.error_at(b.store_id.pos, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrangler::{Format, read};
    use std::path::Path;

    const MAIN: &str = "0123456789abcdef0123456789abcdef";
    const OTHER: &str = "fedcba9876543210fedcba9876543210";

    fn config(text: &str) -> WranglerConfig {
        let (config, d) = read::parse(Path::new("wrangler.jsonc"), text, Format::Jsonc);
        assert!(d.is_empty(), "{d}");
        config
    }

    fn declared() -> Declared {
        let mut d = Declared::default();
        let workers = || State::present(&["workers"]);
        d.add("A", "production", "main", workers());
        d.add("B", "production", "main", workers());
        d.add("C", "production", "main", State::present(&["dex"]));
        d.add("D", "production", "main", State::Absent);
        d.add("E", "staging", "other", workers());
        d
    }

    fn stores(other_id: Option<&str>) -> Vec<ManagedStore> {
        vec![
            ManagedStore {
                account: "production".into(),
                store: "main".into(),
                id: Some(MAIN.into()),
            },
            ManagedStore {
                account: "staging".into(),
                store: "other".into(),
                id: other_id.map(Into::into),
            },
        ]
    }

    fn binding(name: &str, store: &str, secret: &str) -> String {
        format!(
            "{{ \"binding\": \"{name}\", \"store_id\": \"{store}\", \"secret_name\": \"{secret}\" }}"
        )
    }

    #[test]
    fn store_ids_must_be_managed_and_a_store_being_created_is_named() {
        let text = format!(
            "{{\n  \"secrets_store_secrets\": [\n    {},\n    {},\n  ],\n}}\n",
            binding("A", MAIN, "A"),
            binding("E", OTHER, "E"),
        );
        let configs = [config(&text)];
        let report = check_live(&configs, &stores(Some(OTHER)), &declared(), &[]);
        assert_eq!(report, LiveReport::default());

        let report = check_live(&configs, &stores(None), &declared(), &[]);
        assert!(report.broken.is_empty());
        assert_eq!(
            report.diagnostics.to_string(),
            format!(
                "wrangler.jsonc:4:35: error: store_id `{OTHER}` is not a store of any managed \
                 account; this plan creates store staging/other, which has no id until it is \
                 applied: apply it first (without --wrangler), then set store_id from \
                 `cfsecrets bindings`"
            )
        );
        // Text that is not an id is not repeated: it may be a value pasted in the wrong place.
        let odd = config(&format!(
            "{{\"secrets_store_secrets\": [{}]}}",
            binding("A", "hunter2 hunter2", "sk live")
        ));
        let report = check_live(&[odd], &stores(Some(OTHER)), &declared(), &[]);
        assert_eq!(
            report.diagnostics.to_string(),
            "wrangler.jsonc:1:58: error: store_id is not a store of any managed account"
        );
        let report = check_live(&configs, &[], &declared(), &[]);
        assert_eq!(report.diagnostics.len(), 2);
        assert!(
            report.diagnostics.0[0]
                .message
                .ends_with("is not a store of any managed account (the manifest manages no store)")
        );
    }

    #[test]
    fn the_named_store_must_declare_the_secret_with_workers() {
        let text = format!(
            "{{\"secrets_store_secrets\": [\n{},\n{},\n{},\n{}\n]}}",
            binding("X", MAIN, "E"),
            binding("Y", MAIN, "C"),
            binding("Z", MAIN, "D"),
            binding("W", OTHER, "A"),
        );
        let report = check_live(&[config(&text)], &stores(Some(OTHER)), &declared(), &[]);
        let got: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            [
                "wrangler.jsonc:2:82: error: store_id names production/main, which does not declare secret `E`",
                "wrangler.jsonc:3:82: error: store_id names production/main, where secret `C` lacks the `workers` scope",
                "wrangler.jsonc:4:82: error: store_id names production/main, where secret `D` is declared `ensure: absent`",
                "wrangler.jsonc:5:82: error: store_id names staging/other, which does not declare secret `A`",
            ]
        );
    }

    #[test]
    fn bindings_to_deleted_renamed_or_unscoped_secrets_are_broken() {
        let text = format!(
            "{{\n  \"secrets_store_secrets\": [{}],\n  \"env\": {{\n    \"staging\": {{ \"secrets_store_secrets\": [\n      {},\n      {},\n      {},\n    ] }},\n  }},\n}}",
            binding("A", MAIN, "A"),
            binding("A", MAIN, "A"),
            binding("B", MAIN, "B"),
            binding("C", MAIN, "C"),
        );
        let breaks = [
            PlannedBreak {
                account: "production".into(),
                store: "main".into(),
                secret: "A".into(),
                what: Break::Deleted,
            },
            PlannedBreak {
                account: "production".into(),
                store: "main".into(),
                secret: "B".into(),
                what: Break::RenamedTo("B2".into()),
            },
            PlannedBreak {
                account: "production".into(),
                store: "main".into(),
                secret: "C".into(),
                what: Break::WorkersRemoved,
            },
            // Same name, another store: no binding reads it.
            PlannedBreak {
                account: "staging".into(),
                store: "other".into(),
                secret: "A".into(),
                what: Break::Deleted,
            },
        ];
        let report = check_live(&[config(&text)], &stores(Some(OTHER)), &declared(), &breaks);
        assert!(!report.broken.is_empty());
        assert!(report.diagnostics.is_empty(), "{}", report.diagnostics);
        let got: Vec<String> = report
            .broken
            .iter()
            .map(|b| b.diagnostic().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "wrangler.jsonc:2:29: error: binding `A` (the top level) would break: this plan deletes secret `A` from production/main",
                "wrangler.jsonc:5:7: error: binding `A` (env `staging`) would break: this plan deletes secret `A` from production/main",
                "wrangler.jsonc:6:7: error: binding `B` (env `staging`) would break: this plan renames secret `B` in production/main to `B2`; set secret_name to it",
                "wrangler.jsonc:7:7: error: binding `C` (env `staging`) would break: this plan removes the `workers` scope from secret `C` in production/main",
            ]
        );
        assert_eq!(report.broken[0].binding.location(), "wrangler.jsonc:2:29");
    }
}
