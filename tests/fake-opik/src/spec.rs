//! The trimmed Opik spec (`schema/opik-write-schemas.json`): operation matching and the schema
//! validators of request bodies, query and path parameters and success responses, compiled
//! once per process (on first use) and shared by every server.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value};

const SPEC_JSON: &str = include_str!("../schema/opik-write-schemas.json");

pub(crate) static SPEC: LazyLock<Spec> = LazyLock::new(|| Spec::parse(SPEC_JSON));

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// An operation of the full spec (method and path template), and the schema of its request
/// body when the trimmed file keeps one.
pub(crate) struct Operation {
    pub method: String,
    pub template: String,
    pub segments: Vec<Segment>,
    /// The success status the fake answers with by default (the spec's lowest 2xx).
    pub status: u16,
    pub write: Option<WriteOp>,
}

pub(crate) struct WriteOp {
    pub operation_id: String,
    /// `None` when the operation takes no body, else the request media type.
    pub content_type: Option<String>,
    schema: Option<Value>,
    validator: OnceLock<Result<Validator, String>>,
    /// The query and path parameters the spec declares.
    pub parameters: Vec<Param>,
    /// The body of the success status, when it has one.
    pub response: Option<ResponseSpec>,
}

impl WriteOp {
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref() == Some("application/json") && self.schema.is_some()
    }
}

/// A query or path parameter of an operation.
pub(crate) struct Param {
    pub name: String,
    /// `"query"` or `"path"`.
    pub location: String,
    pub required: bool,
    pub schema: Value,
    validator: OnceLock<Result<Validator, String>>,
}

impl Param {
    /// The JSON type the schema wants (`"integer"`, `"boolean"`, `"string"`, ...).
    pub fn json_type(&self) -> &str {
        self.schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
    }

    pub fn validator(&self) -> Result<&Validator, String> {
        self.validator
            .get_or_init(|| SPEC.compile(&self.schema, &format!("parameter {}", self.name)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The body an operation answers with on success.
pub(crate) struct ResponseSpec {
    pub status: u16,
    /// NDJSON stream: the schema is that of one line.
    pub stream: bool,
    schema: Option<Value>,
    validator: OnceLock<Result<Validator, String>>,
}

impl ResponseSpec {
    /// The compiled validator of the body (or of one line of a stream), if the spec gives a
    /// JSON schema for it.
    pub fn validator(&self) -> Option<Result<&Validator, String>> {
        let schema = self.schema.as_ref()?;
        Some(
            self.validator
                .get_or_init(|| SPEC.compile(schema, "response"))
                .as_ref()
                .map_err(Clone::clone),
        )
    }
}

pub(crate) struct Spec {
    pub operations: Vec<Operation>,
    components: Value,
}

/// Our stricter rule: an object schema that lists `properties` and says nothing of
/// `additionalProperties` gets `additionalProperties: false`, so a misspelt or unknown field
/// (which the backend would silently drop) is a problem. In the trimmed schemas no object with
/// `properties` sits under `allOf`/`anyOf`/`oneOf`, so this changes nothing else.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object)
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (k, child) in map.iter_mut() {
                if k == "properties" {
                    // property names are not schemas, their values are
                    if let Value::Object(props) = child {
                        props.values_mut().for_each(close_objects);
                    }
                } else {
                    close_objects(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// What the request path and method resolve to.
pub(crate) enum Match<'a> {
    /// `/api` was not the first segment.
    OutsideBase,
    /// No template of the spec matches the path.
    UnknownPath,
    /// Templates match the path, but none for this method; holds the templates' methods.
    WrongMethod {
        template: &'a str,
        allowed: Vec<&'a str>,
    },
    Found {
        op: &'a Operation,
        params: Vec<(&'a str, String)>,
    },
}

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if s.len() > 2 && s.starts_with('{') && s.ends_with('}') {
                Segment::Param(s[1..s.len() - 1].to_string())
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

impl Spec {
    fn parse(text: &str) -> Spec {
        let doc: Value =
            serde_json::from_str(text).expect("schema/opik-write-schemas.json is JSON");
        let mut write: HashMap<(String, String), WriteOp> = HashMap::new();
        for op in doc["operations"].as_array().expect("operations") {
            let method = op["method"].as_str().expect("method").to_string();
            let template = op["path"].as_str().expect("path").to_string();
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Param {
                    name: p["name"].as_str().unwrap_or_default().to_string(),
                    location: p["in"].as_str().unwrap_or_default().to_string(),
                    required: p["required"].as_bool().unwrap_or(false),
                    schema: p["schema"].clone(),
                    validator: OnceLock::new(),
                })
                .collect();
            let response = Some(&op["response"])
                .filter(|r| r.is_object())
                .map(|r| ResponseSpec {
                    status: r["status"].as_u64().unwrap_or(200) as u16,
                    stream: r["stream"].as_bool().unwrap_or(false),
                    schema: Some(r["schema"].clone()).filter(|s| !s.is_null()),
                    validator: OnceLock::new(),
                });
            write.insert(
                (method, template),
                WriteOp {
                    operation_id: op["operation_id"].as_str().unwrap_or_default().to_string(),
                    content_type: op["content_type"].as_str().map(str::to_string),
                    schema: Some(op["schema"].clone()).filter(|s| !s.is_null()),
                    validator: OnceLock::new(),
                    parameters,
                    response,
                },
            );
        }
        let mut operations = Vec::new();
        for known in doc["known_operations"]
            .as_array()
            .expect("known_operations")
        {
            let method = known[0].as_str().expect("method").to_string();
            let template = known[1].as_str().expect("template").to_string();
            let status = known[2].as_u64().expect("status") as u16;
            operations.push(Operation {
                segments: segments(&template),
                write: write.remove(&(method.clone(), template.clone())),
                method,
                template,
                status,
            });
        }
        assert!(
            write.is_empty(),
            "write operations missing from known_operations"
        );
        let mut components = doc["components"].clone();
        close_objects(&mut components);
        Spec {
            operations,
            components,
        }
    }

    /// Resolves a request path (with the `/api` prefix) and method to the spec's operation.
    /// Literal segments beat templated ones: `/traces/batch` is not `/traces/{id}`.
    pub fn resolve<'a>(&'a self, method: &str, path: &str) -> Match<'a> {
        let Some(rel) = path.strip_prefix("/api/") else {
            return Match::OutsideBase;
        };
        let parts: Vec<&str> = rel.split('/').collect();
        let mut candidates: Vec<&Operation> = self
            .operations
            .iter()
            .filter(|op| {
                op.segments.len() == parts.len()
                    && op.segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param(_) => !p.is_empty(),
                    })
            })
            .collect();
        if candidates.is_empty() {
            return Match::UnknownPath;
        }
        // Lexicographic on "is this segment templated": the first literal wins.
        candidates.sort_by_key(|op| {
            op.segments
                .iter()
                .map(|s| matches!(s, Segment::Param(_)))
                .collect::<Vec<_>>()
        });
        match candidates.iter().find(|op| op.method == method) {
            Some(op) => {
                let params = op
                    .segments
                    .iter()
                    .zip(&parts)
                    .filter_map(|(s, p)| match s {
                        Segment::Param(name) => Some((name.as_str(), p.to_string())),
                        Segment::Literal(_) => None,
                    })
                    .collect();
                Match::Found { op, params }
            }
            None => {
                let template = candidates[0].template.as_str();
                let mut allowed: Vec<&str> = candidates
                    .iter()
                    .filter(|op| op.template == template)
                    .map(|op| op.method.as_str())
                    .collect();
                allowed.dedup();
                Match::WrongMethod { template, allowed }
            }
        }
    }

    /// The compiled validator of a write operation's request body (compiled on first use).
    pub fn validator<'a>(&self, op: &'a WriteOp) -> Result<&'a Validator, String> {
        op.validator
            .get_or_init(|| match op.schema.as_ref() {
                Some(schema) => self.compile(schema, &op.operation_id),
                None => Err("operation has no JSON schema".to_string()),
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A JSON Schema 2020-12 validator for `schema`, resolving `#/components/...` against the
    /// kept components; objects are closed (see `close_objects`).
    pub fn compile(&self, schema: &Value, what: &str) -> Result<Validator, String> {
        let mut root = Map::new();
        root.insert(
            "$schema".into(),
            Value::from("https://json-schema.org/draft/2020-12/schema"),
        );
        let mut schema = schema.clone();
        close_objects(&mut schema);
        match schema {
            Value::Object(obj) => root.extend(obj),
            Value::Bool(true) => {}
            other => return Err(format!("{what}: not a schema object: {other}")),
        }
        root.insert("components".into(), self.components.clone());
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| format!("cannot compile the schema of {what}: {e}"))
    }

    /// The `_generated` header of the schema file (where it came from).
    pub fn header() -> Value {
        let doc: Value = serde_json::from_str(SPEC_JSON).expect("JSON");
        doc["_generated"].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: &str, path: &str) -> (String, String) {
        match SPEC.resolve(method, path) {
            Match::Found { op, .. } => (op.method.clone(), op.template.clone()),
            _ => panic!("{method} {path} did not resolve"),
        }
    }

    #[test]
    fn literal_segments_beat_templates() {
        assert_eq!(
            found("POST", "/api/v1/private/traces/batch").1,
            "/v1/private/traces/batch"
        );
        assert_eq!(
            found("PATCH", "/api/v1/private/traces/batch").1,
            "/v1/private/traces/batch"
        );
        assert_eq!(
            found("PATCH", "/api/v1/private/traces/abc").1,
            "/v1/private/traces/{id}"
        );
        assert_eq!(
            found("PUT", "/api/v1/private/traces/threads/feedback-scores").1,
            "/v1/private/traces/threads/feedback-scores"
        );
        assert_eq!(found("GET", "/api/is-alive/ping").1, "/is-alive/ping");
    }

    #[test]
    fn unknown_and_wrong_method() {
        assert!(matches!(
            SPEC.resolve("POST", "/api/v1/private/nope"),
            Match::UnknownPath
        ));
        assert!(matches!(
            SPEC.resolve("POST", "/v1/private/traces"),
            Match::OutsideBase
        ));
        assert!(matches!(
            SPEC.resolve("PUT", "/api/v1/private/traces/batch"),
            Match::WrongMethod { .. }
        ));
    }

    #[test]
    fn every_write_schema_compiles() {
        for op in SPEC.operations.iter().filter_map(|o| o.write.as_ref()) {
            if op.is_json() {
                SPEC.validator(op).unwrap();
            }
            for p in &op.parameters {
                p.validator().unwrap();
            }
            if let Some(Err(e)) = op.response.as_ref().and_then(ResponseSpec::validator) {
                panic!("{}: {e}", op.operation_id);
            }
        }
        assert_eq!(
            Spec::header()["from"].as_str().unwrap().split(':').next(),
            Some("comet-ml/opik")
        );
    }
}
