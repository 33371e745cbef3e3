//! The [`Metric`] trait `evaluate` scores with, its sync convenience [`SyncMetric`], and
//! [`metric_fn`] for a closure.

use super::args::MetricArgs;
use super::metric::{MetricError, ScoreResult};
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what [`Metric::score`] returns, so that the trait stays
/// object-safe (`Box<dyn Metric>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a metric gives for one item: one or more scores, or why it could not score.
pub type MetricResult = Result<Vec<ScoreResult>, MetricError>;

/// A metric: scores one item's arguments ([`MetricArgs`]: the dataset item's fields, the task
/// output's, and `scoring_key_mapping`'s) with one or more [`ScoreResult`]s.
///
/// Asynchronous, for metrics that call a model (the LLM judges); a metric that only computes
/// implements [`SyncMetric`] instead, or is a closure given to [`metric_fn`]. `evaluate` runs
/// every metric of an item as a span of the item's trace and logs every score as the trace's
/// feedback score; an `Err` (or a panic) is recorded on the span and in the item's result, and
/// the run goes on.
///
/// ```
/// use opik::evaluation::{BoxFuture, Metric, MetricArgs, MetricResult, ScoreResult};
///
/// /// 1.0 when the tip is short enough to be spoken between two bars.
/// struct Brief;
///
/// impl Metric for Brief {
///     fn name(&self) -> &str {
///         "brief"
///     }
///     fn score<'a>(&'a self, args: &'a MetricArgs) -> BoxFuture<'a, MetricResult> {
///         Box::pin(async move {
///             let words = args.text("output")?.split_whitespace().count();
///             Ok(vec![ScoreResult::new("brief", if words <= 25 { 1.0 } else { 0.0 })])
///         })
///     }
/// }
/// ```
pub trait Metric: Send + Sync {
    /// The metric's name: its span's, and its errors'.
    fn name(&self) -> &str;

    /// Scores one item.
    fn score<'a>(&'a self, args: &'a MetricArgs) -> BoxFuture<'a, MetricResult>;
}

/// A metric that scores without waiting on anything; every `SyncMetric` is a [`Metric`].
///
/// ```
/// use opik::evaluation::{MetricArgs, MetricResult, ScoreResult, SyncMetric};
///
/// struct MentionsTempo;
///
/// impl SyncMetric for MentionsTempo {
///     fn name(&self) -> &str {
///         "mentions_tempo"
///     }
///     fn score(&self, args: &MetricArgs) -> MetricResult {
///         let tip = args.text("output")?.to_lowercase();
///         let hit = tip.contains("bpm") || tip.contains("tempo");
///         Ok(vec![ScoreResult::new("mentions_tempo", f64::from(u8::from(hit)))])
///     }
/// }
/// ```
pub trait SyncMetric: Send + Sync {
    /// The metric's name: its span's, and its errors'.
    fn name(&self) -> &str;

    /// Scores one item.
    fn score(&self, args: &MetricArgs) -> MetricResult;
}

impl<M: SyncMetric> Metric for M {
    fn name(&self) -> &str {
        SyncMetric::name(self)
    }

    fn score<'a>(&'a self, args: &'a MetricArgs) -> BoxFuture<'a, MetricResult> {
        Box::pin(std::future::ready(SyncMetric::score(self, args)))
    }
}

/// A metric from a closure that gives one score.
///
/// ```
/// use opik::evaluation::{metric_fn, Metric, ScoreResult};
/// let short = metric_fn("short_tip", |args| {
///     let len = args.text("output")?.chars().count();
///     Ok(ScoreResult::new("short_tip", if len < 120 { 1.0 } else { 0.0 }))
/// });
/// assert_eq!(Metric::name(&short), "short_tip");
/// ```
pub fn metric_fn<F>(name: impl Into<String>, score: F) -> FnMetric<F>
where
    F: Fn(&MetricArgs) -> Result<ScoreResult, MetricError> + Send + Sync,
{
    FnMetric {
        name: name.into(),
        score,
    }
}

/// The metric [`metric_fn`] makes.
pub struct FnMetric<F> {
    name: String,
    score: F,
}

impl<F> std::fmt::Debug for FnMetric<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnMetric")
            .field("name", &self.name)
            .finish()
    }
}

impl<F> SyncMetric for FnMetric<F>
where
    F: Fn(&MetricArgs) -> Result<ScoreResult, MetricError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&self, args: &MetricArgs) -> MetricResult {
        (self.score)(args).map(|s| vec![s])
    }
}
