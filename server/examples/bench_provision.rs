//! Benchmark: 5,000 new users with an attribute, by the account route, against the sandbox over
//! loopback HTTP at Qualtrics' published limits compressed tenfold (the sandbox enforces them,
//! the run paces itself by them). Beside it, in the same run: the fewest requests the API
//! allows for the job, and the shortest time its rate limits allow. Goals: the fewest requests,
//! a wall time within 1.10x of that shortest time, and no 429 answer.

mod common;
use common::{count_429, provisioning_bound, serve_sandbox, stats, Sandbox};
use std::collections::BTreeMap;
use std::time::Instant;

use qualtrics_roster::exec::{ExecConfig, OutcomeStatus};
use qualtrics_roster::policy::Approval;
use qualtrics_roster::provision::{ProvisionOptions, Route};
use qualtrics_roster::run::{ProvisionJob, ProvisionRun, Run};
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::time::Date;
use roster_native::client::{unix_millis, Control, Transport};
use roster_server::sandbox::faults::{Faults, RateLimits};
use roster_server::sandbox::SandboxConfig;

const ROWS: usize = 5000;
const COMPRESSION: f64 = 10.0;
const LATENCY_MS: u64 = 20;
const BRAND_USERS: usize = 250;

#[tokio::main]
async fn main() {
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROWS);
    let limits = RateLimits::default().scaled(COMPRESSION);
    let Sandbox { url, token, conn } = serve_sandbox(&SandboxConfig {
        users: BRAND_USERS,
        limits,
        faults: Faults {
            latency_ms: LATENCY_MS,
            retry_after_share: 0.5,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let transport = Transport::new();
    let user_type = transport
        .list_users(&conn)
        .await
        .unwrap()
        .into_iter()
        .find_map(|u| u.user_type.filter(|t| t != "UT_BRANDADMIN"))
        .unwrap();
    let mut csv = String::from("Username,First name,Last name,Email,User type,Password,Team\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "bench{i}@x.org,B,{i},bench{i}@x.org,{user_type},pw-{i},Team{}\n",
            i % 7
        ));
    }
    let table = Table::from_csv(&csv).unwrap();
    let options = ProvisionOptions {
        route: Route::AccountAndAttributes,
        today: Date::from_unix_millis(unix_millis()),
        user_types: BTreeMap::new(),
        divisions: BTreeMap::new(),
        job_size: 0,
        // These runs create the attribute Team on purpose.
        new_attributes: ["Team".to_string()].into(),
    };
    // The first requests of the benchmark go into a fresh second of the sandbox's buckets.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let s0 = stats(&url, &token).await;
    eprintln!(
        "provisioning {rows} new users with attributes (limits compressed {COMPRESSION}x)..."
    );
    let started = Instant::now();
    let mut run = ProvisionRun::new(
        conn.clone(),
        ProvisionJob::new(table.clone(), options.clone(), Vec::new()),
        ExecConfig::default().scaled(COMPRESSION),
        false,
        unix_millis(),
    );
    // Each phase's start on stderr, to see where the time goes.
    let mut phase = "";
    let mut log = |p: Option<qualtrics_roster::run::RunProgress>| {
        if let Some(p) = p.filter(|p| p.phase != phase) {
            eprintln!("  {:>6.1} s  {}", started.elapsed().as_secs_f64(), p.phase);
            phase = p.phase;
        }
        Control::Continue
    };
    transport.drive(&mut run, None, |_, p| log(p)).await;
    run.apply(
        &ProvisionJob::fingerprint(&table, &options),
        &Approval::default(),
        unix_millis(),
    )
    .unwrap();
    transport.drive(&mut run, None, |_, p| log(p)).await;
    let secs = started.elapsed().as_secs_f64();
    let s1 = stats(&url, &token).await;
    let outcomes = run.job().outcomes();
    let not_done = outcomes
        .iter()
        .filter(|o| o.status != OutcomeStatus::Done)
        .count();
    let requests = run.audit().len();
    let answered_429 = count_429(&s1) - count_429(&s0);

    let (fewest, shortest) = provisioning_bound(&limits, BRAND_USERS, rows);
    let (users_rate, directory_rate) = (limits.users / 60.0, limits.directory / 60.0);

    println!("provision: {rows} new users with attributes, limits {COMPRESSION}x Qualtrics' (users {:.0}/s, directory {:.1}/s), sandbox latency {LATENCY_MS} ms", users_rate, directory_rate);
    println!("| figure | ours | bound | ratio | goal |");
    println!("|---|---|---|---|---|");
    println!(
        "| requests | {requests} | {fewest} (fewest possible) | {:.3}x | = fewest |",
        requests as f64 / fewest as f64
    );
    println!(
        "| wall time | {secs:.1} s | {shortest:.1} s (the limits' minimum) | {:.2}x | <= 1.10x |",
        secs / shortest
    );
    println!("| 429 answers | {answered_429} | 0 | | 0 |");
    println!("| rows not done | {not_done} | 0 | | 0 |");
    let bench = |figure: &str, unit: &str, ours: f64, baseline: f64, label: &str, goal: f64| {
        let met = if goal == 1.0 && unit == "requests" {
            ours <= baseline
        } else {
            ours <= goal * baseline
        };
        println!(
            "BENCH {}",
            serde_json::json!({"bench": "provision", "figure": figure, "unit": unit, "ours": ours,
                "baseline": baseline, "baselineLabel": label, "ratio": ours / baseline,
                "goal": goal, "goalIsRatio": true, "lowerIsBetter": true, "met": met, "note": ""})
        );
    };
    bench(
        &format!("provisioning {rows} users with attributes: requests"),
        "requests",
        requests as f64,
        fewest as f64,
        "fewest the API allows",
        1.0,
    );
    bench(
        &format!("provisioning {rows} users with attributes: wall time at 10x limits"),
        "s",
        secs,
        shortest,
        "shortest the rate limits allow",
        1.10,
    );
    let ok = requests <= fewest && secs <= 1.10 * shortest && answered_429 == 0 && not_done == 0;
    println!(
        "goal {}: {requests} requests (fewest {fewest}), {secs:.1} s ({:.2}x the limits' {shortest:.1} s), {answered_429} answers 429, {not_done} rows not done",
        if ok { "met" } else { "MISSED" },
        secs / shortest
    );
}
