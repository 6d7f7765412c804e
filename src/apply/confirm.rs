//! Writes that are not idempotent (store create, batch create, duplicate) and how their
//! outcome is learnt: send; when the send fails or its outcome is unknown, re-list to see
//! what exists; after an unknown outcome, send what is still missing once more.
//!
//! A second send only follows an unknown outcome: a refusal (a 4xx) would be refused again,
//! and a re-send after a known failure could create what a concurrent writer just made.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::cloudflare::ClientError;

use super::failure::FailureCause;
use super::report::Outcome;

/// A write that is not idempotent, and how a re-list tells which of its items exist.
pub(super) trait Confirmable {
    /// One thing the write creates: a store, one secret of a batch, a copy.
    type Item;

    /// Sends `pending` in one request.
    async fn send(&mut self, pending: &[Self::Item]) -> Result<(), ClientError>;

    /// Re-lists and keeps the items of `pending` that do not exist yet.
    async fn still_missing(
        &mut self,
        pending: Vec<Self::Item>,
    ) -> Result<Vec<Self::Item>, ClientError>;
}

/// How a confirmed write ended.
pub(super) enum Confirmed<T> {
    /// The request succeeded: the first send, or (`resent`) the second after an unknown
    /// outcome.
    Sent { resent: bool },
    /// The request failed (or its outcome was unknown) but a re-list found everything.
    Relisted,
    /// Still missing after the last send, whose error this is.
    Missing { error: ClientError, missing: Vec<T> },
    /// The re-list meant to learn the outcome of a failed send failed too.
    RelistFailed {
        write: ClientError,
        list: ClientError,
    },
}

/// Sends `pending` through `write` (at most twice, each counted in `writes`): see the
/// module docs.
pub(super) async fn send_then_confirm<W: Confirmable>(
    write: &mut W,
    mut pending: Vec<W::Item>,
    writes: &AtomicU64,
) -> Confirmed<W::Item> {
    let mut resent = false;
    loop {
        writes.fetch_add(1, Ordering::Relaxed);
        let error = match write.send(&pending).await {
            Ok(()) => return Confirmed::Sent { resent },
            Err(error) => error,
        };
        // Learn what exists before deciding.
        pending = match write.still_missing(pending).await {
            Ok(missing) => missing,
            Err(list) => return Confirmed::RelistFailed { write: error, list },
        };
        if pending.is_empty() {
            return Confirmed::Relisted;
        }
        if resent || !error.is_outcome_unknown() {
            return Confirmed::Missing {
                error,
                missing: pending,
            };
        }
        resent = true;
    }
}

impl<T> Confirmed<T> {
    /// Whether a send failed on the way, so that what exists was learnt by a re-list (or
    /// could not be) rather than from the answer alone.
    pub(super) fn uncertain(&self) -> bool {
        !matches!(self, Confirmed::Sent { resent: false })
    }

    /// The outcome to report; `failure` words the error of a send that left items missing.
    pub(super) fn outcome(self, failure: impl FnOnce(&ClientError, &[T]) -> String) -> Outcome {
        match self {
            Confirmed::Sent { .. } => Outcome::Done(None),
            Confirmed::Relisted => Outcome::Done(Some("confirmed by re-list".into())),
            Confirmed::Missing { error, missing } => {
                Outcome::Failed(failure(&error, &missing), FailureCause::of(&error))
            }
            Confirmed::RelistFailed { write, list } => Outcome::Failed(
                format!("{write}; re-list failed: {list}"),
                FailureCause::of(&write).or(FailureCause::of(&list)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::{Endpoint, TransportKind};

    fn unknown() -> ClientError {
        ClientError::OutcomeUnknown {
            endpoint: Endpoint::CreateSecrets,
            account_id: "a".into(),
            kind: TransportKind::Timeout,
        }
    }

    fn refused() -> ClientError {
        ClientError::Api(crate::cloudflare::ApiError {
            endpoint: Endpoint::CreateSecrets,
            account_id: "a".into(),
            status: 400,
            code: Some(1001),
            message_token: "secret_value_too_long".into(),
            more: vec![],
        })
    }

    /// A scripted write: each send answers from `sends` and creates `created` of the items
    /// sent; a re-list answers from `lists` and reports which items exist.
    struct Script {
        sends: Vec<(Result<(), ClientError>, usize)>,
        lists: Vec<Result<(), ClientError>>,
        exists: Vec<u32>,
        sent: Vec<Vec<u32>>,
    }

    impl Confirmable for Script {
        type Item = u32;

        async fn send(&mut self, pending: &[u32]) -> Result<(), ClientError> {
            self.sent.push(pending.to_vec());
            let (answer, created) = self.sends.remove(0);
            self.exists.extend(pending.iter().take(created));
            answer
        }

        async fn still_missing(&mut self, pending: Vec<u32>) -> Result<Vec<u32>, ClientError> {
            self.lists.remove(0)?;
            Ok(pending
                .into_iter()
                .filter(|i| !self.exists.contains(i))
                .collect())
        }
    }

    fn run(script: &mut Script, items: Vec<u32>) -> (Confirmed<u32>, u64) {
        let writes = AtomicU64::new(0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = rt.block_on(send_then_confirm(script, items, &writes));
        (result, writes.into_inner())
    }

    fn script(sends: Vec<(Result<(), ClientError>, usize)>, lists: usize) -> Script {
        Script {
            sends,
            lists: (0..lists).map(|_| Ok(())).collect(),
            exists: Vec::new(),
            sent: Vec::new(),
        }
    }

    #[test]
    fn a_success_is_sent_once_and_never_relisted() {
        let mut s = script(vec![(Ok(()), 3)], 0);
        let (result, writes) = run(&mut s, vec![1, 2, 3]);
        assert!(matches!(result, Confirmed::Sent { resent: false }));
        assert!(!result.uncertain());
        assert_eq!(writes, 1);
    }

    #[test]
    fn an_unknown_outcome_resends_only_what_is_missing_once() {
        // The first send created item 1 of 3 before its answer was lost.
        let mut s = script(vec![(Err(unknown()), 1), (Ok(()), 2)], 1);
        let (result, writes) = run(&mut s, vec![1, 2, 3]);
        assert!(matches!(result, Confirmed::Sent { resent: true }));
        assert!(result.uncertain());
        assert_eq!(s.sent, [vec![1, 2, 3], vec![2, 3]]);
        assert_eq!(writes, 2);

        // Everything was created: the re-list confirms it, nothing is sent again.
        let mut s = script(vec![(Err(unknown()), 3)], 1);
        let (result, writes) = run(&mut s, vec![1, 2, 3]);
        assert!(matches!(result, Confirmed::Relisted));
        assert!(result.uncertain());
        assert_eq!(writes, 1);

        // Unknown twice: what is still missing is reported, and there is no third send.
        let mut s = script(vec![(Err(unknown()), 0), (Err(unknown()), 1)], 2);
        let (result, writes) = run(&mut s, vec![1, 2]);
        match result {
            Confirmed::Missing { missing, .. } => assert_eq!(missing, [2]),
            _ => panic!("expected items missing"),
        }
        assert_eq!(writes, 2);
    }

    #[test]
    fn a_known_failure_is_relisted_but_never_resent() {
        let mut s = script(vec![(Err(refused()), 0)], 1);
        let (result, writes) = run(&mut s, vec![1]);
        match result {
            Confirmed::Missing { error, missing } => {
                assert_eq!(missing, [1]);
                assert_eq!(FailureCause::of(&error), FailureCause::ValueTooLong);
            }
            _ => panic!("expected items missing"),
        }
        assert_eq!((writes, s.sent.len()), (1, 1));
    }

    #[test]
    fn a_failed_relist_keeps_the_permanent_cause() {
        let mut s = script(vec![(Err(refused()), 0)], 0);
        s.lists = vec![Err(unknown())];
        let (result, _) = run(&mut s, vec![1]);
        match result.outcome(|e, _| e.to_string()) {
            Outcome::Failed(message, cause) => {
                assert!(message.contains("; re-list failed: "), "{message}");
                assert_eq!(cause, FailureCause::ValueTooLong);
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}
