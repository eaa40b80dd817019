//! CRM / HR hooks over real loopback HTTP: a sandbox brand in one `roster-server`, the hooks in
//! another (so the hooks' server can be killed with SIGKILL and started again while the brand
//! keeps its state). Signatures, mapping errors, duplicates, one account's events in arrival
//! order, a role turned into attributes, the events' view, and a burst killed and restarted.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tempdir::Dir;
use common::{get_json, user_type, Server};
use roster_server::hooks::verify::sign;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEXT_SECRET: &str = "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=";
const KEY: &str = "dynamics-key-0123456789abcdef";
/// Dynamics 365's own key (each hook's keys are its own).
const D365_KEY: &str = "d365-webhook-key-fedcba9876543210";

/// Writes the credentials file and the hooks configuration for `brand` into `dir`.
fn configure(dir: &Path, brand: &Server, user_type: &str) -> PathBuf {
    configure_with(dir, brand, user_type, "")
}

/// [`configure`], with `extra` (more hooks, in TOML) at the end of the configuration.
fn configure_with(dir: &Path, brand: &Server, user_type: &str, extra: &str) -> PathBuf {
    let creds = common::oauth_credentials(dir, brand);
    std::fs::write(
        dir.join("roles.csv"),
        "Role,Attribute,Operator,Value\nSeattle Team,Hotel,In,Seattle\n",
    )
    .unwrap();
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
attempts = 3
first_delay_seconds = 0.2

[hooks.crm]
signing_secrets = ["{SECRET}", "{NEXT_SECRET}"]
roles = "{roles}"
[hooks.crm.fields]
Username = "/email"
"First name" = "/first"
"Last name" = "/last"
Email = "/email"
"User type" = "{user_type}"
Action = "/action"
Role = "/dataAccess"
[hooks.crm.attributes]
Region = "/region"

[hooks.dynamics]
key_header = "x-roster-key"
keys = ["{KEY}"]
event_id = "/eventId"
[hooks.dynamics.fields]
Username = "/user/email"
"First name" = "/user/first"
"Last name" = "/user/last"
Email = "/user/email"
"User type" = "{user_type}"

[hooks.d365]
key_query = "code"
keys = ["{D365_KEY}"]
[hooks.d365.fields]
Username = "/InputParameters/[key=Target]/value/Attributes/[key=emailaddress1]/value"
"First name" = "/InputParameters/[key=Target]/value/Attributes/[key=firstname]/value"
"Last name" = "/InputParameters/[key=Target]/value/Attributes/[key=lastname]/value"
Email = "/InputParameters/[key=Target]/value/Attributes/[key=emailaddress1]/value"
"User type" = "{user_type}"
{extra}
"#,
            url = brand.url,
            creds = creds.display(),
            db = dir.join("events.sqlite").display(),
            audit = dir.join("audit.jsonl").display(),
            roles = dir.join("roles.csv").display(),
        ),
    );
    config
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Posts `body` to hook `crm`, signed with `secret` as message `id` at `timestamp`.
async fn post_signed(
    hooks: &Server,
    secret: &str,
    id: &str,
    timestamp: u64,
    body: &Value,
) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/hooks/v1/crm", hooks.url))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sign(secret, id, timestamp, &bytes))
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn person(name: &str) -> Value {
    json!({"email": format!("{name}@hooks-test.org"), "first": "Hook", "last": name})
}

/// An event's state, as the page's view asks for it (with the brand's admin token).
async fn event(hooks: &Server, brand: &Server, id: i64) -> Value {
    get_json(
        &format!("{}/hooks/v1/events/{id}", hooks.url),
        &brand.admin_token,
    )
    .await
}

/// Waits until every event in `ids` has ended (done, or failed and parked).
async fn settled(hooks: &Server, brand: &Server, ids: &[i64], within: Duration) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        for id in ids {
            all.push(event(hooks, brand, *id).await);
        }
        let ended = all.iter().all(|e| {
            e["status"] == "done" || (e["status"] == "failed" && e["nextAttemptAt"].is_null())
        });
        if ended {
            return all;
        }
        assert!(started.elapsed() < within, "events still running: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn users_named(brand: &Server, prefix: &str) -> Vec<Value> {
    let transport = roster_native::client::Transport::new();
    transport
        .list_users(&brand.sandbox(&brand.admin_token))
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.username.as_deref().is_some_and(|n| n.starts_with(prefix)))
        .map(|u| serde_json::to_value(u).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_or_keyed_events_are_accepted_and_a_repeat_is_not_run_twice() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("hooks-auth");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();

    // Valid, then the same message again (a sender's retry, or a replay): one event.
    let (status, first) = post_signed(&hooks, SECRET, "msg_a", t, &person("ann")).await;
    assert_eq!(status, 202, "{first}");
    let (status, again) = post_signed(&hooks, SECRET, "msg_a", t, &person("ann")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], first["id"]);
    // The second secret of a rotation signs as well.
    let (status, _) = post_signed(&hooks, NEXT_SECRET, "msg_b", t, &person("bob")).await;
    assert_eq!(status, 202);
    // A wrong secret, an old timestamp, a body changed after signing: 401, nothing kept.
    let (status, body) =
        post_signed(&hooks, "whsec_d3Jvbmcgc2VjcmV0", "msg_c", t, &person("cy")).await;
    assert_eq!(status, 401);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("no signature matches"));
    let (status, body) = post_signed(&hooks, SECRET, "msg_d", t - 600, &person("dee")).await;
    assert_eq!(status, 401);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("more than 5 minutes"));
    let bytes = serde_json::to_vec(&person("eve")).unwrap();
    let forged = reqwest::Client::new()
        .post(format!("{}/hooks/v1/crm", hooks.url))
        .header("webhook-id", "msg_e")
        .header("webhook-timestamp", t.to_string())
        .header("webhook-signature", sign(SECRET, "msg_e", t, &bytes))
        .body(serde_json::to_vec(&person("mallory")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    // No signature at all.
    let bare = reqwest::Client::new()
        .post(format!("{}/hooks/v1/crm", hooks.url))
        .json(&person("fay"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 401);

    // A sender that cannot sign: its key header, and the event's own id for repeats.
    let keyed = |key: &str, body: Value| {
        reqwest::Client::new()
            .post(format!("{}/hooks/v1/dynamics", hooks.url))
            .header("x-roster-key", key)
            .json(&body)
            .send()
    };
    let dyn_event = json!({"eventId": "dyn-1", "user": {"email": "dyn@hooks-test.org", "first": "Dy", "last": "Namics"}});
    assert_eq!(
        keyed(KEY, dyn_event.clone())
            .await
            .unwrap()
            .status()
            .as_u16(),
        202
    );
    assert_eq!(
        keyed(KEY, dyn_event.clone())
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        keyed("wrong-key", dyn_event)
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    // Dynamics 365's webhook step with WebhookKey (?code=KEY) and its RemoteExecutionContext,
    // repeated with the same x-request-id.
    let context = json!({"MessageName": "Create", "PrimaryEntityName": "contact",
        "InputParameters": [{"key": "Target", "value": {"LogicalName": "contact", "Attributes": [
            {"key": "firstname", "value": "Dee"}, {"key": "lastname", "value": "Ynamics"},
            {"key": "emailaddress1", "value": "d365@hooks-test.org"}]}}]});
    let d365 = |code: &str| {
        reqwest::Client::new()
            .post(format!("{}/hooks/v1/d365?code={code}", hooks.url))
            .header("x-request-id", "6f1c-request")
            .json(&context)
            .send()
    };
    assert_eq!(d365(D365_KEY).await.unwrap().status().as_u16(), 202);
    assert_eq!(d365(D365_KEY).await.unwrap().status().as_u16(), 200);
    assert_eq!(d365("nope").await.unwrap().status().as_u16(), 401);
    // Another hook's key is not this one's.
    assert_eq!(d365(KEY).await.unwrap().status().as_u16(), 401);

    // The refusals are logged, never with a secret.
    let log = hooks.stderr.lock().unwrap().clone();
    assert!(log.contains("event refused"), "{log}");
    for secret in [SECRET, NEXT_SECRET, KEY, D365_KEY, "wrong-key"] {
        assert!(!log.contains(secret));
    }

    // The events' view wants the brand's own token.
    let list = |token: Option<&str>| {
        let mut r = reqwest::Client::new().get(format!("{}/hooks/v1/events", hooks.url));
        if let Some(t) = token {
            r = r.header("x-api-token", t);
        }
        r.send()
    };
    assert_eq!(list(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(
        list(Some("not-a-token")).await.unwrap().status().as_u16(),
        401
    );
    let listed: Value = list(Some(&brand.admin_token))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["events"].as_array().unwrap().len(), 4, "{listed}");
    let ids: Vec<i64> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let ended = settled(&hooks, &brand, &ids, Duration::from_secs(30)).await;
    assert!(ended.iter().all(|e| e["status"] == "done"), "{ended:?}");
    // Each account made once.
    assert_eq!(users_named(&brand, "ann@hooks-test.org").await.len(), 1);
    assert_eq!(users_named(&brand, "dyn@hooks-test.org").await.len(), 1);
    assert_eq!(users_named(&brand, "d365@hooks-test.org").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_be_mapped_is_refused_naming_the_field() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("hooks-map");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    let (status, body) = post_signed(
        &hooks,
        SECRET,
        "m1",
        t,
        &json!({"first": "No", "last": "Email"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "/email");
    assert!(
        body["expected"].as_str().unwrap().contains("username"),
        "{body}"
    );
    let (status, body) = post_signed(
        &hooks,
        SECRET,
        "m2",
        t,
        &json!({"email": "a@hooks-test.org", "dataAccess": "Nowhere"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "/dataAccess");
    assert!(
        body["expected"].as_str().unwrap().contains("Seattle Team"),
        "{body}"
    );
    let (status, body) = post_signed(
        &hooks,
        SECRET,
        "m3",
        t,
        &json!({"email": "a@hooks-test.org", "action": "obliterate"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "/action");
    // A list with one bad event keeps none of them, and says which.
    let (status, body) = post_signed(
        &hooks,
        SECRET,
        "m4",
        t,
        &json!([person("ok1"), {"first": "x"}]),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["index"], 1);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("events[1]: /email"));
    let listed: Value = get_json(
        &format!("{}/hooks/v1/events", hooks.url),
        &brand.admin_token,
    )
    .await;
    assert_eq!(listed["events"], json!([]), "nothing kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_becomes_the_attributes_of_its_rule_and_one_accounts_events_apply_in_order() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("hooks-order");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    // Create with a role, then disable, then enable again, posted back to back: applied in
    // arrival order, the account ends active (disabled then enabled), in role Seattle Team.
    let mut create = person("sea");
    create["dataAccess"] = json!("Seattle Team");
    create["region"] = json!("West");
    let mut ids = Vec::new();
    for (id, body) in [
        ("o1", create),
        (
            "o2",
            json!({"email": "sea@hooks-test.org", "action": "disable"}),
        ),
        (
            "o3",
            json!({"email": "sea@hooks-test.org", "action": "enable"}),
        ),
    ] {
        let (status, v) = post_signed(&hooks, SECRET, id, t, &body).await;
        assert_eq!(status, 202, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    let ended = settled(&hooks, &brand, &ids, Duration::from_secs(60)).await;
    assert!(ended.iter().all(|e| e["status"] == "done"), "{ended:?}");
    assert!(
        ended[0]["outcome"]["message"]
            .as_str()
            .unwrap()
            .contains("created; attributes set"),
        "{}",
        ended[0]
    );
    let sea = users_named(&brand, "sea@hooks-test.org").await;
    assert_eq!(sea.len(), 1);
    assert_eq!(
        sea[0]["accountStatus"], "active",
        "disable then enable, in that order"
    );
    let state: Value = get_json(
        &format!("{}/sandbox/control/state", brand.url),
        &brand.admin_token,
    )
    .await;
    let seattle = state["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Seattle Team")
        .unwrap();
    let user_id = sea[0]["id"].as_str().unwrap();
    assert!(
        seattle["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["userId"] == user_id),
        "the rule Hotel In Seattle puts the new account in Seattle Team"
    );
    // The audit log holds the hook runs' requests.
    let audit = std::fs::read_to_string(dir.0.join("audit.jsonl")).unwrap();
    assert!(audit
        .lines()
        .any(|l| l.contains("\"method\":\"POST\"") && l.contains("/users")));
    assert!(!audit.contains(&brand.oauth_client.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_events_killed_mid_way_and_restarted_applies_each_exactly_once() {
    let brand = Server::start(&["--quiet", "--rate-limit-scale", "20"]);
    let dir = Dir::new("hooks-kill");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let args = ["--quiet", "--hooks-config", config.to_str().unwrap()];
    let mut hooks = Server::start_plain(&args);
    let t = now();
    let body = |i: usize| person(&format!("burst{i:04}"));
    // The sender posts 1,000 events, 20 at a time; the hooks' server is killed (SIGKILL) after
    // 400 were accepted.
    let mut accepted: Vec<(usize, i64)> = Vec::new();
    let mut next = 0;
    while next < 1000 && accepted.len() < 400 {
        let mut batch = tokio::task::JoinSet::new();
        for i in next..(next + 20).min(1000) {
            let hooks_url = hooks.url.clone();
            let event = body(i);
            batch.spawn(async move {
                let bytes = serde_json::to_vec(&event).unwrap();
                let id = format!("burst-{i}");
                let r = reqwest::Client::new()
                    .post(format!("{hooks_url}/hooks/v1/crm"))
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", t.to_string())
                    .header("webhook-signature", sign(SECRET, &id, t, &bytes))
                    .body(bytes)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap();
                (i, status, v["id"].as_i64())
            });
        }
        while let Some(done) = batch.join_next().await {
            let (i, status, id) = done.unwrap();
            assert_eq!(status, 202);
            accepted.push((i, id.unwrap()));
        }
        next += 20;
    }
    hooks.kill_hard();
    drop(hooks);
    // Started again on the same store: every accepted event is still there.
    let hooks = Server::start_plain(&args);
    // The sender retries what it had not sent yet, and (not knowing) some it had.
    for i in 380..1000 {
        let (status, v) = post_signed(&hooks, SECRET, &format!("burst-{i}"), t, &body(i)).await;
        assert!(status == 202 || status == 200, "{status} {v}");
        if i >= 400 && status == 202 {
            accepted.push((i, v["id"].as_i64().unwrap()));
        }
    }
    let ids: Vec<i64> = accepted.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), 1000);
    let ended = settled(&hooks, &brand, &ids, Duration::from_secs(240)).await;
    let not_done: Vec<&Value> = ended.iter().filter(|e| e["status"] != "done").collect();
    assert!(not_done.is_empty(), "{not_done:?}");
    let made = users_named(&brand, "burst").await;
    assert_eq!(made.len(), 1000, "each account made exactly once");
}

/// The sandbox's counters: (API requests, OAuth token requests).
async fn counts(brand: &Server) -> (u64, u64) {
    let stats = brand.stats().await;
    (
        stats["requests"].as_u64().unwrap(),
        stats["tokenRequests"].as_u64().unwrap(),
    )
}

/// Waits until the sandbox has seen more than `tokens` OAuth token requests (a hooks server's
/// worker connecting), then until its requests stop changing.
async fn after_login(brand: &Server, tokens: u64) -> (u64, u64) {
    let started = Instant::now();
    loop {
        let now = counts(brand).await;
        if now.1 > tokens {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let later = counts(brand).await;
            if later == now {
                return now;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no login");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `method` on `path` of the hooks' server with `token` (none: no token header).
async fn with_token(hooks: &Server, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_for_the_brands_administrators_and_bad_tokens_never_cost_a_login() {
    let brand = Server::start(&["--quiet"]);
    let standard_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let dir = Dir::new("hooks-viewers");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let (_, tokens_before) = counts(&brand).await;
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let (status, created) = post_signed(&hooks, SECRET, "v1", now(), &person("vic")).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_i64().unwrap();
    let ended = settled(&hooks, &brand, &[id], Duration::from_secs(30)).await;
    assert_eq!(ended[0]["status"], "done", "{ended:?}");
    let (requests, tokens) = counts(&brand).await;
    assert_eq!(tokens, tokens_before + 1, "the worker's own login only");

    // No token, or tokens Qualtrics does not know: 401, each asked of Qualtrics once however
    // often it comes (here 5 distinct tokens in 25 requests, 5 at a time), and never a login
    // of the server's own credential.
    assert_eq!(
        with_token(&hooks, "GET", "/hooks/v1/events", None).await.0,
        401
    );
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..25 {
        let url = hooks.url.clone();
        flood.spawn(async move {
            reqwest::Client::new()
                .get(format!("{url}/hooks/v1/events"))
                .header("x-api-token", format!("not-a-token-{}", i % 5))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = flood.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    assert_eq!(
        counts(&brand).await,
        (requests + 5, tokens),
        "one whoami per distinct token, no login"
    );

    // A valid token of a user who is not a Brand Administrator: 403 on every events endpoint.
    for (method, path) in [
        ("GET", "/hooks/v1/events".to_string()),
        ("GET", format!("/hooks/v1/events/{id}")),
        ("POST", format!("/hooks/v1/events/{id}/retry")),
    ] {
        let (status, body) = with_token(&hooks, method, &path, Some(&standard_token)).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("Brand Administrators only"),
            "{body}"
        );
    }
    // The administrator's token: the events (the brand known from the worker's login).
    let (status, listed) =
        with_token(&hooks, "GET", "/hooks/v1/events", Some(&brand.admin_token)).await;
    assert_eq!(status, 200);
    assert_eq!(listed["events"][0]["id"], id);
    assert_eq!(
        counts(&brand).await.1,
        tokens,
        "no login of the server's credential for the viewers"
    );
    drop(hooks);

    // With the server's credential refused (its OAuth client revoked), bad tokens still cost
    // no login; an administrator's is answered 503, trying the credential once in 30 s.
    let revoke = reqwest::Client::new()
        .put(format!("{}/sandbox/control/oauth", brand.url))
        .header("x-api-token", &brand.admin_token)
        .json(&json!({"revokeClient": brand.oauth_client.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status().as_u16(), 204);
    let dir = Dir::new("hooks-viewers-revoked");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let (_, tokens_before) = counts(&brand).await;
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let (requests, tokens) = after_login(&brand, tokens_before).await;
    for i in 0..10 {
        let token = format!("bad-{}", i % 2);
        assert_eq!(
            with_token(&hooks, "GET", "/hooks/v1/events", Some(&token))
                .await
                .0,
            401
        );
    }
    let (status, _) = with_token(&hooks, "GET", "/hooks/v1/events", Some(&standard_token)).await;
    assert_eq!(status, 403);
    assert_eq!(counts(&brand).await, (requests + 3, tokens));
    for _ in 0..3 {
        let (status, body) =
            with_token(&hooks, "GET", "/hooks/v1/events", Some(&brand.admin_token)).await;
        assert_eq!(status, 503, "{body}");
    }
    assert_eq!(
        counts(&brand).await.1,
        tokens + 1,
        "one try of the server's credential"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_sets_only_allowed_user_types_and_never_an_administrators() {
    let brand = Server::start(&["--quiet"]);
    let allowed = user_type(&brand).await;
    let dir = Dir::new("hooks-types");
    let hr = format!(
        r#"
[hooks.hr]
signing_secrets = ["whsec_aHIncyBvd24gc2lnbmluZyBzZWNyZXQ="]
user_types = ["{allowed}"]
[hooks.hr.fields]
Username = "/email"
"First name" = "/first"
"Last name" = "/last"
Email = "/email"
"User type" = "/userType"
"#
    );
    let config = configure_with(&dir.0, &brand, &allowed, &hr);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    let post_hr = |id: &'static str, body: Value| {
        let bytes = serde_json::to_vec(&body).unwrap();
        let secret = "whsec_aHIncyBvd24gc2lnbmluZyBzZWNyZXQ=";
        reqwest::Client::new()
            .post(format!("{}/hooks/v1/hr", hooks.url))
            .header("webhook-id", id)
            .header("webhook-timestamp", t.to_string())
            .header("webhook-signature", sign(secret, id, t, &bytes))
            .body(bytes)
            .send()
    };
    let typed = |name: &str, user_type: &str| {
        let mut p = person(name);
        p["userType"] = json!(user_type);
        p
    };
    let r = post_hr("t1", typed("typed", &allowed)).await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let r = post_hr("t2", typed("other", "UT_notInTheList0"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "/userType", "{body}");
    assert!(
        body["expected"].as_str().unwrap().contains(&allowed),
        "{body}"
    );
    for (id, admin) in [("t3", "UT_BRANDADMIN"), ("t4", "ut_brandadmin")] {
        let r = post_hr(id, typed("boss", admin)).await.unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["field"], "/userType");
        assert!(
            body["expected"]
                .as_str()
                .unwrap()
                .contains("never creates or promotes a Brand Administrator"),
            "{body}"
        );
    }
    // A hook with a fixed type ignores whatever type the event names.
    let (status, fixed) =
        post_signed(&hooks, SECRET, "t5", t, &typed("fixed", "UT_BRANDADMIN")).await;
    assert_eq!(status, 202, "{fixed}");
    let ids = [fixed["id"].as_i64().unwrap()];
    let ended = settled(&hooks, &brand, &ids, Duration::from_secs(30)).await;
    assert_eq!(ended[0]["status"], "done", "{ended:?}");
    let made = users_named(&brand, "fixed@hooks-test.org").await;
    assert_eq!(made[0]["userType"], json!(allowed));
    assert!(users_named(&brand, "boss@").await.is_empty());
    assert!(users_named(&brand, "other@").await.is_empty());
    // A configuration that names the administrator's type, fixed or allowed: no server.
    let hr = "[hooks.hr]\nsigning_secrets = [\"whsec_aHIncyBvd24gc2lnbmluZyBzZWNyZXQ=\"]\n";
    for (tag, admin) in [
        ("fixed", format!("{hr}[hooks.hr.fields]\nUsername = \"/email\"\n\"User type\" = \"UT_BRANDADMIN\"\n")),
        ("listed", format!("{hr}user_types = [\"UT_brandAdmin\"]\n[hooks.hr.fields]\nUsername = \"/email\"\n\"User type\" = \"/type\"\n")),
    ] {
        let dir = Dir::new("hooks-types-refused");
        let config = configure_with(&dir.0, &brand, &allowed, &admin);
        let why = refused_start(&config);
        assert!(
            why.contains("hook \"hr\"")
                && why.contains("never creates or promotes a Brand Administrator"),
            "{tag}: {why}"
        );
    }
}

/// Starts `roster-server --hooks-config config`, which must refuse to start: its stderr. (A
/// server still running after 15 s has started: killed, and the test fails.)
fn refused_start(config: &Path) -> String {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster-server"))
        .args(["--port", "0", "--quiet", "--hooks-config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started with {}", config.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "the server started: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_sharing_a_secret_or_a_key_do_not_start_and_an_event_is_accepted_by_its_hook_only() {
    let brand = Server::start(&["--quiet"]);
    let user_type = user_type(&brand).await;
    let dir = Dir::new("hooks-own");
    let hr = |auth: &str| {
        format!("[hooks.hr]\n{auth}\n[hooks.hr.fields]\nUsername = \"/email\"\n\"First name\" = \"/first\"\n\"Last name\" = \"/last\"\nEmail = \"/email\"\n\"User type\" = \"{user_type}\"\n")
    };
    let config = configure_with(
        &dir.0,
        &brand,
        &user_type,
        &hr(&format!("signing_secrets = [\"{SECRET}\"]")),
    );
    let why = refused_start(&config);
    assert!(
        why.contains("hooks \"crm\" and \"hr\" share a signing secret"),
        "{why}"
    );
    let config = configure_with(
        &dir.0,
        &brand,
        &user_type,
        &hr(&format!("key_header = \"x-hr-key\"\nkeys = [\"{KEY}\"]")),
    );
    let why = refused_start(&config);
    assert!(
        why.contains("hooks \"dynamics\" and \"hr\" share a key"),
        "{why}"
    );
    // With a secret of its own, hr starts, and a crm event replayed to it is refused.
    let hr_secret = "whsec_aHIncyBvd24gc2lnbmluZyBzZWNyZXQ=";
    let config = configure_with(
        &dir.0,
        &brand,
        &user_type,
        &hr(&format!("signing_secrets = [\"{hr_secret}\"]")),
    );
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    let to_hr = |secret: &str, id: &str, body: &Value| {
        let bytes = serde_json::to_vec(body).unwrap();
        reqwest::Client::new()
            .post(format!("{}/hooks/v1/hr", hooks.url))
            .header("webhook-id", id)
            .header("webhook-timestamp", t.to_string())
            .header("webhook-signature", sign(secret, id, t, &bytes))
            .body(bytes)
            .send()
    };
    let (status, _) = post_signed(&hooks, SECRET, "r1", t, &person("crmonly")).await;
    assert_eq!(status, 202);
    let replay = to_hr(SECRET, "r1", &person("crmonly")).await.unwrap();
    assert_eq!(replay.status().as_u16(), 401, "a crm event replayed to hr");
    let own = to_hr(hr_secret, "r2", &person("hronly")).await.unwrap();
    assert_eq!(own.status().as_u16(), 202, "hr's own event");
    let listed: Value = get_json(
        &format!("{}/hooks/v1/events", hooks.url),
        &brand.admin_token,
    )
    .await;
    let hooks_of: Vec<(&str, &str)> = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["hook"].as_str().unwrap(), e["user"].as_str().unwrap()))
        .collect();
    assert_eq!(
        hooks_of,
        [
            ("hr", "hronly@hooks-test.org"),
            ("crm", "crmonly@hooks-test.org")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_signatures_over_a_megabyte_are_refused_in_under_50_ms() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("hooks-signatures");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let client = reqwest::Client::new();
    let body = vec![b' '; 1024 * 1024 - 16];
    let signatures = vec!["v1,AAAA"; 10_000].join(" ");
    let send = |signatures: String| {
        client
            .post(format!("{}/hooks/v1/crm", hooks.url))
            .header("webhook-id", "many")
            .header("webhook-timestamp", now().to_string())
            .header("webhook-signature", signatures)
            .body(body.clone())
            .send()
    };
    // A warm-up: the connection made, the server's code paged in.
    let warm = send("v1,AAAA".to_string()).await.unwrap();
    assert_eq!(warm.status().as_u16(), 401);
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let r = send(signatures.clone()).await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        times.push(started.elapsed());
        assert_eq!(status, 401);
        assert!(text.contains("more than 5 signatures"), "{text}");
    }
    times.sort();
    eprintln!("10,000 signatures over 1 MB answered 401 in {times:?}");
    assert!(
        times[1] < Duration::from_millis(50),
        "answered in {times:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_items_id_never_meets_a_single_events_id() {
    let brand = Server::start(&["--quiet"]);
    let dir = Dir::new("hooks-ids");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    let (status, list) = post_signed(&hooks, SECRET, "abc", t, &json!([person("item")])).await;
    assert_eq!(status, 202, "{list}");
    let (status, single) = post_signed(&hooks, SECRET, "abc#0", t, &person("single")).await;
    assert_eq!(
        status, 202,
        "a single event with id abc#0 is not item 0 of abc: {single}"
    );
    assert_eq!(single["duplicate"], false);
    let (status, again) = post_signed(&hooks, SECRET, "abc", t, &json!([person("item")])).await;
    assert_eq!(status, 200, "the list again is a repeat: {again}");
}

/// Waits until every event in `ids` has one of `statuses`; their states.
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
        if all
            .iter()
            .all(|e| statuses.iter().any(|s| e["status"] == *s))
        {
            return all;
        }
        assert!(started.elapsed() < within, "not yet {statuses:?}: {all:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_brake_is_quarantined_until_an_administrator_releases_or_discards_it() {
    let brand = Server::start(&["--quiet", "--rate-limit-scale", "20"]);
    let standard_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let everyone = roster_native::client::Transport::new()
        .list_users(&brand.sandbox(&brand.admin_token))
        .await
        .unwrap();
    let active: Vec<(String, String)> = everyone
        .iter()
        .filter(|u| u.account_status.as_deref() == Some("active"))
        .filter(|u| u.user_type.as_deref() != Some("UT_BRANDADMIN"))
        .map(|u| (u.id.clone(), u.username.clone().unwrap()))
        .collect();
    let share = 30.0 / active.len() as f64;
    assert!(share > 0.10, "30 of {} active accounts", active.len());
    let dir = Dir::new("hooks-brake");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    let status_of = |id: &str| {
        let id = id.to_string();
        let brand = &brand;
        async move {
            roster_native::client::Transport::new()
                .list_users(&brand.sandbox(&brand.admin_token))
                .await
                .unwrap()
                .into_iter()
                .find(|u| u.id == id)
                .and_then(|u| u.account_status)
                .unwrap()
        }
    };

    // The server credential's own account: refused by the policy, parked at once.
    let (status, own) = post_signed(
        &hooks,
        SECRET,
        "own",
        t,
        &json!({"email": "avery.admin@roster-demo.edu", "action": "disable"}),
    )
    .await;
    assert_eq!(status, 202, "{own}");
    let parked = settled(
        &hooks,
        &brand,
        &[own["id"].as_i64().unwrap()],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(parked[0]["status"], "failed");
    assert_eq!(parked[0]["attempts"], 1, "not retried: {}", parked[0]);
    assert!(
        parked[0]["reason"]
            .as_str()
            .unwrap()
            .contains("credential in use"),
        "{}",
        parked[0]
    );

    // A burst disabling 30 accounts (over 25 and over 10 % of the brand): quarantined.
    let burst = |users: &[(String, String)]| -> Value {
        users
            .iter()
            .map(|(_, name)| json!({"email": name, "action": "disable"}))
            .collect()
    };
    let (first, second) = (&active[..30], &active[30..60]);
    let (status, accepted) = post_signed(&hooks, SECRET, "burst-1", t, &burst(first)).await;
    assert_eq!(status, 202, "{accepted}");
    let ids: Vec<i64> = accepted["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let held = reach(
        &hooks,
        &brand,
        &ids,
        &["quarantined"],
        Duration::from_secs(30),
    )
    .await;
    assert!(
        held[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Needs confirmation"),
        "{}",
        held[0]
    );
    assert!(held.iter().all(|e| e["burst"] == held[0]["burst"]));
    let stats = brand.stats().await;
    for (id, _) in first {
        assert!(
            stats["changesPerUser"].get(id).is_none(),
            "nothing sent for {id}"
        );
    }
    assert_eq!(status_of(&first[0].0).await, "active");
    let log = hooks.stderr.lock().unwrap().clone();
    assert_eq!(log.matches("quarantined, nothing sent").count(), 1, "{log}");
    // The list shows them; only an administrator may release or discard.
    let (_, listed) = with_token(&hooks, "GET", "/hooks/v1/events", Some(&brand.admin_token)).await;
    let shown = listed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "quarantined")
        .count();
    assert_eq!(shown, 30);
    let release = format!("/hooks/v1/events/{}/release", ids[7]);
    let (status, _) = with_token(&hooks, "POST", &release, Some(&standard_token)).await;
    assert_eq!(status, 403);
    let (status, _) = with_token(&hooks, "POST", &release, None).await;
    assert_eq!(status, 401);

    // Released: applied, all 30.
    let (status, released) = with_token(&hooks, "POST", &release, Some(&brand.admin_token)).await;
    assert_eq!(status, 202, "{released}");
    assert_eq!(released["events"], 30);
    let done = reach(&hooks, &brand, &ids, &["done"], Duration::from_secs(60)).await;
    assert_eq!(done.len(), 30);
    for (id, _) in first.iter().step_by(7) {
        assert_eq!(status_of(id).await, "disabled");
    }

    // Another such burst, discarded: never applied.
    let (status, accepted) = post_signed(&hooks, SECRET, "burst-2", t, &burst(second)).await;
    assert_eq!(status, 202, "{accepted}");
    let ids: Vec<i64> = accepted["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    reach(
        &hooks,
        &brand,
        &ids,
        &["quarantined"],
        Duration::from_secs(30),
    )
    .await;
    let discard = format!("/hooks/v1/events/{}/discard", ids[0]);
    let (status, _) = with_token(&hooks, "POST", &discard, Some(&standard_token)).await;
    assert_eq!(status, 403);
    let (status, discarded) = with_token(&hooks, "POST", &discard, Some(&brand.admin_token)).await;
    assert_eq!(status, 200, "{discarded}");
    assert_eq!(discarded["events"], 30);
    let (status, _) = with_token(&hooks, "POST", &discard, Some(&brand.admin_token)).await;
    assert_eq!(status, 409, "nothing left to discard");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    reach(&hooks, &brand, &ids, &["discarded"], Duration::from_secs(1)).await;
    let stats = brand.stats().await;
    for (id, _) in second {
        assert!(
            stats["changesPerUser"].get(id).is_none(),
            "nothing sent for {id}"
        );
    }
    assert_eq!(status_of(&second[0].0).await, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_burst_of_a_few_new_hires_looks_them_up_instead_of_listing_a_big_brand() {
    // 2,000 users: 20 pages of the users listing against 1 lookup per new hire.
    let brand = Server::start(&["--quiet", "--users", "2000"]);
    let dir = Dir::new("hooks-lookups");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let post = |id: &str, name: &str| {
        let body = json!({"eventId": id, "user": {"email": format!("{name}@hooks-test.org"), "first": "New", "last": name}});
        reqwest::Client::new()
            .post(format!("{}/hooks/v1/dynamics", hooks.url))
            .header("x-roster-key", KEY)
            .json(&body)
            .send()
    };
    let accepted = |r: reqwest::Response| async move {
        assert_eq!(r.status().as_u16(), 202);
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    };
    // The first burst knows nothing of the brand: it lists the users, and learns their pages.
    let first = accepted(post("lk-1", "lookfirst").await.unwrap()).await;
    let ended = settled(&hooks, &brand, &[first], Duration::from_secs(60)).await;
    assert_eq!(ended[0]["status"], "done", "{ended:?}");
    let audit_path = dir.0.join("audit.jsonl");
    let before = std::fs::read_to_string(&audit_path)
        .unwrap()
        .lines()
        .count();
    // A later burst of two new hires: looked up one by one, the listing is not read again.
    let mut ids = Vec::new();
    for (id, name) in [("lk-2", "looksecond"), ("lk-3", "lookthird")] {
        ids.push(accepted(post(id, name).await.unwrap()).await);
    }
    let ended = settled(&hooks, &brand, &ids, Duration::from_secs(60)).await;
    assert!(ended.iter().all(|e| e["status"] == "done"), "{ended:?}");
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    let later: Vec<&str> = audit.lines().skip(before).collect();
    let lookups = later
        .iter()
        .filter(|l| l.contains("/users?username="))
        .count();
    assert_eq!(lookups, 2, "{later:#?}");
    assert!(
        !later.iter().any(|l| l.contains("/users?offset=")
            || (l.contains("\"method\":\"GET\"")
                && l.contains("\"path\":\"/sandbox/API/v3/users\""))),
        "the users listing was not read again: {later:#?}"
    );
    assert_eq!(users_named(&brand, "look").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_new_hires_creates_their_accounts_before_reading_the_directory_and_reads_it_once(
) {
    // 400 users: a directory of 4 pages (5 once the burst's accounts exist), bigger than the
    // burst of 3.
    let brand = Server::start(&["--quiet", "--users", "400"]);
    let dir = Dir::new("hooks-directory-once");
    let config = configure(&dir.0, &brand, &user_type(&brand).await);
    let hooks = Server::start_plain(&["--quiet", "--hooks-config", config.to_str().unwrap()]);
    let t = now();
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut body = person(&format!("dironce{i}"));
        body["region"] = json!(format!("Region{i}"));
        let (status, v) = post_signed(&hooks, SECRET, &format!("do-{i}"), t, &body).await;
        assert_eq!(status, 202, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    let ended = settled(&hooks, &brand, &ids, Duration::from_secs(90)).await;
    assert!(ended.iter().all(|e| e["status"] == "done"), "{ended:?}");
    let audit = std::fs::read_to_string(dir.0.join("audit.jsonl")).unwrap();
    let sent: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["attempt"].as_u64().unwrap_or(1) == 1)
        .map(|a| {
            format!(
                "{} {}",
                a["method"].as_str().unwrap(),
                a["path"].as_str().unwrap()
            )
        })
        .collect();
    let is_directory_read =
        |s: &String| s.starts_with("POST ") && s.contains("/employee-directories/cx/participants");
    // The worker may take the burst as one run or more (it starts as the first event
    // arrives): in each, the directory is read in one go of 5 pages, right after the accounts
    // were created, not before them and again after.
    let mut blocks = 0;
    let mut i = 0;
    while i < sent.len() {
        if !is_directory_read(&sent[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < sent.len() && is_directory_read(&sent[i]) {
            i += 1;
        }
        blocks += 1;
        assert!(
            start > 0
                && sent[start - 1].starts_with("POST ")
                && sent[start - 1].ends_with("/users"),
            "the directory read right after the accounts, not before: {sent:#?}"
        );
        assert_eq!(i - start, 5, "one whole read of 5 pages: {sent:#?}");
    }
    assert!(blocks >= 1, "the directory was read: {sent:#?}");
    // Each new hire's attribute is set, on its own participant.
    for (i, e) in ended.iter().enumerate() {
        assert!(
            e["outcome"]["message"]
                .as_str()
                .unwrap()
                .contains("created; attributes set"),
            "hire {i}: {e}"
        );
    }
}
