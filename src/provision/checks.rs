//! Checks of each row's cells: e-mail addresses, forbidden characters, user types and
//! divisions, dates, `::` lists, and each account named once per sheet.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};

use rustc_hash::FxHashMap;

use crate::sheet::problem::{Problem, RowAt};
use crate::sheet::reference::{is_language, is_time_zone};
use crate::sheet::table::{Cell, Table};
use crate::time::Date;

use super::columns::ColumnMap;
use super::{
    Actions, AttrValue, AttributeCell, Field, PlanRow, ProvisionAction, ProvisionOptions, Severity,
    CLEAR_MARKER, FORBIDDEN_CHARACTERS,
};

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

pub(super) fn is_email(s: &str) -> bool {
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
pub(super) fn same_value(a: &str, b: &str) -> bool {
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
pub(super) fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The usernames and uniqueIdentifiers seen so far in a sheet (each once per sheet), keyed by
/// the cells themselves: no copy per row.
pub(super) struct SeenKeys<'t> {
    usernames: FxHashMap<Cow<'t, str>, u32>,
    uids: FxHashMap<&'t str, u32>,
    /// (first row, its column, the key field, the later row naming it again): the first row of an
    /// account named twice sends nothing either.
    pub(super) repeated: Vec<(u32, String, Field, u32)>,
}

impl SeenKeys<'_> {
    pub(super) fn for_rows(rows: usize) -> Self {
        SeenKeys {
            usernames: FxHashMap::with_capacity_and_hasher(rows, Default::default()),
            uids: FxHashMap::default(),
            repeated: Vec::new(),
        }
    }
}

/// Refuses the first row of each account that a later row names again: two rows for one
/// account may ask for different things, so neither is sent until one of them is removed.
pub(super) fn refuse_first_of_repeated(
    rows: &mut [PlanRow],
    repeated: Vec<(u32, String, Field, u32)>,
) {
    if repeated.is_empty() {
        return;
    }
    // Row number -> index, built once (a big sheet with many repeats stays linear).
    let index: HashMap<u32, usize> = rows.iter().enumerate().map(|(i, r)| (r.row, i)).collect();
    let mut refused = HashSet::new();
    for (first, column, field, later) in repeated {
        let Some(row) = index.get(&first).map(|i| &mut rows[*i]) else {
            continue;
        };
        if !refused.insert(first) {
            continue;
        }
        // The first row's own spelling (the later row may differ in case).
        let key = row
            .fields
            .get(&field)
            .map(ToString::to_string)
            .unwrap_or_default();
        row.actions = Actions::default();
        row.actions.push(ProvisionAction::Invalid);
        let at = RowAt {
            row: first,
            line: row.line,
        };
        row.problems.push(diagnostic(
            at,
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

/// A problem of the row at `at` naming its column (built only for rows that have something
/// to say).
#[cold]
fn diagnostic(at: RowAt, column: &str, severity: Severity, message: &str) -> Problem {
    Problem::in_row(at, column, severity, message)
}

/// Checks row `i` of `table` into `input`: its fields and attributes, and its keys against the
/// rows before.
pub(super) fn check_row<'t>(
    table: &'t Table,
    i: usize,
    map: &ColumnMap,
    options: &ProvisionOptions,
    seen: &mut SeenKeys<'t>,
    input: &mut PlanRow,
) {
    let row = input.row;
    let at = table.at(i);
    let mut diag = |column: &str, severity: Severity, message: String| {
        input
            .problems
            .push(diagnostic(at, column, severity, &message));
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
            Ok(Some(v)) => {
                if *field == Field::UserType {
                    input.user_type_name = Some(Cell::new(value));
                }
                input.fields.insert(*field, v);
            }
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
                .push((first, column_of(Field::Username), Field::Username, row));
            input.problems.push(diagnostic(
                at,
                &column_of(Field::Username),
                Severity::Error,
                &m,
            ));
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
                Field::UniqueIdentifier,
                row,
            ));
            input.problems.push(diagnostic(
                at,
                &column_of(Field::UniqueIdentifier),
                Severity::Error,
                &m,
            ));
            seen.uids.insert(u, first);
        }
    }
    input.unique_identifier = input
        .fields
        .get(&Field::UniqueIdentifier)
        .map(Cell::to_string);
}
