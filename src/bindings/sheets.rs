//! The planning surface (the `sheets` feature: the full core module a host loads on first use;
//! the console module leaves it out): plan a sheet, pull membership, the benchmark's check.

use js_sys::{JsString, Promise};
use tsify::Ts;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::driver::{connect, drive_to_end};
use super::error::{fail, failing, ErrorCode};
use super::run::JsSheetRun;
use super::sheet::{self, Sheet};
use super::{from_options, from_value, kind_from, now_ms, to_value, OnProgress, RosterClient};
use crate::exec::ExecConfig;
use crate::membership::rules::{self, RoleSheet};
use crate::membership::PullRequest;
use crate::policy::Actor;
use crate::run::{
    check_provision, Brand, ConnectJob, PullJob, PullRun, SheetKind, SheetRequest, SheetRun,
};
use crate::sheet::table::Table;
use crate::time::Date;

#[wasm_bindgen]
impl RosterClient {
    /// Reads the brand and plans `table` (a `Sheet`, which planning takes over, or a plain
    /// table) as a `kind` sheet; `roles`: the Roles sheet of a membership sheet.
    #[wasm_bindgen(js_name = planSheet, unchecked_return_type = "Promise<SheetRun>")]
    pub fn plan_sheet(
        &self,
        kind: Ts<SheetKind>,
        #[wasm_bindgen(unchecked_param_type = "Sheet | Table")] table: JsValue,
        options: Option<Ts<SheetRequest>>,
        roles: Option<Ts<Table>>,
        on_progress: Option<OnProgress>,
    ) -> Result<Promise, JsValue> {
        let (kind, mut request) = (kind_from(&kind)?, from_options::<SheetRequest>(options)?);
        let (table, roles) = (read_table(table)?, read_roles(roles)?);
        let table = request
            .for_person(kind, table)
            .map_err(failing(ErrorCode::Input))?;
        let (conn, cached) = (self.conn.clone(), self.actor.clone());
        Ok(future_to_promise(async move {
            // Every plan is judged against the credential's own account: whoami, once.
            let known = cached.borrow().clone();
            let actor = match known {
                Some(actor) => actor,
                None => {
                    let (_, connected, _) =
                        connect(ConnectJob::whoami_on(conn.clone()), None).await?;
                    cached
                        .borrow_mut()
                        .insert(Actor::from_whoami(&connected.who))
                        .clone()
                }
            };
            let brand = Brand::online(conn, false, actor);
            let config = ExecConfig::default();
            let run = SheetRun::start(kind, table, request, roles, brand, config, now_ms());
            let run = drive_to_end(run, on_progress.as_deref()).await?;
            Ok(JsSheetRun { run }.into())
        }))
    }

    /// Pulls who is in which group and role; `roles`: the Roles sheet, or null for groups only.
    #[wasm_bindgen(js_name = pullMembership, unchecked_return_type = "Promise<Pulled>")]
    pub fn pull_membership(
        &self,
        roles: Option<Ts<Table>>,
        options: Option<Ts<PullRequest>>,
        on_progress: Option<OnProgress>,
    ) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let (request, roles) = (from_options::<PullRequest>(options)?, read_roles(roles)?);
            let run = PullRun::new(conn, PullJob::new(), ExecConfig::default(), false, now_ms());
            let run = drive_to_end(run, on_progress.as_deref()).await?;
            let pulled = run.borrow().job().pulled(&roles, &request);
            let pulled =
                pulled.ok_or_else(|| fail(ErrorCode::Brand, "The pull did not finish."))?;
            to_value(&pulled.map_err(failing(ErrorCode::Filter))?)
        })
    }
}

/// The roles a user with `metadata` (a pull's `metadata` entry) would gain and lose if each
/// `[role, member]` change were made through the rules of `roles` (the Roles sheet), comparing
/// values as the pull `options` did (its `caseInsensitive`).
#[wasm_bindgen(js_name = rolesAfter, unchecked_return_type = "RolesAfter")]
pub fn roles_after(
    roles: Ts<Table>,
    #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] metadata: JsValue,
    #[wasm_bindgen(unchecked_param_type = "[string, boolean][]")] changes: JsValue,
    options: Option<Ts<PullRequest>>,
) -> Result<JsValue, JsValue> {
    let roles = read_roles(Some(roles))?;
    let metadata: rules::Metadata = from_value(metadata, "The user's attributes are text")?;
    let changes: Vec<(String, bool)> = from_value(changes, "The changes are [role, member] pairs")?;
    let matching = from_options::<PullRequest>(options)?.matching();
    to_value(&roles.roles_after(&metadata, &changes, matching))
}

/// Reads CSV text and checks it as a provisioning sheet against no brand, in one call: the
/// validation benchmark's plan alone, without a run around it.
#[wasm_bindgen(js_name = checkProvisionCsv, unchecked_return_type = "CheckedCsv")]
pub fn check_provision_csv(text: &JsString) -> Result<JsValue, JsValue> {
    let table = Table::from_csv(&sheet::text_from_js(text)).map_err(failing(ErrorCode::Read))?;
    to_value(&check_provision(&table, Date::from_unix_millis(now_ms())))
}

/// A table given by JavaScript: a [`Sheet`] (which JavaScript then gives up, so a big file is
/// never copied) or a plain table.
fn read_table(table: JsValue) -> Result<Table, JsValue> {
    use wasm_bindgen::convert::TryFromJsValue;
    match Sheet::try_from_js_value_ref(&table) {
        Some(sheet) => Ok(sheet.read.table),
        None => from_value(table, "Not a table of text cells"),
    }
}

/// The Roles sheet given by JavaScript (a table, or a `Sheet`), or none.
fn read_roles(roles: Option<Ts<Table>>) -> Result<RoleSheet, JsValue> {
    let table = roles.map(|t| read_table(t.into())).transpose()?;
    Ok(table
        .map(|t| rules::read_role_sheet(&t))
        .unwrap_or_default())
}
