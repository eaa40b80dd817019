//! qualtrics-roster core: everything between a sheet and the Qualtrics API, with no I/O.
//!
//! Requests are values ([`http::HttpRequest`]), responses are parsed from status + headers +
//! bytes ([`envelope`]), and paging is a small state machine ([`users::UserListing`]) that a
//! host drives with whatever transport it has (fetch in the browser, reqwest natively, a test's
//! canned answers). The WASM bindings live in `wasm` and only convert types.

#![warn(missing_docs)]

pub mod columns;
pub mod connection;
pub mod directory;
pub mod envelope;
pub mod error;
pub mod exec;
pub mod http;
pub mod lifecycle;
pub mod membership;
pub mod oauth;
pub mod provision;
pub mod reads;
pub mod reference;
pub mod rules;
pub mod run;
pub mod sheetfile;
pub mod table;
pub mod time;
pub mod users;

/// The wasm-bindgen bindings (only in the wasm32 build, and only with the `js` feature: the
/// workbook module links the core without them).
#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub mod wasm;

pub use connection::{Auth, Connection, Datacenter};
pub use error::ApiError;
pub use http::{HttpRequest, HttpResponse, Method};
pub use table::Table;
