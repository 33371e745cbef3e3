//! A read/write client of Opik's REST API, for what is not shipped in the exporter's batches:
//! datasets and their items, experiments and their items, prompts and their versions, and
//! traces, spans and threads read back (searched, got, updated, closed).
//!
//! Every call is one typed request (`datasets`, `experiments`) through [`RestClient`]
//! (`client`), over the same `net` layer as the exporter: JSON bodies compressed, with Opik's
//! headers, its proxy and redirect rules, and its retry policy (a 429's `Retry-After` /
//! `RateLimit-Reset` honoured); NDJSON streams read page by page (`ndjson`), and a
//! [`RestError`] that names the call, the status and the server's own message (`error`).
//! Absent fields are left out of requests, never sent as `null` (the backend's spec types have
//! no nulls).
//!
//! Owns: the wire types of those endpoints and how they are called, and Opik's filter
//! language (`filter`), parsed into the spec's filter objects. May import `config`, `model`,
//! `net` and `pipe` (an SDK client keeps its REST client: [`RestClient::of`]): it knows
//! nothing of spans, the exporter, reads or evaluation, which sit above it.

// Datasets and experiments are called by evaluation only; in a build without it they are
// compiled but unused.
#![cfg_attr(not(feature = "evaluation"), allow(dead_code, unused_imports))]

mod client;
mod datasets;
mod error;
mod experiments;
mod filter;
mod ndjson;
mod prompts;
mod time;
mod traces;

pub(crate) use client::RestClient;
pub(crate) use datasets::{
    DatasetItemWrite, ItemPublic, ItemStreamRequest, MAX_ITEMS_PER_BATCH, MAX_STREAM_PAGE,
};
pub use error::{RestError, RestErrorKind};
pub(crate) use experiments::{ExperimentItemWrite, ExperimentWrite, MAX_EXPERIMENT_ITEMS};
pub use filter::FilterError;
pub(crate) use filter::{
    parse as parse_filter, Entity as FilterEntity, FieldType, Filter, Operator,
};
pub(crate) use ndjson::Pages;
pub(crate) use prompts::{NewVersion, VersionDetail, PROMPT_PAGE};
pub(crate) use time::parse as parse_time;
pub(crate) use traces::Search;
pub use traces::{
    CommentRecord, FeedbackScoreRecord, SpanRecord, ThreadRecord, ThreadStatus, TraceRecord,
};
