//! Batches: records of one endpoint encoded into one request body, up to the item and byte
//! caps; splitting a batch the server found too large, and truncating a record too large alone.

use super::exporter::State;
use super::transport::EncodedBatch;
use crate::config::MIN_BATCH_MAX_BYTES;
use crate::model::{wire, Payload, Record, RecordKind, Timestamp};
use crate::net::Tries;
use crate::pipe::DropReason;
use std::sync::Arc;
use std::time::Instant;

/// The batch being sent (one at a time).
pub(super) struct Batch {
    pub(super) kind: RecordKind,
    pub(super) records: Vec<Record>,
    pub(super) encoded: Arc<EncodedBatch>,
    /// Start records of running spans: not counted as produced or delivered.
    pub(super) preview: bool,
    pub(super) tries: Tries,
    /// Not sent again before this (backoff).
    pub(super) not_before: Instant,
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
                    self.note(
                        "serialization",
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
            if json.len() + 2 > self.limits[k].cap && !used.is_empty() {
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
            tries: Tries::default(),
            not_before: Instant::now(),
            truncated,
        })
    }

    /// A 413: split the batch in halves (and remember for a while that this endpoint takes
    /// smaller requests: [`SizeLimit`]), or truncate a single record, or give up on a truncated
    /// one.
    pub(super) fn split(&mut self, mut batch: Batch) {
        let k = batch.kind.index();
        let size = batch.encoded.json.len();
        let list = if batch.preview {
            &mut self.previews[k]
        } else {
            &mut self.pending[k]
        };
        if batch.records.len() > 1 {
            // The next branch handles a single record that is too large alone.
            self.limits[k].refused(size);
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
        self.failed(format!(
            "opik: Opik refused a {} record of {size} bytes as too large even with its input \
                 and output truncated; dropped",
            batch.kind
        ));
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

/// What an endpoint is known to take: the byte cap of its requests, halved when the server
/// says a request was too large and grown after each success: doubled, or, below a size it
/// refused, halfway toward that size (and no further once within 1/16 of it).
///
/// A refused size is not kept for good: a burst of 413s (a proxy briefly misconfigured, a
/// limit raised again) would otherwise leave every later request with one record, and a busy
/// app dropping most of its records. After `forget_after` successes in a row the refused size
/// is forgotten and the cap doubles toward `batch_max_bytes` again, halving if refused. A probe
/// refused at [`MIN_BATCH_MAX_BYTES`] or more looks like a real limit (a proxy's body limit):
/// the next probe waits twice as many successes, up to [`FORGET_AFTER_MAX`], so that probing a
/// lasting limit costs a refused request in a thousand or so. A refusal of a smaller request
/// is not a body limit anybody configured (no batch cap may be that small) and never makes the
/// wait longer; a probe that reaches `batch_max_bytes` resets it to [`FORGET_AFTER_MIN`].
#[derive(Clone, Debug)]
pub(super) struct SizeLimit {
    pub(super) cap: usize,
    /// The smallest request size refused since it was last forgotten (`usize::MAX`: none).
    refused: usize,
    /// Successes since the last refusal.
    ok: u32,
    forget_after: u32,
    /// A refused size was forgotten and the cap has not reached the maximum since.
    probing: bool,
}

/// Successes after which a refused size is first forgotten.
pub(super) const FORGET_AFTER_MIN: u32 = 8;
/// The most successes a refused size is kept for.
pub(super) const FORGET_AFTER_MAX: u32 = 1024;

impl SizeLimit {
    pub(super) fn new(max: usize) -> Self {
        SizeLimit {
            cap: max.max(1),
            refused: usize::MAX,
            ok: 0,
            forget_after: FORGET_AFTER_MIN,
            probing: false,
        }
    }

    /// A request of `size` bytes was refused as too large: halve the cap so that its halves fit
    /// (a single record always goes, whatever the cap).
    pub(super) fn refused(&mut self, size: usize) {
        if self.probing && size >= MIN_BATCH_MAX_BYTES {
            self.forget_after = self.forget_after.saturating_mul(2).min(FORGET_AFTER_MAX);
        }
        self.probing = false;
        self.refused = self.refused.min(size);
        self.cap = (size / 2).min(self.cap).max(1);
        self.ok = 0;
    }

    /// A request was accepted: grow the cap, toward `max`.
    pub(super) fn delivered(&mut self, max: usize) {
        self.ok = self.ok.saturating_add(1);
        if self.refused != usize::MAX && self.ok >= self.forget_after {
            self.refused = usize::MAX;
            self.probing = true;
        }
        let doubled = self.cap.saturating_mul(2);
        let grown = if self.refused == usize::MAX {
            doubled
        } else {
            let gap = self.refused.saturating_sub(self.cap);
            if gap <= self.refused / 16 {
                self.cap
            } else {
                doubled.min(self.cap + gap / 2)
            }
        };
        self.cap = grown.min(max).max(1);
        if self.probing && self.cap >= max {
            self.probing = false;
            self.forget_after = FORGET_AFTER_MIN;
        }
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
        Record::Feedback(_) | Record::Attachment(_) => return false,
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 4 << 20;

    #[test]
    fn a_burst_of_refusals_is_forgotten_and_the_cap_grows_back() {
        let mut limit = SizeLimit::new(MAX);
        for _ in 0..30 {
            limit.refused(600);
            limit.delivered(MAX);
            limit.delivered(MAX);
        }
        assert!(limit.cap < 600, "{limit:?}");
        let mut successes = 0;
        while limit.cap < MAX {
            limit.delivered(MAX);
            successes += 1;
            assert!(successes < 64, "the cap never grows back: {limit:?}");
        }
        assert_eq!(limit.forget_after, FORGET_AFTER_MIN);
    }

    #[test]
    fn a_lasting_limit_is_probed_ever_more_rarely() {
        let limit_bytes = 1 << 20;
        let mut limit = SizeLimit::new(MAX);
        let (mut sent, mut refused) = (0u32, 0u32);
        for _ in 0..100_000 {
            sent += 1;
            if limit.cap > limit_bytes {
                refused += 1;
                limit.refused(limit.cap);
            } else {
                limit.delivered(MAX);
            }
        }
        assert!(
            limit.cap <= limit_bytes && limit.cap > limit_bytes / 2,
            "{limit:?}"
        );
        assert_eq!(limit.forget_after, FORGET_AFTER_MAX);
        assert!(refused * 200 < sent, "{refused} of {sent} requests refused");
        println!("a lasting 1 MiB limit: {refused} of {sent} requests refused");
    }
}
