#[opik::track(skip(api_keys))]
fn call_model(prompt: &str, api_key: &str) -> usize {
    prompt.len() + api_key.len()
}

fn main() {
    call_model("a", "b");
}
