//! The checks of a lifecycle sheet, with no brand: the columns that name the accounts, the
//! action and the expiry date, and each row's cells read into what it asks (a [`RowAsk`]) or
//! refused with the problem that says why.

use crate::sheet::columns::find_column;
use crate::sheet::problem::{Problem, RowAt, Severity};
use crate::sheet::table::Table;
use crate::time::Date;

use super::{Action, ExpiryChange, LifecycleOptions, PlanAction, PlanRow, CLEAR_MARKER};

/// User ids look like `UR_` and 10 to 20 letters and digits.
#[must_use]
pub fn is_user_id(s: &str) -> bool {
    s.strip_prefix("UR_").is_some_and(|t| {
        (10..=20).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Headers read as the User ID column (normalised: see [`crate::sheet::columns`]).
pub(crate) const ID_ALIASES: &[&str] = &["userid", "qualtricsuserid", "id", "uid"];
/// Headers read as the Username column.
pub(crate) const USERNAME_ALIASES: &[&str] = &["username", "user", "login", "loginname"];
/// Headers read as the Action column.
pub(crate) const ACTION_ALIASES: &[&str] = &["action"];
/// Headers read as the Expiration date column.
pub(crate) const EXPIRY_ALIASES: &[&str] = &[
    "expirationdate",
    "expirydate",
    "expiry",
    "expiration",
    "expires",
    "accountexpirationdate",
    "expireon",
];

/// Where a lifecycle sheet's columns are (by index; at least one of `id` and `name`).
pub(super) struct Columns<'t> {
    table: &'t Table,
    /// The User ID column.
    pub id: Option<usize>,
    /// The Username column.
    pub name: Option<usize>,
    /// The Action column.
    pub action: Option<usize>,
    /// The Expiration date column.
    pub expiry: Option<usize>,
}

impl Columns<'_> {
    /// The header of column `c`, or `fallback` when the sheet has no such column.
    pub fn name_of(&self, c: Option<usize>, fallback: &str) -> String {
        c.map_or(fallback.to_string(), |i| self.table.columns[i].clone())
    }
}

/// Finds the columns of a lifecycle sheet, or the problem that refuses the whole sheet: a bad
/// header, two columns meaning one thing, no column naming the accounts.
pub(super) fn check_columns(table: &Table) -> Result<Columns<'_>, Problem> {
    if let Some(problem) = table.header_problem() {
        return Err(Problem::sheet("", Severity::Error, problem));
    }
    let (id_col, id_more) = find_column(&table.columns, ID_ALIASES);
    let (name_col, name_more) = find_column(&table.columns, USERNAME_ALIASES);
    let (action_col, action_more) = find_column(&table.columns, ACTION_ALIASES);
    let (expiry_col, expiry_more) = find_column(&table.columns, EXPIRY_ALIASES);
    // Two columns meaning one thing (two Action columns, say): which one the person meant
    // cannot be told, so the sheet is refused, naming both, rather than one silently used.
    for (first, more, meaning) in [
        (id_col, &id_more, "User ID"),
        (name_col, &name_more, "Username"),
        (action_col, &action_more, "Action"),
        (expiry_col, &expiry_more, "Expiration date"),
    ] {
        if let (Some(first), Some(second)) = (first, more.first()) {
            let (a, b) = (&table.columns[first], &table.columns[*second]);
            return Err(Problem::sheet(
                b,
                Severity::Error,
                format!("Columns \"{a}\" and \"{b}\" both mean {meaning}: keep one of them (nothing is planned until then)."),
            ));
        }
    }
    if id_col.is_none() && name_col.is_none() {
        let found = if table.columns.is_empty() {
            "none".to_string()
        } else {
            table.columns.join(", ")
        };
        return Err(Problem::sheet(
            "",
            Severity::Error,
            format!(
                "No \"User ID\" or \"Username\" column: add one as the header of the column that names the accounts (columns found: {found})."
            ),
        ));
    }
    Ok(Columns {
        table,
        id: id_col,
        name: name_col,
        action: action_col,
        expiry: expiry_col,
    })
}

/// What a row whose cells passed the checks asks of which account.
pub(super) struct RowAsk {
    /// The User ID cell (trimmed; may be blank when the Username names the account).
    pub id: String,
    /// The Username cell (trimmed; may be blank when the User ID names the account).
    pub name: String,
    /// The action, the row's own or the default.
    pub action: Action,
    /// The expiry the row sets or clears.
    pub expiry: Option<ExpiryChange>,
}

/// The row `entry` refused with `message` about `column`.
pub(super) fn refused(mut entry: PlanRow, at: RowAt, column: &str, message: String) -> PlanRow {
    let problem = Problem::in_row(at, column, Severity::Error, &message);
    entry.action = PlanAction::Invalid;
    entry.message.clone_from(&problem.message);
    entry.problem = Some(problem);
    entry
}

/// Checks row `i`'s cells: the row's plan entry (as yet without an account) and what it asks,
/// or the entry refused with the cell's problem and nothing asked.
pub(super) fn check_row(
    cols: &Columns<'_>,
    i: usize,
    options: &LifecycleOptions,
) -> (PlanRow, Option<RowAsk>) {
    let table = cols.table;
    let row_number = table.row_number(i);
    let cell = |c: Option<usize>| c.map_or("", |c| table.cell(i, c)).trim().to_string();
    let (id, name, action, expiry) = (
        cell(cols.id),
        cell(cols.name),
        cell(cols.action),
        cell(cols.expiry),
    );
    let entry = PlanRow {
        key: format!("row:{row_number}"),
        row: row_number,
        action: PlanAction::Invalid,
        user_id: None,
        username: (!name.is_empty()).then(|| name.clone()),
        person: String::new(),
        current: String::new(),
        new: String::new(),
        message: String::new(),
        problem: None,
        same_as: None,
        change: None,
    };
    match ask(cols, id, name, &action, &expiry, options) {
        Ok(ask) => (entry, Some(ask)),
        Err(Refusal(column, fallback, message)) => (
            refused(entry, table.at(i), &cols.name_of(column, fallback), message),
            None,
        ),
    }
}

/// Why a row's cells are refused: the column (or the name to give it when the sheet has
/// none) and the message.
struct Refusal(Option<usize>, &'static str, String);

/// What a row's cells ask, or why they are refused.
fn ask(
    cols: &Columns<'_>,
    id_cell: String,
    name_cell: String,
    action_cell: &str,
    expiry_cell: &str,
    options: &LifecycleOptions,
) -> Result<RowAsk, Refusal> {
    if id_cell.is_empty() && name_cell.is_empty() {
        return Err(Refusal(
            cols.id.or(cols.name),
            "User ID",
            "empty: give the account's User ID or Username, or delete the row.".into(),
        ));
    }
    if !id_cell.is_empty() && !is_user_id(&id_cell) {
        let msg = format!("\"{}\" is not a Qualtrics user id: they look like UR_ followed by 15 letters and digits (see Admin > Users, or a users export).", shorten(&id_cell));
        return Err(Refusal(cols.id, "User ID", msg));
    }
    let expiry = if expiry_cell.is_empty() {
        None
    } else if expiry_cell.eq_ignore_ascii_case(CLEAR_MARKER)
        || expiry_cell.eq_ignore_ascii_case("never")
    {
        Some(ExpiryChange::Clear)
    } else {
        match Date::parse_iso(expiry_cell) {
            None => {
                let msg = format!("\"{}\" is not a date: write it as YYYY-MM-DD (for example {}), or {CLEAR_MARKER} to remove the expiry.", shorten(expiry_cell), options.today.iso());
                return Err(Refusal(cols.expiry, "Expiration date", msg));
            }
            Some(d) if d < options.today => {
                let msg = format!(
                    "{} is in the past: give today ({}) or a later date, or leave it blank.",
                    d.iso(),
                    options.today.iso()
                );
                return Err(Refusal(cols.expiry, "Expiration date", msg));
            }
            Some(d) => Some(ExpiryChange::Set(d)),
        }
    };
    let action = if action_cell.is_empty() {
        if expiry.is_some() {
            Some(Action::Expire)
        } else {
            options.default_action
        }
    } else {
        match Action::parse(action_cell) {
            Some(a) => Some(a),
            None => {
                let msg = format!(
                    "\"{}\" is not an action: write disable, enable or expire (also accepted: disabled, deactivate; enabled, re-enable, activate; expiry, set expiry).",
                    shorten(action_cell)
                );
                return Err(Refusal(cols.action, "Action", msg));
            }
        }
    };
    let Some(action) = action else {
        return Err(Refusal(cols.action, "Action", "no action: write disable, enable or expire, or choose a default action for rows without one.".into()));
    };
    if action == Action::Expire && expiry.is_none() {
        return Err(Refusal(cols.expiry, "Expiration date", format!("the action is expire but no date is given: write the date as YYYY-MM-DD, or {CLEAR_MARKER}.")));
    }
    Ok(RowAsk {
        id: id_cell,
        name: name_cell,
        action,
        expiry,
    })
}

/// A cell's text cut to 60 characters for a message.
pub(super) fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        s.chars().take(57).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}
