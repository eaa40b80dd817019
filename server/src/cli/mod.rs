//! `qualtrics-roster`: the command-line tool, for unattended runs (cron, a CRM or HR hook).
//! It runs the same core as the Excel add-in and the page: the same row validation, plans,
//! executor (rate limits, retries, journal, audit), and outcome tables.
//!
//! Exit codes: [`EXIT_DONE`], [`EXIT_SOME_FAILED`], [`EXIT_NOTHING_SENT`], [`EXIT_AUTH`],
//! [`EXIT_UNREACHABLE`].

pub mod session;
pub mod sheets;

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qualtrics_roster::exec::{AuditEntry, ExecConfig, Executor, Outcome, OutcomeStatus, Step};
use qualtrics_roster::lifecycle::{self, Action, LifecycleOptions};
use qualtrics_roster::membership::{self, MembershipRun, Snapshot, TeamFilter};
use qualtrics_roster::provision::{self, ProvisionOptions, ProvisionRun, Route};
use qualtrics_roster::rules::{self, MatchOptions, RoleSheet};
use qualtrics_roster::table::{cells, Cell, Table};
use qualtrics_roster::time::Date;
use qualtrics_roster::users;
use serde::Serialize;
use serde_json::{json, Value};

use crate::client::{unix_millis, Control};
use session::Session;
use sheets::{AppendFile, Input, Kind};

/// Every row done (or already as wanted).
pub const EXIT_DONE: i32 = 0;
/// Some rows failed or were skipped; the others were applied.
pub const EXIT_SOME_FAILED: i32 = 1;
/// Nothing was sent: the input is invalid (a missing file, unreadable rows, bad arguments).
pub const EXIT_NOTHING_SENT: i32 = 2;
/// The credentials are missing or were refused.
pub const EXIT_AUTH: i32 = 3;
/// Qualtrics could not be reached or failed.
pub const EXIT_UNREACHABLE: i32 = 4;

/// A failure that ends the command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Bad input: nothing was sent.
    #[error("{0}")]
    Input(String),
    /// Missing or refused credentials.
    #[error("{0}")]
    Auth(String),
    /// Qualtrics unreachable or failing.
    #[error("{0}")]
    Unreachable(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Input(_) => EXIT_NOTHING_SENT,
            CliError::Auth(_) => EXIT_AUTH,
            CliError::Unreachable(_) => EXIT_UNREACHABLE,
        }
    }
}

/// qualtrics-roster: Qualtrics user and role administration from sheets, without a person in
/// the loop.
#[derive(Parser, Debug)]
#[command(
    name = "qualtrics-roster",
    version,
    about = "Qualtrics user and role administration from sheets, without a person in the loop: the same checks, plans and executor as the Excel add-in.",
    after_help = "Credentials come from the environment or a file, never from arguments:\n  QUALTRICS_API_TOKEN                          a Brand Administrator's API token, or\n  QUALTRICS_CLIENT_ID + QUALTRICS_CLIENT_SECRET  an OAuth client (client credentials), or\n  --credentials FILE (chmod 600)               lines api_token = …  or  client_id = … / client_secret = …\n\nExit codes: 0 all done · 1 some rows failed · 2 nothing sent (invalid input) · 3 credentials missing or refused · 4 Qualtrics unreachable"
)]
pub struct Cli {
    /// Where to connect.
    #[command(flatten)]
    pub target: Target,
    /// Print one JSON document on stdout (for scripts) instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar and no notes on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where to connect and how.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The brand's datacenter id (iad1, fra1…). Without it, Qualtrics is asked (whoami).
    #[arg(long, env = "QUALTRICS_DATACENTER", global = true)]
    pub datacenter: Option<String>,
    /// Call this API base URL instead of https://{datacenter}.qualtrics.com/API/v3 (the sandbox:
    /// http://localhost:8080/sandbox/API/v3).
    #[arg(
        long,
        env = "QUALTRICS_BASE_URL",
        global = true,
        conflicts_with = "relay"
    )]
    pub base_url: Option<String>,
    /// Go through a qualtrics-roster relay (http://host:8080/relay).
    #[arg(long, env = "QUALTRICS_RELAY", global = true)]
    pub relay: Option<String>,
    /// A credentials file (must not be readable by other users).
    #[arg(long, env = "QUALTRICS_CREDENTIALS_FILE", global = true)]
    pub credentials: Option<PathBuf>,
    /// OAuth scopes to ask for, space-separated.
    #[arg(
        long,
        env = "QUALTRICS_OAUTH_SCOPE",
        default_value = "manage:all",
        global = true
    )]
    pub scope: String,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Who the credential belongs to, and the brand's datacenter.
    Whoami,
    /// The brand's users.
    Users {
        /// What to do with users.
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Checks a sheet's rows without contacting Qualtrics (no credentials needed).
    Validate(SheetArgs),
    /// Plans a sheet against the brand: what apply would do, row by row. Sends no change.
    Plan {
        /// The sheet.
        #[command(flatten)]
        sheet: SheetArgs,
        /// Write the Plan table to this .csv or .xlsx file.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Plans a sheet and applies it; every row gets an outcome.
    Apply(ApplyArgs),
    /// Groups and roles.
    Roles {
        /// What to do with roles.
        #[command(subcommand)]
        command: RolesCommand,
    },
    /// Prints (or writes) an empty sheet of a kind with one example row.
    Template {
        /// Which sheet.
        kind: Kind,
        /// Write it to this .csv or .xlsx file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// `users` subcommands.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Lists every user of the brand.
    List {
        /// Write the list to this .csv or .xlsx file.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// `roles` subcommands.
#[derive(Subcommand, Debug)]
pub enum RolesCommand {
    /// Who is in which group and role (roles computed from the Roles sheet's rules).
    Pull {
        /// The Roles sheet (Role, Attribute, Operator, Value).
        #[arg(long)]
        roles: Option<String>,
        /// Only users whose attributes match, e.g. "Hotel = Seattle".
        #[arg(long, default_value = "")]
        filter: String,
        /// Compare rule values ignoring case.
        #[arg(long)]
        case_insensitive: bool,
        /// Write Membership, Matrix and Counts to this .xlsx file (or the Membership table to .csv).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// A sheet and how to read and plan it.
#[derive(Args, Debug, Clone)]
pub struct SheetArgs {
    /// The sheet: .csv / .txt (any encoding and delimiter the page reads) or .xlsx; `-` reads
    /// rows from stdin, as JSON (an object or an array of objects) or CSV.
    pub file: String,
    /// Which sheet it is (by default, told by its columns).
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// The worksheet of an .xlsx file (by default the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Lifecycle: the action for rows without an Action cell.
    #[arg(long, value_parser = ["disable", "enable"])]
    pub default_action: Option<String>,
    /// Provisioning: "account" (create the user, then its attributes) or "directory"
    /// (a directory import with the sheet's own uniqueIdentifier).
    #[arg(long, value_parser = ["account", "directory"], default_value = "account")]
    pub route: String,
    /// Provisioning: a user type name and its id, NAME=UT_… (repeat for several).
    #[arg(long = "user-type", value_name = "NAME=UT_ID")]
    pub user_types: Vec<String>,
    /// Provisioning: participants per directory import job.
    #[arg(long, default_value_t = 100)]
    pub job_size: usize,
    /// Membership: the Roles sheet (Role, Attribute, Operator, Value).
    #[arg(long)]
    pub roles: Option<String>,
    /// Membership: compare rule values ignoring case.
    #[arg(long)]
    pub case_insensitive: bool,
}

/// `apply` arguments.
#[derive(Args, Debug, Clone)]
pub struct ApplyArgs {
    /// The sheet.
    #[command(flatten)]
    pub sheet: SheetArgs,
    /// Write the input with each row's outcome beside it to this .csv or .xlsx file.
    #[arg(long)]
    pub outcomes: Option<PathBuf>,
    /// Append every request sent (method, path, status, time; never a credential) as JSON
    /// Lines to this file.
    #[arg(long)]
    pub audit: Option<PathBuf>,
    /// The journal of finished rows (default: FILE.journal beside a file; none for stdin).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Finish an interrupted run: rows its journal lists are not sent again.
    #[arg(long)]
    pub resume: bool,
}

/// Runs the command line; returns the exit code.
pub async fn main(cli: Cli) -> i32 {
    let json = cli.json;
    let out = Output {
        json,
        quiet: cli.quiet,
    };
    match run(&cli, &out).await {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            if json || sheets::JSON_STDIN.load(Ordering::SeqCst) {
                println!("{}", json!({"error": e.to_string(), "exitCode": code}));
            }
            eprintln!("qualtrics-roster: {e}");
            code
        }
    }
}

/// How to talk to the person or program that called.
struct Output {
    json: bool,
    quiet: bool,
}

impl Output {
    fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    fn print_json(&self, value: &Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("JSON values serialise")
        );
    }
}

async fn run(cli: &Cli, out: &Output) -> Result<i32, CliError> {
    match &cli.command {
        Command::Template { kind, output } => template(*kind, output.as_deref(), out),
        Command::Validate(sheet) => validate(sheet, out),
        Command::Whoami => {
            let session = open(&cli.target, out).await?;
            let who = &session.who;
            if out.json {
                out.print_json(&json!({
                    "brandId": who.brand_id, "userId": who.user_id, "userName": who.user_name,
                    "datacenter": who.datacenter, "apiBase": session.conn.url(""),
                    "auth": if session.tokens.is_some() { "oauth" } else { "api token" },
                }));
            } else {
                println!(
                    "{} · brand {} · datacenter {} · {}",
                    who.user_name
                        .as_deref()
                        .or(who.user_id.as_deref())
                        .unwrap_or("?"),
                    who.brand_id.as_deref().unwrap_or("?"),
                    who.datacenter.as_deref().unwrap_or("?"),
                    session.conn.url("")
                );
            }
            Ok(EXIT_DONE)
        }
        Command::Users {
            command: UsersCommand::List { output },
        } => {
            let mut session = open(&cli.target, out).await?;
            let list = session
                .listing(|t, conn| async move { t.list_users(&conn).await })
                .await?;
            if let Some(path) = output {
                sheets::write_table(path, "Users", &users::users_table(&list))?;
            }
            if out.json {
                out.print_json(&json!({"count": list.len(), "users": list}));
            } else {
                if output.is_none() {
                    print!(
                        "{}",
                        sheets::text_table(&users::users_table(&list), Some(50))
                    );
                }
                println!("{} users", list.len());
            }
            Ok(EXIT_DONE)
        }
        Command::Plan { sheet, output } => {
            let input = sheets::read_input(&sheet.file, sheet.sheet.as_deref())?;
            let out = &Output {
                json: out.json || input.json,
                quiet: out.quiet,
            };
            let kind = kind_of(sheet, &input, out);
            let mut session = open(&cli.target, out).await?;
            let mut runner = Runner::new(&mut session, out, None, None);
            let planned = plan(&mut runner, kind, sheet, &input.table, &[]).await?;
            drop(runner);
            if let Some(path) = output {
                sheets::write_table(path, "Plan", &planned.table())?;
            }
            report_plan(&planned, &input, kind, out, output.is_none());
            Ok(if planned.has_problems() {
                EXIT_NOTHING_SENT
            } else {
                EXIT_DONE
            })
        }
        Command::Apply(args) => apply(cli, args, out).await,
        Command::Roles {
            command:
                RolesCommand::Pull {
                    roles,
                    filter,
                    case_insensitive,
                    output,
                },
        } => {
            let roles = read_roles(roles.as_deref())?;
            let filter = TeamFilter::parse(filter).map_err(CliError::Input)?;
            let mut session = open(&cli.target, out).await?;
            let mut runner = Runner::new(&mut session, out, None, None);
            let snapshot = pull(&mut runner).await?;
            drop(runner);
            let options = MatchOptions {
                case_sensitive: !case_insensitive,
            };
            let tables = membership::pull_tables(&snapshot, &roles, filter.as_ref(), options)
                .map_err(CliError::Input)?;
            let counts = Table {
                columns: ["Group or role", "Kind", "Members"]
                    .map(String::from)
                    .to_vec(),
                rows: tables
                    .counts
                    .iter()
                    .map(|c| {
                        vec![
                            c.name.clone(),
                            c.kind.clone(),
                            if c.unreadable {
                                "(no rule: not readable)".into()
                            } else {
                                c.members.to_string()
                            },
                        ]
                    })
                    .map(cells)
                    .collect(),
                row_numbers: Vec::new(),
            };
            if let Some(path) = output {
                sheets::write_tables(
                    path,
                    &[
                        ("Membership", &tables.long),
                        ("Matrix", &tables.matrix),
                        ("Counts", &counts),
                    ],
                )?;
            }
            if out.json {
                out.print_json(&json!({
                    "users": tables.users, "requests": tables.requests, "counts": tables.counts,
                    "notes": tables.notes, "membership": tables.long, "matrix": tables.matrix,
                }));
            } else {
                print!("{}", sheets::text_table(&counts, None));
                println!(
                    "{} users · {} membership rows · {} requests",
                    tables.users,
                    tables.long.rows.len(),
                    tables.requests
                );
                for n in &tables.notes {
                    out.note(n);
                }
            }
            Ok(EXIT_DONE)
        }
    }
}

async fn open(target: &Target, out: &Output) -> Result<Session, CliError> {
    let session = Session::open(target).await?;
    for n in &session.notes {
        out.note(n);
    }
    Ok(session)
}

fn kind_of(sheet: &SheetArgs, input: &Input, out: &Output) -> Kind {
    let kind = sheet
        .kind
        .unwrap_or_else(|| Kind::detect(&input.table.columns));
    out.note(&format!(
        "{} from {}: {} sheet{}",
        rows(input.table.rows.len()),
        input.description,
        kind.as_str(),
        if sheet.kind.is_some() {
            ""
        } else {
            " (from its columns; --kind to say otherwise)"
        }
    ));
    for n in &input.notes {
        out.note(n);
    }
    kind
}

fn read_roles(path: Option<&str>) -> Result<RoleSheet, CliError> {
    let Some(path) = path else {
        return Ok(RoleSheet::default());
    };
    let input = sheets::read_input(path, None)?;
    let roles = rules::read_role_sheet(&input.table);
    if let Some(p) = roles.problems.first() {
        return Err(CliError::Input(format!(
            "{path}: row {}: {}",
            p.row, p.message
        )));
    }
    Ok(roles)
}

fn template(kind: Kind, output: Option<&Path>, out: &Output) -> Result<i32, CliError> {
    let table = match kind {
        Kind::Lifecycle => Table {
            columns: ["Username", "Action", "Expiration date"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                ["ana.lopez@example.com", "disable", ""]
                    .map(Cell::new)
                    .to_vec(),
                ["UR_0123456789abcde", "", "2027-06-30"]
                    .map(Cell::new)
                    .to_vec(),
            ],
            row_numbers: Vec::new(),
        },
        Kind::Provision => provision::template(),
        Kind::Membership => membership::desired_template(),
    };
    match output {
        Some(path) => sheets::write_table(path, kind.as_str(), &table)?,
        None if out.json => out.print_json(&json!(table)),
        None => print!("{}", table.to_csv().trim_start_matches('\u{feff}')),
    }
    Ok(EXIT_DONE)
}

/// "1 row", "2 rows".
fn rows(n: usize) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

// ---- Planning ----

/// A plan of any kind.
enum Planned {
    Lifecycle(lifecycle::Plan),
    Provision(ProvisionRun),
    Membership(Box<MembershipRun>),
}

/// One problem row.
#[derive(Serialize)]
struct Problem {
    row: u32,
    message: String,
}

impl Planned {
    fn counts(&self) -> Vec<(String, usize)> {
        match self {
            Planned::Lifecycle(p) => p.counts.clone(),
            Planned::Provision(r) => r.plan.counts.clone(),
            Planned::Membership(r) => r.plan.counts(),
        }
    }

    fn changes(&self) -> usize {
        match self {
            Planned::Lifecycle(p) => p.changes(),
            Planned::Provision(r) => r.plan.changes(),
            Planned::Membership(r) => r.plan.changes(),
        }
    }

    fn file_errors(&self) -> Vec<String> {
        match self {
            Planned::Lifecycle(p) => p.file_error.iter().cloned().collect(),
            Planned::Provision(r) => r
                .plan
                .file_errors
                .iter()
                .map(|d| d.message.clone())
                .collect(),
            Planned::Membership(r) => r.plan.file_errors.clone(),
        }
    }

    /// Rows that will not be sent because of what they say (not "not found" rows of a
    /// lifecycle sheet, which are facts about the brand).
    fn problems(&self, include_not_found: bool) -> Vec<Problem> {
        match self {
            Planned::Lifecycle(p) => p
                .rows
                .iter()
                .filter(|r| {
                    r.action == lifecycle::PlanAction::Invalid
                        || (include_not_found && r.action == lifecycle::PlanAction::NotFound)
                })
                .map(|r| Problem {
                    row: r.row,
                    message: r.message.clone(),
                })
                .collect(),
            Planned::Provision(run) => run
                .plan
                .rows
                .iter()
                .filter(|r| r.actions.contains(&provision::ProvisionAction::Invalid))
                .map(|r| Problem {
                    row: r.row,
                    message: r.message(),
                })
                .collect(),
            Planned::Membership(run) => run
                .plan
                .rows
                .iter()
                .filter(|r| r.action == membership::ChangeAction::Invalid)
                .map(|r| Problem {
                    row: r.row,
                    message: r.reason.clone(),
                })
                .collect(),
        }
    }

    fn has_problems(&self) -> bool {
        !self.file_errors().is_empty() || !self.problems(false).is_empty()
    }

    fn table(&self) -> Table {
        match self {
            Planned::Lifecycle(p) => lifecycle::plan_table(p),
            Planned::Provision(r) => provision::plan_table(&r.plan),
            Planned::Membership(r) => membership::change_plan_table(&r.plan),
        }
    }
}

fn lifecycle_options(sheet: &SheetArgs) -> LifecycleOptions {
    LifecycleOptions {
        default_action: sheet.default_action.as_deref().and_then(Action::parse),
        today: Date::from_unix_millis(unix_millis()),
    }
}

fn provision_options(
    sheet: &SheetArgs,
    divisions: BTreeMap<String, String>,
) -> Result<ProvisionOptions, CliError> {
    let mut user_types = BTreeMap::new();
    for pair in &sheet.user_types {
        let Some((name, id)) = pair.split_once('=') else {
            return Err(CliError::Input(format!(
                "--user-type {pair:?}: give NAME=UT_ID, e.g. --user-type \"Participant=UT_abc123\"."
            )));
        };
        user_types.insert(name.trim().to_lowercase(), id.trim().to_string());
    }
    Ok(ProvisionOptions {
        route: if sheet.route == "directory" {
            Route::DirectoryImport
        } else {
            Route::AccountAndAttributes
        },
        today: Date::from_unix_millis(unix_millis()),
        user_types,
        divisions,
        job_size: sheet.job_size.max(1),
    })
}

fn matching(sheet: &SheetArgs) -> MatchOptions {
    MatchOptions {
        case_sensitive: !sheet.case_insensitive,
    }
}

/// `validate`: the plan against an empty brand, reporting only what the rows themselves get
/// wrong. A membership sheet's rows name users and groups, so only its columns are checked.
fn validate(sheet: &SheetArgs, out: &Output) -> Result<i32, CliError> {
    let input = sheets::read_input(&sheet.file, sheet.sheet.as_deref())?;
    let out = &Output {
        json: out.json || input.json,
        quiet: out.quiet,
    };
    let kind = kind_of(sheet, &input, out);
    let table = &input.table;
    let planned = match kind {
        Kind::Lifecycle => {
            Planned::Lifecycle(lifecycle::plan(table, &[], &[], &lifecycle_options(sheet)))
        }
        Kind::Provision => Planned::Provision(ProvisionRun::new(provision::plan(
            table,
            &[],
            &[],
            &[],
            &provision_options(sheet, BTreeMap::new())?,
        ))),
        Kind::Membership => {
            let roles = read_roles(sheet.roles.as_deref())?;
            let plan = membership::plan_changes(
                table,
                &roles,
                &Snapshot::default(),
                matching(sheet),
                Date::from_unix_millis(unix_millis()),
            );
            let mut run = MembershipRun::new(plan);
            run.plan.rows.clear();
            Planned::Membership(Box::new(run))
        }
    };
    let file_errors = planned.file_errors();
    let problems = planned.problems(false);
    if out.json {
        out.print_json(&json!({
            "kind": kind, "file": input.description, "rows": table.rows.len(),
            "invalid": problems.len(), "fileErrors": file_errors, "problems": problems,
        }));
    } else {
        for e in &file_errors {
            println!("{e}");
        }
        for p in &problems {
            println!("row {}: {}", p.row, p.message);
        }
        println!(
            "{} · {} invalid{}",
            rows(table.rows.len()),
            problems.len(),
            if kind == Kind::Membership {
                " (membership rows are checked against the brand by plan)"
            } else {
                ""
            }
        );
    }
    Ok(if file_errors.is_empty() && problems.is_empty() {
        EXIT_DONE
    } else {
        EXIT_NOTHING_SENT
    })
}

/// Reads the brand and plans `table`.
async fn plan(
    runner: &mut Runner<'_>,
    kind: Kind,
    sheet: &SheetArgs,
    table: &Table,
    journal: &[qualtrics_roster::exec::JournalEntry],
) -> Result<Planned, CliError> {
    Ok(match kind {
        Kind::Lifecycle => {
            let users = runner
                .session
                .listing(|t, conn| async move { t.list_users(&conn).await })
                .await?;
            Planned::Lifecycle(lifecycle::plan(
                table,
                &users,
                journal,
                &lifecycle_options(sheet),
            ))
        }
        Kind::Provision => {
            let users = runner
                .session
                .listing(|t, conn| async move { t.list_users(&conn).await })
                .await?;
            let participants = runner
                .session
                .listing(|t, conn| async move { t.list_participants(&conn).await })
                .await?;
            let divisions = division_names(runner.session, &users).await;
            let options = provision_options(sheet, divisions)?;
            Planned::Provision(ProvisionRun::new(provision::plan(
                table,
                &users,
                &participants,
                journal,
                &options,
            )))
        }
        Kind::Membership => {
            let roles = read_roles(sheet.roles.as_deref())?;
            let snapshot = pull(runner).await?;
            Planned::Membership(Box::new(MembershipRun::new(membership::plan_changes(
                table,
                &roles,
                &snapshot,
                matching(sheet),
                Date::from_unix_millis(unix_millis()),
            ))))
        }
    })
}

/// Division names of the divisions the brand's users are in (there is no list endpoint: one
/// GET each); a division that cannot be read is left out.
async fn division_names(
    session: &mut Session,
    users: &[users::UserSummary],
) -> BTreeMap<String, String> {
    let ids: BTreeSet<&String> = users
        .iter()
        .filter_map(|u| u.division_id.as_ref())
        .collect();
    let mut names = BTreeMap::new();
    for id in ids {
        let Ok(conn) = session.fresh_conn().await else {
            break;
        };
        if let Ok(response) = session
            .transport
            .send(&users::get_division_request(&conn, id))
            .await
        {
            if let Ok(name) = users::parse_division_name(&response) {
                names.insert(name.to_lowercase(), id.clone());
            }
        }
    }
    names
}

/// Reads users, groups with members and directory participants (the membership pull).
async fn pull(runner: &mut Runner<'_>) -> Result<Snapshot, CliError> {
    let conn = runner.session.fresh_conn().await?;
    let exec = runner
        .phase(membership::pull_steps(&conn), "reading")
        .await?;
    let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
    check_stopped(&exec)?;
    let mut snapshot =
        Snapshot::from_first_phase(exec.steps(), &outcomes).map_err(CliError::Unreachable)?;
    let steps = membership::member_steps(&conn, &snapshot.group_list());
    if steps.is_empty() {
        snapshot.pages.insert("members".into(), 0);
        return Ok(snapshot);
    }
    let exec = runner.phase(steps, "group members").await?;
    check_stopped(&exec)?;
    let outcomes: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
    snapshot
        .add_members(exec.steps(), &outcomes)
        .map_err(CliError::Unreachable)?;
    Ok(snapshot)
}

fn check_stopped<S: Step>(exec: &Executor<S>) -> Result<(), CliError> {
    match exec.stop_reason() {
        Some(why) => Err(CliError::Auth(
            why.trim_start_matches("not sent: ").to_string(),
        )),
        None => Ok(()),
    }
}

fn report_plan(planned: &Planned, input: &Input, kind: Kind, out: &Output, print_table: bool) {
    let counts = planned.counts();
    let file_errors = planned.file_errors();
    let problems = planned.problems(true);
    if out.json {
        out.print_json(&json!({
            "kind": kind, "file": input.description, "rows": input.table.rows.len(),
            "counts": counts.iter().cloned().collect::<BTreeMap<String, usize>>(),
            "changes": planned.changes(), "fileErrors": file_errors, "problems": problems,
            "plan": planned.table(),
        }));
        return;
    }
    if print_table && file_errors.is_empty() {
        print!("{}", sheets::text_table(&planned.table(), Some(50)));
    }
    for e in &file_errors {
        println!("{e}");
    }
    for p in problems.iter().take(50) {
        println!("row {}: {}", p.row, p.message);
    }
    println!("{}", summary_line(&counts, input.table.rows.len()));
}

fn summary_line(counts: &[(String, usize)], count: usize) -> String {
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    format!(
        "{}: {}",
        rows(count),
        if parts.is_empty() {
            "nothing planned".to_string()
        } else {
            parts.join(" · ")
        }
    )
}

// ---- Applying ----

/// Runs executor phases with a progress bar, the journal and the audit log, and stops
/// sending on Ctrl-C.
struct Runner<'a> {
    session: &'a mut Session,
    bar: ProgressBar,
    journal: Option<AppendFile>,
    audit_file: Option<AppendFile>,
    audit: Vec<AuditEntry>,
    interrupted: Arc<AtomicBool>,
    requests: u64,
    stopped: Option<String>,
}

impl<'a> Runner<'a> {
    fn new(
        session: &'a mut Session,
        out: &Output,
        journal: Option<AppendFile>,
        audit_file: Option<AppendFile>,
    ) -> Runner<'a> {
        let draw = if out.quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), draw);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {pos}/{len} · {msg} · {elapsed_precise}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                eprintln!("\nStopping: requests on their way are finished, rows not yet sent are skipped.");
            }
        });
        Runner {
            session,
            bar,
            journal,
            audit_file,
            audit: Vec::new(),
            interrupted,
            requests: 0,
            stopped: None,
        }
    }

    /// Runs `steps` to the end and hands back the executor with their outcomes.
    async fn phase<S: Step>(
        &mut self,
        steps: Vec<S>,
        label: &str,
    ) -> Result<Executor<S>, CliError> {
        let conn = self.session.fresh_conn().await?;
        let mut exec = Executor::new(conn, steps, ExecConfig::default(), unix_millis());
        if self.session.tokens.is_some() {
            exec = exec.renew_credentials_on_401();
        }
        if self.interrupted.load(Ordering::SeqCst) {
            exec.cancel(unix_millis());
        }
        let total = exec.progress(unix_millis()).total as u64;
        self.bar.set_prefix(label.to_string());
        self.bar.set_length(total);
        self.bar.set_position(0);
        let (bar, journal, audit_file, audit, interrupted) = (
            &self.bar,
            &mut self.journal,
            &mut self.audit_file,
            &mut self.audit,
            &self.interrupted,
        );
        let mut sync = |exec: &mut Executor<S>| {
            let p = exec.progress(unix_millis());
            bar.set_position((p.total - p.remaining) as u64);
            bar.set_message(format!(
                "{} done · {} unchanged · {} failed · {:.0}/s",
                p.done, p.unchanged, p.failed, p.rate_per_second
            ));
            let entries = exec.take_journal();
            if let Some(j) = journal.as_mut() {
                j.append(&sheets::journal_lines(&entries));
            }
            let taken = exec.take_audit();
            if let Some(a) = audit_file.as_mut() {
                a.append(&lifecycle::audit_jsonl(&taken));
            }
            audit.extend(taken);
            if interrupted.load(Ordering::SeqCst) {
                Control::Cancel
            } else {
                Control::Continue
            }
        };
        self.session
            .transport
            .clone()
            .run_renewing(&mut exec, self.session.tokens.as_ref(), &mut sync)
            .await;
        sync(&mut exec);
        self.requests += exec.progress(unix_millis()).requests_sent;
        if let Some(why) = exec.stop_reason() {
            self.stopped.get_or_insert_with(|| why.to_string());
        }
        self.bar.finish_and_clear();
        Ok(exec)
    }

    fn cancelled(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst) || self.stopped.is_some()
    }
}

/// One row's outcome, for JSON.
#[derive(Serialize)]
#[serde(untagged)]
enum RowOutcome {
    Lifecycle(lifecycle::RowOutcome),
    Provision(provision::RowOutcome),
    Membership(membership::ChangeOutcome),
}

impl RowOutcome {
    fn status(&self) -> OutcomeStatus {
        match self {
            RowOutcome::Lifecycle(o) => o.status,
            RowOutcome::Provision(o) => o.status,
            RowOutcome::Membership(o) => o.status,
        }
    }

    fn row_and_message(&self) -> (u32, &str) {
        match self {
            RowOutcome::Lifecycle(o) => (o.row, &o.message),
            RowOutcome::Provision(o) => (o.row, &o.message),
            RowOutcome::Membership(o) => (o.row, &o.message),
        }
    }
}

async fn apply(cli: &Cli, args: &ApplyArgs, out: &Output) -> Result<i32, CliError> {
    let sheet = &args.sheet;
    let input = sheets::read_input(&sheet.file, sheet.sheet.as_deref())?;
    let out = &Output {
        json: out.json || input.json,
        quiet: out.quiet,
    };
    let kind = kind_of(sheet, &input, out);
    let journal_path = args
        .journal
        .clone()
        .or_else(|| (sheet.file != "-").then(|| PathBuf::from(format!("{}.journal", sheet.file))));
    let journal = match &journal_path {
        Some(path) => sheets::read_journal(path)?,
        None => Vec::new(),
    };
    if !journal.is_empty() && !args.resume {
        let path = journal_path.as_ref().expect("read from it").display();
        return Err(CliError::Input(format!(
            "An earlier run of this sheet did not finish ({} rows are in its journal {path}): run again with --resume to finish it without repeating them, or delete {path} to start over. Nothing was sent.",
            journal.len()
        )));
    }
    let journal_file = journal_path.as_deref().map(AppendFile::open).transpose()?;
    let audit_file = args.audit.as_deref().map(AppendFile::open).transpose()?;
    let mut session = open(&cli.target, out).await?;
    let mut runner = Runner::new(&mut session, out, journal_file, audit_file);
    let planned = plan(&mut runner, kind, sheet, &input.table, &journal).await?;
    if !journal.is_empty() {
        out.note(&format!(
            "Resuming: {} rows finished by the earlier run are not sent again.",
            journal.len()
        ));
    }
    out.note(&summary_line(&planned.counts(), input.table.rows.len()));
    let (outcomes, table): (Vec<RowOutcome>, Table) = match planned {
        Planned::Lifecycle(plan) => {
            let exec = runner.phase(lifecycle::steps(&plan), "changes").await?;
            let executed: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
            let outcomes = lifecycle::outcomes(&plan, &executed);
            let table = lifecycle::outcome_table(&input.table, &outcomes);
            (
                outcomes.into_iter().map(RowOutcome::Lifecycle).collect(),
                table,
            )
        }
        Planned::Provision(mut run) => {
            apply_provision(&mut runner, &mut run).await?;
            let outcomes = run.outcomes();
            let table = provision::outcome_table(&input.table, &outcomes);
            (
                outcomes.into_iter().map(RowOutcome::Provision).collect(),
                table,
            )
        }
        Planned::Membership(mut run) => {
            let steps = run.group_steps();
            if !steps.is_empty() {
                let exec = runner.phase(steps, "groups").await?;
                let executed: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
                run.record_groups(&executed);
            }
            if let Some(mut prov) = run.attributes.take() {
                if !runner.cancelled() {
                    apply_provision(&mut runner, &mut prov).await?;
                }
                run.attributes = Some(prov);
            }
            let outcomes = run.outcomes();
            let table = membership::outcome_table(&input.table, &outcomes);
            (
                outcomes.into_iter().map(RowOutcome::Membership).collect(),
                table,
            )
        }
    };
    let requests = runner.requests;
    let stopped = runner.stopped.clone();
    drop(runner);
    if let Some(path) = &args.outcomes {
        sheets::write_table(path, "Outcomes", &table)?;
    }
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        *tally.entry(o.status().as_str()).or_default() += 1;
    }
    let all_done = outcomes
        .iter()
        .all(|o| matches!(o.status(), OutcomeStatus::Done | OutcomeStatus::Unchanged));
    let code = if all_done {
        EXIT_DONE
    } else if stopped.is_some() {
        EXIT_AUTH
    } else if requests == 0 {
        EXIT_NOTHING_SENT
    } else {
        EXIT_SOME_FAILED
    };
    let interrupted = stopped.is_some()
        || outcomes
            .iter()
            .any(|o| o.status() == OutcomeStatus::Skipped);
    if !interrupted {
        if let Some(path) = &journal_path {
            // Every row has its final outcome (failed ones included): the next run of the
            // same file (tomorrow night's) starts afresh. A killed, stopped or cancelled run
            // keeps its journal for --resume.
            let _ = std::fs::remove_file(path);
        }
    }
    if out.json {
        out.print_json(&json!({
            "kind": kind, "file": input.description, "exitCode": code,
            "summary": tally, "requests": requests, "stopped": stopped, "rows": outcomes,
        }));
    } else {
        for o in &outcomes {
            if matches!(o.status(), OutcomeStatus::Failed | OutcomeStatus::Skipped) {
                let (row, message) = o.row_and_message();
                println!("row {row}: {message}");
            }
        }
        let parts: Vec<String> = tally.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "{}: {} · {requests} request{}",
            rows(outcomes.len()),
            parts.join(" · "),
            if requests == 1 { "" } else { "s" }
        );
        if let Some(why) = &stopped {
            println!("The run stopped: {}", why.trim_start_matches("not sent: "));
        }
    }
    Ok(code)
}

/// The provisioning phases, as the page runs them: accounts, a listing to settle answers that
/// were lost (so nobody is created twice), then the directory imports.
async fn apply_provision(runner: &mut Runner<'_>, run: &mut ProvisionRun) -> Result<(), CliError> {
    let steps = run.account_steps();
    if !steps.is_empty() {
        let exec = runner.phase(steps, "accounts").await?;
        let executed: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        run.record(exec.steps(), &executed);
    }
    for _ in 0..2 {
        if run.uncertain().is_empty() || runner.cancelled() {
            break;
        }
        let users = runner
            .session
            .listing(|t, conn| async move { t.list_users(&conn).await })
            .await?;
        let retries = run.resolve_uncertain(&users);
        let exec = runner.phase(retries, "accounts (retry)").await?;
        let executed: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        run.record(exec.steps(), &executed);
    }
    if runner.cancelled() {
        return Ok(());
    }
    let participants = runner
        .session
        .listing(|t, conn| async move { t.list_participants(&conn).await })
        .await?;
    let jobs = run.import_steps(&participants);
    if !jobs.is_empty() {
        let exec = runner.phase(jobs, "attributes").await?;
        let executed: Vec<Outcome> = exec.outcomes().flatten().cloned().collect();
        run.record(exec.steps(), &executed);
    }
    Ok(())
}
