//! A fake OpenAI-compatible API on loopback, for the tests of what the SDK records of LLM calls
//! (the `async-openai` wrapper, the real crates under `OpikLayer`, the LLM judges): it answers
//! from a script or a function of the request, in JSON or server-sent events, and keeps what
//! it received. It runs on a thread and runtime of its own, so sync tests and every async
//! runtime can use it alike.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
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
    /// The method, `POST`.
    pub method: String,
    /// The path, `/v1/chat/completions`.
    pub path: String,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body (`null` when there was none or it was not JSON).
    pub body: Value,
}

type Respond = dyn Fn(&Received) -> Answer + Send + Sync;

/// The fake API; see the module docs.
pub struct FakeOpenAi {
    base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeOpenAi {
    /// Answers the requests in order with `script`; the last answer is repeated once the
    /// script runs out.
    pub fn start(script: impl IntoIterator<Item = Answer>) -> FakeOpenAi {
        let script: VecDeque<Answer> = script.into_iter().collect();
        assert!(!script.is_empty(), "the fake OpenAI needs an answer");
        let script = Mutex::new(script);
        FakeOpenAi::answering(move |_| {
            let mut s = script.lock().unwrap();
            if s.len() > 1 {
                s.pop_front().unwrap()
            } else {
                s[0].clone()
            }
        })
    }

    /// Answers each request with what `respond` makes of it (a judge that reads the prompt).
    pub fn answering(respond: impl Fn(&Received) -> Answer + Send + Sync + 'static) -> FakeOpenAi {
        let respond: Arc<Respond> = Arc::new(respond);
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
                    tokio::spawn(serve(conn, Arc::clone(&respond), Arc::clone(&kept)));
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

    /// The request bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.received().into_iter().map(|r| r.body).collect()
    }
}

/// One HTTP/1.1 exchange: reads the request (headers, then `content-length` bytes), writes the
/// answer and closes the connection.
async fn serve(mut conn: TcpStream, respond: Arc<Respond>, received: Arc<Mutex<Vec<Received>>>) {
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
    let mut request_line = head.lines().next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let authorization = header("authorization");
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = conn.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[header_end..]).unwrap_or(Value::Null);
    let request = Received {
        method,
        path,
        authorization,
        body,
    };
    let answer = respond(&request);
    received.lock().unwrap().push(request);
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

/// A chat completion by `model` answering `text`, with `usage`.
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
