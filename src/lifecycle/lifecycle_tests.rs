//! Lifecycle planning, steps and outcome tables.

use std::collections::HashMap;

use super::*;
use crate::api::connection::{Auth, Connection};
use crate::api::http::HttpResponse;
use crate::api::users::UserSummary;
use crate::exec::{ExecConfig, Executor, JournalEntry, Outcome, OutcomeStatus, TransportFailure};
use crate::sheet::table::Table;

fn user(id: &str, name: &str, status: &str) -> UserSummary {
    UserSummary {
        id: id.into(),
        username: Some(name.into()),
        first_name: None,
        last_name: None,
        email: None,
        user_type: None,
        division_id: None,
        account_status: Some(status.into()),
        account_expiration_date: None,
    }
}

fn brand() -> Vec<UserSummary> {
    vec![
        user("UR_AAAAAAAAAAAAAAA", "ann@x.edu", "active"),
        user("UR_BBBBBBBBBBBBBBB", "bob@x.edu", "disabled"),
        user("UR_CCCCCCCCCCCCCCC", "123456#acme", "active"),
        user("UR_DDDDDDDDDDDDDDD", "dan@x.edu", "disabled"),
    ]
}

fn opts() -> LifecycleOptions {
    LifecycleOptions {
        default_action: Some(Action::Disable),
        today: Date::parse_iso("2026-11-22").unwrap(),
    }
}

fn table(csv: &str) -> Table {
    Table::from_csv(csv).unwrap()
}

#[test]
fn plans_each_row_against_the_listing() {
    let t = table(
        "user_id,User Name,Action,Expiration Date\n\
         UR_AAAAAAAAAAAAAAA,,,\n\
         ,BOB@x.edu,enable,\n\
         ,123456#acme,disable,\n\
         UR_DDDDDDDDDDDDDDD,,disable,\n\
         ,ann@x.edu,,2027-01-31\n",
    );
    let p = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    assert_eq!(p.file_error, None);
    let actions: Vec<_> = p.rows.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![
            PlanAction::Invalid,
            PlanAction::Enable,
            PlanAction::Disable,
            PlanAction::Unchanged,
            PlanAction::Invalid
        ]
    );
    assert_eq!(p.rows[0].current, "active");
    assert_eq!(p.rows[0].new, "disabled");
    assert_eq!(p.rows[0].message, "Row 2, Action: conflicts with row 6 for the same account: nothing is sent for it until one of the rows is removed.");
    assert!(p.rows[0].change.is_none());
    assert_eq!(
        p.rows[1].user_id.as_deref(),
        Some("UR_BBBBBBBBBBBBBBB"),
        "usernames resolve case-insensitively"
    );
    assert_eq!(p.rows[3].message, "already disabled");
    // Row 6 asks ann for an expiry while row 2 disables her: two different changes for one account.
    assert!(
        p.rows[4]
            .message
            .starts_with("Row 6, Action: conflicts with row 2 (disable)"),
        "{}",
        p.rows[4].message
    );
    assert_eq!(
        p.counts,
        vec![
            ("disable".into(), 1),
            ("enable".into(), 1),
            ("unchanged".into(), 1),
            ("invalid".into(), 2)
        ]
    );
    // Neither of ann's two rows is sent.
    assert_eq!(p.changes(), 2);
    assert!(steps(&p)
        .iter()
        .all(|s| s.change.user_id != "UR_AAAAAAAAAAAAAAA"));
}

#[test]
fn duplicates_are_reported_and_planned_once() {
    let t = table("Username\nann@x.edu\nANN@x.edu\nann@x.edu\n");
    let p = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    assert_eq!(p.rows[0].action, PlanAction::Disable);
    assert_eq!(p.rows[1].action, PlanAction::Duplicate);
    assert_eq!(p.rows[1].message, "Row 3: the same as row 2: planned once.");
    assert_eq!(p.rows[2].same_as.as_deref(), Some("row:2"));
    assert_eq!(steps(&p).len(), 1);
    let executed = vec![Outcome {
        key: "row:2".into(),
        status: OutcomeStatus::Done,
        message: "disabled".into(),
        finished_at: Some(1_795_355_110_000),
        retryable: false,
    }];
    let out = outcomes(&p, &executed);
    assert_eq!(out[1].status, OutcomeStatus::Done);
    assert_eq!(out[1].message, "same as row 2: disabled");
    assert_eq!(out[1].applied_at, "2026-11-22T13:45:10Z");
}

#[test]
fn bad_rows_say_row_column_and_what_to_do_while_good_rows_still_plan() {
    let t = table(
        "User ID,Action,Expiration date\n\
         UR_AAAAAAAAAAAAAAA,disable,\n\
         12345,disable,\n\
         UR_ZZZZZZZZZZZZZZZ,disable,\n\
         UR_BBBBBBBBBBBBBBB,reactivate,\n\
         UR_BBBBBBBBBBBBBBB,expire,31/12/2026\n\
         UR_BBBBBBBBBBBBBBB,expire,2020-01-01\n\
         UR_BBBBBBBBBBBBBBB,expire,\n\
         ,disable,\n",
    );
    let p = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    let msgs: Vec<&str> = p.rows.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(p.rows[0].action, PlanAction::Disable);
    assert_eq!(msgs[1], "Row 3, User ID: \"12345\" is not a Qualtrics user id: they look like UR_ followed by 15 letters and digits (see Admin > Users, or a users export).");
    assert_eq!(p.rows[2].action, PlanAction::NotFound);
    assert_eq!(
        msgs[2],
        "Row 4: no user UR_ZZZZZZZZZZZZZZZ in this brand (deleted, or from another brand?)."
    );
    assert_eq!(
        msgs[3],
        "Row 5, Action: \"reactivate\" is not an action: write disable, enable or expire (also accepted: disabled, deactivate; enabled, re-enable, activate; expiry, set expiry)."
    );
    assert_eq!(msgs[4], "Row 6, Expiration date: \"31/12/2026\" is not a date: write it as YYYY-MM-DD (for example 2026-11-22), or <clear> to remove the expiry.");
    assert_eq!(msgs[5], "Row 7, Expiration date: 2020-01-01 is in the past: give today (2026-11-22) or a later date, or leave it blank.");
    assert_eq!(msgs[6], "Row 8, Expiration date: the action is expire but no date is given: write the date as YYYY-MM-DD, or <clear>.");
    assert_eq!(
        msgs[7],
        "Row 9, User ID: empty: give the account's User ID or Username, or delete the row."
    );

    let no_default = LifecycleOptions {
        default_action: None,
        ..opts()
    };
    let p = plan(
        &table("Username\nann@x.edu\n"),
        &brand(),
        &HashMap::new(),
        &[],
        &no_default,
    );
    assert!(p.rows[0].message.starts_with("Row 2, Action: no action"));

    let p = plan(
        &table("UR_AAAAAAAAAAAAAAA,disable\nUR_BBBBBBBBBBBBBBB,disable\n"),
        &brand(),
        &HashMap::new(),
        &[],
        &opts(),
    );
    assert!(p
        .file_error
        .unwrap()
        .message
        .starts_with("The first row holds \"UR_AAAAAAAAAAAAAAA\", which looks like data"));
    let p = plan(
        &table("Email,Name\na@b.c,A\n"),
        &brand(),
        &HashMap::new(),
        &[],
        &opts(),
    );
    assert_eq!(p.file_error.map(|e| e.message).as_deref(), Some("No \"User ID\" or \"Username\" column: add one as the header of the column that names the accounts (columns found: Email, Name)."));
}

#[test]
fn id_and_username_must_agree() {
    let p = plan(
        &table("User ID,Username\nUR_AAAAAAAAAAAAAAA,bob@x.edu\n"),
        &brand(),
        &HashMap::new(),
        &[],
        &opts(),
    );
    assert_eq!(p.rows[0].message, "Row 2, Username: UR_AAAAAAAAAAAAAAA belongs to ann@x.edu, not bob@x.edu: correct one of the two.");
}

fn conn() -> Connection {
    Connection::direct("http://sandbox.test/API/v3", Auth::api_token("t").unwrap()).unwrap()
}

#[test]
fn expiry_steps_read_the_user_first_and_the_before_file_undoes_them() {
    let t = table("User ID,Action,Expiration date\nUR_AAAAAAAAAAAAAAA,disable,2027-01-31\nUR_BBBBBBBBBBBBBBB,expire,<clear>\n");
    let p = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    assert_eq!(p.rows[0].new, "disabled, expires 2027-01-31");
    let mut ex = Executor::new(conn(), steps(&p), ExecConfig::default(), 0);
    let mut now = 0;
    while !ex.is_finished() {
        let poll = ex.poll(now);
        for out in poll.send {
            let r = &out.request;
            let answer = match (
                r.method,
                r.url.ends_with("UR_AAAAAAAAAAAAAAA"),
                r.url.ends_with("UR_BBBBBBBBBBBBBBB"),
            ) {
                (crate::api::http::Method::Get, true, _) => HttpResponse::new(
                    200,
                    r#"{"result":{"id":"UR_AAAAAAAAAAAAAAA","accountStatus":"active","accountExpirationDate":null},"meta":{}}"#,
                ),
                (crate::api::http::Method::Get, _, true) => HttpResponse::new(
                    200,
                    r#"{"result":{"id":"UR_BBBBBBBBBBBBBBB","accountStatus":"disabled","accountExpirationDate":"2026-12-01T00:00:00Z"},"meta":{}}"#,
                ),
                (crate::api::http::Method::Put, true, _) => {
                    assert_eq!(
                        String::from_utf8(r.body.clone().unwrap()).unwrap(),
                        r#"{"accountExpirationDate":"2027-01-31T00:00:00Z","status":"disabled"}"#
                    );
                    HttpResponse::new(200, r#"{"meta":{}}"#)
                }
                (crate::api::http::Method::Put, _, true) => {
                    assert_eq!(
                        String::from_utf8(r.body.clone().unwrap()).unwrap(),
                        r#"{"accountExpirationDate":null}"#
                    );
                    HttpResponse::new(200, r#"{"meta":{}}"#)
                }
                _ => unreachable!(),
            };
            ex.on_response(out.id, now, Ok::<_, TransportFailure>(answer));
        }
        now += 10;
    }
    let done: Vec<_> = ex
        .outcomes()
        .flatten()
        .map(|o| (o.status, o.message.clone()))
        .collect();
    assert_eq!(
        done,
        vec![
            (OutcomeStatus::Done, "disabled, expires 2027-01-31".into()),
            (OutcomeStatus::Done, "expiry removed".into())
        ]
    );
    let before = before_table(&ex.steps().collect::<Vec<_>>());
    assert_eq!(
        before.columns,
        vec![
            "User ID",
            "Username",
            "Action",
            "Expiration date",
            "Status before"
        ]
    );
    assert_eq!(
        before.rows[0],
        vec![
            "UR_AAAAAAAAAAAAAAA",
            "ann@x.edu",
            "enable",
            "<clear>",
            "active"
        ]
    );
    assert_eq!(
        before.rows[1],
        vec![
            "UR_BBBBBBBBBBBBBBB",
            "bob@x.edu",
            "disable",
            "2026-12-01",
            "disabled"
        ]
    );
    // The before file is itself a lifecycle sheet that plans the way back.
    let mut after_run = brand();
    after_run[0].account_status = Some("disabled".into());
    let back = plan(&before, &after_run, &HashMap::new(), &[], &opts());
    assert_eq!(
        back.rows[0].message,
        "Re-enable the account and remove its expiry date"
    );
}

#[test]
fn a_journal_marks_expiry_rows_already_applied() {
    let t = table("Username,Expiration date\nann@x.edu,2027-01-31\n");
    let first = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    assert_eq!(first.rows[0].action, PlanAction::SetExpiry);
    let journal = vec![JournalEntry {
        key: "row:2".into(),
        applied: first.rows[0].change.as_ref().unwrap().fingerprint(),
        at: 1_795_355_110_000,
    }];
    let again = plan(&t, &brand(), &HashMap::new(), &journal, &opts());
    assert_eq!(again.rows[0].action, PlanAction::Unchanged);
    assert_eq!(
        again.rows[0].message,
        "already applied at 2026-11-22T13:45:10Z (by the interrupted run)"
    );
}

#[test]
fn outcome_columns_go_beside_the_input_matched_by_row() {
    let t = table("User ID,Note\nUR_AAAAAAAAAAAAAAA,x\nbad,y\n");
    let p = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    // Results arrive in any order; rows are matched by identity.
    let executed = vec![Outcome {
        key: "row:2".into(),
        status: OutcomeStatus::Done,
        message: "disabled".into(),
        finished_at: Some(0),
        retryable: false,
    }];
    let out = outcomes(&p, &executed);
    let table = outcome_table(&t, &out);
    assert_eq!(
        table.columns,
        vec![
            "User ID",
            "Note",
            "Status",
            "Message",
            "Outcome user ID",
            "Applied at"
        ]
    );
    assert_eq!(
        table.rows[0],
        vec![
            "UR_AAAAAAAAAAAAAAA",
            "x",
            "done",
            "disabled",
            "UR_AAAAAAAAAAAAAAA",
            "1970-01-01T00:00:00Z"
        ]
    );
    assert_eq!(table.rows[1][2], "failed");
    assert!(table.rows[1][3].starts_with("not sent: Row 3, User ID:"));
    // Running on the outcome file again updates the same columns instead of adding more.
    let again = outcome_table(&table, &out);
    assert_eq!(again.columns.len(), 6);
}

#[test]
fn expiry_rows_compare_with_the_expiry_read_from_each_account() {
    let t = table(
        "Username,Expiration date\n\
         ann@x.edu,2027-01-10\n\
         bob@x.edu,<clear>\n\
         dan@x.edu,2027-02-01\n",
    );
    // Before the accounts are read, the listing says nothing: every row is a change, and the
    // plan says the current date is unknown instead of showing none.
    let unread = plan(&t, &brand(), &HashMap::new(), &[], &opts());
    assert_eq!(unread.changes(), 3, "{:?}", unread.rows);
    assert_eq!(unread.rows[0].current, "active, expiry unknown");
    assert_eq!(
        expiry_reads(&unread),
        vec![
            "UR_AAAAAAAAAAAAAAA".to_string(),
            "UR_BBBBBBBBBBBBBBB".into(),
            "UR_DDDDDDDDDDDDDDD".into()
        ]
    );
    // Read: ann already expires on that day and bob has no expiry; dan's is another date.
    let read = HashMap::from([
        (
            "UR_AAAAAAAAAAAAAAA".to_string(),
            Some("2027-01-10T00:00:00Z".to_string()),
        ),
        ("UR_BBBBBBBBBBBBBBB".to_string(), None),
        (
            "UR_DDDDDDDDDDDDDDD".to_string(),
            Some("2026-12-31".to_string()),
        ),
    ]);
    let p = plan(&t, &brand(), &read, &[], &opts());
    let actions: Vec<_> = p.rows.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![
            PlanAction::Unchanged,
            PlanAction::Unchanged,
            PlanAction::SetExpiry
        ]
    );
    assert_eq!(p.rows[0].message, "already active, expires 2027-01-10");
    assert_eq!(p.rows[2].current, "disabled, expires 2026-12-31");
    assert_eq!(expiry_reads(&p), vec!["UR_DDDDDDDDDDDDDDD".to_string()]);
}

#[test]
fn a_user_id_under_username_is_taken_as_the_user_id_it_is() {
    let users = vec![user("UR_0123456789abcde", "ana@x.org", "active")];
    let t = Table::from_csv(
        "Username,Action\nUR_0123456789abcde,disable\nUR_9999999999zzzzz,disable\n",
    )
    .unwrap();
    let p = plan(&t, &users, &HashMap::new(), &[], &opts());
    assert_eq!(p.rows[0].action, PlanAction::Disable);
    assert_eq!(p.rows[0].user_id.as_deref(), Some("UR_0123456789abcde"));
    assert_eq!(p.rows[1].action, PlanAction::NotFound);
    assert!(
        p.rows[1].message.contains("looked up as a User ID"),
        "{}",
        p.rows[1].message
    );
}

#[test]
fn two_columns_meaning_one_thing_are_refused_naming_both() {
    let users = vec![user("UR_0123456789abcde", "ana@x.org", "active")];
    let t = Table::from_csv("Username,Action,Action\nana@x.org,enable,disable\n").unwrap();
    let p = plan(&t, &users, &HashMap::new(), &[], &opts());
    let e = p.file_error.clone().expect("refused");
    assert!(
        e.message
            .contains("\"Action\" and \"Action\" both mean Action"),
        "{}",
        e.message
    );
    assert_eq!(p.changes(), 0);
}

#[test]
fn a_plan_names_the_person_beside_the_ids() {
    let mut ann = crate::api::users::UserSummary {
        id: "UR_AAAAAAAAAAAAAAA".into(),
        username: Some("ann@x.edu".into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        email: Some("ann@x.edu".into()),
        user_type: None,
        division_id: None,
        account_status: Some("active".into()),
        account_expiration_date: None,
    };
    assert_eq!(ann.person(), "Ann Lee");
    // An SSO username says nothing of the person: the e-mail address is shown too.
    ann.username = Some("3516416#rosterdemo".into());
    assert_eq!(ann.person(), "Ann Lee <ann@x.edu>");
}
