//! The planning surface of the bindings (the `sheets` feature: the full core module, which a
//! host loads on first use; the console module the page and pane start with leaves it out):
//! plan a sheet, pull membership, and the validation benchmark's one-call check.

use js_sys::{Function, JsString, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::driver::{connect, drive_to_end};
use super::error::{fail, failing, ErrorCode};
use super::run::JsSheetRun;
use super::sheet::{self, Sheet};
use super::{from_options, from_value, kind_from, now_ms, table_from, to_value, RosterClient};
use crate::exec::ExecConfig;
use crate::membership::rules::{self, RoleSheet};
use crate::membership::PullRequest;
use crate::policy::{Actor, Guard, Policy};
use crate::run::{check_provision, Brand, ConnectJob, PullJob, PullRun, SheetRequest, SheetRun};
use crate::sheet::table::Table;
use crate::time::Date;

#[wasm_bindgen]
impl RosterClient {
    /// Reads the brand and plans `table` (a `Sheet`, which planning takes over, or a plain
    /// table) as a `kind` sheet with `options` (each kind reads its own); `roles`: the Roles
    /// sheet for a membership sheet, or null. Resolves to a `SheetRun`.
    #[wasm_bindgen(js_name = planSheet, unchecked_return_type = "Promise<SheetRun>")]
    pub fn plan_sheet(
        &self,
        #[wasm_bindgen(unchecked_param_type = "SheetKind")] kind: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Sheet | Table")] table: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Partial<SheetRequest> | null")] options: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Table | null")] roles: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((progress: RunProgress) => void) | null")]
        on_progress: Option<Function>,
    ) -> Result<Promise, JsValue> {
        let kind = kind_from(kind)?;
        let (table, mut request, roles) = (
            read_table(table)?,
            from_options::<SheetRequest>(options)?,
            read_roles(roles)?,
        );
        // The columns the administrator mapped are renamed to their fields before planning.
        let table = request
            .mapped(kind, table)
            .map_err(failing(ErrorCode::Input))?;
        // A person reads this plan before it is applied: the attributes are planned with the
        // accounts, never after the creates as an unattended hook's are.
        request.unattended = false;
        let (conn, cached) = (self.conn.clone(), self.actor.clone());
        Ok(future_to_promise(async move {
            // Every plan is judged against the credential's own account: ask whoami once
            // (the core's connect run along this connection, retried as every request is).
            let known = cached.borrow().clone();
            let actor = match known {
                Some(a) => a,
                None => {
                    let job = ConnectJob::whoami_on(conn.clone());
                    let (_, connected, _) = connect(job, None).await?;
                    let actor = Actor::from_whoami(&connected.who);
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
            let run = drive_to_end(run, on_progress.as_ref()).await?;
            Ok(JsSheetRun { run }.into())
        }))
    }

    /// Pulls who is in which group and role. `roles` is the Roles sheet (or null for groups
    /// only); `onProgress` as in `listUsers`.
    #[wasm_bindgen(js_name = pullMembership, unchecked_return_type = "Promise<Pulled>")]
    pub fn pull_membership(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Table | null")] roles: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Partial<PullRequest> | null")] options: JsValue,
        #[wasm_bindgen(unchecked_param_type = "((progress: RunProgress) => void) | null")]
        on_progress: Option<Function>,
    ) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let (request, roles) = (from_options::<PullRequest>(options)?, read_roles(roles)?);
            let run = PullRun::new(conn, PullJob::new(), ExecConfig::default(), false, now_ms());
            let run = drive_to_end(run, on_progress.as_ref()).await?;
            let pulled = run.borrow().job().pulled(&roles, &request);
            let pulled =
                pulled.ok_or_else(|| fail(ErrorCode::Brand, "The pull did not finish."))?;
            to_value(&pulled.map_err(failing(ErrorCode::Filter))?)
        })
    }
}

/// The roles a user with `metadata` (a pull's `metadata` entry) would gain and lose if each
/// `[role, member]` change were made through the rules of `roles` (the Roles sheet): what the
/// Groups and roles view shows beside a pending change.
#[wasm_bindgen(js_name = rolesAfter, unchecked_return_type = "RolesAfter")]
pub fn roles_after(
    #[wasm_bindgen(unchecked_param_type = "Table")] roles: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Record<string, string>")] metadata: JsValue,
    #[wasm_bindgen(unchecked_param_type = "[string, boolean][]")] changes: JsValue,
) -> Result<JsValue, JsValue> {
    let roles = read_roles(roles)?;
    let metadata: rules::Metadata = from_value(metadata, "The user's attributes are text")?;
    let changes: Vec<(String, bool)> = from_value(changes, "The changes are [role, member] pairs")?;
    to_value(&roles.roles_after(&metadata, &changes, rules::MatchOptions::default()))
}

/// Reads CSV text and checks it as a provisioning sheet against no brand, in one call (no
/// table crosses into JavaScript). For the validation benchmark: the plan alone, without a run
/// around it (no input fingerprint, no executor).
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
        None => table_from(table),
    }
}

/// The Roles sheet given by JavaScript (a table), or none.
fn read_roles(roles: JsValue) -> Result<RoleSheet, JsValue> {
    if roles.is_undefined() || roles.is_null() {
        return Ok(RoleSheet::default());
    }
    Ok(rules::read_role_sheet(&read_table(roles)?))
}
