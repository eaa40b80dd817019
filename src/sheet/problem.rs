//! One problem type for every kind of sheet: what a check, a plan or the file reader found,
//! with where it is (the row as a spreadsheet shows it, and the file's line where a quoted
//! cell spanning lines makes the two differ), the column, how bad, and a message a person can
//! act on.

use std::fmt;

use serde::Serialize;

use super::table::Table;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row (or, on row 0, the sheet) is not sent.
    Error,
    /// Fixed or noted; the row is still sent.
    Warning,
}

/// Where a row of a sheet is, as the person who made it finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowAt {
    /// The row as a spreadsheet numbers it (the header is usually row 1).
    pub row: u32,
    /// The file's line where the row starts, when it is not `row` (a quoted cell above it
    /// spans lines).
    pub line: Option<u32>,
}

impl fmt::Display for RowAt {
    /// `Row 7`, or `Row 7 (line 9)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "Row {} (line {line})", self.row),
            None => write!(f, "Row {}", self.row),
        }
    }
}

/// A problem found in a sheet, by a check, a plan or the file reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The row as a spreadsheet numbers it; 0 for the sheet as a whole.
    pub row: u32,
    /// The file's line, when it is not the row (see [`RowAt::line`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The column, as the sheet names it ("" when no one column is at fault).
    pub column: String,
    /// Whether the row (or sheet) is refused or only noted.
    pub severity: Severity,
    /// What is wrong and what to do, with the row and column named first
    /// (`Row 7, Email: "x" is not an e-mail address: …`).
    pub message: String,
}

impl Problem {
    /// A problem with the cell of `column` on the row at `at`: the message is `what`
    /// prefixed with the row and the column.
    #[must_use]
    pub fn in_row(at: RowAt, column: &str, severity: Severity, what: &str) -> Problem {
        Problem {
            row: at.row,
            line: at.line,
            column: column.to_string(),
            severity,
            message: format!("{at}, {column}: {what}"),
        }
    }

    /// A problem with the sheet as a whole (a missing or doubled column, say); `message` is
    /// shown as it is.
    #[must_use]
    pub fn sheet(column: &str, severity: Severity, message: String) -> Problem {
        Problem {
            row: 0,
            line: None,
            column: column.to_string(),
            severity,
            message,
        }
    }

    /// The message without its leading row (`Email: "x" is not an e-mail address: …`), for a
    /// reader to whom the row number means nothing (a hook event, one row of a batch).
    #[must_use]
    pub fn without_row(&self) -> &str {
        let at = RowAt {
            row: self.row,
            line: self.line,
        };
        let prefix = format!("{at}, ");
        self.message.strip_prefix(&prefix).unwrap_or(&self.message)
    }

    /// True when the row (or sheet) is not sent because of it.
    #[must_use]
    pub fn refuses(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Table {
    /// Where row `index` (0-based) is: its spreadsheet row and, where different, its line.
    #[must_use]
    pub fn at(&self, index: usize) -> RowAt {
        let row = self.row_number(index);
        let line = self.lines.get(index).copied().filter(|l| *l != row);
        RowAt { row, line }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_named_with_its_line_only_where_they_differ() {
        let mut t = Table::from_text(&["Email"], &[&["a"], &["b"]]);
        assert_eq!(t.at(1).to_string(), "Row 3");
        t.row_numbers = vec![2, 3];
        t.lines = vec![2, 5];
        let p = Problem::in_row(t.at(1), "Email", Severity::Error, "not an e-mail address.");
        assert_eq!(p.message, "Row 3 (line 5), Email: not an e-mail address.");
        assert_eq!((p.row, p.line), (3, Some(5)));
        assert_eq!(p.without_row(), "Email: not an e-mail address.");
        assert!(p.refuses());
        assert_eq!(t.at(0).line, None);
    }
}
