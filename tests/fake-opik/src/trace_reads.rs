//! Reading traces and spans back: the backend's public views (`Trace_Public` with what it
//! sums over the trace's spans, `Span_Public`), `GET /traces/{id}` and `GET /spans/{id}`, the
//! `POST .../search` NDJSON streams (newest id first, paged with `last_retrieved_id`: ids
//! below it, `limit` 500 by default) and the `GET /traces` / `GET /spans` pages, all with the
//! backend's filters (see `filters`) and `from_time`/`to_time` bounds on the ids' time.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::filters::{self, Field};
use crate::projects;
use crate::traces::{not_found, Kind, Record, Traces};
use crate::util::{duration_ms, page_of, parse_time};

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
