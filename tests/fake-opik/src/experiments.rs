//! Experiments and experiment items: an experiment belongs to a dataset (found by name, or
//! created, as the backend does) and links to a version of it and to prompt versions; an
//! experiment item links the experiment, a dataset item and a trace, and is answered with the
//! trace's input, output and scores. Owns `/v1/private/experiments/...` and the comparison
//! view `GET /v1/private/datasets/{id}/items/experiments/items`.

use serde_json::{json, Map, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::traces::{trace_public, Kind};
use crate::util::{now_rfc3339, page_of};

#[derive(Debug, Clone)]
pub(crate) struct Experiment {
    pub id: String,
    pub name: String,
    pub dataset_id: String,
    pub project_id: Option<String>,
    /// The fields written that are answered back as they came.
    fields: Map<String, Value>,
    created_at: String,
    last_updated_at: String,
}

/// One link of an experiment, a dataset item and a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentItem {
    pub id: String,
    pub experiment_id: String,
    pub dataset_item_id: String,
    pub trace_id: String,
    created_at: String,
}

#[derive(Debug, Default)]
pub(crate) struct Experiments {
    pub list: Vec<Experiment>,
    pub items: Vec<ExperimentItem>,
}

/// The creation times of the experiments of a dataset.
pub(crate) fn of_dataset(store: &Store, dataset_id: &str) -> Vec<String> {
    store
        .experiments
        .list
        .iter()
        .filter(|e| e.dataset_id == dataset_id)
        .map(|e| e.created_at.clone())
        .collect()
}

fn by_id<'a>(store: &'a Store, id: &str) -> Option<&'a Experiment> {
    store.experiments.list.iter().find(|e| e.id == id)
}

fn not_found(id: &str) -> Answer {
    Answer::errors(404, format!("Not found experiment with id '{id}'"))
}

/// An experiment as the backend answers it (`Experiment_Public`).
fn experiment_public(store: &Store, e: &Experiment) -> Value {
    let dataset = store
        .datasets
        .by_id(&e.dataset_id)
        .map(|i| &store.datasets.list[i]);
    let items: Vec<&ExperimentItem> = store
        .experiments
        .items
        .iter()
        .filter(|i| i.experiment_id == e.id)
        .collect();
    let mut distinct: Vec<&str> = items.iter().map(|i| i.dataset_item_id.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    // Average of each score name over the items' traces.
    let mut sums: Vec<(String, f64, f64)> = Vec::new();
    for item in &items {
        for s in store.traces.scores_of(&item.trace_id) {
            let (Some(name), Some(v)) = (s["name"].as_str(), s["value"].as_f64()) else {
                continue;
            };
            match sums.iter_mut().find(|(n, ..)| n == name) {
                Some((_, sum, n)) => {
                    *sum += v;
                    *n += 1.0;
                }
                None => sums.push((name.to_string(), v, 1.0)),
            }
        }
    }
    let mut out = e.fields.clone();
    let links = e.fields.get("prompt_versions").and_then(Value::as_array);
    let single = e.fields.get("prompt_version").map(std::slice::from_ref);
    let prompt_versions: Vec<Value> = links
        .map(Vec::as_slice)
        .or(single)
        .into_iter()
        .flatten()
        .filter_map(|p| crate::prompts::version_link(store, p["id"].as_str()?))
        .collect();
    out.remove("prompt_versions");
    out.remove("prompt_version");
    if let Some(first) = prompt_versions.first() {
        out.insert("prompt_version".into(), first.clone());
        out.insert("prompt_versions".into(), json!(prompt_versions));
    }
    for (k, v) in [
        ("id", json!(e.id)),
        ("name", json!(e.name)),
        ("dataset_id", json!(e.dataset_id)),
        (
            "dataset_name",
            json!(dataset.map(|d| d.name.clone()).unwrap_or_default()),
        ),
        ("type", out.get("type").cloned().unwrap_or(json!("regular"))),
        ("trace_count", json!(items.len())),
        ("dataset_item_count", json!(distinct.len())),
        ("created_at", json!(e.created_at)),
        ("last_updated_at", json!(e.last_updated_at)),
        ("created_by", json!(USER)),
        ("last_updated_by", json!(USER)),
    ] {
        out.insert(k.into(), v);
    }
    if let Some(p) = &e.project_id {
        out.insert("project_id".into(), json!(p));
        out.insert("project_name".into(), json!(store.projects.name_of(p)));
    }
    if !sums.is_empty() {
        out.insert(
            "feedback_scores".into(),
            json!(sums
                .iter()
                .map(|(n, s, c)| json!({"name": n, "value": s / c}))
                .collect::<Vec<_>>()),
        );
    }
    Value::Object(out)
}

/// `POST /experiments`: 201 with a `Location`. The dataset is found by name (created if
/// needed); without `dataset_version_id` the experiment links to the dataset's latest version;
/// without `name` it gets a generated one.
pub(crate) fn create(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let id = ctx
        .str("id")
        .map(str::to_string)
        .unwrap_or_else(|| store.ids.v7());
    if by_id(store, &id).is_some() {
        return Answer::errors(409, format!("Already exists experiment with id '{id}'"));
    }
    let project_id = match ctx.str("project_id") {
        Some(p) if store.projects.by_id(p).is_none() => {
            return Answer::errors(404, "Project not found")
        }
        Some(p) => Some(p.to_string()),
        None => ctx
            .str("project_name")
            .map(|n| store.projects.get_or_create(&mut store.ids, Some(n))),
    };
    let dataset_name = ctx.str("dataset_name").unwrap_or_default();
    let d = store
        .datasets
        .get_or_create(&mut store.ids, dataset_name, project_id.clone());
    let dataset = &store.datasets.list[d];
    let mut fields = ctx.body.as_object().cloned().unwrap_or_default();
    for k in ["id", "name", "dataset_name", "project_id", "project_name"] {
        fields.remove(k);
    }
    if !fields.contains_key("dataset_version_id") {
        if let Some(v) = dataset.versions.last() {
            fields.insert("dataset_version_id".into(), json!(v.id));
        }
    }
    let name = ctx
        .str("name")
        .map(str::to_string)
        .unwrap_or_else(|| format!("experiment-{}", &id[id.len() - 8..]));
    let now = now_rfc3339();
    store.experiments.list.push(Experiment {
        id: id.clone(),
        name,
        dataset_id: dataset.id.clone(),
        project_id,
        fields,
        created_at: now.clone(),
        last_updated_at: now,
    });
    Answer::created(ctx, &id)
}

/// `GET /experiments`: by `datasetId`, `name` (case-insensitive substring), `project_id`,
/// `experiment_ids` (JSON list); newest first.
pub(crate) fn find(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let needle = ctx.query("name").unwrap_or("").to_lowercase();
    let ids: Option<Vec<String>> = ctx
        .query("experiment_ids")
        .and_then(|v| serde_json::from_str(v).ok());
    let all: Vec<Value> = store
        .experiments
        .list
        .iter()
        .rev()
        .filter(|e| e.name.to_lowercase().contains(&needle))
        .filter(|e| ctx.query("datasetId").is_none_or(|d| e.dataset_id == d))
        .filter(|e| {
            ctx.query("project_id")
                .is_none_or(|p| e.project_id.as_deref() == Some(p))
        })
        .filter(|e| ids.as_ref().is_none_or(|ids| ids.contains(&e.id)))
        .map(|e| experiment_public(store, e))
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    let mut body = page_json(page_of(&all, page, size), page, all.len());
    body["sortableBy"] = json!([]);
    Answer::ok(body)
}

/// `GET /experiments/{id}`.
pub(crate) fn get(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match by_id(store, ctx.param("id")) {
        Some(e) => Answer::ok(experiment_public(store, e)),
        None => not_found(ctx.param("id")),
    }
}

/// `PATCH /experiments/{id}`: name, metadata, tags (and `tags_to_add`/`tags_to_remove`),
/// type, status, experiment scores.
pub(crate) fn update(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let id = ctx.param("id");
    let Some(e) = store.experiments.list.iter_mut().find(|e| e.id == id) else {
        return not_found(id);
    };
    for (k, v) in ctx.body.as_object().into_iter().flatten() {
        match k.as_str() {
            "name" => e.name = v.as_str().unwrap_or_default().to_string(),
            "tags_to_add" | "tags_to_remove" => {
                let mut tags: Vec<Value> = e
                    .fields
                    .get("tags")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for t in v.as_array().into_iter().flatten() {
                    if k == "tags_to_add" && !tags.contains(t) {
                        tags.push(t.clone());
                    } else if k == "tags_to_remove" {
                        tags.retain(|x| x != t);
                    }
                }
                e.fields.insert("tags".into(), json!(tags));
            }
            _ => {
                e.fields.insert(k.clone(), v.clone());
            }
        }
    }
    e.last_updated_at = now_rfc3339();
    Answer::empty(204)
}

/// `POST /experiments/stream`: NDJSON of the experiments whose name contains `name`, newest
/// first, `limit` (500) of them with ids below `last_retrieved_id`.
pub(crate) fn stream(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let needle = ctx.str("name").unwrap_or_default().to_lowercase();
    let project = ctx
        .str("project_name")
        .and_then(|n| store.projects.by_name(n))
        .map(|p| p.id.clone());
    let limit = ctx.body["limit"].as_u64().unwrap_or(500) as usize;
    let last = ctx.str("last_retrieved_id");
    let lines = store
        .experiments
        .list
        .iter()
        .rev()
        .filter(|e| e.name.to_lowercase().contains(&needle))
        .filter(|e| ctx.str("project_name").is_none() || e.project_id == project)
        .filter(|e| last.is_none_or(|l| e.id.as_str() < l))
        .take(limit)
        .map(|e| experiment_public(store, e))
        .collect();
    Answer::stream(lines)
}

/// `POST /experiments/finish`: `{"ids": [...]}`; the experiments become `completed`.
pub(crate) fn finish(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let ids = &ctx.body["ids"];
    for e in store.experiments.list.iter_mut() {
        if ids
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == e.id.as_str()))
        {
            e.fields.insert("status".into(), json!("completed"));
            e.last_updated_at = now_rfc3339();
        }
    }
    Answer::empty(204)
}

/// `POST /experiments/delete`: the experiments and their items.
pub(crate) fn delete(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let ids = &ctx.body["ids"];
    let gone = |id: &str| ids.as_array().is_some_and(|a| a.iter().any(|x| x == id));
    store.experiments.list.retain(|e| !gone(&e.id));
    store.experiments.items.retain(|i| !gone(&i.experiment_id));
    Answer::empty(204)
}

/// `POST /experiments/items`: upserts by id; 409 when an experiment or a dataset item is
/// unknown, as `ExperimentItemService` answers for ids "not belonging to the workspace".
pub(crate) fn create_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let items: Vec<&Value> = ctx.body["experiment_items"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for item in &items {
        let s = |k: &str| item[k].as_str().unwrap_or_default();
        if by_id(store, s("experiment_id")).is_none() {
            return Answer::error(
                409,
                "Upserting experiment item with 'experiment_id' not belonging to the workspace",
            );
        }
        if store.datasets.item_any(s("dataset_item_id")).is_none() {
            return Answer::error(
                409,
                "Upserting experiment item with 'dataset_item_id' not belonging to the workspace",
            );
        }
    }
    for item in items {
        let s = |k: &str| item[k].as_str().unwrap_or_default().to_string();
        let id = item["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| store.ids.v7());
        let new = ExperimentItem {
            id: id.clone(),
            experiment_id: s("experiment_id"),
            dataset_item_id: s("dataset_item_id"),
            trace_id: s("trace_id"),
            created_at: now_rfc3339(),
        };
        store.experiments.items.retain(|i| i.id != id);
        store.experiments.items.push(new);
    }
    Answer::empty(204)
}

/// An experiment item with what the backend joins in from its trace.
fn item_public(store: &Store, i: &ExperimentItem, with_trace: bool) -> Value {
    let mut out = Map::new();
    for (k, v) in [
        ("id", &i.id),
        ("experiment_id", &i.experiment_id),
        ("dataset_item_id", &i.dataset_item_id),
        ("trace_id", &i.trace_id),
    ] {
        out.insert(k.into(), json!(v));
    }
    if let Some(t) = store.traces.record(Kind::Trace, &i.trace_id) {
        out.insert("project_id".into(), json!(t.project_id));
        if with_trace {
            let t = trace_public(store, t);
            for (from, to) in [
                ("input", "input"),
                ("output", "output"),
                ("metadata", "trace_metadata"),
                ("feedback_scores", "feedback_scores"),
                ("usage", "usage"),
                ("duration", "duration"),
                ("total_estimated_cost", "total_estimated_cost"),
            ] {
                if let Some(v) = t.get(from) {
                    out.insert(to.into(), v.clone());
                }
            }
            out.insert("trace_visibility_mode".into(), json!("default"));
        }
    }
    for (k, v) in [
        ("created_at", json!(i.created_at)),
        ("last_updated_at", json!(i.created_at)),
        ("created_by", json!(USER)),
        ("last_updated_by", json!(USER)),
    ] {
        out.insert(k.into(), v);
    }
    Value::Object(out)
}

/// `POST /experiments/items/stream`: NDJSON of the items of the experiments named
/// `experiment_name`, newest first, `limit` (500), ids below `last_retrieved_id`.
pub(crate) fn stream_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let name = ctx.str("experiment_name").unwrap_or_default();
    let ids: Vec<&str> = store
        .experiments
        .list
        .iter()
        .filter(|e| e.name == name)
        .map(|e| e.id.as_str())
        .collect();
    let limit = ctx.body["limit"].as_u64().unwrap_or(500) as usize;
    let last = ctx.str("last_retrieved_id");
    let mut items: Vec<&ExperimentItem> = store
        .experiments
        .items
        .iter()
        .filter(|i| ids.contains(&i.experiment_id.as_str()))
        .filter(|i| last.is_none_or(|l| i.id.as_str() < l))
        .collect();
    items.sort_by(|a, b| b.id.cmp(&a.id));
    let lines = items
        .into_iter()
        .take(limit)
        .map(|i| item_public(store, i, true))
        .collect();
    Answer::stream(lines)
}

/// `POST /experiments/items/delete`.
pub(crate) fn delete_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let ids = &ctx.body["ids"];
    store.experiments.items.retain(|i| {
        !ids.as_array()
            .is_some_and(|a| a.iter().any(|x| x == i.id.as_str()))
    });
    Answer::empty(204)
}

/// `GET /experiments/items/{id}`.
pub(crate) fn get_item(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store
        .experiments
        .items
        .iter()
        .find(|i| i.id == ctx.param("id"))
    {
        Some(i) => Answer::ok(item_public(store, i, false)),
        None => Answer::errors(
            404,
            format!("Not found experiment item with id '{}'", ctx.param("id")),
        ),
    }
}

/// `GET /datasets/{id}/items/experiments/items?experiment_ids=[...]`: the dataset's items that
/// have items of those experiments, newest first, each with them (`experiment_items`).
pub(crate) fn compare(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(d) = store.datasets.by_id(ctx.param("id")) else {
        return Answer::errors(404, "Dataset not found");
    };
    let ids: Vec<String> = match ctx
        .query("experiment_ids")
        .map(serde_json::from_str::<Vec<String>>)
    {
        Some(Ok(ids)) => ids,
        _ => return Answer::error(400, "Invalid query param ids"),
    };
    let mut rows: Vec<(String, Value)> = Vec::new();
    for i in store
        .experiments
        .items
        .iter()
        .filter(|i| ids.contains(&i.experiment_id))
    {
        let Some((di, item)) = store.datasets.item_any(&i.dataset_item_id) else {
            continue;
        };
        if di != d {
            continue;
        }
        let linked = item_public(store, i, true);
        match rows.iter_mut().find(|(id, _)| *id == i.dataset_item_id) {
            Some((_, row)) => row["experiment_items"]
                .as_array_mut()
                .expect("array")
                .push(linked),
            None => {
                let mut row = item;
                row["experiment_items"] = json!([linked]);
                rows.push((i.dataset_item_id.clone(), row));
            }
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    let all: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    let mut body = page_json(page_of(&all, page, size), page, all.len());
    body["columns"] = json!([]);
    body["sortableBy"] = json!([]);
    Answer::ok(body)
}

/// Every experiment item, for tests.
pub(crate) fn all_items(store: &Store) -> Vec<ExperimentItem> {
    store.experiments.items.clone()
}

/// An experiment as the backend answers it, for tests.
pub(crate) fn public_by_name(store: &Store, name: &str) -> Option<Value> {
    store
        .experiments
        .list
        .iter()
        .rev()
        .find(|e| e.name == name)
        .map(|e| experiment_public(store, e))
}
