//! Excel workbooks (.xlsx) in and out, for the browser-only mode and the command line: a sheet
//! read into the core's [`Table`] (with the same header detection and notes as a CSV file),
//! and tables written as sheets. Built as a WASM module of its own, loaded by the page only
//! when a workbook is chosen or asked for, so the pane's first load stays small.
//!
//! Cells come out as Excel shows them: a whole number without ".0", a date as `YYYY-MM-DD`, a
//! date and time as `YYYY-MM-DDTHH:MM:SS`, TRUE/FALSE, an error as its code (`#N/A`). Cells go
//! in as text (a user id such as `00123` stays text), except `YYYY-MM-DD` dates, which become
//! real dates; a text that a spreadsheet would take for a formula is marked as text (Excel's
//! quote prefix), never written as a formula.

use calamine::{DataRef, Reader, Xlsx, XlsxError};
use qualtrics_roster::sheet::sheetfile::{
    column_letter, from_records, FileError, SheetFile, MAX_ROWS,
};
use qualtrics_roster::sheet::table::{Cell, Table};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatAlign, Workbook};
use std::io::Cursor;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The most columns a sheet may use: far more than any user sheet, few enough that a stray
/// cell in column XFD cannot make every row 16,384 cells wide.
pub const MAX_COLUMNS: usize = 1_000;

/// A workbook's sheet read as a table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkbookSheet {
    /// Every sheet in the workbook, in order.
    pub sheets: Vec<String>,
    /// The sheet that was read.
    pub sheet: String,
    /// Its table, header line and notes.
    pub file: SheetFile,
}

/// Why a workbook could not be read. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkbookError {
    /// Not a ZIP, or a ZIP without a workbook inside.
    #[error("This ZIP file is not an Excel workbook (.xlsx): choose the workbook itself, or save it from Excel as .xlsx or \"CSV UTF-8\".")]
    NotWorkbook,
    /// The workbook is encrypted.
    #[error("{}", FileError::ProtectedOrLegacy)]
    Protected,
    /// No sheet by the asked name.
    #[error(
        "The workbook has no sheet named \"{asked}\": its sheets are {}.",
        quoted_list(sheets)
    )]
    NoSuchSheet {
        /// The name asked for.
        asked: String,
        /// The names there are.
        sheets: Vec<String>,
    },
    /// The workbook has no worksheets at all.
    #[error("The workbook has no worksheets (only charts or macros): put the rows on a worksheet and save it again.")]
    NoSheets,
    /// A cell beyond [`MAX_COLUMNS`].
    #[error("Sheet \"{sheet}\" has a value in column {column}, beyond the {MAX_COLUMNS} columns a user sheet can use: delete the stray cells to the right of the table and save it again.")]
    TooWide {
        /// The sheet.
        sheet: String,
        /// The cell's column letter.
        column: String,
    },
    /// The sheet's table could not be made (empty, header only, too many rows).
    #[error("Sheet \"{sheet}\": {error}")]
    Sheet {
        /// The sheet.
        sheet: String,
        /// What is wrong with its rows, as the CSV reader says it.
        error: FileError,
    },
    /// The ZIP container is cut short or damaged.
    #[error("The workbook is damaged or incomplete (perhaps a download that did not finish): open it in Excel and save it again, or export it again, and choose it again.")]
    Incomplete,
    /// The workbook's XML could not be read.
    #[error("The workbook could not be read ({0}): open it in Excel, save it again as .xlsx (or as \"CSV UTF-8\"), and choose it again.")]
    Damaged(String),
}

fn quoted_list(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut out: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("\"{n}\""))
        .collect();
    if names.len() > SHOWN {
        out.push(format!("and {} more", names.len() - SHOWN));
    }
    out.join(", ")
}

fn damaged(e: XlsxError) -> WorkbookError {
    match e {
        XlsxError::Password => WorkbookError::Protected,
        XlsxError::Zip(_) => WorkbookError::Incomplete,
        XlsxError::FileNotFound(_) => WorkbookError::NotWorkbook,
        other => WorkbookError::Damaged(other.to_string()),
    }
}

/// Why a file the tool was given could not be read: as a workbook, or as delimited text. Its
/// message is what the user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// A workbook that could not be read.
    #[error(transparent)]
    Workbook(#[from] WorkbookError),
    /// Delimited text that could not be read.
    #[error(transparent)]
    Text(#[from] FileError),
}

/// Reads any file the tool accepts, as the page's worker does: a ZIP (or a name ending in
/// .xlsx) as a workbook (`sheet` by name, or the first), anything else as delimited text.
pub fn read_any(bytes: &[u8], name: &str, sheet: Option<&str>) -> Result<SheetFile, ReadError> {
    let workbook = bytes.starts_with(b"PK") || name.to_ascii_lowercase().ends_with(".xlsx");
    if workbook {
        Ok(read_workbook(bytes, sheet)?.file)
    } else {
        Ok(qualtrics_roster::sheet::sheetfile::read_bytes(bytes)?)
    }
}

/// Why a workbook could not be written (a sheet too large for Excel, for example).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The workbook writer refused a sheet, cell or name.
    #[error("The workbook could not be written: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// More rows or columns than a worksheet holds.
    #[error("The workbook could not be written: sheet \"{0}\" has more rows or columns than Excel allows.")]
    TooLarge(String),
}

/// Reads one sheet of an .xlsx workbook: `sheet` by name, or the first worksheet.
pub fn read_workbook(bytes: &[u8], sheet: Option<&str>) -> Result<WorkbookSheet, WorkbookError> {
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Err(WorkbookError::Protected);
    }
    if !bytes.starts_with(b"PK") {
        return Err(WorkbookError::NotWorkbook);
    }
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(damaged)?;
    let sheets = workbook.sheet_names();
    let name = match sheet {
        Some(asked) => sheets
            .iter()
            .find(|s| s.as_str() == asked)
            .cloned()
            .ok_or_else(|| WorkbookError::NoSuchSheet {
                asked: asked.to_string(),
                sheets: sheets.clone(),
            })?,
        None => sheets.first().cloned().ok_or(WorkbookError::NoSheets)?,
    };
    // calamine's own arithmetic on hostile cell references can overflow (found by fuzzing:
    // fuzz/regressions/read_xlsx/); a panic in it is a damaged workbook, not a crash.
    let records = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_cells(&mut workbook, &name)
    }))
    .unwrap_or_else(|_| {
        Err(WorkbookError::Damaged(
            "a cell reference is out of range".into(),
        ))
    })?;
    let sheet_error = |error| WorkbookError::Sheet {
        sheet: name.clone(),
        error,
    };
    if records.is_empty() {
        return Err(sheet_error(FileError::Empty));
    }
    let mut file = from_records(records, false).map_err(sheet_error)?;
    file.encoding = "xlsx";
    if sheets.len() > 1 {
        file.notes.insert(
            0,
            qualtrics_roster::sheet::sheetfile::note(format!(
                "The workbook has {} sheets; this is \"{name}\"{}. To use another, choose it by name.",
                sheets.len(),
                if sheet.is_none() { " (the first)" } else { "" }
            )),
        );
    }
    Ok(WorkbookSheet {
        sheets,
        sheet: name,
        file,
    })
}

/// The sheet's non-blank rows as text cells, each with its 1-based row number.
fn read_cells(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
) -> Result<Vec<(u32, Vec<Cell>)>, WorkbookError> {
    let mut reader = workbook.worksheet_cells_reader(name).map_err(damaged)?;
    let mut rows: Vec<(u32, Vec<Cell>)> = Vec::new();
    while let Some(cell) = reader.next_cell().map_err(damaged)? {
        let text = cell_text(cell.get_value());
        if text.is_empty() {
            continue;
        }
        let (row, column) = cell.get_position();
        // A row number of u32::MAX (a damaged or hostile file) must not overflow.
        let (row, column) = (row.saturating_add(1), column as usize);
        if column >= MAX_COLUMNS {
            return Err(WorkbookError::TooWide {
                sheet: name.to_string(),
                column: column_letter(column),
            });
        }
        // Cells come row by row; a row number seen before (out of order) is looked up.
        let at = match rows.last() {
            Some((r, _)) if *r == row => rows.len() - 1,
            Some((r, _)) if *r > row => match rows.binary_search_by_key(&row, |(r, _)| *r) {
                Ok(i) => i,
                Err(i) => {
                    rows.insert(i, (row, Vec::new()));
                    i
                }
            },
            _ => {
                if rows.len() > MAX_ROWS + 20 {
                    return Err(WorkbookError::Sheet {
                        sheet: name.to_string(),
                        error: FileError::TooManyRows,
                    });
                }
                rows.push((row, Vec::new()));
                rows.len() - 1
            }
        };
        let cells = &mut rows[at].1;
        if cells.len() <= column {
            cells.resize(column + 1, Cell::default());
        }
        cells[column] = Cell::from(text);
    }
    Ok(rows)
}

/// A cell's value as Excel shows it in a General or date column.
#[must_use]
pub fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_string(),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
            if (h, mi, s, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTime(d) => number_text(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
    }
}

/// A number without a trailing ".0" when it is whole (as Excel's General format shows it).
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// `YYYY-MM-DD` with a real month and day: written as an Excel date.
fn as_date(cell: &str) -> Option<ExcelDateTime> {
    let b = cell.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| cell[r].parse::<u16>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)? as u8, n(8..10)? as u8);
    if !(1900..=9999).contains(&y) {
        return None;
    }
    ExcelDateTime::from_ymd(y, m, d).ok()
}

/// Whether a spreadsheet would take this text for a formula (the core's rule).
fn formula_like(cell: &str) -> bool {
    matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    )
}

/// A name Excel accepts for a sheet: at most 31 characters, none of `[]:*?/\`, not blank.
#[must_use]
pub fn sheet_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    let clean = clean.trim_matches('\'').to_string();
    if clean.trim().is_empty() {
        "Sheet".to_string()
    } else {
        clean
    }
}

/// Writes tables as the sheets of one workbook: a bold, frozen header row, text cells (dates as
/// dates), formula-like text marked as text, columns fitted to their contents. `created` is the
/// workbook's creation time as seconds since 1970 (the caller's clock; nothing here reads one).
pub fn write_workbook(sheets: &[(&str, &Table)], created: u64) -> Result<Vec<u8>, WriteError> {
    let mut workbook = Workbook::new();
    let when = ExcelDateTime::from_timestamp(created as i64)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&when));
    let header = Format::new().set_bold();
    let date = Format::new()
        .set_num_format("yyyy-mm-dd")
        .set_align(FormatAlign::Left);
    let text = Format::new().set_quote_prefix();
    let header_text = Format::new().set_bold().set_quote_prefix();
    let mut used: Vec<String> = Vec::new();
    for (name, table) in sheets {
        let mut name = sheet_name(name);
        // Sheet names are unique, case-insensitively.
        let base = name.clone();
        let mut n = 2;
        while used.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
            let suffix = format!(" ({n})");
            name = format!(
                "{}{suffix}",
                base.chars().take(31 - suffix.len()).collect::<String>()
            );
            n += 1;
        }
        used.push(name.clone());
        let sheet = workbook.add_worksheet();
        sheet.set_name(&name)?;
        let too_large = |_| WriteError::TooLarge(name.clone());
        for (c, column) in table.columns.iter().enumerate() {
            let c = u16::try_from(c).map_err(too_large)?;
            if formula_like(column) {
                sheet.write_string_with_format(0, c, column, &header_text)?;
            } else {
                sheet.write_string_with_format(0, c, column, &header)?;
            }
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(too_large)?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(too_large)?;
                if cell.is_empty() {
                    continue;
                }
                if let Some(d) = as_date(cell) {
                    sheet.write_datetime_with_format(r, c, d, &date)?;
                } else if formula_like(cell) {
                    sheet.write_string_with_format(r, c, cell.as_str(), &text)?;
                } else {
                    sheet.write_string(r, c, cell.as_str())?;
                }
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        if table.rows.len() <= 10_000 {
            sheet.autofit();
        }
    }
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests;
