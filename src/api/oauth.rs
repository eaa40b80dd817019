//! OAuth 2.0 client credentials, as Qualtrics offers them for unattended runs: the token
//! request (`POST https://{dc}.qualtrics.com/oauth2/token`, HTTP Basic with the client ID and
//! secret, `grant_type=client_credentials`, scopes), its answer parsed into a bearer token with
//! an expiry, and when to fetch a new one. Sans-IO: the caller sends the request and passes the
//! time in.

use crate::api::connection::Auth;
use crate::api::http::{HttpRequest, HttpResponse, Method};
use base64::Engine;
use serde::Deserialize;

/// A token is fetched again this long before Qualtrics says it expires.
pub const REFRESH_MARGIN_MS: u64 = 60_000;

/// A client ID and secret with the scopes to ask for. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The OAuth client's ID.
    pub client_id: String,
    secret: String,
    /// Space-separated scopes (e.g. `read:users write:users`); empty asks for the client's own.
    pub scope: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

/// Why a token could not be had. Messages never contain the secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// ID or secret empty.
    #[error("The OAuth client ID and secret are both needed (QUALTRICS_CLIENT_ID and QUALTRICS_CLIENT_SECRET, or a credentials file).")]
    Missing,
    /// Qualtrics refused the client (wrong, expired or revoked secret).
    #[error("Qualtrics refused the OAuth client \"{client_id}\" (HTTP {status}: {reason}): check the client ID and secret, or create a new secret under Account Settings > Qualtrics IDs > OAuth clients.")]
    Refused {
        /// The client ID.
        client_id: String,
        /// HTTP status.
        status: u16,
        /// Qualtrics' error code (`invalid_client`…).
        reason: String,
    },
    /// The token endpoint could not be reached.
    #[error("Could not reach the OAuth token endpoint at {host} ({detail}): check the datacenter and the network.")]
    Unreachable {
        /// The endpoint's host.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// An answer that is not a token.
    #[error("The token endpoint answered HTTP {status} without a token: {detail}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
}

impl ClientCredentials {
    /// Credentials as read from the environment or a file; refuses empty parts.
    pub fn new(client_id: &str, secret: &str, scope: &str) -> Result<Self, OAuthError> {
        let (id, secret) = (client_id.trim(), secret.trim());
        if id.is_empty() || secret.is_empty() {
            return Err(OAuthError::Missing);
        }
        Ok(ClientCredentials {
            client_id: id.to_string(),
            secret: secret.to_string(),
            scope: scope.trim().to_string(),
        })
    }

    /// The token request to `token_url` (see [`token_url`]).
    #[must_use]
    pub fn token_request(&self, token_url: &str) -> HttpRequest {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.client_id, self.secret));
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("grant_type", "client_credentials");
        if !self.scope.is_empty() {
            body.append_pair("scope", &self.scope);
        }
        HttpRequest {
            method: Method::Post,
            url: token_url.to_string(),
            headers: vec![
                ("authorization".into(), format!("Basic {basic}")),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("accept".into(), "application/json".into()),
            ],
            body: Some(body.finish().into_bytes()),
        }
    }

    /// Reads the token endpoint's answer, received at `now_ms`.
    pub fn parse_token(
        &self,
        response: &HttpResponse,
        now_ms: u64,
    ) -> Result<AccessToken, OAuthError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: Option<String>,
            expires_in: Option<u64>,
            error: Option<String>,
        }
        let answer: Option<Answer> = serde_json::from_slice(&response.body).ok();
        if matches!(response.status, 400 | 401 | 403) {
            return Err(OAuthError::Refused {
                client_id: self.client_id.clone(),
                status: response.status,
                reason: answer
                    .and_then(|a| a.error)
                    .unwrap_or_else(|| "refused".into()),
            });
        }
        let malformed = |detail: &str| OAuthError::Malformed {
            status: response.status,
            detail: detail.into(),
        };
        let answer = answer.ok_or_else(|| malformed("the answer is not JSON"))?;
        match (response.status, answer.access_token) {
            (200..=299, Some(token)) if !token.trim().is_empty() => Ok(AccessToken {
                token,
                // Qualtrics documents 3600 s; without expires_in, assume it.
                expires_at_ms: now_ms
                    .saturating_add(answer.expires_in.unwrap_or(3600).saturating_mul(1000)),
            }),
            _ => Err(malformed("no access_token in it")),
        }
    }
}

/// A bearer token and when it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken(<redacted>, expires {})", self.expires_at_ms)
    }
}

impl AccessToken {
    /// Whether it can still be used at `now_ms` (not within [`REFRESH_MARGIN_MS`] of expiry).
    #[must_use]
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms.saturating_add(REFRESH_MARGIN_MS) < self.expires_at_ms
    }

    /// The access token itself, for a host that must keep it out of what it prints (never to
    /// log or show).
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.token
    }

    /// The credential to send with API requests.
    #[must_use]
    pub fn auth(&self) -> Auth {
        Auth::Bearer(self.token.clone())
    }
}

/// The token endpoint beside an API base URL: `https://iad1.qualtrics.com/API/v3` gives
/// `https://iad1.qualtrics.com/oauth2/token` (the sandbox's `…/sandbox/API/v3` gives
/// `…/sandbox/oauth2/token`).
#[must_use]
pub fn token_url(api_base: &str) -> String {
    let base = api_base.trim_end_matches('/');
    let root = base.strip_suffix("/API/v3").unwrap_or(base);
    format!("{root}/oauth2/token")
}

/// The OAuth scope a call needs, as Qualtrics' client settings name them (`read:` for a GET,
/// `write:` otherwise, of the call's family: `users` (whoami too), `groups`, `divisions`,
/// `organizations`, and `participants` for the CX directory — the last is presumed, as
/// `qualtrics-api.md` §2 notes it is unverified). A missing scope is HTTP 403, which Qualtrics
/// also answers a user who is not a Brand Administrator, so messages name both.
#[must_use]
pub fn scope_needed(method: &str, path: &str) -> String {
    let rest = path
        .split("/API/v3/")
        .nth(1)
        .unwrap_or_else(|| path.trim_start_matches('/'));
    let family = match rest.split(['/', '?']).next().unwrap_or_default() {
        "groups" => "groups",
        "divisions" => "divisions",
        "organizations" => "organizations",
        "employee-directories" => "participants",
        _ => "users",
    };
    let access = if method.eq_ignore_ascii_case("GET") {
        "read"
    } else {
        "write"
    };
    format!("{access}:{family}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_a_call_needs_comes_from_its_method_and_family() {
        assert_eq!(
            scope_needed("PUT", "/sandbox/API/v3/users/UR_1"),
            "write:users"
        );
        assert_eq!(
            scope_needed("GET", "/API/v3/users?offset=100"),
            "read:users"
        );
        assert_eq!(
            scope_needed("DELETE", "/relay/iad1/API/v3/groups/GR_1/members/UR_1"),
            "write:groups"
        );
        assert_eq!(
            scope_needed(
                "POST",
                "/API/v3/employee-directories/cx/import-participants"
            ),
            "write:participants"
        );
    }

    fn creds() -> ClientCredentials {
        ClientCredentials::new("client-1", "s3cret", "read:users write:users").unwrap()
    }

    #[test]
    fn the_token_request_is_basic_auth_with_a_form_body() {
        let r = creds().token_request(&token_url("https://iad1.qualtrics.com/API/v3/"));
        assert_eq!(r.url, "https://iad1.qualtrics.com/oauth2/token");
        assert_eq!(r.method, Method::Post);
        // base64("client-1:s3cret")
        assert!(r
            .headers
            .contains(&("authorization".into(), "Basic Y2xpZW50LTE6czNjcmV0".into())));
        assert_eq!(
            String::from_utf8(r.body.unwrap()).unwrap(),
            "grant_type=client_credentials&scope=read%3Ausers+write%3Ausers"
        );
        assert_eq!(
            token_url("http://127.0.0.1:9/sandbox/API/v3"),
            "http://127.0.0.1:9/sandbox/oauth2/token"
        );
    }

    #[test]
    fn a_token_is_fresh_until_a_minute_before_it_expires() {
        let ok = HttpResponse::new(
            200,
            r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600,"scope":"x"}"#,
        );
        let t = creds().parse_token(&ok, 1_000).unwrap();
        assert_eq!(t.expires_at_ms, 3_601_000);
        assert!(t.is_fresh(3_540_999));
        assert!(!t.is_fresh(3_541_000));
        assert_eq!(t.auth(), Auth::Bearer("tok".into()));
        assert!(!format!("{t:?}").contains("tok,"));
    }

    #[test]
    fn refusals_and_bad_answers_say_what_to_do_without_the_secret() {
        let refused = HttpResponse::new(401, r#"{"error":"invalid_client"}"#);
        let e = creds().parse_token(&refused, 0).unwrap_err();
        assert_eq!(e.to_string(), "Qualtrics refused the OAuth client \"client-1\" (HTTP 401: invalid_client): check the client ID and secret, or create a new secret under Account Settings > Qualtrics IDs > OAuth clients.");
        assert!(!e.to_string().contains("s3cret"));
        let odd = HttpResponse::new(200, "<html>");
        assert!(matches!(
            creds().parse_token(&odd, 0),
            Err(OAuthError::Malformed { status: 200, .. })
        ));
        assert_eq!(
            ClientCredentials::new(" ", "x", ""),
            Err(OAuthError::Missing)
        );
        assert!(!format!("{:?}", creds()).contains("s3cret"));
    }
}
