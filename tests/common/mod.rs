//! Shared by the core's run tests (tests/runs.rs, tests/policy.rs) and the server's loopback
//! tests (server/tests/common includes this file): what every row should end as, and sheets
//! that change a known share of a brand.
#![allow(dead_code)]

/// Asserts that every row ended `done`, naming the first that did not.
pub fn assert_all_done(outcomes: Vec<qualtrics_roster::exec::RowOutcome>) {
    for o in outcomes {
        assert_eq!(
            o.status,
            qualtrics_roster::exec::OutcomeStatus::Done,
            "row {}: {}",
            o.row,
            o.message
        );
    }
}

/// A lifecycle sheet flipping `n` users (from the second on): disable the active ones,
/// re-enable the disabled ones; with the state each should end in.
pub fn flips(
    users: &[qualtrics_roster::api::users::UserSummary],
    n: usize,
) -> (
    qualtrics_roster::sheet::table::Table,
    std::collections::HashMap<String, &'static str>,
) {
    let mut csv = String::from("User ID,Action\n");
    let mut wanted = std::collections::HashMap::new();
    for u in users.iter().skip(1).take(n) {
        let active = u.account_status.as_deref() == Some("active");
        csv.push_str(&format!(
            "{},{}\n",
            u.id,
            if active { "disable" } else { "enable" }
        ));
        wanted.insert(u.id.clone(), if active { "disabled" } else { "active" });
    }
    (
        qualtrics_roster::sheet::table::Table::from_csv(&csv).unwrap(),
        wanted,
    )
}
