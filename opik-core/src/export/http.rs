//! The HTTP transport: gzip-compressed JSON to Opik's REST API.
//!
//! What it does not do, on purpose:
//! - follow redirects: a 3xx is an error naming its `Location`, the batch is dropped as
//!   `redirect` (a 301/302/303 would be replayed as a body-less GET whose 2xx would count
//!   records as delivered that no server got; a 307/308 would carry them to another host);
//! - read an error answer's body past [`ERROR_BODY_CAP`] (64 KiB), whatever its length;
//! - use the proxies of the process environment: it goes through the proxy `Config` chose
//!   (`config::proxy`: https only, never for loopback or for a key over plain http), or none.

use super::transport::{EncodedBatch, SendFuture, SendOutcome, Transport};
use crate::config::{Config, ProxyChoice, ProxyIgnored};
use crate::pipe::DropReason;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::io::Write;
use std::time::Duration;

/// Sends batches to `{base}/v1/private/...` with the workspace and key headers.
pub(crate) struct HttpTransport {
    client: reqwest::Client,
    base_url: String,
}

impl HttpTransport {
    pub(crate) fn new(config: &Config) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            reqwest::header::CONTENT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
        let workspace = HeaderValue::from_str(config.workspace())
            .map_err(|_| "workspace name is not a valid HTTP header value".to_owned())?;
        headers.insert(HeaderName::from_static("comet-workspace"), workspace);
        if let Some(key) = config.api_key() {
            // Opik takes the raw key, without "Bearer ".
            let mut value = HeaderValue::from_str(key.expose())
                .map_err(|_| "the API key is not a valid HTTP header value".to_owned())?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let mut builder = reqwest::Client::builder()
            // Never the proxies of the process environment: `Config` chose, from the
            // variables its own environment gives, whether this URL goes through one.
            .no_proxy()
            .default_headers(headers)
            .user_agent(concat!("opik-rs/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout())
            .timeout(config.request_timeout())
            // A redirect is an error, never followed: a 301/302/303 would be replayed as a GET
            // without the body (and its 2xx would count records as delivered that no server
            // got), a 307/308 would carry the records to another host.
            .redirect(reqwest::redirect::Policy::none());
        match config.proxy() {
            ProxyChoice::Direct => {}
            ProxyChoice::Via(proxy) => {
                let via = reqwest::Proxy::all(proxy.url.as_str())
                    .map_err(|e| format!("the proxy {proxy} cannot be used: {e}"))?;
                builder = builder.proxy(via);
                tracing::debug!(target: "opik", "opik: sending to Opik through the proxy {proxy}");
            }
            ignored @ ProxyChoice::Ignored { why, .. } => match why {
                ProxyIgnored::KeyOverPlainHttp | ProxyIgnored::Unusable(_) => tracing::warn!(
                    target: "opik",
                    "opik: connecting to Opik directly, proxy={ignored}; use an https:// URL to \
                     go through the proxy"
                ),
                ProxyIgnored::Loopback | ProxyIgnored::NoProxy(_) => {
                    tracing::debug!(target: "opik", "opik: connecting to Opik directly, proxy={ignored}")
                }
            },
        }
        let client = builder
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(HttpTransport {
            client,
            base_url: config.base_url().to_owned(),
        })
    }
}

fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::fast());
    enc.write_all(json)?;
    enc.finish()
}

impl Transport for HttpTransport {
    fn send<'a>(&'a mut self, batch: &'a EncodedBatch) -> SendFuture<'a> {
        Box::pin(async move {
            let body = match gzip(&batch.json) {
                Ok(b) => b,
                Err(e) => {
                    return SendOutcome::Rejected {
                        reason: DropReason::Serialization,
                        status: None,
                        detail: format!("gzip failed: {e}"),
                    }
                }
            };
            let url = format!("{}{}", self.base_url, batch.kind.path());
            let request = match batch.kind.method() {
                "POST" => self.client.post(url),
                _ => self.client.put(url),
            };
            match request.body(body).send().await {
                Ok(response) => classify(response).await,
                Err(e) => SendOutcome::Retry {
                    after: None,
                    reason: DropReason::Network,
                    detail: describe_reqwest_error(&e),
                },
            }
        })
    }
}

/// How much of an error answer's body is read: far more than the 300 characters the log shows
/// or the size check needs, and a bound on what a broken or hostile server (a 500 with a body
/// of gigabytes) costs in memory and time.
pub(crate) const ERROR_BODY_CAP: usize = 64 * 1024;

/// What a response means for the batch. The body of a 2xx is never read, and of an error
/// answer at most [`ERROR_BODY_CAP`]: dropping the response with its body unread closes the
/// connection instead of returning it to the pool, which is what a stream nobody wants needs.
async fn classify(mut response: reqwest::Response) -> SendOutcome {
    let status = response.status().as_u16();
    if (200..300).contains(&status) || status == 409 {
        return SendOutcome::Delivered;
    }
    let after = retry_after(response.headers());
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| truncate(&String::from_utf8_lossy(v.as_bytes()), 300).to_owned());
    let body = read_capped(&mut response, ERROR_BODY_CAP).await;
    drop(response);
    let text = String::from_utf8_lossy(&body);
    let detail = format!("HTTP {status}: {}", truncate(&text, 300));
    match status {
        300..=399 => SendOutcome::Rejected {
            reason: DropReason::Redirect,
            status: Some(status),
            detail: match location {
                Some(l) => format!("HTTP {status} to {l}"),
                None => format!("HTTP {status} without a Location"),
            },
        },
        429 => SendOutcome::Retry {
            after,
            reason: DropReason::RateLimitedExhausted,
            detail,
        },
        408 => SendOutcome::Retry {
            after,
            reason: DropReason::Network,
            detail,
        },
        500 | 502 | 503 | 504 => SendOutcome::Retry {
            after,
            reason: DropReason::Http5xxExhausted,
            detail,
        },
        413 => SendOutcome::TooLarge,
        400 | 422 if names_size(&text) => SendOutcome::TooLarge,
        _ if status >= 500 => SendOutcome::Rejected {
            reason: DropReason::Http5xxExhausted,
            status: Some(status),
            detail,
        },
        _ => SendOutcome::Rejected {
            reason: DropReason::Http4xx,
            status: Some(status),
            detail,
        },
    }
}

/// The first `cap` bytes of the body (fewer if it ends first, or breaks off: an error answer's
/// text is only for the log). The rest is never read.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(cap - out.len());
                out.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// The wait a 429/503 asks for: `Retry-After` (seconds, or an HTTP date as RFC 9110 allows)
/// or `RateLimit-Reset` (seconds), or Opik's `Opik-*-Remaining-Limit-TTL-Millis`.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let seconds = |name: &str| {
        text(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    };
    // `Retry-After: Fri, 27 Nov 2026 18:00:00 GMT`: the wait until then (none if it passed).
    let date = |name: &str| {
        text(name)
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(|at| {
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            })
    };
    if let Some(d) = seconds("retry-after")
        .or_else(|| date("retry-after"))
        .or_else(|| seconds("ratelimit-reset"))
    {
        return Some(d);
    }
    headers.iter().find_map(|(name, value)| {
        let name = name.as_str();
        (name.starts_with("opik-") && name.ends_with("-remaining-limit-ttl-millis"))
            .then(|| value.to_str().ok()?.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_millis)
    })
}

/// Whether a 400/422 body blames the request's size (proxies and the backend word it
/// differently: "Request Entity Too Large", "payload size exceeds...", "body too big").
pub(crate) fn names_size(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "too large",
        "too big",
        "payload size",
        "request size",
        "body size",
        "size limit",
    ]
    .iter()
    .any(|needle| t.contains(needle))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    // reqwest's Display includes the URL but never headers, so the key cannot leak here.
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_every_header_kind() {
        let s = Duration::from_secs;
        assert_eq!(retry_after(&headers(&[("retry-after", "2")])), Some(s(2)));
        assert_eq!(
            retry_after(&headers(&[("ratelimit-reset", " 3 ")])),
            Some(s(3))
        );
        assert_eq!(
            retry_after(&headers(&[(
                "opik-traces-remaining-limit-ttl-millis",
                "1500"
            )])),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.25")])),
            Some(Duration::from_millis(250))
        );
        // Retry-After wins over the others; nonsense is ignored.
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1"), ("ratelimit-reset", "9")])),
            Some(s(1))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")])), None);
        // The HTTP-date form: the time left until then (whole seconds on the wire), or none.
        let in_5s = httpdate::fmt_http_date(std::time::SystemTime::now() + s(5));
        let wait = retry_after(&headers(&[("retry-after", &in_5s)])).expect("a date is a wait");
        assert!(wait > s(3) && wait <= s(5), "{in_5s}: {wait:?}");
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn names_size_recognises_size_complaints() {
        assert!(names_size("Request Entity Too Large"));
        assert!(names_size("{\"errors\":[\"payload size exceeds 20MB\"]}"));
        assert!(!names_size("{\"errors\":[\"name must not be blank\"]}"));
    }

    #[test]
    fn an_error_body_is_read_up_to_the_cap_only() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let big = vec![b'x'; 4 * ERROR_BODY_CAP];
        let mut response = reqwest::Response::from(http::Response::new(big));
        let read = rt.block_on(read_capped(&mut response, ERROR_BODY_CAP));
        assert_eq!(read.len(), ERROR_BODY_CAP);
        let mut short = reqwest::Response::from(http::Response::new(b"short".to_vec()));
        assert_eq!(
            rt.block_on(read_capped(&mut short, ERROR_BODY_CAP)),
            b"short"
        );
    }

    #[test]
    fn long_server_messages_are_cut_on_a_char_boundary() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 10), "hi");
    }
}
