//! Native HTTP for the core: performs the core's requests with reqwest and drives its runs on
//! the wall clock (the native driver, written once). Used by the CLI, the integration tests
//! and the benchmarks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qualtrics_roster::api::connection::{Auth, Connection};
use qualtrics_roster::api::directory::Participant;
use qualtrics_roster::api::http::{HttpRequest, HttpResponse, Method};
use qualtrics_roster::api::oauth::{AccessToken, ClientCredentials, OAuthError};
use qualtrics_roster::api::users::UserSummary;
use qualtrics_roster::exec::{retry_single, ExecConfig, TransportFailure};
use qualtrics_roster::membership::Snapshot;
use qualtrics_roster::run::{PullJob, PullRun, Run, RunProgress, UsersRun};

/// Milliseconds since the Unix epoch, from the system clock.
#[must_use]
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub use qualtrics_roster::run::{Control, RunEnd};

/// Performs requests built by the core.
#[derive(Clone)]
pub struct Transport {
    http: reqwest::Client,
}

impl Default for Transport {
    fn default() -> Self {
        Transport::new()
    }
}

impl Transport {
    /// A client that never follows redirects and gives up on a request after 60 s.
    #[must_use]
    pub fn new() -> Transport {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .expect("the HTTP client builds");
        Transport { http }
    }

    /// Sends one request; a missing or broken answer is a [`TransportFailure`].
    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportFailure> {
        perform(&self.http, request).await
    }

    /// Sends a single request that is not a run's step (whoami, the OAuth token request),
    /// trying again by the executor's own rule ([`retry_single`]: a dropped connection, 429
    /// or 5xx, up to six attempts with the same backoff). Each attempt is handed to `each`
    /// (for the audit) with when it was sent.
    pub async fn send_retrying(
        &self,
        request: &HttpRequest,
        mut each: impl FnMut(u64, &Result<HttpResponse, TransportFailure>),
    ) -> Result<HttpResponse, TransportFailure> {
        let config = ExecConfig::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent_at = unix_millis();
            let answer = self.send(request).await;
            each(sent_at, &answer);
            // The jitter's draw: the clock's low bits are random enough for spreading retries.
            let draw = unix_millis().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
            match retry_single(&config, attempt, &answer, draw) {
                Some(wait) => tokio::time::sleep(Duration::from_millis(wait)).await,
                None => return answer,
            }
        }
    }

    /// The native driver: drives `run` to the end of its current stage on the wall clock
    /// with the core's one driver loop ([`qualtrics_roster::run::drive`]), renewing an OAuth
    /// token from `tokens` when it asks for one (a run made renewable). `after` is called
    /// after each batch of answers with the run's progress event, if any, and may cancel or
    /// kill the run.
    pub async fn drive<R: Run + ?Sized>(
        &self,
        run: &mut R,
        tokens: Option<&TokenSource>,
        after: impl FnMut(&mut R, Option<RunProgress>) -> Control,
    ) -> RunEnd {
        let carrier = Carrier {
            transport: self,
            tokens,
        };
        let end = qualtrics_roster::run::drive(&mut &mut *run, &carrier, after).await;
        assert_ne!(
            end,
            RunEnd::Stuck,
            "the run has nothing in flight, nothing scheduled, and is not finished"
        );
        end
    }

    /// Every user of the brand (a [`UsersRun`] driven to its end), or why not.
    pub async fn list_users(&self, conn: &Connection) -> Result<Vec<UserSummary>, ReadStopped> {
        let run = UsersRun::list_users(conn.clone(), ExecConfig::default(), false, unix_millis());
        Ok(self.read_listing(run).await?.job().users_read().to_vec())
    }

    /// Every participant of the CX directory, with attributes, or why not.
    pub async fn list_participants(
        &self,
        conn: &Connection,
    ) -> Result<Vec<Participant>, ReadStopped> {
        let run =
            UsersRun::list_directory(conn.clone(), ExecConfig::default(), false, unix_millis());
        Ok(self
            .read_listing(run)
            .await?
            .job()
            .participants_read()
            .to_vec())
    }

    /// Drives a listing run to its end: the run with what it read, or why it stopped.
    async fn read_listing(&self, mut run: UsersRun) -> Result<UsersRun, ReadStopped> {
        self.drive(&mut run, None, |_, _| Control::Continue).await;
        match run.error().or(run.stop_reason()) {
            Some(e) => Err(ReadStopped(e.to_string())),
            None => Ok(run),
        }
    }

    /// The membership pull (a [`PullRun`] driven to its end), with `config` for its pacing.
    pub async fn pull_membership(
        &self,
        conn: &Connection,
        config: &ExecConfig,
    ) -> Result<Snapshot, ReadStopped> {
        let mut run = PullRun::new(
            conn.clone(),
            PullJob::new(),
            config.clone(),
            false,
            unix_millis(),
        );
        self.drive(&mut run, None, |_, _| Control::Continue).await;
        match (run.error().or(run.stop_reason()), run.job().snapshot()) {
            (None, Some(snapshot)) => Ok(snapshot.clone()),
            (e, _) => Err(ReadStopped(
                e.unwrap_or("the pull did not finish").to_string(),
            )),
        }
    }
}

/// Why reading the brand (a listing, a pull) stopped before its end, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReadStopped(pub String);

/// The native host's side of the core's driver loop: reqwest, tokio's timer, the system
/// clock, and the OAuth client's tokens.
struct Carrier<'a> {
    transport: &'a Transport,
    tokens: Option<&'a TokenSource>,
}

impl qualtrics_roster::run::Transport for Carrier<'_> {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, TransportFailure>> {
        // Polled by the driver loop beside the others in flight (reqwest's connections do
        // their I/O on the runtime), and dropped with it: a killed run abandons its requests.
        let http = self.transport.http.clone();
        async move { perform(&http, &request).await }
    }
    fn sleep(&self, ms: u64) -> impl std::future::Future<Output = ()> {
        tokio::time::sleep(Duration::from_millis(ms))
    }
    fn now(&self) -> u64 {
        unix_millis()
    }
    async fn renew(&self) -> Result<Auth, String> {
        match self.tokens {
            Some(source) => source
                .renew(self.transport)
                .await
                .map_err(|e| e.to_string()),
            None => Err("no credential to renew".into()),
        }
    }
}

async fn perform(
    http: &reqwest::Client,
    request: &HttpRequest,
) -> Result<HttpResponse, TransportFailure> {
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Delete => reqwest::Method::DELETE,
    };
    let mut builder = http.request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let response = builder
        .send()
        .await
        .map_err(|e| TransportFailure(describe(&e)))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = response
        .bytes()
        .await
        .map_err(|_| TransportFailure("the connection broke while reading the answer".into()))?;
    Ok(HttpResponse {
        status,
        headers,
        body: body.to_vec(),
    })
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the connection broke before an answer".into()
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// OAuth access tokens for one client: fetched when first needed, reused until shortly before
/// they expire ([`qualtrics_roster::api::oauth::REFRESH_MARGIN_MS`]), fetched anew on demand (after
/// a 401). The secret and the tokens never appear in a message.
pub struct TokenSource {
    credentials: ClientCredentials,
    token_url: String,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
}

impl TokenSource {
    /// Tokens for `credentials` from `token_url` (see [`qualtrics_roster::api::oauth::token_url`]),
    /// starting with `token` when connecting fetched one already.
    #[must_use]
    pub fn new(
        credentials: ClientCredentials,
        token_url: String,
        token: Option<AccessToken>,
    ) -> TokenSource {
        TokenSource {
            credentials,
            token_url,
            cached: tokio::sync::Mutex::new(token),
        }
    }

    /// A token that is not about to expire: the cached one, or a new one.
    pub async fn current(&self, transport: &Transport) -> Result<Auth, OAuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.is_fresh(unix_millis())) {
            return Ok(token.auth());
        }
        let token = self.fetch(transport).await?;
        let auth = token.auth();
        *cached = Some(token);
        Ok(auth)
    }

    /// A new token whatever the cache holds (the last one was refused).
    pub async fn renew(&self, transport: &Transport) -> Result<Auth, OAuthError> {
        let mut cached = self.cached.lock().await;
        let token = self.fetch(transport).await?;
        let auth = token.auth();
        *cached = Some(token);
        Ok(auth)
    }

    async fn fetch(&self, transport: &Transport) -> Result<AccessToken, OAuthError> {
        let token = self.fetch_once(transport).await?;
        crate::secrets::remember(token.secret());
        Ok(token)
    }

    async fn fetch_once(&self, transport: &Transport) -> Result<AccessToken, OAuthError> {
        let request = self.credentials.token_request(&self.token_url);
        match transport.send_retrying(&request, |_, _| {}).await {
            Ok(response) => self.credentials.parse_token(&response, unix_millis()),
            Err(TransportFailure(detail)) => Err(OAuthError::Unreachable {
                host: host_of(&self.token_url),
                detail,
            }),
        }
    }
}
