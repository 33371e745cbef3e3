//! Issue "hostile network": what a broken, misconfigured or hostile path between the app and
//! Opik does to the exporter. Each test stands up what it needs on loopback: the fake Opik, or
//! a raw TCP server for what a well-behaved server never does (a 500 with a 3 GiB body, a
//! proxy), and checks what arrived where, the counters (produced == delivered + dropped, against
//! the test's own count) and, where it is the point, memory and log lines.
//!
//! Tests that need a process of their own (memory measured, the process environment, every log
//! line counted) re-run this binary with an environment variable that selects an `#[ignore]`d
//! child test, as `tests/delivery.rs` does for c04b.
//!
//! Every test prints a `FIGURES` line (run with `--nocapture` to see them).

mod common;

use common::{
    captured_logs, child_figure, child_line, log_text, run_child, TEST_KEY, TEST_PROJECT,
    TEST_WORKSPACE,
};
use fake_opik::{FakeOpik, Reply};
use opik::config::ConfigBuilder;
use opik::export::{Client, DropReason, Stats};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

// ---- helpers --------------------------------------------------------------------------------

/// Settings for `url` with exactly the environment `env` (no process environment, no file),
/// short backoffs and timeouts.
fn builder_env(url: &str, env: &[(&str, &str)]) -> ConfigBuilder {
    ConfigBuilder::with_env_map(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
    .url(url)
    .workspace(TEST_WORKSPACE)
    .project_name(TEST_PROJECT)
    .flush_interval(Duration::from_millis(50))
    .request_timeout(Duration::from_secs(5))
    .connect_timeout(Duration::from_secs(2))
    .backoff_base(Duration::from_millis(20))
    .backoff_max(Duration::from_millis(200))
    .max_retries(50)
    .retry_deadline(Duration::from_secs(20))
}

/// [`builder_env`] with the test key and no environment.
fn builder(url: &str) -> ConfigBuilder {
    builder_env(url, &[]).api_key(TEST_KEY)
}

fn client(builder: ConfigBuilder) -> Client {
    let config = builder
        .resolve()
        .expect("valid test config")
        .into_config()
        .expect("test config is enabled");
    Client::new(&config).expect("client starts")
}

/// The test made `expected` records (its own count), and each is delivered or dropped for a
/// counted reason, with nothing pending.
fn assert_accounted(stats: &Stats, expected: u64) {
    assert_eq!(
        stats.produced, expected,
        "the SDK counted {} records produced where the test made {expected}: {stats}",
        stats.produced
    );
    assert_eq!(stats.pending(), 0, "nothing may be pending: {stats}");
    assert_eq!(
        stats.produced,
        stats.delivered + stats.dropped_total(),
        "every record is delivered or dropped for a counted reason: {stats}"
    );
}

fn dropped(stats: &Stats) -> String {
    stats
        .dropped_by_reason()
        .map(|(r, n)| format!("{r}={n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A raw HTTP/1.1 server on loopback: reads each request's head and body (recording every byte
/// it receives), hands the connection to `answer`, then closes it. For what the fake Opik
/// cannot be: a server streaming gigabytes, a proxy.
struct Raw {
    addr: SocketAddr,
    shared: Arc<RawShared>,
}

#[derive(Default)]
struct RawShared {
    received: Mutex<Vec<u8>>,
    connections: AtomicUsize,
    /// Body bytes the answers wrote (as `answer` counts them).
    sent: AtomicU64,
}

impl Raw {
    fn start(
        answer: impl Fn(&mut TcpStream, &str, &[u8], &AtomicU64) + Send + Sync + 'static,
    ) -> Raw {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(RawShared::default());
        let answer = Arc::new(answer);
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(&accepting);
                let answer = Arc::clone(&answer);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
                    if let Some((head, body)) = read_request(&mut stream, &shared.received) {
                        answer(&mut stream, &head, &body, &shared.sent);
                    }
                });
            }
        });
        Raw { addr, shared }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.shared.received.lock().unwrap()).into_owned()
    }

    fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }
}

/// Reads one request's head and its `content-length` body.
fn read_request(stream: &mut TcpStream, record: &Mutex<Vec<u8>>) -> Option<(String, Vec<u8>)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
        record.lock().unwrap().extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = data[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        record.lock().unwrap().extend_from_slice(&buf[..n]);
        body.extend_from_slice(&buf[..n]);
    }
    Some((head, body))
}

const MIB: u64 = 1024 * 1024;

// ---- 8. a 500 with a body of gigabytes ------------------------------------------------------

/// A server answering every request with a 500 whose chunked body is `total` bytes, generated
/// as it goes (never stored) until the client hangs up.
fn huge_500(total: u64) -> Raw {
    Raw::start(move |stream, _head, _body, sent| {
        let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n\
                    transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'e'; 64 * 1024];
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            let frame = stream
                .write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| stream.write_all(&chunk[..n]))
                .and_then(|()| stream.write_all(b"\r\n"));
            if frame.is_err() {
                return; // the client hung up
            }
            sent.fetch_add(n as u64, Ordering::SeqCst);
            left -= n as u64;
        }
        let _ = stream.write_all(b"0\r\n\r\n");
    })
}

/// Run by h08 in a process of its own, so that its peak memory is the SDK's.
#[test]
#[ignore = "run by h08 as a child process"]
fn h08_child_huge_error_body() {
    let Ok(url) = std::env::var("OPIK_HOSTILE_URL") else {
        return;
    };
    let baseline = common::proc_status_kib("VmHWM");
    let client = client(builder(&url).max_retries(1));
    client.run(|| root(2));
    let t = Instant::now();
    let report = client.flush(Duration::from_secs(120));
    let took = t.elapsed();
    let peak = common::proc_status_kib("VmHWM");
    let show = |v: Option<u64>| v.map_or("n/a".to_owned(), |v| v.to_string());
    println!(
        "CHILD baseline_kib={} peak_kib={} took_ms={} stats: {}",
        show(baseline),
        show(peak),
        took.as_millis(),
        report.stats
    );
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.dropped(DropReason::Http5xxExhausted), 4);
    assert_accounted(&report.stats, 4);
}

#[test]
fn h08_a_500_with_a_3_gib_body_costs_no_memory_and_is_counted() {
    // OPIK_HOSTILE_BODY_MIB shrinks the body (to see the old behaviour without 6 GB of RSS).
    let body_mib: u64 = std::env::var("OPIK_HOSTILE_BODY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3 * 1024);
    let server = huge_500(body_mib * MIB);
    let t = Instant::now();
    let out = run_child(
        "h08_child_huge_error_body",
        &[("OPIK_HOSTILE_URL", format!("{}/api", server.url()))],
        &[],
    );
    let took = t.elapsed();
    let answers = server.connections() as u64;
    // What the server wrote before the SDK hung up: the SDK's 64 KiB per answer plus what the
    // kernel's socket buffers took.
    let sent = server.sent();
    let growth_kib = match (
        child_figure(&out, "baseline_kib"),
        child_figure(&out, "peak_kib"),
    ) {
        (Some(base), Some(peak)) => Some(peak.saturating_sub(base)),
        _ => None,
    };
    println!(
        "FIGURES h08 | fault: 500 with a {body_mib} MiB chunked body, {answers} answers | server \
         wrote {:.1} MiB in all before the SDK hung up | child peak RSS growth {} | {} | child \
         process done in {took:.2?}",
        sent as f64 / MIB as f64,
        growth_kib.map_or("n/a (no /proc)".to_owned(), |g| format!(
            "{:.1} MiB",
            g as f64 / 1024.0
        )),
        child_line(&out),
    );
    assert_eq!(answers, 4, "2 batches, 1 attempt + 1 retry each: {out}");
    assert!(server
        .received()
        .contains("POST /api/v1/private/spans/batch HTTP/1.1"));
    assert!(
        sent < answers * 32 * MIB,
        "the SDK read {} MiB of error bodies",
        sent / MIB
    );
    if let Some(growth) = growth_kib {
        assert!(
            growth < 32 * 1024,
            "the child's peak memory grew by {growth} KiB with {body_mib} MiB error bodies"
        );
    }
    assert!(took < Duration::from_secs(20), "{took:?}");
}

// ---- 9. one log line per outage ------------------------------------------------------------

/// The log lines of this process that contain `needle`.
fn lines_with(logs: &str, needle: &str) -> Vec<String> {
    logs.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Run by h09 in a process of its own, so that every log line is this client's.
#[test]
#[ignore = "run by h09 as a child process"]
fn h09_child_failures_alternating_with_successes() {
    if std::env::var("OPIK_HOSTILE_CHILD").as_deref() != Ok("h09") {
        return;
    }
    captured_logs();
    let server = FakeOpik::start();
    let quiet = Duration::from_secs(1);
    let client = client(builder(&server.base_url()).outage_quiet_period(quiet));
    // Every wave, one span request fails (a mix of causes) and its retry, or the next batch,
    // succeeds: for 3 s.
    let causes = [
        Reply::close(),
        Reply::status(503),
        Reply::status(500),
        Reply::status(429).header("Retry-After", "0.05"),
        Reply::status(400).json(r#"{"errors":["flapping"]}"#),
        Reply::status(502),
    ];
    let t = Instant::now();
    let (mut waves, mut refused) = (0u64, 0u64);
    while t.elapsed() < Duration::from_secs(3) {
        let i = waves as usize % causes.len();
        server.script("/spans/batch", [causes[i].clone()]);
        if i == 4 {
            refused += 3; // the wave's three spans, dropped by the 400
        }
        client.run(|| root(2));
        assert!(client.flush(Duration::from_secs(10)).completed);
        waves += 1;
    }
    let failing_for = t.elapsed();
    // The end line comes once the quiet period passed (the exporter looks once a second).
    let ended = Instant::now();
    while log_text().matches("the outage is over").count() == 0
        && ended.elapsed() < quiet + Duration::from_secs(3)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let end_after = ended.elapsed();
    let report = client.shutdown(Duration::from_secs(5));
    let logs = log_text();
    let warns = lines_with(&logs, " WARN ");
    let ends = lines_with(&logs, "the outage is over");
    let debug_failures = lines_with(&logs, " DEBUG ")
        .iter()
        .filter(|l| l.contains("opik: sending spans failed") || l.contains("refused a batch"))
        .count();
    println!(
        "CHILD waves={waves} failing_ms={} warn_lines={} end_lines={} debug_failure_lines={} \
         end_after_ms={} stats: {}",
        failing_for.as_millis(),
        warns.len(),
        ends.len(),
        debug_failures,
        end_after.as_millis(),
        report.stats
    );
    for l in warns.iter().chain(&ends) {
        println!(
            "LINE {}",
            l.split_once("opik: ").map_or(l.as_str(), |(_, m)| m)
        );
    }
    assert!(report.completed, "{report:?}");
    assert_accounted(&report.stats, waves * 4);
    assert_eq!(report.stats.dropped(DropReason::Http4xx), refused);
    assert_eq!(warns.len(), 1, "one warning for the outage:\n{logs}");
    assert!(
        warns[0].contains("sending spans failed"),
        "it names the first cause: {}",
        warns[0]
    );
    assert_eq!(ends.len(), 1, "one line when it ends:\n{logs}");
    assert!(ends[0].contains(" INFO "), "{}", ends[0]);
    assert!(
        ends[0].contains(&format!("{waves} attempts failed")),
        "{waves} waves: {}",
        ends[0]
    );
    assert!(
        ends[0].contains(&format!(
            "dropped meanwhile: {refused} (http_4xx: {refused})"
        )),
        "{}",
        ends[0]
    );
    assert_eq!(
        debug_failures as u64,
        waves - 1,
        "the other failures, at debug level"
    );
}

#[test]
fn h09_failures_alternating_with_successes_log_one_start_and_one_end_line() {
    let out = run_child(
        "h09_child_failures_alternating_with_successes",
        &[("OPIK_HOSTILE_CHILD", "h09".to_owned())],
        &[],
    );
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("LINE "))
        .collect();
    println!(
        "FIGURES h09 | fault: a span request failing every wave for 3 s (close, 503, 500, 429, \
         400, 502 in turn), each followed by successes, quiet period 1 s | {} | lines: {}",
        child_line(&out),
        lines.join(" // ")
    );
}

#[test]
fn h09b_a_full_queue_is_warned_about_at_most_once_a_minute_with_the_count() {
    captured_logs();
    let server = FakeOpik::start();
    server.fail_for_with("/batch", Duration::from_secs(600), Reply::never());
    let client = client(
        builder(&server.base_url())
            .queue_capacity(100)
            .shutdown_timeout(Duration::from_millis(300)),
    );
    let burst = || {
        client.run(|| {
            for _ in 0..1000 {
                root(1);
            }
        })
    };
    burst();
    let dropped_first = client.stats().dropped(DropReason::QueueFull);
    assert!(dropped_first > 0);
    let t = Instant::now();
    while lines_with(&log_text(), "the queue is full").is_empty()
        && t.elapsed() < Duration::from_secs(3)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let noticed = t.elapsed();
    let lines = lines_with(&log_text(), "the queue is full");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" WARN "), "{}", lines[0]);
    let told: u64 = lines[0]
        .split("the queue is full: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the line has the count");
    assert!(
        told > 0 && told <= dropped_first,
        "{told} of {dropped_first}"
    );
    // More drops within the minute: no second line.
    burst();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(lines_with(&log_text(), "the queue is full").len(), 1);
    let report = client.shutdown(Duration::from_millis(300));
    assert_accounted(&report.stats, 2 * 1000 * 3);
    println!(
        "FIGURES h09b | fault: 6000 records against a queue of 100 and a server that never \
         answers | 1 warning after {noticed:.2?} telling {told} drops; no second within the \
         minute though {} more were dropped | dropped: [{}] | line: {}",
        report.stats.dropped(DropReason::QueueFull) - told,
        dropped(&report.stats),
        lines[0].split_once("opik: ").map_or("", |(_, m)| m)
    );
}

// ---- 10. proxies ----------------------------------------------------------------------------

/// A proxy that refuses every tunnel (`CONNECT`) and answers a forwarded plain-http request
/// with 204, recording what it was sent.
fn fake_proxy() -> Raw {
    Raw::start(|stream, head, _, _| {
        let answer: &[u8] = if head.starts_with("CONNECT ") {
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        } else {
            b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
        };
        let _ = stream.write_all(answer);
    })
}

const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Run by h10a with every proxy variable of its process environment pointing at a listener;
/// the client reads them from there (through `with_env`, as `ConfigBuilder::new` would).
#[test]
#[ignore = "run by h10a as a child process"]
fn h10_child_loopback_url_with_proxies_in_the_process_environment() {
    let Ok(url) = std::env::var("OPIK_HOSTILE_URL") else {
        return;
    };
    let b = ConfigBuilder::with_env(|name| {
        name.to_ascii_lowercase()
            .ends_with("_proxy")
            .then(|| std::env::var(name).ok())
            .flatten()
    });
    let client = client(
        b.url(url)
            .api_key(TEST_KEY)
            .workspace(TEST_WORKSPACE)
            .project_name(TEST_PROJECT)
            .max_retries(1)
            .backoff_base(Duration::from_millis(20))
            .request_timeout(Duration::from_secs(3)),
    );
    client.run(|| {
        for _ in 0..5 {
            root(2);
        }
    });
    let report = client.flush(Duration::from_secs(10));
    println!("CHILD stats: {}", report.stats);
    assert!(report.completed, "{report:?}");
    assert_accounted(&report.stats, 5 * 4);
    assert_eq!(report.stats.delivered, 20, "{}", report.stats);
}

#[test]
fn h10a_a_loopback_url_never_goes_through_a_proxy() {
    let server = FakeOpik::start();
    let proxy = fake_proxy();
    let env: Vec<(&str, String)> = PROXY_VARS.iter().map(|v| (*v, proxy.url())).collect();
    let out = run_child(
        "h10_child_loopback_url_with_proxies_in_the_process_environment",
        &[env, vec![("OPIK_HOSTILE_URL", server.base_url())]].concat(),
        &["NO_PROXY", "no_proxy", "REQUEST_METHOD"],
    );
    assert_eq!(
        proxy.connections(),
        0,
        "the proxy was contacted: {}",
        proxy.received()
    );
    assert_eq!(server.traces().len(), 5);
    assert_eq!(server.spans().len(), 15);
    assert!(server
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some(TEST_KEY)));
    server.assert_valid();
    let line = child_line(&out);
    println!(
        "FIGURES h10a | fault: HTTP(S)_PROXY and ALL_PROXY (both cases) set, URL {} | proxy \
         connections: 0 | fake Opik got {} requests | {line}",
        server.base_url(),
        server.request_count("/batch")
    );
}

#[test]
fn h10b_https_goes_through_the_proxy_inside_a_connect_tunnel() {
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        let proxy = fake_proxy();
        let url = proxy.url();
        let client = client(
            builder_env("https://opik.invalid/api", &[(var, url.as_str())])
                .api_key(TEST_KEY)
                .max_retries(1),
        );
        client.run(|| root(2));
        let t = Instant::now();
        let report = client.flush(Duration::from_secs(10));
        let took = t.elapsed();
        assert!(report.completed, "{var}: {report:?}");
        assert_eq!(report.stats.dropped(DropReason::Network), 4, "{var}");
        assert_accounted(&report.stats, 4);
        let seen = proxy.received();
        assert!(
            seen.starts_with("CONNECT opik.invalid:443 HTTP/1.1\r\n"),
            "{var}: the proxy saw {seen:?}"
        );
        assert_eq!(proxy.connections(), 4, "{var}: one tunnel per attempt");
        assert!(
            !seen.to_ascii_lowercase().contains("authorization") && !seen.contains(TEST_KEY),
            "{var}: the key reached the proxy: {seen:?}"
        );
        println!(
            "FIGURES h10b | fault: {var} at a proxy refusing tunnels, URL https://opik.invalid | \
             proxy saw {} CONNECTs, no authorization | dropped: [{}] | returned in {took:.2?}",
            proxy.connections(),
            dropped(&report.stats)
        );
    }
}

#[test]
fn h10c_no_proxy_matching_the_host_means_direct() {
    for (var, list) in [
        ("NO_PROXY", "opik.invalid"),
        ("no_proxy", "example.com, .invalid"),
        ("NO_PROXY", "*"),
    ] {
        let proxy = fake_proxy();
        let url = proxy.url();
        let client = client(
            builder_env(
                "https://opik.invalid/api",
                &[("HTTPS_PROXY", url.as_str()), (var, list)],
            )
            .api_key(TEST_KEY)
            .max_retries(1)
            .request_timeout(Duration::from_secs(2)),
        );
        client.run(|| root(2));
        // Four attempts, each bounded by the request timeout even where resolving a name that
        // does not exist is slow.
        let report = client.flush(Duration::from_secs(20));
        assert!(report.completed, "{var}={list}: {report:?}");
        // Direct: the name does not resolve, so each attempt fails without the proxy.
        assert_eq!(report.stats.dropped(DropReason::Network), 4);
        assert_accounted(&report.stats, 4);
        assert_eq!(proxy.connections(), 0, "{var}={list}: {}", proxy.received());
        println!(
            "FIGURES h10c | fault: HTTPS_PROXY with {var}={list:?} | proxy connections: 0 | \
             dropped: [{}]",
            dropped(&report.stats)
        );
    }
}

#[test]
fn h10d_plain_http_uses_the_proxy_only_without_a_key() {
    // No key: the proxy forwards the request (absolute-form request line) and answers.
    let proxy = fake_proxy();
    let url = proxy.url();
    let open = client(builder_env(
        "http://opik.invalid/api",
        &[("http_proxy", url.as_str())],
    ));
    open.run(|| root(2));
    let report = open.flush(Duration::from_secs(10));
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 4, "{}", report.stats);
    assert_accounted(&report.stats, 4);
    let seen = proxy.received();
    assert!(
        seen.contains("POST http://opik.invalid/api/v1/private/traces/batch HTTP/1.1"),
        "{seen:?}"
    );
    assert!(!seen.to_ascii_lowercase().contains("authorization"));

    // With a key (allowed over plain http to this host): never through the proxy.
    let keyed = fake_proxy();
    let url = keyed.url();
    let client = client(
        builder_env(
            "http://opik.invalid/api",
            &[("HTTP_PROXY", url.as_str()), ("ALL_PROXY", url.as_str())],
        )
        .api_key(TEST_KEY)
        .allow_http_api_key(true)
        .max_retries(1)
        .request_timeout(Duration::from_secs(2)),
    );
    client.run(|| root(2));
    let keyed_report = client.flush(Duration::from_secs(20));
    assert!(keyed_report.completed);
    assert_eq!(keyed_report.stats.dropped(DropReason::Network), 4);
    assert_accounted(&keyed_report.stats, 4);
    assert_eq!(keyed.connections(), 0, "{}", keyed.received());
    println!(
        "FIGURES h10d | fault: http_proxy for http://opik.invalid | without a key: {} requests \
         through the proxy, delivered {} | with a key: proxy connections 0, dropped: [{}]",
        proxy.connections(),
        report.stats.delivered,
        dropped(&keyed_report.stats)
    );
}

// ---- 11. redirects --------------------------------------------------------------------------

#[test]
fn h11_redirects_are_not_followed_and_count_as_redirect() {
    captured_logs();
    for status in [301, 302, 303, 307, 308] {
        let target = FakeOpik::start();
        let server = FakeOpik::start();
        let location = format!("{}/v1/private/spans/batch", target.base_url());
        server.fail_for_with(
            "/batch",
            Duration::from_secs(600),
            Reply::status(status).header("Location", &location),
        );
        let client = client(builder(&server.base_url()));
        client.run(|| root(2));
        let t = Instant::now();
        let report = client.flush(Duration::from_secs(5));
        let took = t.elapsed();
        assert!(report.completed, "{status}: {report:?}");
        assert_eq!(
            report.stats.dropped(DropReason::Redirect),
            4,
            "{status}: {}",
            report.stats
        );
        assert_eq!(report.stats.delivered, 0);
        assert_accounted(&report.stats, 4);
        assert!(
            target.requests().is_empty(),
            "{status}: the redirect was followed: {:?}",
            target.requests()
        );
        assert_eq!(
            server.request_count("/batch"),
            2,
            "{status}: one request per batch, no retry"
        );
        let logs = log_text();
        let line = logs
            .lines()
            .find(|l| l.contains(&location) && l.contains("WARN"))
            .unwrap_or_else(|| panic!("{status}: no warning names {location}:\n{logs}"));
        assert!(line.contains(&format!("HTTP {status}")), "{line}");
        println!(
            "FIGURES h11 | fault: {status} to a second server | second server got {} requests | \
             dropped: [{}] | returned in {took:.2?} | log: {}",
            target.requests().len(),
            dropped(&report.stats),
            line.split_once("opik: ").map_or(line, |(_, l)| l)
        );
    }
}

// ---- 12. a burst of 413s --------------------------------------------------------------------

/// How many items a gzip-compressed batch body carries.
fn items_in(body: &[u8]) -> usize {
    let mut json = Vec::new();
    if flate2::read::GzDecoder::new(body)
        .read_to_end(&mut json)
        .is_err()
    {
        return 0;
    }
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
    ["spans", "traces"]
        .iter()
        .find_map(|k| value.get(*k)?.as_array().map(Vec::len))
        .unwrap_or(0)
}

#[test]
fn h12_a_burst_of_413s_on_small_requests_does_not_cap_later_requests_for_good() {
    const REFUSALS: usize = 30;
    // Span requests of two or more records are refused with a 413 until 30 have been; then
    // every request is accepted. (A scripted 413 on a single record would truncate it instead.)
    let spans: Arc<Mutex<Vec<(usize, u16)>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let (log, count) = (Arc::clone(&spans), Arc::clone(&refused));
    let server = Raw::start(move |stream, head, body, _| {
        let path = head.split_whitespace().nth(1).unwrap_or_default();
        let items = items_in(body);
        let refuse = path.ends_with("/spans/batch")
            && items >= 2
            && count
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < REFUSALS).then_some(n + 1)
                })
                .is_ok();
        if path.ends_with("/spans/batch") {
            log.lock()
                .unwrap()
                .push((items, if refuse { 413 } else { 204 }));
        }
        let answer: &[u8] = if refuse {
            b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        } else {
            b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"
        };
        let _ = stream.write_all(answer);
    });
    let client = client(builder(&format!("{}/api", server.url())));
    let t = Instant::now();
    let mut made = 0u64;
    // The burst: waves of 10 traces and 50 spans until the server has refused 30 requests.
    for _ in 0..40 {
        if refused.load(Ordering::SeqCst) >= REFUSALS {
            break;
        }
        client.run(|| {
            for _ in 0..10 {
                root(4);
            }
        });
        made += 10 * 6;
        assert!(client.flush(Duration::from_secs(20)).completed);
    }
    let burst_requests = spans.lock().unwrap().len();
    // Then normal answers: 1000 spans.
    client.run(|| {
        for _ in 0..200 {
            root(4);
        }
    });
    made += 200 * 6;
    let report = client.flush(Duration::from_secs(30));
    let took = t.elapsed();
    let after: Vec<usize> = spans.lock().unwrap()[burst_requests..]
        .iter()
        .map(|(items, _)| *items)
        .collect();
    let largest = after.iter().copied().max().unwrap_or(0);
    let last = after.last().copied().unwrap_or(0);
    println!(
        "FIGURES h12 | fault: 413 on the first {} span requests of 2+ records ({burst_requests} span \
         requests in the burst) | then 1000 spans in {} requests, largest {largest}, last {last} \
         records | delivered {} of {made}, truncated {}, dropped: [{}] | {took:.2?}",
        refused.load(Ordering::SeqCst),
        after.len(),
        report.stats.delivered,
        report.stats.truncated,
        dropped(&report.stats)
    );
    assert!(report.completed, "{report:?}");
    assert_eq!(
        refused.load(Ordering::SeqCst),
        REFUSALS,
        "the burst happened"
    );
    assert_eq!(report.stats.dropped_total(), 0, "{}", report.stats);
    assert_eq!(report.stats.truncated, 0, "{}", report.stats);
    assert_eq!(report.stats.delivered, made);
    assert_accounted(&report.stats, made);
    assert_eq!(after.iter().sum::<usize>(), 1000);
    assert!(
        after.len() <= 40,
        "1000 spans took {} requests after the burst: {after:?}",
        after.len()
    );
    assert!(largest >= 200, "{after:?}");
}
