//! Running a tracked body with its span current: [`run_sync`] for sync bodies, [`Tracked`] for
//! futures. Both end the span with what the body returned, how it panicked (then the panic
//! continues unchanged), or, for a future, that it was dropped unfinished.

use super::capture::OutputCapture;
use super::{panic_info, Call, CallStart, SpanMeta};
use crate::context;
use crate::model::Timestamp;
use pin_project_lite::pin_project;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs a sync tracked body. With `call == None` (not recording) this is just `body()`.
/// A panic ends the span with its message and then continues unchanged.
#[inline]
pub fn run_sync<R>(
    call: Option<Call>,
    body: impl FnOnce() -> R,
    output: impl FnOnce(&R, &mut OutputCapture),
) -> R {
    match call {
        None => body(),
        Some(call) => run_sync_recording(call, body, output),
    }
}

fn run_sync_recording<R>(
    mut call: Call,
    body: impl FnOnce() -> R,
    output: impl FnOnce(&R, &mut OutputCapture),
) -> R {
    if call.watch_sync_from_start() {
        call.watch();
    }
    let ending = call.ending;
    let Some(span) = call.span.take() else {
        return body();
    };
    // The scope borrows the call's own reference to the span, and the span is ended inside
    // the scope through that borrow: no second reference is counted for the body's duration
    // (each count is an atomic read-modify-write, the largest fixed cost of a nested call).
    context::sync_scope_span(&span, || {
        let outcome = catch_unwind(AssertUnwindSafe(body));
        match outcome {
            Ok(ret) => {
                let ended =
                    context::with_current_span(|span| ending.finish(span, |o| output(&ret, o)));
                debug_assert!(ended.is_some(), "a sync scope's span is current inside it");
                ret
            }
            Err(payload) => end_with_panic(ending, payload),
        }
    })
}

/// A sync body panicked: the span ends with the panic, which then continues unchanged. Out of
/// line, so that its locals stay out of the frame that holds the body.
#[cold]
#[inline(never)]
fn end_with_panic(ending: super::Ending, payload: Box<dyn std::any::Any + Send>) -> ! {
    context::with_current_span(|span| {
        ending.complete(span, Timestamp::now(), None, Some(panic_info(&*payload)))
    });
    resume_unwind(payload)
}

pin_project! {
    /// An async tracked body: polls the body with its span current, and ends the span when the
    /// body completes (with the time of completion), panics, or is dropped unfinished.
    ///
    /// The span is current during each poll only (see `context::current`), set by this future
    /// itself: no second future is wrapped around the body, so a tracked future costs one
    /// frame of stack per level of nesting, and a call described earlier (a function returning
    /// a future) starts its span inside the first poll ([`Tracked::deferred`]).
    pub struct Tracked<F, O, D = Started> {
        #[pin]
        fut: F,
        // The running call; `None` when not recording, and once the span has ended.
        call: Option<Call>,
        // For `Tracked::deferred`, a call described when the function was called, started at
        // the first poll; nothing (a zero-sized type) for `Tracked::new`.
        start: D,
        output: Option<O>,
    }
}

/// How a [`Tracked`] future gets its call: started already, or at its first poll.
pub trait StartAt {
    /// The description of a call to start now, once.
    fn take(&mut self) -> Option<(&'static SpanMeta, CallStart)>;
}

/// A [`Tracked`] whose call was started when it was made.
pub struct Started;

impl StartAt for Started {
    #[inline(always)]
    fn take(&mut self) -> Option<(&'static SpanMeta, CallStart)> {
        None
    }
}

/// A [`Tracked`] whose call starts at its first poll.
pub struct AtFirstPoll(Option<(&'static SpanMeta, CallStart)>);

impl StartAt for AtFirstPoll {
    #[inline]
    fn take(&mut self) -> Option<(&'static SpanMeta, CallStart)> {
        self.0.take()
    }
}

impl<F, O> Tracked<F, O>
where
    F: Future,
    O: FnOnce(&F::Output, &mut OutputCapture),
{
    /// Wraps `fut`; with `call == None` (not recording) it is polled as it is.
    #[inline]
    pub fn new(call: Option<Call>, fut: F, output: O) -> Self {
        let output = call.is_some().then_some(output);
        Tracked {
            fut,
            call,
            start: Started,
            output,
        }
    }
}

impl<F, O> Tracked<F, O, AtFirstPoll>
where
    F: Future,
    O: FnOnce(&F::Output, &mut OutputCapture),
{
    /// Wraps `fut`, returned by a call described by `described` (`None`: the SDK was not
    /// recording when the function was called); its span starts at the first poll, under the
    /// span current then.
    #[inline]
    pub fn deferred(
        meta: &'static SpanMeta,
        described: Option<CallStart>,
        fut: F,
        output: O,
    ) -> Self {
        let output = described.is_some().then_some(output);
        Tracked {
            fut,
            call: None,
            start: AtFirstPoll(described.map(|d| (meta, d))),
            output,
        }
    }
}

impl<F, O, D> Future for Tracked<F, O, D>
where
    F: Future,
    O: FnOnce(&F::Output, &mut OutputCapture),
    D: StartAt,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(start) = this.start.take() {
            *this.call = start_deferred(start);
        }
        let Some(span) = this.call.as_ref().and_then(|c| c.span.as_ref()) else {
            return this.fut.poll(cx);
        };
        let fut = this.fut;
        let polled =
            context::sync_scope_span(span, || catch_unwind(AssertUnwindSafe(|| fut.poll(cx))));
        match polled {
            Ok(Poll::Pending) => {
                // The body waits on something, which may take long: from now on the long-span
                // watch may send its start record. A body that completes in its first poll never
                // waited, so it is never registered.
                if let Some(call) = this.call.as_mut() {
                    call.watch();
                }
                Poll::Pending
            }
            Ok(Poll::Ready(ret)) => {
                if let (Some(call), Some(output)) = (this.call.take(), this.output.take()) {
                    end_ready(call, output, &ret);
                }
                Poll::Ready(ret)
            }
            Err(payload) => end_with_panic_async(this.call.take(), payload),
        }
    }
}

/// Ends a tracked future's span with what it returned. Out of line, like the other ends, so
/// that the frame of `Tracked::poll` (on the stack for as long as the body is polled) stays
/// small.
#[inline(never)]
fn end_ready<T, O: FnOnce(&T, &mut OutputCapture)>(call: Call, output: O, ret: &T) {
    call.finish(|o| output(ret, o));
}

/// A tracked future's body panicked: its span ends with the panic, which then continues.
#[cold]
#[inline(never)]
fn end_with_panic_async(call: Option<Call>, payload: Box<dyn std::any::Any + Send>) -> ! {
    if let Some(call) = call {
        call.fail(panic_info(&*payload));
    }
    resume_unwind(payload)
}

/// Starts the span of a call described earlier. Out of line: the description is moved through
/// here once, and its room would otherwise stay in `Tracked::poll`'s frame, on the stack of
/// every later poll of every level of nesting.
#[inline(never)]
fn start_deferred((meta, described): (&'static SpanMeta, CallStart)) -> Option<Call> {
    Call::start_with(meta, Some(described))
}

/// Runs `f`: makes a closure `FnOnce` by its signature, so that a body moved into it may
/// return borrows of what it captured (used for functions that return a future).
#[inline(always)]
pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `#[track(flush = true)]` in sync code: delivers what the client of this call has queued,
/// waiting at most its shutdown timeout.
pub fn flush_current() {
    if let Some(client) = context::client_for_new_trace() {
        client.flush(client.shutdown_timeout());
    }
}

/// `#[track(flush = true)]` in async code, without blocking the runtime.
pub async fn flush_current_async() {
    if let Some(client) = context::client_for_new_trace() {
        client.flush_async(client.shutdown_timeout()).await;
    }
}
