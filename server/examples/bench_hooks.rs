//! Benchmark: a burst of 1,000 CRM events (new users with an attribute) posted signed to the
//! hooks, against the sandbox at Qualtrics' published limits compressed tenfold, timed from the
//! burst's last event accepted to the last event done (the time to post the burst is the
//! sender's, and shown apart). Beside it, in the same run: the shortest time the rate limits
//! allow for the same accounts and attributes (read the brand, create each account, read the
//! directory for their uniqueIdentifiers, run the import jobs). Goal: within 1.10x.

mod common;
use common::{count_429, provisioning_bound, serve_sandbox, stats, Sandbox};
use std::time::{Duration, Instant};

use roster_server::hooks::verify::sign;
use roster_server::hooks::Hooks;
use roster_server::relay::Upstream;
use roster_server::sandbox::faults::{Faults, RateLimits};
use roster_server::sandbox::SandboxConfig;
use roster_server::{app, ServerConfig};

const EVENTS: usize = 1000;
const COMPRESSION: f64 = 10.0;
const LATENCY_MS: u64 = 20;
const BRAND_USERS: usize = 250;
const SECRET: &str = "whsec_YmVuY2htYXJrIHNpZ25pbmcgc2VjcmV0";

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(EVENTS);
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
    let user_type = roster_server::client::Transport::new()
        .list_users(&conn)
        .await
        .unwrap()
        .into_iter()
        .find_map(|u| u.user_type.filter(|t| t != "UT_BRANDADMIN"))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("roster-bench-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let private = |name: &str, text: String| {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let creds = private("credentials", format!("api_token = {token}\n"));
    let config = private(
        "hooks.toml",
        format!(
            "[qualtrics]\nbase_url = \"{url}/sandbox/API/v3\"\ncredentials = \"{}\"\nrate_limit_scale = {COMPRESSION}\n[store]\npath = \"{}\"\naudit = \"{}\"\n[hooks.crm]\nsigning_secrets = [\"{SECRET}\"]\n[hooks.crm.fields]\nUsername = \"/email\"\n\"First name\" = \"/first\"\n\"Last name\" = \"/last\"\nEmail = \"/email\"\n\"User type\" = \"{user_type}\"\n[hooks.crm.attributes]\nTeam = \"/team\"\n",
            creds.display(),
            dir.join("events.sqlite").display(),
            dir.join("audit.jsonl").display()
        ),
    );
    let hooks = Hooks::start(&config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hooks_url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(ServerConfig {
        www: std::env::temp_dir(),
        sandbox: None,
        relay_upstream: Upstream::Qualtrics,
        log_relay: false,
        limits: roster_server::limits::Limits::default(),
        relay_access: roster_server::relay::Access::default(),
        hooks: Some(hooks),
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    // The first requests go into a fresh second of the sandbox's buckets.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s0 = stats(&url, &token).await;
    eprintln!("posting {events} signed events (limits compressed {COMPRESSION}x)...");
    let started = Instant::now();
    let client = reqwest::Client::new();
    let now = roster_server::client::unix_millis() / 1000;
    let mut ids = Vec::with_capacity(events);
    let mut posts = tokio::task::JoinSet::new();
    for i in 0..events {
        let client = client.clone();
        let url = format!("{hooks_url}/hooks/v1/crm");
        posts.spawn(async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "email": format!("hook{i}@bench.org"), "first": "Hook", "last": i.to_string(),
                "team": format!("Team{}", i % 7)
            }))
            .unwrap();
            let id = format!("evt-{i}");
            let r = client
                .post(url)
                .header("webhook-id", &id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", sign(SECRET, &id, now, &body))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 202);
            r.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        });
        // A CRM sends its burst a few at a time.
        if posts.len() >= 16 {
            ids.push(posts.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(id) = posts.join_next().await {
        ids.push(id.unwrap());
    }
    let posted = started.elapsed().as_secs_f64();
    eprintln!("  {posted:>6.1} s  all {events} accepted");
    let list = || async {
        client
            .get(format!("{hooks_url}/hooks/v1/events?limit={events}"))
            .header("x-api-token", &token)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let (done, failed) = loop {
        let listed = list().await;
        let all = listed["events"].as_array().unwrap();
        let count = |s: &str| all.iter().filter(|e| e["status"] == s).count();
        let (done, failed) = (count("done"), count("failed"));
        if done + failed >= events || started.elapsed() > Duration::from_secs(600) {
            break (done, failed);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = started.elapsed().as_secs_f64();
    let s1 = stats(&url, &token).await;
    let answered_429 = count_429(&s1) - count_429(&s0);

    // The shortest time the limits allow for the same accounts and attributes.
    let (_, shortest) = provisioning_bound(&limits, BRAND_USERS, events);

    println!("hooks: a burst of {events} CRM events (new users with an attribute), limits {COMPRESSION}x Qualtrics', sandbox latency {LATENCY_MS} ms");
    println!("| figure | ours | bound | ratio | goal |");
    println!("|---|---|---|---|---|");
    let applying = secs - posted;
    println!(
        "| last event accepted to all done | {applying:.1} s | {shortest:.1} s (the limits' minimum) | {:.2}x | <= 1.10x |",
        applying / shortest
    );
    println!("| first post to all done | {secs:.1} s (posting the burst {posted:.1} s) | | | |");
    println!("| events done | {done} | {events} | | all |");
    println!("| events failed | {failed} | 0 | | 0 |");
    println!("| 429 answers | {answered_429} | 0 | | 0 |");
    println!(
        "BENCH {}",
        serde_json::json!({"bench": "hooks", "figure": format!("a burst of {events} CRM events, last accepted to all done, at 10x limits"), "unit": "s", "ours": applying,
            "baseline": shortest, "baselineLabel": "shortest the rate limits allow", "ratio": applying / shortest,
            "goal": 1.10, "goalIsRatio": true, "lowerIsBetter": true, "met": applying <= 1.10 * shortest && failed == 0,
            "note": format!("first post to all done {secs:.1} s, posting {posted:.1} s")})
    );
    let _ = std::fs::remove_dir_all(&dir);
}
