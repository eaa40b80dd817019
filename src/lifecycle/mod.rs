//! Bulk account lifecycle: disable, re-enable and set expiry dates from a sheet.
//!
//! A sheet has a `User ID` column (`UR_…`) or a `Username` column (or both), optionally
//! `Action` (`disable`, `enable`, `expire`) and `Expiration date` (`YYYY-MM-DD`, or `<clear>`
//! to remove an expiry). [`plan`] checks every row against one bulk listing of the brand and
//! says what would change; [`steps`] turns the plan into executor steps; [`outcome_table`]
//! writes each row's outcome beside its input; [`before_table`] is the undo file.
//!
//! The flow, a file each, as every kind has it: `checks` (the columns and each row's cells,
//! with no brand), `plan` (the checked rows against the brand, the Plan sheet), `steps` (the
//! requests of each change, and the undo file of what they changed) and `outcomes` (each
//! row's result beside its input). The model types and the [`template`] live here.

mod checks;
mod outcomes;
mod plan;
mod steps;

pub use checks::is_user_id;
pub(crate) use checks::{ACTION_ALIASES, EXPIRY_ALIASES, ID_ALIASES, USERNAME_ALIASES};
pub use outcomes::{outcome_column_names, outcome_table, outcomes, OUTCOME_COLUMNS};
pub use plan::{expiry_reads, plan, plan_table, refuse, touches};
pub use steps::{before_table, steps, BeforeState, LifecycleStep};

use crate::sheet::problem::Problem;
use crate::sheet::table::Table;
use serde::Serialize;

use crate::api::users::AccountStatus;
use crate::time::Date;

/// The lifecycle template: its four columns and two example rows. One way to name accounts
/// per column: a `UR_` id goes under User ID, a login under Username (either may be blank
/// when the other names the account).
#[must_use]
pub fn template() -> Table {
    Table {
        columns: ["User ID", "Username", "Action", "Expiration date"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            ["", "ana.lopez@example.com", "disable", ""]
                .map(crate::sheet::table::Cell::new)
                .to_vec(),
            ["UR_0123456789abcde", "", "expire", "2030-06-30"]
                .map(crate::sheet::table::Cell::new)
                .to_vec(),
        ],
        row_numbers: Vec::new(),
        lines: Vec::new(),
    }
}

/// The marker that clears a value (a blank cell keeps it).
pub const CLEAR_MARKER: &str = "<clear>";

/// What a row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Disable the account.
    Disable,
    /// Re-enable the account.
    Enable,
    /// Set (or clear) the expiry date only.
    Expire,
}

impl Action {
    /// Reads an `Action` cell (case and spaces forgiven): `disable`, `enable` or `expire`, and
    /// the aliases the README lists (disabled, deactivate; enabled, re-enable, activate;
    /// expiry, set expiry). Any other word is refused by the plan, with that list.
    #[must_use]
    pub fn parse(cell: &str) -> Option<Action> {
        match crate::sheet::columns::normalise_header(cell).as_str() {
            "disable" | "disabled" | "deactivate" => Some(Action::Disable),
            "enable" | "enabled" | "reenable" | "activate" => Some(Action::Enable),
            "expire" | "expiry" | "setexpiry" => Some(Action::Expire),
            _ => None,
        }
    }
}

/// A new expiry date, or its removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChange {
    /// Expire on this date.
    Set(Date),
    /// Never expire.
    Clear,
}

/// Planning options chosen by the user (and today's date, from the host's clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleOptions {
    /// The action for rows whose `Action` cell is blank (and that give no expiry date).
    pub default_action: Option<Action>,
    /// Today (UTC): expiry dates before it are refused.
    pub today: Date,
}

/// What the plan says for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PlanAction {
    /// Will disable.
    #[serde(rename = "disable")]
    Disable,
    /// Will re-enable.
    #[serde(rename = "enable")]
    Enable,
    /// Will set or clear the expiry only.
    #[serde(rename = "set expiry")]
    SetExpiry,
    /// Already in the wanted state.
    #[serde(rename = "unchanged")]
    Unchanged,
    /// No such user in the brand.
    #[serde(rename = "not found")]
    NotFound,
    /// The row cannot be read; the message says what to fix.
    #[serde(rename = "invalid")]
    Invalid,
    /// The same change as an earlier row: planned once.
    #[serde(rename = "duplicate")]
    Duplicate,
    /// Not sent: the policy refuses it (see [`crate::policy`]); the message says why.
    #[serde(rename = "refused")]
    Refused,
}

impl PlanAction {
    /// The label shown in the plan.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            PlanAction::Disable => "disable",
            PlanAction::Enable => "enable",
            PlanAction::SetExpiry => "set expiry",
            PlanAction::Unchanged => "unchanged",
            PlanAction::NotFound => "not found",
            PlanAction::Invalid => "invalid",
            PlanAction::Duplicate => "duplicate",
            PlanAction::Refused => "refused",
        }
    }
}

/// The change a row makes to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    /// The account.
    pub user_id: String,
    /// Its username, when known.
    pub username: Option<String>,
    /// New status, if it changes.
    pub status: Option<AccountStatus>,
    /// New expiry, if asked for (whether it differs is known only after reading the user).
    pub expiry: Option<ExpiryChange>,
    /// Status before, from the listing.
    pub status_before: Option<String>,
}

impl UserChange {
    /// A stable description of the change, for the journal and duplicate detection.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let status = self.status.map_or("-", |s| match s {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        });
        let expiry = match self.expiry {
            None => "-".to_string(),
            Some(ExpiryChange::Clear) => "clear".to_string(),
            Some(ExpiryChange::Set(d)) => d.iso(),
        };
        format!("{} status={status} expiry={expiry}", self.user_id)
    }
}

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRow {
    /// The row's identity (`row:N`).
    pub key: String,
    /// Its sheet row number.
    pub row: u32,
    /// What will happen.
    pub action: PlanAction,
    /// The account, when resolved.
    pub user_id: Option<String>,
    /// The username, when known.
    pub username: Option<String>,
    /// The person (name, and e-mail when the username is not it), when the account is found.
    pub person: String,
    /// The current state, e.g. `active`.
    pub current: String,
    /// The wanted state, e.g. `disabled, expires 2026-12-31`.
    pub new: String,
    /// Why, or what to fix (names the row and column).
    pub message: String,
    /// What is wrong with the row, for `Invalid` rows (its message is `message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// For `Duplicate`: the row planned in its place.
    pub same_as: Option<String>,
    /// The change to send, for rows that change something.
    #[serde(skip)]
    pub change: Option<UserChange>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// One entry per input row, in input order.
    pub rows: Vec<PlanRow>,
    /// A problem with the file as a whole (then nothing is planned).
    pub file_error: Option<Problem>,
    /// Rows per plan action label.
    pub counts: Vec<(String, usize)>,
}

impl Plan {
    /// How many rows will send a change.
    #[must_use]
    pub fn changes(&self) -> usize {
        self.rows.iter().filter(|r| r.change.is_some()).count()
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
