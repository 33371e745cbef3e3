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
    pub(super) fn drain(&mut self) -> String {
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

pub(super) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn parent_of(span: &Value) -> Option<&str> {
    str_field(span, "parent_span_id")
}
