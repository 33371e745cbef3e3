//! Issue "integrations": an `async-openai` client wrapped with `track_openai` records each chat
//! completion as an `llm` span under the current tracked call, with model, provider, input
//! messages, output, usage and errors; a streamed completion becomes one span whose output is
//! the chunks joined, with the usage of the last chunk. Tested against a fake OpenAI endpoint on
//! loopback.

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
