//! Serializing user values with bounded nesting: past [`MAX_DEPTH`] levels of arrays, maps and
//! structs, a value is replaced by a marker string.
//!
//! Why: serializers recurse once per level on the caller's stack, so a `serde_json::Value`
//! nested 50,000 levels overflows a tokio worker's 2 MiB stack (an abort, not a panic), and a
//! record nested 10,000 levels is sent only to be refused, with its whole batch, by a
//! depth-limited parser (Python's and the server's Jackson both stop near 1,000). With the
//! bound, the recursion is at most [`MAX_DEPTH`] levels deep whatever the data, and the record
//! is one every parser takes.
//!
//! [`Limited`] wraps any `Serialize`; it works with any serializer (JSON text for captures,
//! `serde_json::Value` for updates) by wrapping the serializer it is given, so each nested
//! value goes through the same depth check.

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

/// The deepest nesting of arrays, maps and structs kept in a recorded value.
pub const MAX_DEPTH: usize = 100;

/// What a value nested deeper than [`MAX_DEPTH`] is recorded as.
pub const TOO_DEEP: &str = "<opik: nested more than 100 levels deep; cut here>";

/// `value`, serialized with at most [`MAX_DEPTH`] levels of nesting.
pub struct Limited<'a, T: ?Sized>(pub &'a T);

impl<T: Serialize + ?Sized> Serialize for Limited<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        At {
            value: self.0,
            depth: 0,
        }
        .serialize(s)
    }
}

/// A value at a nesting depth.
struct At<'a, T: ?Sized> {
    value: &'a T,
    depth: usize,
}

impl<T: Serialize + ?Sized> Serialize for At<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Ser {
            inner: s,
            depth: self.depth,
        })
    }
}

/// A serializer that counts how deep it is and cuts there.
struct Ser<S> {
    inner: S,
    depth: usize,
}

/// A container being written, or one cut because it was too deep (then its elements are
/// skipped and the marker already written is the result).
enum Compound<C, O> {
    Live { inner: C, depth: usize },
    Cut(O),
}

impl<S: Serializer> Ser<S> {
    /// Opens a container `levels` deep in JSON (a variant with fields is two: `{"V": {...}}`)
    /// with `open`, or writes the marker when it would go past the limit.
    fn open<C>(
        self,
        levels: usize,
        open: impl FnOnce(S) -> Result<C, S::Error>,
    ) -> Result<Compound<C, S::Ok>, S::Error> {
        if self.depth + levels > MAX_DEPTH {
            return self.inner.serialize_str(TOO_DEEP).map(Compound::Cut);
        }
        Ok(Compound::Live {
            inner: open(self.inner)?,
            depth: self.depth + levels,
        })
    }
}

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<S: Serializer> Serializer for Ser<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<S::SerializeSeq, S::Ok>;
    type SerializeTuple = Compound<S::SerializeTuple, S::Ok>;
    type SerializeTupleStruct = Compound<S::SerializeTupleStruct, S::Ok>;
    type SerializeTupleVariant = Compound<S::SerializeTupleVariant, S::Ok>;
    type SerializeMap = Compound<S::SerializeMap, S::Ok>;
    type SerializeStruct = Compound<S::SerializeStruct, S::Ok>;
    type SerializeStructVariant = Compound<S::SerializeStructVariant, S::Ok>;

    forward! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
        serialize_u32(u32), serialize_u64(u64), serialize_u128(u128), serialize_f32(f32),
        serialize_f64(f64), serialize_char(char), serialize_str(&str), serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        let depth = self.depth;
        self.inner.serialize_some(&At { value, depth })
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let depth = self.depth;
        self.inner
            .serialize_newtype_struct(name, &At { value, depth })
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        // Written as `{"variant": value}`: one level.
        if self.depth + 1 > MAX_DEPTH {
            return self.inner.serialize_str(TOO_DEEP);
        }
        let depth = self.depth + 1;
        self.inner
            .serialize_newtype_variant(name, index, variant, &At { value, depth })
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.open(1, |s| s.serialize_seq(len))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.open(1, |s| s.serialize_tuple(len))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.open(1, |s| s.serialize_tuple_struct(name, len))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.open(2, |s| s.serialize_tuple_variant(name, index, variant, len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.open(1, |s| s.serialize_map(len))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.open(1, |s| s.serialize_struct(name, len))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.open(2, |s| s.serialize_struct_variant(name, index, variant, len))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The element-writing methods of a compound, each value one level deeper.
macro_rules! compound {
    ($trait:ident, $($method:ident($($arg:ident: $ty:ty),*)),+) => {
        impl<C: $trait> $trait for Compound<C, C::Ok> {
            type Ok = C::Ok;
            type Error = C::Error;
            $(
                fn $method<T: Serialize + ?Sized>(
                    &mut self,
                    $($arg: $ty,)*
                    value: &T,
                ) -> Result<(), C::Error> {
                    match self {
                        Compound::Live { inner, depth } => {
                            inner.$method($($arg,)* &At { value, depth: *depth })
                        }
                        Compound::Cut(_) => Ok(()),
                    }
                }
            )+
            fn end(self) -> Result<C::Ok, C::Error> {
                match self {
                    Compound::Live { inner, .. } => inner.end(),
                    Compound::Cut(ok) => Ok(ok),
                }
            }
        }
    };
}

compound!(SerializeSeq, serialize_element());
compound!(SerializeTuple, serialize_element());
compound!(SerializeTupleStruct, serialize_field());
compound!(SerializeTupleVariant, serialize_field());
compound!(SerializeStruct, serialize_field(key: &'static str));
compound!(SerializeStructVariant, serialize_field(key: &'static str));

impl<C: SerializeMap> SerializeMap for Compound<C, C::Ok> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        match self {
            Compound::Live { inner, depth } => inner.serialize_key(&At {
                value: key,
                depth: *depth,
            }),
            Compound::Cut(_) => Ok(()),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        match self {
            Compound::Live { inner, depth } => inner.serialize_value(&At {
                value,
                depth: *depth,
            }),
            Compound::Cut(_) => Ok(()),
        }
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        match self {
            Compound::Live { inner, .. } => inner.end(),
            Compound::Cut(ok) => Ok(ok),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn shallow_values_are_unchanged() {
        let v = json!({"a": [1, {"b": null}], "s": "x", "o": {"n": 1.5}});
        assert_eq!(serde_json::to_value(Limited(&v)).unwrap(), v);
        assert_eq!(
            serde_json::to_string(&Limited(&nested(MAX_DEPTH))).unwrap(),
            serde_json::to_string(&nested(MAX_DEPTH)).unwrap()
        );
    }

    #[test]
    fn deeper_values_are_cut_at_the_limit() {
        let text = serde_json::to_string(&Limited(&nested(MAX_DEPTH + 5))).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut v = &back;
        let mut depth = 0;
        while let Value::Array(a) = v {
            v = &a[0];
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert_eq!(v, TOO_DEEP);
    }

    #[test]
    fn a_very_deep_value_does_not_overflow_a_small_stack() {
        // 50,000 levels on a 256 KiB stack: only `MAX_DEPTH` of them are ever recursed into.
        let deep = nested(50_000);
        let handle = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let text = serde_json::to_string(&Limited(&deep)).unwrap();
                // `Value`'s own drop is recursive; leak the tree rather than drop it here.
                std::mem::forget(deep);
                text.len()
            })
            .unwrap();
        assert!(handle.join().unwrap() < 1_000);
    }

    #[derive(serde::Serialize)]
    enum E {
        Newtype(Box<Option<E>>),
        Struct { inner: Option<Box<E>> },
    }

    #[test]
    fn enums_count_their_levels_too() {
        let mut e = E::Struct { inner: None };
        for i in 0..300 {
            e = if i % 2 == 0 {
                E::Newtype(Box::new(Some(e)))
            } else {
                E::Struct {
                    inner: Some(Box::new(e)),
                }
            };
        }
        let text = serde_json::to_string(&Limited(&e)).unwrap();
        assert!(text.contains(TOO_DEEP), "{}", &text[..200]);
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }
}
