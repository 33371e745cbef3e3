//! What can go wrong formatting a template, with messages that name the
//! offending variable or expression and say what to do.

use std::fmt;

/// Why a template could not be formatted. `location` is where in a chat
/// prompt the failing string is (`messages[1].content[0].text`), empty for a
/// text prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateError {
    /// The template reads variables that were not passed.
    MissingVariables {
        missing: Vec<String>,
        /// Every variable the template reads.
        used: Vec<String>,
        provided: Vec<String>,
        location: String,
        /// 1-based line of the first missing use (jinja2 only).
        line: Option<usize>,
    },
    /// Variables were passed that the template never reads, and the options
    /// (or Python's text-prompt default) reject that.
    UnusedVariables {
        unused: Vec<String>,
        used: Vec<String>,
    },
    /// The jinja2 template does not parse.
    Syntax {
        message: String,
        line: Option<usize>,
        location: String,
    },
    /// jinja2 failed while rendering (bad filter argument, missing key, ...).
    Render {
        message: String,
        line: Option<usize>,
        location: String,
    },
    /// The variables did not serialize to a JSON object.
    VariablesNotAnObject {
        found: &'static str,
    },
    VariablesNotSerializable(String),
    UnknownTemplateType(String),
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn at(location: &str, line: Option<usize>) -> String {
    match (location.is_empty(), line) {
        (true, None) => String::new(),
        (true, Some(l)) => format!(" (line {l})"),
        (false, None) => format!(" (in {location})"),
        (false, Some(l)) => format!(" (in {location}, line {l})"),
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingVariables {
                missing,
                used,
                provided,
                location,
                line,
            } => write!(
                f,
                "missing template variable{} {}{}: the template uses {}, the variables passed are {}; \
                 pass a value for each missing one (an empty string if it should render as nothing)",
                if missing.len() > 1 { "s" } else { "" },
                list(missing),
                at(location, *line),
                list(used),
                list(provided),
            ),
            Self::UnusedVariables { unused, used } => write!(
                f,
                "variable{} {} passed but not used by the template (it uses {}); remove {} \
                 or allow unused variables with `UnusedVariables::Allow`",
                if unused.len() > 1 { "s" } else { "" },
                list(unused),
                list(used),
                if unused.len() > 1 { "them" } else { "it" },
            ),
            Self::Syntax {
                message,
                line,
                location,
            } => {
                write!(
                    f,
                    "invalid jinja2 template{}: {message}",
                    at(location, *line)
                )
            }
            Self::Render {
                message,
                line,
                location,
            } => {
                write!(
                    f,
                    "jinja2 template failed to render{}: {message}",
                    at(location, *line)
                )
            }
            Self::VariablesNotAnObject { found } => write!(
                f,
                "template variables must serialize to a JSON object (name -> value), got {found}; \
                 pass a map or a struct"
            ),
            Self::VariablesNotSerializable(e) => {
                write!(f, "template variables could not be serialized: {e}")
            }
            Self::UnknownTemplateType(t) => {
                write!(
                    f,
                    "unknown template type `{t}`: expected `mustache` or `jinja2`"
                )
            }
        }
    }
}

impl std::error::Error for TemplateError {}
