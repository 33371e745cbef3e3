//! Linking each finished item's trace to the experiment, without racing the trace's delivery.
//!
//! Traces travel through the exporter's queue, experiment items through the REST client: an
//! experiment item sent at once could reach Opik before its trace does (the UI would show a
//! row with no trace for a while, and a trace the exporter then drops would leave it dangling).
//! So the linker, a task of its own, collects the links of finished items and, every
//! [`LINK_BATCH`] links or [`LINK_EVERY`] (and at the end), first flushes the exporter (which
//! delivers every record queued before the flush, so the traces of those items), then posts
//! the links. When the flush does not complete within the timeout the links are still posted,
//! with a warning in the result.
//!
//! It owns its state, so it finishes its work even when the evaluation's future is dropped:
//! the channel closing without an end message is a cancellation, and the links collected so
//! far are posted and the experiment finished all the same.

use crate::model::{new_id, Timestamp};
use crate::pipe::Client;
use crate::rest::{ExperimentItemWrite, RestClient, MAX_EXPERIMENT_ITEMS};
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Links posted at once (at most; fewer at the end and on the timer).
pub(crate) const LINK_BATCH: usize = 200;
/// Longest a link waits for its batch.
pub(crate) const LINK_EVERY: Duration = Duration::from_secs(2);

pub(crate) enum Message {
    Link {
        dataset_item_id: Uuid,
        trace_id: Uuid,
    },
    End {
        cancelled: bool,
    },
}

/// What the linker did.
#[derive(Debug, Default)]
pub(crate) struct LinkReport {
    pub(crate) linked: usize,
    pub(crate) warnings: Vec<String>,
}

pub(crate) struct Linker {
    pub(crate) rest: RestClient,
    pub(crate) client: Option<Client>,
    pub(crate) experiment_id: Uuid,
    pub(crate) project_name: Option<String>,
    pub(crate) flush_timeout: Duration,
}

impl Linker {
    /// Starts the linker; send it links, then `End`, and await the handle for its report.
    pub(crate) fn spawn(
        self,
    ) -> (
        mpsc::UnboundedSender<Message>,
        tokio::task::JoinHandle<LinkReport>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, tokio::spawn(self.run(rx)))
    }

    async fn run(self, mut rx: mpsc::UnboundedReceiver<Message>) -> LinkReport {
        let mut report = LinkReport::default();
        let mut pending: Vec<ExperimentItemWrite> = Vec::new();
        let mut cancelled = true; // unless told otherwise: a closed channel is a dropped run
        let mut due = tokio::time::Instant::now() + LINK_EVERY;
        loop {
            let message = tokio::select! {
                m = rx.recv() => m,
                () = tokio::time::sleep_until(due), if !pending.is_empty() => {
                    self.post(&mut pending, &mut report).await;
                    due = tokio::time::Instant::now() + LINK_EVERY;
                    continue;
                }
            };
            match message {
                Some(Message::Link {
                    dataset_item_id,
                    trace_id,
                }) => {
                    if pending.is_empty() {
                        due = tokio::time::Instant::now() + LINK_EVERY;
                    }
                    pending.push(ExperimentItemWrite {
                        id: new_id(Timestamp::now()),
                        experiment_id: self.experiment_id,
                        dataset_item_id,
                        trace_id,
                        project_name: self.project_name.clone(),
                    });
                    if pending.len() >= LINK_BATCH {
                        self.post(&mut pending, &mut report).await;
                    }
                }
                Some(Message::End { cancelled: c }) => {
                    cancelled = c;
                    break;
                }
                None => break,
            }
        }
        self.post(&mut pending, &mut report).await;
        if let Err(e) = self.rest.finish_experiment(self.experiment_id).await {
            report.warnings.push(e.to_string());
        }
        if cancelled {
            if let Err(e) = self
                .rest
                .set_experiment_status(self.experiment_id, "cancelled")
                .await
            {
                report.warnings.push(e.to_string());
            }
        }
        report
    }

    /// Flushes the exporter (so the traces are delivered), then posts the links.
    async fn post(&self, pending: &mut Vec<ExperimentItemWrite>, report: &mut LinkReport) {
        if pending.is_empty() {
            return;
        }
        if let Some(client) = &self.client {
            let flushed = client.flush_async(self.flush_timeout).await;
            if !flushed.completed {
                report.warnings.push(format!(
                    "the traces of {} experiment items were not all delivered within {:?} \
                     ({}); the items were linked anyway",
                    pending.len(),
                    self.flush_timeout,
                    flushed.stats
                ));
            }
        }
        for chunk in pending.chunks(MAX_EXPERIMENT_ITEMS) {
            match self.rest.add_experiment_items(chunk).await {
                Ok(()) => report.linked += chunk.len(),
                Err(e) => report.warnings.push(format!(
                    "{} experiment items were not linked: {e}",
                    chunk.len()
                )),
            }
        }
        pending.clear();
    }
}
