//! The planner: `diff(desired, live, fingerprints, options) -> Plan`.
//!
//! Architecture invariant: pure and deterministic. No I/O, no async, no clock, no randomness,
//! no plaintext: the same inputs give a byte-identical plan. Iteration follows the manifest's
//! order for accounts and stores and name order for secrets.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{Fingerprint, Scope, SecretName};
use crate::live::{LiveAccount, LiveSecret, LiveState, LiveStore};
use crate::manifest::{
    Desired, DesiredAccount, DesiredSecret, DesiredStore, PresentSecret, Prune, Safety, ValueSource,
};
use crate::text::count;

use super::marker::{self, Marker};
use super::model::*;

// The value size limits (API notes §5.2): above `MAX_VALUE_BYTES` the API refuses a value (a
// problem); above `WARN_VALUE_BYTES` some accounts still do (a warning). They are the limits
// `values` checks when unsealing, shared so the two can never disagree.
pub use crate::domain::{LEGACY_VALUE_BYTES as WARN_VALUE_BYTES, MAX_VALUE_BYTES};
/// Default number of secrets per batch create request.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Knobs that do not come from the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--allow-deletes N`: allow up to N deletes per store, replacing the manifest's safety
    /// thresholds.
    pub allow_deletes: Option<u32>,
    /// Secrets per batch create request (at least 1; default 100).
    pub batch_size: usize,
    /// Byte length of each declared value, when the values were unsealed. Used only to check
    /// sizes before any write; never rendered.
    pub value_sizes: BTreeMap<ValueKey, usize>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            allow_deletes: None,
            batch_size: DEFAULT_BATCH_SIZE,
            value_sizes: BTreeMap::new(),
        }
    }
}

/// Plans the changes that make `live` match `desired`. `values` is `None` without an
/// identity (values are then not compared).
pub fn diff(
    desired: &Desired,
    live: &LiveState,
    values: Option<&ValueFingerprints>,
    options: &PlanOptions,
) -> Plan {
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        values_compared: values.is_some(),
        accounts: Vec::new(),
        notes: Vec::new(),
        problems: Vec::new(),
        blocked: Vec::new(),
        summary: Summary::default(),
        digest: None,
    };
    if values.is_none() {
        plan.notes.push(
            "values were not compared: no identity was available, so value changes are unknown \
             and this plan cannot be applied"
                .to_string(),
        );
    }
    for account in &desired.accounts {
        let live_account = live.account(&account.account_id);
        let section = AccountPlanner {
            desired: account,
            live: live_account,
            values,
            options,
            safety: &desired.safety,
            problems: &mut plan.problems,
            blocked: &mut plan.blocked,
            summary: &mut plan.summary,
        }
        .run();
        plan.accounts.push(section);
    }
    plan.summary.write_requests = plan.accounts.iter().map(|a| a.actions.len() as u32).sum();
    plan
}

/// The per-store results before they are ordered into actions.
#[derive(Default)]
struct StoreWork {
    creates: Vec<SecretChange>,
    duplicates: Vec<SecretChange>,
    updates: Vec<SecretChange>,
    deletes: Vec<SecretChange>,
}

struct AccountPlanner<'a> {
    desired: &'a DesiredAccount,
    live: Option<&'a LiveAccount>,
    values: Option<&'a ValueFingerprints>,
    options: &'a PlanOptions,
    safety: &'a Safety,
    problems: &'a mut Vec<Problem>,
    blocked: &'a mut Vec<BlockReason>,
    summary: &'a mut Summary,
}

fn wire_scopes(scopes: &BTreeSet<Scope>) -> Vec<String> {
    scopes.iter().map(|s| s.as_wire().to_string()).collect()
}

fn live_ref(secret: &LiveSecret) -> SecretRef {
    SecretRef {
        name: secret.name.clone(),
        id: secret.id.clone(),
    }
}

fn delete_change(secret: &LiveSecret, cause: DeleteCause, reason: String) -> SecretChange {
    SecretChange {
        name: secret.name.clone(),
        id: Some(secret.id.clone()),
        source: None,
        delete_cause: Some(cause),
        value: None,
        send_value: false,
        scopes: None,
        user_comment: None,
        marker: None,
        comment: None,
        reason,
    }
}

fn kept(store: &str, secret: &LiveSecret, reason: &str) -> KeptSecret {
    KeptSecret {
        store: store.to_string(),
        name: secret.name.clone(),
        id: secret.id.clone(),
        reason: reason.to_string(),
    }
}

impl AccountPlanner<'_> {
    fn run(mut self) -> AccountPlan {
        let mut section = AccountPlan {
            label: self.desired.label.clone(),
            account_id: self.desired.account_id.to_string(),
            quota: None,
            actions: Vec::new(),
            protected: Vec::new(),
            unmanaged: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        };
        if self.live.is_none() {
            section
                .notes
                .push("account not found in the live snapshot; treated as empty".to_string());
        }

        let mut store_creates = Vec::new();
        let mut work: Vec<(StoreRef, StoreWork)> = Vec::new();
        for store in &self.desired.stores {
            let live_store = self.live.and_then(|a| a.store(&store.name));
            let store_ref = StoreRef {
                name: store.name.clone(),
                id: live_store.map(|s| s.id.clone()),
            };
            if live_store.is_none() {
                let others: Vec<&str> = self
                    .live
                    .map(|a| a.stores.iter().map(|s| s.name.as_str()).collect())
                    .unwrap_or_default();
                if !others.is_empty() {
                    section.warnings.push(format!(
                        "account already holds store {}; the beta allows one store per account, \
                         so creating {} may fail",
                        others.join(", "),
                        store.name
                    ));
                }
                self.summary.stores_to_create += 1;
                store_creates.push(Action {
                    stage: Stage::CreateStores,
                    kind: ActionKind::CreateStore,
                    store: store_ref.clone(),
                    secrets: Vec::new(),
                    reason: "declared, not found live".to_string(),
                });
            }
            let w = self.plan_store(store, live_store, &mut section);
            self.check_safety(store, live_store, &w);
            work.push((store_ref, w));
        }
        if let Some(live) = self.live {
            let declared: BTreeSet<&str> = self
                .desired
                .stores
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            for store in &live.stores {
                if !declared.contains(store.name.as_str()) {
                    section.notes.push(format!(
                        "store {} is not declared; it and its {} are left alone",
                        store.name,
                        count(store.secrets.len(), "secret", "secrets")
                    ));
                }
            }
        }

        // Quota: decide whether non-rename deletes go first.
        let creates: u64 = work.iter().map(|(_, w)| w.creates.len() as u64).sum();
        let dups: u64 = work.iter().map(|(_, w)| w.duplicates.len() as u64).sum();
        let rename_deletes: u64 = work
            .iter()
            .flat_map(|(_, w)| &w.deletes)
            .filter(|d| d.delete_cause == Some(DeleteCause::Rename))
            .count() as u64;
        let other_deletes: u64 = work
            .iter()
            .map(|(_, w)| w.deletes.len() as u64)
            .sum::<u64>()
            - rename_deletes;
        let mut deletes_first = false;
        if let Some(quota) = self.live.and_then(|a| a.quota) {
            let usage = quota.usage as i64;
            let q = quota.quota as i64;
            let grow = (creates + dups) as i64;
            let end = usage + grow - (rename_deletes + other_deletes) as i64;
            // Only requests that add secrets can hit the quota: an account already over it
            // (not our doing) can still take updates and deletes.
            let mut peak = usage + grow;
            if grow > 0 && end > q {
                self.problem(
                    None,
                    format!("the account would hold {end} secrets after apply; its quota is {q}"),
                );
            } else if grow > 0 && peak > q {
                let reordered = usage - other_deletes as i64 + grow;
                if reordered <= q {
                    deletes_first = true;
                    peak = reordered;
                    section.notes.push(format!(
                        "{} before the creates so the account stays within its quota",
                        if other_deletes == 1 {
                            "1 delete runs".to_string()
                        } else {
                            format!("{other_deletes} deletes run")
                        }
                    ));
                } else {
                    self.problem(
                        None,
                        format!(
                            "the quota ({q}) cannot hold the renamed secrets before their old \
                             names are deleted: {reordered} would be in use"
                        ),
                    );
                }
            }
            section.quota = Some(QuotaCheck {
                quota: quota.quota,
                usage: quota.usage,
                peak: peak.max(usage).max(0) as u64,
                end: end.max(0) as u64,
                deletes_first,
            });
        } else if self.live.is_some() {
            // Said whether or not secrets are added, so a reviewer knows it was not checked.
            section.notes.push(if creates + dups > 0 {
                "quota not checked (GET /quota failed): the new secrets may not fit".to_string()
            } else {
                "quota not checked (GET /quota failed)".to_string()
            });
        }

        // Order the actions by stage.
        let mut actions = store_creates;
        if deletes_first {
            for (store, w) in &work {
                for d in w
                    .deletes
                    .iter()
                    .filter(|d| d.delete_cause != Some(DeleteCause::Rename))
                {
                    actions.push(single(Stage::EarlyDeletes, ActionKind::Delete, store, d));
                }
            }
        }
        let batch = self.options.batch_size.max(1);
        for (store, w) in &work {
            let chunks = w.creates.chunks(batch).collect::<Vec<_>>();
            let n = chunks.len();
            for (i, chunk) in chunks.into_iter().enumerate() {
                let reason = if n > 1 {
                    format!("batch {} of {n}", i + 1)
                } else {
                    "batch create".to_string()
                };
                actions.push(Action {
                    stage: Stage::CreateSecrets,
                    kind: ActionKind::CreateSecrets,
                    store: store.clone(),
                    secrets: chunk.to_vec(),
                    reason,
                });
            }
        }
        for (store, w) in &work {
            for d in &w.duplicates {
                actions.push(single(Stage::Duplicates, ActionKind::Duplicate, store, d));
            }
        }
        for (store, w) in &work {
            for u in &w.updates {
                actions.push(single(Stage::Updates, ActionKind::Update, store, u));
            }
        }
        for (store, w) in &work {
            for d in &w.deletes {
                if deletes_first && d.delete_cause != Some(DeleteCause::Rename) {
                    continue;
                }
                actions.push(single(Stage::Deletes, ActionKind::Delete, store, d));
            }
        }
        section.actions = actions;
        section
    }

    fn problem(&mut self, store_secret: Option<(&str, Option<&str>)>, message: String) {
        self.problems.push(Problem {
            account: self.desired.label.clone(),
            store: store_secret.map(|(s, _)| s.to_string()),
            secret: store_secret.and_then(|(_, n)| n.map(str::to_string)),
            message,
        });
    }

    fn desired_fp(&self, store: &str, name: &SecretName) -> Option<Fingerprint> {
        self.values?
            .get(&ValueKey::new(&self.desired.label, store, name.clone()))
            .copied()
    }

    fn check_size(&mut self, store: &str, name: &SecretName, section: &mut AccountPlan) {
        let key = ValueKey::new(&self.desired.label, store, name.clone());
        if let Some(&size) = self.options.value_sizes.get(&key) {
            if size > MAX_VALUE_BYTES {
                self.problem(
                    Some((store, Some(name.as_str()))),
                    format!("value of {name} exceeds {MAX_VALUE_BYTES} bytes"),
                );
            } else if size > WARN_VALUE_BYTES {
                section.warnings.push(format!(
                    "value of {name} is over {WARN_VALUE_BYTES} bytes; some accounts still \
                     enforce that limit"
                ));
            }
        }
    }

    fn plan_store(
        &mut self,
        store: &DesiredStore,
        live: Option<&LiveStore>,
        section: &mut AccountPlan,
    ) -> StoreWork {
        let mut w = StoreWork::default();
        let mut claimed: BTreeSet<String> = BTreeSet::new();

        // Renames whose source is also declared, or claimed twice, are problems.
        let mut sources: BTreeMap<&SecretName, Vec<&SecretName>> = BTreeMap::new();
        for (name, secret) in &store.secrets {
            if let DesiredSecret::Present(PresentSecret {
                renamed_from: Some(from),
                ..
            }) = secret
            {
                sources.entry(from).or_default().push(name);
            }
        }
        let mut bad_sources = BTreeSet::new();
        for (from, targets) in &sources {
            if store.secrets.contains_key(*from) {
                self.problem(
                    Some((&store.name, Some(from.as_str()))),
                    format!(
                        "{from} is both declared and the renamed_from of {}",
                        targets[0]
                    ),
                );
                bad_sources.insert((*from).clone());
            } else if targets.len() > 1 {
                let names: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
                self.problem(
                    Some((&store.name, Some(from.as_str()))),
                    format!(
                        "{from} is the renamed_from of several secrets: {}",
                        names.join(", ")
                    ),
                );
                bad_sources.insert((*from).clone());
            }
        }

        for (name, secret) in &store.secrets {
            let live_secret = live.and_then(|s| s.secret(name.as_str()));
            claimed.insert(name.as_str().to_string());
            match secret {
                DesiredSecret::Absent => {
                    if let Some(l) = live_secret {
                        let (_, m) = marker::split(&l.comment);
                        if m.is_some_and(|m| m.protect) {
                            section.protected.push(kept(
                                &store.name,
                                l,
                                "ensure: absent, but protected; declare it with protect: false \
                                 and apply first",
                            ));
                            self.summary.protected_kept += 1;
                        } else {
                            w.deletes.push(delete_change(
                                l,
                                DeleteCause::EnsureAbsent,
                                "ensure: absent".to_string(),
                            ));
                            self.summary.secrets_to_delete += 1;
                        }
                    }
                }
                DesiredSecret::Present(p) => {
                    // With fingerprints, every value we may write must have one: a marker
                    // without it would make the next plan write the value again, forever.
                    if self.values.is_some()
                        && p.value != ValueSource::Keep
                        && self.desired_fp(&store.name, name).is_none()
                    {
                        self.problem(
                            Some((&store.name, Some(name.as_str()))),
                            format!("no value fingerprint for {name}; its value was not unsealed"),
                        );
                    }
                    let from = p
                        .renamed_from
                        .as_ref()
                        .filter(|f| !bad_sources.contains(*f));
                    let live_old = from.and_then(|f| live.and_then(|s| s.secret(f.as_str())));
                    if let Some(old) = live_old {
                        claimed.insert(old.name.clone());
                    }
                    match (live_secret, live_old) {
                        (Some(current), old) => {
                            if let Some(change) = self.update(&store.name, name, p, current) {
                                if change.send_value {
                                    self.check_size(&store.name, name, section);
                                }
                                w.updates.push(change);
                                self.summary.secrets_to_update += 1;
                            } else {
                                self.summary.unchanged += 1;
                            }
                            if let Some(old) = old {
                                let (_, m) = marker::split(&old.comment);
                                match m {
                                    Some(m) if m.protect => {
                                        section.protected.push(kept(
                                            &store.name,
                                            old,
                                            &format!(
                                                "renamed to {name}, which already exists; the old \
                                                 one is protected"
                                            ),
                                        ));
                                        self.summary.protected_kept += 1;
                                    }
                                    Some(_) => {
                                        section.warnings.push(format!(
                                            "{name} and its renamed_from {} both exist; deleting \
                                             {} to finish the rename",
                                            old.name, old.name
                                        ));
                                        w.deletes.push(delete_change(
                                            old,
                                            DeleteCause::Rename,
                                            format!("renamed to {name} (finishing the rename)"),
                                        ));
                                        self.summary.secrets_to_rename += 1;
                                    }
                                    None => {
                                        section.warnings.push(format!(
                                            "{name} and its renamed_from {} both exist; {} is not \
                                             owned by cfsecrets, so it is left alone",
                                            old.name, old.name
                                        ));
                                        section.unmanaged.push(kept(
                                            &store.name,
                                            old,
                                            &format!("renamed_from of {name}, not owned"),
                                        ));
                                        self.summary.unmanaged += 1;
                                    }
                                }
                            }
                        }
                        (None, Some(old)) => {
                            // A protected old name is copied but never deleted: protection
                            // holds until a plan removes it.
                            let old_protected =
                                marker::split(&old.comment).1.is_some_and(|m| m.protect);
                            if self.rename(&store.name, name, p, old, !old_protected, &mut w) {
                                self.check_size(&store.name, name, section);
                            }
                            if old_protected {
                                section.protected.push(kept(
                                    &store.name,
                                    old,
                                    &format!(
                                        "renamed to {name}, but protected: copied, and kept until \
                                         a plan removes its protection"
                                    ),
                                ));
                                self.summary.protected_kept += 1;
                            }
                            self.summary.secrets_to_rename += 1;
                        }
                        (None, None) => {
                            let mut change = self.create(&store.name, name, p);
                            if let Some(from) = &p.renamed_from {
                                change.reason =
                                    format!("declared; renamed_from {from} not found live");
                            }
                            self.check_size(&store.name, name, section);
                            w.creates.push(change);
                            self.summary.secrets_to_create += 1;
                        }
                    }
                }
            }
        }

        // Undeclared live secrets.
        if let Some(live) = live {
            for l in &live.secrets {
                if claimed.contains(&l.name) {
                    continue;
                }
                let (_, m) = marker::split(&l.comment);
                let verdict = match (store.prune, m) {
                    (Prune::None, _) => Err("not declared (prune: none)"),
                    (_, Some(m)) if m.protect => Ok(None),
                    (Prune::Owned, Some(_)) => Ok(Some("owned, no longer declared")),
                    (Prune::Owned, None) => Err("not declared, not owned"),
                    (Prune::All, _) => Ok(Some("not declared (prune: all)")),
                };
                match verdict {
                    Ok(Some(reason)) => {
                        w.deletes
                            .push(delete_change(l, DeleteCause::Prune, reason.to_string()));
                        self.summary.secrets_to_delete += 1;
                    }
                    Ok(None) => {
                        section.protected.push(kept(
                            &store.name,
                            l,
                            "no longer declared, but protected; declare it with protect: false \
                             and apply first",
                        ));
                        self.summary.protected_kept += 1;
                    }
                    Err(reason) => {
                        section.unmanaged.push(kept(&store.name, l, reason));
                        self.summary.unmanaged += 1;
                    }
                }
            }
        }
        w
    }

    /// The marker a declared secret should carry, given the fingerprint its value will have.
    fn marker_for(p: &PresentSecret, fingerprint: Option<Fingerprint>) -> Marker {
        Marker {
            fingerprint,
            protect: p.protect,
        }
    }

    fn create(&mut self, store: &str, name: &SecretName, p: &PresentSecret) -> SecretChange {
        let fp = self.desired_fp(store, name);
        let m = Self::marker_for(p, fp);
        let user = p.comment.clone().unwrap_or_default();
        let keep = p.value == ValueSource::Keep;
        if keep {
            self.problem(
                Some((store, Some(name.as_str()))),
                format!("{name} has value: keep but does not exist live, so it cannot be created"),
            );
        }
        SecretChange {
            name: name.to_string(),
            id: None,
            source: None,
            delete_cause: None,
            value: Some(ValueChange::New { new: fp }),
            send_value: !keep,
            scopes: Some(ScopesChange {
                old: None,
                new: p.scopes.iter().copied().collect(),
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
            reason: "declared, not found live".to_string(),
        }
    }

    fn rename(
        &mut self,
        store: &str,
        name: &SecretName,
        p: &PresentSecret,
        old: &LiveSecret,
        delete_old: bool,
        w: &mut StoreWork,
    ) -> bool {
        let (old_user, old_marker) = marker::split(&old.comment);
        let old_fp = old_marker.and_then(|m| m.fingerprint);
        let wanted = self.desired_fp(store, name);
        // Which fingerprint the duplicate carries, or None when the value must be written anew.
        let carried: Option<Option<Fingerprint>> = match (&p.value, old_fp, wanted) {
            (ValueSource::Keep, fp, _) => Some(fp),
            (_, Some(a), Some(b)) if a == b => Some(Some(a)),
            (_, Some(a), None) => Some(Some(a)), // not compared (no identity)
            _ => None,
        };
        let user = p.comment.clone().unwrap_or_default();
        match carried {
            Some(fp) => {
                let m = Self::marker_for(p, fp);
                w.duplicates.push(SecretChange {
                    name: name.to_string(),
                    id: None,
                    source: Some(live_ref(old)),
                    delete_cause: None,
                    value: None,
                    send_value: false,
                    scopes: Some(ScopesChange {
                        old: Some(old.scopes.iter().cloned().collect()),
                        new: p.scopes.iter().copied().collect(),
                    }),
                    user_comment: (user != old_user).then(|| TextChange {
                        old: Some(old_user.clone()),
                        new: user.clone(),
                    }),
                    marker: (Some(m) != old_marker).then(|| TextChange {
                        old: old_marker.map(|m| m.render()),
                        new: m.render(),
                    }),
                    comment: Some(marker::join(&user, &m)),
                    reason: format!("renamed from {}; copied server-side", old.name),
                });
            }
            None => {
                let mut change = self.create(store, name, p);
                change.source = Some(live_ref(old));
                change.value = Some(match (old_fp, wanted) {
                    (Some(a), Some(b)) => ValueChange::Changed { old: a, new: b },
                    _ => ValueChange::Unverified { new: wanted },
                });
                change.reason = format!(
                    "renamed from {}; the value changes, so it is written anew",
                    old.name
                );
                w.creates.push(change);
            }
        }
        if delete_old {
            w.deletes.push(delete_change(
                old,
                DeleteCause::Rename,
                format!("renamed to {name}"),
            ));
        }
        carried.is_none()
    }

    fn update(
        &mut self,
        store: &str,
        name: &SecretName,
        p: &PresentSecret,
        live: &LiveSecret,
    ) -> Option<SecretChange> {
        let (live_user, live_marker) = marker::split(&live.comment);
        let live_fp = live_marker.and_then(|m| m.fingerprint);
        let mut reasons = Vec::new();

        let value = match &p.value {
            ValueSource::Keep => None,
            _ => {
                let wanted = self.desired_fp(store, name);
                match (live_fp, wanted) {
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
        };
        let send_value = value.is_some();
        // The fingerprint the marker carries after this update.
        let fp = match value {
            Some(ValueChange::Changed { new, .. }) => Some(new),
            Some(ValueChange::Unverified { new }) => new,
            Some(ValueChange::New { .. }) | None => live_fp,
        };

        let wanted_scopes = wire_scopes(&p.scopes);
        let live_scopes: Vec<String> = live.scopes.iter().cloned().collect();
        let scopes = (wanted_scopes != live_scopes).then(|| {
            reasons.push("scopes changed");
            ScopesChange {
                old: Some(live_scopes),
                new: p.scopes.iter().copied().collect(),
            }
        });

        let user = p.comment.clone().unwrap_or_default();
        let user_comment = (user != live_user).then(|| {
            reasons.push("comment changed");
            TextChange {
                old: Some(live_user.clone()),
                new: user.clone(),
            }
        });

        let m = Self::marker_for(p, fp);
        let marker_change = (Some(m) != live_marker).then(|| {
            match live_marker {
                None => reasons.push("take ownership: marker added"),
                Some(old) if old.protect != m.protect => reasons.push(if m.protect {
                    "protect set"
                } else {
                    "protect removed"
                }),
                Some(_) => {}
            }
            TextChange {
                old: live_marker.map(|m| m.render()),
                new: m.render(),
            }
        });

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
            name: name.to_string(),
            id: Some(live.id.clone()),
            source: None,
            delete_cause: None,
            value,
            send_value,
            scopes,
            user_comment,
            marker: marker_change,
            comment,
            reason: reasons.join("; "),
        })
    }

    fn check_safety(&mut self, store: &DesiredStore, live: Option<&LiveStore>, w: &StoreWork) {
        let deletes = w
            .deletes
            .iter()
            .filter(|d| d.delete_cause != Some(DeleteCause::Rename))
            .count() as u32;
        if deletes == 0 {
            return;
        }
        let existing = live.map(|s| s.secrets.len() as u32).unwrap_or(0);
        let mut block = |rule: &str, message: String| {
            self.blocked.push(BlockReason {
                account: self.desired.label.clone(),
                store: store.name.clone(),
                deletes,
                existing,
                rule: rule.to_string(),
                message,
            });
        };
        if let Some(allowed) = self.options.allow_deletes {
            if deletes > allowed {
                block(
                    "allow_deletes",
                    format!("{deletes} deletes exceed --allow-deletes {allowed}"),
                );
            }
            return;
        }
        if existing < self.safety.min_existing {
            return;
        }
        if let Some(max) = self.safety.max_deletes
            && deletes > max
        {
            block(
                "max_deletes",
                format!("{deletes} deletes exceed safety.max_deletes {max}"),
            );
        }
        if let Some(pct) = self.safety.max_delete_percent
            && u64::from(deletes) * 100 > u64::from(pct) * u64::from(existing)
        {
            block(
                "max_delete_percent",
                format!("{deletes} of {existing} secrets is over safety.max_delete_percent {pct}%"),
            );
        }
    }
}

fn single(stage: Stage, kind: ActionKind, store: &StoreRef, change: &SecretChange) -> Action {
    Action {
        stage,
        kind,
        store: store.clone(),
        secrets: vec![change.clone()],
        reason: change.reason.clone(),
    }
}
