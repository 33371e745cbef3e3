//! Distributed traces: one trace across services. The calling side sends
//! [`distributed_headers`]; the receiving side runs its handler under
//! [`with_distributed_headers`] and its tracked calls become spans of the caller's trace.
//!
//! Owns: the header codec (`headers`: the Python SDK's `opik_trace_id`/`opik_parent_span_id`
//! and W3C `traceparent`, pure, no runtime) and the remote contexts built from it (`remote`).
//! May import `model`, `span` and `context`.

mod headers;
mod remote;

pub use headers::{
    DistributedHeaders, HeaderSource, PARENT_SPAN_ID_HEADER, TRACEPARENT_HEADER, TRACE_ID_HEADER,
};
pub use remote::{
    continue_remote, distributed_headers, run_with_distributed_headers, with_distributed_headers,
    ContinueTrace,
};
