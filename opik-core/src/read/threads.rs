//! Threads that end: [`Opik::close_thread`] and [`Opik::score_thread`].
//!
//! A thread (the traces of one `thread_id`) is `active` until it is closed, here or by Opik's
//! inactivity timeout; a new trace of it reopens it. Opik backends before OPIK-4035 (January
//! 2026) refuse a thread's feedback scores (409) while it is active; current ones take them
//! any time. So `score_thread` can close the thread first, and reports a refusal as
//! [`ReadError::ThreadOpen`]; scores logged through the queue
//! (`opik::log_thread_feedback_scores`) that are refused are counted as dropped for
//! `conflict`, with a warning that says to close the thread.

use super::error::ReadError;
use crate::api::Opik;
use crate::model::{wire, ProjectName, Score, ScoreError, ScoreTarget, Timestamp};
use serde_json::Value;

/// What [`Opik::score_thread`] does with a thread that may still be open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenThread {
    /// Close it first ([`Opik::close_thread`]), then log the scores: what a backend that only
    /// takes a closed thread's scores needs, and the end of the conversation anyway.
    CloseFirst,
    /// Log the scores as the thread is; an Opik that refuses them for an open thread answers
    /// [`ReadError::ThreadOpen`].
    LeaveOpen,
}

impl Opik {
    /// Closes the conversation thread `thread_id` of the client's project: Opik stops waiting
    /// for more of it (online thread scoring runs, and its scores can be logged on every
    /// backend). First every record this client produced is delivered, so that the thread's
    /// traces reach Opik before the close (a close of a thread with no trace there is a 404);
    /// a trace of it logged later reopens it. Needs an Opik server.
    pub async fn close_thread(&self, thread_id: &str) -> Result<(), ReadError> {
        const OPERATION: &str = "closing a thread";
        let (rest, project) = self.server(OPERATION)?;
        check_thread_id(thread_id)?;
        self.deliver_first(OPERATION).await?;
        rest.close_thread(&project, thread_id).await?;
        Ok(())
    }

    /// Logs feedback scores of the conversation thread `thread_id` and waits for Opik's
    /// answer (where `opik::log_thread_feedback_scores` queues them and returns at once).
    /// With [`OpenThread::CloseFirst`] the thread is closed first. A refusal because the
    /// thread is open is [`ReadError::ThreadOpen`]. Every score is validated before anything
    /// is sent. Needs an Opik server.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), opik::read::ReadError> {
    /// use opik::read::OpenThread;
    ///
    /// let rating = opik::Score::new("user-rating", 1.0).reason("thumbs up in the hub");
    /// opik::Opik::global()
    ///     .score_thread("user-1842", [rating], OpenThread::CloseFirst)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn score_thread<I>(
        &self,
        thread_id: &str,
        scores: I,
        open: OpenThread,
    ) -> Result<(), ReadError>
    where
        I: IntoIterator<Item = Score>,
    {
        const OPERATION: &str = "scoring a thread";
        let scores: Vec<Score> = scores.into_iter().collect();
        for score in &scores {
            score.validate()?;
        }
        check_thread_id(thread_id)?;
        let (rest, project) = self.server(OPERATION)?;
        if scores.is_empty() {
            return Ok(());
        }
        if open == OpenThread::CloseFirst {
            self.close_thread(thread_id).await?;
        }
        let project = ProjectName::intern(&project);
        let target = ScoreTarget::Thread(thread_id.to_owned());
        let mut items = Vec::with_capacity(scores.len());
        for score in scores {
            // The same item the exporter sends for a queued thread score.
            let record = score.into_record(target.clone(), &project);
            let mut json = Vec::new();
            if let Err(e) = wire::write_item(&mut json, &record, Timestamp::now(), None) {
                return Err(ReadError::Score(ScoreError::other(format!(
                    "a feedback score of thread {thread_id:?} could not be encoded: {e}"
                ))));
            }
            items.push(serde_json::from_slice::<Value>(&json).unwrap_or_default());
        }
        match rest.put_thread_scores(&items).await {
            Ok(()) => Ok(()),
            Err(error) if error.is_conflict() => Err(ReadError::ThreadOpen {
                thread_id: thread_id.to_owned(),
                error,
            }),
            Err(e) => Err(ReadError::Rest(e)),
        }
    }
}

fn check_thread_id(thread_id: &str) -> Result<(), ReadError> {
    if thread_id.trim().is_empty() {
        return Err(ReadError::InvalidOption {
            option: "thread_id",
            reason: "the thread id is blank; pass the thread_id its traces carry".into(),
        });
    }
    Ok(())
}
