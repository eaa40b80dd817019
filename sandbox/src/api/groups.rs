//! `/groups`: the listing, one group, its members, adding and removing a member.
//!
//! Automatic groups (brand-wide, division-wide: `autoMembership: true`) list the members
//! Qualtrics decides and refuse additions and removals. What Qualtrics answers to a member
//! added to or removed from such a group is undocumented: the sandbox answers 400 with its own
//! code (`SBX_AUTO_MEMBERSHIP`), so a client can rely on the refusal but not on its wording.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::brand::{self, AutoMembership, Brand};

use super::users::user_summary;
use super::wire::{not_found, offset_page, Addressed, Answer};

/// `/groups…`: listing, one group, member listing, adding and removing members.
pub(super) fn group_call(
    brand: &mut Brand,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
    at: &Addressed,
    list_auto_membership: bool,
) -> Answer {
    let group_index = |brand: &Brand, id: &str| brand.groups.iter().position(|g| g.id == id);
    match (method, rest) {
        (&Method::GET, []) => offset_page(&brand.groups, query, at, "groups", |g| {
            let mut element = json!({"id": g.id, "name": g.name, "type": g.group_type, "divisionId": g.division_id});
            if list_auto_membership {
                element["autoMembership"] = json!(g.auto.is_some());
            }
            element
        }),
        (&Method::GET, [id]) => match group_index(brand, id) {
            Some(g) => {
                let g = &brand.groups[g];
                Answer::ok(json!({
                    "id": g.id, "type": g.group_type, "name": g.name, "divisionId": g.division_id,
                    "autoMembership": g.auto.is_some(), "creationDate": "2023-01-01T00:00:00Z",
                    "creatorId": brand.users[0].id,
                }))
            }
            None => not_found(id),
        },
        (&Method::GET, [id, "members"]) => {
            let Some(g) = group_index(brand, id) else {
                return not_found(id);
            };
            let by_id: HashMap<&str, &brand::User> =
                brand.users.iter().map(|u| (u.id.as_str(), u)).collect();
            let members: Vec<&brand::User> = brand
                .members_of(&brand.groups[g])
                .into_iter()
                .filter_map(|m| by_id.get(m).copied())
                .collect();
            offset_page(&members, query, at, &format!("groups/{id}/members"), |u| {
                user_summary(u)
            })
        }
        (&Method::POST, [id, "members"]) => {
            let Some(g) = group_index(brand, id) else {
                return not_found(id);
            };
            let user_id = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("userId").and_then(Value::as_str).map(str::to_string));
            let Some(user_id) = user_id else {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "SBX_BAD_BODY",
                    "The body needs a userId.",
                );
            };
            if !brand.users.iter().any(|u| u.id == user_id) {
                return not_found(&user_id);
            }
            if let Some(refusal) = automatic(&brand.groups[g]) {
                return refusal;
            }
            let group = &mut brand.groups[g];
            if group.members.contains(&user_id) {
                // What Qualtrics answers here is unverified; clients must not rely on the code.
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "SBX_ALREADY_MEMBER",
                    format!("User {user_id} is already a member of group {}", group.id),
                );
            }
            group.members.push(user_id);
            Answer::ok_meta_only()
        }
        (&Method::DELETE, [id, "members", user_id]) => {
            let Some(g) = group_index(brand, id) else {
                return not_found(id);
            };
            if let Some(refusal) = automatic(&brand.groups[g]) {
                return refusal;
            }
            let group = &mut brand.groups[g];
            match group.members.iter().position(|m| m == user_id) {
                Some(i) => {
                    group.members.remove(i);
                    Answer::ok_meta_only()
                }
                None => Answer::error(
                    StatusCode::NOT_FOUND,
                    "ESSG_2",
                    format!("User {user_id} is not a member of group {id}"),
                ),
            }
        }
        _ => Answer::error(
            StatusCode::NOT_FOUND,
            "SBX_NO_ROUTE",
            "No such group resource",
        ),
    }
}

/// The refusal of a membership change on an automatic group (`None` for a manual group). The
/// status and words are the sandbox's guess: Qualtrics does not document this answer.
fn automatic(group: &brand::Group) -> Option<Answer> {
    let how = match group.auto? {
        AutoMembership::BrandWide => "every user of the brand",
        AutoMembership::DivisionWide => "every user of its division",
    };
    Some(Answer::error(
        StatusCode::BAD_REQUEST,
        "SBX_AUTO_MEMBERSHIP",
        format!(
            "Group {} has automatic membership ({how}): its members cannot be added or removed",
            group.id
        ),
    ))
}
