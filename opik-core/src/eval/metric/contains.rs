//! `Contains`: 1.0 when the reference occurs in the output, else 0.0.

use super::score::{quote, MetricError, ScoreResult};
use super::text::fold_case;

/// 1.0 when `reference` is a substring of `output` (case-insensitively by default), else 0.0.
///
/// As in Python, a default reference can be set at construction; a reference passed to
/// `score` takes precedence over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contains {
    name: String,
    case_sensitive: bool,
    default_reference: Option<String>,
}

impl Default for Contains {
    fn default() -> Self {
        Self::new()
    }
}

impl Contains {
    pub const DEFAULT_NAME: &'static str = "contains_metric";

    pub fn new() -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_owned(),
            case_sensitive: false,
            default_reference: None,
        }
    }

    /// Compare case-sensitively (Python's default is `False`).
    pub fn case_sensitive(mut self, case_sensitive: bool) -> Self {
        self.case_sensitive = case_sensitive;
        self
    }

    /// The reference used when `score` is given none.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.default_reference = Some(reference.into());
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
        let reference = reference
            .or(self.default_reference.as_deref())
            .ok_or_else(|| {
                MetricError::missing(
                    &self.name,
                    "reference",
                    "pass the text to look for as `reference`, or set a default with `Contains::reference`",
                )
            })?;
        // Every string contains "", so an empty reference would score 1.0 for anything:
        // Python refuses it, and so do we.
        if reference.is_empty() {
            return Err(MetricError::invalid_argument(
                &self.name,
                format!(
                    "`reference` is {}, and every output contains the empty string; pass a non-empty reference",
                    quote(reference)
                ),
            ));
        }
        let found = fold_case(output, self.case_sensitive)
            .contains(fold_case(reference, self.case_sensitive).as_ref());
        Ok(ScoreResult::new(&self.name, if found { 1.0 } else { 0.0 }))
    }
}
