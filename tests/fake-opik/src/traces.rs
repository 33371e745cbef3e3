//! Traces and spans as the backend keeps them: batch and single creates are upserts by id in
//! which the record with the newer `last_updated_at` wins (ClickHouse `ReplacingMergeTree`),
//! `PATCH`es merge into the record (or wait for it when they arrive first), feedback scores
//! and comments hang off the id. Owns every trace and span write; `trace_reads` answers the
//! reads from what is kept here.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::backend::{Answer, Ctx, Store, USER};
use crate::filters::Entity;
use crate::util::{now_rfc3339, object, parse_time, str_field};

pub(crate) use crate::trace_reads::{get, list, search, span_public, trace_public};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Trace,
    Span,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Trace => "Trace",
            Kind::Span => "Span",
        }
    }

    fn batch_field(self) -> &'static str {
        match self {
            Kind::Trace => "traces",
            Kind::Span => "spans",
        }
    }

    pub(crate) fn filter_entity(self) -> Entity {
        match self {
            Kind::Trace => Entity::Trace,
            Kind::Span => Entity::Span,
        }
    }
}

/// One trace or span as stored: the fields written (without `project_name`), the project it
/// was resolved to, and the times the backend sets.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub id: String,
    pub project_id: String,
    pub body: Map<String, Value>,
    pub created_at: String,
    pub last_updated_at: String,
}

impl Record {
    pub(crate) fn field(&self, key: &str) -> Option<&Value> {
        self.body.get(key)
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Traces {
    pub traces: HashMap<String, Record>,
    pub spans: HashMap<String, Record>,
    spans_of: HashMap<String, BTreeSet<String>>,
    /// `PATCH`es of ids not created yet, applied when the create arrives.
    pending: HashMap<(bool, String), Vec<Map<String, Value>>>,
    /// Feedback scores by entity id, one per name.
    scores: HashMap<String, Vec<Value>>,
    pub(crate) comments: HashMap<String, Vec<Value>>,
}

impl Traces {
    pub(crate) fn map(&self, kind: Kind) -> &HashMap<String, Record> {
        match kind {
            Kind::Trace => &self.traces,
            Kind::Span => &self.spans,
        }
    }

    fn map_mut(&mut self, kind: Kind) -> &mut HashMap<String, Record> {
        match kind {
            Kind::Trace => &mut self.traces,
            Kind::Span => &mut self.spans,
        }
    }

    /// The feedback scores of a trace, span (or anything with an id).
    pub fn scores_of(&self, id: &str) -> &[Value] {
        self.scores.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The spans of a trace.
    pub fn spans_of(&self, trace_id: &str) -> impl Iterator<Item = &Record> {
        self.spans_of
            .get(trace_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.spans.get(id))
    }

    /// Every stored trace or span, in no order.
    pub fn records(&self, kind: Kind) -> impl Iterator<Item = &Record> {
        self.map(kind).values()
    }

    /// The trace or span with this id.
    pub fn record(&self, kind: Kind, id: &str) -> Option<&Record> {
        self.map(kind).get(id)
    }
}

fn newer_or_same(incoming: &str, existing: &str) -> bool {
    match (parse_time(incoming), parse_time(existing)) {
        (Some(a), Some(b)) => a >= b,
        _ => true,
    }
}

/// Stores one create (batch item or single body): an upsert by id, the newer
/// `last_updated_at` winning (a record without one gets the server's time).
fn upsert(store: &mut Store, kind: Kind, mut item: Map<String, Value>) -> String {
    let id = match item.get("id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => store.ids.v7(),
    };
    let project_name = item.remove("project_name");
    let project_id = store.projects.get_or_create(
        &mut store.ids,
        project_name.as_ref().and_then(Value::as_str),
    );
    let now = now_rfc3339();
    let updated = item
        .get("last_updated_at")
        .and_then(Value::as_str)
        .unwrap_or(&now)
        .to_string();
    item.insert("id".into(), Value::from(id.clone()));
    let existing = store.traces.map(kind).get(&id);
    if let Some(old) = existing {
        if !newer_or_same(&updated, &old.last_updated_at) {
            return id; // an older record: the stored one wins
        }
    }
    let created_at = existing.map_or(now.clone(), |r| r.created_at.clone());
    let mut record = Record {
        id: id.clone(),
        project_id: project_id.clone(),
        body: item,
        created_at,
        last_updated_at: updated,
    };
    for patch in store
        .traces
        .pending
        .remove(&(kind == Kind::Trace, id.clone()))
        .into_iter()
        .flatten()
    {
        merge(&mut record, &patch, false);
    }
    after_write(store, kind, &record);
    store.traces.map_mut(kind).insert(id.clone(), record);
    id
}

/// Indexes and side effects of a stored record: spans by trace, the project's last trace,
/// the trace's thread (created, or reopened if it was closed).
fn after_write(store: &mut Store, kind: Kind, record: &Record) {
    match kind {
        Kind::Span => {
            if let Some(trace_id) = record.str("trace_id") {
                store
                    .traces
                    .spans_of
                    .entry(trace_id.to_string())
                    .or_default()
                    .insert(record.id.clone());
            }
        }
        Kind::Trace => {
            store
                .projects
                .touch_trace(&record.project_id, &record.last_updated_at);
            if let Some(thread_id) = record.str("thread_id") {
                let model_id = store.ids.v7();
                store.threads.touch(&record.project_id, thread_id, model_id);
            }
        }
    }
}

/// Applies an update (`TraceUpdate`/`SpanUpdate`): its fields replace the record's,
/// `tags_to_add`/`tags_to_remove` edit the tags, `merge_tags` adds `tags` to them.
fn merge(record: &mut Record, update: &Map<String, Value>, merge_tags: bool) {
    for (k, v) in update {
        match k.as_str() {
            "project_name" | "project_id" | "tags_to_add" | "tags_to_remove" => {}
            "tags" if merge_tags => add_tags(record, v),
            _ => {
                record.body.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(add) = update.get("tags_to_add") {
        add_tags(record, add);
    }
    if let Some(Value::Array(remove)) = update.get("tags_to_remove") {
        if let Some(Value::Array(tags)) = record.body.get_mut("tags") {
            tags.retain(|t| !remove.contains(t));
        }
    }
    let now = now_rfc3339();
    if newer_or_same(&now, &record.last_updated_at) {
        record.last_updated_at = now;
    }
}

fn add_tags(record: &mut Record, add: &Value) {
    let tags = record
        .body
        .entry("tags")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let (Value::Array(tags), Value::Array(add)) = (tags, add) {
        for t in add {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    }
}

fn as_object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// `POST /traces/batch`, `POST /spans/batch`: 204.
pub(crate) fn create_batch(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    for item in ctx.body[kind.batch_field()]
        .as_array()
        .into_iter()
        .flatten()
    {
        upsert(store, kind, as_object(item));
    }
    Answer::empty(204)
}

/// `POST /traces`, `POST /spans`: 201 with a `Location`.
pub(crate) fn create_one(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let id = upsert(store, kind, as_object(&ctx.body));
    Answer::created(ctx, &id)
}

fn update_one(store: &mut Store, kind: Kind, id: &str, update: &Map<String, Value>, tags: bool) {
    let Some(mut record) = store.traces.map_mut(kind).remove(id) else {
        store
            .traces
            .pending
            .entry((kind == Kind::Trace, id.to_string()))
            .or_default()
            .push(update.clone());
        return;
    };
    merge(&mut record, update, tags);
    after_write(store, kind, &record);
    store.traces.map_mut(kind).insert(id.to_string(), record);
}

/// `PATCH /traces/{id}`, `PATCH /spans/{id}`: 204, also for an id not created yet (the
/// backend keeps the update and merges it into the create).
pub(crate) fn update(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    update_one(store, kind, ctx.param("id"), &as_object(&ctx.body), false);
    Answer::empty(204)
}

/// `PATCH /traces/batch`, `PATCH /spans/batch`: `{"ids", "update", "merge_tags"}`.
pub(crate) fn update_batch(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let update = as_object(&ctx.body["update"]);
    let merge_tags = ctx.body["merge_tags"].as_bool().unwrap_or(false);
    for id in ctx.body["ids"].as_array().into_iter().flatten() {
        if let Some(id) = id.as_str() {
            update_one(store, kind, id, &update, merge_tags);
        }
    }
    Answer::empty(204)
}

/// A stored feedback score as the backend answers it.
pub(crate) fn score_public(score: &Value) -> Value {
    let now = now_rfc3339();
    object([
        ("name", score["name"].clone()),
        ("category_name", score["category_name"].clone()),
        ("value", score["value"].clone()),
        ("reason", score["reason"].clone()),
        ("source", score["source"].clone()),
        ("created_at", Value::from(now.clone())),
        ("last_updated_at", Value::from(now)),
        ("created_by", Value::from(USER)),
        ("last_updated_by", Value::from(USER)),
    ])
}

/// Stores a score under `id`, replacing the one of the same name.
pub(crate) fn put_score(scores: &mut Vec<Value>, score: &Value) {
    let public = score_public(score);
    match scores.iter_mut().find(|s| s["name"] == public["name"]) {
        Some(old) => *old = public,
        None => scores.push(public),
    }
}

/// `PUT /traces/feedback-scores`, `PUT /spans/feedback-scores`: scores by entity id (the
/// entity need not exist yet); each score's project is created if needed.
pub(crate) fn score_batch(store: &mut Store, ctx: &Ctx<'_>, _kind: Kind) -> Answer {
    for score in ctx.body["scores"].as_array().into_iter().flatten() {
        store
            .projects
            .get_or_create(&mut store.ids, str_field(score, "project_name"));
        if let Some(id) = str_field(score, "id") {
            put_score(
                store.traces.scores.entry(id.to_string()).or_default(),
                score,
            );
        }
    }
    Answer::empty(204)
}

pub(crate) fn not_found(kind: Kind, id: &str) -> Answer {
    Answer::error(404, format!("{} id: {id} not found", kind.name()))
}

/// `PUT /traces/{id}/feedback-scores`, `PUT /spans/{id}/feedback-scores`: 404 for an unknown id.
pub(crate) fn score_one(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let id = ctx.param("id");
    if !store.traces.map(kind).contains_key(id) {
        return not_found(kind, id);
    }
    put_score(
        store.traces.scores.entry(id.to_string()).or_default(),
        &ctx.body,
    );
    Answer::empty(204)
}

/// `POST /traces/{id}/feedback-scores/delete` (and spans): removes the named score.
pub(crate) fn delete_score(store: &mut Store, ctx: &Ctx<'_>, _kind: Kind) -> Answer {
    if let Some(scores) = store.traces.scores.get_mut(ctx.param("id")) {
        scores.retain(|s| s["name"] != ctx.body["name"]);
    }
    Answer::empty(204)
}

/// `POST /traces/{id}/comments` (and spans): 201 with the comment's `Location`.
pub(crate) fn comment(store: &mut Store, ctx: &Ctx<'_>, _kind: Kind) -> Answer {
    let comment_id = ctx
        .str("id")
        .map(str::to_string)
        .unwrap_or_else(|| store.ids.v7());
    let now = now_rfc3339();
    let public = object([
        ("id", Value::from(comment_id.clone())),
        ("text", ctx.body["text"].clone()),
        ("created_at", Value::from(now.clone())),
        ("last_updated_at", Value::from(now)),
        ("created_by", Value::from(USER)),
        ("last_updated_by", Value::from(USER)),
    ]);
    store
        .traces
        .comments
        .entry(ctx.param("id").to_string())
        .or_default()
        .push(public);
    Answer::created(ctx, &comment_id)
}

/// `POST /traces/delete`: the traces, their spans and scores.
pub(crate) fn delete(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    for id in ctx.body["ids"].as_array().into_iter().flatten() {
        let Some(id) = id.as_str() else { continue };
        store.traces.traces.remove(id);
        store.traces.scores.remove(id);
        for span in store.traces.spans_of.remove(id).into_iter().flatten() {
            store.traces.spans.remove(&span);
            store.traces.scores.remove(&span);
        }
    }
    Answer::empty(204)
}
