//! A [`tracing_subscriber::Layer`] that turns `tracing` spans into Opik spans (feature
//! `tracing`).
//!
//! Add [`OpikLayer`] to the subscriber, and the spans that `tracing`-instrumented code opens
//! inside a tracked call become Opik spans of the current trace, nested as they are in
//! `tracing`. Spans that carry the [OpenTelemetry GenAI] fields, as `rig`, `genai`,
//! `langchain-rust` and other LLM frameworks emit them, become `llm` spans with the model,
//! provider and token usage Opik needs to show and price them. This is the Rust counterpart of
//! the Python SDK's LangChain `OpikTracer`: an app built on such a framework gets Opik traces by
//! adding one layer.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! tracing_subscriber::registry()
//!     .with(opik::integrations::OpikLayer::new())
//!     .init();
//! ```
//!
//! | `tracing` field | becomes |
//! |---|---|
//! | `gen_ai.request.model` (else `gen_ai.response.model`) | `model` |
//! | `gen_ai.provider.name` (else `gen_ai.system`) | `provider` |
//! | `gen_ai.usage.input_tokens` / `gen_ai.usage.prompt_tokens` | `usage.prompt_tokens` |
//! | `gen_ai.usage.output_tokens` / `gen_ai.usage.completion_tokens` | `usage.completion_tokens` |
//! | `gen_ai.input.messages`, `gen_ai.prompt` (JSON text is parsed) | `input.messages` |
//! | `gen_ai.output.messages`, `gen_ai.completion` (JSON text is parsed) | `output.messages` |
//! | other `gen_ai.*` fields | `metadata` (`gen_ai.operation.name`, ...) |
//! | `otel.name` | the span name (else the `tracing` span name) |
//! | `error`, `exception.message`, `otel.status_code = "ERROR"` (+ `otel.status_message`), an `ERROR` event in the span | `error_info` |
//! | any other field | `input`, by field name |
//!
//! Which spans are recorded: a span whose `tracing` parent was recorded; else a span opened
//! while a tracked call is current (it nests under that call); else a span that declares a
//! `gen_ai.*` field, which starts a new trace. Other spans (an HTTP server's, a database
//! driver's, outside any tracked call) are left alone, and so are spans below `INFO` (HTTP
//! clients' and drivers' `DEBUG`/`TRACE` spans; see [`OpikLayer::with_level`]) unless they are
//! GenAI spans. Filter further with [`Layer::with_filter`].
//!
//! The span type is decided when the span opens: `llm` when it *declares* a `gen_ai.*` field
//! among `gen_ai.request.model`, `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.system`
//! or `gen_ai.usage.*` (declared `Empty` and recorded later counts), `general` otherwise. Values
//! may be recorded any time before the span closes (`Span::record`), as the frameworks do with
//! the usage once the answer arrived.
//!
//! Limits: `#[track]` calls made while a `tracing` span is entered nest under the enclosing
//! *tracked* call, not under the `tracing` span (the Opik context is task-local and a layer
//! cannot enter it). The span ends when `tracing` closes it, i.e. when its last handle is
//! dropped.
//!
//! [OpenTelemetry GenAI]: https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/

use crate::{ErrorInfo, SpanHandle, SpanType, SpanUpdate, Usage};
use serde_json::{Map, Value};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Fields whose presence makes a span an `llm` span.
fn is_llm_field(name: &str) -> bool {
    matches!(
        name,
        "gen_ai.request.model" | "gen_ai.operation.name" | "gen_ai.provider.name" | "gen_ai.system"
    ) || name.starts_with("gen_ai.usage.")
}

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
    /// important, and GenAI spans at any level.
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

/// What a span recorded so far.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    model: Option<String>,
    response_model: Option<String>,
    provider: Option<String>,
    system: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    input: Map<String, Value>,
    gen_input: Option<Value>,
    output: Option<Value>,
    metadata: Map<String, Value>,
    error: Option<String>,
    status_error: bool,
    status_message: Option<String>,
}

impl Fields {
    fn set(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let text = || match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let int = || match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        match name {
            "otel.name" => self.name = Some(text()),
            "otel.kind" => {}
            "otel.status_code" => self.status_error = text().eq_ignore_ascii_case("error"),
            "otel.status_message" => self.status_message = Some(text()),
            "error" | "exception.message" => self.error = Some(text()),
            "gen_ai.request.model" => self.model = Some(text()),
            "gen_ai.response.model" => self.response_model = Some(text()),
            "gen_ai.provider.name" => self.provider = Some(text()),
            "gen_ai.system" => self.system = Some(text()),
            "gen_ai.usage.input_tokens" | "gen_ai.usage.prompt_tokens" => {
                self.prompt_tokens = int();
            }
            "gen_ai.usage.output_tokens" | "gen_ai.usage.completion_tokens" => {
                self.completion_tokens = int();
            }
            "gen_ai.input.messages" | "gen_ai.prompt" => self.gen_input = Some(parsed(value)),
            "gen_ai.output.messages" | "gen_ai.completion" => self.output = Some(parsed(value)),
            n if n.starts_with("gen_ai.") => {
                self.metadata.insert(n.to_owned(), value);
            }
            n => {
                self.input.insert(n.to_owned(), value);
            }
        }
    }

    fn error_info(&self) -> Option<ErrorInfo> {
        match (&self.error, self.status_error) {
            (Some(message), _) => Some(ErrorInfo::new("error", message.clone())),
            (None, true) => Some(ErrorInfo::new(
                "error",
                self.status_message
                    .clone()
                    .unwrap_or_else(|| "otel.status_code = ERROR".to_owned()),
            )),
            (None, false) => None,
        }
    }
}

/// JSON text (a message list, say) is kept as JSON; anything else as it is.
fn parsed(value: Value) -> Value {
    match value {
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(v @ (Value::Array(_) | Value::Object(_))) => v,
            _ => Value::String(s),
        },
        other => other,
    }
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.set(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.set(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.set(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.set(field, Value::from(format!("{value:?}")));
    }
}

/// The message of an `ERROR` event.
#[derive(Default)]
struct EventMessage(Option<String>);

impl Visit for EventMessage {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }
}

/// What the span's end hands to its recorder.
struct End {
    fields: Fields,
    event_error: Option<String>,
}

/// A recorded span, kept in the `tracing` span's extensions until it closes.
struct Bridged {
    span: SpanHandle,
    fields: Mutex<Fields>,
    event_error: Mutex<Option<String>>,
}

fn apply(end: End, s: &mut SpanUpdate) {
    let f = end.fields;
    let error = f.error_info().or_else(|| {
        end.event_error
            .map(|message| ErrorInfo::new("error", message))
    });
    {
        if let Some(name) = &f.name {
            s.name(name.clone());
        }
        if let Some(model) = f.model.clone().or(f.response_model.clone()) {
            s.model(model);
        }
        if let Some(provider) = f.provider.clone().or(f.system.clone()) {
            s.provider(provider);
        }
        if f.prompt_tokens.is_some() || f.completion_tokens.is_some() {
            s.usage(Usage::from_counts(
                f.prompt_tokens,
                f.completion_tokens,
                None,
            ));
        }
        // Messages go under `messages`, as the OpenAI integrations of the Python SDK log them.
        let mut input = f.input.clone();
        if let Some(messages) = &f.gen_input {
            input.insert("messages".to_owned(), messages.clone());
        }
        if !input.is_empty() {
            s.input(&input);
        }
        if let Some(output) = &f.output {
            s.output(&serde_json::json!({ "messages": output }));
        }
        let mut metadata = f.metadata.clone();
        metadata.insert("created_from".to_owned(), Value::from("tracing"));
        s.metadata(&metadata);
        if let Some(e) = error {
            s.error_info(e);
        }
    }
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
        let declares_llm = attrs
            .metadata()
            .fields()
            .iter()
            .any(|f| is_llm_field(f.name()));
        let under_tracked_call = crate::__private::has_current_span();
        if parent_context.is_none() && !under_tracked_call && !declares_llm {
            return;
        }
        // `Level` orders by verbosity: `TRACE > DEBUG > INFO`.
        if !declares_llm && *attrs.metadata().level() > self.level {
            return;
        }
        let span_type = if declares_llm {
            SpanType::Llm
        } else {
            SpanType::General
        };
        let mut opening = crate::span(attrs.metadata().name()).span_type(span_type);
        if let Some(parent) = &parent_context {
            opening = opening.child_of(parent);
        }
        let opened = opening.start();
        if opened.id().is_none() {
            return; // nothing records here
        }
        let mut fields = Fields::default();
        attrs.record(&mut Visitor(&mut fields));
        span.extensions_mut().insert(Bridged {
            span: opened,
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
            slot.get_or_insert(message.0.unwrap_or_else(|| "an ERROR event".to_owned()));
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
            fields,
            event_error,
        };
        b.span.update(|s| apply(end, s));
        b.span.end();
    }
}
