//! LLM-judge metrics over any OpenAI-compatible chat endpoint: [`Judge`] (the model, where it
//! is, its key) and [`Judged`] (a judge prompt of `metric::judge` asked of it, as a
//! [`Metric`]).
//!
//! The call is one `POST {base_url}/chat/completions` with reqwest, which the SDK already
//! builds for its exporter, rather than async-openai: a judge needs one non-streamed
//! completion with a JSON `response_format`, which the prompts give as JSON already, so a
//! typed client would add a dependency tree and a conversion for nothing.

use super::args::MetricArgs;
use super::metric::{
    AnswerRelevance, GEval, Hallucination, JudgeMessage, MetricError, MetricErrorKind, Moderation,
    ScoreResult,
};
use super::scoring::{BoxFuture, Metric, MetricResult};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The model judges ask unless told otherwise.
pub const DEFAULT_JUDGE_MODEL: &str = "gpt-4o-mini";
/// Where judges ask unless `OPENAI_BASE_URL` or [`Judge::base_url`] says otherwise.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// A judge model behind an OpenAI-compatible chat API (OpenAI, Azure's compatible endpoint,
/// vLLM, Ollama, LiteLLM's proxy...). Cheap to clone: clones share one HTTP client.
///
/// ```
/// use opik::evaluation::{metrics::AnswerRelevance, Judge, Metric};
/// let judge = Judge::from_env().model("gpt-4o-mini");
/// let relevance = judge.metric(AnswerRelevance::new().require_context(false));
/// assert_eq!(relevance.name(), "answer_relevance_metric");
/// ```
#[derive(Clone)]
pub struct Judge {
    settings: Arc<Settings>,
    http: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

#[derive(Clone)]
struct Settings {
    model: String,
    base_url: String,
    api_key: Option<String>,
    temperature: Option<f64>,
    structured_output: bool,
    timeout: Duration,
    max_retries: u32,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge")
            .field("model", &self.settings.model)
            .field("base_url", &self.settings.base_url)
            .field(
                "api_key",
                &self.settings.api_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl Judge {
    /// A judge asking `model` at OpenAI, with no key (set one with [`api_key`](Self::api_key)).
    pub fn new(model: impl Into<String>) -> Judge {
        Judge {
            settings: Arc::new(Settings {
                model: model.into(),
                base_url: OPENAI_BASE_URL.to_owned(),
                api_key: None,
                temperature: Some(0.0),
                structured_output: true,
                timeout: Duration::from_secs(60),
                max_retries: 2,
            }),
            http: Arc::default(),
        }
    }

    /// [`DEFAULT_JUDGE_MODEL`] with the key in `OPENAI_API_KEY` at `OPENAI_BASE_URL` (else
    /// OpenAI), as async-openai and the Python SDK read them.
    pub fn from_env() -> Judge {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut judge = Judge::new(DEFAULT_JUDGE_MODEL);
        if let Some(url) = var("OPENAI_BASE_URL") {
            judge = judge.base_url(url);
        }
        if let Some(key) = var("OPENAI_API_KEY") {
            judge = judge.api_key(key);
        }
        judge
    }

    fn with(mut self, f: impl FnOnce(&mut Settings)) -> Judge {
        f(Arc::make_mut(&mut self.settings));
        self.http = Arc::default();
        self
    }

    /// The model to ask.
    pub fn model(self, model: impl Into<String>) -> Judge {
        let model = model.into();
        self.with(|s| s.model = model)
    }

    /// The API base, up to `/chat/completions` (e.g. `http://localhost:11434/v1`).
    pub fn base_url(self, url: impl Into<String>) -> Judge {
        let url = url.into().trim_end_matches('/').to_owned();
        self.with(|s| s.base_url = url)
    }

    /// The key, sent as `Authorization: Bearer <key>`.
    pub fn api_key(self, key: impl Into<String>) -> Judge {
        let key = key.into();
        self.with(|s| s.api_key = Some(key))
    }

    /// The sampling temperature (default 0, for verdicts that repeat); `None` sends none, for
    /// models that accept only their default.
    pub fn temperature(self, temperature: Option<f64>) -> Judge {
        self.with(|s| s.temperature = temperature)
    }

    /// Whether to send each metric's strict JSON schema as `response_format` (default true).
    /// Turn it off for servers without structured output; the answer is parsed as strictly.
    pub fn structured_output(self, on: bool) -> Judge {
        self.with(|s| s.structured_output = on)
    }

    /// How long one call may take (default 60 s).
    pub fn timeout(self, timeout: Duration) -> Judge {
        self.with(|s| s.timeout = timeout)
    }

    /// How many times a call that met a 429, a 5xx or a network error is tried again
    /// (default 2).
    pub fn max_retries(self, retries: u32) -> Judge {
        self.with(|s| s.max_retries = retries)
    }

    /// The model's name.
    pub fn model_name(&self) -> &str {
        &self.settings.model
    }

    /// `metric`'s prompt asked of this judge: a [`Metric`] for `evaluate`.
    pub fn metric<M: JudgePrompt + Clone>(&self, metric: M) -> Judged<M> {
        Judged {
            judge: self.clone(),
            metric,
            prepared: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    fn http(&self) -> Result<&reqwest::Client, String> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(self.settings.timeout)
                    .connect_timeout(Duration::from_secs(10))
                    .user_agent(concat!("opik-rs/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("could not build the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Asks the model; the answer's text. Every failure is a `JudgeUnavailable` error of
    /// `metric` naming the endpoint, the status and the server's message.
    pub async fn complete(
        &self,
        metric: &str,
        messages: &[JudgeMessage],
        response_format: Option<Value>,
    ) -> Result<String, MetricError> {
        let s = &self.settings;
        let unavailable =
            |m: String| MetricError::new(metric, MetricErrorKind::JudgeUnavailable, m);
        let http = self.http().map_err(unavailable)?;
        let url = format!("{}/chat/completions", s.base_url);
        let mut body = json!({"model": s.model, "messages": messages});
        if let Some(t) = s.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(format) = response_format.filter(|_| s.structured_output) {
            body["response_format"] = format;
        }
        let body = serde_json::to_vec(&body).map_err(|e| unavailable(e.to_string()))?;
        let mut attempt = 0;
        let answer: Value = loop {
            let mut request = http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(key) = &s.api_key {
                request = request.bearer_auth(key);
            }
            let retry = attempt < s.max_retries;
            attempt += 1;
            let wait = Duration::from_millis(250 << attempt.min(6));
            match request.send().await {
                Err(e) if retry => {
                    tracing::debug!(target: "opik", "opik: judge {url}: {e}; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    return Err(unavailable(format!(
                        "the judge at {url} did not answer: {e}"
                    )))
                }
                Ok(r) if retry && matches!(r.status().as_u16(), 429 | 500 | 502 | 503 | 504) => {
                    tokio::time::sleep(wait).await;
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    if !status.is_success() {
                        return Err(unavailable(format!(
                            "the judge at {url} answered HTTP {}: {}",
                            status.as_u16(),
                            short(&text)
                        )));
                    }
                    break serde_json::from_str(&text).map_err(|e| {
                        unavailable(format!(
                            "the judge at {url} answered with no chat completion ({e}): {}",
                            short(&text)
                        ))
                    })?;
                }
            }
        };
        record_usage(&s.model, &answer);
        let message = &answer["choices"][0]["message"];
        match message["content"].as_str() {
            Some(text) => Ok(text.to_owned()),
            None => Err(MetricError::new(
                metric,
                MetricErrorKind::MalformedAnswer,
                match message["refusal"].as_str() {
                    Some(refusal) => format!("the judge refused to answer: {}", short(refusal)),
                    None => format!(
                        "the judge's completion has no text: {}",
                        short(&answer.to_string())
                    ),
                },
            )),
        }
    }
}

/// The model and token usage of a judge call, on the metric's span.
fn record_usage(model: &str, answer: &Value) {
    let usage = &answer["usage"];
    let (Some(prompt), Some(completion)) = (
        usage["prompt_tokens"].as_i64(),
        usage["completion_tokens"].as_i64(),
    ) else {
        return;
    };
    crate::api::update_current_span(|s| {
        s.model(answer["model"].as_str().unwrap_or(model))
            .usage(crate::model::Usage::new(prompt, completion));
    });
}

fn short(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A judge prompt: the messages for one item's arguments, how its answer is read, and the
/// JSON schema of that answer. The four of `opik::evaluation::metrics` implement it; so can
/// your own.
pub trait JudgePrompt: Send + Sync + 'static {
    /// The metric's name.
    fn name(&self) -> &str;
    /// The judge's messages for one item.
    fn messages(&self, args: &MetricArgs) -> Result<Vec<JudgeMessage>, MetricError>;
    /// The judge's answer as a score.
    fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError>;
    /// The answer's schema, sent as `response_format`.
    fn response_format(&self) -> Value;
    /// Messages to ask once, before the first item (G-Eval's evaluation steps); `None` for
    /// none.
    fn preparation(&self) -> Option<Vec<JudgeMessage>> {
        None
    }
    /// The prompt once [`preparation`](Self::preparation) was answered.
    fn prepared(&self, _answer: String) -> Self
    where
        Self: Sized + Clone,
    {
        self.clone()
    }
}

/// A text argument; a non-string value (an item's input object) as its JSON.
fn text_or_json(args: &MetricArgs, name: &str) -> Result<String, MetricError> {
    let value = args.require(name)?;
    Ok(value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned))
}

impl JudgePrompt for Hallucination {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `input`, `output`, and `context` if given (a string or a list).
    fn messages(&self, args: &MetricArgs) -> Result<Vec<JudgeMessage>, MetricError> {
        let context = args.opt_texts("context")?;
        Ok(Hallucination::messages(
            self,
            &text_or_json(args, "input")?,
            &text_or_json(args, "output")?,
            context.as_deref(),
        ))
    }
    fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        Hallucination::parse(self, answer)
    }
    fn response_format(&self) -> Value {
        Hallucination::response_format(self)
    }
}

impl JudgePrompt for AnswerRelevance {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `input`, `output`, and `context` (required unless `require_context(false)`).
    fn messages(&self, args: &MetricArgs) -> Result<Vec<JudgeMessage>, MetricError> {
        let context = args.opt_texts("context")?.unwrap_or_default();
        AnswerRelevance::messages(
            self,
            &text_or_json(args, "input")?,
            &text_or_json(args, "output")?,
            &context,
        )
    }
    fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        AnswerRelevance::parse(self, answer)
    }
    fn response_format(&self) -> Value {
        AnswerRelevance::response_format(self)
    }
}

impl JudgePrompt for GEval {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `output`.
    fn messages(&self, args: &MetricArgs) -> Result<Vec<JudgeMessage>, MetricError> {
        Ok(GEval::messages(self, &text_or_json(args, "output")?))
    }
    fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        GEval::parse(self, answer)
    }
    fn response_format(&self) -> Value {
        GEval::response_format(self)
    }
    fn preparation(&self) -> Option<Vec<JudgeMessage>> {
        Some(self.chain_of_thought_messages())
    }
    fn prepared(&self, answer: String) -> Self {
        self.clone().chain_of_thought(answer)
    }
}

impl JudgePrompt for Moderation {
    fn name(&self) -> &str {
        self.metric_name()
    }
    /// `output`.
    fn messages(&self, args: &MetricArgs) -> Result<Vec<JudgeMessage>, MetricError> {
        Ok(Moderation::messages(self, &text_or_json(args, "output")?))
    }
    fn parse(&self, answer: &str) -> Result<ScoreResult, MetricError> {
        Moderation::parse(self, answer)
    }
    fn response_format(&self) -> Value {
        Moderation::response_format(self)
    }
}

/// A judge prompt asked of a [`Judge`]; made by [`Judge::metric`]. A malformed answer (not
/// the JSON asked for, a score out of range) is the item's metric error, never a panic.
pub struct Judged<M> {
    judge: Judge,
    metric: M,
    /// The prompt after its one-time preparation (G-Eval's steps), made by the first item.
    prepared: Arc<tokio::sync::OnceCell<Result<M, MetricError>>>,
}

impl<M: Clone> Clone for Judged<M> {
    fn clone(&self) -> Self {
        Judged {
            judge: self.judge.clone(),
            metric: self.metric.clone(),
            prepared: Arc::clone(&self.prepared),
        }
    }
}

impl<M: JudgePrompt> std::fmt::Debug for Judged<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judged")
            .field("metric", &self.metric.name())
            .field("judge", &self.judge)
            .finish()
    }
}

impl<M: JudgePrompt + Clone> Judged<M> {
    async fn prompt(&self) -> Result<&M, MetricError> {
        let Some(steps) = self.metric.preparation() else {
            return Ok(&self.metric);
        };
        let prepared = self
            .prepared
            .get_or_init(|| async {
                let answer = self
                    .judge
                    .complete(self.metric.name(), &steps, None)
                    .await?;
                Ok(self.metric.prepared(answer))
            })
            .await;
        prepared.as_ref().map_err(Clone::clone)
    }
}

impl<M: JudgePrompt + Clone> Metric for Judged<M> {
    fn name(&self) -> &str {
        self.metric.name()
    }

    fn score<'a>(&'a self, args: &'a MetricArgs) -> BoxFuture<'a, MetricResult> {
        Box::pin(async move {
            let prompt = self.prompt().await?;
            let messages = prompt.messages(args)?;
            let answer = self
                .judge
                .complete(prompt.name(), &messages, Some(prompt.response_format()))
                .await?;
            Ok(vec![prompt.parse(&answer)?])
        })
    }
}
