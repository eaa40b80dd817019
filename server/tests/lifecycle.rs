//! Bulk lifecycle against the sandbox over real loopback HTTP, through the relay, with faults:
//! 2,000 status changes with 10 % 5xx, 5 % 429, 1 % dropped connections and 1 % answers lost
//! after the change was made. The run is killed halfway and resumed: every row ends right,
//! no account ends in a wrong state, and no account is changed twice.

mod common;

use common::Server;
use qualtrics_roster::exec::{EndpointClass, ExecConfig, JournalEntry, OutcomeStatus, RateLimit};
use qualtrics_roster::lifecycle::{LifecycleOptions, PlanAction};
use qualtrics_roster::policy::Approval;
use qualtrics_roster::run::{LifecycleJob, LifecycleRun};
use qualtrics_roster::time::Date;
use roster_native::client::{unix_millis, Control, RunEnd, Transport};

const ROWS: usize = 2000;

fn fast_config() -> ExecConfig {
    // The sandbox runs with 40x Qualtrics' limits here: this test is about faults, not pacing.
    ExecConfig {
        concurrency: 16,
        brand_limit: RateLimit::per_minute(100_000.0),
        limits: vec![(EndpointClass::Users, RateLimit::per_minute(100_000.0))],
        max_attempts: 10,
        backoff_base_ms: 20,
        backoff_max_ms: 1_000,
        jitter_seed: 7,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_rows_through_faults_killed_halfway_and_resumed() {
    let server = Server::start(&[
        "--relay-upstream",
        "sandbox",
        "--users",
        "2200",
        "--rate-limit-scale",
        "40",
        "--fault-500",
        "0.05",
        "--fault-503",
        "0.05",
        "--fault-429",
        "0.05",
        "--fault-drop",
        "0.01",
        "--fault-lost",
        "0.01",
        "--fault-seed",
        "11",
        "--quiet",
    ]);
    let conn = server.relay("iad1", &server.admin_token);
    let transport = Transport::new();
    let before = transport
        .list_users(&conn)
        .await
        .expect("listing survives the faults");
    assert_eq!(before.len(), 2200);

    // Flip 2,000 accounts: disable the active ones, re-enable the disabled ones.
    let (table, wanted) = common::flips(&before, ROWS);
    let options = LifecycleOptions {
        default_action: None,
        today: Date::from_unix_millis(unix_millis()),
    };

    // Run 1: planned, then killed once half the rows have an outcome. The journal is what a
    // page would have saved from the progress events.
    let mut run = LifecycleRun::new(
        conn.clone(),
        LifecycleJob::new(table.clone(), options.clone(), Vec::new()),
        fast_config(),
        false,
        unix_millis(),
    );
    transport
        .drive(&mut run, None, |_, _| Control::Continue)
        .await;
    assert_eq!(run.job().plan().unwrap().changes(), ROWS);
    run.apply(
        &LifecycleJob::fingerprint(&table, &options),
        // A deliberate mass change, as a cron job confirms one: within --max-changes.
        &Approval::up_to(table.rows.len()),
        unix_millis(),
    )
    .unwrap();
    let mut journal: Vec<JournalEntry> = Vec::new();
    let end = transport
        .drive(&mut run, None, |_, progress| {
            let Some(p) = progress else {
                return Control::Continue;
            };
            journal.extend(p.journal);
            if p.counts.done + p.counts.failed >= ROWS / 2 {
                Control::Kill
            } else {
                Control::Continue
            }
        })
        .await;
    assert_eq!(end, RunEnd::Killed);
    let first_done = journal.len();
    assert!(
        first_done >= ROWS / 2 - 16,
        "about half done before the kill: {first_done}"
    );

    // Run 2: plan again against the live brand with the journal; rows finished (or applied
    // just before the kill) come out unchanged, the rest are sent.
    let mut run = LifecycleRun::new(
        conn.clone(),
        LifecycleJob::new(table.clone(), options.clone(), journal),
        fast_config(),
        false,
        unix_millis(),
    );
    transport
        .drive(&mut run, None, |_, _| Control::Continue)
        .await;
    let replan = run.job().plan().unwrap();
    let unchanged = replan
        .rows
        .iter()
        .filter(|r| r.action == PlanAction::Unchanged)
        .count();
    assert!(
        unchanged >= first_done,
        "finished rows plan as unchanged ({unchanged} < {first_done})"
    );
    assert_eq!(unchanged + replan.changes(), ROWS);
    run.apply(
        &LifecycleJob::fingerprint(&table, &options),
        // A deliberate mass change, as a cron job confirms one: within --max-changes.
        &Approval::up_to(table.rows.len()),
        unix_millis(),
    )
    .unwrap();
    assert_eq!(
        transport
            .drive(&mut run, None, |_, _| Control::Continue)
            .await,
        RunEnd::Finished
    );
    let outcomes = run.job().outcomes();

    // Every row has the right outcome...
    assert_eq!(outcomes.len(), ROWS);
    for o in &outcomes {
        assert!(
            matches!(o.status, OutcomeStatus::Done | OutcomeStatus::Unchanged),
            "row {} ended {:?}: {}",
            o.row,
            o.status,
            o.message
        );
    }
    // ...every account is in the wanted state...
    let after = transport.list_users(&conn).await.unwrap();
    for u in &after {
        match wanted.get(&u.id) {
            Some(w) => assert_eq!(u.account_status.as_deref(), Some(*w), "{}", u.id),
            None => assert_eq!(
                Some(u),
                before.iter().find(|b| b.id == u.id),
                "untouched accounts stay as they were"
            ),
        }
    }
    // ...and was changed exactly once, faults and the kill notwithstanding.
    let stats = server.stats().await;
    let changes = stats["changesPerUser"].as_object().unwrap();
    assert_eq!(changes.len(), ROWS);
    assert!(
        changes.values().all(|n| n == 1),
        "an account was changed twice"
    );
    // The faults really happened.
    for status in ["0", "429", "500", "503"] {
        assert!(
            stats["byStatus"][status].as_u64().unwrap_or(0) > 10,
            "no {status} answers: {stats}"
        );
    }
}
