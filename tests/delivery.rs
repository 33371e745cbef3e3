//! Issue "Delivery you can trust": the fault suite. Each test scripts its own fake Opik server
//! (real sockets on loopback), runs tracked code under its own client with short backoffs, and
//! checks what arrived, what the counters say (produced == delivered + dropped, exactly, once
//! the client is quiet) and how long the SDK made the caller wait.
//!
//! Every test prints a `FIGURES` line (run with `--nocapture` to see them): the injected fault,
//! requests made, records delivered, dropped by reason, and time to return.

mod common;

use common::{captured_logs, log_text, TEST_KEY, TEST_PROJECT, TEST_WORKSPACE};
use fake_opik::{Entity, FakeOpik, Reply};
use opik::config::ConfigBuilder;
use opik::export::{Client, DropReason, Stats};
use serde_json::Value;
use std::time::{Duration, Instant};

// ---- tracked code ---------------------------------------------------------------------------

#[opik::track]
fn leaf(i: u32) -> u32 {
    i * 2
}

/// One trace with `1 + n` spans: `2 + n` records.
#[opik::track]
fn root(n: u32) -> u32 {
    (0..n).map(leaf).sum()
}

#[opik::track]
fn big(text: String) -> usize {
    text.len()
}

#[opik::track]
async fn long_child(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[opik::track]
async fn quick_child() -> u32 {
    7
}

#[opik::track]
async fn long_root() -> u64 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    quick_child().await;
    let slept = long_child(1_000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    slept
}

/// Sync code gives the SDK no chance to look at a span after it started, so which sync spans
/// are watched for long runs is decided at their start: roots and typed spans, not every
/// nested helper (see `export::progress`).
#[opik::track(type = "llm")]
fn slow_sync_llm(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[opik::track]
fn slow_sync_helper(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[opik::track]
fn slow_sync_root() -> u64 {
    slow_sync_helper(500) + slow_sync_llm(500)
}

#[opik::track]
async fn async_root(n: u32) -> u32 {
    tokio::task::yield_now().await;
    (0..n).map(leaf).sum()
}

// ---- helpers --------------------------------------------------------------------------------

fn config_url(url: &str) -> ConfigBuilder {
    ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(url)
        .api_key(TEST_KEY)
        .workspace(TEST_WORKSPACE)
        .project_name(TEST_PROJECT)
        .flush_interval(Duration::from_millis(50))
        .request_timeout(Duration::from_secs(2))
}

/// Short backoffs so that a suite of failure scenarios runs in seconds.
fn fast(builder: ConfigBuilder) -> ConfigBuilder {
    builder
        .backoff_base(Duration::from_millis(20))
        .backoff_max(Duration::from_millis(200))
        .max_retries(50)
        .retry_deadline(Duration::from_secs(20))
}

fn client_with(
    builder: ConfigBuilder,
    tweak: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> Client {
    let config = tweak(fast(builder))
        .resolve()
        .expect("valid test config")
        .into_config()
        .expect("test config is enabled");
    Client::new(&config).expect("client starts")
}

fn client_for(server: &FakeOpik) -> Client {
    client_with(config_url(&server.base_url()), |s| s)
}

/// The test made `expected` records (counted by the test itself, not read back from the SDK),
/// and each is delivered or dropped for a counted reason: produced == delivered + dropped,
/// exactly, with nothing pending.
fn assert_accounted(stats: &Stats, expected: u64) {
    assert_eq!(
        stats.produced, expected,
        "the SDK counted {} records produced where the test made {expected}: {stats}",
        stats.produced
    );
    assert_eq!(
        stats.pending(),
        0,
        "nothing may be pending at quiescence: {stats}"
    );
    assert_eq!(
        stats.produced,
        stats.delivered + stats.dropped_total(),
        "every record is delivered or dropped for a counted reason: {stats}"
    );
}

fn batch_requests(server: &FakeOpik) -> usize {
    server.request_count("/batch")
}

fn figures(case: &str, fault: &str, server: &FakeOpik, stats: &Stats, took: Duration) {
    let dropped: Vec<String> = stats
        .dropped_by_reason()
        .map(|(r, n)| format!("{r}={n}"))
        .collect();
    println!(
        "FIGURES {case} | fault: {fault} | requests: {} | produced: {} | delivered: {} | dropped: [{}] | truncated: {} | previews: {} | returned in {took:.2?}",
        batch_requests(server),
        stats.produced,
        stats.delivered,
        dropped.join(", "),
        stats.truncated,
        stats.in_progress_sent,
    );
}

// ---- 1. 503 for a while -------------------------------------------------------------------

#[test]
fn c01_503_for_a_while_then_every_span_arrives_exactly_once() {
    let server = FakeOpik::start();
    server.fail_for("/batch", Duration::from_millis(600), 503);
    let client = client_for(&server);
    client.run(|| {
        for _ in 0..20 {
            root(4);
        }
    });
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed, "{report:?}");
    let stats = report.stats;
    assert_eq!(stats.produced, 20 * 6);
    assert_eq!(stats.delivered, stats.produced, "{stats}");
    assert_eq!(stats.dropped_total(), 0);
    assert_accounted(&stats, 20 * 6);
    assert_eq!(server.spans().len(), 20 * 5);
    assert_eq!(server.traces().len(), 20);
    server.assert_delivered_once(Entity::Span);
    server.assert_delivered_once(Entity::Trace);
    let failed = server
        .requests_to("/batch")
        .iter()
        .filter(|r| r.status == Some(503))
        .count();
    assert!(failed >= 1, "the fault was injected");
    server.assert_valid();
    figures("1", "503 for 600 ms, then 204", &server, &stats, took);
}

#[test]
fn c01b_5xx_past_the_retry_deadline_ends_as_http_5xx_exhausted() {
    let server = FakeOpik::start();
    server.fail_for("/batch", Duration::from_secs(600), 502);
    let client = client_with(config_url(&server.base_url()), |b| {
        b.retry_deadline(Duration::from_millis(400))
    });
    client.run(|| root(2));
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.dropped(DropReason::Http5xxExhausted), 4);
    assert_accounted(&report.stats, 4);
    // Bounded by the per-batch deadline, not by max_retries (50 here).
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(batch_requests(&server) < 40, "{}", batch_requests(&server));
    figures(
        "1b",
        "502 forever, retry_deadline 400 ms",
        &server,
        &report.stats,
        took,
    );
}

// ---- 2. connection refused until the server starts -----------------------------------------

#[test]
fn c02_connection_refused_until_the_server_starts_then_all_delivered() {
    let reserved = FakeOpik::reserve();
    let client = client_with(config_url(&reserved.base_url()), |s| s);
    client.run(|| {
        for _ in 0..10 {
            root(3);
        }
    });
    let server = reserved.start_after(Duration::from_millis(700));
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 50, "{}", report.stats);
    assert_accounted(&report.stats, 10 * 5);
    server.assert_delivered_once(Entity::Span);
    assert!(server.listening_since().is_some());
    server.assert_valid();
    figures(
        "2",
        "connection refused for 700 ms",
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c02b_connection_refused_for_good_ends_as_network() {
    let reserved = FakeOpik::reserve(); // bound, never listening: connections are refused
    let client = client_with(config_url(&reserved.base_url()), |b| b.max_retries(2));
    client.run(|| root(1));
    let report = client.flush(Duration::from_secs(10));
    assert!(report.completed);
    assert_eq!(report.stats.dropped(DropReason::Network), 3);
    assert_accounted(&report.stats, 3);
}

// ---- 3. 429 with each header kind ----------------------------------------------------------

fn rate_limited(header: &str, value: &str, expect_pause: Duration) {
    let server = FakeOpik::start();
    server.script("/traces/batch", [Reply::status(429).header(header, value)]);
    let client = client_for(&server);
    client.run(|| {
        for _ in 0..5 {
            root(2);
        }
    });
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 20);
    assert_accounted(&report.stats, 5 * 4);
    server.assert_delivered_once(Entity::Trace);
    server.assert_delivered_once(Entity::Span);

    // The whole sender paused: after the 429, nothing at all was sent for the pause.
    let requests = server.requests_to("/batch");
    let limited = requests
        .iter()
        .position(|r| r.status == Some(429))
        .expect("the 429 was served");
    let next = requests.get(limited + 1).expect("sending resumed");
    let gap = next.arrived - requests[limited].arrived;
    assert!(
        gap >= expect_pause.mul_f64(0.9),
        "{header}: {value} paused the sender only {gap:?}"
    );
    assert!(
        gap < expect_pause + Duration::from_secs(2),
        "paused far too long: {gap:?}"
    );
    assert_eq!(
        requests.len(),
        3,
        "one 429, then one traces and one spans request"
    );
    server.assert_valid();
    figures(
        "3",
        &format!("429 with {header}: {value} (pause observed {gap:.2?})"),
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c03a_429_retry_after_pauses_the_sender_then_everything_arrives() {
    rate_limited("Retry-After", "1", Duration::from_secs(1));
}

#[test]
fn c03b_429_ratelimit_reset_pauses_the_sender() {
    rate_limited("RateLimit-Reset", "1", Duration::from_secs(1));
}

#[test]
fn c03c_429_opik_ttl_millis_pauses_the_sender() {
    rate_limited(
        "Opik-Traces-Remaining-Limit-TTL-Millis",
        "700",
        Duration::from_millis(700),
    );
}

#[test]
fn c03d_429_without_headers_is_retried_with_backoff_not_dropped() {
    let server = FakeOpik::start();
    server.script(
        "/spans/batch",
        [Reply::status(429), Reply::status(429), Reply::status(429)],
    );
    let client = client_for(&server);
    client.run(|| root(3));
    let report = client.flush(Duration::from_secs(10));
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 5);
    assert_accounted(&report.stats, 5);
    server.assert_delivered_once(Entity::Span);
}

#[test]
fn c03e_429_forever_ends_as_rate_limited_exhausted() {
    let server = FakeOpik::start();
    server.fail_for_with(
        "/batch",
        Duration::from_secs(600),
        Reply::status(429).header("Retry-After", "0.05"),
    );
    let client = client_with(config_url(&server.base_url()), |b| b.max_retries(3));
    client.run(|| root(1));
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed);
    assert_eq!(report.stats.dropped(DropReason::RateLimitedExhausted), 3);
    assert_accounted(&report.stats, 3);
    assert_eq!(
        batch_requests(&server),
        2 * 4,
        "1 attempt + 3 retries per batch"
    );
    figures(
        "3e",
        "429 forever (Retry-After 0.05 s), max_retries 3",
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c03f_a_huge_server_wait_is_capped_and_a_flush_meanwhile_returns_by_its_deadline() {
    let server = FakeOpik::start();
    server.script(
        "/traces/batch",
        [Reply::status(429).header("Retry-After", "3600")],
    );
    let client = client_with(config_url(&server.base_url()), |b| {
        b.rate_limit_max_wait(Duration::from_millis(800))
    });
    client.run(|| root(1));
    let t = Instant::now();
    let early = client.flush(Duration::from_millis(200));
    let early_took = t.elapsed();
    assert!(!early.completed, "still paused");
    assert!(early_took < Duration::from_millis(700), "{early_took:?}");
    let report = client.flush(Duration::from_secs(5));
    let took = t.elapsed();
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 3);
    assert_accounted(&report.stats, 3);
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    figures(
        "3f",
        "429 Retry-After 3600 s, capped at 800 ms; flush(200ms) meanwhile",
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c03g_409_counts_as_delivered() {
    let server = FakeOpik::start();
    server.script("/spans/batch", [Reply::status(409)]);
    let client = client_for(&server);
    client.run(|| root(1));
    let report = client.flush(Duration::from_secs(5));
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 3);
    assert_eq!(report.stats.dropped_total(), 0);
    assert_eq!(server.request_count("/spans/batch"), 1, "no retry");
}

// ---- 4. accept and never answer ------------------------------------------------------------

#[test]
fn c04_never_answering_server_flush_returns_by_its_deadline_and_shutdown_counts_the_loss() {
    let server = FakeOpik::start();
    server.fail_for_with("/batch", Duration::from_secs(600), Reply::never());
    let client = client_with(config_url(&server.base_url()), |b| {
        b.shutdown_timeout(Duration::from_millis(300))
    });
    client.run(|| {
        for _ in 0..10 {
            root(3);
        }
    });
    let t = Instant::now();
    let report = client.flush(Duration::from_millis(500));
    let flush_took = t.elapsed();
    assert!(!report.completed);
    assert!(
        flush_took >= Duration::from_millis(450) && flush_took < Duration::from_millis(1500),
        "flush(500 ms) returned after {flush_took:?}"
    );
    assert_eq!(report.stats.produced, 50);
    assert!(report.stats.pending() > 0, "{}", report.stats);

    let t = Instant::now();
    let report = client.shutdown(Duration::from_millis(300));
    let shutdown_took = t.elapsed();
    assert!(
        shutdown_took < Duration::from_millis(1300),
        "{shutdown_took:?}"
    );
    assert_accounted(&report.stats, 10 * 5);
    assert_eq!(report.stats.delivered, 0);
    assert_eq!(report.stats.dropped(DropReason::ShutdownDeadline), 50);
    // Records made after shutdown are counted too.
    client.run(|| root(1));
    let after = client.stats();
    assert_eq!(after.dropped(DropReason::AfterShutdown), 3);
    assert_accounted(&after, 10 * 5 + 3);
    // Flushing a shut-down client answers at once: nothing is pending any more.
    let t2 = Instant::now();
    let again = client.flush(Duration::from_secs(5));
    assert!(again.completed && t2.elapsed() < Duration::from_millis(500));
    figures(
        "4",
        &format!("accept, never answer; flush(500ms) took {flush_took:.2?}, shutdown(300ms)"),
        &server,
        &after,
        shutdown_took,
    );
}

/// Run as a child process by the next test: installs the SDK globally with a 300 ms shutdown
/// timeout against a server that never answers, records, and drops the guard, with no runtime
/// or inside a tokio runtime (`#[tokio::main]` style), as `OPIK_DELIVERY_CHILD_RUNTIME` says.
#[test]
#[ignore = "run by c04b as a child process"]
fn c04_child_guard_drop() {
    let Ok(url) = std::env::var("OPIK_DELIVERY_CHILD_URL") else {
        return;
    };
    let body = move || {
        let builder = match std::env::var("OPIK_DELIVERY_CHILD_TIMEOUT").as_deref() {
            Ok("default") => config_url(&url),
            _ => config_url(&url).shutdown_timeout(Duration::from_millis(300)),
        };
        let guard = opik::init_with(builder).expect("init");
        let client = guard.client().expect("enabled").clone();
        for _ in 0..5 {
            root(2);
        }
        let t = Instant::now();
        drop(guard);
        println!(
            "CHILD guard drop took {:?}; stats after: {}",
            t.elapsed(),
            client.stats()
        );
        assert_accounted(&client.stats(), 5 * 4);
    };
    match std::env::var("OPIK_DELIVERY_CHILD_RUNTIME").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { body() }),
        Ok("multi") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { body() }),
        _ => body(),
    }
}

#[test]
fn c04b_guard_drop_returns_within_its_deadline_and_the_process_exits() {
    let server = FakeOpik::start();
    server.fail_for_with("/batch", Duration::from_secs(600), Reply::never());
    for (runtime, timeout) in [
        ("none", "300ms"),
        ("current", "300ms"),
        ("multi", "300ms"),
        ("none", "default"),
    ] {
        let t = Instant::now();
        let stdout = common::run_child(
            "c04_child_guard_drop",
            &[
                ("OPIK_DELIVERY_CHILD_URL", &*server.base_url()),
                ("OPIK_DELIVERY_CHILD_RUNTIME", runtime),
                ("OPIK_DELIVERY_CHILD_TIMEOUT", timeout),
            ],
            &[],
        );
        let took = t.elapsed();
        assert!(stdout.contains("CHILD guard drop took"), "{stdout}");
        assert!(
            stdout.contains("shutdown_deadline: 20"),
            "the loss is counted: {stdout}"
        );
        assert!(
            took < Duration::from_secs(5),
            "the child process took {took:?}"
        );
        let line = stdout.lines().find(|l| l.contains("CHILD")).unwrap_or("");
        println!(
            "FIGURES 4b ({runtime} runtime) | fault: accept, never answer; guard drop with shutdown_timeout {timeout} | {line} | child process exited after {took:.2?}"
        );
    }
    // The children's requests arrived and were never answered.
    assert!(batch_requests(&server) > 0);
}

// ---- 5. queue overflow ---------------------------------------------------------------------

#[test]
fn c05_burst_far_above_the_queue_with_a_stalled_server_is_counted_and_bounded() {
    let server = FakeOpik::start();
    server.fail_for_with("/batch", Duration::from_secs(600), Reply::never());
    let capacity = 1_000usize;
    let client = client_with(
        config_url(&server.base_url()).queue_capacity(capacity),
        |s| s,
    );
    let rounds = 2_000u32; // 2000 roots of 10 leaves: 24 000 records, 24x the queue
    let mut first = Duration::ZERO;
    let mut last = Duration::ZERO;
    client.run(|| {
        for i in 0..rounds {
            let t = Instant::now();
            root(10);
            let e = t.elapsed();
            if i < 100 {
                first += e;
            }
            if i >= rounds - 100 {
                last += e;
            }
        }
    });
    let stats = client.stats();
    assert_eq!(stats.produced, u64::from(rounds) * 12);
    assert!(stats.dropped(DropReason::QueueFull) > 0, "{stats}");
    // Memory bound: the queue plus the exporter's own lists, each at most `capacity` records.
    assert!(
        stats.pending() <= 2 * capacity as u64,
        "more records held than the bound: {stats}"
    );
    let t = Instant::now();
    let report = client.shutdown(Duration::from_millis(200));
    let took = t.elapsed();
    let stats = report.stats;
    assert_accounted(&stats, u64::from(rounds) * 12);
    assert_eq!(
        stats.produced,
        stats.delivered
            + stats.dropped(DropReason::QueueFull)
            + stats.dropped(DropReason::ShutdownDeadline)
            + stats.dropped(DropReason::Network),
        "{stats}"
    );
    println!(
        "FIGURES 5 per-call (root with 10 leaves, 12 records): first 100 calls avg {:.2?}, last 100 calls avg {:.2?} (queue full by then)",
        first / 100,
        last / 100
    );
    figures(
        "5",
        "server stalled (never answers), queue_capacity 1000, burst of 24 000 records",
        &server,
        &stats,
        took,
    );
}

/// Under overload a nested span is dropped before it is built; once the exporter takes records
/// again, spans are built and queued as before: the overload ends with the overload.
#[test]
fn c05b_after_an_overload_spans_are_queued_again() {
    let server = FakeOpik::start();
    let client = client_with(config_url(&server.base_url()).queue_capacity(10), |s| s);
    // 1 root + 100 leaves in a tight loop: far more than the queue holds before the exporter's
    // next look, so the producer meets a full queue and nested spans start being dropped early.
    client.run(|| root(100));
    let burst = client.flush(Duration::from_secs(5));
    assert!(burst.completed);
    assert!(
        burst.stats.dropped(DropReason::QueueFull) > 0,
        "the burst overloaded the queue: {}",
        burst.stats
    );
    let delivered_before = burst.stats.delivered;
    // The exporter has taken records since: a later trace is recorded whole.
    client.run(|| root(5));
    let after = client.flush(Duration::from_secs(5));
    assert!(after.completed);
    assert_accounted(&after.stats, 102 + 7);
    assert_eq!(
        after.stats.delivered - delivered_before,
        7,
        "the trace, its root span and 5 leaves: {}",
        after.stats
    );
    assert_eq!(
        after.stats.dropped(DropReason::QueueFull),
        burst.stats.dropped(DropReason::QueueFull),
        "nothing more was dropped"
    );
    server.assert_valid();
}

// ---- 6. 413 ---------------------------------------------------------------------------------

#[test]
fn c06a_413_on_a_big_batch_splits_it_and_everything_arrives() {
    let server = FakeOpik::start();
    server.script("/spans/batch", [Reply::status(413), Reply::status(413)]);
    let client = client_for(&server);
    client.run(|| {
        for _ in 0..10 {
            root(9);
        }
    });
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 110);
    assert_accounted(&report.stats, 10 * 11);
    assert_eq!(server.spans().len(), 100);
    server.assert_delivered_once(Entity::Span);
    let span_requests = server.request_count("/spans/batch");
    assert!(
        span_requests >= 4,
        "413, 413 on a half, then the rest: {span_requests}"
    );
    server.assert_valid();
    figures(
        "6a",
        "413 twice on /spans/batch (100 spans)",
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c06b_a_single_record_too_large_is_truncated_and_delivered() {
    let server = FakeOpik::start();
    server.script("/spans/batch", [Reply::status(413)]);
    server.script(
        "/traces/batch",
        [Reply::status(400).json(r#"{"errors":["Request payload size exceeds the limit"]}"#)],
    );
    let client = client_for(&server);
    let text = "x".repeat(300_000);
    client.run(|| big(text));
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(10));
    let took = t.elapsed();
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 2);
    assert_eq!(report.stats.truncated, 2);
    assert_accounted(&report.stats, 2);
    let spans = server.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0]["input"]["opik_truncated"], Value::Bool(true));
    assert!(spans[0]["input"]["reason"]
        .as_str()
        .is_some_and(|r| r.starts_with("<omitted_due_to_size_")));
    assert_eq!(
        server.traces()[0]["input"]["opik_truncated"],
        Value::Bool(true)
    );
    server.assert_valid();
    figures(
        "6b",
        "413 (spans) and 400 naming the size (traces) on a 300 KB record",
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c06c_a_record_above_max_record_bytes_is_truncated_before_sending() {
    let server = FakeOpik::start();
    let client = client_with(config_url(&server.base_url()), |b| {
        b.max_record_bytes(100_000)
    });
    client.run(|| big("y".repeat(200_000)));
    let report = client.flush(Duration::from_secs(10));
    assert_eq!(report.stats.delivered, 2);
    assert_eq!(report.stats.truncated, 2);
    assert_eq!(
        server.spans()[0]["input"]["opik_truncated"],
        Value::Bool(true)
    );
    assert_eq!(batch_requests(&server), 2, "no request was refused");
    assert_accounted(&report.stats, 2);
}

#[test]
fn c06e_repeated_413_on_tiny_requests_always_makes_progress() {
    // 413 on the pair, then on its first half alone: that span is truncated and sent.
    let server = FakeOpik::start();
    server.script("/spans/batch", (0..2).map(|_| Reply::status(413)));
    let client = client_for(&server);
    client.run(|| root(1));
    let report = client.flush(Duration::from_secs(5));
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 3);
    assert_eq!(report.stats.truncated, 1);
    assert_accounted(&report.stats, 3);
    assert_eq!(
        server.request_count("/spans/batch"),
        4,
        "pair, half, truncated half, other half"
    );
    server.assert_delivered_once(Entity::Span);
}

#[test]
fn c06f_a_record_refused_even_truncated_is_dropped_as_too_large() {
    let server = FakeOpik::start();
    server.script("/spans/batch", (0..3).map(|_| Reply::status(413)));
    let client = client_for(&server);
    client.run(|| root(1));
    let report = client.flush(Duration::from_secs(5));
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.dropped(DropReason::TooLarge), 1);
    assert_eq!(report.stats.delivered, 2);
    assert_accounted(&report.stats, 3);
}

#[test]
fn c06d_requests_respect_the_byte_cap_as_well_as_the_item_cap() {
    let server = FakeOpik::start();
    let cap = 64 * 1024;
    let client = client_with(config_url(&server.base_url()).batch_max_bytes(cap), |s| s);
    client.run(|| {
        for _ in 0..20 {
            big("z".repeat(10_000));
        }
    });
    let report = client.flush(Duration::from_secs(10));
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 40);
    let requests = server.requests_to("/spans/batch");
    assert!(
        requests.len() >= 4,
        "200 KB of spans need at least 4 requests of 64 KiB"
    );
    for r in &requests {
        assert!(
            r.body_bytes.len() <= cap,
            "a request of {} bytes",
            r.body_bytes.len()
        );
    }
    server.assert_delivered_once(Entity::Span);
}

#[test]
fn c00_records_go_out_on_the_flush_interval_without_a_flush() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(|| root(2));
    assert!(
        server.wait_until(Duration::from_secs(5), |s| s.spans().len() == 3),
        "the exporter sends partly filled batches every flush interval"
    );
    assert_eq!(
        server.request_count("/batch"),
        2,
        "one request per endpoint"
    );
    let report = client.flush(Duration::from_secs(5));
    assert_eq!(report.stats.delivered, 4);
    assert_accounted(&report.stats, 4);
}

// ---- 7. 400 ---------------------------------------------------------------------------------

#[test]
fn c07_a_400_drops_that_batch_only_and_later_batches_go_through() {
    captured_logs();
    let server = FakeOpik::start();
    server.script(
        "/spans/batch",
        [Reply::status(400).json(r#"{"errors":["name must not be blank"]}"#)],
    );
    let client = client_for(&server);
    let t = Instant::now();
    for _ in 0..3 {
        client.run(|| root(2));
        assert!(client.flush(Duration::from_secs(5)).completed);
    }
    let took = t.elapsed();
    let stats = client.stats();
    assert_eq!(stats.dropped(DropReason::Http4xx), 3, "{stats}");
    assert_eq!(stats.delivered, 12 - 3);
    assert_accounted(&stats, 3 * 4);
    assert_eq!(server.spans().len(), 6);
    assert_eq!(server.request_count("/spans/batch"), 3, "no retry of a 400");
    assert!(
        log_text().contains("name must not be blank"),
        "the status and the server's message are logged"
    );
    figures("7", "400 on the first /spans/batch", &server, &stats, took);
}

// ---- 8. 401 ---------------------------------------------------------------------------------

#[test]
fn c08_a_401_logs_once_counts_and_does_not_retry() {
    captured_logs();
    let server = FakeOpik::start();
    server.fail_for_with(
        "/batch",
        Duration::from_secs(600),
        Reply::status(401).json(r#"{"code":401,"message":"User not allowed to access workspace"}"#),
    );
    let client = client_for(&server);
    let t = Instant::now();
    for _ in 0..5 {
        client.run(|| root(2));
        assert!(client.flush(Duration::from_secs(5)).completed);
    }
    let took = t.elapsed();
    let stats = client.stats();
    assert_eq!(stats.dropped(DropReason::Http4xx), 20);
    assert_eq!(stats.delivered, 0);
    assert_accounted(&stats, 5 * 4);
    assert_eq!(
        batch_requests(&server),
        10,
        "one request per batch (traces + spans, 5 flushes), no retries"
    );
    let logs = log_text();
    let lines = logs
        .lines()
        .filter(|l| l.contains("refused the API key or workspace") && l.contains("WARN"))
        .count();
    assert_eq!(lines, 1, "one clear warning, not one per batch:\n{logs}");
    assert!(logs.contains("User not allowed to access workspace"));
    figures("8", "401 on every batch request", &server, &stats, took);
}

// ---- 9. in-progress visibility -------------------------------------------------------------

#[tokio::test]
async fn c09_a_long_span_is_sent_early_and_completed_by_a_newer_upsert() {
    let server = FakeOpik::start();
    let client = client_with(
        config_url(&server.base_url()).long_span_threshold(Some(Duration::from_millis(300))),
        |s| s,
    );
    let t = Instant::now();
    let out = client.scope(long_root()).await;
    assert_eq!(out, 1_000);
    let report = client.flush_async(Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(report.completed);
    assert_eq!(
        report.stats.produced, 4,
        "previews are not records of their own"
    );
    assert_eq!(report.stats.delivered, 4);
    assert_accounted(&report.stats, 4);
    assert_eq!(
        report.stats.in_progress_sent, 3,
        "root span, trace and long child"
    );

    let spans = server.deliveries(Entity::Span);
    let spans_by_name = |name: &str| -> Vec<Value> {
        spans
            .values()
            .find(|v| v[0]["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    for name in ["long_child", "long_root"] {
        let records = spans_by_name(name);
        assert_eq!(
            records.len(),
            2,
            "{name}: start record then final: {records:#?}"
        );
        assert!(
            records[0].get("end_time").is_none(),
            "{name}: the start record has no end"
        );
        assert!(records[1].get("end_time").is_some());
        let first = records[0]["last_updated_at"].as_str().unwrap_or_default();
        let last = records[1]["last_updated_at"].as_str().unwrap_or_default();
        assert!(
            last > first,
            "{name}: the final upsert is newer ({first} vs {last})"
        );
        assert_eq!(records[0]["start_time"], records[1]["start_time"]);
    }
    assert_eq!(
        spans_by_name("quick_child").len(),
        1,
        "short spans are sent once"
    );
    let traces = server.deliveries(Entity::Trace);
    let trace = traces.values().next().expect("a trace");
    assert_eq!(trace.len(), 2);
    assert!(trace[0].get("end_time").is_none() && trace[1].get("end_time").is_some());
    assert!(
        server.requests().iter().all(|r| r.method != "PATCH"),
        "never a PATCH"
    );
    server.assert_delivered_once_or_start_end(Entity::Span);
    server.assert_valid();
    figures(
        "9",
        "1.2 s trace with a 1 s child, threshold 300 ms",
        &server,
        &report.stats,
        took,
    );
}

#[test]
fn c09b_sync_spans_watched_for_long_runs_are_roots_and_typed_spans() {
    let server = FakeOpik::start();
    let client = client_with(
        config_url(&server.base_url()).long_span_threshold(Some(Duration::from_millis(200))),
        |s| s,
    );
    let t = Instant::now();
    assert_eq!(client.run(slow_sync_root), 1_000);
    let report = client.flush(Duration::from_secs(5));
    let took = t.elapsed();
    assert!(report.completed);
    assert_eq!(report.stats.produced, 4);
    assert_accounted(&report.stats, 4);
    let spans = server.deliveries(Entity::Span);
    let sent = |name: &str| -> usize {
        spans
            .values()
            .find(|v| v[0]["name"] == name)
            .map_or(0, Vec::len)
    };
    assert_eq!(
        sent("slow_sync_root"),
        2,
        "a root: start record, then final"
    );
    assert_eq!(
        sent("slow_sync_llm"),
        2,
        "an llm span: start record, then final"
    );
    assert_eq!(
        sent("slow_sync_helper"),
        1,
        "a nested general sync span is not watched: final record only"
    );
    assert_eq!(
        report.stats.in_progress_sent, 3,
        "root span, trace and the llm span"
    );
    server.assert_delivered_once_or_start_end(Entity::Span);
    server.assert_valid();
    figures(
        "9b",
        "sync root 1 s with a 500 ms helper and a 500 ms llm span, threshold 200 ms",
        &server,
        &report.stats,
        took,
    );
}

// ---- 10. runtimes ---------------------------------------------------------------------------

fn under_runtime(label: &str, rt: Option<tokio::runtime::Runtime>) {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let t = Instant::now();
    let (blocking, non_blocking, shutdown) = match rt {
        Some(rt) => rt.block_on(async {
            client.scope(async_root(2)).await;
            // The blocking flush inside the runtime: the exporter has its own thread.
            let blocking = client.flush(Duration::from_secs(5));
            client.scope(async_root(2)).await;
            let non_blocking = client.flush_async(Duration::from_secs(5)).await;
            client.scope(async_root(2)).await;
            let shutdown = client.shutdown(Duration::from_secs(5));
            (blocking, non_blocking, shutdown)
        }),
        None => {
            client.run(|| root(2));
            let blocking = client.flush(Duration::from_secs(5));
            client.run(|| root(2));
            let non_blocking = blocking;
            client.run(|| root(2));
            let shutdown = client.shutdown(Duration::from_secs(5));
            (blocking, non_blocking, shutdown)
        }
    };
    let took = t.elapsed();
    assert!(
        blocking.completed && non_blocking.completed && shutdown.completed,
        "{label}"
    );
    assert_eq!(shutdown.stats.delivered, 12, "{label}: {}", shutdown.stats);
    assert_accounted(&shutdown.stats, 12);
    server.assert_delivered_once(Entity::Span);
    figures(
        &format!("10 {label}"),
        "none (flush, flush_async, shutdown)",
        &server,
        &shutdown.stats,
        took,
    );
}

#[test]
fn c10_flush_and_shutdown_under_every_runtime_and_none() {
    use tokio::runtime::Builder;
    under_runtime(
        "current-thread",
        Some(Builder::new_current_thread().enable_all().build().unwrap()),
    );
    under_runtime(
        "multi-thread(1)",
        Some(
            Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        ),
    );
    under_runtime(
        "multi-thread(4)",
        Some(
            Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .unwrap(),
        ),
    );
    under_runtime("no runtime", None);
}

#[test]
fn c10b_global_flush_inside_a_current_thread_runtime_without_time_driver() {
    // A runtime without the time driver: the SDK must not need the app's timers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let server = FakeOpik::start();
    let client = client_for(&server);
    let report = rt.block_on(async {
        client.scope(async_root(1)).await;
        client.flush_async(Duration::from_secs(5)).await
    });
    assert!(report.completed);
    assert_eq!(report.stats.delivered, 3);
}

// ---- 11. the key never leaks ---------------------------------------------------------------

#[test]
fn c11_the_api_key_is_in_no_log_error_or_debug_output() {
    captured_logs();
    // Failures that log: refused, 5xx exhausted, 401, never answering, connection refused.
    let server = FakeOpik::start();
    server.script("/traces/batch", [Reply::status(401).body("bad key")]);
    server.script(
        "/spans/batch",
        [Reply::status(500), Reply::close(), Reply::never()],
    );
    let client = client_with(config_url(&server.base_url()), |b| b.max_retries(3));
    client.run(|| root(2));
    let report = client.flush(Duration::from_secs(5));
    let refused = client_with(config_url("http://127.0.0.1:9/api"), |b| b.max_retries(1));
    refused.run(|| root(1));
    let refused_report = refused.flush(Duration::from_secs(5));

    let mut outputs = vec![
        log_text(),
        format!("{client:?}"),
        format!("{report:?}"),
        format!("{refused_report:?}"),
        format!("{:?}", config_url(&server.base_url())),
        format!("{:?}", config_url(&server.base_url()).resolve()),
        format!(
            "{}",
            config_url(&server.base_url())
                .resolve()
                .unwrap()
                .into_config()
                .unwrap()
        ),
    ];
    // Plain http to a non-loopback host with a key is refused, naming neither the key.
    let err = config_url("http://opik.example.com/api")
        .resolve()
        .expect_err("a key over plain http to a remote host is an error");
    outputs.push(format!("{err}"));
    outputs.push(format!("{err:?}"));
    let init_err = opik::init_with(config_url("http://opik.example.com/api"))
        .expect_err("init refuses it too");
    outputs.push(format!("{init_err} {init_err:?}"));
    for out in &outputs {
        assert!(!out.contains(TEST_KEY), "the key leaked into: {out}");
    }
    println!(
        "FIGURES 11 | fault: 401, 500, close, never, connection refused, http to a remote host | \
         {} outputs ({} bytes of captured logs, every level and target) searched: no key",
        outputs.len(),
        outputs[0].len()
    );
    assert!(
        log_text().contains("refused the API key"),
        "the failures were logged"
    );
    // The key did go where it belongs.
    assert!(server
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some(TEST_KEY)));
}
