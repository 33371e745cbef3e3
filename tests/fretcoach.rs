//! Issue "FretCoach example": the example's scenario records the traces its design describes;
//! through the local view every request line is valid against the spec (replayed to a fake
//! Opik), and over HTTP the same traces arrive (same names, tags, threads, parents). The
//! example program itself runs with nothing configured in under 10 s, prints the trees and
//! writes the JSON lines file, and with `OPIK_URL_OVERRIDE` it delivers to that server.

mod common;

#[path = "../examples/fretcoach/llm.rs"]
#[allow(dead_code)]
mod llm;
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
use scenario::Scenario;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn temp_path(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!(
        "opik-rs-fretcoach-{name}-{}-{nanos}.jsonl",
        std::process::id()
    ))
}

fn test_scenario() -> Scenario {
    let mut s = Scenario::standard(
        "test01".to_owned(),
        Speed::INSTANT,
        Llm::offline(Speed::INSTANT, Some(Scenario::STALLED_CALL)),
        tts::Tts::offline(Speed::INSTANT),
    );
    s.chatty = false;
    s
}

/// Everything about the recorded traces that does not change from run to run: per trace, its
/// name, thread, tags, metadata and the tree of (span name, type, tags, model, provider, usage,
/// error type) by parent name; plus the feedback scores by trace name.
fn shape(traces: &[Value], spans: &[Value], scores: &[Value]) -> Value {
    let by_id: BTreeMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s))
        .collect();
    let mut out: Vec<Value> = traces
        .iter()
        .map(|t| {
            let mut tree: Vec<Value> = spans
                .iter()
                .filter(|s| s["trace_id"] == t["id"])
                .map(|s| {
                    let parent = s["parent_span_id"].as_str().map(|p| {
                        by_id
                            .get(p)
                            .map_or("<missing>", |p| p["name"].as_str().unwrap())
                    });
                    json!({
                        "name": s["name"], "type": s["type"], "tags": s["tags"],
                        "model": s["model"], "provider": s["provider"], "usage": s["usage"],
                        "error": s["error_info"]["exception_type"], "parent": parent,
                    })
                })
                .collect();
            tree.sort_by_key(|v| v.to_string());
            let scored: Vec<&Value> = scores
                .iter()
                .filter(|s| s["id"] == t["id"])
                .map(|s| &s["name"])
                .collect();
            json!({
                "name": t["name"], "thread_id": t["thread_id"], "tags": t["tags"],
                "metadata": t["metadata"], "spans": tree, "scores": scored,
            })
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    Value::Array(out)
}

fn server_shape(server: &FakeOpik) -> Value {
    shape(
        &server.traces(),
        &server.spans(),
        &server.feedback_scores("/traces/feedback-scores"),
    )
}

#[tokio::test]
async fn the_scenario_records_the_design_and_local_lines_match_http() {
    // Through the local view.
    let path = temp_path("scenario");
    let screen = Screen::default();
    let transport = LocalTransport::open(&path)
        .unwrap()
        .with_output(screen.clone());
    let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .local(true)
        .project_name("fretcoach")
        .resolve()
        .unwrap()
        .into_config()
        .unwrap();
    let local = Client::with_transport(&config, Box::new(transport)).unwrap();
    local.scope(scenario::run(&test_scenario())).await;
    assert!(local.flush_async(Duration::from_secs(5)).await.completed);
    drop(local);

    let replayed = FakeOpik::start();
    assert!(common::replay(&common::read_json_lines(&path), &replayed).await >= 3);
    replayed.assert_valid();
    let local_shape = server_shape(&replayed);

    // Over HTTP.
    let server = FakeOpik::start();
    let http = common::client_for(&server);
    http.scope(scenario::run(&test_scenario())).await;
    assert!(http.flush_async(Duration::from_secs(5)).await.completed);
    server.assert_valid();
    assert_eq!(
        local_shape,
        server_shape(&server),
        "the local view and HTTP carry the same traces"
    );

    // What the design asks for.
    let traces = server.traces();
    let spans = server.spans();
    assert_eq!(traces.len(), 4, "one session and three planner messages");
    let session = traces
        .iter()
        .find(|t| t["name"] == "practice-session")
        .unwrap();
    assert_eq!(session["thread_id"], "session-test01");
    assert_eq!(
        session["metadata"],
        json!({"session_id": "test01", "scale_name": "A minor pentatonic", "user_id": "1842"})
    );
    let feedback: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "live-coach-feedback")
        .collect();
    assert_eq!(feedback.len(), 4, "one feedback per 15 s of a 60 s session");
    for f in &feedback {
        assert_eq!(f["type"], "llm");
        assert_eq!(f["model"], "gpt-4o-mini");
        assert_eq!(f["provider"], "openai");
        assert_eq!(f["tags"], json!(["live-coach", "live-feedback"]));
        assert_eq!(f["trace_id"], session["id"]);
    }
    let failed: Vec<&&Value> = feedback
        .iter()
        .filter(|f| f.get("error_info").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "one feedback call timed out");
    assert!(failed[0]["error_info"]["message"]
        .as_str()
        .unwrap()
        .contains("did not answer within 8s"));
    assert!(failed[0].get("usage").is_none());
    let tts: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "live-coach-tts")
        .collect();
    assert_eq!(tts.len(), 3, "the three answered feedbacks are spoken");
    let stored = server.attachments();
    for t in &tts {
        assert_eq!(t["tags"], json!(["tts", "live-coach"]));
        let parent = feedback
            .iter()
            .find(|f| f["id"] == t["parent_span_id"])
            .expect("TTS nests under its feedback");
        assert!(parent["usage"]["total_tokens"].as_i64().unwrap() > 0);
        // The streamed answer: its words joined as the output, the time to the first one.
        let said = parent["output"]["output"]
            .as_str()
            .expect("the answer joined");
        assert!(said.split_whitespace().count() > 5, "{said}");
        assert!(parent.get("ttft").is_some(), "{parent}");
        // The speech goes with the TTS span, as a WAV Opik can play.
        let audio = stored
            .iter()
            .find(|a| t["id"] == a.entity_id.as_str())
            .expect("the TTS span's audio was uploaded");
        assert_eq!(
            (audio.file_name.as_str(), audio.mime_type.as_str()),
            ("coach-tip.wav", "audio/wav")
        );
        assert!(audio.content().starts_with(b"RIFF"), "a WAV");
    }
    assert_eq!(stored.len(), 3);
    let summary = common::span(&spans, "session-summary");
    assert_eq!(summary["tags"], json!(["live-coach", "session-summary"]));
    let planner: Vec<&Value> = traces
        .iter()
        .filter(|t| t["name"] == "practice-planner")
        .collect();
    assert_eq!(planner.len(), 3);
    let mut lengths: Vec<i64> = planner
        .iter()
        .map(|t| {
            assert_eq!(t["thread_id"], "user-1842");
            assert_eq!(t["tags"], json!(["fretcoach-hub", "practice-planning"]));
            assert_eq!(t["metadata"]["user_id"], "1842");
            t["metadata"]["conversation_length"].as_i64().unwrap()
        })
        .collect();
    lengths.sort();
    assert_eq!(lengths, [1, 2, 3]);
    let scores = server.feedback_scores("/traces/feedback-scores");
    assert_eq!(scores.len(), 1);
    let rated = traces.iter().find(|t| t["id"] == scores[0]["id"]).unwrap();
    assert_eq!(rated["metadata"]["conversation_length"], 2);

    // And the local view printed the trees.
    let printed = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("Trace: practice-session [")
            && printed.contains("(thread session-test01)")
            && printed.contains("│   └─ live-coach-tts [")
            && printed.contains("+ attachment coach-tip.wav (audio/wav, ")
            && printed.contains(" ttft ")
            && printed.contains("└─ session-summary [llm gpt-4o-mini ")
            && printed.matches("Trace: practice-planner [").count() == 3
            && printed.contains("!! LlmError: gpt-4o-mini did not answer within 8s")
            && printed.contains("Feedback: user-rating = 1.0 (thumbs up in the hub) on trace practice-planner (thread user-1842)"),
        "{printed}"
    );
    let _ = std::fs::remove_file(&path);
}

/// The example binary. `cargo test` builds every example next to the tests
/// (`target/<profile>/examples/`), with the same features, so the test runs that one rather
/// than a nested `cargo run`, which would resolve features differently and rebuild. Only when
/// it is missing (a filtered run such as `cargo test --test fretcoach` on a fresh target) is it
/// built here; after editing the example, run `cargo test --examples --test fretcoach`.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("fretcoach{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let build = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--example",
                "fretcoach",
                "--manifest-path",
                manifest,
            ])
            .status()
            .expect("cargo runs");
        assert!(build.success(), "the example builds");
    }
    bin
}

/// Runs the fretcoach example with `envs` and no Opik or OpenAI settings from this machine
/// (empty HOME, so no ~/.opik.config either). Returns (stdout, stderr, run time).
fn run_example(envs: &[(&str, &str)], home: &Path) -> (String, String, Duration) {
    let mut cmd = Command::new(example_binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("OPIK_") || k.starts_with("OPENAI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home);
    cmd.envs(envs.iter().copied());
    let started = Instant::now();
    let out = cmd.output().expect("the example runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr, took)
}

#[test]
fn the_example_runs_offline_in_under_10s_and_ships_to_opik_when_configured() {
    let home = std::env::temp_dir().join(format!("opik-rs-fretcoach-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();

    // Nothing configured: the local view.
    let lines = temp_path("example");
    let (stdout, stderr, took) =
        run_example(&[("OPIK_LOCAL_FILE", lines.to_str().unwrap())], &home);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(stdout.contains("offline stand-in"), "{stdout}");
    assert!(
        stderr.contains(&format!("appended to {}", lines.display())),
        "the file is named: {stderr}"
    );
    for expected in [
        "Trace: practice-session [",
        "├─ live-coach-feedback [llm gpt-4o-mini ",
        "│   └─ live-coach-tts [",
        "└─ session-summary [llm gpt-4o-mini ",
        "Trace: practice-planner [",
        "(thread user-1842)",
        "!! LlmError",
        "Feedback: user-rating = 1.0",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing in:\n{stderr}"
        );
    }
    let written = std::fs::read_to_string(&lines).expect("the JSON lines file was written");
    assert!(written.lines().count() >= 3, "{written}");

    // OPIK_URL_OVERRIDE: the same program sends to that Opik, and prints no trees.
    let server = FakeOpik::start();
    let (_, stderr, _) = run_example(&[("OPIK_URL_OVERRIDE", &server.base_url())], &home);
    assert!(!stderr.contains("Trace: "), "{stderr}");
    server.assert_valid();
    let traces = server.traces();
    assert_eq!(traces.len(), 4, "{traces:#?}");
    assert!(traces.iter().any(|t| t["thread_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("session-"))));
    assert_eq!(server.spans().len(), 4 + 3 + 1 + 1 + 3 + 3);
    let _ = std::fs::remove_file(&lines);
    let _ = std::fs::remove_dir_all(&home);
}
