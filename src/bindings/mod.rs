//! wasm-bindgen bindings: JS names and JS `Error`s around the core, nothing else. One class per
//! concept: [`RosterClient`] (a connection: who am I, list users, plan a sheet, pull
//! membership), [`Sheet`] (a file read into WASM memory) and [`run::JsSheetRun`] (a plan, its
//! apply, its outcomes); `driver.rs` carries a run's requests with fetch and timers.

mod driver;
mod run;
mod sheet;

pub use run::JsSheetRun;
pub use sheet::{read_csv, read_file, Sheet};

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, JsString, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use self::driver::{drive_to_end, send_retrying};
use crate::connection::{Auth, Connection, Datacenter};
use crate::exec::ExecConfig;
use crate::membership::{self, TeamFilter};
use crate::policy::{Actor, Guard, Policy};
use crate::rules::{self, MatchOptions, RoleSheet};
use crate::run::{Brand, MembershipJob, PullRun, SheetKind, SheetRequest, SheetRun, UsersRun};
use crate::table::{Cell, Table};
use crate::users;

/// A connection to a brand, holding the token in WASM memory only.
#[wasm_bindgen]
pub struct RosterClient {
    conn: Connection,
    /// The credential's own account, from the last whoami (a plan asks for it when unknown).
    actor: Rc<RefCell<Option<Actor>>>,
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
        Ok(RosterClient {
            conn,
            actor: Rc::default(),
        })
    }

    /// Calls an API base URL directly (the sandbox, or Qualtrics where CORS allows it).
    pub fn direct(base_url: &str, token: &str) -> Result<RosterClient, JsError> {
        let auth = Auth::api_token(token).map_err(js_error)?;
        let conn = Connection::direct(base_url, auth).map_err(js_error)?;
        Ok(RosterClient {
            conn,
            actor: Rc::default(),
        })
    }

    /// `GET /whoami`; resolves to `{brandId, userId, userName, datacenter, …, notice,
    /// switchTo}`. `switchTo` is the brand's own datacenter when this relay connection uses
    /// another one (connect again with it).
    pub fn whoami(&self) -> Promise {
        let conn = self.conn.clone();
        let actor = self.actor.clone();
        future_to_promise(async move {
            let response = send_retrying(&users::whoami_request(&conn))
                .await
                .map_err(to_js)?;
            let (who, notice) = users::parse_whoami(&response).map_err(to_js)?;
            *actor.borrow_mut() = Some(Actor::from_whoami(&who));
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
        let run = UsersRun::list_users(self.conn.clone(), ExecConfig::default(), false, now_ms());
        let run = Rc::new(RefCell::new(run));
        future_to_promise(async move {
            drive_to_end(&run, on_progress.as_ref()).await?;
            let run = run.borrow();
            let job = run.job();
            #[derive(Serialize)]
            struct UsersOut {
                columns: Vec<String>,
                rows: Vec<Vec<Cell>>,
                pages: usize,
                notice: Option<String>,
            }
            let table = users::users_table(job.users_read());
            to_value(&UsersOut {
                columns: table.columns,
                rows: table.rows,
                pages: job.pages(),
                notice: job.notice().map(str::to_string),
            })
        })
    }

    /// Reads the brand and plans `table` (a `Sheet`, or `{columns, rows, rowNumbers}`) as a
    /// `kind` sheet (`"lifecycle"`, `"provision"`, `"membership"`); resolves to a `SheetRun`.
    /// `options`: `{defaultAction, route, userTypes: {name: "UT_…"}, jobSize,
    /// caseInsensitive, journal}` (each kind reads its own); `roles`: the Roles sheet for a
    /// membership sheet, or null; `onProgress` gets the run's progress events.
    #[wasm_bindgen(js_name = planSheet)]
    pub fn plan_sheet(
        &self,
        kind: JsValue,
        table: JsValue,
        options: JsValue,
        roles: JsValue,
        on_progress: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let kind: SheetKind = serde_wasm_bindgen::from_value(kind)
            .map_err(|_| to_js("The kind of sheet is lifecycle, provision or membership."))?;
        let (table, request, roles) = (
            read_table(table)?,
            parse_options::<SheetRequest>(options)?,
            read_roles(roles)?,
        );
        let (conn, cached) = (self.conn.clone(), self.actor.clone());
        Ok(future_to_promise(async move {
            // Every plan is judged against the credential's own account: ask whoami once.
            let known = cached.borrow().clone();
            let actor = match known {
                Some(a) => a,
                None => {
                    let response = send_retrying(&users::whoami_request(&conn))
                        .await
                        .map_err(to_js)?;
                    let (who, _) = users::parse_whoami(&response).map_err(to_js)?;
                    let actor = Actor::from_whoami(&who);
                    *cached.borrow_mut() = Some(actor.clone());
                    actor
                }
            };
            let brand = Brand::Online {
                conn,
                renewable: false,
                guard: Guard::new(actor, Policy::default()),
            };
            let run = SheetRun::start(
                kind,
                table,
                request,
                roles,
                brand,
                ExecConfig::default(),
                now_ms(),
            );
            let run = Rc::new(RefCell::new(run));
            drive_to_end(&run, on_progress.as_ref()).await?;
            Ok(JsSheetRun { run }.into())
        }))
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
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct PullOptions {
            filter: String,
            case_insensitive: bool,
        }
        let conn = self.conn.clone();
        future_to_promise(async move {
            let options: PullOptions = parse_options(options)?;
            let matching = MatchOptions {
                case_sensitive: !options.case_insensitive,
            };
            let filter = TeamFilter::parse(&options.filter).map_err(to_js)?;
            let roles = read_roles(roles)?;
            let run = PullRun::new(
                conn,
                MembershipJob::pull(),
                ExecConfig::default(),
                false,
                now_ms(),
            );
            let run = Rc::new(RefCell::new(run));
            drive_to_end(&run, on_progress.as_ref()).await?;
            let run = run.borrow();
            let snapshot = run
                .job()
                .snapshot()
                .ok_or_else(|| to_js("The pull did not finish."))?;
            let tables = membership::pull_tables(snapshot, &roles, filter.as_ref(), matching)
                .map_err(to_js)?;
            #[derive(Serialize)]
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

/// Reads CSV text and checks it as a provisioning sheet against no brand, in one call (no
/// table crosses into JavaScript): `{counts, problems, rows}`. For the validation benchmark:
/// the plan alone, without a run around it (no input fingerprint, no executor).
#[wasm_bindgen(js_name = checkProvisionCsv)]
pub fn check_provision_csv(text: &JsString) -> Result<JsValue, JsValue> {
    let table = Table::from_csv(&sheet::text_from_js(text)).map_err(to_js)?;
    let options = crate::provision::ProvisionOptions {
        route: crate::provision::Route::AccountAndAttributes,
        today: crate::time::Date::from_unix_millis(now_ms()),
        user_types: Default::default(),
        divisions: Default::default(),
        job_size: crate::run::DEFAULT_JOB_SIZE,
        new_attributes: Default::default(),
    };
    let plan = crate::provision::plan(&table, &[], &[], &[], &options);
    #[derive(Serialize)]
    struct Checked {
        counts: Vec<(String, usize)>,
        problems: usize,
        rows: usize,
    }
    to_value(&Checked {
        problems: plan.file_errors.len()
            + plan.rows.iter().map(|r| r.problems.len()).sum::<usize>(),
        rows: plan.rows.len(),
        counts: plan.counts,
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

/// A cell value made safe to write into a sheet (formula injection): see `table::neutralise_formula`.
#[wasm_bindgen(js_name = safeCell)]
pub fn safe_cell(value: &str) -> String {
    crate::table::neutralise_formula(value).into_owned()
}

/// The provisioning template: every known column and one example row.
#[wasm_bindgen(js_name = provisionTemplate)]
pub fn provision_template() -> Result<JsValue, JsValue> {
    to_value(&crate::provision::template())
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

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
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

/// The Roles sheet given by JavaScript (a table), or none.
fn read_roles(roles: JsValue) -> Result<RoleSheet, JsValue> {
    if roles.is_undefined() || roles.is_null() {
        return Ok(RoleSheet::default());
    }
    Ok(rules::read_role_sheet(&read_table(roles)?))
}
