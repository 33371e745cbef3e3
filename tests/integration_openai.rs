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
use opik::integrations::openai::{track_openai, OpikOpenAi};
use opik::testing::Recorder;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake endpoint answers.
#[derive(Clone)]
enum Answer {
    Json(u16, Value),
    Stream(Vec<Value>),
    /// Server-sent events with an `event:` line each (the Responses API), named by `type`.
    NamedStream(Vec<Value>),
}

/// A fake OpenAI API on loopback: answers every request with `answer`, keeps the request
/// bodies.
struct FakeOpenAi {
    base: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl FakeOpenAi {
    async fn start(answer: Answer) -> FakeOpenAi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, answer.clone(), Arc::clone(&kept)));
            }
        });
        FakeOpenAi { base, bodies }
    }

    fn client(&self) -> OpikOpenAi<OpenAIConfig> {
        // The dev-dependencies build reqwest with `rustls-no-provider` (for the example's HTTPS
        // mode); a client can only be built once a crypto provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = OpenAIConfig::new()
            .with_api_base(&self.base)
            .with_api_key("sk-test");
        track_openai(async_openai::Client::with_config(config))
    }
}

/// One HTTP/1.1 exchange: reads the request (headers, then `content-length` bytes), writes the
/// answer and closes the connection.
async fn serve(mut conn: TcpStream, answer: Answer, bodies: Arc<Mutex<Vec<Value>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = conn.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = conn.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if let Ok(body) = serde_json::from_slice(&buf[header_end..]) {
        bodies.lock().unwrap().push(body);
    }
    let response = match answer {
        Answer::Json(status, body) => {
            let body = body.to_string();
            format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Answer::Stream(chunks) => {
            let mut r = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                         connection: close\r\n\r\n"
                .to_owned();
            for c in chunks {
                r.push_str(&format!("data: {c}\n\n"));
            }
            r.push_str("data: [DONE]\n\n");
            r
        }
        Answer::NamedStream(events) => {
            let mut r = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                         connection: close\r\n\r\n"
                .to_owned();
            for e in events {
                r.push_str(&format!(
                    "event: {}\ndata: {e}\n\n",
                    e["type"].as_str().unwrap()
                ));
            }
            r
        }
    };
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
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
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                     "message": {"role": "assistant", "content": text, "refusal": null}}],
        "usage": {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23},
    })
}

fn chunk(delta: Value, finish: Option<&str>, usage: Option<Value>) -> Value {
    let choices = if delta.is_null() {
        json!([])
    } else {
        json!([{"index": 0, "delta": delta, "finish_reason": finish}])
    };
    json!({
        "id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1_764_000_000,
        "model": "gpt-4o-mini-2024-07-18", "choices": choices, "usage": usage,
    })
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
    let fake = FakeOpenAi::start(Answer::Json(200, completion("Try A minor pentatonic."))).await;
    let openai = fake.client();
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
    let sent = fake.bodies.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn a_streamed_completion_is_one_span_with_the_chunks_joined_and_the_usage() {
    let fake = FakeOpenAi::start(Answer::Stream(vec![
        chunk(json!({"role": "assistant", "content": ""}), None, None),
        chunk(json!({"content": "Slow down "}), None, None),
        chunk(json!({"content": "to 70 bpm."}), None, None),
        chunk(json!({}), Some("stop"), None),
        chunk(
            Value::Null,
            None,
            Some(json!({"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17})),
        ),
    ]))
    .await;
    let openai = fake.client();
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
    assert_eq!(fake.bodies.lock().unwrap()[0]["stream"], true);
}

#[tokio::test]
async fn a_failed_completion_records_the_error() {
    let fake = FakeOpenAi::start(Answer::Json(
        400,
        json!({"error": {"message": "model overloaded, try later", "type": "invalid_request_error",
                         "param": null, "code": null}}),
    ))
    .await;
    let openai = fake.client();
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
    let fake = FakeOpenAi::start(Answer::Stream(vec![
        chunk(json!({"role": "assistant", "content": "Half "}), None, None),
        chunk(json!({"content": "an answer"}), None, None),
    ]))
    .await;
    let openai = fake.client();
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
    let plain = FakeOpenAi::start(Answer::Json(200, completion("Use a metronome."))).await;
    let streamed = FakeOpenAi::start(Answer::Stream(vec![
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
    ]))
    .await;
    let failing = FakeOpenAi::start(Answer::Json(
        400,
        json!({"error": {"message": "bad", "type": "invalid_request_error", "param": null,
                         "code": null}}),
    ))
    .await;
    client
        .scope(async {
            coach(&plain.client(), "q1").await;
            coach_streaming(&streamed.client(), "q2").await;
            coach(&failing.client(), "q3").await;
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
    let fake = FakeOpenAi::start(Answer::Json(
        200,
        response_body("Try A minor.", "completed"),
    ))
    .await;
    let openai = fake.client();
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
    assert_eq!(fake.bodies.lock().unwrap()[0]["model"], "gpt-4o-mini");
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
    let fake = FakeOpenAi::start(Answer::NamedStream(vec![
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
    ]))
    .await;
    let openai = fake.client();
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
    assert_eq!(fake.bodies.lock().unwrap()[0]["stream"], true);
}

#[tokio::test]
async fn a_failed_responses_stream_and_one_dropped_early_record_their_errors() {
    let mut failed = response_body("", "failed");
    failed["output"] = json!([]);
    failed["error"] = json!({"code": "server_error", "message": "the model crashed"});
    let fake = FakeOpenAi::start(Answer::NamedStream(vec![event(
        "response.failed",
        json!({"response": failed}),
        0,
    )]))
    .await;
    let openai = fake.client();
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

    let half = FakeOpenAi::start(Answer::NamedStream(vec![event(
        "response.output_text.delta",
        json!({"item_id": "m", "output_index": 0, "content_index": 0, "delta": "Half"}),
        0,
    )]))
    .await;
    let openai = half.client();
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
    let fake = FakeOpenAi::start(Answer::Json(
        200,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]},
                        {"object": "embedding", "index": 1, "embedding": [0.4, 0.5, 0.6]}],
               "usage": {"prompt_tokens": 7, "total_tokens": 7}}),
    ))
    .await;
    let openai = fake.client().with_provider("mistral_ai");
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
    let responses = FakeOpenAi::start(Answer::Json(200, response_body("Yes.", "completed"))).await;
    let embeddings = FakeOpenAi::start(Answer::Json(
        200,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
               "usage": {"prompt_tokens": 2, "total_tokens": 2}}),
    ))
    .await;
    client
        .scope(async {
            responses
                .client()
                .responses()
                .create(responses_request("q"))
                .await
                .unwrap();
            let request = async_openai::types::embeddings::CreateEmbeddingRequestArgs::default()
                .model("text-embedding-3-small")
                .input("q")
                .build()
                .unwrap();
            embeddings
                .client()
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
