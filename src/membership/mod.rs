//! Groups and roles for managers: pull who is in which group and role into sheets, and plan and
//! apply a desired-membership sheet.
//!
//! **Pull** ([`pull_steps`], then [`member_steps`]): one executor phase lists the users, the
//! groups and the CX directory (with metadata) side by side; a second lists each group's
//! members. That is the fewest requests the API allows: one per page of each listing, one per
//! page of each group's members, never one per user. Role membership has no read API; it is
//! computed from the Roles sheet's rules over the directory metadata (see [`crate::rules`]).
//!
//! **Changes** ([`plan_changes`]): a sheet `User | Group or role | Member (yes/no)` is diffed
//! against a fresh pull. Groups change by `POST /groups/{id}/members` and
//! `DELETE /groups/{id}/members/{userId}`; roles change by the attribute changes their rules
//! imply, sent through the provisioning import path (directory import keyed by each user's
//! uniqueIdentifier, merged with the current metadata). Every row says why.

pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::columns::normalise_header;
use crate::connection::Connection;
use crate::directory::Participant;
use crate::envelope;
use crate::error::ApiError;
use crate::exec::{Outcome, OutcomeStatus, Step, StepUpdate};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::provision::{self, ProvisionApply, ProvisionOptions, Route};
use crate::reads::Found;
pub use crate::reads::ListingStep;
use crate::rules::{list_parts, MatchOptions, Metadata, RoleSheet};
use crate::table::{cells, Table};
use crate::time::{iso_datetime, Date, UnixMillis};
use crate::users::UserSummary;

/// One element of `GET /groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    /// `GR_…` id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Group type (`GT_…`).
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// Division, if the group belongs to one.
    #[serde(default)]
    pub division_id: Option<String>,
}

/// `POST /groups/{id}/members` with `{"userId": …}`.
#[must_use]
pub fn add_member_request(conn: &Connection, group_id: &str, user_id: &str) -> HttpRequest {
    let body = serde_json::json!({ "userId": user_id });
    conn.request(
        Method::Post,
        conn.url(&format!("groups/{group_id}/members")),
        Some(serde_json::to_vec(&body).expect("serialises")),
    )
}

/// `DELETE /groups/{id}/members/{userId}`.
#[must_use]
pub fn remove_member_request(conn: &Connection, group_id: &str, user_id: &str) -> HttpRequest {
    conn.request(
        Method::Delete,
        conn.url(&format!("groups/{group_id}/members/{user_id}")),
        None,
    )
}

// ---- Pull ----

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

    /// Requests the pull made, one per page.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.pages.values().sum()
    }

    /// The participant of each user (by user id, else by username), by user index.
    fn participant_of_users(&self) -> Vec<Option<usize>> {
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

/// A team filter naming an attribute no participant has (a misspelling, most often).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("No one in the directory has an attribute \"{attribute}\" (attributes found: {}): check its spelling, which must match exactly.", found.join(", "))]
pub struct UnknownFilterAttribute {
    /// The attribute the filter names.
    pub attribute: String,
    /// The attributes the directory has, in name order.
    pub found: Vec<String>,
}

/// A manager's filter: only users whose attribute has this value (the whole value, or one
/// part of a `::` list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamFilter {
    /// The attribute.
    pub attribute: String,
    /// The value.
    pub value: String,
}

/// A team filter that is not of the form `Attribute = Value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The filter \"{filter}\" is not of the form Attribute = Value: write for example Hotel = Seattle, or leave it blank for everyone.")]
pub struct FilterNotUnderstood {
    /// The filter as given (trimmed).
    pub filter: String,
}

impl TeamFilter {
    /// Parses `Hotel = Seattle`; blank means no filter.
    pub fn parse(text: &str) -> Result<Option<TeamFilter>, FilterNotUnderstood> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.split_once('=') {
            Some((a, v)) if !a.trim().is_empty() && !v.trim().is_empty() => Ok(Some(TeamFilter {
                attribute: a.trim().to_string(),
                value: v.trim().to_string(),
            })),
            _ => Err(FilterNotUnderstood {
                filter: text.to_string(),
            }),
        }
    }

    fn keeps(&self, metadata: &Metadata, options: MatchOptions) -> bool {
        metadata.get(&self.attribute).is_some_and(|v| {
            let same = |p: &str| {
                if options.case_sensitive {
                    p == self.value
                } else {
                    p.to_lowercase() == self.value.to_lowercase()
                }
            };
            same(v.trim()) || list_parts(v).any(same)
        })
    }
}

/// Members of one group or role, for the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberCount {
    /// The group or role.
    pub name: String,
    /// "group" or "role".
    pub kind: String,
    /// Members among the users shown.
    pub members: usize,
    /// For a role without a rule: its membership cannot be read.
    pub unreadable: bool,
}

/// What "Pull membership" writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullTables {
    /// One row per (user, group or role).
    pub long: Table,
    /// Users x groups and roles, `x` where a member.
    pub matrix: Table,
    /// Members per group and role.
    pub counts: Vec<MemberCount>,
    /// Users shown (after the filter).
    pub users: usize,
    /// Requests the pull made.
    pub requests: usize,
    /// Notes for the user (roles without rules, rule problems).
    pub notes: Vec<String>,
}

/// The long table's columns.
pub const LONG_COLUMNS: [&str; 7] = [
    "User",
    "Username",
    "Email",
    "Group or role",
    "Kind",
    "Account status",
    "User ID",
];

/// Kind cell of a group row.
pub const KIND_GROUP: &str = "group";
/// Kind cell of a role row.
pub const KIND_ROLE: &str = "role by rule";

fn full_name(u: &UserSummary) -> String {
    let name = format!(
        "{} {}",
        u.first_name.as_deref().unwrap_or(""),
        u.last_name.as_deref().unwrap_or("")
    );
    name.trim().to_string()
}

/// The long table, the matrix and the counts for a snapshot, roles computed from `roles`,
/// users limited by `filter` (matched on directory metadata; users with no directory entry are
/// left out when filtering).
pub fn pull_tables(
    snapshot: &Snapshot,
    roles: &RoleSheet,
    filter: Option<&TeamFilter>,
    options: MatchOptions,
) -> Result<PullTables, UnknownFilterAttribute> {
    let participant_of = snapshot.participant_of_users();
    let empty = Metadata::new();
    let metadata = |i: usize| {
        participant_of[i]
            .map(|p| &snapshot.participants[p].metadata)
            .unwrap_or(&empty)
    };
    if let Some(f) = filter {
        let known = snapshot
            .participants
            .iter()
            .any(|p| p.metadata.contains_key(&f.attribute));
        if !known {
            let names: BTreeSet<&str> = snapshot
                .participants
                .iter()
                .flat_map(|p| p.metadata.keys().map(String::as_str))
                .collect();
            return Err(UnknownFilterAttribute {
                attribute: f.attribute.clone(),
                found: names.into_iter().map(str::to_string).collect(),
            });
        }
    }
    let shown: Vec<usize> = (0..snapshot.users.len())
        .filter(|&i| filter.is_none_or(|f| f.keeps(metadata(i), options)))
        .collect();
    let member_sets: Vec<HashSet<&str>> = snapshot
        .groups
        .iter()
        .map(|g| g.members.iter().map(String::as_str).collect())
        .collect();
    let role_of: Vec<Vec<usize>> = shown
        .iter()
        .map(|&i| roles.roles_of(metadata(i), options))
        .collect();

    let mut long = Vec::new();
    let mut matrix = Vec::new();
    let mut counts: Vec<MemberCount> = snapshot
        .groups
        .iter()
        .map(|g| MemberCount {
            name: g.group.name.clone(),
            kind: "group".into(),
            members: 0,
            unreadable: false,
        })
        .chain(roles.roles.iter().map(|r| MemberCount {
            name: r.name.clone(),
            kind: "role".into(),
            members: 0,
            unreadable: r.rules.is_empty(),
        }))
        .collect();
    let groups = snapshot.groups.len();
    for (n, &i) in shown.iter().enumerate() {
        let u = &snapshot.users[i];
        let base = |target: &str, kind: &str| {
            vec![
                full_name(u),
                u.username.clone().unwrap_or_default(),
                u.email.clone().unwrap_or_default(),
                target.to_string(),
                kind.to_string(),
                u.account_status.clone().unwrap_or_default(),
                u.id.clone(),
            ]
        };
        let mut marks = vec![String::new(); groups + roles.roles.len()];
        for (g, group) in snapshot.groups.iter().enumerate() {
            if member_sets[g].contains(u.id.as_str()) {
                long.push(base(&group.group.name, KIND_GROUP));
                marks[g] = "x".into();
                counts[g].members += 1;
            }
        }
        for &r in &role_of[n] {
            long.push(base(&roles.roles[r].name, KIND_ROLE));
            marks[groups + r] = "x".into();
            counts[groups + r].members += 1;
        }
        let mut row = vec![
            full_name(u),
            u.username.clone().unwrap_or_default(),
            u.id.clone(),
        ];
        row.extend(marks);
        matrix.push(row);
    }
    let group_names: HashSet<String> = snapshot
        .groups
        .iter()
        .map(|g| g.group.name.to_lowercase())
        .collect();
    let mut matrix_columns = vec!["User".to_string(), "Username".into(), "User ID".into()];
    matrix_columns.extend(snapshot.groups.iter().map(|g| g.group.name.clone()));
    matrix_columns.extend(roles.roles.iter().map(|r| {
        if group_names.contains(&r.name.to_lowercase()) {
            format!("{} (role)", r.name)
        } else {
            r.name.clone()
        }
    }));
    let mut notes: Vec<String> = roles
        .roles
        .iter()
        .filter(|r| r.rules.is_empty())
        .map(|r| format!("Role {} has no automatic rule: who is in it cannot be read through the API (it is assigned by hand in CX Dashboards).", r.name))
        .collect();
    notes.extend(roles.problems.iter().map(|p| p.message.clone()));
    Ok(PullTables {
        long: Table {
            columns: LONG_COLUMNS.iter().map(|s| s.to_string()).collect(),
            rows: long.into_iter().map(cells).collect(),
            row_numbers: Vec::new(),
        },
        matrix: Table {
            columns: matrix_columns,
            rows: matrix.into_iter().map(cells).collect(),
            row_numbers: Vec::new(),
        },
        counts,
        users: shown.len(),
        requests: snapshot.requests(),
        notes,
    })
}

// ---- Changes ----

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
    /// The User cell.
    pub user: String,
    /// The Group or role cell.
    pub target: String,
    /// What the plan does.
    pub action: ChangeAction,
    /// Why, in words (for invalid rows: what to fix).
    pub reason: String,
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
    pub file_errors: Vec<String>,
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

/// The desired-membership sheet's columns, in order.
pub const DESIRED_COLUMNS: [&str; 3] = ["User", "Group or role", "Member"];

fn parse_member(cell: &str) -> Option<bool> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "x" | "member" | "add" => Some(true),
        "no" | "n" | "false" | "0" | "remove" | "not member" => Some(false),
        _ => None,
    }
}

enum Target<'a> {
    Group(usize),
    Role(&'a crate::rules::RoleDef),
}

/// Plans a desired-membership sheet against a snapshot and the Roles sheet. `today` is only
/// used by the provisioning plan of the attribute changes.
pub fn plan_changes(
    desired: &Table,
    roles: &RoleSheet,
    snapshot: &Snapshot,
    options: MatchOptions,
    today: Date,
) -> ChangePlan {
    let mut plan = ChangePlan {
        rows: Vec::new(),
        file_errors: Vec::new(),
        attributes: None,
        attribute_rows: BTreeMap::new(),
    };
    let find = |names: &[&str]| {
        desired
            .columns
            .iter()
            .position(|c| names.contains(&normalise_header(c).as_str()))
    };
    let user_col = find(&["user", "username", "userid", "email", "login"]);
    let target_col = find(&["grouporrole", "group", "role", "grouprole", "name"]);
    let member_col = find(&["member", "memberyesno", "ismember", "membership", "wanted"]);
    let (Some(user_col), Some(target_col), Some(member_col)) = (user_col, target_col, member_col)
    else {
        plan.file_errors.push(format!(
            "The desired-membership sheet needs the columns {} (found: {}).",
            DESIRED_COLUMNS.join(", "),
            desired.columns.join(", ")
        ));
        return plan;
    };
    if let Some(p) = roles.problems.iter().find(|p| p.row == 0) {
        plan.file_errors.push(p.message.clone());
        return plan;
    }
    let column = |i: usize| desired.columns[i].as_str();

    // Lookups.
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, u) in snapshot.users.iter().enumerate() {
        by_key.entry(u.id.to_lowercase()).or_default().push(i);
        if let Some(n) = &u.username {
            by_key.entry(n.to_lowercase()).or_default().push(i);
        }
        if let Some(e) = &u.email {
            if u.username
                .as_ref()
                .is_none_or(|n| !n.eq_ignore_ascii_case(e))
            {
                by_key.entry(e.to_lowercase()).or_default().push(i);
            }
        }
    }
    let participant_of = snapshot.participant_of_users();
    let groups_by_name: HashMap<String, usize> = snapshot
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.group.name.to_lowercase(), i))
        .collect();
    let member_sets: Vec<HashSet<&str>> = snapshot
        .groups
        .iter()
        .map(|g| g.members.iter().map(String::as_str).collect())
        .collect();

    let mut seen: HashMap<(usize, String), u32> = HashMap::new();
    // Per user: working metadata and the role rows asking for changes.
    struct RoleWork {
        before: Metadata,
        after: Metadata,
        rows: Vec<(usize, usize, bool)>, // (plan row index, role index, wanted)
    }
    let mut work: BTreeMap<usize, RoleWork> = BTreeMap::new();
    // Role rows already as wanted, per user: another row's attribute change must not undo them.
    let mut kept: HashMap<usize, Vec<(usize, usize, bool)>> = HashMap::new();

    for i in 0..desired.rows.len() {
        let row = desired.row_number(i);
        let cell = |c: usize| desired.cell(i, c).trim();
        let (user_cell, target_cell, member_cell) =
            (cell(user_col), cell(target_col), cell(member_col));
        if user_cell.is_empty() && target_cell.is_empty() && member_cell.is_empty() {
            continue;
        }
        let mut planned = ChangeRow {
            key: format!("row:{row}"),
            row,
            user: user_cell.to_string(),
            target: target_cell.to_string(),
            action: ChangeAction::Invalid,
            reason: String::new(),
            user_id: String::new(),
            group_id: String::new(),
            target_name: String::new(),
        };
        let invalid = |mut r: ChangeRow, col: usize, message: String| {
            r.reason = format!("Row {row}, {}: {message}", column(col));
            r
        };
        let user = match by_key.get(&user_cell.to_lowercase()).map(Vec::as_slice) {
            _ if user_cell.is_empty() => {
                plan.rows.push(invalid(
                    planned,
                    user_col,
                    "empty: give the user's username, e-mail or user id (UR_…).".into(),
                ));
                continue;
            }
            None | Some([]) => {
                plan.rows.push(invalid(planned, user_col, format!("\"{user_cell}\" is not a user of this brand: check the spelling, or create the account first.")));
                continue;
            }
            Some([one]) => *one,
            Some(_) => {
                plan.rows.push(invalid(planned, user_col, format!("\"{user_cell}\" matches several users (a shared e-mail address): use the username or user id.")));
                continue;
            }
        };
        let u = &snapshot.users[user];
        planned.user_id = u.id.clone();
        let wanted = match parse_member(member_cell) {
            Some(w) => w,
            None => {
                plan.rows.push(invalid(planned, member_col, format!("\"{member_cell}\" is neither yes nor no: write yes to be a member, no to not be one.")));
                continue;
            }
        };
        let lower = target_cell.to_lowercase();
        let (explicit, name) = if let Some(n) = lower.strip_prefix("group:") {
            (Some(true), n.trim().to_string())
        } else if let Some(n) = lower.strip_prefix("role:") {
            (Some(false), n.trim().to_string())
        } else {
            (None, lower.clone())
        };
        let group = groups_by_name.get(&name).copied();
        let role = roles.role(&name);
        let target = match (explicit, group, role) {
            _ if target_cell.is_empty() => {
                plan.rows.push(invalid(
                    planned,
                    target_col,
                    "empty: name a group or a role.".into(),
                ));
                continue;
            }
            (Some(true), Some(g), _) | (None, Some(g), None) => Target::Group(g),
            (Some(false), _, Some(r)) | (None, None, Some(r)) => Target::Role(r),
            (None, Some(_), Some(_)) => {
                plan.rows.push(invalid(planned, target_col, format!("\"{target_cell}\" is both a group and a role: write \"group: {target_cell}\" or \"role: {target_cell}\".")));
                continue;
            }
            _ => {
                let mut known: Vec<&str> = snapshot
                    .groups
                    .iter()
                    .map(|g| g.group.name.as_str())
                    .collect();
                known.extend(roles.roles.iter().map(|r| r.name.as_str()));
                let shown: Vec<&str> = known.iter().take(20).copied().collect();
                plan.rows.push(invalid(planned, target_col, format!(
                    "\"{target_cell}\" is not a group of this brand nor a role of the Roles sheet (known: {}{}).",
                    shown.join(", "),
                    if known.len() > 20 { ", …" } else { "" }
                )));
                continue;
            }
        };
        let target_key = match &target {
            Target::Group(g) => format!("group:{g}"),
            Target::Role(r) => format!("role:{}", r.name.to_lowercase()),
        };
        if let Some(first) = seen.insert((user, target_key.clone()), row) {
            seen.insert((user, target_key), first);
            plan.rows.push(invalid(
                planned,
                target_col,
                format!("this user and {target_cell} are already on row {first}: keep one row."),
            ));
            continue;
        }
        match target {
            Target::Group(g) => {
                let group = &snapshot.groups[g].group;
                planned.group_id = group.id.clone();
                planned.target_name = group.name.clone();
                let is = member_sets[g].contains(u.id.as_str());
                (planned.action, planned.reason) = match (wanted, is) {
                    (true, true) => (
                        ChangeAction::Unchanged,
                        format!("already in group {}", group.name),
                    ),
                    (false, false) => (
                        ChangeAction::Unchanged,
                        format!("not in group {}", group.name),
                    ),
                    (true, false) => (
                        ChangeAction::AddToGroup,
                        format!("group {}: add member", group.name),
                    ),
                    (false, true) => (
                        ChangeAction::RemoveFromGroup,
                        format!("group {}: remove member", group.name),
                    ),
                };
                plan.rows.push(planned);
            }
            Target::Role(role) => {
                let r = roles
                    .roles
                    .iter()
                    .position(|x| std::ptr::eq(x, role))
                    .expect("from the sheet");
                let Some(p) = participant_of[user] else {
                    plan.rows.push(invalid(planned, user_col, format!("{user_cell} has no CX directory entry, so no rule can place them in role {}: provision their attributes first.", role.name)));
                    continue;
                };
                planned.target_name = role.name.clone();
                let current = &snapshot.participants[p].metadata;
                let is = role.matches(current, options);
                if role.rules.is_empty() {
                    // Membership cannot be read: only "nothing to do" is impossible to know.
                    plan.rows
                        .push(invalid(planned, target_col, role.no_rule().to_string()));
                    continue;
                }
                if is == wanted {
                    kept.entry(user)
                        .or_default()
                        .push((plan.rows.len(), r, wanted));
                    planned.action = ChangeAction::Unchanged;
                    planned.reason = format!(
                        "{} role {} by its rule",
                        if is { "already in" } else { "not in" },
                        role.name
                    );
                    plan.rows.push(planned);
                    continue;
                }
                let entry = work.entry(user).or_insert_with(|| RoleWork {
                    before: current.clone(),
                    after: current.clone(),
                    rows: Vec::new(),
                });
                let result = if wanted {
                    role.join(&mut entry.after, options)
                } else {
                    role.leave(&mut entry.after, options)
                };
                match result {
                    Ok(why) => {
                        planned.action = if wanted {
                            ChangeAction::JoinRole
                        } else {
                            ChangeAction::LeaveRole
                        };
                        planned.reason = why;
                        entry.rows.push((plan.rows.len(), r, wanted));
                        plan.rows.push(planned);
                    }
                    Err(m) => plan.rows.push(invalid(planned, target_col, m.to_string())),
                }
            }
        }
    }

    // Check each user's combined attribute changes reach every wanted role state, and say what
    // else they change.
    let refuse = |row: &mut ChangeRow, why: String| {
        row.action = ChangeAction::Invalid;
        row.reason = format!("Row {}, {}: {why}", row.row, column(target_col));
    };
    let mut attribute_rows: Vec<(usize, Metadata, Metadata, Vec<usize>)> = Vec::new();
    for (user, w) in work {
        let after_roles: BTreeSet<usize> = roles.roles_of(&w.after, options).into_iter().collect();
        let before_roles: BTreeSet<usize> =
            roles.roles_of(&w.before, options).into_iter().collect();
        let asked: BTreeSet<usize> = w.rows.iter().map(|(_, r, _)| *r).collect();
        let mut ok_rows = Vec::new();
        let mut conflict = false;
        for &(index, r, wanted) in kept.get(&user).into_iter().flatten() {
            if after_roles.contains(&r) != wanted {
                conflict = true;
                let changes: Vec<String> = w
                    .rows
                    .iter()
                    .map(|(i, _, _)| format!("row {}", plan.rows[*i].row))
                    .collect();
                refuse(&mut plan.rows[index], format!(
                    "holds today, but the attribute changes of {} would undo it, so they are not sent: change one of the rows.",
                    changes.join(", ")
                ));
            }
        }
        for &(index, r, wanted) in &w.rows {
            if conflict {
                refuse(&mut plan.rows[index], "not sent: this user's attribute changes would undo a role another row wants kept (see that row).".into());
                continue;
            }
            if after_roles.contains(&r) != wanted {
                let others: Vec<String> = w
                    .rows
                    .iter()
                    .filter(|(i, _, _)| *i != index)
                    .map(|(i, _, _)| format!("row {}", plan.rows[*i].row))
                    .collect();
                refuse(&mut plan.rows[index], format!(
                    "the attribute changes for this user's other rows ({}) undo this one, so no single set of attributes gives both: change one of the rows.",
                    others.join(", ")
                ));
                continue;
            }
            ok_rows.push(index);
        }
        // A conflict invalidates the user's attribute change as a whole: nothing half-done.
        if ok_rows.len() != w.rows.len() {
            for index in ok_rows {
                refuse(
                    &mut plan.rows[index],
                    "not sent, because another row for this user conflicts with it (see that row)."
                        .into(),
                );
            }
            continue;
        }
        let side: Vec<String> = after_roles
            .symmetric_difference(&before_roles)
            .filter(|r| !asked.contains(r))
            .map(|&r| {
                format!(
                    "also {} role {}",
                    if after_roles.contains(&r) {
                        "joins"
                    } else {
                        "leaves"
                    },
                    roles.roles[r].name
                )
            })
            .collect();
        if !side.is_empty() {
            for &index in &ok_rows {
                let row = &mut plan.rows[index];
                row.reason = format!("{} ({})", row.reason, side.join(", "));
            }
        }
        attribute_rows.push((user, w.before, w.after, ok_rows));
    }
    if !attribute_rows.is_empty() {
        let mut attributes: BTreeSet<String> = BTreeSet::new();
        for (_, before, after, _) in &attribute_rows {
            for k in before.keys().chain(after.keys()) {
                if before.get(k) != after.get(k) {
                    attributes.insert(k.clone());
                }
            }
        }
        let attributes: Vec<String> = attributes.into_iter().collect();
        let mut columns = vec!["Unique identifier".to_string()];
        columns.extend(attributes.iter().cloned());
        let mut rows = Vec::new();
        for (n, (user, before, after, plan_rows)) in attribute_rows.iter().enumerate() {
            let p = participant_of[*user].expect("checked above");
            let mut cells = vec![snapshot.participants[p].unique_identifier.clone()];
            for a in &attributes {
                cells.push(match (before.get(a), after.get(a)) {
                    (b, a2) if b == a2 => String::new(),
                    (_, Some(v)) => v.clone(),
                    (_, None) => provision::CLEAR_MARKER.to_string(),
                });
            }
            rows.push(cells);
            plan.attribute_rows.insert(
                n as u32 + 2,
                plan_rows.iter().map(|&i| plan.rows[i].row).collect(),
            );
        }
        let table = Table {
            columns,
            rows: rows.into_iter().map(cells).collect(),
            row_numbers: Vec::new(),
        };
        plan.attributes = Some(provision::plan(
            &table,
            &snapshot.users,
            &snapshot.participants,
            &[],
            &ProvisionOptions {
                route: Route::DirectoryImport,
                today,
                user_types: BTreeMap::new(),
                divisions: BTreeMap::new(),
                job_size: 100,
            },
        ));
    }
    plan
}

/// The Plan sheet of a desired-membership sheet.
pub fn change_plan_table(plan: &ChangePlan) -> Table {
    Table {
        columns: ["Row", "User", "Group or role", "Action", "Reason"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: plan
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.row.to_string(),
                    r.user.clone(),
                    r.target.clone(),
                    r.action.label().to_string(),
                    r.reason.clone(),
                ]
            })
            .map(cells)
            .collect(),
        row_numbers: plan.rows.iter().map(|r| r.row).collect(),
    }
}

// ---- Apply ----

/// Executor step: add a user to a group or remove them. A request that got no answer is sent
/// again; if the first one had in fact been applied, Qualtrics then answers "already a member"
/// (add) or 404 (remove), which ends the row as done.
#[derive(Debug, Clone)]
pub struct GroupMemberStep {
    key: String,
    group_id: String,
    group_name: String,
    user_id: String,
    add: bool,
    uncertain: bool,
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

/// One desired-membership row's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeOutcome {
    /// Sheet row number.
    pub row: u32,
    /// done / unchanged / failed / skipped.
    pub status: OutcomeStatus,
    /// What happened.
    pub message: String,
    /// When (ISO 8601), for done rows.
    pub applied_at: String,
}

impl ChangeOutcome {
    /// The outcome cells, in the order of [`OUTCOME_COLUMNS`].
    #[must_use]
    pub fn values(&self) -> Vec<String> {
        vec![
            self.status.as_str().to_string(),
            self.message.clone(),
            self.applied_at.clone(),
        ]
    }
}

/// The outcome columns written beside a desired-membership sheet.
pub const OUTCOME_COLUMNS: [&str; 3] = ["Status", "Message", "Applied at"];

/// A desired-membership plan being applied: group steps first, then the attribute changes
/// through the provisioning apply (directory import). The run ([`crate::run::MembershipJob`])
/// sends [`MembershipApply::group_steps`], calls [`MembershipApply::record_groups`], then
/// applies [`MembershipApply::attributes`] as any provisioning plan; hosts read
/// [`MembershipApply::outcomes`].
#[derive(Debug, Clone)]
pub struct MembershipApply {
    /// The plan.
    pub plan: ChangePlan,
    group_outcomes: HashMap<String, Outcome>,
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

    /// Every input row's outcome.
    #[must_use]
    pub fn outcomes(&self) -> Vec<ChangeOutcome> {
        let attribute_outcomes: HashMap<u32, provision::RowOutcome> = self
            .attributes
            .as_ref()
            .map(|run| {
                run.outcomes()
                    .into_iter()
                    .flat_map(|o| {
                        self.plan
                            .attribute_rows
                            .get(&o.row)
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                            .map(move |r| (r, o.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let at = |t: Option<UnixMillis>| t.map(iso_datetime).unwrap_or_default();
        self.plan
            .rows
            .iter()
            .map(|r| {
                let (status, message, applied_at) = match r.action {
                    ChangeAction::Invalid => (
                        OutcomeStatus::Failed,
                        format!("not sent: {}", r.reason),
                        String::new(),
                    ),
                    ChangeAction::Unchanged => {
                        (OutcomeStatus::Unchanged, r.reason.clone(), String::new())
                    }
                    ChangeAction::AddToGroup | ChangeAction::RemoveFromGroup => {
                        match self.group_outcomes.get(&r.key) {
                            Some(o) => (
                                o.status,
                                o.message.clone(),
                                if o.status == OutcomeStatus::Done {
                                    at(o.finished_at)
                                } else {
                                    String::new()
                                },
                            ),
                            None => (
                                OutcomeStatus::Skipped,
                                "not sent (the run stopped first)".into(),
                                String::new(),
                            ),
                        }
                    }
                    ChangeAction::JoinRole | ChangeAction::LeaveRole => {
                        match attribute_outcomes.get(&r.row) {
                            Some(o) if o.status == OutcomeStatus::Done => {
                                (OutcomeStatus::Done, r.reason.clone(), o.applied_at.clone())
                            }
                            Some(o) => (o.status, o.message.clone(), String::new()),
                            None => (
                                OutcomeStatus::Skipped,
                                "not sent (the run stopped first)".into(),
                                String::new(),
                            ),
                        }
                    }
                };
                ChangeOutcome {
                    row: r.row,
                    status,
                    message,
                    applied_at,
                }
            })
            .collect()
    }
}

/// The desired-membership sheet with the outcome columns beside it.
#[must_use]
pub fn outcome_table(input: &Table, outcomes: &[ChangeOutcome]) -> Table {
    let values: HashMap<u32, Vec<String>> = outcomes.iter().map(|o| (o.row, o.values())).collect();
    let names: Vec<String> = OUTCOME_COLUMNS.iter().map(|s| s.to_string()).collect();
    input.with_columns_beside(&names, &values)
}

/// A desired-membership sheet with the header and example rows, as a template.
#[must_use]
pub fn desired_template() -> Table {
    Table::from_text(
        &DESIRED_COLUMNS,
        &[
            &["ada@example.org", "Front Desk", "yes"],
            &["ada@example.org", "EMEA Sales", "no"],
        ],
    )
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
