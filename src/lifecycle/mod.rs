//! Bulk account lifecycle: disable, re-enable and set expiry dates from a sheet.
//!
//! A sheet has a `User ID` column (`UR_…`) or a `Username` column (or both), optionally
//! `Action` (`disable`, `enable`, `expire`) and `Expiration date` (`YYYY-MM-DD`, or `<clear>`
//! to remove an expiry). [`plan`] checks every row against one bulk listing of the brand and
//! says what would change; [`steps`] turns the plan into executor steps; [`outcome_table`]
//! writes each row's outcome beside its input; [`before_table`] is the undo file.

use std::collections::HashMap;

use serde::Serialize;

use crate::columns::find_column;
use crate::connection::Connection;
use crate::exec::{JournalEntry, Outcome, OutcomeStatus, Step, StepUpdate};
use crate::http::{HttpRequest, HttpResponse};
use crate::table::{cells, Table};
use crate::time::{iso_datetime, Date, UnixMillis};
use crate::users::{self, AccountStatus, UserSummary};

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
        match crate::columns::normalise_header(cell).as_str() {
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
    /// The current state, e.g. `active`.
    pub current: String,
    /// The wanted state, e.g. `disabled, expires 2026-12-31`.
    pub new: String,
    /// Why, or what to fix (names the row and column).
    pub message: String,
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
    pub file_error: Option<String>,
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

/// User ids look like `UR_` and 10 to 20 letters and digits.
#[must_use]
pub fn is_user_id(s: &str) -> bool {
    s.strip_prefix("UR_").is_some_and(|t| {
        (10..=20).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

const ID_ALIASES: &[&str] = &["userid", "qualtricsuserid", "id", "uid"];
const USERNAME_ALIASES: &[&str] = &["username", "user", "login", "loginname"];
const ACTION_ALIASES: &[&str] = &["action"];
const EXPIRY_ALIASES: &[&str] = &[
    "expirationdate",
    "expirydate",
    "expiry",
    "expiration",
    "expires",
    "accountexpirationdate",
    "expireon",
];

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
    if let Some(problem) = table.header_problem() {
        return Plan {
            rows: Vec::new(),
            file_error: Some(problem),
            counts: Vec::new(),
        };
    }
    let (id_col, _) = find_column(&table.columns, ID_ALIASES);
    let (name_col, _) = find_column(&table.columns, USERNAME_ALIASES);
    let (action_col, _) = find_column(&table.columns, ACTION_ALIASES);
    let (expiry_col, _) = find_column(&table.columns, EXPIRY_ALIASES);
    if id_col.is_none() && name_col.is_none() {
        let found = if table.columns.is_empty() {
            "none".to_string()
        } else {
            table.columns.join(", ")
        };
        return Plan {
            rows: Vec::new(),
            file_error: Some(format!(
                "No \"User ID\" or \"Username\" column: add one as the header of the column that names the accounts (columns found: {found})."
            )),
            counts: Vec::new(),
        };
    }
    let by_id: HashMap<&str, &UserSummary> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let by_name = users::by_username(users);
    let applied: HashMap<&str, &JournalEntry> =
        journal.iter().map(|j| (j.applied.as_str(), j)).collect();
    let column_name = |c: Option<usize>, fallback: &str| {
        c.map_or(fallback.to_string(), |i| table.columns[i].clone())
    };

    let mut rows = Vec::with_capacity(table.rows.len());
    // user id -> (key of the first row changing it, its fingerprint, its action label)
    let mut first_for_user: HashMap<String, (String, String, &'static str)> = HashMap::new();
    // (first row's key, conflicting row's key): the account's first row sends nothing either.
    let mut conflicted: Vec<(String, String)> = Vec::new();
    for i in 0..table.rows.len() {
        let row_number = table.row_number(i);
        let key = format!("row:{row_number}");
        let cell = |c: Option<usize>| c.map_or("", |c| table.cell(i, c)).trim().to_string();
        let (id_cell, name_cell, action_cell, expiry_cell) = (
            cell(id_col),
            cell(name_col),
            cell(action_col),
            cell(expiry_col),
        );
        let mut entry = PlanRow {
            key: key.clone(),
            row: row_number,
            action: PlanAction::Invalid,
            user_id: None,
            username: (!name_cell.is_empty()).then(|| name_cell.clone()),
            current: String::new(),
            new: String::new(),
            message: String::new(),
            same_as: None,
            change: None,
        };
        let invalid = |mut e: PlanRow, column: &str, msg: String| {
            e.action = PlanAction::Invalid;
            e.message = format!("Row {row_number}, {column}: {msg}");
            e
        };

        if id_cell.is_empty() && name_cell.is_empty() {
            let col = column_name(id_col.or(name_col), "User ID");
            rows.push(invalid(
                entry,
                &col,
                "empty: give the account's User ID or Username, or delete the row.".into(),
            ));
            continue;
        }
        if !id_cell.is_empty() && !is_user_id(&id_cell) {
            let msg = format!("\"{}\" is not a Qualtrics user id: they look like UR_ followed by 15 letters and digits (see Admin > Users, or a users export).", shorten(&id_cell));
            rows.push(invalid(entry, &column_name(id_col, "User ID"), msg));
            continue;
        }
        let expiry = if expiry_cell.is_empty() {
            None
        } else if expiry_cell.eq_ignore_ascii_case(CLEAR_MARKER)
            || expiry_cell.eq_ignore_ascii_case("never")
        {
            Some(ExpiryChange::Clear)
        } else {
            match Date::parse_iso(&expiry_cell) {
                None => {
                    let msg = format!("\"{}\" is not a date: write it as YYYY-MM-DD (for example {}), or {CLEAR_MARKER} to remove the expiry.", shorten(&expiry_cell), options.today.iso());
                    rows.push(invalid(
                        entry,
                        &column_name(expiry_col, "Expiration date"),
                        msg,
                    ));
                    continue;
                }
                Some(d) if d < options.today => {
                    let msg = format!(
                        "{} is in the past: give today ({}) or a later date, or leave it blank.",
                        d.iso(),
                        options.today.iso()
                    );
                    rows.push(invalid(
                        entry,
                        &column_name(expiry_col, "Expiration date"),
                        msg,
                    ));
                    continue;
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
            match Action::parse(&action_cell) {
                Some(a) => Some(a),
                None => {
                    let msg = format!(
                        "\"{}\" is not an action: write disable, enable or expire (also accepted: disabled, deactivate; enabled, re-enable, activate; expiry, set expiry).",
                        shorten(&action_cell)
                    );
                    rows.push(invalid(entry, &column_name(action_col, "Action"), msg));
                    continue;
                }
            }
        };
        let Some(action) = action else {
            rows.push(invalid(entry, &column_name(action_col, "Action"), "no action: write disable, enable or expire, or choose a default action for rows without one.".into()));
            continue;
        };
        if action == Action::Expire && expiry.is_none() {
            rows.push(invalid(entry, &column_name(expiry_col, "Expiration date"), format!("the action is expire but no date is given: write the date as YYYY-MM-DD, or {CLEAR_MARKER}.")));
            continue;
        }

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
                        rows.push(invalid(entry, &column_name(name_col, "Username"), msg));
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
            match by_name.get(&name_cell.to_lowercase()) {
                Some(u) => *u,
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

        if let Some((first_key, first_print, first_label)) = first_for_user.get(&user.id) {
            if *first_print == full_fingerprint {
                entry.action = PlanAction::Duplicate;
                entry.same_as = Some(first_key.clone());
                entry.message = format!(
                    "Row {row_number}: the same as {}: planned once.",
                    first_key.replace("row:", "row ")
                );
            } else {
                let msg = format!("conflicts with {} ({first_label}) for the same account: keep one of the two rows.", first_key.replace("row:", "row "));
                conflicted.push((first_key.clone(), key.clone()));
                rows.push(invalid(
                    entry,
                    &column_name(action_col.or(id_col).or(name_col), "Action"),
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
            (key, full_fingerprint, entry.action.label()),
        );
        rows.push(entry);
    }

    let action_column = column_name(action_col.or(id_col).or(name_col), "Action");
    for (first, other) in conflicted {
        if let Some(entry) = rows.iter_mut().find(|r| r.key == first) {
            entry.action = PlanAction::Invalid;
            entry.change = None;
            entry.message = format!(
                "Row {}, {action_column}: conflicts with {} for the same account: nothing is sent for it until one of the rows is removed.",
                entry.row,
                other.replace("row:", "row ")
            );
        }
    }

    let mut counts: Vec<(String, usize)> = Vec::new();
    for action in [
        PlanAction::Disable,
        PlanAction::Enable,
        PlanAction::SetExpiry,
        PlanAction::Unchanged,
        PlanAction::Duplicate,
        PlanAction::NotFound,
        PlanAction::Invalid,
    ] {
        let n = rows.iter().filter(|r| r.action == action).count();
        if n > 0 {
            counts.push((action.label().to_string(), n));
        }
    }
    Plan {
        rows,
        file_error: None,
        counts,
    }
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

fn status_matches(wanted: AccountStatus, current: &str) -> bool {
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

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        s.chars().take(57).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

/// The account state before a run touched it (the undo file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforeState {
    /// The account.
    pub user_id: String,
    /// Its username.
    pub username: Option<String>,
    /// Status before.
    pub status: Option<String>,
    /// Expiry before (`None` inside when it had none), if the run read it.
    pub expiry: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    ReadUser,
    Update,
}

/// Executor step for one row: read the user first when the expiry changes (to know the
/// previous expiry, for undo), then send only what differs.
#[derive(Debug, Clone)]
pub struct LifecycleStep {
    key: String,
    change: UserChange,
    phase: Phase,
    /// The state before, as far as known (filled as the step runs).
    pub before: BeforeState,
    applied: Option<users::UserUpdate>,
}

impl LifecycleStep {
    /// A step for a plan row's change.
    #[must_use]
    pub fn new(key: String, change: UserChange) -> LifecycleStep {
        let phase = if change.expiry.is_some() {
            Phase::ReadUser
        } else {
            Phase::Update
        };
        let before = BeforeState {
            user_id: change.user_id.clone(),
            username: change.username.clone(),
            status: change.status_before.clone(),
            expiry: None,
        };
        LifecycleStep {
            key,
            change,
            phase,
            before,
            applied: None,
        }
    }

    /// True when the step changed the account.
    #[must_use]
    pub fn applied(&self) -> bool {
        self.applied.is_some()
    }

    fn update(&self) -> users::UserUpdate {
        users::UserUpdate {
            status: self.change.status,
            account_expiration_date: None,
            ..Default::default()
        }
    }

    fn update_body(&self) -> Vec<u8> {
        let mut body = serde_json::to_value(self.update()).expect("serialises");
        match self.change.expiry {
            Some(ExpiryChange::Set(d)) => {
                body["accountExpirationDate"] =
                    serde_json::Value::String(d.qualtrics_datetime().to_string());
            }
            Some(ExpiryChange::Clear) => body["accountExpirationDate"] = serde_json::Value::Null,
            None => {}
        }
        serde_json::to_vec(&body).expect("serialises")
    }

    fn done_message(&self) -> String {
        let mut parts = Vec::new();
        match self.change.status {
            Some(AccountStatus::Disabled) => parts.push("disabled".to_string()),
            Some(AccountStatus::Active) => parts.push("re-enabled".to_string()),
            None => {}
        }
        match self.change.expiry {
            Some(ExpiryChange::Set(d)) => parts.push(format!("expires {}", d.iso())),
            Some(ExpiryChange::Clear) => parts.push("expiry removed".to_string()),
            None => {}
        }
        parts.join(", ")
    }
}

impl Step for LifecycleStep {
    fn key(&self) -> &str {
        &self.key
    }

    fn request(&self, conn: &Connection) -> HttpRequest {
        match self.phase {
            Phase::ReadUser => users::get_user_request(conn, &self.change.user_id),
            Phase::Update => {
                let mut req =
                    users::update_user_request(conn, &self.change.user_id, &self.update());
                req.body = Some(self.update_body());
                req
            }
        }
    }

    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let id = self.change.user_id.clone();
        match self.phase {
            Phase::ReadUser => match users::parse_get_user(&id, response) {
                Ok(user) => {
                    self.before.status = user.summary.account_status.clone();
                    self.before.expiry = Some(user.summary.account_expiration_date.clone());
                    if let Some(s) = self.change.status {
                        if user
                            .summary
                            .account_status
                            .as_deref()
                            .is_some_and(|c| status_matches(s, c))
                        {
                            self.change.status = None;
                        }
                    }
                    let current = user
                        .summary
                        .account_expiration_date
                        .as_deref()
                        .and_then(Date::parse_iso);
                    let same_expiry = match self.change.expiry {
                        Some(ExpiryChange::Set(d)) => current == Some(d),
                        Some(ExpiryChange::Clear) => user.summary.account_expiration_date.is_none(),
                        None => true,
                    };
                    if same_expiry {
                        self.change.expiry = None;
                    }
                    if self.change.status.is_none() && self.change.expiry.is_none() {
                        return StepUpdate::Finished {
                            status: OutcomeStatus::Unchanged,
                            message: "already in that state".into(),
                        };
                    }
                    self.phase = Phase::Update;
                    StepUpdate::Continue
                }
                Err(e) => StepUpdate::Finished {
                    status: OutcomeStatus::Failed,
                    message: e.to_string(),
                },
            },
            Phase::Update => match users::parse_update_user(&id, response) {
                Ok(()) => {
                    self.applied = Some(self.update());
                    StepUpdate::Finished {
                        status: OutcomeStatus::Done,
                        message: self.done_message(),
                    }
                }
                Err(e) => StepUpdate::Finished {
                    status: OutcomeStatus::Failed,
                    message: e.to_string(),
                },
            },
        }
    }

    fn fingerprint(&self) -> String {
        self.change.fingerprint()
    }
}

/// Executor steps for the rows of a plan that change something, in row order.
#[must_use]
pub fn steps(plan: &Plan) -> Vec<LifecycleStep> {
    plan.rows
        .iter()
        .filter_map(|r| {
            r.change
                .clone()
                .map(|c| LifecycleStep::new(r.key.clone(), c))
        })
        .collect()
}

/// One row's final result, as written beside the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowOutcome {
    /// The row's identity.
    pub key: String,
    /// Its sheet row number.
    pub row: u32,
    /// done / unchanged / failed / skipped.
    pub status: OutcomeStatus,
    /// What happened.
    pub message: String,
    /// The account.
    pub user_id: String,
    /// When the change was applied (ISO 8601), for `done` rows.
    pub applied_at: String,
}

/// Every input row's outcome: from the executor for rows that were sent, from the plan for the
/// others (invalid and not-found rows are `failed`, saying they were not sent; duplicates take
/// the outcome of the row planned in their place). Rows the run never reached are `skipped`.
pub fn outcomes(plan: &Plan, executed: &[Outcome]) -> Vec<RowOutcome> {
    let by_key: HashMap<&str, &Outcome> = executed.iter().map(|o| (o.key.as_str(), o)).collect();
    let mut result: Vec<RowOutcome> = Vec::with_capacity(plan.rows.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in &plan.rows {
        let user_id = r.user_id.clone().unwrap_or_default();
        let (status, message, applied_at) = match r.action {
            PlanAction::Invalid | PlanAction::NotFound => (
                OutcomeStatus::Failed,
                format!("not sent: {}", r.message),
                String::new(),
            ),
            PlanAction::Unchanged => (OutcomeStatus::Unchanged, r.message.clone(), String::new()),
            PlanAction::Duplicate => {
                let first = r
                    .same_as
                    .as_deref()
                    .and_then(|k| index.get(k))
                    .map(|i| result[*i].clone());
                match first {
                    Some(f) => (
                        f.status,
                        format!("same as {}: {}", f.key.replace("row:", "row "), f.message),
                        f.applied_at,
                    ),
                    None => (
                        OutcomeStatus::Skipped,
                        "duplicate row".into(),
                        String::new(),
                    ),
                }
            }
            _ => match by_key.get(r.key.as_str()) {
                Some(o) => (
                    o.status,
                    o.message.clone(),
                    if o.status == OutcomeStatus::Done {
                        o.finished_at.map(iso_datetime).unwrap_or_default()
                    } else {
                        String::new()
                    },
                ),
                None => (
                    OutcomeStatus::Skipped,
                    "not sent: the run ended before this row".into(),
                    String::new(),
                ),
            },
        };
        index.insert(r.key.clone(), result.len());
        result.push(RowOutcome {
            key: r.key.clone(),
            row: r.row,
            status,
            message,
            user_id,
            applied_at,
        });
    }
    result
}

impl RowOutcome {
    /// The outcome cells, in the order of [`outcome_column_names`].
    #[must_use]
    pub fn values(&self) -> Vec<String> {
        vec![
            self.status.as_str().to_string(),
            self.message.clone(),
            self.user_id.clone(),
            self.applied_at.clone(),
        ]
    }
}

/// The outcome columns, in order.
pub const OUTCOME_COLUMNS: [&str; 4] = ["Status", "Message", "User ID", "Applied at"];

/// The names of the outcome columns beside `input_columns`: the input's own `User ID` column
/// is never overwritten, so the outcome's user id goes into "Outcome user ID" when it exists.
#[must_use]
pub fn outcome_column_names(input_columns: &[String]) -> Vec<String> {
    let has_user_id = input_columns
        .iter()
        .any(|c| c == "User ID" || c == "Outcome user ID");
    OUTCOME_COLUMNS
        .iter()
        .map(|n| {
            if *n == "User ID" && has_user_id {
                "Outcome user ID".to_string()
            } else {
                n.to_string()
            }
        })
        .collect()
}

/// The input table with the outcome columns beside it: existing outcome columns (from an
/// earlier run) are updated in place, others are appended. Rows are matched by identity.
#[must_use]
pub fn outcome_table(input: &Table, outcomes: &[RowOutcome]) -> Table {
    let values: HashMap<u32, Vec<String>> = outcomes.iter().map(|o| (o.row, o.values())).collect();
    input.with_columns_beside(&outcome_column_names(&input.columns), &values)
}

/// The audit entries as a table (for a sheet), one request a row.
pub fn audit_table(entries: &[crate::exec::AuditEntry]) -> Table {
    Table {
        columns: [
            "Time",
            "Method",
            "Path",
            "Status",
            "Error",
            "Duration (ms)",
            "Row",
            "Attempt",
        ]
        .map(String::from)
        .to_vec(),
        rows: entries
            .iter()
            .map(|e| {
                vec![
                    e.time.clone(),
                    e.method.clone(),
                    e.path.clone(),
                    e.status.map(|s| s.to_string()).unwrap_or_default(),
                    e.error.clone().unwrap_or_default(),
                    e.duration_ms.to_string(),
                    e.row.clone(),
                    e.attempt.to_string(),
                ]
            })
            .map(cells)
            .collect(),
        row_numbers: Vec::new(),
    }
}

/// The plan as a table to show before anything is sent.
pub fn plan_table(plan: &Plan) -> Table {
    Table {
        columns: [
            "Row", "User ID", "Username", "Plan", "Current", "New", "Message",
        ]
        .map(String::from)
        .to_vec(),
        rows: plan
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.row.to_string(),
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
    }
}

/// The undo file: the accounts a run changed, as a lifecycle sheet that puts them back as they
/// were when applied.
pub fn before_table(steps: &[&LifecycleStep]) -> Table {
    let rows = steps
        .iter()
        .filter(|s| s.applied())
        .map(|s| {
            let action = match s.before.status.as_deref() {
                Some(st) if st.eq_ignore_ascii_case("disabled") => "disable",
                Some(_) => "enable",
                None => "",
            };
            let expiry = match (&s.change.expiry, &s.before.expiry) {
                (None, _) => String::new(),
                (Some(_), Some(Some(d))) => Date::parse_iso(d)
                    .map(|d| d.iso())
                    .unwrap_or_else(|| d.clone()),
                (Some(_), Some(None)) => CLEAR_MARKER.to_string(),
                (Some(_), None) => String::new(),
            };
            vec![
                s.before.user_id.clone(),
                s.before.username.clone().unwrap_or_default(),
                action.to_string(),
                expiry,
                s.before.status.clone().unwrap_or_default(),
            ]
        })
        .map(cells)
        .collect();
    Table {
        columns: [
            "User ID",
            "Username",
            "Action",
            "Expiration date",
            "Status before",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        row_numbers: Vec::new(),
    }
}

/// JSON Lines of audit entries (one request a line; never a token).
#[must_use]
pub fn audit_jsonl(entries: &[crate::exec::AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).expect("serialises"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
