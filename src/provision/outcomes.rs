//! Outcomes: each row's result once the run is over, and the input sheet with the outcome
//! columns beside it.

use std::collections::HashMap;

use crate::exec::{OutcomeStatus, RowOutcome};
use crate::sheet::columns::normalise_header;
use crate::sheet::table::{Cell, Table};
use crate::time::iso_datetime;

use super::apply::{PhaseEnd, ProvisionApply};
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
                // (status, message, when applied, retryable: see RowOutcome::retryable).
                let (status, message, at, retryable) =
                    if r.actions.contains(&ProvisionAction::Refused) {
                        (OutcomeStatus::Refused, r.message(), None, false)
                    } else if r.actions.contains(&ProvisionAction::Invalid) {
                        (
                            OutcomeStatus::Failed,
                            format!("not sent: {}", r.message()),
                            None,
                            false,
                        )
                    } else if !r.sends() {
                        (OutcomeStatus::Unchanged, r.message(), None, false)
                    } else {
                        let parts: Vec<&PhaseEnd> = [p.account.as_ref(), p.import.as_ref()]
                            .into_iter()
                            .flatten()
                            .collect();
                        if parts.is_empty() {
                            (
                                OutcomeStatus::Skipped,
                                "not sent: the run ended before this row".into(),
                                None,
                                true,
                            )
                        } else if let Some(failed) =
                            parts.iter().find(|x| x.status != OutcomeStatus::Done)
                        {
                            let done: Vec<&str> = parts
                                .iter()
                                .filter(|x| x.status == OutcomeStatus::Done)
                                .map(|x| x.message.as_str())
                                .collect();
                            let prefix = if done.is_empty() {
                                String::new()
                            } else {
                                format!("{}; but ", done.join("; "))
                            };
                            (
                                failed.status,
                                format!("{prefix}{}", failed.message),
                                None,
                                failed.retryable,
                            )
                        } else {
                            (
                                OutcomeStatus::Done,
                                parts
                                    .iter()
                                    .map(|x| x.message.as_str())
                                    .collect::<Vec<_>>()
                                    .join("; "),
                                parts.iter().filter_map(|x| x.at).max(),
                                false,
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
                    retryable,
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
