#[opik::track]
struct Agent {
    name: String,
}

fn main() {}
