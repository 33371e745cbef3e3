//! The prompts of the library: [`PromptVersion`] (what every version has), [`Prompt`] (a text
//! template) and [`ChatPrompt`] (messages whose contents are templates), their formatting,
//! and their link to the spans and traces that use them (`metadata.opik_prompts`).

use super::error::PromptError;
use super::template::{
    ChatMessage, ChatTemplate, FormatOptions, RenderedMessage, TemplateError, TemplateType,
    TextTemplate,
};
use crate::model::{SpanUpdate, TraceUpdate};
use crate::rest::VersionDetail;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;
use uuid::Uuid;

/// How a prompt's template is structured, fixed by the prompt's first version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateStructure {
    /// One template string ([`Prompt`]).
    Text,
    /// Role/content messages ([`ChatPrompt`]).
    Chat,
}

impl TemplateStructure {
    /// The name on the wire: `text` or `chat`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TemplateStructure::Text => "text",
            TemplateStructure::Chat => "chat",
        }
    }
}

impl fmt::Display for TemplateStructure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a prompt: its template as the library stores it and where it is in the
/// library (commit, version number, ids). [`Prompt`] and [`ChatPrompt`] are one each, with
/// their template ready to format.
#[derive(Clone, Debug, PartialEq)]
pub struct PromptVersion {
    pub(crate) name: String,
    pub(crate) structure: TemplateStructure,
    pub(crate) template_type: TemplateType,
    /// The text, or a chat prompt's messages as JSON text.
    pub(crate) template: String,
    pub(crate) metadata: Option<Value>,
    pub(crate) commit: Option<String>,
    pub(crate) version_number: Option<String>,
    pub(crate) prompt_id: Option<Uuid>,
    pub(crate) version_id: Option<Uuid>,
    pub(crate) change_description: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) created_at: Option<SystemTime>,
}

impl PromptVersion {
    /// A version as the library answered it, for the prompt `name`.
    pub(crate) fn from_detail(name: &str, d: VersionDetail) -> Result<Self, PromptError> {
        let template_type = match d.template_type.as_deref() {
            None => TemplateType::Mustache,
            Some(t) => t.parse().map_err(|_| PromptError::UnsupportedType {
                name: name.to_owned(),
                template_type: t.to_owned(),
            })?,
        };
        let structure = match d.template_structure.as_deref() {
            Some("chat") => TemplateStructure::Chat,
            _ => TemplateStructure::Text,
        };
        Ok(PromptVersion {
            name: name.to_owned(),
            structure,
            template_type,
            template: d.template,
            metadata: d.metadata,
            commit: d.commit,
            version_number: d.version_number,
            prompt_id: d.prompt_id,
            version_id: d.id,
            change_description: d.change_description,
            tags: d.tags,
            created_at: d.created_at,
        })
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Text or chat.
    pub fn structure(&self) -> TemplateStructure {
        self.structure
    }

    /// Mustache or jinja2.
    pub fn template_type(&self) -> TemplateType {
        self.template_type
    }

    /// The template as the library stores it: the text, or a chat prompt's messages as JSON.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The version's metadata.
    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// The version's commit (8 characters), `None` for a prompt not from the library.
    pub fn commit(&self) -> Option<&str> {
        self.commit.as_deref()
    }

    /// `v1`, `v2`, ...
    pub fn version_number(&self) -> Option<&str> {
        self.version_number.as_deref()
    }

    /// The prompt's id in the library.
    pub fn prompt_id(&self) -> Option<Uuid> {
        self.prompt_id
    }

    /// The version's id in the library (what experiments link to).
    pub fn version_id(&self) -> Option<Uuid> {
        self.version_id
    }

    /// What changed in this version, as its author said.
    pub fn change_description(&self) -> Option<&str> {
        self.change_description.as_deref()
    }

    /// The version's tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// When the version was made.
    pub fn created_at(&self) -> Option<SystemTime> {
        self.created_at
    }

    /// The entry of `metadata.opik_prompts` that says a span or trace used this version, as
    /// the Python SDK writes it: `{"name", "id", "template_structure", "version": {"template",
    /// "commit", "version_number", "id", "metadata"}}` (a chat prompt's template as its
    /// messages).
    pub(crate) fn info(&self) -> Value {
        let template = match self.structure {
            TemplateStructure::Chat => {
                serde_json::from_str(&self.template).unwrap_or_else(|_| json!(self.template))
            }
            TemplateStructure::Text => json!(self.template),
        };
        let mut version = Map::new();
        version.insert("template".into(), template);
        let optional = [
            ("commit", self.commit.as_ref().map(|c| json!(c))),
            (
                "version_number",
                self.version_number.as_ref().map(|v| json!(v)),
            ),
            ("id", self.version_id.map(|id| json!(id))),
            ("metadata", self.metadata.clone()),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                version.insert(key.into(), v);
            }
        }
        let mut info = Map::new();
        info.insert("name".into(), json!(self.name));
        if let Some(id) = self.prompt_id {
            info.insert("id".into(), json!(id));
        }
        info.insert("template_structure".into(), json!(self.structure.as_str()));
        info.insert("version".into(), Value::Object(version));
        Value::Object(info)
    }

    /// Records, in the span or trace `update`, that it used this version: its
    /// `metadata.opik_prompts` list gets this version (once), which is how Opik links the
    /// span or trace to the prompt version.
    ///
    /// ```no_run
    /// # fn run(prompt: &opik::prompts::Prompt) {
    /// opik::update_current_span(|s| prompt.version().attach_to(s));
    /// # }
    /// ```
    pub fn attach_to(&self, update: &mut impl PromptTarget) {
        update.add_prompt(self.info());
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::model::SpanUpdate {}
    impl Sealed for crate::model::TraceUpdate {}
}

/// What a prompt version can be attached to: a [`SpanUpdate`] or a [`TraceUpdate`].
pub trait PromptTarget: sealed::Sealed {
    #[doc(hidden)]
    fn add_prompt(&mut self, info: Value);
}

impl PromptTarget for SpanUpdate {
    fn add_prompt(&mut self, info: Value) {
        self.used_prompt(info);
    }
}

impl PromptTarget for TraceUpdate {
    fn add_prompt(&mut self, info: Value) {
        self.used_prompt(info);
    }
}

/// A text prompt: one version, with its template ready to format.
#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    version: PromptVersion,
    template: TextTemplate,
}

impl Prompt {
    /// A prompt that is not in the library (for a program without a server, or a test): it
    /// formats and attaches like one from the library, without commit or ids.
    pub fn new(name: impl Into<String>, template: impl Into<String>) -> Prompt {
        Prompt::local(name.into(), template.into(), TemplateType::Mustache)
    }

    /// The same prompt with templates of `template_type` (mustache by default).
    pub fn with_type(mut self, template_type: TemplateType) -> Prompt {
        self.version.template_type = template_type;
        self.template.template_type = template_type;
        self
    }

    fn local(name: String, template: String, template_type: TemplateType) -> Prompt {
        let version = PromptVersion {
            name,
            structure: TemplateStructure::Text,
            template_type,
            template: template.clone(),
            metadata: None,
            commit: None,
            version_number: None,
            prompt_id: None,
            version_id: None,
            change_description: None,
            tags: Vec::new(),
            created_at: None,
        };
        Prompt {
            template: TextTemplate::new(template_type, template),
            version,
        }
    }

    /// A text prompt of a library version (an error for a chat prompt's).
    pub(crate) fn from_version(version: PromptVersion) -> Result<Prompt, PromptError> {
        if version.structure != TemplateStructure::Text {
            return Err(PromptError::StructureMismatch {
                name: version.name,
                stored: version.structure,
                asked: TemplateStructure::Text,
            });
        }
        Ok(Prompt {
            template: TextTemplate::new(version.template_type, version.template.clone()),
            version,
        })
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.version.name
    }

    /// The template text.
    pub fn template(&self) -> &str {
        &self.version.template
    }

    /// The version: commit, ids, metadata; what [`attach_to`](PromptVersion::attach_to)
    /// links spans and traces to.
    pub fn version(&self) -> &PromptVersion {
        &self.version
    }

    /// The variables the template reads, sorted (an error for a jinja2 template that does
    /// not parse).
    pub fn variables(&self) -> Result<BTreeSet<String>, TemplateError> {
        self.template.variables()
    }

    /// The prompt with `variables` (a map or a struct) filled in, as the Python SDK's
    /// `Prompt.format` makes it: mustache `{{name}}` substitution (Opik's, not the Mustache
    /// spec: no escaping, no sections) or jinja2. A variable the template reads that is not
    /// passed is an error naming it, never an empty string; for mustache, so is a passed
    /// variable the template does not read (as in Python; see [`format_with`](Self::format_with)).
    ///
    /// ```
    /// let prompt = opik::prompts::Prompt::new("greet", "Hello {{name}}, {{n}} bars at {{bpm}} bpm");
    /// let text = prompt.format(&serde_json::json!({"name": "Ana", "n": 8, "bpm": 92})).unwrap();
    /// assert_eq!(text, "Hello Ana, 8 bars at 92 bpm");
    /// let err = prompt.format(&serde_json::json!({"name": "Ana"})).unwrap_err();
    /// assert!(err.to_string().starts_with("missing template variables `n`, `bpm`"));
    /// ```
    pub fn format<V: Serialize + ?Sized>(&self, variables: &V) -> Result<String, TemplateError> {
        self.template.format(variables)
    }

    /// [`format`](Self::format) with options (unused variables allowed or refused).
    pub fn format_with<V: Serialize + ?Sized>(
        &self,
        variables: &V,
        options: &FormatOptions,
    ) -> Result<String, TemplateError> {
        self.template.format_with(variables, options)
    }
}

impl AsRef<PromptVersion> for Prompt {
    fn as_ref(&self) -> &PromptVersion {
        &self.version
    }
}

/// A chat prompt: messages whose contents are templates, one version.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatPrompt {
    version: PromptVersion,
    template: ChatTemplate,
}

impl ChatPrompt {
    /// A chat prompt that is not in the library; see [`Prompt::new`].
    pub fn new(name: impl Into<String>, messages: Vec<ChatMessage>) -> ChatPrompt {
        let template = ChatTemplate::new(TemplateType::Mustache, messages);
        let text = messages_json(&template.messages);
        ChatPrompt {
            version: PromptVersion {
                name: name.into(),
                structure: TemplateStructure::Chat,
                template_type: TemplateType::Mustache,
                template: text,
                metadata: None,
                commit: None,
                version_number: None,
                prompt_id: None,
                version_id: None,
                change_description: None,
                tags: Vec::new(),
                created_at: None,
            },
            template,
        }
    }

    /// The same prompt with templates of `template_type` (mustache by default).
    pub fn with_type(mut self, template_type: TemplateType) -> ChatPrompt {
        self.version.template_type = template_type;
        self.template.template_type = template_type;
        self
    }

    /// A chat prompt of a library version (an error for a text prompt's, or messages that
    /// are not role/content JSON).
    pub(crate) fn from_version(version: PromptVersion) -> Result<ChatPrompt, PromptError> {
        if version.structure != TemplateStructure::Chat {
            return Err(PromptError::StructureMismatch {
                name: version.name,
                stored: version.structure,
                asked: TemplateStructure::Chat,
            });
        }
        let messages: Vec<ChatMessage> =
            serde_json::from_str(&version.template).map_err(|e| PromptError::Invalid {
                name: version.name.clone(),
                reason: format!("its messages are not role/content JSON: {e}"),
            })?;
        Ok(ChatPrompt {
            template: ChatTemplate::new(version.template_type, messages),
            version,
        })
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.version.name
    }

    /// The messages, as templates.
    pub fn messages(&self) -> &[ChatMessage] {
        &self.template.messages
    }

    /// The version; see [`Prompt::version`].
    pub fn version(&self) -> &PromptVersion {
        &self.version
    }

    /// The variables the messages read, sorted.
    pub fn variables(&self) -> Result<BTreeSet<String>, TemplateError> {
        self.template.variables()
    }

    /// The messages with `variables` filled in, as the Python SDK's `ChatPrompt.format`
    /// makes them (a missing variable is an error naming it and the message it is in).
    pub fn format<V: Serialize + ?Sized>(
        &self,
        variables: &V,
    ) -> Result<Vec<RenderedMessage>, TemplateError> {
        self.template.format(variables)
    }

    /// [`format`](Self::format) with options (modalities the model takes, unused variables).
    pub fn format_with<V: Serialize + ?Sized>(
        &self,
        variables: &V,
        options: &FormatOptions,
    ) -> Result<Vec<RenderedMessage>, TemplateError> {
        self.template.format_with(variables, options)
    }
}

impl AsRef<PromptVersion> for ChatPrompt {
    fn as_ref(&self) -> &PromptVersion {
        &self.version
    }
}

impl AsRef<PromptVersion> for PromptVersion {
    fn as_ref(&self) -> &PromptVersion {
        self
    }
}

/// Chat messages as the library stores them: a JSON text.
pub(crate) fn messages_json(messages: &[ChatMessage]) -> String {
    serde_json::to_string(messages).unwrap_or_else(|_| "[]".to_owned())
}

/// Attaches a prompt version to the current span (see [`PromptVersion::attach_to`]); `false`
/// when no span is current or the SDK is off.
pub fn attach_to_current_span(prompt: &impl AsRef<PromptVersion>) -> bool {
    crate::api::update_current_span(|s| prompt.as_ref().attach_to(s))
}

/// Attaches a prompt version to the current trace; `false` when no trace is current.
pub fn attach_to_current_trace(prompt: &impl AsRef<PromptVersion>) -> bool {
    crate::api::update_current_trace(|t| prompt.as_ref().attach_to(t))
}
