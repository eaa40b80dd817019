//! Accepted events, kept in SQLite (or, for several servers, PostgreSQL: see `pg.rs`)
//! before the sender is answered: a kill at any moment loses none. Each event is unique per hook by the sender's id (a repeat gets the first one's
//! status); its status moves received -> planned -> done, or failed (retried later, or parked
//! when `next_attempt_at` is empty), or quarantined (a burst the mass-change brake holds,
//! until an administrator releases it, back to received, or discards it). The journal of
//! rows a run finished is kept per event, so a run cut short and planned again sends nothing
//! twice. An event outside its hook's `when` conditions is kept as `skipped` (without its
//! data). A paused hook's events wait, paused, until it is resumed (the pause is kept here, so
//! it survives a restart).
//!
//! Personal data: a sender's id is kept only as its SHA-256 (enough to know a repeat); a
//! password is blanked from an event once it is applied; [`Store::purge`] deletes events (and
//! their journal) older than the configured retention.

mod pg;

use qualtrics_roster::provision::is_password_column;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::config::{StoreConfig, StoreUrl};
use super::mapping::HookRow;
use qualtrics_roster::exec::JournalEntry;

/// An event's state, as `GET /hooks/v1/events/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventStatus {
    /// Our id.
    pub id: i64,
    /// The hook it came in on.
    pub hook: String,
    /// The sender's id for it.
    pub sender_id: String,
    /// When it was accepted (ISO 8601).
    pub received_at: String,
    /// `received`, `planned`, `done`, `failed`, `quarantined` (held by the mass-change brake
    /// until released or discarded), `discarded`, or `skipped` (outside its hook's `when`
    /// conditions; `reason` says which).
    pub status: String,
    /// The account it names.
    pub user: String,
    /// `create`, `update`, `disable` or `enable`.
    pub action: String,
    /// The row's outcome once applied (`{status, message}`), or why it failed.
    pub outcome: Option<serde_json::Value>,
    /// Tries so far.
    pub attempts: u32,
    /// Why the last try failed.
    pub reason: Option<String>,
    /// When a failed event is tried again (ISO 8601); none when parked.
    pub next_attempt_at: Option<String>,
    /// The burst it was quarantined with (the burst's first event id): release or discard
    /// any of its events to release or discard them all.
    pub burst: Option<i64>,
    /// Whether an administrator released its quarantined burst (it is applied past the
    /// mass-change brake).
    pub released: bool,
    /// Whether Retry can succeed: a failed event that did not fail by a refusal (Qualtrics
    /// answered 4xx other than 429, the policy or the plan refused its row, the hook's mapping
    /// is wrong). A refused event would get the same answer again: `reason` says what to fix.
    pub retryable: bool,
}

/// One request sent for an event (or a try that ended before sending), with Qualtrics'
/// answer: what the Automations view shows in an event's details. Never a header, a body or a
/// query string (so never a token, a password nor a search term).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// When it was sent (ISO 8601, UTC).
    pub at: String,
    /// The method and path (`PUT /API/v3/users/UR_…`); empty when nothing was sent (the try
    /// ended before: Qualtrics out of reach, the run stopped).
    pub request: String,
    /// The HTTP status of the answer; none when no answer came.
    pub status: Option<u16>,
    /// Qualtrics' error message, the transport's failure, or why the try ended.
    pub message: Option<String>,
    /// The event's try this belongs to (1 for the first, more after a retry).
    pub tried: u32,
    /// The request's attempt within the try (1 for the first send, 2 for its first resend…).
    pub attempt: u32,
}

/// Attempts kept per event: the latest, older ones dropped as new ones come.
pub const ATTEMPTS_KEPT: usize = 20;

/// An event with its details, as `GET /hooks/v1/events/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetails {
    /// Its state.
    #[serde(flatten)]
    pub event: EventStatus,
    /// The sheet row its hook's mapping made of the payload (column -> cell), a password
    /// cell never shown; none for a skipped event (its data is not kept).
    pub row: Option<std::collections::BTreeMap<String, String>>,
    /// Its row of the plan the core made (column -> cell), once planned.
    pub plan: Option<serde_json::Value>,
    /// Its latest requests with Qualtrics' answers, oldest first (at most [`ATTEMPTS_KEPT`]).
    pub history: Vec<Attempt>,
}

/// How an event's try ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Applied (or already as asked), with its row's outcome.
    Done(serde_json::Value),
    /// Failed with `reason`: tried again at `retry_at`, or parked when `None`.
    Failed {
        /// Why.
        reason: String,
        /// The row's outcome, when the run got that far.
        outcome: Option<serde_json::Value>,
        /// When to try again (milliseconds since the epoch).
        retry_at: Option<u64>,
    },
    /// Refused (Qualtrics answered 4xx other than 429, the policy or the plan refused its
    /// row, the hook's mapping cannot make a sheet): parked, and not retryable, since the
    /// same change would be refused again; `reason` says what to fix.
    Refused {
        /// Why, in the refusal's words.
        reason: String,
        /// The row's outcome, when the run got that far.
        outcome: Option<serde_json::Value>,
    },
}

/// What a retry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Queued to be tried again.
    Queued,
    /// The event does not exist or has not failed.
    NotFailed,
    /// It failed by a refusal (see [`EventStatus::retryable`]): the same change would be
    /// refused again.
    Refused,
    /// A later event for the same account was applied since: retrying would undo it.
    Superseded,
}

/// What releasing or discarding a quarantined burst did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The burst's quarantined events (this many) were released, or discarded.
    Done {
        /// The burst.
        burst: i64,
        /// Its events that were quarantined.
        events: usize,
    },
    /// The event does not exist.
    NotFound,
    /// The event is not quarantined.
    NotQuarantined,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    /// Events queued to be planned again.
    pub queued: Vec<i64>,
    /// Events left as they are, each with why (still pending, skipped, or a later change of
    /// the same account was applied since).
    pub left: Vec<(i64, String)>,
}

/// Counts for `GET /metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Events kept, by status.
    pub by_status: Vec<(String, u64)>,
    /// Events waiting to be applied (received, planned, or failed with a retry due).
    pub pending: u64,
    /// When the oldest of them arrived (milliseconds since the epoch).
    pub oldest_pending: Option<u64>,
}

/// An event due to be applied.
#[derive(Debug, Clone)]
pub struct DueEvent {
    /// Our id.
    pub id: i64,
    /// The hook it came in on (each hook's events are planned as a sheet of their own).
    pub hook: String,
    /// Its row.
    pub row: HookRow,
    /// Tries before this one (since a Retry, which gives it the configured tries again).
    pub attempts: u32,
    /// Tries before this one, all told (Retry does not reset it): its attempts' try number.
    pub tries: u32,
    /// The quarantined burst an administrator released it with: applied past the brake, on a
    /// sheet of that burst's events only.
    pub released: Option<i64>,
}

/// The events database: SQLite (embedded, one server) or PostgreSQL (shared by several
/// servers). Every method commits before it returns.
pub struct Store {
    backend: Backend,
}

enum Backend {
    Sqlite(Sqlite),
    Postgres(pg::Postgres),
}

/// The embedded store: one SQLite file, one server.
struct Sqlite {
    db: Mutex<Connection>,
    /// Held while the store is open: a second server on the same file refuses to start.
    _lock: std::fs::File,
}

/// A failure of the event store, in words.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database (the file cannot be written, say).
    #[error("the hooks' event store failed: {0}")]
    Db(#[from] rusqlite::Error),
    /// The store's lock: another server has it, or it cannot be made.
    #[error("the hooks' event store cannot be locked: {0}")]
    Lock(std::io::Error),
    /// On PostgreSQL, this server could not renew its claims on the events it was applying
    /// (the database out of reach): it stopped sending, and leaves them to whichever server
    /// claims them once the claims run out.
    #[error("this server could not renew its claims on the events it was applying (is the PostgreSQL store reachable?): it stopped their run and leaves them to the next server that claims them")]
    ClaimsLost,
    /// The PostgreSQL store (unreachable, refused, or a statement failed); the message names
    /// the server without its password.
    #[error("the hooks' PostgreSQL event store failed: {0}")]
    Postgres(String),
}

/// The prefix of an id made from an event's body (see [`Store::accept`]).
pub const BODY_ID_PREFIX: &str = "body:";
/// How long the same body counts as a repeat. Short: an identical body later is the same
/// change sent again on purpose (disable, enable, then disable one account again), which must
/// be applied; a sender's quick retry of a lost answer comes within it.
pub const BODY_REPEAT_WINDOW_MS: u64 = 5 * 60 * 1000;
/// How long a sender's own id (`webhook-id`, `x-request-id`, the `event_id` field) counts as
/// a repeat at least: HubSpot retries for up to three days. An id is kept (as its hash) as long
/// as its event, and the retention is at least this long (`config::MIN_RETENTION_DAYS`).
pub const SENDER_ID_KEPT_MS: u64 = 72 * 3600 * 1000;
/// The prefix of a sender id kept as its SHA-256.
pub const HASHED_ID_PREFIX: &str = "sha256:";

/// How a sender's id is kept: an id made from the body is already a hash (kept as it is, its
/// window suffix included); any other is kept as [`HASHED_ID_PREFIX`] and its SHA-256 in hex.
#[must_use]
pub fn kept_id(sender_id: &str) -> String {
    if sender_id.starts_with(BODY_ID_PREFIX) || sender_id.starts_with(HASHED_ID_PREFIX) {
        return sender_id.to_string();
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, sender_id.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{HASHED_ID_PREFIX}{hex}")
}

/// Statuses of events still to be applied or settled (deleted by retention all the same,
/// counted and logged).
pub(super) const UNFINISHED: &str = "('received', 'planned', 'quarantined')";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hook TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  user_key TEXT NOT NULL,
  action TEXT NOT NULL,
  row TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  reason TEXT,
  outcome TEXT,
  UNIQUE (hook, sender_id)
);
CREATE INDEX IF NOT EXISTS events_pending ON events (status, user_key, id);
CREATE TABLE IF NOT EXISTS journal (
  event_id INTEGER NOT NULL,
  entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_event ON journal (event_id);
CREATE TABLE IF NOT EXISTS paused (
  hook TEXT PRIMARY KEY,
  since INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE TABLE IF NOT EXISTS attempts (
  event_id INTEGER NOT NULL,
  entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_event ON attempts (event_id);
";

/// Columns added since the first release, each added to an older store when it opens.
const ADDED_COLUMNS: [(&str, &str); 5] = [
    // The quarantined burst an event belongs to (its first event's id).
    ("burst", "INTEGER"),
    // 1 once an administrator released its burst.
    ("released", "INTEGER NOT NULL DEFAULT 0"),
    // 1 when it failed by a refusal (not retryable); issue 29.9.
    ("refused", "INTEGER NOT NULL DEFAULT 0"),
    // Its row of the core's plan (JSON), once planned; issue 29.9.
    ("plan", "TEXT"),
    // Tries all told (a Retry resets `attempts`, not this); issue 29.9.
    ("tries", "INTEGER NOT NULL DEFAULT 0"),
];

/// Runs the same method on whichever backend the store has.
macro_rules! each {
    ($self:ident, $b:ident => $e:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $e,
            Backend::Postgres($b) => $e,
        }
    };
}

impl Store {
    /// Opens (or creates, readable by its owner only) the SQLite database at `path`: the
    /// embedded store of a single server (a second server on the same file is refused). Every
    /// commit reaches the disk before it returns (WAL, synchronous FULL).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(Sqlite::open(path)?),
        })
    }

    /// Connects to the PostgreSQL database at `url` (creating its tables on first use, safely
    /// when several servers start at once): a store several servers share. Each claims the
    /// events it applies for `lease` at a time, renewed while it runs; a server that dies
    /// leaves its claims to expire, and another server plans those events again.
    pub fn postgres(url: &StoreUrl, lease: std::time::Duration) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(pg::Postgres::connect(url, lease)?),
        })
    }

    /// The store `[store]` names: PostgreSQL when it has a `url`, else the SQLite `path`.
    /// Call once at start.
    pub fn from_config(config: &StoreConfig) -> Result<Store, StoreError> {
        match &config.url {
            Some(url) => Store::postgres(
                url,
                std::time::Duration::from_secs(u64::from(config.lease_seconds.max(1))),
            ),
            None => Store::open(&config.path),
        }
    }

    /// Keeps a new event (committed before it returns), or finds the one the sender already
    /// sent with this id: `(status, true)` when new.
    pub fn accept(
        &self,
        hook: &str,
        sender_id: &str,
        row: &HookRow,
        now: u64,
    ) -> Result<(EventStatus, bool), StoreError> {
        each!(self, b => b.accept(hook, sender_id, row, now))
    }

    /// Keeps an event its hook's `when` conditions leave out, as `skipped` with `reason`
    /// (its data is not kept: only the account it names, when it names one), or finds the
    /// one the sender already sent with this id: `(status, true)` when new.
    pub fn skip(
        &self,
        hook: &str,
        sender_id: &str,
        user: &str,
        reason: &str,
        now: u64,
    ) -> Result<(EventStatus, bool), StoreError> {
        each!(self, b => b.skip(hook, sender_id, user, reason, now))
    }

    /// Pauses (`true`) or resumes hook `hook`: while paused its events are accepted and kept,
    /// and none is applied. Returns whether this changed anything.
    pub fn set_paused(&self, hook: &str, paused: bool, now: u64) -> Result<bool, StoreError> {
        each!(self, b => b.set_paused(hook, paused, now))
    }

    /// The paused hooks, with since when (milliseconds since the epoch).
    pub fn paused(&self) -> Result<Vec<(String, u64)>, StoreError> {
        each!(self, b => b.paused())
    }

    /// Queues events again to be planned afresh against the brand as it is now: event `id`,
    /// or every event that arrived within `[from, to]` (milliseconds since the epoch). Only
    /// settled events are replayed (done, failed, discarded); not one a later applied event
    /// of the same account supersedes (it would undo that change). Their journal is dropped,
    /// so the plan is made from the brand alone.
    pub fn replay(&self, id: Option<i64>, from: u64, to: u64) -> Result<Replayed, StoreError> {
        each!(self, b => b.replay(id, from, to))
    }

    /// Deletes events that arrived before `before` (milliseconds since the epoch), with their
    /// journal: `(deleted, of which unfinished)`.
    pub fn purge(&self, before: u64) -> Result<(usize, usize), StoreError> {
        each!(self, b => b.purge(before))
    }

    /// The counts `GET /metrics` shows (no names, no addresses).
    pub fn counts(&self) -> Result<Counts, StoreError> {
        each!(self, b => b.counts())
    }

    /// Whether the database answers (`GET /healthz`).
    pub fn healthy(&self) -> Result<(), StoreError> {
        each!(self, b => b.healthy())
    }

    /// One event's state.
    pub fn status(&self, id: i64) -> Result<Option<EventStatus>, StoreError> {
        each!(self, b => b.status(id))
    }

    /// The most recent events, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<EventStatus>, StoreError> {
        each!(self, b => b.recent(limit))
    }

    /// Events to apply now, oldest first, at most `limit`, one per account: an account's
    /// oldest unfinished event, and only when it is due (a later event of the same account
    /// waits for it, so one account's events apply in arrival order). On PostgreSQL the
    /// events returned are claimed by this server (no other server gets them, nor any other
    /// event of their accounts) until they end or the claim's lease runs out.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<DueEvent>, StoreError> {
        each!(self, b => b.due(now, limit))
    }

    /// Whether this server still surely holds the events [`Store::due`] gave it: always on
    /// SQLite; on PostgreSQL, while its claims were renewed lately (within two thirds of the
    /// lease). A run checks it as it goes and stops sending when it turns false, since another
    /// server may take those events once the claims run out.
    #[must_use]
    pub fn claims_held(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => true,
            Backend::Postgres(b) => b.claims_held(),
        }
    }

    /// Marks events planned (a run is about to send their changes).
    pub fn mark_planned(&self, ids: &[i64]) -> Result<(), StoreError> {
        each!(self, b => b.mark_planned(ids))
    }

    /// Records how events ended, in one transaction (one write to the disk for a whole run),
    /// and gives up this server's claim on them.
    pub fn end(&self, endings: &[(i64, Ending)]) -> Result<(), StoreError> {
        each!(self, b => b.end(endings))
    }

    /// Holds `ids` (one burst's events, planned as one sheet) as quarantined with `reason`:
    /// nothing of them is applied until an administrator releases or discards the burst.
    /// Returns the burst's id (its first event's).
    pub fn quarantine(&self, ids: &[i64], reason: &str) -> Result<i64, StoreError> {
        each!(self, b => b.quarantine(ids, reason))
    }

    /// Releases the quarantined burst of event `id`: its events are due again, to be applied
    /// as one sheet past the mass-change brake (an administrator's confirmation).
    pub fn release(&self, id: i64) -> Result<Held, StoreError> {
        each!(self, b => b.release(id))
    }

    /// Discards the quarantined burst of event `id`: its events are never applied.
    pub fn discard(&self, id: i64) -> Result<Held, StoreError> {
        each!(self, b => b.discard(id))
    }

    /// Queues a failed event again at once (the Automations view's Retry). Refused when it has
    /// not failed, or when a later event for the same account was applied since (the old
    /// change would overwrite the newer one).
    pub fn retry(&self, id: i64, now: u64) -> Result<Retry, StoreError> {
        each!(self, b => b.retry(id, now))
    }

    /// Keeps journal entries of event `id` (rows a run finished), so a run cut short and
    /// planned again sends nothing twice.
    pub fn add_journal(&self, id: i64, entries: &[JournalEntry]) -> Result<(), StoreError> {
        each!(self, b => b.add_journal(id, entries))
    }

    /// The journal entries kept for `ids`.
    pub fn journal(&self, ids: &[i64]) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        each!(self, b => b.journal(ids))
    }

    /// Keeps attempts (requests sent for events, with Qualtrics' answers), each event's latest
    /// [`ATTEMPTS_KEPT`] only. On PostgreSQL, only for events no other server has claimed
    /// since (the check [`Store::end`] makes).
    pub fn add_attempts(&self, attempts: &[(i64, Attempt)]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        each!(self, b => b.add_attempts(attempts))
    }

    /// Keeps each event's row of the plan the core made for it (on PostgreSQL, under the claim
    /// check of [`Store::end`]).
    pub fn set_plans(&self, plans: &[(i64, serde_json::Value)]) -> Result<(), StoreError> {
        if plans.is_empty() {
            return Ok(());
        }
        each!(self, b => b.set_plans(plans))
    }

    /// One event with its mapped row (a password never shown), its plan row and its latest
    /// attempts.
    pub fn details(&self, id: i64) -> Result<Option<EventDetails>, StoreError> {
        let Some(event) = self.status(id)? else {
            return Ok(None);
        };
        let (row, plan, history) = each!(self, b => b.details(id))?;
        let row = row
            .and_then(|r| serde_json::from_str::<HookRow>(&r).ok())
            .map(|r| shown_cells(r.cells));
        let plan = plan.and_then(|p| serde_json::from_str(&p).ok());
        let history = history
            .iter()
            .filter_map(|a| serde_json::from_str(a).ok())
            .collect();
        Ok(Some(EventDetails {
            event,
            row,
            plan,
            history,
        }))
    }
}

/// A mapped row's cells as shown: a password cell never (only that one was given), whatever
/// the hook's mapping calls the column ("Password", "Initial password", …).
fn shown_cells(
    mut cells: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    for (column, cell) in cells.iter_mut() {
        if is_password_column(column) && !cell.is_empty() {
            *cell = "(given, not shown)".to_string();
        }
    }
    cells
}

impl Sqlite {
    /// Opens (or creates, readable by its owner only) the database at `path`. Every commit
    /// reaches the disk before it returns (WAL, synchronous FULL).
    fn open(path: &Path) -> Result<Sqlite, StoreError> {
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            // Created private before SQLite opens it (its -wal file takes the same mode).
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
        // One server per store: two would both apply every event.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("lock"))
            .map_err(StoreError::Lock)?;
        lock.try_lock().map_err(|_| {
            StoreError::Lock(std::io::Error::other(format!(
                "another server is using {}",
                path.display()
            )))
        })?;
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        // Deleted rows (a blanked password, events past their retention) are overwritten, not
        // left in free pages.
        db.pragma_update(None, "secure_delete", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        let existing: Vec<String> = db
            .prepare("SELECT name FROM pragma_table_info('events')")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for (name, kind) in ADDED_COLUMNS {
            if !existing.iter().any(|c| c == name) {
                db.execute_batch(&format!("ALTER TABLE events ADD COLUMN {name} {kind}"))?;
            }
        }
        // Sender ids kept in clear by an older version: replaced by their hashes (a repeat is
        // still recognised, the id itself no longer kept).
        let clear: Vec<(i64, String)> = db
            .prepare(&format!(
                "SELECT id, sender_id FROM events WHERE sender_id NOT LIKE '{BODY_ID_PREFIX}%' AND sender_id NOT LIKE '{HASHED_ID_PREFIX}%'"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, sender) in clear {
            db.execute(
                "UPDATE events SET sender_id = ?2 WHERE id = ?1",
                params![id, kept_id(&sender)],
            )?;
        }
        Ok(Sqlite {
            db: Mutex::new(db),
            _lock: lock,
        })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps a new event (committed before it returns), or finds the one the sender already
    /// sent with this id: `(status, true)` when new.
    fn accept(
        &self,
        hook: &str,
        sender_id: &str,
        row: &HookRow,
        now: u64,
    ) -> Result<(EventStatus, bool), StoreError> {
        let db = self.db();
        // An id made from the body (the sender gave none) stands for a repeat only within
        // BODY_REPEAT_WINDOW_MS; after that the same body is a new event.
        let mut sender_id = kept_id(sender_id);
        if sender_id.starts_with(BODY_ID_PREFIX) {
            let first: Option<i64> = db
                .query_row(
                    "SELECT MAX(received_at) FROM events WHERE hook = ?1 AND (sender_id = ?2 OR sender_id LIKE ?2 || '@%')",
                    params![hook, sender_id],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if let Some(at) = first {
                let at = at.max(0) as u64;
                if now.saturating_sub(at) > BODY_REPEAT_WINDOW_MS {
                    sender_id = format!("{sender_id}@{now}");
                } else {
                    // The latest event with this body, whatever its suffix.
                    sender_id = db.query_row(
                        "SELECT sender_id FROM events WHERE hook = ?1 AND (sender_id = ?2 OR sender_id LIKE ?2 || '@%') ORDER BY received_at DESC LIMIT 1",
                        params![hook, sender_id],
                        |r| r.get(0),
                    )?;
                }
            }
        }
        let sender_id = sender_id.as_str();
        let inserted = db.execute(
            "INSERT OR IGNORE INTO events (hook, sender_id, received_at, user_key, action, row, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received')",
            params![
                hook,
                sender_id,
                now as i64,
                row.username.to_lowercase(),
                action_word(row),
                serde_json::to_string(row).expect("rows serialise"),
            ],
        )?;
        self.kept(db, hook, sender_id, inserted == 1)
    }

    /// The event `hook` keeps under `sender_id` just inserted (or found already there) and
    /// whether it is `new`, read once the insert's lock (`db`) is given back.
    fn kept(
        &self,
        db: std::sync::MutexGuard<'_, Connection>,
        hook: &str,
        sender_id: &str,
        new: bool,
    ) -> Result<(EventStatus, bool), StoreError> {
        let id: i64 = db.query_row(
            "SELECT id FROM events WHERE hook = ?1 AND sender_id = ?2",
            params![hook, sender_id],
            |r| r.get(0),
        )?;
        drop(db);
        let status = self.status(id)?.expect("just found");
        Ok((status, new))
    }

    /// Keeps an event its hook's `when` conditions leave out, as `skipped` with `reason`
    /// (its data is not kept: only the account it names, when it names one), or finds the
    /// one the sender already sent with this id: `(status, true)` when new.
    fn skip(
        &self,
        hook: &str,
        sender_id: &str,
        user: &str,
        reason: &str,
        now: u64,
    ) -> Result<(EventStatus, bool), StoreError> {
        let db = self.db();
        let sender_id = kept_id(sender_id);
        let inserted = db.execute(
            "INSERT OR IGNORE INTO events (hook, sender_id, received_at, user_key, action, row, status, reason)
             VALUES (?1, ?2, ?3, ?4, '', '{}', 'skipped', ?5)",
            params![hook, sender_id, now as i64, user.to_lowercase(), reason],
        )?;
        self.kept(db, hook, &sender_id, inserted == 1)
    }

    /// Pauses (`true`) or resumes hook `hook`: while paused its events are accepted and kept,
    /// and none is applied. Returns whether this changed anything.
    fn set_paused(&self, hook: &str, paused: bool, now: u64) -> Result<bool, StoreError> {
        let db = self.db();
        let changed = if paused {
            db.execute(
                "INSERT OR IGNORE INTO paused (hook, since) VALUES (?1, ?2)",
                params![hook, now as i64],
            )?
        } else {
            db.execute("DELETE FROM paused WHERE hook = ?1", params![hook])?
        };
        Ok(changed > 0)
    }

    /// The paused hooks, with since when (milliseconds since the epoch).
    fn paused(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT hook, since FROM paused ORDER BY hook")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queues events again to be planned afresh against the brand as it is now: event `id`,
    /// or every event that arrived within `[from, to]` (milliseconds since the epoch). Only
    /// settled events are replayed (done, failed, discarded); not one a later applied event
    /// of the same account supersedes (it would undo that change). Their journal is dropped,
    /// so the plan is made from the brand alone.
    fn replay(&self, id: Option<i64>, from: u64, to: u64) -> Result<Replayed, StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let found: Vec<(i64, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, status, user_key FROM events
                 WHERE (?1 IS NOT NULL AND id = ?1) OR (?1 IS NULL AND received_at BETWEEN ?2 AND ?3)
                 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![id, from as i64, to as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let chosen: std::collections::HashSet<i64> = found.iter().map(|f| f.0).collect();
        let mut out = Replayed::default();
        for (event, status, user) in found {
            if !matches!(status.as_str(), "done" | "failed" | "discarded") {
                let why = if status == "skipped" {
                    "skipped by its hook's conditions: send it again if it is now wanted"
                        .to_string()
                } else {
                    format!("{status}: not settled yet")
                };
                out.left.push((event, why));
                continue;
            }
            let newer: Vec<i64> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM events WHERE user_key = ?1 AND id > ?2 AND status = 'done'",
                )?;
                let rows = stmt.query_map(params![user, event], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            if newer.iter().any(|n| !chosen.contains(n)) {
                out.left.push((event, "a later change of the same account was applied since: replaying it would undo that".into()));
                continue;
            }
            tx.execute(
                "UPDATE events SET status = 'received', attempts = 0, next_attempt_at = NULL, reason = NULL, outcome = NULL, burst = NULL, released = 0, refused = 0 WHERE id = ?1",
                params![event],
            )?;
            tx.execute("DELETE FROM journal WHERE event_id = ?1", params![event])?;
            out.queued.push(event);
        }
        tx.commit()?;
        Ok(out)
    }

    /// Deletes events that arrived before `before` (milliseconds since the epoch), with their
    /// journal: `(deleted, of which unfinished)`.
    fn purge(&self, before: u64) -> Result<(usize, usize), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let unfinished: i64 = tx.query_row(
            &format!("SELECT COUNT(*) FROM events WHERE received_at < ?1 AND (status IN {UNFINISHED} OR (status = 'failed' AND next_attempt_at IS NOT NULL))"),
            params![before as i64],
            |r| r.get(0),
        )?;
        tx.execute(
            "DELETE FROM journal WHERE event_id IN (SELECT id FROM events WHERE received_at < ?1)",
            params![before as i64],
        )?;
        tx.execute(
            "DELETE FROM attempts WHERE event_id IN (SELECT id FROM events WHERE received_at < ?1)",
            params![before as i64],
        )?;
        let deleted = tx.execute(
            "DELETE FROM events WHERE received_at < ?1",
            params![before as i64],
        )?;
        tx.commit()?;
        if deleted > 0 {
            // The write-ahead log still holds the deleted rows' old pages: written back and
            // emptied now.
            db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok((deleted, unfinished.max(0) as usize))
    }

    /// The counts `GET /metrics` shows (no names, no addresses).
    fn counts(&self) -> Result<Counts, StoreError> {
        let db = self.db();
        let mut stmt =
            db.prepare("SELECT status, COUNT(*) FROM events GROUP BY status ORDER BY status")?;
        let by_status = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })?
            .collect::<Result<_, _>>()?;
        let (pending, oldest): (i64, Option<i64>) = db.query_row(
            "SELECT COUNT(*), MIN(received_at) FROM events WHERE status IN ('received', 'planned') OR (status = 'failed' AND next_attempt_at IS NOT NULL)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Counts {
            by_status,
            pending: pending.max(0) as u64,
            oldest_pending: oldest.map(|o| o.max(0) as u64),
        })
    }

    /// Whether the database answers (`GET /healthz`).
    fn healthy(&self) -> Result<(), StoreError> {
        self.db().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// One event's state.
    fn status(&self, id: i64) -> Result<Option<EventStatus>, StoreError> {
        Ok(self
            .db()
            .query_row(
                &format!("{SELECT_STATUS} WHERE id = ?1"),
                params![id],
                read_status,
            )
            .optional()?)
    }

    /// The most recent events, newest first.
    fn recent(&self, limit: usize) -> Result<Vec<EventStatus>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare(&format!("{SELECT_STATUS} ORDER BY id DESC LIMIT ?1"))?;
        let rows = stmt.query_map(params![limit as i64], read_status)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events to apply now, oldest first, at most `limit`, one per account: an account's
    /// oldest unfinished event, and only when it is due (a later event of the same account
    /// waits for it, so one account's events apply in arrival order).
    fn due(&self, now: u64, limit: usize) -> Result<Vec<DueEvent>, StoreError> {
        // A quarantined event holds up its account's later events too: released later, it
        // would otherwise undo a newer change.
        // Id, hook, row, (attempts, tries), released burst.
        type Found = (i64, String, String, (u32, u32), Option<i64>);
        let found: Vec<Found> = {
            let db = self.db();
            let mut stmt = db.prepare(
                "SELECT e.id, e.hook, e.row, e.attempts, CASE WHEN e.released = 1 THEN e.burst END, e.tries
                 FROM events e
                 JOIN (SELECT user_key, MIN(id) AS first FROM events
                       WHERE status IN ('received', 'planned', 'quarantined')
                          OR (status = 'failed' AND next_attempt_at IS NOT NULL)
                       GROUP BY user_key) f ON e.id = f.first
                 WHERE (e.status IN ('received', 'planned')
                    OR (e.status = 'failed' AND e.next_attempt_at <= ?1))
                   AND e.hook NOT IN (SELECT hook FROM paused)
                 ORDER BY e.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now as i64, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    (r.get(3)?, r.get(5)?),
                    r.get(4)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut due = Vec::with_capacity(found.len());
        for (id, hook, row, (attempts, tries), released) in found {
            match serde_json::from_str(&row) {
                Ok(row) => due.push(DueEvent {
                    id,
                    hook,
                    row,
                    attempts,
                    tries,
                    released,
                }),
                Err(e) => self.end(&[(id, unreadable(&e))])?,
            }
        }
        Ok(due)
    }

    /// Marks events planned (a run is about to send their changes).
    fn mark_planned(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE events SET status = 'planned', attempts = attempts + 1, tries = tries + 1 WHERE id = ?1",
                params![id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records how events ended, in one transaction (one write to the disk for a whole run).
    fn end(&self, endings: &[(i64, Ending)]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for (id, ending) in endings {
            match ending {
                Ending::Done(outcome) => {
                    // The account exists now: its password (if the event carried one) is
                    // never kept past this.
                    let row: Option<String> = tx
                        .query_row("SELECT row FROM events WHERE id = ?1", params![id], |r| r.get(0))
                        .optional()?;
                    if let Some(blanked) = row.and_then(|r| without_password(&r)) {
                        tx.execute("UPDATE events SET row = ?2 WHERE id = ?1", params![id, blanked])?;
                    }
                    tx.execute(
                        "UPDATE events SET status = 'done', outcome = ?2, reason = NULL, next_attempt_at = NULL, released = 0, refused = 0 WHERE id = ?1",
                        params![id, outcome.to_string()],
                    )?
                }
                Ending::Failed {
                    reason,
                    outcome,
                    retry_at,
                } => tx.execute(
                    "UPDATE events SET status = 'failed', reason = ?2, outcome = ?3, next_attempt_at = ?4, refused = 0 WHERE id = ?1",
                    params![id, reason, outcome.as_ref().map(ToString::to_string), retry_at.map(|t| t as i64)],
                )?,
                Ending::Refused { reason, outcome } => tx.execute(
                    "UPDATE events SET status = 'failed', reason = ?2, outcome = ?3, next_attempt_at = NULL, refused = 1 WHERE id = ?1",
                    params![id, reason, outcome.as_ref().map(ToString::to_string)],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// Holds `ids` (one burst's events, planned as one sheet) as quarantined with `reason`:
    /// nothing of them is applied until an administrator releases or discards the burst.
    /// Returns the burst's id (its first event's).
    fn quarantine(&self, ids: &[i64], reason: &str) -> Result<i64, StoreError> {
        let burst = ids.iter().copied().min().unwrap_or_default();
        let mut db = self.db();
        let tx = db.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE events SET status = 'quarantined', reason = ?2, burst = ?3, released = 0, next_attempt_at = NULL WHERE id = ?1",
                params![id, reason, burst],
            )?;
        }
        tx.commit()?;
        Ok(burst)
    }

    /// Releases the quarantined burst of event `id`: its events are due again, to be applied
    /// as one sheet past the mass-change brake (an administrator's confirmation).
    fn release(&self, id: i64) -> Result<Held, StoreError> {
        self.settle_burst(
            id,
            "UPDATE events SET status = 'received', released = 1, reason = NULL WHERE burst = ?1 AND status = 'quarantined'",
        )
    }

    /// Discards the quarantined burst of event `id`: its events are never applied.
    fn discard(&self, id: i64) -> Result<Held, StoreError> {
        self.settle_burst(
            id,
            "UPDATE events SET status = 'discarded', reason = 'discarded by an administrator (held by the mass-change brake)' WHERE burst = ?1 AND status = 'quarantined'",
        )
    }

    fn settle_burst(&self, id: i64, update: &str) -> Result<Held, StoreError> {
        let db = self.db();
        let found: Option<(String, Option<i64>)> = db
            .query_row(
                "SELECT status, burst FROM events WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match found {
            None => Ok(Held::NotFound),
            Some((status, Some(burst))) if status == "quarantined" => {
                let events = db.execute(update, params![burst])?;
                Ok(Held::Done { burst, events })
            }
            Some(_) => Ok(Held::NotQuarantined),
        }
    }

    /// Queues a failed event again at once (the Automations view's Retry). Refused when it has
    /// not failed, or when a later event for the same account was applied since (the old
    /// change would overwrite the newer one).
    fn retry(&self, id: i64, now: u64) -> Result<Retry, StoreError> {
        let db = self.db();
        let found: Option<(String, String, i64)> = db
            .query_row(
                "SELECT status, user_key, refused FROM events WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((status, user, refused)) = found else {
            return Ok(Retry::NotFailed);
        };
        if status != "failed" {
            return Ok(Retry::NotFailed);
        }
        if refused == 1 {
            return Ok(Retry::Refused);
        }
        let newer: i64 = db.query_row(
            "SELECT COUNT(*) FROM events WHERE user_key = ?1 AND id > ?2 AND status = 'done'",
            params![user, id],
            |r| r.get(0),
        )?;
        if newer > 0 {
            return Ok(Retry::Superseded);
        }
        db.execute(
            "UPDATE events SET next_attempt_at = ?2, attempts = 0 WHERE id = ?1",
            params![id, now as i64],
        )?;
        Ok(Retry::Queued)
    }

    /// Keeps journal entries of event `id` (rows a run finished).
    fn add_journal(&self, id: i64, entries: &[JournalEntry]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for entry in entries {
            tx.execute(
                "INSERT INTO journal (event_id, entry) VALUES (?1, ?2)",
                params![id, serde_json::to_string(entry).expect("entries serialise")],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The journal entries kept for `ids`.
    fn journal(&self, ids: &[i64]) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT event_id, entry FROM journal WHERE event_id = ?1")?;
        let mut out = Vec::new();
        for id in ids {
            let rows = stmt.query_map(params![id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            for found in rows {
                let (event, entry) = found?;
                if let Ok(entry) = serde_json::from_str(&entry) {
                    out.push((event, entry));
                }
            }
        }
        Ok(out)
    }

    /// Keeps attempts, each event's latest [`ATTEMPTS_KEPT`] only.
    fn add_attempts(&self, attempts: &[(i64, Attempt)]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let mut events = std::collections::BTreeSet::new();
        for (id, attempt) in attempts {
            tx.execute(
                "INSERT INTO attempts (event_id, entry) VALUES (?1, ?2)",
                params![
                    id,
                    serde_json::to_string(attempt).expect("attempts serialise")
                ],
            )?;
            events.insert(*id);
        }
        // Older than the event's ATTEMPTS_KEPT-th latest: read off the index (event, rowid),
        // nothing when it has no more than that.
        let mut prune = tx.prepare_cached(
            "DELETE FROM attempts WHERE event_id = ?1 AND rowid <
               (SELECT rowid FROM attempts WHERE event_id = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2)",
        )?;
        for id in events {
            prune.execute(params![id, ATTEMPTS_KEPT as i64 - 1])?;
        }
        drop(prune);
        tx.commit()?;
        Ok(())
    }

    /// Keeps each event's plan row.
    fn set_plans(&self, plans: &[(i64, serde_json::Value)]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for (id, plan) in plans {
            tx.execute(
                "UPDATE events SET plan = ?2 WHERE id = ?1",
                params![id, plan.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Event `id`'s stored row, plan row and attempts (JSON each), oldest attempt first.
    fn details(&self, id: i64) -> Result<StoredDetails, StoreError> {
        let db = self.db();
        let (row, plan): (Option<String>, Option<String>) = db
            .query_row(
                "SELECT row, plan FROM events WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or_default();
        let mut stmt =
            db.prepare("SELECT entry FROM attempts WHERE event_id = ?1 ORDER BY rowid")?;
        let history = stmt
            .query_map(params![id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok((row, plan, history))
    }
}

/// An event's stored row, plan row and attempts, as JSON text.
type StoredDetails = (Option<String>, Option<String>, Vec<String>);

const SELECT_STATUS: &str = "SELECT id, hook, sender_id, received_at, status, user_key, action, outcome, attempts, reason, next_attempt_at, burst, released, refused FROM events";

/// How an event stored in a shape this version cannot read ends (written by an older
/// version): parked, so it does not hold up its account's later events. Both backends.
fn unreadable(e: &dyn std::fmt::Display) -> Ending {
    Ending::Failed {
        reason: format!("the stored event cannot be read ({e}): send it again"),
        outcome: None,
        retry_at: None,
    }
}

fn read_status(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventStatus> {
    let iso = |ms: i64| qualtrics_roster::time::iso_datetime(ms.max(0) as u64);
    Ok(EventStatus {
        id: r.get(0)?,
        hook: r.get(1)?,
        sender_id: r.get(2)?,
        received_at: iso(r.get(3)?),
        status: r.get(4)?,
        user: r.get(5)?,
        action: r.get(6)?,
        outcome: r
            .get::<_, Option<String>>(7)?
            .and_then(|o| serde_json::from_str(&o).ok()),
        attempts: r.get(8)?,
        reason: r.get(9)?,
        next_attempt_at: r.get::<_, Option<i64>>(10)?.map(iso),
        burst: r.get(11)?,
        released: r.get::<_, i64>(12)? == 1,
        retryable: retryable(&r.get::<_, String>(4)?, r.get::<_, i64>(13)? == 1),
    })
}

/// Whether an event with `status`, `refused` or not, can be retried (both backends).
fn retryable(status: &str, refused: bool) -> bool {
    status == "failed" && !refused
}

/// A stored row with its password cells blanked, or `None` when it has none to blank.
pub(super) fn without_password(row: &str) -> Option<String> {
    let mut row: HookRow = serde_json::from_str(row).ok()?;
    let mut changed = false;
    for (column, cell) in row.cells.iter_mut() {
        if is_password_column(column) && !cell.is_empty() {
            cell.clear();
            changed = true;
        }
    }
    changed.then(|| serde_json::to_string(&row).expect("rows serialise"))
}

pub(super) fn action_word(row: &HookRow) -> &'static str {
    use super::mapping::HookAction;
    match row.action {
        HookAction::Create => "create",
        HookAction::Update => "update",
        HookAction::Disable => "disable",
        HookAction::Enable => "enable",
    }
}

#[cfg(test)]
#[path = "../../../tests/common/postgres.rs"]
mod test_postgres;

#[cfg(test)]
mod tests {
    use super::super::mapping::{HookAction, HookRow};
    use super::*;

    fn row(user: &str, action: HookAction) -> HookRow {
        HookRow {
            username: user.into(),
            action,
            cells: [("Username".to_string(), user.to_string())].into(),
        }
    }

    /// A hook's mapping may call the password column what provisioning reads as one ("Initial
    /// password", "initial_password"): it is hidden in the details and blanked once settled
    /// all the same, and other columns are left as they are.
    #[test]
    fn every_password_column_is_hidden_and_blanked_whatever_the_mapping_calls_it() {
        let mut r = row("ann@x.org", HookAction::Create);
        for column in ["Password", "Initial password", "initial_password"] {
            r.cells.insert(column.to_string(), "s3cret!".to_string());
        }
        r.cells
            .insert("Department".to_string(), "Sales".to_string());
        let shown = shown_cells(r.cells.clone());
        for column in ["Password", "Initial password", "initial_password"] {
            assert_eq!(shown[column], "(given, not shown)", "{column}");
        }
        assert_eq!(shown["Department"], "Sales");
        let blanked: HookRow =
            serde_json::from_str(&without_password(&serde_json::to_string(&r).unwrap()).unwrap())
                .unwrap();
        assert!(
            blanked.cells.values().all(|c| c != "s3cret!"),
            "{blanked:?}"
        );
        assert_eq!(blanked.cells["Department"], "Sales");
    }

    fn store(tag: &str) -> (Store, PathBuf) {
        let dir = std::env::temp_dir().join(format!("roster-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.sqlite");
        (Store::open(&path).unwrap(), dir)
    }

    use std::path::PathBuf;

    /// Runs `check` on a new SQLite store, then on a new PostgreSQL one when PostgreSQL is
    /// installed (a throwaway server; in CI a missing one fails).
    fn each_backend(tag: &str, check: impl Fn(&Store)) {
        let (s, dir) = store(tag);
        check(&s);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
        if let Some(pg) = super::test_postgres::TempPostgres::start_or_skip(tag) {
            let s = Store::postgres(&StoreUrl::new(&pg.url), std::time::Duration::from_secs(30))
                .unwrap();
            check(&s);
        }
    }

    #[test]
    fn one_accounts_events_wait_for_its_oldest_and_a_parked_one_does_not_block() {
        each_backend("due", |s| {
            let (a1, _) = s
                .accept("h", "1", &row("ann", HookAction::Create), 1)
                .unwrap();
            let (b1, _) = s
                .accept("h", "2", &row("bob", HookAction::Create), 2)
                .unwrap();
            let (a2, _) = s
                .accept("h", "3", &row("ANN", HookAction::Disable), 3)
                .unwrap();
            let due: Vec<i64> = s.due(10, 100).unwrap().iter().map(|e| e.id).collect();
            assert_eq!(
                due,
                vec![a1.id, b1.id],
                "ann's second event waits for her first"
            );
            // ann's first fails and waits for a retry: her second still waits.
            let failed = |retry_at| Ending::Failed {
                reason: "busy".into(),
                outcome: None,
                retry_at,
            };
            s.end(&[(a1.id, failed(Some(1_000)))]).unwrap();
            let due: Vec<i64> = s.due(10, 100).unwrap().iter().map(|e| e.id).collect();
            assert_eq!(due, vec![b1.id]);
            assert_eq!(
                s.due(1_000, 100).unwrap()[0].id,
                a1.id,
                "due again at its time"
            );
            // Parked: no longer blocks ann's later event.
            s.end(&[(a1.id, failed(None))]).unwrap();
            let due: Vec<i64> = s.due(10, 100).unwrap().iter().map(|e| e.id).collect();
            assert_eq!(due, vec![b1.id, a2.id]);
            // A parked event is not retried over a later one already applied.
            s.end(&[(a2.id, Ending::Done(serde_json::json!({"status": "done"})))])
                .unwrap();
            assert_eq!(s.retry(a1.id, 20).unwrap(), Retry::Superseded);
            assert_eq!(s.retry(b1.id, 20).unwrap(), Retry::NotFailed);
        });
    }

    #[test]
    fn the_same_change_sent_again_after_the_window_is_applied_and_a_sender_id_is_kept_72_hours() {
        each_backend("again", |s| {
            let minute = 60 * 1000;
            let body = |action: &str| format!("{BODY_ID_PREFIX}{action}-hash");
            let (disable, new) = s
                .accept("h", &body("disable"), &row("lee", HookAction::Disable), 0)
                .unwrap();
            assert!(new);
            let (enable, new) = s
                .accept(
                    "h",
                    &body("enable"),
                    &row("lee", HookAction::Enable),
                    minute,
                )
                .unwrap();
            assert!(new);
            // A quick retry of the first (its answer lost) is still a repeat…
            let (retried, new) = s
                .accept(
                    "h",
                    &body("disable"),
                    &row("lee", HookAction::Disable),
                    2 * minute,
                )
                .unwrap();
            assert!(!new);
            assert_eq!(retried.id, disable.id);
            // …but the same disable sent again six minutes after the last one is a new event.
            let (again, new) = s
                .accept(
                    "h",
                    &body("disable"),
                    &row("lee", HookAction::Disable),
                    8 * minute,
                )
                .unwrap();
            assert!(new, "disable, enable, disable again: the third is applied");
            assert!(again.id > enable.id);
            let due: Vec<i64> = s
                .due(8 * minute, 100)
                .unwrap()
                .iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(
                due,
                vec![disable.id],
                "lee's events in arrival order, the first first"
            );
            // A sender's own id stays a repeat for (at least) 72 hours.
            let (first, _) = s
                .accept("h", "h:msg-1", &row("kim", HookAction::Create), 0)
                .unwrap();
            let (late, new) = s
                .accept(
                    "h",
                    "h:msg-1",
                    &row("kim", HookAction::Create),
                    SENDER_ID_KEPT_MS,
                )
                .unwrap();
            assert!(!new, "a retry three days later is still a repeat");
            assert_eq!(late.id, first.id);
        });
    }

    #[test]
    fn a_quarantined_burst_holds_its_accounts_until_released_or_discarded() {
        each_backend("quarantine", |s| {
            let (a, _) = s
                .accept("h", "1", &row("ann", HookAction::Disable), 1)
                .unwrap();
            let (b, _) = s
                .accept("h", "2", &row("bob", HookAction::Disable), 2)
                .unwrap();
            let (c, _) = s
                .accept("h", "3", &row("cy", HookAction::Disable), 3)
                .unwrap();
            let (later, _) = s
                .accept("h", "4", &row("ann", HookAction::Enable), 4)
                .unwrap();
            let burst = s
                .quarantine(&[b.id, a.id], "Needs confirmation: 2 accounts")
                .unwrap();
            assert_eq!(burst, a.id);
            let held = s.status(b.id).unwrap().unwrap();
            assert_eq!(
                (held.status.as_str(), held.burst),
                ("quarantined", Some(a.id))
            );
            assert_eq!(
                held.reason.as_deref(),
                Some("Needs confirmation: 2 accounts")
            );
            let due: Vec<i64> = s.due(10, 100).unwrap().iter().map(|e| e.id).collect();
            assert_eq!(
                due,
                vec![c.id],
                "ann's later event waits for her quarantined one"
            );
            assert_eq!(s.release(c.id).unwrap(), Held::NotQuarantined);
            assert_eq!(s.release(999).unwrap(), Held::NotFound);
            // Released (through either of its events): due again, marked with its burst.
            assert_eq!(s.release(b.id).unwrap(), Held::Done { burst, events: 2 });
            let due = s.due(10, 100).unwrap();
            let released: Vec<(i64, Option<i64>)> =
                due.iter().map(|e| (e.id, e.released)).collect();
            assert_eq!(
                released,
                vec![(a.id, Some(burst)), (b.id, Some(burst)), (c.id, None)]
            );
            assert!(s.status(a.id).unwrap().unwrap().released);
            // Quarantined again and discarded: never applied, and ann's later event goes on.
            s.quarantine(&[a.id, b.id], "again").unwrap();
            assert_eq!(s.discard(a.id).unwrap(), Held::Done { burst, events: 2 });
            assert_eq!(s.status(a.id).unwrap().unwrap().status, "discarded");
            assert_eq!(s.discard(a.id).unwrap(), Held::NotQuarantined);
            let due: Vec<i64> = s.due(10, 100).unwrap().iter().map(|e| e.id).collect();
            assert_eq!(due, vec![c.id, later.id]);
        });
    }

    #[test]
    fn a_body_id_is_a_repeat_only_within_its_window() {
        each_backend("window", |s| {
            let id = format!("{BODY_ID_PREFIX}abc");
            let r = row("cy", HookAction::Disable);
            let (first, new) = s.accept("h", &id, &r, 1_000).unwrap();
            assert!(new);
            let (again, new) = s.accept("h", &id, &r, 2_000).unwrap();
            assert!(!new, "the same body within the window is a repeat");
            assert_eq!(again.id, first.id);
            let later = 1_000 + BODY_REPEAT_WINDOW_MS + 1;
            let (third, new) = s.accept("h", &id, &r, later).unwrap();
            assert!(new, "after the window, the same body is a new event");
            let (fourth, new) = s.accept("h", &id, &r, later + 5).unwrap();
            assert!(!new);
            assert_eq!(fourth.id, third.id);
        });
    }

    #[test]
    fn servers_sharing_postgres_never_hold_one_account_at_once_and_a_dead_ones_claims_expire() {
        use std::time::Duration;
        let Some(pg) = super::test_postgres::TempPostgres::start_or_skip("claims") else {
            return;
        };
        let url = StoreUrl::new(&pg.url);
        let a = Store::postgres(&url, Duration::from_secs(30)).unwrap();
        let b = Store::postgres(&url, Duration::from_secs(30)).unwrap();
        let ids = |due: Vec<DueEvent>| due.iter().map(|e| e.id).collect::<Vec<_>>();
        let (ann1, _) = a
            .accept("h", "1", &row("ann", HookAction::Create), 1)
            .unwrap();
        let (bob1, _) = b
            .accept("h", "2", &row("bob", HookAction::Create), 2)
            .unwrap();
        let (ann2, _) = b
            .accept("h", "3", &row("ann", HookAction::Update), 3)
            .unwrap();
        // Accepted on either server, claimed by the first to ask: the other gets nothing.
        assert_eq!(ids(a.due(10, 100).unwrap()), vec![ann1.id, bob1.id]);
        assert_eq!(ids(b.due(10, 100).unwrap()), Vec::<i64>::new());
        // ann's first ends: her second is free for b, while a keeps bob's.
        a.end(&[(ann1.id, Ending::Done(serde_json::json!({"status": "done"})))])
            .unwrap();
        assert_eq!(ids(b.due(10, 100).unwrap()), vec![ann2.id]);
        assert_eq!(ids(a.due(10, 100).unwrap()), vec![bob1.id], "its own claim");
        // A server with a short lease renews it while it lives…
        let c = Store::postgres(&url, Duration::from_millis(900)).unwrap();
        let (cy, _) = c
            .accept("h", "4", &row("cy", HookAction::Create), 4)
            .unwrap();
        assert_eq!(ids(c.due(10, 100).unwrap()), vec![cy.id]);
        c.mark_planned(&[cy.id]).unwrap();
        std::thread::sleep(Duration::from_millis(1_500));
        assert!(!ids(b.due(10, 100).unwrap()).contains(&cy.id), "renewed");
        // …and once it is gone, its planned event is another's when the lease runs out.
        drop(c);
        std::thread::sleep(Duration::from_millis(1_500));
        let due = b.due(10, 100).unwrap();
        let taken = due.iter().find(|e| e.id == cy.id).expect("taken over");
        assert_eq!(taken.attempts, 1, "planned once by the server that died");
        // Ending it from a server that does not hold it writes nothing over b's claim.
        a.end(&[(cy.id, Ending::Done(serde_json::json!({"status": "done"})))])
            .unwrap();
        assert_eq!(a.status(cy.id).unwrap().unwrap().status, "planned");
        // Nor its attempts or plan row (the same claim check): b's run records those.
        a.add_attempts(&[(cy.id, attempt(1, 1, Some(503), "late"))])
            .unwrap();
        a.set_plans(&[(cy.id, serde_json::json!({"Plan": "stale"}))])
            .unwrap();
        let d = a.details(cy.id).unwrap().unwrap();
        assert!(d.history.is_empty(), "{:?}", d.history);
        assert_eq!(d.plan, None);
        b.add_attempts(&[(cy.id, attempt(2, 1, Some(200), "ok"))])
            .unwrap();
        b.set_plans(&[(cy.id, serde_json::json!({"Plan": "create"}))])
            .unwrap();
        let d = b.details(cy.id).unwrap().unwrap();
        assert_eq!(d.history.len(), 1);
        assert_eq!(d.plan, Some(serde_json::json!({"Plan": "create"})));
        // A server that cannot renew its claims knows it soon (and its runs stop sending).
        let d = Store::postgres(&url, Duration::from_millis(900)).unwrap();
        assert!(d.claims_held());
        let mut admin = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
        admin
            .batch_execute("ALTER TABLE hook_events RENAME TO hook_events_away")
            .unwrap();
        std::thread::sleep(Duration::from_millis(1_000));
        assert!(!d.claims_held(), "renewals fail: the claims are not held");
        admin
            .batch_execute("ALTER TABLE hook_events_away RENAME TO hook_events")
            .unwrap();
        std::thread::sleep(Duration::from_millis(600));
        assert!(d.claims_held(), "renewed again");
        let (sqlite, dir) = store("held");
        assert!(sqlite.claims_held(), "always, on SQLite");
        drop(sqlite);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn servers_starting_at_once_on_a_new_postgres_database_all_start() {
        let Some(pg) = super::test_postgres::TempPostgres::start_or_skip("schema") else {
            return;
        };
        let url = StoreUrl::new(&pg.url);
        let started: Vec<Result<Store, StoreError>> = std::thread::scope(|scope| {
            let opening: Vec<_> = (0..6)
                .map(|_| scope.spawn(|| Store::postgres(&url, std::time::Duration::from_secs(30))))
                .collect();
            opening.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for s in &started {
            assert!(s.is_ok(), "{:?}", s.as_ref().err().map(ToString::to_string));
        }
        let s = started.into_iter().next().unwrap().unwrap();
        let (ann, new) = s
            .accept("h", "1", &row("ann", HookAction::Create), 1)
            .unwrap();
        assert!(new);
        assert_eq!(ann.status, "received");
    }

    #[test]
    fn a_postgres_password_is_never_shown() {
        let url =
            StoreUrl::new("postgres://roster:s3cr3t-pw@127.0.0.1:1/roster?password=s3cr3t-pw");
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert!(url.redacted().contains("roster:***@127.0.0.1:1"));
        let Err(e) = Store::postgres(&url, std::time::Duration::from_secs(30)) else {
            panic!("nothing listens on port 1");
        };
        let shown = e.to_string();
        assert!(
            shown.contains("127.0.0.1:1") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    fn attempt(tried: u32, n: u32, status: Option<u16>, message: &str) -> Attempt {
        Attempt {
            at: format!("2026-01-01T00:00:{n:02}Z"),
            request: "POST /API/v3/users".into(),
            status,
            message: Some(message.into()),
            tried,
            attempt: n,
        }
    }

    #[test]
    fn an_events_details_keep_its_row_plan_and_latest_attempts_and_a_refusal_is_not_retried() {
        each_backend("details", |s| {
            let mut with_password = row("ann", HookAction::Create);
            with_password
                .cells
                .insert("Password".into(), "s3cret-Pa55".into());
            let (ann, _) = s.accept("h", "1", &with_password, 1).unwrap();
            let (bob, _) = s
                .accept("h", "2", &row("bob", HookAction::Create), 2)
                .unwrap();
            s.mark_planned(&[ann.id, bob.id]).unwrap();
            s.set_plans(&[(ann.id, serde_json::json!({"Plan": "create"}))])
                .unwrap();
            // 25 attempts of ann's, 1 of bob's: ann keeps her latest 20.
            let mut many: Vec<(i64, Attempt)> = (1..=25)
                .map(|n| (ann.id, attempt(1, n, Some(503), "busy")))
                .collect();
            many.push((
                bob.id,
                attempt(1, 1, Some(400), "Invalid value for userType"),
            ));
            s.add_attempts(&many).unwrap();
            s.end(&[
                (
                    ann.id,
                    Ending::Failed {
                        reason: "failed after 25 attempts".into(),
                        outcome: None,
                        retry_at: None,
                    },
                ),
                (
                    bob.id,
                    Ending::Refused {
                        reason: "Invalid value for userType".into(),
                        outcome: None,
                    },
                ),
            ])
            .unwrap();
            let d = s.details(ann.id).unwrap().unwrap();
            assert_eq!(d.history.len(), ATTEMPTS_KEPT);
            assert_eq!(d.history[0].attempt, 6, "the oldest five dropped");
            assert_eq!(d.history.last().unwrap().attempt, 25);
            assert_eq!(d.plan, Some(serde_json::json!({"Plan": "create"})));
            let cells = d.row.unwrap();
            assert_eq!(cells["Username"], "ann");
            assert_eq!(cells["Password"], "(given, not shown)");
            assert!(!serde_json::to_string(&s.details(ann.id).unwrap())
                .unwrap()
                .contains("s3cret"));
            assert!(d.event.retryable, "an outage: Retry can succeed");
            let b = s.details(bob.id).unwrap().unwrap();
            assert_eq!(b.history.len(), 1);
            assert_eq!(b.history[0].status, Some(400));
            assert_eq!(b.plan, None);
            assert!(!b.event.retryable);
            assert_eq!(b.event.status, "failed");
            assert_eq!(b.event.next_attempt_at, None, "parked");
            assert_eq!(s.retry(bob.id, 10).unwrap(), Retry::Refused);
            assert_eq!(s.retry(ann.id, 10).unwrap(), Retry::Queued);
            let again = s.due(10, 100).unwrap();
            let ann_again = again.iter().find(|e| e.id == ann.id).unwrap();
            assert_eq!(
                (ann_again.attempts, ann_again.tries),
                (0, 1),
                "Retry gives the tries again; her attempts' try numbers go on"
            );
            s.end(&[(
                ann.id,
                Ending::Failed {
                    reason: "busy".into(),
                    outcome: None,
                    retry_at: None,
                },
            )])
            .unwrap();
            assert!(!s
                .recent(10)
                .unwrap()
                .iter()
                .any(|e| e.id == bob.id && e.retryable));
            // Replayed, a refused event is planned afresh (and retryable if it fails again).
            assert_eq!(s.replay(Some(bob.id), 0, 0).unwrap().queued, vec![bob.id]);
            s.end(&[(
                bob.id,
                Ending::Failed {
                    reason: "no answer".into(),
                    outcome: None,
                    retry_at: None,
                },
            )])
            .unwrap();
            assert!(s.status(bob.id).unwrap().unwrap().retryable);
            assert!(s.details(999).unwrap().is_none());
            // Purged with its event.
            assert_eq!(s.purge(3).unwrap().0, 2);
            assert!(s.details(ann.id).unwrap().is_none());
            let (cy, _) = s
                .accept("h", "3", &row("cy", HookAction::Create), 5)
                .unwrap();
            assert!(s.details(cy.id).unwrap().unwrap().history.is_empty());
        });
    }

    /// The SQLite schema of the version before attempts and refusals were kept.
    const OLD_SQLITE: &str = "
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, hook TEXT NOT NULL, sender_id TEXT NOT NULL,
  received_at INTEGER NOT NULL, user_key TEXT NOT NULL, action TEXT NOT NULL, row TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER,
  reason TEXT, outcome TEXT, burst INTEGER, released INTEGER NOT NULL DEFAULT 0,
  UNIQUE (hook, sender_id)
);
CREATE TABLE journal (event_id INTEGER NOT NULL, entry TEXT NOT NULL);
CREATE TABLE paused (hook TEXT PRIMARY KEY, since INTEGER NOT NULL);
INSERT INTO events (hook, sender_id, received_at, user_key, action, row, status, attempts, reason)
  VALUES ('h', 'sha256:00', 1, 'dee', 'create',
          '{\"username\":\"dee\",\"action\":\"create\",\"cells\":{\"Username\":\"dee\"}}',
          'failed', 6, 'failed after 6 attempts: no answer');
";

    #[test]
    fn an_older_sqlite_store_is_upgraded_in_place_and_its_events_kept() {
        let dir = std::env::temp_dir().join(format!("roster-store-old-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch(OLD_SQLITE)
            .unwrap();
        let s = Store::open(&path).unwrap();
        let old = s.details(1).unwrap().expect("the old event is kept");
        assert_eq!(old.event.status, "failed");
        assert!(old.event.retryable, "an old failure stays retryable");
        assert!(old.history.is_empty());
        assert_eq!(old.row.unwrap()["Username"], "dee");
        s.add_attempts(&[(1, attempt(2, 1, Some(200), "ok"))])
            .unwrap();
        assert_eq!(s.retry(1, 5).unwrap(), Retry::Queued);
        let (new, fresh) = s
            .accept("h", "2", &row("eve", HookAction::Create), 2)
            .unwrap();
        assert!(fresh);
        s.end(&[(
            new.id,
            Ending::Refused {
                reason: "refused".into(),
                outcome: None,
            },
        )])
        .unwrap();
        assert!(!s.status(new.id).unwrap().unwrap().retryable);
        drop(s);
        // Opened again: nothing to add, nothing lost.
        let s = Store::open(&path).unwrap();
        assert_eq!(s.details(1).unwrap().unwrap().history.len(), 1);
        drop(s);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_older_postgres_store_is_upgraded_in_place_and_its_events_kept() {
        let Some(pg) = super::test_postgres::TempPostgres::start_or_skip("upgrade") else {
            return;
        };
        let mut admin = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
        admin.batch_execute(pg::SCHEMA).unwrap();
        admin
            .batch_execute(
                "INSERT INTO hook_events (hook, sender_id, received_at, user_key, action, data, status, attempts, reason)
                 VALUES ('h', 'sha256:00', 1, 'dee', 'create',
                         '{\"username\":\"dee\",\"action\":\"create\",\"cells\":{\"Username\":\"dee\"}}',
                         'failed', 6, 'failed after 6 attempts: no answer')",
            )
            .unwrap();
        let url = StoreUrl::new(&pg.url);
        let s = Store::postgres(&url, std::time::Duration::from_secs(30)).unwrap();
        let id: i64 = admin
            .query_one("SELECT id FROM hook_events", &[])
            .unwrap()
            .get(0);
        let old = s.details(id).unwrap().expect("the old event is kept");
        assert!(old.event.retryable);
        assert_eq!(old.row.unwrap()["Username"], "dee");
        s.add_attempts(&[(id, attempt(2, 1, Some(200), "ok"))])
            .unwrap();
        s.set_plans(&[(id, serde_json::json!({"Plan": "create"}))])
            .unwrap();
        assert_eq!(s.details(id).unwrap().unwrap().history.len(), 1);
        drop(s);
        let again = Store::postgres(&url, std::time::Duration::from_secs(30)).unwrap();
        let d = again.details(id).unwrap().unwrap();
        assert_eq!(d.plan, Some(serde_json::json!({"Plan": "create"})));
    }

    #[test]
    fn one_server_holds_an_sqlite_store() {
        let (s, dir) = store("lock");
        let second = Store::open(&dir.join("events.sqlite"));
        assert!(matches!(second, Err(StoreError::Lock(_))));
        drop(s);
        assert!(
            Store::open(&dir.join("events.sqlite")).is_ok(),
            "free once closed"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
