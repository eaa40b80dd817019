//! qualtrics-roster's server: the page's static files, the Qualtrics relay, the CRM hooks and
//! the sandbox brand, in one process. Its runs (the hooks') go through the native library
//! (`roster_native`), as the command line's do; it never depends on the command line.

#![warn(missing_docs)]

pub mod hooks;
pub mod limits;
pub mod relay;
/// The sandbox brand (its own crate), re-exported for the server's tests and benchmarks.
pub use roster_sandbox as sandbox;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue};
use axum::routing::any;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use relay::{Relay, Upstream};
use sandbox::{Sandbox, SandboxConfig};

/// The Content-Security-Policy of the page: scripts, styles, WASM and API calls from this
/// origin only (the relay and the sandbox are on it).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// The task pane's policy: the page's, plus Office.js from Microsoft's CDN (Office requires
/// add-ins to load it from there). API calls still go to this origin only. Only Office may
/// frame it: the Microsoft 365 hosts Microsoft documents for `frame-ancestors`
/// (`*.cloud.microsoft`, `*.office.com`, `*.microsoft365.com`), plus the hosts Excel on the web
/// frames add-ins from (`*.officeapps.live.com`, `*.sharepoint.com`; not in that list, so
/// accepted as plausible). Desktop Excel shows the pane as a top-level page, which
/// `frame-ancestors` does not restrict.
pub const TASKPANE_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' https://appsforoffice.microsoft.com; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' https://appsforoffice.microsoft.com; frame-src https://appsforoffice.microsoft.com; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self' https://*.cloud.microsoft https://*.office.com https://*.microsoft365.com https://*.officeapps.live.com https://*.sharepoint.com";

/// Sets the Content-Security-Policy by page: the task pane's for `taskpane.html`, the page's
/// for everything else.
async fn content_security_policy(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let taskpane = request.uri().path().ends_with("/taskpane.html");
    let mut response = next.run(request).await;
    let policy = if taskpane {
        TASKPANE_CONTENT_SECURITY_POLICY
    } else {
        CONTENT_SECURITY_POLICY
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    response
}

/// How long Office and browsers may keep the ribbon icons without asking again.
const ICON_CACHE_CONTROL: &str = "public, max-age=86400";

/// `Cache-Control` of static files: the ribbon icons (`/assets/`) may be cached, since Office
/// shows a generic icon instead of one served with `no-cache` or `no-store`; everything else is
/// revalidated on each load (`no-cache`), so a new version of the page is never mixed with an
/// old one.
async fn cache_control(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let icon = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let value = if icon && response.status().is_success() {
        ICON_CACHE_CONTROL
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// Serves only what is inside `www`: a path with a segment starting with a dot (`.git`,
/// `.env`) is not found, and neither is a file that a symbolic link leads out of `www`.
async fn inside_www(
    State(www): State<Arc<PathBuf>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let hidden = decoded.split('/').any(|s| s.starts_with('.'));
    let outside = match std::fs::canonicalize(www.join(decoded.trim_start_matches('/'))) {
        Ok(real) => std::fs::canonicalize(&*www).is_ok_and(|root| !real.starts_with(root)),
        Err(_) => false,
    };
    if hidden || outside {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    next.run(request).await
}

/// What the server serves.
pub struct ServerConfig {
    /// Folder with the page (`www/`).
    pub www: PathBuf,
    /// The sandbox brand, if enabled.
    pub sandbox: Option<Arc<Sandbox>>,
    /// Where the relay sends requests.
    pub relay_upstream: Upstream,
    /// Print one line per relayed request on stderr.
    pub log_relay: bool,
    /// Time limits and caps (see [`limits`]).
    pub limits: limits::Limits,
    /// Who may use the relay, and how fast.
    pub relay_access: relay::Access,
    /// The CRM / HR hooks, when configured.
    pub hooks: Option<Arc<hooks::Hooks>>,
}

impl ServerConfig {
    /// A sandbox for `config`, to put in [`ServerConfig::sandbox`].
    #[must_use]
    pub fn sandbox(config: &SandboxConfig) -> Arc<Sandbox> {
        Sandbox::new(config)
    }
}

/// The whole application.
pub fn app(config: ServerConfig) -> Router {
    let relay = Relay::new(
        config.relay_upstream,
        config.log_relay,
        config.limits.max_relayed,
        config.relay_access,
    );
    let statics = ServeDir::new(&config.www).append_index_html_on_directories(true);
    let static_headers = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.www.clone()),
            inside_www,
        ))
        .layer(axum::middleware::from_fn(content_security_policy))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::from_fn(cache_control));
    let mut router = Router::new()
        .route("/relay/{*rest}", any(relay::handle))
        .layer(DefaultBodyLimit::max(relay::MAX_BODY_BYTES))
        .with_state(relay);
    if let Some(sb) = config.sandbox {
        router = router.nest("/sandbox", sandbox::router(sb));
    }
    if let Some(hooks) = config.hooks {
        router = router.merge(hooks.router());
    }
    let router = router.layer(axum::middleware::from_fn(relay::answer_headers));
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        config.limits.request,
    ));
    router.fallback_service(static_headers.service(statics))
}
