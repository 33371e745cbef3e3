//! Reads answered by the local view, without a server: from the JSON lines file the local
//! transport appends every request to (`export::local`). The file's batches are replayed as
//! the backend would store them (an id's later record wins, scores hang off their trace, span
//! or thread), into the JSON the backend answers (`Trace_Public` with its spans' usage, cost
//! and counts summed, `Span_Public`, `TraceThread`), filtered with the backend's semantics
//! (`matcher`), newest first.
//!
//! The file is read whole on each search (on a blocking thread): the local view is for
//! development runs, whose files are small; a search of a server streams instead.

use super::error::ReadError;
use super::matcher;
use crate::rest::{parse_time, Filter};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What the file holds, as the backend would hold it.
#[derive(Debug, Default)]
pub(super) struct LocalView {
    traces: HashMap<String, Map<String, Value>>,
    spans: HashMap<String, Map<String, Value>>,
    /// Feedback scores by trace or span id, one per name.
    scores: HashMap<String, Vec<Value>>,
    /// Feedback scores by (project, thread id), one per name.
    thread_scores: HashMap<(String, String), Vec<Value>>,
}

/// Which records a local search wants.
#[derive(Clone, Debug, Default)]
pub(super) struct Query {
    pub(super) project: String,
    pub(super) filters: Vec<Filter>,
    pub(super) from_time: Option<SystemTime>,
    pub(super) to_time: Option<SystemTime>,
    pub(super) limit: Option<usize>,
    pub(super) trace_id: Option<String>,
    pub(super) span_type: Option<&'static str>,
}

impl LocalView {
    /// Reads the file at `path`. A line that is not a request (a run cut off mid-line) is
    /// skipped.
    pub(super) fn load(path: &Path) -> Result<LocalView, ReadError> {
        let file = std::fs::File::open(path).map_err(|e| local_error(path, e))?;
        let mut view = LocalView::default();
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|e| local_error(path, e))?;
            let Ok(request) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let (Some(path), Some(body)) = (request["path"].as_str(), request.get("body")) else {
                continue;
            };
            view.receive(path, body);
        }
        Ok(view)
    }

    fn receive(&mut self, path: &str, body: &Value) {
        let items = |key: &str| body.get(key).and_then(Value::as_array).cloned();
        match path {
            "/v1/private/traces/batch" => upsert_all(&mut self.traces, items("traces")),
            "/v1/private/spans/batch" => upsert_all(&mut self.spans, items("spans")),
            "/v1/private/traces/feedback-scores" | "/v1/private/spans/feedback-scores" => {
                for score in items("scores").into_iter().flatten() {
                    if let Some(id) = score["id"].as_str() {
                        keep_score(self.scores.entry(id.to_owned()).or_default(), &score);
                    }
                }
            }
            "/v1/private/traces/threads/feedback-scores" => {
                for score in items("scores").into_iter().flatten() {
                    let (Some(project), Some(thread)) =
                        (score["project_name"].as_str(), score["thread_id"].as_str())
                    else {
                        continue;
                    };
                    let key = (project.to_lowercase(), thread.to_owned());
                    keep_score(self.thread_scores.entry(key).or_default(), &score);
                }
            }
            _ => {}
        }
    }

    /// The traces `query` asks for, as `Trace_Public`, newest first.
    pub(super) fn traces(&self, query: &Query) -> Vec<Value> {
        let mut spans_of: HashMap<&str, Vec<&Map<String, Value>>> = HashMap::new();
        for span in self.spans.values() {
            if let Some(trace) = span.get("trace_id").and_then(Value::as_str) {
                spans_of.entry(trace).or_default().push(span);
            }
        }
        let found = self
            .traces
            .values()
            .filter(|t| in_project(t, &query.project) && in_time(t, query))
            .map(|t| {
                let id = t.get("id").and_then(Value::as_str).unwrap_or_default();
                let spans = spans_of.get(id).map(Vec::as_slice).unwrap_or_default();
                self.trace_public(t, spans)
            });
        newest_first(found, query, "id")
    }

    fn trace_public(&self, trace: &Map<String, Value>, spans: &[&Map<String, Value>]) -> Value {
        let mut out = public_fields(trace);
        let mut usage: BTreeMap<String, i64> = BTreeMap::new();
        let mut cost: Option<f64> = None;
        let mut providers = BTreeSet::new();
        for span in spans {
            for (k, v) in span
                .get("usage")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                *usage.entry(k.clone()).or_default() += v.as_i64().unwrap_or(0);
            }
            if let Some(c) = span.get("total_estimated_cost").and_then(Value::as_f64) {
                *cost.get_or_insert(0.0) += c;
            }
            if let Some(p) = span.get("provider").and_then(Value::as_str) {
                providers.insert(p.to_owned());
            }
        }
        let is = |kind: &str, s: &&&Map<String, Value>| s.get("type") == Some(&json!(kind));
        if !usage.is_empty() {
            out.insert("usage".into(), json!(usage));
        }
        if let Some(cost) = cost {
            out.insert("total_estimated_cost".into(), json!(cost));
        }
        out.insert("span_count".into(), json!(spans.len()));
        out.insert(
            "llm_span_count".into(),
            json!(spans.iter().filter(|s| is("llm", s)).count()),
        );
        out.insert(
            "has_tool_spans".into(),
            json!(spans.iter().any(|s| is("tool", &s))),
        );
        if !providers.is_empty() {
            out.insert("providers".into(), json!(providers));
        }
        self.add_scores(&mut out);
        Value::Object(out)
    }

    /// The spans `query` asks for, as `Span_Public`, newest first.
    pub(super) fn spans(&self, query: &Query) -> Vec<Value> {
        let found = self
            .spans
            .values()
            .filter(|s| in_project(s, &query.project) && in_time(s, query))
            .filter(|s| match &query.trace_id {
                Some(t) => s.get("trace_id").and_then(Value::as_str) == Some(t.as_str()),
                None => true,
            })
            .filter(|s| match query.span_type {
                Some(kind) => s.get("type").and_then(Value::as_str) == Some(kind),
                None => true,
            })
            .map(|s| {
                let mut out = public_fields(s);
                self.add_scores(&mut out);
                Value::Object(out)
            });
        newest_first(found, query, "id")
    }

    /// The threads `query` asks for, as `TraceThread`, the last active first.
    pub(super) fn threads(&self, query: &Query) -> Vec<Value> {
        let mut by_thread: BTreeMap<&str, Vec<&Map<String, Value>>> = BTreeMap::new();
        for trace in self.traces.values() {
            if !in_project(trace, &query.project) {
                continue;
            }
            if let Some(thread) = trace.get("thread_id").and_then(Value::as_str) {
                by_thread.entry(thread).or_default().push(trace);
            }
        }
        let project = query.project.to_lowercase();
        let found = by_thread.into_iter().map(|(thread, mut traces)| {
            traces.sort_by(|a, b| text(a, "start_time").cmp(text(b, "start_time")));
            let first = traces.first().copied();
            let last = traces.last().copied();
            let start = first.map(|t| text(t, "start_time"));
            let end = traces.iter().map(|t| text(t, "end_time")).max();
            let mut out = Map::new();
            out.insert("id".into(), json!(thread));
            out.insert("project_name".into(), json!(query.project));
            out.insert("status".into(), json!("active"));
            if let Some(start) = start.filter(|s| !s.is_empty()) {
                out.insert("start_time".into(), json!(start));
                if let Some(end) = end.filter(|e| !e.is_empty()) {
                    out.insert("end_time".into(), json!(end));
                    if let Some(ms) = millis_between(start, end) {
                        out.insert("duration".into(), json!(ms));
                    }
                }
            }
            if let Some(input) = first.and_then(|t| t.get("input")) {
                out.insert("first_message".into(), input.clone());
            }
            if let Some(output) = last.and_then(|t| t.get("output")) {
                out.insert("last_message".into(), output.clone());
            }
            out.insert("number_of_messages".into(), json!(traces.len() * 2));
            if let Some(scores) = self
                .thread_scores
                .get(&(project.clone(), thread.to_owned()))
            {
                out.insert("feedback_scores".into(), json!(scores));
            }
            Value::Object(out)
        });
        let found: Vec<Value> = found
            .filter(|t| {
                let start = t
                    .get("start_time")
                    .and_then(Value::as_str)
                    .and_then(parse_time);
                within(start, query)
            })
            .collect();
        newest_first(found.into_iter(), query, "end_time")
    }

    fn add_scores(&self, out: &mut Map<String, Value>) {
        let id = out.get("id").and_then(Value::as_str).unwrap_or_default();
        if let Some(scores) = self.scores.get(id) {
            out.insert("feedback_scores".into(), json!(scores));
        }
    }
}

fn local_error(path: &Path, e: std::io::Error) -> ReadError {
    ReadError::LocalFile {
        path: PathBuf::from(path),
        message: e.to_string(),
    }
}

/// Stores each item by id; a later record of an id replaces an earlier one unless its
/// `last_updated_at` is older (the backend's upsert).
fn upsert_all(into: &mut HashMap<String, Map<String, Value>>, items: Option<Vec<Value>>) {
    for item in items.into_iter().flatten() {
        let Value::Object(item) = item else { continue };
        let Some(id) = item.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let newer = match into.get(&id) {
            Some(old) => text(&item, "last_updated_at") >= text(old, "last_updated_at"),
            None => true,
        };
        if newer {
            into.insert(id, item);
        }
    }
}

/// Keeps `score` as its entity's score of that name (a later one replaces it).
fn keep_score(scores: &mut Vec<Value>, score: &Value) {
    let mut kept = Map::new();
    for key in ["name", "value", "reason", "category_name", "source"] {
        if let Some(v) = score.get(key) {
            kept.insert(key.into(), v.clone());
        }
    }
    scores.retain(|s| s.get("name") != score.get("name"));
    scores.push(Value::Object(kept));
}

/// The written fields of a trace or span, and its duration in milliseconds.
fn public_fields(record: &Map<String, Value>) -> Map<String, Value> {
    let mut out = record.clone();
    out.remove("last_updated_at"); // the SDK's send time, not when Opik stored it
    if let Some(ms) = millis_between(text(record, "start_time"), text(record, "end_time")) {
        out.insert("duration".into(), json!(ms));
    }
    out
}

fn text<'a>(record: &'a Map<String, Value>, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn millis_between(start: &str, end: &str) -> Option<f64> {
    let took = parse_time(end)?.duration_since(parse_time(start)?).ok()?;
    Some(took.as_secs_f64() * 1000.0)
}

fn in_project(record: &Map<String, Value>, project: &str) -> bool {
    // Records without a project went to the default one, which the client always names.
    text(record, "project_name").eq_ignore_ascii_case(project)
}

/// Whether the time in the record's id (UUID v7: when it started) is in the query's range,
/// as the backend bounds `from_time`/`to_time`.
fn in_time(record: &Map<String, Value>, query: &Query) -> bool {
    let made = text(record, "id")
        .parse::<uuid::Uuid>()
        .ok()
        .and_then(|id| id.get_timestamp())
        .map(|ts| {
            let (secs, nanos) = ts.to_unix();
            SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
        });
    within(made, query)
}

fn within(time: Option<SystemTime>, query: &Query) -> bool {
    if query.from_time.is_none() && query.to_time.is_none() {
        return true;
    }
    let Some(time) = time else { return false };
    query.from_time.is_none_or(|from| time >= from) && query.to_time.is_none_or(|to| time <= to)
}

/// The records that pass the filters, newest first by `order_key`, at most the limit.
fn newest_first(found: impl Iterator<Item = Value>, query: &Query, order_key: &str) -> Vec<Value> {
    let mut found: Vec<Value> = found
        .filter(|r| matcher::matches(&query.filters, r))
        .collect();
    let key = |r: &Value| {
        r.get(order_key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    found.sort_by_key(|r| std::cmp::Reverse(key(r)));
    if let Some(limit) = query.limit {
        found.truncate(limit);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::{parse_filter, FilterEntity};

    const TRACE: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
    const SPAN: &str = "01890a5d-ac96-774b-bcce-b302099a8058";

    fn view() -> LocalView {
        let mut view = LocalView::default();
        let trace = json!({"traces": [{"id": TRACE, "project_name": "P", "name": "session",
            "start_time": "2026-11-27T13:56:06Z", "end_time": "2026-11-27T13:56:08Z",
            "thread_id": "th", "input": {"q": 1}, "output": {"a": 2},
            "last_updated_at": "2026-11-27T13:56:08Z"}]});
        view.receive("/v1/private/traces/batch", &trace);
        let span = json!({"spans": [{"id": SPAN, "trace_id": TRACE, "project_name": "P",
            "name": "live-coach-feedback", "type": "llm", "provider": "openai",
            "start_time": "2026-11-27T13:56:06Z", "end_time": "2026-11-27T13:56:06.5Z",
            "usage": {"total_tokens": 40, "prompt_tokens": 30}, "tags": ["live-coach"],
            "last_updated_at": "2026-11-27T13:56:08Z"}]});
        view.receive("/v1/private/spans/batch", &span);
        view.receive(
            "/v1/private/traces/threads/feedback-scores",
            &json!({"scores": [{"thread_id": "th", "project_name": "P", "name": "rating", "value": 1.0, "source": "sdk"}]}),
        );
        view
    }

    fn query(entity: FilterEntity, filter: &str) -> Query {
        Query {
            project: "p".into(),
            filters: parse_filter(entity, filter).unwrap(),
            ..Query::default()
        }
    }

    #[test]
    fn traces_sum_their_spans_and_filters_apply() {
        let view = view();
        let traces = view.traces(&query(FilterEntity::Traces, "usage.total_tokens > 10"));
        assert_eq!(traces.len(), 1);
        assert_eq!(traces[0]["usage"]["total_tokens"], 40);
        assert_eq!(traces[0]["llm_span_count"], 1);
        assert_eq!(traces[0]["duration"], 2000.0);
        assert!(view
            .traces(&query(FilterEntity::Traces, "usage.total_tokens > 100"))
            .is_empty());
        let spans = view.spans(&query(FilterEntity::Spans, "tags contains \"live-coach\""));
        assert_eq!(spans[0]["duration"], 500.0);
        let threads = view.threads(&query(FilterEntity::Threads, "number_of_messages = 2"));
        assert_eq!(threads[0]["feedback_scores"][0]["name"], "rating");
        assert_eq!(threads[0]["first_message"], json!({"q": 1}));
        assert!(view
            .spans(&Query {
                project: "other".into(),
                ..Query::default()
            })
            .is_empty());
    }
}
