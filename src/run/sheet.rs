//! A sheet run of any kind, as hosts use it: the plan's summary, problems and table; apply;
//! every row's outcome and the outcome columns; the undo table. The page, the task pane and
//! the CLI all read a plan and its outcomes through this one type.

use super::{
    ApplyRefused, InputFingerprint, LifecycleRun, MembershipRun, Phases, ProvisionRun, Run,
    RunPoll, RunProgress, SheetJob,
};
use crate::api::connection::Auth;
use crate::api::http::HttpResponse;
use crate::exec::{AuditEntry, RequestId, RowOutcome, TransportFailure};
use crate::policy::{Approval, BlastRadius};
use crate::sheet::problem::Problem;
use crate::sheet::table::Table;
use crate::time::UnixMillis;

/// A planned (or being planned, or applied) sheet of any kind.
pub enum SheetRun {
    /// Disable / enable / expire.
    Lifecycle(Box<LifecycleRun>),
    /// Create users with attributes.
    Provision(Box<ProvisionRun>),
    /// Group and role membership.
    Membership(Box<MembershipRun>),
}

macro_rules! each {
    ($self:expr, $r:ident => $e:expr) => {
        match $self {
            SheetRun::Lifecycle($r) => $e,
            SheetRun::Provision($r) => $e,
            SheetRun::Membership($r) => $e,
        }
    };
}

impl SheetRun {
    /// `lifecycle`, `provision` or `membership`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        /// The kind's name, as its phases name it in progress events.
        fn kind_of<P: Phases>(_: &super::PhasedRun<P>) -> &'static str {
            P::KIND
        }
        each!(self, r => kind_of(r))
    }

    /// The brand's listing sizes this run knows: those it was given, updated with every
    /// listing it read in full (keep them for the next run's [`super::SheetRequest`]).
    #[must_use]
    pub fn listing_sizes(&self) -> super::ListingSizes {
        each!(self, r => r.job().listing_sizes())
    }

    /// When the brand was listed, if the plan used the host's listing instead of reading it
    /// (see [`super::HeldListing`]).
    #[must_use]
    pub fn as_listed(&self) -> Option<super::AsListed> {
        each!(self, r => r.job().as_listed())
    }

    /// What the plan was made from.
    #[must_use]
    pub fn input(&self) -> &InputFingerprint {
        each!(self, r => r.input())
    }

    /// Applies exactly the plan read, if `current` is still what it was made from, as far as
    /// `approval` allows (see [`super::PhasedRun::apply`]); `None` applies it as made (a host
    /// that read its input once, like the CLI). Drive the run again afterwards.
    pub fn apply(
        &mut self,
        current: Option<&InputFingerprint>,
        approval: &Approval,
        now: UnixMillis,
    ) -> Result<(), ApplyRefused> {
        let planned = self.input().clone();
        let current = current.unwrap_or(&planned);
        each!(self, r => r.apply(current, approval, now))
    }

    /// What the plan would do that a person should weigh first (who loses access, which
    /// privileged accounts, whether the brake holds it), once planned against the brand.
    #[must_use]
    pub fn blast_radius(&self) -> Option<&BlastRadius> {
        each!(self, r => r.job().blast_radius())
    }

    /// How many rows of each action, in the plan's order.
    #[must_use]
    pub fn counts(&self) -> Vec<(String, usize)> {
        each!(self, r => r.job().plan_counts())
    }

    /// Rows that change something.
    #[must_use]
    pub fn changes(&self) -> usize {
        each!(self, r => r.job().plan_changes())
    }

    /// Why the sheet cannot be applied as a whole (missing or doubled columns, an attribute
    /// that would be created without being allowed), if so.
    #[must_use]
    pub fn file_errors(&self) -> Vec<Problem> {
        each!(self, r => r.job().sheet_errors())
    }

    /// Provisioning: the attribute columns no one in the brand has yet, and whether each may
    /// be created (empty before the plan and for other kinds).
    #[must_use]
    pub fn new_attributes(&self) -> Vec<crate::provision::NewAttribute> {
        each!(self, r => r.job().new_attributes())
    }

    /// What the rows say that the user should see, in row order: refusals (the row is not
    /// sent) and notes (provisioning: fixed or noted, still sent; row 0: about the sheet as a
    /// whole, such as a new attribute); with `include_not_found`, also lifecycle rows naming
    /// accounts the brand does not have (a fact about the brand, which `validate` cannot know).
    #[must_use]
    pub fn problems(&self, include_not_found: bool) -> Vec<Problem> {
        each!(self, r => r.job().row_problems(include_not_found))
    }

    /// True when the sheet cannot be planned, or a row is refused for what it says.
    #[must_use]
    pub fn has_refusals(&self) -> bool {
        !self.file_errors().is_empty() || self.problems(false).iter().any(Problem::refuses)
    }

    /// What a host lists under a plan (every problem message, notes included, and accounts
    /// not found), and the rows that will not be sent.
    #[must_use]
    pub fn listed_problems(&self) -> (Vec<Problem>, Vec<u32>) {
        let problems = self.problems(true);
        let mut rows: Vec<u32> = problems
            .iter()
            .filter(|p| p.refuses() && p.row > 0)
            .map(|p| p.row)
            .collect();
        rows.dedup();
        (problems, rows)
    }

    /// The plan as a table (a Plan sheet).
    #[must_use]
    pub fn plan_table(&self) -> Table {
        each!(self, r => r.job().plan_sheet())
    }

    /// The sheet that was planned.
    #[must_use]
    pub fn table(&self) -> &Table {
        static EMPTY: Table = Table {
            columns: Vec::new(),
            rows: Vec::new(),
            row_numbers: Vec::new(),
            lines: Vec::new(),
        };
        each!(self, r => r.job().sheet()).unwrap_or(&EMPTY)
    }

    /// The outcome columns written beside the input.
    #[must_use]
    pub fn outcome_columns(&self) -> Vec<String> {
        each!(self, r => r.job().outcome_columns())
    }

    /// Every input row's outcome (before apply: as the plan says, or skipped).
    #[must_use]
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        each!(self, r => r.job().row_outcomes())
    }

    /// The input with the outcome columns beside it (password cells blanked).
    #[must_use]
    pub fn outcome_table(&self) -> Table {
        each!(self, r => r.job().outcome_sheet())
    }

    /// The accounts the run changed, as they were before (lifecycle: an undo sheet).
    ///
    /// # Errors
    /// [`NoUndoSheet`] for a run of another kind.
    pub fn before_table(&self) -> Result<Table, NoUndoSheet> {
        each!(self, r => r.job().undo_sheet()).ok_or(NoUndoSheet)
    }
}

/// Why a run has no undo sheet: it is not a lifecycle run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Only a lifecycle run has an undo sheet.")]
pub struct NoUndoSheet;

impl Run for SheetRun {
    fn poll(&mut self, now: UnixMillis) -> RunPoll {
        each!(self, r => r.poll(now))
    }
    fn handle(
        &mut self,
        id: RequestId,
        now: UnixMillis,
        answer: Result<HttpResponse, TransportFailure>,
    ) {
        each!(self, r => r.handle(id, now, answer))
    }
    fn cancel(&mut self, now: UnixMillis) {
        each!(self, r => r.cancel(now))
    }
    fn renew_auth(&mut self, auth: Auth) {
        each!(self, r => r.renew_auth(auth))
    }
    fn auth_failed(&mut self, reason: &str, now: UnixMillis) {
        each!(self, r => r.auth_failed(reason, now))
    }
    fn is_finished(&self) -> bool {
        each!(self, r => r.is_finished())
    }
    fn poll_progress(&mut self, now: UnixMillis) -> Option<RunProgress> {
        each!(self, r => r.poll_progress(now))
    }
    fn audit(&self) -> &[AuditEntry] {
        each!(self, r => r.audit())
    }
    fn error(&self) -> Option<&str> {
        each!(self, r => r.error())
    }
    fn stop_reason(&self) -> Option<&str> {
        each!(self, r => r.stop_reason())
    }
}
