//! Provisioning: create users from sheet rows and give them the CX directory attributes that
//! put them in the right dashboard roles.
//!
//! Two routes, chosen per run:
//! - [`Route::AccountAndAttributes`]: `POST /users` for new accounts (`PUT` for changed
//!   fields of existing ones), then one listing of the directory to learn the
//!   uniqueIdentifier Qualtrics gave each new user, then `import-participants` jobs with the
//!   attributes. A create that got no answer is never repeated blindly: one listing of the
//!   brand's users says whether it exists before it is tried again.
//! - [`Route::DirectoryImport`]: `import-participants` jobs keyed by the sheet's own
//!   uniqueIdentifier, which create the dashboard user and its attributes in one job.
//!
//! Blank means keep: a blank attribute cell never clears a value; [`CLEAR_MARKER`] does. As a
//! JSON import honours only the metadata keys common to all its participants and a blank value
//! deletes the attribute, every participant of a job carries the same keys: its own changes,
//! and its current value for every other key of the job.
//!
//! The flow, a file each, as every kind has it: `checks` (each row's cells, with `columns`:
//! which column is which field or attribute), `plan` (rows against the brand, the Plan
//! sheet), `steps` (the requests of one row or one import job), `apply` ([`ProvisionApply`]: the phases of a run) and
//! `outcomes` (each row's result, written beside the input). The model types and the
//! [`template`] live here.

mod apply;
mod checks;
mod columns;
mod outcomes;
mod plan;
mod steps;

pub use apply::ProvisionApply;
pub(crate) use columns::OUTPUT_COLUMNS;
pub use outcomes::{outcome_column_names, outcome_table};
pub(crate) use plan::recount;
pub use plan::{
    attributes_allowed, brand_needs, plan, plan_table, plan_with_records, record_reads, refuse,
    sheet_usernames, touches, BrandNeeds, PLAN_COLUMNS_AFTER, PLAN_COLUMNS_BEFORE,
};
pub use steps::{AccountStep, CreateResult, ImportStep, ProvisionStep};

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::sheet::table::{Cell, Table};
use crate::time::Date;

use plan::describe;

/// The template sheet: every column the tool knows, and one example row.
#[must_use]
pub fn template() -> Table {
    Table {
        columns: [
            "Username",
            "First name",
            "Last name",
            "Email",
            "User type",
            "Password",
            "Language",
            "Time zone",
            "Division",
            "Expiration date",
            "Unique identifier",
            "Role",
            "Responsibility",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![[
            "jane.doe@example.org",
            "Jane",
            "Doe",
            "jane.doe@example.org",
            // An ordinary user type's id (a placeholder, as the lifecycle template's `UR_` id):
            // an example never makes a Brand Administrator.
            "UT_0123456789abcde",
            "Change-me-2026",
            "en",
            "America/Denver",
            "",
            "2027-06-30",
            "E1001",
            "Manager",
            "Seattle::Provo",
        ]
        .map(Cell::new)
        .to_vec()],
        row_numbers: Vec::new(),
        lines: Vec::new(),
    }
}

/// The marker that clears an attribute (a blank cell keeps it).
pub const CLEAR_MARKER: &str = "<clear>";
/// Characters Qualtrics refuses in user fields.
pub const FORBIDDEN_CHARACTERS: &str = "=;~!&*%{}<>[]|\\\"^";

/// A user field a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Field {
    /// Login name.
    Username,
    /// First name.
    FirstName,
    /// Last name.
    LastName,
    /// E-mail.
    Email,
    /// `UT_…` id or a known name.
    UserType,
    /// Initial password (creation only; never written back).
    Password,
    /// Language code.
    Language,
    /// IANA time zone.
    TimeZone,
    /// `DV_…` id or a known division name.
    DivisionId,
    /// ISO date.
    AccountExpirationDate,
    /// The CX directory key.
    UniqueIdentifier,
}

impl Field {
    /// Qualtrics' name of the field.
    #[must_use]
    pub fn api_name(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::FirstName => "firstName",
            Field::LastName => "lastName",
            Field::Email => "email",
            Field::UserType => "userType",
            Field::Password => "password",
            Field::Language => "language",
            Field::TimeZone => "timeZone",
            Field::DivisionId => "divisionId",
            Field::AccountExpirationDate => "accountExpirationDate",
            Field::UniqueIdentifier => "uniqueIdentifier",
        }
    }

    /// The headers (normalised) read as this field's column.
    pub(crate) fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Username => &["username", "login", "loginname"],
            Field::FirstName => &["firstname", "givenname", "first"],
            Field::LastName => &["lastname", "surname", "familyname", "last"],
            Field::Email => &["email", "emailaddress", "mail"],
            Field::UserType => &["usertype", "accounttype", "type"],
            Field::Password => &["password", "initialpassword"],
            Field::Language => &["language", "lang"],
            Field::TimeZone => &["timezone", "tz"],
            Field::DivisionId => &["divisionid", "division"],
            Field::AccountExpirationDate => &[
                "accountexpirationdate",
                "expirationdate",
                "expirydate",
                "expires",
            ],
            Field::UniqueIdentifier => &["uniqueidentifier", "uniqueid", "externaldatareference"],
        }
    }

    /// Every field, in the template's order.
    pub(crate) const ALL: [Field; 11] = [
        Field::Username,
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::UserType,
        Field::Password,
        Field::Language,
        Field::TimeZone,
        Field::DivisionId,
        Field::AccountExpirationDate,
        Field::UniqueIdentifier,
    ];
}

use crate::sheet::problem::RowAt;
pub use crate::sheet::problem::{Problem, Severity};

/// The two ways to provision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Route {
    /// `POST /users`, then the attributes through a directory import.
    AccountAndAttributes,
    /// A directory import with the sheet's own uniqueIdentifier.
    DirectoryImport,
}

/// Planning options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionOptions {
    /// The route.
    pub route: Route,
    /// Today (UTC).
    pub today: Date,
    /// User type names the user gave (no API lists user types), lower-cased name -> `UT_` id.
    pub user_types: BTreeMap<String, String>,
    /// Division names known for the brand, lower-cased name -> `DV_` id.
    pub divisions: BTreeMap<String, String>,
    /// Participants per import job.
    pub job_size: usize,
    /// Attributes the administrator allows the run to create (CLI `--new-attribute NAME`, a
    /// tick on the page; every attribute a hook's configuration or a Roles sheet names). An
    /// attribute column no one in the brand has yet, and not named here, stops the plan: a
    /// misspelt column must not create a stray attribute on every account. Matched ignoring
    /// case, spaces and punctuation, as columns are.
    pub new_attributes: BTreeSet<String>,
}

/// An attribute change asked for by a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AttrValue {
    Set(Cell),
    Clear,
}

/// One slot per [`Field`] (a map's API, without its allocations or its lookups: a row's
/// checked values and the sheet's field columns are used 100,000 times for a big sheet).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PerField<T>([Option<T>; Field::ALL.len()]);

/// A row's checked user fields.
type FieldValues = PerField<Cell>;

impl<T> Default for PerField<T> {
    fn default() -> Self {
        PerField(std::array::from_fn(|_| None))
    }
}

impl<T> PerField<T> {
    fn get(&self, field: &Field) -> Option<&T> {
        self.0[*field as usize].as_ref()
    }

    fn contains_key(&self, field: &Field) -> bool {
        self.0[*field as usize].is_some()
    }

    fn insert(&mut self, field: Field, value: T) {
        self.0[field as usize] = Some(value);
    }

    /// The fields that have a value, in [`Field`] order.
    fn iter(&self) -> impl Iterator<Item = (&'static Field, &T)> {
        const ALL: [Field; Field::ALL.len()] = Field::ALL;
        ALL.iter()
            .zip(&self.0)
            .filter_map(|(f, v)| v.as_ref().map(|v| (f, v)))
    }
}

/// What the plan does for a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ProvisionAction {
    /// Create the account (or the directory participant, on the import route).
    #[serde(rename = "create user")]
    Create,
    /// Change fields of an existing account.
    #[serde(rename = "update user fields")]
    Update,
    /// Change attributes.
    #[serde(rename = "set attributes")]
    SetAttributes,
    /// Nothing to change.
    #[serde(rename = "unchanged")]
    Unchanged,
    /// Not sent: see the diagnostics.
    #[serde(rename = "invalid")]
    Invalid,
    /// Not sent: the policy refuses it (see [`crate::policy`]).
    #[serde(rename = "refused")]
    Refused,
}

impl ProvisionAction {
    /// Every action, in the order plans count them.
    const ALL: [ProvisionAction; 6] = [
        ProvisionAction::Create,
        ProvisionAction::Update,
        ProvisionAction::SetAttributes,
        ProvisionAction::Unchanged,
        ProvisionAction::Invalid,
        ProvisionAction::Refused,
    ];

    /// The label shown in the plan.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            ProvisionAction::Create => "create user",
            ProvisionAction::Update => "update user fields",
            ProvisionAction::SetAttributes => "set attributes",
            ProvisionAction::Unchanged => "unchanged",
            ProvisionAction::Invalid => "invalid",
            ProvisionAction::Refused => "refused",
        }
    }
}

/// What the plan does for a row: one or two actions (a new user with attributes is
/// "create user" + "set attributes"), kept inline (no allocation per row). Reads as a slice.
/// Each action at most once, so there is room for every one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    len: u8,
    items: [ProvisionAction; ProvisionAction::ALL.len()],
}

impl Default for Actions {
    fn default() -> Self {
        Actions {
            len: 0,
            items: ProvisionAction::ALL,
        }
    }
}

impl Actions {
    fn push(&mut self, action: ProvisionAction) {
        if !self.contains(&action) {
            self.items[usize::from(self.len)] = action;
            self.len += 1;
        }
    }
}

impl std::ops::Deref for Actions {
    type Target = [ProvisionAction];
    fn deref(&self) -> &[ProvisionAction] {
        &self.items[..usize::from(self.len)]
    }
}

impl Serialize for Actions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRow {
    /// Sheet row number, as a spreadsheet shows it.
    pub row: u32,
    /// The file line the row starts on, when not `row` (see [`crate::sheet::problem::RowAt`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What will happen (several for a new user with attributes).
    pub actions: Actions,
    /// The account, when it exists.
    pub user_id: Option<String>,
    /// The directory key, when known.
    pub unique_identifier: Option<String>,
    /// Field changes: (field, old, new).
    pub field_changes: Vec<(Cell, Cell, Cell)>,
    /// Errors and warnings of this row.
    pub problems: Vec<Problem>,
    #[serde(skip)]
    fields: FieldValues,
    /// The attribute cells that say something, in name order, with what each changes.
    #[serde(skip)]
    attributes: Vec<AttributeCell>,
    /// The user type's name as the sheet wrote it, when it wrote a name (the field holds the
    /// `UT_` id the name stands for).
    #[serde(skip)]
    user_type_name: Option<Cell>,
}

/// An attribute cell that says something (blank cells keep the value and are not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttributeCell {
    name: Cell,
    value: AttrValue,
    /// The participant's value at plan time, if any.
    old: Option<Cell>,
    /// True when applying changes the participant (false: it already holds this value).
    changes: bool,
}

impl PlanRow {
    /// Attribute changes: (attribute, old value or "", new value or "" when cleared).
    pub fn attribute_changes(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.attributes.iter().filter(|a| a.changes).map(|a| {
            let new = match &a.value {
                AttrValue::Set(v) => v.as_str(),
                AttrValue::Clear => "",
            };
            (a.name.as_str(), a.old.as_deref().unwrap_or(""), new)
        })
    }

    /// `row:N`, the key of the row's steps and outcome.
    #[must_use]
    pub fn key(&self) -> Cell {
        row_key(self.row)
    }

    /// The value the row gives `field` (user types and divisions as ids), if any.
    #[must_use]
    pub fn field(&self, field: Field) -> Option<&str> {
        self.fields.get(&field).map(Cell::as_str)
    }

    /// The username the sheet gives ("" when it gives none).
    pub fn username(&self) -> &str {
        self.fields.get(&Field::Username).map_or("", Cell::as_str)
    }

    /// Row `row`, nothing planned yet.
    fn new(at: RowAt) -> PlanRow {
        PlanRow {
            row: at.row,
            line: at.line,
            actions: Actions::default(),
            user_id: None,
            unique_identifier: None,
            field_changes: Vec::new(),
            problems: Vec::new(),
            fields: FieldValues::default(),
            attributes: Vec::new(),
            user_type_name: None,
        }
    }

    /// The user type as the sheet names it: the name the administrator wrote, else the `UT_`
    /// id ("" when the row gives none).
    #[must_use]
    pub fn user_type_as_written(&self) -> &str {
        self.user_type_name
            .as_deref()
            .or_else(|| self.field(Field::UserType))
            .unwrap_or("")
    }

    /// The value the row sets for attribute `name`: `Some("")` when it clears it, `None` when
    /// its cell is blank (kept).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| match &a.value {
                AttrValue::Set(v) => v.as_str(),
                AttrValue::Clear => "",
            })
    }

    /// A one-line summary: the errors of an invalid row, otherwise what changes. Built when
    /// shown, so planning a big sheet does not format text nobody reads.
    #[must_use]
    pub fn message(&self) -> String {
        if self.actions.contains(&ProvisionAction::Invalid)
            || self.actions.contains(&ProvisionAction::Refused)
        {
            self.problems
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            describe(self)
        }
    }

    /// True when something will be sent for this row.
    #[must_use]
    pub fn sends(&self) -> bool {
        self.actions.iter().any(|a| {
            matches!(
                a,
                ProvisionAction::Create | ProvisionAction::Update | ProvisionAction::SetAttributes
            )
        })
    }
}

/// A column naming an attribute no one in the brand has yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct NewAttribute {
    /// The sheet's column.
    pub column: String,
    /// The attribute's name, as it would be created.
    pub name: String,
    /// Whether the options allow creating it ([`ProvisionOptions::new_attributes`]).
    pub allowed: bool,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The route.
    pub route: Route,
    /// One entry per input row.
    pub rows: Vec<PlanRow>,
    /// Problems with the file as a whole: nothing of it is applied (when its columns cannot
    /// be read, nothing is planned either; a new attribute not allowed still shows its plan).
    pub file_errors: Vec<Problem>,
    /// Warnings about the sheet as a whole that plan anyway (a column naming an attribute no
    /// one in the brand has yet, allowed to be created).
    pub notes: Vec<Problem>,
    /// The columns naming attributes no one in the brand has yet, and whether the run may
    /// create each (a host offers a tick per attribute not allowed yet).
    pub new_attributes: Vec<NewAttribute>,
    /// Rows per action label.
    pub counts: Vec<(String, usize)>,
    #[serde(skip)]
    job_size: usize,
    /// The attributes some row sets (or clears), in the sheet's column order, as named in the
    /// brand: a column each in [`plan_table`].
    #[serde(skip)]
    attribute_columns: Vec<Cell>,
}

impl Plan {
    /// Rows that send something.
    #[must_use]
    pub fn changes(&self) -> usize {
        self.rows.iter().filter(|r| r.sends()).count()
    }
}

/// `row:N`, the key of row N's steps and outcome (built without the formatting machinery:
/// this runs once per row of a big sheet).
fn row_key(row: u32) -> Cell {
    let mut key = smol_str::SmolStrBuilder::new();
    key.push_str("row:");
    key.push_str(itoa::Buffer::new().format(row));
    key.finish()
}

/// Whether a column of a sheet (`header`, as written) holds passwords, as provisioning reads
/// them ("Password", "Initial password", "initial_password", …): every host that keeps or shows
/// a row blanks such cells (the hooks' stored rows and event details, outcome files).
#[must_use]
pub fn is_password_column(header: &str) -> bool {
    Field::Password
        .aliases()
        .contains(&crate::sheet::columns::normalise_header(header).as_str())
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
