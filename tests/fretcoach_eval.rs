//! Issue 15: `cargo run --example fretcoach_eval` works with nothing configured (a local
//! dataset, the offline model and judge, two experiments and their comparison printed, every
//! trace and score in the local view's file), and with `OPIK_URL_OVERRIDE` it makes the
//! dataset and both experiments in that Opik; run twice, the dataset stays ten items.

use fake_opik::FakeOpik;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example binary, built next to the tests by `cargo test` (see `tests/fretcoach.rs`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("fretcoach_eval{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let build = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--example",
                "fretcoach_eval",
                "--manifest-path",
                manifest,
            ])
            .status()
            .expect("cargo runs");
        assert!(build.success(), "the example builds");
    }
    bin
}

fn run(envs: &[(&str, &str)], home: &Path) -> (String, String) {
    let mut cmd = Command::new(example_binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("OPIK_") || k.starts_with("OPENAI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home).envs(envs.iter().copied());
    let out = cmd.output().expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

#[test]
fn the_evaluation_example_runs_offline_and_against_opik() {
    let home = std::env::temp_dir().join(format!(
        "opik-rs-fretcoach-eval-home-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&home).unwrap();
    let lines = std::env::temp_dir().join(format!(
        "opik-rs-fretcoach-eval-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&lines);

    // Nothing configured.
    let (stdout, stderr) = run(&[("OPIK_LOCAL_FILE", lines.to_str().unwrap())], &home);
    for expected in [
        "offline stand-in",
        "Experiment \"coach-prompt-v1\" on dataset \"fretcoach-practice-situations\" (local): 10 items",
        "Experiment \"coach-prompt-v2\"",
        "Comparison:",
        "answer_relevance_metric",
        "addresses_focus",
        "levenshtein_ratio_metric",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing in:\n{stdout}");
    }
    assert_eq!(
        stderr.matches("Trace: evaluation_task [").count(),
        20,
        "{stderr}"
    );
    assert!(
        stderr.contains("└─ live-coach-feedback [llm gpt-4o-mini"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&lines).expect("the local view's file");
    let requests: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let traces: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| r["path"] == "/v1/private/traces/batch")
        .flat_map(|r| r["body"]["traces"].as_array().unwrap())
        .collect();
    assert_eq!(traces.len(), 20);
    assert!(traces.iter().all(|t| t["source"] == "experiment"));
    let scores: usize = requests
        .iter()
        .filter(|r| r["path"] == "/v1/private/traces/feedback-scores")
        .map(|r| r["body"]["scores"].as_array().unwrap().len())
        .sum();
    assert_eq!(scores, 20 * 4);

    // Against an Opik, twice.
    let server = FakeOpik::start();
    let (first, _) = run(&[("OPIK_URL_OVERRIDE", &server.base_url())], &home);
    assert!(
        first.contains("10 situations added, 0 already there"),
        "{first}"
    );
    let (second, _) = run(&[("OPIK_URL_OVERRIDE", &server.base_url())], &home);
    assert!(
        second.contains("0 situations added, 10 already there"),
        "{second}"
    );
    assert_eq!(
        server.dataset_items("fretcoach-practice-situations").len(),
        10
    );
    let v1 = server.experiment("coach-prompt-v1").expect("experiment v1");
    assert_eq!(v1["metadata"]["prompt"], "Terse");
    assert!(server.experiment("coach-prompt-v2").is_some());
    assert_eq!(
        server.experiment_items().len(),
        4 * 10,
        "two experiments, two runs"
    );
    server.assert_valid();
    let _ = std::fs::remove_file(&lines);
    let _ = std::fs::remove_dir_all(&home);
}
