//! Inputs the fuzz targets found crashing (fuzz/regressions/read_xlsx/): each now reads to a
//! message, not a panic.

use qualtrics_roster_xlsx::read_workbook;
use std::path::Path;

#[test]
fn workbooks_that_crashed_the_reader_now_get_a_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/read_xlsx");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // Damaged, or read: either way an answer, never a panic.
        if let Err(e) = read_workbook(&bytes, None) {
            assert!(!e.to_string().is_empty(), "{}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 3, "the regression inputs are there ({seen})");
}
