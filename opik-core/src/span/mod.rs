//! Live span state: the spans and traces that are running, their start fields, the updates
//! waiting for their end, and how they end (their final records built and queued).
//!
//! Owns: everything a running span holds. May import `model` and `pipe` (a trace holds the
//! [`Client`](crate::pipe::Client) its records go to); not `context` (which span is current is
//! decided above this layer) and not `export` (the exporter sees spans only as
//! [`Watched`](crate::pipe::Watched), implemented in `start`).

mod active;
mod end;
mod slot;
mod start;

pub(crate) use active::{ActiveSpan, ActiveTrace, SpanRole};
pub(crate) use end::Ended;
pub(crate) use start::{Progress, StartInfo};
