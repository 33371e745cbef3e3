//! Chat completions of an [`async_openai`] client as `llm` spans (feature `openai`): the Rust
//! counterpart of the Python SDK's `track_openai`.
//!
//! Wrap the client with [`track_openai`] and call `chat().create(...)` /
//! `chat().create_stream(...)` as on the client itself. Each call becomes an `llm` span named
//! `chat_completion_create` (as in Python) under the current tracked call, or the root of a new
//! trace, with
//!
//! - `input`: `{"messages": [...]}` plus `tools` when the request has them;
//! - `output`: `{"choices": [...]}` as the API returned them; for a stream, one choice per index
//!   with the content deltas joined, the role, the tool calls' arguments joined, and the
//!   finish reason;
//! - `model` (the one that answered, else the one asked for), `provider` (`openai` unless set
//!   with [`OpikOpenAi::with_provider`], e.g. for an OpenAI-compatible server), `usage` (for a
//!   stream, from its last chunk: ask for it with `stream_options.include_usage`);
//! - `metadata`: the request's parameters (temperature, max tokens...) and
//!   `created_from: "openai"`; tag `openai`;
//! - errors: the `OpenAIError` with its message; a stream dropped before its end is recorded
//!   with what arrived until then and a `cancelled` error.
//!
//! ```no_run
//! use async_openai::types::chat::{
//!     ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
//! };
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let openai = opik::integrations::openai::track_openai(async_openai::Client::new());
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessageArgs::default()
//!         .content("Which scale fits a blues in A?")
//!         .build()?
//!         .into()])
//!     .build()?;
//! let answer = openai.chat().create(request).await?;
//! # let _ = answer; Ok(()) }
//! ```
//!
//! `async-openai` is used with only its `chat-completion` feature; enable a TLS feature
//! (`rustls`, `native-tls`) on your own `async-openai` dependency (same version) to reach
//! `https` endpoints.

use crate::{ErrorInfo, SpanHandle, SpanType, SpanUpdate, Usage};
use async_openai::config::{Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse,
};
use async_openai::Client;
use futures_core::Stream;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The span name, as the Python SDK's `track_openai` names chat completion spans.
pub const SPAN_NAME: &str = "chat_completion_create";

/// Opens the `llm` span of one chat completion (inert when nothing records).
fn chat_span() -> SpanHandle {
    crate::span(SPAN_NAME)
        .span_type(SpanType::Llm)
        .tags(["openai"])
        .start()
}

/// Wraps `client` so that its chat completions are recorded.
pub fn track_openai<C: Config>(client: Client<C>) -> OpikOpenAi<C> {
    OpikOpenAi {
        client,
        provider: Cow::Borrowed("openai"),
    }
}

/// An [`async_openai::Client`] whose chat completions are recorded as `llm` spans.
#[derive(Clone, Debug)]
pub struct OpikOpenAi<C: Config = OpenAIConfig> {
    client: Client<C>,
    provider: Cow<'static, str>,
}

impl<C: Config> OpikOpenAi<C> {
    /// The provider recorded on the spans (default `openai`), for OpenAI-compatible servers
    /// (`groq`, `ollama`...), so Opik prices them right.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.provider = provider.into();
        self
    }

    /// The wrapped client, for calls that are not recorded.
    pub fn inner(&self) -> &Client<C> {
        &self.client
    }

    /// Chat completions, recorded.
    pub fn chat(&self) -> TrackedChat<'_, C> {
        TrackedChat { openai: self }
    }
}

/// [`async_openai::Chat`] with recording; see the [module docs](self).
#[derive(Debug)]
pub struct TrackedChat<'c, C: Config> {
    openai: &'c OpikOpenAi<C>,
}

/// What the span records of the request, taken before the request is sent.
struct RequestView {
    input: Value,
    model: String,
    metadata: Map<String, Value>,
}

fn request_view(request: &CreateChatCompletionRequest) -> RequestView {
    let mut params = match serde_json::to_value(request) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut input = Map::new();
    for key in ["messages", "tools", "functions"] {
        if let Some(v) = params.remove(key) {
            input.insert(key.to_owned(), v);
        }
    }
    params.remove("model");
    params.remove("stream");
    params.insert("created_from".to_owned(), Value::from("openai"));
    params.insert("type".to_owned(), Value::from("openai_chat"));
    RequestView {
        input: Value::Object(input),
        model: request.model.clone(),
        metadata: params,
    }
}

fn error_info(e: &OpenAIError) -> ErrorInfo {
    ErrorInfo::new("OpenAIError", e.to_string()).with_traceback(format!("{e:?}"))
}

impl<C: Config> TrackedChat<'_, C> {
    /// [`async_openai::Chat::create`], recorded as an `llm` span.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        let view = request_view(&request);
        let span = chat_span();
        if span.id().is_none() {
            return self.openai.client.chat().create(request).await;
        }
        let result = self.openai.client.chat().create(request).await;
        let provider = self.openai.provider.to_string();
        let (output, model, usage, error) = match &result {
            Ok(r) => (
                Some(json!({ "choices": r.choices })),
                Some(r.model.clone()),
                r.usage.as_ref().map(Usage::from_serialize),
                None,
            ),
            Err(e) => (None, None, None, Some(error_info(e))),
        };
        span.update(|s| {
            s.input(&view.input)
                .metadata(&view.metadata)
                .model(model.unwrap_or(view.model))
                .provider(provider);
            if let Some(o) = output {
                s.output(&o);
            }
            if let Some(u) = usage {
                s.usage(u);
            }
            if let Some(e) = error {
                s.error_info(e);
            }
        });
        span.end();
        result
    }

    /// [`async_openai::Chat::create_stream`], recorded as one `llm` span that ends with the
    /// stream, its chunks aggregated into one output.
    pub async fn create_stream(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<TrackedChatStream, OpenAIError> {
        let view = request_view(&request);
        let span = chat_span();
        let recording = span.id().is_some();
        match self.openai.client.chat().create_stream(request).await {
            Ok(inner) => Ok(TrackedChatStream {
                inner,
                record: recording.then(|| StreamRecord {
                    span,
                    view,
                    provider: self.openai.provider.to_string(),
                    acc: Aggregate::default(),
                }),
            }),
            Err(e) => {
                let provider = self.openai.provider.to_string();
                let info = error_info(&e);
                span.update(|s| {
                    s.input(&view.input)
                        .metadata(&view.metadata)
                        .model(view.model)
                        .provider(provider)
                        .error_info(info);
                });
                span.end();
                Err(e)
            }
        }
    }
}

/// One choice being assembled from deltas.
#[derive(Default)]
struct ChoiceAcc {
    role: Option<Value>,
    content: String,
    refusal: Option<String>,
    tool_calls: BTreeMap<u32, (Option<String>, Option<String>, String)>,
    finish_reason: Option<Value>,
}

/// What the chunks of a stream add up to.
#[derive(Default)]
struct Aggregate {
    model: Option<String>,
    usage: Option<Usage>,
    choices: BTreeMap<u32, ChoiceAcc>,
    chunks: usize,
}

impl Aggregate {
    fn add(&mut self, chunk: &CreateChatCompletionStreamResponse) {
        self.chunks += 1;
        if self.model.is_none() && !chunk.model.is_empty() {
            self.model = Some(chunk.model.clone());
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(Usage::from_serialize(u));
        }
        for c in &chunk.choices {
            let acc = self.choices.entry(c.index).or_default();
            if let Some(role) = &c.delta.role {
                acc.role = serde_json::to_value(role).ok();
            }
            if let Some(text) = &c.delta.content {
                acc.content.push_str(text);
            }
            if let Some(r) = &c.delta.refusal {
                acc.refusal.get_or_insert_with(String::new).push_str(r);
            }
            for call in c.delta.tool_calls.iter().flatten() {
                let slot = acc.tool_calls.entry(call.index).or_default();
                if let Some(id) = &call.id {
                    slot.0 = Some(id.clone());
                }
                if let Some(f) = &call.function {
                    if let Some(name) = &f.name {
                        slot.1 = Some(name.clone());
                    }
                    if let Some(args) = &f.arguments {
                        slot.2.push_str(args);
                    }
                }
            }
            if let Some(reason) = &c.finish_reason {
                acc.finish_reason = serde_json::to_value(reason).ok();
            }
        }
    }

    fn output(&self) -> Value {
        let choices: Vec<Value> = self
            .choices
            .iter()
            .map(|(index, c)| {
                let mut message = json!({
                    "role": c.role.clone().unwrap_or_else(|| Value::from("assistant")),
                    "content": c.content,
                });
                if let Some(r) = &c.refusal {
                    message["refusal"] = Value::from(r.as_str());
                }
                if !c.tool_calls.is_empty() {
                    message["tool_calls"] = c
                        .tool_calls
                        .values()
                        .map(|(id, name, args)| {
                            json!({"id": id, "type": "function",
                                   "function": {"name": name, "arguments": args}})
                        })
                        .collect();
                }
                let mut choice = json!({ "index": index, "message": message });
                if let Some(f) = &c.finish_reason {
                    choice["finish_reason"] = f.clone();
                }
                choice
            })
            .collect();
        json!({ "choices": choices })
    }
}

struct StreamRecord {
    span: SpanHandle,
    view: RequestView,
    provider: String,
    acc: Aggregate,
}

impl StreamRecord {
    fn finish(self, error: Option<ErrorInfo>) {
        let StreamRecord {
            span,
            view,
            provider,
            acc,
        } = self;
        let output = acc.output();
        let mut metadata = view.metadata;
        metadata.insert("stream_chunks".to_owned(), Value::from(acc.chunks));
        span.update(|s: &mut SpanUpdate| {
            s.input(&view.input)
                .metadata(&metadata)
                .output(&output)
                .model(acc.model.unwrap_or(view.model))
                .provider(provider);
            if let Some(u) = acc.usage {
                s.usage(u);
            }
            if let Some(e) = error {
                s.error_info(e);
            }
        });
        span.end();
    }
}

/// The stream of a recorded streaming completion: yields the chunks unchanged; the span ends
/// when the stream ends, fails, or is dropped.
pub struct TrackedChatStream {
    inner: ChatCompletionResponseStream,
    record: Option<StreamRecord>,
}

impl std::fmt::Debug for TrackedChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedChatStream")
            .field("recording", &self.record.is_some())
            .finish_non_exhaustive()
    }
}

impl Stream for TrackedChatStream {
    type Item = Result<CreateChatCompletionStreamResponse, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = this.inner.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(r) = this.record.as_mut() {
                    r.acc.add(chunk);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(r) = this.record.take() {
                    r.finish(Some(error_info(e)));
                }
            }
            Poll::Ready(None) => {
                if let Some(r) = this.record.take() {
                    r.finish(None);
                }
            }
            Poll::Pending => {}
        }
        item
    }
}

impl Drop for TrackedChatStream {
    fn drop(&mut self) {
        if let Some(r) = self.record.take() {
            r.finish(Some(ErrorInfo::new(
                "cancelled",
                "the stream was dropped before it ended",
            )));
        }
    }
}
