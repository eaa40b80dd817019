use super::*;

fn actor() -> Actor {
    Actor {
        user_id: Some("UR_me".into()),
        username: Some("me@example.org".into()),
        user_type: Some(BRAND_ADMIN.into()),
    }
}

fn touch(row: u32, id: &str, user_type: &str) -> Touch {
    Touch {
        row,
        user_id: Some(id.into()),
        username: Some(format!("{id}@example.org")),
        name: format!("Person {row}"),
        change: "disable the account".into(),
        loses_access: true,
        type_before: Some(user_type.into()),
        type_after: None,
    }
}

fn facts(rows: usize, changes: usize, active: usize) -> PlanFacts {
    PlanFacts {
        rows,
        changes,
        counts: vec![("disable".into(), changes)],
        not_found: 0,
        problem_rows: 0,
        active_accounts: Some(active),
    }
}

#[test]
fn the_credentials_own_account_is_refused_by_id_or_by_username_whatever_its_case() {
    let me = actor();
    let mut by_id = touch(2, "UR_me", "UT_x");
    by_id.username = None;
    assert_eq!(judge(&by_id, &me), Verdict::Refused(OWN_ACCOUNT));
    let mut by_name = touch(3, "UR_other", "UT_x");
    by_name.user_id = None;
    by_name.username = Some(" ME@example.org".into());
    assert_eq!(judge(&by_name, &me), Verdict::Refused(OWN_ACCOUNT));
    // A change that takes nothing away (re-enable, a group) is not refused on one's own account.
    let mut enable = touch(4, "UR_me", BRAND_ADMIN);
    enable.loses_access = false;
    assert_eq!(judge(&enable, &me), Verdict::Allowed);
    // Its own user type, demoted or not, is never changed.
    let mut demote = enable.clone();
    demote.type_after = Some("UT_x".into());
    assert_eq!(judge(&demote, &me), Verdict::Refused(OWN_ACCOUNT));
}

#[test]
fn other_brand_administrators_need_the_allowance_to_lose_access_be_demoted_made_or_promoted() {
    let me = actor();
    assert_eq!(
        judge(&touch(2, "UR_admin", "ut_brandadmin"), &me),
        Verdict::NeedsAdminAllowance(OTHER_ADMIN)
    );
    let mut demote = touch(3, "UR_admin", BRAND_ADMIN);
    demote.loses_access = false;
    demote.type_after = Some("UT_x".into());
    assert_eq!(
        judge(&demote, &me),
        Verdict::NeedsAdminAllowance(OTHER_ADMIN)
    );
    let mut promote = touch(4, "UR_x", "UT_x");
    promote.loses_access = false;
    promote.type_after = Some(BRAND_ADMIN.into());
    assert_eq!(
        judge(&promote, &me),
        Verdict::NeedsAdminAllowance(MAKES_ADMIN)
    );
    let mut create = promote.clone();
    create.user_id = None;
    create.type_before = None;
    assert_eq!(
        judge(&create, &me),
        Verdict::NeedsAdminAllowance(MAKES_ADMIN)
    );
    // An ordinary account, and an administrator's name change, go.
    assert_eq!(judge(&touch(5, "UR_x", "UT_x"), &me), Verdict::Allowed);
    let mut rename = touch(6, "UR_admin", BRAND_ADMIN);
    rename.loses_access = false;
    assert_eq!(judge(&rename, &me), Verdict::Allowed);
}

#[test]
fn the_brake_holds_only_past_both_thresholds_and_names_the_counts() {
    let policy = Policy::default();
    let many = |n: usize| -> Vec<Touch> {
        (0..n)
            .map(|i| touch(i as u32 + 2, &format!("UR_{i}"), "UT_x"))
            .collect()
    };
    // 26 accounts of 200 (13 %): held.
    let (blast, refused) = assess(&many(26), facts(26, 26, 200), &actor(), &policy);
    assert!(refused.is_empty());
    assert!(blast.brake.needs_confirmation);
    assert_eq!(blast.loses_access, 26);
    assert_eq!(blast.loses_access_sample.len(), SAMPLE);
    let message = blast.brake.message.clone().unwrap();
    assert!(message.starts_with("Needs confirmation"), "{message}");
    assert!(
        message.contains("26 accounts (13.0% of 200 active accounts)"),
        "{message}"
    );
    // 25 accounts (not more than 25): not held, whatever the share.
    let (blast, _) = assess(&many(25), facts(25, 25, 30), &actor(), &policy);
    assert!(!blast.brake.needs_confirmation);
    // 30 accounts of 1,000 (3 %): not held.
    let (blast, _) = assess(&many(30), facts(30, 30, 1_000), &actor(), &policy);
    assert!(!blast.brake.needs_confirmation);
    // Configurable.
    let strict = Policy {
        brake_accounts: 2,
        brake_share: 0.01,
    };
    let (blast, _) = assess(&many(3), facts(3, 3, 100), &actor(), &strict);
    assert!(blast.brake.needs_confirmation);
}

#[test]
fn an_approval_passes_the_brake_only_with_the_right_number_a_limit_it_is_within_or_a_release() {
    let many: Vec<Touch> = (0..40)
        .map(|i| touch(i + 2, &format!("UR_{i}"), "UT_x"))
        .collect();
    let (blast, _) = assess(&many, facts(40, 40, 100), &actor(), &Policy::default());
    let with = |confirmation| Approval {
        allow_admin_changes: false,
        confirmation,
    };
    assert!(with(Confirmation::None).refusal(&blast).is_some());
    assert!(with(Confirmation::TypedCount(39)).refusal(&blast).is_some());
    assert_eq!(with(Confirmation::TypedCount(40)).refusal(&blast), None);
    assert_eq!(with(Confirmation::Released).refusal(&blast), None);
    assert_eq!(
        with(Confirmation::MaxChanges(Limit::Changes(40))).refusal(&blast),
        None
    );
    assert!(with(Confirmation::MaxChanges(Limit::Changes(39)))
        .refusal(&blast)
        .unwrap()
        .starts_with("Needs confirmation"));
    assert_eq!(
        with(Confirmation::MaxChanges(Limit::Share(0.40))).refusal(&blast),
        None
    );
    assert!(with(Confirmation::MaxChanges(Limit::Share(0.39)))
        .refusal(&blast)
        .is_some());
    // A limit is checked even when the brake would not hold the plan.
    let (small, _) = assess(&many[..3], facts(3, 3, 100), &actor(), &Policy::default());
    assert_eq!(Approval::hooks().refusal(&small), None);
    assert!(with(Confirmation::MaxChanges(Limit::Changes(2)))
        .refusal(&small)
        .is_some());
    assert_eq!(Approval::hooks(), Approval::default());
}

#[test]
fn limits_read_numbers_and_shares_and_refuse_the_rest() {
    assert_eq!(Limit::parse("200"), Ok(Limit::Changes(200)));
    assert_eq!(Limit::parse(" 5% "), Ok(Limit::Share(0.05)));
    assert_eq!(Limit::parse("2.5%"), Ok(Limit::Share(0.025)));
    for bad in ["", "many", "-3", "150%", "5 %%"] {
        assert!(Limit::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_plan_most_of_whose_rows_match_nobody_is_suspicious() {
    let mut f = facts(1_000, 3, 300);
    f.not_found = 997;
    let (blast, _) = assess(&[], f, &actor(), &Policy::default());
    assert!(blast.suspicious);
    assert_eq!(blast.warning.as_deref(), Some(SUSPICIOUS));
    assert!(blast.summary_lines()[0].contains("997 of 1000 rows"));
    let mut f = facts(10, 5, 300);
    f.not_found = 3;
    f.problem_rows = 2;
    let (blast, _) = assess(&[], f, &actor(), &Policy::default());
    assert!(!blast.suspicious, "half is not most");
}

#[test]
fn the_blast_radius_names_privileged_accounts_type_changes_and_refusals() {
    let mut promote = touch(4, "UR_x", "UT_x");
    promote.loses_access = false;
    promote.type_after = Some(BRAND_ADMIN.into());
    let touches = vec![
        touch(2, "UR_me", BRAND_ADMIN),
        touch(3, "UR_admin", BRAND_ADMIN),
        promote,
        touch(5, "UR_y", "UT_x"),
    ];
    let mut guard = Guard::new(actor(), Policy::default());
    let refused = guard.judge(&touches, facts(4, 4, 50));
    assert_eq!(refused, vec![(2, OWN_ACCOUNT)]);
    let blast = guard.blast().unwrap();
    assert_eq!(blast.changes, 3, "the refused row is not a change");
    assert_eq!(blast.refused.len(), 1);
    assert_eq!(
        blast.loses_access, 2,
        "the other admin and UR_y; not the refused row"
    );
    let privileged: Vec<u32> = blast.privileged.iter().map(|a| a.row).collect();
    assert_eq!(privileged, vec![3, 4]);
    assert_eq!(blast.admin_type_changes.len(), 1);
    assert_eq!(blast.admin_type_changes[0].to, BRAND_ADMIN);
    let allowance: Vec<u32> = blast.needs_admin_allowance.iter().map(|a| a.row).collect();
    assert_eq!(allowance, vec![3, 4]);
    assert_eq!(
        guard.refusals_at_apply(&Approval::default()),
        vec![(3, OTHER_ADMIN), (4, MAKES_ADMIN)]
    );
    let allowed = Approval {
        allow_admin_changes: true,
        ..Approval::default()
    };
    assert!(guard.refusals_at_apply(&allowed).is_empty());
    let json = serde_json::to_value(blast).unwrap();
    assert_eq!(json["losesAccess"], 2);
    assert_eq!(json["brake"]["needsConfirmation"], false);
    assert_eq!(
        json["needsAdminAllowance"][0]["username"],
        "UR_admin@example.org"
    );
}
