//! The one mapping from OpenTelemetry GenAI data to what Opik reads, shared by
//! [`OpikLayer`](super::OpikLayer) (GenAI `tracing` spans from rig, genai...) and the
//! [`openai`](super::openai) wrapper, so that the same call gives the same Opik span whichever
//! way it was recorded:
//!
//! - **span type** by `gen_ai.operation.name`: model calls (`chat`, `text_completion`,
//!   `generate_content`, `embeddings`, and rig's `rerank`, `transcription`,
//!   `image_generation`, `audio_generation`) are `llm`, `execute_tool` is `tool`, agents and
//!   workflows (`invoke_agent`, `create_agent`, `invoke_workflow`, `plan`, `retrieval`) are
//!   `general`;
//! - **provider** in Opik's names, which its price table is keyed by: the OpenTelemetry names
//!   `gcp.gemini`, `gcp.vertex_ai`, `aws.bedrock`, `mistral_ai`, `x_ai`, `azure.ai.openai`...
//!   become `google_ai`, `google_vertexai`, `bedrock`, `mistral`, `xai`, `azure` (the aliases
//!   Opik's own OpenTelemetry ingestion applies); other names pass through;
//! - **model**: the model that answered (`gen_ai.response.model`, the API response's
//!   `model`) wins over the one asked for, which is kept in metadata as `request_model` when it
//!   differs: the answering model is what ran and was billed (a dated snapshot of an alias, the
//!   model a router or an Azure deployment name resolved to), Opik's price lookup strips the
//!   date suffix, and the Python SDK's `track_openai` records the response's model too. The
//!   requested model stands in when no answer came (an error, a stream dropped early);
//! - **usage**: OpenTelemetry counts (input tokens including the cached ones, output tokens
//!   including reasoning, as the conventions define them) are rebuilt into the provider's own
//!   usage shape, then normalized as any provider usage is ([`Usage`]): so the keys Opik's cost
//!   computation reads are there, e.g. `original_usage.prompt_tokens_details.cached_tokens` and
//!   `original_usage.completion_tokens_details.reasoning_tokens` for OpenAI-shaped providers,
//!   `original_usage.cache_read_input_tokens` / `cache_creation_input_tokens` (next to input
//!   tokens without them) for Anthropic, `cacheReadInputTokens` for Bedrock,
//!   `cached_content_token_count` / `thoughts_token_count` for Google;
//! - **messages** as OpenAI chat messages, the shape Opik shows as a conversation: input
//!   `{"messages": [...]}` with the system prompt first, output `{"choices": [...]}` as a chat
//!   completion has them; GenAI message parts become `content`, `tool_calls`, `tool` messages
//!   and `reasoning_content`;
//! - **errors** as `error_info`: `error.type` is the exception type.

use crate::{ErrorInfo, SpanType, Usage};
use serde_json::{json, Map, Value};

/// The span type of a GenAI operation, `None` for an operation this mapping does not know.
pub(crate) fn span_type_of_operation(operation: &str) -> Option<SpanType> {
    match operation {
        "chat" | "text_completion" | "generate_content" | "embeddings" | "rerank"
        | "transcription" | "image_generation" | "audio_generation" => Some(SpanType::Llm),
        "execute_tool" => Some(SpanType::Tool),
        "invoke_agent" | "create_agent" | "invoke_workflow" | "plan" | "retrieval" => {
            Some(SpanType::General)
        }
        _ => None,
    }
}

/// Opik's name for a provider named the OpenTelemetry way (`gen_ai.provider.name`,
/// `gen_ai.system`) or a framework's way.
pub(crate) fn opik_provider(name: &str) -> String {
    let trimmed = name.trim();
    let canonical = match trimmed.to_ascii_lowercase().as_str() {
        "gcp.gemini" | "gemini" | "google_ai_gemini" => "google_ai",
        "gcp.vertex_ai" | "vertex_ai" | "vertexai" => "google_vertexai",
        "aws.bedrock" | "bedrock_converse" | "amazon_bedrock" => "bedrock",
        "mistral_ai" | "mistralai" => "mistral",
        "x_ai" => "xai",
        "azure.ai.openai" | "az.ai.openai" | "azure.openai" => "azure",
        "open_ai" => "openai",
        "moonshot_ai" => "moonshot",
        _ => return trimmed.to_owned(),
    };
    canonical.to_owned()
}

/// The model a span records, and the requested one when it differs (kept in metadata).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ModelChoice {
    pub(crate) model: Option<String>,
    pub(crate) requested: Option<String>,
}

/// The one model rule: the model that answered wins; the requested one stands in without an
/// answer, and is reported apart when the answer names another.
pub(crate) fn choose_model(requested: Option<&str>, answered: Option<&str>) -> ModelChoice {
    let requested = requested.filter(|m| !m.trim().is_empty());
    let answered = answered.filter(|m| !m.trim().is_empty());
    match (requested, answered) {
        (r, Some(a)) => ModelChoice {
            model: Some(a.to_owned()),
            requested: r.filter(|r| *r != a).map(str::to_owned),
        },
        (r, None) => ModelChoice {
            model: r.map(str::to_owned),
            requested: None,
        },
    }
}

/// Token counts as the OpenTelemetry GenAI conventions define them: `input` includes the
/// tokens read from and written to a cache (and, for rig, a hosted tool's prompt), `output`
/// includes the reasoning tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Tokens {
    pub(crate) input: Option<i64>,
    pub(crate) output: Option<i64>,
    pub(crate) cache_read: Option<i64>,
    pub(crate) cache_creation: Option<i64>,
    pub(crate) reasoning: Option<i64>,
    pub(crate) tool_use_prompt: Option<i64>,
}

impl Tokens {
    /// Takes the count of a `gen_ai.usage.<key>` field; `false` when `key` is not a count this
    /// mapping knows (it then belongs in metadata).
    pub(crate) fn set(&mut self, key: &str, value: i64) -> bool {
        let slot = match key {
            "input_tokens" | "prompt_tokens" => &mut self.input,
            "output_tokens" | "completion_tokens" => &mut self.output,
            "cache_read.input_tokens" | "cache_read_input_tokens" | "input_tokens.cached" => {
                &mut self.cache_read
            }
            "cache_creation.input_tokens"
            | "cache_creation_input_tokens"
            | "input_tokens.cache_write" => &mut self.cache_creation,
            "reasoning.output_tokens" | "reasoning_tokens" | "output_tokens.reasoning" => {
                &mut self.reasoning
            }
            "tool_use_prompt_tokens" => &mut self.tool_use_prompt,
            // Derived from the others, as Opik does.
            "total_tokens" => return true,
            _ => return false,
        };
        *slot = Some(value.max(0));
        true
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Tokens::default()
    }

    /// The usage in the shape `provider` (an Opik name) reports it, so that normalizing it
    /// gives the keys Opik prices; `None` without input and output counts.
    pub(crate) fn usage(&self, provider: Option<&str>) -> Option<Usage> {
        // A side not reported counts zero (an embedding has no output tokens).
        let (input, output) = match (self.input, self.output) {
            (None, None) => return None,
            (i, o) => (Some(i.unwrap_or(0)), Some(o.unwrap_or(0))),
        };
        let mut m = Map::new();
        let cached = self.cache_read.unwrap_or(0);
        let created = self.cache_creation.unwrap_or(0);
        let uncached = input.map(|i| i.saturating_sub(cached).saturating_sub(created).max(0));
        match (provider, input, output) {
            // Anthropic and Bedrock count the cache apart from the input.
            (Some("anthropic" | "anthropic_vertexai"), Some(_), Some(_)) => {
                put(&mut m, "input_tokens", uncached);
                put(&mut m, "output_tokens", output);
                put(&mut m, "cache_read_input_tokens", self.cache_read);
                put(&mut m, "cache_creation_input_tokens", self.cache_creation);
            }
            (Some("bedrock"), Some(_), Some(_)) => {
                put(&mut m, "inputTokens", uncached);
                put(&mut m, "outputTokens", output);
                put(&mut m, "cacheReadInputTokens", self.cache_read);
                put(&mut m, "cacheWriteInputTokens", self.cache_creation);
            }
            // Google counts the cache inside the prompt, thoughts and tool prompts apart.
            (Some("google_ai" | "google_vertexai"), Some(i), Some(o)) => {
                let tool_use = self.tool_use_prompt.unwrap_or(0);
                let thoughts = self.reasoning.unwrap_or(0);
                put(&mut m, "prompt_token_count", Some((i - tool_use).max(0)));
                put(
                    &mut m,
                    "candidates_token_count",
                    Some((o - thoughts).max(0)),
                );
                put(&mut m, "thoughts_token_count", self.reasoning);
                put(&mut m, "cached_content_token_count", self.cache_read);
                put(&mut m, "tool_use_prompt_token_count", self.tool_use_prompt);
                put(&mut m, "total_token_count", i.checked_add(o));
            }
            // OpenAI's shape, which most other providers answer in too.
            _ => {
                put(&mut m, "prompt_tokens", input);
                put(&mut m, "completion_tokens", output);
                put(
                    &mut m,
                    "total_tokens",
                    input.zip(output).and_then(|(i, o)| i.checked_add(o)),
                );
                let mut prompt_details = Map::new();
                put(&mut prompt_details, "cached_tokens", self.cache_read);
                put(
                    &mut prompt_details,
                    "cache_creation_tokens",
                    self.cache_creation,
                );
                if !prompt_details.is_empty() {
                    m.insert(
                        "prompt_tokens_details".into(),
                        Value::Object(prompt_details),
                    );
                }
                if let Some(r) = self.reasoning {
                    m.insert(
                        "completion_tokens_details".into(),
                        json!({ "reasoning_tokens": r }),
                    );
                }
            }
        }
        Some(Usage::from_json(Value::Object(m)))
    }
}

fn put(m: &mut Map<String, Value>, key: &str, value: Option<i64>) {
    if let Some(v) = value {
        m.insert(key.to_owned(), Value::from(v));
    }
}

/// A field value that holds JSON text (GenAI messages, tool arguments) as that JSON; any other
/// value as it is.
pub(crate) fn parsed(value: Value) -> Value {
    match value {
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('[') || t.starts_with('{') {
                if let Ok(v) = serde_json::from_str::<Value>(&s) {
                    return v;
                }
            }
            Value::String(s)
        }
        other => other,
    }
}

/// Text of a JSON value for a chat message's `content` / a tool call's `arguments`.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// OpenAI chat messages from GenAI messages (`[{"role", "parts": [...]}]`, the conventions'
/// shape), from messages already in OpenAI's shape (kept), or from a plain prompt text (one
/// `user` message; `role` for the output side).
pub(crate) fn chat_messages(value: &Value, text_role: &str) -> Vec<Value> {
    match value {
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                convert_message(item, &mut out);
            }
            out
        }
        Value::Object(_) => {
            let mut out = Vec::new();
            convert_message(value, &mut out);
            out
        }
        Value::Null => Vec::new(),
        other => vec![json!({ "role": text_role, "content": as_text(other) })],
    }
}

/// One GenAI message as OpenAI messages (a message of tool results becomes one `tool`
/// message per result).
fn convert_message(message: &Value, out: &mut Vec<Value>) {
    let Some(parts) = message.get("parts").and_then(Value::as_array) else {
        // Already OpenAI-shaped (or unknown): kept as it is.
        out.push(message.clone());
        return;
    };
    let role = message
        .get("role")
        .cloned()
        .unwrap_or_else(|| Value::from("user"));
    let mut content: Vec<Value> = Vec::new();
    let mut tool_calls: Vec<Value> = Vec::new();
    let mut reasoning = String::new();
    let mut tool_results: Vec<Value> = Vec::new();
    for part in parts {
        match part.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => content.push(json!({
                "type": "text",
                "text": part.get("content").map(as_text).unwrap_or_default(),
            })),
            "tool_call" => {
                let mut call = Map::new();
                if let Some(id) = part.get("id") {
                    call.insert("id".into(), id.clone());
                }
                call.insert("type".into(), Value::from("function"));
                call.insert(
                    "function".into(),
                    json!({
                        "name": part.get("name").cloned().unwrap_or(Value::Null),
                        "arguments": part.get("arguments").map(as_text).unwrap_or_default(),
                    }),
                );
                tool_calls.push(Value::Object(call));
            }
            "tool_call_response" => {
                let mut result = Map::new();
                result.insert("role".into(), Value::from("tool"));
                if let Some(id) = part.get("id") {
                    result.insert("tool_call_id".into(), id.clone());
                }
                result.insert(
                    "content".into(),
                    Value::from(part.get("response").map(as_text).unwrap_or_default()),
                );
                tool_results.push(Value::Object(result));
            }
            "reasoning" => {
                reasoning.push_str(&part.get("content").map(as_text).unwrap_or_default());
            }
            "uri" | "blob" if part.get("modality").and_then(Value::as_str) == Some("image") => {
                let url = match part.get("uri") {
                    Some(uri) => as_text(uri),
                    None => format!(
                        "data:{};base64,{}",
                        part.get("mime_type")
                            .and_then(Value::as_str)
                            .unwrap_or("image/png"),
                        part.get("content").map(as_text).unwrap_or_default()
                    ),
                };
                content.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            // Other media, opaque items: kept as the conventions write them.
            _ => content.push(part.clone()),
        }
    }
    let has_message = !content.is_empty() || !tool_calls.is_empty() || !reasoning.is_empty();
    if has_message || tool_results.is_empty() {
        let mut m = Map::new();
        m.insert("role".into(), role);
        let all_text = content.iter().all(|c| c["type"] == "text");
        let content = match content.len() {
            0 if !tool_calls.is_empty() => Value::Null,
            _ if all_text => Value::from(
                content
                    .iter()
                    .map(|c| c["text"].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => Value::Array(content),
        };
        m.insert("content".into(), content);
        if !tool_calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        if !reasoning.is_empty() {
            m.insert("reasoning_content".into(), Value::from(reasoning));
        }
        if let Some(name) = message.get("name") {
            m.insert("name".into(), name.clone());
        }
        if let Some(reason) = message.get("finish_reason") {
            m.insert("finish_reason".into(), reason.clone());
        }
        out.push(Value::Object(m));
    }
    out.extend(tool_results);
}

/// A chat's input: `{"messages": [...]}` with the system instructions (GenAI parts or text)
/// first, unless the messages already start with a system message; `tools` when given.
pub(crate) fn chat_input(
    system: Option<&Value>,
    messages: Option<&Value>,
    tools: Option<&Value>,
) -> Option<Value> {
    let mut list = messages
        .map(|m| chat_messages(m, "user"))
        .unwrap_or_default();
    if let Some(system) = system {
        let has_system = list.first().is_some_and(|m| m["role"] == "system");
        if !has_system {
            let content = match system {
                Value::Array(parts) => {
                    let text: Vec<String> = parts
                        .iter()
                        .map(|p| p.get("content").map(as_text).unwrap_or_else(|| as_text(p)))
                        .collect();
                    Value::from(text.join("\n"))
                }
                other => Value::from(as_text(other)),
            };
            list.insert(0, json!({"role": "system", "content": content}));
        }
    }
    if list.is_empty() && tools.is_none() {
        return None;
    }
    let mut input = Map::new();
    input.insert("messages".into(), Value::Array(list));
    if let Some(tools) = tools {
        input.insert("tools".into(), tools.clone());
    }
    Some(Value::Object(input))
}

/// A chat's output: `{"choices": [{"index", "message", "finish_reason"}]}`, as a chat
/// completion response has them.
pub(crate) fn chat_output(messages: &Value) -> Option<Value> {
    let list = chat_messages(messages, "assistant");
    if list.is_empty() {
        return None;
    }
    let choices: Vec<Value> = list
        .into_iter()
        .enumerate()
        .map(|(index, mut message)| {
            let finish = message
                .as_object_mut()
                .and_then(|m| m.remove("finish_reason"));
            let mut choice = json!({ "index": index, "message": message });
            if let Some(f) = finish {
                choice["finish_reason"] = f;
            }
            choice
        })
        .collect();
    Some(json!({ "choices": choices }))
}

/// `error_info` for a failed call: `kind` (`error.type`, an exception or error type name) is
/// the exception type, `message` the message (the kind when there is none).
pub(crate) fn error_info(kind: Option<&str>, message: Option<&str>) -> ErrorInfo {
    let kind = kind.map(str::trim).filter(|k| !k.is_empty());
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    match (kind, message) {
        (Some(k), Some(m)) => ErrorInfo::new(k, m),
        (Some(k), None) => ErrorInfo::new(k, format!("the call failed: error.type = {k}")),
        (None, Some(m)) => ErrorInfo::new("error", m),
        (None, None) => ErrorInfo::new("error", "the call failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_get_opik_names() {
        for (otel, opik) in [
            ("gcp.gemini", "google_ai"),
            ("gcp.vertex_ai", "google_vertexai"),
            ("aws.bedrock", "bedrock"),
            ("mistral_ai", "mistral"),
            ("x_ai", "xai"),
            ("azure.ai.openai", "azure"),
            (" openai ", "openai"),
            ("groq", "groq"),
            ("Anthropic", "Anthropic"),
        ] {
            assert_eq!(opik_provider(otel), opik, "{otel}");
        }
    }

    #[test]
    fn the_answering_model_wins() {
        assert_eq!(
            choose_model(Some("gpt-4o-mini"), Some("gpt-4o-mini-2024-07-18")),
            ModelChoice {
                model: Some("gpt-4o-mini-2024-07-18".into()),
                requested: Some("gpt-4o-mini".into()),
            }
        );
        assert_eq!(
            choose_model(Some("gpt-4o-mini"), Some("gpt-4o-mini")).requested,
            None
        );
        assert_eq!(
            choose_model(Some("gpt-4o-mini"), Some("")).model.as_deref(),
            Some("gpt-4o-mini")
        );
        assert_eq!(choose_model(None, None), ModelChoice::default());
    }

    fn usage(t: Tokens, provider: &str) -> Value {
        serde_json::to_value(
            t.usage(Some(provider))
                .unwrap()
                .to_opik_usage(Some(provider)),
        )
        .unwrap()
    }

    const CACHED: Tokens = Tokens {
        input: Some(100),
        output: Some(30),
        cache_read: Some(60),
        cache_creation: Some(10),
        reasoning: Some(12),
        tool_use_prompt: None,
    };

    #[test]
    fn usage_has_the_keys_opik_prices_for_each_provider() {
        let openai = usage(CACHED, "openai");
        assert_eq!(openai["prompt_tokens"], 100);
        assert_eq!(openai["completion_tokens"], 30);
        assert_eq!(openai["total_tokens"], 130);
        assert_eq!(
            openai["original_usage.prompt_tokens_details.cached_tokens"],
            60
        );
        assert_eq!(
            openai["original_usage.completion_tokens_details.reasoning_tokens"],
            12
        );

        let anthropic = usage(CACHED, "anthropic");
        assert_eq!(
            anthropic["original_usage.input_tokens"], 30,
            "uncached input"
        );
        assert_eq!(anthropic["original_usage.cache_read_input_tokens"], 60);
        assert_eq!(anthropic["original_usage.cache_creation_input_tokens"], 10);
        assert_eq!(
            anthropic["prompt_tokens"], 100,
            "all input, as OpenTelemetry counts it"
        );
        assert_eq!(anthropic["total_tokens"], 130);

        let bedrock = usage(CACHED, "bedrock");
        assert_eq!(bedrock["original_usage.inputTokens"], 30);
        assert_eq!(bedrock["original_usage.cacheReadInputTokens"], 60);
        assert_eq!(bedrock["prompt_tokens"], 100);

        let google = usage(CACHED, "google_ai");
        assert_eq!(google["original_usage.cached_content_token_count"], 60);
        assert_eq!(google["original_usage.thoughts_token_count"], 12);
        assert_eq!(google["prompt_tokens"], 100);
        assert_eq!(google["completion_tokens"], 30, "thoughts included");
        assert_eq!(google["total_tokens"], 130);

        let only_input = Tokens {
            input: Some(7),
            ..Tokens::default()
        };
        let embeddings = usage(only_input, "openai");
        assert_eq!(embeddings["prompt_tokens"], 7);
        assert_eq!(embeddings["total_tokens"], 7);
        assert!(Tokens::default().usage(None).is_none());
    }

    #[test]
    fn genai_messages_become_openai_chat_messages() {
        let input = json!([
            {"role": "user", "parts": [{"type": "text", "content": "One tip?"}]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "c1", "name": "metronome", "arguments": {"bpm": 70}}]},
            {"role": "user", "parts": [
                {"type": "tool_call_response", "id": "c1", "response": {"ok": true}}]},
        ]);
        let system = json!([{"type": "text", "content": "Be brief."}]);
        assert_eq!(
            chat_input(Some(&system), Some(&input), None).unwrap(),
            json!({"messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "One tip?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "metronome", "arguments": "{\"bpm\":70}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "{\"ok\":true}"},
            ]})
        );
        let output = json!([{"role": "assistant", "finish_reason": "stop",
                             "parts": [{"type": "reasoning", "content": "hmm"},
                                       {"type": "text", "content": "Slow down."}]}]);
        assert_eq!(
            chat_output(&output).unwrap(),
            json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "Slow down.", "reasoning_content": "hmm"}}]})
        );
        // A plain prompt text, and a system prompt already in the messages.
        assert_eq!(
            chat_input(Some(&json!("sys")), Some(&json!("One tip?")), None).unwrap(),
            json!({"messages": [{"role": "system", "content": "sys"},
                                {"role": "user", "content": "One tip?"}]})
        );
        let with_system = json!([{"role": "system", "parts": [{"type": "text", "content": "S"}]}]);
        assert_eq!(
            chat_input(Some(&json!("S")), Some(&with_system), None).unwrap()["messages"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn errors_name_their_type() {
        let e = error_info(Some("429"), None);
        assert_eq!(e.exception_type, "429");
        assert!(e.message.unwrap().contains("429"));
        assert_eq!(error_info(None, Some("boom")).exception_type, "error");
    }
}
