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
use crate::users;

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

    /// Lists every user, page by page (paced and retried like every run); `onProgress` gets
    /// the run's progress events (`{kind, phase, pagesRead, itemsRead, finished, …}`).
    /// Resolves to `{columns, rows, pages, notice}` (the Users sheet).
    #[wasm_bindgen(js_name = listUsers)]
    pub fn list_users(&self, on_progress: Option<Function>) -> Promise {
        let run = Rc::new(RefCell::new(UsersRun::list_users(
            self.conn.clone(),
            ExecConfig::default(),
            false,
            now_ms(),
        )));
        future_to_promise(async move {
            drive(&run, on_progress.as_ref()).await?;
            let run = run.borrow();
            failed(&*run)?;
            let job = run.job();
            let table = users::users_table(job.users_read());
            to_value(&UsersOut {
                columns: table.columns,
                rows: table.rows,
                pages: job.pages(),
                notice: job.notice().map(str::to_string),
            })
        })
    }
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

// ---- Runs: the browser driver, plan a sheet, apply it, outcomes, audit log ----

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;

use crate::exec::{ExecConfig, JournalEntry, TransportFailure};
use crate::lifecycle::{self, Action, LifecycleOptions};
use crate::provision::{self, ProvisionOptions, Route};
use crate::run::{
    InputFingerprint, LifecycleJob, LifecycleRun, MembershipJob, MembershipRun, ProvisionJob,
    ProvisionRun, PullRun, Run, SheetRun, UsersRun,
};
use crate::time::Date;

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

/// The browser driver: drives `run` to the end of its current stage with fetch and timers,
/// calling `on_progress` with each progress event. The run stays borrowable between awaits,
/// so `cancel` can reach it at any time.
async fn drive<R: Run + 'static>(
    run: &Rc<RefCell<R>>,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    type Answer = (u64, Result<HttpResponse, TransportFailure>);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<Answer>();
    let mut in_flight = 0usize;
    loop {
        let (send_now, wake_at, finished) = {
            let mut r = run.borrow_mut();
            let poll = r.poll(now_ms());
            if poll.needs_auth {
                // An API token cannot be renewed: the run stops, saying why.
                r.auth_failed("Qualtrics refused the API token", now_ms());
                continue;
            }
            (poll.send, poll.wake_at, r.is_finished())
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
        if finished && in_flight == 0 {
            return report(run, on_progress);
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
                let mut r = run.borrow_mut();
                for (id, answer) in answers {
                    r.handle(id, now_ms(), answer);
                }
            }
            report(run, on_progress)?;
        }
    }
}

/// Hands the run's progress event, if any, to `on_progress`.
fn report<R: Run>(run: &Rc<RefCell<R>>, on_progress: Option<&Function>) -> Result<(), JsValue> {
    let progress = run.borrow_mut().poll_progress(now_ms());
    if let (Some(cb), Some(p)) = (on_progress, progress) {
        cb.call1(&JsValue::NULL, &to_value(&p)?)?;
    }
    Ok(())
}

/// A run whose reading of the brand failed, or that stopped on a refused token, as a JS error.
fn failed<R: Run + ?Sized>(run: &R) -> Result<(), JsValue> {
    match run.error().or(run.stop_reason()) {
        Some(e) => Err(to_js(e.trim_start_matches("not sent: "))),
        None => Ok(()),
    }
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

    /// The key under which a host keeps the journal of this sheet as a `kind` sheet (the same
    /// as `journalKey` for the same cells).
    #[wasm_bindgen(js_name = journalKey)]
    pub fn journal_key(&self, kind: &str) -> String {
        crate::run::journal_key(kind, &self.table)
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

impl LifecyclePlanOptions {
    fn core(&self) -> LifecycleOptions {
        LifecycleOptions {
            default_action: Action::parse(&self.default_action),
            today: Date::from_unix_millis(now_ms()),
        }
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ProvisionPlanOptions {
    /// "account" (POST /users, then attributes) or "directory" (directory import).
    route: String,
    /// User type names: name -> UT_ id.
    user_types: std::collections::BTreeMap<String, String>,
    /// Participants per import job (0: the core's default).
    job_size: usize,
    /// Journal entries of an earlier run.
    journal: Vec<JournalEntry>,
}

impl ProvisionPlanOptions {
    fn core(&self) -> ProvisionOptions {
        ProvisionOptions {
            route: if self.route == "directory" {
                Route::DirectoryImport
            } else {
                Route::AccountAndAttributes
            },
            today: Date::from_unix_millis(now_ms()),
            user_types: self.user_types.clone(),
            divisions: Default::default(),
            job_size: self.job_size,
        }
    }
}

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

fn read_roles(roles: JsValue) -> Result<rules::RoleSheet, JsValue> {
    if roles.is_undefined() || roles.is_null() {
        return Ok(rules::RoleSheet::default());
    }
    Ok(rules::read_role_sheet(&read_table(roles)?))
}

#[wasm_bindgen]
impl RosterClient {
    /// Reads the brand's users and plans a lifecycle sheet; resolves to a `SheetRun`.
    /// `options`: `{defaultAction: "disable" | "enable" | "", journal: [...]}`; `onProgress`
    /// gets the run's progress events.
    #[wasm_bindgen(js_name = planLifecycle)]
    pub fn plan_lifecycle(
        &self,
        table: JsValue,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let options: LifecyclePlanOptions = parse_options(options)?;
        let job = LifecycleJob::new(read_table(table)?, options.core(), options.journal);
        let run = LifecycleRun::new(
            self.conn.clone(),
            job,
            ExecConfig::default(),
            false,
            now_ms(),
        );
        Ok(plan_sheet(SheetRun::Lifecycle(run), on_progress))
    }

    /// Reads the brand (users; the CX directory and division names when the sheet needs them)
    /// and plans a provisioning sheet. `options`: `{route: "account" | "directory", userTypes:
    /// {name: "UT_…"}, jobSize, journal}`.
    #[wasm_bindgen(js_name = planProvision)]
    pub fn plan_provision(
        &self,
        table: JsValue,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let options: ProvisionPlanOptions = parse_options(options)?;
        let job = ProvisionJob::new(read_table(table)?, options.core(), options.journal);
        let run = ProvisionRun::new(
            self.conn.clone(),
            job,
            ExecConfig::default(),
            false,
            now_ms(),
        );
        Ok(plan_sheet(SheetRun::Provision(run), on_progress))
    }

    /// Pulls the live state and plans a desired-membership sheet against it and the Roles
    /// sheet. `options`: `{caseInsensitive}`.
    #[wasm_bindgen(js_name = planMembership)]
    pub fn plan_membership(
        &self,
        desired: JsValue,
        roles: JsValue,
        options: JsValue,
        on_progress: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let options: MembershipOptions = parse_options(options)?;
        let job = MembershipJob::sheet(
            read_table(desired)?,
            read_roles(roles)?,
            options.matching(),
            Date::from_unix_millis(now_ms()),
        );
        let run = MembershipRun::new(
            self.conn.clone(),
            job,
            ExecConfig::default(),
            false,
            now_ms(),
        );
        Ok(plan_sheet(SheetRun::Membership(Box::new(run)), on_progress))
    }

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
            let run = Rc::new(RefCell::new(PullRun::new(
                conn,
                MembershipJob::pull(),
                ExecConfig::default(),
                false,
                now_ms(),
            )));
            drive(&run, on_progress.as_ref()).await?;
            let run = run.borrow();
            failed(&*run)?;
            let snapshot = run
                .job()
                .snapshot()
                .ok_or_else(|| to_js("The pull did not finish."))?;
            let tables =
                membership::pull_tables(snapshot, &roles, filter.as_ref(), options.matching())
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
}

/// Drives a sheet run through its reading stage; resolves to the `SheetRun` holding the plan.
fn plan_sheet(run: SheetRun, on_progress: Option<Function>) -> Promise {
    let run = Rc::new(RefCell::new(run));
    future_to_promise(async move {
        drive(&run, on_progress.as_ref()).await?;
        failed(&*run.borrow())?;
        Ok(JsSheetRun { run }.into())
    })
}

/// The key under which a host keeps the journal of a `{columns, rows}` table of `kind` (for a
/// `Sheet`, its `journalKey`): the same cells give the same key in every host and session.
#[wasm_bindgen(js_name = journalKey)]
pub fn journal_key(kind: &str, table: JsValue) -> Result<String, JsValue> {
    let table: Table = serde_wasm_bindgen::from_value(table)
        .map_err(|e| to_js(format!("Not a table of text cells: {e}")))?;
    Ok(crate::run::journal_key(kind, &table))
}

/// A planned sheet of any kind: shows its plan, applies exactly that plan, reports outcomes.
#[wasm_bindgen(js_name = SheetRun)]
pub struct JsSheetRun {
    run: Rc<RefCell<SheetRun>>,
}

#[wasm_bindgen(js_class = SheetRun)]
impl JsSheetRun {
    /// The plan: `{counts, fileError, changes, table, problems, problemRows, problemCount}`;
    /// with `previewRows`, cut to a preview as `PlanOut::into_js` says.
    pub fn plan(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        let run = self.run.borrow();
        let (problems, problem_rows) = run.listed_problems();
        let file_errors = run.file_errors();
        PlanOut {
            counts: run.counts(),
            file_error: (!file_errors.is_empty()).then(|| file_errors.join(" ")),
            changes: run.changes(),
            table: run.plan_table(),
            problems,
            problem_rows,
        }
        .into_js(preview_rows)
    }

    /// What the plan was made from (`{kind, table, options}`): pass it back to `apply` to
    /// say the input is still the one planned.
    pub fn input(&self) -> Result<JsValue, JsValue> {
        to_value(self.run.borrow().input())
    }

    /// Sends exactly the planned changes, phase by phase; `onProgress({kind, stage, phase,
    /// total, done, unchanged, failed, skipped, remaining, inFlight, requestsSent, retries,
    /// ratePerSecond, itemsRead, journal, stopped, finished})` is called as answers arrive
    /// (`journal`: rows finished since the last call; keep them to resume). `current`, when
    /// given, is the input as it is now (`input()` of a new plan, or `inputFingerprint`):
    /// the apply is refused, with nothing sent, if it differs from the plan's.
    pub fn apply(&self, on_progress: Option<Function>, current: JsValue) -> Promise {
        let run = self.run.clone();
        future_to_promise(async move {
            let current: Option<InputFingerprint> = if current.is_undefined() || current.is_null() {
                None
            } else {
                Some(
                    serde_wasm_bindgen::from_value(current)
                        .map_err(|e| to_js(format!("Bad input fingerprint: {e}")))?,
                )
            };
            run.borrow_mut()
                .apply(current.as_ref(), now_ms())
                .map_err(to_js)?;
            drive(&run, on_progress.as_ref()).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops sending, in any phase: rows not yet sent end `skipped`.
    pub fn cancel(&self) {
        self.run.borrow_mut().cancel(now_ms());
    }

    /// The outcome column names to write beside the input.
    #[wasm_bindgen(js_name = outcomeColumns)]
    pub fn outcome_columns(&self) -> Vec<String> {
        self.run.borrow().outcome_columns()
    }

    /// Each row's outcome: `[{row, status, values}]`, values in `outcomeColumns()` order.
    #[wasm_bindgen(js_name = outcomeRows)]
    pub fn outcome_rows(&self) -> Result<JsValue, JsValue> {
        let rows: Vec<OutcomeRow> = self
            .run
            .borrow()
            .outcomes()
            .iter()
            .map(|o| OutcomeRow {
                row: o.row(),
                status: o.status().as_str().into(),
                values: o.values(),
            })
            .collect();
        to_value(&rows)
    }

    /// The input with the outcome columns beside it (the first `previewRows` rows and
    /// `totalRows`, when given).
    #[wasm_bindgen(js_name = outcomeTable)]
    pub fn outcome_table(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        to_value(&TableOut::new(
            self.run.borrow().outcome_table(),
            preview_rows,
        ))
    }

    /// The accounts the run changed, as they were before (lifecycle): apply it to undo.
    #[wasm_bindgen(js_name = beforeTable)]
    pub fn before_table(&self) -> Result<JsValue, JsValue> {
        match self.run.borrow().before_table() {
            Some(t) => to_value(&t),
            None => Err(to_js("Only a lifecycle run has an undo sheet.")),
        }
    }

    /// Every request the run sent (listings and polls included), as an "Audit" sheet.
    #[wasm_bindgen(js_name = auditTable)]
    pub fn audit_table(&self) -> Result<JsValue, JsValue> {
        to_value(&lifecycle::audit_table(self.run.borrow().audit()))
    }

    /// Every request the run sent, as JSON Lines (no token or password in it).
    #[wasm_bindgen(js_name = auditJsonl)]
    pub fn audit_jsonl(&self) -> String {
        lifecycle::audit_jsonl(self.run.borrow().audit())
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

/// A cell value made safe to write into a sheet (formula injection): see `table::neutralise_formula`.
#[wasm_bindgen(js_name = safeCell)]
pub fn safe_cell(value: &str) -> String {
    crate::table::neutralise_formula(value).into_owned()
}

use crate::membership::{self, TeamFilter};
use crate::rules::{self, MatchOptions};

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
