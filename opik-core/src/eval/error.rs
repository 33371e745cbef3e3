//! [`EvaluationError`]: why a dataset or experiment operation, or an evaluation as a whole,
//! failed. (What fails on one item, its task or a metric, is recorded on the item instead.)

use crate::rest::RestError;
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;

/// Why a dataset operation or an evaluation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum EvaluationError {
    /// The operation needs an Opik server and the client has none: the SDK is off, or sends
    /// to the local view or a test capture. Datasets then come from JSON lines files
    /// (`Dataset::from_jsonl`).
    NoServer {
        /// What was asked.
        operation: &'static str,
    },
    /// A REST call failed; the error names the call, the status and the server's message.
    Rest(RestError),
    /// A value cannot be a dataset item.
    InvalidItem {
        /// Its position in what was inserted (0-based; the line, 1-based, of a JSON lines
        /// file is in the message).
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl EvaluationError {
    pub(crate) fn invalid_item(index: usize, message: impl Into<String>) -> Self {
        EvaluationError::InvalidItem {
            index,
            message: message.into(),
        }
    }

    /// The same error about the item at `index`.
    pub(crate) fn at(self, index: usize) -> Self {
        match self {
            EvaluationError::InvalidItem { message, .. } => {
                EvaluationError::InvalidItem { index, message }
            }
            other => other,
        }
    }

    /// Whether the server said the dataset or experiment does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, EvaluationError::Rest(e) if e.is_not_found())
    }
}

impl fmt::Display for EvaluationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvaluationError::NoServer { operation } => write!(
                f,
                "opik: {operation} needs an Opik server, and this client sends to none (the SDK \
                 is off, or prints to the local view). Configure one with OPIK_URL_OVERRIDE or \
                 OPIK_API_KEY, or use a local dataset: Dataset::from_jsonl"
            ),
            EvaluationError::Rest(e) => fmt::Display::fmt(e, f),
            EvaluationError::InvalidItem { index, message } => {
                write!(f, "opik: dataset item {index} is invalid: {message}")
            }
            EvaluationError::Io { path, source } => {
                write!(f, "opik: could not read {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for EvaluationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EvaluationError::Rest(e) => Some(e),
            EvaluationError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<RestError> for EvaluationError {
    fn from(e: RestError) -> Self {
        EvaluationError::Rest(e)
    }
}

/// "a number", "an array"...: what a JSON value is, for messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
