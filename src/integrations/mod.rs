//! Integrations with the Rust LLM ecosystem, each behind a cargo feature of `opik`:
//!
//! | feature | module | what it records |
//! |---|---|---|
//! | `openai` | `openai` | chat completions of an `async-openai` client (plain and streamed) as `llm` spans |
//! | `tracing` | `tracing_layer` | `tracing` spans as Opik spans; OpenTelemetry GenAI spans (`rig`, `genai`, `langchain-rust`...) as `llm` spans with model, provider and usage |

#[cfg(feature = "tracing")]
pub mod tracing_layer;

#[cfg(feature = "openai")]
pub mod openai;

#[cfg(feature = "tracing")]
pub use tracing_layer::OpikLayer;
