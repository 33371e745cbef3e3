#[opik::track(tag = ["a"])]
fn f() {}

fn main() {
    f();
}
