//! [`evaluate`]: a task over a dataset's items, scored by metrics, as an experiment.
//!
//! The calls one evaluation of a server dataset makes, in order: `GET /datasets/{id}/versions`
//! (the version to pin), `GET /datasets/{id}` (the item count, for the progress bar),
//! `POST /experiments`, then pages of `POST /datasets/items/stream` (of that version) while
//! the items run; per item, through the exporter, a trace, its spans and its scores
//! (`POST /traces/batch`, `POST /spans/batch`, `PUT /traces/feedback-scores`); through the
//! linker (`linker`), after a flush, `POST /experiments/items`; at the end
//! `POST /experiments/finish`. A local dataset makes no REST call at all.

use super::dataset::Dataset;
use super::error::EvaluationError;
use super::item::DatasetItem;
use super::linker::{Linker, Message};
use super::options::EvaluateOptions;
use super::result::{EvaluationResult, ItemResult};
use super::run::{run_item, RunContext};
use super::scoring::Metric;
use crate::api::Opik;
use crate::model::{new_id, Timestamp};
use crate::rest::ExperimentWrite;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;

/// Items per page of the items stream while an evaluation reads them (the backend's default).
const PAGE: u32 = 500;

/// Runs `task` on every item of `dataset` (concurrently, bounded by
/// [`EvaluateOptions::concurrency`]), scores each output with `metrics`, and records the run
/// as an experiment: each item's task is a trace (source `experiment`) with the item as
/// input, the output as output and the task's tracked calls nested inside, each metric a span
/// of it, each score its feedback score, and an experiment item links the dataset item and
/// the trace.
///
/// The task gets the item's content (its data with `id`) as `T`: a `serde_json::Value`, or
/// any `Deserialize` type of yours. It returns a `Serialize` output (a JSON object's fields
/// become metric arguments; anything else is the argument `output`), or an error. A failing
/// (or panicking, or timed-out) task or metric is recorded on its item and the run goes on.
///
/// With a local dataset ([`Dataset::from_jsonl`]) nothing is asked of a server: the traces
/// go wherever the client records them (the local view's file, with `init_or_local`), and the
/// experiment is the returned result.
///
/// Stopping: see [`EvaluateOptions::cancel_on`]. Dropping the returned future cancels the
/// running items (their traces end as cancelled); what finished is still linked and the
/// experiment finished, in the background.
///
/// ```no_run
/// use opik::evaluation::{metrics::{Contains, LevenshteinRatio}, EvaluateOptions, Metric};
/// use serde_json::{json, Value};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let _guard = opik::init()?;
/// let dataset = opik::Opik::global().dataset("practice-situations").await?;
/// let metrics: Vec<Box<dyn Metric>> = vec![
///     Box::new(LevenshteinRatio::new()),
///     Box::new(Contains::new().reference("bpm").name("mentions_bpm")),
/// ];
/// let result = opik::evaluate(
///     &dataset,
///     |item: Value| async move {
///         let tempo = item["input"]["tempo_bpm"].as_u64().unwrap_or(80);
///         Ok::<_, std::io::Error>(json!({"output": format!("Steady at {tempo} bpm")}))
///     },
///     metrics,
///     EvaluateOptions::new()
///         .experiment_name("coach-v1")
///         .scoring_key_mapping([("reference", "expected_tip")]),
/// )
/// .await?;
/// println!("{result}");
/// # Ok(()) }
/// ```
pub async fn evaluate<T, F, Fut, O, E>(
    dataset: &Dataset,
    task: F,
    metrics: Vec<Box<dyn Metric>>,
    options: EvaluateOptions,
) -> Result<EvaluationResult, EvaluationError>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    O: Serialize + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let started = Instant::now();
    let EvaluateOptions {
        experiment_name,
        mut experiment_config,
        experiment_tags,
        prompts,
        concurrency,
        sample,
        filter,
        item_ids,
        mapping,
        project_name,
        client,
        progress,
        cancel,
        task_timeout,
        flush_timeout,
        task_span_name,
    } = options;
    let server = dataset.server().cloned();
    let mut opik = client
        .or_else(|| server.as_ref().map(|s| s.opik.clone()))
        .unwrap_or_else(Opik::global);
    if let Some(p) = &project_name {
        opik = opik.with_project(p);
    }
    let (recorder, project) = {
        let (c, p) = opik.parts();
        (c.cloned(), p.map(|p| p.to_string()))
    };
    let prompt_versions = link_prompts(&prompts, &mut experiment_config);
    let experiment_id = new_id(Timestamp::now());
    let experiment_name = experiment_name.unwrap_or_else(|| {
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(6)
            .collect();
        format!("{}-{suffix}", dataset.name())
    });

    // The experiment, on the server (pinned to the dataset's latest version), or local.
    let mut version = None;
    let mut total;
    let mut link = None;
    if let Some(server) = &server {
        let pinned = server.rest.latest_version(server.id).await?;
        total = server
            .rest
            .dataset_by_id(server.id)
            .await?
            .dataset_items_count;
        server
            .rest
            .create_experiment(&ExperimentWrite {
                id: experiment_id,
                name: &experiment_name,
                dataset_name: dataset.name(),
                project_name: project.as_deref(),
                metadata: experiment_config.as_ref(),
                tags: &experiment_tags,
                kind: "regular",
                evaluation_method: "dataset",
                dataset_version_id: pinned.as_ref().map(|v| v.id),
                prompt_versions: &prompt_versions,
            })
            .await?;
        version = pinned.map(|v| v.version_hash);
        link = Some(
            Linker {
                rest: server.rest.clone(),
                client: recorder.clone(),
                experiment_id,
                project_name: project.clone(),
                flush_timeout,
            }
            .spawn(),
        );
    } else {
        total = dataset.len().await.ok();
    }
    if filter.is_some() {
        total = None; // how many it keeps is known only at the end
    } else if let Some(ids) = &item_ids {
        total = Some(total.map_or(ids.len() as u64, |t| t.min(ids.len() as u64)));
    }
    if let Some(n) = sample {
        total = Some(total.map_or(n as u64, |t| t.min(n as u64)));
    }

    let ctx = Arc::new(RunContext {
        opik,
        task,
        metrics,
        mapping,
        task_span_name,
        task_timeout,
        local_experiment: server.is_none().then(|| experiment_name.clone()),
        warned_mapping: AtomicBool::new(false),
    });
    let bar = progress_bar(progress, total, &experiment_name);

    let items = dataset
        .items_of(version, PAGE)
        .filter(move |item| {
            let keep = match item {
                Ok(item) => {
                    item_ids.as_ref().is_none_or(|ids| ids.contains(&item.id))
                        && filter.as_ref().is_none_or(|f| f(item))
                }
                Err(_) => true,
            };
            std::future::ready(keep)
        })
        .take(sample.unwrap_or(usize::MAX));

    let mut results: Vec<(usize, ItemResult)> = Vec::new();
    let mut failure = None;
    let mut running: JoinSet<(usize, ItemResult)> = JoinSet::new();
    let links = link.as_ref().map(|(tx, _)| tx.clone());
    let work = run_all(
        items,
        &ctx,
        concurrency,
        &mut running,
        &mut results,
        &mut failure,
        links.as_ref(),
        bar.as_ref(),
    );
    let cancelled = match cancel {
        Some(signal) => tokio::select! {
            () = work => false,
            () = signal => true,
        },
        None => {
            work.await;
            false
        }
    };
    // Stopped: the items still running are cancelled, and their traces end as such before
    // anything is flushed. Those that finished meanwhile (their scores are logged) are kept.
    running.abort_all();
    while let Some(joined) = running.join_next().await {
        collect(joined, &mut results, links.as_ref(), bar.as_ref());
    }

    let mut warnings = Vec::new();
    if let Some((tx, handle)) = link {
        let _ = tx.send(Message::End { cancelled });
        drop(tx);
        drop(links);
        match handle.await {
            Ok(report) => warnings.extend(report.warnings),
            Err(e) => warnings.push(format!("the experiment's linker failed: {e}")),
        }
    }
    if let Some(client) = &recorder {
        let flushed = client.flush_async(flush_timeout).await;
        if !flushed.completed {
            warnings.push(format!(
                "not every trace and score was delivered within {flush_timeout:?}: {}",
                flushed.stats
            ));
        }
    }
    if let Some(bar) = &bar {
        bar.finish();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(EvaluationResult {
        experiment_id,
        experiment_name,
        dataset_name: dataset.name().to_owned(),
        local: server.is_none(),
        items: results.into_iter().map(|(_, r)| r).collect(),
        cancelled,
        duration: started.elapsed(),
        warnings,
    })
}

/// Starts an item whenever fewer than `concurrency` run, collecting the finished ones, until
/// the items run out (or reading them fails: the run stops there, that is `failure`).
#[allow(clippy::too_many_arguments)]
async fn run_all<T, F, Fut, O, E>(
    mut items: impl futures_util::Stream<Item = Result<DatasetItem, EvaluationError>> + Unpin,
    ctx: &Arc<RunContext<F>>,
    concurrency: usize,
    running: &mut JoinSet<(usize, ItemResult)>,
    results: &mut Vec<(usize, ItemResult)>,
    failure: &mut Option<EvaluationError>,
    links: Option<&tokio::sync::mpsc::UnboundedSender<Message>>,
    bar: Option<&indicatif::ProgressBar>,
) where
    T: DeserializeOwned + Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
    O: Serialize + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let mut finished = |joined| collect(joined, results, links, bar);
    let mut index = 0;
    loop {
        while running.len() >= concurrency {
            if let Some(joined) = running.join_next().await {
                finished(joined);
            }
        }
        let next = tokio::select! {
            biased;
            Some(joined) = running.join_next(), if !running.is_empty() => {
                finished(joined);
                continue;
            }
            next = items.next() => next,
        };
        match next {
            Some(Ok(item)) => {
                let ctx = Arc::clone(ctx);
                let i = index;
                index += 1;
                running.spawn(async move { (i, run_item::<T, F, Fut, O, E>(&ctx, item).await) });
            }
            Some(Err(e)) => {
                *failure = Some(e);
                break;
            }
            None => break,
        }
    }
    while let Some(joined) = running.join_next().await {
        finished(joined);
    }
}

/// Keeps a finished item's result and has it linked. A run never panics (the task's and
/// metrics' panics are caught); a join error is only the abort of a cancelled run, which is
/// not collected.
fn collect(
    joined: Result<(usize, ItemResult), tokio::task::JoinError>,
    results: &mut Vec<(usize, ItemResult)>,
    links: Option<&tokio::sync::mpsc::UnboundedSender<Message>>,
    bar: Option<&indicatif::ProgressBar>,
) {
    if let Ok((index, result)) = joined {
        if let (Some(tx), Some(trace_id)) = (links, result.trace_id) {
            let _ = tx.send(Message::Link {
                dataset_item_id: result.dataset_item_id,
                trace_id,
            });
        }
        if let Some(bar) = bar {
            bar.inc(1);
        }
        results.push((index, result));
    }
}

/// A progress bar on stderr when it is a terminal and `on`; nothing otherwise.
fn progress_bar(on: bool, total: Option<u64>, name: &str) -> Option<indicatif::ProgressBar> {
    if !on || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} items, {elapsed} elapsed, {eta} left",
    )
    .map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_prefix(name.to_owned());
    Some(bar)
}

/// The links of an experiment to the prompt versions its task uses (`prompt_versions`), and
/// their templates in its config under `prompts`, as the Python SDK's
/// `build_metadata_and_prompt_versions` makes them (a config that has `prompts` already
/// keeps it, and no link is made, as there).
fn link_prompts(
    prompts: &[crate::prompt::PromptVersion],
    config: &mut Option<serde_json::Map<String, serde_json::Value>>,
) -> Vec<uuid::Uuid> {
    if prompts.is_empty() {
        return Vec::new();
    }
    let config = config.get_or_insert_with(Default::default);
    if config.contains_key("prompts") {
        tracing::warn!(target: "opik", "opik: the experiment config has `prompts` already; the prompts given to evaluate are not linked");
        return Vec::new();
    }
    let mut templates = serde_json::Map::new();
    for p in prompts {
        let info = p.info();
        templates.insert(p.name().to_owned(), info["version"]["template"].clone());
    }
    config.insert("prompts".into(), serde_json::Value::Object(templates));
    prompts.iter().filter_map(|p| p.version_id()).collect()
}
