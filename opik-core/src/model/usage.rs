//! Token usage of an LLM call, normalized the way the Python SDK does it.
//!
//! Opik computes cost from OpenAI-style counts (`prompt_tokens`, `completion_tokens`,
//! `total_tokens`), so whatever shape a provider reports is mapped onto them, and every original
//! key is kept as well, flattened under `original_usage.` (`{"a": {"b": 1}}` becomes
//! `original_usage.a.b`). Only counts survive (integers, whole floats like `12.0` and digit strings
//! like `"12"`, as integers): the spec's `usage` is a map of int32.
//!
//! The rules follow the Python SDK (`opik.llm_usage`) so that a Rust and a Python service report
//! the same numbers for the same response:
//! - a map that already has `original_usage.*` keys is sent as it is (re-logging exported data);
//! - for a known provider (`openai`, `anthropic`, `google_vertexai`, `google_ai`, `bedrock`,
//!   `mistral`) its formats are tried first;
//! - otherwise, or when they do not fit, every known format is tried in a fixed order (OpenAI
//!   chat completions, OpenAI responses, Google, Anthropic, Bedrock, Mistral);
//! - a map that fits none keeps its `prompt_tokens`/`completion_tokens` if present and derives
//!   `total_tokens` from them.
//!
//! Sums saturate: counts near `i64::MAX` (a provider's bug, or a hostile payload) make a total
//! that does not fit the spec's int32 and is left out, never an overflow panic (debug builds) or
//! a wrapped negative count (release builds).

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Token usage of one LLM call, given to `update_current_span(|s| s.usage(...))`.
///
/// Build it from counts ([`Usage::new`]) or from whatever the provider returned
/// ([`Usage::from_json`], [`Usage::from_serialize`], or `Usage::from(json_value)`): the
/// normalization runs when the span ends, with the span's `provider`.
///
/// ```
/// use opik::Usage;
/// let openai = Usage::new(12, 30); // total_tokens = 42
/// let anthropic = Usage::from(serde_json::json!({"input_tokens": 10, "output_tokens": 20}));
/// assert_eq!(anthropic.to_opik_usage(Some("anthropic"))["total_tokens"], 30);
/// assert_eq!(openai.to_opik_usage(None)["total_tokens"], 42);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    original: Value,
}

impl Usage {
    /// Usage from prompt and completion token counts; `total_tokens` is their sum.
    pub fn new(prompt_tokens: i64, completion_tokens: i64) -> Usage {
        Usage::from_counts(
            Some(prompt_tokens),
            Some(completion_tokens),
            prompt_tokens.checked_add(completion_tokens),
        )
    }

    /// Usage from OpenAI-style counts, any of which may be missing (`total_tokens` is derived
    /// from the other two when missing).
    pub fn from_counts(
        prompt_tokens: Option<i64>,
        completion_tokens: Option<i64>,
        total_tokens: Option<i64>,
    ) -> Usage {
        let mut map = Map::new();
        for (key, value) in [
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
            ("total_tokens", total_tokens),
        ] {
            if let Some(v) = value {
                map.insert(key.to_owned(), Value::from(v));
            }
        }
        Usage {
            original: Value::Object(map),
        }
    }

    /// Usage as the provider reported it (any JSON object).
    pub fn from_json(value: Value) -> Usage {
        Usage { original: value }
    }

    /// Usage from any serializable value, e.g. a provider SDK's usage struct.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Usage {
        Usage {
            original: super::to_value(value),
        }
    }

    /// The usage as it was given.
    pub fn original(&self) -> &Value {
        &self.original
    }

    /// The usage map Opik receives (`Span_Write.usage`), for a span whose provider is
    /// `provider`. Empty when the value is not a JSON object or has no integer counts.
    pub fn to_opik_usage(&self, provider: Option<&str>) -> BTreeMap<String, i64> {
        match &self.original {
            Value::Object(map) => normalize(map, provider),
            _ => BTreeMap::new(),
        }
    }
}

impl From<Value> for Usage {
    fn from(value: Value) -> Self {
        Usage::from_json(value)
    }
}

/// OpenAI-style counts derived from a provider's map.
struct Counts {
    prompt: Option<i64>,
    completion: Option<i64>,
    total: Option<i64>,
}

type Builder = fn(&Map<String, Value>) -> Option<Counts>;

fn int(map: &Map<String, Value>, key: &str) -> Option<i64> {
    map.get(key).and_then(count)
}

/// A token count as providers and users write it: a JSON integer, a float with no fraction
/// (`12.0`), or a string of digits (`"12"`), as the Python SDK's pydantic models accept. Any
/// other value is not a count.
fn count(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// A required integer field: the builder does not apply when it is missing (as pydantic's
/// validation makes the Python builder fail).
fn required(map: &Map<String, Value>, key: &str) -> Option<i64> {
    int(map, key)
}

/// An optional integer field: absent or `null` is fine, another type makes the format not fit.
fn optional(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ()> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => count(v).map(Some).ok_or(()),
    }
}

fn openai_completions(m: &Map<String, Value>) -> Option<Counts> {
    Some(Counts {
        completion: Some(required(m, "completion_tokens")?),
        prompt: Some(required(m, "prompt_tokens")?),
        total: Some(required(m, "total_tokens")?),
    })
}

fn openai_responses(m: &Map<String, Value>) -> Option<Counts> {
    Some(Counts {
        completion: Some(required(m, "output_tokens")?),
        prompt: Some(required(m, "input_tokens")?),
        total: Some(required(m, "total_tokens")?),
    })
}

fn google(m: &Map<String, Value>) -> Option<Counts> {
    let prompt_count = required(m, "prompt_token_count")?;
    let total = required(m, "total_token_count")?;
    let candidates = optional(m, "candidates_token_count").ok()?.unwrap_or(0);
    let tool_use = optional(m, "tool_use_prompt_token_count")
        .ok()?
        .unwrap_or(0);
    let thoughts = optional(m, "thoughts_token_count").ok()?;
    optional(m, "cached_content_token_count").ok()?;
    let prompt = prompt_count.saturating_add(tool_use);
    let completion = if prompt.saturating_add(candidates) == total {
        candidates
    } else {
        candidates.saturating_add(thoughts.unwrap_or(0))
    };
    Some(Counts {
        prompt: Some(prompt),
        completion: Some(completion),
        total: Some(total),
    })
}

fn anthropic(m: &Map<String, Value>) -> Option<Counts> {
    let input = required(m, "input_tokens")?;
    let output = required(m, "output_tokens")?;
    let cache_creation = optional(m, "cache_creation_input_tokens").ok()?;
    let cache_read = optional(m, "cache_read_input_tokens").ok()?;
    // With compaction, the top-level counts leave out the compaction iteration: the sum of the
    // iterations is what was billed.
    let (prompt, completion) = match m.get("iterations").and_then(Value::as_array) {
        Some(iterations) if !iterations.is_empty() => {
            let get = |it: &Value, k: &str| it.get(k).and_then(count).unwrap_or(0);
            let prompt = iterations
                .iter()
                .map(|it| {
                    get(it, "input_tokens")
                        .saturating_add(get(it, "cache_read_input_tokens"))
                        .saturating_add(get(it, "cache_creation_input_tokens"))
                })
                .fold(0i64, i64::saturating_add);
            let completion = iterations
                .iter()
                .map(|it| get(it, "output_tokens"))
                .fold(0i64, i64::saturating_add);
            (prompt, completion)
        }
        _ => (
            input
                .saturating_add(cache_read.unwrap_or(0))
                .saturating_add(cache_creation.unwrap_or(0)),
            output,
        ),
    };
    Some(Counts {
        prompt: Some(prompt),
        completion: Some(completion),
        total: Some(prompt.saturating_add(completion)),
    })
}

fn bedrock(m: &Map<String, Value>) -> Option<Counts> {
    let input = required(m, "inputTokens")?;
    let output = required(m, "outputTokens")?;
    let read = optional(m, "cacheReadInputTokens").ok()?.unwrap_or(0);
    let write = optional(m, "cacheWriteInputTokens").ok()?.unwrap_or(0);
    let prompt = input.saturating_add(read).saturating_add(write);
    Some(Counts {
        prompt: Some(prompt),
        completion: Some(output),
        total: Some(prompt.saturating_add(output)),
    })
}

/// Any map: keeps what it has in OpenAI style, derives the total.
fn unknown(m: &Map<String, Value>) -> Counts {
    let prompt = int(m, "prompt_tokens");
    let completion = int(m, "completion_tokens");
    let total = match (prompt, completion) {
        (Some(p), Some(c)) => p.checked_add(c),
        _ => None,
    };
    Counts {
        prompt,
        completion,
        total,
    }
}

/// The formats of a provider, as the Python SDK's `LLMProvider` names it.
fn builders_of(provider: &str) -> &'static [Builder] {
    match provider {
        "openai" => &[openai_completions, openai_responses],
        "google_vertexai" | "google_ai" => &[google],
        "anthropic" => &[anthropic],
        "bedrock" => &[bedrock],
        "mistral" => &[openai_completions],
        _ => &[],
    }
}

/// Every format, in the order the Python SDK tries them for an unknown provider.
const ALL_BUILDERS: &[Builder] = &[
    openai_completions,
    openai_responses,
    google,
    anthropic,
    bedrock,
    openai_completions, // mistral's format is OpenAI's
];

fn normalize(map: &Map<String, Value>, provider: Option<&str>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    if map.keys().any(|k| k.starts_with("original_usage.")) {
        // Already in Opik's form (exported data logged again): counts only, as they are.
        for (k, v) in map {
            if let Some(i) = as_int32(v) {
                out.insert(k.clone(), i);
            }
        }
        return out;
    }
    let counts = provider
        .map(builders_of)
        .unwrap_or(&[])
        .iter()
        .chain(ALL_BUILDERS)
        .find_map(|build| build(map))
        .unwrap_or_else(|| unknown(map));
    for (key, value) in [
        ("completion_tokens", counts.completion),
        ("prompt_tokens", counts.prompt),
        ("total_tokens", counts.total),
    ] {
        if let Some(v) = value.filter(|v| i32::try_from(*v).is_ok()) {
            out.insert(key.to_owned(), v);
        }
    }
    flatten_ints(map, "original_usage", 0, &mut out);
    out
}

/// How deep nested usage maps are followed (the Python SDK has no limit; a cycle cannot occur
/// in JSON, but a pathological depth should not cost a stack).
const MAX_DEPTH: usize = 16;

fn flatten_ints(
    map: &Map<String, Value>,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, i64>,
) {
    for (k, v) in map {
        let key = format!("{prefix}.{k}");
        match v {
            Value::Object(inner) if depth < MAX_DEPTH => flatten_ints(inner, &key, depth + 1, out),
            other => {
                if let Some(i) = as_int32(other) {
                    out.insert(key, i);
                }
            }
        }
    }
}

/// An integer that fits the spec's int32 (a larger one would make the server reject the batch).
fn as_int32(v: &Value) -> Option<i64> {
    count(v).filter(|i| i32::try_from(*i).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_written_as_whole_floats_or_digit_strings_are_counts() {
        assert_eq!(count(&json!(12)), Some(12));
        assert_eq!(count(&json!(12.0)), Some(12));
        assert_eq!(count(&json!(" 12 ")), Some(12));
        assert_eq!(count(&json!(12.5)), None);
        assert_eq!(count(&json!("twelve")), None);
        assert_eq!(count(&json!(true)), None);
        let openai = usage(
            json!({"prompt_tokens": "10", "completion_tokens": 5.0, "total_tokens": 15}),
            Some("openai"),
        );
        assert_eq!(openai["prompt_tokens"], 10);
        assert_eq!(openai["completion_tokens"], 5);
        assert_eq!(openai["total_tokens"], 15);
    }

    fn usage(v: Value, provider: Option<&str>) -> Value {
        serde_json::to_value(Usage::from(v).to_opik_usage(provider)).unwrap()
    }

    #[test]
    fn openai_passes_through_with_originals() {
        let u = usage(
            json!({"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}),
            Some("openai"),
        );
        assert_eq!(
            u,
            json!({
                "completion_tokens": 30, "prompt_tokens": 12, "total_tokens": 42,
                "original_usage.completion_tokens": 30, "original_usage.prompt_tokens": 12,
                "original_usage.total_tokens": 42
            })
        );
    }

    #[test]
    fn anthropic_maps_with_cache_tokens_like_python() {
        let u = usage(
            json!({"input_tokens": 10, "output_tokens": 20,
                   "cache_read_input_tokens": 5, "cache_creation_input_tokens": 0}),
            Some("anthropic"),
        );
        assert_eq!(
            u,
            json!({
                "completion_tokens": 20, "prompt_tokens": 15, "total_tokens": 35,
                "original_usage.input_tokens": 10, "original_usage.output_tokens": 20,
                "original_usage.cache_creation_input_tokens": 0,
                "original_usage.cache_read_input_tokens": 5
            })
        );
        // Without a provider the Anthropic format is still recognized.
        assert_eq!(
            usage(json!({"input_tokens": 1, "output_tokens": 2}), None)["total_tokens"],
            3
        );
    }

    #[test]
    fn unknown_map_derives_total_and_flattens_nested() {
        let u = usage(
            json!({"prompt_tokens": 3, "completion_tokens": 4, "weird": {"nested": 1}, "s": "x"}),
            Some("my-own-provider"),
        );
        assert_eq!(
            u,
            json!({
                "completion_tokens": 4, "prompt_tokens": 3, "total_tokens": 7,
                "original_usage.prompt_tokens": 3, "original_usage.completion_tokens": 4,
                "original_usage.weird.nested": 1
            })
        );
    }

    #[test]
    fn google_and_bedrock_and_exported() {
        let g = usage(
            json!({"prompt_token_count": 10, "candidates_token_count": 5,
                   "thoughts_token_count": 3, "total_token_count": 18}),
            Some("google_ai"),
        );
        assert_eq!(
            (g["prompt_tokens"].clone(), g["completion_tokens"].clone()),
            (json!(10), json!(8))
        );
        let b = usage(
            json!({"inputTokens": 4, "outputTokens": 6}),
            Some("bedrock"),
        );
        assert_eq!(b["total_tokens"], 10);
        let exported = usage(
            json!({"prompt_tokens": 1, "original_usage.x": 2, "f": 1.5}),
            Some("openai"),
        );
        assert_eq!(exported, json!({"prompt_tokens": 1, "original_usage.x": 2}));
    }

    #[test]
    fn typed_counts_and_out_of_range_values() {
        let u =
            serde_json::to_value(Usage::from_counts(Some(5), Some(6), None).to_opik_usage(None))
                .unwrap();
        assert_eq!(u["total_tokens"], 11);
        assert_eq!(u["original_usage.prompt_tokens"], 5);
        let big = usage(json!({"prompt_tokens": 1, "huge": 1_i64 << 40}), None);
        assert!(big.get("original_usage.huge").is_none(), "{big}");
        assert!(Usage::from(json!([1, 2])).to_opik_usage(None).is_empty());
    }
}
