opik::tags! {
    pub LIVE_COACH = "live-coach";
}

#[opik::track(tags = [LIVE_COACH, "beta", "live-coach"])]
fn f() {}

#[opik::track(tags = [LIVE_COCH])]
fn typo() {}

fn main() {
    f();
    typo();
}
