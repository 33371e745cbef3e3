use super::super::porter;
use super::super::{MetricErrorKind, Rouge, RougeType};
use super::python_reference::{PAIRS, PORTER, ROUGE, ROUGE_MULTI};
use super::{assert_close, EXACT};

#[test]
fn rouge_matches_python() {
    for &(pair, rouge_type, use_stemmer, expected, reason) in ROUGE {
        let (output, reference) = PAIRS[pair];
        let metric = Rouge::new()
            .rouge_type_name(rouge_type)
            .unwrap()
            .use_stemmer(use_stemmer);
        let result = metric.score(output, Some(reference));
        let what = format!("pair {pair} {rouge_type} stem={use_stemmer}");
        match expected {
            Some(expected) => {
                let result = result.unwrap_or_else(|err| panic!("{what}: {err}"));
                assert_close(result.value, expected, EXACT, &what);
                assert_eq!(result.reason.as_deref(), reason, "{what}");
                assert_eq!(result.name, "rouge_metric");
            }
            None => assert!(
                result.is_err(),
                "{what}: Python raised, Rust gave {result:?}"
            ),
        }
    }
}

#[test]
fn rouge_with_several_references_matches_python() {
    for &(output, references, rouge_type, use_stemmer, expected) in ROUGE_MULTI {
        let metric = Rouge::new()
            .rouge_type_name(rouge_type)
            .unwrap()
            .use_stemmer(use_stemmer);
        let result = metric.score_multi(output, references);
        let what = format!("{output:?} vs {references:?} {rouge_type} stem={use_stemmer}");
        match expected {
            Some(expected) => assert_close(result.unwrap().value, expected, EXACT, &what),
            None => assert!(
                result.is_err(),
                "{what}: Python raised, Rust gave {result:?}"
            ),
        }
    }
}

#[test]
fn porter_stemmer_is_nltks() {
    let wrong: Vec<String> = PORTER
        .iter()
        .filter(|(word, stem)| porter::stem(word) != *stem)
        .map(|(word, stem)| format!("{word}: NLTK {stem}, Rust {}", porter::stem(word)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} words differ: {wrong:#?}",
        wrong.len(),
        PORTER.len()
    );
}

#[test]
fn rouge_type_names_are_pythons() {
    for rouge_type in [
        RougeType::Rouge1,
        RougeType::Rouge2,
        RougeType::RougeL,
        RougeType::RougeLsum,
    ] {
        assert_eq!(RougeType::from_name(rouge_type.as_str()), Some(rouge_type));
    }
    let err = Rouge::new().rouge_type_name("rougeLSum").unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::InvalidOption);
    assert!(err.message.contains("\"rougeLSum\""), "{err}");
}

#[test]
fn a_custom_tokenizer_replaces_the_default_one() {
    // Split on whitespace only, keeping case and non-ASCII words (the default drops them).
    let metric =
        Rouge::new().tokenizer(|text| text.split_whitespace().map(str::to_owned).collect());
    assert_eq!(
        metric.score("東京 は", Some("東京 です")).unwrap().value,
        0.5
    );
    assert_eq!(
        Rouge::new()
            .score("東京 は x", Some("東京 です x"))
            .unwrap()
            .value,
        1.0
    );
    assert!(format!("{metric:?}").contains("custom"));
}

#[test]
fn unscorable_inputs_are_errors_naming_the_argument() {
    let err = Rouge::new().score("a", None).unwrap_err();
    assert!(err.message.contains("`reference`"), "{err}");
    let err = Rouge::new().score("", Some("a")).unwrap_err();
    assert!(err.message.contains("`output`"), "{err}");
    let err = Rouge::new().score_multi("a", &["a", " "]).unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::InvalidArgument);
}

#[test]
fn long_texts_score_in_reasonable_time() {
    let text: String = (0..3000).map(|i| format!("w{} ", i % 97)).collect();
    let other: String = (0..3000).map(|i| format!("w{} ", i % 89)).collect();
    let value = Rouge::new()
        .rouge_type(RougeType::RougeL)
        .score(&text, Some(&other))
        .unwrap()
        .value;
    assert!(value > 0.0 && value < 1.0);
}
