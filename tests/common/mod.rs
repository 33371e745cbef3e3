//! Shared by the integration tests: a client wired to a fake Opik server, isolated from the
//! process environment and from other tests (each test runs its code under its own client).
#![allow(dead_code)] // each test binary uses a different part

use fake_opik::FakeOpik;
use opik::{Client, ConfigBuilder};
use serde_json::Value;
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
