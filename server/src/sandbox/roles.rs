//! The sandbox's CX dashboard roles and their Automatic Role Assignment rules. Qualtrics has no
//! API to read them (they are set up in its UI), so they live in the seed, and role membership
//! is recomputed after every change of directory metadata, as Qualtrics documents it: members
//! added by a rule leave when their metadata stops matching; members added by hand stay.
//!
//! Matching (our reading of Qualtrics' page, the same as the client's documented rules): a
//! role's rules are alternatives; `Equals` compares the whole value exactly; `In` splits the
//! value on `::`, trims each part, and looks for an exact part. Case-sensitive. A missing
//! attribute matches nothing.

use std::collections::BTreeMap;

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
    /// Name.
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
                let kinds = [
                    ("Region", Equals, ["AMER", "EMEA", "APAC"].as_slice()),
                    ("Hotel", In, ["Seattle", "Provo", "Boston"].as_slice()),
                    (
                        "Role",
                        Equals,
                        ["Manager", "Agent", "Analyst", "Housekeeper"].as_slice(),
                    ),
                ];
                let (attr, op, values) = kinds[i % 3];
                let value = values[i % values.len()];
                (
                    format!("{attr} {value} {:03}", i + 1),
                    vec![rule(attr, op, value)],
                )
            }
        };
        roles.push(Role {
            id: super::brand::make_id(rng, "RL_"),
            name,
            rules,
            members: BTreeMap::new(),
        });
    }
    if participants.len() > 10 {
        let mut pick = |role: usize, n: usize, ok: &dyn Fn(&Participant) -> bool| {
            let mut added = 0;
            while added < n {
                let p = &participants[rng.random_range(2..participants.len())];
                if ok(p) && !roles[role].members.contains_key(&p.unique_identifier) {
                    roles[role]
                        .members
                        .insert(p.unique_identifier.clone(), Assignment::Manual);
                    added += 1;
                }
            }
        };
        if count > 5 {
            pick(5, 3, &|_| true);
        }
        if count > 3 {
            pick(3, 2, &|p| {
                p.metadata.get("Region").is_some_and(|r| r != "EMEA")
            });
        }
    }
    roles
}

/// Recomputes every role with a rule over the participants: a match joins as `Auto` (a manual
/// member stays manual); an `Auto` member that no longer matches leaves; manual members stay.
pub fn recompute(roles: &mut [Role], participants: &[Participant]) {
    for role in roles.iter_mut().filter(|r| !r.rules.is_empty()) {
        for p in participants {
            let matches = role.rules.iter().any(|r| r.matches(&p.metadata));
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
        // Participants that no longer exist leave too.
        role.members.retain(|uid, a| {
            *a == Assignment::Manual || participants.iter().any(|p| p.unique_identifier == *uid)
        });
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
}
