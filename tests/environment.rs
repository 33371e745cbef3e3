//! Issue "Streams, spans you open yourself, and attachments", part 4: `OPIK_ENVIRONMENT` (or
//! `ConfigBuilder::environment`, or `environment` in `~/.opik.config`) puts `environment` on
//! every trace and span, as the Python SDK does.

mod common;

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use std::time::Duration;

#[opik::track]
fn child(n: u32) -> u32 {
    n
}

#[opik::track]
fn root() -> u32 {
    child(1) + child(2)
}

fn every_record_in(server: &FakeOpik, builder: ConfigBuilder, expected: &str) {
    let config = builder
        .resolve()
        .expect("valid")
        .into_config()
        .expect("enabled");
    let client = opik::export::Client::new(&config).expect("client");
    client.run(root);
    let span = opik::Opik::new(client.clone()).trace("explicit");
    span.end();
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    let (traces, spans) = (server.traces(), server.spans());
    assert_eq!((traces.len(), spans.len()), (2, 3));
    for item in traces.iter().chain(&spans) {
        assert_eq!(item["environment"], expected, "{item}");
    }
}

#[test]
fn the_environment_from_code_is_on_every_trace_and_span() {
    let server = FakeOpik::start();
    every_record_in(
        &server,
        common::config_for(&server).environment("staging"),
        "staging",
    );
}

#[test]
fn the_environment_from_opik_environment_is_on_every_trace_and_span() {
    let server = FakeOpik::start();
    let builder = ConfigBuilder::with_env_map([
        ("OPIK_URL_OVERRIDE", server.base_url().as_str()),
        ("OPIK_ENVIRONMENT", "production"),
    ])
    .flush_interval(Duration::from_millis(20));
    every_record_in(&server, builder, "production");
}

#[test]
fn an_environment_longer_than_opiks_limit_is_an_error_naming_it() {
    let err = ConfigBuilder::with_env_map([
        ("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api"),
        ("OPIK_ENVIRONMENT", "e".repeat(151).as_str()),
    ])
    .resolve()
    .expect_err("too long");
    let text = err.to_string();
    assert!(text.contains("environment from OPIK_ENVIRONMENT"), "{text}");
    assert!(text.contains("151 characters"), "{text}");
}

#[test]
fn without_an_environment_records_carry_none() {
    let (traces, spans) = common::record(root);
    assert!(traces
        .iter()
        .chain(&spans)
        .all(|i| i.get("environment").is_none()));
}
