//! Shared by the real-crate tests: a fake OpenAI-compatible server on loopback that plays a
//! script of answers, and a way to run code under an Opik client that delivers to the fake
//! Opik (every body checked against Opik's OpenAPI spec).

use fake_opik::FakeOpik;
use opik::config::ConfigBuilder;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One answer of the fake server.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A JSON body with this status.
    Json(u16, Value),
    /// A `text/event-stream` body: each item is one event's lines (`data: ...`, and
    /// `event: ...` for the Responses API), written as given and followed by a blank line.
    Sse(Vec<String>),
}

impl Answer {
    /// An SSE stream of `data:` events (chat completions), closed by `data: [DONE]`.
    pub fn data_stream(chunks: impl IntoIterator<Item = Value>) -> Answer {
        let mut events: Vec<String> = chunks.into_iter().map(|c| format!("data: {c}")).collect();
        events.push("data: [DONE]".to_owned());
        Answer::Sse(events)
    }

    /// An SSE stream of named events (the Responses API): `event: <type>` + `data: <json>`.
    pub fn event_stream(events: impl IntoIterator<Item = Value>) -> Answer {
        Answer::Sse(
            events
                .into_iter()
                .map(|e| {
                    let kind = e["type"].as_str().unwrap_or("message").to_owned();
                    format!("event: {kind}\ndata: {e}")
                })
                .collect(),
        )
    }
}

/// A request the fake server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub body: Value,
}

/// A fake OpenAI-compatible API on loopback, on a runtime of its own (so that it serves sync
/// tests and every async runtime alike). Answers the requests in order with the script; the
/// last answer is repeated once the script runs out.
pub struct FakeOpenAi {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeOpenAi {
    pub fn start(script: impl IntoIterator<Item = Answer>) -> FakeOpenAi {
        let script: VecDeque<Answer> = script.into_iter().collect();
        assert!(!script.is_empty(), "the fake OpenAI needs an answer");
        let script = Arc::new(Mutex::new(script));
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).ok();
                while let Ok((conn, _)) = listener.accept().await {
                    let answer = {
                        let mut s = script.lock().unwrap();
                        if s.len() > 1 {
                            s.pop_front().unwrap()
                        } else {
                            s[0].clone()
                        }
                    };
                    tokio::spawn(serve(conn, answer, Arc::clone(&kept)));
                }
            });
        });
        let addr = rx.recv().expect("the fake OpenAI started");
        FakeOpenAi {
            base: format!("http://{addr}/v1"),
            received,
        }
    }

    /// The base URL, `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 exchange: reads the request (headers, then `content-length` bytes), writes the
/// answer and closes the connection.
async fn serve(mut conn: TcpStream, answer: Answer, received: Arc<Mutex<Vec<Received>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
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
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let length: usize = head
        .to_lowercase()
        .lines()
        .find_map(|l| l.strip_prefix("content-length:").map(str::to_owned))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = conn.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[header_end..]).unwrap_or(Value::Null);
    received.lock().unwrap().push(Received { path, body });
    let response = match answer {
        Answer::Json(status, body) => {
            let body = body.to_string();
            format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Answer::Sse(events) => {
            let mut r = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                         connection: close\r\n\r\n"
                .to_owned();
            for e in events {
                r.push_str(&e);
                r.push_str("\n\n");
            }
            r
        }
    };
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}

/// A chat completion answering `text`, with `usage`.
pub fn completion(model: &str, text: &str, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                     "message": {"role": "assistant", "content": text, "refusal": null}}],
        "usage": usage,
    })
}

/// A chat completion asking for one tool call.
pub fn tool_call_completion(model: &str, id: &str, name: &str, args: Value, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-0", "object": "chat.completion", "created": 1_764_000_000,
        "model": model,
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
                     "message": {"role": "assistant", "content": null, "refusal": null,
                                 "tool_calls": [{"id": id, "type": "function",
                                                 "function": {"name": name,
                                                              "arguments": args.to_string()}}]}}],
        "usage": usage,
    })
}

/// A chat completion chunk (`delta` null: a chunk with no choices, as the final usage chunk).
pub fn chunk(model: &str, delta: Value, finish: Option<&str>, usage: Option<Value>) -> Value {
    let choices = if delta.is_null() {
        json!([])
    } else {
        json!([{"index": 0, "delta": delta, "finish_reason": finish}])
    };
    json!({
        "id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1_764_000_000,
        "model": model, "choices": choices, "usage": usage,
    })
}

/// OpenAI usage with cached prompt tokens and reasoning tokens.
pub fn usage(prompt: i64, completion: i64, cached: i64, reasoning: i64) -> Value {
    json!({
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    })
}

/// What the fake Opik received: traces and spans, every body checked against the spec.
pub struct Delivered {
    pub traces: Vec<Value>,
    pub spans: Vec<Value>,
}

impl Delivered {
    /// The one span named `name` (panics listing the names otherwise).
    pub fn span(&self, name: &str) -> &Value {
        let found: Vec<&Value> = self.spans.iter().filter(|s| s["name"] == name).collect();
        assert_eq!(
            found.len(),
            1,
            "expected one span named {name:?} among {:?}",
            self.names()
        );
        found[0]
    }

    /// The spans named `name`, in the order they started.
    pub fn spans_named(&self, name: &str) -> Vec<&Value> {
        let mut found: Vec<&Value> = self.spans.iter().filter(|s| s["name"] == name).collect();
        found.sort_by(|a, b| {
            a["start_time"]
                .as_str()
                .unwrap_or_default()
                .cmp(b["start_time"].as_str().unwrap_or_default())
        });
        found
    }

    /// The span's parent, if it has one.
    pub fn parent(&self, span: &Value) -> Option<&Value> {
        let parent = span.get("parent_span_id")?;
        self.spans.iter().find(|s| &s["id"] == parent)
    }

    pub fn names(&self) -> Vec<&str> {
        self.spans
            .iter()
            .map(|s| s["name"].as_str().unwrap_or_default())
            .collect()
    }

    /// The spans of type `llm`, with their summed `total_tokens` (what Opik adds up for the
    /// trace).
    pub fn llm_total_tokens(&self) -> i64 {
        self.spans
            .iter()
            .filter_map(|s| s["usage"]["total_tokens"].as_i64())
            .sum()
    }
}

/// Runs `fut` on a multi-thread runtime (rig and genai spawn onto it) under an Opik client
/// that delivers to a fresh fake Opik; returns what it received once delivered.
pub fn deliver<F: std::future::Future>(fut: F) -> (F::Output, Delivered) {
    let server = FakeOpik::start();
    let config = ConfigBuilder::with_env_map(Vec::<(String, String)>::new())
        .url(server.base_url())
        .api_key("test-key-5d41402abc4b2a76")
        .workspace("rs-tests")
        .project_name("opik-rs-real-crates")
        .flush_interval(Duration::from_millis(50))
        .resolve()
        .expect("valid test config")
        .into_config()
        .expect("test config is enabled");
    let client = opik::export::Client::new(&config).expect("client starts");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(client.scope(fut));
    assert!(client.flush(Duration::from_secs(5)).completed);
    server.assert_valid();
    (
        out,
        Delivered {
            traces: server.traces(),
            spans: server.spans(),
        },
    )
}

/// Installs `OpikLayer` as the global subscriber, once per test binary: rig, genai and reqwest
/// run parts of a call on the runtime's worker threads, which a thread-local default would
/// not reach. Spans outside a test's Opik client are not recorded, so tests do not mix.
pub fn init_layer() {
    use tracing_subscriber::prelude::*;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Built together with the rest of the workspace, reqwest has `rustls-no-provider` (the
        // facade's dev-dependencies ask for it): a client needs a provider installed first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        tracing_subscriber::registry()
            .with(opik::integrations::OpikLayer::new())
            .init();
    });
}
