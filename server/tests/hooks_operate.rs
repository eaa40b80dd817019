//! Operating the hooks over real loopback HTTP (a sandbox brand in one `roster-server`, the
//! hooks in another): HubSpot's v3 signature, per-hook conditions, pause and resume across a
//! restart, replay, the test endpoint, alerts, health and metrics, and retention (hashed ids,
//! no password kept, old events deleted).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use common::tempdir::Dir;
use common::{user_type, Server};
use roster_server::hooks::verify::sign;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ALERT_SECRET: &str = "whsec_YWxlcnRzIHNpZ25pbmcgc2VjcmV0IDEyMzQ=";
const HUBSPOT: &str = "9c2d3f6e-1b7a-4c85-9e21-hubspot-one";
const HUBSPOT_NEXT: &str = "0a4b8c2d-7e6f-4a31-8b09-hubspot-two";
const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

/// The hooks configuration for `brand` in `dir`: hook `crm` (Standard Webhooks, with a
/// Password field and `crm_extra` under it), hook `hubspot` (HubSpot v3), and `extra` at the
/// top level (before the hooks).
fn configure(dir: &Path, brand: &Server, user_type: &str, crm_extra: &str, extra: &str) -> PathBuf {
    let creds = common::oauth_credentials(dir, brand);
    let config = dir.join("hooks.toml");
    common::write_private(
        &config,
        &format!(
            r#"
[qualtrics]
base_url = "{url}/sandbox/API/v3"
credentials = "{creds}"

[store]
path = "{db}"
audit = "{audit}"

[retry]
attempts = 2
first_delay_seconds = 0.2

{extra}

[hooks.crm]
scheme = "standard-webhooks"
signing_secrets = ["{SECRET}"]
{crm_extra}
[hooks.crm.fields]
Username = "/email"
"First name" = "/first"
"Last name" = "/last"
Email = "/email"
Password = "/password"
"User type" = "{user_type}"
Action = "/action"
[hooks.crm.attributes]
"Cost centre" = "/cost"

[hooks.hubspot]
scheme = "hubspot-v3"
client_secrets = ["{HUBSPOT}", "{HUBSPOT_NEXT}"]
public_url = "https://roster.example.org/crm/hooks/v1/hubspot"
[[hooks.hubspot.when]]
pointer = "/properties/lifecyclestage"
one_of = ["employee", "partner"]
[hooks.hubspot.fields]
Username = "/properties/email"
"First name" = "/properties/firstname"
"Last name" = "/properties/lastname"
Email = "/properties/email"
"User type" = "{user_type}"
"#,
            url = brand.url,
            creds = creds.display(),
            db = dir.join("events.sqlite").display(),
            audit = dir.join("audit.jsonl").display(),
        ),
    );
    config
}

fn start_hooks(config: &Path) -> Server {
    Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()])
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Posts `body` to hook `crm`, signed (Standard Webhooks) as message `id`.
async fn post_crm(hooks: &Server, id: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let t = now();
    let r = reqwest::Client::new()
        .post(format!("{}/hooks/v1/crm", hooks.url))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", t.to_string())
        .header("webhook-signature", sign(SECRET, id, t, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// HubSpot's v3 signature, computed here from HubSpot's documentation (not with the server's
/// code): base64(HMAC-SHA256(secret, method + uri + body + timestamp)), with `uri` the full
/// URL with HubSpot's listed characters URL-decoded.
fn hubspot_signature(secret: &str, uri: &str, body: &[u8], timestamp_ms: u64) -> String {
    let mut decoded = uri.to_string();
    for (encoded, plain) in [
        ("%3A", ":"),
        ("%2F", "/"),
        ("%3F", "?"),
        ("%40", "@"),
        ("%21", "!"),
        ("%24", "$"),
        ("%27", "'"),
        ("%28", "("),
        ("%29", ")"),
        ("%2A", "*"),
        ("%2C", ","),
        ("%3B", ";"),
    ] {
        decoded = decoded.replace(encoded, plain);
    }
    let mut source = format!("POST{decoded}").into_bytes();
    source.extend_from_slice(body);
    source.extend_from_slice(timestamp_ms.to_string().as_bytes());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, &source).as_ref())
}

/// Posts `body` to `path_and_query` of the hooks' server with HubSpot's headers.
async fn post_hubspot(
    hooks: &Server,
    path_and_query: &str,
    body: &[u8],
    signature: &str,
    timestamp_ms: u64,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path_and_query}", hooks.url))
        .header("content-type", "application/json")
        .header("X-HubSpot-Signature-v3", signature)
        .header("X-HubSpot-Request-Timestamp", timestamp_ms.to_string())
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// `method` on `path` of the hooks' server with `token` and a JSON `body`.
async fn call(
    hooks: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", hooks.url);
    let mut r = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(t) = token {
        r = r.header("x-api-token", t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn event(hooks: &Server, brand: &Server, id: i64) -> Value {
    call(
        hooks,
        "GET",
        &format!("/hooks/v1/events/{id}"),
        Some(&brand.admin_token),
        None,
    )
    .await
    .1
}

/// Waits until each of `ids` has one of `statuses` (a failed one only once parked).
async fn reach(
    hooks: &Server,
    brand: &Server,
    ids: &[i64],
    statuses: &[&str],
    within: Duration,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        for id in ids {
            all.push(event(hooks, brand, *id).await);
        }
        let ok = all.iter().all(|e| {
            statuses.iter().any(|s| e["status"] == *s)
                && (e["status"] != "failed" || e["nextAttemptAt"].is_null())
        });
        if ok {
            return all;
        }
        assert!(started.elapsed() < within, "not yet {statuses:?}: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn brand_user(
    brand: &Server,
    username: &str,
) -> Option<qualtrics_roster::api::users::UserSummary> {
    roster_native::client::Transport::new()
        .list_users(&brand.sandbox(&brand.admin_token))
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username.as_deref() == Some(username))
}

fn person(name: &str) -> Value {
    json!({"email": format!("{name}@operate-test.org"), "first": "Op", "last": name})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_v3_events_signed_as_hubspot_signs_are_accepted_and_others_refused() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("operate-hubspot");
    let config = configure(&dir.0, &brand, &user_type(&brand).await, "", "");
    let hooks = start_hooks(&config);
    let host = hooks.url.trim_start_matches("http://").to_string();
    // A query with characters HubSpot decodes before signing (and one it does not: %20).
    let path = "/hooks/v1/hubspot?portal=a%3Ab%2Cc&note=%28x%29%20y";
    let direct = format!("https://{host}{path}");
    let batch = |event_id: u64, email: &str, stage: &str| {
        serde_json::to_vec(&json!([{"eventId": event_id, "subscriptionType": "contact.creation",
            "properties": {"email": email, "firstname": "Hub", "lastname": "Spot", "lifecyclestage": stage}}]))
        .unwrap()
    };
    let ms = now() * 1000;

    // Signed over https://{Host}{path} with the first secret: accepted, then a repeat of the
    // same eventId is recognised.
    let body = batch(101, "hub1@operate-test.org", "employee");
    let sig = hubspot_signature(HUBSPOT, &direct, &body, ms);
    let (status, first) = post_hubspot(&hooks, path, &body, &sig, ms).await;
    assert_eq!(status, 202, "{first}");
    let id = first["events"][0]["id"].as_i64().unwrap();
    let (status, again) = post_hubspot(&hooks, path, &body, &sig, ms).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["events"][0]["duplicate"], true);
    assert_eq!(again["events"][0]["id"], id);

    // The second secret of a rotation, and the public_url form (behind a proxy).
    let body = batch(102, "hub2@operate-test.org", "partner");
    let sig = hubspot_signature(HUBSPOT_NEXT, &direct, &body, ms);
    assert_eq!(post_hubspot(&hooks, path, &body, &sig, ms).await.0, 202);
    let body = batch(103, "hub3@operate-test.org", "employee");
    let public =
        "https://roster.example.org/crm/hooks/v1/hubspot?portal=a%3Ab%2Cc&note=%28x%29%20y";
    let sig = hubspot_signature(HUBSPOT, public, &body, ms);
    assert_eq!(post_hubspot(&hooks, path, &body, &sig, ms).await.0, 202);

    // Refused: a wrong secret, the URI signed without HubSpot's decoding, a body changed after
    // signing, a stale or far-future timestamp, seconds instead of milliseconds, no headers.
    let body = batch(104, "hub4@operate-test.org", "employee");
    let refuse = |status: u16, answer: &Value, words: &str| {
        assert_eq!(status, 401, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(words),
            "{answer}"
        );
    };
    let sig = hubspot_signature("ffffffff-wrong-secret-0000000000", &direct, &body, ms);
    let (s, a) = post_hubspot(&hooks, path, &body, &sig, ms).await;
    refuse(s, &a, "matches none of the hook's client secrets");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HUBSPOT.as_bytes());
    let mut raw = format!("POST{direct}").into_bytes();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(ms.to_string().as_bytes());
    let undecoded =
        base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, &raw).as_ref());
    let (s, a) = post_hubspot(&hooks, path, &body, &undecoded, ms).await;
    refuse(s, &a, "matches none");
    let sig = hubspot_signature(HUBSPOT, &direct, &body, ms);
    let (s, a) = post_hubspot(
        &hooks,
        path,
        &batch(104, "mallory@x.org", "employee"),
        &sig,
        ms,
    )
    .await;
    refuse(s, &a, "matches none");
    for stale in [ms - 6 * 60 * 1000, ms + 6 * 60 * 1000] {
        let sig = hubspot_signature(HUBSPOT, &direct, &body, stale);
        let (s, a) = post_hubspot(&hooks, path, &body, &sig, stale).await;
        refuse(s, &a, "more than 5 minutes");
    }
    let sig = hubspot_signature(HUBSPOT, &direct, &body, ms / 1000);
    let (s, a) = post_hubspot(&hooks, path, &body, &sig, ms / 1000).await;
    refuse(s, &a, "more than 5 minutes");
    let bare = reqwest::Client::new()
        .post(format!("{}{path}", hooks.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 401);
    // A Standard Webhooks signature does not open a HubSpot hook.
    let t = now();
    let r = reqwest::Client::new()
        .post(format!("{}/hooks/v1/hubspot", hooks.url))
        .header("webhook-id", "x")
        .header("webhook-timestamp", t.to_string())
        .header("webhook-signature", sign(SECRET, "x", t, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // A contact outside the hook's conditions: kept as skipped, with why, never applied.
    let body = batch(105, "customer@operate-test.org", "customer");
    let sig = hubspot_signature(HUBSPOT, &direct, &body, ms);
    let (status, skipped) = post_hubspot(&hooks, path, &body, &sig, ms).await;
    assert_eq!(status, 202, "{skipped}");
    let skipped_id = skipped["events"][0]["id"].as_i64().unwrap();
    assert_eq!(skipped["events"][0]["status"], "skipped");
    assert!(
        skipped["events"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("/properties/lifecyclestage is \"customer\""),
        "{skipped}"
    );

    // The accepted one is applied.
    let done = reach(&hooks, &brand, &[id], &["done"], Duration::from_secs(30)).await;
    assert_eq!(done[0]["status"], "done", "{done:?}");
    assert!(brand_user(&brand, "hub1@operate-test.org").await.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(event(&hooks, &brand, skipped_id).await["status"], "skipped");
    assert!(brand_user(&brand, "customer@operate-test.org")
        .await
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_hook_keeps_its_events_across_a_restart_and_applies_them_once_resumed() {
    let brand = Server::start(&["--quiet"]);
    let standard_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let dir = Dir::new("operate-pause");
    let config = configure(&dir.0, &brand, &user_type(&brand).await, "", "");
    let mut hooks = start_hooks(&config);

    // Only a Brand Administrator pauses; an unknown hook is named.
    assert_eq!(
        call(&hooks, "POST", "/hooks/v1/crm/pause", None, None)
            .await
            .0,
        401
    );
    let (status, body) = call(
        &hooks,
        "POST",
        "/hooks/v1/crm/pause",
        Some(&standard_token),
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(
        &hooks,
        "POST",
        "/hooks/v1/nope/pause",
        Some(&brand.admin_token),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = call(
        &hooks,
        "POST",
        "/hooks/v1/crm/pause",
        Some(&brand.admin_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["paused"], true);

    // Accepted and kept while paused; nothing sent.
    let (status, accepted) = post_crm(&hooks, "pause-1", &person("pia")).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(event(&hooks, &brand, id).await["status"], "received");
    assert!(brand_user(&brand, "pia@operate-test.org").await.is_none());

    // Killed and started again: still paused.
    hooks.kill_hard();
    let hooks = start_hooks(&config);
    let (_, listed) = call(
        &hooks,
        "GET",
        "/hooks/v1/events",
        Some(&brand.admin_token),
        None,
    )
    .await;
    let crm = listed["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "crm")
        .unwrap()
        .clone();
    assert_eq!(crm["paused"], true, "{listed}");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(event(&hooks, &brand, id).await["status"], "received");
    assert!(brand_user(&brand, "pia@operate-test.org").await.is_none());

    // Resumed: applied.
    let (status, body) = call(
        &hooks,
        "POST",
        "/hooks/v1/crm/resume",
        Some(&brand.admin_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    reach(&hooks, &brand, &[id], &["done"], Duration::from_secs(30)).await;
    assert!(brand_user(&brand, "pia@operate-test.org").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_plans_settled_events_again_against_the_brand_as_it_is_now() {
    let brand = Server::start(&["--quiet"]);
    let standard_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let dir = Dir::new("operate-replay");
    let config = configure(&dir.0, &brand, &user_type(&brand).await, "", "");
    let hooks = start_hooks(&config);
    let before = qualtrics_roster::time::iso_datetime(now() * 1000 - 1000);

    let (_, made) = post_crm(&hooks, "replay-create", &person("ray")).await;
    let made = made["id"].as_i64().unwrap();
    reach(&hooks, &brand, &[made], &["done"], Duration::from_secs(30)).await;
    let mut disable = person("ray");
    disable["action"] = json!("disable");
    let (_, off) = post_crm(&hooks, "replay-disable", &disable).await;
    let off = off["id"].as_i64().unwrap();
    reach(&hooks, &brand, &[off], &["done"], Duration::from_secs(30)).await;
    let ray = brand_user(&brand, "ray@operate-test.org").await.unwrap();
    assert_eq!(ray.account_status.as_deref(), Some("disabled"));

    // Someone re-enables ray in Qualtrics directly.
    let enabled = reqwest::Client::new()
        .put(format!("{}/sandbox/API/v3/users/{}", brand.url, ray.id))
        .header("x-api-token", &brand.admin_token)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert!(enabled.status().is_success());

    // Bad requests are named; only an administrator replays.
    let replay = "/hooks/v1/events/replay";
    let (status, _) = call(
        &hooks,
        "POST",
        replay,
        Some(&standard_token),
        Some(json!({"id": off})),
    )
    .await;
    assert_eq!(status, 403);
    for bad in [
        json!({}),
        json!({"id": off, "from": "2026-01-01"}),
        json!({"from": "yesterday", "to": "today"}),
        json!({"ids": [1]}),
    ] {
        let (status, body) = call(
            &hooks,
            "POST",
            replay,
            Some(&brand.admin_token),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().is_some(), "{body}");
    }
    let (status, _) = call(
        &hooks,
        "POST",
        replay,
        Some(&brand.admin_token),
        Some(json!({"id": 9999})),
    )
    .await;
    assert_eq!(status, 404);
    // The create is superseded by the later disable: replaying it alone would undo nothing
    // it should, so it is refused.
    let (status, body) = call(
        &hooks,
        "POST",
        replay,
        Some(&brand.admin_token),
        Some(json!({"id": made})),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // The disable replayed: planned against ray as he is now (active), so disabled again.
    let (status, body) = call(
        &hooks,
        "POST",
        replay,
        Some(&brand.admin_token),
        Some(json!({"id": off})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"], json!([off]));
    let done = reach(&hooks, &brand, &[off], &["done"], Duration::from_secs(30)).await;
    assert_eq!(done[0]["attempts"], 1, "{done:?}");
    let ray = brand_user(&brand, "ray@operate-test.org").await.unwrap();
    assert_eq!(ray.account_status.as_deref(), Some("disabled"));

    // A time range: both events, in order.
    let after = qualtrics_roster::time::iso_datetime(now() * 1000 + 1000);
    let (status, body) = call(
        &hooks,
        "POST",
        replay,
        Some(&brand.admin_token),
        Some(json!({"from": before, "to": after})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"], json!([made, off]), "{body}");
    reach(
        &hooks,
        &brand,
        &[made, off],
        &["done"],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        brand_user(&brand, "ray@operate-test.org")
            .await
            .unwrap()
            .account_status
            .as_deref(),
        Some("disabled")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_endpoint_shows_the_row_and_its_plan_and_keeps_and_sends_nothing() {
    let brand = Server::start(&["--quiet"]);
    let standard_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let dir = Dir::new("operate-test");
    let config = configure(&dir.0, &brand, &user_type(&brand).await, "", "");
    let hooks = start_hooks(&config);
    let mut tess = person("tess");
    tess["password"] = json!("Never-Shown-1x!");
    // An attribute no one in the brand has yet: the configuration names it, so the hook's
    // plan creates it (as the real run does), with no sheet error.
    tess["cost"] = json!("CC-7");
    let path = "/hooks/v1/crm/test";
    assert_eq!(
        call(&hooks, "POST", path, None, Some(tess.clone())).await.0,
        401
    );
    assert_eq!(
        call(
            &hooks,
            "POST",
            path,
            Some(&standard_token),
            Some(tess.clone())
        )
        .await
        .0,
        403
    );
    let (status, shown) = call(
        &hooks,
        "POST",
        path,
        Some(&brand.admin_token),
        Some(tess.clone()),
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["row"]["username"], "tess@operate-test.org");
    assert_eq!(shown["kind"], "provision");
    assert_eq!(shown["changes"], 1, "{shown}");
    assert_eq!(
        shown["plan"]["rows"].as_array().unwrap().len(),
        1,
        "{shown}"
    );
    assert!(!shown.to_string().contains("Never-Shown"), "{shown}");
    assert_eq!(shown["fileErrors"], json!([]), "{shown}");
    assert!(shown["plan"].to_string().contains("CC-7"), "{shown}");
    // Bad input is named.
    let (status, body) = call(
        &hooks,
        "POST",
        path,
        Some(&brand.admin_token),
        Some(json!({"first": "x"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = call(
        &hooks,
        "POST",
        "/hooks/v1/nope/test",
        Some(&brand.admin_token),
        Some(tess.clone()),
    )
    .await;
    assert_eq!(status, 404);
    // A HubSpot contact outside its hook's conditions: said so, no plan.
    let (status, body) = call(
        &hooks,
        "POST",
        "/hooks/v1/hubspot/test",
        Some(&brand.admin_token),
        Some(json!({"properties": {"email": "c@x.org", "lifecyclestage": "lead"}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["skipped"].as_str().unwrap().contains("lifecyclestage"),
        "{body}"
    );
    // Nothing kept, nothing made.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, listed) = call(
        &hooks,
        "GET",
        "/hooks/v1/events",
        Some(&brand.admin_token),
        None,
    )
    .await;
    assert_eq!(listed["events"], json!([]), "{listed}");
    assert!(brand_user(&brand, "tess@operate-test.org").await.is_none());
}

/// A stand-in alert receiver: answers 500 to the first alert, then 200; keeps what it got.
async fn alert_receiver() -> (
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String)>>>,
) {
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let sink = got.clone();
    let tries = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            let tries = tries.clone();
            async move {
                if tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                sink.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    (common::serve_stand_in(app).await, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_event_is_alerted_signed_and_retried_and_metrics_count_without_names() {
    let brand = Server::start(&["--quiet"]);
    let (port, alerts) = alert_receiver().await;
    let dir = Dir::new("operate-alerts");
    let extra = format!(
        "[alerts]\nurl = \"http://127.0.0.1:{port}/alerts\"\nsecret = \"{ALERT_SECRET}\"\nfirst_delay_seconds = 0.2\n\n[metrics]\nenabled = true\ntoken = \"{METRICS_TOKEN}\"\n"
    );
    let config = configure(&dir.0, &brand, &user_type(&brand).await, "", &extra);
    let hooks = start_hooks(&config);

    let health = reqwest::get(format!("{}/healthz", hooks.url))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    // One applied, one parked at once (the server credential's own account: the policy refuses).
    let (_, ok) = post_crm(&hooks, "alert-ok", &person("alma")).await;
    let ok = ok["id"].as_i64().unwrap();
    let own = json!({"email": "avery.admin@roster-demo.edu", "action": "disable"});
    let (status, parked) = post_crm(&hooks, "alert-own", &own).await;
    assert_eq!(status, 202, "{parked}");
    let parked = parked["id"].as_i64().unwrap();
    reach(&hooks, &brand, &[ok], &["done"], Duration::from_secs(30)).await;
    reach(
        &hooks,
        &brand,
        &[parked],
        &["failed"],
        Duration::from_secs(30),
    )
    .await;

    // The alert came after one refused try, signed with the alerts' secret, naming no one.
    let started = Instant::now();
    let (headers, body) = loop {
        let found = alerts
            .lock()
            .unwrap()
            .iter()
            .find(|(_, b)| b.contains("event.parked"))
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let header = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
    let timestamp: u64 = header("webhook-timestamp").parse().unwrap();
    assert_eq!(
        header("webhook-signature"),
        sign(
            ALERT_SECRET,
            &header("webhook-id"),
            timestamp,
            body.as_bytes()
        )
    );
    let alert: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["type"], "event.parked");
    assert_eq!(alert["data"]["hook"], "crm");
    assert!(
        alert["data"]["events"]
            .as_array()
            .unwrap()
            .contains(&json!(parked)),
        "{alert}"
    );
    assert!(!body.contains("avery"), "{body}");
    let log = hooks.stderr.lock().unwrap().clone();
    assert_eq!(log.matches("alert event.parked").count(), 1, "{log}");

    // Metrics: only with the token; counts, no names.
    let metrics = |url: &str, token: Option<&str>| {
        let mut r = reqwest::Client::new().get(format!("{url}/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(
        metrics(&hooks.url, None).await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        metrics(&hooks.url, Some("wrong-token-0123456789"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let r = metrics(&hooks.url, Some(METRICS_TOKEN)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for line in [
        "roster_hooks_events_accepted_total 2",
        "roster_hooks_events_applied_total 1",
        "roster_hooks_events_parked_total 1",
        "roster_hooks_events_pending 0",
        "roster_hooks_oldest_pending_age_seconds 0",
        "roster_hooks_events{status=\"done\"} 1",
        "roster_hooks_events{status=\"failed\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "{line} in\n{text}"
        );
    }
    assert!(
        text.contains("roster_hooks_qualtrics_responses_total{status=\"200\"}"),
        "{text}"
    );
    assert!(
        !text.contains('@') && !text.contains("alma") && !text.contains("avery"),
        "{text}"
    );
    drop(hooks);

    // Without [metrics], there are none.
    let dir = Dir::new("operate-nometrics");
    let config = configure(&dir.0, &brand, &user_type(&brand).await, "", "");
    let hooks = start_hooks(&config);
    assert_eq!(
        metrics(&hooks.url, Some(METRICS_TOKEN))
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    drop(hooks);
}

/// The error the hooks' server prints when it refuses to start with `config`.
fn refused_start(config: &Path) -> String {
    let www = Dir::new("operate-www");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster-server"))
        .args(["--port", "0", "--quiet", "--www"])
        .arg(&www.0)
        .arg("--hooks-config")
        .arg(config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "it started");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_kept_hashed_passwords_not_at_all_and_old_events_are_deleted() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("operate-retention");
    let ut = user_type(&brand).await;
    let config = configure(&dir.0, &brand, &ut, "", "[store.x]\n");
    // (a section the store does not know is refused, as is a retention under three days)
    assert!(refused_start(&config).contains("unknown field"));
    let db = dir.0.join("events.sqlite");
    let short = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[store.x]\n", "")
        .replace("[store]\n", "[store]\nretention_days = 2\n");
    common::write_private(&config, &short);
    let refused = refused_start(&config);
    assert!(
        refused.contains("retention_days is 2: at least 3"),
        "{refused}"
    );
    let config = configure(&dir.0, &brand, &ut, "", "");
    let mut hooks = start_hooks(&config);

    let mut rita = person("rita");
    rita["password"] = json!("Secret-Passw0rd-Kept?");
    let (status, made) = post_crm(&hooks, "msg-secret-sender-id", &rita).await;
    assert_eq!(status, 202, "{made}");
    let id = made["id"].as_i64().unwrap();
    reach(&hooks, &brand, &[id], &["done"], Duration::from_secs(30)).await;
    // A repeat is still recognised by the hash.
    let (status, again) = post_crm(&hooks, "msg-secret-sender-id", &rita).await;
    assert_eq!((status, again["id"].as_i64()), (200, Some(id)), "{again}");
    hooks.kill_hard();

    let sqlite = rusqlite::Connection::open(&db).unwrap();
    let (sender, row): (String, String) = sqlite
        .query_row(
            "SELECT sender_id, row FROM events WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, b"h:msg-secret-sender-id");
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sender, format!("sha256:{hex}"));
    assert!(!row.contains("Secret-Passw0rd"), "{row}");
    assert!(
        row.contains("rita@operate-test.org"),
        "the rest of the row is kept: {row}"
    );
    // Thirty-one days later (the default retention is 30), it is deleted at start.
    sqlite
        .execute(
            "UPDATE events SET received_at = received_at - ?1",
            [31i64 * 86_400_000],
        )
        .unwrap();
    drop(sqlite);
    let hooks = start_hooks(&config);
    let started = Instant::now();
    loop {
        let (status, _) = call(
            &hooks,
            "GET",
            &format!("/hooks/v1/events/{id}"),
            Some(&brand.admin_token),
            None,
        )
        .await;
        if status == 404 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = hooks.stderr.lock().unwrap().clone();
    assert!(log.contains("1 events older than 30 days deleted"), "{log}");
    let sqlite = rusqlite::Connection::open(&db).unwrap();
    let left: i64 = sqlite
        .query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "its journal too");
}
