//! A library instrumented with `#[opik::track]` whose build turns opik's `enabled` feature off:
//! every argument and every function shape must still compile, the attribute must still check
//! its arguments, and the functions must run exactly as written.

use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

opik::tags! {
    /// A declared tag.
    pub COACH = "coach";
}

/// Every argument at once.
#[opik::track(
    name = "all",
    type = "llm",
    tags = [COACH, "lib"],
    metadata = { "n": n },
    capture_input = true,
    capture_output = true,
    skip(secret),
    thread_id = format!("t-{n}"),
    project_name = "elsewhere",
    flush = true,
)]
pub fn all_arguments(n: u32, secret: &str) -> Result<u32, std::num::ParseIntError> {
    Ok(n + secret.parse::<u32>()?)
}

/// An async function.
#[opik::track(skip_all)]
pub async fn async_fn(n: u32) -> Option<u32> {
    Some(n * 2)
}

/// A function returning a boxed future.
#[opik::track(name = format!("boxed-{n}"))]
pub fn boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n + 1 })
}

/// A function returning `impl Future` (the shape under test, not an `async fn`).
#[opik::track]
#[allow(clippy::manual_async_fn)]
pub fn impl_future(n: u32) -> impl Future<Output = u32> {
    async move { n + 2 }
}

/// Methods.
#[derive(Debug, Serialize)]
pub struct Counter {
    /// The count.
    pub n: u32,
}

impl Counter {
    /// `&mut self`.
    #[opik::track]
    pub fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    /// Generic with `impl Trait`.
    #[opik::track]
    pub fn describe<T: std::fmt::Debug>(&self, extra: T, label: impl std::fmt::Display) -> String {
        format!("{label}: {} {extra:?}", self.n)
    }
}

/// The runtime API, each entry point used once; all of it does nothing with the feature off.
pub fn use_runtime_api(
) -> Result<(bool, opik::export::FlushReport, opik::export::Stats), opik::InitError> {
    let guard: opik::OpikGuard = opik::init_with(
        opik::config::ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
            .url("http://127.0.0.1:9/api")
            .api_key("unused-key")
            .project_name("p"),
    )?;
    let enabled = guard.is_enabled() || guard.client().is_some();
    let report = opik::flush(Duration::from_secs(1));
    let stats = opik::stats();
    let _: Result<opik::OpikGuard, opik::InitError> = opik::init();
    let _span_type = opik::SpanType::Llm;
    let _reason: Option<opik::export::DropReason> = None;
    let _err: Option<opik::config::ConfigError> = None;
    let _client_err: Option<opik::export::ClientError> = None;
    Ok((enabled, report, stats))
}

/// `flush_async`.
pub async fn flush_async() -> opik::export::FlushReport {
    opik::flush_async(Duration::from_secs(1)).await
}

/// Whether `#[track]` emitted its functions unchanged: a tracked call under a client records
/// nothing. The client points at a closed port; nothing would be sent anyway.
pub fn tracked_calls_record_nothing() -> Option<bool> {
    let config = opik::config::ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url("http://127.0.0.1:9/api")
        .resolve()
        .ok()?
        .into_config()?;
    let client = opik::export::Client::new(&config).ok()?;
    client.run(|| {
        let _ = all_arguments(1, "2");
        Counter { n: 0 }.bump();
    });
    // The API without the macro records nothing either: explicit traces and spans, context
    // updates, feedback scores.
    let opik_client = opik::Opik::new(client.clone());
    let trace = opik_client.trace("explicit");
    trace.span("child").end();
    trace.end();
    let _ = opik_client.log_thread_feedback_scores([("thread-1", opik::Score::new("s", 1.0))]);
    let updated = opik::update_current_span(|s| {
        s.model("m");
    });
    Some(client.stats().produced == 0 && !updated)
}

/// Code instrumented with `tracing` under `OpikLayer`, the way a library enabling `opik/tracing`
/// would record it: a GenAI span inside a tracked call, recorded with `opik::testing`. Returns
/// how many traces and spans were captured (none, with the feature off).
pub fn traced_calls_record_nothing() -> (usize, usize) {
    use tracing_subscriber::prelude::*;
    let subscriber = tracing_subscriber::registry().with(opik::integrations::OpikLayer::new());
    let recorded = tracing::subscriber::with_default(subscriber, || {
        opik::testing::record(|| {
            let _ = all_arguments(1, "2");
            let span = tracing::info_span!(
                "chat",
                gen_ai.operation.name = "chat",
                gen_ai.request.model = "gpt-4o-mini"
            );
            span.in_scope(|| Counter { n: 0 }.bump());
        })
    });
    (recorded.traces().len(), recorded.spans().len())
}
