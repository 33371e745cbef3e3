//! Shared by the real-crate tests: fake-opik's fake OpenAI-compatible server on loopback, and a way to run code under an Opik client that delivers to the fake
//! Opik (every body checked against Opik's OpenAPI spec).

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use serde_json::Value;
use std::time::Duration;

// The fake OpenAI-compatible server and its answers are fake-opik's, shared with the facade's
// tests.
pub use fake_opik::openai::{
    chunk, completion, tool_call_completion, usage, Answer, FakeOpenAi, Received,
};

/// What the fake Opik received: traces and spans, every body checked against the spec.
pub struct Delivered {
    pub traces: Vec<Value>,
    pub spans: Vec<Value>,
}

impl Delivered {
    /// The one span named `name` (panics listing the names otherwise).
    pub fn span(&self, name: &str) -> &Value {
        let found: Vec<&Value> = self.spans.iter().filter(|s| s["name"] == name).collect();
        assert_eq!(
            found.len(),
            1,
            "expected one span named {name:?} among {:?}",
            self.names()
        );
        found[0]
    }

    /// The spans named `name`, in the order they started.
    pub fn spans_named(&self, name: &str) -> Vec<&Value> {
        let mut found: Vec<&Value> = self.spans.iter().filter(|s| s["name"] == name).collect();
        found.sort_by(|a, b| {
            a["start_time"]
                .as_str()
                .unwrap_or_default()
                .cmp(b["start_time"].as_str().unwrap_or_default())
        });
        found
    }

    /// The span's parent, if it has one.
    pub fn parent(&self, span: &Value) -> Option<&Value> {
        let parent = span.get("parent_span_id")?;
        self.spans.iter().find(|s| &s["id"] == parent)
    }

    pub fn names(&self) -> Vec<&str> {
        self.spans
            .iter()
            .map(|s| s["name"].as_str().unwrap_or_default())
            .collect()
    }

    /// The spans of type `llm`, with their summed `total_tokens` (what Opik adds up for the
    /// trace).
    pub fn llm_total_tokens(&self) -> i64 {
        self.spans
            .iter()
            .filter_map(|s| s["usage"]["total_tokens"].as_i64())
            .sum()
    }
}

/// Runs `fut` on a multi-thread runtime (rig and genai spawn onto it) under an Opik client
/// that delivers to a fresh fake Opik; returns what it received once delivered.
pub fn deliver<F: std::future::Future>(fut: F) -> (F::Output, Delivered) {
    let server = FakeOpik::start();
    let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(server.base_url())
        .api_key("test-key-5d41402abc4b2a76")
        .workspace("rs-tests")
        .project_name("opik-rs-real-crates")
        .flush_interval(Duration::from_millis(50))
        .resolve()
        .expect("valid test config")
        .into_config()
        .expect("test config is enabled");
    let client = opik::export::Client::new(&config).expect("client starts");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(client.scope(fut));
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    (
        out,
        Delivered {
            traces: server.traces(),
            spans: server.spans(),
        },
    )
}

/// Installs `OpikLayer` as the global subscriber, once per test binary: rig, genai and reqwest
/// run parts of a call on the runtime's worker threads, which a thread-local default would
/// not reach. Spans outside a test's Opik client are not recorded, so tests do not mix.
pub fn init_layer() {
    use tracing_subscriber::prelude::*;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Built together with the rest of the workspace, reqwest has `rustls-no-provider` (the
        // facade's dev-dependencies ask for it): a client needs a provider installed first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        tracing_subscriber::registry()
            .with(opik::integrations::OpikLayer::new())
            .init();
    });
}
