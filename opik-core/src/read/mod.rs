//! Reading traces back, updating them after the fact, and threads that end: the read methods
//! of [`Opik`](crate::Opik).
//!
//! - **Search**: [`Opik::search_traces`](crate::Opik::search_traces), `search_spans`,
//!   `search_threads` take [`SearchOptions`] (a filter in Opik's filter language, parsed
//!   here, the project, a time range, a limit) and return a [`RecordStream`] of typed records
//!   ([`TraceRecord`], [`SpanRecord`], [`ThreadRecord`], with the fields of the spec's public
//!   types), read from Opik's streaming endpoints page by page as they are consumed: a search
//!   of any size takes the memory of one record. Rate limits (429) are waited out as the
//!   exporter does; an answer that breaks off is resumed below the last record received.
//! - **Get**: `get_trace`, `get_span`, `get_trace_content` (a trace with its spans),
//!   `get_thread`; what does not exist is `None`.
//! - **Update after the fact**: `update_trace`, `update_span`, sent only once this client's
//!   earlier records are delivered, so never before the record's own create (see `update`).
//! - **Threads**: `close_thread`; `score_thread`, which closes the thread first when asked
//!   and reports a refusal for an open thread.
//!
//! Without a server, searches and gets answer from the local view's file (`OPIK_LOCAL=1`, or
//! `opik::init_or_local` with nothing configured), with the same filters: a program's own
//! traces can be read back offline. Updates and thread calls need a server.
//!
//! Owns: the read API above `rest` (which has the wire types and calls) and the local view's
//! answers (`local`, `matcher`). May import `api`, `model`, `pipe` and `rest`.

mod error;
mod local;
mod matcher;
mod options;
mod search;
mod stream;
mod threads;
mod update;

pub use crate::rest::{
    CommentRecord, FeedbackScoreRecord, FilterError, SpanRecord, ThreadRecord, ThreadStatus,
    TraceRecord,
};
pub use error::ReadError;
pub use options::SearchOptions;
pub use search::TraceContent;
pub use stream::RecordStream;
pub use threads::OpenThread;
