//! Opik's prompt library (the `prompts` feature): prompts and their versions kept in Opik,
//! formatted as Opik marks them, cached, and linked to what uses them.
//!
//! - **Create**: [`Opik::create_prompt`](crate::Opik::create_prompt) (a text template) and
//!   `create_chat_prompt` (role/content messages) make a new version only when the template,
//!   its type or the metadata changed, so a program can create its prompts at every start.
//! - **Get**: `get_prompt` (the latest version) and `get_prompt_by_commit`, through the
//!   client's cache (`prompt_cache_ttl`, stale-while-revalidate: a down server does not
//!   break a program that had the prompt); `get_prompt_history`, `search_prompts`.
//! - **Format**: [`Prompt::format`] / [`ChatPrompt::format`] fill in variables with Opik's
//!   mustache (`{{name}}`, its default) or jinja2 (through `minijinja`), printing values as
//!   Python would (`True`, `{'a': 1}`), so a prompt formats the same from both SDKs. A
//!   variable the template reads but the caller did not pass is an error naming it, never
//!   an empty string.
//! - **Link**: [`PromptVersion::attach_to`] (or [`attach_to_current_span`]) records the
//!   version in a span's or trace's `metadata.opik_prompts`, the Python SDK's shape, which
//!   Opik shows as the prompt the call used; `EvaluateOptions::prompts` links an experiment
//!   to the versions it tried.
//!
//! Owns: the templates (`template`: mounted from the shared pieces, with their parity tests
//! against the Python SDK), prompt versions and their formatting (`version`), the library
//! calls (`library`) and the cache (`cache`). May import `api`, `model`, `pipe` and `rest`.

mod cache;
mod error;
mod library;
mod template;
mod version;

pub use error::PromptError;
pub use library::PromptOptions;
pub use template::{
    ChatMessage, FormatOptions, MessageContent, RenderedContent, RenderedMessage,
    SupportedModalities, TemplateError, TemplateType, UnusedVariables,
};
pub use version::{
    attach_to_current_span, attach_to_current_trace, ChatPrompt, Prompt, PromptTarget,
    PromptVersion, TemplateStructure,
};
