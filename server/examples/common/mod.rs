//! Shared by the benchmarks: the server with a sandbox brand on a free loopback port.

use qualtrics_roster::api::connection::{Auth, Connection};
use roster_server::relay::Upstream;
use roster_server::sandbox::SandboxConfig;
use roster_server::{app, ServerConfig};

/// A running sandbox brand: the server's base URL, the admin's token and a connection to the
/// brand's API as that admin. (Each benchmark compiles this module and reads what it needs.)
#[allow(dead_code)]
pub struct Sandbox {
    pub url: String,
    pub token: String,
    pub conn: Connection,
}

/// Serves a sandbox brand made from `config` on a free loopback port (in this process).
pub async fn serve_sandbox(config: &SandboxConfig) -> Sandbox {
    let sandbox = ServerConfig::sandbox(config);
    let token = sandbox.admin_token();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(ServerConfig {
        www: std::env::temp_dir(),
        sandbox: Some(sandbox),
        relay_upstream: Upstream::Qualtrics,
        log_relay: false,
        limits: roster_server::limits::Limits::default(),
        relay_access: roster_server::relay::Access::default(),
        hooks: None,
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    let conn = Connection::direct(
        &format!("{url}/sandbox/API/v3"),
        Auth::api_token(&token).unwrap(),
    )
    .unwrap();
    Sandbox { url, token, conn }
}

/// What the sandbox saw so far (`/sandbox/control/stats`, the admin's token).
#[allow(dead_code)]
pub async fn stats(url: &str, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{url}/sandbox/control/stats"))
        .header("x-api-token", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// 429 answers in `stats`.
#[allow(dead_code)]
pub fn count_429(stats: &serde_json::Value) -> u64 {
    stats["byStatus"]["429"].as_u64().unwrap_or(0)
}

/// Items per listing page.
#[allow(dead_code)]
pub const PAGE: usize = 100;
/// The sandbox finishes an import job on its third status poll.
#[allow(dead_code)]
pub const POLLS_PER_JOB: usize = 3;

/// Pages to list `items` (at least one request).
#[allow(dead_code)]
pub fn pages(items: usize) -> usize {
    items.div_ceil(PAGE).max(1)
}

/// Provisioning `rows` new users with attributes into a brand of `brand_users`, by the account
/// route: the fewest requests the API allows (the users and the directory read once for the
/// plan, one POST per account, the directory read again for the new uniqueIdentifiers, and per
/// import job of 100 a submit, its polls and its result), and the shortest time `limits` allow
/// for them, phase after phase (each needs the one before), in seconds.
#[allow(dead_code)]
pub fn provisioning_bound(
    limits: &roster_server::sandbox::faults::RateLimits,
    brand_users: usize,
    rows: usize,
) -> (usize, f64) {
    let (users_read, directory_read, directory_after) = (
        pages(brand_users),
        pages(brand_users),
        pages(brand_users + rows),
    );
    let job_requests = rows.div_ceil(PAGE) * (2 + POLLS_PER_JOB);
    let fewest = users_read + directory_read + rows + directory_after + job_requests;
    let (users_rate, directory_rate, brand_rate) = (
        limits.users / 60.0,
        limits.directory / 60.0,
        limits.brand / 60.0,
    );
    let phase = |users: usize, directory: usize| {
        (users as f64 / users_rate)
            .max(directory as f64 / directory_rate)
            .max((users + directory) as f64 / brand_rate)
    };
    let shortest = phase(users_read, directory_read)
        + phase(rows, 0)
        + phase(0, directory_after)
        + phase(0, job_requests);
    (fewest, shortest)
}

/// The shortest time `limits` allow for the requests `rows` new accounts with attributes need
/// themselves, in seconds: one POST each, then per import job of 100 a submit, its polls and
/// its result; no reading of the brand (what a product adds to find who exists and the new
/// accounts' uniqueIdentifiers is its own cost, measured against this).
#[allow(dead_code)]
pub fn accounts_bound(limits: &roster_server::sandbox::faults::RateLimits, rows: usize) -> f64 {
    let job_requests = rows.div_ceil(PAGE) * (2 + POLLS_PER_JOB);
    let (users_rate, directory_rate, brand_rate) = (
        limits.users / 60.0,
        limits.directory / 60.0,
        limits.brand / 60.0,
    );
    (rows as f64 / users_rate).max(rows as f64 / brand_rate)
        + (job_requests as f64 / directory_rate).max(job_requests as f64 / brand_rate)
}

/// Accounts the sandbox created so far (`POST /users` answered under 300) in `stats`.
#[allow(dead_code)]
pub fn created(stats: &serde_json::Value) -> u64 {
    stats["okByEndpoint"]["POST /users"].as_u64().unwrap_or(0)
}
