//! Every kind of step a run sends, as one type, so that one executor carries a run through all
//! its phases (reading the brand, then applying).

use super::connect::ConnectStep;
use crate::api::connection::Connection;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::users::UserSummary;
use crate::exec::reads::{ListingStep, Record, RecordStep};
use crate::exec::{Outcome, OutcomeStatus, Step, StepUpdate};
use crate::lifecycle::LifecycleStep;
use crate::membership::GroupMemberStep;
use crate::provision::ProvisionStep;
use crate::time::UnixMillis;

/// A step of any phase of any run.
#[derive(Debug, Clone)]
pub enum RunStep {
    /// Reads a listing to its end.
    Listing(ListingStep),
    /// Reads one record by id (a division's name, a user's expiry).
    Record(RecordStep),
    /// Disables, re-enables or sets the expiry of one account.
    Lifecycle(LifecycleStep),
    /// Creates or updates one account, or runs one directory import job.
    Provision(ProvisionStep),
    /// Adds a user to a group or removes them.
    Group(GroupMemberStep),
    /// Asks for an OAuth token, or who the credential belongs to (connecting).
    Connect(ConnectStep),
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            RunStep::Listing($s) => $e,
            RunStep::Record($s) => $e,
            RunStep::Lifecycle($s) => $e,
            RunStep::Provision($s) => $e,
            RunStep::Group($s) => $e,
            RunStep::Connect($s) => $e,
        }
    };
}

impl Step for RunStep {
    fn key(&self) -> &str {
        each!(self, s => s.key())
    }
    fn request(&self, conn: &Connection) -> HttpRequest {
        each!(self, s => s.request(conn))
    }
    fn on_response(&mut self, response: &HttpResponse, now: UnixMillis) -> StepUpdate {
        each!(self, s => s.on_response(response, now))
    }
    fn fingerprint(&self) -> String {
        each!(self, s => s.fingerprint())
    }
    fn on_ambiguous_failure(&mut self, why: &str) -> Option<StepUpdate> {
        each!(self, s => s.on_ambiguous_failure(why))
    }
    fn on_halted(&self, reason: &str) -> (OutcomeStatus, String) {
        each!(self, s => s.on_halted(reason))
    }
    fn concurrency_group(&self) -> Option<(&'static str, usize)> {
        each!(self, s => s.concurrency_group())
    }
    fn takes_refusals(&self) -> bool {
        each!(self, s => s.takes_refusals())
    }
}

/// The finished listings of a phase, with their outcomes.
pub(crate) fn listings(finished: Vec<(RunStep, Outcome)>) -> Vec<(ListingStep, Outcome)> {
    finished
        .into_iter()
        .filter_map(|(s, o)| match s {
            RunStep::Listing(l) => Some((l, o)),
            _ => None,
        })
        .collect()
}

/// The finished record reads of a phase, with their outcomes.
pub(crate) fn records(finished: Vec<(RunStep, Outcome)>) -> Vec<(RecordStep, Outcome)> {
    finished
        .into_iter()
        .filter_map(|(s, o)| match s {
            RunStep::Record(r) => Some((r, o)),
            _ => None,
        })
        .collect()
}

/// One `GET /divisions/{id}` per division `users` are in whose id is not in `known` (there is
/// no list of divisions: a run that needs their names reads the ones its users name).
pub(crate) fn division_reads(
    users: &[UserSummary],
    known: &std::collections::BTreeSet<String>,
) -> Vec<RunStep> {
    let ids: std::collections::BTreeSet<&str> = users
        .iter()
        .filter_map(|u| u.division_id.as_deref())
        .filter(|id| !id.is_empty() && !known.contains(*id))
        .collect();
    ids.into_iter()
        .map(|id| RunStep::Record(RecordStep::division(id)))
        .collect()
}

/// The names the finished division reads found, as (`DV_…` id, name); a division that could
/// not be read is left out.
pub(crate) fn division_names(
    finished: Vec<(RunStep, Outcome)>,
) -> impl Iterator<Item = (String, String)> {
    finished.into_iter().filter_map(|(step, _)| match step {
        RunStep::Record(d) => {
            let id = d.id().to_string();
            match d.found {
                Some(Record::Division(name)) => Some((id, name)),
                _ => None,
            }
        }
        _ => None,
    })
}

/// The first failed listing's message, as "Reading the users stopped: …".
pub(crate) fn failed_listing(finished: &[(ListingStep, Outcome)]) -> Option<String> {
    finished
        .iter()
        .find(|(_, o)| o.status != OutcomeStatus::Done)
        .map(|(s, o)| format!("Reading {} stopped: {}", what(s.key()), o.message))
}

fn what(key: &str) -> String {
    match key {
        "users" => "the brand's users".into(),
        "groups" => "the brand's groups".into(),
        "directory" => "the CX directory".into(),
        other => match other.strip_prefix("group:") {
            Some(id) => format!("the members of group {id}"),
            None => other.to_string(),
        },
    }
}
