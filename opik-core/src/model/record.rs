//! What the SDK records: traces, spans and feedback scores, as they go on the wire.
//!
//! A record is built on the caller's thread from what the tracked call saw, queued, and turned
//! into the spec's `Trace_Write` / `Span_Write` / feedback-score items by the exporter
//! (`wire`). Fields that are absent are left out of the JSON, never sent as `null`.

use super::{AttachmentRecord, ByteCharge, Payload, ProjectName, Tags, Timestamp};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// The kind of work a span stands for; Opik computes cost for `Llm` spans from model and usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanType {
    /// Any other work (the default).
    #[default]
    General,
    /// A call to a language model.
    Llm,
    /// A tool or function call made for a model.
    Tool,
    /// A guardrail check.
    Guardrail,
}

impl SpanType {
    /// The name used on the wire and in `#[track(type = "...")]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanType::General => "general",
            SpanType::Llm => "llm",
            SpanType::Tool => "tool",
            SpanType::Guardrail => "guardrail",
        }
    }
}

/// What went wrong in a span or trace: Opik's `ErrorInfo_Write` (and, read back,
/// `ErrorInfo_Public`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The error's type (`"panic"`, `"cancelled"`, or the Rust type name of the error).
    pub exception_type: String,
    /// The error's message (`Display`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Details: the `Debug` form and the `source()` chain. Never empty (the spec's `minLength: 1`).
    #[serde(default)]
    pub traceback: String,
}

impl ErrorInfo {
    /// An error with a type and a message; the traceback repeats the message when there is no
    /// better one, since the spec requires a non-empty traceback.
    pub fn new(exception_type: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let exception_type = non_empty(exception_type.into(), "error");
        ErrorInfo {
            traceback: non_empty(message.clone(), &exception_type),
            exception_type,
            message: Some(message),
        }
    }

    /// Sets the traceback (kept non-empty).
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> Self {
        let fallback = self.exception_type.clone();
        self.traceback = non_empty(traceback.into(), &fallback);
        self
    }
}

fn non_empty(s: String, fallback: &str) -> String {
    if s.is_empty() {
        fallback.to_owned()
    } else {
        s
    }
}

/// Span fields that most spans do not have, kept behind one pointer so that the common record
/// stays small in the queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanDetails {
    /// The model an `llm` span called.
    pub model: Option<String>,
    /// The model's provider (`openai`, `anthropic`...).
    pub provider: Option<String>,
    /// Token usage, flat integer counts (see `usage` normalization).
    pub usage: Option<BTreeMap<String, i64>>,
    /// Cost in USD, sent as `total_estimated_cost`.
    pub total_estimated_cost: Option<f64>,
    /// What went wrong.
    pub error_info: Option<ErrorInfo>,
    /// Time to the first item of a streamed span, in milliseconds (`ttft`).
    pub ttft: Option<f64>,
    /// The bytes a record with large payloads holds against the pipe's byte budget.
    pub(crate) charge: Option<ByteCharge>,
}

/// Where a trace came from, as Opik's `Trace_Write.source` says it: traces of an app are
/// `sdk` (the default), the traces `opik::evaluate` makes for each dataset item `experiment`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceSource {
    /// Recorded by an application (the default).
    #[default]
    Sdk,
    /// An evaluation task's run over a dataset item.
    Experiment,
    /// A prompt or agent optimization's run.
    Optimization,
}

impl TraceSource {
    /// The name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            TraceSource::Sdk => "sdk",
            TraceSource::Experiment => "experiment",
            TraceSource::Optimization => "optimization",
        }
    }
}

/// Trace fields that most traces do not have.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceDetails {
    /// The conversation thread the trace belongs to.
    pub thread_id: Option<String>,
    /// Where the trace came from; `None` is `sdk`.
    pub source: Option<TraceSource>,
    /// What went wrong.
    pub error_info: Option<ErrorInfo>,
    /// Time to the first item, when the trace's root span is a stream, in milliseconds.
    pub ttft: Option<f64>,
    /// The bytes a record with large payloads holds against the pipe's byte budget.
    pub(crate) charge: Option<ByteCharge>,
}

/// What every trace and span record has: written once here, built once (from a span's start
/// fields, `span::ActiveSpan`), changed once (by an update, `update::apply`) and encoded once
/// (`wire`).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordBase {
    /// UUID v7, made when the trace or span started.
    pub id: Uuid,
    /// Opik project.
    pub project_name: ProjectName,
    /// Name (the function's name unless set).
    pub name: Cow<'static, str>,
    /// When it started.
    pub start_time: Timestamp,
    /// When it ended; `None` for a start record of one still running.
    pub end_time: Option<Timestamp>,
    /// Captured input (arguments by name).
    pub input: Option<Payload>,
    /// Captured output.
    pub output: Option<Payload>,
    /// Free-form metadata.
    pub metadata: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    /// Tags.
    pub tags: Tags,
}

/// A span as recorded. `end_time: None` is a start record of a span still running.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Id, project, name, times, input, output, metadata, tags.
    pub base: RecordBase,
    /// The trace the span belongs to.
    pub trace_id: Uuid,
    /// The enclosing span; `None` for a top-level span of its trace.
    pub parent_span_id: Option<Uuid>,
    /// Span type.
    pub span_type: SpanType,
    /// Model, usage, cost, error.
    pub details: Option<Box<SpanDetails>>,
}

/// A trace as recorded. `end_time: None` is a start record of a trace still running.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// Id, project, name, times, input (of the root call), output, metadata, tags.
    pub base: RecordBase,
    /// Thread, error.
    pub details: Option<Box<TraceDetails>>,
}

/// What a feedback score is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScoreTarget {
    /// A trace, by id.
    Trace(Uuid),
    /// A span, by id.
    Span(Uuid),
    /// A conversation thread, by its id.
    Thread(String),
}

/// A feedback score (`FeedbackScoreBatchItem` / `FeedbackScoreBatchItemThread`).
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackScore {
    /// What is scored.
    pub target: ScoreTarget,
    /// Opik project of the scored item.
    pub project_name: ProjectName,
    /// Score name, e.g. `"helpfulness"`.
    pub name: String,
    /// The score.
    pub value: f64,
    /// Why.
    pub reason: Option<String>,
    /// Category, for categorical scores.
    pub category_name: Option<String>,
}

/// One entry in the exporter's queue.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A trace create (or start record).
    Trace(TraceRecord),
    /// A span create (or start record).
    Span(SpanRecord),
    /// A feedback score.
    Feedback(Box<FeedbackScore>),
    /// A file to upload with a span or trace.
    Attachment(Box<AttachmentRecord>),
}

impl Record {
    /// The bytes of its payloads (input and output), for the byte budget.
    #[inline]
    pub(crate) fn payload_bytes(&self) -> usize {
        let base = match self {
            Record::Trace(t) => &t.base,
            Record::Span(s) => &s.base,
            Record::Feedback(_) => return 0,
            Record::Attachment(a) => return a.attachment.held_bytes(),
        };
        base.input.as_ref().map_or(0, Payload::len) + base.output.as_ref().map_or(0, Payload::len)
    }

    /// Makes the record hold `charge` for as long as it lives (feedback scores are small and
    /// never charged).
    pub(crate) fn hold(&mut self, charge: ByteCharge) {
        match self {
            Record::Trace(t) => t.details.get_or_insert_with(Box::default).charge = Some(charge),
            Record::Span(s) => s.details.get_or_insert_with(Box::default).charge = Some(charge),
            Record::Attachment(a) => a.charge = Some(charge),
            Record::Feedback(_) => {}
        }
    }

    /// Which endpoint the record goes to.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Trace(_) => RecordKind::Trace,
            Record::Span(_) => RecordKind::Span,
            Record::Feedback(f) => match f.target {
                ScoreTarget::Trace(_) => RecordKind::TraceFeedback,
                ScoreTarget::Span(_) => RecordKind::SpanFeedback,
                ScoreTarget::Thread(_) => RecordKind::ThreadFeedback,
            },
            Record::Attachment(_) => RecordKind::Attachment,
        }
    }
}

/// The endpoints records are batched to; each kind has its own batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// `POST /v1/private/traces/batch`
    Trace,
    /// `POST /v1/private/spans/batch`
    Span,
    /// `PUT /v1/private/traces/feedback-scores`
    TraceFeedback,
    /// `PUT /v1/private/spans/feedback-scores`
    SpanFeedback,
    /// `PUT /v1/private/traces/threads/feedback-scores`
    ThreadFeedback,
    /// `POST /v1/private/attachment/upload-start`, then the file's bytes: one upload per
    /// record, never batched.
    Attachment,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Trace,
        RecordKind::Span,
        RecordKind::TraceFeedback,
        RecordKind::SpanFeedback,
        RecordKind::ThreadFeedback,
        RecordKind::Attachment,
    ];

    /// The kinds sent in batches, in the order batches are sent (traces before their spans and
    /// scores); attachments are uploaded one by one.
    pub const BATCHED: [RecordKind; 5] = [
        RecordKind::Trace,
        RecordKind::Span,
        RecordKind::TraceFeedback,
        RecordKind::SpanFeedback,
        RecordKind::ThreadFeedback,
    ];

    /// The request path below the API base.
    pub const fn path(self) -> &'static str {
        match self {
            RecordKind::Trace => "/v1/private/traces/batch",
            RecordKind::Span => "/v1/private/spans/batch",
            RecordKind::TraceFeedback => "/v1/private/traces/feedback-scores",
            RecordKind::SpanFeedback => "/v1/private/spans/feedback-scores",
            RecordKind::ThreadFeedback => "/v1/private/traces/threads/feedback-scores",
            RecordKind::Attachment => "/v1/private/attachment/upload-start",
        }
    }

    /// The HTTP method of the endpoint.
    pub const fn method(self) -> &'static str {
        match self {
            RecordKind::Trace | RecordKind::Span | RecordKind::Attachment => "POST",
            _ => "PUT",
        }
    }

    /// The name of the array in the request body.
    pub const fn array_key(self) -> &'static str {
        match self {
            RecordKind::Trace => "traces",
            RecordKind::Span => "spans",
            RecordKind::Attachment => "attachments",
            _ => "scores",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.array_key())
    }
}
