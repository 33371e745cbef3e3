//! The dataset methods of the [`Opik`] client: get-or-create, create, get, delete.
//!
//! Datasets are looked up and created in the client's project (`Opik::with_project`, else
//! the configured one), as the Python SDK does; the backend falls back to a workspace-wide
//! lookup by name.

use super::dataset::{Dataset, Server};
use super::error::EvaluationError;
use crate::api::Opik;
use crate::rest::RestClient;

impl Opik {
    /// Whether the client talks to an Opik server (datasets and experiments need one). `false`
    /// when the SDK is off or prints to the local view.
    pub fn has_server(&self) -> bool {
        matches!(self.parts().0, Some(c) if c.server().is_some())
    }

    /// The REST client of the server (the SDK client's own, made once: its calls share one
    /// connection pool) and the project, or why there is none.
    pub(crate) fn rest(
        &self,
        operation: &'static str,
    ) -> Result<(RestClient, Option<String>), EvaluationError> {
        let (client, project) = self.parts();
        let rest = client
            .and_then(RestClient::of)
            .ok_or(EvaluationError::NoServer { operation })??;
        Ok((rest, project.map(|p| p.to_string())))
    }

    /// The dataset `name`, created (empty) if it does not exist.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), opik::evaluation::EvaluationError> {
    /// let dataset = opik::Opik::global().dataset("practice-situations").await?;
    /// # Ok(()) }
    /// ```
    pub async fn dataset(&self, name: &str) -> Result<Dataset, EvaluationError> {
        match self.get_dataset(name).await {
            Err(e) if e.is_not_found() => match self.create_dataset(name, None).await {
                // Made by someone else between the two calls.
                Err(EvaluationError::Rest(e)) if e.is_conflict() => self.get_dataset(name).await,
                other => other,
            },
            other => other,
        }
    }

    /// Creates the dataset `name` (an error, 409, if it exists).
    pub async fn create_dataset(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<Dataset, EvaluationError> {
        let (rest, project) = self.rest("creating a dataset")?;
        let description = description.filter(|d| !d.trim().is_empty());
        let id = match rest
            .create_dataset(name, description, project.as_deref())
            .await?
        {
            Some(id) => id,
            None => rest.retrieve_dataset(name, project.as_deref()).await?.id,
        };
        Ok(self.server_dataset(name.to_owned(), rest, project, id, true))
    }

    /// The dataset `name` (an error, 404, if it does not exist: see
    /// [`EvaluationError::is_not_found`]).
    pub async fn get_dataset(&self, name: &str) -> Result<Dataset, EvaluationError> {
        let (rest, project) = self.rest("reading a dataset")?;
        let found = rest.retrieve_dataset(name, project.as_deref()).await?;
        Ok(self.server_dataset(found.name, rest, project, found.id, false))
    }

    /// Deletes the dataset `name` and its items.
    pub async fn delete_dataset(&self, name: &str) -> Result<(), EvaluationError> {
        let (rest, project) = self.rest("deleting a dataset")?;
        rest.delete_dataset(name, project.as_deref()).await?;
        Ok(())
    }

    fn server_dataset(
        &self,
        name: String,
        rest: RestClient,
        project: Option<String>,
        id: uuid::Uuid,
        synced: bool,
    ) -> Dataset {
        let server = Server {
            rest,
            opik: self.clone(),
            project,
            id,
        };
        Dataset::on_server(name, server, synced)
    }
}
