//! Attachment uploads on the exporter's side: attachment records wait in their own list like
//! any record, and up to `max_concurrent_uploads` of them upload at once, as tasks on the
//! exporter's thread, while batches keep going one at a time. Each upload's outcome settles
//! its record (delivered, or dropped and counted); at the shutdown deadline the uploads still
//! running are cancelled and counted as `shutdown_deadline`.
//!
//! How one upload goes over HTTP is in `http`; how a file is cut into parts, in `plan`.

pub(super) mod http;
mod plan;

use super::exporter::State;
use super::transport::Transport;
use crate::model::{Record, RecordKind, Tally};
use crate::pipe::{DropReason, SendOutcome};
use std::collections::HashMap;
use tokio::task::{Id, JoinError, JoinSet};

/// An upload's end: its outcome, or how its task failed.
pub(super) type Finished = Result<(Id, SendOutcome), JoinError>;

/// The uploads running, and their records' tallies. The tallies stay here, not with the
/// transport: one is defused when its outcome says uploaded, and the others count their
/// attachments as not uploaded when they drop, at once (a cancelled task's future is only
/// dropped later, when the runtime gets to it).
#[derive(Default)]
pub(super) struct Uploads {
    running: JoinSet<SendOutcome>,
    tallies: HashMap<Id, Option<Tally>>,
}

impl Uploads {
    pub(super) fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// The next upload to finish; pending forever when none runs (for `select!` arms, which
    /// guard it with `is_empty`).
    pub(super) async fn next(&mut self) -> Option<Finished> {
        self.running.join_next_with_id().await
    }
}

impl State {
    /// Starts uploads of queued attachments while fewer than the limit run.
    pub(super) fn start_uploads(&mut self, transport: &mut dyn Transport) {
        let k = RecordKind::Attachment.index();
        while self.uploads.running.len() < self.settings.max_concurrent_uploads {
            let Some(record) = self.pending[k].pop_front() else {
                return;
            };
            let Record::Attachment(mut attachment) = record else {
                debug_assert!(false, "a {} record in the attachment list", record.kind());
                continue;
            };
            let tally = attachment.tally.take();
            // The future runs on the exporter's thread, inside its `LocalSet`.
            let task = self
                .uploads
                .running
                .spawn_local(transport.upload(*attachment));
            self.uploads.tallies.insert(task.id(), tally);
        }
    }

    /// Settles the upload that finished.
    pub(super) fn upload_finished(&mut self, done: Option<Finished>) {
        let Some(done) = done else {
            return;
        };
        self.settled[RecordKind::Attachment.index()] += 1;
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let tally = self.uploads.tallies.remove(&id).flatten();
        let outcome = done
            .map(|(_, o)| o)
            .unwrap_or_else(|e| SendOutcome::Rejected {
                reason: DropReason::Internal,
                status: None,
                detail: if e.is_panic() {
                    "the transport panicked while uploading".into()
                } else {
                    "the upload was cancelled".into()
                },
            });
        match outcome {
            SendOutcome::Delivered => {
                if let Some(t) = tally {
                    t.uploaded();
                }
                self.pipe.counters.add_delivered(1);
                self.pipe.counters.add_attachment_uploaded();
                self.succeeded();
            }
            SendOutcome::Rejected { reason, detail, .. }
            | SendOutcome::Retry { reason, detail, .. } => {
                self.pipe.counters.add_dropped(reason, 1);
                let message =
                    format!("opik: an attachment was not uploaded ({detail}); dropped as {reason}");
                if reason == DropReason::FileUnreadable {
                    // The app's file, not Opik, is the trouble: no outage.
                    self.note("attachment file", message);
                } else {
                    self.failed(message);
                }
            }
            SendOutcome::TooLarge => {
                self.pipe.counters.add_dropped(DropReason::TooLarge, 1);
                self.note(
                    "attachment too large",
                    "opik: an attachment was refused as too large; dropped as too_large".into(),
                );
            }
        }
    }

    /// Cancels the uploads still running (shutdown deadline); answers how many.
    pub(super) fn cancel_uploads(&mut self) -> u64 {
        let n = self.uploads.running.len() as u64;
        // Dropping the set aborts its tasks, whose futures drop their records (their tallies
        // count them as not uploaded; `finish_shutdown` counts them as `shutdown_deadline`).
        drop(std::mem::take(&mut self.uploads.running));
        self.uploads.tallies.clear();
        n
    }
}
