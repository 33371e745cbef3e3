//! jinja2 filters whose minijinja version prints something else, or that
//! minijinja lacks, re-implemented after jinja2 3.1's definitions
//! (`jinja2/filters.py`) so that prompts render as in Python.

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::pyrepr::{py_str, write_float};

pub(super) fn add_to(env: &mut Environment<'_>) {
    env.add_filter("tojson", tojson);
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    env.add_filter("truncate", truncate);
    env.add_filter("center", center);
    env.add_filter("wordcount", wordcount);
}

/// The largest padding or indentation a filter may produce, as minijinja
/// limits `'x' * n`: a template must not be able to exhaust memory.
const MAX_OUTPUT: usize = 100_000_000;

/// Deepest structure `tojson` writes (minijinja's own values nest at most a
/// few hundred levels; this keeps the recursion far from the stack's end).
const MAX_JSON_DEPTH: usize = 512;

fn text_of(value: &Value) -> String {
    let mut s = String::new();
    py_str(value, &mut s);
    s
}

/// `markupsafe.escape`: `& < > ' "` as `&amp; &lt; &gt; &#39; &#34;` (minijinja
/// writes `&#x27;` and `&quot;`); already-safe text is left alone.
fn escape(value: &Value) -> Value {
    if value.is_safe() {
        return value.clone();
    }
    let text = text_of(value);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}

/// `truncate(s, length=255, killwords=False, end='...', leeway=5)`; minijinja-contrib's
/// version takes keyword arguments only, so `truncate(9)` would fail.
fn truncate(value: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    const NAMES: [&str; 4] = ["length", "killwords", "end", "leeway"];
    if args.len() > NAMES.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            "truncate takes at most 4 arguments",
        ));
    }
    // Positional arguments fill the parameters in order, keywords the rest.
    let get = |i: usize| -> Result<Option<Value>, Error> {
        match args.get(i) {
            Some(v) => Ok(Some(v.clone())),
            None => kwargs.get::<Option<Value>>(NAMES[i]),
        }
    };
    let int = |v: Option<Value>, default: usize| -> Result<usize, Error> {
        v.map_or(Ok(default), usize::try_from)
    };
    let length = int(get(0)?, 255)?;
    let killwords = get(1)?.is_some_and(|v| v.is_true());
    let end = get(2)?.map_or_else(|| "...".to_owned(), |v| text_of(&v));
    let leeway = int(get(3)?, 5)?;
    kwargs.assert_all_used()?;
    let s = text_of(value);
    let end_len = end.chars().count();
    if length < end_len {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("truncate: expected length >= {end_len}, got {length}"),
        ));
    }
    if s.chars().count() <= length.saturating_add(leeway) {
        return Ok(Value::from(s));
    }
    let head: String = s.chars().take(length - end_len).collect();
    let kept = if killwords {
        head.as_str()
    } else {
        head.rsplit_once(' ').map_or(head.as_str(), |(a, _)| a)
    };
    Ok(Value::from(format!("{kept}{end}")))
}

/// Python's `str.center(width)`, which jinja2's `center` calls: when the
/// padding is odd, the extra space goes left only if `width` is odd too.
fn center(value: &Value, width: Option<usize>) -> Result<Value, Error> {
    let s = text_of(value);
    let width = width.unwrap_or(80);
    if width > MAX_OUTPUT {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("center: width {width} is too large (at most {MAX_OUTPUT})"),
        ));
    }
    let len = s.chars().count();
    if width <= len {
        return Ok(Value::from(s));
    }
    let margin = width - len;
    let left = margin / 2 + (margin & width & 1);
    let mut out = " ".repeat(left);
    out.push_str(&s);
    out.push_str(&" ".repeat(margin - left));
    Ok(Value::from(out))
}

/// `len(re.findall(r"\w+", s))`: runs of Unicode letters, digits and `_`.
fn wordcount(value: &Value) -> usize {
    let s = text_of(value);
    let mut count = 0;
    let mut in_word = false;
    for c in s.chars() {
        let word_char = c.is_alphanumeric() || c == '_';
        if word_char && !in_word {
            count += 1;
        }
        in_word = word_char;
    }
    count
}

/// jinja2's `tojson`: `htmlsafe_json_dumps(value, sort_keys=True, indent=..)`,
/// i.e. Python's `json.dumps` (ASCII only, `", "` / `": "` separators, sorted
/// keys) with `<`, `>`, `&` and `'` escaped as `\u00XX`, returned as safe text.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    if indent.is_some_and(|n| n > 1024) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "tojson: indent is too large (at most 1024)",
        ));
    }
    let mut out = String::new();
    write_json(value, indent, 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

fn write_json(
    value: &Value,
    indent: Option<usize>,
    depth: usize,
    out: &mut String,
) -> Result<(), Error> {
    if depth > MAX_JSON_DEPTH || out.len() > MAX_OUTPUT {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "tojson: value is too deep or too large",
        ));
    }
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * depth));
        }
    };
    // json.dumps uses "," between items when indenting, ", " otherwise.
    let item_sep = if indent.is_some() { "," } else { ", " };
    match value.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number if value.is_integer() => out.push_str(&value.to_string()),
        ValueKind::Number => match f64::try_from(value.clone()) {
            Ok(f) if f.is_nan() => out.push_str("NaN"),
            Ok(f) if f.is_infinite() => {
                out.push_str(if f < 0.0 { "-Infinity" } else { "Infinity" })
            }
            Ok(f) => write_float(f, out),
            Err(_) => out.push_str(&value.to_string()),
        },
        ValueKind::String => write_json_str(value.as_str().unwrap_or_default(), out),
        ValueKind::Seq => {
            let items: Vec<Value> = value.try_iter()?.collect();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                write_json(item, indent, depth + 1, out)?;
            }
            if !items.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in value.try_iter()? {
                let Some(name) = key.as_str() else {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("tojson: keys must be strings to sort them, got `{key}`"),
                    ));
                };
                entries.push((name.to_owned(), value.get_item(&key)?));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (name, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                write_json_str(name, out);
                out.push_str(": ");
                write_json(item, indent, depth + 1, out)?;
            }
            if !entries.is_empty() {
                newline(out, depth);
            }
            out.push('}');
        }
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("tojson: a {kind} value is not JSON serializable"),
            ));
        }
    }
    Ok(())
}

fn write_json_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // The htmlsafe part of jinja2's tojson.
            '<' | '>' | '&' | '\'' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}
