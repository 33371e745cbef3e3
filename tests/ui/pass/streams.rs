//! Every stream and iterator shape #[track] records, with the arguments that apply to them.
#![deny(warnings)]

use futures_util::stream::{self, BoxStream, Stream};
use std::pin::Pin;

#[opik::track(type = "llm", tags = ["live-coach"])]
fn impl_stream(prompt: &str) -> impl Stream<Item = String> + '_ {
    stream::iter(prompt.split(' ').map(str::to_owned))
}

#[opik::track]
fn pinned_stream(n: u32) -> Pin<Box<dyn Stream<Item = Result<u32, std::io::Error>> + Send>> {
    Box::pin(stream::iter((0..n).map(Ok)))
}

#[opik::track]
fn box_stream<'a>(words: &'a [&'a str]) -> BoxStream<'a, &'a str> {
    Box::pin(stream::iter(words.iter().copied()))
}

fn sum(items: Vec<serde_json::Value>) -> i64 {
    items.iter().filter_map(serde_json::Value::as_i64).sum()
}

#[opik::track(aggregate = sum, capture_input = false)]
fn iterator(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[opik::track]
fn boxed_iterator(n: u32) -> Box<dyn Iterator<Item = u32> + Send> {
    Box::new(0..n)
}

struct Tokens(Vec<String>);

impl Tokens {
    #[opik::track(skip_all)]
    fn iter(&self) -> impl Iterator<Item = &String> + '_ {
        self.0.iter()
    }
}

fn main() {
    drop(impl_stream("a b"));
    drop(pinned_stream(2));
    drop(box_stream(&["x"]));
    assert_eq!(iterator(3).sum::<u32>(), 3);
    assert_eq!(boxed_iterator(3).count(), 3);
    assert_eq!(Tokens(vec!["t".into()]).iter().count(), 1);
}
