//! What a closed `tracing` span becomes: its fields mapped to an Opik span's type, model,
//! provider, usage, messages and errors (GenAI conventions and langchain-rust's own names).

use super::Kind;
use crate::integrations::gen_ai::{self, Tokens};
use crate::{ErrorInfo, SpanType, SpanUpdate};
use serde_json::{Map, Value};

/// What the span's end hands to its recorder.
pub(super) struct End {
    pub(super) kind: Kind,
    pub(super) span_type: SpanType,
    pub(super) name: &'static str,
    pub(super) reports_errors: bool,
    pub(super) fields: Map<String, Value>,
    pub(super) event_error: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The error a span reports through the fields every kind may carry (`error`, OpenTelemetry's
/// status and exception fields), else through an `ERROR` event.
fn reported_error(f: &Map<String, Value>, event_error: Option<String>) -> Option<ErrorInfo> {
    let get = |k: &str| f.get(k).and_then(text).filter(|s| !s.is_empty());
    let status_error = get("otel.status_code").is_some_and(|s| s.eq_ignore_ascii_case("error"));
    let kind = get("error.type").or_else(|| get("exception.type"));
    let message = get("otel.status_message")
        .or_else(|| get("exception.message"))
        .or_else(|| get("error"));
    if status_error || kind.is_some() || message.is_some() {
        let message = message.or(event_error);
        let mut info = gen_ai::error_info(kind.as_deref(), message.as_deref());
        if let Some(trace) = get("exception.stacktrace") {
            info = info.with_traceback(trace);
        }
        return Some(info);
    }
    event_error.map(|m| gen_ai::error_info(None, Some(&m)))
}

/// Fields every kind reads the same way: the name and the error fields.
fn is_common_field(name: &str) -> bool {
    matches!(
        name,
        "otel.name"
            // rig's marker for a span its model calls may take over, not data.
            | "rig.completion_parent"
            | "otel.kind"
            | "otel.status_code"
            | "otel.status_message"
            | "error"
            | "error.type"
            | "exception.type"
            | "exception.message"
            | "exception.stacktrace"
    )
}

pub(super) fn apply(end: End, s: &mut SpanUpdate) {
    let error = reported_error(&end.fields, end.event_error.clone());
    let mut name = end.fields.get("otel.name").and_then(text);
    let mut metadata = Map::new();
    match end.kind {
        Kind::GenAi => apply_gen_ai(&end, s, &mut name, &mut metadata, error),
        Kind::LangChain => apply_langchain(&end, s, &mut metadata, error),
        Kind::Plain => {
            let input: Map<String, Value> = end
                .fields
                .iter()
                .filter(|(k, _)| !is_common_field(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !input.is_empty() {
                s.input(&input);
            }
            if let Some(e) = error {
                s.error_info(e);
            }
        }
    }
    if let Some(name) = name {
        s.name(name);
    }
    metadata.insert("created_from".to_owned(), Value::from("tracing"));
    s.metadata(&metadata);
}

/// The content fields of GenAI spans, read into input and output.
const CONTENT_FIELDS: &[&str] = &[
    "gen_ai.system_instructions",
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "gen_ai.tool.definitions",
    "gen_ai.output.messages",
    "gen_ai.completion",
];

fn apply_gen_ai(
    end: &End,
    s: &mut SpanUpdate,
    name: &mut Option<String>,
    metadata: &mut Map<String, Value>,
    mut error: Option<ErrorInfo>,
) {
    let f = &end.fields;
    let get = |k: &str| f.get(k).and_then(text).filter(|v| !v.is_empty());
    let parsed = |k: &str| f.get(k).cloned().map(gen_ai::parsed);
    let operation = get("gen_ai.operation.name");
    let mut consumed: Vec<&str> = Vec::new();

    match end.span_type {
        SpanType::Tool => {
            if let Some(args) = parsed("gen_ai.tool.call.arguments") {
                s.input(&args);
            }
            if let Some(result) = parsed("gen_ai.tool.call.result") {
                s.output(&result);
            }
            consumed.extend(["gen_ai.tool.call.arguments", "gen_ai.tool.call.result"]);
            if error.is_none() && get("gen_ai.tool.call.outcome").as_deref() == Some("error") {
                let kind = get("gen_ai.tool.error.type").unwrap_or_else(|| "tool_error".into());
                let message = get("gen_ai.tool.call.result")
                    .unwrap_or_else(|| "the tool call failed".to_owned());
                error = Some(gen_ai::error_info(Some(&kind), Some(&message)));
            }
        }
        SpanType::Llm | SpanType::General | SpanType::Guardrail => {
            let system = parsed("gen_ai.system_instructions");
            let messages = parsed("gen_ai.input.messages").or_else(|| parsed("gen_ai.prompt"));
            let tools = parsed("gen_ai.tool.definitions");
            if let Some(input) =
                gen_ai::chat_input(system.as_ref(), messages.as_ref(), tools.as_ref())
            {
                s.input(&input);
            }
            let answer = parsed("gen_ai.output.messages").or_else(|| parsed("gen_ai.completion"));
            if let Some(output) = answer.as_ref().and_then(gen_ai::chat_output) {
                s.output(&output);
            }
            consumed.extend(CONTENT_FIELDS);
        }
    }

    if end.span_type == SpanType::Llm {
        let choice = gen_ai::choose_model(
            get("gen_ai.request.model").as_deref(),
            get("gen_ai.response.model").as_deref(),
        );
        let raw_provider = get("gen_ai.provider.name").or_else(|| get("gen_ai.system"));
        let provider = raw_provider.as_deref().map(gen_ai::opik_provider);
        let mut tokens = Tokens::default();
        for (k, v) in f {
            if let (Some(key), Some(n)) = (k.strip_prefix("gen_ai.usage."), int(v)) {
                if tokens.set(key, n) {
                    consumed.push(k);
                }
            }
        }
        // A model call that reports no errors (rig's spans) and ended without any response.
        let answered = get("gen_ai.response.id").is_some()
            || get("gen_ai.response.model").is_some()
            || !tokens.is_empty()
            || f.contains_key("gen_ai.output.messages");
        let completion = matches!(
            operation.as_deref(),
            Some("chat" | "text_completion" | "generate_content")
        );
        if error.is_none() && completion && !end.reports_errors && !answered {
            error = Some(ErrorInfo::new(
                "no_response",
                "the model call ended without a response; the error, if any, went to the caller",
            ));
        }
        if let Some(model) = &choice.model {
            s.model(model.clone());
        }
        if let Some(requested) = choice.requested {
            metadata.insert("request_model".to_owned(), Value::from(requested));
        }
        consumed.extend(["gen_ai.request.model", "gen_ai.response.model"]);
        if let Some(p) = &provider {
            s.provider(p.clone());
            if raw_provider.as_deref() != Some(p.as_str()) {
                metadata.insert(
                    "gen_ai.provider.name".into(),
                    Value::from(raw_provider.clone()),
                );
            }
        }
        consumed.extend(["gen_ai.provider.name", "gen_ai.system"]);
        if let Some(usage) = tokens.usage(provider.as_deref()) {
            s.usage(usage);
        }
        if name.is_none() && operation.as_deref() == Some(end.name) {
            if let Some(model) = get("gen_ai.request.model").or(choice.model) {
                *name = Some(format!("{} {model}", end.name));
            }
        }
    } else if name.is_none() && operation.as_deref() == Some(end.name) {
        let target = get("gen_ai.tool.name")
            .or_else(|| get("gen_ai.agent.name"))
            .or_else(|| get("gen_ai.workflow.name"));
        if let Some(target) = target {
            *name = Some(format!("{} {target}", end.name));
        }
    }

    for (k, v) in f {
        if is_common_field(k) || consumed.contains(&k.as_str()) || metadata.contains_key(k) {
            continue;
        }
        metadata.insert(k.clone(), gen_ai::parsed(v.clone()));
    }
    if let Some(e) = error {
        s.error_info(e);
    }
}

fn apply_langchain(
    end: &End,
    s: &mut SpanUpdate,
    metadata: &mut Map<String, Value>,
    error: Option<ErrorInfo>,
) {
    let f = &end.fields;
    let get = |k: &str| f.get(k).and_then(text).filter(|v| !v.is_empty());
    let mut consumed: Vec<&str> = Vec::new();
    if end.span_type == SpanType::Llm {
        let provider = get("provider").map(|p| gen_ai::opik_provider(&p));
        if let Some(model) = get("model") {
            s.model(model);
        }
        if let Some(p) = &provider {
            s.provider(p.clone());
        }
        let tokens = Tokens {
            input: f.get("prompt_tokens").and_then(int),
            output: f.get("completion_tokens").and_then(int),
            ..Tokens::default()
        };
        if let Some(usage) = tokens.usage(provider.as_deref()) {
            s.usage(usage);
        }
        consumed.extend([
            "provider",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
        ]);
    }
    for (k, v) in f {
        if !is_common_field(k) && !consumed.contains(&k.as_str()) {
            metadata.insert(k.clone(), v.clone());
        }
    }
    if let Some(e) = error {
        s.error_info(e);
    }
}
