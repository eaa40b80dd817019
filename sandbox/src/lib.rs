//! The sandbox brand: a Qualtrics-compatible brand held in memory, served under
//! `/sandbox/API/v3/...` with Qualtrics' wire format (see `../shared/qualtrics-api.md`).
//!
//! It plays Qualtrics' part faithfully, including the awkward parts: absolute `nextPage` URLs
//! built from the host the client addressed, the "Request proxied" notice (with a `nextPage`
//! on the brand's own datacenter host carrying proxy parameters) when a client calls another
//! datacenter's host, error envelopes for every failure, and no CORS headers unless switched on.
//!
//! Error codes Qualtrics is not known to publish (for example for an unknown field) are our
//! own, marked `SBX_*`; clients must rely on the HTTP status and message, as with Qualtrics.
//!
//! The files: this one holds the [`Sandbox`] and its set-up; `api` answers one API call without
//! I/O ([`Sandbox::handle`], [`Sandbox::answer`]), a file per resource (`users`, `groups`,
//! `employee_directories`) and `wire` for Qualtrics' answer format and paging; `adapter` serves
//! it over axum ([`router`]). The brand's data ([`brand`], [`directory`], [`roles`]), the OAuth
//! server ([`oauth`]) and the injected trouble ([`faults`]) have their own modules.

pub mod brand;
pub mod directory;
pub mod faults;
pub mod ids;
pub mod oauth;
pub mod roles;

mod adapter;
mod api;

pub use adapter::router;
pub use api::Reply;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use brand::Brand;
use faults::{Faults, RateLimits, Trouble};

/// Users per page of `GET /users`, as Qualtrics pages them.
pub const USERS_PAGE_SIZE: usize = 100;

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for the brand's data and tokens.
    pub seed: u64,
    /// How many users the brand has.
    pub users: usize,
    /// How many groups the brand has.
    pub groups: usize,
    /// How many CX dashboard roles (with rules) the brand has.
    pub roles: usize,
    /// Answer CORS preflights and add `Access-Control-Allow-Origin: *` (off, like Qualtrics).
    pub cors: bool,
    /// Rate limits per endpoint family.
    pub limits: RateLimits,
    /// Injected faults.
    pub faults: Faults,
    /// Answer the directory endpoints inside `result` instead of Qualtrics' documented flat form
    /// (which one the live API uses is unverified; clients must take both).
    pub directory_wrapped: bool,
    /// Answer a user's record (`GET /users/{id}`) in other plausible forms: the language code
    /// upper-case (`EN`), the time zone lower-case, dates with milliseconds
    /// (`2030-06-30T00:00:00.000Z`). Which forms the live API returns is unverified: a client
    /// that compares them exactly would plan the same change again and again.
    pub user_forms_alternate: bool,
    /// How long OAuth access tokens live (Qualtrics: an hour).
    pub oauth_token_ttl: std::time::Duration,
    /// CX directory participants besides the users' own: people without a platform account,
    /// as a directory import makes them (a big directory in a brand of few users).
    pub directory_only: usize,
    /// Add two automatic groups after the seeded ones (see [`Brand::add_auto_groups`]):
    /// "All Staff", brand-wide, and "Everyone in Arts & Sciences", division-wide. Off by
    /// default so the seeded brand's counts stay as they are.
    pub auto_groups: bool,
    /// Carry `autoMembership` on the elements of `GET /groups` too (whether Qualtrics' listing
    /// does is unverified: by default only `GET /groups/{id}` says it).
    pub group_list_auto_membership: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 1,
            users: brand::USER_COUNT,
            groups: brand::GROUP_COUNT,
            roles: brand::ROLE_COUNT,
            cors: false,
            limits: RateLimits::default(),
            faults: Faults {
                retry_after_share: 0.5,
                ..Faults::default()
            },
            directory_wrapped: false,
            user_forms_alternate: false,
            oauth_token_ttl: std::time::Duration::from_secs(3600),
            directory_only: 0,
            auto_groups: false,
            group_list_auto_membership: false,
        }
    }
}

/// What the sandbox saw, for tests and benchmarks (`GET /sandbox/control/stats`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// API requests received.
    pub requests: u64,
    /// Answers by HTTP status (0 = connection dropped).
    pub by_status: BTreeMap<u16, u64>,
    /// Requests per endpoint family.
    pub by_family: BTreeMap<String, u64>,
    /// Requests per endpoint, `METHOD /path` with ids as `{id}` (e.g. `POST /users`,
    /// `POST /employee-directories/cx/participants`), whatever their answer.
    pub by_endpoint: BTreeMap<String, u64>,
    /// Answers under 300 per endpoint, keyed as in `by_endpoint` (`POST /users`: accounts
    /// created).
    pub ok_by_endpoint: BTreeMap<String, u64>,
    /// Effective changes per user id (a PUT that changed nothing is not counted).
    pub changes_per_user: HashMap<String, u32>,
    /// OAuth token requests received (granted or refused): how often clients logged in.
    pub token_requests: u64,
}

/// The sandbox's shared state.
pub struct Sandbox {
    brand: Mutex<Brand>,
    cors: bool,
    directory_wrapped: bool,
    user_forms_alternate: bool,
    group_list_auto_membership: bool,
    request_counter: AtomicU64,
    trouble: Mutex<Trouble>,
    stats: Mutex<Stats>,
    oauth: Mutex<oauth::OAuth>,
}

impl Sandbox {
    /// A freshly seeded sandbox.
    #[must_use]
    pub fn new(config: &SandboxConfig) -> Arc<Sandbox> {
        let mut brand = Brand::seeded_with(config.seed, config.users, config.groups, config.roles);
        brand
            .directory
            .seed_unlinked(config.seed, config.directory_only);
        if config.auto_groups {
            brand.add_auto_groups();
        }
        let admin_id = brand
            .users
            .first()
            .map(|u| u.id.clone())
            .unwrap_or_default();
        Arc::new(Sandbox {
            oauth: Mutex::new(oauth::OAuth::seeded(
                config.seed,
                &admin_id,
                config.oauth_token_ttl,
            )),
            brand: Mutex::new(brand),
            cors: config.cors,
            directory_wrapped: config.directory_wrapped,
            user_forms_alternate: config.user_forms_alternate,
            group_list_auto_membership: config.group_list_auto_membership,
            request_counter: AtomicU64::new(0),
            trouble: Mutex::new(Trouble::new(config.limits, config.faults.clone())),
            stats: Mutex::new(Stats::default()),
        })
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn trouble(&self) -> std::sync::MutexGuard<'_, Trouble> {
        self.trouble.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the sandbox saw so far (requests, answers by status, changes per user).
    pub fn stats_snapshot(&self) -> Stats {
        self.stats().clone()
    }

    /// The brand administrator's token (printed at start so a person can connect).
    pub fn admin_token(&self) -> String {
        self.brand().admin_token.clone()
    }

    /// A valid token of a user who is not a brand administrator.
    pub fn user_token(&self) -> String {
        self.brand().user_token.clone()
    }

    /// The seeded OAuth client's ID and secret (it acts as the brand administrator).
    pub fn oauth_client(&self) -> (String, String) {
        let o = self.oauth();
        let (id, secret) = o.client();
        (id.to_string(), secret.to_string())
    }

    /// The OAuth token endpoint (`POST …/oauth2/token`), counted in [`Stats::token_requests`].
    fn token(
        &self,
        authorization: Option<&str>,
        body: &[u8],
        now: std::time::SystemTime,
    ) -> (u16, serde_json::Value) {
        self.stats().token_requests += 1;
        self.oauth().token(authorization, body, now)
    }

    fn oauth(&self) -> std::sync::MutexGuard<'_, oauth::OAuth> {
        self.oauth.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn brand(&self) -> std::sync::MutexGuard<'_, Brand> {
        // A panic while holding the lock must not take the whole sandbox down.
        self.brand.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "5a4d0b0c-{:04x}-4000-8000-{:012x}",
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }
}

/// Unix milliseconds as a `SystemTime` (OAuth expiry runs on the clock the sandbox is given).
fn at_ms(now: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(now)
}

#[cfg(test)]
mod tests;
