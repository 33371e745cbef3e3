#[opik::track(skip_all, skip(api_key))]
fn call_model(prompt: &str, api_key: &str) -> usize {
    prompt.len() + api_key.len()
}

fn main() {
    call_model("a", "b");
}
