//! FretCoach's next step: evaluate the live coach. Ten practice situations (what the pickup
//! measured, the reference tip a teacher would give) are a dataset; the live-coach task runs
//! on each with two prompt variants, as two experiments; heuristic metrics and a relevance
//! judge score the tips; the comparison table says which prompt coaches better.
//!
//! ```text
//! cargo run --example fretcoach_eval     # nothing configured: a local dataset, an offline
//!                                        # model and judge, traces in the local view
//! OPIK_URL_OVERRIDE=http://localhost:5173/api cargo run --example fretcoach_eval
//!                                        # the dataset and both experiments in Opik
//! OPENAI_API_KEY=... cargo run --example fretcoach_eval
//!                                        # the real model, and a real judge (OPENAI_BASE_URL honoured)
//! ```

#[path = "../fretcoach/llm.rs"]
#[allow(dead_code)]
mod llm;

use llm::{Llm, LlmError, Message, Speed, MODEL, PROVIDER};
use opik::evaluation::metrics::{AnswerRelevance, LevenshteinRatio};
use opik::evaluation::{
    metric_fn, BoxFuture, Comparison, Dataset, EvaluateOptions, Judge, Metric, MetricArgs,
    MetricResult, ScoreResult,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DATASET: &str = "fretcoach-practice-situations";

/// What the pickup and pitch tracker measured, and what the coach noticed.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Situation {
    scale: String,
    tempo_bpm: u32,
    accuracy_pct: f64,
    timing_offset_ms: f64,
    issue: String,
}

/// A dataset item as the task reads it.
#[derive(Deserialize)]
struct Item {
    input: Situation,
}

/// The two system prompts under test.
#[derive(Clone, Copy, Debug, Serialize)]
enum Prompt {
    /// The prompt FretCoach ships.
    Terse,
    /// Asks the coach to name what the metrics show first.
    MetricAware,
}

impl Prompt {
    fn system(self) -> &'static str {
        match self {
            Prompt::Terse => {
                "You are FretCoach, a guitar teacher listening live. One or two short, \
                 concrete, encouraging sentences."
            }
            Prompt::MetricAware => {
                "You are FretCoach, a guitar teacher listening live. Name the one problem the \
                 metrics show (rushing, dragging, a position shift, or a tempo ready to go \
                 up), then give one concrete fix, in at most two encouraging sentences."
            }
        }
    }
}

/// The live-coach task, as FretCoach runs it (see `examples/fretcoach`), for one situation.
#[opik::track(name = "live-coach-feedback", type = "llm", tags = ["live-coach", "live-feedback"], skip(llm))]
async fn live_coach_feedback(
    llm: &Llm,
    prompt: Prompt,
    situation: &Situation,
) -> Result<String, LlmError> {
    let messages = [
        Message::system(prompt.system()),
        Message::user(format!(
            "Scale: {}. Metrics for the last 15 s: {}",
            situation.scale,
            serde_json::to_string(situation).unwrap_or_default()
        )),
    ];
    opik::update_current_span(|s| {
        s.model(MODEL).provider(PROVIDER);
    });
    let completion = llm.chat(&messages, Duration::from_secs(8)).await?;
    if !completion.recorded {
        opik::update_current_span(|s| {
            s.usage(opik::Usage::new(
                completion.prompt_tokens,
                completion.completion_tokens,
            ));
        });
    }
    Ok(completion.text)
}

/// The relevance judge without a key: a deterministic stand-in for `AnswerRelevance`, the
/// share of the situation's issue words (five letters and up, compared by their first five)
/// that the tip speaks to.
struct StandInRelevance;

impl Metric for StandInRelevance {
    fn name(&self) -> &str {
        "answer_relevance_metric"
    }

    fn score<'a>(&'a self, args: &'a MetricArgs) -> BoxFuture<'a, MetricResult> {
        Box::pin(async move {
            let issue = args.require("input")?["issue"]
                .as_str()
                .unwrap_or("")
                .to_lowercase();
            let tip = args.text("output")?.to_lowercase();
            let stems: Vec<String> = issue
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.chars().count() >= 5)
                .map(|w| w.chars().take(5).collect())
                .collect();
            let hits = stems.iter().filter(|s| tip.contains(s.as_str())).count();
            let value = if stems.is_empty() {
                0.0
            } else {
                (2.0 * hits as f64 / stems.len() as f64).min(1.0)
            };
            Ok(vec![ScoreResult::new("answer_relevance_metric", value)
                .with_reason(format!(
                    "offline stand-in judge: {hits} of {} issue words addressed",
                    stems.len()
                ))])
        })
    }
}

fn metrics(judge: Option<&Judge>) -> Vec<Box<dyn Metric>> {
    let relevance: Box<dyn Metric> = match judge {
        Some(judge) => Box::new(judge.metric(AnswerRelevance::new().require_context(false))),
        None => Box::new(StandInRelevance),
    };
    vec![
        // How close the tip is to the teacher's (`reference` is mapped to `expected_tip`).
        Box::new(LevenshteinRatio::new()),
        Box::new(metric_fn("addresses_focus", |args| {
            let focus = args.text("focus")?.to_lowercase();
            let tip = args.text("output")?.to_lowercase();
            let hit = tip.contains(&focus) || tip.contains(focus.trim_end_matches("ing"));
            Ok(ScoreResult::new(
                "addresses_focus",
                if hit { 1.0 } else { 0.0 },
            ))
        })),
        Box::new(metric_fn("speakable", |args| {
            let words = args.text("output")?.split_whitespace().count();
            Ok(
                ScoreResult::new("speakable", if words <= 30 { 1.0 } else { 0.0 })
                    .with_reason(format!("{words} words")),
            )
        })),
        relevance,
    ]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter("opik=warn")
        .with_writer(std::io::stderr)
        .init();
    let guard = opik::init_or_local(opik::config::ConfigBuilder::new())?;
    let opik = opik::Opik::global();
    let situations =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fretcoach_eval/situations.jsonl");

    // In Opik when a server is configured (inserting the file again adds nothing), else local.
    let dataset = if opik.has_server() {
        let dataset = opik.dataset(DATASET).await?;
        let report = dataset.insert_jsonl(&situations).await?;
        println!(
            "dataset {DATASET:?} in Opik: {} situations added, {} already there",
            report.inserted, report.skipped
        );
        dataset
    } else {
        println!("dataset {DATASET:?}: local, from {}", situations.display());
        Dataset::from_jsonl(DATASET, &situations)?
    };

    let llm = Arc::new(Llm::from_env(Speed(1.0 / 20.0), None));
    let judge = (!llm.is_offline()).then(Judge::from_env);
    if llm.is_offline() {
        println!(
            "LLM and judge: offline stand-in (deterministic answers and relevance). Set \
             OPENAI_API_KEY to use a real model and a real judge."
        );
    }

    let mut results = Vec::new();
    for (name, prompt) in [
        ("coach-prompt-v1", Prompt::Terse),
        ("coach-prompt-v2", Prompt::MetricAware),
    ] {
        let offline = llm.is_offline();
        let task_llm = Arc::clone(&llm);
        let result = opik::evaluate(
            &dataset,
            move |item: Item| {
                let llm = Arc::clone(&task_llm);
                async move {
                    let tip = live_coach_feedback(&llm, prompt, &item.input).await?;
                    Ok::<_, LlmError>(serde_json::json!({ "output": tip }))
                }
            },
            metrics(judge.as_ref()),
            EvaluateOptions::new()
                .experiment_name(name)
                .experiment_config(&serde_json::json!({
                    "prompt": format!("{prompt:?}"),
                    "system_prompt": prompt.system(),
                    "model": MODEL,
                    "backend": if offline { "offline stand-in" } else { "openai-compatible" },
                }))
                .scoring_key_mapping([("reference", "expected_tip")])
                .concurrency(4)
                .cancel_on_ctrl_c(),
        )
        .await?;
        println!("{result}");
        results.push(result);
    }
    println!("Comparison:\n{}", Comparison::new(&results));
    if results.iter().any(|r| r.local) {
        println!(
            "(No Opik server: the experiments are the results above; every trace, span and \
             score is in the local view's JSON lines file.)"
        );
    }
    drop(guard);
    Ok(())
}
