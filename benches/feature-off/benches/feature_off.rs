//! `#[opik::track]` with opik's `enabled` feature off, next to the same function untracked.
//!
//! ```text
//! cargo bench -p opik-bench-feature-off     # on its own: see the crate docs for why
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use opik_bench_feature_off::{feature_is_off, plain_leaf, tracked_leaf};
use std::hint::black_box;

fn feature_off(c: &mut Criterion) {
    if !feature_is_off() {
        eprintln!(
            "opik's `enabled` feature is on in this build (features were unified with another \
             package's); run `cargo bench -p opik-bench-feature-off` on its own. Skipping."
        );
        return;
    }
    let mut g = c.benchmark_group("feature_off");
    g.bench_function("untracked", |b| b.iter(|| plain_leaf(black_box(7))));
    g.bench_function("opik", |b| b.iter(|| tracked_leaf(black_box(7))));
    g.finish();
}

criterion_group!(benches, feature_off);
criterion_main!(benches);
