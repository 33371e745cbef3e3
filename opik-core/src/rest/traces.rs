//! Traces, spans and threads read back: `/v1/private/traces/...`, `/v1/private/spans/...`,
//! `/v1/private/traces/threads/...`. The records are typed as the spec's public types
//! (`Trace_Public`, `Span_Public`, `TraceThread`); searches are read page by page as they
//! arrive (`ndjson::Pages`).

use super::client::RestClient;
use super::error::RestError;
use super::filter::Filter;
use super::ndjson::{PageSpec, Pages};
use super::time;
use crate::model::{ErrorInfo, SpanType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// A feedback score as Opik answers it (`FeedbackScore_Public`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FeedbackScoreRecord {
    /// The score's name, e.g. `user-rating`.
    pub name: String,
    /// The score.
    pub value: f64,
    /// The category, for categorical scores.
    #[serde(default)]
    pub category_name: Option<String>,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// `sdk`, `ui` or `online_scoring`.
    pub source: String,
    /// When it was logged.
    #[serde(default, deserialize_with = "time::optional")]
    pub created_at: Option<SystemTime>,
    /// When it last changed.
    #[serde(default, deserialize_with = "time::optional")]
    pub last_updated_at: Option<SystemTime>,
    /// Who logged it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Who last changed it.
    #[serde(default)]
    pub last_updated_by: Option<String>,
    /// The value each author gave, when several scored it.
    #[serde(default)]
    pub value_by_author: Option<Value>,
}

/// A comment on a trace, span or thread (`Comment_Public`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct CommentRecord {
    /// Its id.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// What it says.
    pub text: String,
    /// When it was written.
    #[serde(default, deserialize_with = "time::optional")]
    pub created_at: Option<SystemTime>,
    /// Who wrote it.
    #[serde(default)]
    pub created_by: Option<String>,
}

/// A trace as Opik answers it (`Trace_Public`): what was sent, and what the backend sums over
/// its spans (`usage`, `total_estimated_cost`, `span_count`, ...).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TraceRecord {
    /// Its id.
    pub id: Uuid,
    /// Its project (Opik answers with the id; the local view, which has none, with the name).
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Its project's name: set by the local view only.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// When it started.
    #[serde(deserialize_with = "time::required")]
    pub start_time: SystemTime,
    /// When it ended.
    #[serde(default, deserialize_with = "time::optional")]
    pub end_time: Option<SystemTime>,
    /// Its input.
    #[serde(default)]
    pub input: Option<Value>,
    /// Its output.
    #[serde(default)]
    pub output: Option<Value>,
    /// Its metadata (with `opik_prompts`, the prompt versions it used).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What went wrong.
    #[serde(default)]
    pub error_info: Option<ErrorInfo>,
    /// Token usage summed over its spans (`prompt_tokens`, `completion_tokens`,
    /// `total_tokens`, ...).
    #[serde(default)]
    pub usage: BTreeMap<String, i64>,
    /// Its feedback scores.
    #[serde(default)]
    pub feedback_scores: Vec<FeedbackScoreRecord>,
    /// Its spans' feedback scores, averaged by name.
    #[serde(default)]
    pub span_feedback_scores: Vec<FeedbackScoreRecord>,
    /// Comments on it.
    #[serde(default)]
    pub comments: Vec<CommentRecord>,
    /// Guardrail checks of its spans, as Opik answers them.
    #[serde(default)]
    pub guardrails_validations: Vec<Value>,
    /// Cost in USD, summed over its spans.
    #[serde(default)]
    pub total_estimated_cost: Option<f64>,
    /// How many spans it has.
    #[serde(default)]
    pub span_count: Option<u32>,
    /// How many of them are `llm` spans.
    #[serde(default)]
    pub llm_span_count: Option<u32>,
    /// Whether one of them is a `tool` span.
    #[serde(default)]
    pub has_tool_spans: Option<bool>,
    /// The providers of its spans, sorted.
    #[serde(default)]
    pub providers: Vec<String>,
    /// How long it took, in milliseconds (`duration`).
    #[serde(default, rename = "duration")]
    pub duration_ms: Option<f64>,
    /// Time to the first token, in milliseconds.
    #[serde(default)]
    pub ttft: Option<f64>,
    /// Its conversation thread.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// `default` or `hidden`.
    #[serde(default)]
    pub visibility_mode: Option<String>,
    /// The experiment item it is the run of, if any (`ExperimentItemReference_Public`).
    #[serde(default)]
    pub experiment: Option<Value>,
    /// `sdk`, `experiment`, `playground`, `optimization` or `evaluator`.
    #[serde(default)]
    pub source: Option<String>,
    /// Its environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// When Opik stored it.
    #[serde(default, deserialize_with = "time::optional")]
    pub created_at: Option<SystemTime>,
    /// When it last changed.
    #[serde(default, deserialize_with = "time::optional")]
    pub last_updated_at: Option<SystemTime>,
    /// Who sent it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Who last changed it.
    #[serde(default)]
    pub last_updated_by: Option<String>,
}

/// A span as Opik answers it (`Span_Public`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SpanRecord {
    /// Its id.
    pub id: Uuid,
    /// Its trace.
    pub trace_id: Uuid,
    /// The span it is nested in; `None` at the top of its trace.
    #[serde(default)]
    pub parent_span_id: Option<Uuid>,
    /// Its project's id.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// Its project's name.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// `general`, `llm`, `tool` or `guardrail`.
    #[serde(default, rename = "type")]
    pub span_type: Option<SpanType>,
    /// When it started.
    #[serde(deserialize_with = "time::required")]
    pub start_time: SystemTime,
    /// When it ended.
    #[serde(default, deserialize_with = "time::optional")]
    pub end_time: Option<SystemTime>,
    /// Its input.
    #[serde(default)]
    pub input: Option<Value>,
    /// Its output.
    #[serde(default)]
    pub output: Option<Value>,
    /// Its metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The model an `llm` span called.
    #[serde(default)]
    pub model: Option<String>,
    /// The model's provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Token usage.
    #[serde(default)]
    pub usage: BTreeMap<String, i64>,
    /// What went wrong.
    #[serde(default)]
    pub error_info: Option<ErrorInfo>,
    /// Its feedback scores.
    #[serde(default)]
    pub feedback_scores: Vec<FeedbackScoreRecord>,
    /// Comments on it.
    #[serde(default)]
    pub comments: Vec<CommentRecord>,
    /// Cost in USD.
    #[serde(default)]
    pub total_estimated_cost: Option<f64>,
    /// Which price list the cost comes from.
    #[serde(default)]
    pub total_estimated_cost_version: Option<String>,
    /// How long it took, in milliseconds (`duration`).
    #[serde(default, rename = "duration")]
    pub duration_ms: Option<f64>,
    /// Time to the first token, in milliseconds.
    #[serde(default)]
    pub ttft: Option<f64>,
    /// `sdk`, `experiment`, ...
    #[serde(default)]
    pub source: Option<String>,
    /// Its environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// When Opik stored it.
    #[serde(default, deserialize_with = "time::optional")]
    pub created_at: Option<SystemTime>,
    /// When it last changed.
    #[serde(default, deserialize_with = "time::optional")]
    pub last_updated_at: Option<SystemTime>,
    /// Who sent it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Who last changed it.
    #[serde(default)]
    pub last_updated_by: Option<String>,
}

/// Whether a conversation thread takes more messages (`active`) or was closed (`inactive`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadStatus {
    /// Open: traces keep arriving (or may).
    Active,
    /// Closed, by `Opik::close_thread` or Opik's inactivity timeout; a new trace reopens it.
    Inactive,
}

/// A conversation thread as Opik answers it (`TraceThread`): the traces of one `thread_id`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ThreadRecord {
    /// The thread id the traces carry.
    pub id: String,
    /// Its project's id.
    #[serde(default)]
    pub project_id: Option<Uuid>,
    /// The id Opik gave the thread (what thread searches page by).
    #[serde(default)]
    pub thread_model_id: Option<Uuid>,
    /// Open or closed.
    #[serde(default)]
    pub status: Option<ThreadStatus>,
    /// When its first trace started.
    #[serde(default, deserialize_with = "time::optional")]
    pub start_time: Option<SystemTime>,
    /// When its last trace ended.
    #[serde(default, deserialize_with = "time::optional")]
    pub end_time: Option<SystemTime>,
    /// From the first start to the last end, in milliseconds (`duration`).
    #[serde(default, rename = "duration")]
    pub duration_ms: Option<f64>,
    /// The first trace's input.
    #[serde(default)]
    pub first_message: Option<Value>,
    /// The last trace's output.
    #[serde(default)]
    pub last_message: Option<Value>,
    /// Messages in it (two per trace: the input and the output).
    #[serde(default)]
    pub number_of_messages: Option<u64>,
    /// Its feedback scores.
    #[serde(default)]
    pub feedback_scores: Vec<FeedbackScoreRecord>,
    /// Comments on it.
    #[serde(default)]
    pub comments: Vec<CommentRecord>,
    /// Its tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Token usage summed over its traces.
    #[serde(default)]
    pub usage: BTreeMap<String, i64>,
    /// Cost in USD summed over its traces.
    #[serde(default)]
    pub total_estimated_cost: Option<f64>,
    /// Its environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// When Opik made it.
    #[serde(default, deserialize_with = "time::optional")]
    pub created_at: Option<SystemTime>,
    /// When it last changed.
    #[serde(default, deserialize_with = "time::optional")]
    pub last_updated_at: Option<SystemTime>,
    /// Who made it.
    #[serde(default)]
    pub created_by: Option<String>,
    /// Who last changed it.
    #[serde(default)]
    pub last_updated_by: Option<String>,
}

/// How long something took: Opik's `duration` (milliseconds), else from its start to its end.
fn took(ms: Option<f64>, start: Option<SystemTime>, end: Option<SystemTime>) -> Option<Duration> {
    match ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
        Some(ms) => Some(Duration::from_secs_f64(ms / 1000.0)),
        None => end?.duration_since(start?).ok(),
    }
}

impl TraceRecord {
    /// How long it took.
    pub fn duration(&self) -> Option<Duration> {
        took(self.duration_ms, Some(self.start_time), self.end_time)
    }

    /// Its feedback score of that name.
    pub fn feedback_score(&self, name: &str) -> Option<&FeedbackScoreRecord> {
        self.feedback_scores.iter().find(|s| s.name == name)
    }
}

impl SpanRecord {
    /// How long it took.
    pub fn duration(&self) -> Option<Duration> {
        took(self.duration_ms, Some(self.start_time), self.end_time)
    }

    /// Its feedback score of that name.
    pub fn feedback_score(&self, name: &str) -> Option<&FeedbackScoreRecord> {
        self.feedback_scores.iter().find(|s| s.name == name)
    }
}

impl ThreadRecord {
    /// How long it lasted.
    pub fn duration(&self) -> Option<Duration> {
        took(self.duration_ms, self.start_time, self.end_time)
    }

    /// Its feedback score of that name.
    pub fn feedback_score(&self, name: &str) -> Option<&FeedbackScoreRecord> {
        self.feedback_scores.iter().find(|s| s.name == name)
    }
}

/// What a search asks for, whatever it searches (each endpoint takes the fields it has).
#[derive(Clone, Debug, Default)]
pub(crate) struct Search<'a> {
    pub(crate) project_name: &'a str,
    pub(crate) filters: &'a [Filter],
    pub(crate) from_time: Option<SystemTime>,
    pub(crate) to_time: Option<SystemTime>,
    /// Whether Opik may shorten images in inputs and outputs (its default).
    pub(crate) truncate: bool,
    /// Spans only: of this trace.
    pub(crate) trace_id: Option<Uuid>,
    /// Spans only: of this type.
    pub(crate) span_type: Option<SpanType>,
    /// The most records to read.
    pub(crate) limit: Option<usize>,
}

impl Search<'_> {
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("project_name".into(), self.project_name.into());
        if !self.filters.is_empty() {
            body.insert(
                "filters".into(),
                serde_json::to_value(self.filters).unwrap_or_default(),
            );
        }
        for (key, t) in [("from_time", self.from_time), ("to_time", self.to_time)] {
            if let Some(t) = t {
                body.insert(key.into(), time::format(t).into());
            }
        }
        body.insert("truncate".into(), self.truncate.into());
        body
    }

    fn pages(&self, path: &'static str, body: Map<String, Value>, thread: bool) -> PageSpec {
        PageSpec {
            path,
            body,
            cursor_field: if thread {
                "last_retrieved_thread_model_id"
            } else {
                "last_retrieved_id"
            },
            cursor_from: if thread { "thread_model_id" } else { "id" },
            limit: self.limit,
        }
    }
}

/// A thread of a project, for thread calls.
#[derive(Serialize)]
struct ThreadIdentifier<'a> {
    project_name: &'a str,
    thread_id: &'a str,
}

impl RestClient {
    /// `POST /traces/search`: the traces, newest first.
    pub(crate) fn search_traces(&self, search: &Search<'_>) -> Pages {
        let spec = search.pages("/v1/private/traces/search", search.body(), false);
        Pages::new(self.clone(), spec)
    }

    /// `POST /spans/search`: the spans, newest first.
    pub(crate) fn search_spans(&self, search: &Search<'_>) -> Pages {
        let mut body = search.body();
        if let Some(trace_id) = search.trace_id {
            body.insert("trace_id".into(), trace_id.to_string().into());
        }
        if let Some(kind) = search.span_type {
            body.insert("type".into(), kind.as_str().into());
        }
        Pages::new(
            self.clone(),
            search.pages("/v1/private/spans/search", body, false),
        )
    }

    /// `POST /traces/threads/search`: the threads, newest first.
    pub(crate) fn search_threads(&self, search: &Search<'_>) -> Pages {
        let spec = search.pages("/v1/private/traces/threads/search", search.body(), true);
        Pages::new(self.clone(), spec)
    }

    /// `GET /traces/{id}` (404 when there is none).
    pub(crate) async fn get_trace(&self, id: Uuid) -> Result<TraceRecord, RestError> {
        self.get(format!("/v1/private/traces/{id}")).fetch().await
    }

    /// `GET /spans/{id}` (404 when there is none).
    pub(crate) async fn get_span(&self, id: Uuid) -> Result<SpanRecord, RestError> {
        self.get(format!("/v1/private/spans/{id}")).fetch().await
    }

    /// `PATCH /traces/{id}` with a `TraceUpdate` body.
    pub(crate) async fn patch_trace(
        &self,
        id: Uuid,
        update: &Map<String, Value>,
    ) -> Result<(), RestError> {
        self.patch(format!("/v1/private/traces/{id}"))
            .json(update)
            .send()
            .await
            .map(drop)
    }

    /// `PATCH /spans/{id}` with a `SpanUpdate` body (which names the span's trace).
    pub(crate) async fn patch_span(
        &self,
        id: Uuid,
        update: &Map<String, Value>,
    ) -> Result<(), RestError> {
        self.patch(format!("/v1/private/spans/{id}"))
            .json(update)
            .send()
            .await
            .map(drop)
    }

    /// `PUT /traces/threads/close`: the thread takes no more messages until a new trace of it
    /// reopens it (404 when no trace of it reached Opik).
    pub(crate) async fn close_thread(
        &self,
        project_name: &str,
        thread_id: &str,
    ) -> Result<(), RestError> {
        self.put("/v1/private/traces/threads/close")
            .json(&ThreadIdentifier {
                project_name,
                thread_id,
            })
            .send()
            .await
            .map(drop)
    }

    /// `POST /traces/threads/retrieve` (404 when there is none).
    pub(crate) async fn get_thread(
        &self,
        project_name: &str,
        thread_id: &str,
    ) -> Result<ThreadRecord, RestError> {
        self.post("/v1/private/traces/threads/retrieve")
            .json(&ThreadIdentifier {
                project_name,
                thread_id,
            })
            .fetch()
            .await
    }

    /// `PUT /traces/threads/feedback-scores`, awaited (the exporter queues the same request for
    /// `log_thread_feedback_scores`); `scores` are `FeedbackScoreBatchItemThread`s.
    pub(crate) async fn put_thread_scores(&self, scores: &[Value]) -> Result<(), RestError> {
        #[derive(Serialize)]
        struct Batch<'a> {
            scores: &'a [Value],
        }
        self.put("/v1/private/traces/threads/feedback-scores")
            .json(&Batch { scores })
            .send()
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_the_spec_shapes_and_durations() {
        let trace: TraceRecord = serde_json::from_value(serde_json::json!({
            "id": "01890a5d-ac96-774b-bcce-b302099a8057",
            "project_id": "01890a5d-ac96-774b-bcce-b302099a8058",
            "name": "practice-session",
            "start_time": "2026-11-27T13:56:06.374632Z",
            "end_time": "2026-11-27T13:56:07.374632Z",
            "usage": {"total_tokens": 12},
            "feedback_scores": [{"name": "q", "value": 1.0, "source": "sdk"}],
            "error_info": {"exception_type": "LlmError", "traceback": "t"},
            "span_count": 2,
            "visibility_mode": "default"
        }))
        .unwrap();
        assert_eq!(trace.duration(), Some(Duration::from_secs(1)));
        assert_eq!(trace.usage["total_tokens"], 12);
        assert_eq!(trace.feedback_score("q").map(|s| s.value), Some(1.0));
        let span: SpanRecord = serde_json::from_value(serde_json::json!({
            "id": "01890a5d-ac96-774b-bcce-b302099a8057",
            "trace_id": "01890a5d-ac96-774b-bcce-b302099a8058",
            "type": "llm",
            "start_time": "2026-11-27T13:56:06Z",
            "duration": 250.0
        }))
        .unwrap();
        assert_eq!(span.span_type, Some(SpanType::Llm));
        assert_eq!(span.duration(), Some(Duration::from_millis(250)));
        let thread: ThreadRecord =
            serde_json::from_value(serde_json::json!({"id": "t", "status": "inactive"})).unwrap();
        assert_eq!(thread.status, Some(ThreadStatus::Inactive));
    }
}
