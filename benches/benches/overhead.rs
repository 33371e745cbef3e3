//! The caller-thread cost of a tracked call, next to `tracing` and `fastrace`, one criterion
//! group per row of the speed targets (see BENCHMARKS.md):
//!
//! ```text
//! cargo bench -p opik-benches --bench overhead            # all rows
//! cargo bench -p opik-benches --bench overhead -- nested  # rows whose name matches
//! ```
//!
//! Each group measures the untracked function (the baseline) and the same function under
//! `#[opik::track]`, `#[tracing::instrument]` (global `Registry`) and `#[fastrace::trace]`
//! (a reporter installed). In the enabled rows the calls nest 1000 to a root, the way a real
//! app's calls nest under a request (the roots are timed too), and opik's exporter is running:
//! it gzips 1000-item batches to a fake Opik on loopback.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main};
use opik_benches::{
    clock, drain, fastrace_traced, opik_tracked, plain, poll_once, sample_args, sink, time_nested,
    time_nested_queued, tracing_instrumented, Sink,
};
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

type Criterion = criterion::Criterion<BenchClock>;

/// A row of the `fn(u64) -> u64` groups: its name and the function it calls.
type ScalarRow = (&'static str, fn(u64) -> u64);

/// Criterion's measurement on the clock `OPIK_BENCH_CLOCK` selects (see
/// `opik_benches::clock`), reported in the same units as wall time.
struct BenchClock;

impl Measurement for BenchClock {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        clock::now()
    }
    fn end(&self, start: Duration) -> Duration {
        clock::now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// One exporter for the whole run, installed on first use.
fn shared_sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| {
        tracing_instrumented::install();
        fastrace_traced::install();
        sink(None)
    })
}

/// After an enabled group: what the exporter did with the records (in a tight loop the
/// producer outruns any exporter, so most records meet a full queue and are dropped, counted).
fn report_stats(sink: &Sink, row: &str) {
    let stats = sink.client.stats();
    eprintln!("[{row}] opik client stats: {stats}");
}

/// `#[track]` with nothing configured: one relaxed load and a branch. `tracing` is compared
/// with a span below its subscriber's level filter, `fastrace` with a span that has no parent.
fn runtime_off(c: &mut Criterion) {
    // Installs the comparisons' subscribers; opik has no client outside `Client::run`.
    let _ = shared_sink();
    let mut g = c.benchmark_group("runtime_off");
    g.bench_function("untracked", |b| b.iter(plain::leaf));
    g.bench_function("opik", |b| b.iter(opik_tracked::leaf));
    g.bench_function("tracing", |b| {
        b.iter(tracing_instrumented::leaf_filtered_out)
    });
    g.bench_function("fastrace", |b| b.iter(fastrace_traced::leaf));
    g.finish();
}

/// A no-argument sync fn nested under a root, recording.
fn sync_nested(c: &mut Criterion) {
    let sink = shared_sink();
    let mut g = c.benchmark_group("sync_nested");
    g.bench_function("untracked", |b| b.iter(plain::leaf));
    g.bench_function("opik", |b| {
        b.iter_custom(|iters| {
            sink.client
                .run(|| time_nested(iters, |body| opik_tracked::root(body), opik_tracked::leaf))
        })
    });
    g.bench_function("tracing", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| tracing_instrumented::root(body),
                tracing_instrumented::leaf,
            )
        })
    });
    g.bench_function("fastrace", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| fastrace_traced::root(body),
                fastrace_traced::leaf,
            )
        })
    });
    g.finish();
    report_stats(sink, "sync_nested");
}

/// A no-argument async fn nested under a root, recording; each call is polled once to
/// completion with a no-op waker.
fn async_nested(c: &mut Criterion) {
    let sink = shared_sink();
    let mut g = c.benchmark_group("async_nested");
    g.bench_function("untracked", |b| b.iter(|| poll_once(plain::leaf_async())));
    g.bench_function("opik", |b| {
        b.iter_custom(|iters| {
            sink.client.run(|| {
                time_nested(
                    iters,
                    |body| opik_tracked::root(body),
                    || poll_once(opik_tracked::leaf_async()),
                )
            })
        })
    });
    g.bench_function("tracing", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| tracing_instrumented::root(body),
                || poll_once(tracing_instrumented::leaf_async()),
            )
        })
    });
    g.bench_function("fastrace", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| fastrace_traced::root(body),
                || poll_once(fastrace_traced::leaf_async()),
            )
        })
    });
    g.finish();
    report_stats(sink, "async_nested");
}

/// Three small `Serialize` arguments and a `String` output, nested, recording. opik serializes
/// the arguments and the output to JSON; tracing records the arguments as `Debug` fields and
/// the output with `ret`; fastrace formats the arguments into properties.
fn with_args(c: &mut Criterion) {
    let sink = shared_sink();
    let (query, top_k, options) = sample_args();
    let mut g = c.benchmark_group("args3_string_out");
    g.bench_function("untracked", |b| {
        b.iter(|| plain::with_args(black_box(query), black_box(top_k), black_box(&options)))
    });
    g.bench_function("opik", |b| {
        b.iter_custom(|iters| {
            sink.client.run(|| {
                time_nested(
                    iters,
                    |body| opik_tracked::root(body),
                    || {
                        black_box(opik_tracked::with_args(
                            black_box(query),
                            black_box(top_k),
                            black_box(&options),
                        ));
                    },
                )
            })
        })
    });
    g.bench_function("tracing", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| tracing_instrumented::root(body),
                || {
                    black_box(tracing_instrumented::with_args(
                        black_box(query),
                        black_box(top_k),
                        black_box(&options),
                    ));
                },
            )
        })
    });
    g.bench_function("fastrace", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| fastrace_traced::root(body),
                || {
                    black_box(fastrace_traced::with_args(
                        black_box(query),
                        black_box(top_k),
                        black_box(&options),
                    ));
                },
            )
        })
    });
    g.finish();
    report_stats(sink, "args3_string_out");
}

/// `fn(x: u64) -> u64`, the call users write, nested, recording: opik with the default capture
/// (argument and output), the argument only, and nothing; tracing with `ret` (the argument and
/// the return value recorded) and with `skip_all`; fastrace with the argument as a property
/// (it has no way to record a return value).
fn scalar(c: &mut Criterion) {
    let sink = shared_sink();
    let mut g = c.benchmark_group("scalar_u64");
    g.bench_function("untracked", |b| b.iter(|| plain::scalar(black_box(7))));
    let opik_rows: [ScalarRow; 3] = [
        ("opik", opik_tracked::scalar),
        ("opik_argument_only", opik_tracked::scalar_in),
        ("opik_nothing_captured", opik_tracked::scalar_none),
    ];
    for (row, f) in opik_rows {
        g.bench_function(row, |b| {
            b.iter_custom(|iters| {
                sink.client.run(|| {
                    time_nested(
                        iters,
                        |body| opik_tracked::root(body),
                        || {
                            black_box(f(black_box(7)));
                        },
                    )
                })
            })
        });
    }
    let tracing_rows: [ScalarRow; 2] = [
        ("tracing_ret", tracing_instrumented::scalar),
        ("tracing_skip_all", tracing_instrumented::scalar_none),
    ];
    for (row, f) in tracing_rows {
        g.bench_function(row, |b| {
            b.iter_custom(|iters| {
                time_nested(
                    iters,
                    |body| tracing_instrumented::root(body),
                    || {
                        black_box(f(black_box(7)));
                    },
                )
            })
        });
    }
    g.bench_function("fastrace", |b| {
        b.iter_custom(|iters| {
            time_nested(
                iters,
                |body| fastrace_traced::root(body),
                || {
                    black_box(fastrace_traced::scalar(black_box(7)));
                },
            )
        })
    });
    g.finish();
    report_stats(sink, "scalar_u64");
}

/// The three enabled rows again, with every record queued (see `time_nested_queued`): the
/// tight loops above outrun any exporter, so there most records meet a full queue and are
/// dropped, counted, before they are built. Here the exporter keeps up, and each call pays
/// for building its record and pushing it. A sink of its own, so that its counters show
/// that nothing was dropped.
fn queued(c: &mut Criterion) {
    let _ = shared_sink();
    let sink = sink(None);
    let (query, top_k, options) = sample_args();
    let mut g = c.benchmark_group("every_record_queued");
    // Each sample waits (untimed) for the exporter to deliver what it produced.
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    let root = |body: &mut dyn FnMut()| opik_tracked::root(body);
    g.bench_function("sync_nested", |b| {
        b.iter_custom(|iters| {
            sink.client
                .run(|| time_nested_queued(iters, &sink.client, root, opik_tracked::leaf))
        })
    });
    g.bench_function("async_nested", |b| {
        b.iter_custom(|iters| {
            sink.client.run(|| {
                time_nested_queued(iters, &sink.client, root, || {
                    poll_once(opik_tracked::leaf_async())
                })
            })
        })
    });
    g.bench_function("args3_string_out", |b| {
        b.iter_custom(|iters| {
            sink.client.run(|| {
                time_nested_queued(iters, &sink.client, root, || {
                    black_box(opik_tracked::with_args(
                        black_box(query),
                        black_box(top_k),
                        black_box(&options),
                    ));
                })
            })
        })
    });
    let scalar_rows: [ScalarRow; 3] = [
        ("scalar_u64", opik_tracked::scalar),
        ("scalar_u64_argument_only", opik_tracked::scalar_in),
        ("scalar_u64_nothing_captured", opik_tracked::scalar_none),
    ];
    for (row, f) in scalar_rows {
        g.bench_function(row, |b| {
            b.iter_custom(|iters| {
                sink.client.run(|| {
                    time_nested_queued(iters, &sink.client, root, || {
                        black_box(f(black_box(7)));
                    })
                })
            })
        });
    }
    g.finish();
    report_stats(&sink, "every_record_queued");
}

/// A stream of 100 tokens consumed whole, nested under a root, every record queued: per item,
/// the tracked stream's cost over the untracked one is the span's current-ness around each poll
/// and the item's capture into the aggregated output (the span's own start and end are shared
/// by the 100 items). Divide the times by 100 for the per-item figures.
fn stream_100(c: &mut Criterion) {
    let _ = shared_sink();
    let sink = sink(None);
    let mut g = c.benchmark_group("stream_100_items");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    let root = |body: &mut dyn FnMut()| opik_tracked::root(body);
    g.bench_function("untracked", |b| {
        b.iter(|| black_box(drain(plain::token_stream())))
    });
    g.bench_function("opik", |b| {
        b.iter_custom(|iters| {
            sink.client.run(|| {
                time_nested_queued(iters, &sink.client, root, || {
                    black_box(drain(opik_tracked::token_stream()));
                })
            })
        })
    });
    g.bench_function("opik_items_not_captured", |b| {
        b.iter_custom(|iters| {
            sink.client.run(|| {
                time_nested_queued(iters, &sink.client, root, || {
                    black_box(drain(opik_tracked::token_stream_uncaptured()));
                })
            })
        })
    });
    g.finish();
    report_stats(&sink, "stream_100_items");
}

/// The parts of a tracked call's cost that are not the recorder's own code: one clock read per
/// edge and one id per span (two for a root).
fn parts(c: &mut Criterion) {
    use opik::__private::bench::{anchor, new_id, Timestamp};
    let mut g = c.benchmark_group("parts");
    // The fast clock is calibrated by an exporter when it starts; make sure it is here too.
    anchor();
    g.bench_function("Timestamp::now", |b| b.iter(Timestamp::now));
    g.bench_function("SystemTime::now", |b| b.iter(std::time::SystemTime::now));
    g.bench_function("Instant::now", |b| b.iter(std::time::Instant::now));
    // What a TSC read costs here (the clock fastrace uses), for the clock.rs proposal.
    #[cfg(target_arch = "x86_64")]
    g.bench_function("rdtsc", |b| {
        // SAFETY: RDTSC has no preconditions on x86_64.
        #[allow(unused_unsafe)]
        b.iter(|| unsafe { std::arch::x86_64::_rdtsc() })
    });
    let at = Timestamp::now();
    g.bench_function("new_id", |b| b.iter(|| new_id(black_box(at))));
    g.bench_function("Arc::new(ActiveSpan-sized)", |b| {
        b.iter(|| std::sync::Arc::new(black_box([0u64; 32])))
    });
    g.finish();
}

fn config() -> Criterion {
    if clock::cpu_time() {
        eprintln!("OPIK_BENCH_CLOCK=cpu: figures are the benchmark thread's CPU time");
    }
    criterion::Criterion::default().with_measurement(BenchClock)
}

criterion_group! {
    name = benches;
    config = config();
    targets = runtime_off, sync_nested, async_nested, with_args, scalar, queued, stream_100, parts
}
criterion_main!(benches);
