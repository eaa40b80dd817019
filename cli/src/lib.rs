//! `qualtrics-roster`: the command-line tool, for unattended runs (cron, a CRM or HR hook).
//! It runs the same core as the Excel add-in and the page: the same row validation, plans,
//! executor (rate limits, retries, journal, audit), and outcome tables.
//!
//! Exit codes: [`EXIT_DONE`], [`EXIT_SOME_FAILED`], [`EXIT_NOTHING_SENT`], [`EXIT_AUTH`],
//! [`EXIT_UNREACHABLE`], [`EXIT_NEEDS_CONFIRMATION`], [`EXIT_CANCELLED`].

/// `println!` with every credential removed (see [`roster_native::secrets`]), ending quietly when
/// stdout is closed (see [`stdout`]).
macro_rules! say {
    () => { stdout("\n") };
    ($($t:tt)*) => { stdout(&format!("{}\n", roster_native::secrets::redact(&format!($($t)*)))) };
}

/// `print!` with every credential removed.
macro_rules! say_raw {
    ($($t:tt)*) => { stdout(&roster_native::secrets::redact(&format!($($t)*))) };
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
    ($($t:tt)*) => { eprintln!("{}", roster_native::secrets::redact(&format!($($t)*))) };
}

mod apply;
mod args;
mod planning;
pub mod sheets;

use apply::*;
pub use args::{
    ApplyArgs, Cli, Command, ListFormat, RolesCommand, SheetArgs, Target, UsersCommand,
};
use planning::*;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qualtrics_roster::api::connection::Connection;
use qualtrics_roster::api::users;
use qualtrics_roster::exec::{ExecConfig, JournalEntry, OutcomeStatus};
use qualtrics_roster::membership::rules::{self, MatchOptions, RoleSheet};
use qualtrics_roster::membership::{self, TeamFilter};
use qualtrics_roster::run::{
    Brand, PullJob, PullRun, Run, RunProgress, SheetKind, SheetRequest, SheetRun, UsersRun,
};
use qualtrics_roster::sheet::problem::Problem;
use qualtrics_roster::sheet::table::{cells, Table};
use serde_json::{json, Value};

use roster_native::client::{unix_millis, Control};
use roster_native::files::{self, AppendFile, Input};
use roster_native::session::Session;
use sheets::Kind;

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
/// The plan needs a confirmation (the mass-change brake, or over `--max-changes`): nothing
/// was sent.
pub const EXIT_NEEDS_CONFIRMATION: i32 = 5;
/// Cancelled with Ctrl-C (128 + SIGINT, as shells report it): `--resume` finishes the run.
pub const EXIT_CANCELLED: i32 = 130;

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
    /// The plan needs a confirmation that was not given: nothing was sent.
    #[error("{0}")]
    NeedsConfirmation(String),
}

impl From<roster_native::Error> for CliError {
    fn from(e: roster_native::Error) -> Self {
        match e {
            roster_native::Error::Input(m) => CliError::Input(m),
            roster_native::Error::Auth(m) => CliError::Auth(m),
            roster_native::Error::Unreachable(m) => CliError::Unreachable(m),
        }
    }
}

impl CliError {
    /// The process exit code.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Input(_) => EXIT_NOTHING_SENT,
            CliError::Auth(_) => EXIT_AUTH,
            CliError::Unreachable(_) => EXIT_UNREACHABLE,
            CliError::NeedsConfirmation(_) => EXIT_NEEDS_CONFIRMATION,
        }
    }
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
            // A plan held for confirmation printed its own JSON, with the blast radius.
            let printed = matches!(e, CliError::NeedsConfirmation(_));
            if (json || files::JSON_STDIN.load(Ordering::SeqCst)) && !printed {
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
            command: UsersCommand::List { output, format },
        } => {
            let run = read_brand(&cli.target, out, |conn, renewable| {
                UsersRun::list_users(conn, ExecConfig::default(), renewable, unix_millis())
            })
            .await?;
            let list = run.job().users_read();
            let table = users::users_table(list);
            if let Some(path) = output {
                files::write_table(path, "Users", &table)?;
                if path.as_os_str() == "-" {
                    return Ok(EXIT_DONE);
                }
            }
            // Every row, whatever reads it: a table only for a person at a terminal.
            let format = match (format, out.json) {
                (Some(f), _) => *f,
                (None, true) => ListFormat::Json,
                (None, false) if std::io::stdout().is_terminal() => ListFormat::Table,
                (None, false) => ListFormat::Csv,
            };
            match format {
                ListFormat::Json => out.print_json(&json!({"count": list.len(), "users": list})),
                ListFormat::Csv if output.is_none() => {
                    say_raw!("{}", table.to_csv().trim_start_matches('\u{feff}'));
                }
                ListFormat::Table if output.is_none() => {
                    say_raw!("{}", sheets::text_table(&table, None));
                    out.note(&format!("{} users", list.len()));
                }
                _ => out.note(&format!("{} users", list.len())),
            }
            Ok(EXIT_DONE)
        }
        Command::Plan { sheet, output } => {
            let input = files::read_input(&sheet.file, sheet.sheet.as_deref())?;
            let out = &Output {
                json: out.json || input.json,
                quiet: out.quiet,
            };
            let kind = kind_of(sheet, &input, out)?;
            let mut session = open(&cli.target, out).await?;
            let mut runner = Runner::new(&mut session, out, None, None);
            let planned = plan(&mut runner, kind, sheet, &input.table, &[]).await?;
            drop(runner);
            check_stopped(&planned)?;
            if let Some(path) = output {
                files::write_table(path, "Plan", &planned.plan_table())?;
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
                    PullJob::new(),
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
                files::write_tables(
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
    let session = Session::open(&target.into()).await?;
    for n in &session.notes {
        out.note(n);
    }
    Ok(session)
}
