//! Groups: the records `GET /groups` lists and the membership requests
//! (`POST /groups/{id}/members`, `DELETE /groups/{id}/members/{userId}`). What a membership
//! sheet means by them is the membership kind's; these are the API's shapes.

use serde::{Deserialize, Serialize};

use super::connection::Connection;
use super::http::{HttpRequest, Method};

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
