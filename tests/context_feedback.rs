//! Feedback scores logged by id on all three endpoints, validated at the call.

mod common;

use common::{client_for, TEST_PROJECT};
use fake_opik::FakeOpik;
use opik::Score;
use serde_json::json;
use std::time::Duration;

#[opik::track]
fn answer() -> (uuid::Uuid, uuid::Uuid) {
    let span = opik::current_span_data().expect("inside a tracked call");
    (span.id, span.trace_id)
}

#[test]
fn scores_logged_by_id_go_to_their_three_endpoints() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(|| {
        let (span_id, trace_id) = answer();
        opik::log_span_feedback_scores([(span_id, Score::new("accuracy", 0.5).reason("half"))])
            .expect("valid");
        opik::log_trace_feedback_scores([
            (trace_id, Score::new("helpful", 1.0)),
            (
                trace_id,
                Score::new("tone", 2.0)
                    .category_name("warm")
                    .project_name("other"),
            ),
        ])
        .expect("valid");
        opik::log_thread_feedback_scores([("session-7", Score::new("session_rating", 4.0))])
            .expect("valid");
    });
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let span = &server.spans()[0];
    let trace = &server.traces()[0];
    assert_eq!(
        server.feedback_scores("/spans/feedback-scores"),
        vec![
            json!({"id": span["id"], "project_name": TEST_PROJECT, "name": "accuracy",
                    "value": 0.5, "reason": "half", "source": "sdk"})
        ]
    );
    assert_eq!(
        server.feedback_scores("/traces/feedback-scores"),
        vec![
            json!({"id": trace["id"], "project_name": TEST_PROJECT, "name": "helpful",
                   "value": 1.0, "source": "sdk"}),
            json!({"id": trace["id"], "project_name": "other", "name": "tone", "value": 2.0,
                   "category_name": "warm", "source": "sdk"}),
        ]
    );
    assert_eq!(
        server.feedback_scores("/threads/feedback-scores"),
        vec![
            json!({"thread_id": "session-7", "project_name": TEST_PROJECT,
                    "name": "session_rating", "value": 4.0, "source": "sdk"})
        ]
    );
}

#[test]
fn an_invalid_score_is_an_error_and_nothing_of_the_call_is_sent() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let id = client.run(|| answer().0);
    client.run(|| {
        let err = opik::log_span_feedback_scores([
            (id, Score::new("fine", 1.0)),
            (id, Score::new("huge", 1e10)),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("\"huge\""), "{err}");
        let err = opik::log_trace_feedback_scores([(id, Score::new(" ", 1.0))]).unwrap_err();
        assert!(err.to_string().contains("blank"), "{err}");
        let err = opik::log_thread_feedback_scores([("", Score::new("x", 1.0))]).unwrap_err();
        assert!(err.to_string().contains("thread id"), "{err}");
    });
    // Validation does not depend on the SDK being on.
    assert!(opik::log_span_feedback_scores([(id, Score::new("x", f64::NAN))]).is_err());
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    assert_eq!(server.request_count("/feedback-scores"), 0);
}
