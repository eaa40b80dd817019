//! The sandbox's CX dashboard roles and their Automatic Role Assignment rules. Qualtrics has no
//! API to read them (they are set up in its UI), so they live in the seed, and role membership
//! is recomputed after every change of directory metadata, as Qualtrics documents it: members
//! added by a rule leave when their metadata stops matching; members added by hand stay.
//!
//! Matching (our reading of Qualtrics' page, the same as the client's documented rules): a
//! role's rules are alternatives; `Equals` compares the whole value exactly; `In` splits the
//! value on `::`, trims each part, and looks for an exact part. Case-sensitive. A missing
//! attribute matches nothing.

use std::collections::{BTreeMap, HashSet};

use rand::Rng;
use serde::Serialize;

use super::directory::Participant;

/// How a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RuleOperator {
    /// The whole value.
    Equals,
    /// One `::` part.
    In,
}

/// One Automatic Role Assignment rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRule {
    /// The metadata attribute.
    pub attribute: String,
    /// How it compares.
    pub operator: RuleOperator,
    /// The value looked for.
    pub value: String,
}

impl RoleRule {
    /// Whether this metadata satisfies the rule.
    pub fn matches(&self, metadata: &BTreeMap<String, String>) -> bool {
        let Some(v) = metadata.get(&self.attribute) else {
            return false;
        };
        match self.operator {
            RuleOperator::Equals => *v == self.value,
            RuleOperator::In => v.split("::").map(str::trim).any(|p| p == self.value),
        }
    }
}

/// How a member got into a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Assignment {
    /// By a rule: leaves when the rule stops matching.
    Auto,
    /// By hand: stays.
    Manual,
}

/// A CX dashboard role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    /// `RL_…` id.
    pub id: String,
    /// The role's name as the CX dashboards show it.
    pub name: String,
    /// Rules (alternatives); none for a role assigned by hand only.
    pub rules: Vec<RoleRule>,
    /// Members by participant uniqueIdentifier.
    pub members: BTreeMap<String, Assignment>,
}

fn rule(attribute: &str, operator: RuleOperator, value: &str) -> RoleRule {
    RoleRule {
        attribute: attribute.into(),
        operator,
        value: value.into(),
    }
}

/// Seeds `count` roles: six named ones, then generated ones cycling over the seed attributes.
/// Manual members are drawn from `participants` (three for "Executive Viewers", two whose
/// Region is not EMEA for "EMEA Sales").
pub fn seed_roles(rng: &mut impl Rng, count: usize, participants: &[Participant]) -> Vec<Role> {
    use RuleOperator::{Equals, In};
    let named = [
        ("Seattle Team", vec![rule("Hotel", In, "Seattle")]),
        ("Provo Team", vec![rule("Hotel", In, "Provo")]),
        ("Boston Team", vec![rule("Hotel", In, "Boston")]),
        ("EMEA Sales", vec![rule("Region", Equals, "EMEA")]),
        ("Hotel Managers", vec![rule("Role", Equals, "Manager")]),
        ("Executive Viewers", vec![]),
    ];
    let mut roles: Vec<Role> = Vec::with_capacity(count);
    for i in 0..count {
        let (name, rules) = match named.get(i) {
            Some((n, r)) => (n.to_string(), r.clone()),
            None => {
                // Generated roles cycle over the seed attributes, and within each attribute
                // over its values: Region AMER 007, Hotel Seattle 008, Role Manager 009,
                // Region EMEA 010, …
                let kinds = [
                    ("Region", Equals, ["AMER", "EMEA", "APAC"].as_slice()),
                    ("Hotel", In, ["Seattle", "Provo", "Boston"].as_slice()),
                    (
                        "Role",
                        Equals,
                        ["Manager", "Agent", "Analyst", "Housekeeper"].as_slice(),
                    ),
                ];
                let k = i - named.len();
                let (attr, op, values) = kinds[k % kinds.len()];
                let value = values[(k / kinds.len()) % values.len()];
                (
                    format!("{attr} {value} {:03}", i + 1),
                    vec![rule(attr, op, value)],
                )
            }
        };
        roles.push(Role {
            id: super::ids::make_id(rng, "RL_"),
            name,
            rules,
            members: BTreeMap::new(),
        });
    }
    // Manual members (never the brand administrator's or the standard user's participants,
    // the first two). Drawn without replacement, so a small brand gets fewer, never a hang.
    let mut pick =
        |roles: &mut [Role], role: usize, n: usize, ok: &dyn Fn(&Participant) -> bool| {
            let Some(role) = roles.get_mut(role) else {
                return;
            };
            let mut candidates: Vec<&Participant> =
                participants.iter().skip(2).filter(|p| ok(p)).collect();
            for _ in 0..n.min(candidates.len()) {
                let p = candidates.swap_remove(rng.random_range(0..candidates.len()));
                role.members
                    .insert(p.unique_identifier.clone(), Assignment::Manual);
            }
        };
    pick(&mut roles, 5, 3, &|_| true);
    pick(&mut roles, 3, 2, &|p| {
        p.metadata.get("Region").is_some_and(|r| r != "EMEA")
    });
    roles
}

/// Whether a participant's metadata puts it in a role by rule: the rules are alternatives, so
/// any one matching is enough; a role without rules matches nobody.
#[must_use]
pub fn matches_any(rules: &[RoleRule], metadata: &BTreeMap<String, String>) -> bool {
    rules.iter().any(|r| r.matches(metadata))
}

/// Recomputes every role with at least one rule over the participants: a match joins as
/// `Auto` (a member already there, in particular a manual one, keeps its assignment); an
/// `Auto` member that no longer matches, or whose participant is gone, leaves; manual members
/// always stay, as Qualtrics documents. Roles without rules are left alone.
pub fn recompute(roles: &mut [Role], participants: &[Participant]) {
    let present: HashSet<&str> = participants
        .iter()
        .map(|p| p.unique_identifier.as_str())
        .collect();
    for role in roles.iter_mut().filter(|r| !r.rules.is_empty()) {
        for p in participants {
            let matches = matches_any(&role.rules, &p.metadata);
            match (matches, role.members.get(&p.unique_identifier)) {
                (true, None) => {
                    role.members
                        .insert(p.unique_identifier.clone(), Assignment::Auto);
                }
                (false, Some(Assignment::Auto)) => {
                    role.members.remove(&p.unique_identifier);
                }
                _ => {}
            }
        }
        role.members
            .retain(|uid, a| *a == Assignment::Manual || present.contains(uid.as_str()));
    }
}

/// [`recompute`] for one participant only (a new account's, which no other membership
/// depends on): the same rules, without going over the whole directory.
pub fn recompute_one(roles: &mut [Role], participant: &Participant) {
    for role in roles.iter_mut().filter(|r| !r.rules.is_empty()) {
        let matches = matches_any(&role.rules, &participant.metadata);
        match (matches, role.members.get(&participant.unique_identifier)) {
            (true, None) => {
                role.members
                    .insert(participant.unique_identifier.clone(), Assignment::Auto);
            }
            (false, Some(Assignment::Auto)) => {
                role.members.remove(&participant.unique_identifier);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(uid: &str, meta: &[(&str, &str)]) -> Participant {
        Participant {
            participant_id: format!("P_{uid}"),
            unique_identifier: uid.into(),
            first_name: "A".into(),
            last_name: "B".into(),
            email: format!("{uid}@x.org"),
            username: None,
            user_id: None,
            metadata: meta
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn rules_join_and_leave_auto_members_and_keep_manual_ones() {
        let mut roles = vec![Role {
            id: "RL_1".into(),
            name: "Seattle Team".into(),
            rules: vec![rule("Hotel", RuleOperator::In, "Seattle")],
            members: BTreeMap::from([("m".to_string(), Assignment::Manual)]),
        }];
        let mut people = vec![
            participant("a", &[("Hotel", "Provo:: Seattle ")]),
            participant("b", &[("Hotel", "Seattleite::Provo")]),
            participant("m", &[("Hotel", "Boston")]),
        ];
        recompute(&mut roles, &people);
        let members: Vec<(&str, Assignment)> = roles[0]
            .members
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            members,
            vec![("a", Assignment::Auto), ("m", Assignment::Manual)]
        );
        people[0].metadata.insert("Hotel".into(), "Provo".into());
        people[2].metadata.insert("Hotel".into(), "Seattle".into());
        recompute(&mut roles, &people);
        let members: Vec<(&str, Assignment)> = roles[0]
            .members
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            members,
            vec![("m", Assignment::Manual)],
            "a left; m stays manual"
        );
    }

    #[test]
    fn equals_is_exact_and_case_sensitive() {
        let r = rule("Region", RuleOperator::Equals, "EMEA");
        let m = |v: &str| BTreeMap::from([("Region".to_string(), v.to_string())]);
        assert!(r.matches(&m("EMEA")));
        assert!(!r.matches(&m("emea")));
        assert!(!r.matches(&m("EMEA::AMER")));
        assert!(!r.matches(&BTreeMap::new()));
    }

    #[test]
    fn in_trims_parts_but_never_matches_a_substring_or_a_missing_attribute() {
        let r = rule("Hotel", RuleOperator::In, "Seattle");
        let m = |v: &str| BTreeMap::from([("Hotel".to_string(), v.to_string())]);
        assert!(r.matches(&m("Seattle")));
        assert!(r.matches(&m("Provo::  Seattle ")));
        assert!(r.matches(&m(" Seattle ::Boston")));
        assert!(!r.matches(&m("Seattleite")));
        assert!(!r.matches(&m("Seattleite::Provo")));
        assert!(!r.matches(&m("seattle::Provo")), "case-sensitive");
        assert!(!r.matches(&m("Seattle Provo")), "only :: separates");
        assert!(!r.matches(&BTreeMap::from([(
            "Region".to_string(),
            "Seattle".to_string()
        )])));
        // Equals does not trim: the whole value, exactly.
        let e = rule("Hotel", RuleOperator::Equals, "Seattle");
        assert!(!e.matches(&m(" Seattle")));
    }

    #[test]
    fn rules_are_alternatives_and_roles_without_rules_are_left_alone() {
        let mut roles = vec![
            Role {
                id: "RL_1".into(),
                name: "Either".into(),
                rules: vec![
                    rule("Region", RuleOperator::Equals, "EMEA"),
                    rule("Hotel", RuleOperator::In, "Boston"),
                ],
                members: BTreeMap::new(),
            },
            Role {
                id: "RL_2".into(),
                name: "By hand".into(),
                rules: vec![],
                members: BTreeMap::from([("gone".to_string(), Assignment::Manual)]),
            },
        ];
        let people = vec![
            participant("a", &[("Region", "EMEA")]),
            participant("b", &[("Hotel", "Provo::Boston")]),
            participant("c", &[("Region", "AMER"), ("Hotel", "Provo")]),
        ];
        recompute(&mut roles, &people);
        assert_eq!(
            roles[0]
                .members
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert_eq!(roles[1].members.len(), 1, "no rule: nothing recomputed");
    }

    fn seeded_participants(n: usize) -> Vec<Participant> {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        (0..n)
            .map(|i| {
                let mut p = participant(&format!("U{i:03}"), &[]);
                p.metadata = crate::directory::seed_metadata(&mut rng);
                p
            })
            .collect()
    }

    #[test]
    fn seeded_roles_have_the_named_rules_manual_members_and_generated_names() {
        use rand::SeedableRng;
        let people = seeded_participants(40);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut roles = seed_roles(&mut rng, 10, &people);
        recompute(&mut roles, &people);
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "Seattle Team",
                "Provo Team",
                "Boston Team",
                "EMEA Sales",
                "Hotel Managers",
                "Executive Viewers",
                "Region AMER 007",
                "Hotel Seattle 008",
                "Role Manager 009",
                "Region EMEA 010",
            ]
        );
        assert_eq!(
            roles[1].rules,
            vec![rule("Hotel", RuleOperator::In, "Provo")]
        );
        assert_eq!(
            roles[9].rules,
            vec![rule("Region", RuleOperator::Equals, "EMEA")]
        );
        assert!(roles
            .iter()
            .all(|r| r.id.len() == 18 && r.id.starts_with("RL_")));
        let manual = |r: &Role| -> Vec<String> {
            r.members
                .iter()
                .filter(|(_, a)| **a == Assignment::Manual)
                .map(|(k, _)| k.clone())
                .collect()
        };
        assert!(roles[5].rules.is_empty());
        assert_eq!(manual(&roles[5]).len(), 3);
        assert_eq!(roles[5].members.len(), 3);
        let emea_manual = manual(&roles[3]);
        assert_eq!(emea_manual.len(), 2);
        for uid in &emea_manual {
            let p = people.iter().find(|p| p.unique_identifier == *uid).unwrap();
            assert_ne!(p.metadata["Region"], "EMEA", "manual members are not EMEA");
        }
        let emea_auto = roles[3].members.len() - 2;
        let emea = people
            .iter()
            .filter(|p| p.metadata["Region"] == "EMEA")
            .count();
        assert_eq!(emea_auto, emea, "every EMEA participant joined by rule");
        // A tiny directory gets what it can, without hanging.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let few = seed_roles(&mut rng, 6, &seeded_participants(3));
        assert_eq!(few[5].members.len(), 1);
    }
}
