//! Reading one listing to its end: every user of the brand, or every participant of the CX
//! directory.

use std::collections::{BTreeMap, BTreeSet};

use super::step::{division_names, division_reads, failed_listing, listings};
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
    /// Division names to read after the users (`None`: none), less the ids the host knows.
    divisions: Option<DivisionNames>,
}

/// The divisions a users listing names (issue 29.2): Qualtrics lists users with a `DV_…` id
/// and has no endpoint that lists divisions, so each id not already known is read once with
/// `GET /divisions/{id}` after the listing.
#[derive(Debug, Default)]
struct DivisionNames {
    /// Ids whose names the host already keeps (read on an earlier listing): not read again.
    known: BTreeSet<String>,
    /// Whether the reads were started.
    started: bool,
    /// Names read, by id.
    read: BTreeMap<String, String>,
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

    /// Every user of the brand, then the name of each division they are in whose id is not in
    /// `known` (the ids a host has names for from an earlier listing). A division that cannot
    /// be read (a token without `read:divisions`, a division since deleted) is left unnamed:
    /// the listing itself still succeeds.
    pub fn users_with_divisions(known: BTreeSet<String>) -> Self {
        ListingJob {
            divisions: Some(DivisionNames {
                known,
                ..DivisionNames::default()
            }),
            ..Self::of(ListingStep::users)
        }
    }

    fn of(listing: fn(&Connection) -> ListingStep) -> Self {
        ListingJob {
            listing,
            started: false,
            found: None,
            pages: 0,
            notice: None,
            divisions: None,
        }
    }

    /// The division names read after the listing, by `DV_…` id (empty when none were asked
    /// for, all were known, or none could be read).
    #[must_use]
    pub fn division_names(&self) -> BTreeMap<String, String> {
        self.divisions
            .as_ref()
            .map(|d| d.read.clone())
            .unwrap_or_default()
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
        if let Some(divisions) = self.divisions.as_mut().filter(|d| d.started) {
            // A division that cannot be read is left unnamed (see `users_with_divisions`).
            divisions.read.extend(division_names(finished));
            return Next::Done;
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
        let Some(divisions) = self.divisions.as_mut() else {
            return Next::Done;
        };
        let users = match &self.found {
            Some(Found::Users(users)) => users.as_slice(),
            _ => &[],
        };
        let steps = division_reads(users, &divisions.known);
        if steps.is_empty() {
            return Next::Done;
        }
        divisions.started = true;
        Next::Reading("divisions", steps)
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

    /// A run that lists every user over `conn`, then reads the names of their divisions
    /// whose ids are not in `known` (see [`ListingJob::users_with_divisions`]).
    #[must_use]
    pub fn list_users_with_divisions(
        conn: Connection,
        known: BTreeSet<String>,
        config: ExecConfig,
        renewable: bool,
        now: UnixMillis,
    ) -> Self {
        Self::new(
            conn,
            ListingJob::users_with_divisions(known),
            config,
            renewable,
            now,
        )
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
