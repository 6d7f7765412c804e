//! The client-side pacer and the client's counters.
//!
//! The pacer keeps at most `limit` requests in any sliding `window` (Cloudflare: 1,200 per
//! 5 minutes per token). It is one shared object behind every clone of a [`super::Client`], so
//! concurrent tasks draw from the same budget. Every attempt, retries included, takes a slot.
//!
//! A slot is held from the moment its request is sent until one window after its answer came
//! back (or the attempt failed). The server counts a request when it arrives, which is after
//! it was sent and before it was answered; a request sent later can arrive before one sent
//! earlier (a new connection, a busy machine). Freed one window after a *send*, a slot could
//! let a request land inside the server's window of the one it replaces, one over the limit
//! (the benchmark's S5 drew 3 answers of 429 in 106 requests that way). Freed one window after
//! the *answer*, the next request in that slot arrives more than a window after the one before
//! it, whatever the network did: no margin to guess, and the cost is one round trip per slot
//! instead of a share of the window (a margin of 2 % was 6 s of 5 minutes).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The pure core: how many requests are in flight, and when each answered request inside the
/// window was answered. No clock, no async.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: usize,
    window: Duration,
    in_flight: usize,
    /// Answer times, oldest first.
    answered: VecDeque<Instant>,
}

/// Why a request may not be sent yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    /// The oldest answered slot frees up then.
    Until(Instant),
    /// Every slot is held by a request still in flight: wait for an answer.
    AllInFlight,
}

impl SlidingWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            window,
            in_flight: 0,
            answered: VecDeque::new(),
        }
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some(&oldest) = self.answered.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.answered.pop_front();
            } else {
                break;
            }
        }
    }

    /// Takes a slot at `now` for a request about to be sent, or says what to wait for.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<(), Full> {
        self.forget_old(now);
        if self.in_flight + self.answered.len() < self.limit {
            self.in_flight += 1;
            Ok(())
        } else {
            Err(self
                .answered
                .front()
                .map_or(Full::AllInFlight, |&t| Full::Until(t + self.window)))
        }
    }

    /// The request of a slot taken by [`Self::admit`] was answered (or failed) at `now`: its
    /// slot frees up one window later.
    pub(crate) fn answered(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let at = self.answered.partition_point(|t| *t <= now);
        self.answered.insert(at, now);
    }

    /// Slots held at `now`: requests in flight and those answered less than a window ago.
    pub(crate) fn in_window(&self, now: Instant) -> usize {
        self.in_flight
            + self
                .answered
                .iter()
                .filter(|t| now.saturating_duration_since(**t) < self.window)
                .count()
    }
}

/// A slot taken for one request: dropped when its answer is in (or the attempt failed), which
/// starts the window it is held for afterwards.
#[derive(Debug)]
#[must_use = "the slot frees up one window after it is dropped"]
pub(crate) struct Slot<'a> {
    pacer: &'a Pacer,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut w = self.pacer.lock();
        w.answered(Instant::now());
        drop(w);
        self.pacer.freed.notify_waiters();
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
    /// Woken when a slot's request is answered (for waits with every slot in flight).
    freed: Notify,
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
            freed: Notify::new(),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, SlidingWindow> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a request may be sent and takes its slot; drop the slot when the answer is
    /// in. Also returns how long it waited.
    pub(crate) async fn acquire(&self) -> (Slot<'_>, Duration) {
        let start = Instant::now();
        loop {
            // Registered before looking, so an answer between the look and the wait is seen.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let now = Instant::now();
            let full = self.lock().admit(now);
            match full {
                Ok(()) => return (Slot { pacer: self }, start.elapsed()),
                Err(Full::Until(next)) => {
                    self.announce(now, next);
                    tokio::time::sleep_until(next).await;
                }
                Err(Full::AllInFlight) => freed.await,
            }
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

    /// Slots held now: requests in flight and those answered less than a window ago.
    pub(crate) fn in_window(&self) -> usize {
        self.lock().in_window(Instant::now())
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
                // Each request is answered at once.
                tokio::spawn(async move { pacer.acquire().await.1 })
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
        let _slot = pacer.acquire().await;
        assert_eq!(pacer.announced.load(Ordering::Relaxed), 1);
        assert_eq!(waits.has_changed().ok(), Some(false));
    }

    #[test]
    fn a_slot_frees_one_window_after_its_answer_not_its_send() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let w5 = s(300);
        let mut w = SlidingWindow::new(3, w5);
        assert!(w.admit(t0).is_ok());
        assert!(w.admit(t0 + s(10)).is_ok());
        assert!(w.admit(t0 + s(20)).is_ok());
        // All three still in flight: nothing to wait for but an answer.
        assert_eq!(w.admit(t0 + s(30)), Err(Full::AllInFlight));
        assert_eq!(w.in_window(t0 + s(30)), 3);
        // The second is answered first (answers may come back in any order); its slot is
        // the one that frees up, a window after the answer.
        w.answered(t0 + s(40));
        assert_eq!(w.admit(t0 + s(41)), Err(Full::Until(t0 + s(340))));
        w.answered(t0 + s(35));
        assert_eq!(w.admit(t0 + s(42)), Err(Full::Until(t0 + s(335))));
        assert_eq!(w.in_window(t0 + s(42)), 3);
        // A window after the answer, not after the send (at 310 s it is still held).
        assert_eq!(w.admit(t0 + s(310)), Err(Full::Until(t0 + s(335))));
        assert!(w.admit(t0 + s(335)).is_ok());
        assert_eq!(w.admit(t0 + s(336)), Err(Full::Until(t0 + s(340))));
        assert!(w.admit(t0 + s(340)).is_ok());
        assert_eq!(w.in_window(t0 + s(340)), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waits_for_an_answer_when_every_slot_is_in_flight() {
        let pacer = std::sync::Arc::new(Pacer::new(1, Duration::from_secs(10)));
        let (slot, waited) = pacer.acquire().await;
        assert_eq!(waited, Duration::ZERO);
        let second = {
            let pacer = pacer.clone();
            tokio::spawn(async move { pacer.acquire().await.1 })
        };
        // The first request takes 3 s to be answered; the second then waits a window more.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!second.is_finished());
        drop(slot);
        let waited = second.await.unwrap();
        assert_eq!(waited, Duration::from_secs(13));
    }
}
