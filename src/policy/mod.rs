//! What a run may do, decided before any request: the blast radius of a plan and the policy
//! every host enforces with the same words.
//!
//! Each kind describes the accounts its plan touches as [`Touch`]es; [`assess`] judges them
//! against the credential's own account ([`Actor`], from whoami) and the [`Policy`], and returns
//! the [`BlastRadius`] a host shows beside the plan. The rules:
//!
//! - **Protected accounts.** The credential's own account is never disabled, expired or given
//!   another user type by any run: its row is refused with [`OWN_ACCOUNT`]. Other Brand
//!   Administrators are not disabled, expired or demoted, and no run creates or promotes one,
//!   unless the run's [`Approval`] allows admin changes (a hook's never does).
//! - **The mass-change brake.** A plan that takes access from more than
//!   [`Policy::brake_accounts`] accounts **and** more than [`Policy::brake_share`] of the brand's
//!   active accounts is applied only with a [`Confirmation`]: the typed number of accounts that
//!   lose access, a `--max-changes` limit the plan is within, or an administrator's release of a
//!   quarantined hook burst.
//! - **A suspicious plan.** When more than half of the rows match nobody or have problems, the
//!   plan carries [`SUSPICIOUS`] for hosts to say first.
//!
//! Hosts call nothing here directly: a sheet run judges its plan when it is made and checks the
//! approval in `apply` (see [`crate::run::SheetRun::blast_radius`]).

use serde::Serialize;

use crate::api::users::{UserSummary, Whoami};

/// The built-in user type of Brand Administrators. Whether whoami's `accountType` and the
/// listing's `userType` always carry this id for administrators (and in this case) is
/// unverified (`qualtrics-api.md` §4 has seen it only in a listing), so it is compared ignoring
/// case.
pub const BRAND_ADMIN: &str = "UT_BRANDADMIN";

/// Why the credential's own account is never changed.
pub const OWN_ACCOUNT: &str = "refused: this is the account of the credential in use; no run disables, expires or changes the user type of its own account.";
/// Why another Brand Administrator's row waits for an explicit allowance.
pub const OTHER_ADMIN: &str = "refused: this account is a Brand Administrator; disabling, expiring or demoting one needs \"allow admin changes\" (page: the tick box in the confirmation; CLI: --allow-admin-changes). Hooks never may.";
/// Why a row that makes a Brand Administrator waits for an explicit allowance.
pub const MAKES_ADMIN: &str = "refused: this row makes a Brand Administrator; that needs \"allow admin changes\" (page: the tick box in the confirmation; CLI: --allow-admin-changes). Hooks never may.";
/// What hosts say first about a plan most of whose rows match nobody.
pub const SUSPICIOUS: &str =
    "Most rows match nobody in this brand: is this the right file and brand?";

/// True when `user_type` is the Brand Administrator's (see [`BRAND_ADMIN`]).
#[must_use]
pub fn is_brand_admin(user_type: &str) -> bool {
    user_type.trim().eq_ignore_ascii_case(BRAND_ADMIN)
}

/// The account whose credential a run uses, from whoami.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// Its `UR_` id.
    pub user_id: Option<String>,
    /// Its username.
    pub username: Option<String>,
    /// Its user type.
    pub user_type: Option<String>,
}

impl Actor {
    /// The account that whoami names.
    #[must_use]
    pub fn from_whoami(who: &Whoami) -> Actor {
        Actor {
            user_id: who.user_id.clone(),
            username: who.user_name.clone(),
            user_type: who.account_type.clone(),
        }
    }

    /// True when the account `user_id` / `username` is this one (ids exactly, usernames
    /// ignoring case, as Qualtrics matches logins).
    #[must_use]
    pub fn is(&self, user_id: Option<&str>, username: Option<&str>) -> bool {
        let same_id = matches!((&self.user_id, user_id), (Some(a), Some(b)) if a == b);
        let same_name = matches!((&self.username, username),
            (Some(a), Some(b)) if !a.is_empty() && a.eq_ignore_ascii_case(b.trim()));
        same_id || same_name
    }
}

/// The thresholds of the mass-change brake.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// The brake holds a plan that takes access from more than this many accounts…
    pub brake_accounts: usize,
    /// …and from more than this share (0–1) of the brand's active accounts.
    pub brake_share: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            brake_accounts: 25,
            brake_share: 0.10,
        }
    }
}

/// A limit on a plan's size given ahead (the CLI's `--max-changes`, for cron jobs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Limit {
    /// At most this many rows that change something.
    Changes(usize),
    /// Changes at most this share (0–1) of the brand's active accounts.
    Share(f64),
}

impl Limit {
    /// Reads `N` or `P%` (e.g. `200`, `5%`, `2.5%`).
    ///
    /// # Errors
    /// A message saying what is accepted.
    pub fn parse(text: &str) -> Result<Limit, String> {
        let t = text.trim();
        let bad = || {
            format!("--max-changes takes a number of changes (200) or a share of the brand's active accounts (5%), not \"{t}\".")
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(bad());
            }
            Ok(Limit::Share(p / 100.0))
        } else {
            t.parse().map(Limit::Changes).map_err(|_| bad())
        }
    }

    /// True when `blast` is within this limit.
    #[must_use]
    pub fn allows(&self, blast: &BlastRadius) -> bool {
        match *self {
            Limit::Changes(n) => blast.changes <= n,
            Limit::Share(share) => match blast.active_accounts {
                Some(active) if active > 0 => blast.changes as f64 / active as f64 <= share,
                _ => blast.changes == 0,
            },
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Changes(n) => write!(f, "{n} changes"),
            Limit::Share(s) => write!(f, "{}% of the brand's active accounts", s * 100.0),
        }
    }
}

/// How a plan that the brake holds was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Confirmation {
    /// Not confirmed.
    #[default]
    None,
    /// The administrator typed this number of accounts that lose access.
    TypedCount(usize),
    /// A limit given ahead, which the plan must be within (checked even without the brake).
    MaxChanges(Limit),
    /// An administrator released a quarantined hook burst.
    Released,
}

/// What the one who applies a plan allows: given to `apply`, checked before any request.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Approval {
    /// Disabling, expiring, demoting, creating or promoting other Brand Administrators.
    pub allow_admin_changes: bool,
    /// The confirmation of a plan the brake holds.
    pub confirmation: Confirmation,
}

/// An approval as a page or pane gives it from the confirmation dialog: whether other Brand
/// Administrators may be changed, and the number of accounts that lose access as typed under
/// the brake (none when not asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase", default)]
pub struct ApprovalRequest {
    /// See [`Approval::allow_admin_changes`].
    pub allow_admin_changes: bool,
    /// The number typed under the brake.
    pub confirmed_count: Option<usize>,
}

impl From<ApprovalRequest> for Approval {
    fn from(given: ApprovalRequest) -> Approval {
        Approval {
            allow_admin_changes: given.allow_admin_changes,
            confirmation: given
                .confirmed_count
                .map_or(Confirmation::None, Confirmation::TypedCount),
        }
    }
}

impl Approval {
    /// A hook's: never admin changes, never past the brake.
    #[must_use]
    pub fn hooks() -> Approval {
        Approval::default()
    }

    /// A deliberate mass change of at most `changes` changes, confirmed ahead as a cron job
    /// confirms one (`--max-changes N`); no Brand Administrator changes.
    #[must_use]
    pub fn up_to(changes: usize) -> Approval {
        Approval {
            allow_admin_changes: false,
            confirmation: Confirmation::MaxChanges(Limit::Changes(changes)),
        }
    }

    /// Why `blast` may not be applied with this approval, if so (nothing is sent then).
    #[must_use]
    pub fn refusal(&self, blast: &BlastRadius) -> Option<String> {
        if let Confirmation::MaxChanges(limit) = self.confirmation {
            if !limit.allows(blast) {
                return Some(format!(
                    "Needs confirmation: this plan makes {} changes{}, more than --max-changes allows ({limit}). Nothing was sent.",
                    blast.changes,
                    blast.active_share_text(blast.changes)
                ));
            }
            return None;
        }
        if !blast.brake.needs_confirmation {
            return None;
        }
        match self.confirmation {
            Confirmation::Released => None,
            Confirmation::TypedCount(n) if n == blast.loses_access => None,
            Confirmation::TypedCount(n) => Some(format!(
                "Needs confirmation: {n} is not the number of accounts that lose access ({}). Nothing was sent.",
                blast.loses_access
            )),
            _ => Some(
                blast
                    .brake
                    .message
                    .clone()
                    .unwrap_or_else(|| "Needs confirmation.".into()),
            ),
        }
    }
}

/// One account a plan row touches, as the kind describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    /// The sheet row.
    pub row: u32,
    /// The account, when it exists.
    pub user_id: Option<String>,
    /// Its username, as the brand or the sheet has it.
    pub username: Option<String>,
    /// Its name and e-mail, for people to check.
    pub name: String,
    /// What the row does to it, in words (`disable`, `set expiry 2026-12-05`, `create`…).
    pub change: String,
    /// The row takes access away (disable, or an expiry in the past or within a day).
    pub loses_access: bool,
    /// The account's user type now (none for a new account).
    pub type_before: Option<String>,
    /// The user type the row gives it, when it sets one.
    pub type_after: Option<String>,
}

impl Touch {
    /// A touch of the listed account `user` (`None`: not in the brand yet).
    #[must_use]
    pub fn of(
        row: u32,
        user: Option<&UserSummary>,
        username: Option<&str>,
        change: String,
    ) -> Touch {
        let name = user.map(person).unwrap_or_default();
        Touch {
            row,
            user_id: user.map(|u| u.id.clone()),
            username: user
                .and_then(|u| u.username.clone())
                .or_else(|| username.map(str::to_string)),
            name,
            change,
            loses_access: false,
            type_before: user.and_then(|u| u.user_type.clone()),
            type_after: None,
        }
    }

    fn changes_type(&self) -> bool {
        match (&self.type_after, &self.type_before) {
            (Some(after), Some(before)) => !after.trim().eq_ignore_ascii_case(before.trim()),
            (Some(_), None) => self.user_id.is_some(),
            _ => false,
        }
    }

    fn admin_before(&self) -> bool {
        self.type_before.as_deref().is_some_and(is_brand_admin)
    }

    fn admin_after(&self) -> bool {
        self.type_after.as_deref().is_some_and(is_brand_admin)
    }
}

/// "Jane Doe <jane@example.org>", as people check a list.
#[must_use]
pub fn person(user: &UserSummary) -> String {
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match user.email.as_deref().filter(|e| !e.is_empty()) {
        Some(e) if name.is_empty() => format!("<{e}>"),
        Some(e) => format!("{name} <{e}>"),
        None => name,
    }
}

/// What the policy says of one touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It may go.
    Allowed,
    /// Never: the credential's own account.
    Refused(&'static str),
    /// Only when the approval allows admin changes.
    NeedsAdminAllowance(&'static str),
}

/// The policy's verdict on `touch`, run by a credential of `actor`.
#[must_use]
pub fn judge(touch: &Touch, actor: &Actor) -> Verdict {
    let sensitive = touch.loses_access || touch.changes_type();
    if sensitive && actor.is(touch.user_id.as_deref(), touch.username.as_deref()) {
        return Verdict::Refused(OWN_ACCOUNT);
    }
    if touch.admin_after() && !touch.admin_before() {
        return Verdict::NeedsAdminAllowance(MAKES_ADMIN);
    }
    if touch.admin_before() && (touch.loses_access || touch.changes_type()) {
        return Verdict::NeedsAdminAllowance(OTHER_ADMIN);
    }
    Verdict::Allowed
}

/// An account named in the blast radius.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// The sheet row.
    pub row: u32,
    /// The account.
    pub user_id: Option<String>,
    /// Its username.
    pub username: Option<String>,
    /// Its name and e-mail.
    pub name: String,
    /// What the row does to it.
    pub change: String,
    /// Why it is named (privileged accounts), or the refusal (refused rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// A change of user type to or from Brand Administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct TypeChange {
    /// The sheet row.
    pub row: u32,
    /// The account (none for a new one).
    pub user_id: Option<String>,
    /// Its username.
    pub username: Option<String>,
    /// Its name and e-mail.
    pub name: String,
    /// The user type now (none for a new account).
    pub from: Option<String>,
    /// The user type after.
    pub to: String,
}

/// The brake's state for a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct Brake {
    /// The plan needs a deliberate confirmation.
    pub needs_confirmation: bool,
    /// The brake's account threshold.
    pub accounts: usize,
    /// The brake's share threshold (0–1).
    pub share: f64,
    /// Why, in words, when it holds the plan.
    pub message: Option<String>,
}

/// Everything a plan would do that a person should weigh before applying it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "js"),
    derive(tsify::Tsify),
    tsify(missing_as_null, hashmap_as_object)
)]
#[serde(rename_all = "camelCase")]
pub struct BlastRadius {
    /// Rows in the sheet.
    pub rows: usize,
    /// Rows that will send something.
    pub changes: usize,
    /// Rows per change, in the plan's order.
    pub counts: Vec<(String, usize)>,
    /// Accounts that lose access (disabled, or expiring in the past or within a day).
    pub loses_access: usize,
    /// A few of them, as people check a list.
    pub loses_access_sample: Vec<String>,
    /// The brand's active accounts, when read.
    pub active_accounts: Option<usize>,
    /// `loses_access` as a share (0–1) of the active accounts.
    pub loses_access_share: Option<f64>,
    /// Brand Administrators and the credential's own account, touched by a change.
    pub privileged: Vec<Account>,
    /// Changes of user type to or from Brand Administrator.
    pub admin_type_changes: Vec<TypeChange>,
    /// Rows sent only when the approval allows admin changes.
    pub needs_admin_allowance: Vec<Account>,
    /// Rows the policy refuses outright (never sent).
    pub refused: Vec<Account>,
    /// Rows naming accounts the brand does not have.
    pub not_found: usize,
    /// Rows with problems that keep them from being sent.
    pub problem_rows: usize,
    /// `(not_found + problem_rows) / rows`.
    pub unmatched_share: f64,
    /// More than half of the rows match nobody or have problems.
    pub suspicious: bool,
    /// [`SUSPICIOUS`], when so.
    pub warning: Option<String>,
    /// The mass-change brake.
    pub brake: Brake,
}

/// Samples of names listed at most.
pub const SAMPLE: usize = 10;

/// What a sheet's plan says about itself, beside its touches.
#[derive(Debug, Clone, Default)]
pub struct PlanFacts {
    /// Rows in the sheet.
    pub rows: usize,
    /// Rows that will send something.
    pub changes: usize,
    /// Rows per change.
    pub counts: Vec<(String, usize)>,
    /// Rows naming accounts the brand does not have.
    pub not_found: usize,
    /// Rows with problems that keep them from being sent.
    pub problem_rows: usize,
    /// The brand's active accounts, when read.
    pub active_accounts: Option<usize>,
}

/// The brand's active accounts in a listing.
#[must_use]
pub fn active_accounts(users: &[UserSummary]) -> usize {
    users
        .iter()
        .filter(|u| {
            u.account_status
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case("active"))
        })
        .count()
}

/// Judges every touch: the blast radius, and the rows to refuse now (the credential's own
/// account), each with its reason.
#[must_use]
pub fn assess(
    touches: &[Touch],
    facts: PlanFacts,
    actor: &Actor,
    policy: &Policy,
) -> (BlastRadius, Vec<(u32, &'static str)>) {
    let mut refuse = Vec::new();
    let mut refused = Vec::new();
    let mut needs = Vec::new();
    let mut privileged = Vec::new();
    let mut admin_type_changes = Vec::new();
    let mut loses_access = 0;
    let mut sample = Vec::new();
    let account = |t: &Touch, why: Option<&str>| Account {
        row: t.row,
        user_id: t.user_id.clone(),
        username: t.username.clone(),
        name: t.name.clone(),
        change: t.change.clone(),
        why: why.map(str::to_string),
    };
    for t in touches {
        let verdict = judge(t, actor);
        if let Verdict::Refused(why) = verdict {
            refuse.push((t.row, why));
            refused.push(account(t, Some(why)));
            continue;
        }
        if let Verdict::NeedsAdminAllowance(why) = verdict {
            needs.push(account(t, Some(why)));
        }
        if t.loses_access {
            loses_access += 1;
            if sample.len() < SAMPLE {
                let who = t.username.as_deref().unwrap_or_default();
                sample.push(if t.name.is_empty() {
                    who.to_string()
                } else {
                    format!("{} ({who})", t.name)
                });
            }
        }
        if actor.is(t.user_id.as_deref(), t.username.as_deref()) {
            privileged.push(account(t, Some("the account of the credential in use")));
        } else if t.admin_before() || t.admin_after() {
            privileged.push(account(t, Some("Brand Administrator")));
        }
        if (t.changes_type() && (t.admin_before() || t.admin_after()))
            || (t.user_id.is_none() && t.admin_after())
        {
            admin_type_changes.push(TypeChange {
                row: t.row,
                user_id: t.user_id.clone(),
                username: t.username.clone(),
                name: t.name.clone(),
                from: t.type_before.clone(),
                to: t.type_after.clone().unwrap_or_default(),
            });
        }
    }
    let share = facts
        .active_accounts
        .filter(|n| *n > 0)
        .map(|n| loses_access as f64 / n as f64);
    let over_share = match (share, facts.active_accounts) {
        (Some(s), _) => s > policy.brake_share,
        // Nothing known of the brand: the count alone decides.
        (None, _) => true,
    };
    let needs_confirmation = loses_access > policy.brake_accounts && over_share;
    let unmatched = facts.not_found + facts.problem_rows;
    let unmatched_share = if facts.rows == 0 {
        0.0
    } else {
        unmatched as f64 / facts.rows as f64
    };
    let suspicious = facts.rows > 0 && unmatched * 2 > facts.rows;
    let changes = facts.changes.saturating_sub(refuse.len());
    let mut blast = BlastRadius {
        rows: facts.rows,
        changes,
        counts: facts.counts,
        loses_access,
        loses_access_sample: sample,
        active_accounts: facts.active_accounts,
        loses_access_share: share,
        privileged,
        admin_type_changes,
        needs_admin_allowance: needs,
        refused,
        not_found: facts.not_found,
        problem_rows: facts.problem_rows,
        unmatched_share,
        suspicious,
        warning: suspicious.then(|| SUSPICIOUS.to_string()),
        brake: Brake {
            needs_confirmation,
            accounts: policy.brake_accounts,
            share: policy.brake_share,
            message: None,
        },
    };
    if needs_confirmation {
        blast.brake.message = Some(format!(
            "Needs confirmation: this plan takes access from {loses_access} accounts{}, more than {} accounts and {}% of the brand. Confirm by typing {loses_access}, or give --max-changes. Nothing was sent.",
            blast.active_share_text(loses_access),
            policy.brake_accounts,
            policy.brake_share * 100.0
        ));
    }
    (blast, refuse)
}

impl BlastRadius {
    /// " (12.5% of 240 active accounts)" for `n`, or "" when the brand's size is unknown.
    #[must_use]
    pub fn active_share_text(&self, n: usize) -> String {
        match self.active_accounts {
            Some(active) if active > 0 => format!(
                " ({:.1}% of {active} active accounts)",
                n as f64 * 100.0 / active as f64
            ),
            _ => String::new(),
        }
    }

    /// The blast radius in a few lines, as the CLI prints it before applying.
    #[must_use]
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(w) = &self.warning {
            lines.push(format!(
                "Warning: {w} ({} of {} rows)",
                self.not_found + self.problem_rows,
                self.rows
            ));
        }
        let counts = self
            .counts
            .iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect::<Vec<_>>()
            .join(", ");
        lines.push(format!(
            "Blast radius: {} changes ({counts}).",
            self.changes
        ));
        lines.push(format!(
            "Accounts that lose access: {}{}.",
            self.loses_access,
            self.active_share_text(self.loses_access)
        ));
        if !self.loses_access_sample.is_empty() {
            let more = self.loses_access - self.loses_access_sample.len().min(self.loses_access);
            lines.push(format!(
                "  among them: {}{}",
                self.loses_access_sample.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        for a in &self.privileged {
            lines.push(format!(
                "Privileged account touched: row {}: {} {} ({}): {}",
                a.row,
                a.username.as_deref().unwrap_or_default(),
                a.name,
                a.why.as_deref().unwrap_or_default(),
                a.change
            ));
        }
        for a in &self.needs_admin_allowance {
            lines.push(format!(
                "Needs --allow-admin-changes: row {}: {} ({})",
                a.row,
                a.username.as_deref().unwrap_or_default(),
                a.change
            ));
        }
        for a in &self.refused {
            lines.push(format!(
                "Refused: row {}: {}: {}",
                a.row,
                a.username.as_deref().unwrap_or_default(),
                a.why.as_deref().unwrap_or_default()
            ));
        }
        lines
    }
}

/// A sheet job's policy state: who runs it, the thresholds, and what its plan was judged.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// The credential's own account.
    pub actor: Actor,
    /// The thresholds.
    pub policy: Policy,
    blast: Option<BlastRadius>,
}

impl Guard {
    /// A guard for a run by `actor` under `policy`.
    #[must_use]
    pub fn new(actor: Actor, policy: Policy) -> Guard {
        Guard {
            actor,
            policy,
            blast: None,
        }
    }

    /// Judges a plan just made: keeps its blast radius and returns the rows to refuse now.
    #[must_use = "the refused rows must be taken out of the plan"]
    pub fn judge(&mut self, touches: &[Touch], facts: PlanFacts) -> Vec<(u32, &'static str)> {
        let (blast, refuse) = assess(touches, facts, &self.actor, &self.policy);
        self.blast = Some(blast);
        refuse
    }

    /// The plan's counts after its refused rows were taken out.
    pub fn recount(&mut self, counts: Vec<(String, usize)>) {
        if let Some(b) = self.blast.as_mut() {
            b.counts = counts;
        }
    }

    /// The blast radius of the plan judged last.
    #[must_use]
    pub fn blast(&self) -> Option<&BlastRadius> {
        self.blast.as_ref()
    }

    /// The rows to refuse at apply under `approval`: those that change Brand Administrators
    /// when admin changes are not allowed.
    #[must_use = "the refused rows must be taken out of the plan"]
    pub fn refusals_at_apply(&self, approval: &Approval) -> Vec<(u32, &'static str)> {
        if approval.allow_admin_changes {
            return Vec::new();
        }
        self.blast
            .iter()
            .flat_map(|b| &b.needs_admin_allowance)
            .map(|a| {
                let why = if a.why.as_deref() == Some(MAKES_ADMIN) {
                    MAKES_ADMIN
                } else {
                    OTHER_ADMIN
                };
                (a.row, why)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
