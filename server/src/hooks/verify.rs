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
/// Signatures a `webhook-signature` header may hold at most. A sender puts one per secret it
/// signs with (two while rotating); a header with more is refused before anything is hashed,
/// so a request costs at most one HMAC of its body per configured secret, whatever it holds.
pub const MAX_SIGNATURES: usize = 5;

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
    /// `webhook-signature` holds more entries than [`MAX_SIGNATURES`].
    #[error("webhook-signature holds more than 5 signatures")]
    TooManySignatures,
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
            // Counted before anything else is done with the header: at most MAX_SIGNATURES
            // entries, whatever else it holds.
            let entries: Vec<&str> = signatures
                .split_whitespace()
                .take(MAX_SIGNATURES + 1)
                .collect();
            if entries.len() > MAX_SIGNATURES {
                return Err(Refused::TooManySignatures);
            }
            let timestamp: u64 = timestamp
                .trim()
                .parse()
                .map_err(|_| Refused::BadTimestamp)?;
            if timestamp.abs_diff(now_secs) > TOLERANCE_SECONDS {
                return Err(Refused::Expired);
            }
            let given: Vec<Vec<u8>> = entries
                .iter()
                .filter_map(|s| s.strip_prefix("v1,"))
                .filter_map(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .collect();
            if given.is_empty() {
                return Err(Refused::BadSignature);
            }
            let content = signed_content(id, timestamp, body);
            for secret in &hook.signing_secrets {
                let Ok(key) = secret_key(secret) else {
                    continue;
                };
                // One HMAC of the body per secret, compared with each given signature in
                // constant time.
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
                let tag = ring::hmac::sign(&key, &content);
                if given
                    .iter()
                    .any(|sig| bool::from(tag.as_ref().ct_eq(sig.as_slice())))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn hook() -> HookConfig {
        toml::from_str(&format!(
            "signing_secrets = [\"{SECRET}\"]\n[fields]\nUsername = \"/email\"\n"
        ))
        .unwrap()
    }

    fn headers(signatures: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", HeaderValue::from_static("msg_1"));
        h.insert("webhook-timestamp", HeaderValue::from_static("1000"));
        h.insert(
            "webhook-signature",
            HeaderValue::from_str(signatures).unwrap(),
        );
        h
    }

    #[test]
    fn at_most_five_signatures_are_tried_and_more_are_refused_unread() {
        let body = b"{}";
        let good = sign(SECRET, "msg_1", 1000, body);
        let wrong = "v1,AAAA";
        let five = format!("{wrong} {wrong} {wrong} {wrong} {good}");
        assert_eq!(
            check(&hook(), &headers(&five), None, body, 1000),
            Ok(Some("msg_1".into())),
            "the right one among five"
        );
        let six = format!("{wrong} {five}");
        assert_eq!(
            check(&hook(), &headers(&six), None, body, 1000),
            Err(Refused::TooManySignatures)
        );
        // Refused for their number before the timestamp is even read.
        let many = vec![wrong; 10_000].join(" ");
        assert_eq!(
            check(&hook(), &headers(&many), None, body, 99_999),
            Err(Refused::TooManySignatures)
        );
        assert_eq!(
            check(&hook(), &headers("v1,!!! v2,abc"), None, body, 1000),
            Err(Refused::BadSignature)
        );
    }
}
