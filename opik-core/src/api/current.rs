//! The current-span API: change the current span or trace from inside a tracked call, as the
//! Python SDK's `opik_context.update_current_span` / `update_current_trace` do, and read
//! snapshots of them.
//!
//! The caller's closure fills a fresh update (no lock held while user code runs), which is then
//! merged into the span's slot; the slot is applied to the record when the span ends.

use crate::context;
use crate::model::{SpanUpdate, TraceUpdate};
use crate::span::SpanRole;
use uuid::Uuid;

/// Changes the current span (the innermost running tracked call or explicit span made current),
/// like the Python SDK's `opik_context.update_current_span`:
///
/// ```no_run
/// #[opik::track(type = "llm")]
/// async fn chat(prompt: &str) -> String {
///     let answer = String::from("..."); // call the model
///     opik::update_current_span(|span| {
///         span.model("gpt-4o-mini")
///             .provider("openai")
///             .usage(opik::Usage::new(12, 30))
///             .metadata(&serde_json::json!({"temperature": 0.1}));
///         span.feedback_score("relevance", 0.9).reason("on topic");
///     });
///     answer
/// }
/// ```
///
/// Returns whether the update was taken: `false` without a current span (or with the SDK off:
/// then the closure does not run), and `false` when the current span has already ended (work
/// that outlived it, e.g. a task spawned with `opik::spawn` that was not awaited).
pub fn update_current_span(f: impl FnOnce(&mut SpanUpdate)) -> bool {
    if !context::recording() {
        return false;
    }
    let Some(span) = context::current_span() else {
        return false;
    };
    if span.role != SpanRole::Recorded {
        return false;
    }
    let mut update = SpanUpdate::default();
    f(&mut update);
    span.update.merge(update)
}

/// Changes the current trace, like the Python SDK's `opik_context.update_current_trace`.
/// Trace fields that only spans have (usage, model, cost) are not offered; `thread_id` is.
///
/// Returns whether the update was taken: `false` without a current trace owned by this process
/// (a trace continued from distributed headers belongs to the caller's process and is not
/// changed here), and `false` once the trace has ended: it takes the updates made until its
/// root call (or explicit `end()`) finishes.
pub fn update_current_trace(f: impl FnOnce(&mut TraceUpdate)) -> bool {
    if !context::recording() {
        return false;
    }
    let Some(span) = context::current_span() else {
        return false;
    };
    if span.trace.remote {
        return false;
    }
    let mut update = TraceUpdate::default();
    f(&mut update);
    span.trace.update.merge(update)
}

/// A snapshot of the current span.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanData {
    /// The span's id.
    pub id: Uuid,
    /// The trace's id.
    pub trace_id: Uuid,
    /// The span's name (as renamed by an update, if it was).
    pub name: String,
    /// The project the span goes to.
    pub project_name: String,
}

/// A snapshot of the current trace.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceData {
    /// The trace's id.
    pub id: Uuid,
    /// The trace's name (as renamed by an update, if it was).
    pub name: String,
    /// The project the trace goes to.
    pub project_name: String,
    /// The conversation thread: set by an update, else by `#[track(thread_id = ...)]` on the
    /// trace's root call, if either did.
    pub thread_id: Option<String>,
}

/// The current span, if there is one (and the SDK is on).
pub fn current_span_data() -> Option<SpanData> {
    if !context::recording() {
        return None;
    }
    let span = context::current_span().filter(|s| s.role == SpanRole::Recorded)?;
    let name = span
        .update
        .read(|u| u.renamed().map(str::to_owned))
        .flatten()
        .unwrap_or_else(|| span.name.to_string());
    Some(SpanData {
        id: span.id,
        trace_id: span.trace.id,
        name,
        project_name: span.trace.project_name.to_string(),
    })
}

/// The current trace, if there is one owned by this process (and the SDK is on); `None` in a
/// trace continued from distributed headers.
pub fn current_trace_data() -> Option<TraceData> {
    if !context::recording() {
        return None;
    }
    let span = context::current_span()?;
    let trace = &span.trace;
    if trace.remote {
        // Owned by the calling process: its name and thread are not known here.
        return None;
    }
    let (name, thread_id) = trace
        .update
        .read(|u| {
            (
                u.renamed().map(str::to_owned),
                u.thread().map(str::to_owned),
            )
        })
        .unwrap_or((None, None));
    Some(TraceData {
        id: trace.id,
        name: name.unwrap_or_else(|| trace.name.to_string()),
        project_name: trace.project_name.to_string(),
        thread_id: thread_id.or_else(|| trace.thread_id.clone()),
    })
}
