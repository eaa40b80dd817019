//! Reading the brand through the executor: a listing read to its end page by page
//! ([`ListingStep`]: users, groups, a group's members, the CX directory), and one record by id
//! ([`RecordStep`]: a division's name, a user's expiry, the user of a username). As executor steps they are paced with every other request of a run,
//! retried on 429 / 5xx / dropped connections, and recorded in its audit.

use crate::api::connection::Connection;
use crate::api::directory::{Participant, ParticipantListing};
use crate::api::groups::GroupSummary;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::users::{self, Listing, UserListing, UserSummary};
use crate::exec::{OutcomeStatus, Step, StepUpdate};
use crate::time::UnixMillis;

/// What a listing step has read so far.
#[derive(Debug, Clone)]
enum Reading {
    Users(UserListing, Vec<UserSummary>),
    Groups(Listing<GroupSummary>, Vec<GroupSummary>),
    Directory(ParticipantListing, Vec<Participant>),
    Members(Listing<UserSummary>, Vec<UserSummary>),
}

/// Everything a finished listing read.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// `GET /users`.
    Users(Vec<UserSummary>),
    /// `GET /groups`.
    Groups(Vec<GroupSummary>),
    /// The CX directory's participants, with metadata.
    Directory(Vec<Participant>),
    /// `GET /groups/{id}/members`: the group's id and its members.
    Members(String, Vec<UserSummary>),
}

/// An executor step that reads one listing to its end, one request per page.
#[derive(Debug, Clone)]
pub struct ListingStep {
    key: String,
    conn: Connection,
    reading: Reading,
    pages: usize,
    notice: Option<String>,
}

impl ListingStep {
    fn new(key: String, conn: &Connection, reading: Reading) -> ListingStep {
        ListingStep {
            key,
            conn: conn.clone(),
            reading,
            pages: 0,
            notice: None,
        }
    }

    /// Every user of the brand (`GET /users`, key `users`).
    #[must_use]
    pub fn users(conn: &Connection) -> ListingStep {
        Self::new(
            "users".into(),
            conn,
            Reading::Users(UserListing::users(conn), Vec::new()),
        )
    }

    /// Every group (`GET /groups`, key `groups`).
    #[must_use]
    pub fn groups(conn: &Connection) -> ListingStep {
        Self::new(
            "groups".into(),
            conn,
            Reading::Groups(Listing::starting_at(conn.url("groups")), Vec::new()),
        )
    }

    /// Every participant of the CX directory with metadata (key `directory`).
    #[must_use]
    pub fn directory(conn: &Connection) -> ListingStep {
        Self::new(
            "directory".into(),
            conn,
            Reading::Directory(ParticipantListing::default(), Vec::new()),
        )
    }

    /// One group's members (key `group:{id}`).
    #[must_use]
    pub fn members(conn: &Connection, group_id: &str) -> ListingStep {
        Self::new(
            format!("group:{group_id}"),
            conn,
            Reading::Members(
                Listing::starting_at(conn.url(&format!("groups/{group_id}/members"))),
                Vec::new(),
            ),
        )
    }

    /// Pages read.
    #[must_use]
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Elements read so far (for progress).
    #[must_use]
    pub fn items(&self) -> usize {
        match &self.reading {
            Reading::Users(_, f) | Reading::Members(_, f) => f.len(),
            Reading::Groups(_, f) => f.len(),
            Reading::Directory(_, f) => f.len(),
        }
    }

    /// The last `meta.notice` Qualtrics sent with a page ("Request proxied…"), in words.
    #[must_use]
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// What it read (complete only when the step finished `done`).
    #[must_use]
    pub fn into_found(self) -> Found {
        match self.reading {
            Reading::Users(_, f) => Found::Users(f),
            Reading::Groups(_, f) => Found::Groups(f),
            Reading::Directory(_, f) => Found::Directory(f),
            Reading::Members(_, f) => {
                Found::Members(self.key.trim_start_matches("group:").to_string(), f)
            }
        }
    }
}

impl Step for ListingStep {
    fn key(&self) -> &str {
        &self.key
    }

    fn request(&self, conn: &Connection) -> HttpRequest {
        let next = match &self.reading {
            Reading::Users(l, _) => l.next_request(conn),
            Reading::Groups(l, _) => l.next_request(conn),
            Reading::Directory(l, _) => l.next_request(conn),
            Reading::Members(l, _) => l.next_request(conn),
        };
        next.expect("a listing step asks for a page only while one is left")
    }

    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let conn = &self.conn;
        let mut notice = None;
        let more = match &mut self.reading {
            Reading::Users(l, found) | Reading::Members(l, found) => {
                l.on_response(conn, response).map(|p| {
                    notice = p.notice.map(|n| n.message());
                    found.extend(p.elements);
                    !p.last
                })
            }
            Reading::Groups(l, found) => l.on_response(conn, response).map(|p| {
                notice = p.notice.map(|n| n.message());
                found.extend(p.elements);
                !p.last
            }),
            Reading::Directory(l, found) => l.on_response(response).map(|p| {
                found.extend(p);
                l.next_request(conn).is_some()
            }),
        };
        if notice.is_some() {
            self.notice = notice;
        }
        match more {
            Ok(true) => {
                self.pages += 1;
                StepUpdate::Continue
            }
            Ok(false) => {
                self.pages += 1;
                StepUpdate::Finished {
                    status: OutcomeStatus::Done,
                    message: format!("{} pages read", self.pages),
                }
            }
            Err(e) => StepUpdate::Finished {
                status: OutcomeStatus::Failed,
                message: e.to_string(),
            },
        }
    }

    /// A listing changes nothing: no journal line.
    fn fingerprint(&self) -> String {
        String::new()
    }
}

/// One record read by [`RecordStep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A division's name (`GET /divisions/{id}`: there is no list of divisions, so a sheet's
    /// division names are matched against the divisions the brand's users are in).
    Division(String),
    /// A user's account expiry (`GET /users/{id}`: the listing does not carry it); `None`: the
    /// account does not expire.
    Expiry(Option<String>),
    /// A user's whole record (`GET /users/{id}`): the fields the listing does not carry
    /// (language, time zone, expiry), for a provisioning re-plan.
    User(Box<users::User>),
    /// The user of a username (`GET /users?username=`, an unverified filter), or `None`: the
    /// brand has no such user.
    Username(Option<Box<UserSummary>>),
    /// A group's record (`GET /groups/{id}`): whether its membership is automatic.
    Group(GroupSummary),
    /// The `username` filter was ignored (the answer listed other users): the lookup says
    /// nothing, and the users must be listed instead.
    Unfiltered,
}

/// Which record a [`RecordStep`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordKind {
    Division,
    User,
    UserRecord,
    UserByName,
    Group,
}

/// An executor step that reads one record by id: a division's name or a user's expiry.
#[derive(Debug, Clone)]
pub struct RecordStep {
    key: String,
    id: String,
    kind: RecordKind,
    /// What was read, once the step finished `done`.
    pub found: Option<Record>,
}

impl RecordStep {
    /// Reads division `id`'s name (key `division:{id}`).
    #[must_use]
    pub fn division(id: &str) -> RecordStep {
        Self::new(RecordKind::Division, "division", id)
    }

    /// Reads user `id`'s account expiry (key `user:{id}`).
    #[must_use]
    pub fn user(id: &str) -> RecordStep {
        Self::new(RecordKind::User, "user", id)
    }

    /// Reads user `id`'s whole record (key `account:{id}`).
    #[must_use]
    pub fn user_record(id: &str) -> RecordStep {
        Self::new(RecordKind::UserRecord, "account", id)
    }

    /// Looks up the user of `username` without listing the brand (key `username:{name}`;
    /// `GET /users?username=`, a filter only one client documents: an answer that ignored it
    /// reads as [`Record::Unfiltered`]).
    #[must_use]
    pub fn user_by_username(username: &str) -> RecordStep {
        Self::new(RecordKind::UserByName, "username", username)
    }

    /// Reads group `id`'s record, to know whether its membership is automatic (key
    /// `group-record:{id}`).
    #[must_use]
    pub fn group(id: &str) -> RecordStep {
        Self::new(RecordKind::Group, "group-record", id)
    }

    fn new(kind: RecordKind, prefix: &str, id: &str) -> RecordStep {
        RecordStep {
            key: format!("{prefix}:{id}"),
            id: id.to_string(),
            kind,
            found: None,
        }
    }

    /// The id read.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Step for RecordStep {
    fn key(&self) -> &str {
        &self.key
    }

    fn request(&self, conn: &Connection) -> HttpRequest {
        match self.kind {
            RecordKind::Division => users::get_division_request(conn, &self.id),
            RecordKind::User | RecordKind::UserRecord => users::get_user_request(conn, &self.id),
            RecordKind::UserByName => users::find_user_request(conn, &self.id),
            RecordKind::Group => crate::api::groups::get_group_request(conn, &self.id),
        }
    }

    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let read = match self.kind {
            RecordKind::Division => users::parse_division_name(response)
                .map(Record::Division)
                .map_err(|e| e.to_string()),
            RecordKind::User => users::parse_get_user(&self.id, response)
                .map(|u| Record::Expiry(u.summary.account_expiration_date))
                .map_err(|e| e.to_string()),
            RecordKind::UserRecord => users::parse_get_user(&self.id, response)
                .map(|u| Record::User(Box::new(u)))
                .map_err(|e| e.to_string()),
            RecordKind::UserByName => users::parse_find_user(&self.id, response)
                .map(|found| match found {
                    users::UserLookup::Found(u) => Record::Username(u),
                    users::UserLookup::Unfiltered => Record::Unfiltered,
                })
                .map_err(|e| e.to_string()),
            RecordKind::Group => crate::api::groups::parse_group(response)
                .map(Record::Group)
                .map_err(|e| e.to_string()),
        };
        match read {
            Ok(record) => {
                self.found = Some(record);
                StepUpdate::Finished {
                    status: OutcomeStatus::Done,
                    message: "read".into(),
                }
            }
            Err(message) => StepUpdate::Finished {
                status: OutcomeStatus::Failed,
                message,
            },
        }
    }

    /// A read changes nothing: no journal line.
    fn fingerprint(&self) -> String {
        String::new()
    }
}
