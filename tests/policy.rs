//! The policy as every host meets it: a sheet run started the way the page, the CLI and the
//! hooks start one (`SheetRun::start` with the credential's own account from whoami), driven
//! on a virtual clock against the in-process sandbox brand. Protected accounts, the
//! mass-change brake and the admin allowance are checked by what the brand received.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::Arc;

use qualtrics_roster::api::connection::{Auth, Connection};
use qualtrics_roster::api::http::Method;
use qualtrics_roster::api::users::{self, UserSummary};
use qualtrics_roster::exec::{ExecConfig, OutcomeStatus};
use qualtrics_roster::membership::rules::RoleSheet;
use qualtrics_roster::policy::{
    Actor, Approval, Confirmation, Guard, Limit, Policy, MAKES_ADMIN, OTHER_ADMIN, OWN_ACCOUNT,
};
use qualtrics_roster::run::{
    simulate, ApplyRefused, Brand, Run, SheetKind, SheetRequest, SheetRun, UsersRun,
};
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::time::UnixMillis;
use roster_sandbox::{Sandbox, SandboxConfig};

/// The virtual clock's start (2027-01-15).
const T0: UnixMillis = 1_800_000_000_000;

struct Fixture {
    sb: Arc<Sandbox>,
    conn: Connection,
    actor: Actor,
}

impl Fixture {
    fn new(users: usize) -> Fixture {
        let sb = Sandbox::new(&SandboxConfig {
            users,
            ..SandboxConfig::default()
        });
        let conn = Connection::direct(
            "http://sandbox.test/sandbox/API/v3",
            Auth::api_token(&sb.admin_token()).unwrap(),
        )
        .unwrap();
        let answer = sb.handle(&users::whoami_request(&conn), T0).unwrap();
        let (who, _) = users::parse_whoami(&answer).unwrap();
        Fixture {
            sb,
            conn,
            actor: Actor::from_whoami(&who),
        }
    }

    fn drive<R: Run>(&self, run: &mut R, now: UnixMillis) -> UnixMillis {
        let sb = self.sb.clone();
        simulate(
            run,
            now,
            20,
            &mut |request, at| sb.handle(request, at),
            &mut |_| None,
            &mut |_, _, _| {},
        )
    }

    fn users(&self) -> Vec<UserSummary> {
        let mut run = UsersRun::list_users(self.conn.clone(), ExecConfig::default(), false, T0);
        self.drive(&mut run, T0);
        run.job().users_read().to_vec()
    }

    /// Plans `csv` as the page or the CLI would; returns the run and when it was planned.
    fn plan(&self, kind: SheetKind, csv: &str, request: SheetRequest) -> (SheetRun, UnixMillis) {
        let mut run = SheetRun::start(
            kind,
            Table::from_csv(csv).unwrap(),
            request,
            RoleSheet::default(),
            Brand::Online {
                conn: self.conn.clone(),
                renewable: false,
                guard: Guard::new(self.actor.clone(), Policy::default()),
            },
            ExecConfig::default(),
            T0,
        );
        let at = self.drive(&mut run, T0);
        assert_eq!(run.error(), None);
        (run, at)
    }

    fn writes(&self) -> u64 {
        let s = self.sb.stats_snapshot();
        s.changes_per_user.values().map(|n| u64::from(*n)).sum()
    }

    /// A second Brand Administrator, made through the API as an administrator would.
    fn another_admin(&self) -> String {
        let body = serde_json::json!({
            "username": "second.admin@example.org", "firstName": "Second", "lastName": "Admin",
            "email": "second.admin@example.org", "userType": "UT_BRANDADMIN",
            "password": "Correct-horse-9", "language": "en"
        });
        let request = self.conn.request(
            Method::Post,
            self.conn.url("users"),
            Some(body.to_string().into_bytes()),
        );
        let answer = self.sb.handle(&request, T0).unwrap();
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let v: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        v["result"]["id"].as_str().unwrap().to_string()
    }

    fn status_of(&self, id: &str) -> String {
        self.users()
            .into_iter()
            .find(|u| u.id == id)
            .and_then(|u| u.account_status)
            .unwrap_or_default()
    }
}

fn outcome(run: &SheetRun, row: u32) -> (OutcomeStatus, String) {
    let o = run.outcomes().into_iter().find(|o| o.row == row).unwrap();
    (o.status, o.message)
}

#[test]
fn no_run_disables_the_account_of_its_own_credential_and_the_other_rows_go_on() {
    let f = Fixture::new(30);
    let users = f.users();
    let me = f.actor.user_id.clone().unwrap();
    let others: Vec<&UserSummary> = users.iter().filter(|u| u.id != me).take(2).collect();
    let csv = format!(
        "User ID,Action\n{me},disable\n{},disable\n{},disable\n",
        others[0].id, others[1].id
    );
    let (mut run, at) = f.plan(SheetKind::Lifecycle, &csv, SheetRequest::default());
    let blast = run.blast_radius().unwrap().clone();
    assert_eq!(blast.refused.len(), 1);
    assert_eq!(blast.refused[0].row, 2);
    assert_eq!(blast.loses_access, 2);
    assert_eq!(blast.changes, 2);
    assert!(run.counts().contains(&("refused".to_string(), 1)));
    // Even with every allowance, its own account is not sent.
    let all = Approval {
        allow_admin_changes: true,
        confirmation: Confirmation::Released,
    };
    run.apply(None, &all, at).unwrap();
    f.drive(&mut run, at);
    let (status, message) = outcome(&run, 2);
    assert_eq!(status, OutcomeStatus::Refused);
    assert!(message.contains(OWN_ACCOUNT), "{message}");
    assert_eq!(outcome(&run, 3).0, OutcomeStatus::Done);
    assert_eq!(outcome(&run, 4).0, OutcomeStatus::Done);
    assert_eq!(f.status_of(&me), "active");
    assert_eq!(f.writes(), 2);
    // By username too, in another case, and for an expiry in the past week or tomorrow.
    let name = f.actor.username.clone().unwrap().to_uppercase();
    let (run, _) = f.plan(
        SheetKind::Lifecycle,
        &format!("Username,Action,Expiration date\n{name},expire,2027-01-16\n"),
        SheetRequest::default(),
    );
    assert_eq!(run.blast_radius().unwrap().refused.len(), 1);
}

#[test]
fn another_brand_administrator_is_disabled_only_when_the_run_allows_admin_changes() {
    let f = Fixture::new(30);
    let admin = f.another_admin();
    let csv = format!("User ID,Action\n{admin},disable\n");
    let (mut run, at) = f.plan(SheetKind::Lifecycle, &csv, SheetRequest::default());
    let blast = run.blast_radius().unwrap();
    assert_eq!(blast.needs_admin_allowance.len(), 1);
    assert_eq!(blast.privileged.len(), 1);
    assert_eq!(
        blast.privileged[0].why.as_deref(),
        Some("Brand Administrator")
    );
    run.apply(None, &Approval::default(), at).unwrap();
    f.drive(&mut run, at);
    let (status, message) = outcome(&run, 2);
    assert_eq!(status, OutcomeStatus::Refused);
    assert!(message.contains(OTHER_ADMIN), "{message}");
    assert_eq!(f.writes(), 0, "nothing was sent");
    assert_eq!(f.status_of(&admin), "active");

    let (mut run, at) = f.plan(SheetKind::Lifecycle, &csv, SheetRequest::default());
    let allowed = Approval {
        allow_admin_changes: true,
        ..Approval::default()
    };
    run.apply(None, &allowed, at).unwrap();
    f.drive(&mut run, at);
    assert_eq!(outcome(&run, 2).0, OutcomeStatus::Done);
    assert_eq!(f.status_of(&admin), "disabled");
}

#[test]
fn the_brake_sends_nothing_until_the_number_is_typed_or_a_limit_covers_the_plan() {
    let f = Fixture::new(200);
    let me = f.actor.user_id.clone().unwrap();
    let active: Vec<UserSummary> = f
        .users()
        .into_iter()
        .filter(|u| u.id != me && u.account_status.as_deref() == Some("active"))
        .take(40)
        .collect();
    let mut csv = String::from("User ID,Action\n");
    for u in &active {
        csv.push_str(&format!("{},disable\n", u.id));
    }
    let (mut run, at) = f.plan(SheetKind::Lifecycle, &csv, SheetRequest::default());
    let blast = run.blast_radius().unwrap().clone();
    assert_eq!(blast.loses_access, 40);
    assert!(blast.brake.needs_confirmation, "40 of about 200: held");
    let refused = run.apply(None, &Approval::default(), at);
    let Err(ApplyRefused::NeedsConfirmation(why)) = refused else {
        panic!("held by the brake: {refused:?}");
    };
    assert!(why.starts_with("Needs confirmation"), "{why}");
    assert!(why.contains("40 accounts"), "{why}");
    let wrong = Approval {
        confirmation: Confirmation::TypedCount(39),
        ..Approval::default()
    };
    assert!(run.apply(None, &wrong, at).is_err());
    let small_limit = Approval {
        confirmation: Confirmation::MaxChanges(Limit::Changes(10)),
        ..Approval::default()
    };
    assert!(run.apply(None, &small_limit, at).is_err());
    assert_eq!(f.writes(), 0, "nothing was sent");
    let typed = Approval {
        confirmation: Confirmation::TypedCount(40),
        ..Approval::default()
    };
    run.apply(None, &typed, at).unwrap();
    f.drive(&mut run, at);
    assert_eq!(f.writes(), 40);
    assert!(run
        .outcomes()
        .iter()
        .all(|o| o.status == OutcomeStatus::Done));
}

#[test]
fn no_run_creates_a_brand_administrator_without_the_allowance() {
    let f = Fixture::new(20);
    let csv = "Username,First name,Last name,Email,User type,Password\n\
               new.admin@example.org,New,Admin,new.admin@example.org,UT_BRANDADMIN,Correct-horse-9\n";
    let (mut run, at) = f.plan(SheetKind::Provision, csv, SheetRequest::default());
    let blast = run.blast_radius().unwrap().clone();
    assert_eq!(blast.admin_type_changes.len(), 1);
    assert_eq!(blast.needs_admin_allowance.len(), 1);
    run.apply(None, &Approval::hooks(), at).unwrap();
    f.drive(&mut run, at);
    let (status, message) = outcome(&run, 2);
    assert_eq!(status, OutcomeStatus::Refused);
    assert!(message.contains(MAKES_ADMIN), "{message}");
    assert!(!f
        .users()
        .iter()
        .any(|u| u.username.as_deref() == Some("new.admin@example.org")));
}

#[test]
fn a_file_that_matches_nobody_is_called_suspicious_before_anything_is_sent() {
    let f = Fixture::new(20);
    let users = f.users();
    let mut csv = String::from("User ID,Action\n");
    csv.push_str(&format!("{},disable\n", users[3].id));
    for i in 0..9 {
        csv.push_str(&format!("UR_nobody{i:07},disable\n"));
    }
    let (run, _) = f.plan(SheetKind::Lifecycle, &csv, SheetRequest::default());
    let blast = run.blast_radius().unwrap();
    assert!(blast.suspicious);
    assert_eq!(blast.not_found, 9);
    assert!(blast
        .warning
        .as_deref()
        .unwrap()
        .starts_with("Most rows match nobody"));
    let view = serde_json::to_value(run.view(Some(10))).unwrap();
    assert_eq!(view["blast"]["suspicious"], true);
    assert_eq!(view["blast"]["losesAccess"], 1);
}
