use super::super::{Contains, Equals, IsJson, LevenshteinRatio, MetricErrorKind, RegexMatch};
use super::python_reference::{CONTAINS, EQUALS, IS_JSON, LEVENSHTEIN, PAIRS, REGEX};
use super::{assert_close, EXACT};

#[test]
fn equals_matches_python() {
    for &(pair, case_sensitive, expected) in EQUALS {
        let (output, reference) = PAIRS[pair];
        let result = Equals::new()
            .case_sensitive(case_sensitive)
            .score(output, Some(reference));
        let expected = expected.expect("Python's Equals scores every pair");
        assert_eq!(
            result.unwrap().value,
            expected,
            "pair {pair} {output:?} / {reference:?} cs={case_sensitive}"
        );
    }
}

#[test]
fn contains_matches_python() {
    for &(pair, case_sensitive, expected) in CONTAINS {
        let (output, reference) = PAIRS[pair];
        let result = Contains::new()
            .case_sensitive(case_sensitive)
            .score(output, Some(reference));
        match expected {
            Some(expected) => assert_eq!(
                result.unwrap().value,
                expected,
                "pair {pair} cs={case_sensitive}"
            ),
            None => assert!(
                result.is_err(),
                "pair {pair}: Python raised, Rust gave {result:?}"
            ),
        }
    }
}

#[test]
fn levenshtein_ratio_matches_python() {
    for &(pair, case_sensitive, expected) in LEVENSHTEIN {
        let (output, reference) = PAIRS[pair];
        let result = LevenshteinRatio::new()
            .case_sensitive(case_sensitive)
            .score(output, Some(reference));
        let expected = expected.expect("Python's LevenshteinRatio scores every pair");
        assert_close(
            result.unwrap().value,
            expected,
            EXACT,
            &format!("pair {pair} cs={case_sensitive}"),
        );
    }
}

#[test]
fn regex_match_matches_python() {
    for &(pattern, text, expected) in REGEX {
        let metric = RegexMatch::new(pattern).unwrap();
        assert_eq!(
            metric.score(text, None).unwrap().value,
            expected,
            "{pattern:?} on {text:?}"
        );
    }
}

#[test]
fn is_json_matches_python() {
    for &(text, expected) in IS_JSON {
        assert_eq!(
            IsJson::new().score(text, None).unwrap().value,
            expected,
            "{text:?}"
        );
    }
}

#[test]
fn default_names_are_pythons_and_can_be_overridden() {
    assert_eq!(
        Equals::new().score("a", Some("a")).unwrap().name,
        "equals_metric"
    );
    assert_eq!(
        Contains::new().score("a", Some("a")).unwrap().name,
        "contains_metric"
    );
    assert_eq!(
        RegexMatch::new("a").unwrap().score("a", None).unwrap().name,
        "regex_match_metric"
    );
    assert_eq!(
        IsJson::new().score("{}", None).unwrap().name,
        "is_json_metric"
    );
    assert_eq!(
        LevenshteinRatio::new().score("a", Some("a")).unwrap().name,
        "levenshtein_ratio_metric"
    );
    let renamed = Equals::new().name("exact").score("a", Some("a")).unwrap();
    assert_eq!(renamed.name, "exact");
    assert_eq!(RegexMatch::new("a").unwrap().name("re").metric_name(), "re");
    // Heuristic scores carry no reason, as in Python.
    assert_eq!(renamed.reason, None);
}

#[test]
fn missing_reference_is_an_error_naming_it() {
    let errors = [
        Equals::new().score("a", None).unwrap_err(),
        Contains::new().score("a", None).unwrap_err(),
        LevenshteinRatio::new().score("a", None).unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind, MetricErrorKind::MissingArgument);
        assert!(err.message.contains("`reference`"), "{err}");
        assert!(err.to_string().contains(&err.metric), "{err}");
    }
}

#[test]
fn contains_uses_its_default_reference_unless_given_one() {
    let metric = Contains::new().reference("world");
    assert_eq!(metric.score("Hello, World!", None).unwrap().value, 1.0);
    assert_eq!(
        metric.score("Hello, World!", Some("there")).unwrap().value,
        0.0
    );
    let err = Contains::new()
        .reference("")
        .score("Hello", None)
        .unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::InvalidArgument);
    assert!(err.message.contains("non-empty"), "{err}");
}

#[test]
fn regex_match_rejects_patterns_it_cannot_compile_and_ignores_reference() {
    let err = RegexMatch::new("(?<=a)b").unwrap_err();
    assert_eq!(err.kind, MetricErrorKind::InvalidOption);
    assert!(
        err.message.contains("\"(?<=a)b\"") && err.message.contains("look-around"),
        "{err}"
    );
    let metric = RegexMatch::new(r"^\d+$").unwrap();
    assert_eq!(metric.score("123", Some("ignored")).unwrap().value, 1.0);
    // Documented difference: Python's `$` also matches before a final newline.
    assert_eq!(metric.score("123\n", None).unwrap().value, 0.0);
    assert_eq!(
        RegexMatch::new(r"^\d+\n?$")
            .unwrap()
            .score("123\n", None)
            .unwrap()
            .value,
        1.0
    );
    let compiled = RegexMatch::from_regex(regex::Regex::new("b+").unwrap());
    assert_eq!(compiled.pattern(), "b+");
}

#[test]
fn is_json_has_no_depth_limit() {
    // Documented difference: Python's json gives up near depth 1000 (recursion limit).
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(IsJson::new().score(&deep, None).unwrap().value, 1.0);
    let unbalanced = format!("{}{}", "[".repeat(5000), "]".repeat(4999));
    assert_eq!(IsJson::new().score(&unbalanced, None).unwrap().value, 0.0);
}

#[test]
fn score_result_serializes_to_opiks_feedback_score_shape() {
    let result = Equals::new().score("a", Some("a")).unwrap();
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        serde_json::json!({"name": "equals_metric", "value": 1.0})
    );
}
