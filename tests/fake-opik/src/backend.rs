//! The stateful backend: the in-memory store of one server and the routing of each request
//! the server answers by default (nothing scripted) to the feature module that owns it.
//!
//! A handler gets the request as a [`Ctx`] (path and query parameters, the JSON body with its
//! `null`s removed as the backend's JSON mapping does) and returns an [`Answer`]; the server
//! checks the answer against the spec's response schema before sending it. Operations no module
//! owns get `None` here and the server's generic default answer.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::attachments::Attachments;
use crate::auth::Auth;
use crate::datasets::Datasets;
use crate::experiments::Experiments;
use crate::projects::Projects;
use crate::prompts::Prompts;
use crate::threads::Threads;
use crate::traces::Traces;
use crate::util::IdGen;

/// The user the backend records as `created_by` without authentication (self-hosted).
pub(crate) const USER: &str = "admin";

/// Everything one server keeps.
#[derive(Default)]
pub(crate) struct Store {
    pub ids: IdGen,
    pub projects: Projects,
    pub traces: Traces,
    pub threads: Threads,
    pub datasets: Datasets,
    pub experiments: Experiments,
    pub prompts: Prompts,
    pub attachments: Attachments,
    pub auth: Auth,
}

/// One request, as a handler sees it.
pub(crate) struct Ctx<'a> {
    pub method: &'a str,
    /// The path as sent, with the `/api` prefix.
    pub path: &'a str,
    /// The spec's path template (`/v1/private/traces/{id}`).
    pub template: &'a str,
    pub params: &'a [(String, String)],
    /// Query pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// The JSON body with `null`s outside user data removed; `Value::Null` when there is none.
    pub body: Value,
    /// The body as it arrived (attachment uploads).
    pub raw: Bytes,
    pub headers: &'a [(String, String)],
    /// `http://HOST/api`, from the `Host` header: where URLs the fake hands out point.
    pub base: String,
}

impl Ctx<'_> {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A positive integer query parameter, or `default`.
    pub fn query_usize(&self, name: &str, default: usize) -> usize {
        self.query(name)
            .and_then(|v| v.parse().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(default)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `http://HOST`, without the `/api` base path.
    pub fn origin(&self) -> &str {
        self.base.strip_suffix("/api").unwrap_or(&self.base)
    }
}

/// What the backend answers.
#[derive(Debug)]
pub(crate) enum Body {
    None,
    Json(Value),
    /// NDJSON: one JSON value a line, as the backend's `/stream` and `/search` endpoints send.
    Stream(Vec<Value>),
    Bytes {
        content_type: String,
        data: Bytes,
    },
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// Problems of the request that only answering it finds (e.g. S3 parts that do not fit),
    /// recorded like the others.
    pub problems: Vec<String>,
}

impl Answer {
    pub fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Body::None,
            problems: Vec::new(),
        }
    }

    pub fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
            problems: Vec::new(),
        }
    }

    pub fn ok(body: Value) -> Answer {
        Answer::json(200, body)
    }

    pub fn stream(lines: Vec<Value>) -> Answer {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: Body::Stream(lines),
            problems: Vec::new(),
        }
    }

    /// `201 Created` with a `Location` of the request's path plus `/{id}` (the backend sends
    /// the absolute URL, `http://HOST/api/...`; the fake has always sent the path, and SDKs take
    /// the last segment either way).
    pub fn created(ctx: &Ctx<'_>, id: &str) -> Answer {
        let location = format!("{}/{id}", ctx.path.trim_end_matches('/'));
        Answer::empty(201).header("location", location)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Jersey's error body (`WebApplicationException` with a message):
    /// `{"code": status, "message": ...}`.
    pub fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({"code": status, "message": message.into()}))
    }

    /// Opik's own error body (`com.comet.opik.api.error.ErrorMessage`): `{"errors": [...]}`.
    pub fn errors(status: u16, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({"errors": [message.into()]}))
    }

    /// The JSON values the body holds (one, or one a line), for checking.
    pub fn lines(&self) -> (Vec<&Value>, bool) {
        match &self.body {
            Body::Json(v) => (vec![v], false),
            Body::Stream(lines) => (lines.iter().collect(), true),
            Body::None | Body::Bytes { .. } => (Vec::new(), false),
        }
    }
}

/// A page of `content` the way the backend's page objects look.
pub(crate) fn page_json(content: Vec<Value>, page: usize, total: usize) -> Value {
    json!({
        "page": page,
        "size": content.len(),
        "total": total,
        "content": content,
    })
}

/// The stateful answer to a request the server answers by default, or `None` when no module
/// owns the operation.
pub(crate) fn answer(store: &mut Store, ctx: &Ctx<'_>) -> Option<Answer> {
    use crate::{
        attachments, auth, dataset_items, datasets, experiments, projects, prompts, threads, traces,
    };
    let m = ctx.method;
    let t = ctx
        .template
        .strip_prefix("/v1/private")
        .unwrap_or(ctx.template);
    let a = match (m, t) {
        // traces and spans: writes
        ("POST", "/traces/batch") => traces::create_batch(store, ctx, traces::Kind::Trace),
        ("POST", "/spans/batch") => traces::create_batch(store, ctx, traces::Kind::Span),
        ("POST", "/traces") => traces::create_one(store, ctx, traces::Kind::Trace),
        ("POST", "/spans") => traces::create_one(store, ctx, traces::Kind::Span),
        ("PATCH", "/traces/{id}") => traces::update(store, ctx, traces::Kind::Trace),
        ("PATCH", "/spans/{id}") => traces::update(store, ctx, traces::Kind::Span),
        ("PATCH", "/traces/batch") => traces::update_batch(store, ctx, traces::Kind::Trace),
        ("PATCH", "/spans/batch") => traces::update_batch(store, ctx, traces::Kind::Span),
        ("PUT", "/traces/feedback-scores") => traces::score_batch(store, ctx, traces::Kind::Trace),
        ("PUT", "/spans/feedback-scores") => traces::score_batch(store, ctx, traces::Kind::Span),
        ("PUT", "/traces/{id}/feedback-scores") => {
            traces::score_one(store, ctx, traces::Kind::Trace)
        }
        ("PUT", "/spans/{id}/feedback-scores") => traces::score_one(store, ctx, traces::Kind::Span),
        ("POST", "/traces/{id}/feedback-scores/delete") => {
            traces::delete_score(store, ctx, traces::Kind::Trace)
        }
        ("POST", "/spans/{id}/feedback-scores/delete") => {
            traces::delete_score(store, ctx, traces::Kind::Span)
        }
        ("POST", "/traces/{id}/comments") => traces::comment(store, ctx, traces::Kind::Trace),
        ("POST", "/spans/{id}/comments") => traces::comment(store, ctx, traces::Kind::Span),
        ("POST", "/traces/delete") => traces::delete(store, ctx),
        // traces and spans: reads
        ("GET", "/traces/{id}") => traces::get(store, ctx, traces::Kind::Trace),
        ("GET", "/spans/{id}") => traces::get(store, ctx, traces::Kind::Span),
        ("POST", "/traces/search") => traces::search(store, ctx, traces::Kind::Trace),
        ("POST", "/spans/search") => traces::search(store, ctx, traces::Kind::Span),
        ("GET", "/traces") => traces::list(store, ctx, traces::Kind::Trace),
        ("GET", "/spans") => traces::list(store, ctx, traces::Kind::Span),
        // threads
        ("POST", "/traces/threads/search") => threads::search(store, ctx),
        ("GET", "/traces/threads") => threads::list(store, ctx),
        ("POST", "/traces/threads/retrieve") => threads::retrieve(store, ctx),
        ("PUT", "/traces/threads/close") => threads::close(store, ctx),
        ("PUT", "/traces/threads/open") => threads::open(store, ctx),
        ("PUT", "/traces/threads/feedback-scores") => threads::score_batch(store, ctx),
        ("POST", "/traces/threads/feedback-scores/delete") => threads::delete_scores(store, ctx),
        // projects
        ("POST", "/projects") => projects::create(store, ctx),
        ("POST", "/projects/retrieve") => projects::retrieve(store, ctx),
        ("GET", "/projects/{id}") => projects::get(store, ctx),
        ("GET", "/projects") => projects::find(store, ctx),
        // datasets
        ("POST", "/datasets") => datasets::create(store, ctx),
        ("GET", "/datasets") => datasets::find(store, ctx),
        ("GET", "/datasets/{id}") => datasets::get(store, ctx),
        ("PUT", "/datasets/{id}") => datasets::update(store, ctx),
        ("DELETE", "/datasets/{id}") => datasets::delete(store, ctx),
        ("POST", "/datasets/retrieve") => datasets::retrieve(store, ctx),
        ("POST", "/datasets/delete") => datasets::delete_by_name(store, ctx),
        ("PUT", "/datasets/items") => dataset_items::put_items(store, ctx),
        ("POST", "/datasets/items/stream") => dataset_items::stream_items(store, ctx),
        ("POST", "/datasets/items/delete") => dataset_items::delete_items(store, ctx),
        ("GET", "/datasets/{id}/items") => dataset_items::page_items(store, ctx),
        ("GET", "/datasets/items/{itemId}") => dataset_items::get_item(store, ctx),
        ("GET", "/datasets/{id}/versions") => datasets::versions(store, ctx),
        ("POST", "/datasets/{id}/versions/retrieve") => datasets::retrieve_version(store, ctx),
        ("GET", "/datasets/{id}/items/experiments/items") => experiments::compare(store, ctx),
        // experiments
        ("POST", "/experiments") => experiments::create(store, ctx),
        ("GET", "/experiments") => experiments::find(store, ctx),
        ("GET", "/experiments/{id}") => experiments::get(store, ctx),
        ("PATCH", "/experiments/{id}") => experiments::update(store, ctx),
        ("POST", "/experiments/stream") => experiments::stream(store, ctx),
        ("POST", "/experiments/delete") => experiments::delete(store, ctx),
        ("POST", "/experiments/finish") => experiments::finish(store, ctx),
        ("POST", "/experiments/items") => experiments::create_items(store, ctx),
        ("POST", "/experiments/items/stream") => experiments::stream_items(store, ctx),
        ("POST", "/experiments/items/delete") => experiments::delete_items(store, ctx),
        ("GET", "/experiments/items/{id}") => experiments::get_item(store, ctx),
        // prompts
        ("POST", "/prompts") => prompts::create(store, ctx),
        ("GET", "/prompts") => prompts::find(store, ctx),
        ("GET", "/prompts/{id}") => prompts::get(store, ctx),
        ("DELETE", "/prompts/{id}") => prompts::delete(store, ctx),
        ("POST", "/prompts/delete") => prompts::delete_batch(store, ctx),
        ("POST", "/prompts/versions") => prompts::create_version(store, ctx),
        ("POST", "/prompts/versions/retrieve") => prompts::retrieve_version(store, ctx),
        ("GET", "/prompts/{id}/versions") => prompts::versions(store, ctx),
        ("GET", "/prompts/versions/{versionId}") => prompts::get_version(store, ctx),
        ("GET", "/prompts/by-commit/{commit}") => prompts::by_commit(store, ctx),
        // attachments
        ("POST", "/attachment/upload-start") => attachments::start(store, ctx),
        ("PUT", "/attachment/upload") => attachments::upload(store, ctx),
        ("POST", "/attachment/upload-complete") => attachments::complete(store, ctx),
        ("GET", "/attachment/list") => attachments::list(store, ctx),
        ("GET", "/attachment/download") => attachments::download(store, ctx),
        ("PUT", attachments::S3_PART_PATH) => attachments::put_part(store, ctx),
        ("GET", attachments::S3_OBJECT_PATH) => attachments::get_object(store, ctx),
        // the healthcheck's
        ("POST", "/auth") => auth::check_access(store, ctx),
        ("GET", "/auth/workspace") => auth::workspace_name(store, ctx),
        _ => return None,
    };
    Some(a)
}
