//! Capturing arguments, return values and errors as JSON, for any type.
//!
//! `#[track]` cannot know at expansion time whether an argument's type implements `Serialize`,
//! so it asks the compiler with autoref specialization (stable Rust): the generated code calls
//! `(&&&&Probe(&value)).opik_write(buf)`, and method resolution picks the first trait that
//! applies: [`ViaFast`] (strings, integers, booleans, written directly), [`ViaSerialize`] (the value as JSON), else [`ViaDebug`] (its `Debug` text as a
//! string), else [`ViaTypeName`] (`"<TypeName>"`). Errors get the same treatment with
//! [`ErrProbe`]: `std::error::Error` (message and `source()` chain), else `Display + Debug`,
//! else `Debug`, else the type name.

use super::fast::FastJson;
use crate::model::{guarded, serialization_failed, ErrorInfo, Limited, Payload};
use serde::Serialize;
use std::cell::Cell;
use std::fmt::{self, Debug, Display, Write as _};

thread_local! {
    /// The buffer captures are written into, reused call after call on this thread. A capture
    /// then costs one allocation, the payload's own (its text copied in at the end, exactly
    /// sized), instead of a fresh buffer that grows, is copied into the payload and freed.
    /// Fewer allocations matter twice here: the payload is freed by the exporter thread, and
    /// glibc serves a thread that frees another thread's memory through the allocating
    /// thread's arena lock, which the app's own allocations then wait on.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A scratch buffer larger than this (a huge argument) is freed, not kept for the next call.
const SCRATCH_KEPT_MAX: usize = 64 << 10;

/// A buffer that JSON values are written into, one after another.
#[derive(Default)]
pub struct JsonBuf {
    bytes: Vec<u8>,
}

impl Drop for JsonBuf {
    fn drop(&mut self) {
        let cap = self.bytes.capacity();
        if cap > 0 && cap <= SCRATCH_KEPT_MAX {
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.clear();
            // After the thread's locals are gone (a capture during thread exit) it is freed.
            let _ = SCRATCH.try_with(|s| s.set(bytes));
        }
    }
}

impl JsonBuf {
    /// A buffer of its own (not the thread's scratch) starting with `prefix`: for what is
    /// captured across calls, a stream's items.
    pub(crate) fn with_prefix(prefix: &[u8]) -> JsonBuf {
        JsonBuf {
            bytes: prefix.to_vec(),
        }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The byte at `i`, if written.
    pub(crate) fn byte(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// Appends one byte of JSON syntax.
    pub(crate) fn push_byte(&mut self, b: u8) {
        self.bytes.push(b);
    }

    /// Forgets what was written from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
    }

    /// What was written, as text (only JSON text is ever written).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes).unwrap_or("")
    }

    /// This thread's scratch buffer (a fresh one when it is in use or gone), emptied.
    fn scratch() -> JsonBuf {
        let mut bytes = SCRATCH.try_with(Cell::take).unwrap_or_default();
        bytes.clear();
        bytes.reserve(FIRST_CAPACITY);
        JsonBuf { bytes }
    }

    /// The text from byte `from` on, as a payload (copied into its own allocation); the buffer
    /// goes back to the thread for the next capture.
    fn into_payload(self, from: usize) -> Payload {
        // Only JSON text (valid UTF-8) is ever written into the buffer; checking it is one fast
        // pass (the lossy conversion's chunk walk cost more than the serialization).
        match std::str::from_utf8(&self.bytes[from..]) {
            Ok(text) => Payload::from_object_str(text),
            Err(_) => Payload::from_object_str(&String::from_utf8_lossy(&self.bytes[from..])),
        }
    }

    /// Writes `value` as JSON, at most 100 levels deep (a
    /// marker past that). A value serde cannot serialize (a NaN float, a map with non-string
    /// keys...) is written as a string saying why, and so is one whose `Serialize` impl panics:
    /// recording never fails, nor panics into the app.
    pub fn serialize<T: Serialize + ?Sized>(&mut self, value: &T) {
        let mark = self.bytes.len();
        let bytes = &mut self.bytes;
        match guarded(|| serde_json::to_writer(bytes, &Limited(value))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.bytes.truncate(mark);
                self.string(&serialization_failed(&e));
            }
            Err(panic) => {
                self.bytes.truncate(mark);
                self.string(&panicked("Serialize", &panic));
            }
        }
    }

    /// Writes `text` as a JSON string.
    #[inline]
    pub fn string(&mut self, text: &str) {
        if super::fast::needs_no_escape(text) {
            // Most strings (identifiers, tokens, prompts in plain text) need no escaping: one
            // copy between quotes.
            self.bytes.reserve(text.len() + 2);
            self.bytes.push(b'"');
            self.bytes.extend_from_slice(text.as_bytes());
            self.bytes.push(b'"');
        } else {
            // Serializing a &str to JSON cannot fail.
            let _ = serde_json::to_writer(&mut self.bytes, text);
        }
    }

    /// Appends JSON text the caller made (a number, `true`).
    #[inline]
    pub(super) fn raw_str(&mut self, json: &str) {
        self.bytes.extend_from_slice(json.as_bytes());
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

    fn raw(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
    }
}

/// The type name without its module path (`Vec<my_app::Note>` stays readable as `Vec<Note>`).
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    // Keep generics intact; strip the path of the outermost type only.
    let head_end = full.find('<').unwrap_or(full.len());
    match full[..head_end].rfind("::") {
        Some(i) => &full[i + 2..],
        None => full,
    }
}

/// What the generated code wraps each captured value in; see the module docs.
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// First choice: strings, integers and booleans, written without a serializer (`fast`).
pub trait ViaFast {
    /// Writes the probed value into `buf`.
    fn opik_write(&self, buf: &mut JsonBuf);
}
impl<T: FastJson + ?Sized> ViaFast for &&&Probe<'_, T> {
    #[inline]
    fn opik_write(&self, buf: &mut JsonBuf) {
        self.0.write_json(buf);
    }
}

/// Second choice: the value's own JSON.
pub trait ViaSerialize {
    /// Writes the probed value into `buf`.
    fn opik_write(&self, buf: &mut JsonBuf);
}
impl<T: Serialize + ?Sized> ViaSerialize for &&Probe<'_, T> {
    #[inline]
    fn opik_write(&self, buf: &mut JsonBuf) {
        buf.serialize(self.0);
    }
}

/// Third choice: the `Debug` text.
pub trait ViaDebug {
    /// Writes the probed value into `buf`.
    fn opik_write(&self, buf: &mut JsonBuf);
}
impl<T: Debug + ?Sized> ViaDebug for &Probe<'_, T> {
    fn opik_write(&self, buf: &mut JsonBuf) {
        buf.debug(self.0);
    }
}

/// Last resort: the type's name.
pub trait ViaTypeName {
    /// Writes the probed value into `buf`.
    fn opik_write(&self, buf: &mut JsonBuf);
}
impl<T: ?Sized> ViaTypeName for Probe<'_, T> {
    fn opik_write(&self, buf: &mut JsonBuf) {
        buf.type_name::<T>();
    }
}

/// What the generated code wraps a returned error in; see the module docs.
pub struct ErrProbe<'a, T: ?Sized>(pub &'a T);

/// First choice for errors: `std::error::Error`, with its `source()` chain.
pub trait ErrViaError {
    /// Describes the probed error.
    fn opik_error(&self) -> ErrorInfo;
}
impl<E: std::error::Error + ?Sized> ErrViaError for &&&ErrProbe<'_, E> {
    fn opik_error(&self) -> ErrorInfo {
        let error = self.0;
        let message = display(error);
        let mut traceback = debug_text(&DebugAdapter(error));
        write_causes(&mut traceback, error);
        ErrorInfo::new(short_type_name::<E>(), message).with_traceback(traceback)
    }
}

/// How many `source()` causes a traceback lists; a chain longer than this (or one that loops
/// back on itself) ends with a note. Real chains are a handful deep.
const MAX_CAUSES: usize = 32;

/// Longest text kept from one `Display` or `Debug` of an error, in bytes.
const MAX_ERROR_TEXT: usize = 16 << 10;

/// Appends `Caused by: ...` for each cause of `error`, stopping at [`MAX_CAUSES`] or at a cause
/// already listed: a `source()` chain that loops would otherwise never end (and grow the
/// traceback until the process runs out of memory).
fn write_causes<E: std::error::Error + ?Sized>(traceback: &mut String, error: &E) {
    // Causes are told apart by their whole pointer (data and vtable): a struct and its first
    // field share an address (`Outer(Inner)`: `source()` returns a pointer to the same place).
    let mut seen: Vec<*const dyn std::error::Error> = Vec::new();
    let mut source = guarded(|| error.source()).ok().flatten();
    while let Some(cause) = source {
        let at = cause as *const dyn std::error::Error;
        if let Some(i) = seen.iter().position(|p| std::ptr::eq(*p, at)) {
            let _ = write!(
                traceback,
                "\n(the chain of causes loops back to cause {} here)",
                i + 1
            );
            return;
        }
        if seen.len() >= MAX_CAUSES {
            let _ = write!(traceback, "\n(more causes follow; {MAX_CAUSES} are listed)");
            return;
        }
        seen.push(at);
        let _ = write!(traceback, "\nCaused by: {}", display(cause));
        source = guarded(|| cause.source()).ok().flatten();
    }
}

/// `value.to_string()`, cut at [`MAX_ERROR_TEXT`] (on a char boundary), or a note if the impl
/// panics.
fn display<T: Display + ?Sized>(value: &T) -> String {
    let text = guarded(|| value.to_string()).unwrap_or_else(|p| panicked("Display", &p));
    cut(text, MAX_ERROR_TEXT)
}

/// `format!("{value:?}")`, cut and guarded like [`display`].
fn debug_text<T: Debug + ?Sized>(value: &T) -> String {
    let text = guarded(|| format!("{value:?}")).unwrap_or_else(|p| panicked("Debug", &p));
    cut(text, MAX_ERROR_TEXT)
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// What is recorded in place of a value whose `trait_name` impl panicked.
fn panicked(trait_name: &str, message: &str) -> String {
    format!("<{trait_name} impl panicked: {message}>")
}

/// Second choice: `Display` and `Debug` (e.g. `anyhow::Error`, which is not `std::error::Error`).
pub trait ErrViaDisplay {
    /// Describes the probed error.
    fn opik_error(&self) -> ErrorInfo;
}
impl<E: Display + Debug + ?Sized> ErrViaDisplay for &&ErrProbe<'_, E> {
    fn opik_error(&self) -> ErrorInfo {
        ErrorInfo::new(short_type_name::<E>(), display(self.0)).with_traceback(debug_text(self.0))
    }
}

/// Third choice: `Debug` only.
pub trait ErrViaDebug {
    /// Describes the probed error.
    fn opik_error(&self) -> ErrorInfo;
}
impl<E: Debug + ?Sized> ErrViaDebug for &ErrProbe<'_, E> {
    fn opik_error(&self) -> ErrorInfo {
        ErrorInfo::new(short_type_name::<E>(), debug_text(self.0))
    }
}

/// Last resort: the type's name.
pub trait ErrViaTypeName {
    /// Describes the probed error.
    fn opik_error(&self) -> ErrorInfo;
}
impl<E: ?Sized> ErrViaTypeName for ErrProbe<'_, E> {
    fn opik_error(&self) -> ErrorInfo {
        ErrorInfo::new(short_type_name::<E>(), short_type_name::<E>())
    }
}

struct DebugAdapter<'a, E: ?Sized>(&'a E);
impl<E: Debug + ?Sized> Debug for DebugAdapter<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The arguments of a call, written as one JSON object: `{"name": value, ...}`.
pub struct InputCapture {
    buf: JsonBuf,
    empty: bool,
}

impl Default for InputCapture {
    fn default() -> Self {
        // Nothing is allocated until the first argument: a call without arguments gets its
        // `{}` in one small allocation (see `finish`).
        InputCapture {
            buf: JsonBuf::default(),
            empty: true,
        }
    }
}

/// Room for a few small arguments (or an output) without growing the buffer: growing it from
/// empty cost more than the serialization itself (profiled with callgrind, see BENCHMARKS.md).
const FIRST_CAPACITY: usize = 128;

impl InputCapture {
    /// Starts the argument `name`; the caller writes its value into the returned buffer.
    #[inline]
    pub fn arg(&mut self, name: &str) -> &mut JsonBuf {
        if self.empty {
            self.buf = JsonBuf::scratch();
            self.buf.bytes.push(b'{');
        } else {
            self.buf.bytes.push(b',');
        }
        self.empty = false;
        if name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            // Parameter names (Rust identifiers) never need escaping: skip the escaper.
            // One copy for the name; the quotes and colon are single-byte pushes (a copy call
            // per piece cost more than the piece: profiled on the arguments row).
            let bytes = &mut self.buf.bytes;
            bytes.reserve(name.len() + 3);
            bytes.push(b'"');
            bytes.extend_from_slice(name.as_bytes());
            bytes.extend_from_slice(b"\":");
        } else {
            self.buf.string(name);
            self.buf.bytes.push(b':');
        }
        &mut self.buf
    }

    /// The captured object.
    pub(crate) fn finish(mut self) -> Payload {
        if self.empty {
            // A fresh `{}` rather than one shared `Arc`: the exporter thread drops every record,
            // and a shared count would bounce its cache line between the two cores on every
            // span (measured: +40 to +70 ns a call while the exporter is busy).
            return Payload::empty_object();
        }
        self.buf.bytes.push(b'}');
        self.buf.into_payload(0)
    }
}

/// The key a returned value that is not a JSON object is wrapped under, as the Python SDK does.
const OUTPUT_PREFIX: &str = r#"{"output":"#;

/// What a call returned: an output value, or an error.
#[derive(Default)]
pub struct OutputCapture {
    pub(crate) output: Option<Payload>,
    pub(crate) error: Option<ErrorInfo>,
    pending: Option<JsonBuf>,
}

impl OutputCapture {
    /// A buffer for the output value; a value that is not a JSON object is recorded as
    /// `{"output": value}`, as the Python SDK does.
    #[inline]
    pub fn value(&mut self) -> &mut JsonBuf {
        // Written after the wrapper's opening, which `settle` keeps (a value that is not an
        // object) or removes: one buffer, no copy into a second one.
        self.pending.get_or_insert_with(|| {
            let mut buf = JsonBuf::scratch();
            buf.raw(OUTPUT_PREFIX);
            buf
        })
    }

    /// Records an error (the call returned `Err`).
    pub fn error(&mut self, info: ErrorInfo) {
        self.error = Some(info);
    }

    pub(crate) fn settle(&mut self) {
        if let Some(mut buf) = self.pending.take() {
            // The writers emit no leading whitespace: the value starts right after the prefix.
            let from = if buf.bytes.get(OUTPUT_PREFIX.len()) == Some(&b'{') {
                OUTPUT_PREFIX.len()
            } else {
                buf.bytes.push(b'}');
                0
            };
            self.output = Some(buf.into_payload(from));
        }
    }
}

#[cfg(test)]
// The extra borrows are the mechanism: autoref specialization picks the impl by them.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    #[derive(Serialize, Debug)]
    struct Both(u8);
    #[derive(Debug)]
    struct DebugOnly(#[allow(dead_code)] u8);
    struct Neither;

    fn write_all() -> String {
        let mut input = InputCapture::default();
        (&&&&Probe(&Both(1))).opik_write(input.arg("both"));
        (&&&&Probe(&DebugOnly(2))).opik_write(input.arg("debug"));
        (&&&&Probe(&Neither)).opik_write(input.arg("neither"));
        (&&&&Probe(&f64::NAN)).opik_write(input.arg("nan"));
        (&&&&Probe("str")).opik_write(input.arg("s"));
        input.finish().as_str().to_owned()
    }

    #[test]
    fn probes_pick_the_best_capture() {
        let v: serde_json::Value = serde_json::from_str(&write_all()).unwrap();
        assert_eq!(v["both"], 1);
        assert_eq!(v["debug"], "DebugOnly(2)");
        assert_eq!(v["neither"], "<Neither>");
        // serde_json writes NaN as null; a value never makes the SDK panic.
        assert!(v["nan"].is_null() || v["nan"].is_string());
        assert_eq!(v["s"], "str");
    }

    #[derive(Debug)]
    struct Inner;
    impl Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("inner cause")
        }
    }
    impl std::error::Error for Inner {}
    #[derive(Debug)]
    struct Outer(Inner);
    impl Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn errors_keep_type_message_and_chain() {
        let info = (&&&&ErrProbe(&Outer(Inner))).opik_error();
        assert_eq!(info.exception_type, "Outer");
        assert_eq!(info.message.as_deref(), Some("outer failed"));
        assert!(
            info.traceback.contains("Caused by: inner cause"),
            "{}",
            info.traceback
        );
        let info = (&&&&ErrProbe(&Neither)).opik_error();
        assert_eq!(info.exception_type, "Neither");
    }

    #[test]
    fn outputs_wrap_non_objects() {
        let mut o = OutputCapture::default();
        (&&&&Probe(&"hi")).opik_write(o.value());
        o.settle();
        assert_eq!(o.output.unwrap().as_str(), r#"{"output":"hi"}"#);
    }

    #[test]
    fn object_outputs_stay_as_they_are() {
        let mut o = OutputCapture::default();
        (&&&&Probe(&serde_json::json!({"a": [1]}))).opik_write(o.value());
        o.settle();
        assert_eq!(o.output.unwrap().as_str(), r#"{"a":[1]}"#);
        let mut o = OutputCapture::default();
        (&&&&Probe(&f64::NAN)).opik_write(o.value());
        o.settle();
        let text = o.output.unwrap();
        let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
        assert!(v.get("output").is_some(), "{text:?}");
    }

    /// A value whose serialization captures another call's arguments (a tracked call made
    /// inside a `Serialize` impl): the inner capture must not write into the outer one's buffer.
    struct CapturesWhileSerialized;
    impl Serialize for CapturesWhileSerialized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut inner = InputCapture::default();
            inner.arg("x").serialize(&1);
            s.serialize_str(inner.finish().as_str())
        }
    }

    #[test]
    fn the_reused_buffer_keeps_nested_captures_apart() {
        for _ in 0..3 {
            let mut outer = InputCapture::default();
            outer.arg("a").serialize(&CapturesWhileSerialized);
            outer.arg("b").serialize(&2);
            assert_eq!(outer.finish().as_str(), r#"{"a":"{\"x\":1}","b":2}"#);
            let mut output = OutputCapture::default();
            output.value().serialize(&"done");
            output.settle();
            assert_eq!(output.output.unwrap().as_str(), r#"{"output":"done"}"#);
        }
        // A huge value is captured whole; its buffer is not kept for the next call.
        let big = "x".repeat(SCRATCH_KEPT_MAX * 2);
        let mut input = InputCapture::default();
        input.arg("big").serialize(&big);
        assert_eq!(input.finish().len(), big.len() + r#"{"big":""}"#.len());
        assert!(SCRATCH.with(|s| {
            let kept = s.take();
            let cap = kept.capacity();
            s.set(kept);
            cap <= SCRATCH_KEPT_MAX
        }));
    }

    #[test]
    fn no_arguments_is_the_empty_object() {
        assert_eq!(InputCapture::default().finish().as_str(), "{}");
        let mut input = InputCapture::default();
        (&&&&Probe(&1)).opik_write(input.arg("a"));
        (&&&&Probe(&"x")).opik_write(input.arg("b"));
        assert_eq!(input.finish().as_str(), r#"{"a":1,"b":"x"}"#);
        let mut input = InputCapture::default();
        (&&&&Probe(&1)).opik_write(input.arg("q\"uo\\te\n"));
        let v: serde_json::Value = serde_json::from_str(input.finish().as_str()).unwrap();
        assert_eq!(v["q\"uo\\te\n"], 1);
    }
}
