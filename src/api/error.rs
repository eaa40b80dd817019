//! The failures every Qualtrics call shares, classified so each message says what to do.
//!
//! Operation-specific enums (for example [`crate::api::users::ListError`]) wrap [`ApiError`] and
//! add what only that operation can hit.

use thiserror::Error;

/// Why a Qualtrics API call failed, in terms a brand administrator can act on.
///
/// No variant ever carries the API token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApiError {
    /// HTTP 400 `ATP_2`: no credential reached Qualtrics.
    #[error("Qualtrics received no API token (HTTP 400{}): enter your API token and connect again.", code_suffix(.code))]
    MissingCredentials {
        /// Qualtrics' error code, if it sent one.
        code: Option<String>,
    },
    /// HTTP 401: the token is unknown, revoked or mistyped.
    #[error("Qualtrics did not recognise the API token (HTTP 401): copy it again from Account Settings > Qualtrics IDs, or generate a new one there.")]
    Unauthorized {
        /// Qualtrics' own message, kept for the audit log.
        detail: Option<String>,
    },
    /// HTTP 403: the token works but lacks the rights for this call.
    #[error("This API token is not a Brand Administrator's (HTTP 403{}): user and group administration needs the token of a Brand Administrator with the \"Access API\" permission.", code_suffix(.code))]
    Forbidden {
        /// Qualtrics' error code, if it sent one.
        code: Option<String>,
    },
    /// HTTP 404.
    #[error("Not found in this brand (HTTP 404): {message}")]
    NotFound {
        /// Qualtrics' message.
        message: String,
    },
    /// HTTP 429: over the brand's rate limit.
    #[error("Qualtrics is limiting the request rate (HTTP 429){}: wait and try again.", retry_suffix(*.retry_after_secs))]
    RateLimited {
        /// Seconds from a `Retry-After` header, when Qualtrics sent one.
        retry_after_secs: Option<u64>,
    },
    /// HTTP 5xx from Qualtrics.
    #[error("Qualtrics had a server error (HTTP {status}): {message} Try again in a moment.")]
    Server {
        /// HTTP status.
        status: u16,
        /// Qualtrics' message, or a description of the answer.
        message: String,
    },
    /// The relay refused the call or could not reach Qualtrics (error codes `RELAY_*`).
    #[error("{message}")]
    Relay {
        /// HTTP status the relay answered with.
        status: u16,
        /// The relay's error code.
        code: String,
        /// The relay's explanation.
        message: String,
    },
    /// Any other 4xx: Qualtrics refused this request; its message says why.
    #[error("Qualtrics refused the request (HTTP {status}{}): {message}", code_suffix(.code))]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Qualtrics' error code.
        code: Option<String>,
        /// Qualtrics' message.
        message: String,
    },
    /// A successful status but a body that is not Qualtrics JSON (an HTML login or proxy page).
    #[error("Expected a Qualtrics JSON answer but got {kind} (HTTP {status}): check the datacenter id and the relay address.")]
    NotJson {
        /// HTTP status.
        status: u16,
        /// What arrived instead: "an HTML page", "an empty answer", "text".
        kind: String,
    },
    /// JSON arrived but without the fields this call needs.
    #[error("Qualtrics answered in an unexpected shape: {detail}")]
    UnexpectedShape {
        /// What was missing or wrong.
        detail: String,
    },
    /// The request never got an answer (host down, DNS, connection dropped).
    #[error("Could not reach {host}: {detail}. Check the network connection and that the relay is running.")]
    Network {
        /// The host that was called.
        host: String,
        /// The transport's explanation.
        detail: String,
    },
}

impl ApiError {
    /// Whether sending the same request again later may succeed (408, 429, 5xx, network), as
    /// the executor retries them; any other refusal is final for that request.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. } | ApiError::Server { .. } | ApiError::Network { .. }
        ) || matches!(self, ApiError::Relay { status, .. } if *status == 502 || *status == 504)
            || matches!(self, ApiError::Rejected { status: 408, .. })
    }
}

fn code_suffix(code: &Option<String>) -> String {
    match code {
        Some(c) if !c.is_empty() => format!(", {c}"),
        _ => String::new(),
    }
}

fn retry_suffix(secs: Option<u64>) -> String {
    match secs {
        Some(s) => format!(", retry after {s} s"),
        None => String::new(),
    }
}
