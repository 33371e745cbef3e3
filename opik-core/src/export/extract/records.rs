//! Extraction on the exporter's side: as a trace or span record is taken off the queue, large
//! base64 data in its input, output and metadata becomes attachment records of its own, queued
//! right after it and uploaded like any attachment; the record keeps a `[<file name>]`
//! placeholder. The decoded bytes are charged to the byte budget; when they do not fit, the
//! data stays inline (and the record's own size rules apply to it), so nothing is lost.

use super::{extract, Context, Options};
use crate::export::exporter::State;
use crate::model::{
    Attachment, AttachmentRecord, ByteCharge, Entity, Payload, ProjectName, Record, RecordKind,
    Tally,
};
use serde_json::{Map, Value};
use std::sync::Arc;

impl State {
    /// Extracts the attachments of `record`, if extraction is on and it carries a string long
    /// enough to hold one.
    pub(in crate::export) fn extract_attachments(&mut self, record: &mut Record) {
        if !self.settings.extract_attachments {
            return;
        }
        let (base, entity) = match record {
            Record::Trace(t) => (&mut t.base, Entity::Trace as fn(_) -> _),
            Record::Span(s) => (&mut s.base, Entity::Span as fn(_) -> _),
            _ => return,
        };
        let options = Options {
            min_size: self.settings.min_base64_attachment_size,
        };
        let (project, entity) = (base.project_name, entity(base.id));
        let mut found = Vec::new();
        for (field, context) in [
            (&mut base.input, Context::Input),
            (&mut base.output, Context::Output),
        ] {
            let Some(payload) = field.as_ref() else {
                continue;
            };
            if payload.len() < options.min_size {
                continue;
            }
            let text = payload.as_str();
            let extraction = extract(text, context, &options);
            if extraction.attachments.is_empty() {
                continue;
            }
            if let Some(charged) = self.charge(extraction.attachments) {
                *field = Some(Payload::from_object_str(&extraction.json));
                found.extend(charged);
            }
        }
        if let Some(meta) = base.metadata.as_ref() {
            if holds_long_string(meta, options.min_size) {
                let text = Value::Object((**meta).clone()).to_string();
                let extraction = extract(&text, Context::Metadata, &options);
                if !extraction.attachments.is_empty() {
                    if let Ok(Value::Object(m)) = serde_json::from_str(&extraction.json) {
                        if let Some(charged) = self.charge(extraction.attachments) {
                            base.metadata = Some(Arc::new(m));
                            found.extend(charged);
                        }
                    }
                }
            }
        }
        self.queue_extracted(found, entity, project);
    }

    /// Charges each attachment's bytes to the budget; `None` (nothing charged) if they do not
    /// all fit.
    fn charge(
        &self,
        attachments: Vec<super::Attachment>,
    ) -> Option<Vec<(super::Attachment, ByteCharge)>> {
        let pipe = &self.pipe;
        let mut charged = Vec::with_capacity(attachments.len());
        for a in attachments {
            let c =
                ByteCharge::try_new(&pipe.held_bytes, a.bytes.len() as u64, pipe.max_held_bytes)?;
            charged.push((a, c));
        }
        Some(charged)
    }

    /// Queues the extracted attachments after their record, counted as produced here (they
    /// never went through the queue).
    fn queue_extracted(
        &mut self,
        found: Vec<(super::Attachment, ByteCharge)>,
        entity: Entity,
        project_name: ProjectName,
    ) {
        if found.is_empty() {
            return;
        }
        let n = found.len() as u64;
        let counters = &self.pipe.counters;
        counters.add_queued(n);
        counters.add_taken(n);
        let k = RecordKind::Attachment.index();
        for (a, charge) in found {
            self.pending[k].push_back(Record::Attachment(Box::new(AttachmentRecord {
                entity,
                project_name,
                attachment: Attachment::from_bytes(a.bytes, a.file_name, a.mime_type),
                charge: Some(charge),
                tally: Some(Tally::new(&counters.attachments_dropped)),
            })));
        }
        self.taken[k] += n;
    }
}

/// Whether any string value in `map` (at any depth) is at least `min` bytes long.
fn holds_long_string(map: &Map<String, Value>, min: usize) -> bool {
    fn walk(v: &Value, min: usize, depth: usize) -> bool {
        match v {
            Value::String(s) => s.len() >= min,
            // Deeper than the SDK's own depth limit lets a value be recorded.
            _ if depth > 128 => false,
            Value::Array(a) => a.iter().any(|v| walk(v, min, depth + 1)),
            Value::Object(m) => m.values().any(|v| walk(v, min, depth + 1)),
            _ => false,
        }
    }
    map.values().any(|v| walk(v, min, 0))
}
