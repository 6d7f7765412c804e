//! The live-state digest stored in a saved plan: a SHA-256 over what the plan depends on in
//! the live snapshot (account, store and secret ids and names, `modified`, comments and
//! scopes). `apply FILE` recomputes the whole [`PlanDigest`] and refuses a stale plan, naming
//! each input that moved ([`PlanDigest::moved_since`]). Pure.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::live::LiveState;

use super::model::PlanDigest;

impl PlanDigest {
    /// Which inputs of the `saved` plan moved by now: `manifest`, `value file <path>`,
    /// `wrangler config <path>`, `live state of account <label>` (or `live state` when the
    /// plan has no per-account digest). Paths and labels are made printable: a saved plan is
    /// a file anyone can edit.
    pub fn moved_since(&self, saved: &PlanDigest) -> Vec<String> {
        use crate::text::printable;
        let now = self;
        let mut moved = Vec::new();
        if saved.manifest != now.manifest {
            moved.push("manifest".to_string());
        }
        let paths: BTreeSet<&String> = saved.values.keys().chain(now.values.keys()).collect();
        for path in paths {
            if saved.values.get(path) != now.values.get(path) {
                moved.push(format!("value file {}", printable(path)));
            }
        }
        let configs: BTreeSet<&String> = saved.wrangler.keys().chain(now.wrangler.keys()).collect();
        for path in configs {
            if saved.wrangler.get(path) != now.wrangler.get(path) {
                moved.push(format!("wrangler config {}", printable(path)));
            }
        }
        if saved.live_accounts.is_empty() {
            if saved.live != now.live {
                moved.push("live state".to_string());
            }
        } else {
            let labels: BTreeSet<&String> = saved
                .live_accounts
                .keys()
                .chain(now.live_accounts.keys())
                .collect();
            for label in labels {
                if saved.live_accounts.get(label) != now.live_accounts.get(label) {
                    moved.push(format!("live state of account {}", printable(label)));
                }
            }
        }
        moved
    }
}

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
            field("store", store.id.as_str());
            field("store_name", &store.name);
            for secret in &store.secrets {
                field("secret", secret.id.as_str());
                field("name", &secret.name);
                field("modified", &secret.modified);
                field("comment", secret.comment.raw());
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

    fn inputs(manifest: &str, value: &str, live: &str) -> PlanDigest {
        PlanDigest {
            manifest: manifest.into(),
            values: [("values/a.age".to_string(), value.to_string())]
                .into_iter()
                .collect(),
            live: live.into(),
            live_accounts: [("production".to_string(), live.to_string())]
                .into_iter()
                .collect(),
            allow_deletes: None,
            wrangler: [("wrangler.toml".to_string(), "w".to_string())]
                .into_iter()
                .collect(),
            allow_binding_breaks: false,
        }
    }

    #[test]
    fn staleness_names_each_moved_input() {
        let a = inputs("m", "v", "l");
        assert!(a.moved_since(&a).is_empty());
        assert_eq!(inputs("m2", "v", "l").moved_since(&a), ["manifest"]);
        assert_eq!(
            inputs("m", "v2", "l").moved_since(&a),
            ["value file values/a.age"]
        );
        assert_eq!(
            inputs("m", "v", "l2").moved_since(&a),
            ["live state of account production"]
        );
        let mut edited = a.clone();
        edited.wrangler.insert("wrangler.toml".into(), "w2".into());
        assert_eq!(edited.moved_since(&a), ["wrangler config wrangler.toml"]);
        // A config read now that the saved plan did not read (or the other way) moved too.
        let mut more = a.clone();
        more.wrangler
            .insert("api/wrangler.jsonc".into(), "x".into());
        assert_eq!(more.moved_since(&a), ["wrangler config api/wrangler.jsonc"]);
        assert_eq!(a.moved_since(&more), ["wrangler config api/wrangler.jsonc"]);
        // A plan saved without per-account digests names the live state as a whole.
        let mut whole = a.clone();
        whole.live_accounts.clear();
        assert_eq!(inputs("m", "v", "l2").moved_since(&whole), ["live state"]);
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
