//! What a metric returns: a score, or an error that says why it could not score.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One score a metric gives: Opik's feedback-score shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreResult {
    /// The feedback-score name shown in Opik; defaults to the Python SDK's name for the metric.
    pub name: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl ScoreResult {
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Self {
            name: name.into(),
            value,
            reason: None,
            metadata: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// Why a metric could not score, so that callers can tell a caller's mistake from a bad
/// judge answer (which is worth a retry) without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MetricErrorKind {
    /// An argument the metric needs was not given (e.g. `reference`, `context`).
    MissingArgument,
    /// An argument was given but cannot be scored (e.g. an empty reference).
    InvalidArgument,
    /// The metric was configured with an option it cannot use (a bad regex, bad weights...).
    InvalidOption,
    /// An LLM judge's answer is not the JSON the metric asked for.
    MalformedAnswer,
    /// The judge model could not be asked: no connection, an error status, no answer.
    JudgeUnavailable,
    /// Anything else: a custom metric's own failure, a panic in a metric, a score Opik would
    /// not take (a NaN, a value beyond ±1e9, a blank name).
    Failed,
}

/// A metric that cannot score. Its message names the offending value and the fix; `Display`
/// prefixes it with the metric's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricError {
    /// The metric's name (its `ScoreResult::name`).
    pub metric: String,
    pub kind: MetricErrorKind,
    pub message: String,
}

impl MetricError {
    pub fn new(
        metric: impl Into<String>,
        kind: MetricErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            metric: metric.into(),
            kind,
            message: message.into(),
        }
    }

    /// `argument` was `None`; `fix` says what to pass.
    pub(super) fn missing(metric: &str, argument: &str, fix: &str) -> Self {
        Self::new(
            metric,
            MetricErrorKind::MissingArgument,
            format!("`{argument}` is required but was not given; {fix}"),
        )
    }

    pub(super) fn invalid_argument(metric: &str, message: impl Into<String>) -> Self {
        Self::new(metric, MetricErrorKind::InvalidArgument, message)
    }

    pub(super) fn invalid_option(metric: &str, message: impl Into<String>) -> Self {
        Self::new(metric, MetricErrorKind::InvalidOption, message)
    }
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metric `{}`: {}", self.metric, self.message)
    }
}

impl std::error::Error for MetricError {}

/// How much of a user's text an error message quotes: enough to recognise it in a log,
/// bounded so that a long LLM answer cannot flood one.
const QUOTE_CHARS: usize = 200;

/// `text` as a quoted, escaped literal, cut to [`QUOTE_CHARS`] characters.
pub(super) fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => {
            let total = text.chars().count();
            format!(
                "{:?}… (first {QUOTE_CHARS} of {total} characters)",
                &text[..cut]
            )
        }
    }
}
