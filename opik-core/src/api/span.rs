//! `opik::span(name)`: a span opened by hand where `#[track]` cannot go (a callback, a
//! stream's lifetime, a span bridged from another tracer), a child of the current span or the
//! root of a new trace. It is the explicit client's [`SpanHandle`], made current-aware.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let recorded = opik::testing::record_async(async {
//! let tts = opik::span("live-coach-tts")
//!     .span_type(opik::SpanType::Tool)
//!     .tags(["tts"])
//!     .input(&serde_json::json!({"text": "steady at 92 bpm"}))
//!     .start();
//! let audio = tts.scope(async { vec![0u8; 16] }).await; // tracked calls in it nest under it
//! tts.update(|s| {
//!     s.output(&serde_json::json!({"bytes": audio.len()}));
//! });
//! tts.end(); // or drop it
//! # }).await;
//! # assert_eq!(recorded.spans_named("live-coach-tts").len(), 1);
//! # }
//! ```

use super::handles::{start_span, Opening, SpanHandle};
use crate::context::{self, OpikContext};
use crate::model::{new_id, to_value, Payload, SpanType, SpanUpdate, Timestamp, TraceUpdate};
use crate::span::ActiveTrace;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// Starts describing a span named `name`; [`SpanBuilder::start`] opens it.
pub fn span(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    SpanBuilder {
        name: name.into(),
        span_type: SpanType::General,
        input: None,
        metadata: None,
        tags: Vec::new(),
        parent: None,
    }
}

/// A span about to be opened; made by [`span`].
#[derive(Debug)]
#[must_use = "a span builder does nothing until `start()`"]
pub struct SpanBuilder {
    name: Cow<'static, str>,
    span_type: SpanType,
    input: Option<Payload>,
    metadata: Option<Map<String, Value>>,
    tags: Vec<String>,
    parent: Option<OpikContext>,
}

impl SpanBuilder {
    /// The span's type (default `general`).
    pub fn span_type(mut self, span_type: SpanType) -> Self {
        self.span_type = span_type;
        self
    }

    /// Tags (checked as `update_current_span`'s are); on a span that starts a trace, the
    /// trace's too.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Metadata (any `Serialize`; a non-object goes under `"metadata"`).
    pub fn metadata<T: Serialize + ?Sized>(mut self, metadata: &T) -> Self {
        self.metadata = Some(match to_value(metadata) {
            Value::Object(map) => map,
            other => Map::from_iter([("metadata".to_owned(), other)]),
        });
        self
    }

    /// Input (any `Serialize`; a non-object goes under `"input"`).
    pub fn input<T: Serialize + ?Sized>(mut self, input: &T) -> Self {
        self.input = Some(Payload::from_json(&to_value(input), "input"));
        self
    }

    /// Opens the span under the span of `parent` instead of the current one (an integration
    /// bridging another tracer's parent); an empty context makes it the root of a new trace.
    pub fn child_of(mut self, parent: &OpikContext) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Opens the span now: a child of the current span (or of [`child_of`](Self::child_of)'s),
    /// else the root of a new trace of the client around the caller; inert when the SDK is off.
    pub fn start(self) -> SpanHandle {
        match self.parent.clone() {
            Some(parent) => parent.run(|| self.open()),
            None => self.open(),
        }
    }

    fn open(self) -> SpanHandle {
        if !cfg!(feature = "enabled") || !context::recording() {
            return SpanHandle::inert();
        }
        let SpanBuilder {
            name,
            span_type,
            input,
            metadata,
            tags,
            parent: _,
        } = self;
        let parent = context::with_current_span(|p| (Arc::clone(&p.trace), p.id_for_children()));
        let is_root = parent.is_none();
        let (trace, parent_span_id) = match parent {
            Some(found) => found,
            None => {
                let Some(client) = context::client_for_new_trace() else {
                    return SpanHandle::inert();
                };
                let trace = ActiveTrace::new(
                    new_id(Timestamp::now()),
                    client.project_name(),
                    client,
                    name.clone(),
                );
                (Arc::new(trace), None)
            }
        };
        // Tags set at run time go through the updates (a span's start fields hold only the
        // tags written in the source); a span that starts a trace gives them to the trace too,
        // as its input and metadata, which both records take from the start fields.
        let update = (!tags.is_empty()).then(|| {
            if is_root {
                let mut on_trace = TraceUpdate::default();
                on_trace.tags(tags.iter().cloned());
                trace.update.merge(on_trace);
            }
            let mut on_span = SpanUpdate::default();
            on_span.tags(tags);
            on_span
        });
        start_span(Opening {
            trace,
            parent_span_id,
            name,
            span_type,
            is_root,
            input,
            metadata,
            update,
        })
    }
}
