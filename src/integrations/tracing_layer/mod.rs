//! A [`tracing_subscriber::Layer`] that turns `tracing` spans into Opik spans (feature
//! `tracing`).
//!
//! Add [`OpikLayer`] to the subscriber, and the spans that `tracing`-instrumented code opens
//! inside a tracked call become Opik spans of the current trace, nested as they are in
//! `tracing`. Spans that follow the [OpenTelemetry GenAI] conventions, as `rig` and `genai`
//! (feature `otel`) emit them, become `llm`, `tool` and `general` spans with the model,
//! provider, token usage, messages and errors Opik needs to show and price them; the spans
//! `langchain-rust` emits under its own field names are mapped too. An app built on such a
//! framework gets Opik traces by adding one layer, as the Python SDK's framework integrations
//! give them.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! tracing_subscriber::registry()
//!     .with(opik::integrations::OpikLayer::new())
//!     .init();
//! ```
//!
//! ## What each framework gives
//!
//! | crate | spans | what Opik gets |
//! |---|---|---|
//! | `rig-core` / `rig-agent` 0.44 | `chat` (and `embeddings`...) per model call, `execute_tool` per tool call, `invoke_agent` per agent run | `llm` spans with model, provider, usage (cache and reasoning tokens included), messages and tools; `tool` spans with the arguments as input and the result as output; the agent as a `general` span with the prompt and the answer. Messages, tool arguments and results only with rig's `record_content_telemetry(true)`. rig records no error on its spans: a model call's span that ends without any response is recorded with a `no_response` error (the error itself went to the caller: record it with `#[track]` around the call) |
//! | `genai` 0.7, feature `otel` | `chat {model}`, `embeddings {model}` per call | `llm` spans with model, provider, usage (cache and reasoning tokens included), request options in metadata, errors (`error.type` as the exception type); messages only with `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` |
//! | `langchain-rust` 7 | `llm.generate`, `embed.documents`, `embed.query`, `tool.call`, `chain.call`, `agent.run`, `agent.plan` (its own field names, no `gen_ai.*`) | `llm` spans with model, provider and usage (`prompt_tokens`, `completion_tokens`), `tool` and `general` spans, errors from its `error` field; no prompts or answers, which langchain-rust never records on spans |
//! | anything else | `tracing` spans (`#[instrument]`...) | `general` spans, fields as input; `#[instrument(err)]` errors as `error_info` |
//!
//! ## GenAI fields
//!
//! The mapping is the one the [`openai`](super::openai) wrapper uses too (one model rule, one
//! set of provider names, usage keys and message shapes: see `src/integrations/gen_ai.rs`).
//!
//! | `tracing` field | becomes |
//! |---|---|
//! | `gen_ai.operation.name` | the span type: `chat`, `text_completion`, `generate_content`, `embeddings` (and `rerank`, `transcription`, `image_generation`, `audio_generation`) → `llm`; `execute_tool` → `tool`; `invoke_agent`, `create_agent`, `invoke_workflow`, `plan`, `retrieval` → `general`; another or none: `llm` when the span declares a model, provider or usage field, else `general` |
//! | `gen_ai.response.model`, else `gen_ai.request.model` | `model` (the answering model wins; the requested one goes to metadata as `request_model` when it differs) |
//! | `gen_ai.provider.name` (else `gen_ai.system`) | `provider`, in Opik's names (`gcp.gemini` → `google_ai`, `gcp.vertex_ai` → `google_vertexai`, `aws.bedrock` → `bedrock`, `mistral_ai` → `mistral`, `x_ai` → `xai`, `azure.ai.openai` → `azure`...) |
//! | `gen_ai.usage.input_tokens` / `output_tokens` / `cache_read.input_tokens` / `cache_creation.input_tokens` / `reasoning.output_tokens` (rig: `reasoning_tokens`, `tool_use_prompt_tokens`; older: `prompt_tokens`, `completion_tokens`) | `usage`, in the provider's shape so that Opik prices cached and reasoning tokens (e.g. `original_usage.prompt_tokens_details.cached_tokens` for OpenAI, `original_usage.cache_read_input_tokens` for Anthropic); on a `general` span (an agent's total over its turns) metadata instead, so that it is not counted twice |
//! | `gen_ai.system_instructions` + `gen_ai.input.messages` (or `gen_ai.prompt`, JSON or text) | `input.messages`: OpenAI chat messages, the system prompt first |
//! | `gen_ai.tool.definitions` | `input.tools` |
//! | `gen_ai.output.messages` (or `gen_ai.completion`) | `output.choices`, as a chat completion has them |
//! | `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result` (tool spans) | `input` / `output` |
//! | `error.type`, `otel.status_code = "error"`, `otel.status_message`, `exception.*`, `error`, an `ERROR` event (its `message` or `error` field), `gen_ai.tool.call.outcome = "error"` | `error_info` (`error.type` or `gen_ai.tool.error.type` as the exception type) |
//! | `otel.name` | the span name; without it a span named after its operation (rig's) is named as the conventions name it: `chat gpt-4o-mini`, `execute_tool metronome`, `invoke_agent coach` |
//! | every other field of a GenAI span (`gen_ai.request.temperature`, `gen_ai.response.id`, `server.address`, `rig.*`...) | `metadata` (JSON text parsed), with `created_from: "tracing"` |
//!
//! Fields of spans that are neither GenAI nor langchain-rust spans are their `input`.
//!
//! ## Which spans are recorded
//!
//! A span whose `tracing` parent was recorded; else a span opened while a tracked call is
//! current (it nests under that call); else a GenAI or langchain-rust span, which starts a new
//! trace. Other spans (an HTTP server's, a database driver's, outside any tracked call) are
//! left alone, and so are spans below `INFO` (HTTP clients' and drivers' `DEBUG`/`TRACE`
//! spans; see [`OpikLayer::with_level`]) unless they are GenAI or langchain-rust spans. Filter
//! further with [`Layer::with_filter`]. Nothing is recorded, and the layer costs a check per
//! span, while the SDK is off.
//!
//! The span type is decided when the span opens, from the operation recorded then (rig and
//! genai name it at creation); values may be recorded any time before the span closes
//! (`Span::record`), as the frameworks do with the usage once the answer arrived.
//!
//! Limits: `#[track]` calls made while a `tracing` span is entered nest under the enclosing
//! *tracked* call, not under the `tracing` span (the Opik context is task-local and a layer
//! cannot enter it). The span ends when `tracing` closes it, i.e. when its last handle is
//! dropped.
//!
//! [OpenTelemetry GenAI]: https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/

mod mapping;

use super::gen_ai::{self};
use crate::{SpanHandle, SpanType};
use mapping::{apply, End};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The layer; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct OpikLayer {
    level: Level,
}

impl Default for OpikLayer {
    fn default() -> Self {
        OpikLayer { level: Level::INFO }
    }
}

impl OpikLayer {
    /// A layer with the default rules (see the [module docs](self)): spans at `INFO` or more
    /// important, and GenAI and langchain-rust spans at any level.
    pub fn new() -> Self {
        OpikLayer::default()
    }

    /// Records spans down to `level` (default `INFO`; `#[instrument]` spans are `INFO`). HTTP
    /// clients and database drivers open their spans at `DEBUG` and `TRACE`: lowering the
    /// level puts them in your traces. GenAI spans are recorded whatever their level.
    #[must_use]
    pub fn with_level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }
}

/// Where a span's fields come from, which decides how they are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Declares `gen_ai.*` fields (rig, genai, OpenTelemetry GenAI instrumentation).
    GenAi,
    /// One of langchain-rust's documented spans (its own field names).
    LangChain,
    /// Any other span: its fields are its input.
    Plain,
}

/// langchain-rust 7's spans (`langchain_rust::observability`'s table) and their types.
fn langchain_span_type(meta: &Metadata<'_>) -> Option<SpanType> {
    if !meta.target().starts_with("langchain_rust") {
        return None;
    }
    match meta.name() {
        "llm.generate" | "embed.documents" | "embed.query" => Some(SpanType::Llm),
        "tool.call" => Some(SpanType::Tool),
        "chain.call" | "agent.run" | "agent.plan" => Some(SpanType::General),
        _ => None,
    }
}

/// Fields whose declaration makes a GenAI span of no known operation an `llm` span.
fn is_model_field(name: &str) -> bool {
    matches!(
        name,
        "gen_ai.request.model" | "gen_ai.provider.name" | "gen_ai.system"
    ) || name.starts_with("gen_ai.usage.")
}

/// Fields through which a span reports its errors; a GenAI model call whose span has none
/// (rig's) and that ends with no response at all is taken to have failed.
fn is_error_field(name: &str) -> bool {
    matches!(
        name,
        "otel.status_code" | "error.type" | "error" | "exception.message"
    )
}

/// The kind and type of a span about to open, from its declared fields and the values it
/// has at creation.
fn classify(attrs: &Attributes<'_>) -> (Kind, SpanType) {
    let meta = attrs.metadata();
    if let Some(t) = langchain_span_type(meta) {
        return (Kind::LangChain, t);
    }
    let fields = meta.fields();
    if !fields.iter().any(|f| f.name().starts_with("gen_ai.")) {
        return (Kind::Plain, SpanType::General);
    }
    let mut op = Operation(None);
    attrs.record(&mut op);
    let by_operation = op.0.as_deref().and_then(gen_ai::span_type_of_operation);
    let span_type = by_operation.unwrap_or_else(|| {
        if fields.iter().any(|f| is_model_field(f.name())) {
            SpanType::Llm
        } else {
            SpanType::General
        }
    });
    (Kind::GenAi, span_type)
}

/// Reads `gen_ai.operation.name` at creation.
struct Operation(Option<String>);

impl Visit for Operation {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "gen_ai.operation.name" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "gen_ai.operation.name" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Collects recorded values by field name (a later record replaces an earlier one).
struct Visitor<'a>(&'a mut Map<String, Value>);

impl Visitor<'_> {
    fn set(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for Visitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, Value::from(format!("{value:?}")));
    }
}

/// The message of an `ERROR` event: its `message`, its `error` field (`#[instrument(err)]`),
/// or both.
#[derive(Default)]
struct EventMessage {
    message: Option<String>,
    error: Option<String>,
}

impl EventMessage {
    fn put(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.message = Some(text),
            "error" => self.error = Some(text),
            _ => {}
        }
    }

    fn text(self) -> Option<String> {
        match (self.message, self.error) {
            (Some(m), Some(e)) => Some(format!("{m}: {e}")),
            (m, e) => m.or(e),
        }
    }
}

impl Visit for EventMessage {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string());
    }
}

/// A recorded span, kept in the `tracing` span's extensions until it closes.
struct Bridged {
    span: SpanHandle,
    kind: Kind,
    span_type: SpanType,
    /// The `tracing` span's name.
    name: &'static str,
    /// Declares a field through which it reports errors.
    reports_errors: bool,
    fields: Mutex<Map<String, Value>>,
    event_error: Mutex<Option<String>>,
}

impl<S> Layer<S> for OpikLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !crate::__private::recording() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let parent_context = span.parent().and_then(|p| {
            let ext = p.extensions();
            ext.get::<Bridged>().map(|b| b.span.context())
        });
        let (kind, span_type) = classify(attrs);
        let framework = kind != Kind::Plain;
        let under_tracked_call = crate::__private::has_current_span();
        if parent_context.is_none() && !under_tracked_call && !framework {
            return;
        }
        // `Level` orders by verbosity: `TRACE > DEBUG > INFO`.
        if !framework && *attrs.metadata().level() > self.level {
            return;
        }
        let mut opening = crate::span(attrs.metadata().name()).span_type(span_type);
        if let Some(parent) = &parent_context {
            opening = opening.child_of(parent);
        }
        let opened = opening.start();
        if opened.id().is_none() {
            return; // nothing records here
        }
        let reports_errors = attrs
            .metadata()
            .fields()
            .iter()
            .any(|f| is_error_field(f.name()));
        let mut fields = Map::new();
        attrs.record(&mut Visitor(&mut fields));
        span.extensions_mut().insert(Bridged {
            span: opened,
            kind,
            span_type,
            name: attrs.metadata().name(),
            reports_errors,
            fields: Mutex::new(fields),
            event_error: Mutex::new(None),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        if let Some(b) = ext.get::<Bridged>() {
            let mut fields = b.fields.lock().unwrap_or_else(PoisonError::into_inner);
            values.record(&mut Visitor(&mut fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let ext = span.extensions();
        if let Some(b) = ext.get::<Bridged>() {
            let mut message = EventMessage::default();
            event.record(&mut message);
            let mut slot = b.event_error.lock().unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert(
                message
                    .text()
                    .unwrap_or_else(|| "an ERROR event".to_owned()),
            );
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(b) = span.extensions_mut().remove::<Bridged>() else {
            return;
        };
        let fields = std::mem::take(&mut *b.fields.lock().unwrap_or_else(PoisonError::into_inner));
        let event_error = b
            .event_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let end = End {
            kind: b.kind,
            span_type: b.span_type,
            name: b.name,
            reports_errors: b.reports_errors,
            fields,
            event_error,
        };
        b.span.update(|s| apply(end, s));
        b.span.end();
    }
}
