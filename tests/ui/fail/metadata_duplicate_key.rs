#[opik::track(metadata = { "scale": "C", "tempo": 120, "scale": "D" })]
fn f() {}

fn main() {
    f();
}
