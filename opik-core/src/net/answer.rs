//! What an answer from Opik (or a presigned storage URL) means: delivered, worth retrying (and
//! after how long the server asked to wait), too large, or refused; read without trusting the
//! server with the SDK's memory (an error body is read at most [`ERROR_BODY_CAP`] deep).

use crate::pipe::{DropReason, SendOutcome};
use std::time::Duration;

/// What a 409 answer means for what was sent: it depends on the endpoint (the backend's
/// services answer 409 for different things).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conflict {
    /// A create of something whose id the SDK made: the server has it already, from an earlier
    /// attempt whose answer was lost (trace and span batches are upserts, so a 409 there only
    /// ever said "exists"; attachment uploads).
    AlreadyThere,
    /// A refusal: feedback scores are upserts by entity and name, never "already there", so a
    /// 409 is the server refusing them. Backends before OPIK-4035 (January 2026) answer it to
    /// a thread's scores while the thread is still open.
    Refused,
}

/// Sends a create: the response when it is a 2xx, else what the failure means (409, which a
/// create counts as delivered, comes back as [`SendOutcome::Delivered`]).
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, SendOutcome> {
    send_where(request, Conflict::AlreadyThere).await
}

/// [`send`], reading a 409 as `conflict` says.
pub(crate) async fn send_where(
    request: reqwest::RequestBuilder,
    conflict: Conflict,
) -> Result<reqwest::Response, SendOutcome> {
    match request.send().await {
        Ok(response) if response.status().is_success() => Ok(response),
        Ok(response) => Err(classify(response, conflict).await),
        Err(e) => Err(SendOutcome::Retry {
            after: None,
            reason: DropReason::Network,
            detail: describe(&e),
        }),
    }
}

/// Whether an answer with `status` is worth another attempt (of a request that is safe to
/// repeat): 408, 429 and the 5xx of an overloaded or restarting server. [`classify`] retries
/// exactly these.
pub(crate) fn worth_retrying(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// How much of an error answer's body is read: far more than the 300 characters the log shows
/// or the size check needs, and a bound on what a broken or hostile server (a 500 with a body
/// of gigabytes) costs in memory and time.
pub(crate) const ERROR_BODY_CAP: usize = 64 * 1024;

/// What a response means for the batch (a 409 as `conflict` says). The body of a 2xx is
/// never read, and of an error answer at most [`ERROR_BODY_CAP`]: dropping the response with
/// its body unread closes the connection instead of returning it to the pool, which is what a
/// stream nobody wants needs.
pub(crate) async fn classify(mut response: reqwest::Response, conflict: Conflict) -> SendOutcome {
    let status = response.status().as_u16();
    if (200..300).contains(&status) || (status == 409 && conflict == Conflict::AlreadyThere) {
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
        409 => SendOutcome::Rejected {
            reason: DropReason::Conflict,
            status: Some(status),
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
pub(crate) async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Vec<u8> {
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

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(crate) fn describe(e: &reqwest::Error) -> String {
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
    use reqwest::header::{HeaderMap, HeaderValue};

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
    fn classify_retries_exactly_what_is_worth_retrying() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for status in (200..600).step_by(1) {
            let response = http::Response::builder()
                .status(status)
                .body(Vec::new())
                .unwrap();
            let outcome = rt.block_on(classify(
                reqwest::Response::from(response),
                Conflict::AlreadyThere,
            ));
            assert_eq!(
                matches!(outcome, SendOutcome::Retry { .. }),
                worth_retrying(status),
                "{status}: {outcome:?}"
            );
        }
    }

    #[test]
    fn a_409_is_delivered_for_a_create_and_a_counted_refusal_for_scores() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let answer = || {
            reqwest::Response::from(
                http::Response::builder()
                    .status(409)
                    .body(br#"{"code":409,"message":"Threads are not closed"}"#.to_vec())
                    .unwrap(),
            )
        };
        assert_eq!(
            rt.block_on(classify(answer(), Conflict::AlreadyThere)),
            SendOutcome::Delivered
        );
        match rt.block_on(classify(answer(), Conflict::Refused)) {
            SendOutcome::Rejected {
                reason: DropReason::Conflict,
                status: Some(409),
                detail,
            } => assert!(detail.contains("Threads are not closed"), "{detail}"),
            other => panic!("{other:?}"),
        }
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
