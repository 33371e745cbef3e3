//! # opik
//!
//! Rust SDK for [Opik](https://www.comet.com/docs/opik/), the open-source LLM observability
//! platform: mark functions with `#[opik::track]`, and every call becomes a span in a trace
//! (input, output, timing, errors, model and token usage) that is shipped to Opik in the
//! background, without slowing the app or losing data uncounted.
//!
//! ## Quick start
//!
//! ```no_run
//! #[opik::track(name = "live-coach-feedback", type = "llm", tags = ["live-coach"])]
//! async fn feedback(bpm: u32) -> String {
//!     opik::update_current_span(|s| {
//!         s.model("gpt-4o-mini").provider("openai").usage(opik::Usage::new(412, 38));
//!     });
//!     format!("steady at {bpm} bpm, try 5 faster")
//! }
//!
//! #[opik::track(name = "practice-session", thread_id = format!("session-{id}"))]
//! async fn session(id: &str) -> String {
//!     feedback(92).await
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), opik::InitError> {
//!     // Reads OPIK_URL_OVERRIDE / OPIK_API_KEY / ~/.opik.config; a silent no-op when unset.
//!     let _guard = opik::init()?;
//!     session("abc123").await;
//!     Ok(()) // the guard delivers what is queued (at most 2 s) when dropped
//! }
//! ```
//!
//! `cargo run --example fretcoach` shows a whole application's traces (a practice session with
//! live LLM coaching, speech, a summary, a planner chat with feedback scores) printed in the
//! terminal, with no server and no key: see [Seeing traces without a server](#seeing-traces-without-a-server).
//!
//! ## `#[track]` arguments
//!
//! All optional; mistakes are compile errors pointing at the offending token. Details on
//! [`track`].
//!
//! | argument | meaning |
//! |---|---|
//! | `name = "lit"` or `name = expr` | span (and trace) name; default: the function's name |
//! | `type = "general" \| "llm" \| "tool" \| "guardrail"` | span type (`llm` spans get cost from model and usage) |
//! | `tags = ["a", DECLARED]` | literals, or constants declared with [`tags!`], checked at compile time |
//! | `metadata = { "key": expr, ... }` | JSON object of `Serialize` expressions |
//! | `capture_input = false`, `capture_output = false` | leave the arguments / the return value out (errors are always recorded) |
//! | `skip(a, b)`, `skip_all` | leave these (all) arguments out of the input |
//! | `thread_id = expr` | the trace's conversation thread, when this call starts the trace |
//! | `project_name = "lit"` | project of a trace this call starts |
//! | `flush = true` | deliver what is queued when the call returns (short-lived programs) |
//! | `distributed_headers = expr` | continue the trace of incoming headers ([`distributed_headers`](distributed::distributed_headers) on the caller's side): a span under the remote parent, no new trace |
//!
//! Inside a tracked call, [`update_current_span`] and [`update_current_trace`] set what is
//! known only at run time: `model`, `provider`, `usage` (OpenAI and Anthropic shapes are
//! normalized as the Python SDK does), `total_cost`, `output`, `metadata`, `tags`,
//! `feedback_score`, and on the trace `thread_id`. Scores given later go through
//! [`log_trace_feedback_scores`] and its span and thread siblings. For code that cannot carry
//! the attribute (callbacks, sessions held open for minutes), [`Opik`] makes traces and spans
//! by hand.
//!
//! ## Async and spawn
//!
//! The current span lives in a tokio task-local (and works in sync code and without a runtime
//! too): calls awaited in a tracked function, also concurrently with `join!`, nest under it.
//! `tokio::spawn` does not carry task-locals, so a tracked call in a plainly spawned task starts
//! a trace of its own; [`spawn`], [`spawn_blocking`](context::spawn_blocking), `.in_current_trace()` ([`FutureExt`]) and
//! [`current_context`](context::current_context)`().run(..)` (OS threads, rayon) keep it in the caller's trace.
//!
//! ```
//! #[opik::track]
//! async fn child(n: u32) -> u32 {
//!     n * 2
//! }
//!
//! #[opik::track]
//! async fn parent() -> u32 {
//!     let (a, b) = tokio::join!(child(1), child(2)); // both nest under `parent`
//!     let c = opik::spawn(child(3)).await.unwrap_or(0); // so does this one
//!     let d = tokio::spawn(child(4)).await.unwrap_or(0); // not this one: it starts a new trace
//!     a + b + c + d
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let recorded = opik::testing::record_async(async {
//!     parent().await;
//! })
//! .await;
//! let parent = recorded.span("parent");
//! assert_eq!(recorded.children(parent).len(), 3);
//! // The plainly spawned task left the recorder's scope too: it was not recorded here.
//! assert_eq!(recorded.spans_named("child").len(), 3);
//! # }
//! ```
//!
//! A future dropped before it completes (a timeout, a lost `select!` branch) is recorded with a
//! `cancelled` error; a panic, with its message.
//!
//! ## Delivery guarantees
//!
//! - **The app never waits on Opik.** A tracked call pushes its record onto a bounded queue
//!   (16 384 records by default); batching, encoding and HTTP happen on the SDK's own thread
//!   and runtime. With nothing configured, a tracked call costs one relaxed atomic load.
//! - **Nothing is lost without being counted.** A full queue, a batch the server refuses, a
//!   retry budget that runs out or a shutdown deadline drops records *and counts them* by
//!   reason: [`stats`] always satisfies `produced == delivered + dropped + pending`. Under
//!   overload (the queue full) a nested span's record is dropped before it is even built, so
//!   that the app pays least for what cannot be kept.
//! - **Long calls show up while they run.** A trace's root, an async span once it first waits,
//!   a sync span typed `llm`, `tool` or `guardrail`, and explicit traces and spans are sent
//!   early as a start record when they run past the long-span threshold (5 s), then completed
//!   by their final record (an upsert of the same id, never a PATCH).
//! - **Retries are safe.** Ids are made when a span starts, and Opik's batch creates are
//!   upserts, so network errors, timeouts, 408, 429 and 5xx are retried with backoff and jitter;
//!   a 429 (or `Retry-After`) pauses all sending; a 409 to a batch create counts as delivered
//!   (the records are there), to feedback scores as refused (`conflict`); a batch too large is
//!   split, a record too large alone has its input/output replaced by a truncation marker.
//! - **Exit is bounded.** Dropping the [`OpikGuard`] (or [`Client::shutdown`](export::Client::shutdown)) delivers what is
//!   queued, waiting at most the shutdown timeout (2 s) even when the server never answers;
//!   [`flush`] / [`flush_async`] do the same on demand, and `#[track(flush = true)]` after a
//!   call.
//!
//! ## Seeing traces without a server
//!
//! [`init`] stays silent when nothing is configured, as a library or service wants. Programs
//! that should show their traces out of the box (examples, demos, command-line tools) call
//! [`init_or_local`] instead, and any program can ask with `OPIK_LOCAL=1` or
//! [`ConfigBuilder::local`](config::ConfigBuilder::local): then each finished trace is printed on stderr as a tree,
//!
//! ```text
//! Trace: practice-session [3.8s] (thread session-abc123) fretcoach, practice-session
//!   ├─ live-coach-feedback [llm gpt-4o-mini 104ms 512 tok] live-coach, live-feedback
//!   │   └─ live-coach-tts [56ms] tts, live-coach
//!   ├─ live-coach-feedback [llm gpt-4o-mini 401ms] live-coach, live-feedback !! LlmError: gpt-4o-mini did not answer within 8s
//!   └─ session-summary [llm gpt-4o-mini 59ms 149 tok] live-coach, session-summary
//! Feedback: user-rating = 1.0 (thumbs up in the hub) on trace practice-planner (thread user-1842), id …03971c
//! ```
//!
//! and every request the SDK would have sent is appended to a JSON lines file (named on stderr;
//! `OPIK_LOCAL_FILE` or [`ConfigBuilder::local_file`](config::ConfigBuilder::local_file), else a new file in the system temp directory), one
//! `{"method": "POST", "path": "/v1/private/spans/batch", "body": {...}}` per line, the body
//! byte for byte what the HTTP exporter sends: inspect it with `jq`, or replay it to an Opik.
//!
//! ## Testing your instrumentation
//!
//! With the `testing` feature, `opik::testing::record` / `record_async` run code with its
//! traces captured in memory (no network, isolated per test) and return them as the JSON items
//! Opik would receive, with helpers to find spans and their parents, like the Python SDK's
//! `record_traces_locally`.
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `enabled` | yes | recording; without it `#[track]` still checks its arguments but emits the function unchanged and the runtime API does nothing (zero cost for libraries) |
//! | `testing` | no | `opik::testing`: capture traces in memory and assert on them |
//! | `tracing` | no | `opik::integrations::OpikLayer`: `tracing` spans as Opik spans; the OpenTelemetry GenAI spans of `rig` and `genai` (`otel`) as `llm`, `tool` and `general` spans with model, provider, usage, messages and errors; `langchain-rust`'s own spans with model, provider and usage |
//! | `openai` | no | `opik::integrations::openai::track_openai`: chat completions and Responses API calls (plain and streamed) and embeddings of an `async-openai` client as `llm` spans, like Python's `track_openai` |
//! | `evaluation` | no | `opik::evaluate` and `opik::evaluation`: datasets, experiments, metrics and LLM judges (implies `enabled` and `prompts`) |
//! | `prompts` | no | `opik::prompts`: Opik's prompt library (create, get with a cache, format mustache and jinja2 templates, link versions to spans and experiments) (implies `enabled`) |
//!
//! ## Configuration
//!
//! From the same places as the Python SDK, so one setup serves both: code
//! ([`init_with`]`(`[`ConfigBuilder`](config::ConfigBuilder)`)`) beats the environment, which beats `~/.opik.config`
//! (section `[opik]`), which beats the defaults.
//!
//! | setting | environment | `~/.opik.config` key | default |
//! |---|---|---|---|
//! | API base URL | `OPIK_URL_OVERRIDE` | `url_override` | Opik Cloud when an API key is set; otherwise none, and the SDK stays off (a self-hosted URL is never assumed) |
//! | API key | `OPIK_API_KEY` | `api_key` | none (self-hosted needs none) |
//! | workspace | `OPIK_WORKSPACE` | `workspace` | `default` |
//! | project | `OPIK_PROJECT_NAME` | `project_name` | `Default Project` |
//! | environment (on every trace and span) | `OPIK_ENVIRONMENT` | `environment` | none |
//! | switch off | `OPIK_TRACK_DISABLE=true` | `track_disable` | off |
//! | print locally | `OPIK_LOCAL=1` | | off ([`init_or_local`]: on when nothing else is configured) |
//! | local view file | `OPIK_LOCAL_FILE` | | a new `opik-local-*.jsonl` in the temp directory |
//! | config file | `OPIK_CONFIG_PATH` | | `~/.opik.config` |
//! | prompt cache TTL | `OPIK_PROMPT_CACHE_TTL_SECONDS` | | 300 s ([`ConfigBuilder::prompt_cache_ttl`](config::ConfigBuilder::prompt_cache_ttl)) |
//!
//! | flush deadline at exit | `OPIK_DEFAULT_FLUSH_TIMEOUT` (seconds) | `default_flush_timeout` | 2 s |
//! | start records of long spans | `OPIK_LOG_START_TRACE_SPAN` | `log_start_trace_span` | on (after 5 s) |
//! | input/output truncation | `OPIK_MAX_PAYLOAD_SIZE_MB` | `max_payload_size_mb` | 20 (`<= 0`: never) |
//! | gzip request bodies | `OPIK_ENABLE_JSON_REQUEST_COMPRESSION` | `enable_json_request_compression` | on |
//! | gzip level | `OPIK_REQUEST_COMPRESSION_LEVEL` | `request_compression_level` | 1 |
//! | check the TLS certificate | `OPIK_CHECK_TLS_CERTIFICATE` | `check_tls_certificate` | on |
//! | CA certificates (PEM) | `SSL_CERT_FILE` | | the built-in roots |
//!
//! Bad settings make [`init`] return an error naming the setting, where it came from, the bad
//! value (never the key) and the fix. The other exporter knobs (queue capacity, batch size,
//! flush interval, timeouts) are set on [`ConfigBuilder`](config::ConfigBuilder) or as
//! `OPIK_<KNOB>` in the environment. Proxies come from `https_proxy` / `no_proxy` and friends
//! (https only, never for loopback or for a key over plain http); redirects are never
//! followed. [`healthcheck`] (`cargo run --example healthcheck`) shows the settings in effect
//! and whether Opik accepts them.

// docs.rs builds with `--cfg docsrs` on nightly: items behind a feature show it as a badge.
#![cfg_attr(docsrs, feature(doc_cfg))]

// ---- The public surface: the everyday API at the root, the rest in modules -----------------

pub use opik_core::{
    current_span_data, current_trace_data, flush, flush_async, init, init_or_local, init_with,
    log_span_feedback_scores, log_thread_feedback_scores, log_trace_feedback_scores, span, spawn,
    stats, update_current_span, update_current_trace, Attachment, AttachmentError, ErrorInfo,
    FutureExt, InitError, Opik, OpikGuard, Score, ScoreError, ScoreOptions, SpanBuilder, SpanData,
    SpanHandle, SpanType, SpanUpdate, TraceData, TraceHandle, TraceSource, TraceUpdate, Usage,
};

/// Runs a task over a dataset, scores it with metrics, and records the run as an experiment;
/// see [`evaluation`] and [`evaluation::evaluate`](opik_core::eval::evaluate) for the details.
#[cfg(feature = "evaluation")]
#[cfg_attr(docsrs, doc(cfg(feature = "evaluation")))]
pub use opik_core::eval::evaluate;

/// Records each call of a function as an Opik span (and as a trace when no tracked call is
/// running): arguments as input, the return value as output, `Err` and panics as `error_info`.
///
/// All arguments are optional; mistakes are compile errors pointing at the offending token.
///
/// | argument | meaning |
/// |---|---|
/// | `name = "lit"` or `name = expr` | span (and trace) name; default: the function's name |
/// | `type = "general" \| "llm" \| "tool" \| "guardrail"` | span type |
/// | `tags = ["a", DECLARED]` | literals, or constants declared with [`tags!`]; checked at compile time (not empty, no surrounding whitespace, at most 100 characters, no duplicates, at most 50) |
/// | `metadata = { "key": expr, ... }` | JSON object; the values are `Serialize` expressions evaluated in the function's scope |
/// | `capture_input = false`, `capture_output = false` | leave the arguments / the return value out (errors are always recorded) |
/// | `skip(a, b)`, `skip_all` | leave these arguments (all arguments) out of the input |
/// | `thread_id = expr` | the trace's thread, when this call starts the trace |
/// | `project_name = "lit"` | project of a trace this call starts; nested in a trace of another project, the call follows its trace (one warning per call site) |
/// | `flush = true` | deliver what is queued when the call returns (short-lived programs, lambdas) |
/// | `distributed_headers = expr` | continue the trace of incoming headers (an `http::HeaderMap`, a map of strings...): a span under the remote parent, no new trace |
/// | `aggregate = path::to_fn` | for a stream or an iterator: the output is `to_fn(items)` (the items as `serde_json::Value`s) instead of the default |
///
/// It goes on `async fn`, `fn`, methods (the receiver is never recorded), generic functions,
/// `unsafe fn`, `#[async_trait]` methods, and functions returning `impl Future<Output = T>`,
/// `Pin<Box<dyn Future<Output = T>>>` or `BoxFuture<'_, T>`: for those the arguments are recorded
/// at the call and the span covers the future's run, from its first poll to its completion.
///
/// On functions returning a stream or an iterator (`impl Stream<Item = T>`,
/// `Pin<Box<dyn Stream<Item = T> + Send>>`, `BoxStream<'_, T>`, `impl Iterator<Item = T>`,
/// `Box<dyn Iterator<Item = T>>`), the arguments and the current span (its parent) are recorded
/// at the call, and the span covers the consumption: it starts at the first item asked for, is
/// current while each item is produced (so `update_current_span` there sets the usage of a
/// streamed answer), records the time to the first item (`ttft`), and ends with the stream. The
/// items are its output: concatenated when they are strings (a streamed answer's text), a JSON
/// array otherwise, at most `max_stream_output_bytes` (1 MiB; past it the rest are counted,
/// not kept, and the output is marked `opik_truncated`). An `Err` item is the span's error and
/// the stream goes on; a stream dropped before its end records what it yielded and
/// `metadata.opik_stream.ended_early`.
///
/// ```
/// use futures_util::stream::{self, Stream, StreamExt};
///
/// #[opik::track(name = "live-coach-feedback", type = "llm")]
/// fn feedback(bpm: u32) -> impl Stream<Item = String> {
///     stream::iter(["steady ", "at ", "92 bpm"].map(String::from))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let recorded = opik::testing::record_async(async {
///     let answer: String = feedback(92).collect().await;
///     assert_eq!(answer, "steady at 92 bpm");
/// })
/// .await;
/// assert_eq!(recorded.span("live-coach-feedback")["output"]["output"], "steady at 92 bpm");
/// # }
/// ```
///
/// Arguments are recorded with `serde::Serialize`, else their `Debug` form, else
/// `"<TypeName>"` (for a generic `T`, the bounds written on `T` decide). `Ok(v)` records `v`,
/// `None` records no output, a future dropped before it completes records `"cancelled"`. A
/// return type with `impl Trait` in it (other than the futures above) cannot be named in the
/// generated code: such a function records no output.
///
/// ```
/// #[opik::track(
///     name = "coach.answer",
///     type = "llm",
///     tags = ["live-coach"],
///     metadata = { "scale": "C major", "session": session_id },
///     skip(api_key),
///     thread_id = format!("session-{session_id}"),
/// )]
/// async fn answer(session_id: u64, question: &str, api_key: &str) -> Result<String, std::io::Error> {
///     Ok(format!("{question}? play slower"))
/// }
/// ```
pub use opik_macros::track;

/// Declares tags once, checked against Opik's rules at compile time (not empty, no leading or
/// trailing whitespace, at most 100 characters), for use in `#[track(tags = [...])]`, where a
/// typo is then an unresolved name instead of a new tag in the dashboard:
///
/// ```
/// opik::tags! {
///     /// Calls of the live coaching agent.
///     pub LIVE_COACH = "live-coach";
///     pub TTS = "tts";
/// }
///
/// #[opik::track(tags = [LIVE_COACH, TTS, "beta"])]
/// fn speak(text: &str) -> usize {
///     text.len()
/// }
/// # assert_eq!(speak("hi"), 2);
/// ```
///
/// Each becomes a `const NAME: &'static str`. Literal and declared tags may mix; a tag given
/// twice in one `tags = [...]` is a compile error, found by const evaluation.
pub use opik_macros::tags;

/// Whether this build records anything: `false` when `opik` is built without its `enabled`
/// feature, in which case `#[track]` emits functions unchanged and the runtime API does nothing.
pub const ENABLED: bool = cfg!(feature = "enabled");

/// Configuration: [`ConfigBuilder`](config::ConfigBuilder) for settings given in code, and
/// what [`init_with`] resolves it into. The sources and their precedence are in the crate docs.
pub mod config {
    pub use opik_core::{
        ApiKey, Config, ConfigBuilder, ConfigError, DisabledReason, ErrorKind, Origin, Resolved,
        Setting, CLOUD_URL, DEFAULT_PROJECT_NAME, DEFAULT_WORKSPACE, MAX_BATCH_ITEMS,
        MAX_MAX_RETRIES, MAX_QUEUE_CAPACITY, MIN_BATCH_MAX_BYTES,
    };
}

/// Checks that the configuration works: the settings in effect with where each came from, the
/// server reachable, the key and workspace accepted, each failure with its fix (the Python
/// SDK's `opik healthcheck`). `cargo run --example healthcheck` prints it.
///
/// ```no_run
/// let report = opik::healthcheck(); // blocks; `healthcheck_async` in async code
/// println!("{report}");
/// if !report.is_healthy() {
///     std::process::exit(1);
/// }
/// ```
#[cfg(feature = "enabled")]
#[cfg_attr(docsrs, doc(cfg(feature = "enabled")))]
pub use opik_core::health::healthcheck;

#[cfg(feature = "enabled")]
#[cfg_attr(docsrs, doc(cfg(feature = "enabled")))]
pub use opik_core::health::{healthcheck_async, healthcheck_with};

/// What [`healthcheck`] reports: [`HealthReport`](health::HealthReport), its
/// [`Check`](health::Check)s and their [`Outcome`](health::Outcome).
#[cfg(feature = "enabled")]
#[cfg_attr(docsrs, doc(cfg(feature = "enabled")))]
pub mod health {
    pub use opik_core::health::{Check, HealthReport, Outcome};
}

/// Carrying the current span into other tasks and threads (see "Async and spawn" in the crate
/// docs).
pub mod context {
    pub use opik_core::{
        current_context, spawn, spawn_blocking, ClientScoped, FutureExt, OpikContext, WithContext,
    };
}

/// One trace across services: the headers a caller sends, and continuing its trace here.
pub mod distributed {
    pub use opik_core::{
        distributed_headers, http, run_with_distributed_headers, with_distributed_headers,
        ContinueTrace, DistributedHeaders, HeaderSource, PARENT_SPAN_ID_HEADER, TRACEPARENT_HEADER,
        TRACE_ID_HEADER,
    };
}

/// Delivery: the [`Client`](export::Client) handle of an export pipeline, its counters, and
/// the transports batches go to (Opik's REST API, the local view, your own).
pub mod export {
    pub use opik_core::{
        default_path, format_duration, render_trace, AttachmentData, AttachmentRecord, Client,
        ClientError, DropReason, EncodedBatch, Entity, FlushReport, LocalTransport, RecordKind,
        SendFuture, SendOutcome, Stats, Transport, UploadFuture,
    };
}

/// Evaluation, Opik's second pillar: [`Dataset`](evaluation::Dataset)s of examples,
/// [`evaluate`] (a task over a dataset, as an experiment) and metrics (the `evaluation`
/// feature).
///
/// ```no_run
/// use opik::evaluation::{metrics::LevenshteinRatio, Dataset, EvaluateOptions, Metric};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Situation {
///     tempo_bpm: u32,
/// }
///
/// #[derive(Serialize)]
/// struct Tip {
///     output: String,
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let _guard = opik::init_or_local(opik::config::ConfigBuilder::new())?;
/// let opik = opik::Opik::global();
/// let dataset = if opik.has_server() {
///     let dataset = opik.dataset("situations").await?;
///     dataset.insert_jsonl("situations.jsonl").await?; // inserting twice adds nothing
///     dataset
/// } else {
///     Dataset::from_jsonl("situations", "situations.jsonl")?
/// };
/// let metrics: Vec<Box<dyn Metric>> = vec![Box::new(LevenshteinRatio::new())];
/// let result = opik::evaluate(
///     &dataset,
///     |s: Situation| async move {
///         Ok::<_, std::io::Error>(Tip { output: format!("steady at {} bpm", s.tempo_bpm) })
///     },
///     metrics,
///     EvaluateOptions::new().scoring_key_mapping([("reference", "expected_tip")]),
/// )
/// .await?;
/// println!("{result}");
/// # Ok(()) }
/// ```
///
/// What runs, per item: the task as a trace `evaluation_task` (source `experiment`) with the
/// item as input and the output as output, the task in a span `task` (its tracked calls
/// nested inside), a span `metrics_calculation` with a span per metric, each score logged as
/// the trace's feedback score; an experiment item links the dataset item and the trace once
/// the trace is delivered. Items run concurrently (default: one per core); a failing task or
/// metric is recorded on its item, and the run goes on.
///
/// Metrics implement [`Metric`](evaluation::Metric) (async, object-safe) or
/// [`SyncMetric`](evaluation::SyncMetric), or are closures ([`metric_fn`](evaluation::metric_fn));
/// they get the item's and the output's fields as named arguments
/// ([`MetricArgs`](evaluation::MetricArgs)). The built-in ones, with the Python SDK's names and
/// ranges, are in [`evaluation::metrics`]; the LLM judges run on any OpenAI-compatible endpoint
/// through a [`Judge`](evaluation::Judge).
#[cfg(feature = "evaluation")]
#[cfg_attr(docsrs, doc(cfg(feature = "evaluation")))]
pub mod evaluation {
    pub use opik_core::eval::*;
    pub use opik_core::{RestError, RestErrorKind};
}

/// Reading traces back: searches of traces, spans and threads with Opik's filter language as
/// async streams of typed records, gets, updates after the fact that never overtake their
/// record's create, and threads that end (closed, scored). The methods are on
/// [`Opik`]; without a server, searches answer from the local view's file.
///
/// ```no_run
/// use opik::read::SearchOptions;
///
/// # async fn run() -> Result<(), opik::read::ReadError> {
/// let opik = opik::Opik::global();
/// let mut spans = opik.search_spans(SearchOptions::new().filter(r#"tags contains "live-coach""#))?;
/// let mut tokens = 0;
/// while let Some(span) = spans.next().await {
///     tokens += span?.usage.get("total_tokens").copied().unwrap_or(0);
/// }
/// println!("{tokens} tokens");
/// # Ok(()) }
/// ```
#[cfg(feature = "enabled")]
pub mod read {
    pub use opik_core::read::*;
}

/// Opik's prompt library (the `prompts` feature): prompts created and versioned in Opik,
/// fetched through a cache, formatted (mustache or jinja2, missing variables named), and
/// linked to the spans, traces and experiments that use them. The library methods are on
/// [`Opik`].
///
/// ```no_run
/// use opik::prompts::PromptOptions;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let opik = opik::Opik::global();
/// opik.create_prompt("planner-system", "Plan {{minutes}} minutes of practice.", PromptOptions::new())
///     .await?; // a new version only if the template changed
/// let prompt = opik.get_prompt("planner-system").await?.expect("just created");
/// let system = prompt.format(&serde_json::json!({"minutes": 20}))?;
/// opik::prompts::attach_to_current_span(&prompt); // metadata.opik_prompts
/// # let _ = system;
/// # Ok(()) }
/// ```
#[cfg(feature = "prompts")]
pub mod prompts {
    pub use opik_core::prompt::*;
}

pub mod integrations;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

/// The README's code blocks as doctests, so the examples people copy first cannot rot: they
/// are compiled (`no_run`: run, they would read this machine's Opik configuration), the
/// evaluation fragment is `ignore`d (it is not a whole program). The prompt and read examples
/// need the `prompts` feature.
#[cfg(all(doctest, feature = "prompts"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// What `#[track]` expands to calls. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use opik_core::__private::*;
    pub use opik_core::{DistributedHeaders, OpikContext, SpanType};
    pub use serde_json;
    pub use std::sync::atomic::AtomicBool;
}
