//! Issue "Foundation": a tracked call tree arrives at Opik as one trace with nested spans, for
//! async and sync code, with every body valid against the spec; nothing is sent when nothing is
//! configured; bad settings are errors that name the setting.

mod common;

use common::{client_for, span, TEST_KEY, TEST_PROJECT, TEST_WORKSPACE};
use fake_opik::{Entity, FakeOpik};
use opik::config::ConfigBuilder;
use serde_json::{json, Value};
use std::time::Duration;

#[opik::track(tags = ["root", "agent"])]
async fn plan_practice(question: &str, minutes: u32) -> String {
    let (a, b) = tokio::join!(pick_scale(1), pick_tempo(2));
    format!("{question}: scale {a}, tempo {b}, {minutes} min")
}

#[opik::track(name = "pick-scale", tags = ["leaf"])]
async fn pick_scale(seed: u32) -> u32 {
    tokio::task::yield_now().await;
    seed * 10
}

#[opik::track]
async fn pick_tempo(seed: u32) -> u32 {
    metronome(seed).await["bpm"].as_u64().unwrap_or(0) as u32 - 49
}

#[opik::track]
async fn metronome(beat: u32) -> serde_json::Value {
    tokio::task::yield_now().await;
    json!({ "bpm": 60 + beat })
}

/// Checks the tree that `plan_practice` (or its sync twin) produces.
fn assert_practice_tree(server: &FakeOpik, root_name: &str, child_a: &str, child_b: &str) {
    server.assert_valid();
    let traces = server.traces();
    let spans = server.spans();
    assert_eq!(traces.len(), 1, "traces: {traces:#?}");
    assert_eq!(spans.len(), 4, "spans: {spans:#?}");
    let trace = &traces[0];
    let root = span(&spans, root_name);
    let a = span(&spans, child_a);
    let b = span(&spans, child_b);
    let leaf = span(&spans, "metronome");

    for s in &spans {
        assert_eq!(s["trace_id"], trace["id"], "every span is in the one trace");
        assert_eq!(s["project_name"], TEST_PROJECT);
    }
    assert!(
        root.get("parent_span_id").is_none(),
        "the root span has no parent"
    );
    assert_eq!(a["parent_span_id"], root["id"]);
    assert_eq!(b["parent_span_id"], root["id"]);
    assert_eq!(leaf["parent_span_id"], b["id"]);

    // The trace and its root span carry the same name, input, output and tags (as Python does).
    for field in ["name", "input", "output", "tags", "start_time"] {
        assert_eq!(
            trace[field], root[field],
            "trace and root span differ in {field}"
        );
    }
    assert_eq!(root["input"], json!({"question": "q", "minutes": 30}));
    assert_eq!(
        root["output"],
        json!({"output": "q: scale 10, tempo 13, 30 min"})
    );
    assert_eq!(root["tags"], json!(["root", "agent"]));
    assert_eq!(a["tags"], json!(["leaf"]));
    assert!(
        b.get("tags").is_none(),
        "absent fields are left out, not null"
    );
    assert_eq!(a["input"], json!({"seed": 1}));
    assert_eq!(a["output"], json!({"output": 10}));
    assert_eq!(
        leaf["output"],
        json!({"bpm": 62}),
        "object outputs go as they are"
    );
    assert_eq!(root["type"], "general");
    assert_eq!(trace["source"], "sdk");
}

#[tokio::test]
async fn async_tree_with_join_arrives_as_one_trace_and_four_spans() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let out = client.scope(plan_practice("q", 30)).await;
    assert_eq!(out, "q: scale 10, tempo 13, 30 min");
    let report = client.flush_async(Duration::from_secs(5)).await;
    assert!(report.completed, "{report:?}");
    assert_eq!(report.stats.delivered, 5);
    assert_eq!(report.stats.produced, 5);
    assert_practice_tree(&server, "plan_practice", "pick-scale", "pick_tempo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_tree_on_a_multi_thread_runtime() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.scope(plan_practice("q", 30)).await;
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    assert_practice_tree(&server, "plan_practice", "pick-scale", "pick_tempo");
}

mod sync_twin {
    use serde_json::json;

    #[opik::track(name = "plan_practice", tags = ["root", "agent"])]
    pub fn plan_practice(question: &str, minutes: u32) -> String {
        let a = pick_scale(1);
        let b = pick_tempo(2);
        format!("{question}: scale {a}, tempo {b}, {minutes} min")
    }

    #[opik::track(name = "pick-scale", tags = ["leaf"])]
    fn pick_scale(seed: u32) -> u32 {
        seed * 10
    }

    #[opik::track]
    fn pick_tempo(seed: u32) -> u32 {
        metronome(seed)
            .as_ref()
            .map_or(0, |v| v["bpm"].as_u64().unwrap_or(0) as u32 - 49)
    }

    #[opik::track]
    fn metronome(beat: u32) -> Option<serde_json::Value> {
        Some(json!({ "bpm": 60 + beat }))
    }
}

#[test]
fn sync_tree_without_any_runtime() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    let out = client.run(|| sync_twin::plan_practice("q", 30));
    assert_eq!(out, "q: scale 10, tempo 13, 30 min");
    assert!(client.flush(Duration::from_secs(5)).completed);
    assert_practice_tree(&server, "plan_practice", "pick-scale", "pick_tempo");
}

#[test]
fn requests_carry_key_workspace_gzip_and_v7_ids() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    client.run(|| sync_twin::plan_practice("q", 1));
    assert!(client.flush(Duration::from_secs(5)).completed);
    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert!(paths.contains(&"/api/v1/private/traces/batch"), "{paths:?}");
    assert!(paths.contains(&"/api/v1/private/spans/batch"), "{paths:?}");
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.header("authorization"),
            Some(TEST_KEY),
            "raw key, no Bearer"
        );
        assert_eq!(r.header("comet-workspace"), Some(TEST_WORKSPACE));
        assert!(r.is_gzip());
    }
    for item in server.spans().iter().chain(server.traces().iter()) {
        let id = uuid::Uuid::parse_str(item["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
    }
    server.assert_valid();
}

#[test]
fn nothing_configured_sends_nothing_and_changes_nothing() {
    let guard = opik::init_with(ConfigBuilder::with_env_map(Vec::<(String, String)>::new()))
        .expect("nothing configured is not an error");
    assert!(!guard.is_enabled());
    assert_eq!(
        sync_twin::plan_practice("q", 30),
        "q: scale 10, tempo 13, 30 min"
    );
    let report = opik::flush(Duration::from_secs(1));
    assert!(report.completed);
    assert_eq!(report.stats.produced, 0);
}

#[test]
fn track_disable_turns_recording_off() {
    let server = FakeOpik::start();
    let guard = opik::init_with(common::config_for(&server).track_disable(true)).unwrap();
    assert!(!guard.is_enabled());
    assert_eq!(
        sync_twin::plan_practice("q", 2),
        "q: scale 10, tempo 13, 2 min"
    );
    drop(guard);
    assert!(server.requests().is_empty());
}

fn init_error(builder: ConfigBuilder) -> opik::InitError {
    match opik::init_with(builder) {
        Ok(_) => panic!("expected a configuration error"),
        Err(e) => e,
    }
}

#[test]
fn a_bad_url_is_an_error_naming_the_setting_and_value() {
    let err = init_error(
        ConfigBuilder::with_env_map([("OPIK_URL_OVERRIDE", "htp//nowhere")]).api_key(TEST_KEY),
    );
    let text = err.to_string();
    assert!(text.contains("url_override"), "{text}");
    assert!(text.contains("OPIK_URL_OVERRIDE"), "{text}");
    assert!(text.contains("htp//nowhere"), "{text}");
    assert!(!text.contains(TEST_KEY));
}

#[test]
fn a_blank_project_name_is_an_error_naming_the_setting() {
    let err = init_error(
        ConfigBuilder::with_env_map([("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")])
            .project_name("   "),
    );
    let text = err.to_string();
    assert!(text.contains("project_name"), "{text}");
}

#[test]
fn an_api_key_over_plain_http_to_a_remote_host_is_refused() {
    let err = init_error(
        ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
            .url("http://opik.example.com/api")
            .api_key(TEST_KEY),
    );
    let text = err.to_string();
    assert!(text.contains("https"), "{text}");
    assert!(
        !text.contains(TEST_KEY),
        "the key never appears in errors: {text}"
    );
}

#[test]
fn spans_ended_inside_a_trace_count_as_produced_and_delivered() {
    let server = FakeOpik::start();
    let client = client_for(&server);
    for i in 0..10 {
        client.run(|| sync_twin::plan_practice("q", i));
    }
    let report = client.flush(Duration::from_secs(5));
    assert!(report.completed);
    assert_eq!(report.stats.produced, 50);
    assert_eq!(report.stats.delivered, 50);
    assert_eq!(report.stats.dropped_total(), 0);
    server.assert_delivered_once(Entity::Span);
    server.assert_delivered_once(Entity::Trace);
    let traces: Vec<Value> = server.traces();
    assert_eq!(traces.len(), 10);
}
