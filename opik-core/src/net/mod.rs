//! Talking to Opik over HTTP, for every part of the SDK that does: the clients, built once per
//! SDK client from its `Config` (`client`), what an answer means (`answer`), when a failed
//! request is tried again (`retry`), and the healthcheck that asks the server whether the
//! configuration works (`health`, `health_report`).
//!
//! Owns: the HTTP conventions of Opik's API (headers, gzip, TLS roots, no redirects, the proxy
//! choice, `Retry-After` and friends, which statuses are worth a retry). May import `config` and
//! `pipe` (for [`SendOutcome`](crate::pipe::SendOutcome) and the drop reasons); the exporter
//! and the REST calls sit above it.

mod answer;
mod client;
mod health;
mod health_report;
mod retry;

pub(crate) use answer::{
    describe, read_capped, retry_after, send, send_where, truncate, worth_retrying, Conflict,
    ERROR_BODY_CAP,
};
pub(crate) use client::{JsonBody, OpikHttp};
pub use health::{healthcheck, healthcheck_async, healthcheck_with};
pub use health_report::{Check, HealthReport, Outcome};
pub(crate) use retry::{Next, RetryPolicy, Tries};
