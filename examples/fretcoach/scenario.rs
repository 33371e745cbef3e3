//! What FretCoach does, instrumented as its design documents show:
//!
//! - a **practice session** trace (thread `session-<id>`, metadata `session_id`, `scale_name`,
//!   `user_id`), with a **live coaching feedback** every 15 s of practice: a streamed LLM answer
//!   (a tracked stream: its span covers the streaming, records the time to the first word,
//!   `ttft`, and the words joined as its output), spoken when complete by a **TTS** span
//!   nested under it that carries the audio as an attachment; and a **session summary** at the
//!   end. One feedback call times
//!   out and is recorded with its error;
//! - the **practice planner** chat in the hub: one trace per message, thread `user-<id>`, and
//!   the user's rating of an answer as a feedback score.

use crate::llm::{Llm, LlmError, Message, Speed, MODEL, PROVIDER};
use crate::tts::{Speech, Tts};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use std::time::Duration;

/// How long the coach waits for a feedback answer before skipping that window (simulated).
const FEEDBACK_BUDGET: Duration = Duration::from_secs(8);
/// Practice time between two coaching feedbacks (simulated).
const FEEDBACK_EVERY: Duration = Duration::from_secs(15);

/// Who practises what, and how fast simulated time runs.
pub struct Scenario {
    pub session_id: String,
    pub user_id: String,
    pub scale_name: String,
    /// Simulated practice length.
    pub practice: Duration,
    pub speed: Speed,
    pub llm: Llm,
    pub tts: Tts,
    /// Whether to print what the app shows its user (the coach's words, the planner's answers).
    pub chatty: bool,
}

impl Scenario {
    /// The run `cargo run --example fretcoach` makes: one minute of practice (four feedback
    /// windows, the third of which times out), then three planner messages.
    pub fn standard(session_id: String, speed: Speed, llm: Llm, tts: Tts) -> Self {
        Scenario {
            session_id,
            user_id: "1842".to_owned(),
            scale_name: "A minor pentatonic".to_owned(),
            practice: Duration::from_secs(60),
            speed,
            llm,
            tts,
            chatty: true,
        }
    }

    /// The LLM call of the standard scenario that stalls (the third feedback).
    pub const STALLED_CALL: usize = 2;

    fn say(&self, who: &str, text: &str) {
        if self.chatty {
            println!("{who:>8}: {text}");
        }
    }
}

/// What the pickup and pitch tracker measured over one feedback window.
#[derive(Clone, Debug, Serialize)]
pub struct PracticeMetrics {
    pub window: u32,
    pub elapsed_s: u64,
    pub tempo_bpm: u32,
    pub notes_played: u32,
    pub accuracy_pct: f64,
    pub timing_offset_ms: f64,
}

/// Deterministic "measurements": the player warms up over the session.
fn measure(window: u32, elapsed: Duration) -> PracticeMetrics {
    let w = f64::from(window);
    PracticeMetrics {
        window,
        elapsed_s: elapsed.as_secs(),
        tempo_bpm: 80,
        notes_played: 38 + window * 3,
        accuracy_pct: (78.0 + 4.5 * w).min(99.0),
        timing_offset_ms: 24.0 - 5.0 * w,
    }
}

/// What a practice session produced.
#[derive(Debug, Serialize)]
pub struct SessionReport {
    pub feedbacks_spoken: usize,
    pub feedbacks_skipped: usize,
    pub summary: Option<String>,
}

/// Runs the whole scenario: a practice session, then the planner chat.
pub async fn run(s: &Scenario) {
    practice_session(s, &s.session_id, &s.user_id, &s.scale_name).await;
    planner_chat(s).await;
}

#[opik::track(
    name = "practice-session",
    tags = ["fretcoach", "practice-session"],
    thread_id = format!("session-{session_id}"),
    metadata = { "session_id": session_id, "scale_name": scale_name, "user_id": user_id },
    skip(s),
)]
async fn practice_session(
    s: &Scenario,
    session_id: &str,
    user_id: &str,
    scale_name: &str,
) -> SessionReport {
    s.say(
        "app",
        &format!("practice session {session_id}: {scale_name}, 80 bpm"),
    );
    let mut report = SessionReport {
        feedbacks_spoken: 0,
        feedbacks_skipped: 0,
        summary: None,
    };
    let mut history = Vec::new();
    let mut elapsed = Duration::ZERO;
    let mut window = 0;
    while elapsed + FEEDBACK_EVERY <= s.practice {
        s.speed.sleep(FEEDBACK_EVERY).await; // the user plays
        elapsed += FEEDBACK_EVERY;
        window += 1;
        let metrics = measure(window, elapsed);
        match coach(s, &metrics).await {
            Ok(tip) => {
                report.feedbacks_spoken += 1;
                history.push(metrics);
                s.say("coach", &tip);
            }
            Err(e) => {
                // The player keeps playing; the coach stays quiet for this window.
                report.feedbacks_skipped += 1;
                s.say("app", &format!("(no feedback this time: {e})"));
            }
        }
    }
    match session_summary(&s.llm, &history).await {
        Ok(summary) => {
            s.say("coach", &summary);
            report.summary = Some(summary);
        }
        Err(e) => s.say("app", &format!("(no summary: {e})")),
    }
    report
}

/// Sets what an LLM span needs for Opik to show the model and compute the cost.
fn record_llm_call(completion: Option<&crate::llm::Completion>) {
    opik::update_current_span(|span| {
        span.model(MODEL).provider(PROVIDER);
        if let Some(c) = completion.filter(|c| !c.recorded) {
            span.usage(opik::Usage::new(c.prompt_tokens, c.completion_tokens));
        }
    });
}

/// One coaching feedback, streamed as the app shows it (a word at a time).
async fn coach(s: &Scenario, metrics: &PracticeMetrics) -> Result<String, LlmError> {
    let stream = live_coach_feedback(&s.llm, &s.tts, &s.scale_name, metrics);
    futures_util::pin_mut!(stream);
    let mut tip = String::new();
    while let Some(piece) = stream.next().await {
        // An error item (the timeout) is recorded on the stream's span; the app stops there.
        tip.push_str(&piece?);
    }
    Ok(tip)
}

/// The answer's words as they stream in; once it is complete, the coach says it (a TTS span
/// under this one: the span is current while the stream is polled).
#[opik::track(name = "live-coach-feedback", type = "llm", tags = ["live-coach", "live-feedback"])]
fn live_coach_feedback<'a>(
    llm: &'a Llm,
    tts: &'a Tts,
    scale_name: &str,
    metrics: &PracticeMetrics,
) -> impl Stream<Item = Result<String, LlmError>> + 'a {
    let messages = vec![
        Message::system(
            "You are FretCoach, a guitar teacher listening live. One or two short, concrete, \
             encouraging sentences.",
        ),
        Message::user(format!(
            "Scale: {scale_name}. Metrics for the last 15 s: {}",
            serde_json::to_string(metrics).unwrap_or_default()
        )),
    ];
    let answer = Box::pin(llm.chat_stream(messages, FEEDBACK_BUDGET, record_llm_call));
    futures_util::stream::unfold(
        (answer, String::new(), false),
        move |(mut answer, mut said, failed)| async move {
            if failed {
                return None;
            }
            match answer.next().await {
                Some(Ok(piece)) => {
                    said.push_str(&piece);
                    Some((Ok(piece), (answer, said, false)))
                }
                Some(Err(e)) => Some((Err(e), (answer, said, true))),
                None => {
                    // A failed speech is recorded on its span; the tip is still shown.
                    let _ = live_coach_tts(tts, &said).await;
                    None
                }
            }
        },
    )
}

#[opik::track(name = "live-coach-tts", tags = ["tts", "live-coach"])]
async fn live_coach_tts(tts: &Tts, text: &str) -> Result<Speech, String> {
    let speech = tts.speak(text).await?;
    // The audio goes with the span: Opik plays it next to the text it says.
    let audio = opik::Attachment::from_bytes(speech.wav.clone(), "coach-tip.wav", "audio/wav");
    opik::update_current_span(|span| {
        span.attachment(audio);
    });
    Ok(speech)
}

#[opik::track(name = "session-summary", type = "llm", tags = ["live-coach", "session-summary"])]
async fn session_summary(llm: &Llm, windows: &[PracticeMetrics]) -> Result<String, LlmError> {
    let messages = [
        Message::system("SUMMARY: summarize the practice session for the player in 2 sentences."),
        Message::user(serde_json::to_string(windows).unwrap_or_default()),
    ];
    record_llm_call(None);
    let completion = llm.chat(&messages, Duration::from_secs(20)).await?;
    record_llm_call(Some(&completion));
    Ok(completion.text)
}

/// The hub's practice planner: a short conversation, one trace per message, all in the
/// thread `user-<id>`; the user gives the second answer a thumbs-up.
async fn planner_chat(s: &Scenario) {
    let questions = [
        "I have 20 minutes a day. What should I practise this week?",
        "How do I get faster without getting sloppy?",
        "Can you plan Thursday around the position shift?",
    ];
    let mut conversation: Vec<Message> = Vec::new();
    for (i, question) in questions.iter().enumerate() {
        s.say("user", question);
        match practice_planner(s, &s.user_id, &conversation, question).await {
            Ok(reply) => {
                s.say("planner", &reply.text);
                conversation.push(Message::user(*question));
                conversation.push(Message::assistant(reply.text));
                if i == 1 {
                    rate_answer(s, reply.trace_id);
                }
            }
            Err(e) => s.say("app", &format!("(the planner is unavailable: {e})")),
        }
        s.speed.sleep(Duration::from_secs(4)).await; // the user reads and types
    }
    end_conversation(s).await;
}

/// The hub conversation is over: its thread is closed and the user's rating of it logged
/// (closed first, which older Opik backends need to take a thread's scores). With no server
/// (the local view) the rating is queued like any score.
async fn end_conversation(s: &Scenario) {
    let (opik, thread) = (opik::Opik::global(), format!("user-{}", s.user_id));
    let rating = opik::Score::new("conversation-rating", 1.0).reason("the plan was useful");
    let ended = if opik.has_server() {
        let close_first = opik::read::OpenThread::CloseFirst;
        let scored = opik.score_thread(&thread, [rating], close_first).await;
        scored.map_err(|e| e.to_string())
    } else {
        let queued = opik.log_thread_feedback_scores([(thread, rating)]);
        queued.map_err(|e| e.to_string())
    };
    match ended {
        Ok(()) => s.say("app", "(conversation closed; you rated it: useful)"),
        Err(e) => s.say("app", &format!("(conversation rating not recorded: {e})")),
    }
}

/// The planner's system prompt lives in Opik's prompt library: created there on the first
/// run, then fetched through the client's cache on every message (no request per message);
/// without a server, the same prompt made in code.
async fn planner_system_prompt() -> opik::prompts::Prompt {
    const NAME: &str = "fretcoach-planner-system";
    const TEXT: &str = "PLANNER: you plan guitar practice. Be specific about minutes and tempo.";
    let opik = opik::Opik::global();
    if opik.has_server() {
        match opik.get_prompt(NAME).await {
            Ok(Some(prompt)) => return prompt,
            Ok(None) => match opik.create_prompt(NAME, TEXT, Default::default()).await {
                Ok(prompt) => return prompt,
                Err(e) => eprintln!("fretcoach: the planner prompt was not created: {e}"),
            },
            Err(e) => eprintln!("fretcoach: the planner prompt could not be fetched: {e}"),
        }
    }
    opik::prompts::Prompt::new(NAME, TEXT)
}

/// The user's thumbs-up on a planner answer, logged against that message's trace.
fn rate_answer(s: &Scenario, trace_id: Option<uuid::Uuid>) {
    let Some(trace_id) = trace_id else { return };
    let score = opik::Score::new("user-rating", 1.0).reason("thumbs up in the hub");
    match opik::log_trace_feedback_scores([(trace_id, score)]) {
        Ok(()) => s.say("app", "(you rated this answer: helpful)"),
        Err(e) => s.say("app", &format!("(rating not recorded: {e})")),
    }
}

/// A planner answer, and the trace it was recorded in (to attach the user's rating).
#[derive(Debug, Serialize)]
pub struct PlannerReply {
    pub text: String,
    #[serde(skip)]
    pub trace_id: Option<uuid::Uuid>,
}

#[opik::track(
    name = "practice-planner",
    tags = ["fretcoach-hub", "practice-planning"],
    thread_id = format!("user-{user_id}"),
    metadata = { "user_id": user_id, "conversation_length": conversation.len() / 2 + 1 },
    skip(s),
)]
async fn practice_planner(
    s: &Scenario,
    user_id: &str,
    conversation: &[Message],
    message: &str,
) -> Result<PlannerReply, LlmError> {
    let prompt = planner_system_prompt().await;
    opik::prompts::attach_to_current_span(&prompt); // metadata.opik_prompts: the version used
    let mut messages = vec![Message::system(
        prompt.format(&serde_json::json!({})).unwrap_or_default(),
    )];
    messages.extend(conversation.iter().cloned());
    messages.push(Message::user(message));
    let text = planner_llm(&s.llm, &messages).await?;
    Ok(PlannerReply {
        text,
        trace_id: opik::current_trace_data().map(|t| t.id),
    })
}

#[opik::track(name = "planner-llm", type = "llm", tags = ["practice-planning"])]
async fn planner_llm(llm: &Llm, messages: &[Message]) -> Result<String, LlmError> {
    record_llm_call(None);
    let completion = llm.chat(messages, Duration::from_secs(20)).await?;
    record_llm_call(Some(&completion));
    Ok(completion.text)
}
