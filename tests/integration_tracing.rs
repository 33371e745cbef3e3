//! Issue "integrations": with `OpikLayer` installed, `tracing` spans opened inside a tracked call
//! become Opik spans of its trace, nested as in `tracing`; spans with OpenTelemetry GenAI fields
//! (as rig and genai emit them) become `llm`, `tool` or `general` spans by their operation, with
//! model, provider, usage, messages and errors; langchain-rust's own spans (`llm.generate`...,
//! no GenAI fields) are mapped by their field names. Spans outside any tracked call, of none of
//! these kinds, are not recorded. The spans here are written by hand, field for field as those
//! crates write them; `tests/real-crates` drives rig and genai themselves.

mod common;

use opik::integrations::OpikLayer;
use opik::testing::{record, record_async};
use serde_json::json;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

fn subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(OpikLayer::new())
}

/// A chat call the way OpenTelemetry GenAI instrumentation records it: model and provider at
/// start, usage (declared empty) once the answer arrived.
fn chat_completion(prompt: &str) -> String {
    let span = tracing::info_span!(
        "chat gpt-4o-mini",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = "gpt-4o-mini",
        gen_ai.provider.name = "openai",
        gen_ai.input.messages = %json!([{"role": "user", "content": prompt}]),
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.output.messages = Empty,
    );
    let _entered = span.enter();
    let answer = format!("practise {prompt} at 70 bpm");
    {
        // A nested step of the framework (a tool call, a retry...).
        let _tool = tracing::info_span!("metronome-tool", bpm = 70).entered();
    }
    span.record("gen_ai.usage.input_tokens", 21);
    span.record("gen_ai.usage.output_tokens", 9);
    span.record(
        "gen_ai.output.messages",
        json!([{"role": "assistant", "content": answer}])
            .to_string()
            .as_str(),
    );
    answer
}

#[opik::track(name = "coach")]
fn coach(question: &str) -> String {
    chat_completion(question)
}

#[test]
fn genai_spans_become_llm_spans_nested_under_the_tracked_call() {
    let recorded = tracing::subscriber::with_default(subscriber(), || {
        record(|| {
            coach("the A minor scale");
        })
    });
    assert_eq!(recorded.traces().len(), 1, "{}", recorded.tree());
    let chat = recorded.span("chat gpt-4o-mini");
    assert_eq!(chat["type"], "llm");
    assert_eq!(chat["model"], "gpt-4o-mini");
    assert_eq!(chat["provider"], "openai");
    assert_eq!(chat["usage"]["prompt_tokens"], 21);
    assert_eq!(chat["usage"]["completion_tokens"], 9);
    assert_eq!(chat["usage"]["total_tokens"], 30);
    assert_eq!(
        chat["input"],
        json!({"messages": [{"role": "user", "content": "the A minor scale"}]})
    );
    assert_eq!(
        chat["output"],
        json!({"choices": [{"index": 0, "message":
            {"role": "assistant", "content": "practise the A minor scale at 70 bpm"}}]})
    );
    assert_eq!(chat["metadata"]["gen_ai.operation.name"], "chat");
    assert_eq!(chat["metadata"]["created_from"], "tracing");
    assert_eq!(recorded.parent(chat).unwrap()["name"], "coach");
    let tool = recorded.span("metronome-tool");
    assert_eq!(tool["type"], "general");
    assert_eq!(tool["input"], json!({"bpm": 70}));
    assert_eq!(recorded.parent(tool).unwrap()["id"], chat["id"]);
}

#[opik::track(name = "planner")]
async fn planner() -> u32 {
    // rig / older semantic conventions: `gen_ai.system`, `*_tokens` usage names, `otel.name`.
    let span = tracing::info_span!(
        "completion",
        otel.name = "rig completion",
        gen_ai.system = "anthropic",
        gen_ai.request.model = "claude-3-5-haiku",
        gen_ai.usage.prompt_tokens = Empty,
        gen_ai.usage.completion_tokens = Empty,
    );
    async {
        tokio::task::yield_now().await;
        tracing::Span::current().record("gen_ai.usage.prompt_tokens", 5);
        tracing::Span::current().record("gen_ai.usage.completion_tokens", 7);
    }
    .instrument(span)
    .await;
    let failing = tracing::info_span!("chat", gen_ai.request.model = "gpt-4o-mini");
    async {
        tracing::error!("request timed out after 20s");
    }
    .instrument(failing)
    .await;
    1
}

#[test]
fn instrumented_futures_older_field_names_and_errors() {
    let _default = tracing::subscriber::set_default(subscriber());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorded = rt.block_on(record_async(async {
        planner().await;
    }));
    let rig = recorded.span("rig completion");
    assert_eq!(rig["type"], "llm");
    assert_eq!(rig["provider"], "anthropic");
    assert_eq!(rig["model"], "claude-3-5-haiku");
    assert_eq!(rig["usage"]["total_tokens"], 12);
    assert_eq!(recorded.parent(rig).unwrap()["name"], "planner");
    let chat = recorded.span("chat");
    assert_eq!(chat["error_info"]["message"], "request timed out after 20s");
    assert!(recorded.span("planner").get("error_info").is_none());
}

#[test]
fn plain_spans_outside_tracked_calls_are_left_alone_and_genai_spans_start_a_trace() {
    let recorded = tracing::subscriber::with_default(subscriber(), || {
        record(|| {
            let _http = tracing::info_span!("http-request", path = "/health").entered();
            chat_completion("E major");
        })
    });
    assert_eq!(recorded.traces().len(), 1, "{}", recorded.tree());
    assert!(recorded.spans_named("http-request").is_empty());
    let chat = recorded.span("chat gpt-4o-mini");
    assert!(
        chat.get("parent_span_id").is_none(),
        "the llm span is the root"
    );
    assert_eq!(recorded.children(chat).len(), 1);
}

/// The spans the layer records are valid Opik requests (checked by the fake server).
#[test]
fn recorded_spans_are_valid_opik_requests() {
    let server = fake_opik::FakeOpik::start();
    let client = common::client_for(&server);
    tracing::subscriber::with_default(subscriber(), || {
        client.run(|| {
            coach("C major");
        });
    });
    assert!(client.flush(std::time::Duration::from_secs(5)).completed);
    server.assert_valid();
    let spans = server.spans();
    assert_eq!(spans.len(), 3, "coach, the chat span and the tool span");
    assert_eq!(
        common::span(&spans, "chat gpt-4o-mini")["usage"]["total_tokens"],
        30
    );
}

#[opik::track(name = "fetch")]
fn fetch() {
    let _driver = tracing::debug_span!("hyper-connection").entered();
    let _query = tracing::info_span!("query", table = "scales").entered();
}

#[test]
fn spans_below_info_are_left_out_unless_asked_for() {
    let recorded = tracing::subscriber::with_default(subscriber(), || record(fetch));
    assert!(recorded.spans_named("hyper-connection").is_empty());
    // The INFO span inside the skipped DEBUG one nests under the tracked call.
    assert_eq!(
        recorded.parent(recorded.span("query")).unwrap()["name"],
        "fetch"
    );

    let verbose =
        tracing_subscriber::registry().with(OpikLayer::new().with_level(tracing::Level::TRACE));
    let recorded = tracing::subscriber::with_default(verbose, || record(fetch));
    let driver = recorded.span("hyper-connection");
    assert_eq!(
        recorded.parent(recorded.span("query")).unwrap()["id"],
        driver["id"]
    );
}

#[derive(Debug)]
struct Offline;

impl std::fmt::Display for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tuner is offline")
    }
}

impl std::error::Error for Offline {}

#[tracing::instrument(err)]
fn tune(string: u8) -> Result<u8, Offline> {
    if string > 6 {
        Err(Offline)
    } else {
        Ok(string)
    }
}

#[opik::track(name = "setup")]
fn setup() {
    tune(2).ok();
    tune(7).ok();
}

#[test]
fn instrument_err_events_are_the_span_error() {
    let recorded = tracing::subscriber::with_default(subscriber(), || record(setup));
    let tunes = recorded.spans_named("tune");
    assert_eq!(tunes.len(), 2, "{}", recorded.tree());
    let failed: Vec<_> = tunes
        .iter()
        .filter(|t| t.get("error_info").is_some())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["input"], json!({"string": 7}));
    assert_eq!(failed[0]["error_info"]["message"], "the tuner is offline");
}

/// An agent run the OpenTelemetry way: the agent span carries the total of its turns, a tool
/// span its arguments and result.
fn agent_run() {
    let agent = tracing::info_span!(
        "invoke_agent",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "coach",
        gen_ai.prompt = "One tip?",
        gen_ai.completion = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
    );
    let _a = agent.enter();
    {
        let chat = tracing::info_span!(
            "chat",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "anthropic",
            gen_ai.request.model = "claude-3-5-haiku",
            gen_ai.response.model = "claude-3-5-haiku-20241022",
            gen_ai.usage.input_tokens = 100,
            gen_ai.usage.output_tokens = 20,
            gen_ai.usage.cache_read.input_tokens = 60,
            gen_ai.usage.cache_creation.input_tokens = 10,
        );
        let _c = chat.enter();
    }
    {
        let tool = tracing::info_span!(
            "execute_tool",
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = "metronome",
            gen_ai.tool.call.arguments = r#"{"scale":"A minor"}"#,
            gen_ai.tool.call.result = r#"{"bpm":70}"#,
        );
        let _t = tool.enter();
    }
    agent.record("gen_ai.completion", "Play it at 70 bpm.");
    agent.record("gen_ai.usage.input_tokens", 100);
    agent.record("gen_ai.usage.output_tokens", 20);
}

#[test]
fn operations_decide_span_types_and_usage_is_counted_once() {
    let recorded = tracing::subscriber::with_default(subscriber(), || record(agent_run));
    let agent = recorded.span("invoke_agent coach");
    assert_eq!(agent["type"], "general");
    assert!(agent.get("usage").is_none());
    assert_eq!(agent["metadata"]["gen_ai.usage.input_tokens"], 100);
    assert_eq!(
        agent["input"],
        json!({"messages": [{"role": "user", "content": "One tip?"}]})
    );
    assert_eq!(
        agent["output"]["choices"][0]["message"]["content"],
        "Play it at 70 bpm."
    );
    let chat = recorded.span("chat claude-3-5-haiku");
    assert_eq!(chat["type"], "llm");
    assert_eq!(chat["model"], "claude-3-5-haiku-20241022");
    assert_eq!(chat["metadata"]["request_model"], "claude-3-5-haiku");
    // Anthropic's own shape: input without the cache, the cache apart, as Opik prices it.
    let usage = &chat["usage"];
    assert_eq!(usage["original_usage.input_tokens"], 30);
    assert_eq!(usage["original_usage.cache_read_input_tokens"], 60);
    assert_eq!(usage["original_usage.cache_creation_input_tokens"], 10);
    assert_eq!(usage["prompt_tokens"], 100);
    assert_eq!(usage["total_tokens"], 120);
    let tool = recorded.span("execute_tool metronome");
    assert_eq!(tool["type"], "tool");
    assert_eq!(tool["input"], json!({"scale": "A minor"}));
    assert_eq!(tool["output"], json!({"bpm": 70}));
    for span in [chat, tool] {
        assert_eq!(recorded.parent(span).unwrap()["id"], agent["id"]);
    }
}

#[test]
fn opentelemetry_provider_names_and_errors_become_opik_names() {
    let recorded = tracing::subscriber::with_default(subscriber(), || {
        record(|| {
            let gemini = tracing::info_span!(
                "genai.chat",
                otel.name = "chat gemini-2.0-flash",
                otel.status_code = Empty,
                error.type = Empty,
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "gcp.gemini",
                gen_ai.request.model = "gemini-2.0-flash",
                gen_ai.usage.input_tokens = 100,
                gen_ai.usage.output_tokens = 30,
                gen_ai.usage.cache_read.input_tokens = 40,
                gen_ai.usage.reasoning.output_tokens = 12,
            );
            drop(gemini);
            let bedrock = tracing::info_span!(
                "genai.chat",
                otel.name = "chat claude-on-bedrock",
                otel.status_code = Empty,
                error.type = Empty,
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "aws.bedrock",
                gen_ai.request.model = "anthropic.claude-3-5-haiku-20241022-v1:0",
            );
            bedrock.record("otel.status_code", "error");
            bedrock.record("error.type", "429");
        })
    });
    let gemini = recorded.span("chat gemini-2.0-flash");
    assert_eq!(gemini["provider"], "google_ai");
    assert_eq!(gemini["metadata"]["gen_ai.provider.name"], "gcp.gemini");
    assert_eq!(
        gemini["usage"]["original_usage.cached_content_token_count"],
        40
    );
    assert_eq!(gemini["usage"]["original_usage.thoughts_token_count"], 12);
    assert_eq!(gemini["usage"]["completion_tokens"], 30);
    assert!(gemini.get("error_info").is_none());
    let bedrock = recorded.span("chat claude-on-bedrock");
    assert_eq!(bedrock["provider"], "bedrock");
    assert_eq!(bedrock["error_info"]["exception_type"], "429");
    assert_ne!(bedrock["error_info"]["message"], "otel.status_code = ERROR");
}

/// langchain-rust 7's spans, as its `observability` module declares them (its own field names,
/// no `gen_ai.*`), under its target.
fn langchain_agent() {
    let agent = tracing::info_span!(
        target: "langchain_rust::agent::executor",
        "agent.run",
        max_iterations = 10,
        steps = Empty,
        total_tokens = Empty,
        error = Empty,
    );
    let _a = agent.enter();
    {
        let llm = tracing::info_span!(
            target: "langchain_rust::observability",
            "llm.generate",
            provider = "openai",
            model = "gpt-4o-mini",
            stream = false,
            prompt_tokens = Empty,
            completion_tokens = Empty,
            total_tokens = Empty,
            tool_calls = Empty,
            error = Empty,
        );
        llm.record("prompt_tokens", 21);
        llm.record("completion_tokens", 9);
        llm.record("total_tokens", 30);
    }
    {
        let tool = tracing::info_span!(
            target: "langchain_rust::agent::executor",
            "tool.call",
            tool = "metronome",
            error = Empty,
        );
        tool.record("error", "metronome unplugged");
    }
    {
        let embed = tracing::info_span!(
            target: "langchain_rust::observability",
            "embed.query",
            provider = "mistralai",
            model = "mistral-embed",
            count = 1,
            error = Empty,
        );
        drop(embed);
    }
    agent.record("steps", 1);
    agent.record("total_tokens", 30);
}

#[test]
fn langchain_rust_spans_are_mapped_by_their_own_field_names() {
    // Outside any tracked call: its spans start a trace, as GenAI spans do.
    let recorded = tracing::subscriber::with_default(subscriber(), || record(langchain_agent));
    assert_eq!(recorded.traces().len(), 1, "{}", recorded.tree());
    let agent = recorded.span("agent.run");
    assert_eq!(agent["type"], "general");
    assert!(agent.get("usage").is_none(), "its total is its turns'");
    assert_eq!(agent["metadata"]["total_tokens"], 30);
    assert_eq!(agent["metadata"]["steps"], 1);
    let llm = recorded.span("llm.generate");
    assert_eq!(llm["type"], "llm");
    assert_eq!(llm["model"], "gpt-4o-mini");
    assert_eq!(llm["provider"], "openai");
    assert_eq!(llm["usage"]["prompt_tokens"], 21);
    assert_eq!(llm["usage"]["completion_tokens"], 9);
    assert_eq!(llm["usage"]["total_tokens"], 30);
    assert_eq!(llm["metadata"]["stream"], false);
    assert!(llm.get("input").is_none(), "no fields as input");
    assert_eq!(recorded.parent(llm).unwrap()["id"], agent["id"]);
    let tool = recorded.span("tool.call");
    assert_eq!(tool["type"], "tool");
    assert_eq!(tool["metadata"]["tool"], "metronome");
    assert_eq!(tool["error_info"]["message"], "metronome unplugged");
    let embed = recorded.span("embed.query");
    assert_eq!(embed["type"], "llm");
    assert_eq!(embed["provider"], "mistral");
    assert_eq!(embed["model"], "mistral-embed");
}
