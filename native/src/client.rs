//! Native HTTP for the core: performs the core's requests with ureq and drives its runs on
//! the wall clock (the native driver, written once). Used by the CLI, the integration tests
//! and the benchmarks.
//!
//! ureq is a blocking client without hyper or tower, so the CLI links no server stack. Each
//! request is carried on a thread of its own and its answer handed back through a channel:
//! the driver polls every request in flight beside the others, the runtime is never blocked,
//! and a request the driver drops (a killed run) is simply not waited for (its thread ends
//! with its answer or its timeout; nothing, not even the runtime's shutdown, waits on it).

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

/// How long a request may take, from connecting to the last byte of its answer, before it
/// ends as "timed out" (a missing answer, which the executor retries).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Performs requests built by the core.
#[derive(Clone)]
pub struct Transport {
    /// For https: through the proxy the environment names (`HTTPS_PROXY`, `ALL_PROXY`), if any,
    /// as a tunnel the proxy cannot read.
    http: ureq::Agent,
    /// For plain http (only ever to loopback: the sandbox, a local relay): never through a
    /// proxy, where a token would cross in the clear.
    direct: ureq::Agent,
}

impl Default for Transport {
    fn default() -> Self {
        Transport::new()
    }
}

impl Transport {
    /// A client that never follows redirects and gives up on a request after
    /// [`REQUEST_TIMEOUT`].
    #[must_use]
    pub fn new() -> Transport {
        Transport::with_timeout(REQUEST_TIMEOUT)
    }

    /// A client like [`Transport::new`] that gives up on a request after `timeout` (the tests of
    /// a slow answer use a short one).
    #[must_use]
    pub fn with_timeout(timeout: Duration) -> Transport {
        let agent = |proxy: Option<ureq::Proxy>| {
            ureq::Agent::config_builder()
                .proxy(proxy)
                // A redirect is answered as it is, never followed (credentials go only where the
                // connection says).
                .max_redirects(0)
                // 4xx and 5xx are answers for the core to judge, not errors.
                .http_status_as_error(false)
                .timeout_global(Some(timeout))
                // As many idle connections kept as requests the executor has in flight.
                .max_idle_connections(256)
                .max_idle_connections_per_host(64)
                // No User-Agent of the client's own, as before (the core's headers are all sent).
                .user_agent(ureq::config::AutoHeaderValue::None)
                .build()
                .new_agent()
        };
        Transport {
            http: agent(ureq::Proxy::try_from_env()),
            direct: agent(None),
        }
    }

    /// Sends one request; a missing or broken answer is a [`TransportFailure`].
    pub async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportFailure> {
        perform(self.agent_for(&request.url).clone(), request.clone()).await
    }

    /// The agent a request to `url` goes through: plain http never through a proxy.
    fn agent_for(&self, url: &str) -> &ureq::Agent {
        if url.starts_with("https:") {
            &self.http
        } else {
            &self.direct
        }
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
        match run.failure() {
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
        match (run.failure(), run.job().snapshot()) {
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

/// The native host's side of the core's driver loop: ureq (a thread per request), tokio's
/// timer, the system clock, and the OAuth client's tokens.
struct Carrier<'a> {
    transport: &'a Transport,
    tokens: Option<&'a TokenSource>,
}

impl qualtrics_roster::run::Transport for Carrier<'_> {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl std::future::Future<Output = Result<HttpResponse, TransportFailure>> {
        // Polled by the driver loop beside the others in flight (each request's I/O is on a
        // thread of its own), and dropped with it: a killed run abandons its requests.
        perform(self.transport.agent_for(&request.url).clone(), request)
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

/// Carries `request` on a thread of its own and awaits its answer; dropping the future
/// abandons the request (its thread ends on its own, within the timeout).
async fn perform(
    http: ureq::Agent,
    request: HttpRequest,
) -> Result<HttpResponse, TransportFailure> {
    let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("roster-http".into())
        .spawn(move || {
            // The receiver may be gone (the request was abandoned): nobody to tell.
            let _ = answer_tx.send(perform_blocking(&http, request));
        });
    if spawned.is_err() {
        return Err(TransportFailure::no_answer("could not connect"));
    }
    answer_rx.await.unwrap_or_else(|_| {
        Err(TransportFailure::no_answer(
            "the connection broke before an answer",
        ))
    })
}

fn perform_blocking(
    http: &ureq::Agent,
    request: HttpRequest,
) -> Result<HttpResponse, TransportFailure> {
    let method = match request.method {
        Method::Get => ureq::http::Method::GET,
        Method::Post => ureq::http::Method::POST,
        Method::Put => ureq::http::Method::PUT,
        Method::Delete => ureq::http::Method::DELETE,
    };
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(request.url.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let sent = match request.body {
        Some(body) => builder.body(body).map(|r| http.run(r)),
        // POST and PUT say their (empty) length; GET and DELETE send no body at all.
        None if matches!(request.method, Method::Post | Method::Put) => {
            builder.body(Vec::new()).map(|r| http.run(r))
        }
        None => builder.body(()).map(|r| http.run(r)),
    };
    let mut response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            return Err(match refused_here(&e) {
                Some(why) => TransportFailure::not_retryable(why),
                None => TransportFailure::no_answer(describe(&e)),
            })
        }
        // A header or URL the HTTP library refuses: nothing was sent, nor ever will be.
        Err(_) => return Err(TransportFailure::not_retryable(UNBUILDABLE)),
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => TransportFailure::not_retryable(oversize(status)),
            _ => TransportFailure::no_answer("the connection broke while reading the answer"),
        })?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The largest answer read (ureq's own default, 10 MB): Qualtrics pages are far smaller.
pub const MAX_ANSWER_BYTES: u64 = 10 * 1024 * 1024;

/// Why a request the HTTP library will not build is not sent (never its URL or headers: a
/// header may hold the token).
const UNBUILDABLE: &str = "this request could not be sent: its address or a header is not valid HTTP (nothing was sent; sending it again would fail the same way)";

/// Why an answer over [`MAX_ANSWER_BYTES`] is not read, for a request answered `status`.
fn oversize(status: u16) -> String {
    format!(
        "the answer (HTTP {status}) is over the {} MB this client reads, so it was not read and the request is not sent again; whether it changed anything shows when the sheet is planned again",
        MAX_ANSWER_BYTES / (1024 * 1024)
    )
}

/// The words for a failure of `e` that is this client's refusal rather than the connection's
/// (a request it cannot build, an answer over its limits): sending it again would fail the
/// same way, so it is not retried. `None`: the connection failed or broke ([`describe`]).
fn refused_here(e: &ureq::Error) -> Option<String> {
    match e {
        ureq::Error::Http(_) | ureq::Error::BadUri(_) | ureq::Error::RequireHttpsOnly(_) => {
            Some(UNBUILDABLE.to_string())
        }
        ureq::Error::InvalidProxyUrl => Some(
            "the proxy the environment names (HTTPS_PROXY or ALL_PROXY) is not a valid address: fix or unset it (nothing was sent)".to_string(),
        ),
        ureq::Error::BodyExceedsLimit(_) | ureq::Error::LargeResponseHeader(..) => Some(format!(
            "the answer is over the limits this client reads ({} MB), so it was not read and the request is not sent again; whether it changed anything shows when the sheet is planned again",
            MAX_ANSWER_BYTES / (1024 * 1024)
        )),
        _ => None,
    }
}

/// The words for a request that got no answer, the same whichever client carried it.
fn describe(e: &ureq::Error) -> String {
    use std::io::ErrorKind;
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::Tls(_)
        | ureq::Error::Rustls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::TlsRequired => "could not connect".into(),
        ureq::Error::Io(io) if io.kind() == ErrorKind::TimedOut => "timed out".into(),
        // A refused certificate or handshake, met while the TLS stream is read or written.
        ureq::Error::Io(io) if io.get_ref().is_some_and(is_tls_error) => "could not connect".into(),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::AddrNotAvailable
            ) =>
        {
            "could not connect".into()
        }
        _ => "the connection broke before an answer".into(),
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// Whether `e` is a TLS error (rustls's, named through ureq's own variant for it, so this crate
/// needs no rustls of its own).
fn is_tls_error(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    fn is<T: std::error::Error + 'static>(
        _variant: fn(T) -> ureq::Error,
        e: &(dyn std::error::Error + Send + Sync + 'static),
    ) -> bool {
        e.downcast_ref::<T>().is_some()
    }
    is(ureq::Error::Rustls, e)
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
            Err(TransportFailure { why: detail, .. }) => Err(OAuthError::Unreachable {
                host: host_of(&self.token_url),
                detail,
            }),
        }
    }
}
