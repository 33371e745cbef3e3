//! Opik's "mustache": plain `{{ name }}` substitution, as the Python SDK does it.
//!
//! Python (`PromptTemplate.format`) does not use a Mustache library: it runs
//! one `re.sub` with `\{\{([^{}]*?)\}\}`, strips the key, and inserts
//! `str(value)` (`None` renders as ""). There are no sections, partials,
//! comments or HTML escaping: `{{#items}}` is just a placeholder named
//! `#items`, and `&` stays `&`. A spec-compliant Mustache crate would
//! HTML-escape every value and interpret sections, so prompts would render
//! differently from Python. We therefore keep Opik's rule, and scan for it by
//! hand: the pattern is a fixed two-character delimiter with no nesting, which
//! a `regex` dependency would not make any clearer.

use std::ops::Range;

use super::pyrepr::py_strip;

/// One `{{ ... }}` occurrence: the byte range of the whole placeholder in the
/// template and its key with Python-`strip()`ped whitespace.
pub(super) struct Placeholder<'t> {
    pub range: Range<usize>,
    pub key: &'t str,
}

/// Every placeholder in `template`, left to right, exactly where Python's
/// `re.finditer(r"\{\{([^{}]*?)\}\}")` finds them: the key may not contain a
/// brace, so in `{{{x}}}` the match is the inner `{{x}}` and the outer braces
/// stay literal.
pub(super) fn placeholders(template: &str) -> impl Iterator<Item = Placeholder<'_>> {
    let bytes = template.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = memchr::memmem::find(&bytes[at..], b"{{") {
            let start = at + offset;
            let key_start = start + 2;
            // The key runs to the first brace; it is a placeholder only if that
            // brace begins `}}`. Braces are ASCII, so these are char boundaries.
            let key_end = bytes[key_start..]
                .iter()
                .position(|&b| b == b'{' || b == b'}')
                .map_or(bytes.len(), |p| key_start + p);
            if bytes[key_end..].starts_with(b"}}") {
                at = key_end + 2;
                return Some(Placeholder {
                    range: start..key_end + 2,
                    key: py_strip(&template[key_start..key_end]),
                });
            }
            // No match here; like the regex, try again one character later, so
            // the second `{` of `{{{` can start a match.
            at = start + 1;
        }
        None
    })
}
