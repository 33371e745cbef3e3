//! Values written as JSON without a general-purpose serializer in between: strings, integers
//! and booleans, the arguments and items most calls have. The generated code reaches them
//! first through autoref specialization (`capture::ViaFast`); everything else goes through
//! `serde`. What they write is byte for byte what `serde_json` writes for the same value.
//!
//! Why: `serde_json`'s writer costs ~85 instructions for a four-byte string (three `write_all`
//! calls, a table lookup per byte); a string with nothing to escape is one check over its bytes
//! and one copy here, an integer one `itoa` formatting.

use super::capture::JsonBuf;
use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// A value whose JSON is written straight into the capture buffer.
pub trait FastJson {
    /// Writes the value's JSON into `buf`.
    fn write_json(&self, buf: &mut JsonBuf);
}

impl FastJson for str {
    #[inline]
    fn write_json(&self, buf: &mut JsonBuf) {
        buf.string(self);
    }
}

macro_rules! via_str {
    ($($ty:ty),*) => {$(
        impl FastJson for $ty {
            #[inline]
            fn write_json(&self, buf: &mut JsonBuf) {
                buf.string(self);
            }
        }
    )*};
}

via_str!(String, Box<str>, Arc<str>, Rc<str>, Cow<'_, str>);

macro_rules! via_itoa {
    ($($ty:ty),*) => {$(
        impl FastJson for $ty {
            #[inline]
            fn write_json(&self, buf: &mut JsonBuf) {
                buf.raw_str(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}

via_itoa!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

impl FastJson for bool {
    #[inline]
    fn write_json(&self, buf: &mut JsonBuf) {
        buf.raw_str(if *self { "true" } else { "false" });
    }
}

impl<T: FastJson + ?Sized> FastJson for &T {
    #[inline]
    fn write_json(&self, buf: &mut JsonBuf) {
        (**self).write_json(buf);
    }
}

impl<T: FastJson + ?Sized> FastJson for &mut T {
    #[inline]
    fn write_json(&self, buf: &mut JsonBuf) {
        (**self).write_json(buf);
    }
}

/// Whether `s` can be written between quotes as it is (nothing JSON must escape).
#[inline]
pub(super) fn needs_no_escape(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast<T: FastJson + ?Sized>(v: &T) -> String {
        let mut buf = JsonBuf::with_prefix(b"");
        v.write_json(&mut buf);
        buf.as_str().to_owned()
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for s in [
            "",
            "tok ",
            "quote \" back \\ tab \t nl \n",
            "é🎸",
            "\u{1f}",
            "\u{7f}",
        ] {
            assert_eq!(fast(s), serde_json::to_string(s).unwrap(), "{s:?}");
            assert_eq!(fast(&s.to_owned()), serde_json::to_string(s).unwrap());
        }
        assert_eq!(fast(&u64::MAX), serde_json::to_string(&u64::MAX).unwrap());
        assert_eq!(fast(&i128::MIN), serde_json::to_string(&i128::MIN).unwrap());
        assert_eq!(fast(&-7i8), "-7");
        assert_eq!(fast(&true), "true");
        assert_eq!(fast(&&&"nested refs"), "\"nested refs\"");
        assert_eq!(fast(&Cow::Borrowed("c")), "\"c\"");
    }
}
