//! Issue "integrations": with `OpikLayer` installed, `tracing` spans opened inside a tracked call
//! become Opik spans of its trace, nested as in `tracing`; spans with OpenTelemetry GenAI fields
//! (as rig, genai and langchain-rust emit them) become `llm` spans with model, provider and
//! usage. Spans outside any tracked call, without GenAI fields, are not recorded.

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
        json!({"messages": [{"role": "assistant", "content": "practise the A minor scale at 70 bpm"}]})
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
