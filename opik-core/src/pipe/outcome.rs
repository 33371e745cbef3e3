//! [`SendOutcome`]: what became of one attempt to deliver something to Opik (a batch, a part
//! of an attachment, a REST call), as the transports report it and the exporter settles it.

use super::DropReason;
use std::time::Duration;

/// What became of one attempt to send a batch (or any other request to Opik).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted (2xx), or, for a create, 409: already delivered by an earlier attempt.
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
