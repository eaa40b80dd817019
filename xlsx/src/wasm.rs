//! The workbook module's JavaScript surface: `readWorkbook` and `writeWorkbook`, typed with the
//! core module's declarations (its `ReadTable` and `Table`), failing with the core's
//! `RosterError` (code `read` or `input`).

use crate::{read_workbook, write_workbook};
use qualtrics_roster::sheet::table::Table;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// One sheet of a workbook as the page gets it: the core's `ReadTable`, with the workbook's
/// sheet names and the one read.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkbookSheet<'a> {
    #[serde(flatten)]
    table: &'a Table,
    sheets: &'a [String],
    sheet: &'a str,
    // The page lists notes as text, as it does a CSV file's.
    notes: Vec<&'a str>,
    description: String,
}

/// Reads one sheet (by name, or the first) of an .xlsx file's bytes. Throws a `RosterError`
/// (code `read`) whose message says what to do.
#[wasm_bindgen(
    js_name = readWorkbook,
    unchecked_return_type = "import('./qualtrics_roster.js').ReadTable & { sheets: string[], sheet: string }"
)]
pub fn read_workbook_js(bytes: &[u8], sheet: Option<String>) -> Result<JsValue, JsValue> {
    let read = read_workbook(bytes, sheet.as_deref()).map_err(|e| fail("read", e))?;
    let out = WorkbookSheet {
        table: &read.file.table,
        sheets: &read.sheets,
        sheet: &read.sheet,
        notes: read.file.notes.iter().map(|n| n.message.as_str()).collect(),
        description: read.file.description(),
    };
    out.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| fail("input", e))
}

#[derive(Deserialize)]
struct NamedTable {
    name: String,
    table: Table,
}

/// Writes the sheets, in order, as one workbook and returns the .xlsx bytes. `created_ms` is
/// the caller's clock (Date.now()).
#[wasm_bindgen(js_name = writeWorkbook)]
pub fn write_workbook_js(
    #[wasm_bindgen(
        unchecked_param_type = "{ name: string, table: import('./qualtrics_roster.js').Table }[]"
    )]
    sheets: JsValue,
    created_ms: f64,
) -> Result<Vec<u8>, JsValue> {
    let sheets: Vec<NamedTable> =
        serde_wasm_bindgen::from_value(sheets).map_err(|e| fail("input", e))?;
    let named: Vec<(&str, &Table)> = sheets.iter().map(|s| (s.name.as_str(), &s.table)).collect();
    write_workbook(&named, (created_ms / 1000.0).max(0.0) as u64).map_err(|e| fail("input", e))
}

/// The core's `RosterError` (see its bindings' `error.rs`): an `Error` named `RosterError`
/// with `code`.
fn fail(code: &str, what: impl std::fmt::Display) -> JsValue {
    let error = js_sys::Error::new(&what.to_string());
    error.set_name("RosterError");
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &code.into());
    error.into()
}
