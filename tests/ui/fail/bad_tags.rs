#[opik::track(tags = ["ok", ""])]
fn empty() {}

#[opik::track(tags = [" padded"])]
fn whitespace() {}

#[opik::track(tags = ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"])]
fn too_long() {}

#[opik::track(tags = ["coach", "tts", "coach"])]
fn duplicate() {}

fn main() {
    empty();
    whitespace();
    too_long();
    duplicate();
}
