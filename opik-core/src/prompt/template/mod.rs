//! Prompt templates: formatting Opik text and chat prompts exactly as the
//! Python SDK's `Prompt.format` / `ChatPrompt.format` do (opik 2.2.122).
//!
//! - `mustache` (the default): Opik's own `{{ name }}` substitution, not the
//!   Mustache spec (see `mustache.rs` for why).
//! - `jinja2`: rendered by `minijinja`, configured to print like jinja2 (see
//!   `jinja.rs`).
//!
//! Non-string values print as Python's `str()` would print the equivalent
//! Python value: `{'a': [1, True, None]}`, `1e+20`, `True`.
//!
//! Where we differ from Python, on purpose:
//! - A variable the template needs but the caller did not pass is always an
//!   error naming it ([`TemplateError::MissingVariables`]). Python raises only
//!   for text mustache prompts; chat prompts leave `{{name}}` in the text and
//!   jinja2 prints "" — both silently send a broken prompt to the model.
//! - Errors are returned, never swallowed: Python's chat renderer falls back to
//!   the raw template when jinja2 fails.
//! - `{{}}` (an empty key) is literal text. Python treats it as a placeholder
//!   named "", which only a `**{"": ...}` call could satisfy.
//! - jinja2 only: a missing key of a passed value (`{{ d.missing }}`) is an
//!   error too (Python prints ""); `'%s' % x` is an error suggesting
//!   `'%s' | format(x)` (minijinja has no printf operator); filters minijinja
//!   lacks and we did not add (`wordwrap`, `urlencode`, `xmlattr`, ...) are
//!   "unknown filter" errors.
//! - An unknown template type is an error; Python's chat prompts fall back to
//!   mustache.

mod chat;
mod error;
mod jinja;
mod jinja_filters;
mod mustache;
mod pyrepr;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use minijinja::value::{Value, ValueKind};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use self::error::TemplateError;

/// The `type` of an Opik prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateType {
    #[default]
    Mustache,
    Jinja2,
}

impl std::str::FromStr for TemplateType {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mustache" => Ok(Self::Mustache),
            "jinja2" => Ok(Self::Jinja2),
            other => Err(TemplateError::UnknownTemplateType(other.to_owned())),
        }
    }
}

/// A text prompt: one template string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextTemplate {
    #[serde(rename = "type", default)]
    pub template_type: TemplateType,
    pub text: String,
}

/// A chat prompt: messages whose contents are templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatTemplate {
    #[serde(rename = "type", default)]
    pub template_type: TemplateType,
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: MessageContent,
}

/// A message's content: one template, or OpenAI-style parts
/// (`{"type": "text", "text": ..}`, `{"type": "image_url", "image_url": {"url": ..}}`,
/// `video_url`, `audio_url`). Parts stay JSON because Python accepts, and
/// drops, parts of any shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<Json>),
}

impl Default for MessageContent {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

/// A formatted message; serializes to the dict Python returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedMessage {
    pub role: String,
    pub content: RenderedContent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RenderedContent {
    Text(String),
    Parts(Vec<Json>),
}

/// Which media the target model accepts. A part of an unsupported modality
/// flattens its whole message to text with a `<<<image>>>url<<</image>>>`
/// placeholder. Default: all supported, as in `ChatPrompt.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedModalities {
    pub vision: bool,
    pub video: bool,
    pub audio: bool,
}

impl Default for SupportedModalities {
    fn default() -> Self {
        Self {
            vision: true,
            video: true,
            audio: true,
        }
    }
}

/// What to do with passed variables the template never uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnusedVariables {
    /// Python's defaults: an error for text mustache prompts
    /// (`validate_placeholders=True`), accepted for jinja2 and chat prompts.
    #[default]
    PythonDefault,
    Allow,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatOptions {
    pub unused_variables: UnusedVariables,
    pub supported_modalities: SupportedModalities,
}

/// Path of a string inside a chat prompt, for error messages.
#[derive(Debug, Clone, Default)]
struct Location(String);

impl Location {
    fn child(&self, name: &str) -> Location {
        if self.0.is_empty() {
            Location(name.to_owned())
        } else {
            Location(format!("{}.{name}", self.0))
        }
    }

    fn path(&self) -> String {
        self.0.clone()
    }

    fn index(&self, i: usize) -> Location {
        Location(format!("{}[{i}]", self.0))
    }
}

/// The variables as a minijinja map, serialized straight from the caller's value, so that a
/// struct's fields and a map's entries keep their order (a dict prints in insertion order in
/// Python; going through `serde_json::Value` would sort its keys).
fn to_variables<V: Serialize + ?Sized>(variables: &V) -> Result<Value, TemplateError> {
    let value = Value::from(minijinja::value::Serde(variables));
    let found = match value.kind() {
        ValueKind::Map => return Ok(value),
        ValueKind::Invalid => {
            return Err(TemplateError::VariablesNotSerializable(value.to_string()));
        }
        ValueKind::Undefined | ValueKind::None => "null",
        ValueKind::Bool => "a boolean",
        ValueKind::Number => "a number",
        ValueKind::String => "a string",
        ValueKind::Seq | ValueKind::Iterable => "an array",
        _ => "a value that is not a map",
    };
    Err(TemplateError::VariablesNotAnObject { found })
}

/// A variable's name as Python sees a `**kwargs` key.
fn key_text(key: &Value) -> String {
    match key.as_str() {
        Some(s) => s.to_owned(),
        None => key.to_string(),
    }
}

/// Renders the template strings of one prompt with one set of variables, and
/// records which variables were read.
struct Renderer {
    template_type: TemplateType,
    /// Mustache looks keys up with surrounding whitespace stripped, on both
    /// sides (`{{ name }}` matches `" name "`), later keys winning, as Python.
    stripped: HashMap<String, Value>,
    jinja_context: Value,
    provided: BTreeSet<String>,
    /// Every variable of the whole prompt, for error messages.
    all_used: Vec<String>,
    used: BTreeSet<String>,
}

impl Renderer {
    fn new(template_type: TemplateType, variables: Value, all_used: Vec<String>) -> Self {
        let keys: Vec<Value> = variables
            .try_iter()
            .map(|keys| keys.collect())
            .unwrap_or_default();
        let (stripped, jinja_context, provided) = match template_type {
            TemplateType::Mustache => {
                let stripped: HashMap<String, Value> = keys
                    .iter()
                    .map(|k| {
                        let value = variables.get_item(k).unwrap_or_default();
                        (pyrepr::py_strip(&key_text(k)).to_owned(), value)
                    })
                    .collect();
                let provided = stripped.keys().cloned().collect();
                (stripped, Value::UNDEFINED, provided)
            }
            TemplateType::Jinja2 => {
                let provided = keys.iter().map(key_text).collect();
                (HashMap::new(), variables, provided)
            }
        };
        Self {
            template_type,
            stripped,
            jinja_context,
            provided,
            all_used,
            used: BTreeSet::new(),
        }
    }

    fn render(&mut self, template: &str, location: Location) -> Result<String, TemplateError> {
        match self.template_type {
            TemplateType::Mustache => self.render_mustache(template, location),
            TemplateType::Jinja2 => {
                match jinja::render(template, &self.jinja_context, &self.provided, &location) {
                    Ok((text, used)) => {
                        self.used.extend(used);
                        Ok(text)
                    }
                    Err(TemplateError::MissingVariables {
                        missing,
                        provided,
                        location,
                        line,
                        ..
                    }) => {
                        let used = self.all_used.clone();
                        Err(TemplateError::MissingVariables {
                            missing,
                            used,
                            provided,
                            location,
                            line,
                        })
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn render_mustache(
        &mut self,
        template: &str,
        location: Location,
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(template.len());
        let mut missing: Vec<String> = Vec::new();
        let mut last = 0;
        for p in mustache::placeholders(template) {
            if p.key.is_empty() {
                continue;
            }
            self.used.insert(p.key.to_owned());
            let Some(value) = self.stripped.get(p.key) else {
                if !missing.iter().any(|m| m == p.key) {
                    missing.push(p.key.to_owned());
                }
                continue;
            };
            out.push_str(&template[last..p.range.start]);
            // `None` renders as "", everything else as Python's `str(value)`.
            if !value.is_none() {
                pyrepr::py_str(value, &mut out);
            }
            last = p.range.end;
        }
        if !missing.is_empty() {
            return Err(TemplateError::MissingVariables {
                missing,
                used: self.all_used.clone(),
                provided: self.provided.iter().cloned().collect(),
                location: location.path(),
                line: None,
            });
        }
        out.push_str(&template[last..]);
        Ok(out)
    }

    fn check_unused(
        &self,
        policy: UnusedVariables,
        python_rejects: bool,
    ) -> Result<(), TemplateError> {
        let reject = match policy {
            UnusedVariables::PythonDefault => python_rejects,
            UnusedVariables::Allow => false,
            UnusedVariables::Reject => true,
        };
        let unused: Vec<String> = self.provided.difference(&self.used).cloned().collect();
        if reject && !unused.is_empty() {
            return Err(TemplateError::UnusedVariables {
                unused,
                used: self.all_used.clone(),
            });
        }
        Ok(())
    }
}

fn string_variables(
    template_type: TemplateType,
    text: &str,
    location: &Location,
) -> Result<BTreeSet<String>, TemplateError> {
    match template_type {
        TemplateType::Mustache => Ok(mustache::placeholders(text)
            .filter(|p| !p.key.is_empty())
            .map(|p| p.key.to_owned())
            .collect()),
        TemplateType::Jinja2 => jinja::variables(text, location),
    }
}

impl TextTemplate {
    pub fn new(template_type: TemplateType, text: impl Into<String>) -> Self {
        Self {
            template_type,
            text: text.into(),
        }
    }

    /// The variables the template reads, sorted. For jinja2, the top-level
    /// names only (not loop variables or `set` targets); fails if the
    /// template does not parse.
    pub fn variables(&self) -> Result<BTreeSet<String>, TemplateError> {
        string_variables(self.template_type, &self.text, &Location::default())
    }

    /// Formats with Python's defaults (see [`FormatOptions`]).
    pub fn format<V: Serialize + ?Sized>(&self, variables: &V) -> Result<String, TemplateError> {
        self.format_with(variables, &FormatOptions::default())
    }

    pub fn format_with<V: Serialize + ?Sized>(
        &self,
        variables: &V,
        options: &FormatOptions,
    ) -> Result<String, TemplateError> {
        let variables = to_variables(variables)?;
        let all_used = self.variables()?.into_iter().collect();
        let mut renderer = Renderer::new(self.template_type, variables, all_used);
        let out = renderer.render(&self.text, Location::default())?;
        renderer.check_unused(
            options.unused_variables,
            self.template_type == TemplateType::Mustache,
        )?;
        Ok(out)
    }
}

impl ChatTemplate {
    pub fn new(template_type: TemplateType, messages: Vec<ChatMessage>) -> Self {
        Self {
            template_type,
            messages,
        }
    }

    /// Every template string of the prompt, with its location: string
    /// contents, `text` parts and media URLs.
    fn strings(&self) -> Vec<(Location, &str)> {
        let mut out = Vec::new();
        for (i, message) in self.messages.iter().enumerate() {
            let loc = Location::default()
                .child("messages")
                .index(i)
                .child("content");
            match &message.content {
                MessageContent::Text(s) => out.push((loc, s.as_str())),
                MessageContent::Parts(parts) => {
                    for (j, part) in parts.iter().enumerate() {
                        let loc = loc.index(j);
                        if let Some(Json::String(s)) = part.get("text") {
                            out.push((loc.child("text"), s.as_str()));
                        }
                        for kind in ["image_url", "video_url", "audio_url"] {
                            if let Some(Json::String(s)) = part.get(kind).and_then(|m| m.get("url"))
                            {
                                out.push((loc.child(kind).child("url"), s.as_str()));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The variables the prompt reads across all messages, sorted.
    pub fn variables(&self) -> Result<BTreeSet<String>, TemplateError> {
        let mut all = BTreeSet::new();
        for (loc, s) in self.strings() {
            all.extend(string_variables(self.template_type, s, &loc)?);
        }
        Ok(all)
    }

    /// Formats with Python's defaults: all modalities supported, unused
    /// variables accepted.
    pub fn format<V: Serialize + ?Sized>(
        &self,
        variables: &V,
    ) -> Result<Vec<RenderedMessage>, TemplateError> {
        self.format_with(variables, &FormatOptions::default())
    }

    pub fn format_with<V: Serialize + ?Sized>(
        &self,
        variables: &V,
        options: &FormatOptions,
    ) -> Result<Vec<RenderedMessage>, TemplateError> {
        let variables = to_variables(variables)?;
        let all_used = self.variables()?.into_iter().collect();
        let mut renderer = Renderer::new(self.template_type, variables, all_used);
        let mut out = Vec::with_capacity(self.messages.len());
        for (i, message) in self.messages.iter().enumerate() {
            let loc = Location::default()
                .child("messages")
                .index(i)
                .child("content");
            let content = match &message.content {
                // Python returns "" for an empty template without rendering it.
                MessageContent::Text(s) if s.is_empty() => RenderedContent::Text(String::new()),
                MessageContent::Text(s) => RenderedContent::Text(renderer.render(s, loc)?),
                MessageContent::Parts(parts) => {
                    chat::render_parts(parts, &mut renderer, &options.supported_modalities, &loc)?
                }
            };
            out.push(RenderedMessage {
                role: message.role.clone(),
                content,
            });
        }
        renderer.check_unused(options.unused_variables, false)?;
        Ok(out)
    }
}
