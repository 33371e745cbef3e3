//! Python's `str()` / `repr()` of template values.
//!
//! The Python SDK turns a non-string variable into text with `str(value)`
//! (mustache: `str(value)` in `PromptTemplate.format`; jinja2: `{{ value }}`
//! calls `str` too). Users pass JSON-like data, so a dict renders as
//! `{'a': 1, 'b': [True, None]}`, a float as `1e+20`. To produce the same prompt
//! text as Python we render Python's representation here, for both engines,
//! from one [`minijinja::Value`] (mustache variables are converted to it).

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};

/// `str(value)` as Python prints it: strings as they are, everything else as
/// its `repr`.
pub(super) fn py_str(value: &Value, out: &mut String) {
    match value.as_str() {
        // Safe strings (jinja2 `Markup`) print as their text as well.
        Some(s) if value.kind() == ValueKind::String => out.push_str(s),
        _ => py_repr(value, out),
    }
}

/// `repr(value)`: what Python shows for a value nested inside a list or dict.
pub(super) fn py_repr(value: &Value, out: &mut String) {
    repr_at(value, out, 0);
}

/// Nesting beyond this prints as `...` (Python would raise RecursionError
/// near 1000 levels); it keeps the recursion far from the stack's end.
const MAX_DEPTH: usize = 256;

fn repr_at(value: &Value, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => write_number(value, out),
        ValueKind::String => write_str_repr(value.as_str().unwrap_or_default(), out),
        ValueKind::Seq if value.is_tuple() => {
            out.push('(');
            let len = write_items(value, out, depth);
            // A 1-tuple keeps its trailing comma in Python: `('a',)`.
            if len == 1 {
                out.push(',');
            }
            out.push(')');
        }
        ValueKind::Seq => {
            out.push('[');
            write_items(value, out, depth);
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    repr_at(&key, out, depth + 1);
                    out.push_str(": ");
                    let item = value.get_item(&key).unwrap_or_default();
                    repr_at(&item, out, depth + 1);
                }
            }
            out.push('}');
        }
        // Macros, loop objects, bytes, iterators: no JSON value becomes one of
        // these, so minijinja's own rendering is as good as any.
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

fn write_items(value: &Value, out: &mut String, depth: usize) -> usize {
    let mut n = 0;
    if let Ok(items) = value.try_iter() {
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            repr_at(&item, out, depth + 1);
            n += 1;
        }
    }
    n
}

fn write_number(value: &Value, out: &mut String) {
    if value.is_integer() {
        // i64, u64 and i128 all print as plain digits, like Python ints.
        let _ = write!(out, "{value}");
    } else if let Ok(f) = f64::try_from(value.clone()) {
        write_float(f, out);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Python's `repr(float)`: the shortest round-tripping digits (Rust's `{:e}`
/// gives the same digits), fixed notation when the decimal exponent is in
/// `-4..16`, otherwise `d.ddde+XX` with at least two exponent digits.
pub(super) fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f < 0.0 { "-inf" } else { "inf" });
        return;
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let fixed = f.to_string();
        out.push_str(&fixed);
        if !fixed.contains('.') {
            out.push_str(".0");
        }
    } else {
        out.push_str(mantissa);
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.unsigned_abs());
    }
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`,
/// backslash escapes for the quote, `\\`, `\n`, `\r`, `\t` and for every
/// character `str.isprintable()` rejects.
fn write_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let cp = c as u32;
                let _ = match cp {
                    0..=0xFF => write!(out, "\\x{cp:02x}"),
                    0x100..=0xFFFF => write!(out, "\\u{cp:04x}"),
                    _ => write!(out, "\\U{cp:08x}"),
                };
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Assigned code points Python 3.11 (Unicode 14) considers non-printable:
/// categories Cc, Cf, Zs (but space), Zl, Zp and Co. Generated by
/// `reference/gen_nonprintable_table.py`. Unassigned code points (Cn) are
/// non-printable in Python too; they are left out (the table would be huge and
/// such characters do not occur in prompts), so we print them verbatim.
const NON_PRINTABLE: &[(u32, u32)] = &[
    (0x0000, 0x001F),
    (0x007F, 0x00A0),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x2064),
    (0x2066, 0x206F),
    (0x3000, 0x3000),
    (0xE000, 0xF8FF),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xF0000, 0xFFFFD),
    (0x100000, 0x10FFFD),
];

fn is_printable(c: char) -> bool {
    let cp = c as u32;
    NON_PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// Python's `str.isspace()`, which `str.strip()` uses: Unicode White_Space
/// plus the four ASCII separators U+001C..U+001F that Rust's `trim` keeps.
pub(super) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub(super) fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}
