//! The server binary over real loopback HTTP: sandbox brand, relay, static files, driven by
//! the core client the page uses.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{perform, Server};
use qualtrics_roster::api::connection::Connection;
use qualtrics_roster::api::error::ApiError;
use qualtrics_roster::api::http::Method;
use qualtrics_roster::api::users::{self, ListError, UserListing, UserSummary};

/// Drives the core's listing to the end; returns users, page URLs requested, and notices.
async fn list_all(
    conn: &Connection,
) -> Result<(Vec<UserSummary>, Vec<String>, Vec<String>), ListError> {
    let mut listing = UserListing::users(conn);
    let (mut all, mut urls, mut notices) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(req) = listing.next_request(conn) {
        urls.push(req.url.clone());
        let page = listing.on_response(conn, &perform(&req).await)?;
        all.extend(page.elements);
        notices.extend(page.notice.map(|n| n.message()));
    }
    Ok((all, urls, notices))
}

#[tokio::test]
async fn sandbox_lists_250_users_over_three_absolute_pages() {
    let server = Server::start(&[]);
    let conn = server.sandbox(&server.admin_token);
    let (users, urls, notices) = list_all(&conn).await.unwrap();
    assert_eq!(users.len(), 250);
    assert_eq!(urls.len(), 3, "100 per page");
    assert_eq!(
        urls[1],
        format!("{}/sandbox/API/v3/users?offset=100", server.url)
    );
    assert!(notices.is_empty());
    let ids: std::collections::HashSet<_> = users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(ids.len(), 250);
    assert!(users
        .iter()
        .any(|u| u.account_status.as_deref() == Some("disabled")));
    assert!(users.iter().any(|u| u
        .username
        .as_deref()
        .is_some_and(|n| n.ends_with("#rosterdemo"))));

    let (who, _) = users::parse_whoami(&perform(&users::whoami_request(&conn)).await).unwrap();
    assert_eq!(who.user_id.as_deref(), Some(users[0].id.as_str()));
    assert_eq!(who.brand_id.as_deref(), Some("rosterdemo"));
}

#[tokio::test]
async fn relay_to_sandbox_pages_through_the_relay() {
    let server = Server::start(&["--relay-upstream", "sandbox"]);
    let conn = server.relay("iad1", &server.admin_token);
    let (users, urls, notices) = list_all(&conn).await.unwrap();
    assert_eq!(users.len(), 250);
    assert_eq!(
        urls,
        vec![
            format!("{}/relay/iad1/API/v3/users", server.url),
            format!("{}/relay/iad1/API/v3/users?offset=100", server.url),
            format!("{}/relay/iad1/API/v3/users?offset=200", server.url),
        ]
    );
    assert!(notices.is_empty());
    // The relay logs requests, but never the token.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("relay GET iad1 /API/v3/users -> 200"), "{log}");
    assert!(!log.contains(&server.admin_token));
}

#[tokio::test]
async fn wrong_datacenter_is_proxied_with_a_notice_and_next_page_on_the_home_host() {
    let server = Server::start(&["--relay-upstream", "sandbox"]);
    let conn = server.relay("az1", &server.admin_token);
    let (users, urls, notices) = list_all(&conn).await.unwrap();
    assert_eq!(users.len(), 250);
    assert_eq!(
        urls[1],
        format!("{}/relay/iad1/API/v3/users?offset=100&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D", server.url)
    );
    assert!(
        notices[0].contains("connect with datacenter \"iad1\""),
        "{notices:?}"
    );
}

#[tokio::test]
async fn auth_failures_come_in_qualtrics_envelopes() {
    let server = Server::start(&["--relay-upstream", "sandbox"]);
    let wrong = server.relay("iad1", "NotAToken0000000000000000000000000000000");
    let err = list_all(&wrong).await.unwrap_err();
    assert!(
        matches!(err, ListError::Api(ApiError::Unauthorized { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not recognise the API token"));

    let sandbox_admin = server.sandbox(&server.admin_token);
    let (users_list, _, _) = list_all(&sandbox_admin).await.unwrap();
    // user 1's token is printed nowhere; the sandbox's /connect-info only has the admin's. Use the
    // seed's second token through the sandbox API: whoami works for a non-admin, /users does not.
    let user_token = roster_server::sandbox::brand::Brand::seeded(7).user_token;
    let standard = server.relay("iad1", &user_token);
    let (who, _) = users::parse_whoami(&perform(&users::whoami_request(&standard)).await).unwrap();
    assert_eq!(who.user_id.as_deref(), Some(users_list[1].id.as_str()));
    let err = list_all(&standard).await.unwrap_err();
    assert_eq!(
        err,
        ListError::Api(ApiError::Forbidden {
            code: Some("QMST_2.1".into())
        })
    );

    let (status, body) = server.raw_get("/sandbox/API/v3/users", "");
    assert_eq!(status, 401, "{body}");
    let resp = reqwest::get(format!("{}/sandbox/API/v3/whoami", server.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["meta"]["error"]["errorCode"], "ATP_2");
    assert_eq!(v["meta"]["httpStatus"], "400 - Bad Request");
}

#[tokio::test]
async fn update_user_is_partial_and_refuses_unknown_fields() {
    let server = Server::start(&[]);
    let conn = server.sandbox(&server.admin_token);
    let (all, _, _) = list_all(&conn).await.unwrap();
    let target = all
        .iter()
        .find(|u| u.account_status.as_deref() == Some("active") && u.id != all[0].id)
        .unwrap();

    let upd = users::UserUpdate {
        status: Some(users::AccountStatus::Disabled),
        ..Default::default()
    };
    let resp = perform(&users::update_user_request(&conn, &target.id, &upd)).await;
    users::parse_update_user(&target.id, &resp).unwrap();
    let user = users::parse_get_user(
        &target.id,
        &perform(&users::get_user_request(&conn, &target.id)).await,
    )
    .unwrap();
    assert_eq!(user.summary.account_status.as_deref(), Some("disabled"));
    assert_eq!(user.summary.email, target.email, "other fields untouched");

    // Case-insensitive status, as Qualtrics' docs disagree on casing.
    let mut req = conn.request(
        Method::Put,
        conn.url(&format!("users/{}", target.id)),
        Some(br#"{"status":"Active"}"#.to_vec()),
    );
    users::parse_update_user(&target.id, &perform(&req).await).unwrap();
    // Unknown fields are refused and nothing changes.
    req.body = Some(br#"{"status":"disabled","shoeSize":"42"}"#.to_vec());
    let err = users::parse_update_user(&target.id, &perform(&req).await).unwrap_err();
    assert!(
        err.to_string()
            .contains("Invalid field in request body: shoeSize"),
        "{err}"
    );
    let user = users::parse_get_user(
        &target.id,
        &perform(&users::get_user_request(&conn, &target.id)).await,
    )
    .unwrap();
    assert_eq!(user.summary.account_status.as_deref(), Some("active"));

    let err = users::parse_get_user(
        "UR_000000000000000",
        &perform(&users::get_user_request(&conn, "UR_000000000000000")).await,
    )
    .unwrap_err();
    assert!(matches!(err, users::GetUserError::NotFound { .. }));
}

#[tokio::test]
async fn relay_refuses_every_target_but_a_datacenter() {
    let server = Server::start(&["--relay-upstream", "sandbox"]);
    let t = server.admin_token.clone();
    for path in [
        "/relay/evil.example/API/v3/whoami",
        "/relay/127.0.0.1/API/v3/whoami",
        "/relay/iad1.qualtrics.com.evil.example/API/v3/whoami",
        "/relay/localhost:8080/API/v3/whoami",
    ] {
        let (status, body) = server.raw_get(path, &t);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("RELAY_BAD_DATACENTER"), "{path}: {body}");
    }
    for path in [
        "/relay/iad1/API/v3/..%2f..%2fsandbox/connect-info",
        "/relay/iad1/API/v3/../../sandbox/connect-info",
        "/relay/iad1/API/v3/%2e%2e/%2e%2e/x",
        "/relay/iad1/API/v3//evil.example/x",
        "/relay/iad1/oauth2/auth",
        "/relay/iad1/API/v3/users%5c..%5c",
    ] {
        let (status, body) = server.raw_get(path, &t);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("RELAY_BAD_PATH"), "{path}: {body}");
    }
    // The token endpoint is relayed for POST only.
    let (status, body) = server.raw_get("/relay/iad1/oauth2/token", &t);
    assert_eq!(status, 405, "{body}");
    let (status, _) = server.raw_get("/relay/iad1/API/v3/whoami", &t);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn relay_reports_an_unreachable_host_and_never_follows_redirects() {
    // A stand-in upstream that redirects elsewhere.
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::FOUND,
            [("location", "http://evil.example/steal")],
            "",
        )
    });
    let port = common::serve_stand_in(app).await;

    let redirecting = Server::start(&["--relay-upstream", &format!("http://127.0.0.1:{port}")]);
    let conn = redirecting.relay("iad1", "abc");
    let err = users::parse_whoami(&perform(&users::whoami_request(&conn)).await).unwrap_err();
    assert!(
        err.to_string()
            .contains("answered with a redirect, which the relay does not follow"),
        "{err}"
    );

    let unreachable = Server::start(&["--relay-upstream", "http://127.0.0.1:1"]);
    let conn = unreachable.relay("iad9", "abc");
    let resp = perform(&users::whoami_request(&conn)).await;
    assert_eq!(resp.status, 502);
    let err = users::parse_whoami(&resp).unwrap_err();
    assert!(
        err.to_string()
            .contains("iad9.qualtrics.com could not be reached from the relay"),
        "{err}"
    );
}

#[tokio::test]
async fn static_files_have_csp_and_wasm_type_and_cors_is_off_by_default() {
    let server = Server::start(&[]);
    let index = reqwest::get(format!("{}/", server.url)).await.unwrap();
    assert_eq!(index.status().as_u16(), 200);
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    let wasm = reqwest::get(format!("{}/pkg/core.wasm", server.url))
        .await
        .unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");

    let client = reqwest::Client::new();
    let preflight = |url: String| {
        client
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", "http://elsewhere.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-api-token")
            .send()
    };
    let off = preflight(format!("{}/sandbox/API/v3/users", server.url))
        .await
        .unwrap();
    assert!(off.headers().get("access-control-allow-origin").is_none());

    let with_cors = Server::start(&["--sandbox-cors"]);
    let on = preflight(format!("{}/sandbox/API/v3/users", with_cors.url))
        .await
        .unwrap();
    assert_eq!(on.headers()["access-control-allow-origin"], "*");
    assert!(on.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-api-token"));
}

/// A throwaway certificate for `localhost` in `dir`: its PEM files and its DER form.
fn localhost_certificate(dir: &std::path::Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (cert_path, key_path) = (dir.join("localhost.crt"), dir.join("localhost.key"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (cert_path, key_path, cert.cert.der().to_vec())
}

#[tokio::test]
async fn https_serves_the_task_pane_with_office_js_allowed_and_the_page_without() {
    let dir = std::env::temp_dir().join(format!("roster-tls-{}", std::process::id()));
    let (cert_path, key_path, _) = localhost_certificate(&dir);
    let server = Server::start(&[
        "--https-port",
        "0",
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    let https_url = server
        .https_url
        .clone()
        .expect("the server printed its https URL");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let pane = client
        .get(format!("{https_url}/taskpane.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        pane.status().as_u16(),
        404,
        "the test's www has no task pane, but TLS works"
    );
    let csp = pane.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval' https://appsforoffice.microsoft.com"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https://appsforoffice.microsoft.com"),
        "{csp}"
    );
    // Only Office's hosts may frame the pane (clickjacking).
    assert!(
        csp.contains("frame-ancestors 'self' https://*.cloud.microsoft https://*.office.com"),
        "{csp}"
    );
    let index = client.get(format!("{https_url}/")).send().await.unwrap();
    assert_eq!(index.status().as_u16(), 200);
    let csp = index.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        !csp.contains("appsforoffice"),
        "the page itself allows no third-party script: {csp}"
    );
    // HSTS on the https listener only (a plain http listener cannot promise https).
    assert_eq!(
        index.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let plain = reqwest::get(format!("{}/", server.url)).await.unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_native_client_speaks_tls_and_trusts_only_its_bundled_roots() {
    // A certificate no public authority signed: the native driver's client (rustls with the
    // bundled roots, nothing from the OS) refuses it before sending a byte of the request, and
    // says so in the words every failed connection has.
    let dir = std::env::temp_dir().join(format!("roster-tls-native-{}", std::process::id()));
    let (cert_path, key_path, _) = localhost_certificate(&dir);
    let server = Server::start(&[
        "--https-port",
        "0",
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    let https_url = server.https_url.clone().expect("an https URL");
    let port = https_url.rsplit(':').next().unwrap();
    let request = qualtrics_roster::api::http::HttpRequest {
        method: Method::Get,
        url: format!("https://localhost:{port}/"),
        headers: Vec::new(),
        body: None,
    };
    let answer = roster_native::client::Transport::new().send(&request).await;
    assert_eq!(
        answer.map(|r| r.status),
        Err(qualtrics_roster::exec::TransportFailure::no_answer(
            "could not connect"
        ))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_sandbox_is_off_unless_asked_for() {
    let server = Server::start_plain(&[]);
    for path in [
        "/sandbox/connect-info",
        "/sandbox/control/stats",
        "/sandbox/API/v3/whoami",
    ] {
        let (status, body) = server.raw_get(path, "any");
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("adminToken"), "{path}");
    }
}

/// A stand-in upstream: `/API/v3/html` answers an HTML page (a sign-in page, a proxy's error
/// page), `/API/v3/echo` answers JSON saying which credential headers arrived.
async fn stand_in_upstream() -> u16 {
    use axum::routing::any;
    let app = axum::Router::new()
        .route(
            "/API/v3/html",
            any(|| async {
                (
                    [("content-type", "text/html")],
                    "<!doctype html><script>fetch('/steal?'+localStorage.token)</script>",
                )
            }),
        )
        .route(
            "/API/v3/echo",
            any(|headers: axum::http::HeaderMap| async move {
                let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
                axum::Json(serde_json::json!({"result": {
                    "authorization": get("authorization"), "token": get("x-api-token")}, "meta": {}}))
            }),
        )
        .route(
            "/oauth2/token",
            any(|headers: axum::http::HeaderMap| async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
                axum::Json(serde_json::json!({"authorization": auth}))
            }),
        );
    let port = common::serve_stand_in(app).await;
    port
}

#[tokio::test]
async fn relay_passes_back_only_json_marked_inert_and_forwards_only_bearer_credentials() {
    let port = stand_in_upstream().await;
    let server = Server::start(&["--relay-upstream", &format!("http://127.0.0.1:{port}")]);
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}/relay/iad1/{p}", server.url);

    // An HTML answer never reaches the page's origin: a JSON 502 says what came back.
    let r = client
        .get(url("API/v3/html"))
        .header("x-api-token", "t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    let body = r.text().await.unwrap();
    assert!(
        body.contains("RELAY_NOT_JSON") && body.contains("text/html"),
        "{body}"
    );
    assert!(!body.contains("<script"), "{body}");

    let echo = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        r.json::<serde_json::Value>().await.unwrap()
    };
    // A reverse proxy's Basic credentials (browsers attach them to same-origin fetches) stay here.
    let v = echo(
        client
            .get(url("API/v3/echo"))
            .basic_auth("alice", Some("secret"))
            .header("x-api-token", "t"),
    )
    .await;
    assert_eq!(v["result"]["authorization"], serde_json::Value::Null, "{v}");
    assert_eq!(v["result"]["token"], "t");
    let v = echo(
        client
            .get(url("API/v3/echo"))
            .basic_auth("alice", Some("secret")),
    )
    .await;
    assert_eq!(v["result"]["authorization"], serde_json::Value::Null, "{v}");
    // A Bearer token goes, unless an API token is there too.
    let v = echo(client.get(url("API/v3/echo")).bearer_auth("access")).await;
    assert_eq!(v["result"]["authorization"], "Bearer access");
    let v = echo(
        client
            .get(url("API/v3/echo"))
            .bearer_auth("access")
            .header("x-api-token", "t"),
    )
    .await;
    assert_eq!(v["result"]["authorization"], serde_json::Value::Null, "{v}");
    // Basic goes to the OAuth token endpoint only (the client's id and secret).
    let v = echo(
        client
            .post(url("oauth2/token"))
            .basic_auth("client", Some("secret"))
            .body("grant_type=client_credentials"),
    )
    .await;
    assert!(
        v["authorization"].as_str().unwrap().starts_with("Basic "),
        "{v}"
    );
}

#[tokio::test]
async fn relay_refuses_before_reading_a_body_and_sandbox_answers_are_inert_too() {
    use std::io::{Read, Write};
    let server = Server::start(&["--relay-upstream", "sandbox"]);
    let addr = server.url.trim_start_matches("http://").to_string();
    // A bad path or an oversized declared body is answered at once, with the body never sent.
    for (path, length, status) in [
        ("/relay/evil.example/API/v3/users", 10_000_000, "400"),
        ("/relay/iad1/API/v3/../x", 10_000_000, "400"),
        ("/relay/iad1/API/v3/users", 100_000_000, "413"),
    ] {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        write!(s, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n").unwrap();
        let mut head = [0u8; 64];
        let n = s
            .read(&mut head)
            .expect("answered without waiting for the body");
        let text = String::from_utf8_lossy(&head[..n]);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {text}"
        );
    }
    let r = reqwest::Client::new()
        .get(format!("{}/sandbox/API/v3/whoami", server.url))
        .header("x-api-token", &server.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
}

#[tokio::test]
async fn static_files_stay_inside_www_and_the_page_is_not_framed() {
    let server = Server::start_plain(&[]);
    let secret = std::env::temp_dir().join(format!("roster-secret-{}", std::process::id()));
    std::fs::write(&secret, "outside www").unwrap();
    std::fs::write(server.www().join(".env"), "TOKEN=hidden").unwrap();
    std::fs::create_dir_all(server.www().join(".git")).unwrap();
    std::fs::write(server.www().join(".git/config"), "[core]").unwrap();
    std::os::unix::fs::symlink(&secret, server.www().join("linked.txt")).unwrap();
    std::fs::write(server.www().join("plain.txt"), "inside").unwrap();
    for path in ["/.env", "/.git/config", "/%2eenv", "/linked.txt"] {
        let (status, body) = server.raw_get(path, "");
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            !body.contains("hidden") && !body.contains("outside www"),
            "{path}"
        );
    }
    let (status, body) = server.raw_get("/plain.txt", "");
    assert_eq!((status, body.as_str()), (200, "inside"));
    let index = reqwest::get(format!("{}/", server.url)).await.unwrap();
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    // Office shows a generic icon for one served with no-cache or no-store.
    std::fs::create_dir_all(server.www().join("assets")).unwrap();
    std::fs::write(server.www().join("assets/icon-32.png"), b"\x89PNG").unwrap();
    let icon = reqwest::get(format!("{}/assets/icon-32.png", server.url))
        .await
        .unwrap();
    assert_eq!(icon.status().as_u16(), 200);
    assert_eq!(icon.headers()["cache-control"], "public, max-age=86400");
    let _ = std::fs::remove_file(&secret);
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_a_flood_of_connections_does_not_stop_the_server() {
    use std::io::{Read, Write};
    let server = Server::start_plain(&["--max-connections", "20", "--header-timeout-ms", "400"]);
    let addr = server.url.trim_start_matches("http://").to_string();
    // 30 clients that never finish their headers (slowloris): 20 are held, 10 closed at once.
    // A client over the cap may already be reset while connecting or writing: that is the
    // server closing it at once, as it should.
    let closed_at_once = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
        )
    };
    let mut slow: Vec<std::net::TcpStream> = Vec::new();
    for _ in 0..30 {
        let mut s = match std::net::TcpStream::connect(&addr) {
            Ok(s) => s,
            Err(e) if closed_at_once(&e) => continue,
            Err(e) => panic!("{e}"),
        };
        match write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ") {
            Ok(()) => {}
            Err(e) if closed_at_once(&e) => continue,
            Err(e) => panic!("{e}"),
        }
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
            .unwrap();
        slow.push(s);
    }
    let started = std::time::Instant::now();
    // Each is closed by the server: at once over the cap, after the header timeout otherwise.
    for s in &mut slow {
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
            }
            Err(e) => assert!(closed_at_once(&e), "{e}"),
        }
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "cut off in time"
    );
    // And the server answers normally.
    let (status, _) = server.raw_get("/", "");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn relayed_requests_over_the_cap_are_answered_busy_at_once() {
    // A stand-in upstream that answers after a second: two places, four requests at once.
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        axum::Json(serde_json::json!({"result": {}, "meta": {}}))
    });
    let port = common::serve_stand_in(app).await;
    let server = Server::start_plain(&[
        "--relay-upstream",
        &format!("http://127.0.0.1:{port}"),
        "--max-relayed",
        "2",
    ]);
    let client = reqwest::Client::new();
    let url = format!("{}/relay/iad1/API/v3/whoami", server.url);
    let sends: Vec<_> = (0..4)
        .map(|_| tokio::spawn(client.get(&url).header("x-api-token", "t").send()))
        .collect();
    let mut answers = Vec::new();
    for s in sends {
        answers.push(s.await.unwrap().unwrap());
    }
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 503, 503]);
    let busy = answers.into_iter().find(|a| a.status() == 503).unwrap();
    assert_eq!(busy.headers()["retry-after"], "1");
    assert!(busy.text().await.unwrap().contains("RELAY_BUSY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_large_bodies_stays_within_the_memory_budget() {
    // Budget: at most --max-relayed bodies in memory at once (here 4 x 8 MB), plus the
    // server's own ~30 MB. Without the cap, 40 clients sending 8 MB each would hold 320 MB.
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        axum::Json(serde_json::json!({"result": {}, "meta": {}}))
    });
    let port = common::serve_stand_in(app).await;
    let server = Server::start_plain(&[
        "--relay-upstream",
        &format!("http://127.0.0.1:{port}"),
        "--max-relayed",
        "4",
    ]);
    let before = server.rss_bytes();
    let client = reqwest::Client::new();
    let url = format!(
        "{}/relay/iad1/API/v3/employee-directories/cx/import-participants",
        server.url
    );
    let body = vec![b'x'; 8 * 1024 * 1024];
    let sends: Vec<_> = (0..40)
        .map(|_| {
            let request = client
                .post(&url)
                .header("x-api-token", "t")
                .header("content-type", "application/json")
                .body(body.clone());
            tokio::spawn(request.send())
        })
        .collect();
    let mut peak = 0;
    let watch = async {
        loop {
            peak = peak.max(server.rss_bytes());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let all = async {
        let mut statuses = Vec::new();
        for s in sends {
            statuses.push(s.await.unwrap().map(|r| r.status().as_u16()).unwrap_or(0));
        }
        statuses
    };
    let statuses = tokio::select! {
        s = all => s,
        () = watch => unreachable!(),
    };
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 4 * 8 * 1024 * 1024 + 48 * 1024 * 1024,
        "peak grew by {} MB (before {} MB)",
        grown / (1024 * 1024),
        before / (1024 * 1024)
    );
}

#[tokio::test]
async fn the_relay_can_be_kept_to_the_organisations_pages_and_a_pace_per_client() {
    let server = Server::start(&[
        "--relay-upstream",
        "sandbox",
        "--allowed-origin",
        "https://roster.example.org",
        "--relay-rate-per-minute",
        "5",
        "--trusted-proxy",
        "127.0.0.1",
    ]);
    let client = reqwest::Client::new();
    let url = format!("{}/relay/iad1/API/v3/whoami", server.url);
    let get = |origin: Option<&str>, forwarded: &str| {
        let mut r = client
            .get(&url)
            .header("x-api-token", &server.admin_token)
            .header("x-forwarded-for", forwarded);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    // Another site's page is refused; the organisation's page and a client without Origin pass.
    let r = get(Some("https://evil.example"), "10.1.1.1").await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("RELAY_ORIGIN_REFUSED"));
    assert_eq!(
        get(Some("https://roster.example.org"), "10.1.1.1")
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // Five a minute per client (behind the trusted local proxy: its X-Forwarded-For address).
    for _ in 0..4 {
        assert_eq!(get(None, "10.1.1.1").await.unwrap().status().as_u16(), 200);
    }
    let over = get(None, "10.1.1.1").await.unwrap();
    assert_eq!(over.status().as_u16(), 429);
    assert_eq!(over.headers()["retry-after"], "10");
    assert_eq!(
        get(None, "10.2.2.2").await.unwrap().status().as_u16(),
        200,
        "another client goes on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_relay_a_next_page_naming_the_upstreams_own_host_is_followed() {
    // An upstream stand-in whose nextPage names its own host (it ignores X-Forwarded-Host).
    let app = axum::Router::new().route(
        "/API/v3/users",
        axum::routing::get(
            |q: axum::extract::Query<std::collections::HashMap<String, String>>,
             headers: axum::http::HeaderMap| async move {
                let host = headers["host"].to_str().unwrap().to_string();
                let (id, next) = match q.get("offset") {
                    None => ("UR_0000000000000p1", serde_json::json!(format!("http://{host}/API/v3/users?offset=1"))),
                    Some(_) => ("UR_0000000000000p2", serde_json::Value::Null),
                };
                axum::Json(serde_json::json!({"result": {"elements": [{"id": id}], "nextPage": next}, "meta": {}}))
            },
        ),
    );
    let port = common::serve_stand_in(app).await;
    let server = Server::start_plain(&["--relay-upstream", &format!("http://127.0.0.1:{port}")]);
    let users = roster_native::client::Transport::new()
        .list_users(&server.relay("iad1", "token"))
        .await
        .expect("both pages, through the relay");
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["UR_0000000000000p1", "UR_0000000000000p2"]);
}

/// Whether the server closes `stream` within `within` (end of stream, a reset, or an answer
/// that is a 408), and how long it took.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    within: Duration,
) -> (bool, Duration) {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let closed = match tokio::time::timeout(within, stream.read(&mut buf)).await {
        Err(_) => false,
        Ok(Ok(n)) => n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
        Ok(Err(_)) => true,
    };
    (closed, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_https_listener_cuts_off_slow_clients_and_caps_connections_as_http_does() {
    use tokio::io::AsyncWriteExt;
    let dir = common::tempdir::Dir::new("tls-limits");
    let (cert_path, key_path, der) = localhost_certificate(&dir.0);
    let server = Server::start(&[
        "--https-port",
        "0",
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--header-timeout-ms",
        "800",
        "--max-connections",
        "4",
    ]);
    let https_url = server.https_url.clone().expect("an https URL");
    let port: u16 = https_url.rsplit(':').next().unwrap().parse().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.into()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // TLS done, then headers that never end: closed at the header timeout.
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut slow = tls.connect(name.clone(), tcp).await.expect("the handshake");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let (closed, after) = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(
        closed,
        "a connection that never finished its headers is still open after 5 s"
    );
    assert!(after < Duration::from_secs(3), "closed after {after:?}");

    // No handshake at all: closed too.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (closed, after) = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(
        closed && after < Duration::from_secs(3),
        "{closed} after {after:?}"
    );

    // Four held (the cap), a fifth closed at once, long before the header timeout.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (closed, after) = closed_within(&mut over, Duration::from_millis(400)).await;
    assert!(
        closed,
        "a connection over the cap is closed at once ({after:?})"
    );
    for h in &mut held {
        let (closed, _) = closed_within(h, Duration::from_secs(5)).await;
        assert!(closed);
    }
    // And the listener serves as before.
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let index = client.get(format!("{https_url}/")).send().await.unwrap();
    assert_eq!(index.status().as_u16(), 200);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let pace = |trusted: bool| {
        let mut args = vec![
            "--relay-upstream",
            "sandbox",
            "--relay-rate-per-minute",
            "3",
        ];
        if trusted {
            args.extend(["--trusted-proxy", "127.0.0.1"]);
        }
        Server::start(&args)
    };
    let statuses = |server: Server, forwarded: Vec<String>| async move {
        let client = reqwest::Client::new();
        let url = format!("{}/relay/iad1/API/v3/whoami", server.url);
        let mut out = Vec::new();
        for f in forwarded {
            let r = client
                .get(&url)
                .header("x-api-token", &server.admin_token)
                .header("x-forwarded-for", f)
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        out
    };
    let six: Vec<String> = (1..=6).map(|i| format!("198.51.100.{i}")).collect();
    // Not a trusted proxy: the six addresses are one client, 127.0.0.1, paced at 3.
    assert_eq!(
        statuses(pace(false), six.clone()).await,
        [200, 200, 200, 429, 429, 429]
    );
    // A trusted proxy: six clients, one request each.
    assert_eq!(statuses(pace(true), six).await, [200; 6]);
    // Behind it, one client is still paced, whatever it writes to the left of its address.
    let spoofing: Vec<String> = (1..=4)
        .map(|i| format!("203.0.113.{i}, 198.51.100.77"))
        .collect();
    assert_eq!(statuses(pace(true), spoofing).await, [200, 200, 200, 429]);
}
