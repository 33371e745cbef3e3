//! A span's or trace's end: what updates set is applied to its final record, which is queued
//! together with the feedback scores the updates carried.

use super::active::{ActiveSpan, ActiveTrace};
use crate::model::{Record, SpanRecord, SpanUpdate, TraceRecord};

impl ActiveTrace {
    /// Queues the trace's final record with what `update_current_trace` (or an explicit
    /// handle) set applied; the feedback scores set that way are added to `scores`, for the
    /// caller to queue after the span records.
    pub(crate) fn queue_final(&self, mut record: TraceRecord, scores: &mut Vec<Record>) {
        if let Some(update) = self.update.take() {
            update.apply_to(&mut record, scores);
        }
        self.client.enqueue(Record::Trace(record));
    }
}

impl ActiveSpan {
    /// Queues the span's final record with what `update_current_span` (or an explicit
    /// handle) set applied, then the feedback scores in `scores` (the trace's first).
    pub(crate) fn queue_final(&self, record: SpanRecord, scores: Vec<Record>) {
        self.queue_final_with(self.update.take(), record, scores);
    }

    /// [`queue_final`](Self::queue_final) with the update already taken off the slot.
    pub(crate) fn queue_final_with(
        &self,
        update: Option<Box<SpanUpdate>>,
        mut record: SpanRecord,
        mut scores: Vec<Record>,
    ) {
        if let Some(update) = update {
            update.apply_to(&mut record, &mut scores);
        }
        let client = &self.trace.client;
        client.enqueue(Record::Span(record));
        for score in scores {
            client.enqueue(score);
        }
    }
}
