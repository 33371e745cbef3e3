//! `RegexMatch`: 1.0 when the output matches a regular expression anywhere, else 0.0.

use regex::Regex;

use super::score::{quote, MetricError, ScoreResult};

/// 1.0 when the pattern matches somewhere in `output` (Python's `re.search`), else 0.0.
///
/// Patterns are Rust `regex` syntax, which agrees with Python's `re` on the common subset
/// (classes, `\d`/`\w`/`\s`/`\b` — Unicode-aware in both — anchors, `(?i)`, `(?m)`, `(?s)`,
/// repetition, alternation) but differs in two ways worth knowing:
/// - no look-around and no backreferences: such a pattern is rejected by [`RegexMatch::new`]
///   (matching stays linear-time, so no output can make an evaluation hang);
/// - `$` without `(?m)` matches only at the very end, where Python's also matches before a
///   final `\n`: use `\n?$` for Python's meaning.
#[derive(Debug, Clone)]
pub struct RegexMatch {
    name: String,
    regex: Regex,
}

impl RegexMatch {
    pub const DEFAULT_NAME: &'static str = "regex_match_metric";

    /// Compiles `pattern`; a pattern that does not compile is a [`MetricError`] naming it.
    pub fn new(pattern: &str) -> Result<Self, MetricError> {
        let regex = Regex::new(pattern).map_err(|err| {
            MetricError::invalid_option(
                Self::DEFAULT_NAME,
                format!(
                    "the pattern {} is not a valid regex: {err}. Fix the pattern; note that look-around \
                     (`(?=`, `(?!`, `(?<=`, `(?<!`) and backreferences (`\\1`) are not supported",
                    quote(pattern)
                ),
            )
        })?;
        Ok(Self::from_regex(regex))
    }

    /// Uses an already compiled regex (Python accepts a compiled `re.Pattern` likewise).
    pub fn from_regex(regex: Regex) -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_owned(),
            regex,
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

    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    /// Scores `output`; `reference` is ignored, as in Python.
    pub fn score(
        &self,
        output: &str,
        _reference: Option<&str>,
    ) -> Result<ScoreResult, MetricError> {
        let value = if self.regex.is_match(output) {
            1.0
        } else {
            0.0
        };
        Ok(ScoreResult::new(&self.name, value))
    }
}
