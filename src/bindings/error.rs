//! The one error JavaScript catches from the core: an `Error` named `RosterError` whose `code`
//! says which operation failed, so the page branches on the code, never on the message (which
//! is for people). Modelled on automerge-wasm's named errors.

use std::fmt::Display;

use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Which operation failed, as a `RosterError`'s `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, tsify::Tsify)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(not(feature = "sheets"), allow(dead_code))]
pub enum ErrorCode {
    /// A connection could not be set up (token, relay address or datacenter as typed).
    Connect,
    /// A file or pasted text could not be read as a sheet.
    Read,
    /// What JavaScript passed does not have the expected shape (options, a table, a kind).
    Input,
    /// Reading the brand failed, or Qualtrics refused the credential: there is no result.
    Brand,
    /// A pull's team filter is not understood.
    Filter,
    /// The apply was refused before anything was sent (not planned, applied already, the input
    /// changed, the sheet has errors).
    Refused,
    /// The apply needs the confirmation the mass-change brake asks for; nothing was sent.
    NeedsConfirmation,
    /// The run has no such table (an undo sheet of a run that is not a lifecycle run).
    NoSuchTable,
}

#[wasm_bindgen(typescript_custom_section)]
const ROSTER_ERROR: &'static str = r#"
/** What every function and method of the core throws (or rejects with). */
export interface RosterError extends Error {
    name: "RosterError";
    /** Which operation failed; the message says it in words. */
    code: ErrorCode;
}
"#;

/// A `RosterError` with `code` and `what`'s text as its message.
pub(super) fn fail(code: ErrorCode, what: impl Display) -> JsValue {
    let error = js_sys::Error::new(&what.to_string());
    error.set_name("RosterError");
    // A unit variant serialises to its name, and setting a property on a fresh object cannot
    // fail.
    let code = serde_wasm_bindgen::to_value(&code).unwrap_or_default();
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &code);
    error.into()
}

/// `fail` for `map_err`: `.map_err(failing(ErrorCode::Read))`.
pub(super) fn failing<E: Display>(code: ErrorCode) -> impl Fn(E) -> JsValue {
    move |e| fail(code, e)
}
