//! Feedback scores: set on the current span or trace, or logged later by id.
//!
//! Scores are checked when they are given, not when they are sent: the server rejects a whole
//! batch (up to 1000 scores) for one blank name or out-of-range value, so a bad score is an error
//! returned to the caller (or, inside `update_current_*`, a warning) and never goes on the wire.

use crate::context;
use crate::record::{FeedbackScore, ProjectName, Record, ScoreTarget};
use std::fmt;
use uuid::Uuid;

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
    pub(crate) project_name: Option<String>,
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
    pub fn project_name(mut self, project: impl Into<String>) -> Score {
        self.project_name = Some(project.into());
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
        let project_name = match self.project_name {
            Some(p) => ProjectName::intern(&p),
            None => *default_project,
        };
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

    fn other(message: String) -> ScoreError {
        ScoreError { message }
    }
}

impl fmt::Display for ScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opik: {}", self.message)
    }
}

impl std::error::Error for ScoreError {}

/// Validates every score, then queues them all: one invalid score rejects the whole call.
fn log_scores<I>(scores: I, client: Option<crate::client::Client>) -> Result<(), ScoreError>
where
    I: IntoIterator<Item = (ScoreTarget, Score)>,
{
    let scores: Vec<(ScoreTarget, Score)> = scores.into_iter().collect();
    for (target, score) in &scores {
        score.validate()?;
        if let ScoreTarget::Thread(t) = target {
            if t.trim().is_empty() {
                return Err(ScoreError::other(format!(
                    "invalid feedback score {:?}: the thread id is blank",
                    score.name
                )));
            }
        }
    }
    // Checked even when the SDK is off, so that a mistake shows up in development.
    let Some(client) = client else {
        return Ok(());
    };
    let project = client.project_name();
    for (target, score) in scores {
        client.enqueue(score.into_record(target, &project));
    }
    Ok(())
}

fn client() -> Option<crate::client::Client> {
    if !context::recording() {
        return None;
    }
    context::current_client()
}

/// Logs feedback scores of spans by span id (`PUT /v1/private/spans/feedback-scores`), through
/// the client of the current trace, else the scoped or global client. Each score goes to the
/// client's project unless it names one with [`Score::project_name`].
///
/// Every score is validated first: a blank name or a value outside ±1e9 returns an error and
/// nothing is sent. A no-op (after validation) when the SDK is off.
pub fn log_span_feedback_scores<I>(scores: I) -> Result<(), ScoreError>
where
    I: IntoIterator<Item = (Uuid, Score)>,
{
    log_scores(
        scores.into_iter().map(|(id, s)| (ScoreTarget::Span(id), s)),
        client(),
    )
}

/// Logs feedback scores of traces by trace id (`PUT /v1/private/traces/feedback-scores`); see
/// [`log_span_feedback_scores`].
pub fn log_trace_feedback_scores<I>(scores: I) -> Result<(), ScoreError>
where
    I: IntoIterator<Item = (Uuid, Score)>,
{
    log_scores(
        scores
            .into_iter()
            .map(|(id, s)| (ScoreTarget::Trace(id), s)),
        client(),
    )
}

/// Logs feedback scores of conversation threads by thread id
/// (`PUT /v1/private/traces/threads/feedback-scores`); see [`log_span_feedback_scores`].
pub fn log_thread_feedback_scores<I, T>(scores: I) -> Result<(), ScoreError>
where
    I: IntoIterator<Item = (T, Score)>,
    T: Into<String>,
{
    log_scores(
        scores
            .into_iter()
            .map(|(id, s)| (ScoreTarget::Thread(id.into()), s)),
        client(),
    )
}

/// Like the `log_*` functions, through a given client (the explicit client API).
pub(crate) fn log_with(
    client: Option<crate::client::Client>,
    scores: impl IntoIterator<Item = (ScoreTarget, Score)>,
) -> Result<(), ScoreError> {
    log_scores(scores, client)
}

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
