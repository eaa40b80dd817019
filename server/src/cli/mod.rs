//! `qualtrics-roster`: the command-line tool, for unattended runs (cron, a CRM or HR hook).
//! It runs the same core as the Excel add-in and the page: the same row validation, plans,
//! executor (rate limits, retries, journal, audit), and outcome tables.
//!
//! Exit codes: [`EXIT_DONE`], [`EXIT_SOME_FAILED`], [`EXIT_NOTHING_SENT`], [`EXIT_AUTH`],
//! [`EXIT_UNREACHABLE`].

/// `println!` with every credential removed (see [`crate::secrets`]), ending quietly when
/// stdout is closed (see [`stdout`]).
macro_rules! say {
    () => { stdout("\n") };
    ($($t:tt)*) => { stdout(&format!("{}\n", crate::secrets::redact(&format!($($t)*)))) };
}

/// `print!` with every credential removed.
macro_rules! say_raw {
    ($($t:tt)*) => { stdout(&crate::secrets::redact(&format!($($t)*))) };
}

/// Writes `text` to stdout. When the reader has gone (`qualtrics-roster users list --json |
/// head -2`), the command ends at once and quietly, with the status a shell gives a process
/// ended by a closed pipe (141), as Unix tools do; a run's journal keeps what was done.
fn stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
    }
}

/// `eprintln!` with every credential removed.
macro_rules! say_err {
    ($($t:tt)*) => { eprintln!("{}", crate::secrets::redact(&format!($($t)*))) };
}

pub mod session;
pub mod sheets;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qualtrics_roster::connection::Connection;
use qualtrics_roster::exec::{ExecConfig, JournalEntry, OutcomeStatus};
use qualtrics_roster::membership::{self, TeamFilter};
use qualtrics_roster::problem::Problem;
use qualtrics_roster::provision;
use qualtrics_roster::rules::{self, MatchOptions, RoleSheet};
use qualtrics_roster::run::{
    Brand, MembershipJob, PullRun, Run, RunProgress, SheetRequest, SheetRun, UsersRun,
};
use qualtrics_roster::table::{cells, Cell, Table};
use qualtrics_roster::users;
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
    #[must_use]
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
    /// Allow a plain http:// --base-url or --relay on another machine (credentials then cross
    /// the network unencrypted). Loopback addresses need no permission.
    #[arg(long, global = true)]
    pub insecure_http: bool,
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
                say!("{}", json!({"error": e.to_string(), "exitCode": code}));
            }
            say_err!("qualtrics-roster: {e}");
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
            say_err!("{text}");
        }
    }

    fn print_json(&self, value: &Value) {
        say!(
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
                say!(
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
            let run = read_brand(&cli.target, out, |conn, renewable| {
                UsersRun::list_users(conn, ExecConfig::default(), renewable, unix_millis())
            })
            .await?;
            let list = run.job().users_read();
            if let Some(path) = output {
                sheets::write_table(path, "Users", &users::users_table(list))?;
            }
            if out.json {
                out.print_json(&json!({"count": list.len(), "users": list}));
            } else {
                if output.is_none() {
                    say_raw!(
                        "{}",
                        sheets::text_table(&users::users_table(list), Some(50))
                    );
                }
                say!("{} users", list.len());
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
            check_stopped(&planned)?;
            if let Some(path) = output {
                sheets::write_table(path, "Plan", &planned.plan_table())?;
            }
            report_plan(&planned, &input, kind, out, output.is_none());
            Ok(if planned.has_refusals() {
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
            let filter = TeamFilter::parse(filter).map_err(|e| CliError::Input(e.to_string()))?;
            let run = read_brand(&cli.target, out, |conn, renewable| {
                PullRun::new(
                    conn,
                    MembershipJob::pull(),
                    ExecConfig::default(),
                    renewable,
                    unix_millis(),
                )
            })
            .await?;
            let snapshot = run
                .job()
                .snapshot()
                .expect("a finished pull has its snapshot");
            let options = MatchOptions {
                case_sensitive: !case_insensitive,
            };
            let tables = membership::pull_tables(snapshot, &roles, filter.as_ref(), options)
                .map_err(|e| CliError::Input(e.to_string()))?;
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
                lines: Vec::new(),
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
                say_raw!("{}", sheets::text_table(&counts, None));
                say!(
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
            lines: Vec::new(),
        },
        Kind::Provision => provision::template(),
        Kind::Membership => membership::desired_template(),
    };
    match output {
        Some(path) => sheets::write_table(path, kind.as_str(), &table)?,
        None if out.json => out.print_json(&json!(table)),
        None => say_raw!("{}", table.to_csv().trim_start_matches('\u{feff}')),
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

/// The run of `kind` for `table` with the sheet's options, reading the brand through `brand`
/// (or nowhere: the plan against an empty brand, sending nothing).
fn sheet_run(
    kind: Kind,
    sheet: &SheetArgs,
    table: &Table,
    journal: &[JournalEntry],
    brand: Brand,
) -> Result<SheetRun, CliError> {
    let mut user_types = BTreeMap::new();
    for pair in &sheet.user_types {
        let Some((name, id)) = pair.split_once('=') else {
            return Err(CliError::Input(format!(
                "--user-type {pair:?}: give NAME=UT_ID, e.g. --user-type \"Participant=UT_abc123\"."
            )));
        };
        user_types.insert(name.to_string(), id.to_string());
    }
    let request = SheetRequest {
        default_action: sheet.default_action.clone().unwrap_or_default(),
        route: sheet.route.clone(),
        user_types,
        job_size: sheet.job_size,
        case_insensitive: sheet.case_insensitive,
        journal: journal.to_vec(),
    };
    let roles = match kind {
        Kind::Membership => read_roles(sheet.roles.as_deref())?,
        _ => RoleSheet::default(),
    };
    Ok(SheetRun::start(
        kind.into(),
        table.clone(),
        request,
        roles,
        brand,
        ExecConfig::default(),
        unix_millis(),
    ))
}

/// `validate`: the plan without the brand (the same checks and messages as `plan`, less what
/// only the brand can say). A membership sheet's rows name users and groups, so only its
/// columns are checked.
fn validate(sheet: &SheetArgs, out: &Output) -> Result<i32, CliError> {
    let input = sheets::read_input(&sheet.file, sheet.sheet.as_deref())?;
    let out = &Output {
        json: out.json || input.json,
        quiet: out.quiet,
    };
    let kind = kind_of(sheet, &input, out);
    let table = &input.table;
    let planned = sheet_run(kind, sheet, table, &[], Brand::Offline)?;
    let file_errors = planned.file_errors();
    let problems = if kind == Kind::Membership {
        Vec::new()
    } else {
        planned.problems(false)
    };
    let mut refused: Vec<u32> = problems
        .iter()
        .filter(|p| p.refuses())
        .map(|p| p.row)
        .collect();
    refused.dedup();
    if out.json {
        out.print_json(&json!({
            "kind": kind, "file": input.description, "rows": table.rows.len(),
            "notes": input.notes, "invalid": refused.len(),
            "fileErrors": messages(&file_errors), "problems": problems,
        }));
    } else {
        for e in &file_errors {
            say!("{e}");
        }
        for p in &problems {
            say!("{}", p.message);
        }
        say!(
            "{} · {} invalid{}",
            rows(table.rows.len()),
            refused.len(),
            if kind == Kind::Membership {
                " (membership rows are checked against the brand by plan)"
            } else {
                ""
            }
        );
    }
    Ok(if file_errors.is_empty() && refused.is_empty() {
        EXIT_DONE
    } else {
        EXIT_NOTHING_SENT
    })
}

/// Refuses a sheet that cannot be planned at all (no column it needs, a sheet of no kind)
/// with `validate`'s message, before any request.
fn refuse_unplannable(kind: Kind, sheet: &SheetArgs, table: &Table) -> Result<(), CliError> {
    let errors = sheet_run(kind, sheet, table, &[], Brand::Offline)?.file_errors();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Input(format!(
            "{} Nothing was sent.",
            messages(&errors).join(" ")
        )))
    }
}

/// Reads the brand and plans `table`.
async fn plan(
    runner: &mut Runner<'_>,
    kind: Kind,
    sheet: &SheetArgs,
    table: &Table,
    journal: &[JournalEntry],
) -> Result<SheetRun, CliError> {
    let brand = Brand::Online {
        conn: runner.session.fresh_conn().await?,
        renewable: runner.session.tokens.is_some(),
    };
    let mut planned = sheet_run(kind, sheet, table, journal, brand)?;
    runner.drive(&mut planned).await?;
    Ok(planned)
}

fn report_plan(planned: &SheetRun, input: &Input, kind: Kind, out: &Output, print_table: bool) {
    let counts = planned.counts();
    let file_errors = planned.file_errors();
    let problems = planned.problems(true);
    if out.json {
        out.print_json(&json!({
            "kind": kind, "file": input.description, "rows": input.table.rows.len(),
            "notes": input.notes,
            "counts": counts.iter().cloned().collect::<BTreeMap<String, usize>>(),
            "changes": planned.changes(), "fileErrors": messages(&file_errors),
            "problems": problems,
            "plan": planned.plan_table(),
        }));
        return;
    }
    if print_table && file_errors.is_empty() {
        say_raw!("{}", sheets::text_table(&planned.plan_table(), Some(50)));
    }
    for e in &file_errors {
        say!("{e}");
    }
    for p in problems.iter().take(50) {
        say!("{}", p.message);
    }
    say!("{}", summary_line(&counts, input.table.rows.len()));
}

/// The messages of `problems`, as the JSON output's `fileErrors` lists them.
fn messages(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.message.as_str()).collect()
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

// ---- Running ----

/// Drives runs with a progress bar, the journal and the audit log, and cancels on Ctrl-C.
struct Runner<'a> {
    session: &'a mut Session,
    bar: ProgressBar,
    journal: Option<AppendFile>,
    audit_file: Option<AppendFile>,
    /// Audit entries of the current run already appended to the file.
    audited: usize,
    interrupted: Arc<AtomicBool>,
}

impl<'a> Runner<'a> {
    fn new(
        session: &'a mut Session,
        out: &Output,
        journal: Option<AppendFile>,
        mut audit_file: Option<AppendFile>,
    ) -> Runner<'a> {
        let draw = if out.quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), draw);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>18} [{bar:30}] {pos}/{len} · {msg} · {elapsed_precise}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                say_err!("\nStopping: requests on their way are finished, rows not yet sent are skipped.");
            }
        });
        // The connection's own requests (whoami, a token) come first in the audit.
        if let Some(a) = audit_file.as_mut() {
            a.append(&qualtrics_roster::exec::audit_jsonl(&session.audit));
        }
        Runner {
            session,
            bar,
            journal,
            audit_file,
            audited: 0,
            interrupted,
        }
    }

    /// Drives `run` to the end of its stage. A failed reading of the brand, or a credential
    /// refused while reading, is an error; a stop while applying is reported with the outcomes.
    async fn drive<R: Run + ?Sized>(&mut self, run: &mut R) -> Result<(), CliError> {
        let (bar, journal, audit_file, audited, interrupted) = (
            &self.bar,
            &mut self.journal,
            &mut self.audit_file,
            &mut self.audited,
            &self.interrupted,
        );
        let mut show = |run: &mut R, progress: Option<RunProgress>| {
            if let Some(p) = progress {
                let c = &p.counts;
                bar.set_prefix(p.phase);
                bar.set_length(c.total as u64);
                bar.set_position((c.total - c.remaining) as u64);
                bar.set_message(match p.items_read {
                    Some(items) => format!("{items} read · {} requests", c.requests_sent),
                    None => format!(
                        "{} done · {} unchanged · {} failed · {:.0}/s",
                        c.done, c.unchanged, c.failed, c.rate_per_second
                    ),
                });
                if let Some(j) = journal.as_mut() {
                    j.append(&sheets::journal_lines(&p.journal));
                }
            }
            let audit = run.audit();
            if let Some(a) = audit_file.as_mut() {
                a.append(&qualtrics_roster::exec::audit_jsonl(&audit[*audited..]));
            }
            *audited = audit.len();
            if interrupted.load(Ordering::SeqCst) {
                Control::Cancel
            } else {
                Control::Continue
            }
        };
        let transport = self.session.transport.clone();
        transport
            .drive(run, self.session.tokens.as_ref(), &mut show)
            .await;
        self.bar.finish_and_clear();
        if let Some(e) = run.error() {
            let refused = run
                .audit()
                .iter()
                .rev()
                .find_map(|a| a.status.filter(|s| (400..500).contains(s) && *s != 429));
            return Err(match refused {
                Some(401 | 403) => CliError::Auth(e.to_string()),
                _ => CliError::Unreachable(e.to_string()),
            });
        }
        Ok(())
    }

    fn cancelled(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// Connects and drives a run that only reads the brand (users list, roles pull), made by
/// `make` from the connection and whether its credential can be renewed.
async fn read_brand<R: Run>(
    target: &Target,
    out: &Output,
    make: impl FnOnce(Connection, bool) -> R,
) -> Result<R, CliError> {
    let mut session = open(target, out).await?;
    let mut run = make(session.fresh_conn().await?, session.tokens.is_some());
    Runner::new(&mut session, out, None, None)
        .drive(&mut run)
        .await?;
    check_stopped(&run)?;
    Ok(run)
}

/// A reading run (users list, roles pull) that stopped on a refused credential.
fn check_stopped<R: Run + ?Sized>(run: &R) -> Result<(), CliError> {
    match run.stop_reason() {
        Some(why) => Err(CliError::Auth(
            why.trim_start_matches("not sent: ").to_string(),
        )),
        None => Ok(()),
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
    // A sheet that cannot be planned is refused before anything else, as validate says.
    refuse_unplannable(kind, sheet, &input.table)?;
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
    let session_requests = session.audit.len() as u64;
    let mut runner = Runner::new(&mut session, out, journal_file, audit_file);
    let mut planned = plan(&mut runner, kind, sheet, &input.table, &journal).await?;
    if let Some(why) = planned.stop_reason() {
        return Err(CliError::Auth(
            why.trim_start_matches("not sent: ").to_string(),
        ));
    }
    if !journal.is_empty() {
        out.note(&format!(
            "Resuming: {} rows finished by the earlier run are not sent again.",
            journal.len()
        ));
    }
    out.note(&summary_line(&planned.counts(), input.table.rows.len()));
    let read_requests = planned.audit().len();
    if !runner.cancelled() {
        planned
            .apply(None, unix_millis())
            .map_err(|e| CliError::Input(e.to_string()))?;
        runner.drive(&mut planned).await?;
    }
    drop(runner);
    let outcomes = planned.outcomes();
    let table = planned.outcome_table();
    let stopped = planned.stop_reason().map(str::to_string);
    let requests = planned.audit().len() as u64 + session_requests;
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
    let sent_changes = planned.audit().len() > read_requests;
    let code = if all_done {
        EXIT_DONE
    } else if stopped.is_some() {
        EXIT_AUTH
    } else if !sent_changes {
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
            "kind": kind, "file": input.description, "notes": input.notes, "exitCode": code,
            "summary": tally, "requests": requests, "stopped": stopped, "rows": outcomes,
        }));
    } else {
        for o in &outcomes {
            if matches!(o.status(), OutcomeStatus::Failed | OutcomeStatus::Skipped) {
                say!("row {}: {}", o.row(), o.message());
            }
        }
        let parts: Vec<String> = tally.iter().map(|(k, v)| format!("{v} {k}")).collect();
        say!(
            "{}: {} · {requests} request{}",
            rows(outcomes.len()),
            parts.join(" · "),
            if requests == 1 { "" } else { "s" }
        );
        if let Some(why) = &stopped {
            say!("The run stopped: {}", why.trim_start_matches("not sent: "));
        }
    }
    Ok(code)
}
