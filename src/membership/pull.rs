//! Pulling membership: the two phases of listings (users, groups and the directory, then each
//! group's members) and the snapshot they fill.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::api::connection::Connection;
use crate::api::directory::Participant;
use crate::api::users::UserSummary;
use crate::exec::reads::Found;
use crate::exec::reads::ListingStep;
use crate::exec::reads::{Record, RecordStep};
use crate::exec::{Outcome, OutcomeStatus, Step};

use super::GroupSummary;

/// The first phase of a pull: the users, the groups and the CX directory, side by side.
#[must_use]
pub fn pull_steps(conn: &Connection) -> Vec<ListingStep> {
    vec![
        ListingStep::users(conn),
        ListingStep::groups(conn),
        ListingStep::directory(conn),
    ]
}

/// The second phase: each group's members (one step per group).
#[must_use]
pub fn member_steps(conn: &Connection, groups: &[GroupSummary]) -> Vec<ListingStep> {
    groups
        .iter()
        .map(|g| ListingStep::members(conn, &g.id))
        .collect()
}

/// One `GET /groups/{id}` per group of `ids` that the listing left unknown whether its
/// membership is automatic (the listing's elements may not say: unverified), each id once.
#[must_use]
pub fn group_record_steps<'a>(
    snapshot: &Snapshot,
    ids: impl IntoIterator<Item = &'a str>,
) -> Vec<RecordStep> {
    let mut seen = std::collections::BTreeSet::new();
    ids.into_iter()
        .filter(|id| {
            snapshot
                .groups
                .iter()
                .any(|g| g.group.id == *id && g.group.auto_membership.is_none())
        })
        .filter(|id| seen.insert(*id))
        .map(RecordStep::group)
        .collect()
}

/// A group with its members' user ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembers {
    /// The group.
    pub group: GroupSummary,
    /// Member user ids, in listing order.
    pub members: Vec<String>,
}

/// Everything a pull read: the brand's users, groups with members, directory participants, and
/// the pages each listing took.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Users, in listing order.
    pub users: Vec<UserSummary>,
    /// Groups, in listing order, with members.
    pub groups: Vec<GroupMembers>,
    /// CX directory participants with metadata.
    pub participants: Vec<Participant>,
    /// Requests per listing kind: users, groups, directory, members.
    pub pages: BTreeMap<String, usize>,
}

impl Snapshot {
    /// Takes the first phase's finished steps. A failed listing fails the pull with its message.
    pub fn from_first_phase(
        finished: Vec<(ListingStep, Outcome)>,
    ) -> Result<Snapshot, ReadingStopped> {
        check_outcomes(finished.iter().map(|(_, o)| o))?;
        let mut snapshot = Snapshot::default();
        for (step, _) in finished {
            let (key, pages) = (step.key().to_string(), step.pages());
            match step.into_found() {
                Found::Users(found) => snapshot.users = found,
                Found::Groups(found) => {
                    snapshot.groups = found
                        .into_iter()
                        .map(|group| GroupMembers {
                            group,
                            members: Vec::new(),
                        })
                        .collect()
                }
                Found::Directory(found) => snapshot.participants = found,
                Found::Members(..) => continue,
            }
            snapshot.pages.insert(key, pages);
        }
        Ok(snapshot)
    }

    /// The groups, for [`member_steps`].
    #[must_use]
    pub fn group_list(&self) -> Vec<GroupSummary> {
        self.groups.iter().map(|g| g.group.clone()).collect()
    }

    /// Takes the second phase's finished steps (members of each group).
    pub fn add_members(
        &mut self,
        finished: Vec<(ListingStep, Outcome)>,
    ) -> Result<(), ReadingStopped> {
        check_outcomes(finished.iter().map(|(_, o)| o))?;
        let mut pages = 0;
        for (step, _) in finished {
            pages += step.pages();
            if let Found::Members(id, found) = step.into_found() {
                if let Some(g) = self.groups.iter_mut().find(|g| g.group.id == id) {
                    g.members = found.into_iter().map(|u| u.id).collect();
                }
            }
        }
        self.pages.insert("members".into(), pages);
        Ok(())
    }

    /// Takes the finished reads of groups' records (`GET /groups/{id}`): each says whether
    /// its group's membership is automatic (a record that does not say leaves it unknown,
    /// which plans as a group whose members are added by hand).
    pub fn add_group_records(
        &mut self,
        finished: Vec<(RecordStep, Outcome)>,
    ) -> Result<(), ReadingStopped> {
        if let Some((step, o)) = finished
            .iter()
            .find(|(_, o)| o.status != OutcomeStatus::Done)
        {
            return Err(ReadingStopped {
                listing: format!("group {}'s record", step.id()),
                message: o.message.clone(),
            });
        }
        let read = finished.len();
        for (step, _) in finished {
            let id = step.id().to_string();
            if let Some(Record::Group(record)) = step.found {
                if let Some(g) = self.groups.iter_mut().find(|g| g.group.id == id) {
                    g.group.auto_membership = record.auto_membership;
                    if g.group.division_id.is_none() {
                        g.group.division_id = record.division_id;
                    }
                }
            }
        }
        if read > 0 {
            *self.pages.entry("group records".into()).or_default() += read;
        }
        Ok(())
    }

    /// Requests the pull made, one per page.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.pages.values().sum()
    }

    /// The participant of each user (by user id, else by username), by user index.
    pub(super) fn participant_of_users(&self) -> Vec<Option<usize>> {
        let by_id: HashMap<&str, usize> = self
            .participants
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.user_id.as_deref().map(|id| (id, i)))
            .collect();
        let by_name: HashMap<String, usize> = self
            .participants
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.username.as_ref().map(|n| (n.to_lowercase(), i)))
            .collect();
        self.users
            .iter()
            .map(|u| {
                by_id.get(u.id.as_str()).copied().or_else(|| {
                    u.username
                        .as_ref()
                        .and_then(|n| by_name.get(&n.to_lowercase()).copied())
                })
            })
            .collect()
    }
}

/// A listing of a pull that did not finish: the pull has no snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Reading {listing} stopped: {message}")]
pub struct ReadingStopped {
    /// The listing's key (`users`, `groups`, `group:{id}`, `directory`).
    pub listing: String,
    /// Why it stopped.
    pub message: String,
}

fn check_outcomes<'a>(
    mut outcomes: impl Iterator<Item = &'a Outcome>,
) -> Result<(), ReadingStopped> {
    match outcomes.find(|o| o.status != OutcomeStatus::Done) {
        Some(o) => Err(ReadingStopped {
            listing: o.key.clone(),
            message: o.message.clone(),
        }),
        None => Ok(()),
    }
}
