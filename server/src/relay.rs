//! The relay: `/relay/{datacenter}/API/v3/...` forwarded to
//! `https://{datacenter}.qualtrics.com/API/v3/...`, for pages and add-ins that cannot call
//! Qualtrics directly (no CORS).
//!
//! It is not an open proxy: the only targets are `{datacenter}.qualtrics.com` hosts with a
//! datacenter id of the form `[a-z]{2,4}[0-9]?`, under `/API/v3/` (and the OAuth token
//! endpoint `/oauth2/token`, POST only); encoded slashes and dot
//! segments are refused; the datacenter, path, method and `Content-Length` are checked before
//! a byte of the body is read; redirects are never followed; only the method, the body and the
//! `X-API-TOKEN` / `Content-Type` / `Accept` headers go upstream, with `Authorization` only as
//! a Bearer token (or Basic to the token endpoint) and never beside an `X-API-TOKEN`; only JSON
//! answers come back (anything else becomes a JSON 502 saying what came), every answer marked
//! `nosniff` and `Content-Security-Policy: sandbox`; and the log line names method,
//! datacenter, path and status, never a header or the query.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use url::Url;

/// Request headers forwarded upstream; everything else (cookies, origin, host) is dropped.
const FORWARDED_REQUEST_HEADERS: [&str; 4] =
    ["x-api-token", "authorization", "content-type", "accept"];
/// Response headers passed back to the page.
const FORWARDED_RESPONSE_HEADERS: [&str; 2] = ["content-type", "retry-after"];
/// Largest request body relayed (the directory import accepts 10 MB files).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Where the relay sends requests.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// The real Qualtrics: `https://{datacenter}.qualtrics.com`.
    Qualtrics,
    /// A stand-in (the sandbox) at this base URL; the addressed Qualtrics host is sent as
    /// `X-Forwarded-Host` so the stand-in answers as that host would.
    Override(Url),
}

/// The relay's state.
#[derive(Clone)]
pub struct Relay {
    upstream: Upstream,
    client: reqwest::Client,
    log: bool,
    /// Places for relayed requests in flight (each holds one while its body is read and sent).
    places: std::sync::Arc<tokio::sync::Semaphore>,
    /// Who may use the relay and how fast.
    access: std::sync::Arc<Access>,
}

/// Optional limits on who uses the relay: the origins whose pages may call it, and requests
/// per minute per client.
#[derive(Debug, Default)]
pub struct Access {
    /// Origins (`https://roster.example.org`) allowed to call the relay from a browser; empty:
    /// any. A request without an `Origin` header (a same-origin GET, a command-line client) is
    /// not refused by this.
    pub allowed_origins: Vec<String>,
    /// Relayed requests per minute per client (its peer address; behind a trusted proxy, the
    /// address that proxy says it served, from `X-Forwarded-For`); 0: no limit.
    pub per_client_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed; from any other peer it is ignored
    /// (a client writes what it likes there).
    pub trusted_proxies: TrustedProxies,
    /// Each client's recent requests: (window start in ms, count).
    counts: std::sync::Mutex<std::collections::HashMap<String, (u64, u32)>>,
}

/// Addresses and CIDR blocks (`10.0.0.0/8`, `::1`) of the reverse proxies in front of the
/// server (`--trusted-proxy`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Reads addresses (`127.0.0.1`, `::1`) and CIDR blocks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(given: &[String]) -> Result<TrustedProxies, String> {
        let mut blocks = Vec::with_capacity(given.len());
        for text in given.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let (address, bits) = match text.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (text, None),
            };
            let ip: IpAddr = address.parse().map_err(|_| {
                format!("{text:?} is not an IP address or a CIDR block (such as 10.0.0.0/8)")
            })?;
            let ip = ip.to_canonical();
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{text:?}: the prefix length is 0 to {max}"))?,
            };
            blocks.push((ip, bits));
        }
        Ok(TrustedProxies(blocks))
    }

    /// Whether `ip` is one of the proxies.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|(block, bits)| match (block, ip) {
            (IpAddr::V4(b), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                u32::from(*b) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(b), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                u128::from(*b) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }

    /// Whether no proxy is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Access {
    /// Limits for the relay (see the fields).
    #[must_use]
    pub fn new(allowed_origins: Vec<String>, per_client_per_minute: u32) -> Access {
        Access {
            allowed_origins: allowed_origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
            per_client_per_minute,
            trusted_proxies: TrustedProxies::default(),
            counts: Default::default(),
        }
    }

    /// These limits, believing `X-Forwarded-For` from `proxies` (and from no other peer).
    #[must_use]
    pub fn trusting(self, proxies: TrustedProxies) -> Access {
        Access {
            trusted_proxies: proxies,
            ..self
        }
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        match headers.get("origin").and_then(|v| v.to_str().ok()) {
            None => true,
            Some(_) if self.allowed_origins.is_empty() => true,
            Some(origin) => self
                .allowed_origins
                .iter()
                .any(|o| *o == origin.trim().to_ascii_lowercase()),
        }
    }

    /// Counts a request of `client` at `now_ms`; false when it is over the limit this minute.
    fn admit(&self, client: &str, now_ms: u64) -> bool {
        if self.per_client_per_minute == 0 {
            return true;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() > 100_000 {
            counts.retain(|_, (start, _)| now_ms.saturating_sub(*start) < 60_000);
        }
        let entry = counts.entry(client.to_string()).or_insert((now_ms, 0));
        if now_ms.saturating_sub(entry.0) >= 60_000 {
            *entry = (now_ms, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_client_per_minute
    }
}

/// The client a request comes from, for its pace: its peer address; or, when the peer is a
/// trusted proxy, the address `X-Forwarded-For` names, read from the right (each proxy appends
/// the peer it served) past any other trusted proxy: the first address no trusted proxy holds
/// is the one the last trusted proxy saw. What a client wrote further left is never used, and
/// from any other peer the header is ignored.
fn client_of(parts: &axum::http::request::Parts, trusted: &TrustedProxies) -> String {
    let Some(peer) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
    else {
        return String::new();
    };
    if !trusted.contains(peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    for hop in hops.iter().rev() {
        match hop_address(hop) {
            Some(ip) if trusted.contains(ip) => continue,
            Some(ip) => return ip.to_string(),
            // Not an address (a proxy's "unknown"): as written, kept short.
            None => return hop.chars().take(64).collect(),
        }
    }
    hops.first()
        .and_then(|h| hop_address(h))
        .unwrap_or(peer)
        .to_string()
}

/// An `X-Forwarded-For` entry's address: `203.0.113.7`, `2001:db8::1`, or with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

/// Why the relay refused a request before sending anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The datacenter segment is not a datacenter id.
    BadDatacenter(String),
    /// The path is not under `/API/v3/`, or tries to escape it.
    BadPath,
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::BadDatacenter(dc) => error(
                StatusCode::BAD_REQUEST,
                "RELAY_BAD_DATACENTER",
                &format!("The relay only forwards to Qualtrics datacenters: \"{}\" is not a datacenter id such as iad1, fra1 or co1.", dc.chars().take(40).collect::<String>()),
            ),
            Refusal::BadPath => error(
                StatusCode::BAD_REQUEST,
                "RELAY_BAD_PATH",
                "The relay only forwards Qualtrics API paths (/relay/{datacenter}/API/v3/...), without encoded slashes or dot segments.",
            ),
        }
    }
}

/// True for `[a-z]{2,4}[0-9]?`.
#[must_use]
pub fn is_datacenter_id(id: &str) -> bool {
    let b = id.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
    let rest = &b[letters..];
    (2..=4).contains(&letters) && (rest.is_empty() || (rest.len() == 1 && rest[0].is_ascii_digit()))
}

/// The Qualtrics URL for a relay path (the part after `/relay/`, still percent-encoded as
/// received) and query. Refuses anything that is not a datacenter's `/API/v3/` resource.
pub fn target_url(relay_path: &str, query: Option<&str>) -> Result<(String, Url), Refusal> {
    let (dc, tail) = relay_path.split_once('/').ok_or(Refusal::BadPath)?;
    if !is_datacenter_id(dc) {
        return Err(Refusal::BadDatacenter(dc.to_string()));
    }
    if tail == "oauth2/token" && query.is_none() {
        // The OAuth client credentials grant, for a client that reaches Qualtrics only here.
        let url = Url::parse(&format!("https://{dc}.qualtrics.com/oauth2/token"))
            .map_err(|_| Refusal::BadPath)?;
        return Ok((dc.to_string(), url));
    }
    let rest = tail.strip_prefix("API/v3/").ok_or(Refusal::BadPath)?;
    for segment in rest.split('/') {
        let lower = segment.to_ascii_lowercase();
        if segment.is_empty()
            || lower.contains("%2f")
            || lower.contains("%5c")
            || segment.contains('\\')
            || lower.contains("%00")
        {
            return Err(Refusal::BadPath);
        }
        let decoded = lower.replace("%2e", ".");
        if decoded == "." || decoded == ".." {
            return Err(Refusal::BadPath);
        }
    }
    let host = format!("{dc}.qualtrics.com");
    let mut text = format!("https://{host}/API/v3/{rest}");
    if let Some(q) = query {
        text.push('?');
        text.push_str(q);
    }
    let url = Url::parse(&text).map_err(|_| Refusal::BadPath)?;
    if url.host_str() != Some(host.as_str())
        || !url.path().starts_with("/API/v3/")
        || url.port().is_some()
    {
        return Err(Refusal::BadPath);
    }
    Ok((dc.to_string(), url))
}

impl Relay {
    /// A relay to `upstream`; `log` prints one line per relayed request to stderr; at most
    /// `max_in_flight` requests are relayed at once (more are answered 503 at once).
    pub fn new(upstream: Upstream, log: bool, max_in_flight: usize, access: Access) -> Relay {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .expect("the HTTP client builds");
        Relay {
            upstream,
            client,
            log,
            places: std::sync::Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1))),
            access: std::sync::Arc::new(access),
        }
    }
}

/// Handles `/relay/...`: the datacenter, path, method and `Content-Length` are checked before
/// a byte of the body is read; only a JSON answer comes back.
pub async fn handle(State(relay): State<Relay>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    if !relay.access.origin_allowed(&parts.headers) {
        return error(
            StatusCode::FORBIDDEN,
            "RELAY_ORIGIN_REFUSED",
            "This relay serves only its own organisation's pages: the page calling it is not on its list of allowed origins.",
        );
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let client = client_of(&parts, &relay.access.trusted_proxies);
    if !relay.access.admit(&client, now_ms) {
        let mut slow_down = error(
            StatusCode::TOO_MANY_REQUESTS,
            "RELAY_RATE_LIMIT",
            "Too many requests from this client for the relay this minute: wait a moment.",
        );
        slow_down
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("10"));
        return slow_down;
    }
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let relay_path = uri.path().strip_prefix("/relay/").unwrap_or("");
    let (dc, target) = match target_url(relay_path, uri.query()) {
        Ok(t) => t,
        Err(refusal) => return refusal.into_response(),
    };
    if target.path() == "/oauth2/token" && method != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "RELAY_BAD_METHOD",
            "The token endpoint takes POST only.",
        );
    }
    if !matches!(
        method,
        Method::GET | Method::POST | Method::PUT | Method::DELETE
    ) {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "RELAY_BAD_METHOD",
            "The relay forwards GET, POST, PUT and DELETE only.",
        );
    }
    let Ok(_place) = relay.places.clone().try_acquire_owned() else {
        let mut busy = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "RELAY_BUSY",
            "The relay is carrying as many requests as it allows at once: try again in a moment.",
        );
        busy.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return busy;
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let qualtrics_host = target.host_str().unwrap_or_default().to_string();
    let send_to = match &relay.upstream {
        Upstream::Qualtrics => target.clone(),
        Upstream::Override(base) => {
            let mut u = base.clone();
            let joined = format!("{}{}", base.path().trim_end_matches('/'), target.path());
            u.set_path(&joined);
            u.set_query(target.query());
            u
        }
    };
    let mut request = relay.client.request(method.clone(), send_to);
    let token_request = target.path() == "/oauth2/token";
    for name in FORWARDED_REQUEST_HEADERS {
        for value in headers.get_all(name) {
            if name == "authorization" && !forwards_authorization(&headers, value, token_request) {
                continue;
            }
            request = request.header(name, value);
        }
    }
    if matches!(relay.upstream, Upstream::Override(_)) {
        request = request
            .header("x-forwarded-host", &qualtrics_host)
            .header("x-forwarded-proto", "https");
    }
    if !body.is_empty() {
        request = request.body(body);
    }

    let started = Instant::now();
    let log_line = |status: u16| {
        if relay.log {
            eprintln!(
                "relay {method} {dc} {} -> {status} in {} ms",
                target.path(),
                started.elapsed().as_millis()
            );
        }
    };
    let upstream = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let (status, code, what) = if e.is_timeout() {
                (
                    StatusCode::GATEWAY_TIMEOUT,
                    "RELAY_TIMEOUT",
                    "did not answer in time",
                )
            } else {
                (
                    StatusCode::BAD_GATEWAY,
                    "RELAY_UNREACHABLE",
                    "could not be reached",
                )
            };
            log_line(status.as_u16());
            return error(
                status,
                code,
                &format!("{qualtrics_host} {what} from the relay: check the datacenter id (Account Settings > Qualtrics IDs) and the relay's network access, then try again."),
            );
        }
    };
    let status = upstream.status();
    if status.is_redirection() {
        log_line(status.as_u16());
        return error(
            StatusCode::BAD_GATEWAY,
            "RELAY_REDIRECT_REFUSED",
            &format!("{qualtrics_host} answered with a redirect, which the relay does not follow: check the datacenter id."),
        );
    }
    let mut out_headers = HeaderMap::new();
    for name in FORWARDED_RESPONSE_HEADERS {
        if let Some(v) = upstream.headers().get(name) {
            out_headers.insert(name, v.clone());
        }
    }
    let content_type = upstream
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = match upstream.bytes().await {
        Ok(b) => b,
        Err(_) => {
            log_line(502);
            return error(
                StatusCode::BAD_GATEWAY,
                "RELAY_UNREACHABLE",
                &format!(
                    "The connection to {qualtrics_host} broke while reading its answer: try again."
                ),
            );
        }
    };
    if !bytes.is_empty() && !is_json(&content_type) {
        // Only JSON comes back: an HTML login page, a proxy's error page or anything else
        // could run as this page's origin if it were passed through.
        log_line(502);
        let shown: String = content_type.chars().take(60).collect();
        return error(
            StatusCode::BAD_GATEWAY,
            "RELAY_NOT_JSON",
            &format!(
                "{qualtrics_host} answered HTTP {} with {} instead of JSON, which the relay does not pass on: check the datacenter id, and that nothing between the relay and Qualtrics (a proxy or a sign-in page) answers in its place.",
                status.as_u16(),
                if shown.is_empty() { "no content type".to_string() } else { format!("\"{shown}\"") }
            ),
        );
    }
    log_line(status.as_u16());
    let mut resp = (
        StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
        bytes,
    )
        .into_response();
    resp.headers_mut().extend(out_headers);
    resp
}

/// `application/json` or a `+json` type, any parameters (charset) allowed.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether an `Authorization` header goes upstream: a Bearer token (an OAuth access token),
/// or Basic to the OAuth token endpoint (a client's id and secret); never beside an
/// `X-API-TOKEN`, and never anything else (a reverse proxy's Basic credentials, which browsers
/// attach to every same-origin fetch, must not reach Qualtrics).
fn forwards_authorization(headers: &HeaderMap, value: &HeaderValue, token_request: bool) -> bool {
    if headers.contains_key("x-api-token") {
        return false;
    }
    let text = value.to_str().unwrap_or("");
    let scheme = text.split_whitespace().next().unwrap_or("");
    scheme.eq_ignore_ascii_case("bearer") || (token_request && scheme.eq_ignore_ascii_case("basic"))
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RELAY_TOO_LARGE",
        &format!(
            "The request body is over the relay's limit of {} MB.",
            MAX_BODY_BYTES / (1024 * 1024)
        ),
    )
}

/// Headers on every relay and sandbox answer: never sniffed as another type, and inert if
/// opened as a document (no script, no subresource, a unique origin).
pub async fn answer_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ANSWER_CONTENT_SECURITY_POLICY),
    );
    response
}

/// The Content-Security-Policy of relay and sandbox answers.
pub const ANSWER_CONTENT_SECURITY_POLICY: &str =
    "sandbox; default-src 'none'; frame-ancestors 'none'";

/// An error in Qualtrics' envelope, so clients parse relay and Qualtrics errors alike.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"meta": {
        "httpStatus": format!("{} - {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
        "error": {"errorCode": code, "errorMessage": message},
    }});
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_datacenter_api_paths_are_targets() {
        let (dc, url) = target_url("iad1/API/v3/users", Some("offset=100")).unwrap();
        assert_eq!(dc, "iad1");
        assert_eq!(
            url.as_str(),
            "https://iad1.qualtrics.com/API/v3/users?offset=100"
        );
        assert!(target_url("eu/API/v3/whoami", None).is_ok());
        // The OAuth token endpoint, and nothing else outside /API/v3/.
        let (_, token) = target_url("fra1/oauth2/token", None).unwrap();
        assert_eq!(token.as_str(), "https://fra1.qualtrics.com/oauth2/token");
        assert_eq!(
            target_url("fra1/oauth2/token", Some("x=1")),
            Err(Refusal::BadPath)
        );

        for dc in [
            "evil.example",
            "127.0.0.1",
            "iad1.qualtrics.com.evil.example",
            "IAD1",
            "iad12",
            "a",
            "",
            "iad1@evil.example",
            "iad1:443",
        ] {
            assert!(
                matches!(
                    target_url(&format!("{dc}/API/v3/users"), None),
                    Err(Refusal::BadDatacenter(_))
                ),
                "{dc}"
            );
        }
        for path in [
            "iad1/API/v3/..%2f..%2fetc",
            "iad1/API/v3/../../x",
            "iad1/API/v3/%2e%2e/x",
            "iad1/API/v3/users/%2E%2e",
            "iad1/API/v3/users%5c..",
            "iad1/API/v3//evil.example",
            "iad1/API/v2/users",
            "iad1/oauth2/auth",
            "iad1/oauth2/token/x",
            "iad1/oauth2",
            "iad1",
            "iad1/API/v3/",
        ] {
            assert_eq!(target_url(path, None), Err(Refusal::BadPath), "{path}");
        }
        // An @ or a colon inside the path stays in the path.
        let (_, url) = target_url("iad1/API/v3/users/a@evil.example:80", None).unwrap();
        assert_eq!(url.host_str(), Some("iad1.qualtrics.com"));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies_and_read_from_the_right() {
        let trusted =
            TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()])
                .unwrap();
        assert!(trusted.contains("10.200.1.2".parse().unwrap()));
        assert!(trusted.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!trusted.contains("11.0.0.1".parse().unwrap()));
        assert!(!trusted.contains("127.0.0.2".parse().unwrap()));
        let parts = |peer: &str, forwarded: &[&str]| {
            let mut request = axum::http::Request::builder().uri("/relay/iad1/API/v3/whoami");
            for f in forwarded {
                request = request.header("x-forwarded-for", *f);
            }
            let (mut parts, ()) = request.body(()).unwrap().into_parts();
            let peer: std::net::SocketAddr = peer.parse().unwrap();
            parts.extensions.insert(axum::extract::ConnectInfo(peer));
            parts
        };
        let none = TrustedProxies::default();
        assert_eq!(
            client_of(&parts("127.0.0.1:5000", &["6.6.6.6"]), &none),
            "127.0.0.1"
        );
        assert_eq!(
            client_of(&parts("8.8.8.8:5000", &["6.6.6.6"]), &trusted),
            "8.8.8.8"
        );
        assert_eq!(
            client_of(&parts("127.0.0.1:5000", &["6.6.6.6"]), &trusted),
            "6.6.6.6"
        );
        // The client wrote "1.1.1.1, 2.2.2.2"; the proxies appended what they saw.
        assert_eq!(
            client_of(
                &parts(
                    "127.0.0.1:5000",
                    &["1.1.1.1, 2.2.2.2", "203.0.113.9:4711, 10.1.1.1"]
                ),
                &trusted
            ),
            "203.0.113.9"
        );
        assert_eq!(
            client_of(&parts("127.0.0.1:5000", &[]), &trusted),
            "127.0.0.1"
        );
        assert_eq!(
            client_of(&parts("[::1]:5000", &["[2001:db8::7]:80"]), &trusted),
            "2001:db8::7"
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
    }
}
