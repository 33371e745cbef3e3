//! Runs one variant of the overhead benches N times, for instruction counts that do not depend
//! on the machine's load (criterion's wall-clock figures do):
//!
//! ```text
//! cargo build --release -p opik-benches --bin callgrind_probe
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*probe_loop*' \
//!     target/release/callgrind_probe opik_sync 100000
//! callgrind_annotate callgrind.out.<pid> | head     # total Ir / 100000 = instructions per call
//! ```
//!
//! Only the caller thread's work inside `probe_loop` is counted (roots included, one per 1000
//! calls as in the criterion benches), not the exporter's. `--queue N` sets the queue capacity:
//! with N above the calls made every record is queued; with the default (16384) most records
//! of a long run meet a full queue and are dropped, as in the criterion loop. `--no-long-span`
//! turns the long-span watch off; `--stalled` makes the server hold every batch, so that the
//! exporter never drains the queue (every record meets a full queue: the drop path alone);
//! `--queued` runs the calls in chunks that fit in the queue and lets the exporter deliver each
//! chunk before the next (not timed): every record is built and queued.
//! Variants: `plain_sync`, `plain_async`, `plain_args`, `{opik,tracing,fastrace}_off`,
//! `{opik,tracing,fastrace}_{sync,async,args}`, `{plain,opik,tracing,fastrace}_scalar` (`fn(u64)
//! -> u64`, each framework's default capture), `opik_scalar_in`, `opik_scalar_none`,
//! `tracing_scalar_none`, `{plain,opik}_stream` and `opik_stream_uncaptured` (100 tokens a
//! call).

use opik_benches::{
    drain, fastrace_traced, opik_tracked, plain, poll_once, sample_args, sink_with, time_nested,
    time_nested_queued, tracing_instrumented,
};
use std::hint::black_box;

/// The measured loop; callgrind collects only inside it (`--toggle-collect='*probe_loop*'`).
#[inline(never)]
fn probe_loop(n: u64, root: impl FnMut(&mut dyn FnMut()), call: impl FnMut()) {
    let took = match QUEUED.get() {
        Some(client) => time_nested_queued(n, client, root, call),
        None => time_nested(n, root, call),
    };
    LAST.with(|l| l.set(took));
}

/// Set by `--queued`: the client whose exporter delivers each chunk before the next one.
static QUEUED: std::sync::OnceLock<opik::export::Client> = std::sync::OnceLock::new();

thread_local! {
    /// How long the last `probe_loop` took (printed, for a quick look without callgrind).
    static LAST: std::cell::Cell<std::time::Duration> = const { std::cell::Cell::new(std::time::Duration::ZERO) };
}

fn no_root(body: &mut dyn FnMut()) {
    body()
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("sizes") {
        let sizes: Vec<String> = opik::__private::bench::sizes()
            .iter()
            .map(|(name, bytes)| format!("{name} {bytes} B"))
            .collect();
        println!("size_of: {}", sizes.join(", "));
        return;
    }
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: callgrind_probe VARIANT N [--queue CAPACITY] [--no-long-span] [--stalled] [--queued]";
    let variant = args.next().unwrap_or_else(|| {
        eprintln!("{usage}");
        std::process::exit(2)
    });
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        eprintln!("{usage}");
        std::process::exit(2)
    });
    let mut queue = None;
    let mut watch = true;
    let mut stalled = false;
    let mut queued = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--queue" => {
                let q = args.next().unwrap_or_default();
                queue = Some(q.parse().unwrap_or_else(|_| {
                    eprintln!("--queue {q:?}: not a whole number");
                    std::process::exit(2)
                }));
            }
            "--no-long-span" => watch = false,
            "--stalled" => stalled = true,
            "--queued" => queued = true,
            other => {
                eprintln!("unknown option {other:?}; {usage}");
                std::process::exit(2)
            }
        }
    }
    tracing_instrumented::install();
    fastrace_traced::install();
    // The fast span clock, calibrated now: the exporter does it when it starts, which under
    // callgrind can be after the measured loop began (its calls would read the system clock).
    opik::__private::bench::anchor();
    let sink = sink_with(|b| {
        let b = match queue {
            Some(n) => b.queue_capacity(n),
            None => b,
        };
        if watch {
            b
        } else {
            b.long_span_threshold(None)
        }
    });
    if queued {
        let _ = QUEUED.set(sink.client.clone());
    }
    if stalled {
        for route in ["/spans/batch", "/traces/batch"] {
            sink.server
                .script(route, std::iter::repeat_n(fake_opik::Reply::never(), 1000));
        }
    }
    let (query, top_k, options) = sample_args();
    let args_call = |f: fn(&str, u32, &opik_benches::Options) -> String| {
        move || {
            black_box(f(black_box(query), black_box(top_k), black_box(&options)));
        }
    };
    let scalar_call = |f: fn(u64) -> u64| {
        let mut x = 0u64;
        move || {
            x += 1;
            black_box(f(black_box(x)));
        }
    };
    let opik_root = |body: &mut dyn FnMut()| opik_tracked::root(body);
    let tracing_root = |body: &mut dyn FnMut()| tracing_instrumented::root(body);
    let fastrace_root = |body: &mut dyn FnMut()| fastrace_traced::root(body);
    match variant.as_str() {
        "plain_sync" => probe_loop(n, no_root, plain::leaf),
        "plain_async" => probe_loop(n, no_root, || poll_once(plain::leaf_async())),
        "plain_args" => probe_loop(n, no_root, args_call(plain::with_args)),
        "opik_off" => probe_loop(n, no_root, opik_tracked::leaf),
        "tracing_off" => probe_loop(n, no_root, tracing_instrumented::leaf_filtered_out),
        "fastrace_off" => probe_loop(n, no_root, fastrace_traced::leaf),
        "opik_sync" => sink
            .client
            .run(|| probe_loop(n, opik_root, opik_tracked::leaf)),
        "opik_async" => sink
            .client
            .run(|| probe_loop(n, opik_root, || poll_once(opik_tracked::leaf_async()))),
        "opik_args" => sink
            .client
            .run(|| probe_loop(n, opik_root, args_call(opik_tracked::with_args))),
        "tracing_sync" => probe_loop(n, tracing_root, tracing_instrumented::leaf),
        "tracing_async" => probe_loop(n, tracing_root, || {
            poll_once(tracing_instrumented::leaf_async())
        }),
        "tracing_args" => probe_loop(n, tracing_root, args_call(tracing_instrumented::with_args)),
        "fastrace_sync" => probe_loop(n, fastrace_root, fastrace_traced::leaf),
        "fastrace_async" => {
            probe_loop(
                n,
                fastrace_root,
                || poll_once(fastrace_traced::leaf_async()),
            )
        }
        "fastrace_args" => probe_loop(n, fastrace_root, args_call(fastrace_traced::with_args)),
        "plain_scalar" => probe_loop(n, no_root, scalar_call(plain::scalar)),
        "opik_scalar" => sink
            .client
            .run(|| probe_loop(n, opik_root, scalar_call(opik_tracked::scalar))),
        "opik_scalar_in" => sink
            .client
            .run(|| probe_loop(n, opik_root, scalar_call(opik_tracked::scalar_in))),
        "opik_scalar_none" => sink
            .client
            .run(|| probe_loop(n, opik_root, scalar_call(opik_tracked::scalar_none))),
        "tracing_scalar" => probe_loop(n, tracing_root, scalar_call(tracing_instrumented::scalar)),
        "tracing_scalar_none" => probe_loop(
            n,
            tracing_root,
            scalar_call(tracing_instrumented::scalar_none),
        ),
        "fastrace_scalar" => probe_loop(n, fastrace_root, scalar_call(fastrace_traced::scalar)),
        // A 100-token stream consumed whole per call: divide by 100 for the per-item figure.
        "plain_stream" => probe_loop(n, no_root, || {
            black_box(drain(plain::token_stream()));
        }),
        "opik_stream" => sink.client.run(|| {
            probe_loop(n, opik_root, || {
                black_box(drain(opik_tracked::token_stream()));
            })
        }),
        "opik_stream_uncaptured" => sink.client.run(|| {
            probe_loop(n, opik_root, || {
                black_box(drain(opik_tracked::token_stream_uncaptured()));
            })
        }),
        other => {
            eprintln!("unknown variant {other:?}; {usage}");
            std::process::exit(2)
        }
    }
    let took = LAST.with(|l| l.get());
    eprintln!(
        "{variant} x{n}: {:.1} ns/call ({} clock); {}",
        took.as_nanos() as f64 / n.max(1) as f64,
        if opik_benches::clock::cpu_time() {
            "thread CPU"
        } else {
            "wall"
        },
        sink.client.stats()
    );
}
