//! Shared by the loopback tests of the server and of the command line (cli/tests includes this
//! file): a real `roster-server` process on a free port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use qualtrics_roster::api::connection::{Auth, Connection};
use qualtrics_roster::api::http::{HttpRequest, HttpResponse};
use roster_native::client::Transport;

/// A running `roster-server --port 0`; killed on drop.
pub struct Server {
    pub url: String,
    pub https_url: Option<String>,
    pub admin_token: String,
    /// The sandbox's OAuth client (ID, secret).
    #[allow(dead_code)]
    pub oauth_client: (String, String),
    child: Child,
    pub stderr: Arc<Mutex<String>>,
    www: tempdir::Dir,
}

pub mod postgres;

/// The core's run-test helpers (the core's tests/common), shared with the loopback tests.
#[path = "../../../tests/common/mod.rs"]
mod runs;
// The CLI's tests, which include this file too, use neither.
#[allow(unused_imports)]
pub use runs::{assert_all_done, flips};

pub mod tempdir {
    /// A temporary folder removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "roster-{tag}-{}-{}",
                std::process::id(),
                rand_suffix()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The `roster-server` binary: this package's own in the server's tests; in the command
/// line's, the one beside the test (`target/debug/`), which `cargo test --workspace` and
/// `npm run build` build.
pub fn server_bin() -> std::path::PathBuf {
    if let Some(own) = option_env!("CARGO_BIN_EXE_roster-server") {
        return own.into();
    }
    let test = std::env::current_exe().expect("the test knows its own path");
    // target/debug/deps/cli-… -> target/debug/roster-server
    let bin = test
        .parent()
        .and_then(std::path::Path::parent)
        .expect("tests run from target/<profile>/deps")
        .join(format!("roster-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is not built: run `cargo build -p roster-server` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

impl Server {
    /// The server with the sandbox brand (`--sandbox`), unless `extra` says `--no-sandbox`.
    pub fn start(extra: &[&str]) -> Server {
        if extra.contains(&"--no-sandbox") {
            Server::start_plain(extra)
        } else {
            Server::start_plain(&[&["--sandbox"], extra].concat())
        }
    }

    /// The server with exactly the arguments `extra` (no sandbox unless it asks for one).
    pub fn start_plain(extra: &[&str]) -> Server {
        let www = tempdir::Dir::new("www");
        std::fs::write(
            www.0.join("index.html"),
            "<!doctype html><title>roster</title>",
        )
        .unwrap();
        std::fs::create_dir_all(www.0.join("pkg")).unwrap();
        std::fs::write(www.0.join("pkg/core.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let mut child = Command::new(server_bin())
            .args(["--port", "0", "--seed", "7", "--www"])
            .arg(&www.0)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        let mut admin_token = String::new();
        let mut oauth_client = (String::new(), String::new());
        let mut https_url = None;
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            if let Some(u) = line.trim().strip_prefix("qualtrics-roster listening on ") {
                url = u.trim_end_matches('/').to_string();
            }
            if let Some(rest) = line.strip_prefix("https: ") {
                https_url = rest
                    .split_whitespace()
                    .next()
                    .map(|u| u.trim_end_matches('/').to_string());
            }
            if let Some(rest) = line.split("brand admin token ").nth(1) {
                admin_token = rest
                    .split([',', ')'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
            }
            if let Some(rest) = line.split("OAuth client ").nth(1) {
                let mut parts = rest.trim().trim_end_matches(')').split(" / ");
                oauth_client = (
                    parts.next().unwrap_or_default().to_string(),
                    parts.next().unwrap_or_default().to_string(),
                );
            }
            if line.starts_with("sandbox brand")
                || (line.starts_with("relay") && !extra.contains(&"--sandbox"))
            {
                break;
            }
            line.clear();
        }
        if !url.starts_with("http://127.0.0.1:") {
            let mut why = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut why);
            panic!("the server did not start (printed URL {url:?}): {why}");
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
        });
        Server {
            url,
            https_url,
            admin_token,
            oauth_client,
            child,
            stderr,
            www,
        }
    }

    pub fn sandbox(&self, token: &str) -> Connection {
        Connection::direct(
            &format!("{}/sandbox/API/v3", self.url),
            Auth::api_token(token).unwrap(),
        )
        .unwrap()
    }

    pub fn relay(&self, dc: &str, token: &str) -> Connection {
        Connection::via_relay(
            &format!("{}/relay", self.url),
            dc,
            Auth::api_token(token).unwrap(),
        )
        .unwrap()
    }

    /// Sends raw bytes for a GET of `path` (no client-side normalisation) and returns status + body.
    /// The server process's resident memory, in bytes (Linux).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// Kills the server at once (SIGKILL: no clean-up, as a crash or `kill -9` would).
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The folder the server serves as its `www`.
    pub fn www(&self) -> &std::path::Path {
        &self.www.0
    }

    pub fn raw_get(&self, path: &str, token: &str) -> (u16, String) {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-API-TOKEN: {token}\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a request; a transport failure fails the test.
pub async fn perform(request: &HttpRequest) -> HttpResponse {
    Transport::new()
        .send(request)
        .await
        .expect("loopback request")
}

/// A user type of the sandbox brand other than the brand administrator's.
pub async fn user_type(brand: &Server) -> String {
    let users = get_json(
        &format!("{}/sandbox/API/v3/users", brand.url),
        &brand.admin_token,
    )
    .await;
    users["result"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["userType"].as_str())
        .find(|t| !t.eq_ignore_ascii_case("UT_BRANDADMIN"))
        .expect("the sandbox has ordinary users")
        .to_string()
}

/// `GET url` with `token` as `X-API-TOKEN`, its JSON answer.
pub async fn get_json(url: &str, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(url)
        .header("x-api-token", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

impl Server {
    /// The sandbox's own counters (`/sandbox/control/stats`).
    pub async fn stats(&self) -> serde_json::Value {
        get_json(
            &format!("{}/sandbox/control/stats", self.url),
            &self.admin_token,
        )
        .await
    }
}

/// Writes `text` to `path`, readable by its owner only (as the server demands of its
/// configuration and credential files).
pub fn write_private(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A credentials file in `dir` with `brand`'s OAuth client, for a hooks configuration.
pub fn oauth_credentials(dir: &std::path::Path, brand: &Server) -> std::path::PathBuf {
    let creds = dir.join("credentials");
    write_private(
        &creds,
        &format!(
            "client_id = {}\nclient_secret = {}\n",
            brand.oauth_client.0, brand.oauth_client.1
        ),
    );
    creds
}

/// Nanoseconds since the epoch, for unique scratch names.
#[allow(dead_code)]
pub fn unix_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Serves `app` on a free loopback port in this process (a stand-in upstream or brand) and
/// returns the port.
pub async fn serve_stand_in(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}
