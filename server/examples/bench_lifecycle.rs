//! Benchmark: 2,000 account status changes against the sandbox with 100 ms added latency and
//! Qualtrics' 3,000/minute limit, our executor beside a sequential loop that does what the
//! community's Python script does (one PUT after another, no retry). Run by bench/lifecycle.sh.

mod common;
use common::{count_429, serve_sandbox, stats, Sandbox};
use std::time::Instant;

use qualtrics_roster::api::users::{self, AccountStatus, UserUpdate};
use qualtrics_roster::exec::{ExecConfig, OutcomeStatus};
use qualtrics_roster::lifecycle::LifecycleOptions;
use qualtrics_roster::policy::Approval;
use qualtrics_roster::run::{LifecycleJob, LifecycleRun, Run};
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::time::Date;
use roster_native::client::{unix_millis, Control, Transport};
use roster_server::sandbox::faults::{Faults, RateLimits};
use roster_server::sandbox::SandboxConfig;

const ROWS: usize = 2000;
const LATENCY_MS: u64 = 100;
const LIMIT_PER_MIN: f64 = 3000.0;

#[tokio::main]
async fn main() {
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROWS);
    let Sandbox { url, token, conn } = serve_sandbox(&SandboxConfig {
        users: rows + 1,
        limits: RateLimits {
            brand: LIMIT_PER_MIN,
            users: LIMIT_PER_MIN,
            ..RateLimits::default()
        },
        faults: Faults {
            latency_ms: LATENCY_MS,
            retry_after_share: 0.5,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let transport = Transport::new();
    let all = transport.list_users(&conn).await.unwrap();
    let targets: Vec<_> = all.iter().skip(1).take(rows).collect();

    // Baseline: the Python loop. One request after another, no retry, nothing per row.
    eprintln!(
        "baseline: {rows} PUTs one after another (about {} s)...",
        rows as u64 * LATENCY_MS / 1000
    );
    let s0 = stats(&url, &token).await;
    let started = Instant::now();
    let mut baseline_failed = 0;
    let disable = UserUpdate {
        status: Some(AccountStatus::Disabled),
        ..Default::default()
    };
    for u in &targets {
        let req = users::update_user_request(&conn, &u.id, &disable);
        match transport.send(&req).await {
            Ok(r) if (200..300).contains(&r.status) => {}
            _ => baseline_failed += 1,
        }
    }
    let baseline_secs = started.elapsed().as_secs_f64();
    let s1 = stats(&url, &token).await;

    // Ours: the lifecycle run, reading the users once then applying at the brand's limits.
    eprintln!("ours: plan + apply for the same {rows} accounts (re-enable)...");
    let started = Instant::now();
    let mut csv = String::from("User ID,Action\n");
    for u in &targets {
        csv.push_str(&format!("{},enable\n", u.id));
    }
    let table = Table::from_csv(&csv).unwrap();
    let options = LifecycleOptions {
        default_action: None,
        today: Date::from_unix_millis(unix_millis()),
    };
    let mut run = LifecycleRun::new(
        conn.clone(),
        LifecycleJob::new(table.clone(), options.clone(), Vec::new()),
        ExecConfig::default(),
        false,
        unix_millis(),
    );
    transport
        .drive(&mut run, None, |_, _| Control::Continue)
        .await;
    assert_eq!(
        run.job().plan().unwrap().changes(),
        rows - baseline_failed,
        "every account the baseline disabled is re-enabled"
    );
    let plan_secs = started.elapsed().as_secs_f64();
    let read_requests = run.audit().len();
    let put_started = Instant::now();
    run.apply(
        &LifecycleJob::fingerprint(&table, &options),
        // A deliberate mass change, as a cron job confirms one: within --max-changes.
        &Approval::up_to(table.rows.len()),
        unix_millis(),
    )
    .unwrap();
    transport
        .drive(&mut run, None, |_, _| Control::Continue)
        .await;
    let ours_put_secs = put_started.elapsed().as_secs_f64();
    let ours_total_secs = started.elapsed().as_secs_f64();
    let s2 = stats(&url, &token).await;
    let ours_failed = run
        .job()
        .outcomes()
        .iter()
        .filter(|o| o.status != OutcomeStatus::Done)
        .count();
    let put_requests = run.audit().len() - read_requests;

    let ceiling = LIMIT_PER_MIN / 60.0;
    let base_rps = rows as f64 / baseline_secs;
    let ours_rps = put_requests as f64 / ours_put_secs;
    println!("lifecycle: {rows} status changes, sandbox latency {LATENCY_MS} ms, limit {LIMIT_PER_MIN}/min ({ceiling:.0} req/s)");
    println!("| figure | ours | baseline (sequential loop) | ratio | goal |");
    println!("|---|---|---|---|---|");
    println!("| requests per second (PUT phase) | {ours_rps:.1} | {base_rps:.1} | {:.1}x | >= {:.0} (90 % of {ceiling:.0}) |", ours_rps / base_rps, ceiling * 0.9);
    println!(
        "| share of the rate-limit ceiling | {:.0} % | {:.0} % | | >= 90 % |",
        100.0 * ours_rps / ceiling,
        100.0 * base_rps / ceiling
    );
    println!("| wall time, {rows} changes | {ours_put_secs:.1} s (+{plan_secs:.1} s listing and plan) | {baseline_secs:.1} s | {:.1}x faster | |", baseline_secs / ours_total_secs);
    println!(
        "| 429 answers received | {} | {} | | |",
        count_429(&s2) - count_429(&s1),
        count_429(&s1) - count_429(&s0)
    );
    println!("| rows not done at the end (429s left unabsorbed, errors) | {ours_failed} | {baseline_failed} | | 0 |");
    let bench = |figure: &str,
                 unit: &str,
                 ours: f64,
                 baseline: f64,
                 goal: Option<f64>,
                 lower: bool| {
        let met = goal.map(|g| if lower { ours <= g } else { ours >= g });
        println!(
            "BENCH {}",
            serde_json::json!({"bench": "lifecycle", "figure": figure, "unit": unit, "ours": ours,
                "baseline": baseline, "baselineLabel": "sequential loop (one PUT after another)",
                "ratio": ours / baseline, "goal": goal, "goalIsRatio": false, "lowerIsBetter": lower,
                "met": met, "note": ""})
        );
    };
    bench(
        &format!("lifecycle throughput, {rows} changes at {LIMIT_PER_MIN}/min, {LATENCY_MS} ms"),
        "req/s",
        ours_rps,
        base_rps,
        Some(0.9 * ceiling),
        false,
    );
    bench(
        &format!("lifecycle wall time, {rows} changes (with listing and plan)"),
        "s",
        ours_total_secs,
        baseline_secs,
        None,
        true,
    );
    let ok = ours_rps >= 0.9 * ceiling && ours_failed == 0;
    println!(
        "goal {}: ours {:.0} % of the ceiling, {} rows not done",
        if ok { "met" } else { "MISSED" },
        100.0 * ours_rps / ceiling,
        ours_failed
    );
}
