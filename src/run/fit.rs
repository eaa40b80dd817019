//! How a sheet's columns fit a kind (issue 29.7): which fields the kind needs or accepts, which
//! column each is read from, and which columns it does not recognise; and a mapping the
//! administrator chose (field -> column of the file) applied to the table before it is planned,
//! so a file whose headers say "Login, Mail, Status change" plans as "Username, Email, Action".
//!
//! The plan, its problems and the outcome columns then name the mapped fields (the table is
//! planned with its columns renamed); hosts may rename them back when they show the input.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{SheetKind, SheetRequest};
use crate::sheet::columns::normalise_header;
use crate::sheet::table::{looks_like_data, Table};
use crate::{lifecycle, membership, provision};

/// How much a kind needs a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "lowercase")]
pub enum FieldNeed {
    /// Nothing is planned without it (or without its `alternative`).
    Required,
    /// Every row needs a value, unless an option supplies it (the lifecycle's Action, without a
    /// default action): rows are refused without it.
    Expected,
    /// Read when present.
    Optional,
}

/// One field a kind reads, and the column it is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct FieldFit {
    /// The field, as the header the kind reads it under ("User ID", "Action").
    pub field: String,
    /// How much the kind needs it.
    pub need: FieldNeed,
    /// A field that may stand in for this one (a lifecycle sheet needs a User ID or a
    /// Username): a required field is satisfied when either is mapped.
    pub alternative: Option<String>,
    /// What the column holds, in a few words, for the mapping step's label.
    pub hint: String,
    /// The column of the sheet recognised as this field, if any.
    pub column: Option<String>,
}

/// How a sheet's columns fit a kind: each field and its column, the columns recognised as no
/// field, and whether the administrator should map them before planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct ColumnFit {
    /// Every field the kind reads, in the order a template has them.
    pub fields: Vec<FieldFit>,
    /// Non-blank columns read as no field.
    pub unrecognised: Vec<String>,
    /// What becomes of columns mapped to no field ("ignored", or provisioning's "attributes").
    pub others: String,
    /// True when a required field is missing, or an expected one is while an unrecognised
    /// column holds its values: the headers were not understood, and a mapping step should ask.
    /// (Not when the first row holds values rather than names: the plan says to include the
    /// header.)
    pub needs_mapping: bool,
}

/// One field of a kind: its header, aliases (normalised), need, alternative and hint, and
/// for an expected field the values it holds (a column of them is worth asking about).
struct Spec {
    field: &'static str,
    aliases: &'static [&'static str],
    need: FieldNeed,
    alternative: Option<&'static str>,
    hint: &'static str,
    holds: Option<fn(&str) -> bool>,
}

/// The fields a `kind` sheet reads, as its planner reads them with `request`'s options.
fn specs(kind: SheetKind, request: &SheetRequest) -> Vec<Spec> {
    use FieldNeed::{Expected, Optional, Required};
    let spec = |field, aliases, need, alternative, hint| Spec {
        field,
        aliases,
        need,
        alternative,
        hint,
        holds: None,
    };
    match kind {
        SheetKind::Lifecycle => vec![
            spec(
                "User ID",
                lifecycle::ID_ALIASES,
                Required,
                Some("Username"),
                "the account's UR_ id",
            ),
            spec(
                "Username",
                lifecycle::USERNAME_ALIASES,
                Required,
                Some("User ID"),
                "the login name",
            ),
            Spec {
                holds: Some(|cell| lifecycle::Action::parse(cell).is_some()),
                ..spec(
                    "Action",
                    lifecycle::ACTION_ALIASES,
                    if request.default_action.trim().is_empty() {
                        Expected
                    } else {
                        Optional
                    },
                    None,
                    "disable, enable, or expire",
                )
            },
            spec(
                "Expiration date",
                lifecycle::EXPIRY_ALIASES,
                Optional,
                None,
                "a date, or <clear>",
            ),
        ],
        SheetKind::Provision => {
            use provision::Field;
            let key = if request.route == "directory" {
                Field::UniqueIdentifier
            } else {
                Field::Username
            };
            Field::ALL
                .into_iter()
                .map(|f| {
                    let (field, hint) = match f {
                        Field::Username => ("Username", "the login name"),
                        Field::FirstName => ("First name", "given name"),
                        Field::LastName => ("Last name", "family name"),
                        Field::Email => ("Email", "e-mail address"),
                        Field::UserType => ("User type", "UT_ id or its name"),
                        Field::Password => ("Password", "initial password"),
                        Field::Language => ("Language", "language code, such as en"),
                        Field::TimeZone => ("Time zone", "such as America/Denver"),
                        Field::DivisionId => ("Division", "DV_ id or its name"),
                        Field::AccountExpirationDate => ("Expiration date", "a date"),
                        Field::UniqueIdentifier => ("Unique identifier", "the directory key"),
                    };
                    let need = if f == key { Required } else { Optional };
                    spec(field, f.aliases(), need, None, hint)
                })
                .collect()
        }
        SheetKind::Membership => vec![
            spec(
                "User",
                membership::USER_ALIASES,
                Required,
                None,
                "username, e-mail or UR_ id",
            ),
            spec(
                "Group or role",
                membership::TARGET_ALIASES,
                Required,
                None,
                "the group's or role's name",
            ),
            spec(
                "Member",
                membership::MEMBER_ALIASES,
                Required,
                None,
                "yes or no",
            ),
        ],
    }
}

/// How `columns` fit a `kind` sheet planned with `request`'s options (see [`ColumnFit`]);
/// `rows`, the first rows of the sheet, say whether an unrecognised column holds what a missing
/// expected field holds (a "Status change" column of `disable`s is the Action).
#[must_use]
pub fn column_fit(
    kind: SheetKind,
    columns: &[String],
    rows: &[Vec<String>],
    request: &SheetRequest,
) -> ColumnFit {
    let specs = specs(kind, request);
    let norms: Vec<String> = columns.iter().map(|c| normalise_header(c)).collect();
    let fields: Vec<FieldFit> = specs
        .iter()
        .map(|s| FieldFit {
            field: s.field.to_string(),
            need: s.need,
            alternative: s.alternative.map(String::from),
            hint: s.hint.to_string(),
            column: norms
                .iter()
                .position(|n| s.aliases.contains(&n.as_str()))
                .map(|i| columns[i].clone()),
        })
        .collect();
    let ignored = |n: &str| kind == SheetKind::Provision && provision::OUTPUT_COLUMNS.contains(&n);
    // Indexes of the non-blank columns read as no field.
    let unknown: Vec<usize> = (0..columns.len())
        .filter(|&i| {
            let n = norms[i].as_str();
            !columns[i].trim().is_empty()
                && !ignored(n)
                && !specs.iter().any(|s| s.aliases.contains(&n))
        })
        .collect();
    let mapped = |field: &str| {
        fields
            .iter()
            .any(|f| f.field == field && f.column.is_some())
    };
    let missing =
        |f: &FieldFit| f.column.is_none() && !f.alternative.as_deref().is_some_and(mapped);
    let required_missing = fields
        .iter()
        .any(|f| f.need == FieldNeed::Required && missing(f));
    // An expected field missing while an unrecognised column holds its values.
    let expected_elsewhere = specs.iter().zip(&fields).any(|(s, f)| {
        f.need == FieldNeed::Expected
            && missing(f)
            && s.holds.is_some_and(|holds| {
                unknown.iter().any(|&at| {
                    rows.iter()
                        .any(|r| r.get(at).is_some_and(|cell| holds(cell)))
                })
            })
    });
    // A first row of values (no header at all) is said as such by the plan: no mapping helps.
    let header_is_data = columns.iter().any(|c| looks_like_data(c));
    ColumnFit {
        fields,
        unrecognised: unknown.iter().map(|&i| columns[i].clone()).collect(),
        others: match kind {
            SheetKind::Provision => "attributes",
            _ => "ignored",
        }
        .to_string(),
        needs_mapping: !header_is_data && (required_missing || expected_elsewhere),
    }
}

/// Why a mapping cannot be applied. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// Two fields name one column.
    #[error("{first} and {second} are both mapped to the column \"{column}\": a column holds one field, so map one of them to another column.")]
    SameColumn {
        /// The column.
        column: String,
        /// The first field mapped to it.
        first: String,
        /// The other.
        second: String,
    },
    /// A column the sheet does not have.
    #[error("{field} is mapped to the column \"{column}\", which this sheet does not have: choose the file again, or map {field} to one of its columns.")]
    NoSuchColumn {
        /// The field.
        field: String,
        /// The column named.
        column: String,
    },
    /// A field the kind does not read.
    #[error("\"{0}\" is not a field of this kind of sheet.")]
    NoSuchField(String),
    /// Another column would still be read as a mapped field.
    #[error("{field} is mapped to the column \"{column}\", but the column \"{other}\" is also read as {field}: map {field} to \"{other}\", or rename that column in the file.")]
    AlsoRead {
        /// The field.
        field: String,
        /// The column it is mapped to.
        column: String,
        /// The other column read as it.
        other: String,
    },
}

/// `table` with the columns `mapping` names (field -> column) renamed to their fields, so that
/// the `kind` planner reads them; a field mapped to "" (or not named) keeps what the headers
/// say.
///
/// # Errors
/// [`MappingError`]: two fields mapped to one column, a column or field that does not exist,
/// or another column still read as a mapped field (two columns would then mean one field).
pub fn apply_mapping(
    kind: SheetKind,
    mut table: Table,
    mapping: &BTreeMap<String, String>,
    request: &SheetRequest,
) -> Result<Table, MappingError> {
    let specs = specs(kind, request);
    // Column index -> (field, aliases), checked first, renamed after.
    let mut chosen: BTreeMap<usize, (&Spec, &str)> = BTreeMap::new();
    for (field, column) in mapping {
        if column.is_empty() {
            continue;
        }
        let spec = specs
            .iter()
            .find(|s| s.field == field)
            .ok_or_else(|| MappingError::NoSuchField(field.clone()))?;
        let at = table
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| MappingError::NoSuchColumn {
                field: field.clone(),
                column: column.clone(),
            })?;
        if let Some((first, _)) = chosen.get(&at) {
            return Err(MappingError::SameColumn {
                column: column.clone(),
                first: first.field.to_string(),
                second: field.clone(),
            });
        }
        chosen.insert(at, (spec, column));
    }
    for (at, (spec, column)) in &chosen {
        if let Some(other) = table.columns.iter().enumerate().find(|(i, c)| {
            i != at
                && !chosen.contains_key(i)
                && spec.aliases.contains(&normalise_header(c).as_str())
        }) {
            return Err(MappingError::AlsoRead {
                field: spec.field.to_string(),
                column: column.to_string(),
                other: other.1.clone(),
            });
        }
    }
    for (at, (spec, _)) in chosen {
        table.columns[at] = spec.field.to_string();
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn unrecognised_headers_ask_for_a_mapping() {
        let fit = column_fit(
            SheetKind::Lifecycle,
            &cols(&["Account", "Mail", "Status change"]),
            &[],
            &SheetRequest::default(),
        );
        assert!(fit.needs_mapping);
        assert_eq!(
            fit.unrecognised,
            cols(&["Account", "Mail", "Status change"])
        );
        assert!(fit.fields.iter().all(|f| f.column.is_none()));
        assert_eq!(fit.fields[0].field, "User ID");
        assert_eq!(fit.fields[0].alternative.as_deref(), Some("Username"));
        // A Username found but no Action, and a column of actions: ask.
        let login = cols(&["Login", "Mail", "Status change"]);
        let rows = vec![
            cols(&["jdoe", "j@x.org", ""]),
            cols(&["ann", "a@x.org", "Disable"]),
        ];
        let d = SheetRequest::default();
        assert!(column_fit(SheetKind::Lifecycle, &login, &rows, &d).needs_mapping);
        // ...not when no column holds actions (a note, an e-mail): such rows are refused.
        let quiet = vec![cols(&["jdoe", "j@x.org", "left in May"])];
        assert!(!column_fit(SheetKind::Lifecycle, &login, &quiet, &d).needs_mapping);
        let fit = column_fit(SheetKind::Lifecycle, &login, &rows, &d);
        assert_eq!(fit.fields[1].column.as_deref(), Some("Login"));
        assert_eq!(fit.fields[2].need, FieldNeed::Expected);
        // ...but not when a default action stands in for it.
        let request = SheetRequest {
            default_action: "disable".into(),
            ..SheetRequest::default()
        };
        let fit = column_fit(SheetKind::Lifecycle, &login, &rows, &request);
        assert!(!fit.needs_mapping);
        assert_eq!(fit.fields[2].need, FieldNeed::Optional);
    }

    #[test]
    fn a_first_row_of_values_is_not_mapped() {
        let fit = column_fit(
            SheetKind::Lifecycle,
            &cols(&["UR_AAAAAAAAAAAAAAA", "disable"]),
            &[],
            &SheetRequest::default(),
        );
        assert!(
            !fit.needs_mapping,
            "the plan says the header row is missing"
        );
    }

    #[test]
    fn recognised_headers_need_no_mapping() {
        let d = SheetRequest::default();
        let lifecycle = column_fit(
            SheetKind::Lifecycle,
            &cols(&["User ID", "Action", "Note"]),
            &[],
            &d,
        );
        assert!(!lifecycle.needs_mapping);
        assert_eq!(lifecycle.unrecognised, cols(&["Note"]));
        let template = crate::provision::template().columns;
        let provision = column_fit(SheetKind::Provision, &template, &[], &d);
        assert!(!provision.needs_mapping);
        // Role and Responsibility: attributes.
        assert_eq!(provision.unrecognised, cols(&["Role", "Responsibility"]));
        assert_eq!(provision.others, "attributes");
        let desired = cols(&crate::membership::DESIRED_COLUMNS);
        assert!(!column_fit(SheetKind::Membership, &desired, &[], &d).needs_mapping);
        // A provisioning sheet without a Username does need one.
        let fit = column_fit(
            SheetKind::Provision,
            &cols(&["Login name x", "Mail"]),
            &[],
            &d,
        );
        assert!(fit.needs_mapping);
        assert_eq!(fit.fields[3].column.as_deref(), Some("Mail"));
    }

    #[test]
    fn a_mapping_renames_the_columns_it_names() {
        let table = Table::from_text(
            &["Account", "Mail", "Status change"],
            &[&["jdoe", "j@x.org", "disable"]],
        );
        let d = SheetRequest::default();
        let mapped = apply_mapping(
            SheetKind::Lifecycle,
            table.clone(),
            &map(&[
                ("Username", "Account"),
                ("Action", "Status change"),
                ("User ID", ""),
            ]),
            &d,
        )
        .unwrap();
        assert_eq!(mapped.columns, cols(&["Username", "Mail", "Action"]));
        assert_eq!(mapped.rows, table.rows);
        assert!(!column_fit(SheetKind::Lifecycle, &mapped.columns, &[], &d).needs_mapping);
    }

    #[test]
    fn careless_mappings_are_refused_with_a_reason() {
        let table = Table::from_text(&["Account", "Login", "Status change"], &[&["a", "b", "c"]]);
        let d = SheetRequest::default();
        let err = |m: &[(&str, &str)]| {
            apply_mapping(SheetKind::Lifecycle, table.clone(), &map(m), &d)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[("Action", "Account"), ("Username", "Account")]),
            "Action and Username are both mapped to the column \"Account\": a column holds one field, so map one of them to another column."
        );
        assert!(err(&[("Action", "Nope")]).contains("which this sheet does not have"));
        assert_eq!(
            err(&[("Colour", "Account")]),
            "\"Colour\" is not a field of this kind of sheet."
        );
        // "Login" would still be read as the Username beside the column mapped to it.
        assert_eq!(
            err(&[("Username", "Account")]),
            "Username is mapped to the column \"Account\", but the column \"Login\" is also read as Username: map Username to \"Login\", or rename that column in the file."
        );
        // Mapping the recognised column to another field frees it.
        let ok = apply_mapping(
            SheetKind::Lifecycle,
            table.clone(),
            &map(&[("Username", "Account"), ("Action", "Login")]),
            &d,
        )
        .unwrap();
        assert_eq!(ok.columns, cols(&["Username", "Action", "Status change"]));
    }
}
