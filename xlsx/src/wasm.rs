//! The workbook module's JavaScript surface: `readWorkbook` and `writeWorkbook`.

use crate::{read_workbook, write_workbook};
use qualtrics_roster::table::Table;
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// Reads one sheet (by name, or the first) of an .xlsx file's bytes:
/// `{columns, rows, rowNumbers, sheets, sheet, notes, description}`. Throws an Error whose
/// message says what to do.
#[wasm_bindgen(js_name = readWorkbook)]
pub fn read_workbook_js(bytes: &[u8], sheet: Option<String>) -> Result<JsValue, JsError> {
    let read = read_workbook(bytes, sheet.as_deref()).map_err(|e| JsError::new(&e.to_string()))?;
    let out = serde_json::json!({
        "columns": read.file.table.columns,
        "rows": read.file.table.rows,
        "rowNumbers": read.file.table.row_numbers,
        "sheets": read.sheets,
        "sheet": read.sheet,
        // The page lists notes as text, as it does a CSV file's.
        "notes": read.file.notes.iter().map(|n| n.message.as_str()).collect::<Vec<_>>(),
        "description": read.file.description(),
    });
    use serde::Serialize;
    out.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

#[derive(Deserialize)]
struct NamedTable {
    name: String,
    table: Table,
}

/// Writes `[{name, table}]` as one workbook's sheets and returns the .xlsx bytes.
/// `created_ms` is the caller's clock (Date.now()).
#[wasm_bindgen(js_name = writeWorkbook)]
pub fn write_workbook_js(sheets: JsValue, created_ms: f64) -> Result<Vec<u8>, JsError> {
    let sheets: Vec<NamedTable> =
        serde_wasm_bindgen::from_value(sheets).map_err(|e| JsError::new(&e.to_string()))?;
    let named: Vec<(&str, &Table)> = sheets.iter().map(|s| (s.name.as_str(), &s.table)).collect();
    write_workbook(&named, (created_ms / 1000.0).max(0.0) as u64)
        .map_err(|e| JsError::new(&e.to_string()))
}
