//! A native host's files: input sheets (CSV or text in any encoding the page reads, `.xlsx`,
//! or rows as JSON / CSV on stdin), output files (`.csv` or `.xlsx`, formula-safe, readable by
//! their owner only), journals and audit logs.

use std::io::{Read, Write};
use std::path::Path;

use qualtrics_roster::exec::JournalEntry;
use qualtrics_roster::sheet::table::{Cell, Table};
use serde_json::Value;

use crate::Error;

/// Set when stdin held JSON rows: the answer is JSON too, errors included.
pub static JSON_STDIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A sheet read from a file or stdin.
pub struct Input {
    /// The rows.
    pub table: Table,
    /// Where it came from and how it was read ("staff.csv (comma-separated, header on line 1)").
    pub description: String,
    /// Things to know about the file (title rows skipped…), as the JSON output's `notes`.
    pub notes: Vec<qualtrics_roster::sheet::problem::Problem>,
    /// The rows came as JSON (then the answer is JSON too).
    pub json: bool,
}

/// Reads `path` (`-` for stdin: a JSON object or array of objects, or CSV text).
pub fn read_input(path: &str, sheet: Option<&str>) -> Result<Input, Error> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Input(format!("Cannot read stdin: {e}.")))?;
        let start = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if matches!(start, Some(b'[') | Some(b'{')) {
            JSON_STDIN.store(true, std::sync::atomic::Ordering::SeqCst);
            return Ok(Input {
                table: json_rows(&bytes)?,
                description: "stdin (JSON)".into(),
                notes: Vec::new(),
                json: true,
            });
        }
        if start.is_none() {
            return Err(Error::Input(
                "stdin is empty: give rows as JSON (an object, or an array of objects) or as CSV with a header line.".into(),
            ));
        }
        return read_bytes(&bytes, "stdin", sheet);
    }
    let p = Path::new(path);
    let bytes = std::fs::read(p).map_err(|e| {
        Error::Input(match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{path}: no such file. Check the path (nothing was sent).")
            }
            _ => format!("{path}: cannot read it ({e}). Nothing was sent."),
        })
    })?;
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string());
    read_bytes(&bytes, &name, sheet)
}

fn read_bytes(bytes: &[u8], name: &str, sheet: Option<&str>) -> Result<Input, Error> {
    let file = qualtrics_roster_xlsx::read_any(bytes, name, sheet)
        .map_err(|e| Error::Input(format!("{name}: {e}")))?;
    Ok(Input {
        description: format!("{name} ({})", file.description()),
        notes: file.notes,
        table: file.table,
        json: false,
    })
}

/// Rows given as JSON: one object or an array of objects whose keys are column names. Values
/// are text; numbers and booleans are written as text, `null` is a blank cell. Columns are
/// the keys in the order first seen.
pub fn json_rows(bytes: &[u8]) -> Result<Table, Error> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::Input(format!(
            "stdin is not valid JSON ({e}): give one object per row, e.g. [{{\"Username\": \"ana@example.com\", \"First name\": \"Ana\"}}]. Nothing was sent."
        ))
    })?;
    let rows = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => unreachable!("starts with [ or {{"),
    };
    if rows.is_empty() {
        return Err(Error::Input(
            "stdin holds an empty JSON array: give at least one row. Nothing was sent.".into(),
        ));
    }
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let Value::Object(map) = row else {
            return Err(Error::Input(format!(
                "JSON row {} is not an object: give each row as {{\"column\": \"value\", …}}. Nothing was sent.",
                i + 1
            )));
        };
        for k in map.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        objects.push(map);
    }
    let mut table_rows = Vec::with_capacity(objects.len());
    for (i, map) in objects.iter().enumerate() {
        let mut cells = Vec::with_capacity(columns.len());
        for c in &columns {
            cells.push(match map.get(c) {
                None | Some(Value::Null) => Cell::default(),
                Some(Value::String(s)) => Cell::new(s),
                Some(Value::Number(n)) => Cell::from(n.to_string()),
                Some(Value::Bool(b)) => Cell::new(if *b { "true" } else { "false" }),
                Some(_) => {
                    return Err(Error::Input(format!(
                        "JSON row {}, \"{c}\": give a text value (lists are joined with :: in one string). Nothing was sent.",
                        i + 1
                    )))
                }
            });
        }
        table_rows.push(cells);
    }
    Ok(Table {
        columns,
        row_numbers: (1..=table_rows.len() as u32).collect(),
        lines: Vec::new(),
        rows: table_rows,
    })
}

/// Writes `table` to `path`: an `.xlsx` workbook (one sheet named `sheet`) or CSV.
pub fn write_table(path: &Path, sheet: &str, table: &Table) -> Result<(), Error> {
    write_tables(path, &[(sheet, table)])
}

/// Writes tables to `path`: sheets of one `.xlsx` workbook, or (CSV) the first table.
pub fn write_tables(path: &Path, tables: &[(&str, &Table)]) -> Result<(), Error> {
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    // Every cell as Qualtrics' answers left it, less any credential they echoed.
    let redacted: Vec<Table> = tables
        .iter()
        .map(|(_, t)| Table {
            columns: t.columns.clone(),
            rows: t
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| Cell::from(crate::secrets::redact(c)))
                        .collect()
                })
                .collect(),
            row_numbers: t.row_numbers.clone(),
            lines: Vec::new(),
        })
        .collect();
    let tables: Vec<(&str, &Table)> = tables
        .iter()
        .zip(&redacted)
        .map(|((name, _), t)| (*name, t))
        .collect();
    let tables = tables.as_slice();
    let bytes = if is_xlsx {
        let now = crate::client::unix_millis() / 1000;
        qualtrics_roster_xlsx::write_workbook(tables, now)
            .map_err(|e| Error::Input(format!("Cannot write {}: {e}", path.display())))?
    } else {
        tables
            .first()
            .map(|(_, t)| t.to_csv().into_bytes())
            .unwrap_or_default()
    };
    if path == Path::new("-") {
        // `-` is standard output, for every --output (CSV, or .xlsx bytes to a pipe).
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(if is_xlsx {
                &bytes
            } else {
                bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes)
            })
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::Input(format!("Cannot write to standard output: {e}")));
    }
    private_file(path, false)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| Error::Input(format!("Cannot write {}: {e}", path.display())))
}

/// Opens `path` for writing (truncated, or appended to with `append`), created readable by its
/// owner only: outcome, audit and journal files hold people's names, e-mail addresses and ids.
/// A file that already exists keeps its permissions.
fn private_file(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The journal of earlier runs of a sheet: one JSON entry a line; a torn last line (the
/// process killed while writing it) is ignored.
pub fn read_journal(path: &Path) -> Result<Vec<JournalEntry>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Input(format!(
                "Cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<JournalEntry>(l).ok())
        .collect())
}

/// Appends to a journal or audit file, flushing each batch so a killed run keeps what it did.
pub struct AppendFile(std::fs::File);

impl AppendFile {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<AppendFile, Error> {
        private_file(path, true)
            .map(AppendFile)
            .map_err(|e| Error::Input(format!("Cannot write {}: {e}", path.display())))
    }

    /// Appends `text` and syncs it to disk.
    pub fn append(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let _ = self.0.write_all(crate::secrets::redact(text).as_bytes());
        let _ = self.0.sync_data();
    }
}

/// JSON Lines of journal entries.
#[must_use]
pub fn journal_lines(entries: &[JournalEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).expect("journal entries serialise"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn json_rows_become_a_table_and_bad_json_says_what_to_give() {
        let t = json_rows(
            br#"[{"Username":"a@x.org","Age":3},{"Team":"A::B","Username":"b@x.org","Gone":null}]"#,
        )
        .unwrap();
        assert_eq!(t.columns, cols(&["Age", "Username", "Gone", "Team"]));
        assert_eq!(t.rows[0], cols(&["3", "a@x.org", "", ""]));
        assert_eq!(t.rows[1], cols(&["", "b@x.org", "", "A::B"]));
        let one = json_rows(br#"{"Username":"a@x.org"}"#).unwrap();
        assert_eq!(one.rows.len(), 1);
        for (bad, says) in [
            (&b"[{\"a\":1}"[..], "stdin is not valid JSON"),
            (b"[]", "empty JSON array"),
            (b"[1]", "JSON row 1 is not an object"),
            (
                b"[{\"Team\":[\"A\"]}]",
                "JSON row 1, \"Team\": give a text value",
            ),
        ] {
            let e = json_rows(bad).err().unwrap().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
