//! Projects: created on first use by any write that names one (traces, spans, scores,
//! datasets, experiments, attachments), or explicitly; names are case-insensitive, as in the
//! backend's `ProjectService`. Owns `POST /projects`, `POST /projects/retrieve`,
//! `GET /projects/{id}` and `GET /projects`, and the project resolution every read uses.

use serde_json::Value;

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::util::{now_rfc3339, object, page_of, IdGen};

/// The project of writes that name none (`WorkspaceUtils.getProjectName`).
pub(crate) const DEFAULT_PROJECT: &str = "Default Project";

#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub visibility: String,
    pub created_at: String,
    pub last_updated_at: String,
    pub last_updated_trace_at: Option<String>,
}

impl Project {
    fn public(&self) -> Value {
        object([
            ("id", Value::from(self.id.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("visibility", Value::from(self.visibility.as_str())),
            (
                "description",
                self.description
                    .clone()
                    .map(Value::from)
                    .unwrap_or_default(),
            ),
            ("created_at", Value::from(self.created_at.as_str())),
            ("created_by", Value::from(USER)),
            (
                "last_updated_at",
                Value::from(self.last_updated_at.as_str()),
            ),
            ("last_updated_by", Value::from(USER)),
            (
                "last_updated_trace_at",
                self.last_updated_trace_at
                    .clone()
                    .map(Value::from)
                    .unwrap_or_default(),
            ),
        ])
    }
}

#[derive(Debug, Default)]
pub(crate) struct Projects {
    list: Vec<Project>,
}

impl Projects {
    pub fn by_name(&self, name: &str) -> Option<&Project> {
        self.list.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    pub fn by_id(&self, id: &str) -> Option<&Project> {
        self.list.iter().find(|p| p.id == id)
    }

    /// The id of the project named `name` (the default project when `None` or blank),
    /// creating it if needed.
    pub fn get_or_create(&mut self, ids: &mut IdGen, name: Option<&str>) -> String {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_PROJECT);
        if let Some(p) = self.by_name(name) {
            return p.id.clone();
        }
        let now = now_rfc3339();
        let p = Project {
            id: ids.v7(),
            name: name.to_string(),
            description: None,
            visibility: "private".into(),
            created_at: now.clone(),
            last_updated_at: now,
            last_updated_trace_at: None,
        };
        let id = p.id.clone();
        self.list.push(p);
        id
    }

    /// The name of a project id (empty when unknown).
    pub fn name_of(&self, id: &str) -> String {
        self.by_id(id).map(|p| p.name.clone()).unwrap_or_default()
    }

    /// Records that a trace of the project was written at `at`.
    pub fn touch_trace(&mut self, id: &str, at: &str) {
        if let Some(p) = self.list.iter_mut().find(|p| p.id == id) {
            if p.last_updated_trace_at.as_deref() < Some(at) {
                p.last_updated_trace_at = Some(at.to_string());
            }
        }
    }

    /// Every project, oldest first.
    pub fn all(&self) -> &[Project] {
        &self.list
    }
}

/// The project a read names by `project_id` or `project_name`, as the backend resolves it
/// for searches and thread operations: 400 when neither is given, 404 when it does not exist.
pub(crate) fn resolve(
    store: &Store,
    project_id: Option<&str>,
    project_name: Option<&str>,
) -> Result<String, Answer> {
    if let Some(id) = project_id {
        return store
            .projects
            .by_id(id)
            .map(|p| p.id.clone())
            .ok_or_else(|| Answer::error(404, format!("Project id: {id} not found")));
    }
    match project_name.filter(|n| !n.trim().is_empty()) {
        Some(name) => store
            .projects
            .by_name(name)
            .map(|p| p.id.clone())
            .ok_or_else(|| Answer::error(404, format!("Project name: {name} not found"))),
        None => Err(Answer::error(
            400,
            "Either 'project_name' or 'project_id' query params must be provided",
        )),
    }
}

/// `POST /v1/private/projects`: 201 with a `Location`, 409 for a name in use.
pub(crate) fn create(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let name = ctx.str("name").unwrap_or_default().trim().to_string();
    if store.projects.by_name(&name).is_some() {
        return Answer::errors(409, "Project already exists");
    }
    let id = store.projects.get_or_create(&mut store.ids, Some(&name));
    if let Some(p) = store.projects.list.iter_mut().find(|p| p.id == id) {
        p.description = ctx.str("description").map(str::to_string);
        if let Some(v) = ctx.str("visibility") {
            p.visibility = v.to_string();
        }
    }
    Answer::created(ctx, &id)
}

/// `POST /v1/private/projects/retrieve`: the project by name, 404 `{"errors":["Project not found"]}`.
pub(crate) fn retrieve(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store.projects.by_name(ctx.str("name").unwrap_or_default()) {
        Some(p) => Answer::ok(p.public()),
        None => Answer::errors(404, "Project not found"),
    }
}

/// `GET /v1/private/projects/{id}`.
pub(crate) fn get(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store.projects.by_id(ctx.param("id")) {
        Some(p) => Answer::ok(p.public()),
        None => Answer::errors(404, "Project not found"),
    }
}

/// `GET /v1/private/projects`: `name` filters by a case-insensitive substring; newest first.
pub(crate) fn find(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let needle = ctx.query("name").unwrap_or("").to_lowercase();
    let mut matching: Vec<Value> = store
        .projects
        .all()
        .iter()
        .rev()
        .filter(|p| p.name.to_lowercase().contains(&needle))
        .map(Project::public)
        .collect();
    let total = matching.len();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    matching = page_of(&matching, page, size);
    Answer::ok(page_json(matching, page, total))
}
