//! The checks of a desired-membership sheet, with no brand: its three columns, and each row's
//! cells (a user named, a group or role named, a Member cell that says yes or no). What
//! `validate` says of a membership sheet is these checks, with the plan's own messages.

use crate::sheet::columns::normalise_header;
use crate::sheet::problem::{Problem, RowAt, Severity};
use crate::sheet::table::Table;

use super::rules::RoleSheet;
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

const EMPTY_USER: &str = "empty: give the user's username, e-mail or user id (UR_…).";
const EMPTY_TARGET: &str = "empty: name a group or a role.";

fn not_yes_or_no(member_cell: &str) -> String {
    format!("\"{member_cell}\" is neither yes nor no: write yes to be a member, no to not be one.")
}

/// Where a desired-membership sheet's columns are.
pub(super) struct Columns<'t> {
    table: &'t Table,
    /// The User column.
    pub user: usize,
    /// The Group or role column.
    pub target: usize,
    /// The Member column.
    pub member: usize,
}

impl Columns<'_> {
    /// The header of column `i`.
    pub fn name(&self, i: usize) -> &str {
        self.table.columns[i].as_str()
    }
}

/// Finds the three columns, or the problem that refuses the whole sheet: a column missing, two
/// columns of one name, a Roles sheet that cannot be read.
pub(super) fn check_columns<'t>(
    desired: &'t Table,
    roles: &RoleSheet,
) -> Result<Columns<'t>, Problem> {
    let find = |names: &[&str]| {
        desired
            .columns
            .iter()
            .position(|c| names.contains(&normalise_header(c).as_str()))
    };
    let (Some(user), Some(target), Some(member)) = (
        find(USER_ALIASES),
        find(TARGET_ALIASES),
        find(MEMBER_ALIASES),
    ) else {
        return Err(Problem::sheet(
            "",
            Severity::Error,
            format!(
                "The desired-membership sheet needs the columns {} (found: {}).",
                DESIRED_COLUMNS.join(", "),
                desired.columns.join(", ")
            ),
        ));
    };
    // Two columns of one name (two Member columns, say): which one was meant cannot be told.
    for c in [user, target, member] {
        let name = normalise_header(&desired.columns[c]);
        if let Some(other) = desired
            .columns
            .iter()
            .enumerate()
            .find(|(j, o)| *j != c && normalise_header(o) == name)
            .map(|(_, o)| o)
        {
            return Err(Problem::sheet(
                other,
                Severity::Error,
                format!("Two columns are named \"{other}\": keep one of them (nothing is planned until then)."),
            ));
        }
    }
    if let Some(p) = roles.problems.iter().find(|p| p.row == 0) {
        return Err(Problem::sheet("", Severity::Error, p.message.clone()));
    }
    Ok(Columns {
        table: desired,
        user,
        target,
        member,
    })
}

/// A row's cells as the checks read them.
pub(super) struct CheckedRow<'t> {
    /// The row's plan entry, as yet `Invalid` with no reason.
    pub entry: ChangeRow,
    /// The User cell, trimmed.
    pub user: &'t str,
    /// The Group or role cell, trimmed.
    pub target: &'t str,
    /// Whether the row wants the user a member, or the first problem of its cells (an empty
    /// User cell, a Member cell neither yes nor no, an empty Group or role cell, in that
    /// order) with its column.
    pub wanted: Result<bool, (usize, String)>,
}

/// Reads row `i`'s cells; `None` for a row with all three blank (skipped).
pub(super) fn check_row<'t>(cols: &Columns<'t>, i: usize) -> Option<CheckedRow<'t>> {
    let table = cols.table;
    let row = table.row_number(i);
    let cell = |c: usize| table.cell(i, c).trim();
    let (user, target, member) = (cell(cols.user), cell(cols.target), cell(cols.member));
    if user.is_empty() && target.is_empty() && member.is_empty() {
        return None;
    }
    let wanted = if user.is_empty() {
        Err((cols.user, EMPTY_USER.to_string()))
    } else {
        match parse_member(member) {
            None => Err((cols.member, not_yes_or_no(member))),
            Some(_) if target.is_empty() => Err((cols.target, EMPTY_TARGET.to_string())),
            Some(wanted) => Ok(wanted),
        }
    };
    Some(CheckedRow {
        entry: ChangeRow {
            key: format!("row:{row}"),
            row,
            line: table.at(i).line,
            user: user.to_string(),
            target: target.to_string(),
            action: ChangeAction::Invalid,
            reason: String::new(),
            problem: None,
            person: String::new(),
            user_id: String::new(),
            group_id: String::new(),
            target_name: String::new(),
        },
        user,
        target,
        wanted,
    })
}

/// The row `r` refused with `message` about `column`.
pub(super) fn refused(mut r: ChangeRow, column: &str, message: &str) -> ChangeRow {
    let at = RowAt {
        row: r.row,
        line: r.line,
    };
    let problem = Problem::in_row(at, column, Severity::Error, message);
    r.action = ChangeAction::Invalid;
    r.reason.clone_from(&problem.message);
    r.problem = Some(problem);
    r
}

/// What `validate` checks of a desired-membership sheet, with no brand: the columns, an empty
/// User or Group or role cell, a Member cell that is neither yes nor no; the rows that pass
/// plan as unchanged (only the brand can say more). The same messages as
/// [`super::plan_changes`].
#[must_use]
pub fn check_changes(desired: &Table, roles: &RoleSheet) -> ChangePlan {
    let mut plan = ChangePlan {
        rows: Vec::new(),
        file_errors: Vec::new(),
        attributes: None,
        attribute_rows: Default::default(),
    };
    let cols = match check_columns(desired, roles) {
        Ok(cols) => cols,
        Err(problem) => {
            plan.file_errors.push(problem);
            return plan;
        }
    };
    for i in 0..desired.rows.len() {
        let Some(CheckedRow { entry, wanted, .. }) = check_row(&cols, i) else {
            continue;
        };
        plan.rows.push(match wanted {
            Err((col, message)) => refused(entry, cols.name(col), &message),
            Ok(_) => ChangeRow {
                action: ChangeAction::Unchanged,
                reason: "checked; the brand is read when planned".into(),
                ..entry
            },
        });
    }
    plan
}
