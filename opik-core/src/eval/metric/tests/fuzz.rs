//! 200 random text pairs, each scored by LevenshteinRatio, 24 SentenceBLEU configurations and
//! 8 ROUGE configurations, in Python and here.

use super::super::{LevenshteinRatio, Rouge, SentenceBleu};
use super::python_reference::{FUZZ, FUZZ_BLEU, FUZZ_ROUGE};
use super::{assert_close, BLEU_TOLERANCE, EXACT};

#[test]
fn random_pairs_score_as_in_python() {
    let bleu: Vec<SentenceBleu> = FUZZ_BLEU
        .iter()
        .map(|&(method, n)| {
            SentenceBleu::new()
                .smoothing_method(method)
                .unwrap()
                .n_grams(n)
                .unwrap()
        })
        .collect();
    let rouge: Vec<Rouge> = FUZZ_ROUGE
        .iter()
        .map(|&(rouge_type, stem)| {
            Rouge::new()
                .rouge_type_name(rouge_type)
                .unwrap()
                .use_stemmer(stem)
        })
        .collect();
    for &(output, reference, levenshtein, bleu_values, rouge_values) in FUZZ {
        let what = format!("{output:?} / {reference:?}");
        let value = LevenshteinRatio::new()
            .score(output, Some(reference))
            .unwrap()
            .value;
        assert_close(value, levenshtein, EXACT, &what);
        let scored = bleu
            .iter()
            .zip(bleu_values)
            .zip(FUZZ_BLEU)
            .map(|((m, v), c)| {
                (
                    m.score(output, Some(reference)),
                    v,
                    BLEU_TOLERANCE,
                    format!("{c:?}"),
                )
            });
        let scored_rouge = rouge
            .iter()
            .zip(rouge_values)
            .zip(FUZZ_ROUGE)
            .map(|((m, v), c)| (m.score(output, Some(reference)), v, EXACT, format!("{c:?}")));
        for (result, expected, tolerance, config) in scored.chain(scored_rouge) {
            match expected {
                Some(expected) => assert_close(
                    result.unwrap().value,
                    *expected,
                    tolerance,
                    &format!("{what} {config}"),
                ),
                None => assert!(
                    result.is_err(),
                    "{what} {config}: Python raised, Rust gave {result:?}"
                ),
            }
        }
    }
}
