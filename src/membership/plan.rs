//! The plan of a desired-membership sheet: each checked row against a fresh pull and the Roles
//! sheet, with the attribute changes roles imply as a provisioning plan; the Plan sheet.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::membership::rules::{MatchOptions, Metadata, RoleSheet};
use crate::provision::{self, ProvisionOptions, Route};
use crate::sheet::table::{cells, Table};
use crate::time::Date;

use super::checks::{check_columns, check_row, refused, CheckedRow};
use super::pull::Snapshot;
use super::{ChangeAction, ChangePlan, ChangeRow};

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
    plan_rows(desired, roles, snapshot, options, today)
}

fn plan_rows(
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
    let cols = match check_columns(desired, roles) {
        Ok(cols) => cols,
        Err(problem) => {
            plan.file_errors.push(problem);
            return plan;
        }
    };
    let (user_col, target_col) = (cols.user, cols.target);
    let column = |i: usize| cols.name(i);

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
        // The row's own cells are checked first, except that an unknown user is said before
        // a bad Member or an empty Group or role cell.
        let Some(CheckedRow {
            entry: planned,
            user: user_cell,
            target: target_cell,
            wanted,
        }) = check_row(&cols, i)
        else {
            continue;
        };
        let row = planned.row;
        let invalid = |r: ChangeRow, col: usize, message: String| refused(r, column(col), &message);
        if let (true, Err((col, message))) = (user_cell.is_empty(), &wanted) {
            plan.rows.push(invalid(planned, *col, message.clone()));
            continue;
        }
        let user = match by_key.get(&user_cell.to_lowercase()).map(Vec::as_slice) {
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
        let mut planned = planned;
        planned.user_id = u.id.clone();
        planned.person = u.person();
        let wanted = match wanted {
            Ok(w) => w,
            Err((col, message)) => {
                plan.rows.push(invalid(planned, col, message));
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
                if wanted != is {
                    if let Some(kind) = group.automatic() {
                        let message = automatic_refusal(&group.name, kind, wanted);
                        plan.rows.push(invalid(planned, target_col, message));
                        continue;
                    }
                }
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
        *row = refused(row.clone(), column(target_col), &why);
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

/// Why a row may not add a member to (or remove one from) an automatic group, and what to do
/// instead: Qualtrics decides a brand-wide group's members (every user of the brand) and a
/// division-wide group's (every user of its division).
fn automatic_refusal(group: &str, kind: &str, add: bool) -> String {
    if kind == "division-wide" {
        let instead = if add {
            "adding them to"
        } else {
            "removing them from"
        };
        format!(
            "{group} is a division-wide group: Qualtrics decides its members from the user's division; change the user's division instead of {instead} the group."
        )
    } else {
        format!(
            "{group} is a brand-wide group: Qualtrics makes every user of the brand a member, so its members cannot be {}; leave this row out, or use a group whose members are added by hand.",
            if add { "added" } else { "removed" }
        )
    }
}

/// The Plan sheet of a desired-membership sheet.
pub fn change_plan_table(plan: &ChangePlan) -> Table {
    Table {
        columns: ["Row", "User", "Name", "Group or role", "Action", "Reason"]
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
                    r.person.clone(),
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
