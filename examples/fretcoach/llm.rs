//! The language model and text-to-speech engine the coach talks to.
//!
//! By default both are an **offline stand-in**: deterministic answers picked from the prompt,
//! token counts estimated from the text (about 4 characters a token, as OpenAI's tokenizers
//! average on English), and latencies like the real services' (scaled by [`Speed`]). Nothing
//! leaves the machine and no key is needed. With `OPENAI_API_KEY` set, chat completions go to
//! OpenAI (or the OpenAI-compatible server at `OPENAI_BASE_URL`) instead, through `async-openai`
//! wrapped by `opik::integrations::openai::track_openai`, so each completion is also recorded as
//! its own `chat_completion_create` span.
//!
//! The coach's feedback is streamed ([`Llm::chat_stream`]): the offline stand-in yields its
//! answer a word at a time after a first-token latency, as gpt-4o-mini streams tokens.

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs,
};
use futures_util::Stream;
use opik::integrations::openai::{track_openai, OpikOpenAi};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The model every call asks for, as FretCoach's design uses.
pub const MODEL: &str = "gpt-4o-mini";
/// Who serves [`MODEL`].
pub const PROVIDER: &str = "openai";

/// How fast simulated time runs: real duration = simulated duration × factor.
#[derive(Clone, Copy, Debug)]
pub struct Speed(pub f64);

impl Speed {
    /// No waiting at all (the tests run the scenario this way).
    #[allow(dead_code)]
    pub const INSTANT: Speed = Speed(0.0);

    /// Waits for `simulated` time, compressed.
    pub async fn sleep(self, simulated: Duration) {
        let real = simulated.mul_f64(self.0);
        if !real.is_zero() {
            tokio::time::sleep(real).await;
        }
    }

    /// `simulated`, compressed.
    pub fn real(self, simulated: Duration) -> Duration {
        simulated.mul_f64(self.0)
    }
}

/// One chat message.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: "system",
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: "user",
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: "assistant",
            content: content.into(),
        }
    }
}

/// A model's answer with its token counts.
#[derive(Clone, Debug)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Whether the OpenAI integration already recorded this call as an `llm` span with its
    /// usage (then the caller does not record the usage again, which would count it twice).
    pub recorded: bool,
}

/// Why a completion failed.
#[derive(Debug)]
pub enum LlmError {
    /// No answer within the time budget.
    Timeout { after: Duration },
    /// The server answered with an error, or not at all.
    Http(String),
}

impl fmt::Display for LlmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LlmError::Timeout { after } => {
                write!(f, "{MODEL} did not answer within {:.0?}", after)
            }
            LlmError::Http(e) => write!(f, "{MODEL} request failed: {e}"),
        }
    }
}

impl std::error::Error for LlmError {}

enum Backend {
    Offline,
    OpenAi {
        client: Box<OpikOpenAi<OpenAIConfig>>,
        base_url: String,
    },
}

/// The chat model. In a span's input it shows which backend answered.
pub struct Llm {
    backend: Backend,
    speed: Speed,
    calls: AtomicUsize,
    /// The call (0-based) that hangs, to show how a timeout is recorded.
    stall_on_call: Option<usize>,
}

impl Serialize for Llm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        match &self.backend {
            Backend::Offline => m.serialize_entry("backend", "offline stand-in (deterministic)")?,
            Backend::OpenAi { base_url, .. } => {
                m.serialize_entry("backend", "openai-compatible")?;
                m.serialize_entry("base_url", base_url)?;
            }
        }
        m.serialize_entry("model", MODEL)?;
        m.end()
    }
}

impl Llm {
    /// The offline stand-in; call number `stall_on_call` never answers.
    pub fn offline(speed: Speed, stall_on_call: Option<usize>) -> Self {
        Llm {
            backend: Backend::Offline,
            speed,
            calls: AtomicUsize::new(0),
            stall_on_call,
        }
    }

    /// OpenAI when `OPENAI_API_KEY` is set (at `OPENAI_BASE_URL` if set), else the stand-in.
    pub fn from_env(speed: Speed, stall_on_call: Option<usize>) -> Self {
        let key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty());
        let Some(key) = key else {
            return Self::offline(speed, stall_on_call);
        };
        let base_url = std::env::var("OPENAI_BASE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "https://api.openai.com/v1".to_owned());
        // async-openai's HTTPS needs a TLS crypto provider; ring is already in the build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base_url = base_url.trim_end_matches('/').to_owned();
        let config = OpenAIConfig::new()
            .with_api_key(key)
            .with_api_base(&base_url);
        Llm {
            backend: Backend::OpenAi {
                client: Box::new(track_openai(async_openai::Client::with_config(config))),
                base_url,
            },
            // A real model takes real time: nothing to simulate, and no scripted stall.
            speed: Speed(1.0),
            calls: AtomicUsize::new(0),
            stall_on_call: None,
        }
    }

    /// Whether answers come from the offline stand-in.
    pub fn is_offline(&self) -> bool {
        matches!(self.backend, Backend::Offline)
    }

    /// A chat completion, given up after `budget` of simulated time.
    pub async fn chat(
        &self,
        messages: &[Message],
        budget: Duration,
    ) -> Result<Completion, LlmError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = async {
            match &self.backend {
                Backend::Offline if self.stall_on_call == Some(call) => {
                    std::future::pending::<Result<Completion, LlmError>>().await
                }
                Backend::Offline => Ok(self.offline_answer(messages).await),
                Backend::OpenAi { client, .. } => openai_chat(client, messages).await,
            }
        };
        match tokio::time::timeout(self.speed.real(budget), answer).await {
            Ok(result) => result,
            Err(_) => Err(LlmError::Timeout { after: budget }),
        }
    }

    /// A chat completion streamed as text pieces, its first piece given up after `budget` of
    /// simulated time (then the stream yields the timeout and ends). `record` is called with
    /// no completion when the call starts and with it once the stream ends, while the stream
    /// is being polled: a tracked stream's span is current then, so that is where its model
    /// and usage are set.
    pub fn chat_stream<'a>(
        &'a self,
        messages: Vec<Message>,
        budget: Duration,
        record: fn(Option<&Completion>),
    ) -> impl Stream<Item = Result<String, LlmError>> + 'a {
        enum State {
            Start(Vec<Message>),
            Words(VecDeque<String>, Completion),
            Done,
        }
        futures_util::stream::unfold(State::Start(messages), move |state| async move {
            match state {
                State::Start(messages) => {
                    record(None);
                    let call = self.calls.fetch_add(1, Ordering::Relaxed);
                    let first = async {
                        match &self.backend {
                            Backend::Offline if self.stall_on_call == Some(call) => {
                                std::future::pending().await
                            }
                            Backend::Offline => {
                                self.speed.sleep(FIRST_TOKEN).await;
                                Ok(offline_completion(&messages))
                            }
                            Backend::OpenAi { client, .. } => openai_chat(client, &messages).await,
                        }
                    };
                    let completion = match tokio::time::timeout(self.speed.real(budget), first)
                        .await
                    {
                        Ok(Ok(c)) => c,
                        Ok(Err(e)) => return Some((Err(e), State::Done)),
                        Err(_) => {
                            return Some((Err(LlmError::Timeout { after: budget }), State::Done))
                        }
                    };
                    let mut words: VecDeque<String> = if self.is_offline() {
                        completion
                            .text
                            .split_inclusive(' ')
                            .map(str::to_owned)
                            .collect()
                    } else {
                        // The real answer came whole (see `openai_chat`): one piece.
                        VecDeque::from([completion.text.clone()])
                    };
                    let first = words.pop_front().unwrap_or_default();
                    Some((Ok(first), State::Words(words, completion)))
                }
                State::Words(mut words, completion) => match words.pop_front() {
                    Some(word) => {
                        self.speed
                            .sleep(PER_TOKEN * (word.len() as u32).div_ceil(4))
                            .await;
                        Some((Ok(word), State::Words(words, completion)))
                    }
                    None => {
                        record(Some(&completion));
                        None
                    }
                },
                State::Done => None,
            }
        })
    }

    async fn offline_answer(&self, messages: &[Message]) -> Completion {
        let completion = offline_completion(messages);
        // Time to first token plus ~60 tokens a second, as gpt-4o-mini streams.
        let latency = FIRST_TOKEN + PER_TOKEN * completion.completion_tokens as u32;
        self.speed.sleep(latency).await;
        completion
    }
}

/// gpt-4o-mini's time to its first token, and to each one after.
const FIRST_TOKEN: Duration = Duration::from_millis(450);
const PER_TOKEN: Duration = Duration::from_millis(16);

/// The stand-in's answer to `messages`, picked deterministically from the prompt.
fn offline_completion(messages: &[Message]) -> Completion {
    let prompt: String = messages.iter().map(|m| m.content.as_str()).collect();
    let options = if prompt.contains("SUMMARY") {
        SUMMARIES
    } else if prompt.contains("PLANNER") {
        PLANS
    } else {
        TIPS
    };
    // The planner walks through its answers as the conversation goes on; the coach picks
    // by the metrics it was given.
    let pick = if prompt.contains("PLANNER") {
        messages
            .iter()
            .filter(|m| m.role == "user")
            .count()
            .saturating_sub(1)
    } else {
        fnv(&prompt) as usize
    };
    let text = options[pick % options.len()].to_owned();
    let prompt_tokens = messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 4)
        .sum::<i64>();
    let completion_tokens = estimate_tokens(&text);
    Completion {
        text,
        prompt_tokens,
        completion_tokens,
        recorded: false,
    }
}

async fn openai_chat(
    client: &OpikOpenAi<OpenAIConfig>,
    messages: &[Message],
) -> Result<Completion, LlmError> {
    let bad = |e: async_openai::error::OpenAIError| LlmError::Http(e.to_string());
    let messages = messages
        .iter()
        .map(|m| -> Result<ChatCompletionRequestMessage, _> {
            Ok(match m.role {
                "system" => ChatCompletionRequestSystemMessageArgs::default()
                    .content(m.content.as_str())
                    .build()?
                    .into(),
                "assistant" => ChatCompletionRequestAssistantMessageArgs::default()
                    .content(m.content.as_str())
                    .build()?
                    .into(),
                _ => ChatCompletionRequestUserMessageArgs::default()
                    .content(m.content.as_str())
                    .build()?
                    .into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let request = CreateChatCompletionRequestArgs::default()
        .model(MODEL)
        .messages(messages)
        .build()
        .map_err(bad)?;
    let response = client.chat().create(request).await.map_err(bad)?;
    let usage = response.usage.as_ref();
    Ok(Completion {
        text: response
            .choices
            .first()
            .and_then(|c| c.message.content.clone())
            .unwrap_or_default(),
        prompt_tokens: usage.map_or(0, |u| i64::from(u.prompt_tokens)),
        completion_tokens: usage.map_or(0, |u| i64::from(u.completion_tokens)),
        recorded: true,
    })
}

fn estimate_tokens(text: &str) -> i64 {
    (text.chars().count() as i64 + 3) / 4
}

/// FNV-1a: a stable hash, so the same prompt always gets the same answer.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const TIPS: &[&str] = &[
    "Nice and even so far. Your notes are rushing a little on the way down; \
     relax the picking hand and let the metronome pull you back.",
    "Good accuracy. Watch the shift at the 7th fret: slide your index finger \
     instead of jumping, and keep the thumb behind the neck.",
    "You are dragging behind the click on the high strings. Try alternate \
     picking strictly down-up, and breathe out on the downbeat.",
    "Clean run! Push the tempo by five beats per minute on the next pass, and \
     keep the fretting fingers close to the strings.",
];

const SUMMARIES: &[&str] = &[
    "Solid session: accuracy rose steadily and your timing settled once you \
     relaxed the picking hand. Tomorrow: same scale, five bpm faster, and ten \
     minutes on the position shift.",
    "You kept a steady pulse for most of the session. The descending run is \
     still rushed; practise it alone at a slower tempo before joining it up.",
];

const PLANS: &[&str] = &[
    "Here is a 20-minute plan: 5 minutes of chromatic warm-up at 80 bpm, 10 \
     minutes on the scale in two positions, 5 minutes improvising over a drone.",
    "Let us build speed gradually: start at 70 bpm, raise the click by 4 bpm \
     after every two clean passes, and stop when you miss twice in a row.",
    "For Thursday, focus on the position shift: slow slides between shapes, \
     then the full scale ascending and descending with a metronome.",
];
