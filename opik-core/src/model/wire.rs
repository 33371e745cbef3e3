//! The request items Opik's REST API takes (`Trace_Write`, `Span_Write`,
//! `FeedbackScoreBatchItem`, `FeedbackScoreBatchItemThread`), written straight from records.
//!
//! `last_updated_at` is stamped here, when the exporter serializes a record for sending: batch
//! creates are upserts decided by it, so a later record of the same id (the final version of a
//! start record) always wins. Absent fields are left out, never sent as `null`.

use super::{FeedbackScore, Record, RecordBase, ScoreTarget, SpanRecord, Timestamp, TraceRecord};
use serde::Serialize;
use uuid::Uuid;

/// Every record this SDK sends says where it came from.
const SOURCE: &str = "sdk";

/// One JSON object being written: the keys are the SDK's own constants, the values written
/// straight into the request body. What the exporter spends per record is here, so nothing
/// goes through a general-purpose serializer that need not: payloads are spliced as the JSON
/// text they are (they were written by the SDK and are valid by construction), strings with
/// nothing to escape are copied between quotes, ids and timestamps are formatted in place.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Writes `"key":` (with the comma before it unless it is the first).
    #[inline]
    fn key(&mut self, key: &'static str) -> &mut Vec<u8> {
        debug_assert!(needs_no_escape(key));
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, key: &'static str, value: &str) {
        write_str(self.key(key), value);
    }

    fn raw(&mut self, key: &'static str, json: &str) {
        self.key(key).extend_from_slice(json.as_bytes());
    }

    fn uuid(&mut self, key: &'static str, id: &Uuid) {
        let out = self.key(key);
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        out.push(b'"');
        out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
        out.push(b'"');
    }

    fn time(&mut self, key: &'static str, at: Timestamp) {
        let out = self.key(key);
        out.push(b'"');
        at.write_rfc3339(out);
        out.push(b'"');
    }

    fn serde<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        serde_json::to_writer(&mut *self.key(key), value)
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// Whether `s` can be written between quotes as it is.
#[inline]
fn needs_no_escape(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// `value` as a JSON string.
#[inline]
fn write_str(out: &mut Vec<u8>, value: &str) {
    if needs_no_escape(value) {
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

/// The fields traces and spans share, in one place for both items. The environment is the
/// client's, the same for every record it sends, so it is added here, not carried by each
/// record (a child always carries its trace's: they share the client).
fn base_entries(
    m: &mut Obj<'_>,
    b: &RecordBase,
    environment: Option<&str>,
) -> serde_json::Result<()> {
    m.uuid("id", &b.id);
    m.str("project_name", b.project_name.as_str());
    m.str("name", &b.name);
    m.time("start_time", b.start_time);
    if let Some(end) = b.end_time {
        m.time("end_time", end);
    }
    // Payloads are JSON objects by construction (see `Payload`): spliced as they are.
    if let Some(input) = &b.input {
        m.raw("input", input.as_str());
    }
    if let Some(output) = &b.output {
        m.raw("output", output.as_str());
    }
    if let Some(metadata) = &b.metadata {
        m.serde("metadata", &**metadata)?;
    }
    if !b.tags.is_empty() {
        let out = m.key("tags");
        out.push(b'[');
        for (i, tag) in b.tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, tag);
        }
        out.push(b']');
    }
    if let Some(environment) = environment {
        m.str("environment", environment);
    }
    Ok(())
}

/// The closing fields of traces and spans.
fn stamp(m: &mut Obj<'_>, now: Timestamp, source: &str) {
    m.time("last_updated_at", now);
    m.str("source", source);
}

fn write_trace(
    out: &mut Vec<u8>,
    t: &TraceRecord,
    now: Timestamp,
    env: Option<&str>,
) -> serde_json::Result<()> {
    let mut m = Obj::open(out);
    base_entries(&mut m, &t.base, env)?;
    if let Some(d) = t.details.as_deref() {
        if let Some(e) = &d.error_info {
            m.serde("error_info", e)?;
        }
        if let Some(thread) = &d.thread_id {
            m.str("thread_id", thread);
        }
        if let Some(ttft) = d.ttft.filter(|t| t.is_finite() && *t >= 0.0) {
            m.serde("ttft", &ttft)?;
        }
    }
    let source = t.details.as_deref().and_then(|d| d.source);
    stamp(&mut m, now, source.map_or(SOURCE, |s| s.as_str()));
    m.close();
    Ok(())
}

fn write_span(
    out: &mut Vec<u8>,
    sp: &SpanRecord,
    now: Timestamp,
    env: Option<&str>,
) -> serde_json::Result<()> {
    let mut m = Obj::open(out);
    base_entries(&mut m, &sp.base, env)?;
    m.uuid("trace_id", &sp.trace_id);
    if let Some(parent) = &sp.parent_span_id {
        m.uuid("parent_span_id", parent);
    }
    m.str("type", sp.span_type.as_str());
    if let Some(d) = sp.details.as_deref() {
        if let Some(model) = &d.model {
            m.str("model", model);
        }
        if let Some(provider) = &d.provider {
            m.str("provider", provider);
        }
        if let Some(usage) = &d.usage {
            m.serde("usage", usage)?;
        }
        if let Some(e) = &d.error_info {
            m.serde("error_info", e)?;
        }
        if let Some(ttft) = d.ttft.filter(|t| t.is_finite() && *t >= 0.0) {
            m.serde("ttft", &ttft)?;
        }
        // The spec says `minimum: 0`; a NaN or negative cost would reject the whole batch.
        if let Some(cost) = d
            .total_estimated_cost
            .filter(|c| c.is_finite() && *c >= 0.0)
        {
            m.serde("total_estimated_cost", &cost)?;
        }
    }
    stamp(&mut m, now, SOURCE);
    m.close();
    Ok(())
}

fn write_score(out: &mut Vec<u8>, f: &FeedbackScore) -> serde_json::Result<()> {
    let mut m = Obj::open(out);
    match &f.target {
        ScoreTarget::Trace(id) | ScoreTarget::Span(id) => m.uuid("id", id),
        ScoreTarget::Thread(t) => m.str("thread_id", t),
    }
    m.str("project_name", f.project_name.as_str());
    m.str("name", &f.name);
    m.serde("value", &f.value)?;
    if let Some(reason) = &f.reason {
        m.str("reason", reason);
    }
    if let Some(category) = &f.category_name {
        m.str("category_name", category);
    }
    m.str("source", SOURCE);
    m.close();
    Ok(())
}

/// Appends the wire item of `record` to `out` as JSON, stamped with `now` as its
/// `last_updated_at`, in `environment` if the client has one. On an error (a metadata value
/// serde cannot write) `out` may hold part of the item: the caller cuts it off.
pub fn write_item(
    out: &mut Vec<u8>,
    record: &Record,
    now: Timestamp,
    environment: Option<&str>,
) -> serde_json::Result<()> {
    match record {
        Record::Trace(t) => write_trace(out, t, now, environment),
        Record::Span(s) => write_span(out, s, now, environment),
        Record::Feedback(f) => write_score(out, f),
        // Attachments are uploaded one by one (export::upload), never written into a batch.
        Record::Attachment(_) => Err(serde::ser::Error::custom("an attachment has no batch item")),
    }
}
