//! The trimmed Opik spec (`schema/opik-write-schemas.json`): operation matching and schema
//! validators, compiled once per process and shared by every server.

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
}

impl WriteOp {
    pub fn is_json(&self) -> bool {
        self.content_type.as_deref() == Some("application/json") && self.schema.is_some()
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
            write.insert(
                (method, template),
                WriteOp {
                    operation_id: op["operation_id"].as_str().unwrap_or_default().to_string(),
                    content_type: op["content_type"].as_str().map(str::to_string),
                    schema: Some(op["schema"].clone()).filter(|s| !s.is_null()),
                    validator: OnceLock::new(),
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
            .get_or_init(|| {
                let schema = op.schema.as_ref().ok_or("operation has no JSON schema")?;
                let mut root = Map::new();
                root.insert(
                    "$schema".into(),
                    Value::from("https://json-schema.org/draft/2020-12/schema"),
                );
                let mut schema = schema.clone();
                close_objects(&mut schema);
                if let Value::Object(obj) = schema {
                    root.extend(obj);
                }
                root.insert("components".into(), self.components.clone());
                jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&Value::Object(root))
                    .map_err(|e| format!("cannot compile the schema of {}: {e}", op.operation_id))
            })
            .as_ref()
            .map_err(Clone::clone)
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
        }
        assert_eq!(
            Spec::header()["from"].as_str().unwrap().split(':').next(),
            Some("comet-ml/opik")
        );
    }
}
