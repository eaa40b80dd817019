//! The steps that apply a plan: one row's account work (`POST`/`PUT /users`) and one
//! directory import job (submit, poll, read its failures).

use std::collections::BTreeMap;

use crate::api::connection::Connection;
use crate::api::directory::{self, ImportParticipant};
use crate::api::envelope;
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse, Method};
use crate::api::users;
use crate::exec::{OutcomeStatus, Step, StepUpdate};
use crate::time::UnixMillis;

/// What a create left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateResult {
    /// The new account's id.
    pub user_id: Option<String>,
    /// True when the create got no answer: whether it happened is checked by a listing.
    pub uncertain: bool,
}

/// One row's account work: `POST /users` or `PUT /users/{id}`.
#[derive(Debug, Clone)]
pub struct AccountStep {
    pub(super) key: String,
    pub(super) username: String,
    pub(super) user_id: Option<String>,
    pub(super) body: serde_json::Map<String, serde_json::Value>,
    pub(super) create: bool,
    /// The outcome of a create.
    pub result: CreateResult,
}

impl Step for AccountStep {
    fn key(&self) -> &str {
        &self.key
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        let body = serde_json::to_vec(&self.body).expect("serialises");
        if self.create {
            conn.request(Method::Post, conn.url("users"), Some(body))
        } else {
            let mut req = users::update_user_request(
                conn,
                self.user_id.as_deref().unwrap_or(""),
                &Default::default(),
            );
            req.body = Some(body);
            req
        }
    }
    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        match envelope::parse(response) {
            Ok(env) if self.create => match env.result.as_ref().and_then(|r| r.get("id")).and_then(|v| v.as_str()) {
                Some(id) => {
                    self.result.user_id = Some(id.to_string());
                    StepUpdate::Finished { status: OutcomeStatus::Done, message: format!("account {id} created") }
                }
                None => StepUpdate::Finished { status: OutcomeStatus::Failed, message: "Qualtrics accepted the new account but sent no id back; check Admin > Users.".into() },
            },
            Ok(_) => StepUpdate::Finished { status: OutcomeStatus::Done, message: "fields updated".into() },
            Err(e) => StepUpdate::Finished { status: OutcomeStatus::Failed, message: e.to_string() },
        }
    }
    fn fingerprint(&self) -> String {
        let id = self
            .user_id
            .clone()
            .or_else(|| self.result.user_id.clone())
            .unwrap_or_else(|| self.username.clone());
        self.body
            .iter()
            .filter(|(k, _)| *k != "password")
            .map(|(k, v)| format!("{id} {k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn on_ambiguous_failure(&mut self, why: &str) -> Option<StepUpdate> {
        if !self.create {
            return None; // a PUT is idempotent: retry it
        }
        self.result.uncertain = true;
        Some(StepUpdate::Finished {
            status: OutcomeStatus::Failed,
            message: format!("{why}; whether the account was created is checked against the user list before any retry"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobPhase {
    Submit,
    Poll,
    Results,
}

/// One import job: submit, poll until done, read its per-item failures.
#[derive(Debug, Clone)]
pub struct ImportStep {
    pub(super) key: String,
    pub(super) participants: Vec<ImportParticipant>,
    phase: JobPhase,
    job_id: Option<String>,
    result_id: Option<String>,
    waits: u32,
    /// Unique identifiers that failed, with Qualtrics' message.
    pub failures: BTreeMap<String, String>,
}

impl ImportStep {
    /// Job `key` for `participants`, not yet submitted.
    pub(super) fn new(key: String, participants: Vec<ImportParticipant>) -> ImportStep {
        ImportStep {
            key,
            participants,
            phase: JobPhase::Submit,
            job_id: None,
            result_id: None,
            waits: 0,
            failures: BTreeMap::new(),
        }
    }
}

/// Milliseconds between a job's submission and its first status poll, and between polls: a
/// job needs a moment, and the executor's pacing of the directory's 75 requests a minute
/// spaces the polls of many jobs further.
const JOB_POLL_MS: u64 = 1_000;

/// Polls of a job, or waits for a free job slot, before the job is given up.
const MAX_JOB_WAITS: u32 = 120;

impl Step for ImportStep {
    fn key(&self) -> &str {
        &self.key
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        match self.phase {
            JobPhase::Submit => directory::import_request(conn, &self.participants),
            JobPhase::Poll => {
                directory::job_status_request(conn, self.job_id.as_deref().unwrap_or(""))
            }
            JobPhase::Results => {
                directory::job_result_request(conn, self.result_id.as_deref().unwrap_or(""))
            }
        }
    }
    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let fail = |message: String| StepUpdate::Finished {
            status: OutcomeStatus::Failed,
            message,
        };
        match self.phase {
            JobPhase::Submit => match directory::parse_job_id(response) {
                Ok(id) => {
                    self.job_id = Some(id);
                    self.phase = JobPhase::Poll;
                    StepUpdate::RetryAfter { ms: JOB_POLL_MS }
                }
                Err(ApiError::Rejected { status: 409, .. }) if self.waits < MAX_JOB_WAITS => {
                    self.waits += 1;
                    StepUpdate::RetryAfter { ms: 5_000 }
                }
                Err(e) => fail(format!("the directory import was refused: {e}")),
            },
            JobPhase::Poll => match directory::parse_job_status(response) {
                Ok((_, Some(result_id))) => {
                    self.result_id = Some(result_id);
                    self.phase = JobPhase::Results;
                    StepUpdate::Continue
                }
                Ok(_) if self.waits < MAX_JOB_WAITS => {
                    self.waits += 1;
                    StepUpdate::RetryAfter { ms: JOB_POLL_MS }
                }
                Ok(_) => fail("the directory import did not finish in time; plan again later to see what it did".into()),
                Err(e) => fail(format!("could not follow the directory import: {e}")),
            },
            JobPhase::Results => match directory::parse_job_failures(response) {
                Ok(failures) => {
                    self.failures = failures.into_iter().collect();
                    StepUpdate::Finished { status: OutcomeStatus::Done, message: "imported".into() }
                }
                Err(e) => fail(format!("could not read the directory import's result: {e}")),
            },
        }
    }
    fn fingerprint(&self) -> String {
        self.key.clone()
    }
    fn concurrency_group(&self) -> Option<(&'static str, usize)> {
        Some(("directory import jobs", directory::MAX_RUNNING_JOBS))
    }
    fn on_halted(&self, reason: &str) -> (OutcomeStatus, String) {
        match self.job_id {
            Some(_) => (
                OutcomeStatus::Failed,
                "the run stopped while the directory import was running: it may have been applied; plan again to see".into(),
            ),
            None => (OutcomeStatus::Skipped, reason.to_string()),
        }
    }
}

/// Either kind of step, so one executor runs a phase.
#[derive(Debug, Clone)]
pub enum ProvisionStep {
    /// Account work.
    Account(AccountStep),
    /// A directory import job.
    Import(ImportStep),
}

impl Step for ProvisionStep {
    fn key(&self) -> &str {
        match self {
            ProvisionStep::Account(s) => s.key(),
            ProvisionStep::Import(s) => s.key(),
        }
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        match self {
            ProvisionStep::Account(s) => s.request(conn),
            ProvisionStep::Import(s) => s.request(conn),
        }
    }
    fn on_response(&mut self, response: &HttpResponse, now: UnixMillis) -> StepUpdate {
        match self {
            ProvisionStep::Account(s) => s.on_response(response, now),
            ProvisionStep::Import(s) => s.on_response(response, now),
        }
    }
    fn fingerprint(&self) -> String {
        match self {
            ProvisionStep::Account(s) => s.fingerprint(),
            ProvisionStep::Import(s) => s.fingerprint(),
        }
    }
    fn on_ambiguous_failure(&mut self, why: &str) -> Option<StepUpdate> {
        match self {
            ProvisionStep::Account(s) => s.on_ambiguous_failure(why),
            ProvisionStep::Import(s) => s.on_ambiguous_failure(why),
        }
    }
    fn on_halted(&self, reason: &str) -> (OutcomeStatus, String) {
        match self {
            ProvisionStep::Account(s) => s.on_halted(reason),
            ProvisionStep::Import(s) => s.on_halted(reason),
        }
    }
    fn concurrency_group(&self) -> Option<(&'static str, usize)> {
        match self {
            ProvisionStep::Account(s) => s.concurrency_group(),
            ProvisionStep::Import(s) => s.concurrency_group(),
        }
    }
}
