//! wasm-bindgen bindings: JS names and typed values around the core, nothing else. One class
//! per concept: [`RosterClient`] (a connection: who am I, list users, plan a sheet, pull
//! membership), [`Sheet`] (a file read into WASM memory) and [`run::JsSheetRun`] (a plan, its
//! apply, its outcomes); `driver.rs` carries a run's requests with fetch and timers. What is
//! not JavaScript glue (connect specs, pull tables, templates, option types) is the core's. Every value
//! that crosses is a core type whose TypeScript declaration tsify derives (the `.d.ts` says
//! `PlanView`, not `any`); every failure is a `RosterError` with a `code` (`error.rs`).

mod driver;
mod error;
#[cfg(feature = "sheets")]
mod run;
#[cfg(feature = "sheets")]
mod sheet;
#[cfg(feature = "sheets")]
mod sheets;

#[cfg(feature = "sheets")]
pub use run::JsSheetRun;
#[cfg(feature = "sheets")]
pub use sheet::{read_csv, read_file, Sheet};

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use self::driver::{connect, drive_to_end};
use self::error::{fail, failing, ErrorCode};
use crate::api::connection::{Auth, Connection, Datacenter};
use crate::api::users;
use crate::exec::ExecConfig;
use crate::membership::rules;
use crate::policy::Actor;
use crate::run::{ConnectSpec, SheetKind, SheetRequest, UsersListing, UsersRun};
use crate::sheet::table::Table;

/// A connection to a brand, holding the token in WASM memory only.
#[wasm_bindgen]
pub struct RosterClient {
    conn: Connection,
    /// The credential's own account, from whoami (a plan asks for it when unknown).
    #[cfg_attr(not(feature = "sheets"), allow(dead_code))]
    actor: Rc<RefCell<Option<Actor>>>,
    /// Who the token belongs to, when connected with `connect`.
    connected: Option<users::Connected>,
    /// The datacenter `connect` moved to.
    moved_to: Option<String>,
}

#[wasm_bindgen]
impl RosterClient {
    /// Calls Qualtrics through the relay at `relayUrl` for `datacenter`.
    #[wasm_bindgen(js_name = viaRelay)]
    pub fn via_relay(
        relay_url: &str,
        datacenter: &str,
        token: &str,
    ) -> Result<RosterClient, JsValue> {
        let auth = Auth::api_token(token).map_err(failing(ErrorCode::Connect))?;
        let conn = Connection::via_relay(relay_url, datacenter, auth)
            .map_err(failing(ErrorCode::Connect))?;
        Ok(RosterClient::on(conn))
    }

    /// Calls an API base URL directly (the sandbox, or Qualtrics where CORS allows it).
    pub fn direct(base_url: &str, token: &str) -> Result<RosterClient, JsValue> {
        let auth = Auth::api_token(token).map_err(failing(ErrorCode::Connect))?;
        let conn = Connection::direct(base_url, auth).map_err(failing(ErrorCode::Connect))?;
        Ok(RosterClient::on(conn))
    }

    /// Connects along `spec` (the core's connect run: whoami, and the brand's own datacenter
    /// followed when Qualtrics names another); resolves to a client on the brand's
    /// datacenter, whose `connected` says who the token belongs to. Rejects with code
    /// `connect` (the address or token as typed) or `brand` (Qualtrics refused or could not be
    /// reached).
    #[wasm_bindgen(unchecked_return_type = "Promise<RosterClient>")]
    pub fn connect(
        #[wasm_bindgen(unchecked_param_type = "ConnectSpec")] spec: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((progress: RunProgress) => void) | null")]
        on_progress: Option<Function>,
    ) -> Promise {
        future_to_promise(async move {
            let spec: ConnectSpec = from_value(spec, "Bad connection settings")?;
            // The token and the address are checked before anything is sent.
            let job = spec.job().map_err(failing(ErrorCode::Connect))?;
            let (conn, connected, moved_to) = connect(job, on_progress.as_ref()).await?;
            Ok(RosterClient {
                conn,
                actor: Rc::new(RefCell::new(Some(Actor::from_whoami(&connected.who)))),
                connected: Some(connected),
                moved_to,
            }
            .into())
        })
    }

    /// Who the token belongs to (a client made by `connect`; null for one made by
    /// `viaRelay` or `direct`, which ask nothing until used).
    #[wasm_bindgen(getter, unchecked_return_type = "Connected | null")]
    pub fn connected(&self) -> Result<JsValue, JsValue> {
        to_value(&self.connected)
    }

    /// The datacenter `connect` moved to because Qualtrics named it as the brand's, if it did.
    #[wasm_bindgen(getter, js_name = movedTo)]
    pub fn moved_to(&self) -> Option<String> {
        self.moved_to.clone()
    }

    /// Lists every user, page by page (paced and retried like every run), then reads the name
    /// of each division they are in that is not among `knownDivisions` (the `DV_…` ids whose
    /// names the host kept from an earlier listing); `onProgress` gets the run's progress.
    #[wasm_bindgen(js_name = listUsers, unchecked_return_type = "Promise<UsersListing>")]
    pub fn list_users(
        &self,
        #[wasm_bindgen(unchecked_param_type = "((progress: RunProgress) => void) | null")]
        on_progress: Option<Function>,
        #[wasm_bindgen(js_name = knownDivisions)] known_divisions: Option<Vec<String>>,
    ) -> Promise {
        let known = known_divisions.unwrap_or_default().into_iter().collect();
        let run = UsersRun::list_users_with_divisions(
            self.conn.clone(),
            known,
            ExecConfig::default(),
            false,
            now_ms(),
        );
        future_to_promise(async move {
            let run = drive_to_end(run, on_progress.as_ref()).await?;
            let listing = UsersListing::of(run.borrow().job());
            to_value(&listing)
        })
    }
}

impl RosterClient {
    fn on(conn: Connection) -> RosterClient {
        RosterClient {
            conn,
            actor: Rc::default(),
            connected: None,
            moved_to: None,
        }
    }
}

/// A table as CSV, safe to open in a spreadsheet.
#[wasm_bindgen(js_name = tableToCsv)]
pub fn table_to_csv(
    #[wasm_bindgen(unchecked_param_type = "Table")] table: JsValue,
) -> Result<String, JsValue> {
    Ok(table_from(table)?.to_csv())
}

/// How `columns` fit a `kind` sheet planned with `options` (issue 29.7): each field the kind
/// reads and the column recognised as it, the columns recognised as none, and whether the
/// page should ask the administrator to map them before planning (`rows`: the sheet's first
/// rows, which say whether an unrecognised column holds a missing field's values).
#[wasm_bindgen(js_name = columnFit, unchecked_return_type = "ColumnFit")]
pub fn column_fit(
    #[wasm_bindgen(unchecked_param_type = "SheetKind")] kind: JsValue,
    columns: Vec<String>,
    #[wasm_bindgen(unchecked_param_type = "string[][]")] rows: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Partial<SheetRequest> | null")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let kind = kind_from(kind)?;
    let rows: Vec<Vec<String>> = from_value(rows, "The first rows are rows of text cells")?;
    let request = from_options::<SheetRequest>(options)?;
    to_value(&crate::run::column_fit(kind, &columns, &rows, &request))
}

/// Why a mapping (field -> column) cannot be applied to `columns` as a `kind` sheet's, or
/// null when it can: two fields mapped to one column, a column read as a mapped field beside
/// the one mapped to it (the same check planning makes).
#[wasm_bindgen(js_name = checkMapping)]
pub fn check_mapping(
    #[wasm_bindgen(unchecked_param_type = "SheetKind")] kind: JsValue,
    columns: Vec<String>,
    #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] mapping: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Partial<SheetRequest> | null")] options: JsValue,
) -> Result<Option<String>, JsValue> {
    let kind = kind_from(kind)?;
    let mapping: std::collections::BTreeMap<String, String> =
        from_value(mapping, "A mapping is field names to column names")?;
    let request = from_options::<SheetRequest>(options)?;
    let table = Table {
        columns,
        ..Table::default()
    };
    Ok(crate::run::apply_mapping(kind, table, &mapping, &request)
        .err()
        .map(|e| e.to_string()))
}

/// The datacenter to ask first when none is typed (Qualtrics then names the brand's own).
#[wasm_bindgen(js_name = discoveryDatacenter)]
pub fn discovery_datacenter() -> String {
    users::DISCOVERY_DATACENTER.to_string()
}

/// Checks a datacenter id; returns it normalised, or throws a message saying what to type.
#[wasm_bindgen(js_name = checkDatacenter)]
pub fn check_datacenter(id: &str) -> Result<String, JsValue> {
    Datacenter::parse(id)
        .map(|d| d.as_str().to_string())
        .map_err(failing(ErrorCode::Connect))
}

/// The key under which a host keeps the journal of a table of `kind` (for a `Sheet`, its
/// `journalKey`): the same cells give the same key in every host and session.
#[wasm_bindgen(js_name = journalKey)]
pub fn journal_key(
    kind: &str,
    #[wasm_bindgen(unchecked_param_type = "Table")] table: JsValue,
) -> Result<String, JsValue> {
    Ok(crate::run::journal_key(kind, &table_from(table)?))
}

/// A cell value made safe to write into a sheet (formula injection): see `table::neutralise_formula`.
#[wasm_bindgen(js_name = safeCell)]
pub fn safe_cell(value: &str) -> String {
    crate::sheet::table::neutralise_formula(value).into_owned()
}

/// The template of a `kind` sheet: its columns and an example row or two.
#[wasm_bindgen(js_name = sheetTemplate, unchecked_return_type = "Table")]
pub fn sheet_template(
    #[wasm_bindgen(unchecked_param_type = "SheetKind")] kind: JsValue,
) -> Result<JsValue, JsValue> {
    to_value(&kind_from(kind)?.template())
}

/// The Roles sheet template (`Role | Attribute | Operator | Value`).
#[wasm_bindgen(js_name = rolesTemplate, unchecked_return_type = "Table")]
pub fn roles_template() -> Result<JsValue, JsValue> {
    to_value(&rules::role_template())
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A core value as a plain JavaScript object (maps as objects, as JSON would have them).
fn to_value<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(failing(ErrorCode::Input))
}

/// A JavaScript value as the core type its declaration names; `what` says what was expected
/// when it is not one.
fn from_value<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| fail(ErrorCode::Input, format!("{what}: {e}")))
}

/// A JavaScript value that may be null or undefined (then `None`), as the core type its
/// declaration names.
fn from_nullable<T: serde::de::DeserializeOwned>(
    value: JsValue,
    what: &str,
) -> Result<Option<T>, JsValue> {
    if value.is_undefined() || value.is_null() {
        Ok(None)
    } else {
        from_value(value, what).map(Some)
    }
}

/// Options given by JavaScript, or the defaults when it gave none.
fn from_options<T: serde::de::DeserializeOwned + Default>(options: JsValue) -> Result<T, JsValue> {
    Ok(from_nullable(options, "Bad options")?.unwrap_or_default())
}

/// The kind of sheet JavaScript names.
fn kind_from(kind: JsValue) -> Result<SheetKind, JsValue> {
    from_value(
        kind,
        "The kind of sheet is lifecycle, provision or membership",
    )
}

/// A table given by JavaScript as a plain object.
fn table_from(value: JsValue) -> Result<Table, JsValue> {
    from_value(value, "Not a table of text cells")
}
