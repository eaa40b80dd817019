//! The executor on a virtual clock: nothing sleeps, every delay is checked exactly.

use super::*;
use crate::api::connection::Auth;
use crate::api::envelope;
use crate::api::http::Method;

/// A one-request step (PUT), or a two-request one (GET then PUT) when `two_phase`.
struct TestStep {
    key: String,
    two_phase: bool,
    phase: u8,
}

impl TestStep {
    fn new(i: usize) -> TestStep {
        TestStep {
            key: format!("row:{}", i + 2),
            two_phase: false,
            phase: 0,
        }
    }
}

impl Step for TestStep {
    fn key(&self) -> &str {
        &self.key
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        let method = if self.two_phase && self.phase == 0 {
            Method::Get
        } else {
            Method::Put
        };
        conn.request(
            method,
            conn.url(&format!("users/UR_{}", self.key.replace(':', ""))),
            None,
        )
    }
    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        if self.two_phase && self.phase == 0 {
            self.phase = 1;
            return StepUpdate::Continue;
        }
        match envelope::parse(response) {
            Ok(_) => StepUpdate::Finished {
                status: OutcomeStatus::Done,
                message: "done".into(),
            },
            Err(e) => StepUpdate::Finished {
                status: OutcomeStatus::Failed,
                message: e.to_string(),
            },
        }
    }
    fn fingerprint(&self) -> String {
        "status=disabled".into()
    }
}

fn conn() -> Connection {
    Connection::direct("http://sandbox.test/API/v3", Auth::api_token("t").unwrap()).unwrap()
}

fn steps(n: usize) -> Vec<TestStep> {
    (0..n).map(TestStep::new).collect()
}

fn ok() -> Result<HttpResponse, TransportFailure> {
    Ok(HttpResponse::new(
        200,
        r#"{"meta":{"httpStatus":"200 - OK"}}"#,
    ))
}

fn status(code: u16) -> Result<HttpResponse, TransportFailure> {
    Ok(HttpResponse::new(
        code,
        format!(
            r#"{{"meta":{{"httpStatus":"{code}","error":{{"errorMessage":"message {code}","errorCode":"E_{code}"}}}}}}"#
        ),
    ))
}

fn quiet_limits(concurrency: usize) -> ExecConfig {
    ExecConfig {
        concurrency,
        brand_limit: RateLimit {
            per_minute: 6_000_000.0,
            burst: 1000.0,
        },
        limits: vec![],
        ..ExecConfig::default()
    }
}

#[test]
fn transient_failures_back_off_exponentially_with_jitter_then_fail() {
    let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 0);
    let mut now = 0;
    let mut waits = Vec::new();
    loop {
        let poll = ex.poll(now);
        if ex.is_finished() {
            break;
        }
        if let Some(out) = poll.send.first() {
            ex.on_response(out.id, now, status(503));
            continue;
        }
        let wake = poll.wake_at.expect("a retry is scheduled");
        waits.push(wake - now);
        now = wake;
    }
    // 6 attempts: 5 waits, each within [d/2, d] for d = 500, 1000, 2000, 4000, 8000 ms.
    assert_eq!(waits.len(), 5, "{waits:?}");
    for (i, w) in waits.iter().enumerate() {
        let d = 500u64 << i;
        assert!(
            *w >= d / 2 && *w <= d,
            "wait {i} = {w} not in [{}, {d}]",
            d / 2
        );
    }
    let outcome = ex.outcomes().next().unwrap().unwrap().clone();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert!(
        outcome.message.starts_with(
            "failed after 6 attempts: Qualtrics had a server error (HTTP 503): message 503"
        ),
        "{}",
        outcome.message
    );
    let audit = ex.take_audit();
    assert_eq!(
        audit.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(audit[0].status, Some(503));
}

#[test]
fn retry_after_is_honoured() {
    let mut config = quiet_limits(4);
    config.limits = vec![(
        EndpointClass::Users,
        RateLimit {
            per_minute: 600_000.0,
            burst: 100.0,
        },
    )];
    let mut ex = Executor::new(conn(), steps(3), config, 1_000);
    let first = ex.poll(1_000).send;
    assert_eq!(first.len(), 3);
    let mut r = HttpResponse::new(
        429,
        r#"{"meta":{"error":{"errorMessage":"Too many requests"}}}"#,
    );
    r.headers.push(("Retry-After".into(), "3".into()));
    ex.on_response(first[0].id, 1_100, Ok(r));
    ex.on_response(first[1].id, 1_100, ok());
    ex.on_response(first[2].id, 1_100, ok());
    let poll = ex.poll(1_100);
    assert!(poll.send.is_empty());
    let wake = poll.wake_at.unwrap();
    // Retry-After: 3 s, plus at most 250 ms of jitter.
    assert!((4_100..4_350).contains(&wake), "woke at {wake}");
    assert!(
        ex.poll(4_099).send.is_empty(),
        "nothing before Retry-After ends"
    );
    let again = ex.poll(wake);
    assert_eq!(again.send.len(), 1);
    ex.on_response(again.send[0].id, wake + 10, ok());
    assert!(ex.is_finished());
    assert_eq!(ex.progress(wake + 10).retries, 1);
}

#[test]
fn an_absurd_retry_after_waits_ten_minutes_and_does_not_overflow() {
    // Found by the api_response fuzz target: "Retry-After: 99999999999999999" overflowed
    // the seconds-to-milliseconds product (fuzz/regressions/api_response/).
    let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 1_000);
    let first = ex.poll(1_000).send;
    let mut r = HttpResponse::new(429, "{}");
    r.headers
        .push(("Retry-After".into(), "99999999999999999".into()));
    ex.on_response(first[0].id, 1_100, Ok(r));
    let wake = ex.poll(1_100).wake_at.unwrap();
    let cap = 1_100 + MAX_RETRY_AFTER_SECS * 1000;
    assert!((cap..cap + 250).contains(&wake), "woke at {wake}");
}

#[test]
fn rate_limits_pace_sends_under_the_ceiling() {
    // 600/min = 10 a second, burst 2; answers are instant; 200 rows take ~20 s.
    let config = ExecConfig {
        concurrency: 50,
        brand_limit: RateLimit {
            per_minute: 3000.0,
            burst: 10.0,
        },
        limits: vec![(
            EndpointClass::Users,
            RateLimit {
                per_minute: 600.0,
                burst: 2.0,
            },
        )],
        ..ExecConfig::default()
    };
    let mut ex = Executor::new(conn(), steps(200), config, 0);
    let mut now = 0u64;
    let mut sent_at = Vec::new();
    while !ex.is_finished() {
        let poll = ex.poll(now);
        for out in &poll.send {
            sent_at.push(now);
            ex.on_response(out.id, now, ok());
        }
        if poll.send.is_empty() {
            now = poll.wake_at.expect("paced, not stuck");
        }
    }
    assert_eq!(sent_at.len(), 200);
    // Never more than burst + rate * t in any prefix.
    for (i, t) in sent_at.iter().enumerate() {
        let allowed = 2.0 + *t as f64 / 100.0;
        assert!(
            (i + 1) as f64 <= allowed + 1e-9,
            "request {} at {t} ms exceeds the limit",
            i + 1
        );
    }
    let last = *sent_at.last().unwrap();
    assert!(
        (19_700..=20_000).contains(&last),
        "200 at 10/s with burst 2 ends near 19.8 s, got {last}"
    );
}

#[test]
fn concurrency_limit_holds() {
    let mut ex = Executor::new(conn(), steps(20), quiet_limits(3), 0);
    let first = ex.poll(0);
    assert_eq!(first.send.len(), 3);
    assert!(ex.poll(0).send.is_empty());
    ex.on_response(first.send[0].id, 5, ok());
    assert_eq!(ex.poll(5).send.len(), 1);
}

#[test]
fn a_401_stops_the_run_and_nothing_else_is_sent() {
    let mut ex = Executor::new(conn(), steps(10), quiet_limits(2), 0);
    let sent = ex.poll(0).send;
    ex.on_response(sent[0].id, 10, status(401));
    assert!(ex.poll(10).send.is_empty());
    assert!(ex.poll(99_999).send.is_empty());
    ex.on_response(sent[1].id, 12, ok());
    assert!(ex.is_finished());
    let p = ex.progress(12);
    assert_eq!((p.done, p.failed, p.skipped), (1, 1, 8));
    let skipped = ex
        .outcomes()
        .flatten()
        .find(|o| o.status == OutcomeStatus::Skipped)
        .unwrap();
    assert!(
        skipped.message.starts_with(
            "not sent: the run stopped because qualtrics did not recognise the API token"
        ),
        "{}",
        skipped.message
    );
    assert!(ex.stop_reason().is_some());
}

#[test]
fn an_expired_oauth_token_pauses_the_run_and_the_refused_rows_go_again_with_a_new_one() {
    let mut ex = Executor::new(conn(), steps(4), quiet_limits(2), 0).renew_credentials_on_401();
    let sent = ex.poll(0).send;
    assert_eq!(sent.len(), 2);
    // Both requests in flight were sent with the token that has just expired.
    ex.on_response(sent[0].id, 10, status(401));
    let paused = ex.poll(10);
    assert!(paused.needs_auth && paused.send.is_empty());
    ex.renew_auth(Auth::Bearer("fresh".into()));
    // The other old-token request is refused after the renewal: it goes again, no new pause.
    ex.on_response(sent[1].id, 11, status(401));
    let resent = ex.poll(11);
    assert!(!resent.needs_auth);
    assert_eq!(resent.send.len(), 2);
    let keys: Vec<&str> = resent.send.iter().map(|o| o.request.url.as_str()).collect();
    assert_eq!(
        keys,
        [
            "http://sandbox.test/API/v3/users/UR_row3",
            "http://sandbox.test/API/v3/users/UR_row2"
        ],
        "the refused rows go first"
    );
    for o in &resent.send {
        assert_eq!(o.request.header("authorization"), Some("Bearer fresh"));
        ex.on_response(o.id, 20, ok());
    }
    for o in ex.poll(20).send {
        ex.on_response(o.id, 30, ok());
    }
    assert!(ex.is_finished());
    let p = ex.progress(30);
    assert_eq!((p.done, p.failed, p.retries), (4, 0, 0));
    assert!(ex.poll(30).send.is_empty());
    // A renewed token that worked and then expired is renewed again.
    let mut ex = Executor::new(conn(), steps(3), quiet_limits(1), 0).renew_credentials_on_401();
    let first = ex.poll(0).send;
    ex.on_response(first[0].id, 1, status(401));
    assert!(ex.poll(1).needs_auth);
    ex.renew_auth(Auth::Bearer("second".into()));
    let second = ex.poll(1).send;
    ex.on_response(second[0].id, 2, ok());
    let third = ex.poll(2).send;
    ex.on_response(third[0].id, 3, status(401));
    assert!(
        ex.poll(3).needs_auth,
        "the second token expired after working"
    );
    ex.renew_auth(Auth::Bearer("third".into()));
    for o in ex.poll(3).send {
        ex.on_response(o.id, 4, ok());
    }
    for o in ex.poll(4).send {
        ex.on_response(o.id, 5, ok());
    }
    assert!(ex.is_finished() && ex.stop_reason().is_none());
    assert_eq!(ex.progress(5).done, 3);
    // A renewed token refused before it ever worked is final: the run stops as with an API token.
    let mut ex = Executor::new(conn(), steps(3), quiet_limits(1), 0).renew_credentials_on_401();
    let first = ex.poll(0).send;
    ex.on_response(first[0].id, 1, status(401));
    assert!(ex.poll(1).needs_auth);
    ex.renew_auth(Auth::Bearer("also-refused".into()));
    let again = ex.poll(1).send;
    ex.on_response(again[0].id, 2, status(401));
    assert!(ex.is_finished());
    assert!(ex.stop_reason().is_some());
    let p = ex.progress(2);
    assert_eq!((p.failed, p.skipped), (1, 2));
    // A renewal that fails stops the run with its reason.
    let mut ex = Executor::new(conn(), steps(2), quiet_limits(1), 0).renew_credentials_on_401();
    let first = ex.poll(0).send;
    ex.on_response(first[0].id, 1, status(401));
    assert!(ex.poll(1).needs_auth);
    ex.auth_failed("Qualtrics refused the OAuth client", 2);
    assert!(ex.is_finished());
    assert_eq!(
        ex.stop_reason(),
        Some("not sent: the run stopped because qualtrics refused the OAuth client")
    );
}

#[test]
fn other_4xx_fail_the_row_at_once_with_qualtrics_message() {
    let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 0);
    let sent = ex.poll(0).send;
    ex.on_response(sent[0].id, 1, status(400));
    assert!(ex.is_finished());
    let o = ex.outcomes().next().unwrap().unwrap();
    assert_eq!(o.status, OutcomeStatus::Failed);
    assert_eq!(
        o.message,
        "Qualtrics refused the request (HTTP 400, E_400): message 400"
    );
    assert_eq!(ex.progress(1).retries, 0);
}

#[test]
fn network_failures_are_retried_and_steps_continue_through_phases() {
    let mut s = steps(1);
    s[0].two_phase = true;
    let mut ex = Executor::new(conn(), s, quiet_limits(1), 0);
    let get = ex.poll(0).send.remove(0);
    assert_eq!(get.request.method, Method::Get);
    ex.on_response(
        get.id,
        5,
        Err(TransportFailure::no_answer("connection reset")),
    );
    let wake = ex.poll(5).wake_at.unwrap();
    let get2 = ex.poll(wake).send.remove(0);
    assert_eq!(get2.request.method, Method::Get);
    ex.on_response(get2.id, wake + 1, ok());
    let put = ex.poll(wake + 1).send.remove(0);
    assert_eq!(put.request.method, Method::Put);
    ex.on_response(put.id, wake + 2, ok());
    assert!(ex.is_finished());
    let audit = ex.take_audit();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0].error.as_deref(), Some("connection reset"));
    assert_eq!((audit[1].attempt, audit[2].attempt), (2, 1));
    assert_eq!(audit[2].path, "/API/v3/users/UR_row2");
    let journal = ex.take_journal();
    assert_eq!(
        journal,
        vec![JournalEntry {
            key: "row:2".into(),
            applied: "status=disabled".into(),
            at: wake + 2
        }]
    );
}

#[test]
fn cancel_skips_what_was_not_sent_and_records_what_was() {
    let mut ex = Executor::new(conn(), steps(10), quiet_limits(2), 0);
    let sent = ex.poll(0).send;
    ex.cancel(1);
    assert!(ex.poll(2).send.is_empty());
    assert!(!ex.is_finished(), "two answers are still on their way");
    ex.on_response(sent[0].id, 3, ok());
    ex.on_response(sent[1].id, 3, Err(TransportFailure::no_answer("timeout")));
    assert!(ex.is_finished());
    let p = ex.progress(3);
    assert_eq!((p.done, p.failed, p.skipped), (1, 1, 8));
    let failed = ex
        .outcomes()
        .flatten()
        .find(|o| o.status == OutcomeStatus::Failed)
        .unwrap();
    assert!(failed.message.contains("may or may not have been applied"));
}

#[test]
fn endpoint_classes() {
    let c = |m, u| EndpointClass::of(m, u);
    assert_eq!(
        c(Method::Put, "http://x/relay/iad1/API/v3/users/UR_1"),
        EndpointClass::Users
    );
    assert_eq!(
        c(Method::Get, "https://iad1.qualtrics.com/API/v3/whoami"),
        EndpointClass::Users
    );
    assert_eq!(
        c(
            Method::Get,
            "https://x/API/v3/groups/GR_1/members?offset=100"
        ),
        EndpointClass::GroupMembersRead
    );
    assert_eq!(
        c(Method::Delete, "https://x/API/v3/groups/GR_1/members/UR_1"),
        EndpointClass::GroupMembersDelete
    );
    assert_eq!(
        c(Method::Post, "https://x/API/v3/groups/GR_1/members"),
        EndpointClass::Groups
    );
    assert_eq!(
        c(
            Method::Post,
            "https://x/API/v3/employee-directories/cx/import-participants"
        ),
        EndpointClass::Directory
    );
}

#[test]
fn repeated_429s_slow_the_pace_and_successes_restore_it() {
    // 60/s with burst 1; every 429 (without Retry-After) cuts the pace by 30 %.
    let config = ExecConfig {
        concurrency: 1,
        brand_limit: RateLimit {
            per_minute: 3600.0,
            burst: 1.0,
        },
        limits: vec![],
        max_attempts: 100,
        backoff_base_ms: 1,
        backoff_max_ms: 1,
        ..ExecConfig::default()
    };
    let mut ex = Executor::new(conn(), steps(1), config, 0);
    let mut now = 0;
    let mut gaps = Vec::new();
    let mut last = 0;
    for _ in 0..8 {
        let poll = loop {
            let p = ex.poll(now);
            if !p.send.is_empty() {
                break p;
            }
            now = p.wake_at.unwrap();
        };
        gaps.push(now - last);
        last = now;
        ex.on_response(poll.send[0].id, now, status(429));
    }
    // Gaps between tries grow as the pace drops (1 token per 16.7 ms at full pace).
    assert!(gaps[7] > 3 * gaps[1], "{gaps:?}");
    let p = loop {
        let p = ex.poll(now);
        if !p.send.is_empty() {
            break p;
        }
        now = p.wake_at.unwrap();
    };
    ex.on_response(p.send[0].id, now, ok());
    assert!(ex.is_finished());
}

#[test]
fn a_step_between_two_requests_when_cancelled_ends_instead_of_waiting_forever() {
    let steps: Vec<TestStep> = (0..2)
        .map(|i| TestStep {
            two_phase: true,
            ..TestStep::new(i)
        })
        .collect();
    let mut ex = Executor::new(conn(), steps, quiet_limits(2), 0);
    let sent = ex.poll(0).send;
    assert_eq!(sent.len(), 2);
    ex.cancel(5);
    // The reads come back; their updates are not sent: both rows end, nothing more goes out.
    for out in &sent {
        ex.on_response(out.id, 10, ok());
    }
    assert!(ex.poll(10).send.is_empty());
    assert!(ex.is_finished(), "cancelled steps do not wait forever");
    for o in ex.outcomes() {
        assert_eq!(o.unwrap().status, OutcomeStatus::Skipped);
    }
}

#[test]
fn the_next_phase_keeps_pacing_ids_and_counts_and_a_cancel_skips_it() {
    let config = ExecConfig {
        concurrency: 10,
        brand_limit: RateLimit {
            per_minute: 600.0,
            burst: 2.0,
        },
        limits: vec![],
        ..ExecConfig::default()
    };
    let mut ex = Executor::new(conn(), steps(2), config, 0);
    let first = ex.poll(0).send;
    assert_eq!(first.len(), 2, "the burst");
    for out in &first {
        ex.on_response(out.id, 1, ok());
    }
    assert!(ex.is_finished());
    let done = ex.next_phase(steps(1), 1);
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|(_, o)| o.status == OutcomeStatus::Done));
    // The bucket is empty after the first phase's burst: the next phase waits its turn.
    let poll = ex.poll(1);
    assert!(poll.send.is_empty());
    assert_eq!(poll.wake_at, Some(100));
    let next = ex.poll(100).send;
    assert_eq!(next.len(), 1);
    assert!(next[0].id > first[1].id, "ids run on across phases");
    ex.on_response(next[0].id, 120, ok());
    assert_eq!(ex.progress(120).requests_sent, 3);
    assert_eq!(ex.take_audit().len(), 3);
    ex.cancel(130);
    let _ = ex.next_phase(steps(3), 130);
    assert!(ex.is_finished(), "after a cancel a new phase sends nothing");
    assert!(ex.poll(130).send.is_empty());
}

/// Drives one row whose first answer is `first` and every later one `then` (on a virtual
/// clock), and returns its outcome and how many requests were sent.
fn one_row(
    ex: &mut Executor<TestStep>,
    first: Result<HttpResponse, TransportFailure>,
    then: impl Fn() -> Result<HttpResponse, TransportFailure>,
) -> (Outcome, usize) {
    let mut now = 0;
    let mut sent = 0;
    let mut first = Some(first);
    while !ex.is_finished() {
        let poll = ex.poll(now);
        if let Some(out) = poll.send.first() {
            sent += 1;
            let answer = first.take().unwrap_or_else(&then);
            ex.on_response(out.id, now, answer);
            continue;
        }
        match poll.wake_at {
            Some(at) => now = at,
            None => break,
        }
    }
    (ex.outcomes().next().unwrap().unwrap().clone(), sent)
}

#[test]
fn a_408_is_sent_again_and_the_row_succeeds() {
    let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 0);
    let (outcome, sent) = one_row(&mut ex, status(408), ok);
    assert_eq!((outcome.status, sent), (OutcomeStatus::Done, 2));
    assert!(!outcome.retryable, "a done row has nothing to retry");
}

#[test]
fn rows_that_kept_getting_408_429_5xx_or_no_answer_are_retryable() {
    for answer in [
        status(408),
        status(429),
        status(500),
        status(503),
        Err(TransportFailure::no_answer("timed out")),
    ] {
        let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 0);
        let again = answer.clone();
        let (outcome, sent) = one_row(&mut ex, answer, move || again.clone());
        assert_eq!(outcome.status, OutcomeStatus::Failed, "{}", outcome.message);
        assert_eq!(sent, 6, "{}", outcome.message);
        assert!(outcome.retryable, "{}", outcome.message);
    }
}

#[test]
fn a_400_404_or_409_refuses_the_row_as_sent_and_is_not_retryable() {
    for code in [400, 404, 409, 422] {
        let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 0);
        let (outcome, sent) = one_row(&mut ex, status(code), ok);
        assert_eq!((outcome.status, sent), (OutcomeStatus::Failed, 1), "{code}");
        assert!(
            outcome.message.contains(&format!("message {code}")),
            "{}",
            outcome.message
        );
        assert!(!outcome.retryable, "{code}");
    }
}

#[test]
fn an_oauth_403_stops_the_run_and_every_row_it_touched_is_retryable() {
    let mut ex = Executor::new(conn(), steps(3), quiet_limits(1), 0).renew_credentials_on_401();
    let poll = ex.poll(0);
    ex.on_response(poll.send[0].id, 1, status(403));
    assert!(ex.is_finished(), "the run stops at once");
    let outcomes: Vec<Outcome> = ex.outcomes().map(|o| o.unwrap().clone()).collect();
    assert_eq!(outcomes[0].status, OutcomeStatus::Failed);
    assert!(
        outcomes[0].message.contains("scope"),
        "{}",
        outcomes[0].message
    );
    assert!(outcomes
        .iter()
        .skip(1)
        .all(|o| o.status == OutcomeStatus::Skipped));
    // The client's scope is missing, not anything about these rows: once it is added, they
    // go through.
    assert!(outcomes.iter().all(|o| o.retryable), "{outcomes:?}");
}

#[test]
fn a_refused_api_token_stops_the_run_and_its_rows_are_retryable() {
    let mut ex = Executor::new(conn(), steps(2), quiet_limits(1), 0);
    let poll = ex.poll(0);
    ex.on_response(poll.send[0].id, 1, status(401));
    let outcomes: Vec<Outcome> = ex.outcomes().map(|o| o.unwrap().clone()).collect();
    assert!(outcomes.iter().all(|o| o.retryable), "{outcomes:?}");
}

#[test]
fn a_request_the_host_cannot_send_or_an_answer_it_will_not_read_is_not_retried() {
    let mut ex = Executor::new(conn(), steps(1), quiet_limits(1), 0);
    let (outcome, sent) = one_row(
        &mut ex,
        Err(TransportFailure::not_retryable(
            "the answer is over the 10 MB this client reads",
        )),
        ok,
    );
    assert_eq!((outcome.status, sent), (OutcomeStatus::Failed, 1));
    assert!(
        outcome.message.contains("over the 10 MB"),
        "{}",
        outcome.message
    );
    assert!(!outcome.retryable);
}

#[test]
fn single_requests_are_retried_on_408_and_not_after_a_failure_that_is_not_transient() {
    let config = ExecConfig::default();
    assert!(retry_single(&config, 1, &status(408), 0).is_some());
    assert!(retry_single(&config, 1, &Err(TransportFailure::no_answer("reset")), 0).is_some());
    assert!(retry_single(
        &config,
        1,
        &Err(TransportFailure::not_retryable("too big")),
        0
    )
    .is_none());
    assert!(retry_single(&config, 1, &status(400), 0).is_none());
}

/// A step that reads a job's state: a 200 saying the job failed ends the row failed.
struct JobStep;

impl Step for JobStep {
    fn key(&self) -> &str {
        "row:2"
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        conn.request(Method::Get, conn.url("jobs/J_1"), None)
    }
    fn on_response(&mut self, _response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        StepUpdate::Finished {
            status: OutcomeStatus::Failed,
            message: "the import job failed".into(),
        }
    }
    fn fingerprint(&self) -> String {
        String::new()
    }
}

#[test]
fn a_row_failed_on_a_successful_answer_is_not_a_refusal_and_stays_retryable() {
    let mut ex = Executor::new(conn(), vec![JobStep], quiet_limits(1), 0);
    let poll = ex.poll(0);
    ex.on_response(poll.send[0].id, 1, ok());
    let outcome = ex.outcomes().next().unwrap().unwrap().clone();
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    assert!(outcome.retryable);
}
