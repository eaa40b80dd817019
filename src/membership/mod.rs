//! Groups and roles for managers: pull who is in which group and role into sheets, and plan and
//! apply a desired-membership sheet.
//!
//! **Pull** ([`pull_steps`], then [`member_steps`]): one executor phase lists the users, the
//! groups and the CX directory (with metadata) side by side; a second lists each group's
//! members. That is the fewest requests the API allows: one per page of each listing, one per
//! page of each group's members, never one per user. Role membership has no read API; it is
//! computed from the Roles sheet's rules over the directory metadata (see [`crate::membership::rules`]).
//!
//! **Changes** ([`plan_changes`]): a sheet `User | Group or role | Member (yes/no)` is diffed
//! against a fresh pull. Groups change by `POST /groups/{id}/members` and
//! `DELETE /groups/{id}/members/{userId}`; roles change by the attribute changes their rules
//! imply, sent through the provisioning import path (directory import keyed by each user's
//! uniqueIdentifier, merged with the current metadata). Every row says why.
//!
//! The flow, a file each, as every kind has it: `checks` (the sheet's columns and each row's
//! cells, with no brand: what `validate` says), `plan` (the checked rows against a snapshot),
//! `steps` ([`MembershipApply`]: the group steps, then the attribute changes) and `outcomes`
//! (each row's result beside the sheet). The pull is its own: `pull` (the listings and the
//! [`Snapshot`] they fill) and `tables` (what a pull writes); `rules` reads the Roles sheet.
//! The plan's model types and the [`template`] live here.

pub mod rules;

mod checks;
mod outcomes;
mod plan;
mod pull;
mod steps;
mod tables;

pub use crate::api::groups::{add_member_request, remove_member_request, GroupSummary};
pub use crate::exec::reads::ListingStep;
pub use checks::{check_changes, DESIRED_COLUMNS};
pub(crate) use checks::{MEMBER_ALIASES, TARGET_ALIASES, USER_ALIASES};
pub use outcomes::{outcome_table, OUTCOME_COLUMNS};
pub use plan::{change_plan_table, plan_changes};
pub use pull::{
    group_record_steps, member_steps, pull_steps, GroupMembers, ReadingStopped, Snapshot,
};
pub use steps::{GroupMemberStep, MembershipApply};
pub use tables::{
    pull_tables, pulled, FilterNotUnderstood, MemberCount, PullRequest, PullRequestError,
    PullTables, Pulled, TeamFilter, UnknownFilterAttribute, KIND_GROUP, KIND_ROLE, LONG_COLUMNS,
};

use crate::sheet::problem::Problem;
use crate::sheet::table::Table;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::provision;

/// The desired-membership sheet's template: its header and two example rows.
#[must_use]
pub fn template() -> Table {
    Table::from_text(
        &DESIRED_COLUMNS,
        &[
            &["ada@example.org", "Front Desk", "yes"],
            &["ada@example.org", "EMEA Sales", "no"],
        ],
    )
}

/// What a desired-membership row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChangeAction {
    /// `POST /groups/{id}/members`.
    #[serde(rename = "add to group")]
    AddToGroup,
    /// `DELETE /groups/{id}/members/{userId}`.
    #[serde(rename = "remove from group")]
    RemoveFromGroup,
    /// Attribute changes that put the user in the role.
    #[serde(rename = "join role")]
    JoinRole,
    /// Attribute changes that take the user out of the role.
    #[serde(rename = "leave role")]
    LeaveRole,
    /// Already as wanted.
    #[serde(rename = "unchanged")]
    Unchanged,
    /// Not sent; the reason says why.
    #[serde(rename = "invalid")]
    Invalid,
}

impl ChangeAction {
    /// The word shown in the Plan sheet.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ChangeAction::AddToGroup => "add to group",
            ChangeAction::RemoveFromGroup => "remove from group",
            ChangeAction::JoinRole => "join role",
            ChangeAction::LeaveRole => "leave role",
            ChangeAction::Unchanged => "unchanged",
            ChangeAction::Invalid => "invalid",
        }
    }
}

/// One planned row of the desired-membership sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRow {
    /// `row:N`.
    pub key: String,
    /// Sheet row number.
    pub row: u32,
    /// The file line the row starts on, when not `row` (see [`crate::sheet::problem::RowAt`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The User cell.
    pub user: String,
    /// The Group or role cell.
    pub target: String,
    /// What the plan does.
    pub action: ChangeAction,
    /// Why, in words (for invalid rows: what to fix).
    pub reason: String,
    /// What is wrong with the row, for `Invalid` rows (its message is `reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The person the User cell names, as plans show them (issue 29.2: "First Last", with the
    /// e-mail when the username is not it; see `UserSummary::person`), when found.
    pub person: String,
    /// The user's id, when found.
    pub user_id: String,
    /// The group's id, for group changes.
    pub group_id: String,
    /// The group's or role's name as the brand or Roles sheet spells it.
    pub target_name: String,
}

/// A planned desired-membership sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePlan {
    /// One row per input row.
    pub rows: Vec<ChangeRow>,
    /// Problems with the sheet as a whole (no row can be planned).
    pub file_errors: Vec<Problem>,
    /// The attribute changes, as a provisioning plan (directory import route), if any.
    pub attributes: Option<provision::Plan>,
    /// Provisioning row number -> the desired-membership rows it serves.
    pub attribute_rows: BTreeMap<u32, Vec<u32>>,
}

impl ChangePlan {
    /// Rows that send something.
    #[must_use]
    pub fn changes(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| !matches!(r.action, ChangeAction::Unchanged | ChangeAction::Invalid))
            .count()
    }

    /// Rows per action, for the summary.
    #[must_use]
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.rows {
            *counts.entry(r.action.label()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
