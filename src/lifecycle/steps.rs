//! Applying a lifecycle plan: one step per row that changes an account (reading it first when
//! the expiry changes), and the undo file of what the steps changed.

use serde::Serialize;

use crate::api::connection::Connection;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::api::users::{self, AccountStatus};
use crate::exec::{OutcomeStatus, Step, StepUpdate};
use crate::sheet::table::{cells, Table};
use crate::time::{Date, UnixMillis};

use super::plan::status_matches;
use super::{ExpiryChange, Plan, UserChange, CLEAR_MARKER};

/// The account state before a run touched it (the undo file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeforeState {
    /// The account.
    pub user_id: String,
    /// Its username.
    pub username: Option<String>,
    /// Status before.
    pub status: Option<String>,
    /// Expiry before (`None` inside when it had none), if the run read it.
    pub expiry: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    ReadUser,
    Update,
}

/// Executor step for one row: read the user first when the expiry changes (to know the
/// previous expiry, for undo), then send only what differs.
#[derive(Debug, Clone)]
pub struct LifecycleStep {
    key: String,
    pub(super) change: UserChange,
    phase: Phase,
    /// The state before, as far as known (filled as the step runs).
    pub before: BeforeState,
    applied: Option<users::UserUpdate>,
}

impl LifecycleStep {
    /// A step for a plan row's change.
    #[must_use]
    pub fn new(key: String, change: UserChange) -> LifecycleStep {
        let phase = if change.expiry.is_some() {
            Phase::ReadUser
        } else {
            Phase::Update
        };
        let before = BeforeState {
            user_id: change.user_id.clone(),
            username: change.username.clone(),
            status: change.status_before.clone(),
            expiry: None,
        };
        LifecycleStep {
            key,
            change,
            phase,
            before,
            applied: None,
        }
    }

    /// True when the step changed the account.
    #[must_use]
    pub fn applied(&self) -> bool {
        self.applied.is_some()
    }

    fn update(&self) -> users::UserUpdate {
        users::UserUpdate {
            status: self.change.status,
            account_expiration_date: None,
            ..Default::default()
        }
    }

    fn update_body(&self) -> Vec<u8> {
        let mut body = serde_json::to_value(self.update()).expect("serialises");
        match self.change.expiry {
            Some(ExpiryChange::Set(d)) => {
                body["accountExpirationDate"] =
                    serde_json::Value::String(d.qualtrics_datetime().to_string());
            }
            Some(ExpiryChange::Clear) => body["accountExpirationDate"] = serde_json::Value::Null,
            None => {}
        }
        serde_json::to_vec(&body).expect("serialises")
    }

    fn done_message(&self) -> String {
        let mut parts = Vec::new();
        match self.change.status {
            Some(AccountStatus::Disabled) => parts.push("disabled".to_string()),
            Some(AccountStatus::Active) => parts.push("re-enabled".to_string()),
            None => {}
        }
        match self.change.expiry {
            Some(ExpiryChange::Set(d)) => parts.push(format!("expires {}", d.iso())),
            Some(ExpiryChange::Clear) => parts.push("expiry removed".to_string()),
            None => {}
        }
        parts.join(", ")
    }
}

impl Step for LifecycleStep {
    fn key(&self) -> &str {
        &self.key
    }

    fn request(&self, conn: &Connection) -> HttpRequest {
        match self.phase {
            Phase::ReadUser => users::get_user_request(conn, &self.change.user_id),
            Phase::Update => {
                let mut req =
                    users::update_user_request(conn, &self.change.user_id, &self.update());
                req.body = Some(self.update_body());
                req
            }
        }
    }

    fn on_response(&mut self, response: &HttpResponse, _now: UnixMillis) -> StepUpdate {
        let id = self.change.user_id.clone();
        match self.phase {
            Phase::ReadUser => match users::parse_get_user(&id, response) {
                Ok(user) => {
                    self.before.status = user.summary.account_status.clone();
                    self.before.expiry = Some(user.summary.account_expiration_date.clone());
                    if let Some(s) = self.change.status {
                        if user
                            .summary
                            .account_status
                            .as_deref()
                            .is_some_and(|c| status_matches(s, c))
                        {
                            self.change.status = None;
                        }
                    }
                    let current = user
                        .summary
                        .account_expiration_date
                        .as_deref()
                        .and_then(Date::parse_iso);
                    let same_expiry = match self.change.expiry {
                        Some(ExpiryChange::Set(d)) => current == Some(d),
                        Some(ExpiryChange::Clear) => user.summary.account_expiration_date.is_none(),
                        None => true,
                    };
                    if same_expiry {
                        self.change.expiry = None;
                    }
                    if self.change.status.is_none() && self.change.expiry.is_none() {
                        return StepUpdate::Finished {
                            status: OutcomeStatus::Unchanged,
                            message: "already in that state".into(),
                        };
                    }
                    self.phase = Phase::Update;
                    StepUpdate::Continue
                }
                Err(e) => StepUpdate::Finished {
                    status: OutcomeStatus::Failed,
                    message: e.to_string(),
                },
            },
            Phase::Update => match users::parse_update_user(&id, response) {
                Ok(()) => {
                    self.applied = Some(self.update());
                    StepUpdate::Finished {
                        status: OutcomeStatus::Done,
                        message: self.done_message(),
                    }
                }
                Err(e) => StepUpdate::Finished {
                    status: OutcomeStatus::Failed,
                    message: e.to_string(),
                },
            },
        }
    }

    fn fingerprint(&self) -> String {
        self.change.fingerprint()
    }
}

/// Executor steps for the rows of a plan that change something, in row order.
#[must_use]
pub fn steps(plan: &Plan) -> Vec<LifecycleStep> {
    plan.rows
        .iter()
        .filter_map(|r| {
            r.change
                .clone()
                .map(|c| LifecycleStep::new(r.key.clone(), c))
        })
        .collect()
}

/// The undo file: the accounts a run changed, as a lifecycle sheet that puts them back as they
/// were when applied.
pub fn before_table(steps: &[&LifecycleStep]) -> Table {
    let rows = steps
        .iter()
        .filter(|s| s.applied())
        .map(|s| {
            let action = match s.before.status.as_deref() {
                Some(st) if st.eq_ignore_ascii_case("disabled") => "disable",
                Some(_) => "enable",
                None => "",
            };
            let expiry = match (&s.change.expiry, &s.before.expiry) {
                (None, _) => String::new(),
                (Some(_), Some(Some(d))) => Date::parse_iso(d)
                    .map(|d| d.iso())
                    .unwrap_or_else(|| d.clone()),
                (Some(_), Some(None)) => CLEAR_MARKER.to_string(),
                (Some(_), None) => String::new(),
            };
            vec![
                s.before.user_id.clone(),
                s.before.username.clone().unwrap_or_default(),
                action.to_string(),
                expiry,
                s.before.status.clone().unwrap_or_default(),
            ]
        })
        .map(cells)
        .collect();
    Table {
        columns: [
            "User ID",
            "Username",
            "Action",
            "Expiration date",
            "Status before",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        row_numbers: Vec::new(),
        lines: Vec::new(),
    }
}
