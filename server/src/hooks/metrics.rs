//! `GET /metrics` in Prometheus' text format: counters kept since the server started (events
//! accepted, applied, parked, skipped; Qualtrics' answers by status) and gauges read from the
//! store (events by status, pending, the age of the oldest pending). Counts and ages only: no
//! name, address, id or reason ever appears in them.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::store::Counts;

/// The counters, shared by the endpoint and the worker.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    applied: AtomicU64,
    parked: AtomicU64,
    skipped: AtomicU64,
    alerts_failed: AtomicU64,
    /// Qualtrics' answers by HTTP status (`"none"`: no answer, a transport failure).
    answers: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// `n` new events were accepted (repeats are not counted).
    pub fn accepted(&self, n: u64) {
        self.accepted.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` events were applied (done, or already as asked).
    pub fn applied(&self, n: u64) {
        self.applied.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` events were parked (failed with no retry left).
    pub fn parked(&self, n: u64) {
        self.parked.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` new events were skipped by their hook's conditions.
    pub fn skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }

    /// An alert was given up after its last try.
    pub fn alert_failed(&self) {
        self.alerts_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Qualtrics answered with `status` (`None`: no answer).
    pub fn answer(&self, status: Option<u16>) {
        let key = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        *self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
    }

    /// The text Prometheus scrapes, with the store's `counts` at `now` (milliseconds).
    #[must_use]
    pub fn render(&self, counts: &Counts, now: u64) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        };
        counter(
            "roster_hooks_events_accepted_total",
            "Events accepted since the server started (repeats not counted).",
            self.accepted.load(Ordering::Relaxed),
        );
        counter(
            "roster_hooks_events_applied_total",
            "Events applied since the server started.",
            self.applied.load(Ordering::Relaxed),
        );
        counter(
            "roster_hooks_events_parked_total",
            "Events parked (failed, no retry left) since the server started.",
            self.parked.load(Ordering::Relaxed),
        );
        counter(
            "roster_hooks_events_skipped_total",
            "Events left out by their hook's conditions since the server started.",
            self.skipped.load(Ordering::Relaxed),
        );
        counter(
            "roster_hooks_alerts_failed_total",
            "Alerts given up after their last try since the server started.",
            self.alerts_failed.load(Ordering::Relaxed),
        );
        out.push_str("# HELP roster_hooks_qualtrics_responses_total Qualtrics' answers to hook runs by HTTP status (none: no answer).\n# TYPE roster_hooks_qualtrics_responses_total counter\n");
        for (status, n) in self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "roster_hooks_qualtrics_responses_total{{status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP roster_hooks_events Events kept in the store, by status.\n# TYPE roster_hooks_events gauge\n");
        for (status, n) in &counts.by_status {
            // Statuses are the store's own words; anything else is not printed.
            if status.chars().all(|c| c.is_ascii_lowercase()) {
                let _ = writeln!(out, "roster_hooks_events{{status=\"{status}\"}} {n}");
            }
        }
        let _ = write!(
            out,
            "# HELP roster_hooks_events_pending Events waiting to be applied.\n# TYPE roster_hooks_events_pending gauge\nroster_hooks_events_pending {}\n",
            counts.pending
        );
        let age = counts
            .oldest_pending
            .map_or(0.0, |at| now.saturating_sub(at) as f64 / 1000.0);
        let _ = write!(
            out,
            "# HELP roster_hooks_oldest_pending_age_seconds Age of the oldest event waiting to be applied (0: none).\n# TYPE roster_hooks_oldest_pending_age_seconds gauge\nroster_hooks_oldest_pending_age_seconds {age:.3}\n"
        );
        out
    }
}
