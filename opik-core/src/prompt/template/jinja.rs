//! jinja2 templates through `minijinja`, configured to print what Python's
//! `jinja2.Template(text).render(**variables)` prints.
//!
//! Differences from a stock minijinja environment, each to match jinja2:
//! - values print as Python's `str()` (`1e+20`, `{'a': True}`), see `pyrepr`;
//! - `tojson`, `escape`, `truncate`, `center`, `wordcount` are jinja2's (see
//!   `jinja_filters.rs`);
//! - Python string/dict methods (`s.upper()`, `d.items()`) work, through
//!   minijinja-contrib's `pycompat`;
//! - `\r\n` and `\r` in the template become `\n`, as jinja2's lexer does.
//!
//! One deliberate difference: undefined values. jinja2 prints a missing
//! variable as "" (its default `Undefined`); we use `SemiStrict`, so printing
//! or iterating a missing variable is an error naming it, while
//! `{% if x %}`, `x is defined` and `x | default(..)` keep working.

use std::borrow::Cow;
use std::collections::BTreeSet;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

use super::jinja_filters;
use super::pyrepr::py_str;
use super::{Location, TemplateError};

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // jinja2 leaves `{{ x }}` unescaped for templates from strings, and so do we
    // (no auto-escape callback): prompts are not HTML.
    env.set_formatter(|out, _state, value| {
        let mut text = String::new();
        py_str(value, &mut text);
        out.write_str(&text).map_err(Error::from)
    });
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    jinja_filters::add_to(&mut env);
    env
}

/// jinja2 normalises every newline in the template source to `\n`.
fn normalize_newlines(source: &str) -> Cow<'_, str> {
    if source.contains('\r') {
        Cow::Owned(source.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(source)
    }
}

/// The top-level variables `source` reads (loop variables and `set` targets
/// excluded).
pub(super) fn variables(
    source: &str,
    location: &Location,
) -> Result<BTreeSet<String>, TemplateError> {
    let env = environment();
    let source = normalize_newlines(source);
    let template = env
        .template_from_str(&source)
        .map_err(|e| syntax_error(&e, location))?;
    Ok(template.undeclared_variables(false).into_iter().collect())
}

/// Renders `source`; returns the text and the top-level variables it reads.
pub(super) fn render(
    source: &str,
    variables: &Value,
    provided: &BTreeSet<String>,
    location: &Location,
) -> Result<(String, BTreeSet<String>), TemplateError> {
    let env = environment();
    let source = normalize_newlines(source);
    let template = env
        .template_from_str(&source)
        .map_err(|e| syntax_error(&e, location))?;
    let used: BTreeSet<String> = template.undeclared_variables(false).into_iter().collect();
    match template.render(variables) {
        Ok(text) => Ok((text, used)),
        // minijinja stops at the first undefined value it prints or iterates:
        // that one is certainly missing. (Others the template reads may be
        // guarded by `is defined`, so they are listed as used, not missing.)
        Err(e) if e.kind() == ErrorKind::UndefinedError => match undefined_name(&e, &source)
            // A filter or test applied to a top-level variable that was not passed
            // (`{{ player | upper }}`) points at the filter, not the name.
            .or_else(|| {
                let named = e.detail()?.strip_prefix('`')?.split('`').next()?;
                (used.contains(named) && !provided.contains(named)).then(|| named.to_owned())
            }) {
            Some(name) => Err(TemplateError::MissingVariables {
                missing: vec![name],
                used: used.into_iter().collect(),
                provided: provided.iter().cloned().collect(),
                location: location.path(),
                line: e.line(),
            }),
            // A key or attribute of a passed value is missing (`obj.x`).
            None => Err(render_error(&e, location)),
        },
        Err(e) => Err(render_error(&e, location)),
    }
}

fn render_error(e: &Error, location: &Location) -> TemplateError {
    TemplateError::Render {
        message: full_message(e),
        line: e.line(),
        location: location.path(),
    }
}

/// The variable an `UndefinedError` is about, when it is a top-level name:
/// minijinja says "`name` is undefined" and points at the expression.
fn undefined_name(e: &Error, source: &str) -> Option<String> {
    let detail = e.detail()?;
    let name = detail.strip_prefix('`')?.split('`').next()?;
    let expr = e.range().and_then(|r| source.get(r)).unwrap_or(name);
    // `obj.x` where `obj` was passed reports "`obj.x`"-like names; only a bare
    // identifier is a missing *variable*.
    let is_ident = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    (is_ident && expr.trim_start().starts_with(name)).then(|| name.to_owned())
}

fn full_message(e: &Error) -> String {
    let mut message = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    // Python's printf-style `'%s' % x` is the one jinja2 expression minijinja
    // does not evaluate; point at the equivalent that works in both.
    if message.contains("% operator") && message.contains("string") {
        message.push_str("; write `'...' | format(value)` instead of `'...' % value`");
    }
    message
}

fn syntax_error(e: &Error, location: &Location) -> TemplateError {
    TemplateError::Syntax {
        message: full_message(e),
        line: e.line(),
        location: location.path(),
    }
}
