//! What the server keeps of each request.

use std::fmt;
use std::time::Instant;

use serde_json::Value;

/// Header names whose values [`RecordedRequest`]'s `Debug` hides.
const SECRET_HEADERS: &[&str] = &["authorization", "cookie", "x-api-key"];

/// One request as the server received it, with the answer it gave.
///
/// Its `Debug` output redacts the `authorization` header; the field keeps the real value so
/// tests can check that the API key is sent.
#[derive(Clone)]
pub struct RecordedRequest {
    /// Arrival order on this server, from 1.
    pub seq: u64,
    /// When the request's head arrived.
    pub arrived: Instant,
    /// `POST`, `PUT`, ...
    pub method: String,
    /// The path as sent, e.g. `/api/v1/private/traces/batch`.
    pub path: String,
    /// The raw query string without the `?` (empty when there is none).
    pub query: String,
    /// Headers in arrival order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body's size on the wire (before gunzip).
    pub wire_size: usize,
    /// The body after gunzip (when `content-encoding: gzip`), or as sent. Empty for attachment
    /// uploads (`PUT .../attachment/upload` and the fake S3's part URLs): their bytes are kept
    /// once, in [`crate::FakeOpik::attachments`]; `wire_size` still counts them.
    pub body_bytes: Vec<u8>,
    /// The body parsed as JSON, when it is JSON.
    pub body: Option<Value>,
    /// The spec's `operationId` for requests to an operation the schema file keeps
    /// (e.g. `createTraces`), else `None`.
    pub operation_id: Option<String>,
    /// The status the server answered (or is about to answer, after a scripted delay);
    /// `None` when it held the request ([`crate::Reply::never`]) or closed the connection
    /// ([`crate::Reply::close`]).
    pub status: Option<u16>,
    /// The problems found in this request (also in [`crate::FakeOpik::problems`]).
    pub problems: Vec<String>,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the server answered 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Whether the body came gzip-encoded.
    pub fn is_gzip(&self) -> bool {
        self.header("content-encoding")
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"))
    }

    /// The query string's `name=value` pairs, percent-decoded (`+` as space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Whether the path ends with `suffix` (e.g. `/spans/batch`).
    pub fn path_ends_with(&self, suffix: &str) -> bool {
        self.path.ends_with(suffix)
    }

    /// "#SEQ METHOD PATH", how problems name a request.
    pub fn label(&self) -> String {
        format!("#{} {} {}", self.seq, self.method, self.path)
    }
}

pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The body as compact JSON, cut at 400 characters.
struct BodyPreview<'a>(Option<&'a Value>);

impl fmt::Debug for BodyPreview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("<not JSON>"),
            Some(v) => {
                let text = v.to_string();
                match text.char_indices().nth(400) {
                    Some((cut, _)) => write!(f, "{}…", &text[..cut]),
                    None => f.write_str(&text),
                }
            }
        }
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if SECRET_HEADERS.contains(&k.as_str()) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            })
            .collect();
        f.debug_struct("RecordedRequest")
            .field("seq", &self.seq)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("wire_size", &self.wire_size)
            .field("body_len", &self.body_bytes.len())
            .field("body", &BodyPreview(self.body.as_ref()))
            .field("operation_id", &self.operation_id)
            .field("status", &self.status)
            .field("problems", &self.problems)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2Fd%"), "a b c/d%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
