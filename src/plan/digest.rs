//! The live-state digest stored in a saved plan: a SHA-256 over what the plan depends on in
//! the live snapshot (account, store and secret ids and names, `modified`, comments and
//! scopes). `apply FILE` recomputes it to refuse a stale plan. Pure.

use sha2::{Digest, Sha256};

use crate::live::LiveState;

/// Hex SHA-256 of the live snapshot's plan-relevant fields, in snapshot order.
///
/// Each field is length-prefixed, so no two different snapshots share an encoding.
pub fn live_digest(live: &LiveState) -> String {
    let mut h = Sha256::new();
    let mut field = |tag: &str, s: &str| {
        h.update(tag.as_bytes());
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    field("v", "1");
    for account in &live.accounts {
        field("account", account.account_id.as_str());
        for store in &account.stores {
            field("store", &store.id);
            field("store_name", &store.name);
            for secret in &store.secrets {
                field("secret", &secret.id);
                field("name", &secret.name);
                field("modified", &secret.modified);
                field("comment", &secret.comment);
                for scope in &secret.scopes {
                    field("scope", scope);
                }
                field("end", "");
            }
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccountId;
    use crate::live::{LiveAccount, LiveSecret, LiveStore, SecretStatus};

    fn state(comment: &str, scopes: &[&str], modified: &str) -> LiveState {
        LiveState {
            accounts: vec![LiveAccount {
                account_id: AccountId::parse("0123456789abcdef0123456789abcdef").unwrap(),
                quota: None,
                stores: vec![LiveStore {
                    id: "s1".into(),
                    name: "default".into(),
                    created: "c".into(),
                    modified: "m".into(),
                    secrets: vec![LiveSecret {
                        id: "x1".into(),
                        name: "A".into(),
                        status: SecretStatus::Active,
                        comment: comment.into(),
                        scopes: scopes.iter().map(|s| s.to_string()).collect(),
                        created: "c".into(),
                        modified: modified.into(),
                    }],
                }],
            }],
        }
    }

    #[test]
    fn the_digest_moves_with_each_relevant_field() {
        let base = live_digest(&state("c", &["workers"], "t1"));
        assert_eq!(base, live_digest(&state("c", &["workers"], "t1")));
        assert_eq!(base.len(), 64);
        assert_ne!(base, live_digest(&state("d", &["workers"], "t1")));
        assert_ne!(base, live_digest(&state("c", &["workers", "dex"], "t1")));
        assert_ne!(base, live_digest(&state("c", &["workers"], "t2")));
        // Field boundaries are unambiguous.
        assert_ne!(
            live_digest(&state("ab", &["c"], "t")),
            live_digest(&state("a", &["bc"], "t"))
        );
    }
}
