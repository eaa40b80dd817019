//! A sheet as the core sees it: a header row and rows of text cells.

use serde::{Deserialize, Serialize};

/// One cell's text. Cells up to 23 bytes are stored inline (most of a user sheet: names,
/// addresses, ids, dates), so a 100,000-row sheet is read without one allocation per cell.
pub type Cell = smol_str::SmolStr;

/// Header + rows of cells, with each row's identity: the sheet row number it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows of cells.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "js"),
        tsify(type = "string[][]")
    )]
    pub rows: Vec<Vec<Cell>>,
    /// The row number of each row as a spreadsheet shows it; empty means "header on row 1, then
    /// in order".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_numbers: Vec<u32>,
    /// The file line each row starts on, when some differ from their row numbers (a quoted
    /// cell spanning lines above them); empty otherwise. See [`Table::at`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<u32>,
}

/// A cell holding `text` (`Cell::new`, with short texts copied in place rather than through a
/// call: a big sheet makes a million cells).
#[inline]
#[must_use]
pub fn cell(text: &str) -> Cell {
    if text.len() <= Cell::INLINE_CAP {
        Cell::new_inline(text)
    } else {
        Cell::new(text)
    }
}

/// A row of cells from owned text (the tables this tool writes: plans, outcomes, audits).
pub fn cells(values: Vec<String>) -> Vec<Cell> {
    values.into_iter().map(Cell::from).collect()
}

/// A cell that holds a value rather than a column name: a user id, an e-mail address, a number
/// or a date.
#[must_use]
pub fn looks_like_data(cell: &str) -> bool {
    let h = cell.trim();
    h.starts_with("UR_")
        || (h.contains('@') && h.contains('.'))
        || (!h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '/' | ':' | ' ')))
}

/// Makes a cell safe to open in a spreadsheet: a value that a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`, so it
/// shows as the text it is.
#[must_use]
pub fn neutralise_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

impl Table {
    /// A 64-bit fingerprint of the header, every cell and every row number (FNV-1a, each text
    /// length-prefixed so `["ab","c"]` and `["a","bc"]` differ). Equal tables give equal
    /// fingerprints in every build, so it keys journals kept across sessions; a plan keeps it to
    /// refuse an apply whose input changed.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        let mut h = Fnv1a::default();
        h.number(self.columns.len() as u64);
        for c in &self.columns {
            h.text(c);
        }
        h.number(self.rows.len() as u64);
        for row in &self.rows {
            h.number(row.len() as u64);
            for c in row {
                h.text(c);
            }
        }
        for n in &self.row_numbers {
            h.number(u64::from(*n));
        }
        h.0
    }

    /// A table of text cells from string slices (templates, examples, tests).
    #[must_use]
    pub fn from_text(columns: &[&str], rows: &[&[&str]]) -> Table {
        Table {
            columns: columns.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(Cell::new).collect())
                .collect(),
            row_numbers: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// The sheet row number of row `index` (0-based).
    #[must_use]
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
            .map_or("", Cell::as_str)
    }

    /// A reason to think the first row is data rather than a header row (a user id, an e-mail
    /// address, a number or a date where a column name should be), or an empty header.
    #[must_use]
    pub fn header_problem(&self) -> Option<String> {
        for (i, h) in self.columns.iter().enumerate() {
            let h = h.trim();
            if looks_like_data(h) {
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
    #[must_use]
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
            row.resize(width, Cell::default());
            if let Some(vs) = values.get(&self.row_number(i)) {
                for (p, v) in positions.iter().zip(vs) {
                    row[*p] = Cell::new(v);
                }
            }
        }
        table
    }

    /// CSV (RFC 4180, UTF-8 with a byte-order mark so Excel reads accents right), with every
    /// cell made safe against formula injection.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        let write = |w: &mut csv::Writer<Vec<u8>>, cells: &mut dyn Iterator<Item = &str>| {
            w.write_record(cells.map(|c| neutralise_formula(c).into_owned()))
                .expect("writing to memory cannot fail");
        };
        write(&mut writer, &mut self.columns.iter().map(String::as_str));
        for row in &self.rows {
            write(&mut writer, &mut row.iter().map(Cell::as_str));
        }
        let bytes = writer.into_inner().expect("writing to memory cannot fail");
        let mut out = String::from('\u{feff}');
        out.push_str(&String::from_utf8(bytes).expect("cells are UTF-8"));
        out
    }
}

/// FNV-1a, 64 bits: a stable hash for [`Table::fingerprint`] (no key, no per-process seed).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn number(&mut self, n: u64) {
        self.bytes(&n.to_le_bytes());
    }
    fn text(&mut self, text: &str) {
        self.number(text.len() as u64);
        self.bytes(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises() {
        let t = Table {
            row_numbers: vec![],
            lines: Vec::new(),
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
}
