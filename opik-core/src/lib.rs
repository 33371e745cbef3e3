//! Runtime of the `opik` crate: configuration, records, task-local context, the recorder that
//! `#[track]` drives, and the exporter. Users depend on `opik`; generated code reaches this
//! crate only through `::opik::__private`.

pub mod client;
pub mod clock;
pub mod config;
pub mod context;
pub mod export;
pub mod id;
pub mod record;
pub mod recorder;
pub mod sdk;
pub mod stats;

pub use client::{Client, ClientError};
pub use export::FlushReport;
pub use stats::{DropReason, Stats};
