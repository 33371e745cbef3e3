use super::super::{CorpusBleu, MetricErrorKind, SentenceBleu, Smoothing};
use super::python_reference::{CORPUS_BLEU, PAIRS, SENTENCE_BLEU, SENTENCE_BLEU_MULTI};
use super::{assert_close, BLEU_TOLERANCE};

fn sentence_metric(method: &str, n_grams: usize, weights: &[f64]) -> SentenceBleu {
    let metric = SentenceBleu::new().smoothing_method(method).unwrap();
    if weights.is_empty() {
        metric.n_grams(n_grams).unwrap()
    } else {
        metric.weights(weights.to_vec()).unwrap()
    }
}

#[test]
fn sentence_bleu_matches_python() {
    for &(pair, method, n_grams, weights, expected, reason) in SENTENCE_BLEU {
        let (output, reference) = PAIRS[pair];
        let result = sentence_metric(method, n_grams, weights).score(output, Some(reference));
        let what = format!("pair {pair} {method} n={n_grams} w={weights:?}");
        match expected {
            Some(expected) => {
                let result = result.unwrap_or_else(|err| panic!("{what}: {err}"));
                assert_close(result.value, expected, BLEU_TOLERANCE, &what);
                assert_eq!(result.reason.as_deref(), reason, "{what}");
                assert_eq!(result.name, "sentence_bleu_metric");
            }
            None => assert!(
                result.is_err(),
                "{what}: Python raised, Rust gave {result:?}"
            ),
        }
    }
}

#[test]
fn sentence_bleu_with_several_references_matches_python() {
    for &(output, references, method, expected) in SENTENCE_BLEU_MULTI {
        let result = SentenceBleu::new()
            .smoothing_method(method)
            .unwrap()
            .score_multi(output, references);
        let what = format!("{output:?} vs {references:?} {method}");
        match expected {
            Some(expected) => assert_close(result.unwrap().value, expected, BLEU_TOLERANCE, &what),
            None => assert!(
                result.is_err(),
                "{what}: Python raised, Rust gave {result:?}"
            ),
        }
    }
}

#[test]
fn corpus_bleu_matches_python() {
    for &(outputs, references, method, expected) in CORPUS_BLEU {
        let result = CorpusBleu::new()
            .smoothing_method(method)
            .unwrap()
            .score(outputs, references);
        let what = format!("{outputs:?} {method}");
        match expected {
            Some(expected) => {
                let result = result.unwrap_or_else(|err| panic!("{what}: {err}"));
                assert_close(result.value, expected, BLEU_TOLERANCE, &what);
                assert_eq!(result.name, "corpus_bleu_metric");
            }
            None => assert!(
                result.is_err(),
                "{what}: Python raised, Rust gave {result:?}"
            ),
        }
    }
}

#[test]
fn defaults_are_pythons() {
    // n_grams=4, uniform weights, method1: identical 4+ word sentences score 1.
    let result = SentenceBleu::new()
        .score("the cat is on the mat", Some("the cat is on the mat"))
        .unwrap();
    assert_eq!(result.value, 1.0);
    assert_eq!(
        result.reason.as_deref(),
        Some("Sentence-level BLEU (nltk, method=method1): 1.0000")
    );
    assert_eq!(
        SentenceBleu::new(),
        SentenceBleu::new()
            .n_grams(4)
            .unwrap()
            .smoothing(Smoothing::Method1)
    );
}

#[test]
fn bad_options_are_refused_with_the_value() {
    let err = SentenceBleu::new().n_grams(0).unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::InvalidOption);
    let err = SentenceBleu::new().weights(vec![0.5, 0.6]).unwrap_err();
    assert!(err.message.contains("[0.5, 0.6]"), "{err}");
    assert!(SentenceBleu::new().weights(vec![f64::NAN]).is_err());
    assert!(SentenceBleu::new().weights(vec![]).is_err());
    // Python falls back to method0 on an unknown name; a typo is refused here.
    let err = CorpusBleu::new().smoothing_method("method9").unwrap_err();
    assert!(err.message.contains("\"method9\""), "{err}");
    assert_eq!(Smoothing::from_name("method7"), Some(Smoothing::Method7));
}

#[test]
fn unscorable_inputs_are_errors_naming_the_argument() {
    let metric = SentenceBleu::new();
    let err = metric.score("a b", None).unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::MissingArgument);
    assert!(err.message.contains("`reference`"), "{err}");
    let err = metric.score(" \t", Some("a b")).unwrap_err();
    assert!(err.message.contains("`output`"), "{err}");
    let err = metric.score_multi("a", &[] as &[&str]).unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::MissingArgument);
    let err = CorpusBleu::new()
        .score(&["a"], &[["a"], ["b"]])
        .unwrap_err();
    assert!(err.message.contains("1 outputs but 2"), "{err}");
    let err = CorpusBleu::new()
        .score(&["a", " "], &[["a"], ["b"]])
        .unwrap_err();
    assert!(err.message.contains("`outputs[1]`"), "{err}");
    let err = SentenceBleu::new()
        .smoothing(Smoothing::Method6)
        .score("a b", Some("a b"))
        .unwrap_err();
    assert!(err.message.contains("method6"), "{err}");
}

#[test]
fn corpus_bleu_accepts_owned_and_borrowed_references() {
    let outputs = vec!["the cat sat".to_owned()];
    let references = vec![vec!["the cat sat".to_owned(), "a cat sat".to_owned()]];
    assert_eq!(
        CorpusBleu::new()
            .n_grams(3)
            .unwrap()
            .score(&outputs, &references)
            .unwrap()
            .value,
        1.0
    );
}
