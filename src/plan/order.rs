//! The ordering step of the planner: one account's planned changes become actions, stage by
//! stage ([`Stage`] order), stores in manifest order within each stage:
//!
//! 1. store creates;
//! 2. when the quota needs it, the deletes that are not renames (early deletes);
//! 3. batch creates, chunked to the batch size;
//! 4. duplicates (renames copied server-side), then updates;
//! 5. the remaining deletes, old names of renames last so a copy always exists first.

use super::StoreWork;
use super::model::{Action, ActionKind, DeleteCause, SecretChange, Stage, StoreRef};

/// The actions of one account: `store_creates` first, then each store's `work` by stage.
pub(super) fn actions(
    store_creates: Vec<Action>,
    work: &[(StoreRef, StoreWork)],
    deletes_first: bool,
    batch_size: usize,
) -> Vec<Action> {
    let is_rename = |d: &&SecretChange| d.delete_cause == Some(DeleteCause::Rename);
    let mut actions = store_creates;
    if deletes_first {
        for (store, w) in work {
            for d in w.deletes.iter().filter(|d| !is_rename(d)) {
                actions.push(single(Stage::EarlyDeletes, ActionKind::Delete, store, d));
            }
        }
    }
    for (store, w) in work {
        batches(&mut actions, store, &w.creates, batch_size.max(1));
    }
    for (store, w) in work {
        for d in &w.duplicates {
            actions.push(single(Stage::Duplicates, ActionKind::Duplicate, store, d));
        }
    }
    for (store, w) in work {
        for u in &w.updates {
            actions.push(single(Stage::Updates, ActionKind::Update, store, u));
        }
    }
    for (store, w) in work {
        for d in w.deletes.iter().filter(|d| !deletes_first || is_rename(d)) {
            actions.push(single(Stage::Deletes, ActionKind::Delete, store, d));
        }
    }
    actions
}

/// One batch create per `batch` secrets of a store.
fn batches(actions: &mut Vec<Action>, store: &StoreRef, creates: &[SecretChange], batch: usize) {
    let chunks = creates.chunks(batch).collect::<Vec<_>>();
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

/// An action of one secret, for the reason its change gives.
fn single(stage: Stage, kind: ActionKind, store: &StoreRef, change: &SecretChange) -> Action {
    Action {
        stage,
        kind,
        store: store.clone(),
        secrets: vec![change.clone()],
        reason: change.reason.clone(),
    }
}
