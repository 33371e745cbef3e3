//! Runtime of the `opik` crate. Users depend on `opik`, which re-exports what is public here in
//! its own modules; generated code reaches this crate only through `::opik::__private`.
//!
//! The modules are layers, and imports point down only (`layers.py` checks it):
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | top | `sdk` | `init()`, its guard, the global `flush`/`stats` |
//! | evaluation | `eval` | datasets, experiments, `evaluate`, metrics (the `evaluation` feature) |
//! | library | `read`, `prompt` | traces read back, updated after the fact, threads closed; the prompt library (the `prompts` feature) |
//! | entry points | `api`, `recorder` | the current-span API, feedback, the explicit client; what `#[track]` calls |
//! | context | `context`, `propagation` | which span and client are current; carrying them across tasks and processes |
//! | running | `span`, `export` | live span state; the exporter thread, its batches, retries and transports |
//! | wire | `net` | the HTTP clients, what an answer means, the retry policy (in a build that records) |
//! | boundary | `pipe`, `rest` | the queue, the client handle, the counters, the watch trait; the REST calls (datasets, experiments, prompts, reads) and the filter language |
//! | bottom | `model`, `config` | value types, records and their wire form; settings |
//!
//! `span` and `export` sit side by side and never import each other: the exporter sees
//! records, and running spans only through `pipe::Watched`.

// Without `enabled` the exporter is not built, so what only it uses (wire encoding, the watch,
// the delivery counters' settling side) is dead in that build, on purpose.
#![cfg_attr(not(feature = "enabled"), allow(dead_code, unused_imports))]
// docs.rs builds with `--cfg docsrs` on nightly: items behind a feature show it as a badge.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod config;
mod context;
#[cfg(feature = "evaluation")]
#[cfg_attr(docsrs, doc(cfg(feature = "evaluation")))]
pub mod eval;
mod export;
mod model;
#[cfg(feature = "enabled")]
mod net;
mod pipe;
#[cfg(feature = "prompts")]
pub mod prompt;
mod propagation;
#[cfg(feature = "enabled")]
pub mod read;
mod recorder;
#[cfg(feature = "enabled")]
mod rest;
mod sdk;
mod span;

pub use api::{
    current_span_data, current_trace_data, log_span_feedback_scores, log_thread_feedback_scores,
    log_trace_feedback_scores, span, update_current_span, update_current_trace, Opik, SpanBuilder,
    SpanData, SpanHandle, TraceData, TraceHandle,
};
pub use config::{
    ApiKey, Config, ConfigBuilder, ConfigError, DisabledReason, ErrorKind, Origin, Resolved,
    Setting, CLOUD_URL, DEFAULT_PROJECT_NAME, DEFAULT_WORKSPACE, MAX_BATCH_ITEMS, MAX_MAX_RETRIES,
    MAX_QUEUE_CAPACITY, MIN_BATCH_MAX_BYTES,
};
pub use context::{
    current_context, spawn, spawn_blocking, ClientScoped, FutureExt, OpikContext, WithContext,
};
pub use export::{
    default_path, format_duration, render_trace, ClientError, EncodedBatch, LocalTransport,
    SendFuture, SendOutcome, Transport, UploadFuture,
};
/// The `http` crate whose `HeaderMap` distributed headers use (version 1).
pub use http;
pub use model::{
    Attachment, AttachmentData, AttachmentError, AttachmentRecord, Entity, ErrorInfo, RecordKind,
    Score, ScoreError, ScoreOptions, SpanType, SpanUpdate, TraceSource, TraceUpdate, Usage,
    MAX_SCORE_MAGNITUDE, MAX_TAGS, MAX_TAG_CHARS,
};
pub use pipe::{Client, DropReason, FlushReport, Stats};
pub use propagation::{
    distributed_headers, run_with_distributed_headers, with_distributed_headers, ContinueTrace,
    DistributedHeaders, HeaderSource, PARENT_SPAN_ID_HEADER, TRACEPARENT_HEADER, TRACE_ID_HEADER,
};
/// The healthcheck: the configuration in effect and whether Opik accepts it.
#[cfg(feature = "enabled")]
#[cfg_attr(docsrs, doc(cfg(feature = "enabled")))]
pub mod health {
    pub use crate::net::{healthcheck, healthcheck_async, healthcheck_with};
    pub use crate::net::{Check, HealthReport, Outcome};
}
#[cfg(feature = "enabled")]
#[cfg_attr(docsrs, doc(cfg(feature = "enabled")))]
pub use rest::{RestError, RestErrorKind};
pub use sdk::{flush, flush_async, init, init_or_local, init_with, stats, InitError, OpikGuard};

/// What `#[track]` and the `opik` facade's integrations call. Not a public API: it may change
/// in any release, which is why the three crates pin each other's exact version.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::recording;
    pub use crate::model::{check_tag, check_tag_at};
    pub use crate::propagation::continue_remote;
    pub use crate::recorder::capture::{
        ErrProbe, ErrViaDebug, ErrViaDisplay, ErrViaError, ErrViaTypeName, JsonBuf, OutputCapture,
        Probe, ViaDebug, ViaFast, ViaSerialize, ViaTypeName,
    };
    pub use crate::recorder::{
        call_once, flush_current, flush_current_async, run_sync, AtFirstPoll, Call, CallStart,
        ItemCapture, SpanMeta, StartAt, Started, Tracked, TrackedIter, TrackedStream,
    };

    /// Whether a span is current (a tracked call, an explicit span or trace made current, or
    /// a remote parent), for integrations that nest under it.
    pub fn has_current_span() -> bool {
        crate::context::with_current_span(|_| ()).is_some()
    }

    /// For the benches: the span clock, ids, and the sizes of what the hot path moves.
    pub mod bench {
        pub use crate::model::{anchor, new_id, Timestamp};

        /// `(type, bytes)` of the records and span state a tracked call makes.
        pub fn sizes() -> [(&'static str, usize); 5] {
            use std::mem::size_of;
            [
                ("Record", size_of::<crate::model::Record>()),
                ("SpanRecord", size_of::<crate::model::SpanRecord>()),
                ("TraceRecord", size_of::<crate::model::TraceRecord>()),
                ("Call", size_of::<crate::recorder::Call>()),
                ("ActiveSpan", size_of::<crate::span::ActiveSpan>()),
            ]
        }
    }
}
