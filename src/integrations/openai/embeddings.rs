//! Embeddings as `llm` spans: the input, how many vectors of what dimension, the usage.

use super::{request_view, OpikOpenAi, Outcome, EMBEDDINGS_SPAN_NAME};
use crate::integrations::gen_ai::Tokens;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::types::embeddings::{CreateEmbeddingRequest, CreateEmbeddingResponse};
use serde_json::json;

/// [`async_openai::Embeddings`] with recording; see the [module docs](super).
#[derive(Debug)]
pub struct TrackedEmbeddings<'c, C: Config> {
    pub(super) openai: &'c OpikOpenAi<C>,
}

impl<C: Config> TrackedEmbeddings<'_, C> {
    /// [`async_openai::Embeddings::create`], recorded as an `llm` span: the input, how many
    /// embeddings of how many dimensions came back (not the vectors), model and usage.
    pub async fn create(
        &self,
        request: CreateEmbeddingRequest,
    ) -> Result<CreateEmbeddingResponse, OpenAIError> {
        let view = request_view(&request, &["input"], "openai_embeddings");
        let call = self.openai.call(EMBEDDINGS_SPAN_NAME, view);
        if !call.recording() {
            return self.openai.client.embeddings().create(request).await;
        }
        let result = self.openai.client.embeddings().create(request).await;
        match &result {
            Ok(r) => {
                let tokens = Tokens {
                    input: Some(i64::from(r.usage.prompt_tokens)),
                    output: Some(0),
                    ..Tokens::default()
                };
                let dimensions = r.data.first().map(|e| e.embedding.len());
                let usage = tokens.usage(Some(&call.provider));
                call.finish(Outcome {
                    model: Some(r.model.clone()),
                    output: Some(json!({"embeddings": r.data.len(), "dimensions": dimensions})),
                    usage,
                    ..Outcome::default()
                });
            }
            Err(e) => call.fail(e),
        }
        result
    }
}
