//! A sheet as the page reads it: text or a file's bytes read into a table by the core, either
//! handed to JavaScript (`readCsv`, `readFile`) or kept in WASM memory ([`Sheet`]) so a big file
//! never crosses into JavaScript.

use js_sys::{JsString, Uint8Array};
use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::error::{failing, ErrorCode};
use super::{from_value, to_value};
use crate::sheet::sheetfile::{self, FileError, ReadTable, SheetFile};

/// Reads delimited text (a CSV file's text, or rows pasted from a spreadsheet); throws a
/// `RosterError` (code `read`) naming the problem.
#[wasm_bindgen(js_name = readCsv, unchecked_return_type = "ReadTable")]
pub fn read_csv(text: &JsString) -> Result<JsValue, JsValue> {
    to_value(&Sheet::from_text(text)?.read)
}

/// Reads a file's bytes like `readCsv`, in any encoding and delimiter the core knows; a
/// workbook (.xlsx) is refused (the page opens those with the workbook module).
#[wasm_bindgen(js_name = readFile, unchecked_return_type = "ReadTable")]
pub fn read_file(bytes: &[u8]) -> Result<JsValue, JsValue> {
    to_value(&Sheet::from_bytes(bytes)?.read)
}

#[wasm_bindgen]
extern "C" {
    /// The browser's UTF-8 encoder, and what its `encodeInto` did (UTF-16 units read, bytes
    /// written).
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &TextEncoder, from: &JsString, to: &Uint8Array) -> EncodeIntoResult;
    type EncodeIntoResult;
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeIntoResult) -> f64;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> f64;
}

/// A JavaScript string as Rust text, encoded by the browser straight into WASM memory. (The
/// generated glue for a `&str` argument copies ASCII text one character at a time in
/// JavaScript: 12 ms of a 14 MB sheet's 100 ms; `encodeInto` takes 5.)
pub(super) fn text_from_js(text: &JsString) -> String {
    let units = text.length() as usize;
    let encoder = TextEncoder::new();
    // One byte per code unit first (ASCII text needs no more); what is left after a non-ASCII
    // character gets the most it can need, three bytes per code unit.
    let mut bytes: Vec<u8> = Vec::with_capacity(units);
    let mut read = 0;
    let mut rest = text.clone();
    loop {
        let spare = bytes.spare_capacity_mut();
        // SAFETY: the view covers only the vector's spare capacity, and nothing allocates (so
        // WASM memory cannot grow and move) between making the view and encodeInto's return.
        let view = unsafe { Uint8Array::view_mut_raw(spare.as_mut_ptr().cast(), spare.len()) };
        let done = encoder.encode_into(&rest, &view);
        let written = done.written() as usize;
        // SAFETY: encodeInto wrote (initialised) exactly `written` bytes of the spare capacity.
        unsafe { bytes.set_len(bytes.len() + written) };
        read += done.read() as usize;
        if read >= units {
            break;
        }
        rest = text.substring(read as u32, units as u32);
        bytes.reserve((units - read) * 3);
    }
    // SAFETY: the Encoding Standard's UTF-8 encoder writes only UTF-8 (a lone surrogate becomes
    // U+FFFD), and encodeInto never stops inside a character.
    unsafe { String::from_utf8_unchecked(bytes) }
}

/// A file read by the core and kept in WASM memory: pass it to `planSheet` in place of a
/// table, and the rows never cross into JavaScript (a 50 MB file stays one copy). Planning
/// takes it over.
#[wasm_bindgen]
pub struct Sheet {
    pub(super) read: ReadTable,
}

#[wasm_bindgen]
impl Sheet {
    /// A file's bytes in any encoding and delimiter the core reads (not a workbook).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Sheet, JsValue> {
        Sheet::read(sheetfile::read_bytes(bytes))
    }

    /// Pasted rows.
    #[wasm_bindgen(js_name = fromText)]
    pub fn from_text(text: &JsString) -> Result<Sheet, JsValue> {
        Sheet::read(sheetfile::read_text(&text_from_js(text)))
    }

    /// A table read elsewhere (a workbook sheet).
    #[wasm_bindgen(js_name = fromTable)]
    pub fn from_table(read: Ts<ReadTable>) -> Result<Sheet, JsValue> {
        let read = from_value(read.into(), "Not a table of text cells")?;
        Ok(Sheet { read })
    }

    /// The column names.
    #[wasm_bindgen(getter)]
    pub fn columns(&self) -> Vec<String> {
        self.read.table.columns.clone()
    }

    /// How many data rows.
    #[wasm_bindgen(getter, js_name = rowCount)]
    pub fn row_count(&self) -> usize {
        self.read.table.rows.len()
    }

    /// How the file was read ("semicolon-separated, header on line 3").
    #[wasm_bindgen(getter)]
    pub fn description(&self) -> String {
        self.read.description.clone()
    }

    /// The key under which a host keeps the journal of this sheet as a `kind` sheet (the same
    /// as `journalKey` for the same cells).
    #[wasm_bindgen(js_name = journalKey)]
    pub fn journal_key(&self, kind: &str) -> String {
        crate::run::journal_key(kind, &self.read.table)
    }

    /// The first `count` rows' cells, for a preview (the mapping step).
    #[wasm_bindgen(unchecked_return_type = "string[][]")]
    pub fn head(&self, count: usize) -> Result<JsValue, JsValue> {
        let rows = &self.read.table.rows;
        to_value(&rows[..count.min(rows.len())])
    }

    /// What to know about the file (title rows skipped, ragged rows…).
    #[wasm_bindgen(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.read.notes.clone()
    }
}

impl Sheet {
    /// A file the core read, or a `RosterError` (code `read`) naming the problem.
    fn read(file: Result<SheetFile, FileError>) -> Result<Sheet, JsValue> {
        let read = file.map_err(failing(ErrorCode::Read))?.into();
        Ok(Sheet { read })
    }
}
