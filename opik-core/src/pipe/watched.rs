//! What the exporter's long-span watch may ask of a running span, without knowing its type.

use crate::model::{Record, Timestamp};

/// A running span (or explicit trace) as the long-span watch sees it. The watch holds it by a
/// `Weak` pointer, so that it keeps neither the span nor its client alive; `span` implements
/// this for its `ActiveSpan`.
pub(crate) trait Watched: Send + Sync {
    /// When it started: the watch keeps its list in start order.
    fn started_at(&self) -> Timestamp;

    /// Whether it has ended (then the watch forgets it).
    fn has_ended(&self) -> bool;

    /// If it is still running and no start record was sent for it yet, claims that right and
    /// appends its start records (no `end_time`) to `out`; the span's final record is then
    /// queued only after these.
    fn start_records(&self, out: &mut Vec<Record>);
}
