//! User values as `serde_json::Value`s, whatever their `Serialize` impls do: nested at most
//! `MAX_DEPTH` levels, a serialization error or a panic recorded as a string saying so.

use super::{guarded, serialization_failed, Limited};
use serde::Serialize;
use serde_json::Value;

/// `value` as JSON, never failing and never panicking.
pub(crate) fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    match guarded(|| serde_json::to_value(Limited(value))) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => Value::String(serialization_failed(&e)),
        Err(panic) => Value::String(format!("<Serialize impl panicked: {panic}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;
    impl Serialize for Panics {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("no JSON for you")
        }
    }

    #[test]
    fn any_value_becomes_json() {
        assert_eq!(to_value(&[1, 2]), serde_json::json!([1, 2]));
        assert_eq!(
            to_value(&Panics),
            Value::String("<Serialize impl panicked: no JSON for you>".into())
        );
        let mut m = std::collections::HashMap::new();
        m.insert((1, 2), 3);
        assert!(to_value(&m)
            .as_str()
            .is_some_and(|s| s.contains("serialization failed")));
    }
}
