//! The prompt library methods of [`Opik`]: create (a new version only when something
//! changed), get (latest or by commit, through the client's cache), history, search.

use super::cache::{Key, PromptCache};
use super::error::PromptError;
use super::template::{ChatMessage, ChatTemplate, TemplateType, TextTemplate};
use super::version::{messages_json, ChatPrompt, Prompt, PromptVersion, TemplateStructure};
use crate::api::Opik;
use crate::rest::{parse_filter, FilterEntity, NewVersion, RestClient, RestError, PROMPT_PAGE};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// How a new prompt version is made: its template type, metadata, change description and
/// tags. All optional; the default is a mustache template without metadata.
#[derive(Clone, Debug, Default)]
pub struct PromptOptions {
    template_type: TemplateType,
    metadata: Option<Value>,
    change_description: Option<String>,
    tags: Vec<String>,
}

impl PromptOptions {
    /// Mustache, no metadata.
    pub fn new() -> Self {
        PromptOptions::default()
    }

    /// `{{ name }}` substitution (Opik's default) or jinja2.
    pub fn template_type(mut self, template_type: TemplateType) -> Self {
        self.template_type = template_type;
        self
    }

    /// The version's metadata (a change of it makes a new version, as a change of the
    /// template does).
    pub fn metadata<T: Serialize + ?Sized>(mut self, metadata: &T) -> Self {
        self.metadata = Some(crate::model::to_value(metadata));
        self
    }

    /// What changed, shown with the version.
    pub fn change_description(mut self, description: impl Into<String>) -> Self {
        self.change_description = Some(description.into());
        self
    }

    /// The version's tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

/// The client's REST client, project and prompt cache.
struct Library {
    rest: RestClient,
    project: String,
    cache: Arc<PromptCache>,
}

impl Opik {
    fn library(&self, operation: &'static str) -> Result<Library, PromptError> {
        let (client, project) = self.parts();
        let (Some(client), Some(project)) = (client, project) else {
            return Err(PromptError::NoServer { operation });
        };
        let Some(rest) = RestClient::of(client) else {
            return Err(PromptError::NoServer { operation });
        };
        let ttl = client
            .server()
            .map(|c| c.prompt_cache_ttl())
            .unwrap_or_default();
        let cache = client.shared(|| Ok::<_, PromptError>(PromptCache::new(ttl)))?;
        Ok(Library {
            rest: rest?,
            project: project.to_string(),
            cache,
        })
    }

    /// Creates the text prompt `name` in Opik's prompt library, or a new version of it: only
    /// when the template, its type or the metadata differ from the latest version's (as
    /// Opik's SDKs do; the server itself would add a version each time), so calling it at
    /// every start of a program keeps one version until the template changes. Returns the
    /// version now latest. A jinja2 template that does not parse is an error before
    /// anything is sent; a prompt of that name that is a chat prompt is
    /// [`PromptError::StructureMismatch`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), opik::prompts::PromptError> {
    /// use opik::prompts::PromptOptions;
    ///
    /// let opik = opik::Opik::global();
    /// let prompt = opik
    ///     .create_prompt("planner-system", "You plan {{minutes}} minutes of practice.", PromptOptions::new())
    ///     .await?;
    /// println!("{} at commit {:?}", prompt.name(), prompt.version().commit());
    /// # Ok(()) }
    /// ```
    pub async fn create_prompt(
        &self,
        name: &str,
        template: &str,
        options: PromptOptions,
    ) -> Result<Prompt, PromptError> {
        check_name(name)?;
        if template.trim().is_empty() {
            return Err(invalid(name, "the template is blank"));
        }
        TextTemplate::new(options.template_type, template).variables()?;
        let version = self
            .create_version(name, template, TemplateStructure::Text, &options)
            .await?;
        Prompt::from_version(version)
    }

    /// Creates the chat prompt `name` (messages whose contents are templates), or a new
    /// version of it when the messages, type or metadata changed; see
    /// [`create_prompt`](Self::create_prompt).
    pub async fn create_chat_prompt(
        &self,
        name: &str,
        messages: Vec<ChatMessage>,
        options: PromptOptions,
    ) -> Result<ChatPrompt, PromptError> {
        check_name(name)?;
        if messages.is_empty() {
            return Err(invalid(name, "it has no messages"));
        }
        let chat = ChatTemplate::new(options.template_type, messages);
        chat.variables()?;
        let template = messages_json(&chat.messages);
        let version = self
            .create_version(name, &template, TemplateStructure::Chat, &options)
            .await?;
        ChatPrompt::from_version(version)
    }

    async fn create_version(
        &self,
        name: &str,
        template: &str,
        structure: TemplateStructure,
        options: &PromptOptions,
    ) -> Result<PromptVersion, PromptError> {
        let lib = self.library("creating a prompt")?;
        let latest = match lib
            .rest
            .retrieve_prompt_version(name, None, Some(&lib.project))
            .await
        {
            Ok(detail) => Some(PromptVersion::from_detail(name, detail)?),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(latest) = latest {
            if latest.structure != structure {
                return Err(PromptError::StructureMismatch {
                    name: name.to_owned(),
                    stored: latest.structure,
                    asked: structure,
                });
            }
            if same_content(&latest, template, options) {
                return Ok(latest);
            }
        }
        let new = NewVersion {
            template,
            metadata: options.metadata.as_ref(),
            template_type: type_name(options.template_type),
            change_description: options.change_description.as_deref(),
            tags: &options.tags,
        };
        let detail = lib
            .rest
            .create_prompt_version(name, Some(&lib.project), structure.as_str(), &new)
            .await?;
        let version = PromptVersion::from_detail(name, detail)?;
        // A get right after this answers the new version, not a cached older one.
        lib.cache
            .put(latest_key(name, &lib.project), version.clone());
        Ok(version)
    }

    /// The latest version of the text prompt `name`, `None` if the library has no such
    /// prompt. Served from the client's cache for `prompt_cache_ttl` (5 minutes by default,
    /// `OPIK_PROMPT_CACHE_TTL_SECONDS`), then refreshed in the background while the cached
    /// version is still answered, also while Opik cannot be reached: a hot path may call it
    /// for every request.
    pub async fn get_prompt(&self, name: &str) -> Result<Option<Prompt>, PromptError> {
        self.get_version(name, None)
            .await?
            .map(Prompt::from_version)
            .transpose()
    }

    /// The version of commit `commit` (8 characters) of the text prompt `name`, `None` if
    /// there is none. Kept in the cache for good: a commit never changes.
    pub async fn get_prompt_by_commit(
        &self,
        name: &str,
        commit: &str,
    ) -> Result<Option<Prompt>, PromptError> {
        self.get_version(name, Some(commit))
            .await?
            .map(Prompt::from_version)
            .transpose()
    }

    /// The latest version of the chat prompt `name`; see [`get_prompt`](Self::get_prompt).
    pub async fn get_chat_prompt(&self, name: &str) -> Result<Option<ChatPrompt>, PromptError> {
        self.get_version(name, None)
            .await?
            .map(ChatPrompt::from_version)
            .transpose()
    }

    /// A commit of the chat prompt `name`; see [`get_prompt_by_commit`](Self::get_prompt_by_commit).
    pub async fn get_chat_prompt_by_commit(
        &self,
        name: &str,
        commit: &str,
    ) -> Result<Option<ChatPrompt>, PromptError> {
        self.get_version(name, Some(commit))
            .await?
            .map(ChatPrompt::from_version)
            .transpose()
    }

    async fn get_version(
        &self,
        name: &str,
        commit: Option<&str>,
    ) -> Result<Option<PromptVersion>, PromptError> {
        check_name(name)?;
        let lib = self.library("getting a prompt")?;
        let key = Key {
            name: name.to_owned(),
            commit: commit.map(str::to_owned),
            project: lib.project.clone(),
        };
        let (rest, owned) = (lib.rest, key.clone());
        let fetch = move || {
            let (rest, key) = (rest.clone(), owned.clone());
            async move {
                let answer = rest
                    .retrieve_prompt_version(&key.name, key.commit.as_deref(), Some(&key.project))
                    .await;
                match answer {
                    Ok(detail) => PromptVersion::from_detail(&key.name, detail).map(Some),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        };
        lib.cache.get(key, fetch).await
    }

    /// Every version of the prompt `name`, newest first (empty if there is no such prompt
    /// in the client's project). Not cached.
    pub async fn get_prompt_history(&self, name: &str) -> Result<Vec<PromptVersion>, PromptError> {
        check_name(name)?;
        let lib = self.library("reading a prompt's history")?;
        let Some(project_id) = project_id(&lib).await? else {
            return Ok(Vec::new());
        };
        let mut prompt = None;
        for page in 1.. {
            let found = lib
                .rest
                .list_prompts(project_id, Some(name), None, page)
                .await?;
            let short = found.len() < PROMPT_PAGE as usize;
            // The listing matches names by substring; the prompt is the exact one.
            prompt = found
                .into_iter()
                .find(|p| p.name.eq_ignore_ascii_case(name));
            if prompt.is_some() || short {
                break;
            }
        }
        let Some(prompt) = prompt else {
            return Ok(Vec::new());
        };
        let mut versions = Vec::new();
        for page in 1.. {
            let found = lib.rest.prompt_versions(prompt.id, page).await?;
            let short = found.len() < PROMPT_PAGE as usize;
            for detail in found {
                versions.push(PromptVersion::from_detail(&prompt.name, detail)?);
            }
            if short {
                break;
            }
        }
        Ok(versions)
    }

    /// The latest version of every prompt of the client's project that passes `filter` (the
    /// filter language of searches, on the prompt's `name`, `tags`, `created_at`, ...; `""`
    /// for all), as the Python SDK's `search_prompts` does. A bad filter is an error before
    /// anything is sent.
    pub async fn search_prompts(&self, filter: &str) -> Result<Vec<PromptVersion>, PromptError> {
        // Python parses prompt filters with the traces' field table; so does this, so that the
        // same filter strings work in both.
        let filters = parse_filter(FilterEntity::Traces, filter).map_err(PromptError::Filter)?;
        let filters =
            (!filters.is_empty()).then(|| serde_json::to_string(&filters).unwrap_or_default());
        let lib = self.library("searching prompts")?;
        let Some(project_id) = project_id(&lib).await? else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        for page in 1.. {
            let found = lib
                .rest
                .list_prompts(project_id, None, filters.as_deref(), page)
                .await?;
            let short = found.len() < PROMPT_PAGE as usize;
            names.extend(found.into_iter().map(|p| p.name));
            if short {
                break;
            }
        }
        let mut latest = Vec::with_capacity(names.len());
        for name in names {
            match lib
                .rest
                .retrieve_prompt_version(&name, None, Some(&lib.project))
                .await
            {
                Ok(detail) => latest.push(PromptVersion::from_detail(&name, detail)?),
                // Deleted between the listing and now.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(latest)
    }
}

/// The id of the client's project, `None` when it does not exist (so it has no prompts).
async fn project_id(lib: &Library) -> Result<Option<uuid::Uuid>, RestError> {
    match lib.rest.project_id(&lib.project).await {
        Ok(id) => Ok(Some(id)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn latest_key(name: &str, project: &str) -> Key {
    Key {
        name: name.to_owned(),
        commit: None,
        project: project.to_owned(),
    }
}

/// Whether `latest` already is the version asked for: the same template (for chat, the same
/// messages, whatever their JSON spacing), type and metadata.
fn same_content(latest: &PromptVersion, template: &str, options: &PromptOptions) -> bool {
    let same_template = match latest.structure {
        TemplateStructure::Chat => {
            let parse = |t: &str| serde_json::from_str::<Value>(t).ok();
            parse(&latest.template).is_some() && parse(&latest.template) == parse(template)
        }
        TemplateStructure::Text => latest.template == template,
    };
    let empty = |m: Option<&Value>| {
        m.is_none_or(|m| m.is_null() || m == &Value::Object(Default::default()))
    };
    let same_metadata = latest.metadata.as_ref() == options.metadata.as_ref()
        || (empty(latest.metadata.as_ref()) && empty(options.metadata.as_ref()));
    same_template && same_metadata && latest.template_type == options.template_type
}

fn type_name(t: TemplateType) -> &'static str {
    match t {
        TemplateType::Mustache => "mustache",
        TemplateType::Jinja2 => "jinja2",
    }
}

fn check_name(name: &str) -> Result<(), PromptError> {
    if name.trim().is_empty() {
        return Err(invalid(name, "the name is blank"));
    }
    Ok(())
}

fn invalid(name: &str, reason: &str) -> PromptError {
    PromptError::Invalid {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}
