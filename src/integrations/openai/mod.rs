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

mod chat;
mod embeddings;
mod responses;
mod stream;

pub use chat::{TrackedChat, TrackedChatStream};
pub use embeddings::TrackedEmbeddings;
pub use responses::{TrackedResponseStream, TrackedResponses};

use super::gen_ai::{self};
use crate::{ErrorInfo, SpanHandle, SpanType, SpanUpdate, Usage};
use async_openai::config::{Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::Client;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

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

    pub(super) fn call(&self, name: &'static str, view: RequestView) -> Call {
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
pub(super) struct RequestView {
    input: Value,
    model: String,
    metadata: Map<String, Value>,
}

/// Splits a request into its input (`input_keys`) and its other parameters (metadata).
pub(super) fn request_view<T: Serialize>(
    request: &T,
    input_keys: &[&str],
    kind: &str,
) -> RequestView {
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

pub(super) fn error_info(e: &OpenAIError) -> ErrorInfo {
    ErrorInfo::new("OpenAIError", e.to_string()).with_traceback(format!("{e:?}"))
}

/// What a call ended with.
#[derive(Default)]
pub(super) struct Outcome {
    model: Option<String>,
    output: Option<Value>,
    usage: Option<Usage>,
    metadata: Map<String, Value>,
    error: Option<ErrorInfo>,
}

/// One recorded call: its span and what it asked for.
pub(super) struct Call {
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

/// The error a stream dropped before its end records.
pub(super) fn cancelled() -> ErrorInfo {
    ErrorInfo::new("cancelled", "the stream was dropped before it ended")
}
