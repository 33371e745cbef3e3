//! One dataset item's run, recorded as the Python SDK records it: a trace `evaluation_task`
//! (source `experiment`, the item's content as input, the task's output as output) with a span
//! `task` the task runs in (its tracked calls nest there), and a span `metrics_calculation`
//! with one span per metric; every score is the trace's feedback score. A failing task is the
//! trace's `error_info` (no metric runs); a failing metric, its span's. Panics are caught.
//! An item cancelled mid-run (the evaluation stopped, or dropped) ends its trace and spans
//! with a `cancelled` error.

use super::args::MetricArgs;
use super::item::DatasetItem;
use super::metric::{MetricError, MetricErrorKind, ScoreResult};
use super::result::ItemResult;
use super::scoring::Metric;
use crate::api::{Opik, SpanHandle, TraceHandle};
use crate::model::{panic_message, ErrorInfo, Score, TraceSource};
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The name of each item's trace (the Python SDK's `EVALUATION_TASK_NAME`).
pub(crate) const TRACE_NAME: &str = "evaluation_task";
/// The span the metrics run under (the Python SDK's name).
const METRICS_SPAN: &str = "metrics_calculation";

/// What every item's run shares.
pub(crate) struct RunContext<F> {
    pub(crate) opik: Opik,
    pub(crate) task: F,
    pub(crate) metrics: Vec<Box<dyn Metric>>,
    pub(crate) mapping: BTreeMap<String, String>,
    pub(crate) task_span_name: String,
    pub(crate) task_timeout: Option<Duration>,
    /// Metadata every trace gets (a local experiment's name and the item's id go there).
    pub(crate) local_experiment: Option<String>,
    pub(crate) warned_mapping: AtomicBool,
}

/// Ends a trace when dropped before the run finished, as cancelled.
struct TraceGuard(TraceHandle);

impl Drop for TraceGuard {
    fn drop(&mut self) {
        self.0.update(|t| {
            t.error_info(cancelled());
        });
        self.0.end();
    }
}

/// Ends a span when dropped before it was ended, as cancelled.
struct SpanGuard(SpanHandle);

impl Drop for SpanGuard {
    fn drop(&mut self) {
        self.0.update(|s| {
            s.error_info(cancelled());
        });
        self.0.end();
    }
}

fn cancelled() -> ErrorInfo {
    ErrorInfo::new(
        "cancelled",
        "the evaluation stopped before this item finished",
    )
}

/// Runs the task and the metrics on `item`.
pub(crate) async fn run_item<T, F, Fut, O, E>(ctx: &RunContext<F>, item: DatasetItem) -> ItemResult
where
    T: DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    O: Serialize,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let content = item.content();
    let trace = TraceGuard(ctx.opik.trace(TRACE_NAME));
    trace.0.update(|t| {
        t.input(&content).source(TraceSource::Experiment);
        if let Some(experiment) = &ctx.local_experiment {
            t.metadata(&json!({"experiment": {"name": experiment, "dataset_item_id": item.id}}));
        }
    });
    let task_span = SpanGuard(trace.0.span(ctx.task_span_name.clone()));
    task_span.0.update(|s| {
        s.input(&content);
    });
    let started = Instant::now();
    let outcome = task_span
        .0
        .scope(run_task::<T, F, Fut, O, E>(ctx, &item))
        .await;
    let task_duration = started.elapsed();
    let mut result = ItemResult {
        dataset_item_id: item.id,
        trace_id: trace.0.id(),
        input: content,
        output: None,
        task_error: None,
        scores: Vec::new(),
        metric_errors: Vec::new(),
        task_duration,
    };
    match outcome {
        Ok(output) => {
            task_span.0.update(|s| {
                s.output(&output);
            });
            task_span.0.end();
            trace.0.update(|t| {
                t.output(&output);
            });
            score_item(ctx, &trace.0, &mut result, &output).await;
            result.output = Some(output);
        }
        Err(error) => {
            task_span.0.update(|s| {
                s.error_info(error.clone());
            });
            task_span.0.end();
            trace.0.update(|t| {
                t.error_info(error.clone());
            });
            result.task_error = Some(error);
        }
    }
    trace.0.end();
    result
}

/// The task's output as JSON, or why there is none.
async fn run_task<T, F, Fut, O, E>(
    ctx: &RunContext<F>,
    item: &DatasetItem,
) -> Result<Value, ErrorInfo>
where
    T: DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    O: Serialize,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let input: T = item.deserialize().map_err(|e| {
        ErrorInfo::new(
            "DatasetItemMismatch",
            format!(
                "the dataset item does not deserialize into the task's input type {}: {e}",
                std::any::type_name::<T>()
            ),
        )
    })?;
    // The call inside the future: a task that panics before its first await is caught too.
    let run = AssertUnwindSafe(async { (ctx.task)(input).await }).catch_unwind();
    let finished = match ctx.task_timeout {
        Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| {
            ErrorInfo::new(
                "timeout",
                format!("the task did not finish within {limit:?}"),
            )
        })?,
        None => run.await,
    };
    match finished {
        Err(panic) => Err(ErrorInfo::new("panic", panic_message(&*panic))),
        Ok(Err(e)) => Err(error_info(std::any::type_name::<E>(), e.into())),
        Ok(Ok(output)) => serde_json::to_value(&output).map_err(|e| {
            ErrorInfo::new(
                "SerializationError",
                format!("the task's output does not serialize as JSON: {e}"),
            )
        }),
    }
}

/// The task's error as Opik's `error_info`: its type, message, and `source()` chain.
fn error_info(type_name: &str, error: Box<dyn std::error::Error + Send + Sync>) -> ErrorInfo {
    let mut traceback = format!("{error:?}");
    let mut source = error.source();
    while let Some(s) = source {
        traceback.push_str("\ncaused by: ");
        traceback.push_str(&s.to_string());
        source = s.source();
    }
    ErrorInfo::new(type_name, error.to_string()).with_traceback(traceback)
}

/// Runs every metric on the item (concurrently), each in its own span, and logs the scores.
async fn score_item<F>(
    ctx: &RunContext<F>,
    trace: &TraceHandle,
    result: &mut ItemResult,
    output: &Value,
) {
    if ctx.metrics.is_empty() {
        return;
    }
    let (args, unmatched) = MetricArgs::for_item(&result.input, Some(output), &ctx.mapping);
    if !unmatched.is_empty() && !ctx.warned_mapping.swap(true, Ordering::Relaxed) {
        let available: Vec<&str> = args.names().collect();
        tracing::warn!(target: "opik", "opik: scoring_key_mapping names {unmatched:?}, which the dataset item and the task output do not have (they have {available:?})");
    }
    let parent = SpanGuard(trace.span(METRICS_SPAN));
    parent.0.update(|s| {
        s.input(args.as_map());
    });
    let runs = ctx
        .metrics
        .iter()
        .map(|m| score_one(&**m, &args, &parent.0));
    let outcomes = futures_util::future::join_all(runs).await;
    for outcome in outcomes {
        match outcome {
            Ok(scores) => {
                for score in scores {
                    let mut logged = Score::new(score.name.clone(), score.value);
                    if let Some(reason) = &score.reason {
                        logged = logged.reason(reason.clone());
                    }
                    match trace.log_score(logged) {
                        Ok(()) => result.scores.push(score),
                        Err(e) => result.metric_errors.push(MetricError::new(
                            score.name.clone(),
                            MetricErrorKind::Failed,
                            format!("its score cannot be logged: {e}"),
                        )),
                    }
                }
            }
            Err(e) => result.metric_errors.push(e),
        }
    }
    parent.0.update(|s| {
        s.output(&json!({"scores": result.scores, "errors": result.metric_errors}));
    });
    parent.0.end();
}

/// One metric in its span; the error's `metric` is the metric's name when it left it empty.
async fn score_one(
    metric: &dyn Metric,
    args: &MetricArgs,
    parent: &SpanHandle,
) -> Result<Vec<ScoreResult>, MetricError> {
    let name = metric.name().to_owned();
    let span = SpanGuard(parent.span(name.clone()));
    span.0.update(|s| {
        s.input(args.as_map());
    });
    // A sync metric scores when `score` is called: the call goes inside the caught future.
    let run = AssertUnwindSafe(async { metric.score(args).await }).catch_unwind();
    let outcome = match span.0.scope(run).await {
        Err(panic) => Err(MetricError::new(
            name.clone(),
            MetricErrorKind::Failed,
            format!("the metric panicked: {}", panic_message(&*panic)),
        )),
        Ok(Err(mut e)) => {
            if e.metric.is_empty() {
                e.metric = name.clone();
            }
            Err(e)
        }
        Ok(Ok(scores)) => Ok(scores),
    };
    match &outcome {
        Ok(scores) => {
            let scores = Map::from_iter([("scores".to_owned(), json!(scores))]);
            span.0.update(|s| {
                s.output(&scores);
            });
        }
        Err(e) => {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "failed".to_owned());
            span.0.update(|s| {
                s.error_info(ErrorInfo::new(
                    format!("MetricError::{kind}"),
                    e.to_string(),
                ));
            });
        }
    }
    span.0.end();
    outcome
}
