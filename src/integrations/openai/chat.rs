//! Chat completions, plain and streamed, as `llm` spans.

use super::stream::{Aggregate, Recorded};
use super::{request_view, OpikOpenAi, Outcome, RequestView, SPAN_NAME};
use crate::{ErrorInfo, Usage};
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionResponseStream, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse,
};
use futures_core::Stream;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

/// [`async_openai::Chat`] with recording; see the [module docs](super).
#[derive(Debug)]
pub struct TrackedChat<'c, C: Config> {
    pub(super) openai: &'c OpikOpenAi<C>,
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
        match self.openai.client.chat().create_stream(request).await {
            Ok(inner) => Ok(TrackedChatStream(Recorded::new(inner, call))),
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

impl Aggregate for ChatAggregate {
    type Item = CreateChatCompletionStreamResponse;

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

/// The stream of a recorded streaming completion: yields the chunks unchanged; the span ends
/// when the stream ends, fails, or is dropped.
pub struct TrackedChatStream(Recorded<ChatCompletionResponseStream, ChatAggregate>);

impl std::fmt::Debug for TrackedChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedChatStream")
            .field("recording", &self.0.recording())
            .finish_non_exhaustive()
    }
}

impl Stream for TrackedChatStream {
    type Item = Result<CreateChatCompletionStreamResponse, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_next(cx)
    }
}
