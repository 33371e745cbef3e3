//! [`DatasetItem`]: one row of a dataset, and the content hash that de-duplicates inserts.

use super::error::EvaluationError;
use crate::model::{new_id, Timestamp};
use crate::rest::{DatasetItemWrite, ItemPublic};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Keys of an inserted object that are the item's own fields, not its data (as in the Python
/// SDK: `id`, `trace_id`, `span_id`, `source`, `description`, and the test-suite fields
/// `evaluators` and `execution_policy`, which this SDK does not send).
const RESERVED: [&str; 7] = [
    "id",
    "trace_id",
    "span_id",
    "source",
    "description",
    "evaluators",
    "execution_policy",
];

/// One item of a dataset: its id and its data (a JSON object), plus the trace or span it was
/// made from, if any.
///
/// A task gets the item as [`content`](Self::content) (the data with `id`), deserialized into
/// its own type or as a `serde_json::Value`.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetItem {
    /// The item's id (UUID v7, made when it was first inserted); the upsert key.
    pub id: Uuid,
    /// The item's fields.
    pub data: Map<String, Value>,
    /// The trace the item was made from.
    pub trace_id: Option<Uuid>,
    /// The span the item was made from.
    pub span_id: Option<Uuid>,
    /// A description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
}

impl Serialize for DatasetItem {
    /// As [`content`](Self::content): the data with `id`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.content().serialize(s)
    }
}

impl DatasetItem {
    /// An item from any value that serializes as a JSON object: its `id` (if any, a UUID),
    /// `trace_id`, `span_id` and `description` are the item's, every other field its data.
    /// A new id is made when there is none.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<DatasetItem, EvaluationError> {
        let value = serde_json::to_value(value)
            .map_err(|e| EvaluationError::invalid_item(0, format!("it does not serialize: {e}")))?;
        Self::from_value(value)
    }

    pub(crate) fn from_value(value: Value) -> Result<DatasetItem, EvaluationError> {
        let Value::Object(mut data) = value else {
            return Err(EvaluationError::invalid_item(
                0,
                format!(
                    "a dataset item is a JSON object, not {}",
                    super::error::json_kind(&value)
                ),
            ));
        };
        let uuid = |key: &str, v: Value| -> Result<Uuid, EvaluationError> {
            v.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    EvaluationError::invalid_item(0, format!("its `{key}` {v} is not a UUID"))
                })
        };
        let mut item = DatasetItem {
            id: Uuid::nil(),
            data: Map::new(),
            trace_id: None,
            span_id: None,
            description: None,
            tags: Vec::new(),
        };
        for key in RESERVED {
            let Some(v) = data.remove(key).filter(|v| !v.is_null()) else {
                continue;
            };
            match key {
                "id" => item.id = uuid(key, v)?,
                "trace_id" => item.trace_id = Some(uuid(key, v)?),
                "span_id" => item.span_id = Some(uuid(key, v)?),
                "description" => item.description = v.as_str().map(str::to_owned),
                _ => {}
            }
        }
        if item.id.is_nil() {
            item.id = new_id(Timestamp::now());
        }
        item.data = data;
        Ok(item)
    }

    pub(crate) fn from_public(p: ItemPublic) -> DatasetItem {
        DatasetItem {
            id: p.id,
            data: match p.data {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                other => Map::from_iter([("data".to_owned(), other)]),
            },
            trace_id: p.trace_id,
            span_id: p.span_id,
            description: p.description,
            tags: p.tags,
        }
    }

    pub(crate) fn to_write(&self) -> DatasetItemWrite {
        DatasetItemWrite {
            id: self.id,
            source: "sdk",
            data: self.data.clone(),
            trace_id: self.trace_id,
            span_id: self.span_id,
            description: self.description.clone().filter(|d| !d.trim().is_empty()),
            tags: self.tags.clone(),
        }
    }

    /// The field `key` of the data.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// What a task gets: the data with the item's `id` (Python's `get_content(include_id=True)`).
    pub fn content(&self) -> Map<String, Value> {
        let mut content = self.data.clone();
        content.insert("id".to_owned(), Value::String(self.id.to_string()));
        content
    }

    /// The content as a `T` (fields `T` does not name are ignored, as serde does by default).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.content()))
    }

    /// SHA-256 of what the Python SDK hashes (`DatasetItem.content_hash`): the data and the
    /// description, keys sorted, never the id or the trace and span links. Two items with the
    /// same content have the same hash whatever their ids, so inserting them twice adds one.
    /// (The JSON is this SDK's compact form, not Python's `json.dumps` spacing: hashes are
    /// only ever compared with hashes the same client made.)
    pub(crate) fn content_hash(&self) -> [u8; 32] {
        let mut hashed = self.data.clone();
        if let Some(d) = &self.description {
            hashed.insert("description".to_owned(), Value::String(d.clone()));
        }
        let mut text = Vec::with_capacity(256);
        write_sorted(&mut text, &Value::Object(hashed));
        Sha256::digest(&text).into()
    }
}

/// `value` as JSON with every object's keys sorted, whatever order the map keeps them in.
fn write_sorted(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_sorted(out, &map[k]);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(out, v);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_keys_are_the_items_and_the_hash_ignores_ids() {
        let a = DatasetItem::new(
            &json!({"input": {"b": 1, "a": 2}, "expected": "x", "description": "d"}),
        )
        .unwrap();
        assert_eq!(a.description.as_deref(), Some("d"));
        assert!(a.get("description").is_none());
        let b = DatasetItem::new(
            &json!({"expected": "x", "input": {"a": 2, "b": 1}, "description": "d",
            "id": "01890a5d-ac96-774b-bcce-b302099a8057"}),
        )
        .unwrap();
        assert_eq!(b.id.to_string(), "01890a5d-ac96-774b-bcce-b302099a8057");
        assert_ne!(a.id, b.id);
        assert_eq!(a.content_hash(), b.content_hash());
        let c = DatasetItem::new(&json!({"expected": "y", "input": {"a": 2, "b": 1}})).unwrap();
        assert_ne!(a.content_hash(), c.content_hash());
        assert_eq!(b.content()["id"], "01890a5d-ac96-774b-bcce-b302099a8057");
        assert!(DatasetItem::new(&json!(3)).is_err());
        assert!(DatasetItem::new(&json!({"id": "nope"})).is_err());
    }
}
