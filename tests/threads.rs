//! Issue 16, threads that end: a conversation closed then rated; on a backend that refuses a
//! thread's scores while it is open (before OPIK-4035), `score_thread` closes it first when
//! asked and reports the refusal otherwise, and a refused queued score is counted as
//! `conflict`, never as delivered; a 409 to a batch create still counts as delivered.

mod common;

use fake_opik::{FakeOpik, Reply};
use opik::export::DropReason;
use opik::read::{OpenThread, ReadError, ThreadStatus};
use opik::{Opik, Score};
use std::time::Duration;

const THREAD: &str = "user-1842";

/// Three planner messages in the thread, delivered.
async fn conversation(opik: &Opik, client: &opik::export::Client) {
    for i in 0..3 {
        let t = opik.trace("practice-planner");
        t.update(|u| {
            u.thread_id(THREAD)
                .input(&serde_json::json!({"message": i}))
                .output(&serde_json::json!({"reply": i}));
        });
        t.end();
    }
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
}

#[tokio::test]
async fn a_thread_is_closed_then_rated() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    for i in 0..3 {
        let t = opik.trace("practice-planner");
        t.update(|u| {
            u.thread_id(THREAD)
                .input(&serde_json::json!({"message": i}));
        });
        t.end();
    }
    // No flush here: closing delivers the thread's traces first (else a 404).
    opik.close_thread(THREAD).await.unwrap();
    assert_eq!(
        server
            .thread_status(common::TEST_PROJECT, THREAD)
            .as_deref(),
        Some("inactive")
    );
    let rating = Score::new("user-rating", 1.0).reason("thumbs up in the hub");
    opik.score_thread(THREAD, [rating], OpenThread::LeaveOpen)
        .await
        .unwrap();
    let scores = server.thread_scores(common::TEST_PROJECT, THREAD);
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0]["name"], "user-rating");
    assert_eq!(scores[0]["reason"], "thumbs up in the hub");
    let thread = opik.get_thread(THREAD).await.unwrap().unwrap();
    assert_eq!(thread.status, Some(ThreadStatus::Inactive));
    assert_eq!(
        thread.feedback_score("user-rating").map(|s| s.value),
        Some(1.0)
    );
    // A thread no trace of which reached Opik cannot be closed.
    let err = opik.close_thread("nobody").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = opik.close_thread("  ").await.unwrap_err();
    assert!(err.to_string().contains("thread id is blank"), "{err}");
    server.assert_valid();
}

#[tokio::test]
async fn an_open_thread_is_closed_first_when_asked_and_a_refusal_is_reported_otherwise() {
    let server = FakeOpik::start();
    server.thread_scores_need_closed(true);
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    conversation(&opik, &client).await;

    let err = opik
        .score_thread(
            THREAD,
            [Score::new("user-rating", 1.0)],
            OpenThread::LeaveOpen,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ReadError::ThreadOpen { thread_id, .. } if thread_id == THREAD),
        "{err}"
    );
    assert!(err.is_refused());
    assert!(err.to_string().contains("Close it first"), "{err}");
    assert!(server
        .thread_scores(common::TEST_PROJECT, THREAD)
        .is_empty());

    opik.score_thread(
        THREAD,
        [Score::new("user-rating", 1.0)],
        OpenThread::CloseFirst,
    )
    .await
    .unwrap();
    assert_eq!(
        server
            .thread_status(common::TEST_PROJECT, THREAD)
            .as_deref(),
        Some("inactive")
    );
    assert_eq!(server.thread_scores(common::TEST_PROJECT, THREAD).len(), 1);
    // An invalid score sends nothing, not even the close.
    let err = opik
        .score_thread("other", [Score::new("", 1.0)], OpenThread::CloseFirst)
        .await
        .unwrap_err();
    assert!(matches!(err, ReadError::Score(_)), "{err}");
    assert!(server.requests_to("/traces/threads/close").len() == 1);
    server.assert_valid();
}

#[tokio::test]
async fn a_queued_thread_score_refused_for_an_open_thread_is_counted_as_conflict() {
    let server = FakeOpik::start();
    server.thread_scores_need_closed(true);
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    conversation(&opik, &client).await;
    let delivered_before = client.stats().delivered;
    opik.log_thread_feedback_scores([(THREAD, Score::new("user-rating", 1.0))])
        .unwrap();
    let report = client.flush_async(Duration::from_secs(5)).await;
    assert!(report.completed);
    assert_eq!(
        report.stats.dropped(DropReason::Conflict),
        1,
        "{}",
        report.stats
    );
    assert_eq!(
        report.stats.delivered, delivered_before,
        "not counted as delivered"
    );
    assert_eq!(report.stats.pending(), 0);
    assert!(server
        .thread_scores(common::TEST_PROJECT, THREAD)
        .is_empty());
    assert_eq!(DropReason::Conflict.to_string(), "conflict");

    // Closed, the same score is taken.
    opik.close_thread(THREAD).await.unwrap();
    opik.log_thread_feedback_scores([(THREAD, Score::new("user-rating", 1.0))])
        .unwrap();
    let report = client.flush_async(Duration::from_secs(5)).await;
    assert_eq!(report.stats.delivered, delivered_before + 1);
    assert_eq!(server.thread_scores(common::TEST_PROJECT, THREAD).len(), 1);
    server.assert_valid();
}

#[tokio::test]
async fn a_409_to_a_batch_create_still_counts_as_delivered() {
    let server = FakeOpik::start();
    server.script("POST /traces/batch", [Reply::status(409)]);
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    opik.trace("already-there").end();
    let report = client.flush_async(Duration::from_secs(5)).await;
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 1, "{}", report.stats);
    assert_eq!(report.stats.dropped_total(), 0);
}
