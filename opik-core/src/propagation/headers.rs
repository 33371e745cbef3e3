//! The header codec of distributed traces: where a caller's span is, written into headers and
//! read back. Pure: nothing here looks at the current span or starts anything (`remote` does).
//! No trace is created on the receiving side: the caller owns it.
//!
//! Two header formats are written and read:
//! - `opik_trace_id` / `opik_parent_span_id`: the Python SDK's names and values (UUIDs), so a
//!   Rust and a Python service share one trace. They carry the exact ids and win when present.
//!   (Some proxies drop header names with underscores, nginx by default: allow them there.)
//! - W3C `traceparent` (`00-<trace-id>-<parent-id>-01`), so a request that also goes through
//!   OpenTelemetry-instrumented services keeps one trace id. Mapping: the 16 bytes of the W3C
//!   trace id *are* the 16 bytes of the Opik trace UUID (v7), written as 32 hex digits; the
//!   8-byte W3C parent id is the last 8 bytes (the random part) of the Opik span UUID. Reading
//!   it back: a trace id that is a UUID v7 is continued; as 8 bytes cannot give back a 16-byte
//!   span id, spans then go at the top level of that trace unless `opik_parent_span_id` is also
//!   there and matches. A trace id that is not a UUID v7 (one made by another tracer) would be
//!   rejected by Opik: a new trace is started instead, with one warning.
//!
//! Malformed headers are ignored (a new trace starts as if there were none) with one warning
//! per process; never a panic, never a non-v7 id on the wire.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use uuid::Uuid;

/// Header with the trace id (the Python SDK's name).
pub const TRACE_ID_HEADER: &str = "opik_trace_id";
/// Header with the caller's span id (the Python SDK's name).
pub const PARENT_SPAN_ID_HEADER: &str = "opik_parent_span_id";
/// The W3C Trace Context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Where a caller's span is, to continue its trace in another process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistributedHeaders {
    /// The trace (a UUID v7).
    pub trace_id: Uuid,
    /// The span new spans nest under; `None`: they are top-level spans of the trace.
    pub parent_span_id: Option<Uuid>,
}

impl DistributedHeaders {
    /// `opik_trace_id` and `opik_parent_span_id`, as the Python SDK's
    /// `get_distributed_trace_headers()` returns them (for message queues, JSON bodies...).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        map.insert(TRACE_ID_HEADER.to_owned(), self.trace_id.to_string());
        if let Some(p) = self.parent_span_id {
            map.insert(PARENT_SPAN_ID_HEADER.to_owned(), p.to_string());
        }
        map
    }

    /// The W3C `traceparent` value: `00-<trace UUID as 32 hex>-<last 8 bytes of the span id>-01`
    /// (`0000000000000001` as the parent id when there is no span).
    pub fn traceparent(&self) -> String {
        let parent = match self.parent_span_id {
            Some(p) => hex(&p.as_bytes()[8..]),
            None => "0000000000000001".to_owned(),
        };
        format!("00-{}-{parent}-01", self.trace_id.simple())
    }

    /// The Opik headers and `traceparent`, for an HTTP request.
    pub fn to_header_map(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, value) in self.to_map() {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                headers.insert(n, v);
            }
        }
        if let Ok(v) = http::HeaderValue::from_str(&self.traceparent()) {
            headers.insert(http::HeaderName::from_static(TRACEPARENT_HEADER), v);
        }
        headers
    }

    /// Reads headers sent by [`to_header_map`](Self::to_header_map) or [`to_map`](Self::to_map)
    /// (or by the Python SDK, or a W3C `traceparent`). `None` when there are none, or when they
    /// are malformed (then with one warning per process).
    pub fn from_headers<H: HeaderSource + ?Sized>(headers: &H) -> Option<DistributedHeaders> {
        let opik_trace = headers.header(TRACE_ID_HEADER);
        let opik_parent = headers.header(PARENT_SPAN_ID_HEADER);
        let traceparent = headers.header(TRACEPARENT_HEADER);
        if let Some(trace) = opik_trace {
            let trace_id = parse_v7(trace.trim());
            let parent = opik_parent.map(|p| parse_v7(p.trim()));
            match (trace_id, parent) {
                (Some(trace_id), Some(Some(p))) => {
                    return Some(DistributedHeaders {
                        trace_id,
                        parent_span_id: Some(p),
                    })
                }
                (Some(trace_id), None) => {
                    return Some(DistributedHeaders {
                        trace_id,
                        parent_span_id: None,
                    })
                }
                _ => {
                    warn_once(
                        &MALFORMED,
                        &format!(
                            "opik: ignoring distributed headers {TRACE_ID_HEADER}={trace:?} \
                             {PARENT_SPAN_ID_HEADER}={opik_parent:?}: not UUID v7 ids; a new \
                             trace is started"
                        ),
                    );
                    // Fall through to `traceparent`, if any.
                }
            }
        }
        let tp = traceparent?;
        let Some((trace_bytes, parent_bytes)) = parse_traceparent(tp) else {
            warn_once(
                &MALFORMED,
                &format!("opik: ignoring malformed {TRACEPARENT_HEADER} header {tp:?}; a new trace is started"),
            );
            return None;
        };
        let trace_id = Uuid::from_bytes(trace_bytes);
        if !is_v7(&trace_id) {
            warn_once(
                &FOREIGN,
                &format!(
                    "opik: {TRACEPARENT_HEADER} trace id {} was not made by Opik (not a UUID v7, \
                     which Opik requires); a new trace is started",
                    trace_id.simple()
                ),
            );
            return None;
        }
        // The Opik parent span, when its header came along and matches the W3C parent id.
        let parent_span_id = opik_parent
            .and_then(|p| parse_v7(p.trim()))
            .filter(|p| p.as_bytes()[8..] == parent_bytes);
        Some(DistributedHeaders {
            trace_id,
            parent_span_id,
        })
    }
}

/// Something headers can be read from: an `http::HeaderMap`, a map of strings (as the Python
/// SDK's dict arrives in a message), or a list of name/value pairs.
pub trait HeaderSource {
    /// The value of header `name` (matched without regard to ASCII case).
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderSource for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

fn lookup<'a>(
    mut entries: impl Iterator<Item = (&'a str, &'a str)>,
    name: &str,
) -> Option<&'a str> {
    entries
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

impl<S: std::hash::BuildHasher> HeaderSource for HashMap<String, String, S> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(v) => Some(v),
            None => lookup(self.iter().map(|(k, v)| (k.as_str(), v.as_str())), name),
        }
    }
}

impl HeaderSource for BTreeMap<String, String> {
    fn header(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(v) => Some(v),
            None => lookup(self.iter().map(|(k, v)| (k.as_str(), v.as_str())), name),
        }
    }
}

impl HeaderSource for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<&str> {
        lookup(self.iter().copied(), name)
    }
}

impl<const N: usize> HeaderSource for [(&str, &str); N] {
    fn header(&self, name: &str) -> Option<&str> {
        lookup(self.iter().copied(), name)
    }
}

impl<T: HeaderSource + ?Sized> HeaderSource for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }
}

static MALFORMED: AtomicBool = AtomicBool::new(false);
static FOREIGN: AtomicBool = AtomicBool::new(false);

/// Warns once per process per kind (a bad peer would otherwise flood the log per request).
fn warn_once(flag: &AtomicBool, message: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::warn!(target: "opik", "{message} (further such headers are logged at debug level)");
    } else {
        tracing::debug!(target: "opik", "{message}");
    }
}

fn is_v7(id: &Uuid) -> bool {
    id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122
}

fn parse_v7(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok().filter(is_v7)
}

/// `00-<32 hex>-<16 hex>-<2 hex>` (or a later version with more fields); all-zero ids are
/// invalid, as is version `ff`.
fn parse_traceparent(s: &str) -> Option<([u8; 16], [u8; 8])> {
    let s = s.trim();
    let mut parts = s.split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let parent = parts.next()?;
    let flags = parts.next()?;
    if version.len() != 2 || version.eq_ignore_ascii_case("ff") || !is_lower_hex(version) {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace.len() != 32 || parent.len() != 16 || flags.len() != 2 {
        return None;
    }
    if !is_lower_hex(trace) || !is_lower_hex(parent) || !is_lower_hex(flags) {
        return None;
    }
    let mut trace_bytes = [0u8; 16];
    let mut parent_bytes = [0u8; 8];
    unhex(trace, &mut trace_bytes)?;
    unhex(parent, &mut parent_bytes)?;
    if trace_bytes == [0; 16] || parent_bytes == [0; 8] {
        return None;
    }
    Some((trace_bytes, parent_bytes))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{new_id, Timestamp};

    #[test]
    fn traceparent_round_trips_the_trace_and_matches_the_parent() {
        let h = DistributedHeaders {
            trace_id: new_id(Timestamp::now()),
            parent_span_id: Some(new_id(Timestamp::now())),
        };
        let tp = h.traceparent();
        assert_eq!(tp.len(), 55, "{tp}");
        // traceparent alone: same trace, no parent.
        let only_tp = [("traceparent", tp.as_str())];
        let back = DistributedHeaders::from_headers(&only_tp).unwrap();
        assert_eq!(back.trace_id, h.trace_id);
        assert_eq!(back.parent_span_id, None);
        // Everything: exact ids.
        assert_eq!(
            DistributedHeaders::from_headers(&h.to_header_map()),
            Some(h)
        );
        assert_eq!(DistributedHeaders::from_headers(&h.to_map()), Some(h));
    }

    #[test]
    fn foreign_and_malformed_headers_are_ignored() {
        // A W3C example id: not a UUID v7.
        let otel = [(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )];
        assert_eq!(DistributedHeaders::from_headers(&otel), None);
        for bad in [
            "00-xyz",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                DistributedHeaders::from_headers(&[("traceparent", bad)]),
                None,
                "{bad}"
            );
        }
        let v4 = [("opik_trace_id", "9b2f3c1e-8a4d-4f5e-9c3b-2a1d0e9f8b7c")];
        assert_eq!(DistributedHeaders::from_headers(&v4), None);
        assert_eq!(
            DistributedHeaders::from_headers(&[("opik_trace_id", "nope")]),
            None
        );
    }
}
