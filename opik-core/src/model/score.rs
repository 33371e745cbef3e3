//! Feedback scores: a name, a value, and optionally why, a category and a project; checked
//! when they are given, not when they are sent.
//!
//! The server rejects a whole batch (up to 1000 scores) for one blank name or out-of-range
//! value, so a bad score is an error returned to the caller (or, inside `update_current_*`, a
//! warning) and never goes on the wire.

use super::{FeedbackScore, ProjectName, Record, ScoreTarget};
use std::fmt;

/// The range of values Opik accepts (`FeedbackScoreBatchItem.value`).
pub const MAX_SCORE_MAGNITUDE: f64 = 1e9;

/// A feedback score: a name, a value, and optionally why and a category.
///
/// ```
/// let score = opik::Score::new("helpfulness", 0.8).reason("answered the question");
/// # let _ = score;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub(crate) name: String,
    pub(crate) value: f64,
    pub(crate) reason: Option<String>,
    pub(crate) category_name: Option<String>,
    pub(crate) project_name: Option<ProjectName>,
}

impl Score {
    /// A score `value` named `name`.
    pub fn new(name: impl Into<String>, value: f64) -> Score {
        Score {
            name: name.into(),
            value,
            reason: None,
            category_name: None,
            project_name: None,
        }
    }

    /// Why the score was given.
    pub fn reason(mut self, reason: impl Into<String>) -> Score {
        self.reason = Some(reason.into());
        self
    }

    /// The category, for categorical scores.
    pub fn category_name(mut self, category: impl Into<String>) -> Score {
        self.category_name = Some(category.into());
        self
    }

    /// The project of the scored span, trace or thread, when it is not the client's project
    /// (only used by the `log_*_feedback_scores` functions).
    ///
    /// A blank name is reported by [`validate`](Score::validate) when the score is logged.
    pub fn project_name(mut self, project: impl AsRef<str>) -> Score {
        self.project_name = Some(ProjectName::intern(project.as_ref()));
        self
    }

    /// The score's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The score's value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Checks what the server would reject.
    pub fn validate(&self) -> Result<(), ScoreError> {
        if self.name.trim().is_empty() {
            return Err(ScoreError::new(self, "the name is blank"));
        }
        if !self.value.is_finite() || self.value.abs() > MAX_SCORE_MAGNITUDE {
            return Err(ScoreError::new(
                self,
                format!(
                    "the value must be a finite number within ±1e9, got {}",
                    self.value
                ),
            ));
        }
        if let Some(p) = &self.project_name {
            if p.trim().is_empty() {
                return Err(ScoreError::new(self, "the project name is blank"));
            }
        }
        Ok(())
    }

    pub(crate) fn into_record(self, target: ScoreTarget, default_project: &ProjectName) -> Record {
        let project_name = self.project_name.unwrap_or(*default_project);
        Record::Feedback(Box::new(FeedbackScore {
            target,
            project_name,
            name: self.name,
            value: self.value,
            reason: self.reason,
            category_name: self.category_name,
        }))
    }
}

impl From<(&str, f64)> for Score {
    fn from((name, value): (&str, f64)) -> Self {
        Score::new(name, value)
    }
}

/// A feedback score the server would reject; nothing of the call that returned it was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreError {
    message: String,
}

impl ScoreError {
    fn new(score: &Score, why: impl fmt::Display) -> ScoreError {
        ScoreError {
            message: format!(
                "invalid feedback score {:?} (value {}): {why}",
                score.name, score.value
            ),
        }
    }

    pub(crate) fn other(message: String) -> ScoreError {
        ScoreError { message }
    }
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opik: {}", self.message)
    }
}

impl std::error::Error for ScoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_offending_score() {
        assert!(Score::new("ok", 1e9).validate().is_ok());
        let e = Score::new("  ", 1.0).validate().unwrap_err();
        assert!(e.to_string().contains("blank"), "{e}");
        let e = Score::new("big", 2e9).validate().unwrap_err();
        assert!(
            e.to_string().contains("\"big\"") && e.to_string().contains("2000000000"),
            "{e}"
        );
        assert!(Score::new("nan", f64::NAN).validate().is_err());
        assert!(Score::new("p", 1.0).project_name(" ").validate().is_err());
    }
}
