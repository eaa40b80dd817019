//! The membership pull, its own job ([`PullJob`]): users, groups and the CX directory side by
//! side, then each group's members. "Pull membership" runs it alone; a desired-membership
//! sheet ([`super::MembershipJob`]) runs it as its reading stage.

use super::step::{listings, records};
use super::{Next, PhaseContext, Phases, RunStep};
use crate::exec::Outcome;
use crate::membership::rules::RoleSheet;
use crate::membership::{self, PullRequest, PullRequestError, Pulled, Snapshot};

/// Who is in which group: the pull alone, as "Pull membership" runs it, and the reading stage
/// of a desired-membership sheet.
#[derive(Debug, Default)]
pub struct PullJob {
    stage: PullStage,
    snapshot: Option<Snapshot>,
    /// Read each group's record when the listing does not say whether it is automatic.
    group_records: bool,
}

#[derive(Debug, Default)]
enum PullStage {
    #[default]
    Start,
    Reading,
    Members,
    Done,
}

impl PullJob {
    /// A pull of the whole brand (groups with their members, the directory for role rules).
    /// When the group listing does not say which groups are automatic (brand-wide or
    /// division-wide: Qualtrics decides their members), each group's record is read beside
    /// its members, so the result marks them.
    #[must_use]
    pub fn new() -> Self {
        PullJob {
            group_records: true,
            ..PullJob::default()
        }
    }

    /// The reading stage of a desired-membership sheet: no group's record is read here (the
    /// sheet reads only those of the groups it changes, see [`super::MembershipJob`]).
    #[must_use]
    pub(crate) fn for_sheet() -> Self {
        PullJob::default()
    }

    /// The snapshot, to complete with what a later read found (the records of the groups a
    /// sheet changes).
    pub(crate) fn snapshot_mut(&mut self) -> Option<&mut Snapshot> {
        self.snapshot
            .as_mut()
            .filter(|_| matches!(self.stage, PullStage::Done))
    }

    /// What the pull read (users, groups with members, directory), once finished.
    #[must_use]
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot
            .as_ref()
            .filter(|_| matches!(self.stage, PullStage::Done))
    }

    /// What "Pull membership" gives a host once the pull has finished (`None` before): the
    /// tables, roles computed from the Roles sheet's rules, limited as `request` asks.
    ///
    /// # Errors
    /// [`PullRequestError`] when the request's team filter is not understood.
    pub fn pulled(
        &self,
        roles: &RoleSheet,
        request: &PullRequest,
    ) -> Option<Result<Pulled, PullRequestError>> {
        self.snapshot()
            .map(|snapshot| membership::pulled(snapshot, roles, request))
    }
}

impl Phases for PullJob {
    const KIND: &'static str = "pull";

    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next {
        match self.stage {
            PullStage::Start => {
                self.stage = PullStage::Reading;
                Next::Reading(
                    "brand",
                    membership::pull_steps(ctx.conn)
                        .into_iter()
                        .map(RunStep::Listing)
                        .collect(),
                )
            }
            PullStage::Reading => {
                let snapshot = match Snapshot::from_first_phase(listings(finished)) {
                    Ok(s) => s,
                    Err(e) => {
                        self.stage = PullStage::Done;
                        return Next::Failed(e.to_string());
                    }
                };
                let mut steps: Vec<RunStep> =
                    membership::member_steps(ctx.conn, &snapshot.group_list())
                        .into_iter()
                        .map(RunStep::Listing)
                        .collect();
                if self.group_records {
                    let ids: Vec<String> =
                        snapshot.groups.iter().map(|g| g.group.id.clone()).collect();
                    steps.extend(
                        membership::group_record_steps(&snapshot, ids.iter().map(String::as_str))
                            .into_iter()
                            .map(RunStep::Record),
                    );
                }
                self.snapshot = Some(snapshot);
                self.stage = PullStage::Members;
                Next::Reading("members", steps)
            }
            PullStage::Members => {
                self.stage = PullStage::Done;
                let snapshot = self.snapshot.as_mut().expect("read in the first phase");
                let (read, members): (Vec<_>, Vec<_>) = finished
                    .into_iter()
                    .partition(|(s, _)| matches!(s, RunStep::Record(_)));
                match snapshot
                    .add_members(listings(members))
                    .and_then(|()| snapshot.add_group_records(records(read)))
                {
                    Ok(()) => Next::Done,
                    Err(e) => {
                        self.snapshot = None;
                        Next::Failed(e.to_string())
                    }
                }
            }
            PullStage::Done => Next::Done,
        }
    }
}
