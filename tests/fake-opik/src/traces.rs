//! Traces and spans as the backend keeps them: batch and single creates are upserts by id in
//! which the record with the newer `last_updated_at` wins (ClickHouse `ReplacingMergeTree`),
//! `PATCH`es merge into the record (or wait for it when they arrive first), feedback scores
//! and comments hang off the id. Owns every trace and span write, `GET /traces/{id}`,
//! `GET /spans/{id}`, the `POST .../search` NDJSON streams (newest id first, paged with
//! `last_retrieved_id`: ids below it) and the `GET /traces` / `GET /spans` pages.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::filters::{self, Entity, Field};
use crate::projects;
use crate::util::{duration_ms, now_rfc3339, object, page_of, parse_time, str_field};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Trace,
    Span,
}

impl Kind {
    fn name(self) -> &'static str {
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

    fn filter_entity(self) -> Entity {
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
    fn field(&self, key: &str) -> Option<&Value> {
        self.body.get(key)
    }

    fn str(&self, key: &str) -> Option<&str> {
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
    comments: HashMap<String, Vec<Value>>,
}

impl Traces {
    fn map(&self, kind: Kind) -> &HashMap<String, Record> {
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

fn not_found(kind: Kind, id: &str) -> Answer {
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

/// Usage summed over the spans of a trace (the backend's trace `usage`), their cost, count,
/// LLM-span count, whether any is a tool span, and their providers.
struct SpanSummary {
    usage: Map<String, Value>,
    cost: Option<f64>,
    count: usize,
    llm: usize,
    tool: bool,
    providers: BTreeSet<String>,
}

fn summary(traces: &Traces, trace_id: &str) -> SpanSummary {
    let mut s = SpanSummary {
        usage: Map::new(),
        cost: None,
        count: 0,
        llm: 0,
        tool: false,
        providers: BTreeSet::new(),
    };
    for span in traces.spans_of(trace_id) {
        s.count += 1;
        match span.str("type") {
            Some("llm") => s.llm += 1,
            Some("tool") => s.tool = true,
            _ => {}
        }
        if let Some(p) = span.str("provider") {
            s.providers.insert(p.to_string());
        }
        if let Some(c) = span.field("total_estimated_cost").and_then(Value::as_f64) {
            *s.cost.get_or_insert(0.0) += c;
        }
        for (k, v) in span
            .field("usage")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let add = v.as_i64().unwrap_or(0);
            let sum = s.usage.get(k).and_then(Value::as_i64).unwrap_or(0) + add;
            s.usage.insert(k.clone(), Value::from(sum));
        }
    }
    s
}

/// Fields a trace or span is answered with beyond those written.
fn common_public(store: &Store, r: &Record, out: &mut Map<String, Value>) {
    out.insert("project_id".into(), Value::from(r.project_id.as_str()));
    out.insert("created_at".into(), Value::from(r.created_at.as_str()));
    out.insert(
        "last_updated_at".into(),
        Value::from(r.last_updated_at.as_str()),
    );
    out.insert("created_by".into(), Value::from(USER));
    out.insert("last_updated_by".into(), Value::from(USER));
    if let (Some(s), Some(e)) = (r.str("start_time"), r.str("end_time")) {
        if let Some(d) = duration_ms(s, e) {
            out.insert("duration".into(), json!(d));
        }
    }
    let scores = store.traces.scores_of(&r.id);
    if !scores.is_empty() {
        out.insert("feedback_scores".into(), Value::from(scores.to_vec()));
    }
    if let Some(c) = store.traces.comments.get(&r.id) {
        out.insert("comments".into(), Value::from(c.clone()));
    }
}

/// A trace as `GET /traces/{id}` and the trace search answer it (`Trace_Public`).
pub(crate) fn trace_public(store: &Store, r: &Record) -> Value {
    let mut out = Map::new();
    for k in [
        "id",
        "name",
        "start_time",
        "end_time",
        "input",
        "output",
        "metadata",
        "tags",
        "error_info",
        "ttft",
        "thread_id",
        "source",
        "environment",
    ] {
        if let Some(v) = r.field(k) {
            out.insert(k.into(), v.clone());
        }
    }
    common_public(store, r, &mut out);
    let s = summary(&store.traces, &r.id);
    if !s.usage.is_empty() {
        out.insert("usage".into(), Value::Object(s.usage));
    }
    if let Some(c) = s.cost {
        out.insert("total_estimated_cost".into(), json!(c));
    }
    out.insert("span_count".into(), json!(s.count));
    out.insert("llm_span_count".into(), json!(s.llm));
    out.insert("has_tool_spans".into(), json!(s.tool));
    if !s.providers.is_empty() {
        out.insert("providers".into(), json!(s.providers));
    }
    out.insert("visibility_mode".into(), json!("default"));
    Value::Object(out)
}

/// A span as `GET /spans/{id}` and the span search answer it (`Span_Public`).
pub(crate) fn span_public(store: &Store, r: &Record) -> Value {
    let mut out = Map::new();
    for k in [
        "id",
        "trace_id",
        "parent_span_id",
        "name",
        "type",
        "start_time",
        "end_time",
        "input",
        "output",
        "metadata",
        "model",
        "provider",
        "tags",
        "usage",
        "error_info",
        "total_estimated_cost",
        "total_estimated_cost_version",
        "ttft",
        "source",
        "environment",
    ] {
        if let Some(v) = r.field(k) {
            out.insert(k.into(), v.clone());
        }
    }
    common_public(store, r, &mut out);
    Value::Object(out)
}

fn public(store: &Store, kind: Kind, r: &Record, exclude: &[String]) -> Value {
    let mut v = match kind {
        Kind::Trace => trace_public(store, r),
        Kind::Span => span_public(store, r),
    };
    if let Value::Object(map) = &mut v {
        for field in exclude {
            map.remove(field);
        }
    }
    v
}

/// The value a filter sees for `field` of a trace or span.
fn field_of<'a>(store: &'a Store, kind: Kind, r: &'a Record, field: &str) -> Field<'a> {
    let usage = |key: &str| -> Field<'a> {
        let total = match kind {
            Kind::Span => r
                .field("usage")
                .and_then(|u| u.get(key))
                .and_then(Value::as_f64),
            Kind::Trace => summary(&store.traces, &r.id)
                .usage
                .get(key)
                .and_then(Value::as_f64),
        };
        total.map_or(Field::Missing, Field::Num)
    };
    match field {
        "start_time" | "end_time" => r.str(field).map_or(Field::Missing, Field::Time),
        "created_at" => Field::Time(&r.created_at),
        "last_updated_at" => Field::Time(&r.last_updated_at),
        "input" | "output" => r
            .field(field)
            .map_or(Field::Missing, |v| Field::Str(v.to_string())),
        "input_json" | "output_json" | "metadata" => {
            let key = field.trim_end_matches("_json");
            r.field(key).map_or(Field::Missing, Field::Json)
        }
        "tags" => Field::List(
            r.field("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        "feedback_scores" => Field::Scores(store.traces.scores_of(&r.id)),
        "usage.total_tokens" => usage("total_tokens"),
        "usage.prompt_tokens" => usage("prompt_tokens"),
        "usage.completion_tokens" => usage("completion_tokens"),
        "duration" => match (r.str("start_time"), r.str("end_time")) {
            (Some(s), Some(e)) => duration_ms(s, e).map_or(Field::Missing, Field::Num),
            _ => Field::Missing,
        },
        "total_estimated_cost" => match kind {
            Kind::Span => r
                .field(field)
                .and_then(Value::as_f64)
                .map_or(Field::Missing, Field::Num),
            Kind::Trace => summary(&store.traces, &r.id)
                .cost
                .map_or(Field::Missing, Field::Num),
        },
        "llm_span_count" => Field::Num(summary(&store.traces, &r.id).llm as f64),
        "error_info" => r
            .field(field)
            .map_or(Field::Missing, |_| Field::Str(String::new())),
        "id" => Field::Str(r.id.clone()),
        other => match r.field(other) {
            Some(Value::String(s)) => Field::Str(s.clone()),
            Some(v) => Field::Str(v.to_string()),
            None => Field::Missing,
        },
    }
}

/// The time embedded in a UUID v7, in ms (what `from_time`/`to_time` bound).
fn id_ms(id: &str) -> u64 {
    u64::from_str_radix(id.replace('-', "").get(..12).unwrap_or("0"), 16).unwrap_or(0)
}

fn time_ms(t: Option<&str>) -> Option<u64> {
    t.and_then(parse_time).map(|n| (n / 1_000_000) as u64)
}

/// What a search or list selects: project, filters, time bounds, and for spans trace and type.
struct Selection {
    project_id: String,
    filters: Vec<filters::Filter>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    trace_id: Option<String>,
    span_type: Option<String>,
    exclude: Vec<String>,
}

fn select<'a>(store: &'a Store, kind: Kind, sel: &Selection) -> Vec<&'a Record> {
    let mut out: Vec<&Record> = store
        .traces
        .records(kind)
        .filter(|r| r.project_id == sel.project_id)
        .filter(|r| sel.from_ms.is_none_or(|f| id_ms(&r.id) >= f))
        .filter(|r| sel.to_ms.is_none_or(|t| id_ms(&r.id) <= t))
        .filter(|r| {
            sel.trace_id
                .as_deref()
                .is_none_or(|t| r.str("trace_id") == Some(t))
        })
        .filter(|r| {
            sel.span_type
                .as_deref()
                .is_none_or(|t| r.str("type").unwrap_or("general") == t)
        })
        .filter(|r| filters::matches(&sel.filters, |f| field_of(store, kind, r, f)))
        .collect();
    out.sort_by(|a, b| b.id.cmp(&a.id));
    out
}

fn check_times(from: Option<&str>, to: Option<&str>) -> Result<(), Answer> {
    match (time_ms(from), time_ms(to)) {
        (Some(f), Some(t)) if f >= t => Err(Answer::error(
            400,
            "Parameter 'from_time' must be before 'to_time'",
        )),
        _ => Ok(()),
    }
}

/// `POST /traces/search`, `POST /spans/search`: NDJSON, newest first, at most `limit` (500
/// by default) records with ids below `last_retrieved_id`.
pub(crate) fn search(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let b = &ctx.body;
    let run = || -> Result<Answer, Answer> {
        let project_id = projects::resolve(store, ctx.str("project_id"), ctx.str("project_name"))?;
        check_times(ctx.str("from_time"), ctx.str("to_time"))?;
        let sel = Selection {
            project_id,
            filters: filters::parse(kind.filter_entity(), &b["filters"])?,
            from_ms: time_ms(ctx.str("from_time")),
            to_ms: time_ms(ctx.str("to_time")),
            trace_id: ctx.str("trace_id").map(str::to_string),
            span_type: ctx.str("type").map(str::to_string),
            exclude: strings(&b["exclude"]),
        };
        let limit = b["limit"].as_u64().unwrap_or(500) as usize;
        let last = ctx.str("last_retrieved_id");
        let lines = select(store, kind, &sel)
            .into_iter()
            .filter(|r| last.is_none_or(|l| r.id.as_str() < l))
            .take(limit)
            .map(|r| public(store, kind, r, &sel.exclude))
            .collect();
        Ok(Answer::stream(lines))
    };
    run().unwrap_or_else(|e| e)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `GET /traces`, `GET /spans`: a page (`page`, `size`, default 1 and 10), newest first.
pub(crate) fn list(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let run = || -> Result<Answer, Answer> {
        let project_id =
            projects::resolve(store, ctx.query("project_id"), ctx.query("project_name"))?;
        check_times(ctx.query("from_time"), ctx.query("to_time"))?;
        let sel = Selection {
            project_id,
            filters: filters::parse_query(kind.filter_entity(), ctx.query("filters"))?,
            from_ms: time_ms(ctx.query("from_time")),
            to_ms: time_ms(ctx.query("to_time")),
            trace_id: ctx.query("trace_id").map(str::to_string),
            span_type: ctx.query("type").map(str::to_string),
            exclude: ctx
                .query("exclude")
                .and_then(|e| serde_json::from_str::<Value>(e).ok())
                .map(|e| strings(&e))
                .unwrap_or_default(),
        };
        let all = select(store, kind, &sel);
        let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
        let content = page_of(&all, page, size)
            .into_iter()
            .map(|r| public(store, kind, r, &sel.exclude))
            .collect();
        let mut body = page_json(content, page, all.len());
        body["sortableBy"] = json!([]);
        Ok(Answer::ok(body))
    };
    run().unwrap_or_else(|e| e)
}

/// `GET /traces/{id}`, `GET /spans/{id}`: 404 `{"code":404,"message":"Trace id: … not found"}`.
pub(crate) fn get(store: &mut Store, ctx: &Ctx<'_>, kind: Kind) -> Answer {
    let id = ctx.param("id");
    match store.traces.map(kind).get(id) {
        Some(r) => Answer::ok(public(store, kind, r, &[])),
        None => not_found(kind, id),
    }
}
