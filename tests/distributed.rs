//! Distributed traces: headers from a tracked call continue its trace in another runtime with
//! its own client (as another service would), in Opik's and in W3C form.

mod common;

use common::{client_for, span};
use fake_opik::FakeOpik;
use opik::distributed::http;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[opik::track]
async fn remote_handler(x: u32) -> u32 {
    remote_child().await + x
}

#[opik::track]
async fn remote_child() -> u32 {
    tokio::task::yield_now().await;
    // The receiving side does not own the trace: it cannot change it.
    assert!(!opik::update_current_trace(|t| {
        t.name("hijacked");
    }));
    assert!(opik::current_trace_data().is_none());
    // Its own span it can change.
    assert!(opik::update_current_span(|s| {
        s.metadata_entry("side", &"receiver");
    }));
    let here = opik::current_span_data().expect("a span of ours");
    assert_eq!(
        Some(here.trace_id),
        opik::distributed::distributed_headers().map(|h| h.trace_id)
    );
    10
}

#[opik::track]
fn sync_remote(x: u32) -> u32 {
    x * 2
}

/// "Another service": its own thread, runtime and client, sending to the same server.
fn serve(server: &FakeOpik, headers: http::HeaderMap) -> u32 {
    let base = client_for(server);
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let out = rt.block_on(base.scope(opik::distributed::with_distributed_headers(
                &headers,
                remote_handler(1),
            )));
            assert!(base.flush(Duration::from_secs(5)).completed);
            out
        })
        .join()
        .unwrap()
    })
}

#[opik::track]
async fn client_request(server_ref: &FakeOpik, mode: &str) -> u32 {
    let h = opik::distributed::distributed_headers().expect("inside a span");
    let headers = match mode {
        "opik" => h.to_header_map(),
        "traceparent" => {
            let mut only = http::HeaderMap::new();
            only.insert("traceparent", h.traceparent().parse().unwrap());
            only
        }
        _ => unreachable!(),
    };
    serve(server_ref, headers)
}

fn run_caller(server: &FakeOpik, mode: &str) -> (Vec<Value>, Vec<Value>) {
    let client = client_for(server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(client.scope(client_request(server, mode)));
    assert_eq!(out, 11);
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    (server.traces(), server.spans())
}

#[test]
fn opik_headers_continue_the_trace_in_another_runtime() {
    let server = FakeOpik::start();
    let (traces, spans) = run_caller(&server, "opik");
    assert_eq!(
        traces.len(),
        1,
        "only the caller creates the trace: {traces:#?}"
    );
    assert_eq!(traces[0]["name"], "client_request");
    let caller = span(&spans, "client_request");
    let handler = span(&spans, "remote_handler");
    let child = span(&spans, "remote_child");
    for s in [caller, handler, child] {
        assert_eq!(s["trace_id"], traces[0]["id"]);
    }
    assert_eq!(handler["parent_span_id"], caller["id"]);
    assert_eq!(child["parent_span_id"], handler["id"]);
    assert_eq!(child["metadata"], serde_json::json!({"side": "receiver"}));
}

#[test]
fn traceparent_alone_joins_the_trace_at_the_top_level() {
    let server = FakeOpik::start();
    let (traces, spans) = run_caller(&server, "traceparent");
    assert_eq!(traces.len(), 1, "{traces:#?}");
    let handler = span(&spans, "remote_handler");
    assert_eq!(handler["trace_id"], traces[0]["id"]);
    // 8 bytes of W3C parent id cannot name a 16-byte Opik span: top level of the trace.
    assert!(handler.get("parent_span_id").is_none(), "{handler}");
    assert_eq!(
        span(&spans, "remote_child")["parent_span_id"],
        handler["id"]
    );
}

#[opik::track]
fn outgoing() -> opik::distributed::DistributedHeaders {
    opik::distributed::distributed_headers().unwrap()
}

#[test]
fn headers_out_in_python_and_w3c_form() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let h = client.run(outgoing);
    assert!(client.flush(Duration::from_secs(5)).completed);
    let s = &server.spans()[0];
    let map = h.to_map();
    assert_eq!(map["opik_trace_id"], s["trace_id"].as_str().unwrap());
    assert_eq!(map["opik_parent_span_id"], s["id"].as_str().unwrap());
    let tp = h.traceparent();
    let trace_hex = s["trace_id"].as_str().unwrap().replace('-', "");
    let span_hex = s["id"].as_str().unwrap().replace('-', "");
    assert_eq!(tp, format!("00-{trace_hex}-{}-01", &span_hex[16..]));
    let hm = h.to_header_map();
    assert_eq!(hm["traceparent"], tp.as_str());
    assert_eq!(hm["opik_trace_id"], map["opik_trace_id"].as_str());
    // Outside a span there are none.
    assert!(opik::distributed::distributed_headers().is_none());
}

#[test]
fn a_python_style_map_continues_the_trace_in_sync_code() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let h = client.run(outgoing);
    // As the Python SDK's get_distributed_trace_headers() dict arrives in a message.
    let received: BTreeMap<String, String> = h.to_map();
    let out = client
        .run(|| opik::distributed::run_with_distributed_headers(&received, || sync_remote(4)));
    assert_eq!(out, 8);
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let spans = server.spans();
    let remote = span(&spans, "sync_remote");
    let caller = span(&spans, "outgoing");
    assert_eq!(remote["parent_span_id"], caller["id"]);
    assert_eq!(remote["trace_id"], caller["trace_id"]);
    assert_eq!(server.traces().len(), 1);
}

#[test]
fn foreign_or_malformed_headers_start_a_new_valid_trace() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let cases: [&[(&str, &str)]; 4] = [
        // An OpenTelemetry trace id (not a UUID v7): Opik would reject it on the wire.
        &[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        &[("traceparent", "garbage")],
        &[
            ("opik_trace_id", "not-a-uuid"),
            ("opik_parent_span_id", "x"),
        ],
        // A UUID v4 trace id.
        &[("opik_trace_id", "9b2f3c1e-8a4d-4f5e-9c3b-2a1d0e9f8b7c")],
    ];
    for headers in cases {
        let out = client
            .run(|| opik::distributed::run_with_distributed_headers(headers, || sync_remote(1)));
        assert_eq!(out, 2);
    }
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid(); // every id on the wire is a v7
    assert_eq!(server.traces().len(), 4, "each call started its own trace");
    for s in server.spans() {
        assert!(s.get("parent_span_id").is_none());
        assert_ne!(s["trace_id"], "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    }
}
