//! A fuzzed sheet planned against a fuzzed but valid brand: the lifecycle plan, the
//! provisioning plan (account or directory route) and its run's phases, and the
//! desired-membership plan with a Roles sheet, then the pull tables. Each plan's steps build
//! their requests, and the outcome tables are written as if the executor had finished.
//!
//! Input layout: [`common::CONFIG_LEN`] bytes of brand configuration (see
//! `Brand::from_config`), then the sheet's bytes, then optionally a NUL and the Roles sheet's
//! bytes (the Roles template when absent or unreadable).

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use qualtrics_roster::exec::Step;
use qualtrics_roster::lifecycle::{self, LifecycleOptions, LifecycleStep};
use qualtrics_roster::membership::{self, MembershipApply, TeamFilter};
use qualtrics_roster::provision::{self, ProvisionApply};
use qualtrics_roster::membership::rules;
use qualtrics_roster::sheet::sheetfile;

use common::Brand;

fuzz_target!(|data: &[u8]| {
    let (config, rest) = common::split_config(data);
    let brand = Brand::from_config(config);
    let (sheet, roles_bytes) = common::split_sheets(rest);
    let Ok(file) = sheetfile::read_bytes(sheet) else {
        return;
    };
    let table = &file.table;
    let [conn, _] = common::connections();

    // Lifecycle.
    let plan = lifecycle::plan(
        table,
        &brand.users,
        &brand.lifecycle_journal,
        &LifecycleOptions {
            default_action: brand.default_action,
            today: brand.today,
        },
    );
    let _ = lifecycle::plan_table(&plan);
    let _ = serde_json::to_string(&plan);
    let steps = lifecycle::steps(&plan);
    for s in &steps {
        let _ = s.request(&conn);
        let _ = s.fingerprint();
    }
    let refs: Vec<&LifecycleStep> = steps.iter().collect();
    let _ = lifecycle::before_table(&refs);
    let executed = common::outcomes(steps.iter().map(|s| s.key()), brand.outcome_pattern);
    let outcomes = lifecycle::outcomes(&plan, &executed);
    let _ = lifecycle::outcome_table(table, &outcomes);

    // Provisioning, phase by phase.
    let plan = provision::plan(
        table,
        &brand.users,
        &brand.participants,
        &brand.provision_journal,
        &brand.provision_options(brand.route),
    );
    let _ = provision::plan_table(&plan);
    let _ = serde_json::to_string(&plan);
    for row in &plan.rows {
        let _ = row.message();
    }
    let mut run = ProvisionApply::new(plan);
    let accounts = run.account_steps();
    for s in &accounts {
        let _ = s.request(&conn);
        let _ = s.fingerprint();
    }
    let executed = common::outcomes(accounts.iter().map(|s| s.key()), brand.outcome_pattern);
    run.record(&accounts, &executed);
    let _ = run.uncertain();
    let retries = run.resolve_uncertain(&brand.users);
    run.record(&retries, &[]);
    let _ = run.needs_participants();
    let imports = run.import_steps(&brand.participants);
    for s in &imports {
        let _ = s.request(&conn);
    }
    let executed = common::outcomes(imports.iter().map(|s| s.key()), brand.outcome_pattern);
    run.record(&imports, &executed);
    let outcomes = run.outcomes();
    let _ = provision::outcome_table(table, &outcomes);

    // Membership: the Roles sheet, the plan, its run, and the pull tables.
    let roles_table = roles_bytes
        .and_then(|b| sheetfile::read_bytes(b).ok())
        .map(|f| f.table)
        .unwrap_or_else(rules::role_template);
    let roles = rules::read_role_sheet(&roles_table);
    let snapshot = brand.snapshot();
    let plan = membership::plan_changes(table, &roles, &snapshot, brand.match_options, brand.today);
    let _ = membership::change_plan_table(&plan);
    let _ = plan.counts();
    let mut run = MembershipApply::new(plan);
    let groups = run.group_steps();
    for s in &groups {
        let _ = s.request(&conn);
    }
    run.record_groups(&common::outcomes(
        groups.iter().map(|s| s.key()),
        brand.outcome_pattern,
    ));
    if let Some(attributes) = run.attributes.as_mut() {
        let imports = attributes.import_steps(&snapshot.participants);
        for s in &imports {
            let _ = s.request(&conn);
        }
        let executed = common::outcomes(imports.iter().map(|s| s.key()), brand.outcome_pattern);
        attributes.record(&imports, &executed);
    }
    let outcomes = run.outcomes();
    let _ = membership::outcome_table(table, &outcomes);

    let filter = brand.team_filter.then(|| TeamFilter {
        attribute: "Hotel".into(),
        value: "Seattle".into(),
    });
    if let Ok(tables) =
        membership::pull_tables(&snapshot, &roles, filter.as_ref(), brand.match_options)
    {
        let _ = tables.long.to_csv();
    }
});
