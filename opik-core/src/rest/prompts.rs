//! Prompts and their versions: `/v1/private/prompts/...`, and the project lookup prompt
//! listings need (`/v1/private/projects/retrieve`).
//!
//! The backend adds a version on every `POST /prompts/versions`, even with the latest
//! version's template: whether one is needed is for the caller to decide (the Python SDK
//! compares first, and so does `prompt`).

use super::client::RestClient;
use super::error::RestError;
use super::time;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::SystemTime;
use uuid::Uuid;

/// Prompts and versions per page of a listing (Python's page size for versions).
pub(crate) const PROMPT_PAGE: u32 = 100;

/// `PromptVersion_Detail`: one version of a prompt.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(crate) struct VersionDetail {
    #[serde(default)]
    pub(crate) id: Option<Uuid>,
    #[serde(default)]
    pub(crate) prompt_id: Option<Uuid>,
    #[serde(default)]
    pub(crate) commit: Option<String>,
    #[serde(default)]
    pub(crate) version_number: Option<String>,
    pub(crate) template: String,
    #[serde(default)]
    pub(crate) metadata: Option<Value>,
    /// `mustache`, `jinja2` (or `python`, which the SDK cannot format).
    #[serde(default, rename = "type")]
    pub(crate) template_type: Option<String>,
    /// `text` or `chat`.
    #[serde(default)]
    pub(crate) template_structure: Option<String>,
    #[serde(default)]
    pub(crate) change_description: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default, deserialize_with = "time::optional")]
    pub(crate) created_at: Option<SystemTime>,
}

/// `Prompt_Public`: a prompt of a listing.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct PromptPublic {
    pub(crate) id: Uuid,
    pub(crate) name: String,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    content: Vec<T>,
}

/// What a new version is made of (`PromptVersion_Detail` as written).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct NewVersion<'a> {
    pub(crate) template: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<&'a Value>,
    #[serde(rename = "type")]
    pub(crate) template_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) change_description: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) tags: &'a [String],
}

/// `CreatePromptVersion_Detail`.
#[derive(Serialize)]
struct CreateVersion<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_name: Option<&'a str>,
    template_structure: &'a str,
    version: &'a NewVersion<'a>,
}

/// `PromptVersionRetrieve_Detail`.
#[derive(Serialize)]
struct Retrieve<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_name: Option<&'a str>,
}

#[derive(Deserialize)]
struct Project {
    id: Uuid,
}

impl RestClient {
    /// `POST /prompts/versions`: a new version of the prompt `name` (the prompt is created
    /// with it if it does not exist; its template structure is fixed by its first version).
    pub(crate) async fn create_prompt_version(
        &self,
        name: &str,
        project_name: Option<&str>,
        template_structure: &str,
        version: &NewVersion<'_>,
    ) -> Result<VersionDetail, RestError> {
        self.post("/v1/private/prompts/versions")
            .json(&CreateVersion {
                name,
                project_name,
                template_structure,
                version,
            })
            // A repeat after a lost answer would add a second version.
            .once()
            .fetch()
            .await
    }

    /// `POST /prompts/versions/retrieve`: the latest version of the prompt `name`, or the one
    /// of `commit` (404 when the prompt or the commit does not exist).
    pub(crate) async fn retrieve_prompt_version(
        &self,
        name: &str,
        commit: Option<&str>,
        project_name: Option<&str>,
    ) -> Result<VersionDetail, RestError> {
        self.post("/v1/private/prompts/versions/retrieve")
            .json(&Retrieve {
                name,
                commit,
                project_name,
            })
            .fetch()
            .await
    }

    /// `POST /projects/retrieve`: the id of the project `name` (404 when there is none).
    pub(crate) async fn project_id(&self, name: &str) -> Result<Uuid, RestError> {
        #[derive(Serialize)]
        struct ByName<'a> {
            name: &'a str,
        }
        let project: Project = self
            .post("/v1/private/projects/retrieve")
            .json(&ByName { name })
            .fetch()
            .await?;
        Ok(project.id)
    }

    /// `GET /prompts`: one page of the prompts of a project, by name substring or filters
    /// (a JSON list of filter objects).
    pub(crate) async fn list_prompts(
        &self,
        project_id: Uuid,
        name: Option<&str>,
        filters: Option<&str>,
        page: u32,
    ) -> Result<Vec<PromptPublic>, RestError> {
        let mut request = self
            .get("/v1/private/prompts")
            .query("page", page)
            .query("size", PROMPT_PAGE)
            .query("project_id", project_id);
        if let Some(name) = name {
            request = request.query("name", name);
        }
        if let Some(filters) = filters {
            request = request.query("filters", filters);
        }
        Ok(request.fetch::<Page<PromptPublic>>().await?.content)
    }

    /// `GET /prompts/{id}/versions`: one page of a prompt's versions, newest first.
    pub(crate) async fn prompt_versions(
        &self,
        prompt_id: Uuid,
        page: u32,
    ) -> Result<Vec<VersionDetail>, RestError> {
        let page: Page<VersionDetail> = self
            .get(format!("/v1/private/prompts/{prompt_id}/versions"))
            .query("page", page)
            .query("size", PROMPT_PAGE)
            .fetch()
            .await?;
        Ok(page.content)
    }
}
