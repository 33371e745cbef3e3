#[opik::track]
fn count(text: &str) -> usize {
    text
}

#[opik::track]
async fn count_async(text: &str) -> usize {
    text
}

fn main() {
    count("a");
    let _ = count_async("a");
}
