//! The sandbox brand's data, generated deterministically from a seed number.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ids::make_id;

/// Brand id of the sandbox (the `#brandId` suffix of its SSO usernames).
pub const BRAND_ID: &str = "rosterdemo";
/// The datacenter the sandbox brand lives on; other datacenter hosts are "proxied".
pub const HOME_DATACENTER: &str = "iad1";
/// How many users a seeded brand has unless told otherwise.
pub const USER_COUNT: usize = 250;
/// How many groups a seeded brand has unless told otherwise.
pub const GROUP_COUNT: usize = 12;
/// How many CX dashboard roles a seeded brand has unless told otherwise.
pub const ROLE_COUNT: usize = 6;
/// The built-in brand administrator user type.
pub const UT_BRAND_ADMIN: &str = "UT_BRANDADMIN";

/// A user as the sandbox stores it (serialised with Qualtrics' field names).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Qualtrics id (`UR_`, `DV_`, `UT_`, `GR_` + 15 characters).
    pub id: String,
    /// Username (e-mail form, or `number#brandId` for SSO users).
    pub username: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail address.
    pub email: String,
    /// User type id.
    pub user_type: String,
    /// Division id, if the user is in one.
    pub division_id: Option<String>,
    /// `active` or `disabled`.
    pub account_status: String,
    /// Language code.
    pub language: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Created at (ISO date-time).
    pub account_creation_date: String,
    /// Expiry date, if set.
    pub account_expiration_date: Option<String>,
    /// Last login (ISO date-time).
    pub last_login_date: Option<String>,
    /// Password last changed.
    pub password_last_changed_date: Option<String>,
    /// Opted out of Qualtrics e-mails.
    pub unsubscribed: bool,
    /// Password as last set (never returned).
    #[serde(skip)]
    pub password: String,
}

/// A division.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Division {
    /// Qualtrics id (`UR_`, `DV_`, `UT_`, `GR_` + 15 characters).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A user type.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserType {
    /// Qualtrics id (`UR_`, `DV_`, `UT_`, `GR_` + 15 characters).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A group with its members' user ids.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    /// Qualtrics id (`UR_`, `DV_`, `UT_`, `GR_` + 15 characters).
    pub id: String,
    /// Display name.
    pub name: String,
    #[serde(rename = "type")]
    /// Group type id (`GT_…`).
    pub group_type: String,
    /// Division id, if the user is in one.
    pub division_id: Option<String>,
    /// Member user ids (of a manual group; an automatic group's are [`Brand::members_of`]).
    pub members: Vec<String>,
    /// Automatic membership, if any: Qualtrics then decides the members itself.
    #[serde(skip)]
    pub auto: Option<AutoMembership>,
}

/// How an automatic group's members are decided (Qualtrics' brand-wide and division-wide
/// groups, `autoMembership: true` on `GET /groups/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoMembership {
    /// Every user of the brand is a member.
    BrandWide,
    /// Every user of the group's division (`divisionId`) is a member.
    DivisionWide,
}

/// Everything the sandbox brand holds.
#[derive(Debug, Clone)]
pub struct Brand {
    /// The seed it was generated from.
    pub seed: u64,
    /// The brand's divisions (there is no list endpoint: users name them by id).
    pub divisions: Vec<Division>,
    /// User types (no API lists them; kept for validation and tests).
    pub user_types: Vec<UserType>,
    /// Users, in listing order.
    pub users: Vec<User>,
    /// The brand's groups, with their members.
    pub groups: Vec<Group>,
    /// CX dashboard roles with their Automatic Role Assignment rules (no API reads them).
    pub roles: Vec<super::roles::Role>,
    /// The brand administrator's API token (user 0).
    pub admin_token: String,
    /// A standard user's API token (user 1): valid, but not a brand administrator's.
    pub user_token: String,
    /// The CX directory: one participant per user, with attributes.
    pub directory: super::directory::Directory,
    /// Ids handed out after seeding (new users).
    pub minted: u64,
}

const FIRST: &[&str] = &[
    "Ava", "Ben", "Chloé", "Daniel", "Emma", "Farid", "Grace", "Hiro", "Isla", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Pedro", "Quinn", "Rosa", "Søren", "Tara", "Uma", "Victor",
    "Wen", "Xavier", "Yara", "Zoë", "Łukasz", "José", "Aiko", "Mateo", "Nadia", "Omar",
];
const LAST: &[&str] = &[
    "Anderson", "Baker", "Chen", "Dubois", "Evans", "Fischer", "García", "Hansen", "Ito", "Jensen",
    "Kowalski", "Lopez", "Müller", "Nguyen", "O'Brien", "Patel", "Rossi", "Schmidt", "Tanaka",
    "Upton", "Vargas", "Walker", "Young", "Zhang", "Novák", "Silva",
];
const GROUPS: [&str; 12] = [
    "Seattle Hotel",
    "Provo Hotel",
    "Boston Hotel",
    "Front Desk",
    "Housekeeping",
    "Revenue",
    "EMEA Sales",
    "Survey Builders",
    "Dashboard Viewers",
    "IT Admins",
    "Research Office",
    "Alumni Relations",
];
const TIME_ZONES: &[&str] = &[
    "America/Los_Angeles",
    "America/Denver",
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
];
const LANGUAGES: &[&str] = &["en", "en", "en", "de", "fr", "es"];

fn make_token(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..40)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn ascii_fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' => 'e',
            'ø' | 'ö' => 'o',
            'ë' => 'e',
            'ł' | 'Ł' => 'l',
            'á' => 'a',
            'í' => 'i',
            'ü' => 'u',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

impl Brand {
    /// The brand for a seed with [`USER_COUNT`] users.
    #[must_use]
    pub fn seeded(seed: u64) -> Brand {
        Brand::seeded_with(seed, USER_COUNT, GROUP_COUNT, ROLE_COUNT)
    }

    /// The brand for a seed and a number of users (at least 2), groups and roles: the same
    /// arguments always give the same users, ids, memberships and tokens.
    #[must_use]
    pub fn seeded_with(
        seed: u64,
        user_count: usize,
        group_count: usize,
        role_count: usize,
    ) -> Brand {
        let user_count = user_count.max(2);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let divisions: Vec<Division> = ["Arts & Sciences", "Business School", "Medical Center"]
            .iter()
            .map(|name| Division {
                id: make_id(&mut rng, "DV_"),
                name: name.to_string(),
            })
            .collect();
        let mut user_types = vec![UserType {
            id: UT_BRAND_ADMIN.into(),
            name: "Brand Administrator".into(),
        }];
        for name in ["Standard", "Participant", "Researcher"] {
            user_types.push(UserType {
                id: make_id(&mut rng, "UT_"),
                name: name.into(),
            });
        }

        let mut users = Vec::with_capacity(user_count);
        for i in 0..user_count {
            let first = FIRST[rng.random_range(0..FIRST.len())].to_string();
            let last = LAST[rng.random_range(0..LAST.len())].to_string();
            let email = format!(
                "{}.{}{}@roster-demo.edu",
                ascii_fold(&first),
                ascii_fold(&last),
                i
            );
            let sso = i >= 2 && rng.random_bool(0.12);
            let username = if sso {
                format!(
                    "{}#{BRAND_ID}",
                    1_000_000 + rng.random_range(0..9_000_000u32)
                )
            } else {
                email.clone()
            };
            let user_type = match i {
                0 => UT_BRAND_ADMIN.to_string(),
                1 => user_types[1].id.clone(),
                _ => user_types[1 + rng.random_range(0..3)].id.clone(),
            };
            let division_id = if i == 0 || rng.random_bool(0.08) {
                None
            } else {
                Some(divisions[rng.random_range(0..divisions.len())].id.clone())
            };
            let disabled = i >= 2 && rng.random_bool(0.1);
            let created = format!(
                "2023-{:02}-{:02}T09:{:02}:00Z",
                1 + rng.random_range(0..12),
                1 + rng.random_range(0..28),
                rng.random_range(0..60)
            );
            users.push(User {
                id: make_id(&mut rng, "UR_"),
                username,
                first_name: first,
                last_name: last,
                email,
                user_type,
                division_id,
                account_status: if disabled { "disabled" } else { "active" }.into(),
                language: LANGUAGES[rng.random_range(0..LANGUAGES.len())].into(),
                time_zone: TIME_ZONES[rng.random_range(0..TIME_ZONES.len())].into(),
                account_creation_date: created,
                account_expiration_date: None,
                last_login_date: (!disabled).then(|| "2026-10-01T08:00:00Z".to_string()),
                password_last_changed_date: None,
                unsubscribed: false,
                password: String::new(),
            });
        }
        let admin = &mut users[0];
        admin.first_name = "Avery".into();
        admin.last_name = "Admin".into();
        admin.email = "avery.admin@roster-demo.edu".into();
        admin.username = admin.email.clone();

        // About three groups per user in a big brand; 15 % of users per group in a small one.
        let share = (3.0 / group_count.max(1) as f64).min(0.15);
        let groups = (0..group_count)
            .map(|g| {
                let members = users
                    .iter()
                    .filter(|_| rng.random_bool(share))
                    .map(|u| u.id.clone())
                    .collect();
                Group {
                    id: make_id(&mut rng, "GR_"),
                    name: GROUPS
                        .get(g)
                        .map_or_else(|| format!("Team {:03}", g + 1), |n| n.to_string()),
                    group_type: "GT_MANUAL".into(),
                    division_id: (g % 4 == 3).then(|| divisions[g % 3].id.clone()),
                    members,
                    auto: None,
                }
            })
            .collect();

        let admin_token = make_token(&mut rng);
        let user_token = make_token(&mut rng);
        let mut directory = super::directory::Directory::default();
        for u in &users {
            let participant_id = directory.next_id("P_");
            directory.participants.push(super::directory::Participant {
                participant_id,
                unique_identifier: make_id(&mut rng, ""),
                first_name: u.first_name.clone(),
                last_name: u.last_name.clone(),
                email: u.email.clone(),
                username: Some(u.username.clone()),
                user_id: Some(u.id.clone()),
                metadata: super::directory::seed_metadata(&mut rng),
            });
        }
        let mut roles = super::roles::seed_roles(&mut rng, role_count, &directory.participants);
        super::roles::recompute(&mut roles, &directory.participants);
        Brand {
            seed,
            roles,
            divisions,
            user_types,
            users,
            groups,
            admin_token,
            user_token,
            directory,
            minted: 0,
        }
    }

    /// Adds two automatic groups after the seeded ones: "All Staff" (brand-wide) and
    /// "Everyone in Arts & Sciences" (division-wide, the first division). Their ids come from
    /// their own draw, so the rest of the brand is the same with or without them.
    pub fn add_auto_groups(&mut self) {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xa070);
        self.groups.push(Group {
            id: make_id(&mut rng, "GR_"),
            name: "All Staff".into(),
            group_type: "GT_BRAND".into(),
            division_id: None,
            members: Vec::new(),
            auto: Some(AutoMembership::BrandWide),
        });
        let division = &self.divisions[0];
        self.groups.push(Group {
            id: make_id(&mut rng, "GR_"),
            name: format!("Everyone in {}", division.name),
            group_type: "GT_DIVISION".into(),
            division_id: Some(division.id.clone()),
            members: Vec::new(),
            auto: Some(AutoMembership::DivisionWide),
        });
    }

    /// A group's members' user ids: a manual group's as added, an automatic group's as
    /// Qualtrics decides them (every user of the brand, or of the group's division).
    #[must_use]
    pub fn members_of<'a>(&'a self, group: &'a Group) -> Vec<&'a str> {
        match group.auto {
            None => group.members.iter().map(String::as_str).collect(),
            Some(AutoMembership::BrandWide) => self.users.iter().map(|u| u.id.as_str()).collect(),
            Some(AutoMembership::DivisionWide) => self
                .users
                .iter()
                .filter(|u| u.division_id.is_some() && u.division_id == group.division_id)
                .map(|u| u.id.as_str())
                .collect(),
        }
    }

    /// A fresh id (new users, jobs), deterministic from the seed and how many came before.
    pub fn mint_id(&mut self, prefix: &str) -> String {
        self.minted += 1;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ (self.minted << 20) ^ 0x5eed);
        make_id(&mut rng, prefix)
    }

    /// Re-evaluates the roles' rules after a change of directory metadata.
    pub fn recompute_roles(&mut self) {
        super::roles::recompute(&mut self.roles, &self.directory.participants);
    }

    /// [`Brand::recompute_roles`] for the participant of one new account only.
    pub fn recompute_roles_of(&mut self, user_id: &str) {
        if let Some(p) = self
            .directory
            .participants
            .iter()
            .rev()
            .find(|p| p.user_id.as_deref() == Some(user_id))
        {
            super::roles::recompute_one(&mut self.roles, p);
        }
    }

    /// The user a token belongs to, if any.
    #[must_use]
    pub fn user_for_token(&self, token: &str) -> Option<&User> {
        if token == self.admin_token {
            self.users.first()
        } else if token == self.user_token {
            self.users.get(1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic_and_varied() {
        let a = Brand::seeded(1);
        let b = Brand::seeded(1);
        let c = Brand::seeded(2);
        assert_eq!(a.users, b.users);
        assert_eq!(a.admin_token, b.admin_token);
        assert_ne!(a.admin_token, c.admin_token);
        assert_eq!(a.users.len(), USER_COUNT);
        assert_eq!(a.groups.len(), 12);
        assert_eq!(a.divisions.len(), 3);
        assert!(a.users.iter().any(|u| u.account_status == "disabled"));
        assert!(a.users.iter().any(|u| u.username.ends_with("#rosterdemo")));
        let ids: std::collections::HashSet<_> = a.users.iter().map(|u| &u.id).collect();
        assert_eq!(ids.len(), USER_COUNT, "user ids are unique");
        assert!(a
            .users
            .iter()
            .all(|u| u.id.len() == 18 && u.id.starts_with("UR_")));
        assert_eq!(a.users[0].user_type, UT_BRAND_ADMIN);
        assert_ne!(a.users[1].user_type, UT_BRAND_ADMIN);
    }

    #[test]
    fn groups_and_roles_are_deterministic_and_scale() {
        let a = Brand::seeded(1);
        let b = Brand::seeded(1);
        assert_eq!(a.groups, b.groups);
        assert_eq!(a.roles, b.roles);
        assert_eq!(a.roles.len(), ROLE_COUNT);
        assert!(a
            .groups
            .iter()
            .all(|g| g.id.len() == 18 && g.id.starts_with("GR_")));
        // 15 % of the users per group in a small brand.
        let mean = a.groups.iter().map(|g| g.members.len()).sum::<usize>() as f64 / 12.0;
        assert!((25.0..50.0).contains(&mean), "{mean}");
        // About three groups per user in a big one; names beyond the twelve are generated.
        let big = Brand::seeded_with(1, 2000, 300, 9);
        let memberships: usize = big.groups.iter().map(|g| g.members.len()).sum();
        let per_user = memberships as f64 / 2000.0;
        assert!((2.7..3.3).contains(&per_user), "{per_user}");
        assert_eq!(big.groups[12].name, "Team 013");
        assert_eq!(big.groups[299].name, "Team 300");
        assert_eq!(big.roles.len(), 9);
        assert_eq!(big.roles[6].name, "Region AMER 007");
        // The same users whatever the number of groups and roles.
        assert_eq!(
            big.users[..250],
            Brand::seeded_with(1, 2000, 12, 6).users[..250]
        );
    }
}
