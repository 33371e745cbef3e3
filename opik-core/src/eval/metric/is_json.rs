//! `IsJson`: 1.0 when the output is one valid JSON value, else 0.0.

use serde::de::IgnoredAny;

use super::score::{MetricError, ScoreResult};

/// 1.0 when `output` is standard JSON (RFC 8259), else 0.0.
///
/// This checks syntax only, which is what Python's `json.loads` (with `NaN`/`Infinity`
/// refused, as Opik does) decides: any scalar counts, not only objects; whitespace may
/// surround the value; a number too large for a float (`1e400`) and a lone surrogate escape
/// (`"\ud800"`) are still valid JSON. Deserializing into `IgnoredAny` gives exactly that:
/// serde_json checks the grammar without building numbers or strings.
///
/// One difference: Python gives 0.0 for valid JSON nested about 1000 deep (its recursion
/// limit, not a JSON rule); this scanner has no depth limit and gives 1.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsJson {
    name: String,
}

impl Default for IsJson {
    fn default() -> Self {
        Self::new()
    }
}

impl IsJson {
    pub const DEFAULT_NAME: &'static str = "is_json_metric";

    pub fn new() -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_owned(),
        }
    }

    /// The name of the scores this metric gives.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn metric_name(&self) -> &str {
        &self.name
    }

    /// Scores `output`; `reference` is ignored, as in Python.
    pub fn score(
        &self,
        output: &str,
        _reference: Option<&str>,
    ) -> Result<ScoreResult, MetricError> {
        let valid = serde_json::from_str::<IgnoredAny>(output).is_ok();
        Ok(ScoreResult::new(&self.name, if valid { 1.0 } else { 0.0 }))
    }
}
