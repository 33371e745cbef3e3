//! Tracked streams and iterators: `#[track]` on a function returning `impl Stream`, a boxed
//! stream, or `impl Iterator`.
//!
//! - The arguments are captured, and the span current then is remembered, when the function is
//!   called; the span starts at the first poll (or `next()`), under that parent, so a stream a
//!   handler returns to its server (polled after the handler's own span ended) still nests
//!   under the handler.
//! - The span is current during every poll, so tracked calls and `update_current_span` made
//!   while an item is produced belong to it (a streamed LLM answer's usage is set there).
//! - Items are aggregated into the output as they go (`items`), `Err` items become the span's
//!   error and the stream goes on; the time to the first item is the span's `ttft`.
//! - The span ends when the stream returns `None`; when the stream is dropped before that, it
//!   ends with the items seen so far and `metadata.opik_stream.ended_early = true` (not an
//!   error unless an item was one); a panic while polling ends it with the panic, which then
//!   continues.

use super::items::{Aggregate, ItemCapture};
use super::{panic_info, Call, CallStart, SpanMeta};
use crate::context::{self, OpikContext};
use crate::model::{ErrorInfo, SpanUpdate, Timestamp};
use crate::span::Ended;
use futures_core::Stream;
use pin_project_lite::pin_project;
use serde::Serialize;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What one poll or `next()` gave.
enum Step<T> {
    Item(T),
    End,
    /// A stream that is not ready yet (never from an iterator).
    Pending,
}

/// A stream's or iterator's call: described at the call, started at the first item asked for,
/// running, or over.
enum Run {
    /// Not recording when the function was called.
    Off,
    NotStarted {
        meta: &'static SpanMeta,
        described: CallStart,
        parent: OpikContext,
    },
    Running {
        call: Call,
        items: ItemCapture,
        started: Timestamp,
    },
    Over,
}

/// What a tracked stream or iterator keeps besides its inner one.
struct Recording<C> {
    run: Run,
    capture: C,
    aggregate: Option<Aggregate>,
}

impl<C> Recording<C> {
    fn new(meta: &'static SpanMeta, described: Option<CallStart>, capture: C) -> Self {
        let run = match described {
            Some(described) => Run::NotStarted {
                meta,
                described,
                parent: context::current_context(),
            },
            None => Run::Off,
        };
        Recording {
            run,
            capture,
            aggregate: None,
        }
    }

    /// Makes the output with `aggregate` from the items (as JSON values): one place for the
    /// stream's and the iterator's `aggregate`.
    fn set_aggregate<R: Serialize>(
        &mut self,
        aggregate: impl FnOnce(Vec<serde_json::Value>) -> R + Send + 'static,
    ) {
        self.aggregate = Some(Box::new(move |items| {
            crate::model::to_value(&aggregate(items))
        }));
    }

    /// Starts the span at the first item asked for; `false` when not recording.
    fn start(&mut self) -> bool {
        if let Run::NotStarted { .. } = self.run {
            let Run::NotStarted {
                meta,
                described,
                parent,
            } = std::mem::replace(&mut self.run, Run::Over)
            else {
                unreachable!("matched above")
            };
            self.run = match parent.run(|| Call::start_with(meta, Some(described))) {
                Some(call) => {
                    let limit = call.stream_output_limit();
                    Run::Running {
                        call,
                        items: ItemCapture::new(limit),
                        started: Timestamp::now(),
                    }
                }
                None => Run::Off,
            };
        }
        matches!(self.run, Run::Running { .. })
    }

    /// Runs `next` (one poll or one `next()`) with the span current, and records the item.
    fn step<T>(&mut self, next: impl FnOnce() -> Step<T>) -> Step<T>
    where
        C: FnMut(&T, &mut ItemCapture),
    {
        let Some(span) = (match &self.run {
            Run::Running { call, .. } => call.span(),
            _ => None,
        }) else {
            return next();
        };
        // The span is current for the poll only; the scope borrows the call's reference.
        let outcome = context::sync_scope_span(span, || catch_unwind(AssertUnwindSafe(next)));
        match outcome {
            Ok(Step::Pending) => Step::Pending,
            Ok(Step::Item(item)) => {
                if let Run::Running { items, .. } = &mut self.run {
                    // The generated capture only calls the probes, which guard the user impls
                    // they run (`capture::JsonBuf`): no second `catch_unwind` per item.
                    (self.capture)(&item, items);
                    items.settle();
                }
                Step::Item(item)
            }
            Ok(Step::End) => {
                self.end(false, None);
                Step::End
            }
            Err(payload) => {
                self.end(false, Some(panic_info(&*payload)));
                resume_unwind(payload)
            }
        }
    }

    /// Ends the span: at the stream's end, when it is dropped early, or with a panic.
    fn end(&mut self, early: bool, panic: Option<ErrorInfo>) {
        let Run::Running {
            call,
            items,
            started,
        } = std::mem::replace(&mut self.run, Run::Over)
        else {
            return;
        };
        let count = items.items();
        let ttft_ms = items
            .first_item_at
            .map(|at| at.since(started).as_secs_f64() * 1000.0);
        let error = panic.or_else(|| items.error.clone());
        let output = items.output(self.aggregate.take());
        let mut update = None;
        if early {
            let mut u = SpanUpdate::default();
            u.metadata(&serde_json::json!({
                "opik_stream": { "ended_early": true, "items": count }
            }));
            update = Some(u);
        }
        call.end_with(
            update,
            Ended {
                at: None,
                output,
                error,
                ttft_ms,
            },
        );
    }

    /// A stream that waits is one that can run long: from its first `Pending` on, the long-span
    /// watch may send its start record.
    fn waiting(&mut self) {
        if let Run::Running { call, .. } = &mut self.run {
            call.watch();
        }
    }
}

impl<C> Drop for Recording<C> {
    fn drop(&mut self) {
        self.end(true, None);
    }
}

pin_project! {
    /// A tracked stream (see the module docs). Made by `#[track]` on a function returning a
    /// stream.
    pub struct TrackedStream<S, C> {
        #[pin]
        inner: S,
        rec: Recording<C>,
    }
}

impl<S, C> TrackedStream<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &mut ItemCapture),
{
    /// Wraps `inner`, returned by a call described by `described` (`None`: not recording);
    /// `capture` writes an item into the aggregation.
    pub fn new(
        meta: &'static SpanMeta,
        described: Option<CallStart>,
        inner: S,
        capture: C,
    ) -> Self {
        TrackedStream {
            inner,
            rec: Recording::new(meta, described, capture),
        }
    }

    /// Makes the output with `aggregate` from the items (as JSON values) instead of the default
    /// (`#[track(aggregate = f)]`).
    pub fn aggregate<R: Serialize>(
        mut self,
        aggregate: impl FnOnce(Vec<serde_json::Value>) -> R + Send + 'static,
    ) -> Self {
        self.rec.set_aggregate(aggregate);
        self
    }
}

impl<S, C> Stream for TrackedStream<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &mut ItemCapture),
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let rec = this.rec;
        if !rec.start() {
            return this.inner.poll_next(cx);
        }
        let mut inner = this.inner;
        match rec.step(|| match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => Step::Item(item),
            Poll::Ready(None) => Step::End,
            Poll::Pending => Step::Pending,
        }) {
            Step::Item(item) => Poll::Ready(Some(item)),
            Step::End => Poll::Ready(None),
            Step::Pending => {
                rec.waiting();
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// A tracked iterator (see the module docs). Made by `#[track]` on a function returning
/// `impl Iterator`.
pub struct TrackedIter<I, C> {
    inner: I,
    rec: Recording<C>,
}

impl<I, C> TrackedIter<I, C>
where
    I: Iterator,
    C: FnMut(&I::Item, &mut ItemCapture),
{
    /// Wraps `inner`, like [`TrackedStream::new`].
    pub fn new(
        meta: &'static SpanMeta,
        described: Option<CallStart>,
        inner: I,
        capture: C,
    ) -> Self {
        TrackedIter {
            inner,
            rec: Recording::new(meta, described, capture),
        }
    }

    /// Like [`TrackedStream::aggregate`].
    pub fn aggregate<R: Serialize>(
        mut self,
        aggregate: impl FnOnce(Vec<serde_json::Value>) -> R + Send + 'static,
    ) -> Self {
        self.rec.set_aggregate(aggregate);
        self
    }
}

impl<I, C> Iterator for TrackedIter<I, C>
where
    I: Iterator,
    C: FnMut(&I::Item, &mut ItemCapture),
{
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if !self.rec.start() {
            return self.inner.next();
        }
        // An iterator never yields control: it is watched from its first item asked for.
        self.rec.waiting();
        let inner = &mut self.inner;
        match self.rec.step(|| match inner.next() {
            Some(item) => Step::Item(item),
            None => Step::End,
        }) {
            Step::Item(item) => Some(item),
            Step::End | Step::Pending => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
