//! The corpus of bad and odd files under tests/bad-files: each reads to the exact message (or
//! the notes and row count) listed in its expected.json, as the page's worker reads it.

use qualtrics_roster_xlsx::read_any;
use std::path::Path;

#[test]
fn every_file_in_the_corpus_gets_its_expected_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bad-files");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let expected = expected.as_object().unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name == "expected.json" {
            continue;
        }
        let want = expected
            .get(&name)
            .unwrap_or_else(|| panic!("{name} has no entry in expected.json"));
        let got = read_any(&std::fs::read(&path).unwrap(), &name, None);
        match (want.get("error"), got) {
            (Some(message), Err(e)) => {
                assert_eq!(e.to_string(), message.as_str().unwrap(), "{name}")
            }
            (None, Ok(file)) => {
                assert_eq!(
                    file.table.rows.len() as u64,
                    want["rows"].as_u64().unwrap(),
                    "{name}"
                );
                let notes: Vec<String> = serde_json::from_value(want["notes"].clone()).unwrap();
                let got: Vec<&str> = file.notes.iter().map(|n| n.message.as_str()).collect();
                assert_eq!(got, notes, "{name}");
            }
            (want, got) => panic!("{name}: expected {want:?}, got {got:?}"),
        }
        seen += 1;
    }
    assert_eq!(
        seen,
        expected.len(),
        "every expected.json entry has its file"
    );
}
