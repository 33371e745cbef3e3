//! Prompts and their versions (`PromptService`): `POST /prompts/versions` gets or creates the
//! prompt by name and always adds a version, even for a template equal to the latest (the
//! Python SDK compares templates itself before posting); a version's commit is the last 8
//! characters of its id unless one is given (a given commit in use is a 409); the template
//! structure (`text`/`chat`) is fixed by the first version. Versions are answered with the
//! variables of their template (mustache `{{name}}`, jinja2 `{{ name }}` and `{% for x in
//! name %}`). Owns `/v1/private/prompts/...`.

use serde_json::{json, Value};

use crate::backend::{page_json, Answer, Ctx, Store, USER};
use crate::filters::{self, Entity, Field};
use crate::util::{now_rfc3339, object, page_of};

#[derive(Debug, Clone)]
pub(crate) struct PromptVersion {
    pub id: String,
    pub commit: String,
    pub template: String,
    metadata: Option<Value>,
    kind: String,
    change_description: Option<String>,
    tags: Option<Value>,
    created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    pub id: String,
    pub name: String,
    project_id: Option<String>,
    description: Option<String>,
    tags: Option<Value>,
    pub template_structure: String,
    created_at: String,
    last_updated_at: String,
    pub versions: Vec<PromptVersion>,
}

#[derive(Debug, Default)]
pub(crate) struct Prompts {
    pub list: Vec<Prompt>,
}

impl Prompts {
    /// A prompt by name (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.list
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(name))
    }

    fn by_id(&self, id: &str) -> Option<usize> {
        self.list.iter().position(|p| p.id == id)
    }
}

/// The variables of a template, in order of first appearance.
pub(crate) fn variables(template: &str, kind: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: &str| {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    };
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    match kind {
        "mustache" => {
            let mut rest = template;
            while let Some(start) = rest.find("{{") {
                let inner = &rest[start + 2..];
                let Some(end) = inner.find("}}") else { break };
                let tag = inner[..end].trim_start_matches('{').trim();
                if !tag.starts_with(['#', '/', '^', '!', '>', '=']) {
                    push(tag.trim_start_matches('&'));
                }
                rest = &inner[end + 2..];
            }
        }
        "jinja2" => {
            let mut locals: Vec<String> = Vec::new();
            let mut rest = template;
            while let Some(start) = rest.find(['{']) {
                let inner = &rest[start + 1..];
                if let Some(expr) = inner.strip_prefix('{') {
                    let Some(end) = expr.find("}}") else { break };
                    let name = ident(&expr[..end]);
                    if !locals.contains(&name) {
                        push(&name);
                    }
                    rest = &expr[end + 2..];
                } else if let Some(stmt) = inner.strip_prefix('%') {
                    let Some(end) = stmt.find("%}") else { break };
                    let words: Vec<&str> = stmt[..end].split_whitespace().collect();
                    if let ["for", var, "in", iter, ..] = words.as_slice() {
                        locals.push(ident(var));
                        push(&ident(iter));
                    } else if let ["if" | "elif", cond, ..] = words.as_slice() {
                        let name = ident(cond);
                        if !locals.contains(&name) {
                            push(&name);
                        }
                    }
                    rest = &stmt[end + 2..];
                } else {
                    rest = inner;
                }
            }
        }
        _ => {}
    }
    out
}

fn version_detail(p: &Prompt, i: usize) -> Value {
    let v = &p.versions[i];
    object([
        ("id", json!(v.id)),
        ("prompt_id", json!(p.id)),
        ("commit", json!(v.commit)),
        ("version_number", json!(format!("v{}", i + 1))),
        ("template", json!(v.template)),
        ("metadata", v.metadata.clone().unwrap_or_default()),
        ("type", json!(v.kind)),
        ("version_type", json!("prompt_version")),
        (
            "change_description",
            v.change_description
                .clone()
                .map(Value::from)
                .unwrap_or_default(),
        ),
        ("tags", v.tags.clone().unwrap_or_default()),
        ("variables", json!(variables(&v.template, &v.kind))),
        ("template_structure", json!(p.template_structure)),
        ("created_at", json!(v.created_at)),
        ("created_by", json!(USER)),
    ])
}

fn version_public(p: &Prompt, i: usize) -> Value {
    let mut v = version_detail(p, i);
    v.as_object_mut().map(|m| m.remove("variables"));
    v
}

fn prompt_public(p: &Prompt) -> Value {
    object([
        ("id", json!(p.id)),
        ("name", json!(p.name)),
        (
            "project_id",
            p.project_id.clone().map(Value::from).unwrap_or_default(),
        ),
        (
            "description",
            p.description.clone().map(Value::from).unwrap_or_default(),
        ),
        ("template_structure", json!(p.template_structure)),
        ("tags", p.tags.clone().unwrap_or_default()),
        ("created_at", json!(p.created_at)),
        ("created_by", json!(USER)),
        ("last_updated_at", json!(p.last_updated_at)),
        ("last_updated_by", json!(USER)),
        ("version_count", json!(p.versions.len())),
    ])
}

fn prompt_detail(p: &Prompt, requested: Option<usize>) -> Value {
    let mut v = prompt_public(p);
    if let Some(last) = p.versions.len().checked_sub(1) {
        v["latest_version"] = version_detail(p, last);
    }
    if let Some(r) = requested {
        v["requested_version"] = version_detail(p, r);
    }
    v
}

/// `{"prompt_version_id", "commit", "prompt_id", "prompt_name"}`: an experiment's link.
pub(crate) fn version_link(store: &Store, version_id: &str) -> Option<Value> {
    store.prompts.list.iter().find_map(|p| {
        let v = p.versions.iter().find(|v| v.id == version_id)?;
        Some(json!({"prompt_version_id": v.id, "commit": v.commit, "prompt_id": p.id, "prompt_name": p.name}))
    })
}

fn prompt_not_found() -> Answer {
    Answer::error(404, "Prompt not found")
}

fn version_not_found() -> Answer {
    Answer::error(404, "Prompt version not found")
}

fn new_prompt(store: &mut Store, ctx: &Ctx<'_>, name: &str, structure: Option<&str>) -> usize {
    let now = now_rfc3339();
    let id = ctx
        .str("id")
        .map(str::to_string)
        .unwrap_or_else(|| store.ids.v7());
    let project_id = ctx.str("project_id").map(str::to_string).or_else(|| {
        ctx.str("project_name")
            .map(|n| store.projects.get_or_create(&mut store.ids, Some(n)))
    });
    store.prompts.list.push(Prompt {
        id,
        name: name.to_string(),
        project_id,
        description: None,
        tags: None,
        template_structure: structure.unwrap_or("text").to_string(),
        created_at: now.clone(),
        last_updated_at: now,
        versions: Vec::new(),
    });
    store.prompts.list.len() - 1
}

fn add_version(store: &mut Store, p: usize, v: &Value) -> Result<usize, Answer> {
    let id = v["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| store.ids.v7());
    let commit = v["commit"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| id[id.len() - 8..].to_string());
    let prompt = &mut store.prompts.list[p];
    if prompt
        .versions
        .iter()
        .any(|x| x.commit == commit || x.id == id)
    {
        return Err(Answer::error(409, "Prompt version already exists"));
    }
    let now = now_rfc3339();
    prompt.versions.push(PromptVersion {
        id,
        commit,
        template: v["template"].as_str().unwrap_or_default().to_string(),
        metadata: v.get("metadata").cloned(),
        kind: v["type"].as_str().unwrap_or("mustache").to_string(),
        change_description: v["change_description"].as_str().map(str::to_string),
        tags: v.get("tags").cloned(),
        created_at: now.clone(),
    });
    prompt.last_updated_at = now;
    Ok(prompt.versions.len() - 1)
}

/// `POST /prompts`: 201 with a `Location`, and a first version when a template is given;
/// 409 for a name or id in use.
pub(crate) fn create(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let name = ctx.str("name").unwrap_or_default();
    if store.prompts.by_name(name).is_some()
        || ctx
            .str("id")
            .is_some_and(|id| store.prompts.by_id(id).is_some())
    {
        return Answer::error(409, "Prompt id or name already exists");
    }
    let p = new_prompt(store, ctx, name, ctx.str("template_structure"));
    let prompt = &mut store.prompts.list[p];
    prompt.description = ctx.str("description").map(str::to_string);
    prompt.tags = ctx.body.get("tags").cloned();
    let id = prompt.id.clone();
    if ctx.str("template").is_some_and(|t| !t.is_empty()) {
        let mut v = ctx.body.clone();
        v.as_object_mut().map(|m| {
            m.remove("id");
            m.remove("tags")
        });
        if let Err(e) = add_version(store, p, &v) {
            return e;
        }
    }
    Answer::created(ctx, &id)
}

/// `POST /prompts/versions`: 200 with the new version.
pub(crate) fn create_version(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let name = ctx.str("name").unwrap_or_default();
    let p = match store.prompts.by_name(name) {
        Some(p) => p,
        None => {
            let structure = ctx.str("template_structure");
            new_prompt(store, ctx, name, structure)
        }
    };
    match add_version(store, p, &ctx.body["version"]) {
        Ok(v) => Answer::ok(version_detail(&store.prompts.list[p], v)),
        Err(e) => e,
    }
}

fn version_index(p: &Prompt, commit: Option<&str>, number: Option<&str>) -> Option<usize> {
    if let Some(c) = commit {
        return p.versions.iter().position(|v| v.commit == c);
    }
    if let Some(n) = number {
        let n: usize = n.strip_prefix('v').unwrap_or(n).parse().ok()?;
        return (n >= 1 && n <= p.versions.len()).then(|| n - 1);
    }
    p.versions.len().checked_sub(1)
}

/// `POST /prompts/versions/retrieve`: the latest version, or by `commit` or `version_number`.
pub(crate) fn retrieve_version(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(p) = store.prompts.by_name(ctx.str("name").unwrap_or_default()) else {
        return prompt_not_found();
    };
    let prompt = &store.prompts.list[p];
    match version_index(prompt, ctx.str("commit"), ctx.str("version_number")) {
        Some(v) => Answer::ok(version_detail(prompt, v)),
        None => version_not_found(),
    }
}

fn field_of<'a>(p: &'a Prompt, field: &str) -> Field<'a> {
    match field {
        "id" => Field::Str(p.id.clone()),
        "name" => Field::Str(p.name.clone()),
        "description" => p.description.clone().map_or(Field::Missing, Field::Str),
        "created_by" | "last_updated_by" => Field::Str(USER.into()),
        "tags" => Field::List(
            p.tags
                .iter()
                .flat_map(|t| t.as_array().into_iter().flatten())
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        "created_at" => Field::Time(&p.created_at),
        "last_updated_at" => Field::Time(&p.last_updated_at),
        "template_structure" => Field::Str(p.template_structure.clone()),
        _ => Field::Missing,
    }
}

/// `GET /prompts`: `name` (case-insensitive substring), `project_id`, `filters` (name, tags,
/// description, template structure, times); newest first.
pub(crate) fn find(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let filters = match filters::parse_query(Entity::Prompt, ctx.query("filters")) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let needle = ctx.query("name").unwrap_or("").to_lowercase();
    let all: Vec<Value> = store
        .prompts
        .list
        .iter()
        .rev()
        .filter(|p| p.name.to_lowercase().contains(&needle))
        .filter(|p| {
            ctx.query("project_id")
                .is_none_or(|id| p.project_id.as_deref() == Some(id))
        })
        .filter(|p| filters::matches(&filters, |f| field_of(p, f)))
        .map(prompt_public)
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    let mut body = page_json(page_of(&all, page, size), page, all.len());
    body["sortableBy"] = json!([]);
    Answer::ok(body)
}

/// `GET /prompts/{id}`: with its latest version.
pub(crate) fn get(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store.prompts.by_id(ctx.param("id")) {
        Some(p) => Answer::ok(prompt_detail(&store.prompts.list[p], None)),
        None => prompt_not_found(),
    }
}

/// `GET /prompts/by-commit/{commit}`: the prompt, with the version of that commit.
pub(crate) fn by_commit(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let commit = ctx.param("commit");
    store
        .prompts
        .list
        .iter()
        .find_map(|p| {
            let v = p.versions.iter().position(|v| v.commit == commit)?;
            Some(Answer::ok(prompt_detail(p, Some(v))))
        })
        .unwrap_or_else(version_not_found)
}

/// `GET /prompts/{id}/versions`: newest first; `search` looks in templates and change
/// descriptions.
pub(crate) fn versions(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let Some(p) = store.prompts.by_id(ctx.param("id")) else {
        return prompt_not_found();
    };
    let p = &store.prompts.list[p];
    let search = ctx.query("search").unwrap_or("").to_lowercase();
    let all: Vec<Value> = (0..p.versions.len())
        .rev()
        .filter(|i| {
            let v = &p.versions[*i];
            v.template.to_lowercase().contains(&search)
                || v.change_description
                    .as_deref()
                    .unwrap_or("")
                    .to_lowercase()
                    .contains(&search)
        })
        .map(|i| version_public(p, i))
        .collect();
    let (page, size) = (ctx.query_usize("page", 1), ctx.query_usize("size", 10));
    let mut body = page_json(page_of(&all, page, size), page, all.len());
    body["sortableBy"] = json!([]);
    Answer::ok(body)
}

/// `GET /prompts/versions/{versionId}`.
pub(crate) fn get_version(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    store
        .prompts
        .list
        .iter()
        .find_map(|p| {
            let v = p
                .versions
                .iter()
                .position(|v| v.id == ctx.param("versionId"))?;
            Some(Answer::ok(version_detail(p, v)))
        })
        .unwrap_or_else(version_not_found)
}

/// `DELETE /prompts/{id}`: 404 for an unknown id.
pub(crate) fn delete(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    match store.prompts.by_id(ctx.param("id")) {
        Some(p) => {
            store.prompts.list.remove(p);
            Answer::empty(204)
        }
        None => prompt_not_found(),
    }
}

/// `POST /prompts/delete`: `{"ids": [...]}`.
pub(crate) fn delete_batch(store: &mut Store, ctx: &Ctx<'_>) -> Answer {
    let ids = &ctx.body["ids"];
    store.prompts.list.retain(|p| {
        !ids.as_array()
            .is_some_and(|a| a.iter().any(|x| x == p.id.as_str()))
    });
    Answer::empty(204)
}

#[cfg(test)]
mod tests {
    use super::variables;

    #[test]
    fn template_variables() {
        assert_eq!(
            variables(
                "Hi {{name}}, {{#items}}{{x}}{{/items}} {{{raw}}} {{! note}} {{ name }}",
                "mustache"
            ),
            ["name", "x", "raw"]
        );
        assert_eq!(
            variables("{{ user.name | upper }} {% for m in messages %}{{ m.text }}{% endfor %}{% if flag %}!{% endif %}", "jinja2"),
            ["user", "messages", "flag"]
        );
        assert!(variables("{{x}}", "python").is_empty());
    }
}
