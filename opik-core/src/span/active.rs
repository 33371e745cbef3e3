//! Live span state: a running span and the trace it belongs to, what their children need to
//! nest under them, and the records they make when they end (built here, once, from the start
//! fields: tracked calls, explicit handles and start records all come through
//! [`ActiveSpan::span_record`] / [`ActiveSpan::trace_record`]).

use super::slot::UpdateSlot;
use super::start::Progress;
use crate::model::{
    ErrorInfo, Payload, ProjectName, RecordBase, SpanDetails, SpanRecord, SpanUpdate, Tags,
    Timestamp, TraceDetails, TraceRecord, TraceUpdate,
};
use crate::pipe::Client;
use std::borrow::Cow;
use std::sync::Arc;
use uuid::Uuid;

/// The trace a running span belongs to, shared by all its spans.
#[derive(Debug)]
pub(crate) struct ActiveTrace {
    pub(crate) id: Uuid,
    pub(crate) project_name: ProjectName,
    pub(crate) client: Client,
    /// The trace's name when it started (the root call's name); updates may rename it.
    pub(crate) name: Cow<'static, str>,
    /// The conversation thread it started with (`#[track(thread_id = ...)]` on its root);
    /// updates may change it.
    pub(crate) thread_id: Option<String>,
    /// Whether this process owns the trace record. A trace continued from distributed
    /// headers is owned by the caller's process: spans are added to it, the trace itself is
    /// neither created nor updated here.
    pub(crate) remote: bool,
    /// What `update_current_trace` set; empty (and never locked) unless it was called.
    pub(crate) update: UpdateSlot<TraceUpdate>,
}

impl ActiveTrace {
    /// The trace's project.
    pub fn project_name(&self) -> &str {
        &self.project_name
    }

    /// A trace owned by this process, with no updates yet.
    pub(crate) fn new(
        id: Uuid,
        project_name: ProjectName,
        client: Client,
        name: Cow<'static, str>,
    ) -> Self {
        ActiveTrace {
            id,
            project_name,
            client,
            name,
            thread_id: None,
            remote: false,
            update: UpdateSlot::new(),
        }
    }
}

/// What a context entry stands for: a span recorded here, or a stand-in that only says where
/// new spans nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanRole {
    /// A span this process records (a tracked call or an explicit span).
    Recorded,
    /// A span of another process (distributed headers): new spans nest under its id.
    Remote,
    /// No span, only a trace (an explicit trace made current): new spans are top-level spans
    /// of that trace.
    TraceOnly,
}

/// A span that is running: what its children need to know to nest under it.
#[derive(Debug)]
pub(crate) struct ActiveSpan {
    pub(crate) id: Uuid,
    pub(crate) trace: Arc<ActiveTrace>,
    /// The span's name when it started.
    pub(crate) name: Cow<'static, str>,
    pub(crate) role: SpanRole,
    /// What `update_current_span` set; empty (and never locked) unless it was called.
    pub(crate) update: UpdateSlot<SpanUpdate>,
    /// Start fields for an early start record, and whether one was sent (in-progress view;
    /// set by the recorder for the spans it records).
    pub(crate) progress: Progress,
}

impl ActiveSpan {
    /// A span recorded by this process, with no updates yet.
    pub(crate) fn new(id: Uuid, trace: Arc<ActiveTrace>, name: Cow<'static, str>) -> Self {
        Self::with_role(id, trace, name, SpanRole::Recorded)
    }

    /// A span of a tracked call: recorded here, with its start fields.
    #[inline]
    pub(crate) fn recorded(
        id: Uuid,
        trace: Arc<ActiveTrace>,
        name: Cow<'static, str>,
        progress: Progress,
    ) -> Self {
        ActiveSpan {
            id,
            trace,
            name,
            role: SpanRole::Recorded,
            update: UpdateSlot::new(),
            progress,
        }
    }

    pub(crate) fn with_role(
        id: Uuid,
        trace: Arc<ActiveTrace>,
        name: Cow<'static, str>,
        role: SpanRole,
    ) -> Self {
        ActiveSpan {
            id,
            trace,
            name,
            role,
            update: UpdateSlot::new(),
            progress: Progress::inert(),
        }
    }

    /// The fields every record of this span (or of the trace it stands for) has, from its
    /// start fields and how it ended; `end: None` makes a start record (see `start`).
    #[inline(always)]
    fn base(&self, id: Uuid, end: Option<Timestamp>, output: Option<Payload>) -> RecordBase {
        let p = &self.progress.info;
        RecordBase {
            id,
            project_name: self.trace.project_name,
            name: self.name.clone(),
            start_time: p.start,
            // A re-anchor of the span clock between the two edges may step it back by a few
            // microseconds; a span never ends before it starts.
            end_time: end.map(|e| e.max(p.start)),
            input: p.input.clone(),
            output,
            metadata: p.metadata.clone(),
            tags: Tags::from_static(p.tags),
        }
    }

    /// The span's record from its start fields and how it ended; `end: None` makes the start
    /// record of a span still running. The one place a span record is made from a span: start
    /// records, tracked calls and explicit spans all come here; the caller applies updates
    /// (`queue_final`). Inlined, so that on the hot path the record is built where it is
    /// queued.
    #[inline(always)]
    pub(crate) fn span_record(
        &self,
        end: Option<Timestamp>,
        output: Option<Payload>,
        details: Option<Box<SpanDetails>>,
    ) -> SpanRecord {
        let p = &self.progress.info;
        SpanRecord {
            base: self.base(self.id, end, output),
            trace_id: self.trace.id,
            parent_span_id: p.parent_span_id,
            span_type: p.span_type,
            details,
        }
    }

    /// The record of the trace this span is the root (or an explicit trace's stand-in) of,
    /// likewise: its name, start, input, metadata and tags are the span's, its thread the
    /// trace's.
    pub(crate) fn trace_record(
        &self,
        end: Option<Timestamp>,
        output: Option<Payload>,
        error: Option<ErrorInfo>,
    ) -> TraceRecord {
        let trace = &self.trace;
        TraceRecord {
            base: self.base(trace.id, end, output),
            details: (trace.thread_id.is_some() || error.is_some()).then(|| {
                Box::new(TraceDetails {
                    thread_id: trace.thread_id.clone(),
                    source: None,
                    error_info: error,
                    ..TraceDetails::default()
                })
            }),
        }
    }

    /// The parent id a span started under this one gets (`None`: a top-level span).
    #[inline]
    pub(crate) fn id_for_children(&self) -> Option<Uuid> {
        match self.role {
            SpanRole::Recorded | SpanRole::Remote => Some(self.id),
            SpanRole::TraceOnly => None,
        }
    }
}
