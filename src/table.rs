//! A sheet as the core sees it: a header row and rows of text cells.

use serde::{Deserialize, Serialize};

/// Header + rows of cells, with each row's identity: the sheet row number it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// The sheet (or file line) number of each row; empty means "header on row 1, then in order".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_numbers: Vec<u32>,
}

/// Why a CSV file could not be read as a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// Nothing but blank lines.
    #[error(
        "The file is empty: it needs a header row (for example \"User ID\") and one row per user."
    )]
    Empty,
    /// A header but no data rows.
    #[error("The file has a header row but no rows below it.")]
    NoRows,
    /// The csv reader stopped (for example on invalid UTF-8).
    #[error("Line {line}: {message}")]
    Malformed {
        /// Line number in the file.
        line: u64,
        /// What went wrong.
        message: String,
    },
}

/// Makes a cell safe to open in a spreadsheet: a value that a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`, so it
/// shows as the text it is.
pub fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

impl Table {
    /// A table of text cells from string slices (templates, examples, tests).
    pub fn from_text(columns: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
            row_numbers: Vec::new(),
        }
    }

    /// The sheet row number of row `index` (0-based).
    pub fn row_number(&self, index: usize) -> u32 {
        self.row_numbers
            .get(index)
            .copied()
            .unwrap_or(index as u32 + 2)
    }

    /// The cell at `row`, `column`, or "" when the row is short.
    pub fn cell(&self, row: usize, column: usize) -> &str {
        self.rows
            .get(row)
            .and_then(|r| r.get(column))
            .map_or("", String::as_str)
    }

    /// A reason to think the first row is data rather than a header row (a user id, an e-mail
    /// address, a number or a date where a column name should be), or an empty header.
    pub fn header_problem(&self) -> Option<String> {
        for (i, h) in self.columns.iter().enumerate() {
            let h = h.trim();
            let looks_like_data = h.starts_with("UR_")
                || (h.contains('@') && h.contains('.'))
                || (!h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '/' | ':' | ' ')));
            if looks_like_data {
                return Some(format!(
                    "The first row holds \"{}\", which looks like data, not a column name: include the header row (for example \"User ID\" or \"Username\") in the selection or file.",
                    h.chars().take(40).collect::<String>()
                ));
            }
            if h.is_empty()
                && self
                    .rows
                    .iter()
                    .any(|r| r.get(i).is_some_and(|c| !c.trim().is_empty()))
            {
                return Some(format!("Column {} has values but no name in the header row: give it one, or delete the column.", i + 1));
            }
        }
        None
    }

    /// This table with `names` columns beside it (reused where a column of that name exists, as
    /// from an earlier run), filled from `values` by sheet row number; other rows keep theirs.
    pub fn with_columns_beside(
        &self,
        names: &[String],
        values: &std::collections::HashMap<u32, Vec<String>>,
    ) -> Table {
        let mut table = self.clone();
        let positions: Vec<usize> = names
            .iter()
            .map(|n| {
                table
                    .columns
                    .iter()
                    .position(|c| c == n)
                    .unwrap_or_else(|| {
                        table.columns.push(n.clone());
                        table.columns.len() - 1
                    })
            })
            .collect();
        let width = table.columns.len();
        for (i, row) in table.rows.iter_mut().enumerate() {
            row.resize(width, String::new());
            if let Some(vs) = values.get(&self.row_number(i)) {
                for (p, v) in positions.iter().zip(vs) {
                    row[*p] = v.clone();
                }
            }
        }
        table
    }

    /// Reads CSV text (comma-separated, optional UTF-8 byte-order mark): the first non-blank
    /// record is the header; blank rows are skipped; each row keeps its line number.
    pub fn from_csv(text: &str) -> Result<Table, CsvError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut table = Table::default();
        let mut header_seen = false;
        let mut lines = LineCounter {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        };
        // One record reused for every line: the reader fills it in place.
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Err(CsvError::Malformed {
                        line: e.position().map_or(0, |p| p.line()),
                        message: e.to_string(),
                    })
                }
            }
            if record.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let line = lines.line_of(record.position().map_or(0, |p| p.byte()));
            if !header_seen {
                table.columns = record.iter().map(|c| c.trim().to_string()).collect();
                header_seen = true;
            } else {
                table.rows.push(record.iter().map(str::to_string).collect());
                table.row_numbers.push(line);
            }
        }
        if !header_seen {
            return Err(CsvError::Empty);
        }
        if table.rows.is_empty() {
            return Err(CsvError::NoRows);
        }
        Ok(table)
    }

    /// CSV (RFC 4180, UTF-8 with a byte-order mark so Excel reads accents right), with every
    /// cell made safe against formula injection.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        let write = |w: &mut csv::Writer<Vec<u8>>, cells: &[String]| {
            w.write_record(cells.iter().map(|c| neutralise_formula(c).into_owned()))
                .expect("writing to memory cannot fail");
        };
        write(&mut writer, &self.columns);
        for row in &self.rows {
            write(&mut writer, row);
        }
        let bytes = writer.into_inner().expect("writing to memory cannot fail");
        let mut out = String::from('\u{feff}');
        out.push_str(&String::from_utf8(bytes).expect("cells are UTF-8"));
        out
    }
}

/// The 1-based line on which each record starts, counted incrementally (records come in
/// order, so each newline is counted once). The csv reader's own line count drifts with CRLF
/// endings and skipped blank lines, and its byte offset may point at the line break before the
/// record, so line breaks are stepped over first.
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: u32,
}

impl LineCounter<'_> {
    fn line_of(&mut self, byte: u64) -> u32 {
        let mut start = (byte as usize).min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.at {
            self.line += self.text[self.at..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u32;
            self.at = start;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises() {
        let t = Table {
            row_numbers: vec![],
            columns: vec!["User ID".into(), "Name".into()],
            rows: vec![
                vec!["UR_1".into(), "Doe, Jane".into()],
                vec!["UR_2".into(), "=HYPERLINK(\"http://x\")".into()],
                vec!["UR_3".into(), "José \"Pepe\"".into()],
                vec!["UR_4".into(), "-1+2".into()],
            ],
        };
        let csv = t.to_csv();
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "User ID,Name");
        assert_eq!(lines[1], "UR_1,\"Doe, Jane\"");
        assert_eq!(lines[2], "UR_2,\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(lines[3], "UR_3,\"José \"\"Pepe\"\"\"");
        assert_eq!(lines[4], "UR_4,'-1+2");
    }

    #[test]
    fn a_first_row_of_data_is_not_taken_for_a_header() {
        let t =
            Table::from_csv("UR_AAAAAAAAAAAAAAA,disable\nUR_BBBBBBBBBBBBBBB,disable\n").unwrap();
        assert!(t
            .header_problem()
            .unwrap()
            .starts_with("The first row holds \"UR_AAAAAAAAAAAAAAA\", which looks like data"));
        let t = Table::from_csv("jane@x.edu\nbob@x.edu\n").unwrap();
        assert!(t.header_problem().is_some());
        let t = Table::from_csv("User ID,\nUR_1,note\n").unwrap();
        assert_eq!(
            t.header_problem().unwrap(),
            "Column 2 has values but no name in the header row: give it one, or delete the column."
        );
        assert_eq!(
            Table::from_csv("User ID,Action\nUR_1,disable\n")
                .unwrap()
                .header_problem(),
            None
        );
    }

    #[test]
    fn csv_input_keeps_line_numbers_and_skips_blank_rows() {
        let t = Table::from_csv("\u{feff}User ID,Note\r\nUR_1,\"two\nlines\"\r\n,\r\n\r\nUR_2\r\n")
            .unwrap();
        assert_eq!(t.columns, vec!["User ID", "Note"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.row_numbers, vec![2, 6]);
        assert_eq!(t.cell(1, 1), "");
        let lf = Table::from_csv("a,b\n\n1,2\n3,4").unwrap();
        assert_eq!(lf.row_numbers, vec![3, 4]);
        assert_eq!(Table::from_csv(" \n\n"), Err(CsvError::Empty));
        assert_eq!(Table::from_csv("User ID\n"), Err(CsvError::NoRows));
    }
}
