//! rig-core / rig-agent 0.44 with `OpikLayer`, against a fake OpenAI on loopback: what Opik
//! receives for an agent run with a tool (plain and streamed), an embedding and a failed call.

use futures_util::StreamExt;
use opik_real_crates::*;
use rig_agent::agent::MultiTurnStreamItem;
use rig_agent::AgentBuilder;
use rig_core::providers::openai::OpenAIConfig;
use serde_json::{json, Value};

const ANSWERING: &str = "gpt-4o-mini-2024-07-18";

/// A tool: the tempo to practise a scale at.
struct Metronome;

#[derive(Debug)]
struct NoTempo;

impl std::fmt::Display for NoTempo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no tempo for that scale")
    }
}

impl std::error::Error for NoTempo {}

impl rig_agent::tool::Tool for Metronome {
    const NAME: &'static str = "metronome";
    type Args = Value;
    type Output = Value;
    type Error = NoTempo;

    fn description(&self) -> String {
        "The tempo to practise a scale at".into()
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"scale": {"type": "string"}}})
    }

    async fn call(
        &self,
        _context: &mut rig_agent::tool::ToolContext,
        args: Self::Args,
    ) -> Result<Self::Output, Self::Error> {
        match args["scale"].as_str() {
            Some("A minor") => Ok(json!({"bpm": 70, "scale": "A minor"})),
            _ => Err(NoTempo),
        }
    }
}

fn openai(fake: &FakeOpenAi) -> rig_core::providers::openai::OpenAI {
    OpenAIConfig::new("sk-test")
        .with_base_url(fake.base_url())
        .client()
}

fn coach(fake: &FakeOpenAi) -> rig_agent::Agent {
    AgentBuilder::new(openai(fake).chat("gpt-4o-mini"))
        .name("coach")
        .preamble("You are a guitar coach.")
        .tool(Metronome)
        .record_content_telemetry(true)
        .build()
}

/// A tool call, then an answer: two model turns of 30 and 50 tokens.
fn two_turns() -> Vec<Answer> {
    vec![
        Answer::Json(
            200,
            tool_call_completion(
                ANSWERING,
                "call_1",
                "metronome",
                json!({"scale": "A minor"}),
                usage(20, 10, 8, 4),
            ),
        ),
        Answer::Json(
            200,
            completion(ANSWERING, "Play it at 70 bpm.", usage(40, 10, 16, 2)),
        ),
    ]
}

#[opik::track(name = "practice")]
async fn practice(agent: &rig_agent::Agent) -> Result<String, rig_agent::completion::PromptError> {
    let answer = agent.prompt("One tip?").max_turns(3).run().await?;
    Ok(answer.output().to_owned())
}

#[test]
fn an_agent_run_is_a_general_span_over_llm_and_tool_spans() {
    init_layer();
    let fake = FakeOpenAi::start(two_turns());
    let agent = coach(&fake);
    let (answer, d) = deliver(practice(&agent));
    assert_eq!(answer.unwrap(), "Play it at 70 bpm.");
    assert_eq!(d.traces.len(), 1, "{:?}", d.names());

    let agent_span = d.span("invoke_agent coach");
    assert_eq!(agent_span["type"], "general");
    assert_eq!(d.parent(agent_span).unwrap()["name"], "practice");
    assert_eq!(
        agent_span["input"]["messages"],
        json!([{"role": "system", "content": "You are a guitar coach."},
               {"role": "user", "content": "One tip?"}])
    );
    assert_eq!(
        agent_span["output"]["choices"][0]["message"],
        json!({"role": "assistant", "content": "Play it at 70 bpm."})
    );
    // The agent's total over its turns is metadata, not usage: Opik adds up the turns.
    assert!(agent_span.get("usage").is_none(), "{agent_span}");
    assert!(agent_span.get("model").is_none());
    assert_eq!(agent_span["metadata"]["gen_ai.usage.input_tokens"], 60);
    assert_eq!(d.llm_total_tokens(), 30 + 50);

    let chats = d.spans_named("chat gpt-4o-mini");
    assert_eq!(chats.len(), 2, "{:?}", d.names());
    for chat in &chats {
        assert_eq!(chat["type"], "llm");
        assert_eq!(chat["model"], ANSWERING, "the answering model wins");
        assert_eq!(chat["metadata"]["request_model"], "gpt-4o-mini");
        assert_eq!(chat["provider"], "openai");
        assert_eq!(d.parent(chat).unwrap()["id"], agent_span["id"]);
        assert!(chat.get("error_info").is_none());
        assert!(chat["input"].get("rig.completion_parent").is_none());
        assert!(chat["metadata"].get("rig.completion_parent").is_none());
    }
    let (first, second) = (chats[0], chats[1]);
    assert_eq!(
        first["usage"],
        json!({
            "prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30,
            "original_usage.prompt_tokens": 20, "original_usage.completion_tokens": 10,
            "original_usage.total_tokens": 30,
            // What Opik's OpenAI cost computation reads for cached and reasoning tokens.
            "original_usage.prompt_tokens_details.cached_tokens": 8,
            "original_usage.completion_tokens_details.reasoning_tokens": 4,
        })
    );
    assert_eq!(
        first["input"]["messages"],
        json!([{"role": "system", "content": "You are a guitar coach."},
               {"role": "user", "content": "One tip?"}])
    );
    assert_eq!(
        first["output"]["choices"][0],
        json!({"index": 0, "finish_reason": "tool_call", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "metronome",
                                         "arguments": "{\"scale\":\"A minor\"}"}}]}})
    );
    assert_eq!(
        second["input"]["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_1",
               "content": "{\"bpm\":70,\"scale\":\"A minor\"}"})
    );
    assert_eq!(second["usage"]["total_tokens"], 50);

    let tool = d.span("execute_tool metronome");
    assert_eq!(tool["type"], "tool");
    assert_eq!(tool["input"], json!({"scale": "A minor"}));
    assert_eq!(tool["output"], json!({"bpm": 70, "scale": "A minor"}));
    assert_eq!(d.parent(tool).unwrap()["id"], agent_span["id"]);
    assert!(tool.get("usage").is_none() && tool.get("error_info").is_none());
    assert_eq!(tool["metadata"]["gen_ai.tool.call.id"], "call_1");

    // What rig sent is what the spans say.
    let sent = fake.received();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].body["model"], "gpt-4o-mini");
}

#[test]
fn a_failing_tool_is_a_tool_span_with_its_error() {
    init_layer();
    let fake = FakeOpenAi::start([
        Answer::Json(
            200,
            tool_call_completion(
                ANSWERING,
                "call_9",
                "metronome",
                json!({"scale": "Z lydian"}),
                usage(20, 10, 0, 0),
            ),
        ),
        Answer::Json(
            200,
            completion(ANSWERING, "No tempo for that.", usage(30, 5, 0, 0)),
        ),
    ]);
    let agent = coach(&fake);
    let (answer, d) = deliver(practice(&agent));
    assert_eq!(answer.unwrap(), "No tempo for that.");
    let tool = d.span("execute_tool metronome");
    assert_eq!(tool["type"], "tool");
    assert_eq!(tool["input"], json!({"scale": "Z lydian"}));
    let error = &tool["error_info"];
    assert!(error.is_object(), "{tool}");
    assert_ne!(
        error["exception_type"], "error",
        "rig's error kind: {error}"
    );
}

#[test]
fn a_streamed_agent_run_records_each_turn_with_its_final_usage() {
    init_layer();
    let m = ANSWERING;
    let fake = FakeOpenAi::start([
        Answer::data_stream([
            chunk(
                m,
                json!({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1",
                "type": "function", "function": {"name": "metronome", "arguments": ""}}]}),
                None,
                None,
            ),
            chunk(
                m,
                json!({"tool_calls": [{"index": 0,
                "function": {"arguments": "{\"scale\":\"A minor\"}"}}]}),
                None,
                None,
            ),
            chunk(m, json!({}), Some("tool_calls"), None),
            chunk(m, Value::Null, None, Some(usage(20, 10, 8, 4))),
        ]),
        Answer::data_stream([
            chunk(
                m,
                json!({"role": "assistant", "content": "Play it "}),
                None,
                None,
            ),
            chunk(m, json!({"content": "at 70 bpm."}), None, None),
            chunk(m, json!({}), Some("stop"), None),
            chunk(m, Value::Null, None, Some(usage(40, 10, 16, 2))),
        ]),
    ]);
    let agent = coach(&fake);
    let (text, d) = deliver(async move {
        let mut stream = agent.prompt("One tip?").max_turns(3).stream();
        let mut text = String::new();
        while let Some(item) = stream.next().await {
            if let MultiTurnStreamItem::FinalResponse(r) = item.expect("stream item") {
                text = r.output().to_owned();
            }
        }
        text
    });
    assert_eq!(text, "Play it at 70 bpm.");
    let chats = d.spans_named("chat gpt-4o-mini");
    assert_eq!(chats.len(), 2, "{:?}", d.names());
    assert_eq!(chats[0]["metadata"]["gen_ai.request.stream"], true);
    assert_eq!(chats[0]["usage"]["total_tokens"], 30);
    assert_eq!(
        chats[0]["usage"]["original_usage.prompt_tokens_details.cached_tokens"],
        8
    );
    assert_eq!(chats[1]["usage"]["total_tokens"], 50);
    assert_eq!(
        chats[1]["output"]["choices"][0]["message"]["content"],
        "Play it at 70 bpm."
    );
    let agent_span = d.span("invoke_agent coach");
    assert_eq!(agent_span["type"], "general");
    assert!(agent_span.get("usage").is_none());
    assert_eq!(
        d.llm_total_tokens(),
        80,
        "each turn once, the agent not again"
    );
    let tool = d.span("execute_tool metronome");
    assert_eq!(tool["output"]["bpm"], 70);
    for span in chats.iter().chain([&tool]) {
        assert_eq!(d.parent(span).unwrap()["id"], agent_span["id"]);
    }
}

#[opik::track(name = "ask")]
async fn ask(
    model: rig_core::driver::Model<rig_core::providers::openai::wire::Chat>,
) -> Result<String, String> {
    use rig_core::completion::CompletionRequest;
    model
        .call(CompletionRequest::new("One tip?"))
        .await
        .map(|r| r.text().to_owned())
        .map_err(|e| e.to_string())
}

#[test]
fn a_failed_model_call_is_an_llm_span_with_an_error() {
    init_layer();
    let fake = FakeOpenAi::start([Answer::Json(
        429,
        json!({"error": {"message": "rate limited, slow down", "type": "rate_limit_error",
                         "param": null, "code": "rate_limit_exceeded"}}),
    )]);
    let model = openai(&fake).chat("gpt-4o-mini");
    let (result, d) = deliver(ask(model));
    let message = result.unwrap_err();
    let chat = d.span("chat gpt-4o-mini");
    assert_eq!(chat["type"], "llm");
    assert_eq!(
        chat["model"], "gpt-4o-mini",
        "no answer: the requested model"
    );
    assert!(chat.get("usage").is_none());
    // rig records no error on its spans; a model call that got no response is marked so.
    assert_eq!(
        chat["error_info"]["exception_type"], "no_response",
        "{chat}"
    );
    // The caller's tracked span has the error itself.
    let ask = d.span("ask");
    assert_eq!(ask["error_info"]["message"], message);
    assert_eq!(d.parent(chat).unwrap()["id"], ask["id"]);
}

#[test]
fn an_embedding_is_an_llm_span_with_its_usage() {
    init_layer();
    let fake = FakeOpenAi::start([Answer::Json(
        200,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
               "usage": {"prompt_tokens": 7, "total_tokens": 7}}),
    )]);
    let model = openai(&fake).embedding("text-embedding-3-small", None);
    let (embedding, d) = deliver(async move { model.embed_text("A minor pentatonic").await });
    assert_eq!(embedding.unwrap().vec.len(), 3);
    let span = d.span("embeddings text-embedding-3-small");
    assert_eq!(span["type"], "llm");
    assert_eq!(span["provider"], "openai");
    assert_eq!(span["model"], "text-embedding-3-small");
    assert_eq!(span["usage"]["prompt_tokens"], 7);
    assert_eq!(span["usage"]["total_tokens"], 7);
    assert!(span.get("error_info").is_none(), "{span}");
    assert!(
        d.traces.len() == 1,
        "a GenAI span outside a tracked call starts a trace"
    );
}
