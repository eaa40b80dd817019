//! The CLI's files: input sheets (CSV or text in any encoding the page reads, `.xlsx`, or rows
//! as JSON / CSV on stdin), which kind of sheet they are, output files (`.csv` or `.xlsx`,
//! formula-safe), journals and audit logs, and tables printed for people.

use std::io::{Read, Write};
use std::path::Path;

use qualtrics_roster::exec::JournalEntry;
use qualtrics_roster::run::SheetKind;
use qualtrics_roster::sheet::table::{Cell, Table};
use serde_json::Value;

use super::CliError;

/// Which sheet a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Disable, enable, set expiry dates (User ID or Username, Action, Expiration date).
    Lifecycle,
    /// Create users and set their attributes (Username, First name, Last name, Email…).
    Provision,
    /// Group and role membership wanted (User, Group or role, Member).
    Membership,
}

impl From<Kind> for qualtrics_roster::run::SheetKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Lifecycle => Self::Lifecycle,
            Kind::Provision => Self::Provision,
            Kind::Membership => Self::Membership,
        }
    }
}

impl Kind {
    /// The word used in messages and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lifecycle => "lifecycle",
            Kind::Provision => "provision",
            Kind::Membership => "membership",
        }
    }

    /// The kind a sheet's columns say, as the core reads them (`SheetKind::detect`), or why
    /// they fit more than one kind (exit 2, asking for --kind).
    ///
    /// # Errors
    /// `CliError::Input` when the columns are ambiguous.
    pub fn detect(columns: &[String]) -> Result<Kind, CliError> {
        match SheetKind::detect(columns) {
            Ok(SheetKind::Lifecycle) => Ok(Kind::Lifecycle),
            Ok(SheetKind::Provision) => Ok(Kind::Provision),
            Ok(SheetKind::Membership) => Ok(Kind::Membership),
            Err(e) => Err(CliError::Input(e.to_string())),
        }
    }
}

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
pub fn read_input(path: &str, sheet: Option<&str>) -> Result<Input, CliError> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::Input(format!("Cannot read stdin: {e}.")))?;
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
            return Err(CliError::Input(
                "stdin is empty: give rows as JSON (an object, or an array of objects) or as CSV with a header line.".into(),
            ));
        }
        return read_bytes(&bytes, "stdin", sheet);
    }
    let p = Path::new(path);
    let bytes = std::fs::read(p).map_err(|e| {
        CliError::Input(match e.kind() {
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

fn read_bytes(bytes: &[u8], name: &str, sheet: Option<&str>) -> Result<Input, CliError> {
    let file = qualtrics_roster_xlsx::read_any(bytes, name, sheet)
        .map_err(|e| CliError::Input(format!("{name}: {e}")))?;
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
pub fn json_rows(bytes: &[u8]) -> Result<Table, CliError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        CliError::Input(format!(
            "stdin is not valid JSON ({e}): give one object per row, e.g. [{{\"Username\": \"ana@example.com\", \"First name\": \"Ana\"}}]. Nothing was sent."
        ))
    })?;
    let rows = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => unreachable!("starts with [ or {{"),
    };
    if rows.is_empty() {
        return Err(CliError::Input(
            "stdin holds an empty JSON array: give at least one row. Nothing was sent.".into(),
        ));
    }
    let mut columns: Vec<String> = Vec::new();
    let mut objects = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let Value::Object(map) = row else {
            return Err(CliError::Input(format!(
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
                    return Err(CliError::Input(format!(
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
pub fn write_table(path: &Path, sheet: &str, table: &Table) -> Result<(), CliError> {
    write_tables(path, &[(sheet, table)])
}

/// Writes tables to `path`: sheets of one `.xlsx` workbook, or (CSV) the first table.
pub fn write_tables(path: &Path, tables: &[(&str, &Table)]) -> Result<(), CliError> {
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
            .map_err(|e| CliError::Input(format!("Cannot write {}: {e}", path.display())))?
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
            .map_err(|e| CliError::Input(format!("Cannot write to standard output: {e}")));
    }
    private_file(path, false)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| CliError::Input(format!("Cannot write {}: {e}", path.display())))
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
pub fn read_journal(path: &Path) -> Result<Vec<JournalEntry>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(CliError::Input(format!(
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
    pub fn open(path: &Path) -> Result<AppendFile, CliError> {
        private_file(path, true)
            .map(AppendFile)
            .map_err(|e| CliError::Input(format!("Cannot write {}: {e}", path.display())))
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

/// A table as aligned text columns for a terminal (wide cells cut at 40 characters).
pub fn text_table(table: &Table, limit: Option<usize>) -> String {
    const MAX: usize = 40;
    let cut = |s: &str| -> String {
        let flat: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if console::measure_text_width(&flat) <= MAX {
            flat
        } else {
            let mut out = String::new();
            for c in flat.chars() {
                if console::measure_text_width(&out) >= MAX - 1 {
                    break;
                }
                out.push(c);
            }
            out.push('…');
            out
        }
    };
    let shown = limit.unwrap_or(table.rows.len()).min(table.rows.len());
    let mut lines: Vec<Vec<String>> = vec![table.columns.iter().map(|c| cut(c)).collect()];
    lines.extend(
        table.rows[..shown]
            .iter()
            .map(|r| r.iter().map(|c| cut(c)).collect()),
    );
    let columns = table.columns.len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            lines
                .iter()
                .map(|l| l.get(i).map_or(0, |c| console::measure_text_width(c)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = line.get(i).map(String::as_str).unwrap_or("");
            text.push_str(cell);
            if i + 1 < columns {
                let pad = width - console::measure_text_width(cell) + 2;
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    if shown < table.rows.len() {
        out.push_str(&format!(
            "… and {} more rows (write them all with --output FILE)\n",
            table.rows.len() - shown
        ));
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
    fn the_kind_of_a_sheet_comes_from_its_columns() {
        assert_eq!(
            Kind::detect(&cols(&["User", "Group or role", "Member"])),
            Ok(Kind::Membership)
        );
        assert_eq!(
            Kind::detect(&cols(&["Username", "First Name", "last_name", "Team"])),
            Ok(Kind::Provision)
        );
        assert_eq!(
            Kind::detect(&cols(&["Username", "Action", "Expiration date"])),
            Ok(Kind::Lifecycle)
        );
        assert_eq!(Kind::detect(&cols(&["UserID"])), Ok(Kind::Lifecycle));
        // An edited `users list` export with an Action column is a lifecycle sheet.
        let export = [&qualtrics_roster::api::users::USER_COLUMNS[..], &["Action"]].concat();
        assert_eq!(Kind::detect(&cols(&export)), Ok(Kind::Lifecycle));
        // An Action beside a password fits both: refused, naming why.
        let both = Kind::detect(&cols(&["Username", "Action", "Password", "First name"]));
        let Err(CliError::Input(why)) = both else {
            panic!("ambiguous: {both:?}")
        };
        assert!(why.contains("--kind"), "{why}");
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

    #[test]
    fn text_tables_align_wide_letters_and_cut_long_cells() {
        let t = Table {
            columns: cols(&["Name", "Note"]),
            rows: vec![
                qualtrics_roster::sheet::table::cells(cols(&["山田", "x"])),
                qualtrics_roster::sheet::table::cells(cols(&["Ann", &"y".repeat(60)])),
            ],
            row_numbers: vec![2, 3],
            lines: Vec::new(),
        };
        let text = text_table(&t, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Name  Note");
        assert_eq!(lines[1], "山田  x");
        assert!(lines[2].starts_with("Ann   yyy") && lines[2].ends_with('…'));
        assert_eq!(console::measure_text_width(lines[2]), 6 + 40);
        assert!(text_table(&t, Some(1))
            .ends_with("… and 1 more rows (write them all with --output FILE)\n"));
    }
}
