//! Shared by the fuzz targets (and the seed generator): a brand snapshot built from a few
//! configuration bytes, and how an input is split into configuration and sheets.
//!
//! The brand is "fuzzed but valid": user ids are unique `UR_` ids, usernames unique
//! (case-insensitively), group members and participants point at users that exist. Names,
//! attribute values and group names come from small pools that the seed sheets also use, so
//! the fuzzer reaches the "found in the brand" branches, not only "not found".

#![allow(dead_code)]

use std::collections::BTreeMap;

use qualtrics_roster::api::connection::{Auth, Connection};
use qualtrics_roster::api::directory::Participant;
use qualtrics_roster::exec::JournalEntry;
use qualtrics_roster::lifecycle::Action;
use qualtrics_roster::membership::{GroupMembers, GroupSummary, Snapshot};
use qualtrics_roster::provision::{ProvisionOptions, Route};
use qualtrics_roster::membership::rules::MatchOptions;
use qualtrics_roster::time::Date;
use qualtrics_roster::api::users::UserSummary;

/// Bytes of configuration at the start of a `plan_builder` input (missing bytes read as 0).
pub const CONFIG_LEN: usize = 32;

/// Separates the planned sheet from the Roles sheet in a `plan_builder` input (a NUL never
/// survives in a text sheet: `read_bytes` refuses it as binary).
pub const SHEET_SEPARATOR: u8 = 0;

pub const USERNAMES: [&str; 8] = [
    "ann@example.org",
    "bo@example.org",
    "cy@example.org",
    "di@example.org",
    "ed@example.org",
    "fay@example.org",
    "gus@example.org",
    "hal@example.org",
];
pub const SHARED_EMAIL: &str = "team@example.org";
pub const GROUP_NAMES: [&str; 4] = ["Front Desk", "Revenue", "EMEA Sales", "Seattle Team"];
pub const HOTELS: [Option<&str>; 4] =
    [None, Some("Seattle"), Some("Provo"), Some("Seattle::Provo")];
pub const REGIONS: [Option<&str>; 4] = [None, Some("EMEA"), Some("AMER"), Some("")];
pub const USER_TYPE: (&str, &str) = ("researcher", "UT_RESEARCHER00000");
pub const DIVISION: (&str, &str) = ("business school", "DV_BUSINESS0000000");

/// A small brand: four users (ann active with a directory entry by username, bo disabled with
/// one by user id, cy active with an expiry date, the shared e-mail and a directory entry, di
/// active with an expiry date and a division), two groups (ann and cy in Front Desk, bo in
/// Revenue), one directory-only participant, one lifecycle journal entry.
#[rustfmt::skip]
pub const FIXED_CONFIG: [u8; CONFIG_LEN] = [
    4,
    0x41, 0xC2, 0x4D, 0x25, 0, 0, 0, 0,
    0x13, 0x26, 0x17, 0x00, 0, 0, 0, 0,
    2, 1, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// `UR_` + 10 digits: what `lifecycle::is_user_id` accepts.
pub fn user_id(i: usize) -> String {
    format!("UR_{:010}", i + 1)
}

pub fn unique_identifier(i: usize) -> String {
    format!("E{:04}", 1001 + i)
}

/// A brand as a pull would see it, plus the planning options.
#[derive(Debug, Clone)]
pub struct Brand {
    pub users: Vec<UserSummary>,
    pub participants: Vec<Participant>,
    pub groups: Vec<GroupMembers>,
    pub lifecycle_journal: Vec<JournalEntry>,
    pub provision_journal: Vec<JournalEntry>,
    pub today: Date,
    pub default_action: Option<Action>,
    pub match_options: MatchOptions,
    pub route: Route,
    pub job_size: usize,
    /// Whether to pull with the team filter `Hotel = Seattle`.
    pub team_filter: bool,
    /// How the steps of a run ended (see [`outcomes`]).
    pub outcome_pattern: u8,
}

impl Brand {
    /// The brand described by `config` (at most [`CONFIG_LEN`] bytes are read; missing bytes
    /// are 0). Layout:
    /// - `[0]` user count (mod 9)
    /// - `[1..9]` per user: bits 0-1 account status (none, active, disabled, "Disabled"),
    ///   bit 2 expiry date, bit 3 shared e-mail, bit 4 upper-case username, bit 5 division,
    ///   bit 6 directory participant, bit 7 participant linked by user id (else by username)
    /// - `[9..17]` per user: bits 0-1 Hotel, bits 2-3 Region, bits 4-7 member of groups 0-3
    /// - `[17]` group count (mod 5)
    /// - `[18]` directory-only participants (mod 3), their Hotel in bits 2-3
    /// - `[19]` bit 0 case-insensitive matching, bits 1-2 default lifecycle action,
    ///   bit 3 directory-import route, bits 4-7 job size - 1
    /// - `[20]` lifecycle journal entries (bits 0-1), provision journal entries (bits 2-3)
    /// - `[21..23]` today: days after 2026-01-01 (little-endian, mod 1500)
    /// - `[23]` bit 0: pull with the team filter `Hotel = Seattle`
    /// - `[24]` how the run's steps ended (see [`outcomes`])
    pub fn from_config(config: &[u8]) -> Brand {
        let c = |i: usize| config.get(i).copied().unwrap_or(0);
        let n_users = c(0) as usize % 9;
        let mut users = Vec::new();
        let mut participants = Vec::new();
        let mut metadata_of = Vec::new();
        for i in 0..n_users {
            let bits = c(1 + i);
            let meta = c(9 + i);
            let name = if bits & 0x10 != 0 {
                USERNAMES[i].to_uppercase()
            } else {
                USERNAMES[i].to_string()
            };
            let status = match bits & 3 {
                0 => None,
                1 => Some("active"),
                2 => Some("disabled"),
                _ => Some("Disabled"),
            };
            users.push(UserSummary {
                id: user_id(i),
                username: Some(name.clone()),
                first_name: Some(format!("First{i}")),
                last_name: Some(format!("Last{i}")),
                email: Some(if bits & 8 != 0 {
                    SHARED_EMAIL.to_string()
                } else {
                    USERNAMES[i].to_string()
                }),
                user_type: Some("UT_STANDARD0000000".into()),
                division_id: (bits & 0x20 != 0).then(|| DIVISION.1.to_string()),
                account_status: status.map(String::from),
                account_expiration_date: (bits & 4 != 0)
                    .then(|| "2027-01-31T00:00:00Z".to_string()),
            });
            let mut metadata = BTreeMap::new();
            if let Some(h) = HOTELS[(meta & 3) as usize] {
                metadata.insert("Hotel".to_string(), h.to_string());
            }
            if let Some(r) = REGIONS[((meta >> 2) & 3) as usize] {
                metadata.insert("Region".to_string(), r.to_string());
            }
            metadata_of.push(metadata.clone());
            if bits & 0x40 != 0 {
                let by_id = bits & 0x80 != 0;
                participants.push(Participant {
                    unique_identifier: unique_identifier(i),
                    first_name: Some(format!("First{i}")),
                    last_name: Some(format!("Last{i}")),
                    email: Some(USERNAMES[i].to_string()),
                    username: (!by_id).then(|| name.clone()),
                    user_id: by_id.then(|| user_id(i)),
                    metadata,
                });
            }
        }
        for k in 0..(c(18) as usize % 3) {
            let mut metadata = BTreeMap::new();
            if let Some(h) = HOTELS[((c(18) >> 2) & 3) as usize] {
                metadata.insert("Hotel".to_string(), h.to_string());
            }
            participants.push(Participant {
                unique_identifier: format!("D{:04}", 1 + k),
                first_name: Some("Dir".into()),
                last_name: Some(format!("Only{k}")),
                email: None,
                username: None,
                user_id: None,
                metadata,
            });
        }
        let n_groups = c(17) as usize % 5;
        let groups = (0..n_groups)
            .map(|g| GroupMembers {
                group: GroupSummary {
                    id: format!("GR_{:010}", g + 1),
                    name: GROUP_NAMES[g].to_string(),
                    group_type: Some("GT_1".into()),
                    division_id: None,
                },
                members: (0..n_users)
                    .filter(|&i| c(9 + i) & (0x10 << g) != 0)
                    .map(user_id)
                    .collect(),
            })
            .collect();
        let opts = c(19);
        let default_action = match (opts >> 1) & 3 {
            0 => None,
            1 => Some(Action::Disable),
            2 => Some(Action::Enable),
            _ => Some(Action::Expire),
        };
        let journal = c(20);
        let lifecycle_journal = (0..(journal & 3) as usize)
            .filter(|&k| k < n_users)
            .map(|k| JournalEntry {
                key: format!("row:{}", k + 2),
                applied: format!("{} status=disabled expiry=-", user_id(k)),
                at: 1_780_000_000_000,
            })
            .collect();
        let provision_journal = (0..((journal >> 2) & 3) as usize)
            .filter(|&k| k < n_users)
            .map(|k| JournalEntry {
                key: format!("row:{}", k + 2),
                applied: format!(
                    "{} language=de\n{} timeZone=Europe/Berlin",
                    user_id(k),
                    user_id(k)
                ),
                at: 1_780_000_000_000,
            })
            .collect();
        let days = u16::from_le_bytes([c(21), c(22)]) as u64 % 1500;
        // 2026-01-01T00:00:00Z
        let today = Date::from_unix_millis(1_767_225_600_000 + days * 86_400_000);
        Brand {
            users,
            participants,
            groups,
            lifecycle_journal,
            provision_journal,
            today,
            default_action,
            match_options: MatchOptions {
                case_sensitive: opts & 1 == 0,
            },
            route: if opts & 8 != 0 {
                Route::DirectoryImport
            } else {
                Route::AccountAndAttributes
            },
            job_size: 1 + (opts >> 4) as usize,
            team_filter: c(23) & 1 != 0,
            outcome_pattern: c(24),
        }
    }

    /// A small fixed brand (see [`FIXED_CONFIG`]).
    pub fn fixed() -> Brand {
        Brand::from_config(&FIXED_CONFIG)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            users: self.users.clone(),
            groups: self.groups.clone(),
            participants: self.participants.clone(),
            pages: BTreeMap::new(),
        }
    }

    pub fn provision_options(&self, route: Route) -> ProvisionOptions {
        ProvisionOptions {
            route,
            today: self.today,
            user_types: [(USER_TYPE.0.to_string(), USER_TYPE.1.to_string())].into(),
            divisions: [(DIVISION.0.to_string(), DIVISION.1.to_string())].into(),
            job_size: self.job_size,
        }
    }
}

/// The date the targets without a configuration plan on.
pub fn fixed_today() -> Date {
    Date::parse_iso("2026-11-22").expect("a valid date")
}

/// The two ways requests are addressed: through the relay, and directly.
pub fn connections() -> [Connection; 2] {
    [
        Connection::via_relay(
            "http://127.0.0.1:8080/relay",
            "iad1",
            Auth::api_token("fuzz-token").expect("a token"),
        )
        .expect("a relay connection"),
        Connection::direct(
            "https://iad1.qualtrics.com/API/v3",
            Auth::api_token("fuzz-token").expect("a token"),
        )
        .expect("a direct connection"),
    ]
}

/// `(config, rest)`: the first [`CONFIG_LEN`] bytes and what follows.
pub fn split_config(data: &[u8]) -> (&[u8], &[u8]) {
    data.split_at(data.len().min(CONFIG_LEN))
}

/// `(sheet, roles)`: the bytes before and after the first [`SHEET_SEPARATOR`].
pub fn split_sheets(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|b| *b == SHEET_SEPARATOR) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// Outcomes an executor could have given the steps with these keys: `pattern` picks each
/// one's status (2 bits per step, cycling: done, failed, skipped, unchanged).
pub fn outcomes<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    pattern: u8,
) -> Vec<qualtrics_roster::exec::Outcome> {
    use qualtrics_roster::exec::{Outcome, OutcomeStatus};
    keys.into_iter()
        .enumerate()
        .map(|(i, key)| {
            let status = match (pattern >> (2 * (i % 4))) & 3 {
                0 => OutcomeStatus::Done,
                1 => OutcomeStatus::Failed,
                2 => OutcomeStatus::Skipped,
                _ => OutcomeStatus::Unchanged,
            };
            Outcome {
                key: key.to_string(),
                status,
                message: format!("{} by the fuzzer", status.as_str()),
                finished_at: (status != OutcomeStatus::Skipped)
                    .then_some(1_780_000_000_000 + i as u64),
            }
        })
        .collect()
}
