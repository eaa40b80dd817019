//! The browser driver: carries a run's requests with fetch and waits with timers, handing each
//! answer to the run and each progress event to JavaScript (see [`crate::run::Run`]).

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use js_sys::Function;
use wasm_bindgen::JsValue;

use super::error::{fail, ErrorCode};
use super::{now_ms, to_value};
use crate::api::error::ApiError;
use crate::api::http::{HttpRequest, HttpResponse, Method};
use crate::exec::TransportFailure;
use crate::run::Run;

/// Drives `run` to the end of its current stage, calling `on_progress` with each progress
/// event. The run stays borrowable between awaits, so `cancel` can reach it at any time.
pub(super) async fn drive<R: Run + ?Sized + 'static>(
    run: &Rc<RefCell<R>>,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    type Answer = (u64, Result<HttpResponse, TransportFailure>);
    let (tx, mut rx) = futures_channel::mpsc::unbounded::<Answer>();
    let mut in_flight = 0usize;
    loop {
        let (send_now, wake_at, finished) = {
            let mut r = run.borrow_mut();
            let poll = r.poll(now_ms());
            if poll.needs_auth {
                // An API token cannot be renewed: the run stops, saying why.
                r.auth_failed("Qualtrics refused the API token", now_ms());
                continue;
            }
            (poll.send, poll.wake_at, r.is_finished())
        };
        for out in send_now {
            in_flight += 1;
            let tx = tx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let answer = send(&out.request)
                    .await
                    .map_err(|e| TransportFailure(e.to_string()));
                let _ = tx.unbounded_send((out.id, answer));
            });
        }
        if finished && in_flight == 0 {
            return report(run, on_progress);
        }
        let wait_ms = wake_at.map(|t| t.saturating_sub(now_ms()).min(u32::MAX as u64) as u32);
        let first: Option<Answer> = match (in_flight > 0, wait_ms) {
            (true, Some(ms)) => {
                let timer = gloo_timers::future::TimeoutFuture::new(ms);
                futures_util::pin_mut!(timer);
                match futures_util::future::select(rx.next(), timer).await {
                    futures_util::future::Either::Left((answer, _)) => answer,
                    futures_util::future::Either::Right(_) => None,
                }
            }
            (true, None) => rx.next().await,
            (false, Some(ms)) => {
                gloo_timers::future::TimeoutFuture::new(ms).await;
                None
            }
            (false, None) => {
                return Err(fail(
                    ErrorCode::Brand,
                    "internal error: the run is stuck (nothing to send or wait for)",
                ))
            }
        };
        let mut answers: Vec<Answer> = first.into_iter().collect();
        while let Ok(more) = rx.try_recv() {
            answers.push(more);
        }
        if !answers.is_empty() {
            in_flight -= answers.len();
            {
                let mut r = run.borrow_mut();
                for (id, answer) in answers {
                    r.handle(id, now_ms(), answer);
                }
            }
            report(run, on_progress)?;
        }
    }
}

/// Drives `run` to its end and fails, as a JS error, if reading the brand failed or a refused
/// token stopped it.
pub(super) async fn drive_to_end<R: Run + ?Sized + 'static>(
    run: &Rc<RefCell<R>>,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    drive(run, on_progress).await?;
    let run = run.borrow();
    match run.error().or(run.stop_reason()) {
        Some(e) => Err(fail(ErrorCode::Brand, e.trim_start_matches("not sent: "))),
        None => Ok(()),
    }
}

/// Hands the run's progress event, if any, to `on_progress`.
fn report<R: Run + ?Sized>(
    run: &Rc<RefCell<R>>,
    on_progress: Option<&Function>,
) -> Result<(), JsValue> {
    let progress = run.borrow_mut().poll_progress(now_ms());
    if let (Some(cb), Some(p)) = (on_progress, progress) {
        cb.call1(&JsValue::NULL, &to_value(&p)?)?;
    }
    Ok(())
}

/// Performs a single request that is not a run's step (whoami) with fetch, trying again by
/// the executor's own rule (`exec::retry_single`): a broken connection, 429 or 5xx.
pub(super) async fn send_retrying(request: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let config = crate::exec::ExecConfig::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let answer = send(request).await;
        let as_transport = answer.clone().map_err(|e| TransportFailure(e.to_string()));
        let draw = (js_sys::Math::random() * 9.0e15) as u64;
        match crate::exec::retry_single(&config, attempt, &as_transport, draw) {
            Some(wait) => {
                gloo_timers::future::TimeoutFuture::new(wait.min(u64::from(u32::MAX)) as u32).await;
            }
            None => return answer,
        }
    }
}

/// Performs one request with fetch.
pub(super) async fn send(request: &HttpRequest) -> Result<HttpResponse, ApiError> {
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
