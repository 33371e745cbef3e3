//! Issue 15, `opik::evaluate`: 50 items at concurrency 8 with 3 metrics make 50 traces
//! (source `experiment`, nested task and metric spans), 150 feedback scores and 50 experiment
//! items linking each dataset item to its own trace, every body spec-valid; a failing task and
//! a failing metric are recorded on their items and the run goes on; a missing argument names
//! itself; cancellation ends with what was scored, linked and flushed; a dropped evaluation
//! still links what finished; a local dataset runs with no server at all.

mod common;

use fake_opik::FakeOpik;
use opik::evaluation::metrics::{Equals, LevenshteinRatio, RegexMatch};
use opik::evaluation::{
    metric_fn, Dataset, EvaluateOptions, Metric, MetricArgs, MetricErrorKind, MetricResult,
    ScoreResult, SyncMetric,
};
use opik::Opik;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn opik_for(server: &FakeOpik) -> Opik {
    Opik::new(common::client_for(server))
}

async fn dataset_of(opik: &Opik, name: &str, n: usize) -> Dataset {
    let dataset = opik.dataset(name).await.unwrap();
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"input": {"n": i}, "expected": format!("answer {i}")}))
        .collect();
    assert_eq!(dataset.insert(items).await.unwrap().inserted, n);
    dataset
}

fn three_metrics() -> Vec<Box<dyn Metric>> {
    vec![
        Box::new(Equals::new()),
        Box::new(LevenshteinRatio::new()),
        Box::new(
            RegexMatch::new(r"^answer \d+$")
                .unwrap()
                .name("says_answer"),
        ),
    ]
}

#[derive(Deserialize)]
struct Item {
    id: uuid::Uuid,
    input: Input,
}

#[derive(Deserialize)]
struct Input {
    n: u64,
}

#[opik::track]
async fn answer(n: u64) -> String {
    tokio::time::sleep(Duration::from_millis(20)).await;
    if n % 2 == 0 {
        format!("answer {n}")
    } else {
        format!("answer {}", n + 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_items_three_metrics_at_concurrency_eight() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let dataset = dataset_of(&opik, "fifty", 50).await;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (r, m) = (Arc::clone(&running), Arc::clone(&most));
    let result = opik::evaluate(
        &dataset,
        move |item: Item| {
            let (running, most) = (Arc::clone(&r), Arc::clone(&m));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let output = answer(item.input.n).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(json!({"output": output, "item": item.id}))
            }
        },
        three_metrics(),
        EvaluateOptions::new()
            .experiment_name("fifty-run")
            .experiment_config(&json!({"model": "stand-in", "prompt": "v1"}))
            .concurrency(8)
            .scoring_key_mapping([("reference", "expected")]),
    )
    .await
    .unwrap();

    assert_eq!(most.load(Ordering::SeqCst), 8, "eight at once, never more");
    assert_eq!(result.items.len(), 50);
    assert!(!result.cancelled && !result.local);
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let equals = result.stat("equals_metric").unwrap();
    assert_eq!((equals.count, equals.mean, equals.failed), (50, 0.5, 0));
    assert_eq!(result.stat("says_answer").unwrap().mean, 1.0);
    let table = result.to_string();
    assert!(table.contains("levenshtein_ratio_metric"), "{table}");

    // The experiment and its links.
    let experiment = server
        .experiment("fifty-run")
        .expect("the experiment exists");
    assert_eq!(experiment["id"], result.experiment_id.to_string());
    assert_eq!(experiment["metadata"]["prompt"], "v1");
    assert_eq!(experiment["status"], "completed");
    let traces = server.traces();
    assert_eq!(traces.len(), 50);
    let by_id: HashMap<&str, &Value> = traces
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t))
        .collect();
    let links = server.experiment_items();
    assert_eq!(links.len(), 50);
    let mut linked_items = HashSet::new();
    for link in &links {
        assert_eq!(link.experiment_id, result.experiment_id.to_string());
        let trace = by_id[link.trace_id.as_str()];
        assert_eq!(
            trace["input"]["id"], link.dataset_item_id,
            "the link pairs item and its trace"
        );
        assert_eq!(trace["source"], "experiment");
        assert_eq!(trace["name"], "evaluation_task");
        assert_eq!(trace["output"]["item"], link.dataset_item_id);
        assert!(linked_items.insert(link.dataset_item_id.clone()));
    }
    let item_ids: HashSet<String> = server
        .dataset_items("fifty")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(linked_items, item_ids);

    // Spans: per trace the task (with the tracked call inside) and the metrics.
    let spans = server.spans();
    assert_eq!(
        spans.len(),
        50 * 6,
        "task, answer, metrics_calculation, three metrics"
    );
    let span_by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s))
        .collect();
    for s in &spans {
        let parent = s["parent_span_id"]
            .as_str()
            .map(|p| span_by_id[p]["name"].clone());
        let expected_parent = match s["name"].as_str().unwrap() {
            "task" | "metrics_calculation" => None,
            "answer" => Some(json!("task")),
            _ => Some(json!("metrics_calculation")),
        };
        assert_eq!(parent, expected_parent, "{s}");
        assert!(by_id.contains_key(s["trace_id"].as_str().unwrap()));
    }
    let scores = server.feedback_scores("/traces/feedback-scores");
    assert_eq!(scores.len(), 150);
    for s in &scores {
        assert!(by_id.contains_key(s["id"].as_str().unwrap()));
    }
    // Each experiment item was posted after its trace was delivered.
    let requests = server.requests();
    let first_link = requests
        .iter()
        .position(|r| r.path.ends_with("/experiments/items"))
        .unwrap();
    let traces_before: usize = requests[..first_link]
        .iter()
        .filter(|r| r.path.ends_with("/traces/batch"))
        .map(|r| {
            r.body.as_ref().unwrap()["traces"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    let first_batch = requests[first_link].body.as_ref().unwrap()["experiment_items"]
        .as_array()
        .unwrap();
    assert!(traces_before >= first_batch.len());
    server.assert_valid();
}

/// Fails on the item whose `n` is 3.
struct Fussy;

impl SyncMetric for Fussy {
    fn name(&self) -> &str {
        "fussy"
    }
    fn score(&self, args: &MetricArgs) -> MetricResult {
        if args.get("input").unwrap()["n"] == 3 {
            panic!("fussy cannot score 3");
        }
        Ok(vec![ScoreResult::new("fussy", 1.0).with_reason("fine")])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_task_and_a_failing_metric_are_recorded_and_the_run_goes_on() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let dataset = dataset_of(&opik, "failing", 6).await;
    let metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(Fussy),
        // Needs `reference`, which nothing maps: a recorded error naming it.
        Box::new(Equals::new()),
        Box::new(metric_fn("nan", |_| Ok(ScoreResult::new("nan", f64::NAN)))),
    ];
    let result = opik::evaluate(
        &dataset,
        |item: Item| async move {
            if item.input.n == 1 {
                return Err(std::io::Error::other("the model is down"));
            }
            Ok(format!("answer {}", item.input.n))
        },
        metrics,
        EvaluateOptions::new().concurrency(3),
    )
    .await
    .unwrap();
    assert_eq!(result.items.len(), 6);
    assert_eq!(result.task_errors(), 1);
    let failed = result
        .items
        .iter()
        .find(|i| i.task_error.is_some())
        .unwrap();
    let error = failed.task_error.as_ref().unwrap();
    assert_eq!(error.exception_type, "std::io::error::Error");
    assert_eq!(error.message.as_deref(), Some("the model is down"));
    assert!(failed.scores.is_empty() && failed.metric_errors.is_empty());
    let trace = server
        .traces()
        .into_iter()
        .find(|t| {
            Some(t["id"].as_str().unwrap()) == failed.trace_id.map(|i| i.to_string()).as_deref()
        })
        .unwrap();
    assert_eq!(trace["error_info"]["message"], "the model is down");

    let fussy = result.stat("fussy").unwrap();
    assert_eq!((fussy.count, fussy.failed), (4, 1));
    let panicked = result
        .items
        .iter()
        .flat_map(|i| &i.metric_errors)
        .find(|e| e.metric == "fussy")
        .unwrap();
    assert_eq!(panicked.kind, MetricErrorKind::Failed);
    assert!(panicked.message.contains("fussy cannot score 3"));
    let missing = result
        .items
        .iter()
        .flat_map(|i| &i.metric_errors)
        .find(|e| e.metric == "equals_metric")
        .unwrap();
    assert_eq!(missing.kind, MetricErrorKind::MissingArgument);
    assert!(
        missing.message.contains("`reference`")
            && missing.message.contains("expected, id, input, output"),
        "{missing}"
    );
    let nan = result.stat("nan").unwrap();
    assert_eq!(
        (nan.count, nan.failed),
        (0, 5),
        "a NaN is not a score Opik takes"
    );
    // The metric spans carry the errors.
    let spans = server.spans();
    let fussy_errors = spans
        .iter()
        .filter(|s| s["name"] == "fussy" && s.get("error_info").is_some())
        .count();
    assert_eq!(fussy_errors, 1);
    assert_eq!(
        spans
            .iter()
            .filter(|s| s["name"] == "equals_metric" && s.get("error_info").is_some())
            .count(),
        5
    );
    // Only valid scores were logged: fussy on 4 items.
    assert_eq!(server.feedback_scores("/traces/feedback-scores").len(), 4);
    assert_eq!(
        server.experiment_items().len(),
        6,
        "failed items are linked too"
    );
    server.assert_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_ends_with_what_was_scored_linked_and_flushed() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let dataset = dataset_of(&opik, "cancelled", 40).await;
    let done = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Arc::new(std::sync::Mutex::new(Some(stop_tx)));
    let d = Arc::clone(&done);
    let result = opik::evaluate(
        &dataset,
        move |item: Item| {
            let (done, stop) = (Arc::clone(&d), Arc::clone(&stop_tx));
            async move {
                if done.load(Ordering::SeqCst) >= 10 {
                    if let Some(tx) = stop.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    std::future::pending::<()>().await; // never finishes: cancelled
                }
                done.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(format!("answer {}", item.input.n))
            }
        },
        three_metrics(),
        EvaluateOptions::new()
            .experiment_name("stopped")
            .concurrency(4)
            .scoring_key_mapping([("reference", "expected")])
            .cancel_on(async {
                let _ = stop_rx.await;
            }),
    )
    .await
    .unwrap();
    assert!(result.cancelled);
    let n = result.items.len();
    // Ten tasks finished before the stop, but up to `concurrency` of them may still have been
    // scoring when it came: those are cancelled with the rest.
    assert!((10 - 4..40).contains(&n), "{n}");
    assert!(result.items.iter().all(|i| i.scores.len() == 3));
    assert_eq!(
        server.experiment_items().len(),
        n,
        "what finished is linked"
    );
    assert_eq!(
        server.feedback_scores("/traces/feedback-scores").len(),
        3 * n
    );
    let cancelled: Vec<Value> = server
        .traces()
        .into_iter()
        .filter(|t| t["error_info"]["exception_type"] == "cancelled")
        .collect();
    assert!(
        !cancelled.is_empty(),
        "the running items' traces end as cancelled"
    );
    assert_eq!(server.traces().len(), n + cancelled.len());
    assert_eq!(server.experiment("stopped").unwrap()["status"], "cancelled");
    server.assert_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_evaluation_still_links_what_finished() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let dataset = dataset_of(&opik, "dropped", 20).await;
    let done = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&done);
    let run = opik::evaluate(
        &dataset,
        move |item: Item| {
            let done = Arc::clone(&d);
            async move {
                if done.fetch_add(1, Ordering::SeqCst) >= 5 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, std::io::Error>(format!("answer {}", item.input.n))
            }
        },
        three_metrics(),
        EvaluateOptions::new()
            .experiment_name("dropped-run")
            .concurrency(2)
            .scoring_key_mapping([("reference", "expected")]),
    );
    assert!(tokio::time::timeout(Duration::from_millis(500), run)
        .await
        .is_err());
    // The linker finishes in the background.
    let linked = server.wait_until(Duration::from_secs(10), |s| {
        s.experiment("dropped-run")
            .is_some_and(|e| e["status"] == "cancelled")
    });
    assert!(linked, "the experiment was finished as cancelled");
    assert_eq!(server.experiment_items().len(), 5);
    server.assert_valid();
}

#[tokio::test]
async fn a_local_dataset_runs_without_a_server() {
    let path =
        std::env::temp_dir().join(format!("opik-rs-eval-local-{}.jsonl", std::process::id()));
    std::fs::write(
        &path,
        "{\"input\": {\"n\": 1}, \"expected\": \"answer 1\"}\n{\"input\": {\"n\": 2}, \"expected\": \"answer 3\"}\n",
    )
    .unwrap();
    let dataset = Dataset::from_jsonl("local-ds", &path).unwrap();
    let recorded = opik::testing::Recorder::new();
    let client = Opik::new(recorded.client().clone());
    let result = opik::evaluate(
        &dataset,
        |item: Item| async move { Ok::<_, std::io::Error>(format!("answer {}", item.input.n)) },
        three_metrics(),
        EvaluateOptions::new()
            .client(client)
            .experiment_name("offline")
            .scoring_key_mapping([("reference", "expected")]),
    )
    .await
    .unwrap();
    assert!(result.local);
    assert_eq!(result.stat("equals_metric").unwrap().mean, 0.5);
    let recorded = recorded.recorded();
    assert_eq!(recorded.traces().len(), 2);
    for t in recorded.traces() {
        assert_eq!(t["source"], "experiment");
        assert_eq!(t["metadata"]["experiment"]["name"], "offline");
    }
    assert_eq!(recorded.feedback_scores().len(), 6);
    let _ = std::fs::remove_file(&path);
}
