//! The changes the store step plans for one declared secret: a create, a rename (a
//! server-side copy, or the value written anew under the new name) or an update of the
//! fields that differ. Each carries the marker the secret should hold afterwards, and the
//! full comment to send whenever the comment or the marker changes.

use std::collections::BTreeSet;

use crate::domain::{Fingerprint, Scope, Scopes, SecretName, ValueKey};
use crate::live::LiveSecret;
use crate::manifest::{PresentSecret, ValueSource};
use crate::marker::{self, Marker};

use super::MAX_VALUE_BYTES;
use super::model::{DeleteCause, ScopesChange, SecretChange, SecretRef, TextChange, ValueChange};
use super::store::StorePlanner;

impl StorePlanner<'_, '_> {
    /// The fingerprint of the declared value of `name`, when known.
    pub(super) fn desired_fp(&self, name: &SecretName) -> Option<Fingerprint> {
        self.account
            .values
            .get(&self.value_key(name))
            .map(|fact| fact.fingerprint)
    }

    fn value_key(&self, name: &SecretName) -> ValueKey {
        ValueKey::new(&self.account.desired.label, &self.store.name, name.clone())
    }

    /// A value that will be sent must fit the API's limit: over it, a problem.
    pub(super) fn check_size(&mut self, name: &SecretName) {
        let Some(size) = self
            .account
            .values
            .get(&self.value_key(name))
            .map(|f| f.len)
        else {
            return;
        };
        if size > MAX_VALUE_BYTES {
            self.problem(
                Some(name),
                format!(
                    "the value of {name} is {}; the API's limit is {} (shorten it with \
                     `cfsecrets secret set`)",
                    crate::text::bytes(size as u64),
                    crate::text::bytes(MAX_VALUE_BYTES as u64)
                ),
            );
        }
    }

    /// A new secret. `value: keep` cannot be created: a problem.
    pub(super) fn create(&mut self, name: &SecretName, p: &PresentSecret) -> SecretChange {
        let fp = self.desired_fp(name);
        let m = marker_for(p, fp);
        let user = p.comment.clone().unwrap_or_default();
        let keep = p.value == ValueSource::Keep;
        if keep {
            self.problem(
                Some(name),
                format!("{name} has value: keep but does not exist live, so it cannot be created"),
            );
        }
        SecretChange {
            value: Some(ValueChange::New { new: fp }),
            send_value: !keep,
            scopes: Some(ScopesChange {
                old: None,
                new: p.scopes.clone(),
            }),
            user_comment: (!user.is_empty()).then(|| TextChange {
                old: None,
                new: user.clone(),
            }),
            marker: Some(TextChange {
                old: None,
                new: m.render(),
            }),
            comment: Some(marker::join(&user, &m)),
            ..SecretChange::new(name, "declared, not found live")
        }
    }

    /// A rename from the live secret `old` (named `from`, the declared `renamed_from`):
    /// copied server-side when its value is the one declared (or kept), else written anew.
    /// The old name is deleted when `delete_old`. Returns whether the value is written anew.
    pub(super) fn rename(
        &mut self,
        name: &SecretName,
        p: &PresentSecret,
        (from, old): (&SecretName, &LiveSecret),
        delete_old: bool,
    ) -> bool {
        let old_user = old.comment.user();
        let old_marker = old.comment.marker();
        let old_fp = old_marker.and_then(|m| m.fingerprint);
        let wanted = self.desired_fp(name);
        // Which fingerprint the duplicate carries, or None when the value must be written anew.
        let carried: Option<Option<Fingerprint>> = match (&p.value, old_fp, wanted) {
            (ValueSource::Keep, fp, _) => Some(fp),
            (_, Some(a), Some(b)) if a == b => Some(Some(a)),
            (_, Some(a), None) => Some(Some(a)), // not compared (no identity)
            _ => None,
        };
        let source = SecretRef {
            name: from.clone(),
            id: old.id.clone(),
        };
        let user = p.comment.clone().unwrap_or_default();
        match carried {
            Some(fp) => {
                let m = marker_for(p, fp);
                self.work.duplicates.push(SecretChange {
                    source: Some(source),
                    scopes: Some(ScopesChange {
                        old: Some(old.scopes.iter().cloned().collect()),
                        new: p.scopes.clone(),
                    }),
                    user_comment: (user != old_user).then(|| TextChange {
                        old: Some(shown_live(old_user)),
                        new: user.clone(),
                    }),
                    marker: (Some(m) != old_marker).then(|| TextChange {
                        old: old_marker.map(|m| m.render()),
                        new: m.render(),
                    }),
                    comment: Some(marker::join(&user, &m)),
                    ..SecretChange::new(
                        name,
                        format!("renamed from {}; copied server-side", old.name),
                    )
                });
            }
            None => {
                let mut change = self.create(name, p);
                change.source = Some(source);
                change.value = Some(match (old_fp, wanted) {
                    (Some(a), Some(b)) => ValueChange::Changed { old: a, new: b },
                    _ => ValueChange::Unverified { new: wanted },
                });
                change.reason = format!(
                    "renamed from {}; the value changes, so it is written anew",
                    old.name
                );
                self.work.creates.push(change);
            }
        }
        if delete_old {
            self.delete(old, DeleteCause::Rename, format!("renamed to {name}"));
        }
        carried.is_none()
    }

    /// The update that makes the live secret match the declaration, if anything differs.
    pub(super) fn update(
        &mut self,
        name: &SecretName,
        p: &PresentSecret,
        live: &LiveSecret,
    ) -> Option<SecretChange> {
        let live_user = live.comment.user();
        let live_marker = live.comment.marker();
        let live_fp = live_marker.and_then(|m| m.fingerprint);
        let mut reasons = Vec::new();

        let value = self.value_change(name, p, live_fp, &mut reasons);
        let send_value = value.is_some();
        // The fingerprint the marker carries after this update.
        let fp = match value {
            Some(ValueChange::Changed { new, .. }) => Some(new),
            Some(ValueChange::Unverified { new }) => new,
            Some(ValueChange::New { .. }) | None => live_fp,
        };

        let scopes = (!same_scopes(&live.scopes, &p.scopes)).then(|| {
            reasons.push("scopes changed");
            ScopesChange {
                old: Some(live.scopes.iter().cloned().collect()),
                new: p.scopes.clone(),
            }
        });

        let user = p.comment.clone().unwrap_or_default();
        let user_comment = (user != live_user).then(|| {
            reasons.push("comment changed");
            TextChange {
                old: Some(shown_live(live_user)),
                new: user.clone(),
            }
        });

        let m = marker_for(p, fp);
        let marker_change = marker_change(live_marker, m, &mut reasons);

        if value.is_none() && scopes.is_none() && user_comment.is_none() && marker_change.is_none()
        {
            return None;
        }
        let comment =
            (user_comment.is_some() || marker_change.is_some()).then(|| marker::join(&user, &m));
        if reasons.is_empty() {
            reasons.push("marker updated");
        }
        Some(SecretChange {
            id: Some(live.id.clone()),
            value,
            send_value,
            scopes,
            user_comment,
            marker: marker_change,
            comment,
            ..SecretChange::new(name, reasons.join("; "))
        })
    }

    /// Whether an update writes the value: when it differs from the live marker's
    /// fingerprint, or when the live secret has none to compare with (never for `keep`).
    fn value_change(
        &self,
        name: &SecretName,
        p: &PresentSecret,
        live_fp: Option<Fingerprint>,
        reasons: &mut Vec<&'static str>,
    ) -> Option<ValueChange> {
        if p.value == ValueSource::Keep {
            return None;
        }
        match (live_fp, self.desired_fp(name)) {
            (None, new) => {
                reasons.push("value not verified: no fingerprint on the live secret");
                Some(ValueChange::Unverified { new })
            }
            (Some(old), Some(new)) if old != new => {
                reasons.push("value changed");
                Some(ValueChange::Changed { old, new })
            }
            _ => None,
        }
    }
}

/// The marker change of an update, when the live marker is not `wanted`: ownership taken,
/// protection set or removed, or only the fingerprint moved.
fn marker_change(
    live: Option<Marker>,
    wanted: Marker,
    reasons: &mut Vec<&'static str>,
) -> Option<TextChange> {
    if live == Some(wanted) {
        return None;
    }
    match live {
        None => reasons.push("take ownership: marker added"),
        Some(old) if old.protect != wanted.protect => reasons.push(if wanted.protect {
            "protect set"
        } else {
            "protect removed"
        }),
        Some(_) => {}
    }
    Some(TextChange {
        old: live.map(|m| m.render()),
        new: wanted.render(),
    })
}

/// The marker a declared secret should carry, given the fingerprint its value will have.
fn marker_for(p: &PresentSecret, fingerprint: Option<Fingerprint>) -> Marker {
    Marker {
        fingerprint,
        protect: p.protect,
    }
}

/// Whether the live scopes (wire spellings, unknown ones kept) are exactly the declared set.
fn same_scopes(live: &BTreeSet<String>, declared: &Scopes) -> bool {
    live.len() == declared.len()
        && live
            .iter()
            .all(|s| Scope::from_wire(s).is_some_and(|scope| declared.contains(&scope)))
}

/// A live comment as the plan shows it: whole, unless someone pasted a secret into it on
/// Cloudflare's side (then it is not shown; the update still replaces it).
fn shown_live(comment: &str) -> String {
    crate::text::unless_secret(comment).into_owned()
}
