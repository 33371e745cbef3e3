//! Every function shape and every argument of #[track] compiles, together.
#![deny(warnings)]

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

opik::tags! {
    /// Documented tags keep their docs.
    pub LIVE_COACH = "live-coach";
    pub(crate) TTS = "tts";
}

#[opik::track(
    name = "all-arguments",
    type = "guardrail",
    tags = [LIVE_COACH, "literal", TTS],
    metadata = { "session": session_id, "fixed": [1, 2, 3] },
    capture_input = true,
    capture_output = false,
    skip(api_key),
    thread_id = format!("session-{session_id}"),
    project_name = "elsewhere",
    flush = false,
)]
fn all_arguments(session_id: u64, api_key: &str) -> usize {
    api_key.len()
}

#[opik::track(name = format!("dynamic-{}", 1), skip_all)]
async fn async_fn(secret: String) -> Result<u8, std::io::Error> {
    Ok(secret.len() as u8)
}

struct Service {
    calls: u32,
}

impl Service {
    #[opik::track]
    pub fn by_ref(&self) -> u32 {
        self.calls
    }

    #[opik::track]
    pub fn by_mut(&mut self) -> &mut u32 {
        self.calls += 1;
        &mut self.calls
    }

    #[opik::track]
    pub fn by_value(self) -> Self {
        self
    }

    #[opik::track]
    pub async fn by_ref_async(&self, n: u32) -> Option<u32> {
        Some(self.calls + n)
    }

    #[opik::track]
    pub fn returns_boxed(&self) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> {
        Box::pin(async move { self.calls })
    }
}

#[opik::track]
fn generic<T: Clone + std::fmt::Debug, const N: usize>(items: [T; N]) -> Vec<T>
where
    T: Send,
{
    items.to_vec()
}

#[opik::track]
fn impl_trait_arg(label: impl Display, more: &dyn Display) -> impl Display {
    format!("{label}{more}")
}

#[opik::track]
fn returns_impl_future(x: u32) -> impl Future<Output = u32> + Send {
    async move { x }
}

#[opik::track]
fn returns_borrowing_future<'a>(s: &'a str) -> impl Future<Output = &'a str> + 'a {
    async move { s }
}

#[async_trait::async_trait]
trait Tool {
    async fn run(&self, input: &str) -> String;
}

#[async_trait::async_trait]
impl Tool for Service {
    #[opik::track(type = "tool")]
    async fn run(&self, input: &str) -> String {
        format!("{input}{}", self.calls)
    }
}

/// # Safety
/// Nothing to uphold; it only has to be `unsafe` to test the shape.
#[opik::track]
unsafe fn unsafe_fn(x: u8) -> u8 {
    x
}

#[opik::track]
fn inner_attribute() -> u32 {
    #![allow(clippy::let_and_return)]
    let x = 1;
    x
}

#[opik::track]
fn cfg_params(#[cfg(any())] never: u8, #[cfg(not(any()))] always: u8) -> u8 {
    always
}

#[opik::track]
fn destructured((a, b): (u8, u8), Wrapper(c): Wrapper, _: u8) -> u8 {
    a + b + c
}

struct Wrapper(u8);

#[opik::track]
fn r#type(r#in: u8) -> u8 {
    r#in
}

#[opik::track]
fn never_returns() -> ! {
    panic!("diverges")
}

#[opik::track]
fn early_return_and_question_mark(s: &str) -> Result<u32, std::num::ParseIntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    Ok(n)
}

fn main() {
    let _ = all_arguments(1, "k");
    let _ = async_fn(String::new());
    let mut s = Service { calls: 0 };
    s.by_ref();
    *s.by_mut() += 1;
    let _ = s.by_ref_async(1);
    let _ = s.returns_boxed();
    let _ = s.run("x");
    let _ = s.by_value();
    generic([1, 2]);
    let _ = impl_trait_arg(1, &2);
    let _ = returns_impl_future(1);
    let _ = returns_borrowing_future("a");
    // SAFETY: unsafe_fn has no precondition.
    unsafe { unsafe_fn(1) };
    inner_attribute();
    cfg_params(1);
    destructured((1, 2), Wrapper(3), 4);
    r#type(1);
    let _ = early_return_and_question_mark("12");
    if std::env::args().count() > 100 {
        never_returns();
    }
}
