//! Provisioning against the sandbox over real loopback HTTP, with the native driver: creates
//! whose answers are lost are settled by a listing (nobody is created twice), the directory
//! import route keys by the sheet's uniqueIdentifier in the wrapped envelope form, and more
//! import jobs than Qualtrics runs at once start ten at a time (no 409).

mod common;

use std::collections::BTreeMap;

use common::Server;
use qualtrics_roster::api::connection::Connection;
use qualtrics_roster::exec::{EndpointClass, ExecConfig, OutcomeStatus, RateLimit};
use qualtrics_roster::policy::Approval;
use qualtrics_roster::provision::{self, ProvisionOptions, Route};
use qualtrics_roster::run::{ProvisionJob, ProvisionRun};
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::time::Date;
use roster_native::client::{unix_millis, Control, Transport};

fn fast() -> ExecConfig {
    ExecConfig {
        concurrency: 12,
        brand_limit: RateLimit::per_minute(100_000.0),
        limits: vec![
            (EndpointClass::Users, RateLimit::per_minute(100_000.0)),
            (EndpointClass::Directory, RateLimit::per_minute(100_000.0)),
        ],
        max_attempts: 10,
        backoff_base_ms: 20,
        backoff_max_ms: 500,
        jitter_seed: 3,
    }
}

fn options(route: Route, job_size: usize) -> ProvisionOptions {
    ProvisionOptions {
        route,
        today: Date::from_unix_millis(unix_millis()),
        user_types: BTreeMap::new(),
        divisions: BTreeMap::new(),
        job_size,
        // These runs create the attribute Team on purpose.
        new_attributes: ["Team".to_string()].into(),
    }
}

/// Plans `table` with a provisioning run (checking it plans `changes` changes), then applies
/// exactly that plan.
async fn plan_and_apply(
    t: &Transport,
    conn: &Connection,
    table: &Table,
    options: ProvisionOptions,
    config: ExecConfig,
    changes: usize,
) -> ProvisionRun {
    let mut run = ProvisionRun::new(
        conn.clone(),
        ProvisionJob::new(table.clone(), options.clone(), Vec::new()),
        config,
        false,
        unix_millis(),
    );
    t.drive(&mut run, None, |_, _| Control::Continue).await;
    assert_eq!(run.job().plan().unwrap().changes(), changes);
    run.apply(
        &ProvisionJob::fingerprint(table, &options),
        &Approval::default(),
        unix_millis(),
    )
    .unwrap();
    t.drive(&mut run, None, |_, _| Control::Continue).await;
    run
}

async fn user_type(t: &Transport, server: &Server) -> String {
    let users = t
        .list_users(&server.sandbox(&server.admin_token))
        .await
        .unwrap();
    users
        .iter()
        .find(|u| u.user_type.as_deref() != Some("UT_BRANDADMIN"))
        .unwrap()
        .user_type
        .clone()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_answers_are_settled_by_a_listing_and_nobody_is_created_twice() {
    let server = Server::start(&[
        "--relay-upstream",
        "sandbox",
        "--rate-limit-scale",
        "40",
        "--fault-lost",
        "0.15",
        "--fault-503",
        "0.05",
        "--fault-seed",
        "5",
        "--quiet",
    ]);
    let t = Transport::new();
    let conn = server.relay("iad1", &server.admin_token);
    let ut = user_type(&t, &server).await;
    let mut csv = String::from("Username,First name,Last name,Email,User type,Password,Team\n");
    for i in 0..120 {
        csv.push_str(&format!(
            "lost{i}@x.org,L,{i},lost{i}@x.org,{ut},pw-{i},Team{}\n",
            i % 4
        ));
    }
    let table = Table::from_csv(&csv).unwrap();
    let run = plan_and_apply(
        &t,
        &conn,
        &table,
        options(Route::AccountAndAttributes, 50),
        fast(),
        120,
    )
    .await;
    let outcomes = run.job().outcomes();
    for o in &outcomes {
        assert_eq!(
            o.status,
            OutcomeStatus::Done,
            "row {}: {}",
            o.row,
            o.message
        );
    }
    assert!(
        outcomes
            .iter()
            .any(|o| o.message.contains("confirmed in the user list")),
        "some answers were lost and settled"
    );
    let after = t.list_users(&conn).await.unwrap();
    for i in 0..120 {
        let n = after
            .iter()
            .filter(|u| u.username.as_deref() == Some(format!("lost{i}@x.org").as_str()))
            .count();
        assert_eq!(n, 1, "lost{i} exists exactly once");
    }
    let participants = t.list_participants(&conn).await.unwrap();
    for i in 0..120 {
        let p = participants
            .iter()
            .find(|p| p.username.as_deref() == Some(format!("lost{i}@x.org").as_str()))
            .unwrap();
        assert_eq!(
            p.metadata.get("Team").map(String::as_str),
            Some(format!("Team{}", i % 4).as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_route_with_wrapped_answers_and_more_jobs_than_qualtrics_runs_at_once() {
    let server = Server::start(&["--directory-wrapped", "--rate-limit-scale", "40", "--quiet"]);
    let t = Transport::new();
    let conn = server.sandbox(&server.admin_token);
    let mut csv = String::from("Unique identifier,First name,Last name,Email,Hotel,Role\n");
    for i in 0..14 {
        csv.push_str(&format!(
            "EMP-{i},E,{i},emp{i}@x.org,Seattle::Boston,Agent\n"
        ));
    }
    csv.push_str("EMP-BAD,No,Mail,,Seattle,Agent\n");
    let table = Table::from_csv(&csv).unwrap();
    // 14 jobs of one participant each: more than the ten Qualtrics runs at once.
    let mut config = fast();
    config.concurrency = 14;
    let run = plan_and_apply(
        &t,
        &conn,
        &table,
        options(Route::DirectoryImport, 1),
        config,
        14,
    )
    .await;
    assert!(
        run.job()
            .plan()
            .unwrap()
            .rows
            .last()
            .unwrap()
            .message()
            .contains("mail"),
        "the row without an e-mail is invalid"
    );
    let outcomes = run.job().outcomes();
    for o in outcomes.iter().take(14) {
        assert_eq!(
            o.status,
            OutcomeStatus::Done,
            "row {}: {}",
            o.row,
            o.message
        );
        assert!(o
            .unique_identifier
            .as_deref()
            .is_some_and(|u| u.starts_with("EMP-")));
    }
    assert_eq!(outcomes[14].status, OutcomeStatus::Failed);
    let stats = server.stats().await;
    assert_eq!(
        stats["byStatus"]["409"].as_u64().unwrap_or(0),
        0,
        "never more than ten jobs running at once: {stats}"
    );
    let after = t.list_participants(&conn).await.unwrap();
    let emp = after
        .iter()
        .find(|p| p.unique_identifier == "EMP-13")
        .unwrap();
    assert_eq!(
        emp.metadata.get("Hotel").map(String::as_str),
        Some("Seattle::Boston")
    );
    // Planned again: nothing to do.
    let again = provision::plan(
        &table,
        &[],
        &after,
        &[],
        &options(Route::DirectoryImport, 1),
    );
    assert_eq!(again.changes(), 0);
}
