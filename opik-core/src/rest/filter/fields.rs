//! The fields each entity can be filtered on, their types and operators:
//! the Python SDK's `TraceOQLConfig`, `SpanOQLConfig`, `ThreadOQLConfig`,
//! `DatasetItemOQLConfig` and `PromptVersionOQLConfig`
//! (`opik/api_objects/opik_query_language.py`), which mirror the backend's
//! `TraceField` / `SpanField` / `TraceThreadField` / ... enums.
//! `tests.rs` checks these tables against `python_config.json`, dumped from
//! the Python SDK by `reference/dump_oql_config.py`.

use super::{Entity, FieldType, Operator};

use FieldType as T;
use Operator::*;

const STRING: &[Operator] = &[Eq, Ne, Contains, NotContains, StartsWith, EndsWith, Gt, Lt];
/// Backend `STRING_STATE_DB` fields have no `>` / `<` (they would be a 400).
const STRING_STATE_DB: &[Operator] = &[Eq, Ne, Contains, NotContains, StartsWith, EndsWith];
const DATE_TIME: &[Operator] = &[Eq, Ne, Gt, Ge, Lt, Le];
const NUMBER: &[Operator] = &[Eq, Ne, Gt, Ge, Lt, Le];
const FEEDBACK_SCORES: &[Operator] = &[Eq, Ne, Gt, Ge, Lt, Le, IsEmpty, IsNotEmpty];
const LIST: &[Operator] = &[Eq, Ne, Contains, NotContains, IsEmpty, IsNotEmpty];
const DICTIONARY: &[Operator] = &[
    Eq,
    Ne,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    Gt,
    Ge,
    Lt,
    Le,
];
const ENUM: &[Operator] = &[Eq, Ne, In, NotIn];
const ERROR_CONTAINER: &[Operator] = &[IsEmpty, IsNotEmpty];

/// One filterable field. `usage.*` fields are spelled with their dot: Python
/// treats them as flat fields, not as keys of a dictionary.
pub(super) struct Field {
    pub name: &'static str,
    pub field_type: FieldType,
    pub operators: &'static [Operator],
    /// Takes a `.key` (`metadata.model`, `feedback_scores."my score"`).
    pub has_keys: bool,
}

const fn f(name: &'static str, field_type: FieldType, operators: &'static [Operator]) -> Field {
    Field {
        name,
        field_type,
        operators,
        has_keys: false,
    }
}

const fn keyed(name: &'static str, field_type: FieldType, operators: &'static [Operator]) -> Field {
    Field {
        name,
        field_type,
        operators,
        has_keys: true,
    }
}

const TRACES: &[Field] = &[
    f("id", T::String, STRING),
    f("name", T::String, STRING),
    f("start_time", T::DateTime, DATE_TIME),
    f("end_time", T::DateTime, DATE_TIME),
    f("input", T::String, STRING),
    f("output", T::String, STRING),
    keyed("input_json", T::Dictionary, DICTIONARY),
    keyed("output_json", T::Dictionary, DICTIONARY),
    keyed("metadata", T::Dictionary, DICTIONARY),
    f("total_estimated_cost", T::Number, NUMBER),
    f("llm_span_count", T::Number, NUMBER),
    f("tags", T::List, LIST),
    f("usage.total_tokens", T::Number, NUMBER),
    f("usage.prompt_tokens", T::Number, NUMBER),
    f("usage.completion_tokens", T::Number, NUMBER),
    keyed("feedback_scores", T::FeedbackScoresNumber, FEEDBACK_SCORES),
    keyed(
        "span_feedback_scores",
        T::FeedbackScoresNumber,
        FEEDBACK_SCORES,
    ),
    f("duration", T::Number, NUMBER),
    f("thread_id", T::String, STRING),
    f("guardrails", T::String, STRING),
    f("error_info", T::ErrorContainer, ERROR_CONTAINER),
    f("created_at", T::DateTime, DATE_TIME),
    f("last_updated_at", T::DateTime, DATE_TIME),
    f("annotation_queue_ids", T::List, LIST),
    f("experiment_id", T::String, STRING),
    f("environment", T::Enum, ENUM),
];

const SPANS: &[Field] = &[
    f("id", T::String, STRING),
    f("name", T::String, STRING),
    f("start_time", T::DateTime, DATE_TIME),
    f("end_time", T::DateTime, DATE_TIME),
    f("input", T::String, STRING),
    f("output", T::String, STRING),
    keyed("input_json", T::Dictionary, DICTIONARY),
    keyed("output_json", T::Dictionary, DICTIONARY),
    keyed("metadata", T::Dictionary, DICTIONARY),
    f("model", T::String, STRING),
    f("provider", T::String, STRING),
    f("total_estimated_cost", T::Number, NUMBER),
    f("tags", T::List, LIST),
    f("usage.total_tokens", T::Number, NUMBER),
    f("usage.prompt_tokens", T::Number, NUMBER),
    f("usage.completion_tokens", T::Number, NUMBER),
    keyed("feedback_scores", T::FeedbackScoresNumber, FEEDBACK_SCORES),
    f("duration", T::Number, NUMBER),
    f("error_info", T::ErrorContainer, ERROR_CONTAINER),
    f("type", T::Enum, ENUM),
    f("trace_id", T::String, STRING),
    f("environment", T::Enum, ENUM),
];

const THREADS: &[Field] = &[
    f("id", T::String, STRING),
    f("first_message", T::String, STRING),
    f("last_message", T::String, STRING),
    f("number_of_messages", T::Number, NUMBER),
    f("duration", T::Number, NUMBER),
    f("created_at", T::DateTime, DATE_TIME),
    f("last_updated_at", T::DateTime, DATE_TIME),
    f("start_time", T::DateTime, DATE_TIME),
    f("end_time", T::DateTime, DATE_TIME),
    keyed("feedback_scores", T::FeedbackScoresNumber, FEEDBACK_SCORES),
    f("status", T::Enum, ENUM),
    f("tags", T::List, LIST),
    f("annotation_queue_ids", T::List, LIST),
    f("environment", T::Enum, ENUM),
];

const DATASET_ITEMS: &[Field] = &[
    f("id", T::String, STRING),
    keyed(
        "data",
        T::Map,
        &[Eq, Ne, Contains, NotContains, StartsWith, EndsWith],
    ),
    f("full_data", T::String, STRING),
    f("source", T::String, STRING),
    f("trace_id", T::String, STRING),
    f("span_id", T::String, STRING),
    f("tags", T::List, LIST),
    f("created_at", T::DateTime, DATE_TIME),
    f("last_updated_at", T::DateTime, DATE_TIME),
    f("created_by", T::String, STRING),
    f("last_updated_by", T::String, STRING),
];

const PROMPT_VERSIONS: &[Field] = &[
    f("id", T::String, STRING_STATE_DB),
    f("commit", T::String, STRING_STATE_DB),
    f("version_number", T::String, STRING_STATE_DB),
    f("template", T::String, STRING_STATE_DB),
    f("change_description", T::String, STRING_STATE_DB),
    keyed("metadata", T::Dictionary, DICTIONARY),
    f("type", T::String, &[Eq, Ne]),
    f("tags", T::List, LIST),
    f("created_at", T::DateTime, DATE_TIME),
    f("created_by", T::String, STRING_STATE_DB),
];

pub(super) fn fields(entity: Entity) -> &'static [Field] {
    match entity {
        Entity::Traces => TRACES,
        Entity::Spans => SPANS,
        Entity::Threads => THREADS,
        Entity::DatasetItems => DATASET_ITEMS,
        Entity::PromptVersions => PROMPT_VERSIONS,
    }
}

pub(super) fn field(entity: Entity, name: &str) -> Option<&'static Field> {
    fields(entity).iter().find(|f| f.name == name)
}

/// The operators Python applies to fields it does not know (`"default"`). We
/// reject unknown fields, so this only matters for the parity test.
#[cfg(test)]
pub(super) fn default_operators(entity: Entity) -> &'static [Operator] {
    match entity {
        Entity::PromptVersions => STRING_STATE_DB,
        _ => STRING,
    }
}
