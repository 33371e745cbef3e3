//! What an attempt's outcome does to its batch: delivered, retried (with backoff, or paused for
//! the wait a server asked for), split, or dropped and counted; and what it tells the outage
//! log (`outage`).

use super::batch::Batch;
use super::exporter::State;
use super::transport::SendOutcome;
use crate::model::RecordKind;
use crate::net::Next;
use crate::pipe::{later, DropReason};
use std::time::Instant;

impl State {
    pub(super) fn log_truncated(&mut self, kind: RecordKind, bytes: usize) {
        self.note(
            "truncated",
            format!(
                "opik: a {kind} record of {bytes} bytes is too large to send; its input and output \
                 were replaced by a truncation marker (log large payloads as attachments instead)"
            ),
        );
    }

    /// Settles the current batch's attempt.
    pub(super) fn settle(&mut self, outcome: SendOutcome) {
        let Some(mut batch) = self.current.take() else {
            return;
        };
        let n = batch.records.len() as u64;
        let k = batch.kind.index();
        match outcome {
            SendOutcome::Delivered => {
                if batch.preview {
                    self.pipe.counters.add_in_progress(n);
                } else {
                    self.limits[k].delivered(self.settings.batch_max_bytes);
                    self.pipe.counters.add_delivered(n);
                    self.pipe.counters.add_truncated(batch.truncated);
                    self.settled[k] += n;
                }
                self.succeeded();
            }
            SendOutcome::Rejected {
                reason,
                status,
                detail,
            } => {
                let message = match status {
                    Some(s @ (401 | 403)) => format!(
                        "opik: Opik refused the API key or workspace (HTTP {s}): check \
                         OPIK_API_KEY and OPIK_WORKSPACE (or api_key / workspace in \
                         ~/.opik.config). Records are dropped until this is fixed. Server \
                         said: {detail}"
                    ),
                    Some(409) if batch.kind == RecordKind::ThreadFeedback => format!(
                        "opik: Opik refused {n} thread feedback scores ({detail}): this Opik \
                         takes a thread's scores only once the thread is closed. Close it first \
                         (Opik::close_thread, or Opik::score_thread with OpenThread::CloseFirst); \
                         dropped as conflict"
                    ),
                    Some(409) => format!(
                        "opik: Opik refused {n} {} as conflicting with what it holds \
                         ({detail}); dropped as conflict",
                        batch.kind
                    ),
                    Some(300..=399) => format!(
                        "opik: Opik's URL answers with a redirect ({detail}), which is not \
                         followed: the records and the API key would go to a place nobody \
                         configured. Set url_override to the URL it points to. {n} {} \
                         dropped as redirect",
                        batch.kind
                    ),
                    Some(_) => format!(
                        "opik: Opik refused a batch of {n} {} ({detail}); dropped",
                        batch.kind
                    ),
                    None => format!("opik: could not send {n} {}: {detail}; dropped", batch.kind),
                };
                self.failed(message);
                self.drop_batch(&batch, reason);
            }
            SendOutcome::TooLarge => self.split(batch),
            SendOutcome::Retry {
                after,
                reason,
                detail,
            } => {
                let now = Instant::now();
                let rate_limited = reason == DropReason::RateLimitedExhausted;
                match self.retry.next(&mut batch.tries, after, rate_limited, now) {
                    Next::GiveUp => {
                        let first = batch.tries.first.unwrap_or(now);
                        self.failed(format!(
                            "opik: gave up on {n} {} after {} attempts in {:.1?}: {detail}; \
                             dropped as {reason}",
                            batch.kind,
                            batch.tries.attempts,
                            now - first
                        ));
                        self.drop_batch(&batch, reason);
                    }
                    Next::RetryAfter { wait, server_asked } => {
                        if server_asked {
                            // The server asked everyone to wait: pause the whole sender.
                            self.paused_until = Some(later(now, wait));
                        }
                        self.failed(format!(
                            "opik: sending {} failed ({detail}); retrying in {wait:.1?}",
                            batch.kind
                        ));
                        batch.not_before = later(now, wait);
                        self.current = Some(batch);
                    }
                }
            }
        }
    }

    pub(super) fn drop_batch(&mut self, batch: &Batch, reason: DropReason) {
        if batch.preview {
            return; // the final record still goes; a lost preview is no data loss
        }
        let n = batch.records.len() as u64;
        self.pipe.counters.add_dropped(reason, n);
        self.settled[batch.kind.index()] += n;
    }
}
