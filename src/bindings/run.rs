//! A planned sheet run as JavaScript holds it: its plan, its apply, its outcomes and audit.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use tsify::Ts;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::driver::drive;
use super::error::{fail, failing, ErrorCode};
use super::{from_options, from_value, now_ms, to_value, OnProgress};
use crate::exec::{audit_jsonl, audit_table};
use crate::policy::{Approval, ApprovalRequest};
use crate::run::{ApplyRefused, InputFingerprint, Run, SheetRun, TableView};

/// A planned sheet of any kind: shows its plan, applies exactly that plan, reports outcomes.
#[wasm_bindgen(js_name = SheetRun)]
pub struct JsSheetRun {
    pub(super) run: Rc<RefCell<SheetRun>>,
}

#[wasm_bindgen(js_class = SheetRun)]
impl JsSheetRun {
    /// The plan; with `previewRows`, its table cut to its first rows (`table.totalRows` gives
    /// them all), at most 50 problems, and the problem rows among those shown.
    #[wasm_bindgen(unchecked_return_type = "PlanView")]
    pub fn plan(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        to_value(&self.run.borrow().view(preview_rows.map(|n| n as usize)))
    }

    /// What the plan was made from: pass it back to `apply` to say the input is unchanged.
    #[wasm_bindgen(unchecked_return_type = "InputFingerprint")]
    pub fn input(&self) -> Result<JsValue, JsValue> {
        to_value(self.run.borrow().input())
    }

    /// Sends exactly the planned changes; `onProgress`'s `journal` has the rows finished (keep
    /// them to resume). Refused, nothing sent, with code `refused` when `current` (the input
    /// now) differs from the plan's, or `needs-confirmation` when `approval` lacks what
    /// `plan().blast.brake` asks for.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn apply(
        &self,
        on_progress: Option<OnProgress>,
        current: Option<Ts<InputFingerprint>>,
        approval: Option<Ts<ApprovalRequest>>,
    ) -> Promise {
        let run = self.run.clone();
        future_to_promise(async move {
            let approval = Approval::from(from_options(approval)?);
            let current: Option<InputFingerprint> = current
                .map(|c| from_value(c.into(), "Bad input fingerprint"))
                .transpose()?;
            let applied = run
                .borrow_mut()
                .apply(current.as_ref(), &approval, now_ms());
            applied.map_err(|refused| match refused {
                ApplyRefused::NeedsConfirmation(_) => fail(ErrorCode::NeedsConfirmation, refused),
                _ => fail(ErrorCode::Refused, refused),
            })?;
            drive(&run, on_progress.as_deref()).await?;
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

    /// Each row's outcome, values in `outcomeColumns()` order.
    #[wasm_bindgen(js_name = outcomeRows, unchecked_return_type = "OutcomeCells[]")]
    pub fn outcome_rows(&self) -> Result<JsValue, JsValue> {
        to_value(&self.run.borrow().outcome_cells())
    }

    /// The input with the outcome columns beside it (the first `previewRows` rows, if given).
    #[wasm_bindgen(js_name = outcomeTable, unchecked_return_type = "TableView")]
    pub fn outcome_table(&self, preview_rows: Option<u32>) -> Result<JsValue, JsValue> {
        let table = self.run.borrow().outcome_table();
        to_value(&TableView::new(table, preview_rows.map(|n| n as usize)))
    }

    /// The accounts the run changed, as they were before (lifecycle): apply it to undo.
    #[wasm_bindgen(js_name = beforeTable, unchecked_return_type = "Table")]
    pub fn before_table(&self) -> Result<JsValue, JsValue> {
        let table = self.run.borrow().before_table();
        to_value(&table.map_err(failing(ErrorCode::NoSuchTable))?)
    }

    /// Every request the run sent (listings and polls included), as an "Audit" sheet.
    #[wasm_bindgen(js_name = auditTable, unchecked_return_type = "Table")]
    pub fn audit_table(&self) -> Result<JsValue, JsValue> {
        to_value(&audit_table(self.run.borrow().audit()))
    }

    /// Every request the run sent, as JSON Lines (no token or password in it).
    #[wasm_bindgen(js_name = auditJsonl)]
    pub fn audit_jsonl(&self) -> String {
        audit_jsonl(self.run.borrow().audit())
    }
}
