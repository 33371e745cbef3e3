//! A read/write client of Opik's REST API, for what is not shipped in the exporter's batches:
//! datasets and their items, experiments and their items.
//!
//! Every call is one typed request (`datasets`, `experiments`) through [`RestClient`]
//! (`client`), over the same `net` layer as the exporter: JSON bodies compressed, with Opik's
//! headers, its proxy and redirect rules, and its retry policy (a 429's `Retry-After` /
//! `RateLimit-Reset` honoured); NDJSON streams read page by page (`ndjson`), and a
//! [`RestError`] that names the call, the status and the server's own message (`error`).
//! Absent fields are left out of requests, never sent as `null` (the backend's spec types have
//! no nulls).
//!
//! Owns: the wire types of those endpoints and how they are called. May import `config`,
//! `model` and `net` only: it knows nothing of spans, the exporter or evaluation, which sits
//! above it.

// Only evaluation calls it so far; in a build without it the client is compiled but unused.
#![cfg_attr(not(feature = "evaluation"), allow(dead_code, unused_imports))]

mod client;
mod datasets;
mod error;
mod experiments;
mod ndjson;

pub(crate) use client::RestClient;
pub(crate) use datasets::{
    DatasetItemWrite, ItemPublic, ItemStreamRequest, MAX_ITEMS_PER_BATCH, MAX_STREAM_PAGE,
};
pub use error::{RestError, RestErrorKind};
pub(crate) use experiments::{ExperimentItemWrite, ExperimentWrite, MAX_EXPERIMENT_ITEMS};
