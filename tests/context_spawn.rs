//! Across tasks and threads: the helpers keep spawned work in the caller's trace, plain
//! `tokio::spawn` / `std::thread::spawn` start a new trace.

mod common;

use common::{config_for, span};
use fake_opik::FakeOpik;
use opik::FutureExt as _;
use std::time::Duration;

#[opik::track]
async fn leaf(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[opik::track]
fn sync_leaf(n: u32) -> u32 {
    n
}

#[opik::track]
async fn fan_out() -> u32 {
    let a = opik::spawn(leaf(1));
    let b = tokio::spawn(leaf(2).in_current_trace());
    let ctx = opik::context::current_context();
    let c = tokio::task::spawn_blocking(move || ctx.run(|| sync_leaf(3)));
    let d = opik::context::spawn_blocking(|| sync_leaf(4));
    let ctx = opik::context::current_context();
    let e = std::thread::spawn(move || ctx.run(|| sync_leaf(5)));
    // Without a helper: new traces.
    let f = tokio::spawn(leaf(6));
    let g = std::thread::spawn(|| sync_leaf(7));
    let mut sum = a.await.unwrap() + b.await.unwrap() + c.await.unwrap() + d.await.unwrap();
    sum += e.join().unwrap();
    sum += f.await.unwrap() + g.join().unwrap();
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_keep_the_trace_and_plain_spawn_starts_a_new_one() {
    let server = FakeOpik::start();
    // The global client: a plain spawn loses a scoped client along with the span, so only a
    // global one can show that it starts a new trace.
    let guard = opik::init_with(config_for(&server)).expect("valid config");
    let client = guard.client().expect("enabled").clone();
    assert_eq!(fan_out().await, 28);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    let spans = server.spans();
    let root = span(&spans, "fan_out");
    let in_trace: Vec<_> = spans
        .iter()
        .filter(|s| s["trace_id"] == root["trace_id"] && s["id"] != root["id"])
        .collect();
    let mut inputs: Vec<u64> = in_trace
        .iter()
        .map(|s| {
            assert_eq!(s["parent_span_id"], root["id"], "{s}");
            s["input"]["n"].as_u64().unwrap()
        })
        .collect();
    inputs.sort();
    assert_eq!(inputs, [1, 2, 3, 4, 5]);
    // leaf(6) and sync_leaf(7) ran without the context: each is the root of a new trace.
    let traces = server.traces();
    assert_eq!(traces.len(), 3, "{traces:#?}");
    for n in [6, 7] {
        let s = spans.iter().find(|s| s["input"]["n"] == n).unwrap();
        assert_ne!(s["trace_id"], root["trace_id"]);
        assert!(s.get("parent_span_id").is_none());
        assert!(traces.iter().any(|t| t["id"] == s["trace_id"]));
    }
}

#[test]
fn an_empty_context_changes_nothing() {
    let ctx = opik::context::current_context();
    assert!(ctx.is_empty());
    assert_eq!(ctx.run(|| 1), 1);
}

#[tokio::test]
async fn spawn_outside_a_span_carries_the_scoped_client() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    // No span here, only a scoped client: `opik::spawn` carries it, so the spawned call is
    // recorded (as a new trace) by the same client.
    let n = client
        .scope(async { opik::spawn(leaf(9)).await.unwrap() })
        .await;
    assert_eq!(n, 9);
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    assert_eq!(server.traces().len(), 1);
    assert_eq!(server.spans()[0]["input"]["n"], 9);
}

#[test]
fn handles_and_contexts_cross_threads() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    send_sync_clone::<opik::context::OpikContext>();
    send_sync_clone::<opik::TraceHandle>();
    send_sync_clone::<opik::SpanHandle>();
    send_sync_clone::<opik::Opik>();
    send_sync_clone::<opik::distributed::DistributedHeaders>();
    fn send<T: Send>(_: &T) {}
    send(&leaf(1).in_current_trace());
}

#[opik::track]
fn parent_that_returns_early(
    go: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<(bool, bool)> {
    opik::spawn(async move {
        let _ = go.await;
        // The span and trace this task was spawned in have ended: updates are refused.
        let span = opik::update_current_span(|s| {
            s.name("too-late");
        });
        let trace = opik::update_current_trace(|t| {
            t.name("too-late");
        });
        (span, trace)
    })
}

#[tokio::test]
async fn updates_after_the_span_ended_are_refused() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = client.run(|| parent_that_returns_early(rx));
    tx.send(()).unwrap();
    assert_eq!(task.await.unwrap(), (false, false));
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    assert_eq!(server.spans()[0]["name"], "parent_that_returns_early");
    assert_eq!(server.traces()[0]["name"], "parent_that_returns_early");
}
