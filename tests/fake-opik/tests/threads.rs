//! Threads derived from traces: status, close/open/reopen, search and pages, retrieve,
//! feedback scores (and the older rule that wanted closed threads).

mod common;

use common::*;
use fake_opik::FakeOpik;
use serde_json::{json, Value};

const P: &str = "fake-opik-threads";

fn turn(n: u64, thread: &str) -> Value {
    json!({"id": v7(n), "project_name": P, "name": "turn", "thread_id": thread,
        "start_time": format!("2024-05-01T12:00:{:02}Z", n), "end_time": format!("2024-05-01T12:00:{:02}.5Z", n),
        "input": {"user": format!("hi {n}")}, "output": {"bot": format!("yo {n}")}})
}

fn log(server: &FakeOpik, traces: Vec<Value>) {
    let r = send_json(
        server,
        "POST",
        "/v1/private/traces/batch",
        &json!({"traces": traces}),
    );
    assert_eq!(r.status, 204);
}

fn search(server: &FakeOpik, filters: Value) -> Vec<Value> {
    let r = send_json(
        server,
        "POST",
        "/v1/private/traces/threads/search",
        &json!({"project_name": P, "filters": filters, "limit": 100, "truncate": true}),
    );
    assert_eq!(r.status, 200);
    r.lines()
}

#[test]
fn a_thread_follows_its_traces() {
    let server = FakeOpik::start();
    assert_eq!(server.thread_status(P, "a"), None);
    log(&server, vec![turn(1, "a"), turn(2, "a"), turn(3, "b")]);
    assert_eq!(server.thread_status(P, "a").as_deref(), Some("active"));

    let threads = search(&server, json!([]));
    assert_eq!(threads.len(), 2);
    let a = threads.iter().find(|t| t["id"] == "a").unwrap();
    assert_eq!(a["number_of_messages"], 4);
    assert_eq!(a["first_message"], json!({"user": "hi 1"}));
    assert_eq!(a["last_message"], json!({"bot": "yo 2"}));
    assert_eq!(a["start_time"], "2024-05-01T12:00:01Z");
    assert_eq!(a["duration"], 1500.0);
    assert_eq!(a["status"], "active");
    assert_eq!(a["project_id"], server.project_id(P).unwrap());

    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/close",
        &json!({"project_name": P, "thread_ids": ["a", "b"]}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(server.thread_status(P, "a").as_deref(), Some("inactive"));
    let closed = search(
        &server,
        json!([{"field": "status", "operator": "=", "key": "", "value": "inactive"}]),
    );
    assert_eq!(closed.len(), 2);
    let long = search(
        &server,
        json!([{"field": "number_of_messages", "operator": ">=", "key": "", "value": "4"}]),
    );
    assert_eq!(long.len(), 1);

    // A new trace reopens the thread; open works on its own too.
    log(&server, vec![turn(4, "a")]);
    assert_eq!(server.thread_status(P, "a").as_deref(), Some("active"));
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/open",
        &json!({"project_name": P, "thread_id": "b"}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(server.thread_status(P, "b").as_deref(), Some("active"));

    let r = send_json(
        &server,
        "POST",
        "/v1/private/traces/threads/retrieve",
        &json!({"project_name": P, "thread_id": "a"}),
    );
    assert_eq!(
        (r.status, r.json()["number_of_messages"].as_u64()),
        (200, Some(6))
    );
    let r = send_json(
        &server,
        "POST",
        "/v1/private/traces/threads/retrieve",
        &json!({"project_name": P, "thread_id": "zz"}),
    );
    assert_eq!(r.status, 404);
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/close",
        &json!({"project_name": P, "thread_id": "zz"}),
    );
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (404, Some("Thread 'zz' not found:"))
    );
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/close",
        &json!({"project_name": "nope", "thread_id": "a"}),
    );
    assert_eq!(r.status, 404);

    let page = get(
        &server,
        "GET",
        &format!("/v1/private/traces/threads?project_name={P}&page=1&size=1"),
    )
    .json();
    assert_eq!(
        (page["size"].as_u64(), page["total"].as_u64()),
        (Some(1), Some(2))
    );
    let bad = send_json(
        &server,
        "POST",
        "/v1/private/traces/threads/search",
        &json!({"project_name": P, "filters": [{"field": "model", "operator": "=", "key": "", "value": "x"}]}),
    );
    assert_eq!(bad.status, 400);
    server.assert_valid();
}

#[test]
fn thread_scores_are_kept_whatever_the_status_unless_the_older_rule_is_on() {
    let server = FakeOpik::start();
    log(&server, vec![turn(1, "a")]);
    let score = |thread: &str, value: f64| json!({"scores": [{"thread_id": thread, "project_name": P, "name": "quality", "value": value, "source": "sdk"}]});
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/feedback-scores",
        &score("a", 0.5),
    );
    assert_eq!(
        r.status, 204,
        "an active thread can be scored, as the backend allows now"
    );
    assert_eq!(server.thread_scores(P, "a")[0]["value"], 0.5);
    let t = &search(
        &server,
        json!([{"field": "feedback_scores", "operator": ">", "key": "quality", "value": "0.1"}]),
    )[0];
    assert_eq!(t["feedback_scores"][0]["name"], "quality");

    server.thread_scores_need_closed(true);
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/feedback-scores",
        &score("a", 1.0),
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        server.thread_scores(P, "a")[0]["value"],
        0.5,
        "nothing of a refused batch is kept"
    );
    send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/close",
        &json!({"project_name": P, "thread_id": "a"}),
    );
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/traces/threads/feedback-scores",
        &score("a", 1.0),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        server.thread_scores(P, "a")[0]["value"],
        1.0,
        "one score per name, replaced"
    );

    let r = send_json(
        &server,
        "POST",
        "/v1/private/traces/threads/feedback-scores/delete",
        &json!({"project_name": P, "thread_id": "a", "names": ["quality"]}),
    );
    assert_eq!(r.status, 204);
    assert!(server.thread_scores(P, "a").is_empty());
    server.assert_valid();
}
