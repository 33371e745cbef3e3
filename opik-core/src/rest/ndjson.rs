//! NDJSON answers (`POST .../search`, `.../stream`): one JSON object a line (`\r\n` from the
//! backend, `\n` from others), and an error that happens after the stream started as a last
//! line `{"code": N, "message": "..."}` under status 200.
//!
//! [`Lines`] reads an answer as it arrives, a line at a time: what it holds is the line being
//! read and the network chunk it came in, never the page. [`Pages`] strings pages of a search
//! together (newest first, each page below the last id received, a short page the last), so
//! that a search of any size is read in bounded memory.

use super::client::RestClient;
use super::error::{RestError, RestErrorKind};
use crate::net::{Next, Tries};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Instant;
use uuid::Uuid;

/// The most records one page of a search or stream may ask for (the spec's `limit` maximum).
pub(crate) const MAX_PAGE: usize = 2000;

/// A line longer than this is not a record but a broken answer: a record is at most
/// `max_record_bytes` (20 MiB by default) as the SDKs send it, and a search's `truncate`
/// shortens what the backend answers.
const MAX_LINE: usize = 256 << 20;

/// The lines of one NDJSON answer, read as they arrive. A line inside a network chunk is
/// handed out from the chunk itself; only a line split across chunks is copied (into
/// `partial`), so what is held is the chunk being read and at most one line.
pub(crate) struct Lines {
    call: String,
    response: Option<reqwest::Response>,
    chunk: bytes::Bytes,
    /// Where the unread part of `chunk` starts.
    at: usize,
    /// The start of a line whose end is in a later chunk.
    partial: Vec<u8>,
    /// `partial` was handed out last time: clear it first.
    partial_done: bool,
    /// Lines handed out so far.
    number: usize,
}

impl Lines {
    pub(crate) fn new(call: impl Into<String>, response: reqwest::Response) -> Self {
        Lines {
            call: call.into(),
            response: Some(response),
            chunk: bytes::Bytes::new(),
            at: 0,
            partial: Vec::new(),
            partial_done: false,
            number: 0,
        }
    }

    /// The next non-empty line (without its line end) and its number (from 1), `None` at the
    /// end of the answer. A network error is a [`RestErrorKind::Network`] error; the reader is
    /// then at its end.
    pub(crate) async fn next(&mut self) -> Option<Result<(usize, &[u8]), RestError>> {
        if self.partial_done {
            self.partial.clear();
            self.partial_done = false;
        }
        loop {
            let unread = &self.chunk[self.at..];
            match memchr::memchr(b'\n', unread) {
                Some(end) if self.partial.is_empty() => {
                    let line = trimmed(&self.chunk, self.at, self.at + end);
                    self.at += end + 1;
                    if line.is_empty() {
                        continue;
                    }
                    self.number += 1;
                    return Some(Ok((self.number, &self.chunk[line])));
                }
                Some(end) => {
                    // The end of a line that began in an earlier chunk.
                    self.partial.extend_from_slice(&unread[..end]);
                    self.at += end + 1;
                    self.partial_done = true;
                    let line = trimmed(&self.partial, 0, self.partial.len());
                    if line.is_empty() {
                        self.partial.clear();
                        self.partial_done = false;
                        continue;
                    }
                    self.number += 1;
                    return Some(Ok((self.number, &self.partial[line])));
                }
                None => {
                    self.partial.extend_from_slice(unread);
                    self.at = self.chunk.len();
                }
            }
            if self.partial.len() > MAX_LINE {
                self.response = None;
                self.partial = Vec::new();
                let message = format!(
                    "line {} of the stream is longer than {} MiB: not a record",
                    self.number + 1,
                    MAX_LINE >> 20
                );
                return Some(Err(self.error(RestErrorKind::Decode, message)));
            }
            let Some(response) = self.response.as_mut() else {
                // The end, and perhaps a last line without its line end.
                let line = trimmed(&self.partial, 0, self.partial.len());
                self.partial_done = true;
                if line.is_empty() {
                    return None;
                }
                self.number += 1;
                return Some(Ok((self.number, &self.partial[line])));
            };
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(None) => self.response = None,
                Err(e) => {
                    self.response = None;
                    self.partial = Vec::new();
                    let message = format!(
                        "the stream broke off after line {}: {}",
                        self.number,
                        crate::net::describe(&e)
                    );
                    return Some(Err(self.error(RestErrorKind::Network, message)));
                }
            }
        }
    }

    /// How many lines were handed out.
    pub(crate) fn count(&self) -> usize {
        self.number
    }

    fn error(&self, kind: RestErrorKind, message: String) -> RestError {
        RestError::new(self.call.clone(), kind, None, message)
    }
}

/// `from..to` of `buf` without surrounding ASCII whitespace (`\r` included).
fn trimmed(buf: &[u8], mut from: usize, mut to: usize) -> std::ops::Range<usize> {
    while from < to && buf[from].is_ascii_whitespace() {
        from += 1;
    }
    while to > from && buf[to - 1].is_ascii_whitespace() {
        to -= 1;
    }
    from..to
}

/// One line as a `T`: an error line (`{"code", "message"}`) is that error, a line that is not
/// a `T` a decode error naming the line.
pub(crate) fn decode<T: DeserializeOwned>(
    call: &str,
    number: usize,
    line: &[u8],
) -> Result<T, RestError> {
    // Records begin with their `id`; only an error line begins with `code` (checked first,
    // because a `T` as loose as a JSON value would take it too).
    let opening = line.strip_prefix(b"{").unwrap_or(line).trim_ascii_start();
    if opening.starts_with(b"\"code\"") {
        if let Some(e) = stream_error(call, line) {
            return Err(e);
        }
    }
    serde_json::from_slice::<T>(line).map_err(|e| {
        stream_error(call, line).unwrap_or_else(|| {
            RestError::new(
                call,
                RestErrorKind::Decode,
                None,
                format!("line {number} of the stream is not what the API describes: {e}"),
            )
        })
    })
}

/// The error an error line carries.
fn stream_error(call: &str, line: &[u8]) -> Option<RestError> {
    let value = serde_json::from_slice::<Value>(line).ok()?;
    let (code, message) = error_line(&value)?;
    Some(RestError::new(
        call,
        RestErrorKind::Status,
        Some(code),
        format!("the stream ended with an error: {message}"),
    ))
}

/// Reads a whole (short) NDJSON answer into `T`s, in the order sent.
pub(crate) async fn collect<T: DeserializeOwned>(
    call: &str,
    response: reqwest::Response,
) -> Result<Vec<T>, RestError> {
    let mut lines = Lines::new(call, response);
    let mut out = Vec::new();
    while let Some(line) = lines.next().await {
        let (number, line) = line?;
        out.push(decode(call, number, line)?);
    }
    Ok(out)
}

/// `{"code": 404, "message": "..."}` and nothing else: the backend's error line.
fn error_line(value: &Value) -> Option<(u16, &str)> {
    let o = value.as_object()?;
    let code = o.get("code")?.as_u64()?;
    let message = o.get("message").and_then(Value::as_str).unwrap_or("");
    (o.keys()
        .all(|k| k == "code" || k == "message" || k == "details"))
    .then(|| (u16::try_from(code).unwrap_or(500), message))
}

/// How one search is paged.
#[derive(Clone, Debug)]
pub(crate) struct PageSpec {
    /// `/v1/private/traces/search`.
    pub(crate) path: &'static str,
    /// The request body without `limit` and the cursor.
    pub(crate) body: Map<String, Value>,
    /// The body field the cursor goes in (`last_retrieved_id`).
    pub(crate) cursor_field: &'static str,
    /// The record field the cursor is read from (`id`, `thread_model_id`).
    pub(crate) cursor_from: &'static str,
    /// The most records to read in all (`None`: all there are).
    pub(crate) limit: Option<usize>,
}

/// Only the cursor field of a line (when the rest of it is not a `T`, paging goes on).
#[derive(Deserialize)]
struct CursorOnly {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    thread_model_id: Option<Value>,
}

/// The records of a search, page after page, read as they arrive.
pub(crate) struct Pages {
    rest: RestClient,
    spec: PageSpec,
    /// `POST /v1/private/traces/search`, for errors.
    call: String,
    cursor: Option<Uuid>,
    /// Records still wanted (`None`: no limit).
    left: Option<usize>,
    page: Option<Page>,
    /// Attempts at resuming after the answer broke off (reset by each record read).
    tries: Tries,
    done: bool,
}

struct Page {
    lines: Lines,
    asked: usize,
}

impl Pages {
    pub(crate) fn new(rest: RestClient, spec: PageSpec) -> Self {
        Pages {
            rest,
            left: spec.limit,
            call: format!("POST {}", spec.path),
            spec,
            cursor: None,
            page: None,
            tries: Tries::default(),
            done: false,
        }
    }

    /// The next record, `None` once the search is read (or failed: its error is the last
    /// item). A record that is not a `T` is an error item, and the search goes on after it.
    pub(crate) async fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T, RestError>> {
        loop {
            if self.done || self.left == Some(0) {
                return None;
            }
            if self.page.is_none() {
                if let Err(e) = self.open().await {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            let page = self.page.as_mut()?;
            match page.lines.next().await {
                Some(Ok((number, line))) => {
                    let record = decode::<T>(&self.call, number, line);
                    if let Err(e) = &record {
                        if e.kind() == RestErrorKind::Status {
                            self.done = true; // the stream's own error line: it ends here
                            return Some(record);
                        }
                    }
                    if let Some(cursor) = cursor_of(line, self.spec.cursor_from) {
                        self.cursor = Some(cursor);
                    }
                    self.tries = Tries::default();
                    if let Some(left) = &mut self.left {
                        *left -= 1;
                    }
                    return Some(record);
                }
                Some(Err(broke)) => {
                    // Resume below the last record received, as the retry policy allows.
                    self.page = None;
                    let policy = self.rest.retry_policy();
                    let now = Instant::now();
                    self.tries.start(now);
                    match policy.next(&mut self.tries, None, false, now) {
                        Next::RetryAfter { wait, .. } => {
                            tracing::debug!(target: "opik", "{broke}; resuming in {wait:.1?}");
                            tokio::time::sleep(wait).await;
                        }
                        Next::GiveUp => {
                            self.done = true;
                            return Some(Err(broke));
                        }
                    }
                }
                None => {
                    let short = page.lines.count() < page.asked;
                    self.page = None;
                    if short {
                        self.done = true;
                        return None;
                    }
                }
            }
        }
    }

    async fn open(&mut self) -> Result<(), RestError> {
        let asked = self.left.map_or(MAX_PAGE, |l| l.min(MAX_PAGE));
        let mut body = self.spec.body.clone();
        body.insert("limit".into(), Value::from(asked));
        if let Some(cursor) = self.cursor {
            body.insert(
                self.spec.cursor_field.into(),
                Value::from(cursor.to_string()),
            );
        }
        let response = self.rest.post(self.spec.path).json(&body).respond().await?;
        self.page = Some(Page {
            lines: Lines::new(self.call.clone(), response),
            asked,
        });
        Ok(())
    }
}

/// The cursor a line gives (`id` or `thread_model_id`), even when the rest of it is not a
/// record the SDK can read.
fn cursor_of(line: &[u8], field: &str) -> Option<Uuid> {
    let only: CursorOnly = serde_json::from_slice(line).ok()?;
    let value = match field {
        "thread_model_id" => only.thread_model_id,
        _ => only.id,
    }?;
    value.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(chunks: &[&'static [u8]]) -> reqwest::Response {
        let body: Vec<Result<bytes::Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(bytes::Bytes::from_static(c)))
            .collect();
        let stream = futures_util::stream::iter(body);
        reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)))
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn reads_lines_split_across_chunks_and_error_lines() {
        let ok: Vec<Value> = block_on(collect(
            "POST /s",
            answer(&[b"{\"id\":", b"1}\r\n{\"id\":2}\r", b"\n\r\n{\"id\":3}"]),
        ))
        .unwrap();
        assert_eq!(ok, [1, 2, 3].map(|i| serde_json::json!({"id": i})));
        let err = block_on(collect::<Value>(
            "POST /s",
            answer(&[b"{\"id\":1}\r\n{\"code\":404,\"message\":\"Dataset not found\"}\r\n"]),
        ))
        .unwrap_err();
        assert_eq!(err.http_status(), Some(404));
        assert!(err.to_string().contains("Dataset not found"), "{err}");
        let bad = block_on(collect::<Value>(
            "POST /s",
            answer(&[b"{\"id\":1}\nnot json\n"]),
        ))
        .unwrap_err();
        assert!(bad.to_string().contains("line 2"), "{bad}");
    }

    #[test]
    fn the_cursor_is_read_from_lines_that_are_not_records() {
        let line = br#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","start_time":"garbage"}"#;
        assert_eq!(
            cursor_of(line, "id").map(|u| u.to_string()).as_deref(),
            Some("01890a5d-ac96-774b-bcce-b302099a8057")
        );
        assert_eq!(cursor_of(line, "thread_model_id"), None);
        assert_eq!(cursor_of(b"not json", "id"), None);
    }
}
