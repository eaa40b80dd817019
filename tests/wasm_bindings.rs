//! The WASM bindings in headless Chromium: JS-facing names, `RosterError`s with a `code` the
//! page branches on and messages a person can act on, and real fetch failures turned into
//! those messages.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Object, Reflect};
use qualtrics_roster::bindings::{check_datacenter, roles_after, table_to_csv, RosterClient};
use tsify::Ts;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn message(err: impl Into<JsValue>) -> String {
    let value: JsValue = err.into();
    value
        .dyn_into::<js_sys::Error>()
        .expect("a real JS Error")
        .message()
        .into()
}

/// The `code` of a `RosterError` (and that it is one: name and code are both set).
fn code(err: &JsValue) -> String {
    let error = err.dyn_ref::<js_sys::Error>().expect("a real JS Error");
    assert_eq!(String::from(error.name()), "RosterError");
    Reflect::get(err, &"code".into())
        .unwrap()
        .as_string()
        .expect("a code")
}

#[wasm_bindgen_test]
fn bad_connection_settings_throw_errors_that_say_what_to_type() {
    let err = RosterClient::via_relay("http://localhost/relay", "evil.example", "tok")
        .err()
        .unwrap();
    assert_eq!(code(&err), "connect");
    assert!(message(err).contains("\"evil.example\" is not a Qualtrics datacenter id"));
    let err = RosterClient::via_relay("http://localhost/relay", "iad1", "  ")
        .err()
        .unwrap();
    assert!(message(err).starts_with("Enter an API token"));
    let err = RosterClient::direct("not a url", "tok").err().unwrap();
    assert!(message(err).contains("is not a usable http(s) address"));
    assert_eq!(check_datacenter(" FRA1 ").unwrap(), "fra1");
}

#[wasm_bindgen_test]
async fn an_unreachable_host_rejects_with_a_network_message() {
    let spec = Object::new();
    Reflect::set(&spec, &"url".into(), &"http://127.0.0.1:9/API/v3".into()).unwrap();
    Reflect::set(&spec, &"token".into(), &"tok".into()).unwrap();
    let err = JsFuture::from(RosterClient::connect(Ts::new_unchecked(spec.into()), None))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "brand");
    let text = message(err);
    assert!(
        text.starts_with("Could not reach Qualtrics at http://127.0.0.1:9/API/v3"),
        "{text}"
    );
}

#[wasm_bindgen_test]
async fn a_non_qualtrics_answer_rejects_instead_of_panicking() {
    // The test runner's own server is no Qualtrics: whatever it answers must become a message.
    let origin = web_sys_origin();
    let client = RosterClient::direct(&format!("{origin}/no-such-api/API/v3"), "tok").unwrap();
    let err = JsFuture::from(client.list_users(None, None))
        .await
        .unwrap_err();
    assert_eq!(code(&err), "brand");
    let text = message(err);
    assert!(
        text.contains("HTTP 404") || text.contains("Expected a Qualtrics JSON answer"),
        "{text}"
    );
}

#[wasm_bindgen_test]
fn tables_from_js_become_safe_csv() {
    let table = Object::new();
    let columns = Array::of2(&"User ID".into(), &"Note".into());
    let rows = Array::of1(&Array::of2(&"UR_1".into(), &"=1+1".into()));
    Reflect::set(&table, &"columns".into(), &columns).unwrap();
    Reflect::set(&table, &"rows".into(), &rows).unwrap();
    let csv = table_to_csv(Ts::new_unchecked(table.into())).unwrap();
    assert_eq!(csv, "\u{feff}User ID,Note\nUR_1,'=1+1\n");
    let err = table_to_csv(Ts::new_unchecked(JsValue::from_f64(3.0)))
        .err()
        .unwrap();
    assert_eq!(code(&err), "input");
    assert!(message(err).starts_with("Not a table of text cells"));
}

#[wasm_bindgen_test]
fn roles_after_compares_values_as_the_pull_did() {
    // Rule "Hotel Equals Seattle"; the user's Hotel is "seattle": a member only when the pull
    // ignored case, and only then does leaving the role change anything.
    let roles = Object::new();
    let columns = ["Role", "Attribute", "Operator", "Value"].map(JsValue::from);
    let row = ["Seattle Team", "Hotel", "Equals", "Seattle"].map(JsValue::from);
    Reflect::set(
        &roles,
        &"columns".into(),
        &columns.iter().collect::<Array>(),
    )
    .unwrap();
    let rows = Array::of1(&row.iter().collect::<Array>());
    Reflect::set(&roles, &"rows".into(), &rows).unwrap();
    let metadata = Object::new();
    Reflect::set(&metadata, &"Hotel".into(), &"seattle".into()).unwrap();
    let leave = Array::of1(&Array::of2(&"Seattle Team".into(), &false.into()));
    let lost = |case_insensitive: Option<bool>| {
        let options = case_insensitive.map(|c| {
            let o = Object::new();
            Reflect::set(&o, &"caseInsensitive".into(), &c.into()).unwrap();
            Ts::new_unchecked(o.into())
        });
        let after = roles_after(
            Ts::new_unchecked(roles.clone().into()),
            metadata.clone().into(),
            leave.clone().into(),
            options,
        )
        .unwrap();
        Array::from(&Reflect::get(&after, &"lost".into()).unwrap()).length()
    };
    assert_eq!(
        lost(None),
        0,
        "case-sensitive by default: not a member to begin with"
    );
    assert_eq!(lost(Some(false)), 0);
    assert_eq!(lost(Some(true)), 1, "ignoring case, leaving loses the role");
}

fn web_sys_origin() -> String {
    let location = Reflect::get(&js_sys::global(), &"location".into()).unwrap();
    Reflect::get(&location, &"origin".into())
        .unwrap()
        .as_string()
        .unwrap()
}
