//! The search and get methods of [`Opik`]: traces, spans and threads, from Opik or, without
//! a server, from the local view's file.

use super::error::ReadError;
use super::local::{LocalView, Query};
use super::options::SearchOptions;
use super::stream::RecordStream;
use crate::api::Opik;
use crate::rest::{
    parse_filter, FilterEntity, RestClient, Search, SpanRecord, ThreadRecord, TraceRecord,
};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use uuid::Uuid;

/// Where reads go.
pub(super) enum Source {
    Server(RestClient),
    Local(PathBuf),
}

/// A trace with all its spans, as [`Opik::get_trace_content`] answers.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TraceContent {
    /// The trace.
    pub trace: TraceRecord,
    /// Its spans, newest first.
    pub spans: Vec<SpanRecord>,
}

impl TraceContent {
    /// The spans directly under `parent` (`None`: the trace's top-level spans).
    pub fn children(&self, parent: Option<Uuid>) -> impl Iterator<Item = &SpanRecord> {
        self.spans
            .iter()
            .filter(move |s| s.parent_span_id == parent)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Traces,
    Spans,
    Threads,
}

impl Opik {
    /// Where this client's reads go, and its project.
    pub(super) fn read_source(
        &self,
        operation: &'static str,
    ) -> Result<(Source, String), ReadError> {
        let (client, project) = self.parts();
        let (Some(client), Some(project)) = (client, project) else {
            return Err(ReadError::NoServer { operation });
        };
        let project = project.to_string();
        if let Some(rest) = RestClient::of(client) {
            return Ok((Source::Server(rest?), project));
        }
        match client.local_file() {
            Some(path) => Ok((Source::Local(path.to_path_buf()), project)),
            None => Err(ReadError::NoServer { operation }),
        }
    }

    /// The REST client of this client's server, for calls the local view cannot answer.
    pub(super) fn server(
        &self,
        operation: &'static str,
    ) -> Result<(RestClient, String), ReadError> {
        match self.read_source(operation)? {
            (Source::Server(rest), project) => Ok((rest, project)),
            (Source::Local(_), _) => Err(ReadError::NoServer { operation }),
        }
    }

    /// The traces that match `options`, newest first, as they are read.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), opik::read::ReadError> {
    /// use opik::read::SearchOptions;
    ///
    /// let opik = opik::Opik::global();
    /// let mut traces = opik.search_traces(
    ///     SearchOptions::new().filter(r#"tags contains "live-coach" and usage.total_tokens > 100"#),
    /// )?;
    /// while let Some(trace) = traces.next().await {
    ///     let trace = trace?;
    ///     println!("{} {:?}", trace.id, trace.duration());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// The filter is parsed here: a bad one is an error at once, naming where and what was
    /// expected. `trace_id` and `span_type` are for spans; with them this is an error too.
    /// Without a server, the local view's file answers (see [`opik::read`](crate::read)).
    pub fn search_traces(
        &self,
        options: SearchOptions,
    ) -> Result<RecordStream<TraceRecord>, ReadError> {
        self.search(Kind::Traces, options, "searching traces")
    }

    /// The spans that match `options`, newest first, as they are read; `trace_id` and
    /// `span_type` narrow them further. See [`search_traces`](Self::search_traces).
    pub fn search_spans(
        &self,
        options: SearchOptions,
    ) -> Result<RecordStream<SpanRecord>, ReadError> {
        self.search(Kind::Spans, options, "searching spans")
    }

    /// The conversation threads that match `options` (filter fields `id`, `status`,
    /// `number_of_messages`, `feedback_scores.<name>`, ...), the newest first, as they are
    /// read. See [`search_traces`](Self::search_traces).
    pub fn search_threads(
        &self,
        options: SearchOptions,
    ) -> Result<RecordStream<ThreadRecord>, ReadError> {
        self.search(Kind::Threads, options, "searching threads")
    }

    fn search<T: DeserializeOwned + Send + 'static>(
        &self,
        kind: Kind,
        options: SearchOptions,
        operation: &'static str,
    ) -> Result<RecordStream<T>, ReadError> {
        let entity = match kind {
            Kind::Traces => FilterEntity::Traces,
            Kind::Spans => FilterEntity::Spans,
            Kind::Threads => FilterEntity::Threads,
        };
        if !matches!(kind, Kind::Spans) {
            for (set, option) in [
                (options.trace_id.is_some(), "trace_id"),
                (options.span_type.is_some(), "span_type"),
            ] {
                if set {
                    return Err(ReadError::InvalidOption {
                        option,
                        reason: "it narrows a search of spans; use search_spans".into(),
                    });
                }
            }
        }
        if let (Some(from), Some(to)) = (options.from_time, options.to_time) {
            if from >= to {
                return Err(ReadError::InvalidOption {
                    option: "from_time",
                    reason: "it must be before to_time".into(),
                });
            }
        }
        let filters = parse_filter(entity, options.filter.as_deref().unwrap_or(""))?;
        let (source, client_project) = self.read_source(operation)?;
        let project = options.project.clone().unwrap_or(client_project);
        match source {
            Source::Server(rest) => {
                let search = Search {
                    project_name: &project,
                    filters: &filters,
                    from_time: options.from_time,
                    to_time: options.to_time,
                    truncate: options.truncate,
                    trace_id: options.trace_id,
                    span_type: options.span_type,
                    limit: options.limit,
                };
                let pages = match kind {
                    Kind::Traces => rest.search_traces(&search),
                    Kind::Spans => rest.search_spans(&search),
                    Kind::Threads => rest.search_threads(&search),
                };
                Ok(RecordStream::from_pages(pages))
            }
            Source::Local(path) => {
                let query = Query {
                    project,
                    filters,
                    from_time: options.from_time,
                    to_time: options.to_time,
                    limit: options.limit,
                    trace_id: options.trace_id.map(|t| t.to_string()),
                    span_type: options.span_type.map(|t| t.as_str()),
                };
                Ok(RecordStream::from_blocking(move || {
                    let view = LocalView::load(&path)?;
                    let found = match kind {
                        Kind::Traces => view.traces(&query),
                        Kind::Spans => view.spans(&query),
                        Kind::Threads => view.threads(&query),
                    };
                    found
                        .into_iter()
                        .map(|v| {
                            serde_json::from_value(v).map_err(|e| ReadError::LocalFile {
                                path: path.clone(),
                                message: format!("a record is not what Opik answers: {e}"),
                            })
                        })
                        .collect()
                }))
            }
        }
    }

    /// The trace `id`, `None` if Opik (or the local view) has none. A trace still queued or
    /// being sent by this client is not there yet: flush first to read your own writes.
    pub async fn get_trace(&self, id: Uuid) -> Result<Option<TraceRecord>, ReadError> {
        match self.read_source("getting a trace")? {
            (Source::Server(rest), _) => found(rest.get_trace(id).await),
            (Source::Local(_), _) => {
                let filter = format!("id = \"{id}\"");
                self.first(self.search_traces(SearchOptions::new().filter(filter))?)
                    .await
            }
        }
    }

    /// The span `id`, `None` if there is none; see [`get_trace`](Self::get_trace).
    pub async fn get_span(&self, id: Uuid) -> Result<Option<SpanRecord>, ReadError> {
        match self.read_source("getting a span")? {
            (Source::Server(rest), _) => found(rest.get_span(id).await),
            (Source::Local(_), _) => {
                let filter = format!("id = \"{id}\"");
                self.first(self.search_spans(SearchOptions::new().filter(filter))?)
                    .await
            }
        }
    }

    /// The trace `id` with all its spans (in the client's project), `None` if there is no
    /// such trace.
    pub async fn get_trace_content(&self, id: Uuid) -> Result<Option<TraceContent>, ReadError> {
        let Some(trace) = self.get_trace(id).await? else {
            return Ok(None);
        };
        let mut spans = Vec::new();
        let mut found = self.search_spans(SearchOptions::new().trace_id(id))?;
        while let Some(span) = found.next().await {
            spans.push(span?);
        }
        Ok(Some(TraceContent { trace, spans }))
    }

    /// The conversation thread `thread_id` of the client's project, `None` if no trace of it
    /// reached Opik.
    pub async fn get_thread(&self, thread_id: &str) -> Result<Option<ThreadRecord>, ReadError> {
        match self.read_source("getting a thread")? {
            (Source::Server(rest), project) => found(rest.get_thread(&project, thread_id).await),
            (Source::Local(_), _) => {
                let filter = format!("id = \"{}\"", thread_id.replace('"', "\"\""));
                self.first(self.search_threads(SearchOptions::new().filter(filter))?)
                    .await
            }
        }
    }

    async fn first<T>(&self, mut found: RecordStream<T>) -> Result<Option<T>, ReadError> {
        found.next().await.transpose()
    }
}

/// A get's answer: a 404 is `None`.
fn found<T>(answer: Result<T, crate::rest::RestError>) -> Result<Option<T>, ReadError> {
    match answer {
        Ok(record) => Ok(Some(record)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(ReadError::Rest(e)),
    }
}
