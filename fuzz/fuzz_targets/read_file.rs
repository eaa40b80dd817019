//! A file's bytes as the page and the command line read them: container checks, decoding
//! (BOMs, UTF-16 without BOM, Windows-1252), `sep=` lines, delimiter sniffing, title rows,
//! the CSV reader, ragged rows and duplicate columns. Then the same bytes as (lossily decoded)
//! text, as pasted rows arrive.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qualtrics_roster::sheet::sheetfile::{self, SheetFile};

fn use_file(file: &SheetFile) {
    let _ = file.description();
    let _ = file.table.header_problem();
    for i in 0..file.table.rows.len().min(64) {
        let _ = file.table.row_number(i);
    }
    let _ = file.table.to_csv();
}

fuzz_target!(|data: &[u8]| {
    match sheetfile::read_bytes(data) {
        Ok(file) => use_file(&file),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let text = String::from_utf8_lossy(data);
    match sheetfile::read_text(&text) {
        Ok(file) => use_file(&file),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
