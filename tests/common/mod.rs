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
