//! Updates after the fact ([`Opik::update_trace`], [`Opik::update_span`]) and what keeps
//! them behind their record's create.
//!
//! The race: the exporter sends a trace's create in a batch, up to `flush_interval` later (or
//! much later, while Opik is down and the batch is retried); a `PATCH` sent at once could
//! reach Opik first. Opik would store the patch as a partial record, and the create arriving
//! after it is an upsert decided by `last_updated_at`: the create wins and the update is
//! lost, or it loses and the trace keeps only the patched fields.
//!
//! The mechanism: **wait for delivery**. An update first flushes the client (every record it
//! produced before the call is delivered or dropped, within `retry_deadline`), and is sent
//! only when that completed; otherwise it fails with [`ReadError::NotDelivered`] and nothing
//! is sent. Then it reads the record (the stored input and metadata the update merges into,
//! a span's trace and parent, which Opik's `PATCH` checks), and patches it. Feedback scores
//! and attachments in the update are queued like any others, after the patch.
//!
//! (The other way, an upsert with a newer `last_updated_at`, needs the whole record: a
//! record this client has not sent yet it has, but one it has sent it would have to read
//! back first, which is the same wait.)

use super::error::ReadError;
use crate::api::Opik;
use crate::model::{
    AttachmentRecord, Entity, Patch, ProjectName, Record, ScoreTarget, SpanUpdate, Stored,
    TraceUpdate,
};
use serde_json::Value;
use uuid::Uuid;

impl Opik {
    /// Waits until every record this client produced so far is delivered or dropped (at
    /// most the configured `retry_deadline`); an error when they are not.
    pub(super) async fn deliver_first(&self, operation: &'static str) -> Result<(), ReadError> {
        let (Some(client), _) = self.parts() else {
            return Err(ReadError::NoServer { operation });
        };
        let waited = client
            .server()
            .map_or(std::time::Duration::from_secs(30), |c| c.retry_deadline());
        let report = client.flush_async(waited).await;
        if report.completed {
            return Ok(());
        }
        Err(ReadError::NotDelivered {
            operation,
            waited,
            pending: report.stats.pending(),
        })
    }

    /// Changes a trace Opik holds, after the fact: `update` sets what changes, with the same
    /// meaning as on a running trace (`input` and `metadata` deep-merge into what is stored,
    /// `output` replaces it, tags are added, feedback scores and attachments are logged).
    ///
    /// Safe against the batching race: it is sent only once every record this client produced
    /// before the call was delivered (or dropped), so it never reaches Opik before the trace's
    /// own create; if they are still on their way after `retry_deadline` (Opik down), it fails
    /// with [`ReadError::NotDelivered`] and sends nothing. A trace Opik does not have is an
    /// error (404). Needs an Opik server.
    ///
    /// ```no_run
    /// # async fn run(trace_id: uuid::Uuid) -> Result<(), opik::read::ReadError> {
    /// opik::Opik::global()
    ///     .update_trace(trace_id, |t| {
    ///         t.metadata_entry("reviewed", &true).tag("reviewed");
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn update_trace(
        &self,
        id: Uuid,
        update: impl FnOnce(&mut TraceUpdate),
    ) -> Result<(), ReadError> {
        const OPERATION: &str = "updating a trace";
        let (rest, project) = self.server(OPERATION)?;
        let mut changes = TraceUpdate::default();
        update(&mut changes);
        self.deliver_first(OPERATION).await?;
        let stored = rest.get_trace(id).await?;
        let mut patch = changes.into_patch(Stored {
            input: stored.input.as_ref(),
            metadata: stored.metadata.as_ref(),
            provider: None,
        });
        if !patch.body.is_empty() {
            place(&mut patch, stored.project_id, &project);
            rest.patch_trace(id, &patch.body).await?;
        }
        self.queue_rest(patch, ScoreTarget::Trace(id), Entity::Trace(id), &project);
        Ok(())
    }

    /// Changes a span Opik holds, after the fact; see [`update_trace`](Self::update_trace)
    /// (model, provider, usage and cost too).
    pub async fn update_span(
        &self,
        id: Uuid,
        update: impl FnOnce(&mut SpanUpdate),
    ) -> Result<(), ReadError> {
        const OPERATION: &str = "updating a span";
        let (rest, project) = self.server(OPERATION)?;
        let mut changes = SpanUpdate::default();
        update(&mut changes);
        self.deliver_first(OPERATION).await?;
        let stored = rest.get_span(id).await?;
        let mut patch = changes.into_patch(Stored {
            input: stored.input.as_ref(),
            metadata: stored.metadata.as_ref(),
            provider: stored.provider.as_deref(),
        });
        if !patch.body.is_empty() {
            // Opik's span PATCH names the trace, and refuses (409) a parent other than the
            // stored one.
            patch
                .body
                .insert("trace_id".into(), stored.trace_id.to_string().into());
            if let Some(parent) = stored.parent_span_id {
                patch
                    .body
                    .insert("parent_span_id".into(), parent.to_string().into());
            }
            place(&mut patch, stored.project_id, &project);
            rest.patch_span(id, &patch.body).await?;
        }
        self.queue_rest(patch, ScoreTarget::Span(id), Entity::Span(id), &project);
        Ok(())
    }

    /// Queues an update's feedback scores and attachments, as any others are sent.
    fn queue_rest(&self, patch: Patch, target: ScoreTarget, entity: Entity, project: &str) {
        let (Some(client), _) = self.parts() else {
            return;
        };
        let project = ProjectName::intern(project);
        for score in patch.scores {
            match score.validate() {
                Ok(()) => client.enqueue(score.into_record(target.clone(), &project)),
                Err(e) => tracing::warn!(target: "opik", "{e}; it is not sent"),
            }
        }
        for attachment in patch.attachments {
            client.enqueue(Record::Attachment(Box::new(AttachmentRecord {
                entity,
                project_name: project,
                attachment,
                charge: None,
                tally: None,
            })));
        }
    }
}

/// The record's project, as the `PATCH` names it (by id when Opik said which, so that a
/// record of another project is not patched into the client's).
fn place(patch: &mut Patch, project_id: Option<Uuid>, project: &str) {
    let (key, value) = match project_id {
        Some(id) => ("project_id", Value::from(id.to_string())),
        None => ("project_name", Value::from(project)),
    };
    patch.body.insert(key.into(), value);
}
