//! The current span: which running span a new span nests under, and which client a new trace
//! reports to when a `Client::scope` is around the caller.
//!
//! Both live in tokio task-local storage, one immutable `Arc` per scope rather than a shared
//! mutable stack, so that two children awaited together with `join!` each see their own parent.
//! Sync code uses `sync_scope` of the same task-locals, which needs no runtime at all: one
//! mechanism serves async and sync calls alike.

use super::clients::client_for_new_trace;
use crate::pipe::Client;
use crate::span::ActiveSpan;
use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static CURRENT_SPAN: Arc<ActiveSpan>;
    pub(super) static SCOPED_CLIENT: Client;
}

/// The client installed with `Client::scope`/`sync_scope` around the caller, if any.
pub(crate) fn scoped_client() -> Option<Client> {
    SCOPED_CLIENT.try_with(Client::clone).ok()
}

/// The client that records made here go to: the current trace's, else the scoped one, else the
/// global one.
pub(crate) fn current_client() -> Option<Client> {
    match current_span() {
        Some(span) => Some(span.trace.client.clone()),
        None => client_for_new_trace(),
    }
}

/// The innermost running span of this task (or of this thread, in sync code), if any.
#[inline]
pub(crate) fn current_span() -> Option<Arc<ActiveSpan>> {
    CURRENT_SPAN.try_with(Arc::clone).ok()
}

/// `f` of the innermost running span, if any, without taking a reference to it (a new span
/// only needs its parent's trace and id: no reference-count round trip on the parent).
#[inline]
pub(crate) fn with_current_span<R>(f: impl FnOnce(&ActiveSpan) -> R) -> Option<R> {
    CURRENT_SPAN.try_with(|span| f(span)).ok()
}

/// Runs `f` with `span` as the current span.
#[inline]
pub(crate) fn sync_scope_span<R>(span: Arc<ActiveSpan>, f: impl FnOnce() -> R) -> R {
    CURRENT_SPAN.sync_scope(span, f)
}

/// `fut`, polled with `span` as the current span.
pub(crate) type SpanScoped<F> = tokio::task::futures::TaskLocalFuture<Arc<ActiveSpan>, F>;

#[inline]
pub(crate) fn scope_span<F: Future>(span: Arc<ActiveSpan>, fut: F) -> SpanScoped<F> {
    CURRENT_SPAN.scope(span, fut)
}
