//! The plan: each checked row against the brand's users, directory participants and the
//! journal of an earlier run, and the plan as a table (the Plan sheet).

use std::collections::{BTreeSet, HashMap};

use crate::api::directory::{self, Participant};
use crate::api::users::{self, UserSummary};
use crate::exec::JournalEntry;
use crate::policy::Touch;
use crate::sheet::columns::normalise_header;
use crate::sheet::problem::{Problem, RowAt};
use crate::sheet::table::{cells, Cell, Table};
use crate::time::Date;

use super::checks::{check_row, lowercase, refuse_first_of_repeated, same_value, SeenKeys};
use super::columns::{file_error, map_columns, match_brand_attributes};
use super::{
    Actions, AttrValue, Field, Plan, PlanRow, ProvisionAction, ProvisionOptions, Route, Severity,
};

/// What planning a sheet needs from the brand besides its users, so that a run reads nothing
/// no step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BrandNeeds {
    /// The CX directory (75 requests a minute): for attribute columns (their current values
    /// and each person's uniqueIdentifier), a uniqueIdentifier column, or the directory route.
    pub directory: bool,
    /// Division names (one request per division the brand's users are in): for a Division
    /// column that holds names rather than `DV_` ids.
    pub division_names: bool,
}

/// What planning `table` by `route` needs to read (nothing when its columns cannot be used:
/// the plan then says why without the brand).
#[must_use]
pub fn brand_needs(table: &Table, route: Route) -> BrandNeeds {
    let Ok(map) = map_columns(&table.columns) else {
        return BrandNeeds::default();
    };
    let division_names = map.fields.get(&Field::DivisionId).is_some_and(|&c| {
        table.rows.iter().any(|r| {
            r.get(c)
                .map(|v| v.trim())
                .is_some_and(|v| !v.is_empty() && !v.starts_with("DV_"))
        })
    });
    BrandNeeds {
        directory: route == Route::DirectoryImport
            || !map.attributes.is_empty()
            || map.fields.contains_key(&Field::UniqueIdentifier),
        division_names,
    }
}

/// The distinct usernames of `table`'s Username column (trimmed, lower-cased, blanks left
/// out): the accounts a run may look up one by one instead of listing every user. `None` when
/// the columns cannot be read or there is no Username column.
#[must_use]
pub fn sheet_usernames(table: &Table) -> Option<BTreeSet<String>> {
    let map = map_columns(&table.columns).ok()?;
    let c = *map.fields.get(&Field::Username)?;
    Some(
        table
            .rows
            .iter()
            .filter_map(|r| r.get(c))
            .map(|v| v.trim().to_lowercase())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

/// True when `table` has attribute columns and `options` allow every one of them to be new
/// (`new_attributes`): the directory then cannot make the sheet unplannable, only tell which
/// of them the brand already has (and how it spells them) and what the sheet's people hold
/// now. A run that applies at once may then read the directory once, after the accounts
/// exist, instead of before and again after (see `ProvisionJob::unattended`).
#[must_use]
pub fn attributes_allowed(table: &Table, options: &ProvisionOptions) -> bool {
    let Ok(map) = map_columns(&table.columns) else {
        return false;
    };
    let allowed: BTreeSet<String> = options
        .new_attributes
        .iter()
        .map(|a| normalise_header(a))
        .collect();
    !map.attributes.is_empty()
        && map
            .attributes
            .iter()
            .all(|(name, _)| allowed.contains(&normalise_header(name.as_str())))
}

/// Counts `plan`'s rows per action again, after rows were replaced.
pub(crate) fn recount(plan: &mut Plan) {
    plan.counts = count_actions(&plan.rows);
}

/// Plans a provisioning sheet against one listing of the brand's users and one of its
/// directory participants (with their attributes; none: the directory is taken as not read,
/// see [`plan_with_records`]), and the journal of an earlier run.
pub fn plan(
    table: &Table,
    users: &[UserSummary],
    participants: &[Participant],
    journal: &[JournalEntry],
    options: &ProvisionOptions,
) -> Plan {
    plan_with_records(
        table,
        users,
        &HashMap::new(),
        (!participants.is_empty()).then_some(participants),
        journal,
        options,
    )
}

/// The existing accounts whose record is worth reading before planning again: those a row
/// gives a field the listing does not carry (language, time zone, an expiry the listing left
/// out), so that a sheet applied before plans nothing (see [`plan_with_records`]).
#[must_use]
pub fn record_reads(plan: &Plan) -> Vec<String> {
    let mut ids: Vec<String> = plan
        .rows
        .iter()
        .filter(|r| r.field_changes.iter().any(|(_, old, _)| old == NOT_LISTED))
        .filter_map(|r| r.user_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// What a field change shows as the old value of a field the listing does not carry and whose
/// account's record was not read.
const NOT_LISTED: &str = "(not listed)";

/// True when Qualtrics' `old` value of `field` is the sheet's `new` one, in the forms it
/// returns them: language codes and time zones ignoring case (`en` / `EN`), dates by the day
/// (`2027-06-30` / `2027-06-30T00:00:00Z`); other fields exactly.
fn same_field(field: Field, old: &str, new: &str) -> bool {
    match field {
        Field::Language | Field::TimeZone | Field::UserType | Field::DivisionId => old
            .trim()
            .replace('_', "-")
            .eq_ignore_ascii_case(&new.trim().replace('_', "-")),
        Field::AccountExpirationDate => match (Date::parse_iso(old), Date::parse_iso(new)) {
            (Some(a), Some(b)) => a == b,
            _ => old.trim() == new.trim(),
        },
        _ => old == new,
    }
}

/// [`plan`], with the records of existing accounts read for the fields the listing does not
/// carry (`records`, by user id; see [`record_reads`]). `participants` is the directory as
/// read (perhaps empty: every attribute is then new), or `None` when it was not read: then
/// attribute names cannot be matched to the brand's and no attribute counts as new.
pub fn plan_with_records(
    table: &Table,
    users: &[UserSummary],
    records: &HashMap<String, users::User>,
    participants: Option<&[Participant]>,
    journal: &[JournalEntry],
    options: &ProvisionOptions,
) -> Plan {
    let empty = |file_errors| Plan {
        route: options.route,
        rows: Vec::new(),
        file_errors,
        notes: Vec::new(),
        new_attributes: Vec::new(),
        counts: Vec::new(),
        job_size: options.job_size,
        attribute_columns: Vec::new(),
    };
    if let Some(problem) = table.header_problem() {
        return empty(vec![file_error("", problem)]);
    }
    let mut map = match map_columns(&table.columns) {
        Ok(m) => m,
        Err(errors) => return empty(errors),
    };
    let (new_attributes, notes, new_attribute_errors) = match_brand_attributes(
        &mut map,
        participants,
        &table.columns,
        &options.new_attributes,
    );
    let participants = participants.unwrap_or_default();
    let key_field = match options.route {
        Route::AccountAndAttributes => Field::Username,
        Route::DirectoryImport => Field::UniqueIdentifier,
    };
    if !map.fields.contains_key(&key_field) {
        let found = table.columns.join(", ");
        let what = match key_field {
            Field::Username => {
                "a \"Username\" column: every account is found or created by its username"
            }
            _ => "a \"Unique identifier\" column: the directory import keys every person by it",
        };
        return empty(vec![file_error(
            "",
            format!("No {what}. Add it (columns found: {found})."),
        )]);
    }
    let by_name = users::by_username(users);
    let by_uid: HashMap<&str, &Participant> = participants
        .iter()
        .map(|p| (p.unique_identifier.as_str(), p))
        .collect();
    let by_participant_name = directory::by_username(participants);
    // One journal entry holds one line per field an account step applied.
    let applied: BTreeSet<&str> = journal.iter().flat_map(|j| j.applied.lines()).collect();

    let mut rows = Vec::with_capacity(table.rows.len());
    let mut seen = SeenKeys::for_rows(table.rows.len());
    for i in 0..table.rows.len() {
        // Checked and planned in place: a plan row is a few hundred bytes, not moved again.
        rows.push(PlanRow::new(table.at(i)));
        let plan_row = rows.last_mut().expect("just pushed");
        check_row(table, i, &map, options, &mut seen, plan_row);
        let at = table.at(i);
        let col = |f: Field| {
            map.fields
                .get(&f)
                .map_or(f.api_name().to_string(), |c| table.columns[*c].clone())
        };
        let require = |row: &mut PlanRow, fields: &[Field], why: &str| {
            for f in fields {
                if !row.fields.contains_key(f)
                    && !row
                        .problems
                        .iter()
                        .any(|d| d.column == col(*f) && d.severity == Severity::Error)
                {
                    row.problems.push(Problem::in_row(
                        at,
                        &col(*f),
                        Severity::Error,
                        &format!("empty, but needed {why}."),
                    ));
                }
            }
        };
        let (existing_user, participant) = match plan_row.fields.get(&key_field) {
            None => (None, None),
            Some(key) => match options.route {
                Route::AccountAndAttributes => {
                    let name = lowercase(key);
                    (
                        by_name.get(name.as_ref()).copied(),
                        by_participant_name.get(name.as_ref()).copied(),
                    )
                }
                Route::DirectoryImport => (None, by_uid.get(key.as_str()).copied()),
            },
        };
        if !plan_row.fields.contains_key(&key_field) {
            require(plan_row, &[key_field], "to find or create the account");
        }
        match options.route {
            Route::AccountAndAttributes if existing_user.is_none() => {
                require(
                    plan_row,
                    &[
                        Field::FirstName,
                        Field::LastName,
                        Field::Email,
                        Field::UserType,
                        Field::Password,
                    ],
                    "to create the account",
                );
            }
            Route::DirectoryImport if participant.is_none() => {
                require(
                    plan_row,
                    &[Field::FirstName, Field::LastName, Field::Email],
                    "to create the directory participant",
                );
            }
            _ => {}
        }
        if plan_row
            .problems
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            plan_row.actions.push(ProvisionAction::Invalid);
            continue;
        }
        plan_row.user_id = existing_user
            .map(|u| u.id.clone())
            .or_else(|| participant.and_then(|p| p.user_id.clone()));
        if plan_row.unique_identifier.is_none() {
            plan_row.unique_identifier = participant.map(|p| p.unique_identifier.clone());
        }
        if options.route == Route::AccountAndAttributes {
            match existing_user {
                None => plan_row.actions.push(ProvisionAction::Create),
                Some(u) => {
                    if plan_row.fields.contains_key(&Field::Password) {
                        plan_row.problems.push(Problem::in_row(
                            at,
                            &col(Field::Password),
                            Severity::Warning,
                            "the password is only used to create accounts; this account exists and keeps its own.",
                        ));
                    }
                    let record = records.get(&u.id);
                    let listed = |f: Field| -> Option<Option<String>> {
                        match f {
                            Field::FirstName => Some(u.first_name.clone()),
                            Field::LastName => Some(u.last_name.clone()),
                            Field::Email => Some(u.email.clone()),
                            Field::UserType => Some(u.user_type.clone()),
                            Field::DivisionId => Some(u.division_id.clone()),
                            Field::AccountExpirationDate if u.account_expiration_date.is_some() => {
                                Some(u.account_expiration_date.clone())
                            }
                            // Not in the listing: from the account's record, when read.
                            Field::AccountExpirationDate => {
                                record.map(|r| r.summary.account_expiration_date.clone())
                            }
                            Field::Language => record.map(|r| r.language.clone()),
                            Field::TimeZone => record.map(|r| r.time_zone.clone()),
                            _ => None,
                        }
                    };
                    for (f, new) in plan_row.fields.iter() {
                        if matches!(
                            f,
                            Field::Username | Field::Password | Field::UniqueIdentifier
                        ) {
                            continue;
                        }
                        match listed(*f) {
                            Some(Some(old)) if same_field(*f, &old, new) => {}
                            Some(old) => plan_row.field_changes.push((
                                Cell::new_static(f.api_name()),
                                old.map(Cell::from).unwrap_or_default(),
                                new.clone(),
                            )),
                            // Not in the listing (language, time zone, expiry): sent unless the
                            // journal says this exact value was applied before.
                            None => {
                                if !applied
                                    .contains(format!("{} {}={new}", u.id, f.api_name()).as_str())
                                {
                                    plan_row.field_changes.push((
                                        Cell::new_static(f.api_name()),
                                        Cell::new_static(NOT_LISTED),
                                        new.clone(),
                                    ));
                                }
                            }
                        }
                    }
                    if !plan_row.field_changes.is_empty() {
                        plan_row.actions.push(ProvisionAction::Update);
                    }
                }
            }
        } else {
            match participant {
                None => plan_row.actions.push(ProvisionAction::Create),
                Some(p) => {
                    for (f, current) in [
                        (Field::FirstName, &p.first_name),
                        (Field::LastName, &p.last_name),
                        (Field::Email, &p.email),
                    ] {
                        if let Some(new) = plan_row.fields.get(&f) {
                            if current.as_deref() != Some(new.as_str()) {
                                plan_row.field_changes.push((
                                    Cell::new_static(f.api_name()),
                                    current.as_deref().map(Cell::new).unwrap_or_default(),
                                    new.clone(),
                                ));
                            }
                        }
                    }
                    if !plan_row.field_changes.is_empty() {
                        plan_row.actions.push(ProvisionAction::Update);
                    }
                }
            }
            for f in [
                Field::UserType,
                Field::Password,
                Field::Language,
                Field::TimeZone,
                Field::DivisionId,
                Field::AccountExpirationDate,
            ] {
                if plan_row.fields.contains_key(&f) {
                    plan_row.problems.push(Problem::in_row(
                        at,
                        &col(f),
                        Severity::Warning,
                        "not used by a directory import (it sets names, e-mail and attributes only).",
                    ));
                }
            }
        }
        let mut attribute_changes = false;
        for attribute in &mut plan_row.attributes {
            let old = participant.and_then(|p| p.metadata.get(attribute.name.as_str()));
            attribute.changes = match &attribute.value {
                AttrValue::Set(v) => !old.is_some_and(|o| same_value(o, v)),
                AttrValue::Clear => old.is_some(),
            };
            attribute.old = old.map(Cell::new);
            attribute_changes |= attribute.changes;
        }
        if attribute_changes {
            plan_row.actions.push(ProvisionAction::SetAttributes);
        }
        if plan_row.actions.is_empty() {
            plan_row.actions.push(ProvisionAction::Unchanged);
        }
    }
    refuse_first_of_repeated(&mut rows, std::mem::take(&mut seen.repeated));
    let mut attribute_columns: Vec<Cell> = Vec::new();
    for (name, _) in &map.attributes {
        if !attribute_columns.contains(name)
            && !super::is_password_column(name)
            && rows
                .iter()
                .any(|r| r.attributes.iter().any(|a| &a.name == name))
        {
            attribute_columns.push(name.clone());
        }
    }
    Plan {
        route: options.route,
        counts: count_actions(&rows),
        rows,
        file_errors: new_attribute_errors,
        notes,
        new_attributes,
        job_size: options.job_size.max(1),
        attribute_columns,
    }
}

/// Rows per action, in the order plans count them.
fn count_actions(rows: &[PlanRow]) -> Vec<(String, usize)> {
    // One pass over the rows (each is a few hundred bytes: five passes were measurable).
    const ORDER: [ProvisionAction; ProvisionAction::ALL.len()] = ProvisionAction::ALL;
    let mut tally = [0usize; ORDER.len()];
    for r in rows {
        for action in r.actions.iter() {
            if let Some(i) = ORDER.iter().position(|a| a == action) {
                tally[i] += 1;
            }
        }
    }
    ORDER
        .iter()
        .zip(tally)
        .filter(|(_, n)| *n > 0)
        .map(|(action, n)| (action.label().to_string(), n))
        .collect()
}

/// The accounts the plan's rows touch, for the policy: `users` is the brand's listing (names
/// and user types now), `today` the plan's date (an expiry before the day after it takes
/// access away).
#[must_use]
pub fn touches(plan: &Plan, users: &[UserSummary], today: Date) -> Vec<Touch> {
    let by_id: HashMap<&str, &UserSummary> = users.iter().map(|u| (u.id.as_str(), u)).collect();
    let tomorrow = today.plus_days(1);
    plan.rows
        .iter()
        .filter(|r| r.sends())
        .map(|r| {
            let user = r.user_id.as_deref().and_then(|id| by_id.get(id).copied());
            let username = Some(r.username()).filter(|u| !u.is_empty());
            let mut touch = Touch::of(r.row, user, username, describe(r));
            if user.is_none() {
                touch.user_id.clone_from(&r.user_id);
                let name = [r.field(Field::FirstName), r.field(Field::LastName)]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                touch.name = match r.field(Field::Email) {
                    Some(e) => format!("{name} <{e}>").trim().to_string(),
                    None => name,
                };
            }
            let creates = r.actions.contains(&ProvisionAction::Create);
            let changed = |f: Field| {
                r.field_changes
                    .iter()
                    .find(|(name, _, _)| name.as_str() == f.api_name())
                    .map(|(_, _, new)| new.as_str())
            };
            touch.type_after = if creates {
                r.field(Field::UserType)
            } else {
                changed(Field::UserType)
            }
            .map(str::to_string);
            let active = user
                .and_then(|u| u.account_status.as_deref())
                .is_none_or(|s| s.eq_ignore_ascii_case("active"));
            touch.loses_access = !creates
                && active
                && changed(Field::AccountExpirationDate)
                    .and_then(Date::parse_iso)
                    .is_some_and(|d| d <= tomorrow);
            touch
        })
        .collect()
}

/// Takes the rows the policy refuses out of the plan: each becomes `refused` with its reason,
/// and nothing is sent for it.
pub fn refuse(plan: &mut Plan, rows: &[(u32, &'static str)]) {
    if rows.is_empty() {
        return;
    }
    let why: HashMap<u32, &str> = rows.iter().copied().collect();
    for r in &mut plan.rows {
        if let Some(reason) = why.get(&r.row) {
            r.actions = Actions::default();
            r.actions.push(ProvisionAction::Refused);
            r.problems.push(Problem::in_row(
                RowAt {
                    row: r.row,
                    line: r.line,
                },
                "",
                Severity::Error,
                reason,
            ));
        }
    }
    plan.counts = count_actions(&plan.rows);
}

/// What changes for a row that sends something, in one line (see [`PlanRow::message`]).
pub(super) fn describe(row: &PlanRow) -> String {
    let mut parts: Vec<String> = Vec::new();
    if row.actions.contains(&ProvisionAction::Create) {
        parts.push("create".into());
    }
    for (f, old, new) in &row.field_changes {
        parts.push(format!(
            "{f}: {} -> {new}",
            if old.is_empty() { "(none)" } else { old }
        ));
    }
    for (a, old, new) in row.attribute_changes() {
        let new = if new.is_empty() { "(cleared)" } else { new };
        parts.push(format!(
            "{a}: {} -> {new}",
            if old.is_empty() { "(none)" } else { old }
        ));
    }
    if parts.is_empty() {
        "already as the sheet says".into()
    } else {
        parts.join("; ")
    }
}

/// The Plan sheet's columns before the attributes' (one column per attribute the sheet sets
/// follows them, then [`PLAN_COLUMNS_AFTER`]). Stable: the README's "Create users" lists them.
pub const PLAN_COLUMNS_BEFORE: [&str; 7] = [
    "Row",
    "Name",
    "Email",
    "Username",
    "Plan",
    "User type",
    "Language",
];

/// The Plan sheet's columns after the attributes'.
pub const PLAN_COLUMNS_AFTER: [&str; 3] = ["Unique identifier", "Changes", "Problems"];

/// The header of an attribute's column: its name, or "NAME (attribute)" when the name is one of
/// the plan's own columns (an attribute called "Plan" must not hide the plan).
fn attribute_header(name: &str) -> String {
    if PLAN_COLUMNS_BEFORE
        .iter()
        .chain(&PLAN_COLUMNS_AFTER)
        .any(|c| c.eq_ignore_ascii_case(name.trim()))
    {
        format!("{name} (attribute)")
    } else {
        name.to_string()
    }
}

/// The Changes cell of the Plan sheet: nothing for a row that sends nothing; for a new account,
/// the fields it is created with that have no column of their own (time zone, division,
/// expiry: its name, e-mail, user type, language and attributes have theirs); otherwise what
/// differs from the existing account or participant.
fn changes_cell(row: &PlanRow) -> String {
    if !row.sends() {
        return String::new();
    }
    if row.actions.contains(&ProvisionAction::Create) {
        return [
            Field::TimeZone,
            Field::DivisionId,
            Field::AccountExpirationDate,
        ]
        .iter()
        .filter_map(|f| row.field(*f).map(|v| format!("{}: {v}", f.api_name())))
        .collect::<Vec<_>>()
        .join("; ");
    }
    describe(row)
}

/// The plan as a table (the Plan sheet): the person first (name, e-mail, username), what is
/// done, the user type and language, one column per attribute the sheet sets (blank where the
/// row sets none, "(cleared)" where it clears it), then the unique identifier, the changes and
/// the problems. The password never appears. Cells are data: hosts write them through the
/// formula-injection guard as every cell.
pub fn plan_table(plan: &Plan) -> Table {
    let mut columns: Vec<String> = PLAN_COLUMNS_BEFORE.map(String::from).to_vec();
    columns.extend(plan.attribute_columns.iter().map(|a| attribute_header(a)));
    columns.extend(PLAN_COLUMNS_AFTER.map(String::from));
    Table {
        columns,
        rows: plan
            .rows
            .iter()
            .map(|r| {
                let name = [r.field(Field::FirstName), r.field(Field::LastName)]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut row = vec![
                    r.row.to_string(),
                    name,
                    r.field(Field::Email).unwrap_or("").to_string(),
                    r.username().to_string(),
                    r.actions
                        .iter()
                        .map(|a| a.label())
                        .collect::<Vec<_>>()
                        .join(" + "),
                    r.user_type_as_written().to_string(),
                    r.field(Field::Language).unwrap_or("").to_string(),
                ];
                row.extend(plan.attribute_columns.iter().map(|a| match r.attribute(a) {
                    None => String::new(),
                    Some("") => "(cleared)".to_string(),
                    Some(v) => v.to_string(),
                }));
                row.extend([
                    r.unique_identifier.clone().unwrap_or_default(),
                    changes_cell(r),
                    r.problems
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join(" "),
                ]);
                row
            })
            .map(cells)
            .collect(),
        row_numbers: plan.rows.iter().map(|r| r.row).collect(),
        lines: Vec::new(),
    }
}
