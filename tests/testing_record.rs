//! Issue "FretCoach example... testing support": `opik::testing` captures the traces of the
//! code it runs, in memory, isolated per recorder, with helpers to find spans and their
//! relations.

use opik::testing::{record, record_async, Recorder};
use serde_json::json;

#[opik::track(name = "planner-message", tags = ["fretcoach-hub", "practice-planning"])]
async fn planner(user: u32, message: &str) -> String {
    opik::update_current_trace(|t| {
        t.thread_id(format!("user-{user}"));
    });
    let answer = llm(message).await;
    opik::update_current_trace(|t| {
        t.feedback_score("helpful", 1.0)
            .reason("the user said thanks");
    });
    answer
}

#[opik::track(type = "llm")]
async fn llm(prompt: &str) -> String {
    opik::update_current_span(|s| {
        s.model("gpt-4o-mini").usage(opik::Usage::new(30, 12));
    });
    tokio::task::yield_now().await;
    format!("practice {prompt} slowly")
}

#[opik::track]
fn scale(name: &str) -> usize {
    name.len()
}

#[tokio::test]
async fn record_async_captures_traces_spans_and_their_relations() {
    let recorded = record_async(async {
        planner(7, "the G major scale").await;
    })
    .await;
    assert_eq!(recorded.traces().len(), 1, "{}", recorded.tree());
    let trace = recorded.trace("planner-message");
    assert_eq!(trace["thread_id"], "user-7");
    assert_eq!(trace["tags"], json!(["fretcoach-hub", "practice-planning"]));
    let llm = recorded.span("llm");
    assert_eq!(llm["model"], "gpt-4o-mini");
    assert_eq!(llm["usage"]["total_tokens"], 42);
    assert_eq!(
        llm["output"],
        json!({"output": "practice the G major scale slowly"})
    );
    let root = recorded
        .parent(llm)
        .expect("llm nests under the planner span");
    assert_eq!(root["name"], "planner-message");
    assert_eq!(recorded.children(root), vec![llm]);
    assert_eq!(recorded.spans_of(trace).len(), 2);
    assert_eq!(recorded.trace_of(llm), Some(trace));
    assert_eq!(recorded.feedback_scores().len(), 1);
    assert_eq!(recorded.feedback_scores()[0]["name"], "helpful");
    assert_eq!(recorded.feedback_scores()[0]["id"], trace["id"]);
    assert!(recorded
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.path == "/v1/private/traces/feedback-scores"));
    let tree = recorded.tree();
    assert!(
        tree.starts_with("Trace: planner-message [") && tree.contains("└─ llm [llm gpt-4o-mini "),
        "{tree}"
    );
}

#[test]
fn record_is_isolated_per_call_and_sync_code_needs_no_runtime() {
    let first = record(|| {
        scale("A minor");
    });
    let second = record(|| {
        scale("E");
        scale("B");
    });
    assert_eq!(first.traces().len(), 1);
    assert_eq!(second.traces().len(), 2);
    assert_eq!(first.span("scale")["output"], json!({"output": 7}));
    assert_eq!(second.spans_named("scale").len(), 2);
    // Outside a recorder, with nothing installed, nothing is recorded anywhere.
    assert_eq!(scale("C"), 1);
}

#[test]
fn a_recorder_accumulates_runs_and_returns_what_the_code_returned() {
    let recorder = Recorder::new();
    assert_eq!(recorder.run(|| scale("D dorian")), 8);
    assert_eq!(recorder.recorded().traces().len(), 1);
    recorder.run(|| scale("F"));
    let recorded = recorder.recorded();
    assert_eq!(recorded.traces().len(), 2);
    assert!(recorded
        .traces()
        .iter()
        .all(|t| t["project_name"] == opik::testing::PROJECT_NAME));
}

#[test]
#[should_panic(
    expected = "expected one span named \"missing\", found 0; recorded spans: [\"scale\"]"
)]
fn a_missing_span_names_what_was_recorded() {
    let recorded = record(|| {
        scale("G");
    });
    recorded.span("missing");
}
