//! Groups and roles against the sandbox over real loopback HTTP, with the native driver: a
//! pull agrees with the sandbox's own state and makes the fewest requests the API allows;
//! 40 desired changes (groups and roles) apply, a second pull shows exactly the desired state,
//! and a second plan has nothing to do.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Server;
use qualtrics_roster::api::connection::Connection;
use qualtrics_roster::exec::{EndpointClass, ExecConfig, RateLimit};
use qualtrics_roster::membership::rules::{read_role_sheet, MatchOptions, RoleSheet};
use qualtrics_roster::membership::{self, ChangeAction, Snapshot};
use qualtrics_roster::policy::Approval;
use qualtrics_roster::run::{MembershipJob, MembershipRun};
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::time::Date;
use roster_native::client::{unix_millis, Control, Transport};
use serde_json::Value;

fn fast() -> ExecConfig {
    let fast = RateLimit::per_minute(100_000.0);
    ExecConfig {
        concurrency: 12,
        brand_limit: fast,
        limits: vec![
            (EndpointClass::Users, fast),
            (EndpointClass::Groups, fast),
            (EndpointClass::GroupMembersRead, fast),
            (EndpointClass::GroupMembersDelete, fast),
            (EndpointClass::Directory, fast),
        ],
        max_attempts: 10,
        backoff_base_ms: 20,
        backoff_max_ms: 500,
        jitter_seed: 3,
    }
}

async fn control(server: &Server, what: &str) -> Value {
    common::get_json(
        &format!("{}/sandbox/{what}", server.url),
        &server.admin_token,
    )
    .await
}

/// The sandbox's rules as a Roles sheet, the way the page offers them.
async fn roles_sheet(server: &Server) -> RoleSheet {
    let info = control(server, "connect-info").await;
    let rows = info["roleRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            ["role", "attribute", "operator", "value"]
                .iter()
                .map(|k| r[*k].as_str().unwrap_or_default().into())
                .collect()
        })
        .collect();
    let sheet = read_role_sheet(&Table {
        columns: ["Role", "Attribute", "Operator", "Value"]
            .map(String::from)
            .to_vec(),
        rows,
        row_numbers: Vec::new(),
        lines: Vec::new(),
    });
    assert!(sheet.problems.is_empty(), "{:?}", sheet.problems);
    sheet
}

async fn pull(t: &Transport, conn: &Connection) -> Snapshot {
    t.pull_membership(conn, &fast()).await.unwrap()
}

/// (username, group or role, kind) as the long table says.
fn long_pairs(snapshot: &Snapshot, roles: &RoleSheet) -> BTreeSet<(String, String, String)> {
    let tables = membership::pull_tables(snapshot, roles, None, MatchOptions::default()).unwrap();
    tables
        .long
        .rows
        .iter()
        .map(|r| (r[6].to_string(), r[3].to_string(), r[4].to_string()))
        .collect()
}

/// The same from the sandbox's own state: group members, and role members assigned by rule.
async fn sandbox_pairs(server: &Server) -> BTreeSet<(String, String, String)> {
    let state = control(server, "control/state").await;
    let mut pairs = BTreeSet::new();
    for g in state["groups"].as_array().unwrap() {
        for m in g["members"].as_array().unwrap() {
            pairs.insert((
                m.as_str().unwrap().to_string(),
                g["name"].as_str().unwrap().to_string(),
                membership::KIND_GROUP.to_string(),
            ));
        }
    }
    for r in state["roles"].as_array().unwrap() {
        for m in r["members"].as_array().unwrap() {
            if m["auto"] == Value::Bool(true) {
                pairs.insert((
                    m["userId"].as_str().unwrap().to_string(),
                    r["name"].as_str().unwrap().to_string(),
                    membership::KIND_ROLE.to_string(),
                ));
            }
        }
    }
    pairs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_agrees_with_the_sandbox_and_forty_changes_apply_exactly() {
    let server = Server::start(&["--rate-limit-scale", "40", "--quiet"]);
    let t = Transport::new();
    let conn = server.sandbox(&server.admin_token);
    let roles = roles_sheet(&server).await;

    // Pull: the long table agrees with the sandbox, with the fewest requests.
    let before = server.stats().await["requests"].as_u64().unwrap();
    let snapshot = pull(&t, &conn).await;
    let after = server.stats().await["requests"].as_u64().unwrap();
    assert_eq!(snapshot.users.len(), 250);
    assert_eq!(snapshot.groups.len(), 12);
    assert_eq!(roles.roles.len(), 6);
    let pages = |n: usize| n.div_ceil(100).max(1);
    let minimum = pages(snapshot.users.len())
        + pages(snapshot.groups.len())
        + pages(snapshot.participants.len())
        + snapshot
            .groups
            .iter()
            .map(|g| pages(g.members.len()))
            .sum::<usize>()
        // The listing does not say which groups are automatic: one record read per group.
        + snapshot.groups.len();
    assert_eq!(snapshot.requests(), minimum, "{:?}", snapshot.pages);
    assert_eq!(
        (after - before) as usize,
        minimum,
        "requests the sandbox saw"
    );
    assert_eq!(long_pairs(&snapshot, &roles), sandbox_pairs(&server).await);

    // 40 changes: 20 group adds/removes, 20 role joins/leaves by rule (no user twice per role).
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut expected: BTreeMap<(String, String), bool> = BTreeMap::new();
    let row = |u: &str, target: &str, yes: bool| {
        vec![
            u.to_string(),
            target.to_string(),
            if yes { "yes" } else { "no" }.to_string(),
        ]
    };
    for (n, u) in snapshot.users.iter().skip(2).take(20).enumerate() {
        let g = &snapshot.groups[n % snapshot.groups.len()];
        let is = g.members.contains(&u.id);
        rows.push(row(
            u.username.as_deref().unwrap(),
            &format!("group: {}", g.group.name),
            !is,
        ));
        expected.insert((u.id.clone(), g.group.name.clone()), !is);
    }
    let by_user: BTreeMap<&str, &BTreeMap<String, String>> = snapshot
        .participants
        .iter()
        .filter_map(|p| p.user_id.as_deref().map(|id| (id, &p.metadata)))
        .collect();
    for (n, u) in snapshot.users.iter().skip(30).take(20).enumerate() {
        let role = roles
            .role(
                [
                    "Seattle Team",
                    "Provo Team",
                    "Boston Team",
                    "Hotel Managers",
                ][n % 4],
            )
            .unwrap();
        let is = role.matches(by_user[u.id.as_str()], MatchOptions::default());
        rows.push(row(&u.id, &role.name, !is));
        expected.insert((u.id.clone(), role.name.clone()), !is);
    }
    let desired = Table {
        columns: ["User", "Group or role", "Member (yes/no)"]
            .map(String::from)
            .to_vec(),
        rows: rows
            .into_iter()
            .map(qualtrics_roster::sheet::table::cells)
            .collect(),
        row_numbers: Vec::new(),
        lines: Vec::new(),
    };
    let today = Date::from_unix_millis(unix_millis());
    // The run pulls again, plans, then applies exactly that plan.
    let mut run = MembershipRun::new(
        conn.clone(),
        MembershipJob::sheet(
            desired.clone(),
            roles.clone(),
            MatchOptions::default(),
            today,
        ),
        fast(),
        false,
        unix_millis(),
    );
    t.drive(&mut run, None, |_, _| Control::Continue).await;
    let plan = run.job().plan().expect("planned");
    for r in &plan.rows {
        assert_ne!(
            r.action,
            ChangeAction::Invalid,
            "row {}: {}",
            r.row,
            r.reason
        );
    }
    assert_eq!(plan.changes(), 40);
    let input = MembershipJob::fingerprint(&desired, &roles, MatchOptions::default(), today);
    run.apply(&input, &Approval::default(), unix_millis())
        .unwrap();
    t.drive(&mut run, None, |_, _| Control::Continue).await;
    common::assert_all_done(run.job().outcomes());

    // Pull again: exactly the desired state, in our tables and in the sandbox.
    let again = pull(&t, &conn).await;
    let pairs = long_pairs(&again, &roles);
    assert_eq!(pairs, sandbox_pairs(&server).await);
    for ((user, target), wanted) in &expected {
        let member = pairs.iter().any(|(u, t, _)| u == user && t == target);
        assert_eq!(member, *wanted, "{user} in {target}");
    }
    // Nothing else moved: every other membership is as before.
    let untouched = |p: &BTreeSet<(String, String, String)>| -> BTreeSet<(String, String, String)> {
        p.iter()
            .filter(|(u, t, _)| !expected.contains_key(&(u.clone(), t.clone())))
            .cloned()
            .collect()
    };
    assert_eq!(untouched(&pairs), untouched(&long_pairs(&snapshot, &roles)));
    let second = membership::plan_changes(&desired, &roles, &again, MatchOptions::default(), today);
    assert_eq!(
        second.changes(),
        0,
        "{:?}",
        second
            .rows
            .iter()
            .filter(|r| r.action != ChangeAction::Unchanged)
            .collect::<Vec<_>>()
    );
}
