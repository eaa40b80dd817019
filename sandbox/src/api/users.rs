//! `/users`: the listing, one user, creating (with its directory participant) and updating,
//! each checked field by field as Qualtrics checks it.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use crate::brand::{self, Brand};
use crate::directory;

use super::wire::{not_found, offset_page, Addressed, Answer};

/// A user as `GET /users` and `GET /groups/{id}/members` list it.
pub(super) fn user_summary(u: &brand::User) -> Value {
    json!({
        "id": u.id, "divisionId": u.division_id, "username": u.username,
        "firstName": u.first_name, "lastName": u.last_name, "userType": u.user_type,
        "email": u.email, "accountStatus": u.account_status,
    })
}

/// A user's record in the other forms Qualtrics may answer it in (see
/// [`crate::SandboxConfig::user_forms_alternate`]): language upper-case, time zone
/// lower-case, date-times with milliseconds.
pub(super) fn alternate_forms(mut user: Value) -> Value {
    if let Some(fields) = user.as_object_mut() {
        for (name, value) in fields.iter_mut() {
            let Some(text) = value.as_str() else { continue };
            let other = match name.as_str() {
                "language" => text.to_uppercase(),
                "timeZone" => text.to_lowercase(),
                _ if name.ends_with("Date") && text.ends_with("Z") && !text.contains('.') => {
                    format!("{}.000Z", text.trim_end_matches('Z'))
                }
                _ => continue,
            };
            *value = Value::String(other);
        }
    }
    user
}

/// `GET /users`: one page of the brand's users; with `?username=`, only the user of that
/// username (compared ignoring case, as Qualtrics usernames are), paged the same way.
///
/// UNVERIFIED: the `username` filter is documented by one client only (YRV; see the API notes
/// §4 and "Unverified" 2). Whether the live API honours it, and whether it matches exactly or
/// ignoring case, is not known; clients must check every element they get back (an ignored
/// filter answers the first page of every user).
pub(super) fn list_users(brand: &Brand, query: &[(String, String)], at: &Addressed) -> Answer {
    match query.iter().find(|(k, _)| k == "username") {
        Some((_, name)) => {
            let matching: Vec<&brand::User> = brand
                .users
                .iter()
                .filter(|u| u.username.eq_ignore_ascii_case(name))
                .collect();
            offset_page(&matching, query, at, "users", |u| user_summary(u))
        }
        None => offset_page(&brand.users, query, at, "users", user_summary),
    }
}

/// Fields `PUT /users/{id}` accepts (Qualtrics' documented update body).
const UPDATABLE: &[&str] = &[
    "username",
    "firstName",
    "lastName",
    "userType",
    "email",
    "password",
    "language",
    "timeZone",
    "divisionId",
    "accountExpirationDate",
    "status",
    "permissions",
];

/// Applies a partial update; also says whether the status or expiry actually changed.
pub(super) fn update_user(brand: &mut Brand, id: &str, body: &[u8]) -> (Answer, bool) {
    let Some(index) = brand.users.iter().position(|u| u.id == id) else {
        return (not_found(id), false);
    };
    match apply_update(&mut brand.users[index], body) {
        Ok(before) => {
            let after = &brand.users[index];
            let changed = before.account_status != after.account_status
                || before.account_expiration_date != after.account_expiration_date;
            (Answer::ok_meta_only(), changed)
        }
        Err(answer) => (answer, false),
    }
}

/// Validates everything before changing anything: a refused update changes nothing.
fn apply_update(stored: &mut brand::User, body: &[u8]) -> Result<brand::User, Answer> {
    let fields: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(Answer::error(
                StatusCode::BAD_REQUEST,
                "SBX_BAD_BODY",
                "The request body must be a JSON object.",
            ))
        }
    };
    if let Some(unknown) = fields.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return Err(Answer::error(
            StatusCode::BAD_REQUEST,
            "SBX_UNKNOWN_FIELD",
            format!("Invalid field in request body: {unknown}"),
        ));
    }
    let mut user = stored.clone();
    for (key, value) in &fields {
        let text = match value {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            _ if key == "permissions" => continue,
            _ => {
                return Err(Answer::error(
                    StatusCode::BAD_REQUEST,
                    "SBX_BAD_VALUE",
                    format!("Invalid value for {key}: expected a string"),
                ))
            }
        };
        match key.as_str() {
            "status" => match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("active") => user.account_status = "active".into(),
                Some("disabled") => user.account_status = "disabled".into(),
                _ => {
                    return Err(Answer::error(
                        StatusCode::BAD_REQUEST,
                        "SBX_BAD_VALUE",
                        "Invalid value for status: expected active or disabled",
                    ))
                }
            },
            "accountExpirationDate" => match text.as_deref().map(normalise_datetime) {
                None => user.account_expiration_date = None,
                Some(Some(dt)) => user.account_expiration_date = Some(dt),
                Some(None) => {
                    return Err(Answer::error(
                        StatusCode::BAD_REQUEST,
                        "SBX_BAD_VALUE",
                        "Invalid value for accountExpirationDate: expected an ISO 8601 date",
                    ))
                }
            },
            "firstName" => user.first_name = text.unwrap_or_default(),
            "lastName" => user.last_name = text.unwrap_or_default(),
            "email" => user.email = text.unwrap_or_default(),
            "username" => user.username = text.unwrap_or_default(),
            "userType" => user.user_type = text.unwrap_or_default(),
            "language" => user.language = text.unwrap_or_default(),
            "timeZone" => user.time_zone = text.unwrap_or_default(),
            "divisionId" => user.division_id = text,
            "password" => user.password = text.unwrap_or_default(),
            _ => {}
        }
    }
    Ok(std::mem::replace(stored, user))
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[Z]` as `YYYY-MM-DDTHH:MM:SSZ`.
fn normalise_datetime(text: &str) -> Option<String> {
    let t = text.trim();
    let (date, time) = t.split_once('T').unwrap_or((t, "00:00:00Z"));
    let d: Vec<&str> = date.split('-').collect();
    let ok_date = d.len() == 3
        && d[0].len() == 4
        && d[1].len() == 2
        && d[2].len() == 2
        && d.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        && (1..=12).contains(&d[1].parse::<u32>().ok()?)
        && (1..=31).contains(&d[2].parse::<u32>().ok()?);
    let time = time.trim_end_matches('Z');
    let hms: Vec<&str> = time.split(':').collect();
    let ok_time = (2..=3).contains(&hms.len())
        && hms
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    (ok_date && ok_time).then(|| {
        format!(
            "{date}T{}Z",
            if hms.len() == 2 {
                format!("{time}:00")
            } else {
                time.to_string()
            }
        )
    })
}

/// Characters Qualtrics refuses in user fields.
const FORBIDDEN: &[char] = &[
    '=', ';', '~', '!', '&', '*', '%', '{', '}', '<', '>', '[', ']', '|', '\\', '"', '^',
];

/// `POST /users`: every documented field required but language, timeZone, divisionId and
/// accountExpirationDate; the username unique; no forbidden characters. Creates the CX
/// directory participant too, with a uniqueIdentifier of Qualtrics' choosing.
pub(super) fn create_user(brand: &mut Brand, body: &[u8]) -> Answer {
    let fields: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "SBX_BAD_BODY",
                "The request body must be a JSON object.",
            )
        }
    };
    const ALLOWED: &[&str] = &[
        "username",
        "firstName",
        "lastName",
        "userType",
        "email",
        "password",
        "language",
        "timeZone",
        "divisionId",
        "accountExpirationDate",
    ];
    if let Some(unknown) = fields.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "SBX_UNKNOWN_FIELD",
            format!("Invalid field in request body: {unknown}"),
        );
    }
    let text = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    for required in [
        "username",
        "firstName",
        "lastName",
        "userType",
        "email",
        "password",
    ] {
        if text(required).is_empty() {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "SBX_MISSING_FIELD",
                format!("Missing required field: {required}"),
            );
        }
    }
    for field in ["username", "firstName", "lastName", "email"] {
        if text(field).contains(FORBIDDEN) {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "SBX_BAD_CHARACTER",
                format!("Invalid character in {field}"),
            );
        }
    }
    let username = text("username");
    if brand
        .users
        .iter()
        .any(|u| u.username.eq_ignore_ascii_case(&username))
    {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "SBX_DUPLICATE_USERNAME",
            format!("Username {username} already exists"),
        );
    }
    if !brand.user_types.iter().any(|t| t.id == text("userType")) {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "SBX_BAD_VALUE",
            "Invalid value for userType",
        );
    }
    let division = text("divisionId");
    if !division.is_empty() && !brand.divisions.iter().any(|d| d.id == division) {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "SBX_BAD_VALUE",
            "Invalid value for divisionId",
        );
    }
    let expiry = text("accountExpirationDate");
    let expiry = if expiry.is_empty() {
        None
    } else {
        match normalise_datetime(&expiry) {
            Some(d) => Some(d),
            None => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "SBX_BAD_VALUE",
                    "Invalid value for accountExpirationDate: expected an ISO 8601 date",
                )
            }
        }
    };
    let id = brand.mint_id("UR_");
    let user = brand::User {
        id: id.clone(),
        username: username.clone(),
        first_name: text("firstName"),
        last_name: text("lastName"),
        email: text("email"),
        user_type: text("userType"),
        division_id: (!division.is_empty()).then_some(division),
        account_status: "active".into(),
        language: if text("language").is_empty() {
            "en".into()
        } else {
            text("language")
        },
        time_zone: if text("timeZone").is_empty() {
            "America/Denver".into()
        } else {
            text("timeZone")
        },
        account_creation_date: "2026-11-22T00:00:00Z".into(),
        account_expiration_date: expiry,
        last_login_date: None,
        password_last_changed_date: None,
        unsubscribed: false,
        password: text("password"),
    };
    let participant_id = brand.directory.next_id("P_");
    let unique_identifier = brand.mint_id("");
    brand.directory.participants.push(directory::Participant {
        participant_id,
        unique_identifier,
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email: user.email.clone(),
        username: Some(username),
        user_id: Some(id.clone()),
        metadata: BTreeMap::new(),
    });
    brand.users.push(user);
    Answer::ok(json!({"id": id}))
}
