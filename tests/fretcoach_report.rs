//! Issue 16, `examples/fretcoach_report`: the report of a practice session read back, per
//! feature, from Opik and from the local view's file, with the same calls, errors and tokens;
//! the planner's prompt comes from the library (one version however many messages) and is
//! attached to every planner span; the hub's thread is closed and rated.

mod common;

#[path = "../examples/fretcoach/llm.rs"]
#[allow(dead_code)]
mod llm;
#[path = "../examples/fretcoach_report/report.rs"]
mod report;
#[path = "../examples/fretcoach/scenario.rs"]
#[allow(dead_code)]
mod scenario;
#[path = "../examples/fretcoach/tts.rs"]
#[allow(dead_code)]
mod tts;

use fake_opik::FakeOpik;
use llm::{Llm, Speed};
use opik::config::ConfigBuilder;
use opik::export::{Client, LocalTransport};
use opik::Opik;
use scenario::Scenario;
use std::time::Duration;

fn test_scenario() -> Scenario {
    let mut s = Scenario::standard(
        "rep01".to_owned(),
        Speed::INSTANT,
        Llm::offline(Speed::INSTANT, Some(Scenario::STALLED_CALL)),
        tts::Tts::offline(Speed::INSTANT),
    );
    s.chatty = false;
    s
}

/// (name, calls, errors, prompt, completion, total tokens) of each feature.
fn counts(r: &report::Report) -> Vec<(String, usize, usize, i64, i64, i64)> {
    r.features
        .iter()
        .map(|f| {
            let tokens = (f.prompt_tokens, f.completion_tokens, f.total_tokens);
            (
                f.name.clone(),
                f.calls,
                f.errors,
                tokens.0,
                tokens.1,
                tokens.2,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_report_reads_the_session_back_from_opik_and_from_the_local_file() {
    // Over HTTP.
    let server = FakeOpik::start();
    let http = common::client_for(&server);
    http.scope(scenario::run(&test_scenario())).await;
    assert!(http.flush_async(Duration::from_secs(5)).await.completed);
    let from_opik = report::session_report(&Opik::new(http.clone()))
        .await
        .unwrap();
    assert_eq!(from_opik.session.as_deref(), Some("session-rep01"));
    let rows = counts(&from_opik);
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        ["live-coach-feedback", "live-coach-tts", "session-summary"]
    );
    assert_eq!(
        (rows[0].1, rows[0].2),
        (4, 1),
        "four feedbacks, one timed out"
    );
    assert_eq!((rows[1].1, rows[2].1), (3, 1));
    // The tokens are the spans' own.
    let spans = server.spans();
    let sent: i64 = spans
        .iter()
        .filter(|s| {
            s["tags"]
                .as_array()
                .is_some_and(|t| t.contains(&"live-coach".into()))
        })
        .filter_map(|s| s["usage"]["total_tokens"].as_i64())
        .sum();
    assert!(sent > 0);
    assert_eq!(rows.iter().map(|r| r.5).sum::<i64>(), sent);
    assert!(from_opik.features[0].latency_at(0.95) >= from_opik.features[0].latency_at(0.5));
    let text = from_opik.to_string();
    assert!(
        text.starts_with("Live coaching of session-rep01\nfeature"),
        "{text}"
    );
    assert!(text.lines().last().unwrap().starts_with("total"), "{text}");

    // The planner's prompt: one version in the library, attached to each planner span.
    let versions = server.prompt_versions("fretcoach-planner-system");
    assert_eq!(versions.len(), 1, "{versions:?}");
    let planners: Vec<_> = spans
        .iter()
        .filter(|s| s["name"] == "practice-planner")
        .collect();
    assert_eq!(planners.len(), 3);
    for p in &planners {
        let attached = &p["metadata"]["opik_prompts"][0];
        assert_eq!(attached["name"], "fretcoach-planner-system");
        assert_eq!(attached["version"]["commit"], versions[0].0.as_str());
    }
    // The hub's conversation: closed and rated.
    let project = common::TEST_PROJECT;
    assert_eq!(
        server.thread_status(project, "user-1842").as_deref(),
        Some("inactive")
    );
    let rating = server.thread_scores(project, "user-1842");
    assert_eq!(rating.len(), 1);
    assert_eq!(rating[0]["name"], "conversation-rating");
    server.assert_valid();

    // Through the local view, then read back from its file.
    let path = std::env::temp_dir().join(format!("opik-rs-report-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .local(true)
        .project_name(project)
        .resolve()
        .unwrap()
        .into_config()
        .unwrap();
    let transport = LocalTransport::open(&path)
        .unwrap()
        .with_output(std::io::sink());
    let local = Client::with_transport(&config, Box::new(transport)).unwrap();
    local.scope(scenario::run(&test_scenario())).await;
    assert!(local.flush_async(Duration::from_secs(5)).await.completed);
    let from_file = report::session_report(&Opik::new(local)).await.unwrap();
    assert_eq!(counts(&from_file), rows, "the same report offline");
    let _ = std::fs::remove_file(&path);
}
