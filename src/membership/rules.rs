//! Role mapping: the brand's Automatic Role Assignment rules, kept in a "Roles" sheet
//! (`Role | Attribute | Operator | Value`), evaluated over CX directory attributes.
//!
//! CX dashboard roles have no read API: users land in roles through rules on their directory
//! metadata. This module says who is in which role by evaluating those rules, and, the other way
//! round, which attribute change puts a user into or out of a role.
//!
//! Matching, as this tool does it (Qualtrics documents only "Equals is an exact match" and "In
//! accounts for `::` values"; the rest is our reading, see the API notes):
//! - a role's rules are alternatives: a user is in the role when **any** of its rules matches
//!   (one sheet row per rule);
//! - `Equals`: the attribute's whole value equals the rule's value;
//! - `In`: the attribute's value split on `::`, each part trimmed, has a part equal to the
//!   rule's value (`Seattle::Provo` is in `Seattle`; `Seattleite` is not);
//! - a missing or blank attribute matches nothing;
//! - values compare case-sensitively unless [`MatchOptions::case_sensitive`] is off.
//!
//! Role mapping (see [`RoleDef::join`] and [`RoleDef::leave`]): to join a role, an `In` rule
//! adds its value to the attribute's list without disturbing the other values; an `Equals` rule
//! sets the attribute (which may take the user out of other roles: the caller re-evaluates and
//! says so). To leave, every matching rule is undone: an `In` value is removed from the list,
//! an `Equals` attribute is cleared. A role without a rule cannot be joined or left through
//! attributes at all.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::sheet::columns::normalise_header;
use crate::sheet::table::Table;

/// How a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
pub enum RuleOperator {
    /// The whole value equals the rule's value.
    Equals,
    /// One `::` part equals the rule's value.
    In,
}

impl RuleOperator {
    /// Parses the Operator cell (`Equals`, `=`, `is`, `In`), any case.
    #[must_use]
    pub fn parse(cell: &str) -> Option<RuleOperator> {
        match cell.trim().to_lowercase().as_str() {
            "equals" | "equal" | "=" | "==" | "is" => Some(RuleOperator::Equals),
            "in" | "contains" | "includes" => Some(RuleOperator::In),
            _ => None,
        }
    }

    /// The word shown in sheets and reasons.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RuleOperator::Equals => "Equals",
            RuleOperator::In => "In",
        }
    }
}

/// One Automatic Role Assignment rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct RoleRule {
    /// The metadata attribute it reads.
    pub attribute: String,
    /// How it compares.
    pub operator: RuleOperator,
    /// The value it looks for.
    pub value: String,
    /// The Roles sheet row it came from.
    pub row: u32,
}

impl RoleRule {
    /// `Region In EMEA`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.attribute,
            self.operator.as_str(),
            self.value
        )
    }
}

/// How values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchOptions {
    /// Compare values case-sensitively (the default; Qualtrics' own behaviour is unverified).
    pub case_sensitive: bool,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            case_sensitive: true,
        }
    }
}

impl MatchOptions {
    fn same(self, a: &str, b: &str) -> bool {
        if self.case_sensitive {
            a == b
        } else {
            a.to_lowercase() == b.to_lowercase()
        }
    }
}

/// The `::` parts of a value, trimmed, without empty ones.
pub fn list_parts(value: &str) -> impl Iterator<Item = &str> {
    value.split("::").map(str::trim).filter(|p| !p.is_empty())
}

/// A role and its rules (none: the role is assigned by hand only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct RoleDef {
    /// The role's name.
    pub name: String,
    /// Its rules (alternatives).
    pub rules: Vec<RoleRule>,
}

/// Metadata: attribute -> value.
pub type Metadata = BTreeMap<String, String>;

impl RuleOperator {
    fn matches(self, value: &str, wanted: &str, options: MatchOptions) -> bool {
        match self {
            RuleOperator::Equals => options.same(value.trim(), wanted),
            RuleOperator::In => list_parts(value).any(|p| options.same(p, wanted)),
        }
    }
}

impl RoleRule {
    /// Whether `metadata` satisfies this rule.
    #[must_use]
    pub fn matches(&self, metadata: &Metadata, options: MatchOptions) -> bool {
        metadata
            .get(&self.attribute)
            .is_some_and(|v| self.operator.matches(v, &self.value, options))
    }
}

impl RoleDef {
    /// Whether `metadata` puts a user in this role (any rule matches).
    #[must_use]
    pub fn matches(&self, metadata: &Metadata, options: MatchOptions) -> bool {
        self.rules.iter().any(|r| r.matches(metadata, options))
    }

    /// Changes `metadata` so that this role's rule holds; returns what was done in words
    /// (`add Seattle to Hotel`), or why it cannot be done. Prefers an `In` rule (it adds a
    /// value without disturbing others) over an `Equals` rule (it replaces the value).
    pub fn join(
        &self,
        metadata: &mut Metadata,
        options: MatchOptions,
    ) -> Result<String, RoleHasNoRule> {
        if self.matches(metadata, options) {
            return Ok("already matches".into());
        }
        let rule = self
            .rules
            .iter()
            .find(|r| r.operator == RuleOperator::In)
            .or_else(|| self.rules.first())
            .ok_or_else(|| self.no_rule())?;
        let current = metadata.get(&rule.attribute).cloned().unwrap_or_default();
        let (new, what) = match rule.operator {
            RuleOperator::In => {
                let mut parts: Vec<&str> = list_parts(&current).collect();
                parts.push(&rule.value);
                (
                    parts.join("::"),
                    format!("add {} to {}", rule.value, rule.attribute),
                )
            }
            RuleOperator::Equals => {
                let was = if current.trim().is_empty() {
                    String::new()
                } else {
                    format!(" (was {})", current.trim())
                };
                (
                    rule.value.clone(),
                    format!("set {} to {}{was}", rule.attribute, rule.value),
                )
            }
        };
        metadata.insert(rule.attribute.clone(), new);
        Ok(format!("{}: {} -> {what}", self.label(), rule.describe()))
    }

    /// Changes `metadata` so that no rule of this role holds; returns what was done in words.
    pub fn leave(
        &self,
        metadata: &mut Metadata,
        options: MatchOptions,
    ) -> Result<String, RoleHasNoRule> {
        if self.rules.is_empty() {
            return Err(self.no_rule());
        }
        let mut done = Vec::new();
        for rule in &self.rules {
            if !rule.matches(metadata, options) {
                continue;
            }
            let current = metadata.get(&rule.attribute).cloned().unwrap_or_default();
            match rule.operator {
                RuleOperator::In => {
                    let kept: Vec<&str> = list_parts(&current)
                        .filter(|p| !options.same(p, &rule.value))
                        .collect();
                    if kept.is_empty() {
                        metadata.remove(&rule.attribute);
                    } else {
                        metadata.insert(rule.attribute.clone(), kept.join("::"));
                    }
                    done.push(format!(
                        "{} -> remove {} from {}",
                        rule.describe(),
                        rule.value,
                        rule.attribute
                    ));
                }
                RuleOperator::Equals => {
                    metadata.remove(&rule.attribute);
                    done.push(format!(
                        "{} -> clear {} (was {})",
                        rule.describe(),
                        rule.attribute,
                        current.trim()
                    ));
                }
            }
        }
        if done.is_empty() {
            return Ok("already does not match".into());
        }
        Ok(format!("{}: {}", self.label(), done.join("; ")))
    }

    fn label(&self) -> String {
        format!("role {}", self.name)
    }

    pub(crate) fn no_rule(&self) -> RoleHasNoRule {
        RoleHasNoRule {
            role: self.name.clone(),
        }
    }
}

/// Why a role's membership cannot be changed through attributes: the Roles sheet gives it no
/// automatic rule (Qualtrics has no API that reads or changes role membership directly).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role {role} has no automatic rule in the Roles sheet, so no attribute change can do this: ask a brand administrator to change it in CX Dashboards > User admin > Roles, or add its rule to the Roles sheet.")]
pub struct RoleHasNoRule {
    /// The role's name.
    pub role: String,
}

/// A problem in the Roles sheet, on its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleProblem {
    /// Sheet row (0 for the sheet as a whole).
    pub row: u32,
    /// What is wrong and what to do.
    pub message: String,
}

/// The Roles sheet read: roles in sheet order, and the rows that could not be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleSheet {
    /// Roles, in the order they first appear.
    pub roles: Vec<RoleDef>,
    /// Problems, each naming its row.
    pub problems: Vec<RuleProblem>,
}

impl RoleSheet {
    /// The role of this name (case-insensitive).
    #[must_use]
    pub fn role(&self, name: &str) -> Option<&RoleDef> {
        let name = name.trim().to_lowercase();
        self.roles.iter().find(|r| r.name.to_lowercase() == name)
    }

    /// The roles `metadata` puts a user in, as indexes into `roles`.
    #[must_use]
    pub fn roles_of(&self, metadata: &Metadata, options: MatchOptions) -> Vec<usize> {
        self.roles
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(metadata, options))
            .map(|(i, _)| i)
            .collect()
    }
}

/// What a user's pending role changes would do by the rules (the Groups and roles view shows it
/// beside the change sheet): the roles the user would be in and out of afterwards compared with
/// now, the attribute changes that get there, and the changes no attribute can make.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct RolesAfter {
    /// Roles the user would be in and is not now, in sheet order.
    pub gained: Vec<String>,
    /// Roles the user is in now and would not be, in sheet order (an `Equals` rule replacing a
    /// value takes the user out of roles nobody asked about: this says so).
    pub lost: Vec<String>,
    /// The attribute changes, in words (`role Seattle Team: Hotel In Seattle -> add Seattle to Hotel`).
    pub steps: Vec<String>,
    /// Why a change cannot be made (a role without a rule, a role not in the sheet).
    pub refused: Vec<String>,
}

impl RoleSheet {
    /// The roles a user with `metadata` would gain and lose if each `(role, member)` change
    /// were made in turn through the rules' attributes (as [`RoleDef::join`] and
    /// [`RoleDef::leave`] plan them); the user's metadata is not changed.
    #[must_use]
    pub fn roles_after(
        &self,
        metadata: &Metadata,
        changes: &[(String, bool)],
        options: MatchOptions,
    ) -> RolesAfter {
        let mut after = metadata.clone();
        let mut out = RolesAfter::default();
        for (name, member) in changes {
            let Some(role) = self.role(name) else {
                out.refused.push(format!(
                    "{name} is not a role of the Roles sheet, so no rule says what changes."
                ));
                continue;
            };
            // Already as asked: nothing to do, as the plan leaves such a row unchanged.
            if role.matches(&after, options) == *member {
                continue;
            }
            let done = if *member {
                role.join(&mut after, options)
            } else {
                role.leave(&mut after, options)
            };
            match done {
                Ok(step) => out.steps.push(step),
                Err(e) => out.refused.push(e.to_string()),
            }
        }
        let (before, now) = (
            self.roles_of(metadata, options),
            self.roles_of(&after, options),
        );
        let name = |i: &usize| self.roles[*i].name.clone();
        out.gained = now
            .iter()
            .filter(|i| !before.contains(i))
            .map(name)
            .collect();
        out.lost = before
            .iter()
            .filter(|i| !now.contains(i))
            .map(name)
            .collect();
        out
    }
}

/// The Roles sheet's columns, in order.
pub const ROLE_COLUMNS: [&str; 4] = ["Role", "Attribute", "Operator", "Value"];

/// Reads a Roles sheet. Each row is a rule, or (Attribute, Operator and Value blank) a role
/// assigned by hand only. Rows with an unknown operator, a missing part, or an `In` value that
/// holds `::` are reported on their row and left out.
#[must_use]
pub fn read_role_sheet(table: &Table) -> RoleSheet {
    let mut sheet = RoleSheet::default();
    let find = |names: &[&str]| {
        table
            .columns
            .iter()
            .position(|c| names.contains(&normalise_header(c).as_str()))
    };
    let role_col = find(&["role", "rolename", "dashboardrole"]);
    let attr_col = find(&["attribute", "metadata", "field", "attributename"]);
    let op_col = find(&["operator", "op", "condition"]);
    let value_col = find(&["value", "values"]);
    let (Some(role_col), Some(attr_col), Some(op_col), Some(value_col)) =
        (role_col, attr_col, op_col, value_col)
    else {
        sheet.problems.push(RuleProblem {
            row: 0,
            message: format!(
                "The Roles sheet needs the columns {} (found: {}).",
                ROLE_COLUMNS.join(", "),
                table.columns.join(", ")
            ),
        });
        return sheet;
    };
    let column = |i: usize| table.columns[i].as_str();
    for i in 0..table.rows.len() {
        let row = table.row_number(i);
        let cell = |c: usize| table.cell(i, c).trim();
        let (name, attribute, op, value) = (
            cell(role_col),
            cell(attr_col),
            cell(op_col),
            cell(value_col),
        );
        if name.is_empty() && attribute.is_empty() && op.is_empty() && value.is_empty() {
            continue;
        }
        let problem = |message: String| RuleProblem { row, message };
        if name.is_empty() {
            sheet.problems.push(problem(format!(
                "Row {row}, {}: empty: name the role this rule belongs to.",
                column(role_col)
            )));
            continue;
        }
        if attribute.is_empty() && op.is_empty() && value.is_empty() {
            role_index(&mut sheet.roles, name); // a role assigned by hand only
            continue;
        }
        let operator = match RuleOperator::parse(op) {
            Some(o) => o,
            None if op.is_empty() => {
                sheet.problems.push(problem(format!(
                    "Row {row}, {}: empty: write Equals or In (or leave Attribute and Value blank too, for a role assigned by hand).",
                    column(op_col)
                )));
                continue;
            }
            None => {
                sheet.problems.push(problem(format!(
                    "Row {row}, {}: \"{op}\" is not an operator qualtrics-roster knows: use Equals (the whole value) or In (one part of a :: list), as in Automatic Role Assignment.",
                    column(op_col)
                )));
                continue;
            }
        };
        if attribute.is_empty() {
            sheet.problems.push(problem(format!(
                "Row {row}, {}: empty: name the metadata attribute the rule reads (for example Hotel).",
                column(attr_col)
            )));
            continue;
        }
        if value.is_empty() {
            sheet.problems.push(problem(format!(
                "Row {row}, {}: empty: give the value the rule looks for.",
                column(value_col)
            )));
            continue;
        }
        if operator == RuleOperator::In && value.contains("::") {
            sheet.problems.push(problem(format!(
                "Row {row}, {}: \"{value}\" holds ::, but an In rule looks for one part: write one row per value.",
                column(value_col)
            )));
            continue;
        }
        let index = role_index(&mut sheet.roles, name);
        sheet.roles[index].rules.push(RoleRule {
            attribute: attribute.to_string(),
            operator,
            value: value.to_string(),
            row,
        });
    }
    if sheet.roles.is_empty() && sheet.problems.is_empty() {
        sheet.problems.push(RuleProblem {
            row: 0,
            message: "The Roles sheet has no roles: add one row per rule (Role, Attribute, Operator, Value).".into(),
        });
    }
    sheet
}

/// The index of the role `name` (case-insensitive), added when new.
fn role_index(roles: &mut Vec<RoleDef>, name: &str) -> usize {
    match roles
        .iter()
        .position(|r| r.name.to_lowercase() == name.to_lowercase())
    {
        Some(i) => i,
        None => {
            roles.push(RoleDef {
                name: name.to_string(),
                rules: Vec::new(),
            });
            roles.len() - 1
        }
    }
}

/// A Roles sheet with the header and example rows, as a template.
#[must_use]
pub fn role_template() -> Table {
    Table::from_text(
        &ROLE_COLUMNS,
        &[
            &["Seattle Team", "Hotel", "In", "Seattle"],
            &["EMEA Sales", "Region", "Equals", "EMEA"],
            &["Executive Viewers", "", "", ""],
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[&str; 4]]) -> Table {
        let rows: Vec<&[&str]> = rows.iter().map(|r| &r[..]).collect();
        Table::from_text(&ROLE_COLUMNS, &rows)
    }

    fn meta(pairs: &[(&str, &str)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn in_matches_a_trimmed_part_never_a_substring() {
        let sheet = read_role_sheet(&table(&[["Seattle Team", "Hotel", "in", "Seattle"]]));
        let role = &sheet.roles[0];
        let o = MatchOptions::default();
        assert!(role.matches(&meta(&[("Hotel", "Provo:: Seattle ")]), o));
        assert!(role.matches(&meta(&[("Hotel", "Seattle")]), o));
        assert!(!role.matches(&meta(&[("Hotel", "Seattleite::Provo")]), o));
        assert!(!role.matches(&meta(&[("Hotel", "seattle")]), o));
        assert!(role.matches(
            &meta(&[("Hotel", "seattle")]),
            MatchOptions {
                case_sensitive: false
            }
        ));
        assert!(!role.matches(&meta(&[("Region", "Seattle")]), o));
    }

    #[test]
    fn equals_matches_the_whole_value() {
        let sheet = read_role_sheet(&table(&[["EMEA Sales", "Region", "Equals", "EMEA"]]));
        let role = &sheet.roles[0];
        let o = MatchOptions::default();
        assert!(role.matches(&meta(&[("Region", "EMEA")]), o));
        assert!(!role.matches(&meta(&[("Region", "EMEA::AMER")]), o));
    }

    #[test]
    fn joining_by_in_keeps_the_other_values_and_leaving_removes_only_that_one() {
        let sheet = read_role_sheet(&table(&[["Seattle Team", "Hotel", "In", "Seattle"]]));
        let role = &sheet.roles[0];
        let o = MatchOptions::default();
        let mut m = meta(&[("Hotel", "Provo::Boston"), ("Region", "AMER")]);
        let why = role.join(&mut m, o).unwrap();
        assert_eq!(m["Hotel"], "Provo::Boston::Seattle");
        assert_eq!(
            why,
            "role Seattle Team: Hotel In Seattle -> add Seattle to Hotel"
        );
        assert!(role.matches(&m, o));
        role.leave(&mut m, o).unwrap();
        assert_eq!(m["Hotel"], "Provo::Boston");
        let mut only = meta(&[("Hotel", "Seattle")]);
        role.leave(&mut only, o).unwrap();
        assert!(!only.contains_key("Hotel"), "an emptied list is cleared");
    }

    #[test]
    fn joining_by_equals_says_what_it_replaced_and_leaving_clears() {
        let sheet = read_role_sheet(&table(&[["EMEA Sales", "Region", "Equals", "EMEA"]]));
        let role = &sheet.roles[0];
        let mut m = meta(&[("Region", "AMER")]);
        let why = role.join(&mut m, MatchOptions::default()).unwrap();
        assert_eq!(
            why,
            "role EMEA Sales: Region Equals EMEA -> set Region to EMEA (was AMER)"
        );
        let why = role.leave(&mut m, MatchOptions::default()).unwrap();
        assert!(why.contains("clear Region (was EMEA)"), "{why}");
        assert!(!m.contains_key("Region"));
    }

    #[test]
    fn a_role_without_a_rule_cannot_be_mapped() {
        let sheet = read_role_sheet(&table(&[["Executive Viewers", "", "", ""]]));
        let role = &sheet.roles[0];
        assert!(role.rules.is_empty());
        let err = role
            .join(&mut Metadata::new(), MatchOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("has no automatic rule"), "{err}");
        assert!(role
            .leave(&mut Metadata::new(), MatchOptions::default())
            .is_err());
    }

    #[test]
    fn bad_rows_are_reported_on_their_row() {
        let sheet = read_role_sheet(&table(&[
            ["A", "Hotel", "Contains any", "Seattle"],
            ["B", "Hotel", "", "Seattle"],
            ["C", "", "Equals", "x"],
            ["D", "Hotel", "In", "Seattle::Provo"],
            ["", "Hotel", "In", "Provo"],
            ["E", "Region", "Equals", ""],
            ["F", "Region", "Equals", "EMEA"],
        ]));
        let messages: Vec<&str> = sheet.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            sheet.problems.iter().map(|p| p.row).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6, 7]
        );
        assert!(
            messages[0].starts_with("Row 2, Operator: \"Contains any\" is not an operator"),
            "{}",
            messages[0]
        );
        assert!(messages[3].contains("one row per value"));
        assert_eq!(sheet.role("f").unwrap().rules.len(), 1);
        assert!(
            sheet.role("a").is_none(),
            "a row that is refused does not make a role"
        );
        let missing = read_role_sheet(&Table {
            columns: vec!["Role".into(), "Attribute".into()],
            rows: vec![vec!["x".into(), "y".into()]],
            row_numbers: Vec::new(),
            lines: Vec::new(),
        });
        assert!(missing.problems[0]
            .message
            .contains("needs the columns Role, Attribute, Operator, Value"));
    }

    #[test]
    fn roles_after_a_change_names_the_roles_gained_and_lost_beside_it() {
        let sheet = read_role_sheet(&table(&[
            ["EMEA Sales", "Region", "Equals", "EMEA"],
            ["AMER Sales", "Region", "Equals", "AMER"],
            ["Seattle Team", "Hotel", "In", "Seattle"],
            ["Executive Viewers", "", "", ""],
        ]));
        let o = MatchOptions::default();
        let m = meta(&[("Region", "AMER"), ("Hotel", "Provo")]);
        let after = sheet.roles_after(&m, &[("emea sales".into(), true)], o);
        assert_eq!(after.gained, ["EMEA Sales"]);
        assert_eq!(after.lost, ["AMER Sales"], "Equals replaces the value");
        assert_eq!(
            after.steps,
            ["role EMEA Sales: Region Equals EMEA -> set Region to EMEA (was AMER)"]
        );
        assert_eq!(m["Region"], "AMER", "the user's metadata is not changed");
        let both = sheet.roles_after(
            &m,
            &[
                ("Seattle Team".into(), true),
                ("AMER Sales".into(), false),
                ("Executive Viewers".into(), true),
                ("Night Shift".into(), true),
            ],
            o,
        );
        assert_eq!(both.gained, ["Seattle Team"]);
        assert_eq!(both.lost, ["AMER Sales"]);
        assert_eq!(both.steps.len(), 2);
        assert!(both.refused[0].contains("Executive Viewers has no automatic rule"));
        assert!(both.refused[1].starts_with("Night Shift is not a role"));
        let none = sheet.roles_after(&m, &[("AMER Sales".into(), true)], o);
        assert_eq!(
            none,
            RolesAfter::default(),
            "already in it: nothing changes"
        );
    }

    #[test]
    fn several_rules_are_alternatives() {
        let sheet = read_role_sheet(&table(&[
            ["Front line", "Role", "Equals", "Agent"],
            ["Front line", "Hotel", "In", "Provo"],
        ]));
        assert_eq!(sheet.roles.len(), 1);
        let role = &sheet.roles[0];
        let o = MatchOptions::default();
        assert!(role.matches(&meta(&[("Role", "Agent")]), o));
        assert!(role.matches(&meta(&[("Hotel", "Boston::Provo")]), o));
        let mut both = meta(&[("Role", "Agent"), ("Hotel", "Provo")]);
        role.leave(&mut both, o).unwrap();
        assert!(
            !role.matches(&both, o),
            "leaving undoes every matching rule"
        );
    }
}
