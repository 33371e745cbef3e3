//! Datasets, their items and versions, the way the versioned backend keeps them
//! (`DatasetItemService`, `DatasetVersionService`): an items insert without `batch_group_id`
//! mutates the latest version (making v1 when there is none); the first insert of a new
//! `batch_group_id` makes a new version from the latest, and later batches of the group land in
//! it; items are upserted by their stable `id`; deletes follow the same rule. A version's hash
//! is the last 8 characters of its id, the newest carries the `latest` tag. Items are read as
//! an NDJSON stream (`steam_limit`, `last_retrieved_id`: newest id first) or in pages, of the
//! latest or a given version. Owns the datasets and their versions; `dataset_items` the items'
//! operations, `experiments` the comparison view.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::util::{now_rfc3339, object, page_of};

/// One stored revision of an item: visible from version `from` until before `to`.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub id: String,
    pub item: Map<String, Value>,
    pub created_at: String,
    pub last_updated_at: String,
    from: usize,
    to: Option<usize>,
}

impl Row {
    fn visible(&self, v: usize) -> bool {
        self.from <= v && self.to.is_none_or(|t| v < t)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub id: String,
    pub hash: String,
    created_at: String,
    last_updated_at: String,
    pub items_total: i64,
    added: i64,
    modified: i64,
    deleted: i64,
    change_description: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub id: String,
    pub name: String,
    pub project_id: Option<String>,
    description: Option<String>,
    tags: Option<Value>,
    kind: String,
    visibility: String,
    created_at: String,
    last_updated_at: String,
    pub versions: Vec<Version>,
    rows: Vec<Option<Row>>,
    /// Item id to the index of its row visible in the latest version.
    pub live: HashMap<String, usize>,
    groups: HashMap<String, usize>,
}

impl Dataset {
    pub fn latest(&self) -> Option<usize> {
        self.versions.len().checked_sub(1)
    }

    /// The items of version `v`, newest id first.
    pub fn items_at(&self, v: Option<usize>) -> Vec<&Row> {
        let Some(v) = v else { return Vec::new() };
        let mut out: Vec<&Row> = self
            .rows
            .iter()
            .flatten()
            .filter(|r| r.visible(v))
            .collect();
        out.sort_by(|a, b| b.id.cmp(&a.id));
        out
    }

    /// How many items the latest version holds.
    pub fn item_count(&self) -> usize {
        self.live.len()
    }

    /// The items of the latest version, newest id first, as the backend answers them.
    pub fn items_public(&self) -> Vec<Value> {
        self.items_at(self.latest())
            .into_iter()
            .map(|r| item_public(self, r))
            .collect()
    }

    fn new_version(&mut self, ids: &mut crate::util::IdGen, change: Option<&str>) -> usize {
        let id = ids.v7();
        let now = now_rfc3339();
        self.versions.push(Version {
            hash: id[id.len() - 8..].to_string(),
            id,
            created_at: now.clone(),
            last_updated_at: now,
            items_total: self.live.len() as i64,
            added: 0,
            modified: 0,
            deleted: 0,
            change_description: change.map(str::to_string),
        });
        self.versions.len() - 1
    }

    /// The version a write goes to: the latest, or a new one for a new batch group.
    pub fn target(&mut self, ids: &mut crate::util::IdGen, group: Option<&str>) -> usize {
        const SDK_BATCH: &str = "Auto-created from SDK batch operation";
        match (group, self.latest()) {
            (None, Some(v)) => v,
            (None, None) => self.new_version(ids, None),
            (Some(g), latest) => match self.groups.get(g) {
                Some(v) if Some(*v) == latest => *v,
                _ => {
                    let v = self.new_version(ids, Some(SDK_BATCH));
                    self.groups.insert(g.to_string(), v);
                    v
                }
            },
        }
    }

    pub fn upsert(&mut self, v: usize, id: String, item: Map<String, Value>) {
        let now = now_rfc3339();
        let version = &mut self.versions[v];
        version.last_updated_at = now.clone();
        match self.live.get(&id).copied() {
            Some(i) => {
                version.modified += 1;
                let row = self.rows[i].as_mut().expect("live row");
                let created_at = row.created_at.clone();
                if row.from == v {
                    row.item = item;
                    row.last_updated_at = now;
                } else {
                    row.to = Some(v);
                    self.rows.push(Some(Row {
                        id: id.clone(),
                        item,
                        created_at,
                        last_updated_at: now,
                        from: v,
                        to: None,
                    }));
                    self.live.insert(id, self.rows.len() - 1);
                }
            }
            None => {
                version.added += 1;
                version.items_total += 1;
                self.rows.push(Some(Row {
                    id: id.clone(),
                    item,
                    created_at: now.clone(),
                    last_updated_at: now,
                    from: v,
                    to: None,
                }));
                self.live.insert(id, self.rows.len() - 1);
            }
        }
        self.last_updated_at = now_rfc3339();
    }

    pub fn remove(&mut self, v: usize, id: &str) -> bool {
        let Some(i) = self.live.remove(id) else {
            return false;
        };
        let version = &mut self.versions[v];
        version.items_total -= 1;
        version.deleted += 1;
        version.last_updated_at = now_rfc3339();
        match &mut self.rows[i] {
            Some(row) if row.from == v => self.rows[i] = None,
            Some(row) => row.to = Some(v),
            None => {}
        }
        true
    }

    /// A version by hash or tag (`latest`).
    pub fn version(&self, hash_or_tag: &str) -> Option<usize> {
        if hash_or_tag == "latest" {
            return self.latest();
        }
        self.versions.iter().position(|v| v.hash == hash_or_tag)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Datasets {
    pub list: Vec<Dataset>,
}

impl Datasets {
    /// A dataset by name, in a project if one is named (falling back to any of that name, as
    /// the backend's workspace-wide lookup does). Names are case-insensitive.
    pub fn find(&self, name: &str, project_id: Option<&str>) -> Option<usize> {
        let named = |d: &Dataset| d.name.eq_ignore_ascii_case(name);
        project_id
            .and_then(|p| {
                self.list
                    .iter()
                    .position(|d| named(d) && d.project_id.as_deref() == Some(p))
            })
            .or_else(|| self.list.iter().position(named))
    }

    pub fn by_id(&self, id: &str) -> Option<usize> {
        self.list.iter().position(|d| d.id == id)
    }

    /// The dataset named `name` in the project, created if needed (items inserts and
    /// experiments do this).
    pub fn get_or_create(
        &mut self,
        ids: &mut crate::util::IdGen,
        name: &str,
        project_id: Option<String>,
    ) -> usize {
        match self.find(name, project_id.as_deref()) {
            Some(i) => i,
            None => self.insert_new(ids, name, project_id),
        }
    }

    /// A new, empty dataset.
    fn insert_new(
        &mut self,
        ids: &mut crate::util::IdGen,
        name: &str,
        project_id: Option<String>,
    ) -> usize {
        let now = now_rfc3339();
        self.list.push(Dataset {
            id: ids.v7(),
            name: name.to_string(),
            project_id,
            description: None,
            tags: None,
            kind: "dataset".into(),
            visibility: "private".into(),
            created_at: now.clone(),
            last_updated_at: now,
            versions: Vec::new(),
            rows: Vec::new(),
            live: HashMap::new(),
            groups: HashMap::new(),
        });
        self.list.len() - 1
    }

    /// The item with this id: as the latest version of its dataset holds it, else its last
    /// stored revision (deleted since).
    pub fn item_any(&self, id: &str) -> Option<(usize, Value)> {
        self.item(id).or_else(|| {
            self.list.iter().enumerate().find_map(|(i, d)| {
                let r = d.rows.iter().rev().flatten().find(|r| r.id == id)?;
                Some((i, item_public(d, r)))
            })
        })
    }

    /// The item with this id in the latest version of any dataset.
    pub fn item(&self, id: &str) -> Option<(usize, Value)> {
        self.list.iter().enumerate().find_map(|(i, d)| {
            let row = d.rows[*d.live.get(id)?].as_ref()?;
            Some((i, item_public(d, row)))
        })
    }
}

pub(crate) fn item_public(d: &Dataset, r: &Row) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(r.id));
    out.insert("dataset_item_id".into(), json!(r.id));
    for k in [
        "trace_id",
        "span_id",
        "source",
        "data",
        "description",
        "tags",
        "evaluators",
        "execution_policy",
    ] {
        if let Some(v) = r.item.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("dataset_id".into(), json!(d.id));
    out.insert("created_at".into(), json!(r.created_at));
    out.insert("last_updated_at".into(), json!(r.last_updated_at));
    out.insert("created_by".into(), json!(USER));
    out.insert("last_updated_by".into(), json!(USER));
    Value::Object(out)
}

fn version_public(d: &Dataset, i: usize) -> Value {
    let v = &d.versions[i];
    let latest = Some(i) == d.latest();
    object([
        ("id", json!(v.id)),
        ("dataset_id", json!(d.id)),
        ("version_hash", json!(v.hash)),
        ("tags", if latest { json!(["latest"]) } else { json!([]) }),
        ("is_latest", json!(latest)),
        ("version_name", json!(format!("v{}", i + 1))),
        ("items_total", json!(v.items_total)),
        ("items_added", json!(v.added)),
        ("items_modified", json!(v.modified)),
        ("items_deleted", json!(v.deleted)),
        (
            "change_description",
            v.change_description
                .clone()
                .map(Value::from)
                .unwrap_or_default(),
        ),
        ("created_at", json!(v.created_at)),
        ("created_by", json!(USER)),
        ("last_updated_at", json!(v.last_updated_at)),
        ("last_updated_by", json!(USER)),
    ])
}

/// A dataset as the backend answers it (`Dataset_Public`).
fn dataset_public(store: &Store, d: &Dataset) -> Value {
    let experiments = crate::experiments::of_dataset(store, &d.id);
    let latest = d.latest().map(|i| {
        let v = &d.versions[i];
        object([
            ("id", json!(v.id)),
            ("version_hash", json!(v.hash)),
            ("version_name", json!(format!("v{}", i + 1))),
            (
                "change_description",
                v.change_description
                    .clone()
                    .map(Value::from)
                    .unwrap_or_default(),
            ),
            ("tags", json!(["latest"])),
        ])
    });
    object([
        ("id", json!(d.id)),
        ("name", json!(d.name)),
        (
            "project_id",
            d.project_id.clone().map(Value::from).unwrap_or_default(),
        ),
        ("type", json!(d.kind)),
        ("visibility", json!(d.visibility)),
        ("tags", d.tags.clone().unwrap_or_default()),
        (
            "description",
            d.description.clone().map(Value::from).unwrap_or_default(),
        ),
        ("created_at", json!(d.created_at)),
        ("created_by", json!(USER)),
        ("last_updated_at", json!(d.last_updated_at)),
        ("last_updated_by", json!(USER)),
        ("experiment_count", json!(experiments.len())),
        ("dataset_items_count", json!(d.item_count())),
        ("optimization_count", json!(0)),
        (
            "last_created_experiment_at",
            experiments
                .iter()
                .max()
                .map(|t| json!(t))
                .unwrap_or_default(),
        ),
        ("latest_version", latest.unwrap_or_default()),
    ])
}

pub(crate) fn not_found() -> Answer {
    Answer::errors(404, "Dataset not found")
}

/// The project a write names by `project_id` (must exist) or `project_name` (created).
pub(crate) fn project_for_write(
    store: &mut Store,
    ctx: &Ctx<'_>,
) -> Result<Option<String>, Answer> {
    if let Some(id) = ctx.str("project_id") {
        return match store.projects.by_id(id) {
            Some(p) => Ok(Some(p.id.clone())),
            None => Err(Answer::errors(404, "Project not found")),
        };
    }
    Ok(ctx
        .str("project_name")
        .map(|n| store.projects.get_or_create(&mut store.ids, Some(n))))
}

/// `POST /datasets`: 201 with a `Location`; 409 `{"errors":["Dataset already exists"]}`.
pub(crate) fn create(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project_id = match project_for_write(store, ctx) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let name = ctx.str("name").unwrap_or_default();
    let taken = store.datasets.list.iter().any(|d| {
        (d.name.eq_ignore_ascii_case(name) && d.project_id == project_id)
            || Some(d.id.as_str()) == ctx.str("id")
    });
    if taken {
        return Answer::errors(409, "Dataset already exists");
    }
    let i = store.datasets.insert_new(&mut store.ids, name, project_id);
    let d = &mut store.datasets.list[i];
    if let Some(id) = ctx.str("id") {
        d.id = id.to_string();
    }
    d.description = ctx.str("description").map(str::to_string);
    d.tags = ctx.body.get("tags").cloned();
    if let Some(k) = ctx.str("type") {
        d.kind = k.to_string();
    }
    if let Some(v) = ctx.str("visibility") {
        d.visibility = v.to_string();
    }
    let id = d.id.clone();
    Answer::created(ctx, &id)
}

/// `GET /datasets`: `name` (case-insensitive substring) and `project_id` narrow it; newest first.
pub(crate) fn find(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let needle = ctx.query("name").unwrap_or("").to_lowercase();
    let all: Vec<Value> = store
        .datasets
        .list
        .iter()
        .rev()
        .filter(|d| d.name.to_lowercase().contains(&needle))
        .filter(|d| {
            ctx.query("project_id")
                .is_none_or(|p| d.project_id.as_deref() == Some(p))
        })
        .filter(|d| {
            ctx.query("with_experiments_only") != Some("true")
                || !crate::experiments::of_dataset(store, &d.id).is_empty()
        })
        .map(|d| dataset_public(store, d))
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    let mut body = page_json(page_of(&all, page, size), page, all.len());
    body["sortableBy"] = json!([]);
    Answer::ok(body)
}

/// `GET /datasets/{id}`.
pub(crate) fn get(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store.datasets.by_id(ctx.param("id")) {
        Some(i) => Answer::ok(dataset_public(store, &store.datasets.list[i])),
        None => not_found(),
    }
}

/// `PUT /datasets/{id}`: name, description, visibility, tags.
pub(crate) fn update(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(i) = store.datasets.by_id(ctx.param("id")) else {
        return not_found();
    };
    let name = ctx.str("name").unwrap_or_default();
    let project = store.datasets.list[i].project_id.clone();
    if store
        .datasets
        .list
        .iter()
        .enumerate()
        .any(|(j, d)| j != i && d.project_id == project && d.name.eq_ignore_ascii_case(name))
    {
        return Answer::errors(409, "Dataset already exists");
    }
    let d = &mut store.datasets.list[i];
    d.name = name.to_string();
    d.description = ctx.str("description").map(str::to_string);
    if let Some(t) = ctx.body.get("tags") {
        d.tags = Some(t.clone());
    }
    if let Some(v) = ctx.str("visibility") {
        d.visibility = v.to_string();
    }
    d.last_updated_at = now_rfc3339();
    Answer::empty(204)
}

/// `DELETE /datasets/{id}`: 204 (also for an unknown id).
pub(crate) fn delete(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    store.datasets.list.retain(|d| d.id != ctx.param("id"));
    Answer::empty(204)
}

pub(crate) fn project_id_of(store: &Store, name: Option<&str>) -> Option<String> {
    name.and_then(|n| store.projects.by_name(n))
        .map(|p| p.id.clone())
}

/// `POST /datasets/retrieve`: by `dataset_name` (and `project_name`).
pub(crate) fn retrieve(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project = project_id_of(store, ctx.str("project_name"));
    match store.datasets.find(
        ctx.str("dataset_name").unwrap_or_default(),
        project.as_deref(),
    ) {
        Some(i) => Answer::ok(dataset_public(store, &store.datasets.list[i])),
        None => not_found(),
    }
}

/// `POST /datasets/delete`: by `dataset_name` (and `project_name`); 404 when unknown.
pub(crate) fn delete_by_name(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let project = project_id_of(store, ctx.str("project_name"));
    match store.datasets.find(
        ctx.str("dataset_name").unwrap_or_default(),
        project.as_deref(),
    ) {
        Some(i) => {
            store.datasets.list.remove(i);
            Answer::empty(204)
        }
        None => not_found(),
    }
}

/// `GET /datasets/{id}/versions`: newest first.
pub(crate) fn versions(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(i) = store.datasets.by_id(ctx.param("id")) else {
        return not_found();
    };
    let d = &store.datasets.list[i];
    let all: Vec<Value> = (0..d.versions.len())
        .rev()
        .map(|v| version_public(d, v))
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    Answer::ok(page_json(page_of(&all, page, size), page, all.len()))
}

/// `POST /datasets/{id}/versions/retrieve`: by `version_name` (`v3`).
pub(crate) fn retrieve_version(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(i) = store.datasets.by_id(ctx.param("id")) else {
        return not_found();
    };
    let d = &store.datasets.list[i];
    let name = ctx.str("version_name").unwrap_or_default();
    match name
        .strip_prefix('v')
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 1 && *n <= d.versions.len())
    {
        Some(n) => Answer::ok(version_public(d, n - 1)),
        None => Answer::error(404, format!("Dataset version not found: '{name}'")),
    }
}
