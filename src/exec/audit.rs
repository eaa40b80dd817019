//! The audit trail: one entry per request sent, with its answer's status and error, never a
//! header (so never a token).

use serde::Serialize;

use crate::api::envelope;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::sheet::table::{cells, Table};
use crate::time::{iso_datetime, UnixMillis};

use super::TransportFailure;

/// One line of the audit log. Never holds a header, so never a token.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// When the request was sent (ISO 8601, UTC).
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// URL path and query.
    pub path: String,
    /// HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Qualtrics' error code or message, or the transport failure.
    pub error: Option<String>,
    /// Milliseconds from sending to the answer.
    pub duration_ms: u64,
    /// The row's identity.
    pub row: String,
    /// 1 for the first try of this request, 2 for its first retry, …
    pub attempt: u32,
}

impl AuditEntry {
    /// The entry for a request sent outside a run (a `whoami`, a token request), at `sent_at`,
    /// answered (or failed) at `now`, for `row` (what it was for, e.g. `connect`).
    pub fn outside_run(
        request: &HttpRequest,
        sent_at: UnixMillis,
        now: UnixMillis,
        answer: &Result<HttpResponse, TransportFailure>,
        row: &str,
    ) -> AuditEntry {
        let (status, error) = match answer {
            Ok(r) => (
                Some(r.status),
                envelope::parse(r).err().as_ref().map(error_summary),
            ),
            Err(TransportFailure { why, .. }) => (None, Some(why.clone())),
        };
        AuditEntry {
            time: iso_datetime(sent_at),
            method: request.method.to_string(),
            path: path_of(&request.url),
            status,
            error,
            duration_ms: now.saturating_sub(sent_at),
            row: row.to_string(),
            attempt: 1,
        }
    }
}

pub(super) fn path_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => String::new(),
    }
}

pub(super) fn error_summary(e: &crate::api::error::ApiError) -> String {
    e.to_string()
}

/// The audit entries as a table (for a sheet), one request a row.
#[must_use]
pub fn audit_table(entries: &[AuditEntry]) -> Table {
    Table {
        columns: [
            "Time",
            "Method",
            "Path",
            "Status",
            "Error",
            "Duration (ms)",
            "Row",
            "Attempt",
        ]
        .map(String::from)
        .to_vec(),
        rows: entries
            .iter()
            .map(|e| {
                vec![
                    e.time.clone(),
                    e.method.clone(),
                    e.path.clone(),
                    e.status.map(|s| s.to_string()).unwrap_or_default(),
                    e.error.clone().unwrap_or_default(),
                    e.duration_ms.to_string(),
                    e.row.clone(),
                    e.attempt.to_string(),
                ]
            })
            .map(cells)
            .collect(),
        row_numbers: Vec::new(),
        lines: Vec::new(),
    }
}

/// JSON Lines of audit entries (one request a line; never a token).
#[must_use]
pub fn audit_jsonl(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).expect("serialises"));
        out.push('\n');
    }
    out
}
