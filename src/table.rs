//! A sheet as the core sees it: a header row and rows of text cells.

use serde::{Deserialize, Serialize};

/// Header + rows of cells; every row has as many cells as there are columns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises() {
        let t = Table {
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
}
