//! [`RecordStream`]: the records a search finds, as an async `Stream`.

use super::error::ReadError;
use crate::rest::Pages;
use futures_core::Stream;
use serde::de::DeserializeOwned;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The records a search finds, newest first, read from Opik page by page as they are consumed
/// (nothing is asked for before the first poll, and at most one page of up to 2000 records is
/// ever requested ahead; what is held is the record being read, never the page). A record
/// Opik answered but the SDK cannot read is an `Err` item, and the search goes on after it; a
/// failed request ends the stream with its error.
///
/// It is a [`futures_core::Stream`]: `StreamExt::next`, `try_collect` and friends of the
/// `futures` crates work on it; without them, [`next`](RecordStream::next) does.
pub struct RecordStream<T> {
    inner: Pin<Box<dyn Stream<Item = Result<T, ReadError>> + Send>>,
}

impl<T> std::fmt::Debug for RecordStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream").finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> RecordStream<T> {
    /// The records of a search on the server.
    pub(crate) fn from_pages(pages: Pages) -> Self {
        let stream = futures_util::stream::unfold(pages, |mut pages| async move {
            let item = pages.next::<T>().await?;
            Some((item.map_err(ReadError::from), pages))
        });
        RecordStream {
            inner: Box::pin(stream),
        }
    }

    /// Records made by `load` on the first poll (the local view's file, read on a blocking
    /// thread).
    pub(crate) fn from_blocking(
        load: impl FnOnce() -> Result<Vec<T>, ReadError> + Send + 'static,
    ) -> Self {
        let stream = futures_util::stream::once(async move {
            let loaded = match tokio::task::spawn_blocking(load).await {
                Ok(loaded) => loaded,
                Err(e) => Err(ReadError::InvalidOption {
                    option: "local view",
                    reason: format!("reading the local view's file failed: {e}"),
                }),
            };
            let items: Vec<Result<T, ReadError>> = match loaded {
                Ok(records) => records.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(items)
        });
        RecordStream {
            inner: Box::pin(futures_util::StreamExt::flatten(stream)),
        }
    }
}

impl<T> RecordStream<T> {
    /// The next record, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T, ReadError>> {
        std::future::poll_fn(|cx| self.inner.as_mut().poll_next(cx)).await
    }
}

impl<T> Stream for RecordStream<T> {
    type Item = Result<T, ReadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
