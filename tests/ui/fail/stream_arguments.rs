fn total(items: Vec<serde_json::Value>) -> usize {
    items.len()
}

#[opik::track(aggregate = total)]
fn not_a_stream(n: u32) -> u32 {
    n
}

#[opik::track(flush = true)]
fn a_stream(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

fn main() {
    not_a_stream(1);
    a_stream(1).count();
}
