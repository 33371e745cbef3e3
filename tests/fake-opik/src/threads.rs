//! Threads: a thread exists once a trace with its `thread_id` arrived in a project (it is
//! then `active`); `PUT /traces/threads/close` makes it `inactive`, `/open` and any new trace of
//! the thread make it active again (the backend's "reopened" threads keep their scores).
//! Everything else about a thread (times, first and last message, counts) is derived from its
//! traces at read time. Owns the thread search stream, the thread page, retrieve, open, close
//! and thread feedback scores.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::filters::{self, Entity, Field};
use crate::projects;
use crate::traces::{put_score, trace_public, Record};
use crate::util::{duration_ms, now_rfc3339, page_of, parse_time, str_field};

/// What the backend stores of a thread (`trace_threads`): its model id, status, scores.
#[derive(Debug, Clone)]
pub(crate) struct ThreadModel {
    pub id: String,
    pub project_id: String,
    pub thread_id: String,
    pub status: &'static str,
    pub created_at: String,
    pub last_updated_at: String,
    pub scores: Vec<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct Threads {
    models: HashMap<(String, String), ThreadModel>,
    /// The rule of backends before OPIK-4035 (January 2026): scores only for closed threads.
    pub scores_need_closed: bool,
}

impl Threads {
    /// A trace of the thread arrived: the thread is created (active) or reopened.
    pub fn touch(&mut self, project_id: &str, thread_id: &str, new_model_id: String) {
        let now = now_rfc3339();
        let model = self
            .models
            .entry((project_id.to_string(), thread_id.to_string()))
            .or_insert_with(|| ThreadModel {
                id: new_model_id,
                project_id: project_id.to_string(),
                thread_id: thread_id.to_string(),
                status: "active",
                created_at: now.clone(),
                last_updated_at: now.clone(),
                scores: Vec::new(),
            });
        model.status = "active";
        model.last_updated_at = now;
    }

    /// The model of a thread, creating it if needed (as scoring does).
    fn get_or_create(&mut self, project_id: &str, thread_id: &str, id: String) -> &mut ThreadModel {
        let now = now_rfc3339();
        self.models
            .entry((project_id.to_string(), thread_id.to_string()))
            .or_insert_with(|| ThreadModel {
                id,
                project_id: project_id.to_string(),
                thread_id: thread_id.to_string(),
                status: "active",
                created_at: now.clone(),
                last_updated_at: now,
                scores: Vec::new(),
            })
    }

    pub fn model(&self, project_id: &str, thread_id: &str) -> Option<&ThreadModel> {
        self.models
            .get(&(project_id.to_string(), thread_id.to_string()))
    }

    fn model_mut(&mut self, project_id: &str, thread_id: &str) -> Option<&mut ThreadModel> {
        self.models
            .get_mut(&(project_id.to_string(), thread_id.to_string()))
    }
}

/// The traces of each thread of a project, in start order.
fn traces_by_thread<'a>(store: &'a Store, project_id: &str) -> HashMap<&'a str, Vec<&'a Record>> {
    let mut out: HashMap<&str, Vec<&Record>> = HashMap::new();
    for r in store.traces.records(crate::traces::Kind::Trace) {
        if r.project_id != project_id {
            continue;
        }
        if let Some(thread) = r.body.get("thread_id").and_then(Value::as_str) {
            out.entry(thread).or_default().push(r);
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| {
            let key = |r: &Record| {
                r.body
                    .get("start_time")
                    .and_then(Value::as_str)
                    .and_then(parse_time)
            };
            key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
        });
    }
    out
}

/// A thread as the backend answers it (`TraceThread`).
fn thread_public(store: &Store, model: &ThreadModel, traces: &[&Record]) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(model.thread_id));
    out.insert("project_id".into(), json!(model.project_id));
    out.insert("thread_model_id".into(), json!(model.id));
    let start = traces
        .iter()
        .filter_map(|r| r.body.get("start_time")?.as_str())
        .min_by_key(|t| parse_time(t));
    let end = traces
        .iter()
        .filter_map(|r| r.body.get("end_time")?.as_str())
        .max_by_key(|t| parse_time(t));
    if let Some(s) = start {
        out.insert("start_time".into(), json!(s));
    }
    if let Some(e) = end {
        out.insert("end_time".into(), json!(e));
    }
    if let Some(d) = start.zip(end).and_then(|(s, e)| duration_ms(s, e)) {
        out.insert("duration".into(), json!(d));
    }
    if let Some(first) = traces.first().and_then(|r| r.body.get("input")) {
        out.insert("first_message".into(), first.clone());
    }
    if let Some(last) = traces.last().and_then(|r| r.body.get("output")) {
        out.insert("last_message".into(), last.clone());
    }
    if !model.scores.is_empty() {
        out.insert("feedback_scores".into(), json!(model.scores));
    }
    out.insert("status".into(), json!(model.status));
    out.insert("number_of_messages".into(), json!(traces.len() * 2));
    let mut usage = Map::new();
    let mut cost: Option<f64> = None;
    for r in traces {
        let t = trace_public(store, r);
        for (k, v) in t["usage"].as_object().into_iter().flatten() {
            let sum = usage.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
            usage.insert(k.clone(), json!(sum));
        }
        if let Some(c) = t["total_estimated_cost"].as_f64() {
            *cost.get_or_insert(0.0) += c;
        }
    }
    if !usage.is_empty() {
        out.insert("usage".into(), Value::Object(usage));
    }
    if let Some(c) = cost {
        out.insert("total_estimated_cost".into(), json!(c));
    }
    let last_updated = traces
        .iter()
        .map(|r| r.last_updated_at.as_str())
        .chain([model.last_updated_at.as_str()])
        .max_by_key(|t| parse_time(t))
        .unwrap_or_default();
    out.insert("last_updated_at".into(), json!(last_updated));
    out.insert("last_updated_by".into(), json!(USER));
    out.insert("created_by".into(), json!(USER));
    out.insert("created_at".into(), json!(model.created_at));
    Value::Object(out)
}

fn field_of<'a>(thread: &'a Value, model: &'a ThreadModel, field: &str) -> Field<'a> {
    match field {
        "id" => Field::Str(model.thread_id.clone()),
        "first_message" | "last_message" => thread
            .get(field)
            .map_or(Field::Missing, |v| Field::Str(v.to_string())),
        "number_of_messages" | "duration" => {
            thread[field].as_f64().map_or(Field::Missing, Field::Num)
        }
        "created_at" | "last_updated_at" | "start_time" | "end_time" => {
            thread[field].as_str().map_or(Field::Missing, Field::Time)
        }
        "feedback_scores" => Field::Scores(&model.scores),
        "status" => Field::Str(model.status.to_string()),
        "tags" => Field::List(Vec::new()),
        _ => Field::Missing,
    }
}

/// The threads of a project that pass `filters`, newest thread model first.
fn select(store: &Store, project_id: &str, filters: &[filters::Filter]) -> Vec<(String, Value)> {
    let by_thread = traces_by_thread(store, project_id);
    let mut out: Vec<(String, Value)> = store
        .threads
        .models
        .values()
        .filter(|m| m.project_id == project_id)
        .filter_map(|m| {
            let traces = by_thread.get(m.thread_id.as_str())?;
            let v = thread_public(store, m, traces);
            filters::matches(filters, |f| field_of(&v, m, f)).then(|| (m.id.clone(), v))
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0));
    out
}

/// `POST /traces/threads/search`: NDJSON, newest thread model first, `limit` (500) threads
/// whose `thread_model_id` is below `last_retrieved_thread_model_id`.
pub(crate) fn search(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let run = || -> Result<Answer, Answer> {
        let project_id = projects::resolve(store, ctx.str("project_id"), ctx.str("project_name"))?;
        let filters = filters::parse(Entity::Thread, &ctx.body["filters"])?;
        let limit = ctx.body["limit"].as_u64().unwrap_or(500) as usize;
        let last = ctx.str("last_retrieved_thread_model_id");
        let lines = select(store, &project_id, &filters)
            .into_iter()
            .filter(|(id, _)| last.is_none_or(|l| id.as_str() < l))
            .take(limit)
            .map(|(_, v)| v)
            .collect();
        Ok(Answer::stream(lines))
    };
    run().unwrap_or_else(|e| e)
}

/// `GET /traces/threads`: a page of threads.
pub(crate) fn list(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let run = || -> Result<Answer, Answer> {
        let project_id =
            projects::resolve(store, ctx.query("project_id"), ctx.query("project_name"))?;
        let filters = filters::parse_query(Entity::Thread, ctx.query("filters"))?;
        let all: Vec<Value> = select(store, &project_id, &filters)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
        let mut body = page_json(page_of(&all, page, size), page, all.len());
        body["sortableBy"] = json!([]);
        Ok(Answer::ok(body))
    };
    run().unwrap_or_else(|e| e)
}

fn project_of(store: &Store, ctx: &Ctx<'_>) -> Result<String, Answer> {
    // `ProjectService.validateProjectIdentifier`: by id, else by name (404 when unknown).
    match ctx.str("project_id") {
        Some(id) => store
            .projects
            .by_id(id)
            .map(|p| p.id.clone())
            .ok_or_else(|| Answer::errors(404, "Project not found")),
        None => projects::resolve(store, None, ctx.str("project_name")),
    }
}

/// `POST /traces/threads/retrieve`: one thread, 404 when no trace of it exists.
pub(crate) fn retrieve(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project_id = match project_of(store, ctx) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let thread_id = ctx.str("thread_id").unwrap_or_default();
    let by_thread = traces_by_thread(store, &project_id);
    match (
        store.threads.model(&project_id, thread_id),
        by_thread.get(thread_id),
    ) {
        (Some(m), Some(traces)) => Answer::ok(thread_public(store, m, traces)),
        _ => Answer::error(404, format!("Thread id: {thread_id} not found")),
    }
}

/// `PUT /traces/threads/close`: `thread_id` or `thread_ids`; 404 `Thread '…' not found:` for
/// a thread without traces.
pub(crate) fn close(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project_id = match project_of(store, ctx) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut ids: Vec<String> = ctx.body["thread_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        ids.extend(ctx.str("thread_id").map(str::to_string));
    }
    let known = traces_by_thread(store, &project_id);
    if let Some(missing) = ids.iter().find(|t| !known.contains_key(t.as_str())) {
        return Answer::error(404, format!("Thread '{missing}' not found:"));
    }
    for t in &ids {
        if let Some(m) = store.threads.model_mut(&project_id, t) {
            m.status = "inactive";
            m.last_updated_at = now_rfc3339();
        }
    }
    Answer::empty(204)
}

/// `PUT /traces/threads/open`: 204 (also for an unknown thread: the backend's update matches
/// no row).
pub(crate) fn open(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project_id = match project_of(store, ctx) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Some(m) = store
        .threads
        .model_mut(&project_id, ctx.str("thread_id").unwrap_or_default())
    {
        m.status = "active";
        m.last_updated_at = now_rfc3339();
    }
    Answer::empty(204)
}

/// `PUT /traces/threads/feedback-scores`: each score's project and thread are created if
/// needed; any thread status is accepted (since OPIK-4035), unless the older rule is switched
/// on with `FakeOpik::thread_scores_need_closed`, which answers 409 for an active thread.
pub(crate) fn score_batch(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let scores: Vec<&Value> = ctx.body["scores"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let mut resolved = Vec::new();
    for score in &scores {
        let project_id = store
            .projects
            .get_or_create(&mut store.ids, str_field(score, "project_name"));
        let thread_id = str_field(score, "thread_id")
            .unwrap_or_default()
            .to_string();
        resolved.push((project_id, thread_id));
    }
    if store.threads.scores_need_closed {
        let active: Vec<&str> = resolved
            .iter()
            .filter(|(p, t)| {
                store
                    .threads
                    .model(p, t)
                    .is_none_or(|m| m.status == "active")
            })
            .map(|(_, t)| t.as_str())
            .collect();
        if !active.is_empty() {
            return Answer::error(
                409,
                format!(
                    "Threads are not closed and cannot be scored: {}",
                    active.join(", ")
                ),
            );
        }
    }
    for (score, (project_id, thread_id)) in scores.iter().zip(&resolved) {
        let id = store.ids.v7();
        let model = store.threads.get_or_create(project_id, thread_id, id);
        put_score(&mut model.scores, score);
    }
    Answer::empty(204)
}

/// `POST /traces/threads/feedback-scores/delete`: `{"project_name", "thread_id", "names"}`.
pub(crate) fn delete_scores(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(project) = store
        .projects
        .by_name(ctx.str("project_name").unwrap_or_default())
    else {
        return Answer::empty(204);
    };
    let project_id = project.id.clone();
    let names = &ctx.body["names"];
    if let Some(m) = store
        .threads
        .model_mut(&project_id, ctx.str("thread_id").unwrap_or_default())
    {
        m.scores
            .retain(|s| !names.as_array().is_some_and(|n| n.contains(&s["name"])));
    }
    Answer::empty(204)
}
