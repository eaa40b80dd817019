//! Native HTTP for the core: performs the core's requests with reqwest and drives its listing
//! and executor on the wall clock. Used by the integration tests, the benchmarks and the CLI.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qualtrics_roster::connection::{Auth, Connection};
use qualtrics_roster::error::ApiError;
use qualtrics_roster::exec::{Executor, Step, TransportFailure};
use qualtrics_roster::http::{HttpRequest, HttpResponse, Method};
use qualtrics_roster::oauth::{AccessToken, ClientCredentials, OAuthError};
use qualtrics_roster::users::{ListError, UserListing, UserSummary};
use tokio::task::JoinSet;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the caller of [`Transport::run`] wants after each answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Cancel: nothing new is sent; answers on their way are still taken.
    Cancel,
    /// Stop at once, abandoning requests in flight (a killed process, a closed page).
    Kill,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every row has an outcome.
    Finished,
    /// Stopped by [`Control::Kill`].
    Killed,
}

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

    /// Sends a listing's page request until `parse` accepts the answer, retrying busy or failed
    /// pages as [`ListError::retry_delay_ms`] says.
    async fn page<T>(
        &self,
        request: &HttpRequest,
        mut parse: impl FnMut(&HttpResponse) -> Result<T, ListError>,
    ) -> Result<T, ListError> {
        let mut attempt = 1;
        loop {
            let result = match self.send(request).await {
                Ok(response) => parse(&response),
                Err(TransportFailure(detail)) => Err(ListError::Api(ApiError::Network {
                    host: host_of(&request.url),
                    detail,
                })),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e) => match e.retry_delay_ms(attempt) {
                    Some(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        attempt += 1;
                    }
                    None => return Err(e),
                },
            }
        }
    }

    /// Lists every user, retrying transient failures of a page.
    pub async fn list_users(&self, conn: &Connection) -> Result<Vec<UserSummary>, ListError> {
        let mut listing = UserListing::users(conn);
        let mut users = Vec::new();
        while let Some(request) = listing.next_request(conn) {
            users.extend(
                self.page(&request, |r| listing.on_response(conn, r))
                    .await?
                    .elements,
            );
        }
        Ok(users)
    }

    /// Drives `exec` to the end on the wall clock. `after_answer` is called after each batch of
    /// answers and may cancel or kill the run.
    pub async fn run<S: Step>(
        &self,
        exec: &mut Executor<S>,
        after_answer: impl FnMut(&mut Executor<S>) -> Control,
    ) -> RunEnd {
        self.run_renewing(exec, None, after_answer).await
    }

    /// [`Transport::run`], renewing an OAuth token from `tokens` when the executor (made with
    /// `renew_credentials_on_401`) asks for one.
    pub async fn run_renewing<S: Step>(
        &self,
        exec: &mut Executor<S>,
        tokens: Option<&TokenSource>,
        mut after_answer: impl FnMut(&mut Executor<S>) -> Control,
    ) -> RunEnd {
        let mut in_flight: JoinSet<(u64, Result<HttpResponse, TransportFailure>)> = JoinSet::new();
        let mut cancelled = false;
        loop {
            let poll = exec.poll(unix_millis());
            if poll.needs_auth {
                match tokens {
                    Some(source) => match source.renew(self).await {
                        Ok(auth) => exec.renew_auth(auth),
                        Err(e) => exec.auth_failed(&e.to_string(), unix_millis()),
                    },
                    None => exec.auth_failed("no credential to renew", unix_millis()),
                }
                continue;
            }
            for out in poll.send {
                let http = self.http.clone();
                in_flight.spawn(async move { (out.id, perform(&http, &out.request).await) });
            }
            if exec.is_finished() {
                return RunEnd::Finished;
            }
            let wait = poll
                .wake_at
                .map(|t| Duration::from_millis(t.saturating_sub(unix_millis())));
            tokio::select! {
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let mut answers = vec![joined];
                    while let Some(more) = in_flight.try_join_next() {
                        answers.push(more);
                    }
                    for answer in answers {
                        let (id, result) = answer.expect("request tasks do not panic");
                        exec.on_response(id, unix_millis(), result);
                    }
                    match after_answer(exec) {
                        Control::Continue => {}
                        Control::Cancel if !cancelled => {
                            cancelled = true;
                            exec.cancel(unix_millis());
                        }
                        Control::Cancel => {}
                        Control::Kill => {
                            in_flight.abort_all();
                            return RunEnd::Killed;
                        }
                    }
                }
                _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {}
                else => panic!("the executor has nothing in flight, nothing scheduled, and is not finished"),
            }
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

impl Transport {
    /// Every participant of the CX directory, with attributes, retrying busy pages.
    pub async fn list_participants(
        &self,
        conn: &Connection,
    ) -> Result<Vec<qualtrics_roster::directory::Participant>, ListError> {
        let mut listing = qualtrics_roster::directory::ParticipantListing::default();
        let mut all = Vec::new();
        while let Some(request) = listing.next_request(conn) {
            all.extend(self.page(&request, |r| listing.on_response(r)).await?);
        }
        Ok(all)
    }

    /// The membership pull, as the page runs it: users, groups and the CX directory side by
    /// side, then every group's members, each phase through an executor with `config`.
    pub async fn pull_membership(
        &self,
        conn: &Connection,
        config: &qualtrics_roster::exec::ExecConfig,
    ) -> Result<qualtrics_roster::membership::Snapshot, String> {
        use qualtrics_roster::exec::Outcome;
        use qualtrics_roster::membership::{self, Snapshot};
        let mut exec = Executor::new(
            conn.clone(),
            membership::pull_steps(conn),
            config.clone(),
            unix_millis(),
        );
        self.run(&mut exec, |_| Control::Continue).await;
        let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        let mut snapshot = Snapshot::from_first_phase(exec.steps(), &outcomes)?;
        let mut exec = Executor::new(
            conn.clone(),
            membership::member_steps(conn, &snapshot.group_list()),
            config.clone(),
            unix_millis(),
        );
        self.run(&mut exec, |_| Control::Continue).await;
        let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        snapshot.add_members(exec.steps(), &outcomes)?;
        Ok(snapshot)
    }

    /// Applies a provisioning plan phase by phase (see `ProvisionRun`), with `config` for
    /// every phase's executor. Returns the run, holding every row's outcome.
    pub async fn apply_provision(
        &self,
        conn: &Connection,
        run: &mut qualtrics_roster::provision::ProvisionRun,
        config: &qualtrics_roster::exec::ExecConfig,
    ) -> Result<(), ListError> {
        use qualtrics_roster::exec::Outcome;
        use qualtrics_roster::provision::ProvisionStep;
        async fn phase(
            t: &Transport,
            conn: &Connection,
            run: &mut qualtrics_roster::provision::ProvisionRun,
            steps: Vec<ProvisionStep>,
            config: &qualtrics_roster::exec::ExecConfig,
        ) {
            if steps.is_empty() {
                return;
            }
            let mut exec = Executor::new(conn.clone(), steps, config.clone(), unix_millis());
            t.run(&mut exec, |_| Control::Continue).await;
            let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
            run.record(exec.steps(), &outcomes);
        }
        let steps = run.account_steps();
        phase(self, conn, run, steps, config).await;
        for _ in 0..2 {
            if run.uncertain().is_empty() {
                break;
            }
            let users = self.list_users(conn).await?;
            let retries = run.resolve_uncertain(&users);
            phase(self, conn, run, retries, config).await;
        }
        let participants = self.list_participants(conn).await?;
        let jobs = run.import_steps(&participants);
        phase(self, conn, run, jobs, config).await;
        Ok(())
    }
}

/// OAuth access tokens for one client: fetched when first needed, reused until shortly before
/// they expire ([`qualtrics_roster::oauth::REFRESH_MARGIN_MS`]), fetched anew on demand (after
/// a 401). The secret and the tokens never appear in a message.
pub struct TokenSource {
    credentials: ClientCredentials,
    token_url: String,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
}

impl TokenSource {
    /// Tokens for `credentials` from `token_url` (see [`qualtrics_roster::oauth::token_url`]).
    pub fn new(credentials: ClientCredentials, token_url: String) -> TokenSource {
        TokenSource {
            credentials,
            token_url,
            cached: tokio::sync::Mutex::new(None),
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
        let request = self.credentials.token_request(&self.token_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match transport.send(&request).await {
                Ok(response) if response.status >= 500 && attempt < 3 => {}
                Ok(response) => return self.credentials.parse_token(&response, unix_millis()),
                Err(TransportFailure(detail)) if attempt >= 3 => {
                    return Err(OAuthError::Unreachable {
                        host: host_of(&self.token_url),
                        detail,
                    })
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
        }
    }
}
