//! qualtrics-roster core: everything between a sheet and the Qualtrics API, with no I/O.
//!
//! The folders follow the data flow. [`sheet`] reads a table of cells; each job kind
//! ([`lifecycle`], [`provision`], [`membership`]) checks the rows and plans them against the
//! brand's current state, and makes the steps that apply the plan; [`run`] owns a job from
//! reading the brand to the last row's outcome, phase by phase, over one [`exec::Executor`]
//! (pacing, retries, journal, audit); [`api`] builds every request as a value and parses every
//! answer from status + headers + bytes. A host drives a run with its transport (fetch in the
//! browser, ureq natively, an in-process brand on a virtual clock) through
//! [`run::Run::poll`] and [`run::Run::handle`]; the WASM bindings live in `bindings`.

#![warn(missing_docs)]

// The flow, in folders: sheet -> (kind: checks, plan, steps, outcomes) -> policy -> run -> exec
// -> api.
pub mod api;
pub mod exec;
pub mod lifecycle;
pub mod membership;
pub mod policy;
pub mod provision;
pub mod run;
pub mod sheet;
pub mod time;

/// The wasm-bindgen bindings and the browser driver (only in the wasm32 build, and only with
/// the `js` feature: the workbook module links the core without them).
#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub mod bindings;

// The types every host uses, at the top (the modules keep their one path, by folder).

pub use api::connection::{Auth, Connection, Datacenter};
pub use api::error::ApiError;
pub use api::http::{HttpRequest, HttpResponse, Method};
pub use sheet::table::Table;
