//! What makes the sandbox awkward on purpose: Qualtrics' rate limits (leaky buckets answering
//! 429) and injected faults (latency, 500/503, 429s, dropped connections, answers lost after
//! the change was applied), deterministic from a seed.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Per-endpoint limits in requests per minute (the figures in the API notes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimits {
    /// The brand's total.
    pub brand: f64,
    /// `/users*` and `/whoami`.
    pub users: f64,
    /// `/groups*`.
    pub groups: f64,
    /// `GET /groups/{id}/members`.
    pub group_members_read: f64,
    /// `DELETE /groups/{id}/members/{userId}`.
    pub group_members_delete: f64,
    /// `/employee-directories/*`.
    pub directory: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            brand: 3000.0,
            users: 3000.0,
            groups: 600.0,
            group_members_read: 1000.0,
            group_members_delete: 3000.0,
            directory: 75.0,
        }
    }
}

impl RateLimits {
    /// Every limit multiplied by `factor` (tests that are not about pacing use a large one).
    #[must_use]
    pub fn scaled(self, factor: f64) -> RateLimits {
        RateLimits {
            brand: self.brand * factor,
            users: self.users * factor,
            groups: self.groups * factor,
            group_members_read: self.group_members_read * factor,
            group_members_delete: self.group_members_delete * factor,
            directory: self.directory * factor,
        }
    }
}

/// Injected faults, each a share of requests between 0 and 1.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Milliseconds added to every answer.
    pub latency_ms: u64,
    /// Share answered 500.
    pub error_500: f64,
    /// Share answered 503.
    pub error_503: f64,
    /// Share answered 429 regardless of the rate.
    pub error_429: f64,
    /// Share whose connection is dropped before the request is handled.
    pub drop_connection: f64,
    /// Share handled (the change is made) whose answer is then lost.
    pub lost_answer: f64,
    /// Share of 429 answers that carry `Retry-After` (Qualtrics may or may not send it).
    pub retry_after_share: f64,
    /// The next this many requests that change something (POST, PUT, DELETE) are answered
    /// 408 (Request Timeout: the edge gave up waiting for the request) without being handled,
    /// then handled as usual; counted down as they come.
    pub timeouts_408: u32,
    /// Seed of the draws.
    pub seed: u64,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Handled normally.
    Normal,
    /// Answer this status without handling it.
    Error(u16),
    /// 429 (with `Retry-After: n` seconds when `Some`).
    TooMany(Option<u64>),
    /// Drop the connection without handling.
    Drop,
    /// Handle it, then drop the connection.
    LoseAnswer,
}

/// Endpoint families, as Qualtrics limits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Family {
    /// `/users*`, `/whoami`.
    Users,
    /// `/groups*`.
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

impl Family {
    /// The family of a request.
    #[must_use]
    pub fn of(method: &str, segments: &[&str]) -> Family {
        match (method, segments) {
            (_, ["users", ..]) | (_, ["whoami"]) => Family::Users,
            ("GET", ["groups", _, "members", ..]) => Family::GroupMembersRead,
            ("DELETE", ["groups", _, "members", _]) => Family::GroupMembersDelete,
            (_, ["groups", ..]) => Family::Groups,
            (_, ["employee-directories", ..]) => Family::Directory,
            _ => Family::Other,
        }
    }
}

struct LeakyBucket {
    per_ms: f64,
    capacity: f64,
    level: f64,
    /// Milliseconds since the epoch of the last leak.
    at: u64,
}

impl LeakyBucket {
    fn new(per_minute: f64) -> LeakyBucket {
        // Holds one second's worth of requests (at least 2).
        LeakyBucket {
            per_ms: per_minute / 60_000.0,
            capacity: (per_minute / 60.0).max(2.0),
            level: 0.0,
            at: 0,
        }
    }
    fn leak(&mut self, now: u64) {
        let ms = now.saturating_sub(self.at) as f64;
        self.level = (self.level - ms * self.per_ms).max(0.0);
        self.at = now;
    }
    /// Seconds until a request fits, or 0 when it does now.
    fn overflow_secs(&mut self, now: u64) -> f64 {
        self.leak(now);
        let over = self.level + 1.0 - self.capacity;
        if over <= 0.0 {
            0.0
        } else {
            over / self.per_ms / 1000.0
        }
    }
    fn add(&mut self) {
        self.level += 1.0;
    }
}

/// The rate limiter and fault dice.
pub struct Trouble {
    limits: RateLimits,
    buckets: HashMap<Family, LeakyBucket>,
    brand: LeakyBucket,
    faults: Faults,
    rng: ChaCha8Rng,
}

impl Trouble {
    /// A limiter for `limits` and dice for `faults`.
    #[must_use]
    pub fn new(limits: RateLimits, faults: Faults) -> Trouble {
        let mut t = Trouble {
            limits,
            buckets: HashMap::new(),
            brand: LeakyBucket::new(limits.brand),
            rng: ChaCha8Rng::seed_from_u64(faults.seed),
            faults,
        };
        t.reset_buckets();
        t
    }

    fn reset_buckets(&mut self) {
        let l = self.limits;
        self.brand = LeakyBucket::new(l.brand);
        self.buckets = [
            (Family::Users, l.users),
            (Family::Groups, l.groups),
            (Family::GroupMembersRead, l.group_members_read),
            (Family::GroupMembersDelete, l.group_members_delete),
            (Family::Directory, l.directory),
        ]
        .into_iter()
        .map(|(f, r)| (f, LeakyBucket::new(r)))
        .collect();
    }

    /// The faults in force.
    #[must_use]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Replaces the faults (and reseeds the dice).
    pub fn set_faults(&mut self, faults: Faults) {
        self.rng = ChaCha8Rng::seed_from_u64(faults.seed);
        self.faults = faults;
    }

    /// Replaces the rate limits.
    pub fn set_limits(&mut self, limits: RateLimits) {
        self.limits = limits;
        self.reset_buckets();
    }

    /// Whether a `method` request is answered 408 without being handled (see
    /// [`Faults::timeouts_408`]), counting it down.
    pub fn times_out(&mut self, method: &str) -> bool {
        let changes = matches!(method, "POST" | "PUT" | "DELETE");
        if changes && self.faults.timeouts_408 > 0 {
            self.faults.timeouts_408 -= 1;
            return true;
        }
        false
    }

    /// Decides the fate of one request arriving at `now` (milliseconds since the epoch): rate
    /// limit first (as Qualtrics' edge would), then faults.
    pub fn fate(&mut self, family: Family, now: u64) -> Fate {
        let mut wait = self.brand.overflow_secs(now);
        if let Some(b) = self.buckets.get_mut(&family) {
            wait = wait.max(b.overflow_secs(now));
        }
        if wait > 0.0 {
            return Fate::TooMany(self.retry_after(wait));
        }
        self.brand.add();
        if let Some(b) = self.buckets.get_mut(&family) {
            b.add();
        }
        let f = &self.faults;
        let (drop, lost, e500, e503, e429) = (
            f.drop_connection,
            f.lost_answer,
            f.error_500,
            f.error_503,
            f.error_429,
        );
        let roll: f64 = self.rng.random();
        let mut edge = 0.0;
        for (share, fate) in [
            (drop, Fate::Drop),
            (lost, Fate::LoseAnswer),
            (e500, Fate::Error(500)),
            (e503, Fate::Error(503)),
            (e429, Fate::TooMany(None)),
        ] {
            edge += share;
            if roll < edge {
                return match fate {
                    Fate::TooMany(_) => Fate::TooMany(self.retry_after(1.0)),
                    other => other,
                };
            }
        }
        Fate::Normal
    }

    fn retry_after(&mut self, wait_secs: f64) -> Option<u64> {
        let share = self.faults.retry_after_share;
        (self.rng.random::<f64>() < share).then(|| wait_secs.ceil().max(1.0) as u64)
    }
}
