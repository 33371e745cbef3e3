//! [`RestClient`]: one request at a time to Opik's REST API, JSON in, JSON or NDJSON out,
//! through the SDK's [`OpikHttp`] (headers, proxy, no redirects) and retried under the
//! exporter's [`RetryPolicy`]: the same conventions as the exporter's batches, from `net`.

use super::error::{RestError, RestErrorKind};
use crate::config::Config;
use crate::net::{self, JsonBody, Next, OpikHttp, RetryPolicy, Tries};
use crate::pipe::Client;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// A client of Opik's REST API. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RestClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: OpikHttp,
    retry: RetryPolicy,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base_url", &self.inner.http.base_url())
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
    body: Option<Result<JsonBody, String>>,
    idempotent: bool,
}

impl RestClient {
    /// The REST client of an SDK client that sends to an Opik server: made on first use and
    /// kept with the SDK client, so that all its calls share one connection pool. `None` when
    /// the client has no server (the local view, a test capture).
    pub(crate) fn of(client: &Client) -> Option<Result<RestClient, RestError>> {
        let config = client.server()?;
        Some(
            client
                .shared(|| RestClient::new(config))
                .map(|rest| RestClient::clone(&rest)),
        )
    }

    /// The retry policy its calls follow (for reads that resume a stream themselves).
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// A client of the server `config` names, with the exporter's headers, timeouts and retry
    /// settings.
    pub(crate) fn new(config: &Config) -> Result<RestClient, RestError> {
        let http = OpikHttp::new(config)
            .map_err(|m| RestError::new("REST client", RestErrorKind::Request, None, m))?;
        Ok(RestClient {
            inner: Arc::new(Inner {
                http,
                retry: RetryPolicy::new(config.export()),
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

    /// The JSON body (gzip-compressed on the wire as the configuration says).
    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        let http = &self.client.inner.http;
        self.body = Some(
            serde_json::to_vec(body)
                .map_err(|e| format!("the request body does not serialize: {e}"))
                .and_then(|json| http.encode(&json).map_err(|e| format!("gzip failed: {e}"))),
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

    /// Sends the request, retrying as [`RetryPolicy`] allows (a call that is not safe to
    /// repeat only after a 429, which the server did not act on); an error status is an error.
    pub(crate) async fn send(self) -> Result<Answer, RestError> {
        let call = self.name();
        let response = self.respond().await?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RestError::new(call, RestErrorKind::Network, None, net::describe(&e)))?;
        Ok(Answer {
            body: bytes.to_vec(),
            location,
        })
    }

    /// Like [`send`](Self::send), but the answer's body is left to the caller to read as it
    /// arrives (an NDJSON stream, read line by line: see `ndjson::Lines`).
    pub(crate) async fn respond(self) -> Result<reqwest::Response, RestError> {
        let call = self.name();
        let body = match self.body.transpose() {
            Ok(body) => body,
            Err(m) => return Err(RestError::new(call, RestErrorKind::Request, None, m)),
        };
        let inner = &self.client.inner;
        let mut tries = Tries::default();
        loop {
            let mut request = match &body {
                Some(body) => inner.http.with_json(self.method.clone(), &self.path, body),
                None => inner.http.to_api(self.method.clone(), &self.path),
            };
            if !self.query.is_empty() {
                request = request.query(&self.query);
            }
            tries.start(Instant::now());
            let (retry, after, failure) = match request.send().await {
                Err(e) => {
                    let failure = RestError::new(
                        call.clone(),
                        RestErrorKind::Network,
                        None,
                        net::describe(&e),
                    );
                    (self.idempotent && !e.is_builder(), None, failure)
                }
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let after = net::retry_after(response.headers());
                    let text = net::read_capped(&mut response, net::ERROR_BODY_CAP).await;
                    let failure = RestError::status(call.clone(), status, &text);
                    let retry = net::worth_retrying(status) && (status == 429 || self.idempotent);
                    (
                        retry,
                        after.filter(|_| matches!(status, 429 | 503)),
                        failure,
                    )
                }
            };
            if !retry {
                return Err(failure);
            }
            let rate_limited = failure.http_status() == Some(429);
            match inner
                .retry
                .next(&mut tries, after, rate_limited, Instant::now())
            {
                Next::RetryAfter { wait, .. } => {
                    tracing::debug!(target: "opik", "{failure}; retrying in {wait:.1?}");
                    tokio::time::sleep(wait).await;
                }
                Next::GiveUp => return Err(failure),
            }
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
