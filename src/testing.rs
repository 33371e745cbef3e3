//! Test support: run code with its traces captured in memory, then assert on them.
//!
//! Code run by a [`Recorder`] reports the traces it starts to a client of its own, whose
//! exporter hands every request body to memory instead of the network: the same bodies the
//! HTTP exporter sends, parsed back into [`serde_json::Value`]s. Each recorder is isolated
//! (tests can run in parallel), and the global client installed by `opik::init()`, if any, sees
//! nothing. This is the counterpart of the Python SDK's `record_traces_locally` and of
//! sentry's test transport. Enable it with the `testing` feature, usually as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! opik = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! #[opik::track(tags = ["coach"])]
//! fn coach(tempo: u32) -> String {
//!     tip(tempo)
//! }
//!
//! #[opik::track(type = "tool")]
//! fn tip(tempo: u32) -> String {
//!     format!("slow down to {}", tempo - 10)
//! }
//!
//! let recorded = opik::testing::record(|| {
//!     coach(120);
//! });
//! assert_eq!(recorded.traces().len(), 1);
//! let tip = recorded.span("tip");
//! assert_eq!(tip["type"], "tool");
//! assert_eq!(recorded.parent(tip).unwrap()["name"], "coach");
//! assert_eq!(recorded.trace("coach")["tags"], serde_json::json!(["coach"]));
//! ```
//!
//! Only traces *started* inside the recorder are captured: work moved to another thread or a
//! `tokio::spawn`ed task starts its own trace elsewhere unless it carries the context along.

use crate::config::ConfigBuilder;
use crate::export::{
    render_trace, AttachmentData, AttachmentRecord, Client, DropReason, EncodedBatch, RecordKind,
    SendFuture, SendOutcome, Transport, UploadFuture,
};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long [`Recorder::recorded`] waits for the exporter; far more than an in-memory export
/// takes, it only bounds a test that would otherwise hang.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The project captured traces are recorded in.
pub const PROJECT_NAME: &str = "opik-testing";

/// One request the SDK would have sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `POST` or `PUT`.
    pub method: &'static str,
    /// The path below the API base, e.g. `/v1/private/spans/batch`.
    pub path: &'static str,
    /// The body, parsed.
    pub body: Value,
}

/// One attachment the SDK would have uploaded, with its bytes (a file's, read when it was
/// "uploaded").
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedAttachment {
    /// `span` or `trace`.
    pub entity_type: &'static str,
    /// The span's or trace's id.
    pub entity_id: String,
    /// Its project.
    pub project_name: String,
    /// The file name it is stored under.
    pub file_name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Sink {
    requests: Vec<Request>,
    attachments: Vec<RecordedAttachment>,
}

type SharedSink = Arc<Mutex<Sink>>;

/// Keeps each batch in memory.
struct MemoryTransport {
    sink: SharedSink,
}

impl Transport for MemoryTransport {
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a> {
        // The exporter only produces valid JSON; should that ever break, the test sees the text.
        let body = serde_json::from_slice(&batch.json).unwrap_or_else(|e| {
            Value::String(format!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&batch.json)
            ))
        });
        self.sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .push(Request {
                method: batch.kind.method(),
                path: batch.kind.path(),
                body,
            });
        Box::pin(std::future::ready(SendOutcome::Delivered))
    }

    fn upload(&mut self, record: AttachmentRecord) -> UploadFuture {
        let a = &record.attachment;
        let bytes = match a.data() {
            AttachmentData::Bytes(b) => Ok(b.to_vec()),
            AttachmentData::File { path, .. } => {
                std::fs::read(path).map_err(|e| SendOutcome::Rejected {
                    reason: DropReason::FileUnreadable,
                    status: None,
                    detail: format!("cannot read {}: {e}", path.display()),
                })
            }
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(failed) => return Box::pin(std::future::ready(failed)),
        };
        self.sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .attachments
            .push(RecordedAttachment {
                entity_type: record.entity.type_name(),
                entity_id: record.entity.id().to_string(),
                project_name: record.project_name.to_string(),
                file_name: a.file_name().to_owned(),
                mime_type: a.mime_type().to_owned(),
                bytes,
            });
        Box::pin(std::future::ready(SendOutcome::Delivered))
    }
}

/// Captures the traces of the code it runs. Cheap to create; one per test.
///
/// ```
/// # #[opik::track] fn work() {}
/// let recorder = opik::testing::Recorder::new();
/// recorder.run(|| work());
/// recorder.run(|| work());
/// assert_eq!(recorder.recorded().traces().len(), 2);
/// ```
pub struct Recorder {
    client: Client,
    sink: SharedSink,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// A recorder with its own in-memory client.
    ///
    /// # Panics
    /// If the exporter thread cannot be started (the system is out of threads).
    pub fn new() -> Self {
        let sink = SharedSink::default();
        let transport = MemoryTransport {
            sink: Arc::clone(&sink),
        };
        // A local configuration read from nothing: no environment, no file, no server.
        let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
            .local(true)
            .project_name(PROJECT_NAME)
            .resolve()
            .ok()
            .and_then(|r| r.into_config())
            .unwrap_or_else(|| unreachable!("a local configuration with defaults resolves"));
        let client = Client::with_transport(&config, Box::new(transport))
            .unwrap_or_else(|e| panic!("opik::testing could not start its exporter: {e}"));
        Recorder { client, sink }
    }

    /// The client traces go to, e.g. to pass to code that takes one explicitly.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `f`, capturing the traces it starts.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.client.run(f)
    }

    /// Runs `fut`, capturing the traces it starts.
    pub async fn run_async<F: Future>(&self, fut: F) -> F::Output {
        self.client.scope(fut).await
    }

    /// Everything recorded so far: flushes the exporter (blocking this thread for as long as
    /// an in-memory export takes), then returns a snapshot.
    pub fn recorded(&self) -> Recorded {
        self.client.flush(FLUSH_TIMEOUT);
        self.snapshot()
    }

    /// Like [`recorded`](Recorder::recorded), without blocking the async runtime.
    pub async fn recorded_async(&self) -> Recorded {
        self.client.flush_async(FLUSH_TIMEOUT).await;
        self.snapshot()
    }

    fn snapshot(&self) -> Recorded {
        let sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let mut recorded = Recorded::from_requests(sink.requests.clone());
        recorded.attachments = sink.attachments.clone();
        recorded
    }
}

/// Runs `f` under a fresh [`Recorder`] and returns what it recorded.
pub fn record(f: impl FnOnce()) -> Recorded {
    let recorder = Recorder::new();
    recorder.run(f);
    recorder.recorded()
}

/// Runs `fut` under a fresh [`Recorder`] and returns what it recorded.
pub async fn record_async<F: Future<Output = ()>>(fut: F) -> Recorded {
    let recorder = Recorder::new();
    recorder.run_async(fut).await;
    recorder.recorded_async().await
}

/// What a [`Recorder`] captured: traces, spans and feedback scores as the JSON items the SDK
/// sends (`Trace_Write`, `Span_Write`, feedback-score items), and the raw requests.
///
/// A record sent twice (a start record, then its final version) appears once, as its last
/// version, as on the server. The lookup helpers panic with the names that were recorded when
/// what is asked for is not there, which is what a test wants.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    requests: Vec<Request>,
    traces: Vec<Value>,
    spans: Vec<Value>,
    scores: Vec<Value>,
    attachments: Vec<RecordedAttachment>,
}

/// Appends `item` to `list`, replacing an earlier item with the same `id`.
fn upsert(list: &mut Vec<Value>, index: &mut HashMap<String, usize>, item: Value) {
    match item.get("id").and_then(Value::as_str).map(str::to_owned) {
        Some(id) => match index.get(&id) {
            Some(&i) => list[i] = item,
            None => {
                index.insert(id, list.len());
                list.push(item);
            }
        },
        None => list.push(item),
    }
}

impl Recorded {
    fn from_requests(requests: Vec<Request>) -> Self {
        let mut r = Recorded::default();
        let (mut trace_ix, mut span_ix) = (HashMap::new(), HashMap::new());
        for req in &requests {
            let kind = RecordKind::BATCHED
                .into_iter()
                .find(|k| k.path() == req.path);
            let Some(kind) = kind else { continue };
            let items = req.body.get(kind.array_key()).and_then(Value::as_array);
            for item in items.into_iter().flatten().cloned() {
                match kind {
                    RecordKind::Trace => upsert(&mut r.traces, &mut trace_ix, item),
                    RecordKind::Span => upsert(&mut r.spans, &mut span_ix, item),
                    _ => r.scores.push(item),
                }
            }
        }
        r.requests = requests;
        r
    }

    /// Every request, in the order the exporter sent them.
    pub fn requests(&self) -> &[Request] {
        &self.requests
    }

    /// The traces, in the order they were sent.
    pub fn traces(&self) -> &[Value] {
        &self.traces
    }

    /// The spans, in the order they were sent (children usually before parents: a span is
    /// sent when it ends).
    pub fn spans(&self) -> &[Value] {
        &self.spans
    }

    /// The feedback scores (trace, span and thread scores alike; thread scores carry
    /// `thread_id` instead of `id`).
    pub fn feedback_scores(&self) -> &[Value] {
        &self.scores
    }

    /// The attachments, in the order they were uploaded.
    pub fn attachments(&self) -> &[RecordedAttachment] {
        &self.attachments
    }

    /// The attachments of `item` (a span or trace item).
    pub fn attachments_of(&self, item: &Value) -> Vec<&RecordedAttachment> {
        let id = item.get("id").and_then(Value::as_str);
        self.attachments
            .iter()
            .filter(|a| Some(a.entity_id.as_str()) == id)
            .collect()
    }

    /// The one trace named `name`.
    ///
    /// # Panics
    /// If there is no trace of that name, or more than one.
    pub fn trace(&self, name: &str) -> &Value {
        the_one(&self.traces, "trace", name)
    }

    /// The one span named `name`.
    ///
    /// # Panics
    /// If there is no span of that name, or more than one.
    pub fn span(&self, name: &str) -> &Value {
        the_one(&self.spans, "span", name)
    }

    /// Every span named `name` (none is fine).
    pub fn spans_named(&self, name: &str) -> Vec<&Value> {
        self.spans.iter().filter(|s| s["name"] == name).collect()
    }

    /// The span `span` nests under, if any (and if it was recorded).
    pub fn parent(&self, span: &Value) -> Option<&Value> {
        let parent = span.get("parent_span_id")?;
        self.spans.iter().find(|s| s.get("id") == Some(parent))
    }

    /// The spans directly under `span`, in start order.
    pub fn children(&self, span: &Value) -> Vec<&Value> {
        let mut children: Vec<&Value> = self
            .spans
            .iter()
            .filter(|s| {
                s.get("parent_span_id").is_some() && s.get("parent_span_id") == span.get("id")
            })
            .collect();
        children.sort_by(|a, b| a["start_time"].as_str().cmp(&b["start_time"].as_str()));
        children
    }

    /// The spans of `trace` (a trace item), in start order.
    pub fn spans_of(&self, trace: &Value) -> Vec<&Value> {
        let mut spans: Vec<&Value> = self
            .spans
            .iter()
            .filter(|s| s.get("trace_id").is_some() && s.get("trace_id") == trace.get("id"))
            .collect();
        spans.sort_by(|a, b| a["start_time"].as_str().cmp(&b["start_time"].as_str()));
        spans
    }

    /// The trace `span` belongs to.
    pub fn trace_of(&self, span: &Value) -> Option<&Value> {
        let id = span.get("trace_id")?;
        self.traces.iter().find(|t| t.get("id") == Some(id))
    }

    /// Every trace as the tree the local view prints (see `OPIK_LOCAL`), one after the other:
    /// handy in assertion messages, and for checking a shape at a glance.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        for t in &self.traces {
            let spans: Vec<Value> = self.spans_of(t).into_iter().cloned().collect();
            out.push_str(&render_trace(Some(t), &spans));
        }
        out
    }
}

fn the_one<'a>(items: &'a [Value], what: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = items.iter().filter(|s| s["name"] == name).collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!(
            "expected one {what} named {name:?}, found {}; recorded {what}s: {:?}",
            found.len(),
            items
                .iter()
                .filter_map(|s| s["name"].as_str())
                .collect::<Vec<_>>()
        ),
    }
}
