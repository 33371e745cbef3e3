//! What apps call besides `#[track]`: the current-span API, feedback scores by id, and the
//! explicit client for traces and spans held open by hand.
//!
//! Owns: the public entry points over the layers below. May import `model`, `pipe`, `span` and
//! `context`; not `export` (records leave through the client's queue) nor `sdk`.

mod current;
mod explicit;
mod feedback;

pub use current::{
    current_span_data, current_trace_data, update_current_span, update_current_trace, SpanData,
    TraceData,
};
pub use explicit::{Opik, SpanHandle, TraceHandle};
pub use feedback::{
    log_span_feedback_scores, log_thread_feedback_scores, log_trace_feedback_scores,
};
