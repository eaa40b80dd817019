//! One HTTP answer (status, an optional header, body bytes) fed to every response parser: the
//! envelope, whoami / get user / update user / division, the users and groups listings (on
//! both connection kinds, so `nextPage` resolution runs), the directory listing and import
//! job answers, the membership listing steps, the steps of lifecycle, provisioning and
//! membership runs, and the executor (which reads 429 / 5xx / 401 and `Retry-After`).
//!
//! Input layout (see `decode`): `[status selector, status hi, status lo, attempt]`, then one
//! header line ending in `\n` (empty: no header; `name: value`; or a bare value, taken as
//! `Retry-After`), then the body.

#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qualtrics_roster::api::connection::Connection;
use qualtrics_roster::api::directory::{self, ParticipantListing};
use qualtrics_roster::api::envelope;
use qualtrics_roster::exec::{ExecConfig, Executor, Step, StepUpdate};
use qualtrics_roster::api::http::HttpResponse;
use qualtrics_roster::lifecycle::{self, LifecycleOptions, LifecycleStep};
use qualtrics_roster::membership::{self, GroupMemberStep, GroupSummary, MembershipApply};
use qualtrics_roster::provision::{self, ProvisionApply, ProvisionStep, Route};
use qualtrics_roster::membership::rules;
use qualtrics_roster::sheet::table::Table;
use qualtrics_roster::api::users::{self, ListError, Listing, UserListing, UserSummary};

use common::Brand;

const STATUSES: [u16; 16] = [
    200, 201, 202, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 302, 299, 100,
];
const USER_ID: &str = "UR_0000000001";
/// A plausible "now" (2026-05-28) for the executor, in Unix milliseconds.
const NOW: u64 = 1_780_000_000_000;

fn decode(data: &[u8]) -> Option<(HttpResponse, u32)> {
    let [sel, hi, lo, attempt, rest @ ..] = data else {
        return None;
    };
    let status = if sel & 0x80 == 0 {
        STATUSES[(*sel as usize) % STATUSES.len()]
    } else {
        u16::from_be_bytes([*hi, *lo])
    };
    let (line, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let line = String::from_utf8_lossy(line);
    let mut response = HttpResponse::new(status, body.to_vec());
    if !line.is_empty() {
        response.headers.push(match line.split_once(':') {
            Some((name, value)) => (name.trim().to_string(), value.trim_start().to_string()),
            None => ("Retry-After".to_string(), line.into_owned()),
        });
    }
    Some((response, u32::from(*attempt % 8)))
}

fn list_error(e: &ListError, attempt: u32) {
    let _ = e.to_string();
    // What the hosts do after a failed page (native/src/client.rs, src/wasm.rs).
    let _ = e.retry_delay_ms(attempt);
}

/// Reads up to two pages of a `nextPage` listing, answering both with `response`.
fn drive_listing<T: serde::de::DeserializeOwned>(
    mut listing: Listing<T>,
    conn: &Connection,
    response: &HttpResponse,
    attempt: u32,
) {
    for _ in 0..2 {
        if listing.next_request(conn).is_none() {
            break;
        }
        match listing.on_response(conn, response) {
            Ok(page) => {
                if let Some(n) = &page.notice {
                    let _ = n.message();
                }
                if page.last {
                    break;
                }
            }
            Err(e) => {
                list_error(&e, attempt);
                break;
            }
        }
    }
    let _ = listing.pages_read();
}

/// Answers each step (a fresh copy) with `response` while it asks for more.
fn drive_steps<S: Step + Clone>(steps: &[S], conn: &Connection, response: &HttpResponse) {
    for step in steps {
        let mut step = step.clone();
        for _ in 0..3 {
            let _ = step.request(conn);
            match step.on_response(response, NOW) {
                StepUpdate::Continue | StepUpdate::RetryAfter { .. } => continue,
                StepUpdate::Finished { .. } => break,
            }
        }
        let _ = step.fingerprint();
    }
}

/// Runs an executor over `steps` where every request gets `response`, for a few rounds of
/// at most two minutes each (a host polls again when an answer arrives or at `wake_at`).
fn drive_executor<S: Step>(steps: Vec<S>, conn: &Connection, response: &HttpResponse) {
    let mut now = NOW;
    let mut exec = Executor::new(conn.clone(), steps, ExecConfig::default(), now);
    for _ in 0..4 {
        let poll = exec.poll(now);
        let sent = !poll.send.is_empty();
        for out in poll.send {
            exec.on_response(out.id, now + 40, Ok(response.clone()));
        }
        if exec.is_finished() || (!sent && poll.wake_at.is_none()) {
            break;
        }
        let next = poll.wake_at.unwrap_or(now + 40).max(now + 40);
        now = next.min(now + 120_000);
    }
    let _ = exec.progress(now);
    let _ = exec.take_audit();
    let _ = exec.take_journal();
    let _ = exec.outcomes().count();
}

/// Steps of real runs against the fixed brand, built once.
struct RunSteps {
    lifecycle: Vec<LifecycleStep>,
    provision: Vec<ProvisionStep>,
    groups: Vec<GroupMemberStep>,
}

fn table(csv: &str) -> Table {
    Table::from_csv(csv).expect("a seed table")
}

fn run_steps() -> &'static RunSteps {
    static STEPS: OnceLock<RunSteps> = OnceLock::new();
    STEPS.get_or_init(|| {
        let brand = Brand::fixed();
        let today = common::fixed_today();
        let plan = lifecycle::plan(
            &table(
                "User ID,Action,Expiration date\n\
                 UR_0000000001,disable,\n\
                 UR_0000000002,enable,2027-06-30\n\
                 UR_0000000003,expire,<clear>\n",
            ),
            &brand.users,
            &[],
            &LifecycleOptions {
                default_action: None,
                today,
            },
        );
        let lifecycle = lifecycle::steps(&plan);

        let plan = provision::plan(
            &table(
                "Username,First name,Last name,Email,User type,Password,Hotel\n\
                 new@example.org,Nell,New,new@example.org,Researcher,pw-1,Seattle\n\
                 ann@example.org,Annie,Last0,ann@example.org,,,\n",
            ),
            &brand.users,
            &brand.participants,
            &[],
            &brand.provision_options(Route::AccountAndAttributes),
        );
        let mut provision = ProvisionApply::new(plan).account_steps();
        let plan = provision::plan(
            &table(
                "Unique identifier,First name,Last name,Email,Hotel\n\
                 E1001,Ann,Last0,ann@example.org,Provo\n\
                 E9999,Nell,New,new@example.org,Seattle\n",
            ),
            &brand.users,
            &brand.participants,
            &[],
            &brand.provision_options(Route::DirectoryImport),
        );
        provision.extend(ProvisionApply::new(plan).import_steps(&brand.participants));

        let roles = rules::read_role_sheet(&rules::role_template());
        let plan = membership::plan_changes(
            &table(
                "User,Group or role,Member\n\
                 ann@example.org,Front Desk,no\n\
                 bo@example.org,Front Desk,yes\n",
            ),
            &roles,
            &brand.snapshot(),
            brand.match_options,
            today,
        );
        let groups = MembershipApply::new(plan).group_steps();
        assert!(
            lifecycle.len() >= 2 && provision.len() >= 3 && groups.len() == 2,
            "the fixed runs have steps: {} lifecycle, {} provision, {} group",
            lifecycle.len(),
            provision.len(),
            groups.len()
        );
        RunSteps {
            lifecycle,
            provision,
            groups,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((response, attempt)) = decode(data) else {
        return;
    };
    let steps = run_steps();

    match envelope::parse(&response) {
        Ok(env) => {
            let _ = env.require_result("a fuzzed answer");
            if let Some(n) = &env.notice {
                let _ = n.message();
                let _ = n.suggested_datacenter();
            }
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.is_transient();
            list_error(&ListError::Api(e), attempt);
        }
    }
    match users::parse_whoami(&response) {
        Ok((_, Some(n))) => {
            let _ = n.message();
        }
        Ok(_) => {}
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Err(e) = users::parse_get_user(USER_ID, &response) {
        let _ = e.to_string();
    }
    if let Err(e) = users::parse_update_user(USER_ID, &response) {
        let _ = e.to_string();
    }
    if let Err(e) = users::parse_division_name(&response) {
        let _ = e.to_string();
    }
    if let Err(e) = directory::parse_job_id(&response) {
        let _ = e.to_string();
    }
    if let Err(e) = directory::parse_job_status(&response) {
        let _ = e.to_string();
    }
    if let Err(e) = directory::parse_job_failures(&response) {
        let _ = e.to_string();
    }

    let mut participants = ParticipantListing::default();
    for _ in 0..2 {
        match participants.on_response(&response) {
            Ok(_) => {}
            Err(e) => {
                list_error(&e, attempt);
                break;
            }
        }
    }

    let group = GroupSummary {
        id: "GR_0000000001".into(),
        name: "Front Desk".into(),
        group_type: None,
        division_id: None,
    };
    for conn in common::connections() {
        drive_listing(UserListing::users(&conn), &conn, &response, attempt);
        drive_listing::<GroupSummary>(
            Listing::starting_at(conn.url("groups")),
            &conn,
            &response,
            attempt,
        );
        drive_listing::<UserSummary>(
            Listing::starting_at(conn.url("groups/GR_0000000001/members")),
            &conn,
            &response,
            attempt,
        );
        drive_steps(&membership::pull_steps(&conn), &conn, &response);
        drive_steps(
            &membership::member_steps(&conn, std::slice::from_ref(&group)),
            &conn,
            &response,
        );
    }

    let [conn, _] = common::connections();
    drive_steps(&steps.lifecycle, &conn, &response);
    drive_steps(&steps.provision, &conn, &response);
    drive_steps(&steps.groups, &conn, &response);

    drive_executor(membership::pull_steps(&conn), &conn, &response);
    drive_executor(steps.lifecycle.clone(), &conn, &response);
    drive_executor(steps.provision.clone(), &conn, &response);
    drive_executor(steps.groups.clone(), &conn, &response);
});
