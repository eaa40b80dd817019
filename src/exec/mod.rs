//! The executor: a sans-IO state machine that sends a plan's steps to Qualtrics and never
//! loses a row.
//!
//! It is given steps, the current time and the answers, and says which requests to send now
//! and when to wake up (the style of quinn-proto). The host performs the requests. How to
//! drive it:
//!
//! 1. call [`Executor::poll`] with the current time; send every request it returns;
//! 2. give each answer (or transport failure) to [`Executor::on_response`];
//! 3. call `poll` again after each answer, or at the `wake_at` time it gave;
//! 4. stop when [`Executor::is_finished`].
//!
//! It keeps under the brand's rate limits with token buckets (one per endpoint class plus the
//! brand total) and a concurrency limit; retries 429 (honouring `Retry-After`), 5xx and
//! network failures with jittered exponential backoff; makes any other 4xx the row's final
//! failure with Qualtrics' message; stops everything at the first 401 (or, when the host can
//! renew its credential, asks for a new one once and resends: see
//! [`Executor::renew_credentials_on_401`]); and records every
//! request in an audit trail and every finished row in a journal, so an interrupted run can be
//! planned again without repeating what was done.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use serde::Serialize;

use crate::connection::{Auth, Connection};
use crate::envelope;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::time::{iso_datetime, UnixMillis};

/// The longest `Retry-After` honoured: a server asking for more (or a garbled header) gets
/// ten minutes, then the request is tried again.
pub const MAX_RETRY_AFTER_SECS: u64 = 600;

/// A `Retry-After` in seconds as the milliseconds to wait, at most [`MAX_RETRY_AFTER_SECS`].
#[must_use]
pub fn retry_after_ms(secs: u64) -> u64 {
    secs.min(MAX_RETRY_AFTER_SECS) * 1000
}

/// Identifies a request handed to the host, to match its answer.
pub type RequestId = u64;

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

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    /// The change was applied.
    Done,
    /// Nothing needed changing.
    Unchanged,
    /// It could not be applied; the message says why.
    Failed,
    /// Not sent (cancelled, or the run stopped).
    Skipped,
}

impl OutcomeStatus {
    /// The word shown in the Status column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Done => "done",
            OutcomeStatus::Unchanged => "unchanged",
            OutcomeStatus::Failed => "failed",
            OutcomeStatus::Skipped => "skipped",
        }
    }
}

/// One row's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The row's identity.
    pub key: String,
    /// How it ended.
    pub status: OutcomeStatus,
    /// What happened, in words.
    pub message: String,
    /// When it ended (for `Done`: when the change was applied).
    pub finished_at: Option<UnixMillis>,
}

/// What a step says after a (non-transient) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepUpdate {
    /// Send the step's next request.
    Continue,
    /// The row is finished.
    Finished {
        /// How it ended (done, unchanged, failed, skipped).
        status: OutcomeStatus,
        /// Why, in words.
        message: String,
    },
    /// Ask again later (a job still running, a 409 "too many jobs").
    RetryAfter {
        /// Milliseconds to wait.
        ms: u64,
    },
}

/// One row's work: a short sequence of requests.
pub trait Step {
    /// The row identity this step belongs to.
    fn key(&self) -> &str;
    /// The request to send now. Called again after each `Continue` or retry.
    fn request(&self, conn: &Connection) -> HttpRequest;
    /// Takes an answer that is not a 429, 5xx or 401 (those the executor handles).
    fn on_response(&mut self, response: &HttpResponse, now: UnixMillis) -> StepUpdate;
    /// What the step changes, for the journal (e.g. `status=disabled`); empty for a step that
    /// changes nothing (a listing, a read), which then leaves no journal line.
    fn fingerprint(&self) -> String;
    /// Called when a request got no answer or a 5xx, where it may or may not have been
    /// applied. `None` (the default, for idempotent requests) retries it; a step whose request
    /// must not be repeated blindly (creating a user) answers how the row ends instead.
    fn on_ambiguous_failure(&mut self, _why: &str) -> Option<StepUpdate> {
        None
    }
    /// Steps that Qualtrics lets run only so many at a time (directory import jobs: ten per
    /// context, then 409): the group's name and how many may have started and not ended.
    /// `None` (the default): no limit beyond the executor's own.
    fn concurrency_group(&self) -> Option<(&'static str, usize)> {
        None
    }
    /// How the row ends when the run is cancelled or stopped between two of its requests (its
    /// next request is not sent). The default: skipped, for a step whose requests so far only
    /// read; a step whose earlier requests may have changed something says so.
    fn on_halted(&self, reason: &str) -> (OutcomeStatus, String) {
        (OutcomeStatus::Skipped, reason.to_string())
    }
}

/// A request for the host to perform.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Give this back with the answer.
    pub id: RequestId,
    /// The request.
    pub request: HttpRequest,
}

/// What to do now.
#[derive(Debug, Clone, Default)]
pub struct Poll {
    /// Send these now.
    pub send: Vec<Outgoing>,
    /// Call `poll` again at this time even if no answer arrives.
    pub wake_at: Option<UnixMillis>,
    /// The credential was refused (HTTP 401) and the host said it can renew it: nothing more
    /// is sent until [`Executor::renew_auth`] (or [`Executor::auth_failed`]) is called.
    pub needs_auth: bool,
}

/// A request that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure(pub String);

/// Counts for a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Rows in the run.
    pub total: usize,
    /// Rows done.
    pub done: usize,
    /// Rows found already in the wanted state.
    pub unchanged: usize,
    /// Rows failed.
    pub failed: usize,
    /// Rows skipped.
    pub skipped: usize,
    /// Rows not finished yet.
    pub remaining: usize,
    /// Requests waiting for an answer.
    pub in_flight: usize,
    /// Requests sent so far, retries included.
    pub requests_sent: u64,
    /// Retries so far.
    pub retries: u64,
    /// Answers a second over the last ten seconds.
    pub rate_per_second: f64,
}

/// One line of the audit log. Never holds a header, so never a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When the request was sent (ISO 8601, UTC).
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// URL path and query.
    pub path: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Qualtrics' error code or message, or the transport failure.
    pub error: Option<String>,
    /// Milliseconds from sending to the answer.
    pub duration_ms: u64,
    /// The row's identity.
    pub row: String,
    /// 1 for the first try of this request, 2 for its first retry, …
    pub attempt: u32,
}

impl AuditEntry {
    /// The entry for a request sent outside a run (a `whoami`, a token request), at `sent_at`,
    /// answered (or failed) at `now`, for `row` (what it was for, e.g. `connect`).
    pub fn outside_run(
        request: &HttpRequest,
        sent_at: UnixMillis,
        now: UnixMillis,
        answer: &Result<HttpResponse, TransportFailure>,
        row: &str,
    ) -> AuditEntry {
        let (status, error) = match answer {
            Ok(r) => (
                Some(r.status),
                envelope::parse(r).err().as_ref().map(error_summary),
            ),
            Err(TransportFailure(why)) => (None, Some(why.clone())),
        };
        AuditEntry {
            time: iso_datetime(sent_at),
            method: request.method.to_string(),
            path: path_of(&request.url),
            status,
            error,
            duration_ms: now.saturating_sub(sent_at),
            row: row.to_string(),
            attempt: 1,
        }
    }
}

/// A finished row, for resuming an interrupted run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// The row's identity.
    pub key: String,
    /// What was applied (the step's fingerprint).
    pub applied: String,
    /// When the row finished (milliseconds since the epoch).
    pub at: UnixMillis,
}

#[derive(Debug)]
enum SlotState {
    Waiting,
    InFlight {
        sent_at: UnixMillis,
        method: Method,
        path: String,
        class: EndpointClass,
        auth_generation: u32,
    },
    Finished(Outcome),
}

struct Slot<S> {
    step: S,
    attempt: u32,
    state: SlotState,
    /// Its first request went out (it counts against its concurrency group until it ends).
    started: bool,
}

impl<S> Slot<S> {
    fn new(step: S) -> Slot<S> {
        Slot {
            step,
            attempt: 1,
            state: SlotState::Waiting,
            started: false,
        }
    }
}

/// A token bucket whose pace adapts: each 429 for its endpoints cuts the pace (x0.7, down to a
/// tenth of the configured rate) and each success restores a little of it, so a brand whose
/// real limits are lower than the configured figures is not hammered.
#[derive(Debug, Clone)]
struct Bucket {
    rate_per_ms: f64,
    pace: f64,
    capacity: f64,
    tokens: f64,
    updated: UnixMillis,
}

impl Bucket {
    fn new(limit: RateLimit, now: UnixMillis) -> Bucket {
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
    fn wait(&mut self, now: UnixMillis) -> u64 {
        self.refill(now);
        if self.tokens >= 1.0 {
            0
        } else {
            ((1.0 - self.tokens) / (self.rate_per_ms * self.pace))
                .ceil()
                .max(1.0) as u64
        }
    }
    fn take(&mut self) {
        self.tokens -= 1.0;
    }
    /// The server said "too many": empty the bucket and slow down.
    fn throttled(&mut self) {
        self.tokens = self.tokens.min(0.0);
        self.pace = (self.pace * 0.7).max(0.1);
    }
    /// An answer that was not a 429: recover some pace.
    fn succeeded(&mut self) {
        self.pace = (self.pace + 0.02).min(1.0);
    }
}

/// See the module documentation.
pub struct Executor<S> {
    conn: Connection,
    config: ExecConfig,
    slots: Vec<Slot<S>>,
    ready: VecDeque<usize>,
    delayed: BinaryHeap<Reverse<(UnixMillis, usize)>>,
    in_flight: HashMap<RequestId, usize>,
    next_id: RequestId,
    buckets: HashMap<EndpointClass, Bucket>,
    brand_bucket: Bucket,
    finished: usize,
    stop_reason: Option<String>,
    cancelled: bool,
    rng: u64,
    progress: Progress,
    answers: VecDeque<UnixMillis>,
    audit: Vec<AuditEntry>,
    journal: Vec<JournalEntry>,
    auth: AuthState,
    /// Started, unfinished steps per concurrency group.
    active_groups: HashMap<&'static str, usize>,
}

/// Renewal of a refused credential (OAuth tokens expire mid-run; API tokens do not).
#[derive(Debug, Default)]
struct AuthState {
    /// The host can renew the credential.
    renewable: bool,
    /// Bumped by every renewal; a request remembers the generation it was sent with.
    generation: u32,
    /// A 401 came back for the current generation: waiting for the host.
    wanted: bool,
    /// The current credential was itself a renewal after a 401.
    renewed_after_401: bool,
    /// Qualtrics accepted the current credential at least once. A renewed credential refused
    /// before it ever worked stops the run; one that worked and then expired is renewed again.
    proven: bool,
}

impl<S: Step> Executor<S> {
    /// An executor for `steps`, sent over `conn`, starting at `now`.
    pub fn new(conn: Connection, steps: Vec<S>, config: ExecConfig, now: UnixMillis) -> Self {
        let buckets = config
            .limits
            .iter()
            .map(|(class, limit)| (*class, Bucket::new(*limit, now)))
            .collect();
        let total = steps.len();
        Executor {
            conn,
            brand_bucket: Bucket::new(config.brand_limit, now),
            rng: config.jitter_seed | 1,
            config,
            ready: (0..total).collect(),
            slots: steps.into_iter().map(Slot::new).collect(),
            delayed: BinaryHeap::new(),
            in_flight: HashMap::new(),
            next_id: 1,
            buckets,
            finished: 0,
            stop_reason: None,
            cancelled: false,
            progress: Progress {
                total,
                remaining: total,
                ..Progress::default()
            },
            answers: VecDeque::new(),
            audit: Vec::new(),
            journal: Vec::new(),
            auth: AuthState::default(),
            active_groups: HashMap::new(),
        }
    }

    /// Starts the next phase of a run on this executor: `steps` replace the finished ones, and
    /// everything that belongs to the connection carries over (the rate-limit buckets and their
    /// pace, request ids, the credential and its renewal state, the audit not yet taken, the
    /// request and retry counts, a cancel or a stop). Returns the finished phase's steps with
    /// their outcomes, in step order.
    ///
    /// Call it only when [`Executor::is_finished`] is true (nothing is in flight then). After a
    /// cancel or a stop, the new steps end `skipped` at once, with the same reason.
    #[must_use = "the finished phase's steps and outcomes are returned only once"]
    pub fn next_phase(&mut self, steps: Vec<S>, now: UnixMillis) -> Vec<(S, Outcome)> {
        debug_assert!(
            self.is_finished(),
            "a phase starts when the last one finished"
        );
        let total = steps.len();
        let finished =
            std::mem::replace(&mut self.slots, steps.into_iter().map(Slot::new).collect());
        self.ready = (0..total).collect();
        self.delayed.clear();
        self.in_flight.clear();
        self.active_groups.clear();
        self.finished = 0;
        self.progress = Progress {
            total,
            remaining: total,
            requests_sent: self.progress.requests_sent,
            retries: self.progress.retries,
            ..Progress::default()
        };
        if let Some(reason) = self.stop_reason.clone() {
            self.skip_waiting(&reason, now);
        } else if self.cancelled {
            self.skip_waiting("skipped: cancelled before it was sent", now);
        }
        finished
            .into_iter()
            .map(|slot| {
                let outcome = match slot.state {
                    SlotState::Finished(o) => o,
                    _ => Outcome {
                        key: slot.step.key().to_string(),
                        status: OutcomeStatus::Skipped,
                        message: "not sent".into(),
                        finished_at: None,
                    },
                };
                (slot.step, outcome)
            })
            .collect()
    }

    /// The connection requests go out on, with the current credential.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// True once [`Executor::cancel`] was called: later phases send nothing.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Says the host can renew the credential (an OAuth client fetching a new token): a 401
    /// then pauses sending, [`Poll::needs_auth`] asks for a new credential, and the refused
    /// requests go again with it. A renewed credential refused before Qualtrics ever accepted
    /// it stops the run as a 401 does without renewal; one that worked and later expired is
    /// renewed again.
    #[must_use]
    pub fn renew_credentials_on_401(mut self) -> Self {
        self.auth.renewable = true;
        self
    }

    /// A new credential, asked for by [`Poll::needs_auth`] or given ahead of an expiry.
    pub fn renew_auth(&mut self, auth: Auth) {
        self.conn = self.conn.with_auth(auth);
        self.auth.generation += 1;
        self.auth.renewed_after_401 = std::mem::take(&mut self.auth.wanted);
        self.auth.proven = false;
    }

    /// The host could not renew the credential: the run stops with `reason` as it does on a
    /// 401 (rows not sent end skipped).
    pub fn auth_failed(&mut self, reason: &str, now: UnixMillis) {
        self.auth.wanted = false;
        self.stop(
            format!("not sent: the run stopped because {}", lower_first(reason)),
            now,
        );
    }

    /// The requests to send now, and when to call again if no answer comes first.
    #[must_use = "the requests returned must be sent, and wake_at honoured"]
    pub fn poll(&mut self, now: UnixMillis) -> Poll {
        let mut poll = Poll::default();
        if self.stop_reason.is_some() || self.cancelled {
            return poll;
        }
        if self.auth.wanted {
            poll.needs_auth = true;
            return poll;
        }
        while let Some(Reverse((at, _))) = self.delayed.peek() {
            if *at > now {
                break;
            }
            let Reverse((_, idx)) = self.delayed.pop().expect("peeked");
            self.ready.push_back(idx);
        }
        let mut blocked_until = None;
        while self.in_flight.len() < self.config.concurrency {
            // The first step that may go: one whose concurrency group is full waits for a step
            // of its group to end (an answer wakes the host), and lets the others pass.
            let Some(pos) = self.ready.iter().position(|&i| {
                let slot = &self.slots[i];
                slot.started
                    || slot.step.concurrency_group().is_none_or(|(name, limit)| {
                        self.active_groups.get(name).copied().unwrap_or(0) < limit
                    })
            }) else {
                break;
            };
            let idx = self.ready[pos];
            let group = self.slots[idx].step.concurrency_group();
            let starting = !self.slots[idx].started;
            let request = self.slots[idx].step.request(&self.conn);
            let class = EndpointClass::of(request.method, &request.url);
            let mut wait = self.brand_bucket.wait(now);
            if let Some(bucket) = self.buckets.get_mut(&class) {
                wait = wait.max(bucket.wait(now));
            }
            if wait > 0 {
                blocked_until = Some(now + wait);
                break;
            }
            self.brand_bucket.take();
            if let Some(bucket) = self.buckets.get_mut(&class) {
                bucket.take();
            }
            self.ready.remove(pos);
            if starting {
                self.slots[idx].started = true;
                if let Some((name, _)) = group {
                    *self.active_groups.entry(name).or_default() += 1;
                }
            }
            let id = self.next_id;
            self.next_id += 1;
            self.in_flight.insert(id, idx);
            self.slots[idx].state = SlotState::InFlight {
                sent_at: now,
                method: request.method,
                path: path_of(&request.url),
                class,
                auth_generation: self.auth.generation,
            };
            self.progress.requests_sent += 1;
            poll.send.push(Outgoing { id, request });
        }
        let next_delayed = self.delayed.peek().map(|Reverse((at, _))| *at);
        poll.wake_at = match (blocked_until, next_delayed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        poll
    }

    /// Takes the answer to request `id` (or the transport failure) at `now`.
    pub fn on_response(
        &mut self,
        id: RequestId,
        now: UnixMillis,
        answer: Result<HttpResponse, TransportFailure>,
    ) {
        let Some(idx) = self.in_flight.remove(&id) else {
            return;
        };
        self.answers.push_back(now);
        let (sent_at, method, path, class, auth_generation) =
            match std::mem::replace(&mut self.slots[idx].state, SlotState::Waiting) {
                SlotState::InFlight {
                    sent_at,
                    method,
                    path,
                    class,
                    auth_generation,
                } => (sent_at, method, path, class, auth_generation),
                other => {
                    self.slots[idx].state = other;
                    return;
                }
            };
        let attempt = self.slots[idx].attempt;
        let mut entry = AuditEntry {
            time: iso_datetime(sent_at),
            method: method.to_string(),
            path,
            status: None,
            error: None,
            duration_ms: now.saturating_sub(sent_at),
            row: self.slots[idx].step.key().to_string(),
            attempt,
        };
        match answer {
            Err(TransportFailure(why)) => {
                entry.error = Some(why.clone());
                self.audit.push(entry);
                let why = format!("no answer ({why})");
                if let Some(update) = self.slots[idx].step.on_ambiguous_failure(&why) {
                    self.apply_update(idx, update, now);
                } else {
                    self.transient(idx, now, why, None);
                }
            }
            Ok(response) => {
                entry.status = Some(response.status);
                if response.status != 401 && auth_generation == self.auth.generation {
                    self.auth.proven = true;
                }
                let parsed = envelope::parse(&response).err();
                entry.error = parsed.as_ref().map(error_summary);
                self.audit.push(entry);
                let is_429 = response.status == 429;
                for bucket in self
                    .buckets
                    .get_mut(&class)
                    .into_iter()
                    .chain(Some(&mut self.brand_bucket))
                {
                    if is_429 {
                        bucket.throttled();
                    } else {
                        bucket.succeeded();
                    }
                }
                match response.status {
                    429 => {
                        let retry_after = response
                            .header("retry-after")
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(retry_after_ms);
                        self.transient(idx, now, "rate limited (HTTP 429)".into(), retry_after);
                    }
                    500..=599 => {
                        let why = parsed
                            .map_or_else(|| format!("HTTP {}", response.status), |e| e.to_string());
                        if let Some(update) = self.slots[idx].step.on_ambiguous_failure(&why) {
                            self.apply_update(idx, update, now);
                        } else {
                            self.transient(idx, now, why, None);
                        }
                    }
                    401 if self.auth.renewable
                        && !self.cancelled
                        && self.stop_reason.is_none()
                        && (auth_generation < self.auth.generation
                            || !self.auth.renewed_after_401
                            || self.auth.proven) =>
                    {
                        // Refused with a credential that is (or is about to be) replaced:
                        // the row goes again with the new one, first in line.
                        if auth_generation == self.auth.generation {
                            self.auth.wanted = true;
                        }
                        self.ready.push_front(idx);
                    }
                    401 => {
                        let message =
                            parsed.map_or_else(|| "HTTP 401".to_string(), |e| e.to_string());
                        self.finish(idx, OutcomeStatus::Failed, message.clone(), now);
                        self.stop(
                            format!(
                                "not sent: the run stopped because {}",
                                lower_first(&message)
                            ),
                            now,
                        );
                    }
                    _ => {
                        let update = self.slots[idx].step.on_response(&response, now);
                        self.apply_update(idx, update, now);
                    }
                }
            }
        }
    }

    /// Stops sending: rows not yet sent end `skipped`; answers still on their way are recorded.
    pub fn cancel(&mut self, now: UnixMillis) {
        if !self.cancelled && self.stop_reason.is_none() {
            self.cancelled = true;
            self.skip_waiting("skipped: cancelled before it was sent", now);
        }
    }

    /// True when every row has an outcome.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.finished == self.slots.len()
    }

    /// Why the run stopped early (a 401), if it did.
    #[must_use]
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.as_deref()
    }

    /// Counts for a progress bar at `now`.
    pub fn progress(&mut self, now: UnixMillis) -> Progress {
        while self
            .answers
            .front()
            .is_some_and(|t| now.saturating_sub(*t) > 10_000)
        {
            self.answers.pop_front();
        }
        let window = now
            .saturating_sub(self.answers.front().copied().unwrap_or(now))
            .max(1000);
        self.progress.rate_per_second = self.answers.len() as f64 * 1000.0 / window as f64;
        self.progress.in_flight = self.in_flight.len();
        self.progress.clone()
    }

    /// Every row's outcome so far, in step order (`None` for rows not finished).
    pub fn outcomes(&self) -> impl Iterator<Item = Option<&Outcome>> {
        self.slots.iter().map(|s| match &s.state {
            SlotState::Finished(o) => Some(o),
            _ => None,
        })
    }

    /// The steps (to read what they learnt, such as a before-snapshot).
    pub fn steps(&self) -> impl Iterator<Item = &S> {
        self.slots.iter().map(|s| &s.step)
    }

    /// Audit entries recorded since the last call.
    #[must_use = "audit entries are handed out once"]
    pub fn take_audit(&mut self) -> Vec<AuditEntry> {
        std::mem::take(&mut self.audit)
    }

    /// Journal entries recorded since the last call.
    #[must_use = "journal entries are handed out once"]
    pub fn take_journal(&mut self) -> Vec<JournalEntry> {
        std::mem::take(&mut self.journal)
    }

    fn apply_update(&mut self, idx: usize, update: StepUpdate, now: UnixMillis) {
        if matches!(update, StepUpdate::Continue | StepUpdate::RetryAfter { .. }) {
            let halted = match (&self.stop_reason, self.cancelled) {
                (Some(reason), _) => Some(reason.clone()),
                (None, true) => Some("skipped: cancelled before it was sent".to_string()),
                (None, false) => None,
            };
            if let Some(reason) = halted {
                let (status, message) = self.slots[idx].step.on_halted(&reason);
                self.finish(idx, status, message, now);
                return;
            }
        }
        match update {
            StepUpdate::Continue => {
                self.slots[idx].attempt = 1;
                self.ready.push_front(idx);
            }
            StepUpdate::Finished { status, message } => self.finish(idx, status, message, now),
            StepUpdate::RetryAfter { ms } => {
                self.slots[idx].attempt = 1;
                self.delayed.push(Reverse((now + ms, idx)));
            }
        }
    }

    fn transient(&mut self, idx: usize, now: UnixMillis, why: String, retry_after_ms: Option<u64>) {
        if self.cancelled || self.stop_reason.is_some() {
            let message = format!(
                "failed: the run was stopped while this row was being retried ({why}); it may or may not have been applied, plan again to see"
            );
            self.finish(idx, OutcomeStatus::Failed, message, now);
            return;
        }
        let slot = &mut self.slots[idx];
        if slot.attempt >= self.config.max_attempts {
            let message = format!("failed after {} attempts: {why}", slot.attempt);
            self.finish(idx, OutcomeStatus::Failed, message, now);
            return;
        }
        let attempt = slot.attempt;
        slot.attempt += 1;
        self.progress.retries += 1;
        let delay = match retry_after_ms {
            Some(ms) => ms + self.random_below(250),
            None => {
                let full = self
                    .config
                    .backoff_base_ms
                    .saturating_mul(1u64 << (attempt - 1).min(20))
                    .min(self.config.backoff_max_ms);
                full / 2 + self.random_below(full / 2 + 1)
            }
        };
        self.delayed.push(Reverse((now + delay, idx)));
    }

    fn finish(&mut self, idx: usize, status: OutcomeStatus, message: String, now: UnixMillis) {
        let slot = &mut self.slots[idx];
        if matches!(slot.state, SlotState::Finished(_)) {
            return;
        }
        let key = slot.step.key().to_string();
        if slot.started {
            if let Some((name, _)) = slot.step.concurrency_group() {
                if let Some(n) = self.active_groups.get_mut(name) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        if matches!(status, OutcomeStatus::Done | OutcomeStatus::Unchanged) {
            // A step that changes nothing (a listing, a read) leaves no journal line.
            let applied = slot.step.fingerprint();
            if !applied.is_empty() {
                self.journal.push(JournalEntry {
                    key: key.clone(),
                    applied,
                    at: now,
                });
            }
        }
        slot.state = SlotState::Finished(Outcome {
            key,
            status,
            message,
            finished_at: Some(now),
        });
        self.finished += 1;
        self.progress.remaining -= 1;
        match status {
            OutcomeStatus::Done => self.progress.done += 1,
            OutcomeStatus::Unchanged => self.progress.unchanged += 1,
            OutcomeStatus::Failed => self.progress.failed += 1,
            OutcomeStatus::Skipped => self.progress.skipped += 1,
        }
    }

    fn stop(&mut self, reason: String, now: UnixMillis) {
        if self.stop_reason.is_none() {
            self.skip_waiting(&reason, now);
            self.stop_reason = Some(reason);
        }
    }

    fn skip_waiting(&mut self, message: &str, now: UnixMillis) {
        let waiting: Vec<usize> = self
            .ready
            .drain(..)
            .chain(self.delayed.drain().map(|Reverse((_, idx))| idx))
            .collect();
        for idx in waiting {
            self.finish(idx, OutcomeStatus::Skipped, message.to_string(), now);
        }
    }

    /// splitmix64: reproducible jitter without a clock or OS randomness.
    fn random_below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => String::new(),
    }
}

fn error_summary(e: &crate::error::ApiError) -> String {
    e.to_string()
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
