//! Issue 16, the prompt library: create twice makes one version, a change makes a new one,
//! get latest and by commit, formatting (mustache, jinja2, a missing variable named), the
//! cache (1,000 gets, one request; the cached version served while Opik is down), the version
//! attached to a span, an experiment linked to it; every body spec-valid.

mod common;

use fake_opik::{FakeOpik, Reply};
use opik::evaluation::{metric_fn, EvaluateOptions, Metric, ScoreResult};
use opik::prompts::{
    ChatMessage, MessageContent, Prompt, PromptError, PromptOptions, RenderedContent,
    TemplateError, TemplateType,
};
use opik::Opik;
use serde_json::{json, Value};
use std::time::Duration;

const RETRIEVE: &str = "POST /prompts/versions/retrieve";
const CREATE: &str = "POST /prompts/versions";

fn opik_for(server: &FakeOpik) -> Opik {
    Opik::new(common::client_for(server))
}

/// A client whose prompt cache keeps a version fresh for `ttl`.
fn opik_with_ttl(server: &FakeOpik, ttl: Duration) -> Opik {
    let config = common::config_for(server)
        .prompt_cache_ttl(ttl)
        .max_retries(0)
        .resolve()
        .unwrap()
        .into_config()
        .unwrap();
    Opik::new(opik::export::Client::new(&config).unwrap())
}

#[tokio::test]
async fn creating_twice_keeps_one_version_and_a_change_makes_a_new_one() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let first = opik
        .create_prompt(
            "planner-system",
            "Plan {{minutes}} minutes.",
            PromptOptions::new(),
        )
        .await
        .unwrap();
    let again = opik
        .create_prompt(
            "planner-system",
            "Plan {{minutes}} minutes.",
            PromptOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(server.prompt_versions("planner-system").len(), 1);
    assert_eq!(first.version().commit(), again.version().commit());
    assert!(first.version().commit().is_some_and(|c| c.len() == 8));
    // The second create asked for the latest version and posted nothing.
    assert_eq!(server.request_count(CREATE), 1);
    assert_eq!(server.request_count(RETRIEVE), 2);

    let changed = opik
        .create_prompt(
            "planner-system",
            "Plan {{minutes}} minutes, slowly.",
            PromptOptions::new(),
        )
        .await
        .unwrap();
    assert_ne!(changed.version().commit(), first.version().commit());
    // Metadata is part of a version too; the same metadata again adds nothing.
    let options = || PromptOptions::new().metadata(&json!({"model": "gpt-4o-mini"}));
    let with_meta = opik
        .create_prompt(
            "planner-system",
            "Plan {{minutes}} minutes, slowly.",
            options(),
        )
        .await
        .unwrap();
    opik.create_prompt(
        "planner-system",
        "Plan {{minutes}} minutes, slowly.",
        options(),
    )
    .await
    .unwrap();
    let versions = server.prompt_versions("planner-system");
    assert_eq!(versions.len(), 3, "{versions:?}");
    assert_eq!(
        with_meta.version().metadata(),
        Some(&json!({"model": "gpt-4o-mini"}))
    );

    let history = opik.get_prompt_history("planner-system").await.unwrap();
    let commits: Vec<_> = history
        .iter()
        .map(|v| v.commit().unwrap().to_owned())
        .collect();
    let stored: Vec<_> = versions.iter().rev().map(|(c, _)| c.clone()).collect();
    assert_eq!(commits, stored, "newest first");
    server.assert_valid();
}

#[tokio::test]
async fn get_answers_the_latest_version_or_a_commit_and_none_for_an_unknown_prompt() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let v1 = opik
        .create_prompt("greet", "Hello {{name}}", PromptOptions::new())
        .await
        .unwrap();
    let v2 = opik
        .create_prompt("greet", "Hi {{name}}!", PromptOptions::new())
        .await
        .unwrap();
    let latest = opik.get_prompt("greet").await.unwrap().unwrap();
    assert_eq!(latest.template(), "Hi {{name}}!");
    assert_eq!(latest.version().commit(), v2.version().commit());
    let old = opik
        .get_prompt_by_commit("greet", v1.version().commit().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.format(&json!({"name": "Ana"})).unwrap(), "Hello Ana");
    assert_eq!(old.version().version_number(), Some("v1"));
    assert!(opik.get_prompt("nobody").await.unwrap().is_none());
    assert!(opik
        .get_prompt_by_commit("greet", "00000000")
        .await
        .unwrap()
        .is_none());
    // A chat prompt of that name is a clear error, not a garbled text prompt.
    let err = opik.get_chat_prompt("greet").await.unwrap_err();
    assert!(
        matches!(err, PromptError::StructureMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("is a text prompt"), "{err}");
    server.assert_valid();
}

#[tokio::test]
async fn prompts_format_as_mustache_or_jinja2_and_name_a_missing_variable() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    let mustache = opik
        .create_prompt(
            "coach",
            "Scale {{scale}} at {{ bpm }} bpm: {{metrics}}",
            PromptOptions::new(),
        )
        .await
        .unwrap();
    let text = mustache
        .format(&json!({"scale": "A minor", "bpm": 80, "metrics": {"accuracy": 0.9, "ok": true}}))
        .unwrap();
    // Non-strings print as Python prints them, so both SDKs send the same prompt.
    assert_eq!(
        text,
        "Scale A minor at 80 bpm: {'accuracy': 0.9, 'ok': True}"
    );
    let err = mustache.format(&json!({"scale": "A minor"})).unwrap_err();
    assert!(
        matches!(&err, TemplateError::MissingVariables { missing, .. } if missing == &["bpm", "metrics"])
    );
    assert!(
        err.to_string()
            .starts_with("missing template variables `bpm`, `metrics`"),
        "{err}"
    );

    let jinja = opik
        .create_prompt(
            "summary",
            "{% for w in windows %}{{ w.tempo }}{% if not loop.last %}, {% endif %}{% endfor %} for {{ player | upper }}",
            PromptOptions::new().template_type(TemplateType::Jinja2),
        )
        .await
        .unwrap();
    let fetched = opik.get_prompt("summary").await.unwrap().unwrap();
    assert_eq!(fetched.version().template_type(), TemplateType::Jinja2);
    let text = fetched
        .format(&json!({"windows": [{"tempo": 80}, {"tempo": 84}], "player": "ana"}))
        .unwrap();
    assert_eq!(text, "80, 84 for ANA");
    let err = jinja.format(&json!({"windows": []})).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing template variable `player`"),
        "{err}"
    );
    // A jinja2 template that does not parse never reaches the library.
    let bad = opik
        .create_prompt(
            "broken",
            "{% if %}",
            PromptOptions::new().template_type(TemplateType::Jinja2),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(bad, PromptError::Template(TemplateError::Syntax { .. })),
        "{bad}"
    );
    assert!(server.prompt_versions("broken").is_empty());

    let chat = opik
        .create_chat_prompt(
            "planner-chat",
            vec![
                ChatMessage {
                    role: "system".into(),
                    content: MessageContent::Text("You plan {{minutes}} minutes.".into()),
                },
                ChatMessage {
                    role: "user".into(),
                    content: MessageContent::Text("{{question}}".into()),
                },
            ],
            PromptOptions::new(),
        )
        .await
        .unwrap();
    let same = opik.get_chat_prompt("planner-chat").await.unwrap().unwrap();
    assert_eq!(same.version().commit(), chat.version().commit());
    let messages = same
        .format(&json!({"minutes": 20, "question": "Scales?"}))
        .unwrap();
    assert_eq!(
        messages[0].content,
        RenderedContent::Text("You plan 20 minutes.".into())
    );
    assert_eq!(messages[1].role, "user");
    let err = same.format(&json!({"minutes": 20})).unwrap_err();
    assert!(
        err.to_string()
            .contains("`question` (in messages[1].content)"),
        "{err}"
    );
    server.assert_valid();
}

#[tokio::test]
async fn a_thousand_gets_within_the_ttl_make_one_request() {
    let server = FakeOpik::start();
    let opik = opik_for(&server);
    opik.create_prompt("hot", "Hello {{name}}", PromptOptions::new())
        .await
        .unwrap();
    let before = server.request_count(RETRIEVE);
    // A fresh client: its cache is empty.
    let other = opik_for(&server);
    for _ in 0..1000 {
        let p = other.get_prompt("hot").await.unwrap().unwrap();
        assert_eq!(p.template(), "Hello {{name}}");
    }
    assert_eq!(server.request_count(RETRIEVE) - before, 1);
    // Concurrent first gets of a prompt not cached yet make one request too.
    opik.create_prompt("hot2", "x {{y}}", PromptOptions::new())
        .await
        .unwrap();
    let before = server.request_count(RETRIEVE);
    let gets = (0..50).map(|_| other.get_prompt("hot2"));
    for got in futures_util::future::join_all(gets).await {
        assert!(got.unwrap().is_some());
    }
    assert_eq!(server.request_count(RETRIEVE) - before, 1);
    server.assert_valid();
}

#[tokio::test]
async fn a_stale_prompt_is_served_while_opik_is_down_and_refreshed_when_it_is_back() {
    let server = FakeOpik::start();
    let ttl = Duration::from_millis(200);
    let writer = opik_with_ttl(&server, ttl);
    writer
        .create_prompt("coach", "v1 {{x}}", PromptOptions::new())
        .await
        .unwrap();
    let reader = opik_with_ttl(&server, ttl);
    assert_eq!(
        reader
            .get_prompt("coach")
            .await
            .unwrap()
            .unwrap()
            .template(),
        "v1 {{x}}"
    );
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    // Opik goes down for the next two requests: the reader's background refresh, and the
    // first get of a prompt it never had.
    server.script(RETRIEVE, [Reply::status(503), Reply::status(503)]);
    let before = server.request_count(RETRIEVE);
    for _ in 0..100 {
        let p = reader.get_prompt("coach").await.unwrap().unwrap();
        assert_eq!(p.template(), "v1 {{x}}", "the stale version, at once");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // One background refresh was tried (no retries: max_retries 0), not one per get.
    assert_eq!(server.request_count(RETRIEVE) - before, 1);
    assert_eq!(
        reader
            .get_prompt("coach")
            .await
            .unwrap()
            .unwrap()
            .template(),
        "v1 {{x}}"
    );
    // A prompt it never had is an error, not a made-up answer.
    let err = reader.get_prompt("never-fetched").await.unwrap_err();
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(server.scripted_left(RETRIEVE), 0);

    // Opik is back, with a new version: once the retry wait is over, a get answers the
    // stale version one last time and refreshes it; the next get has the new one.
    writer
        .create_prompt("coach", "v2 {{x}}", PromptOptions::new())
        .await
        .unwrap();
    tokio::time::sleep(ttl).await;
    let _ = reader.get_prompt("coach").await.unwrap();
    let mut template = String::new();
    for _ in 0..100 {
        template = reader
            .get_prompt("coach")
            .await
            .unwrap()
            .unwrap()
            .template()
            .to_owned();
        if template.starts_with("v2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(template, "v2 {{x}}");
    server.assert_valid();
}

#[tokio::test]
async fn the_version_used_is_attached_to_the_span_and_the_experiment() {
    let server = FakeOpik::start();
    let client = common::client_for(&server);
    let opik = Opik::new(client.clone());
    let prompt = opik
        .create_prompt(
            "planner-system",
            "Plan {{minutes}} minutes.",
            PromptOptions::new(),
        )
        .await
        .unwrap();

    #[opik::track(name = "planner-llm", type = "llm")]
    async fn planner(prompt: &Prompt) -> String {
        opik::prompts::attach_to_current_span(prompt);
        opik::prompts::attach_to_current_span(prompt); // once in the list
        prompt.format(&json!({"minutes": 20})).unwrap()
    }
    let answer = client.scope(planner(&prompt)).await;
    assert_eq!(answer, "Plan 20 minutes.");
    assert!(client.flush_async(Duration::from_secs(5)).await.completed);
    let span = common::span(&server.spans(), "planner-llm").clone();
    let attached = &span["metadata"]["opik_prompts"];
    assert_eq!(attached.as_array().map(Vec::len), Some(1), "{span}");
    let attached = &attached[0];
    assert_eq!(attached["name"], "planner-system");
    assert_eq!(attached["template_structure"], "text");
    assert_eq!(attached["version"]["template"], "Plan {{minutes}} minutes.");
    assert_eq!(
        attached["version"]["commit"],
        json!(prompt.version().commit())
    );
    assert_eq!(
        attached["version"]["id"],
        json!(prompt.version().version_id())
    );
    assert_eq!(attached["id"], json!(prompt.version().prompt_id()));

    // An experiment of a task that uses it is linked to the version.
    let dataset = opik.dataset("minutes").await.unwrap();
    dataset
        .insert(vec![json!({"input": {"minutes": 20}})])
        .await
        .unwrap();
    let metrics: Vec<Box<dyn Metric>> = vec![Box::new(metric_fn("one", |_| {
        Ok(ScoreResult::new("one", 1.0))
    }))];
    let task_prompt = prompt.clone();
    opik::evaluate(
        &dataset,
        move |item: Value| {
            let text = task_prompt.format(&item["input"]).unwrap_or_default();
            async move { Ok::<_, std::io::Error>(json!({ "output": text })) }
        },
        metrics,
        EvaluateOptions::new()
            .experiment_name("planner-v1")
            .prompts([&prompt])
            .client(opik.clone())
            .progress(false),
    )
    .await
    .unwrap();
    let experiment = server.experiment("planner-v1").expect("the experiment");
    let links = experiment["prompt_versions"].as_array().expect("linked");
    assert_eq!(
        links[0]["prompt_version_id"],
        json!(prompt.version().version_id())
    );
    assert_eq!(links[0]["commit"], json!(prompt.version().commit()));
    assert_eq!(
        experiment["metadata"]["prompts"]["planner-system"],
        "Plan {{minutes}} minutes."
    );
    server.assert_valid();
}

#[tokio::test]
async fn without_a_server_the_library_says_so_and_prompts_made_in_code_still_work() {
    let opik = Opik::disabled();
    let err = opik.get_prompt("x").await.unwrap_err();
    assert!(matches!(err, PromptError::NoServer { .. }), "{err}");
    assert!(err.to_string().contains("Prompt::new"), "{err}");
    let local = Prompt::new("x", "{{a}}-{{b}}");
    assert_eq!(local.format(&json!({"a": 1, "b": "two"})).unwrap(), "1-two");
    assert!(local.version().commit().is_none());
}
