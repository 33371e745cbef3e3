//! The request items Opik's REST API takes (`Trace_Write`, `Span_Write`,
//! `FeedbackScoreBatchItem`, `FeedbackScoreBatchItemThread`), written straight from records.
//!
//! `last_updated_at` is stamped here, when the exporter serializes a record for sending: batch
//! creates are upserts decided by it, so a later record of the same id (the final version of a
//! start record) always wins. Absent fields are left out, never sent as `null`.

use super::{FeedbackScore, Record, RecordBase, ScoreTarget, SpanRecord, Timestamp, TraceRecord};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Every record this SDK sends says where it came from.
const SOURCE: &str = "sdk";

/// A record with the time it is sent and its client's environment, serialized as its wire
/// item.
struct Item<'a, R> {
    record: &'a R,
    now: Timestamp,
    environment: Option<&'a str>,
}

/// The fields traces and spans share, in one place for both items. The environment is the
/// client's, the same for every record it sends, so it is added here, not carried by each
/// record (a child always carries its trace's: they share the client).
fn base_entries<M: SerializeMap>(
    m: &mut M,
    b: &RecordBase,
    environment: Option<&str>,
) -> Result<(), M::Error> {
    m.serialize_entry("id", &b.id)?;
    m.serialize_entry("project_name", b.project_name.as_str())?;
    m.serialize_entry("name", &*b.name)?;
    m.serialize_entry("start_time", &b.start_time)?;
    if let Some(end) = &b.end_time {
        m.serialize_entry("end_time", end)?;
    }
    if let Some(input) = &b.input {
        m.serialize_entry("input", input)?;
    }
    if let Some(output) = &b.output {
        m.serialize_entry("output", output)?;
    }
    if let Some(metadata) = &b.metadata {
        m.serialize_entry("metadata", &**metadata)?;
    }
    if !b.tags.is_empty() {
        m.serialize_entry("tags", &b.tags)?;
    }
    if let Some(environment) = environment {
        m.serialize_entry("environment", environment)?;
    }
    Ok(())
}

/// The closing fields of traces and spans.
fn stamp<M: SerializeMap>(m: &mut M, now: Timestamp, source: &str) -> Result<(), M::Error> {
    m.serialize_entry("last_updated_at", &now)?;
    m.serialize_entry("source", source)
}

impl Serialize for Item<'_, TraceRecord> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.record;
        let mut m = s.serialize_map(None)?;
        base_entries(&mut m, &t.base, self.environment)?;
        if let Some(d) = t.details.as_deref() {
            if let Some(e) = &d.error_info {
                m.serialize_entry("error_info", e)?;
            }
            if let Some(thread) = &d.thread_id {
                m.serialize_entry("thread_id", thread)?;
            }
            if let Some(ttft) = d.ttft.filter(|t| t.is_finite() && *t >= 0.0) {
                m.serialize_entry("ttft", &ttft)?;
            }
        }
        let source = t.details.as_deref().and_then(|d| d.source);
        stamp(&mut m, self.now, source.map_or(SOURCE, |s| s.as_str()))?;
        m.end()
    }
}

impl Serialize for Item<'_, SpanRecord> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sp = self.record;
        let mut m = s.serialize_map(None)?;
        base_entries(&mut m, &sp.base, self.environment)?;
        m.serialize_entry("trace_id", &sp.trace_id)?;
        if let Some(parent) = &sp.parent_span_id {
            m.serialize_entry("parent_span_id", parent)?;
        }
        m.serialize_entry("type", &sp.span_type)?;
        if let Some(d) = sp.details.as_deref() {
            if let Some(model) = &d.model {
                m.serialize_entry("model", model)?;
            }
            if let Some(provider) = &d.provider {
                m.serialize_entry("provider", provider)?;
            }
            if let Some(usage) = &d.usage {
                m.serialize_entry("usage", usage)?;
            }
            if let Some(e) = &d.error_info {
                m.serialize_entry("error_info", e)?;
            }
            if let Some(ttft) = d.ttft.filter(|t| t.is_finite() && *t >= 0.0) {
                m.serialize_entry("ttft", &ttft)?;
            }
            // The spec says `minimum: 0`; a NaN or negative cost would reject the whole batch.
            if let Some(cost) = d
                .total_estimated_cost
                .filter(|c| c.is_finite() && *c >= 0.0)
            {
                m.serialize_entry("total_estimated_cost", &cost)?;
            }
        }
        stamp(&mut m, self.now, SOURCE)?;
        m.end()
    }
}

impl Serialize for Item<'_, FeedbackScore> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.record;
        let mut m = s.serialize_map(None)?;
        match &f.target {
            ScoreTarget::Trace(id) | ScoreTarget::Span(id) => m.serialize_entry("id", id)?,
            ScoreTarget::Thread(t) => m.serialize_entry("thread_id", t)?,
        }
        m.serialize_entry("project_name", f.project_name.as_str())?;
        m.serialize_entry("name", &f.name)?;
        m.serialize_entry("value", &f.value)?;
        if let Some(reason) = &f.reason {
            m.serialize_entry("reason", reason)?;
        }
        if let Some(category) = &f.category_name {
            m.serialize_entry("category_name", category)?;
        }
        m.serialize_entry("source", SOURCE)?;
        m.end()
    }
}

/// Appends the wire item of `record` to `out` as JSON, stamped with `now` as its
/// `last_updated_at`, in `environment` if the client has one.
pub fn write_item(
    out: &mut Vec<u8>,
    record: &Record,
    now: Timestamp,
    environment: Option<&str>,
) -> serde_json::Result<()> {
    match record {
        Record::Trace(t) => serde_json::to_writer(
            out,
            &Item {
                record: t,
                now,
                environment,
            },
        ),
        Record::Span(s) => serde_json::to_writer(
            out,
            &Item {
                record: s,
                now,
                environment,
            },
        ),
        Record::Feedback(f) => serde_json::to_writer(
            out,
            &Item {
                record: &**f,
                now,
                environment,
            },
        ),
        // Attachments are uploaded one by one (export::upload), never written into a batch.
        Record::Attachment(_) => Err(serde::ser::Error::custom("an attachment has no batch item")),
    }
}
