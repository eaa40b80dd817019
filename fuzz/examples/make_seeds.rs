//! Writes the seed corpora under `fuzz/seeds/<target>/` (run.sh passes them to libFuzzer
//! read-only, next to the growing corpus in `fuzz/corpus/<target>/`):
//!
//!     cd fuzz && cargo run --example make_seeds
//!
//! Sheets in the encodings and layouts administrators' files come in, small real workbooks
//! written by `qualtrics_roster_xlsx::write_workbook`, Qualtrics answers of every kind the
//! parsers read, and brand configurations with sheets for the planners.

#[path = "../fuzz_targets/common.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};

use qualtrics_roster::membership;
use qualtrics_roster::provision;
use qualtrics_roster::membership::rules;
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::api::users;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if big_endian { b"\xFE\xFF" } else { b"\xFF\xFE" });
    }
    for unit in text.encode_utf16() {
        out.extend_from_slice(&if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

const PROVISION: &str = "Username,First Name,last_name,Email,UserType,Password,Language,Time zone,Division,Expiration date,Role,Responsibility\n\
ann@example.org,José,Núñez,ann@example.org,Researcher,pw,en,America/Denver,Business School,2027-06-30,Manager,Seattle::Provo\n\
new@example.org,Nell,New,new@example.org,UT_RESEARCHER00000,Change-me-1,pt-BR,Europe/Berlin,DV_BUSINESS0000000,,<clear>, Seattle :: Provo ::Seattle\n\
bad@x.edu,Ann=,Lee,not-an-email,Nobody,pw,xx,Mars/Base,Nowhere,2020-01-01,,a::::b\n\
ANN@example.org,dup,,,,,,,,2027-02-30,,\n";

const DIRECTORY: &str = "Unique identifier,First name,Last name,Email,Hotel,Region\n\
E1001,Ann,Lee,ann@example.org,Provo,<clear>\n\
E1001,Dup,,,,\n\
E9999,New,Person,new@example.org,Seattle:: Provo ::Seattle,EMEA\n\
D0001,Dir,Only,,Seattle,\n";

const LIFECYCLE: &str = "User ID,Username,Action,Expiration date\n\
UR_0000000001,,disable,\n\
,bo@example.org,enable,2027-06-30\n\
UR_0000000003,,expire,<clear>\n\
UR_0000000001,,Disable,\n\
UR_BAD,,,\n\
UR_0000000009,nobody@example.org,deactivate,2020-01-01\n\
,DI@EXAMPLE.ORG,,2028-12-31T10:00:00\n";

const DESIRED: &str = "User,Group or role,Member\n\
ann@example.org,Front Desk,no\n\
bo@example.org,Seattle Team,yes\n\
cy@example.org,role: EMEA Sales,yes\n\
cy@example.org,role: AMER Sales,yes\n\
team@example.org,Revenue,yes\n\
UR_0000000004,group: Front Desk,maybe\n\
ann@example.org,Executive Viewers,yes\n\
bo@example.org,EMEA Sales,no\n\
nobody@example.org,Front Desk,yes\n\
ann@example.org,Front Desk,yes\n";

const ROLES: &str = "Role,Attribute,Operator,Value\n\
Seattle Team,Hotel,In,Seattle\n\
Provo Team,Hotel,contains,Provo\n\
EMEA Sales,Region,Equals,EMEA\n\
AMER Sales,Region,=,AMER\n\
Executive Viewers,,,\n\
Broken,Hotel,like,Seattle\n\
,Hotel,In,Provo\n\
Multi,Hotel,In,Seattle::Provo\n";

/// Sheets as files arrive: (name, bytes).
fn sheets() -> Vec<(String, Vec<u8>)> {
    let fixed = common::Brand::fixed();
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("provision.csv".into(), PROVISION.into()),
        ("directory.csv".into(), DIRECTORY.into()),
        ("lifecycle.csv".into(), LIFECYCLE.into()),
        ("desired.csv".into(), DESIRED.into()),
        ("roles.csv".into(), ROLES.into()),
        (
            "template-bom.csv".into(),
            provision::template().to_csv().into_bytes(),
        ),
        (
            "users-table.csv".into(),
            users::users_table(&fixed.users).to_csv().into_bytes(),
        ),
        (
            "role-template.csv".into(),
            rules::role_template().to_csv().into_bytes(),
        ),
        (
            "sep-title-rows.csv".into(),
            b"sep=;\r\nRoster export 2026\r\n;;\r\nUsername;Email;Action\r\nann@example.org;ann@example.org;disable\r\n\r\n;;\r\n".to_vec(),
        ),
        (
            "tabs.tsv".into(),
            b"User ID\tAction\tExpiration date\nUR_0000000002\tenable\t2027-01-31\n".to_vec(),
        ),
        (
            "bars.txt".into(),
            b"Username|First name|Hotel\nbo@example.org|Bo|Provo\n".to_vec(),
        ),
        (
            "quoted.csv".into(),
            b"\"Username\",\"Note\",\"\"\n\"ann@example.org\",\"multi\nline \"\"quoted\"\"\",\n\"unterminated,x\n".to_vec(),
        ),
        (
            "ragged-duplicates.csv".into(),
            b"Username,Email,email , ,\nann@example.org\nbo@example.org,bo@example.org,x,y,z,extra\n".to_vec(),
        ),
        (
            "header-is-data.csv".into(),
            b"ann@example.org,UR_0000000001\nbo@example.org,UR_0000000002\n".to_vec(),
        ),
        ("header-only.csv".into(), b"Username,Email\n".to_vec()),
        (
            "formula-cells.csv".into(),
            b"Username,First name\n=HYPERLINK(\"x\"),+1\n@SUM(A1),-2\n".to_vec(),
        ),
        ("utf16le-bom.csv".into(), utf16(LIFECYCLE, false, true)),
        ("utf16be-nobom.csv".into(), utf16(DESIRED, true, false)),
        (
            "windows-1252.csv".into(),
            b"Username,First name,Last name\nann@example.org,Jos\xe9,N\xfa\xf1ez \x93Q\x94\n".to_vec(),
        ),
    ];
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend_from_slice(DIRECTORY.as_bytes());
    out.push(("utf8-bom.csv".into(), utf8_bom));
    out
}

/// Small real workbooks.
fn workbooks() -> Vec<(String, Vec<u8>)> {
    let created = 1_780_000_000; // 2026-05-28
    let t = |csv: &str| Table::from_csv(csv).expect("seed CSV reads");
    let mixed = Table::from_text(
        &["Username", "Expiration date", "Note", "", "Count"],
        &[
            &["ann@example.org", "2027-06-30", "=1+1", "", "00123"],
            &["bo@example.org", "", "+x", "", "42"],
            &["", "", "", "", ""],
            &["cy@example.org", "2026-02-29", "@me", "", "-7"],
        ],
    );
    let titled = Table::from_text(
        &["Roster export"],
        &[&[""], &["Username"], &["ann@example.org"]],
    );
    let sets: Vec<(&str, Vec<(&str, Table)>)> = vec![
        ("provision.xlsx", vec![("Users", t(PROVISION))]),
        (
            "roles-desired.xlsx",
            vec![
                ("Desired", t(DESIRED)),
                ("Roles", t(ROLES)),
                ("Roles", rules::role_template()),
            ],
        ),
        ("lifecycle.xlsx", vec![("Lifecycle", t(LIFECYCLE))]),
        ("mixed-cells.xlsx", vec![("Sheet: with/odd*chars?", mixed)]),
        ("title-row.xlsx", vec![("Export", titled)]),
        (
            "templates.xlsx",
            vec![
                ("Template", provision::template()),
                ("Membership", membership::template()),
            ],
        ),
        (
            "one-cell.xlsx",
            vec![("A", Table::from_text(&["User ID"], &[&["UR_0000000001"]]))],
        ),
    ];
    sets.into_iter()
        .map(|(name, sheets)| {
            let refs: Vec<(&str, &Table)> = sheets.iter().map(|(n, t)| (*n, t)).collect();
            let bytes = qualtrics_roster_xlsx::write_workbook(&refs, created)
                .unwrap_or_else(|e| panic!("writing {name}: {e}"));
            (name.to_string(), bytes)
        })
        .collect()
}

/// Qualtrics answers: (name, status selector, header line, body). The selector indexes the
/// status table of the api_response target (200 is 0, 204 is 3, 400 is 4, 401 is 5,
/// 404 is 7, 409 is 8, 429 is 9, 500 is 10, 503 is 12).
fn answers() -> Vec<(&'static str, u8, &'static str, &'static str)> {
    vec![
        (
            "whoami",
            0,
            "",
            r#"{"result":{"brandId":"acme","userId":"UR_0000000001","userName":"ann@example.org","accountType":"UT_BRANDADMIN","firstName":"Ann","lastName":"Lee","email":"ann@example.org","datacenter":"iad1"},"meta":{"httpStatus":"200 - OK","requestId":"r-1","notice":"Request proxied. For faster response times, use this host: fra1.qualtrics.com"}}"#,
        ),
        (
            "users-page",
            0,
            "",
            r#"{"result":{"elements":[{"id":"UR_0000000001","username":"ann@example.org","firstName":"Ann","lastName":"Lee","email":"ann@example.org","userType":"UT_1","divisionId":null,"accountStatus":"active"},{"id":"UR_0000000002","username":"bo@example.org","accountStatus":"disabled","accountExpirationDate":"2027-01-31T00:00:00Z"}],"nextPage":"https://iad1.qualtrics.com/API/v3/users?offset=2&pageSize=2"},"meta":{"httpStatus":"200 - OK","requestId":"r-2"}}"#,
        ),
        (
            "users-last-page",
            0,
            "",
            r#"{"result":{"elements":[{"id":"UR_0000000003"}],"nextPage":null},"meta":{"httpStatus":"200 - OK"}}"#,
        ),
        (
            "users-next-relay",
            0,
            "",
            r#"{"result":{"elements":[],"nextPage":"http://127.0.0.1:8080/relay/iad1/API/v3/users?skipToken=abc"},"meta":{}}"#,
        ),
        (
            "users-next-untrusted",
            0,
            "",
            r#"{"result":{"elements":[],"nextPage":"https://evil.example.com/API/v3/users"},"meta":{}}"#,
        ),
        (
            "users-bad-element",
            0,
            "",
            r#"{"result":{"elements":[{"username":"no id"}],"nextPage":7}}"#,
        ),
        (
            "groups-page",
            0,
            "",
            r#"{"result":{"elements":[{"id":"GR_0000000001","name":"Front Desk","type":"GT_1","divisionId":"DV_1"}],"nextPage":""}}"#,
        ),
        (
            "participants-page",
            0,
            "",
            r#"{"result":{"participants":[{"uniqueIdentifier":"E1001","firstName":"Ann","username":"ann@example.org","userId":"UR_0000000001","metadata":{"Hotel":"Seattle::Provo","Region":"EMEA"}}],"skipToken":"next-1"},"meta":{"httpStatus":"200 - OK"}}"#,
        ),
        (
            "participants-flat",
            0,
            "",
            r#"{"participants":[{"uniqueIdentifier":"E1002","metadata":{}}],"skipToken":null}"#,
        ),
        (
            "job-id",
            0,
            "",
            r#"{"result":{"jobId":"PGR_abc123"},"meta":{"httpStatus":"200 - OK"}}"#,
        ),
        (
            "job-status-text",
            0,
            "",
            r#"{"result":{"progressPercent":" 100% ","resultId":"R_42"}}"#,
        ),
        (
            "job-status-number",
            0,
            "",
            r#"{"progressPercent":37.5,"resultId":""}"#,
        ),
        (
            "job-failures",
            0,
            "",
            r#"{"result":{"failed":[{"message":"bad email","itemIds":["E1001","E9999"]},{"itemIds":[1,null]}],"succeeded":[]}}"#,
        ),
        (
            "get-user",
            0,
            "",
            r#"{"result":{"id":"UR_0000000001","username":"ann@example.org","accountStatus":"disabled","accountExpirationDate":"2027-06-30T00:00:00Z","organizationId":"acme","language":"en","timeZone":"Europe/Berlin","accountCreationDate":"2020-01-01T00:00:00Z","lastLoginDate":null}}"#,
        ),
        (
            "created",
            1,
            "",
            r#"{"result":{"id":"UR_0000000042"},"meta":{"httpStatus":"200 - OK","requestId":"r-3"}}"#,
        ),
        (
            "division",
            0,
            "",
            r#"{"result":{"id":"DV_1","name":"Business School"}}"#,
        ),
        (
            "meta-only",
            0,
            "",
            r#"{"meta":{"httpStatus":"200 - OK","requestId":"r-4"}}"#,
        ),
        ("empty-204", 3, "", ""),
        (
            "bad-request",
            4,
            "",
            r#"{"meta":{"httpStatus":"400 - Bad Request","error":{"errorMessage":"Missing credentials","errorCode":"ATP_2"}}}"#,
        ),
        (
            "legacy-error-in-200",
            0,
            "",
            r#"{"meta":{"status":"Error","internalErrorCode":"GS_1","errorMessage":"Conflict","httpStatus":"409 - Conflict"}}"#,
        ),
        (
            "conflict",
            8,
            "",
            r#"{"meta":{"httpStatus":"409 - Conflict","error":{"errorMessage":"Too many jobs","errorCode":"DIR_1"}}}"#,
        ),
        (
            "unauthorized",
            5,
            "",
            r#"{"meta":{"httpStatus":"401 - Unauthorized","error":{"errorMessage":"Invalid token"}}}"#,
        ),
        (
            "not-found",
            7,
            "",
            r#"{"meta":{"httpStatus":"404 - Not Found","error":{"errorMessage":"Not found","errorCode":"USR_1"}}}"#,
        ),
        (
            "relay-error",
            12,
            "",
            r#"{"meta":{"error":{"errorCode":"RELAY_UNREACHABLE","errorMessage":"iad1 did not answer"}}}"#,
        ),
        ("rate-limited", 9, "Retry-After: 30", ""),
        (
            "rate-limited-bare",
            9,
            "120",
            r#"{"meta":{"error":{"errorMessage":"slow down"}}}"#,
        ),
        (
            "server-html",
            10,
            "Content-Type: text/html",
            "<!DOCTYPE html><html><body>Bad gateway</body></html>",
        ),
        (
            "login-page-200",
            0,
            "",
            "<html><head><title>Login</title></head></html>",
        ),
        ("json-array", 0, "", "[1,2,3]"),
        ("text", 0, "", "  plain text answer \n"),
    ]
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let dir = |target: &str| {
        let d = root.join(target);
        fs::create_dir_all(&d).expect("creating the seed directory");
        d
    };

    let sheets = sheets();
    for target in ["read_file", "validate_rows"] {
        let d = dir(target);
        for (name, bytes) in &sheets {
            write(&d, name, bytes);
        }
    }
    let d = dir("read_file");
    write(&d, "zip-magic.bin", b"PK\x03\x04\x14\x00");
    write(&d, "ole-magic.bin", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
    write(&d, "pdf-magic.bin", b"%PDF-1.7\n");

    let d = dir("read_xlsx");
    for (name, bytes) in workbooks() {
        write(&d, &name, &bytes);
    }

    let d = dir("api_response");
    for (name, selector, header, body) in answers() {
        let mut bytes = vec![selector, 0, 200, 1];
        bytes.extend_from_slice(header.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(body.as_bytes());
        write(&d, &format!("{name}.bin"), &bytes);
    }

    // Brand configurations x sheets (the desired-membership sheet with a Roles sheet).
    let configs: Vec<(&str, [u8; common::CONFIG_LEN])> = vec![
        ("fixed", common::FIXED_CONFIG),
        (
            "busy",
            [
                8, 0xFF, 0xC1, 0x5E, 0x62, 0xD3, 0x4C, 0x87, 0x01, 0xF3, 0x25, 0xAE, 0x91, 0x14,
                0x3B, 0x60, 0x07, 4, 0x0A, 0xA3, 0x0F, 0x2C, 0x01, 1, 0xE4, 0, 0, 0, 0, 0, 0, 0,
            ],
        ),
        (
            "directory-route",
            [
                3, 0x41, 0xC1, 0xC2, 0, 0, 0, 0, 0, 0x1B, 0x26, 0x3F, 0, 0, 0, 0, 0, 3, 2, 0x39, 0,
                0x10, 0x02, 0, 0x1B, 0, 0, 0, 0, 0, 0, 0,
            ],
        ),
        ("empty-brand", [0; common::CONFIG_LEN]),
    ];
    let d = dir("plan_builder");
    for (cname, config) in &configs {
        for (sname, sheet) in [
            ("provision", PROVISION),
            ("directory", DIRECTORY),
            ("lifecycle", LIFECYCLE),
            ("desired", DESIRED),
        ] {
            let mut bytes = config.to_vec();
            bytes.extend_from_slice(sheet.as_bytes());
            if sname == "desired" {
                bytes.push(common::SHEET_SEPARATOR);
                bytes.extend_from_slice(ROLES.as_bytes());
            }
            write(&d, &format!("{cname}-{sname}.bin"), &bytes);
        }
    }
    eprintln!("seeds written under {}", root.display());
}
