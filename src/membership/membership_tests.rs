//! Membership: pull tables, the desired-membership plan with reasons, conflicts and bad input.

use super::*;
use crate::api::directory::Participant;
use crate::api::http::HttpResponse;
use crate::api::users::UserSummary;
use crate::exec::{OutcomeStatus, Step, StepUpdate};
use crate::membership::rules::{read_role_sheet, MatchOptions, RoleSheet};
use crate::sheet::table::Table;
use crate::time::Date;

fn user(id: &str, name: &str) -> UserSummary {
    UserSummary {
        id: id.into(),
        username: Some(name.into()),
        first_name: Some("Ann".into()),
        last_name: Some(id.into()),
        email: Some(name.into()),
        user_type: None,
        division_id: None,
        account_status: Some("active".into()),
        account_expiration_date: None,
    }
}

fn participant(uid: &str, user_id: &str, meta: &[(&str, &str)]) -> Participant {
    Participant {
        unique_identifier: uid.into(),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        email: Some(format!("{uid}@x.org")),
        username: None,
        user_id: Some(user_id.into()),
        metadata: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn table(columns: &[&str], rows: &[&[&str]]) -> Table {
    Table::from_text(columns, rows)
}

fn roles() -> RoleSheet {
    read_role_sheet(&table(
        &["Role", "Attribute", "Operator", "Value"],
        &[
            &["Seattle Team", "Hotel", "In", "Seattle"],
            &["EMEA Sales", "Region", "Equals", "EMEA"],
            &["AMER Sales", "Region", "Equals", "AMER"],
            &["Executive Viewers", "", "", ""],
        ],
    ))
}

fn snapshot() -> Snapshot {
    let group = |id: &str, name: &str, members: &[&str]| GroupMembers {
        group: GroupSummary {
            id: id.into(),
            name: name.into(),
            group_type: None,
            division_id: None,
            auto_membership: None,
        },
        members: members.iter().map(|s| s.to_string()).collect(),
    };
    Snapshot {
        users: vec![
            user("UR_1", "ann@x.org"),
            user("UR_2", "bo@x.org"),
            user("UR_3", "cy@x.org"),
            user("UR_4", "di@x.org"),
        ],
        groups: vec![
            group("GR_1", "Front Desk", &["UR_1", "UR_2"]),
            group("GR_2", "Revenue", &["UR_3"]),
            group("GR_3", "EMEA Sales", &[]),
        ],
        participants: vec![
            participant(
                "u1",
                "UR_1",
                &[("Hotel", "Seattle::Provo"), ("Region", "AMER")],
            ),
            participant("u2", "UR_2", &[("Hotel", "Provo"), ("Region", "EMEA")]),
            participant("u3", "UR_3", &[("Hotel", "Boston")]),
        ],
        pages: BTreeMap::from([
            ("users".into(), 1),
            ("groups".into(), 1),
            ("directory".into(), 1),
            ("members".into(), 3),
        ]),
    }
}

fn today() -> Date {
    Date::parse_iso("2026-11-22").unwrap()
}

#[test]
fn the_long_table_and_matrix_agree_and_a_filter_keeps_only_that_team() {
    let s = snapshot();
    let t = pull_tables(&s, &roles(), None, MatchOptions::default()).unwrap();
    let pairs: Vec<(String, String, String)> = t
        .long
        .rows
        .iter()
        .map(|r| (r[1].to_string(), r[3].to_string(), r[4].to_string()))
        .collect();
    let p = |u: &str, t: &str, k: &str| (u.to_string(), t.to_string(), k.to_string());
    assert_eq!(
        pairs,
        vec![
            p("ann@x.org", "Front Desk", KIND_GROUP),
            p("ann@x.org", "Seattle Team", KIND_ROLE),
            p("ann@x.org", "AMER Sales", KIND_ROLE),
            p("bo@x.org", "Front Desk", KIND_GROUP),
            p("bo@x.org", "EMEA Sales", KIND_ROLE),
            p("cy@x.org", "Revenue", KIND_GROUP),
        ]
    );
    // The matrix: every user, a mark where the long table has a row; the role sharing a
    // group's name is told apart.
    assert_eq!(t.matrix.rows.len(), 4);
    assert!(t.matrix.columns.contains(&"EMEA Sales (role)".to_string()));
    let marks: usize = t.matrix.rows.iter().flatten().filter(|c| *c == "x").count();
    assert_eq!(marks, t.long.rows.len());
    assert_eq!(t.requests, 6);
    assert!(t.notes[0].contains("Executive Viewers has no automatic rule"));
    let seattle = TeamFilter::parse(" Hotel = Seattle ").unwrap().unwrap();
    let team = pull_tables(&s, &roles(), Some(&seattle), MatchOptions::default()).unwrap();
    assert_eq!(team.users, 1);
    assert!(team.long.rows.iter().all(|r| r[1] == "ann@x.org"));
    let bad = TeamFilter::parse("Hotl = Seattle").unwrap().unwrap();
    let err = pull_tables(&s, &roles(), Some(&bad), MatchOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("attributes found: Hotel, Region"),
        "{err}"
    );
    assert_eq!(err.attribute, "Hotl");
    assert!(TeamFilter::parse("Seattle").is_err());
}

#[test]
fn a_desired_sheet_plans_group_and_role_changes_with_reasons() {
    let desired = table(
        &["User", "Group or role", "Member (yes/no)"],
        &[
            &["ann@x.org", "Front Desk", "yes"],
            &["ann@x.org", "Revenue", "yes"],
            &["bo@x.org", "Front Desk", "no"],
            &["cy@x.org", "Seattle Team", "yes"],
            &["UR_2", "role: EMEA Sales", "no"],
            &["ann@x.org", "group: EMEA Sales", "yes"],
        ],
    );
    let plan = plan_changes(
        &desired,
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    let actions: Vec<(ChangeAction, &str)> = plan
        .rows
        .iter()
        .map(|r| (r.action, r.reason.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (ChangeAction::Unchanged, "already in group Front Desk"),
            (ChangeAction::AddToGroup, "group Revenue: add member"),
            (
                ChangeAction::RemoveFromGroup,
                "group Front Desk: remove member"
            ),
            (
                ChangeAction::JoinRole,
                "role Seattle Team: Hotel In Seattle -> add Seattle to Hotel"
            ),
            (
                ChangeAction::LeaveRole,
                "role EMEA Sales: Region Equals EMEA -> clear Region (was EMEA)"
            ),
            (ChangeAction::AddToGroup, "group EMEA Sales: add member"),
        ]
    );
    assert_eq!(plan.changes(), 5);
    // The role changes go through one directory import keyed by each user's uniqueIdentifier.
    let attributes = plan.attributes.as_ref().unwrap();
    assert_eq!(attributes.changes(), 2);
    let mut served: Vec<u32> = plan.attribute_rows.values().flatten().copied().collect();
    served.sort();
    assert_eq!(served, vec![5, 6]);
    let set: Vec<_> = attributes
        .rows
        .iter()
        .flat_map(|r| r.attribute_changes())
        .collect();
    assert!(
        set.contains(&("Hotel", "Boston", "Boston::Seattle")),
        "{set:?}"
    );
    assert!(set.contains(&("Region", "EMEA", "")), "{set:?}");
    let steps = MembershipApply::new(plan).group_steps();
    assert_eq!(steps.len(), 3);
}

/// Issue 29.2: a membership plan names the person each User cell found, beside the cell, in
/// its rows and its Plan sheet; a row whose user is not found names nobody.
#[test]
fn a_membership_plan_names_the_person_beside_the_user_cell() {
    let desired = table(
        &["User", "Group or role", "Member"],
        &[
            &["UR_1", "role: EMEA Sales", "yes"],
            &["nobody@x.org", "role: EMEA Sales", "yes"],
        ],
    );
    let plan = plan_changes(
        &desired,
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    assert_eq!(plan.rows[0].person, "Ann UR_1");
    assert_eq!(plan.rows[1].person, "");
    let sheet = change_plan_table(&plan);
    let name = sheet.columns.iter().position(|c| c == "Name").unwrap();
    assert_eq!(sheet.columns[name - 1], "User", "beside the User cell");
    assert_eq!(sheet.rows[0][name], "Ann UR_1");
}

#[test]
fn an_equals_change_names_the_roles_it_also_leaves_and_conflicts_are_refused() {
    let desired = table(
        &["User", "Group or role", "Member"],
        &[&["ann@x.org", "role: EMEA Sales", "yes"]],
    );
    let plan = plan_changes(
        &desired,
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    assert_eq!(plan.rows[0].action, ChangeAction::JoinRole);
    assert_eq!(
        plan.rows[0].reason,
        "role EMEA Sales: Region Equals EMEA -> set Region to EMEA (was AMER) (also leaves role AMER Sales)"
    );
    let conflict = table(
        &["User", "Group or role", "Member"],
        &[
            &["ann@x.org", "role: EMEA Sales", "yes"],
            &["ann@x.org", "AMER Sales", "yes"],
            &["ann@x.org", "Seattle Team", "no"],
        ],
    );
    let plan = plan_changes(
        &conflict,
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    // Joining EMEA Sales sets Region, which would take the user out of AMER Sales that row 3
    // wants kept: neither is sent, and nothing else for that user either.
    assert!(
        plan.rows[1].reason.contains("would undo it"),
        "{}",
        plan.rows[1].reason
    );
    assert!(
        plan.rows.iter().all(|r| r.action == ChangeAction::Invalid),
        "{:?}",
        plan.rows
    );
    assert!(plan.attributes.is_none());
    // Two changes that undo each other: joining EMEA Sales and AMER Sales (both set Region).
    let both = table(
        &["User", "Group or role", "Member"],
        &[
            &["cy@x.org", "role:EMEA Sales", "yes"],
            &["cy@x.org", "AMER Sales", "yes"],
        ],
    );
    let plan = plan_changes(
        &both,
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    assert!(
        plan.rows.iter().all(|r| r.action == ChangeAction::Invalid),
        "{:?}",
        plan.rows
    );
    assert!(
        plan.rows[0].reason.contains("undo this one"),
        "{}",
        plan.rows[0].reason
    );
}

#[test]
fn bad_rows_each_get_a_message_on_their_row() {
    let desired = table(
        &["User", "Group or role", "Member"],
        &[
            &["zed@x.org", "Front Desk", "yes"],
            &["ann@x.org", "Night Shift", "yes"],
            &["ann@x.org", "Executive Viewers", "yes"],
            &["ann@x.org", "Front Desk", "maybe"],
            &["di@x.org", "Seattle Team", "yes"],
            &["ann@x.org", "EMEA Sales", "yes"],
            &["bo@x.org", "Revenue", "yes"],
            &["bo@x.org", "revenue", "no"],
        ],
    );
    let plan = plan_changes(
        &desired,
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    let reasons: Vec<&str> = plan.rows.iter().map(|r| r.reason.as_str()).collect();
    assert!(
        reasons[0].starts_with("Row 2, User: \"zed@x.org\" is not a user of this brand"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].starts_with(
            "Row 3, Group or role: \"Night Shift\" is not a group of this brand nor a role"
        ),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("Executive Viewers has no automatic rule"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].starts_with("Row 5, Member: \"maybe\" is neither yes nor no"),
        "{}",
        reasons[3]
    );
    assert!(
        reasons[4].contains("has no CX directory entry"),
        "{}",
        reasons[4]
    );
    assert!(
        reasons[5].contains("is both a group and a role"),
        "{}",
        reasons[5]
    );
    assert!(reasons[7].contains("already on row 8"), "{}", reasons[7]);
    let invalid = plan
        .rows
        .iter()
        .filter(|r| r.action == ChangeAction::Invalid)
        .count();
    assert_eq!(invalid, 7);
    let run = MembershipApply::new(plan);
    let outcomes = run.outcomes();
    assert!(outcomes[0].message.starts_with("not sent: Row 2"));
    assert_eq!(
        outcomes[6].status,
        OutcomeStatus::Skipped,
        "a change the run never reached"
    );
    let missing = plan_changes(
        &table(&["Name"], &[&["x"]]),
        &roles(),
        &snapshot(),
        MatchOptions::default(),
        today(),
    );
    assert!(missing.file_errors[0]
        .message
        .contains("needs the columns User, Group or role, Member"));
}

#[test]
fn group_steps_settle_a_lost_answer_by_the_already_so_reply() {
    let mut step = GroupMemberStep {
        key: "row:2".into(),
        group_id: "GR_1".into(),
        group_name: "Front Desk".into(),
        user_id: "UR_1".into(),
        add: true,
        uncertain: false,
    };
    let already = HttpResponse::new(
        400,
        r#"{"meta":{"httpStatus":"400 - Bad Request","error":{"errorMessage":"User UR_1 is already a member of group GR_1","errorCode":"SBX_ALREADY_MEMBER"}}}"#,
    );
    match step.clone().on_response(&already, 0) {
        StepUpdate::Finished { status, .. } => assert_eq!(status, OutcomeStatus::Failed),
        other => panic!("{other:?}"),
    }
    assert_eq!(step.on_ambiguous_failure("timed out"), None, "retried");
    match step.on_response(&already, 0) {
        StepUpdate::Finished { status, message } => {
            assert_eq!(status, OutcomeStatus::Done);
            assert!(message.contains("first answer was lost"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn validate_checks_membership_rows_with_the_plans_own_messages() {
    let t = Table::from_csv(
        "User,Group or role,Member\nana@x.org,Sales,maybe\n,Sales,yes\nbob@x.org,,no\ncy@x.org,Sales,yes\n",
    )
    .unwrap();
    let checked = check_changes(&t, &RoleSheet::default());
    let problems: Vec<&str> = checked
        .rows
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| p.message.as_str()))
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].contains("\"maybe\" is neither yes nor no"));
    assert!(problems[1].contains("User: empty"));
    assert!(problems[2].contains("empty: name a group or a role"));
    assert_eq!(checked.rows[3].action, ChangeAction::Unchanged);
}

#[test]
fn two_member_columns_are_refused_rather_than_one_silently_used() {
    let t = Table::from_csv("User,Group or role,Member,Member\nana@x.org,Sales,yes,no\n").unwrap();
    let checked = check_changes(&t, &RoleSheet::default());
    assert_eq!(checked.file_errors.len(), 1);
    assert!(checked.file_errors[0]
        .message
        .contains("Two columns are named \"Member\""));
    assert!(checked.rows.is_empty());
}

#[test]
fn changes_to_an_automatic_groups_members_are_refused_on_their_row() {
    // Issue 29.8: Qualtrics decides the members of brand-wide and division-wide groups.
    let mut s = snapshot();
    s.groups[0].group.auto_membership = Some(true); // Front Desk: brand-wide.
    s.groups[1].group.auto_membership = Some(true); // Revenue: division-wide.
    s.groups[1].group.division_id = Some("DV_1".into());
    s.groups[2].group.auto_membership = Some(false); // EMEA Sales: manual.
    let desired = table(
        &["User", "Group or role", "Member"],
        &[
            &["ann@x.org", "Front Desk", "yes"],
            &["bo@x.org", "Front Desk", "no"],
            &["di@x.org", "Front Desk", "yes"],
            &["ann@x.org", "Revenue", "yes"],
            &["cy@x.org", "group: Revenue", "no"],
            &["cy@x.org", "Revenue", "yes"],
            &["ann@x.org", "group: EMEA Sales", "yes"],
        ],
    );
    let plan = plan_changes(&desired, &roles(), &s, MatchOptions::default(), today());
    let actions: Vec<(u32, ChangeAction)> = plan.rows.iter().map(|r| (r.row, r.action)).collect();
    assert_eq!(
        actions,
        vec![
            (2, ChangeAction::Unchanged),
            (3, ChangeAction::Invalid),
            (4, ChangeAction::Invalid),
            (5, ChangeAction::Invalid),
            (6, ChangeAction::Invalid),
            (7, ChangeAction::Invalid),
            (8, ChangeAction::AddToGroup),
        ]
    );
    assert_eq!(plan.changes(), 1);
    assert_eq!(
        plan.rows[1].reason,
        "Row 3, Group or role: Front Desk is a brand-wide group: Qualtrics makes every user of the brand a member, so its members cannot be removed; leave this row out, or use a group whose members are added by hand."
    );
    assert_eq!(
        plan.rows[3].reason,
        "Row 5, Group or role: Revenue is a division-wide group: Qualtrics decides its members from the user's division; change the user's division instead of adding them to the group."
    );
    assert!(plan.rows[4]
        .reason
        .ends_with("instead of removing them from the group."));
    // The same user twice for one group is still said as such.
    assert!(
        plan.rows[5].reason.contains("already on row 6"),
        "{}",
        plan.rows[5].reason
    );
    let problem = plan.rows[3].problem.as_ref().unwrap();
    assert_eq!(problem.row, 5);
    assert_eq!(problem.column, "Group or role");
    // Nothing is sent for them: the only group step is the manual group's.
    let steps = MembershipApply::new(plan).group_steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].group_id, "GR_3");
}

#[test]
fn the_pull_marks_automatic_groups_in_every_form_qualtrics_may_send() {
    for (value, auto) in [
        (serde_json::json!(true), Some(true)),
        (serde_json::json!("true"), Some(true)),
        (serde_json::json!(1), Some(true)),
        (serde_json::json!("Yes"), Some(true)),
        (serde_json::json!(false), Some(false)),
        (serde_json::json!("No"), Some(false)),
        (serde_json::json!(0), Some(false)),
        (serde_json::json!(null), None),
        (serde_json::json!("maybe"), None),
    ] {
        let g: GroupSummary = serde_json::from_value(
            serde_json::json!({"id": "GR_1", "name": "All", "autoMembership": value}),
        )
        .unwrap();
        assert_eq!(g.auto_membership, auto, "{value}");
    }
    let g: GroupSummary = serde_json::from_value(serde_json::json!({"id": "GR_1"})).unwrap();
    assert_eq!(g.auto_membership, None);
    assert_eq!(g.automatic(), None);

    let mut s = snapshot();
    s.groups[0].group.auto_membership = Some(true);
    s.groups[1].group.auto_membership = Some(true);
    s.groups[1].group.division_id = Some("DV_1".into());
    let t = pull_tables(&s, &roles(), None, MatchOptions::default()).unwrap();
    let automatic: Vec<(&str, Option<&str>)> = t
        .counts
        .iter()
        .map(|c| (c.name.as_str(), c.automatic.as_deref()))
        .collect();
    assert_eq!(
        &automatic[..4],
        &[
            ("Front Desk", Some("brand-wide")),
            ("Revenue", Some("division-wide")),
            ("EMEA Sales", None),
            ("Seattle Team", None),
        ]
    );
}
