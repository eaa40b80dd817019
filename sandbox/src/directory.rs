//! The sandbox's CX directory (`/employee-directories/cx/...`): participants with metadata,
//! the paged participant search (skipToken), and asynchronous import jobs that take several
//! polls, fail item by item, honour only the metadata keys common to every participant of a
//! job, delete an attribute on a blank value, and refuse an 11th concurrent job with 409.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::Rng;
use serde_json::{json, Map, Value};

/// A directory participant (a CX dashboard user).
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    /// `P_…`.
    pub participant_id: String,
    /// The directory's key (case-sensitive).
    pub unique_identifier: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// E-mail.
    pub email: String,
    /// Username, when the participant is a platform user.
    pub username: Option<String>,
    /// The platform user's `UR_` id, when it has one.
    pub user_id: Option<String>,
    /// The participant's attributes (metadata), as imports left them.
    pub metadata: BTreeMap<String, String>,
}

impl Participant {
    /// Qualtrics' participant shape (`metadata` only when asked for).
    #[must_use]
    pub fn to_json(&self, include_metadata: bool) -> Value {
        let mut v = json!({
            "participantId": self.participant_id,
            "uniqueIdentifier": self.unique_identifier,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "username": self.username,
            "userId": self.user_id,
        });
        if include_metadata {
            v["metadata"] = json!(self.metadata);
        }
        v
    }
}

/// An import job.
#[derive(Debug, Clone)]
pub struct ImportJob {
    /// Job id.
    pub job_id: String,
    /// Result id, once done.
    pub result_id: String,
    /// Created at.
    pub created: String,
    /// Polls seen so far.
    pub polls: u32,
    /// The participants as sent.
    pub request: Vec<Value>,
    /// Set when the job has run.
    pub result: Option<Value>,
}

/// Polls a job takes before it is done (progress 33 %, 66 %, 100 %).
pub const POLLS_PER_JOB: u32 = 3;
/// Jobs running at once before 409.
pub const MAX_CONCURRENT_JOBS: usize = 10;
/// Finished jobs kept for their results; older ones are forgotten (their ids then answer
/// 404), so a long-running sandbox's memory stays bounded.
pub const MAX_KEPT_JOBS: usize = 1000;

/// The CX directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Participants in creation order.
    pub participants: Vec<Participant>,
    /// Import jobs by id.
    pub jobs: HashMap<String, ImportJob>,
    counter: u64,
    /// Job ids in the order they were made (for forgetting the oldest finished ones).
    job_order: std::collections::VecDeque<String>,
}

impl Directory {
    /// A new participant id.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{:015}", self.counter)
    }

    /// Adds `count` participants without a platform account (as a directory import makes
    /// them), with seeded names and attributes: a big directory beside few users.
    pub fn seed_unlinked(&mut self, seed: u64, count: usize) {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xd1_7ec7);
        for i in 0..count {
            let participant_id = self.next_id("P_");
            self.participants.push(Participant {
                participant_id,
                unique_identifier: format!("DIR{i:07}"),
                first_name: "Directory".into(),
                last_name: format!("Person {i}"),
                email: format!("directory{i}@roster-demo.edu"),
                username: None,
                user_id: None,
                metadata: seed_metadata(&mut rng),
            });
        }
    }

    /// The participant with this unique identifier (case-sensitive, as Qualtrics).
    #[must_use]
    pub fn by_unique_identifier(&self, uid: &str) -> Option<usize> {
        self.participants
            .iter()
            .position(|p| p.unique_identifier == uid)
    }

    /// A page of the participant search, from `skip` (parsed from the skipToken).
    #[must_use]
    pub fn search(
        &self,
        unique_identifier: Option<&str>,
        skip: usize,
        page_size: usize,
        include_metadata: bool,
    ) -> (Vec<Value>, Option<String>) {
        let matching: Vec<&Participant> = self
            .participants
            .iter()
            .filter(|p| unique_identifier.is_none_or(|u| p.unique_identifier == u))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(page_size)
            .map(|p| p.to_json(include_metadata))
            .collect();
        let next = (skip + page_size < matching.len()).then(|| skip_token(skip + page_size));
        (page, next)
    }

    /// Keeps a new job, forgetting the oldest finished jobs beyond [`MAX_KEPT_JOBS`].
    pub fn add_job(&mut self, job: ImportJob) {
        self.job_order.push_back(job.job_id.clone());
        self.jobs.insert(job.job_id.clone(), job);
        while self.jobs.len() > MAX_KEPT_JOBS {
            let Some(pos) = self
                .job_order
                .iter()
                .position(|id| self.jobs.get(id).is_none_or(|j| j.result.is_some()))
            else {
                break; // every kept job is still running (at most MAX_CONCURRENT_JOBS)
            };
            if let Some(id) = self.job_order.remove(pos) {
                self.jobs.remove(&id);
            }
        }
    }

    /// Jobs that have not finished.
    #[must_use]
    pub fn running_jobs(&self) -> usize {
        self.jobs.values().filter(|j| j.result.is_none()).count()
    }

    /// Runs an import: only metadata keys common to every participant are honoured; a blank
    /// value deletes the attribute; each participant needs first and last name, e-mail and
    /// unique identifier. Returns the job result.
    pub fn import(&mut self, job_id: &str, result_id: &str, request: &[Value]) -> Value {
        let common: BTreeSet<String> = {
            let mut sets = request.iter().map(|p| {
                p.get("metadata")
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect::<BTreeSet<_>>())
                    .unwrap_or_default()
            });
            let first = sets.next().unwrap_or_default();
            sets.fold(first, |acc, s| acc.intersection(&s).cloned().collect())
        };
        let mut failed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut ok = 0;
        for p in request {
            let text = |k: &str| {
                p.get(k)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or("")
                    .to_string()
            };
            let uid = p
                .get("uniqueIdentifier")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let missing = ["uniqueIdentifier", "firstName", "lastName", "email"]
                .into_iter()
                .find(|k| text(k).is_empty());
            if let Some(field) = missing {
                failed
                    .entry(format!("Missing required field {field}"))
                    .or_default()
                    .push(uid);
                continue;
            }
            let metadata: Map<String, Value> = p
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let idx = match self.by_unique_identifier(&uid) {
                Some(i) => i,
                None => {
                    let participant_id = self.next_id("P_");
                    self.participants.push(Participant {
                        participant_id,
                        unique_identifier: uid.clone(),
                        first_name: String::new(),
                        last_name: String::new(),
                        email: String::new(),
                        username: None,
                        user_id: None,
                        metadata: BTreeMap::new(),
                    });
                    self.participants.len() - 1
                }
            };
            let target = &mut self.participants[idx];
            target.first_name = text("firstName");
            target.last_name = text("lastName");
            target.email = text("email");
            if !text("username").is_empty() {
                target.username = Some(text("username"));
            }
            for key in &common {
                let value = metadata.get(key).and_then(Value::as_str).unwrap_or("");
                if value.is_empty() {
                    target.metadata.remove(key);
                } else {
                    target.metadata.insert(key.clone(), value.to_string());
                }
            }
            ok += 1;
        }
        let failed_count: usize = failed.values().map(Vec::len).sum();
        json!({
            "jobId": job_id,
            "resultId": result_id,
            "successfulCount": ok,
            "failedCount": failed_count,
            "failed": failed.into_iter().map(|(message, ids)| json!({"message": message, "itemCount": ids.len(), "itemIds": ids})).collect::<Vec<_>>(),
        })
    }
}

/// The opaque skipToken for an offset.
#[must_use]
pub fn skip_token(offset: usize) -> String {
    format!("skp{:x}", offset * 7919 + 13)
}

/// The offset in a skipToken, if it is one of ours.
#[must_use]
pub fn parse_skip_token(token: &str) -> Option<usize> {
    let n = usize::from_str_radix(token.strip_prefix("skp")?, 16).ok()?;
    (n >= 13 && (n - 13) % 7919 == 0).then(|| (n - 13) / 7919)
}

/// Seed attributes for a participant (hotels as a `::` list, a region, a role).
pub fn seed_metadata(rng: &mut impl Rng) -> BTreeMap<String, String> {
    const HOTELS: [&str; 3] = ["Seattle", "Provo", "Boston"];
    const REGIONS: [&str; 3] = ["AMER", "EMEA", "APAC"];
    const ROLES: [&str; 4] = ["Manager", "Agent", "Analyst", "Housekeeper"];
    let mut m = BTreeMap::new();
    let mut hotels: Vec<&str> = HOTELS
        .iter()
        .copied()
        .filter(|_| rng.random_bool(0.4))
        .collect();
    if hotels.is_empty() {
        hotels.push(HOTELS[rng.random_range(0..3)]);
    }
    m.insert("Hotel".to_string(), hotels.join("::"));
    m.insert(
        "Region".to_string(),
        REGIONS[rng.random_range(0..3)].to_string(),
    );
    m.insert(
        "Role".to_string(),
        ROLES[rng.random_range(0..4)].to_string(),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_jobs_beyond_the_limit_are_forgotten_oldest_first() {
        let mut d = Directory::default();
        let job = |n: usize, done: bool| ImportJob {
            job_id: format!("IMJ_{n}"),
            result_id: format!("IMR_{n}"),
            created: String::new(),
            polls: 0,
            request: Vec::new(),
            result: done.then(|| serde_json::json!({})),
        };
        d.add_job(job(0, false));
        for n in 1..=MAX_KEPT_JOBS + 50 {
            d.add_job(job(n, true));
        }
        assert_eq!(d.jobs.len(), MAX_KEPT_JOBS);
        assert!(d.jobs.contains_key("IMJ_0"), "a running job is kept");
        assert!(
            !d.jobs.contains_key("IMJ_1"),
            "the oldest finished one went first"
        );
        assert!(d.jobs.contains_key(&format!("IMJ_{}", MAX_KEPT_JOBS + 50)));
    }

    fn participant(uid: &str, meta: &[(&str, &str)]) -> Value {
        json!({"uniqueIdentifier": uid, "firstName": "A", "lastName": "B", "email": "a@b.c",
               "metadata": meta.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<Map<_, _>>()})
    }

    #[test]
    fn imports_honour_common_keys_and_blank_deletes() {
        let mut d = Directory::default();
        d.import(
            "J1",
            "R1",
            &[participant(
                "E1",
                &[("Hotel", "Seattle"), ("Role", "Agent")],
            )],
        );
        assert_eq!(d.participants[0].metadata.len(), 2);
        // Role is not common to both participants: ignored. Hotel "" deletes.
        let r = d.import(
            "J2",
            "R2",
            &[
                participant("E1", &[("Hotel", ""), ("Role", "Manager")]),
                participant("E2", &[("Hotel", "Provo")]),
            ],
        );
        assert_eq!(r["successfulCount"], 2);
        assert_eq!(
            d.participants[0].metadata.get("Role").map(String::as_str),
            Some("Agent")
        );
        assert!(!d.participants[0].metadata.contains_key("Hotel"));
        assert_eq!(
            d.participants[1].metadata.get("Hotel").map(String::as_str),
            Some("Provo")
        );
        // Per-item failure, grouped by message, keyed by unique identifier.
        let r = d.import(
            "J3",
            "R3",
            &[json!({"uniqueIdentifier": "E3", "firstName": "A", "lastName": "B"})],
        );
        assert_eq!(r["failed"][0]["message"], "Missing required field email");
        assert_eq!(r["failed"][0]["itemIds"][0], "E3");
        // Unique identifiers are case-sensitive.
        assert!(d.by_unique_identifier("e1").is_none());
    }

    #[test]
    fn skip_tokens_round_trip_and_reject_forgeries() {
        assert_eq!(parse_skip_token(&skip_token(25)), Some(25));
        assert_eq!(parse_skip_token("skp1"), None);
        assert_eq!(parse_skip_token("25"), None);
    }
}
