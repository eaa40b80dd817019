//! Groups: the records `GET /groups` lists and the membership requests
//! (`POST /groups/{id}/members`, `DELETE /groups/{id}/members/{userId}`). What a membership
//! sheet means by them is the membership kind's; these are the API's shapes.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::connection::Connection;
use super::envelope;
use super::error::ApiError;
use super::http::{HttpRequest, HttpResponse, Method};
use super::users::encode_segment;

/// One element of `GET /groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    /// `GR_…` id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Group type (`GT_…`).
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
    /// Division, if the group belongs to one.
    #[serde(default)]
    pub division_id: Option<String>,
    /// Whether Qualtrics decides the members itself (a brand-wide or division-wide group),
    /// `None` when the answer did not say. `GET /groups/{id}` carries `autoMembership`; whether
    /// the listing's elements do is unverified, and so is its form: `true`, `"true"`, `1` and
    /// `"Yes"` are all read as automatic (see [`loose_bool`]).
    #[serde(
        default,
        deserialize_with = "loose_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_membership: Option<bool>,
}

impl GroupSummary {
    /// What kind of automatic group this is, in words (`brand-wide`, `division-wide`), or
    /// `None` for a group whose members are added by hand (or not known to be automatic).
    /// Qualtrics' automatic groups are brand-wide or division-wide; one with a division is
    /// taken as division-wide.
    #[must_use]
    pub fn automatic(&self) -> Option<&'static str> {
        (self.auto_membership == Some(true)).then(|| {
            if self.division_id.as_deref().is_some_and(|d| !d.is_empty()) {
                "division-wide"
            } else {
                "brand-wide"
            }
        })
    }
}

/// A yes/no in any plausible form: `true`/`false`, `"true"`, `"Yes"`, `"no"`, `1`/`0`,
/// `"1"`/`"0"`. Anything else (or `null`) is `None`: not known. Which form Qualtrics sends for
/// `autoMembership` is unverified.
///
/// # Errors
/// Never: an unreadable value is `None`, not an error.
pub fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(loose_bool_value(&Value::deserialize(d)?))
}

/// [`loose_bool`] of a JSON value already read.
#[must_use]
pub fn loose_bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => {
            let x = n.as_f64();
            if x == Some(1.0) {
                Some(true)
            } else if x == Some(0.0) {
                Some(false)
            } else {
                None
            }
        }
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Some(true),
            "false" | "no" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `GET /groups/{id}`: one group's record (it says `autoMembership`).
#[must_use]
pub fn get_group_request(conn: &Connection, group_id: &str) -> HttpRequest {
    conn.request(
        Method::Get,
        conn.url(&format!("groups/{}", encode_segment(group_id))),
        None,
    )
}

/// One group's record from `GET /groups/{id}`, as the listing's elements are read.
///
/// # Errors
/// [`ApiError`] when Qualtrics refused, or the answer is not a group.
pub fn parse_group(response: &HttpResponse) -> Result<GroupSummary, ApiError> {
    let env = envelope::parse(response)?;
    serde_json::from_value(env.require_result("a group")?.clone()).map_err(|e| {
        ApiError::UnexpectedShape {
            detail: format!("a group's record: {e}"),
        }
    })
}

/// `POST /groups/{id}/members` with `{"userId": …}`.
#[must_use]
pub fn add_member_request(conn: &Connection, group_id: &str, user_id: &str) -> HttpRequest {
    let body = serde_json::json!({ "userId": user_id });
    conn.request(
        Method::Post,
        conn.url(&format!("groups/{group_id}/members")),
        Some(serde_json::to_vec(&body).expect("serialises")),
    )
}

/// `DELETE /groups/{id}/members/{userId}`.
#[must_use]
pub fn remove_member_request(conn: &Connection, group_id: &str, user_id: &str) -> HttpRequest {
    conn.request(
        Method::Delete,
        conn.url(&format!("groups/{group_id}/members/{user_id}")),
        None,
    )
}
