//! Scripted replies.

use std::time::Duration;

use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Answer with the status, headers and body.
    Respond,
    /// Read the request, then never answer: the connection stays open until the server drops.
    Never,
    /// Read the request, then close the connection without a response.
    Close,
    /// Answer as the server would without a script (the operation's success status).
    Default,
}

/// One scripted answer to one request.
///
/// Build it with [`Reply::status`], [`Reply::never`], [`Reply::close`] or [`Reply::default`]
/// (the answer the server gives when nothing is scripted), then add headers, a body or a delay.
///
/// ```
/// use fake_opik::Reply;
/// use std::time::Duration;
///
/// let rate_limited = Reply::status(429).header("Retry-After", "1");
/// let bad_request = Reply::status(400).json(r#"{"errors":["bad"]}"#);
/// let slow_ok = Reply::status(204).delay(Duration::from_millis(300));
/// let held = Reply::never();
/// let dropped = Reply::close();
/// # let _ = (rate_limited, bad_request, slow_ok, held, dropped);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub(crate) action: Action,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<(String, Bytes)>,
    pub(crate) delay: Duration,
}

impl Default for Reply {
    /// The answer the server gives when nothing is scripted: the operation's success status
    /// (204 for batch creates, PUTs and PATCHes, 201 with a `Location` for single creates, ...).
    fn default() -> Self {
        Reply {
            action: Action::Default,
            status: 0,
            headers: Vec::new(),
            body: None,
            delay: Duration::ZERO,
        }
    }
}

impl Reply {
    /// Answer with this status code (and no body unless [`Reply::body`]/[`Reply::json`]).
    pub fn status(status: u16) -> Reply {
        assert!(
            (100..=999).contains(&status),
            "{status} is not an HTTP status code"
        );
        Reply {
            action: Action::Respond,
            status,
            ..Reply::default()
        }
    }

    /// Read the request, then hold it unanswered until the server is dropped.
    pub fn never() -> Reply {
        Reply {
            action: Action::Never,
            ..Reply::default()
        }
    }

    /// Read the request, then close the connection without sending a response.
    pub fn close() -> Reply {
        Reply {
            action: Action::Close,
            ..Reply::default()
        }
    }

    /// Adds a response header (e.g. `Retry-After`, `RateLimit-Reset`,
    /// `Opik-Traces-Remaining-Limit-TTL-Millis`).
    ///
    /// Panics when the name or value is not valid in HTTP.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        let (name, value) = (name.into(), value.into());
        assert!(
            hyper::header::HeaderName::from_bytes(name.as_bytes()).is_ok(),
            "bad header name {name:?}"
        );
        assert!(
            hyper::header::HeaderValue::from_str(&value).is_ok(),
            "bad header value {value:?}"
        );
        self.headers.push((name, value));
        self
    }

    /// Sets the response body, sent with `content-type: text/plain`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = Some(("text/plain; charset=utf-8".into(), Bytes::from(body.into())));
        self
    }

    /// Sets a JSON response body (given as text), sent with `content-type: application/json`.
    pub fn json(mut self, body: impl Into<String>) -> Reply {
        self.body = Some(("application/json".into(), Bytes::from(body.into())));
        self
    }

    /// Waits this long after reading the request before answering (or closing).
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// [`Reply::delay`] in milliseconds.
    pub fn delay_ms(self, ms: u64) -> Reply {
        self.delay(Duration::from_millis(ms))
    }

    /// The status this reply answers with, if it answers with a fixed one.
    pub fn status_code(&self) -> Option<u16> {
        (self.action == Action::Respond).then_some(self.status)
    }
}
