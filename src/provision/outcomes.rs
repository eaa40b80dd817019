//! Outcomes: each row's result once the run is over, and the input sheet with the outcome
//! columns beside it.

use std::collections::HashMap;

use crate::exec::{OutcomeStatus, RowOutcome};
use crate::sheet::columns::normalise_header;
use crate::sheet::table::{Cell, Table};
use crate::time::{iso_datetime, UnixMillis};

use super::apply::ProvisionApply;
use super::ProvisionAction;

impl ProvisionApply {
    /// Every input row's outcome.
    #[must_use]
    pub fn outcomes(&self) -> Vec<RowOutcome> {
        self.plan
            .rows
            .iter()
            .map(|r| {
                let p = &self.progress[&r.key()];
                let (status, message, at) = if r.actions.contains(&ProvisionAction::Refused) {
                    (OutcomeStatus::Refused, r.message(), None)
                } else if r.actions.contains(&ProvisionAction::Invalid) {
                    (
                        OutcomeStatus::Failed,
                        format!("not sent: {}", r.message()),
                        None,
                    )
                } else if !r.sends() {
                    (OutcomeStatus::Unchanged, r.message(), None)
                } else {
                    let parts: Vec<&(OutcomeStatus, String, Option<UnixMillis>)> =
                        [p.account.as_ref(), p.import.as_ref()]
                            .into_iter()
                            .flatten()
                            .collect();
                    if parts.is_empty() {
                        (
                            OutcomeStatus::Skipped,
                            "not sent: the run ended before this row".into(),
                            None,
                        )
                    } else if let Some(failed) = parts.iter().find(|x| x.0 != OutcomeStatus::Done) {
                        let done: Vec<&str> = parts
                            .iter()
                            .filter(|x| x.0 == OutcomeStatus::Done)
                            .map(|x| x.1.as_str())
                            .collect();
                        let prefix = if done.is_empty() {
                            String::new()
                        } else {
                            format!("{}; but ", done.join("; "))
                        };
                        (failed.0, format!("{prefix}{}", failed.1), None)
                    } else {
                        (
                            OutcomeStatus::Done,
                            parts
                                .iter()
                                .map(|x| x.1.as_str())
                                .collect::<Vec<_>>()
                                .join("; "),
                            parts.iter().filter_map(|x| x.2).max(),
                        )
                    }
                };
                RowOutcome {
                    key: r.key().to_string(),
                    row: r.row,
                    status,
                    message,
                    user_id: Some(p.user_id.clone().unwrap_or_default()),
                    unique_identifier: Some(p.unique_identifier.clone().unwrap_or_default()),
                    applied_at: at.map(iso_datetime).unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// The outcome column names beside `input_columns`.
pub fn outcome_column_names(input_columns: &[String]) -> Vec<String> {
    let taken = |n: &str| {
        input_columns
            .iter()
            .any(|c| normalise_header(c) == normalise_header(n))
    };
    let user_id = if taken("User ID") {
        "Outcome user ID"
    } else {
        "User ID"
    };
    let uid = if input_columns
        .iter()
        .any(|c| normalise_header(c) == "uniqueidentifier")
    {
        "Outcome unique identifier"
    } else {
        "Unique identifier"
    };
    ["Status", "Message", user_id, uid, "Applied at"]
        .map(String::from)
        .to_vec()
}

/// The input with the outcome columns beside it; password cells are blanked, never written back.
#[must_use]
pub fn outcome_table(input: &Table, outcomes: &[RowOutcome]) -> Table {
    let values: HashMap<u32, Vec<String>> = outcomes.iter().map(|o| (o.row, o.values())).collect();
    let mut table = input.with_columns_beside(&outcome_column_names(&input.columns), &values);
    for (p, _) in input
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| super::is_password_column(c))
    {
        for row in &mut table.rows {
            row[p] = Cell::default();
        }
    }
    table
}
