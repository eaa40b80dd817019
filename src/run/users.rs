//! Reading one listing to its end: every user of the brand, or every participant of the CX
//! directory.

use super::step::{failed_listing, listings};
use super::{Next, PhaseContext, Phases, RunStep};
use crate::api::connection::Connection;
use crate::api::directory::Participant;
use crate::api::users::UserSummary;
use crate::exec::reads::{Found, ListingStep};
use crate::exec::{ExecConfig, Outcome, Step};
use crate::time::UnixMillis;

/// The phases of a listing run: one listing, page by page.
#[derive(Debug)]
pub struct ListingJob {
    listing: fn(&Connection) -> ListingStep,
    started: bool,
    found: Option<Found>,
    pages: usize,
    notice: Option<String>,
}

impl ListingJob {
    /// Every user of the brand.
    pub fn users() -> Self {
        Self::of(ListingStep::users)
    }

    /// Every participant of the CX directory, with metadata.
    pub fn directory() -> Self {
        Self::of(ListingStep::directory)
    }

    fn of(listing: fn(&Connection) -> ListingStep) -> Self {
        ListingJob {
            listing,
            started: false,
            found: None,
            pages: 0,
            notice: None,
        }
    }

    /// The users read (empty for a directory listing, or before the run finished).
    #[must_use]
    pub fn users_read(&self) -> &[UserSummary] {
        match &self.found {
            Some(Found::Users(u)) => u,
            _ => &[],
        }
    }

    /// The participants read (empty for a users listing, or before the run finished).
    #[must_use]
    pub fn participants_read(&self) -> &[Participant] {
        match &self.found {
            Some(Found::Directory(p)) => p,
            _ => &[],
        }
    }

    /// Pages read.
    #[must_use]
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The last notice Qualtrics sent ("Request proxied…"), in words.
    #[must_use]
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
}

impl Phases for ListingJob {
    const KIND: &'static str = "users";

    fn next(&mut self, finished: Vec<(RunStep, Outcome)>, ctx: &PhaseContext<'_>) -> Next {
        if !std::mem::replace(&mut self.started, true) {
            let step = (self.listing)(ctx.conn);
            let phase = if step.key() == "directory" {
                "directory"
            } else {
                "users"
            };
            return Next::Reading(phase, vec![RunStep::Listing(step)]);
        }
        let finished = listings(finished);
        if let Some(failed) = failed_listing(&finished) {
            return Next::Failed(failed);
        }
        for (step, _) in finished {
            self.pages = step.pages();
            self.notice = step.notice().map(str::to_string);
            self.found = Some(step.into_found());
        }
        Next::Done
    }
}

impl super::UsersRun {
    /// A run that lists every user over `conn`.
    #[must_use]
    pub fn list_users(
        conn: Connection,
        config: ExecConfig,
        renewable: bool,
        now: UnixMillis,
    ) -> Self {
        Self::new(conn, ListingJob::users(), config, renewable, now)
    }

    /// A run that lists every participant of the CX directory over `conn`.
    #[must_use]
    pub fn list_directory(
        conn: Connection,
        config: ExecConfig,
        renewable: bool,
        now: UnixMillis,
    ) -> Self {
        Self::new(conn, ListingJob::directory(), config, renewable, now)
    }
}
