//! [`SearchOptions`]: what a search of traces, spans or threads asks for.

use crate::model::SpanType;
use std::time::SystemTime;
use uuid::Uuid;

/// What a search asks for: a filter in Opik's filter language, the project, a time range and
/// how many records at most. Every option is optional:
///
/// ```
/// use opik::read::SearchOptions;
///
/// let recent_coaching = SearchOptions::new()
///     .filter(r#"tags contains "live-coach" and usage.total_tokens > 100"#)
///     .project("fretcoach")
///     .limit(500);
/// # let _ = recent_coaching;
/// ```
///
/// The filter is the Python SDK's `filter_string`: conditions `field[.key] operator value`
/// joined by `and`, values in double quotes or numbers, `in`/`not_in` with a list
/// `("a", "b")`, `is_empty`/`is_not_empty` without a value; e.g. `name = "planner"`,
/// `metadata.model = "gpt-4o"`, `feedback_scores."user-rating" >= 1`, `start_time >
/// "2026-01-01T00:00:00Z"`, `error_info is_not_empty`. It is parsed before anything is sent:
/// a bad filter is an error naming the column, the token and what was expected.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    pub(crate) filter: Option<String>,
    pub(crate) project: Option<String>,
    pub(crate) from_time: Option<SystemTime>,
    pub(crate) to_time: Option<SystemTime>,
    pub(crate) limit: Option<usize>,
    pub(crate) truncate: bool,
    pub(crate) trace_id: Option<Uuid>,
    pub(crate) span_type: Option<SpanType>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            filter: None,
            project: None,
            from_time: None,
            to_time: None,
            limit: None,
            truncate: true,
            trace_id: None,
            span_type: None,
        }
    }
}

impl SearchOptions {
    /// Everything of the client's project, newest first.
    pub fn new() -> Self {
        SearchOptions::default()
    }

    /// Only records that pass `filter` (Opik's filter language, see above).
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        let filter = filter.into();
        self.filter = (!filter.trim().is_empty()).then_some(filter);
        self
    }

    /// Records of `project` rather than the client's project.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Only records made from this time on. (Opik bounds by the time in the record's id:
    /// when it started.)
    pub fn from_time(mut self, from: SystemTime) -> Self {
        self.from_time = Some(from);
        self
    }

    /// Only records made up to this time.
    pub fn to_time(mut self, to: SystemTime) -> Self {
        self.to_time = Some(to);
        self
    }

    /// At most `n` records. Without a limit the search reads all there are, page by page as
    /// they are consumed (the Python SDK stops at 1000; a stream holds one record at a time,
    /// so there is no reason to cut it short for memory).
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Whether Opik may shorten images and large values in inputs, outputs and metadata
    /// (default `true`, as Opik's own default).
    pub fn truncate(mut self, truncate: bool) -> Self {
        self.truncate = truncate;
        self
    }

    /// Spans only: the spans of one trace.
    pub fn trace_id(mut self, trace_id: Uuid) -> Self {
        self.trace_id = Some(trace_id);
        self
    }

    /// Spans only: the spans of one type.
    pub fn span_type(mut self, span_type: SpanType) -> Self {
        self.span_type = Some(span_type);
        self
    }
}
