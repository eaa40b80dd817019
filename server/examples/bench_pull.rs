//! Benchmark: the full membership pull (users, groups with their members, the CX directory
//! with attributes) of a large sandbox brand (10,000 users, 300 groups, 20 roles) at the
//! sandbox's rate limits, beside a sequential loop (one request after another, waiting out
//! each 429) that reads the same pages. Figures: requests made (against the fewest the API
//! allows: one per page), and wall time (against the time the rate limits allow: requests per
//! endpoint class / that class's rate, phase by phase). Goal: within 10 % of the allowed time.
//!
//! Time is compressed tenfold so the run takes seconds, not minutes: every limit is ten times
//! Qualtrics' (the directory's 75/min becomes 750/min) and the sandbox answers in 30 ms (about a
//! tenth of a real round trip). BENCH_SCALE and BENCH_LATENCY_MS change that; BENCH_USERS,
//! BENCH_GROUPS the brand. Run by bench/run.mjs, or `cargo run --release -p roster-server
//! --example bench_pull`.

mod common;
use common::{serve_sandbox, Sandbox};
use std::time::{Duration, Instant};

use qualtrics_roster::api::connection::Connection;
use qualtrics_roster::api::directory::ParticipantListing;
use qualtrics_roster::api::http::{HttpRequest, HttpResponse};
use qualtrics_roster::api::users::{Listing, UserListing, UserSummary};
use qualtrics_roster::exec::{EndpointClass, ExecConfig, RateLimit};
use qualtrics_roster::membership::GroupSummary;
use roster_native::client::Transport;
use roster_server::sandbox::faults::{Faults, RateLimits};
use roster_server::sandbox::SandboxConfig;
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Qualtrics' limits (requests a minute) times `scale`, for the client.
fn client_config(scale: f64) -> ExecConfig {
    let d = ExecConfig::default();
    let scaled = |l: RateLimit| RateLimit::per_minute(l.per_minute * scale);
    ExecConfig {
        brand_limit: scaled(d.brand_limit),
        limits: d.limits.iter().map(|(c, l)| (*c, scaled(*l))).collect(),
        ..d
    }
}

/// The least time the limits allow for `requests` (per endpoint class), in seconds.
fn allowed_secs(requests: &[(EndpointClass, usize)], limits: &RateLimits) -> f64 {
    let per_sec = |per_min: f64| per_min / 60.0;
    let total: usize = requests.iter().map(|(_, n)| n).sum();
    let mut bound = total as f64 / per_sec(limits.brand);
    for (class, n) in requests.iter() {
        let rate = match class {
            EndpointClass::Users => limits.users,
            EndpointClass::Groups => limits.groups,
            EndpointClass::GroupMembersRead => limits.group_members_read,
            EndpointClass::GroupMembersDelete => limits.group_members_delete,
            EndpointClass::Directory => limits.directory,
            _ => limits.brand,
        };
        bound = bound.max(*n as f64 / per_sec(rate));
    }
    bound
}

/// Sends `request` until it is not a 429, waiting each 429's Retry-After (or 1 s).
async fn send_waiting(
    t: &Transport,
    request: &HttpRequest,
    counts: &mut (usize, u64),
) -> HttpResponse {
    loop {
        counts.0 += 1;
        let answer = t.send(request).await.expect("the sandbox answers");
        if answer.status != 429 {
            return answer;
        }
        counts.1 += 1;
        let wait = answer
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

/// The baseline: the same pages one request at a time (users, groups, each group's members,
/// the directory), as a script looping over the API would read them.
async fn sequential(t: &Transport, conn: &Connection) -> (usize, u64) {
    let mut counts = (0usize, 0u64);
    let mut users = UserListing::users(conn);
    while let Some(r) = users.next_request(conn) {
        let answer = send_waiting(t, &r, &mut counts).await;
        users.on_response(conn, &answer).expect("a users page");
    }
    let mut groups: Listing<GroupSummary> = Listing::starting_at(conn.url("groups"));
    let mut ids = Vec::new();
    while let Some(r) = groups.next_request(conn) {
        let answer = send_waiting(t, &r, &mut counts).await;
        ids.extend(
            groups
                .on_response(conn, &answer)
                .expect("a groups page")
                .elements
                .into_iter()
                .map(|g| g.id),
        );
    }
    for id in ids {
        let mut members: Listing<UserSummary> =
            Listing::starting_at(conn.url(&format!("groups/{id}/members")));
        while let Some(r) = members.next_request(conn) {
            let answer = send_waiting(t, &r, &mut counts).await;
            members.on_response(conn, &answer).expect("a members page");
        }
    }
    let mut directory = ParticipantListing::default();
    while let Some(r) = directory.next_request(conn) {
        let answer = send_waiting(t, &r, &mut counts).await;
        directory.on_response(&answer).expect("a directory page");
    }
    counts
}

fn emit(
    figure: &str,
    unit: &str,
    ours: f64,
    baseline: f64,
    label: &str,
    goal: Option<f64>,
    goal_is_ratio: bool,
) {
    let ratio = ours / baseline;
    let met = goal.map(|g| if goal_is_ratio { ratio <= g } else { ours <= g });
    println!(
        "BENCH {}",
        json!({"bench": "large brand", "figure": figure, "unit": unit, "ours": ours, "baseline": baseline,
               "baselineLabel": label, "ratio": ratio, "goal": goal, "goalIsRatio": goal_is_ratio,
               "lowerIsBetter": true, "met": met, "note": ""})
    );
}

#[tokio::main]
async fn main() {
    let scale: f64 = env_or("BENCH_SCALE", 10.0);
    let latency: u64 = env_or("BENCH_LATENCY_MS", 30);
    let users: usize = env_or("BENCH_USERS", 10_000);
    let groups: usize = env_or("BENCH_GROUPS", 300);
    let limits = RateLimits::default().scaled(scale);
    let Sandbox { conn, .. } = serve_sandbox(&SandboxConfig {
        users,
        groups,
        roles: 20,
        limits,
        faults: Faults {
            latency_ms: latency,
            retry_after_share: 1.0,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let t = Transport::new();

    eprintln!(
        "ours: the pull of {users} users, {groups} groups (limits x{scale}, {latency} ms)..."
    );
    let started = Instant::now();
    let snapshot = t
        .pull_membership(&conn, &client_config(scale))
        .await
        .expect("the pull succeeds");
    let ours_secs = started.elapsed().as_secs_f64();
    let pages = |n: usize| n.div_ceil(100).max(1);
    let phase1 = [
        (EndpointClass::Users, pages(snapshot.users.len())),
        (EndpointClass::Groups, pages(snapshot.groups.len())),
        (EndpointClass::Directory, pages(snapshot.participants.len())),
    ];
    let phase2 = [(
        EndpointClass::GroupMembersRead,
        snapshot.groups.iter().map(|g| pages(g.members.len())).sum(),
    )];
    let minimum: usize = phase1.iter().chain(&phase2).map(|(_, n)| n).sum();
    let allowed = allowed_secs(&phase1, &limits) + allowed_secs(&phase2, &limits);
    let ours_requests = snapshot.requests();

    eprintln!("baseline: the same pages one request at a time...");
    sleep_for_buckets().await;
    let started = Instant::now();
    let (base_requests, throttled) = sequential(&t, &conn).await;
    let base_secs = started.elapsed().as_secs_f64();

    println!(
        "large brand: {} users, {} groups, {} participants; limits x{scale} (directory {}/min), answers in {latency} ms",
        snapshot.users.len(),
        snapshot.groups.len(),
        snapshot.participants.len(),
        limits.directory
    );
    println!("| figure | ours | baseline | ratio | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| requests | {ours_requests} | {minimum} (one per page) | {:.2}x | 1.00x |",
        ours_requests as f64 / minimum as f64
    );
    println!("| wall time | {ours_secs:.1} s | {allowed:.1} s allowed by the limits | {:.2}x | <= 1.10x |", ours_secs / allowed);
    println!("| wall time | {ours_secs:.1} s | {base_secs:.1} s sequential loop ({base_requests} requests, {throttled} answered 429) | {:.2}x | |", ours_secs / base_secs);
    emit(
        "full membership pull: requests",
        "requests",
        ours_requests as f64,
        minimum as f64,
        "fewest the API allows (one per page)",
        Some(1.0),
        true,
    );
    emit(
        "full membership pull: wall time",
        "s",
        ours_secs,
        allowed,
        "time the rate limits allow",
        Some(1.10),
        true,
    );
    emit(
        "full membership pull: wall time vs a sequential loop",
        "s",
        ours_secs,
        base_secs,
        "sequential loop, same pages",
        None,
        false,
    );
}

/// Lets the sandbox's buckets drain between the two runs, so neither starts throttled.
async fn sleep_for_buckets() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
