//! The HTTP transport: each batch as JSON (gzip-compressed as configured) to Opik's REST API,
//! and each attachment uploaded as Opik expects (`upload::http`), through the SDK client's
//! [`OpikHttp`] (headers, proxy, TLS, no redirects: see `net`).

use super::transport::{EncodedBatch, SendFuture, SendOutcome, Transport, UploadFuture};
use super::upload::http::HttpUploader;
use crate::config::Config;
use crate::model::{AttachmentRecord, RecordKind};
use crate::net::{self, Conflict, OpikHttp, RetryPolicy};
use crate::pipe::DropReason;
use reqwest::Method;

/// Sends batches to `{base}/v1/private/...`, and uploads attachments.
pub(crate) struct HttpTransport {
    http: OpikHttp,
    uploader: HttpUploader,
}

impl HttpTransport {
    pub(crate) fn new(config: &Config) -> Result<Self, String> {
        let http = OpikHttp::new(config)?;
        let retry = RetryPolicy::new(config.export());
        Ok(HttpTransport {
            uploader: HttpUploader::new(http.clone(), retry, config.upload_timeout()),
            http,
        })
    }
}

impl Transport for HttpTransport {
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a> {
        Box::pin(async move {
            let method = match batch.kind.method() {
                "POST" => Method::POST,
                _ => Method::PUT,
            };
            let request = match self.http.json(method, batch.kind.path(), &batch.json) {
                Ok(r) => r,
                Err(e) => {
                    return SendOutcome::Rejected {
                        reason: DropReason::Serialization,
                        status: None,
                        detail: format!("gzip failed: {e}"),
                    }
                }
            };
            // A 409 is "already there" for a batch create, a refusal for feedback scores.
            let conflict = match batch.kind {
                RecordKind::Trace | RecordKind::Span | RecordKind::Attachment => {
                    Conflict::AlreadyThere
                }
                RecordKind::TraceFeedback
                | RecordKind::SpanFeedback
                | RecordKind::ThreadFeedback => Conflict::Refused,
            };
            match net::send_where(request, conflict).await {
                Ok(_) => SendOutcome::Delivered,
                Err(outcome) => outcome,
            }
        })
    }

    fn upload(&mut self, attachment: AttachmentRecord) -> UploadFuture {
        Box::pin(self.uploader.clone().upload(attachment))
    }
}
