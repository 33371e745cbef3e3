//! What a metric is scored with: named arguments, as Python's `score(**kwargs)` gets them.
//!
//! For each dataset item they are the item's fields (its `data`, and `id`), then the task
//! output's fields over them (an output that is not a JSON object is the argument `output`),
//! then `scoring_key_mapping` entries: `{"reference": "expected_tip"}` passes the item's
//! `expected_tip` as the argument `reference` (a dotted path, `"expected.tip"`, reaches into
//! nested objects). The Python SDK builds them the same way
//! (`arguments_helpers.create_scoring_inputs`).

use super::metric::{MetricError, MetricErrorKind};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How many argument names an error lists.
const LISTED: usize = 20;

/// The named arguments a [`Metric`](super::Metric) scores: a JSON object.
///
/// Its accessors return a [`MetricError`] that names the argument and, when it is missing,
/// lists the arguments there are; the error's `metric` is left empty and filled in with the
/// metric's name by `evaluate`.
///
/// ```
/// use opik::evaluation::MetricArgs;
/// let args = MetricArgs::from_json(serde_json::json!({"output": "Slow down", "tempo": 92}));
/// assert_eq!(args.text("output").unwrap(), "Slow down");
/// let missing = args.text("reference").unwrap_err();
/// assert!(missing.message.contains("`reference`") && missing.message.contains("output, tempo"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricArgs {
    map: Map<String, Value>,
}

impl MetricArgs {
    /// Arguments from a JSON object.
    pub fn new(map: Map<String, Value>) -> Self {
        MetricArgs { map }
    }

    /// Arguments from a JSON value: an object's fields, anything else as `output`.
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Object(map) => MetricArgs { map },
            other => {
                let mut map = Map::new();
                map.insert("output".to_owned(), other);
                MetricArgs { map }
            }
        }
    }

    /// The arguments for one dataset item: `item` (its content, with `id`), `output` over it,
    /// then `mapping` (argument name → the key, or dotted path, it takes its value from).
    /// Mapping sources that name nothing are returned, for a warning.
    pub(crate) fn for_item(
        item: &Map<String, Value>,
        output: Option<&Value>,
        mapping: &BTreeMap<String, String>,
    ) -> (Self, Vec<String>) {
        let mut map = item.clone();
        match output {
            Some(Value::Object(fields)) => {
                for (k, v) in fields {
                    map.insert(k.clone(), v.clone());
                }
            }
            Some(other) => {
                map.insert("output".to_owned(), other.clone());
            }
            None => {}
        }
        let mut unmatched = Vec::new();
        let mapped: Vec<(String, Value)> = mapping
            .iter()
            .filter_map(|(argument, source)| match lookup(&map, source) {
                Some(v) => Some((argument.clone(), v.clone())),
                None => {
                    unmatched.push(source.clone());
                    None
                }
            })
            .collect();
        map.extend(mapped);
        (MetricArgs { map }, unmatched)
    }

    /// The argument `name`, if given.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }

    /// The argument `name`; an error naming it and listing the others when it is missing.
    pub fn require(&self, name: &str) -> Result<&Value, MetricError> {
        self.map.get(name).ok_or_else(|| self.missing(name))
    }

    /// The argument `name` as a string (missing, or not a string: an error).
    pub fn text(&self, name: &str) -> Result<&str, MetricError> {
        let value = self.require(name)?;
        value
            .as_str()
            .ok_or_else(|| wrong_type(name, value, "a string"))
    }

    /// The argument `name` as a string if it is given (and not `null`).
    pub fn opt_text(&self, name: &str) -> Result<Option<&str>, MetricError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(name, other, "a string")),
        }
    }

    /// The argument `name` as a list of strings: a string is a list of one.
    pub fn texts(&self, name: &str) -> Result<Vec<&str>, MetricError> {
        let value = self.require(name)?;
        texts_of(name, value)
    }

    /// The argument `name` as a list of strings if it is given (and not `null`).
    pub fn opt_texts(&self, name: &str) -> Result<Option<Vec<&str>>, MetricError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => texts_of(name, value).map(Some),
        }
    }

    /// All arguments as a `T` (a struct of the fields a metric needs, with serde defaults for
    /// the optional ones).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, MetricError> {
        T::deserialize(Value::Object(self.map.clone())).map_err(|e| {
            MetricError::new(
                "",
                MetricErrorKind::InvalidArgument,
                format!(
                    "the arguments do not fit the metric's argument type: {e}; the arguments are {}",
                    self.listing()
                ),
            )
        })
    }

    /// The arguments, as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The argument names, sorted (whatever order the map keeps: serde_json's
    /// `preserve_order`, which any crate in the app may turn on, keeps insertion order).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.map.keys().map(String::as_str).collect();
        names.sort_unstable();
        names.into_iter()
    }

    fn missing(&self, name: &str) -> MetricError {
        MetricError::new(
            "",
            MetricErrorKind::MissingArgument,
            format!(
                "the argument `{name}` is required but was not given; the arguments are {} \
                 (the dataset item's fields and the task output's). Return `{name}` from the \
                 task, or map a field to it with `scoring_key_mapping`",
                self.listing()
            ),
        )
    }

    fn listing(&self) -> String {
        if self.map.is_empty() {
            return "none".to_owned();
        }
        let names: Vec<&str> = self.names().take(LISTED).collect();
        let more = self.map.len().saturating_sub(LISTED);
        if more > 0 {
            format!("{} and {more} more", names.join(", "))
        } else {
            names.join(", ")
        }
    }
}

impl From<Map<String, Value>> for MetricArgs {
    fn from(map: Map<String, Value>) -> Self {
        MetricArgs::new(map)
    }
}

/// `source` in `map`: the key itself, else a dotted path into nested objects.
fn lookup<'a>(map: &'a Map<String, Value>, source: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(source) {
        return Some(v);
    }
    let mut parts = source.split('.');
    let mut current = map.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

fn texts_of<'a>(name: &str, value: &'a Value) -> Result<Vec<&'a str>, MetricError> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| wrong_type(name, value, "a string or a list of strings"))
            })
            .collect(),
        other => Err(wrong_type(name, other, "a string or a list of strings")),
    }
}

fn wrong_type(name: &str, value: &Value, expected: &str) -> MetricError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    MetricError::new(
        "",
        MetricErrorKind::InvalidArgument,
        format!("the argument `{name}` is {found}, not {expected}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn output_fields_win_and_the_mapping_renames() {
        let item = obj(json!({"id": "x", "input": "q", "expected": {"tip": "slow"}}));
        let mapping = BTreeMap::from([
            ("reference".to_owned(), "expected.tip".to_owned()),
            ("context".to_owned(), "nowhere".to_owned()),
        ]);
        let (args, unmatched) = MetricArgs::for_item(
            &item,
            Some(&json!({"input": "q2", "output": "a"})),
            &mapping,
        );
        assert_eq!(args.text("input").unwrap(), "q2");
        assert_eq!(args.text("reference").unwrap(), "slow");
        assert_eq!(unmatched, ["nowhere"]);
        let (args, _) = MetricArgs::for_item(&item, Some(&json!("plain")), &BTreeMap::new());
        assert_eq!(args.text("output").unwrap(), "plain");
    }

    #[test]
    fn errors_name_the_argument_and_what_there_is() {
        let args = MetricArgs::from_json(json!({"output": 3, "context": ["a", "b"]}));
        let e = args.text("output").unwrap_err();
        assert_eq!(e.kind, MetricErrorKind::InvalidArgument);
        assert!(e.message.contains("is a number, not a string"), "{e}");
        assert_eq!(args.texts("context").unwrap(), ["a", "b"]);
        let e = args.text("reference").unwrap_err();
        assert_eq!(e.kind, MetricErrorKind::MissingArgument);
        assert!(e.message.contains("context, output"), "{e}");
        assert_eq!(args.opt_text("nope").unwrap(), None);
    }
}
