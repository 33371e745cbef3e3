opik::tags! {
    pub EMPTY = "";
    pub PADDED = "tts ";
}

const PREFIX: &str = " live";

opik::tags! {
    pub COMPUTED = PREFIX;
}

fn main() {
    let _ = (EMPTY, PADDED, COMPUTED);
}
