//! Where encoded batches go. The HTTP transport sends them to Opik; other transports (local
//! view, in-memory capture for tests) receive the very same bodies.

use crate::model::RecordKind;
pub use crate::pipe::SendOutcome;
use std::future::Future;
use std::pin::Pin;

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

/// Sends encoded batches somewhere.
pub trait Transport: Send + 'static {
    /// Sends one batch; called again with the same batch on retries.
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a>;
}
