//! Connecting, as a run like the others: the OAuth token (for a client), `whoami`, and the
//! brand's own datacenter followed when Qualtrics names another one (at most twice), each
//! request paced, retried and audited by the executor. Every host connects through it (the
//! page, the pane, the CLI, the hooks), so the datacenter rule and the messages are written
//! once; a host only says where to go ([`Route`]) and with what ([`Credential`]), drives the
//! run, and reads [`ConnectJob::connection`] and [`ConnectJob::connected`] at its end.

use crate::api::connection::{Auth, Connection, ConnectionError, Datacenter};
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::oauth::{self, AccessToken, ClientCredentials, OAuthError};
use crate::api::users::{self, Connected, WhoamiError};
use crate::exec::{ExecConfig, Outcome, OutcomeStatus, Step, StepUpdate};
use crate::time::UnixMillis;

use super::{Next, PhaseContext, PhasedRun, Phases, RunStep};

/// Qualtrics' datacenter is followed at most this many times in one connect (then the last
/// one is used as it is, rather than followed round).
const MAX_MOVES: usize = 2;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// An API base URL used as given (the sandbox, a test double): never moved.
    Direct(String),
    /// `https://{dc}.qualtrics.com/API/v3`.
    Datacenter(Datacenter),
    /// Through a qualtrics-roster relay at `relay` (its address without a trailing slash).
    Relay {
        /// The relay's address.
        relay: String,
        /// The datacenter the relay forwards to.
        dc: Datacenter,
    },
}

impl Route {
    /// The connection along this route with `auth`.
    pub fn connection(&self, auth: Auth) -> Result<Connection, ConnectionError> {
        match self {
            Route::Direct(base) => Connection::direct(base, auth),
            Route::Datacenter(dc) => Connection::direct(
                &format!("https://{}.qualtrics.com/API/v3", dc.as_str()),
                auth,
            ),
            Route::Relay { relay, dc } => Connection::via_relay(relay, dc.as_str(), auth),
        }
    }

    /// Where an OAuth client asks for its token along this route.
    #[must_use]
    pub fn token_url(&self) -> String {
        match self {
            Route::Direct(base) => oauth::token_url(base),
            Route::Datacenter(dc) => format!("https://{}.qualtrics.com/oauth2/token", dc.as_str()),
            Route::Relay { relay, dc } => format!("{relay}/{}/oauth2/token", dc.as_str()),
        }
    }

    /// The route in words, for messages ("fra1.qualtrics.com").
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Route::Direct(base) => base.clone(),
            Route::Datacenter(dc) => format!("{}.qualtrics.com", dc.as_str()),
            Route::Relay { relay, dc } => format!("{relay} (datacenter {})", dc.as_str()),
        }
    }

    /// The datacenter asked (none for a direct address).
    #[must_use]
    pub fn datacenter(&self) -> Option<&Datacenter> {
        match self {
            Route::Direct(_) => None,
            Route::Datacenter(dc) | Route::Relay { dc, .. } => Some(dc),
        }
    }

    /// The same route to datacenter `dc`.
    fn to(&self, dc: Datacenter) -> Route {
        match self {
            Route::Direct(base) => Route::Direct(base.clone()),
            Route::Datacenter(_) => Route::Datacenter(dc),
            Route::Relay { relay, .. } => Route::Relay {
                relay: relay.clone(),
                dc,
            },
        }
    }
}

/// Where and how a host connects with an API token, as the page gives it: through the relay
/// at `url` (`relay`: true; `datacenter` blank lets Qualtrics name the brand's own), or to the
/// API base `url` directly (the sandbox).
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
#[serde(rename_all = "camelCase")]
pub struct ConnectSpec {
    /// Through the relay.
    #[serde(default)]
    pub relay: bool,
    /// The relay's address, or the API base URL.
    pub url: String,
    /// The datacenter to ask first (relay only).
    #[serde(default)]
    pub datacenter: Option<String>,
    /// The API token.
    pub token: String,
}

impl ConnectSpec {
    /// The connect the spec asks for, its token and address checked before anything is sent.
    ///
    /// # Errors
    /// [`ConnectionError`]: no token, an address or datacenter that cannot be used.
    pub fn job(&self) -> Result<ConnectJob, ConnectionError> {
        let auth = Auth::api_token(&self.token)?;
        let route = match self.relay {
            false => Route::Direct(self.url.trim().to_string()),
            true => Route::Relay {
                relay: self.url.trim().trim_end_matches('/').to_string(),
                dc: Datacenter::parse(self.datacenter.as_deref().unwrap_or_default())
                    .or_else(|_| Datacenter::parse(users::DISCOVERY_DATACENTER))?,
            },
        };
        route.connection(auth.clone())?;
        Ok(ConnectJob::new(route, Credential::Token(auth)))
    }
}

/// What a host connects with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// An API token (or a bearer token the host already holds).
    Token(Auth),
    /// An OAuth client: a token is asked for first, at each datacenter.
    Client(ClientCredentials),
}

/// Why connecting failed. Messages never contain a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The address or datacenter cannot make a connection.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// No answer (or only failures) after the executor's retries.
    #[error("Could not reach Qualtrics at {place}: {detail}.")]
    Unreachable {
        /// Where it was asked ([`Route::describe`]).
        place: String,
        /// The last failure.
        detail: String,
    },
    /// Qualtrics answered whoami with an error (a refused token, a user who may not).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The OAuth client got no token.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The host cancelled it.
    #[error("Connecting was cancelled.")]
    Cancelled,
}

/// One request of a connect: the token request or whoami, prebuilt for its own route and
/// credential (the run's connection changes with the datacenter, so the step carries its
/// own). It takes every answer (a refusal is the connect's result, not the run's stop).
#[derive(Debug, Clone)]
pub struct ConnectStep {
    key: &'static str,
    request: HttpRequest,
    answer: Option<HttpResponse>,
    no_answer: Option<String>,
}

impl ConnectStep {
    fn new(key: &'static str, request: HttpRequest) -> ConnectStep {
        ConnectStep {
            key,
            request,
            answer: None,
            no_answer: None,
        }
    }
}

impl Step for ConnectStep {
    fn key(&self) -> &str {
        self.key
    }
    fn request(&self, _conn: &Connection) -> HttpRequest {
        self.request.clone()
    }
    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        self.answer = Some(response.clone());
        StepUpdate::Finished {
            status: OutcomeStatus::Done,
            message: "answered".into(),
        }
    }
    fn fingerprint(&self) -> String {
        String::new()
    }
    fn on_ambiguous_failure(&mut self, why: &str) -> Option<StepUpdate> {
        // Asking again is harmless: the executor retries it, and the last failure is kept
        // to say why when it gives up.
        self.no_answer = Some(why.to_string());
        None
    }
    fn takes_refusals(&self) -> bool {
        true
    }
}

/// Connecting's state: see the module documentation.
#[derive(Debug)]
pub struct ConnectJob {
    route: Route,
    /// None for [`ConnectJob::whoami_on`], which asks along a connection already made.
    credential: Option<Credential>,
    fixed: Option<Connection>,
    token: Option<AccessToken>,
    conn: Option<Connection>,
    connected: Option<Connected>,
    moves: Vec<Datacenter>,
    failure: Option<ConnectError>,
}

impl ConnectJob {
    /// A connect along `route` with `credential`.
    #[must_use]
    pub fn new(route: Route, credential: Credential) -> ConnectJob {
        ConnectJob {
            route,
            credential: Some(credential),
            fixed: None,
            token: None,
            conn: None,
            connected: None,
            moves: Vec::new(),
            failure: None,
        }
    }

    /// Who the credential of `conn` belongs to, asked along `conn` as it is (nothing is moved):
    /// for a client made without connecting, before its first plan.
    #[must_use]
    pub fn whoami_on(conn: Connection) -> ConnectJob {
        ConnectJob {
            route: Route::Direct(conn.url("").trim_end_matches('/').to_string()),
            credential: None,
            fixed: Some(conn),
            token: None,
            conn: None,
            connected: None,
            moves: Vec::new(),
            failure: None,
        }
    }

    /// The run that connects (driven like any other: see [`crate::run::Run`]).
    #[must_use]
    pub fn run(self, config: ExecConfig, now: UnixMillis) -> ConnectRun {
        // The executor's own connection is never used: each step carries its request.
        let placeholder = Connection::direct(
            "https://connecting.invalid/API/v3",
            Auth::api_token("connecting").expect("a valid placeholder token"),
        )
        .expect("a valid placeholder URL");
        PhasedRun::new(placeholder, self, config, false, now)
    }

    /// The connection to use, once connected (on the brand's own datacenter, with the
    /// credential that worked).
    #[must_use]
    pub fn connection(&self) -> Option<&Connection> {
        self.connected.as_ref().and(self.conn.as_ref())
    }

    /// Who the credential belongs to, once connected.
    #[must_use]
    pub fn connected(&self) -> Option<&Connected> {
        self.connected.as_ref()
    }

    /// The route in use (moved to the brand's datacenter, once Qualtrics named it).
    #[must_use]
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The datacenters moved to, in order (empty when the first one was the brand's).
    #[must_use]
    pub fn moves(&self) -> &[Datacenter] {
        &self.moves
    }

    /// The OAuth access token connecting fetched (a client's credential), to reuse until it
    /// expires.
    #[must_use]
    pub fn token(&self) -> Option<&AccessToken> {
        self.token.as_ref()
    }

    /// The connection and who the credential belongs to, once connected; else why not (`None`:
    /// the run has not finished).
    ///
    /// # Errors
    /// The [`ConnectJob::failure`], if any.
    pub fn outcome(&self) -> Result<(&Connection, &Connected), Option<&ConnectError>> {
        match (self.connection(), self.connected()) {
            (Some(conn), Some(connected)) => Ok((conn, connected)),
            _ => Err(self.failure()),
        }
    }

    /// Why connecting failed, if it did.
    #[must_use]
    pub fn failure(&self) -> Option<&ConnectError> {
        self.failure.as_ref()
    }

    /// The first request at the current route: the token request, or whoami.
    fn first(&mut self) -> Result<Next, ConnectError> {
        match (&self.fixed, &self.credential) {
            (Some(conn), _) => Ok(self.ask_whoami(conn.clone())),
            (None, Some(Credential::Client(client))) => {
                let request = client.token_request(&self.route.token_url());
                Ok(reading("token", ConnectStep::new("connect:token", request)))
            }
            (None, Some(Credential::Token(auth))) => self.whoami(auth.clone()),
            (None, None) => unreachable!("a connect has a credential or a connection"),
        }
    }

    fn whoami(&mut self, auth: Auth) -> Result<Next, ConnectError> {
        let conn = self.route.connection(auth)?;
        Ok(self.ask_whoami(conn))
    }

    fn ask_whoami(&mut self, conn: Connection) -> Next {
        let request = users::whoami_request(&conn);
        self.conn = Some(conn);
        reading("whoami", ConnectStep::new("connect:whoami", request))
    }

    /// The answer of the step that finished, or why there is none.
    fn answer(&self, finished: Vec<(RunStep, Outcome)>) -> Result<HttpResponse, ConnectError> {
        let unreachable = |detail: String| ConnectError::Unreachable {
            place: self.route.describe(),
            detail,
        };
        let Some((RunStep::Connect(step), outcome)) = finished.into_iter().next() else {
            return Err(unreachable("nothing was sent".into()));
        };
        match step.answer {
            Some(answer) => Ok(answer),
            None if outcome.status == OutcomeStatus::Skipped => Err(ConnectError::Cancelled),
            None => Err(unreachable(step.no_answer.unwrap_or(outcome.message))),
        }
    }

    fn step(
        &mut self,
        finished: Vec<(RunStep, Outcome)>,
        now: UnixMillis,
    ) -> Result<Next, ConnectError> {
        let key = finished.first().map(|(s, _)| s.key().to_string());
        match key.as_deref() {
            None => self.first(),
            Some("connect:token") => {
                let answer = self.answer(finished).map_err(|e| match e {
                    ConnectError::Unreachable { detail, .. } => {
                        let url = self.route.token_url();
                        let host = url::Url::parse(&url)
                            .ok()
                            .and_then(|u| u.host_str().map(str::to_string))
                            .unwrap_or(url);
                        ConnectError::OAuth(OAuthError::Unreachable { host, detail })
                    }
                    other => other,
                })?;
                let Some(Credential::Client(client)) = &self.credential else {
                    unreachable!("only a client asks for a token")
                };
                let token = client.parse_token(&answer, now)?;
                let auth = token.auth();
                self.token = Some(token);
                self.whoami(auth)
            }
            Some(_) => {
                let answer = self.answer(finished)?;
                let connected = users::connected(&answer, self.route.datacenter())
                    .map_err(|WhoamiError::Api(e)| e)?;
                match connected.switch_to.as_deref().map(Datacenter::parse) {
                    Some(Ok(home)) if self.moves.len() < MAX_MOVES => {
                        self.route = self.route.to(home.clone());
                        self.moves.push(home);
                        self.first()
                    }
                    _ => {
                        self.connected = Some(connected);
                        Ok(Next::Done)
                    }
                }
            }
        }
    }
}

fn reading(phase: &'static str, step: ConnectStep) -> Next {
    Next::Reading(phase, vec![RunStep::Connect(step)])
}

impl Phases for ConnectJob {
    const KIND: &'static str = "connect";

    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next {
        if ctx.halted && !finished.is_empty() && self.connected.is_none() {
            let failure = match self.answer(finished) {
                Err(e) => e,
                Ok(_) => ConnectError::Cancelled,
            };
            let message = failure.to_string();
            self.failure = Some(failure);
            return Next::Failed(message);
        }
        match self.step(finished, ctx.now) {
            Ok(next) => next,
            Err(failure) => {
                let message = failure.to_string();
                self.failure = Some(failure);
                Next::Failed(message)
            }
        }
    }
}

/// Connects: see [`ConnectJob`].
pub type ConnectRun = PhasedRun<ConnectJob>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Run;

    fn whoami(datacenter: &str) -> HttpResponse {
        HttpResponse::new(
            200,
            format!(
                r#"{{"result":{{"userId":"UR_me","userName":"me@x.org","accountType":"UT_BRANDADMIN","datacenter":"{datacenter}"}},"meta":{{"httpStatus":"200 - OK"}}}}"#
            ),
        )
    }

    /// Drives `run` with `answer` (the request's URL → its answer) on a virtual clock; returns
    /// the URLs asked, in order.
    fn drive(
        run: &mut ConnectRun,
        mut answer: impl FnMut(&HttpRequest) -> Result<HttpResponse, crate::exec::TransportFailure>,
    ) -> Vec<String> {
        let (mut now, mut asked) = (1_000_000, Vec::new());
        for _ in 0..200 {
            let poll = run.poll(now);
            if run.is_finished() {
                return asked;
            }
            for out in poll.send {
                asked.push(out.request.url.clone());
                let a = answer(&out.request);
                run.handle(out.id, now, a);
            }
            now = poll.wake_at.unwrap_or(now).max(now + 10);
        }
        panic!("the connect did not finish");
    }

    fn relay(dc: &str) -> Route {
        Route::Relay {
            relay: "https://relay.example".into(),
            dc: Datacenter::parse(dc).unwrap(),
        }
    }

    #[test]
    fn the_datacenter_qualtrics_names_is_followed_once_and_the_connection_is_made_there() {
        let token = Credential::Token(Auth::api_token("tok").unwrap());
        let mut run = ConnectJob::new(relay("iad1"), token).run(ExecConfig::default(), 0);
        let asked = drive(&mut run, |_| Ok(whoami("fra1")));
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert!(asked[0].contains("/iad1/"), "{asked:?}");
        assert!(asked[1].contains("/fra1/"), "{asked:?}");
        let job = run.job();
        assert_eq!(job.moves().len(), 1);
        assert_eq!(job.connected().unwrap().switch_to, None);
        assert_eq!(
            job.connection().unwrap().datacenter().unwrap().as_str(),
            "fra1"
        );
        assert_eq!(run.audit().len(), 2);
    }

    #[test]
    fn whoami_along_a_connection_already_made_asks_once_and_moves_nowhere() {
        let conn = relay("iad1")
            .connection(Auth::api_token("tok").unwrap())
            .unwrap();
        let mut run = ConnectJob::whoami_on(conn).run(ExecConfig::default(), 0);
        let mut first = true;
        let asked = drive(&mut run, |_| {
            Ok(if std::mem::take(&mut first) {
                HttpResponse::new(503, "")
            } else {
                whoami("fra1")
            })
        });
        assert_eq!(asked.len(), 2, "retried once: {asked:?}");
        assert!(asked.iter().all(|u| u.contains("/iad1/")), "{asked:?}");
        assert!(run.job().moves().is_empty());
        assert_eq!(
            run.job().connected().unwrap().who.user_id.as_deref(),
            Some("UR_me")
        );
    }

    #[test]
    fn a_client_asks_for_its_token_first_and_connects_with_it() {
        let client = ClientCredentials::new("id", "secret", "read:users").unwrap();
        let route = Route::Direct("https://sandbox.example/API/v3".into());
        let mut run =
            ConnectJob::new(route, Credential::Client(client)).run(ExecConfig::default(), 0);
        let asked = drive(&mut run, |r| {
            Ok(if r.url.ends_with("/oauth2/token") {
                HttpResponse::new(200, r#"{"access_token":"AT","expires_in":3600}"#)
            } else {
                assert!(r
                    .headers
                    .iter()
                    .any(|(n, v)| n == "authorization" && v == "Bearer AT"));
                whoami("iad1")
            })
        });
        assert_eq!(
            asked,
            [
                "https://sandbox.example/oauth2/token",
                "https://sandbox.example/API/v3/whoami"
            ]
        );
        // A direct address is never moved, whatever Qualtrics names.
        assert!(run.job().moves().is_empty());
        assert!(run.job().token().is_some());
        assert!(run.job().connection().is_some());
    }

    #[test]
    fn a_refused_token_is_the_connects_answer_and_a_dead_host_says_where() {
        let token = Credential::Token(Auth::api_token("bad").unwrap());
        let mut run = ConnectJob::new(relay("iad1"), token.clone()).run(ExecConfig::default(), 0);
        drive(&mut run, |_| {
            Ok(HttpResponse::new(
                401,
                r#"{"meta":{"httpStatus":"401 - Unauthorized","error":{"errorMessage":"bad token"}}}"#,
            ))
        });
        assert!(
            matches!(
                run.job().failure(),
                Some(ConnectError::Api(ApiError::Unauthorized { .. }))
            ),
            "{:?}",
            run.job().failure()
        );
        assert!(run.job().connection().is_none());

        // A 503 is asked again; no answer at all ends, after the executor's retries, naming
        // where it was asked.
        let mut run = ConnectJob::new(relay("iad1"), token.clone()).run(ExecConfig::default(), 0);
        let mut first = true;
        let asked = drive(&mut run, |_| {
            Ok(if std::mem::take(&mut first) {
                HttpResponse::new(503, "")
            } else {
                whoami("iad1")
            })
        });
        assert_eq!(asked.len(), 2);
        assert!(run.job().connection().is_some());
        let mut run = ConnectJob::new(relay("iad1"), token).run(ExecConfig::default(), 0);
        let asked = drive(&mut run, |_| {
            Err(crate::exec::TransportFailure::no_answer(
                "connection refused",
            ))
        });
        assert!(asked.len() > 1, "retried: {asked:?}");
        match run.job().failure() {
            Some(ConnectError::Unreachable { place, detail }) => {
                assert!(place.contains("relay.example"), "{place}");
                assert!(detail.contains("connection refused"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}
