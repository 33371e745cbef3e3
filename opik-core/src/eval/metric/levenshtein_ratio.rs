//! `LevenshteinRatio`: how similar the output is to the reference, from 0.0 to 1.0.

use super::score::{MetricError, ScoreResult};
use super::text::fold_case;

/// Similarity of `output` and `reference` in [0.0, 1.0], 1.0 for identical strings.
///
/// Despite the name this is, as in Opik's Python metric, RapidFuzz's normalized *Indel*
/// similarity (insertions and deletions only, as `python-Levenshtein`'s `ratio`):
/// `1 - indel_distance / (len(a) + len(b))`, with lengths in
/// Unicode code points, and 1.0 for two empty strings. Computed by the `rapidfuzz` crate,
/// the same library's Rust port, so values are identical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevenshteinRatio {
    name: String,
    case_sensitive: bool,
}

impl Default for LevenshteinRatio {
    fn default() -> Self {
        Self::new()
    }
}

impl LevenshteinRatio {
    pub const DEFAULT_NAME: &'static str = "levenshtein_ratio_metric";

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
                "pass the text to compare with as `reference`",
            )
        })?;
        let output = fold_case(output, self.case_sensitive);
        let reference = fold_case(reference, self.case_sensitive);
        let value =
            rapidfuzz::distance::indel::normalized_similarity(output.chars(), reference.chars());
        Ok(ScoreResult::new(&self.name, value))
    }
}
