//! The items operations of datasets (`PUT /datasets/items`, the items stream, pages, get,
//! delete) on the versions `datasets` keeps: writes go to the latest version or to their batch
//! group's, reads to the latest version or a given one (hash or tag); filters are the
//! backend's dataset-item filters (`data.key`, `tags`, ...).

use serde_json::{json, Map, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::datasets::{item_public, not_found, project_for_write, project_id_of, Dataset, Row};
use crate::filters::{self, Entity, Field};
use crate::util::page_of;

/// `PUT /datasets/items`: upserts by item id into the version the batch group picks; the
/// dataset is found by id, or by name and created if needed.
pub(crate) fn put_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let i = match (ctx.str("dataset_id"), ctx.str("dataset_name")) {
        (Some(id), _) => match store.datasets.by_id(id) {
            Some(i) => i,
            None => return Answer::error(404, format!("Dataset not found: '{id}'")),
        },
        (None, Some(name)) => {
            let project = match project_for_write(store, ctx) {
                Ok(p) => p,
                Err(e) => return e,
            };
            store.datasets.get_or_create(&mut store.ids, name, project)
        }
        (None, None) => return Answer::errors(422, "dataset_id or dataset_name must be provided"),
    };
    let items: Vec<(String, Map<String, Value>)> = ctx.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            let mut item = item.as_object().cloned().unwrap_or_default();
            let id = match item.remove("id") {
                Some(Value::String(id)) => id,
                _ => store.ids.v7(),
            };
            (id, item)
        })
        .collect();
    if items.is_empty() {
        return Answer::empty(204);
    }
    let d = &mut store.datasets.list[i];
    let v = d.target(&mut store.ids, ctx.str("batch_group_id"));
    for (id, item) in items {
        d.upsert(v, id, item);
    }
    Answer::empty(204)
}

fn field_of<'a>(r: &'a Row, field: &str) -> Field<'a> {
    match field {
        "id" => Field::Str(r.id.clone()),
        "data" => r.item.get("data").map_or(Field::Missing, Field::Json),
        "full_data" => Field::Str(r.item.get("data").map(Value::to_string).unwrap_or_default()),
        "tags" => Field::List(
            r.item
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        "created_at" => Field::Time(&r.created_at),
        "last_updated_at" => Field::Time(&r.last_updated_at),
        "created_by" | "last_updated_by" => Field::Str(USER.into()),
        other => r
            .item
            .get(other)
            .and_then(Value::as_str)
            .map_or(Field::Missing, |s| Field::Str(s.into())),
    }
}

fn version_not_found(d: &Dataset, hash: &str) -> Answer {
    Answer::error(
        404,
        format!(
            "Version not found for dataset hash='{hash}' datasetId='{}'",
            d.id
        ),
    )
}

/// `POST /datasets/items/stream`: NDJSON, newest item id first, `steam_limit` (500) items
/// with ids below `last_retrieved_id`, of the latest version or of `dataset_version` (hash or
/// tag). An unknown dataset ends the stream with the backend's error line.
pub(crate) fn stream_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let filters = match filters::parse_query(Entity::DatasetItem, ctx.str("filters")) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let project = project_id_of(store, ctx.str("project_name"));
    let Some(i) = store.datasets.find(
        ctx.str("dataset_name").unwrap_or_default(),
        project.as_deref(),
    ) else {
        return Answer::stream(vec![json!({"code": 404, "message": "Dataset not found"})]);
    };
    let d = &store.datasets.list[i];
    let v = match ctx.str("dataset_version") {
        Some(h) => match d.version(h) {
            Some(v) => Some(v),
            None => {
                return Answer::stream(vec![json!({"code": 404, "message": format!(
                    "Version not found for dataset hash='{h}' datasetId='{}'", d.id)})])
            }
        },
        None => d.latest(),
    };
    let limit = ctx.body["steam_limit"].as_u64().unwrap_or(500) as usize;
    let last = ctx.str("last_retrieved_id");
    let lines = d
        .items_at(v)
        .into_iter()
        .filter(|r| last.is_none_or(|l| r.id.as_str() < l))
        .filter(|r| filters::matches(&filters, |f| field_of(r, f)))
        .take(limit)
        .map(|r| item_public(d, r))
        .collect();
    Answer::stream(lines)
}

/// `POST /datasets/items/delete`: by `item_ids`, or by `dataset_id` and `filters` (an empty
/// list deletes every item); versions as for inserts.
pub(crate) fn delete_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let group = ctx.str("batch_group_id").map(str::to_string);
    let ids: Vec<String> = ctx.body["item_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let mut targets: Vec<(usize, Vec<String>)> = Vec::new();
    if !ids.is_empty() {
        for (i, d) in store.datasets.list.iter().enumerate() {
            let mine: Vec<String> = ids
                .iter()
                .filter(|id| d.live.contains_key(*id))
                .cloned()
                .collect();
            if !mine.is_empty() {
                targets.push((i, mine));
            }
        }
    } else if let Some(id) = ctx.str("dataset_id") {
        let Some(i) = store.datasets.by_id(id) else {
            return not_found();
        };
        let filters = match filters::parse(Entity::DatasetItem, &ctx.body["filters"]) {
            Ok(f) => f,
            Err(e) => return e,
        };
        let d = &store.datasets.list[i];
        let mine = d
            .items_at(d.latest())
            .into_iter()
            .filter(|r| filters::matches(&filters, |f| field_of(r, f)))
            .map(|r| r.id.clone())
            .collect();
        targets.push((i, mine));
    } else {
        return Answer::errors(400, "Either 'item_ids' or 'dataset_id' must be provided");
    }
    for (i, ids) in targets {
        let d = &mut store.datasets.list[i];
        if ids.is_empty() || d.latest().is_none() {
            continue;
        }
        let v = d.target(&mut store.ids, group.as_deref());
        for id in ids {
            d.remove(v, &id);
        }
    }
    Answer::empty(204)
}

/// The columns of a page: each data key with the JSON types its values have.
fn columns(rows: &[&Row]) -> Value {
    let mut cols: Vec<(String, Vec<&'static str>)> = Vec::new();
    for r in rows {
        for (k, v) in r
            .item
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ty = match v {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Object(_) => "object",
                Value::Bool(_) => "boolean",
                Value::Array(_) => "array",
                Value::Null => "null",
            };
            match cols.iter_mut().find(|(n, _)| n == k) {
                Some((_, types)) if !types.contains(&ty) => types.push(ty),
                Some(_) => {}
                None => cols.push((k.clone(), vec![ty])),
            }
        }
    }
    json!(cols
        .into_iter()
        .map(|(name, types)| json!({"name": name, "types": types, "filter_field_prefix": "data"}))
        .collect::<Vec<_>>())
}

/// `GET /datasets/{id}/items`: a page (`page`, `size`) of the latest version or of `version`.
pub(crate) fn page_items(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(i) = store.datasets.by_id(ctx.param("id")) else {
        return not_found();
    };
    let d = &store.datasets.list[i];
    let v = match ctx.query("version") {
        Some(h) => match d.version(h) {
            Some(v) => Some(v),
            None => return version_not_found(d, h),
        },
        None => d.latest(),
    };
    let filters = match filters::parse_query(Entity::DatasetItem, ctx.query("filters")) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let rows: Vec<&Row> = d
        .items_at(v)
        .into_iter()
        .filter(|r| filters::matches(&filters, |f| field_of(r, f)))
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    let content: Vec<Value> = page_of(&rows, page, size)
        .into_iter()
        .map(|r| item_public(d, r))
        .collect();
    let mut body = page_json(content, page, rows.len());
    body["columns"] = columns(&rows);
    body["sortableBy"] = json!([]);
    Answer::ok(body)
}

/// `GET /datasets/items/{itemId}`: in the latest version; 404 `Dataset item not found`.
pub(crate) fn get_item(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store.datasets.item(ctx.param("itemId")) {
        Some((_, item)) => Answer::ok(item),
        None => Answer::error(404, "Dataset item not found"),
    }
}
