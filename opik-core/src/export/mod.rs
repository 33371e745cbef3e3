//! The exporter: takes records off the bounded queue, batches them per endpoint (at most
//! `batch_max_items` records and `batch_max_bytes` of JSON per request), and sends them through
//! a [`Transport`]. It runs on the SDK's own thread with its own current-thread tokio runtime,
//! so the app's runtime (or lack of one) never matters and the caller never waits on it.
//!
//! Delivery rules (each one is a case of the fault suite in `tests/delivery.rs`):
//! - one batch is in flight at a time; it is retried only where that is safe (ids are made at
//!   span start, so a retry re-sends the same ids and batch creates are upserts): network errors,
//!   timeouts, 408, 429, 500, 502, 503, 504, with exponential backoff and jitter, at most
//!   `max_retries` retries and `retry_deadline` per batch;
//! - a 429 (or any server-requested wait: `Retry-After`, `RateLimit-Reset`,
//!   `Opik-*-Remaining-Limit-TTL-Millis`, capped by `rate_limit_max_wait`) pauses the whole
//!   sender, and the pause does not eat into the batch's deadline;
//! - a 409 to a batch create counts as delivered (an earlier attempt got through); to feedback
//!   scores, which are upserts, it is a refusal, dropped as `conflict` (a thread's scores
//!   while the thread is open, on backends before January 2026); 413 (or a 400/422 naming
//!   the size) splits the batch in halves and
//!   lowers the byte cap of that endpoint, for a while: after successes it probes upward again
//!   (`batch::SizeLimit`), so a burst of 413s does not leave one record per request for good;
//!   a record too large alone has its `input`/`output`
//!   replaced by a truncation marker (as the Python SDK does) and is sent again;
//! - other 4xx drop the batch, counted;
//! - failures are logged one line per outage: a warning when the first fails, an info line once
//!   Opik accepted a request and nothing failed for `outage_quiet_period`, whatever the mix of
//!   failures and successes in between; a full queue is warned about at most once a minute;
//! - a 3xx is not followed (a 301/302/303 would become a GET without the records, a 307/308
//!   would take them elsewhere): the batch is dropped as `redirect`, the log names `Location`;
//! - the HTTP client uses the proxy `Config` chose (`config::proxy`), never the process
//!   environment's behind its back;
//! - of an error answer's body at most 64 KiB is read (the log shows 300 characters of it),
//!   whatever the server sends: the connection is then closed, not pooled;
//! - flush and shutdown requests are served while a batch is in flight or backing off: a flush
//!   answers by its deadline whatever the server does; shutdown cancels the request in flight
//!   at its deadline and counts what is left as `shutdown_deadline`.
//!
//! Attachments are records too: they wait in their own list and upload a few at a time
//! alongside the batches (`upload`); base64 data in payloads becomes attachments as records
//! are taken off the queue (`extract`).
//!
//! Owns: the exporter thread (`exporter`: the loop; `batch`: encoding; `settle`: what an
//! outcome does; `outage`: what is logged about failures; `flush`: waiting flushes; `watch`:
//! the long-span watch; `upload`, `extract`: attachments), the transports (`http`, `local`)
//! and starting a pipeline (`start`). May import `model`, `config`, `pipe` and `net`; never
//! `span` or `context`: the exporter sees records, not live spans.

// The exporter thread and the HTTP transport exist only in a build that records (the `enabled`
// feature): without it a client is inert and nothing here needs a runtime, gzip or HTTP.
#[cfg(feature = "enabled")]
mod batch;
#[cfg(feature = "enabled")]
mod exporter;
#[cfg(feature = "enabled")]
mod extract;
#[cfg(feature = "enabled")]
mod flush;
#[cfg(feature = "enabled")]
mod http;
pub(crate) mod local;
#[cfg(feature = "enabled")]
mod outage;
#[cfg(feature = "enabled")]
mod settle;
mod start;
pub(crate) mod transport;
#[cfg(feature = "enabled")]
mod upload;
#[cfg(feature = "enabled")]
mod watch;

pub use start::ClientError;

/// How many endpoints records are batched to (one list and one byte cap each).
#[cfg(feature = "enabled")]
const KINDS: usize = crate::model::RecordKind::ALL.len();

pub(crate) use local::local_client;
pub use local::{default_path, format_duration, render_trace, LocalTransport};
pub use transport::{EncodedBatch, SendFuture, SendOutcome, Transport, UploadFuture};
