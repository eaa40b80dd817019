//! Column mapping: which sheet column holds which user field or attribute, matched to the
//! brand's own attribute names, and the template sheet that shows every column.

use std::collections::HashMap;

use crate::columns::normalise_header;
use crate::directory::Participant;
use crate::table::{Cell, Table};

use super::{Field, PerField, Problem, Severity};

/// Columns the product itself writes (a users listing's `User ID` and `Account status`, an
/// edited export's `Action`, the outcome columns): never attributes, whatever the sheet.
const OUTPUT_COLUMNS: &[&str] = &[
    "status",
    "message",
    "userid",
    "outcomeuserid",
    "appliedat",
    "accountstatus",
    "action",
];

/// Which column holds each user field, and the attribute columns (by attribute name).
pub(super) struct ColumnMap {
    pub(super) fields: PerField<usize>,
    pub(super) attributes: Vec<(Cell, usize)>,
}

/// Maps the header to fields and attributes, or says which columns clash (two meaning one
/// field or naming one attribute).
pub(super) fn map_columns(columns: &[String]) -> Result<ColumnMap, Vec<Problem>> {
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

/// An error about the sheet as a whole (row 0), in `column` ("" for none).
pub(super) fn file_error(column: &str, message: String) -> Problem {
    Problem::sheet(column, Severity::Error, message)
}

/// Gives each attribute column the name the brand already uses for it, matched ignoring case,
/// spaces and punctuation (an HR export's `role` sets the brand's `Role` instead of creating a
/// second attribute beside it), and warns about each attribute no participant has yet: it will
/// be created new. Without participants (validate, or a brand with an empty directory) the
/// brand's names are unknown and nothing is renamed or warned about.
pub(super) fn match_brand_attributes(
    map: &mut ColumnMap,
    participants: &[Participant],
    columns: &[String],
) -> Vec<Problem> {
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
            None => notes.push(Problem::sheet(
                &columns[*c],
                Severity::Warning,
                format!(
                    "Column \"{}\": no one in the brand has the attribute \"{name}\" yet, so it will be created as a new attribute. If you meant an existing one, rename the column to its name.",
                    columns[*c]
                ),
            )),
        }
    }
    notes
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
