//! Where requests go and with which credential.
//!
//! A [`Connection`] is either *direct* (a base URL such as `https://iad1.qualtrics.com/API/v3`,
//! or the sandbox's `http://localhost:8080/sandbox/API/v3`) or *through the relay*
//! (`http://localhost:8080/relay` + a datacenter id). Every URL the core sends to, including
//! `nextPage` URLs Qualtrics hands back, passes [`Connection::resolve`], which maps Qualtrics
//! hosts onto the relay and refuses anything else, so the token only ever goes to the brand's
//! datacenter, the relay, or the sandbox.

use std::fmt;

use thiserror::Error;
use url::Url;

use crate::api::http::{HttpRequest, Method};

/// A Qualtrics datacenter id such as `iad1`, `fra1`, `co1` or `eu`: 2 to 4 lower-case letters
/// and at most one digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datacenter(String);

/// A datacenter id that is not of the form Qualtrics uses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("\"{0}\" is not a Qualtrics datacenter id: use the id shown under Account Settings > Qualtrics IDs, such as iad1, fra1 or co1 (2 to 4 letters and at most one digit, without .qualtrics.com).")]
pub struct BadDatacenter(pub String);

impl Datacenter {
    /// Checks `[a-z]{2,4}[0-9]?`; surrounding spaces and upper case are forgiven.
    pub fn parse(input: &str) -> Result<Datacenter, BadDatacenter> {
        let id = input.trim().to_ascii_lowercase();
        if is_datacenter_id(&id) {
            Ok(Datacenter(id))
        } else {
            Err(BadDatacenter(input.trim().chars().take(40).collect()))
        }
    }

    /// The id, e.g. `iad1`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{id}.qualtrics.com`.
    #[must_use]
    pub fn host(&self) -> String {
        format!("{}.qualtrics.com", self.0)
    }
}

/// True for `[a-z]{2,4}[0-9]?` exactly.
#[must_use]
pub fn is_datacenter_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let letters = bytes.iter().take_while(|b| b.is_ascii_lowercase()).count();
    let rest = &bytes[letters..];
    (2..=4).contains(&letters) && (rest.is_empty() || (rest.len() == 1 && rest[0].is_ascii_digit()))
}

/// The datacenter id of a Qualtrics API host: `iad1.qualtrics.com` and the brand vanity form
/// `acme.co1.qualtrics.com` both give their datacenter id; any other host gives `None`.
#[must_use]
pub fn datacenter_of_host(host: &str) -> Option<Datacenter> {
    let host = host.to_ascii_lowercase();
    let stem = host.strip_suffix(".qualtrics.com")?;
    let labels: Vec<&str> = stem.split('.').collect();
    let ok_brand =
        |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match labels.as_slice() {
        [dc] if is_datacenter_id(dc) => Some(Datacenter(dc.to_string())),
        [brand, dc] if ok_brand(brand) && is_datacenter_id(dc) => Some(Datacenter(dc.to_string())),
        _ => None,
    }
}

/// The credential sent with every request. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `X-API-TOKEN: <token>`.
    ApiToken(String),
    /// `Authorization: Bearer <token>` (OAuth client credentials).
    Bearer(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::ApiToken(_) => f.write_str("ApiToken(<redacted>)"),
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// An API token as typed by the user; refuses an empty one.
    pub fn api_token(token: &str) -> Result<Auth, ConnectionError> {
        let t = token.trim();
        if t.is_empty() {
            return Err(ConnectionError::EmptyToken);
        }
        if t.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ConnectionError::MalformedToken);
        }
        Ok(Auth::ApiToken(t.to_string()))
    }

    fn header(&self) -> (String, String) {
        match self {
            Auth::ApiToken(t) => ("x-api-token".into(), t.clone()),
            Auth::Bearer(t) => ("authorization".into(), format!("Bearer {t}")),
        }
    }
}

/// Why a connection could not be set up, or a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectionError {
    /// See [`BadDatacenter`].
    #[error(transparent)]
    BadDatacenter(#[from] BadDatacenter),
    /// No token typed.
    #[error("Enter an API token: find it under Account Settings > Qualtrics IDs in Qualtrics.")]
    EmptyToken,
    /// A token with spaces or control characters inside.
    #[error("The API token contains spaces or line breaks: paste it again as one word.")]
    MalformedToken,
    /// The base or relay URL does not parse.
    #[error("\"{0}\" is not a usable http(s) address.")]
    BadBaseUrl(String),
    /// A URL (usually a `nextPage`) that points outside the brand's datacenter, the relay and the sandbox.
    #[error("Refusing to send your token to {host}: Qualtrics pointed to a host that is neither a qualtrics.com datacenter nor this connection's server.")]
    UntrustedHost {
        /// The host that was refused.
        host: String,
    },
}

/// Where requests are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// Straight to a base URL that ends in `/API/v3`.
    Direct { base: Url },
    /// Through the relay: `{relay}/{datacenter}/API/v3/...`.
    Relay { relay: Url, datacenter: Datacenter },
}

/// A route plus a credential: builds every request's URL and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    route: Route,
    auth: Auth,
}

impl Connection {
    /// Calls a base URL directly, e.g. `https://iad1.qualtrics.com/API/v3` or the sandbox's
    /// `http://localhost:8080/sandbox/API/v3`.
    pub fn direct(base_url: &str, auth: Auth) -> Result<Connection, ConnectionError> {
        let base = parse_http_url(base_url)?;
        Ok(Connection {
            route: Route::Direct { base },
            auth,
        })
    }

    /// Calls Qualtrics through the relay at `relay_url` (e.g. `http://localhost:8080/relay`).
    pub fn via_relay(
        relay_url: &str,
        datacenter: &str,
        auth: Auth,
    ) -> Result<Connection, ConnectionError> {
        let relay = parse_http_url(relay_url)?;
        let datacenter = Datacenter::parse(datacenter)?;
        Ok(Connection {
            route: Route::Relay { relay, datacenter },
            auth,
        })
    }

    /// The same route with another credential (a renewed OAuth token).
    #[must_use]
    pub fn with_auth(&self, auth: Auth) -> Connection {
        Connection {
            route: self.route.clone(),
            auth,
        }
    }

    /// The datacenter, when going through the relay.
    #[must_use]
    pub fn datacenter(&self) -> Option<&Datacenter> {
        match &self.route {
            Route::Relay { datacenter, .. } => Some(datacenter),
            Route::Direct { .. } => None,
        }
    }

    /// The absolute URL of an API path such as `users` or `users/UR_1?x=y`.
    #[must_use]
    pub fn url(&self, api_path: &str) -> String {
        let api_path = api_path.trim_start_matches('/');
        match &self.route {
            Route::Direct { base } => {
                format!("{}/{}", base.as_str().trim_end_matches('/'), api_path)
            }
            Route::Relay { relay, datacenter } => format!(
                "{}/{}/API/v3/{}",
                relay.as_str().trim_end_matches('/'),
                datacenter.as_str(),
                api_path
            ),
        }
    }

    /// Maps a URL Qualtrics handed back (a `nextPage`) to the URL to call, keeping its path and
    /// query exactly. Through the relay, the relay alone decides the host, so any `.../API/v3/...`
    /// URL is followed by its API path and query: on a `*.qualtrics.com` host, to that
    /// datacenter; on any other host (a stand-in behind the relay), to this connection's
    /// datacenter. Direct, a URL on the connection's own origin or a Qualtrics host is used as
    /// given. Anything else is refused.
    pub fn resolve(&self, url: &str) -> Result<String, ConnectionError> {
        let parsed = Url::parse(url).map_err(|_| ConnectionError::UntrustedHost {
            host: url.chars().take(80).collect(),
        })?;
        let host = parsed.host_str().unwrap_or("").to_string();
        let untrusted = || ConnectionError::UntrustedHost { host: host.clone() };
        let qualtrics_dc = (parsed.scheme() == "https" && parsed.port().is_none())
            .then(|| datacenter_of_host(&host))
            .flatten();
        let path_and_query = match parsed.query() {
            Some(q) => format!("{}?{}", parsed.path(), q),
            None => parsed.path().to_string(),
        };
        match &self.route {
            Route::Relay { relay, datacenter } => {
                if same_origin(&parsed, relay) && parsed.path().starts_with(relay.path()) {
                    return Ok(parsed.to_string());
                }
                let dc = qualtrics_dc.as_ref().unwrap_or(datacenter);
                match path_and_query.find("/API/v3/") {
                    Some(at) if qualtrics_dc.is_none() || at == 0 => Ok(format!(
                        "{}/{}{}",
                        relay.as_str().trim_end_matches('/'),
                        dc.as_str(),
                        &path_and_query[at..]
                    )),
                    _ => Err(untrusted()),
                }
            }
            Route::Direct { base } => {
                if same_origin(&parsed, base) || qualtrics_dc.is_some() {
                    return Ok(parsed.to_string());
                }
                Err(untrusted())
            }
        }
    }

    /// A request to an absolute URL with the credential and JSON headers set.
    #[must_use]
    pub fn request(&self, method: Method, url: String, body: Option<Vec<u8>>) -> HttpRequest {
        let mut headers = vec![
            self.auth.header(),
            ("accept".into(), "application/json".into()),
        ];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        HttpRequest {
            method,
            url,
            headers,
            body,
        }
    }
}

fn parse_http_url(s: &str) -> Result<Url, ConnectionError> {
    let url = Url::parse(s.trim()).map_err(|_| ConnectionError::BadBaseUrl(s.trim().into()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConnectionError::BadBaseUrl(s.trim().into()));
    }
    Ok(url)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Auth {
        Auth::api_token("abc123").unwrap()
    }

    #[test]
    fn datacenter_ids() {
        for ok in ["iad1", "fra1", "co1", "eu", "sjc1", " IAD1 "] {
            assert!(Datacenter::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "i",
            "iad12",
            "evil.example",
            "127.0.0.1",
            "iad1.qualtrics.com",
            "iad1.qualtrics.com.evil.example",
            "abcde1",
            "1iad",
            "ia-d",
            "../x",
        ] {
            let err = Datacenter::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("is not a Qualtrics datacenter id"),
                "{bad}"
            );
        }
    }

    #[test]
    fn host_to_datacenter() {
        assert_eq!(
            datacenter_of_host("az1.qualtrics.com").unwrap().as_str(),
            "az1"
        );
        assert_eq!(
            datacenter_of_host("conjoint.co1.qualtrics.com")
                .unwrap()
                .as_str(),
            "co1"
        );
        assert!(datacenter_of_host("qualtrics.com").is_none());
        assert!(datacenter_of_host("iad1.qualtrics.com.evil.example").is_none());
        assert!(datacenter_of_host("a.b.iad1.qualtrics.com").is_none());
    }

    #[test]
    fn token_is_required_and_never_debug_printed() {
        assert_eq!(Auth::api_token("  "), Err(ConnectionError::EmptyToken));
        assert_eq!(
            Auth::api_token("ab cd"),
            Err(ConnectionError::MalformedToken)
        );
        let conn = Connection::via_relay(
            "http://127.0.0.1:8080/relay",
            "iad1",
            Auth::api_token("SeCrEt").unwrap(),
        )
        .unwrap();
        assert!(!format!("{conn:?}").contains("SeCrEt"));
        let req = conn.request(Method::Get, conn.url("whoami"), None);
        assert_eq!(req.header("X-API-TOKEN"), Some("SeCrEt"));
        assert!(!format!("{req:?}").contains("SeCrEt"));
    }

    #[test]
    fn relay_urls_and_next_page_mapping() {
        let conn = Connection::via_relay("http://127.0.0.1:8080/relay/", "iad1", token()).unwrap();
        assert_eq!(
            conn.url("users"),
            "http://127.0.0.1:8080/relay/iad1/API/v3/users"
        );
        // nextPage changes host and carries proxy parameters: both kept, host becomes the relay path.
        let next = "https://az1.qualtrics.com/API/v3/users?offset=100&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D";
        assert_eq!(
            conn.resolve(next).unwrap(),
            "http://127.0.0.1:8080/relay/az1/API/v3/users?offset=100&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D"
        );
        assert_eq!(
            conn.resolve("https://acme.co1.qualtrics.com/API/v3/users?offset=200")
                .unwrap(),
            "http://127.0.0.1:8080/relay/co1/API/v3/users?offset=200"
        );
        // Through the relay the relay decides the host: a nextPage on any other host (a stand-in
        // behind the relay names its own) is followed by its API path and query, through the
        // relay to this connection's datacenter, and never to the host it names.
        for foreign in [
            "https://evil.example/API/v3/users?offset=100",
            "http://az1.qualtrics.com/API/v3/users?offset=100",
            "https://az1.qualtrics.com:8443/API/v3/users?offset=100",
            "https://iad1.qualtrics.com.evil.example/API/v3/users?offset=100",
            "http://127.0.0.1:9999/relay/iad1/API/v3/users?offset=100",
            "http://127.0.0.1:3000/sandbox/API/v3/users?offset=100",
        ] {
            assert_eq!(
                conn.resolve(foreign).unwrap(),
                "http://127.0.0.1:8080/relay/iad1/API/v3/users?offset=100",
                "{foreign}"
            );
        }
        for bad in [
            "https://iad1.qualtrics.com/oauth2/token",
            "https://evil.example/oauth2/token",
            "https://evil.example/users",
            // Look-alike and non-ASCII hosts (url reads hosts as ASCII only: they do not parse).
            "https://\u{0456}ad1.qualtrics.com/API/v3/users",
            "https://iad1.qualtrics.c\u{00f6}m/API/v3/users",
            "not a url",
        ] {
            assert!(
                matches!(
                    conn.resolve(bad),
                    Err(ConnectionError::UntrustedHost { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn direct_urls_follow_same_origin_and_qualtrics_only() {
        let conn = Connection::direct("http://127.0.0.1:8080/sandbox/API/v3", token()).unwrap();
        assert_eq!(
            conn.url("/users/UR_1"),
            "http://127.0.0.1:8080/sandbox/API/v3/users/UR_1"
        );
        let same = "http://127.0.0.1:8080/sandbox/API/v3/users?offset=100";
        assert_eq!(conn.resolve(same).unwrap(), same);
        assert!(conn
            .resolve("http://127.0.0.2:8080/sandbox/API/v3/users")
            .is_err());
        assert!(conn
            .resolve("https://iad1.qualtrics.com/API/v3/users?offset=1")
            .is_ok());
        assert!(Connection::direct("ftp://x/y", token()).is_err());
        assert!(Connection::direct("/relative", token()).is_err());
    }
}
