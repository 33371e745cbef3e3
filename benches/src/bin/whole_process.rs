//! The whole process's CPU per exported span: opik against the pipeline a Rust user would
//! pick today to ship spans to Opik's OTLP endpoint (`tracing` + `tracing-opentelemetry` +
//! the OpenTelemetry SDK's batch span processor + the OTLP/HTTP exporter, protobuf), in the
//! same run, both shipping every span to the same server.
//!
//! ```text
//! cargo run --release -p opik-benches --bin whole_process -- [--spans N] [--rounds R] [--level L]
//! ```
//!
//! The server (the fake Opik in throughput mode: it reads each body and answers 204) runs in a
//! child process, so that the figure is this process's alone: the caller, the exporter or batch
//! processor, JSON or protobuf encoding, compression and HTTP, read with `getrusage` (user +
//! system CPU of every thread). The measured call is `fn(u64) -> u64` with each framework's
//! default capture (opik: argument and return value; tracing: the argument as a field and the
//! return value with `ret`), nested 1,000 to a root. Spans are made in chunks that fit each
//! pipeline's queue, and each chunk is flushed before the next, so every span is exported and
//! none is dropped (each prints its counters). Rounds alternate the two pipelines.

use fake_opik::FakeOpik;
use opik_benches::{clock, opik_tracked, tracing_instrumented, CALLS_PER_ROOT};
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Spans per chunk: under both pipelines' queue capacity (opik 16,384 records, the batch span
/// processor's default queue 2,048 spans).
const OPIK_CHUNK: u64 = 8_000;
const OTEL_CHUNK: u64 = 2_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut spans = 200_000u64;
    let mut rounds = 3u32;
    // opik's gzip level (`request_compression_level`, default 1): the CPU-for-bytes trade.
    let mut level = 1u32;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "serve" => return serve(),
            "--spans" => spans = args.next().and_then(|v| v.parse().ok()).unwrap_or(spans),
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(rounds),
            "--level" => level = args.next().and_then(|v| v.parse().ok()).unwrap_or(level),
            other => {
                eprintln!(
                    "whole_process: unknown argument {other:?}; expected --spans N, --rounds R, --level L"
                );
                std::process::exit(2);
            }
        }
    }
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process starts");
    let mut from_server = BufReader::new(child.stdout.take().expect("piped"));
    let mut to_server = child.stdin.take().expect("piped");
    let mut line = String::new();
    from_server
        .read_line(&mut line)
        .expect("the server says where it listens");
    let base_url = line
        .trim()
        .strip_prefix("URL ")
        .expect("URL line")
        .to_owned();
    let origin = base_url.trim_end_matches("/api").to_owned();
    println!(
        "whole_process: {spans} spans a round, {rounds} rounds; server pid {} at {base_url}",
        child.id()
    );

    let opik = opik_pipeline(&base_url, level);
    let otel = OtelPipeline::new(&format!("{origin}/v1/traces"));
    // The global default, tracing's fastest dispatch (opik's spans do not go through tracing).
    tracing::dispatcher::set_global_default(otel.subscriber.clone())
        .expect("no subscriber was installed before");
    let mut bytes = |label: &str, to: &mut dyn Write| -> u64 {
        writeln!(to, "bytes").expect("server alive");
        let mut reply = String::new();
        from_server
            .read_line(&mut reply)
            .expect("the server answers");
        let n = reply.trim().parse().unwrap_or(0);
        let _ = label;
        n
    };
    for round in 1..=rounds {
        let before = bytes("opik", &mut to_server);
        let (cpu, caller) = measure(spans, OPIK_CHUNK, |n| {
            opik.client
                .run(|| run_nested(n, opik_tracked::scalar, |body| opik_tracked::root(body)));
            assert!(opik.client.flush(Duration::from_secs(60)).completed);
        });
        let wire = bytes("opik", &mut to_server) - before;
        let stats = opik.client.stats();
        report("opik", round, spans, cpu, caller, wire, &stats.to_string());

        let before = bytes("otel", &mut to_server);
        let (cpu, caller) = measure(spans, OTEL_CHUNK, |n| {
            run_nested(n, tracing_instrumented::scalar, |body| {
                tracing_instrumented::root(body)
            });
            otel.flush();
        });
        let wire = bytes("otel", &mut to_server) - before;
        report(
            "tracing-opentelemetry + OTLP/HTTP",
            round,
            spans,
            cpu,
            caller,
            wire,
            &otel.counts(),
        );
    }
    drop(to_server);
    let _ = child.wait();
}

/// Runs `n` calls of `f`, `CALLS_PER_ROOT` under each root.
fn run_nested(n: u64, f: fn(u64) -> u64, mut root: impl FnMut(&mut dyn FnMut())) {
    let mut left = n;
    let mut x = 0u64;
    while left > 0 {
        let k = left.min(CALLS_PER_ROOT);
        root(&mut || {
            for _ in 0..k {
                x += 1;
                black_box(f(black_box(x)));
            }
        });
        left -= k;
    }
}

/// The process's CPU (all threads) and the calling thread's, for `spans` spans made `chunk` at
/// a time by `run(chunk)`, which also waits for them to be exported.
fn measure(spans: u64, chunk: u64, mut run: impl FnMut(u64)) -> (Duration, Duration) {
    let process_before = process_cpu();
    let mut caller = Duration::ZERO;
    let mut left = spans;
    while left > 0 {
        let n = left.min(chunk);
        // The caller's cost is its CPU while it makes the spans, not while it waits for them.
        let t = clock::thread_cpu_time();
        run(n);
        caller += clock::thread_cpu_time().saturating_sub(t);
        left -= n;
    }
    (process_cpu().saturating_sub(process_before), caller)
}

fn report(
    name: &str,
    round: u32,
    spans: u64,
    cpu: Duration,
    caller: Duration,
    wire: u64,
    counts: &str,
) {
    // Each root is a span too (and for opik a trace record as well); the figure is per measured
    // span, the roots' share included.
    println!(
        "round {round} {name}: whole process {:.0} ns CPU per span (caller thread, making and \
         flushing, {:.0} ns), {:.1} bytes on the wire per span; {counts}",
        cpu.as_nanos() as f64 / spans as f64,
        caller.as_nanos() as f64 / spans as f64,
        wire as f64 / spans as f64,
    );
}

/// User + system CPU of the whole process, from `getrusage`.
fn process_cpu() -> Duration {
    // SAFETY: `usage` is a valid, writable rusage; RUSAGE_SELF is a constant every Unix defines.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

// ---- opik ------------------------------------------------------------------------------------

struct OpikPipeline {
    client: opik::export::Client,
}

fn opik_pipeline(base_url: &str, level: u32) -> OpikPipeline {
    let config = opik::config::ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(base_url)
        .request_compression_level(level)
        .project_name("whole-process")
        .resolve()
        .expect("valid")
        .into_config()
        .expect("enabled");
    OpikPipeline {
        client: opik::export::Client::new(&config).expect("client starts"),
    }
}

// ---- tracing + OpenTelemetry ----------------------------------------------------------------

struct OtelPipeline {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    subscriber: tracing::Dispatch,
    exported: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl OtelPipeline {
    /// What the OpenTelemetry docs set up for OTLP over HTTP: the batch span processor (its
    /// own thread, default queue and batch sizes) in front of the protobuf exporter.
    fn new(endpoint: &str) -> Self {
        use opentelemetry::trace::TracerProvider as _;
        use opentelemetry_otlp::WithExportConfig as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .expect("the OTLP exporter builds");
        let exported = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(Counting {
                inner: exporter,
                exported: std::sync::Arc::clone(&exported),
            })
            .build();
        let tracer = provider.tracer("whole-process");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        OtelPipeline {
            provider,
            subscriber: tracing::Dispatch::new(subscriber),
            exported,
        }
    }

    fn flush(&self) {
        let _ = self.provider.force_flush();
    }

    fn counts(&self) -> String {
        format!(
            "exported {} spans",
            self.exported.load(std::sync::atomic::Ordering::Relaxed)
        )
    }
}

/// The OTLP exporter, counting the spans it was handed (to show that none were dropped).
#[derive(Debug)]
struct Counting {
    inner: opentelemetry_otlp::SpanExporter,
    exported: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl opentelemetry_sdk::trace::SpanExporter for Counting {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        if result.is_ok() {
            self.exported
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }

    fn shutdown(&mut self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown()
    }
}

// ---- the server process -----------------------------------------------------------------------

/// Runs the fake Opik in throughput mode; answers `bytes` lines on stdin with the bytes of the
/// bodies received so far; exits when stdin closes.
fn serve() {
    let server = FakeOpik::start();
    server.discard_bodies(true);
    println!("URL {}", server.base_url());
    let _ = std::io::stdout().flush();
    let started = Instant::now();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "bytes" {
            println!("{}", server.discarded_bytes());
            let _ = std::io::stdout().flush();
        }
    }
    let _ = started;
}
