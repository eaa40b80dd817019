//! Running: a progress bar, the journal and the audit log around a run, Ctrl-C to cancel, and
//! `apply` (plan, then apply exactly that plan, then write each row's outcome).

use super::*;
use qualtrics_roster::exec::RowOutcome;
use qualtrics_roster::policy::{Approval, BlastRadius, Confirmation};
use qualtrics_roster::run::ApplyRefused;

/// Drives runs with a progress bar, the journal and the audit log, and cancels on Ctrl-C.
pub(super) struct Runner<'a> {
    pub(super) session: &'a mut Session,
    /// A person watches (stderr is a terminal and not --quiet): draw progress bars.
    draw: bool,
    journal: Option<AppendFile>,
    audit_file: Option<AppendFile>,
    /// Audit entries of the current run already appended to the file.
    audited: usize,
    interrupted: Arc<AtomicBool>,
}

impl<'a> Runner<'a> {
    pub(super) fn new(
        session: &'a mut Session,
        out: &Output,
        journal: Option<AppendFile>,
        mut audit_file: Option<AppendFile>,
    ) -> Runner<'a> {
        let draw = !out.quiet && std::io::stderr().is_terminal();
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
            draw,
            journal,
            audit_file,
            audited: 0,
            interrupted,
        }
    }

    /// Drives `run` to the end of its stage. A failed reading of the brand, or a credential
    /// refused while reading, is an error; a stop while applying is reported with the outcomes.
    pub(super) async fn drive<R: Run + ?Sized>(&mut self, run: &mut R) -> Result<(), CliError> {
        // A bar of its own for each stage (reading, then sending): a finished bar draws no more.
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if self.draw {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>18} [{bar:30}] {pos}/{len} · {msg} · {elapsed_precise}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        let (bar, journal, audit_file, audited, interrupted) = (
            &bar,
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
                        "{} done · {} unchanged · {} failed · {:.0}/s{}",
                        c.done,
                        c.unchanged,
                        c.failed,
                        c.rate_per_second,
                        time_left(c.remaining, c.rate_per_second)
                    ),
                });
                if let Some(j) = journal.as_mut() {
                    j.append(&files::journal_lines(&p.journal));
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
        bar.finish_and_clear();
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

/// " · about 2 min left" at `rate` rows a second, or "" before a rate is known.
fn time_left(remaining: usize, rate: f64) -> String {
    if remaining == 0 || rate <= 0.0 {
        return String::new();
    }
    let secs = (remaining as f64 / rate).ceil() as u64;
    match secs {
        0..=59 => format!(" · about {secs} s left"),
        60..=3599 => format!(" · about {} min left", secs.div_ceil(60)),
        _ => format!(" · about {:.1} h left", secs as f64 / 3600.0),
    }
}

/// Lines printed per row at most; the rest are in the outcomes file or the JSON.
const ROW_LINES: usize = 20;

/// The rows that did not end done or unchanged, as a person reads them: one line per distinct
/// message (rows sharing one are counted on it), at most [`ROW_LINES`] lines; rows a run-wide
/// stop or a cancel left unsent are not listed one by one (the summary counts them).
fn row_lines(outcomes: &[RowOutcome], more_in: Option<&str>) -> Vec<String> {
    let mut groups: Vec<(&str, Vec<u32>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for o in outcomes {
        if !matches!(o.status, OutcomeStatus::Failed | OutcomeStatus::Refused) {
            continue;
        }
        let i = *index.entry(o.message.as_str()).or_insert_with(|| {
            groups.push((o.message.as_str(), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(o.row);
    }
    let mut lines: Vec<String> = groups
        .iter()
        .take(ROW_LINES)
        .map(|(message, rows)| match rows.as_slice() {
            [one] => format!("row {one}: {message}"),
            many => {
                let shown: Vec<String> = many.iter().take(5).map(u32::to_string).collect();
                let more = if many.len() > 5 { ", …" } else { "" };
                format!(
                    "{} rows ({}{more}): {message}",
                    many.len(),
                    shown.join(", ")
                )
            }
        })
        .collect();
    if groups.len() > ROW_LINES {
        let rest: usize = groups[ROW_LINES..].iter().map(|(_, r)| r.len()).sum();
        lines.push(match more_in {
            Some(file) => format!("… and {rest} more rows in {file}"),
            None => format!("… and {rest} more rows: --outcomes FILE or --json lists every row"),
        });
    }
    lines
}

/// The command that finishes an interrupted run: this one, with `--resume`.
fn resume_command() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        if let Some(name) = std::path::Path::new(first.as_str()).file_name() {
            *first = name.to_string_lossy().into_owned();
        }
    }
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".into());
    }
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Connects and drives a run that only reads the brand (users list, roles pull), made by
/// `make` from the connection and whether its credential can be renewed.
pub(super) async fn read_brand<R: Run>(
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
pub(super) fn check_stopped<R: Run + ?Sized>(run: &R) -> Result<(), CliError> {
    match run.stop_reason() {
        Some(why) => Err(CliError::Auth(
            why.trim_start_matches("not sent: ").to_string(),
        )),
        None => Ok(()),
    }
}

/// At a terminal (stdin and stderr), asks the administrator to type the number of accounts
/// that lose access; elsewhere (cron, a pipe) gives no confirmation, so the brake holds.
fn ask_confirmation(blast: &BlastRadius, out: &Output) -> Confirmation {
    use std::io::{BufRead, IsTerminal};
    if out.json || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Confirmation::None;
    }
    say_err!(
        "This plan takes access from {} accounts{}. Type {} to apply it, anything else to stop:",
        blast.loses_access,
        blast.active_share_text(blast.loses_access),
        blast.loses_access
    );
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return Confirmation::None;
    }
    line.trim()
        .parse()
        .map_or(Confirmation::None, Confirmation::TypedCount)
}

pub(super) async fn apply(cli: &Cli, args: &ApplyArgs, out: &Output) -> Result<i32, CliError> {
    let sheet = &args.sheet;
    let input = files::read_input(&sheet.file, sheet.sheet.as_deref())?;
    let out = &Output {
        json: out.json || input.json,
        quiet: out.quiet,
    };
    let kind = kind_of(sheet, &input, out)?;
    // A sheet that cannot be planned is refused before anything else, as validate says.
    refuse_unplannable(kind, sheet, &input.table)?;
    let journal_path = args
        .journal
        .clone()
        .or_else(|| (sheet.file != "-").then(|| PathBuf::from(format!("{}.journal", sheet.file))));
    let journal = match &journal_path {
        Some(path) => files::read_journal(path)?,
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
    let blast = planned.blast_radius().cloned();
    if let Some(blast) = &blast {
        for line in blast.summary_lines() {
            out.note(&line);
        }
    }
    let read_requests = planned.audit().len();
    if !runner.cancelled() {
        let approval = Approval {
            allow_admin_changes: sheet.allow_admin_changes,
            confirmation: match (args.max_changes, &blast) {
                (Some(limit), _) => Confirmation::MaxChanges(limit),
                (None, Some(b)) if b.brake.needs_confirmation => ask_confirmation(b, out),
                _ => Confirmation::None,
            },
        };
        match planned.apply(None, &approval, unix_millis()) {
            Ok(()) => {}
            Err(ApplyRefused::NeedsConfirmation(why)) => {
                if out.json {
                    out.print_json(&json!({
                        "kind": kind, "file": input.description, "exitCode": EXIT_NEEDS_CONFIRMATION,
                        "error": why, "blast": blast,
                    }));
                }
                return Err(CliError::NeedsConfirmation(why));
            }
            Err(e) => return Err(CliError::Input(e.to_string())),
        }
        runner.drive(&mut planned).await?;
    }
    let runner_cancelled = runner.cancelled();
    drop(runner);
    let outcomes = planned.outcomes();
    let table = planned.outcome_table();
    let stopped = planned.stop_reason().map(str::to_string);
    let requests = planned.audit().len() as u64 + session_requests;
    if let Some(path) = &args.outcomes {
        files::write_table(path, "Outcomes", &table)?;
    }
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        *tally.entry(o.status.as_str()).or_default() += 1;
    }
    let all_done = outcomes
        .iter()
        .all(|o| matches!(o.status, OutcomeStatus::Done | OutcomeStatus::Unchanged));
    let sent_changes = planned.audit().len() > read_requests;
    let code = if runner_cancelled {
        EXIT_CANCELLED
    } else if all_done {
        EXIT_DONE
    } else if stopped.is_some() {
        EXIT_AUTH
    } else if !sent_changes {
        EXIT_NOTHING_SENT
    } else {
        EXIT_SOME_FAILED
    };
    let interrupted =
        stopped.is_some() || outcomes.iter().any(|o| o.status == OutcomeStatus::Skipped);
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
        let more_in = args.outcomes.as_ref().map(|p| p.display().to_string());
        for line in row_lines(&outcomes, more_in.as_deref()) {
            say!("{line}");
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
        if runner_cancelled {
            let unsent = tally.get("skipped").copied().unwrap_or(0);
            say_err!(
                "Cancelled: {} done, {unsent} not sent. To finish the run without repeating a row: {}",
                tally.get("done").copied().unwrap_or(0),
                resume_command()
            );
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(row: u32, message: &str) -> RowOutcome {
        RowOutcome {
            key: format!("row:{row}"),
            row,
            status: OutcomeStatus::Failed,
            message: message.into(),
            user_id: Some(String::new()),
            unique_identifier: None,
            applied_at: String::new(),
            retryable: false,
        }
    }

    #[test]
    fn failed_rows_are_grouped_by_message_and_cut_at_twenty_lines() {
        // 300 rows refused for one reason: one line, not 300.
        let same: Vec<RowOutcome> = (2..302)
            .map(|r| failed(r, "Unrecognized X-API-TOKEN"))
            .collect();
        assert_eq!(
            row_lines(&same, None),
            vec!["300 rows (2, 3, 4, 5, 6, …): Unrecognized X-API-TOKEN"]
        );
        // 25 different reasons: 20 lines and where the rest are.
        let many: Vec<RowOutcome> = (2..27).map(|r| failed(r, &format!("reason {r}"))).collect();
        let lines = row_lines(&many, Some("out.csv"));
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "row 2: reason 2");
        assert_eq!(lines[20], "… and 5 more rows in out.csv");
        assert!(row_lines(&many, None)[20].contains("--outcomes FILE or --json"));
    }

    #[test]
    fn time_left_reads_in_seconds_minutes_or_hours() {
        assert_eq!(time_left(100, 0.0), "");
        assert_eq!(time_left(100, 50.0), " · about 2 s left");
        assert_eq!(time_left(5_000, 50.0), " · about 2 min left");
        assert_eq!(time_left(900_000, 50.0), " · about 5.0 h left");
    }
}
