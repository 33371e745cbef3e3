//! One attachment's upload over HTTP, the way Opik expects it (the Python SDK's `file_upload/`
//! does the same):
//!
//! 1. `POST /v1/private/attachment/upload-start` with the file's name, type, part count, its
//!    entity and project, and `path`, the base64 of the API base URL;
//! 2. when the answer's `upload_id` is `BEMinIO` (a self-hosted Opik): one `PUT` of the whole
//!    file to the URL it returned, which is Opik's own, with Opik's headers; done;
//! 3. otherwise (storage behind presigned URLs): one `PUT` per part to its URL, without Opik's
//!    headers, each answering an `ETag`; then `POST .../upload-complete` with the ETags.
//!
//! Each request is retried on its own under the exporter's retry policy, so a failed part does
//! not start the upload over. A file is streamed from disk a piece at a time, with its length
//! declared; bytes in memory are sent as slices of the shared buffer, never copied.

use super::plan::Parts;
use crate::model::{Attachment, AttachmentData, AttachmentRecord};
use crate::net::{self, Next, OpikHttp, RetryPolicy, Tries};
use crate::pipe::{DropReason, SendOutcome};
use base64::Engine as _;
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The `upload_id` of an upload the backend takes itself (self-hosted, MinIO).
const BACKEND_UPLOAD: &str = "BEMinIO";
/// The most of an upload-start answer read: 10 000 presigned URLs of a few hundred bytes each.
const START_ANSWER_CAP: usize = 16 << 20;
/// The piece of a file read at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Uploads attachments for one SDK client. Cheap to clone: each upload runs on its own clone.
#[derive(Clone)]
pub(crate) struct HttpUploader {
    http: OpikHttp,
    retry: RetryPolicy,
    timeout: Duration,
    /// `path` of upload-start: the base64 of the API base URL, which a self-hosted backend
    /// builds the upload URL from.
    path: Arc<str>,
}

#[derive(Serialize)]
struct StartBody<'a> {
    file_name: &'a str,
    num_of_file_parts: u64,
    mime_type: &'a str,
    project_name: &'a str,
    entity_type: &'a str,
    entity_id: String,
    path: &'a str,
}

#[derive(Deserialize)]
struct StartAnswer {
    upload_id: String,
    pre_sign_urls: Vec<String>,
}

#[derive(Serialize)]
struct CompleteBody<'a> {
    file_name: &'a str,
    project_name: &'a str,
    entity_type: &'a str,
    entity_id: String,
    file_size: u64,
    mime_type: &'a str,
    upload_id: &'a str,
    uploaded_file_parts: Vec<UploadedPart>,
}

#[derive(Serialize)]
struct UploadedPart {
    e_tag: String,
    part_number: u64,
}

/// A failure that ends the upload.
fn dropped(reason: DropReason, detail: String) -> SendOutcome {
    SendOutcome::Rejected {
        reason,
        status: None,
        detail,
    }
}

impl HttpUploader {
    pub(crate) fn new(http: OpikHttp, retry: RetryPolicy, timeout: Duration) -> Self {
        let path = base64::engine::general_purpose::STANDARD.encode(http.base_url());
        HttpUploader {
            http,
            retry,
            timeout,
            path: path.into(),
        }
    }

    /// Uploads `record`'s file; the outcome is `Delivered` or the failure it is dropped for.
    pub(crate) async fn upload(self, record: AttachmentRecord) -> SendOutcome {
        match self.run(&record).await {
            Ok(()) => SendOutcome::Delivered,
            Err(outcome) => outcome,
        }
    }

    async fn run(&self, record: &AttachmentRecord) -> Result<(), SendOutcome> {
        let a = &record.attachment;
        let size = current_size(a).await?;
        let parts = Parts::of(size)
            .map_err(|why| dropped(DropReason::TooLarge, format!("cannot upload: {why}")))?;
        let start = StartBody {
            file_name: a.file_name(),
            num_of_file_parts: parts.count,
            mime_type: a.mime_type(),
            project_name: &record.project_name,
            entity_type: record.entity.type_name(),
            entity_id: record.entity.id().to_string(),
            path: &self.path,
        };
        let started: StartAnswer = self.retrying("upload-start", || self.start(&start)).await?;
        if started.upload_id == BACKEND_UPLOAD {
            let url = started.pre_sign_urls.first().ok_or_else(|| {
                dropped(
                    DropReason::BadAnswer,
                    "upload-start answered no upload URL".into(),
                )
            })?;
            return self
                .retrying("the upload", || self.put_whole(url, a, size))
                .await;
        }
        if started.pre_sign_urls.len() as u64 != parts.count {
            return Err(dropped(
                DropReason::BadAnswer,
                format!(
                    "upload-start answered {} upload URLs for {} parts",
                    started.pre_sign_urls.len(),
                    parts.count
                ),
            ));
        }
        let mut uploaded = Vec::with_capacity(started.pre_sign_urls.len());
        for (index, url) in (0..).zip(&started.pre_sign_urls) {
            let what = format!("part {} of {}", index + 1, parts.count);
            let e_tag = self
                .retrying(&what, || self.put_part(url, a, parts.range(index)))
                .await?;
            uploaded.push(UploadedPart {
                e_tag,
                part_number: index + 1,
            });
        }
        let complete = CompleteBody {
            file_name: a.file_name(),
            project_name: &record.project_name,
            entity_type: record.entity.type_name(),
            entity_id: record.entity.id().to_string(),
            file_size: size,
            mime_type: a.mime_type(),
            upload_id: &started.upload_id,
            uploaded_file_parts: uploaded,
        };
        self.retrying("upload-complete", || self.complete(&complete))
            .await
    }

    /// Runs `step` until it succeeds, a failure is final, or the retry policy gives up.
    async fn retrying<T, F, Fut>(&self, what: &str, mut step: F) -> Result<T, SendOutcome>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SendOutcome>>,
    {
        let mut tries = Tries::default();
        loop {
            tries.start(Instant::now());
            let (after, reason, detail) = match step().await {
                Ok(v) => return Ok(v),
                Err(SendOutcome::Retry {
                    after,
                    reason,
                    detail,
                }) => (after, reason, detail),
                // A 409 here is no earlier delivery, as it is for a batch: the request failed.
                Err(SendOutcome::Delivered) => {
                    return Err(dropped(DropReason::Http4xx, format!("{what}: HTTP 409")))
                }
                Err(SendOutcome::TooLarge) => {
                    return Err(dropped(
                        DropReason::TooLarge,
                        format!("{what}: the server refused the request as too large"),
                    ))
                }
                Err(SendOutcome::Rejected {
                    reason,
                    status,
                    detail,
                }) => {
                    return Err(SendOutcome::Rejected {
                        reason,
                        status,
                        detail: format!("{what}: {detail}"),
                    })
                }
            };
            let rate_limited = reason == DropReason::RateLimitedExhausted;
            match self
                .retry
                .next(&mut tries, after, rate_limited, Instant::now())
            {
                Next::RetryAfter { wait, .. } => {
                    tracing::debug!(target: "opik", "opik: {what} failed ({detail}); retrying in {wait:.1?}");
                    tokio::time::sleep(wait).await;
                }
                Next::GiveUp => {
                    return Err(dropped(
                        reason,
                        format!(
                            "{what}: gave up after {} attempts: {detail}",
                            tries.attempts
                        ),
                    ))
                }
            }
        }
    }

    async fn start(&self, body: &StartBody<'_>) -> Result<StartAnswer, SendOutcome> {
        let json = serde_json::to_vec(body)
            .map_err(|e| dropped(DropReason::Serialization, e.to_string()))?;
        let request = self
            .http
            .json(Method::POST, "/v1/private/attachment/upload-start", &json)
            .map_err(|e| dropped(DropReason::Serialization, format!("gzip failed: {e}")))?;
        let mut response = net::send(request).await?;
        let text = net::read_capped(&mut response, START_ANSWER_CAP).await;
        serde_json::from_slice(&text).map_err(|e| {
            dropped(
                DropReason::BadAnswer,
                format!(
                    "upload-start answered something that is not an upload ({e}): {}",
                    net::truncate(&String::from_utf8_lossy(&text), 300)
                ),
            )
        })
    }

    /// The whole file to the backend's own upload URL, with Opik's headers.
    async fn put_whole(&self, url: &str, a: &Attachment, size: u64) -> Result<(), SendOutcome> {
        let body = body(a, 0, size).await?;
        let request = self.http.to_opik_url(Method::PUT, url);
        net::send(self.with_body(request, body, size)).await?;
        Ok(())
    }

    /// One part to its presigned URL, without Opik's headers; answers the part's ETag.
    async fn put_part(
        &self,
        url: &str,
        a: &Attachment,
        (offset, len): (u64, u64),
    ) -> Result<String, SendOutcome> {
        let body = body(a, offset, len).await?;
        let request = self.http.to_presigned_url(Method::PUT, url);
        let response = net::send(self.with_body(request, body, len)).await?;
        let e_tag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        e_tag.ok_or_else(|| {
            dropped(
                DropReason::BadAnswer,
                "the storage answered a part without its ETag".into(),
            )
        })
    }

    async fn complete(&self, body: &CompleteBody<'_>) -> Result<(), SendOutcome> {
        let json = serde_json::to_vec(body)
            .map_err(|e| dropped(DropReason::Serialization, e.to_string()))?;
        let request = self
            .http
            .json(
                Method::POST,
                "/v1/private/attachment/upload-complete",
                &json,
            )
            .map_err(|e| dropped(DropReason::Serialization, format!("gzip failed: {e}")))?;
        net::send(request).await?;
        Ok(())
    }

    fn with_body(
        &self,
        request: reqwest::RequestBuilder,
        body: reqwest::Body,
        len: u64,
    ) -> reqwest::RequestBuilder {
        request
            .timeout(self.timeout)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            // Declared, so a streamed body goes length-delimited: storage refuses a chunked
            // upload without a length.
            .header(CONTENT_LENGTH, len)
            .body(body)
    }
}

/// The size to upload: a file's now (it may have changed since it was attached).
async fn current_size(a: &Attachment) -> Result<u64, SendOutcome> {
    match a.data() {
        AttachmentData::Bytes(b) => Ok(b.len() as u64),
        AttachmentData::File { path, .. } => tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .map_err(|e| unreadable(path, &e)),
    }
}

fn unreadable(path: &std::path::Path, e: &std::io::Error) -> SendOutcome {
    dropped(
        DropReason::FileUnreadable,
        format!("cannot read {}: {e}", path.display()),
    )
}

/// `len` bytes from `offset`: a slice of the shared buffer, or the file streamed.
async fn body(a: &Attachment, offset: u64, len: u64) -> Result<reqwest::Body, SendOutcome> {
    match a.data() {
        AttachmentData::Bytes(b) => {
            let (from, to) = (offset as usize, (offset + len) as usize);
            Ok(reqwest::Body::from(b.slice(from..to)))
        }
        AttachmentData::File { path, .. } => {
            let mut file = tokio::fs::File::open(path)
                .await
                .map_err(|e| unreadable(path, &e))?;
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| unreadable(path, &e))?;
            let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), READ_CHUNK);
            Ok(reqwest::Body::wrap_stream(stream))
        }
    }
}
