//! The Responses API, plain and streamed, as `llm` spans.

use super::stream::{Aggregate, Recorded};
use super::{cancelled, request_view, OpikOpenAi, Outcome, RequestView, RESPONSES_SPAN_NAME};
use crate::integrations::gen_ai::{self};
use crate::{ErrorInfo, Usage};
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::types::responses::{
    CreateResponse, Response, ResponseStream, ResponseStreamEvent,
};
use futures_core::Stream;
use serde_json::{json, Map, Value};
use std::pin::Pin;
use std::task::{Context, Poll};

/// [`async_openai::Responses`] with recording; see the [module docs](super).
#[derive(Debug)]
pub struct TrackedResponses<'c, C: Config> {
    pub(super) openai: &'c OpikOpenAi<C>,
}

fn responses_view(request: &CreateResponse) -> RequestView {
    request_view(
        request,
        &[
            "input",
            "instructions",
            "reasoning",
            "previous_response_id",
            "tools",
        ],
        "openai_responses",
    )
}

/// The outcome of a response: its output items and reasoning as output, its usage and model,
/// its other fields as metadata, its error (a failed or incomplete response) as `error_info`.
fn response_outcome(response: &Response) -> Outcome {
    let mut fields = match serde_json::to_value(response) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut output = Map::new();
    for key in ["output", "reasoning"] {
        if let Some(v) = fields.remove(key) {
            output.insert(key.to_owned(), v);
        }
    }
    let usage = fields.remove("usage").filter(|u| !u.is_null());
    fields.remove("model");
    // What the request's view already has.
    for key in ["instructions", "tools", "previous_response_id"] {
        fields.remove(key);
    }
    let error = match (&response.error, &response.incomplete_details) {
        (Some(e), _) => Some(gen_ai::error_info(
            serde_json::to_value(&e.code)
                .ok()
                .as_ref()
                .and_then(Value::as_str),
            Some(&e.message),
        )),
        (None, Some(details)) => Some(gen_ai::error_info(
            Some("incomplete"),
            Some(&format!(
                "the response is incomplete: {}",
                serde_json::to_value(details)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )),
        )),
        (None, None) => None,
    };
    let mut metadata = Map::new();
    for (k, v) in fields {
        if !v.is_null() {
            metadata.insert(k, v);
        }
    }
    Outcome {
        model: Some(response.model.clone()).filter(|m| !m.is_empty()),
        output: Some(Value::Object(output)),
        usage: usage.map(Usage::from_json),
        metadata,
        error,
    }
}

impl<C: Config> TrackedResponses<'_, C> {
    /// [`async_openai::Responses::create`], recorded as an `llm` span.
    pub async fn create(&self, request: CreateResponse) -> Result<Response, OpenAIError> {
        let call = self
            .openai
            .call(RESPONSES_SPAN_NAME, responses_view(&request));
        if !call.recording() {
            return self.openai.client.responses().create(request).await;
        }
        let result = self.openai.client.responses().create(request).await;
        match &result {
            Ok(r) => call.finish(response_outcome(r)),
            Err(e) => call.fail(e),
        }
        result
    }

    /// [`async_openai::Responses::create_stream`], recorded as one `llm` span that ends with
    /// the stream, with the final response's output and usage.
    pub async fn create_stream(
        &self,
        request: CreateResponse,
    ) -> Result<TrackedResponseStream, OpenAIError> {
        let call = self
            .openai
            .call(RESPONSES_SPAN_NAME, responses_view(&request));
        match self.openai.client.responses().create_stream(request).await {
            Ok(inner) => Ok(TrackedResponseStream(Recorded::new(inner, call))),
            Err(e) => {
                call.fail(&e);
                Err(e)
            }
        }
    }
}

/// What the events of a Responses stream add up to.
#[derive(Default)]
struct ResponseAggregate {
    /// The response of the final event (`response.completed`, `.incomplete`, `.failed`).
    last: Option<Outcome>,
    /// The text deltas, for a stream that ends before its final event.
    text: String,
    model: Option<String>,
    error: Option<ErrorInfo>,
    events: usize,
}

impl Aggregate for ResponseAggregate {
    type Item = ResponseStreamEvent;

    /// The final response already arrived: nothing was cut off.
    fn dropped(&self) -> Option<ErrorInfo> {
        self.last.is_none().then(cancelled)
    }

    fn add(&mut self, event: &ResponseStreamEvent) {
        self.events += 1;
        match event {
            ResponseStreamEvent::ResponseCreated(e) => {
                self.model = Some(e.response.model.clone()).filter(|m| !m.is_empty());
            }
            ResponseStreamEvent::ResponseOutputTextDelta(d) => self.text.push_str(&d.delta),
            ResponseStreamEvent::ResponseCompleted(e) => {
                self.last = Some(response_outcome(&e.response));
            }
            ResponseStreamEvent::ResponseIncomplete(e) => {
                self.last = Some(response_outcome(&e.response));
            }
            ResponseStreamEvent::ResponseFailed(e) => {
                self.last = Some(response_outcome(&e.response));
            }
            ResponseStreamEvent::ResponseError(e) => {
                self.error = Some(gen_ai::error_info(
                    e.code.as_deref().or(Some("error")),
                    Some(&e.message),
                ));
            }
            _ => {}
        }
    }

    fn outcome(self, error: Option<ErrorInfo>) -> Outcome {
        let mut outcome = self.last.unwrap_or_else(|| Outcome {
            model: self.model,
            output: (!self.text.is_empty()).then(|| json!({ "output_text": self.text })),
            ..Outcome::default()
        });
        outcome
            .metadata
            .insert("stream_events".to_owned(), Value::from(self.events));
        if let Some(e) = error.or(self.error) {
            outcome.error = Some(e);
        }
        outcome
    }
}

/// The stream of a recorded streaming Responses call: yields the events unchanged; the span
/// ends when the stream ends, fails, or is dropped.
pub struct TrackedResponseStream(Recorded<ResponseStream, ResponseAggregate>);

impl std::fmt::Debug for TrackedResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedResponseStream")
            .field("recording", &self.0.recording())
            .finish_non_exhaustive()
    }
}

impl Stream for TrackedResponseStream {
    type Item = Result<ResponseStreamEvent, OpenAIError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_next(cx)
    }
}
