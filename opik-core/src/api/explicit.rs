//! The explicit client: traces and spans made and ended by hand, for code that cannot be
//! annotated with `#[track]` (callbacks, sessions that last minutes, data imports).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = opik::init()?;
//! let opik = opik::Opik::global();
//! let session = opik.trace("practice-session");
//! session.update(|t| {
//!     t.thread_id("session-42").input(&serde_json::json!({"piece": "Clair de lune"}));
//! });
//! let feedback = session.span("feedback");
//! feedback.update(|s| { s.output(&"slow down in bar 12"); });
//! feedback.end();
//! session.log_feedback_score("engagement", 0.8)?;
//! session.end();
//! # Ok(()) }
//! ```
//!
//! Handles are cheap to clone and can be used from any thread or task: spans may be added to an
//! open trace from several tasks for as long as it is open. Every trace and span is sent once,
//! complete, when it ends (never a create followed by a patch that could overtake it). A handle
//! whose last clone is dropped without `end()` ends then. With the SDK off every handle is inert.

use super::feedback;
use crate::context::{self, OpikContext, WithContext};
use crate::model::{
    new_id, ProjectName, Score, ScoreError, ScoreTarget, SpanType, SpanUpdate, Timestamp,
    TraceUpdate,
};
use crate::pipe::Client;
use crate::span::{ActiveSpan, ActiveTrace, Progress, SpanRole, StartInfo};
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// The explicit client. Cheap to clone.
#[derive(Clone, Default)]
pub struct Opik {
    client: Option<Client>,
    project_name: Option<ProjectName>,
}

impl fmt::Debug for Opik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opik")
            .field("enabled", &self.client.is_some())
            .field("project_name", &self.project_name)
            .finish()
    }
}

impl Opik {
    /// Traces made through `client`.
    pub fn new(client: Client) -> Opik {
        Opik {
            client: Some(client),
            project_name: None,
        }
    }

    /// Traces made through the client of the caller (the one a `Client::scope` installed around
    /// it, else the one `opik::init()` installed); an inert client when the SDK is off.
    pub fn global() -> Opik {
        Opik {
            client: context::current_client(),
            project_name: None,
        }
    }

    /// A client that records nothing.
    pub fn disabled() -> Opik {
        Opik::default()
    }

    /// The same client, making traces in `project` instead of the configured project.
    pub fn with_project(mut self, project: impl Into<String>) -> Opik {
        let project = project.into();
        if project.trim().is_empty() {
            tracing::warn!(target: "opik", "opik: a blank project name is ignored");
        } else {
            self.project_name = Some(ProjectName::intern(&project));
        }
        self
    }

    /// The client traces go through (`None` when the SDK is off) and the project they go to,
    /// for the layers above (evaluation).
    #[cfg_attr(not(feature = "evaluation"), allow(dead_code))]
    pub(crate) fn parts(&self) -> (Option<&Client>, Option<ProjectName>) {
        let project = self
            .project_name
            .or_else(|| self.client.as_ref().map(Client::project_name));
        (self.client.as_ref(), project)
    }

    /// Whether traces made here are recorded.
    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Starts a trace named `name` now. Nothing is sent until it ends.
    pub fn trace(&self, name: impl Into<Cow<'static, str>>) -> TraceHandle {
        let Some(client) = &self.client else {
            return TraceHandle { inner: None };
        };
        let start = Timestamp::now();
        let project = self.project_name.unwrap_or_else(|| client.project_name());
        let trace = Arc::new(ActiveTrace::new(
            new_id(start),
            project,
            client.clone(),
            name.into(),
        ));
        // Where tracked calls made in the trace's context nest (as top-level spans), and what
        // the long-span watch looks at for the trace.
        let mut stand_in = ActiveSpan::with_role(
            trace.id,
            Arc::clone(&trace),
            trace.name.clone(),
            SpanRole::TraceOnly,
        );
        stand_in.progress = Progress::new(StartInfo {
            is_root: true,
            ..StartInfo::at(start)
        });
        TraceHandle {
            inner: Some(Arc::new(Explicit::new(Arc::new(stand_in)))),
        }
    }

    /// Logs feedback scores of spans by id; see `opik::log_span_feedback_scores`.
    pub fn log_span_feedback_scores<I>(&self, scores: I) -> Result<(), ScoreError>
    where
        I: IntoIterator<Item = (Uuid, Score)>,
    {
        self.log(scores.into_iter().map(|(id, s)| (ScoreTarget::Span(id), s)))
    }

    /// Logs feedback scores of traces by id; see `opik::log_trace_feedback_scores`.
    pub fn log_trace_feedback_scores<I>(&self, scores: I) -> Result<(), ScoreError>
    where
        I: IntoIterator<Item = (Uuid, Score)>,
    {
        self.log(
            scores
                .into_iter()
                .map(|(id, s)| (ScoreTarget::Trace(id), s)),
        )
    }

    /// Logs feedback scores of threads by thread id; see `opik::log_thread_feedback_scores`.
    pub fn log_thread_feedback_scores<I, T>(&self, scores: I) -> Result<(), ScoreError>
    where
        I: IntoIterator<Item = (T, Score)>,
        T: Into<String>,
    {
        self.log(
            scores
                .into_iter()
                .map(|(t, s)| (ScoreTarget::Thread(t.into()), s)),
        )
    }

    fn log(
        &self,
        scores: impl IntoIterator<Item = (ScoreTarget, Score)>,
    ) -> Result<(), ScoreError> {
        let project = self.project_name;
        let scores = scores.into_iter().map(|(t, mut s)| {
            if s.project_name.is_none() {
                s.project_name = project;
            }
            (t, s)
        });
        feedback::log_with(self.client.clone(), scores)
    }
}

/// What a trace or span handle holds: the span (an explicit trace's is its stand-in, of role
/// `TraceOnly`), and whether it was ended. One type for both handles, so that ending, ending
/// on drop and making a context are written once.
struct Explicit {
    /// The span, with its parent, type and start time in its start fields; for a trace, the
    /// parent of tracked calls made in its context, and where the trace's start time is kept.
    span: Arc<ActiveSpan>,
    ended: AtomicBool,
}

impl Explicit {
    /// Holds `span`, watched for long runs whatever its type: explicit traces and spans are
    /// the ones an app keeps open across awaits and callbacks (a session, a streamed reply).
    fn new(span: Arc<ActiveSpan>) -> Self {
        span.watch();
        Explicit {
            span,
            ended: AtomicBool::new(false),
        }
    }

    fn is_trace(&self) -> bool {
        self.span.role == SpanRole::TraceOnly
    }

    /// Queues the final record (the trace's, or the span's) with what updates set, once.
    fn end(&self) {
        if self.ended.swap(true, Ordering::AcqRel) {
            return;
        }
        let span = &self.span;
        // Before the final record is queued: no start record may be sent after it.
        span.progress.end();
        let now = Some(Timestamp::now());
        if self.is_trace() {
            let mut scores = Vec::new();
            span.trace
                .queue_final(span.trace_record(now, None, None), &mut scores);
            for score in scores {
                span.trace.client.enqueue(score);
            }
        } else {
            span.queue_final(span.span_record(now, None, None), Vec::new());
        }
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

/// A trace made by [`Opik::trace`]. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct TraceHandle {
    inner: Option<Arc<Explicit>>,
}

impl fmt::Debug for TraceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceHandle")
            .field("id", &self.id())
            .finish()
    }
}

impl TraceHandle {
    /// The trace's id (`None` when the SDK is off).
    pub fn id(&self) -> Option<Uuid> {
        self.inner.as_ref().map(|t| t.span.trace.id)
    }

    /// Starts a top-level span of the trace, of type `general`.
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> SpanHandle {
        self.span_with_type(name, SpanType::General)
    }

    /// Starts a top-level span of the trace, of type `span_type`.
    pub fn span_with_type(
        &self,
        name: impl Into<Cow<'static, str>>,
        span_type: SpanType,
    ) -> SpanHandle {
        match &self.inner {
            Some(t) => SpanHandle::start(Arc::clone(&t.span.trace), None, name.into(), span_type),
            None => SpanHandle { inner: None },
        }
    }

    /// Changes the trace (name, input, output, metadata, tags, thread id, error, feedback
    /// scores sent when it ends). Returns `false`, doing nothing, once the trace has ended.
    pub fn update(&self, f: impl FnOnce(&mut TraceUpdate)) -> bool {
        match &self.inner {
            Some(t) if !t.ended() => {
                let mut update = TraceUpdate::default();
                f(&mut update);
                t.span.trace.update.merge(update)
            }
            _ => false,
        }
    }

    /// Sends a feedback score of the trace now (also after it ended). An invalid score is an
    /// error and nothing is sent.
    pub fn log_feedback_score(
        &self,
        name: impl Into<String>,
        value: f64,
    ) -> Result<(), ScoreError> {
        self.log_score(Score::new(name, value))
    }

    /// [`log_feedback_score`](Self::log_feedback_score) with a reason or category.
    pub fn log_score(&self, score: Score) -> Result<(), ScoreError> {
        match &self.inner {
            Some(t) => log_score_in(&t.span.trace, ScoreTarget::Trace(t.span.trace.id), score),
            None => score.validate(),
        }
    }

    /// Ends the trace now and sends it, complete. Later calls do nothing.
    pub fn end(&self) {
        if let Some(t) = &self.inner {
            t.end();
        }
    }

    /// A context in which tracked calls are top-level spans of this trace (and
    /// `update_current_trace` changes it): for `run`, `scope`, or another task.
    pub fn context(&self) -> OpikContext {
        match &self.inner {
            Some(t) => t.context(),
            None => OpikContext::default(),
        }
    }

    /// Runs `f` with tracked calls in it recorded as top-level spans of this trace.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }

    /// `fut`, with tracked calls in it recorded as top-level spans of this trace.
    pub fn scope<F: Future>(&self, fut: F) -> WithContext<F> {
        self.context().scope(fut)
    }
}

/// A span made by [`TraceHandle::span`] or [`SpanHandle::span`]. Cheap to clone;
/// `Send + Sync`.
#[derive(Clone)]
pub struct SpanHandle {
    inner: Option<Arc<Explicit>>,
}

impl fmt::Debug for SpanHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanHandle")
            .field("id", &self.id())
            .field("trace_id", &self.trace_id())
            .finish()
    }
}

impl SpanHandle {
    fn start(
        trace: Arc<ActiveTrace>,
        parent_span_id: Option<Uuid>,
        name: Cow<'static, str>,
        span_type: SpanType,
    ) -> SpanHandle {
        let start = Timestamp::now();
        let mut span = ActiveSpan::new(new_id(start), trace, name);
        span.progress = Progress::new(StartInfo {
            parent_span_id,
            span_type,
            ..StartInfo::at(start)
        });
        SpanHandle {
            inner: Some(Arc::new(Explicit::new(Arc::new(span)))),
        }
    }

    /// The span's id (`None` when the SDK is off).
    pub fn id(&self) -> Option<Uuid> {
        self.inner.as_ref().map(|s| s.span.id)
    }

    /// The id of the span's trace (`None` when the SDK is off).
    pub fn trace_id(&self) -> Option<Uuid> {
        self.inner.as_ref().map(|s| s.span.trace.id)
    }

    /// Starts a child span, of type `general`.
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> SpanHandle {
        self.span_with_type(name, SpanType::General)
    }

    /// Starts a child span of type `span_type`.
    pub fn span_with_type(
        &self,
        name: impl Into<Cow<'static, str>>,
        span_type: SpanType,
    ) -> SpanHandle {
        match &self.inner {
            Some(s) => SpanHandle::start(
                Arc::clone(&s.span.trace),
                Some(s.span.id),
                name.into(),
                span_type,
            ),
            None => SpanHandle { inner: None },
        }
    }

    /// Changes the span (everything `update_current_span` offers). Returns `false`, doing
    /// nothing, once the span has ended.
    pub fn update(&self, f: impl FnOnce(&mut SpanUpdate)) -> bool {
        match &self.inner {
            Some(s) if !s.ended() => {
                let mut update = SpanUpdate::default();
                f(&mut update);
                s.span.update.merge(update)
            }
            _ => false,
        }
    }

    /// Sends a feedback score of the span now (also after it ended). An invalid score is an
    /// error and nothing is sent.
    pub fn log_feedback_score(
        &self,
        name: impl Into<String>,
        value: f64,
    ) -> Result<(), ScoreError> {
        self.log_score(Score::new(name, value))
    }

    /// [`log_feedback_score`](Self::log_feedback_score) with a reason or category.
    pub fn log_score(&self, score: Score) -> Result<(), ScoreError> {
        match &self.inner {
            Some(s) => log_score_in(&s.span.trace, ScoreTarget::Span(s.span.id), score),
            None => score.validate(),
        }
    }

    /// Ends the span now and sends it, complete. Later calls do nothing.
    pub fn end(&self) {
        if let Some(s) = &self.inner {
            s.end();
        }
    }

    /// A context in which tracked calls nest under this span (and `update_current_span`
    /// changes it).
    pub fn context(&self) -> OpikContext {
        match &self.inner {
            Some(s) => s.context(),
            None => OpikContext::default(),
        }
    }

    /// Runs `f` with tracked calls in it nested under this span.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().run(f)
    }

    /// `fut`, with tracked calls in it nested under this span.
    pub fn scope<F: Future>(&self, fut: F) -> WithContext<F> {
        self.context().scope(fut)
    }
}

/// Sends `score` about `target` now through `trace`'s client, in `trace`'s project unless the
/// score names another.
fn log_score_in(
    trace: &ActiveTrace,
    target: ScoreTarget,
    mut score: Score,
) -> Result<(), ScoreError> {
    if score.project_name.is_none() {
        score.project_name = Some(trace.project_name);
    }
    feedback::log_with(Some(trace.client.clone()), [(target, score)])
}
