//! CRM and HR hooks: `POST /hooks/v1/{hook}` takes one event (or a list of at most
//! [`MAX_BATCH`]) from a CRM flow or an HR system, checks who sent it ([`verify`]), maps its
//! JSON to a sheet row ([`mapping`]), keeps it in SQLite before answering 202 ([`store`]; a
//! repeat of the same sender id answers the first one's status), and a background [`worker`]
//! applies it with the same core runs as the page and the CLI. `GET /hooks/v1/events` and
//! `GET /hooks/v1/events/{id}` show events and their outcome, `POST /hooks/v1/events/{id}/retry`
//! queues a failed one again, and `POST /hooks/v1/events/{id}/release` and `…/discard` settle a
//! burst the mass-change brake quarantined: those take the page's own Qualtrics token
//! (`X-API-TOKEN`, or `Authorization: Bearer`), accepted only when Qualtrics says it is a Brand
//! Administrator's of the hooks' brand.
//!
//! Operating the hooks takes the same token: `POST /hooks/v1/{hook}/pause` and `…/resume`
//! (a paused hook keeps accepting and storing events, and applies none until resumed; the
//! pause is kept in the store), `POST /hooks/v1/events/replay` (events planned again against
//! the brand as it is now), and `POST /hooks/v1/{hook}/test` (an event's row and plan; nothing
//! kept, nothing sent but reads). `GET /healthz` answers whether the store does, and
//! `GET /metrics` (only when the configuration enables it, with its bearer token if it sets
//! one) gives counts in Prometheus' format ([`metrics`]). [`alerts`] tell an administrator of
//! parked events, quarantined bursts and partly failed runs.
//!
//! Off unless `roster-server --hooks-config FILE` is given.

pub mod alerts;
pub mod config;
pub mod fields;
pub mod mapping;
pub mod metrics;
pub mod signing;
pub mod store;
pub mod verify;
pub mod worker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use qualtrics_roster::api::connection::{Auth, Connection};
use qualtrics_roster::api::users;
use qualtrics_roster::membership::rules::{read_role_sheet, RoleSheet};
use serde_json::{json, Value};

use config::HooksConfig;
use roster_native::client::{unix_millis, Transport};
use store::Store;

/// Events in one request at most.
pub const MAX_BATCH: usize = 100;
/// Largest event body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long what Qualtrics said of a page token it accepted is kept without asking again…
const VIEWER_TTL_MS: u64 = 5 * 60 * 1000;
/// …and one it refused is refused without asking again (so a flood of bad tokens does not
/// become a flood of requests to Qualtrics: one per distinct token per this time).
const REFUSED_TTL_MS: u64 = 30 * 1000;
/// Page tokens remembered at most (the oldest is forgotten first), so a flood of distinct
/// tokens cannot grow the server's memory.
const MAX_VIEWERS: usize = 1000;

/// The hooks of one server: configuration, the event store, the worker's wake-up.
pub struct Hooks {
    config: HooksConfig,
    roles: HashMap<String, RoleSheet>,
    store: Arc<Store>,
    wake: Arc<tokio::sync::Notify>,
    transport: Transport,
    /// The brand of the server's own credential, once known (the worker sets it when it
    /// connects).
    brand: Arc<std::sync::OnceLock<String>>,
    /// When this server last tried its own credential to learn the brand (see
    /// [`Hooks::hooks_brand`]).
    brand_tried: tokio::sync::Mutex<Option<u64>>,
    /// Whether the worker's first connection attempt has ended (see [`Hooks::hooks_brand`]).
    first_connect: Arc<tokio::sync::watch::Sender<bool>>,
    /// What Qualtrics said of page tokens, by their SHA-256.
    viewers: Mutex<Viewers>,
    /// Counters for `GET /metrics`.
    metrics: Arc<metrics::Metrics>,
    /// The connection `POST /hooks/v1/{hook}/test` plans with (made at its first use).
    preview: tokio::sync::Mutex<Option<roster_native::session::Session>>,
}

/// Why the hooks cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    /// The configuration file.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The event store.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A Roles sheet.
    #[error("hook {hook:?}: cannot read its Roles sheet {path}: {message}")]
    Roles {
        /// The hook.
        hook: String,
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

impl Hooks {
    /// Reads the configuration at `path`, opens the event store, and starts the worker (call
    /// inside the Tokio runtime). Events accepted before a restart are applied from where they
    /// were.
    pub fn start(path: &Path) -> Result<Arc<Hooks>, HooksError> {
        let config = HooksConfig::read(path)?;
        let mut roles = HashMap::new();
        for (name, hook) in &config.hooks {
            if let Some(file) = &hook.roles {
                let input = roster_native::files::read_input(&file.to_string_lossy(), None)
                    .map_err(|e| HooksError::Roles {
                        hook: name.clone(),
                        path: file.display().to_string(),
                        message: e.to_string(),
                    })?;
                roles.insert(name.clone(), read_role_sheet(&input.table));
            }
        }
        let store = Arc::new(Store::from_config(&config.store)?);
        let wake = Arc::new(tokio::sync::Notify::new());
        let brand = Arc::new(std::sync::OnceLock::new());
        let metrics = Arc::new(metrics::Metrics::default());
        let alerts = Arc::new(alerts::Alerts::new(config.alerts.clone(), metrics.clone()));
        let first_connect = Arc::new(tokio::sync::watch::channel(false).0);
        tokio::spawn(worker::supervise(
            store.clone(),
            config.clone(),
            wake.clone(),
            brand.clone(),
            worker::Shared {
                metrics: metrics.clone(),
                alerts,
                first_connect: first_connect.clone(),
            },
        ));
        Ok(Arc::new(Hooks {
            config,
            roles,
            store,
            wake,
            transport: Transport::new(),
            brand,
            brand_tried: tokio::sync::Mutex::new(None),
            first_connect,
            viewers: Mutex::new(Viewers::default()),
            metrics,
            preview: tokio::sync::Mutex::new(None),
        }))
    }

    /// One line for the server's start-up: the hooks' URLs and where events are kept.
    #[must_use]
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .config
            .hooks
            .keys()
            .map(|n| format!("POST /hooks/v1/{n}"))
            .collect();
        let kept = match &self.config.store.url {
            Some(url) => url.redacted(),
            None => self.config.store.path.display().to_string(),
        };
        format!("{} (events kept in {kept})", names.join(", "))
    }

    /// The routes under `/hooks/v1`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/hooks/v1/events", get(list_events))
            .route("/hooks/v1/events/{id}", get(one_event))
            .route("/hooks/v1/events/{id}/retry", post(retry_event))
            .route("/hooks/v1/events/{id}/release", post(release_event))
            .route("/hooks/v1/events/{id}/discard", post(discard_event))
            .route("/hooks/v1/events/replay", post(replay_events))
            .route("/hooks/v1/{hook}", post(receive))
            .route("/hooks/v1/{hook}/pause", post(pause_hook))
            .route("/hooks/v1/{hook}/resume", post(resume_hook))
            .route("/hooks/v1/{hook}/test", post(test_event))
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics_text))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self)
    }

    /// A connection to the hooks' brand with `auth` (for checking a page's token).
    fn connection(&self, auth: Auth) -> Option<Connection> {
        let q = &self.config.qualtrics;
        let base = match (&q.base_url, &q.datacenter) {
            (Some(base), _) => base.clone(),
            (None, Some(dc)) => format!("https://{}.qualtrics.com/API/v3", dc.trim()),
            (None, None) => format!(
                "https://{}.qualtrics.com/API/v3",
                users::DISCOVERY_DATACENTER
            ),
        };
        Connection::direct(&base, auth).ok()
    }

    /// Who `auth` belongs to, asked of Qualtrics (`whoami`, with that token: never the
    /// server's own credential).
    async fn whoami(&self, auth: Auth) -> Viewer {
        let Some(conn) = self.connection(auth) else {
            return Viewer::Refused;
        };
        let Ok(response) = self.transport.send(&users::whoami_request(&conn)).await else {
            return Viewer::Refused;
        };
        match users::parse_whoami(&response) {
            Ok((who, _)) => Viewer::Known {
                brand: who.brand_id.unwrap_or_default(),
                administrator: who
                    .account_type
                    .as_deref()
                    .is_some_and(is_brand_administrator),
            },
            Err(_) => Viewer::Refused,
        }
    }

    /// What Qualtrics says of the token whose SHA-256 is `key`: remembered for
    /// [`VIEWER_TTL_MS`] (or [`REFUSED_TTL_MS`] when refused), and asked once however many
    /// requests bring the same token at once.
    async fn viewer(&self, key: [u8; 32], auth: Auth) -> Viewer {
        let now = unix_millis();
        let cell = self
            .viewers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .cell(key, now);
        cell.get_or_init(|| async {
            let who = self.whoami(auth).await;
            let ttl = match who {
                Viewer::Refused => REFUSED_TTL_MS,
                Viewer::Known { .. } => VIEWER_TTL_MS,
            };
            (unix_millis() + ttl, who)
        })
        .await
        .1
        .clone()
    }

    /// Whether `headers` carry the token of a Brand Administrator of the hooks' brand (the
    /// page's connection): the events hold names and e-mail addresses, and a retried or
    /// released event runs with the server's administrator credential. No token, or one
    /// Qualtrics refuses: 401; any other user's, or another brand's: 403.
    async fn viewer_allowed(&self, headers: &HeaderMap) -> Result<(), Response> {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
        let token = match (header("x-api-token"), header("authorization")) {
            (Some(t), _) if !t.is_empty() => Auth::api_token(t).ok().map(|a| (t, a)),
            (_, Some(a)) => a
                .strip_prefix("Bearer ")
                .map(str::trim)
                .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
                .map(|t| (t, Auth::Bearer(t.to_string()))),
            _ => None,
        };
        let answer =
            |status: StatusCode, why: &str| (status, Json(json!({"error": why}))).into_response();
        let Some((token, auth)) = token else {
            return Err(answer(StatusCode::UNAUTHORIZED, "Connect to Qualtrics first: the events are shown to the brand's administrators only (X-API-TOKEN or Authorization: Bearer)."));
        };
        let key: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        let (brand, administrator) = match self.viewer(key, auth).await {
            Viewer::Refused => {
                return Err(answer(
                    StatusCode::UNAUTHORIZED,
                    "Qualtrics did not accept this token.",
                ))
            }
            Viewer::Known {
                brand,
                administrator,
            } => (brand, administrator),
        };
        if !administrator {
            return Err(answer(StatusCode::FORBIDDEN, "The hooks' events are shown to Brand Administrators only: this token's user is not one."));
        }
        // Only a Brand Administrator's token gets this far: another token never costs a
        // login of the server's own credential.
        let Some(ours) = self.hooks_brand().await else {
            return Err(answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "The hooks cannot reach Qualtrics with their own credential: see the server's log.",
            ));
        };
        if brand != ours {
            return Err(answer(
                StatusCode::FORBIDDEN,
                "This token belongs to another brand than the hooks'.",
            ));
        }
        Ok(())
    }

    /// The brand of the server's own credential: as the worker learned it when it connected,
    /// else asked here, at most once per [`REFUSED_TTL_MS`] (the credential may be refused
    /// for a while; each try is an OAuth token request and a `whoami`).
    async fn hooks_brand(&self) -> Option<String> {
        if let Some(brand) = self.brand.get() {
            return Some(brand.clone());
        }
        // The worker connects as the server starts: its answer names the brand, so a page
        // that asks meanwhile waits for it (bounded) instead of logging in a second time.
        let mut first = self.first_connect.subscribe();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(15),
            first.wait_for(|tried| *tried),
        )
        .await;
        if let Some(brand) = self.brand.get() {
            return Some(brand.clone());
        }
        let mut last_try = self.brand_tried.lock().await;
        if let Some(brand) = self.brand.get() {
            return Some(brand.clone());
        }
        let now = unix_millis();
        if last_try.is_some_and(|at| now.saturating_sub(at) < REFUSED_TTL_MS) {
            return None;
        }
        *last_try = Some(now);
        let brand = roster_native::session::Session::open(&self.config.qualtrics.target())
            .await
            .map_err(|e| eprintln!("hooks: cannot connect to Qualtrics to learn the brand: {e}"))
            .ok()
            .and_then(|s| s.who.brand_id)?;
        let _ = self.brand.set(brand.clone());
        Some(brand)
    }
}

/// Whether a whoami `accountType` is a Brand Administrator's. `UT_BRANDADMIN` is the form
/// Qualtrics' user listings show; that whoami answers the same form is unverified
/// (qualtrics-api.md §1, §4), so it is compared ignoring case.
fn is_brand_administrator(account_type: &str) -> bool {
    account_type.trim().eq_ignore_ascii_case("UT_BRANDADMIN")
}

/// What Qualtrics said of a page's token.
#[derive(Debug, Clone)]
enum Viewer {
    /// Not accepted (unknown, expired, or Qualtrics could not be asked).
    Refused,
    /// Accepted: its user's brand, and whether that user is a Brand Administrator.
    Known {
        /// The brand id whoami gave.
        brand: String,
        /// Whether whoami's account type is the Brand Administrator's.
        administrator: bool,
    },
}

/// Page tokens Qualtrics was asked about, by their SHA-256 (a token itself is never kept):
/// at most [`MAX_VIEWERS`], the oldest forgotten first, each answer kept until its time.
#[derive(Default)]
struct Viewers {
    entries: HashMap<[u8; 32], (u64, ViewerCell)>,
    next: u64,
}

/// The answer for one token: empty while Qualtrics is being asked (requests with the same
/// token wait for that one answer), then until when it holds and what it is.
type ViewerCell = Arc<tokio::sync::OnceCell<(u64, Viewer)>>;

impl Viewers {
    /// The cell for `key` at `now`: the one already there unless its answer has expired, else
    /// a new empty one (making room by forgetting expired answers, then the oldest).
    fn cell(&mut self, key: [u8; 32], now: u64) -> ViewerCell {
        if let Some((_, cell)) = self.entries.get(&key) {
            if cell.get().is_none_or(|(until, _)| *until > now) {
                return cell.clone();
            }
        }
        if self.entries.len() >= MAX_VIEWERS && !self.entries.contains_key(&key) {
            self.entries
                .retain(|_, (_, c)| c.get().is_none_or(|(until, _)| *until > now));
            while self.entries.len() >= MAX_VIEWERS {
                let oldest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (seq, _))| *seq)
                    .map(|(k, _)| *k);
                match oldest {
                    Some(k) => self.entries.remove(&k),
                    None => break,
                };
            }
        }
        let cell = ViewerCell::default();
        self.next += 1;
        self.entries.insert(key, (self.next, cell.clone()));
        cell
    }
}

/// `POST /hooks/v1/{hook}`: check, map, keep, answer.
async fn receive(
    State(hooks): State<Arc<Hooks>>,
    UrlPath(name): UrlPath<String>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = |status: StatusCode, v: Value| (status, Json(v)).into_response();
    let Some(hook) = hooks.config.hooks.get(&name) else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("No hook named {name:?} on this server.")}),
        );
    };
    let incoming = verify::Incoming {
        method: method.as_str(),
        path_and_query: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
        headers: &headers,
    };
    let sender_id = match verify::check_request(hook, &incoming, &body, unix_millis()) {
        Ok(id) => id,
        Err(why) => {
            eprintln!("hooks: {name}: event refused: {why}");
            return answer(
                StatusCode::UNAUTHORIZED,
                json!({"error": format!("Not accepted: {why}.")}),
            );
        }
    };
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("The body is not JSON: {e}.")}),
            )
        }
    };
    let (events, batch) = match parsed {
        Value::Array(items) => (items, true),
        one => (vec![one], false),
    };
    if events.is_empty() || events.len() > MAX_BATCH {
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"error": format!("Send one event, or a list of 1 to {MAX_BATCH}.")}),
        );
    }
    let header_id = sender_id.or_else(|| {
        headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let empty = RoleSheet::default();
    let roles = hooks.roles.get(&name).unwrap_or(&empty);
    let id_pointer = hook.event_id.as_deref().or(
        // HubSpot puts its own id in each event it sends.
        (hook.scheme == Some(config::Scheme::HubspotV3)).then_some("/eventId"),
    );
    let mut mapped = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let id = event_id(id_pointer, event, header_id.as_deref(), batch.then_some(i));
        if let Some(why) = hook.when.iter().find_map(|c| c.unmet(event)) {
            // Out of this hook's scope: kept as skipped (with the account it names, if any,
            // and no other data), never applied.
            let user = mapping::map_event(hook, roles, event)
                .map(|r| r.username)
                .unwrap_or_default();
            mapped.push(Intake::Skip(
                id,
                user,
                format!("outside the hook's conditions: {why}"),
            ));
            continue;
        }
        let row = match mapping::map_event(hook, roles, event) {
            Ok(row) => row,
            Err(e) => {
                let at = if batch {
                    format!("events[{i}]: ")
                } else {
                    String::new()
                };
                return answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"error": format!("{at}{e}"), "field": e.field, "expected": e.expected, "index": batch.then_some(i)}),
                );
            }
        };
        mapped.push(Intake::Keep(id, row));
    }
    let mut out = Vec::with_capacity(mapped.len());
    let mut any_new = false;
    let mut wake = false;
    for intake in &mapped {
        let kept = match intake {
            Intake::Keep(id, row) => hooks.store.accept(&name, id, row, unix_millis()),
            Intake::Skip(id, user, why) => hooks.store.skip(&name, id, user, why, unix_millis()),
        };
        match kept {
            Ok((status, new)) => {
                any_new |= new;
                if new {
                    match intake {
                        Intake::Keep(..) => {
                            wake = true;
                            hooks.metrics.accepted(1);
                        }
                        Intake::Skip(..) => hooks.metrics.skipped(1),
                    }
                }
                let mut v = serde_json::to_value(&status).unwrap_or_default();
                v["duplicate"] = json!(!new);
                out.push(v);
            }
            Err(e) => {
                eprintln!("hooks: {name}: {e}");
                // Not kept: the sender must send it again.
                return answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "The event could not be stored: send it again later."}),
                );
            }
        }
    }
    if wake {
        hooks.wake.notify_one();
    }
    let status = if any_new {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    if batch {
        answer(status, json!({"events": out}))
    } else {
        answer(status, out.pop().unwrap_or_default())
    }
}

/// An event of a request, checked: kept to be applied, or kept as skipped with why.
enum Intake {
    /// Its sender id and row.
    Keep(String, mapping::HookRow),
    /// Its sender id, the account it names (or empty), and why it is skipped.
    Skip(String, String, String),
}

/// The sender's id for an event, with its source as a prefix so that ids from different
/// sources never meet: `f:` and the configured JSON field's value; else `h:` and `webhook-id`
/// / `x-request-id` for a single event, or `b:` with it and `#` and the event's place for an
/// event of a list (the place is digits after the last `#`, so `b:abc#0` is only ever item 0
/// of `abc`, and no single event's id starts with `b:`); else [`store::BODY_ID_PREFIX`] and
/// the SHA-256 of the event's JSON.
fn event_id(
    pointer: Option<&str>,
    event: &Value,
    header: Option<&str>,
    index: Option<usize>,
) -> String {
    if let Some(found) = pointer.and_then(|p| fields::pointer(event, p)) {
        match found {
            Value::String(s) if !s.is_empty() => return format!("f:{s}"),
            Value::Number(n) => return format!("f:{n}"),
            _ => {}
        }
    }
    if let Some(h) = header.filter(|h| !h.is_empty()) {
        return match index {
            Some(i) => format!("b:{h}#{i}"),
            None => format!("h:{h}"),
        };
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, event.to_string().as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}", store::BODY_ID_PREFIX)
}

/// The answer when the event store fails (the disk is full, say).
fn store_failed(e: &store::StoreError) -> Response {
    eprintln!("hooks: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": e.to_string()})),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

/// `GET /hooks/v1/events?limit=N`: the most recent events.
async fn list_events(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    let paused = match hooks.store.paused() {
        Ok(p) => p,
        Err(e) => return store_failed(&e),
    };
    let list: Vec<Value> = hooks
        .config
        .hooks
        .keys()
        .map(|name| {
            let since = paused.iter().find(|(h, _)| h == name).map(|(_, at)| *at);
            json!({"name": name, "paused": since.is_some(),
                   "pausedSince": since.map(qualtrics_roster::time::iso_datetime)})
        })
        .collect();
    match hooks.store.recent(q.limit.unwrap_or(100).min(1000)) {
        Ok(events) => Json(json!({"events": events, "hooks": list})).into_response(),
        Err(e) => store_failed(&e),
    }
}

/// `GET /hooks/v1/events/{id}`: one event's status and outcome, with its details: the row its
/// hook's mapping made (a password never shown), its plan row, and its latest attempts with
/// Qualtrics' answers.
async fn one_event(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    match hooks.store.details(id) {
        Ok(Some(event)) => Json(event).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("No event {id}.")})),
        )
            .into_response(),
        Err(e) => store_failed(&e),
    }
}

/// `POST /hooks/v1/events/{id}/retry`: a failed event queued again at once.
async fn retry_event(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    match hooks.store.retry(id, unix_millis()) {
        Ok(store::Retry::Queued) => {
            hooks.wake.notify_one();
            (StatusCode::ACCEPTED, Json(json!({"id": id, "status": "failed", "retry": "queued"}))).into_response()
        }
        Ok(store::Retry::NotFailed) => (StatusCode::CONFLICT, Json(json!({"error": format!("Event {id} has not failed (or does not exist): nothing to retry.")}))).into_response(),
        Ok(store::Retry::Refused) => {
            let why = match hooks.store.status(id) {
                Ok(Some(event)) => event.reason.unwrap_or_default(),
                Ok(None) => String::new(),
                Err(e) => return store_failed(&e),
            };
            (StatusCode::CONFLICT, Json(json!({"error": format!("Event {id} was refused, not lost: retrying sends the same change and gets the same answer. Fix what the refusal says, then send the event again from its source (or replay it): {why}")}))).into_response()
        }
        Ok(store::Retry::Superseded) => (StatusCode::CONFLICT, Json(json!({"error": format!("A later event for the same account was applied after event {id}: retrying it would undo that. Send the change again from its source if it is still wanted.")}))).into_response(),
        Err(e) => store_failed(&e),
    }
}

/// `POST /hooks/v1/events/{id}/release`: the quarantined burst of event `id` is applied past
/// the mass-change brake (an administrator's confirmation; still no Brand Administrator is
/// changed).
async fn release_event(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    let held = hooks.store.release(id);
    if matches!(held, Ok(store::Held::Done { .. })) {
        hooks.wake.notify_one();
    }
    settled(id, held, StatusCode::ACCEPTED, "released")
}

/// `POST /hooks/v1/events/{id}/discard`: the quarantined burst of event `id` is never applied.
async fn discard_event(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    settled(id, hooks.store.discard(id), StatusCode::OK, "discarded")
}

/// The answer to a release or a discard of event `id`'s burst.
fn settled(
    id: i64,
    held: Result<store::Held, store::StoreError>,
    status: StatusCode,
    done: &str,
) -> Response {
    match held {
        Ok(store::Held::Done { burst, events }) => {
            eprintln!("hooks: the quarantined burst {burst} ({events} events) was {done} by an administrator");
            (
                status,
                Json(json!({"id": id, "burst": burst, "events": events, "status": done})),
            )
                .into_response()
        }
        Ok(store::Held::NotFound) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("No event {id}.")})),
        )
            .into_response(),
        Ok(store::Held::NotQuarantined) => (
            StatusCode::CONFLICT,
            Json(json!({"error": format!("Event {id} is not quarantined: there is nothing to release or discard.")})),
        )
            .into_response(),
        Err(e) => store_failed(&e),
    }
}

/// The answer for a hook this server does not have.
fn no_hook(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": format!("No hook named {name:?} on this server.")})),
    )
        .into_response()
}

/// `POST /hooks/v1/{hook}/pause`: the hook keeps accepting events and applies none until
/// resumed (kept in the store: a restart keeps it paused).
async fn pause_hook(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    set_paused(hooks, headers, name, true).await
}

/// `POST /hooks/v1/{hook}/resume`: the hook's waiting events are applied.
async fn resume_hook(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    set_paused(hooks, headers, name, false).await
}

async fn set_paused(hooks: Arc<Hooks>, headers: HeaderMap, name: String, paused: bool) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    if !hooks.config.hooks.contains_key(&name) {
        return no_hook(&name);
    }
    match hooks.store.set_paused(&name, paused, unix_millis()) {
        Ok(changed) => {
            let word = if paused { "paused" } else { "resumed" };
            if changed {
                eprintln!("hooks: {name}: {word} by an administrator");
            }
            if !paused {
                hooks.wake.notify_one();
            }
            Json(json!({"hook": name, "paused": paused, "changed": changed})).into_response()
        }
        Err(e) => store_failed(&e),
    }
}

/// What `POST /hooks/v1/events/replay` takes: one event's id, or a time range (ISO 8601).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    id: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

/// `POST /hooks/v1/events/replay` with `{"id": N}` or `{"from": ISO, "to": ISO}`: settled
/// events queued again, to be planned against the brand as it is now.
async fn replay_events(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    let bad = |why: String| (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response();
    let asked: ReplayRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad(format!(
                "Send {{\"id\": N}} or {{\"from\": \"2026-01-31T00:00:00Z\", \"to\": \"…\"}}: {e}."
            ))
        }
    };
    let replayed = match (asked.id, asked.from.as_deref(), asked.to.as_deref()) {
        (Some(id), None, None) => hooks.store.replay(Some(id), 0, 0),
        (None, Some(from), Some(to)) => {
            let (Some(start), Some(end)) = (parse_instant(from), parse_instant(to)) else {
                return bad(format!("from and to are ISO 8601 times (2026-01-31T09:00:00Z, or a date), got {from:?} and {to:?}."));
            };
            if start > end {
                return bad("from is after to.".into());
            }
            hooks.store.replay(None, start, end)
        }
        _ => return bad("Send either {\"id\": N} or both from and to.".into()),
    };
    match replayed {
        Ok(r) => {
            if let Some(id) = asked.id {
                if r.queued.is_empty() && r.left.is_empty() {
                    return (
                        StatusCode::NOT_FOUND,
                        Json(json!({"error": format!("No event {id}.")})),
                    )
                        .into_response();
                }
                if let Some((_, why)) = r.left.first() {
                    return (
                        StatusCode::CONFLICT,
                        Json(json!({"error": format!("Event {id} is not replayed: {why}.")})),
                    )
                        .into_response();
                }
            }
            if !r.queued.is_empty() {
                eprintln!(
                    "hooks: {} event(s) queued again by an administrator (replay)",
                    r.queued.len()
                );
                hooks.wake.notify_one();
            }
            let left: Vec<Value> = r
                .left
                .iter()
                .map(|(id, why)| json!({"id": id, "reason": why}))
                .collect();
            (
                StatusCode::ACCEPTED,
                Json(json!({"queued": r.queued, "left": left})),
            )
                .into_response()
        }
        Err(e) => store_failed(&e),
    }
}

/// Milliseconds since the epoch of an ISO 8601 time: `YYYY-MM-DD` (its midnight, UTC), or
/// `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z`, `±HH:MM` or nothing (UTC).
fn parse_instant(text: &str) -> Option<u64> {
    let t = text.trim();
    let date = qualtrics_roster::time::Date::parse_iso(t.get(..10)?)?;
    let days = days_from_civil(date.year, date.month, date.day);
    let rest = &t[10..];
    let mut ms: i64 = 0;
    if !rest.is_empty() {
        let rest = rest.strip_prefix(['T', ' '])?;
        let (clock, offset_min) = if let Some(c) = rest.strip_suffix('Z') {
            (c, 0i64)
        } else if let Some(at) = rest.rfind(['+', '-']).filter(|at| *at >= 5) {
            let (c, zone) = rest.split_at(at);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            (
                c,
                sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
            )
        } else {
            (rest, 0)
        };
        let mut parts = clock.split(':');
        let h: i64 = parts.next()?.parse().ok()?;
        let m: i64 = parts.next()?.parse().ok()?;
        let s: f64 = parts.next().map_or(Some(0.0), |s| s.parse().ok())?;
        if parts.next().is_some() || h > 23 || m > 59 || !(0.0..61.0).contains(&s) {
            return None;
        }
        ms = (h * 3600 + m * 60) * 1000 + (s * 1000.0) as i64 - offset_min * 60_000;
    }
    u64::try_from(days * 86_400_000 + ms).ok()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `POST /hooks/v1/{hook}/test` with one event: whether the hook's conditions take it, its
/// row, and the plan it would make against the brand now. Nothing is kept and nothing is sent
/// but reads; a password is never shown.
async fn test_event(
    State(hooks): State<Arc<Hooks>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> Response {
    if let Err(refused) = hooks.viewer_allowed(&headers).await {
        return refused;
    }
    let Some(hook) = hooks.config.hooks.get(&name) else {
        return no_hook(&name);
    };
    let answer = |status: StatusCode, v: Value| (status, Json(v)).into_response();
    let event: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("The body is not JSON: {e}.")}),
            )
        }
    };
    if let Some(why) = hook.when.iter().find_map(|c| c.unmet(&event)) {
        return answer(
            StatusCode::OK,
            json!({"hook": name, "skipped": format!("outside the hook's conditions: {why}"), "row": null, "plan": null}),
        );
    }
    let empty = RoleSheet::default();
    let roles = hooks.roles.get(&name).unwrap_or(&empty);
    let row = match mapping::map_event(hook, roles, &event) {
        Ok(row) => row,
        Err(e) => {
            return answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": e.to_string(), "field": e.field, "expected": e.expected}),
            )
        }
    };
    let kind = if row.action.is_lifecycle() {
        qualtrics_roster::run::SheetKind::Lifecycle
    } else {
        qualtrics_roster::run::SheetKind::Provision
    };
    let mut preview = hooks.preview.lock().await;
    if preview.is_none() {
        match roster_native::session::Session::open(&hooks.config.qualtrics.target()).await {
            Ok(session) => *preview = Some(session),
            Err(e) => {
                return answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": format!("Cannot connect to Qualtrics with the server's credential: {e}")}),
                )
            }
        }
    }
    let Some(session) = preview.as_ref() else {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "No connection."}),
        );
    };
    let run = match worker::plan_only(
        session,
        kind,
        std::slice::from_ref(&row),
        hooks.config.qualtrics.rate_limit_scale,
    )
    .await
    {
        Ok(run) => run,
        Err(why) => {
            // The connection may be at fault: a fresh one next time.
            *preview = None;
            return answer(
                StatusCode::BAD_GATEWAY,
                json!({"error": format!("The plan could not be made: {why}")}),
            );
        }
    };
    drop(preview);
    let hidden = qualtrics_roster::provision::is_password_column;
    let mut shown_row = row.clone();
    for (column, cell) in shown_row.cells.iter_mut() {
        if hidden(column) && !cell.is_empty() {
            *cell = "(hidden)".into();
        }
    }
    let plan = run.plan_table();
    let keep: Vec<usize> = (0..plan.columns.len())
        .filter(|i| !hidden(&plan.columns[*i]))
        .collect();
    let columns: Vec<&String> = keep.iter().map(|i| &plan.columns[*i]).collect();
    let rows: Vec<Vec<String>> = plan
        .rows
        .iter()
        .map(|r| {
            keep.iter()
                .map(|i| r.get(*i).map(ToString::to_string).unwrap_or_default())
                .collect()
        })
        .collect();
    let problems: Vec<String> = run
        .problems(true)
        .into_iter()
        .map(|p| p.without_row().to_string())
        .collect();
    answer(
        StatusCode::OK,
        json!({
            "hook": name,
            "skipped": null,
            "kind": run.kind(),
            "row": shown_row,
            "plan": {"columns": columns, "rows": rows},
            "changes": run.changes(),
            "counts": run.counts(),
            "problems": problems,
            // Why the sheet as a whole would not be applied (nothing of it is sent then).
            "fileErrors": run.file_errors().into_iter().map(|p| p.message).collect::<Vec<_>>(),
        }),
    )
}

/// `GET /healthz`: `{"status": "ok"}` when the event store answers, else 503.
async fn healthz(State(hooks): State<Arc<Hooks>>) -> Response {
    match hooks.store.healthy() {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            eprintln!("hooks: health check: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "error", "error": "the event store does not answer"})),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus' text format, when `[metrics] enabled = true`; with
/// `[metrics] token`, only for `Authorization: Bearer TOKEN`.
async fn metrics_text(State(hooks): State<Arc<Hooks>>, headers: HeaderMap) -> Response {
    use subtle::ConstantTimeEq;
    let m = &hooks.config.metrics;
    if !m.enabled {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Metrics are off: set [metrics] enabled = true in the hooks configuration."})),
        )
            .into_response();
    }
    if let Some(token) = &m.token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.trim().as_bytes().ct_eq(token.trim().as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                Json(json!({"error": "Metrics need the bearer token of [metrics] token."})),
            )
                .into_response();
        }
    }
    match hooks.store.counts() {
        Ok(counts) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            hooks.metrics.render(&counts, unix_millis()),
        )
            .into_response(),
        Err(e) => store_failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_as_iso_8601_in_utc() {
        assert_eq!(parse_instant("1970-01-01"), Some(0));
        assert_eq!(parse_instant("1970-01-02T00:00:01Z"), Some(86_401_000));
        assert_eq!(
            parse_instant("2026-12-07T12:30:00Z"),
            Some(1_796_646_600_000)
        );
        assert_eq!(
            parse_instant("2026-12-07T13:30:00+01:00"),
            parse_instant("2026-12-07T12:30:00Z")
        );
        assert_eq!(
            parse_instant("2026-12-07T12:30:00.5Z"),
            Some(1_796_646_600_500)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-12-07T25:00Z",
            "2026-12-07X",
            "1969-12-31",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_of_list_items_single_events_fields_and_bodies_never_collide() {
        let event = json!({"eventId": "abc#0", "email": "a@x.org"});
        let plain = json!({"email": "a@x.org"});
        let item = event_id(None, &plain, Some("abc"), Some(0));
        let single = event_id(None, &plain, Some("abc#0"), None);
        let field = event_id(Some("/eventId"), &event, Some("abc"), Some(0));
        let body = event_id(None, &plain, None, None);
        let all = [&item, &single, &field, &body];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // A single event whose id looks like a list item's, or a body's, is still its own.
        assert_ne!(event_id(None, &plain, Some("b:abc#0"), None), item);
        assert_ne!(event_id(None, &plain, Some(&body), None), body);
        // Items of one list, and of lists whose ids end in #digits, stay apart.
        assert_ne!(
            event_id(None, &plain, Some("abc#1"), Some(0)),
            event_id(None, &plain, Some("abc"), Some(10))
        );
        // The same event id in a body is the same event, in a list or not.
        assert_eq!(
            event_id(Some("/eventId"), &event, None, None),
            event_id(Some("/eventId"), &event, Some("x"), Some(3))
        );
    }

    #[test]
    fn at_most_a_thousand_tokens_are_remembered_the_oldest_forgotten_first() {
        let mut viewers = Viewers::default();
        let key = |i: u32| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            k
        };
        let answered = |cell: ViewerCell, until: u64| {
            cell.set((until, Viewer::Refused)).unwrap();
        };
        for i in 0..1500 {
            answered(viewers.cell(key(i), 10), 1_000);
        }
        assert_eq!(viewers.entries.len(), MAX_VIEWERS);
        assert!(
            !viewers.entries.contains_key(&key(0)),
            "the oldest went first"
        );
        assert!(viewers.entries.contains_key(&key(1499)));
        // A remembered answer is the same cell until its time…
        let kept = viewers.cell(key(1499), 999);
        assert!(kept.get().is_some());
        // …then a new one (Qualtrics is asked again).
        let renewed = viewers.cell(key(1499), 1_000);
        assert!(renewed.get().is_none());
        // Expired answers make room before any live one is forgotten.
        let live = viewers.cell(key(5000), 2_000);
        answered(live, 1_000_000);
        for i in 6000..6999 {
            answered(viewers.cell(key(i), 2_000), 1_000_000);
        }
        assert!(viewers.entries.contains_key(&key(5000)));
        assert!(viewers.entries.len() <= MAX_VIEWERS);
    }
}
