//! Who may post an event: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`: HMAC-SHA256 over `id.timestamp.body`, base64, within five minutes of
//! now, several secrets while one is rotated), checked on the raw body in constant time; or,
//! for senders that cannot sign, a shared key in a header, compared in constant time; or
//! HubSpot's v3 signature ([`hubspot_v3`]). [`check_request`] picks by the hook's `scheme`.

use axum::http::HeaderMap;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::config::HookConfig;
use super::signing::secret_key;

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
    /// HubSpot: no `X-HubSpot-Signature-v3` or no `X-HubSpot-Request-Timestamp`.
    #[error("no X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp headers")]
    HubspotMissing,
    /// HubSpot: the timestamp is not milliseconds since the epoch.
    #[error("X-HubSpot-Request-Timestamp is not a Unix time in milliseconds")]
    HubspotBadTimestamp,
    /// HubSpot: the timestamp is more than five minutes from now.
    #[error("X-HubSpot-Request-Timestamp is more than 5 minutes from the server's clock")]
    HubspotExpired,
    /// HubSpot: the signature matches none of the client secrets.
    #[error("X-HubSpot-Signature-v3 matches none of the hook's client secrets")]
    HubspotBadSignature,
}

/// What of an incoming request a signature may cover besides its body.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The request target as received: path and query (`/hooks/v1/hubspot?a=b`).
    pub path_and_query: &'a str,
    /// The request's headers.
    pub headers: &'a HeaderMap,
}

/// Checks the request by the hook's scheme (see [`super::config::Scheme`]) at `now_ms`
/// (milliseconds since the epoch). Returns the sender's id for the event when the scheme
/// carries one (Standard Webhooks' `webhook-id`).
pub fn check_request(
    hook: &HookConfig,
    request: &Incoming<'_>,
    body: &[u8],
    now_ms: u64,
) -> Result<Option<String>, Refused> {
    use super::config::Scheme;
    let query = request.path_and_query.split_once('?').map(|(_, q)| q);
    match hook.scheme {
        None => check(hook, request.headers, query, body, now_ms / 1000),
        Some(Scheme::StandardWebhooks) => {
            standard(hook, request.headers, body, now_ms / 1000).unwrap_or(Err(Refused::Missing))
        }
        Some(Scheme::Key) => key(hook, request.headers, query),
        Some(Scheme::HubspotV3) => hubspot_v3(hook, request, body, now_ms).map(|()| None),
    }
}

/// HubSpot's characters that are URL-decoded in the request URI before it is signed
/// (HubSpot's "Validating requests", v3 signature; the `?` that starts the query is not
/// encoded in the first place).
const HUBSPOT_DECODED: [(&str, &str); 12] = [
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
];

/// `uri` with HubSpot's listed encoded characters decoded (the hex either case; every other
/// `%XX` is left as it is).
#[must_use]
pub fn hubspot_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let candidate = rest.get(at..at + 3).map(str::to_ascii_uppercase);
        match candidate.and_then(|c| HUBSPOT_DECODED.iter().find(|(e, _)| *e == c)) {
            Some((_, decoded)) => {
                out.push_str(decoded);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// HubSpot's v3 signature of a request: base64 of HMAC-SHA256 with the app's client secret
/// over `method + uri + body + timestamp`, `uri` being the full URL HubSpot called
/// (`https://host/path?query`) with [`hubspot_uri`]'s characters decoded. What HubSpot
/// computes; here for tests and the README.
#[must_use]
pub fn hubspot_sign(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: u64,
) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, client_secret.as_bytes());
    let mut content = format!("{method}{}", hubspot_uri(uri)).into_bytes();
    content.extend_from_slice(body);
    content.extend_from_slice(timestamp_ms.to_string().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, &content).as_ref())
}

/// Checks HubSpot's `X-HubSpot-Signature-v3` (see [`hubspot_sign`]): the timestamp
/// (`X-HubSpot-Request-Timestamp`, milliseconds) within five minutes of `now_ms` either way,
/// then the signature against each client secret in constant time. The URL is taken two ways,
/// either accepted: `https://` + the request's Host header + its path and query (the server
/// reached directly, or through a proxy that keeps the Host and the path), and the hook's
/// `public_url` + the query (a proxy that changes them). HubSpot only calls `https://` URLs,
/// so the scheme is `https` even when this server listens on plain http behind a proxy.
///
/// Unverified against a live HubSpot: whether HubSpot signs the URI exactly as it put it on
/// the wire (this assumes so, with its documented list of characters decoded), and whether
/// a default port would appear in it (this takes the Host header as sent).
pub fn hubspot_v3(
    hook: &HookConfig,
    request: &Incoming<'_>,
    body: &[u8],
    now_ms: u64,
) -> Result<(), Refused> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("x-hubspot-signature-v3"),
        header("x-hubspot-request-timestamp"),
    ) else {
        return Err(Refused::HubspotMissing);
    };
    let timestamp: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refused::HubspotBadTimestamp)?;
    if timestamp.abs_diff(now_ms) > TOLERANCE_SECONDS * 1000 {
        return Err(Refused::HubspotExpired);
    }
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return Err(Refused::HubspotBadSignature);
    };
    let mut uris = Vec::with_capacity(2);
    if let Some(host) = header("host") {
        uris.push(format!("https://{host}{}", request.path_and_query));
    }
    if let Some(public) = &hook.public_url {
        let query = request
            .path_and_query
            .split_once('?')
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default();
        uris.push(format!("{}{query}", public.trim()));
    }
    for secret in &hook.client_secrets {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.trim().as_bytes());
        for uri in &uris {
            let mut content = format!("{}{}", request.method, hubspot_uri(uri)).into_bytes();
            content.extend_from_slice(body);
            content.extend_from_slice(timestamp.to_string().as_bytes());
            let tag = ring::hmac::sign(&key, &content);
            if bool::from(tag.as_ref().ct_eq(given.as_slice())) {
                return Ok(());
            }
        }
    }
    Err(Refused::HubspotBadSignature)
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
    if let Some(signed) = standard(hook, headers, body, now_secs) {
        return signed;
    }
    if hook.key_header.is_some() || hook.key_query.is_some() {
        return key(hook, headers, query);
    }
    Err(Refused::Missing)
}

/// The Standard Webhooks check, or `None` when the hook has no signing secrets or the request
/// has no signature headers.
fn standard(
    hook: &HookConfig,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: u64,
) -> Option<Result<Option<String>, Refused>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if hook.signing_secrets.is_empty() {
        return None;
    }
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return None;
    };
    Some(signed(hook, id, timestamp, signatures, body, now_secs))
}

fn signed(
    hook: &HookConfig,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_secs: u64,
) -> Result<Option<String>, Refused> {
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
    Err(Refused::BadSignature)
}

/// The shared-key check (header first, then the query parameter).
fn key(
    hook: &HookConfig,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<String>, Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let from_query = hook.key_query.as_deref().and_then(|name| {
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    });
    let from_header = hook
        .key_header
        .as_deref()
        .and_then(|name| header(name).map(str::to_string));
    let Some(given) = from_header.or(from_query) else {
        return Err(Refused::Missing);
    };
    let matches = hook
        .keys
        .iter()
        .any(|k| bool::from(k.as_bytes().ct_eq(given.as_bytes())));
    if matches {
        Ok(None)
    } else {
        Err(Refused::BadKey)
    }
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

    #[test]
    fn hubspots_listed_characters_are_decoded_and_no_other() {
        assert_eq!(
            hubspot_uri("https://h/p%3Aq%2f%3F%40%21%24%27%28%29%2A%2C%3B?x=%20%3a%25"),
            "https://h/p:q/?@!$'()*,;?x=%20:%25"
        );
        assert_eq!(hubspot_uri("https://h/a%"), "https://h/a%");
        assert_eq!(hubspot_uri("https://h/%é"), "https://h/%é");
    }
}
