//! Issue "#[track], complete", function shapes: methods (the receiver is never captured),
//! generics, `impl Trait` arguments, functions returning `impl Future` or
//! `Pin<Box<dyn Future>>` (the span covers the future's run, not its construction),
//! `#[async_trait]` methods, `unsafe fn`, inner attributes and `#[cfg]`ed parameters all record
//! the right span, nested under the right parent.

mod common;

use common::{client_for, record_async, span};
use fake_opik::FakeOpik;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, Serialize)]
struct Tuner {
    pitch: u32,
}

impl Tuner {
    #[opik::track]
    fn by_ref(&self, cents: i32) -> u32 {
        self.pitch + cents.unsigned_abs()
    }

    #[opik::track(type = "tool")]
    fn by_mut(&mut self, to: u32) {
        self.pitch = to;
    }

    #[opik::track]
    async fn by_ref_async(&self) -> u32 {
        tokio::task::yield_now().await;
        self.pitch
    }

    #[opik::track]
    fn by_value(self) -> u32 {
        self.pitch
    }

    /// Borrows from the receiver in the return value: the body runs in a closure that must
    /// still be able to hand out the borrow.
    #[opik::track]
    fn pitch_mut(&mut self) -> &mut u32 {
        &mut self.pitch
    }
}

#[opik::track]
fn generic<T: Serialize + Clone>(value: T) -> Vec<T> {
    vec![value.clone(), value]
}

#[opik::track]
fn displays(label: impl Display) -> String {
    format!("<{label}>")
}

#[opik::track]
async fn parent(n: u32) -> u32 {
    let mut t = Tuner { pitch: n };
    t.by_mut(n + 1);
    *t.pitch_mut() += 1;
    let a = t.by_ref(-2);
    let b = t.by_ref_async().await;
    let c = t.by_value();
    a + b + c + generic(1u8).len() as u32 + displays(7).len() as u32
}

#[test]
fn methods_generics_and_impl_trait_arguments() {
    let (traces, spans) = record_async(parent(440));
    assert_eq!(traces.len(), 1);
    let root = span(&spans, "parent");
    for name in [
        "by_mut",
        "pitch_mut",
        "by_ref",
        "by_ref_async",
        "by_value",
        "generic",
        "displays",
    ] {
        let s = span(&spans, name);
        assert_eq!(s["parent_span_id"], root["id"], "{name} nests under parent");
        let input = s["input"].as_object().cloned().unwrap_or_default();
        assert!(
            !input.contains_key("self"),
            "the receiver is never captured"
        );
    }
    assert_eq!(span(&spans, "by_mut")["type"], "tool");
    assert_eq!(span(&spans, "by_ref")["input"], json!({"cents": -2}));
    assert_eq!(span(&spans, "by_ref")["output"], json!({"output": 444}));
    assert_eq!(span(&spans, "by_value")["output"], json!({"output": 442}));
    assert_eq!(span(&spans, "generic")["input"], json!({"value": 1}));
    assert_eq!(span(&spans, "generic")["output"], json!({"output": [1, 1]}));
    assert_eq!(span(&spans, "displays")["output"], json!({"output": "<7>"}));
    assert_eq!(root["input"], json!({"n": 440}));
}

/// A sync function that builds a future: the span must start when it is first polled.
#[opik::track(name = "impl-future")]
fn impl_future(x: u32) -> impl Future<Output = u32> {
    async move {
        tokio::task::yield_now().await;
        x * 2
    }
}

#[opik::track(name = "boxed-future")]
fn boxed_future(x: u32) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send>> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        if x > 0 {
            Ok(x)
        } else {
            Err("zero".to_owned())
        }
    })
}

#[opik::track(skip(futs))]
async fn awaits(futs: (Pin<Box<dyn Future<Output = u32> + Send>>, u32)) -> u32 {
    let (a, b) = futs;
    let ok = boxed_future(b).await.unwrap_or(0);
    let err = boxed_future(0).await.unwrap_or(0);
    a.await + ok + err
}

#[test]
fn futures_built_before_a_span_run_under_the_span_that_polls_them() {
    let (traces, spans) = record_async(async {
        // Built here, outside any span; awaited inside `awaits`.
        let early: Pin<Box<dyn Future<Output = u32> + Send>> = Box::pin(impl_future(5));
        assert_eq!(awaits((early, 3)).await, 13);
    });
    assert_eq!(traces.len(), 1, "one trace: the future joined its poller's");
    let root = span(&spans, "awaits");
    let f = span(&spans, "impl-future");
    assert_eq!(f["parent_span_id"], root["id"]);
    assert_eq!(
        f["input"],
        json!({"x": 5}),
        "arguments captured at the call"
    );
    assert_eq!(f["output"], json!({"output": 10}));
    let boxed: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "boxed-future")
        .collect();
    assert_eq!(boxed.len(), 2);
    for b in &boxed {
        assert_eq!(b["parent_span_id"], root["id"]);
    }
    assert!(boxed.iter().any(|b| b["output"] == json!({"output": 3})));
    assert!(boxed
        .iter()
        .any(|b| b["error_info"]["message"] == "zero" && b.get("output").is_none()));
}

#[async_trait::async_trait]
trait Speaker {
    async fn speak(&self, text: &str) -> usize;
}

struct Voice;

#[async_trait::async_trait]
impl Speaker for Voice {
    #[opik::track(name = "voice.speak", type = "llm")]
    async fn speak(&self, text: &str) -> usize {
        tokio::task::yield_now().await;
        text.len()
    }
}

#[opik::track]
async fn conversation(voice: &dyn Speaker) -> usize {
    voice.speak("hello").await + voice.speak("hi").await
}

#[test]
fn async_trait_methods() {
    let (_, spans) = record_async(async {
        let voice = Voice;
        assert_eq!(conversation(&voice).await, 7);
    });
    let root = span(&spans, "conversation");
    let speaks: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "voice.speak")
        .collect();
    assert_eq!(speaks.len(), 2);
    for s in speaks {
        assert_eq!(s["parent_span_id"], root["id"]);
        assert_eq!(s["type"], "llm");
        assert!(s["input"]["text"].is_string(), "{s}");
        assert!(s["output"]["output"].is_number(), "{s}");
    }
}

/// # Safety
/// `p` must be valid for reads.
#[opik::track]
unsafe fn read_raw(p: *const u8) -> u8 {
    // SAFETY: the caller guarantees `p` is valid.
    unsafe { *p }
}

#[opik::track]
fn with_inner_attribute(x: u32) -> u32 {
    #![allow(clippy::identity_op)]
    x * 1
}

#[opik::track]
fn with_cfg_params(#[cfg(any())] never: u32, #[cfg(not(any()))] always: u32) -> u32 {
    always
}

#[test]
fn unsafe_fn_inner_attributes_and_cfg_params() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(|| {
        let v = 9u8;
        // SAFETY: `v` lives for the call.
        assert_eq!(unsafe { read_raw(&v) }, 9);
        assert_eq!(with_inner_attribute(4), 4);
        assert_eq!(with_cfg_params(6), 6);
    });
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let spans = server.spans();
    assert_eq!(span(&spans, "read_raw")["output"], json!({"output": 9}));
    assert!(span(&spans, "read_raw")["input"]["p"].is_string());
    assert_eq!(
        span(&spans, "with_inner_attribute")["output"],
        json!({"output": 4})
    );
    assert_eq!(
        span(&spans, "with_cfg_params")["input"],
        json!({"always": 6})
    );
}

#[test]
fn shapes_run_unchanged_when_nothing_records() {
    // No client anywhere: every shape is just the function.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert_eq!(rt.block_on(parent(440)), 1333);
    assert_eq!(rt.block_on(impl_future(2)), 4);
    assert_eq!(rt.block_on(boxed_future(0)), Err("zero".to_owned()));
    assert_eq!(rt.block_on(Voice.speak("abc")), 3);
}

#[opik::track(
    name = "async.fails",
    type = "tool",
    tags = ["retry"],
    metadata = { "attempt": attempt },
    thread_id = format!("chat-{attempt}"),
)]
async fn async_fails(attempt: u8) -> Result<u8, std::io::Error> {
    tokio::task::yield_now().await;
    Err(std::io::Error::other(format!("boom {attempt}")))
}

#[opik::track]
async fn async_panics(x: u8) -> u8 {
    tokio::task::yield_now().await;
    if x > 0 {
        panic!("async boom");
    }
    x
}

#[opik::track]
fn never_ready(x: u8) -> impl Future<Output = u8> {
    async move {
        std::future::pending::<()>().await;
        x
    }
}

#[test]
fn async_shapes_record_arguments_errors_panics_and_cancellation() {
    let (traces, spans) = record_async(async {
        assert!(async_fails(2).await.is_err());
    });
    let s = span(&spans, "async.fails");
    assert_eq!(s["type"], "tool");
    assert_eq!(s["tags"], json!(["retry"]));
    assert_eq!(s["metadata"], json!({"attempt": 2}));
    assert_eq!(s["input"], json!({"attempt": 2}));
    assert_eq!(s["error_info"]["exception_type"], "Error");
    assert_eq!(s["error_info"]["message"], "boom 2");
    assert_eq!(traces[0]["thread_id"], "chat-2");
    assert_eq!(traces[0]["error_info"], s["error_info"]);

    let server = FakeOpik::start();
    let client = client_for(&server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(client.scope(async_panics(1)))
    }));
    let payload = caught.expect_err("the panic propagates through the tracked future");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"async boom"));
    rt.block_on(client.scope(async {
        let dropped = tokio::time::timeout(Duration::from_millis(20), never_ready(4)).await;
        assert!(dropped.is_err());
    }));
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let spans = server.spans();
    let info = &span(&spans, "async_panics")["error_info"];
    assert_eq!(info["exception_type"], "panic");
    assert_eq!(info["message"], "async boom");
    let s = span(&spans, "never_ready");
    assert_eq!(s["error_info"]["exception_type"], "cancelled");
    assert_eq!(s["input"], json!({"x": 4}));
}
