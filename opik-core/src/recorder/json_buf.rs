//! [`JsonBuf`]: the buffer a capture's JSON is written into.
//!
//! Most captures are small (`{"x":5}`, `{"output":"ok"}`): those are written into 64 bytes on
//! the stack and become an inline payload ([`Payload`] keeps up to 23 bytes in the record), so
//! capturing them allocates nothing, on this thread or the exporter's. A capture that outgrows
//! the stack moves to the thread's scratch buffer, reused call after call, and its payload is
//! one allocation of the exact size.

use super::capture::{panicked, short_type_name};
use crate::model::{guarded, serialization_failed, Limited, Payload};
use serde::Serialize;
use std::cell::Cell;
use std::fmt::Debug;

thread_local! {
    /// The buffer large captures are written into, reused call after call on this thread: a
    /// fresh one that grows would cost more allocations, and the payload is freed by the
    /// exporter thread, where glibc serves a free of another thread's memory through the
    /// allocating thread's arena lock, which the app's own allocations then wait on.
    pub(super) static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A scratch buffer larger than this (a huge argument) is freed, not kept for the next call.
pub(super) const SCRATCH_KEPT_MAX: usize = 64 << 10;

/// What is written on the stack before moving to the scratch buffer.
const INLINE: usize = 64;

/// Room for a few small arguments (or an output) once on the heap: growing it from empty cost
/// more than the serialization itself (profiled with callgrind, see BENCHMARKS.md).
const FIRST_CAPACITY: usize = 256;

/// A buffer that JSON values are written into, one after another.
///
/// Invariant: it holds UTF-8. Every write appends a whole `&str` (`string`, `raw_str`, the
/// `Debug` fallback's text), ASCII (JSON syntax, itoa's digits), or serde_json's output, which
/// is UTF-8 by serde_json's own guarantee; `truncate` only ever goes back to the end of an
/// earlier write.
pub struct JsonBuf {
    inline: [u8; INLINE],
    len: usize,
    /// Once the text outgrew `inline`: all of it.
    heap: Option<Vec<u8>>,
    /// Set by a stream's item capture: the next top-level string is written without its
    /// quotes (its contents, escaped), and `wrote_bare` says so.
    bare_string: bool,
    wrote_bare: bool,
}

impl Default for JsonBuf {
    #[inline]
    fn default() -> Self {
        JsonBuf {
            inline: [0; INLINE],
            len: 0,
            heap: None,
            bare_string: false,
            wrote_bare: false,
        }
    }
}

impl Drop for JsonBuf {
    fn drop(&mut self) {
        let Some(mut bytes) = self.heap.take() else {
            return;
        };
        let cap = bytes.capacity();
        if cap > 0 && cap <= SCRATCH_KEPT_MAX {
            bytes.clear();
            // After the thread's locals are gone (a capture during thread exit) it is freed.
            let _ = SCRATCH.try_with(|s| s.set(bytes));
        }
    }
}

impl std::io::Write for JsonBuf {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.extend(buf);
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.extend(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl JsonBuf {
    /// A buffer of its own (not the thread's scratch) starting with `prefix`: for what is
    /// captured across calls, a stream's items.
    pub(crate) fn with_prefix(prefix: &[u8]) -> JsonBuf {
        let mut heap = Vec::with_capacity(FIRST_CAPACITY.max(prefix.len()));
        heap.extend_from_slice(prefix);
        JsonBuf {
            heap: Some(heap),
            ..JsonBuf::default()
        }
    }

    /// The bytes written so far.
    #[inline]
    fn bytes(&self) -> &[u8] {
        match &self.heap {
            Some(h) => h,
            None => &self.inline[..self.len],
        }
    }

    /// Bytes written so far.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match &self.heap {
            Some(h) => h.len(),
            None => self.len,
        }
    }

    /// The byte at `i`, if written.
    #[inline]
    pub(crate) fn byte(&self, i: usize) -> Option<u8> {
        self.bytes().get(i).copied()
    }

    /// Replaces the JSON string written from `start` on (`"..."`, the last write) by its
    /// escaped contents, without the quotes: a stream's string items are kept joined, so
    /// that nothing is left to join, or scan, when the stream ends.
    pub(crate) fn unquote_last(&mut self, start: usize) {
        let end = self.len();
        debug_assert!(end >= start + 2 && self.byte(start) == Some(b'"'));
        let bytes: &mut [u8] = match &mut self.heap {
            Some(h) => h,
            None => &mut self.inline[..self.len],
        };
        bytes.copy_within(start + 1..end - 1, start);
        // What is left is text: the contents of a JSON string, cut at its quotes (ASCII).
        self.truncate(end - 2);
    }

    /// Appends bytes of JSON text.
    #[inline]
    pub(crate) fn extend(&mut self, more: &[u8]) {
        match &mut self.heap {
            Some(h) => h.extend_from_slice(more),
            None if self.len + more.len() <= INLINE => {
                self.inline[self.len..self.len + more.len()].copy_from_slice(more);
                self.len += more.len();
            }
            None => self.spill(more.len()).extend_from_slice(more),
        }
    }

    /// Moves what was written to the thread's scratch buffer, with room for `more`.
    #[cold]
    fn spill(&mut self, more: usize) -> &mut Vec<u8> {
        let mut bytes = SCRATCH.try_with(Cell::take).unwrap_or_default();
        bytes.clear();
        bytes.reserve((self.len + more).max(FIRST_CAPACITY));
        bytes.extend_from_slice(&self.inline[..self.len]);
        self.heap.insert(bytes)
    }

    /// Appends one byte of JSON syntax.
    #[inline]
    pub(crate) fn push_byte(&mut self, b: u8) {
        self.extend(&[b]);
    }

    /// Forgets what was written from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        match &mut self.heap {
            Some(h) => h.truncate(len),
            None => self.len = self.len.min(len),
        }
    }

    /// What was written, as text.
    pub(crate) fn as_str(&self) -> &str {
        self.text_from(0)
    }

    /// The text from byte `from` on (a boundary between two writes).
    fn text_from(&self, from: usize) -> &str {
        let bytes = &self.bytes()[from..];
        debug_assert!(
            std::str::from_utf8(bytes).is_ok(),
            "JsonBuf holds text only"
        );
        // SAFETY: the buffer holds UTF-8 (the type's invariant, see its docs), and `from` is
        // the end of an earlier write. Checking it again cost a third of a small capture.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The text from byte `from` on, as a payload (inline when small, else one allocation).
    pub(crate) fn payload_from(&self, from: usize) -> Payload {
        if self.heap.is_none() {
            // Small text: copied out of the stack buffer in one fixed-size move.
            debug_assert!(std::str::from_utf8(&self.inline[from..self.len]).is_ok());
            // SAFETY: the buffer holds UTF-8 (the type's invariant) and `from` is the end of
            // an earlier write, so `inline[from..len]` is text.
            if let Some(p) = unsafe { Payload::from_window(&self.inline, from, self.len - from) } {
                return p;
            }
        }
        Payload::from_object_str(self.text_from(from))
    }

    /// Writes `value` as JSON, at most 100 levels deep (a
    /// marker past that). A value serde cannot serialize (a NaN float, a map with non-string
    /// keys...) is written as a string saying why, and so is one whose `Serialize` impl panics:
    /// recording never fails, nor panics into the app.
    pub fn serialize<T: Serialize + ?Sized>(&mut self, value: &T) {
        let mark = self.len();
        match guarded(|| serde_json::to_writer(&mut *self, &Limited(value))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.truncate(mark);
                self.string(&serialization_failed(&e));
            }
            Err(panic) => {
                self.truncate(mark);
                self.string(&panicked("Serialize", &panic));
            }
        }
    }

    /// Has the next [`string`](Self::string) written without its quotes (for the joined items
    /// of a stream, see `items`).
    #[inline]
    pub(crate) fn next_string_bare(&mut self) {
        self.bare_string = true;
        self.wrote_bare = false;
    }

    /// Whether the last value was a string written without its quotes; forgets it.
    #[inline]
    pub(crate) fn took_bare(&mut self) -> bool {
        self.bare_string = false;
        std::mem::take(&mut self.wrote_bare)
    }

    /// Writes `text` as a JSON string.
    #[inline]
    pub fn string(&mut self, text: &str) {
        if std::mem::take(&mut self.bare_string) {
            self.wrote_bare = true;
            if super::fast::needs_no_escape(text) {
                self.extend(text.as_bytes());
            } else {
                let start = self.len();
                let _ = serde_json::to_writer(&mut *self, text);
                self.unquote_last(start);
            }
            return;
        }
        if super::fast::needs_no_escape(text) {
            // Most strings (identifiers, tokens, prompts in plain text) need no escaping: one
            // copy between quotes.
            self.push_byte(b'"');
            self.extend(text.as_bytes());
            self.push_byte(b'"');
        } else {
            // Serializing a &str to JSON cannot fail.
            let _ = serde_json::to_writer(&mut *self, text);
        }
    }

    /// Appends JSON text the caller made (a number, `true`).
    #[inline]
    pub(super) fn raw_str(&mut self, json: &str) {
        self.extend(json.as_bytes());
    }

    /// Writes the `Debug` form of `value` as a JSON string (a note, if the impl panics).
    pub fn debug<T: Debug + ?Sized>(&mut self, value: &T) {
        let text = guarded(|| format!("{value:?}")).unwrap_or_else(|p| panicked("Debug", &p));
        self.string(&text);
    }

    /// Writes `"<TypeName>"`, for values that are neither `Serialize` nor `Debug`.
    pub fn type_name<T: ?Sized>(&mut self) {
        let mut text = String::from("<");
        text.push_str(short_type_name::<T>());
        text.push('>');
        self.string(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_text_stays_on_the_stack_and_large_text_moves_whole() {
        let mut buf = JsonBuf::default();
        buf.raw_str("{\"x\":");
        buf.raw_str("12345");
        buf.push_byte(b'}');
        assert!(buf.heap.is_none());
        assert_eq!(buf.as_str(), r#"{"x":12345}"#);
        let long = "y".repeat(100);
        buf.truncate(5);
        buf.string(&long);
        assert!(buf.heap.is_some(), "past 64 bytes it moved to the heap");
        assert_eq!(buf.as_str(), format!("{{\"x\":\"{long}\""));
        assert_eq!(buf.byte(0), Some(b'{'));
    }
}
