//! The Qualtrics API as values: requests built without I/O ([`http`], [`connection`]),
//! answers parsed from status, headers and bytes ([`envelope`], [`error`]), and each area's
//! requests and records ([`users`], [`directory`], [`groups`], [`oauth`]).

pub mod connection;
pub mod directory;
pub mod envelope;
pub mod error;
pub mod groups;
pub mod http;
pub mod oauth;
pub mod users;
