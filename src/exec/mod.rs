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
//!
//! The files: `executor` (the [`Executor`] itself), `pacing` (endpoint classes, rate limits,
//! token buckets, `Retry-After`), `audit` (one [`AuditEntry`] per request) and `journal` (one
//! [`JournalEntry`] per finished row). What a step is and says lives here.

mod audit;
mod executor;
mod journal;
mod pacing;

pub mod reads;

pub use audit::{audit_jsonl, audit_table, AuditEntry};
pub use executor::Executor;
pub use journal::JournalEntry;
pub use pacing::{
    backoff_ms, retry_after_ms, retry_single, EndpointClass, ExecConfig, RateLimit,
    MAX_RETRY_AFTER_SECS,
};

use serde::Serialize;

use crate::api::connection::Connection;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::time::UnixMillis;

/// Identifies a request handed to the host, to match its answer.
pub type RequestId = u64;

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
    /// Not sent: the policy refuses it (the credential's own account, a Brand Administrator
    /// without an explicit allowance); the message says why.
    Refused,
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
            OutcomeStatus::Refused => "refused",
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
    /// Whether sending the row again later may end otherwise: true when it failed or was not
    /// sent for a passing or run-wide reason (no answer, a timeout, 408, 429, 5xx, a refused or
    /// unrenewable credential, the run stopped or cancelled); false when it succeeded, or
    /// Qualtrics refused this row's request as sent (any other 4xx), or the policy refused it.
    /// Decided where the executor classifies the answer.
    pub retryable: bool,
}

/// One input row's final result, of any kind (lifecycle, provisioning, membership), as written
/// beside the input and reported by every host: the executor's [`Outcome`] for rows that were
/// sent, the plan's verdict for the others. Fields a kind does not have are `None` and are
/// neither serialised nor written as a column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowOutcome {
    /// The row's identity (`row:N`, or the account a lifecycle row names).
    pub key: String,
    /// Its sheet row number.
    pub row: u32,
    /// How it ended.
    pub status: OutcomeStatus,
    /// What happened, in words.
    pub message: String,
    /// The account (lifecycle and provisioning rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The directory key (provisioning rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_identifier: Option<String>,
    /// When the change was applied (ISO 8601), for `done` rows; blank otherwise.
    pub applied_at: String,
    /// Whether trying the row again later may succeed (see [`Outcome::retryable`]): false for
    /// rows that ended well, rows Qualtrics refused as sent (a 4xx but 408 and 429), rows the
    /// policy or the plan refused, and rows never sent because the sheet was wrong. Not an
    /// outcome column (the written sheet keeps its columns); serialised as `retryable`.
    pub retryable: bool,
}

impl RowOutcome {
    /// The outcome cells: status, message, the ids the kind has, and when it was applied (the
    /// order of the kind's outcome columns).
    #[must_use]
    pub fn values(&self) -> Vec<String> {
        [
            Some(self.status.as_str().to_string()),
            Some(self.message.clone()),
            self.user_id.clone(),
            self.unique_identifier.clone(),
            Some(self.applied_at.clone()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
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
    /// True for a step that takes a 401 or 403 itself (connecting: a refused token is the
    /// step's answer, to be told as such). The default: the executor stops the run on a 401
    /// (or renews the credential) and words a 403 for an OAuth token.
    fn takes_refusals(&self) -> bool {
        false
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

/// A request that got no answer the host could hand over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure {
    /// What happened, in words (never the token).
    pub why: String,
    /// Whether sending the same request again may get an answer: true when the connection
    /// failed, broke or timed out (the executor retries it as it does a 5xx); false when the
    /// host could not send the request at all (it cannot be built) or would not read the answer
    /// (over its size limit), which the same request meets again: the row fails at once, not
    /// worth retrying.
    pub transient: bool,
}

impl TransportFailure {
    /// The connection failed, broke or timed out: worth sending again.
    #[must_use]
    pub fn no_answer(why: impl Into<String>) -> TransportFailure {
        TransportFailure {
            why: why.into(),
            transient: true,
        }
    }

    /// The host cannot send this request or read its answer, and never will: not retried.
    #[must_use]
    pub fn not_retryable(why: impl Into<String>) -> TransportFailure {
        TransportFailure {
            why: why.into(),
            transient: false,
        }
    }
}

/// Counts for a progress bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
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

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
