//! Search filters (`{"field", "operator", "key", "value"}`): which fields each entity can be
//! filtered on and with which operators (the backend's `TraceField`/`SpanField`/
//! `TraceThreadField`/`DatasetItemField` types and `FilterQueryBuilder`'s operator table, as
//! the Python SDK's `opik_query_language.py` mirrors them), the 400s a bad filter gets, and
//! what each operator means on a value.

use serde_json::Value;

use crate::backend::Answer;
use crate::util::parse_time;

/// What can be filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Trace,
    Span,
    Thread,
    DatasetItem,
    Prompt,
}

/// The backend's `FieldType` of a filterable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    String,
    DateTime,
    Number,
    FeedbackScores,
    List,
    Dictionary,
    Map,
    Enum,
    ErrorContainer,
}

impl FieldType {
    fn backend_name(self) -> &'static str {
        match self {
            FieldType::String => "STRING",
            FieldType::DateTime => "DATE_TIME",
            FieldType::Number => "NUMBER",
            FieldType::FeedbackScores => "FEEDBACK_SCORES_NUMBER",
            FieldType::List => "LIST",
            FieldType::Dictionary => "DICTIONARY",
            FieldType::Map => "MAP",
            FieldType::Enum => "ENUM",
            FieldType::ErrorContainer => "ERROR_CONTAINER",
        }
    }

    /// The operators `FilterQueryBuilder` has SQL for, for this type.
    fn operators(self) -> &'static [&'static str] {
        const CMP: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
        match self {
            FieldType::String => &[
                "=",
                "!=",
                "contains",
                "not_contains",
                "starts_with",
                "ends_with",
                ">",
                "<",
            ],
            FieldType::DateTime | FieldType::Number => CMP,
            FieldType::FeedbackScores => {
                &["=", "!=", ">", ">=", "<", "<=", "is_empty", "is_not_empty"]
            }
            FieldType::List => &[
                "=",
                "!=",
                "contains",
                "not_contains",
                "is_empty",
                "is_not_empty",
            ],
            FieldType::Dictionary => &[
                "=",
                "!=",
                "contains",
                "not_contains",
                "starts_with",
                "ends_with",
                ">",
                ">=",
                "<",
                "<=",
            ],
            FieldType::Map => &[
                "=",
                "!=",
                "contains",
                "not_contains",
                "starts_with",
                "ends_with",
            ],
            FieldType::Enum => &["=", "!=", "in", "not_in", "is_empty", "is_not_empty"],
            FieldType::ErrorContainer => &["is_empty", "is_not_empty"],
        }
    }
}

/// Every operator of the spec's enum (anything else fails to deserialize).
const OPERATORS: &[&str] = &[
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "is_empty",
    "is_not_empty",
    "in",
    "not_in",
];

fn field_type(entity: Entity, field: &str) -> Option<FieldType> {
    use FieldType::*;
    let common = match field {
        "id" | "name" | "input" | "output" => Some(String),
        "start_time" | "end_time" => Some(DateTime),
        "input_json" | "output_json" | "metadata" => Some(Dictionary),
        "total_estimated_cost" | "duration" => Some(Number),
        "usage.total_tokens" | "usage.prompt_tokens" | "usage.completion_tokens" => Some(Number),
        "tags" => Some(List),
        "feedback_scores" => Some(FeedbackScores),
        "error_info" => Some(ErrorContainer),
        "environment" => Some(Enum),
        _ => None,
    };
    match entity {
        Entity::Trace => common.or(match field {
            "llm_span_count" => Some(Number),
            "span_feedback_scores" => Some(FeedbackScores),
            "thread_id" | "guardrails" | "experiment_id" => Some(String),
            "created_at" | "last_updated_at" => Some(DateTime),
            "annotation_queue_ids" => Some(List),
            _ => None,
        }),
        Entity::Span => common.or(match field {
            "model" | "provider" | "trace_id" => Some(String),
            "type" => Some(Enum),
            _ => None,
        }),
        Entity::Thread => match field {
            "id" | "first_message" | "last_message" => Some(String),
            "number_of_messages" | "duration" => Some(Number),
            "created_at" | "last_updated_at" | "start_time" | "end_time" => Some(DateTime),
            "feedback_scores" => Some(FeedbackScores),
            "status" | "environment" => Some(Enum),
            "tags" | "annotation_queue_ids" => Some(List),
            _ => None,
        },
        Entity::Prompt => match field {
            "id" | "name" | "description" | "created_by" | "last_updated_by" => Some(String),
            "tags" => Some(List),
            "created_at" | "last_updated_at" => Some(DateTime),
            "template_structure" => Some(Enum),
            _ => None,
        },
        Entity::DatasetItem => match field {
            "id" | "full_data" | "source" | "trace_id" | "span_id" | "created_by"
            | "last_updated_by" => Some(String),
            "data" => Some(Map),
            "tags" => Some(List),
            "created_at" | "last_updated_at" => Some(DateTime),
            _ => None,
        },
    }
}

/// One validated filter.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub field: String,
    pub operator: String,
    pub key: String,
    pub value: String,
    pub ty: FieldType,
}

/// The value of a field of one entity, as a filter sees it.
pub(crate) enum Field<'a> {
    Missing,
    Str(String),
    Num(f64),
    /// An RFC 3339 timestamp.
    Time(&'a str),
    List(Vec<String>),
    /// A JSON object looked into with the filter's `key`.
    Json(&'a Value),
    /// Feedback scores (`{"name", "value", ...}` objects).
    Scores(&'a [Value]),
}

/// Filters from a request body's `filters` array. A field or operator the backend does not
/// know fails its JSON mapping (`400 {"errors":["Unable to process JSON"]}`, from
/// `JsonInvalidFormatExceptionMapper`); an operator the field's type has no SQL for, or a value
/// that does not parse for it, gets `FiltersFactory`'s `400 {"code":400,"message":...}`.
pub(crate) fn parse(entity: Entity, filters: &Value) -> Result<Vec<Filter>, Answer> {
    parse_with(entity, filters, &|| {
        Answer::errors(400, "Unable to process JSON")
    })
}

/// Filters from a `filters` query parameter (JSON text): anything that does not parse, or
/// names an unknown field or operator, is `400 Invalid filters query parameter '...'`.
pub(crate) fn parse_query(entity: Entity, raw: Option<&str>) -> Result<Vec<Filter>, Answer> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let invalid = || Answer::error(400, format!("Invalid filters query parameter '{raw}'"));
    let value: Value = serde_json::from_str(raw).map_err(|_| invalid())?;
    if !value.is_array() {
        return Err(invalid());
    }
    parse_with(entity, &value, &invalid)
}

fn parse_with(
    entity: Entity,
    filters: &Value,
    unknown: &dyn Fn() -> Answer,
) -> Result<Vec<Filter>, Answer> {
    let Some(items) = filters.as_array() else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|f| {
            let get = |k: &str| f.get(k).and_then(Value::as_str);
            // `field`, `operator` and `value` are required properties of a filter, and the
            // field and operator must be values of the backend's enums.
            let (Some(field), Some(operator), Some(value)) =
                (get("field"), get("operator"), get("value"))
            else {
                return Err(unknown());
            };
            let Some(ty) = field_type(entity, field).filter(|_| OPERATORS.contains(&operator))
            else {
                return Err(unknown());
            };
            validate(Filter {
                field: field.to_string(),
                operator: operator.to_string(),
                key: get("key").unwrap_or("").to_string(),
                value: value.to_string(),
                ty,
            })
        })
        .collect()
}

fn validate(f: Filter) -> Result<Filter, Answer> {
    if !f.ty.operators().contains(&f.operator.as_str()) {
        return Err(Answer::error(
            400,
            format!(
                "Invalid operator '{}' for field '{}' of type '{}'",
                f.operator,
                f.field,
                f.ty.backend_name()
            ),
        ));
    }
    let no_value = matches!(f.operator.as_str(), "is_empty" | "is_not_empty");
    let ok = match f.ty {
        FieldType::String | FieldType::List if !no_value => !f.value.trim().is_empty(),
        FieldType::Enum => no_value || !f.value.trim().is_empty(),
        FieldType::DateTime => parse_time(&f.value).is_some(),
        FieldType::Number => f.value.trim().parse::<f64>().is_ok(),
        FieldType::FeedbackScores => {
            !f.key.trim().is_empty() && (no_value || f.value.trim().parse::<f64>().is_ok())
        }
        FieldType::Dictionary | FieldType::Map => !f.key.trim().is_empty(),
        _ => true,
    };
    if ok {
        Ok(f)
    } else {
        Err(Answer::error(
            400,
            format!(
                "Invalid value '{}' or key '{}' for field '{}' of type '{}'",
                f.value,
                f.key,
                f.field,
                f.ty.backend_name()
            ),
        ))
    }
}

/// Whether an entity passes every filter (they are ANDed). `get(field, key)` gives the value.
pub(crate) fn matches<'a>(filters: &[Filter], get: impl Fn(&str) -> Field<'a>) -> bool {
    filters.iter().all(|f| one(f, get(&f.field)))
}

fn cmp_str(op: &str, have: &str, want: &str) -> bool {
    let (h, w) = (have.to_lowercase(), want.to_lowercase());
    match op {
        "=" => h == w,
        "!=" => h != w,
        "contains" => h.contains(&w),
        "not_contains" => !h.contains(&w),
        "starts_with" => h.starts_with(&w),
        "ends_with" => h.ends_with(&w),
        ">" => h > w,
        "<" => h < w,
        ">=" => h >= w,
        "<=" => h <= w,
        _ => false,
    }
}

fn cmp_num(op: &str, have: f64, want: f64) -> bool {
    match op {
        "=" => have == want,
        "!=" => have != want,
        ">" => have > want,
        ">=" => have >= want,
        "<" => have < want,
        "<=" => have <= want,
        _ => false,
    }
}

/// The text a JSON value compares as: a string's content, else its JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `a.b[0].c` (optionally `$.`-prefixed) inside a JSON value.
pub(crate) fn lookup<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
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

fn one(f: &Filter, field: Field<'_>) -> bool {
    let op = f.operator.as_str();
    match (f.ty, field) {
        (FieldType::ErrorContainer | FieldType::Enum, field) if op == "is_empty" => {
            matches!(field, Field::Missing)
        }
        (FieldType::ErrorContainer | FieldType::Enum, field) if op == "is_not_empty" => {
            !matches!(field, Field::Missing)
        }
        (FieldType::Enum, Field::Str(s)) => match op {
            "=" => s == f.value,
            "!=" => s != f.value,
            "in" => f.value.split(',').any(|v| v.trim() == s),
            "not_in" => !f.value.split(',').any(|v| v.trim() == s),
            _ => false,
        },
        (FieldType::Enum, Field::Missing) => matches!(op, "!=" | "not_in"),
        (FieldType::String, Field::Str(s)) => cmp_str(op, &s, &f.value),
        (FieldType::String, Field::Missing) => cmp_str(op, "", &f.value),
        (FieldType::Number, Field::Num(n)) => f
            .value
            .trim()
            .parse()
            .is_ok_and(|want| cmp_num(op, n, want)),
        (FieldType::DateTime, Field::Time(t)) => match (parse_time(t), parse_time(&f.value)) {
            (Some(have), Some(want)) => cmp_num(op, have as f64, want as f64),
            _ => false,
        },
        (FieldType::FeedbackScores, Field::Scores(scores)) => {
            let score = scores
                .iter()
                .find(|s| s["name"].as_str() == Some(f.key.as_str()));
            match (op, score) {
                ("is_empty", s) => s.is_none(),
                ("is_not_empty", s) => s.is_some(),
                (_, Some(s)) => match (s["value"].as_f64(), f.value.trim().parse::<f64>()) {
                    (Some(have), Ok(want)) => cmp_num(op, have, want),
                    _ => false,
                },
                (_, None) => false,
            }
        }
        (FieldType::FeedbackScores, Field::Missing) => op == "is_empty",
        (FieldType::List, Field::List(items)) => {
            let w = f.value.to_lowercase();
            match op {
                "contains" => items.iter().any(|t| t.to_lowercase().contains(&w)),
                "not_contains" => !items.iter().any(|t| t.to_lowercase().contains(&w)),
                "=" => items.iter().any(|t| t.to_lowercase() == w),
                "!=" => !items.iter().any(|t| t.to_lowercase() == w),
                "is_empty" => items.is_empty(),
                "is_not_empty" => !items.is_empty(),
                _ => false,
            }
        }
        (FieldType::List, Field::Missing) => matches!(op, "not_contains" | "!=" | "is_empty"),
        (FieldType::Dictionary | FieldType::Map, Field::Json(v)) => match lookup(v, &f.key) {
            None => matches!(op, "!=" | "not_contains"),
            Some(found) => match (op, found.as_f64(), f.value.trim().parse::<f64>()) {
                (">" | ">=" | "<" | "<=", Some(have), Ok(want)) => cmp_num(op, have, want),
                ("=" | "!=", Some(have), Ok(want)) if !found.is_string() => cmp_num(op, have, want),
                _ => cmp_str(op, &text(found), &f.value),
            },
        },
        (FieldType::Dictionary | FieldType::Map, _) => matches!(op, "!=" | "not_contains"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(field: &str, op: &str, key: &str, value: &str) -> Value {
        json!({"field": field, "operator": op, "key": key, "value": value})
    }

    #[test]
    fn bad_filters_get_the_backend_400s() {
        let unknown = parse(Entity::Trace, &json!([f("nope", "=", "", "x")])).unwrap_err();
        assert_eq!(unknown.status, 400);
        let bad_op = parse(Entity::Trace, &json!([f("tags", ">", "", "x")])).unwrap_err();
        assert!(format!("{:?}", bad_op.body)
            .contains("Invalid operator '>' for field 'tags' of type 'LIST'"));
        let bad_value = parse(
            Entity::Trace,
            &json!([f("start_time", ">", "", "yesterday")]),
        )
        .unwrap_err();
        assert!(format!("{:?}", bad_value.body).contains("Invalid value 'yesterday'"));
        let q = parse_query(Entity::Trace, Some("[{\"field\":\"nope\"}]")).unwrap_err();
        assert!(format!("{:?}", q.body).contains("Invalid filters query parameter"));
    }

    #[test]
    fn operators_mean_what_the_backend_means() {
        let meta = json!({"model": "gpt-4", "n": 3, "deep": {"list": [{"k": "v"}]}});
        let tags = vec!["Prod".to_string(), "x".to_string()];
        let scores = vec![json!({"name": "acc", "value": 0.9})];
        let get = |field: &str| match field {
            "metadata" => Field::Json(&meta),
            "tags" => Field::List(tags.clone()),
            "feedback_scores" => Field::Scores(&scores),
            "name" => Field::Str("Hello World".into()),
            "start_time" => Field::Time("2024-05-01T12:00:00Z"),
            "usage.total_tokens" => Field::Num(42.0),
            _ => Field::Missing,
        };
        let cases = [
            (f("metadata", "=", "model", "gpt-4"), true),
            (f("metadata", ">", "n", "2"), true),
            (f("metadata", "=", "$.deep.list[0].k", "v"), true),
            (f("metadata", "=", "missing", "v"), false),
            (f("tags", "contains", "", "prod"), true),
            (f("tags", "contains", "", "nope"), false),
            (f("feedback_scores", ">", "acc", "0.5"), true),
            (f("feedback_scores", "is_empty", "other", ""), true),
            (f("name", "contains", "", "world"), true),
            (f("name", "=", "", "hello world"), true),
            (f("start_time", ">=", "", "2024-05-01T11:00:00+00:00"), true),
            (f("usage.total_tokens", ">", "", "41"), true),
            (f("error_info", "is_empty", "", ""), true),
        ];
        for (filter, want) in cases {
            let parsed = parse(Entity::Trace, &json!([filter])).unwrap();
            assert_eq!(matches(&parsed, get), want, "{filter}");
        }
    }
}
