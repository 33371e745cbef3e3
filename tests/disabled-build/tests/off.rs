//! With opik's `enabled` feature off, tracked functions run as written and the runtime API does
//! nothing. Only meaningful when this crate is built on its own (`cargo test -p
//! opik-disabled-build`); in a workspace-wide build cargo unifies features and `enabled` is on.

use opik_disabled_build::*;

fn feature_is_off() -> bool {
    if opik::ENABLED {
        eprintln!(
            "opik was built with `enabled` (features unified with another workspace member); \
             run `cargo test -p opik-disabled-build` to test the feature-off build"
        );
    }
    !opik::ENABLED
}

#[test]
fn tracked_functions_run_as_written_and_record_nothing() {
    if !feature_is_off() {
        return;
    }
    assert_eq!(all_arguments(1, "2"), Ok(3));
    assert!(all_arguments(1, "x").is_err());
    let mut c = Counter { n: 1 };
    assert_eq!(c.bump(), 2);
    assert_eq!(c.describe([1], "c"), "c: 2 [1]");
    assert_eq!(tracked_calls_record_nothing(), Some(true));
}

#[tokio::test]
async fn async_shapes_run_as_written() {
    if !feature_is_off() {
        return;
    }
    assert_eq!(async_fn(2).await, Some(4));
    assert_eq!(boxed(1).await, 2);
    assert_eq!(impl_future(1).await, 3);
    assert!(flush_async().await.completed);
}

#[test]
fn init_is_never_enabled_and_flush_returns_at_once() {
    if !feature_is_off() {
        return;
    }
    let (enabled, report, stats) = use_runtime_api().expect("init succeeds");
    assert!(!enabled, "a configured init still records nothing");
    assert!(report.completed);
    assert_eq!(report.stats.produced, 0);
    assert_eq!(stats.produced, 0);
}

#[test]
fn integration_features_without_enabled_record_nothing() {
    if !feature_is_off() {
        return;
    }
    assert_eq!(traced_calls_record_nothing(), (0, 0));
}
