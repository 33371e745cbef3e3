//! A span's or trace's end: what updates set is applied to its final records, which are queued
//! together with the feedback scores the updates carried. One place for every kind of span
//! (tracked calls, streams, spans and traces opened by hand), so that a root span always ends
//! its trace too and a score is always queued after what it scores.

use super::active::{ActiveSpan, ActiveTrace, SpanRole};
use crate::model::{
    ErrorInfo, Payload, Record, SpanDetails, SpanRecord, SpanUpdate, Timestamp, TraceDetails,
    TraceRecord,
};

/// How a span ended.
#[derive(Default)]
pub(crate) struct Ended {
    /// When (`None`: now).
    pub(crate) at: Option<Timestamp>,
    /// What it returned, unless an update set the output.
    pub(crate) output: Option<Payload>,
    /// What went wrong: the span's error, and its trace's when it is the root.
    pub(crate) error: Option<ErrorInfo>,
    /// Time to the first item of a stream, in milliseconds.
    pub(crate) ttft_ms: Option<f64>,
}

impl ActiveTrace {
    /// Queues the trace's final record with what `update_current_trace` (or an explicit
    /// handle) set applied; the feedback scores set that way are added to `scores`, for the
    /// caller to queue after the span records.
    fn queue_final(&self, mut record: TraceRecord, scores: &mut Vec<Record>) {
        if let Some(update) = self.update.take() {
            update.apply_to(&mut record, scores);
        }
        self.client.enqueue(Record::Trace(record));
    }
}

impl ActiveSpan {
    /// Queues the final records of this span with `update` (what `update_current_span` or a
    /// handle set, already taken off the slot) applied: the span's, and the trace's when the
    /// span is its root; for an explicit trace's stand-in, the trace's only. Then the feedback
    /// scores the updates carried, the trace's first.
    pub(crate) fn queue_end(&self, update: Option<Box<SpanUpdate>>, ended: Ended) {
        let Ended {
            at,
            output,
            error,
            ttft_ms,
        } = ended;
        let end = Some(at.unwrap_or_else(Timestamp::now));
        let trace = &self.trace;
        // No allocation when no update carried scores.
        let mut scores: Vec<Record> = Vec::new();
        let owns_trace = self.progress.info.is_root && !trace.remote;
        if self.role == SpanRole::TraceOnly || owns_trace {
            let mut record = self.trace_record(end, output.clone(), error.clone());
            if let Some(ttft) = ttft_ms {
                record
                    .details
                    .get_or_insert_with(Box::<TraceDetails>::default)
                    .ttft = Some(ttft);
            }
            trace.queue_final(record, &mut scores);
        }
        if self.role == SpanRole::Recorded {
            let details = (error.is_some() || ttft_ms.is_some()).then(|| {
                Box::new(SpanDetails {
                    error_info: error,
                    ttft: ttft_ms,
                    ..SpanDetails::default()
                })
            });
            let mut record: SpanRecord = self.span_record(end, output, details);
            if let Some(update) = update {
                update.apply_to(&mut record, &mut scores);
            }
            trace.client.enqueue(Record::Span(record));
        }
        for score in scores {
            trace.client.enqueue(score);
        }
    }
}
