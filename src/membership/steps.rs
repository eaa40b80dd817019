//! The steps that apply a desired-membership plan: each group addition or removal, then the
//! attribute changes through the provisioning apply ([`MembershipApply`]: the phases of a run).

use std::collections::HashMap;

use crate::api::connection::Connection;
use crate::api::envelope;
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::exec::{Outcome, OutcomeStatus, Step, StepUpdate};
use crate::provision::ProvisionApply;
use crate::time::UnixMillis;

use super::{add_member_request, remove_member_request, ChangeAction, ChangePlan};

/// Executor step: add a user to a group or remove them. A request that got no answer is sent
/// again; if the first one had in fact been applied, Qualtrics then answers "already a member"
/// (add) or 404 (remove), which ends the row as done.
#[derive(Debug, Clone)]
pub struct GroupMemberStep {
    pub(super) key: String,
    pub(super) group_id: String,
    pub(super) group_name: String,
    pub(super) user_id: String,
    pub(super) add: bool,
    pub(super) uncertain: bool,
}

impl Step for GroupMemberStep {
    fn key(&self) -> &str {
        &self.key
    }

    fn request(&self, conn: &Connection) -> HttpRequest {
        if self.add {
            add_member_request(conn, &self.group_id, &self.user_id)
        } else {
            remove_member_request(conn, &self.group_id, &self.user_id)
        }
    }

    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let verb = if self.add { "added to" } else { "removed from" };
        match envelope::parse(response) {
            Ok(_) => StepUpdate::Finished {
                status: OutcomeStatus::Done,
                message: format!("{verb} group {}", self.group_name),
            },
            Err(e) => {
                let settled = self.uncertain
                    && match &e {
                        ApiError::Rejected { status, .. } => {
                            self.add && matches!(status, 400 | 409)
                        }
                        ApiError::NotFound { .. } => !self.add,
                        _ => false,
                    };
                if settled {
                    StepUpdate::Finished {
                        status: OutcomeStatus::Done,
                        message: format!(
                            "{verb} group {} (the first answer was lost; Qualtrics then said it was already so)",
                            self.group_name
                        ),
                    }
                } else {
                    StepUpdate::Finished {
                        status: OutcomeStatus::Failed,
                        message: e.to_string(),
                    }
                }
            }
        }
    }

    fn fingerprint(&self) -> String {
        format!(
            "{} {} {}",
            if self.add { "add" } else { "remove" },
            self.group_id,
            self.user_id
        )
    }

    fn on_ambiguous_failure(&mut self, _why: &str) -> Option<StepUpdate> {
        self.uncertain = true;
        None
    }
}

/// A desired-membership plan being applied: group steps first, then the attribute changes
/// through the provisioning apply (directory import). The run ([`crate::run::MembershipJob`])
/// sends [`MembershipApply::group_steps`], calls [`MembershipApply::record_groups`], then
/// applies [`MembershipApply::attributes`] as any provisioning plan; hosts read
/// [`MembershipApply::outcomes`].
#[derive(Debug, Clone)]
pub struct MembershipApply {
    /// The plan.
    pub plan: ChangePlan,
    pub(super) group_outcomes: HashMap<String, Outcome>,
    /// The attribute changes, as a provisioning run.
    pub attributes: Option<ProvisionApply>,
}

impl MembershipApply {
    /// A run of `plan`.
    pub fn new(plan: ChangePlan) -> MembershipApply {
        let attributes = plan.attributes.clone().map(ProvisionApply::new);
        MembershipApply {
            plan,
            group_outcomes: HashMap::new(),
            attributes,
        }
    }

    /// The group additions and removals.
    #[must_use]
    pub fn group_steps(&self) -> Vec<GroupMemberStep> {
        self.plan
            .rows
            .iter()
            .filter(|r| {
                matches!(
                    r.action,
                    ChangeAction::AddToGroup | ChangeAction::RemoveFromGroup
                )
            })
            .map(|r| GroupMemberStep {
                key: r.key.clone(),
                group_id: r.group_id.clone(),
                group_name: r.target_name.clone(),
                user_id: r.user_id.clone(),
                add: r.action == ChangeAction::AddToGroup,
                uncertain: false,
            })
            .collect()
    }

    /// Takes the group phase's outcomes.
    pub fn record_groups(&mut self, outcomes: &[Outcome]) {
        for o in outcomes {
            self.group_outcomes.insert(o.key.clone(), o.clone());
        }
    }
}
