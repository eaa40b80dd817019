//! Files as administrators really have them, read into a [`Table`]: bytes in UTF-8 (with or
//! without a byte-order mark), UTF-16 ("Unicode text" from Excel) or Windows-1252 ("CSV (Comma
//! delimited)" from Excel on Windows); separated by commas, semicolons, tabs or bars, or as a
//! `sep=;` first line says; title rows above the header; trailing empty rows and columns.
//!
//! What was found (encoding, delimiter, header line) and what looks wrong (ragged rows,
//! duplicate column names) comes back as notes a person can read; what cannot be read at all
//! comes back as a [`FileError`] that says what to do.

use crate::sheet::problem::{Problem, Severity};
use crate::sheet::table::{cell, looks_like_data, Cell, Table};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// The most data rows one file may hold. Beyond it a run is better split: the page keeps every
/// row and its outcome in memory, and a brand rarely has more users than this.
pub const MAX_ROWS: usize = 500_000;

/// How many records at the top may be title rows above the header.
const HEADER_SEARCH: usize = 20;

/// The delimiters tried, in order of preference when two fit equally well.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Why a file could not be read as a table. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Zero bytes.
    #[error("The file is empty (0 bytes): export it again from where it came from, or choose another file.")]
    ZeroBytes,
    /// Nothing but blank lines (or separators).
    #[error(
        "The file is empty: it needs a header row (for example \"User ID\") and one row per user."
    )]
    Empty,
    /// A header row but no data rows.
    #[error("The file has a header row (line {header_line}) but no rows below it: add one row per user under the header.")]
    NoRows {
        /// Line of the header row.
        header_line: u32,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("The file has more than {max} rows: split it into files of at most {max} rows each and run them one after another.", max = group_thousands(MAX_ROWS))]
    TooManyRows,
    /// A ZIP container: an .xlsx workbook (or another ZIP file), which the workbook reader opens.
    #[error("This is an Excel workbook (.xlsx) or another ZIP file, not CSV text: choose it as a workbook, or save it from Excel as \"CSV UTF-8\".")]
    Zip,
    /// An OLE compound file: an encrypted (password-protected) workbook or an Excel 97-2003 file.
    #[error("This is a password-protected workbook or an Excel 97-2003 (.xls) file, which cannot be opened here: in Excel, remove the password (File > Info > Protect Workbook > Encrypt with Password) or save it as .xlsx or \"CSV UTF-8\", and choose it again.")]
    ProtectedOrLegacy,
    /// Not text at all.
    #[error("This is not a text file (it looks like {0}): choose a CSV or text file (UTF-8, UTF-16 or Windows-1252), or an Excel workbook (.xlsx).")]
    Binary(&'static str),
    /// The CSV reader stopped.
    #[error("Line {line}: {message}")]
    Malformed {
        /// Line number in the file.
        line: u64,
        /// What went wrong.
        message: String,
    },
}

/// A file read into a table, with what was found on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SheetFile {
    /// The header and rows (rows carry their line numbers in the file).
    pub table: Table,
    /// The encoding the bytes were read in: "UTF-8", "UTF-16LE", "UTF-16BE" or "windows-1252"
    /// ("xlsx" for a workbook sheet).
    pub encoding: &'static str,
    /// The column separator (`,`, `;`, a tab or `|`); none for a workbook sheet.
    pub delimiter: Option<char>,
    /// The line of the header row (1 unless title rows or a `sep=` line come first).
    pub header_line: u32,
    /// What a person should know about the file: title rows skipped, ragged rows, duplicate
    /// column names, the encoding when it was not UTF-8 (warnings about the sheet as a whole).
    pub notes: Vec<Problem>,
}

/// A file or pasted text as a host shows it: the table, how it was read, what to know (the
/// file's notes, as sentences: they are about the file as a whole).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct ReadTable {
    /// The header and rows.
    #[serde(flatten)]
    pub table: Table,
    /// How it was read ("semicolon-separated, header on line 3").
    #[serde(default)]
    pub description: String,
    /// What to know about the file (title rows skipped, ragged rows…).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl From<SheetFile> for ReadTable {
    fn from(file: SheetFile) -> ReadTable {
        ReadTable {
            description: file.description(),
            notes: file.notes.into_iter().map(|n| n.message).collect(),
            table: file.table,
        }
    }
}

impl Table {
    /// Reads delimited text (a CSV file's text, or rows pasted from a spreadsheet): the
    /// delimiter is sniffed, title rows above the header are skipped, blank rows are skipped and
    /// each row keeps its line number. See [`read_bytes`] for bytes and [`read_text`] for the
    /// notes. (Here, beside the reader, so that the table knows nothing of files.)
    pub fn from_csv(text: &str) -> Result<Table, FileError> {
        read_text(text).map(|f| f.table)
    }
}

/// A note about the file as a whole (row 0, a warning: the file is still read).
#[must_use]
pub fn note(message: String) -> Problem {
    Problem::sheet("", Severity::Warning, message)
}

impl SheetFile {
    /// One line saying how the file was read, for the page's summary (the encoding only when it
    /// is not UTF-8).
    #[must_use]
    pub fn description(&self) -> String {
        let delimiter = match self.delimiter {
            None => return format!("Excel workbook, header on row {}", self.header_line),
            Some(',') => "comma-separated",
            Some(';') => "semicolon-separated",
            Some('\t') => "tab-separated",
            Some(_) => "bar-separated",
        };
        match self.encoding {
            "UTF-8" => format!("{delimiter}, header on line {}", self.header_line),
            other => format!("{other}, {delimiter}, header on line {}", self.header_line),
        }
    }
}

/// What the first bytes say a file is, before any decoding.
fn check_container(bytes: &[u8]) -> Result<(), FileError> {
    const MAGIC: [(&[u8], &str); 9] = [
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"Rar!", "a RAR archive"),
        (b"MZ", "a Windows program"),
        (b"\x7FELF", "a program"),
    ];
    if bytes.is_empty() {
        return Err(FileError::ZeroBytes);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Err(FileError::Zip);
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Err(FileError::ProtectedOrLegacy);
    }
    match MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        Some((_, what)) => Err(FileError::Binary(what)),
        None => Ok(()),
    }
}

/// UTF-16 without a byte-order mark (in Latin text every other byte is zero): whether it is
/// big-endian.
fn utf16_without_bom(bytes: &[u8]) -> Option<bool> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let zero_at = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zero_at(0), zero_at(1));
    if odd * 10 >= pairs * 7 && even * 10 < pairs {
        Some(false)
    } else if even * 10 >= pairs * 7 && odd * 10 < pairs {
        Some(true)
    } else {
        None
    }
}

/// Decodes bytes to text: a byte-order mark decides, else UTF-16 recognised by its zero bytes,
/// else UTF-8 when the bytes are valid UTF-8, else Windows-1252 (Excel's "CSV (Comma
/// delimited)" on Windows in Western Europe and the Americas). Returns the text and the
/// encoding's name. Malformed sequences become U+FFFD.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), FileError> {
    check_container(bytes)?;
    // encoding_rs's `mem` converters only: its `Encoding` decoders dispatch over every encoding
    // it knows and would bring all their tables (170 KB) into the page's WASM.
    let (text, name) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        (String::from_utf8_lossy(rest), "UTF-8")
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        (Cow::Owned(decode_utf16(rest, false)), "UTF-16LE")
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        (Cow::Owned(decode_utf16(rest, true)), "UTF-16BE")
    } else if let Some(big_endian) = utf16_without_bom(bytes) {
        let name = if big_endian { "UTF-16BE" } else { "UTF-16LE" };
        (Cow::Owned(decode_utf16(bytes, big_endian)), name)
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        (Cow::Borrowed(text), "UTF-8")
    } else {
        (Cow::Owned(decode_windows_1252(bytes)), "windows-1252")
    };
    if looks_binary(&text) {
        return Err(FileError::Binary("binary data"));
    }
    Ok((text, name))
}

/// UTF-16 code units from bytes (an odd last byte is dropped), converted by encoding_rs
/// (unpaired surrogates become U+FFFD).
fn decode_utf16(bytes: &[u8], big_endian: bool) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| {
            if big_endian {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                u16::from_le_bytes([p[0], p[1]])
            }
        })
        .collect();
    let mut out = vec![0u8; units.len() * 3];
    let written = encoding_rs::mem::convert_utf16_to_utf8(&units, &mut out);
    out.truncate(written);
    String::from_utf8(out).expect("encoding_rs writes UTF-8")
}

/// Windows-1252 as the WHATWG Encoding Standard (and encoding_rs) defines it: Latin-1, except
/// that bytes 0x80 to 0x9F are typographic characters (€, quotes, dashes…).
fn decode_windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    encoding_rs::mem::decode_latin1(bytes)
        .chars()
        .map(|c| match c as u32 {
            0x80..=0x9F => HIGH[c as usize - 0x80],
            _ => c,
        })
        .collect()
}

/// Text with NULs or many control characters near its start is not a table.
fn looks_binary(text: &str) -> bool {
    let mut seen = 0usize;
    let mut control = 0usize;
    for c in text.chars().take(8192) {
        seen += 1;
        if c == '\0' {
            return true;
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0C') {
            control += 1;
        }
    }
    seen > 0 && control * 20 > seen
}

/// Reads a file's bytes as a table: decoding, delimiter, header row, as the module says.
pub fn read_bytes(bytes: &[u8]) -> Result<SheetFile, FileError> {
    let (text, encoding) = decode(bytes)?;
    let mut file = read_text(&text)?;
    file.encoding = encoding;
    if encoding == "windows-1252" {
        // A guess (the bytes were not UTF-8): say so, where a wrong guess would show.
        file.notes.insert(
            0,
            note("Read as Windows-1252 text (the file is not UTF-8): check that accented letters look right in the plan.".to_string()),
        );
    }
    Ok(file)
}

/// Reads text (a decoded file, or rows pasted from a spreadsheet) as a table.
pub fn read_text(text: &str) -> Result<SheetFile, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (body, first_line, sep) = split_sep_line(text);
    let delimiter = sep.unwrap_or_else(|| sniff_delimiter(body));
    let mut moved = Vec::new();
    let records = read_records(body, delimiter, first_line, &mut moved)?;
    let mut file = from_records(records, true)?;
    file.delimiter = Some(delimiter as char);
    if !moved.is_empty() {
        // Quoted cells spanning lines: each row keeps its line too, for messages.
        let line_of: HashMap<u32, u32> = moved.into_iter().collect();
        file.table.lines = file
            .table
            .row_numbers
            .iter()
            .map(|r| line_of.get(r).copied().unwrap_or(*r))
            .collect();
    }
    Ok(file)
}

/// A table from the non-blank records of a file or sheet, each with its line (row) number:
/// the header row found below any title rows, trailing empty columns dropped, ragged rows and
/// duplicate column names noted; short rows are padded with blank cells (and noted when
/// `note_short_rows`: in a CSV file they mean missing separators, in a workbook only empty
/// cells). The result says "UTF-8" and no delimiter; callers set those.
pub fn from_records(
    records: Vec<(u32, Vec<Cell>)>,
    note_short_rows: bool,
) -> Result<SheetFile, FileError> {
    let mut notes = Vec::new();
    let header_at = find_header(&records);
    let Some((header_line, header)) = records.get(header_at).cloned() else {
        return Err(FileError::Empty);
    };
    if header_at > 0 {
        let first = records[0].0;
        let skipped = if header_at == 1 {
            format!("Line {first} above the header was")
        } else {
            format!(
                "Lines {first} to {} above the header were",
                records[header_at - 1].0
            )
        };
        notes.push(note(format!(
            "{skipped} skipped as a title: the header row is line {header_line}."
        )));
    }
    let mut columns: Vec<String> = header.iter().map(|c| c.trim().to_string()).collect();
    let data = &records[header_at + 1..];
    // Trailing columns with no name and no value anywhere are dropped.
    while columns.last().is_some_and(String::is_empty)
        && data
            .iter()
            .all(|(_, r)| r.get(columns.len() - 1).is_none_or(|c| c.trim().is_empty()))
    {
        columns.pop();
    }
    let width = columns.len();
    let mut long = Vec::new();
    let mut short = Vec::new();
    let mut table = Table {
        columns,
        rows: Vec::with_capacity(data.len()),
        row_numbers: Vec::with_capacity(data.len()),
        lines: Vec::new(),
    };
    for (line, mut row) in records.into_iter().skip(header_at + 1) {
        if row.len() > width {
            if row[width..].iter().any(|c| !c.trim().is_empty()) {
                long.push(line);
            }
            row.truncate(width);
        } else if row.len() < width {
            if note_short_rows {
                short.push(line);
            }
            row.resize(width, Cell::default());
        }
        table.rows.push(row);
        table.row_numbers.push(line);
    }
    if table.rows.is_empty() {
        return Err(FileError::NoRows { header_line });
    }
    if table.rows.len() > MAX_ROWS {
        return Err(FileError::TooManyRows);
    }
    if !long.is_empty() {
        notes.push(note(format!(
            "{} more values than the header has columns ({width}): the values to the right of the last named column are ignored; give those columns a name in the header row if they matter.",
            lines_phrase(&long, "has", "have")
        )));
    }
    if !short.is_empty() {
        notes.push(note(format!(
            "{} fewer values than the header has columns ({width}): the missing cells are read as blank.",
            lines_phrase(&short, "has", "have")
        )));
    }
    notes.extend(duplicate_columns(&table.columns));
    Ok(SheetFile {
        table,
        encoding: "UTF-8",
        delimiter: None,
        header_line,
        notes,
    })
}

/// "Line 7 has" or "Lines 7, 9 and 3 more have": at most five line numbers named.
fn lines_phrase(lines: &[u32], one: &str, many: &str) -> String {
    const SHOWN: usize = 5;
    let named: Vec<String> = lines.iter().take(SHOWN).map(u32::to_string).collect();
    match lines.len() {
        1 => format!("Line {} {one}", named[0]),
        n if n <= SHOWN => format!("Lines {} {many}", named.join(", ")),
        n => format!("Lines {} and {} more {many}", named.join(", "), n - SHOWN),
    }
}

/// The spreadsheet letter of a 0-based column: A, B, …, Z, AA, …
#[must_use]
pub fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

/// A note for each name that two or more columns share (case and spaces ignored).
fn duplicate_columns(columns: &[String]) -> Vec<Problem> {
    let key = |c: &str| c.trim().to_lowercase();
    let mut notes = Vec::new();
    for (i, name) in columns.iter().enumerate() {
        if name.is_empty() || columns[..i].iter().any(|c| key(c) == key(name)) {
            continue;
        }
        let same: Vec<String> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| key(c) == key(name))
            .map(|(j, _)| column_letter(j))
            .collect();
        if same.len() > 1 {
            notes.push(note(format!(
                "Columns {} are all named \"{name}\": keep one of them: a plan refuses a sheet whose columns it cannot tell apart.",
                same.join(", ")
            )));
        }
    }
    notes
}

/// A `sep=X` first line (Excel's own hint) names the delimiter; it is not a row.
fn split_sep_line(text: &str) -> (&str, u32, Option<u8>) {
    let end = text.find('\n').unwrap_or(text.len());
    let line = text[..end].trim_end_matches('\r').trim_matches('"');
    if let Some(rest) = line
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("sep="))
        .map(|_| &line[4..])
    {
        if let [d] = rest.as_bytes() {
            if d.is_ascii_punctuation() || *d == b'\t' || *d == b' ' {
                return (text.get(end + 1..).unwrap_or(""), 2, Some(*d));
            }
        }
    }
    (text, 1, None)
}

/// The delimiter that splits the first lines most consistently into more than one column.
fn sniff_delimiter(text: &str) -> u8 {
    // About the first 64 KB, cut at a line end.
    let mut cut = text.len().min(64 * 1024);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let sample = match text[..cut].rfind('\n') {
        Some(n) if cut < text.len() => &text[..n],
        _ => &text[..cut],
    };
    let mut best = (b',', 0usize, 0usize);
    let unquoted = memchr::memchr(b'"', sample.as_bytes()).is_none();
    for d in DELIMITERS {
        let counts = if unquoted {
            unquoted_record_widths(sample, d)
        } else {
            csv_record_widths(sample, d)
        };
        // The most common width above 1, and how many records have it.
        let mut widths: Vec<(usize, usize)> = Vec::new();
        for c in counts.iter().copied().filter(|c| *c > 1) {
            match widths.iter_mut().find(|(w, _)| *w == c) {
                Some((_, n)) => *n += 1,
                None => widths.push((c, 1)),
            }
        }
        if let Some((width, agree)) = widths.into_iter().max_by_key(|(w, n)| (*n, *w)) {
            if (agree, width) > (best.1, best.2) {
                best = (d, agree, width);
            }
        }
    }
    best.0
}

/// How many records [`sniff_delimiter`] looks at.
const SNIFFED_RECORDS: usize = 200;

/// The widths of the first non-blank records, by the CSV reader.
fn csv_record_widths(sample: &str, delimiter: u8) -> Vec<usize> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(sample.as_bytes());
    let mut widths = Vec::new();
    let mut record = csv::StringRecord::new();
    while widths.len() < SNIFFED_RECORDS && reader.read_record(&mut record).unwrap_or(false) {
        if record.iter().any(|c| !c.trim().is_empty()) {
            widths.push(record.len());
        }
    }
    widths
}

/// [`csv_record_widths`] for quote-free text, by counting delimiters.
fn unquoted_record_widths(sample: &str, delimiter: u8) -> Vec<usize> {
    unquoted_lines(sample, 1)
        .filter(|(_, text)| {
            text.split(char::from(delimiter))
                .any(|c| !c.trim().is_empty())
        })
        .map(|(_, text)| text.bytes().filter(|b| *b == delimiter).count() + 1)
        .take(SNIFFED_RECORDS)
        .collect()
}

/// Every non-blank record with its starting line, cells as they are.
fn read_records(
    body: &str,
    delimiter: u8,
    first_line: u32,
    moved: &mut Vec<(u32, u32)>,
) -> Result<Vec<(u32, Vec<Cell>)>, FileError> {
    if memchr::memchr(b'"', body.as_bytes()).is_none() {
        read_unquoted_records(body, delimiter, first_line)
    } else {
        read_csv_records(body, delimiter, first_line, moved)
    }
}

/// [`read_records`] by the CSV reader (quoted cells, delimiters and line breaks inside quotes).
/// Records are numbered as a spreadsheet shows them (a cell's own line breaks do not start a
/// row); `moved` gets `(row, line)` for each record whose file line is not its row number.
fn read_csv_records(
    body: &str,
    delimiter: u8,
    first_line: u32,
    moved: &mut Vec<(u32, u32)>,
) -> Result<Vec<(u32, Vec<Cell>)>, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let mut lines = LineCounter {
        text: body.as_bytes(),
        at: 0,
        line: first_line,
    };
    let mut records = Vec::new();
    // Line breaks inside the quoted cells read so far: lines that start no spreadsheet row.
    let mut inside_cells = 0u32;
    // One record reused for every line: the reader fills it in place.
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(FileError::Malformed {
                    line: e.position().map_or(0, |p| p.line()),
                    message: e.to_string(),
                })
            }
        }
        let line = lines.line_of(record.position().map_or(0, |p| p.byte()));
        let row = line - inside_cells;
        inside_cells += record
            .iter()
            .map(|c| memchr::memchr_iter(b'\n', c.as_bytes()).count() as u32)
            .sum::<u32>();
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if records.len() > MAX_ROWS + HEADER_SEARCH {
            return Err(FileError::TooManyRows);
        }
        if row != line {
            moved.push((row, line));
        }
        records.push((row, record.iter().map(Cell::new).collect()));
    }
    if records.is_empty() {
        return Err(FileError::Empty);
    }
    Ok(records)
}

/// [`read_records`] for text without a quote character, where CSV is plain: a record is a line
/// (ended by `\n`, `\r` or `\r\n`, as the CSV reader takes them) and cells are split at every
/// delimiter. The same records as the CSV reader, without its copying of every record (most
/// exported user sheets have no quotes; a 100,000-row sheet reads in half the time).
fn read_unquoted_records(
    body: &str,
    delimiter: u8,
    first_line: u32,
) -> Result<Vec<(u32, Vec<Cell>)>, FileError> {
    let bytes = body.as_bytes();
    let mut records = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut line = first_line;
    // Where the current cell and the current line start.
    let (mut from, mut line_start) = (0, 0);
    // One pass over every delimiter and line end (an ASCII byte never splits a character).
    let ends = memchr::memchr3_iter(delimiter, b'\n', b'\r', bytes).chain([bytes.len()]);
    for at in ends {
        let byte = bytes.get(at).copied().unwrap_or(b'\n');
        if byte == delimiter {
            cells.push(cell(&body[from..at]));
            from = at + 1;
            continue;
        }
        if at > line_start {
            cells.push(cell(&body[from..at]));
            let width = cells.len();
            let row = std::mem::replace(&mut cells, Vec::with_capacity(width));
            if !row.iter().all(|c| c.trim().is_empty()) {
                if records.len() > MAX_ROWS + HEADER_SEARCH {
                    return Err(FileError::TooManyRows);
                }
                records.push((line, row));
            } else {
                cells = row;
                cells.clear();
            }
        }
        if byte == b'\n' {
            line += 1;
        }
        from = at + 1;
        line_start = at + 1;
    }
    if records.is_empty() {
        return Err(FileError::Empty);
    }
    Ok(records)
}

/// The non-empty lines of quote-free text with their numbers: lines end at `\n`, `\r` or
/// `\r\n` (as the CSV reader takes them), and only `\n` counts as a new line number.
fn unquoted_lines(body: &str, first_line: u32) -> impl Iterator<Item = (u32, &str)> {
    let bytes = body.as_bytes();
    let mut line = first_line;
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < bytes.len() {
            let end =
                memchr::memchr2(b'\n', b'\r', &bytes[start..]).map_or(bytes.len(), |n| start + n);
            let found = (line, &body[start..end]);
            if bytes.get(end) == Some(&b'\n') {
                line += 1;
            }
            start = end + 1;
            if !found.1.is_empty() {
                return Some(found);
            }
        }
        None
    })
}

/// The header row: the first record that names at least half as many columns as the widest
/// record near the top (title rows such as "User export" or "Generated on …" name one or two),
/// unless that record holds values, in which case the first record is the header.
fn find_header(records: &[(u32, Vec<Cell>)]) -> usize {
    let filled = |r: &Vec<Cell>| r.iter().filter(|c| !c.trim().is_empty()).count();
    let top = &records[..records.len().min(HEADER_SEARCH)];
    let widest = top.iter().map(|(_, r)| filled(r)).max().unwrap_or(0);
    if widest <= 1 {
        return 0;
    }
    let enough = widest.div_ceil(2).max(2);
    // A row of values (a user id, an address) is data, not a header below a title.
    top.iter()
        .position(|(_, r)| filled(r) >= enough)
        .filter(|at| !records[*at].1.iter().any(|c| looks_like_data(c)))
        .unwrap_or(0)
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
#[path = "sheetfile_tests.rs"]
mod tests;
