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
pub mod directory;
pub mod faults;
pub mod oauth;
pub mod roles;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::collections::{BTreeMap, HashMap};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};

use brand::{Brand, HOME_DATACENTER};
use faults::{Family, Fate, Faults, RateLimits, Trouble};

/// Users per page of `GET /users`, as Qualtrics pages them.
pub const USERS_PAGE_SIZE: usize = 100;

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for the brand's data and tokens.
    pub seed: u64,
    /// How many users the brand has.
    pub users: usize,
    /// How many groups the brand has.
    pub groups: usize,
    /// How many CX dashboard roles (with rules) the brand has.
    pub roles: usize,
    /// Answer CORS preflights and add `Access-Control-Allow-Origin: *` (off, like Qualtrics).
    pub cors: bool,
    /// Rate limits per endpoint family.
    pub limits: RateLimits,
    /// Injected faults.
    pub faults: Faults,
    /// Answer the directory endpoints inside `result` instead of Qualtrics' documented flat form
    /// (which one the live API uses is unverified; clients must take both).
    pub directory_wrapped: bool,
    /// How long OAuth access tokens live (Qualtrics: an hour).
    pub oauth_token_ttl: std::time::Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 1,
            users: brand::USER_COUNT,
            groups: brand::GROUP_COUNT,
            roles: brand::ROLE_COUNT,
            cors: false,
            limits: RateLimits::default(),
            faults: Faults {
                retry_after_share: 0.5,
                ..Faults::default()
            },
            directory_wrapped: false,
            oauth_token_ttl: std::time::Duration::from_secs(3600),
        }
    }
}

/// What the sandbox saw, for tests and benchmarks (`GET /sandbox/control/stats`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// API requests received.
    pub requests: u64,
    /// Answers by HTTP status (0 = connection dropped).
    pub by_status: BTreeMap<u16, u64>,
    /// Requests per endpoint family.
    pub by_family: BTreeMap<String, u64>,
    /// Effective changes per user id (a PUT that changed nothing is not counted).
    pub changes_per_user: HashMap<String, u32>,
}

/// The sandbox's shared state.
pub struct Sandbox {
    brand: Mutex<Brand>,
    cors: bool,
    directory_wrapped: bool,
    request_counter: AtomicU64,
    trouble: Mutex<Trouble>,
    stats: Mutex<Stats>,
    oauth: Mutex<oauth::OAuth>,
}

impl Sandbox {
    /// A freshly seeded sandbox.
    pub fn new(config: &SandboxConfig) -> Arc<Sandbox> {
        let brand = Brand::seeded_with(config.seed, config.users, config.groups, config.roles);
        let admin_id = brand
            .users
            .first()
            .map(|u| u.id.clone())
            .unwrap_or_default();
        Arc::new(Sandbox {
            oauth: Mutex::new(oauth::OAuth::seeded(
                config.seed,
                &admin_id,
                config.oauth_token_ttl,
            )),
            brand: Mutex::new(brand),
            cors: config.cors,
            directory_wrapped: config.directory_wrapped,
            request_counter: AtomicU64::new(0),
            trouble: Mutex::new(Trouble::new(config.limits, config.faults.clone())),
            stats: Mutex::new(Stats::default()),
        })
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn trouble(&self) -> std::sync::MutexGuard<'_, Trouble> {
        self.trouble.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the sandbox saw so far (requests, answers by status, changes per user).
    pub fn stats_snapshot(&self) -> Stats {
        self.stats().clone()
    }

    /// The brand administrator's token (printed at start so a person can connect).
    pub fn admin_token(&self) -> String {
        self.brand().admin_token.clone()
    }

    /// A valid token of a user who is not a brand administrator.
    pub fn user_token(&self) -> String {
        self.brand().user_token.clone()
    }

    /// The seeded OAuth client's ID and secret (it acts as the brand administrator).
    pub fn oauth_client(&self) -> (String, String) {
        let o = self.oauth();
        let (id, secret) = o.client();
        (id.to_string(), secret.to_string())
    }

    fn oauth(&self) -> std::sync::MutexGuard<'_, oauth::OAuth> {
        self.oauth.lock().unwrap_or_else(|p| p.into_inner())
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
async fn connect_info(State(sb): State<Arc<Sandbox>>) -> Json<Value> {
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
async fn control_state(State(sb): State<Arc<Sandbox>>, headers: HeaderMap) -> Response {
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
        .map(|g| json!({"id": g.id, "name": g.name, "members": g.members}))
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
    let (status, answer) = sb.oauth().token(authorization, &body, at_ms(wall_ms()));
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
    /// Qualtrics' documented form for the directory endpoints: fields beside `meta`.
    fn flat(status: StatusCode, mut fields: Value) -> Answer {
        fields["meta"] = json!({});
        Answer {
            status,
            body: fields,
        }
    }
    /// The same answer with its fields moved into `result`, like the other v3 endpoints.
    fn wrapped(self) -> Answer {
        let Value::Object(mut map) = self.body else {
            return self;
        };
        if map.contains_key("result") || map.get("meta").is_some_and(|m| m.get("error").is_some()) {
            return Answer {
                status: self.status,
                body: Value::Object(map),
            };
        }
        let meta = map.remove("meta").unwrap_or(json!({}));
        Answer {
            status: self.status,
            body: json!({"result": Value::Object(map), "meta": meta}),
        }
    }
}

/// Milliseconds since the Unix epoch on the wall clock (the axum adapter's `now`).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

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
        let fate = self.trouble().fate(family, now);
        {
            let mut stats = self.stats();
            stats.requests += 1;
            *stats.by_family.entry(format!("{family:?}")).or_default() += 1;
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
                Answer::error(
                    status,
                    "SBX_FAULT",
                    "Internal error. Please try again later.",
                )
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
        *self
            .stats()
            .by_status
            .entry(answer.status.as_u16())
            .or_default() += 1;
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
            .map_err(|_| qualtrics_roster::exec::TransportFailure("not a URL".into()))?;
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
            let (status, answer) = self.oauth().token(authorization, body, at_ms(now));
            return Ok(json_response(status, &answer, Vec::new()));
        }
        let uri: Uri = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
        .parse()
        .map_err(|_| qualtrics_roster::exec::TransportFailure("not a URI".into()))?;
        let method =
            Method::from_bytes(request.method.to_string().as_bytes()).unwrap_or(Method::GET);
        let reply = self.answer(&method, &uri, &headers, body, now);
        match reply.body {
            None => Err(qualtrics_roster::exec::TransportFailure(
                "the connection broke before an answer".into(),
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

/// Unix milliseconds as a `SystemTime` (OAuth expiry runs on the clock the sandbox is given).
fn at_ms(now: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(now)
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

fn api_segments(path: &str) -> Vec<&str> {
    let rest = path.split_once("/API/v3/").map(|(_, r)| r).unwrap_or("");
    rest.split('/').filter(|s| !s.is_empty()).collect()
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

fn dispatch(
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
        (_, ["groups", rest @ ..]) => group_call(&mut brand, method, rest, &query, body, at),
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

fn not_found(id: &str) -> Answer {
    Answer::error(StatusCode::NOT_FOUND, "ESSG_2", format!("{id} not found"))
}

/// The `offset` query parameter (0 when absent), or the 400 Qualtrics gives for a bad one.
fn offset_param(query: &[(String, String)]) -> Result<usize, Answer> {
    match query.iter().find(|(k, _)| k == "offset") {
        None => Ok(0),
        Some((_, v)) => v.parse::<usize>().map_err(|_| {
            Answer::error(
                StatusCode::BAD_REQUEST,
                "SBX_BAD_PARAM",
                format!("Invalid offset: {v}"),
            )
        }),
    }
}

/// One page of an offset-paged listing (users, groups, group members): up to 100 elements
/// from `offset`, and `nextPage` as an absolute URL on the host the client addressed (with the
/// proxy parameters when it was proxied), `null` on the last page.
fn offset_page<T>(
    items: &[T],
    query: &[(String, String)],
    at: &Addressed,
    path: &str,
    element: impl Fn(&T) -> Value,
) -> Answer {
    let offset = match offset_param(query) {
        Ok(o) => o,
        Err(answer) => return answer,
    };
    let elements: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(USERS_PAGE_SIZE)
        .map(element)
        .collect();
    let next = offset + USERS_PAGE_SIZE;
    let next_page = if next < items.len() {
        let proxy = if at.proxied {
            "&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D"
        } else {
            ""
        };
        Value::String(format!("{}/{path}?offset={next}{proxy}", at.base))
    } else {
        Value::Null
    };
    Answer::ok(json!({"elements": elements, "nextPage": next_page}))
}

/// A user as `GET /users` and `GET /groups/{id}/members` list it.
fn user_summary(u: &brand::User) -> Value {
    json!({
        "id": u.id, "divisionId": u.division_id, "username": u.username,
        "firstName": u.first_name, "lastName": u.last_name, "userType": u.user_type,
        "email": u.email, "accountStatus": u.account_status,
    })
}

fn list_users(brand: &Brand, query: &[(String, String)], at: &Addressed) -> Answer {
    offset_page(&brand.users, query, at, "users", user_summary)
}

/// `/groups…`: listing, one group, member listing, adding and removing members.
fn group_call(
    brand: &mut Brand,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
    at: &Addressed,
) -> Answer {
    let group_index = |brand: &Brand, id: &str| brand.groups.iter().position(|g| g.id == id);
    match (method, rest) {
        (&Method::GET, []) => offset_page(
            &brand.groups,
            query,
            at,
            "groups",
            |g| json!({"id": g.id, "name": g.name, "type": g.group_type, "divisionId": g.division_id}),
        ),
        (&Method::GET, [id]) => match group_index(brand, id) {
            Some(g) => {
                let g = &brand.groups[g];
                Answer::ok(json!({
                    "id": g.id, "type": g.group_type, "name": g.name, "divisionId": g.division_id,
                    "autoMembership": false, "creationDate": "2023-01-01T00:00:00Z",
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
            let members: Vec<&brand::User> = brand.groups[g]
                .members
                .iter()
                .filter_map(|m| by_id.get(m.as_str()).copied())
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
fn update_user(brand: &mut Brand, id: &str, body: &[u8]) -> (Answer, bool) {
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
fn create_user(brand: &mut Brand, body: &[u8]) -> Answer {
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

/// `/employee-directories/cx/...`.
fn directory_call(
    brand: &mut Brand,
    method: &Method,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> Answer {
    let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    match (method, rest) {
        (&Method::POST | &Method::GET, ["participants"]) => {
            let body_json: Value = if method == Method::POST && !body.is_empty() {
                match serde_json::from_slice(body) {
                    Ok(v) => v,
                    Err(_) => {
                        return Answer::error(
                            StatusCode::BAD_REQUEST,
                            "SBX_BAD_BODY",
                            "The request body must be JSON.",
                        )
                    }
                }
            } else {
                json!({})
            };
            let field = |k: &str| {
                body_json
                    .get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| param(k))
            };
            let skip = match field("skipToken") {
                None => 0,
                Some(t) => match directory::parse_skip_token(&t) {
                    Some(n) => n,
                    None => {
                        return Answer::error(
                            StatusCode::BAD_REQUEST,
                            "SBX_BAD_PARAM",
                            "Invalid skipToken",
                        )
                    }
                },
            };
            let page_size = param("pageSize")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(25)
                .clamp(1, 100);
            let include = param("includeMetadata").is_some_and(|v| v == "true");
            let (participants, next) = brand.directory.search(
                field("uniqueIdentifier").as_deref(),
                skip,
                page_size,
                include,
            );
            Answer::flat(
                StatusCode::OK,
                json!({"participants": participants, "skipToken": next}),
            )
        }
        (&Method::POST, ["import-participants"]) => {
            let participants = match serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("participants").and_then(Value::as_array).cloned())
            {
                Some(p) if !p.is_empty() => p,
                _ => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        "SBX_BAD_BODY",
                        "The body needs a non-empty participants array.",
                    )
                }
            };
            if brand.directory.running_jobs() >= directory::MAX_CONCURRENT_JOBS {
                return Answer::error(
                    StatusCode::CONFLICT,
                    "SBX_TOO_MANY_JOBS",
                    "Too many concurrent jobs. Try again once a job has finished.",
                );
            }
            let job_id = brand.mint_id("IMJ_");
            let result_id = brand.mint_id("IMR_");
            brand.directory.add_job(directory::ImportJob {
                job_id: job_id.clone(),
                result_id,
                created: "2026-11-22T00:00:00Z".into(),
                polls: 0,
                request: participants,
                result: None,
            });
            Answer::flat(StatusCode::CREATED, json!({"jobId": job_id}))
        }
        (&Method::GET, ["import-participants", "results", result_id]) => {
            match brand
                .directory
                .jobs
                .values()
                .find(|j| j.result_id == *result_id)
                .and_then(|j| j.result.clone())
            {
                Some(result) => Answer::flat(StatusCode::OK, result),
                None => Answer::error(
                    StatusCode::NOT_FOUND,
                    "SBX_NO_RESULT",
                    format!("Result {result_id} not found"),
                ),
            }
        }
        (&Method::GET, ["import-participants", job_id]) => {
            let Some(job) = brand.directory.jobs.get_mut(*job_id) else {
                return Answer::error(
                    StatusCode::NOT_FOUND,
                    "SBX_NO_JOB",
                    format!("Job {job_id} not found"),
                );
            };
            job.polls += 1;
            let done = job.polls >= directory::POLLS_PER_JOB;
            let (job_id, result_id, created, polls) = (
                job.job_id.clone(),
                job.result_id.clone(),
                job.created.clone(),
                job.polls,
            );
            if done && job.result.is_none() {
                let request = job.request.clone();
                let result = brand.directory.import(&job_id, &result_id, &request);
                brand
                    .directory
                    .jobs
                    .get_mut(&job_id)
                    .expect("exists")
                    .result = Some(result);
                brand.recompute_roles();
            }
            let progress = (polls * 100 / directory::POLLS_PER_JOB).min(100);
            let mut info = json!({"jobId": job_id, "jobType": "participantImport", "creationDate": created, "progressPercent": progress.to_string()});
            if done {
                info["resultId"] = json!(result_id);
            }
            Answer::flat(StatusCode::OK, info)
        }
        _ => Answer::error(
            StatusCode::NOT_FOUND,
            "SBX_NO_ROUTE",
            "No such directory resource",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call as `api` would make it, minus faults and limits: (status, body).
    fn call(
        sb: &Sandbox,
        token: &str,
        host: &str,
        method: Method,
        path_and_query: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        headers.insert("x-api-token", HeaderValue::from_str(token).unwrap());
        let uri: Uri = path_and_query.parse().unwrap();
        let at = addressed(&headers);
        let answer = dispatch(sb, &method, &uri, &headers, body.as_bytes(), &at, 0);
        (answer.status, answer.body)
    }

    const HOST: &str = "127.0.0.1:8080";

    fn sandbox(users: usize) -> (Arc<Sandbox>, String) {
        let sb = Sandbox::new(&SandboxConfig {
            users,
            ..SandboxConfig::default()
        });
        let token = sb.admin_token();
        (sb, token)
    }

    /// Follows `nextPage` from `first`, returning every element id and every `nextPage` seen.
    fn walk(sb: &Sandbox, token: &str, host: &str, first: &str) -> (Vec<String>, Vec<String>) {
        let mut ids = Vec::new();
        let mut pages = Vec::new();
        let mut next = first.to_string();
        loop {
            let (status, body) = call(sb, token, host, Method::GET, &next, "");
            assert_eq!(status, StatusCode::OK, "{body}");
            let elements = body["result"]["elements"].as_array().unwrap();
            assert!(elements.len() <= USERS_PAGE_SIZE);
            ids.extend(
                elements
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string()),
            );
            match &body["result"]["nextPage"] {
                Value::Null => break,
                Value::String(url) => {
                    pages.push(url.clone());
                    let url = url::Url::parse(url).unwrap();
                    next = format!("{}?{}", url.path(), url.query().unwrap_or(""));
                }
                other => panic!("nextPage {other}"),
            }
        }
        (ids, pages)
    }

    #[test]
    fn group_members_page_by_offset_with_absolute_next_pages_covering_everyone_once() {
        let (sb, token) = sandbox(260);
        let (gid, everyone) = {
            let mut brand = sb.brand();
            let ids: Vec<String> = brand.users.iter().rev().map(|u| u.id.clone()).collect();
            brand.groups[0].members = ids.clone();
            (brand.groups[0].id.clone(), ids)
        };
        let first = format!("/sandbox/API/v3/groups/{gid}/members");
        let (ids, pages) = walk(&sb, &token, HOST, &first);
        assert_eq!(ids, everyone, "every member once, in the group's order");
        assert_eq!(
            pages,
            vec![
                format!("http://{HOST}/sandbox/API/v3/groups/{gid}/members?offset=100"),
                format!("http://{HOST}/sandbox/API/v3/groups/{gid}/members?offset=200"),
            ]
        );
        // Another datacenter's host: the next pages are on the brand's own, with proxy params.
        let (ids, pages) = walk(
            &sb,
            &token,
            "fra1.qualtrics.com",
            &format!("/API/v3/groups/{gid}/members"),
        );
        assert_eq!(ids, everyone);
        assert_eq!(
            pages[0],
            format!("https://iad1.qualtrics.com/API/v3/groups/{gid}/members?offset=100&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D")
        );
        // Elements carry the user summary fields, nothing more.
        let (_, body) = call(&sb, &token, HOST, Method::GET, &first, "");
        let e = body["result"]["elements"][0].as_object().unwrap();
        let mut keys: Vec<&str> = e.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            vec![
                "accountStatus",
                "divisionId",
                "email",
                "firstName",
                "id",
                "lastName",
                "userType",
                "username"
            ]
        );
        // Past the end: an empty last page; a bad offset: 400; an unknown group: 404.
        let (status, body) = call(
            &sb,
            &token,
            HOST,
            Method::GET,
            &format!("{first}?offset=900"),
            "",
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["result"]["elements"], json!([]));
        assert_eq!(body["result"]["nextPage"], Value::Null);
        let (status, body) = call(
            &sb,
            &token,
            HOST,
            Method::GET,
            &format!("{first}?offset=-1"),
            "",
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["meta"]["error"]["errorCode"], "SBX_BAD_PARAM");
        let (status, _) = call(
            &sb,
            &token,
            HOST,
            Method::GET,
            "/sandbox/API/v3/groups/GR_nope/members",
            "",
        );
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn groups_list_and_read_and_users_share_the_paging() {
        let sb = Sandbox::new(&SandboxConfig {
            users: 150,
            groups: 130,
            ..SandboxConfig::default()
        });
        let token = sb.admin_token();
        let (ids, pages) = walk(&sb, &token, HOST, "/sandbox/API/v3/groups");
        let expected: Vec<String> = sb.brand().groups.iter().map(|g| g.id.clone()).collect();
        assert_eq!(ids, expected);
        assert_eq!(
            pages,
            vec![format!("http://{HOST}/sandbox/API/v3/groups?offset=100")]
        );
        let names: Vec<String> = sb.brand().groups.iter().map(|g| g.name.clone()).collect();
        assert_eq!(names[0], "Seattle Hotel");
        assert_eq!(names[12], "Team 013");
        assert_eq!(names[129], "Team 130");
        let (_, body) = call(&sb, &token, HOST, Method::GET, "/sandbox/API/v3/groups", "");
        let e = &body["result"]["elements"][3];
        assert_eq!(e["name"], "Front Desk");
        assert_eq!(e["type"], "GT_MANUAL");
        assert!(
            e["divisionId"].is_string(),
            "every fourth group is a division's"
        );
        assert!(body["result"]["elements"][0]["divisionId"].is_null());

        let (ids, pages) = walk(&sb, &token, HOST, "/sandbox/API/v3/users");
        assert_eq!(ids.len(), 150);
        assert_eq!(
            pages,
            vec![format!("http://{HOST}/sandbox/API/v3/users?offset=100")]
        );

        let gid = expected[3].clone();
        let (status, body) = call(
            &sb,
            &token,
            HOST,
            Method::GET,
            &format!("/sandbox/API/v3/groups/{gid}"),
            "",
        );
        assert_eq!(status, StatusCode::OK);
        let r = &body["result"];
        assert_eq!(r["id"], gid.as_str());
        assert_eq!(r["name"], "Front Desk");
        assert_eq!(r["autoMembership"], false);
        assert!(r["creationDate"].is_string() && r["creatorId"].is_string());
        let (status, body) = call(
            &sb,
            &token,
            HOST,
            Method::GET,
            "/sandbox/API/v3/groups/GR_nope",
            "",
        );
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["meta"]["error"]["errorCode"], "ESSG_2");
        // The standard user's token may not read groups.
        let (status, _) = call(
            &sb,
            &sb.user_token(),
            HOST,
            Method::GET,
            "/sandbox/API/v3/groups",
            "",
        );
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn adding_and_removing_members_answer_like_qualtrics() {
        let (sb, token) = sandbox(20);
        let (gid, outsider, insider) = {
            let brand = sb.brand();
            let g = &brand.groups[0];
            let outsider = brand
                .users
                .iter()
                .find(|u| !g.members.contains(&u.id))
                .unwrap()
                .id
                .clone();
            (g.id.clone(), outsider, g.members.first().cloned())
        };
        let members = format!("/sandbox/API/v3/groups/{gid}/members");
        let post = |body: &str| call(&sb, &token, HOST, Method::POST, &members, body);

        let (status, body) = post(&format!(r#"{{"userId":"{outsider}"}}"#));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"meta": {}}), "meta only");
        assert_eq!(sb.brand().groups[0].members.last(), Some(&outsider));

        let (status, body) = post(&format!(r#"{{"userId":"{outsider}"}}"#));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["meta"]["error"]["errorCode"], "SBX_ALREADY_MEMBER");
        assert_eq!(
            body["meta"]["error"]["errorMessage"],
            format!("User {outsider} is already a member of group {gid}")
        );

        for bad in ["not json", "{}", r#"{"userId":7}"#, "[]"] {
            let (status, body) = post(bad);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(body["meta"]["error"]["errorCode"], "SBX_BAD_BODY");
        }
        let (status, _) = post(r#"{"userId":"UR_nobodyAtAll000"}"#);
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(
            &sb,
            &token,
            HOST,
            Method::POST,
            "/sandbox/API/v3/groups/GR_nope/members",
            &format!(r#"{{"userId":"{outsider}"}}"#),
        );
        assert_eq!(status, StatusCode::NOT_FOUND);

        let delete = |user: &str| {
            call(
                &sb,
                &token,
                HOST,
                Method::DELETE,
                &format!("{members}/{user}"),
                "",
            )
        };
        let (status, body) = delete(&outsider);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"meta": {}}));
        assert!(!sb.brand().groups[0].members.contains(&outsider));
        let (status, body) = delete(&outsider);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["meta"]["error"]["errorMessage"],
            format!("User {outsider} is not a member of group {gid}")
        );
        if let Some(insider) = insider {
            assert_eq!(delete(&insider).0, StatusCode::OK);
        }
        let (status, _) = call(
            &sb,
            &token,
            HOST,
            Method::DELETE,
            &format!("/sandbox/API/v3/groups/GR_nope/members/{outsider}"),
            "",
        );
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn an_import_job_recomputes_roles_when_it_finishes() {
        let (sb, token) = sandbox(30);
        // A participant in no Seattle role yet, and one of Seattle Team's auto members.
        let (joiner, leaver) = {
            let brand = sb.brand();
            let seattle = &brand.roles[0];
            let joiner = brand
                .directory
                .participants
                .iter()
                .find(|p| !seattle.members.contains_key(&p.unique_identifier))
                .unwrap()
                .unique_identifier
                .clone();
            let leaver = seattle
                .members
                .iter()
                .find(|(_, a)| **a == roles::Assignment::Auto)
                .unwrap()
                .0
                .clone();
            (joiner, leaver)
        };
        let person = |uid: &str, hotel: &str| {
            json!({"uniqueIdentifier": uid, "firstName": "A", "lastName": "B",
                   "email": "a@b.org", "metadata": {"Hotel": hotel}})
        };
        let body = json!({"participants": [person(&joiner, "Provo:: Seattle"), person(&leaver, "Boston")]});
        let (status, created) = call(
            &sb,
            &token,
            HOST,
            Method::POST,
            "/sandbox/API/v3/employee-directories/cx/import-participants",
            &body.to_string(),
        );
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let job = created["jobId"].as_str().unwrap().to_string();
        for poll in 1..=directory::POLLS_PER_JOB {
            let in_role = |uid: &str| sb.brand().roles[0].members.get(uid).copied();
            assert_eq!(in_role(&joiner), None, "poll {poll}: not yet");
            assert_eq!(in_role(&leaver), Some(roles::Assignment::Auto));
            call(
                &sb,
                &token,
                HOST,
                Method::GET,
                &format!("/sandbox/API/v3/employee-directories/cx/import-participants/{job}"),
                "",
            );
        }
        let brand = sb.brand();
        assert_eq!(
            brand.roles[0].members.get(&joiner),
            Some(&roles::Assignment::Auto)
        );
        assert_eq!(brand.roles[0].members.get(&leaver), None);
    }

    #[tokio::test]
    async fn control_state_and_connect_info_show_groups_roles_and_rules() {
        let (sb, token) = sandbox(40);
        let mut headers = HeaderMap::new();
        let refused = control_state(State(sb.clone()), headers.clone()).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        headers.insert("x-api-token", HeaderValue::from_str(&token).unwrap());
        let resp = control_state(State(sb.clone()), headers).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let state: Value = serde_json::from_slice(&bytes).unwrap();
        let first_group = sb.brand().groups[0].members.clone();
        assert_eq!(state["groups"].as_array().unwrap().len(), 12);
        assert_eq!(state["groups"][0]["members"], json!(first_group));
        let roles = state["roles"].as_array().unwrap();
        assert_eq!(roles.len(), 6);
        assert_eq!(
            roles[0]["rules"],
            json!([{"attribute": "Hotel", "operator": "In", "value": "Seattle"}])
        );
        assert_eq!(roles[3]["rules"][0]["operator"], "Equals");
        let viewers = roles[5]["members"].as_array().unwrap();
        assert_eq!(viewers.len(), 3);
        assert!(viewers
            .iter()
            .all(|m| m["auto"] == false && m["userId"].as_str().unwrap().starts_with("UR_")));
        let uids: Vec<&str> = viewers
            .iter()
            .map(|m| m["uniqueIdentifier"].as_str().unwrap())
            .collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "stable order");

        let Json(info) = connect_info(State(sb.clone())).await;
        let rows = info["roleRules"].as_array().unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[0],
            json!({"role": "Seattle Team", "attribute": "Hotel", "operator": "In", "value": "Seattle"})
        );
        assert_eq!(
            rows[5],
            json!({"role": "Executive Viewers", "attribute": "", "operator": "", "value": ""})
        );
    }
}
