//! Logging feedback scores by id (of a span, a trace or a thread), later than the call they
//! score: checked when given (see `model::score`), queued like every record.

use crate::context;
use crate::model::{Score, ScoreError, ScoreTarget};
use crate::pipe::Client;
use uuid::Uuid;

/// Validates every score, then queues them all: one invalid score rejects the whole call.
fn log_scores<I>(scores: I, client: Option<Client>) -> Result<(), ScoreError>
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

fn client() -> Option<Client> {
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
    client: Option<Client>,
    scores: impl IntoIterator<Item = (ScoreTarget, Score)>,
) -> Result<(), ScoreError> {
    log_scores(scores, client)
}
