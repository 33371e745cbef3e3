//! Applying an update to the record of the span or trace it was made for.

use super::{deep_merge, with_prompts, Common, SpanUpdate, TraceUpdate, MERGE_DEPTH};
use crate::model::{
    Attachment, AttachmentRecord, Entity, ErrorInfo, Payload, ProjectName, Record, RecordBase,
    Score, ScoreTarget, SpanDetails, SpanRecord, Tags, TraceDetails, TraceRecord, MAX_TAGS,
};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

fn merge_payload(existing: Option<Payload>, newer: Map<String, Value>, key: &str) -> Payload {
    let mut base = match existing.map(|p| p.to_value()) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    deep_merge(&mut base, newer, MERGE_DEPTH);
    Payload::from_json(&Value::Object(base), key)
}

fn merge_metadata(
    existing: Option<Arc<Map<String, Value>>>,
    newer: Map<String, Value>,
) -> Arc<Map<String, Value>> {
    let mut base = existing.map(Arc::unwrap_or_clone).unwrap_or_default();
    deep_merge(&mut base, newer, MERGE_DEPTH);
    Arc::new(base)
}

fn apply_tags(tags: &mut Tags, more: Vec<String>, what: &str) {
    if more.is_empty() {
        return;
    }
    tags.extend(more);
    if let Tags::Owned(list) = tags {
        if list.len() > MAX_TAGS {
            let dropped = list.split_off(MAX_TAGS);
            tracing::warn!(target: "opik", "opik: {what} has more than {MAX_TAGS} tags; {dropped:?} left out");
        }
    }
}

/// Valid scores of an update as records about `target`; invalid ones are left out with a
/// warning.
fn score_records(
    scores: Vec<Score>,
    target: ScoreTarget,
    project: ProjectName,
    out: &mut Vec<Record>,
) {
    for score in scores {
        match score.validate() {
            Ok(()) => out.push(score.into_record(target.clone(), &project)),
            Err(e) => tracing::warn!(target: "opik", "{e}; it is not sent"),
        }
    }
}

impl SpanUpdate {
    /// Merges the update into a span record about to be queued; feedback scores go to `out`.
    pub(crate) fn apply_to(self, rec: &mut SpanRecord, out: &mut Vec<Record>) {
        let SpanUpdate {
            common,
            model,
            provider,
            usage,
            total_cost,
        } = self;
        let rest = common.apply_to(&mut rec.base, "a span");
        if let Some(usage) = &usage {
            // As the Python SDK: the original usage is also kept in metadata, when the span has
            // metadata and no `usage` entry of its own.
            if let Some(meta) = &mut rec.base.metadata {
                if !meta.contains_key("usage") {
                    Arc::make_mut(meta).insert("usage".into(), usage.original().clone());
                }
            }
        }
        let has_details = model.is_some()
            || provider.is_some()
            || usage.is_some()
            || total_cost.is_some()
            || rest.error_info.is_some();
        if has_details {
            let details = rec.details.get_or_insert_with(Box::<SpanDetails>::default);
            if let Some(usage) = usage {
                let map = usage.to_opik_usage(provider.as_deref().or(details.provider.as_deref()));
                if map.is_empty() {
                    tracing::warn!(target: "opik", "opik: usage {} has no token counts Opik can read; it is not sent", usage.original());
                } else {
                    details.usage = Some(map);
                }
            }
            if model.is_some() {
                details.model = model;
            }
            if provider.is_some() {
                details.provider = provider;
            }
            if total_cost.is_some() {
                details.total_estimated_cost = total_cost;
            }
            if details.error_info.is_none() {
                details.error_info = rest.error_info;
            }
        }
        let target = ScoreTarget::Span(rec.base.id);
        score_records(rest.scores, target, rec.base.project_name, out);
        attachment_records(
            rest.attachments,
            Entity::Span(rec.base.id),
            rec.base.project_name,
            out,
        );
    }
}

impl TraceUpdate {
    /// Merges the update into a trace record about to be queued; feedback scores go to `out`.
    pub(crate) fn apply_to(self, rec: &mut TraceRecord, out: &mut Vec<Record>) {
        let TraceUpdate {
            common,
            thread_id,
            source,
        } = self;
        let rest = common.apply_to(&mut rec.base, "a trace");
        if thread_id.is_some() || source.is_some() || rest.error_info.is_some() {
            let details = rec.details.get_or_insert_with(Box::<TraceDetails>::default);
            if thread_id.is_some() {
                details.thread_id = thread_id;
            }
            if source.is_some() {
                details.source = source;
            }
            if details.error_info.is_none() {
                details.error_info = rest.error_info;
            }
        }
        let target = ScoreTarget::Trace(rec.base.id);
        score_records(rest.scores, target, rec.base.project_name, out);
        attachment_records(
            rest.attachments,
            Entity::Trace(rec.base.id),
            rec.base.project_name,
            out,
        );
    }
}

/// An update's attachments as records of their own, queued after their entity's.
fn attachment_records(
    attachments: Vec<Attachment>,
    entity: Entity,
    project_name: ProjectName,
    out: &mut Vec<Record>,
) {
    out.extend(attachments.into_iter().map(|attachment| {
        Record::Attachment(Box::new(AttachmentRecord {
            entity,
            project_name,
            attachment,
            charge: None,
            tally: None,
        }))
    }));
}

/// What is left of `Common` after the shared fields went into the record.
struct Rest {
    error_info: Option<ErrorInfo>,
    scores: Vec<Score>,
    attachments: Vec<Attachment>,
}

impl Common {
    /// Applies the fields traces and spans share to `base`; `what` names the record in
    /// warnings.
    fn apply_to(self, base: &mut RecordBase, what: &str) -> Rest {
        let Common {
            name,
            input,
            output,
            metadata,
            tags,
            error_info,
            scores,
            attachments,
            prompts,
        } = self;
        if let Some(n) = name {
            base.name = Cow::Owned(n);
        }
        if let Some(i) = input {
            base.input = Some(merge_payload(base.input.take(), i, "input"));
        }
        if let Some(o) = output {
            // Set explicitly, the output is final: the return value is not used.
            base.output = Some(Payload::from_json(&Value::Object(o), "output"));
        }
        if let Some(m) = metadata {
            base.metadata = Some(merge_metadata(base.metadata.take(), m));
        }
        if !prompts.is_empty() {
            let mut m = base
                .metadata
                .take()
                .map(Arc::unwrap_or_clone)
                .unwrap_or_default();
            with_prompts(&mut m, prompts);
            base.metadata = Some(Arc::new(m));
        }
        apply_tags(&mut base.tags, tags, what);
        Rest {
            error_info,
            scores,
            attachments,
        }
    }
}
