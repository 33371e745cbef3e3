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
///
/// While every item is a string (a streamed answer's tokens), the buffer holds `[` and their
/// escaped contents joined, without quotes: each item is appended and unquoted as it comes,
/// which costs a copy of the item, where joining them at the end scanned the whole text for
/// quotes again. Their lengths are kept (varint-encoded, counted against the limit) so that
/// the array can still be written as it was, should an item that is not a string follow.
pub struct ItemCapture {
    /// `[item,item,...` (the closing bracket is added at the end), or `[` and the joined
    /// contents of string items.
    buf: JsonBuf,
    /// Where the item being written starts.
    mark: usize,
    items: u64,
    kept: u64,
    /// Every kept item so far was a string (the buffer holds their joined contents).
    all_strings: bool,
    /// While `all_strings`: the contents' lengths in bytes, LEB128, one after another.
    lengths: Vec<u8>,
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
            lengths: Vec::new(),
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
        if self.all_strings {
            // A string item (the usual stream of tokens) is written already unquoted.
            self.buf.next_string_bare();
        } else if self.kept > 0 {
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
        if self.truncated || self.buf.len() + self.lengths.len() > self.limit {
            // Past the limit: this item and every later one is counted, not kept.
            self.buf.took_bare();
            self.buf.truncate(self.mark);
            self.truncated = true;
            return;
        }
        if self.all_strings {
            if self.buf.took_bare() {
                push_length(&mut self.lengths, self.buf.len() - self.mark);
            } else if self.buf.byte(self.mark) == Some(b'"') {
                // A string that came through serde (an enum's name...): quoted, unquote it.
                push_length(&mut self.lengths, self.buf.len() - self.mark - 2);
                self.buf.unquote_last(self.mark);
            } else {
                self.rewrite_as_array();
            }
        }
        self.kept += 1;
    }

    /// Rewrites the joined string items as the array they were, with the item just written
    /// (not a string, from `mark` on) after them.
    #[cold]
    fn rewrite_as_array(&mut self) {
        let last = self.buf.as_str()[self.mark..].to_owned();
        let mut rebuilt = JsonBuf::with_prefix(self.strings_as_array(self.mark).as_bytes());
        if self.kept > 0 {
            rebuilt.push_byte(b',');
        }
        rebuilt.raw_str(&last);
        self.buf = rebuilt;
        self.all_strings = false;
        self.lengths = Vec::new();
    }

    /// `["a","b"` from the joined contents in `buf[1..end]` and their lengths.
    fn strings_as_array(&self, end: usize) -> String {
        let joined = &self.buf.as_str()[1..end];
        let mut out = String::with_capacity(joined.len() + 3 * self.kept as usize + 1);
        out.push('[');
        let (mut at, mut lengths) = (0, &self.lengths[..]);
        while let Some((len, rest)) = pop_length(lengths) {
            if at > 0 || out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(&joined[at..at + len]);
            out.push('"');
            at += len;
            lengths = rest;
        }
        out
    }

    /// How many items were yielded.
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    /// The output the items make (`None` when nothing was yielded and nothing aggregates).
    /// Without an aggregate function the output's JSON is written straight from the buffer:
    /// the joined strings between quotes, or the array as it is; only `aggregate` parses the
    /// items back into values.
    pub(crate) fn output(mut self, aggregate: Option<Aggregate>) -> Option<Payload> {
        if self.items == 0 && aggregate.is_none() {
            return None;
        }
        let mut out = String::with_capacity(self.buf.len() + 32);
        out.push_str("{\"output\":");
        match aggregate {
            Some(f) => {
                let mut text = if self.all_strings {
                    self.strings_as_array(self.buf.len())
                } else {
                    self.buf.as_str().to_owned()
                };
                text.push(']');
                let items: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
                let value = to_value(&crate::model::guarded(|| f(items)).unwrap_or_else(|panic| {
                    Value::String(format!("<aggregate panicked: {panic}>"))
                }));
                out.push_str(&value.to_string());
            }
            None if self.all_strings => {
                out.push('"');
                out.push_str(&self.buf.as_str()[1..]);
                out.push('"');
            }
            None => {
                self.buf.push_byte(b']');
                out.push_str(self.buf.as_str());
            }
        }
        if self.truncated {
            out.push_str(",\"opik_truncated\":true");
        }
        out.push('}');
        Some(Payload::from_object_str(&out))
    }
}

/// Appends `len` as LEB128.
#[inline]
fn push_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The first LEB128 length of `bytes` and what follows it.
fn pop_length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut len = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((len, &bytes[i + 1..]));
        }
    }
    None
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
    fn strings_then_something_else_are_the_array_they_were() {
        let items = [
            json!(""),
            json!("a\"b"),
            json!(""),
            json!("\u{1F3B8}"),
            json!(7),
            json!("z"),
        ];
        let c = capture(1 << 20, &items);
        assert_eq!(c.output(None).unwrap().to_value(), json!({"output": items}));
        let strings = [json!("x"), json!(""), json!("y\n")];
        let echo: Aggregate = Box::new(Value::Array);
        assert_eq!(
            capture(1 << 20, &strings)
                .output(Some(echo))
                .unwrap()
                .to_value(),
            json!({"output": strings}),
            "an aggregate gets the strings one by one"
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
