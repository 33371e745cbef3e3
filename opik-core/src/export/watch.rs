//! The exporter's side of the long-span watch (`span::start` says which spans are watched and
//! why): the spans registered through the pipe, kept in start order, of which only the front is
//! ever looked at. It knows spans only as [`Watched`], and gets their start records from them.

use crate::model::{Record, Timestamp};
use crate::pipe::Watched;
use crossbeam_queue::ArrayQueue;
use std::collections::VecDeque;
use std::sync::Weak;
use std::time::Duration;

/// Spans in start order.
pub(super) struct Watch {
    threshold: Duration,
    spans: VecDeque<(Timestamp, Weak<dyn Watched>)>,
    cap: usize,
}

impl Watch {
    pub(super) fn new(threshold: Duration, cap: usize) -> Self {
        Watch {
            threshold,
            spans: VecDeque::new(),
            cap,
        }
    }

    /// Takes newly started spans off `started` (often, so that the queue does not fill up in a
    /// burst), keeping those still running, in start order.
    pub(super) fn absorb(&mut self, started: &ArrayQueue<Weak<dyn Watched>>) {
        let mut compacted = false;
        while let Some(weak) = started.pop() {
            let Some(span) = weak.upgrade() else { continue };
            if span.has_ended() {
                continue;
            }
            if self.spans.len() >= self.cap && !compacted {
                compacted = true;
                // Spans that ended behind a running one are still held (as weak pointers, which
                // keep the allocation but not the contents): drop them, then, if it is still
                // full, this span is not watched, so that memory stays bounded.
                self.spans
                    .retain(|(_, w)| w.upgrade().is_some_and(|s| !s.has_ended()));
            }
            if self.spans.len() >= self.cap {
                continue;
            }
            self.spans.push_back((span.started_at(), weak));
        }
    }

    /// The start records of the spans that have been running longer than the threshold.
    pub(super) fn scan(&mut self, now: Timestamp) -> Vec<Record> {
        let mut out = Vec::new();
        while let Some((start, weak)) = self.spans.front() {
            let span = weak.upgrade();
            let done = span.as_ref().is_none_or(|s| s.has_ended());
            let old = now.since(*start) >= self.threshold;
            if !done && !old {
                break;
            }
            if let (false, Some(span)) = (done, span) {
                span.start_records(&mut out);
            }
            self.spans.pop_front();
        }
        out
    }
}
