//! `true` from an update means "it is in the record": threads update a span (and its trace)
//! while another thread ends it, and every update that was accepted is found in what Opik
//! receives, none that was refused, each record exactly once.

mod common;

use fake_opik::{Entity, FakeOpik};
use opik::Opik;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const ROUNDS: usize = 300;
const THREADS: usize = 4;
const UPDATES: usize = 60;

/// The metadata keys of a delivered item.
fn keys(item: &Value) -> BTreeSet<String> {
    item["metadata"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn accepted_updates_are_in_the_record_and_refused_ones_are_not() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    let mut expected_spans = BTreeSet::new();
    let mut expected_traces = BTreeSet::new();
    let mut accepted_span_keys: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut accepted_trace_keys: Vec<(String, BTreeSet<String>)> = Vec::new();
    for round in 0..ROUNDS {
        let trace = opik.trace(format!("round-{round}"));
        let span = trace.span("contended");
        let trace_id = trace.id().expect("recording").to_string();
        let span_id = span.id().expect("recording").to_string();
        let start = Arc::new(Barrier::new(THREADS + 1));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (span, trace, start) = (span.clone(), trace.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    let mut on_span = BTreeSet::new();
                    let mut on_trace = BTreeSet::new();
                    start.wait();
                    for i in 0..UPDATES {
                        let key = format!("t{t}-u{i}");
                        // Half through the handle, half as the current span of a context.
                        let took = if i % 2 == 0 {
                            span.update(|s| {
                                s.metadata_entry(&key, &true);
                            })
                        } else {
                            span.context().run(|| {
                                opik::update_current_span(|s| {
                                    s.metadata_entry(&key, &true);
                                })
                            })
                        };
                        if took {
                            on_span.insert(key.clone());
                        }
                        if trace.update(|tr| {
                            tr.metadata_entry(&key, &true);
                        }) {
                            on_trace.insert(key);
                        }
                    }
                    (on_span, on_trace)
                })
            })
            .collect();
        start.wait();
        // End while the updates run, a little later each round.
        for _ in 0..(round % 60) * 40 {
            std::hint::spin_loop();
        }
        span.end();
        trace.end();
        let mut on_span = BTreeSet::new();
        let mut on_trace = BTreeSet::new();
        for w in workers {
            let (s, t) = w.join().expect("no panic");
            on_span.extend(s);
            on_trace.extend(t);
        }
        expected_spans.insert(span_id.clone());
        expected_traces.insert(trace_id.clone());
        accepted_span_keys.push((span_id, on_span));
        accepted_trace_keys.push((trace_id, on_trace));
    }
    assert!(client.flush(Duration::from_secs(10)).completed);
    server.assert_valid();
    server.assert_delivered_once(Entity::Span);
    server.assert_delivered_once(Entity::Trace);
    let spans = server.spans();
    let traces = server.traces();
    let by_id = |items: &[Value], id: &str| {
        items
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} was delivered"))
    };
    let mut partly = 0;
    for (id, accepted) in &accepted_span_keys {
        assert_eq!(&keys(&by_id(&spans, id)), accepted, "span {id}");
        partly += usize::from(!accepted.is_empty() && accepted.len() < THREADS * UPDATES);
    }
    for (id, accepted) in &accepted_trace_keys {
        assert_eq!(&keys(&by_id(&traces, id)), accepted, "trace {id}");
    }
    assert_eq!(spans.len(), expected_spans.len());
    assert_eq!(traces.len(), expected_traces.len());
    let stats = client.stats();
    assert_eq!(
        stats.produced,
        (2 * ROUNDS) as u64,
        "one trace and one span a round"
    );
    assert_eq!(stats.delivered, stats.produced);
    eprintln!("rounds where the end cut the updates short: {partly} of {ROUNDS}");
}
