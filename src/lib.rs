//! # opik
//!
//! Rust SDK for [Opik](https://www.comet.com/docs/opik/), the open-source LLM observability
//! platform: mark functions with `#[opik::track]`, and every call becomes a span in a trace
//! that is shipped to Opik in the background, without slowing the app or losing data uncounted.
//!
//! ```no_run
//! #[opik::track(name = "answer", tags = ["demo"])]
//! async fn answer(question: &str) -> String {
//!     format!("you asked: {question}")
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), opik::InitError> {
//!     // Reads OPIK_URL_OVERRIDE / OPIK_API_KEY / ~/.opik.config; a no-op when unset.
//!     let _guard = opik::init()?;
//!     answer("what is a trace?").await;
//!     Ok(()) // the guard delivers what is queued (at most 2 s) when dropped
//! }
//! ```

pub use opik_core::client::{Client, ClientError};
pub use opik_core::config::{ConfigBuilder, ConfigError};
pub use opik_core::export::FlushReport;
pub use opik_core::record::SpanType;
pub use opik_core::sdk::{flush, flush_async, init, init_with, stats, InitError, OpikGuard};
pub use opik_core::stats::{DropReason, Stats};
pub use opik_macros::track;

/// What `#[track]` expands to calls. Not a public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use opik_core::record::SpanType;
    pub use opik_core::recorder::capture::{
        ErrProbe, ErrViaDebug, ErrViaDisplay, ErrViaError, ErrViaTypeName, JsonBuf, OutputCapture,
        Probe, ViaDebug, ViaSerialize, ViaTypeName,
    };
    pub use opik_core::recorder::{run_sync, Call, CallStart, SpanMeta, Tracked};
    pub use serde_json;
}
