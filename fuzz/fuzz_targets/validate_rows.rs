//! Bytes -> table -> the row checks: the provisioning validation the page runs before
//! connecting (`checkProvisionSheet`/`checkProvisionCsv`: a plan against an empty brand) on
//! both routes, the same against a small brand, the lifecycle plan with and without a default
//! action, and the Roles sheet reader.

#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qualtrics_roster::lifecycle::{self, Action, LifecycleOptions};
use qualtrics_roster::provision::{self, ProvisionOptions, Route};
use qualtrics_roster::membership::rules;
use qualtrics_roster::sheet::sheetfile;

use common::Brand;

fn brand() -> &'static Brand {
    static BRAND: OnceLock<Brand> = OnceLock::new();
    BRAND.get_or_init(Brand::fixed)
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = sheetfile::read_bytes(data) else {
        return;
    };
    let table = &file.table;
    let today = common::fixed_today();
    let brand = brand();

    for route in [Route::AccountAndAttributes, Route::DirectoryImport] {
        // What checkProvisionSheet does: no brand, every row a new account.
        let plan = provision::plan(
            table,
            &[],
            &[],
            &[],
            &ProvisionOptions {
                route,
                today,
                user_types: Default::default(),
                divisions: Default::default(),
                job_size: 100,
            },
        );
        let _problems =
            plan.file_errors.len() + plan.rows.iter().map(|r| r.diagnostics.len()).sum::<usize>();
        for row in &plan.rows {
            let _ = row.message();
        }
        // Against a small brand.
        let plan = provision::plan(
            table,
            &brand.users,
            &brand.participants,
            &[],
            &brand.provision_options(route),
        );
        for row in &plan.rows {
            let _ = row.message();
        }
        let _ = plan.changes();
    }

    for (users, default_action) in [
        (&[][..], None),
        (&brand.users[..], None),
        (&brand.users[..], Some(Action::Disable)),
    ] {
        let plan = lifecycle::plan(
            table,
            users,
            &[],
            &LifecycleOptions {
                default_action,
                today,
            },
        );
        let _ = plan.changes();
    }

    let roles = rules::read_role_sheet(table);
    for role in &roles.roles {
        for rule in &role.rules {
            let _ = rule.describe();
        }
    }
});
