//! [`PromptError`]: why a prompt library call failed.

use super::template::TemplateError;
use super::version::TemplateStructure;
use crate::rest::{FilterError, RestError};
use std::fmt;

/// Why creating, getting or listing prompts failed. (Formatting a prompt fails with a
/// [`TemplateError`] of its own.)
#[derive(Debug)]
#[non_exhaustive]
pub enum PromptError {
    /// The prompt library is Opik's: the client sends to no server (the SDK is off, or prints
    /// to the local view). Use a prompt made in code instead: `Prompt::new`.
    NoServer {
        /// What was asked.
        operation: &'static str,
    },
    /// A REST call failed; the error names the call, the status and the server's message.
    Rest(RestError),
    /// The template does not parse (a jinja2 syntax error): nothing was sent.
    Template(TemplateError),
    /// A search's filter string does not parse; the error shows where and what was expected.
    Filter(FilterError),
    /// The prompt exists with the other structure (text or chat), which its first version
    /// fixed.
    StructureMismatch {
        /// The prompt.
        name: String,
        /// What it is.
        stored: TemplateStructure,
        /// What was asked for.
        asked: TemplateStructure,
    },
    /// The version's template type is one the SDK cannot format (`python`).
    UnsupportedType {
        /// The prompt.
        name: String,
        /// Its type.
        template_type: String,
    },
    /// The name or template cannot be a prompt's.
    Invalid {
        /// The prompt.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl PromptError {
    /// Whether the server said the prompt (or the commit) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, PromptError::Rest(e) if e.is_not_found())
    }
}

impl fmt::Display for PromptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromptError::NoServer { operation } => write!(
                f,
                "opik: {operation} needs Opik's prompt library, and this client sends to no \
                 server (the SDK is off, or prints to the local view). Configure one with \
                 OPIK_URL_OVERRIDE or OPIK_API_KEY, or make the prompt in code: Prompt::new"
            ),
            PromptError::Rest(e) => fmt::Display::fmt(e, f),
            PromptError::Template(e) => write!(f, "opik: {e}; the prompt was not sent"),
            PromptError::Filter(e) => write!(f, "opik: {e}"),
            PromptError::StructureMismatch {
                name,
                stored,
                asked,
            } => write!(
                f,
                "opik: prompt {name:?} is a {stored} prompt, not a {asked} prompt (its first \
                 version fixed that); use {} or another name",
                match stored {
                    TemplateStructure::Text => "create_prompt / get_prompt",
                    TemplateStructure::Chat => "create_chat_prompt / get_chat_prompt",
                }
            ),
            PromptError::UnsupportedType {
                name,
                template_type,
            } => write!(
                f,
                "opik: prompt {name:?} has templates of type {template_type:?}, which the SDK \
                 cannot format (it formats mustache and jinja2)"
            ),
            PromptError::Invalid { name, reason } => {
                write!(f, "opik: prompt {name:?} is invalid: {reason}")
            }
        }
    }
}

impl std::error::Error for PromptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PromptError::Rest(e) => Some(e),
            PromptError::Template(e) => Some(e),
            PromptError::Filter(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RestError> for PromptError {
    fn from(e: RestError) -> Self {
        PromptError::Rest(e)
    }
}

impl From<TemplateError> for PromptError {
    fn from(e: TemplateError) -> Self {
        PromptError::Template(e)
    }
}
