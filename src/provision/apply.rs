//! A plan being applied: the account phase, settling creates that got no answer, and the
//! directory import jobs built once the accounts exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::api::directory::{self, ImportParticipant, Participant};
use crate::api::users::{self, UserSummary};
use crate::exec::{Outcome, OutcomeStatus};
use crate::sheet::table::Cell;
use crate::time::UnixMillis;

use super::steps::{AccountStep, CreateResult, ImportStep, ProvisionStep};
use super::{AttrValue, Field, Plan, PlanRow, ProvisionAction, Route};

/// A participant of a job, the row's attribute changes and the participant's current ones.
type JobEntry = (
    ImportParticipant,
    BTreeMap<Cell, AttrValue>,
    BTreeMap<String, String>,
);

/// How one phase of a row (its account, its attributes) ended.
#[derive(Debug, Clone)]
pub(super) struct PhaseEnd {
    pub(super) status: OutcomeStatus,
    pub(super) message: String,
    /// When it ended (for a done phase: when applied).
    pub(super) at: Option<UnixMillis>,
    /// Whether trying again may end otherwise (see [`crate::exec::Outcome::retryable`]).
    pub(super) retryable: bool,
}

impl PhaseEnd {
    fn new(
        status: OutcomeStatus,
        message: String,
        at: Option<UnixMillis>,
        retryable: bool,
    ) -> Self {
        PhaseEnd {
            status,
            message,
            at,
            retryable,
        }
    }
}

/// One row's progress: each phase's result, and the keys learnt.
#[derive(Debug, Clone, Default)]
pub(super) struct RowProgress {
    pub(super) account: Option<PhaseEnd>,
    pub(super) import: Option<PhaseEnd>,
    pub(super) user_id: Option<String>,
    pub(super) unique_identifier: Option<String>,
    pub(super) uncertain: bool,
}

/// A provisioning plan being applied, with every row's progress. The run
/// ([`crate::run::ProvisionJob`]) calls, in order: [`ProvisionApply::account_steps`] (runs
/// them), [`ProvisionApply::record`], then while [`ProvisionApply::uncertain`] is not empty:
/// lists the users and [`ProvisionApply::resolve_uncertain`] (runs the retries it returns and
/// records them); then, if [`ProvisionApply::needs_participants`] (or the plan was made
/// without the directory: [`ProvisionApply::replan`] once it is read), lists the directory; then
/// [`ProvisionApply::import_steps`] (runs, records); hosts read [`ProvisionApply::outcomes`].
#[derive(Debug, Clone)]
pub struct ProvisionApply {
    /// The plan being applied.
    pub plan: Plan,
    pub(super) progress: BTreeMap<Cell, RowProgress>,
    retried: BTreeSet<Cell>,
}

impl ProvisionApply {
    /// A run of `plan`.
    #[must_use]
    pub fn new(plan: Plan) -> ProvisionApply {
        let progress = plan
            .rows
            .iter()
            .map(|r| {
                (
                    r.key(),
                    RowProgress {
                        user_id: r.user_id.clone(),
                        unique_identifier: r.unique_identifier.clone(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        ProvisionApply {
            plan,
            progress,
            retried: BTreeSet::new(),
        }
    }

    fn account_step(row: &PlanRow) -> Option<AccountStep> {
        let create = row.actions.contains(&ProvisionAction::Create);
        let update = row.actions.contains(&ProvisionAction::Update);
        if !create && !update {
            return None;
        }
        let mut body = serde_json::Map::new();
        if create {
            for (f, v) in row.fields.iter() {
                if *f != Field::UniqueIdentifier {
                    body.insert(f.api_name().into(), v.as_str().into());
                }
            }
        } else {
            for (f, _, new) in &row.field_changes {
                body.insert(f.to_string(), new.as_str().into());
            }
        }
        Some(AccountStep {
            key: row.key().to_string(),
            username: row.username().to_string(),
            user_id: row.user_id.clone(),
            body,
            create,
            result: CreateResult::default(),
        })
    }

    /// The account phase (route "account + attributes"): creates and field updates.
    pub fn account_steps(&self) -> Vec<ProvisionStep> {
        if self.plan.route != Route::AccountAndAttributes {
            return Vec::new();
        }
        self.plan
            .rows
            .iter()
            .filter_map(Self::account_step)
            .map(ProvisionStep::Account)
            .collect()
    }

    /// Takes a finished phase's steps and outcomes.
    pub fn record<'a>(
        &mut self,
        steps: impl IntoIterator<Item = &'a ProvisionStep>,
        outcomes: &[Outcome],
    ) {
        let by_key: HashMap<&str, &Outcome> =
            outcomes.iter().map(|o| (o.key.as_str(), o)).collect();
        for step in steps {
            match step {
                ProvisionStep::Account(s) => {
                    let p = self.progress.entry(Cell::new(&s.key)).or_default();
                    if let Some(o) = by_key.get(s.key.as_str()) {
                        p.account = Some(PhaseEnd::new(
                            o.status,
                            o.message.clone(),
                            o.finished_at,
                            o.retryable,
                        ));
                    }
                    p.uncertain = s.result.uncertain;
                    if let Some(id) = &s.result.user_id {
                        p.user_id = Some(id.clone());
                    }
                }
                ProvisionStep::Import(s) => {
                    let outcome = by_key.get(s.key.as_str());
                    for participant in &s.participants {
                        let Some(row) = self.plan.rows.iter().find(|r| {
                            r.sends()
                                && self.progress[&r.key()].unique_identifier.as_deref()
                                    == Some(participant.unique_identifier.as_str())
                        }) else {
                            continue;
                        };
                        let p = self
                            .progress
                            .get_mut(&row.key())
                            .expect("every row has progress");
                        p.import = Some(
                            match (outcome, s.failures.get(&participant.unique_identifier)) {
                                // The job refused this participant's values: so would another.
                                (_, Some(message)) => PhaseEnd::new(
                                    OutcomeStatus::Failed,
                                    format!("directory import: {message}"),
                                    None,
                                    false,
                                ),
                                (Some(o), None) if o.status == OutcomeStatus::Done => {
                                    PhaseEnd::new(
                                        OutcomeStatus::Done,
                                        "attributes set".into(),
                                        o.finished_at,
                                        false,
                                    )
                                }
                                (Some(o), None) => PhaseEnd::new(
                                    o.status,
                                    o.message.clone(),
                                    o.finished_at,
                                    o.retryable,
                                ),
                                (None, None) => PhaseEnd::new(
                                    OutcomeStatus::Skipped,
                                    "not sent: the run ended before the directory import".into(),
                                    None,
                                    true,
                                ),
                            },
                        );
                    }
                }
            }
        }
    }

    /// Usernames of creates that got no answer.
    #[must_use]
    pub fn uncertain(&self) -> Vec<String> {
        self.plan
            .rows
            .iter()
            .filter(|r| self.progress[&r.key()].uncertain)
            .map(|r| r.username().to_string())
            .collect()
    }

    /// Settles uncertain creates with a fresh listing of the brand's users: an account that now
    /// exists was created (its id is taken from the listing); the others are tried once more,
    /// with the steps returned.
    #[must_use = "the returned steps are the retries: dropping them leaves those rows unsent"]
    pub fn resolve_uncertain(&mut self, users: &[UserSummary]) -> Vec<ProvisionStep> {
        let by_name = users::by_username(users);
        let mut retries = Vec::new();
        for row in &self.plan.rows {
            let p = self
                .progress
                .get_mut(&row.key())
                .expect("every row has progress");
            if !p.uncertain {
                continue;
            }
            p.uncertain = false;
            match by_name.get(&row.username().to_lowercase()) {
                Some(u) => {
                    p.user_id = Some(u.id.clone());
                    let at = p.account.as_ref().and_then(|a| a.at);
                    p.account = Some(PhaseEnd::new(
                        OutcomeStatus::Done,
                        format!(
                            "account {} created (its answer was lost; confirmed in the user list)",
                            u.id
                        ),
                        at,
                        false,
                    ));
                }
                None if self.retried.insert(row.key()) => {
                    if let Some(step) = Self::account_step(row) {
                        retries.push(ProvisionStep::Account(step));
                    }
                }
                None => {
                    let at = p.account.as_ref().and_then(|a| a.at);
                    p.account = Some(PhaseEnd::new(
                        OutcomeStatus::Failed,
                        "not created: Qualtrics did not answer the create, twice, and the user list does not show the account; plan again to try once more".into(),
                        at,
                        true,
                    ));
                }
            }
        }
        retries
    }

    /// Ends the creates still uncertain when no check of the user list can be made (`why`: the
    /// list could not be read, the run was stopped): their rows say so, and that planning again
    /// settles them, instead of promising a check that will not happen.
    pub fn settle_unchecked(&mut self, why: &str) {
        for p in self.progress.values_mut().filter(|p| p.uncertain) {
            p.uncertain = false;
            let at = p.account.as_ref().and_then(|a| a.at);
            p.account = Some(PhaseEnd::new(
                OutcomeStatus::Failed,
                format!("Qualtrics did not answer the create and whether the account was made could not be checked ({why}): plan again to see; an account that exists plans as unchanged, so nobody is created twice"),
                at,
                true,
            ));
        }
    }

    /// The user ids of the accounts this run created (for [`ProvisionApply::replan`]: their
    /// directory participants are new, so a plan of the brand as it was leaves them out).
    #[must_use]
    pub fn created_user_ids(&self) -> BTreeSet<String> {
        self.plan
            .rows
            .iter()
            .filter(|r| r.actions.contains(&ProvisionAction::Create))
            .filter_map(|r| self.progress[&r.key()].user_id.clone())
            .collect()
    }

    /// Takes `plan`, the same sheet planned again once the directory was read (after the
    /// accounts were sent, by a run that read it only then): the rows `self.plan` refused or
    /// found invalid stay as they were, every other row takes the new plan's attributes and
    /// keys; the progress so far is kept.
    pub fn replan(&mut self, mut plan: Plan) {
        for (new, old) in plan.rows.iter_mut().zip(&self.plan.rows) {
            if old.key() != new.key()
                || old.actions.contains(&ProvisionAction::Refused)
                || old.actions.contains(&ProvisionAction::Invalid)
            {
                *new = old.clone();
            }
            let p = self
                .progress
                .get_mut(&new.key())
                .expect("every row has progress");
            if p.unique_identifier.is_none() {
                p.unique_identifier.clone_from(&new.unique_identifier);
            }
            if p.user_id.is_none() {
                p.user_id.clone_from(&new.user_id);
            }
        }
        super::recount(&mut plan);
        self.plan = plan;
    }

    /// True when new accounts need attributes: their uniqueIdentifier must be looked up.
    #[must_use]
    pub fn needs_participants(&self) -> bool {
        self.plan.route == Route::AccountAndAttributes
            && self.plan.rows.iter().any(|r| {
                let p = &self.progress[&r.key()];
                r.actions.contains(&ProvisionAction::SetAttributes)
                    && p.unique_identifier.is_none()
                    && p.user_id.is_some()
            })
    }

    /// True when `row` goes through a directory import: every row sent by the directory
    /// route, the rows with attributes on the account route.
    fn wants_import(&self, row: &PlanRow) -> bool {
        match self.plan.route {
            Route::DirectoryImport => row.sends(),
            Route::AccountAndAttributes => row.actions.contains(&ProvisionAction::SetAttributes),
        }
    }

    /// Ends every row still waiting for its attributes as failed with `message` (the directory
    /// could not be read, so no import job can be made).
    pub fn fail_imports(&mut self, message: &str) {
        for row in &self.plan.rows {
            let wants_import = self.wants_import(row);
            let p = self
                .progress
                .get_mut(&row.key())
                .expect("every row has progress");
            let account_failed = p
                .account
                .as_ref()
                .is_some_and(|a| a.status == OutcomeStatus::Failed);
            if wants_import && p.import.is_none() && !account_failed {
                // The directory could not be read (no answer, a stop): another try may.
                p.import = Some(PhaseEnd::new(
                    OutcomeStatus::Failed,
                    message.to_string(),
                    None,
                    true,
                ));
            }
        }
    }

    /// The import jobs, from a listing of the directory (taken after the accounts exist):
    /// every participant of a job carries the same metadata keys.
    #[must_use = "the returned steps are the import jobs: dropping them leaves the attributes unset"]
    pub fn import_steps(&mut self, participants: &[Participant]) -> Vec<ProvisionStep> {
        let by_user: HashMap<&str, &Participant> = participants
            .iter()
            .filter_map(|p| p.user_id.as_deref().map(|id| (id, p)))
            .collect();
        let by_name = directory::by_username(participants);
        let by_uid: HashMap<&str, &Participant> = participants
            .iter()
            .map(|p| (p.unique_identifier.as_str(), p))
            .collect();
        let mut entries: Vec<JobEntry> = Vec::new();
        for row in &self.plan.rows {
            let wants_import = self.wants_import(row);
            if !wants_import {
                continue;
            }
            let p = self
                .progress
                .get_mut(&row.key())
                .expect("every row has progress");
            if p.account
                .as_ref()
                .is_some_and(|a| a.status == OutcomeStatus::Failed)
            {
                continue; // the account could not be made: no attributes
            }
            let found = p
                .unique_identifier
                .as_deref()
                .and_then(|u| by_uid.get(u).copied())
                .or_else(|| p.user_id.as_deref().and_then(|id| by_user.get(id).copied()))
                .or_else(|| by_name.get(&row.username().to_lowercase()).copied());
            let uid = match (self.plan.route, found) {
                (Route::DirectoryImport, _) => row.unique_identifier.clone(),
                (_, Some(f)) => Some(f.unique_identifier.clone()),
                (_, None) => None,
            };
            let Some(uid) = uid else {
                p.import = Some(PhaseEnd::new(OutcomeStatus::Failed, "no CX directory participant was found for this account, so its attributes could not be set; check that CX user admin is on for the brand".into(), None, false));
                continue;
            };
            p.unique_identifier = Some(uid.clone());
            let field = |f: Field, current: Option<&Option<String>>| {
                row.fields
                    .get(&f)
                    .map(Cell::to_string)
                    .or_else(|| current.cloned().flatten())
                    .unwrap_or_default()
            };
            let participant = ImportParticipant {
                unique_identifier: uid,
                first_name: field(Field::FirstName, found.map(|f| &f.first_name)),
                last_name: field(Field::LastName, found.map(|f| &f.last_name)),
                email: field(Field::Email, found.map(|f| &f.email)),
                username: (!row.username().is_empty()).then(|| row.username().to_string()),
                metadata: BTreeMap::new(),
            };
            entries.push((
                participant,
                row.attributes
                    .iter()
                    .map(|a| (a.name.clone(), a.value.clone()))
                    .collect(),
                found.map(|f| f.metadata.clone()).unwrap_or_default(),
            ));
        }
        let mut steps = Vec::new();
        for (n, chunk) in entries.chunks(self.plan.job_size.max(1)).enumerate() {
            let keys: BTreeSet<&Cell> = chunk
                .iter()
                .flat_map(|(_, changes, _)| changes.keys())
                .collect();
            let participants = chunk
                .iter()
                .map(|(p, changes, current)| {
                    let mut p = p.clone();
                    for key in &keys {
                        let value = match changes.get(*key) {
                            Some(AttrValue::Set(v)) => v.to_string(),
                            Some(AttrValue::Clear) => String::new(),
                            None => current.get(key.as_str()).cloned().unwrap_or_default(),
                        };
                        p.metadata.insert(key.to_string(), value);
                    }
                    p
                })
                .collect();
            steps.push(ProvisionStep::Import(ImportStep::new(
                format!("import:{}", n + 1),
                participants,
            )));
        }
        steps
    }
}
