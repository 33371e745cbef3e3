//! Issue "Streams, spans you open yourself": `opik::span(name)` opens a child of the current span,
//! or the root of a new trace when nothing is current; `run`/`scope` make it current (tracked
//! calls and `update_current_span` in it belong to it); `update`, `end`, and ending on drop.

mod common;

use serde_json::json;

#[opik::track]
fn synthesize(text: &str) -> usize {
    opik::update_current_span(|s| {
        s.metadata_entry("voice", &"alloy");
    });
    text.len()
}

#[opik::track]
async fn speak_async(text: &str) -> usize {
    text.len() * 2
}

#[opik::track(name = "live-coach")]
fn coach() -> usize {
    let tts = opik::span("live-coach-tts")
        .span_type(opik::SpanType::Tool)
        .tags(["tts", "live-coach"])
        .metadata(&json!({"engine": "local"}))
        .input(&json!({"text": "slow down"}))
        .start();
    let n = tts.run(|| synthesize("slow down"));
    tts.update(|s| {
        s.output(&json!({"bytes": n}));
    });
    tts.end();
    n
}

#[test]
fn a_hand_opened_span_nests_under_the_current_span_and_takes_its_children() {
    let (traces, spans) = common::record(coach);
    assert_eq!(traces.len(), 1);
    let root = common::span(&spans, "live-coach");
    let tts = common::span(&spans, "live-coach-tts");
    let child = common::span(&spans, "synthesize");
    assert_eq!(tts["parent_span_id"], root["id"]);
    assert_eq!(child["parent_span_id"], tts["id"]);
    assert_eq!(tts["type"], "tool");
    assert_eq!(tts["tags"], json!(["tts", "live-coach"]));
    assert_eq!(tts["input"], json!({"text": "slow down"}));
    assert_eq!(tts["metadata"], json!({"engine": "local"}));
    assert_eq!(tts["output"], json!({"bytes": 9}));
    assert_eq!(
        child["metadata"]["voice"], "alloy",
        "update_current_span reached the child"
    );
    assert!(tts["end_time"].as_str() >= child["end_time"].as_str());
}

#[test]
fn with_nothing_current_a_hand_opened_span_is_the_root_of_a_new_trace() {
    let (traces, spans) = common::record(|| {
        let span = opik::span("nightly-import")
            .tags(["batch"])
            .input(&json!({"rows": 3}))
            .start();
        span.run(|| synthesize("row"));
        drop(span); // ends on drop
    });
    assert_eq!(traces.len(), 1, "a trace of its own");
    let trace = &traces[0];
    assert_eq!(trace["name"], "nightly-import");
    assert_eq!(trace["input"], json!({"rows": 3}));
    assert_eq!(trace["tags"], json!(["batch"]));
    assert!(trace["end_time"].is_string());
    let root = common::span(&spans, "nightly-import");
    assert!(root.get("parent_span_id").is_none());
    assert_eq!(root["trace_id"], trace["id"]);
    assert_eq!(
        common::span(&spans, "synthesize")["parent_span_id"],
        root["id"]
    );
}

#[test]
fn async_code_in_a_hand_opened_span_nests_under_it() {
    let (traces, spans) = common::record_async(async {
        let span = opik::span("stream-reply")
            .span_type(opik::SpanType::Llm)
            .start();
        let (a, b) = span
            .scope(async { tokio::join!(speak_async("ab"), speak_async("abc")) })
            .await;
        assert_eq!((a, b), (4, 6));
        span.end();
        span.end(); // a second end does nothing
    });
    assert_eq!(traces.len(), 1);
    let parent = common::span(&spans, "stream-reply");
    assert_eq!(parent["type"], "llm");
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s["name"] == "speak_async")
        .collect();
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|c| c["parent_span_id"] == parent["id"]));
}

#[test]
fn with_the_sdk_off_a_hand_opened_span_is_inert() {
    let span = opik::span("nothing").start();
    assert_eq!(span.id(), None);
    assert_eq!(span.run(|| 1), 1);
    assert!(!span.update(|s| {
        s.tag("x");
    }));
    span.end();
}
