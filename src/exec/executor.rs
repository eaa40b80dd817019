//! The executor's state machine: slots for the steps, the ready and delayed queues, retries,
//! credential renewal after a 401, progress, and the audit and journal it keeps.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use crate::api::connection::{Auth, Connection};
use crate::api::envelope;
use crate::api::http::{HttpResponse, Method};
use crate::time::{iso_datetime, UnixMillis};

use super::audit::{error_summary, path_of};
use super::pacing::Bucket;
use super::{
    backoff_ms, retry_after_ms, AuditEntry, EndpointClass, ExecConfig, JournalEntry, Outcome,
    OutcomeStatus, Outgoing, Poll, Progress, RequestId, Step, StepUpdate, TransportFailure,
};

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

/// Sends a plan's steps under the rate limits and never loses a row: see [the `exec` module
/// documentation](crate::exec) for how to drive it.
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
                        retryable: true,
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
            Err(TransportFailure { why, transient }) => {
                entry.error = Some(why.clone());
                self.audit.push(entry);
                if !transient {
                    // The host cannot send this request or read its answer, and never will:
                    // the row ends here, and trying it again would end the same way.
                    let message = format!("failed, not retried: {why}");
                    self.finish(idx, OutcomeStatus::Failed, message, now, false);
                    return;
                }
                let why = format!("no answer ({why})");
                if let Some(update) = self.slots[idx].step.on_ambiguous_failure(&why) {
                    self.apply_update(idx, update, now, true);
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
                let refusal_to_step =
                    matches!(response.status, 401 | 403) && self.slots[idx].step.takes_refusals();
                match response.status {
                    _ if refusal_to_step => {
                        let update = self.slots[idx].step.on_response(&response, now);
                        self.apply_update(idx, update, now, false);
                    }
                    408 => {
                        // Qualtrics (or a proxy) gave up waiting for the request before it was
                        // read: nothing was applied, so it goes again like a 429.
                        self.transient(idx, now, "request timeout (HTTP 408)".into(), None);
                    }
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
                            self.apply_update(idx, update, now, true);
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
                    403 if self.auth.renewable => {
                        // An OAuth token refused a call: its client lacks the scope, which no
                        // other row can have either. One message for the run, naming it, and
                        // the same words for every row it refused (counted on one line).
                        let (method, path) = self
                            .audit
                            .last()
                            .map(|a| (a.method.as_str(), a.path.as_str()))
                            .unwrap_or_default();
                        let scope = crate::api::oauth::scope_needed(method, path);
                        let message = format!(
                            "Qualtrics refused the OAuth token (HTTP 403): the OAuth client lacks the scope {scope} (or its user is not a Brand Administrator). Add {scope} to the client in Qualtrics (Account Settings > Qualtrics IDs > OAuth clients) and ask for it (QUALTRICS_OAUTH_SCOPE, or manage:all), then run again."
                        );
                        // Run-wide, not this row's: once the client has the scope, the
                        // same row goes through (retryable).
                        self.finish(idx, OutcomeStatus::Failed, message.clone(), now, true);
                        if !self.cancelled {
                            self.stop(
                                format!(
                                    "not sent: the run stopped because {}",
                                    lower_first(&message)
                                ),
                                now,
                            );
                        }
                    }
                    401 => {
                        let message =
                            parsed.map_or_else(|| "HTTP 401".to_string(), |e| e.to_string());
                        // The credential was refused, not the row: retryable once it is fixed.
                        self.finish(idx, OutcomeStatus::Failed, message.clone(), now, true);
                        self.stop(
                            format!(
                                "not sent: the run stopped because {}",
                                lower_first(&message)
                            ),
                            now,
                        );
                    }
                    status => {
                        // Any other answer is the step's to judge. A row it ends as failed on
                        // a 4xx was refused as sent, and the same request would be again; one
                        // it ends as failed on a success (a job Qualtrics reports failed, an
                        // answer of an unexpected shape) is not the row's fault as sent.
                        let refused = (400..500).contains(&status);
                        let update = self.slots[idx].step.on_response(&response, now);
                        self.apply_update(idx, update, now, !refused);
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

    /// Takes a step's `update`; a row it finishes as failed is `retryable` (see
    /// [`Outcome::retryable`]) as the caller classified the answer it came from.
    fn apply_update(&mut self, idx: usize, update: StepUpdate, now: UnixMillis, retryable: bool) {
        if matches!(update, StepUpdate::Continue | StepUpdate::RetryAfter { .. }) {
            let halted = match (&self.stop_reason, self.cancelled) {
                (Some(reason), _) => Some(reason.clone()),
                (None, true) => Some("skipped: cancelled before it was sent".to_string()),
                (None, false) => None,
            };
            if let Some(reason) = halted {
                let (status, message) = self.slots[idx].step.on_halted(&reason);
                self.finish(idx, status, message, now, true);
                return;
            }
        }
        match update {
            StepUpdate::Continue => {
                self.slots[idx].attempt = 1;
                self.ready.push_front(idx);
            }
            StepUpdate::Finished { status, message } => {
                self.finish(idx, status, message, now, retryable);
            }
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
            self.finish(idx, OutcomeStatus::Failed, message, now, true);
            return;
        }
        let slot = &mut self.slots[idx];
        if slot.attempt >= self.config.max_attempts {
            let message = format!("failed after {} attempts: {why}", slot.attempt);
            self.finish(idx, OutcomeStatus::Failed, message, now, true);
            return;
        }
        let attempt = slot.attempt;
        slot.attempt += 1;
        self.progress.retries += 1;
        let draw = self.random_below(u64::MAX);
        let delay = backoff_ms(&self.config, attempt, retry_after_ms, draw);
        self.delayed.push(Reverse((now + delay, idx)));
    }

    /// Ends row `idx`; `retryable` says whether a row that did not end well may later (it is
    /// false for a row that did).
    fn finish(
        &mut self,
        idx: usize,
        status: OutcomeStatus,
        message: String,
        now: UnixMillis,
        retryable: bool,
    ) {
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
            retryable: retryable
                && matches!(status, OutcomeStatus::Failed | OutcomeStatus::Skipped),
        });
        self.finished += 1;
        self.progress.remaining -= 1;
        match status {
            OutcomeStatus::Done => self.progress.done += 1,
            OutcomeStatus::Unchanged => self.progress.unchanged += 1,
            OutcomeStatus::Failed => self.progress.failed += 1,
            OutcomeStatus::Skipped | OutcomeStatus::Refused => self.progress.skipped += 1,
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
            self.finish(idx, OutcomeStatus::Skipped, message.to_string(), now, true);
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

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
