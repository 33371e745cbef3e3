//! ROUGE, as Opik's Python `ROUGE` computes it with Google's `rouge_score` package.
//!
//! No maintained Rust crate reproduces `rouge_score` (its tokenizer, NLTK's Porter stemmer,
//! and its summary-level LCS for `rougeLsum`), so this is a port of `rouge_scorer.py`. The
//! value is the F-measure, as in Opik; every step is integer counting, so values are exact.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use super::porter;
use super::score::{quote, MetricError, ScoreResult};
use super::text::{check_candidate, check_references, py_lower};

/// Which ROUGE Opik computes; the names are Python's (`rouge_type="rougeLsum"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RougeType {
    /// Unigram overlap. Opik's default.
    Rouge1,
    /// Bigram overlap.
    Rouge2,
    /// Longest common subsequence of the whole texts.
    RougeL,
    /// Summary-level LCS: texts are split into sentences on `\n`.
    RougeLsum,
}

impl RougeType {
    const ALL: [RougeType; 4] = [
        RougeType::Rouge1,
        RougeType::Rouge2,
        RougeType::RougeL,
        RougeType::RougeLsum,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RougeType::Rouge1 => "rouge1",
            RougeType::Rouge2 => "rouge2",
            RougeType::RougeL => "rougeL",
            RougeType::RougeLsum => "rougeLsum",
        }
    }

    /// The type of Python's name: `"rouge1"`, `"rouge2"`, `"rougeL"` or `"rougeLsum"`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for RougeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tokenizer to use instead of `rouge_score`'s (Python's `tokenizer=` argument: any object
/// with a `tokenize(text)` method). As in Python, it replaces stemming too.
pub type RougeTokenizer = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// The ROUGE F-measure of `output` against a reference, in [0, 1].
///
/// The default tokenizer is `rouge_score`'s: lowercase, keep runs of ASCII `a-z0-9` (so
/// accented letters, CJK and other scripts are dropped, as in Python), and with
/// `use_stemmer`, stem words longer than 3 letters with NLTK's Porter stemmer. Python's
/// `split_summaries=True` (NLTK's Punkt sentence splitter, which needs a model download) is
/// not offered: for `rougeLsum`, put one sentence per line.
#[derive(Clone)]
pub struct Rouge {
    name: String,
    rouge_type: RougeType,
    use_stemmer: bool,
    tokenizer: Option<RougeTokenizer>,
}

impl fmt::Debug for Rouge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rouge")
            .field("name", &self.name)
            .field("rouge_type", &self.rouge_type)
            .field("use_stemmer", &self.use_stemmer)
            .field("tokenizer", &self.tokenizer.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for Rouge {
    fn default() -> Self {
        Self::new()
    }
}

impl Rouge {
    pub const DEFAULT_NAME: &'static str = "rouge_metric";

    pub fn new() -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_owned(),
            rouge_type: RougeType::Rouge1,
            use_stemmer: false,
            tokenizer: None,
        }
    }

    /// Which ROUGE to compute (default [`RougeType::Rouge1`]).
    pub fn rouge_type(mut self, rouge_type: RougeType) -> Self {
        self.rouge_type = rouge_type;
        self
    }

    /// Which ROUGE to compute, by Python's name.
    pub fn rouge_type_name(self, name: &str) -> Result<Self, MetricError> {
        let rouge_type = RougeType::from_name(name).ok_or_else(|| {
            MetricError::invalid_option(
                &self.name,
                format!(
                    "`rouge_type` {} is not one of \"rouge1\", \"rouge2\", \"rougeL\", \"rougeLsum\"",
                    quote(name)
                ),
            )
        })?;
        Ok(self.rouge_type(rouge_type))
    }

    /// Stem words with NLTK's Porter stemmer before matching (default `false`).
    pub fn use_stemmer(mut self, use_stemmer: bool) -> Self {
        self.use_stemmer = use_stemmer;
        self
    }

    /// Tokenize with `tokenizer` instead of `rouge_score`'s default (stemming is then the
    /// tokenizer's business, as in Python).
    pub fn tokenizer(
        mut self,
        tokenizer: impl Fn(&str) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.tokenizer = Some(Arc::new(tokenizer));
        self
    }

    /// The name of the scores this metric gives.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn metric_name(&self) -> &str {
        &self.name
    }

    pub fn score(&self, output: &str, reference: Option<&str>) -> Result<ScoreResult, MetricError> {
        let reference = reference.ok_or_else(|| {
            MetricError::missing(
                &self.name,
                "reference",
                "pass the reference summary as `reference`",
            )
        })?;
        self.score_multi(output, &[reference])
    }

    /// The best F-measure over several references (`rouge_score`'s `score_multi`).
    pub fn score_multi<S: AsRef<str>>(
        &self,
        output: &str,
        references: &[S],
    ) -> Result<ScoreResult, MetricError> {
        check_candidate(&self.name, "output", output)?;
        check_references(&self.name, "reference", references)?;
        let value = references
            .iter()
            .map(|reference| self.fmeasure(reference.as_ref(), output))
            .fold(f64::NEG_INFINITY, f64::max);
        Ok(ScoreResult::new(&self.name, value)
            .with_reason(format!("{} score: {value:.4}", self.rouge_type)))
    }

    fn tokenize(&self, text: &str) -> Vec<String> {
        match &self.tokenizer {
            Some(tokenizer) => tokenizer(text),
            None => default_tokenize(text, self.use_stemmer),
        }
    }

    /// `RougeScorer.score(target, prediction)[type].fmeasure`.
    fn fmeasure(&self, target: &str, prediction: &str) -> f64 {
        match self.rouge_type {
            RougeType::Rouge1 => {
                ngram_fmeasure(&self.tokenize(target), &self.tokenize(prediction), 1)
            }
            RougeType::Rouge2 => {
                ngram_fmeasure(&self.tokenize(target), &self.tokenize(prediction), 2)
            }
            RougeType::RougeL => lcs_fmeasure(&self.tokenize(target), &self.tokenize(prediction)),
            RougeType::RougeLsum => {
                let sentences = |text: &str| -> Vec<Vec<String>> {
                    // rouge_score splits on "\n" only and drops empty lines (a line of spaces
                    // stays, as a sentence with no tokens).
                    text.split('\n')
                        .filter(|line| !line.is_empty())
                        .map(|line| self.tokenize(line))
                        .collect()
                };
                summary_lcs_fmeasure(&sentences(target), &sentences(prediction))
            }
        }
    }
}

/// `rouge_score.tokenize.tokenize`: lowercase, split on anything but `[a-z0-9]`, stem words
/// longer than 3 letters.
fn default_tokenize(text: &str, use_stemmer: bool) -> Vec<String> {
    py_lower(text)
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|token| !token.is_empty())
        .map(|token| {
            if use_stemmer && token.len() > 3 {
                porter::stem(token)
            } else {
                token.to_owned()
            }
        })
        .filter(|token| !token.is_empty())
        .collect()
}

/// `rouge_score.scoring.fmeasure`, in the same operation order.
fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for gram in tokens.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

fn ngram_fmeasure(target: &[String], prediction: &[String], n: usize) -> f64 {
    let (target_counts, prediction_counts) = (ngram_counts(target, n), ngram_counts(prediction, n));
    let overlap: usize = target_counts
        .iter()
        .map(|(gram, &count)| count.min(prediction_counts.get(gram).copied().unwrap_or(0)))
        .sum();
    let target_total: usize = target_counts.values().sum();
    let prediction_total: usize = prediction_counts.values().sum();
    let precision = overlap as f64 / prediction_total.max(1) as f64;
    let recall = overlap as f64 / target_total.max(1) as f64;
    fmeasure(precision, recall)
}

/// Length of the longest common subsequence, in two rows of the DP table: only the length
/// is needed here, and whole-text rougeL can be long.
fn lcs_length(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn lcs_fmeasure(target: &[String], prediction: &[String]) -> f64 {
    if target.is_empty() || prediction.is_empty() {
        return 0.0;
    }
    let lcs = lcs_length(target, prediction) as f64;
    fmeasure(lcs / prediction.len() as f64, lcs / target.len() as f64)
}

/// The indices in `reference` of one LCS with `candidate`: `rouge_score`'s `lcs_ind`, with
/// its backtracking order, since which LCS is chosen changes the summary-level union.
fn lcs_indices(reference: &[String], candidate: &[String]) -> Vec<usize> {
    // A full table, as the backtracking needs; u32 cells halve it (a sentence has fewer than
    // 2^32 tokens).
    let cols = candidate.len() + 1;
    let mut table = vec![0u32; (reference.len() + 1) * cols];
    for i in 1..=reference.len() {
        for j in 1..=candidate.len() {
            table[i * cols + j] = if reference[i - 1] == candidate[j - 1] {
                table[(i - 1) * cols + j - 1] + 1
            } else {
                table[(i - 1) * cols + j].max(table[i * cols + j - 1])
            };
        }
    }
    let (mut i, mut j) = (reference.len(), candidate.len());
    let mut indices = Vec::new();
    while i > 0 && j > 0 {
        if reference[i - 1] == candidate[j - 1] {
            indices.push(i - 1);
            i -= 1;
            j -= 1;
        } else if table[i * cols + j - 1] > table[(i - 1) * cols + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    indices.reverse();
    indices
}

fn token_counts(sentences: &[Vec<String>]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for token in sentences.iter().flatten() {
        *counts.entry(token.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Summary-level LCS (ROUGE paper, section 3.2) with ROUGE-1.5.5's guard against counting
/// a token more often than it occurs: `rouge_score`'s `_summary_level_lcs`.
fn summary_lcs_fmeasure(reference: &[Vec<String>], candidate: &[Vec<String>]) -> f64 {
    if reference.is_empty() || candidate.is_empty() {
        return 0.0;
    }
    let m: usize = reference.iter().map(Vec::len).sum();
    let n: usize = candidate.iter().map(Vec::len).sum();
    if m == 0 || n == 0 {
        return 0.0;
    }
    let (mut reference_counts, mut candidate_counts) =
        (token_counts(reference), token_counts(candidate));
    let mut hits = 0usize;
    for sentence in reference {
        let union: BTreeSet<usize> = candidate
            .iter()
            .flat_map(|c| lcs_indices(sentence, c))
            .collect();
        for index in union {
            let token = sentence[index].as_str();
            let (Some(in_reference), Some(in_candidate)) = (
                reference_counts.get_mut(token),
                candidate_counts.get_mut(token),
            ) else {
                continue;
            };
            if *in_reference > 0 && *in_candidate > 0 {
                hits += 1;
                *in_reference -= 1;
                *in_candidate -= 1;
            }
        }
    }
    fmeasure(hits as f64 / n as f64, hits as f64 / m as f64)
}
