//! Alerts: when an event is parked, a burst is quarantined, or a run ends partly failed, one
//! log line, and (with `[alerts]` configured) a JSON message signed as Standard Webhooks sign
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature` with the configured secret) posted
//! to the configured URL, tried again with a doubling pause until it is answered 2xx or its
//! tries are spent. Alerts name hooks, event ids and counts, never a person: the receiver
//! looks the events up with an administrator's token. Alerts not yet delivered when the
//! server stops are lost (the log line stays).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::config::AlertsConfig;
use super::metrics::Metrics;

/// Alerts being delivered at most; more are logged and dropped (a flood of alerts must not
/// grow the server's memory).
const MAX_IN_FLIGHT: u64 = 200;

/// Where alerts go.
pub struct Alerts {
    config: Option<AlertsConfig>,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
    in_flight: Arc<AtomicU64>,
    next: AtomicU64,
}

impl Alerts {
    /// Alerts to `config`'s URL (none: log lines only).
    #[must_use]
    pub fn new(config: Option<AlertsConfig>, metrics: Arc<Metrics>) -> Alerts {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Alerts {
            config,
            client,
            metrics,
            in_flight: Arc::default(),
            next: AtomicU64::new(0),
        }
    }

    /// Raises alert `kind` (`event.parked`, `burst.quarantined`, `run.partly_failed`): `line`
    /// is logged at once; `data` (ids and counts only) is delivered in the background.
    pub fn raise(&self, kind: &str, line: &str, data: Value) {
        eprintln!("hooks: alert {kind}: {line}");
        let Some(config) = self.config.clone() else {
            return;
        };
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            eprintln!(
                "hooks: alert {kind} not delivered: {MAX_IN_FLIGHT} alerts are still being tried"
            );
            self.metrics.alert_failed();
            return;
        }
        let now = roster_native::client::unix_millis();
        let id = format!("alert_{now}_{}", self.next.fetch_add(1, Ordering::Relaxed));
        let body = json!({
            "type": kind,
            "timestamp": qualtrics_roster::time::iso_datetime(now),
            "data": data,
        })
        .to_string();
        let client = self.client.clone();
        let metrics = self.metrics.clone();
        let in_flight = self.in_flight.clone();
        let kind = kind.to_string();
        tokio::spawn(async move {
            let delivered = deliver(&client, &config, &id, &body).await;
            if let Err(why) = delivered {
                eprintln!(
                    "hooks: alert {kind} ({id}) not delivered after {} tries: {why}",
                    config.attempts.max(1)
                );
                metrics.alert_failed();
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Posts `body` until answered 2xx, at most `attempts` times, the pause doubling (capped at
/// five minutes). Signed anew on each try (its timestamp is the try's).
async fn deliver(
    client: &reqwest::Client,
    config: &AlertsConfig,
    id: &str,
    body: &str,
) -> Result<(), String> {
    let mut delay = config.first_delay_seconds.max(0.01);
    let mut last = String::new();
    for attempt in 1..=config.attempts.max(1) {
        let now = roster_native::client::unix_millis() / 1000;
        let signature = super::verify::sign(&config.secret, id, now, body.as_bytes());
        let sent = client
            .post(&config.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("answered {}", r.status().as_u16()),
            Err(e) => last = format!("not reached ({e})"),
        }
        if attempt < config.attempts.max(1) {
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
            delay = (delay * 2.0).min(300.0);
        }
    }
    Err(last)
}
