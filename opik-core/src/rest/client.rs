//! [`RestClient`]: one request at a time to Opik's REST API, gzip JSON in, JSON or NDJSON out,
//! retried within the exporter's limits.

use super::error::{RestError, RestErrorKind};
use super::retry::{retryable, RetryPolicy};
use crate::config::Config;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;

/// The headers every request to Opik carries: JSON, gzip, the workspace, the raw API key (no
/// `Bearer`). The same set `export/http.rs` builds for the exporter; written so that both
/// transports can later build their `reqwest::Client` from this one function (today the
/// exporter keeps its own copy, to leave its file untouched by this layer).
pub(crate) fn opik_headers(config: &Config) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let workspace = HeaderValue::from_str(config.workspace())
        .map_err(|_| "workspace name is not a valid HTTP header value".to_owned())?;
    headers.insert(HeaderName::from_static("comet-workspace"), workspace);
    if let Some(key) = config.api_key() {
        let mut value = HeaderValue::from_str(key.expose())
            .map_err(|_| "the API key is not a valid HTTP header value".to_owned())?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

/// A client of Opik's REST API. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RestClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

/// A successful answer: its status, body, and the id a `201 Created` names in `Location`.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
    pub(crate) location: Option<String>,
}

impl Answer {
    /// The last path segment of `Location` (the backend sends an absolute URL, the fake a path).
    pub(crate) fn created_id(&self) -> Option<&str> {
        self.location
            .as_deref()
            .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
            .filter(|s| !s.is_empty())
    }
}

/// One request, built by [`RestClient::get`] and its siblings.
pub(crate) struct Request<'c> {
    client: &'c RestClient,
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Result<Vec<u8>, String>>,
    idempotent: bool,
}

impl RestClient {
    /// A client of the server `config` names, with the exporter's headers, timeouts and retry
    /// settings.
    pub(crate) fn new(config: &Config) -> Result<RestClient, RestError> {
        let failed = |m: String| RestError::new("REST client", RestErrorKind::Request, None, m);
        let headers = opik_headers(config).map_err(failed)?;
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("opik-rs/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout())
            .timeout(config.request_timeout())
            .build()
            .map_err(|e| failed(format!("could not build the HTTP client: {e}")))?;
        Ok(RestClient {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url().to_owned(),
                retry: RetryPolicy::from_config(config),
            }),
        })
    }

    fn request(&self, method: Method, path: impl Into<String>) -> Request<'_> {
        Request {
            client: self,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: true,
        }
    }

    pub(crate) fn get(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::GET, path)
    }

    pub(crate) fn post(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::POST, path)
    }

    pub(crate) fn put(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::PUT, path)
    }

    pub(crate) fn patch(&self, path: impl Into<String>) -> Request<'_> {
        self.request(Method::PATCH, path)
    }
}

impl Request<'_> {
    /// A query parameter.
    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// The JSON body (gzip-encoded on the wire).
    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.body = Some(
            serde_json::to_vec(body)
                .map_err(|e| format!("the request body does not serialize: {e}"))
                .and_then(|json| gzip(&json).map_err(|e| format!("gzip failed: {e}"))),
        );
        self
    }

    /// Marks a call that must not be repeated after a lost answer (a create without a
    /// client-side id): only a 429, which the server did not act on, is retried.
    pub(crate) fn once(mut self) -> Self {
        self.idempotent = false;
        self
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Sends the request, retrying as [`RetryPolicy`] allows; an error status is an error.
    pub(crate) async fn send(self) -> Result<Answer, RestError> {
        let call = self.name();
        let body = match self.body.transpose() {
            Ok(body) => body,
            Err(m) => return Err(RestError::new(call, RestErrorKind::Request, None, m)),
        };
        let inner = &self.client.inner;
        let url = format!("{}{}", inner.base_url, self.path);
        let policy = inner.retry;
        let mut attempt = 0u32;
        loop {
            let mut request = inner.http.request(self.method.clone(), &url);
            if !self.query.is_empty() {
                request = request.query(&self.query);
            }
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_ENCODING, "gzip")
                    .body(body.clone());
            }
            let last = attempt >= policy.max_retries;
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if !last && self.idempotent && !e.is_builder() => {
                    tracing::debug!(target: "opik", "opik: {call}: {e}; retrying");
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(RestError::new(
                        call,
                        RestErrorKind::Network,
                        None,
                        describe(&e),
                    ))
                }
            };
            let status = response.status().as_u16();
            if retryable(status) && !last && (status == 429 || self.idempotent) {
                let wait = if status == 429 || status == 503 {
                    policy.rate_limit_wait(response.headers(), attempt)
                } else {
                    policy.backoff(attempt)
                };
                tracing::debug!(target: "opik", "opik: {call}: HTTP {status}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = response.bytes().await.map_err(|e| {
                RestError::new(call.clone(), RestErrorKind::Network, None, describe(&e))
            })?;
            if !(200..300).contains(&status) {
                return Err(RestError::status(call, status, &bytes));
            }
            return Ok(Answer {
                body: bytes.to_vec(),
                location,
            });
        }
    }

    /// Sends the request and reads the answer as `R`.
    pub(crate) async fn fetch<R: DeserializeOwned>(self) -> Result<R, RestError> {
        let call = self.name();
        let answer = self.send().await?;
        serde_json::from_slice(&answer.body).map_err(|e| {
            RestError::new(
                call,
                RestErrorKind::Decode,
                None,
                format!("the answer is not the JSON the API describes: {e}"),
            )
        })
    }
}

fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::fast());
    enc.write_all(json)?;
    enc.finish()
}

/// A reqwest error with its causes (reqwest's `Display` names the URL, never headers, so the
/// key cannot leak here).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
