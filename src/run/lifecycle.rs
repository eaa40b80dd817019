//! Disabling, re-enabling and expiring accounts from a sheet: read the users (and the current
//! expiry of the accounts an expiry row names), plan, apply. A sheet made from a listing the
//! host holds may be planned against that listing instead of reading the users again, when it
//! is recent (issue 29.3: see [`super::HeldListing`]).

use super::step::{failed_listing, listings};
use super::{
    AsListed, HeldListing, InputFingerprint, Next, PhaseContext, Phases, RunStep, SheetJob,
    LISTING_MAX_AGE_MS,
};
use crate::api::users::{users_from_table, UserSummary};
use crate::exec::reads::{Found, ListingStep, Record, RecordStep};
use crate::exec::RowOutcome;
use crate::exec::{JournalEntry, Outcome};
use crate::lifecycle::{self, LifecycleOptions, LifecycleStep, Plan, PlanAction};
use crate::policy::{self, Approval, BlastRadius, Guard, PlanFacts};
use crate::sheet::problem::{Problem, Severity};
use crate::sheet::table::Table;
use crate::time::UnixMillis;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    ReadingUsers,
    ReadingExpiries,
    Planned,
    ApplyStart,
    Applying,
    Applied,
}

/// The phases of a lifecycle sheet: the users listing (skipped when the sheet cannot be
/// planned at all, or when a recent listing the host holds names every account), each expiry
/// row's account (`GET /users/{id}`: the listing carries no
/// expiry), the plan, then the changes.
#[derive(Debug)]
pub struct LifecycleJob {
    table: Table,
    options: LifecycleOptions,
    journal: Vec<JournalEntry>,
    input: InputFingerprint,
    stage: Stage,
    plan: Option<Plan>,
    users: Vec<UserSummary>,
    executed: Vec<(LifecycleStep, Outcome)>,
    guard: Guard,
    /// The host's listing and when it was read, until the run decides whether to use it.
    held: Option<(Vec<UserSummary>, UnixMillis)>,
    /// The host's listing the plan used, if it did.
    as_listed: Option<AsListed>,
}

impl LifecycleJob {
    /// A job for `table` with `options`; `journal` holds the rows an interrupted run of the
    /// same sheet finished (they plan as unchanged).
    #[must_use]
    pub fn new(table: Table, options: LifecycleOptions, journal: Vec<JournalEntry>) -> Self {
        LifecycleJob {
            input: Self::fingerprint(&table, &options),
            table,
            options,
            journal,
            stage: Stage::Start,
            plan: None,
            users: Vec::new(),
            executed: Vec::new(),
            guard: Guard::default(),
            held: None,
            as_listed: None,
        }
    }

    /// This job offered the listing the host holds (a sheet made from it: the Users grid's
    /// bulk actions). The run uses it instead of listing the users when, at its start, it is at
    /// most [`LISTING_MAX_AGE_MS`] old and has every account the sheet names; otherwise the
    /// users are read as without it. A table that is not a Users sheet is ignored.
    #[must_use]
    pub fn with_listing(mut self, listing: Option<HeldListing>) -> Self {
        self.held = listing.and_then(|l| Some((users_from_table(&l.users)?, l.as_of)));
        self
    }

    /// When the brand was listed, if the plan used the host's listing.
    #[must_use]
    pub fn as_listed(&self) -> Option<AsListed> {
        self.as_listed
    }

    /// The fingerprint of a sheet and options, to compare with the plan's at apply.
    #[must_use]
    pub fn fingerprint(table: &Table, options: &LifecycleOptions) -> InputFingerprint {
        InputFingerprint::new("lifecycle", table, format!("{options:?}"))
    }

    /// The plan, once read and planned.
    #[must_use]
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// The sheet planned.
    #[must_use]
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Every row's outcome (rows not sent yet: as the plan says, or skipped).
    #[must_use]
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        let executed: Vec<Outcome> = self.executed.iter().map(|(_, o)| o.clone()).collect();
        match &self.plan {
            Some(plan) => lifecycle::outcomes(plan, &executed),
            None => Vec::new(),
        }
    }

    /// The accounts the run changed, as they were before (to undo it).
    #[must_use]
    pub fn before_table(&self) -> Table {
        let steps: Vec<&LifecycleStep> = self.executed.iter().map(|(s, _)| s).collect();
        lifecycle::before_table(&steps)
    }
}

impl LifecycleJob {
    /// The plan is final: judge it (the blast radius; the credential's own account refused).
    fn planned_now(&mut self) -> Next {
        self.stage = Stage::Planned;
        let Some(plan) = self.plan.as_mut() else {
            return Next::Done;
        };
        if self.as_listed.is_some() {
            // "Already disabled" is what the listing said: the row says so, as the plan does.
            for r in &mut plan.rows {
                let listed =
                    r.message.starts_with("already ") && !r.message.starts_with("already applied");
                if r.action == PlanAction::Unchanged && listed {
                    r.message.push_str(" when listed");
                }
            }
        }
        let touches = lifecycle::touches(plan, &self.users, self.options.today);
        let count = |a: PlanAction| plan.rows.iter().filter(|r| r.action == a).count();
        let facts = PlanFacts {
            rows: plan.rows.len(),
            changes: plan.changes(),
            counts: plan.counts.clone(),
            not_found: count(PlanAction::NotFound),
            problem_rows: count(PlanAction::Invalid),
            active_accounts: Some(policy::active_accounts(&self.users)),
        };
        let refuse = self.guard.judge(&touches, facts);
        lifecycle::refuse(plan, &refuse);
        self.guard.recount(plan.counts.clone());
        Next::Done
    }

    /// The users are known (read, or the host's listing) and `plan` made from them: read the
    /// current expiry of the accounts an expiry row would change, else the plan is final.
    fn users_known(&mut self, plan: Plan, ctx: &PhaseContext<'_>) -> Next {
        let reads = lifecycle::expiry_reads(&plan);
        self.plan = Some(plan);
        if reads.is_empty() || ctx.halted {
            return self.planned_now();
        }
        self.stage = Stage::ReadingExpiries;
        let steps = reads
            .iter()
            .map(|id| RunStep::Record(RecordStep::user(id)))
            .collect();
        Next::Reading("expiry dates", steps)
    }

    /// Plans from the host's listing instead of reading the users, when it is recent on the
    /// run's clock (at most [`LISTING_MAX_AGE_MS`] old, not from the future) and names every
    /// account the sheet does; `None` to read the users. An account it does not have may have
    /// been created since it was read: the brand is read rather than the row said not found.
    fn plan_from_held(&mut self, ctx: &PhaseContext<'_>) -> Option<Next> {
        let (users, as_of) = self.held.take()?;
        let age = ctx
            .now
            .checked_sub(as_of)
            .filter(|age| *age <= LISTING_MAX_AGE_MS)?;
        self.users = users;
        let plan = self.plan_with(&HashMap::new());
        if plan.rows.iter().any(|r| r.action == PlanAction::NotFound) {
            self.users = Vec::new();
            return None;
        }
        self.as_listed = Some(AsListed {
            at: as_of,
            age_ms: age,
        });
        Some(self.users_known(plan, ctx))
    }

    fn plan_with(&self, expiries: &HashMap<String, Option<String>>) -> Plan {
        lifecycle::plan(
            &self.table,
            &self.users,
            expiries,
            &self.journal,
            &self.options,
        )
    }
}

impl SheetJob for LifecycleJob {
    fn input(&self) -> &InputFingerprint {
        &self.input
    }
    fn planned(&self) -> bool {
        self.stage == Stage::Planned
    }
    fn applied(&self) -> bool {
        matches!(
            self.stage,
            Stage::ApplyStart | Stage::Applying | Stage::Applied
        )
    }
    fn begin_apply(&mut self, approval: &Approval) {
        if let Some(plan) = self.plan.as_mut() {
            lifecycle::refuse(plan, &self.guard.refusals_at_apply(approval));
        }
        self.stage = Stage::ApplyStart;
    }
    fn set_guard(&mut self, guard: Guard) {
        self.guard = guard;
    }
    fn sheet_errors(&self) -> Vec<Problem> {
        self.plan()
            .and_then(|p| p.file_error.clone())
            .into_iter()
            .collect()
    }
    fn plan_counts(&self) -> Vec<(String, usize)> {
        self.plan().map(|p| p.counts.clone()).unwrap_or_default()
    }
    fn plan_changes(&self) -> usize {
        self.plan().map_or(0, Plan::changes)
    }
    fn row_problems(&self, include_not_found: bool) -> Vec<Problem> {
        self.plan().map_or_else(Vec::new, |p| {
            p.rows
                .iter()
                .filter_map(|r| match r.action {
                    PlanAction::Invalid | PlanAction::Refused => r.problem.clone(),
                    PlanAction::NotFound if include_not_found => Some(Problem {
                        row: r.row,
                        line: None,
                        column: String::new(),
                        severity: Severity::Error,
                        message: r.message.clone(),
                    }),
                    _ => None,
                })
                .collect()
        })
    }
    fn plan_sheet(&self) -> Table {
        self.plan().map(lifecycle::plan_table).unwrap_or_default()
    }
    fn sheet(&self) -> Option<&Table> {
        Some(self.table())
    }
    fn outcome_columns(&self) -> Vec<String> {
        lifecycle::outcome_column_names(&self.table().columns)
    }
    fn row_outcomes(&self) -> Vec<RowOutcome> {
        self.outcomes()
    }
    fn outcome_sheet(&self) -> Table {
        lifecycle::outcome_table(self.table(), &self.outcomes())
    }
    fn undo_sheet(&self) -> Option<Table> {
        Some(self.before_table())
    }
    fn blast_radius(&self) -> Option<&BlastRadius> {
        self.guard.blast()
    }
    fn as_listed(&self) -> Option<AsListed> {
        self.as_listed
    }
    fn plan_offline(&mut self) {
        self.plan = Some(lifecycle::plan(
            &self.table,
            &[],
            &HashMap::new(),
            &self.journal,
            &self.options,
        ));
        self.stage = Stage::Applied;
    }
}

impl Phases for LifecycleJob {
    const KIND: &'static str = "lifecycle";

    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next {
        match self.stage {
            Stage::Start => {
                // The sheet's own problems (no User ID or Username column…) need no brand.
                let unread = lifecycle::plan(
                    &self.table,
                    &[],
                    &HashMap::new(),
                    &self.journal,
                    &self.options,
                );
                if unread.file_error.is_some() || ctx.halted {
                    self.plan = Some(unread);
                    return self.planned_now();
                }
                if let Some(next) = self.plan_from_held(ctx) {
                    return next;
                }
                self.stage = Stage::ReadingUsers;
                Next::Reading(
                    "users",
                    vec![RunStep::Listing(ListingStep::users(ctx.conn))],
                )
            }
            Stage::ReadingUsers => {
                let finished = listings(finished);
                if let Some(failed) = failed_listing(&finished) {
                    self.stage = Stage::Applied;
                    return Next::Failed(failed);
                }
                self.users = finished
                    .into_iter()
                    .find_map(|(s, _)| match s.into_found() {
                        Found::Users(u) => Some(u),
                        _ => None,
                    })
                    .unwrap_or_default();
                let plan = self.plan_with(&HashMap::new());
                self.users_known(plan, ctx)
            }
            Stage::ReadingExpiries => {
                // A user whose record cannot be read keeps an unknown expiry: the plan says so.
                let expiries: HashMap<String, Option<String>> = finished
                    .into_iter()
                    .filter_map(|(step, _)| match step {
                        RunStep::Record(r) => match &r.found {
                            Some(Record::Expiry(e)) => Some((r.id().to_string(), e.clone())),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect();
                self.plan = Some(self.plan_with(&expiries));
                self.planned_now()
            }
            Stage::Planned | Stage::Applied => Next::Done,
            Stage::ApplyStart => {
                self.stage = Stage::Applying;
                let plan = self.plan.as_ref().expect("applied only once planned");
                let steps = lifecycle::steps(plan)
                    .into_iter()
                    .map(RunStep::Lifecycle)
                    .collect();
                Next::Sending("changes", steps)
            }
            Stage::Applying => {
                self.executed = finished
                    .into_iter()
                    .filter_map(|(s, o)| match s {
                        RunStep::Lifecycle(s) => Some((s, o)),
                        _ => None,
                    })
                    .collect();
                self.stage = Stage::Applied;
                Next::Done
            }
        }
    }
}
