//! The axum adapter: the routes mounted under `/sandbox` (the API on the wall clock, with
//! latency, dropped connections and CORS when switched on; the OAuth token endpoint; the test
//! and benchmark controls, which are not part of Qualtrics' API).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::brand::{self, Brand, HOME_DATACENTER};
use crate::faults::{Faults, RateLimits, Trouble};
use crate::roles;
use crate::{at_ms, Sandbox};

/// Routes to mount under `/sandbox`.
pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/connect-info", get(connect_info))
        .route("/control/stats", get(control_stats))
        .route("/control/state", get(control_state))
        .route("/control/faults", put(control_faults))
        .route("/control/limits", put(control_limits))
        .route("/control/oauth", put(control_oauth))
        .route("/oauth2/token", axum::routing::post(oauth_token))
        .route("/API/v3/{*rest}", any(api))
        .with_state(sandbox)
}

/// What the page needs to offer "Sandbox brand" without typing: not part of Qualtrics' API.
pub(crate) async fn connect_info(State(sb): State<Arc<Sandbox>>) -> Json<Value> {
    let brand = sb.brand();
    Json(json!({
        "brandId": brand::BRAND_ID,
        "datacenter": HOME_DATACENTER,
        "adminToken": brand.admin_token,
        "oauthClientId": sb.oauth_client().0,
        "oauthClientSecret": sb.oauth_client().1,
        "apiPath": "/sandbox/API/v3",
        "roleRules": role_rules(&brand),
    }))
}

/// The roles' rules as rows of a Roles sheet (a role without a rule: one row, blank rule).
fn role_rules(brand: &Brand) -> Vec<Value> {
    let mut rows = Vec::new();
    for r in &brand.roles {
        if r.rules.is_empty() {
            rows.push(json!({"role": r.name, "attribute": "", "operator": "", "value": ""}));
        }
        for rule in &r.rules {
            rows.push(json!({"role": r.name, "attribute": rule.attribute, "operator": rule.operator, "value": rule.value}));
        }
    }
    rows
}

/// Test control, not part of Qualtrics' API (the brand admin's token only): the groups with
/// their members and the roles with their rules and members (auto or manual), which Qualtrics
/// shows only in its UI.
pub(crate) async fn control_state(State(sb): State<Arc<Sandbox>>, headers: HeaderMap) -> Response {
    if !is_admin_call(&sb, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let brand = sb.brand();
    let user_of: HashMap<&str, Option<&str>> = brand
        .directory
        .participants
        .iter()
        .map(|p| (p.unique_identifier.as_str(), p.user_id.as_deref()))
        .collect();
    let groups: Vec<Value> = brand
        .groups
        .iter()
        .map(|g| json!({"id": g.id, "name": g.name, "members": brand.members_of(g), "auto": g.auto.is_some()}))
        .collect();
    let roles: Vec<Value> = brand
        .roles
        .iter()
        .map(|r| {
            let members: Vec<Value> = r
                .members
                .iter()
                .map(|(uid, a)| json!({"uniqueIdentifier": uid, "userId": user_of.get(uid.as_str()).copied().flatten(), "auto": *a == roles::Assignment::Auto}))
                .collect();
            json!({"id": r.id, "name": r.name, "rules": r.rules, "members": members})
        })
        .collect();
    Json(json!({"groups": groups, "roles": roles})).into_response()
}

fn is_admin_call(sb: &Sandbox, headers: &HeaderMap) -> bool {
    let token = headers.get("x-api-token").and_then(|v| v.to_str().ok());
    token.is_some_and(|t| t == sb.brand().admin_token)
}

/// Test and benchmark control, not part of Qualtrics' API (the brand admin's token only):
/// what the sandbox saw.
async fn control_stats(State(sb): State<Arc<Sandbox>>, headers: HeaderMap) -> Response {
    if !is_admin_call(&sb, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(sb.stats().clone()).into_response()
}

/// Test and benchmark control: replace the injected faults for the next requests.
async fn control_faults(
    State(sb): State<Arc<Sandbox>>,
    headers: HeaderMap,
    Json(faults): Json<Faults>,
) -> Response {
    control(&sb, &headers, |t| t.set_faults(faults))
}

/// Test and benchmark control: replace the rate limits.
async fn control_limits(
    State(sb): State<Arc<Sandbox>>,
    headers: HeaderMap,
    Json(limits): Json<RateLimits>,
) -> Response {
    control(&sb, &headers, |t| t.set_limits(limits))
}

/// Test control of OAuth: `{"tokenTtlSeconds": n}` sets how long new tokens live,
/// `{"revokeClient": id}` revokes a client (its tokens stop working; no new ones).
async fn control_oauth(
    State(sb): State<Arc<Sandbox>>,
    headers: HeaderMap,
    Json(change): Json<Value>,
) -> Response {
    if !is_admin_call(&sb, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut o = sb.oauth();
    if let Some(secs) = change["tokenTtlSeconds"].as_u64() {
        o.set_ttl(std::time::Duration::from_secs(secs));
    }
    if let Some(id) = change["revokeClient"].as_str() {
        if !o.revoke(id) {
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /oauth2/token`: the client credentials grant (form body, HTTP Basic).
async fn oauth_token(State(sb): State<Arc<Sandbox>>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let (status, answer) = sb.token(authorization, &body, at_ms(wall_ms()));
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(answer),
    )
        .into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

fn control(sb: &Sandbox, headers: &HeaderMap, change: impl FnOnce(&mut Trouble)) -> Response {
    if !is_admin_call(sb, headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    change(&mut sb.trouble());
    StatusCode::NO_CONTENT.into_response()
}

/// Milliseconds since the Unix epoch on the wall clock (the axum adapter's `now`).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The HTTP adapter: CORS preflights (when switched on), latency, then [`Sandbox::answer`] on
/// the wall clock.
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
    let latency = sb.trouble().faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let reply = sb.answer(&method, &uri, &headers, &body, wall_ms());
    let Some(body) = reply.body else {
        return dropped_connection();
    };
    let mut resp = (reply.status, Json(body)).into_response();
    if let Some(secs) = reply.retry_after {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    if sb.cors {
        add_cors(resp.headers_mut());
    }
    resp
}

/// An answer whose body fails after the status line: the client sees the connection drop.
fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection dropped",
        ))
    });
    let mut resp = Response::new(Body::from_stream(failing));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
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
