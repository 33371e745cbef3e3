//! Assembling traces from the request bodies the local view receives, and deciding when one is
//! complete enough to print; independent of any I/O.

use super::render::{render_forest, render_trace};
use crate::model::RecordKind;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

/// How many traces are kept waiting for their spans before the oldest is printed as it is; a
/// bound so that a program whose traces never complete does not grow without limit.
const MAX_PENDING_TRACES: usize = 4096;

/// How many printed trace names are remembered to label feedback scores and late spans.
const MAX_REMEMBERED_NAMES: usize = 16_384;

/// How many attachments wait for their span or trace to be printed; past it the oldest is
/// printed on its own line.
const MAX_WAITING_ATTACHMENTS: usize = 4096;

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
pub(super) struct TraceView {
    pending: HashMap<String, Pending>,
    /// Arrival order of pending traces, oldest first, for the memory bound.
    order: VecDeque<String>,
    /// Names of printed traces, to label late spans and feedback scores.
    printed: HashMap<String, String>,
    printed_order: VecDeque<String>,
    /// Attachments by the id of their span or trace, until it is printed (they are usually
    /// uploaded before their span's batch is sent), with their arrival order.
    attachments: HashMap<String, Vec<Value>>,
    attachment_order: VecDeque<String>,
}

impl TraceView {
    /// Takes one request body; returns the text to print now.
    pub(super) fn receive(&mut self, kind: RecordKind, body: Value) -> String {
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
            // Attachments arrive through `attach`, never in a batch.
            RecordKind::Attachment => {}
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

    /// Takes what is known of one attachment (`file_name`, `mime_type`, `size`) of the span
    /// or trace `entity_id`; returns the text to print now.
    pub(super) fn attach(&mut self, entity_id: String, about: Value) -> String {
        let list = self.attachments.entry(entity_id.clone()).or_default();
        list.push(about);
        self.attachment_order.push_back(entity_id);
        let mut out = String::new();
        while self.attachment_order.len() > MAX_WAITING_ATTACHMENTS {
            let Some(id) = self.attachment_order.pop_front() else {
                break;
            };
            if let Some(list) = self.attachments.get_mut(&id) {
                if !list.is_empty() {
                    out.push_str(&attachment_line(&id, &list.remove(0)));
                }
                if list.is_empty() {
                    self.attachments.remove(&id);
                }
            }
        }
        out
    }

    /// Moves the waiting attachments of `record` into it, under `attachments`, for the tree.
    fn attachments_into(&mut self, record: &mut Value) {
        let Some(id) = str_field(record, "id").map(str::to_owned) else {
            return;
        };
        if let Some(list) = self.attachments.remove(&id) {
            self.attachment_order.retain(|e| *e != id);
            record["attachments"] = Value::Array(list);
        }
    }

    fn take_and_render(&mut self, trace_id: &str) -> String {
        let Some(mut p) = self.pending.remove(trace_id) else {
            return String::new();
        };
        self.order.retain(|id| id != trace_id);
        if !self.attachments.is_empty() {
            if let Some(t) = p.trace.as_mut() {
                self.attachments_into(t);
            }
            for s in p.spans.values_mut() {
                self.attachments_into(s);
            }
        }
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
    pub(super) fn drain(&mut self) -> String {
        let mut out = String::new();
        let mut ids: Vec<String> = self.pending.keys().cloned().collect();
        ids.sort();
        for id in ids {
            out.push_str(&self.take_and_render(&id));
        }
        // Attachments of spans printed before they arrived.
        for id in std::mem::take(&mut self.attachment_order) {
            if let Some(list) = self.attachments.remove(&id) {
                for about in &list {
                    out.push_str(&attachment_line(&id, about));
                }
            }
        }
        out
    }
}

/// `Attachment: answer.wav (audio/wav, 86.2 KiB) on span …3f2a9c`: an attachment whose span or
/// trace is not printed with it.
fn attachment_line(entity_id: &str, about: &Value) -> String {
    let what = str_field(about, "entity_type").unwrap_or("span");
    format!(
        "Attachment: {} on {what} {}\n",
        describe_attachment(about),
        short_id(entity_id)
    )
}

/// `answer.wav (audio/wav, 86.2 KiB)`.
pub(super) fn describe_attachment(about: &Value) -> String {
    let size = about.get("size").and_then(Value::as_u64).unwrap_or(0);
    format!(
        "{} ({}, {})",
        str_field(about, "file_name").unwrap_or("?"),
        str_field(about, "mime_type").unwrap_or("?"),
        format_bytes(size)
    )
}

/// `812 B`, `86.2 KiB`, `20.0 MiB`.
fn format_bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if f < KIB * KIB {
        format!("{:.1} KiB", f / KIB)
    } else if f < KIB * KIB * KIB {
        format!("{:.1} MiB", f / (KIB * KIB))
    } else {
        format!("{:.1} GiB", f / (KIB * KIB * KIB))
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

pub(super) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn parent_of(span: &Value) -> Option<&str> {
    str_field(span, "parent_span_id")
}
