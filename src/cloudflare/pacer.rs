//! The client-side pacer and the client's counters.
//!
//! The pacer keeps at most `limit` requests in any sliding `window` (Cloudflare: 1,200 per
//! 5 minutes per token). It is one shared object behind every clone of a [`super::Client`], so
//! concurrent tasks draw from the same budget. Every attempt, retries included, takes a slot.
//!
//! A slot is held [`HOLD_MARGIN_DIVISOR`]-th longer than the window (2 %: 6 s of 5 minutes).
//! The server counts a request when it arrives, the pacer when it is sent, and a request sent
//! later can arrive before one sent earlier (a new connection, a busy machine): freed exactly
//! one window after a send, a slot could let a request land inside the server's window of
//! the send it replaces, one over the limit. Without the margin the benchmark's S5 (the
//! emulator's limit scaled to 20 requests per second) drew 3 answers of 429 in 106 requests.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A slot is held `window + window / HOLD_MARGIN_DIVISOR` after its send (see the module
/// docs).
pub(super) const HOLD_MARGIN_DIVISOR: u32 = 50;

/// The pure core: a log of send times inside the window. No clock, no async.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: usize,
    /// How long a send holds its slot: the window plus the margin.
    window: Duration,
    sends: VecDeque<Instant>,
}

impl SlidingWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            window: window + window / HOLD_MARGIN_DIVISOR,
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

/// Waits shorter than this are not announced.
pub const ANNOUNCE_WAIT_OVER: Duration = Duration::from_secs(1);

/// A wait for the request budget, announced once per wait period to whoever watches
/// `Pacer::waits` (the command layer prints it; the client never prints).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacerWait {
    /// How long until the next request may start.
    pub wait: Duration,
    /// The budget: `limit` requests per `window`.
    pub limit: u32,
    pub window: Duration,
}

/// Shared async pacer.
#[derive(Debug)]
pub(crate) struct Pacer {
    window: Mutex<SlidingWindow>,
    limit: u32,
    length: Duration,
    /// When the last announced wait period ends; a wait inside it is not announced again.
    announced_until: Mutex<Option<Instant>>,
    waits: tokio::sync::watch::Sender<Option<PacerWait>>,
    /// How many waits were announced.
    announced: AtomicU64,
}

impl Pacer {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            window: Mutex::new(SlidingWindow::new(limit, window)),
            limit: limit.max(1),
            length: window,
            announced_until: Mutex::new(None),
            waits: tokio::sync::watch::channel(None).0,
            announced: AtomicU64::new(0),
        }
    }

    /// A receiver that sees each announced wait (more than [`ANNOUNCE_WAIT_OVER`]), at most one
    /// per wait period however many requests are held back in it.
    pub(crate) fn waits(&self) -> tokio::sync::watch::Receiver<Option<PacerWait>> {
        self.waits.subscribe()
    }

    /// Waits until a request may be sent and takes its slot. Returns how long it waited.
    pub(crate) async fn acquire(&self) -> Duration {
        let start = Instant::now();
        loop {
            let now = Instant::now();
            let next = {
                let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
                match w.admit(now) {
                    Ok(()) => return start.elapsed(),
                    Err(next) => next,
                }
            };
            self.announce(now, next);
            tokio::time::sleep_until(next).await;
        }
    }

    /// Publishes a wait until `next` unless it is short or inside an announced period.
    fn announce(&self, now: Instant, next: Instant) {
        let wait = next.saturating_duration_since(now);
        if wait <= ANNOUNCE_WAIT_OVER {
            return;
        }
        let mut until = self
            .announced_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if until.is_some_and(|u| now < u) {
            return;
        }
        *until = Some(next);
        self.announced.fetch_add(1, Ordering::Relaxed);
        self.waits.send_replace(Some(PacerWait {
            wait,
            limit: self.limit,
            window: self.length,
        }));
    }

    /// Requests sent inside the current window.
    pub(crate) fn in_window(&self) -> usize {
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

    #[tokio::test]
    async fn a_long_wait_is_announced_once_per_period_not_per_request() {
        // Two slots per 1.5 s: of four requests started together, two wait for the same
        // period, which is announced once.
        let pacer = std::sync::Arc::new(Pacer::new(2, Duration::from_millis(1500)));
        let mut waits = pacer.waits();
        assert_eq!(*waits.borrow_and_update(), None);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move { pacer.acquire().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(waits.has_changed().unwrap(), "the wait was not announced");
        let seen = waits.borrow_and_update().expect("a wait");
        assert_eq!((seen.limit, seen.window), (2, Duration::from_millis(1500)));
        assert!(seen.wait > ANNOUNCE_WAIT_OVER, "{seen:?}");
        assert_eq!(pacer.announced.load(Ordering::Relaxed), 1);
        // A later request inside a fresh window waits for nothing and announces nothing.
        tokio::time::sleep(Duration::from_millis(1600)).await;
        pacer.acquire().await;
        assert_eq!(pacer.announced.load(Ordering::Relaxed), 1);
        assert_eq!(waits.has_changed().ok(), Some(false));
    }

    #[test]
    fn sliding_window_admits_limit_then_frees_oldest() {
        let t0 = Instant::now();
        let w5 = Duration::from_secs(300);
        // Each slot is held 2 % longer than the window: 306 s.
        let held = Duration::from_secs(306);
        let mut w = SlidingWindow::new(3, w5);
        assert!(w.admit(t0).is_ok());
        assert!(w.admit(t0 + Duration::from_secs(10)).is_ok());
        assert!(w.admit(t0 + Duration::from_secs(20)).is_ok());
        // Fourth inside the window: told to wait until the first slot ages out.
        assert_eq!(w.admit(t0 + Duration::from_secs(30)), Err(t0 + held));
        assert_eq!(w.in_window(t0 + Duration::from_secs(30)), 3);
        // At the end of the window the first slot is still held (the margin)…
        assert_eq!(w.admit(t0 + w5), Err(t0 + held));
        // …and free once the margin has passed; the second is not yet.
        assert!(w.admit(t0 + held).is_ok());
        assert_eq!(
            w.admit(t0 + held + Duration::from_secs(1)),
            Err(t0 + Duration::from_secs(10) + held)
        );
        assert_eq!(w.in_window(t0 + held + Duration::from_secs(1)), 3);
    }
}
