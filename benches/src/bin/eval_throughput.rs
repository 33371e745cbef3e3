//! `opik::evaluate` throughput: 1,000 items, a 10 ms async task (a stand-in for a model call),
//! three heuristic metrics (`Equals`, `LevenshteinRatio`, `RegexMatch`), against the fake
//! Opik on loopback (every request recorded and checked against the spec), at several
//! concurrencies. It prints the wall time of each run next to the ideal
//! (items × task time / concurrency) and what reached the server; with `--python PYTHON`, the
//! Python SDK's `opik.evaluate` on the same work against the same kind of server
//! (`benches/scripts/eval_python.py`; `task_threads` = the concurrency).
//!
//! ```text
//! cargo run --release -p opik-benches --bin eval_throughput -- [--items 1000] [--task-ms 10]
//!     [--concurrency 8,32,100] [--python /path/to/venv/bin/python]
//! ```

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use opik::evaluation::metrics::{Equals, LevenshteinRatio, RegexMatch};
use opik::evaluation::{EvaluateOptions, Metric};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

struct Args {
    items: usize,
    task_ms: u64,
    concurrency: Vec<usize>,
    python: Option<String>,
}

fn args() -> Args {
    let mut out = Args {
        items: 1000,
        task_ms: 10,
        concurrency: vec![8, 32, 100],
        python: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--items" => out.items = value.parse().expect("--items N"),
            "--task-ms" => out.task_ms = value.parse().expect("--task-ms N"),
            "--concurrency" => {
                out.concurrency = value
                    .split(',')
                    .map(|c| c.trim().parse().expect("--concurrency 8,32"))
                    .collect()
            }
            "--python" => out.python = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

fn metrics() -> Vec<Box<dyn Metric>> {
    vec![
        Box::new(Equals::new()),
        Box::new(LevenshteinRatio::new()),
        Box::new(RegexMatch::new(r"^answer \d+$").expect("a valid pattern")),
    ]
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} items, {} ms async task, 3 heuristic metrics, fake Opik on loopback, {cores} cores",
        args.items, args.task_ms
    );
    for &concurrency in &args.concurrency {
        runtime.block_on(baseline(&args, concurrency));
        runtime.block_on(rust_run(&args, concurrency));
    }
    if let Some(python) = &args.python {
        for &concurrency in &args.concurrency {
            python_run(&args, python, concurrency);
        }
    }
}

/// The same sleeps with no SDK, no metric and no server: what the timer and the scheduler
/// alone make of "ideal" (a 10 ms tokio sleep lasts 10-11 ms: the timer's granularity is 1 ms).
async fn baseline(args: &Args, concurrency: usize) {
    let task_time = Duration::from_millis(args.task_ms);
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..args.items {
        if running.len() >= concurrency {
            running.join_next().await;
        }
        running.spawn(tokio::time::sleep(task_time));
    }
    while running.join_next().await.is_some() {}
    println!(
        "sleeps concurrency {concurrency:>3}: wall {:>7.3} s (the same sleeps alone, no SDK)",
        started.elapsed().as_secs_f64()
    );
}

async fn rust_run(args: &Args, concurrency: usize) {
    let server = FakeOpik::start();
    let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(server.base_url())
        .workspace("bench")
        .project_name("eval-bench")
        .resolve()
        .expect("valid config")
        .into_config()
        .expect("enabled");
    let client = opik::export::Client::new(&config).expect("client");
    let opik = opik::Opik::new(client.clone());
    let dataset = opik.dataset("bench-rust").await.expect("dataset");
    let items: Vec<Value> = (0..args.items)
        .map(|i| json!({"input": {"n": i}, "expected": format!("answer {i}")}))
        .collect();
    dataset.insert(items).await.expect("insert");
    let task_time = Duration::from_millis(args.task_ms);
    let started = Instant::now();
    let result = opik::evaluate(
        &dataset,
        move |item: Value| async move {
            tokio::time::sleep(task_time).await;
            let n = item["input"]["n"].as_u64().unwrap_or(0);
            let answer = if n.is_multiple_of(2) { n } else { n + 1 };
            Ok::<_, std::io::Error>(json!({ "output": format!("answer {answer}") }))
        },
        metrics(),
        EvaluateOptions::new()
            .experiment_name(format!("rust-{concurrency}"))
            .concurrency(concurrency)
            .progress(false)
            .scoring_key_mapping([("reference", "expected")]),
    )
    .await
    .expect("evaluation");
    let wall = started.elapsed();
    let ideal = task_time.mul_f64(args.items as f64 / concurrency as f64);
    let scores = server.feedback_scores("/traces/feedback-scores").len();
    println!(
        "rust   concurrency {concurrency:>3}: wall {:>7.3} s, ideal {:>6.3} s (x{:.2}), {:>6.0} items/s; \
         delivered {} traces, {} spans, {scores} scores, {} experiment items; {} requests, {} problems",
        wall.as_secs_f64(),
        ideal.as_secs_f64(),
        wall.as_secs_f64() / ideal.as_secs_f64(),
        args.items as f64 / wall.as_secs_f64(),
        server.traces().len(),
        server.spans().len(),
        server.experiment_items().len(),
        server.requests().len(),
        server.problems().len(),
    );
    assert_eq!(result.items.len(), args.items);
    client.shutdown(Duration::from_secs(5));
}

fn python_run(args: &Args, python: &str, concurrency: usize) {
    let server = FakeOpik::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/eval_python.py");
    let config = std::env::temp_dir().join(format!("opik-bench-py-{}.config", std::process::id()));
    let _ = std::fs::write(&config, "");
    let out = Command::new(python)
        .arg(script)
        .args([
            args.items.to_string(),
            args.task_ms.to_string(),
            concurrency.to_string(),
        ])
        .env("OPIK_URL_OVERRIDE", server.base_url())
        .env("OPIK_WORKSPACE", "bench")
        .env("OPIK_PROJECT_NAME", "eval-bench")
        .env("OPIK_CONFIG_PATH", &config)
        .env("OPIK_ANALYTICS_ENABLE", "false")
        .env("OPIK_SENTRY_ENABLE", "false")
        .env_remove("OPIK_API_KEY")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or("");
    let Ok(figures) = serde_json::from_str::<Value>(line) else {
        println!(
            "python concurrency {concurrency:>3}: failed: {}\n{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    };
    let wall = figures["wall_s"].as_f64().unwrap_or(f64::NAN);
    let ideal = args.task_ms as f64 / 1000.0 * args.items as f64 / concurrency as f64;
    println!(
        "python concurrency {concurrency:>3}: wall {wall:>7.3} s, ideal {ideal:>6.3} s (x{:.2}), {:>6.0} items/s; \
         delivered {} traces, {} spans, {} scores, {} experiment items; {} requests (opik {})",
        wall / ideal,
        args.items as f64 / wall,
        server.traces().len(),
        server.spans().len(),
        server.feedback_scores("/traces/feedback-scores").len(),
        server.experiment_items().len(),
        server.requests().len(),
        figures["opik"].as_str().unwrap_or("?"),
    );
    let _ = std::fs::remove_file(&config);
}
