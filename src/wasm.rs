//! wasm-bindgen bindings: JS names and JS `Error`s around the core, nothing else.
//!
//! The WASM performs HTTP itself with fetch (gloo-net); the core builds every request and
//! parses every answer.

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::connection::{Auth, Connection, Datacenter};
use crate::error::ApiError;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::table::Table;
use crate::users::{self, UserListing};

/// A connection to a brand, holding the token in WASM memory only.
#[wasm_bindgen]
pub struct RosterClient {
    conn: Connection,
}

#[wasm_bindgen]
impl RosterClient {
    /// Calls Qualtrics through the relay at `relayUrl` for `datacenter`.
    #[wasm_bindgen(js_name = viaRelay)]
    pub fn via_relay(
        relay_url: &str,
        datacenter: &str,
        token: &str,
    ) -> Result<RosterClient, JsError> {
        let auth = Auth::api_token(token).map_err(js_error)?;
        let conn = Connection::via_relay(relay_url, datacenter, auth).map_err(js_error)?;
        Ok(RosterClient { conn })
    }

    /// Calls an API base URL directly (the sandbox, or Qualtrics where CORS allows it).
    pub fn direct(base_url: &str, token: &str) -> Result<RosterClient, JsError> {
        let auth = Auth::api_token(token).map_err(js_error)?;
        let conn = Connection::direct(base_url, auth).map_err(js_error)?;
        Ok(RosterClient { conn })
    }

    /// `GET /whoami`; resolves to `{brandId, userId, userName, datacenter, …, notice}`.
    pub fn whoami(&self) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let response = send(&users::whoami_request(&conn)).await.map_err(to_js)?;
            let (who, notice) = users::parse_whoami(&response).map_err(to_js)?;
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Out {
                #[serde(flatten)]
                who: users::Whoami,
                notice: Option<String>,
            }
            to_value(&Out {
                who,
                notice: notice.map(|n| n.message()),
            })
        })
    }

    /// Lists every user, page by page (retrying busy or failed pages); `onPage({page,
    /// usersSoFar, last, notice})` is called as each page arrives. Resolves to `{columns, rows,
    /// pages, notice}` (the Users sheet).
    #[wasm_bindgen(js_name = listUsers)]
    pub fn list_users(&self, on_page: Option<Function>) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let listed = list_all_users(&conn, on_page.as_ref()).await?;
            let table = users::users_table(&listed.users);
            to_value(&UsersOut {
                columns: table.columns,
                rows: table.rows,
                pages: listed.pages,
                notice: listed.notice,
            })
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    page: usize,
    users_so_far: usize,
    last: bool,
    notice: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsersOut {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    pages: usize,
    notice: Option<String>,
}

/// A table `{columns, rows}` as CSV, safe to open in a spreadsheet.
#[wasm_bindgen(js_name = tableToCsv)]
pub fn table_to_csv(table: JsValue) -> Result<String, JsError> {
    let table: Table = serde_wasm_bindgen::from_value(table)
        .map_err(|e| JsError::new(&format!("Not a table of text cells: {e}")))?;
    Ok(table.to_csv())
}

/// Checks a datacenter id; returns it normalised, or throws a message saying what to type.
#[wasm_bindgen(js_name = checkDatacenter)]
pub fn check_datacenter(id: &str) -> Result<String, JsError> {
    Datacenter::parse(id)
        .map(|d| d.as_str().to_string())
        .map_err(js_error)
}

/// Performs one request with fetch.
async fn send(request: &HttpRequest) -> Result<HttpResponse, ApiError> {
    use gloo_net::http::{Method as M, RequestBuilder};
    let host = url::Url::parse(&request.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| request.url.clone());
    let network = |detail: String| ApiError::Network {
        host: host.clone(),
        detail,
    };
    let method = match request.method {
        Method::Get => M::GET,
        Method::Post => M::POST,
        Method::Put => M::PUT,
        Method::Delete => M::DELETE,
    };
    let mut builder = RequestBuilder::new(&request.url).method(method);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let built = match &request.body {
        Some(body) => builder.body(js_sys::Uint8Array::from(body.as_slice())),
        None => builder.build(),
    }
    .map_err(|e| network(e.to_string()))?;
    let response = built
        .send()
        .await
        .map_err(|_| network("the browser could not complete the request (network error, or the server refused a cross-origin call)".into()))?;
    let status = response.status();
    let headers = response.headers().entries().collect();
    let body = response
        .binary()
        .await
        .map_err(|_| network("the connection broke while reading the answer".into()))?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn to_value<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()).into())
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

// ---- Lifecycle: plan a sheet, apply it with the executor, outcomes, undo file, audit log ----

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;

use crate::exec::{AuditEntry, ExecConfig, Executor, JournalEntry, Outcome, TransportFailure};
use crate::lifecycle::{self, Action, LifecycleOptions, LifecycleStep, Plan};
use crate::time::Date;

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Reads CSV text into `{columns, rows, rowNumbers}`; throws a message naming the problem.
#[wasm_bindgen(js_name = readCsv)]
pub fn read_csv(text: &str) -> Result<JsValue, JsError> {
    let table = Table::from_csv(text).map_err(js_error)?;
    to_value(&table).map_err(|_| JsError::new("could not hand the table to the page"))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PlanOptions {
    /// "disable", "enable", "expire" or "" (no default).
    default_action: String,
    /// Journal entries saved from an interrupted run.
    journal: Vec<JournalEntry>,
}

struct RunState {
    exec: Option<Executor<LifecycleStep>>,
    audit: Vec<AuditEntry>,
}

/// A planned lifecycle sheet: shows its plan, applies it, and reports outcomes.
#[wasm_bindgen]
pub struct LifecycleRun {
    conn: Connection,
    table: Table,
    plan: Plan,
    state: Rc<RefCell<RunState>>,
}

#[wasm_bindgen]
impl RosterClient {
    /// Lists the brand's users (`onPage` as in `listUsers`) and plans `table` against them.
    /// `options`: `{defaultAction: "disable" | "enable" | "", journal: [...]}`.
    #[wasm_bindgen(js_name = planLifecycle)]
    pub fn plan_lifecycle(
        &self,
        table: JsValue,
        options: JsValue,
        on_page: Option<Function>,
    ) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let table: Table = serde_wasm_bindgen::from_value(table)
                .map_err(|e| to_js(format!("Not a table of text cells: {e}")))?;
            let options: PlanOptions = if options.is_undefined() || options.is_null() {
                PlanOptions::default()
            } else {
                serde_wasm_bindgen::from_value(options)
                    .map_err(|e| to_js(format!("Bad plan options: {e}")))?
            };
            let listed = list_all_users(&conn, on_page.as_ref()).await?;
            let plan = lifecycle::plan(
                &table,
                &listed.users,
                &options.journal,
                &LifecycleOptions {
                    default_action: Action::parse(&options.default_action),
                    today: Date::from_unix_millis(now_ms()),
                },
            );
            let state = RunState {
                exec: None,
                audit: Vec::new(),
            };
            Ok(LifecycleRun {
                conn,
                table,
                plan,
                state: Rc::new(RefCell::new(state)),
            }
            .into())
        })
    }
}

/// Every user of the brand, with how many pages that took and the last notice.
struct Listed {
    users: Vec<users::UserSummary>,
    pages: usize,
    notice: Option<String>,
}

/// Lists every user, retrying transient page failures, reporting pages to `on_page`.
async fn list_all_users(conn: &Connection, on_page: Option<&Function>) -> Result<Listed, JsValue> {
    let mut listing = UserListing::users(conn);
    let mut all = Vec::new();
    let mut notice = None;
    while let Some(request) = listing.next_request(conn) {
        let mut attempt = 1;
        let page = loop {
            let result = match send(&request).await {
                Ok(response) => listing.on_response(conn, &response),
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(page) => break page,
                Err(e) => match e.retry_delay_ms(attempt) {
                    Some(ms) => {
                        gloo_timers::future::TimeoutFuture::new(ms as u32).await;
                        attempt += 1;
                    }
                    None => return Err(to_js(e)),
                },
            }
        };
        all.extend(page.elements);
        if let Some(n) = page.notice {
            notice = Some(n.message());
        }
        if let Some(cb) = on_page {
            let progress = to_value(&Progress {
                page: page.number,
                users_so_far: all.len(),
                last: page.last,
                notice: notice.clone(),
            })?;
            cb.call1(&JsValue::NULL, &progress)?;
        }
    }
    Ok(Listed {
        users: all,
        pages: listing.pages_read(),
        notice,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanOut<'a> {
    rows: &'a [lifecycle::PlanRow],
    counts: &'a [(String, usize)],
    file_error: &'a Option<String>,
    changes: usize,
    table: Table,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProgress {
    #[serde(flatten)]
    progress: crate::exec::Progress,
    journal: Vec<JournalEntry>,
    stopped: Option<String>,
}

#[wasm_bindgen]
impl LifecycleRun {
    /// The plan: `{rows, counts, fileError, changes, table}`.
    pub fn plan(&self) -> Result<JsValue, JsValue> {
        to_value(&PlanOut {
            rows: &self.plan.rows,
            counts: &self.plan.counts,
            file_error: &self.plan.file_error,
            changes: self.plan.changes(),
            table: lifecycle::plan_table(&self.plan),
        })
    }

    /// Sends the plan's changes through the executor. `onProgress({total, done, unchanged,
    /// failed, skipped, remaining, inFlight, requestsSent, retries, ratePerSecond, journal,
    /// stopped})` is called as answers arrive; `journal` holds the rows finished since the last
    /// call (save them to resume after an interruption). Resolves when every row has an outcome.
    pub fn apply(&self, on_progress: Option<Function>) -> Promise {
        let state = self.state.clone();
        let steps = lifecycle::steps(&self.plan);
        let conn = self.conn.clone();
        future_to_promise(async move {
            {
                let mut st = state.borrow_mut();
                if st.exec.is_some() {
                    return Err(to_js(
                        "This plan was already applied: plan again to apply it again.",
                    ));
                }
                st.exec = Some(Executor::new(conn, steps, ExecConfig::default(), now_ms()));
            }
            drive(&state, on_progress.as_ref()).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sending: rows not yet sent end `skipped`; answers on their way are still recorded.
    pub fn cancel(&self) {
        if let Some(exec) = self.state.borrow_mut().exec.as_mut() {
            exec.cancel(now_ms());
        }
    }

    /// Each input row's outcome: `[{key, row, status, message, userId, appliedAt}]`.
    pub fn outcomes(&self) -> Result<JsValue, JsValue> {
        to_value(&self.row_outcomes())
    }

    /// The input with Status, Message, User ID and Applied at beside it.
    #[wasm_bindgen(js_name = outcomeTable)]
    pub fn outcome_table(&self) -> Result<JsValue, JsValue> {
        to_value(&lifecycle::outcome_table(&self.table, &self.row_outcomes()))
    }

    /// The undo file: the changed accounts as they were before, as a lifecycle sheet.
    #[wasm_bindgen(js_name = beforeTable)]
    pub fn before_table(&self) -> Result<JsValue, JsValue> {
        let st = self.state.borrow();
        let steps: Vec<&LifecycleStep> = st.exec.iter().flat_map(|e| e.steps()).collect();
        to_value(&lifecycle::before_table(&steps))
    }

    /// The outcome column names to write beside the input.
    #[wasm_bindgen(js_name = outcomeColumns)]
    pub fn outcome_columns(&self) -> Vec<String> {
        lifecycle::outcome_column_names(&self.table.columns)
    }

    /// Every request the run sent, as a table for an "Audit" sheet.
    #[wasm_bindgen(js_name = auditTable)]
    pub fn audit_table(&self) -> Result<JsValue, JsValue> {
        to_value(&lifecycle::audit_table(&self.state.borrow().audit))
    }

    /// Every request the run sent, as JSON Lines (no token in it).
    #[wasm_bindgen(js_name = auditJsonl)]
    pub fn audit_jsonl(&self) -> String {
        lifecycle::audit_jsonl(&self.state.borrow().audit)
    }
}

impl LifecycleRun {
    fn row_outcomes(&self) -> Vec<lifecycle::RowOutcome> {
        let st = self.state.borrow();
        let executed: Vec<Outcome> = st
            .exec
            .iter()
            .flat_map(|e| e.outcomes().flatten().cloned())
            .collect();
        lifecycle::outcomes(&self.plan, &executed)
    }
}

/// The executor's driver in the page: fetches what it asks for, feeds answers back as they
/// arrive, and sleeps until its next wake time.
async fn drive(
    state: &Rc<RefCell<RunState>>,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    type Answer = (u64, Result<HttpResponse, TransportFailure>);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<Answer>();
    let mut in_flight = 0usize;
    loop {
        let (send_now, wake_at, finished) = {
            let mut st = state.borrow_mut();
            let exec = st.exec.as_mut().expect("set before driving");
            let poll = exec.poll(now_ms());
            (poll.send, poll.wake_at, exec.is_finished())
        };
        for out in send_now {
            in_flight += 1;
            let tx = tx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let answer = send(&out.request)
                    .await
                    .map_err(|e| TransportFailure(e.to_string()));
                let _ = tx.unbounded_send((out.id, answer));
            });
        }
        if finished {
            report(state, on_progress)?;
            return Ok(());
        }
        let wait_ms = wake_at.map(|t| t.saturating_sub(now_ms()).min(u32::MAX as u64) as u32);
        let first: Option<Answer> = match (in_flight > 0, wait_ms) {
            (true, Some(ms)) => {
                let timer = gloo_timers::future::TimeoutFuture::new(ms);
                futures_util::pin_mut!(timer);
                match futures_util::future::select(rx.next(), timer).await {
                    futures_util::future::Either::Left((answer, _)) => answer,
                    futures_util::future::Either::Right(_) => None,
                }
            }
            (true, None) => rx.next().await,
            (false, Some(ms)) => {
                gloo_timers::future::TimeoutFuture::new(ms).await;
                None
            }
            (false, None) => {
                return Err(to_js(
                    "internal error: the run is stuck (nothing to send or wait for)",
                ))
            }
        };
        let mut answers: Vec<Answer> = first.into_iter().collect();
        while let Ok(more) = rx.try_recv() {
            answers.push(more);
        }
        if !answers.is_empty() {
            in_flight -= answers.len();
            {
                let mut st = state.borrow_mut();
                let exec = st.exec.as_mut().expect("set before driving");
                for (id, answer) in answers {
                    exec.on_response(id, now_ms(), answer);
                }
            }
            report(state, on_progress)?;
        }
    }
}

fn report(state: &Rc<RefCell<RunState>>, on_progress: Option<&Function>) -> Result<(), JsValue> {
    let progress = {
        let mut st = state.borrow_mut();
        let st = &mut *st;
        let exec = st.exec.as_mut().expect("set before driving");
        st.audit.extend(exec.take_audit());
        RunProgress {
            progress: exec.progress(now_ms()),
            journal: exec.take_journal(),
            stopped: exec.stop_reason().map(str::to_string),
        }
    };
    if let Some(cb) = on_progress {
        cb.call1(&JsValue::NULL, &to_value(&progress)?)?;
    }
    Ok(())
}

/// A cell value made safe to write into a sheet (formula injection): see `table::neutralise_formula`.
#[wasm_bindgen(js_name = safeCell)]
pub fn safe_cell(value: &str) -> String {
    crate::table::neutralise_formula(value).into_owned()
}
