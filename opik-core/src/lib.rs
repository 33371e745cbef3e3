//! Runtime of the `opik` crate: configuration, records, task-local context, the recorder that
//! `#[track]` drives, and the exporter. Users depend on `opik`; generated code reaches this
//! crate only through `::opik::__private`.

pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod distributed;
pub mod explicit;
pub mod export;
pub mod feedback;
pub mod id;
pub mod propagation;
pub mod record;
pub mod recorder;
pub mod sdk;
pub mod stats;
pub mod update;
pub mod usage;

pub use client::{Client, ClientError};
pub use export::FlushReport;
/// The `http` crate whose `HeaderMap` distributed headers use.
pub use http;
pub use stats::{DropReason, Stats};
