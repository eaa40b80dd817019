//! OAuth 2.0 client credentials in the sandbox, as Qualtrics offers them: `POST /oauth2/token`
//! with HTTP Basic (client ID and secret) and `grant_type=client_credentials` issues a bearer
//! token that expires; API calls with `Authorization: Bearer` are checked against it. A client
//! can be revoked (the sandbox's control endpoint), which refuses new tokens and ends its
//! current ones. The error bodies follow RFC 6749 (`{"error": "invalid_client"}`); the exact
//! form Qualtrics uses is unverified.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{json, Value};

/// The sandbox's OAuth clients and the tokens it has issued.
pub struct OAuth {
    clients: Vec<Client>,
    tokens: HashMap<String, Issued>,
    ttl: Duration,
    issued: u64,
    seed: u64,
}

struct Client {
    id: String,
    secret: String,
    user_id: String,
    revoked: bool,
}

struct Issued {
    client_id: String,
    user_id: String,
    expires: SystemTime,
    scopes: Vec<String>,
}

/// Why a bearer token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Never issued, or its client was revoked.
    Unknown,
    /// Past its expiry.
    Expired,
}

impl OAuth {
    /// One client, acting as the brand administrator `admin_user_id`, whose tokens live `ttl`.
    #[must_use]
    pub fn seeded(seed: u64, admin_user_id: &str, ttl: Duration) -> OAuth {
        OAuth {
            clients: vec![Client {
                id: format!("sbx-client-{seed}"),
                secret: format!(
                    "sbx-secret-{:016x}",
                    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ),
                user_id: admin_user_id.to_string(),
                revoked: false,
            }],
            tokens: HashMap::new(),
            ttl,
            issued: 0,
            seed,
        }
    }

    /// The seeded client's ID and secret (for connect-info and the tests).
    #[must_use]
    pub fn client(&self) -> (&str, &str) {
        (&self.clients[0].id, &self.clients[0].secret)
    }

    /// Answers a token request: the `authorization` header and the form body.
    pub fn token(
        &mut self,
        authorization: Option<&str>,
        form: &[u8],
        now: SystemTime,
    ) -> (u16, Value) {
        let fields: HashMap<String, String> =
            url::form_urlencoded::parse(form).into_owned().collect();
        if fields.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return (
                400,
                json!({"error": "unsupported_grant_type", "error_description": "Only client_credentials is supported."}),
            );
        }
        let basic = authorization
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok());
        let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
            return (
                401,
                json!({"error": "invalid_client", "error_description": "Client authentication failed."}),
            );
        };
        let Some(client) = self
            .clients
            .iter()
            .find(|c| c.id == id && c.secret == secret && !c.revoked)
        else {
            return (
                401,
                json!({"error": "invalid_client", "error_description": "Client authentication failed."}),
            );
        };
        self.issued += 1;
        let token = format!("sbx-oauth-{:x}-{:08x}", self.seed, self.issued);
        let scope = fields
            .get("scope")
            .cloned()
            .unwrap_or_else(|| "manage:all".into());
        self.tokens.insert(
            token.clone(),
            Issued {
                client_id: client.id.clone(),
                user_id: client.user_id.clone(),
                expires: now + self.ttl,
                scopes: scope.split_whitespace().map(str::to_string).collect(),
            },
        );
        (
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": self.ttl.as_secs(), "scope": scope}),
        )
    }

    /// The user a bearer token acts for, at `now`.
    pub fn user_for(&self, token: &str, now: SystemTime) -> Result<&str, TokenProblem> {
        let issued = self.tokens.get(token).ok_or(TokenProblem::Unknown)?;
        if now >= issued.expires {
            return Err(TokenProblem::Expired);
        }
        Ok(&issued.user_id)
    }

    /// Whether a (valid) token's scopes allow a call: `manage:all` allows everything; otherwise
    /// the family's scope (`users`, `groups`, `divisions`, `participants` for the directory)
    /// as `read:` for GET and `write:` or `manage:` for anything (a missing scope is HTTP 403).
    /// `whoami` needs no scope.
    #[must_use]
    pub fn allows(&self, token: &str, method: &str, segments: &[&str]) -> bool {
        let Some(issued) = self.tokens.get(token) else {
            return false;
        };
        let family = match segments.first().copied() {
            Some("whoami") => return true,
            Some("users") => "users",
            Some("groups") => "groups",
            Some("divisions") => "divisions",
            Some("employee-directories") => "participants",
            _ => "all",
        };
        issued.scopes.iter().any(|s| {
            s == "manage:all"
                || *s == format!("write:{family}")
                || *s == format!("manage:{family}")
                || (method == "GET" && *s == format!("read:{family}"))
        })
    }

    /// Revokes a client: no new tokens, and its tokens stop working.
    pub fn revoke(&mut self, client_id: &str) -> bool {
        let Some(client) = self.clients.iter_mut().find(|c| c.id == client_id) else {
            return false;
        };
        client.revoked = true;
        self.tokens.retain(|_, t| t.client_id != client_id);
        true
    }

    /// Sets how long new tokens live (the tests make them expire mid-run).
    pub fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_issued_to_the_right_client_expire_and_die_with_revocation() {
        let mut o = OAuth::seeded(1, "UR_ADMIN", Duration::from_secs(60));
        let (id, secret) = o.client();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        );
        let id = id.to_string();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let (status, body) = o.token(
            Some(&basic),
            b"grant_type=client_credentials&scope=read%3Ausers",
            t0,
        );
        assert_eq!(status, 200);
        assert_eq!(body["expires_in"], 60);
        assert_eq!(body["scope"], "read:users");
        let token = body["access_token"].as_str().unwrap().to_string();
        assert_eq!(o.user_for(&token, t0), Ok("UR_ADMIN"));
        assert!(o.allows(&token, "GET", &["whoami"]));
        assert!(o.allows(&token, "GET", &["users"]));
        assert!(!o.allows(&token, "GET", &["groups"]), "no groups scope");
        assert_eq!(
            o.user_for(&token, t0 + Duration::from_secs(60)),
            Err(TokenProblem::Expired)
        );
        assert_eq!(
            o.token(Some("Basic eDp5"), b"grant_type=client_credentials", t0)
                .0,
            401
        );
        assert_eq!(o.token(Some(&basic), b"grant_type=password", t0).0, 400);
        assert!(o.revoke(&id));
        assert_eq!(o.user_for(&token, t0), Err(TokenProblem::Unknown));
        assert_eq!(
            o.token(Some(&basic), b"grant_type=client_credentials", t0)
                .0,
            401
        );
    }
}
