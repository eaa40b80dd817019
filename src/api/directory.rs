//! The CX directory (`/employee-directories/cx/...`): participants with their attributes,
//! the paged participant search, and import jobs. Answers are accepted flat (as Qualtrics'
//! OpenAPI documents them) or wrapped in `result` (as every other v3 endpoint): which one the
//! live API uses is unverified.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::connection::Connection;
use crate::api::envelope;
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse, Method};
use crate::api::users::ListError;

/// Participants asked for per page (Qualtrics' default is 25).
pub const PAGE_SIZE: usize = 100;

/// A directory participant (a CX dashboard user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// The directory's key (case-sensitive).
    pub unique_identifier: String,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Username, when the participant is a platform user.
    #[serde(default)]
    pub username: Option<String>,
    /// The platform user's id (whether this is always the `UR_` id is unverified).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Attributes (present when listed with `includeMetadata=true`).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Participants by lower-cased username.
#[must_use]
pub fn by_username(
    participants: &[Participant],
) -> std::collections::HashMap<String, &Participant> {
    participants
        .iter()
        .filter_map(|p| p.username.as_ref().map(|n| (n.to_lowercase(), p)))
        .collect()
}

/// The participant search, page by page, following `skipToken` until there is none.
#[derive(Debug, Clone, Default)]
pub struct ParticipantListing {
    skip_token: Option<String>,
    done: bool,
    seen: HashSet<String>,
    pages: usize,
}

impl ParticipantListing {
    /// The request for the next page, or `None` when the listing is complete.
    #[must_use]
    pub fn next_request(&self, conn: &Connection) -> Option<HttpRequest> {
        if self.done {
            return None;
        }
        let body = match &self.skip_token {
            Some(t) => json!({ "skipToken": t }),
            None => json!({}),
        };
        let url = conn.url(&format!(
            "employee-directories/cx/participants?includeMetadata=true&pageSize={PAGE_SIZE}"
        ));
        Some(conn.request(
            Method::Post,
            url,
            Some(serde_json::to_vec(&body).expect("serialises")),
        ))
    }

    /// Takes the answer to the last request: the page's participants.
    pub fn on_response(&mut self, response: &HttpResponse) -> Result<Vec<Participant>, ListError> {
        let env = envelope::parse(response)?;
        let result = env.require_result("a page of directory participants")?;
        let list = result
            .get("participants")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::UnexpectedShape {
                detail: "a participant page without participants".into(),
            })?;
        let participants = list
            .iter()
            .map(|p| {
                Participant::deserialize(p).map_err(|e| ApiError::UnexpectedShape {
                    detail: format!("a directory participant: {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = result
            .get("skipToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if let Some(t) = &next {
            if !self.seen.insert(t.clone()) {
                return Err(ListError::PageLoop {
                    page: self.pages + 2,
                    items: 0,
                });
            }
        }
        self.pages += 1;
        self.done = next.is_none();
        self.skip_token = next;
        Ok(participants)
    }
}

/// Import jobs Qualtrics runs at once per context: more answer 409 ("do not keep retrying"),
/// so a run starts at most this many and the next when one ends.
pub const MAX_RUNNING_JOBS: usize = 10;

/// One participant of an import job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportParticipant {
    /// The directory's key for this person (case-sensitive).
    pub unique_identifier: String,
    /// First name (required by the import).
    pub first_name: String,
    /// Last name (required).
    pub last_name: String,
    /// E-mail (required).
    pub email: String,
    /// Username, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Attributes; every participant of one job carries the same keys ("" deletes).
    pub metadata: BTreeMap<String, String>,
}

/// `POST /employee-directories/cx/import-participants` (JSON).
#[must_use]
pub fn import_request(conn: &Connection, participants: &[ImportParticipant]) -> HttpRequest {
    let body = serde_json::to_vec(&json!({ "participants": participants })).expect("serialises");
    conn.request(
        Method::Post,
        conn.url("employee-directories/cx/import-participants"),
        Some(body),
    )
}

/// The job id of an accepted import.
pub fn parse_job_id(response: &HttpResponse) -> Result<String, ApiError> {
    let env = envelope::parse(response)?;
    env.require_result("an import job id")?
        .get("jobId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::UnexpectedShape {
            detail: "an import answer without jobId".into(),
        })
}

/// `GET …/import-participants/{jobId}`.
#[must_use]
pub fn job_status_request(conn: &Connection, job_id: &str) -> HttpRequest {
    conn.request(
        Method::Get,
        conn.url(&format!(
            "employee-directories/cx/import-participants/{job_id}"
        )),
        None,
    )
}

/// A job's state: progress (0-100) and, when done, its result id.
pub fn parse_job_status(response: &HttpResponse) -> Result<(u32, Option<String>), ApiError> {
    let env = envelope::parse(response)?;
    let r = env.require_result("an import job's status")?;
    let progress = match r.get("progressPercent") {
        Some(Value::String(s)) => s.trim().trim_end_matches('%').parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) as u32,
        _ => 0,
    };
    let result_id = r
        .get("resultId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((progress, result_id))
}

/// `GET …/import-participants/results/{resultId}`.
#[must_use]
pub fn job_result_request(conn: &Connection, result_id: &str) -> HttpRequest {
    conn.request(
        Method::Get,
        conn.url(&format!(
            "employee-directories/cx/import-participants/results/{result_id}"
        )),
        None,
    )
}

/// Unique identifiers that failed, with Qualtrics' message for each.
pub fn parse_job_failures(response: &HttpResponse) -> Result<Vec<(String, String)>, ApiError> {
    let env = envelope::parse(response)?;
    let r = env.require_result("an import job's result")?;
    let mut failures = Vec::new();
    for f in r
        .get("failed")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let message = f
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("failed")
            .to_string();
        for id in f
            .get("itemIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = id.as_str() {
                failures.push((id.to_string(), message.clone()));
            }
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::connection::Auth;

    fn conn() -> Connection {
        Connection::direct("http://sandbox.test/API/v3", Auth::api_token("t").unwrap()).unwrap()
    }

    #[test]
    fn listing_accepts_flat_and_wrapped_pages_and_follows_skip_tokens() {
        let c = conn();
        let mut l = ParticipantListing::default();
        let req = l.next_request(&c).unwrap();
        assert_eq!(req.url, "http://sandbox.test/API/v3/employee-directories/cx/participants?includeMetadata=true&pageSize=100");
        assert_eq!(req.body.as_deref(), Some(b"{}".as_slice()));
        let flat = HttpResponse::new(
            200,
            r#"{"participants":[{"uniqueIdentifier":"E1","username":"a@x","metadata":{"Hotel":"Seattle::Provo"}}],"skipToken":"t2","meta":{}}"#,
        );
        let page = l.on_response(&flat).unwrap();
        assert_eq!(page[0].metadata["Hotel"], "Seattle::Provo");
        assert_eq!(
            l.next_request(&c).unwrap().body.as_deref(),
            Some(br#"{"skipToken":"t2"}"#.as_slice())
        );
        let wrapped = HttpResponse::new(
            200,
            r#"{"result":{"participants":[{"uniqueIdentifier":"E2"}],"skipToken":null},"meta":{}}"#,
        );
        assert_eq!(l.on_response(&wrapped).unwrap()[0].unique_identifier, "E2");
        assert!(l.next_request(&c).is_none());
    }

    #[test]
    fn job_answers_in_both_forms() {
        assert_eq!(
            parse_job_id(&HttpResponse::new(201, r#"{"jobId":"J1","meta":{}}"#)).unwrap(),
            "J1"
        );
        assert_eq!(
            parse_job_id(&HttpResponse::new(
                201,
                r#"{"result":{"jobId":"J1"},"meta":{}}"#
            ))
            .unwrap(),
            "J1"
        );
        assert_eq!(
            parse_job_status(&HttpResponse::new(
                200,
                r#"{"progressPercent":"33","meta":{}}"#
            ))
            .unwrap(),
            (33, None)
        );
        assert_eq!(
            parse_job_status(&HttpResponse::new(
                200,
                r#"{"result":{"progressPercent":100,"resultId":"R"}}"#
            ))
            .unwrap(),
            (100, Some("R".into()))
        );
        let f = parse_job_failures(&HttpResponse::new(200, r#"{"failed":[{"message":"Missing required field email","itemCount":2,"itemIds":["E1","E2"]}],"meta":{}}"#)).unwrap();
        assert_eq!(
            f,
            vec![
                ("E1".into(), "Missing required field email".into()),
                ("E2".into(), "Missing required field email".into())
            ]
        );
    }
}
