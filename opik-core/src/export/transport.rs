//! Where encoded batches go. The HTTP transport sends them to Opik; other transports (local
//! view, in-memory capture for tests) receive the very same bodies.

use crate::model::RecordKind;
use crate::pipe::DropReason;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future; the exporter runs on a current-thread runtime, so it need not be `Send`.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = SendOutcome> + 'a>>;

/// One request body: `{"spans": [...]}` (or `traces`, `scores`) as JSON text.
#[derive(Clone, Debug)]
pub struct EncodedBatch {
    /// The endpoint.
    pub kind: RecordKind,
    /// The uncompressed JSON body.
    pub json: Vec<u8>,
    /// How many records the body holds.
    pub items: usize,
}

/// What became of one attempt to send a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted (2xx), or 409: already delivered by an earlier attempt.
    Delivered,
    /// A failure worth retrying (network error, timeout, 408, 429, 5xx). `after` is the wait the
    /// server asked for, if any; `reason` is what the records count as if retries run out.
    Retry {
        /// Server-requested wait (Retry-After and friends).
        after: Option<Duration>,
        /// The drop reason should retries run out ([`DropReason::RateLimitedExhausted`] marks
        /// a 429: the exporter then pauses all sending, not only this batch).
        reason: DropReason,
        /// What happened, for the log.
        detail: String,
    },
    /// Refused for good; the records are dropped for `reason`.
    Rejected {
        /// The drop reason.
        reason: DropReason,
        /// The HTTP status, when there was a response (401/403 get their own log line).
        status: Option<u16>,
        /// Status and the server's message, for the log.
        detail: String,
    },
    /// The server said the request was too large (413, or a 400/422 naming the size).
    TooLarge,
}

/// Sends encoded batches somewhere.
pub trait Transport: Send + 'static {
    /// Sends one batch; called again with the same batch on retries.
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a>;
}
