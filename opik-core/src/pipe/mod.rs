//! The boundary between the app's threads and the exporter: the bounded queue records go
//! through, the [`Client`] handle that feeds it, the delivery counters, and the control
//! messages (flush, shutdown) the exporter answers.
//!
//! Owns: what producers and the exporter share, and nothing of either side's logic. May import
//! `model` and `config`. The exporter sees records (data), never live spans: the long-span
//! watch reaches running spans only through the [`Watched`] trait, which `span` implements.

mod client;
mod deadline;
mod outcome;
mod produced;
mod queue;
mod stats;
mod watched;

pub use client::Client;
pub(crate) use deadline::{after, later};
pub use outcome::SendOutcome;
pub(crate) use queue::{Control, Pipe, Reply};
pub use stats::{DropReason, FlushReport, Stats};
pub(crate) use watched::Watched;
