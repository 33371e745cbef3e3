//! A streamed call's recording, shared by chat completions and the Responses API: each item is
//! handed to the call's aggregate as it passes, and the span ends when the stream ends, fails,
//! or is dropped.

use super::{cancelled, error_info, Call, Outcome};
use crate::ErrorInfo;
use async_openai::error::OpenAIError;
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a streamed call collects from its items.
pub(super) trait Aggregate {
    /// An item of the stream.
    type Item;
    /// Takes an item in as it passes.
    fn add(&mut self, item: &Self::Item);
    /// What the span records, with the error that ended the stream, if any.
    fn outcome(self, error: Option<ErrorInfo>) -> Outcome;
    /// The error recorded when the stream is dropped before its end; a stream whose final
    /// item already arrived may have none.
    fn dropped(&self) -> Option<ErrorInfo> {
        Some(cancelled())
    }
}

/// The API's stream, yielded unchanged, and the call it records (none when nothing records).
pub(super) struct Recorded<S, A: Aggregate> {
    inner: S,
    record: Option<(Call, A)>,
}

impl<S, A: Aggregate + Default> Recorded<S, A> {
    pub(super) fn new(inner: S, call: Call) -> Self {
        let record = call.recording().then(|| (call, A::default()));
        Recorded { inner, record }
    }

    pub(super) fn recording(&self) -> bool {
        self.record.is_some()
    }
}

impl<S, T, A> Recorded<S, A>
where
    S: Stream<Item = Result<T, OpenAIError>> + Unpin,
    A: Aggregate<Item = T>,
{
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let item = Pin::new(&mut self.inner).poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(value))) => {
                if let Some((_, acc)) = self.record.as_mut() {
                    acc.add(value);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some((call, acc)) = self.record.take() {
                    call.finish(acc.outcome(Some(error_info(e))));
                }
            }
            Poll::Ready(None) => {
                if let Some((call, acc)) = self.record.take() {
                    call.finish(acc.outcome(None));
                }
            }
            Poll::Pending => {}
        }
        item
    }
}

impl<S, A: Aggregate> Drop for Recorded<S, A> {
    fn drop(&mut self) {
        if let Some((call, acc)) = self.record.take() {
            let error = acc.dropped();
            call.finish(acc.outcome(error));
        }
    }
}
