//! Calls the untracked or the tracked function N times, for callgrind instruction counts:
//!
//! ```text
//! cargo build --release -p opik-bench-feature-off --bin feature_off_probe
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*probe_loop*' \
//!     target/release/feature_off_probe tracked 1000000
//! ```

use opik_bench_feature_off::{feature_is_off, plain_leaf, tracked_leaf};
use std::hint::black_box;

#[inline(never)]
fn probe_loop(n: u64, f: fn(u64) -> u64) {
    for i in 0..n {
        black_box(f(black_box(i)));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_default();
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let f: fn(u64) -> u64 = match which.as_str() {
        "plain" => plain_leaf,
        "tracked" => tracked_leaf,
        _ => {
            eprintln!("usage: feature_off_probe plain|tracked N");
            std::process::exit(2)
        }
    };
    probe_loop(n, f);
    println!(
        "{which} x{n}; opik `enabled` feature off: {}",
        feature_is_off()
    );
}
