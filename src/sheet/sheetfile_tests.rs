use super::*;

/// The table every encoding x delimiter combination must read to: accents Windows-1252 can
/// carry, a quoted delimiter of every kind, a quoted line break, an empty cell.
fn expected() -> Table {
    Table::from_text(
        &["Username", "First Name", "Last Name", "Hotel", "Note"],
        &[
            &[
                "jose@x.edu",
                "José",
                "Núñez",
                "Seattle::Provo",
                "a, b; c\td|e",
            ],
            &["zoe@x.edu", "Zoë", "O'Brien", "Boston", "two\nlines"],
            &["ann@x.edu", "Ann", "Smith", "", "€ 5"],
        ],
    )
}

fn delimited(table: &Table, delimiter: u8) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(&table.columns).unwrap();
    for r in &table.rows {
        w.write_record(r).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let units = bom
        .then_some(0xFEFFu16)
        .into_iter()
        .chain(text.encode_utf16());
    units
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

#[test]
fn every_encoding_and_delimiter_reads_to_the_same_table() {
    let want = expected();
    for d in [b',', b';', b'\t', b'|'] {
        let text = delimited(&want, d);
        let encodings: Vec<(&str, Vec<u8>)> = vec![
            ("UTF-8", text.clone().into_bytes()),
            (
                "UTF-8",
                [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            ),
            ("UTF-16LE", utf16(&text, false, true)),
            ("UTF-16BE", utf16(&text, true, true)),
            ("UTF-16LE", utf16(&text, false, false)),
            (
                "windows-1252",
                encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
            ),
        ];
        for (name, bytes) in encodings {
            let file = read_bytes(&bytes).unwrap_or_else(|e| panic!("{name} {:?}: {e}", d as char));
            assert_eq!(file.encoding, name, "delimiter {:?}", d as char);
            assert_eq!(file.delimiter, Some(d as char), "{name}");
            assert_eq!(file.table.columns, want.columns, "{name} {:?}", d as char);
            assert_eq!(file.table.rows, want.rows, "{name} {:?}", d as char);
            // A cell spanning two lines: the last row is row 4 as a spreadsheet shows it, line 5.
            assert_eq!(file.table.row_numbers, vec![2, 3, 4], "{name}");
            assert_eq!(file.table.lines, vec![2, 3, 5], "{name}");
            assert_eq!(file.header_line, 1);
        }
    }
}

#[test]
fn decoding_agrees_with_encoding_rs_full_decoders() {
    let every_byte: Vec<u8> = (1..=255u8).collect();
    assert_eq!(
        decode_windows_1252(&every_byte),
        encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(&every_byte)
            .0
    );
    let text = "Zoë 王 😀 \u{FFFF}";
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(decode_utf16(&le, false), text);
    assert_eq!(decode_utf16(&be, true), text);
    // A lone surrogate becomes U+FFFD, as encoding_rs's UTF-16 decoder makes it.
    let lone = [0x00u8, 0xD8, b'a', 0];
    assert_eq!(
        decode_utf16(&lone, false),
        encoding_rs::UTF_16LE.decode_without_bom_handling(&lone).0
    );
}

#[test]
fn windows_1252_is_said_and_a_utf8_file_is_not_taken_for_it() {
    let file = read_bytes(b"Username;Last Name\njose@x.edu;N\xFA\xF1ez\n").unwrap();
    assert_eq!(file.encoding, "windows-1252");
    assert_eq!(file.table.rows[0][1], "Núñez");
    assert_eq!(file.notes[0].message, "Read as Windows-1252 text (the file is not UTF-8): check that accented letters look right in the plan.");
    let utf8 = read_bytes("Username;Last Name\njose@x.edu;Núñez\n".as_bytes()).unwrap();
    assert_eq!(utf8.encoding, "UTF-8");
    assert!(utf8.notes.is_empty());
    // UTF-8 is the expected case and goes unsaid; any other encoding is named.
    assert_eq!(utf8.description(), "semicolon-separated, header on line 1");
    assert_eq!(
        file.description(),
        "windows-1252, semicolon-separated, header on line 1"
    );
}

#[test]
fn a_sep_line_names_the_delimiter_and_is_not_a_row() {
    // Without the hint this would sniff as comma-separated (two columns agree on commas).
    let file = read_text("sep=;\r\nName;Note\r\nDoe, Jane;x, y\r\n").unwrap();
    assert_eq!(file.delimiter, Some(';'));
    assert_eq!(file.table.columns, vec!["Name", "Note"]);
    assert_eq!(file.table.rows, vec![vec!["Doe, Jane", "x, y"]]);
    assert_eq!(file.header_line, 2);
    assert_eq!(file.table.row_numbers, vec![3]);
    let quoted = read_text("\"sep=|\"\nA|B\n1|2\n").unwrap();
    assert_eq!(quoted.delimiter, Some('|'));
    assert_eq!(quoted.table.rows, vec![vec!["1", "2"]]);
}

#[test]
fn european_semicolons_with_decimal_commas_sniff_as_semicolons() {
    let file = read_text("User ID;Score;Hotel\nUR_1;1,5;Seattle\nUR_2;2;Provo\nUR_3;3,25;Boston\n")
        .unwrap();
    assert_eq!(file.delimiter, Some(';'));
    assert_eq!(file.table.rows[0], vec!["UR_1", "1,5", "Seattle"]);
    // A one-column file stays one column.
    let single = read_text("User ID\nUR_1\nUR_2\n").unwrap();
    assert_eq!(single.table.columns, vec!["User ID"]);
    assert_eq!(single.table.rows.len(), 2);
}

#[test]
fn title_rows_above_the_header_are_skipped_and_said() {
    let text = "Users export,,,\nGenerated 2026-11-01 by Jane,,,\n,,,\nUser ID,Username,Email,Action\nUR_1,a,a@x.edu,disable\nUR_2,b,b@x.edu,enable\n";
    let file = read_text(text).unwrap();
    assert_eq!(file.header_line, 4);
    assert_eq!(
        file.table.columns,
        vec!["User ID", "Username", "Email", "Action"]
    );
    assert_eq!(file.table.row_numbers, vec![5, 6]);
    assert_eq!(
        messages(&file.notes),
        vec!["Lines 1 to 2 above the header were skipped as a title: the header row is line 4."]
    );
    let one = read_text("Report\nUser ID,Action\nUR_1,disable\n").unwrap();
    assert_eq!(
        messages(&one.notes),
        vec!["Line 1 above the header was skipped as a title: the header row is line 2."]
    );
    assert_eq!(one.header_line, 2);
}

#[test]
fn trailing_empty_rows_and_columns_are_dropped_and_ragged_rows_named() {
    let text = "User ID,Action,,\nUR_1,disable,,\nUR_2,enable,,\n,,,\n,,,\n";
    let file = read_text(text).unwrap();
    assert_eq!(file.table.columns, vec!["User ID", "Action"]);
    assert_eq!(file.table.rows.len(), 2);
    assert!(file.notes.is_empty(), "{:?}", file.notes);

    let ragged =
        read_text("User ID,Action\nUR_1,disable,extra\nUR_2\nUR_3,enable\nUR_4,disable,,\n")
            .unwrap();
    assert_eq!(ragged.table.rows[0], vec!["UR_1", "disable"]);
    assert_eq!(ragged.table.cell(1, 1), "");
    assert_eq!(
        messages(&ragged.notes),
        vec![
            "Line 2 has more values than the header has columns (2): the values to the right of the last named column are ignored; give those columns a name in the header row if they matter.",
            "Line 3 has fewer values than the header has columns (2): the missing cells are read as blank.",
        ]
    );
    let many: String = std::iter::once("A,B\n".to_string())
        .chain((0..8).map(|i| format!("{i}\n")))
        .collect();
    assert_eq!(
        messages(&read_text(&many).unwrap().notes),
        vec!["Lines 2, 3, 4, 5, 6 and 3 more have fewer values than the header has columns (2): the missing cells are read as blank."]
    );
}

#[test]
fn duplicate_column_names_are_named_by_letter() {
    let file = read_text("Email,Name,email ,Hotel,EMAIL\na@x.edu,A,b@x.edu,S,c@x.edu\n").unwrap();
    assert_eq!(
        messages(&file.notes),
        vec!["Columns A, C, E are all named \"Email\": keep one of them: a plan refuses a sheet whose columns it cannot tell apart."]
    );
    assert_eq!(column_letter(0), "A");
    assert_eq!(column_letter(25), "Z");
    assert_eq!(column_letter(26), "AA");
    assert_eq!(column_letter(27 * 26), "AAA");
}

#[test]
fn bad_files_get_a_message_that_says_what_to_do() {
    let msg = |bytes: &[u8]| read_bytes(bytes).unwrap_err().to_string();
    assert_eq!(msg(b""), "The file is empty (0 bytes): export it again from where it came from, or choose another file.");
    assert_eq!(
        msg(b"\n\r\n,,\n"),
        "The file is empty: it needs a header row (for example \"User ID\") and one row per user."
    );
    assert_eq!(
        msg(b"User ID,Action\r\n"),
        "The file has a header row (line 1) but no rows below it: add one row per user under the header."
    );
    assert!(msg(b"PK\x03\x04\x14\x00rest")
        .starts_with("This is an Excel workbook (.xlsx) or another ZIP file"));
    assert!(msg(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0")
        .starts_with("This is a password-protected workbook or an Excel 97-2003 (.xls) file"));
    assert_eq!(msg(b"%PDF-1.7\n..."), "This is not a text file (it looks like a PDF document): choose a CSV or text file (UTF-8, UTF-16 or Windows-1252), or an Excel workbook (.xlsx).");
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert_eq!(msg(&noise), "This is not a text file (it looks like binary data): choose a CSV or text file (UTF-8, UTF-16 or Windows-1252), or an Excel workbook (.xlsx).");
}

#[test]
fn a_file_over_the_row_limit_is_refused_without_reading_it_all() {
    let mut text = String::with_capacity(9 * (MAX_ROWS + 100));
    text.push_str("User ID\n");
    for i in 0..MAX_ROWS + 1 {
        text.push_str("UR_");
        text.push_str(&i.to_string());
        text.push('\n');
    }
    assert_eq!(read_text(&text).unwrap_err(), FileError::TooManyRows);
    assert_eq!(
        FileError::TooManyRows.to_string(),
        "The file has more than 500,000 rows: split it into files of at most 500,000 rows each and run them one after another."
    );
}

#[test]
fn unquoted_text_reads_and_sniffs_as_the_csv_reader_reads_it() {
    // Random quote-free texts over an alphabet heavy in what matters (delimiters, the three
    // line ends, blanks, non-ASCII): the plain reader must give the CSV reader's records.
    let alphabet = [
        "a",
        "b",
        ",",
        ",",
        ";",
        "\t",
        " ",
        "\n",
        "\r",
        "\r\n",
        "é",
        "山",
        "::",
        "x y",
        "a cell longer than twenty-three bytes",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..3_000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        for delimiter in [b',', b';', b'\t'] {
            assert_eq!(
                unquoted_record_widths(&text, delimiter),
                csv_record_widths(&text, delimiter),
                "widths: case {case}, text {text:?}"
            );
            let plain = read_unquoted_records(&text, delimiter, 1);
            let csv = read_csv_records(&text, delimiter, 1, &mut Vec::new());
            assert_eq!(
                plain.map_err(|e| e.to_string()),
                csv.map_err(|e| e.to_string()),
                "case {case}, delimiter {:?}, text {text:?}",
                delimiter as char
            );
        }
    }
}

#[test]
fn rows_are_numbered_as_a_spreadsheet_shows_them_and_keep_their_line() {
    // Row 2's note spans three lines: in Excel it is one row, so the next record is row 3,
    // on line 5 of the file.
    let file = read_text("Username,Note\nann@x.org,\"one\ntwo\nthree\"\nbob@x.org,ok\n").unwrap();
    assert_eq!(file.table.row_numbers, vec![2, 3]);
    assert_eq!(file.table.lines, vec![2, 5]);
    assert_eq!(file.table.at(1).to_string(), "Row 3 (line 5)");
    assert_eq!(file.table.at(0).to_string(), "Row 2");
    // Without cells spanning lines, rows are lines and no line is kept.
    let plain = read_text("Username\nann@x.org\n\nbob@x.org\n").unwrap();
    assert_eq!(plain.table.row_numbers, vec![2, 4]);
    assert!(plain.table.lines.is_empty());
}

/// The messages of a file's notes, in order.
fn messages(notes: &[crate::sheet::problem::Problem]) -> Vec<&str> {
    notes.iter().map(|n| n.message.as_str()).collect()
}

#[test]
fn csv_input_keeps_line_numbers_and_skips_blank_rows() {
    let t = Table::from_csv("\u{feff}User ID,Note\r\nUR_1,\"two\nlines\"\r\n,\r\n\r\nUR_2\r\n")
        .unwrap();
    assert_eq!(t.columns, vec!["User ID", "Note"]);
    assert_eq!(t.rows.len(), 2);
    // Row 2's note spans two lines: a spreadsheet shows UR_2 on row 5, the file on line 6.
    assert_eq!(t.row_numbers, vec![2, 5]);
    assert_eq!(t.lines, vec![2, 6]);
    assert_eq!(t.cell(1, 1), "");
    let lf = Table::from_csv("a,b\n\n1,2\n3,4").unwrap();
    assert_eq!(lf.row_numbers, vec![3, 4]);
    assert_eq!(Table::from_csv(" \n\n"), Err(FileError::Empty));
    assert_eq!(
        Table::from_csv("User ID\n"),
        Err(FileError::NoRows { header_line: 1 })
    );
}
