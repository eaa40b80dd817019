//! One API call (`/API/v3/...`) answered without I/O: the fate the faults and rate limits give
//! it, the caller's credential, and the route to the handler of its resource (a file each:
//! `users`, `groups`, `employee_directories`; `wire` holds Qualtrics' answer format and paging).

mod employee_directories;
mod groups;
mod users;
mod wire;

pub(crate) use wire::addressed;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde_json::{json, Value};

use crate::brand::{self, HOME_DATACENTER};
use crate::faults::{Family, Fate};
use crate::oauth;
use crate::{at_ms, Sandbox};

use employee_directories::directory_call;
use groups::group_call;
use users::{create_user, list_users, update_user};
use wire::{not_found, Addressed, Answer};

/// The sandbox's answer to one request, before it becomes HTTP.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body, or `None` when the connection is dropped (no answer reaches the client).
    pub body: Option<Value>,
    /// `Retry-After` seconds on a 429, when the sandbox sends it.
    pub retry_after: Option<u64>,
}

impl Sandbox {
    /// Answers one API call (`/API/v3/...`) at `now` (milliseconds since the epoch) without
    /// I/O: rate limits, faults and token expiry all run on the clock it is given, so a test
    /// can drive whole runs against the brand on a virtual clock. Latency is the caller's to
    /// add (the HTTP adapter sleeps it).
    pub fn answer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Reply {
        let at = addressed(headers);
        let segments: Vec<&str> = api_segments(uri.path());
        let family = Family::of(method.as_str(), &segments);
        let fate = {
            let mut trouble = self.trouble();
            if trouble.times_out(method.as_str()) {
                Fate::Error(408)
            } else {
                trouble.fate(family, now)
            }
        };
        {
            let mut stats = self.stats();
            stats.requests += 1;
            *stats.by_family.entry(format!("{family:?}")).or_default() += 1;
            *stats
                .by_endpoint
                .entry(endpoint(method, &segments))
                .or_default() += 1;
        }
        let dropped = || Reply {
            status: StatusCode::OK,
            body: None,
            retry_after: None,
        };
        let answer = match fate {
            Fate::Drop => {
                *self.stats().by_status.entry(0).or_default() += 1;
                return dropped();
            }
            Fate::Error(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let message = if code == 408 {
                    "Request timed out."
                } else {
                    "Internal error. Please try again later."
                };
                Answer::error(status, "SBX_FAULT", message)
            }
            Fate::TooMany(_) => Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                "SBX_RATE_LIMIT",
                "Too many requests. Please slow down.",
            ),
            Fate::Normal | Fate::LoseAnswer => dispatch(self, method, uri, headers, body, &at, now),
        };
        if fate == Fate::LoseAnswer {
            *self.stats().by_status.entry(0).or_default() += 1;
            return dropped();
        }
        {
            let mut stats = self.stats();
            *stats.by_status.entry(answer.status.as_u16()).or_default() += 1;
            if answer.status.as_u16() < 300 {
                *stats
                    .ok_by_endpoint
                    .entry(endpoint(method, &segments))
                    .or_default() += 1;
            }
        }
        let mut body = answer.body;
        if let Some(meta) = body.get_mut("meta").and_then(Value::as_object_mut) {
            let status = answer.status;
            meta.insert(
                "httpStatus".into(),
                json!(format!(
                    "{} - {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )),
            );
            meta.insert("requestId".into(), json!(self.next_request_id()));
            if at.proxied {
                meta.insert(
                    "notice".into(),
                    json!(format!(
                        "Request proxied. For faster response times, use this host instead: {HOME_DATACENTER}.qualtrics.com"
                    )),
                );
            }
        }
        Reply {
            status: answer.status,
            body: Some(body),
            retry_after: match fate {
                Fate::TooMany(secs) => secs,
                _ => None,
            },
        }
    }

    /// A core request answered in-process at `now`: an API call (as [`Sandbox::answer`]) or
    /// an OAuth token request (`.../oauth2/token`). A dropped connection is a transport
    /// failure, as a client would see it.
    pub fn handle(
        &self,
        request: &qualtrics_roster::HttpRequest,
        now: u64,
    ) -> Result<qualtrics_roster::HttpResponse, qualtrics_roster::exec::TransportFailure> {
        let url = url::Url::parse(&request.url)
            .map_err(|_| qualtrics_roster::exec::TransportFailure::not_retryable("not a URL"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            if let (Ok(n), Ok(v)) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        if let Some(host) = url.host_str() {
            let host = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&host) {
                headers.insert("host", v);
            }
        }
        let body = request.body.as_deref().unwrap_or_default();
        let json_response = |status: u16, value: &Value, extra: Vec<(String, String)>| {
            let mut response = qualtrics_roster::HttpResponse::new(status, value.to_string());
            response
                .headers
                .push(("content-type".into(), "application/json".into()));
            response.headers.extend(extra);
            response
        };
        if url.path().ends_with("/oauth2/token") {
            let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
            let (status, answer) = self.token(authorization, body, at_ms(now));
            return Ok(json_response(status, &answer, Vec::new()));
        }
        let uri: Uri = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
        .parse()
        .map_err(|_| qualtrics_roster::exec::TransportFailure::not_retryable("not a URI"))?;
        let method =
            Method::from_bytes(request.method.to_string().as_bytes()).unwrap_or(Method::GET);
        let reply = self.answer(&method, &uri, &headers, body, now);
        match reply.body {
            None => Err(qualtrics_roster::exec::TransportFailure::no_answer(
                "the connection broke before an answer",
            )),
            Some(value) => Ok(json_response(
                reply.status.as_u16(),
                &value,
                reply
                    .retry_after
                    .map(|s| ("retry-after".to_string(), s.to_string()))
                    .into_iter()
                    .collect(),
            )),
        }
    }
}

/// The endpoint of a call for [`crate::Stats`]: `METHOD /path`, a segment holding an id (an
/// underscore or a digit: `UR_…`, `IMJ_…`) written `{id}`.
fn endpoint(method: &Method, segments: &[&str]) -> String {
    let path: Vec<&str> = segments
        .iter()
        .map(|s| {
            if s.contains('_') || s.bytes().any(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} /{}", path.join("/"))
}

fn api_segments(path: &str) -> Vec<&str> {
    let rest = path.split_once("/API/v3/").map(|(_, r)| r).unwrap_or("");
    rest.split('/').filter(|s| !s.is_empty()).collect()
}

/// Authenticates the caller (API token or OAuth bearer token and its scopes), then routes the
/// call to its resource's handler: everything but `whoami` needs a brand administrator.
pub(crate) fn dispatch(
    sb: &Sandbox,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    at: &Addressed,
    now: u64,
) -> Answer {
    let path = uri.path();
    let rest = path.split_once("/API/v3/").map(|(_, r)| r).unwrap_or("");
    let segments = api_segments(path);
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();

    let token = headers.get("x-api-token").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let mut brand = sb.brand();
    let caller = match (token, bearer) {
        (Some(token), _) => match brand.user_for_token(token).cloned() {
            Some(user) => user,
            None => {
                return Answer::error(
                    StatusCode::UNAUTHORIZED,
                    "SBX_AUTH",
                    "Unrecognized X-API-TOKEN",
                )
            }
        },
        (None, Some(bearer)) => {
            let oauth = sb.oauth();
            let user_id = match oauth.user_for(bearer.trim(), at_ms(now)) {
                Ok(id) => id.to_string(),
                Err(oauth::TokenProblem::Expired) => {
                    return Answer::error(
                        StatusCode::UNAUTHORIZED,
                        "SBX_TOKEN_EXPIRED",
                        "The access token has expired.",
                    )
                }
                Err(oauth::TokenProblem::Unknown) => {
                    return Answer::error(
                        StatusCode::UNAUTHORIZED,
                        "SBX_AUTH",
                        "Invalid access token.",
                    )
                }
            };
            if !oauth.allows(bearer.trim(), method.as_str(), &segments) {
                return Answer::error(
                    StatusCode::FORBIDDEN,
                    "SBX_SCOPE",
                    "The access token's scopes do not allow this call.",
                );
            }
            match brand.users.iter().find(|u| u.id == user_id) {
                Some(user) => user.clone(),
                None => {
                    return Answer::error(
                        StatusCode::UNAUTHORIZED,
                        "SBX_AUTH",
                        "Invalid access token.",
                    )
                }
            }
        }
        (None, None) => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "ATP_2",
                "Expected authorization in headers, but none provided.",
            )
        }
    };
    let is_admin = caller.user_type == brand::UT_BRAND_ADMIN;

    match (method, segments.as_slice()) {
        (&Method::GET, ["whoami"]) => Answer::ok(json!({
            "brandId": brand::BRAND_ID,
            "userId": caller.id,
            "userName": caller.username,
            "accountType": caller.user_type,
            "firstName": caller.first_name,
            "lastName": caller.last_name,
            "email": caller.email,
            "datacenter": HOME_DATACENTER,
        })),
        _ if !is_admin => Answer::error(
            StatusCode::FORBIDDEN,
            "QMST_2.1",
            "The operation is forbidden.",
        ),
        (&Method::GET, ["users"]) => list_users(&brand, &query, at),
        (&Method::GET, ["users", id]) => match brand.users.iter().find(|u| u.id == *id) {
            Some(u) if sb.user_forms_alternate => Answer::ok(users::alternate_forms(
                serde_json::to_value(u).expect("users serialise"),
            )),
            Some(u) => Answer::ok(serde_json::to_value(u).expect("users serialise")),
            None => not_found(id),
        },
        (&Method::POST, ["users"]) => {
            let answer = create_user(&mut brand, body);
            if answer.status == StatusCode::OK {
                // The new participant has no metadata yet, but the rules run all the same.
                if let Some(id) = answer.body["result"]["id"].as_str() {
                    brand.recompute_roles_of(id);
                }
            }
            answer
        }
        (_, ["groups", rest @ ..]) => group_call(
            &mut brand,
            method,
            rest,
            &query,
            body,
            at,
            sb.group_list_auto_membership,
        ),
        (&Method::GET, ["divisions", id]) => match brand.divisions.iter().find(|d| d.id == *id) {
            Some(d) => Answer::ok(json!({"id": d.id, "name": d.name, "status": "Active"})),
            None => not_found(id),
        },
        (_, ["employee-directories", dir, rest @ ..]) => {
            let answer = if *dir != "cx" {
                Answer::error(
                    StatusCode::NOT_FOUND,
                    "SBX_NO_DIRECTORY",
                    format!("Directory {dir} not found"),
                )
            } else {
                directory_call(&mut brand, method, rest, &query, body)
            };
            if sb.directory_wrapped {
                answer.wrapped()
            } else {
                answer
            }
        }
        (&Method::PUT, ["users", id]) => {
            let (answer, changed) = update_user(&mut brand, id, body);
            if changed {
                *sb.stats()
                    .changes_per_user
                    .entry(id.to_string())
                    .or_default() += 1;
            }
            answer
        }
        _ => Answer::error(
            StatusCode::NOT_FOUND,
            "SBX_NO_ROUTE",
            format!("No such resource: {method} /API/v3/{rest}"),
        ),
    }
}
