//! Issue "#[track], complete", arguments: each argument of `#[track]` shows up in what reaches
//! Opik (name, type, tags, metadata, capture flags, skip, thread_id, project_name, flush), and
//! inputs/outputs are recorded as the issue says (Serialize, Debug fallback, type name, Err with
//! its source chain, None, panics, dropped futures).

mod common;

use common::{client_for, record, record_async, span, TEST_PROJECT};
use fake_opik::FakeOpik;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

opik::tags! {
    /// The live coaching agent.
    pub LIVE_COACH = "live-coach";
    pub TTS = "tts";
}

#[opik::track(
    name = "coach.answer",
    type = "llm",
    tags = [LIVE_COACH, "beta", TTS],
    metadata = { "scale": "C major", "session_id": session_id, "bars": bars * 2 },
    thread_id = format!("session-{session_id}"),
)]
fn answer(session_id: u32, bars: u32) -> String {
    format!("{bars} bars")
}

#[test]
fn name_type_tags_metadata_and_thread_id_reach_span_and_trace() {
    let (traces, spans) = record(|| answer(7, 4));
    let s = span(&spans, "coach.answer");
    assert_eq!(s["type"], "llm");
    assert_eq!(s["tags"], json!(["live-coach", "beta", "tts"]));
    assert_eq!(
        s["metadata"],
        json!({"scale": "C major", "session_id": 7, "bars": 8})
    );
    assert_eq!(s["input"], json!({"session_id": 7, "bars": 4}));
    assert_eq!(s["output"], json!({"output": "4 bars"}));
    assert_eq!(traces.len(), 1);
    let t = &traces[0];
    assert_eq!(t["name"], "coach.answer");
    assert_eq!(t["thread_id"], "session-7");
    assert_eq!(t["metadata"], s["metadata"]);
    assert_eq!(t["tags"], s["tags"]);
}

/// What a nested call reads of its trace while it runs.
#[opik::track]
fn thread_seen_inside() -> Option<String> {
    opik::current_trace_data().and_then(|t| t.thread_id)
}

#[opik::track(thread_id = format!("session-{session_id}"))]
fn session_turn(session_id: u32) -> Option<String> {
    thread_seen_inside()
}

#[test]
fn the_thread_set_on_the_root_is_visible_through_current_trace_data() {
    let (traces, _) = record(|| assert_eq!(session_turn(9).as_deref(), Some("session-9")));
    assert_eq!(traces[0]["thread_id"], "session-9");
}

#[opik::track(name = format!("step-{}", n))]
fn named_at_run_time(n: u8) -> u8 {
    n
}

#[opik::track(thread_id = "inner-thread")]
fn child_with_thread() {}

#[opik::track]
fn parent_of_thread_child() {
    child_with_thread();
}

#[test]
fn name_expression_is_evaluated_per_call_and_thread_id_only_applies_to_new_traces() {
    let (_, spans) = record(|| {
        named_at_run_time(1);
        named_at_run_time(2);
    });
    span(&spans, "step-1");
    span(&spans, "step-2");

    let (traces, spans) = record(parent_of_thread_child);
    assert_eq!(traces.len(), 1);
    assert!(
        traces[0].get("thread_id").is_none(),
        "a nested call does not change the trace's thread: {:?}",
        traces[0]
    );
    assert_eq!(spans.len(), 2);
}

#[derive(Debug)]
struct DebugOnly {
    #[allow(dead_code)]
    level: u8,
}

struct Opaque;

#[opik::track(skip(api_key))]
fn inputs(
    text: &str,
    api_key: &str,
    d: DebugOnly,
    o: Opaque,
    nan: f64,
    (x, y): (u8, u8),
    by_pair: HashMap<(u8, u8), u8>,
) {
    let _ = (text, api_key, d, o, nan, x, y, by_pair);
}

#[opik::track(skip_all)]
fn nothing_in(secret: &str) -> usize {
    secret.len()
}

#[opik::track(capture_input = false, capture_output = false)]
fn nothing_captured(secret: &str) -> String {
    secret.to_uppercase()
}

#[test]
fn inputs_serialize_or_fall_back_and_skips_leave_arguments_out() {
    let (_, spans) = record(|| {
        inputs(
            "hi",
            "sk-123",
            DebugOnly { level: 3 },
            Opaque,
            f64::NAN,
            (1, 2),
            HashMap::from([((1, 2), 3)]),
        );
        nothing_in("sk-123");
        nothing_captured("sk-123");
    });
    let s = span(&spans, "inputs");
    let input = &s["input"];
    assert_eq!(input["text"], "hi");
    assert!(input.get("api_key").is_none(), "skipped: {input}");
    assert_eq!(input["d"], "DebugOnly { level: 3 }");
    assert_eq!(input["o"], "<Opaque>");
    assert_eq!(
        input["x"], 1,
        "destructured parameters are captured by name"
    );
    assert_eq!(input["y"], 2);
    // serde_json writes NaN as null; a map with non-string keys fails to serialize, and the
    // failure is recorded as a string instead of a panic.
    assert!(input["nan"].is_null(), "{input}");
    let failure = input["by_pair"].as_str().unwrap_or_default();
    assert!(failure.contains("key must be a string"), "{input}");
    assert!(s.get("output").is_none(), "a unit return records no output");

    let s = span(&spans, "nothing_in");
    assert!(s.get("input").is_none() || s["input"] == json!({}), "{s}");
    assert_eq!(s["output"], json!({"output": 6}));

    let s = span(&spans, "nothing_captured");
    assert!(s.get("input").is_none() || s["input"] == json!({}), "{s}");
    assert!(s.get("output").is_none(), "{s}");
    for s in &spans {
        assert!(!s.to_string().contains("sk-123"), "secret leaked: {s}");
    }
}

#[derive(Debug)]
struct Io;
impl fmt::Display for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset")
    }
}
impl std::error::Error for Io {}

#[derive(Debug)]
struct LlmError(Io);
impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the model call failed")
    }
}
impl std::error::Error for LlmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[opik::track]
fn fails(ok: bool) -> Result<u32, LlmError> {
    if ok {
        Ok(5)
    } else {
        Err(LlmError(Io))
    }
}

#[opik::track]
fn maybe(some: bool) -> Option<&'static str> {
    some.then_some("found")
}

#[test]
fn ok_is_the_output_err_is_error_info_with_its_chain_and_none_records_nothing() {
    let (traces, spans) = record(|| {
        let _ = fails(true);
    });
    assert_eq!(span(&spans, "fails")["output"], json!({"output": 5}));
    assert!(traces[0].get("error_info").is_none());

    let (traces, spans) = record(|| {
        let _ = fails(false);
    });
    let s = span(&spans, "fails");
    assert!(s.get("output").is_none());
    let info = &s["error_info"];
    assert_eq!(info["exception_type"], "LlmError");
    assert_eq!(info["message"], "the model call failed");
    let traceback = info["traceback"].as_str().unwrap_or_default();
    assert!(
        traceback.contains("Caused by: connection reset"),
        "{traceback}"
    );
    assert_eq!(
        traces[0]["error_info"], *info,
        "the failed root fails the trace"
    );

    let (_, spans) = record(|| {
        maybe(false);
        maybe(true);
    });
    let outputs: Vec<&Value> = spans.iter().map(|s| &s["output"]).collect();
    assert!(
        outputs.contains(&&json!({"output": "found"})),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&&Value::Null),
        "None records no output: {outputs:?}"
    );
}

#[opik::track]
fn panics(msg: &str) -> u32 {
    panic!("{msg}")
}

#[test]
fn a_panic_is_recorded_and_continues_unchanged() {
    let (_, spans) = record(|| {
        let caught = std::panic::catch_unwind(|| panics("out of tune"));
        let payload = caught.expect_err("the panic propagates");
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "out of tune");
    });
    let info = &span(&spans, "panics")["error_info"];
    assert_eq!(info["exception_type"], "panic");
    assert_eq!(info["message"], "out of tune");
}

#[opik::track]
async fn never_finishes(x: u32) -> u32 {
    std::future::pending::<()>().await;
    x
}

#[test]
fn a_dropped_future_is_recorded_as_cancelled() {
    let (traces, spans) = record_async(async {
        let timed_out = tokio::time::timeout(Duration::from_millis(20), never_finishes(1)).await;
        assert!(timed_out.is_err());
    });
    let s = span(&spans, "never_finishes");
    assert_eq!(s["error_info"]["exception_type"], "cancelled");
    assert!(s["end_time"].is_string());
    assert_eq!(traces[0]["error_info"]["exception_type"], "cancelled");
}

#[opik::track(project_name = "other-project")]
fn in_other_project() -> u8 {
    1
}

#[opik::track]
fn parent_in_default_project() -> u8 {
    in_other_project()
}

#[test]
fn project_name_sets_a_new_traces_project_and_a_nested_call_follows_its_parent() {
    let (traces, spans) = record(in_other_project);
    assert_eq!(traces[0]["project_name"], "other-project");
    assert_eq!(spans[0]["project_name"], "other-project");

    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let (traces, spans) = tracing::subscriber::with_default(subscriber, || {
        record(|| {
            parent_in_default_project();
            parent_in_default_project();
        })
    });
    assert_eq!(traces.len(), 2);
    for s in spans.iter().chain(traces.iter()) {
        assert_eq!(s["project_name"], TEST_PROJECT, "{s}");
    }
    let logs = logs.text();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("other-project"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per call site: {logs}");
    assert!(warnings[0].contains("WARN"), "{logs}");
    assert!(warnings[0].contains(TEST_PROJECT), "{logs}");
}

/// Log output captured by the test's subscriber.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl LogBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

#[opik::track(flush = true)]
fn flushes(x: u8) -> u8 {
    x
}

#[opik::track(flush = true)]
async fn flushes_async(x: u8) -> u8 {
    x
}

#[test]
fn flush_true_delivers_before_the_call_returns() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(|| flushes(3));
    // No client.flush(): the call itself waited for delivery.
    assert_eq!(server.traces().len(), 1);
    assert_eq!(server.spans().len(), 1);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(client.scope(flushes_async(4)));
    assert_eq!(server.traces().len(), 2);
}
