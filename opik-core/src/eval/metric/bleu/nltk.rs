//! NLTK 3.x's `corpus_bleu` and `SmoothingFunction`, ported operation for operation (the
//! order of floating-point operations included, so that values agree to the last bit where
//! NLTK itself uses floats).

use std::collections::HashMap;

use super::Smoothing;

/// `SmoothingFunction()`'s defaults, which Opik does not let users change.
const EPSILON: f64 = 0.1;
const ALPHA: f64 = 5.0;
const K: f64 = 5.0;

/// One candidate and its references, lowercased and split as Opik does.
pub(super) struct Segment<'t> {
    pub(super) hypothesis: Vec<&'t str>,
    pub(super) references: Vec<Vec<&'t str>>,
}

fn ngram_counts<'t, 'a>(tokens: &'t [&'a str], n: usize) -> HashMap<&'t [&'a str], u64> {
    let mut counts = HashMap::new();
    for gram in tokens.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

/// NLTK's `modified_precision`: candidate n-grams clipped by their largest count in any one
/// reference, over the candidate's n-gram count (at least 1). Numerator and denominator are
/// kept apart because corpus BLEU sums them separately and the smoothing methods look at them.
fn modified_precision(references: &[Vec<&str>], hypothesis: &[&str], n: usize) -> (u64, u64) {
    if hypothesis.len() < n {
        return (0, 1);
    }
    let counts = ngram_counts(hypothesis, n);
    let mut max_counts: HashMap<&[&str], u64> = HashMap::new();
    for reference in references {
        let reference_counts = ngram_counts(reference, n);
        for gram in counts.keys() {
            let in_reference = reference_counts.get(gram).copied().unwrap_or(0);
            let best = max_counts.entry(gram).or_insert(0);
            *best = (*best).max(in_reference);
        }
    }
    let numerator = counts
        .iter()
        .map(|(gram, count)| (*count).min(max_counts.get(gram).copied().unwrap_or(0)))
        .sum();
    let denominator = counts.values().sum::<u64>().max(1);
    (numerator, denominator)
}

/// NLTK's `closest_ref_length`: the reference length closest to the candidate's, the shorter
/// one on a tie.
fn closest_ref_length(references: &[Vec<&str>], hyp_len: usize) -> usize {
    references
        .iter()
        .map(Vec::len)
        .min_by_key(|&len| (len.abs_diff(hyp_len), len))
        .unwrap_or(0)
}

fn brevity_penalty(closest_ref_len: usize, hyp_len: usize) -> f64 {
    if hyp_len > closest_ref_len {
        1.0
    } else if hyp_len == 0 {
        0.0
    } else {
        (1.0 - closest_ref_len as f64 / hyp_len as f64).exp()
    }
}

fn ratio((numerator, denominator): (u64, u64)) -> f64 {
    numerator as f64 / denominator as f64
}

/// Why NLTK's method 6 cannot smooth these precisions (Python raises there).
pub(super) struct SmoothingFailure(pub(super) String);

/// NLTK's `SmoothingFunction().methodN(p_n, references, hypothesis, hyp_len)`, where
/// `references`/`hypothesis` are the last segment's (NLTK passes the loop's last values) and
/// `hyp_len` is the corpus's total candidate length.
fn smooth(
    method: Smoothing,
    p_n: &[(u64, u64)],
    last: &Segment<'_>,
    hyp_len: usize,
) -> Result<Vec<f64>, SmoothingFailure> {
    Ok(match method {
        Smoothing::Method0 => p_n
            .iter()
            .map(|&p| {
                if p.0 != 0 {
                    ratio(p)
                } else {
                    f64::MIN_POSITIVE
                }
            })
            .collect(),
        Smoothing::Method1 => p_n
            .iter()
            .map(|&(num, den)| {
                if num == 0 {
                    (num as f64 + EPSILON) / den as f64
                } else {
                    ratio((num, den))
                }
            })
            .collect(),
        Smoothing::Method2 => p_n
            .iter()
            .enumerate()
            .map(|(i, &(num, den))| {
                if i == 0 {
                    ratio((num, den))
                } else {
                    ratio((num + 1, den + 1))
                }
            })
            .collect(),
        Smoothing::Method3 => {
            let mut incvnt = 1;
            p_n.iter()
                .map(|&(num, den)| {
                    if num != 0 {
                        return ratio((num, den));
                    }
                    // 2^k * den is exact in f64 (a power-of-two scaling), as NLTK's integer is.
                    let smoothed = 1.0 / (2f64.powi(incvnt) * den as f64);
                    incvnt += 1;
                    smoothed
                })
                .collect()
        }
        Smoothing::Method4 => method4(p_n, hyp_len),
        Smoothing::Method5 => {
            let floats: Vec<f64> = p_n.iter().copied().map(ratio).collect();
            method5(&floats, last)
        }
        Smoothing::Method6 => method6(p_n, last)?,
        Smoothing::Method7 => method5(&method4(p_n, hyp_len), last),
    })
}

fn method4(p_n: &[(u64, u64)], hyp_len: usize) -> Vec<f64> {
    let mut incvnt = 1;
    p_n.iter()
        .map(|&(num, den)| {
            if num != 0 || hyp_len <= 1 {
                return ratio((num, den));
            }
            // Same operation order as NLTK: 1 / (2**k * K / log(len)), then / denominator.
            let numerator = 1.0 / (2f64.powi(incvnt) * K / (hyp_len as f64).ln());
            incvnt += 1;
            numerator / den as f64
        })
        .collect()
}

/// Each order averaged with the previous smoothed one and the next raw one. As in NLTK, the
/// "next" of the last order is always the 5-gram precision, whatever `n_grams` is.
fn method5(p_n: &[f64], last: &Segment<'_>) -> Vec<f64> {
    let five = ratio(modified_precision(&last.references, &last.hypothesis, 5));
    let mut previous = p_n[0] + 1.0;
    (0..p_n.len())
        .map(|i| {
            let next = p_n.get(i + 1).copied().unwrap_or(five);
            previous = (previous + p_n[i] + next) / 3.0;
            previous
        })
        .collect()
}

fn method6(p_n: &[(u64, u64)], last: &Segment<'_>) -> Result<Vec<f64>, SmoothingFailure> {
    if p_n.len() < 3 {
        return Err(SmoothingFailure(format!(
            "smoothing method6 needs at least 3 n-gram orders, and this candidate is scored on {} \
             (its word count, or `n_grams`, is below 3); use another smoothing method",
            p_n.len()
        )));
    }
    if p_n[2].0 == 0 {
        return Err(SmoothingFailure(
            "smoothing method6 needs at least one matching trigram, and the candidate has none; \
             use another smoothing method"
                .to_owned(),
        ));
    }
    let mut smoothed: Vec<f64> = p_n.iter().copied().map(ratio).collect();
    for i in 2..p_n.len() {
        let pi0 = if smoothed[i - 2] == 0.0 {
            0.0
        } else {
            smoothed[i - 1] * smoothed[i - 1] / smoothed[i - 2]
        };
        let matches = p_n[i].0 as f64;
        let grams = last.hypothesis.len().saturating_sub(i) as f64;
        smoothed[i] = (matches + ALPHA * pi0) / (grams + ALPHA);
    }
    Ok(smoothed)
}

/// Neumaier's compensated sum: NLTK sums the log-precisions with `math.fsum`, which rounds
/// once; for a handful of terms this agrees with it.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for value in values {
        let t = sum + value;
        compensation += if sum.abs() >= value.abs() {
            (sum - t) + value
        } else {
            (value - t) + sum
        };
        sum = t;
    }
    sum + compensation
}

/// NLTK's `corpus_bleu` with one set of weights and `auto_reweigh=False`.
pub(super) fn corpus_bleu(
    segments: &[Segment<'_>],
    weights: &[f64],
    method: Smoothing,
) -> Result<f64, SmoothingFailure> {
    let orders = weights.len();
    let mut numerators = vec![0u64; orders];
    let mut denominators = vec![0u64; orders];
    let (mut hyp_lengths, mut ref_lengths) = (0usize, 0usize);
    for segment in segments {
        for (order, (num, den)) in numerators.iter_mut().zip(&mut denominators).enumerate() {
            let (n, d) = modified_precision(&segment.references, &segment.hypothesis, order + 1);
            *num += n;
            *den += d;
        }
        hyp_lengths += segment.hypothesis.len();
        ref_lengths += closest_ref_length(&segment.references, segment.hypothesis.len());
    }
    let bp = brevity_penalty(ref_lengths, hyp_lengths);
    if numerators[0] == 0 {
        return Ok(0.0);
    }
    let p_n: Vec<(u64, u64)> = numerators.into_iter().zip(denominators).collect();
    let last = segments
        .last()
        .expect("corpus_bleu is called with at least one segment");
    let smoothed = smooth(method, &p_n, last, hyp_lengths)?;
    let log_sum = compensated_sum(
        weights
            .iter()
            .zip(&smoothed)
            .filter(|(_, p)| **p > 0.0)
            .map(|(w, p)| w * p.ln()),
    );
    Ok(bp * log_sum.exp())
}
