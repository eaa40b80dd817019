//! Who may post an event: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: HMAC-SHA256 over `id.timestamp.body`, base64, within five minutes of
//! now, several secrets while one is rotated), checked on the raw body in constant time; or,
//! for senders that cannot sign, a shared key in a header, compared in constant time.

use axum::http::HeaderMap;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::config::HookConfig;

/// How far a signed event's timestamp may be from now (Standard Webhooks' recommendation).
pub const TOLERANCE_SECONDS: u64 = 5 * 60;

/// Why an event was refused (said to the sender as 401, logged; never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No signature headers, or no key header.
    #[error(
        "no webhook-id, webhook-timestamp and webhook-signature headers (or configured key header)"
    )]
    Missing,
    /// The timestamp is not a number of seconds.
    #[error("webhook-timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is too far from now (an old message replayed, or a wrong clock).
    #[error("webhook-timestamp is more than 5 minutes from the server's clock")]
    Expired,
    /// No signature matches any configured secret.
    #[error("no signature matches the hook's signing secrets")]
    BadSignature,
    /// The key header holds none of the configured keys.
    #[error("the key header does not hold one of the hook's keys")]
    BadKey,
}

/// The key bytes of a `whsec_…` secret (base64 after the prefix).
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .trim()
        .strip_prefix("whsec_")
        .unwrap_or(secret.trim());
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| "a signing secret is whsec_ followed by base64".to_string())
}

/// The Standard Webhooks signature of `body` for `id` and `timestamp` with `secret`:
/// `v1,` and base64 of HMAC-SHA256 over `id.timestamp.body`. What a sender computes; here for
/// tests, benchmarks and the README's example.
#[must_use]
pub fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &secret_key(secret).unwrap_or_default(),
    );
    let tag = ring::hmac::sign(&key, &signed_content(id, timestamp, body));
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
    )
}

fn signed_content(id: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// Checks that `headers` (and `query`, the URL's query string) and the raw `body` come from
/// the hook's sender, at `now_secs`. Returns the sender's event id from `webhook-id` when
/// signed.
pub fn check(
    hook: &HookConfig,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    now_secs: u64,
) -> Result<Option<String>, Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !hook.signing_secrets.is_empty() {
        if let (Some(id), Some(timestamp), Some(signatures)) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        ) {
            let timestamp: u64 = timestamp
                .trim()
                .parse()
                .map_err(|_| Refused::BadTimestamp)?;
            if timestamp.abs_diff(now_secs) > TOLERANCE_SECONDS {
                return Err(Refused::Expired);
            }
            let content = signed_content(id, timestamp, body);
            let given: Vec<Vec<u8>> = signatures
                .split_whitespace()
                .filter_map(|s| s.strip_prefix("v1,"))
                .filter_map(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .collect();
            for secret in &hook.signing_secrets {
                let Ok(key) = secret_key(secret) else {
                    continue;
                };
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
                // ring's verify compares in constant time.
                if given
                    .iter()
                    .any(|sig| ring::hmac::verify(&key, &content, sig).is_ok())
                {
                    return Ok(Some(id.to_string()));
                }
            }
            return Err(Refused::BadSignature);
        }
    }
    let from_query = hook.key_query.as_deref().and_then(|name| {
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    });
    let from_header = hook
        .key_header
        .as_deref()
        .and_then(|name| header(name).map(str::to_string));
    if hook.key_header.is_some() || hook.key_query.is_some() {
        let Some(given) = from_header.or(from_query) else {
            return Err(Refused::Missing);
        };
        let matches = hook
            .keys
            .iter()
            .any(|k| bool::from(k.as_bytes().ct_eq(given.as_bytes())));
        return if matches {
            Ok(None)
        } else {
            Err(Refused::BadKey)
        };
    }
    Err(Refused::Missing)
}
