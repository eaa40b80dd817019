//! The one driver loop: a run's requests carried by a host's [`Transport`] (fetch in the
//! browser, ureq natively), answers handed back as they come, the run's wake-ups honoured,
//! a refused credential renewed when the host can, and the host told of progress after each
//! batch of answers (where it may cancel or stop). Written once, so cancel, renewal and the
//! order of calls are the same in every host; a host supplies only how to send, wait and tell
//! the time. Model: quinn's `Runtime` trait.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures_util::future::{select, Either, FutureExt};
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{Run, RunProgress};
use crate::api::connection::Auth;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::exec::{RequestId, TransportFailure};
use crate::time::UnixMillis;

/// What a host gives the driver loop: sending, waiting, the time, renewing a credential.
pub trait Transport {
    /// Sends one request; a missing or broken answer is a [`TransportFailure`]. Several are in
    /// flight at once (as many as the run asks for).
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportFailure>>;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// Now, in milliseconds since the Unix epoch.
    fn now(&self) -> UnixMillis;
    /// A new credential after a refusal (an OAuth client fetches a token), or why there is
    /// none (an API token cannot be renewed: the run then stops, saying so).
    fn renew(&self) -> impl Future<Output = Result<Auth, String>>;
}

/// What the host says after a batch of answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Cancel the run: nothing new is sent, answers on their way are still taken.
    Cancel,
    /// Stop now, dropping the answers on their way (a process about to exit).
    Kill,
}

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// The run's stage is over.
    Finished,
    /// Stopped by [`Control::Kill`].
    Killed,
    /// The run had nothing in flight, nothing scheduled, and was not finished (a bug in the
    /// run; reported rather than waited on forever).
    Stuck,
}

/// How the loop reaches the run between awaits: a host that owns the run lends it (`&mut R`);
/// one that lets others reach it while it is driven (the page cancels and reads outcomes
/// during an apply) keeps it in an `Rc<RefCell<_>>`, borrowed only for each call.
pub trait RunCell {
    /// The run.
    type Run: Run + ?Sized;
    /// Calls `f` with the run.
    fn with<T>(&mut self, f: impl FnOnce(&mut Self::Run) -> T) -> T;
}

impl<R: Run + ?Sized> RunCell for &mut R {
    type Run = R;
    fn with<T>(&mut self, f: impl FnOnce(&mut R) -> T) -> T {
        f(self)
    }
}

impl<R: Run + ?Sized> RunCell for Rc<RefCell<R>> {
    type Run = R;
    fn with<T>(&mut self, f: impl FnOnce(&mut R) -> T) -> T {
        f(&mut self.borrow_mut())
    }
}

/// Drives the run in `cell` to the end of its current stage over `transport`: sends what it
/// asks for, side by side; sleeps until its next wake-up or answer; renews a refused
/// credential through the transport; calls `after` with the run and its progress event (if
/// any) after each batch of answers and once at the end, and obeys its [`Control`].
pub async fn drive<C: RunCell, T: Transport>(
    cell: &mut C,
    transport: &T,
    mut after: impl FnMut(&mut C::Run, Option<RunProgress>) -> Control,
) -> RunEnd {
    let mut in_flight = FuturesUnordered::new();
    let mut cancelled = false;
    loop {
        let now = transport.now();
        let (poll, finished) = cell.with(|r| {
            let poll = r.poll(now);
            (poll, r.is_finished())
        });
        if poll.needs_auth {
            match transport.renew().await {
                Ok(auth) => cell.with(|r| r.renew_auth(auth)),
                Err(why) => cell.with(|r| r.auth_failed(&why, transport.now())),
            }
            continue;
        }
        for out in poll.send {
            let (id, answer) = (out.id, transport.send(out.request));
            in_flight.push(async move { (id, answer.await) });
        }
        if finished && in_flight.is_empty() {
            cell.with(|r| {
                let progress = r.poll_progress(transport.now());
                let _ = after(r, progress);
            });
            return RunEnd::Finished;
        }
        let wait = poll.wake_at.map(|t| t.saturating_sub(transport.now()));
        let first: Option<(RequestId, Result<HttpResponse, TransportFailure>)> =
            match (in_flight.is_empty(), wait) {
                (false, Some(ms)) => {
                    let sleep = std::pin::pin!(transport.sleep(ms));
                    match select(in_flight.next(), sleep).await {
                        Either::Left((answer, _)) => answer,
                        Either::Right(_) => None,
                    }
                }
                (false, None) => in_flight.next().await,
                (true, Some(ms)) => {
                    transport.sleep(ms).await;
                    None
                }
                (true, None) => return RunEnd::Stuck,
            };
        let mut answers: Vec<_> = first.into_iter().collect();
        while let Some(Some(more)) = in_flight.next().now_or_never() {
            answers.push(more);
        }
        if answers.is_empty() {
            continue;
        }
        let control = cell.with(|r| {
            for (id, answer) in answers {
                r.handle(id, transport.now(), answer);
            }
            let progress = r.poll_progress(transport.now());
            after(r, progress)
        });
        match control {
            Control::Continue => {}
            Control::Cancel if !cancelled => {
                cancelled = true;
                cell.with(|r| r.cancel(transport.now()));
            }
            Control::Cancel => {}
            Control::Kill => return RunEnd::Killed,
        }
    }
}
