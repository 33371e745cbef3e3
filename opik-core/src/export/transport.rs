//! Where encoded batches and attachments go. The HTTP transport sends them to Opik; other
//! transports (local view, in-memory capture for tests) receive the very same bodies and files.

use crate::model::{AttachmentRecord, RecordKind};
pub use crate::pipe::SendOutcome;
use std::future::Future;
use std::path::Path;
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

/// An attachment upload under way. It owns what it needs, so that several run at once, on the
/// exporter's thread (it need not be `Send`).
pub type UploadFuture = Pin<Box<dyn Future<Output = SendOutcome> + 'static>>;

/// Sends encoded batches and uploads attachments somewhere.
pub trait Transport: Send + 'static {
    /// Sends one batch; called again with the same batch on retries.
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a>;

    /// Uploads one attachment, retrying as it needs to (the HTTP transport retries each request
    /// under the exporter's retry settings), and reports the end of it:
    /// [`SendOutcome::Delivered`], or the failure it is dropped for (a `Retry` is taken as
    /// retries having run out). Up to `max_concurrent_uploads` run at once; the exporter
    /// cancels those still running at the shutdown deadline.
    fn upload(&mut self, attachment: AttachmentRecord) -> UploadFuture;

    /// The JSON lines file this transport appends every request to, if it does (the local
    /// view): searches and gets of a client without a server answer from it.
    fn local_file(&self) -> Option<&Path> {
        None
    }
}
