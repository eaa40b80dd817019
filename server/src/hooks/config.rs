//! The hooks' configuration file (TOML, readable by its owner only): where Qualtrics is and
//! which credential the server uses (never one from an event), where accepted events are kept,
//! how failures are retried, and per hook how senders authenticate and how an event's JSON
//! maps to the columns of a provisioning or lifecycle sheet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    /// Where Qualtrics is and with which credential.
    pub qualtrics: QualtricsConfig,
    /// Where accepted events and the audit log are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// How failing events are retried.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Where an administrator is told of events that need them (none: only the log).
    pub alerts: Option<AlertsConfig>,
    /// Whether `GET /metrics` is served, and with which token.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// The hooks, by the name in their URL (`/hooks/v1/{name}`).
    pub hooks: BTreeMap<String, HookConfig>,
}

/// The brand the hooks provision, and the credential used (an OAuth client is best: it is
/// renewed as it expires).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualtricsConfig {
    /// The brand's datacenter (`iad1`, `fra1`…); without it and without `base_url`, Qualtrics
    /// is asked.
    pub datacenter: Option<String>,
    /// An API base URL instead of `https://{datacenter}.qualtrics.com/API/v3` (the sandbox).
    pub base_url: Option<String>,
    /// A credentials file in the CLI's format (`client_id = …` / `client_secret = …`, or
    /// `api_token = …`), readable by its owner only. Without it: the environment
    /// (`QUALTRICS_CLIENT_ID` + `QUALTRICS_CLIENT_SECRET`, or `QUALTRICS_API_TOKEN`).
    pub credentials: Option<PathBuf>,
    /// OAuth scopes to ask for.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Multiplies the rate limits the runs pace themselves by: only for a sandbox started
    /// with the same `--rate-limit-scale` (a real brand has Qualtrics' limits: leave it at 1).
    #[serde(default = "one")]
    pub rate_limit_scale: f64,
}

impl QualtricsConfig {
    /// Where to connect, as the native library's connection code takes it (the same credential
    /// rules as the command line's).
    #[must_use]
    pub fn target(&self) -> roster_native::session::Target {
        roster_native::session::Target {
            datacenter: self.datacenter.clone(),
            base_url: self.base_url.clone(),
            relay: None,
            credentials: self.credentials.clone(),
            scope: self.scope.clone(),
            insecure_http: false,
        }
    }
}

fn default_scope() -> String {
    "manage:all".into()
}

fn one() -> f64 {
    1.0
}

/// Where accepted events and the audit log are kept (both created readable by the owner only:
/// they hold names and e-mail addresses).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The SQLite database of events (the embedded default: one server per file).
    pub path: PathBuf,
    /// A PostgreSQL database instead (`postgres://user@host:port/db`): two or more servers
    /// behind a load balancer share its events. Its password may be in the URL or in
    /// `PGPASSWORD`; it is never shown.
    pub url: Option<StoreUrl>,
    /// On PostgreSQL, how long a server's claim on the events it is applying lasts unless
    /// renewed (it renews it every third of this while it runs): a server that dies holding
    /// events leaves them to the others this long after.
    pub lease_seconds: u32,
    /// The audit log of every request hook runs send (JSON Lines).
    pub audit: PathBuf,
    /// Events (and the personal data in them) are deleted this many days after they arrived,
    /// whatever their status. At least [`MIN_RETENTION_DAYS`]: a sender's id must be known as
    /// long as the sender may retry it.
    pub retention_days: u32,
}

/// A PostgreSQL connection URL (`postgres://user:password@host:port/database`, or
/// `postgresql://…`, with libpq's `?host=/socket/folder` for a Unix socket). It may hold a
/// password: it is shown (`Debug`, [`StoreUrl::redacted`]) with the password as `***`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// The URL `text` (checked when the configuration is read).
    #[must_use]
    pub fn new(text: &str) -> StoreUrl {
        StoreUrl(text.to_string())
    }

    /// The URL as it may be logged or printed: any password (in the URL's user part or a
    /// `password=` parameter) replaced by `***`.
    #[must_use]
    pub fn redacted(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.0) else {
            return "(a PostgreSQL URL that cannot be read)".into();
        };
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let hidden = k.eq_ignore_ascii_case("password");
                (
                    k.into_owned(),
                    if hidden { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }

    /// The URL with its password: only to connect with, never to show.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The shortest retention allowed: HubSpot retries an event for up to three days, and a repeat
/// is recognised only while its event is kept.
pub const MIN_RETENTION_DAYS: u32 = 3;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: "qualtrics-roster-hooks.sqlite".into(),
            url: None,
            lease_seconds: 30,
            audit: "qualtrics-roster-hooks-audit.jsonl".into(),
            retention_days: 30,
        }
    }
}

/// Alerts: a Standard Webhooks–signed JSON message to `url` when an event is parked, a burst
/// is quarantined, or a run ends partly failed (each also one log line). They hold ids, counts
/// and reasons' kinds, never a name or an address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Where alerts are posted (`https://…`; `http://` only to a loopback address).
    pub url: String,
    /// The Standard Webhooks secret alerts are signed with (`whsec_…`).
    pub secret: String,
    /// Tries per alert before it is given up (logged).
    #[serde(default = "alert_attempts")]
    pub attempts: u32,
    /// The pause after the first failed try, doubled after each.
    #[serde(default = "alert_delay")]
    pub first_delay_seconds: f64,
}

fn alert_attempts() -> u32 {
    6
}

fn alert_delay() -> f64 {
    1.0
}

/// `GET /metrics` (Prometheus text format). Off unless `enabled`; with a `token`, a scraper
/// must send `Authorization: Bearer TOKEN`. The metrics hold counts and ages only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `GET /metrics`.
    pub enabled: bool,
    /// The bearer token a scraper must send (none: anyone who reaches the server may read the
    /// counts).
    pub token: Option<String>,
}

/// How failing events are retried: `attempts` in all, the pause doubling from
/// `first_delay_seconds` (capped at an hour); then the event is parked as failed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries in all before an event is parked.
    pub attempts: u32,
    /// The first pause, doubled after each failure.
    pub first_delay_seconds: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 8,
            first_delay_seconds: 60.0,
        }
    }
}

impl RetryConfig {
    /// Milliseconds to wait after the `attempt`-th failure (1 = the first), or `None` when the
    /// event is to be parked.
    #[must_use]
    pub fn delay_after(&self, attempt: u32) -> Option<u64> {
        (attempt < self.attempts).then(|| {
            let ms =
                self.first_delay_seconds * 1000.0 * 2f64.powi(attempt.saturating_sub(1) as i32);
            ms.min(3_600_000.0) as u64
        })
    }
}

/// How a hook's sender proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// Standard Webhooks signatures with `signing_secrets`.
    StandardWebhooks,
    /// HubSpot's `X-HubSpot-Signature-v3` with the app's `client_secrets`.
    #[serde(rename = "hubspot-v3")]
    HubspotV3,
    /// A shared key in `key_header` or `key_query`, one of `keys`.
    Key,
}

/// A condition on an event's JSON for a hook to act on it (`[[hooks.NAME.when]]`): the value
/// at `pointer` equals, does not equal, or is one of the given strings (a number or a boolean
/// is compared as its JSON text). Exactly one of `equals`, `not_equals`, `one_of`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A JSON Pointer into the event (`/properties/type`).
    pub pointer: String,
    /// The value must be this.
    pub equals: Option<String>,
    /// The value must not be this (a missing value is not it).
    pub not_equals: Option<String>,
    /// The value must be one of these.
    pub one_of: Option<Vec<String>>,
}

impl Condition {
    /// Why `event` does not meet the condition, or `None` when it does.
    #[must_use]
    pub fn unmet(&self, event: &serde_json::Value) -> Option<String> {
        let found = super::fields::pointer(event, &self.pointer).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        });
        let p = &self.pointer;
        if let Some(want) = &self.equals {
            if found.as_deref() != Some(want.as_str()) {
                return Some(match found {
                    Some(v) => format!("{p} is {v:?}, not {want:?}"),
                    None => format!("{p} is missing (wanted {want:?})"),
                });
            }
        }
        if let Some(not) = &self.not_equals {
            if found.as_deref() == Some(not.as_str()) {
                return Some(format!("{p} is {not:?}"));
            }
        }
        if let Some(list) = &self.one_of {
            if !found.as_ref().is_some_and(|v| list.contains(v)) {
                return Some(match found {
                    Some(v) => format!("{p} is {v:?}, not one of {list:?}"),
                    None => format!("{p} is missing (wanted one of {list:?})"),
                });
            }
        }
        None
    }
}

/// One hook: how its sender authenticates and how its events map to sheet columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// How the sender authenticates. Without it, as before schemes were named: a Standard
    /// Webhooks signature when `signing_secrets` are set, else the key.
    pub scheme: Option<Scheme>,
    /// HubSpot (`scheme = "hubspot-v3"`): the app's client secrets, as HubSpot shows them
    /// (several while one is being rotated).
    #[serde(default)]
    pub client_secrets: Vec<String>,
    /// HubSpot: the hook's URL as configured in HubSpot (`https://host/path`, no query), when
    /// a proxy in front of the server changes the host or the path. Signatures over the URL
    /// this server sees (`https://` + its Host header + the path) are accepted as well.
    pub public_url: Option<String>,
    /// Conditions an event must meet to be acted on (all of them); others are kept as
    /// `skipped` with the reason.
    #[serde(default)]
    pub when: Vec<Condition>,
    /// Standard Webhooks signing secrets (`whsec_…`, base64 after the prefix); several while
    /// one is being rotated. Checked against `webhook-signature`.
    #[serde(default)]
    pub signing_secrets: Vec<String>,
    /// For senders that cannot sign (Dynamics 365's WebhookKey, a header key): the header
    /// holding a shared key…
    pub key_header: Option<String>,
    /// …or the query parameter holding it (Dynamics 365's WebhookKey sends `?code=KEY`)…
    pub key_query: Option<String>,
    /// …and the keys it may hold (several while one is being rotated).
    #[serde(default)]
    pub keys: Vec<String>,
    /// A JSON Pointer to the event's own id in its body, when the sender sends one there
    /// (otherwise `webhook-id`, `x-request-id`, or the body's hash).
    pub event_id: Option<String>,
    /// A Roles sheet (CSV: Role, Attribute, Operator, Value) turning a role named by an event
    /// into the attributes its Automatic Role Assignment rule reads.
    pub roles: Option<PathBuf>,
    /// Sheet columns from the event: a JSON Pointer (`/email`; a segment `[key=NAME]` picks
    /// the element whose `key` is NAME from a list of `{key, value}`, as Dynamics 365 sends
    /// attributes) or, for anything not starting with `/`, a constant (`UT_…`).
    pub fields: BTreeMap<String, String>,
    /// Attributes from the event, by attribute name: a JSON Pointer or a constant.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The user types (`UT_…` ids) an event may ask for when the `User type` field is a JSON
    /// Pointer: anything else is refused at intake (422 naming the field). Needed for a
    /// mapped user type; never the Brand Administrator's. A constant `User type` needs none.
    #[serde(default)]
    pub user_types: Vec<String>,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the hooks configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Others can read it.
    #[error("the hooks configuration {path} can be read by other users (it holds secrets): chmod 600 it")]
    NotPrivate {
        /// The file.
        path: String,
    },
    /// Not valid TOML, or not the expected shape.
    #[error("the hooks configuration {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with its line.
        message: String,
    },
}

impl HooksConfig {
    /// Reads and checks `path`: refused when other users may read it, or when a hook has no
    /// way to authenticate its sender, no Username field, or a field that is neither a JSON
    /// Pointer nor a constant.
    pub fn read(path: &Path) -> Result<HooksConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| ConfigError::Read {
                    path: shown.clone(),
                    source,
                })?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(ConfigError::NotPrivate { path: shown });
            }
        }
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let config: HooksConfig = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for (name, hook) in &config.hooks {
            if name == "events"
                || name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "hook {name:?}: a hook's name is letters, digits, - and _ (and not \"events\")"
                )));
            }
            check_scheme(name, hook).map_err(&invalid)?;
            for c in &hook.when {
                let given = [
                    c.equals.is_some(),
                    c.not_equals.is_some(),
                    c.one_of.is_some(),
                ];
                if given.iter().filter(|g| **g).count() != 1 || !c.pointer.starts_with('/') {
                    return Err(invalid(format!("hook {name:?}: each [[hooks.{name}.when]] has a pointer (starting with /) and exactly one of equals, not_equals or one_of")));
                }
            }
            if !hook
                .fields
                .keys()
                .any(|k| k.eq_ignore_ascii_case("username"))
            {
                return Err(invalid(format!(
                    "hook {name:?} has no fields.Username: every event must name its account"
                )));
            }
            for secret in &hook.signing_secrets {
                let key = super::signing::secret_key(secret)
                    .map_err(|e| invalid(format!("hook {name:?}: {e}")))?;
                if key.len() < 16 {
                    return Err(invalid(format!("hook {name:?}: a signing secret must hold at least 16 random bytes (--write-hooks-config makes one)")));
                }
            }
            if hook.keys.iter().any(|k| k.trim().len() < 16) {
                return Err(invalid(format!(
                    "hook {name:?}: a key must be at least 16 characters (a long random string)"
                )));
            }
            check_user_types(name, hook).map_err(invalid)?;
        }
        check_credentials_are_own(&config.hooks).map_err(&invalid)?;
        if config.store.retention_days < MIN_RETENTION_DAYS {
            return Err(invalid(format!("store.retention_days is {}: at least {MIN_RETENTION_DAYS} (senders retry for up to three days, and a repeat is recognised only while its event is kept)", config.store.retention_days)));
        }
        if let Some(store) = &config.store.url {
            let scheme = url::Url::parse(store.secret()).map(|u| u.scheme().to_string());
            if !matches!(scheme.as_deref(), Ok("postgres" | "postgresql")) {
                return Err(invalid(format!(
                    "store.url {:?}: a PostgreSQL URL, postgres://user@host:port/database",
                    store.redacted()
                )));
            }
            if let Err(e) = store.secret().parse::<postgres::Config>() {
                return Err(invalid(format!("store.url {:?}: {e}", store.redacted())));
            }
            if !(2..=3600).contains(&config.store.lease_seconds) {
                return Err(invalid(format!(
                    "store.lease_seconds is {}: from 2 to 3600 (30 is a good choice)",
                    config.store.lease_seconds
                )));
            }
        }
        if let Some(alerts) = &config.alerts {
            let url = url::Url::parse(&alerts.url)
                .map_err(|e| invalid(format!("alerts.url {:?}: {e}", alerts.url)))?;
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                return Err(invalid(format!(
                    "alerts.url {:?}: https:// (http:// only to this machine)",
                    alerts.url
                )));
            }
            let key = super::signing::secret_key(&alerts.secret)
                .map_err(|e| invalid(format!("alerts.secret: {e}")))?;
            if key.len() < 16 {
                return Err(invalid(
                    "alerts.secret must hold at least 16 random bytes".into(),
                ));
            }
        }
        if config
            .metrics
            .token
            .as_ref()
            .is_some_and(|t| t.trim().len() < 16)
        {
            return Err(invalid(
                "metrics.token must be at least 16 characters (a long random string)".into(),
            ));
        }
        Ok(config)
    }
}

/// The hook's sender can authenticate, with what its scheme needs and nothing another scheme
/// reads (a secret set but never checked would look like protection).
fn check_scheme(name: &str, hook: &HookConfig) -> Result<(), String> {
    let keyed = (hook.key_header.is_some() || hook.key_query.is_some()) && !hook.keys.is_empty();
    match hook.scheme {
        None => {
            if hook.signing_secrets.is_empty() && !keyed {
                return Err(format!("hook {name:?} has no signing_secrets and no key_header (or key_query) with keys: every hook authenticates its sender"));
            }
            if !hook.client_secrets.is_empty() || hook.public_url.is_some() {
                return Err(format!("hook {name:?}: client_secrets and public_url are for scheme = \"hubspot-v3\": add it"));
            }
        }
        Some(Scheme::StandardWebhooks) => {
            if hook.signing_secrets.is_empty() {
                return Err(format!(
                    "hook {name:?}: scheme \"standard-webhooks\" needs signing_secrets"
                ));
            }
            if keyed || !hook.client_secrets.is_empty() || hook.public_url.is_some() {
                return Err(format!("hook {name:?}: scheme \"standard-webhooks\" reads only signing_secrets (remove keys, client_secrets, public_url)"));
            }
        }
        Some(Scheme::Key) => {
            if !keyed {
                return Err(format!(
                    "hook {name:?}: scheme \"key\" needs key_header or key_query, and keys"
                ));
            }
            if !hook.signing_secrets.is_empty()
                || !hook.client_secrets.is_empty()
                || hook.public_url.is_some()
            {
                return Err(format!(
                    "hook {name:?}: scheme \"key\" reads only key_header / key_query and keys"
                ));
            }
        }
        Some(Scheme::HubspotV3) => {
            if hook.client_secrets.is_empty() {
                return Err(format!("hook {name:?}: scheme \"hubspot-v3\" needs client_secrets (the HubSpot app's client secret)"));
            }
            if keyed || !hook.signing_secrets.is_empty() {
                return Err(format!("hook {name:?}: scheme \"hubspot-v3\" reads only client_secrets (and public_url)"));
            }
            if hook.client_secrets.iter().any(|s| s.trim().len() < 16) {
                return Err(format!("hook {name:?}: a client secret is at least 16 characters (HubSpot's are UUIDs)"));
            }
            if let Some(u) = &hook.public_url {
                let parsed = url::Url::parse(u)
                    .map_err(|e| format!("hook {name:?}: public_url {u:?}: {e}"))?;
                if parsed.scheme() != "https"
                    || parsed.query().is_some()
                    || parsed.host_str().is_none()
                {
                    return Err(format!("hook {name:?}: public_url {u:?} is the https:// URL HubSpot calls, without a query"));
                }
            }
        }
    }
    Ok(())
}

/// A hook sets a user type only from a constant or from its `user_types` allow-list, and never
/// the Brand Administrator's: anyone who holds a hook's secret could otherwise make one.
fn check_user_types(name: &str, hook: &HookConfig) -> Result<(), String> {
    use super::fields::{is_user_type_column, names_brand_administrator};
    if let Some(column) = hook.attributes.keys().find(|a| is_user_type_column(a)) {
        return Err(format!("hook {name:?}: attributes.{column:?} would be read as the user type: set the user type with fields.\"User type\" (a constant, or a JSON Pointer with user_types)"));
    }
    let columns: Vec<(&String, &String)> = hook
        .fields
        .iter()
        .filter(|(c, _)| is_user_type_column(c))
        .collect();
    if columns.len() > 1 {
        return Err(format!(
            "hook {name:?}: fields {:?} and {:?} both mean the user type: keep one",
            columns[0].0, columns[1].0
        ));
    }
    for allowed in &hook.user_types {
        if allowed.trim().is_empty() {
            return Err(format!("hook {name:?}: user_types holds an empty entry"));
        }
        if names_brand_administrator(allowed) {
            return Err(format!("hook {name:?}: user_types lists {allowed:?}, the Brand Administrator's type: a hook never creates or promotes a Brand Administrator (remove it)"));
        }
    }
    let Some((column, source)) = columns.first() else {
        return Ok(());
    };
    if source.starts_with('/') {
        if hook.user_types.is_empty() {
            return Err(format!("hook {name:?}: fields.{column:?} takes the user type from the event ({source}) without a user_types allow-list: anyone holding the hook's secret could choose any type. Give a constant UT_ id, or list the types events may ask for in user_types = [\"UT_…\"]"));
        }
    } else {
        if names_brand_administrator(source) {
            return Err(format!("hook {name:?}: fields.{column:?} is {source:?}, the Brand Administrator's type: a hook never creates or promotes a Brand Administrator"));
        }
        if source.contains('…') {
            return Err(format!("hook {name:?}: fields.{column:?} is still the template's placeholder {source:?}: put the UT_ id of the type new accounts get (the page's user list shows them)"));
        }
        if !hook.user_types.is_empty() && !hook.user_types.iter().any(|t| t.trim() == source.trim())
        {
            return Err(format!("hook {name:?}: fields.{column:?} is {source:?}, which its own user_types does not list"));
        }
    }
    Ok(())
}

/// Each hook's signing secrets and keys are its own: with one shared, an event sent to one hook
/// would be accepted by the other too (and mapped by the other's fields). Secrets are compared
/// by their key bytes, keys as written (trimmed).
fn check_credentials_are_own(hooks: &BTreeMap<String, HookConfig>) -> Result<(), String> {
    let mut owner: std::collections::HashMap<Vec<u8>, &str> = std::collections::HashMap::new();
    for (name, hook) in hooks {
        let secrets = hook
            .signing_secrets
            .iter()
            .filter_map(|s| super::signing::secret_key(s).ok())
            .map(|k| ([b"secret:".as_slice(), &k].concat(), "signing secret"));
        let keys = hook
            .keys
            .iter()
            .map(|k| ([b"key:".as_slice(), k.trim().as_bytes()].concat(), "key"));
        let clients = hook.client_secrets.iter().map(|k| {
            (
                [b"client:".as_slice(), k.trim().as_bytes()].concat(),
                "client secret",
            )
        });
        for (credential, what) in secrets.chain(keys).chain(clients) {
            match owner.get(&credential) {
                Some(other) if *other != name.as_str() => {
                    return Err(format!("hooks {other:?} and {name:?} share a {what}: each hook needs its own (an event sent to one would be accepted by the other)"));
                }
                _ => {
                    owner.insert(credential, name.as_str());
                }
            }
        }
    }
    Ok(())
}

/// A new configuration file for the sandbox on `base_url`, with a fresh signing secret,
/// created readable by its owner only; refuses to overwrite a file.
pub fn write_template(path: &Path, base_url: &str) -> std::io::Result<String> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut key = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| std::io::Error::other("no random numbers"))?;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    );
    let text = TEMPLATE
        .replace("{base_url}", base_url)
        .replace("{secret}", &secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options.open(path)?.write_all(text.as_bytes())?;
    Ok(secret)
}

const TEMPLATE: &str = r#"# qualtrics-roster hooks (roster-server --hooks-config THIS_FILE). Readable by its owner only.

[qualtrics]
# The brand: base_url for the sandbox, or datacenter = "iad1" for a real brand.
base_url = "{base_url}"
# The credential: a file in the CLI's format (chmod 600), or the environment
# (QUALTRICS_CLIENT_ID + QUALTRICS_CLIENT_SECRET, or QUALTRICS_API_TOKEN).
# credentials = "/etc/qualtrics-roster/credentials"

[store]
path = "qualtrics-roster-hooks.sqlite"
audit = "qualtrics-roster-hooks-audit.jsonl"
# Two or more servers behind a load balancer: a PostgreSQL database they share instead of
# the SQLite file (the password here or in PGPASSWORD).
# url = "postgres://roster@db.example.org:5432/roster"

[retry]
attempts = 8
first_delay_seconds = 60

[hooks.crm]
# Standard Webhooks: the sender signs with this secret (webhook-id, webhook-timestamp,
# webhook-signature). Add a second one while rotating.
signing_secrets = ["{secret}"]
# A sender that cannot sign: a shared key in a header instead.
# key_header = "x-roster-key"
# keys = ["a long random key"]
# The event's own id, when the sender puts one in the body:
# event_id = "/eventId"
# A Roles sheet (Role, Attribute, Operator, Value), to map a role to attributes:
# roles = "roles.csv"

[hooks.crm.fields]
Username = "/email"
"First name" = "/firstName"
"Last name" = "/lastName"
Email = "/email"
# The user type of the accounts this hook creates: put a UT_ id from the page's user list (the
# server does not start with this placeholder). It is fixed here, not read from the event:
# anyone holding the hook's secret could otherwise choose any type. To let events choose among
# a few, map it ("User type" = "/userType") and list them under [hooks.crm]:
# user_types = ["UT_…", "UT_…"]. A hook never makes a Brand Administrator (UT_BRANDADMIN).
"User type" = "UT_…"
Action = "/action"
# The role whose Automatic Role Assignment rule gives dashboard access:
# Role = "/dataAccess"

[hooks.crm.attributes]
# Attributes set from the event (the attribute = a JSON Pointer into it). The README's
# walkthrough sends "department"; rename, add or delete lines to fit your events. An attribute
# named here is created if no one in the brand has it yet: this file is the allowance.
Department = "/department"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path =
            std::env::temp_dir().join(format!("roster-config-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    const HOOK: &str = "[qualtrics]\nbase_url = \"http://localhost/API/v3\"\n[hooks.crm.fields]\nUsername = \"/email\"\n[hooks.crm]\n";

    #[test]
    fn secrets_must_be_private_long_and_present() {
        let check = |name: &str, auth: &str, mode: u32| {
            let path = write(name, &format!("{HOOK}{auth}"), mode);
            let read = HooksConfig::read(&path)
                .map(|_| ())
                .map_err(|e| e.to_string());
            let _ = std::fs::remove_file(path);
            read
        };
        let good = "signing_secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n";
        assert_eq!(check("good", good, 0o600), Ok(()));
        assert!(check("open", good, 0o644)
            .unwrap_err()
            .contains("chmod 600"));
        assert!(check("empty", "signing_secrets = [\"whsec_\"]\n", 0o600)
            .unwrap_err()
            .contains("at least 16 random bytes"));
        assert!(check("key", "key_header = \"x-k\"\nkeys = [\"\"]\n", 0o600)
            .unwrap_err()
            .contains("at least 16 characters"));
        assert!(check("none", "", 0o600)
            .unwrap_err()
            .contains("every hook authenticates its sender"));
        assert_eq!(
            check(
                "query",
                "key_query = \"code\"\nkeys = [\"0123456789abcdef\"]\n",
                0o600
            ),
            Ok(())
        );
    }

    fn read_text(name: &str, text: &str) -> Result<HooksConfig, String> {
        let path = write(name, text, 0o600);
        let read = HooksConfig::read(&path).map_err(|e| e.to_string());
        let _ = std::fs::remove_file(path);
        read
    }

    const BASE: &str = "[qualtrics]\nbase_url = \"http://localhost/API/v3\"\n";
    const S1: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const S2: &str = "whsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24=";

    fn two_hooks(crm: &str, hr: &str) -> String {
        format!("{BASE}[hooks.crm]\n{crm}\n[hooks.crm.fields]\nUsername = \"/email\"\n[hooks.hr]\n{hr}\n[hooks.hr.fields]\nUsername = \"/email\"\n")
    }

    #[test]
    fn each_hooks_secrets_and_keys_are_its_own() {
        let secrets = |a: &str, b: &str| {
            two_hooks(
                &format!("signing_secrets = [\"{a}\"]"),
                &format!("signing_secrets = [\"{b}\"]"),
            )
        };
        assert!(read_text("own", &secrets(S1, S2)).is_ok());
        let shared = read_text("shared", &secrets(S1, &format!("{S2}\", \"{S1}"))).unwrap_err();
        assert!(
            shared.contains("hooks \"crm\" and \"hr\" share a signing secret"),
            "{shared}"
        );
        // The same key bytes written without the prefix are the same secret.
        let bare = S1.trim_start_matches("whsec_");
        assert!(read_text("bare", &secrets(S1, bare))
            .unwrap_err()
            .contains("share a signing secret"));
        let keys = two_hooks(
            "key_header = \"x-k\"\nkeys = [\"0123456789abcdef\"]",
            "key_query = \"code\"\nkeys = [\" 0123456789abcdef\"]",
        );
        assert!(read_text("keys", &keys)
            .unwrap_err()
            .contains("hooks \"crm\" and \"hr\" share a key"));
        // Two secrets of one hook (a rotation) are fine, even twice the same.
        let rotation = two_hooks(
            &format!("signing_secrets = [\"{S1}\", \"{S1}\"]"),
            &format!("signing_secrets = [\"{S2}\"]"),
        );
        assert!(read_text("rotation", &rotation).is_ok());
    }

    #[test]
    fn a_hook_sets_a_user_type_from_a_constant_or_an_allow_list_never_the_administrators() {
        let hook = |extra: &str, user_type: &str| {
            format!("{BASE}[hooks.crm]\nsigning_secrets = [\"{S1}\"]\n{extra}\n[hooks.crm.fields]\nUsername = \"/email\"\n{user_type}\n")
        };
        assert!(read_text("fixed", &hook("", "\"User type\" = \"UT_abc\"")).is_ok());
        assert!(read_text(
            "listed",
            &hook(
                "user_types = [\"UT_a\", \"UT_b\"]",
                "\"User type\" = \"/type\""
            )
        )
        .is_ok());
        let unlisted = read_text("unlisted", &hook("", "\"User type\" = \"/type\"")).unwrap_err();
        assert!(
            unlisted.contains("without a user_types allow-list"),
            "{unlisted}"
        );
        for (tag, extra, field) in [
            ("fixed-admin", "", "\"User type\" = \"UT_BRANDADMIN\""),
            ("fixed-admin-case", "", "Type = \"ut_brandadmin\""),
            (
                "listed-admin",
                "user_types = [\"UT_a\", \"Ut_BrandAdmin\"]",
                "\"User type\" = \"/type\"",
            ),
        ] {
            let refused = read_text(tag, &hook(extra, field)).unwrap_err();
            assert!(
                refused.contains("never creates or promotes a Brand Administrator"),
                "{tag}: {refused}"
            );
        }
        let placeholder =
            read_text("placeholder", &hook("", "\"User type\" = \"UT_…\"")).unwrap_err();
        assert!(placeholder.contains("placeholder"), "{placeholder}");
        let two = read_text(
            "two",
            &hook("", "\"User type\" = \"UT_a\"\n\"Account type\" = \"UT_b\""),
        )
        .unwrap_err();
        assert!(two.contains("both mean the user type"), "{two}");
        let attribute = read_text(
            "attribute",
            &format!("{}[hooks.crm.attributes]\nType = \"/type\"\n", hook("", "")),
        )
        .unwrap_err();
        assert!(
            attribute.contains("would be read as the user type"),
            "{attribute}"
        );
    }

    #[test]
    fn the_template_does_not_take_the_user_type_from_the_event() {
        let path =
            std::env::temp_dir().join(format!("roster-template-{}.toml", std::process::id()));
        let _ = std::fs::remove_file(&path);
        write_template(&path, "http://localhost:8080/sandbox/API/v3").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let config: HooksConfig = toml::from_str(&text).unwrap();
        let crm = &config.hooks["crm"];
        let user_type = crm
            .fields
            .iter()
            .find(|(c, _)| super::super::fields::is_user_type_column(c))
            .map(|(_, v)| v.as_str());
        assert_eq!(
            user_type,
            Some("UT_…"),
            "a placeholder the administrator fills"
        );
        assert!(crm.user_types.is_empty());
        // As written, the server refuses it until the placeholder is filled…
        let refused = HooksConfig::read(&path).unwrap_err().to_string();
        assert!(refused.contains("placeholder"), "{refused}");
        // …and filled, it starts.
        std::fs::write(
            &path,
            text.replace("\"User type\" = \"UT_…\"", "\"User type\" = \"UT_abc\""),
        )
        .unwrap();
        assert!(HooksConfig::read(&path).is_ok());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_postgres_store_is_checked_and_its_password_never_shown() {
        let with_store = |store: &str| {
            format!("{BASE}[store]\n{store}\n[hooks.crm]\nsigning_secrets = [\"{S1}\"]\n[hooks.crm.fields]\nUsername = \"/email\"\n\"User type\" = \"UT_abc\"\n")
        };
        let good = read_text(
            "pg-good",
            &with_store("url = \"postgres://roster:pw-0123456789@db.internal:5432/roster\""),
        )
        .unwrap();
        assert_eq!(good.store.lease_seconds, 30);
        let shown = format!("{good:?}");
        assert!(
            shown.contains("roster:***@db.internal:5432/roster") && !shown.contains("pw-0123"),
            "{shown}"
        );
        let wrong = read_text(
            "pg-scheme",
            &with_store("url = \"mysql://roster:pw-0123456789@db.internal/roster\""),
        )
        .unwrap_err();
        assert!(
            wrong.contains("a PostgreSQL URL") && !wrong.contains("pw-0123"),
            "{wrong}"
        );
        let lease = read_text(
            "pg-lease",
            &with_store("url = \"postgres://roster@db.internal/roster\"\nlease_seconds = 1"),
        )
        .unwrap_err();
        assert!(lease.contains("lease_seconds is 1"), "{lease}");
    }

    #[test]
    fn retries_double_up_to_an_hour_then_park() {
        let r = RetryConfig {
            attempts: 8,
            first_delay_seconds: 60.0,
        };
        let delays: Vec<Option<u64>> = (1..=8).map(|a| r.delay_after(a)).collect();
        assert_eq!(delays[0], Some(60_000));
        assert_eq!(delays[1], Some(120_000));
        assert_eq!(delays[6], Some(3_600_000), "capped at an hour");
        assert_eq!(delays[7], None, "the eighth failure parks it");
    }
}
