//! Where a native host connects and with which credential: an API token or an OAuth client
//! read from the environment or a credentials file (never from arguments), the datacenter
//! given or discovered by the core's connect run (whoami, and the datacenter Qualtrics names
//! followed).

use std::path::{Path, PathBuf};

use qualtrics_roster::api::connection::{Auth, Connection, Datacenter};
use qualtrics_roster::api::error::ApiError;
use qualtrics_roster::api::oauth::{self, ClientCredentials};
use qualtrics_roster::api::users::Whoami;
use qualtrics_roster::exec::{AuditEntry, ExecConfig};
use qualtrics_roster::run::{ConnectError, ConnectJob, Credential, Route, Run};

use crate::client::{unix_millis, Control, TokenSource, Transport};
use crate::Error;

/// Environment variable holding an API token.
pub const ENV_API_TOKEN: &str = "QUALTRICS_API_TOKEN";
/// Environment variable holding an OAuth client ID.
pub const ENV_CLIENT_ID: &str = "QUALTRICS_CLIENT_ID";
/// Environment variable holding an OAuth client secret.
pub const ENV_CLIENT_SECRET: &str = "QUALTRICS_CLIENT_SECRET";
/// The datacenter asked first when none is given (unverified for OAuth token requests: give
/// `--datacenter` if the token request fails there).
pub use qualtrics_roster::api::users::DISCOVERY_DATACENTER;

/// Where to connect and how: the command line's flags, or the hooks' `[qualtrics]` settings.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The brand's datacenter id (iad1, fra1…). Without it, Qualtrics is asked (whoami).
    pub datacenter: Option<String>,
    /// Call this API base URL instead of https://{datacenter}.qualtrics.com/API/v3.
    pub base_url: Option<String>,
    /// Go through a qualtrics-roster relay (http://host:8080/relay).
    pub relay: Option<String>,
    /// A credentials file (must not be readable by other users).
    pub credentials: Option<PathBuf>,
    /// OAuth scopes to ask for, space-separated.
    pub scope: String,
    /// Allow a plain http:// base URL or relay on another machine.
    pub insecure_http: bool,
}

/// The credential the host was given.
enum Secret {
    ApiToken(String),
    Client { id: String, secret: String },
}

/// A connection ready to use, with its credential source.
pub struct Session {
    /// The HTTP client.
    pub transport: Transport,
    /// Where requests go, with the current credential.
    pub conn: Connection,
    /// OAuth tokens, when connected with a client.
    pub tokens: Option<TokenSource>,
    /// Who the credential belongs to.
    pub who: Whoami,
    /// What the user should know about the connection (datacenter switched, proxied calls).
    pub notes: Vec<String>,
    /// The requests connecting took (`whoami`, each datacenter asked), for the audit.
    pub audit: Vec<AuditEntry>,
}

impl Session {
    /// Connects: reads the credential, then runs the core's connect ([`ConnectJob`]: the OAuth
    /// token if needed, `whoami`, the brand's own datacenter when Qualtrics names another).
    pub async fn open(target: &Target) -> Result<Session, Error> {
        let secret = read_secret(target.credentials.as_deref())?;
        match &secret {
            Secret::ApiToken(t) => crate::secrets::remember(t),
            Secret::Client { secret, .. } => crate::secrets::remember(secret),
        }
        let given_dc = target
            .datacenter
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let route = route_of(target, given_dc.unwrap_or(DISCOVERY_DATACENTER))?;
        let credential = match &secret {
            Secret::ApiToken(t) => {
                Credential::Token(Auth::api_token(t).map_err(|e| Error::Auth(e.to_string()))?)
            }
            Secret::Client { id, secret } => Credential::Client(
                ClientCredentials::new(id, secret, &target.scope)
                    .map_err(|e| Error::Auth(e.to_string()))?,
            ),
        };
        let transport = Transport::new();
        let mut run =
            ConnectJob::new(route, credential.clone()).run(ExecConfig::default(), unix_millis());
        transport
            .drive(&mut run, None, |_, _| Control::Continue)
            .await;
        let audit = run.audit().to_vec();
        let job = run.job();
        let oauth = matches!(credential, Credential::Client(_));
        if let Some(token) = job.token() {
            crate::secrets::remember(token.secret());
        }
        let (Some(conn), Some(connected)) = (job.connection(), job.connected()) else {
            return Err(match job.failure() {
                Some(failure) => connect_error(failure.clone(), oauth),
                None => Error::Unreachable(
                    run.error()
                        .unwrap_or("Connecting did not finish.")
                        .to_string(),
                ),
            });
        };
        let mut notes: Vec<String> = job
            .moves()
            .iter()
            .map(|home| {
                let home = home.as_str();
                match given_dc {
                    Some(given) => format!("Qualtrics says this brand is on datacenter {home}, not {given}: using {home} (set QUALTRICS_DATACENTER={home} to skip this step)."),
                    None => format!("Qualtrics says this brand is on datacenter {home}: using it (set QUALTRICS_DATACENTER={home} to skip this step)."),
                }
            })
            .collect();
        notes.extend(connected.notice.clone());
        let tokens = match credential {
            Credential::Client(client) => Some(TokenSource::new(
                client,
                job.route().token_url(),
                job.token().cloned(),
            )),
            Credential::Token(_) => None,
        };
        Ok(Session {
            transport,
            conn: conn.clone(),
            tokens,
            who: connected.who.clone(),
            notes,
            audit,
        })
    }

    /// The connection with a credential that is not about to expire.
    pub async fn fresh_conn(&mut self) -> Result<Connection, Error> {
        if let Some(source) = &self.tokens {
            let auth = source.current(&self.transport).await.map_err(oauth_error)?;
            self.conn = self.conn.with_auth(auth);
        }
        Ok(self.conn.clone())
    }
}

/// Where requests go, as the flags say: `--base-url` as given, else `--relay` or Qualtrics
/// itself for datacenter `dc`. Credentials never go over plain http to another machine.
fn route_of(target: &Target, dc: &str) -> Result<Route, Error> {
    for url in [target.base_url.as_deref(), target.relay.as_deref()]
        .into_iter()
        .flatten()
    {
        refuse_plain_http(url, target.insecure_http)?;
    }
    if let Some(base) = target.base_url.as_deref() {
        return Ok(Route::Direct(base.trim().to_string()));
    }
    let dc = Datacenter::parse(dc).map_err(|e| Error::Input(e.to_string()))?;
    Ok(match target.relay.as_deref() {
        Some(relay) => Route::Relay {
            relay: relay.trim().trim_end_matches('/').to_string(),
            dc,
        },
        None => Route::Datacenter(dc),
    })
}

/// A failed connect as an [`Error`] (for the CLI, an exit code).
fn connect_error(failure: ConnectError, oauth: bool) -> Error {
    match failure {
        ConnectError::Connection(e) => Error::Input(e.to_string()),
        ConnectError::Unreachable { place, detail } => Error::Unreachable(format!(
            "Could not reach Qualtrics at {place}: {detail}. Check --datacenter (or --base-url) and the network."
        )),
        ConnectError::Api(e) => api_error(e, oauth),
        ConnectError::OAuth(e) => oauth_error(e),
        ConnectError::Cancelled => Error::Unreachable(failure.to_string()),
    }
}

/// Credentials never go over plain `http://` to another machine: only to this one (loopback:
/// the sandbox, a relay on the same host), or when the user says `--insecure-http`.
fn refuse_plain_http(url: &str, allowed: bool) -> Result<(), Error> {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return Ok(()); // the connection reports the malformed URL itself
    };
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if parsed.scheme() == "http" && !loopback && !allowed {
        return Err(Error::Input(format!(
            "Refusing to send credentials over plain http to {}: use an https:// address, or add --insecure-http if this network is trusted. Nothing was sent.",
            parsed.host_str().unwrap_or("?")
        )));
    }
    Ok(())
}

/// An API failure as an [`Error`]: credentials refused is an auth failure, the rest is Qualtrics
/// being unavailable or refusing.
#[must_use]
pub fn api_error(e: ApiError, oauth: bool) -> Error {
    match e {
        ApiError::Unauthorized { .. } if oauth => Error::Auth(
            "Qualtrics refused the OAuth access token (HTTP 401) even after fetching a new one: check that the OAuth client is still active."
                .into(),
        ),
        ApiError::Unauthorized { .. }
        | ApiError::Forbidden { .. }
        | ApiError::MissingCredentials { .. } => Error::Auth(e.to_string()),
        other => Error::Unreachable(other.to_string()),
    }
}

/// An OAuth failure: a refused client is an auth failure, an unreachable endpoint is not.
#[must_use]
pub fn oauth_error(e: oauth::OAuthError) -> Error {
    match e {
        oauth::OAuthError::Unreachable { .. } => Error::Unreachable(e.to_string()),
        other => Error::Auth(other.to_string()),
    }
}

/// Reads the credential: `QUALTRICS_API_TOKEN`, or `QUALTRICS_CLIENT_ID` with
/// `QUALTRICS_CLIENT_SECRET`, or the credentials file (`--credentials`, or
/// `~/.config/qualtrics-roster/credentials` when it exists) with `api_token = …` or
/// `client_id = …` and `client_secret = …` lines. The file must not be readable by others.
fn read_secret(file: Option<&Path>) -> Result<Secret, Error> {
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(token) = env(ENV_API_TOKEN) {
        return Ok(Secret::ApiToken(token));
    }
    match (env(ENV_CLIENT_ID), env(ENV_CLIENT_SECRET)) {
        (Some(id), Some(secret)) => return Ok(Secret::Client { id, secret }),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Auth(format!(
                "{ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} go together: set both, or neither."
            )))
        }
        (None, None) => {}
    }
    let default_file = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".config/qualtrics-roster/credentials"))
        .filter(|p| p.exists());
    let Some(path) = file.map(Path::to_path_buf).or(default_file) else {
        return Err(Error::Auth(format!(
            "No Qualtrics credentials: set {ENV_API_TOKEN} (an API token), or {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (an OAuth client), or give --credentials FILE. Credentials are never taken as arguments."
        )));
    };
    let shown = path.display();
    let text = read_private_file(&path)?;
    let mut values = std::collections::HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(Error::Auth(format!(
                "{shown}: every line is key = value (api_token, or client_id and client_secret)."
            )));
        };
        values.insert(
            k.trim().to_ascii_lowercase(),
            v.trim().trim_matches('"').to_string(),
        );
    }
    let get = |k: &str| values.get(k).cloned().filter(|v| !v.is_empty());
    if let Some(token) = get("api_token") {
        return Ok(Secret::ApiToken(token));
    }
    match (get("client_id"), get("client_secret")) {
        (Some(id), Some(secret)) => Ok(Secret::Client { id, secret }),
        _ => Err(Error::Auth(format!(
            "{shown} has no api_token, nor both client_id and client_secret."
        ))),
    }
}

fn read_private_file(path: &Path) -> Result<String, Error> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::Auth(format!("Cannot read the credentials file {shown}: {e}.")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Auth(format!(
                "The credentials file {shown} can be read by other users (mode {:o}): run chmod 600 {shown} first.",
                mode & 0o777
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    std::fs::read_to_string(path)
        .map_err(|e| Error::Auth(format!("Cannot read the credentials file {shown}: {e}.")))
}
