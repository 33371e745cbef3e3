//! The explicit client: traces and spans made and ended by hand, for code that cannot be
//! annotated with `#[track]` (callbacks, sessions that last minutes, data imports).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = opik::init()?;
//! let opik = opik::Opik::global();
//! let session = opik.trace("practice-session");
//! session.update(|t| {
//!     t.thread_id("session-42").input(&serde_json::json!({"piece": "Clair de lune"}));
//! });
//! let feedback = session.span("feedback");
//! feedback.update(|s| { s.output(&"slow down in bar 12"); });
//! feedback.end();
//! session.log_feedback_score("engagement", 0.8)?;
//! session.end();
//! # Ok(()) }
//! ```
//!
//! Handles are cheap to clone and can be used from any thread or task: spans may be added to an
//! open trace from several tasks for as long as it is open. Every trace and span is sent once,
//! complete, when it ends (never a create followed by a patch that could overtake it). A handle
//! whose last clone is dropped without `end()` ends then. With the SDK off every handle is inert.

use super::feedback;
use super::handles::{Explicit, TraceHandle};
use crate::context;
use crate::model::{new_id, ProjectName, Score, ScoreError, ScoreTarget, Timestamp};
use crate::pipe::Client;
use crate::span::{ActiveSpan, ActiveTrace, Progress, SpanRole, StartInfo};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// The explicit client. Cheap to clone.
#[derive(Clone, Default)]
pub struct Opik {
    client: Option<Client>,
    project_name: Option<ProjectName>,
}

impl fmt::Debug for Opik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opik")
            .field("enabled", &self.client.is_some())
            .field("project_name", &self.project_name)
            .finish()
    }
}

impl Opik {
    /// Traces made through `client`.
    pub fn new(client: Client) -> Opik {
        Opik {
            client: Some(client),
            project_name: None,
        }
    }

    /// Traces made through the client of the caller (the one a `Client::scope` installed around
    /// it, else the one `opik::init()` installed); an inert client when the SDK is off.
    pub fn global() -> Opik {
        Opik {
            client: context::current_client(),
            project_name: None,
        }
    }

    /// A client that records nothing.
    pub fn disabled() -> Opik {
        Opik::default()
    }

    /// The same client, making traces in `project` instead of the configured project.
    pub fn with_project(mut self, project: impl Into<String>) -> Opik {
        let project = project.into();
        if project.trim().is_empty() {
            tracing::warn!(target: "opik", "opik: a blank project name is ignored");
        } else {
            self.project_name = Some(ProjectName::intern(&project));
        }
        self
    }

    /// The client traces go through (`None` when the SDK is off) and the project they go to,
    /// for the layers above (evaluation).
    #[cfg_attr(not(feature = "evaluation"), allow(dead_code))]
    pub(crate) fn parts(&self) -> (Option<&Client>, Option<ProjectName>) {
        let project = self
            .project_name
            .or_else(|| self.client.as_ref().map(Client::project_name));
        (self.client.as_ref(), project)
    }

    /// Whether traces made here are recorded.
    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }

    /// Starts a trace named `name` now. Nothing is sent until it ends.
    pub fn trace(&self, name: impl Into<Cow<'static, str>>) -> TraceHandle {
        let Some(client) = &self.client else {
            return TraceHandle::inert();
        };
        let start = Timestamp::now();
        let project = self.project_name.unwrap_or_else(|| client.project_name());
        let trace = Arc::new(ActiveTrace::new(
            new_id(start),
            project,
            client.clone(),
            name.into(),
        ));
        // Where tracked calls made in the trace's context nest (as top-level spans), and what
        // the long-span watch looks at for the trace.
        let mut stand_in = ActiveSpan::with_role(
            trace.id,
            Arc::clone(&trace),
            trace.name.clone(),
            SpanRole::TraceOnly,
        );
        stand_in.progress = Progress::new(StartInfo {
            is_root: true,
            ..StartInfo::at(start)
        });
        TraceHandle::holding(Explicit::new(Arc::new(stand_in)))
    }

    /// Logs feedback scores of spans by id; see `opik::log_span_feedback_scores`.
    pub fn log_span_feedback_scores<I>(&self, scores: I) -> Result<(), ScoreError>
    where
        I: IntoIterator<Item = (Uuid, Score)>,
    {
        self.log(scores.into_iter().map(|(id, s)| (ScoreTarget::Span(id), s)))
    }

    /// Logs feedback scores of traces by id; see `opik::log_trace_feedback_scores`.
    pub fn log_trace_feedback_scores<I>(&self, scores: I) -> Result<(), ScoreError>
    where
        I: IntoIterator<Item = (Uuid, Score)>,
    {
        self.log(
            scores
                .into_iter()
                .map(|(id, s)| (ScoreTarget::Trace(id), s)),
        )
    }

    /// Logs feedback scores of threads by thread id; see `opik::log_thread_feedback_scores`.
    pub fn log_thread_feedback_scores<I, T>(&self, scores: I) -> Result<(), ScoreError>
    where
        I: IntoIterator<Item = (T, Score)>,
        T: Into<String>,
    {
        self.log(
            scores
                .into_iter()
                .map(|(t, s)| (ScoreTarget::Thread(t.into()), s)),
        )
    }

    fn log(
        &self,
        scores: impl IntoIterator<Item = (ScoreTarget, Score)>,
    ) -> Result<(), ScoreError> {
        let project = self.project_name;
        let scores = scores.into_iter().map(|(t, mut s)| {
            if s.project_name.is_none() {
                s.project_name = project;
            }
            (t, s)
        });
        feedback::log_with(self.client.clone(), scores)
    }
}
