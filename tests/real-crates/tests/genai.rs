//! genai 0.7 (feature `otel`) with `OpikLayer`, against a fake OpenAI-compatible server on
//! loopback: what Opik receives for a chat (plain and streamed), an embedding, a failed call,
//! and the provider names genai gives OpenAI-compatible adapters.

use futures_util::StreamExt;
use genai::adapter::AdapterKind;
use genai::chat::{ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint};
use genai::{Client, ModelIden, ServiceTarget};
use opik_real_crates::*;
use serde_json::{json, Value};

const ANSWERING: &str = "gpt-4o-mini-2024-07-18";

/// genai records messages only when asked to, through the OpenTelemetry variable, read once.
fn capture_content() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Set before any genai call of this test binary, on every test's path.
        std::env::set_var(genai::otel::CAPTURE_CONTENT_ENV, "true");
    });
    init_layer();
}

fn target(fake: &FakeOpenAi, adapter: AdapterKind, model: &str) -> ServiceTarget {
    ServiceTarget {
        endpoint: Endpoint::from_owned(format!("{}/", fake.base_url())),
        auth: AuthData::from_single("sk-test"),
        model: ModelIden::new(adapter, model),
    }
}

fn question() -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a guitar coach."),
        ChatMessage::user("One tip?"),
    ])
}

#[opik::track(name = "practice")]
async fn practice(target: ServiceTarget) -> Result<String, genai::Error> {
    let options = ChatOptions::default().with_temperature(0.5);
    let answer = Client::new()
        .expect("genai client")
        .exec_chat(target, question(), Some(&options))
        .await?;
    Ok(answer.first_text().unwrap_or_default().to_owned())
}

#[test]
fn a_chat_is_an_llm_span_with_model_usage_and_messages() {
    capture_content();
    let fake = FakeOpenAi::start([Answer::Json(
        200,
        completion(ANSWERING, "Play it at 70 bpm.", usage(40, 10, 16, 2)),
    )]);
    let (answer, d) = deliver(practice(target(&fake, AdapterKind::OpenAI, "gpt-4o-mini")));
    assert_eq!(answer.unwrap(), "Play it at 70 bpm.");
    let chat = d.span("chat gpt-4o-mini");
    assert_eq!(chat["type"], "llm");
    assert_eq!(d.parent(chat).unwrap()["name"], "practice");
    assert_eq!(chat["model"], ANSWERING, "the answering model wins");
    assert_eq!(chat["metadata"]["request_model"], "gpt-4o-mini");
    assert_eq!(chat["provider"], "openai");
    assert_eq!(
        chat["usage"],
        json!({
            "prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50,
            "original_usage.prompt_tokens": 40, "original_usage.completion_tokens": 10,
            "original_usage.total_tokens": 50,
            "original_usage.prompt_tokens_details.cached_tokens": 16,
            "original_usage.completion_tokens_details.reasoning_tokens": 2,
        })
    );
    assert_eq!(
        chat["input"],
        json!({"messages": [{"role": "system", "content": "You are a guitar coach."},
                            {"role": "user", "content": "One tip?"}]})
    );
    assert_eq!(
        chat["output"]["choices"][0]["message"],
        json!({"role": "assistant", "content": "Play it at 70 bpm."})
    );
    // Request options, server and response ids are metadata, not input.
    let meta = &chat["metadata"];
    assert_eq!(meta["gen_ai.request.temperature"], 0.5);
    assert_eq!(meta["server.address"], "127.0.0.1");
    assert!(meta["server.port"].is_number());
    assert_eq!(meta["gen_ai.response.finish_reasons"], json!(["stop"]));
    assert!(meta.get("otel.kind").is_none());
    assert!(chat.get("error_info").is_none());
}

#[test]
fn a_streamed_chat_records_the_joined_answer_and_the_final_usage() {
    capture_content();
    let m = ANSWERING;
    let fake = FakeOpenAi::start([Answer::data_stream([
        chunk(
            m,
            json!({"role": "assistant", "content": "Play it "}),
            None,
            None,
        ),
        chunk(m, json!({"content": "at 70 bpm."}), None, None),
        chunk(m, json!({}), Some("stop"), None),
        chunk(m, Value::Null, None, Some(usage(40, 10, 16, 2))),
    ])]);
    let target = target(&fake, AdapterKind::OpenAI, "gpt-4o-mini");
    let (text, d) = deliver(async move {
        let options = ChatOptions::default()
            .with_capture_usage(true)
            .with_capture_content(true);
        let mut stream = Client::new()
            .expect("genai client")
            .exec_chat_stream(target, question(), Some(&options))
            .await
            .expect("stream starts")
            .stream;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            if let ChatStreamEvent::Chunk(c) = event.expect("event") {
                text.push_str(&c.content);
            }
        }
        text
    });
    assert_eq!(text, "Play it at 70 bpm.");
    let chat = d.span("chat gpt-4o-mini");
    assert_eq!(chat["type"], "llm");
    assert_eq!(chat["metadata"]["gen_ai.request.stream"], true);
    assert_eq!(chat["usage"]["total_tokens"], 50);
    assert_eq!(
        chat["usage"]["original_usage.prompt_tokens_details.cached_tokens"],
        16
    );
    assert_eq!(
        chat["output"]["choices"][0]["message"]["content"],
        "Play it at 70 bpm."
    );
    assert!(chat["metadata"]["gen_ai.response.time_to_first_chunk"].is_number());
    assert!(chat.get("error_info").is_none(), "{chat}");
}

#[test]
fn a_failed_chat_has_its_error_type_as_error_info() {
    capture_content();
    let fake = FakeOpenAi::start([Answer::Json(
        429,
        json!({"error": {"message": "rate limited, slow down", "type": "rate_limit_error",
                         "param": null, "code": "rate_limit_exceeded"}}),
    )]);
    let (answer, d) = deliver(practice(target(&fake, AdapterKind::OpenAI, "gpt-4o-mini")));
    assert!(answer.is_err());
    let chat = d.span("chat gpt-4o-mini");
    assert_eq!(chat["error_info"]["exception_type"], "429", "{chat}");
    assert_ne!(chat["error_info"]["message"], "otel.status_code = ERROR");
    assert_eq!(
        chat["model"], "gpt-4o-mini",
        "no answer: the requested model"
    );
    assert!(chat.get("usage").is_none());
    assert!(d.span("practice")["error_info"].is_object());
}

#[test]
fn opentelemetry_provider_names_become_opik_names() {
    capture_content();
    for (adapter, model, provider) in [
        (AdapterKind::Mistral, "mistral-small-latest", "mistral"), // genai: `mistral_ai`
        (AdapterKind::Groq, "llama-3.1-8b-instant", "groq"),
    ] {
        let fake = FakeOpenAi::start([Answer::Json(
            200,
            completion(model, "Slow down.", usage(12, 3, 0, 0)),
        )]);
        let (answer, d) = deliver(practice(target(&fake, adapter, model)));
        assert_eq!(answer.unwrap(), "Slow down.");
        let chat = d.span(&format!("chat {model}"));
        assert_eq!(chat["provider"], provider, "{chat}");
        assert_eq!(chat["model"], model);
        assert!(chat["metadata"].get("request_model").is_none());
        assert_eq!(chat["usage"]["total_tokens"], 15);
    }
}

#[test]
fn an_embedding_is_an_llm_span_with_its_usage() {
    capture_content();
    let fake = FakeOpenAi::start([Answer::Json(
        200,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
               "usage": {"prompt_tokens": 7, "total_tokens": 7}}),
    )]);
    let target = target(&fake, AdapterKind::OpenAI, "text-embedding-3-small");
    let (embedding, d) = deliver(async move {
        Client::new()
            .expect("genai client")
            .embed(target, "A minor", None)
            .await
    });
    assert!(embedding.is_ok(), "{embedding:?}");
    let span = d.span("embeddings text-embedding-3-small");
    assert_eq!(span["type"], "llm");
    assert_eq!(span["model"], "text-embedding-3-small");
    assert_eq!(span["provider"], "openai");
    assert_eq!(span["usage"]["prompt_tokens"], 7);
    assert_eq!(span["usage"]["total_tokens"], 7);
}
