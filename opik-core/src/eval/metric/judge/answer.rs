//! The strict reading of a judge's answer that all LLM-judge metrics share.
//!
//! Opik's Python parsers dig the first `{...}` out of any prose and coerce what they find
//! (`float("0.7")`). These accept one JSON object, bare or in a ```json fence, with exactly
//! the fields asked for, each of the type and range asked for; anything else is a
//! `MalformedAnswer` error quoting the answer, which a caller can log or retry on, rather
//! than a score built from a guess.

use serde_json::{json, Map, Value};

use super::super::score::{quote, MetricError, MetricErrorKind};

/// A judge's answer, checked to be one JSON object with exactly the expected fields.
pub(super) struct Answer<'a> {
    metric: &'a str,
    raw: &'a str,
    /// The JSON shape the prompt asked for, repeated in errors.
    shape: &'a str,
    object: Map<String, Value>,
}

impl<'a> Answer<'a> {
    pub(super) fn parse(
        metric: &'a str,
        raw: &'a str,
        shape: &'a str,
        fields: &[&str],
    ) -> Result<Self, MetricError> {
        let mut answer = Answer {
            metric,
            raw,
            shape,
            object: Map::new(),
        };
        let body = strip_fence(raw).map_err(|problem| answer.malformed(&problem))?;
        let object = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                return Err(answer.malformed(&format!(
                    "is JSON but a {}, not an object",
                    json_type(&other)
                )))
            }
            Err(err) => return Err(answer.malformed(&format!("is not valid JSON ({err})"))),
        };
        if let Some(missing) = fields.iter().find(|field| !object.contains_key(**field)) {
            return Err(answer.malformed(&format!("has no `{missing}` field")));
        }
        let extra: Vec<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|key| !fields.contains(key))
            .collect();
        if !extra.is_empty() {
            return Err(
                answer.malformed(&format!("has unexpected field(s) `{}`", extra.join("`, `")))
            );
        }
        answer.object = object;
        Ok(answer)
    }

    /// A JSON number within `min..=max`.
    pub(super) fn number(&self, field: &str, min: f64, max: f64) -> Result<f64, MetricError> {
        let value = match &self.object[field] {
            Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
            other => return Err(self.wrong_type(field, "a number", other)),
        };
        if !(min..=max).contains(&value) {
            return Err(self.malformed(&format!(
                "gives `{field}` = {value}, outside [{min}, {max}]"
            )));
        }
        Ok(value)
    }

    /// A JSON number with no fractional part (`7` or `7.0`, as JSON Schema's `integer`)
    /// within `min..=max`.
    pub(super) fn integer(&self, field: &str, min: i64, max: i64) -> Result<i64, MetricError> {
        let value = match &self.object[field] {
            Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
            other => return Err(self.wrong_type(field, "an integer", other)),
        };
        if value.fract() != 0.0 {
            return Err(self.malformed(&format!(
                "gives `{field}` = {value}, which is not an integer"
            )));
        }
        if !(min as f64..=max as f64).contains(&value) {
            return Err(self.malformed(&format!(
                "gives `{field}` = {value}, outside [{min}, {max}]"
            )));
        }
        Ok(value as i64)
    }

    pub(super) fn text(&self, field: &str) -> Result<String, MetricError> {
        match &self.object[field] {
            Value::String(text) => Ok(text.clone()),
            other => Err(self.wrong_type(field, "a string", other)),
        }
    }

    pub(super) fn text_list(&self, field: &str) -> Result<Vec<String>, MetricError> {
        let items = match &self.object[field] {
            Value::Array(items) => items,
            other => return Err(self.wrong_type(field, "an array of strings", other)),
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(self.wrong_type(field, "an array of strings", other)),
            })
            .collect()
    }

    fn wrong_type(&self, field: &str, expected: &str, found: &Value) -> MetricError {
        self.malformed(&format!(
            "gives `{field}` as {} {}, not {expected}",
            article(json_type(found)),
            json_type(found)
        ))
    }

    fn malformed(&self, problem: &str) -> MetricError {
        MetricError::new(
            self.metric,
            MetricErrorKind::MalformedAnswer,
            format!(
                "the judge's answer {problem}. Expected one JSON object {} (bare or in a ```json fence); \
                 request it with the metric's `response_format()` or a model that follows JSON \
                 instructions. The answer was {}",
                self.shape,
                quote(self.raw)
            ),
        )
    }
}

/// The JSON inside an optional Markdown code fence (```` ``` ```` or ```` ```json ````).
fn strip_fence(answer: &str) -> Result<&str, String> {
    let trimmed = answer.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return Ok(trimmed);
    };
    let (info, body) = rest
        .split_once('\n')
        .ok_or_else(|| "opens a ``` fence with nothing inside".to_owned())?;
    let info = info.trim();
    if !(info.is_empty() || info.eq_ignore_ascii_case("json")) {
        return Err(format!("is fenced as {}, not as JSON", quote(info)));
    }
    body.trim_end()
        .strip_suffix("```")
        .ok_or_else(|| "opens a ``` fence and never closes it".to_owned())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'o']) {
        "an"
    } else {
        "a"
    }
}

/// An OpenAI `response_format` asking for exactly `properties`, all required and nothing
/// else. Ranges are stated in descriptions rather than `minimum`/`maximum`, which some
/// structured-output implementations refuse; the parser enforces them.
pub(super) fn response_format(name: &str, properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "strict": true,
            "schema": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false,
            },
        },
    })
}
