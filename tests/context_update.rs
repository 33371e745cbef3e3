//! Issue "Everything Opik can hold": `update_current_span` / `update_current_trace`, snapshots,
//! usage normalization and feedback scores, checked on the wire against the fake server. The
//! scenario mirrors the Python SDK's `d_update_context` capture.

mod common;

use common::{client_for, span, TEST_PROJECT};
use fake_opik::FakeOpik;
use serde_json::{json, Value};
use std::time::Duration;

#[opik::track(type = "llm", name = "chat_completion")]
fn call_llm(prompt: &str) -> String {
    let updated = opik::update_current_span(|s| {
        s.model("gpt-4o-mini")
            .provider("openai")
            .usage(json!({"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}))
            .total_cost(0.00123)
            .metadata(&json!({"temperature": 0.1}))
            .tags(["llm-call"]);
        s.feedback_score("span_quality", 0.9).reason("good");
    });
    assert!(updated, "there is a current span");
    format!("the answer to {prompt}")
}

#[opik::track(type = "llm")]
fn call_anthropic(_prompt: &str) -> String {
    opik::update_current_span(|s| {
        s.model("claude-3-5-sonnet")
            .provider("anthropic")
            .usage(json!({
                "input_tokens": 10, "output_tokens": 20,
                "cache_read_input_tokens": 5, "cache_creation_input_tokens": 0
            }));
    });
    "anthropic answer".into()
}

#[opik::track(type = "llm")]
fn call_unknown_provider(_prompt: &str) -> String {
    opik::update_current_span(|s| {
        s.model("my-model")
            .provider("my-own-provider")
            .usage(json!({
                "prompt_tokens": 3, "completion_tokens": 4, "weird": {"nested": 1}
            }));
    });
    "x".into()
}

#[opik::track(type = "llm")]
fn call_typed_usage() -> u32 {
    opik::update_current_span(|s| {
        s.usage(opik::Usage::new(7, 8))
            .error_info(opik::ErrorInfo::new("RateLimited", "retried twice"));
    });
    1
}

#[opik::track(tags = ["conversation"])]
fn handle_turn(user_msg: &str, turn: u32) -> String {
    assert!(opik::update_current_trace(|t| {
        t.thread_id("thread-abc-123")
            .tags(["from-update-trace"])
            .metadata(&json!({"customer": "acme", "nested": {"a": 1}}));
        t.feedback_score("trace_quality", 1.0).category_name("good");
    }));
    // A second update deep-merges metadata and does not repeat tags.
    opik::update_current_trace(|t| {
        t.metadata(&json!({"nested": {"b": 2}}))
            .tags(["from-update-trace", "second"]);
    });
    let a = call_llm(user_msg);
    call_anthropic(user_msg);
    call_unknown_provider(user_msg);
    call_typed_usage();
    let span = opik::current_span_data().expect("a current span");
    let trace = opik::current_trace_data().expect("a current trace");
    assert_eq!(span.name, "handle_turn");
    assert_eq!(span.trace_id, trace.id);
    assert_eq!(trace.name, "handle_turn");
    assert_eq!(trace.thread_id.as_deref(), Some("thread-abc-123"));
    assert_eq!(trace.project_name, TEST_PROJECT);
    // An output set explicitly wins over the return value.
    opik::update_current_span(|s| {
        s.output(&json!({"final": "explicit span output"}));
    });
    opik::update_current_trace(|t| {
        t.output(&json!({"final": "explicit trace output"}))
            .name("renamed-trace");
    });
    assert_eq!(opik::current_trace_data().unwrap().name, "renamed-trace");
    format!("turn {turn}: {a}")
}

fn usage_of(spans: &[Value], name: &str) -> Value {
    span(spans, name)["usage"].clone()
}

#[test]
fn update_context_matches_the_python_sdk_on_the_wire() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let out = client.run(|| handle_turn("hi", 1));
    assert_eq!(out, "turn 1: the answer to hi");
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();

    let traces = server.traces();
    let spans = server.spans();
    assert_eq!(traces.len(), 1, "{traces:#?}");
    assert_eq!(spans.len(), 5, "{spans:#?}");
    let trace = &traces[0];
    assert_eq!(trace["name"], "renamed-trace");
    assert_eq!(trace["thread_id"], "thread-abc-123");
    assert_eq!(trace["output"], json!({"final": "explicit trace output"}));
    assert_eq!(
        trace["metadata"],
        json!({"customer": "acme", "nested": {"a": 1, "b": 2}})
    );
    assert_eq!(
        trace["tags"],
        json!(["conversation", "from-update-trace", "second"])
    );

    let root = span(&spans, "handle_turn");
    assert_eq!(root["output"], json!({"final": "explicit span output"}));
    assert_eq!(
        root["tags"],
        json!(["conversation"]),
        "trace tags stay on the trace"
    );
    assert!(root.get("metadata").is_none());

    let llm = span(&spans, "chat_completion");
    assert_eq!(llm["type"], "llm");
    assert_eq!(llm["model"], "gpt-4o-mini");
    assert_eq!(llm["provider"], "openai");
    assert_eq!(llm["total_estimated_cost"], 0.00123);
    assert_eq!(llm["tags"], json!(["llm-call"]));
    assert_eq!(llm["output"], json!({"output": "the answer to hi"}));
    // As Python: the original usage is repeated in metadata when the span has metadata.
    assert_eq!(
        llm["metadata"],
        json!({"temperature": 0.1,
               "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}})
    );
    assert_eq!(
        usage_of(&spans, "chat_completion"),
        json!({
            "completion_tokens": 30, "prompt_tokens": 12, "total_tokens": 42,
            "original_usage.completion_tokens": 30, "original_usage.prompt_tokens": 12,
            "original_usage.total_tokens": 42
        })
    );
    assert_eq!(
        usage_of(&spans, "call_anthropic"),
        json!({
            "completion_tokens": 20, "prompt_tokens": 15, "total_tokens": 35,
            "original_usage.input_tokens": 10, "original_usage.output_tokens": 20,
            "original_usage.cache_creation_input_tokens": 0,
            "original_usage.cache_read_input_tokens": 5
        })
    );
    assert!(span(&spans, "call_anthropic").get("metadata").is_none());
    assert_eq!(
        usage_of(&spans, "call_unknown_provider"),
        json!({
            "completion_tokens": 4, "prompt_tokens": 3, "total_tokens": 7,
            "original_usage.prompt_tokens": 3, "original_usage.completion_tokens": 4,
            "original_usage.weird.nested": 1
        })
    );
    let typed = span(&spans, "call_typed_usage");
    assert_eq!(typed["usage"]["total_tokens"], 15);
    assert_eq!(typed["error_info"]["exception_type"], "RateLimited");
    assert_eq!(typed["output"], json!({"output": 1}));

    let span_scores = server.feedback_scores("/spans/feedback-scores");
    assert_eq!(
        span_scores,
        vec![json!({
            "id": llm["id"], "project_name": TEST_PROJECT, "name": "span_quality",
            "value": 0.9, "reason": "good", "source": "sdk"
        })]
    );
    let trace_scores = server.feedback_scores("/traces/feedback-scores");
    assert_eq!(
        trace_scores,
        vec![json!({
            "id": trace["id"], "project_name": TEST_PROJECT, "name": "trace_quality",
            "value": 1.0, "category_name": "good", "source": "sdk"
        })]
    );
}

#[opik::track]
fn with_bad_values() -> u32 {
    opik::update_current_span(|s| {
        s.tags(["", " padded ", "ok", &"x".repeat(101)])
            .total_cost(-1.0)
            .feedback_score("", 0.5);
        s.feedback_score("too-big", 2e9);
        s.feedback_score("fine", -3.0);
    });
    2
}

#[test]
fn invalid_tags_scores_and_costs_are_left_out_not_sent() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    assert_eq!(client.run(with_bad_values), 2);
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let spans = server.spans();
    let s = span(&spans, "with_bad_values");
    assert_eq!(s["tags"], json!(["ok"]));
    assert!(s.get("total_estimated_cost").is_none());
    let scores = server.feedback_scores("/spans/feedback-scores");
    assert_eq!(scores.len(), 1, "{scores:#?}");
    assert_eq!(scores[0]["name"], "fine");
}

#[test]
fn outside_a_span_the_context_api_is_a_no_op() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(|| {
        let mut ran = false;
        assert!(!opik::update_current_span(|_| ran = true));
        assert!(!opik::update_current_trace(|_| ran = true));
        assert!(!ran, "the closure does not run without a span");
        assert!(opik::current_span_data().is_none());
        assert!(opik::current_trace_data().is_none());
    });
    // And with no client at all (the SDK off).
    assert!(!opik::update_current_span(|s| {
        s.name("x");
    }));
    assert!(client.flush(Duration::from_secs(5)).completed);
    assert!(server.spans().is_empty());
}

#[opik::track]
async fn async_parent() -> u32 {
    let (a, b) = tokio::join!(async_child(1), async_child(2));
    opik::update_current_span(|s| {
        s.metadata_entry("children", &[a, b]);
    });
    a + b
}

#[opik::track]
async fn async_child(n: u32) -> u32 {
    tokio::task::yield_now().await;
    opik::update_current_span(|s| {
        s.name(format!("child-{n}")).input(&json!({"extra": n}));
    });
    n
}

#[tokio::test]
async fn join_siblings_update_their_own_spans() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    assert_eq!(client.scope(async_parent()).await, 3);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    let spans = server.spans();
    let parent = span(&spans, "async_parent");
    assert_eq!(parent["metadata"], json!({"children": [1, 2]}));
    for n in [1, 2] {
        let child = span(&spans, &format!("child-{n}"));
        assert_eq!(child["parent_span_id"], parent["id"]);
        // Input updates merge into the captured arguments.
        assert_eq!(child["input"], json!({"n": n, "extra": n}));
    }
}

#[opik::track]
fn trace_setters(question: &str) -> usize {
    opik::update_current_trace(|t| {
        t.input(&json!({"locale": "fr"}))
            .error_info(opik::ErrorInfo::new("Degraded", "fallback model used"))
            .tag("degraded");
        t.feedback_score("latency_ok", 0.0)
            .reason("slow")
            .category_name("bad");
    });
    opik::update_current_span(|s| {
        s.name("renamed-span");
        s.score(opik::Score::new("s", 1.0).category_name("c"));
    });
    question.len()
}

#[test]
fn trace_input_error_info_and_span_rename_reach_the_wire() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    assert_eq!(client.run(|| trace_setters("why?")), 4);
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let trace = &server.traces()[0];
    // The trace was named by its root call; renaming the span leaves the trace's name.
    assert_eq!(trace["name"], "trace_setters");
    assert_eq!(trace["input"], json!({"question": "why?", "locale": "fr"}));
    assert_eq!(trace["error_info"]["exception_type"], "Degraded");
    assert_eq!(trace["error_info"]["message"], "fallback model used");
    assert_eq!(trace["tags"], json!(["degraded"]));
    let span = &server.spans()[0];
    assert_eq!(span["name"], "renamed-span");
    assert_eq!(span["input"], json!({"question": "why?"}));
    assert!(
        span.get("error_info").is_none(),
        "trace errors stay on the trace"
    );
    assert_eq!(
        server.feedback_scores("/traces/feedback-scores")[0],
        json!({"id": trace["id"], "project_name": TEST_PROJECT, "name": "latency_ok",
               "value": 0.0, "reason": "slow", "category_name": "bad", "source": "sdk"})
    );
    assert_eq!(
        server.feedback_scores("/spans/feedback-scores")[0]["category_name"],
        "c"
    );
}
