//! An update made after the fact, to a trace or span Opik already holds: the `TraceUpdate` /
//! `SpanUpdate` body of the `PATCH` that makes it, with the same meaning an update has on a
//! running span: `input` and `metadata` deep-merge into what is stored, `output` replaces it,
//! tags are added (`tags_to_add`), the rest replaces.

use super::{deep_merge, with_prompts, Common, SpanUpdate, TraceUpdate, MERGE_DEPTH};
use crate::model::{Attachment, Score};
use serde_json::{Map, Value};

/// What the record holds now, that the update merges into.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stored<'a> {
    pub(crate) input: Option<&'a Value>,
    pub(crate) metadata: Option<&'a Value>,
    /// A span's provider (how its usage is read when the update names none).
    pub(crate) provider: Option<&'a str>,
}

/// The body of the `PATCH`, and what goes to Opik separately: feedback scores and
/// attachments.
#[derive(Debug, Default)]
pub(crate) struct Patch {
    pub(crate) body: Map<String, Value>,
    pub(crate) scores: Vec<Score>,
    pub(crate) attachments: Vec<Attachment>,
}

fn merged(stored: Option<&Value>, newer: Map<String, Value>) -> Map<String, Value> {
    let mut base = match stored {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    deep_merge(&mut base, newer, MERGE_DEPTH);
    base
}

impl Common {
    fn into_patch(self, stored: Stored<'_>) -> Patch {
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
        let mut body = Map::new();
        if let Some(name) = name {
            body.insert("name".into(), name.into());
        }
        if let Some(input) = input {
            body.insert("input".into(), Value::Object(merged(stored.input, input)));
        }
        if let Some(output) = output {
            body.insert("output".into(), Value::Object(output));
        }
        if metadata.is_some() || !prompts.is_empty() {
            let mut all = merged(stored.metadata, metadata.unwrap_or_default());
            with_prompts(&mut all, prompts);
            body.insert("metadata".into(), Value::Object(all));
        }
        if !tags.is_empty() {
            body.insert("tags_to_add".into(), tags.into());
        }
        if let Some(error) = error_info {
            body.insert("error_info".into(), crate::model::to_value(&error));
        }
        Patch {
            body,
            scores,
            attachments,
        }
    }
}

impl TraceUpdate {
    /// The `PATCH` that makes this update to a trace holding `stored`.
    pub(crate) fn into_patch(self, stored: Stored<'_>) -> Patch {
        let TraceUpdate {
            common,
            thread_id,
            source,
        } = self;
        let mut patch = common.into_patch(stored);
        if let Some(thread) = thread_id {
            patch.body.insert("thread_id".into(), thread.into());
        }
        if let Some(source) = source {
            patch.body.insert("source".into(), source.as_str().into());
        }
        patch
    }
}

impl SpanUpdate {
    /// The `PATCH` that makes this update to a span holding `stored`.
    pub(crate) fn into_patch(self, stored: Stored<'_>) -> Patch {
        let SpanUpdate {
            common,
            model,
            provider,
            usage,
            total_cost,
        } = self;
        let mut patch = common.into_patch(stored);
        if let Some(usage) = usage {
            let map = usage.to_opik_usage(provider.as_deref().or(stored.provider));
            if map.is_empty() {
                tracing::warn!(target: "opik", "opik: usage {} has no token counts Opik can read; it is not sent", usage.original());
            } else {
                patch
                    .body
                    .insert("usage".into(), crate::model::to_value(&map));
            }
        }
        if let Some(model) = model {
            patch.body.insert("model".into(), model.into());
        }
        if let Some(provider) = provider {
            patch.body.insert("provider".into(), provider.into());
        }
        if let Some(cost) = total_cost {
            patch
                .body
                .insert("total_estimated_cost".into(), cost.into());
        }
        patch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Usage;
    use serde_json::json;

    #[test]
    fn maps_merge_into_what_is_stored_and_the_rest_replaces() {
        let stored_meta = json!({"a": {"x": 1}, "keep": true});
        let mut update = SpanUpdate::default();
        update
            .metadata(&json!({"a": {"y": 2}}))
            .output(&"done")
            .tags(["late"])
            .usage(Usage::new(3, 4))
            .feedback_score("q", 1.0);
        let patch = update.into_patch(Stored {
            metadata: Some(&stored_meta),
            ..Stored::default()
        });
        assert_eq!(
            Value::Object(patch.body),
            json!({
                "metadata": {"a": {"x": 1, "y": 2}, "keep": true},
                "output": {"output": "done"},
                "tags_to_add": ["late"],
                // As a running span's usage: the counts, and the original ones as the Python
                // SDK keeps them.
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
                          "original_usage.prompt_tokens": 3, "original_usage.completion_tokens": 4,
                          "original_usage.total_tokens": 7},
            })
        );
        assert_eq!(patch.scores.len(), 1);
        let mut update = TraceUpdate::default();
        update.thread_id("t-1").input(&json!({"q": 1}));
        let patch = update.into_patch(Stored::default());
        assert_eq!(
            Value::Object(patch.body),
            json!({"input": {"q": 1}, "thread_id": "t-1"})
        );
    }
}
