//! The "feature off" row: `#[opik::track]` built with opik's `enabled` feature off must cost
//! nothing, because the attribute then emits the function unchanged.
//!
//! Build and run this crate on its own, `cargo bench -p opik-bench-feature-off`: cargo unifies
//! features across the packages of one build, so building it together with a member that uses
//! opik's defaults (`cargo bench --workspace`) turns `enabled` back on. [`feature_is_off`] tells
//! which build this is, and the bench refuses to report from the wrong one.

use std::hint::black_box;

/// The untracked baseline.
#[inline(never)]
pub fn plain_leaf(x: u64) -> u64 {
    black_box(x).wrapping_add(1)
}

/// The same function under `#[opik::track]`.
#[opik::track]
#[inline(never)]
pub fn tracked_leaf(x: u64) -> u64 {
    black_box(x).wrapping_add(1)
}

/// Whether this build has opik's `enabled` feature off: a tracked call under a client then
/// produces no record. (The client points at a closed port; nothing is ever sent.)
pub fn feature_is_off() -> bool {
    let config = opik::config::ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url("http://127.0.0.1:9/api")
        .resolve()
        .ok()
        .and_then(|r| r.into_config());
    let Some(config) = config else {
        return false;
    };
    let Ok(client) = opik::export::Client::new(&config) else {
        return false;
    };
    client.run(|| tracked_leaf(1));
    client.stats().produced == 0
}
