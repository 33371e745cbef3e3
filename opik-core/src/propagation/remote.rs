//! Continuing a remote trace here: the context that makes tracked calls spans of the caller's
//! trace, and the entry points that run code (or poll a future) in it.

use super::headers::{DistributedHeaders, HeaderSource};
use crate::context::{self, OpikContext, WithContext};
use crate::span::{ActiveSpan, ActiveTrace, SpanRole};
use pin_project_lite::pin_project;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The headers of the current span, to send with a request to another service; `None`
/// outside any span or when the SDK is off.
pub fn distributed_headers() -> Option<DistributedHeaders> {
    if !context::recording() {
        return None;
    }
    let span = context::current_span()?;
    Some(DistributedHeaders {
        trace_id: span.trace.id,
        parent_span_id: span.id_for_children(),
    })
}

impl DistributedHeaders {
    /// A context that continues this trace: tracked calls in it are spans of the trace (under
    /// the parent span), reported by the current scoped or global client. Empty when the SDK
    /// is off.
    pub fn context(&self) -> OpikContext {
        if !context::recording() {
            return OpikContext::default();
        }
        let scoped = context::scoped_client();
        let Some(client) = scoped.clone().or_else(context::client_for_new_trace) else {
            return OpikContext::default();
        };
        let mut trace = ActiveTrace::new(
            self.trace_id,
            client.project_name(),
            client,
            Cow::Borrowed("remote trace"),
        );
        trace.remote = true;
        let (id, role) = match self.parent_span_id {
            Some(p) => (p, SpanRole::Remote),
            None => (self.trace_id, SpanRole::TraceOnly),
        };
        let span = ActiveSpan::with_role(id, Arc::new(trace), Cow::Borrowed("remote span"), role);
        OpikContext {
            span: Some(Arc::new(span)),
            client: scoped,
        }
    }

    /// `fut`, continuing this trace (the client is the one around the future when it runs).
    pub fn scope<F: Future>(self, fut: F) -> ContinueTrace<F> {
        ContinueTrace::new(fut, Some(self))
    }

    /// Runs `f` continuing this trace.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }
}

impl OpikContext {
    /// The context that continues the trace of incoming distributed headers; empty (tracked
    /// calls start a new trace) when there are none or they are malformed. What
    /// `#[track(distributed_headers = ...)]` uses.
    pub fn from_headers<H: HeaderSource + ?Sized>(headers: &H) -> OpikContext {
        match DistributedHeaders::from_headers(headers) {
            Some(h) => h.context(),
            None => OpikContext::default(),
        }
    }
}

/// Runs `fut` continuing the trace of incoming `headers` (see the module docs): its tracked
/// calls are spans of the caller's trace. Without valid headers they start a new trace. The
/// spans go to the client around the future when it runs (`client.scope(with_distributed_headers(..))`
/// works), else the global one.
pub fn with_distributed_headers<H, F>(headers: &H, fut: F) -> ContinueTrace<F>
where
    H: HeaderSource + ?Sized,
    F: Future,
{
    // Read now (the headers are borrowed), entered at the first poll.
    ContinueTrace::new(fut, DistributedHeaders::from_headers(headers))
}

/// What `#[track(distributed_headers = ...)]` expands to for futures: headers already read
/// (they may borrow the function's arguments), entered at the first poll.
pub fn continue_remote<F: Future>(headers: Option<DistributedHeaders>, fut: F) -> ContinueTrace<F> {
    ContinueTrace::new(fut, headers)
}

pin_project! {
    /// A future continuing a remote trace: made by [`with_distributed_headers`] and
    /// [`DistributedHeaders::scope`]. The headers are turned into a context at its first poll,
    /// so that the client recording its spans is the one around the future when it runs, not
    /// where it was made.
    pub struct ContinueTrace<F> {
        #[pin]
        inner: WithContext<F>,
        headers: Option<DistributedHeaders>,
    }
}

impl<F: Future> ContinueTrace<F> {
    fn new(fut: F, headers: Option<DistributedHeaders>) -> Self {
        ContinueTrace {
            inner: OpikContext::default().scope(fut),
            headers,
        }
    }
}

impl<F: Future> Future for ContinueTrace<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let Some(headers) = this.headers.take() {
            *this.inner.as_mut().context_mut() = headers.context();
        }
        this.inner.poll(cx)
    }
}

/// [`with_distributed_headers`] for sync code.
pub fn run_with_distributed_headers<H, R>(headers: &H, f: impl FnOnce() -> R) -> R
where
    H: HeaderSource + ?Sized,
{
    OpikContext::from_headers(headers).run(f)
}
