//! The driver on a virtual clock: [`simulate`] runs a run through the one driver loop
//! ([`drive`]) over a transport whose answers come from a function and whose clock jumps to
//! the next answer or wake-up instead of sleeping. Cancel, renewal and the order of calls are
//! the driver loop's own, as in the page and the native hosts; only sending, waiting and the
//! time are virtual.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::drive::{drive, Control, RunEnd, Transport};
use super::{Run, RunProgress};
use crate::api::connection::Auth;
use crate::api::http::{HttpRequest, HttpResponse};
use crate::exec::TransportFailure;
use crate::time::UnixMillis;

/// How a simulated brand answers a request sent at a time.
type Answer<'a> =
    &'a mut dyn FnMut(&HttpRequest, UnixMillis) -> Result<HttpResponse, TransportFailure>;
/// A new credential at a time, if there is one.
type Renew<'a> = &'a mut dyn FnMut(UnixMillis) -> Option<Auth>;

/// The driver for a virtual clock: runs `run` until its stage is over, answering each request
/// with `answer(request, now)` after `latency_ms`, jumping the clock to the next answer or
/// wake-up instead of sleeping. Returns the virtual time at the end. For tests, fuzzing and
/// benchmarks against an in-process brand; `renew` supplies a new credential when one is
/// refused (`None`: the run stops as without renewal); `on_progress` sees each progress event
/// with the run (and may cancel it).
///
/// # Panics
/// When the run has nothing in flight, nothing scheduled, and is not finished (a bug in the
/// run, reported rather than waited on forever).
pub fn simulate<R: Run + ?Sized>(
    run: &mut R,
    start: UnixMillis,
    latency_ms: u64,
    answer: Answer<'_>,
    renew: Renew<'_>,
    on_progress: &mut dyn FnMut(&mut R, RunProgress, UnixMillis),
) -> UnixMillis {
    let transport = Virtual {
        clock: Clock {
            now: Cell::new(start),
            timers: RefCell::new(Vec::new()),
        },
        latency_ms,
        answer: RefCell::new(answer),
        renew: RefCell::new(renew),
    };
    let mut cell = run;
    let driven = drive(&mut cell, &transport, |r, progress| {
        if let Some(p) = progress {
            on_progress(r, p, transport.clock.now.get());
        }
        Control::Continue
    });
    let mut driven = pin!(driven);
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        woken.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(end) = driven.as_mut().poll(&mut cx) {
            assert_ne!(
                end,
                RunEnd::Stuck,
                "the run has nothing in flight, nothing scheduled, and is not finished"
            );
            return transport.clock.now.get();
        }
        // Woken while polled (the loop's set of requests in flight yields now and then): go on
        // at the same time. Otherwise everything waits on the clock: move it on.
        if !woken.0.load(Ordering::SeqCst) {
            transport.clock.advance();
        }
    }
}

/// The top of the simulated task: remembers that something woke it.
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The virtual clock, and the timers waiting on it (in the order they were set).
struct Clock {
    now: Cell<UnixMillis>,
    timers: RefCell<Vec<(UnixMillis, Waker)>>,
}

impl Clock {
    /// Jumps to the first timer's time and wakes every timer due by then.
    fn advance(&self) {
        let mut timers = self.timers.borrow_mut();
        let next = timers
            .iter()
            .map(|(at, _)| *at)
            .min()
            .expect("the run has nothing in flight, nothing scheduled, and is not finished");
        let now = self.now.get().max(next);
        self.now.set(now);
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut *timers)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        *timers = later;
        drop(timers);
        for (_, waker) in due {
            waker.wake();
        }
    }

    /// Resolves when the clock reaches `at`.
    fn at(&self, at: UnixMillis) -> At<'_> {
        At { clock: self, at }
    }
}

/// A timer on the virtual clock.
struct At<'c> {
    clock: &'c Clock,
    at: UnixMillis,
}

impl Future for At<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.at {
            Poll::Ready(())
        } else {
            self.clock
                .timers
                .borrow_mut()
                .push((self.at, cx.waker().clone()));
            Poll::Pending
        }
    }
}

/// The transport of a simulated run: answers from a function, on the virtual clock.
struct Virtual<'a> {
    clock: Clock,
    latency_ms: u64,
    answer: RefCell<Answer<'a>>,
    renew: RefCell<Renew<'a>>,
}

impl Transport for Virtual<'_> {
    fn send(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportFailure>> {
        // Answered when sent (the brand acts then), received `latency_ms` later.
        let now = self.clock.now.get();
        let reply = (*self.answer.borrow_mut())(&request, now);
        let arrives = self.clock.at(now + self.latency_ms);
        async move {
            arrives.await;
            reply
        }
    }
    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        self.clock.at(self.clock.now.get() + ms)
    }
    fn now(&self) -> UnixMillis {
        self.clock.now.get()
    }
    async fn renew(&self) -> Result<Auth, String> {
        let now = self.clock.now.get();
        (*self.renew.borrow_mut())(now).ok_or_else(|| "no credential to renew".to_string())
    }
}
