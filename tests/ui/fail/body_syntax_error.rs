// A body that does not parse (the user is still typing) is handed back untouched: the only
// error is the compiler's own, at the user's token, and the editor keeps working.
#[opik::track(name = "typing")]
fn half_written(x: u32) -> u32 {
    let y = x +;
    y
}

trait Agent {
    #[opik::track]
    fn act(&self) -> u32;
}

fn main() {
    half_written(1);
}
