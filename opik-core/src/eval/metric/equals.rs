//! `Equals`: 1.0 when the output is exactly the reference, else 0.0.

use super::score::{MetricError, ScoreResult};
use super::text::fold_case;

/// 1.0 when `output` equals `reference` (case-insensitively by default, as in Python), else 0.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equals {
    name: String,
    case_sensitive: bool,
}

impl Default for Equals {
    fn default() -> Self {
        Self::new()
    }
}

impl Equals {
    pub const DEFAULT_NAME: &'static str = "equals_metric";

    pub fn new() -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_owned(),
            case_sensitive: false,
        }
    }

    /// Compare case-sensitively (Python's default is `False`: both sides are lowercased).
    pub fn case_sensitive(mut self, case_sensitive: bool) -> Self {
        self.case_sensitive = case_sensitive;
        self
    }

    /// The name of the scores this metric gives.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn metric_name(&self) -> &str {
        &self.name
    }

    pub fn score(&self, output: &str, reference: Option<&str>) -> Result<ScoreResult, MetricError> {
        let reference = reference.ok_or_else(|| {
            MetricError::missing(
                &self.name,
                "reference",
                "pass the expected output as `reference`",
            )
        })?;
        let equal =
            fold_case(output, self.case_sensitive) == fold_case(reference, self.case_sensitive);
        Ok(ScoreResult::new(&self.name, if equal { 1.0 } else { 0.0 }))
    }
}
