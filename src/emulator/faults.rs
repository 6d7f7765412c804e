//! Fault injection: latency, a fixed-window rate limit, random transient errors, dropped
//! connections, lost responses and truncated or garbled success bodies, plus faults scheduled
//! for the next N matching requests.
//!
//! Determinism: every API request draws exactly four numbers from one RNG and three from a
//! second one (for body corruption; both seeded when a seed is given), whatever the
//! configuration, so the same seed and the same sequence of requests give the same faults.
//! The second stream keeps the first one's faults what they were before corruption existed.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The fault knobs. Settable at start ([`super::EmulatorConfig::faults`]) and at runtime
/// (`PUT /__emulator/faults`, [`super::EmulatorHandle::set_faults`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added latency per API request, in milliseconds.
    pub latency_ms: u64,
    /// Requests allowed per rate-limit window (0: no rate limit).
    pub rate_limit: u32,
    /// Rate-limit window in seconds.
    pub rate_window_secs: u64,
    /// Fraction (0..1) of requests answered with 429, 500, 502 or 503 (equally likely).
    pub error_rate: f64,
    /// Fraction (0..1) of requests whose connection is closed without any response.
    pub drop_rate: f64,
    /// Fraction (0..1) of writes that are applied and then lose their response.
    pub drop_response_rate: f64,
    /// Fraction (0..1) of success answers whose body is truncated or garbled (equally
    /// likely) after the request was carried out.
    pub corrupt_rate: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            rate_limit: 0,
            rate_window_secs: 300,
            error_rate: 0.0,
            drop_rate: 0.0,
            drop_response_rate: 0.0,
            corrupt_rate: 0.0,
        }
    }
}

/// What a fault does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// 429 with `Retry-After: 1` and a JSON envelope.
    #[serde(rename = "429")]
    TooManyRequests,
    /// 500 with a JSON envelope.
    #[serde(rename = "500")]
    InternalError,
    /// 502 with an HTML body, as Cloudflare's edge answers.
    #[serde(rename = "502")]
    BadGateway,
    /// 503 with an HTML body.
    #[serde(rename = "503")]
    Unavailable,
    /// Close the connection before handling; nothing is changed.
    #[serde(rename = "drop")]
    Drop,
    /// Handle the request (a write is applied), then close the connection unanswered.
    #[serde(rename = "drop_response")]
    DropResponse,
    /// Handle the request; a 2xx answer is sent cut short (a complete HTTP answer whose JSON
    /// body stops part way).
    #[serde(rename = "truncate")]
    Truncate,
    /// Handle the request; a 2xx answer has a run of its body's bytes overwritten with bytes
    /// that are not UTF-8, so it no longer parses.
    #[serde(rename = "garble")]
    Garble,
}

impl FaultKind {
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::TooManyRequests => "429",
            FaultKind::InternalError => "500",
            FaultKind::BadGateway => "502",
            FaultKind::Unavailable => "503",
            FaultKind::Drop => "drop",
            FaultKind::DropResponse => "drop_response",
            FaultKind::Truncate => "truncate",
            FaultKind::Garble => "garble",
        }
    }

    /// Whether the request is carried out and only its success body is spoiled.
    pub fn corrupts(self) -> bool {
        matches!(self, FaultKind::Truncate | FaultKind::Garble)
    }
}

/// Spoils a success body as `kind` says, at the point `at` (0..1) of it.
pub(crate) fn corrupt(kind: FaultKind, body: &mut Vec<u8>, at: f64) {
    let len = body.len();
    if len == 0 {
        return;
    }
    let pos = ((len as f64 * at) as usize).min(len - 1);
    match kind {
        // Any strict prefix of a JSON object is not JSON.
        FaultKind::Truncate => body.truncate(pos),
        // 0xFF never occurs in UTF-8, so the body cannot parse wherever the run lands.
        _ => {
            let start = pos.min(len.saturating_sub(8));
            let end = (start + 8).min(len);
            body[start..end].fill(0xFF);
        }
    }
}

/// "Fail the next `count` requests matching `method` and `path` with `kind`."
///
/// `method` is an HTTP method or `*`. `path` is a glob (`*` matches any run of characters)
/// tried against both the request path and its template, each without the `/client/v4`
/// prefix, e.g. `/accounts/*/secrets_store/stores/*/secrets` or
/// `/accounts/{account_id}/secrets_store/quota`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    #[serde(default = "any_method")]
    pub method: String,
    pub path: String,
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
}

fn any_method() -> String {
    "*".into()
}

fn one() -> u32 {
    1
}

/// The outcome of the dice for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    Pass,
    Fault(FaultKind),
    /// Carry the request out, then spoil a success body with `kind` (a corrupting kind) at
    /// the point `at` (0..1) of it.
    Corrupt {
        kind: FaultKind,
        at: f64,
    },
    /// Over the rate limit; retry after this many seconds.
    RateLimited(u64),
}

pub(crate) struct FaultEngine {
    pub config: FaultConfig,
    pub scheduled: Vec<ScheduledFault>,
    seed: Option<u64>,
    rng: StdRng,
    /// A separate stream for body corruption.
    corrupt_rng: StdRng,
    window: Option<(Instant, u32)>,
}

impl FaultEngine {
    pub(crate) fn new(config: FaultConfig, seed: Option<u64>) -> Self {
        Self {
            config,
            scheduled: Vec::new(),
            seed,
            rng: rng_for(seed),
            corrupt_rng: rng_for(seed.map(|s| s ^ CORRUPT_STREAM)),
            window: None,
        }
    }

    /// Forgets scheduled faults and the rate-limit window and restarts the dice.
    pub(crate) fn reset(&mut self) {
        self.scheduled.clear();
        self.window = None;
        self.rng = rng_for(self.seed);
        self.corrupt_rng = rng_for(self.seed.map(|s| s ^ CORRUPT_STREAM));
    }

    pub(crate) fn set_config(&mut self, config: FaultConfig) {
        if config.rate_limit != self.config.rate_limit
            || config.rate_window_secs != self.config.rate_window_secs
        {
            self.window = None;
        }
        self.config = config;
    }

    /// Decides the fate of one API request. `path` and `template` are without `/client/v4`.
    pub(crate) fn decide(
        &mut self,
        method: &str,
        path: &str,
        template: &str,
        is_write: bool,
        now: Instant,
    ) -> Decision {
        let drop_roll: f64 = self.rng.random();
        let error_roll: f64 = self.rng.random();
        let kind_roll: u32 = self.rng.random_range(0..4);
        let lost_roll: f64 = self.rng.random();
        let corrupt_roll: f64 = self.corrupt_rng.random();
        let garble: bool = self.corrupt_rng.random();
        let at: f64 = self.corrupt_rng.random();

        if let Some(i) = self.scheduled.iter().position(|f| {
            f.count > 0
                && (f.method == "*" || f.method.eq_ignore_ascii_case(method))
                && (glob(strip_prefix(&f.path), path) || glob(strip_prefix(&f.path), template))
        }) {
            let kind = self.scheduled[i].kind;
            self.scheduled[i].count -= 1;
            if self.scheduled[i].count == 0 {
                self.scheduled.remove(i);
            }
            if kind.corrupts() {
                return Decision::Corrupt { kind, at };
            }
            return Decision::Fault(kind);
        }

        if self.config.rate_limit > 0 {
            let window = Duration::from_secs(self.config.rate_window_secs.max(1));
            let (start, used) = match self.window {
                Some((start, used)) if now.duration_since(start) < window => (start, used),
                _ => (now, 0),
            };
            if used >= self.config.rate_limit {
                self.window = Some((start, used));
                let left = window.saturating_sub(now.duration_since(start));
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return Decision::RateLimited(secs.max(1));
            }
            self.window = Some((start, used + 1));
        }

        if drop_roll < self.config.drop_rate {
            return Decision::Fault(FaultKind::Drop);
        }
        if error_roll < self.config.error_rate {
            let kind = match kind_roll {
                0 => FaultKind::TooManyRequests,
                1 => FaultKind::InternalError,
                2 => FaultKind::BadGateway,
                _ => FaultKind::Unavailable,
            };
            return Decision::Fault(kind);
        }
        if is_write && lost_roll < self.config.drop_response_rate {
            return Decision::Fault(FaultKind::DropResponse);
        }
        if corrupt_roll < self.config.corrupt_rate {
            let kind = if garble {
                FaultKind::Garble
            } else {
                FaultKind::Truncate
            };
            return Decision::Corrupt { kind, at };
        }
        Decision::Pass
    }
}

/// Mixed into the seed for the corruption stream.
const CORRUPT_STREAM: u64 = 0xC0_22_0B_7E_5E_ED_00_01;

fn rng_for(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

fn strip_prefix(pattern: &str) -> &str {
    pattern.strip_prefix("/client/v4").unwrap_or(pattern)
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_runs() {
        assert!(glob(
            "/accounts/*/secrets_store/quota",
            "/accounts/ab/secrets_store/quota"
        ));
        assert!(glob("*", "/anything/at/all"));
        assert!(glob("/a/*/c", "/a/b/x/c"));
        assert!(!glob("/a/*/c", "/a/b/d"));
        assert!(!glob("/a", "/ab"));
    }

    #[test]
    fn same_seed_same_decisions() {
        let config = FaultConfig {
            error_rate: 0.3,
            drop_rate: 0.2,
            drop_response_rate: 0.3,
            ..FaultConfig::default()
        };
        let run = |seed| {
            let mut e = FaultEngine::new(config.clone(), Some(seed));
            let now = Instant::now();
            (0..64)
                .map(|i| e.decide("POST", "/p", "/t", i % 2 == 0, now))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|d| *d != Decision::Pass));
    }

    #[test]
    fn corruption_has_its_own_stream_and_spoils_any_json() {
        let base = FaultConfig {
            error_rate: 0.3,
            drop_rate: 0.2,
            ..FaultConfig::default()
        };
        let run = |config: &FaultConfig| {
            let mut e = FaultEngine::new(config.clone(), Some(3));
            let now = Instant::now();
            (0..200)
                .map(|_| e.decide("GET", "/p", "/t", false, now))
                .collect::<Vec<_>>()
        };
        let plain = run(&base);
        let spoiled = run(&FaultConfig {
            corrupt_rate: 0.5,
            ..base.clone()
        });
        // The other faults fall where they fell without corruption.
        for (a, b) in plain.iter().zip(&spoiled) {
            match a {
                Decision::Pass => assert!(matches!(b, Decision::Pass | Decision::Corrupt { .. })),
                other => assert_eq!(other, b),
            }
        }
        let kinds: Vec<FaultKind> = spoiled
            .iter()
            .filter_map(|d| match d {
                Decision::Corrupt { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect();
        assert!(kinds.contains(&FaultKind::Truncate) && kinds.contains(&FaultKind::Garble));

        let body = serde_json::to_vec(&serde_json::json!({
            "success": true, "errors": [], "messages": [],
            "result": {"id": "0123", "name": "A_LONG_NAME_TO_LAND_IN", "comment": "x"}
        }))
        .unwrap();
        for kind in [FaultKind::Truncate, FaultKind::Garble] {
            for i in 0..=20 {
                let mut spoiled = body.clone();
                corrupt(kind, &mut spoiled, f64::from(i) / 20.0);
                assert_ne!(spoiled, body);
                assert!(
                    serde_json::from_slice::<serde_json::Value>(&spoiled).is_err(),
                    "{kind:?} at {i}/20 still parses"
                );
            }
        }
    }

    #[test]
    fn scheduled_faults_count_down() {
        let mut e = FaultEngine::new(FaultConfig::default(), Some(1));
        e.scheduled.push(ScheduledFault {
            method: "GET".into(),
            path: "/accounts/*/secrets_store/quota".into(),
            kind: FaultKind::InternalError,
            count: 2,
        });
        let now = Instant::now();
        let q = "/accounts/x/secrets_store/quota";
        assert_eq!(e.decide("POST", q, q, true, now), Decision::Pass);
        assert_eq!(
            e.decide("GET", q, q, false, now),
            Decision::Fault(FaultKind::InternalError)
        );
        assert_eq!(
            e.decide("GET", q, q, false, now),
            Decision::Fault(FaultKind::InternalError)
        );
        assert_eq!(e.decide("GET", q, q, false, now), Decision::Pass);
    }

    #[test]
    fn rate_limit_window_and_retry_after() {
        let mut e = FaultEngine::new(
            FaultConfig {
                rate_limit: 2,
                rate_window_secs: 10,
                ..FaultConfig::default()
            },
            Some(1),
        );
        let t0 = Instant::now();
        assert_eq!(e.decide("GET", "/p", "/p", false, t0), Decision::Pass);
        assert_eq!(e.decide("GET", "/p", "/p", false, t0), Decision::Pass);
        let later = t0 + Duration::from_millis(2500);
        assert_eq!(
            e.decide("GET", "/p", "/p", false, later),
            Decision::RateLimited(8)
        );
        let next = t0 + Duration::from_secs(10);
        assert_eq!(e.decide("GET", "/p", "/p", false, next), Decision::Pass);
    }
}
