use super::super::text::{is_py_whitespace, py_is_blank, py_lower, py_split};
use super::python_reference::{PY_LOWER, PY_UNASSIGNED, PY_WHITESPACE};

#[test]
fn whitespace_is_pythons() {
    let rust: Vec<u32> = (0..=0x10FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|&c| is_py_whitespace(c))
        .map(u32::from)
        .collect();
    assert_eq!(rust, PY_WHITESPACE);
    assert_eq!(
        py_split(" a\u{1c}b\u{a0} c\t").collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    assert!(py_is_blank("\u{3000}\u{1f} \n"));
    assert!(py_is_blank(""));
    assert!(!py_is_blank(" x "));
}

/// Rust's lowercase is Python's for every character Python's Unicode (14.0 in Python 3.11)
/// knows; it may differ only on characters that were unassigned there, i.e. cased by a later
/// Unicode (Rust 1.95: Garay, Beria Erfe, a few Latin and Cyrillic letters).
#[test]
fn lowercase_is_pythons_on_every_character_python_knows() {
    let python: std::collections::HashMap<u32, &str> = PY_LOWER.iter().copied().collect();
    let unassigned_in_python =
        |c: u32| PY_UNASSIGNED.iter().any(|&(lo, hi)| (lo..=hi).contains(&c));
    let unexplained: Vec<String> = (0..=0x10FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|&c| {
            let expected = python
                .get(&u32::from(c))
                .map_or_else(|| c.to_string(), |s| (*s).to_owned());
            py_lower(&c.to_string()) != expected && !unassigned_in_python(u32::from(c))
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    assert!(
        unexplained.is_empty(),
        "lowercase differs from Python on {unexplained:?}"
    );
    // The full mapping and the final-sigma rule, which work on strings rather than characters.
    assert_eq!(py_lower("İ"), "i\u{307}");
    assert_eq!(py_lower("ΟΔΥΣΣΕΥΣ"), "οδυσσευς");
}
