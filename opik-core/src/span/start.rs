//! In-progress visibility: spans and traces that run longer than the long-span threshold are sent
//! early as start records (no `end_time`), so a long LLM call, or a process killed in the middle
//! of one, still shows up in Opik. The record sent when the span ends is a full upsert of the
//! same id with a newer `last_updated_at` (the exporter stamps it when it encodes), never a
//! PATCH that could overtake its create.
//!
//! Which spans are watched, and when they are registered:
//! - an async span when its body first returns `Pending`: only a body that waits on something
//!   can run long, and one that completes in its first poll never waited. Every async span
//!   that awaits I/O (an LLM call, a tool, a sleep) is watched, whatever its type;
//! - a sync span at its start, when it is a trace's root or has a type other than `general`
//!   (`llm`, `tool`, `guardrail`): a sync body never yields, so there is no later moment to
//!   decide, and registering every nested sync helper would cost each of them a registration
//!   that almost never pays off. A long nested `general` sync span is still visible while it
//!   runs through its root's start record; its own record arrives when it ends;
//! - explicit traces and spans (`Opik::trace`, `TraceHandle::span`) at their start: they are
//!   what an app holds open across awaits and callbacks, a practice session for minutes.
//!
//! A start record carries what updates have set by then (an explicit session's thread and
//! input, a long LLM call's model), not the feedback scores, which wait for the final record.
//!
//! Cost on the caller's side, per watched span: the start fields are kept in the span's
//! `ActiveSpan` anyway (the final record is made from them), and a `Weak` pointer to it is
//! pushed on a bounded lock-free queue (one weak-count increment and one CAS); ending it is one
//! atomic swap. An unwatched span pays nothing. The exporter, not the caller, notices long
//! runners: it drains that queue whenever it wakes, forgetting the spans that already ended,
//! into a list kept in start order, and every flush interval looks only at the list's front,
//! where the spans older than the threshold are; so the work per span is constant however many
//! spans run. (A span registered at its first `Pending` joins the list a little after its
//! start; it is seen late by at most that delay.) A `Weak` keeps neither the client nor the
//! trace alive; a span that ended or was dropped is skipped. When the queue or the list is full
//! the span is simply not watched (its final record is unaffected), so memory stays bounded.
//!
//! Measured with the benches' `callgrind_probe opik_sync 3000000` (a sync `general` call nested
//! 1000 to a root, thread CPU time): registering every span cost 15-20 ns per call, part of it
//! in the allocator, because a watched span's allocation is released by the exporter's `Weak`
//! on the exporter thread instead of being reused at once by the caller's thread.

use super::active::{ActiveSpan, SpanRole};
use crate::model::{Payload, Record, SpanType, Timestamp};
use crate::pipe::Watched;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use uuid::Uuid;

const RUNNING: u8 = 0;
const PREVIEWED: u8 = 1;
const ENDED: u8 = 2;

/// What a span knows from its start: the fields of its start record, and of its final record
/// too (the recorder makes that one from these, so they are kept once per span).
#[derive(Debug)]
pub(crate) struct StartInfo {
    pub(crate) parent_span_id: Option<Uuid>,
    pub(crate) span_type: SpanType,
    pub(crate) tags: &'static [&'static str],
    pub(crate) start: Timestamp,
    pub(crate) input: Option<Payload>,
    pub(crate) metadata: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    /// Whether the span is the root of a trace this process created: its start record then
    /// comes with the trace's.
    pub(crate) is_root: bool,
}

impl StartInfo {
    /// A span of type `general` that started at `start`, with nothing else known yet.
    pub(crate) const fn at(start: Timestamp) -> Self {
        StartInfo {
            parent_span_id: None,
            span_type: SpanType::General,
            tags: &[],
            start,
            input: None,
            metadata: None,
            is_root: false,
        }
    }
}

/// What a running span's start record is made of, and whether it was sent.
#[derive(Debug)]
pub(crate) struct Progress {
    state: AtomicU8,
    pub(crate) info: StartInfo,
}

impl Progress {
    /// The start state of a span that is watched.
    pub(crate) fn new(info: StartInfo) -> Self {
        Progress {
            state: AtomicU8::new(RUNNING),
            info,
        }
    }

    /// For context entries that never get a start record (remote parents, explicit traces).
    pub(crate) fn inert() -> Self {
        Progress {
            state: AtomicU8::new(ENDED),
            info: StartInfo::at(Timestamp::from_unix_nanos(0)),
        }
    }

    /// Marks the span ended (before its final record is queued), so the exporter no longer
    /// sends a start record for it. Returns whether a start record was sent.
    #[inline]
    pub(crate) fn end(&self) -> bool {
        self.state.swap(ENDED, Ordering::AcqRel) == PREVIEWED
    }

    /// Claims the right to send the start record: false once the span ended. A span whose
    /// claim succeeded has its final record queued only after this (it swaps the state later),
    /// so the start record is always queued, and sent, before the final one.
    pub(crate) fn claim_preview(&self) -> bool {
        self.state
            .compare_exchange(RUNNING, PREVIEWED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn ended(&self) -> bool {
        self.state.load(Ordering::Acquire) == ENDED
    }
}

/// What the exporter's long-span watch sees of a span: when it started, whether it ended, and
/// its start records, made here so that the exporter never touches live span state.
impl Watched for ActiveSpan {
    fn started_at(&self) -> Timestamp {
        self.progress.info.start
    }

    fn has_ended(&self) -> bool {
        self.progress.ended()
    }

    /// The span record (none for an explicit trace's stand-in) and, for a root, the trace
    /// record, with what updates have set so far (an explicit session's thread and input, a
    /// long LLM call's model...); feedback scores wait for the end.
    fn start_records(&self, out: &mut Vec<Record>) {
        if !self.progress.claim_preview() {
            return;
        }
        let mut no_scores = Vec::new();
        let trace = &self.trace;
        if self.progress.info.is_root && !trace.remote {
            let mut record = self.trace_record(None, None, None);
            if let Some(update) = trace.update.read(Clone::clone) {
                update.apply_to(&mut record, &mut no_scores);
            }
            out.push(Record::Trace(record));
        }
        if self.role == SpanRole::Recorded {
            let mut record = self.span_record(None, None, None);
            if let Some(update) = self.update.read(Clone::clone) {
                update.apply_to(&mut record, &mut no_scores);
            }
            out.push(Record::Span(record));
        }
    }
}

impl ActiveSpan {
    /// Lets the exporter send this span's start records should it run past the long-span
    /// threshold (see the module docs for which spans are watched, and when).
    #[inline]
    pub(crate) fn watch(self: &Arc<Self>) {
        let client = &self.trace.client;
        if client.watches() {
            let weak: std::sync::Weak<dyn Watched> = Arc::downgrade(self) as _;
            client.watch(weak);
        }
    }
}
