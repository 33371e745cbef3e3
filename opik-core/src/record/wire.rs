//! The request items Opik's REST API takes (`Trace_Write`, `Span_Write`,
//! `FeedbackScoreBatchItem`, `FeedbackScoreBatchItemThread`), borrowed from records.
//!
//! `last_updated_at` is stamped here, when the exporter serializes a record for sending: batch
//! creates are upserts decided by it, so a later record of the same id (the final version of a
//! start record) always wins.

use super::{
    ErrorInfo, FeedbackScore, Payload, Record, ScoreTarget, SpanRecord, SpanType, Tags, TraceRecord,
};
use crate::clock::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

type Metadata = serde_json::Map<String, serde_json::Value>;

/// Every record this SDK sends says where it came from.
const SOURCE: &str = "sdk";

#[derive(Serialize)]
struct TraceWrite<'a> {
    id: &'a Uuid,
    project_name: &'a str,
    name: &'a str,
    start_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Metadata>,
    #[serde(skip_serializing_if = "Tags::is_empty")]
    tags: &'a Tags,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_info: Option<&'a ErrorInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_id: Option<&'a str>,
    last_updated_at: Timestamp,
    source: &'static str,
}

#[derive(Serialize)]
struct SpanWrite<'a> {
    id: &'a Uuid,
    project_name: &'a str,
    trace_id: &'a Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<&'a Uuid>,
    name: &'a str,
    #[serde(rename = "type")]
    span_type: SpanType,
    start_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Metadata>,
    #[serde(skip_serializing_if = "Tags::is_empty")]
    tags: &'a Tags,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a BTreeMap<String, i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_info: Option<&'a ErrorInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_estimated_cost: Option<f64>,
    last_updated_at: Timestamp,
    source: &'static str,
}

#[derive(Serialize)]
struct ScoreWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_id: Option<&'a str>,
    project_name: &'a str,
    name: &'a str,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category_name: Option<&'a str>,
    source: &'static str,
}

fn trace_write(t: &TraceRecord, now: Timestamp) -> TraceWrite<'_> {
    let details = t.details.as_deref();
    TraceWrite {
        id: &t.id,
        project_name: &t.project_name,
        name: &t.name,
        start_time: t.start_time,
        end_time: t.end_time,
        input: t.input.as_ref(),
        output: t.output.as_ref(),
        metadata: t.metadata.as_deref(),
        tags: &t.tags,
        error_info: details.and_then(|d| d.error_info.as_ref()),
        thread_id: details.and_then(|d| d.thread_id.as_deref()),
        last_updated_at: now,
        source: SOURCE,
    }
}

fn span_write(s: &SpanRecord, now: Timestamp) -> SpanWrite<'_> {
    let details = s.details.as_deref();
    SpanWrite {
        id: &s.id,
        project_name: &s.project_name,
        trace_id: &s.trace_id,
        parent_span_id: s.parent_span_id.as_ref(),
        name: &s.name,
        span_type: s.span_type,
        start_time: s.start_time,
        end_time: s.end_time,
        input: s.input.as_ref(),
        output: s.output.as_ref(),
        metadata: s.metadata.as_deref(),
        tags: &s.tags,
        model: details.and_then(|d| d.model.as_deref()),
        provider: details.and_then(|d| d.provider.as_deref()),
        usage: details.and_then(|d| d.usage.as_ref()),
        error_info: details.and_then(|d| d.error_info.as_ref()),
        // The spec says `minimum: 0`; a NaN or negative cost would reject the whole batch.
        total_estimated_cost: details
            .and_then(|d| d.total_estimated_cost)
            .filter(|c| c.is_finite() && *c >= 0.0),
        last_updated_at: now,
        source: SOURCE,
    }
}

fn score_write(f: &FeedbackScore) -> ScoreWrite<'_> {
    let (id, thread_id) = match &f.target {
        ScoreTarget::Trace(id) | ScoreTarget::Span(id) => (Some(id), None),
        ScoreTarget::Thread(t) => (None, Some(t.as_str())),
    };
    ScoreWrite {
        id,
        thread_id,
        project_name: &f.project_name,
        name: &f.name,
        value: f.value,
        reason: f.reason.as_deref(),
        category_name: f.category_name.as_deref(),
        source: SOURCE,
    }
}

/// Appends the wire item of `record` to `out` as JSON, stamped with `now` as its
/// `last_updated_at`.
pub fn write_item(out: &mut Vec<u8>, record: &Record, now: Timestamp) -> serde_json::Result<()> {
    match record {
        Record::Trace(t) => serde_json::to_writer(out, &trace_write(t, now)),
        Record::Span(s) => serde_json::to_writer(out, &span_write(s, now)),
        Record::Feedback(f) => serde_json::to_writer(out, &score_write(f)),
    }
}

/// The wire item of `record` as a `serde_json::Value` (for local views and tests).
pub fn item_value(record: &Record, now: Timestamp) -> serde_json::Value {
    let mut buf = Vec::new();
    match write_item(&mut buf, record, now) {
        Ok(()) => serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
}
