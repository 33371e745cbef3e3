//! `#[track(distributed_headers = expr)]`: a tracked function continues the trace of incoming
//! distributed headers (a span under the remote parent, no new trace), in async and sync code.

mod common;

use common::{client_for, span};
use fake_opik::FakeOpik;
use opik::distributed::http::HeaderMap;
use std::collections::HashMap;
use std::time::Duration;

#[opik::track(distributed_headers = headers, skip(headers), tags = ["remote"])]
async fn handle_async(headers: &HeaderMap, bpm: u32) -> u32 {
    step(bpm).await
}

#[opik::track]
async fn step(bpm: u32) -> u32 {
    bpm + 1
}

#[opik::track(distributed_headers = &headers, skip(headers))]
fn handle_sync(headers: HashMap<String, String>, bpm: u32) -> u32 {
    bpm * 2
}

#[opik::track(name = "caller")]
async fn caller() -> (HeaderMap, HashMap<String, String>) {
    let headers = opik::distributed::distributed_headers().expect("inside a tracked call");
    (
        headers.to_header_map(),
        headers.to_map().into_iter().collect(),
    )
}

#[tokio::test]
async fn tracked_functions_continue_a_remote_trace() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let (header_map, map) = client.scope(caller()).await;
    assert_eq!(client.scope(handle_async(&header_map, 60)).await, 61);
    assert_eq!(client.run(|| handle_sync(map, 60)), 120);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);

    server.assert_valid();
    let traces = server.traces();
    assert_eq!(
        traces.len(),
        1,
        "the receivers make no trace of their own: {traces:#?}"
    );
    let spans = server.spans();
    let caller = span(&spans, "caller");
    let async_side = span(&spans, "handle_async");
    let sync_side = span(&spans, "handle_sync");
    let inner = span(&spans, "step");
    for s in [async_side, sync_side, inner] {
        assert_eq!(s["trace_id"], traces[0]["id"]);
    }
    assert_eq!(async_side["parent_span_id"], caller["id"]);
    assert_eq!(sync_side["parent_span_id"], caller["id"]);
    assert_eq!(inner["parent_span_id"], async_side["id"]);
    assert_eq!(async_side["input"], serde_json::json!({"bpm": 60}));
    assert_eq!(async_side["tags"], serde_json::json!(["remote"]));
}

#[tokio::test]
async fn without_headers_the_call_starts_its_own_trace() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    assert_eq!(client.scope(handle_async(&HeaderMap::new(), 1)).await, 2);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    assert_eq!(server.traces().len(), 1);
    assert_eq!(server.traces()[0]["name"], "handle_async");
}
