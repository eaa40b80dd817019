//! An .xlsx workbook's bytes through the workbook reader: ZIP, workbook XML, shared strings,
//! cell types, the column limit, then the core's header detection and notes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match qualtrics_roster_xlsx::read_workbook(data, None) {
        Ok(sheet) => {
            let _ = sheet.file.description();
            let _ = sheet.file.table.header_problem();
            // A named sheet other than the first, as the page asks for after listing them.
            if let Some(last) = sheet.sheets.last().filter(|s| **s != sheet.sheet) {
                if let Err(e) = qualtrics_roster_xlsx::read_workbook(data, Some(last)) {
                    let _ = e.to_string();
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
