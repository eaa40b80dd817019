//! A desired-membership sheet ([`MembershipJob`]): pulled as "Pull membership" pulls (its
//! reading stage is a [`PullJob`]), planned against what it read and applied: group additions
//! and removals, then the attribute changes the role rules imply.

use super::provision::ApplyPhases;
use super::pull::PullJob;
use super::{InputFingerprint, Next, PhaseContext, Phases, RunStep, SheetJob};
use crate::exec::Outcome;
use crate::exec::RowOutcome;
use crate::membership::rules::{MatchOptions, RoleSheet};
use crate::membership::{self, ChangePlan, MembershipApply, Snapshot};
use crate::policy::{self, Approval, BlastRadius, Guard, PlanFacts, Touch};
use crate::sheet::problem::Problem;
use crate::sheet::table::Table;
use crate::time::Date;

/// A desired-membership sheet and what it is planned with.
#[derive(Debug)]
struct Desired {
    table: Table,
    roles: RoleSheet,
    matching: MatchOptions,
    today: Date,
}

#[derive(Debug)]
enum Stage {
    Start,
    Pulling,
    /// Reading the records of the groups the sheet changes whose listing did not say whether
    /// they are automatic.
    GroupRecords,
    Planned,
    ApplyStart,
    Groups,
    Attributes(Box<ApplyPhases>),
    Applied,
}

/// The phases of a desired-membership sheet: the pull, the plan, then its apply.
#[derive(Debug)]
pub struct MembershipJob {
    desired: Desired,
    input: InputFingerprint,
    stage: Stage,
    pull: PullJob,
    apply: Option<MembershipApply>,
    guard: Guard,
}

impl MembershipJob {
    /// A desired-membership sheet (`User | Group or role | Member`) planned with the Roles
    /// sheet's rules, `matching` and `today`.
    #[must_use]
    pub fn sheet(table: Table, roles: RoleSheet, matching: MatchOptions, today: Date) -> Self {
        MembershipJob {
            input: Self::fingerprint(&table, &roles, matching, today),
            desired: Desired {
                table,
                roles,
                matching,
                today,
            },
            stage: Stage::Start,
            pull: PullJob::for_sheet(),
            apply: None,
            guard: Guard::default(),
        }
    }

    /// The fingerprint of a sheet and its options, to compare with the plan's at apply.
    #[must_use]
    pub fn fingerprint(
        table: &Table,
        roles: &RoleSheet,
        matching: MatchOptions,
        today: Date,
    ) -> InputFingerprint {
        InputFingerprint::new(
            "membership",
            table,
            format!("{roles:?} {matching:?} {today:?}"),
        )
    }

    /// What the pull read (users, groups with members, directory), once finished.
    #[must_use]
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.pull.snapshot()
    }

    /// The plan of a desired-membership sheet, once planned.
    #[must_use]
    pub fn plan(&self) -> Option<&ChangePlan> {
        self.apply.as_ref().map(|a| &a.plan)
    }

    /// The sheet planned.
    #[must_use]
    pub fn table(&self) -> &Table {
        &self.desired.table
    }

    /// Every row's outcome.
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        self.apply
            .as_ref()
            .map(MembershipApply::outcomes)
            .unwrap_or_default()
    }

    /// After the pull: the records of the groups the sheet would change whose listing did not
    /// say whether they are automatic (one `GET /groups/{id}` each), else the plan.
    fn read_groups_or_plan(&mut self) -> Next {
        let d = &self.desired;
        if let Some(snapshot) = self.pull.snapshot() {
            let draft = membership::plan_changes(&d.table, &d.roles, snapshot, d.matching, d.today);
            let steps = membership::group_record_steps(
                snapshot,
                draft
                    .rows
                    .iter()
                    .filter(|r| {
                        matches!(
                            r.action,
                            membership::ChangeAction::AddToGroup
                                | membership::ChangeAction::RemoveFromGroup
                        )
                    })
                    .map(|r| r.group_id.as_str()),
            );
            if !steps.is_empty() {
                self.stage = Stage::GroupRecords;
                return Next::Reading("groups", steps.into_iter().map(RunStep::Record).collect());
            }
        }
        self.planned()
    }

    fn planned(&mut self) -> Next {
        let d = &self.desired;
        if let Some(snapshot) = self.pull.snapshot() {
            let plan = membership::plan_changes(&d.table, &d.roles, snapshot, d.matching, d.today);
            // Group and role changes take no account's access away nor change a user type:
            // the policy only names the privileged accounts they touch.
            let by_id: std::collections::HashMap<&str, &crate::api::users::UserSummary> =
                snapshot.users.iter().map(|u| (u.id.as_str(), u)).collect();
            let touches: Vec<Touch> = plan
                .rows
                .iter()
                .filter(|r| {
                    !matches!(
                        r.action,
                        membership::ChangeAction::Unchanged | membership::ChangeAction::Invalid
                    )
                })
                .map(|r| {
                    let user = by_id.get(r.user_id.as_str()).copied();
                    let change = format!("{} {}", r.action.label(), r.target_name);
                    Touch::of(r.row, user, Some(r.user.as_str()), change)
                })
                .collect();
            let problem_rows = plan
                .rows
                .iter()
                .filter(|r| r.action == membership::ChangeAction::Invalid)
                .count();
            let facts = PlanFacts {
                rows: plan.rows.len(),
                changes: plan.changes(),
                counts: plan.counts(),
                not_found: 0,
                problem_rows,
                active_accounts: Some(policy::active_accounts(&snapshot.users)),
            };
            let refused = self.guard.judge(&touches, facts);
            debug_assert!(refused.is_empty(), "membership rows are never refused");
            self.apply = Some(MembershipApply::new(plan));
        }
        self.stage = Stage::Planned;
        Next::Done
    }
}

impl SheetJob for MembershipJob {
    fn input(&self) -> &InputFingerprint {
        &self.input
    }
    fn planned(&self) -> bool {
        matches!(self.stage, Stage::Planned) && self.apply.is_some()
    }
    fn applied(&self) -> bool {
        !matches!(
            self.stage,
            Stage::Start | Stage::Pulling | Stage::GroupRecords | Stage::Planned
        )
    }
    fn begin_apply(&mut self, _approval: &Approval) {
        self.stage = Stage::ApplyStart;
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
        self.plan().map(ChangePlan::counts).unwrap_or_default()
    }
    fn plan_changes(&self) -> usize {
        self.plan().map_or(0, ChangePlan::changes)
    }
    fn row_problems(&self, _include_not_found: bool) -> Vec<Problem> {
        self.plan().map_or_else(Vec::new, |p| {
            p.rows
                .iter()
                .filter(|r| r.action == membership::ChangeAction::Invalid)
                .filter_map(|r| r.problem.clone())
                .collect()
        })
    }
    fn plan_sheet(&self) -> Table {
        self.plan()
            .map(membership::change_plan_table)
            .unwrap_or_default()
    }
    fn sheet(&self) -> Option<&Table> {
        Some(self.table())
    }
    fn outcome_columns(&self) -> Vec<String> {
        membership::OUTCOME_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn row_outcomes(&self) -> Vec<RowOutcome> {
        self.outcomes()
    }
    fn outcome_sheet(&self) -> Table {
        membership::outcome_table(self.table(), &self.outcomes())
    }
    fn blast_radius(&self) -> Option<&BlastRadius> {
        self.guard.blast()
    }
    fn plan_offline(&mut self) {
        let d = &self.desired;
        self.apply = Some(MembershipApply::new(membership::check_changes(
            &d.table, &d.roles,
        )));
        self.stage = Stage::Applied;
    }
}

impl Phases for MembershipJob {
    const KIND: &'static str = "membership";

    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next {
        match &mut self.stage {
            Stage::Start => {
                // The sheet's own problems (columns) need no brand.
                let d = &self.desired;
                let unread = membership::plan_changes(
                    &d.table,
                    &d.roles,
                    &Snapshot::default(),
                    d.matching,
                    d.today,
                );
                if !unread.file_errors.is_empty() || ctx.halted {
                    self.apply = Some(MembershipApply::new(unread));
                    self.stage = Stage::Planned;
                    return Next::Done;
                }
                self.stage = Stage::Pulling;
                self.next(finished, ctx)
            }
            Stage::Pulling => match self.pull.next(finished, ctx) {
                Next::Done => self.read_groups_or_plan(),
                Next::Failed(e) => {
                    self.stage = Stage::Applied;
                    Next::Failed(e)
                }
                reading => reading,
            },
            Stage::GroupRecords => {
                let read = super::step::records(finished);
                let merged = self
                    .pull
                    .snapshot_mut()
                    .expect("pulled before")
                    .add_group_records(read);
                match merged {
                    Ok(()) => self.planned(),
                    Err(e) => {
                        self.stage = Stage::Applied;
                        Next::Failed(e.to_string())
                    }
                }
            }
            Stage::Planned | Stage::Applied => Next::Done,
            Stage::ApplyStart => {
                self.stage = Stage::Groups;
                let apply = self.apply.as_ref().expect("applied only once planned");
                Next::Sending(
                    "groups",
                    apply
                        .group_steps()
                        .into_iter()
                        .map(RunStep::Group)
                        .collect(),
                )
            }
            Stage::Groups => {
                let apply = self.apply.as_mut().expect("applied only once planned");
                let outcomes: Vec<Outcome> = finished.into_iter().map(|(_, o)| o).collect();
                apply.record_groups(&outcomes);
                match apply.attributes.take() {
                    Some(prov) if !ctx.halted => {
                        let participants = self
                            .pull
                            .snapshot()
                            .map(|s| s.participants.clone())
                            .unwrap_or_default();
                        self.stage = Stage::Attributes(Box::new(ApplyPhases::new(
                            prov,
                            participants,
                            "roles",
                        )));
                        self.next(Vec::new(), ctx)
                    }
                    other => {
                        apply.attributes = other;
                        self.stage = Stage::Applied;
                        Next::Done
                    }
                }
            }
            Stage::Attributes(phases) => match phases.next(finished, ctx) {
                Some(next) => next,
                None => {
                    let Stage::Attributes(phases) =
                        std::mem::replace(&mut self.stage, Stage::Applied)
                    else {
                        unreachable!("matched above")
                    };
                    if let Some(apply) = self.apply.as_mut() {
                        apply.attributes = Some(phases.run);
                    }
                    Next::Done
                }
            },
        }
    }
}
