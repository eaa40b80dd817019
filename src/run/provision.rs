//! Creating users with their attributes from a sheet: read the brand (users; the CX directory
//! and division names only when the sheet needs them), plan, then apply: accounts, a check of
//! any create whose answer was lost (so nobody is created twice), the directory (only when new
//! accounts need their uniqueIdentifier looked up), the import jobs.
//!
//! A run that applies at once (hooks: [`ProvisionJob::unattended`]) and whose attribute
//! columns may all be new reads the directory once, after the accounts: the accounts' plan
//! does not depend on it, and reading it before would mean reading it twice (new accounts'
//! uniqueIdentifiers are Qualtrics' choice, found only by listing: the documented participant
//! search takes a uniqueIdentifier, not a username). The attributes are then planned against
//! the directory as it was before the run (its new accounts' participants left out), which is
//! the plan a run reading it first makes.

use std::collections::HashMap;

use super::step::{division_names, division_reads, failed_listing, listings};
use super::{InputFingerprint, ListingSizes, Next, PhaseContext, Phases, RunStep, SheetJob};
use crate::api::directory::Participant;
use crate::api::users::UserSummary;
use crate::exec::reads::{Found, ListingStep, Record, RecordStep};
use crate::exec::RowOutcome;
use crate::exec::{JournalEntry, Outcome, OutcomeStatus, Step};
use crate::policy::{self, Approval, BlastRadius, Guard, PlanFacts};
use crate::provision::{
    self, BrandNeeds, Plan, ProvisionAction, ProvisionApply, ProvisionOptions, Route,
};
use crate::sheet::problem::Problem;
use crate::sheet::table::Table;

/// Participants per import job when the options say 0.
pub const DEFAULT_JOB_SIZE: usize = 100;

/// What checking a provisioning sheet against no brand finds, in numbers (see
/// [`check_provision`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
pub struct CheckedCsv {
    /// Rows per action.
    pub counts: Vec<(String, usize)>,
    /// Problems found.
    pub problems: usize,
    /// Data rows.
    pub rows: usize,
}

/// Checks `table` as a provisioning sheet against no brand (the account route, no user types
/// or divisions), `today` being the plan's date: the plan alone, without a run around it (no
/// input fingerprint, no executor), as the validation benchmark measures it.
#[must_use]
pub fn check_provision(table: &Table, today: crate::time::Date) -> CheckedCsv {
    let options = ProvisionOptions {
        route: Route::AccountAndAttributes,
        today,
        user_types: Default::default(),
        divisions: Default::default(),
        job_size: DEFAULT_JOB_SIZE,
        new_attributes: Default::default(),
    };
    let plan = provision::plan(table, &[], &[], &[], &options);
    CheckedCsv {
        problems: plan.file_errors.len()
            + plan.rows.iter().map(|r| r.problems.len()).sum::<usize>(),
        rows: plan.rows.len(),
        counts: plan.counts,
    }
}

/// How many times a lost create is checked against the user list (and retried if absent).
const MAX_CHECKS: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApplyStage {
    Start,
    Accounts,
    Checking,
    Directory,
    Imports,
    Done,
}

/// What planning a sheet again needs, once the directory is read after the accounts (a run
/// that read only the users before planning: see the module's documentation).
#[derive(Debug)]
pub(crate) struct DeferredPlan {
    table: Table,
    /// The users as read before the accounts were sent (the sheet's only).
    users: Vec<UserSummary>,
    records: HashMap<String, crate::api::users::User>,
    journal: Vec<JournalEntry>,
    options: ProvisionOptions,
}

/// The apply phases of a provisioning plan; membership's role changes use them too.
#[derive(Debug)]
pub(crate) struct ApplyPhases {
    /// The plan and every row's progress.
    pub run: ProvisionApply,
    /// The directory as read for the plan (used when no new account needs looking up).
    participants: Vec<Participant>,
    stage: ApplyStage,
    checks: u8,
    imports_phase: &'static str,
    /// The directory was not read for the plan: read it after the accounts, and plan the
    /// attributes again with it.
    deferred: Option<Box<DeferredPlan>>,
}

impl ApplyPhases {
    /// Phases for `run`, with the directory read for its plan; `imports_phase` names the
    /// import phase in progress events.
    pub fn new(
        run: ProvisionApply,
        participants: Vec<Participant>,
        imports_phase: &'static str,
    ) -> Self {
        ApplyPhases {
            run,
            participants,
            stage: ApplyStage::Start,
            checks: 0,
            imports_phase,
            deferred: None,
        }
    }

    /// These phases for a plan made without the directory: it is read after the accounts
    /// and the plan's attributes made again with it ([`DeferredPlan`]).
    fn deferring(mut self, deferred: DeferredPlan) -> Self {
        self.deferred = Some(Box::new(deferred));
        self
    }

    /// Plans the sheet again with the directory read after the accounts, leaving out the
    /// participants of the accounts this run created: the directory as it was before the run.
    fn replan(&mut self, deferred: &DeferredPlan, found: &[Participant]) {
        let created = self.run.created_user_ids();
        let before: Vec<Participant> = found
            .iter()
            .filter(|p| !p.user_id.as_ref().is_some_and(|id| created.contains(id)))
            .cloned()
            .collect();
        let plan = provision::plan_with_records(
            &deferred.table,
            &deferred.users,
            &deferred.records,
            Some(&before),
            &deferred.journal,
            &deferred.options,
        );
        self.run.replan(plan);
    }

    /// The next phase, or `None` when the plan is applied.
    pub fn next(
        &mut self,
        finished: Vec<(RunStep, Outcome)>,
        ctx: &PhaseContext<'_>,
    ) -> Option<Next> {
        match self.stage {
            ApplyStage::Start => {
                self.stage = ApplyStage::Accounts;
                let steps = self.run.account_steps();
                Some(Next::Sending(
                    "accounts",
                    steps.into_iter().map(RunStep::Provision).collect(),
                ))
            }
            ApplyStage::Accounts => {
                self.record(finished);
                self.after_accounts(ctx)
            }
            ApplyStage::Checking => {
                let finished = listings(finished);
                if let Some(failed) = failed_listing(&finished) {
                    // The lost creates stay failed, saying the check could not be made: not
                    // retried blind.
                    self.run
                        .settle_unchecked(&format!("the user list could not be read: {failed}"));
                    return self.directory(ctx);
                }
                let users: Vec<UserSummary> = finished
                    .into_iter()
                    .find_map(|(s, _)| match s.into_found() {
                        Found::Users(u) => Some(u),
                        _ => None,
                    })
                    .unwrap_or_default();
                let retries = self.run.resolve_uncertain(&users);
                self.stage = ApplyStage::Accounts;
                Some(Next::Sending(
                    "accounts (retry)",
                    retries.into_iter().map(RunStep::Provision).collect(),
                ))
            }
            ApplyStage::Directory => {
                let finished = listings(finished);
                if let Some(failed) = failed_listing(&finished) {
                    self.run.fail_imports(&format!(
                        "not sent: the new accounts' uniqueIdentifiers could not be looked up ({failed}); plan again to set their attributes"
                    ));
                    self.stage = ApplyStage::Done;
                    return None;
                }
                if let Some(Found::Directory(found)) =
                    finished.into_iter().map(|(s, _)| s.into_found()).next()
                {
                    if let Some(deferred) = self.deferred.take() {
                        self.replan(&deferred, &found);
                    }
                    self.participants = found;
                }
                self.imports()
            }
            ApplyStage::Imports => {
                self.record(finished);
                self.stage = ApplyStage::Done;
                None
            }
            ApplyStage::Done => None,
        }
    }

    fn after_accounts(&mut self, ctx: &PhaseContext<'_>) -> Option<Next> {
        if !self.run.uncertain().is_empty() {
            if !ctx.halted && self.checks < MAX_CHECKS {
                self.checks += 1;
                self.stage = ApplyStage::Checking;
                return Some(Next::Reading(
                    "checking accounts",
                    vec![RunStep::Listing(ListingStep::users(ctx.conn))],
                ));
            }
            self.run.settle_unchecked(if ctx.halted {
                "the run was stopped before the user list was read"
            } else {
                "the user list was read twice already"
            });
        }
        self.directory(ctx)
    }

    fn directory(&mut self, ctx: &PhaseContext<'_>) -> Option<Next> {
        if ctx.halted {
            self.stage = ApplyStage::Done;
            return None;
        }
        if self.run.needs_participants() || self.deferred.is_some() {
            self.stage = ApplyStage::Directory;
            return Some(Next::Reading(
                "directory",
                vec![RunStep::Listing(ListingStep::directory(ctx.conn))],
            ));
        }
        self.imports()
    }

    fn imports(&mut self) -> Option<Next> {
        self.stage = ApplyStage::Imports;
        let jobs = self.run.import_steps(&self.participants);
        Some(Next::Sending(
            self.imports_phase,
            jobs.into_iter().map(RunStep::Provision).collect(),
        ))
    }

    fn record(&mut self, finished: Vec<(RunStep, Outcome)>) {
        let (steps, outcomes): (Vec<_>, Vec<_>) = finished
            .into_iter()
            .filter_map(|(s, o)| match s {
                RunStep::Provision(s) => Some((s, o)),
                _ => None,
            })
            .unzip();
        self.run.record(steps.iter(), &outcomes);
    }
}

/// Options as every host means them: a job size of 0 is the default, and user type names are
/// matched trimmed and ignoring case (the hosts pass them as the user typed them).
fn normalised(mut options: ProvisionOptions) -> ProvisionOptions {
    if options.job_size == 0 {
        options.job_size = DEFAULT_JOB_SIZE;
    }
    options.user_types = options
        .user_types
        .into_iter()
        .map(|(name, id)| (name.trim().to_lowercase(), id.trim().to_string()))
        .collect();
    options
}

#[derive(Debug)]
enum Stage {
    Start,
    ReadingBrand,
    ReadingDivisions,
    ReadingAccounts,
    Planned,
    Applying(Box<ApplyPhases>),
    Applied,
}

/// The phases of a provisioning sheet.
#[derive(Debug)]
pub struct ProvisionJob {
    table: Table,
    options: ProvisionOptions,
    journal: Vec<JournalEntry>,
    input: InputFingerprint,
    needs: BrandNeeds,
    stage: Stage,
    users: Vec<UserSummary>,
    participants: Vec<Participant>,
    run: Option<ProvisionApply>,
    guard: Guard,
    /// Existing accounts' records, for the fields the listing does not carry.
    records: HashMap<String, crate::api::users::User>,
    /// The brand's listing sizes as known (given, then learnt from listings read in full).
    sizes: ListingSizes,
    /// The users were looked up one by one (`self.users` holds only the sheet's accounts).
    looked_up: bool,
    /// The host applies the plan as soon as it is made, with nobody reading it first.
    unattended: bool,
    /// The directory is read after the accounts, not for the plan (decided at the start).
    defer_directory: bool,
}

impl ProvisionJob {
    /// A job for `table` with `options` (a job size of 0 means [`DEFAULT_JOB_SIZE`]); `journal`
    /// holds what an interrupted run of the same sheet finished.
    #[must_use]
    pub fn new(table: Table, options: ProvisionOptions, journal: Vec<JournalEntry>) -> Self {
        let options = normalised(options);
        ProvisionJob {
            input: Self::fingerprint(&table, &options),
            needs: provision::brand_needs(&table, options.route),
            table,
            options,
            journal,
            stage: Stage::Start,
            users: Vec::new(),
            participants: Vec::new(),
            run: None,
            guard: Guard::default(),
            records: HashMap::new(),
            sizes: ListingSizes::default(),
            looked_up: false,
            unattended: false,
            defer_directory: false,
        }
    }

    /// The job, told whether its host applies the plan as soon as it is made with nobody
    /// reading it first (the hooks). Such a run, on the account route with attribute columns
    /// that may all be new, reads the CX directory once, after the accounts, instead of before
    /// them and again after: a new hire's account is created without waiting for the whole
    /// directory, and the plan comes out the same (its attributes are planned once the
    /// directory is read; see the module's documentation).
    #[must_use]
    pub fn unattended(mut self, unattended: bool) -> Self {
        self.unattended = unattended;
        self
    }

    /// True when the directory is better read after the accounts (see
    /// [`ProvisionJob::unattended`]): nobody reads the plan before it is applied, the accounts'
    /// plan does not use the directory, and no attribute column can make the sheet unplannable.
    fn defers_directory(&self) -> bool {
        self.unattended
            && self.options.route == Route::AccountAndAttributes
            && self.needs.directory
            && provision::attributes_allowed(&self.table, &self.options)
    }

    /// The job, knowing how many pages the brand's listings took when last read: a sheet of
    /// fewer accounts than the users listing has pages looks each account up by username
    /// instead of listing every user (see [`ProvisionJob::listing_sizes`]).
    #[must_use]
    pub fn with_listing_sizes(mut self, sizes: ListingSizes) -> Self {
        self.sizes = sizes;
        self
    }

    /// The listing sizes known: those given, updated with every listing this job read in full.
    #[must_use]
    pub fn listing_sizes(&self) -> ListingSizes {
        self.sizes
    }

    /// The usernames to look up one by one instead of listing the users, when that sends
    /// fewer requests and the plan comes out the same: the account route (the directory route
    /// plans by uniqueIdentifier), no division names to match (they are matched against the
    /// divisions of every user), and no more accounts than the brake counts (so the brand's
    /// active accounts, unknown without the listing, cannot change whether the brake holds).
    fn lookups(&self) -> Option<std::collections::BTreeSet<String>> {
        if self.options.route != Route::AccountAndAttributes || self.needs.division_names {
            return None;
        }
        let names = provision::sheet_usernames(&self.table)?;
        (self.sizes.lookups_cheaper(names.len()) && names.len() <= self.guard.policy.brake_accounts)
            .then_some(names)
    }

    /// Notes the size of a listing read in full.
    fn learn(&mut self, listing: &ListingStep) {
        match listing.key() {
            "users" => self.sizes.users_pages = Some(listing.pages()),
            "directory" => self.sizes.directory_pages = Some(listing.pages()),
            _ => {}
        }
    }

    /// The fingerprint of a sheet and options, to compare with the plan's at apply.
    #[must_use]
    pub fn fingerprint(table: &Table, options: &ProvisionOptions) -> InputFingerprint {
        let options = normalised(options.clone());
        InputFingerprint::new("provision", table, format!("{options:?}"))
    }

    /// The plan, once read and planned.
    #[must_use]
    pub fn plan(&self) -> Option<&Plan> {
        match &self.stage {
            Stage::Applying(a) => Some(&a.run.plan),
            _ => self.run.as_ref().map(|r| &r.plan),
        }
    }

    /// The sheet planned.
    #[must_use]
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Every row's outcome.
    #[must_use]
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        match &self.stage {
            Stage::Applying(a) => a.run.outcomes(),
            _ => self.run.as_ref().map(|r| r.outcomes()).unwrap_or_default(),
        }
    }

    /// Reads the records of the existing accounts whose sheet values the listing cannot
    /// confirm (language, time zone, expiry), then plans; or plans at once when there are none.
    fn read_accounts_then_plan(&mut self, ctx: &PhaseContext<'_>) -> Next {
        let first = provision::plan(
            &self.table,
            &self.users,
            &self.participants,
            &self.journal,
            &self.options,
        );
        let reads = provision::record_reads(&first);
        if reads.is_empty() || ctx.halted {
            return self.make_plan();
        }
        self.stage = Stage::ReadingAccounts;
        Next::Reading(
            "accounts",
            reads
                .iter()
                .map(|id| RunStep::Record(RecordStep::user_record(id)))
                .collect(),
        )
    }

    fn make_plan(&mut self) -> Next {
        let read = self.needs.directory && !self.defer_directory;
        let mut plan = provision::plan_with_records(
            &self.table,
            &self.users,
            &self.records,
            read.then_some(&self.participants[..]),
            &self.journal,
            &self.options,
        );
        self.judge(&mut plan);
        if self.defer_directory {
            // Kept for planning the attributes again once the directory is read: only the
            // sheet's accounts matter to a plan.
            let names = provision::sheet_usernames(&self.table).unwrap_or_default();
            self.users.retain(|u| {
                u.username
                    .as_deref()
                    .is_some_and(|n| names.contains(&n.trim().to_lowercase()))
            });
        } else {
            self.users = Vec::new();
        }
        self.run = Some(ProvisionApply::new(plan));
        self.stage = Stage::Planned;
        Next::Done
    }
}

impl ProvisionJob {
    /// Takes the answers to the username lookups: the users found, or the next phase when
    /// they cannot be used (a lookup failed: the run fails as a failed listing does; the
    /// unverified filter was ignored: the users are listed after all).
    fn take_lookups(
        &mut self,
        lookups: Vec<(RunStep, Outcome)>,
        ctx: &PhaseContext<'_>,
    ) -> Option<Next> {
        let mut users = Vec::new();
        let mut unfiltered = false;
        for (step, outcome) in lookups {
            let RunStep::Record(r) = step else { continue };
            if outcome.status != OutcomeStatus::Done {
                self.stage = Stage::Applied;
                return Some(Next::Failed(format!(
                    "Looking up the user {} stopped: {}",
                    r.id(),
                    outcome.message
                )));
            }
            match r.found {
                Some(Record::Username(Some(u))) => users.push(*u),
                Some(Record::Username(None)) => {}
                _ => unfiltered = true,
            }
        }
        if unfiltered {
            // UNVERIFIED: `GET /users?username=` may not be honoured by the live API; when it
            // is not, list every user as a run without listing sizes does.
            if ctx.halted {
                self.stage = Stage::Applied;
                return Some(Next::Failed(
                    "the run was stopped before the users were read".into(),
                ));
            }
            return Some(Next::Reading(
                "brand",
                vec![RunStep::Listing(ListingStep::users(ctx.conn))],
            ));
        }
        self.looked_up = true;
        self.users = users;
        None
    }

    /// Judges a plan just made (the blast radius; the credential's own account refused).
    fn judge(&mut self, plan: &mut Plan) {
        let touches = provision::touches(plan, &self.users, self.options.today);
        let problem_rows = plan
            .rows
            .iter()
            .filter(|r| r.actions.contains(&ProvisionAction::Invalid))
            .count();
        let facts = PlanFacts {
            rows: plan.rows.len(),
            changes: plan.changes(),
            counts: plan.counts.clone(),
            not_found: 0,
            problem_rows,
            // Looked up one by one, the brand's size is not known (`lookups` keeps such
            // sheets under the brake's count, so the brake decides the same without it).
            active_accounts: (!self.looked_up).then(|| policy::active_accounts(&self.users)),
        };
        let refuse = self.guard.judge(&touches, facts);
        provision::refuse(plan, &refuse);
        self.guard.recount(plan.counts.clone());
    }
}

impl SheetJob for ProvisionJob {
    fn listing_sizes(&self) -> ListingSizes {
        ProvisionJob::listing_sizes(self)
    }
    fn input(&self) -> &InputFingerprint {
        &self.input
    }
    fn planned(&self) -> bool {
        matches!(self.stage, Stage::Planned)
    }
    fn applied(&self) -> bool {
        matches!(self.stage, Stage::Applying(_) | Stage::Applied)
    }
    fn set_guard(&mut self, guard: Guard) {
        self.guard = guard;
    }
    fn sheet_errors(&self) -> Vec<Problem> {
        self.plan()
            .map(|p| p.file_errors.clone())
            .unwrap_or_default()
    }
    fn plan_counts(&self) -> Vec<(String, usize)> {
        self.plan().map(|p| p.counts.clone()).unwrap_or_default()
    }
    fn plan_changes(&self) -> usize {
        self.plan().map_or(0, Plan::changes)
    }
    fn row_problems(&self, _include_not_found: bool) -> Vec<Problem> {
        self.plan().map_or_else(Vec::new, |p| {
            p.notes
                .iter()
                .chain(p.rows.iter().flat_map(|r| r.problems.iter()))
                .cloned()
                .collect()
        })
    }
    fn new_attributes(&self) -> Vec<provision::NewAttribute> {
        self.plan()
            .map(|p| p.new_attributes.clone())
            .unwrap_or_default()
    }
    fn plan_sheet(&self) -> Table {
        self.plan().map(provision::plan_table).unwrap_or_default()
    }
    fn sheet(&self) -> Option<&Table> {
        Some(self.table())
    }
    fn outcome_columns(&self) -> Vec<String> {
        provision::outcome_column_names(&self.table().columns)
    }
    fn row_outcomes(&self) -> Vec<RowOutcome> {
        self.outcomes()
    }
    fn outcome_sheet(&self) -> Table {
        provision::outcome_table(self.table(), &self.outcomes())
    }
    fn blast_radius(&self) -> Option<&BlastRadius> {
        self.guard.blast()
    }
    fn begin_apply(&mut self, approval: &Approval) {
        let mut run = self.run.take().expect("applied only once planned");
        provision::refuse(&mut run.plan, &self.guard.refusals_at_apply(approval));
        let participants = std::mem::take(&mut self.participants);
        let mut phases = ApplyPhases::new(run, participants, "attributes");
        if self.defer_directory {
            phases = phases.deferring(DeferredPlan {
                table: self.table.clone(),
                users: std::mem::take(&mut self.users),
                records: self.records.clone(),
                journal: self.journal.clone(),
                options: self.options.clone(),
            });
        }
        self.stage = Stage::Applying(Box::new(phases));
    }
    fn plan_offline(&mut self) {
        let plan = provision::plan(&self.table, &[], &[], &self.journal, &self.options);
        self.run = Some(ProvisionApply::new(plan));
        self.stage = Stage::Applied;
    }
}

impl Phases for ProvisionJob {
    const KIND: &'static str = "provision";

    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next {
        match &mut self.stage {
            Stage::Start => {
                let unread = provision::plan(&self.table, &[], &[], &self.journal, &self.options);
                if !unread.file_errors.is_empty() || ctx.halted {
                    let mut unread = unread;
                    self.judge(&mut unread);
                    self.run = Some(ProvisionApply::new(unread));
                    self.stage = Stage::Planned;
                    return Next::Done;
                }
                self.stage = Stage::ReadingBrand;
                let mut steps = match self.lookups() {
                    Some(names) => names
                        .iter()
                        .map(|n| RunStep::Record(RecordStep::user_by_username(n)))
                        .collect(),
                    None => vec![RunStep::Listing(ListingStep::users(ctx.conn))],
                };
                self.defer_directory = self.defers_directory();
                if self.needs.directory && !self.defer_directory {
                    steps.push(RunStep::Listing(ListingStep::directory(ctx.conn)));
                }
                Next::Reading("brand", steps)
            }
            Stage::ReadingBrand => {
                let (lookups, finished): (Vec<_>, Vec<_>) = finished
                    .into_iter()
                    .partition(|(s, _)| matches!(s, RunStep::Record(_)));
                let finished = listings(finished);
                if let Some(failed) = failed_listing(&finished) {
                    self.stage = Stage::Applied;
                    return Next::Failed(failed);
                }
                for (step, _) in finished {
                    self.learn(&step);
                    match step.into_found() {
                        Found::Users(u) => self.users = u,
                        Found::Directory(p) => self.participants = p,
                        _ => {}
                    }
                }
                if !lookups.is_empty() {
                    if let Some(next) = self.take_lookups(lookups, ctx) {
                        return next;
                    }
                }
                if !self.needs.division_names {
                    return self.read_accounts_then_plan(ctx);
                }
                let steps = division_reads(&self.users, &Default::default());
                if steps.is_empty() {
                    return self.read_accounts_then_plan(ctx);
                }
                self.stage = Stage::ReadingDivisions;
                Next::Reading("divisions", steps)
            }
            Stage::ReadingDivisions => {
                // A division that cannot be read is left out: its name then plans as unknown.
                for (id, name) in division_names(finished) {
                    self.options.divisions.insert(name.to_lowercase(), id);
                }
                self.read_accounts_then_plan(ctx)
            }
            Stage::ReadingAccounts => {
                // An account whose record cannot be read keeps its fields "not listed": sent.
                for (step, _) in finished {
                    if let RunStep::Record(r) = step {
                        let id = r.id().to_string();
                        if let Some(Record::User(user)) = r.found {
                            self.records.insert(id, *user);
                        }
                    }
                }
                self.make_plan()
            }
            Stage::Planned | Stage::Applied => Next::Done,
            Stage::Applying(phases) => match phases.next(finished, ctx) {
                Some(next) => next,
                None => {
                    let Stage::Applying(phases) =
                        std::mem::replace(&mut self.stage, Stage::Applied)
                    else {
                        unreachable!("matched above")
                    };
                    self.run = Some(phases.run);
                    Next::Done
                }
            },
        }
    }
}
