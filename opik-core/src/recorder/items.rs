//! [`ItemCapture`]: the items a tracked stream or iterator yields, aggregated into its span's
//! output as they go: written one after another into one buffer as a JSON array, bounded in
//! bytes (past the limit the rest are counted, not kept), then turned into the output when the
//! span ends: the items' concatenation when every item was a string (the Python SDK's default
//! for generators: a streamed answer is recorded as its text), the array otherwise, or what a
//! function given with `#[track(aggregate = ...)]` makes of them.
//!
//! No allocation per item: each item is serialized straight into the buffer (amortized growth).

use super::capture::JsonBuf;
use crate::model::{to_value, ErrorInfo, Payload, Timestamp};
use serde_json::Value;

/// A function that makes a stream's output from its items (`#[track(aggregate = f)]`).
pub(crate) type Aggregate = Box<dyn FnOnce(Vec<Value>) -> Value + Send>;

/// The items seen so far.
pub struct ItemCapture {
    /// `[item,item,...` (the closing bracket is added at the end).
    buf: JsonBuf,
    /// Where the item being written starts.
    mark: usize,
    items: u64,
    kept: u64,
    all_strings: bool,
    truncated: bool,
    limit: usize,
    /// When the first `Ok` item came (the span's `ttft`: an error is no first token).
    pub(crate) first_item_at: Option<Timestamp>,
    /// The last `Err` item, as the span's error.
    pub(crate) error: Option<ErrorInfo>,
    writing: bool,
    /// The item being settled is an `Err`.
    erring: bool,
}

impl ItemCapture {
    /// Captures at most `limit` bytes of items.
    pub(crate) fn new(limit: usize) -> Self {
        ItemCapture {
            buf: JsonBuf::with_prefix(b"["),
            mark: 1,
            items: 0,
            kept: 0,
            all_strings: true,
            truncated: false,
            limit,
            first_item_at: None,
            error: None,
            writing: false,
            erring: false,
        }
    }

    /// A buffer for the next item's JSON (what the generated capture writes into).
    #[inline]
    pub fn item(&mut self) -> &mut JsonBuf {
        self.mark = self.buf.len();
        if self.kept > 0 {
            self.buf.push_byte(b',');
        }
        self.writing = true;
        &mut self.buf
    }

    /// Records an `Err` item: the span's error (the stream goes on as the user's code decides).
    pub fn error(&mut self, info: ErrorInfo) {
        self.error = Some(info);
        self.erring = true;
    }

    /// Settles the item just yielded (called by the stream after the generated capture ran).
    /// The clock is read for the first item only (its time is the span's `ttft`).
    #[inline]
    pub(crate) fn settle(&mut self) {
        if self.first_item_at.is_none() && !std::mem::take(&mut self.erring) {
            self.first_item_at = Some(Timestamp::now());
        }
        self.erring = false;
        self.items += 1;
        if !std::mem::take(&mut self.writing) {
            return; // an `Err`, or an item with nothing captured
        }
        if self.truncated || self.buf.len() > self.limit {
            // Past the limit: this item and every later one is counted, not kept.
            self.buf.truncate(self.mark);
            self.truncated = true;
            return;
        }
        let start = self.mark + usize::from(self.kept > 0);
        if self.buf.byte(start) != Some(b'"') {
            self.all_strings = false;
        }
        self.kept += 1;
    }

    /// How many items were yielded.
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    /// The output the items make (`None` when nothing was yielded and nothing aggregates).
    /// Without an aggregate function the output's JSON is written straight from the buffer:
    /// the array as it is, or the strings' escaped contents joined (each item was written as a
    /// valid JSON string, so the concatenation of their insides is the concatenation's
    /// inside); only `aggregate` parses the items back into values.
    pub(crate) fn output(mut self, aggregate: Option<Aggregate>) -> Option<Payload> {
        self.buf.push_byte(b']');
        let text = self.buf.as_str();
        let mut out = String::with_capacity(text.len() + 32);
        out.push_str("{\"output\":");
        match aggregate {
            Some(f) => {
                let items: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
                let value = to_value(&crate::model::guarded(|| f(items)).unwrap_or_else(|panic| {
                    Value::String(format!("<aggregate panicked: {panic}>"))
                }));
                out.push_str(&value.to_string());
            }
            None if self.items == 0 => return None,
            None if self.all_strings => {
                out.push('"');
                join_string_contents(text, &mut out);
                out.push('"');
            }
            None => out.push_str(text),
        }
        if self.truncated {
            out.push_str(",\"opik_truncated\":true");
        }
        out.push('}');
        Some(Payload::from_object_str(&out))
    }
}

/// Appends the insides of the JSON strings of `array` (`["a","b\"c"]`) to `out`, as escaped
/// JSON text: a quote inside a string is always escaped, so the strings' ends are the quotes
/// that no backslash escapes.
fn join_string_contents(array: &str, out: &mut String) {
    let bytes = array.as_bytes();
    let mut inside = false;
    let mut from = 0;
    let mut at = 0;
    // Only quotes and backslashes matter: jump from one to the next.
    while let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) {
        let i = at + found;
        if bytes[i] == b'\\' {
            at = i + 2; // an escape: the next byte is not a quote that ends the string
            continue;
        }
        if inside {
            out.push_str(&array[from..i]);
        } else {
            from = i + 1;
        }
        inside = !inside;
        at = i + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn capture(limit: usize, items: &[Value]) -> ItemCapture {
        let mut c = ItemCapture::new(limit);
        for v in items {
            c.item().serialize(v);
            c.settle();
        }
        c
    }

    #[test]
    fn strings_are_concatenated_and_anything_else_is_an_array() {
        let c = capture(
            1 << 20,
            &[json!("Play "), json!("slower, "), json!("\"then\" faster")],
        );
        assert_eq!(
            c.output(None).unwrap().to_value(),
            json!({"output": "Play slower, \"then\" faster"})
        );
        let tricky = [
            json!("back\\"),
            json!("\\\""),
            json!("\u{1F3B8} \n"),
            json!(""),
        ];
        let joined: String = tricky.iter().filter_map(Value::as_str).collect();
        let c = capture(1 << 20, &tricky);
        assert_eq!(
            c.output(None).unwrap().to_value(),
            json!({"output": joined})
        );
        let c = capture(1 << 20, &[json!("a"), json!(1), json!({"k": [true]})]);
        assert_eq!(
            c.output(None).unwrap().to_value(),
            json!({"output": ["a", 1, {"k": [true]}]})
        );
        assert!(capture(1 << 20, &[]).output(None).is_none());
    }

    #[test]
    fn past_the_limit_items_are_counted_not_kept() {
        let items: Vec<Value> = (0..100).map(|i| json!(format!("token-{i:03} "))).collect();
        let c = capture(120, &items);
        assert_eq!(c.items(), 100);
        let out = c.output(None).unwrap().to_value();
        assert_eq!(out["opik_truncated"], true);
        let text = out["output"].as_str().unwrap();
        assert!(
            text.starts_with("token-000 token-001 ") && text.len() < 130,
            "{text}"
        );
    }

    #[test]
    fn a_custom_aggregate_gets_the_items_as_values() {
        let c = capture(1 << 20, &[json!(1), json!(2), json!(3)]);
        let sum: Aggregate =
            Box::new(|items| json!(items.iter().filter_map(Value::as_i64).sum::<i64>()));
        assert_eq!(
            c.output(Some(sum)).unwrap().to_value(),
            json!({"output": 6})
        );
    }
}
