//! The command line's arguments: commands, the sheet and apply options, where to connect.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use qualtrics_roster::policy::Limit;

use super::sheets::Kind;
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

impl From<&Target> for roster_native::session::Target {
    fn from(t: &Target) -> Self {
        roster_native::session::Target {
            datacenter: t.datacenter.clone(),
            base_url: t.base_url.clone(),
            relay: t.relay.clone(),
            credentials: t.credentials.clone(),
            scope: t.scope.clone(),
            insecure_http: t.insecure_http,
        }
    }
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
        /// Write the list to this .csv or .xlsx file (`-`: standard output, as CSV).
        #[arg(long)]
        output: Option<PathBuf>,
        /// How to print the list on standard output: a table (the default at a terminal),
        /// CSV (the default to a pipe or a file) or JSON. Every row, always.
        #[arg(long, value_enum)]
        format: Option<ListFormat>,
    },
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns, for people.
    Table,
    /// Comma-separated, with a header line.
    Csv,
    /// One JSON document.
    Json,
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
    /// Provisioning: allow creating this attribute, which no one in the brand has yet
    /// (repeat for several). Without it, such a column stops the plan: a misspelt column
    /// would otherwise create a stray attribute on every account.
    #[arg(long = "new-attribute", value_name = "NAME")]
    pub new_attributes: Vec<String>,
    /// Provisioning: participants per directory import job.
    #[arg(long, default_value_t = 100)]
    pub job_size: usize,
    /// Membership: the Roles sheet (Role, Attribute, Operator, Value).
    #[arg(long)]
    pub roles: Option<String>,
    /// Membership: compare rule values ignoring case.
    #[arg(long)]
    pub case_insensitive: bool,
    /// Also disable, expire or demote other Brand Administrators, and create or promote
    /// them (refused without it). The account of the credential in use is never changed.
    #[arg(long)]
    pub allow_admin_changes: bool,
    /// The mass-change brake: a plan that takes access from more than this many accounts…
    #[arg(long, default_value_t = 25, value_name = "N")]
    pub brake_accounts: usize,
    /// …and more than this share of the brand's active accounts needs a confirmation.
    #[arg(long, default_value = "10%", value_name = "P%", value_parser = parse_share)]
    pub brake_share: f64,
}

/// Reads `10%` (or `0.1`) as a share from 0 to 1.
fn parse_share(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let share = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("give a share such as 10% or 0.1, not {t:?}"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("a share is from 0% to 100%, not {t:?}"))
    }
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
    /// Send nothing (exit 5) unless the plan makes at most N changes, or at most P% of the
    /// brand's active accounts; a plan within it passes the mass-change brake (for cron jobs).
    #[arg(long, value_name = "N|P%", value_parser = Limit::parse)]
    pub max_changes: Option<Limit>,
}
