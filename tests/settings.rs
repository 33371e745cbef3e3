//! The Python SDK's settings, read from the environment and `~/.opik.config`, seen where they
//! act: on the wire of the fake Opik (compression on and off, its level, input truncation) and
//! at shutdown (the flush deadline). Their parsing and precedence are unit tests in
//! `opik-core/src/config/knob_tests.rs`.

mod common;

use common::{TEST_KEY, TEST_WORKSPACE};
use fake_opik::{FakeOpik, Reply};
use opik::config::ConfigBuilder;
use opik::export::Client;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A client of `server` whose other settings come from `vars` (and the file they may name).
fn client(server: &FakeOpik, vars: &[(&str, &str)]) -> Client {
    let mut all = vec![
        ("OPIK_URL_OVERRIDE".to_owned(), server.base_url()),
        ("OPIK_API_KEY".to_owned(), TEST_KEY.to_owned()),
        ("OPIK_WORKSPACE".to_owned(), TEST_WORKSPACE.to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let config = ConfigBuilder::with_env_map(all)
        .flush_interval(Duration::from_millis(50))
        .resolve()
        .expect("valid")
        .into_config()
        .expect("enabled");
    Client::new(&config).expect("client")
}

/// A config file in the temp dir, removed on drop.
struct IniFile(PathBuf);

impl IniFile {
    fn new(name: &str, body: &str) -> IniFile {
        let path =
            std::env::temp_dir().join(format!("opik-settings-{name}-{}.ini", std::process::id()));
        std::fs::write(&path, format!("[opik]\n{body}")).unwrap();
        IniFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for IniFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[opik::track]
fn practice(notes: &str) -> usize {
    notes.len()
}

/// Records one trace with `notes` as input, delivered; the batch requests the fake got.
fn send(server: &FakeOpik, client: &Client, notes: &str) -> Vec<fake_opik::RecordedRequest> {
    client.run(|| practice(notes));
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    server.requests_to("/spans/batch")
}

/// Notes that compress well, so the level shows in the size.
fn notes(len: usize) -> String {
    "C major, 92 bpm, steady; ".repeat(len / 25 + 1)[..len].to_owned()
}

#[test]
fn st01_bodies_are_gzipped_by_default_and_plain_with_compression_off_from_the_env() {
    let server = FakeOpik::start();
    let on = client(&server, &[]);
    let batches = send(&server, &on, &notes(4000));
    assert!(batches.iter().all(|r| r.is_gzip()), "on by default");
    on.shutdown(Duration::from_secs(1));

    let server = FakeOpik::start();
    let off = client(
        &server,
        &[("OPIK_ENABLE_JSON_REQUEST_COMPRESSION", "false")],
    );
    let batches = send(&server, &off, &notes(4000));
    assert!(!batches.is_empty());
    for r in &batches {
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.wire_size, r.body_bytes.len(), "sent as it is");
    }
    assert_eq!(server.spans()[0]["input"]["notes"], notes(4000));
    off.shutdown(Duration::from_secs(1));
}

#[test]
fn st02_compression_off_from_the_file() {
    let server = FakeOpik::start();
    let file = IniFile::new("st02", "enable_json_request_compression = false\n");
    let off = client(&server, &[("OPIK_CONFIG_PATH", file.path())]);
    let batches = send(&server, &off, &notes(4000));
    assert!(batches.iter().all(|r| !r.is_gzip()));
    off.shutdown(Duration::from_secs(1));
}

#[test]
fn st03_the_compression_level_from_the_file_and_the_env() {
    let wire = |vars: &[(&str, &str)]| {
        let server = FakeOpik::start();
        let c = client(&server, vars);
        let batches = send(&server, &c, &notes(64 * 1024));
        c.shutdown(Duration::from_secs(1));
        let r = &batches[0];
        assert!(r.is_gzip());
        (r.wire_size, r.body_bytes.len())
    };
    // Level 0 stores: gzip's framing on top of the JSON, larger than it.
    let file = IniFile::new("st03", "request_compression_level = 0\n");
    let (stored, json) = wire(&[("OPIK_CONFIG_PATH", file.path())]);
    assert!(stored > json, "level 0 from the file: {stored} > {json}");
    // Level 9 from the environment compresses this text to a fraction.
    let (best, json) = wire(&[("OPIK_REQUEST_COMPRESSION_LEVEL", "9")]);
    assert!(best * 10 < json, "level 9: {best} of {json}");
}

#[test]
fn st04_max_payload_size_mb_truncates_inputs_from_the_env_and_the_file() {
    let big = notes(1536 * 1024); // 1.5 MiB
    for (case, vars, file) in [
        ("env", vec![("OPIK_MAX_PAYLOAD_SIZE_MB", "1")], None),
        (
            "file",
            vec![],
            Some(IniFile::new("st04", "max_payload_size_mb = 1\n")),
        ),
    ] {
        let server = FakeOpik::start();
        let mut vars = vars;
        if let Some(f) = &file {
            vars.push(("OPIK_CONFIG_PATH", f.path()));
        }
        let c = client(&server, &vars);
        send(&server, &c, &big);
        let span = &server.spans()[0];
        assert_eq!(span["input"]["opik_truncated"], Value::Bool(true), "{case}");
        c.shutdown(Duration::from_secs(1));
    }
    // The default (20 MB) keeps it whole.
    let server = FakeOpik::start();
    let c = client(&server, &[]);
    send(&server, &c, &big);
    assert_eq!(
        server.spans()[0]["input"]["notes"].as_str().map(str::len),
        Some(big.len())
    );
    c.shutdown(Duration::from_secs(1));
}

#[test]
fn st05_default_flush_timeout_is_the_shutdown_deadline_from_the_file_and_the_env() {
    for (case, var, file) in [
        (
            "file",
            None,
            Some(IniFile::new("st05", "default_flush_timeout = 1\n")),
        ),
        ("env", Some(("OPIK_DEFAULT_FLUSH_TIMEOUT", "1")), None),
    ] {
        let server = FakeOpik::start();
        // The server never answers: shutdown waits exactly its deadline.
        server.script("/traces/batch", (0..8).map(|_| Reply::never()));
        server.script("/spans/batch", (0..8).map(|_| Reply::never()));
        let mut vars: Vec<(&str, &str)> = var.into_iter().collect();
        if let Some(f) = &file {
            vars.push(("OPIK_CONFIG_PATH", f.path()));
        }
        let c = client(&server, &vars);
        assert_eq!(c.shutdown_timeout(), Duration::from_secs(1), "{case}");
        c.run(|| practice("scales"));
        let started = Instant::now();
        let report = c.shutdown(c.shutdown_timeout());
        let took = started.elapsed();
        assert!(!report.completed, "{case}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(1900),
            "{case}: 1 s, not the default 2 s: {took:?}"
        );
    }
}
