//! Column mapping: which sheet column holds which user field or attribute, matched to the
//! brand's own attribute names (the template that shows every column is in the model).

use std::collections::{BTreeSet, HashMap};

use crate::api::directory::Participant;
use crate::sheet::columns::normalise_header;
use crate::sheet::table::Cell;

use super::{Field, NewAttribute, PerField, Problem, Severity};

/// Columns the product itself writes (a users listing's `User ID` and `Account status`, an
/// edited export's `Action`, the outcome columns): never attributes, whatever the sheet.
pub(crate) const OUTPUT_COLUMNS: &[&str] = &[
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
/// second attribute beside it), and lists each attribute no participant has yet: a warning
/// when `allowed` names it, else an error that stops the sheet (a misspelt column must not
/// create a stray attribute on every account). `participants` is `None` when the directory
/// was not read (validate): the brand's names are unknown, nothing is renamed or listed.
pub(super) fn match_brand_attributes(
    map: &mut ColumnMap,
    participants: Option<&[Participant]>,
    columns: &[String],
    allowed: &BTreeSet<String>,
) -> (Vec<NewAttribute>, Vec<Problem>, Vec<Problem>) {
    let (mut found, mut notes, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    let Some(participants) = participants else {
        return (found, notes, errors);
    };
    let mut brand: HashMap<String, &str> = HashMap::new();
    for p in participants {
        for name in p.metadata.keys() {
            brand.entry(normalise_header(name)).or_insert(name.as_str());
        }
    }
    let allowed: BTreeSet<String> = allowed.iter().map(|a| normalise_header(a)).collect();
    for (name, c) in &mut map.attributes {
        let column = &columns[*c];
        match brand.get(&normalise_header(name.as_str())) {
            Some(existing) if *existing != name.as_str() => *name = Cell::from(*existing),
            Some(_) => {}
            None => {
                let is_allowed = allowed.contains(&normalise_header(name.as_str()));
                found.push(NewAttribute {
                    column: column.clone(),
                    name: name.to_string(),
                    allowed: is_allowed,
                });
                if is_allowed {
                    notes.push(Problem::sheet(column, Severity::Warning, format!(
                        "Column \"{column}\": no one in the brand has the attribute \"{name}\" yet; it will be created, as you allowed."
                    )));
                } else {
                    errors.push(file_error(column, format!(
                        "Column \"{column}\": no one in the brand has the attribute \"{name}\", so applying would create it on every account. If it is meant to be new, allow it (--new-attribute \"{name}\", or tick it under the plan on the page); if you meant an existing attribute, rename the column to its name. Nothing is sent until then."
                    )));
                }
            }
        }
    }
    (found, notes, errors)
}
