//! BLEU, as Opik's Python `SentenceBLEU` and `CorpusBLEU` compute it with NLTK.
//!
//! No maintained Rust crate reproduces NLTK's `bleu_score` (its clipping, closest-reference
//! brevity penalty and its eight smoothing functions, quirks included), so this is a port of
//! NLTK 3.x's `corpus_bleu` and `SmoothingFunction`, plus the two things Opik adds in front:
//! texts are `lower().split()` into tokens, and the n-gram weights are cut to the
//! candidate's length (so a 2-word candidate is scored on unigrams and bigrams only).
//!
//! NLTK keeps precisions as exact fractions through smoothing methods 5 and 6; this port
//! uses `f64`, so those two differ from Python in the last bits (well under 1e-12).

mod nltk;

use std::fmt;

use self::nltk::{corpus_bleu, Segment, SmoothingFailure};
use super::score::{quote, MetricError, ScoreResult};
use super::text::{check_candidate, check_references, py_lower, py_split};

/// NLTK's `SmoothingFunction().methodN`, with its default parameters (`epsilon=0.1`,
/// `alpha=5`, `k=5`), which are the ones Opik uses. See Chen & Cherry (2014).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Smoothing {
    /// No smoothing: an order with no match makes the score (nearly) 0.
    Method0,
    /// Adds `epsilon` (0.1) to the numerator of an order with no match. Opik's default.
    Method1,
    /// Adds 1 to numerator and denominator of every order above unigrams.
    Method2,
    /// NIST geometric sequence smoothing (`1 / 2^k` for the k-th order with no match).
    Method3,
    /// Method 3, scaled by the candidate's length (shorter candidates are smoothed more).
    Method4,
    /// Averages each order with its neighbours.
    Method5,
    /// Interpolates from lower orders; needs at least 3 orders and a trigram match.
    Method6,
    /// Method 4, then method 5.
    Method7,
}

impl Smoothing {
    const ALL: [Smoothing; 8] = [
        Smoothing::Method0,
        Smoothing::Method1,
        Smoothing::Method2,
        Smoothing::Method3,
        Smoothing::Method4,
        Smoothing::Method5,
        Smoothing::Method6,
        Smoothing::Method7,
    ];

    /// NLTK's name: `"method0"` ... `"method7"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Smoothing::Method0 => "method0",
            Smoothing::Method1 => "method1",
            Smoothing::Method2 => "method2",
            Smoothing::Method3 => "method3",
            Smoothing::Method4 => "method4",
            Smoothing::Method5 => "method5",
            Smoothing::Method6 => "method6",
            Smoothing::Method7 => "method7",
        }
    }

    /// The method of NLTK's name `"method0"` ... `"method7"`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == name)
    }
}

impl fmt::Display for Smoothing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Weights (one per n-gram order) and smoothing: what both BLEU metrics are configured with.
#[derive(Debug, Clone, PartialEq)]
struct BleuOptions {
    weights: Vec<f64>,
    smoothing: Smoothing,
}

impl BleuOptions {
    fn new() -> Self {
        Self {
            weights: uniform_weights(4),
            smoothing: Smoothing::Method1,
        }
    }

    fn set_n_grams(&mut self, metric: &str, n_grams: usize) -> Result<(), MetricError> {
        if n_grams == 0 {
            return Err(MetricError::invalid_option(
                metric,
                "`n_grams` is 0; BLEU needs at least unigrams: pass 1 or more (the default is 4)",
            ));
        }
        self.weights = uniform_weights(n_grams);
        Ok(())
    }

    fn set_weights(&mut self, metric: &str, weights: Vec<f64>) -> Result<(), MetricError> {
        let sum: f64 = weights.iter().sum();
        // Python checks only the sum; a NaN would slip through its `abs(sum - 1) > 1e-6`.
        if weights.is_empty() || weights.iter().any(|w| !w.is_finite()) || (sum - 1.0).abs() > 1e-6
        {
            return Err(MetricError::invalid_option(
                metric,
                format!(
                    "`weights` {weights:?} must be one finite weight per n-gram order, summing to 1.0 \
                     (e.g. [0.25, 0.25, 0.25, 0.25]); their count sets `n_grams`"
                ),
            ));
        }
        self.weights = weights;
        Ok(())
    }

    fn set_smoothing_method(&mut self, metric: &str, name: &str) -> Result<(), MetricError> {
        // Python silently falls back to method0 on an unknown name; a typo that changes
        // every score is better refused.
        self.smoothing = Smoothing::from_name(name).ok_or_else(|| {
            MetricError::invalid_option(
                metric,
                format!(
                    "`smoothing_method` {} is not one of \"method0\" ... \"method7\"",
                    quote(name)
                ),
            )
        })?;
        Ok(())
    }

    /// Opik's `_truncate_weights`: the first `min(n_grams, max_len)` weights, renormalized.
    fn truncated_weights(&self, max_len: usize) -> Vec<f64> {
        let used = &self.weights[..self.weights.len().min(max_len)];
        let total: f64 = used.iter().sum();
        let total = if total == 0.0 { 1.0 } else { total };
        used.iter().map(|w| w / total).collect()
    }
}

fn uniform_weights(n_grams: usize) -> Vec<f64> {
    vec![1.0 / n_grams as f64; n_grams]
}

/// Lowercased texts, kept alive for the tokens of a [`Segment`] to borrow.
struct LoweredSegment {
    hypothesis: String,
    references: Vec<String>,
}

impl LoweredSegment {
    fn new<S: AsRef<str>>(hypothesis: &str, references: &[S]) -> Self {
        Self {
            hypothesis: py_lower(hypothesis),
            references: references.iter().map(|r| py_lower(r.as_ref())).collect(),
        }
    }

    fn tokens(&self) -> Segment<'_> {
        Segment {
            hypothesis: py_split(&self.hypothesis).collect(),
            references: self
                .references
                .iter()
                .map(|r| py_split(r).collect())
                .collect(),
        }
    }
}

/// The builder methods both BLEU metrics share.
macro_rules! bleu_options {
    ($metric:ident) => {
        impl Default for $metric {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $metric {
            pub fn new() -> Self {
                Self {
                    name: Self::DEFAULT_NAME.to_owned(),
                    options: BleuOptions::new(),
                }
            }

            /// Score n-grams of order 1 to `n_grams`, weighted uniformly (default 4).
            pub fn n_grams(mut self, n_grams: usize) -> Result<Self, MetricError> {
                self.options.set_n_grams(&self.name, n_grams)?;
                Ok(self)
            }

            /// One weight per n-gram order (their count sets `n_grams`); they must sum to 1.
            pub fn weights(mut self, weights: Vec<f64>) -> Result<Self, MetricError> {
                self.options.set_weights(&self.name, weights)?;
                Ok(self)
            }

            /// The smoothing method (default [`Smoothing::Method1`], as in Opik).
            pub fn smoothing(mut self, smoothing: Smoothing) -> Self {
                self.options.smoothing = smoothing;
                self
            }

            /// The smoothing method by NLTK's name, `"method0"` ... `"method7"`.
            pub fn smoothing_method(mut self, name: &str) -> Result<Self, MetricError> {
                self.options.set_smoothing_method(&self.name, name)?;
                Ok(self)
            }

            /// The name of the scores this metric gives.
            pub fn name(mut self, name: impl Into<String>) -> Self {
                self.name = name.into();
                self
            }

            pub fn metric_name(&self) -> &str {
                &self.name
            }

            fn result(
                &self,
                value: Result<f64, SmoothingFailure>,
                level: &str,
            ) -> Result<ScoreResult, MetricError> {
                let value = value.map_err(|SmoothingFailure(why)| {
                    MetricError::invalid_argument(&self.name, why)
                })?;
                Ok(ScoreResult::new(&self.name, value).with_reason(format!(
                    "{level}-level BLEU (nltk, method={}): {value:.4}",
                    self.options.smoothing
                )))
            }
        }
    };
}

/// Sentence-level BLEU of one candidate against one or more references, in [0, 1] (NLTK's
/// methods 5 and 7 can exceed 1 slightly, in Python too).
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceBleu {
    name: String,
    options: BleuOptions,
}

bleu_options!(SentenceBleu);

impl SentenceBleu {
    pub const DEFAULT_NAME: &'static str = "sentence_bleu_metric";

    pub fn score(&self, output: &str, reference: Option<&str>) -> Result<ScoreResult, MetricError> {
        let reference = reference.ok_or_else(|| {
            MetricError::missing(
                &self.name,
                "reference",
                "pass the reference translation as `reference`",
            )
        })?;
        self.score_multi(output, &[reference])
    }

    /// BLEU against several references: each n-gram is clipped by its count in the
    /// reference where it occurs most, and the brevity penalty uses the closest length.
    pub fn score_multi<S: AsRef<str>>(
        &self,
        output: &str,
        references: &[S],
    ) -> Result<ScoreResult, MetricError> {
        check_candidate(&self.name, "output", output)?;
        check_references(&self.name, "reference", references)?;
        let lowered = LoweredSegment::new(output, references);
        let segment = lowered.tokens();
        let weights = self.options.truncated_weights(segment.hypothesis.len());
        let value = corpus_bleu(&[segment], &weights, self.options.smoothing);
        self.result(value, "Sentence")
    }
}

/// Corpus-level BLEU: n-gram matches and lengths are summed over all candidates before the
/// precisions are taken (not an average of sentence scores).
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusBleu {
    name: String,
    options: BleuOptions,
}

bleu_options!(CorpusBleu);

impl CorpusBleu {
    pub const DEFAULT_NAME: &'static str = "corpus_bleu_metric";

    /// `references[i]` holds the reference(s) of `outputs[i]`.
    pub fn score<S, R, T>(
        &self,
        outputs: &[S],
        references: &[R],
    ) -> Result<ScoreResult, MetricError>
    where
        S: AsRef<str>,
        R: AsRef<[T]>,
        T: AsRef<str>,
    {
        if outputs.len() != references.len() {
            return Err(MetricError::invalid_argument(
                &self.name,
                format!(
                    "got {} outputs but {} reference sets; pass one reference set per output",
                    outputs.len(),
                    references.len()
                ),
            ));
        }
        if outputs.is_empty() {
            return Err(MetricError::invalid_argument(
                &self.name,
                "`outputs` is empty; pass at least one candidate",
            ));
        }
        let mut lowered = Vec::with_capacity(outputs.len());
        for (i, (output, refs)) in outputs.iter().zip(references).enumerate() {
            check_candidate(&self.name, &format!("outputs[{i}]"), output.as_ref())?;
            check_references(&self.name, &format!("references[{i}]"), refs.as_ref())?;
            lowered.push(LoweredSegment::new(output.as_ref(), refs.as_ref()));
        }
        let segments: Vec<Segment<'_>> = lowered.iter().map(LoweredSegment::tokens).collect();
        let longest = segments
            .iter()
            .map(|s| s.hypothesis.len())
            .max()
            .unwrap_or(0);
        let weights = self.options.truncated_weights(longest);
        let value = corpus_bleu(&segments, &weights, self.options.smoothing);
        self.result(value, "Corpus")
    }
}
