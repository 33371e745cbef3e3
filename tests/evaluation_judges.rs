//! Issue 15, LLM-judge metrics: `Hallucination`, `AnswerRelevance`, `GEval` (with its one-time
//! evaluation-steps call) and `Moderation` asked of a fake OpenAI-compatible judge on loopback
//! through `evaluate`: the requests carry the model, the messages and the strict
//! `response_format`; the scores are parsed strictly; a malformed answer and an unavailable
//! judge are recorded metric errors, never panics; the judge's usage lands on the metric span.

use fake_opik::openai::{Answer, FakeOpenAi};
use opik::evaluation::metrics::{AnswerRelevance, GEval, Hallucination, Moderation};
use opik::evaluation::{Dataset, EvaluateOptions, Judge, Metric, MetricArgs, MetricErrorKind};
use opik::Opik;
use serde_json::{json, Value};

/// A fake OpenAI-compatible chat endpoint (fake-opik's) that answers each
/// `/chat/completions` from the judge prompt it is given, and keeps the request bodies.
struct FakeJudge(FakeOpenAi);

/// What the judge says to a request: (status, the assistant's text).
fn verdict(body: &Value) -> (u16, String) {
    let system = body["messages"][0]["content"].as_str().unwrap_or("");
    let user = body["messages"][1]["content"].as_str().unwrap_or("");
    if user.contains("MALFORMED") {
        return (200, "Looks fine to me!".to_owned());
    }
    if user.contains("OUT-OF-RANGE") {
        return (200, r#"{"score": 1.7, "reason": "very unsafe"}"#.to_owned());
    }
    if user.contains("DOWN") {
        return (503, "upstream down".to_owned());
    }
    let text = if system.contains("fact-checking judge") {
        json!({"score": 0.0, "reason": ["Every claim is supported."]}).to_string()
    } else if system.contains("answer relevance") {
        format!(
            "```json\n{}\n```",
            json!({"answer_relevance_score": 0.8, "reason": "Mostly on topic."})
        )
    } else if system.contains("design evaluation procedures") {
        "1. Check the tip names a concrete action.\n2. Check it is encouraging.".to_owned()
    } else if system.contains("You are an evaluator") {
        assert!(
            system.contains("EVALUATION STEPS:\n1. Check the tip"),
            "{system}"
        );
        json!({"score": 7, "reason": "Concrete and kind."}).to_string()
    } else if system.contains("content-safety reviewer") {
        json!({"score": 0.0, "reason": "Safe."}).to_string()
    } else {
        return (400, format!("unknown prompt: {system}"));
    };
    (200, text)
}

impl FakeJudge {
    fn start() -> FakeJudge {
        FakeJudge(FakeOpenAi::answering(|request| {
            // A judge that calls the wrong endpoint or without the key is answered as OpenAI
            // would, which the tests see as a failed metric.
            if request.method != "POST" || request.path != "/v1/chat/completions" {
                return Answer::Json(404, json!({"error": {"message": request.path}}));
            }
            if request.authorization.as_deref() != Some("Bearer sk-test") {
                return Answer::Json(401, json!({"error": {"message": "no key"}}));
            }
            let (status, text) = verdict(&request.body);
            let body = if status == 200 {
                json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                    "model": "judge-model-2026",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
                })
            } else {
                json!({"error": {"message": text, "type": "server_error"}})
            };
            Answer::Json(status, body)
        }))
    }

    fn judge(&self) -> Judge {
        Judge::new("judge-model")
            .base_url(self.0.base_url())
            .api_key("sk-test")
            .max_retries(1)
    }

    fn bodies(&self) -> Vec<Value> {
        self.0.bodies()
    }
}

fn local_dataset(rows: &[Value]) -> Dataset {
    let path = std::env::temp_dir().join(format!(
        "opik-rs-judges-{}-{}.jsonl",
        std::process::id(),
        rows.len()
    ));
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let dataset = Dataset::from_jsonl("judged", &path).unwrap();
    let _ = std::fs::remove_file(&path);
    dataset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_judges_score_through_an_openai_compatible_endpoint() {
    let fake = FakeJudge::start();
    let judge = fake.judge();
    let dataset = local_dataset(&[
        json!({"input": "I rush the descending run", "context": ["The player rushes descending runs."]}),
        json!({"input": "My thumb hurts", "context": ["Thumb tension while fretting."]}),
        json!({"input": "MALFORMED please", "context": ["x"]}),
    ]);
    let metrics: Vec<Box<dyn Metric>> = vec![
        Box::new(judge.metric(Hallucination::new())),
        Box::new(judge.metric(AnswerRelevance::new())),
        Box::new(judge.metric(GEval::new(
            "You grade a guitar teacher's live tip.",
            "A good tip names one concrete action and is encouraging.",
        ))),
        Box::new(judge.metric(Moderation::new())),
    ];
    let recorder = opik::testing::Recorder::new();
    let result = opik::evaluate(
        &dataset,
        |item: Value| async move {
            Ok::<_, std::io::Error>(format!("Tip for: {}", item["input"].as_str().unwrap_or("")))
        },
        metrics,
        EvaluateOptions::new()
            .client(Opik::new(recorder.client().clone()))
            .concurrency(3),
    )
    .await
    .unwrap();

    assert_eq!(result.items.len(), 3);
    let h = result.stat("hallucination_metric").unwrap();
    assert_eq!((h.count, h.mean, h.failed), (2, 0.0, 1));
    assert_eq!(result.stat("answer_relevance_metric").unwrap().mean, 0.8);
    assert_eq!(
        result.stat("g_eval_metric").unwrap().mean,
        0.7,
        "0-10 normalized"
    );
    assert_eq!(result.stat("moderation_metric").unwrap().mean, 0.0);
    let item = result
        .items
        .iter()
        .find(|i| i.score("g_eval_metric").is_some())
        .unwrap();
    assert_eq!(
        item.score("g_eval_metric").unwrap().reason.as_deref(),
        Some("Concrete and kind.")
    );
    // The malformed answers are the third item's errors, one per judge.
    let malformed = result
        .items
        .iter()
        .find(|i| !i.metric_errors.is_empty())
        .unwrap();
    assert_eq!(malformed.metric_errors.len(), 4);
    for e in &malformed.metric_errors {
        assert_eq!(e.kind, MetricErrorKind::MalformedAnswer, "{e}");
        assert!(e.message.contains("Looks fine to me!"), "{e}");
    }

    // What was asked: G-Eval's steps once, then one call per judge and item.
    let bodies = fake.bodies();
    let steps = bodies
        .iter()
        .filter(|b| {
            b["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("design evaluation")
        })
        .count();
    assert_eq!(steps, 1, "the evaluation steps are asked once per metric");
    assert_eq!(bodies.len(), 1 + 4 * 3);
    for b in &bodies {
        assert_eq!(b["model"], "judge-model");
        assert_eq!(b["temperature"], 0.0);
    }
    let scored: Vec<&Value> = bodies
        .iter()
        .filter(|b| b.get("response_format").is_some())
        .collect();
    assert_eq!(scored.len(), 12);
    assert!(scored
        .iter()
        .all(|b| b["response_format"]["type"] == "json_schema"));

    // The judge's model and usage are on the metric spans.
    let recorded = recorder.recorded();
    let spans = recorded.spans_named("hallucination_metric");
    assert_eq!(spans.len(), 3);
    assert!(spans.iter().all(|s| s["model"] == "judge-model-2026"));
    assert!(spans.iter().all(|s| s["usage"]["total_tokens"] == 132));
    assert_eq!(recorded.feedback_scores().len(), 2 * 4);
}

#[tokio::test]
async fn out_of_range_and_unavailable_judges_are_metric_errors() {
    let fake = FakeJudge::start();
    let moderation = fake.judge().metric(Moderation::new());
    let score = |output: &str| {
        let args = MetricArgs::from_json(json!({"output": output}));
        let metric = moderation.clone();
        async move { metric.score(&args).await }
    };
    let e = score("OUT-OF-RANGE").await.unwrap_err();
    assert_eq!(e.kind, MetricErrorKind::MalformedAnswer);
    assert!(e.message.contains("outside [0, 1]"), "{e}");
    let e = score("DOWN").await.unwrap_err();
    assert_eq!(e.kind, MetricErrorKind::JudgeUnavailable);
    assert!(
        e.message.contains("HTTP 503") && e.message.contains("upstream down"),
        "{e}"
    );
    assert_eq!(fake.bodies().len(), 1 + 2, "a 503 is retried once");
    // A judge nobody listens on.
    let nowhere = Judge::new("m")
        .base_url("http://127.0.0.1:9/v1")
        .max_retries(0);
    let args = MetricArgs::from_json(json!({"output": "hi"}));
    let e = nowhere
        .metric(Moderation::new())
        .score(&args)
        .await
        .unwrap_err();
    assert_eq!(e.kind, MetricErrorKind::JudgeUnavailable);
    // AnswerRelevance needs context unless told otherwise: a missing-argument error.
    let args = MetricArgs::from_json(json!({"input": "q", "output": "a"}));
    let e = fake
        .judge()
        .metric(AnswerRelevance::new())
        .score(&args)
        .await
        .unwrap_err();
    assert_eq!(e.kind, MetricErrorKind::MissingArgument);
    let ok = fake
        .judge()
        .metric(AnswerRelevance::new().require_context(false))
        .score(&args)
        .await
        .unwrap();
    assert_eq!(ok[0].value, 0.8);
}
