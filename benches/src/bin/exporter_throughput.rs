//! Exporter throughput and memory against a fake Opik on loopback (gzip on, 1000-item batches).
//!
//! ```text
//! cargo run --release -p opik-benches --bin exporter_throughput               # every phase
//! cargo run --release -p opik-benches --bin exporter_throughput -- throughput # one phase
//! cargo run --release -p opik-benches --bin exporter_throughput -- stall --stall-secs 70
//! ```
//!
//! Options: `--spans N` (spans per throughput phase, default 2,000,000), `--burst N` (spans in
//! the stalled-server burst, default 1,000,000), `--stall-secs S` (how long to watch memory
//! after the burst, default 70: the exporter's retry rounds last 30 s), `--validate` (the fake
//! server gunzips, parses and schema-checks every body, as in the tests, instead of discarding
//! it: shows what validation costs the shared cores).
//!
//! Phases:
//! - `throughput`: the caller (this thread) produces traces of 1 root + 99 child spans as fast as
//!   it can, pausing only while more than half the queue's capacity is pending, so nothing is
//!   dropped; the figure is spans delivered per second of wall time, first call to last
//!   delivery. Run twice: spans without arguments, and spans with three arguments and a
//!   `String` output.
//! - `stall`: every batch request is held forever by the server (`Reply::never`); a burst of
//!   spans is produced at full speed; RSS is printed as the queue fills and while the exporter
//!   retries. The queue bounds what the app side holds; the exporter side holds what it took
//!   before the stall plus the batch in flight.

use fake_opik::{FakeOpik, Reply};
use opik_benches::{client_for, opik_tracked, proc_status_kib, reset_peak_rss, sample_args};
use std::hint::black_box;
use std::time::{Duration, Instant};

const CHILDREN_PER_TRACE: u64 = 99;

struct Options {
    phases: Vec<String>,
    spans: u64,
    burst: u64,
    stall_secs: u64,
    validate: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        phases: Vec::new(),
        spans: 2_000_000,
        burst: 1_000_000,
        stall_secs: 70,
        validate: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("{name} needs a number"))?;
            v.replace('_', "")
                .parse()
                .map_err(|_| format!("{name} {v:?}: not a whole number"))
        };
        match arg.as_str() {
            "--spans" => o.spans = number("--spans")?,
            "--burst" => o.burst = number("--burst")?,
            "--stall-secs" => o.stall_secs = number("--stall-secs")?,
            "--validate" => o.validate = true,
            "throughput" | "stall" => o.phases.push(arg),
            // `cargo bench` passes `--bench` to every target it runs.
            "--bench" => {}
            other => {
                return Err(format!(
                "unknown argument {other:?}; expected throughput, stall, --spans N, --burst N, \
                 --stall-secs S, --validate"
            ))
            }
        }
    }
    if o.phases.is_empty() {
        o.phases = vec!["throughput".into(), "stall".into()];
    }
    Ok(o)
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("exporter_throughput: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "machine: {} cores, {}; load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        load_average()
    );
    for phase in &options.phases {
        match phase.as_str() {
            "throughput" => {
                throughput(&options, Shape::NoArgs);
                throughput(&options, Shape::Args);
            }
            _ => stall(&options),
        }
    }
    println!(
        "peak RSS of the process (VmHWM): {} KiB",
        proc_status_kib("VmHWM").unwrap_or(0)
    );
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `fn leaf()`: empty input, no output.
    NoArgs,
    /// `fn with_args(&str, u32, &Options) -> String`.
    Args,
}

/// One child call of the given shape.
#[inline]
fn child(shape: Shape) {
    match shape {
        Shape::NoArgs => opik_tracked::leaf(),
        Shape::Args => {
            let (query, top_k, options) = sample_args();
            black_box(opik_tracked::with_args(
                black_box(query),
                black_box(top_k),
                &options,
            ));
        }
    }
}

fn throughput(options: &Options, shape: Shape) {
    let server = FakeOpik::start();
    server.discard_bodies(!options.validate);
    let client = client_for(&server, None, Duration::from_secs(10));
    let capacity = opik_core_default_capacity();
    let traces = options.spans.div_ceil(CHILDREN_PER_TRACE + 1);
    let mut paused = Duration::ZERO;
    reset_peak_rss();
    let exporter_cpu_before = thread_cpu("opik-exporter");
    let start = Instant::now();
    client.run(|| {
        for _ in 0..traces {
            opik_tracked::root(|| {
                for _ in 0..CHILDREN_PER_TRACE {
                    child(shape);
                }
            });
            // Back-pressure, so that the figure is what the exporter sustains without loss.
            if client.stats().pending() > capacity / 2 {
                let since = Instant::now();
                while client.stats().pending() > capacity / 4 {
                    std::thread::sleep(Duration::from_micros(200));
                }
                paused += since.elapsed();
            }
        }
    });
    let produced_in = start.elapsed();
    let report = client.flush(Duration::from_secs(120));
    let elapsed = start.elapsed();
    let exporter_cpu = thread_cpu("opik-exporter").saturating_sub(exporter_cpu_before);
    let stats = report.stats;
    let spans = traces * (CHILDREN_PER_TRACE + 1);
    println!(
        "throughput [{shape:?}{}]: {spans} spans + {traces} traces in {:.3} s = {:.0} spans/s \
         ({:.0} records/s); caller produced them in {:.3} s, {:.3} s of it waiting on the queue; \
         flush completed: {}; {stats}; peak RSS in this phase {} KiB",
        if options.validate {
            ", validating server"
        } else {
            ""
        },
        elapsed.as_secs_f64(),
        spans as f64 / elapsed.as_secs_f64(),
        stats.delivered as f64 / elapsed.as_secs_f64(),
        produced_in.as_secs_f64(),
        paused.as_secs_f64(),
        report.completed,
        proc_status_kib("VmHWM").unwrap_or(0),
    );
    // The exporter thread's own CPU time: what one core sustains, whatever else ran on the
    // machine (the wall-clock rate above shares two cores with the caller and the server).
    println!(
        "  exporter thread CPU: {:.3} s = {:.0} ns per record = {:.0} records/s of one core",
        exporter_cpu.as_secs_f64(),
        exporter_cpu.as_nanos() as f64 / stats.delivered.max(1) as f64,
        stats.delivered as f64 / exporter_cpu.as_secs_f64().max(1e-9),
    );
    if options.validate {
        let problems = server.problems();
        println!(
            "  validating server: {} requests, {} problems",
            server.requests().len(),
            problems.len()
        );
        for p in problems.iter().take(5) {
            println!("  problem: {p}");
        }
    }
}

/// The CPU time (user + system) of this process's thread named `name`, from
/// `/proc/self/task/*/stat` (zero where there is no `/proc`).
fn thread_cpu(name: &str) -> Duration {
    let ticks = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            if comm.trim() != name {
                return None;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // Fields after the parenthesised command: state is the 3rd field, utime the 14th.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .sum::<u64>();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

/// The SDK's default queue capacity (the bench clients keep it).
fn opik_core_default_capacity() -> u64 {
    16_384
}

fn stall(options: &Options) {
    let server = FakeOpik::start();
    server.discard_bodies(true);
    for route in ["/spans/batch", "/traces/batch"] {
        server.script(route, std::iter::repeat_n(Reply::never(), 10_000));
    }
    let client = client_for(&server, None, Duration::from_secs(10));
    let rss = || proc_status_kib("VmRSS").unwrap_or(0);
    // Warm up the allocator and the code paths, so the baseline is not the cold process.
    client.run(|| opik_tracked::root(|| child(Shape::NoArgs)));
    std::thread::sleep(Duration::from_millis(200));
    let before = rss();
    println!(
        "stall: every batch request is held forever; queue capacity {}; {} spans in a burst",
        opik_core_default_capacity(),
        options.burst
    );
    println!("  RSS before the burst: {before} KiB");
    let per_trace = 1000u64;
    let traces = options.burst.div_ceil(per_trace);
    let start = Instant::now();
    let mut next_report = 100_000u64;
    client.run(|| {
        for t in 0..traces {
            opik_tracked::root(|| {
                for _ in 0..per_trace - 1 {
                    child(Shape::NoArgs);
                }
            });
            let made = (t + 1) * per_trace;
            if made >= next_report {
                println!(
                    "  after {made:>8} spans ({:.3} s): RSS {} KiB (+{} KiB); {}",
                    start.elapsed().as_secs_f64(),
                    rss(),
                    rss().saturating_sub(before),
                    client.stats()
                );
                next_report = if next_report < 250_000 {
                    next_report + 150_000
                } else {
                    next_report * 2
                };
            }
        }
    });
    let burst_done = Instant::now();
    println!(
        "  burst done in {:.3} s: RSS {} KiB (+{} KiB); {}",
        start.elapsed().as_secs_f64(),
        rss(),
        rss().saturating_sub(before),
        client.stats()
    );
    // Keep producing slowly while the exporter retries, as a live app would.
    let mut next = burst_done + Duration::from_secs(5);
    while burst_done.elapsed() < Duration::from_secs(options.stall_secs) {
        client.run(|| {
            opik_tracked::root(|| {
                for _ in 0..99 {
                    child(Shape::NoArgs);
                }
            })
        });
        if Instant::now() >= next {
            println!(
                "  +{:>3} s stalled: RSS {} KiB (+{} KiB); {}",
                burst_done.elapsed().as_secs(),
                rss(),
                rss().saturating_sub(before),
                client.stats()
            );
            next += Duration::from_secs(5);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "  the server received {} batch requests and held every one",
        server.discarded()
    );
    // Dropping the client gives up within the shutdown timeout (2 s): the server never answers.
    let report = client.shutdown(Duration::from_secs(2));
    println!("  after shutdown: {}", report.stats);
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
