//! Integrations with the Rust LLM ecosystem, each behind a cargo feature of `opik`:
//!
//! | feature | module | what it records |
//! |---|---|---|
//! | `openai` | [`openai`] | an `async-openai` client's chat completions, Responses API calls (plain and streamed) and embeddings as `llm` spans |
//! | `tracing` | [`tracing_layer`] | `tracing` spans as Opik spans; the OpenTelemetry GenAI spans of `rig` 0.44 and `genai` 0.7 (`otel`) as `llm`, `tool` and `general` spans with model, provider, usage, messages and errors; `langchain-rust` 7's own spans (`llm.generate`...) with model, provider and usage |
//!
//! Both read GenAI data through one mapping (span types, provider names, the model rule,
//! usage keys, message shapes, errors), so the same call gives the same span either way.

#[cfg(any(feature = "tracing", feature = "openai"))]
#[cfg_attr(not(all(feature = "tracing", feature = "openai")), allow(dead_code))]
mod gen_ai;

#[cfg(feature = "tracing")]
pub mod tracing_layer;

#[cfg(feature = "openai")]
pub mod openai;

#[cfg(feature = "tracing")]
pub use tracing_layer::OpikLayer;
