//! What a host shows of a sheet run, the same shape for every kind: the plan (counts, problems,
//! the plan table) and tables cut to a preview, so that a page showing the first rows of a
//! 100,000-row sheet does not copy all of them.

use std::collections::HashSet;

use serde::Serialize;

use super::SheetRun;
use crate::policy::BlastRadius;
use crate::provision::NewAttribute;
use crate::table::Table;

/// Problems listed when a plan is cut to a preview; the plan table has them all.
pub const PREVIEW_PROBLEMS: usize = 50;

/// A table, cut to its first rows when asked, saying how many rows there are in all.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableView {
    /// The rows shown.
    #[serde(flatten)]
    pub table: Table,
    /// All the rows, when `table` holds fewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_rows: Option<usize>,
}

impl TableView {
    /// `table`, cut to its first `preview` rows when given and shorter than it.
    #[must_use]
    pub fn new(mut table: Table, preview: Option<usize>) -> TableView {
        let total = table.rows.len();
        match preview.filter(|n| *n < total) {
            Some(n) => {
                table.rows.truncate(n);
                table.row_numbers.truncate(n);
                table.lines.truncate(n);
                TableView {
                    table,
                    total_rows: Some(total),
                }
            }
            None => TableView {
                table,
                total_rows: None,
            },
        }
    }
}

/// A plan as a host shows it, before anything is sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    /// Rows per action, in the plan's order.
    pub counts: Vec<(String, usize)>,
    /// Why the sheet cannot be planned at all, if so.
    pub file_error: Option<String>,
    /// Rows that change something.
    pub changes: usize,
    /// The plan table (a Plan sheet).
    pub table: TableView,
    /// Problem messages, notes included (at most [`PREVIEW_PROBLEMS`] in a preview).
    pub problems: Vec<String>,
    /// The rows that will not be sent (among the rows shown, in a preview).
    pub problem_rows: Vec<u32>,
    /// All the problems, when `problems` lists fewer.
    pub problem_count: usize,
    /// What applying would do that a person should weigh first (once planned against the
    /// brand).
    pub blast: Option<BlastRadius>,
    /// Provisioning: attribute columns no one in the brand has yet, each allowed or not (a
    /// host offers a tick for each; one not allowed stops Apply, and is not in `file_error`).
    pub new_attributes: Vec<NewAttribute>,
}

impl SheetRun {
    /// The plan as a host shows it; with `preview`, the plan table cut to its first rows, and
    /// problems and problem rows cut to match.
    #[must_use]
    pub fn view(&self, preview: Option<usize>) -> PlanView {
        let (mut problems, mut problem_rows) = self.listed_problems();
        let problem_count = problems.len();
        let table = TableView::new(self.plan_table(), preview);
        if preview.is_some() {
            problems.truncate(PREVIEW_PROBLEMS);
            let shown: HashSet<u32> = table.table.row_numbers.iter().copied().collect();
            problem_rows.retain(|r| shown.contains(r));
        }
        let new_attributes = self.new_attributes();
        let file_errors: Vec<String> = self
            .file_errors()
            .into_iter()
            .filter(|p| {
                !new_attributes
                    .iter()
                    .any(|a| !a.allowed && a.column == p.column)
            })
            .map(|p| p.message)
            .collect();
        PlanView {
            counts: self.counts(),
            file_error: (!file_errors.is_empty()).then(|| file_errors.join(" ")),
            changes: self.changes(),
            table,
            problems,
            problem_rows,
            problem_count,
            blast: self.blast_radius().cloned(),
            new_attributes,
        }
    }
}

/// One row's outcome as hosts write it beside the row: values in the order of
/// [`SheetRun::outcome_columns`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCells {
    /// The row as the sheet numbers it.
    pub row: u32,
    /// `done`, `unchanged`, `failed` or `skipped`.
    pub status: &'static str,
    /// The outcome cells.
    pub values: Vec<String>,
}

impl SheetRun {
    /// Every row's outcome cells, to write beside the rows.
    #[must_use]
    pub fn outcome_cells(&self) -> Vec<OutcomeCells> {
        self.outcomes()
            .iter()
            .map(|o| OutcomeCells {
                row: o.row(),
                status: o.status().as_str(),
                values: o.values(),
            })
            .collect()
    }
}
