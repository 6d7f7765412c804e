//! Whether a saved plan still says what a plan made now says: [`Plan::first_difference`]
//! walks both, account by account and action by action, and names the first place they part
//! — the account (label and id), the store, the secret, and which field differs. `apply FILE`
//! refuses a saved plan that differs (edited by hand, or made with other flags or another
//! version), and its message names that place. Pure.
//!
//! A saved plan is a file anyone may have edited: its own text is shown only when it is
//! plainly a name ([`quoted`]); otherwise the place is named from the plan made now, whose
//! names come from the manifest, and a changed comment or id is said to differ without
//! being repeated.

use std::fmt;

use super::model::{AccountPlan, Action, ActionKind, Plan, SecretChange};

/// The first place where a saved plan and a plan made now differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanDifference {
    /// Where: `account production`, `account production, store main, secret A`, …
    pub place: String,
    /// What differs there, in a few words.
    pub what: String,
}

impl fmt::Display for PlanDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.what)
    }
}

impl Plan {
    /// True when `other` makes the same actions on the same accounts: a saved plan is
    /// applied only if a plan made now from the same inputs agrees with it.
    pub fn same_actions(&self, other: &Plan) -> bool {
        self.first_difference(other).is_none()
    }

    /// The first place where this (saved) plan and `now` differ in what they would do:
    /// the accounts (label and id, in order) and each account's actions, field by field.
    /// Notes, warnings and the lists of kept secrets do not count.
    pub fn first_difference(&self, now: &Plan) -> Option<PlanDifference> {
        for (i, (saved, now)) in self.accounts.iter().zip(&now.accounts).enumerate() {
            if saved.label != now.label {
                return Some(PlanDifference {
                    place: format!("account {} of the plan", i + 1),
                    what: format!(
                        "its label is {} in the saved plan, `{}` now",
                        quoted(&saved.label),
                        now.label
                    ),
                });
            }
            if let Some(difference) = account_difference(saved, now) {
                return Some(difference);
            }
        }
        let (saved, made) = (self.accounts.len(), now.accounts.len());
        if saved > made {
            let extra = &self.accounts[made];
            return Some(PlanDifference {
                place: format!("account {}", quoted(&extra.label)),
                what: "the saved plan has this account; a plan made now does not".to_string(),
            });
        }
        if made > saved {
            return Some(PlanDifference {
                place: format!("account `{}`", now.accounts[saved].label),
                what: "a plan made now has this account; the saved plan does not".to_string(),
            });
        }
        None
    }
}

fn account_difference(saved: &AccountPlan, now: &AccountPlan) -> Option<PlanDifference> {
    let account = format!("account `{}`", now.label);
    if saved.account_id != now.account_id {
        return Some(PlanDifference {
            place: account,
            what: format!(
                "its account id is {} in the saved plan, {} now",
                saved.account_id, now.account_id
            ),
        });
    }
    for (i, (a, b)) in saved.actions.iter().zip(&now.actions).enumerate() {
        if let Some(difference) = action_difference(&account, i, a, b) {
            return Some(difference);
        }
    }
    // One plan has an action more: name the first, from the plan that has it.
    let (s, n) = (saved.actions.len(), now.actions.len());
    let (extra, in_saved, at) = match s.cmp(&n) {
        std::cmp::Ordering::Greater => (&saved.actions[n], true, n),
        std::cmp::Ordering::Less => (&now.actions[s], false, s),
        std::cmp::Ordering::Equal => return None,
    };
    let (has, lacks) = if in_saved {
        ("the saved plan", "a plan made now")
    } else {
        ("a plan made now", "the saved plan")
    };
    Some(PlanDifference {
        place: action_place(&account, extra, extra.secrets.first(), in_saved),
        what: format!(
            "{has} has this {} as action {}; {lacks} does not",
            describe_kind(extra.kind),
            at + 1
        ),
    })
}

/// `account `production`, store `main`, secret `A``, from the plan made now, or from the
/// saved plan (`saved`) where only it has the action.
fn action_place(
    account: &str,
    action: &Action,
    change: Option<&SecretChange>,
    saved: bool,
) -> String {
    let name = |text: &str| {
        if saved {
            quoted(text)
        } else {
            format!("`{text}`")
        }
    };
    let mut place = format!("{account}, store {}", name(&action.store.name));
    if let Some(change) = change {
        place.push_str(&format!(", secret {}", name(change.name.as_str())));
    }
    place
}

fn action_difference(
    account: &str,
    i: usize,
    saved: &Action,
    now: &Action,
) -> Option<PlanDifference> {
    let at = |change: Option<&SecretChange>, what: String| PlanDifference {
        place: action_place(account, now, change, false),
        what,
    };
    let first = now.secrets.first();
    if saved.kind != now.kind || saved.stage != now.stage {
        return Some(at(
            first,
            format!(
                "action {} is a {} in the saved plan, a {} now",
                i + 1,
                describe_kind(saved.kind),
                describe_kind(now.kind)
            ),
        ));
    }
    if saved.store.name != now.store.name {
        return Some(at(
            first,
            format!(
                "the saved plan has store {} here",
                quoted(&saved.store.name)
            ),
        ));
    }
    if saved.store.id != now.store.id {
        return Some(at(first, "the store id differs".to_string()));
    }
    for (a, b) in saved.secrets.iter().zip(&now.secrets) {
        if let Some(what) = change_difference(a, b) {
            return Some(at(Some(b), what));
        }
    }
    if saved.secrets.len() != now.secrets.len() {
        return Some(at(
            None,
            format!(
                "the {} touches {} in the saved plan, {} now",
                describe_kind(now.kind),
                crate::text::count(saved.secrets.len(), "secret", "secrets"),
                now.secrets.len()
            ),
        ));
    }
    if saved.reason != now.reason {
        return Some(at(first, "the reason given differs".to_string()));
    }
    None
}

/// What differs between two changes of one action, in the order a reviewer cares about.
fn change_difference(saved: &SecretChange, now: &SecretChange) -> Option<String> {
    if saved.name != now.name {
        return Some(format!(
            "the saved plan names the secret {} here",
            quoted(saved.name.as_str())
        ));
    }
    if saved.value != now.value {
        let fingerprint = |c: &SecretChange| {
            c.planned_fingerprint()
                .map_or_else(|| "none".to_string(), |f| f.short())
        };
        return Some(format!(
            "its value differs (fingerprint {} in the saved plan, {} now)",
            fingerprint(saved),
            fingerprint(now)
        ));
    }
    if saved.send_value != now.send_value {
        return Some(format!(
            "the saved plan {} the value; a plan made now {}",
            if saved.send_value {
                "sends"
            } else {
                "does not send"
            },
            if now.send_value { "does" } else { "does not" }
        ));
    }
    if saved.scopes != now.scopes {
        let wire = |c: &SecretChange| match &c.scopes {
            Some(_) => format!("[{}]", c.wire_scopes().join(", ")),
            None => "unchanged".to_string(),
        };
        return Some(format!(
            "its scopes differ ({} in the saved plan, {} now)",
            wire(saved),
            wire(now)
        ));
    }
    let fields: [(bool, &str); 7] = [
        (saved.id != now.id, "its secret id differs"),
        (
            saved.source != now.source,
            "the secret it is copied from differs",
        ),
        (
            saved.delete_cause != now.delete_cause,
            "why it is deleted differs",
        ),
        (
            saved.user_comment != now.user_comment,
            "its comment differs",
        ),
        (saved.marker != now.marker, "its ownership marker differs"),
        (saved.comment != now.comment, "the comment it sends differs"),
        (saved.reason != now.reason, "the reason given differs"),
    ];
    fields
        .into_iter()
        .find(|(differs, _)| *differs)
        .map(|(_, what)| what.to_string())
}

/// An action's kind in words: `batch create`, `delete`, …
fn describe_kind(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::CreateStore => "store create",
        ActionKind::CreateSecrets => "batch create",
        ActionKind::Duplicate => "copy",
        ActionKind::Update => "update",
        ActionKind::Delete => "delete",
    }
}

/// Text from a saved plan, quoted when it is plainly a name (letters, digits and `._-`, at
/// most 64 characters, nothing like a secret: [`crate::text::is_plain`]); anything else may
/// be what someone pasted by mistake, and is not repeated.
fn quoted(text: &str) -> String {
    let plain = !text.is_empty()
        && crate::text::is_plain(text, 64, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ')
        });
    if plain {
        format!("`{text}`")
    } else {
        "(a name not shown)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, Fingerprint};
    use crate::plan::model::{Stage, StoreRef, ValueChange};

    fn change(name: &str, fp: u8) -> SecretChange {
        SecretChange {
            value: Some(ValueChange::New {
                new: Some(Fingerprint::from_bytes([fp; 8])),
            }),
            send_value: true,
            ..SecretChange::new(name, "declared")
        }
    }

    fn plan(account_id: &str, secrets: Vec<SecretChange>) -> Plan {
        let json = serde_json::json!({
            "format_version": 1,
            "values_compared": true,
            "accounts": [],
            "notes": [],
            "problems": [],
            "blocked": [],
            "summary": {
                "stores_to_create": 0, "secrets_to_create": 0, "secrets_to_update": 0,
                "secrets_to_rename": 0, "secrets_to_delete": 0, "protected_kept": 0,
                "unmanaged": 0, "unchanged": 0, "write_requests": 0
            }
        });
        let mut plan: Plan = serde_json::from_value(json).unwrap();
        plan.accounts.push(AccountPlan {
            label: "production".into(),
            account_id: AccountId::parse(account_id).unwrap(),
            quota: None,
            actions: vec![Action {
                stage: Stage::CreateSecrets,
                kind: ActionKind::CreateSecrets,
                store: StoreRef {
                    name: "main".into(),
                    id: Some("s1".into()),
                },
                secrets,
                reason: "declared".into(),
            }],
            protected: vec![],
            unmanaged: vec![],
            notes: vec![],
            warnings: vec![],
        });
        plan
    }

    const ID: &str = "0123456789abcdef0123456789abcdef";
    const OTHER: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn equal_plans_have_no_difference() {
        let a = plan(ID, vec![change("A", 1), change("B", 2)]);
        assert_eq!(a.first_difference(&a.clone()), None);
        assert!(a.same_actions(&a.clone()));
    }

    #[test]
    fn an_edited_account_id_is_a_difference() {
        let now = plan(ID, vec![change("A", 1)]);
        let saved = plan(OTHER, vec![change("A", 1)]);
        assert!(!saved.same_actions(&now));
        assert_eq!(
            saved.first_difference(&now).unwrap().to_string(),
            format!("account `production`: its account id is {OTHER} in the saved plan, {ID} now")
        );
    }

    #[test]
    fn the_first_differing_secret_is_named_with_what_differs() {
        let now = plan(ID, vec![change("A", 1), change("B", 2)]);
        let saved = plan(ID, vec![change("A", 1), change("B", 3)]);
        assert_eq!(
            saved.first_difference(&now).unwrap().to_string(),
            "account `production`, store `main`, secret `B`: its value differs (fingerprint \
             03030303 in the saved plan, 02020202 now)"
        );
        let mut commented = now.clone();
        commented.accounts[0].actions[0].secrets[0].comment = Some("sk-live-pasted".into());
        let text = commented.first_difference(&now).unwrap().to_string();
        assert_eq!(
            text,
            "account `production`, store `main`, secret `A`: the comment it sends differs"
        );
        let mut fewer = now.clone();
        fewer.accounts[0].actions[0].secrets.pop();
        assert_eq!(
            fewer.first_difference(&now).unwrap().to_string(),
            "account `production`, store `main`: the batch create touches 1 secret in the \
             saved plan, 2 now"
        );
    }

    #[test]
    fn extra_actions_and_accounts_are_named_and_odd_text_is_not_repeated() {
        let now = plan(ID, vec![change("A", 1)]);
        let mut saved = now.clone();
        let mut extra = saved.accounts[0].actions[0].clone();
        extra.kind = ActionKind::Delete;
        extra.stage = Stage::Deletes;
        extra.secrets = vec![change(
            "sk_live_0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            1,
        )];
        saved.accounts[0].actions.push(extra);
        assert_eq!(
            saved.first_difference(&now).unwrap().to_string(),
            "account `production`, store `main`, secret (a name not shown): the saved plan has \
             this delete as action 2; a plan made now does not"
        );
        let mut two = now.clone();
        two.accounts.push(now.accounts[0].clone());
        two.accounts[1].label = "staging".into();
        assert_eq!(
            two.first_difference(&now).unwrap().to_string(),
            "account `staging`: the saved plan has this account; a plan made now does not"
        );
        assert_eq!(
            now.first_difference(&two).unwrap().to_string(),
            "account `staging`: a plan made now has this account; the saved plan does not"
        );
        let mut relabelled = now.clone();
        relabelled.accounts[0].label = "AGE-SECRET-KEY-1XYZ".into();
        assert_eq!(
            relabelled.first_difference(&now).unwrap().to_string(),
            "account 1 of the plan: its label is (a name not shown) in the saved plan, \
             `production` now"
        );
    }
}
