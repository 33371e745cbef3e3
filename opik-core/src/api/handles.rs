//! [`TraceHandle`] and [`SpanHandle`]: traces and spans held open by hand. Both hold the same
//! inner type ([`Explicit`]: a span, which for a trace is its stand-in), so ending, ending on
//! drop, the long-span registration and making a context are written once, and the methods
//! they share (update, scores, end, context, run, scope) are written once too, by
//! `handle_methods!`, with docs that name what each handle stands for.
//!
//! Handles are cheap to clone and can be used from any thread or task. Every trace and span is
//! sent once, complete, when it ends (never a create followed by a patch that could overtake
//! it). A handle whose last clone is dropped without `end()` ends then. With the SDK off every
//! handle is inert.

use super::feedback;
use crate::context::{OpikContext, WithContext};
use crate::model::{
    new_id, Payload, Score, ScoreError, ScoreTarget, SpanType, SpanUpdate, Timestamp, TraceUpdate,
};
use crate::span::{ActiveSpan, ActiveTrace, Ended, Progress, SpanRole, StartInfo};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// What a handle holds: the span (an explicit trace's is its stand-in, of role `TraceOnly`),
/// and whether it was ended.
pub(crate) struct Explicit {
    /// The span, with its parent, type and start time in its start fields; for a trace, the
    /// parent of tracked calls made in its context, and where the trace's start time is kept.
    span: Arc<ActiveSpan>,
    ended: AtomicBool,
}

impl Explicit {
    /// Holds `span`, watched for long runs whatever its type: explicit traces and spans are
    /// the ones an app keeps open across awaits and callbacks (a session, a streamed reply).
    pub(crate) fn new(span: Arc<ActiveSpan>) -> Self {
        span.watch();
        Explicit {
            span,
            ended: AtomicBool::new(false),
        }
    }

    fn is_trace(&self) -> bool {
        self.span.role == SpanRole::TraceOnly
    }

    /// Queues the final records (the trace's, or the span's and, for the root of a trace it
    /// started, the trace's) with what updates set, once.
    fn end(&self) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        let span = &self.span;
        // Before the final record is queued: no start record may be sent after it.
        span.progress.end();
        span.queue_end(span.update.take(), Ended::default());
    }

    fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// A context in which tracked calls nest under the span (for a trace: as its top-level
    /// spans), with the client too: it makes them record even when this client is neither
    /// global nor scoped.
    fn context(&self) -> OpikContext {
        OpikContext {
            span: Some(Arc::clone(&self.span)),
            client: Some(self.span.trace.client.clone()),
        }
    }

    /// Sends `score` about `target` now through the trace's client, in the trace's project
    /// unless the score names another.
    fn log_score(&self, target: ScoreTarget, mut score: Score) -> Result<(), ScoreError> {
        let trace = &self.span.trace;
        if score.project_name.is_none() {
            score.project_name = Some(trace.project_name);
        }
        feedback::log_with(Some(trace.client.clone()), [(target, score)])
    }
}

impl Drop for Explicit {
    fn drop(&mut self) {
        if !self.ended() {
            let what = if self.is_trace() { "trace" } else { "span" };
            tracing::debug!(target: "opik", "opik: {what} {} ended when its last handle was dropped", self.span.id);
            self.end();
        }
    }
}

/// What a span opened by hand starts with.
pub(crate) struct Opening {
    pub(crate) trace: Arc<ActiveTrace>,
    /// `None`: a top-level span of the trace.
    pub(crate) parent_span_id: Option<Uuid>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) span_type: SpanType,
    /// The root of a trace it started: it ends the trace too.
    pub(crate) is_root: bool,
    pub(crate) input: Option<Payload>,
    pub(crate) metadata: Option<Map<String, Value>>,
    /// What it starts with beyond its start fields (tags set at run time).
    pub(crate) update: Option<SpanUpdate>,
}

/// Opens a span, held by a [`SpanHandle`].
pub(crate) fn start_span(opening: Opening) -> SpanHandle {
    let Opening {
        trace,
        parent_span_id,
        name,
        span_type,
        is_root,
        input,
        metadata,
        update,
    } = opening;
    let start = Timestamp::now();
    let mut span = ActiveSpan::new(new_id(start), trace, name);
    span.progress = Progress::new(StartInfo {
        parent_span_id,
        span_type,
        is_root,
        input,
        metadata: metadata.map(Arc::new),
        ..StartInfo::at(start)
    });
    if let Some(update) = update {
        span.update.merge(update);
    }
    SpanHandle {
        inner: Some(Arc::new(Explicit::new(Arc::new(span)))),
    }
}

/// A top-level or child span of an open trace, with nothing but a name and a type.
fn plain_span(
    trace: Arc<ActiveTrace>,
    parent_span_id: Option<Uuid>,
    name: Cow<'static, str>,
    span_type: SpanType,
) -> SpanHandle {
    start_span(Opening {
        trace,
        parent_span_id,
        name,
        span_type,
        is_root: false,
        input: None,
        metadata: None,
        update: None,
    })
}

/// A trace made by [`Opik::trace`](super::Opik::trace). Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct TraceHandle {
    inner: Option<Arc<Explicit>>,
}

/// A span made by `opik::span(..).start()`, [`TraceHandle::span`] or [`SpanHandle::span`].
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct SpanHandle {
    inner: Option<Arc<Explicit>>,
}

impl TraceHandle {
    pub(crate) fn inert() -> Self {
        TraceHandle { inner: None }
    }

    pub(crate) fn holding(explicit: Explicit) -> Self {
        TraceHandle {
            inner: Some(Arc::new(explicit)),
        }
    }

    /// The trace's id (`None` when the SDK is off).
    pub fn id(&self) -> Option<Uuid> {
        self.inner.as_ref().map(|t| t.span.trace.id)
    }

    /// Starts a top-level span of the trace, of type `span_type`.
    pub fn span_with_type(
        &self,
        name: impl Into<Cow<'static, str>>,
        span_type: SpanType,
    ) -> SpanHandle {
        match &self.inner {
            Some(t) => plain_span(Arc::clone(&t.span.trace), None, name.into(), span_type),
            None => SpanHandle::inert(),
        }
    }

    fn target(explicit: &Explicit) -> ScoreTarget {
        ScoreTarget::Trace(explicit.span.trace.id)
    }

    fn merge(explicit: &Explicit, update: TraceUpdate) -> bool {
        explicit.span.trace.update.merge(update)
    }
}

impl SpanHandle {
    pub(crate) fn inert() -> Self {
        SpanHandle { inner: None }
    }

    /// The span's id (`None` when the SDK is off).
    pub fn id(&self) -> Option<Uuid> {
        self.inner.as_ref().map(|s| s.span.id)
    }

    /// The id of the span's trace (`None` when the SDK is off).
    pub fn trace_id(&self) -> Option<Uuid> {
        self.inner.as_ref().map(|s| s.span.trace.id)
    }

    /// Starts a child span of type `span_type`.
    pub fn span_with_type(
        &self,
        name: impl Into<Cow<'static, str>>,
        span_type: SpanType,
    ) -> SpanHandle {
        match &self.inner {
            Some(s) => plain_span(
                Arc::clone(&s.span.trace),
                Some(s.span.id),
                name.into(),
                span_type,
            ),
            None => SpanHandle::inert(),
        }
    }

    fn target(explicit: &Explicit) -> ScoreTarget {
        ScoreTarget::Span(explicit.span.id)
    }

    fn merge(explicit: &Explicit, update: SpanUpdate) -> bool {
        explicit.span.update.merge(update)
    }
}

/// The methods both handles have, written once.
macro_rules! handle_methods {
    ($handle:ident, $update:ty, $what:literal, $children:literal) => {
        impl $handle {
            #[doc = concat!("Starts a ", $children, ", of type `general`.")]
            pub fn span(&self, name: impl Into<Cow<'static, str>>) -> SpanHandle {
                self.span_with_type(name, SpanType::General)
            }

            #[doc = concat!("Changes the ", $what, " (everything `update_current_", $what, "` offers). Returns `false`, doing nothing, once the ", $what, " has ended.")]
            pub fn update(&self, f: impl FnOnce(&mut $update)) -> bool {
                match &self.inner {
                    Some(e) if !e.ended() => {
                        let mut update = <$update>::default();
                        f(&mut update);
                        Self::merge(e, update)
                    }
                    _ => false,
                }
            }

            #[doc = concat!("Sends a feedback score of the ", $what, " now (also after it ended). An invalid score is an error and nothing is sent.")]
            pub fn log_feedback_score(
                &self,
                name: impl Into<String>,
                value: f64,
            ) -> Result<(), ScoreError> {
                self.log_score(Score::new(name, value))
            }

            #[doc = concat!("[`log_feedback_score`](Self::log_feedback_score) with a reason or category.")]
            pub fn log_score(&self, score: Score) -> Result<(), ScoreError> {
                match &self.inner {
                    Some(e) => e.log_score(Self::target(e), score),
                    None => score.validate(),
                }
            }

            #[doc = concat!("Ends the ", $what, " now and sends it, complete. Later calls do nothing.")]
            pub fn end(&self) {
                if let Some(e) = &self.inner {
                    e.end();
                }
            }

            #[doc = concat!("A context in which tracked calls are ", $children, "s (and `update_current_", $what, "` changes it): for [`run`](Self::run), [`scope`](Self::scope), or another task.")]
            pub fn context(&self) -> OpikContext {
                match &self.inner {
                    Some(e) => e.context(),
                    None => OpikContext::default(),
                }
            }

            #[doc = concat!("Runs `f` with tracked calls in it recorded as ", $children, "s.")]
            pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
                self.context().run(f)
            }

            #[doc = concat!("`fut`, with tracked calls in it recorded as ", $children, "s.")]
            pub fn scope<F: Future>(&self, fut: F) -> WithContext<F> {
                self.context().scope(fut)
            }
        }

        impl fmt::Debug for $handle {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($handle));
                if let Some(e) = &self.inner {
                    d.field("id", &e.span.id).field("trace_id", &e.span.trace.id);
                }
                d.field("enabled", &self.inner.is_some()).finish()
            }
        }
    };
}

handle_methods!(
    TraceHandle,
    TraceUpdate,
    "trace",
    "top-level span of this trace"
);
handle_methods!(SpanHandle, SpanUpdate, "span", "child span of this span");
