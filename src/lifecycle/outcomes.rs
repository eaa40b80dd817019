//! Outcomes: each row's result beside its input, and the run's audit as a table or JSON Lines.

use std::collections::HashMap;

use crate::exec::{Outcome, OutcomeStatus, RowOutcome};
use crate::sheet::table::Table;
use crate::time::iso_datetime;

use super::{Plan, PlanAction};

/// Every input row's outcome: from the executor for rows that were sent, from the plan for the
/// others (invalid and not-found rows are `failed`, saying they were not sent; duplicates take
/// the outcome of the row planned in their place). Rows the run never reached are `skipped`.
pub fn outcomes(plan: &Plan, executed: &[Outcome]) -> Vec<RowOutcome> {
    let by_key: HashMap<&str, &Outcome> = executed.iter().map(|o| (o.key.as_str(), o)).collect();
    let mut result: Vec<RowOutcome> = Vec::with_capacity(plan.rows.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in &plan.rows {
        let user_id = r.user_id.clone().unwrap_or_default();
        // (status, message, applied at, retryable): a row the sheet or the policy refuses is
        // refused again as it is; one the run never reached may go another time.
        let (status, message, applied_at, retryable) = match r.action {
            PlanAction::Invalid | PlanAction::NotFound => (
                OutcomeStatus::Failed,
                format!("not sent: {}", r.message),
                String::new(),
                false,
            ),
            PlanAction::Unchanged => (
                OutcomeStatus::Unchanged,
                r.message.clone(),
                String::new(),
                false,
            ),
            PlanAction::Refused => (
                OutcomeStatus::Refused,
                r.message.clone(),
                String::new(),
                false,
            ),
            PlanAction::Duplicate => {
                let first = r
                    .same_as
                    .as_deref()
                    .and_then(|k| index.get(k))
                    .map(|i| result[*i].clone());
                match first {
                    Some(f) => (
                        f.status,
                        format!("same as {}: {}", f.key.replace("row:", "row "), f.message),
                        f.applied_at,
                        f.retryable,
                    ),
                    None => (
                        OutcomeStatus::Skipped,
                        "duplicate row".into(),
                        String::new(),
                        false,
                    ),
                }
            }
            _ => match by_key.get(r.key.as_str()) {
                Some(o) => (
                    o.status,
                    o.message.clone(),
                    if o.status == OutcomeStatus::Done {
                        o.finished_at.map(iso_datetime).unwrap_or_default()
                    } else {
                        String::new()
                    },
                    o.retryable,
                ),
                None => (
                    OutcomeStatus::Skipped,
                    "not sent: the run ended before this row".into(),
                    String::new(),
                    true,
                ),
            },
        };
        index.insert(r.key.clone(), result.len());
        result.push(RowOutcome {
            key: r.key.clone(),
            row: r.row,
            status,
            message,
            user_id: Some(user_id),
            unique_identifier: None,
            applied_at,
            retryable,
        });
    }
    result
}

/// The outcome columns, in order.
pub const OUTCOME_COLUMNS: [&str; 4] = ["Status", "Message", "User ID", "Applied at"];

/// The names of the outcome columns beside `input_columns`: the input's own `User ID` column
/// is never overwritten, so the outcome's user id goes into "Outcome user ID" when it exists.
#[must_use]
pub fn outcome_column_names(input_columns: &[String]) -> Vec<String> {
    let has_user_id = input_columns
        .iter()
        .any(|c| c == "User ID" || c == "Outcome user ID");
    OUTCOME_COLUMNS
        .iter()
        .map(|n| {
            if *n == "User ID" && has_user_id {
                "Outcome user ID".to_string()
            } else {
                n.to_string()
            }
        })
        .collect()
}

/// The input table with the outcome columns beside it: existing outcome columns (from an
/// earlier run) are updated in place, others are appended. Rows are matched by identity.
#[must_use]
pub fn outcome_table(input: &Table, outcomes: &[RowOutcome]) -> Table {
    let values: HashMap<u32, Vec<String>> = outcomes.iter().map(|o| (o.row, o.values())).collect();
    input.with_columns_beside(&outcome_column_names(&input.columns), &values)
}
