//! Issue "Hostile input", settings and lifecycle: a second `init()`, guards dropped in any
//! order or raced from two threads, and `Duration::MAX` ("wait forever") wherever a duration is
//! taken. Each test installs the SDK globally, so each runs in a child process of its own (this
//! binary, re-run with `--exact <child> --ignored`): global state never leaks between them.

mod common;

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use std::time::Duration;

#[opik::track]
fn work(n: u32) -> u32 {
    n + 1
}

fn builder(url: &str) -> ConfigBuilder {
    ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(url)
        .project_name(common::TEST_PROJECT)
        .flush_interval(Duration::from_millis(20))
}

fn run_child(child: &str, server: &FakeOpik) -> String {
    common::run_child(
        child,
        &[("OPIK_LIFECYCLE_CHILD_URL", server.base_url())],
        &[],
    )
}

fn child_url() -> Option<String> {
    std::env::var("OPIK_LIFECYCLE_CHILD_URL").ok()
}

// ---- 6. a second init ---------------------------------------------------------------------------

#[test]
#[ignore = "run by l06a as a child process"]
fn l06a_child_second_init_then_first_guard_dropped() {
    let Some(url) = child_url() else { return };
    let first = opik::init_with(builder(&url)).expect("first init");
    work(1);
    let second = opik::init_with(builder(&url)).expect("second init");
    assert!(!first.is_enabled(), "the first client was replaced");
    assert!(second.is_enabled());
    drop(first);
    // The second init is still installed: these are sent and counted.
    for i in 0..5 {
        work(i);
    }
    assert!(second.is_enabled());
    let report = opik::flush(Duration::from_secs(5));
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.produced, 10, "{}", report.stats);
    assert_eq!(report.stats.delivered, 10, "{}", report.stats);
    println!(
        "CHILD second init kept after the first guard dropped: {}",
        report.stats
    );
}

#[test]
fn l06a_dropping_an_older_guard_keeps_the_newer_init_installed() {
    let server = FakeOpik::start();
    let stdout = run_child("l06a_child_second_init_then_first_guard_dropped", &server);
    // 1 call on the first client + 5 on the second, each a trace and a span.
    assert_eq!(server.traces().len(), 6);
    assert_eq!(server.spans().len(), 6);
    server.assert_valid();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CHILD"))
        .unwrap_or("");
    println!("FIGURES 6a | init, init, drop the first guard, 5 calls | {line}");
}

#[test]
#[ignore = "run by l06b as a child process"]
fn l06b_child_two_threads_race_to_init() {
    let Some(url) = child_url() else { return };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                opik::init_with(builder(&url)).expect("init")
            })
        })
        .collect();
    let guards: Vec<opik::OpikGuard> = threads
        .into_iter()
        .map(|t| t.join().expect("no panic"))
        .collect();
    let enabled: Vec<bool> = guards.iter().map(opik::OpikGuard::is_enabled).collect();
    assert_eq!(
        enabled.iter().filter(|e| **e).count(),
        1,
        "one of them won: {enabled:?}"
    );
    for i in 0..5 {
        work(i);
    }
    let report = opik::flush(Duration::from_secs(5));
    assert!(report.completed);
    assert_eq!(report.stats.produced, 10, "{}", report.stats);
    assert_eq!(report.stats.delivered, 10, "{}", report.stats);
    // Dropping both, the loser's first: the winner delivers and shuts down.
    drop(guards);
    assert_eq!(opik::stats().produced, 0, "uninstalled");
    println!("CHILD race: {}", report.stats);
}

#[test]
fn l06b_two_threads_racing_to_init_leave_one_client_installed_and_counting() {
    let server = FakeOpik::start();
    let stdout = run_child("l06b_child_two_threads_race_to_init", &server);
    assert_eq!(server.spans().len(), 5);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CHILD"))
        .unwrap_or("");
    println!("FIGURES 6b | two threads init at once, 5 calls | {line}");
}

// ---- 7. Duration::MAX ---------------------------------------------------------------------------

#[test]
#[ignore = "run by l07 as a child process"]
fn l07_child_durations_of_forever() {
    let Some(url) = child_url() else { return };
    let guard = opik::init_with(
        builder(&url)
            .flush_interval(Duration::MAX)
            .shutdown_timeout(Duration::MAX)
            .retry_deadline(Duration::MAX)
            .backoff_max(Duration::MAX)
            .rate_limit_max_wait(Duration::MAX),
    )
    .expect("a duration of forever is a valid setting");
    work(1);
    let report = opik::flush(Duration::MAX);
    assert!(report.completed, "{report:?}");
    work(2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(opik::flush_async(Duration::MAX));
    assert!(report.completed, "{report:?}");
    work(3);
    let client = guard.client().expect("enabled").clone();
    // The guard's drop waits "forever": until everything is delivered, here at once.
    drop(guard);
    let stats = client.stats();
    assert_eq!((stats.produced, stats.delivered), (6, 6), "{stats}");
    let report = client.shutdown(Duration::MAX);
    assert!(report.completed);
    println!("CHILD forever: {stats}");
}

#[test]
fn l07_duration_max_means_wait_as_long_as_it_takes_and_never_panics() {
    let server = FakeOpik::start();
    let stdout = run_child("l07_child_durations_of_forever", &server);
    assert_eq!(server.spans().len(), 3);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CHILD"))
        .unwrap_or("");
    println!("FIGURES 7 | Duration::MAX for flush, flush_async, shutdown_timeout, flush_interval, retry_deadline, backoff_max, rate_limit_max_wait | no panic, all delivered | {line}");
}
