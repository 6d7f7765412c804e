//! The client-side pacer and the client's counters.
//!
//! The pacer keeps at most `limit` requests in any sliding `window` (Cloudflare: 1,200 per
//! 5 minutes per token). It is one shared object behind every clone of a [`super::Client`], so
//! concurrent tasks draw from the same budget. Every attempt, retries included, takes a slot.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The pure core: a log of send times inside the window. No clock, no async.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: usize,
    window: Duration,
    sends: VecDeque<Instant>,
}

impl SlidingWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            window,
            sends: VecDeque::new(),
        }
    }

    /// Takes a slot at `now`, or says when the oldest slot frees up.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Instant> {
        while let Some(&oldest) = self.sends.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.sends.pop_front();
            } else {
                break;
            }
        }
        if self.sends.len() < self.limit {
            self.sends.push_back(now);
            Ok(())
        } else {
            Err(self.sends[0] + self.window)
        }
    }

    pub(crate) fn in_window(&self, now: Instant) -> usize {
        self.sends
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < self.window)
            .count()
    }
}

/// Shared async pacer.
#[derive(Debug)]
pub struct Pacer {
    window: Mutex<SlidingWindow>,
}

impl Pacer {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            window: Mutex::new(SlidingWindow::new(limit, window)),
        }
    }

    /// Waits until a request may be sent and takes its slot. Returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        loop {
            let next = {
                let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
                match w.admit(Instant::now()) {
                    Ok(()) => return start.elapsed(),
                    Err(next) => next,
                }
            };
            tokio::time::sleep_until(next).await;
        }
    }

    /// Requests sent inside the current window.
    pub fn in_window(&self) -> usize {
        let w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.in_window(Instant::now())
    }
}

/// Counters shared by all clones of a client.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub pacer_wait_us: AtomicU64,
    pub backoff_wait_us: AtomicU64,
    pub rate_limited: AtomicU64,
    pub outcome_unknown: AtomicU64,
}

impl Counters {
    pub(crate) fn add_wait(counter: &AtomicU64, d: Duration) {
        counter.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests_sent: get(&self.requests),
            retries: get(&self.retries),
            pacer_wait: Duration::from_micros(get(&self.pacer_wait_us)),
            backoff_wait: Duration::from_micros(get(&self.backoff_wait_us)),
            rate_limited: get(&self.rate_limited),
            outcome_unknown: get(&self.outcome_unknown),
        }
    }
}

/// A copy of the client's counters, for the applier's summary and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP attempts that left the process (retries included).
    pub requests_sent: u64,
    /// Attempts after the first, over all calls.
    pub retries: u64,
    /// Total time spent waiting for the pacer.
    pub pacer_wait: Duration,
    /// Total time spent in backoff / `Retry-After` waits.
    pub backoff_wait: Duration,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Calls that ended in `OutcomeUnknown`.
    pub outcome_unknown: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_admits_limit_then_frees_oldest() {
        let t0 = Instant::now();
        let w5 = Duration::from_secs(300);
        let mut w = SlidingWindow::new(3, w5);
        assert!(w.admit(t0).is_ok());
        assert!(w.admit(t0 + Duration::from_secs(10)).is_ok());
        assert!(w.admit(t0 + Duration::from_secs(20)).is_ok());
        // Fourth inside the window: told to wait until the first slot ages out.
        assert_eq!(w.admit(t0 + Duration::from_secs(30)), Err(t0 + w5));
        assert_eq!(w.in_window(t0 + Duration::from_secs(30)), 3);
        // At exactly t0 + window the first slot is free; the second is not yet.
        assert!(w.admit(t0 + w5).is_ok());
        assert_eq!(
            w.admit(t0 + w5 + Duration::from_secs(1)),
            Err(t0 + Duration::from_secs(10) + w5)
        );
        assert_eq!(w.in_window(t0 + w5 + Duration::from_secs(1)), 3);
    }
}
