//! Provisioning: validation, planning against the brand, job building, the run's phases.

use super::checks::is_email;
use super::*;
use crate::api::directory::Participant;
use crate::api::users::UserSummary;
use crate::exec::{JournalEntry, Outcome, OutcomeStatus, Step, StepUpdate};
use crate::sheet::table::Table;

fn user(id: &str, name: &str) -> UserSummary {
    UserSummary {
        id: id.into(),
        username: Some(name.into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        email: Some(name.into()),
        user_type: Some("UT_STANDARD0000000".into()),
        division_id: None,
        account_status: Some("active".into()),
        account_expiration_date: None,
    }
}

fn participant(uid: &str, user_id: Option<&str>, name: &str, meta: &[(&str, &str)]) -> Participant {
    Participant {
        unique_identifier: uid.into(),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        email: Some(name.into()),
        username: Some(name.into()),
        user_id: user_id.map(String::from),
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn options(route: Route) -> ProvisionOptions {
    ProvisionOptions {
        route,
        today: Date::parse_iso("2026-11-22").unwrap(),
        user_types: [("researcher".to_string(), "UT_RESEARCHER00000".to_string())].into(),
        divisions: [(
            "business school".to_string(),
            "DV_BUSINESS0000000".to_string(),
        )]
        .into(),
        job_size: 100,
        new_attributes: Default::default(),
    }
}

fn table(csv: &str) -> Table {
    Table::from_csv(csv).unwrap()
}

const HEADER: &str = "Username,First Name,last_name,Email,UserType,Password,Role,Responsibility\n";

#[test]
fn every_bad_cell_is_named_with_row_column_and_what_to_do() {
    let t = table(&format!(
        "{HEADER}\
         ok@x.edu,José,Núñez,ok@x.edu,Researcher,pw,Manager,Seattle::Provo\n\
         bad@x.edu,Ann,Lee,not-an-email,UT_X,pw,,\n\
         ann!@x.edu,Ann,Lee,a@x.edu,UT_X,pw,,\n\
         new@x.edu,,Lee,new@x.edu,UT_X,,,\n\
         ok@x.edu,Dup,Row,d@x.edu,UT_X,pw,,\n\
         typ@x.edu,T,Y,typ@x.edu,Wizard,pw,,\n\
         list@x.edu,L,I,list@x.edu,UT_X,pw,, Seattle :: Provo::Seattle\n\
         empty@x.edu,E,P,empty@x.edu,UT_X,pw,,Seattle::::Provo\n\
         王伟@x.edu,伟,王,wang@x.edu,UT_X,pw,Агент,\n"
    ));
    let p = plan(&t, &[], &[], &[], &options(Route::AccountAndAttributes));
    assert!(p.file_errors.is_empty());
    let r = |row: u32| p.rows.iter().find(|r| r.row == row).unwrap();
    // Row 6 names row 2's account again: neither row is sent.
    assert_eq!(r(2).actions[..], [ProvisionAction::Invalid]);
    assert_eq!(
        r(2).message(),
        "Row 2, Username: \"ok@x.edu\" is also on row 6: nothing is sent for this account until one of the rows is removed."
    );
    assert_eq!(
        r(2).fields.get(&Field::UserType).unwrap(),
        "UT_RESEARCHER00000",
        "user type by name"
    );
    assert_eq!(
        r(3).message(),
        "Row 3, Email: \"not-an-email\" is not an e-mail address: write it as name@example.org."
    );
    assert_eq!(r(4).message(), "Row 4, Username: contains !, which Qualtrics does not allow in user fields (=;~!&*%{}<>[]|\\\"^): remove it.");
    assert_eq!(r(5).message(), "Row 5, First Name: empty, but needed to create the account. Row 5, Password: empty, but needed to create the account.");
    assert_eq!(
        r(6).message(),
        "Row 6, Username: \"ok@x.edu\" is also on row 2: each username once per sheet."
    );
    assert!(r(7).message().starts_with(
        "Row 7, UserType: \"Wizard\" is not a user type id (UT_…) nor a user type name"
    ));
    let warnings: Vec<&str> = r(8).problems.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(r(8).actions[0], ProvisionAction::Create);
    assert!(
        warnings.contains(&"Row 8, Responsibility: spaces at the start or end were removed."),
        "{warnings:?}"
    );
    assert!(
        warnings.contains(&"Row 8, Responsibility: \"Seattle\" was listed twice; kept once."),
        "{warnings:?}"
    );
    assert_eq!(
        r(8).attribute_changes().collect::<Vec<_>>(),
        [("Responsibility", "", "Seattle::Provo")]
    );
    assert_eq!(r(9).message(), "Row 9, Responsibility: has an empty part in its :: list (two :: in a row, or :: at an end): remove it.");
    assert_eq!(
        r(10).actions[..],
        [ProvisionAction::Create, ProvisionAction::SetAttributes],
        "non-Latin names and values pass"
    );
    assert_eq!(
        p.counts,
        vec![
            ("create user".into(), 2),
            ("set attributes".into(), 2),
            ("invalid".into(), 7)
        ]
    );
}

#[test]
fn file_level_problems_stop_the_plan() {
    let p = plan(
        &table("First name,Given name,Username\nA,B,c@x\n"),
        &[],
        &[],
        &[],
        &options(Route::AccountAndAttributes),
    );
    assert_eq!(
        p.file_errors[0].message,
        "Columns \"First name\" and \"Given name\" both mean firstName: keep one of them."
    );
    let p = plan(
        &table("Email,Role\na@x.edu,Manager\n"),
        &[],
        &[],
        &[],
        &options(Route::AccountAndAttributes),
    );
    assert!(p.file_errors[0]
        .message
        .starts_with("No a \"Username\" column"));
    let p = plan(
        &table("Username,Role\na@x.edu,Manager\n"),
        &[],
        &[],
        &[],
        &options(Route::DirectoryImport),
    );
    assert!(p.file_errors[0]
        .message
        .contains("\"Unique identifier\" column"));
}

#[test]
fn dates_zones_languages_and_long_lists() {
    let parts: Vec<String> = (0..500).map(|i| format!("Hotel{i}")).collect();
    let t = table(&format!(
        "Username,First name,Last name,Email,User type,Password,Language,Time zone,Expiration date,Division,Hotels\n\
         a@x.edu,A,B,a@x.edu,UT_X,pw,xx,Mars/Base,2020-01-01,Business School,{}\n",
        parts.join("::")
    ));
    let p = plan(&t, &[], &[], &[], &options(Route::AccountAndAttributes));
    let messages: Vec<&str> = p.rows[0]
        .problems
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert!(messages.contains(&"Row 2, Language: \"xx\" is not a language code: use a code such as en, de, fr or pt-BR."), "{messages:?}");
    assert!(messages.contains(&"Row 2, Time zone: \"Mars/Base\" is not a time zone: use an IANA name such as America/Denver or Europe/Berlin."));
    assert!(messages.contains(&"Row 2, Expiration date: 2020-01-01 is in the past: give today or a later date, or leave it blank."));
    assert_eq!(
        p.rows[0].fields.get(&Field::DivisionId).unwrap(),
        "DV_BUSINESS0000000",
        "division by name"
    );
    assert_eq!(messages.len(), 3, "the 500-part list is fine: {messages:?}");
}

#[test]
fn blank_keeps_clear_clears_and_jobs_carry_the_same_keys() {
    let users = vec![
        user("UR_AAAAAAAAAAAAAAA", "ann@x.edu"),
        user("UR_BBBBBBBBBBBBBBB", "bob@x.edu"),
    ];
    let participants = vec![
        participant(
            "E-ANN",
            Some("UR_AAAAAAAAAAAAAAA"),
            "ann@x.edu",
            &[("Role", "Agent"), ("Hotel", "Seattle::Provo")],
        ),
        participant(
            "E-BOB",
            Some("UR_BBBBBBBBBBBBBBB"),
            "bob@x.edu",
            &[("Role", "Manager"), ("Hotel", "Boston")],
        ),
    ];
    let t = table("Username,Role,Hotel\nann@x.edu,Manager,\nbob@x.edu,,<clear>\n");
    let p = plan(
        &t,
        &users,
        &participants,
        &[],
        &options(Route::AccountAndAttributes),
    );
    assert_eq!(
        p.rows[0].attribute_changes().collect::<Vec<_>>(),
        [("Role", "Agent", "Manager")],
        "blank Hotel keeps ann's hotels"
    );
    assert_eq!(
        p.rows[1].attribute_changes().collect::<Vec<_>>(),
        [("Hotel", "Boston", "")],
        "<clear> removes bob's hotel"
    );
    let mut run = ProvisionApply::new(p);
    assert!(
        run.account_steps().is_empty(),
        "nothing to change on the accounts"
    );
    assert!(!run.needs_participants());
    let jobs = run.import_steps(&participants);
    assert_eq!(jobs.len(), 1);
    let ProvisionStep::Import(job) = &jobs[0] else {
        panic!()
    };
    let meta: Vec<_> = job
        .participants
        .iter()
        .map(|p| p.metadata.clone())
        .collect();
    // Both carry Role and Hotel: ann keeps her hotels, bob keeps his role, "" clears bob's hotel.
    assert_eq!(
        meta[0],
        [
            ("Hotel".to_string(), "Seattle::Provo".to_string()),
            ("Role".to_string(), "Manager".to_string())
        ]
        .into()
    );
    assert_eq!(
        meta[1],
        [
            ("Hotel".to_string(), String::new()),
            ("Role".to_string(), "Manager".to_string())
        ]
        .into()
    );
    // The same lists in another order are not a change.
    let t = table("Username,Hotel\nann@x.edu,Provo::Seattle\n");
    let p = plan(
        &t,
        &users,
        &participants,
        &[],
        &options(Route::AccountAndAttributes),
    );
    assert_eq!(p.rows[0].actions[..], [ProvisionAction::Unchanged]);
}

#[test]
fn an_unanswered_create_is_checked_against_the_user_list_before_a_retry() {
    let t = table(&format!(
        "{HEADER}n1@x.edu,N,One,n1@x.edu,UT_X,pw,Agent,\nn2@x.edu,N,Two,n2@x.edu,UT_X,pw,Agent,\n"
    ));
    let mut run = ProvisionApply::new(plan(
        &t,
        &[],
        &[],
        &[],
        &options(Route::AccountAndAttributes),
    ));
    let mut steps = run.account_steps();
    assert_eq!(steps.len(), 2);
    // Both creates lose their answers; the executor hands them to the step instead of retrying.
    for s in &mut steps {
        let ProvisionStep::Account(a) = s else {
            panic!()
        };
        assert!(matches!(
            a.on_ambiguous_failure("no answer (timed out)"),
            Some(StepUpdate::Finished {
                status: OutcomeStatus::Failed,
                ..
            })
        ));
    }
    let outcomes: Vec<Outcome> = steps
        .iter()
        .map(|s| Outcome {
            key: s.key().into(),
            status: OutcomeStatus::Failed,
            message: "x".into(),
            finished_at: Some(5),
            retryable: false,
        })
        .collect();
    run.record(&steps, &outcomes);
    assert_eq!(run.uncertain(), vec!["n1@x.edu", "n2@x.edu"]);
    // The listing shows n1 exists: it was created. n2 is not there: it is tried again, once.
    let retries = run.resolve_uncertain(&[user("UR_NNNNNNNNNNNNNN1", "n1@x.edu")]);
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].key(), "row:3");
    assert!(run.uncertain().is_empty());
    let out = run.outcomes();
    assert_eq!(out[0].user_id.as_deref(), Some("UR_NNNNNNNNNNNNNN1"));
    assert!(
        out[0].message.contains("confirmed in the user list"),
        "{}",
        out[0].message
    );
    // The create body has the fields but never the unique identifier column; the password
    // stays out of the journal fingerprint.
    let ProvisionStep::Account(a) = &retries[0] else {
        panic!()
    };
    assert_eq!(a.body.get("password").and_then(|v| v.as_str()), Some("pw"));
    assert!(!a.fingerprint().contains("pw"));
}

#[test]
fn passwords_are_never_written_back() {
    let t = table(&format!(
        "{HEADER}n1@x.edu,N,One,n1@x.edu,UT_X,Secret-123,Agent,\n"
    ));
    let run = ProvisionApply::new(plan(
        &t,
        &[],
        &[],
        &[],
        &options(Route::AccountAndAttributes),
    ));
    let out = outcome_table(&t, &run.outcomes());
    assert!(!format!("{out:?}").contains("Secret-123"));
    assert!(!format!("{:?}", plan_table(&run.plan)).contains("Secret-123"));
    assert_eq!(
        &out.columns[8..],
        [
            "Status",
            "Message",
            "User ID",
            "Unique identifier",
            "Applied at"
        ]
    );
}

#[test]
fn the_plan_sheet_shows_what_each_account_is_created_with_and_each_attribute_as_a_column() {
    // A new account (user type by the name the administrator gave, a language, two
    // attributes, a time zone) and an existing one whose e-mail and Role change.
    let t = table(
        "Username,First name,Last name,Email,User type,Password,Language,Time zone,Role,Hotel\n\
         new@x.edu,Nia,Okafor,nia@x.edu,Researcher,Secret-123,de,Europe/Berlin,Manager,Seattle::Provo\n\
         ann@x.edu,Ann,Lee,ann.lee@x.edu,UT_STANDARD0000000,Secret-456,,,Agent,\n",
    );
    let users = [user("UR_ANN", "ann@x.edu")];
    let participants = [
        participant("E1", Some("UR_ANN"), "ann@x.edu", &[("Role", "Manager")]),
        participant("E2", None, "other@x.edu", &[("Hotel", "Provo")]),
    ];
    let p = plan(
        &t,
        &users,
        &participants,
        &[],
        &options(Route::AccountAndAttributes),
    );
    assert!(p.file_errors.is_empty(), "{:?}", p.file_errors);
    let sheet = plan_table(&p);
    assert_eq!(
        sheet.columns,
        [
            "Row",
            "Name",
            "Email",
            "Username",
            "Plan",
            "User type",
            "Language",
            "Role",
            "Hotel",
            "Unique identifier",
            "Changes",
            "Problems"
        ]
    );
    let row = |i: usize| sheet.rows[i].iter().map(Cell::as_str).collect::<Vec<_>>();
    assert_eq!(
        row(0),
        [
            "2",
            "Nia Okafor",
            "nia@x.edu",
            "new@x.edu",
            "create user + set attributes",
            "Researcher",
            "de",
            "Manager",
            "Seattle::Provo",
            "",
            "timeZone: Europe/Berlin",
            ""
        ]
    );
    // The existing account: its own user type id, no Hotel (blank keeps it), and what differs.
    assert_eq!(
        row(1),
        [
            "3",
            "Ann Lee",
            "ann.lee@x.edu",
            "ann@x.edu",
            "update user fields + set attributes",
            "UT_STANDARD0000000",
            "",
            "Agent",
            "",
            "E1",
            "email: ann@x.edu -> ann.lee@x.edu; Role: Manager -> Agent",
            "Row 3, Password: the password is only used to create accounts; this account exists and keeps its own."
        ]
    );
    let shown = format!("{sheet:?}");
    assert!(!shown.contains("Secret-123") && !shown.contains("Secret-456"));
    assert!(!sheet.columns.iter().any(|c| is_password_column(c)));
}

#[test]
fn an_attribute_named_as_a_plan_column_keeps_the_plans_own_column() {
    let t = table("Username,First name,Last name,Email,User type,Password,Plan\nn@x.edu,N,O,n@x.edu,UT_X,pw,Gold\n");
    let p = plan(&t, &[], &[], &[], &options(Route::AccountAndAttributes));
    let sheet = plan_table(&p);
    assert_eq!(
        sheet.columns,
        [
            "Row",
            "Name",
            "Email",
            "Username",
            "Plan",
            "User type",
            "Language",
            "Plan (attribute)",
            "Unique identifier",
            "Changes",
            "Problems"
        ]
    );
    assert_eq!(sheet.rows[0][4].as_str(), "create user + set attributes");
    assert_eq!(sheet.rows[0][7].as_str(), "Gold");
}

#[test]
fn directory_route_keys_by_the_sheets_unique_identifier() {
    let participants = vec![participant("E1", None, "ann@x.edu", &[("Role", "Agent")])];
    let t = table("Unique identifier,First name,Last name,Email,Role,User type\nE1,Ann,Lee,ann@x.edu,Manager,UT_X\nE2,Bo,Ng,bo@x.edu,Agent,\ne1,C,D,c@x.edu,,\n");
    let p = plan(
        &t,
        &[],
        &participants,
        &[],
        &options(Route::DirectoryImport),
    );
    assert_eq!(p.rows[0].actions[..], [ProvisionAction::SetAttributes]);
    assert!(p.rows[0].problems[0]
        .message
        .contains("not used by a directory import"));
    assert_eq!(
        p.rows[1].actions[..],
        [ProvisionAction::Create, ProvisionAction::SetAttributes]
    );
    assert_eq!(
        p.rows[2].actions[..],
        [ProvisionAction::Create],
        "unique identifiers are case-sensitive: e1 is new"
    );
    let mut run = ProvisionApply::new(p);
    let jobs = run.import_steps(&participants);
    let ProvisionStep::Import(job) = &jobs[0] else {
        panic!()
    };
    assert_eq!(
        job.participants
            .iter()
            .map(|p| p.unique_identifier.as_str())
            .collect::<Vec<_>>(),
        ["E1", "E2", "e1"]
    );
    assert_eq!(
        job.participants[2].metadata.get("Role").map(String::as_str),
        Some(""),
        "every participant carries the job's keys"
    );
}

#[test]
fn fields_the_listing_cannot_show_are_sent_once_then_known_from_the_journal() {
    let users = vec![user("UR_AAAAAAAAAAAAAAA", "ann@x.edu")];
    let t = table("Username,Time zone,Language\nann@x.edu,Europe/Berlin,de\n");
    let first = plan(&t, &users, &[], &[], &options(Route::AccountAndAttributes));
    assert_eq!(first.rows[0].actions[..], [ProvisionAction::Update]);
    let run = ProvisionApply::new(first);
    let steps = run.account_steps();
    let journal = vec![JournalEntry {
        key: "row:2".into(),
        applied: steps[0].fingerprint(),
        at: 1,
    }];
    assert_eq!(
        journal[0].applied,
        "UR_AAAAAAAAAAAAAAA language=de\nUR_AAAAAAAAAAAAAAA timeZone=Europe/Berlin"
    );
    let again = plan(
        &t,
        &users,
        &[],
        &journal,
        &options(Route::AccountAndAttributes),
    );
    assert_eq!(again.rows[0].actions[..], [ProvisionAction::Unchanged]);
}

#[test]
fn e_mail_syntax() {
    for good in [
        "a@x.org",
        "jane.doe@mail.example.org",
        "josé@exämple.org",
        "a+b@x-y.org",
    ] {
        assert!(is_email(good), "{good}");
    }
    for bad in [
        "",
        "@x.org",
        "a@",
        "a@x",
        "a@x.",
        "a@.org",
        "a@-x.org",
        "a@x-.org",
        "a@b@x.org",
        "a b@x.org",
        "a\tb@x.org",
        "a\u{b}b@x.org",
        "a@x.org\n",
        "a@\u{a0}x.org",
        "a\u{2003}@x.org",
    ] {
        assert!(!is_email(bad), "{bad:?}");
    }
}

#[test]
fn actions_read_in_order_once_each() {
    let mut actions = Actions::default();
    assert!(actions.is_empty());
    for a in [
        ProvisionAction::Create,
        ProvisionAction::SetAttributes,
        ProvisionAction::Create,
    ] {
        actions.push(a);
    }
    assert_eq!(
        actions[..],
        [ProvisionAction::Create, ProvisionAction::SetAttributes]
    );
    for a in ProvisionAction::ALL {
        actions.push(a);
    }
    assert_eq!(actions.len(), ProvisionAction::ALL.len());
    assert_eq!(
        serde_json::to_string(&actions).unwrap(),
        r#"["create user","set attributes","update user fields","unchanged","invalid","refused"]"#
    );
}

#[test]
fn short_rows_are_blank_cells_and_attribute_problems_come_in_column_order() {
    // A table handed over by a host may have rows shorter than its header.
    let t = Table {
        columns: ["Username", "Email", "Zeta", "Alpha"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            vec!["a@x.org".into()],
            vec![
                "b@x.org".into(),
                "b@x.org".into(),
                " z ".into(),
                "a::::b".into(),
            ],
        ],
        row_numbers: Vec::new(),
        lines: Vec::new(),
    };
    let p = plan(&t, &[], &[], &[], &options(Route::AccountAndAttributes));
    assert_eq!(p.rows.len(), 2);
    assert!(p.rows[0].actions.contains(&ProvisionAction::Invalid));
    let columns: Vec<&str> = p.rows[1]
        .problems
        .iter()
        .filter(|d| d.column == "Zeta" || d.column == "Alpha")
        .map(|d| d.column.as_str())
        .collect();
    assert_eq!(columns, ["Zeta", "Alpha"]);
}

#[test]
fn attribute_columns_take_the_brands_names_and_a_new_attribute_must_be_allowed() {
    let users = vec![user("UR_AAAAAAAAAAAAAAA", "ann@x.edu")];
    let participants = vec![participant(
        "E-ANN",
        Some("UR_AAAAAAAAAAAAAAA"),
        "ann@x.edu",
        &[("Role", "Agent"), ("Hotel Code", "SEA")],
    )];
    // An HR export: lower case, underscores, and one attribute the brand does not have.
    let t = table("Username,role,hotel_code,Floor\nann@x.edu,Manager,BOS,3\n");
    let refused = plan(
        &t,
        &users,
        &participants,
        &[],
        &options(Route::AccountAndAttributes),
    );
    // Not allowed: the sheet stops, naming the column and how to allow it; the plan still
    // shows what it would do.
    assert_eq!(refused.file_errors.len(), 1, "{:?}", refused.file_errors);
    assert_eq!(refused.file_errors[0].column, "Floor");
    assert!(refused.file_errors[0]
        .message
        .contains("--new-attribute \"Floor\""));
    assert_eq!(
        refused.new_attributes,
        [NewAttribute {
            column: "Floor".into(),
            name: "Floor".into(),
            allowed: false
        }]
    );
    assert_eq!(refused.rows.len(), 1);
    // Allowed (ignoring case and spacing, as columns are matched): a warning, and it plans.
    let mut allowing = options(Route::AccountAndAttributes);
    allowing.new_attributes.insert(" floor".into());
    let p = plan(&t, &users, &participants, &[], &allowing);
    assert_eq!(
        p.rows[0].attribute_changes().collect::<Vec<_>>(),
        [
            ("Floor", "", "3"),
            ("Hotel Code", "SEA", "BOS"),
            ("Role", "Agent", "Manager")
        ],
        "role and hotel_code change the brand's Role and Hotel Code, not new lower-case twins"
    );
    assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    assert_eq!(p.notes[0].column, "Floor");
    assert_eq!(p.notes[0].severity, Severity::Warning);
    assert!(p.notes[0]
        .message
        .contains("no one in the brand has the attribute \"Floor\" yet"));
    assert!(p.file_errors.is_empty());
    assert!(p.new_attributes[0].allowed);
    // Validate knows no brand: it renames nothing, and nothing counts as new.
    let offline = plan(&t, &[], &[], &[], &options(Route::AccountAndAttributes));
    assert!(offline.notes.is_empty() && offline.file_errors.is_empty());
    // A directory read and found empty (a new brand): every attribute is new.
    let empty = plan_with_records(
        &t,
        &users,
        &Default::default(),
        Some(&[]),
        &[],
        &options(Route::AccountAndAttributes),
    );
    let columns: Vec<&str> = empty
        .file_errors
        .iter()
        .map(|e| e.column.as_str())
        .collect();
    assert_eq!(columns, ["role", "hotel_code", "Floor"]);
}

#[test]
fn columns_the_product_writes_are_never_attributes() {
    // An edited `users list` export planned as a provisioning sheet (say, with --kind):
    // User ID, Account status and Action are not attributes to write onto anyone.
    let t = Table::from_csv(
        "User ID,Username,First name,Last name,Email,Account status,Action,Team\n\
         UR_1234567890abcde,a@x.org,A,B,a@x.org,active,disable,Blue\n",
    )
    .unwrap();
    let map = super::columns::map_columns(&t.columns).unwrap();
    let names: Vec<&str> = map.attributes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["Team"]);
}

#[test]
fn a_plan_made_without_the_directory_takes_its_attributes_once_read_and_keeps_its_refusals() {
    let users = vec![
        user("UR_AAAAAAAAAAAAAAA", "ann@x.edu"),
        user("UR_BBBBBBBBBBBBBBB", "bob@x.edu"),
    ];
    let participants = vec![
        participant(
            "E-ANN",
            Some("UR_AAAAAAAAAAAAAAA"),
            "ann@x.edu",
            &[("Role", "Agent")],
        ),
        participant(
            "E-BOB",
            Some("UR_BBBBBBBBBBBBBBB"),
            "bob@x.edu",
            &[("Role", "Agent")],
        ),
    ];
    // "role" is the brand's "Role", spelt otherwise; allowed as new, as a hook allows its columns.
    let t = table("Username,role\nann@x.edu,Manager\nbob@x.edu,Manager\n");
    let mut opts = options(Route::AccountAndAttributes);
    assert!(
        !attributes_allowed(&t, &opts),
        "not allowed: the directory must be read first"
    );
    opts.new_attributes = ["ROLE".to_string()].into();
    assert!(attributes_allowed(&t, &opts));
    assert!(!attributes_allowed(&table("Username\nann@x.edu\n"), &opts));

    let blind = std::collections::HashMap::new();
    let mut first = plan_with_records(&t, &users, &blind, None, &[], &opts);
    assert_eq!(
        first.rows[0].attributes[0].name.as_str(),
        "role",
        "not matched yet"
    );
    let bob = first.rows[1].row;
    refuse(&mut first, &[(bob, "refused by the policy")]);
    let mut run = ProvisionApply::new(first);
    let read = plan_with_records(&t, &users, &blind, Some(&participants), &[], &opts);
    run.replan(read.clone());
    assert_eq!(
        run.plan.rows[0], read.rows[0],
        "ann's row as a plan with the directory"
    );
    assert_eq!(
        run.plan.rows[0].attribute_changes().collect::<Vec<_>>(),
        [("Role", "Agent", "Manager")]
    );
    assert_eq!(run.plan.rows[1].actions[..], [ProvisionAction::Refused]);
    assert!(run
        .plan
        .counts
        .contains(&(ProvisionAction::Refused.label().to_string(), 1)));
    let jobs = run.import_steps(&participants);
    let ProvisionStep::Import(job) = &jobs[0] else {
        panic!()
    };
    assert_eq!(
        job.participants.len(),
        1,
        "nothing sent for the refused row"
    );
    assert_eq!(job.participants[0].unique_identifier, "E-ANN");
    assert_eq!(job.participants[0].metadata["Role"], "Manager");
}
