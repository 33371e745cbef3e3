//! Batches: records of one endpoint encoded into one request body, up to the item and byte
//! caps; splitting a batch the server found too large, and truncating a record too large alone.

use super::exporter::State;
use super::transport::EncodedBatch;
use crate::model::{wire, Payload, Record, RecordKind, Timestamp};
use crate::pipe::DropReason;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The batch being sent (one at a time).
pub(super) struct Batch {
    pub(super) kind: RecordKind,
    pub(super) records: Vec<Record>,
    pub(super) encoded: Arc<EncodedBatch>,
    /// Start records of running spans: not counted as produced or delivered.
    pub(super) preview: bool,
    pub(super) attempts: u32,
    pub(super) first_try: Option<Instant>,
    /// Not sent again before this (backoff).
    pub(super) not_before: Instant,
    /// Extra time granted by rate-limit pauses.
    pub(super) paused_for: Duration,
    /// How many of its records had their input/output replaced by a truncation marker.
    pub(super) truncated: u64,
}

impl State {
    /// Encodes records of `kind` off the front of a list into one request body, up to the item
    /// and byte caps. A record larger than `max_record_bytes` is truncated first; one that
    /// cannot be encoded is dropped (`serialization`).
    pub(super) fn take_batch(&mut self, kind: RecordKind, preview: bool) -> Option<Batch> {
        let k = kind.index();
        let now = Timestamp::now();
        let mut json = Vec::with_capacity(16 * 1024);
        json.extend_from_slice(b"{\"");
        json.extend_from_slice(kind.array_key().as_bytes());
        json.extend_from_slice(b"\":[");
        let mut used: Vec<Record> = Vec::new();
        let mut truncated = 0u64;
        loop {
            if used.len() >= self.settings.batch_max_items {
                break;
            }
            let list = if preview {
                &mut self.previews[k]
            } else {
                &mut self.pending[k]
            };
            let Some(mut record) = list.pop_front() else {
                break;
            };
            let mark = json.len();
            if !used.is_empty() {
                json.push(b',');
            }
            if wire::write_item(&mut json, &record, now, self.environment.as_deref()).is_err() {
                json.truncate(mark);
                if !preview {
                    self.pipe.counters.add_dropped(DropReason::Serialization, 1);
                    self.settled[k] += 1;
                    self.log_once(
                        "serialization".into(),
                        format!("opik: a {kind} record could not be encoded as JSON; dropped"),
                    );
                }
                continue;
            }
            let item_len = json.len() - mark;
            if item_len > self.settings.max_record_bytes && truncate(&mut record) {
                json.truncate(mark);
                self.log_truncated(kind, item_len);
                let list = if preview {
                    &mut self.previews[k]
                } else {
                    &mut self.pending[k]
                };
                list.push_front(record);
                truncated += 1;
                continue;
            }
            if json.len() + 2 > self.byte_cap[k] && !used.is_empty() {
                // This record goes into the next request.
                json.truncate(mark);
                let list = if preview {
                    &mut self.previews[k]
                } else {
                    &mut self.pending[k]
                };
                list.push_front(record);
                break;
            }
            used.push(record);
        }
        if used.is_empty() {
            return None;
        }
        json.extend_from_slice(b"]}");
        Some(Batch {
            kind,
            encoded: Arc::new(EncodedBatch {
                kind,
                json,
                items: used.len(),
            }),
            records: used,
            preview,
            attempts: 0,
            first_try: None,
            not_before: Instant::now(),
            paused_for: Duration::ZERO,
            truncated,
        })
    }

    /// A 413: split the batch in halves (and remember that this endpoint takes smaller
    /// requests), or truncate a single record, or give up on a truncated one.
    pub(super) fn split(&mut self, mut batch: Batch) {
        let k = batch.kind.index();
        let size = batch.encoded.json.len();
        let list = if batch.preview {
            &mut self.previews[k]
        } else {
            &mut self.pending[k]
        };
        if batch.records.len() > 1 {
            // Halve the cap so that the halves fit (a single record always goes, whatever the
            // cap: the next branch handles one that is too large alone).
            self.refused_size[k] = self.refused_size[k].min(size);
            self.byte_cap[k] = (size / 2).min(self.byte_cap[k]).max(1);
            for r in batch.records.drain(..).rev() {
                list.push_front(r);
            }
            tracing::debug!(target: "opik", "opik: a request of {size} bytes was too large; splitting it");
            return;
        }
        let Some(mut record) = batch.records.pop() else {
            return;
        };
        if truncate(&mut record) {
            self.log_truncated(batch.kind, size);
            let preview = batch.preview;
            if let Some(mut b) = self.single(batch.kind, record, preview) {
                b.truncated = 1;
                self.current = Some(b);
            }
            return;
        }
        batch.records.push(record);
        self.log_once(
            "too large".into(),
            format!(
                "opik: Opik refused a {} record of {size} bytes as too large even with its input \
                 and output truncated; dropped",
                batch.kind
            ),
        );
        self.drop_batch(&batch, DropReason::TooLarge);
    }

    /// A batch of one record.
    pub(super) fn single(
        &mut self,
        kind: RecordKind,
        record: Record,
        preview: bool,
    ) -> Option<Batch> {
        let k = kind.index();
        let list = if preview {
            &mut self.previews[k]
        } else {
            &mut self.pending[k]
        };
        list.push_front(record);
        let cap = std::mem::replace(&mut self.settings.batch_max_items, 1);
        let b = self.take_batch(kind, preview);
        self.settings.batch_max_items = cap;
        b
    }
}

/// What replaces an oversized `input`/`output`: the Python SDK's marker, so that tools that
/// detect `opik_truncated` work on both.
fn truncation_marker(bytes: usize) -> Payload {
    let mb = (bytes as f64 / (1024.0 * 1024.0)).round() as u64;
    Payload::from_json(
        &serde_json::json!({
            "opik_truncated": true,
            "reason": format!("<omitted_due_to_size_{mb}MB_error_code_413_400>"),
        }),
        "output",
    )
}

/// Replaces a trace's or span's `input` and `output` by truncation markers; false when there
/// was nothing to truncate.
fn truncate(record: &mut Record) -> bool {
    let (input, output) = match record {
        Record::Trace(t) => (&mut t.base.input, &mut t.base.output),
        Record::Span(s) => (&mut s.base.input, &mut s.base.output),
        Record::Feedback(_) => return false,
    };
    let mut changed = false;
    for field in [input, output] {
        if let Some(p) = field {
            if !p.as_str().contains("\"opik_truncated\":true") {
                *field = Some(truncation_marker(p.len()));
                changed = true;
            }
        }
    }
    changed
}
