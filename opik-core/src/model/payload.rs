//! JSON payloads (input, output) captured as serialized text.
//!
//! Arguments are serialized once, straight into a buffer, on the caller's thread: that is cheaper
//! than building a `serde_json::Value` tree, and the exporter splices the text into the request
//! body without parsing it into a tree again.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::fmt;
use std::sync::Arc;

/// A JSON object, kept as its serialized text (shared: a root call sends the same input and
/// output on its trace and its span without copying them).
///
/// Invariant: the text is one valid JSON object. Every constructor keeps it, so the exporter
/// can splice it into a request body as is.
///
/// Text of up to 22 bytes (`{}`, `{"x":5}`, `{"output":6}`: what most scalar arguments and
/// results make) is kept inline, in the record itself: no allocation on the caller's thread, no
/// free on the exporter's, and no shared reference count bouncing between cores. Longer text
/// is one shared `Arc<str>`. Either way a payload is 24 bytes.
#[derive(Clone)]
pub struct Payload(Repr);

/// How much text a payload keeps inline.
pub(crate) const INLINE_PAYLOAD: usize = 22;

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is the text (UTF-8: only ever copied from a `str` or from a capture
    /// buffer's text, see the constructors).
    Inline {
        len: u8,
        bytes: [u8; INLINE_PAYLOAD],
    },
    Shared(Arc<str>),
}

impl Payload {
    /// The empty object `{}`: what a function without (captured) arguments sends as input.
    #[inline]
    pub const fn empty_object() -> Self {
        let mut bytes = [0u8; INLINE_PAYLOAD];
        bytes[0] = b'{';
        bytes[1] = b'}';
        Payload(Repr::Inline { len: 2, bytes })
    }

    fn from_string(text: String) -> Self {
        if text.len() <= INLINE_PAYLOAD {
            Self::from_object_str(&text)
        } else {
            Payload(Repr::Shared(text.into()))
        }
    }

    /// The `len` bytes of text starting at `from` in `window`: a fixed-size copy (no call to
    /// `memcpy`), for the capture buffer's small text. `None` when `len` is over
    /// [`INLINE_PAYLOAD`] or `window` is shorter than `from + INLINE_PAYLOAD`.
    ///
    /// # Safety
    /// `window[from..from + len]` must be UTF-8 (`as_str` relies on it).
    #[inline]
    pub(crate) unsafe fn from_window(window: &[u8], from: usize, len: usize) -> Option<Self> {
        let chunk: &[u8; INLINE_PAYLOAD] =
            window.get(from..from + INLINE_PAYLOAD)?.try_into().ok()?;
        (len <= INLINE_PAYLOAD).then_some(Payload(Repr::Inline {
            len: len as u8,
            bytes: *chunk,
        }))
    }

    /// Wraps any JSON value the way Opik's SDKs do: an object stays as it is, anything else
    /// becomes `{"<key>": value}` (the Python SDK uses `"output"` for return values).
    pub fn from_value_text(value_json: String, key: &str) -> Self {
        if value_json.trim_start().starts_with('{') {
            Self::from_string(value_json)
        } else {
            let mut wrapped = String::with_capacity(value_json.len() + key.len() + 5);
            wrapped.push('{');
            // `key` is one of our own constants or a user-given name: escape it like any string.
            wrapped.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"value\"".into()));
            wrapped.push(':');
            wrapped.push_str(&value_json);
            wrapped.push('}');
            Self::from_string(wrapped)
        }
    }

    /// From a `serde_json::Value`, wrapped under `key` when it is not an object.
    pub fn from_json(value: &serde_json::Value, key: &str) -> Self {
        Self::from_value_text(value.to_string(), key)
    }

    /// Copies text that the caller has built as a JSON object (used by the capture buffers).
    pub(crate) fn from_object_str(text: &str) -> Self {
        debug_assert!(text.starts_with('{') && text.ends_with('}'));
        if text.len() <= INLINE_PAYLOAD {
            let mut bytes = [0u8; INLINE_PAYLOAD];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Payload(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            Payload(Repr::Shared(Arc::from(text)))
        }
    }

    /// The serialized JSON text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len).min(INLINE_PAYLOAD)];
                debug_assert!(std::str::from_utf8(text).is_ok());
                // SAFETY: inline bytes are only ever copied from text (see `Repr::Inline`).
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Shared(text) => text,
        }
    }

    /// Parses the payload into a `serde_json::Value` (for tests, local views and merges).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.as_str()).unwrap_or(serde_json::Value::Null)
    }

    /// Size of the serialized text in bytes.
    pub fn len(&self) -> usize {
        self.as_str().len()
    }
}

/// The text recorded in place of a value that serde could not serialize (a NaN float, a map with
/// non-string keys...): the SDK never panics into the app over a value it was asked to record.
pub(crate) fn serialization_failed(err: &serde_json::Error) -> String {
    format!("<serialization failed: {err}>")
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Borrowing parse: checks the text without allocating, then splices it verbatim.
        match serde_json::from_str::<&RawValue>(self.as_str()) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_str(self.as_str()),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Payload {
        /// A payload from any serializable value, wrapped under `key` when it is not an object.
        /// A value that cannot be serialized is recorded as a string that says why.
        pub fn from_serialize<T: Serialize + ?Sized>(value: &T, key: &str) -> Self {
            let text = serde_json::to_string(value).unwrap_or_else(|e| {
                serde_json::Value::String(serialization_failed(&e)).to_string()
            });
            Self::from_value_text(text, key)
        }
    }

    #[test]
    fn non_objects_are_wrapped_like_python() {
        assert_eq!(
            Payload::from_serialize(&"hi", "output").as_str(),
            r#"{"output":"hi"}"#
        );
        assert_eq!(
            Payload::from_serialize(&(1, 2), "output").as_str(),
            r#"{"output":[1,2]}"#
        );
        let obj = serde_json::json!({"a": 1});
        assert_eq!(Payload::from_json(&obj, "output").as_str(), r#"{"a":1}"#);
    }

    #[test]
    fn unserializable_values_become_a_message() {
        let mut m = std::collections::HashMap::new();
        m.insert((1, 2), 3);
        let p = Payload::from_serialize(&m, "output");
        assert!(p.as_str().contains("serialization failed"), "{p:?}");
        assert!(serde_json::from_str::<serde_json::Value>(p.as_str()).is_ok());
    }

    #[test]
    fn the_inline_empty_object_is_the_object_text() {
        let inline = Payload::empty_object();
        assert_eq!(inline.as_str(), "{}");
        assert_eq!(inline, Payload::from_value_text("{}".to_owned(), "output"));
        assert_eq!(serde_json::to_string(&inline).unwrap(), "{}");
        assert_eq!(inline.to_value(), serde_json::json!({}));
    }

    #[test]
    fn serializes_verbatim() {
        let p = Payload::from_serialize(&serde_json::json!({"x": [1, "two"]}), "output");
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"x":[1,"two"]}"#);
    }
}
