//! What apps call besides `#[track]`: the current-span API, feedback scores by id, and the
//! explicit client for traces and spans held open by hand.
//!
//! Owns: the public entry points over the layers below. May import `model`, `pipe`, `span` and
//! `context`; not `export` (records leave through the client's queue) nor `sdk`.

mod current;
mod explicit;
mod feedback;
mod handles;
mod span;

pub use current::{
    current_span_data, current_trace_data, update_current_span, update_current_trace, SpanData,
    TraceData,
};
pub use explicit::Opik;
pub use feedback::{
    log_span_feedback_scores, log_thread_feedback_scores, log_trace_feedback_scores,
};
pub use handles::{SpanHandle, TraceHandle};
pub use span::{span, SpanBuilder};
