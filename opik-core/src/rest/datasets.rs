//! Datasets, their items and versions: `/v1/private/datasets/...`.
//!
//! Names are looked up in the request's project first and then workspace-wide (the backend's
//! rule); a dataset created with a `project_name` belongs to that project.

use super::client::RestClient;
use super::error::{RestError, RestErrorKind};
use super::ndjson;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Items per `PUT /datasets/items` and per `POST /datasets/items/delete` (the spec's limit).
pub(crate) const MAX_ITEMS_PER_BATCH: usize = 1000;
/// The most items one page of the items stream holds (`steam_limit`'s maximum).
pub(crate) const MAX_STREAM_PAGE: u32 = 2000;

/// `Dataset_Public`, the fields the SDK reads.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct DatasetPublic {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) dataset_items_count: Option<u64>,
}

/// `DatasetItem_Write`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DatasetItemWrite {
    pub(crate) id: Uuid,
    pub(crate) source: &'static str,
    pub(crate) data: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) span_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
}

/// `DatasetItem_Public` (a line of the items stream), the fields the SDK reads.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ItemPublic {
    pub(crate) id: Uuid,
    #[serde(default)]
    pub(crate) data: Value,
    #[serde(default)]
    pub(crate) trace_id: Option<Uuid>,
    #[serde(default)]
    pub(crate) span_id: Option<Uuid>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
}

/// `DatasetItemStreamRequest`: one page of the items stream, newest item first, below
/// `last_retrieved_id`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ItemStreamRequest<'a> {
    pub(crate) dataset_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project_name: Option<&'a str>,
    /// The page size (`steam_limit`, sic, as the backend spells it).
    pub(crate) steam_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_retrieved_id: Option<Uuid>,
    /// A version hash, to read that version rather than the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dataset_version: Option<&'a str>,
}

/// `DatasetVersion_Public`, the fields the SDK reads.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct DatasetVersion {
    pub(crate) id: Uuid,
    pub(crate) version_hash: String,
}

#[derive(Deserialize)]
struct VersionPage {
    #[serde(default)]
    content: Vec<DatasetVersion>,
}

#[derive(Serialize)]
struct Identifier<'a> {
    dataset_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_name: Option<&'a str>,
}

impl RestClient {
    /// `POST /datasets`; the new dataset's id (from `Location`).
    pub(crate) async fn create_dataset(
        &self,
        name: &str,
        description: Option<&str>,
        project_name: Option<&str>,
    ) -> Result<Option<Uuid>, RestError> {
        #[derive(Serialize)]
        struct Write<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            description: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            project_name: Option<&'a str>,
        }
        let answer = self
            .post("/v1/private/datasets")
            .json(&Write {
                name,
                description,
                project_name,
            })
            .once()
            .send()
            .await?;
        Ok(answer.created_id().and_then(|id| id.parse().ok()))
    }

    /// `POST /datasets/retrieve`: the dataset of that name (404 if there is none).
    pub(crate) async fn retrieve_dataset(
        &self,
        name: &str,
        project_name: Option<&str>,
    ) -> Result<DatasetPublic, RestError> {
        self.post("/v1/private/datasets/retrieve")
            .json(&Identifier {
                dataset_name: name,
                project_name,
            })
            .fetch()
            .await
    }

    /// `GET /datasets/{id}` (with its item count).
    pub(crate) async fn dataset_by_id(&self, id: Uuid) -> Result<DatasetPublic, RestError> {
        self.get(format!("/v1/private/datasets/{id}")).fetch().await
    }

    /// `POST /datasets/delete`, by name.
    pub(crate) async fn delete_dataset(
        &self,
        name: &str,
        project_name: Option<&str>,
    ) -> Result<(), RestError> {
        self.post("/v1/private/datasets/delete")
            .json(&Identifier {
                dataset_name: name,
                project_name,
            })
            .send()
            .await
            .map(drop)
    }

    /// `PUT /datasets/items`: at most [`MAX_ITEMS_PER_BATCH`] items, upserted by id. Batches of
    /// one `batch_group_id` make one new version of the dataset.
    pub(crate) async fn put_items(
        &self,
        dataset_name: &str,
        project_name: Option<&str>,
        batch_group_id: Uuid,
        items: &[DatasetItemWrite],
    ) -> Result<(), RestError> {
        #[derive(Serialize)]
        struct Batch<'a> {
            dataset_name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            project_name: Option<&'a str>,
            batch_group_id: Uuid,
            items: &'a [DatasetItemWrite],
        }
        self.put("/v1/private/datasets/items")
            .json(&Batch {
                dataset_name,
                project_name,
                batch_group_id,
                items,
            })
            .send()
            .await
            .map(drop)
    }

    /// `POST /datasets/items/stream`: one page of items (a short page is the last).
    pub(crate) async fn stream_items(
        &self,
        request: &ItemStreamRequest<'_>,
    ) -> Result<Vec<ItemPublic>, RestError> {
        const CALL: &str = "POST /v1/private/datasets/items/stream";
        let answer = self
            .post("/v1/private/datasets/items/stream")
            .json(request)
            .respond()
            .await?;
        ndjson::collect(CALL, answer).await
    }

    /// `POST /datasets/items/delete`: at most [`MAX_ITEMS_PER_BATCH`] ids; one
    /// `batch_group_id` makes one new version.
    pub(crate) async fn delete_items(
        &self,
        batch_group_id: Uuid,
        ids: &[Uuid],
    ) -> Result<(), RestError> {
        #[derive(Serialize)]
        struct Delete<'a> {
            batch_group_id: Uuid,
            item_ids: &'a [Uuid],
        }
        self.post("/v1/private/datasets/items/delete")
            .json(&Delete {
                batch_group_id,
                item_ids: ids,
            })
            .send()
            .await
            .map(drop)
    }

    /// `GET /datasets/{id}/versions?page=1&size=1`: the latest version, `None` when the
    /// dataset has none or versioning is off for the workspace (403).
    pub(crate) async fn latest_version(
        &self,
        dataset_id: Uuid,
    ) -> Result<Option<DatasetVersion>, RestError> {
        let page = self
            .get(format!("/v1/private/datasets/{dataset_id}/versions"))
            .query("page", 1)
            .query("size", 1)
            .fetch::<VersionPage>()
            .await;
        match page {
            Ok(page) => Ok(page.content.into_iter().next()),
            Err(e) if e.http_status() == Some(403) && e.kind() == RestErrorKind::Status => Ok(None),
            Err(e) => Err(e),
        }
    }
}
