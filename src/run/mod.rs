//! Runs: one sans-IO state machine per job kind, owning everything between "go" and the last
//! row's outcome, so that every host (the page, the task pane, the CLI, the server) does the
//! same thing and only carries requests.
//!
//! A run owns the phase order and which listings are needed, one [`Executor`] whose pacing,
//! request ids, credential and audit carry across all its phases, cancellation at any point,
//! the journal, the audit of every request sent (listings and job polls included), exact
//! request counts, and progress events. The kinds are [`UsersRun`] (list every user),
//! [`LifecycleRun`], [`ProvisionRun`] and [`MembershipRun`] (each: read the brand, plan, then
//! apply exactly that plan) and [`PullRun`] (who is in which group and role).
//!
//! # Driving a run
//!
//! The host has a transport and a clock, and nothing else. Through the [`Run`] trait:
//!
//! 1. [`Run::poll`] with the current time: send every request it returns; note `wake_at`.
//!    When `needs_auth` is set, renew the credential ([`Run::renew_auth`] or
//!    [`Run::auth_failed`]) before polling again.
//! 2. Give each answer, or the transport's failure, to [`Run::handle`].
//! 3. After a batch of answers, [`Run::poll_progress`] for a progress event to show.
//! 4. Poll again after answers or at `wake_at`; stop when [`Run::is_finished`].
//!
//! A sheet run finishes twice: once planned (read the plan), and, after its `apply`, once
//! applied (read the outcomes). One driver loop ([`drive`]) does this for every host, over the
//! host's transport: the browser's (fetch and timers, in the WASM bindings), the native one
//! (`roster-native`'s `Transport::drive`: ureq and tokio), and [`simulate`]'s, which answers
//! from a function on a virtual clock (tests, fuzzing, benchmarks).

mod connect;
mod drive;
mod fit;
mod lifecycle;
mod membership;
mod provision;
mod pull;
mod request;
mod sheet;
mod step;
mod users;
mod view;
mod virtual_clock;

pub use connect::{
    ConnectError, ConnectJob, ConnectRun, ConnectSpec, ConnectStep, Credential, Route,
};
pub use drive::{drive, Control, RunCell, RunEnd, Transport};
pub use fit::{apply_mapping, column_fit, ColumnFit, FieldFit, FieldNeed, MappingError};
pub use lifecycle::LifecycleJob;
pub use membership::MembershipJob;
pub use provision::{check_provision, CheckedCsv, ProvisionJob, DEFAULT_JOB_SIZE};
pub use pull::PullJob;
pub use request::{
    AmbiguousKind, AsListed, Brand, HeldListing, ListingSizes, SheetKind, SheetRequest,
    LISTING_MAX_AGE_MS,
};
pub use sheet::{NoUndoSheet, SheetRun};
pub use step::RunStep;
pub use users::ListingJob;
pub use view::{
    group_problems, OutcomeCells, PlanView, ProblemGroup, TableView, UsersListing, PREVIEW_PROBLEMS,
};
pub use virtual_clock::simulate;

use serde::Serialize;

use crate::api::connection::{Auth, Connection};
use crate::api::http::HttpResponse;
use crate::exec::{
    AuditEntry, ExecConfig, Executor, JournalEntry, Outcome, Outgoing, Progress, RequestId,
    TransportFailure,
};
use crate::policy::{Approval, BlastRadius, Guard};
use crate::sheet::problem::Problem;
use crate::time::UnixMillis;

/// Lists every user of the brand (or every participant of the CX directory).
pub type UsersRun = PhasedRun<ListingJob>;
/// Reads the brand, plans a lifecycle sheet, then applies it.
pub type LifecycleRun = PhasedRun<LifecycleJob>;
/// Reads the brand, plans a provisioning sheet, then applies it.
pub type ProvisionRun = PhasedRun<ProvisionJob>;
/// Pulls who is in which group (and, through the role rules, which role).
pub type PullRun = PhasedRun<PullJob>;
/// Pulls the brand, plans a desired-membership sheet, then applies it.
pub type MembershipRun = PhasedRun<MembershipJob>;

/// What to do now, from [`Run::poll`].
#[derive(Debug, Default)]
#[must_use = "the requests must be sent and wake_at honoured, or the run stalls"]
pub struct RunPoll {
    /// Send these now; give each answer to [`Run::handle`] with its id.
    pub send: Vec<Outgoing>,
    /// Poll again at this time even if no answer comes first.
    pub wake_at: Option<UnixMillis>,
    /// The credential was refused and can be renewed: call [`Run::renew_auth`] (or
    /// [`Run::auth_failed`]) before polling again. Nothing is sent until then.
    pub needs_auth: bool,
}

/// A progress event, tagged with the run's kind and phase, ready to draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct RunProgress {
    /// `users`, `lifecycle`, `provision`, `membership`, `pull` or `connect`.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "js"),
        tsify(
            type = "\"users\" | \"lifecycle\" | \"provision\" | \"membership\" | \"pull\" | \"connect\""
        )
    )]
    pub kind: &'static str,
    /// `reading` (the brand, before a plan) or `applying`.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "js"),
        tsify(type = "\"reading\" | \"applying\"")
    )]
    pub stage: &'static str,
    /// The phase: `users`, `brand`, `divisions`, `groups`, `members`, `changes`, `accounts`,
    /// `checking accounts`, `accounts (retry)`, `directory`, `attributes`, `roles`.
    pub phase: &'static str,
    /// Rows (or listings) of this phase: total, done, failed… and the run's request counts.
    #[serde(flatten)]
    pub counts: Progress,
    /// Elements read so far by this phase's listings (reading phases only).
    pub items_read: Option<usize>,
    /// Pages read so far by this phase's listings (reading phases only).
    pub pages_read: Option<usize>,
    /// Rows finished since the last event: keep them to resume an interrupted run.
    pub journal: Vec<JournalEntry>,
    /// Why the run stopped early (a credential refused), if it did.
    pub stopped: Option<String>,
    /// Why reading the brand failed, if it did (then there is no plan).
    pub error: Option<String>,
    /// True when this stage is over (planned, or applied).
    pub finished: bool,
}

/// The host's side of every run: see the module documentation for the order of calls.
pub trait Run {
    /// The requests to send now, when to poll again, or that the credential needs renewing.
    /// Its answer changes after [`Run::handle`], at `wake_at`, after [`Run::cancel`] and
    /// [`Run::renew_auth`], and when a sheet run is told to apply.
    fn poll(&mut self, now: UnixMillis) -> RunPoll;
    /// Takes the answer to request `id`, or the transport's failure, at `now`.
    fn handle(
        &mut self,
        id: RequestId,
        now: UnixMillis,
        answer: Result<HttpResponse, TransportFailure>,
    );
    /// Stops sending, in any phase: rows not yet sent end `skipped`, later phases send
    /// nothing, answers on their way are still taken.
    fn cancel(&mut self, now: UnixMillis);
    /// A new credential, after [`RunPoll::needs_auth`] or ahead of an expiry.
    fn renew_auth(&mut self, auth: Auth);
    /// The credential could not be renewed: the run stops with `reason`.
    fn auth_failed(&mut self, reason: &str, now: UnixMillis);
    /// True when the current stage is over (nothing more to send until a sheet run applies).
    fn is_finished(&self) -> bool;
    /// A progress event when something changed since the last call (`None` otherwise).
    fn poll_progress(&mut self, now: UnixMillis) -> Option<RunProgress>;
    /// Every request sent so far (listings, polls and retries included), in answer order.
    fn audit(&self) -> &[AuditEntry];
    /// Why reading the brand failed, if it did (then there is no plan).
    fn error(&self) -> Option<&str>;
    /// Why the run stopped early (a credential refused), if it did.
    fn stop_reason(&self) -> Option<&str>;
    /// Why the run has no result, as every host reports it: reading the brand failed, or it
    /// stopped early.
    fn failure(&self) -> Option<&str> {
        self.error().or(self.stop_reason())
    }
}

/// The next phase of a run, from [`Phases::next`].
#[derive(Debug)]
pub enum Next {
    /// Read the brand with these steps (listings: progress counts elements read).
    Reading(&'static str, Vec<RunStep>),
    /// Send these changes.
    Sending(&'static str, Vec<RunStep>),
    /// This stage is over.
    Done,
    /// Reading the brand failed: the stage ends without a plan, with this message.
    Failed(String),
}

/// What a kind's phase logic may look at when it chooses the next phase.
#[derive(Debug)]
pub struct PhaseContext<'a> {
    /// The connection (with the current credential): steps that read listings keep it.
    pub conn: &'a Connection,
    /// The time the phase logic is called at (for outcomes' times).
    pub now: UnixMillis,
    /// The run was cancelled or stopped: start nothing new.
    pub halted: bool,
    /// Why the run stopped (a credential refused), if it did.
    pub stop_reason: Option<&'a str>,
}

/// The part of a run that differs by kind: which phase comes next.
pub trait Phases {
    /// The kind's name in progress events.
    const KIND: &'static str;
    /// Called when the current phase finished (and once at the start, with nothing finished):
    /// takes the finished steps and their outcomes, and names the next phase.
    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next;
}

/// A kind whose run plans a sheet and then applies it.
pub trait SheetJob: Phases {
    /// What the plan was made from.
    fn input(&self) -> &InputFingerprint;
    /// True when a plan is ready and not applied yet.
    fn planned(&self) -> bool;
    /// True once the plan was (or is being) applied.
    fn applied(&self) -> bool;
    /// Moves to the apply stage (called by [`PhasedRun::apply`] after its checks); rows the
    /// policy refuses under `approval` (Brand Administrators without the allowance) are taken
    /// out of the plan first.
    fn begin_apply(&mut self, approval: &Approval);
    /// Who runs the job and under which policy (set before the run starts; without it the
    /// credential's own account is not known, and only other protections apply).
    fn set_guard(&mut self, guard: Guard);
    /// The plan's blast radius, once planned against the brand.
    fn blast_radius(&self) -> Option<&BlastRadius>;
    /// Why the sheet as a whole cannot be applied (columns that cannot be read, an attribute
    /// that would be created without being allowed), once planned; empty when it can be.
    fn sheet_errors(&self) -> Vec<Problem>;
    /// Rows per action label, in the plan's order (empty before the plan).
    fn plan_counts(&self) -> Vec<(String, usize)>;
    /// Rows that send something (0 before the plan).
    fn plan_changes(&self) -> usize;
    /// What the rows say that the user should see, in row order (see
    /// [`SheetRun::problems`](sheet::SheetRun::problems)).
    fn row_problems(&self, include_not_found: bool) -> Vec<Problem>;
    /// The brand's listing sizes this job knows (given, then updated with every listing read
    /// in full), for the next run's request; none for a job that does not size its reads.
    fn listing_sizes(&self) -> ListingSizes {
        ListingSizes::default()
    }
    /// The host's listing the plan used instead of reading the brand, if it did (only the
    /// lifecycle plan uses one: see [`HeldListing`]).
    fn as_listed(&self) -> Option<AsListed> {
        None
    }
    /// Attribute columns no one in the brand has yet (only provisioning creates attributes).
    fn new_attributes(&self) -> Vec<crate::provision::NewAttribute> {
        Vec::new()
    }
    /// The plan as a table (a Plan sheet; empty before the plan).
    fn plan_sheet(&self) -> crate::sheet::table::Table;
    /// The sheet planned (`None` for a job without one).
    fn sheet(&self) -> Option<&crate::sheet::table::Table>;
    /// The outcome columns written beside the input.
    fn outcome_columns(&self) -> Vec<String>;
    /// Every input row's outcome (before apply: as the plan says, or skipped).
    fn row_outcomes(&self) -> Vec<crate::exec::RowOutcome>;
    /// The input with the outcome columns beside it (password cells blanked).
    fn outcome_sheet(&self) -> crate::sheet::table::Table;
    /// The accounts the run changed, as they were before, for the kinds that can be undone by
    /// applying it (lifecycle).
    fn undo_sheet(&self) -> Option<crate::sheet::table::Table> {
        None
    }
    /// Plans against an empty brand, reading nothing: what the rows themselves get wrong (for
    /// `validate`, and to refuse a sheet that fits no kind before any request).
    fn plan_offline(&mut self);
}

/// A run of one kind: its phases (`P`) over one executor. See the module documentation.
pub struct PhasedRun<P> {
    exec: Executor<RunStep>,
    job: P,
    phase: &'static str,
    stage: &'static str,
    reading: bool,
    /// Elements and pages the current reading phase has read (kept after it ends).
    read_so_far: (usize, usize),
    running: bool,
    error: Option<String>,
    audit: Vec<AuditEntry>,
    journal: Vec<JournalEntry>,
    changed: bool,
}

impl<P: Phases> PhasedRun<P> {
    /// A run of `job` over `conn`, paced by `config`, starting at `now`. `renewable`: the host
    /// can renew a refused credential (an OAuth client), so a 401 asks for a new one.
    pub fn new(
        conn: Connection,
        job: P,
        config: ExecConfig,
        renewable: bool,
        now: UnixMillis,
    ) -> Self {
        let mut exec = Executor::new(conn, Vec::new(), config, now);
        if renewable {
            exec = exec.renew_credentials_on_401();
        }
        PhasedRun {
            exec,
            job,
            phase: "start",
            stage: "reading",
            reading: true,
            read_so_far: (0, 0),
            running: true,
            error: None,
            audit: Vec::new(),
            journal: Vec::new(),
            changed: true,
        }
    }

    /// The kind's own state (its plan, what it read, its outcomes).
    pub fn job(&self) -> &P {
        &self.job
    }

    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.exec.is_cancelled()
    }

    /// Runs the kind's phase logic until a phase has something to do or the stage is over.
    fn advance(&mut self, now: UnixMillis) {
        while self.running && self.exec.is_finished() {
            self.count_read();
            let finished = self.exec.next_phase(Vec::new(), now);
            let halted = self.exec.is_cancelled() || self.exec.stop_reason().is_some();
            let next = self.job.next(
                finished,
                &PhaseContext {
                    conn: self.exec.connection(),
                    now,
                    halted,
                    stop_reason: self.exec.stop_reason(),
                },
            );
            self.changed = true;
            match next {
                Next::Reading(phase, steps) | Next::Sending(phase, steps) => {
                    self.reading = steps.iter().any(|s| matches!(s, RunStep::Listing(_)));
                    self.read_so_far = (0, 0);
                    self.phase = phase;
                    let _none_left = self.exec.next_phase(steps, now);
                    self.collect();
                }
                Next::Done => self.running = false,
                Next::Failed(message) => {
                    self.error = Some(message);
                    self.running = false;
                }
            }
        }
    }

    /// Counts what the current phase's listings have read (kept once they are handed on).
    fn count_read(&mut self) {
        if self.reading && self.exec.steps().next().is_some() {
            self.read_so_far = self
                .exec
                .steps()
                .filter_map(|s| match s {
                    RunStep::Listing(l) => Some((l.items(), l.pages())),
                    // One record (a division, an account's expiry) per request.
                    RunStep::Record(r) => {
                        let read = usize::from(r.found.is_some());
                        Some((read, read))
                    }
                    _ => None,
                })
                .fold((0, 0), |(i, p), (a, b)| (i + a, p + b));
        }
    }

    /// Starts the apply stage (called by the kinds' `apply`).
    fn restart(&mut self, now: UnixMillis) {
        self.stage = "applying";
        self.running = true;
        self.changed = true;
        self.advance(now);
    }

    fn collect(&mut self) {
        self.audit.extend(self.exec.take_audit());
        self.journal.extend(self.exec.take_journal());
    }
}

impl<P: Phases> Run for PhasedRun<P> {
    fn poll(&mut self, now: UnixMillis) -> RunPoll {
        self.advance(now);
        if !self.running {
            return RunPoll::default();
        }
        let poll = self.exec.poll(now);
        RunPoll {
            send: poll.send,
            wake_at: poll.wake_at,
            needs_auth: poll.needs_auth,
        }
    }

    fn handle(
        &mut self,
        id: RequestId,
        now: UnixMillis,
        answer: Result<HttpResponse, TransportFailure>,
    ) {
        self.exec.on_response(id, now, answer);
        self.collect();
        self.changed = true;
    }

    fn cancel(&mut self, now: UnixMillis) {
        self.exec.cancel(now);
        self.collect();
        self.changed = true;
        self.advance(now);
    }

    fn renew_auth(&mut self, auth: Auth) {
        self.exec.renew_auth(auth);
    }

    fn auth_failed(&mut self, reason: &str, now: UnixMillis) {
        self.exec.auth_failed(reason, now);
        self.collect();
        self.changed = true;
        self.advance(now);
    }

    fn is_finished(&self) -> bool {
        !self.running
    }

    fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }

    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn stop_reason(&self) -> Option<&str> {
        self.exec.stop_reason()
    }

    fn poll_progress(&mut self, now: UnixMillis) -> Option<RunProgress> {
        self.advance(now);
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        let (items_read, pages_read) = if self.reading {
            self.count_read();
            (Some(self.read_so_far.0), Some(self.read_so_far.1))
        } else {
            (None, None)
        };
        Some(RunProgress {
            kind: P::KIND,
            stage: self.stage,
            phase: self.phase,
            counts: self.exec.progress(now),
            items_read,
            pages_read,
            journal: std::mem::take(&mut self.journal),
            stopped: self.exec.stop_reason().map(str::to_string),
            error: self.error.clone(),
            finished: !self.running,
        })
    }
}

impl<P: SheetJob> PhasedRun<P> {
    /// The plan of `job` against an empty brand, with no connection and nothing to send: the
    /// same checks and messages as a plan, less what only the brand can say (accounts not
    /// found). It cannot be applied.
    pub fn offline(mut job: P, now: UnixMillis) -> Self {
        job.plan_offline();
        let conn = Connection::direct(
            "https://offline.invalid/API/v3",
            Auth::api_token("offline").expect("a valid placeholder token"),
        )
        .expect("a valid placeholder URL");
        let mut run = Self::new(conn, job, ExecConfig::default(), false, now);
        run.running = false;
        run
    }

    /// What the plan was made from: compare with the input the user sees now.
    pub fn input(&self) -> &InputFingerprint {
        self.job.input()
    }

    /// Applies exactly the plan that was read, if `current` (the sheet and options as they are
    /// now, from the kind's `fingerprint`) is what it was made from, as far as `approval`
    /// allows (see [`crate::policy`]). Then drive the run again until [`Run::is_finished`].
    /// Refused, with nothing sent: before the plan is ready, a second time, when the input
    /// changed, and when the mass-change brake holds the plan and `approval` does not confirm
    /// it.
    pub fn apply(
        &mut self,
        current: &InputFingerprint,
        approval: &Approval,
        now: UnixMillis,
    ) -> Result<(), ApplyRefused> {
        if self.job.applied() {
            return Err(ApplyRefused::AlreadyApplied);
        }
        if self.running || !self.job.planned() {
            return Err(ApplyRefused::NotPlanned);
        }
        self.job.input().check(current)?;
        if let Some(first) = self.job.sheet_errors().first() {
            return Err(ApplyRefused::SheetErrors(first.message.clone()));
        }
        if let Some(why) = self.job.blast_radius().and_then(|b| approval.refusal(b)) {
            return Err(ApplyRefused::NeedsConfirmation(why));
        }
        self.job.begin_apply(approval);
        self.restart(now);
        Ok(())
    }
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyRefused {
    /// The run is still reading the brand, or reading failed.
    #[error("There is no plan to apply yet: press Plan and wait for it to finish.")]
    NotPlanned,
    /// This plan was applied already.
    #[error("This plan was already applied: plan again to apply it again.")]
    AlreadyApplied,
    /// The sheet or the options changed since the plan was made.
    #[error("The sheet or the options changed since this plan was made ({0}): plan again, check the new plan, then apply it. Nothing was sent.")]
    InputChanged(String),
    /// The sheet as a whole cannot be applied (its plan says why); nothing was sent.
    #[error("{0} Nothing was sent.")]
    SheetErrors(String),
    /// The mass-change brake holds the plan (or it is over a limit given ahead), and the
    /// approval does not confirm it. The message begins "Needs confirmation".
    #[error("{0}")]
    NeedsConfirmation(String),
}

/// What a plan was made from: the sheet's kind, its cells and the options. A plan keeps the
/// one it was made from, and its `apply` refuses another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct InputFingerprint {
    /// The sheet's kind.
    pub kind: String,
    /// [`crate::sheet::table::Table::fingerprint`] of the sheet, in hex (exact in JavaScript too).
    pub table: String,
    /// The options, as the core read them.
    pub options: String,
}

impl InputFingerprint {
    /// The fingerprint of `table` of `kind` planned with `options` (as the core reads them).
    #[must_use]
    pub fn new(kind: &str, table: &crate::sheet::table::Table, options: String) -> Self {
        InputFingerprint {
            kind: kind.to_string(),
            table: format!("{:016x}", table.fingerprint()),
            options,
        }
    }

    /// Says what differs from `other`, for the refusal message.
    fn difference(&self, other: &InputFingerprint) -> Option<String> {
        if self.kind != other.kind {
            Some(format!("a {} sheet, not a {} one", other.kind, self.kind))
        } else if self.table != other.table {
            Some("its cells are not the ones planned".into())
        } else if self.options != other.options {
            Some("the options are not the ones planned".into())
        } else {
            None
        }
    }

    /// `Ok` when `current` is this same input.
    fn check(&self, current: &InputFingerprint) -> Result<(), ApplyRefused> {
        match self.difference(current) {
            Some(what) => Err(ApplyRefused::InputChanged(what)),
            None => Ok(()),
        }
    }
}

/// The key under which a host keeps the journal of a sheet of `kind`: the same cells give the
/// same key in every host and every session.
#[must_use]
pub fn journal_key(kind: &str, table: &crate::sheet::table::Table) -> String {
    format!("{kind}:{:016x}", table.fingerprint())
}
