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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::columns::normalise_header;
use crate::connection::Connection;
use crate::directory::{self, ImportParticipant, Participant};
use crate::envelope;
use crate::error::ApiError;
use crate::exec::{JournalEntry, Outcome, OutcomeStatus, Step, StepUpdate};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::reference::{is_language, is_time_zone};
use crate::table::{cells, Cell, Table};
use crate::time::{iso_datetime, Date, UnixMillis};
use crate::users::{self, UserSummary};

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

    fn aliases(self) -> &'static [&'static str] {
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

    const ALL: [Field; 11] = [
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

/// Columns that are our own output, never input attributes.
const OUTPUT_COLUMNS: &[&str] = &["status", "message", "userid", "outcomeuserid", "appliedat"];

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is not sent.
    Error,
    /// Fixed or noted; the row is still sent.
    Warning,
}

/// A problem found in the sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// Sheet row number (0 for the file as a whole).
    pub row: u32,
    /// Column, as the sheet names it.
    pub column: String,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and what to do.
    pub message: String,
}

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
}

impl ProvisionAction {
    /// Every action, in the order plans count them.
    const ALL: [ProvisionAction; 5] = [
        ProvisionAction::Create,
        ProvisionAction::Update,
        ProvisionAction::SetAttributes,
        ProvisionAction::Unchanged,
        ProvisionAction::Invalid,
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
    /// Sheet row number.
    pub row: u32,
    /// What will happen (several for a new user with attributes).
    pub actions: Actions,
    /// The account, when it exists.
    pub user_id: Option<String>,
    /// The directory key, when known.
    pub unique_identifier: Option<String>,
    /// Field changes: (field, old, new).
    pub field_changes: Vec<(Cell, Cell, Cell)>,
    /// Errors and warnings of this row.
    pub diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    fields: FieldValues,
    /// The attribute cells that say something, in name order, with what each changes.
    #[serde(skip)]
    attributes: Vec<AttributeCell>,
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

    /// The username the sheet gives ("" when it gives none).
    pub fn username(&self) -> &str {
        self.fields.get(&Field::Username).map_or("", Cell::as_str)
    }

    /// Row `row`, nothing planned yet.
    fn new(row: u32) -> PlanRow {
        PlanRow {
            row,
            actions: Actions::default(),
            user_id: None,
            unique_identifier: None,
            field_changes: Vec::new(),
            diagnostics: Vec::new(),
            fields: FieldValues::default(),
            attributes: Vec::new(),
        }
    }

    /// A one-line summary: the errors of an invalid row, otherwise what changes. Built when
    /// shown, so planning a big sheet does not format text nobody reads.
    #[must_use]
    pub fn message(&self) -> String {
        if self.actions.contains(&ProvisionAction::Invalid) {
            self.diagnostics
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

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The route.
    pub route: Route,
    /// One entry per input row.
    pub rows: Vec<PlanRow>,
    /// Problems with the file as a whole (then nothing is planned).
    pub file_errors: Vec<Diagnostic>,
    /// Warnings about the sheet as a whole that plan anyway (a column naming an attribute no
    /// one in the brand has yet).
    pub notes: Vec<Diagnostic>,
    /// Rows per action label.
    pub counts: Vec<(String, usize)>,
    #[serde(skip)]
    job_size: usize,
}

impl Plan {
    /// Rows that send something.
    #[must_use]
    pub fn changes(&self) -> usize {
        self.rows.iter().filter(|r| r.sends()).count()
    }
}

struct ColumnMap {
    fields: PerField<usize>,
    attributes: Vec<(Cell, usize)>,
}

fn map_columns(columns: &[String]) -> Result<ColumnMap, Vec<Diagnostic>> {
    let mut fields: PerField<usize> = PerField::default();
    let mut attributes = Vec::new();
    let mut errors = Vec::new();
    let mut attribute_names: HashMap<String, usize> = HashMap::new();
    for (i, name) in columns.iter().enumerate() {
        let norm = normalise_header(name);
        if name.trim().is_empty()
            || OUTPUT_COLUMNS.contains(&norm.as_str())
            || norm == "uniqueidentifier" && fields.contains_key(&Field::UniqueIdentifier)
        {
            if norm == "uniqueidentifier" {
                errors.push(file_error(name, format!("Columns \"{}\" and \"{name}\" both mean uniqueIdentifier: keep one of them.", columns[fields.get(&Field::UniqueIdentifier).copied().unwrap_or_default()])));
            }
            continue;
        }
        match Field::ALL
            .into_iter()
            .find(|f| f.aliases().contains(&norm.as_str()))
        {
            Some(field) => {
                if let Some(first) = fields.get(&field) {
                    errors.push(file_error(
                        name,
                        format!(
                            "Columns \"{}\" and \"{name}\" both mean {}: keep one of them.",
                            columns[*first],
                            field.api_name()
                        ),
                    ));
                } else {
                    fields.insert(field, i);
                }
            }
            None => {
                let attr = name.trim().to_string();
                if let Some(first) = attribute_names.get(&attr.to_lowercase()) {
                    errors.push(file_error(name, format!("Columns \"{}\" and \"{name}\" name the same attribute: keep one of them.", columns[*first])));
                } else {
                    attribute_names.insert(attr.to_lowercase(), i);
                    attributes.push((Cell::from(attr), i));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(ColumnMap { fields, attributes })
    } else {
        Err(errors)
    }
}

/// One of [`FORBIDDEN_CHARACTERS`] (all ASCII: a text's bytes can be searched for them).
fn is_forbidden(ch: char) -> bool {
    matches!(
        ch,
        '=' | ';'
            | '~'
            | '!'
            | '&'
            | '*'
            | '%'
            | '{'
            | '}'
            | '<'
            | '>'
            | '['
            | ']'
            | '|'
            | '\\'
            | '"'
            | '^'
    )
}

fn file_error(column: &str, message: String) -> Diagnostic {
    Diagnostic {
        row: 0,
        column: column.to_string(),
        severity: Severity::Error,
        message,
    }
}

fn is_email(s: &str) -> bool {
    // Byte-wise: '@', '.' and '-' are ASCII; white space is looked for by character only when
    // the address has a non-ASCII character.
    let bytes = s.as_bytes();
    let Some(at) = bytes.iter().position(|b| *b == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    let white = if s.is_ascii() {
        // char::is_whitespace also takes the vertical tab, which u8's ASCII test does not.
        bytes.iter().any(|b| b.is_ascii_whitespace() || *b == 0x0b)
    } else {
        s.chars().any(char::is_whitespace)
    };
    !local.is_empty()
        && !domain.contains(&b'@')
        && !white
        && domain.contains(&b'.')
        && domain.split(|b| *b == b'.').all(|label| {
            !label.is_empty() && label.first() != Some(&b'-') && label.last() != Some(&b'-')
        })
}

/// The parts of a `::` list (`str::split("::")` without building a substring searcher per
/// call: this runs for every attribute cell of a big sheet).
fn list_parts(value: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.as_bytes().windows(2).position(|w| w == b"::") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// True when `value` is a `::` list.
fn is_list(value: &str) -> bool {
    let bytes = value.as_bytes();
    memchr::memchr(b':', bytes).is_some_and(|at| bytes[at..].windows(2).any(|w| w == b"::"))
}

/// Normalises a `::` list: trims parts (a warning) and drops repeated parts (a warning);
/// an empty part is an error. `None` when the value stays as it is (most values).
fn normalise_list(value: &str) -> Result<(Option<Cell>, Vec<String>), String> {
    if !is_list(value) {
        return Ok((None, Vec::new()));
    }
    // The common list (a few parts, no spaces, none repeated) is checked in one pass, without
    // allocating.
    const FEW: usize = 16;
    let mut seen = [""; FEW];
    let mut count = 0;
    let plain = list_parts(value).all(|part| {
        let fine = count < FEW
            && !part.is_empty()
            && trim(part).len() == part.len()
            && !seen[..count].contains(&part);
        if fine {
            seen[count] = part;
            count += 1;
        }
        fine
    });
    if plain {
        return Ok((None, Vec::new()));
    }
    let mut warnings = Vec::new();
    let mut seen = HashSet::new();
    let mut parts = Vec::new();
    for part in list_parts(value) {
        let trimmed = part.trim();
        if trimmed.is_empty() {
            return Err(
                "has an empty part in its :: list (two :: in a row, or :: at an end): remove it."
                    .into(),
            );
        }
        if trimmed != part && warnings.is_empty() {
            warnings.push("spaces around :: parts were removed".to_string());
        }
        if seen.insert(trimmed) {
            parts.push(trimmed);
        } else {
            warnings.push(format!("\"{trimmed}\" was listed twice; kept once"));
        }
    }
    if warnings.is_empty() {
        return Ok((None, warnings));
    }
    Ok((Some(Cell::from(parts.join("::"))), warnings))
}

/// Two `::` lists mean the same thing when they hold the same parts, in any order.
fn same_value(a: &str, b: &str) -> bool {
    fn parts(s: &str) -> BTreeSet<&str> {
        list_parts(s).map(str::trim).collect()
    }
    a == b || (is_list(a) || is_list(b)) && parts(a) == parts(b)
}

/// `s` without leading and trailing white space (`str::trim`, with a shortcut for the usual
/// cell that starts and ends with a visible ASCII character).
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `s` in lower case, borrowed when it already is (most usernames are).
fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
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

/// The usernames and uniqueIdentifiers seen so far in a sheet (each once per sheet), keyed by
/// the cells themselves: no copy per row.
struct SeenKeys<'t> {
    usernames: FxHashMap<Cow<'t, str>, u32>,
    uids: FxHashMap<&'t str, u32>,
    /// (first row, its column, the key, the later row naming it again): the first row of an
    /// account named twice sends nothing either.
    repeated: Vec<(u32, String, String, u32)>,
}

impl SeenKeys<'_> {
    fn for_rows(rows: usize) -> Self {
        SeenKeys {
            usernames: FxHashMap::with_capacity_and_hasher(rows, Default::default()),
            uids: FxHashMap::default(),
            repeated: Vec::new(),
        }
    }
}

/// Refuses the first row of each account that a later row names again: two rows for one
/// account may ask for different things, so neither is sent until one of them is removed.
fn refuse_first_of_repeated(rows: &mut [PlanRow], repeated: Vec<(u32, String, String, u32)>) {
    let mut refused = HashSet::new();
    for (first, column, key, later) in repeated {
        let Some(row) = rows.iter_mut().find(|r| r.row == first) else {
            continue;
        };
        if !refused.insert(first) {
            continue;
        }
        row.actions = Actions::default();
        row.actions.push(ProvisionAction::Invalid);
        row.diagnostics.push(diagnostic(
            first,
            &column,
            Severity::Error,
            &format!("\"{key}\" is also on row {later}: nothing is sent for this account until one of the rows is removed."),
        ));
    }
}

/// Why a field's value was refused (its message is only written for the rows that need it).
enum Refused {
    Email,
    Forbidden(char),
    UserType,
    Division,
    Language,
    TimeZone,
    Date,
    PastDate(Date),
}

impl Refused {
    /// What the user reads, for the (trimmed) `value`.
    #[cold]
    fn message(self, value: &str) -> String {
        match self {
            Refused::Email => format!("\"{value}\" is not an e-mail address: write it as name@example.org."),
            Refused::Forbidden(ch) => format!("contains {ch}, which Qualtrics does not allow in user fields ({FORBIDDEN_CHARACTERS}): remove it."),
            Refused::UserType => format!("\"{value}\" is not a user type id (UT_…) nor a user type name given in the settings: use the id from Admin > User types, or add the name."),
            Refused::Division => format!("\"{value}\" is not a division id (DV_…) nor the name of a division of this brand."),
            Refused::Language => format!("\"{value}\" is not a language code: use a code such as en, de, fr or pt-BR."),
            Refused::TimeZone => format!("\"{value}\" is not a time zone: use an IANA name such as America/Denver or Europe/Berlin."),
            Refused::Date => format!("\"{value}\" is not a date: write it as YYYY-MM-DD."),
            Refused::PastDate(d) => format!("{} is in the past: give today or a later date, or leave it blank.", d.iso()),
        }
    }
}

/// Checks one non-blank, trimmed field value: `None` when it is sent as it is, or the value to
/// send instead (a user type or division id for its name, the date-time for a date).
fn check_field(
    field: Field,
    value: &str,
    options: &ProvisionOptions,
) -> Result<Option<Cell>, Refused> {
    match field {
        Field::Email if !is_email(value) => Err(Refused::Email),
        Field::Username | Field::FirstName | Field::LastName => {
            match value.bytes().find(|b| is_forbidden(char::from(*b))) {
                Some(b) => Err(Refused::Forbidden(char::from(b))),
                None => Ok(None),
            }
        }
        Field::UserType if !value.starts_with("UT_") => {
            let id = options.user_types.get(&value.to_lowercase());
            id.map(|id| Some(Cell::new(id))).ok_or(Refused::UserType)
        }
        Field::DivisionId if !value.starts_with("DV_") => {
            let id = options.divisions.get(&value.to_lowercase());
            id.map(|id| Some(Cell::new(id))).ok_or(Refused::Division)
        }
        Field::Language if !is_language(value) => Err(Refused::Language),
        Field::TimeZone if !is_time_zone(value) => Err(Refused::TimeZone),
        Field::AccountExpirationDate => match Date::parse_iso(value) {
            None => Err(Refused::Date),
            Some(d) if d < options.today => Err(Refused::PastDate(d)),
            Some(d) => Ok(Some(d.qualtrics_datetime_cell())),
        },
        _ => Ok(None),
    }
}

/// A diagnostic of `row` naming its column (built only for rows that have something to say).
#[cold]
fn diagnostic(row: u32, column: &str, severity: Severity, message: &str) -> Diagnostic {
    Diagnostic {
        row,
        column: column.to_string(),
        severity,
        message: format!("Row {row}, {column}: {message}"),
    }
}

/// Checks row `i` of `table` into `input`: its fields and attributes, and its keys against the
/// rows before.
fn check_row<'t>(
    table: &'t Table,
    i: usize,
    map: &ColumnMap,
    options: &ProvisionOptions,
    seen: &mut SeenKeys<'t>,
    input: &mut PlanRow,
) {
    let row = input.row;
    let mut diag = |column: &str, severity: Severity, message: String| {
        input
            .diagnostics
            .push(diagnostic(row, column, severity, &message));
    };
    let cells = &table.rows[i];
    // A row may be shorter than the header (a table handed over by a host): missing is blank.
    let text = |c: usize| cells.get(c).map_or("", Cell::as_str);
    for (field, &c) in map.fields.iter() {
        let raw = text(c);
        let value = trim(raw);
        if value.len() != raw.len() && !value.is_empty() && *field != Field::Password {
            diag(
                &table.columns[c],
                Severity::Warning,
                "spaces at the start or end were removed.".into(),
            );
        }
        if value.is_empty() {
            continue;
        }
        match check_field(*field, value, options) {
            // The cell itself when nothing was trimmed: a copy of its 24 bytes, not of its text.
            Ok(None) if value.len() == raw.len() => input.fields.insert(*field, cells[c].clone()),
            Ok(None) => input.fields.insert(*field, Cell::new(value)),
            Ok(Some(v)) => input.fields.insert(*field, v),
            Err(why) => diag(&table.columns[c], Severity::Error, why.message(value)),
        }
    }
    input.attributes.reserve_exact(map.attributes.len());
    for (name, c) in &map.attributes {
        let raw = text(*c);
        let value = trim(raw);
        if value.is_empty() {
            continue; // blank means keep
        }
        if value.eq_ignore_ascii_case(CLEAR_MARKER) {
            input.attributes.push(AttributeCell {
                name: name.clone(),
                value: AttrValue::Clear,
                old: None,
                changes: false,
            });
            continue;
        }
        if value.len() != raw.len() {
            diag(
                name,
                Severity::Warning,
                "spaces at the start or end were removed.".into(),
            );
        }
        match normalise_list(value) {
            Ok((v, warnings)) => {
                let v = v.unwrap_or_else(|| {
                    if value.len() == raw.len() {
                        cells[*c].clone()
                    } else {
                        Cell::new(value)
                    }
                });
                for w in warnings {
                    diag(name, Severity::Warning, format!("{w}."));
                }
                input.attributes.push(AttributeCell {
                    name: name.clone(),
                    value: AttrValue::Set(v),
                    old: None,
                    changes: false,
                });
            }
            Err(m) => diag(name, Severity::Error, m),
        }
    }
    // Checked (and reported) in column order; kept in name order, as the plan lists attribute
    // changes and a job's keys.
    input.attributes.sort_by(|a, b| a.name.cmp(&b.name));
    let column_of = |f: Field| {
        map.fields
            .get(&f)
            .map_or(f.api_name().to_string(), |c| table.columns[*c].clone())
    };
    let key_cell = |f: Field| {
        map.fields
            .get(&f)
            .map(|c| trim(text(*c)))
            .filter(|_| input.fields.contains_key(&f))
    };
    if let Some(u) = key_cell(Field::Username) {
        if let Some(first) = seen.usernames.insert(lowercase(u), row) {
            let m = format!("\"{u}\" is also on row {first}: each username once per sheet.");
            seen.repeated
                .push((first, column_of(Field::Username), u.to_string(), row));
            input.diagnostics.push(Diagnostic {
                row,
                column: column_of(Field::Username),
                severity: Severity::Error,
                message: format!("Row {row}, {}: {m}", column_of(Field::Username)),
            });
            seen.usernames.insert(lowercase(u), first);
        }
    }
    if let Some(u) = key_cell(Field::UniqueIdentifier) {
        if let Some(first) = seen.uids.insert(u, row) {
            let m =
                format!("\"{u}\" is also on row {first}: each unique identifier once per sheet.");
            seen.repeated.push((
                first,
                column_of(Field::UniqueIdentifier),
                u.to_string(),
                row,
            ));
            input.diagnostics.push(Diagnostic {
                row,
                column: column_of(Field::UniqueIdentifier),
                severity: Severity::Error,
                message: format!("Row {row}, {}: {m}", column_of(Field::UniqueIdentifier)),
            });
            seen.uids.insert(u, first);
        }
    }
    input.unique_identifier = input
        .fields
        .get(&Field::UniqueIdentifier)
        .map(Cell::to_string);
}

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

/// Plans a provisioning sheet against one listing of the brand's users and one of its
/// directory participants (with their attributes), and the journal of an earlier run.
pub fn plan(
    table: &Table,
    users: &[UserSummary],
    participants: &[Participant],
    journal: &[JournalEntry],
    options: &ProvisionOptions,
) -> Plan {
    let empty = |file_errors| Plan {
        route: options.route,
        rows: Vec::new(),
        file_errors,
        notes: Vec::new(),
        counts: Vec::new(),
        job_size: options.job_size,
    };
    if let Some(problem) = table.header_problem() {
        return empty(vec![file_error("", problem)]);
    }
    let mut map = match map_columns(&table.columns) {
        Ok(m) => m,
        Err(errors) => return empty(errors),
    };
    let notes = match_brand_attributes(&mut map, participants, &table.columns);
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
        rows.push(PlanRow::new(table.row_number(i)));
        let plan_row = rows.last_mut().expect("just pushed");
        check_row(table, i, &map, options, &mut seen, plan_row);
        let row = plan_row.row;
        let col = |f: Field| {
            map.fields
                .get(&f)
                .map_or(f.api_name().to_string(), |c| table.columns[*c].clone())
        };
        let require = |row: &mut PlanRow, fields: &[Field], why: &str| {
            for f in fields {
                if !row.fields.contains_key(f)
                    && !row
                        .diagnostics
                        .iter()
                        .any(|d| d.column == col(*f) && d.severity == Severity::Error)
                {
                    row.diagnostics.push(Diagnostic {
                        row: row.row,
                        column: col(*f),
                        severity: Severity::Error,
                        message: format!("Row {}, {}: empty, but needed {why}.", row.row, col(*f)),
                    });
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
            .diagnostics
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
                        plan_row.diagnostics.push(Diagnostic {
                            row,
                            column: col(Field::Password),
                            severity: Severity::Warning,
                            message: format!("Row {}, {}: the password is only used to create accounts; this account exists and keeps its own.", row, col(Field::Password)),
                        });
                    }
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
                            Some(old) if old.as_deref() == Some(new.as_str()) => {}
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
                                        Cell::new_static("(not listed)"),
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
                    plan_row.diagnostics.push(Diagnostic {
                        row,
                        column: col(f),
                        severity: Severity::Warning,
                        message: format!("Row {}, {}: not used by a directory import (it sets names, e-mail and attributes only).", row, col(f)),
                    });
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
    // One pass over the rows (each is a few hundred bytes: five passes were measurable).
    const ORDER: [ProvisionAction; 5] = ProvisionAction::ALL;
    let mut tally = [0usize; ORDER.len()];
    for r in &rows {
        for action in r.actions.iter() {
            if let Some(i) = ORDER.iter().position(|a| a == action) {
                tally[i] += 1;
            }
        }
    }
    let counts: Vec<(String, usize)> = ORDER
        .iter()
        .zip(tally)
        .filter(|(_, n)| *n > 0)
        .map(|(action, n)| (action.label().to_string(), n))
        .collect();
    Plan {
        route: options.route,
        rows,
        file_errors: Vec::new(),
        notes,
        counts,
        job_size: options.job_size.max(1),
    }
}

/// Gives each attribute column the name the brand already uses for it, matched ignoring case,
/// spaces and punctuation (an HR export's `role` sets the brand's `Role` instead of creating a
/// second attribute beside it), and warns about each attribute no participant has yet: it will
/// be created new. Without participants (validate, or a brand with an empty directory) the
/// brand's names are unknown and nothing is renamed or warned about.
fn match_brand_attributes(
    map: &mut ColumnMap,
    participants: &[Participant],
    columns: &[String],
) -> Vec<Diagnostic> {
    if participants.is_empty() || map.attributes.is_empty() {
        return Vec::new();
    }
    let mut brand: HashMap<String, &str> = HashMap::new();
    for p in participants {
        for name in p.metadata.keys() {
            brand.entry(normalise_header(name)).or_insert(name.as_str());
        }
    }
    let mut notes = Vec::new();
    for (name, c) in &mut map.attributes {
        match brand.get(&normalise_header(name.as_str())) {
            Some(existing) if *existing != name.as_str() => *name = Cell::from(*existing),
            Some(_) => {}
            None => notes.push(Diagnostic {
                row: 0,
                column: columns[*c].clone(),
                severity: Severity::Warning,
                message: format!(
                    "Column \"{}\": no one in the brand has the attribute \"{name}\" yet, so it will be created as a new attribute. If you meant an existing one, rename the column to its name.",
                    columns[*c]
                ),
            }),
        }
    }
    notes
}

fn describe(row: &PlanRow) -> String {
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

/// The plan as a table (the Plan sheet). The password never appears.
pub fn plan_table(plan: &Plan) -> Table {
    Table {
        columns: [
            "Row",
            "Username",
            "Unique identifier",
            "Plan",
            "Changes",
            "Problems",
        ]
        .map(String::from)
        .to_vec(),
        rows: plan
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.row.to_string(),
                    r.username().to_string(),
                    r.unique_identifier.clone().unwrap_or_default(),
                    r.actions
                        .iter()
                        .map(|a| a.label())
                        .collect::<Vec<_>>()
                        .join(" + "),
                    if r.sends() {
                        r.message()
                    } else {
                        String::new()
                    },
                    r.diagnostics
                        .iter()
                        .map(|d| d.message.clone())
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .map(cells)
            .collect(),
        row_numbers: plan.rows.iter().map(|r| r.row).collect(),
    }
}

/// The template sheet: every column the tool knows, and one example row.
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
            "UT_BRANDADMIN",
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
    }
}

// ---- Steps ----

/// What a create left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateResult {
    /// The new account's id.
    pub user_id: Option<String>,
    /// True when the create got no answer: whether it happened is checked by a listing.
    pub uncertain: bool,
}

/// One row's account work: `POST /users` or `PUT /users/{id}`.
#[derive(Debug, Clone)]
pub struct AccountStep {
    key: String,
    username: String,
    user_id: Option<String>,
    body: serde_json::Map<String, serde_json::Value>,
    create: bool,
    /// The outcome of a create.
    pub result: CreateResult,
}

impl Step for AccountStep {
    fn key(&self) -> &str {
        &self.key
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        let body = serde_json::to_vec(&self.body).expect("serialises");
        if self.create {
            conn.request(Method::Post, conn.url("users"), Some(body))
        } else {
            let mut req = users::update_user_request(
                conn,
                self.user_id.as_deref().unwrap_or(""),
                &Default::default(),
            );
            req.body = Some(body);
            req
        }
    }
    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        match envelope::parse(response) {
            Ok(env) if self.create => match env.result.as_ref().and_then(|r| r.get("id")).and_then(|v| v.as_str()) {
                Some(id) => {
                    self.result.user_id = Some(id.to_string());
                    StepUpdate::Finished { status: OutcomeStatus::Done, message: format!("account {id} created") }
                }
                None => StepUpdate::Finished { status: OutcomeStatus::Failed, message: "Qualtrics accepted the new account but sent no id back; check Admin > Users.".into() },
            },
            Ok(_) => StepUpdate::Finished { status: OutcomeStatus::Done, message: "fields updated".into() },
            Err(e) => StepUpdate::Finished { status: OutcomeStatus::Failed, message: e.to_string() },
        }
    }
    fn fingerprint(&self) -> String {
        let id = self
            .user_id
            .clone()
            .or_else(|| self.result.user_id.clone())
            .unwrap_or_else(|| self.username.clone());
        self.body
            .iter()
            .filter(|(k, _)| *k != "password")
            .map(|(k, v)| format!("{id} {k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn on_ambiguous_failure(&mut self, why: &str) -> Option<StepUpdate> {
        if !self.create {
            return None; // a PUT is idempotent: retry it
        }
        self.result.uncertain = true;
        Some(StepUpdate::Finished {
            status: OutcomeStatus::Failed,
            message: format!("{why}; whether the account was created is checked against the user list before any retry"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobPhase {
    Submit,
    Poll,
    Results,
}

/// One import job: submit, poll until done, read its per-item failures.
#[derive(Debug, Clone)]
pub struct ImportStep {
    key: String,
    participants: Vec<ImportParticipant>,
    phase: JobPhase,
    job_id: Option<String>,
    result_id: Option<String>,
    waits: u32,
    /// Unique identifiers that failed, with Qualtrics' message.
    pub failures: BTreeMap<String, String>,
}

/// Milliseconds between a job's submission and its first status poll, and between polls: a
/// job needs a moment, and the executor's pacing of the directory's 75 requests a minute
/// spaces the polls of many jobs further.
const JOB_POLL_MS: u64 = 1_000;

/// Polls of a job, or waits for a free job slot, before the job is given up.
const MAX_JOB_WAITS: u32 = 120;

impl Step for ImportStep {
    fn key(&self) -> &str {
        &self.key
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        match self.phase {
            JobPhase::Submit => directory::import_request(conn, &self.participants),
            JobPhase::Poll => {
                directory::job_status_request(conn, self.job_id.as_deref().unwrap_or(""))
            }
            JobPhase::Results => {
                directory::job_result_request(conn, self.result_id.as_deref().unwrap_or(""))
            }
        }
    }
    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let fail = |message: String| StepUpdate::Finished {
            status: OutcomeStatus::Failed,
            message,
        };
        match self.phase {
            JobPhase::Submit => match directory::parse_job_id(response) {
                Ok(id) => {
                    self.job_id = Some(id);
                    self.phase = JobPhase::Poll;
                    StepUpdate::RetryAfter { ms: JOB_POLL_MS }
                }
                Err(ApiError::Rejected { status: 409, .. }) if self.waits < MAX_JOB_WAITS => {
                    self.waits += 1;
                    StepUpdate::RetryAfter { ms: 5_000 }
                }
                Err(e) => fail(format!("the directory import was refused: {e}")),
            },
            JobPhase::Poll => match directory::parse_job_status(response) {
                Ok((_, Some(result_id))) => {
                    self.result_id = Some(result_id);
                    self.phase = JobPhase::Results;
                    StepUpdate::Continue
                }
                Ok(_) if self.waits < MAX_JOB_WAITS => {
                    self.waits += 1;
                    StepUpdate::RetryAfter { ms: JOB_POLL_MS }
                }
                Ok(_) => fail("the directory import did not finish in time; plan again later to see what it did".into()),
                Err(e) => fail(format!("could not follow the directory import: {e}")),
            },
            JobPhase::Results => match directory::parse_job_failures(response) {
                Ok(failures) => {
                    self.failures = failures.into_iter().collect();
                    StepUpdate::Finished { status: OutcomeStatus::Done, message: "imported".into() }
                }
                Err(e) => fail(format!("could not read the directory import's result: {e}")),
            },
        }
    }
    fn fingerprint(&self) -> String {
        self.key.clone()
    }
    fn concurrency_group(&self) -> Option<(&'static str, usize)> {
        Some(("directory import jobs", directory::MAX_RUNNING_JOBS))
    }
    fn on_halted(&self, reason: &str) -> (OutcomeStatus, String) {
        match self.job_id {
            Some(_) => (
                OutcomeStatus::Failed,
                "the run stopped while the directory import was running: it may have been applied; plan again to see".into(),
            ),
            None => (OutcomeStatus::Skipped, reason.to_string()),
        }
    }
}

/// A participant of a job, the row's attribute changes and the participant's current ones.
type JobEntry = (
    ImportParticipant,
    BTreeMap<Cell, AttrValue>,
    BTreeMap<String, String>,
);

/// Either kind of step, so one executor runs a phase.
#[derive(Debug, Clone)]
pub enum ProvisionStep {
    /// Account work.
    Account(AccountStep),
    /// A directory import job.
    Import(ImportStep),
}

impl Step for ProvisionStep {
    fn key(&self) -> &str {
        match self {
            ProvisionStep::Account(s) => s.key(),
            ProvisionStep::Import(s) => s.key(),
        }
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        match self {
            ProvisionStep::Account(s) => s.request(conn),
            ProvisionStep::Import(s) => s.request(conn),
        }
    }
    fn on_response(&mut self, response: &HttpResponse, now: UnixMillis) -> StepUpdate {
        match self {
            ProvisionStep::Account(s) => s.on_response(response, now),
            ProvisionStep::Import(s) => s.on_response(response, now),
        }
    }
    fn fingerprint(&self) -> String {
        match self {
            ProvisionStep::Account(s) => s.fingerprint(),
            ProvisionStep::Import(s) => s.fingerprint(),
        }
    }
    fn on_ambiguous_failure(&mut self, why: &str) -> Option<StepUpdate> {
        match self {
            ProvisionStep::Account(s) => s.on_ambiguous_failure(why),
            ProvisionStep::Import(s) => s.on_ambiguous_failure(why),
        }
    }
    fn on_halted(&self, reason: &str) -> (OutcomeStatus, String) {
        match self {
            ProvisionStep::Account(s) => s.on_halted(reason),
            ProvisionStep::Import(s) => s.on_halted(reason),
        }
    }
    fn concurrency_group(&self) -> Option<(&'static str, usize)> {
        match self {
            ProvisionStep::Account(s) => s.concurrency_group(),
            ProvisionStep::Import(s) => s.concurrency_group(),
        }
    }
}

// ---- The run: phases and outcomes ----

#[derive(Debug, Clone, Default)]
struct RowProgress {
    account: Option<(OutcomeStatus, String, Option<UnixMillis>)>,
    import: Option<(OutcomeStatus, String, Option<UnixMillis>)>,
    user_id: Option<String>,
    unique_identifier: Option<String>,
    uncertain: bool,
}

/// A provisioning plan being applied, with every row's progress. The run
/// ([`crate::run::ProvisionJob`]) calls, in order: [`ProvisionApply::account_steps`] (runs
/// them), [`ProvisionApply::record`], then while [`ProvisionApply::uncertain`] is not empty:
/// lists the users and [`ProvisionApply::resolve_uncertain`] (runs the retries it returns and
/// records them); then, if [`ProvisionApply::needs_participants`], lists the directory; then
/// [`ProvisionApply::import_steps`] (runs, records); hosts read [`ProvisionApply::outcomes`].
#[derive(Debug, Clone)]
pub struct ProvisionApply {
    /// The plan being applied.
    pub plan: Plan,
    progress: BTreeMap<Cell, RowProgress>,
    retried: BTreeSet<Cell>,
}

impl ProvisionApply {
    /// A run of `plan`.
    #[must_use]
    pub fn new(plan: Plan) -> ProvisionApply {
        let progress = plan
            .rows
            .iter()
            .map(|r| {
                (
                    r.key(),
                    RowProgress {
                        user_id: r.user_id.clone(),
                        unique_identifier: r.unique_identifier.clone(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        ProvisionApply {
            plan,
            progress,
            retried: BTreeSet::new(),
        }
    }

    fn account_step(row: &PlanRow) -> Option<AccountStep> {
        let create = row.actions.contains(&ProvisionAction::Create);
        let update = row.actions.contains(&ProvisionAction::Update);
        if !create && !update {
            return None;
        }
        let mut body = serde_json::Map::new();
        if create {
            for (f, v) in row.fields.iter() {
                if *f != Field::UniqueIdentifier {
                    body.insert(f.api_name().into(), v.as_str().into());
                }
            }
        } else {
            for (f, _, new) in &row.field_changes {
                body.insert(f.to_string(), new.as_str().into());
            }
        }
        Some(AccountStep {
            key: row.key().to_string(),
            username: row.username().to_string(),
            user_id: row.user_id.clone(),
            body,
            create,
            result: CreateResult::default(),
        })
    }

    /// The account phase (route "account + attributes"): creates and field updates.
    pub fn account_steps(&self) -> Vec<ProvisionStep> {
        if self.plan.route != Route::AccountAndAttributes {
            return Vec::new();
        }
        self.plan
            .rows
            .iter()
            .filter_map(Self::account_step)
            .map(ProvisionStep::Account)
            .collect()
    }

    /// Takes a finished phase's steps and outcomes.
    pub fn record<'a>(
        &mut self,
        steps: impl IntoIterator<Item = &'a ProvisionStep>,
        outcomes: &[Outcome],
    ) {
        let by_key: HashMap<&str, &Outcome> =
            outcomes.iter().map(|o| (o.key.as_str(), o)).collect();
        for step in steps {
            match step {
                ProvisionStep::Account(s) => {
                    let p = self.progress.entry(Cell::new(&s.key)).or_default();
                    if let Some(o) = by_key.get(s.key.as_str()) {
                        p.account = Some((o.status, o.message.clone(), o.finished_at));
                    }
                    p.uncertain = s.result.uncertain;
                    if let Some(id) = &s.result.user_id {
                        p.user_id = Some(id.clone());
                    }
                }
                ProvisionStep::Import(s) => {
                    let outcome = by_key.get(s.key.as_str());
                    for participant in &s.participants {
                        let Some(row) = self.plan.rows.iter().find(|r| {
                            r.sends()
                                && self.progress[&r.key()].unique_identifier.as_deref()
                                    == Some(participant.unique_identifier.as_str())
                        }) else {
                            continue;
                        };
                        let p = self
                            .progress
                            .get_mut(&row.key())
                            .expect("every row has progress");
                        p.import = Some(
                            match (outcome, s.failures.get(&participant.unique_identifier)) {
                                (_, Some(message)) => (
                                    OutcomeStatus::Failed,
                                    format!("directory import: {message}"),
                                    None,
                                ),
                                (Some(o), None) if o.status == OutcomeStatus::Done => {
                                    (OutcomeStatus::Done, "attributes set".into(), o.finished_at)
                                }
                                (Some(o), None) => (o.status, o.message.clone(), o.finished_at),
                                (None, None) => (
                                    OutcomeStatus::Skipped,
                                    "not sent: the run ended before the directory import".into(),
                                    None,
                                ),
                            },
                        );
                    }
                }
            }
        }
    }

    /// Usernames of creates that got no answer.
    #[must_use]
    pub fn uncertain(&self) -> Vec<String> {
        self.plan
            .rows
            .iter()
            .filter(|r| self.progress[&r.key()].uncertain)
            .map(|r| r.username().to_string())
            .collect()
    }

    /// Settles uncertain creates with a fresh listing of the brand's users: an account that now
    /// exists was created (its id is taken from the listing); the others are tried once more,
    /// with the steps returned.
    #[must_use = "the returned steps are the retries: dropping them leaves those rows unsent"]
    pub fn resolve_uncertain(&mut self, users: &[UserSummary]) -> Vec<ProvisionStep> {
        let by_name = users::by_username(users);
        let mut retries = Vec::new();
        for row in &self.plan.rows {
            let p = self
                .progress
                .get_mut(&row.key())
                .expect("every row has progress");
            if !p.uncertain {
                continue;
            }
            p.uncertain = false;
            match by_name.get(&row.username().to_lowercase()) {
                Some(u) => {
                    p.user_id = Some(u.id.clone());
                    let at = p.account.as_ref().and_then(|a| a.2);
                    p.account = Some((
                        OutcomeStatus::Done,
                        format!(
                            "account {} created (its answer was lost; confirmed in the user list)",
                            u.id
                        ),
                        at,
                    ));
                }
                None if self.retried.insert(row.key()) => {
                    if let Some(step) = Self::account_step(row) {
                        retries.push(ProvisionStep::Account(step));
                    }
                }
                None => {}
            }
        }
        retries
    }

    /// True when new accounts need attributes: their uniqueIdentifier must be looked up.
    #[must_use]
    pub fn needs_participants(&self) -> bool {
        self.plan.route == Route::AccountAndAttributes
            && self.plan.rows.iter().any(|r| {
                let p = &self.progress[&r.key()];
                r.actions.contains(&ProvisionAction::SetAttributes)
                    && p.unique_identifier.is_none()
                    && p.user_id.is_some()
            })
    }

    /// True when `row` goes through a directory import: every row sent by the directory
    /// route, the rows with attributes on the account route.
    fn wants_import(&self, row: &PlanRow) -> bool {
        match self.plan.route {
            Route::DirectoryImport => row.sends(),
            Route::AccountAndAttributes => row.actions.contains(&ProvisionAction::SetAttributes),
        }
    }

    /// Ends every row still waiting for its attributes as failed with `message` (the directory
    /// could not be read, so no import job can be made).
    pub fn fail_imports(&mut self, message: &str) {
        for row in &self.plan.rows {
            let wants_import = self.wants_import(row);
            let p = self
                .progress
                .get_mut(&row.key())
                .expect("every row has progress");
            let account_failed = p
                .account
                .as_ref()
                .is_some_and(|a| a.0 == OutcomeStatus::Failed);
            if wants_import && p.import.is_none() && !account_failed {
                p.import = Some((OutcomeStatus::Failed, message.to_string(), None));
            }
        }
    }

    /// The import jobs, from a listing of the directory (taken after the accounts exist):
    /// every participant of a job carries the same metadata keys.
    #[must_use = "the returned steps are the import jobs: dropping them leaves the attributes unset"]
    pub fn import_steps(&mut self, participants: &[Participant]) -> Vec<ProvisionStep> {
        let by_user: HashMap<&str, &Participant> = participants
            .iter()
            .filter_map(|p| p.user_id.as_deref().map(|id| (id, p)))
            .collect();
        let by_name = directory::by_username(participants);
        let by_uid: HashMap<&str, &Participant> = participants
            .iter()
            .map(|p| (p.unique_identifier.as_str(), p))
            .collect();
        let mut entries: Vec<JobEntry> = Vec::new();
        for row in &self.plan.rows {
            let wants_import = self.wants_import(row);
            if !wants_import {
                continue;
            }
            let p = self
                .progress
                .get_mut(&row.key())
                .expect("every row has progress");
            if p.account
                .as_ref()
                .is_some_and(|a| a.0 == OutcomeStatus::Failed)
            {
                continue; // the account could not be made: no attributes
            }
            let found = p
                .unique_identifier
                .as_deref()
                .and_then(|u| by_uid.get(u).copied())
                .or_else(|| p.user_id.as_deref().and_then(|id| by_user.get(id).copied()))
                .or_else(|| by_name.get(&row.username().to_lowercase()).copied());
            let uid = match (self.plan.route, found) {
                (Route::DirectoryImport, _) => row.unique_identifier.clone(),
                (_, Some(f)) => Some(f.unique_identifier.clone()),
                (_, None) => None,
            };
            let Some(uid) = uid else {
                p.import = Some((OutcomeStatus::Failed, "no CX directory participant was found for this account, so its attributes could not be set; check that CX user admin is on for the brand".into(), None));
                continue;
            };
            p.unique_identifier = Some(uid.clone());
            let field = |f: Field, current: Option<&Option<String>>| {
                row.fields
                    .get(&f)
                    .map(Cell::to_string)
                    .or_else(|| current.cloned().flatten())
                    .unwrap_or_default()
            };
            let participant = ImportParticipant {
                unique_identifier: uid,
                first_name: field(Field::FirstName, found.map(|f| &f.first_name)),
                last_name: field(Field::LastName, found.map(|f| &f.last_name)),
                email: field(Field::Email, found.map(|f| &f.email)),
                username: (!row.username().is_empty()).then(|| row.username().to_string()),
                metadata: BTreeMap::new(),
            };
            entries.push((
                participant,
                row.attributes
                    .iter()
                    .map(|a| (a.name.clone(), a.value.clone()))
                    .collect(),
                found.map(|f| f.metadata.clone()).unwrap_or_default(),
            ));
        }
        let mut steps = Vec::new();
        for (n, chunk) in entries.chunks(self.plan.job_size.max(1)).enumerate() {
            let keys: BTreeSet<&Cell> = chunk
                .iter()
                .flat_map(|(_, changes, _)| changes.keys())
                .collect();
            let participants = chunk
                .iter()
                .map(|(p, changes, current)| {
                    let mut p = p.clone();
                    for key in &keys {
                        let value = match changes.get(*key) {
                            Some(AttrValue::Set(v)) => v.to_string(),
                            Some(AttrValue::Clear) => String::new(),
                            None => current.get(key.as_str()).cloned().unwrap_or_default(),
                        };
                        p.metadata.insert(key.to_string(), value);
                    }
                    p
                })
                .collect();
            steps.push(ProvisionStep::Import(ImportStep {
                key: format!("import:{}", n + 1),
                participants,
                phase: JobPhase::Submit,
                job_id: None,
                result_id: None,
                waits: 0,
                failures: BTreeMap::new(),
            }));
        }
        steps
    }

    /// Every input row's outcome.
    #[must_use]
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        self.plan
            .rows
            .iter()
            .map(|r| {
                let p = &self.progress[&r.key()];
                let (status, message, at) = if r.actions.contains(&ProvisionAction::Invalid) {
                    (
                        OutcomeStatus::Failed,
                        format!("not sent: {}", r.message()),
                        None,
                    )
                } else if !r.sends() {
                    (OutcomeStatus::Unchanged, r.message(), None)
                } else {
                    let parts: Vec<&(OutcomeStatus, String, Option<UnixMillis>)> =
                        [p.account.as_ref(), p.import.as_ref()]
                            .into_iter()
                            .flatten()
                            .collect();
                    if parts.is_empty() {
                        (
                            OutcomeStatus::Skipped,
                            "not sent: the run ended before this row".into(),
                            None,
                        )
                    } else if let Some(failed) = parts.iter().find(|x| x.0 != OutcomeStatus::Done) {
                        let done: Vec<&str> = parts
                            .iter()
                            .filter(|x| x.0 == OutcomeStatus::Done)
                            .map(|x| x.1.as_str())
                            .collect();
                        let prefix = if done.is_empty() {
                            String::new()
                        } else {
                            format!("{}; but ", done.join("; "))
                        };
                        (failed.0, format!("{prefix}{}", failed.1), None)
                    } else {
                        (
                            OutcomeStatus::Done,
                            parts
                                .iter()
                                .map(|x| x.1.as_str())
                                .collect::<Vec<_>>()
                                .join("; "),
                            parts.iter().filter_map(|x| x.2).max(),
                        )
                    }
                };
                RowOutcome {
                    key: r.key().to_string(),
                    row: r.row,
                    status,
                    message,
                    user_id: p.user_id.clone().unwrap_or_default(),
                    unique_identifier: p.unique_identifier.clone().unwrap_or_default(),
                    applied_at: at.map(iso_datetime).unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// One row's result, as written beside the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowOutcome {
    /// `row:N`.
    pub key: String,
    /// Sheet row number.
    pub row: u32,
    /// done / unchanged / failed / skipped.
    pub status: OutcomeStatus,
    /// What happened.
    pub message: String,
    /// The account.
    pub user_id: String,
    /// The directory key.
    pub unique_identifier: String,
    /// When (ISO 8601), for done rows.
    pub applied_at: String,
}

impl RowOutcome {
    /// The outcome cells, in the order of [`outcome_column_names`].
    #[must_use]
    pub fn values(&self) -> Vec<String> {
        vec![
            self.status.as_str().to_string(),
            self.message.clone(),
            self.user_id.clone(),
            self.unique_identifier.clone(),
            self.applied_at.clone(),
        ]
    }
}

/// The outcome column names beside `input_columns`.
pub fn outcome_column_names(input_columns: &[String]) -> Vec<String> {
    let taken = |n: &str| {
        input_columns
            .iter()
            .any(|c| normalise_header(c) == normalise_header(n))
    };
    let user_id = if taken("User ID") {
        "Outcome user ID"
    } else {
        "User ID"
    };
    let uid = if input_columns
        .iter()
        .any(|c| normalise_header(c) == "uniqueidentifier")
    {
        "Outcome unique identifier"
    } else {
        "Unique identifier"
    };
    ["Status", "Message", user_id, uid, "Applied at"]
        .map(String::from)
        .to_vec()
}

/// The input with the outcome columns beside it; password cells are blanked, never written back.
#[must_use]
pub fn outcome_table(input: &Table, outcomes: &[RowOutcome]) -> Table {
    let values: HashMap<u32, Vec<String>> = outcomes.iter().map(|o| (o.row, o.values())).collect();
    let mut table = input.with_columns_beside(&outcome_column_names(&input.columns), &values);
    let password = input.columns.iter().position(|c| {
        Field::Password
            .aliases()
            .contains(&normalise_header(c).as_str())
    });
    if let Some(p) = password {
        for row in &mut table.rows {
            row[p] = Cell::default();
        }
    }
    table
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
