//! What an evaluation gives back: every item's output and scores ([`ItemResult`]), each
//! score's statistics ([`MetricStats`], as the Python SDK's `ScoreStatistics`), the summary
//! table (`Display`), and experiments side by side ([`Comparison`]).

use super::metric::{MetricError, ScoreResult};
use crate::model::ErrorInfo;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// One dataset item's run.
#[derive(Clone, Debug, Serialize)]
pub struct ItemResult {
    /// The dataset item.
    pub dataset_item_id: Uuid,
    /// The trace of the run (`None` when nothing is recorded: the SDK is off).
    pub trace_id: Option<Uuid>,
    /// What the task got: the item's content, with its `id`.
    pub input: Map<String, Value>,
    /// What the task returned, as JSON (`None` when it failed).
    pub output: Option<Value>,
    /// Why the task failed (then no metric ran).
    pub task_error: Option<ErrorInfo>,
    /// Every score the metrics gave, in metric order.
    pub scores: Vec<ScoreResult>,
    /// The metrics that could not score, and why.
    pub metric_errors: Vec<MetricError>,
    /// How long the task took.
    #[serde(serialize_with = "millis")]
    pub task_duration: Duration,
}

impl ItemResult {
    /// The score named `name`, if a metric gave it.
    pub fn score(&self, name: &str) -> Option<&ScoreResult> {
        self.scores.iter().find(|s| s.name == name)
    }
}

/// The statistics of one score over the items: the Python SDK's `ScoreStatistics`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricStats {
    /// The score's name.
    pub name: String,
    /// Mean of the finite values.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sample standard deviation (`None` for fewer than two values), as Python's
    /// `statistics.stdev`.
    pub std: Option<f64>,
    /// How many values.
    pub count: usize,
    /// How many times the metric of this name failed to score (not in the other figures).
    pub failed: usize,
}

/// An evaluation's outcome: the experiment, every item, the statistics.
#[derive(Clone, Debug, Serialize)]
pub struct EvaluationResult {
    /// The experiment's id (in Opik, or made here for a local experiment).
    pub experiment_id: Uuid,
    /// The experiment's name.
    pub experiment_name: String,
    /// The dataset's name.
    pub dataset_name: String,
    /// Whether the experiment exists only here (a local dataset, or no server): its items'
    /// links to their traces are then this result's `items`, and the traces (with their
    /// scores) are wherever the client recorded them (the local view's JSON lines file).
    pub local: bool,
    /// Every item that ran to the end (or failed), in the dataset's order.
    pub items: Vec<ItemResult>,
    /// Whether the run was cancelled before every item ran.
    pub cancelled: bool,
    /// Wall time of the run.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// What did not go as planned outside the items (experiment items that could not be
    /// linked, traces not delivered within the flush timeout).
    pub warnings: Vec<String>,
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl EvaluationResult {
    /// The statistics of every score, in the order the scores first appear.
    pub fn stats(&self) -> Vec<MetricStats> {
        let mut names: Vec<&str> = Vec::new();
        for item in &self.items {
            let scored = item.scores.iter().map(|s| s.name.as_str());
            let failed = item.metric_errors.iter().map(|e| e.metric.as_str());
            for name in scored.chain(failed) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names.into_iter().map(|name| self.stats_of(name)).collect()
    }

    /// The statistics of the score `name`.
    pub fn stat(&self, name: &str) -> Option<MetricStats> {
        let known = self
            .items
            .iter()
            .any(|i| i.score(name).is_some() || i.metric_errors.iter().any(|e| e.metric == name));
        known.then(|| self.stats_of(name))
    }

    fn stats_of(&self, name: &str) -> MetricStats {
        let values: Vec<f64> = self
            .items
            .iter()
            .flat_map(|i| i.scores.iter().filter(|s| s.name == name))
            .map(|s| s.value)
            .filter(|v| v.is_finite())
            .collect();
        let failed = self
            .items
            .iter()
            .flat_map(|i| &i.metric_errors)
            .filter(|e| e.metric == name)
            .count();
        let count = values.len();
        let mean = if count == 0 {
            f64::NAN
        } else {
            values.iter().sum::<f64>() / count as f64
        };
        let std = (count >= 2).then(|| {
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
            var.sqrt()
        });
        MetricStats {
            name: name.to_owned(),
            mean,
            min: values.iter().copied().fold(f64::NAN, f64::min),
            max: values.iter().copied().fold(f64::NAN, f64::max),
            std,
            count,
            failed,
        }
    }

    /// How many items' tasks failed.
    pub fn task_errors(&self) -> usize {
        self.items.iter().filter(|i| i.task_error.is_some()).count()
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "-".to_owned()
    } else {
        format!("{v:.4}")
    }
}

impl fmt::Display for EvaluationResult {
    /// The summary: a line about the run, then one row per score.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Experiment {:?} on dataset {:?}{}: {} items in {:.2}s",
            self.experiment_name,
            self.dataset_name,
            if self.local { " (local)" } else { "" },
            self.items.len(),
            self.duration.as_secs_f64()
        )?;
        let errors = self.task_errors();
        if errors > 0 {
            write!(f, ", {errors} task errors")?;
        }
        if self.cancelled {
            f.write_str(", cancelled")?;
        }
        writeln!(f)?;
        let stats = self.stats();
        let width = stats
            .iter()
            .map(|s| s.name.chars().count())
            .chain([5])
            .max()
            .unwrap_or(5);
        writeln!(
            f,
            "  {:<width$}  {:>7}  {:>7}  {:>7}  {:>7}  {:>5}  {:>6}",
            "score", "mean", "min", "max", "std", "count", "failed"
        )?;
        for s in &stats {
            writeln!(
                f,
                "  {:<width$}  {:>7}  {:>7}  {:>7}  {:>7}  {:>5}  {:>6}",
                s.name,
                num(s.mean),
                num(s.min),
                num(s.max),
                s.std.map_or_else(|| "-".to_owned(), num),
                s.count,
                s.failed
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Experiments side by side: each score's mean per experiment, and the items, task errors
/// and wall time of each. `Display` prints it as a table.
///
/// ```
/// # fn show(a: &opik::evaluation::EvaluationResult, b: &opik::evaluation::EvaluationResult) {
/// println!("{}", opik::evaluation::Comparison::new([a, b]));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Comparison<'a> {
    results: Vec<&'a EvaluationResult>,
}

impl<'a> Comparison<'a> {
    /// A comparison of `results`, in this order.
    pub fn new(results: impl IntoIterator<Item = &'a EvaluationResult>) -> Self {
        Comparison {
            results: results.into_iter().collect(),
        }
    }

    /// The mean of score `name` in each experiment (`None` where it has no value).
    pub fn means(&self, name: &str) -> Vec<Option<f64>> {
        self.results
            .iter()
            .map(|r| r.stat(name).map(|s| s.mean).filter(|m| !m.is_nan()))
            .collect()
    }
}

impl fmt::Display for Comparison<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = Vec::new();
        for r in &self.results {
            for s in r.stats() {
                if !names.contains(&s.name) {
                    names.push(s.name);
                }
            }
        }
        let first = names
            .iter()
            .map(|n| n.chars().count())
            .chain([11])
            .max()
            .unwrap_or(11);
        let widths: Vec<usize> = self
            .results
            .iter()
            .map(|r| r.experiment_name.chars().count().max(8))
            .collect();
        write!(f, "  {:<first$}", "mean score")?;
        for (r, w) in self.results.iter().zip(&widths) {
            write!(f, "  {:>w$}", r.experiment_name)?;
        }
        writeln!(f)?;
        let row = |f: &mut fmt::Formatter<'_>, label: &str, cells: Vec<String>| {
            write!(f, "  {label:<first$}")?;
            for (c, w) in cells.iter().zip(&widths) {
                write!(f, "  {c:>w$}")?;
            }
            writeln!(f)
        };
        for name in &names {
            let cells = self
                .means(name)
                .into_iter()
                .map(|m| m.map_or_else(|| "-".to_owned(), num))
                .collect();
            row(f, name, cells)?;
        }
        row(
            f,
            "items",
            self.results
                .iter()
                .map(|r| r.items.len().to_string())
                .collect(),
        )?;
        row(
            f,
            "task errors",
            self.results
                .iter()
                .map(|r| r.task_errors().to_string())
                .collect(),
        )?;
        row(
            f,
            "wall time",
            self.results
                .iter()
                .map(|r| format!("{:.2}s", r.duration.as_secs_f64()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(scores: &[(&str, f64)]) -> ItemResult {
        ItemResult {
            dataset_item_id: Uuid::nil(),
            trace_id: None,
            input: Map::new(),
            output: None,
            task_error: None,
            scores: scores
                .iter()
                .map(|(n, v)| ScoreResult::new(*n, *v))
                .collect(),
            metric_errors: Vec::new(),
            task_duration: Duration::ZERO,
        }
    }

    #[test]
    fn statistics_are_pythons() {
        let mut r = EvaluationResult {
            experiment_id: Uuid::nil(),
            experiment_name: "e".into(),
            dataset_name: "d".into(),
            local: true,
            items: vec![
                item(&[("a", 1.0), ("b", 0.5)]),
                item(&[("a", 0.0)]),
                item(&[("a", 0.5)]),
            ],
            cancelled: false,
            duration: Duration::from_millis(1500),
            warnings: Vec::new(),
        };
        r.items[1].metric_errors.push(MetricError::new(
            "b",
            super::super::metric::MetricErrorKind::Failed,
            "x",
        ));
        let a = r.stat("a").unwrap();
        assert_eq!((a.mean, a.min, a.max, a.count), (0.5, 0.0, 1.0, 3));
        assert_eq!(a.std, Some(0.5)); // statistics.stdev([1, 0, .5])
        let b = r.stat("b").unwrap();
        assert_eq!((b.count, b.failed, b.std), (1, 1, None));
        let table = r.to_string();
        assert!(table.contains("3 items in 1.50s"), "{table}");
        assert!(table.contains("0.5000"), "{table}");
        let cmp = Comparison::new([&r, &r]).to_string();
        assert!(
            cmp.contains("mean score") && cmp.contains("wall time"),
            "{cmp}"
        );
    }
}
