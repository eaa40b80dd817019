//! The membership pull, its own job ([`PullJob`]): users, groups and the CX directory side by
//! side, then each group's members. "Pull membership" runs it alone; a desired-membership
//! sheet ([`super::MembershipJob`]) runs it as its reading stage.

use super::step::listings;
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
    #[must_use]
    pub fn new() -> Self {
        PullJob::default()
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
                let steps: Vec<RunStep> =
                    membership::member_steps(ctx.conn, &snapshot.group_list())
                        .into_iter()
                        .map(RunStep::Listing)
                        .collect();
                self.snapshot = Some(snapshot);
                self.stage = PullStage::Members;
                Next::Reading("members", steps)
            }
            PullStage::Members => {
                self.stage = PullStage::Done;
                let snapshot = self.snapshot.as_mut().expect("read in the first phase");
                match snapshot.add_members(listings(finished)) {
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
