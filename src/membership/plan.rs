//! The plan of a desired-membership sheet: each row against a fresh pull and the Roles sheet,
//! with the attribute changes roles imply as a provisioning plan; the Plan sheet and the template.

use crate::sheet::problem::{Problem, RowAt, Severity};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::membership::rules::{MatchOptions, Metadata, RoleSheet};
use crate::provision::{self, ProvisionOptions, Route};
use crate::sheet::columns::normalise_header;
use crate::sheet::table::{cells, Table};
use crate::time::Date;

use super::pull::Snapshot;
use super::{ChangeAction, ChangePlan, ChangeRow};

/// The desired-membership sheet's columns, in order.
pub const DESIRED_COLUMNS: [&str; 3] = ["User", "Group or role", "Member"];

/// Headers read as the User column (normalised: see [`crate::sheet::columns`]).
pub(crate) const USER_ALIASES: &[&str] = &["user", "username", "userid", "email", "login"];
/// Headers read as the Group or role column.
pub(crate) const TARGET_ALIASES: &[&str] = &["grouporrole", "group", "role", "grouprole", "name"];
/// Headers read as the Member column.
pub(crate) const MEMBER_ALIASES: &[&str] =
    &["member", "memberyesno", "ismember", "membership", "wanted"];

fn parse_member(cell: &str) -> Option<bool> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "x" | "member" | "add" => Some(true),
        "no" | "n" | "false" | "0" | "remove" | "not member" => Some(false),
        _ => None,
    }
}

enum Target<'a> {
    Group(usize),
    Role(&'a crate::membership::rules::RoleDef),
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
    plan_rows(desired, roles, snapshot, options, today, false)
}

/// What `validate` checks of a desired-membership sheet, with no brand: the columns, an empty
/// User or Group or role cell, a Member cell that is neither yes nor no; the rows that pass
/// plan as unchanged (only the brand can say more). The same messages as [`plan_changes`].
#[must_use]
pub fn check_changes(desired: &Table, roles: &RoleSheet, today: Date) -> ChangePlan {
    let matching = MatchOptions {
        case_sensitive: false,
    };
    plan_rows(desired, roles, &Snapshot::default(), matching, today, true)
}

const EMPTY_USER: &str = "empty: give the user's username, e-mail or user id (UR_…).";
const EMPTY_TARGET: &str = "empty: name a group or a role.";

fn not_yes_or_no(member_cell: &str) -> String {
    format!("\"{member_cell}\" is neither yes nor no: write yes to be a member, no to not be one.")
}

fn plan_rows(
    desired: &Table,
    roles: &RoleSheet,
    snapshot: &Snapshot,
    options: MatchOptions,
    today: Date,
    offline: bool,
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
    let user_col = find(USER_ALIASES);
    let target_col = find(TARGET_ALIASES);
    let member_col = find(MEMBER_ALIASES);
    let (Some(user_col), Some(target_col), Some(member_col)) = (user_col, target_col, member_col)
    else {
        plan.file_errors.push(Problem::sheet(
            "",
            Severity::Error,
            format!(
                "The desired-membership sheet needs the columns {} (found: {}).",
                DESIRED_COLUMNS.join(", "),
                desired.columns.join(", ")
            ),
        ));
        return plan;
    };
    // Two columns of one name (two Member columns, say): which one was meant cannot be told.
    for c in [user_col, target_col, member_col] {
        let name = normalise_header(&desired.columns[c]);
        if let Some(other) = desired
            .columns
            .iter()
            .enumerate()
            .find(|(j, o)| *j != c && normalise_header(o) == name)
            .map(|(_, o)| o)
        {
            plan.file_errors.push(Problem::sheet(
                other,
                Severity::Error,
                format!("Two columns are named \"{other}\": keep one of them (nothing is planned until then)."),
            ));
            return plan;
        }
    }
    if let Some(p) = roles.problems.iter().find(|p| p.row == 0) {
        plan.file_errors
            .push(Problem::sheet("", Severity::Error, p.message.clone()));
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
        let at = desired.at(i);
        let mut planned = ChangeRow {
            key: format!("row:{row}"),
            row,
            line: at.line,
            user: user_cell.to_string(),
            target: target_cell.to_string(),
            action: ChangeAction::Invalid,
            reason: String::new(),
            problem: None,
            user_id: String::new(),
            group_id: String::new(),
            target_name: String::new(),
        };
        let invalid = |mut r: ChangeRow, col: usize, message: String| {
            let problem = Problem::in_row(at, column(col), Severity::Error, &message);
            r.reason.clone_from(&problem.message);
            r.problem = Some(problem);
            r
        };
        if offline {
            let problem = if user_cell.is_empty() {
                Some((user_col, EMPTY_USER.to_string()))
            } else if parse_member(member_cell).is_none() {
                Some((member_col, not_yes_or_no(member_cell)))
            } else if target_cell.is_empty() {
                Some((target_col, EMPTY_TARGET.to_string()))
            } else {
                None
            };
            match problem {
                Some((col, message)) => plan.rows.push(invalid(planned, col, message)),
                None => {
                    planned.action = ChangeAction::Unchanged;
                    planned.reason = "checked; the brand is read when planned".into();
                    plan.rows.push(planned);
                }
            }
            continue;
        }
        let user = match by_key.get(&user_cell.to_lowercase()).map(Vec::as_slice) {
            _ if user_cell.is_empty() => {
                plan.rows
                    .push(invalid(planned, user_col, EMPTY_USER.into()));
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
                plan.rows
                    .push(invalid(planned, member_col, not_yes_or_no(member_cell)));
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
                plan.rows
                    .push(invalid(planned, target_col, EMPTY_TARGET.into()));
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
        let at = RowAt {
            row: row.row,
            line: row.line,
        };
        let problem = Problem::in_row(at, column(target_col), Severity::Error, &why);
        row.action = ChangeAction::Invalid;
        row.reason.clone_from(&problem.message);
        row.problem = Some(problem);
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
            lines: Vec::new(),
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
                // The Roles sheet names these attributes: its rules are the allowance.
                new_attributes: attributes.iter().cloned().collect(),
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
        lines: Vec::new(),
    }
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
