//! Opik's filter language (OQL), as the Python SDK's `search_traces`,
//! `search_spans`, `search_threads` (and dataset-item / prompt-version
//! searches) parse it client-side (`opik/api_objects/opik_query_language.py`,
//! opik 2.2.122):
//!
//! ```text
//! filter     := condition ( "and" condition )*          -- "and" in any case
//! condition  := field operator [ value ]
//! field      := name | name "." key                     -- key: [\w]+ or '...' / "..."
//! operator   := = != > >= < <= contains not_contains starts_with ends_with
//!               is_empty is_not_empty in not_in         -- per field type
//! value      := "..." | -?digits(.digits)? | ( "..." , "..." )   -- lists for in / not_in
//! ```
//!
//! Quotes inside a quoted string are doubled (`"say ""hi"""`). `is_empty` and
//! `is_not_empty` take no value. [`parse`] returns the filters the Python SDK
//! sends; each serializes to the spec's filter object, `{"field", "operator",
//! "key", "value"}` (Python also sends its `type`, which the spec does not have
//! and the backend ignores).
//!
//! Where we differ from Python, on purpose (each is a filter Python accepts
//! but the backend rejects or misreads, so failing early is kinder):
//! - an unknown field is an error with the closest known name; Python sends it
//!   as a `string` field and the backend answers 400;
//! - a missing field name (`= "x"`) or key (`metadata. = 1`) is an error;
//!   Python sends `""`;
//! - an `in (...)` element containing a comma is an error: Python joins the
//!   elements with commas, so the backend would read it as two values;
//! - `!=` may touch its value (`name!="x"`), as `=`, `<`, `>` already may in
//!   Python, where `!=` alone needs a space after it;
//! - numbers are ASCII digits only; Python's `isdigit` also takes `²` or `٣`.

mod fields;
mod parser;

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// What a filter string filters; each has its own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Entity {
    Traces,
    Spans,
    Threads,
    // Kept with their Python tables (and checked against them by the tests) for the dataset
    // item and prompt version searches, which no SDK call makes yet.
    #[cfg_attr(not(test), allow(dead_code))]
    DatasetItems,
    #[cfg_attr(not(test), allow(dead_code))]
    PromptVersions,
}

impl Entity {
    fn plural(self) -> &'static str {
        match self {
            Entity::Traces => "traces",
            Entity::Spans => "spans",
            Entity::Threads => "threads",
            Entity::DatasetItems => "dataset items",
            Entity::PromptVersions => "prompt versions",
        }
    }

    /// The field names this entity can be filtered on, in Python's order.
    pub(crate) fn field_names(self) -> impl Iterator<Item = &'static str> {
        fields::fields(self).iter().map(|f| f.name)
    }
}

/// A filter's operator, as the spec spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Operator {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "contains")]
    Contains,
    #[serde(rename = "not_contains")]
    NotContains,
    #[serde(rename = "starts_with")]
    StartsWith,
    #[serde(rename = "ends_with")]
    EndsWith,
    #[serde(rename = "is_empty")]
    IsEmpty,
    #[serde(rename = "is_not_empty")]
    IsNotEmpty,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "not_in")]
    NotIn,
}

impl Operator {
    pub(crate) const ALL: [Operator; 14] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Gt,
        Operator::Ge,
        Operator::Lt,
        Operator::Le,
        Operator::Contains,
        Operator::NotContains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::IsEmpty,
        Operator::IsNotEmpty,
        Operator::In,
        Operator::NotIn,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
            Operator::IsEmpty => "is_empty",
            Operator::IsNotEmpty => "is_not_empty",
            Operator::In => "in",
            Operator::NotIn => "not_in",
        }
    }

    fn from_token(token: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.as_str() == token)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The field's type as the Python SDK names it; sent along as `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FieldType {
    String,
    DateTime,
    Number,
    FeedbackScoresNumber,
    List,
    Dictionary,
    ErrorContainer,
    Enum,
    Map,
}

/// One condition, as the spec's `TraceFilter` / `SpanFilter` /
/// `TraceThreadFilter`. It serializes to the spec's four fields, in the order
/// of Python's request body; the type Python sends along is kept here for the
/// local view's matching (`read::local`) and left out of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Filter {
    pub(crate) field: String,
    pub(crate) operator: Operator,
    /// The dictionary key (`metadata.<key>`, `feedback_scores.<name>`), "" if none.
    pub(crate) key: String,
    /// Always a string: numbers as written, `in` lists joined with `,`, "" for
    /// `is_empty` / `is_not_empty`.
    pub(crate) value: String,
    #[serde(rename = "type", skip_serializing)]
    pub(crate) field_type: FieldType,
}

/// Parses `filter` for `entity`. An empty string means no filter (Python
/// returns `None`, and the SDK then sends no `filters`).
pub(crate) fn parse(entity: Entity, filter: &str) -> Result<Vec<Filter>, FilterError> {
    parser::Parser::new(entity, filter).parse()
}

/// Why a filter string does not parse, and where. Its `Display` names the
/// column and the offending token, says what was expected (with the closest
/// field or operator when it looks like a typo), and repeats the filter with a
/// caret under the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub(crate) kind: FilterErrorKind,
    /// Byte range of the offending token in `input` (empty at the end of input).
    pub(crate) span: Range<usize>,
    pub(crate) input: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterErrorKind {
    ExpectedField,
    UnknownField {
        entity: Entity,
        suggestion: Option<&'static str>,
    },
    FieldHasNoKeys {
        field: &'static str,
        keyed: Vec<&'static str>,
    },
    ExpectedKey {
        field: String,
    },
    UnknownUsageField {
        suggestion: Option<&'static str>,
        usage_fields: Vec<&'static str>,
    },
    UnclosedQuote {
        what: &'static str,
    },
    ExpectedOperator {
        field: String,
        allowed: &'static [Operator],
    },
    UnknownOperator {
        field: String,
        allowed: &'static [Operator],
        suggestion: Option<Operator>,
        glued: bool,
    },
    OperatorNotAllowed {
        operator: Operator,
        field: String,
        allowed: &'static [Operator],
    },
    ExpectedValue {
        operator: Operator,
        single_quoted: bool,
    },
    InvalidNumber {
        reason: &'static str,
    },
    ExpectedList {
        operator: Operator,
    },
    ExpectedListItem,
    ExpectedCommaOrParen,
    EmptyList,
    UnclosedList,
    CommaInListItem,
    OrNotSupported,
    ExpectedAnd,
}

impl FilterError {
    /// The filter string.
    pub fn filter(&self) -> &str {
        &self.input
    }

    /// The offending text, or "" at the end of the input.
    pub fn token(&self) -> &str {
        self.input.get(self.span.clone()).unwrap_or("")
    }

    /// 0-based character position of the offending token.
    pub fn column(&self) -> usize {
        self.input
            .get(..self.span.start)
            .map_or(0, |s| s.chars().count())
    }

    fn message(&self) -> String {
        use FilterErrorKind as K;
        let ops = |allowed: &[Operator]| {
            allowed
                .iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let names = |names: &[&str]| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let token = self.token();
        match &self.kind {
            K::ExpectedField => "expected a field name".to_owned(),
            K::UnknownField { entity, suggestion } => {
                let known: Vec<&str> = entity.field_names().collect();
                let m = format!("unknown field `{token}` for {}", entity.plural());
                sentence(m, *suggestion, &format!("Fields: {}", names(&known)))
            }
            K::FieldHasNoKeys { field, keyed } => format!(
                "field `{field}` has no keys, so `{field}.{token}` is not a field; only {} take a `.key`",
                names(keyed)
            ),
            K::ExpectedKey { field } => {
                format!(
                    "expected a key after `{field}.` (a name, or a quoted key like `{field}.\"my key\"`)"
                )
            }
            K::UnknownUsageField {
                suggestion,
                usage_fields,
            } => {
                let m = format!("unknown usage field `usage.{token}`");
                if usage_fields.is_empty() {
                    format!("{m} (this entity has no usage fields)")
                } else {
                    sentence(
                        m,
                        *suggestion,
                        &format!("Usage fields: {}", names(usage_fields)),
                    )
                }
            }
            K::UnclosedQuote { what } => {
                format!(
                    "missing closing quote for the {what} `{token}` (write a quote inside it twice: `\"\"`)"
                )
            }
            K::ExpectedOperator { field, allowed } => {
                format!(
                    "expected an operator after `{field}`, one of {}",
                    ops(allowed)
                )
            }
            K::UnknownOperator {
                field,
                allowed,
                suggestion,
                glued,
            } => {
                let m = format!("unknown operator `{token}` for `{field}`");
                let all = format!("Operators for `{field}`: {}", ops(allowed));
                match (suggestion, glued) {
                    (Some(s), true) => format!("{m}; put a space between `{s}` and its value"),
                    (s, _) => sentence(m, s.map(Operator::as_str), &all),
                }
            }
            K::OperatorNotAllowed {
                operator,
                field,
                allowed,
            } => {
                format!(
                    "operator `{operator}` is not supported for `{field}`; use one of {}",
                    ops(allowed)
                )
            }
            K::ExpectedValue {
                operator,
                single_quoted,
            } => {
                let mut m = format!(
                    "expected a value after `{operator}`: a string in double quotes (\"...\") or a number"
                );
                if *single_quoted {
                    m.push_str("; values take double quotes, single quotes are only for keys");
                }
                m
            }
            K::InvalidNumber { reason } => format!("invalid number `{token}`: {reason}"),
            K::ExpectedList { operator } => {
                format!("expected a list after `{operator}`, like (\"a\", \"b\")")
            }
            K::ExpectedListItem => {
                "expected a list element in double quotes, like \"a\"".to_owned()
            }
            K::ExpectedCommaOrParen => "expected `,` or `)` after a list element".to_owned(),
            K::EmptyList => "the list is empty; give at least one element, like (\"a\")".to_owned(),
            K::UnclosedList => "missing `)` to close the list".to_owned(),
            K::CommaInListItem => format!(
                "list element `{token}` contains a comma; the list is sent comma-separated, so it would \
                 be read as two elements"
            ),
            K::OrNotSupported => {
                "`or` is not supported; conditions can only be combined with `and`".to_owned()
            }
            K::ExpectedAnd => "expected `and` between conditions".to_owned(),
        }
    }
}

/// `message; did you mean `x`? rest` or `message. rest`.
fn sentence(message: String, suggestion: Option<&str>, rest: &str) -> String {
    match suggestion {
        Some(s) => format!("{message}; did you mean `{s}`? {rest}"),
        None => format!("{message}. {rest}"),
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let found = if self.span.start >= self.input.len() {
            "end of filter".to_owned()
        } else {
            format!("`{}`", self.token())
        };
        writeln!(
            f,
            "invalid filter at column {} ({found}): {}",
            self.column() + 1,
            self.message()
        )?;
        // The input and a caret line under the token; control characters
        // become spaces so the caret stays aligned.
        let shown: String = self
            .input
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let width = self.token().chars().count().max(1);
        write!(
            f,
            "  {shown}\n  {}{}",
            " ".repeat(self.column()),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for FilterError {}
