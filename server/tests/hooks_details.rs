//! An event's details and Retry only where it can succeed (issue 29.9), over real loopback
//! HTTP: a sandbox brand in one `roster-server`, the hooks in another. An event Qualtrics
//! refuses (a user type the brand does not have: 400) is parked at once, not retryable, and a
//! retry of it is answered 409 with the refusal; an event that fails from an outage (every
//! request answered 503) keeps Retry, which applies it once the brand answers again. Each
//! event's details show its mapped row, its plan row and its attempts with Qualtrics' answers,
//! to the brand's administrators only. A 408 is sent again within the try; an outage leaves
//! each event of a burst one attempt per try.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tempdir::Dir;
use common::{user_type, Server};
use roster_server::hooks::verify::sign;
use serde_json::{json, Value};

const SECRET: &str = "whsec_ZGV0YWlscyBvZiBhbiBldmVudCwgY3JtIGhvb2s=";
const TYPO_SECRET: &str = "whsec_dHlwbyBob29rOiBhIHVzZXIgdHlwZSB0aGF0IGlzIGdvbmU=";
/// A user type id the brand does not have: Qualtrics refuses the account with 400.
const GONE_TYPE: &str = "UT_RetiredType0000";

/// Hook `crm` (a user type the brand has) and hook `typo` (one it does not), each signed
/// with its own secret; one try per event, so an outage parks it at once.
fn configure(dir: &Path, brand: &Server, user_type: &str) -> PathBuf {
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
attempts = 1
first_delay_seconds = 0.2

[hooks.crm]
signing_secrets = ["{SECRET}"]
[hooks.crm.fields]
Username = "/email"
"First name" = "/first"
"Last name" = "/last"
Email = "/email"
Password = "/password"
"User type" = "{user_type}"

[hooks.typo]
signing_secrets = ["{TYPO_SECRET}"]
[hooks.typo.fields]
Username = "/email"
"First name" = "/first"
"Last name" = "/last"
Email = "/email"
"User type" = "{GONE_TYPE}"
"#,
            url = brand.url,
            creds = creds.display(),
            db = dir.join("events.sqlite").display(),
            audit = dir.join("audit.jsonl").display(),
        ),
    );
    config
}

/// Posts `body` to `hook`, signed (Standard Webhooks) with `secret` as message `id`: its id.
async fn post(hooks: &Server, hook: &str, secret: &str, id: &str, body: &Value) -> i64 {
    let bytes = serde_json::to_vec(body).unwrap();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = reqwest::Client::new()
        .post(format!("{}/hooks/v1/{hook}", hooks.url))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", t.to_string())
        .header("webhook-signature", sign(secret, id, t, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// `method` on `path` of the hooks' server with `token` as X-API-TOKEN (none: no header).
async fn call(hooks: &Server, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", hooks.url);
    let mut r = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(t) = token {
        r = r.header("x-api-token", t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Waits until event `id` is done, or failed and parked: its details.
async fn ended(hooks: &Server, brand: &Server, id: i64, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let path = format!("/hooks/v1/events/{id}");
        let (status, e) = call(hooks, "GET", &path, Some(&brand.admin_token)).await;
        assert_eq!(status, 200, "{e}");
        if e["status"] == "done" || (e["status"] == "failed" && e["nextAttemptAt"].is_null()) {
            return e;
        }
        assert!(started.elapsed() < within, "event {id} still running: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether attempt `a` is the request creating an account (`POST …/API/v3/users`).
fn creates(a: &Value) -> bool {
    a["request"]
        .as_str()
        .is_some_and(|r| r.starts_with("POST ") && r.ends_with("/API/v3/users"))
}

/// Sets the sandbox's injected faults.
async fn faults(brand: &Server, faults: Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/sandbox/control/faults", brand.url))
        .header("x-api-token", &brand.admin_token)
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_says_what_to_fix_and_is_not_retried_while_an_outage_is_retried_with_every_attempt_shown(
) {
    let brand = Server::start(&["--quiet"]);
    let standard_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let dir = Dir::new("hooks-details");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);

    // Refused by Qualtrics: parked after one try, with Qualtrics' message, and not retryable.
    let person = |name: &str| json!({"email": format!("{name}@details-test.org"), "first": "Det", "last": name, "password": "Pa55-word-never-shown"});
    let typo = post(&hooks, "typo", TYPO_SECRET, "typo-1", &person("tia")).await;
    let refused = ended(&hooks, &brand, typo, Duration::from_secs(30)).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(refused["retryable"], false, "{refused}");
    let reason = refused["reason"].as_str().unwrap();
    // Its details: the mapped row, its plan row, the request and Qualtrics' answer.
    assert_eq!(refused["row"]["Username"], "tia@details-test.org");
    assert_eq!(refused["row"]["User type"], GONE_TYPE);
    assert!(
        refused["plan"]["Plan"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("create"),
        "{refused}"
    );
    let history = refused["history"].as_array().unwrap();
    let sent = history
        .iter()
        .find(|a| creates(a))
        .unwrap_or_else(|| panic!("the create request: {history:?}"));
    // A refusal: a 4xx that is not a rate limit (its wording is Qualtrics', not ours to test),
    // kept as the attempt's answer and shown as what to fix.
    let code = sent["status"].as_u64().unwrap();
    assert!((400..500).contains(&code) && code != 429, "{sent}");
    let answer = sent["message"].as_str().unwrap();
    assert!(!answer.is_empty(), "{sent}");
    assert!(reason.contains(answer), "says what to fix: {reason}");
    assert_eq!(sent["tried"], 1);
    // Refused again on Retry, with the refusal's words; still parked, nothing sent.
    let path = format!("/hooks/v1/events/{typo}/retry");
    let (status, body) = call(&hooks, "POST", &path, Some(&brand.admin_token)).await;
    assert_eq!(status, 409, "{body}");
    let said = body["error"].as_str().unwrap();
    assert!(said.contains("refused") && said.contains(answer), "{said}");
    assert_eq!(
        ended(&hooks, &brand, typo, Duration::from_secs(5)).await["history"],
        refused["history"]
    );

    // Only the brand's administrators see the details: no token 401, another user's 403.
    let path = format!("/hooks/v1/events/{typo}");
    let (status, body) = call(&hooks, "GET", &path, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.get("history").is_none() && body.get("row").is_none());
    let (status, body) = call(&hooks, "GET", &path, Some(&standard_token)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.get("history").is_none() && body.get("row").is_none());
    let retry = format!("/hooks/v1/events/{typo}/retry");
    assert_eq!(call(&hooks, "POST", &retry, None).await.0, 401);

    // An outage: every request answered 503. Parked after its one try, and retryable.
    faults(&brand, json!({"error503": 1.0})).await;
    let outage = post(&hooks, "crm", SECRET, "crm-1", &person("otto")).await;
    let failed = ended(&hooks, &brand, outage, Duration::from_secs(90)).await;
    faults(&brand, json!({})).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["retryable"], true, "{failed}");
    let history = failed["history"].as_array().unwrap();
    // The brand could not be read: one attempt for the try, the last resend with its answer,
    // saying how many were sent (not one line per resend, nor per progress callback).
    let read: Vec<&Value> = history.iter().filter(|a| a["status"] == 503).collect();
    assert_eq!(read.len(), 1, "{history:?}");
    let resends = read[0]["attempt"].as_u64().unwrap();
    assert!(resends >= 2, "{history:?}");
    assert!(
        read[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("the last of {resends} failed requests")),
        "{history:?}"
    );
    assert!(
        history.iter().all(|a| a["tried"] == 1),
        "one try: {history:?}"
    );
    assert_eq!(failed["row"]["Password"], "(given, not shown)", "{failed}");
    let shown = failed.to_string();
    assert!(!shown.contains("Pa55-word"), "never the password: {shown}");
    assert!(!shown.contains(&brand.admin_token), "never a token");

    // Retry: applied now that the brand answers, its second try beside the first.
    let retry = format!("/hooks/v1/events/{outage}/retry");
    let (status, body) = call(&hooks, "POST", &retry, Some(&brand.admin_token)).await;
    assert_eq!(status, 202, "{body}");
    let done = ended(&hooks, &brand, outage, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["retryable"], false, "nothing left to retry");
    let history = done["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|a| a["tried"] == 2 && creates(a) && a["status"] == 200),
        "{history:?}"
    );
    assert!(history
        .iter()
        .any(|a| a["tried"] == 1 && a["status"] == 503));
    let log = hooks.stderr.lock().unwrap().clone();
    assert!(!log.contains("Pa55-word"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_408_is_sent_again_and_applied_and_an_outage_is_one_attempt_per_event_per_try() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("hooks-408");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let person = |name: &str| json!({"email": format!("{name}@timeout-test.org"), "first": "Tim", "last": name, "password": "Pa55-word-never-shown"});

    // Qualtrics' edge times out the create once (408): sent again within the same try, applied.
    faults(&brand, json!({"timeouts408": 1})).await;
    let id = post(&hooks, "crm", SECRET, "crm-408", &person("tess")).await;
    let done = ended(&hooks, &brand, id, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["retryable"], false, "{done}");
    let history = done["history"].as_array().unwrap();
    let creates: Vec<&Value> = history.iter().filter(|a| creates(a)).collect();
    assert_eq!(
        creates.len(),
        2,
        "the 408, then the create again: {history:?}"
    );
    assert_eq!(
        (
            creates[0]["status"].as_u64(),
            creates[0]["attempt"].as_u64()
        ),
        (Some(408), Some(1))
    );
    assert_eq!(
        (
            creates[1]["status"].as_u64(),
            creates[1]["attempt"].as_u64()
        ),
        (Some(200), Some(2))
    );
    assert!(history.iter().all(|a| a["tried"] == 1), "{history:?}");

    // An outage (every request 503) while a burst of 40 is tried: each event is parked
    // retryable with one attempt for its try (the brand could not be read), not one per
    // resend per progress callback.
    faults(&brand, json!({"error503": 1.0})).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(
            post(
                &hooks,
                "crm",
                SECRET,
                &format!("crm-out-{n}"),
                &person(&format!("out{n}")),
            )
            .await,
        );
    }
    let mut histories = Vec::new();
    for id in &ids {
        let failed = ended(&hooks, &brand, *id, Duration::from_secs(90)).await;
        assert_eq!(failed["status"], "failed", "{failed}");
        assert_eq!(failed["retryable"], true, "{failed}");
        histories.push(failed["history"].as_array().unwrap().clone());
    }
    faults(&brand, json!({})).await;
    for history in &histories {
        assert_eq!(history.len(), 1, "one attempt for one try: {history:?}");
        assert_eq!(history[0]["tried"], 1);
        assert_eq!(history[0]["status"], 503, "{history:?}");
        let said = history[0]["message"].as_str().unwrap_or_default();
        assert!(said.contains("failed requests reading the brand"), "{said}");
    }
    // Retried by hand, each applied now; its second try beside the first.
    let retry = format!("/hooks/v1/events/{}/retry", ids[0]);
    let (status, body) = call(&hooks, "POST", &retry, Some(&brand.admin_token)).await;
    assert_eq!(status, 202, "{body}");
    let done = ended(&hooks, &brand, ids[0], Duration::from_secs(30)).await;
    assert_eq!(done["status"], "done", "{done}");
    let history = done["history"].as_array().unwrap();
    assert_eq!(
        history.iter().filter(|a| a["tried"] == 1).count(),
        1,
        "{history:?}"
    );
}
