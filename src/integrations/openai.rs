//! An [`async_openai`] client's calls as `llm` spans (feature `openai`): the Rust counterpart
//! of the Python SDK's `track_openai`.
//!
//! Wrap the client with [`track_openai`] and call `chat()`, `responses()` and `embeddings()`
//! as on the client itself. Each call becomes an `llm` span under the current tracked call, or
//! the root of a new trace, tagged `openai`:
//!
//! | call | span name | input | output |
//! |---|---|---|---|
//! | `chat().create` / `create_stream` | `chat_completion_create` | `messages`, and `tools` / `functions` when given | `choices` as the API returned them; for a stream, one choice per index with the content deltas joined, the role, the tool calls' arguments joined, and the finish reason |
//! | `responses().create` / `create_stream` | `responses_create` | `input`, `instructions`, `reasoning`, `previous_response_id`, `tools` | `output` (the output items) and `reasoning`; for a stream, the final response's (`response.completed`, `.incomplete` or `.failed`), or the text deltas joined when the stream ended before it |
//! | `embeddings().create` | `embeddings_create` | `input` | `embeddings` (how many) and `dimensions` (the vectors are left out) |
//!
//! and on each span:
//!
//! - `model`: the model that answered, else the one asked for (kept in metadata as
//!   `request_model` when it differs); the same rule as [`OpikLayer`](super::OpikLayer)'s;
//! - `provider`: `openai` unless set with [`OpikOpenAi::with_provider`] (for an
//!   OpenAI-compatible server), in Opik's provider names (`mistral_ai` → `mistral`...);
//! - `usage` as the API reported it (cached and reasoning tokens included, which Opik prices);
//!   for a chat stream from its last chunk (ask for it with `stream_options.include_usage`),
//!   for a Responses stream from the final response;
//! - `metadata`: the request's other parameters (temperature, max tokens...), for the Responses
//!   API the response's other fields (id, status...), `created_from: "openai"` and `type`;
//! - errors: the `OpenAIError` with its message, a failed or incomplete response's error, a
//!   Responses stream's `error` event; a stream dropped before its end is recorded with what
//!   arrived until then and a `cancelled` error.
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
//! `async-openai` is used with its `chat-completion`, `responses` and `embedding` features;
//! enable a TLS feature (`rustls`, `native-tls`) on your own `async-openai` dependency (same
//! version) to reach `https` endpoints.

use super::gen_ai::{self, Tokens};
use crate::{ErrorInfo, SpanHandle, SpanType, SpanUpdate, Usage};
use async_openai::config::{Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use async_openai::types::responses::{
    CreateResponse, Response, ResponseStream, ResponseStreamEvent,
};
use async_openai::Client;
use futures_core::Stream;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The span name of a chat completion, as the Python SDK's `track_openai` names it.
pub const SPAN_NAME: &str = "chat_completion_create";
/// The span name of a Responses API call, as the Python SDK names it.
pub const RESPONSES_SPAN_NAME: &str = "responses_create";
/// The span name of an embeddings call.
pub const EMBEDDINGS_SPAN_NAME: &str = "embeddings_create";

/// Wraps `client` so that its calls are recorded.
pub fn track_openai<C: Config>(client: Client<C>) -> OpikOpenAi<C> {
    OpikOpenAi {
        client,
        provider: Cow::Borrowed("openai"),
    }
}

/// An [`async_openai::Client`] whose chat completions, Responses API calls and embeddings are
/// recorded as `llm` spans.
#[derive(Clone, Debug)]
pub struct OpikOpenAi<C: Config = OpenAIConfig> {
    client: Client<C>,
    provider: Cow<'static, str>,
}

impl<C: Config> OpikOpenAi<C> {
    /// The provider recorded on the spans (default `openai`), for OpenAI-compatible servers
    /// (`groq`, `ollama`...), so Opik prices them right. OpenTelemetry names (`mistral_ai`,
    /// `x_ai`...) are recorded in Opik's (`mistral`, `xai`).
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.provider = Cow::Owned(gen_ai::opik_provider(&provider.into()));
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

    /// The Responses API, recorded.
    pub fn responses(&self) -> TrackedResponses<'_, C> {
        TrackedResponses { openai: self }
    }

    /// Embeddings, recorded.
    pub fn embeddings(&self) -> TrackedEmbeddings<'_, C> {
        TrackedEmbeddings { openai: self }
    }

    fn call(&self, name: &'static str, view: RequestView) -> Call {
        let span = crate::span(name)
            .span_type(SpanType::Llm)
            .tags(["openai"])
            .start();
        Call {
            span,
            view,
            provider: self.provider.to_string(),
        }
    }
}

/// What the span records of the request, taken before the request is sent.
struct RequestView {
    input: Value,
    model: String,
    metadata: Map<String, Value>,
}

/// Splits a request into its input (`input_keys`) and its other parameters (metadata).
fn request_view<T: Serialize>(request: &T, input_keys: &[&str], kind: &str) -> RequestView {
    let mut params = match serde_json::to_value(request) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut input = Map::new();
    for key in input_keys {
        if let Some(v) = params.remove(*key) {
            input.insert((*key).to_owned(), v);
        }
    }
    let model = match params.remove("model") {
        Some(Value::String(m)) => m,
        _ => String::new(),
    };
    params.remove("stream");
    params.insert("created_from".to_owned(), Value::from("openai"));
    params.insert("type".to_owned(), Value::from(kind));
    RequestView {
        input: Value::Object(input),
        model,
        metadata: params,
    }
}

fn error_info(e: &OpenAIError) -> ErrorInfo {
    ErrorInfo::new("OpenAIError", e.to_string()).with_traceback(format!("{e:?}"))
}

/// What a call ended with.
#[derive(Default)]
struct Outcome {
    model: Option<String>,
    output: Option<Value>,
    usage: Option<Usage>,
    metadata: Map<String, Value>,
    error: Option<ErrorInfo>,
}

/// One recorded call: its span and what it asked for.
struct Call {
    span: SpanHandle,
    view: RequestView,
    provider: String,
}

impl Call {
    fn recording(&self) -> bool {
        self.span.id().is_some()
    }

    fn finish(self, outcome: Outcome) {
        let Call {
            span,
            view,
            provider,
        } = self;
        let choice = gen_ai::choose_model(Some(&view.model), outcome.model.as_deref());
        let mut metadata = view.metadata;
        metadata.extend(outcome.metadata);
        if let Some(requested) = choice.requested {
            metadata.insert("request_model".to_owned(), Value::from(requested));
        }
        span.update(|s: &mut SpanUpdate| {
            s.input(&view.input).metadata(&metadata).provider(provider);
            if let Some(model) = choice.model {
                s.model(model);
            }
            if let Some(o) = outcome.output {
                s.output(&o);
            }
            if let Some(u) = outcome.usage {
                s.usage(u);
            }
            if let Some(e) = outcome.error {
                s.error_info(e);
            }
        });
        span.end();
    }

    fn fail(self, e: &OpenAIError) {
        self.finish(Outcome {
            error: Some(error_info(e)),
            ..Outcome::default()
        });
    }
}

// ---- Chat completions ----------------------------------------------------------------------

/// [`async_openai::Chat`] with recording; see the [module docs](self).
#[derive(Debug)]
pub struct TrackedChat<'c, C: Config> {
    openai: &'c OpikOpenAi<C>,
}

fn chat_view(request: &CreateChatCompletionRequest) -> RequestView {
    request_view(request, &["messages", "tools", "functions"], "openai_chat")
}

impl<C: Config> TrackedChat<'_, C> {
    /// [`async_openai::Chat::create`], recorded as an `llm` span.
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        let call = self.openai.call(SPAN_NAME, chat_view(&request));
        if !call.recording() {
            return self.openai.client.chat().create(request).await;
        }
        let result = self.openai.client.chat().create(request).await;
        match &result {
            Ok(r) => call.finish(Outcome {
                model: Some(r.model.clone()),
                output: Some(json!({ "choices": r.choices })),
                usage: r.usage.as_ref().map(Usage::from_serialize),
                ..Outcome::default()
            }),
            Err(e) => call.fail(e),
        }
        result
    }

    /// [`async_openai::Chat::create_stream`], recorded as one `llm` span that ends with the
    /// stream, its chunks aggregated into one output.
    pub async fn create_stream(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<TrackedChatStream, OpenAIError> {
        let call = self.openai.call(SPAN_NAME, chat_view(&request));
        let recording = call.recording();
        match self.openai.client.chat().create_stream(request).await {
            Ok(inner) => Ok(TrackedChatStream {
                inner,
                record: recording.then(|| (call, ChatAggregate::default())),
            }),
            Err(e) => {
                call.fail(&e);
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

/// What the chunks of a chat stream add up to.
#[derive(Default)]
struct ChatAggregate {
    model: Option<String>,
    usage: Option<Usage>,
    choices: BTreeMap<u32, ChoiceAcc>,
    chunks: usize,
}

impl ChatAggregate {
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

    fn outcome(self, error: Option<ErrorInfo>) -> Outcome {
        let mut metadata = Map::new();
        metadata.insert("stream_chunks".to_owned(), Value::from(self.chunks));
        Outcome {
            output: Some(self.output()),
            model: self.model,
            usage: self.usage,
            metadata,
            error,
        }
    }
}

fn cancelled() -> ErrorInfo {
    ErrorInfo::new("cancelled", "the stream was dropped before it ended")
}

/// The stream of a recorded streaming completion: yields the chunks unchanged; the span ends
/// when the stream ends, fails, or is dropped.
pub struct TrackedChatStream {
    inner: ChatCompletionResponseStream,
    record: Option<(Call, ChatAggregate)>,
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
                if let Some((_, acc)) = this.record.as_mut() {
                    acc.add(chunk);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some((call, acc)) = this.record.take() {
                    call.finish(acc.outcome(Some(error_info(e))));
                }
            }
            Poll::Ready(None) => {
                if let Some((call, acc)) = this.record.take() {
                    call.finish(acc.outcome(None));
                }
            }
            Poll::Pending => {}
        }
        item
    }
}

impl Drop for TrackedChatStream {
    fn drop(&mut self) {
        if let Some((call, acc)) = self.record.take() {
            call.finish(acc.outcome(Some(cancelled())));
        }
    }
}

// ---- Responses API -------------------------------------------------------------------------

/// [`async_openai::Responses`] with recording; see the [module docs](self).
#[derive(Debug)]
pub struct TrackedResponses<'c, C: Config> {
    openai: &'c OpikOpenAi<C>,
}

fn responses_view(request: &CreateResponse) -> RequestView {
    request_view(
        request,
        &[
            "input",
            "instructions",
            "reasoning",
            "previous_response_id",
            "tools",
        ],
        "openai_responses",
    )
}

/// The outcome of a response: its output items and reasoning as output, its usage and model,
/// its other fields as metadata, its error (a failed or incomplete response) as `error_info`.
fn response_outcome(response: &Response) -> Outcome {
    let mut fields = match serde_json::to_value(response) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut output = Map::new();
    for key in ["output", "reasoning"] {
        if let Some(v) = fields.remove(key) {
            output.insert(key.to_owned(), v);
        }
    }
    let usage = fields.remove("usage").filter(|u| !u.is_null());
    fields.remove("model");
    // What the request's view already has.
    for key in ["instructions", "tools", "previous_response_id"] {
        fields.remove(key);
    }
    let error = match (&response.error, &response.incomplete_details) {
        (Some(e), _) => Some(gen_ai::error_info(
            serde_json::to_value(&e.code)
                .ok()
                .as_ref()
                .and_then(Value::as_str),
            Some(&e.message),
        )),
        (None, Some(details)) => Some(gen_ai::error_info(
            Some("incomplete"),
            Some(&format!(
                "the response is incomplete: {}",
                serde_json::to_value(details)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )),
        )),
        (None, None) => None,
    };
    let mut metadata = Map::new();
    for (k, v) in fields {
        if !v.is_null() {
            metadata.insert(k, v);
        }
    }
    Outcome {
        model: Some(response.model.clone()).filter(|m| !m.is_empty()),
        output: Some(Value::Object(output)),
        usage: usage.map(Usage::from_json),
        metadata,
        error,
    }
}

impl<C: Config> TrackedResponses<'_, C> {
    /// [`async_openai::Responses::create`], recorded as an `llm` span.
    pub async fn create(&self, request: CreateResponse) -> Result<Response, OpenAIError> {
        let call = self
            .openai
            .call(RESPONSES_SPAN_NAME, responses_view(&request));
        if !call.recording() {
            return self.openai.client.responses().create(request).await;
        }
        let result = self.openai.client.responses().create(request).await;
        match &result {
            Ok(r) => call.finish(response_outcome(r)),
            Err(e) => call.fail(e),
        }
        result
    }

    /// [`async_openai::Responses::create_stream`], recorded as one `llm` span that ends with
    /// the stream, with the final response's output and usage.
    pub async fn create_stream(
        &self,
        request: CreateResponse,
    ) -> Result<TrackedResponseStream, OpenAIError> {
        let call = self
            .openai
            .call(RESPONSES_SPAN_NAME, responses_view(&request));
        let recording = call.recording();
        match self.openai.client.responses().create_stream(request).await {
            Ok(inner) => Ok(TrackedResponseStream {
                inner,
                record: recording.then(|| (call, ResponseAggregate::default())),
            }),
            Err(e) => {
                call.fail(&e);
                Err(e)
            }
        }
    }
}

/// What the events of a Responses stream add up to.
#[derive(Default)]
struct ResponseAggregate {
    /// The response of the final event (`response.completed`, `.incomplete`, `.failed`).
    last: Option<Outcome>,
    /// The text deltas, for a stream that ends before its final event.
    text: String,
    model: Option<String>,
    error: Option<ErrorInfo>,
    events: usize,
}

impl ResponseAggregate {
    fn add(&mut self, event: &ResponseStreamEvent) {
        self.events += 1;
        match event {
            ResponseStreamEvent::ResponseCreated(e) => {
                self.model = Some(e.response.model.clone()).filter(|m| !m.is_empty());
            }
            ResponseStreamEvent::ResponseOutputTextDelta(d) => self.text.push_str(&d.delta),
            ResponseStreamEvent::ResponseCompleted(e) => {
                self.last = Some(response_outcome(&e.response));
            }
            ResponseStreamEvent::ResponseIncomplete(e) => {
                self.last = Some(response_outcome(&e.response));
            }
            ResponseStreamEvent::ResponseFailed(e) => {
                self.last = Some(response_outcome(&e.response));
            }
            ResponseStreamEvent::ResponseError(e) => {
                self.error = Some(gen_ai::error_info(
                    e.code.as_deref().or(Some("error")),
                    Some(&e.message),
                ));
            }
            _ => {}
        }
    }

    fn outcome(self, error: Option<ErrorInfo>) -> Outcome {
        let mut outcome = self.last.unwrap_or_else(|| Outcome {
            model: self.model,
            output: (!self.text.is_empty()).then(|| json!({ "output_text": self.text })),
            ..Outcome::default()
        });
        outcome
            .metadata
            .insert("stream_events".to_owned(), Value::from(self.events));
        if let Some(e) = error.or(self.error) {
            outcome.error = Some(e);
        }
        outcome
    }
}

/// The stream of a recorded streaming Responses call: yields the events unchanged; the span
/// ends when the stream ends, fails, or is dropped.
pub struct TrackedResponseStream {
    inner: ResponseStream,
    record: Option<(Call, ResponseAggregate)>,
}

impl std::fmt::Debug for TrackedResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedResponseStream")
            .field("recording", &self.record.is_some())
            .finish_non_exhaustive()
    }
}

impl Stream for TrackedResponseStream {
    type Item = Result<ResponseStreamEvent, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = this.inner.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(event))) => {
                if let Some((_, acc)) = this.record.as_mut() {
                    acc.add(event);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some((call, acc)) = this.record.take() {
                    call.finish(acc.outcome(Some(error_info(e))));
                }
            }
            Poll::Ready(None) => {
                if let Some((call, acc)) = this.record.take() {
                    call.finish(acc.outcome(None));
                }
            }
            Poll::Pending => {}
        }
        item
    }
}

impl Drop for TrackedResponseStream {
    fn drop(&mut self) {
        if let Some((call, acc)) = self.record.take() {
            let finished = acc.last.is_some();
            call.finish(acc.outcome((!finished).then(cancelled)));
        }
    }
}

// ---- Embeddings ----------------------------------------------------------------------------

/// [`async_openai::Embeddings`] with recording; see the [module docs](self).
#[derive(Debug)]
pub struct TrackedEmbeddings<'c, C: Config> {
    openai: &'c OpikOpenAi<C>,
}

impl<C: Config> TrackedEmbeddings<'_, C> {
    /// [`async_openai::Embeddings::create`], recorded as an `llm` span: the input, how many
    /// embeddings of how many dimensions came back (not the vectors), model and usage.
    pub async fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateEmbeddingResponse, OpenAIError> {
        let view = request_view(&request, &["input"], "openai_embeddings");
        let call = self.openai.call(EMBEDDINGS_SPAN_NAME, view);
        if !call.recording() {
            return self.openai.client.embeddings().create(request).await;
        }
        let result = self.openai.client.embeddings().create(request).await;
        match &result {
            Ok(r) => {
                let tokens = Tokens {
                    input: Some(i64::from(r.usage.prompt_tokens)),
                    output: Some(0),
                    ..Tokens::default()
                };
                let dimensions = r.data.first().map(|e| e.embedding.len());
                let usage = tokens.usage(Some(&call.provider));
                call.finish(Outcome {
                    model: Some(r.model.clone()),
                    output: Some(json!({"embeddings": r.data.len(), "dimensions": dimensions})),
                    usage,
                    ..Outcome::default()
                });
            }
            Err(e) => call.fail(e),
        }
        result
    }
}
