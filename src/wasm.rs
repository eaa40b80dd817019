//! wasm-bindgen bindings: JS names and JS `Error`s around the core, nothing else.
//!
//! The WASM performs HTTP itself with fetch (gloo-net); the core builds every request and
//! parses every answer.

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::connection::{Auth, Connection, Datacenter};
use crate::error::ApiError;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::table::Table;
use crate::users::{self, UserListing};

/// A connection to a brand, holding the token in WASM memory only.
#[wasm_bindgen]
pub struct RosterClient {
    conn: Connection,
}

#[wasm_bindgen]
impl RosterClient {
    /// Calls Qualtrics through the relay at `relayUrl` for `datacenter`.
    #[wasm_bindgen(js_name = viaRelay)]
    pub fn via_relay(
        relay_url: &str,
        datacenter: &str,
        token: &str,
    ) -> Result<RosterClient, JsError> {
        let auth = Auth::api_token(token).map_err(js_error)?;
        let conn = Connection::via_relay(relay_url, datacenter, auth).map_err(js_error)?;
        Ok(RosterClient { conn })
    }

    /// Calls an API base URL directly (the sandbox, or Qualtrics where CORS allows it).
    pub fn direct(base_url: &str, token: &str) -> Result<RosterClient, JsError> {
        let auth = Auth::api_token(token).map_err(js_error)?;
        let conn = Connection::direct(base_url, auth).map_err(js_error)?;
        Ok(RosterClient { conn })
    }

    /// `GET /whoami`; resolves to `{brandId, userId, userName, datacenter, …, notice}`.
    pub fn whoami(&self) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let response = send(&users::whoami_request(&conn)).await.map_err(to_js)?;
            let (who, notice) = users::parse_whoami(&response).map_err(to_js)?;
            #[derive(Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Out {
                #[serde(flatten)]
                who: users::Whoami,
                notice: Option<String>,
            }
            to_value(&Out {
                who,
                notice: notice.map(|n| n.message()),
            })
        })
    }

    /// Lists every user, page by page; `onPage({page, usersSoFar, last, notice})` is called as
    /// each page arrives. Resolves to `{columns, rows, pages, notice}` (the Users sheet).
    #[wasm_bindgen(js_name = listUsers)]
    pub fn list_users(&self, on_page: Option<Function>) -> Promise {
        let conn = self.conn.clone();
        future_to_promise(async move {
            let mut listing = UserListing::users(&conn);
            let mut all = Vec::new();
            let mut notice = None;
            while let Some(request) = listing.next_request(&conn) {
                let response = send(&request).await.map_err(to_js)?;
                let page = listing.on_response(&conn, &response).map_err(to_js)?;
                all.extend(page.elements);
                if let Some(n) = page.notice {
                    notice = Some(n.message());
                }
                if let Some(cb) = &on_page {
                    let progress = to_value(&Progress {
                        page: page.number,
                        users_so_far: all.len(),
                        last: page.last,
                        notice: notice.clone(),
                    })?;
                    cb.call1(&JsValue::NULL, &progress)?;
                }
            }
            let table = users::users_table(&all);
            to_value(&UsersOut {
                columns: table.columns,
                rows: table.rows,
                pages: listing.pages_read(),
                notice,
            })
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    page: usize,
    users_so_far: usize,
    last: bool,
    notice: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsersOut {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    pages: usize,
    notice: Option<String>,
}

/// A table `{columns, rows}` as CSV, safe to open in a spreadsheet.
#[wasm_bindgen(js_name = tableToCsv)]
pub fn table_to_csv(table: JsValue) -> Result<String, JsError> {
    let table: Table = serde_wasm_bindgen::from_value(table)
        .map_err(|e| JsError::new(&format!("Not a table of text cells: {e}")))?;
    Ok(table.to_csv())
}

/// Checks a datacenter id; returns it normalised, or throws a message saying what to type.
#[wasm_bindgen(js_name = checkDatacenter)]
pub fn check_datacenter(id: &str) -> Result<String, JsError> {
    Datacenter::parse(id)
        .map(|d| d.as_str().to_string())
        .map_err(js_error)
}

/// Performs one request with fetch.
async fn send(request: &HttpRequest) -> Result<HttpResponse, ApiError> {
    use gloo_net::http::{Method as M, RequestBuilder};
    let host = url::Url::parse(&request.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| request.url.clone());
    let network = |detail: String| ApiError::Network {
        host: host.clone(),
        detail,
    };
    let method = match request.method {
        Method::Get => M::GET,
        Method::Post => M::POST,
        Method::Put => M::PUT,
        Method::Delete => M::DELETE,
    };
    let mut builder = RequestBuilder::new(&request.url).method(method);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let built = match &request.body {
        Some(body) => builder.body(js_sys::Uint8Array::from(body.as_slice())),
        None => builder.build(),
    }
    .map_err(|e| network(e.to_string()))?;
    let response = built
        .send()
        .await
        .map_err(|_| network("the browser could not complete the request (network error, or the server refused a cross-origin call)".into()))?;
    let status = response.status();
    let headers = response.headers().entries().collect();
    let body = response
        .binary()
        .await
        .map_err(|_| network("the connection broke while reading the answer".into()))?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn to_value<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()).into())
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}
