//! An event's JSON mapped to one row of a sheet the core already plans: a provisioning row
//! (create or update an account and its attributes) or a lifecycle row (disable, enable). The
//! data-access field may name a role, turned into the attributes its Automatic Role Assignment
//! rule reads (the same role rules the membership plan uses).

use std::collections::BTreeMap;

use qualtrics_roster::membership::rules::{MatchOptions, Metadata, RoleSheet};
use qualtrics_roster::sheet::columns::normalise_header;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::HookConfig;
use super::fields::{is_user_type_column, names_brand_administrator, pointer};

/// What an event asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookAction {
    /// Create the account (or update it, if it exists) and set its attributes.
    Create,
    /// Update the account's fields and attributes (created if missing).
    Update,
    /// Disable the account.
    Disable,
    /// Re-enable the account.
    Enable,
}

impl HookAction {
    /// True for the actions a lifecycle sheet applies.
    #[must_use]
    pub fn is_lifecycle(self) -> bool {
        matches!(self, HookAction::Disable | HookAction::Enable)
    }

    fn parse(word: &str) -> Option<HookAction> {
        match normalise_header(word).as_str() {
            "" | "create" | "new" | "add" | "provision" | "upsert" => Some(HookAction::Create),
            "update" | "change" | "modify" => Some(HookAction::Update),
            "disable" | "deactivate" | "suspend" => Some(HookAction::Disable),
            "enable" | "reenable" | "activate" | "reactivate" => Some(HookAction::Enable),
            _ => None,
        }
    }
}

/// One event as a sheet row: the account it names, what it asks, and its cells by column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRow {
    /// The account's username, as the event gives it.
    pub username: String,
    /// What the event asks.
    pub action: HookAction,
    /// Column -> cell, in the columns the core reads (`Username`, `First name`, attributes…).
    pub cells: BTreeMap<String, String>,
}

/// Why an event cannot be mapped (answered 422, naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {expected}")]
pub struct MappingError {
    /// The configured column (or the JSON Pointer) at fault.
    pub field: String,
    /// What was expected there.
    pub expected: String,
}

/// A configured source: a JSON Pointer into the event, or a constant.
fn value_of<'a>(event: &'a Value, source: &'a str) -> Option<std::borrow::Cow<'a, str>> {
    if !source.starts_with('/') {
        return Some(source.into());
    }
    match pointer(event, source)? {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        Value::Bool(b) => Some(b.to_string().into()),
        // A list of values (several hotels): a `::` list, as the sheets write it.
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("::")
                .into(),
        ),
        Value::Null | Value::Object(_) => None,
    }
}

/// Refuses a user type the hook may not set: the Brand Administrator's (whatever the
/// configuration says), or, for a type read from the event, one outside `user_types`. A blank
/// value is left to the plan (it keeps an existing account's type; a new account needs one).
fn check_user_type(hook: &HookConfig, source: &str, value: &str) -> Result<(), MappingError> {
    if value.is_empty() {
        return Ok(());
    }
    if names_brand_administrator(value) {
        return Err(MappingError {
            field: source.to_string(),
            expected: format!(
                "a user type other than the Brand Administrator's (found {value:?}): a hook never creates or promotes a Brand Administrator"
            ),
        });
    }
    if source.starts_with('/') && !hook.user_types.iter().any(|t| t.trim() == value) {
        return Err(MappingError {
            field: source.to_string(),
            expected: format!(
                "one of the hook's user_types ({}), found {value:?}",
                hook.user_types.join(", ")
            ),
        });
    }
    Ok(())
}

/// Maps `event` with `hook`'s fields and attributes (`roles`: its Roles sheet, if any).
pub fn map_event(
    hook: &HookConfig,
    roles: &RoleSheet,
    event: &Value,
) -> Result<HookRow, MappingError> {
    if !event.is_object() {
        return Err(MappingError {
            field: "(event)".into(),
            expected: "a JSON object (or a list of them)".into(),
        });
    }
    let mut cells = BTreeMap::new();
    let mut action = HookAction::Create;
    let mut role = None;
    for (column, source) in &hook.fields {
        let value = value_of(event, source).map(|v| v.trim().to_string());
        match normalise_header(column).as_str() {
            "action" => {
                let word = value.unwrap_or_default();
                action = HookAction::parse(&word).ok_or_else(|| MappingError {
                    field: source.clone(),
                    expected: format!(
                        "an action: create, update, disable or enable (found {word:?})"
                    ),
                })?;
            }
            "role" | "dataaccess" => role = value.filter(|v| !v.is_empty()),
            // The account's key under the one spelling the worker's sheet starts with.
            "username" => {
                cells.insert("Username".to_string(), value.unwrap_or_default());
            }
            _ if is_user_type_column(column) => {
                let value = value.unwrap_or_default();
                check_user_type(hook, source, &value)?;
                cells.insert(column.clone(), value);
            }
            // Every configured column is in the row, blank when the event has no value: a
            // blank keeps an existing account's value, and a new account missing one is
            // refused naming the column as configured.
            _ => {
                cells.insert(column.clone(), value.unwrap_or_default());
            }
        }
    }
    let username = cells
        .get("Username")
        .cloned()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| MappingError {
            field: hook
                .fields
                .iter()
                .find(|(c, _)| normalise_header(c) == "username")
                .map_or("Username".to_string(), |(_, s)| s.clone()),
            expected: "the account's username (a text value): every event must name its account"
                .into(),
        })?;
    if action.is_lifecycle() {
        let mut lifecycle = BTreeMap::new();
        lifecycle.insert("Username".to_string(), username.clone());
        lifecycle.insert(
            "Action".to_string(),
            if action == HookAction::Disable {
                "disable"
            } else {
                "enable"
            }
            .to_string(),
        );
        return Ok(HookRow {
            username,
            action,
            cells: lifecycle,
        });
    }
    for (attribute, source) in &hook.attributes {
        if let Some(v) = value_of(event, source).map(|v| v.trim().to_string()) {
            if !v.is_empty() {
                cells.insert(attribute.clone(), v);
            }
        }
    }
    if let Some(names) = role {
        let mut metadata = Metadata::new();
        for name in names.split("::").map(str::trim).filter(|n| !n.is_empty()) {
            let def = roles.role(name).ok_or_else(|| MappingError {
                field: hook
                    .fields
                    .iter()
                    .find(|(c, _)| matches!(normalise_header(c).as_str(), "role" | "dataaccess"))
                    .map_or("Role".to_string(), |(_, s)| s.clone()),
                expected: format!(
                    "a role of the hook's Roles sheet ({}), found {name:?}",
                    roles
                        .roles
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
            def.join(&mut metadata, MatchOptions::default())
                .map_err(|e| MappingError {
                    field: name.to_string(),
                    expected: e.to_string(),
                })?;
        }
        for (attribute, value) in metadata {
            cells.insert(attribute, value);
        }
    }
    // Only the configured field sets a user type: an attribute a role's rule reads under a
    // name the sheet would take for the user type ("Type") would otherwise set one.
    let configured = hook.fields.keys().find(|c| is_user_type_column(c));
    if let Some(column) = cells
        .keys()
        .find(|c| is_user_type_column(c) && Some(*c) != configured)
    {
        return Err(MappingError {
            field: column.clone(),
            expected: "an attribute named otherwise: the sheet would read it as the user type, which only fields.\"User type\" sets".into(),
        });
    }
    Ok(HookRow {
        username,
        action,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_json_and_dynamics_key_value_lists() {
        let event = serde_json::json!({
            "InputParameters": [{"key": "Target", "value": {"Attributes": [
                {"key": "emailaddress1", "value": "dee@x.org"},
                {"key": "firstname", "value": "Dee"}
            ]}}],
            "a/b": {"c~d": 7},
            "hotels": ["Seattle", "Provo"]
        });
        let at = |p: &str| pointer(&event, p).cloned();
        assert_eq!(
            at("/InputParameters/[key=Target]/value/Attributes/[key=emailaddress1]/value"),
            Some("dee@x.org".into())
        );
        assert_eq!(
            at("/InputParameters/0/value/Attributes/1/value"),
            Some("Dee".into())
        );
        assert_eq!(at("/a~1b/c~0d"), Some(7.into()));
        assert_eq!(at("/InputParameters/[key=Nope]/value"), None);
        assert_eq!(
            value_of(&event, "/hotels").as_deref(),
            Some("Seattle::Provo")
        );
        assert_eq!(
            value_of(&event, "UT_constant").as_deref(),
            Some("UT_constant")
        );
    }

    #[test]
    fn the_username_column_may_be_spelled_any_way_and_blank_fields_are_kept_as_blank() {
        let hook: HookConfig = toml::from_str(
            "signing_secrets = []\n[fields]\nusername = \"/email\"\n\"Last name\" = \"/last\"\n",
        )
        .unwrap();
        let event = serde_json::json!({"email": "a@x.org"});
        let row = map_event(&hook, &RoleSheet::default(), &event).unwrap();
        assert_eq!(row.username, "a@x.org");
        assert_eq!(
            row.cells.get("Username").map(String::as_str),
            Some("a@x.org")
        );
        assert_eq!(row.cells.get("Last name").map(String::as_str), Some(""));
        assert!(!row.cells.contains_key("username"));
    }

    #[test]
    fn a_user_type_comes_from_a_constant_or_the_allow_list_and_never_is_the_administrators() {
        let hook = |fields: &str, list: &str| -> HookConfig {
            toml::from_str(&format!(
                "signing_secrets = []\nuser_types = [{list}]\n[fields]\nUsername = \"/email\"\n{fields}\n"
            ))
            .unwrap()
        };
        let roles = RoleSheet::default();
        let event = |t: &str| serde_json::json!({"email": "a@x.org", "type": t});
        let mapped = hook("\"Account type\" = \"/type\"", "\"UT_a\", \"UT_b\"");
        let row = map_event(&mapped, &roles, &event("UT_b")).unwrap();
        assert_eq!(
            row.cells.get("Account type").map(String::as_str),
            Some("UT_b")
        );
        let refused = map_event(&mapped, &roles, &event("UT_c")).unwrap_err();
        assert_eq!(refused.field, "/type");
        assert!(refused.expected.contains("UT_a, UT_b"), "{refused}");
        for admin in ["UT_BRANDADMIN", "ut_brandadmin", "Brand Administrator"] {
            let refused = map_event(&mapped, &roles, &event(admin)).unwrap_err();
            assert_eq!(refused.field, "/type");
            assert!(
                refused.expected.contains("never creates or promotes"),
                "{refused}"
            );
        }
        // Blank: left to the plan (an existing account keeps its type).
        assert!(map_event(&mapped, &roles, &event("")).is_ok());
        // A constant is the hook's own choice, whatever the event holds.
        let fixed = hook("\"User type\" = \"UT_a\"", "");
        let row = map_event(&fixed, &roles, &event("UT_BRANDADMIN")).unwrap();
        assert_eq!(row.cells.get("User type").map(String::as_str), Some("UT_a"));
        // Even a configuration that names the administrator's type (refused at start) maps none.
        let bad = hook("\"User type\" = \"ut_BrandAdmin\"", "");
        assert!(map_event(&bad, &roles, &event("")).is_err());
    }

    #[test]
    fn a_roles_attribute_cannot_set_the_user_type() {
        let hook: HookConfig = toml::from_str(
            "signing_secrets = []\n[fields]\nUsername = \"/email\"\nRole = \"/role\"\n",
        )
        .unwrap();
        let table = qualtrics_roster::sheet::table::Table::from_csv(
            "Role,Attribute,Operator,Value\nSneaky,Type,In,UT_BRANDADMIN\n",
        )
        .unwrap();
        let roles = qualtrics_roster::membership::rules::read_role_sheet(&table);
        let event = serde_json::json!({"email": "a@x.org", "role": "Sneaky"});
        let refused = map_event(&hook, &roles, &event).unwrap_err();
        assert_eq!(refused.field, "Type");
    }
}
