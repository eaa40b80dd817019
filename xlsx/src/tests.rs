use super::*;

fn users() -> Table {
    Table::from_text(
        &[
            "User ID",
            "Username",
            "Expires",
            "Employee no",
            "Note",
            "Hotel",
        ],
        &[
            &[
                "UR_1a2B3c4D5e6F7g8",
                "josé@x.edu",
                "2027-01-31",
                "00123",
                "=HYPERLINK(\"http://evil\")",
                "Seattle::Provo",
            ],
            &["UR_2", "zoë@x.edu", "", "123456789012345678", "-1+2", ""],
            &[
                "UR_3",
                "王@x.edu",
                "2026-12-01",
                "1.50",
                "@SUM(A1)",
                "Boston",
            ],
            &[
                "UR_4",
                "ann@x.edu",
                "2026-13-01",
                "TRUE",
                "+44 20 7946 0000",
                "",
            ],
        ],
    )
}

const NOW: u64 = 1_795_000_000;

#[test]
fn a_workbook_we_write_reads_back_identically() {
    let table = users();
    let bytes = write_workbook(&[("Outcomes", &table), ("Plan", &table)], NOW).unwrap();
    let back = read_workbook(&bytes, None).unwrap();
    assert_eq!(back.sheets, vec!["Outcomes", "Plan"]);
    assert_eq!(back.sheet, "Outcomes");
    assert_eq!(back.file.table.columns, table.columns);
    assert_eq!(back.file.table.rows, table.rows);
    assert_eq!(back.file.table.row_numbers, vec![2, 3, 4, 5]);
    assert_eq!(back.file.encoding, "xlsx");
    assert_eq!(back.file.description(), "Excel workbook, header on row 1");
    assert_eq!(
        messages(&back.file.notes),
        vec!["The workbook has 2 sheets; this is \"Outcomes\" (the first). To use another, choose it by name."]
    );
    let plan = read_workbook(&bytes, Some("Plan")).unwrap();
    assert_eq!(plan.file.table.rows, table.rows);
    assert!(plan.file.notes[0]
        .message
        .contains("this is \"Plan\". To use another"));
}

#[test]
fn formula_like_text_is_a_quote_prefixed_string_never_a_formula() {
    let bytes = write_workbook(&[("Outcomes", &users())], NOW).unwrap();
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes.as_slice())).unwrap();
    let formulas = workbook.worksheet_formula("Outcomes").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell is a formula"
    );
    let range = workbook.worksheet_range("Outcomes").unwrap();
    assert_eq!(
        range.get_value((1, 4)),
        Some(&calamine::Data::String(
            "=HYPERLINK(\"http://evil\")".into()
        ))
    );
    // The real date is a date cell; the impossible one stays the text it was.
    assert!(matches!(
        range.get_value((1, 2)),
        Some(calamine::Data::DateTime(_))
    ));
    assert_eq!(
        range.get_value((4, 2)),
        Some(&calamine::Data::String("2026-13-01".into()))
    );
}

#[test]
fn numbers_and_dates_typed_in_excel_read_as_excel_shows_them() {
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new().set_creation_datetime(&ExcelDateTime::from_timestamp(0).unwrap()),
    );
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (c, h) in ["Employee no", "Score", "Big", "Expires", "Seen", "Active"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_number(1, 0, 12345.0).unwrap();
    sheet.write_number(1, 1, 1.5).unwrap();
    sheet.write_number(1, 2, 1e20).unwrap();
    let d = ExcelDateTime::from_ymd(2027, 1, 31).unwrap();
    sheet.write_datetime_with_format(1, 3, &d, &date).unwrap();
    let t = ExcelDateTime::parse_from_str("2026-11-22T09:30:00").unwrap();
    sheet.write_datetime_with_format(1, 4, &t, &stamp).unwrap();
    sheet.write_boolean(1, 5, true).unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    let read = read_workbook(&bytes, None).unwrap();
    assert_eq!(
        read.file.table.rows,
        vec![vec![
            "12345",
            "1.5",
            "100000000000000000000",
            "2027-01-31",
            "2026-11-22T09:30:00",
            "TRUE"
        ]]
    );
    assert!(read.file.notes.is_empty(), "{:?}", read.file.notes);
}

#[test]
fn title_rows_and_gaps_in_a_sheet_are_handled_like_a_csv_file() {
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new().set_creation_datetime(&ExcelDateTime::from_timestamp(0).unwrap()),
    );
    let sheet = workbook.add_worksheet();
    sheet
        .write_string(0, 0, "Users of the Seattle hotel")
        .unwrap();
    for (c, h) in ["User ID", "Action", "Note"].iter().enumerate() {
        sheet.write_string(2, c as u16 + 1, *h).unwrap();
    }
    sheet.write_string(3, 1, "UR_1").unwrap();
    sheet.write_string(3, 2, "disable").unwrap();
    sheet.write_string(5, 1, "UR_2").unwrap();
    sheet.write_string(5, 3, "left").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    let read = read_workbook(&bytes, None).unwrap();
    assert_eq!(read.file.header_line, 3);
    // Column A is empty and has no name: it stays, as a blank column, so letters still match.
    assert_eq!(
        read.file.table.columns,
        vec!["", "User ID", "Action", "Note"]
    );
    assert_eq!(
        read.file.table.rows,
        vec![
            vec!["", "UR_1", "disable", ""],
            vec!["", "UR_2", "", "left"]
        ]
    );
    assert_eq!(read.file.table.row_numbers, vec![4, 6]);
    assert_eq!(
        messages(&read.file.notes),
        vec!["Line 1 above the header was skipped as a title: the header row is line 3."]
    );
}

#[test]
fn bad_workbooks_get_a_message_that_says_what_to_do() {
    let msg =
        |bytes: &[u8], sheet: Option<&str>| read_workbook(bytes, sheet).unwrap_err().to_string();
    // An empty ZIP archive (only its end-of-directory record).
    let empty_zip = [b"PK\x05\x06".as_slice(), &[0u8; 18]].concat();
    assert_eq!(msg(&empty_zip, None), "This ZIP file is not an Excel workbook (.xlsx): choose the workbook itself, or save it from Excel as .xlsx or \"CSV UTF-8\".");
    assert_eq!(msg(b"PK\x03\x04garbage", None), "The workbook is damaged or incomplete (perhaps a download that did not finish): open it in Excel and save it again, or export it again, and choose it again.");
    assert!(msg(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0", None)
        .starts_with("This is a password-protected workbook"));
    assert_eq!(msg(b"User ID\nUR_1\n", None), msg(&empty_zip, None));

    let table = users();
    let names: Vec<String> = (1..=20).map(|i| format!("Sheet {i}")).collect();
    let sheets: Vec<(&str, &Table)> = names.iter().map(|n| (n.as_str(), &table)).collect();
    let twenty = write_workbook(&sheets, NOW).unwrap();
    assert_eq!(
        msg(&twenty, Some("Users")),
        "The workbook has no sheet named \"Users\": its sheets are \"Sheet 1\", \"Sheet 2\", \"Sheet 3\", \"Sheet 4\", \"Sheet 5\", \"Sheet 6\", \"Sheet 7\", \"Sheet 8\", \"Sheet 9\", \"Sheet 10\", and 10 more."
    );
    let read = read_workbook(&twenty, None).unwrap();
    assert_eq!(read.file.notes[0].message, "The workbook has 20 sheets; this is \"Sheet 1\" (the first). To use another, choose it by name.");

    let header_only = Table::from_text(&["User ID"], &[]);
    let bytes = write_workbook(&[("Users", &header_only)], NOW).unwrap();
    assert_eq!(msg(&bytes, None), "Sheet \"Users\": The file has a header row (line 1) but no rows below it: add one row per user under the header.");
    let blank = write_workbook(&[("Users", &Table::default())], NOW).unwrap();
    assert_eq!(msg(&blank, None), "Sheet \"Users\": The file is empty: it needs a header row (for example \"User ID\") and one row per user.");

    let mut wide = Workbook::new();
    wide.set_properties(
        &DocProperties::new().set_creation_datetime(&ExcelDateTime::from_timestamp(0).unwrap()),
    );
    let s = wide.add_worksheet();
    s.write_string(0, 0, "User ID").unwrap();
    s.write_string(1, 0, "UR_1").unwrap();
    s.write_string(1, 16_383, "stray").unwrap();
    let bytes = wide.save_to_buffer().unwrap();
    assert_eq!(msg(&bytes, None), "Sheet \"Sheet1\" has a value in column XFD, beyond the 1000 columns a user sheet can use: delete the stray cells to the right of the table and save it again.");
}

#[test]
fn sheet_names_are_made_acceptable_to_excel() {
    assert_eq!(
        sheet_name("Plan: Seattle/Provo [2026]"),
        "Plan_ Seattle_Provo _2026_"
    );
    assert_eq!(
        sheet_name("A very long sheet name that Excel refuses"),
        "A very long sheet name that Exc"
    );
    assert_eq!(sheet_name("  "), "Sheet");
    let t = Table::from_text(&["A"], &[&["1"]]);
    let bytes = write_workbook(&[("Plan", &t), ("plan", &t)], NOW).unwrap();
    assert_eq!(
        read_workbook(&bytes, None).unwrap().sheets,
        vec!["Plan", "plan (2)"]
    );
}

/// The messages of a file's notes, in order.
fn messages(notes: &[qualtrics_roster::sheet::problem::Problem]) -> Vec<&str> {
    notes.iter().map(|n| n.message.as_str()).collect()
}
