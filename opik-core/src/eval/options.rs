//! [`EvaluateOptions`]: everything `evaluate` can be told besides the dataset, the task and the
//! metrics.

use super::item::DatasetItem;
use super::scoring::BoxFuture;
use crate::api::Opik;
use crate::prompt::PromptVersion;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub(crate) type ItemFilter = Arc<dyn Fn(&DatasetItem) -> bool + Send + Sync>;

/// How [`evaluate`](super::evaluate) runs: the experiment's name and config, how many items at
/// once, which items, how metric arguments are named, where traces go, and when to stop.
///
/// ```
/// use opik::evaluation::EvaluateOptions;
/// let options = EvaluateOptions::new()
///     .experiment_name("coach-prompt-v2")
///     .experiment_config(&serde_json::json!({"prompt": "v2", "model": "gpt-4o-mini"}))
///     .concurrency(8)
///     .scoring_key_mapping([("reference", "expected_tip")])
///     .sample(20);
/// ```
pub struct EvaluateOptions {
    pub(crate) experiment_name: Option<String>,
    pub(crate) experiment_config: Option<Map<String, Value>>,
    pub(crate) experiment_tags: Vec<String>,
    pub(crate) prompts: Vec<PromptVersion>,
    pub(crate) concurrency: usize,
    pub(crate) sample: Option<usize>,
    pub(crate) filter: Option<ItemFilter>,
    pub(crate) item_ids: Option<HashSet<Uuid>>,
    pub(crate) mapping: BTreeMap<String, String>,
    pub(crate) project_name: Option<String>,
    pub(crate) client: Option<Opik>,
    pub(crate) progress: bool,
    pub(crate) cancel: Option<BoxFuture<'static, ()>>,
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) flush_timeout: Duration,
    pub(crate) task_span_name: String,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        EvaluateOptions::new()
    }
}

impl std::fmt::Debug for EvaluateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluateOptions")
            .field("experiment_name", &self.experiment_name)
            .field("concurrency", &self.concurrency)
            .field("sample", &self.sample)
            .field("mapping", &self.mapping)
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

impl EvaluateOptions {
    /// The defaults: a generated experiment name, as many items at once as the machine has
    /// cores, every item, the global client, a progress bar on a terminal.
    pub fn new() -> Self {
        EvaluateOptions {
            experiment_name: None,
            experiment_config: None,
            experiment_tags: Vec::new(),
            prompts: Vec::new(),
            concurrency: std::thread::available_parallelism().map_or(4, |n| n.get()),
            sample: None,
            filter: None,
            item_ids: None,
            mapping: BTreeMap::new(),
            project_name: None,
            client: None,
            progress: true,
            cancel: None,
            task_timeout: None,
            flush_timeout: Duration::from_secs(10),
            task_span_name: "task".to_owned(),
        }
    }

    /// The experiment's name (default: the dataset's name and a random suffix).
    pub fn experiment_name(mut self, name: impl Into<String>) -> Self {
        self.experiment_name = Some(name.into());
        self
    }

    /// What the experiment tried (prompt, model, temperature...): its metadata in Opik, shown
    /// next to its scores. A value that is not a JSON object goes under `config`.
    pub fn experiment_config<T: Serialize + ?Sized>(mut self, config: &T) -> Self {
        self.experiment_config = Some(match serde_json::to_value(config) {
            Ok(Value::Object(map)) => map,
            Ok(other) => Map::from_iter([("config".to_owned(), other)]),
            Err(e) => Map::from_iter([("config".to_owned(), Value::String(format!("<{e}>")))]),
        });
        self
    }

    /// The prompt versions the task uses: the experiment is linked to them in Opik (its
    /// `prompt_versions`), and their templates go into its config under `prompts`, name by
    /// name, as the Python SDK's `evaluate(prompts=...)` does. A version not from the library
    /// (made with `Prompt::new`) has no id to link and is recorded in the config only.
    pub fn prompts<'p, I, P>(mut self, prompts: I) -> Self
    where
        I: IntoIterator<Item = &'p P>,
        P: AsRef<PromptVersion> + 'p,
    {
        self.prompts = prompts.into_iter().map(|p| p.as_ref().clone()).collect();
        self
    }

    /// Tags of the experiment.
    pub fn experiment_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.experiment_tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// How many items run at once (at least 1; default the number of cores). Each item runs
    /// as its own tokio task, so a multi-threaded runtime spreads them over every core.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Evaluates only the first `n` items (after `filter` and `item_ids`).
    pub fn sample(mut self, n: usize) -> Self {
        self.sample = Some(n);
        self
    }

    /// Evaluates only the items `keep` accepts.
    pub fn filter(mut self, keep: impl Fn(&DatasetItem) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(Arc::new(keep));
        self
    }

    /// Evaluates only the items of these ids.
    pub fn item_ids(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.item_ids = Some(ids.into_iter().collect());
        self
    }

    /// Renames metric arguments: each `(argument, source)` passes the item's or the task
    /// output's field `source` (a dotted path reaches into objects) as `argument`. Python's
    /// `scoring_key_mapping`.
    pub fn scoring_key_mapping<I, A, S>(mut self, mapping: I) -> Self
    where
        I: IntoIterator<Item = (A, S)>,
        A: Into<String>,
        S: Into<String>,
    {
        self.mapping
            .extend(mapping.into_iter().map(|(a, s)| (a.into(), s.into())));
        self
    }

    /// The project the traces go to (default the client's).
    pub fn project_name(mut self, project: impl Into<String>) -> Self {
        self.project_name = Some(project.into());
        self
    }

    /// The client that records the traces (default: the dataset's, else `Opik::global()`).
    pub fn client(mut self, client: Opik) -> Self {
        self.client = Some(client);
        self
    }

    /// Whether to show a progress bar when stderr is a terminal (default true; nothing is
    /// drawn on a non-terminal either way).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Stops the evaluation when `signal` completes: no item starts after it, the running
    /// ones are cancelled (their traces recorded as cancelled), and `evaluate` returns what
    /// was scored so far, linked in the experiment and flushed, with `cancelled` set.
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cancel = Some(Box::pin(signal));
        self
    }

    /// [`cancel_on`](Self::cancel_on) Ctrl-C (`tokio::signal::ctrl_c`). While the evaluation
    /// runs, Ctrl-C stops it instead of the process. (Like every use of `tokio::signal`, this
    /// keeps tokio's SIGINT handler installed for the rest of the process: a later Ctrl-C
    /// outside an evaluation no longer ends it by default.)
    pub fn cancel_on_ctrl_c(self) -> Self {
        self.cancel_on(async {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handling here: never cancel.
                std::future::pending::<()>().await;
            }
        })
    }

    /// Gives up on a task that runs longer than `limit` (recorded as the item's error).
    pub fn task_timeout(mut self, limit: Duration) -> Self {
        self.task_timeout = Some(limit);
        self
    }

    /// How long the end of the run waits for traces and scores to be delivered (default 10 s).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// The name of the span the task runs in (default `task`, as in the Python SDK).
    pub fn task_span_name(mut self, name: impl Into<String>) -> Self {
        self.task_span_name = name.into();
        self
    }
}
