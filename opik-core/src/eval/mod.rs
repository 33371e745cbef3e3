//! Evaluation, Opik's second pillar: datasets, experiments, [`evaluate`] and metrics.
//!
//! - `dataset`, `item`, `client`: [`Dataset`]s kept by Opik (the [`Opik`](crate::Opik)
//!   client's `dataset`, `create_dataset`, `get_dataset`, `delete_dataset`) or local (a JSON
//!   lines file), their [`DatasetItem`]s, inserts de-duplicated by content as the Python SDK
//!   does, items read back as a paged stream;
//! - `engine`, `run`, `linker`, `options`, `result`: [`evaluate`] (the task over the items,
//!   concurrently, each run a trace with its metrics as spans and its scores as feedback
//!   scores, linked to the experiment once delivered), [`EvaluateOptions`],
//!   [`EvaluationResult`] and its table;
//! - `scoring`, `args`, `builtins`, `judge`: the [`Metric`] trait (and [`SyncMetric`],
//!   [`metric_fn`]), the named arguments metrics get, the heuristic metrics as metrics, and
//!   LLM judges over any OpenAI-compatible endpoint;
//! - `metric`: the metrics themselves (heuristics and judge prompts), with the Python SDK's
//!   names, ranges and reference values.
//!
//! Owns: everything evaluation. May import `rest`, `api`, `context`, `model`, `pipe` and
//! `config` (everything below `sdk`); nothing imports it but `sdk` and the crate root.

mod args;
mod builtins;
mod client;
mod dataset;
mod engine;
mod error;
mod item;
mod judge;
mod linker;
mod metric;
mod options;
mod result;
mod run;
mod scoring;

pub use args::MetricArgs;
pub use dataset::{Dataset, InsertReport};
pub use engine::evaluate;
pub use error::EvaluationError;
pub use item::DatasetItem;
pub use judge::{Judge, JudgePrompt, Judged, DEFAULT_JUDGE_MODEL, OPENAI_BASE_URL};
pub use metric::{MetricError, MetricErrorKind, ScoreResult};
pub use options::EvaluateOptions;
pub use result::{Comparison, EvaluationResult, ItemResult, MetricStats};
pub use scoring::{metric_fn, BoxFuture, FnMetric, Metric, MetricResult, SyncMetric};

/// The built-in metrics, with the Python SDK's names and score ranges. The heuristics are
/// [`SyncMetric`]s as they are; the LLM-judge prompts become metrics through
/// [`Judge::metric`].
pub mod metrics {
    pub use super::metric::{
        AnswerRelevance, AnswerRelevanceExample, Contains, CorpusBleu, Equals, GEval,
        Hallucination, HallucinationExample, IsJson, JudgeMessage, JudgeRole, LevenshteinRatio,
        Moderation, ModerationExample, RegexMatch, Rouge, RougeTokenizer, RougeType, SentenceBleu,
        Smoothing,
    };
}
