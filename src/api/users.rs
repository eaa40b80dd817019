//! Users: request builders for whoami / list / get / update, the paged listing, and their errors.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::api::connection::{Connection, ConnectionError};
use crate::api::envelope::{self, Notice};
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse, Method};
use crate::sheet::table::{cells, Table};

/// `GET /whoami`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Whoami {
    /// Brand id (organization id).
    #[serde(default)]
    pub brand_id: Option<String>,
    /// The token owner's `UR_` id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The token owner's username.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The owner's user type id (`UT_…`).
    #[serde(default)]
    pub account_type: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// The brand's datacenter id as Qualtrics reports it.
    #[serde(default)]
    pub datacenter: Option<String>,
}

/// One element of `GET /users` (and of group member listings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSummary {
    /// `UR_…` id.
    pub id: String,
    /// Username (e-mail form, or `id#brandId` for SSO users).
    #[serde(default)]
    pub username: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// User type id (`UT_…`).
    #[serde(default)]
    pub user_type: Option<String>,
    /// Division id (`DV_…`), if any.
    #[serde(default)]
    pub division_id: Option<String>,
    /// `active` or `disabled`.
    #[serde(default)]
    pub account_status: Option<String>,
    /// Expiry, when the listing includes it (Qualtrics' listing does not: only `GET /users/{id}`
    /// carries it). Left out of JSON output when unknown, so that no output shows an unknown
    /// expiry as none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_expiration_date: Option<String>,
}

impl UserSummary {
    /// The person, as a plan shows them beside ids: `First Last`, with the e-mail address in
    /// angle brackets when the username is not that address (an SSO `3516416#brand`, say);
    /// empty when the listing names no one.
    #[must_use]
    pub fn person(&self) -> String {
        let name = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let email = self.email.as_deref().map(str::trim).unwrap_or_default();
        let username = self.username.as_deref().unwrap_or_default();
        if email.is_empty() || email.eq_ignore_ascii_case(username.trim()) {
            name
        } else if name.is_empty() {
            format!("<{email}>")
        } else {
            format!("{name} <{email}>")
        }
    }
}

/// `GET /users/{id}`: the fields this tool reads; others are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: UserSummary,
    /// Brand id.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Language code.
    #[serde(default)]
    pub language: Option<String>,
    /// Time zone.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Created at (ISO date-time).
    #[serde(default)]
    pub account_creation_date: Option<String>,
    /// Last login (ISO date-time).
    #[serde(default)]
    pub last_login_date: Option<String>,
}

/// Account status values for `PUT /users/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Can log in.
    Active,
    /// Cannot log in.
    Disabled,
}

/// A partial update: only the fields that are `Some` are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserUpdate {
    /// New status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<AccountStatus>,
    /// New expiry date (ISO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_expiration_date: Option<String>,
    /// New first name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// New last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// New e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `GET /whoami`.
#[must_use]
pub fn whoami_request(conn: &Connection) -> HttpRequest {
    conn.request(Method::Get, conn.url("whoami"), None)
}

/// Failure of `GET /whoami`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WhoamiError {
    /// See [`ApiError`].
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Parses a `GET /whoami` answer; the notice (if any) comes along.
pub fn parse_whoami(response: &HttpResponse) -> Result<(Whoami, Option<Notice>), WhoamiError> {
    let env = envelope::parse(response)?;
    let result = env.require_result("who the token belongs to")?;
    let who = serde_json::from_value(result.clone()).map_err(|e| ApiError::UnexpectedShape {
        detail: format!("whoami: {e}"),
    })?;
    Ok((who, env.notice))
}

/// The datacenter asked first when the user gives none: any datacenter answers `whoami` for
/// any brand (proxying it) and names the brand's own.
pub const DISCOVERY_DATACENTER: &str = "iad1";

/// The datacenter to move to after `whoami`, when the brand lives elsewhere than `used`:
/// Qualtrics' `datacenter` field, or else the host its "use this host instead" notice names.
/// `None` when `used` is right or nothing usable was said.
#[must_use]
pub fn datacenter_to_use(
    who: &Whoami,
    notice: Option<&crate::api::envelope::Notice>,
    used: &str,
) -> Option<crate::api::connection::Datacenter> {
    let said = who
        .datacenter
        .clone()
        .or_else(|| notice.and_then(|n| n.suggested_datacenter()))?;
    let home = crate::api::connection::Datacenter::parse(&said).ok()?;
    (home.as_str() != used.trim().to_ascii_lowercase()).then_some(home)
}

/// Who a credential belongs to, as a host shows it once connected: the whoami fields, the
/// notice Qualtrics sent (in words) and, when the brand lives in another datacenter than the
/// one asked, that datacenter (connect again with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// What whoami answered.
    #[serde(flatten)]
    pub who: Whoami,
    /// Qualtrics' notice ("Request proxied…"), in words.
    pub notice: Option<String>,
    /// The brand's own datacenter, when `used` was another one.
    pub switch_to: Option<String>,
}

/// Reads a `GET /whoami` answer sent through `used` (the datacenter asked; none for a direct
/// connection such as the sandbox): call it once per connection, before any run.
pub fn connected(
    response: &HttpResponse,
    used: Option<&crate::api::connection::Datacenter>,
) -> Result<Connected, WhoamiError> {
    let (who, notice) = parse_whoami(response)?;
    let switch_to = used
        .and_then(|used| datacenter_to_use(&who, notice.as_ref(), used.as_str()))
        .map(|d| d.as_str().to_string());
    Ok(Connected {
        who,
        notice: notice.map(|n| n.message()),
        switch_to,
    })
}

/// `GET /users/{id}`.
#[must_use]
pub fn get_user_request(conn: &Connection, user_id: &str) -> HttpRequest {
    conn.request(
        Method::Get,
        conn.url(&format!("users/{}", encode_segment(user_id))),
        None,
    )
}

/// Failure of `GET /users/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GetUserError {
    /// No such user in this brand.
    #[error("No user with id {user_id} in this brand: check the id (it starts with UR_).")]
    NotFound {
        /// The id asked for.
        user_id: String,
    },
    /// See [`ApiError`].
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Parses a `GET /users/{id}` answer.
pub fn parse_get_user(user_id: &str, response: &HttpResponse) -> Result<User, GetUserError> {
    let env = envelope::parse(response).map_err(|e| match e {
        ApiError::NotFound { .. } => GetUserError::NotFound {
            user_id: user_id.to_string(),
        },
        other => other.into(),
    })?;
    let result = env.require_result("a user")?;
    serde_json::from_value(result.clone()).map_err(|e| {
        ApiError::UnexpectedShape {
            detail: format!("user {user_id}: {e}"),
        }
        .into()
    })
}

/// `GET /users?username=…`: the one user of that username, without listing the brand.
///
/// UNVERIFIED: only one client (YRV) documents a `username` filter on the list (API notes §4,
/// "Unverified" 2). [`parse_find_user`] therefore trusts an answer only when it holds nothing
/// but that user (or nobody) on a last page; anything else reads as [`UserLookup::Unfiltered`]
/// and the caller lists the users instead.
#[must_use]
pub fn find_user_request(conn: &Connection, username: &str) -> HttpRequest {
    conn.request(
        Method::Get,
        conn.url(&format!(
            "users?username={}",
            encode_segment(username.trim())
        )),
        None,
    )
}

/// What a `GET /users?username=` answer says.
#[derive(Debug, Clone, PartialEq)]
pub enum UserLookup {
    /// The filter was honoured: the user of that username, or `None` when there is none.
    Found(Option<Box<UserSummary>>),
    /// The answer holds other users or more pages: the filter was ignored, so it says nothing
    /// about that username (list the users instead).
    Unfiltered,
}

/// Parses the answer to [`find_user_request`] for `username` (compared ignoring case).
///
/// # Errors
/// The answer is not a listing page ([`ApiError`]).
pub fn parse_find_user(username: &str, response: &HttpResponse) -> Result<UserLookup, ApiError> {
    let env = envelope::parse(response)?;
    let result = env.require_result("a page of a listing")?;
    let elements: Vec<UserSummary> = result
        .get("elements")
        .and_then(|e| e.as_array())
        .ok_or_else(|| ApiError::UnexpectedShape {
            detail: "a listing page without result.elements".into(),
        })?
        .iter()
        .map(|e| {
            UserSummary::deserialize(e).map_err(|err| ApiError::UnexpectedShape {
                detail: format!("a user looked up by username: {err}"),
            })
        })
        .collect::<Result<_, _>>()?;
    let more = match result.get("nextPage") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    let wanted = username.trim();
    let matches = |u: &UserSummary| {
        u.username
            .as_deref()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted))
    };
    if more || elements.len() > 1 || !elements.iter().all(matches) {
        return Ok(UserLookup::Unfiltered);
    }
    Ok(UserLookup::Found(elements.into_iter().next().map(Box::new)))
}

/// `PUT /users/{id}` with only the changed fields.
#[must_use]
pub fn update_user_request(conn: &Connection, user_id: &str, update: &UserUpdate) -> HttpRequest {
    let body = serde_json::to_vec(update).expect("a UserUpdate always serialises");
    conn.request(
        Method::Put,
        conn.url(&format!("users/{}", encode_segment(user_id))),
        Some(body),
    )
}

/// Failure of `PUT /users/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateUserError {
    /// No such user in this brand.
    #[error("No user with id {user_id} in this brand: it may have been deleted.")]
    NotFound {
        /// The id that was updated.
        user_id: String,
    },
    /// See [`ApiError`].
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Parses a `PUT /users/{id}` answer (a meta-only envelope on success).
pub fn parse_update_user(user_id: &str, response: &HttpResponse) -> Result<(), UpdateUserError> {
    envelope::parse(response).map(|_| ()).map_err(|e| match e {
        ApiError::NotFound { .. } => UpdateUserError::NotFound {
            user_id: user_id.to_string(),
        },
        other => other.into(),
    })
}

/// Failure of a paged listing (users now; groups and members use the same pager).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ListError {
    /// See [`ApiError`].
    #[error(transparent)]
    Api(#[from] ApiError),
    /// `nextPage` pointed somewhere the token must not go.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// `nextPage` pointed back at a page already read: the listing would never end.
    #[error("Qualtrics pointed back to a page already read (page {page}); stopped the listing with {items} entries so far instead of looping. Try again later; if it persists, report it to Qualtrics support.")]
    PageLoop {
        /// The page number that would have repeated.
        page: usize,
        /// Entries read before stopping.
        items: usize,
    },
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The page's elements.
    pub elements: Vec<T>,
    /// `meta.notice`, if Qualtrics sent one.
    pub notice: Option<Notice>,
    /// 1-based page number.
    pub number: usize,
    /// True when `nextPage` was `null`: the listing is complete.
    pub last: bool,
}

/// A paged listing that follows `result.nextPage` exactly as given (absolute, possibly on
/// another host, possibly with proxy parameters) and stops on `null`.
///
/// Drive it with [`Listing::next_request`] then [`Listing::on_response`] until
/// `next_request` answers `None`.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    next_url: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    items: usize,
    _elements: std::marker::PhantomData<T>,
}

/// The listing of every user in the brand.
pub type UserListing = Listing<UserSummary>;

impl UserListing {
    /// Starts at `GET /users`.
    #[must_use]
    pub fn users(conn: &Connection) -> UserListing {
        Listing::starting_at(conn.url("users"))
    }
}

impl<T: DeserializeOwned> Listing<T> {
    /// A listing whose first page is at `first_url` (already absolute).
    #[must_use]
    pub fn starting_at(first_url: String) -> Self {
        Listing {
            next_url: Some(first_url),
            seen: HashSet::new(),
            pages: 0,
            items: 0,
            _elements: std::marker::PhantomData,
        }
    }

    /// The request for the next page, or `None` when the listing is complete.
    #[must_use]
    pub fn next_request(&self, conn: &Connection) -> Option<HttpRequest> {
        self.next_url
            .as_ref()
            .map(|u| conn.request(Method::Get, u.clone(), None))
    }

    /// Pages read so far.
    #[must_use]
    pub fn pages_read(&self) -> usize {
        self.pages
    }

    /// Feeds the answer to the last [`Listing::next_request`]. After an error the listing
    /// stays where it was, so the same page may be asked for again.
    pub fn on_response(
        &mut self,
        conn: &Connection,
        response: &HttpResponse,
    ) -> Result<Page<T>, ListError> {
        let env = envelope::parse(response)?;
        let result = env.require_result("a page of a listing")?;
        let elements_json = result
            .get("elements")
            .and_then(|e| e.as_array())
            .ok_or_else(|| ApiError::UnexpectedShape {
                detail: "a listing page without result.elements".into(),
            })?;
        let mut elements = Vec::with_capacity(elements_json.len());
        for (i, e) in elements_json.iter().enumerate() {
            let item = T::deserialize(e).map_err(|err| ApiError::UnexpectedShape {
                detail: format!("entry {} of page {}: {err}", i + 1, self.pages + 1),
            })?;
            elements.push(item);
        }
        let next = match result.get("nextPage") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(serde_json::Value::String(s)) => Some(conn.resolve(s)?),
            Some(other) => {
                return Err(ApiError::UnexpectedShape {
                    detail: format!("nextPage is neither a URL nor null: {other}"),
                }
                .into())
            }
        };
        let current = self.next_url.clone().unwrap_or_default();
        if let Some(n) = &next {
            if *n == current || self.seen.contains(n) {
                return Err(ListError::PageLoop {
                    page: self.pages + 2,
                    items: self.items + elements.len(),
                });
            }
        }
        self.seen.insert(current);
        self.pages += 1;
        self.items += elements.len();
        self.next_url = next;
        Ok(Page {
            elements,
            notice: env.notice,
            number: self.pages,
            last: self.next_url.is_none(),
        })
    }
}

/// The columns of the Users sheet, in order.
pub const USER_COLUMNS: [&str; 8] = [
    "User ID",
    "Username",
    "First name",
    "Last name",
    "Email",
    "User type",
    "Division",
    "Account status",
];

/// The Users sheet: one row per user.
pub fn users_table(users: &[UserSummary]) -> Table {
    let cell = |o: &Option<String>| o.clone().unwrap_or_default();
    Table {
        row_numbers: Vec::new(),
        lines: Vec::new(),
        columns: USER_COLUMNS.iter().map(|s| s.to_string()).collect(),
        rows: users
            .iter()
            .map(|u| {
                vec![
                    u.id.clone(),
                    cell(&u.username),
                    cell(&u.first_name),
                    cell(&u.last_name),
                    cell(&u.email),
                    cell(&u.user_type),
                    cell(&u.division_id),
                    cell(&u.account_status),
                ]
            })
            .map(cells)
            .collect(),
    }
}

/// The users of a Users sheet as [`users_table`] wrote it (a listing a host kept, issue 29.3):
/// each column found by its name, a blank cell read as unknown. `None` when the table is not
/// one: no `User ID` column, or a row without an id.
#[must_use]
pub fn users_from_table(table: &Table) -> Option<Vec<UserSummary>> {
    let at = |name: &str| table.columns.iter().position(|c| c == name);
    let id = at(USER_COLUMNS[0])?;
    let others: Vec<Option<usize>> = USER_COLUMNS[1..].iter().map(|c| at(c)).collect();
    table
        .rows
        .iter()
        .map(|row| {
            let text = |i: Option<usize>| {
                i.and_then(|i| row.get(i))
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
            };
            let id = text(Some(id))?;
            Some(UserSummary {
                id,
                username: text(others[0]),
                first_name: text(others[1]),
                last_name: text(others[2]),
                email: text(others[3]),
                user_type: text(others[4]),
                division_id: text(others[5]),
                account_status: text(others[6]),
                account_expiration_date: None,
            })
        })
        .collect()
}

/// The users of a listing by lower-cased username (Qualtrics usernames ignore case).
#[must_use]
pub fn by_username(users: &[UserSummary]) -> std::collections::HashMap<String, &UserSummary> {
    users
        .iter()
        .filter_map(|u| u.username.as_ref().map(|n| (n.to_lowercase(), u)))
        .collect()
}

/// `GET /divisions/{id}` (there is no endpoint that lists divisions).
#[must_use]
pub fn get_division_request(conn: &Connection, division_id: &str) -> HttpRequest {
    conn.request(
        Method::Get,
        conn.url(&format!("divisions/{}", encode_segment(division_id))),
        None,
    )
}

/// A division's name from `GET /divisions/{id}`.
pub fn parse_division_name(response: &HttpResponse) -> Result<String, ApiError> {
    let env = envelope::parse(response)?;
    env.require_result("a division")?
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| ApiError::UnexpectedShape {
            detail: "a division without a name".into(),
        })
}

/// Percent-encodes everything but unreserved characters, for one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_lookup_is_trusted_only_when_the_filter_was_honoured() {
        let c = Connection::direct(
            "http://sandbox.test/API/v3",
            crate::api::connection::Auth::api_token("t").unwrap(),
        )
        .unwrap();
        assert_eq!(
            find_user_request(&c, " new@x.org ").url,
            "http://sandbox.test/API/v3/users?username=new%40x.org"
        );
        let answer = |body: &str| parse_find_user("New@X.org", &HttpResponse::new(200, body));
        let one = answer(
            r#"{"result":{"elements":[{"id":"UR_1","username":"new@x.org"}],"nextPage":null}}"#,
        )
        .unwrap();
        assert!(matches!(one, UserLookup::Found(Some(u)) if u.id == "UR_1"));
        assert_eq!(
            answer(r#"{"result":{"elements":[],"nextPage":null}}"#).unwrap(),
            UserLookup::Found(None)
        );
        // An ignored filter: the first page of everyone, or other users only.
        assert_eq!(
            answer(
                r#"{"result":{"elements":[{"id":"UR_2","username":"a@x.org"}],"nextPage":null}}"#
            )
            .unwrap(),
            UserLookup::Unfiltered
        );
        assert_eq!(
            answer(r#"{"result":{"elements":[{"id":"UR_1","username":"new@x.org"}],"nextPage":"https://iad1.qualtrics.com/API/v3/users?offset=100"}}"#)
                .unwrap(),
            UserLookup::Unfiltered
        );
        assert!(answer(r#"{"result":{}}"#).is_err());
    }
    use crate::api::connection::Auth;

    fn conn() -> Connection {
        Connection::via_relay(
            "http://127.0.0.1:8080/relay",
            "iad1",
            Auth::api_token("tok").unwrap(),
        )
        .unwrap()
    }

    fn page(ids: &[&str], next: Option<&str>) -> HttpResponse {
        let elements: Vec<_> = ids
            .iter()
            .map(|id| serde_json::json!({"id": id, "username": format!("{id}@x.org"), "accountStatus": "active"}))
            .collect();
        let body = serde_json::json!({"result": {"elements": elements, "nextPage": next}, "meta": {"httpStatus": "200 - OK"}});
        HttpResponse::new(200, serde_json::to_vec(&body).unwrap())
    }

    #[test]
    fn follows_next_page_across_hosts_until_null() {
        let c = conn();
        let mut l = UserListing::users(&c);
        assert_eq!(
            l.next_request(&c).unwrap().url,
            "http://127.0.0.1:8080/relay/iad1/API/v3/users"
        );
        let p1 = l
            .on_response(
                &c,
                &page(
                    &["UR_1", "UR_2"],
                    Some("https://az1.qualtrics.com/API/v3/users?offset=2&proxyDepth=1"),
                ),
            )
            .unwrap();
        assert_eq!((p1.number, p1.last, p1.elements.len()), (1, false, 2));
        assert_eq!(
            l.next_request(&c).unwrap().url,
            "http://127.0.0.1:8080/relay/az1/API/v3/users?offset=2&proxyDepth=1"
        );
        let p2 = l.on_response(&c, &page(&["UR_3"], None)).unwrap();
        assert!(p2.last);
        assert!(l.next_request(&c).is_none());
        assert_eq!(l.pages_read(), 2);
    }

    #[test]
    fn a_loop_back_to_a_seen_page_stops() {
        let c = conn();
        let mut l = UserListing::users(&c);
        l.on_response(
            &c,
            &page(
                &["UR_1"],
                Some("https://iad1.qualtrics.com/API/v3/users?offset=1"),
            ),
        )
        .unwrap();
        let err = l
            .on_response(
                &c,
                &page(&["UR_2"], Some("https://iad1.qualtrics.com/API/v3/users")),
            )
            .unwrap_err();
        assert_eq!(err, ListError::PageLoop { page: 3, items: 2 });
        assert!(err.to_string().contains("already read"));
        // A page pointing to itself is a loop as well.
        let mut l = UserListing::users(&c);
        let err = l
            .on_response(
                &c,
                &page(&["UR_1"], Some("https://iad1.qualtrics.com/API/v3/users")),
            )
            .unwrap_err();
        assert!(matches!(err, ListError::PageLoop { .. }));
    }

    #[test]
    fn next_page_off_the_api_is_refused() {
        // Through the relay a nextPage on any host is followed by its API path (the relay
        // decides the host); one that leaves the API is refused, and the token stays here.
        let c = conn();
        let mut l = UserListing::users(&c);
        let err = l
            .on_response(
                &c,
                &page(&["UR_1"], Some("https://evil.example/steal?offset=1")),
            )
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("Refusing to send your token to evil.example"));
        // The listing did not move: the same page can be asked for again.
        assert_eq!(
            l.next_request(&c).unwrap().url,
            "http://127.0.0.1:8080/relay/iad1/API/v3/users"
        );
    }

    #[test]
    fn bad_pages_are_named() {
        let c = conn();
        let mut l = UserListing::users(&c);
        let e = l
            .on_response(&c, &HttpResponse::new(200, r#"{"result":{},"meta":{}}"#))
            .unwrap_err();
        assert!(e.to_string().contains("without result.elements"));
        let e = l
            .on_response(
                &c,
                &HttpResponse::new(
                    200,
                    r#"{"result":{"elements":[{"username":"x"}],"nextPage":null}}"#,
                ),
            )
            .unwrap_err();
        assert!(e.to_string().contains("entry 1 of page 1"));
        let e = l
            .on_response(
                &c,
                &HttpResponse::new(
                    401,
                    r#"{"meta":{"error":{"errorMessage":"Unrecognized X-API-TOKEN"}}}"#,
                ),
            )
            .unwrap_err();
        assert!(matches!(e, ListError::Api(ApiError::Unauthorized { .. })));
    }

    #[test]
    fn the_brand_datacenter_comes_from_whoami_or_its_notice() {
        let who = |dc: Option<&str>| Whoami {
            brand_id: None,
            user_id: None,
            user_name: None,
            account_type: None,
            first_name: None,
            last_name: None,
            email: None,
            datacenter: dc.map(str::to_string),
        };
        let to = |w: &Whoami, n: Option<&Notice>, used: &str| {
            datacenter_to_use(w, n, used).map(|d| d.as_str().to_string())
        };
        assert_eq!(
            to(&who(Some("fra1")), None, "iad1").as_deref(),
            Some("fra1")
        );
        assert_eq!(to(&who(Some("IAD1")), None, "iad1"), None);
        let notice = Notice::parse(
            "Request proxied. For faster response times, use this host instead: az1.qualtrics.com",
        );
        assert_eq!(
            to(&who(None), Some(&notice), "iad1").as_deref(),
            Some("az1")
        );
        assert_eq!(to(&who(Some("evil.example")), None, "iad1"), None);
        assert_eq!(to(&who(None), None, "iad1"), None);
    }

    #[test]
    fn whoami_and_user_calls() {
        let c = conn();
        assert_eq!(
            whoami_request(&c).url,
            "http://127.0.0.1:8080/relay/iad1/API/v3/whoami"
        );
        let (who, notice) = parse_whoami(&HttpResponse::new(
            200,
            r#"{"result":{"brandId":"acme","userId":"UR_1","userName":"1352432#acme","datacenter":"iad1"},"meta":{}}"#,
        ))
        .unwrap();
        assert_eq!(who.user_name.as_deref(), Some("1352432#acme"));
        assert!(notice.is_none());

        let req = get_user_request(&c, "UR_a/../b");
        assert_eq!(
            req.url,
            "http://127.0.0.1:8080/relay/iad1/API/v3/users/UR_a%2F..%2Fb"
        );
        let err = parse_get_user(
            "UR_9",
            &HttpResponse::new(
                404,
                r#"{"meta":{"error":{"errorMessage":"UR_9 not found","errorCode":"ESSG_2"}}}"#,
            ),
        )
        .unwrap_err();
        assert_eq!(
            err,
            GetUserError::NotFound {
                user_id: "UR_9".into()
            }
        );
        let user = parse_get_user(
            "UR_1",
            &HttpResponse::new(200, r#"{"result":{"id":"UR_1","accountStatus":"disabled","language":"en","permissions":{}},"meta":{}}"#),
        )
        .unwrap();
        assert_eq!(user.summary.account_status.as_deref(), Some("disabled"));

        let upd = UserUpdate {
            status: Some(AccountStatus::Disabled),
            ..Default::default()
        };
        let req = update_user_request(&c, "UR_1", &upd);
        assert_eq!(req.method, Method::Put);
        assert_eq!(
            req.body.as_deref(),
            Some(br#"{"status":"disabled"}"#.as_slice())
        );
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(parse_update_user(
            "UR_1",
            &HttpResponse::new(200, r#"{"meta":{"httpStatus":"200 - OK"}}"#)
        )
        .is_ok());
    }

    #[test]
    fn users_table_has_one_row_per_user() {
        let users = vec![UserSummary {
            id: "UR_1".into(),
            username: Some("a@b.c".into()),
            first_name: None,
            last_name: None,
            email: None,
            user_type: None,
            division_id: None,
            account_status: Some("active".into()),
            account_expiration_date: None,
        }];
        let t = users_table(&users);
        assert_eq!(t.columns[0], "User ID");
        assert_eq!(
            t.rows,
            vec![vec!["UR_1", "a@b.c", "", "", "", "", "", "active"]]
        );
    }

    #[test]
    fn a_users_sheet_reads_back_as_the_listing_it_was_written_from() {
        let full = UserSummary {
            id: "UR_2".into(),
            username: Some("3516416#brand".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Lopez".into()),
            email: Some("ana@x.org".into()),
            user_type: Some("UT_1".into()),
            division_id: Some("DV_1".into()),
            account_status: Some("disabled".into()),
            account_expiration_date: None,
        };
        let bare = UserSummary {
            id: "UR_3".into(),
            username: None,
            first_name: None,
            last_name: None,
            email: None,
            user_type: None,
            division_id: None,
            account_status: None,
            account_expiration_date: None,
        };
        let users = vec![full, bare];
        assert_eq!(users_from_table(&users_table(&users)), Some(users));
        // Not a listing: no User ID column, or a row without an id.
        let mut t = users_table(&[]);
        t.columns[0] = "Id".into();
        assert_eq!(users_from_table(&t), None);
        let t = Table::from_csv("User ID,Username\n,a@b.c\n").unwrap();
        assert_eq!(users_from_table(&t), None);
    }
}
