//! Issue "integrations": an `async-openai` client wrapped with `track_openai` records each chat
//! completion as an `llm` span under the current tracked call, with model, provider, input
//! messages, output, usage and errors; a streamed completion becomes one span whose output is
//! the chunks joined, with the usage of the last chunk. Responses API calls (plain and streamed)
//! and embeddings are `llm` spans too. Tested against a fake OpenAI endpoint on loopback.

mod common;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use fake_opik::openai::{self, Answer, FakeOpenAi};
use opik::integrations::openai::{track_openai, OpikOpenAi};
use opik::testing::Recorder;
use serde_json::{json, Value};

/// The model the fake answers as.
const MODEL: &str = "gpt-4o-mini-2024-07-18";

/// A client of the fake API, wrapped.
fn wrapped(fake: &FakeOpenAi) -> OpikOpenAi<OpenAIConfig> {
    // The dev-dependencies build reqwest with `rustls-no-provider` (for the example's HTTPS
    // mode); a client can only be built once a crypto provider is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = OpenAIConfig::new()
        .with_api_base(fake.base_url())
        .with_api_key("sk-test");
    track_openai(async_openai::Client::with_config(config))
}

fn request(question: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .temperature(0.5)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content(question)
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap()
}

fn completion(text: &str) -> Value {
    let usage = json!({"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23});
    openai::completion(MODEL, text, usage)
}

fn chunk(delta: Value, finish: Option<&str>, usage: Option<Value>) -> Value {
    openai::chunk(MODEL, delta, finish, usage)
}

#[opik::track(name = "coach")]
async fn coach(openai: &OpikOpenAi, question: &str) -> String {
    let answer = openai.chat().create(request(question)).await;
    match answer {
        Ok(r) => r.choices[0].message.content.clone().unwrap_or_default(),
        Err(e) => format!("error: {e}"),
    }
}

#[opik::track(name = "coach-stream")]
async fn coach_streaming(openai: &OpikOpenAi, question: &str) -> String {
    use futures_util::StreamExt;
    let mut stream = openai
        .chat()
        .create_stream(request(question))
        .await
        .expect("stream starts");
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        if let Some(c) = chunk.choices.first().and_then(|c| c.delta.content.clone()) {
            text.push_str(&c);
        }
    }
    text
}

#[tokio::test]
async fn a_chat_completion_becomes_an_llm_span_under_the_tracked_call() {
    let fake = FakeOpenAi::start([Answer::Json(200, completion("Try A minor pentatonic."))]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    let answer = recorder
        .run_async(coach(&openai, "Which scale fits a blues in A?"))
        .await;
    assert_eq!(answer, "Try A minor pentatonic.");
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("chat_completion_create");
    assert_eq!(span["type"], "llm");
    assert_eq!(span["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(span["provider"], "openai");
    assert_eq!(span["tags"], json!(["openai"]));
    assert_eq!(
        span["input"]["messages"],
        json!([{"role": "user", "content": "Which scale fits a blues in A?"}])
    );
    assert_eq!(
        span["output"]["choices"][0]["message"]["content"],
        "Try A minor pentatonic."
    );
    assert_eq!(span["usage"]["prompt_tokens"], 14);
    assert_eq!(span["usage"]["completion_tokens"], 9);
    assert_eq!(span["usage"]["total_tokens"], 23);
    assert_eq!(span["metadata"]["temperature"], 0.5);
    assert_eq!(span["metadata"]["created_from"], "openai");
    assert_eq!(recorded.parent(span).unwrap()["name"], "coach");
    // The request the endpoint got is the one the app built.
    let sent = fake.bodies();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn a_streamed_completion_is_one_span_with_the_chunks_joined_and_the_usage() {
    let fake = FakeOpenAi::start([Answer::data_stream(vec![
        chunk(json!({"role": "assistant", "content": ""}), None, None),
        chunk(json!({"content": "Slow down "}), None, None),
        chunk(json!({"content": "to 70 bpm."}), None, None),
        chunk(json!({}), Some("stop"), None),
        chunk(
            Value::Null,
            None,
            Some(json!({"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17})),
        ),
    ])]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    let text = recorder
        .run_async(coach_streaming(&openai, "I keep rushing"))
        .await;
    assert_eq!(text, "Slow down to 70 bpm.");
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("chat_completion_create");
    assert_eq!(
        span["output"],
        json!({"choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "Slow down to 70 bpm."}}]})
    );
    assert_eq!(span["usage"]["total_tokens"], 17);
    assert_eq!(span["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(span["metadata"]["stream_chunks"], 5);
    assert!(span.get("error_info").is_none());
    assert_eq!(recorded.parent(span).unwrap()["name"], "coach-stream");
    assert_eq!(fake.bodies()[0]["stream"], true);
}

#[tokio::test]
async fn a_failed_completion_records_the_error() {
    let fake = FakeOpenAi::start([Answer::Json(
        400,
        json!({"error": {"message": "model overloaded, try later", "type": "invalid_request_error",
                         "param": null, "code": null}}),
    )]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    let answer = recorder.run_async(coach(&openai, "hello?")).await;
    assert!(answer.starts_with("error: "), "{answer}");
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("chat_completion_create");
    assert_eq!(span["error_info"]["exception_type"], "OpenAIError");
    assert!(
        span["error_info"]["message"]
            .as_str()
            .unwrap()
            .contains("model overloaded, try later"),
        "{span}"
    );
    assert_eq!(span["model"], "gpt-4o-mini", "the model asked for");
    assert!(span.get("usage").is_none());
}

#[tokio::test]
async fn a_stream_dropped_early_is_recorded_as_cancelled_with_what_arrived() {
    use futures_util::StreamExt;
    let fake = FakeOpenAi::start([Answer::data_stream(vec![
        chunk(json!({"role": "assistant", "content": "Half "}), None, None),
        chunk(json!({"content": "an answer"}), None, None),
    ])]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    recorder
        .run_async(async {
            let mut stream = openai.chat().create_stream(request("q")).await.unwrap();
            let _first = stream.next().await;
            // Dropped here, before the end.
        })
        .await;
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("chat_completion_create");
    assert_eq!(span["error_info"]["exception_type"], "cancelled");
    assert_eq!(span["output"]["choices"][0]["message"]["content"], "Half ");
    assert_eq!(
        recorded.traces().len(),
        1,
        "a root span starts its own trace"
    );
}

/// What the integration records is valid Opik: the spans of a plain, a streamed and a failed
/// completion pass the fake server's checks against the OpenAPI spec.
#[tokio::test]
async fn recorded_completions_are_valid_opik_requests() {
    let server = fake_opik::FakeOpik::start();
    let client = common::client_for(&server);
    let plain = FakeOpenAi::start([Answer::Json(200, completion("Use a metronome."))]);
    let streamed = FakeOpenAi::start([Answer::data_stream(vec![
        chunk(json!({"role": "assistant", "content": "Slow "}), None, None),
        chunk(json!({"content": "down."}), Some("stop"), None),
        chunk(
            Value::Null,
            None,
            Some(
                json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                        "prompt_tokens_details": {"cached_tokens": 1}}),
            ),
        ),
    ])]);
    let failing = FakeOpenAi::start([Answer::Json(
        400,
        json!({"error": {"message": "bad", "type": "invalid_request_error", "param": null,
                         "code": null}}),
    )]);
    client
        .scope(async {
            coach(&wrapped(&plain), "q1").await;
            coach_streaming(&wrapped(&streamed), "q2").await;
            coach(&wrapped(&failing), "q3").await;
        })
        .await;
    assert!(
        client
            .flush_async(std::time::Duration::from_secs(5))
            .await
            .completed
    );
    server.assert_valid();
    let spans = server.spans();
    let llm: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "chat_completion_create")
        .collect();
    assert_eq!(llm.len(), 3);
    let streamed_span = llm
        .iter()
        .find(|s| s["usage"]["total_tokens"] == 5)
        .expect("the streamed span carries the last chunk's usage");
    assert_eq!(
        streamed_span["usage"]["original_usage.prompt_tokens_details.cached_tokens"], 1,
        "nested usage details are kept flattened, as the Python SDK does"
    );
}

// ---- The Responses API and embeddings ------------------------------------------------------

fn response_body(text: &str, status: &str) -> Value {
    json!({
        "id": "resp_1", "object": "response", "created_at": 1_764_000_000, "status": status,
        "model": "gpt-4o-mini-2024-07-18",
        "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        "usage": {"input_tokens": 14, "input_tokens_details": {"cached_tokens": 4},
                  "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 2},
                  "total_tokens": 23},
        "parallel_tool_calls": true, "tool_choice": "auto", "tools": [],
        "error": null, "incomplete_details": null, "metadata": {},
    })
}

fn responses_request(question: &str) -> async_openai::types::responses::CreateResponse {
    async_openai::types::responses::CreateResponseArgs::default()
        .model("gpt-4o-mini")
        .instructions("Answer in one sentence.")
        .input(question)
        .temperature(0.5)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_responses_call_is_an_llm_span_with_usage_including_cached_tokens() {
    let fake = FakeOpenAi::start([Answer::Json(
        200,
        response_body("Try A minor.", "completed"),
    )]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    let response = recorder
        .run_async(openai.responses().create(responses_request("Which scale?")))
        .await
        .unwrap();
    assert_eq!(response.id, "resp_1");
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("responses_create");
    assert_eq!(span["type"], "llm");
    assert_eq!(span["tags"], json!(["openai"]));
    assert_eq!(span["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(span["metadata"]["request_model"], "gpt-4o-mini");
    assert_eq!(span["provider"], "openai");
    assert_eq!(span["input"]["input"], "Which scale?");
    assert_eq!(span["input"]["instructions"], "Answer in one sentence.");
    assert_eq!(
        span["output"]["output"][0]["content"][0]["text"],
        "Try A minor."
    );
    assert_eq!(span["usage"]["prompt_tokens"], 14);
    assert_eq!(span["usage"]["completion_tokens"], 9);
    assert_eq!(
        span["usage"]["original_usage.input_tokens_details.cached_tokens"], 4,
        "what Opik's cost computation reads for a Responses call's cached tokens"
    );
    assert_eq!(span["metadata"]["temperature"], 0.5);
    assert_eq!(span["metadata"]["type"], "openai_responses");
    assert_eq!(span["metadata"]["status"], "completed");
    assert!(span.get("error_info").is_none());
    assert_eq!(fake.bodies()[0]["model"], "gpt-4o-mini");
}

fn event(kind: &str, mut body: Value, seq: u64) -> Value {
    body["type"] = Value::from(kind);
    body["sequence_number"] = Value::from(seq);
    body
}

#[tokio::test]
async fn a_streamed_responses_call_records_the_final_response() {
    let mut created = response_body("", "in_progress");
    created["output"] = json!([]);
    created["usage"] = Value::Null;
    let fake = FakeOpenAi::start([Answer::event_stream(vec![
        event("response.created", json!({"response": created}), 0),
        event(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Try "}),
            1,
        ),
        event(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 0, "content_index": 0,
                   "delta": "A minor."}),
            2,
        ),
        event(
            "response.completed",
            json!({"response": response_body("Try A minor.", "completed")}),
            3,
        ),
    ])]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    let text = recorder
        .run_async(async {
            use async_openai::types::responses::ResponseStreamEvent;
            use futures_util::StreamExt;
            let mut stream = openai
                .responses()
                .create_stream(responses_request("Which scale?"))
                .await
                .unwrap();
            let mut text = String::new();
            while let Some(event) = stream.next().await {
                if let ResponseStreamEvent::ResponseOutputTextDelta(d) = event.unwrap() {
                    text.push_str(&d.delta);
                }
            }
            text
        })
        .await;
    assert_eq!(text, "Try A minor.");
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("responses_create");
    assert_eq!(
        span["output"]["output"][0]["content"][0]["text"],
        "Try A minor."
    );
    assert_eq!(span["usage"]["total_tokens"], 23);
    assert_eq!(span["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(span["metadata"]["stream_events"], 4);
    assert!(span.get("error_info").is_none(), "{span}");
    assert_eq!(fake.bodies()[0]["stream"], true);
}

#[tokio::test]
async fn a_failed_responses_stream_and_one_dropped_early_record_their_errors() {
    let mut failed = response_body("", "failed");
    failed["output"] = json!([]);
    failed["error"] = json!({"code": "server_error", "message": "the model crashed"});
    let fake = FakeOpenAi::start([Answer::event_stream(vec![event(
        "response.failed",
        json!({"response": failed}),
        0,
    )])]);
    let openai = wrapped(&fake);
    let recorder = Recorder::new();
    recorder
        .run_async(async {
            use futures_util::StreamExt;
            let mut stream = openai
                .responses()
                .create_stream(responses_request("q"))
                .await
                .unwrap();
            while stream.next().await.is_some() {}
        })
        .await;
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("responses_create");
    assert_eq!(
        span["error_info"]["exception_type"], "server_error",
        "{span}"
    );
    assert_eq!(span["error_info"]["message"], "the model crashed");

    let half = FakeOpenAi::start([Answer::event_stream(vec![event(
        "response.output_text.delta",
        json!({"item_id": "m", "output_index": 0, "content_index": 0, "delta": "Half"}),
        0,
    )])]);
    let openai = wrapped(&half);
    let recorder = Recorder::new();
    recorder
        .run_async(async {
            use futures_util::StreamExt;
            let mut stream = openai
                .responses()
                .create_stream(responses_request("q"))
                .await
                .unwrap();
            let _first = stream.next().await;
        })
        .await;
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("responses_create");
    assert_eq!(span["error_info"]["exception_type"], "cancelled");
    assert_eq!(span["output"]["output_text"], "Half");
}

#[tokio::test]
async fn an_embeddings_call_is_an_llm_span_without_the_vectors() {
    let fake = FakeOpenAi::start([Answer::Json(
        200,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]},
                        {"object": "embedding", "index": 1, "embedding": [0.4, 0.5, 0.6]}],
               "usage": {"prompt_tokens": 7, "total_tokens": 7}}),
    )]);
    let openai = wrapped(&fake).with_provider("mistral_ai");
    let request = async_openai::types::embeddings::CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec!["A minor", "E major"])
        .build()
        .unwrap();
    let recorder = Recorder::new();
    let response = recorder
        .run_async(openai.embeddings().create(request))
        .await
        .unwrap();
    assert_eq!(response.data.len(), 2);
    let recorded = recorder.recorded_async().await;
    let span = recorded.span("embeddings_create");
    assert_eq!(span["type"], "llm");
    assert_eq!(
        span["provider"], "mistral",
        "OpenTelemetry names become Opik's"
    );
    assert_eq!(span["model"], "text-embedding-3-small");
    assert_eq!(span["input"]["input"], json!(["A minor", "E major"]));
    assert_eq!(span["output"], json!({"embeddings": 2, "dimensions": 3}));
    assert_eq!(span["usage"]["prompt_tokens"], 7);
    assert_eq!(span["usage"]["total_tokens"], 7);
    assert_eq!(span["metadata"]["type"], "openai_embeddings");
}

/// The Responses API and embeddings spans are valid Opik requests too.
#[tokio::test]
async fn responses_and_embeddings_are_valid_opik_requests() {
    let server = fake_opik::FakeOpik::start();
    let client = common::client_for(&server);
    let responses = FakeOpenAi::start([Answer::Json(200, response_body("Yes.", "completed"))]);
    let embeddings = FakeOpenAi::start([Answer::Json(
        200,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
               "usage": {"prompt_tokens": 2, "total_tokens": 2}}),
    )]);
    client
        .scope(async {
            wrapped(&responses)
                .responses()
                .create(responses_request("q"))
                .await
                .unwrap();
            let request = async_openai::types::embeddings::CreateEmbeddingRequestArgs::default()
                .model("text-embedding-3-small")
                .input("q")
                .build()
                .unwrap();
            wrapped(&embeddings)
                .embeddings()
                .create(request)
                .await
                .unwrap();
        })
        .await;
    assert!(
        client
            .flush_async(std::time::Duration::from_secs(5))
            .await
            .completed
    );
    server.assert_valid();
    assert_eq!(server.spans().len(), 2);
}
