//! wasm-bindgen bindings: JS names around the core, nothing else. [`RosterClient`] (a
//! connection), [`Sheet`] (a file kept in WASM memory), [`run::JsSheetRun`] (a plan, its apply,
//! its outcomes); `driver.rs` carries a run's requests with fetch and timers. Every value that
//! crosses is a core type declared by tsify; every failure a `RosterError` with a `code`.

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
#[cfg(feature = "sheets")]
pub use sheets::roles_after;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::{de::DeserializeOwned, Serialize};
use tsify::{Ts, Tsify};
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
        let conn = Connection::via_relay(relay_url, datacenter, auth);
        Ok(RosterClient::on(conn.map_err(failing(ErrorCode::Connect))?))
    }

    /// Calls an API base URL directly (the sandbox, or Qualtrics where CORS allows it).
    pub fn direct(base_url: &str, token: &str) -> Result<RosterClient, JsValue> {
        let auth = Auth::api_token(token).map_err(failing(ErrorCode::Connect))?;
        let conn = Connection::direct(base_url, auth);
        Ok(RosterClient::on(conn.map_err(failing(ErrorCode::Connect))?))
    }

    /// Connects along `spec` (whoami, following the datacenter Qualtrics names). Rejects with
    /// code `connect` (address or token as typed) or `brand` (Qualtrics refused or unreachable).
    #[wasm_bindgen(unchecked_return_type = "Promise<RosterClient>")]
    pub fn connect(spec: Ts<ConnectSpec>, on_progress: Option<OnProgress>) -> Promise {
        future_to_promise(async move {
            let spec: ConnectSpec = from_value(spec.into(), "Bad connection settings")?;
            // The token and the address are checked before anything is sent.
            let job = spec.job().map_err(failing(ErrorCode::Connect))?;
            let (conn, connected, moved_to) = connect(job, on_progress.as_deref()).await?;
            let actor = Some(Actor::from_whoami(&connected.who));
            Ok(RosterClient {
                conn,
                actor: Rc::new(RefCell::new(actor)),
                connected: Some(connected),
                moved_to,
            }
            .into())
        })
    }

    /// Who the token belongs to (null for a client made by `viaRelay` or `direct`).
    #[wasm_bindgen(getter, unchecked_return_type = "Connected | null")]
    pub fn connected(&self) -> Result<JsValue, JsValue> {
        to_value(&self.connected)
    }

    /// The datacenter `connect` moved to because Qualtrics named it as the brand's, if it did.
    #[wasm_bindgen(getter, js_name = movedTo)]
    pub fn moved_to(&self) -> Option<String> {
        self.moved_to.clone()
    }

    /// Lists every user, then reads the names of their divisions not among `knownDivisions`
    /// (`DV_…` ids whose names the host kept from an earlier listing).
    #[wasm_bindgen(js_name = listUsers, unchecked_return_type = "Promise<UsersListing>")]
    pub fn list_users(
        &self,
        on_progress: Option<OnProgress>,
        #[wasm_bindgen(js_name = knownDivisions)] known_divisions: Option<Vec<String>>,
    ) -> Promise {
        let known = known_divisions.unwrap_or_default().into_iter().collect();
        let config = ExecConfig::default();
        let run =
            UsersRun::list_users_with_divisions(self.conn.clone(), known, config, false, now_ms());
        future_to_promise(async move {
            let run = drive_to_end(run, on_progress.as_deref()).await?;
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

#[wasm_bindgen]
extern "C" {
    /// A run's progress callback: each event, as the run makes it.
    #[wasm_bindgen(extends = Function, typescript_type = "((progress: RunProgress) => void)")]
    pub type OnProgress;
}

/// A table as CSV, safe to open in a spreadsheet.
#[wasm_bindgen(js_name = tableToCsv)]
pub fn table_to_csv(table: Ts<Table>) -> Result<String, JsValue> {
    Ok(table_from(&table)?.to_csv())
}

/// How `columns` fit a `kind` sheet planned with `options` (issue 29.7): the column recognised
/// as each field, and whether to ask for a mapping (`rows`: the sheet's first rows).
#[wasm_bindgen(js_name = columnFit, unchecked_return_type = "ColumnFit")]
pub fn column_fit(
    kind: Ts<SheetKind>,
    columns: Vec<String>,
    #[wasm_bindgen(unchecked_param_type = "string[][]")] rows: JsValue,
    options: Option<Ts<SheetRequest>>,
) -> Result<JsValue, JsValue> {
    let rows: Vec<Vec<String>> = from_value(rows, "The first rows are rows of text cells")?;
    let (kind, request) = (kind_from(&kind)?, from_options(options)?);
    to_value(&crate::run::column_fit(kind, &columns, &rows, &request))
}

/// Why a mapping (field -> column) cannot be applied to `columns` as a `kind` sheet's (the
/// check planning makes), or null when it can.
#[wasm_bindgen(js_name = checkMapping)]
pub fn check_mapping(
    kind: Ts<SheetKind>,
    columns: Vec<String>,
    #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] mapping: JsValue,
    options: Option<Ts<SheetRequest>>,
) -> Result<Option<String>, JsValue> {
    let mut request: SheetRequest = from_options(options)?;
    request.column_map = from_value(mapping, "A mapping is field names to column names")?;
    let table = Table {
        columns,
        ..Table::default()
    };
    let mapped = request.mapped(kind_from(&kind)?, table);
    Ok(mapped.err().map(|e| e.to_string()))
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
pub fn journal_key(kind: &str, table: Ts<Table>) -> Result<String, JsValue> {
    Ok(crate::run::journal_key(kind, &table_from(&table)?))
}

/// A cell value made safe to write into a sheet (formula injection): see `table::neutralise_formula`.
#[wasm_bindgen(js_name = safeCell)]
pub fn safe_cell(value: &str) -> String {
    crate::sheet::table::neutralise_formula(value).into_owned()
}

/// The template of a `kind` sheet: its columns and an example row or two.
#[wasm_bindgen(js_name = sheetTemplate, unchecked_return_type = "Table")]
pub fn sheet_template(kind: Ts<SheetKind>) -> Result<JsValue, JsValue> {
    to_value(&kind_from(&kind)?.template())
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
fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(failing(ErrorCode::Input))
}

/// A JavaScript value as the core type `T`; `what` says what was expected when it is not one.
fn from_value<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| fail(ErrorCode::Input, format!("{what}: {e}")))
}

/// Options given by JavaScript, or the defaults when it gave none.
fn from_options<T: Tsify + DeserializeOwned + Default>(
    options: Option<Ts<T>>,
) -> Result<T, JsValue> {
    options.map_or(Ok(T::default()), |o| from_value(o.into(), "Bad options"))
}

/// The kind of sheet JavaScript names.
fn kind_from(kind: &Ts<SheetKind>) -> Result<SheetKind, JsValue> {
    let what = "The kind of sheet is lifecycle, provision or membership";
    from_value(kind.js_value(), what)
}

/// A table given by JavaScript as a plain object.
fn table_from(table: &Ts<Table>) -> Result<Table, JsValue> {
    from_value(table.js_value(), "Not a table of text cells")
}
