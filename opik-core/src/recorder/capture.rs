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
pub use super::json_buf::JsonBuf;
use crate::model::{guarded, ErrorInfo, Payload};
use serde::Serialize;
use std::fmt::{self, Debug, Display, Write as _};

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
pub(super) fn panicked(trait_name: &str, message: &str) -> String {
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
        // Nothing is written until the first argument: a call without arguments records the
        // inline `{}` (see `finish`).
        InputCapture {
            buf: JsonBuf::default(),
            empty: true,
        }
    }
}

impl InputCapture {
    /// Starts the argument `name`; the caller writes its value into the returned buffer.
    #[inline]
    pub fn arg(&mut self, name: &str) -> &mut JsonBuf {
        self.buf.push_byte(if self.empty { b'{' } else { b',' });
        self.empty = false;
        if super::fast::needs_no_escape(name) {
            // Parameter names (Rust identifiers) never need escaping: skip the escaper.
            self.buf.push_byte(b'"');
            self.buf.extend(name.as_bytes());
            self.buf.extend(b"\":");
        } else {
            self.buf.string(name);
            self.buf.push_byte(b':');
        }
        &mut self.buf
    }

    /// Starts an argument whose `"key":` is given whole (made at compile time).
    #[inline]
    pub fn arg_key(&mut self, key: &'static str) -> &mut JsonBuf {
        self.buf.push_byte(if self.empty { b'{' } else { b',' });
        self.empty = false;
        self.buf.extend(key.as_bytes());
        &mut self.buf
    }

    /// The captured object (the capture is left empty).
    pub(crate) fn finish(&mut self) -> Payload {
        if self.empty {
            return Payload::empty_object();
        }
        self.buf.push_byte(b'}');
        let payload = self.buf.payload_from(0);
        self.buf.truncate(0);
        self.empty = true;
        payload
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
            let mut buf = JsonBuf::default();
            buf.raw_str(OUTPUT_PREFIX);
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
            let from = if buf.byte(OUTPUT_PREFIX.len()) == Some(b'{') {
                OUTPUT_PREFIX.len()
            } else {
                buf.push_byte(b'}');
                0
            };
            self.output = Some(buf.payload_from(from));
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
        use super::super::json_buf::{SCRATCH, SCRATCH_KEPT_MAX};
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
