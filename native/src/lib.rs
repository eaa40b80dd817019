//! qualtrics-roster on a native host (the command line, the server's hooks, the benchmarks):
//! the core's one driver loop carried over HTTP on the wall clock ([`client`]), connecting
//! with a credential ([`session`]), sheets, journals and audit files on disk ([`files`]), and
//! every credential kept out of what is printed, logged or written ([`secrets`]). The core
//! decides; this crate reads, writes and carries its requests.

#![warn(missing_docs)]

pub mod client;
pub mod files;
pub mod secrets;
pub mod session;

/// Why a native host could not connect, read or write: each kind asks for a different remedy
/// (and the command line gives each its own exit code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bad input (a missing or unreadable file, bad flags or settings): nothing was sent.
    #[error("{0}")]
    Input(String),
    /// Missing or refused credentials.
    #[error("{0}")]
    Auth(String),
    /// Qualtrics unreachable or failing.
    #[error("{0}")]
    Unreachable(String),
}
