//! The journal: one entry per finished row, so a run planned again after an interruption does
//! not repeat what was applied.

use serde::Serialize;

use crate::time::UnixMillis;

/// A finished row, for resuming an interrupted run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// The row's identity.
    pub key: String,
    /// What was applied (the step's fingerprint).
    pub applied: String,
    /// When the row finished (milliseconds since the epoch).
    #[cfg_attr(all(target_arch = "wasm32", feature = "js"), tsify(type = "number"))]
    pub at: UnixMillis,
}
