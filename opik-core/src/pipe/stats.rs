//! Delivery accounting: every record produced is, at any moment, delivered, dropped for a
//! counted reason, or still on its way: `produced == delivered + dropped + pending`.
//!
//! `produced` is counted where records are produced, by the producing thread, in the one funnel
//! (`Client::enqueue`, and the drop-before-build under overload): each record is counted there
//! exactly once, as queued (in a slot of the thread's own, [`PerThread`]: no atomic
//! read-modify-write on the hot path) or as dropped before it reached the queue (`queue_full`,
//! `after_shutdown`). It is not derived from what the exporter took, so the equation can fail,
//! and a failure is a bug the tests would see: a record lost without being counted.

use super::produced::PerThread;
use crossbeam_utils::CachePadded;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why records were dropped. Each has its own counter in [`Stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full when the record was produced (the server is slower than the app).
    QueueFull,
    /// Still rate limited (429) when the retry budget ran out.
    RateLimitedExhausted,
    /// The server refused the request with a 4xx status (other than 408, 429, and a 409 to a
    /// batch create, which means the records are there already).
    Http4xx,
    /// Still failing with 5xx when the retry budget ran out.
    Http5xxExhausted,
    /// The server answered with a redirect (3xx). Redirects are not followed: a 301/302/303
    /// would be replayed as a GET without the records, a 307/308 would carry them (and the
    /// key) to a host nobody configured. Not retried.
    Redirect,
    /// Connection errors or timeouts until the retry budget ran out.
    Network,
    /// Refused as too large even alone, after its `input`/`output` were replaced by a
    /// truncation marker.
    TooLarge,
    /// Could not be encoded as JSON.
    Serialization,
    /// Produced after the client was shut down.
    AfterShutdown,
    /// Still undelivered when the shutdown deadline passed.
    ShutdownDeadline,
    /// Its payloads would have taken the records held for delivery past `max_buffered_bytes`
    /// (a stalled or slow server, large inputs or outputs).
    MemoryBudget,
    /// An attachment's file could not be read when it was uploaded (removed, shrunk, no
    /// longer readable since it was attached).
    FileUnreadable,
    /// The server's answer was not what Opik's API specifies (an upload start without URLs,
    /// a storage part without its ETag): not retried.
    BadAnswer,
    /// The server refused them as conflicting with what it holds (409), where a 409 cannot
    /// mean "already there": feedback scores, which are upserts. Opik backends before
    /// January 2026 answer it to a thread's scores while the thread is still open: close the
    /// thread first (`Opik::close_thread`). Not retried.
    Conflict,
    /// The SDK, or a custom transport, failed while handling it (a panic): a bug to report.
    Internal,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 15] = [
        DropReason::QueueFull,
        DropReason::RateLimitedExhausted,
        DropReason::Http4xx,
        DropReason::Http5xxExhausted,
        DropReason::Redirect,
        DropReason::Network,
        DropReason::TooLarge,
        DropReason::Serialization,
        DropReason::AfterShutdown,
        DropReason::ShutdownDeadline,
        DropReason::MemoryBudget,
        DropReason::FileUnreadable,
        DropReason::BadAnswer,
        DropReason::Conflict,
        DropReason::Internal,
    ];

    /// A stable snake_case name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::RateLimitedExhausted => "rate_limited_exhausted",
            DropReason::Http4xx => "http_4xx",
            DropReason::Http5xxExhausted => "http_5xx_exhausted",
            DropReason::Redirect => "redirect",
            DropReason::Network => "network",
            DropReason::TooLarge => "too_large",
            DropReason::Serialization => "serialization",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::ShutdownDeadline => "shutdown_deadline",
            DropReason::MemoryBudget => "memory_budget",
            DropReason::FileUnreadable => "file_unreadable",
            DropReason::BadAnswer => "bad_answer",
            DropReason::Conflict => "conflict",
            DropReason::Internal => "internal",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Live counters, shared by the producers and the exporter.
///
/// The drop counters sit on their own cache lines: producers bump `queue_full` on every record
/// that meets a full queue, and sharing a line with `taken` and `delivered`, which the exporter
/// bumps with every batch, would bounce that line between the two cores under overload.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Records their producers pushed onto the queue.
    queued: PerThread,
    /// Records the exporter took off the queue.
    pub(crate) taken: AtomicU64,
    pub(crate) delivered: AtomicU64,
    /// Records dropped after they were queued (by the exporter, or drained at shutdown).
    dropped: CachePadded<[AtomicU64; DropReason::ALL.len()]>,
    /// Records dropped by their producer before they reached the queue.
    unqueued: CachePadded<[AtomicU64; DropReason::ALL.len()]>,
    truncated: AtomicU64,
    in_progress: AtomicU64,
    /// Attachments uploaded (counted in `delivered` too).
    attachments_uploaded: AtomicU64,
    /// Attachments dropped without being uploaded, counted by their `model::Tally` (and in
    /// the drop reasons too).
    pub(crate) attachments_dropped: Arc<AtomicU64>,
}

impl Counters {
    /// Counts a record this thread is about to push onto the queue (before the push, so that
    /// the exporter can never settle a record not yet counted).
    #[inline]
    pub(crate) fn add_queued(&self, n: u64) {
        self.queued.add(n);
    }

    /// Takes back [`add_queued`](Self::add_queued) for a push that failed (the record is then
    /// counted as dropped before the queue instead).
    #[inline]
    pub(crate) fn unqueue(&self, n: u64) {
        self.queued.sub(n);
    }

    /// Counts records their producer dropped before they reached the queue.
    #[inline]
    pub(crate) fn add_dropped_unqueued(&self, reason: DropReason, n: u64) {
        self.unqueued[reason.index()].fetch_add(n, Ordering::Release);
    }

    pub(crate) fn add_taken(&self, n: u64) {
        self.taken.fetch_add(n, Ordering::Relaxed);
    }

    // Settling counts are released, and read first (acquired) by `snapshot`: a record counted
    // as settled was produced before (it went through the queue, or was dropped by the thread
    // that produced it), so the snapshot's `produced`, read after them, includes it.
    pub(crate) fn add_delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Release);
    }

    pub(crate) fn add_dropped(&self, reason: DropReason, n: u64) {
        self.dropped[reason.index()].fetch_add(n, Ordering::Release);
    }

    /// Records dropped for `reason` so far, before or after the queue (the exporter reads
    /// `queue_full` to report it).
    pub(crate) fn dropped(&self, reason: DropReason) -> u64 {
        let i = reason.index();
        self.dropped[i].load(Ordering::Acquire) + self.unqueued[i].load(Ordering::Acquire)
    }

    pub(crate) fn add_truncated(&self, n: u64) {
        self.truncated.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_in_progress(&self, n: u64) {
        self.in_progress.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_attachment_uploaded(&self) {
        self.attachments_uploaded.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot. Settled counts are read before `produced` (see `add_delivered`), so a
    /// snapshot never shows more settled than produced; if it does, a record was counted
    /// twice, which is a bug.
    pub(crate) fn snapshot(&self) -> Stats {
        let delivered = self.delivered.load(Ordering::Acquire);
        let mut dropped = [0u64; DropReason::ALL.len()];
        let mut unqueued = 0;
        for (i, slot) in dropped.iter_mut().enumerate() {
            let before = self.unqueued[i].load(Ordering::Acquire);
            unqueued += before;
            *slot = self.dropped[i].load(Ordering::Acquire) + before;
        }
        let produced = self.queued.sum() + unqueued;
        let stats = Stats {
            produced,
            delivered,
            truncated: self.truncated.load(Ordering::Relaxed),
            in_progress_sent: self.in_progress.load(Ordering::Relaxed),
            attachments_uploaded: self.attachments_uploaded.load(Ordering::Relaxed),
            attachments_dropped: self.attachments_dropped.load(Ordering::Relaxed),
            dropped,
        };
        debug_assert!(
            stats.delivered + stats.dropped_total() <= stats.produced,
            "opik: more records settled than produced: {stats}"
        );
        stats
    }
}

/// A snapshot of the delivery counters, in records (one trace, span, feedback score or
/// attachment each).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Records the app produced (each finished span, trace, feedback score or attachment).
    pub produced: u64,
    /// Records the server accepted (2xx, or a 409 to a batch create: already there).
    pub delivered: u64,
    /// Delivered records whose `input`/`output` were replaced by a truncation marker because
    /// the record alone was too large for a request (counted in `delivered` too).
    pub truncated: u64,
    /// Start records (no `end_time`) sent for spans and traces still running after the long-span
    /// threshold. They are previews of records counted when they end, so they are not part of
    /// `produced`/`delivered`.
    pub in_progress_sent: u64,
    /// Attachments uploaded (counted in `delivered` too).
    pub attachments_uploaded: u64,
    /// Attachments dropped without being uploaded, for any reason (counted in the drop reasons
    /// too).
    pub attachments_dropped: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// Records dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Records dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Records neither delivered nor dropped yet (queued, batching or in flight). Never
    /// negative: a snapshot never shows more settled than produced (see the module docs).
    pub fn pending(&self) -> u64 {
        self.produced
            .saturating_sub(self.delivered + self.dropped_total())
    }

    /// Each reason with its count, zeros left out.
    pub fn dropped_by_reason(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .into_iter()
            .map(|r| (r, self.dropped(r)))
            .filter(|(_, n)| *n > 0)
    }
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "produced {}, delivered {}, pending {}, dropped {}",
            self.produced,
            self.delivered,
            self.pending(),
            self.dropped_total()
        )?;
        let mut reasons = self.dropped_by_reason().peekable();
        if reasons.peek().is_some() {
            f.write_str(" (")?;
            for (i, (reason, n)) in reasons.enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{reason}: {n}")?;
            }
            f.write_str(")")?;
        }
        if self.truncated > 0 {
            write!(f, ", truncated {}", self.truncated)?;
        }
        if self.in_progress_sent > 0 {
            write!(f, ", in-progress previews {}", self.in_progress_sent)?;
        }
        if self.attachments_uploaded + self.attachments_dropped > 0 {
            write!(
                f,
                ", attachments uploaded {}, not uploaded {}",
                self.attachments_uploaded, self.attachments_dropped
            )?;
        }
        Ok(())
    }
}

/// The answer to a flush or shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushReport {
    /// Whether every record produced before the flush was delivered or dropped by the deadline.
    pub completed: bool,
    /// The counters when the flush returned.
    pub stats: Stats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_in_all_at_its_counter_and_has_its_own_name() {
        for (i, reason) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason:?}");
        }
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DropReason::ALL.len());
        assert_eq!(DropReason::Redirect.to_string(), "redirect");
    }
}
