//! What "Pull membership" writes: the long table, the users x groups-and-roles matrix and the
//! member counts, roles computed from their rules, users limited by a team filter.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::api::users::UserSummary;
use crate::membership::rules::{list_parts, MatchOptions, Metadata, RoleDef, RoleSheet};
use crate::sheet::table::{cells, Table};

use super::pull::Snapshot;

/// A team filter naming an attribute no participant has (a misspelling, most often).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("No one in the directory has an attribute \"{attribute}\" (attributes found: {}): check its spelling, which must match exactly.", found.join(", "))]
pub struct UnknownFilterAttribute {
    /// The attribute the filter names.
    pub attribute: String,
    /// The attributes the directory has, in name order.
    pub found: Vec<String>,
}

/// A manager's filter: only users whose attribute has this value (the whole value, or one
/// part of a `::` list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamFilter {
    /// The attribute.
    pub attribute: String,
    /// The value.
    pub value: String,
}

/// A team filter that is not of the form `Attribute = Value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The filter \"{filter}\" is not of the form Attribute = Value: write for example Hotel = Seattle, or leave it blank for everyone.")]
pub struct FilterNotUnderstood {
    /// The filter as given (trimmed).
    pub filter: String,
}

impl TeamFilter {
    /// Parses `Hotel = Seattle`; blank means no filter.
    pub fn parse(text: &str) -> Result<Option<TeamFilter>, FilterNotUnderstood> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.split_once('=') {
            Some((a, v)) if !a.trim().is_empty() && !v.trim().is_empty() => Ok(Some(TeamFilter {
                attribute: a.trim().to_string(),
                value: v.trim().to_string(),
            })),
            _ => Err(FilterNotUnderstood {
                filter: text.to_string(),
            }),
        }
    }

    fn keeps(&self, metadata: &Metadata, options: MatchOptions) -> bool {
        metadata.get(&self.attribute).is_some_and(|v| {
            let same = |p: &str| {
                if options.case_sensitive {
                    p == self.value
                } else {
                    p.to_lowercase() == self.value.to_lowercase()
                }
            };
            same(v.trim()) || list_parts(v).any(same)
        })
    }
}

/// Members of one group or role, for the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct MemberCount {
    /// The group or role.
    pub name: String,
    /// "group" or "role".
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "js"),
        tsify(type = "\"group\" | \"role\"")
    )]
    pub kind: String,
    /// Members among the users shown.
    pub members: usize,
    /// For a role without a rule: its membership cannot be read.
    pub unreadable: bool,
    /// For an automatic group, what kind (`brand-wide`, `division-wide`): Qualtrics decides
    /// its members, so they cannot be added or removed (issue 29.8). `None` otherwise.
    pub automatic: Option<String>,
}

/// What "Pull membership" writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct PullTables {
    /// One row per (user, group or role).
    pub long: Table,
    /// Users x groups and roles, `x` where a member.
    pub matrix: Table,
    /// Members per group and role.
    pub counts: Vec<MemberCount>,
    /// Users shown (after the filter).
    pub users: usize,
    /// Requests the pull made.
    pub requests: usize,
    /// Notes for the user (roles without rules, rule problems).
    pub notes: Vec<String>,
    /// Each matrix row's directory attributes (empty without a directory entry): what
    /// [`RoleSheet::roles_after`] reads to show the roles a change would give or take.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "js"),
        tsify(type = "Record<string, string>[]")
    )]
    pub metadata: Vec<Metadata>,
    /// The Roles sheet's roles and their rules as the core read them (any header spelling it
    /// accepts), for a host to show beside who holds each role.
    pub rules: Vec<RoleDef>,
}

/// How to pull membership, as hosts give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", default)]
pub struct PullRequest {
    /// A team filter ("Hotel = Seattle"); blank for everyone.
    pub filter: String,
    /// Compare role rule values ignoring case.
    pub case_insensitive: bool,
}

impl PullRequest {
    /// How role rule values are compared in this pull (and in what a change would make of
    /// them: [`RoleSheet::roles_after`]).
    #[must_use]
    pub fn matching(&self) -> MatchOptions {
        MatchOptions {
            case_sensitive: !self.case_insensitive,
        }
    }
}

/// What a pull shows: its tables, and the pages each listing took.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Pulled {
    /// The long table, the matrix, the counts and the notes.
    #[serde(flatten)]
    pub tables: PullTables,
    /// Pages read per listing (`users`, `groups`, `members`, `directory`).
    pub pages: BTreeMap<String, usize>,
    /// Whether this pull compared role rule values ignoring case: give it back to `rolesAfter`
    /// so a pending change is judged as the pull judged membership.
    pub case_insensitive: bool,
}

/// Why a pull's tables cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullRequestError {
    /// The filter is not "Attribute = value".
    #[error(transparent)]
    Filter(#[from] FilterNotUnderstood),
    /// The filter names an attribute no one has.
    #[error(transparent)]
    Attribute(#[from] UnknownFilterAttribute),
}

/// The tables a host shows after a pull of `snapshot`, as `request` asks (call it once the
/// pull run has finished).
pub fn pulled(
    snapshot: &Snapshot,
    roles: &RoleSheet,
    request: &PullRequest,
) -> Result<Pulled, PullRequestError> {
    let filter = TeamFilter::parse(&request.filter)?;
    let matching = request.matching();
    Ok(Pulled {
        tables: pull_tables(snapshot, roles, filter.as_ref(), matching)?,
        pages: snapshot.pages.clone(),
        case_insensitive: request.case_insensitive,
    })
}

/// The long table's columns.
pub const LONG_COLUMNS: [&str; 7] = [
    "User",
    "Username",
    "Email",
    "Group or role",
    "Kind",
    "Account status",
    "User ID",
];

/// Kind cell of a group row.
pub const KIND_GROUP: &str = "group";
/// Kind cell of a role row.
pub const KIND_ROLE: &str = "role by rule";

fn full_name(u: &UserSummary) -> String {
    let name = format!(
        "{} {}",
        u.first_name.as_deref().unwrap_or(""),
        u.last_name.as_deref().unwrap_or("")
    );
    name.trim().to_string()
}

/// The long table, the matrix and the counts for a snapshot, roles computed from `roles`,
/// users limited by `filter` (matched on directory metadata; users with no directory entry are
/// left out when filtering).
pub fn pull_tables(
    snapshot: &Snapshot,
    roles: &RoleSheet,
    filter: Option<&TeamFilter>,
    options: MatchOptions,
) -> Result<PullTables, UnknownFilterAttribute> {
    let participant_of = snapshot.participant_of_users();
    let empty = Metadata::new();
    let metadata = |i: usize| {
        participant_of[i]
            .map(|p| &snapshot.participants[p].metadata)
            .unwrap_or(&empty)
    };
    if let Some(f) = filter {
        let known = snapshot
            .participants
            .iter()
            .any(|p| p.metadata.contains_key(&f.attribute));
        if !known {
            let names: BTreeSet<&str> = snapshot
                .participants
                .iter()
                .flat_map(|p| p.metadata.keys().map(String::as_str))
                .collect();
            return Err(UnknownFilterAttribute {
                attribute: f.attribute.clone(),
                found: names.into_iter().map(str::to_string).collect(),
            });
        }
    }
    let shown: Vec<usize> = (0..snapshot.users.len())
        .filter(|&i| filter.is_none_or(|f| f.keeps(metadata(i), options)))
        .collect();
    let member_sets: Vec<HashSet<&str>> = snapshot
        .groups
        .iter()
        .map(|g| g.members.iter().map(String::as_str).collect())
        .collect();
    let role_of: Vec<Vec<usize>> = shown
        .iter()
        .map(|&i| roles.roles_of(metadata(i), options))
        .collect();

    let mut long = Vec::new();
    let mut matrix = Vec::new();
    let mut metadata_of = Vec::with_capacity(shown.len());
    let mut counts: Vec<MemberCount> = snapshot
        .groups
        .iter()
        .map(|g| MemberCount {
            name: g.group.name.clone(),
            kind: "group".into(),
            members: 0,
            unreadable: false,
            automatic: g.group.automatic().map(str::to_string),
        })
        .chain(roles.roles.iter().map(|r| MemberCount {
            name: r.name.clone(),
            kind: "role".into(),
            members: 0,
            unreadable: r.rules.is_empty(),
            automatic: None,
        }))
        .collect();
    let groups = snapshot.groups.len();
    for (n, &i) in shown.iter().enumerate() {
        let u = &snapshot.users[i];
        let base = |target: &str, kind: &str| {
            vec![
                full_name(u),
                u.username.clone().unwrap_or_default(),
                u.email.clone().unwrap_or_default(),
                target.to_string(),
                kind.to_string(),
                u.account_status.clone().unwrap_or_default(),
                u.id.clone(),
            ]
        };
        let mut marks = vec![String::new(); groups + roles.roles.len()];
        for (g, group) in snapshot.groups.iter().enumerate() {
            if member_sets[g].contains(u.id.as_str()) {
                long.push(base(&group.group.name, KIND_GROUP));
                marks[g] = "x".into();
                counts[g].members += 1;
            }
        }
        for &r in &role_of[n] {
            long.push(base(&roles.roles[r].name, KIND_ROLE));
            marks[groups + r] = "x".into();
            counts[groups + r].members += 1;
        }
        metadata_of.push(metadata(i).clone());
        let mut row = vec![
            full_name(u),
            u.username.clone().unwrap_or_default(),
            u.id.clone(),
        ];
        row.extend(marks);
        matrix.push(row);
    }
    let group_names: HashSet<String> = snapshot
        .groups
        .iter()
        .map(|g| g.group.name.to_lowercase())
        .collect();
    let mut matrix_columns = vec!["User".to_string(), "Username".into(), "User ID".into()];
    matrix_columns.extend(snapshot.groups.iter().map(|g| g.group.name.clone()));
    matrix_columns.extend(roles.roles.iter().map(|r| {
        if group_names.contains(&r.name.to_lowercase()) {
            format!("{} (role)", r.name)
        } else {
            r.name.clone()
        }
    }));
    let mut notes: Vec<String> = roles
        .roles
        .iter()
        .filter(|r| r.rules.is_empty())
        .map(|r| format!("Role {} has no automatic rule: who is in it cannot be read through the API (it is assigned by hand in CX Dashboards).", r.name))
        .collect();
    notes.extend(roles.problems.iter().map(|p| p.message.clone()));
    Ok(PullTables {
        long: Table {
            columns: LONG_COLUMNS.iter().map(|s| s.to_string()).collect(),
            rows: long.into_iter().map(cells).collect(),
            row_numbers: Vec::new(),
            lines: Vec::new(),
        },
        matrix: Table {
            columns: matrix_columns,
            rows: matrix.into_iter().map(cells).collect(),
            row_numbers: Vec::new(),
            lines: Vec::new(),
        },
        counts,
        users: shown.len(),
        requests: snapshot.requests(),
        notes,
        metadata: metadata_of,
        rules: roles.roles.clone(),
    })
}
