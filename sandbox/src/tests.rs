//! The API as a client sees it: paging with absolute `nextPage` URLs, groups and their
//! members, import jobs recomputing roles.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};

use crate::adapter::{connect_info, control_state};
use crate::api::{addressed, dispatch};
use crate::{directory, roles, Sandbox, SandboxConfig, USERS_PAGE_SIZE};

/// A call as `api` would make it, minus faults and limits: (status, body).
fn call(
    sb: &Sandbox,
    token: &str,
    host: &str,
    method: Method,
    path_and_query: &str,
    body: &str,
) -> (StatusCode, Value) {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    headers.insert("x-api-token", HeaderValue::from_str(token).unwrap());
    let uri: Uri = path_and_query.parse().unwrap();
    let at = addressed(&headers);
    let answer = dispatch(sb, &method, &uri, &headers, body.as_bytes(), &at, 0);
    (answer.status, answer.body)
}

const HOST: &str = "127.0.0.1:8080";

fn sandbox(users: usize) -> (Arc<Sandbox>, String) {
    let sb = Sandbox::new(&SandboxConfig {
        users,
        ..SandboxConfig::default()
    });
    let token = sb.admin_token();
    (sb, token)
}

/// Follows `nextPage` from `first`, returning every element id and every `nextPage` seen.
fn walk(sb: &Sandbox, token: &str, host: &str, first: &str) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut pages = Vec::new();
    let mut next = first.to_string();
    loop {
        let (status, body) = call(sb, token, host, Method::GET, &next, "");
        assert_eq!(status, StatusCode::OK, "{body}");
        let elements = body["result"]["elements"].as_array().unwrap();
        assert!(elements.len() <= USERS_PAGE_SIZE);
        ids.extend(
            elements
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
        match &body["result"]["nextPage"] {
            Value::Null => break,
            Value::String(url) => {
                pages.push(url.clone());
                let url = url::Url::parse(url).unwrap();
                next = format!("{}?{}", url.path(), url.query().unwrap_or(""));
            }
            other => panic!("nextPage {other}"),
        }
    }
    (ids, pages)
}

#[test]
fn group_members_page_by_offset_with_absolute_next_pages_covering_everyone_once() {
    let (sb, token) = sandbox(260);
    let (gid, everyone) = {
        let mut brand = sb.brand();
        let ids: Vec<String> = brand.users.iter().rev().map(|u| u.id.clone()).collect();
        brand.groups[0].members = ids.clone();
        (brand.groups[0].id.clone(), ids)
    };
    let first = format!("/sandbox/API/v3/groups/{gid}/members");
    let (ids, pages) = walk(&sb, &token, HOST, &first);
    assert_eq!(ids, everyone, "every member once, in the group's order");
    assert_eq!(
        pages,
        vec![
            format!("http://{HOST}/sandbox/API/v3/groups/{gid}/members?offset=100"),
            format!("http://{HOST}/sandbox/API/v3/groups/{gid}/members?offset=200"),
        ]
    );
    // Another datacenter's host: the next pages are on the brand's own, with proxy params.
    let (ids, pages) = walk(
        &sb,
        &token,
        "fra1.qualtrics.com",
        &format!("/API/v3/groups/{gid}/members"),
    );
    assert_eq!(ids, everyone);
    assert_eq!(
        pages[0],
        format!("https://iad1.qualtrics.com/API/v3/groups/{gid}/members?offset=100&proxyDepth=1&proxyInfo=%7B%22proxyDepth%22%3A1%7D")
    );
    // Elements carry the user summary fields, nothing more.
    let (_, body) = call(&sb, &token, HOST, Method::GET, &first, "");
    let e = body["result"]["elements"][0].as_object().unwrap();
    let mut keys: Vec<&str> = e.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "accountStatus",
            "divisionId",
            "email",
            "firstName",
            "id",
            "lastName",
            "userType",
            "username"
        ]
    );
    // Past the end: an empty last page; a bad offset: 400; an unknown group: 404.
    let (status, body) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        &format!("{first}?offset=900"),
        "",
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["elements"], json!([]));
    assert_eq!(body["result"]["nextPage"], Value::Null);
    let (status, body) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        &format!("{first}?offset=-1"),
        "",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["meta"]["error"]["errorCode"], "SBX_BAD_PARAM");
    let (status, _) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        "/sandbox/API/v3/groups/GR_nope/members",
        "",
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn groups_list_and_read_and_users_share_the_paging() {
    let sb = Sandbox::new(&SandboxConfig {
        users: 150,
        groups: 130,
        ..SandboxConfig::default()
    });
    let token = sb.admin_token();
    let (ids, pages) = walk(&sb, &token, HOST, "/sandbox/API/v3/groups");
    let expected: Vec<String> = sb.brand().groups.iter().map(|g| g.id.clone()).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        pages,
        vec![format!("http://{HOST}/sandbox/API/v3/groups?offset=100")]
    );
    let names: Vec<String> = sb.brand().groups.iter().map(|g| g.name.clone()).collect();
    assert_eq!(names[0], "Seattle Hotel");
    assert_eq!(names[12], "Team 013");
    assert_eq!(names[129], "Team 130");
    let (_, body) = call(&sb, &token, HOST, Method::GET, "/sandbox/API/v3/groups", "");
    let e = &body["result"]["elements"][3];
    assert_eq!(e["name"], "Front Desk");
    assert_eq!(e["type"], "GT_MANUAL");
    assert!(
        e["divisionId"].is_string(),
        "every fourth group is a division's"
    );
    assert!(body["result"]["elements"][0]["divisionId"].is_null());

    let (ids, pages) = walk(&sb, &token, HOST, "/sandbox/API/v3/users");
    assert_eq!(ids.len(), 150);
    assert_eq!(
        pages,
        vec![format!("http://{HOST}/sandbox/API/v3/users?offset=100")]
    );

    let gid = expected[3].clone();
    let (status, body) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        &format!("/sandbox/API/v3/groups/{gid}"),
        "",
    );
    assert_eq!(status, StatusCode::OK);
    let r = &body["result"];
    assert_eq!(r["id"], gid.as_str());
    assert_eq!(r["name"], "Front Desk");
    assert_eq!(r["autoMembership"], false);
    assert!(r["creationDate"].is_string() && r["creatorId"].is_string());
    let (status, body) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        "/sandbox/API/v3/groups/GR_nope",
        "",
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["meta"]["error"]["errorCode"], "ESSG_2");
    // The standard user's token may not read groups.
    let (status, _) = call(
        &sb,
        &sb.user_token(),
        HOST,
        Method::GET,
        "/sandbox/API/v3/groups",
        "",
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn adding_and_removing_members_answer_like_qualtrics() {
    let (sb, token) = sandbox(20);
    let (gid, outsider, insider) = {
        let brand = sb.brand();
        let g = &brand.groups[0];
        let outsider = brand
            .users
            .iter()
            .find(|u| !g.members.contains(&u.id))
            .unwrap()
            .id
            .clone();
        (g.id.clone(), outsider, g.members.first().cloned())
    };
    let members = format!("/sandbox/API/v3/groups/{gid}/members");
    let post = |body: &str| call(&sb, &token, HOST, Method::POST, &members, body);

    let (status, body) = post(&format!(r#"{{"userId":"{outsider}"}}"#));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"meta": {}}), "meta only");
    assert_eq!(sb.brand().groups[0].members.last(), Some(&outsider));

    let (status, body) = post(&format!(r#"{{"userId":"{outsider}"}}"#));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["meta"]["error"]["errorCode"], "SBX_ALREADY_MEMBER");
    assert_eq!(
        body["meta"]["error"]["errorMessage"],
        format!("User {outsider} is already a member of group {gid}")
    );

    for bad in ["not json", "{}", r#"{"userId":7}"#, "[]"] {
        let (status, body) = post(bad);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["meta"]["error"]["errorCode"], "SBX_BAD_BODY");
    }
    let (status, _) = post(r#"{"userId":"UR_nobodyAtAll000"}"#);
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &sb,
        &token,
        HOST,
        Method::POST,
        "/sandbox/API/v3/groups/GR_nope/members",
        &format!(r#"{{"userId":"{outsider}"}}"#),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);

    let delete = |user: &str| {
        call(
            &sb,
            &token,
            HOST,
            Method::DELETE,
            &format!("{members}/{user}"),
            "",
        )
    };
    let (status, body) = delete(&outsider);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"meta": {}}));
    assert!(!sb.brand().groups[0].members.contains(&outsider));
    let (status, body) = delete(&outsider);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["meta"]["error"]["errorMessage"],
        format!("User {outsider} is not a member of group {gid}")
    );
    if let Some(insider) = insider {
        assert_eq!(delete(&insider).0, StatusCode::OK);
    }
    let (status, _) = call(
        &sb,
        &token,
        HOST,
        Method::DELETE,
        &format!("/sandbox/API/v3/groups/GR_nope/members/{outsider}"),
        "",
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn an_import_job_recomputes_roles_when_it_finishes() {
    let (sb, token) = sandbox(30);
    // A participant in no Seattle role yet, and one of Seattle Team's auto members.
    let (joiner, leaver) = {
        let brand = sb.brand();
        let seattle = &brand.roles[0];
        let joiner = brand
            .directory
            .participants
            .iter()
            .find(|p| !seattle.members.contains_key(&p.unique_identifier))
            .unwrap()
            .unique_identifier
            .clone();
        let leaver = seattle
            .members
            .iter()
            .find(|(_, a)| **a == roles::Assignment::Auto)
            .unwrap()
            .0
            .clone();
        (joiner, leaver)
    };
    let person = |uid: &str, hotel: &str| {
        json!({"uniqueIdentifier": uid, "firstName": "A", "lastName": "B",
               "email": "a@b.org", "metadata": {"Hotel": hotel}})
    };
    let body =
        json!({"participants": [person(&joiner, "Provo:: Seattle"), person(&leaver, "Boston")]});
    let (status, created) = call(
        &sb,
        &token,
        HOST,
        Method::POST,
        "/sandbox/API/v3/employee-directories/cx/import-participants",
        &body.to_string(),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["jobId"].as_str().unwrap().to_string();
    for poll in 1..=directory::POLLS_PER_JOB {
        let in_role = |uid: &str| sb.brand().roles[0].members.get(uid).copied();
        assert_eq!(in_role(&joiner), None, "poll {poll}: not yet");
        assert_eq!(in_role(&leaver), Some(roles::Assignment::Auto));
        call(
            &sb,
            &token,
            HOST,
            Method::GET,
            &format!("/sandbox/API/v3/employee-directories/cx/import-participants/{job}"),
            "",
        );
    }
    let brand = sb.brand();
    assert_eq!(
        brand.roles[0].members.get(&joiner),
        Some(&roles::Assignment::Auto)
    );
    assert_eq!(brand.roles[0].members.get(&leaver), None);
}

#[tokio::test]
async fn control_state_and_connect_info_show_groups_roles_and_rules() {
    let (sb, token) = sandbox(40);
    let mut headers = HeaderMap::new();
    let refused = control_state(State(sb.clone()), headers.clone()).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    headers.insert("x-api-token", HeaderValue::from_str(&token).unwrap());
    let resp = control_state(State(sb.clone()), headers).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let state: Value = serde_json::from_slice(&bytes).unwrap();
    let first_group = sb.brand().groups[0].members.clone();
    assert_eq!(state["groups"].as_array().unwrap().len(), 12);
    assert_eq!(state["groups"][0]["members"], json!(first_group));
    let roles = state["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 6);
    assert_eq!(
        roles[0]["rules"],
        json!([{"attribute": "Hotel", "operator": "In", "value": "Seattle"}])
    );
    assert_eq!(roles[3]["rules"][0]["operator"], "Equals");
    let viewers = roles[5]["members"].as_array().unwrap();
    assert_eq!(viewers.len(), 3);
    assert!(viewers
        .iter()
        .all(|m| m["auto"] == false && m["userId"].as_str().unwrap().starts_with("UR_")));
    let uids: Vec<&str> = viewers
        .iter()
        .map(|m| m["uniqueIdentifier"].as_str().unwrap())
        .collect();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "stable order");

    let Json(info) = connect_info(State(sb.clone())).await;
    let rows = info["roleRules"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows[0],
        json!({"role": "Seattle Team", "attribute": "Hotel", "operator": "In", "value": "Seattle"})
    );
    assert_eq!(
        rows[5],
        json!({"role": "Executive Viewers", "attribute": "", "operator": "", "value": ""})
    );
}

#[test]
fn users_filtered_by_username_answer_only_that_user_ignoring_case() {
    // The filter is unverified (one client documents it): see `api::users::list_users`.
    let (sb, token) = sandbox(250);
    let name = sb.brand().users[180].username.clone();
    let (status, body) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        &format!("/sandbox/API/v3/users?username={}", name.to_uppercase()),
        "",
    );
    assert_eq!(status, StatusCode::OK);
    let elements = body["result"]["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!(elements[0]["username"], name.as_str());
    assert!(body["result"]["nextPage"].is_null());
    let (_, body) = call(
        &sb,
        &token,
        HOST,
        Method::GET,
        "/sandbox/API/v3/users?username=nobody%40example.org",
        "",
    );
    assert_eq!(body["result"]["elements"], json!([]));
    assert!(body["result"]["nextPage"].is_null());
}

#[test]
fn a_directory_bigger_than_the_users_and_requests_counted_per_endpoint() {
    let sb = Sandbox::new(&SandboxConfig {
        users: 10,
        directory_only: 250,
        // Not about pacing: every request of the test fits the buckets at once.
        limits: crate::faults::RateLimits::default().scaled(1000.0),
        ..SandboxConfig::default()
    });
    let token = sb.admin_token();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_str(HOST).unwrap());
    headers.insert("x-api-token", HeaderValue::from_str(&token).unwrap());
    let send = |method: Method, path: &str, body: &str| {
        let uri: Uri = path.parse().unwrap();
        sb.answer(&method, &uri, &headers, body.as_bytes(), 0)
    };
    // Searched by uniqueIdentifier: a participant without a platform account.
    let found = send(
        Method::POST,
        "/sandbox/API/v3/employee-directories/cx/participants?includeMetadata=true",
        r#"{"uniqueIdentifier":"DIR0000007"}"#,
    );
    let participants = found.body.as_ref().unwrap()["participants"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(participants.len(), 1);
    assert!(participants[0]["userId"].is_null());
    assert!(participants[0]["metadata"]["Region"].is_string());
    // Listed whole: 260 participants, 3 pages of 100.
    let mut pages = 0;
    let mut body = "{}".to_string();
    loop {
        let page = send(
            Method::POST,
            "/sandbox/API/v3/employee-directories/cx/participants?includeMetadata=true&pageSize=100",
            &body,
        );
        pages += 1;
        match page.body.as_ref().unwrap()["skipToken"].as_str() {
            Some(t) => body = json!({ "skipToken": t }).to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let user = sb.brand().users[3].id.clone();
    send(Method::GET, &format!("/sandbox/API/v3/users/{user}"), "");
    let stats = sb.stats_snapshot();
    assert_eq!(
        stats.by_endpoint["POST /employee-directories/cx/participants"],
        4
    );
    assert_eq!(stats.by_endpoint["GET /users/{id}"], 1);
    assert_eq!(stats.ok_by_endpoint["GET /users/{id}"], 1);
}

#[test]
fn automatic_groups_list_who_qualtrics_decides_and_refuse_changes() {
    let sb = Sandbox::new(&SandboxConfig {
        users: 40,
        auto_groups: true,
        ..SandboxConfig::default()
    });
    let token = sb.admin_token();
    let (all_staff, division_group, division, everyone, in_division, outsider) = {
        let brand = sb.brand();
        assert_eq!(brand.groups.len(), 14, "the 12 seeded and two automatic");
        let all = brand.groups[12].clone();
        let div = brand.groups[13].clone();
        let division = div.division_id.clone().unwrap();
        let everyone: Vec<String> = brand.users.iter().map(|u| u.id.clone()).collect();
        let in_division: Vec<String> = brand
            .users
            .iter()
            .filter(|u| u.division_id.as_deref() == Some(division.as_str()))
            .map(|u| u.id.clone())
            .collect();
        let outsider = brand
            .users
            .iter()
            .find(|u| u.division_id.as_deref() != Some(division.as_str()))
            .unwrap()
            .id
            .clone();
        (all, div, division, everyone, in_division, outsider)
    };
    assert_eq!(all_staff.name, "All Staff");
    assert!(!in_division.is_empty() && in_division.len() < everyone.len());

    // One group's record says it; the listing does not, unless asked to.
    for (g, auto) in [(&all_staff, true), (&division_group, true)] {
        let (status, body) = call(
            &sb,
            &token,
            HOST,
            Method::GET,
            &format!("/sandbox/API/v3/groups/{}", g.id),
            "",
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["result"]["autoMembership"], auto);
    }
    let (_, body) = call(&sb, &token, HOST, Method::GET, "/sandbox/API/v3/groups", "");
    assert!(body["result"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e.get("autoMembership").is_none()));
    let listing = Sandbox::new(&SandboxConfig {
        users: 40,
        auto_groups: true,
        group_list_auto_membership: true,
        ..SandboxConfig::default()
    });
    let (_, body) = call(
        &listing,
        &listing.admin_token(),
        HOST,
        Method::GET,
        "/sandbox/API/v3/groups",
        "",
    );
    let flags: Vec<bool> = body["result"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["autoMembership"].as_bool().unwrap())
        .collect();
    assert_eq!(flags.iter().filter(|a| **a).count(), 2);
    assert!(flags[12] && flags[13]);

    // The members are the brand's users, or its division's.
    let (ids, _) = walk(
        &sb,
        &token,
        HOST,
        &format!("/sandbox/API/v3/groups/{}/members", all_staff.id),
    );
    assert_eq!(ids, everyone);
    let (ids, _) = walk(
        &sb,
        &token,
        HOST,
        &format!("/sandbox/API/v3/groups/{}/members", division_group.id),
    );
    assert_eq!(ids, in_division);

    // Adding or removing a member is refused, and nothing changes.
    for (g, user) in [
        (&all_staff, &everyone[3]),
        (&division_group, &outsider),
        (&division_group, &in_division[0]),
    ] {
        let members = format!("/sandbox/API/v3/groups/{}/members", g.id);
        let (status, body) = call(
            &sb,
            &token,
            HOST,
            Method::POST,
            &members,
            &format!(r#"{{"userId":"{user}"}}"#),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["meta"]["error"]["errorCode"], "SBX_AUTO_MEMBERSHIP");
        let (status, _) = call(
            &sb,
            &token,
            HOST,
            Method::DELETE,
            &format!("{members}/{user}"),
            "",
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (ids, _) = walk(
        &sb,
        &token,
        HOST,
        &format!("/sandbox/API/v3/groups/{}/members", division_group.id),
    );
    assert_eq!(ids, in_division, "unchanged by the refused calls");

    // Moving a user into the division makes them a member: Qualtrics decides.
    let (status, body) = call(
        &sb,
        &token,
        HOST,
        Method::PUT,
        &format!("/sandbox/API/v3/users/{outsider}"),
        &format!(r#"{{"divisionId":"{division}"}}"#),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let (ids, _) = walk(
        &sb,
        &token,
        HOST,
        &format!("/sandbox/API/v3/groups/{}/members", division_group.id),
    );
    assert!(ids.contains(&outsider));
}
