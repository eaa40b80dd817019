//! Accepted events, kept in SQLite before the sender is answered: a kill at any moment loses
//! none. Each event is unique per hook by the sender's id (a repeat gets the first one's
//! status); its status moves received -> planned -> done, or failed (retried later, or parked
//! when `next_attempt_at` is empty). The journal of rows a run finished is kept per event, so
//! a run cut short and planned again sends nothing twice.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

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
    /// `received`, `planned`, `done` or `failed`.
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
}

/// An event due to be applied.
#[derive(Debug, Clone)]
pub struct DueEvent {
    /// Our id.
    pub id: i64,
    /// Its row.
    pub row: HookRow,
    /// Tries before this one.
    pub attempts: u32,
}

/// The events database.
pub struct Store {
    db: Mutex<Connection>,
}

/// A database failure (the file cannot be written, say), in words.
#[derive(Debug, thiserror::Error)]
#[error("the hooks' event store failed: {0}")]
pub struct StoreError(#[from] rusqlite::Error);

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
";

impl Store {
    /// Opens (or creates, readable by its owner only) the database at `path`. Every commit
    /// reaches the disk before it returns (WAL, synchronous FULL).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
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
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Store { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        let db = self.db();
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
        let id: i64 = db.query_row(
            "SELECT id FROM events WHERE hook = ?1 AND sender_id = ?2",
            params![hook, sender_id],
            |r| r.get(0),
        )?;
        drop(db);
        let status = self.status(id)?.expect("just found");
        Ok((status, inserted == 1))
    }

    /// One event's state.
    pub fn status(&self, id: i64) -> Result<Option<EventStatus>, StoreError> {
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
    pub fn recent(&self, limit: usize) -> Result<Vec<EventStatus>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare(&format!("{SELECT_STATUS} ORDER BY id DESC LIMIT ?1"))?;
        let rows = stmt.query_map(params![limit as i64], read_status)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events to apply now, oldest first, at most `limit`, one per account: an account's
    /// oldest unfinished event, and only when it is due (a later event of the same account
    /// waits for it, so one account's events apply in arrival order).
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<DueEvent>, StoreError> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT e.id, e.row, e.attempts FROM events e
             JOIN (SELECT user_key, MIN(id) AS first FROM events
                   WHERE status IN ('received', 'planned')
                      OR (status = 'failed' AND next_attempt_at IS NOT NULL)
                   GROUP BY user_key) f ON e.id = f.first
             WHERE e.status IN ('received', 'planned') OR e.next_attempt_at <= ?1
             ORDER BY e.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now as i64, limit as i64], |r| {
            let row: String = r.get(1)?;
            Ok((r.get::<_, i64>(0)?, row, r.get::<_, u32>(2)?))
        })?;
        let mut due = Vec::new();
        for found in rows {
            let (id, row, attempts) = found?;
            if let Ok(row) = serde_json::from_str(&row) {
                due.push(DueEvent { id, row, attempts });
            }
        }
        Ok(due)
    }

    /// Marks events planned (a run is about to send their changes).
    pub fn mark_planned(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE events SET status = 'planned', attempts = attempts + 1 WHERE id = ?1",
                params![id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records how events ended, in one transaction (one write to the disk for a whole run).
    pub fn end(&self, endings: &[(i64, Ending)]) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        for (id, ending) in endings {
            match ending {
                Ending::Done(outcome) => tx.execute(
                    "UPDATE events SET status = 'done', outcome = ?2, reason = NULL, next_attempt_at = NULL WHERE id = ?1",
                    params![id, outcome.to_string()],
                )?,
                Ending::Failed {
                    reason,
                    outcome,
                    retry_at,
                } => tx.execute(
                    "UPDATE events SET status = 'failed', reason = ?2, outcome = ?3, next_attempt_at = ?4 WHERE id = ?1",
                    params![id, reason, outcome.as_ref().map(ToString::to_string), retry_at.map(|t| t as i64)],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// Queues a failed event again at once (the Automations view's Retry): true if it was
    /// failed.
    pub fn retry(&self, id: i64, now: u64) -> Result<bool, StoreError> {
        let changed = self.db().execute(
            "UPDATE events SET status = 'failed', next_attempt_at = ?2, attempts = 0 WHERE id = ?1 AND status = 'failed'",
            params![id, now as i64],
        )?;
        Ok(changed == 1)
    }

    /// Keeps journal entries of event `id` (rows a run finished).
    pub fn add_journal(&self, id: i64, entries: &[JournalEntry]) -> Result<(), StoreError> {
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
    pub fn journal(&self, ids: &[i64]) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
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
}

const SELECT_STATUS: &str = "SELECT id, hook, sender_id, received_at, status, user_key, action, outcome, attempts, reason, next_attempt_at FROM events";

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
    })
}

fn action_word(row: &HookRow) -> &'static str {
    use super::mapping::HookAction;
    match row.action {
        HookAction::Create => "create",
        HookAction::Update => "update",
        HookAction::Disable => "disable",
        HookAction::Enable => "enable",
    }
}
