//! The check around a stage of deletes. What each store holds before them is known without a
//! request: the live listing the plan was made from, plus what this run's creates and copies
//! answered (`AccountRun::known`). Only a store whose contents a write left uncertain (its
//! outcome was learnt by a re-list) is listed first. After the deletes each store is listed
//! once: every id reported deleted must be gone, and nothing else may have vanished, since
//! the live state was read either. That listing is what the store holds from then on. A failed
//! check is a loud failure with [`super::FailureCause::Verification`].

use std::collections::{BTreeMap, BTreeSet};

use crate::cloudflare::ClientError;
use crate::domain::{SecretId, StoreId};
use crate::live::LiveStore;
use crate::plan::Action;

use super::AccountRun;
use super::report::{Outcome, Step};

/// A store's secrets: id → name, `deleted` ones dropped.
pub(super) type Listing = BTreeMap<SecretId, String>;

/// A live store's listing.
pub(super) fn listing(store: &LiveStore) -> Listing {
    store
        .secrets
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect()
}

impl AccountRun<'_, '_> {
    /// Adds what a write created to its store's listing (a store whose listing is unknown
    /// stays unknown).
    pub(super) fn learn(
        &self,
        store: &StoreId,
        created: impl IntoIterator<Item = (SecretId, String)>,
    ) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(listing) = known.get_mut(store) {
            listing.extend(created);
        }
    }

    /// Records a store's whole listing (a store this run created starts empty).
    pub(super) fn know(&self, store: &StoreId, listing: Listing) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(store.clone(), listing);
    }

    /// Forgets a store's listing: a write left it uncertain; it is listed before its deletes.
    pub(super) fn forget(&self, store: &StoreId) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.remove(store);
    }

    /// What each store of a stage of deletes holds before it runs, by store name: known, or
    /// else listed. A failed listing is the step to report (the deletes are then not
    /// attempted).
    pub(super) async fn before_deletes<'p>(
        &self,
        stage: &[Action],
    ) -> Result<BTreeMap<String, Listing>, Step<'p>> {
        let mut before = BTreeMap::new();
        for action in stage {
            let name = &action.store.name;
            if before.contains_key(name) {
                continue;
            }
            let Some(id) = self.stores.get(name) else {
                continue;
            };
            let known = {
                let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                known.get(id).cloned()
            };
            let listed = match known {
                Some(listing) => listing,
                None => match self.list(id).await {
                    Ok(listed) => listed,
                    Err(e) => {
                        let what = format!("list {name} before deleting");
                        let outcome = Outcome::client(&e);
                        self.emit(&what, &outcome);
                        return Err(Step::check(what, outcome));
                    }
                },
            };
            before.insert(name.clone(), listed);
        }
        Ok(before)
    }

    /// After the deletes of `stage` (whose `steps` say which were done): one listing and
    /// check per store in `before`, reported only when it fails.
    pub(super) async fn verify_after<'p>(
        &self,
        stage: &[Action],
        before: &BTreeMap<String, Listing>,
        steps: &[Step<'_>],
    ) -> Vec<Step<'p>> {
        let mut failed = Vec::new();
        for (store, listed_before) in before {
            let in_store = |a: &&Action| &a.store.name == store;
            let ids = |a: &Action| {
                a.secrets
                    .iter()
                    .filter_map(|s| s.id.clone())
                    .collect::<Vec<_>>()
            };
            let requested: BTreeSet<SecretId> =
                stage.iter().filter(in_store).flat_map(ids).collect();
            let done: BTreeSet<SecretId> = steps
                .iter()
                .filter(|s| matches!(s.outcome, Outcome::Done(_)))
                .filter_map(|s| s.action)
                .filter(in_store)
                .flat_map(ids)
                .collect();
            let Some(id) = self.stores.get(store) else {
                continue;
            };
            let outcome = match self.list(id).await {
                Err(e) => {
                    self.forget(id);
                    Outcome::client(&e)
                }
                Ok(after) => {
                    let outcome = verify_deletes(listed_before, &after, &requested, &done);
                    self.know(id, after);
                    outcome
                }
            };
            if outcome.is_failed() {
                let what = format!("verify deletes in {store}");
                self.emit(&what, &outcome);
                failed.push(Step::check(what, outcome));
            }
        }
        failed
    }

    /// Lists a store's secrets: id → name.
    async fn list(&self, store_id: &StoreId) -> Result<Listing, ClientError> {
        Ok(self
            .relist(store_id)
            .await?
            .map(|s| (SecretId::from(s.id), s.name))
            .collect())
    }
}

/// After a store's deletes: every id reported deleted is gone, and nothing vanished that was
/// not asked for (`before` is what the store held when the live state was read, with this
/// run's creates and copies).
fn verify_deletes(
    before: &Listing,
    after: &Listing,
    requested: &BTreeSet<SecretId>,
    done: &BTreeSet<SecretId>,
) -> Outcome {
    let still: Vec<&str> = done
        .iter()
        .filter(|id| after.contains_key(*id))
        .map(|id| before.get(id).map_or(id.as_str(), String::as_str))
        .collect();
    let vanished: Vec<&str> = before
        .iter()
        .filter(|(id, _)| !after.contains_key(*id) && !requested.contains(*id))
        .map(|(_, name)| name.as_str())
        .collect();
    let mut errors = Vec::new();
    if !still.is_empty() {
        errors.push(format!(
            "still listed after their delete succeeded: {}",
            still.join(", ")
        ));
    }
    if !vanished.is_empty() {
        errors.push(format!(
            "secrets vanished since the live state was read that this apply did not delete: {}",
            vanished.join(", ")
        ));
    }
    if errors.is_empty() {
        Outcome::Done(None)
    } else {
        Outcome::check(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::FailureCause;

    fn map(pairs: &[(&str, &str)]) -> Listing {
        pairs
            .iter()
            .map(|(a, b)| (SecretId::from(*a), b.to_string()))
            .collect()
    }

    fn ids(list: &[&str]) -> BTreeSet<SecretId> {
        list.iter().map(|s| SecretId::from(*s)).collect()
    }

    #[test]
    fn delete_verification_names_leftovers_and_strays() {
        let before = map(&[("1", "A"), ("2", "B"), ("3", "C")]);
        let requested = ids(&["1"]);
        let done = requested.clone();
        assert!(matches!(
            verify_deletes(&before, &map(&[("2", "B"), ("3", "C")]), &requested, &done),
            Outcome::Done(_)
        ));
        match verify_deletes(&before, &map(&[("1", "A"), ("3", "C")]), &requested, &done) {
            Outcome::Failed(e, cause) => {
                assert_eq!(cause, FailureCause::Verification);
                assert!(e.contains("still listed") && e.contains('A'), "{e}");
                assert!(e.contains("did not delete: B"), "{e}");
            }
            _ => panic!("expected a failure"),
        }
    }
}
