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
