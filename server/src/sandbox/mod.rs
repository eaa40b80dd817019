//! The sandbox brand: a Qualtrics-compatible brand held in memory, served under
//! `/sandbox/API/v3/...` with Qualtrics' wire format (see `../shared/qualtrics-api.md`).
//!
//! It plays Qualtrics' part faithfully, including the awkward parts: absolute `nextPage` URLs
//! built from the host the client addressed, the "Request proxied" notice (with a `nextPage`
//! on the brand's own datacenter host carrying proxy parameters) when a client calls another
//! datacenter's host, error envelopes for every failure, and no CORS headers unless switched on.
//!
//! Error codes Qualtrics is not known to publish (for example for an unknown field) are our
//! own, marked `SBX_*`; clients must rely on the HTTP status and message, as with Qualtrics.

pub mod brand;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use brand::{Brand, HOME_DATACENTER};

/// Users per page of `GET /users`, as Qualtrics pages them.
pub const USERS_PAGE_SIZE: usize = 100;

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for the brand's data and tokens.
    pub seed: u64,
    /// Answer CORS preflights and add `Access-Control-Allow-Origin: *` (off, like Qualtrics).
    pub cors: bool,
}

/// The sandbox's shared state.
pub struct Sandbox {
    brand: Mutex<Brand>,
    cors: bool,
    request_counter: AtomicU64,
}

impl Sandbox {
    /// A freshly seeded sandbox.
    pub fn new(config: &SandboxConfig) -> Arc<Sandbox> {
        Arc::new(Sandbox {
            brand: Mutex::new(Brand::seeded(config.seed)),
            cors: config.cors,
            request_counter: AtomicU64::new(0),
        })
    }

    /// The brand administrator's token (printed at start so a person can connect).
    pub fn admin_token(&self) -> String {
        self.brand().admin_token.clone()
    }

    /// A valid token of a user who is not a brand administrator.
    pub fn user_token(&self) -> String {
        self.brand().user_token.clone()
    }

    fn brand(&self) -> std::sync::MutexGuard<'_, Brand> {
        // A panic while holding the lock must not take the whole sandbox down.
        self.brand.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "5a4d0b0c-{:04x}-4000-8000-{:012x}",
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }
}

/// Routes to mount under `/sandbox`.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/connect-info", get(connect_info))
        .route("/API/v3/{*rest}", any(api))
        .with_state(sandbox)
}

/// What the page needs to offer "Sandbox brand" without typing: not part of Qualtrics' API.
async fn connect_info(State(sb): State<Arc<Sandbox>>) -> Json<Value> {
    let brand = sb.brand();
    Json(json!({
        "brandId": brand::BRAND_ID,
        "datacenter": HOME_DATACENTER,
        "adminToken": brand.admin_token,
        "apiPath": "/sandbox/API/v3",
    }))
}

/// Where the client thinks it is talking: decides `nextPage` hosts and proxy notices.
struct Addressed {
    /// `https://iad1.qualtrics.com/API/v3` or `http://127.0.0.1:8080/sandbox/API/v3`.
    base: String,
    /// Set when the client called another datacenter's host.
    proxied: bool,
}

fn addressed(headers: &HeaderMap) -> Addressed {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get("host"))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_ascii_lowercase();
    match host.strip_suffix(".qualtrics.com") {
        Some(stem) => {
            let dc = stem.rsplit('.').next().unwrap_or(stem);
            if dc == HOME_DATACENTER {
                Addressed {
                    base: format!("https://{host}/API/v3"),
                    proxied: false,
                }
            } else {
                Addressed {
                    base: format!("https://{HOME_DATACENTER}.qualtrics.com/API/v3"),
                    proxied: true,
                }
            }
        }
        None => Addressed {
            base: format!("http://{host}/sandbox/API/v3"),
            proxied: false,
        },
    }
}

/// An answer before it becomes HTTP.
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({"meta": {"error": {"errorMessage": message.into(), "errorCode": code}}}),
        }
    }
    fn ok(result: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body: json!({"result": result, "meta": {}}),
        }
    }
    fn ok_meta_only() -> Answer {
        Answer {
            status: StatusCode::OK,
            body: json!({"meta": {}}),
        }
    }
}

async fn api(
    State(sb): State<Arc<Sandbox>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if sb.cors && method == Method::OPTIONS {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        add_cors(resp.headers_mut());
        return resp;
    }
    let at = addressed(&headers);
    let answer = dispatch(&sb, &method, &uri, &headers, &body, &at);
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
        meta.insert("requestId".into(), json!(sb.next_request_id()));
        if at.proxied {
            meta.insert(
                "notice".into(),
                json!(format!(
                    "Request proxied. For faster response times, use this host instead: {HOME_DATACENTER}.qualtrics.com"
                )),
            );
        }
    }
    let mut resp = (answer.status, Json(body)).into_response();
    if sb.cors {
        add_cors(resp.headers_mut());
    }
    resp
}

fn add_cors(h: &mut HeaderMap) {
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("x-api-token, authorization, content-type, accept"),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("retry-after"),
    );
}

fn dispatch(
    sb: &Sandbox,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    at: &Addressed,
) -> Answer {
    let path = uri.path();
    let rest = path.split_once("/API/v3/").map(|(_, r)| r).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();

    let token = headers.get("x-api-token").and_then(|v| v.to_str().ok());
    let Some(token) = token else {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "ATP_2",
            "Expected authorization in headers, but none provided.",
        );
    };
    let mut brand = sb.brand();
    let Some(caller) = brand.user_for_token(token).cloned() else {
        return Answer::error(
            StatusCode::UNAUTHORIZED,
            "SBX_AUTH",
            "Unrecognized X-API-TOKEN",
        );
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
            Some(u) => Answer::ok(serde_json::to_value(u).expect("users serialise")),
            None => not_found(id),
        },
        (&Method::PUT, ["users", id]) => update_user(&mut brand, id, body),
        _ => Answer::error(
            StatusCode::NOT_FOUND,
            "SBX_NO_ROUTE",
            format!("No such resource: {method} /API/v3/{rest}"),
        ),
    }
}

fn not_found(id: &str) -> Answer {
    Answer::error(StatusCode::NOT_FOUND, "ESSG_2", format!("{id} not found"))
}

fn list_users(brand: &Brand, query: &[(String, String)], at: &Addressed) -> Answer {
    let offset = match query.iter().find(|(k, _)| k == "offset") {
        None => 0,
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "SBX_BAD_PARAM",
                    format!("Invalid offset: {v}"),
                )
            }
        },
    };
    let elements: Vec<Value> = brand
        .users
        .iter()
        .skip(offset)
        .take(USERS_PAGE_SIZE)
        .map(|u| {
            json!({
                "id": u.id, "divisionId": u.division_id, "username": u.username,
                "firstName": u.first_name, "lastName": u.last_name, "userType": u.user_type,
                "email": u.email, "accountStatus": u.account_status,
            })
        })
        .collect();
    let next = offset + USERS_PAGE_SIZE;
    let next_page = if next < brand.users.len() {
        let proxy = if at.proxied {
            "&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D"
        } else {
            ""
        };
        Value::String(format!("{}/users?offset={next}{proxy}", at.base))
    } else {
        Value::Null
    };
    Answer::ok(json!({"elements": elements, "nextPage": next_page}))
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

fn update_user(brand: &mut Brand, id: &str, body: &[u8]) -> Answer {
    let Some(index) = brand.users.iter().position(|u| u.id == id) else {
        return not_found(id);
    };
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
    if let Some(unknown) = fields.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            "SBX_UNKNOWN_FIELD",
            format!("Invalid field in request body: {unknown}"),
        );
    }
    // Validate everything before changing anything: a refused update changes nothing.
    let mut user = brand.users[index].clone();
    for (key, value) in &fields {
        let text = match value {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            _ if key == "permissions" => continue,
            _ => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "SBX_BAD_VALUE",
                    format!("Invalid value for {key}: expected a string"),
                )
            }
        };
        match key.as_str() {
            "status" => match text.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("active") => user.account_status = "active".into(),
                Some("disabled") => user.account_status = "disabled".into(),
                _ => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        "SBX_BAD_VALUE",
                        "Invalid value for status: expected active or disabled",
                    )
                }
            },
            "accountExpirationDate" => user.account_expiration_date = text,
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
    brand.users[index] = user;
    Answer::ok_meta_only()
}
