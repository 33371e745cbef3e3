//! The local view: what the SDK would send, shown here instead of sent to a server.
//!
//! [`LocalTransport`] receives the very batches the HTTP transport sends (the same
//! [`EncodedBatch::json`] bytes) and
//!
//! - appends each request as one JSON line to a file, `{"method":..,"path":..,"body":..}`, where
//!   `body` is the request body byte for byte (so the file can be inspected with `jq` or
//!   replayed against a real Opik: `path` is relative to the API base, e.g.
//!   `/v1/private/traces/batch`);
//! - prints each finished trace as a tree (to stderr unless told otherwise), with types,
//!   models, durations, token counts, tags, threads and errors:
//!
//! ```text
//! Trace: practice-session [7.2s] (thread session-abc123) fretcoach, practice-session
//!   ├─ live-coach-feedback [llm gpt-4o-mini 1.2s 512 tok] live-coach, live-feedback
//!   │   └─ live-coach-tts [2.0s] tts, live-coach
//!   └─ session-summary [llm 1.5s] live-coach, session-summary
//! ```
//!
//! A trace is printed once its trace record has arrived (it is queued when the root call ends)
//! together with its root span and the parent of every span received: the exporter sends a
//! round's traces before its spans, so that is the moment the trace is complete. Spans that end
//! after their trace (a detached task) and traces that never completed are printed when the
//! transport is dropped, i.e. when the client shuts down.
//!
//! `opik::init()` installs this transport for [`Resolved::Local`](crate::config::Resolved):
//! `OPIK_LOCAL=1` or [`ConfigBuilder::local`](crate::config::ConfigBuilder::local), and
//! [`init_or_local`] for programs (like the examples) that print locally when nothing else is
//! configured.

use super::transport::{EncodedBatch, SendFuture, SendOutcome, Transport};
use super::ExportSettings;
use crate::client::{Client, ClientError};
use crate::config::{Config, ConfigBuilder, DisabledReason, Resolved};
use crate::record::RecordKind;
use crate::sdk::{init_with, InitError, OpikGuard};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many traces are kept waiting for their spans before the oldest is printed as it is; a
/// bound so that a program whose traces never complete does not grow without limit.
const MAX_PENDING_TRACES: usize = 4096;

/// How many printed trace names are remembered to label feedback scores and late spans.
const MAX_REMEMBERED_NAMES: usize = 16_384;

/// The JSON lines file the local view writes when the configuration names none
/// (`ConfigBuilder::local_file` / `OPIK_LOCAL_FILE`): `opik-local-<unix seconds>-<pid>.jsonl` in
/// the system temp directory, a new file per run, so runs never mix.
pub fn default_path() -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    std::env::temp_dir().join(format!("opik-local-{secs}-{}.jsonl", std::process::id()))
}

/// A [`Transport`] that writes request bodies to a JSON lines file and prints trace trees.
pub struct LocalTransport {
    file: Option<(PathBuf, BufWriter<File>)>,
    file_failed: bool,
    out: Box<dyn Write + Send>,
    view: TraceView,
}

impl std::fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTransport")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl LocalTransport {
    /// Appends requests to `path` (created, with its parent directories, if missing) and prints
    /// trees to stderr. The error names the path.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| named(&path, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| named(&path, e))?;
        let mut transport = Self::print_only();
        transport.file = Some((path, BufWriter::new(file)));
        Ok(transport)
    }

    /// Prints trees to stderr and writes no file.
    pub fn print_only() -> Self {
        LocalTransport {
            file: None,
            file_failed: false,
            out: Box::new(io::stderr()),
            view: TraceView::default(),
        }
    }

    /// Prints the trees to `out` instead of stderr.
    #[must_use]
    pub fn with_output(mut self, out: impl Write + Send + 'static) -> Self {
        self.out = Box::new(out);
        self
    }

    /// The JSON lines file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(p, _)| p.as_path())
    }

    fn write_line(&mut self, batch: &EncodedBatch) {
        let Some((path, file)) = self.file.as_mut() else {
            return;
        };
        let result = (|| {
            write!(
                file,
                "{{\"method\":\"{}\",\"path\":\"{}\",\"body\":",
                batch.kind.method(),
                batch.kind.path()
            )?;
            // The body is compact JSON without newlines (serde_json escapes them in strings), so
            // it can sit in the line unchanged: the bytes the HTTP exporter would send.
            file.write_all(&batch.json)?;
            file.write_all(b"}\n")?;
            // Flushed per request so that the file is complete whenever the program stops.
            file.flush()
        })();
        if let Err(e) = result {
            if !self.file_failed {
                self.file_failed = true;
                tracing::warn!(target: "opik", "opik local view: cannot write {}: {e}; trees are still printed", path.display());
            }
        }
    }

    fn print(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        // A closed stderr must not take the app down: printing is best effort.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("opik local view: cannot open {}: {e}", path.display()),
    )
}

impl Transport for LocalTransport {
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a> {
        self.write_line(batch);
        let text = match serde_json::from_slice::<Value>(&batch.json) {
            Ok(body) => self.view.receive(batch.kind, body),
            Err(e) => format!("opik local view: a {} body is not JSON: {e}\n", batch.kind),
        };
        self.print(&text);
        Box::pin(std::future::ready(SendOutcome::Delivered))
    }
}

impl Drop for LocalTransport {
    fn drop(&mut self) {
        let text = self.view.drain();
        self.print(&text);
        if let Some((_, file)) = self.file.as_mut() {
            let _ = file.flush();
        }
    }
}

/// A trace being assembled: its record (once it arrived) and its spans by id.
#[derive(Default)]
struct Pending {
    trace: Option<Value>,
    spans: BTreeMap<String, Value>,
}

impl Pending {
    /// Complete: the trace ended, it has a root span, and every span's parent is here.
    fn is_complete(&self) -> bool {
        let ended = self
            .trace
            .as_ref()
            .is_some_and(|t| t.get("end_time").is_some());
        let has_root = self.spans.values().any(|s| parent_of(s).is_none());
        ended
            && has_root
            && self.spans.values().all(|s| {
                s.get("end_time").is_some()
                    && parent_of(s).is_none_or(|p| self.spans.contains_key(p))
            })
    }
}

/// Assembles traces from request bodies and renders them; independent of any I/O.
#[derive(Default)]
struct TraceView {
    pending: HashMap<String, Pending>,
    /// Arrival order of pending traces, oldest first, for the memory bound.
    order: VecDeque<String>,
    /// Names of printed traces, to label late spans and feedback scores.
    printed: HashMap<String, String>,
    printed_order: VecDeque<String>,
}

impl TraceView {
    /// Takes one request body; returns the text to print now.
    fn receive(&mut self, kind: RecordKind, body: Value) -> String {
        let mut out = String::new();
        let items = match body {
            Value::Object(mut m) => match m.remove(kind.array_key()) {
                Some(Value::Array(items)) => items,
                _ => return out,
            },
            _ => return out,
        };
        let mut touched = HashSet::new();
        match kind {
            RecordKind::Trace => {
                for t in items {
                    let Some(id) = str_field(&t, "id").map(str::to_owned) else {
                        continue;
                    };
                    self.entry(&id).trace = Some(t);
                    touched.insert(id);
                }
            }
            RecordKind::Span => {
                for s in items {
                    let (Some(id), Some(trace_id)) =
                        (str_field(&s, "id"), str_field(&s, "trace_id"))
                    else {
                        continue;
                    };
                    let (id, trace_id) = (id.to_owned(), trace_id.to_owned());
                    // A later record of the same id (the final version of a start record) wins,
                    // as it does on the server.
                    self.entry(&trace_id).spans.insert(id, s);
                    touched.insert(trace_id);
                }
            }
            RecordKind::TraceFeedback | RecordKind::SpanFeedback | RecordKind::ThreadFeedback => {
                for score in &items {
                    out.push_str(&self.render_score(kind, score));
                }
            }
        }
        let mut touched: Vec<String> = touched.into_iter().collect();
        touched.sort(); // v7 ids sort by start time: print older traces first
        for id in touched {
            if self.pending.get(&id).is_some_and(Pending::is_complete) {
                out.push_str(&self.take_and_render(&id));
            }
        }
        while self.pending.len() > MAX_PENDING_TRACES {
            match self.order.pop_front() {
                Some(oldest) => out.push_str(&self.take_and_render(&oldest)),
                None => break,
            }
        }
        out
    }

    fn entry(&mut self, trace_id: &str) -> &mut Pending {
        if !self.pending.contains_key(trace_id) {
            self.order.push_back(trace_id.to_owned());
        }
        self.pending.entry(trace_id.to_owned()).or_default()
    }

    fn take_and_render(&mut self, trace_id: &str) -> String {
        let Some(p) = self.pending.remove(trace_id) else {
            return String::new();
        };
        self.order.retain(|id| id != trace_id);
        let spans: Vec<Value> = p.spans.into_values().collect();
        let text = match (&p.trace, self.printed.get(trace_id)) {
            (None, Some(name)) => {
                let mut s = format!("Trace: {name} (spans that ended after the trace)\n");
                render_forest(&mut s, &spans, None);
                s
            }
            _ => render_trace(p.trace.as_ref(), &spans),
        };
        if let Some(t) = p.trace.as_ref() {
            self.remember(trace_id, trace_label(t));
        }
        text
    }

    fn remember(&mut self, trace_id: &str, name: String) {
        if self.printed.insert(trace_id.to_owned(), name).is_none() {
            self.printed_order.push_back(trace_id.to_owned());
        }
        while self.printed_order.len() > MAX_REMEMBERED_NAMES {
            if let Some(old) = self.printed_order.pop_front() {
                self.printed.remove(&old);
            }
        }
    }

    fn render_score(&self, kind: RecordKind, score: &Value) -> String {
        let name = str_field(score, "name").unwrap_or("?");
        let value = score
            .get("value")
            .map_or_else(String::new, Value::to_string);
        let target = match kind {
            RecordKind::ThreadFeedback => {
                format!("thread {}", str_field(score, "thread_id").unwrap_or("?"))
            }
            RecordKind::SpanFeedback => format!("span {}", str_field(score, "id").unwrap_or("?")),
            _ => {
                let id = str_field(score, "id").unwrap_or("?");
                let pending_label = self
                    .pending
                    .get(id)
                    .and_then(|p| p.trace.as_ref())
                    .map(trace_label);
                match pending_label.or_else(|| self.printed.get(id).cloned()) {
                    Some(label) => format!("trace {label}, {}", short_id(id)),
                    None => format!("trace {id}"),
                }
            }
        };
        let mut line = format!("Feedback: {name} = {value}");
        if let Some(reason) = str_field(score, "reason") {
            let _ = write!(line, " ({reason})");
        }
        let _ = writeln!(line, " on {target}");
        line
    }

    /// Everything still waiting, printed as it is (at shutdown).
    fn drain(&mut self) -> String {
        let mut out = String::new();
        let mut ids: Vec<String> = self.pending.keys().cloned().collect();
        ids.sort();
        for id in ids {
            out.push_str(&self.take_and_render(&id));
        }
        out
    }
}

/// `practice-planner (thread user-1842)`: how a feedback line names the trace it scores.
fn trace_label(trace: &Value) -> String {
    let name = str_field(trace, "name").unwrap_or("?");
    match str_field(trace, "thread_id") {
        Some(thread) => format!("{name} (thread {thread})"),
        None => name.to_owned(),
    }
}

/// `…3f2a9c`: the end of an id (the random part of a v7 id), enough to tell traces apart.
fn short_id(id: &str) -> String {
    let tail: String = id
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("id …{tail}")
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn parent_of(span: &Value) -> Option<&str> {
    str_field(span, "parent_span_id")
}

/// Renders one trace as a tree: the trace line, then its spans nested by `parent_span_id`.
/// When the trace has a single root span of the same name (what `#[track]` records), the root
/// span is folded into the trace line rather than repeated under it.
pub fn render_trace(trace: Option<&Value>, spans: &[Value]) -> String {
    let mut out = String::new();
    let roots: Vec<&Value> = spans.iter().filter(|s| parent_of(s).is_none()).collect();
    let Some(trace) = trace else {
        let trace_id = spans
            .first()
            .and_then(|s| str_field(s, "trace_id"))
            .unwrap_or("?");
        let _ = writeln!(out, "Trace {trace_id} (trace record not received)");
        render_forest(&mut out, spans, None);
        return out;
    };
    let folded = match roots.as_slice() {
        [root] if root.get("name") == trace.get("name") => Some(*root),
        _ => None,
    };
    let _ = write!(out, "Trace: {}", str_field(trace, "name").unwrap_or("?"));
    // The trace line shows the root span's type, model and usage, if it had them.
    out.push_str(&describe(folded.unwrap_or(trace), trace));
    if let Some(thread) = str_field(trace, "thread_id") {
        let _ = write!(out, " (thread {thread})");
    }
    push_tags(&mut out, trace);
    push_error(&mut out, trace);
    out.push('\n');
    render_forest(&mut out, spans, folded.and_then(|r| str_field(r, "id")));
    if trace.get("end_time").is_none() {
        out.push_str("  (the trace had not ended when the program stopped)\n");
    }
    out
}

/// Renders the spans under `root` (or every parentless span, and spans whose parent is
/// missing, when `root` is `None`).
fn render_forest(out: &mut String, spans: &[Value], root: Option<&str>) {
    let ids: HashSet<&str> = spans.iter().filter_map(|s| str_field(s, "id")).collect();
    let mut children: HashMap<Option<&str>, Vec<&Value>> = HashMap::new();
    for s in spans {
        let id = str_field(s, "id");
        if root.is_some() && id == root {
            continue;
        }
        let parent = match parent_of(s) {
            Some(p) if ids.contains(p) => Some(p),
            // A span whose parent never arrived is shown at the top rather than hidden.
            _ => None,
        };
        let parent = if root.is_some() && parent.is_none() {
            root
        } else {
            parent
        };
        children.entry(parent).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            (str_field(a, "start_time"), str_field(a, "id"))
                .cmp(&(str_field(b, "start_time"), str_field(b, "id")))
        });
    }
    render_children(out, &children, root, "  ", 0);
}

fn render_children(
    out: &mut String,
    children: &HashMap<Option<&str>, Vec<&Value>>,
    parent: Option<&str>,
    prefix: &str,
    depth: usize,
) {
    // Deeper than any real program nests; stops a malformed parent cycle from recursing forever.
    if depth > 64 {
        return;
    }
    let Some(list) = children.get(&parent) else {
        return;
    };
    for (i, span) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let _ = write!(
            out,
            "{prefix}{}{}",
            if last { "└─ " } else { "├─ " },
            str_field(span, "name").unwrap_or("?")
        );
        out.push_str(&describe(span, span));
        push_tags(out, span);
        push_error(out, span);
        out.push('\n');
        let id = str_field(span, "id");
        if id.is_some() && id != parent {
            let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
            render_children(out, children, id, &deeper, depth + 1);
        }
    }
}

/// ` [llm gpt-4o-mini 1.2s 512 tok]`: type (unless general), model, duration, tokens.
fn describe(span: &Value, timed: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = str_field(span, "type").filter(|t| *t != "general") {
        parts.push(t.to_owned());
    }
    if let Some(m) = str_field(span, "model") {
        parts.push(m.to_owned());
    }
    if let Some(d) = duration(timed) {
        parts.push(format_duration(d));
    }
    if let Some(tokens) = span.get("usage").and_then(total_tokens) {
        parts.push(format!("{tokens} tok"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(" "))
    }
}

fn total_tokens(usage: &Value) -> Option<i64> {
    let get = |k: &str| usage.get(k).and_then(Value::as_i64);
    get("total_tokens").or_else(|| match (get("prompt_tokens"), get("completion_tokens")) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0) + c.unwrap_or(0)),
    })
}

fn duration(v: &Value) -> Option<Duration> {
    let start = humantime::parse_rfc3339(str_field(v, "start_time")?).ok()?;
    let end = humantime::parse_rfc3339(str_field(v, "end_time")?).ok()?;
    end.duration_since(start).ok()
}

/// `850ms`, `1.2s`, `2m03s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

fn push_tags(out: &mut String, v: &Value) {
    if let Some(tags) = v.get("tags").and_then(Value::as_array) {
        let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
        if !tags.is_empty() {
            let _ = write!(out, " {}", tags.join(", "));
        }
    }
}

fn push_error(out: &mut String, v: &Value) {
    if let Some(e) = v.get("error_info") {
        let ty = str_field(e, "exception_type").unwrap_or("error");
        match str_field(e, "message") {
            Some(m) => {
                let _ = write!(out, " !! {ty}: {m}");
            }
            None => {
                let _ = write!(out, " !! {ty}");
            }
        }
    }
}

/// A client whose records go to a [`LocalTransport`] writing the configured file (else
/// [`default_path`]); what `init()`
/// installs for [`Resolved::Local`](crate::config::Resolved). Says on stderr where the JSON
/// lines go. If the file cannot be opened, the trees are still printed (with a warning).
pub fn local_client(config: &Config) -> Result<Client, ClientError> {
    let path = config
        .local_file()
        .map_or_else(default_path, Path::to_path_buf);
    let transport = match LocalTransport::open(&path) {
        Ok(t) => {
            eprintln!(
                "opik: local view: traces are printed below as they finish; request bodies are \
                 appended to {}",
                path.display()
            );
            t
        }
        Err(e) => {
            eprintln!("{e}; traces are printed below as they finish, and not saved");
            LocalTransport::print_only()
        }
    };
    Client::with_transport(
        config.project_name(),
        ExportSettings::from(config),
        Box::new(transport),
    )
}

/// Like [`init_with`], but when nothing is configured (no URL, no API
/// key, tracking not disabled) it installs the local view instead of staying off: for
/// examples, demos and command-line tools that should show their traces out of the box, and
/// still send them to Opik as soon as `OPIK_URL_OVERRIDE` / `OPIK_API_KEY` are set.
/// Libraries and services should call [`init`](crate::sdk::init), which stays silent.
pub fn init_or_local(builder: ConfigBuilder) -> Result<OpikGuard, InitError> {
    match builder.resolve()? {
        Resolved::Disabled(DisabledReason::NothingConfigured) => init_with(builder.local(true)),
        _ => init_with(builder),
    }
}
