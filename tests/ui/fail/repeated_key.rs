#[opik::track(name = "a", type = "llm", name = "b")]
fn f() {}

fn main() {
    f();
}
