//! Issue "FretCoach example, local view": with the local view, each finished trace is printed as
//! a tree and every request body is appended, unchanged, to a JSON lines file whose bodies are
//! valid Opik requests (replayed to the fake server, they pass its spec checks).

mod common;

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use opik::export::{Client, EncodedBatch, LocalTransport, RecordKind, Transport};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn temp_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "opik-rs-test-{name}-{}-{}.jsonl",
        std::process::id(),
        fastrand_suffix()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn local_client(path: &PathBuf, screen: &Screen) -> Client {
    let transport = LocalTransport::open(path)
        .expect("temp file opens")
        .with_output(screen.clone());
    let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .local(true)
        .project_name("local-test")
        .flush_interval(Duration::from_millis(20))
        .resolve()
        .expect("valid")
        .into_config()
        .expect("local");
    Client::with_transport(&config, Box::new(transport)).expect("client starts")
}

#[opik::track(name = "practice-session", tags = ["fretcoach"])]
async fn session() -> u32 {
    opik::update_current_trace(|t| {
        t.thread_id("session-abc123");
    });
    let a = feedback(1).await;
    let b = summary().await.unwrap_or(0);
    a + b
}

#[opik::track(name = "live-coach-feedback", type = "llm", tags = ["live-coach", "live-feedback"])]
async fn feedback(round: u32) -> u32 {
    opik::update_current_span(|s| {
        s.model("gpt-4o-mini")
            .provider("openai")
            .usage(opik::Usage::new(400, 112));
    });
    tts(round);
    round
}

#[opik::track(name = "live-coach-tts", tags = ["tts", "live-coach"])]
fn tts(round: u32) -> u32 {
    round
}

#[derive(Debug)]
struct Timeout;

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model did not answer within 20s")
    }
}

impl std::error::Error for Timeout {}

#[opik::track(name = "session-summary", type = "llm")]
async fn summary() -> Result<u32, Timeout> {
    Err(Timeout)
}

#[tokio::test]
async fn local_view_prints_the_tree_and_writes_valid_request_lines() {
    let path = temp_file("tree");
    let screen = Screen::default();
    let client = local_client(&path, &screen);
    client.scope(session()).await;
    let report = client.flush_async(Duration::from_secs(5)).await;
    assert!(report.completed, "{report:?}");

    let printed = screen.text();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 4, "printed:\n{printed}");
    assert!(
        lines[0].starts_with("Trace: practice-session [")
            && lines[0].ends_with("] (thread session-abc123) fretcoach"),
        "trace line: {printed}"
    );
    assert!(
        lines[1].starts_with("  ├─ live-coach-feedback [llm gpt-4o-mini ")
            && lines[1].ends_with(" 512 tok] live-coach, live-feedback"),
        "feedback line: {printed}"
    );
    assert!(
        lines[2].starts_with("  │   └─ live-coach-tts [")
            && lines[2].ends_with("] tts, live-coach"),
        "tts line: {printed}"
    );
    assert!(
        lines[3].starts_with("  └─ session-summary [llm ")
            && lines[3].contains("] !! ")
            && lines[3].ends_with("Timeout: the model did not answer within 20s"),
        "summary line with its error: {printed}"
    );

    let lines = common::read_json_lines(&path);
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["/v1/private/traces/batch", "/v1/private/spans/batch"],
        "one request per endpoint"
    );
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["body"]["traces"][0]["thread_id"], "session-abc123");
    assert_eq!(lines[1]["body"]["spans"].as_array().unwrap().len(), 4);

    // Replayed to a fake Opik, every body passes its checks against the OpenAPI spec.
    let server = FakeOpik::start();
    common::replay(&lines, &server).await;
    server.assert_valid();
    assert_eq!(server.traces().len(), 1);
    let spans = server.spans();
    let feedback = common::span(&spans, "live-coach-feedback");
    assert_eq!(feedback["model"], "gpt-4o-mini");
    assert_eq!(feedback["usage"]["total_tokens"], 512);
    let tts = common::span(&spans, "live-coach-tts");
    assert_eq!(tts["parent_span_id"], feedback["id"]);
    drop(client);
    let _ = std::fs::remove_file(&path);
}

/// The line's body is the request body byte for byte: the file holds exactly what the
/// transport was given.
#[test]
fn each_line_holds_the_body_bytes_unchanged() {
    let path = temp_file("bytes");
    let body = br#"{"traces":[{"id":"0192f0c1-0000-7000-8000-000000000001","project_name":"p","name":"t \"q\"\n","start_time":"2026-11-27T13:56:06.374632Z","end_time":"2026-11-27T13:56:07.374632Z","last_updated_at":"2026-11-27T13:56:07.374632Z","source":"sdk"}]}"#;
    let mut transport = LocalTransport::open(&path)
        .unwrap()
        .with_output(Screen::default());
    let batch = EncodedBatch {
        kind: RecordKind::Trace,
        json: body.to_vec(),
        items: 1,
    };
    send(&mut transport, &batch);
    drop(transport);
    let text = std::fs::read(&path).unwrap();
    let expected = [
        &br#"{"method":"POST","path":"/v1/private/traces/batch","body":"#[..],
        &body[..],
        b"}\n",
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&text),
        String::from_utf8_lossy(&expected)
    );
    let _ = std::fs::remove_file(&path);
}

fn send(transport: &mut LocalTransport, batch: &EncodedBatch) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(transport.send(batch));
}

fn batch(kind: RecordKind, items: Value) -> EncodedBatch {
    let n = items.as_array().map_or(0, Vec::len);
    EncodedBatch {
        kind,
        json: serde_json::to_vec(&json!({ kind.array_key(): items })).unwrap(),
        items: n,
    }
}

fn span_item(id: &str, parent: Option<&str>, name: &str, start: &str, end: &str) -> Value {
    let mut s = json!({
        "id": id, "trace_id": "t1", "project_name": "p", "name": name, "type": "general",
        "start_time": start, "end_time": end,
    });
    if let Some(p) = parent {
        s["parent_span_id"] = json!(p);
    }
    s
}

/// A trace is printed only once it is complete, whichever of its records arrive first, and
/// spans that end after their trace are printed at shutdown rather than lost.
#[test]
fn traces_wait_for_their_spans_and_late_spans_show_at_shutdown() {
    let screen = Screen::default();
    let mut transport = LocalTransport::print_only().with_output(screen.clone());
    let t0 = "2026-11-27T13:56:06.000000Z";
    // A child arrives before its parent and the trace record.
    send(
        &mut transport,
        &batch(
            RecordKind::Span,
            json!([span_item(
                "s2",
                Some("s1"),
                "child",
                t0,
                "2026-11-27T13:56:06.250000Z"
            )]),
        ),
    );
    assert_eq!(
        screen.text(),
        "",
        "nothing printed before the trace is complete"
    );
    send(
        &mut transport,
        &batch(
            RecordKind::Trace,
            json!([{"id": "t1", "project_name": "p", "name": "root", "start_time": t0,
                    "end_time": "2026-11-27T13:56:08.500000Z", "thread_id": "user-7"}]),
        ),
    );
    assert_eq!(screen.text(), "", "the root span has not arrived yet");
    send(
        &mut transport,
        &batch(
            RecordKind::Span,
            json!([span_item(
                "s1",
                None,
                "root",
                t0,
                "2026-11-27T13:56:08.500000Z"
            )]),
        ),
    );
    assert_eq!(
        screen.text(),
        "Trace: root [2.5s] (thread user-7)\n  └─ child [250ms]\n"
    );
    send(
        &mut transport,
        &batch(
            RecordKind::TraceFeedback,
            json!([{"id": "t1", "project_name": "p", "name": "helpful", "value": 1.0,
                    "reason": "clear tip", "source": "sdk"}]),
        ),
    );
    send(
        &mut transport,
        &batch(
            RecordKind::Span,
            json!([span_item(
                "s3",
                Some("s1"),
                "detached",
                t0,
                "2026-11-27T13:57:06.000000Z"
            )]),
        ),
    );
    drop(transport);
    assert_eq!(
        screen.text(),
        "Trace: root [2.5s] (thread user-7)\n  └─ child [250ms]\n\
         Feedback: helpful = 1.0 (clear tip) on trace root (thread user-7), id …t1\n\
         Trace: root (thread user-7) (spans that ended after the trace)\n  └─ detached [1m00s]\n"
    );
}

/// `OPIK_LOCAL=1` (here: `ConfigBuilder::local(true)`) makes `init_with` install the local
/// view; `init_or_local` does so only when nothing is configured.
#[test]
fn init_with_local_installs_the_local_view() {
    let path = temp_file("init");
    let guard = opik::init_or_local(opik::config::ConfigBuilder::with_env_map([(
        "OPIK_LOCAL_FILE",
        path.to_string_lossy().into_owned(),
    )]))
    .expect("init");
    assert!(
        guard.is_enabled(),
        "nothing configured: the local view is installed"
    );
    tts(7);
    drop(guard); // shuts down: delivers to the file
    let lines = common::read_json_lines(&path);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0]["body"]["traces"][0]["name"], "live-coach-tts");

    // With a server configured, init_or_local sends to it rather than printing.
    let server = FakeOpik::start();
    let guard = opik::init_or_local(common::config_for(&server)).expect("init");
    tts(8);
    drop(guard);
    assert_eq!(server.traces().len(), 1);
    server.assert_valid();
    let _ = std::fs::remove_file(&path);
}

/// Traces made with the explicit client (no root span of their own, several top-level spans)
/// print as a tree too.
#[test]
fn explicit_traces_print_with_their_top_level_spans() {
    let path = temp_file("explicit");
    let screen = Screen::default();
    let client = local_client(&path, &screen);
    let opik = opik::Opik::new(client.clone());
    let session = opik.trace("practice-session");
    session.update(|t| {
        t.thread_id("session-42");
    });
    let feedback = session.span_with_type("live-coach-feedback", opik::SpanType::Llm);
    let tts = feedback.span("live-coach-tts");
    tts.end();
    feedback.end();
    session.span("session-summary").end();
    session.end();
    assert!(client.flush(Duration::from_secs(5)).completed);
    let printed = screen.text();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 4, "{printed}");
    assert!(
        lines[0].starts_with("Trace: practice-session [")
            && lines[0].ends_with("(thread session-42)"),
        "{printed}"
    );
    assert!(
        lines[1].starts_with("  ├─ live-coach-feedback [llm "),
        "{printed}"
    );
    assert!(
        lines[2].starts_with("  │   └─ live-coach-tts ["),
        "{printed}"
    );
    assert!(lines[3].starts_with("  └─ session-summary ["), "{printed}");
    drop(client);
    let _ = std::fs::remove_file(&path);
}

#[opik::track(name = "speak", type = "tool")]
fn speak_with_audio() -> usize {
    opik::update_current_span(|s| {
        s.attachment(opik::Attachment::from_bytes(
            vec![0u8; 2048],
            "answer.wav",
            "audio/wav",
        ));
    });
    2048
}

#[opik::track(name = "coach-round")]
fn round_with_audio() -> usize {
    speak_with_audio()
}

#[test]
fn local_view_shows_each_attachment_under_its_span_and_writes_a_line_for_it() {
    let path = temp_file("attachments");
    let screen = Screen::default();
    let client = local_client(&path, &screen);
    client.run(round_with_audio);
    assert!(client.flush(Duration::from_secs(5)).completed);
    drop(client);
    let text = screen.text();
    assert!(
        text.contains("└─ speak [tool")
            && text.contains("+ attachment answer.wav (audio/wav, 2.0 KiB)"),
        "{text}"
    );
    let lines = common::read_json_lines(&path);
    let noted = lines
        .iter()
        .find_map(|l| l.get("attachment"))
        .expect("a line for the attachment");
    assert_eq!(noted["file_name"], "answer.wav");
    assert_eq!(noted["size"], 2048);
    assert_eq!(noted["entity_type"], "span");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_testing_recorder_keeps_attachments_with_their_bytes() {
    let recorded = opik::testing::record(|| {
        round_with_audio();
    });
    let span = recorded.span("speak");
    let attachments = recorded.attachments_of(span);
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].file_name, "answer.wav");
    assert_eq!(attachments[0].bytes.len(), 2048);
}
