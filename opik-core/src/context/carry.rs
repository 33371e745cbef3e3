//! Carrying the current span and client into spawned tasks, blocking tasks and OS threads:
//! [`OpikContext`], captured here and entered there.
//!
//! The current span lives in tokio task-local storage, which a new task does not inherit:
//! a tracked call in a task started with plain `tokio::spawn`, `std::thread::spawn` or rayon
//! starts a **new trace**. To keep it in the caller's trace, carry the context over:
//!
//! ```no_run
//! use opik::FutureExt as _;
//!
//! #[opik::track]
//! async fn child(n: u32) -> u32 { n }
//!
//! #[opik::track]
//! async fn parent() {
//!     // Same trace, `child` nests under `parent`:
//!     let a = opik::spawn(child(1));
//!     let b = tokio::spawn(child(2).in_current_trace());
//!     let ctx = opik::context::current_context();
//!     let c = tokio::task::spawn_blocking(move || ctx.run(|| 3));
//!     let _ = (a.await, b.await, c.await);
//!     // A new trace of its own:
//!     let _ = tokio::spawn(child(4)).await;
//! }
//! ```

use super::clients::{recording, sync_scope_client};
use super::current::{current_span, scoped_client, sync_scope_span};
use crate::pipe::Client;
use crate::span::ActiveSpan;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The current span and client, captured to be entered elsewhere: `Send`, `Sync`, cheap to
/// clone. An empty context (captured outside any span, or with the SDK off) changes nothing.
#[derive(Clone, Default)]
pub struct OpikContext {
    pub(crate) span: Option<Arc<ActiveSpan>>,
    pub(crate) client: Option<Client>,
}

/// The context of the caller: its current span (if any) and the client installed with
/// `Client::scope` around it (if any). Enter it elsewhere with [`OpikContext::run`] (for
/// `spawn_blocking`, `std::thread::spawn`, rayon) or [`OpikContext::scope`] (for futures):
/// without it, tracked calls on another thread or task start a new trace.
///
/// ```no_run
/// #[opik::track]
/// fn crunch(n: u64) -> u64 { n * 2 }
///
/// #[opik::track]
/// fn parent() -> u64 {
///     let ctx = opik::context::current_context();
///     std::thread::spawn(move || ctx.run(|| crunch(21))).join().unwrap()
/// }
/// ```
pub fn current_context() -> OpikContext {
    if !recording() {
        return OpikContext::default();
    }
    OpikContext {
        span: current_span(),
        client: scoped_client(),
    }
}

impl OpikContext {
    /// Whether the context holds neither a span nor a client.
    pub fn is_empty(&self) -> bool {
        self.span.is_none() && self.client.is_none()
    }

    /// Runs `f` inside this context: tracked calls in it nest under the captured span. For
    /// `spawn_blocking`, OS threads, rayon.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        match (&self.span, &self.client) {
            (None, None) => f(),
            (Some(span), None) => sync_scope_span(span, f),
            (None, Some(client)) => sync_scope_client(client, f),
            (Some(span), Some(client)) => sync_scope_client(client, || sync_scope_span(span, f)),
        }
    }

    /// `fut`, polled inside this context.
    pub fn scope<F: Future>(&self, fut: F) -> WithContext<F> {
        WithContext {
            fut,
            ctx: self.clone(),
        }
    }
}

impl fmt::Debug for OpikContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpikContext")
            .field("span_id", &self.span.as_ref().map(|s| s.id))
            .field("trace_id", &self.span.as_ref().map(|s| s.trace.id))
            .field("client", &self.client.is_some())
            .finish()
    }
}

pin_project! {
    /// A future polled inside an [`OpikContext`]; made by [`OpikContext::scope`] and
    /// [`FutureExt::in_current_trace`].
    pub struct WithContext<F> {
        #[pin]
        fut: F,
        ctx: OpikContext,
    }
}

impl<F> WithContext<F> {
    /// The context the future is polled in, to set before its first poll (distributed headers
    /// are turned into a context then: the client that records the spans is the one around the
    /// future when it runs, not where it was made).
    pub(crate) fn context_mut(self: Pin<&mut Self>) -> &mut OpikContext {
        self.project().ctx
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        this.ctx.run(|| fut.poll(cx))
    }
}

/// Carries the current trace into a future that runs elsewhere (named after `tracing`'s
/// `.in_current_span()`). Bring it into scope with `use opik::FutureExt as _;`.
pub trait FutureExt: Future + Sized {
    /// This future, polled with the caller's current span and client: tracked calls in it
    /// stay in the caller's trace even when it is spawned as a new task.
    fn in_current_trace(self) -> WithContext<Self> {
        current_context().scope(self)
    }
}

impl<F: Future> FutureExt for F {}

/// `tokio::spawn`, keeping the spawned task in the caller's trace. Must be called inside a
/// tokio runtime, like `tokio::spawn`.
///
/// Plain `tokio::spawn` does not carry tokio task-locals, where the current span lives: a
/// tracked call in a task spawned that way starts a **new trace** (and, outside
/// `Client::scope`, reports to the global client). Use this, or
/// `tokio::spawn(fut.in_current_trace())` ([`FutureExt`]), to keep it in the caller's trace.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.in_current_trace())
}

/// `tokio::task::spawn_blocking`, keeping the closure in the caller's trace.
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let ctx = current_context();
    tokio::task::spawn_blocking(move || ctx.run(f))
}
