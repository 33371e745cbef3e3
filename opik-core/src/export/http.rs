//! The HTTP transport: each batch as gzip-compressed JSON to Opik's REST API, through the SDK
//! client's [`OpikHttp`] (headers, proxy, no redirects: see `net`).

use super::transport::{EncodedBatch, SendFuture, SendOutcome, Transport};
use crate::config::Config;
use crate::net::{self, OpikHttp};
use crate::pipe::DropReason;
use reqwest::Method;

/// Sends batches to `{base}/v1/private/...`.
pub(crate) struct HttpTransport {
    http: OpikHttp,
}

impl HttpTransport {
    pub(crate) fn new(config: &Config) -> Result<Self, String> {
        Ok(HttpTransport {
            http: OpikHttp::new(config)?,
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
            match net::send(request).await {
                Ok(_) => SendOutcome::Delivered,
                Err(outcome) => outcome,
            }
        })
    }
}
