//! wasm-bindgen bindings: JS names and JS `Error`s around the core, nothing else.
//!
//! The WASM performs HTTP itself with fetch (gloo-net); the core builds every request and
//! parses every answer.

use js_sys::{Function, JsString, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::connection::{Auth, Connection, Datacenter};
use crate::error::ApiError;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::table::{Cell, Table};
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

    /// `GET /whoami`; resolves to `{brandId, userId, userName, datacenter, …, notice,
    /// switchTo}`. `switchTo` is the brand's own datacenter when this relay connection uses
    /// another one (connect again with it).
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
                switch_to: Option<String>,
            }
            let switch_to = conn
                .datacenter()
                .and_then(|used| users::datacenter_to_use(&who, notice.as_ref(), used.as_str()))
                .map(|d| d.as_str().to_string());
            to_value(&Out {
                who,
                notice: notice.map(|n| n.message()),
                switch_to,
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
    rows: Vec<Vec<Cell>>,
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

/// The datacenter to ask first when none is typed (Qualtrics then names the brand's own).
#[wasm_bindgen(js_name = discoveryDatacenter)]
pub fn discovery_datacenter() -> String {
    users::DISCOVERY_DATACENTER.to_string()
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

// ---- Runs: plan a sheet, apply it with the executor, outcomes, audit log ----

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;

use crate::directory::{Participant, ParticipantListing};
use crate::exec::{
    AuditEntry, ExecConfig, Executor, JournalEntry, Outcome, Step, TransportFailure,
};
use crate::lifecycle::{self, Action, LifecycleOptions, LifecycleStep};
use crate::provision::{self, ProvisionOptions, ProvisionRun, ProvisionStep, Route};
use crate::time::Date;
use crate::users::ListError;

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A file or pasted text as the page gets it: the table, how it was read, what to know.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReadOut {
    #[serde(flatten)]
    table: Table,
    description: String,
    notes: Vec<String>,
}

fn read_out(file: crate::sheetfile::SheetFile) -> Result<JsValue, JsError> {
    let out = ReadOut {
        description: file.description(),
        notes: file.notes,
        table: file.table,
    };
    to_value(&out).map_err(|_| JsError::new("could not hand the table to the page"))
}

/// Reads delimited text (a CSV file's text, or rows pasted from a spreadsheet) into
/// `{columns, rows, rowNumbers, description, notes}`; throws a message naming the problem.
#[wasm_bindgen(js_name = readCsv)]
pub fn read_csv(text: &JsString) -> Result<JsValue, JsError> {
    read_out(crate::sheetfile::read_text(&text_from_js(text)).map_err(js_error)?)
}

#[wasm_bindgen]
extern "C" {
    /// The browser's UTF-8 encoder.
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    /// Encodes `source` into `destination`, as much as fits: `{read, written}`.
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(
        this: &TextEncoder,
        source: &JsString,
        destination: &js_sys::Uint8Array,
    ) -> EncodeIntoResult;
    /// What `encodeInto` did.
    type EncodeIntoResult;
    /// UTF-16 code units read.
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeIntoResult) -> f64;
    /// Bytes written.
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> f64;
}

/// A JavaScript string as Rust text, encoded by the browser straight into WASM memory. (The
/// generated glue for a `&str` argument copies ASCII text one character at a time in
/// JavaScript: 12 ms of a 14 MB sheet's 100 ms; `encodeInto` takes 5.)
fn text_from_js(text: &JsString) -> String {
    let units = text.length() as usize;
    let encoder = TextEncoder::new();
    // One byte per code unit first (ASCII text needs no more); what is left after a non-ASCII
    // character gets the most it can need, three bytes per code unit.
    let mut bytes: Vec<u8> = Vec::with_capacity(units);
    let mut read = 0;
    let mut rest = text.clone();
    loop {
        let spare = bytes.spare_capacity_mut();
        // SAFETY: the view covers only the vector's spare capacity, and nothing allocates (so
        // WASM memory cannot grow and move) between making the view and encodeInto's return.
        let view =
            unsafe { js_sys::Uint8Array::view_mut_raw(spare.as_mut_ptr().cast(), spare.len()) };
        let done = encoder.encode_into(&rest, &view);
        let written = done.written() as usize;
        // SAFETY: encodeInto wrote (initialised) exactly `written` bytes of the spare capacity.
        unsafe { bytes.set_len(bytes.len() + written) };
        read += done.read() as usize;
        if read >= units {
            break;
        }
        rest = text.substring(read as u32, units as u32);
        bytes.reserve((units - read) * 3);
    }
    // SAFETY: the Encoding Standard's UTF-8 encoder writes only UTF-8 (a lone surrogate becomes
    // U+FFFD), and encodeInto never stops inside a character.
    unsafe { String::from_utf8_unchecked(bytes) }
}

/// Reads a file's bytes (any of the encodings and delimiters the core knows) like `readCsv`.
/// A workbook (.xlsx) is refused with a message; the page opens those with the workbook module.
#[wasm_bindgen(js_name = readFile)]
pub fn read_file(bytes: &[u8]) -> Result<JsValue, JsError> {
    read_out(crate::sheetfile::read_bytes(bytes).map_err(js_error)?)
}

/// Validates and plans a provisioning sheet with no brand to compare against (every row a
/// new account): `{counts, problems}`. For checking a sheet before connecting, and for the
/// validation benchmark.
#[wasm_bindgen(js_name = checkProvisionSheet)]
pub fn check_provision_sheet(table: JsValue) -> Result<JsValue, JsValue> {
    check_table(&read_table(table)?)
}

fn check_table(table: &Table) -> Result<JsValue, JsValue> {
    let plan = provision::plan(
        table,
        &[],
        &[],
        &[],
        &ProvisionOptions {
            route: Route::AccountAndAttributes,
            today: Date::from_unix_millis(now_ms()),
            user_types: Default::default(),
            divisions: Default::default(),
            job_size: 100,
        },
    );
    #[derive(Serialize)]
    struct Checked {
        counts: Vec<(String, usize)>,
        problems: usize,
        rows: usize,
    }
    let problems =
        plan.file_errors.len() + plan.rows.iter().map(|r| r.diagnostics.len()).sum::<usize>();
    to_value(&Checked {
        counts: plan.counts,
        problems,
        rows: plan.rows.len(),
    })
}

/// Reads CSV text and checks it as a provisioning sheet in one call (no table crosses into
/// JavaScript): `{counts, problems, rows}`.
#[wasm_bindgen(js_name = checkProvisionCsv)]
pub fn check_provision_csv(text: &JsString) -> Result<JsValue, JsValue> {
    check_table(&Table::from_csv(&text_from_js(text)).map_err(to_js)?)
}

/// The provisioning template: every known column and one example row.
#[wasm_bindgen(js_name = provisionTemplate)]
pub fn provision_template() -> Result<JsValue, JsValue> {
    to_value(&provision::template())
}

/// What a run shows before anything is sent (the same shape for every kind of run).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanOut {
    counts: Vec<(String, usize)>,
    file_error: Option<String>,
    changes: usize,
    table: Table,
    problems: Vec<String>,
    problem_rows: Vec<u32>,
}

/// Problems listed when a plan is cut to a preview; the Plan table has them all.
const PREVIEW_PROBLEMS: usize = 50;

/// A table for the page, cut to its first `preview` rows when given, with `totalRows` saying
/// how many there are (the page's worker shows a preview and keeps the rest for downloads).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TableOut {
    #[serde(flatten)]
    table: Table,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_rows: Option<usize>,
}

impl TableOut {
    fn new(mut table: Table, preview: Option<u32>) -> TableOut {
        let total = table.rows.len();
        match preview.map(|n| n as usize).filter(|n| *n < total) {
            Some(n) => {
                table.rows.truncate(n);
                table.row_numbers.truncate(n);
                TableOut {
                    table,
                    total_rows: Some(total),
                }
            }
            None => TableOut {
                table,
                total_rows: None,
            },
        }
    }
}

impl PlanOut {
    /// As JavaScript: `{counts, fileError, changes, table, problems, problemRows, problemCount}`,
    /// cut to the first `preview` rows when given (problem rows among those, at most 50
    /// problems; `problemCount` and `table.totalRows` give the whole).
    fn into_js(self, preview: Option<u32>) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out {
            counts: Vec<(String, usize)>,
            file_error: Option<String>,
            changes: usize,
            table: TableOut,
            problems: Vec<String>,
            problem_rows: Vec<u32>,
            problem_count: usize,
        }
        let problem_count = self.problems.len();
        let table = TableOut::new(self.table, preview);
        let (mut problems, mut problem_rows) = (self.problems, self.problem_rows);
        if preview.is_some() {
            problems.truncate(PREVIEW_PROBLEMS);
            let shown: std::collections::HashSet<u32> =
                table.table.row_numbers.iter().copied().collect();
            problem_rows.retain(|r| shown.contains(r));
        }
        to_value(&Out {
            counts: self.counts,
            file_error: self.file_error,
            changes: self.changes,
            table,
            problems,
            problem_rows,
            problem_count,
        })
    }
}

/// One row's outcome as the hosts write it: values in the order of `outcomeColumns()`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutcomeRow {
    row: u32,
    status: String,
    values: Vec<String>,
}

/// An outcome the hosts write beside a row.
trait SheetOutcome {
    fn row(&self) -> u32;
    fn status(&self) -> crate::exec::OutcomeStatus;
    fn values(&self) -> Vec<String>;
}

macro_rules! sheet_outcome {
    ($t:ty) => {
        impl SheetOutcome for $t {
            fn row(&self) -> u32 {
                self.row
            }
            fn status(&self) -> crate::exec::OutcomeStatus {
                self.status
            }
            fn values(&self) -> Vec<String> {
                <$t>::values(self)
            }
        }
    };
}
sheet_outcome!(lifecycle::RowOutcome);
sheet_outcome!(provision::RowOutcome);
sheet_outcome!(crate::membership::ChangeOutcome);

/// `[{row, status, values}]` for the hosts, values in `outcomeColumns()` order.
fn outcome_rows<T: SheetOutcome>(outcomes: Vec<T>) -> Result<JsValue, JsValue> {
    let rows: Vec<OutcomeRow> = outcomes
        .iter()
        .map(|o| OutcomeRow {
            row: o.row(),
            status: o.status().as_str().into(),
            values: o.values(),
        })
        .collect();
    to_value(&rows)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProgress {
    phase: &'static str,
    #[serde(flatten)]
    progress: crate::exec::Progress,
    journal: Vec<JournalEntry>,
    stopped: Option<String>,
}

/// Shared state of a run: the executor of the current phase, and the audit and journal so far.
struct Driver<S> {
    exec: Option<Executor<S>>,
    audit: Vec<AuditEntry>,
    cancelled: bool,
}

impl<S> Driver<S> {
    fn new() -> Rc<RefCell<Driver<S>>> {
        Rc::new(RefCell::new(Driver {
            exec: None,
            audit: Vec::new(),
            cancelled: false,
        }))
    }
}

/// Runs one phase: `steps` through a fresh executor, fetching what it asks for, feeding answers
/// back as they arrive, sleeping until its next wake time. Returns the steps and outcomes.
async fn run_phase<S: Step + 'static>(
    driver: &Rc<RefCell<Driver<S>>>,
    conn: &Connection,
    steps: Vec<S>,
    phase: &'static str,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    if steps.is_empty() {
        return Ok(());
    }
    driver.borrow_mut().exec = Some(Executor::new(
        conn.clone(),
        steps,
        ExecConfig::default(),
        now_ms(),
    ));
    if driver.borrow().cancelled {
        driver
            .borrow_mut()
            .exec
            .as_mut()
            .expect("just set")
            .cancel(now_ms());
    }
    type Answer = (u64, Result<HttpResponse, TransportFailure>);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<Answer>();
    let mut in_flight = 0usize;
    loop {
        let (send_now, wake_at, finished) = {
            let mut d = driver.borrow_mut();
            let exec = d.exec.as_mut().expect("set above");
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
            return report(driver, phase, on_progress);
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
                let mut d = driver.borrow_mut();
                let exec = d.exec.as_mut().expect("set above");
                for (id, answer) in answers {
                    exec.on_response(id, now_ms(), answer);
                }
            }
            report(driver, phase, on_progress)?;
        }
    }
}

fn report<S: Step>(
    driver: &Rc<RefCell<Driver<S>>>,
    phase: &'static str,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    let progress = {
        let mut d = driver.borrow_mut();
        let d = &mut *d;
        let exec = d.exec.as_mut().expect("set before reporting");
        d.audit.extend(exec.take_audit());
        RunProgress {
            phase,
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

fn cancel_driver<S: Step>(driver: &Rc<RefCell<Driver<S>>>) {
    let mut d = driver.borrow_mut();
    d.cancelled = true;
    if let Some(exec) = d.exec.as_mut() {
        exec.cancel(now_ms());
    }
}

/// Pages through a listing, retrying a busy or failed page; `parse` takes each answer.
async fn fetch_page<T>(
    request: &HttpRequest,
    mut parse: impl FnMut(&HttpResponse) -> Result<T, ListError>,
) -> Result<T, JsValue> {
    let mut attempt = 1;
    loop {
        let result = match send(request).await {
            Ok(response) => parse(&response),
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(v) => return Ok(v),
            Err(e) => match e.retry_delay_ms(attempt) {
                Some(ms) => {
                    gloo_timers::future::TimeoutFuture::new(ms as u32).await;
                    attempt += 1;
                }
                None => return Err(to_js(e)),
            },
        }
    }
}

/// Every user of the brand, with how many pages that took and the last notice.
struct Listed {
    users: Vec<users::UserSummary>,
    pages: usize,
    notice: Option<String>,
}

/// Lists every user, reporting pages to `on_page`.
async fn list_all_users(conn: &Connection, on_page: Option<&Function>) -> Result<Listed, JsValue> {
    let mut listing = UserListing::users(conn);
    let mut all = Vec::new();
    let mut notice = None;
    while let Some(request) = listing.next_request(conn) {
        let page = fetch_page(&request, |r| listing.on_response(conn, r)).await?;
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

/// Every participant of the CX directory, with attributes.
async fn list_all_participants(conn: &Connection) -> Result<Vec<Participant>, JsValue> {
    let mut listing = ParticipantListing::default();
    let mut all = Vec::new();
    while let Some(request) = listing.next_request(conn) {
        all.extend(fetch_page(&request, |r| listing.on_response(r)).await?);
    }
    Ok(all)
}

fn parse_options<T: serde::de::DeserializeOwned + Default>(options: JsValue) -> Result<T, JsValue> {
    if options.is_undefined() || options.is_null() {
        Ok(T::default())
    } else {
        serde_wasm_bindgen::from_value(options).map_err(|e| to_js(format!("Bad options: {e}")))
    }
}

/// A table given by JavaScript: a [`Sheet`] (which JavaScript then gives up, so a big file is
/// never copied) or a plain `{columns, rows, rowNumbers}` object.
fn read_table(table: JsValue) -> Result<Table, JsValue> {
    use wasm_bindgen::convert::TryFromJsValue;
    if let Some(sheet) = Sheet::try_from_js_value_ref(&table) {
        return Ok(sheet.table);
    }
    serde_wasm_bindgen::from_value(table)
        .map_err(|e| to_js(format!("Not a table of text cells: {e}")))
}

/// A file read by the core and kept in WASM memory: pass it to `planLifecycle`,
/// `planProvision` or `planMembership` in place of a `{columns, rows}` table, and the rows
/// never cross into JavaScript (a 50 MB file stays one copy). Planning takes it over.
#[wasm_bindgen]
pub struct Sheet {
    table: Table,
    description: String,
    notes: Vec<String>,
}

#[wasm_bindgen]
impl Sheet {
    /// A file's bytes in any encoding and delimiter the core reads (not a workbook).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<Sheet, JsError> {
        Ok(Sheet::from_file(
            crate::sheetfile::read_bytes(bytes).map_err(js_error)?,
        ))
    }

    /// Pasted rows.
    #[wasm_bindgen(js_name = fromText)]
    pub fn from_text(text: &JsString) -> Result<Sheet, JsError> {
        Ok(Sheet::from_file(
            crate::sheetfile::read_text(&text_from_js(text)).map_err(js_error)?,
        ))
    }

    /// A table read elsewhere (a workbook sheet): `{columns, rows, rowNumbers, description,
    /// notes}`.
    #[wasm_bindgen(js_name = fromTable)]
    pub fn from_table(read: JsValue) -> Result<Sheet, JsValue> {
        #[derive(serde::Deserialize)]
        struct Read {
            #[serde(flatten)]
            table: Table,
            #[serde(default)]
            description: String,
            #[serde(default)]
            notes: Vec<String>,
        }
        let read: Read = serde_wasm_bindgen::from_value(read).map_err(to_js)?;
        Ok(Sheet {
            table: read.table,
            description: read.description,
            notes: read.notes,
        })
    }

    fn from_file(file: crate::sheetfile::SheetFile) -> Sheet {
        Sheet {
            description: file.description(),
            notes: file.notes,
            table: file.table,
        }
    }

    /// The column names.
    #[wasm_bindgen(getter)]
    pub fn columns(&self) -> Vec<String> {
        self.table.columns.clone()
    }

    /// How many data rows.
    #[wasm_bindgen(getter, js_name = rowCount)]
    pub fn row_count(&self) -> usize {
        self.table.rows.len()
    }

    /// How the file was read ("semicolon-separated, header on line 3").
    #[wasm_bindgen(getter)]
    pub fn description(&self) -> String {
        self.description.clone()
    }

    /// What to know about the file (title rows skipped, ragged rows…).
    #[wasm_bindgen(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct LifecyclePlanOptions {
    /// "disable", "enable", "expire" or "" (no default).
    default_action: String,
    /// Journal entries saved from an interrupted run.
    journal: Vec<JournalEntry>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ProvisionPlanOptions {
    /// "account" (POST /users, then attributes) or "directory" (directory import).
    route: String,
    /// User type names: name -> UT_ id.
    user_types: std::collections::BTreeMap<String, String>,
    /// Participants per import job (default 100).
    job_size: usize,
    /// Journal entries of an earlier run.
    journal: Vec<JournalEntry>,
}

#[wasm_bindgen]
impl RosterClient {
    /// Lists the brand's users (`onPage` as in `listUsers`) and plans a lifecycle sheet.
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
            let table = read_table(table)?;
            let options: LifecyclePlanOptions = parse_options(options)?;
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
            Ok(LifecycleRun {
                conn,
                table,
                plan,
                driver: Driver::new(),
            }
            .into())
        })
    }

    /// Lists the brand's users and directory participants and plans a provisioning sheet.
    /// `options`: `{route: "account" | "directory", userTypes: {name: "UT_…"}, jobSize, journal}`.
    #[wasm_bindgen(js_name = planProvision)]
    pub fn plan_provision(
        &self,
        table: JsValue,
        options: JsValue,
        on_page: Option<Function>,
    ) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let table = read_table(table)?;
            let options: ProvisionPlanOptions = parse_options(options)?;
            let listed = list_all_users(&conn, on_page.as_ref()).await?;
            let participants = list_all_participants(&conn).await?;
            // Division names: one GET per division the brand's users are in (there is no list).
            let mut divisions = std::collections::BTreeMap::new();
            let ids: std::collections::BTreeSet<&String> = listed
                .users
                .iter()
                .filter_map(|u| u.division_id.as_ref())
                .collect();
            for id in ids {
                let name = fetch_page(&users::get_division_request(&conn, id), |r| {
                    users::parse_division_name(r).map_err(ListError::from)
                })
                .await;
                if let Ok(name) = name {
                    divisions.insert(name.to_lowercase(), id.clone());
                }
            }
            let user_types = options
                .user_types
                .into_iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
                .collect();
            let plan = provision::plan(
                &table,
                &listed.users,
                &participants,
                &options.journal,
                &ProvisionOptions {
                    route: if options.route == "directory" {
                        Route::DirectoryImport
                    } else {
                        Route::AccountAndAttributes
                    },
                    today: Date::from_unix_millis(now_ms()),
                    user_types,
                    divisions,
                    job_size: if options.job_size == 0 {
                        100
                    } else {
                        options.job_size
                    },
                },
            );
            let run = Rc::new(RefCell::new(ProvisionRun::new(plan)));
            Ok(ProvisionSheetRun {
                conn,
                table,
                run,
                driver: Driver::new(),
                applied: Rc::new(RefCell::new(false)),
            }
            .into())
        })
    }
}

/// A planned lifecycle sheet: shows its plan, applies it, and reports outcomes.
#[wasm_bindgen]
pub struct LifecycleRun {
    conn: Connection,
    table: Table,
    plan: lifecycle::Plan,
    driver: Rc<RefCell<Driver<LifecycleStep>>>,
}

#[wasm_bindgen]
impl LifecycleRun {
    /// The plan: `{counts, fileError, changes, table, problems, problemRows, problemCount}`;
    /// with `previewRows`, cut to a preview as `PlanOut::into_js` says.
    pub fn plan(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        let problems: Vec<&lifecycle::PlanRow> = self
            .plan
            .rows
            .iter()
            .filter(|r| {
                matches!(
                    r.action,
                    lifecycle::PlanAction::Invalid | lifecycle::PlanAction::NotFound
                )
            })
            .collect();
        PlanOut {
            counts: self.plan.counts.clone(),
            file_error: self.plan.file_error.clone(),
            changes: self.plan.changes(),
            table: lifecycle::plan_table(&self.plan),
            problems: problems.iter().map(|r| r.message.clone()).collect(),
            problem_rows: problems.iter().map(|r| r.row).collect(),
        }
        .into_js(preview_rows)
    }

    /// Sends the changes. `onProgress({phase, total, done, unchanged, failed, skipped,
    /// remaining, inFlight, requestsSent, retries, ratePerSecond, journal, stopped})` is called as
    /// answers arrive; `journal` holds rows finished since the last call (save them to resume).
    pub fn apply(&self, on_progress: Option<Function>) -> Promise {
        let driver = self.driver.clone();
        let steps = lifecycle::steps(&self.plan);
        let conn = self.conn.clone();
        future_to_promise(async move {
            if driver.borrow().exec.is_some() {
                return Err(to_js(
                    "This plan was already applied: plan again to apply it again.",
                ));
            }
            run_phase(&driver, &conn, steps, "changes", on_progress.as_ref()).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sending: rows not yet sent end `skipped`; answers on their way are still recorded.
    pub fn cancel(&self) {
        cancel_driver(&self.driver);
    }

    /// The outcome column names to write beside the input.
    #[wasm_bindgen(js_name = outcomeColumns)]
    pub fn outcome_columns(&self) -> Vec<String> {
        lifecycle::outcome_column_names(&self.table.columns)
    }

    /// Each row's outcome: `[{row, status, values}]`, values in `outcomeColumns()` order.
    #[wasm_bindgen(js_name = outcomeRows)]
    pub fn outcome_rows(&self) -> Result<JsValue, JsValue> {
        outcome_rows(self.row_outcomes())
    }

    /// Each input row's outcome: `[{key, row, status, message, userId, appliedAt}]`.
    pub fn outcomes(&self) -> Result<JsValue, JsValue> {
        to_value(&self.row_outcomes())
    }

    /// The input with the outcome columns beside it (the first `previewRows` rows and
    /// `totalRows`, when given).
    #[wasm_bindgen(js_name = outcomeTable)]
    pub fn outcome_table(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        to_value(&TableOut::new(
            lifecycle::outcome_table(&self.table, &self.row_outcomes()),
            preview_rows,
        ))
    }

    /// The undo file: the changed accounts as they were before, as a lifecycle sheet.
    #[wasm_bindgen(js_name = beforeTable)]
    pub fn before_table(&self) -> Result<JsValue, JsValue> {
        let d = self.driver.borrow();
        let steps: Vec<&LifecycleStep> = d.exec.iter().flat_map(|e| e.steps()).collect();
        to_value(&lifecycle::before_table(&steps))
    }

    /// Every request the run sent, as a table for an "Audit" sheet.
    #[wasm_bindgen(js_name = auditTable)]
    pub fn audit_table(&self) -> Result<JsValue, JsValue> {
        to_value(&lifecycle::audit_table(&self.driver.borrow().audit))
    }

    /// Every request the run sent, as JSON Lines (no token in it).
    #[wasm_bindgen(js_name = auditJsonl)]
    pub fn audit_jsonl(&self) -> String {
        lifecycle::audit_jsonl(&self.driver.borrow().audit)
    }
}

impl LifecycleRun {
    fn row_outcomes(&self) -> Vec<lifecycle::RowOutcome> {
        let d = self.driver.borrow();
        let executed: Vec<Outcome> = d
            .exec
            .iter()
            .flat_map(|e| e.outcomes().flatten().cloned())
            .collect();
        lifecycle::outcomes(&self.plan, &executed)
    }
}

/// A planned provisioning sheet.
#[wasm_bindgen]
pub struct ProvisionSheetRun {
    conn: Connection,
    table: Table,
    run: Rc<RefCell<ProvisionRun>>,
    driver: Rc<RefCell<Driver<ProvisionStep>>>,
    applied: Rc<RefCell<bool>>,
}

/// Runs a phase and records its steps' results in the provisioning run.
async fn provision_phase(
    run: &Rc<RefCell<ProvisionRun>>,
    driver: &Rc<RefCell<Driver<ProvisionStep>>>,
    conn: &Connection,
    steps: Vec<ProvisionStep>,
    phase: &'static str,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    if steps.is_empty() {
        return Ok(());
    }
    run_phase(driver, conn, steps, phase, on_progress).await?;
    let d = driver.borrow();
    let exec = d.exec.as_ref().expect("the phase ran");
    let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
    run.borrow_mut().record(exec.steps(), &outcomes);
    Ok(())
}

#[wasm_bindgen]
impl ProvisionSheetRun {
    /// The plan: `{counts, fileError, changes, table, problems, problemRows, problemCount}`;
    /// with `previewRows`, cut to a preview as `PlanOut::into_js` says.
    pub fn plan(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        let run = self.run.borrow();
        let plan = &run.plan;
        let problems: Vec<&provision::Diagnostic> = plan
            .file_errors
            .iter()
            .chain(plan.rows.iter().flat_map(|r| r.diagnostics.iter()))
            .collect();
        let file_error = (!plan.file_errors.is_empty()).then(|| {
            plan.file_errors
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>()
                .join(" ")
        });
        PlanOut {
            counts: plan.counts.clone(),
            file_error,
            changes: plan.changes(),
            table: provision::plan_table(plan),
            problems: problems.iter().map(|d| d.message.clone()).collect(),
            problem_rows: plan
                .rows
                .iter()
                .filter(|r| r.actions.contains(&provision::ProvisionAction::Invalid))
                .map(|r| r.row)
                .collect(),
        }
        .into_js(preview_rows)
    }

    /// Applies the plan phase by phase: accounts; a check of any create that got no answer
    /// (one listing of users) and a retry of those not made; a listing of the directory for
    /// new accounts' uniqueIdentifiers; the import jobs. Progress as in `LifecycleRun.apply`,
    /// with `phase` naming the step.
    pub fn apply(&self, on_progress: Option<Function>) -> Promise {
        let (run, driver, conn, applied) = (
            self.run.clone(),
            self.driver.clone(),
            self.conn.clone(),
            self.applied.clone(),
        );
        future_to_promise(async move {
            if std::mem::replace(&mut *applied.borrow_mut(), true) {
                return Err(to_js(
                    "This plan was already applied: plan again to apply it again.",
                ));
            }
            let cb = on_progress.as_ref();
            let steps = run.borrow().account_steps();
            provision_phase(&run, &driver, &conn, steps, "accounts", cb).await?;
            for _ in 0..2 {
                if run.borrow().uncertain().is_empty() || driver.borrow().cancelled {
                    break;
                }
                let listed = list_all_users(&conn, None).await?;
                let retries = run.borrow_mut().resolve_uncertain(&listed.users);
                provision_phase(&run, &driver, &conn, retries, "accounts (retry)", cb).await?;
            }
            if driver.borrow().cancelled {
                return Ok(JsValue::UNDEFINED);
            }
            let participants = list_all_participants(&conn).await?;
            let jobs = run.borrow_mut().import_steps(&participants);
            provision_phase(&run, &driver, &conn, jobs, "attributes", cb).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sending: what was not sent ends `skipped`.
    pub fn cancel(&self) {
        cancel_driver(&self.driver);
    }

    /// The outcome column names to write beside the input.
    #[wasm_bindgen(js_name = outcomeColumns)]
    pub fn outcome_columns(&self) -> Vec<String> {
        provision::outcome_column_names(&self.table.columns)
    }

    /// Each row's outcome: `[{row, status, values}]`, values in `outcomeColumns()` order.
    #[wasm_bindgen(js_name = outcomeRows)]
    pub fn outcome_rows(&self) -> Result<JsValue, JsValue> {
        outcome_rows(self.run.borrow().outcomes())
    }

    /// The input with the outcome columns beside it (password cells blanked).
    #[wasm_bindgen(js_name = outcomeTable)]
    pub fn outcome_table(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        to_value(&TableOut::new(
            provision::outcome_table(&self.table, &self.run.borrow().outcomes()),
            preview_rows,
        ))
    }

    /// Every request the run sent, as a table for an "Audit" sheet.
    #[wasm_bindgen(js_name = auditTable)]
    pub fn audit_table(&self) -> Result<JsValue, JsValue> {
        to_value(&lifecycle::audit_table(&self.driver.borrow().audit))
    }

    /// Every request the run sent, as JSON Lines (no token or password in it).
    #[wasm_bindgen(js_name = auditJsonl)]
    pub fn audit_jsonl(&self) -> String {
        lifecycle::audit_jsonl(&self.driver.borrow().audit)
    }
}

/// A cell value made safe to write into a sheet (formula injection): see `table::neutralise_formula`.
#[wasm_bindgen(js_name = safeCell)]
pub fn safe_cell(value: &str) -> String {
    crate::table::neutralise_formula(value).into_owned()
}

// ---- Groups and roles ----

use crate::membership::{self, ListingStep, MembershipRun, Snapshot, TeamFilter};
use crate::rules::{self, MatchOptions};

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MembershipOptions {
    /// "Hotel = Seattle", or blank.
    filter: String,
    /// Compare rule values ignoring case.
    case_insensitive: bool,
}

impl MembershipOptions {
    fn matching(&self) -> MatchOptions {
        MatchOptions {
            case_sensitive: !self.case_insensitive,
        }
    }
}

/// Reads the users, groups (with members) and directory: two executor phases, paced and retried.
async fn pull_snapshot(
    conn: &Connection,
    on_progress: Option<&Function>,
) -> Result<Snapshot, JsValue> {
    let driver: Rc<RefCell<Driver<ListingStep>>> = Driver::new();
    run_phase(
        &driver,
        conn,
        membership::pull_steps(conn),
        "reading",
        on_progress,
    )
    .await?;
    let mut snapshot = {
        let d = driver.borrow();
        let exec = d.exec.as_ref().expect("the phase ran");
        let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        Snapshot::from_first_phase(exec.steps(), &outcomes).map_err(to_js)?
    };
    let steps = membership::member_steps(conn, &snapshot.group_list());
    run_phase(&driver, conn, steps, "group members", on_progress).await?;
    if !snapshot.groups.is_empty() {
        let d = driver.borrow();
        let exec = d.exec.as_ref().expect("the phase ran");
        let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        snapshot
            .add_members(exec.steps(), &outcomes)
            .map_err(to_js)?;
    } else {
        snapshot.pages.insert("members".into(), 0);
    }
    Ok(snapshot)
}

fn read_roles(roles: JsValue) -> Result<rules::RoleSheet, JsValue> {
    if roles.is_undefined() || roles.is_null() {
        return Ok(rules::RoleSheet::default());
    }
    Ok(rules::read_role_sheet(&read_table(roles)?))
}

#[wasm_bindgen]
impl RosterClient {
    /// Pulls who is in which group and role: `{long, matrix, counts, users, requests, pages,
    /// notes}`. `roles` is the Roles sheet (`{columns, rows}`, or null for groups only);
    /// `options`: `{filter: "Hotel = Seattle", caseInsensitive}`; `onProgress` as in `apply`.
    #[wasm_bindgen(js_name = pullMembership)]
    pub fn pull_membership(
        &self,
        roles: JsValue,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let options: MembershipOptions = parse_options(options)?;
            let filter = TeamFilter::parse(&options.filter).map_err(to_js)?;
            let roles = read_roles(roles)?;
            let snapshot = pull_snapshot(&conn, on_progress.as_ref()).await?;
            let tables =
                membership::pull_tables(&snapshot, &roles, filter.as_ref(), options.matching())
                    .map_err(to_js)?;
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Pulled<'a> {
                #[serde(flatten)]
                tables: &'a membership::PullTables,
                pages: &'a std::collections::BTreeMap<String, usize>,
            }
            to_value(&Pulled {
                tables: &tables,
                pages: &snapshot.pages,
            })
        })
    }

    /// Pulls the live state and plans a desired-membership sheet against it and the Roles sheet.
    #[wasm_bindgen(js_name = planMembership)]
    pub fn plan_membership(
        &self,
        desired: JsValue,
        roles: JsValue,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let table = read_table(desired)?;
            let roles = read_roles(roles)?;
            let options: MembershipOptions = parse_options(options)?;
            let snapshot = pull_snapshot(&conn, on_progress.as_ref()).await?;
            let plan = membership::plan_changes(
                &table,
                &roles,
                &snapshot,
                options.matching(),
                Date::from_unix_millis(now_ms()),
            );
            Ok(MembershipSheetRun {
                conn,
                table,
                run: Rc::new(RefCell::new(MembershipRun::new(plan))),
                groups: Driver::new(),
                attributes: Driver::new(),
                applied: Rc::new(RefCell::new(false)),
            }
            .into())
        })
    }
}

/// A planned desired-membership sheet: shows its plan, applies it, and reports outcomes.
#[wasm_bindgen]
pub struct MembershipSheetRun {
    conn: Connection,
    table: Table,
    run: Rc<RefCell<MembershipRun>>,
    groups: Rc<RefCell<Driver<membership::GroupMemberStep>>>,
    attributes: Rc<RefCell<Driver<ProvisionStep>>>,
    applied: Rc<RefCell<bool>>,
}

#[wasm_bindgen]
impl MembershipSheetRun {
    /// The plan: `{counts, fileError, changes, table, problems, problemRows, problemCount}`;
    /// with `previewRows`, cut to a preview as `PlanOut::into_js` says.
    pub fn plan(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        let run = self.run.borrow();
        let plan = &run.plan;
        let invalid: Vec<&membership::ChangeRow> = plan
            .rows
            .iter()
            .filter(|r| r.action == membership::ChangeAction::Invalid)
            .collect();
        PlanOut {
            counts: plan.counts(),
            file_error: (!plan.file_errors.is_empty()).then(|| plan.file_errors.join(" ")),
            changes: plan.changes(),
            table: membership::change_plan_table(plan),
            problems: invalid.iter().map(|r| r.reason.clone()).collect(),
            problem_rows: invalid.iter().map(|r| r.row).collect(),
        }
        .into_js(preview_rows)
    }

    /// Applies the plan: group additions and removals, then the attribute changes the role
    /// rules imply (a directory listing, then import jobs). Progress as in `LifecycleRun.apply`.
    pub fn apply(&self, on_progress: Option<Function>) -> Promise {
        let (run, groups, attributes, conn, applied) = (
            self.run.clone(),
            self.groups.clone(),
            self.attributes.clone(),
            self.conn.clone(),
            self.applied.clone(),
        );
        future_to_promise(async move {
            if std::mem::replace(&mut *applied.borrow_mut(), true) {
                return Err(to_js(
                    "This plan was already applied: plan again to apply it again.",
                ));
            }
            let cb = on_progress.as_ref();
            let steps = run.borrow().group_steps();
            if !steps.is_empty() {
                run_phase(&groups, &conn, steps, "groups", cb).await?;
                let d = groups.borrow();
                let exec = d.exec.as_ref().expect("the phase ran");
                let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
                run.borrow_mut().record_groups(&outcomes);
            }
            let cancelled = groups.borrow().cancelled;
            let pending = run.borrow_mut().attributes.take();
            if let (Some(prov), false) = (pending, cancelled) {
                let prov = Rc::new(RefCell::new(prov));
                let participants = list_all_participants(&conn).await;
                let result = match participants {
                    Ok(participants) => {
                        let jobs = prov.borrow_mut().import_steps(&participants);
                        provision_phase(&prov, &attributes, &conn, jobs, "roles", cb).await
                    }
                    Err(e) => Err(e),
                };
                run.borrow_mut().attributes = Some(prov.borrow().clone());
                result?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sending: what was not sent ends `skipped`.
    pub fn cancel(&self) {
        cancel_driver(&self.groups);
        cancel_driver(&self.attributes);
    }

    /// The outcome column names to write beside the input.
    #[wasm_bindgen(js_name = outcomeColumns)]
    pub fn outcome_columns(&self) -> Vec<String> {
        membership::OUTCOME_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Each row's outcome: `[{row, status, values}]`, values in `outcomeColumns()` order.
    #[wasm_bindgen(js_name = outcomeRows)]
    pub fn outcome_rows(&self) -> Result<JsValue, JsValue> {
        outcome_rows(self.run.borrow().outcomes())
    }

    /// The input with the outcome columns beside it (the first `previewRows` rows and
    /// `totalRows`, when given).
    #[wasm_bindgen(js_name = outcomeTable)]
    pub fn outcome_table(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        to_value(&TableOut::new(
            membership::outcome_table(&self.table, &self.run.borrow().outcomes()),
            preview_rows,
        ))
    }

    /// Every request the run sent, as a table for an "Audit" sheet.
    #[wasm_bindgen(js_name = auditTable)]
    pub fn audit_table(&self) -> Result<JsValue, JsValue> {
        to_value(&lifecycle::audit_table(&self.audit()))
    }

    /// Every request the run sent, as JSON Lines (no token in it).
    #[wasm_bindgen(js_name = auditJsonl)]
    pub fn audit_jsonl(&self) -> String {
        lifecycle::audit_jsonl(&self.audit())
    }
}

impl MembershipSheetRun {
    fn audit(&self) -> Vec<AuditEntry> {
        let mut all = self.groups.borrow().audit.clone();
        all.extend(self.attributes.borrow().audit.iter().cloned());
        all
    }
}

/// The Roles sheet template (`Role | Attribute | Operator | Value`).
#[wasm_bindgen(js_name = rolesTemplate)]
pub fn roles_template() -> Result<JsValue, JsValue> {
    to_value(&rules::role_template())
}

/// The desired-membership sheet template (`User | Group or role | Member`).
#[wasm_bindgen(js_name = membershipTemplate)]
pub fn membership_template() -> Result<JsValue, JsValue> {
    to_value(&membership::desired_template())
}
