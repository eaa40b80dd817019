//! The hooks' events in PostgreSQL, shared by two or more servers (behind a load balancer):
//! the same operations and statuses as the SQLite store (see [`super`]), plus claims.
//!
//! Claims: [`Postgres::due`] claims the events it returns for this server (`claimed_by`, a
//! random id per server start) until `claim_until`, a lease a background thread renews every
//! third of its length while the server lives. No server takes an event of an account another
//! server holds a live claim on, so each account's events are applied one at a time and in
//! order across all servers. A server killed mid-run stops renewing: once its leases run out,
//! another server takes its events (`planned` ones too, with the journal of rows it finished)
//! and plans them again against the brand as it is then, so an account it had already made is
//! found, not made again. A server whose renewals fail stops its run before its claims can
//! run out ([`Postgres::claims_held`]), and never ends an event another server claimed since.
//!
//! Order: ids come from a sequence, and a transaction that took a later id may commit before
//! one that took an earlier id. So that a claim never sees an account's later event without
//! its earlier one, every insert holds a shared advisory lock and the claim the exclusive one:
//! a claim waits for inserts under way, and inserts wait for the claim (milliseconds).
//!
//! The `postgres` client runs its own small Tokio runtime and must not be called on a thread
//! of the server's: each connection lives on a thread of its own, and the store's methods
//! hand it their work and wait for the answer (as the SQLite store blocks on its file).

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls, Row};

use super::{
    action_word, kept_id, retryable, without_password, Attempt, Counts, DueEvent, Ending,
    EventStatus, Held, Replayed, Retry, StoreError, StoredDetails, ATTEMPTS_KEPT, BODY_ID_PREFIX,
    UNFINISHED,
};
use crate::hooks::config::StoreUrl;
use crate::hooks::mapping::HookRow;
use qualtrics_roster::exec::JournalEntry;

/// Connections per server (each on its own thread); the lease renewals have one more.
const CONNECTIONS: usize = 4;
/// The advisory lock inserts take shared and claims exclusive (see the module's notes).
const CLAIM_LOCK: i64 = 0x526f_7374_6572_0001;
/// The advisory lock around creating the tables (servers starting at once).
const SCHEMA_LOCK: i64 = 0x526f_7374_6572_0002;
/// The database's clock in milliseconds since the epoch: leases are judged by one clock,
/// whatever the servers' clocks say.
const DB_NOW: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS hook_events (
  id BIGSERIAL PRIMARY KEY,
  hook TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  user_key TEXT NOT NULL,
  action TEXT NOT NULL,
  data TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  reason TEXT,
  outcome TEXT,
  burst BIGINT,
  released BOOLEAN NOT NULL DEFAULT FALSE,
  claimed_by TEXT,
  claim_until BIGINT,
  UNIQUE (hook, sender_id)
);
CREATE INDEX IF NOT EXISTS hook_events_pending ON hook_events (status, user_key, id);
CREATE INDEX IF NOT EXISTS hook_events_received ON hook_events (received_at);
CREATE INDEX IF NOT EXISTS hook_events_claims ON hook_events (user_key) WHERE claimed_by IS NOT NULL;
CREATE INDEX IF NOT EXISTS hook_events_claimed_by ON hook_events (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE TABLE IF NOT EXISTS hook_journal (
  seq BIGSERIAL PRIMARY KEY,
  event_id BIGINT NOT NULL,
  entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hook_journal_event ON hook_journal (event_id);
CREATE TABLE IF NOT EXISTS hook_paused (
  hook TEXT PRIMARY KEY,
  since BIGINT NOT NULL
);
";

/// True when every table and index of [`SCHEMA`] exists.
const SCHEMA_COMPLETE: &str = "SELECT to_regclass('hook_events') IS NOT NULL
  AND to_regclass('hook_events_pending') IS NOT NULL
  AND to_regclass('hook_events_received') IS NOT NULL
  AND to_regclass('hook_events_claims') IS NOT NULL
  AND to_regclass('hook_events_claimed_by') IS NOT NULL
  AND to_regclass('hook_journal') IS NOT NULL
  AND to_regclass('hook_journal_event') IS NOT NULL
  AND to_regclass('hook_paused') IS NOT NULL";

/// What a store made by an older version lacks (issue 29.9: attempts, refusals, plan rows,
/// tries all told),
/// added in place when a server opens it.
const UPGRADE: &str = "
ALTER TABLE hook_events ADD COLUMN IF NOT EXISTS refused BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE hook_events ADD COLUMN IF NOT EXISTS plan TEXT;
ALTER TABLE hook_events ADD COLUMN IF NOT EXISTS tries INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS hook_attempts (
  seq BIGSERIAL PRIMARY KEY,
  event_id BIGINT NOT NULL,
  entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hook_attempts_event ON hook_attempts (event_id);
";

/// True when [`UPGRADE`] has nothing left to add.
const UPGRADE_COMPLETE: &str = "SELECT to_regclass('hook_attempts') IS NOT NULL
  AND to_regclass('hook_attempts_event') IS NOT NULL
  AND (SELECT COUNT(*) FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'hook_events'
         AND column_name IN ('refused', 'plan', 'tries')) = 3";

const SELECT_STATUS: &str = "SELECT id, hook, sender_id, received_at, status, user_key, action, outcome, attempts, reason, next_attempt_at, burst, released, refused FROM hook_events";

/// Work for a connection's thread: given the connection (or why there is none).
type Job = Box<dyn FnOnce(Result<&mut Client, StoreError>) + Send>;

/// The PostgreSQL store: connection threads fed through a channel, and the lease renewals.
pub(super) struct Postgres {
    jobs: mpsc::Sender<Job>,
    /// This server's id in `claimed_by`.
    owner: String,
    /// How long a claim lasts unless renewed, in milliseconds.
    lease_ms: i64,
    /// Dropped with the store: the renewals stop.
    _renewing: mpsc::Sender<()>,
    /// When this server's claims were last renewed (or the store opened).
    renewed: Arc<Mutex<Instant>>,
}

/// What went wrong, in the database's own words (a db error's `Display` is only "db error").
fn words(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Postgres(words(&e))
    }
}

/// What each connection sets first. A server whose machine vanished mid-transaction (no
/// connection reset reaches the database) would otherwise hold its locks, and with them every
/// server's claims, until TCP gives up (hours): its transaction is ended after 15 s idle. A
/// lock waited for longer than 20 s fails the statement (an event answered 503, which the
/// sender retries, or a claim tried again a second later) rather than hanging.
const SESSION: &str = "SET idle_in_transaction_session_timeout = 15000; SET lock_timeout = 20000;";

/// Connects to `config`; errors name `shown` (the URL without its password).
fn connect(config: &postgres::Config, shown: &str) -> Result<Client, StoreError> {
    let named = |e: postgres::Error| {
        StoreError::Postgres(format!("cannot connect to {shown}: {}", words(&e)))
    };
    let mut client = config.connect(NoTls).map_err(named)?;
    client.batch_execute(SESSION).map_err(named)?;
    Ok(client)
}

/// A connection's thread: runs jobs until the store is dropped, connecting again when the
/// connection was lost.
fn serve(config: postgres::Config, shown: String, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut client: Option<Client> = None;
    loop {
        let job = {
            let queue = jobs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if client.as_ref().is_none_or(Client::is_closed) {
            client = None;
            match connect(&config, &shown) {
                Ok(c) => client = Some(c),
                Err(e) => {
                    job(Err(e));
                    continue;
                }
            }
        }
        job(Ok(client.as_mut().expect("connected")));
    }
}

/// Renews this server's claims every third of the lease until `stop` is dropped, noting each
/// success in `renewed`.
fn renew(
    config: postgres::Config,
    shown: String,
    owner: String,
    lease_ms: i64,
    stop: mpsc::Receiver<()>,
    renewed: Arc<Mutex<Instant>>,
) {
    let every = Duration::from_millis((lease_ms / 3).max(100) as u64);
    let mut client: Option<Client> = None;
    let sql = format!("UPDATE hook_events SET claim_until = {DB_NOW} + $2 WHERE claimed_by = $1");
    loop {
        match stop.recv_timeout(every) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if client.as_ref().is_none_or(Client::is_closed) {
            client = connect(&config, &shown)
                .map_err(|e| eprintln!("hooks: claims not renewed: {e}"))
                .ok();
        }
        if let Some(c) = client.as_mut() {
            let asked = Instant::now();
            match c.execute(&sql, &[&owner, &lease_ms]) {
                Ok(_) => *renewed.lock().unwrap_or_else(|e| e.into_inner()) = asked,
                Err(e) => eprintln!("hooks: claims not renewed: {}", StoreError::from(e)),
            }
        }
    }
}

impl Postgres {
    /// Connects to `url`, creates the tables when missing (under an advisory lock, so servers
    /// starting at once do not trip on each other), and starts the connection threads and the
    /// renewals of this server's claims (each lasting `lease`).
    pub(super) fn connect(url: &StoreUrl, lease: Duration) -> Result<Postgres, StoreError> {
        let shown = url.redacted();
        let mut config: postgres::Config = url
            .secret()
            .parse()
            .map_err(|e| StoreError::Postgres(format!("{shown}: {e}")))?;
        if config.get_password().is_none() {
            if let Ok(password) = std::env::var("PGPASSWORD") {
                config.password(password);
            }
        }
        config.application_name("roster-server");
        config.connect_timeout(Duration::from_secs(10));
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..CONNECTIONS {
            let (config, shown, queue) = (config.clone(), shown.clone(), queue.clone());
            std::thread::Builder::new()
                .name("hooks-postgres".into())
                .spawn(move || serve(config, shown, queue))
                .map_err(|e| StoreError::Postgres(format!("no thread for a connection: {e}")))?;
        }
        let owner = server_id();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4);
        let (renewing, stop) = mpsc::channel();
        let renewed = Arc::new(Mutex::new(Instant::now()));
        {
            let (config, shown, owner) = (config.clone(), shown.clone(), owner.clone());
            let renewed = renewed.clone();
            std::thread::Builder::new()
                .name("hooks-postgres-leases".into())
                .spawn(move || renew(config, shown, owner, lease_ms, stop, renewed))
                .map_err(|e| StoreError::Postgres(format!("no thread for the leases: {e}")))?;
        }
        let store = Postgres {
            jobs,
            owner,
            lease_ms,
            _renewing: renewing,
            renewed,
        };
        store.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            // Only a database without the tables gets the DDL: `CREATE INDEX IF NOT EXISTS`
            // locks its table before it looks, and a second server starting while the first
            // already applies events deadlocked with it (measured: one start in two).
            let complete: bool = tx.query_one(SCHEMA_COMPLETE, &[])?.get(0);
            if !complete {
                tx.batch_execute(SCHEMA)?;
            }
            // The same for what later versions added: DDL only when something is missing.
            let upgraded: bool = tx.query_one(UPGRADE_COMPLETE, &[])?.get(0);
            if !upgraded {
                tx.batch_execute(UPGRADE)?;
            }
            tx.commit()?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `work` on a connection's thread and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = answer.send(client.and_then(work));
        });
        let gone = || StoreError::Postgres("the connection threads stopped".into());
        self.jobs.send(job).map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }

    /// Whether the claims were renewed within two thirds of the lease (one renewal missed at
    /// most: a third of the lease is left to stop sending before another server may claim).
    pub(super) fn claims_held(&self) -> bool {
        let renewed = *self.renewed.lock().unwrap_or_else(|e| e.into_inner());
        renewed.elapsed().as_millis() < (self.lease_ms as u128) * 2 / 3
    }

    pub(super) fn accept(
        &self,
        hook: &str,
        sender_id: &str,
        row: &HookRow,
        now: u64,
    ) -> Result<(EventStatus, bool), StoreError> {
        let (hook, mut sender) = (hook.to_string(), kept_id(sender_id));
        let user = row.username.to_lowercase();
        let action = action_word(row);
        let data = serde_json::to_string(row).expect("rows serialise");
        let now = now as i64;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&CLAIM_LOCK])?;
            // An id made from the body stands for a repeat only within BODY_REPEAT_WINDOW_MS.
            if sender.starts_with(BODY_ID_PREFIX) {
                let like = format!("{sender}@%");
                let latest = tx.query_opt(
                    "SELECT sender_id, received_at FROM hook_events
                     WHERE hook = $1 AND (sender_id = $2 OR sender_id LIKE $3)
                     ORDER BY received_at DESC, id DESC LIMIT 1",
                    &[&hook, &sender, &like],
                )?;
                if let Some(latest) = latest {
                    let at: i64 = latest.get(1);
                    let window = super::BODY_REPEAT_WINDOW_MS as i64;
                    sender = if now.saturating_sub(at) > window {
                        format!("{sender}@{now}")
                    } else {
                        latest.get(0)
                    };
                }
            }
            let inserted = tx.execute(
                "INSERT INTO hook_events (hook, sender_id, received_at, user_key, action, data, status)
                 VALUES ($1, $2, $3, $4, $5, $6, 'received') ON CONFLICT (hook, sender_id) DO NOTHING",
                &[&hook, &sender, &now, &user, &action, &data],
            )?;
            let kept = tx.query_one(
                &format!("{SELECT_STATUS} WHERE hook = $1 AND sender_id = $2"),
                &[&hook, &sender],
            )?;
            tx.commit()?;
            Ok((read_status(&kept), inserted == 1))
        })
    }

    pub(super) fn skip(
        &self,
        hook: &str,
        sender_id: &str,
        user: &str,
        reason: &str,
        now: u64,
    ) -> Result<(EventStatus, bool), StoreError> {
        let (hook, sender) = (hook.to_string(), kept_id(sender_id));
        let (user, reason) = (user.to_lowercase(), reason.to_string());
        let now = now as i64;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&CLAIM_LOCK])?;
            let inserted = tx.execute(
                "INSERT INTO hook_events (hook, sender_id, received_at, user_key, action, data, status, reason)
                 VALUES ($1, $2, $3, $4, '', '{}', 'skipped', $5) ON CONFLICT (hook, sender_id) DO NOTHING",
                &[&hook, &sender, &now, &user, &reason],
            )?;
            let kept = tx.query_one(
                &format!("{SELECT_STATUS} WHERE hook = $1 AND sender_id = $2"),
                &[&hook, &sender],
            )?;
            tx.commit()?;
            Ok((read_status(&kept), inserted == 1))
        })
    }

    pub(super) fn set_paused(
        &self,
        hook: &str,
        paused: bool,
        now: u64,
    ) -> Result<bool, StoreError> {
        let hook = hook.to_string();
        let now = now as i64;
        self.run(move |c| {
            let changed = if paused {
                c.execute(
                    "INSERT INTO hook_paused (hook, since) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&hook, &now],
                )?
            } else {
                c.execute("DELETE FROM hook_paused WHERE hook = $1", &[&hook])?
            };
            Ok(changed > 0)
        })
    }

    pub(super) fn paused(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.run(|c| {
            Ok(
                c.query("SELECT hook, since FROM hook_paused ORDER BY hook", &[])?
                    .iter()
                    .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                    .collect(),
            )
        })
    }

    pub(super) fn replay(
        &self,
        id: Option<i64>,
        from: u64,
        to: u64,
    ) -> Result<Replayed, StoreError> {
        let (from, to) = (from as i64, to as i64);
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let found: Vec<(i64, String, String)> = match id {
                Some(id) => tx.query(
                    "SELECT id, status, user_key FROM hook_events WHERE id = $1",
                    &[&id],
                )?,
                None => tx.query(
                    "SELECT id, status, user_key FROM hook_events WHERE received_at BETWEEN $1 AND $2 ORDER BY id",
                    &[&from, &to],
                )?,
            }
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
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
                let newer: Vec<i64> = tx
                    .query(
                        "SELECT id FROM hook_events WHERE user_key = $1 AND id > $2 AND status = 'done'",
                        &[&user, &event],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if newer.iter().any(|n| !chosen.contains(n)) {
                    out.left.push((event, "a later change of the same account was applied since: replaying it would undo that".into()));
                    continue;
                }
                tx.execute(
                    "UPDATE hook_events SET status = 'received', attempts = 0, next_attempt_at = NULL, reason = NULL, outcome = NULL, burst = NULL, released = FALSE, refused = FALSE, claimed_by = NULL, claim_until = NULL WHERE id = $1",
                    &[&event],
                )?;
                tx.execute("DELETE FROM hook_journal WHERE event_id = $1", &[&event])?;
                out.queued.push(event);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    pub(super) fn purge(&self, before: u64) -> Result<(usize, usize), StoreError> {
        let before = before as i64;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let unfinished: i64 = tx
                .query_one(
                    &format!("SELECT COUNT(*) FROM hook_events WHERE received_at < $1 AND (status IN {UNFINISHED} OR (status = 'failed' AND next_attempt_at IS NOT NULL))"),
                    &[&before],
                )?
                .get(0);
            tx.execute(
                "DELETE FROM hook_journal WHERE event_id IN (SELECT id FROM hook_events WHERE received_at < $1)",
                &[&before],
            )?;
            tx.execute(
                "DELETE FROM hook_attempts WHERE event_id IN (SELECT id FROM hook_events WHERE received_at < $1)",
                &[&before],
            )?;
            let deleted = tx.execute("DELETE FROM hook_events WHERE received_at < $1", &[&before])?;
            tx.commit()?;
            Ok((deleted as usize, unfinished.max(0) as usize))
        })
    }

    pub(super) fn counts(&self) -> Result<Counts, StoreError> {
        self.run(|c| {
            let by_status = c
                .query(
                    "SELECT status, COUNT(*) FROM hook_events GROUP BY status ORDER BY status",
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                .collect();
            let pending = c.query_one(
                "SELECT COUNT(*), MIN(received_at) FROM hook_events WHERE status IN ('received', 'planned') OR (status = 'failed' AND next_attempt_at IS NOT NULL)",
                &[],
            )?;
            Ok(Counts {
                by_status,
                pending: pending.get::<_, i64>(0).max(0) as u64,
                oldest_pending: pending.get::<_, Option<i64>>(1).map(|o| o.max(0) as u64),
            })
        })
    }

    pub(super) fn healthy(&self) -> Result<(), StoreError> {
        self.run(|c| {
            c.query_one("SELECT 1", &[])?;
            Ok(())
        })
    }

    pub(super) fn status(&self, id: i64) -> Result<Option<EventStatus>, StoreError> {
        self.run(move |c| {
            Ok(
                c.query_opt(&format!("{SELECT_STATUS} WHERE id = $1"), &[&id])?
                    .as_ref()
                    .map(read_status),
            )
        })
    }

    pub(super) fn recent(&self, limit: usize) -> Result<Vec<EventStatus>, StoreError> {
        let limit = limit as i64;
        self.run(move |c| {
            Ok(c.query(
                &format!("{SELECT_STATUS} ORDER BY id DESC LIMIT $1"),
                &[&limit],
            )?
            .iter()
            .map(read_status)
            .collect())
        })
    }

    /// See [`super::Store::due`]: the same choice as SQLite's, less the accounts
    /// another server holds a live claim on, and claimed for this server in the same
    /// statement (under the exclusive claim lock).
    pub(super) fn due(&self, now: u64, limit: usize) -> Result<Vec<DueEvent>, StoreError> {
        let (now, limit) = (now as i64, limit as i64);
        let (owner, lease) = (self.owner.clone(), self.lease_ms);
        type Found = (i64, String, String, (i32, i32), Option<i64>);
        let found: Vec<Found> = self.run(move |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK])?;
            let rows = tx.query(
                &format!(
                    "WITH first AS (
                       SELECT user_key, MIN(id) AS first FROM hook_events
                       WHERE status IN ('received', 'planned', 'quarantined')
                          OR (status = 'failed' AND next_attempt_at IS NOT NULL)
                       GROUP BY user_key),
                     chosen AS (
                       SELECT e.id FROM hook_events e JOIN first f ON e.id = f.first
                       WHERE (e.status IN ('received', 'planned')
                          OR (e.status = 'failed' AND e.next_attempt_at <= $1))
                         AND e.hook NOT IN (SELECT hook FROM hook_paused)
                         AND NOT EXISTS (SELECT 1 FROM hook_events o
                                         WHERE o.user_key = e.user_key AND o.claimed_by IS NOT NULL
                                           AND o.claimed_by <> $3 AND o.claim_until >= {DB_NOW})
                       ORDER BY e.id LIMIT $2)
                     UPDATE hook_events e SET claimed_by = $3, claim_until = {DB_NOW} + $4
                     FROM chosen WHERE e.id = chosen.id
                     RETURNING e.id, e.hook, e.data, e.attempts, CASE WHEN e.released THEN e.burst END, e.tries"
                ),
                &[&now, &limit, &owner, &lease],
            )?;
            tx.commit()?;
            let mut found: Vec<_> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), (r.get(3), r.get(5)), r.get(4)))
                .collect();
            found.sort_by_key(|f: &Found| f.0);
            Ok(found)
        })?;
        let mut due = Vec::with_capacity(found.len());
        for (id, hook, row, (attempts, tries), released) in found {
            match serde_json::from_str(&row) {
                Ok(row) => due.push(DueEvent {
                    id,
                    hook,
                    row,
                    attempts: attempts.max(0) as u32,
                    tries: tries.max(0) as u32,
                    released,
                }),
                Err(e) => self.end(&[(id, super::unreadable(&e))])?,
            }
        }
        Ok(due)
    }

    pub(super) fn mark_planned(&self, ids: &[i64]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.run(move |c| {
            c.execute(
                "UPDATE hook_events SET status = 'planned', attempts = attempts + 1, tries = tries + 1 WHERE id = ANY($1)",
                &[&ids],
            )?;
            Ok(())
        })
    }

    /// See [`super::Store::end`]; an event another server has claimed since (this
    /// one's claim ran out) is left to it.
    pub(super) fn end(&self, endings: &[(i64, Ending)]) -> Result<(), StoreError> {
        let endings = endings.to_vec();
        let owner = self.owner.clone();
        self.run(move |c| {
            let mut tx = c.transaction()?;
            for (id, ending) in endings {
                match ending {
                    Ending::Done(outcome) => {
                        // The account exists now: its password is never kept past this.
                        let row = tx.query_opt("SELECT data FROM hook_events WHERE id = $1", &[&id])?;
                        if let Some(blanked) = row.and_then(|r| without_password(r.get(0))) {
                            tx.execute(
                                "UPDATE hook_events SET data = $2 WHERE id = $1",
                                &[&id, &blanked],
                            )?;
                        }
                        tx.execute(
                            "UPDATE hook_events SET status = 'done', outcome = $2, reason = NULL, next_attempt_at = NULL, released = FALSE, refused = FALSE, claimed_by = NULL, claim_until = NULL WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $3)",
                            &[&id, &outcome.to_string(), &owner],
                        )?
                    }
                    Ending::Failed {
                        reason,
                        outcome,
                        retry_at,
                    } => tx.execute(
                        "UPDATE hook_events SET status = 'failed', reason = $2, outcome = $3, next_attempt_at = $4, refused = FALSE, claimed_by = NULL, claim_until = NULL WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $5)",
                        &[
                            &id,
                            &reason,
                            &outcome.as_ref().map(ToString::to_string),
                            &retry_at.map(|t| t as i64),
                            &owner,
                        ],
                    )?,
                    Ending::Refused { reason, outcome } => tx.execute(
                        "UPDATE hook_events SET status = 'failed', reason = $2, outcome = $3, next_attempt_at = NULL, refused = TRUE, claimed_by = NULL, claim_until = NULL WHERE id = $1 AND (claimed_by IS NULL OR claimed_by = $4)",
                        &[
                            &id,
                            &reason,
                            &outcome.as_ref().map(ToString::to_string),
                            &owner,
                        ],
                    )?,
                };
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub(super) fn quarantine(&self, ids: &[i64], reason: &str) -> Result<i64, StoreError> {
        let burst = ids.iter().copied().min().unwrap_or_default();
        let (ids, reason, owner) = (ids.to_vec(), reason.to_string(), self.owner.clone());
        self.run(move |c| {
            c.execute(
                "UPDATE hook_events SET status = 'quarantined', reason = $2, burst = $3, released = FALSE, next_attempt_at = NULL, claimed_by = NULL, claim_until = NULL WHERE id = ANY($1) AND (claimed_by IS NULL OR claimed_by = $4)",
                &[&ids, &reason, &burst, &owner],
            )?;
            Ok(burst)
        })
    }

    pub(super) fn release(&self, id: i64) -> Result<Held, StoreError> {
        self.settle_burst(
            id,
            "UPDATE hook_events SET status = 'received', released = TRUE, reason = NULL WHERE burst = $1 AND status = 'quarantined'",
        )
    }

    pub(super) fn discard(&self, id: i64) -> Result<Held, StoreError> {
        self.settle_burst(
            id,
            "UPDATE hook_events SET status = 'discarded', reason = 'discarded by an administrator (held by the mass-change brake)' WHERE burst = $1 AND status = 'quarantined'",
        )
    }

    fn settle_burst(&self, id: i64, update: &'static str) -> Result<Held, StoreError> {
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let found = tx.query_opt(
                "SELECT status, burst FROM hook_events WHERE id = $1",
                &[&id],
            )?;
            let held = match found.map(|r| (r.get::<_, String>(0), r.get::<_, Option<i64>>(1))) {
                None => Held::NotFound,
                Some((status, Some(burst))) if status == "quarantined" => {
                    let events = tx.execute(update, &[&burst])? as usize;
                    Held::Done { burst, events }
                }
                Some(_) => Held::NotQuarantined,
            };
            tx.commit()?;
            Ok(held)
        })
    }

    pub(super) fn retry(&self, id: i64, now: u64) -> Result<Retry, StoreError> {
        let now = now as i64;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let found = tx.query_opt(
                "SELECT status, user_key, refused FROM hook_events WHERE id = $1",
                &[&id],
            )?;
            let Some((status, user, refused)) = found.map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    r.get::<_, bool>(2),
                )
            }) else {
                return Ok(Retry::NotFailed);
            };
            if status != "failed" {
                return Ok(Retry::NotFailed);
            }
            if refused {
                return Ok(Retry::Refused);
            }
            let newer: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM hook_events WHERE user_key = $1 AND id > $2 AND status = 'done'",
                    &[&user, &id],
                )?
                .get(0);
            if newer > 0 {
                return Ok(Retry::Superseded);
            }
            tx.execute(
                "UPDATE hook_events SET next_attempt_at = $2, attempts = 0 WHERE id = $1",
                &[&id, &now],
            )?;
            tx.commit()?;
            Ok(Retry::Queued)
        })
    }

    pub(super) fn add_journal(&self, id: i64, entries: &[JournalEntry]) -> Result<(), StoreError> {
        let entries: Vec<String> = entries
            .iter()
            .map(|e| serde_json::to_string(e).expect("entries serialise"))
            .collect();
        self.run(move |c| {
            c.execute(
                "INSERT INTO hook_journal (event_id, entry) SELECT $1, unnest($2::text[])",
                &[&id, &entries],
            )?;
            Ok(())
        })
    }

    pub(super) fn journal(&self, ids: &[i64]) -> Result<Vec<(i64, JournalEntry)>, StoreError> {
        let ids = ids.to_vec();
        self.run(move |c| {
            let rows = c.query(
                "SELECT event_id, entry FROM hook_journal WHERE event_id = ANY($1) ORDER BY seq",
                &[&ids],
            )?;
            let position: std::collections::HashMap<i64, usize> =
                ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            let mut out: Vec<(i64, JournalEntry)> = rows
                .iter()
                .filter_map(|r| {
                    let entry: String = r.get(1);
                    Some((r.get(0), serde_json::from_str(&entry).ok()?))
                })
                .collect();
            // In the order of `ids`, each event's entries in the order kept (as SQLite's).
            out.sort_by_key(|(event, _)| position.get(event).copied().unwrap_or(usize::MAX));
            Ok(out)
        })
    }

    /// See [`super::Store::add_attempts`].
    pub(super) fn add_attempts(&self, attempts: &[(i64, Attempt)]) -> Result<(), StoreError> {
        let ids: Vec<i64> = attempts.iter().map(|(id, _)| *id).collect();
        let entries: Vec<String> = attempts
            .iter()
            .map(|(_, a)| serde_json::to_string(a).expect("attempts serialise"))
            .collect();
        let newest_dropped = ATTEMPTS_KEPT as i64 - 1;
        let owner = self.owner.clone();
        self.run(move |c| {
            let mut tx = c.transaction()?;
            // Only for events this server holds (as `end` checks): one another server has
            // claimed since is its to record.
            tx.execute(
                "INSERT INTO hook_attempts (event_id, entry)
                 SELECT a.id, a.entry FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS a(id, entry, n)
                 JOIN hook_events e ON e.id = a.id
                 WHERE e.claimed_by IS NULL OR e.claimed_by = $3
                 ORDER BY a.n",
                &[&ids, &entries, &owner],
            )?;
            // Each event's attempts older than its ATTEMPTS_KEPT-th latest (none when it has
            // no more): one look-up per event, not a numbering of all its rows.
            tx.execute(
                "DELETE FROM hook_attempts a USING (SELECT DISTINCT unnest($1::bigint[]) AS id) e
                 WHERE a.event_id = e.id AND a.seq < (
                   SELECT b.seq FROM hook_attempts b WHERE b.event_id = e.id
                   ORDER BY b.seq DESC OFFSET $2 LIMIT 1)",
                &[&ids, &newest_dropped],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// See [`super::Store::set_plans`].
    pub(super) fn set_plans(&self, plans: &[(i64, serde_json::Value)]) -> Result<(), StoreError> {
        let ids: Vec<i64> = plans.iter().map(|(id, _)| *id).collect();
        let rows: Vec<String> = plans.iter().map(|(_, p)| p.to_string()).collect();
        let owner = self.owner.clone();
        self.run(move |c| {
            // Under the claim check `end` has: an event another server claimed since is its.
            c.execute(
                "UPDATE hook_events e SET plan = p.plan FROM unnest($1::bigint[], $2::text[]) AS p(id, plan)
                 WHERE e.id = p.id AND (e.claimed_by IS NULL OR e.claimed_by = $3)",
                &[&ids, &rows, &owner],
            )?;
            Ok(())
        })
    }

    /// Event `id`'s stored row, plan row and attempts (JSON each), oldest attempt first.
    pub(super) fn details(&self, id: i64) -> Result<StoredDetails, StoreError> {
        self.run(move |c| {
            let found = c.query_opt("SELECT data, plan FROM hook_events WHERE id = $1", &[&id])?;
            let (row, plan) = found.map_or((None, None), |r| (r.get(0), r.get(1)));
            let history = c
                .query(
                    "SELECT entry FROM hook_attempts WHERE event_id = $1 ORDER BY seq",
                    &[&id],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok((row, plan, history))
        })
    }
}

/// An event's state from a row of [`SELECT_STATUS`].
fn read_status(r: &Row) -> EventStatus {
    let iso = |ms: i64| qualtrics_roster::time::iso_datetime(ms.max(0) as u64);
    EventStatus {
        id: r.get(0),
        hook: r.get(1),
        sender_id: r.get(2),
        received_at: iso(r.get(3)),
        status: r.get(4),
        user: r.get(5),
        action: r.get(6),
        outcome: r
            .get::<_, Option<String>>(7)
            .and_then(|o| serde_json::from_str(&o).ok()),
        attempts: r.get::<_, i32>(8).max(0) as u32,
        reason: r.get(9),
        next_attempt_at: r.get::<_, Option<i64>>(10).map(iso),
        burst: r.get(11),
        released: r.get(12),
        retryable: retryable(&r.get::<_, String>(4), r.get(13)),
    }
}

/// An id for this server's claims, new at each start: the process id and random bits (two
/// servers, or one started again, never share one).
fn server_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", std::process::id())
}
