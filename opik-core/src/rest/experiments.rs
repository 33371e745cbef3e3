//! Experiments and their items: `/v1/private/experiments/...`.
//!
//! Experiment and item ids are made here (UUID v7), so every write is an upsert that is safe
//! to retry.

use super::client::RestClient;
use super::error::RestError;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Items per `POST /experiments/items` (the spec's limit).
pub(crate) const MAX_EXPERIMENT_ITEMS: usize = 1000;

/// `Experiment_Write`, the fields the SDK sends.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ExperimentWrite<'a> {
    pub(crate) id: Uuid,
    pub(crate) name: &'a str,
    pub(crate) dataset_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) tags: &'a [String],
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) evaluation_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dataset_version_id: Option<Uuid>,
    /// The prompt versions the experiment's task used (`PromptVersionLink_Write`s).
    #[serde(
        skip_serializing_if = "<[_]>::is_empty",
        serialize_with = "version_links"
    )]
    pub(crate) prompt_versions: &'a [Uuid],
}

fn version_links<S: serde::Serializer>(ids: &&[Uuid], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Link<'a> {
        id: &'a Uuid,
    }
    s.collect_seq(ids.iter().map(|id| Link { id }))
}

/// `ExperimentItem` as written: the link of a dataset item and the trace its run made.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ExperimentItemWrite {
    pub(crate) id: Uuid,
    pub(crate) experiment_id: Uuid,
    pub(crate) dataset_item_id: Uuid,
    pub(crate) trace_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project_name: Option<String>,
}

impl RestClient {
    /// `POST /experiments` (the dataset is created by the backend if it does not exist).
    pub(crate) async fn create_experiment(
        &self,
        experiment: &ExperimentWrite<'_>,
    ) -> Result<(), RestError> {
        self.post("/v1/private/experiments")
            .json(experiment)
            .send()
            .await
            .map(drop)
    }

    /// `POST /experiments/items`: at most [`MAX_EXPERIMENT_ITEMS`] links.
    pub(crate) async fn add_experiment_items(
        &self,
        items: &[ExperimentItemWrite],
    ) -> Result<(), RestError> {
        #[derive(Serialize)]
        struct Batch<'a> {
            experiment_items: &'a [ExperimentItemWrite],
        }
        self.post("/v1/private/experiments/items")
            .json(&Batch {
                experiment_items: items,
            })
            .send()
            .await
            .map(drop)
    }

    /// `PATCH /experiments/{id}` with a status (`completed`, `cancelled`).
    pub(crate) async fn set_experiment_status(
        &self,
        id: Uuid,
        status: &'static str,
    ) -> Result<(), RestError> {
        #[derive(Serialize)]
        struct Update {
            status: &'static str,
        }
        self.patch(format!("/v1/private/experiments/{id}"))
            .json(&Update { status })
            .send()
            .await
            .map(drop)
    }

    /// `POST /experiments/finish`: the experiment's scores are final.
    pub(crate) async fn finish_experiment(&self, id: Uuid) -> Result<(), RestError> {
        #[derive(Serialize)]
        struct Ids {
            ids: [Uuid; 1],
        }
        self.post("/v1/private/experiments/finish")
            .json(&Ids { ids: [id] })
            .send()
            .await
            .map(drop)
    }
}
