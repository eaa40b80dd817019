//! Reading a sheet's kind, validating and planning it (offline or against the brand), and
//! reporting the plan.

use super::*;
use qualtrics_roster::policy::{Actor, Guard, Policy};

pub(super) fn kind_of(sheet: &SheetArgs, input: &Input, out: &Output) -> Result<Kind, CliError> {
    let kind = match sheet.kind {
        Some(kind) => kind,
        None => Kind::detect(&input.table.columns)?,
    };
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
        out.note(&n.message);
    }
    Ok(kind)
}

pub(super) fn read_roles(path: Option<&str>) -> Result<RoleSheet, CliError> {
    let Some(path) = path else {
        return Ok(RoleSheet::default());
    };
    let input = files::read_input(path, None)?;
    let roles = rules::read_role_sheet(&input.table);
    if let Some(p) = roles.problems.first() {
        return Err(CliError::Input(format!(
            "{path}: row {}: {}",
            p.row, p.message
        )));
    }
    Ok(roles)
}

pub(super) fn template(kind: Kind, output: Option<&Path>, out: &Output) -> Result<i32, CliError> {
    let table = SheetKind::from(kind).template();
    match output {
        Some(path) => files::write_table(path, kind.as_str(), &table)?,
        None if out.json => out.print_json(&json!(table)),
        None => say_raw!("{}", table.to_csv().trim_start_matches('\u{feff}')),
    }
    Ok(EXIT_DONE)
}

/// "1 row", "2 rows".
pub(super) fn rows(n: usize) -> String {
    if n == 1 {
        "1 row".into()
    } else {
        format!("{n} rows")
    }
}

// ---- Planning ----

/// The run of `kind` for `table` with the sheet's options, reading the brand through `brand`
/// (or nowhere: the plan against an empty brand, sending nothing).
pub(super) fn sheet_run(
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
        new_attributes: sheet.new_attributes.clone(),
        case_insensitive: sheet.case_insensitive,
        journal: journal.to_vec(),
        // The CLI keeps nothing between runs: it lists the brand (its sizes are unknown).
        listing_sizes: Default::default(),
        // The CLI shows its plan before applying it: the directory is read for the plan.
        unattended: false,
        // The CLI reads the headers as they are (no mapping step).
        column_map: Default::default(),
        // Every file the CLI plans reads the brand: it holds no listing.
        listing: None,
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
/// only the brand can say: for a membership sheet, whether its users and groups exist).
pub(super) fn validate(sheet: &SheetArgs, out: &Output) -> Result<i32, CliError> {
    let input = files::read_input(&sheet.file, sheet.sheet.as_deref())?;
    let out = &Output {
        json: out.json || input.json,
        quiet: out.quiet,
    };
    let kind = kind_of(sheet, &input, out)?;
    let table = &input.table;
    let planned = sheet_run(kind, sheet, table, &[], Brand::Offline)?;
    let file_errors = planned.file_errors();
    let problems = planned.problems(false);
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
                " (who and which group or role are checked against the brand by plan)"
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
pub(super) fn refuse_unplannable(
    kind: Kind,
    sheet: &SheetArgs,
    table: &Table,
) -> Result<(), CliError> {
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
pub(super) async fn plan(
    runner: &mut Runner<'_>,
    kind: Kind,
    sheet: &SheetArgs,
    table: &Table,
    journal: &[JournalEntry],
) -> Result<SheetRun, CliError> {
    let brand = Brand::Online {
        conn: runner.session.fresh_conn().await?,
        renewable: runner.session.tokens.is_some(),
        guard: Guard::new(
            Actor::from_whoami(&runner.session.who),
            Policy {
                brake_accounts: sheet.brake_accounts,
                brake_share: sheet.brake_share,
            },
        ),
    };
    let mut planned = sheet_run(kind, sheet, table, journal, brand)?;
    runner.drive(&mut planned).await?;
    Ok(planned)
}

pub(super) fn report_plan(
    planned: &SheetRun,
    input: &Input,
    kind: Kind,
    out: &Output,
    print_table: bool,
) {
    let counts = planned.counts();
    let file_errors = planned.file_errors();
    let problems = planned.problems(true);
    if out.json {
        out.print_json(&json!({
            "kind": kind, "file": input.description, "rows": input.table.rows.len(),
            "notes": input.notes,
            "counts": counts.iter().cloned().collect::<BTreeMap<String, usize>>(),
            "changes": planned.changes(), "fileErrors": messages(&file_errors),
            "problems": problems, "blast": planned.blast_radius(),
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
    if let Some(blast) = planned.blast_radius() {
        for line in blast.summary_lines() {
            say!("{line}");
        }
        if blast.brake.needs_confirmation {
            say!("Apply will need a confirmation: type the number at a terminal, or give --max-changes.");
        }
    }
}

/// The messages of `problems`, as the JSON output's `fileErrors` lists them.
pub(super) fn messages(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.message.as_str()).collect()
}

pub(super) fn summary_line(counts: &[(String, usize)], count: usize) -> String {
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
