//! Issue "Streams": `#[track]` on functions returning streams and iterators. The span covers the
//! consumption, is current while items are produced, aggregates the items into its output,
//! records `ttft`, `Err` items, an early drop and a panic.

mod common;

use fake_opik::FakeOpik;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use serde_json::{json, Value};
use std::pin::Pin;
use std::time::Duration;

/// A token of a streamed answer, produced by a tracked call (so it nests under the stream).
#[opik::track]
async fn next_token(i: u32) -> String {
    tokio::time::sleep(Duration::from_millis(2)).await;
    format!("tok{i} ")
}

#[opik::track(name = "live-coach-feedback", type = "llm")]
fn coach_stream(n: u32) -> impl Stream<Item = String> {
    stream::unfold(0u32, move |i| async move {
        if i == n {
            // The usage of a streamed answer is known at its end, set while producing it.
            opik::update_current_span(|s| {
                s.model("gpt-4o-mini").usage(opik::Usage::new(10, n as i64));
            });
            return None;
        }
        Some((next_token(i).await, i + 1))
    })
}

#[opik::track]
fn numbers(n: u32) -> Pin<Box<dyn Stream<Item = Result<u32, std::io::Error>> + Send>> {
    Box::pin(stream::iter((0..n).map(|i| {
        if i == 2 {
            Err(std::io::Error::other("chunk 2 was lost"))
        } else {
            Ok(i)
        }
    })))
}

fn total(items: Vec<Value>) -> Value {
    json!({"sum": items.iter().filter_map(Value::as_i64).sum::<i64>(), "count": items.len()})
}

#[opik::track(aggregate = total)]
fn counted(n: u32) -> BoxStream<'static, u32> {
    stream::iter(0..n).boxed()
}

#[opik::track]
fn objects(n: u32) -> impl Iterator<Item = Value> {
    (0..n).map(|i| json!({"i": i}))
}

#[opik::track]
fn panics_at(n: u32) -> impl Iterator<Item = u32> {
    (0..).inspect(move |i| {
        if *i == n {
            panic!("item {n} blew up");
        }
    })
}

#[opik::track]
async fn handler() -> Pin<Box<dyn Stream<Item = String> + Send>> {
    // Returned to the caller, polled after this span ended (as an SSE response is).
    Box::pin(coach_stream(3))
}

fn find<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    common::span(spans, name)
}

#[test]
fn a_tracked_stream_covers_its_consumption_and_its_items_nest_under_it() {
    let (traces, spans) = common::record_async(async {
        let items: Vec<String> = coach_stream(4).collect().await;
        assert_eq!(items.len(), 4);
    });
    assert_eq!(
        traces.len(),
        1,
        "the stream's span is a trace of its own here"
    );
    let span = find(&spans, "live-coach-feedback");
    assert_eq!(span["output"], json!({"output": "tok0 tok1 tok2 tok3 "}));
    assert_eq!(span["input"], json!({"n": 4}));
    assert_eq!(
        span["model"], "gpt-4o-mini",
        "updated while producing an item"
    );
    assert_eq!(span["usage"]["completion_tokens"], 4);
    let ttft = span["ttft"].as_f64().expect("ttft");
    assert!(
        ttft >= 1.5,
        "the first token took a 2 ms tracked call: {ttft}"
    );
    let tokens: Vec<&Value> = spans.iter().filter(|s| s["name"] == "next_token").collect();
    assert_eq!(tokens.len(), 4);
    assert!(tokens.iter().all(|t| t["parent_span_id"] == span["id"]));
    // The span lasted until the last item, not just the function call.
    let last_token_end = tokens.iter().filter_map(|t| t["end_time"].as_str()).max();
    assert!(span["end_time"].as_str() >= last_token_end);
    assert_eq!(
        traces[0]["ttft"], span["ttft"],
        "the trace's root carries it too"
    );
}

#[test]
fn err_items_are_the_spans_error_and_the_stream_goes_on() {
    let (_, spans) = common::record_async(async {
        let items: Vec<Result<u32, std::io::Error>> = numbers(5).collect().await;
        assert_eq!(items.iter().filter(|i| i.is_ok()).count(), 4);
    });
    let span = find(&spans, "numbers");
    assert_eq!(span["output"], json!({"output": [0, 1, 3, 4]}));
    assert_eq!(span["error_info"]["message"], "chunk 2 was lost");
}

#[test]
fn aggregate_makes_the_output_from_the_items() {
    let (_, spans) = common::record_async(async {
        assert_eq!(counted(4).count().await, 4);
    });
    assert_eq!(
        find(&spans, "counted")["output"],
        json!({"output": {"sum": 6, "count": 4}})
    );
}

#[test]
fn iterators_are_recorded_like_streams() {
    let (_, spans) = common::record(|| {
        assert_eq!(objects(3).count(), 3);
    });
    assert_eq!(
        find(&spans, "objects")["output"],
        json!({"output": [{"i": 0}, {"i": 1}, {"i": 2}]})
    );
}

#[test]
fn a_stream_dropped_early_ends_with_what_it_yielded() {
    let (_, spans) = common::record(|| {
        let first: Vec<Value> = objects(100).take(2).collect();
        assert_eq!(first.len(), 2);
    });
    let span = find(&spans, "objects");
    assert_eq!(span["output"], json!({"output": [{"i": 0}, {"i": 1}]}));
    assert_eq!(span["metadata"]["opik_stream"]["ended_early"], true);
    assert!(
        span.get("error_info").is_none(),
        "an early end is not an error"
    );
}

#[test]
fn a_panic_while_producing_an_item_ends_the_span_and_goes_on() {
    let (_, spans) = common::record(|| {
        let result = std::panic::catch_unwind(|| panics_at(3).count());
        assert!(result.is_err(), "the panic reached the consumer");
    });
    let span = find(&spans, "panics_at");
    assert_eq!(span["error_info"]["exception_type"], "panic");
    assert_eq!(span["error_info"]["message"], "item 3 blew up");
    assert_eq!(span["output"], json!({"output": [0, 1, 2]}));
}

#[test]
fn a_stream_polled_after_its_callers_span_ended_nests_under_that_span() {
    let (traces, spans) = common::record_async(async {
        let stream = handler().await;
        let items: Vec<String> = stream.collect().await;
        assert_eq!(items.len(), 3);
    });
    assert_eq!(traces.len(), 1);
    let handler = find(&spans, "handler");
    let stream = find(&spans, "live-coach-feedback");
    assert_eq!(stream["parent_span_id"], handler["id"]);
    assert!(stream["end_time"].as_str() > handler["end_time"].as_str());
}

#[test]
fn a_long_streams_output_is_cut_at_the_limit_and_marked() {
    let server = FakeOpik::start();
    let config = common::config_for(&server)
        .max_stream_output_bytes(64)
        .resolve()
        .expect("valid")
        .into_config()
        .expect("enabled");
    let client = opik::export::Client::new(&config).expect("client");
    client.run(|| assert_eq!(objects(1_000).count(), 1_000));
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let spans = server.spans();
    let span = find(&spans, "objects");
    assert_eq!(span["output"]["opik_truncated"], true);
    let kept = span["output"]["output"].as_array().map_or(0, Vec::len);
    assert!((1..10).contains(&kept), "kept {kept} of 1000 items");
}

/// A retry inside a streamed answer: the first item is an error, the answer comes 20 ms later.
#[opik::track]
fn retried_answer() -> impl Stream<Item = Result<String, std::io::Error>> {
    stream::unfold(0u32, |i| async move {
        match i {
            0 => Some((Err(std::io::Error::other("rate limited, retrying")), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((Ok("late ".to_owned()), 2))
            }
            _ => None,
        }
    })
}

#[test]
fn ttft_is_the_time_to_the_first_item_that_is_not_an_error() {
    let (_, spans) = common::record(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(retried_answer().for_each(|_| async {}));
    });
    let span = find(&spans, "retried_answer");
    let ttft = span["ttft"].as_f64().expect("ttft");
    assert!(ttft >= 19.0, "the first Ok item came after 20 ms: {ttft}");
    assert_eq!(span["error_info"]["message"], "rate limited, retrying");
}
