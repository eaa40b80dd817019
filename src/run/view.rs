//! What a host shows of a sheet run, the same shape for every kind: the plan (counts, problems,
//! the plan table) and tables cut to a preview, so that a page showing the first rows of a
//! 100,000-row sheet does not copy all of them.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::SheetRun;
use crate::policy::BlastRadius;
use crate::provision::NewAttribute;
use crate::sheet::problem::{Problem, Severity};
use crate::sheet::table::Table;

/// Problems listed when a plan is cut to a preview; the plan table has them all.
pub const PREVIEW_PROBLEMS: usize = 50;

/// A table, cut to its first rows when asked, saying how many rows there are in all.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
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
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
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
    /// The problems, notes included, each with its row, line, column and severity (at most
    /// [`PREVIEW_PROBLEMS`] in a preview).
    pub problems: Vec<Problem>,
    /// The rows that will not be sent (among the rows shown, in a preview).
    pub problem_rows: Vec<u32>,
    /// All the problems, when `problems` lists fewer.
    pub problem_count: usize,
    /// What applying would do that a person should weigh first (once planned against the
    /// brand).
    pub blast: Option<BlastRadius>,
    /// Every problem (not only a preview's), grouped by what it says: one entry per message
    /// with its row numbers, so that 50,000 rows with one mistake read as one line.
    pub problem_groups: Vec<ProblemGroup>,
    /// Provisioning: attribute columns no one in the brand has yet, each allowed or not (a
    /// host offers a tick for each; one not allowed stops Apply, and is not in `file_error`).
    pub new_attributes: Vec<NewAttribute>,
    /// When the brand was listed, if the plan used the host's recent listing instead of reading
    /// the brand (issue 29.3): a host says so beside the plan.
    pub as_listed: Option<super::AsListed>,
}

/// Problems that say the same thing of different rows (the values they quote aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct ProblemGroup {
    /// What they say, without the row, quoted values shown as `…` when they differ.
    pub message: String,
    /// The column they are about ("" for a row or the sheet as a whole).
    pub column: String,
    /// Whether the rows are refused (`error`) or only noted (`warning`).
    pub severity: Severity,
    /// The rows they name, in order (none for a problem of the sheet as a whole).
    pub rows: Vec<u32>,
    /// The first of them as it reads alone, row included (what a one-row group shows).
    pub first: String,
}

/// Groups `problems` by what they say, in the order each is first seen.
#[must_use]
pub fn group_problems(problems: &[Problem]) -> Vec<ProblemGroup> {
    let mut groups: Vec<(String, ProblemGroup)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for p in problems {
        let text = p.without_row();
        // A problem of the sheet as a whole names what it is about: never merged with another.
        let masked = if p.row == 0 {
            text.to_string()
        } else {
            mask_quoted(text)
        };
        let key = format!("{:?}\u{1}{}\u{1}{masked}", p.severity, p.column);
        let at = *index.entry(key).or_insert_with(|| {
            groups.push((
                text.to_string(),
                ProblemGroup {
                    message: text.to_string(),
                    column: p.column.clone(),
                    severity: p.severity,
                    rows: Vec::new(),
                    first: p.message.clone(),
                },
            ));
            groups.len() - 1
        });
        let (first, group) = &mut groups[at];
        if group.message != masked && *first != text {
            // Rows quoting different values: say so once, without any one row's value.
            group.message = masked.clone();
        }
        if p.row > 0 {
            group.rows.push(p.row);
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// `text` with every double-quoted value shown as `"…"`.
fn mask_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('"');
        out.push_str(if i % 2 == 0 { "…" } else { part });
    }
    out
}

impl SheetRun {
    /// The plan as a host shows it; with `preview`, the plan table cut to its first rows, and
    /// problems and problem rows cut to match.
    #[must_use]
    pub fn view(&self, preview: Option<usize>) -> PlanView {
        let problem_groups = group_problems(&self.problems(true));
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
            problem_groups,
            new_attributes,
            as_listed: self.as_listed(),
        }
    }
}

/// The brand's users as a host shows them after a listing: the Users sheet, the pages read
/// and Qualtrics' last notice.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct UsersListing {
    /// The Users sheet.
    #[serde(flatten)]
    pub table: Table,
    /// Pages read.
    pub pages: usize,
    /// Qualtrics' last notice, in words.
    pub notice: Option<String>,
    /// Names of the divisions the users are in, by `DV_…` id, as Qualtrics gave them
    /// (`GET /divisions/{id}`; only the ids the host did not already know).
    pub division_names: std::collections::BTreeMap<String, String>,
}

impl UsersListing {
    /// The listing `job` read (call it once its run has finished).
    #[must_use]
    pub fn of(job: &super::ListingJob) -> UsersListing {
        UsersListing {
            table: crate::api::users::users_table(job.users_read()),
            pages: job.pages(),
            notice: job.notice().map(str::to_string),
            division_names: job.division_names(),
        }
    }
}

/// One row's outcome as hosts write it beside the row: values in the order of
/// [`SheetRun::outcome_columns`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCells {
    /// The row as the sheet numbers it.
    pub row: u32,
    /// `done`, `unchanged`, `failed`, `skipped` or `refused`.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "js"),
        tsify(type = "\"done\" | \"unchanged\" | \"failed\" | \"skipped\" | \"refused\"")
    )]
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
                row: o.row,
                status: o.status.as_str(),
                values: o.values(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::problem::RowAt;

    fn at(row: u32) -> RowAt {
        RowAt { row, line: None }
    }

    #[test]
    fn problems_saying_the_same_of_many_rows_are_one_group_with_their_rows() {
        let mut problems: Vec<Problem> = (1..=3)
            .map(|r| {
                Problem::in_row(
                    at(r),
                    "Email",
                    Severity::Error,
                    &format!("\"bad{r}\" is not an e-mail address."),
                )
            })
            .collect();
        problems.push(Problem::in_row(
            at(4),
            "Email",
            Severity::Warning,
            "spaces at the start or end were removed.",
        ));
        problems.push(Problem::in_row(
            at(7),
            "Email",
            Severity::Error,
            "\"x\" is not an e-mail address.",
        ));
        problems.push(Problem::sheet(
            "Floor",
            Severity::Error,
            "Column \"Floor\": new.".into(),
        ));
        let groups = group_problems(&problems);
        assert_eq!(groups.len(), 3, "{groups:?}");
        assert_eq!(groups[0].message, "Email: \"…\" is not an e-mail address.");
        assert_eq!(groups[0].rows, [1, 2, 3, 7]);
        assert_eq!(groups[1].severity, Severity::Warning);
        assert_eq!(groups[1].rows, [4]);
        assert_eq!(groups[2].message, "Column \"Floor\": new.");
        assert!(groups[2].rows.is_empty());
        // One row alone keeps its value.
        let one = group_problems(&problems[..1]);
        assert_eq!(one[0].message, "Email: \"bad1\" is not an e-mail address.");
    }
}
