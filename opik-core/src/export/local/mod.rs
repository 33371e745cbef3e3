//! The local view: what the SDK would send, shown here instead of sent to a server.
//!
//! [`LocalTransport`] receives the very batches the HTTP transport sends (the same
//! [`EncodedBatch::json`] bytes) and
//!
//! - appends each request as one JSON line to a file, `{"method":..,"path":..,"body":..}`, where
//!   `body` is the request body byte for byte (so the file can be inspected with `jq` or
//!   replayed against a real Opik: `path` is relative to the API base, e.g.
//!   `/v1/private/traces/batch`); an attachment is noted as `{"attachment": {..}}` with its
//!   span or trace, name, type, size and file (its bytes are not copied into the file);
//! - prints each finished trace as a tree (to stderr unless told otherwise), with types,
//!   models, durations, token counts, tags, threads and errors:
//!
//! ```text
//! Trace: practice-session [7.2s] (thread session-abc123) fretcoach, practice-session
//!   ├─ live-coach-feedback [llm gpt-4o-mini 1.2s 512 tok] live-coach, live-feedback
//!   │   └─ live-coach-tts [2.0s] tts, live-coach
//!   └─ session-summary [llm 1.5s] live-coach, session-summary
//! ```
//!
//! A trace is printed once its trace record has arrived (it is queued when the root call ends)
//! together with its root span and the parent of every span received: the exporter sends a
//! round's traces before its spans, so that is the moment the trace is complete. Spans that end
//! after their trace (a detached task) and traces that never completed are printed when the
//! transport is dropped, i.e. when the client shuts down.
//!
//! `opik::init()` installs this transport for [`Resolved::Local`](crate::config::Resolved):
//! `OPIK_LOCAL=1` or [`ConfigBuilder::local`](crate::config::ConfigBuilder::local), and
//! `opik::init_or_local` for programs (like the examples) that print locally when nothing else
//! is configured.
//!
//! Files: `transport` (the file and the printing), `view` (assembling traces from request
//! bodies), `render` (the trees).

mod render;
mod transport;
mod view;

pub use render::{format_duration, render_trace};
pub use transport::{default_path, LocalTransport};

use super::ClientError;
use crate::config::Config;
use crate::pipe::Client;
use std::path::Path;

/// A client whose records go to a [`LocalTransport`] writing the configured file (else
/// [`default_path`]); what `init()`
/// installs for [`Resolved::Local`](crate::config::Resolved). Says on stderr where the JSON
/// lines go. If the file cannot be opened, the trees are still printed (with a warning).
pub(crate) fn local_client(config: &Config) -> Result<Client, ClientError> {
    let path = config
        .local_file()
        .map_or_else(default_path, Path::to_path_buf);
    let transport = match LocalTransport::open(&path) {
        Ok(t) => {
            eprintln!(
                "opik: local view: traces are printed below as they finish; request bodies are \
                 appended to {}",
                path.display()
            );
            t
        }
        Err(e) => {
            eprintln!("{e}; traces are printed below as they finish, and not saved");
            LocalTransport::print_only()
        }
    };
    Client::with_transport(config, Box::new(transport))
}
