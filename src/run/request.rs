//! What a host asks of a sheet: its kind and options, the one description from which the page,
//! the task pane and the CLI all start a sheet run (so they plan the same sheet the same way).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LifecycleJob, MembershipJob, PhasedRun, ProvisionJob, SheetRun};
use crate::api::connection::Connection;
use crate::exec::{ExecConfig, JournalEntry};
use crate::lifecycle::{Action, LifecycleOptions};
use crate::membership::rules::{MatchOptions, RoleSheet};
use crate::policy::{Actor, Guard, Policy};
use crate::provision::{ProvisionOptions, Route};
use crate::sheet::table::Table;
use crate::time::{Date, UnixMillis};

/// The three kinds of sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "lowercase")]
pub enum SheetKind {
    /// Disable, re-enable, set expiry dates.
    Lifecycle,
    /// Create users and set their attributes.
    Provision,
    /// Group and role membership wanted.
    Membership,
}

/// Why the columns of a sheet do not say which kind it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The columns of this sheet fit more than one kind ({0}): say which with --kind lifecycle or --kind provision. Nothing was sent.")]
pub struct AmbiguousKind(pub String);

impl SheetKind {
    /// The template of this kind of sheet: its columns and an example row or two, as every
    /// host offers it.
    #[must_use]
    pub fn template(self) -> Table {
        match self {
            SheetKind::Lifecycle => crate::lifecycle::template(),
            SheetKind::Provision => crate::provision::template(),
            SheetKind::Membership => crate::membership::template(),
        }
    }

    /// The kind a sheet's columns say, as every host reads them. An `Action` column with a way
    /// to name accounts (`User ID` or `Username`) is a lifecycle sheet even beside a users
    /// listing's other columns (an edited export is the most common input there is); columns
    /// only a new account needs (`Password`, `uniqueIdentifier`) or user fields without an
    /// Action make a provisioning sheet; `Group or role` / `Member` a membership sheet. Both
    /// an Action and a password is ambiguous: refused, so that nothing is guessed.
    ///
    /// # Errors
    /// [`AmbiguousKind`], naming the columns that pull each way.
    pub fn detect(columns: &[String]) -> Result<SheetKind, AmbiguousKind> {
        let names: Vec<String> = columns
            .iter()
            .map(|c| crate::sheet::columns::normalise_header(c))
            .collect();
        let has = |n: &str| names.iter().any(|c| c == n);
        if has("grouporrole") || (has("member") && (has("group") || has("role"))) {
            return Ok(SheetKind::Membership);
        }
        let names_accounts = ["userid", "username", "login", "loginname"]
            .iter()
            .any(|n| has(n));
        let creating: Vec<&str> = ["password", "uniqueidentifier"]
            .into_iter()
            .filter(|n| has(n))
            .collect();
        if has("action") && names_accounts {
            return if creating.is_empty() {
                Ok(SheetKind::Lifecycle)
            } else {
                Err(AmbiguousKind(format!(
                    "an Action column, as a lifecycle sheet has, and {}, as a provisioning sheet has",
                    creating.join(", ")
                )))
            };
        }
        let user_fields = ["firstname", "lastname", "email", "usertype"]
            .iter()
            .any(|n| has(n));
        if user_fields || !creating.is_empty() {
            Ok(SheetKind::Provision)
        } else {
            Ok(SheetKind::Lifecycle)
        }
    }
}

/// The options of a sheet run, as hosts give them (JSON from JavaScript, flags in the CLI);
/// each kind reads its own and ignores the others. Blank means the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", default)]
pub struct SheetRequest {
    /// Lifecycle: the action of rows without one (`disable`, `enable`; blank: none, such rows
    /// are refused).
    pub default_action: String,
    /// Provisioning: `account` (`POST /users`, then attributes; the default) or `directory`
    /// (a directory import with the sheet's own uniqueIdentifier).
    pub route: String,
    /// Provisioning: user type names the sheet may use, name -> `UT_…` id.
    pub user_types: BTreeMap<String, String>,
    /// Provisioning: participants per import job (0: the core's default).
    pub job_size: usize,
    /// Provisioning: attributes the run may create (no one in the brand has them yet).
    pub new_attributes: Vec<String>,
    /// Membership: compare rule values ignoring case.
    pub case_insensitive: bool,
    /// The journal of an interrupted run of the same sheet: its rows plan as done.
    pub journal: Vec<JournalEntry>,
    /// Provisioning: how many pages the brand's listings took when last read (from
    /// [`SheetRun::listing_sizes`] of an earlier run), so that a run of a few accounts can
    /// look them up one by one when that sends fewer requests. Unknown: every listing is read.
    pub listing_sizes: ListingSizes,
    /// Provisioning: the host applies the plan as soon as it is made, with nobody reading it
    /// first (the hooks). The run may then read the CX directory once, after the accounts,
    /// rather than before them and again after (see [`super::ProvisionJob::unattended`]).
    pub unattended: bool,
    /// The columns the administrator mapped (field -> column of the sheet, issue 29.7): those
    /// columns are renamed to their fields before the sheet is planned (see
    /// [`super::apply_mapping`]). Empty: the headers are read as they are.
    pub column_map: BTreeMap<String, String>,
    /// Lifecycle: the users listing the host holds (issue 29.3), which the plan uses instead of
    /// listing the brand again while it is recent (see [`HeldListing`]). Hosts pass only a
    /// listing read on the connection they plan on, and only for sheets made from it (the
    /// Users grid's bulk actions); files and pasted sheets read the brand.
    pub listing: Option<HeldListing>,
}

/// A users listing a host already holds: the Users sheet a listing of this connection gave
/// ([`super::UsersListing`]'s columns) and when it was read. A lifecycle plan uses it instead
/// of its own `GET /users` pages only when it is at most [`LISTING_MAX_AGE_MS`] old on the
/// run's own clock, and only when it has every account the sheet names; otherwise (older,
/// from the future, not a Users sheet, an account missing) the plan reads the brand as
/// without it. The plan then says when the brand was listed ([`AsListed`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", default)]
pub struct HeldListing {
    /// The Users sheet, as the listing gave it.
    pub users: Table,
    /// When it was read (Unix milliseconds, the host's clock).
    #[cfg_attr(all(target_arch = "wasm32", feature = "js"), tsify(type = "number"))]
    pub as_of: UnixMillis,
}

/// How old a held listing may be for a plan to use it: 2 minutes. Long enough for an
/// administrator to list, filter, select and act; short enough that a change made elsewhere
/// meanwhile is unlikely, and the plan says how old its listing is. Older, the plan reads
/// the brand.
pub const LISTING_MAX_AGE_MS: UnixMillis = 120_000;

/// The listing a plan used instead of reading the brand: when it was read and how old it was
/// when the plan was made (what the plan view says: "Brand as listed at 14:02:05, 12 s ago").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct AsListed {
    /// When the listing was read (Unix milliseconds).
    #[cfg_attr(all(target_arch = "wasm32", feature = "js"), tsify(type = "number"))]
    pub at: UnixMillis,
    /// Its age when the plan was made, in milliseconds.
    pub age_ms: u64,
}

impl SheetRequest {
    /// `table` with the columns the administrator mapped renamed to their fields, as a `kind`
    /// sheet (the table as it is when none are mapped).
    ///
    /// # Errors
    /// [`super::MappingError`] when the mapping cannot be applied to the table's columns.
    pub fn mapped(&self, kind: SheetKind, table: Table) -> Result<Table, super::MappingError> {
        if self.column_map.is_empty() {
            Ok(table)
        } else {
            super::apply_mapping(kind, table, &self.column_map, self)
        }
    }

    /// `table` [`SheetRequest::mapped`] for a plan a person reads before it is applied (the
    /// page, the pane): the attributes are planned with the accounts, not after them.
    ///
    /// # Errors
    /// [`super::MappingError`], as [`SheetRequest::mapped`].
    pub fn for_person(
        &mut self,
        kind: SheetKind,
        table: Table,
    ) -> Result<Table, super::MappingError> {
        self.unattended = false;
        self.mapped(kind, table)
    }
}

/// Pages a brand's listings took when they were last read in full: what lets a run choose
/// between looking a few accounts up one by one and reading a whole listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", default)]
pub struct ListingSizes {
    /// Pages of `GET /users` (100 users a page).
    pub users_pages: Option<usize>,
    /// Pages of the CX directory's participant search.
    pub directory_pages: Option<usize>,
}

impl ListingSizes {
    /// True when `accounts` lookups (one request each) send fewer requests than the users
    /// listing, whose size is known. Unknown size: list.
    #[must_use]
    pub fn lookups_cheaper(&self, accounts: usize) -> bool {
        matches!(self.users_pages, Some(pages) if accounts > 0 && accounts < pages)
    }

    /// These sizes updated with `newer`'s known ones.
    #[must_use]
    pub fn merged(self, newer: ListingSizes) -> ListingSizes {
        ListingSizes {
            users_pages: newer.users_pages.or(self.users_pages),
            directory_pages: newer.directory_pages.or(self.directory_pages),
        }
    }
}

/// Where a sheet run reads the brand.
#[derive(Debug, Clone)]
// Made once per run: the size of the online variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Brand {
    /// Nowhere: the plan is made at once against an empty brand (what `validate` checks).
    Offline,
    /// Through this connection; `renewable` when its credential can be renewed (OAuth).
    Online {
        /// The connection.
        conn: Connection,
        /// Whether the credential can be renewed.
        renewable: bool,
        /// Whose credential it is (from whoami) and the policy's thresholds: every plan is
        /// judged by them (see [`crate::policy`]).
        guard: Guard,
    },
}

impl Brand {
    /// Through `conn` (`renewable`: an OAuth credential), judged as `actor`'s under the default
    /// policy.
    #[must_use]
    pub fn online(conn: Connection, renewable: bool, actor: Actor) -> Brand {
        let guard = Guard::new(actor, Policy::default());
        Brand::Online {
            conn,
            renewable,
            guard,
        }
    }
}

impl SheetRun {
    /// A run that plans `table` as a `kind` sheet with `request`'s options (`roles`: the Roles
    /// sheet, for membership). Online, drive it (see [`super::Run`]) until it finishes to read
    /// the brand and plan; offline it is planned already.
    #[must_use]
    pub fn start(
        kind: SheetKind,
        table: Table,
        request: SheetRequest,
        roles: RoleSheet,
        brand: Brand,
        config: ExecConfig,
        now: UnixMillis,
    ) -> SheetRun {
        let today = Date::from_unix_millis(now);
        fn run<P: super::Phases + super::SheetJob>(
            mut job: P,
            brand: Brand,
            config: ExecConfig,
            now: UnixMillis,
        ) -> PhasedRun<P> {
            match brand {
                Brand::Offline => PhasedRun::offline(job, now),
                Brand::Online {
                    conn,
                    renewable,
                    guard,
                } => {
                    job.set_guard(guard);
                    PhasedRun::new(conn, job, config, renewable, now)
                }
            }
        }
        match kind {
            SheetKind::Lifecycle => {
                let options = LifecycleOptions {
                    default_action: Action::parse(&request.default_action),
                    today,
                };
                let job = LifecycleJob::new(table, options, request.journal)
                    .with_listing(request.listing);
                SheetRun::Lifecycle(Box::new(run(job, brand, config, now)))
            }
            SheetKind::Provision => {
                let options = ProvisionOptions {
                    route: if request.route == "directory" {
                        Route::DirectoryImport
                    } else {
                        Route::AccountAndAttributes
                    },
                    today,
                    user_types: request.user_types,
                    divisions: BTreeMap::new(),
                    job_size: request.job_size,
                    new_attributes: request.new_attributes.into_iter().collect(),
                };
                let job = ProvisionJob::new(table, options, request.journal)
                    .with_listing_sizes(request.listing_sizes)
                    .unattended(request.unattended);
                SheetRun::Provision(Box::new(run(job, brand, config, now)))
            }
            SheetKind::Membership => {
                let matching = MatchOptions {
                    case_sensitive: !request.case_insensitive,
                };
                let job = MembershipJob::sheet(table, roles, matching, today);
                SheetRun::Membership(Box::new(run(job, brand, config, now)))
            }
        }
    }
}
