//! The store step of the planner: one declared store against its live counterpart. Each
//! declared secret is absent ([`StorePlanner::absent`]) or present
//! ([`StorePlanner::present`]: updated, renamed or created); then every live secret no
//! declaration accounts for follows the store's prune mode ([`StorePlanner::undeclared`]).
//! The changes themselves are built in `plan/change.rs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::SecretName;
use crate::live::{LiveSecret, LiveStore};
use crate::manifest::{DesiredSecret, DesiredStore, PresentSecret, Prune, ValueSource};

use super::model::{AccountPlan, DeleteCause, KeptSecret, SecretChange};
use super::{AccountPlanner, StoreWork};

/// Plans one store of one account.
pub(super) struct StorePlanner<'p, 'a> {
    pub(super) account: &'p mut AccountPlanner<'a>,
    pub(super) section: &'p mut AccountPlan,
    pub(super) store: &'a DesiredStore,
    pub(super) live: Option<&'a LiveStore>,
    pub(super) work: StoreWork,
    /// Live names a declaration accounts for: declared names and the sources of renames.
    claimed: BTreeSet<String>,
}

impl<'p, 'a> StorePlanner<'p, 'a> {
    pub(super) fn new(
        account: &'p mut AccountPlanner<'a>,
        section: &'p mut AccountPlan,
        store: &'a DesiredStore,
        live: Option<&'a LiveStore>,
    ) -> Self {
        StorePlanner {
            account,
            section,
            store,
            live,
            work: StoreWork::default(),
            claimed: BTreeSet::new(),
        }
    }

    /// The store's changes, before they are ordered into actions.
    pub(super) fn plan(mut self) -> StoreWork {
        let bad_sources = self.rename_conflicts();
        for (name, secret) in &self.store.secrets {
            self.claimed.insert(name.as_str().to_string());
            match secret {
                DesiredSecret::Absent => self.absent(name),
                DesiredSecret::Present(p) => self.present(name, p, &bad_sources),
            }
        }
        self.undeclared();
        self.work
    }

    /// Rename sources that are also declared, or claimed by several secrets: problems, and
    /// such a source is not used. `manifest::validate` refuses both already, but a `Desired`
    /// is plain data (tests build it directly), so the planner does not rely on that.
    fn rename_conflicts(&mut self) -> BTreeSet<SecretName> {
        let mut sources: BTreeMap<&SecretName, Vec<&SecretName>> = BTreeMap::new();
        for (name, secret) in &self.store.secrets {
            if let DesiredSecret::Present(PresentSecret {
                renamed_from: Some(from),
                ..
            }) = secret
            {
                sources.entry(from).or_default().push(name);
            }
        }
        let mut bad = BTreeSet::new();
        for (from, targets) in &sources {
            let message = if self.store.secrets.contains_key(*from) {
                format!(
                    "{from} is both declared and the renamed_from of {}",
                    targets[0]
                )
            } else if targets.len() > 1 {
                let names: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
                format!(
                    "{from} is the renamed_from of several secrets: {}",
                    names.join(", ")
                )
            } else {
                continue;
            };
            self.problem(Some(from), message);
            bad.insert((*from).clone());
        }
        bad
    }

    /// `ensure: absent`: a live secret of that name is deleted, unless protected.
    fn absent(&mut self, name: &SecretName) {
        let Some(live) = self.live_secret(name) else {
            return;
        };
        if live.comment.is_protected() {
            self.keep_protected(
                live,
                "ensure: absent, but protected; declare it with protect: false and apply first",
            );
        } else {
            self.delete(
                live,
                DeleteCause::EnsureAbsent,
                "ensure: absent".to_string(),
            );
            self.account.summary.secrets_to_delete += 1;
        }
    }

    /// A declared secret: updated when it exists live, else copied from (or written anew
    /// over) its live `renamed_from`, else created.
    fn present(
        &mut self,
        name: &SecretName,
        p: &PresentSecret,
        bad_sources: &BTreeSet<SecretName>,
    ) {
        // With fingerprints, every value we may write must have one: a marker without it
        // would make the next plan write the value again, forever.
        if self.account.values.is_compared()
            && p.value != ValueSource::Keep
            && self.desired_fp(name).is_none()
        {
            self.problem(
                Some(name),
                format!("no value fingerprint for {name}; its value was not unsealed"),
            );
        }
        let source = p
            .renamed_from
            .as_ref()
            .filter(|from| !bad_sources.contains(*from))
            .and_then(|from| self.live_secret(from).map(|old| (from, old)));
        if let Some((_, old)) = source {
            self.claimed.insert(old.name.clone());
        }
        match (self.live_secret(name), source) {
            (Some(current), source) => {
                self.update_or_keep(name, p, current);
                if let Some((_, old)) = source {
                    self.leftover_source(name, old);
                }
            }
            (None, Some(source)) => self.rename_from(name, p, source),
            (None, None) => {
                let mut change = self.create(name, p);
                if let Some(from) = &p.renamed_from {
                    change.reason = format!("declared; renamed_from {from} not found live");
                }
                self.check_size(name);
                self.work.creates.push(change);
                self.account.summary.secrets_to_create += 1;
            }
        }
    }

    /// A declared secret that exists live: updated where it differs, else unchanged.
    fn update_or_keep(&mut self, name: &SecretName, p: &PresentSecret, live: &LiveSecret) {
        match self.update(name, p, live) {
            Some(change) => {
                if change.send_value {
                    self.check_size(name);
                }
                self.work.updates.push(change);
                self.account.summary.secrets_to_update += 1;
            }
            None => self.account.summary.unchanged += 1,
        }
    }

    /// The `renamed_from` of a secret that already exists under its new name: an earlier
    /// rename did not finish. Deleted if owned; kept if protected or not owned.
    fn leftover_source(&mut self, name: &SecretName, old: &LiveSecret) {
        match old.comment.marker() {
            Some(m) if m.protect => self.keep_protected(
                old,
                &format!("renamed to {name}, which already exists; the old one is protected"),
            ),
            Some(_) => {
                self.section.warnings.push(format!(
                    "{name} and its renamed_from {} both exist; deleting {} to finish the rename",
                    old.name, old.name
                ));
                self.delete(
                    old,
                    DeleteCause::Rename,
                    format!("renamed to {name} (finishing the rename)"),
                );
                self.account.summary.secrets_to_rename += 1;
            }
            None => {
                self.section.warnings.push(format!(
                    "{name} and its renamed_from {} both exist; {} is not owned by cfsecrets, so \
                     it is left alone",
                    old.name, old.name
                ));
                self.keep_unmanaged(old, &format!("renamed_from of {name}, not owned"));
            }
        }
    }

    /// A rename whose source exists live. A protected old name is copied but never deleted:
    /// protection holds until a plan removes it.
    fn rename_from(
        &mut self,
        name: &SecretName,
        p: &PresentSecret,
        (from, old): (&SecretName, &LiveSecret),
    ) {
        let old_protected = old.comment.is_protected();
        if self.rename(name, p, (from, old), !old_protected) {
            self.check_size(name);
        }
        if old_protected {
            self.keep_protected(
                old,
                &format!(
                    "renamed to {name}, but protected: copied, and kept until a plan removes its \
                     protection"
                ),
            );
        }
        self.account.summary.secrets_to_rename += 1;
    }

    /// Live secrets no declaration accounts for, by the store's prune mode: deleted, kept
    /// because protected, or left alone as unmanaged.
    fn undeclared(&mut self) {
        let Some(live) = self.live else {
            return;
        };
        for secret in &live.secrets {
            if self.claimed.contains(&secret.name) {
                continue;
            }
            let verdict = match (self.store.prune, secret.comment.marker()) {
                (Prune::None, _) => Err("not declared (prune: none)"),
                (_, Some(m)) if m.protect => Ok(None),
                (Prune::Owned, Some(_)) => Ok(Some("owned, no longer declared")),
                (Prune::Owned, None) => Err("not declared, not owned"),
                (Prune::All, _) => Ok(Some("not declared (prune: all)")),
            };
            match verdict {
                Ok(Some(reason)) => {
                    self.delete(secret, DeleteCause::Prune, reason.to_string());
                    self.account.summary.secrets_to_delete += 1;
                }
                Ok(None) => self.keep_protected(
                    secret,
                    "no longer declared, but protected; declare it with protect: false and apply \
                     first",
                ),
                Err(reason) => self.keep_unmanaged(secret, reason),
            }
        }
    }

    fn live_secret(&self, name: &SecretName) -> Option<&'a LiveSecret> {
        self.live.and_then(|s| s.secret(name.as_str()))
    }

    /// A problem about this store, or one of its secrets.
    pub(super) fn problem(&mut self, secret: Option<&SecretName>, message: String) {
        let store = self.store.name.as_str();
        self.account
            .problem(Some((store, secret.map(SecretName::as_str))), message);
    }

    pub(super) fn delete(&mut self, secret: &LiveSecret, cause: DeleteCause, reason: String) {
        self.work.deletes.push(SecretChange {
            id: Some(secret.id.clone()),
            delete_cause: Some(cause),
            ..SecretChange::new(secret.name.clone(), reason)
        });
    }

    fn keep_protected(&mut self, secret: &LiveSecret, reason: &str) {
        let kept = self.kept(secret, reason);
        self.section.protected.push(kept);
        self.account.summary.protected_kept += 1;
    }

    fn keep_unmanaged(&mut self, secret: &LiveSecret, reason: &str) {
        let kept = self.kept(secret, reason);
        self.section.unmanaged.push(kept);
        self.account.summary.unmanaged += 1;
    }

    fn kept(&self, secret: &LiveSecret, reason: &str) -> KeptSecret {
        KeptSecret {
            store: self.store.name.clone(),
            name: secret.name.clone(),
            id: secret.id.clone(),
            reason: reason.to_string(),
        }
    }
}
