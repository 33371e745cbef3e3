//! Shared by the integration tests: a client wired to a fake Opik server, isolated from the
//! process environment and from other tests (each test runs its code under its own client).
#![allow(dead_code)] // each test binary uses a different part

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use opik::export::Client;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

pub const TEST_KEY: &str = "test-key-5d41402abc4b2a76";
pub const TEST_WORKSPACE: &str = "rs-tests";
pub const TEST_PROJECT: &str = "opik-rs-tests";

/// Settings for `server`, with no process environment and no config file.
pub fn config_for(server: &FakeOpik) -> ConfigBuilder {
    ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(server.base_url())
        .api_key(TEST_KEY)
        .workspace(TEST_WORKSPACE)
        .project_name(TEST_PROJECT)
        .flush_interval(Duration::from_millis(50))
}

/// A client sending to `server`.
pub fn client_for(server: &FakeOpik) -> Client {
    let config = config_for(server)
        .resolve()
        .expect("valid test config")
        .into_config()
        .expect("test config is enabled");
    Client::new(&config).expect("client starts")
}

/// The span named `name` (panics listing the names when there is none, or several).
pub fn span<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    let found: Vec<&Value> = spans.iter().filter(|s| s["name"] == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span named {name:?}, got {} among {:?}",
        found.len(),
        spans.iter().map(|s| &s["name"]).collect::<Vec<_>>()
    );
    found[0]
}

/// Runs `f` under a fresh client and fake server; returns (traces, spans) once delivered,
/// every body checked against the spec.
pub fn record<R>(f: impl FnOnce() -> R) -> (Vec<Value>, Vec<Value>) {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(f);
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    (server.traces(), server.spans())
}

/// [`record`] for a future, on a current-thread runtime of its own.
pub fn record_async<F: std::future::Future>(fut: F) -> (Vec<Value>, Vec<Value>) {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(client.scope(fut));
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    (server.traces(), server.spans())
}

/// Reads a local view's JSON lines file: one `{"method","path","body"}` object per line.
pub fn read_json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the JSON lines file exists");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?} is not JSON: {e}")))
        .collect()
}

/// Sends each recorded request to `server` as the HTTP exporter would have (gzip, headers),
/// so that the fake server checks it against the spec. Returns how many were sent.
pub async fn replay(lines: &[Value], server: &FakeOpik) -> usize {
    let http = reqwest::Client::new();
    for line in lines {
        if line.get("attachment").is_some() {
            continue; // a note of an attachment (its bytes are not in the file), no request
        }
        let method = reqwest::Method::from_bytes(line["method"].as_str().unwrap().as_bytes())
            .expect("a method");
        let url = format!("{}{}", server.base_url(), line["path"].as_str().unwrap());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(line["body"].to_string().as_bytes()).unwrap();
        let status = http
            .request(method, url)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .header("comet-workspace", TEST_WORKSPACE)
            .body(gz.finish().unwrap())
            .send()
            .await
            .expect("the fake server answers")
            .status();
        assert!(status.is_success(), "replayed {line} got {status}");
    }
    lines.len()
}

/// Reads `VmHWM` (peak resident memory) or `VmRSS` from `/proc/self/status`, in KiB; `None` off
/// Linux.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the `#[ignore]`d test `name` of this test binary alone in a child process, with `env`
/// set and `remove` unset: what could abort the process (a stack overflow), grow its memory or
/// install the SDK globally fails one test instead of crashing the suite or leaking into other
/// tests. Returns the child's stdout once it passed.
pub fn run_child<V: AsRef<std::ffi::OsStr>>(
    name: &str,
    env: &[(&str, V)],
    remove: &[&str],
) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A child's `CHILD ...` line (the harness may print the test's name before it on the same
/// line); empty when there is none.
pub fn child_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find_map(|l| l.find("CHILD ").map(|i| &l[i..]))
        .unwrap_or("")
}

/// The `key=value` figure on a child's `CHILD ...` line.
pub fn child_figure(stdout: &str, key: &str) -> Option<u64> {
    child_line(stdout)
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// Every log line this process emits (all targets, all levels), captured once installed. The
/// exporter logs from its own thread, so this has to be the global subscriber.
pub fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_writer(move || LogSink(Arc::clone(&sink)))
            .finish();
        let _ = tracing_subscriber::util::SubscriberInitExt::try_init(subscriber);
        logs
    })
}

/// What was logged since [`captured_logs`] was installed.
pub fn log_text() -> String {
    let logs = captured_logs().lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&logs).into_owned()
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
