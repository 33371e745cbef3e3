//! The context API: change the current span or trace from inside a tracked call, as the Python
//! SDK's `opik_context.update_current_span` / `update_current_trace` do, and read snapshots of
//! them.
//!
//! An update is collected in a fresh [`SpanUpdate`] / [`TraceUpdate`] by the caller's closure
//! (no lock held while user code runs), then merged into the span's or trace's slot. The slot is
//! read once, when the span or trace ends, and merged into its record: a call that never updates
//! pays one relaxed load for it.

use crate::context::{self, SpanRole};
use crate::feedback::Score;
use crate::record::{
    ErrorInfo, Payload, Record, ScoreTarget, SpanDetails, SpanRecord, Tags, TraceDetails,
    TraceRecord,
};
use crate::usage::Usage;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Opik's limits on tags (the same `#[track(tags = ...)]` checks at compile time).
pub const MAX_TAGS: usize = 50;
/// The longest tag Opik takes, in characters.
pub const MAX_TAG_CHARS: usize = 100;

/// How deep metadata, input and output maps are merged (as the Python SDK: deeper levels are
/// replaced).
const MERGE_DEPTH: usize = 10;

// ---- The per-span / per-trace slot -------------------------------------------------------------

/// Updates waiting for their span or trace to end. `state` lets the end skip the lock when
/// nothing was ever updated (the common case), and refuses updates that come after the end.
#[derive(Debug, Default)]
pub struct UpdateSlot<T> {
    state: AtomicU8,
    value: Mutex<Option<Box<T>>>,
}

const EMPTY: u8 = 0;
const SET: u8 = 1;
const CLOSED: u8 = 2;

impl<T: Merge> UpdateSlot<T> {
    /// An empty slot (no allocation).
    pub(crate) const fn new() -> Self {
        UpdateSlot {
            state: AtomicU8::new(EMPTY),
            value: Mutex::new(None),
        }
    }

    /// Merges `update` in; `false` (and nothing is kept) once the span or trace has ended.
    pub(crate) fn merge(&self, update: T) -> bool {
        let mut slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        if self.state.load(Ordering::Relaxed) == CLOSED {
            return false;
        }
        match slot.as_mut() {
            Some(existing) => existing.merge(update),
            None => *slot = Some(Box::new(update)),
        }
        self.state.store(SET, Ordering::Release);
        true
    }

    /// Closes the slot (its span or trace ends) and takes what was set, if anything: one
    /// atomic load and one plain store when nothing was.
    #[inline]
    pub(crate) fn take(&self) -> Option<Box<T>> {
        if self.state.load(Ordering::Acquire) != SET {
            // An update racing with the end may still slip in between these two lines; it is
            // then lost like one made just after the end (its caller was told `true`).
            self.state.store(CLOSED, Ordering::Relaxed);
            return None;
        }
        let mut slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        self.state.store(CLOSED, Ordering::Relaxed);
        slot.take()
    }

    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        if self.state.load(Ordering::Acquire) != SET {
            return None;
        }
        let slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_deref().map(f)
    }
}

impl context::ActiveTrace {
    /// Queues the trace's final record with what `update_current_trace` (or an explicit
    /// handle) set applied; the feedback scores set that way are added to `scores`, for the
    /// caller to queue after the span records.
    pub(crate) fn queue_final(&self, mut record: TraceRecord, scores: &mut Vec<Record>) {
        if let Some(update) = self.update.take() {
            update.apply_to(&mut record, scores);
        }
        self.client.enqueue(Record::Trace(record));
    }
}

impl context::ActiveSpan {
    /// Queues the span's final record with what `update_current_span` (or an explicit
    /// handle) set applied, then the feedback scores in `scores` (the trace's first).
    pub(crate) fn queue_final(&self, record: SpanRecord, scores: Vec<Record>) {
        self.queue_final_with(self.update.take(), record, scores);
    }

    /// [`queue_final`](Self::queue_final) with the update already taken off the slot.
    pub(crate) fn queue_final_with(
        &self,
        update: Option<Box<SpanUpdate>>,
        mut record: SpanRecord,
        mut scores: Vec<Record>,
    ) {
        if let Some(update) = update {
            update.apply_to(&mut record, &mut scores);
        }
        let client = &self.trace.client;
        client.enqueue(Record::Span(record));
        for score in scores {
            client.enqueue(score);
        }
    }
}

/// Merging a newer update into an older one.
pub trait Merge {
    /// Merges `newer` into `self` (newer values win; maps deep-merge; tags append).
    fn merge(&mut self, newer: Self);
}

// ---- What both updates have --------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq)]
struct Common {
    name: Option<String>,
    input: Option<Map<String, Value>>,
    output: Option<Map<String, Value>>,
    metadata: Option<Map<String, Value>>,
    tags: Vec<String>,
    error_info: Option<ErrorInfo>,
    scores: Vec<Score>,
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
    }

    fn tag(&mut self, tag: String) {
        match check_tag(&tag) {
            Ok(()) => {
                if !self.tags.contains(&tag) {
                    self.tags.push(tag);
                }
            }
            Err(why) => tracing::warn!(target: "opik", "opik: tag {tag:?} ignored: {why}"),
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

/// Checks a tag against Opik's limits; the error says which.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("a tag must not be empty".into());
    }
    if tag.trim() != tag {
        return Err("it has leading or trailing whitespace".into());
    }
    let chars = tag.chars().count();
    if chars > MAX_TAG_CHARS {
        return Err(format!(
            "it is {chars} characters long; Opik takes at most {MAX_TAG_CHARS}"
        ));
    }
    Ok(())
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
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            let mut map = Map::new();
            map.insert(key.to_owned(), other);
            map
        }
        Err(e) => {
            let mut map = Map::new();
            map.insert(
                key.to_owned(),
                Value::String(crate::record::serialization_failed(&e)),
            );
            map
        }
    }
}

// ---- The public update types -------------------------------------------------------------------

/// Changes to the current span, collected by [`update_current_span`]. Every setter returns the
/// update, so calls chain.
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

/// Changes to the current trace, collected by [`update_current_trace`]; see [`SpanUpdate`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceUpdate {
    common: Common,
    thread_id: Option<String>,
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
                let value = serde_json::to_value(value).unwrap_or_else(|e| {
                    Value::String(crate::record::serialization_failed(&e))
                });
                let mut map = Map::new();
                map.insert(key.to_owned(), value);
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

// ---- Entry points ------------------------------------------------------------------------------

/// Changes the current span (the innermost running tracked call or explicit span made current),
/// like the Python SDK's `opik_context.update_current_span`:
///
/// ```no_run
/// #[opik::track(type = "llm")]
/// async fn chat(prompt: &str) -> String {
///     let answer = String::from("..."); // call the model
///     opik::update_current_span(|span| {
///         span.model("gpt-4o-mini")
///             .provider("openai")
///             .usage(opik::Usage::new(12, 30))
///             .metadata(&serde_json::json!({"temperature": 0.1}));
///         span.feedback_score("relevance", 0.9).reason("on topic");
///     });
///     answer
/// }
/// ```
///
/// Returns whether the update was taken: `false` without a current span (or with the SDK off:
/// then the closure does not run), and `false` when the current span has already ended (work
/// that outlived it, e.g. a task spawned with `opik::spawn` that was not awaited).
pub fn update_current_span(f: impl FnOnce(&mut SpanUpdate)) -> bool {
    if !context::recording() {
        return false;
    }
    let Some(span) = context::current_span() else {
        return false;
    };
    if span.role != SpanRole::Recorded {
        return false;
    }
    let mut update = SpanUpdate::default();
    f(&mut update);
    span.update.merge(update)
}

/// Changes the current trace, like the Python SDK's `opik_context.update_current_trace`.
/// Trace fields that only spans have (usage, model, cost) are not offered; `thread_id` is.
///
/// Returns whether the update was taken: `false` without a current trace owned by this process
/// (a trace continued from distributed headers belongs to the caller's process and is not
/// changed here), and `false` once the trace has ended: it takes the updates made until its
/// root call (or explicit `end()`) finishes.
pub fn update_current_trace(f: impl FnOnce(&mut TraceUpdate)) -> bool {
    if !context::recording() {
        return false;
    }
    let Some(span) = context::current_span() else {
        return false;
    };
    if span.trace.remote {
        return false;
    }
    let mut update = TraceUpdate::default();
    f(&mut update);
    span.trace.update.merge(update)
}

/// A snapshot of the current span.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanData {
    /// The span's id.
    pub id: Uuid,
    /// The trace's id.
    pub trace_id: Uuid,
    /// The span's name (as renamed by an update, if it was).
    pub name: String,
    /// The project the span goes to.
    pub project_name: String,
}

/// A snapshot of the current trace.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceData {
    /// The trace's id.
    pub id: Uuid,
    /// The trace's name (as renamed by an update, if it was).
    pub name: String,
    /// The project the trace goes to.
    pub project_name: String,
    /// The conversation thread: set by an update, else by `#[track(thread_id = ...)]` on the
    /// trace's root call, if either did.
    pub thread_id: Option<String>,
}

/// The current span, if there is one (and the SDK is on).
pub fn current_span_data() -> Option<SpanData> {
    if !context::recording() {
        return None;
    }
    let span = context::current_span().filter(|s| s.role == SpanRole::Recorded)?;
    let name = span
        .update
        .read(|u| u.common.name.clone())
        .flatten()
        .unwrap_or_else(|| span.name.to_string());
    Some(SpanData {
        id: span.id,
        trace_id: span.trace.id,
        name,
        project_name: span.trace.project_name.to_string(),
    })
}

/// The current trace, if there is one owned by this process (and the SDK is on); `None` in a
/// trace continued from distributed headers.
pub fn current_trace_data() -> Option<TraceData> {
    if !context::recording() {
        return None;
    }
    let span = context::current_span()?;
    let trace = &span.trace;
    if trace.remote {
        // Owned by the calling process: its name and thread are not known here.
        return None;
    }
    let (name, thread_id) = trace
        .update
        .read(|u| (u.common.name.clone(), u.thread_id.clone()))
        .unwrap_or((None, None));
    Some(TraceData {
        id: trace.id,
        name: name.unwrap_or_else(|| trace.name.to_string()),
        project_name: trace.project_name.to_string(),
        thread_id: thread_id.or_else(|| trace.thread_id.clone()),
    })
}

// ---- Merging into records ----------------------------------------------------------------------

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

/// Valid scores of an update as records; invalid ones are left out with a warning.
fn score_records(
    scores: Vec<Score>,
    target: impl Fn() -> ScoreTarget,
    project: &crate::record::ProjectName,
    out: &mut Vec<Record>,
) {
    for score in scores {
        match score.validate() {
            Ok(()) => out.push(score.into_record(target(), project)),
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
        let common = apply_common(
            common,
            &mut rec.name,
            &mut rec.input,
            &mut rec.output,
            &mut rec.metadata,
            &mut rec.tags,
            "a span",
        );
        if let Some(usage) = &usage {
            // As the Python SDK: the original usage is also kept in metadata, when the span has
            // metadata and no `usage` entry of its own.
            if let Some(meta) = &mut rec.metadata {
                if !meta.contains_key("usage") {
                    Arc::make_mut(meta).insert("usage".into(), usage.original().clone());
                }
            }
        }
        let has_details = model.is_some()
            || provider.is_some()
            || usage.is_some()
            || total_cost.is_some()
            || common.error_info.is_some();
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
                details.error_info = common.error_info;
            }
        }
        score_records(
            common.scores,
            || ScoreTarget::Span(rec.id),
            &rec.project_name,
            out,
        );
    }
}

impl TraceUpdate {
    /// Merges the update into a trace record about to be queued; feedback scores go to `out`.
    pub(crate) fn apply_to(self, rec: &mut TraceRecord, out: &mut Vec<Record>) {
        let TraceUpdate { common, thread_id } = self;
        let common = apply_common(
            common,
            &mut rec.name,
            &mut rec.input,
            &mut rec.output,
            &mut rec.metadata,
            &mut rec.tags,
            "a trace",
        );
        if thread_id.is_some() || common.error_info.is_some() {
            let details = rec.details.get_or_insert_with(Box::<TraceDetails>::default);
            if thread_id.is_some() {
                details.thread_id = thread_id;
            }
            if details.error_info.is_none() {
                details.error_info = common.error_info;
            }
        }
        score_records(
            common.scores,
            || ScoreTarget::Trace(rec.id),
            &rec.project_name,
            out,
        );
    }
}

/// What is left of `Common` after the shared fields went into the record.
struct Rest {
    error_info: Option<ErrorInfo>,
    scores: Vec<Score>,
}

fn apply_common(
    common: Common,
    name: &mut Cow<'static, str>,
    input: &mut Option<Payload>,
    output: &mut Option<Payload>,
    metadata: &mut Option<Arc<Map<String, Value>>>,
    tags: &mut Tags,
    what: &str,
) -> Rest {
    let Common {
        name: new_name,
        input: new_input,
        output: new_output,
        metadata: new_metadata,
        tags: new_tags,
        error_info,
        scores,
    } = common;
    if let Some(n) = new_name {
        *name = Cow::Owned(n);
    }
    if let Some(i) = new_input {
        *input = Some(merge_payload(input.take(), i, "input"));
    }
    if let Some(o) = new_output {
        // Set explicitly, the output is final: the return value is not used.
        *output = Some(Payload::from_json(&Value::Object(o), "output"));
    }
    if let Some(m) = new_metadata {
        *metadata = Some(merge_metadata(metadata.take(), m));
    }
    apply_tags(tags, new_tags, what);
    Rest { error_info, scores }
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
        assert!(check_tag(&"x".repeat(101)).unwrap_err().contains("101"));
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
