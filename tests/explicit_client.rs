//! The explicit client: the seed's practice session built by hand, a trace held open while
//! spans are added to it from several tasks, each record sent once and complete.

mod common;

use common::{client_for, span, TEST_PROJECT};
use fake_opik::{Entity, FakeOpik};
use opik::{Opik, Score, SpanType, Usage};
use serde_json::json;
use std::time::Duration;

#[opik::track(type = "llm")]
async fn summarize(notes: Vec<String>) -> String {
    opik::update_current_span(|s| {
        s.model("gpt-4o-mini")
            .provider("openai")
            .usage(Usage::new(100, 20));
    });
    // The explicit trace is the current trace here.
    opik::update_current_trace(|t| {
        t.metadata_entry("summarized", &true);
    });
    format!("{} notes", notes.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn practice_session_trace_with_feedback_tts_and_summary_spans() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let opik = Opik::new(client.clone());
    let session_id = 42;

    let session = opik.trace("practice-session");
    assert!(session.update(|t| {
        t.thread_id(format!("session-{session_id}"))
            .input(&json!({"user": "u-7", "piece": "Clair de lune"}))
            .tags(["practice"]);
    }));

    // Feedback on each attempt, from several tasks while the session is open.
    let mut tasks = Vec::new();
    for attempt in 0..3u32 {
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            let feedback = session.span_with_type(format!("feedback-{attempt}"), SpanType::Llm);
            feedback.update(|s| {
                s.input(&json!({"attempt": attempt}))
                    .model("gpt-4o-mini")
                    .provider("openai")
                    .usage(
                        json!({"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}),
                    )
                    .output(&format!("attempt {attempt}: steady tempo"));
                s.feedback_score("feedback_quality", 0.7).reason("specific");
            });
            // A nested span, and a tracked call nested under it.
            let scoring = feedback.span("score-attempt");
            scoring.update(|s| {
                s.output(&json!({"score": attempt}));
            });
            tokio::task::yield_now().await;
            scoring.end();
            feedback.end();
            feedback.id().unwrap()
        }));
    }
    let mut feedback_ids = Vec::new();
    for t in tasks {
        feedback_ids.push(t.await.unwrap());
    }

    let tts = session.span("tts");
    tts.update(|s| {
        s.input(&json!({"text": "Great session!"}))
            .metadata(&json!({"voice": "alloy", "chars": 14}));
    });
    tts.end();
    tts.end(); // a second end sends nothing

    // A tracked call under the open trace: a top-level span of it.
    let summary = session.scope(summarize(vec!["a".into(), "b".into()])).await;
    assert_eq!(summary, "2 notes");

    session
        .log_score(Score::new("engagement", 0.8).reason("finished all attempts"))
        .expect("valid");
    assert!(session.log_feedback_score(" ", 1.0).is_err());
    opik.log_thread_feedback_scores([(
        format!("session-{session_id}"),
        Score::new("session_rating", 5.0),
    )])
    .expect("valid");
    session.update(|t| {
        t.output(&json!({"summary": summary}));
    });
    session.end();
    assert!(
        !session.update(|t| {
            t.name("too late");
        }),
        "an ended trace takes no updates"
    );

    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    server.assert_delivered_once(Entity::Trace);
    server.assert_delivered_once(Entity::Span);
    assert!(
        server.requests().iter().all(|r| r.method != "PATCH"),
        "every record is one complete create"
    );

    let traces = server.traces();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert_eq!(trace["name"], "practice-session");
    assert_eq!(trace["thread_id"], "session-42");
    assert_eq!(trace["tags"], json!(["practice"]));
    assert_eq!(
        trace["input"],
        json!({"user": "u-7", "piece": "Clair de lune"})
    );
    assert_eq!(trace["output"], json!({"summary": "2 notes"}));
    assert_eq!(trace["metadata"], json!({"summarized": true}));
    assert!(trace["end_time"].is_string());

    let spans = server.spans();
    assert_eq!(spans.len(), 3 + 3 + 2, "{spans:#?}");
    for s in &spans {
        assert_eq!(s["trace_id"], trace["id"]);
        assert_eq!(s["project_name"], TEST_PROJECT);
    }
    for attempt in 0..3 {
        let f = span(&spans, &format!("feedback-{attempt}"));
        assert_eq!(f["type"], "llm");
        assert!(f.get("parent_span_id").is_none());
        assert_eq!(f["usage"]["total_tokens"], 60);
        assert_eq!(
            f["output"],
            json!({"output": format!("attempt {attempt}: steady tempo")})
        );
        let nested: Vec<_> = spans
            .iter()
            .filter(|s| s["name"] == "score-attempt" && s["parent_span_id"] == f["id"])
            .collect();
        assert_eq!(nested.len(), 1);
        assert_eq!(nested[0]["output"], json!({"score": attempt}));
    }
    let tts = span(&spans, "tts");
    assert_eq!(tts["metadata"], json!({"voice": "alloy", "chars": 14}));
    let summary = span(&spans, "summarize");
    assert!(
        summary.get("parent_span_id").is_none(),
        "a top-level span of the session"
    );
    assert_eq!(summary["usage"]["total_tokens"], 120);

    let span_scores = server.feedback_scores("/spans/feedback-scores");
    assert_eq!(span_scores.len(), 3);
    for s in &span_scores {
        assert!(feedback_ids.iter().any(|id| s["id"] == id.to_string()));
    }
    let trace_scores = server.feedback_scores("/traces/feedback-scores");
    assert_eq!(
        trace_scores,
        vec![
            json!({"id": trace["id"], "project_name": TEST_PROJECT, "name": "engagement",
                    "value": 0.8, "reason": "finished all attempts", "source": "sdk"})
        ]
    );
    assert_eq!(
        server.feedback_scores("/threads/feedback-scores")[0]["thread_id"],
        "session-42"
    );
}

#[test]
fn a_dropped_handle_ends_its_trace_and_a_disabled_client_is_inert() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    {
        let trace = Opik::new(client.clone())
            .with_project("other-project")
            .trace("forgotten");
        let span = trace.span("inner");
        span.update(|s| {
            s.output(&1);
        });
        // Neither is ended: both are sent when their last handle goes.
    }
    let off = Opik::disabled().trace("nothing");
    assert!(off.id().is_none());
    assert!(!off.update(|t| {
        t.name("x");
    }));
    assert!(off.span("y").id().is_none());
    assert!(off.log_feedback_score("", 1.0).is_err(), "still validated");
    off.end();
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let traces = server.traces();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0]["name"], "forgotten");
    assert_eq!(traces[0]["project_name"], "other-project");
    let spans = server.spans();
    assert_eq!(spans[0]["project_name"], "other-project");
    assert_eq!(spans[0]["output"], json!({"output": 1}));
}

/// A session held open past the long-span threshold shows up in Opik while it runs: its trace
/// (with the thread and input set so far) and its open span are sent early as start records,
/// then completed by their final records, never by a PATCH.
#[tokio::test]
async fn a_session_held_open_is_sent_early_and_completed_at_its_end() {
    let server = FakeOpik::start();
    let config = common::config_for(&server)
        .long_span_threshold(Some(Duration::from_millis(200)))
        .resolve()
        .expect("valid test config")
        .into_config()
        .expect("enabled");
    let client = opik::export::Client::new(&config).expect("client starts");
    let opik = Opik::new(client.clone());

    let session = opik.trace("live-session");
    session.update(|t| {
        t.thread_id("session-9")
            .input(&json!({"piece": "Gymnopédie No. 1"}));
    });
    let listening = session.span_with_type("listen", SpanType::Tool);
    listening.update(|s| {
        s.input(&json!({"bars": 8}));
    });
    // The session and its span stay open (a user playing), well past the threshold.
    tokio::time::sleep(Duration::from_millis(700)).await;
    listening.end();
    session.end();
    let report = client.flush_async(Duration::from_secs(5)).await;
    assert!(report.completed);
    assert_eq!(
        report.stats.produced, 2,
        "start records are not records of their own"
    );
    assert_eq!(
        report.stats.in_progress_sent, 2,
        "the trace and its open span"
    );

    let traces = server.deliveries(Entity::Trace);
    let trace = traces.values().next().expect("the session's trace");
    assert_eq!(trace.len(), 2, "start record, then final: {trace:#?}");
    assert!(trace[0].get("end_time").is_none());
    assert_eq!(
        trace[0]["thread_id"], "session-9",
        "the start record has the thread"
    );
    assert_eq!(trace[0]["input"], json!({"piece": "Gymnopédie No. 1"}));
    assert!(trace[1].get("end_time").is_some());
    assert!(trace[1]["last_updated_at"].as_str() > trace[0]["last_updated_at"].as_str());
    let spans = server.deliveries(Entity::Span);
    let listen = spans.values().next().expect("the listen span");
    assert_eq!(listen.len(), 2, "start record, then final: {listen:#?}");
    assert_eq!(listen[0]["type"], "tool");
    assert_eq!(listen[0]["input"], json!({"bars": 8}));
    assert!(listen[0].get("end_time").is_none() && listen[1].get("end_time").is_some());
    assert!(
        server.requests().iter().all(|r| r.method != "PATCH"),
        "never a PATCH"
    );
    server.assert_delivered_once_or_start_end(Entity::Span);
    server.assert_valid();
}
