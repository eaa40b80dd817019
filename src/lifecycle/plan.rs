//! The lifecycle plan: each checked row's account found in one listing of the brand and
//! compared with what it holds (and with the journal of an earlier run); the Plan sheet.

use crate::policy::Touch;
use crate::sheet::problem::{Problem, Severity};
use std::collections::HashMap;

use crate::api::users::{self, AccountStatus, UserSummary};
use crate::exec::JournalEntry;
use crate::sheet::table::{cells, Table};
use crate::time::{iso_datetime, Date};

use super::checks::{check_columns, check_row, is_user_id, refused, shorten, RowAsk};
use super::{Action, ExpiryChange, LifecycleOptions, Plan, PlanAction, PlanRow, UserChange};

/// Plans a lifecycle sheet against the brand's users (one bulk listing), their current expiry
/// dates where known, and the journal of an earlier, interrupted run.
///
/// `expiries` holds the expiry of users read one by one (`GET /users/{id}`; `None`: the account
/// does not expire): the listing does not carry it, so without it an expiry row cannot know
/// whether the date is already set and proposes the change, saying the current date is unknown.
/// [`expiry_reads`] names the users worth reading.
#[must_use]
pub fn plan(
    table: &Table,
    users: &[UserSummary],
    expiries: &HashMap<String, Option<String>>,
    journal: &[JournalEntry],
    options: &LifecycleOptions,
) -> Plan {
    let cols = match check_columns(table) {
        Ok(cols) => cols,
        Err(problem) => {
            return Plan {
                rows: Vec::new(),
                file_error: Some(problem),
                counts: Vec::new(),
            }
        }
    };
    let by_id: HashMap<&str, &UserSummary> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let by_name = users::by_username(users);
    let applied: HashMap<&str, &JournalEntry> =
        journal.iter().map(|j| (j.applied.as_str(), j)).collect();

    let mut rows = Vec::with_capacity(table.rows.len());
    // user id -> (key of the first row changing it, its fingerprint, its action label, its
    // index: `rows` holds one entry per table row, in order)
    let mut first_for_user: HashMap<String, (String, String, &'static str, usize)> = HashMap::new();
    // (first row's index, conflicting row's key): the account's first row sends nothing either.
    let mut conflicted: Vec<(usize, String)> = Vec::new();
    for i in 0..table.rows.len() {
        // The row's own cells first: a row they refuse needs no account.
        let (mut entry, ask) = match check_row(&cols, i, options) {
            (entry, Some(ask)) => (entry, ask),
            (refused, None) => {
                rows.push(refused);
                continue;
            }
        };
        let RowAsk {
            id: id_cell,
            name: name_cell,
            action,
            expiry,
        } = ask;
        let (row_number, key) = (entry.row, entry.key.clone());
        let at = table.at(i);
        let invalid = |e: PlanRow, column: &str, msg: String| refused(e, at, column, msg);

        // Resolve the account from the one bulk listing.
        let user = if !id_cell.is_empty() {
            match by_id.get(id_cell.as_str()) {
                Some(u) => {
                    if !name_cell.is_empty()
                        && u.username.as_deref().map(str::to_lowercase)
                            != Some(name_cell.to_lowercase())
                    {
                        let msg = format!(
                            "{id_cell} belongs to {}, not {}: correct one of the two.",
                            u.username.as_deref().unwrap_or("another user"),
                            shorten(&name_cell)
                        );
                        rows.push(invalid(entry, &cols.name_of(cols.name, "Username"), msg));
                        continue;
                    }
                    *u
                }
                None => {
                    entry.action = PlanAction::NotFound;
                    entry.user_id = Some(id_cell.clone());
                    entry.message = format!("Row {row_number}: no user {id_cell} in this brand (deleted, or from another brand?).");
                    rows.push(entry);
                    continue;
                }
            }
        } else {
            // A `UR_` id pasted under Username (a common slip) is taken as the User ID it is:
            // no login looks like one.
            let found = by_name.get(&name_cell.to_lowercase()).or_else(|| {
                is_user_id(&name_cell)
                    .then(|| by_id.get(name_cell.as_str()))
                    .flatten()
            });
            match found {
                Some(u) => *u,
                None if is_user_id(&name_cell) => {
                    entry.action = PlanAction::NotFound;
                    entry.user_id = Some(name_cell.clone());
                    entry.message = format!("Row {row_number}: no user {name_cell} in this brand (a User ID, under Username: it was looked up as a User ID; deleted, or from another brand?).");
                    rows.push(entry);
                    continue;
                }
                None => {
                    entry.action = PlanAction::NotFound;
                    entry.message = format!("Row {row_number}: no user with username \"{}\" in this brand (SSO usernames end in #brandId).", shorten(&name_cell));
                    rows.push(entry);
                    continue;
                }
            }
        };
        entry.user_id = Some(user.id.clone());
        entry.username = user.username.clone();
        entry.person = user.person();
        let current_status = user
            .account_status
            .clone()
            .unwrap_or_else(|| "unknown".into());
        // Some(None): known not to expire; None: unknown (the listing does not carry it).
        let current_expiry: Option<Option<Date>> = match expiries.get(&user.id) {
            Some(read) => Some(read.as_deref().and_then(Date::parse_iso)),
            None => user.account_expiration_date.as_deref().map(Date::parse_iso),
        };
        let known_expiry = current_expiry.flatten();
        entry.current = describe(&current_status, known_expiry.map(ExpiryChange::Set));
        if expiry.is_some() && current_expiry.is_none() {
            entry.current.push_str(", expiry unknown");
        }

        let wanted_status = match action {
            Action::Disable => Some(AccountStatus::Disabled),
            Action::Enable => Some(AccountStatus::Active),
            Action::Expire => None,
        };
        let status_change = wanted_status.filter(|s| !status_matches(*s, &current_status));
        let listed_expiry_matches = match (expiry, current_expiry) {
            (Some(ExpiryChange::Set(d)), Some(current)) => current == Some(d),
            (Some(ExpiryChange::Clear), Some(current)) => current.is_none(),
            _ => false,
        };
        let expiry_change = expiry.filter(|_| !listed_expiry_matches);
        let new_status =
            wanted_status.map_or(current_status.clone(), |s| status_word(s).to_string());
        entry.new = describe(&new_status, expiry.or(known_expiry.map(ExpiryChange::Set)));
        let change = UserChange {
            user_id: user.id.clone(),
            username: user.username.clone(),
            status: status_change,
            expiry: expiry_change,
            status_before: user.account_status.clone(),
        };
        let full_fingerprint = UserChange {
            status: wanted_status,
            expiry,
            ..change.clone()
        }
        .fingerprint();

        if let Some((first_key, first_print, first_label, first_index)) =
            first_for_user.get(&user.id)
        {
            if *first_print == full_fingerprint {
                entry.action = PlanAction::Duplicate;
                entry.same_as = Some(first_key.clone());
                entry.message = format!(
                    "Row {row_number}: the same as {}: planned once.",
                    first_key.replace("row:", "row ")
                );
            } else {
                let msg = format!("conflicts with {} ({first_label}) for the same account: keep one of the two rows.", first_key.replace("row:", "row "));
                conflicted.push((*first_index, key.clone()));
                rows.push(invalid(
                    entry,
                    &cols.name_of(cols.action.or(cols.id).or(cols.name), "Action"),
                    msg,
                ));
                continue;
            }
            rows.push(entry);
            continue;
        }

        if status_change.is_none() && expiry_change.is_none() {
            entry.action = PlanAction::Unchanged;
            entry.message = format!("already {}", entry.new);
        } else if let Some(done) = applied
            .get(full_fingerprint.as_str())
            .filter(|_| status_change.is_none())
        {
            entry.action = PlanAction::Unchanged;
            entry.message = format!(
                "already applied at {} (by the interrupted run)",
                iso_datetime(done.at)
            );
        } else {
            entry.action = match status_change {
                Some(AccountStatus::Disabled) => PlanAction::Disable,
                Some(AccountStatus::Active) => PlanAction::Enable,
                None => PlanAction::SetExpiry,
            };
            entry.message = describe_change(&change);
            entry.change = Some(change);
        }
        first_for_user.insert(
            user.id.clone(),
            (key, full_fingerprint, entry.action.label(), i),
        );
        rows.push(entry);
    }

    let action_column = cols.name_of(cols.action.or(cols.id).or(cols.name), "Action");
    for (first, other) in conflicted {
        if let Some(entry) = rows.get_mut(first) {
            let at = table.at(first);
            let problem = Problem::in_row(
                at,
                &action_column,
                Severity::Error,
                &format!(
                    "conflicts with {} for the same account: nothing is sent for it until one of the rows is removed.",
                    other.replace("row:", "row ")
                ),
            );
            entry.action = PlanAction::Invalid;
            entry.change = None;
            entry.message.clone_from(&problem.message);
            entry.problem = Some(problem);
        }
    }

    Plan {
        counts: count_actions(&rows),
        rows,
        file_error: None,
    }
}

/// Rows per action, in the order plans list them.
fn count_actions(rows: &[PlanRow]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for action in [
        PlanAction::Disable,
        PlanAction::Enable,
        PlanAction::SetExpiry,
        PlanAction::Unchanged,
        PlanAction::Duplicate,
        PlanAction::NotFound,
        PlanAction::Invalid,
        PlanAction::Refused,
    ] {
        let n = rows.iter().filter(|r| r.action == action).count();
        if n > 0 {
            counts.push((action.label().to_string(), n));
        }
    }
    counts
}

/// The accounts the plan's changes touch, for the policy: `users` is the brand's listing
/// (names and user types), `today` the plan's date (an expiry before the day after it takes
/// access away).
#[must_use]
pub fn touches(plan: &Plan, users: &[UserSummary], today: Date) -> Vec<Touch> {
    let by_id: HashMap<&str, &UserSummary> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let tomorrow = today.plus_days(1);
    plan.rows
        .iter()
        .filter_map(|r| {
            let change = r.change.as_ref()?;
            let user = by_id.get(change.user_id.as_str()).copied();
            let mut touch = Touch::of(r.row, user, r.username.as_deref(), r.message.clone());
            touch.user_id = Some(change.user_id.clone());
            let active = change
                .status_before
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("active"));
            let expires_soon = matches!(change.expiry, Some(ExpiryChange::Set(d)) if d <= tomorrow);
            touch.loses_access = change.status == Some(AccountStatus::Disabled)
                || (active && change.status != Some(AccountStatus::Active) && expires_soon);
            Some(touch)
        })
        .collect()
}

/// Takes the rows the policy refuses out of the plan: each becomes `refused` with its reason,
/// and nothing is sent for it (nor for a row planned as its duplicate).
pub fn refuse(plan: &mut Plan, rows: &[(u32, &'static str)]) {
    if rows.is_empty() {
        return;
    }
    let why: HashMap<u32, &str> = rows.iter().copied().collect();
    for r in &mut plan.rows {
        if let Some(reason) = why.get(&r.row) {
            r.action = PlanAction::Refused;
            r.change = None;
            r.message = format!("Row {}: {reason}", r.row);
            r.problem = Some(Problem {
                row: r.row,
                line: None,
                column: String::new(),
                severity: Severity::Error,
                message: r.message.clone(),
            });
        }
    }
    plan.counts = count_actions(&plan.rows);
}

/// The users whose current expiry is worth reading before planning again: those an expiry row
/// would change while their current expiry is unknown (the listing does not carry it).
#[must_use]
pub fn expiry_reads(plan: &Plan) -> Vec<String> {
    let mut ids: Vec<String> = plan
        .rows
        .iter()
        .filter_map(|r| r.change.as_ref())
        .filter(|c| c.expiry.is_some())
        .map(|c| c.user_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

pub(super) fn status_matches(wanted: AccountStatus, current: &str) -> bool {
    current.eq_ignore_ascii_case(status_word(wanted))
}

fn status_word(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Active => "active",
        AccountStatus::Disabled => "disabled",
    }
}

fn describe(status: &str, expiry: Option<ExpiryChange>) -> String {
    match expiry {
        Some(ExpiryChange::Set(d)) => format!("{status}, expires {}", d.iso()),
        Some(ExpiryChange::Clear) => format!("{status}, no expiry"),
        None => status.to_string(),
    }
}

fn describe_change(change: &UserChange) -> String {
    let mut parts = Vec::new();
    match change.status {
        Some(AccountStatus::Disabled) => parts.push("disable the account".to_string()),
        Some(AccountStatus::Active) => parts.push("re-enable the account".to_string()),
        None => {}
    }
    match change.expiry {
        Some(ExpiryChange::Set(d)) => parts.push(format!("set its expiry to {}", d.iso())),
        Some(ExpiryChange::Clear) => parts.push("remove its expiry date".to_string()),
        None => {}
    }
    let text = parts.join(" and ");
    let mut c = text.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The plan as a table to show before anything is sent.
pub fn plan_table(plan: &Plan) -> Table {
    Table {
        columns: [
            "Row", "Name", "User ID", "Username", "Plan", "Current", "New", "Message",
        ]
        .map(String::from)
        .to_vec(),
        rows: plan
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.row.to_string(),
                    r.person.clone(),
                    r.user_id.clone().unwrap_or_default(),
                    r.username.clone().unwrap_or_default(),
                    r.action.label().to_string(),
                    r.current.clone(),
                    r.new.clone(),
                    r.message.clone(),
                ]
            })
            .map(cells)
            .collect(),
        row_numbers: plan.rows.iter().map(|r| r.row).collect(),
        lines: Vec::new(),
    }
}
