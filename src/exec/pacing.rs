//! Pacing: the endpoint classes Qualtrics rate-limits separately, their limits, the adaptive
//! token buckets that keep under them, and how long a `Retry-After` is honoured.

use serde::Serialize;

use crate::api::http::Method;
use crate::time::UnixMillis;

/// The longest `Retry-After` honoured: a server asking for more (or a garbled header) gets
/// ten minutes, then the request is tried again.
pub const MAX_RETRY_AFTER_SECS: u64 = 600;

/// A `Retry-After` in seconds as the milliseconds to wait, at most [`MAX_RETRY_AFTER_SECS`].
#[must_use]
pub fn retry_after_ms(secs: u64) -> u64 {
    secs.min(MAX_RETRY_AFTER_SECS) * 1000
}

/// The families of endpoints Qualtrics rate-limits separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EndpointClass {
    /// `/users*` and `/whoami`.
    Users,
    /// `/groups*` other than member listing and removal.
    Groups,
    /// `GET /groups/{id}/members`.
    GroupMembersRead,
    /// `DELETE /groups/{id}/members/{userId}`.
    GroupMembersDelete,
    /// `/employee-directories/*`.
    Directory,
    /// Anything else.
    Other,
}

impl EndpointClass {
    /// The class of a request, from its method and URL path.
    #[must_use]
    pub fn of(method: Method, url: &str) -> EndpointClass {
        let path = url.split('?').next().unwrap_or(url);
        let rest = path.split("/API/v3/").nth(1).unwrap_or("");
        let segments: Vec<&str> = rest.split('/').collect();
        match (method, segments.as_slice()) {
            (_, ["users", ..]) | (_, ["whoami"]) => EndpointClass::Users,
            (Method::Get, ["groups", _, "members", ..]) => EndpointClass::GroupMembersRead,
            (Method::Delete, ["groups", _, "members", _]) => EndpointClass::GroupMembersDelete,
            (_, ["groups", ..]) => EndpointClass::Groups,
            (_, ["employee-directories", ..]) => EndpointClass::Directory,
            _ => EndpointClass::Other,
        }
    }
}

/// A rate: so many requests a minute, with bursts of at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per minute.
    pub per_minute: f64,
    /// Requests that may go at once after a quiet spell.
    pub burst: f64,
}

impl RateLimit {
    /// A limit with a burst of a fifth of a second's worth (at least 1, at most 10).
    #[must_use]
    pub fn per_minute(per_minute: f64) -> RateLimit {
        RateLimit {
            per_minute,
            burst: (per_minute / 300.0).clamp(1.0, 10.0),
        }
    }
}

/// How the executor paces and retries.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecConfig {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The brand's total limit across endpoints.
    pub brand_limit: RateLimit,
    /// Per endpoint class limits; classes not listed use only the brand limit.
    pub limits: Vec<(EndpointClass, RateLimit)>,
    /// Attempts of one request before its row fails.
    pub max_attempts: u32,
    /// First backoff delay; doubles with each attempt.
    pub backoff_base_ms: u64,
    /// Longest backoff delay.
    pub backoff_max_ms: u64,
    /// Seed of the backoff jitter (runs are reproducible).
    pub jitter_seed: u64,
}

impl Default for ExecConfig {
    /// Qualtrics' published-by-others figures (see the API notes: brand 3000/min, users
    /// 3000/min, groups 600/min, member listing 1000/min, member removal 3000/min, directory
    /// 75/min); sixteen requests in flight (enough to reach 3,000 a minute with answers
    /// taking up to 0.3 s); six attempts; backoff from 0.5 s to 30 s.
    fn default() -> Self {
        ExecConfig {
            concurrency: 16,
            brand_limit: RateLimit::per_minute(3000.0),
            limits: vec![
                (EndpointClass::Users, RateLimit::per_minute(3000.0)),
                (EndpointClass::Groups, RateLimit::per_minute(600.0)),
                (
                    EndpointClass::GroupMembersRead,
                    RateLimit::per_minute(1000.0),
                ),
                (
                    EndpointClass::GroupMembersDelete,
                    RateLimit::per_minute(3000.0),
                ),
                (EndpointClass::Directory, RateLimit::per_minute(75.0)),
            ],
            max_attempts: 6,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            jitter_seed: 0x5eed,
        }
    }
}

impl ExecConfig {
    /// Every rate multiplied by `factor` (a brand whose limits are `factor` times Qualtrics'
    /// published figures; benchmarks compress time this way).
    #[must_use]
    pub fn scaled(mut self, factor: f64) -> ExecConfig {
        let scale = |l: RateLimit| RateLimit::per_minute(l.per_minute * factor);
        self.brand_limit = scale(self.brand_limit);
        for (_, limit) in &mut self.limits {
            *limit = scale(*limit);
        }
        self
    }
}

/// A token bucket whose pace adapts: each 429 for its endpoints cuts the pace (x0.7, down to a
/// tenth of the configured rate) and each success restores a little of it, so a brand whose
/// real limits are lower than the configured figures is not hammered.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    rate_per_ms: f64,
    pace: f64,
    capacity: f64,
    tokens: f64,
    updated: UnixMillis,
}

impl Bucket {
    pub(super) fn new(limit: RateLimit, now: UnixMillis) -> Bucket {
        Bucket {
            rate_per_ms: limit.per_minute / 60_000.0,
            pace: 1.0,
            capacity: limit.burst.max(1.0),
            tokens: limit.burst.max(1.0),
            updated: now,
        }
    }
    fn refill(&mut self, now: UnixMillis) {
        if now > self.updated {
            let elapsed = (now - self.updated) as f64;
            self.tokens = (self.tokens + elapsed * self.rate_per_ms * self.pace).min(self.capacity);
            self.updated = now;
        }
    }
    /// Milliseconds until one token is there (0 when it is).
    pub(super) fn wait(&mut self, now: UnixMillis) -> u64 {
        self.refill(now);
        if self.tokens >= 1.0 {
            0
        } else {
            ((1.0 - self.tokens) / (self.rate_per_ms * self.pace))
                .ceil()
                .max(1.0) as u64
        }
    }
    pub(super) fn take(&mut self) {
        self.tokens -= 1.0;
    }
    /// The server said "too many": empty the bucket and slow down.
    pub(super) fn throttled(&mut self) {
        self.tokens = self.tokens.min(0.0);
        self.pace = (self.pace * 0.7).max(0.1);
    }
    /// An answer that was not a 429: recover some pace.
    pub(super) fn succeeded(&mut self) {
        self.pace = (self.pace + 0.02).min(1.0);
    }
}

/// The wait before attempt `attempt + 1` of a request whose attempt `attempt` (from 1) failed
/// transiently: the answer's `Retry-After` (plus up to 250 ms) when it gave one, else a
/// doubling backoff from `backoff_base_ms` up to `backoff_max_ms`, half of it fixed and half
/// drawn from `draw` (a random number). The one rule the executor and every host's single
/// requests (whoami, the OAuth token request) follow.
#[must_use]
pub fn backoff_ms(
    config: &ExecConfig,
    attempt: u32,
    retry_after_ms: Option<u64>,
    draw: u64,
) -> u64 {
    match retry_after_ms {
        Some(ms) => ms + draw % 250,
        None => {
            let full = config
                .backoff_base_ms
                .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
                .min(config.backoff_max_ms);
            full / 2 + draw % (full / 2 + 1)
        }
    }
}

/// Whether a single request (one that is not a run's step: whoami, the OAuth token request)
/// is tried again after `answer` to attempt `attempt` (from 1), and after how long: the
/// executor's rule (a dropped connection, 408, 429, or 5xx are tried again, up to
/// `max_attempts`; any other answer is final). `None`: take the answer as it is.
#[must_use]
pub fn retry_single(
    config: &ExecConfig,
    attempt: u32,
    answer: &Result<crate::api::http::HttpResponse, super::TransportFailure>,
    draw: u64,
) -> Option<u64> {
    if attempt >= config.max_attempts {
        return None;
    }
    let retry_after = match answer {
        Err(failure) if !failure.transient => return None,
        Err(_) => None,
        Ok(r) if r.status == 429 => r
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(retry_after_ms),
        Ok(r) if r.status == 408 || (500..=599).contains(&r.status) => None,
        Ok(_) => return None,
    };
    Some(backoff_ms(config, attempt, retry_after, draw))
}
