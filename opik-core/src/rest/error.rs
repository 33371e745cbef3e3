//! [`RestError`]: a REST call that failed, with the call, the status and the server's message.

use std::fmt;

/// What kind of failure a [`RestError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestErrorKind {
    /// The server answered with an error status (see [`RestError::http_status`]).
    Status,
    /// No answer: the connection failed or timed out (after the retries).
    Network,
    /// The server answered, but not with what the API promises (unreadable JSON, a stream
    /// that ended with an error line).
    Decode,
    /// The request could not be made (a header value, the HTTP client).
    Request,
}

/// A REST call to Opik that failed. Its `Display` names the call (`PUT
/// /v1/private/datasets/items`), the status and the server's own message, e.g.
/// `opik: POST /v1/private/datasets failed: HTTP 409: Dataset already exists`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestError {
    call: String,
    status: Option<u16>,
    message: String,
    kind: RestErrorKind,
}

impl RestError {
    pub(crate) fn new(
        call: impl Into<String>,
        kind: RestErrorKind,
        status: Option<u16>,
        message: impl Into<String>,
    ) -> Self {
        RestError {
            call: call.into(),
            status,
            message: message.into(),
            kind,
        }
    }

    /// An error status, with the server's message read from its body (both of Opik's error
    /// shapes, `{"code", "message"}` and `{"errors": [..]}`; otherwise the body's start).
    pub(crate) fn status(call: impl Into<String>, status: u16, body: &[u8]) -> Self {
        Self::new(
            call,
            RestErrorKind::Status,
            Some(status),
            server_message(body),
        )
    }

    /// The call, as `METHOD /path`.
    pub fn call(&self) -> &str {
        &self.call
    }

    /// The HTTP status, for [`RestErrorKind::Status`] (and a stream's error line).
    pub fn http_status(&self) -> Option<u16> {
        self.status
    }

    /// The server's message, or what went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> RestErrorKind {
        self.kind
    }

    /// Whether the server said the thing asked for does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// Whether the server said it exists already (409).
    pub fn is_conflict(&self) -> bool {
        self.status == Some(409)
    }
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opik: {} failed: ", self.call)?;
        match self.status {
            Some(status) => write!(f, "HTTP {status}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RestError {}

/// How much of an unrecognised error body a message quotes.
const BODY_CHARS: usize = 300;

/// The message of an Opik error body: `{"code": 404, "message": "..."}` (Dropwizard's) or
/// `{"errors": ["...", ...]}` (Opik's own), else the body's text, cut short.
pub(crate) fn server_message(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = o.get("message").and_then(|m| m.as_str()) {
            return m.to_owned();
        }
        if let Some(list) = o.get("errors").and_then(|e| e.as_array()) {
            let texts: Vec<&str> = list.iter().filter_map(|e| e.as_str()).collect();
            if !texts.is_empty() {
                return texts.join("; ");
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no message)".to_owned();
    }
    match text.char_indices().nth(BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_error_shapes_and_names_the_call() {
        let e = RestError::status(
            "POST /v1/private/datasets",
            409,
            br#"{"errors":["Dataset already exists"]}"#,
        );
        assert_eq!(
            e.to_string(),
            "opik: POST /v1/private/datasets failed: HTTP 409: Dataset already exists"
        );
        assert!(e.is_conflict());
        let e = RestError::status(
            "GET /x",
            404,
            br#"{"code":404,"message":"Trace id: 1 not found"}"#,
        );
        assert_eq!(e.message(), "Trace id: 1 not found");
        assert!(e.is_not_found());
        assert_eq!(
            server_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(server_message(b""), "(no message)");
        assert!(server_message("é".repeat(400).as_bytes()).ends_with('…'));
    }
}
