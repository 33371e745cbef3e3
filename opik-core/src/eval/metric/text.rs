//! The few Python `str` operations the metrics are defined with, done the way Python does
//! them, so that tokens (and so scores) are the Python SDK's; and the emptiness checks Opik's
//! text-overlap metrics make before scoring.

use super::score::{quote, MetricError, MetricErrorKind};

/// Python's `str.isspace()`, which is what `str.split()` and `str.strip()` split and strip on.
///
/// It is Rust's `char::is_whitespace` (the Unicode `White_Space` property) plus the four
/// ASCII separators U+001C..U+001F, which Python counts as whitespace (their bidi class is
/// B or S) and Unicode does not. The test against Python's full table keeps this honest.
pub(super) fn is_py_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `text.split()`: the runs of non-whitespace.
pub(super) fn py_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_py_whitespace)
        .filter(|token| !token.is_empty())
}

/// Python's `not text.strip()`.
pub(super) fn py_is_blank(text: &str) -> bool {
    text.chars().all(is_py_whitespace)
}

/// Python's `text.lower()`.
///
/// Both are Unicode's full default lowercase mapping (`İ` becomes `i̇`, two characters) with
/// the final-sigma rule; they can differ only on characters that Unicode cased after the
/// version Python's `unicodedata` ships (14.0 in Python 3.11), which the test lists.
pub(super) fn py_lower(text: &str) -> String {
    text.to_lowercase()
}

/// `text`, lowercased unless the metric compares case-sensitively.
pub(super) fn fold_case(text: &str, case_sensitive: bool) -> std::borrow::Cow<'_, str> {
    if case_sensitive {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(py_lower(text))
    }
}

/// Opik's `if not output.strip(): raise`: a candidate must have a word.
pub(super) fn check_candidate(metric: &str, what: &str, text: &str) -> Result<(), MetricError> {
    if py_is_blank(text) {
        return Err(MetricError::invalid_argument(
            metric,
            format!(
                "`{what}` is {}, which has no words to score; pass a non-empty candidate",
                quote(text)
            ),
        ));
    }
    Ok(())
}

/// Opik's checks on references: at least one, and none blank.
pub(super) fn check_references<S: AsRef<str>>(
    metric: &str,
    what: &str,
    references: &[S],
) -> Result<(), MetricError> {
    if references.is_empty() {
        return Err(MetricError::new(
            metric,
            MetricErrorKind::MissingArgument,
            format!("`{what}` is an empty list; pass at least one reference"),
        ));
    }
    for reference in references {
        let reference = reference.as_ref();
        if py_is_blank(reference) {
            return Err(MetricError::invalid_argument(
                metric,
                format!(
                    "a reference in `{what}` is {}, which has no words to match; drop it or pass its text",
                    quote(reference)
                ),
            ));
        }
    }
    Ok(())
}
