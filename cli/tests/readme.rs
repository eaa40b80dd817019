//! The README's examples, run as written: every ```sh block after a
//! `<!-- npm test runs this block -->` line runs in bash against a sandbox brand, so a README
//! that drifts from the product fails here. A block marked `… in the background` is a server:
//! it is started and left running until the test ends.
//!
//! Only what a reader fills in themselves is put in, each by an exact rule below: the
//! sandbox's ports, token and OAuth client where the README writes `…` or `sbx-client-1`, an
//! ordinary user type's id where it writes `'UT_…'` or `"User type": "UT_…"`, and the paths
//! of the binaries this build made where it writes `target/debug/` or `--www www`.

#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{tempdir, Server};

const MARK: &str = "<!-- npm test runs this block";

/// A marked block: its text and whether it runs in the background.
struct Block {
    line: usize,
    text: String,
    background: bool,
}

/// The marked ```sh blocks of `readme`, in order.
fn marked_blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix(MARK) else {
            continue;
        };
        assert_eq!(
            lines.get(i + 1).map(|l| l.trim()),
            Some("```sh"),
            "README line {}: a marked block starts with ```sh on the next line",
            i + 1
        );
        let body: Vec<&str> = lines[i + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .copied()
            .collect();
        blocks.push(Block {
            line: i + 3,
            text: body.join("\n"),
            background: rest.contains("in the background"),
        });
    }
    blocks
}

/// What the README leaves to the reader, filled in for this sandbox.
struct Fill {
    sandbox_port: String,
    hooks_port: String,
    token: String,
    client: (String, String),
    user_type: String,
    bin: PathBuf,
    www: PathBuf,
}

impl Fill {
    fn apply(&self, text: &str) -> String {
        let bin = format!("{}/", self.bin.display());
        text.replace("target/debug/", &bin)
            .replace("target/release/", &bin)
            .replace(":8080", &format!(":{}", self.sandbox_port))
            .replace("--port 8080", &format!("--port {}", self.sandbox_port))
            .replace(":8081", &format!(":{}", self.hooks_port))
            .replace("--port 8081", &format!("--port {}", self.hooks_port))
            .replace("--www www", &format!("--www {}", self.www.display()))
            .replace(
                "QUALTRICS_API_TOKEN=…",
                &format!("QUALTRICS_API_TOKEN={}", self.token),
            )
            .replace(
                "QUALTRICS_CLIENT_ID=sbx-client-1",
                &format!("QUALTRICS_CLIENT_ID={}", self.client.0),
            )
            .replace(
                "QUALTRICS_CLIENT_ID=…",
                &format!("QUALTRICS_CLIENT_ID={}", self.client.0),
            )
            .replace(
                "QUALTRICS_CLIENT_SECRET=…",
                &format!("QUALTRICS_CLIENT_SECRET={}", self.client.1),
            )
            .replace("'UT_…'", &format!("'{}'", self.user_type))
            .replace(
                "\"User type\": \"UT_…\"",
                &format!("\"User type\": \"{}\"", self.user_type),
            )
    }
}

/// `bash -euo pipefail -c text` in `dir`, with the built binaries first on the PATH and the
/// sandbox as the brand (as after `export QUALTRICS_BASE_URL=…`).
fn bash(text: &str, dir: &Path, fill: &Fill) -> Command {
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", text])
        .current_dir(dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                fill.bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env(
            "QUALTRICS_BASE_URL",
            format!("http://127.0.0.1:{}/sandbox/API/v3", fill.sandbox_port),
        )
        .env_remove("QUALTRICS_API_TOKEN")
        .env_remove("QUALTRICS_CLIENT_ID")
        .env_remove("QUALTRICS_CLIENT_SECRET")
        .env_remove("QUALTRICS_DATACENTER");
    c
}

/// Kills the background servers when the test ends, passed or not.
struct Background(Vec<Child>);
impl Drop for Background {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: &str, child: &mut Child) {
    let started = Instant::now();
    while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the README's background block exited ({status}): {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_examples_run_as_written_against_the_sandbox() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let blocks = marked_blocks(&readme);
    assert!(
        blocks.len() >= 5,
        "the README marks its sandbox examples ({} found)",
        blocks.len()
    );
    let brand = Server::start(&[]);
    let sandbox_port = brand.url.rsplit(':').next().unwrap().to_string();
    let user_type = common::user_type(&brand).await;
    let fill = Fill {
        sandbox_port,
        hooks_port: free_port().to_string(),
        token: brand.admin_token.clone(),
        client: brand.oauth_client.clone(),
        user_type,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_qualtrics-roster"))
            .parent()
            .unwrap()
            .to_path_buf(),
        www: brand.www().to_path_buf(),
    };
    let dir = tempdir::Dir::new("readme");
    let mut background = Background(Vec::new());
    let mut outputs = Vec::new();
    for block in &blocks {
        let text = fill.apply(&block.text);
        if block.background {
            let mut child = bash(&text, &dir.0, &fill)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            wait_for_port(&fill.hooks_port, &mut child);
            background.0.push(child);
            continue;
        }
        let out = bash(&text, &dir.0, &fill).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "README line {}: the block failed ({}):\n{text}\n--- stdout\n{stdout}\n--- stderr\n{}",
            block.line,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((block.line, stdout));
    }
    // The CRM example created Ana with her attributes, as its JSON says.
    let crm = outputs
        .iter()
        .find(|(_, o)| o.contains("ana.lopez@example.edu") || o.contains("\"exitCode\""))
        .map(|(_, o)| o.clone())
        .expect("the CRM example printed its outcome");
    let crm: serde_json::Value = serde_json::from_str(&crm).expect("the CRM example prints JSON");
    assert_eq!(crm["exitCode"], 0, "{crm}");
    assert_eq!(crm["rows"][0]["status"], "done", "{crm}");
    // The hooks walkthrough's event was accepted, then applied: the new hire exists, with the
    // attribute the generated configuration maps.
    assert!(
        outputs.iter().any(|(_, o)| o.contains("\"received\"")),
        "the signed event was accepted: {:?}",
        outputs.last()
    );
    let events_url = format!("http://127.0.0.1:{}/hooks/v1/events", fill.hooks_port);
    let started = Instant::now();
    let event = loop {
        let events = common::get_json(&events_url, &brand.admin_token).await;
        let event = events["events"][0].clone();
        if event["status"] == "done" || event["status"] == "failed" {
            break event;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the walkthrough's event was not applied: {events}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(event["status"], "done", "{event}");
    let listed = Command::new(env!("CARGO_BIN_EXE_qualtrics-roster"))
        .args(["users", "list", "--format", "csv"])
        .env(
            "QUALTRICS_BASE_URL",
            format!("http://127.0.0.1:{}/sandbox/API/v3", fill.sandbox_port),
        )
        .env("QUALTRICS_API_TOKEN", &brand.admin_token)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("new.hire@example.org"), "{listed}");
    let participant = participant(&brand, "new.hire@example.org")
        .await
        .expect("the new hire is in the CX directory");
    assert_eq!(
        participant["metadata"]["Department"], "Front desk",
        "the walkthrough's event set the attribute the generated configuration maps: {participant}"
    );
}

/// The CX directory participant with `username`, read through the sandbox's API.
async fn participant(brand: &Server, username: &str) -> Option<serde_json::Value> {
    let client = reqwest::Client::new();
    let url = format!(
        "{}/sandbox/API/v3/employee-directories/cx/participants?includeMetadata=true&pageSize=100",
        brand.url
    );
    let mut skip: Option<String> = None;
    loop {
        let body = match &skip {
            Some(t) => serde_json::json!({ "skipToken": t }),
            None => serde_json::json!({}),
        };
        let answer = client
            .post(&url)
            .header("x-api-token", &brand.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        if answer.status() == 429 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let page: serde_json::Value = answer.json().await.unwrap();
        let page = page.get("result").unwrap_or(&page).clone();
        if let Some(found) = page["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["username"] == username)
        {
            return Some(found.clone());
        }
        // The last page has no skip token: not found.
        skip = Some(page["skipToken"].as_str()?.to_string());
    }
}
