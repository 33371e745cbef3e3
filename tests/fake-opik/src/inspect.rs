//! The test-facing view of the stateful backend: what it holds (traces and spans as read
//! back, threads, datasets and their items, experiments, prompts, attachments) and its
//! switches (attachment mode, the older thread-score rule).

use serde_json::Value;

use crate::attachments::{Attachment, AttachmentMode};
use crate::experiments::{self, ExperimentItem};
use crate::traces::{span_public, trace_public, Kind};
use crate::FakeOpik;

impl FakeOpik {
    /// How `upload-start` answers from now on: [`AttachmentMode::Minio`] (the default, a
    /// self-hosted backend) or [`AttachmentMode::S3Multipart`] (presigned part URLs, on this
    /// server's port).
    pub fn attachment_mode(&self, mode: AttachmentMode) {
        self.shared.lock().store.attachments.mode = mode;
    }

    /// Every attachment stored (uploaded in MinIO mode, or completed in S3 mode), in upload
    /// order; a later upload of the same (project, entity, file name) replaces the earlier.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.shared.lock().store.attachments.all()
    }

    /// With `on`, `PUT /traces/threads/feedback-scores` answers 409 for a thread that is not
    /// closed, as backends did before thread status stopped mattering for scores (OPIK-4035,
    /// January 2026). Off by default, as the backend is now.
    pub fn thread_scores_need_closed(&self, on: bool) {
        self.shared.lock().store.threads.scores_need_closed = on;
    }

    /// `"active"` or `"inactive"` for a thread of a project (by name), `None` when no trace of
    /// it (and no score) arrived.
    pub fn thread_status(&self, project: &str, thread_id: &str) -> Option<String> {
        let state = self.shared.lock();
        let project = state.store.projects.by_name(project)?;
        state
            .store
            .threads
            .model(&project.id, thread_id)
            .map(|m| m.status.to_string())
    }

    /// The feedback scores a thread holds, as the backend answers them.
    pub fn thread_scores(&self, project: &str, thread_id: &str) -> Vec<Value> {
        let state = self.shared.lock();
        let Some(project) = state.store.projects.by_name(project) else {
            return Vec::new();
        };
        state
            .store
            .threads
            .model(&project.id, thread_id)
            .map(|m| m.scores.clone())
            .unwrap_or_default()
    }

    /// The id of a project (created by a write that named it, or explicitly).
    pub fn project_id(&self, name: &str) -> Option<String> {
        self.shared
            .lock()
            .store
            .projects
            .by_name(name)
            .map(|p| p.id.clone())
    }

    /// A trace as the backend holds it now (upserts and updates applied), answered as
    /// `GET /v1/private/traces/{id}` would.
    pub fn stored_trace(&self, id: &str) -> Option<Value> {
        let state = self.shared.lock();
        let r = state.store.traces.record(Kind::Trace, id)?;
        Some(trace_public(&state.store, r))
    }

    /// A span as the backend holds it now, as `GET /v1/private/spans/{id}` would answer it.
    pub fn stored_span(&self, id: &str) -> Option<Value> {
        let state = self.shared.lock();
        let r = state.store.traces.record(Kind::Span, id)?;
        Some(span_public(&state.store, r))
    }

    /// How many traces and spans the backend holds (distinct ids).
    pub fn stored_counts(&self) -> (usize, usize) {
        let state = self.shared.lock();
        (
            state.store.traces.records(Kind::Trace).count(),
            state.store.traces.records(Kind::Span).count(),
        )
    }

    /// The names of the datasets held, oldest first.
    pub fn datasets(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .store
            .datasets
            .list
            .iter()
            .map(|d| d.name.clone())
            .collect()
    }

    /// The items of the latest version of a dataset (by name), newest id first, as the backend
    /// answers them (`id`, `data`, `source`, ...). Empty for an unknown dataset.
    pub fn dataset_items(&self, dataset: &str) -> Vec<Value> {
        let state = self.shared.lock();
        let datasets = &state.store.datasets;
        datasets
            .find(dataset, None)
            .map(|i| datasets.list[i].items_public())
            .unwrap_or_default()
    }

    /// The version hashes of a dataset, oldest (`v1`) first.
    pub fn dataset_versions(&self, dataset: &str) -> Vec<String> {
        let state = self.shared.lock();
        let datasets = &state.store.datasets;
        datasets
            .find(dataset, None)
            .map(|i| {
                datasets.list[i]
                    .versions
                    .iter()
                    .map(|v| v.hash.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The newest experiment of that name, as `GET /v1/private/experiments/{id}` answers it.
    pub fn experiment(&self, name: &str) -> Option<Value> {
        experiments::public_by_name(&self.shared.lock().store, name)
    }

    /// Every experiment item (experiment id, dataset item id, trace id), in arrival order.
    pub fn experiment_items(&self) -> Vec<ExperimentItem> {
        experiments::all_items(&self.shared.lock().store)
    }

    /// The templates of a prompt's versions, oldest first, with their commits.
    pub fn prompt_versions(&self, prompt: &str) -> Vec<(String, String)> {
        let state = self.shared.lock();
        let prompts = &state.store.prompts;
        prompts
            .by_name(prompt)
            .map(|i| {
                prompts.list[i]
                    .versions
                    .iter()
                    .map(|v| (v.commit.clone(), v.template.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
