#[opik::track(type = "lmm")]
fn f() {}

fn main() {
    f();
}
