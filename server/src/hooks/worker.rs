//! Applies accepted events with the same core runs as the page and the CLI: due events (one
//! per account, oldest first) become the rows of one provisioning sheet and one lifecycle
//! sheet, each planned against the brand and then applied exactly as planned, with the
//! server's own credential; each row's outcome ends its event. One run at a time, so the
//! hooks never exceed the brand's rate limits among themselves.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use qualtrics_roster::exec::{audit_jsonl, AuditEntry, ExecConfig, JournalEntry, OutcomeStatus};
use qualtrics_roster::membership::rules::RoleSheet;
use qualtrics_roster::policy::{Actor, Approval, Confirmation};
use qualtrics_roster::run::{
    ApplyRefused, Brand, ListingSizes, Run, SheetKind, SheetRequest, SheetRun,
};
use qualtrics_roster::sheet::table::{cells, Table};
use serde_json::json;

use super::alerts::Alerts;
use super::config::HooksConfig;
use super::metrics::Metrics;
use super::store::{Attempt, DueEvent, Ending, Store, ATTEMPTS_KEPT};
use roster_native::client::{unix_millis, Control};
use roster_native::files::AppendFile;
use roster_native::session::Session;

/// Events applied in one run at most.
const BATCH: usize = 1000;
/// A burst is over when no event came for this long…
const GATHER_QUIET_MS: u64 = 150;
/// …or this long after it began.
const GATHER_MAX_MS: u64 = 3000;
/// How often events past their retention are deleted (and once at start).
const PURGE_EVERY_MS: u64 = 3600 * 1000;

/// What the worker shares with the endpoints besides the store.
#[derive(Clone)]
pub struct Shared {
    /// Counters for `GET /metrics`.
    pub metrics: Arc<Metrics>,
    /// Where alerts go.
    pub alerts: Arc<Alerts>,
    /// Set once the worker's first connection attempt has ended (connected or not), so the
    /// events' view waits for it rather than logging in with the same credential at the same
    /// time (one OAuth token request, not two, when a server starts).
    pub first_connect: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Runs the worker, and starts it again if it ever panics (the endpoint would otherwise keep
/// accepting events that nothing applies).
/// `brand` is set to the brand of the server's credential once the worker has connected.
pub async fn supervise(
    store: Arc<Store>,
    config: HooksConfig,
    wake: Arc<tokio::sync::Notify>,
    brand: Arc<std::sync::OnceLock<String>>,
    shared: Shared,
) {
    loop {
        let mut worker = Worker::new(store.clone(), config.clone(), wake.clone());
        worker.brand = brand.clone();
        worker.shared = Some(shared.clone());
        match tokio::spawn(worker.run()).await {
            Ok(()) => return,
            Err(e) => {
                eprintln!("hooks: the worker stopped ({e}): starting it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The background task that applies events.
pub struct Worker {
    pub(super) store: Arc<Store>,
    pub(super) config: HooksConfig,
    pub(super) wake: Arc<tokio::sync::Notify>,
    session: Option<Session>,
    audit: Option<AppendFile>,
    /// The brand of the server's credential, set once connected (the events' view checks
    /// page tokens against it without logging in itself).
    brand: Arc<std::sync::OnceLock<String>>,
    /// Metrics and alerts (none: neither is kept).
    shared: Option<Shared>,
    /// When events past their retention were last deleted.
    purged_at: Option<u64>,
    /// How many pages the brand's listings took when a burst last read them: a later burst of
    /// a few accounts looks them up one by one when that sends fewer requests.
    listing_sizes: ListingSizes,
}

impl Worker {
    /// A worker over `store` with `config`; `wake` is notified when an event arrives.
    pub fn new(store: Arc<Store>, config: HooksConfig, wake: Arc<tokio::sync::Notify>) -> Worker {
        let audit = AppendFile::open(&config.store.audit)
            .map_err(|e| eprintln!("hooks: {e}: requests are not audited"))
            .ok();
        Worker {
            store,
            config,
            wake,
            session: None,
            audit,
            brand: Arc::default(),
            shared: None,
            purged_at: None,
            listing_sizes: ListingSizes::default(),
        }
    }

    /// Deletes events past the configured retention, at most once per [`PURGE_EVERY_MS`].
    fn purge(&mut self, now: u64) {
        if self
            .purged_at
            .is_some_and(|at| now.saturating_sub(at) < PURGE_EVERY_MS)
        {
            return;
        }
        self.purged_at = Some(now);
        let keep_ms = u64::from(self.config.store.retention_days) * 86_400_000;
        match self.store.purge(now.saturating_sub(keep_ms)) {
            Ok((0, _)) => {}
            Ok((deleted, unfinished)) => {
                let note = if unfinished > 0 {
                    format!(", {unfinished} of them never applied (paused, held or still failing)")
                } else {
                    String::new()
                };
                eprintln!(
                    "hooks: {deleted} events older than {} days deleted with their data{note}",
                    self.config.store.retention_days
                );
            }
            Err(e) => eprintln!("hooks: events past their retention not deleted: {e}"),
        }
    }

    /// Records how events of `hook` ended (see [`Store::end`]), with the attempts `log` kept
    /// for `events` during their try (written once, before the end gives up their claims),
    /// counts them, and raises the alerts they call for: parked events, and a run that ended
    /// partly failed.
    fn finish(
        &self,
        hook: &str,
        events: &[DueEvent],
        log: &TryLog,
        endings: &[(i64, Ending)],
    ) -> Result<(), super::store::StoreError> {
        if let Err(e) = self.store.add_attempts(&log.attempts(events)) {
            eprintln!("hooks: the events' attempts not kept: {e}");
        }
        self.store.end(endings)?;
        let done = endings
            .iter()
            .filter(|(_, e)| matches!(e, Ending::Done(_)))
            .count();
        let failed: Vec<i64> = endings
            .iter()
            .filter(|(_, e)| !matches!(e, Ending::Done(_)))
            .map(|(id, _)| *id)
            .collect();
        let parked: Vec<i64> = endings
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    Ending::Failed { retry_at: None, .. } | Ending::Refused { .. }
                )
            })
            .map(|(id, _)| *id)
            .collect();
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        shared.metrics.applied(done as u64);
        shared.metrics.parked(parked.len() as u64);
        if !parked.is_empty() {
            shared.alerts.raise(
                "event.parked",
                &format!(
                    "hook {hook}: {} event(s) parked, no retry left: {:?} (GET /hooks/v1/events/{{id}} says why)",
                    parked.len(),
                    parked
                ),
                json!({"hook": hook, "events": parked, "count": parked.len()}),
            );
        }
        if done > 0 && !failed.is_empty() {
            shared.alerts.raise(
                "run.partly_failed",
                &format!(
                    "hook {hook}: a run applied {done} event(s) and {} failed: {:?}",
                    failed.len(),
                    failed
                ),
                json!({"hook": hook, "done": done, "failed": failed.len(), "events": failed}),
            );
        }
        Ok(())
    }

    /// Runs forever: applies due events, then sleeps until an event arrives or a retry is
    /// due (at most a second).
    pub async fn run(mut self) {
        // Connected before the first event, so a burst does not wait for it.
        match self.connect().await {
            Ok(session) => self.session = Some(session),
            Err(why) => eprintln!("hooks: {why} (tried again with the first event)"),
        }
        if let Some(shared) = &self.shared {
            shared.first_connect.send_replace(true);
        }
        loop {
            self.purge(unix_millis());
            let due = match self.store.due(unix_millis(), BATCH) {
                Ok(due) => due,
                Err(e) => {
                    eprintln!("hooks: {e}");
                    Vec::new()
                }
            };
            if due.is_empty() {
                if tokio::time::timeout(Duration::from_secs(1), self.wake.notified())
                    .await
                    .is_ok()
                {
                    self.gather().await;
                }
                continue;
            }
            if let Err(e) = self.apply(due).await {
                eprintln!("hooks: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// A burst arrives as many events within moments: waits until none has come for
    /// [`GATHER_QUIET_MS`] (at most [`GATHER_MAX_MS`]), so the burst is one run (one reading of
    /// the brand) rather than a run per event.
    async fn gather(&self) {
        let until = tokio::time::Instant::now() + Duration::from_millis(GATHER_MAX_MS);
        while tokio::time::Instant::now() < until {
            let quiet = Duration::from_millis(GATHER_QUIET_MS);
            if tokio::time::timeout(quiet, self.wake.notified())
                .await
                .is_err()
            {
                break;
            }
        }
    }

    /// Applies one batch of due events: lifecycle rows and provisioning rows, each as a sheet.
    async fn apply(&mut self, due: Vec<DueEvent>) -> Result<(), super::store::StoreError> {
        let ids: Vec<i64> = due.iter().map(|e| e.id).collect();
        self.store.mark_planned(&ids)?;
        let session = match self.connect().await {
            Ok(session) => session,
            Err(why) => {
                let mut by_hook: BTreeMap<String, Vec<DueEvent>> = BTreeMap::new();
                for event in due {
                    by_hook.entry(event.hook.clone()).or_default().push(event);
                }
                for (hook, events) in by_hook {
                    let mut log = TryLog::default();
                    let endings = self.all_failed(&events, &why, &mut log);
                    self.finish(&hook, &events, &log, &endings)?;
                }
                return Ok(());
            }
        };
        // One sheet per hook and kind: a hook's columns (and their problems) are its own. A
        // released burst is a sheet of its own too: the administrator's release confirms its
        // events, not others that came since.
        let mut sheets: BTreeMap<(String, bool, Option<i64>), Vec<DueEvent>> = BTreeMap::new();
        for event in due {
            let key = (
                event.hook.clone(),
                event.row.action.is_lifecycle(),
                event.released,
            );
            sheets.entry(key).or_default().push(event);
        }
        for ((hook, lifecycle, released), events) in sheets {
            let kind = if lifecycle {
                SheetKind::Lifecycle
            } else {
                SheetKind::Provision
            };
            self.apply_sheet(&session, &hook, kind, released.is_some(), &events)
                .await?;
        }
        self.session = Some(session);
        Ok(())
    }

    /// The connection, made once and kept (its OAuth token renewed as it expires).
    async fn connect(&mut self) -> Result<Session, String> {
        if let Some(session) = self.session.take() {
            return Ok(session);
        }
        let mut session = Session::open(&self.config.qualtrics.target())
            .await
            .map_err(|e| format!("could not connect to Qualtrics: {e}"))?;
        if let Some(audit) = &mut self.audit {
            audit.append(&audit_jsonl(&session.audit));
        }
        session.audit.clear();
        if let Some(brand) = &session.who.brand_id {
            let _ = self.brand.set(brand.clone());
        }
        Ok(session)
    }

    /// Plans `events` (of `hook`) as one `kind` sheet against the brand under the policy,
    /// applies exactly that plan, and ends each event with its row's outcome. Hooks never
    /// change Brand Administrators nor the credential's own account (those rows end parked
    /// with the policy's reason), and never pass the mass-change brake by themselves: a plan
    /// it holds is quarantined, nothing sent, until an administrator releases the burst
    /// (`released`: applied with that confirmation) or discards it.
    async fn apply_sheet(
        &mut self,
        session: &Session,
        hook: &str,
        kind: SheetKind,
        released: bool,
        events: &[DueEvent],
    ) -> Result<(), super::store::StoreError> {
        let table = sheet_of(kind, events);
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let journal = self
            .store
            .journal(&ids)?
            .into_iter()
            .map(|(_, entry)| entry)
            .collect();
        let mut request = hook_request(&table, journal);
        request.listing_sizes = self.listing_sizes;
        // Applied at once, nobody reading the plan first: the directory may be read once,
        // after the accounts (a new hire's account does not wait for the whole directory).
        request.unattended = true;
        // The attempts of this try, written once when it ends.
        let mut log = TryLog::default();
        let brand = match server_brand(session).await {
            Ok(brand) => brand,
            Err(why) => {
                let endings = self.all_failed(events, &why, &mut log);
                return self.finish(hook, events, &log, &endings);
            }
        };
        let mut run = SheetRun::start(
            kind,
            table,
            request,
            RoleSheet::default(),
            brand,
            ExecConfig::default().scaled(self.config.qualtrics.rate_limit_scale.max(1.0)),
            unix_millis(),
        );
        self.drive(session, &mut run, events, &mut log).await?;
        self.listing_sizes = self.listing_sizes.merged(run.listing_sizes());
        if let Some(why) = run.failure().map(str::to_string) {
            let endings = self.all_failed(events, &why, &mut log);
            return self.finish(hook, events, &log, &endings);
        }
        let file_errors: Vec<String> = run.file_errors().into_iter().map(|p| p.message).collect();
        if !file_errors.is_empty() {
            // The sheet itself cannot be planned (a mapping naming no usable column): no try
            // will do better, so every event is parked with the reason.
            let parked = Ending::Refused {
                reason: file_errors.join(" "),
                outcome: None,
            };
            let endings: Vec<_> = events.iter().map(|e| (e.id, parked.clone())).collect();
            return self.finish(hook, events, &log, &endings);
        }
        // Each event's row of the plan, for its details in the Automations view.
        self.store
            .set_plans(&plan_rows(&run.plan_table(), events))?;
        if run.changes() > 0 {
            let approval = if released {
                Approval {
                    confirmation: Confirmation::Released,
                    ..Approval::hooks()
                }
            } else {
                Approval::hooks()
            };
            match run.apply(None, &approval, unix_millis()) {
                Ok(()) => {}
                Err(ApplyRefused::NeedsConfirmation(why)) => {
                    if let Err(e) = self.store.add_attempts(&log.attempts(events)) {
                        eprintln!("hooks: the events' attempts not kept: {e}");
                    }
                    let reason = format!("{why} Held (quarantined) with the {} events of its burst until an administrator releases or discards it (Automations).", ids.len());
                    let burst = self.store.quarantine(&ids, &reason)?;
                    eprintln!(
                        "hooks: {hook}: a burst of {} events quarantined, nothing sent ({why}): release or discard it with POST /hooks/v1/events/{burst}/release or /discard",
                        ids.len()
                    );
                    if let Some(shared) = &self.shared {
                        shared.alerts.raise(
                            "burst.quarantined",
                            &format!("hook {hook}: burst {burst} of {} events held by the mass-change brake", ids.len()),
                            json!({"hook": hook, "burst": burst, "count": ids.len(), "events": ids}),
                        );
                    }
                    return Ok(());
                }
                Err(e) => {
                    let endings = self.all_failed(events, &e.to_string(), &mut log);
                    return self.finish(hook, events, &log, &endings);
                }
            }
            self.drive(session, &mut run, events, &mut log).await?;
        }
        let columns = run.outcome_columns();
        let outcomes: HashMap<u32, _> = run.outcomes().into_iter().map(|o| (o.row, o)).collect();
        // Rows refused by the plan: the event cannot succeed as sent; park it with the reason.
        let mut refused: HashMap<u32, String> = HashMap::new();
        for p in run.problems(false).into_iter().filter(|p| p.refuses()) {
            // The row is the batch's, meaningless to the sender.
            let why = p.without_row().to_string();
            refused
                .entry(p.row)
                .and_modify(|all| {
                    all.push(' ');
                    all.push_str(&why);
                })
                .or_insert(why);
        }
        let mut endings = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            let row = i as u32 + 2;
            let outcome = outcomes.get(&row);
            let shown = outcome.map(|o| {
                let values: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .cloned()
                    .zip(o.values().into_iter().map(serde_json::Value::from))
                    .collect();
                json!({"status": o.status.as_str(), "message": o.message, "columns": values})
            });
            let ending = if let Some(why) = refused.get(&row) {
                Ending::Refused {
                    reason: why.clone(),
                    outcome: shown,
                }
            } else {
                match (outcome.map(|o| o.status), shown) {
                    (Some(OutcomeStatus::Done | OutcomeStatus::Unchanged), Some(shown)) => {
                        Ending::Done(shown)
                    }
                    // The policy refused the row (a Brand Administrator, the credential's own
                    // account): no try will do better; parked at once with the reason.
                    (Some(OutcomeStatus::Refused), shown) => Ending::Refused {
                        reason: outcome.map(|o| o.message.clone()).unwrap_or_default(),
                        outcome: shown,
                    },
                    // Qualtrics refused the change as sent (a 400 for a value it does not take,
                    // a 403 to an API token, a 404), or the row was never sent because the sheet
                    // was wrong: the core says no try would do better. Parked at once, its
                    // message saying what to fix. Anything passing or run-wide (no answer, a
                    // timeout, 408, 429, 5xx, the credential refused, an outage) is retried.
                    (Some(OutcomeStatus::Failed), shown)
                        if outcome.is_some_and(|o| !o.retryable) =>
                    {
                        Ending::Refused {
                            reason: outcome.map(|o| o.message.clone()).unwrap_or_default(),
                            outcome: shown,
                        }
                    }
                    (_, shown) => {
                        let why = outcome.map_or_else(
                            || "the run ended without an outcome for this row".to_string(),
                            |o| o.message.clone(),
                        );
                        self.failed(event, why, shown)
                    }
                }
            };
            endings.push((event.id, ending));
        }
        self.finish(hook, events, &log, &endings)
    }

    /// Drives `run` to its stage's end, keeping journal entries per event and appending the
    /// audit of each batch of answers as it comes (a kill loses none already sent); the
    /// events' attempts go to `log`, written when the try ends.
    async fn drive(
        &mut self,
        session: &Session,
        run: &mut SheetRun,
        events: &[DueEvent],
        log: &mut TryLog,
    ) -> Result<(), super::store::StoreError> {
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let ids = ids.as_slice();
        let store = self.store.clone();
        let audit = &mut self.audit;
        let metrics = self.shared.as_ref().map(|s| s.metrics.clone());
        let mut audited = run.audit().len();
        let mut failed = None;
        session
            .transport
            .drive(run, session.tokens.as_ref(), |run, progress| {
                let entries = run.audit();
                let new = &entries[audited.min(entries.len())..];
                if let Some(m) = &metrics {
                    for entry in new {
                        m.answer(entry.status);
                    }
                }
                if let Some(file) = audit.as_mut() {
                    file.append(&audit_jsonl(new));
                }
                log.note(new, events.len());
                audited = entries.len();
                if let Some(p) = progress {
                    let mut by_event: HashMap<i64, Vec<_>> = HashMap::new();
                    for entry in p.journal {
                        let row: Option<usize> =
                            entry.key.strip_prefix("row:").and_then(|n| n.parse().ok());
                        if let Some(id) =
                            row.and_then(|r| r.checked_sub(2)).and_then(|i| ids.get(i))
                        {
                            by_event.entry(*id).or_default().push(entry);
                        }
                    }
                    for (id, entries) in by_event {
                        if let Err(e) = store.add_journal(id, &entries) {
                            failed = Some(e);
                        }
                    }
                }
                // Another server may take these events once this one's claims run out: nothing
                // more is sent, and they are left as they are (not ended) for whoever has them.
                if !store.claims_held() {
                    failed = Some(super::store::StoreError::ClaimsLost);
                    return Control::Cancel;
                }
                Control::Continue
            })
            .await;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `event` failed with `why`: tried again after a pause that doubles with each try, or
    /// parked once the configured tries are spent.
    fn failed(&self, event: &DueEvent, why: String, outcome: Option<serde_json::Value>) -> Ending {
        let retry_at = self
            .config
            .retry
            .delay_after(event.attempts + 1)
            .map(|ms| unix_millis() + ms);
        Ending::Failed {
            reason: why,
            outcome,
            retry_at,
        }
    }

    /// Every one of `events` failed with `why` (see [`Worker::failed`]); `log` notes the
    /// try's end for each event's details (nothing more was sent for it).
    fn all_failed(&self, events: &[DueEvent], why: &str, log: &mut TryLog) -> Vec<(i64, Ending)> {
        log.ended = Some((
            qualtrics_roster::time::iso_datetime(unix_millis()),
            why.to_string(),
        ));
        events
            .iter()
            .map(|e| (e.id, self.failed(e, why.to_string(), None)))
            .collect()
    }
}

/// The sheet row (2 for the first event) an audit or journal key `row:N` names.
fn row_of(key: &str) -> Option<u32> {
    key.strip_prefix("row:").and_then(|n| n.parse().ok())
}

/// The attempts of one try of a sheet's events, kept in memory as the answers come and
/// written once when the try ends ([`TryLog::attempts`]): each event's own requests (its
/// latest [`ATTEMPTS_KEPT`]), and a failed request for no row (reading the brand, which none
/// of them could go on without) once per event, however often it was sent again and however
/// many events the sheet has.
#[derive(Debug, Default)]
struct TryLog {
    /// Each event's own requests, by its index in the sheet, the latest [`ATTEMPTS_KEPT`].
    own: HashMap<usize, VecDeque<AuditEntry>>,
    /// The last failed request for no row, and how many failed.
    brand_wide: Option<(AuditEntry, u32)>,
    /// When and why the try ended for every event at once (nothing more was sent).
    ended: Option<(String, String)>,
}

impl TryLog {
    /// Takes a batch of the run's audit, for a sheet of `events` rows.
    fn note(&mut self, entries: &[AuditEntry], events: usize) {
        for entry in entries {
            match row_of(&entry.row) {
                Some(row) => {
                    let Some(index) = (row as usize).checked_sub(2).filter(|i| *i < events) else {
                        continue;
                    };
                    let own = self.own.entry(index).or_default();
                    if own.len() == ATTEMPTS_KEPT {
                        own.pop_front();
                    }
                    own.push_back(entry.clone());
                }
                None if entry.status.is_none_or(|s| s >= 400) => {
                    let failed = self.brand_wide.as_ref().map_or(0, |(_, n)| *n) + 1;
                    self.brand_wide = Some((entry.clone(), failed));
                }
                None => {}
            }
        }
    }

    /// Each of `events`' attempts this try: its own requests, then the brand-wide failure
    /// (once, saying how many reads failed), else why the try ended. The path only: never a
    /// query.
    fn attempts(&self, events: &[DueEvent]) -> Vec<(i64, Attempt)> {
        let of = |entry: &AuditEntry, event: &DueEvent, message: Option<String>| Attempt {
            at: entry.time.clone(),
            request: format!(
                "{} {}",
                entry.method,
                entry.path.split('?').next().unwrap_or_default()
            ),
            status: entry.status,
            message,
            tried: event.tries + 1,
            attempt: entry.attempt,
        };
        let mut out = Vec::new();
        for (index, event) in events.iter().enumerate() {
            for entry in self.own.get(&index).into_iter().flatten() {
                out.push((event.id, of(entry, event, entry.error.clone())));
            }
            if let Some((entry, failed)) = &self.brand_wide {
                let message = match (&entry.error, *failed) {
                    (Some(e), n) if n > 1 => Some(format!(
                        "{e} (the last of {n} failed requests reading the brand)"
                    )),
                    (None, n) if n > 1 => {
                        Some(format!("the last of {n} failed requests reading the brand"))
                    }
                    (e, _) => e.clone(),
                };
                out.push((event.id, of(entry, event, message)));
            } else if let Some((at, why)) = &self.ended {
                out.push((
                    event.id,
                    Attempt {
                        at: at.clone(),
                        request: String::new(),
                        status: None,
                        message: Some(why.clone()),
                        tried: event.tries + 1,
                        attempt: 1,
                    },
                ));
            }
        }
        out
    }
}

/// Each event's row of `plan` (a plan sheet, whose `Row` column is the sheet row: 2 for the
/// first event), as column -> cell.
fn plan_rows(plan: &Table, events: &[DueEvent]) -> Vec<(i64, serde_json::Value)> {
    let Some(at) = plan.columns.iter().position(|c| c == "Row") else {
        return Vec::new();
    };
    let mut out: Vec<(i64, serde_json::Value)> = Vec::new();
    for cells in &plan.rows {
        let Some(row) = cells.get(at).and_then(|c| c.as_str().parse::<usize>().ok()) else {
            continue;
        };
        let Some(event) = row.checked_sub(2).and_then(|i| events.get(i)) else {
            continue;
        };
        if out.iter().any(|(id, _)| *id == event.id) {
            continue;
        }
        let shown: serde_json::Map<String, serde_json::Value> = plan
            .columns
            .iter()
            .zip(cells)
            .filter(|(c, _)| c.as_str() != "Row")
            .map(|(c, v)| (c.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        out.push((event.id, serde_json::Value::Object(shown)));
    }
    out
}

/// Plans `rows` (of one hook, all of `kind`) against the brand with `session`, sending only
/// reads, and returns the run at its plan (nothing applied): what `POST /hooks/v1/{hook}/test`
/// shows.
pub(super) async fn plan_only(
    session: &Session,
    kind: SheetKind,
    rows: &[super::mapping::HookRow],
    rate_limit_scale: f64,
) -> Result<SheetRun, String> {
    let events: Vec<DueEvent> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| DueEvent {
            id: i as i64,
            hook: String::new(),
            row: row.clone(),
            attempts: 0,
            tries: 0,
            released: None,
        })
        .collect();
    let table = sheet_of(kind, &events);
    let request = hook_request(&table, Vec::new());
    let brand = server_brand(session).await?;
    let mut run = SheetRun::start(
        kind,
        table,
        request,
        RoleSheet::default(),
        brand,
        ExecConfig::default().scaled(rate_limit_scale.max(1.0)),
        unix_millis(),
    );
    session
        .transport
        .drive(&mut run, session.tokens.as_ref(), |_, _| Control::Continue)
        .await;
    if let Some(why) = run.failure() {
        return Err(why.to_string());
    }
    Ok(run)
}

/// The sheet of `events`' rows: every column any of them has (Username first), one row per
/// event in order. On a provisioning sheet, a row without a password gets a random one (used
/// only if the account is new: single sign-on brands never use it; elsewhere the person sets
/// their own with Forgot password).
fn sheet_of(kind: SheetKind, events: &[DueEvent]) -> Table {
    let mut columns: BTreeSet<&str> = events
        .iter()
        .flat_map(|e| e.row.cells.keys().map(String::as_str))
        .collect();
    columns.remove("Username");
    let provision = kind == SheetKind::Provision;
    let password = columns
        .iter()
        .find(|c| qualtrics_roster::provision::is_password_column(c))
        .map(|c| c.to_string())
        .or(provision.then(|| "Password".to_string()));
    if let Some(p) = &password {
        columns.remove(p.as_str());
    }
    let names: Vec<String> = std::iter::once("Username".to_string())
        .chain(columns.iter().map(|c| c.to_string()))
        .chain(password.clone())
        .collect();
    let rows = events
        .iter()
        .map(|e| {
            let row: Vec<String> = names
                .iter()
                .map(|c| {
                    let cell = e.row.cells.get(c).cloned().unwrap_or_default();
                    if provision && cell.is_empty() && password.as_deref() == Some(c.as_str()) {
                        random_password()
                    } else {
                        cell
                    }
                })
                .collect();
            cells(row)
        })
        .collect();
    Table {
        columns: names,
        rows,
        row_numbers: Vec::new(),
        lines: Vec::new(),
    }
}

/// 24 random characters with each class Qualtrics' password rules may ask for.
fn random_password() -> String {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 18];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator works");
    format!(
        "{}aA1-",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The options a hook's rows are planned with, applied or only tried: every column of a hook's
/// sheet was named by its configuration (fields, attributes, its Roles sheet's rules), so the
/// configuration is the allowance for new attributes.
fn hook_request(table: &Table, journal: Vec<JournalEntry>) -> SheetRequest {
    SheetRequest {
        journal,
        new_attributes: table.columns.clone(),
        ..SheetRequest::default()
    }
}

/// The brand as the server's own credential reaches it (an OAuth token fetched or renewed
/// first), judged by the default policy: the brake's thresholds are the default ones (25
/// accounts and 10 %); that hooks never change Brand Administrators nor pass the brake by
/// themselves is in the approval (Approval::hooks(): no admin changes, no confirmation but a
/// release).
async fn server_brand(session: &Session) -> Result<Brand, String> {
    let conn = match &session.tokens {
        Some(source) => session.conn.with_auth(
            source
                .current(&session.transport)
                .await
                .map_err(|e| format!("the OAuth client was refused: {e}"))?,
        ),
        None => session.conn.clone(),
    };
    let actor = Actor::from_whoami(&session.who);
    Ok(Brand::online(conn, session.tokens.is_some(), actor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::mapping::{HookAction, HookRow};

    fn event(id: i64, tries: u32) -> DueEvent {
        DueEvent {
            id,
            hook: "h".into(),
            row: HookRow {
                username: format!("u{id}"),
                action: HookAction::Create,
                cells: Default::default(),
            },
            attempts: 0,
            tries,
            released: None,
        }
    }

    fn entry(row: &str, path: &str, status: Option<u16>, attempt: u32) -> AuditEntry {
        AuditEntry {
            time: "2026-12-07T10:00:00Z".into(),
            method: "GET".into(),
            path: path.into(),
            status,
            error: status.is_none().then(|| "connection reset".to_string()),
            duration_ms: 5,
            row: row.into(),
            attempt,
        }
    }

    #[test]
    fn a_rows_requests_are_its_events_and_a_failed_read_is_every_events_once_without_its_query() {
        let events = [event(7, 0), event(9, 2)];
        let entries = [
            entry("users", "/API/v3/users?username=ann%40x.org", Some(200), 1),
            entry("users", "/API/v3/users?username=ann%40x.org", Some(503), 1),
            entry("users", "/API/v3/users?offset=100", None, 2),
            entry("row:3", "/API/v3/users/UR_1", Some(400), 1),
            entry("row:9", "/API/v3/users/UR_2", Some(200), 1),
        ];
        let mut log = TryLog::default();
        // As the answers come, in two batches (two progress callbacks).
        log.note(&entries[..2], events.len());
        log.note(&entries[2..], events.len());
        let found = log.attempts(&events);
        let of = |id: i64| -> Vec<&Attempt> {
            found
                .iter()
                .filter(|(e, _)| *e == id)
                .map(|(_, a)| a)
                .collect()
        };
        // The successful read is no one's; the failed ones are one attempt of each event's,
        // the last, saying how many failed.
        assert_eq!(of(7).len(), 1);
        assert_eq!(of(9).len(), 2);
        assert!(found.iter().all(|(_, a)| !a.request.contains('?')));
        assert_eq!(of(7)[0].request, "GET /API/v3/users");
        assert_eq!(
            of(7)[0].message.as_deref(),
            Some("connection reset (the last of 2 failed requests reading the brand)")
        );
        let own = of(9)[0];
        assert_eq!(
            (own.request.as_str(), own.status, own.tried),
            ("GET /API/v3/users/UR_1", Some(400), 3)
        );
    }

    #[test]
    fn an_outage_is_one_attempt_per_event_however_many_reads_and_rows_there_are() {
        let events: Vec<DueEvent> = (0..1000).map(|i| event(i, 0)).collect();
        let mut log = TryLog::default();
        for attempt in 1..=6 {
            log.note(
                &[entry("users", "/API/v3/users?offset=0", None, attempt)],
                events.len(),
            );
        }
        log.ended = Some(("t".into(), "could not list the users".into()));
        let found = log.attempts(&events);
        assert_eq!(found.len(), 1000, "one per event, not 6,000");
        assert!(found.iter().all(|(_, a)| a.attempt == 6));
    }

    #[test]
    fn a_try_that_ended_before_sending_anything_notes_why_once_per_event() {
        let events = [event(1, 0), event(2, 4)];
        let log = TryLog {
            ended: Some(("2026-12-07T10:00:00Z".into(), "no connection".into())),
            ..TryLog::default()
        };
        let found = log.attempts(&events);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].1.tried, 5);
        assert_eq!(found[1].1.message.as_deref(), Some("no connection"));
        assert!(found[1].1.request.is_empty());
    }

    #[test]
    fn an_event_keeps_its_latest_attempts_only_in_memory_too() {
        let events = [event(1, 0)];
        let mut log = TryLog::default();
        for attempt in 1..=(ATTEMPTS_KEPT as u32 + 5) {
            log.note(
                &[entry("row:2", "/API/v3/users/UR_1", Some(503), attempt)],
                1,
            );
        }
        let found = log.attempts(&events);
        assert_eq!(found.len(), ATTEMPTS_KEPT);
        assert_eq!(found[0].1.attempt, 6);
    }
}
