//! Fixtures shared by the criterion benches (`benches/overhead.rs`), the instruction-count probe
//! (`src/bin/callgrind_probe.rs`) and the exporter throughput run (`src/bin/exporter_throughput.rs`).
//!
//! Every row of the speed targets has the same function in four forms: untracked (the
//! baseline), `#[opik::track]`, `tracing`'s `#[instrument]` (with a `Registry`) and `fastrace`'s
//! `#[trace]` (with a reporter). All of them are `#[inline(never)]`, so that each call is a real
//! call in every form and the forms differ only by their instrumentation.

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use opik::export::Client;
use serde::Serialize;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

// ---- the functions being measured ------------------------------------------------------------

/// Three small arguments of the "arguments" row: a `&str`, an integer and this struct.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// A float field.
    pub temperature: f32,
    /// A string field.
    pub model: &'static str,
}

/// The arguments every form of the "arguments" row is called with.
pub fn sample_args() -> (&'static str, u32, Options) {
    (
        "which scale fits a blues in A?",
        3,
        Options {
            temperature: 0.2,
            model: "gpt-4o-mini",
        },
    )
}

/// The tokens of the stream row: 100 short strings, as a streamed LLM answer yields them.
pub const TOKENS: [&str; 100] = {
    let mut t = ["tok "; 100];
    t[0] = "first ";
    t
};

/// Untracked baselines.
pub mod plain {
    use super::*;

    /// A stream of the 100 tokens.
    #[inline(never)]
    pub fn token_stream() -> impl futures_util::Stream<Item = &'static str> {
        futures_util::stream::iter(TOKENS)
    }

    /// No arguments, no output.
    #[inline(never)]
    pub fn leaf() {
        black_box(());
    }

    /// Async, no arguments, no output.
    #[inline(never)]
    pub async fn leaf_async() {
        black_box(());
    }

    /// Three small arguments and a `String` output.
    #[inline(never)]
    pub fn with_args(query: &str, top_k: u32, options: &Options) -> String {
        let mut out = String::with_capacity(query.len() + 8);
        out.push_str(black_box(query));
        black_box((top_k, options));
        out
    }

    /// The call users write: one integer in, one out.
    #[inline(never)]
    pub fn scalar(x: u64) -> u64 {
        black_box(x) + 1
    }
}

/// The same functions under `#[opik::track]`.
pub mod opik_tracked {
    use super::*;

    /// A stream of the 100 tokens, its items aggregated into the span's output.
    #[opik::track]
    #[inline(never)]
    pub fn token_stream() -> impl futures_util::Stream<Item = &'static str> {
        futures_util::stream::iter(TOKENS)
    }

    /// The same stream with its items not captured (`capture_output = false`): what the span
    /// around each poll costs alone.
    #[opik::track(capture_output = false)]
    #[inline(never)]
    pub fn token_stream_uncaptured() -> impl futures_util::Stream<Item = &'static str> {
        futures_util::stream::iter(TOKENS)
    }

    /// No arguments, no output.
    #[opik::track]
    #[inline(never)]
    pub fn leaf() {
        black_box(());
    }

    /// Async, no arguments, no output.
    #[opik::track]
    #[inline(never)]
    pub async fn leaf_async() {
        black_box(());
    }

    /// Three small arguments and a `String` output.
    #[opik::track]
    #[inline(never)]
    pub fn with_args(query: &str, top_k: u32, options: &Options) -> String {
        let mut out = String::with_capacity(query.len() + 8);
        out.push_str(black_box(query));
        black_box((top_k, options));
        out
    }

    /// The call users write, with the default capture: `{"x": 5}` in, `{"output": 6}` out.
    #[opik::track]
    #[inline(never)]
    pub fn scalar(x: u64) -> u64 {
        black_box(x) + 1
    }

    /// The argument captured, not the output.
    #[opik::track(capture_output = false)]
    #[inline(never)]
    pub fn scalar_in(x: u64) -> u64 {
        black_box(x) + 1
    }

    /// Nothing captured: what the argument and the output cost is the difference.
    #[opik::track(capture_input = false, capture_output = false)]
    #[inline(never)]
    pub fn scalar_none(x: u64) -> u64 {
        black_box(x) + 1
    }

    /// The root the measured calls nest under (created once per criterion sample).
    #[opik::track(capture_input = false, capture_output = false)]
    pub fn root<R>(body: impl FnOnce() -> R) -> R {
        body()
    }
}

/// The same functions under `tracing`'s `#[instrument]`.
pub mod tracing_instrumented {
    use super::*;

    /// No arguments, no output.
    #[tracing::instrument]
    #[inline(never)]
    pub fn leaf() {
        black_box(());
    }

    /// Async, no arguments, no output.
    #[tracing::instrument]
    #[inline(never)]
    pub async fn leaf_async() {
        black_box(());
    }

    /// Three small arguments (recorded as fields) and a `String` output (recorded by `ret`).
    #[tracing::instrument(ret)]
    #[inline(never)]
    pub fn with_args(query: &str, top_k: u32, options: &Options) -> String {
        let mut out = String::with_capacity(query.len() + 8);
        out.push_str(black_box(query));
        black_box((top_k, options));
        out
    }

    /// The integer call with the argument as a field and the return value recorded (`ret`).
    #[tracing::instrument(ret)]
    #[inline(never)]
    pub fn scalar(x: u64) -> u64 {
        black_box(x) + 1
    }

    /// The integer call with nothing recorded (`skip_all`).
    #[tracing::instrument(skip_all)]
    #[inline(never)]
    pub fn scalar_none(x: u64) -> u64 {
        black_box(x) + 1
    }

    /// Below the subscriber's level filter: the "runtime off" comparison.
    #[tracing::instrument(level = "trace")]
    #[inline(never)]
    pub fn leaf_filtered_out() {
        black_box(());
    }

    /// Runs `body` inside an entered root span.
    pub fn root<R>(body: impl FnOnce() -> R) -> R {
        let _root = tracing::info_span!("root").entered();
        body()
    }

    /// Installs a `Registry` (with a DEBUG level filter, so that `leaf_filtered_out` is off) as
    /// the global default: tracing's fastest dispatch. Call once per process.
    pub fn install() {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber =
            tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::DEBUG);
        // A second call (another bench in the same process) keeps the first subscriber.
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

/// The same functions under `fastrace`'s `#[trace]`.
pub mod fastrace_traced {
    use super::*;
    use fastrace::collector::{Config, Reporter, SpanContext};
    use fastrace::prelude::{Span, SpanRecord};

    /// No arguments, no output.
    #[fastrace::trace]
    #[inline(never)]
    pub fn leaf() {
        black_box(());
    }

    /// Async, no arguments, no output.
    #[fastrace::trace]
    #[inline(never)]
    pub async fn leaf_async() {
        black_box(());
    }

    /// Three small arguments recorded as properties (fastrace has no return-value capture).
    #[fastrace::trace(properties = { "query": "{query}", "top_k": "{top_k}", "options": "{options:?}" })]
    #[inline(never)]
    pub fn with_args(query: &str, top_k: u32, options: &Options) -> String {
        let mut out = String::with_capacity(query.len() + 8);
        out.push_str(black_box(query));
        black_box((top_k, options));
        out
    }

    /// The integer call with its argument as a property (fastrace has no return-value capture).
    #[fastrace::trace(properties = { "x": "{x}" })]
    #[inline(never)]
    pub fn scalar(x: u64) -> u64 {
        black_box(x) + 1
    }

    /// Runs `body` with a root span as the local parent; the spans are reported when it ends.
    pub fn root<R>(body: impl FnOnce() -> R) -> R {
        let root = Span::root("root", SpanContext::random());
        let _parent = root.set_local_parent();
        body()
    }

    /// Counts the spans it is handed and drops them.
    struct CountingReporter;

    impl Reporter for CountingReporter {
        fn report(&mut self, spans: Vec<SpanRecord>) {
            black_box(spans);
        }
    }

    /// Installs the reporter. Call once per process.
    pub fn install() {
        fastrace::set_reporter(CountingReporter, Config::default());
    }
}

// ---- running them ----------------------------------------------------------------------------

/// Polls `fut` once with a no-op waker; the measured async bodies never wait, so one poll
/// completes them (this measures the instrumentation, not an executor).
#[inline]
pub fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(fut).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a benchmarked async fn waited; they must complete at once"),
    }
}

/// Consumes `stream` polling it with a no-op waker (the measured streams never wait); returns
/// how many items it yielded.
#[inline]
pub fn drain<S: futures_util::Stream>(stream: S) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let mut stream = pin!(stream);
    let mut n = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => {
                black_box(item);
                n += 1;
            }
            Poll::Ready(None) => return n,
            Poll::Pending => panic!("a benchmarked stream waited; they must not"),
        }
    }
}

/// The clock the benches read: wall time, or with `OPIK_BENCH_CLOCK=cpu` the calling thread's
/// CPU time, which leaves out the time the thread waited for a core. On a machine shared with
/// other work, CPU time is the steadier figure (cache and SMT effects of the other work remain).
pub mod clock {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// Whether `OPIK_BENCH_CLOCK=cpu` selected per-thread CPU time.
    pub fn cpu_time() -> bool {
        static CPU: OnceLock<bool> = OnceLock::new();
        *CPU.get_or_init(|| std::env::var("OPIK_BENCH_CLOCK").is_ok_and(|v| v == "cpu"))
    }

    /// A reading of the selected clock, as time since an arbitrary origin.
    #[inline]
    pub fn now() -> Duration {
        if cpu_time() {
            thread_cpu_time()
        } else {
            static ORIGIN: OnceLock<Instant> = OnceLock::new();
            ORIGIN.get_or_init(Instant::now).elapsed()
        }
    }

    /// CPU time consumed by the calling thread.
    pub fn thread_cpu_time() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux and the
        // BSDs define. On failure `ts` stays zero and the figure is visibly wrong, not UB.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

/// Runs `f` `iters` times and returns how long that took on the selected [`clock`].
#[inline]
pub fn time_calls(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = clock::now();
    for _ in 0..iters {
        f();
    }
    clock::now().saturating_sub(start)
}

/// How many measured calls nest under one root in the enabled rows: a request-sized trace.
/// (It also keeps every framework within its per-trace buffers: fastrace holds at most 10240
/// spans per local parent and drops the rest, which would make a longer trace look cheaper.)
pub const CALLS_PER_ROOT: u64 = 1000;

/// Runs `call` `iters` times, `CALLS_PER_ROOT` at a time inside `root`, and returns how long
/// that took, roots included (their cost spread over the calls is below 1 ns).
#[inline]
pub fn time_nested(
    iters: u64,
    mut root: impl FnMut(&mut dyn FnMut()),
    mut call: impl FnMut(),
) -> Duration {
    let start = clock::now();
    let mut left = iters;
    while left > 0 {
        let n = left.min(CALLS_PER_ROOT);
        root(&mut || {
            for _ in 0..n {
                call();
            }
        });
        left -= n;
    }
    clock::now().saturating_sub(start)
}

/// Calls per chunk in [`time_nested_queued`]: a quarter of the default queue, so that a chunk's
/// records always fit in it.
pub const QUEUED_CHUNK: u64 = 4_000;

/// Like [`time_nested`], with every record queued rather than most of them meeting a full
/// queue: the calls run in chunks that fit in the queue, and between chunks (not timed) the
/// exporter delivers what they produced. This is the cost when the exporter keeps up, the
/// steady state of an app that is not overloaded; the plain tight loop measures overload.
pub fn time_nested_queued(
    iters: u64,
    client: &Client,
    mut root: impl FnMut(&mut dyn FnMut()),
    mut call: impl FnMut(),
) -> Duration {
    let mut took = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(QUEUED_CHUNK);
        took += time_nested(n, &mut root, &mut call);
        client.flush(Duration::from_secs(30));
        left -= n;
    }
    took
}

/// What the benchmarked client sends to.
pub struct Sink {
    /// The fake server (in throughput mode: it answers without decoding or keeping bodies).
    pub server: FakeOpik,
    /// A client exporting to it.
    pub client: Client,
}

/// A fake Opik in throughput mode and a client exporting to it with gzip and 1000-item batches.
/// `queue_capacity` `None` keeps the SDK's default.
pub fn sink(queue_capacity: Option<usize>) -> Sink {
    sink_with(|b| match queue_capacity {
        Some(n) => b.queue_capacity(n),
        None => b,
    })
}

/// Like [`sink`], with more settings.
pub fn sink_with(settings: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Sink {
    let server = FakeOpik::start();
    server.discard_bodies(true);
    let client = client_with(&server, settings);
    Sink { server, client }
}

/// A client for `server`, isolated from the process environment and `~/.opik.config`.
pub fn client_for(
    server: &FakeOpik,
    queue_capacity: Option<usize>,
    request_timeout: Duration,
) -> Client {
    client_with(server, |b| {
        let b = b.request_timeout(request_timeout);
        match queue_capacity {
            Some(n) => b.queue_capacity(n),
            None => b,
        }
    })
}

/// A client for `server` with the bench defaults, then `settings` applied.
pub fn client_with(
    server: &FakeOpik,
    settings: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> Client {
    let builder = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(server.base_url())
        .api_key("bench-key")
        .workspace("bench")
        .project_name("opik-rs-bench")
        .batch_max_items(1000);
    let config = settings(builder)
        .resolve()
        .unwrap_or_else(|e| panic!("bench config: {e}"))
        .into_config()
        .expect("the bench config names a server");
    Client::new(&config).unwrap_or_else(|e| panic!("bench client: {e}"))
}

// ---- memory ----------------------------------------------------------------------------------

/// A field of `/proc/self/status` in KiB (`VmHWM` peak RSS, `VmRSS` current RSS); `None` where
/// there is no procfs.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Resets `VmHWM` to the current RSS (Linux >= 4.0), so that a phase's peak can be read alone.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
