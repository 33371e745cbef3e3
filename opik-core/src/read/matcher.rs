//! What a filter means on a record, for the local view, which answers searches itself: the
//! backend's semantics (`FilterQueryBuilder`), on the JSON of a public record (`Trace_Public`,
//! `Span_Public`, `TraceThread`). Strings compare case-insensitively, as the backend's
//! `lower(..)`/`ilike`; a dictionary's value compares as a number when both sides are numbers.

use crate::rest::{FieldType, Filter, Operator};
use serde_json::Value;

/// Whether `record` passes every filter (they are ANDed).
pub(super) fn matches(filters: &[Filter], record: &Value) -> bool {
    filters.iter().all(|f| one(f, record))
}

/// The value a filter's field names in a record.
fn field<'r>(record: &'r Value, filter: &Filter) -> Option<&'r Value> {
    let name = filter.field.as_str();
    if let Some(usage) = name.strip_prefix("usage.") {
        return record.get("usage")?.get(usage);
    }
    let key = match name {
        "input_json" => "input",
        "output_json" => "output",
        other => other,
    };
    record.get(key).filter(|v| !v.is_null())
}

fn one(f: &Filter, record: &Value) -> bool {
    use Operator as Op;
    let found = field(record, f);
    match f.field_type {
        FieldType::ErrorContainer => match f.operator {
            Op::IsEmpty => found.is_none(),
            Op::IsNotEmpty => found.is_some(),
            _ => false,
        },
        FieldType::Enum => {
            let have = found.map(text);
            let listed = || {
                f.value
                    .split(',')
                    .any(|v| Some(v.trim()) == have.as_deref())
            };
            match f.operator {
                Op::IsEmpty => have.is_none(),
                Op::IsNotEmpty => have.is_some(),
                Op::Eq => have.as_deref() == Some(f.value.as_str()),
                Op::Ne => have.as_deref() != Some(f.value.as_str()),
                Op::In => listed(),
                Op::NotIn => !listed(),
                _ => false,
            }
        }
        FieldType::String => cmp_str(f.operator, &found.map(text).unwrap_or_default(), &f.value),
        FieldType::Number => match (found.and_then(Value::as_f64), number(&f.value)) {
            (Some(have), Some(want)) => cmp_num(f.operator, have, want),
            _ => false,
        },
        FieldType::DateTime => {
            let have = found
                .and_then(Value::as_str)
                .and_then(crate::rest::parse_time);
            match (have, crate::rest::parse_time(&f.value)) {
                (Some(have), Some(want)) => cmp_ord(f.operator, have.cmp(&want)),
                _ => false,
            }
        }
        FieldType::FeedbackScoresNumber => {
            let score = found
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(f.key.as_str()));
            match (f.operator, score) {
                (Op::IsEmpty, s) => s.is_none(),
                (Op::IsNotEmpty, s) => s.is_some(),
                (op, Some(s)) => match (s.get("value").and_then(Value::as_f64), number(&f.value)) {
                    (Some(have), Some(want)) => cmp_num(op, have, want),
                    _ => false,
                },
                (_, None) => false,
            }
        }
        FieldType::List => {
            let items: Vec<String> = found
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|t| text(t).to_lowercase())
                .collect();
            let want = f.value.to_lowercase();
            match f.operator {
                Op::Contains => items.iter().any(|t| t.contains(&want)),
                Op::NotContains => !items.iter().any(|t| t.contains(&want)),
                Op::Eq => items.contains(&want),
                Op::Ne => !items.contains(&want),
                Op::IsEmpty => items.is_empty(),
                Op::IsNotEmpty => !items.is_empty(),
                _ => false,
            }
        }
        FieldType::Dictionary | FieldType::Map => match found.and_then(|v| lookup(v, &f.key)) {
            None => matches!(f.operator, Op::Ne | Op::NotContains),
            Some(v) => match (f.operator, v.as_f64(), number(&f.value)) {
                (Op::Gt | Op::Ge | Op::Lt | Op::Le, Some(have), Some(want)) => {
                    cmp_num(f.operator, have, want)
                }
                (Op::Eq | Op::Ne, Some(have), Some(want)) if !v.is_string() => {
                    cmp_num(f.operator, have, want)
                }
                (op, _, _) => cmp_str(op, &text(v), &f.value),
            },
        },
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// The text a JSON value compares as: a string's content, else its JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn cmp_str(op: Operator, have: &str, want: &str) -> bool {
    let (h, w) = (have.to_lowercase(), want.to_lowercase());
    match op {
        Operator::Contains => h.contains(&w),
        Operator::NotContains => !h.contains(&w),
        Operator::StartsWith => h.starts_with(&w),
        Operator::EndsWith => h.ends_with(&w),
        op => cmp_ord(op, h.cmp(&w)),
    }
}

fn cmp_num(op: Operator, have: f64, want: f64) -> bool {
    match have.partial_cmp(&want) {
        Some(order) => cmp_ord(op, order),
        None => op == Operator::Ne,
    }
}

fn cmp_ord(op: Operator, order: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Operator::Eq => order == Equal,
        Operator::Ne => order != Equal,
        Operator::Gt => order == Greater,
        Operator::Ge => order != Less,
        Operator::Lt => order == Less,
        Operator::Le => order != Greater,
        _ => false,
    }
}

/// `a.b[0].c` (optionally `$.`-prefixed) inside a JSON value, as the backend reads a
/// dictionary filter's key.
fn lookup<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let key = key.strip_prefix("$.").unwrap_or(key);
    let mut cur = v;
    for part in key.split('.') {
        let (name, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..].trim_end_matches(']').parse::<usize>().ok(),
            ),
            None => (part, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::{parse_filter, FilterEntity};
    use serde_json::json;

    fn passes(filter: &str, record: &Value) -> bool {
        let filters = parse_filter(FilterEntity::Traces, filter).unwrap();
        matches(&filters, record)
    }

    #[test]
    fn each_kind_of_field_means_what_the_backend_means() {
        let trace = json!({
            "id": "01890a5d-ac96-774b-bcce-b302099a8057",
            "name": "Practice-Session",
            "start_time": "2026-11-27T13:56:06.374632Z",
            "tags": ["live-coach", "tts"],
            "usage": {"total_tokens": 120},
            "metadata": {"model": "gpt-4o", "n": 3, "deep": {"list": [{"x": "y"}]}},
            "feedback_scores": [{"name": "user-rating", "value": 1.0, "source": "sdk"}],
            "input": {"q": "Hello there"},
            "environment": "prod",
            "duration": 250.5,
        });
        for (filter, expected) in [
            ("tags contains \"COACH\"", true),
            ("tags = \"tts\"", true),
            ("tags contains \"planner\"", false),
            ("usage.total_tokens > 100", true),
            ("usage.total_tokens <= 100", false),
            ("usage.prompt_tokens > 1", false),
            ("metadata.model = \"GPT-4o\"", true),
            ("metadata.n >= 3", true),
            ("metadata.\"deep.list[0].x\" = \"y\"", true),
            ("metadata.missing != \"x\"", true),
            ("feedback_scores.\"user-rating\" > 0.5", true),
            ("feedback_scores.other is_empty", true),
            ("feedback_scores.\"user-rating\" is_empty", false),
            ("name starts_with \"practice\"", true),
            ("input contains \"hello\"", true),
            ("start_time > \"2026-11-27T00:00:00Z\"", true),
            ("start_time < \"2026-11-27T00:00:00Z\"", false),
            ("environment in (\"dev\", \"prod\")", true),
            ("environment = \"dev\"", false),
            ("error_info is_empty", true),
            ("duration > 250 and tags contains \"tts\"", true),
            ("duration > 250 and tags contains \"x\"", false),
        ] {
            assert_eq!(passes(filter, &trace), expected, "{filter}");
        }
    }
}
