//! Running a tracked body with its span current: [`run_sync`] for sync bodies, [`Tracked`] for
//! futures. Both end the span with what the body returned, how it panicked (then the panic
//! continues unchanged), or, for a future, that it was dropped unfinished.

use super::capture::OutputCapture;
use super::{panic_info, Call};
use crate::context::{self, SpanScoped};
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
    // The scope takes the call's own reference to the span, and the span is ended inside the
    // scope through a borrow of it: no second reference is counted for the body's duration
    // (each count is an atomic read-modify-write, the largest fixed cost of a nested call).
    context::sync_scope_span(span, || {
        let outcome = catch_unwind(AssertUnwindSafe(body));
        let ended = context::with_current_span(|span| match &outcome {
            Ok(ret) => ending.finish(span, |o| output(ret, o)),
            Err(payload) => {
                ending.complete(span, Timestamp::now(), None, Some(panic_info(&**payload)))
            }
        });
        debug_assert!(ended.is_some(), "a sync scope's span is current inside it");
        match outcome {
            Ok(ret) => ret,
            Err(payload) => resume_unwind(payload),
        }
    })
}

pin_project! {
    /// An async tracked body: polls the body with its span current, and ends the span when the
    /// body completes (with the time of completion), panics, or is dropped unfinished.
    pub struct Tracked<F, O> {
        #[pin]
        state: TrackedState<F>,
        call: Option<Call>,
        output: Option<O>,
    }
}

pin_project! {
    #[project = TrackedStateProj]
    enum TrackedState<F> {
        Off { #[pin] fut: F },
        On { #[pin] fut: SpanScoped<F> },
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
        // A call just started always has its span; without one it is polled as it is.
        match call.as_ref().and_then(|c| c.span.clone()) {
            None => Tracked {
                state: TrackedState::Off { fut },
                call: None,
                output: None,
            },
            Some(span) => Tracked {
                state: TrackedState::On {
                    fut: context::scope_span(span, fut),
                },
                call,
                output: Some(output),
            },
        }
    }
}

impl<F, O> Future for Tracked<F, O>
where
    F: Future,
    O: FnOnce(&F::Output, &mut OutputCapture),
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = match this.state.project() {
            TrackedStateProj::Off { fut } => return fut.poll(cx),
            TrackedStateProj::On { fut } => fut,
        };
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
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
                    call.finish(|o| output(&ret, o));
                }
                Poll::Ready(ret)
            }
            Err(payload) => {
                if let Some(call) = this.call.take() {
                    call.fail(panic_info(&*payload));
                }
                resume_unwind(payload)
            }
        }
    }
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
