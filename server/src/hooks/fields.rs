//! What both the configuration and the mapping read of an event's fields: JSON Pointers into
//! it, and the column words that mean the user type (a home of their own, below both, so
//! neither reaches into the other for them).

use qualtrics_roster::sheet::columns::normalise_header;
use serde_json::Value;

/// Whether a sheet column `name` is read by the core as the user type. The same spellings as
/// the core's provisioning columns (`Field::UserType` in `src/provision/mod.rs`: "User type",
/// "Account type", "Type", any case and punctuation), which the core keeps private.
#[must_use]
pub fn is_user_type_column(name: &str) -> bool {
    matches!(
        normalise_header(name).as_str(),
        "usertype" | "accounttype" | "type"
    )
}

/// Whether `value` names the Brand Administrator's user type: `UT_BRANDADMIN` in any case (the
/// only form seen, in user listings; whether whoami or other brands spell it otherwise is
/// unverified: qualtrics-api.md §1, §4), or the type's name, "Brand Administrator".
#[must_use]
pub fn names_brand_administrator(value: &str) -> bool {
    matches!(
        normalise_header(value).as_str(),
        "utbrandadmin" | "brandadmin" | "brandadministrator"
    )
}

/// The value at `path`: a JSON Pointer, where a segment `[key=NAME]` picks, from a list of
/// `{key, value}` objects (Dynamics 365's attribute lists), the one whose `key` is NAME.
pub fn pointer<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = event;
    for segment in path.split('/').skip(1) {
        if let Some(name) = segment
            .strip_prefix("[key=")
            .and_then(|s| s.strip_suffix(']'))
        {
            at = at
                .as_array()?
                .iter()
                .find(|item| item.get("key").and_then(Value::as_str) == Some(name))?;
            continue;
        }
        let segment = segment.replace("~1", "/").replace("~0", "~");
        at = match at {
            Value::Object(map) => map.get(&segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}
