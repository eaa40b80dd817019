//! The WASM module the page and the Excel task pane load before they are usable: the core's
//! bindings for connecting (whoami, the brand's own datacenter), listing users, the sheet
//! templates and writing CSV, and nothing else. Everything else (reading files, planning and
//! applying sheets, pulling membership) is in the full core module, which a host loads on first
//! use (`www/run.js`, `sheetsCore`); the workbook module is a third, loaded the same way.
//!
//! This crate only links the core built without its `sheets` feature: the bindings it exports
//! are the core's own (`qualtrics_roster::bindings`), so both modules answer with the same types
//! and the same `RosterError`.

#[cfg(target_arch = "wasm32")]
pub use qualtrics_roster::bindings::*;
