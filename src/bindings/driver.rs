//! The browser's side of the core's driver loop ([`crate::run::drive`]): fetch, timers and
//! the page's clock, and each progress event handed to JavaScript.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::JsValue;

use super::error::{fail, ErrorCode};
use super::{now_ms, to_value};
use crate::api::connection::{Auth, Connection};
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse, Method};
use crate::api::users::Connected;
use crate::exec::{ExecConfig, TransportFailure};
use crate::run::{ConnectError, ConnectJob, Control, Run, RunEnd};

/// fetch and the browser's timers, for the core's driver loop.
struct Fetch;

impl crate::run::Transport for Fetch {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportFailure> {
        fetch(&request).await.map_err(|detail| {
            TransportFailure::no_answer(network(&request.url, detail).to_string())
        })
    }
    async fn sleep(&self, ms: u64) {
        gloo_timers::future::TimeoutFuture::new(ms.min(u64::from(u32::MAX)) as u32).await;
    }
    fn now(&self) -> u64 {
        now_ms()
    }
    async fn renew(&self) -> Result<Auth, String> {
        // An API token cannot be renewed: the run stops, saying why.
        Err("Qualtrics refused the API token".into())
    }
}

/// Drives `run` to the end of its current stage, calling `on_progress` with each progress
/// event. The run stays borrowable between awaits, so `cancel` can reach it at any time.
pub(super) async fn drive<R: Run + ?Sized + 'static>(
    run: &Rc<RefCell<R>>,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    let mut failed: Option<JsValue> = None;
    let end = crate::run::drive(&mut run.clone(), &Fetch, |_, progress| {
        let told = match (on_progress, progress) {
            (Some(cb), Some(p)) => to_value(&p).and_then(|p| cb.call1(&JsValue::NULL, &p)),
            _ => Ok(JsValue::UNDEFINED),
        };
        match told {
            Ok(_) => Control::Continue,
            Err(e) => {
                // The progress callback threw: stop, and reject with what it threw.
                failed = Some(e);
                Control::Kill
            }
        }
    })
    .await;
    match (failed, end) {
        (Some(e), _) => Err(e),
        (None, RunEnd::Stuck) => Err(fail(
            ErrorCode::Brand,
            "internal error: the run is stuck (nothing to send or wait for)",
        )),
        (None, _) => Ok(()),
    }
}

/// Drives a new `run` to its end and hands it back, shared (for `cancel`); fails (code
/// `brand`) if reading the brand failed or a refused token stopped it.
pub(super) async fn drive_to_end<R: Run + 'static>(
    run: R,
    on_progress: Option<&Function>,
) -> Result<Rc<RefCell<R>>, JsValue> {
    let run = Rc::new(RefCell::new(run));
    drive(&run, on_progress).await?;
    let failed = run
        .borrow()
        .failure()
        .map(|e| e.trim_start_matches("not sent: ").to_string());
    failed.map_or(Ok(run), |e| Err(fail(ErrorCode::Brand, e)))
}

/// Drives a connect to its end: the connection, who the credential belongs to and the
/// datacenter moved to; else code `connect` (as typed) or `brand` (Qualtrics' answer).
pub(super) async fn connect(
    job: ConnectJob,
    on_progress: Option<&Function>,
) -> Result<(Connection, Connected, Option<String>), JsValue> {
    let run = Rc::new(RefCell::new(job.run(ExecConfig::default(), now_ms())));
    drive(&run, on_progress).await?;
    let run = run.borrow();
    let (conn, connected) = run.job().outcome().map_err(|failure| match failure {
        Some(ConnectError::Connection(e)) => fail(ErrorCode::Connect, e),
        Some(failure) => fail(ErrorCode::Brand, failure),
        None => fail(ErrorCode::Brand, "Connecting did not finish."),
    })?;
    let moved_to = run.job().moves().last().map(|d| d.as_str().to_string());
    Ok((conn.clone(), connected.clone(), moved_to))
}

/// The failure of a request to `url`, as the core's transport reports it.
fn network(url: &str, detail: String) -> ApiError {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    ApiError::Network {
        host: host.unwrap_or_else(|| url.to_string()),
        detail,
    }
}

/// Performs one request with fetch; the error says what went wrong, for [`network`].
async fn fetch(request: &HttpRequest) -> Result<HttpResponse, String> {
    use gloo_net::http::{Method as M, RequestBuilder};
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
    .map_err(|e| e.to_string())?;
    let response = built.send().await.map_err(|_| {
        "the browser could not complete the request (network error, or the server refused a cross-origin call)"
    })?;
    let (status, headers) = (response.status(), response.headers().entries().collect());
    let body = response.binary().await;
    let body = body.map_err(|_| "the connection broke while reading the answer")?;
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
