//! The changes an update makes to a span or trace: what `update_current_span` /
//! `update_current_trace` (and the explicit handles) collect, and how two of them merge.
//!
//! An update is collected in a fresh [`SpanUpdate`] / [`TraceUpdate`] by the caller's closure,
//! merged with the earlier updates of the same span (newer values win, maps deep-merge, tags
//! append), and applied to the span's record when it ends (`apply`). Pure data: where updates
//! wait for their span lives in `span::slot`.

mod apply;
mod patch;

pub(crate) use patch::{Patch, Stored};

use super::{tag_problem, Attachment, ErrorInfo, Score, TraceSource, Usage};
use serde::Serialize;
use serde_json::{Map, Value};
use std::ops::{Deref, DerefMut};

/// How deep metadata, input and output maps are merged (as the Python SDK: deeper levels are
/// replaced).
const MERGE_DEPTH: usize = 10;

/// Merging a newer update into an older one.
pub trait Merge {
    /// Merges `newer` into `self` (newer values win; maps deep-merge; tags append).
    fn merge(&mut self, newer: Self);
}

// ---- What both updates have --------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Common {
    name: Option<String>,
    input: Option<Map<String, Value>>,
    output: Option<Map<String, Value>>,
    metadata: Option<Map<String, Value>>,
    tags: Vec<String>,
    error_info: Option<ErrorInfo>,
    scores: Vec<Score>,
    attachments: Vec<Attachment>,
    /// Prompt versions used (the `opik_prompts` entries the prompt library makes), appended
    /// to `metadata.opik_prompts` when the update is applied, each (prompt, commit) once.
    prompts: Vec<Value>,
}

/// Appends `prompt` to `list` unless an entry of the same prompt id and commit is there, as
/// the Python SDK deduplicates `opik_prompts`.
pub(crate) fn add_prompt(list: &mut Vec<Value>, prompt: Value) {
    let key = |p: &Value| (p.get("id").cloned(), p.pointer("/version/commit").cloned());
    let new = key(&prompt);
    if !list.iter().any(|p| key(p) == new) {
        list.push(prompt);
    }
}

/// `metadata` with `prompts` appended to its `opik_prompts` list.
pub(crate) fn with_prompts(metadata: &mut Map<String, Value>, prompts: Vec<Value>) {
    if prompts.is_empty() {
        return;
    }
    let mut list = match metadata.remove("opik_prompts") {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    for p in prompts {
        add_prompt(&mut list, p);
    }
    metadata.insert("opik_prompts".into(), Value::Array(list));
}

impl Common {
    fn merge(&mut self, newer: Common) {
        if newer.name.is_some() {
            self.name = newer.name;
        }
        merge_opt(&mut self.input, newer.input);
        merge_opt(&mut self.output, newer.output);
        merge_opt(&mut self.metadata, newer.metadata);
        for tag in newer.tags {
            if !self.tags.contains(&tag) {
                self.tags.push(tag);
            }
        }
        if newer.error_info.is_some() {
            self.error_info = newer.error_info;
        }
        self.scores.extend(newer.scores);
        for a in newer.attachments {
            self.attach(a);
        }
        for p in newer.prompts {
            add_prompt(&mut self.prompts, p);
        }
    }

    /// Adds `attachment` (one of the same file name replaces it, as it would in Opik) if the
    /// server would take it; else warns, at the call.
    fn attach(&mut self, attachment: Attachment) {
        if let Some(why) = attachment.problem() {
            tracing::warn!(target: "opik", "opik: attachment {:?} {why}; it is not uploaded", attachment.file_name());
            return;
        }
        self.attachments
            .retain(|a| a.file_name() != attachment.file_name());
        self.attachments.push(attachment);
    }

    fn tag(&mut self, tag: String) {
        match tag_problem(&tag) {
            None => {
                if !self.tags.contains(&tag) {
                    self.tags.push(tag);
                }
            }
            Some(why) => {
                tracing::warn!(target: "opik", "opik: tag {tag:?}{why}; it is left out")
            }
        }
    }

    /// Adds `score` if the server would take it (else warns, at the call); returns whether.
    fn score(&mut self, score: Score) -> bool {
        match score.validate() {
            Ok(()) => {
                self.scores.push(score);
                true
            }
            Err(e) => {
                tracing::warn!(target: "opik", "{e}; it is not sent");
                false
            }
        }
    }
}

fn merge_opt(into: &mut Option<Map<String, Value>>, newer: Option<Map<String, Value>>) {
    match (into.as_mut(), newer) {
        (_, None) => {}
        (None, Some(n)) => *into = Some(n),
        (Some(old), Some(n)) => deep_merge(old, n, MERGE_DEPTH),
    }
}

/// Merges `newer` into `into`: nested objects merge (down to `depth` levels), anything else is
/// replaced by the newer value.
pub(crate) fn deep_merge(into: &mut Map<String, Value>, newer: Map<String, Value>, depth: usize) {
    for (key, value) in newer {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) if depth > 0 => {
                deep_merge(old, new, depth - 1)
            }
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// A JSON object from any serializable value: an object stays as it is, anything else goes
/// under `key` (as return values go under `"output"`).
fn to_object<T: Serialize + ?Sized>(value: &T, key: &str) -> Map<String, Value> {
    match super::to_value(value) {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert(key.to_owned(), other);
            map
        }
    }
}

// ---- The public update types -------------------------------------------------------------------

/// Changes to the current span, collected by
/// [`update_current_span`](crate::update_current_span). Every setter returns the update, so
/// calls chain.
///
/// Maps (`input`, `output`, `metadata`) deep-merge into what the span has (new keys win), tags
/// append, anything else replaces. An `output` set here is what the span records, instead of
/// the function's return value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanUpdate {
    common: Common,
    model: Option<String>,
    provider: Option<String>,
    usage: Option<Usage>,
    total_cost: Option<f64>,
}

/// Changes to the current trace, collected by
/// [`update_current_trace`](crate::update_current_trace); see [`SpanUpdate`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceUpdate {
    common: Common,
    thread_id: Option<String>,
    source: Option<TraceSource>,
}

macro_rules! common_setters {
    ($ty:ty, $what:literal) => {
        impl $ty {
            #[doc = concat!("Renames the ", $what, ".")]
            pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
                self.common.name = Some(name.into());
                self
            }

            #[doc = concat!("Merges into the ", $what, "'s input (a non-object goes under `\"input\"`).")]
            pub fn input<T: Serialize + ?Sized>(&mut self, input: &T) -> &mut Self {
                merge_opt(&mut self.common.input, Some(to_object(input, "input")));
                self
            }

            #[doc = concat!("Sets the ", $what, "'s output (merged with outputs set before; a non-object goes under `\"output\"`). It replaces the return value.")]
            pub fn output<T: Serialize + ?Sized>(&mut self, output: &T) -> &mut Self {
                merge_opt(&mut self.common.output, Some(to_object(output, "output")));
                self
            }

            #[doc = concat!("Deep-merges into the ", $what, "'s metadata (new keys win; a non-object goes under `\"metadata\"`).")]
            pub fn metadata<T: Serialize + ?Sized>(&mut self, metadata: &T) -> &mut Self {
                merge_opt(&mut self.common.metadata, Some(to_object(metadata, "metadata")));
                self
            }

            #[doc = concat!("Adds one metadata entry to the ", $what, ".")]
            pub fn metadata_entry<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
                let mut map = Map::new();
                map.insert(key.to_owned(), super::to_value(value));
                merge_opt(&mut self.common.metadata, Some(map));
                self
            }

            #[doc = concat!("Appends tags to the ", $what, " (duplicates are skipped). A tag Opik would reject (empty, surrounding whitespace, over 100 characters, past the 50th) is left out with a warning.")]
            pub fn tags<I, S>(&mut self, tags: I) -> &mut Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                for tag in tags {
                    self.common.tag(tag.into());
                }
                self
            }

            #[doc = concat!("Appends one tag to the ", $what, "; see [`tags`](Self::tags).")]
            pub fn tag(&mut self, tag: impl Into<String>) -> &mut Self {
                self.common.tag(tag.into());
                self
            }

            #[doc = concat!("Records what went wrong in the ", $what, ". An error the tracked function itself returns or panics with takes precedence.")]
            pub fn error_info(&mut self, error: ErrorInfo) -> &mut Self {
                self.common.error_info = Some(error);
                self
            }

            #[doc = concat!("Adds a feedback score to the ", $what, ", sent when it ends. Chain `.reason(..)` / `.category_name(..)` to describe it. An invalid score (blank name, value outside ±1e9) is left out with a warning.")]
            pub fn feedback_score(&mut self, name: impl Into<String>, value: f64) -> ScoreOptions<'_, Self> {
                let added = self.common.score(Score::new(name, value));
                ScoreOptions { owner: self, added, last: |u: &mut Self| u.common.scores.last_mut() }
            }

            #[doc = concat!("Attaches a file to the ", $what, " (an audio clip, an image, a document), uploaded after the ", $what, " is sent, on the SDK's thread. A second attachment of the same file name replaces the first; an empty one, or one without a file name, is left out with a warning.")]
            pub fn attachment(&mut self, attachment: Attachment) -> &mut Self {
                self.common.attach(attachment);
                self
            }

            #[doc = concat!("Adds a feedback score built with [`Score`] to the ", $what, " (an invalid one is left out with a warning).")]
            pub fn score(&mut self, score: Score) -> &mut Self {
                self.common.score(score);
                self
            }
        }
    };
}

common_setters!(SpanUpdate, "span");
common_setters!(TraceUpdate, "trace");

impl SpanUpdate {
    /// Token usage of the LLM call; see [`Usage`] for how it is normalized.
    pub fn usage(&mut self, usage: impl Into<Usage>) -> &mut Self {
        self.usage = Some(usage.into());
        self
    }

    /// The model the call used (with `provider`, lets Opik compute the cost of `llm` spans).
    pub fn model(&mut self, model: impl Into<String>) -> &mut Self {
        self.model = Some(model.into());
        self
    }

    /// The model's provider, as Opik names it: `openai`, `anthropic`, `google_ai`,
    /// `google_vertexai`, `bedrock`, `mistral`, `groq`...
    pub fn provider(&mut self, provider: impl Into<String>) -> &mut Self {
        self.provider = Some(provider.into());
        self
    }

    /// The cost in USD, sent as `total_estimated_cost`; it overrides the cost Opik would compute.
    pub fn total_cost(&mut self, usd: f64) -> &mut Self {
        if usd.is_finite() && usd >= 0.0 {
            self.total_cost = Some(usd);
        } else {
            tracing::warn!(target: "opik", "opik: total_cost {usd} ignored: it must be a finite, non-negative number of USD");
        }
        self
    }
}

impl TraceUpdate {
    /// Puts the trace in a conversation thread (e.g. `session-42`); traces with the same thread
    /// id form one thread in Opik.
    pub fn thread_id(&mut self, thread_id: impl Into<String>) -> &mut Self {
        let id = thread_id.into();
        if id.trim().is_empty() {
            tracing::warn!(target: "opik", "opik: a blank thread_id is ignored");
        } else {
            self.thread_id = Some(id);
        }
        self
    }

    /// Where the trace came from (default [`TraceSource::Sdk`]); `opik::evaluate` marks the
    /// traces it makes [`TraceSource::Experiment`].
    pub fn source(&mut self, source: TraceSource) -> &mut Self {
        self.source = Some(source);
        self
    }
}

impl SpanUpdate {
    /// Records that the span used a prompt version (its `opik_prompts` entry, made by the
    /// prompt library).
    #[cfg_attr(not(feature = "prompts"), allow(dead_code))]
    pub(crate) fn used_prompt(&mut self, prompt: Value) -> &mut Self {
        add_prompt(&mut self.common.prompts, prompt);
        self
    }

    /// The name the update gives, if it renames the span.
    pub(crate) fn renamed(&self) -> Option<&str> {
        self.common.name.as_deref()
    }
}

impl TraceUpdate {
    /// Records that the trace used a prompt version; see [`SpanUpdate::used_prompt`].
    #[cfg_attr(not(feature = "prompts"), allow(dead_code))]
    pub(crate) fn used_prompt(&mut self, prompt: Value) -> &mut Self {
        add_prompt(&mut self.common.prompts, prompt);
        self
    }

    /// The name the update gives, if it renames the trace.
    pub(crate) fn renamed(&self) -> Option<&str> {
        self.common.name.as_deref()
    }

    /// The thread the update puts the trace in, if it does.
    pub(crate) fn thread(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }
}

impl Merge for SpanUpdate {
    fn merge(&mut self, newer: SpanUpdate) {
        self.common.merge(newer.common);
        if newer.model.is_some() {
            self.model = newer.model;
        }
        if newer.provider.is_some() {
            self.provider = newer.provider;
        }
        if newer.usage.is_some() {
            self.usage = newer.usage;
        }
        if newer.total_cost.is_some() {
            self.total_cost = newer.total_cost;
        }
    }
}

impl Merge for TraceUpdate {
    fn merge(&mut self, newer: TraceUpdate) {
        self.common.merge(newer.common);
        if newer.thread_id.is_some() {
            self.thread_id = newer.thread_id;
        }
        if newer.source.is_some() {
            self.source = newer.source;
        }
    }
}

/// The feedback score just added, to describe further; it derefs to the update, so setters keep
/// chaining: `s.feedback_score("quality", 0.9).reason("good").model("gpt-4o")`.
pub struct ScoreOptions<'a, U> {
    owner: &'a mut U,
    /// Whether the score was valid and added (else the options have nothing to describe).
    added: bool,
    last: fn(&mut U) -> Option<&mut Score>,
}

impl<U> ScoreOptions<'_, U> {
    fn score(&mut self) -> Option<&mut Score> {
        if self.added {
            (self.last)(self.owner)
        } else {
            None
        }
    }

    /// Why the score was given.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        if let Some(s) = self.score() {
            s.reason = Some(reason.into());
        }
        self
    }

    /// The category, for categorical scores.
    pub fn category_name(mut self, category: impl Into<String>) -> Self {
        if let Some(s) = self.score() {
            s.category_name = Some(category.into());
        }
        self
    }
}

impl<U> Deref for ScoreOptions<'_, U> {
    type Target = U;
    fn deref(&self) -> &U {
        self.owner
    }
}

impl<U> DerefMut for ScoreOptions<'_, U> {
    fn deref_mut(&mut self) -> &mut U {
        self.owner
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn updates_merge_deeply_and_chain_through_scores() {
        let mut a = SpanUpdate::default();
        a.metadata(&json!({"x": {"a": 1}, "keep": true}))
            .tags(["one"]);
        let mut b = SpanUpdate::default();
        b.feedback_score("q", 0.5)
            .reason("why")
            .category_name("c")
            .model("m")
            .metadata(&json!({"x": {"b": 2}, "keep": false}))
            .tags(["one", "two"]);
        a.merge(b);
        assert_eq!(
            Value::Object(a.common.metadata.clone().unwrap()),
            json!({"x": {"a": 1, "b": 2}, "keep": false})
        );
        assert_eq!(a.common.tags, ["one", "two"]);
        assert_eq!(a.model.as_deref(), Some("m"));
        let s = &a.common.scores[0];
        assert_eq!(
            (s.reason.as_deref(), s.category_name.as_deref()),
            (Some("why"), Some("c"))
        );
    }

    #[test]
    fn non_objects_are_wrapped_and_tags_are_checked() {
        let mut t = TraceUpdate::default();
        t.output(&"done")
            .input(&[1, 2])
            .tags(["ok", " bad", ""])
            .thread_id("  ");
        assert_eq!(t.common.output.unwrap()["output"], "done");
        assert_eq!(t.common.input.unwrap()["input"], json!([1, 2]));
        assert_eq!(t.common.tags, ["ok"]);
        assert!(t.thread_id.is_none());
        assert!(tag_problem(&"x".repeat(101)).is_some());
    }

    #[test]
    fn an_invalid_score_is_dropped_at_the_call_and_its_options_touch_nothing() {
        let mut u = SpanUpdate::default();
        u.feedback_score("good", 1.0);
        u.feedback_score("", 1.0)
            .reason("ignored")
            .category_name("ignored");
        u.score(Score::new("nan", f64::NAN));
        assert_eq!(u.common.scores.len(), 1);
        assert_eq!(
            u.common.scores[0].reason, None,
            "options of a dropped score do nothing"
        );
    }
}
