//! Outcomes: each row of a desired-membership sheet's result once the run is over (its group
//! step's, or the attribute change's of its role), and the sheet with the outcome columns
//! beside it.

use std::collections::HashMap;

use crate::exec::{OutcomeStatus, RowOutcome};
use crate::sheet::table::Table;
use crate::time::{iso_datetime, UnixMillis};

use super::{ChangeAction, MembershipApply};

/// The outcome columns written beside a desired-membership sheet.
pub const OUTCOME_COLUMNS: [&str; 3] = ["Status", "Message", "Applied at"];

impl MembershipApply {
    /// Every input row's outcome.
    #[must_use]
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        let attribute_outcomes: HashMap<u32, RowOutcome> = self
            .attributes
            .as_ref()
            .map(|run| {
                run.outcomes()
                    .into_iter()
                    .flat_map(|o| {
                        self.plan
                            .attribute_rows
                            .get(&o.row)
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                            .map(move |r| (r, o.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let at = |t: Option<UnixMillis>| t.map(iso_datetime).unwrap_or_default();
        self.plan
            .rows
            .iter()
            .map(|r| {
                // (status, message, applied at, retryable: see RowOutcome::retryable).
                let (status, message, applied_at, retryable) = match r.action {
                    ChangeAction::Invalid => (
                        OutcomeStatus::Failed,
                        format!("not sent: {}", r.reason),
                        String::new(),
                        false,
                    ),
                    ChangeAction::Unchanged => (
                        OutcomeStatus::Unchanged,
                        r.reason.clone(),
                        String::new(),
                        false,
                    ),
                    ChangeAction::AddToGroup | ChangeAction::RemoveFromGroup => {
                        match self.group_outcomes.get(&r.key) {
                            Some(o) => (
                                o.status,
                                o.message.clone(),
                                if o.status == OutcomeStatus::Done {
                                    at(o.finished_at)
                                } else {
                                    String::new()
                                },
                                o.retryable,
                            ),
                            None => (
                                OutcomeStatus::Skipped,
                                "not sent (the run stopped first)".into(),
                                String::new(),
                                true,
                            ),
                        }
                    }
                    ChangeAction::JoinRole | ChangeAction::LeaveRole => {
                        match attribute_outcomes.get(&r.row) {
                            Some(o) if o.status == OutcomeStatus::Done => (
                                OutcomeStatus::Done,
                                r.reason.clone(),
                                o.applied_at.clone(),
                                false,
                            ),
                            Some(o) => (o.status, o.message.clone(), String::new(), o.retryable),
                            None => (
                                OutcomeStatus::Skipped,
                                "not sent (the run stopped first)".into(),
                                String::new(),
                                true,
                            ),
                        }
                    }
                };
                RowOutcome {
                    key: r.key.clone(),
                    row: r.row,
                    status,
                    message,
                    user_id: None,
                    unique_identifier: None,
                    applied_at,
                    retryable,
                }
            })
            .collect()
    }
}

/// The desired-membership sheet with the outcome columns beside it.
#[must_use]
pub fn outcome_table(input: &Table, outcomes: &[RowOutcome]) -> Table {
    let values: HashMap<u32, Vec<String>> = outcomes.iter().map(|o| (o.row, o.values())).collect();
    let names: Vec<String> = OUTCOME_COLUMNS.iter().map(|s| s.to_string()).collect();
    input.with_columns_beside(&names, &values)
}
