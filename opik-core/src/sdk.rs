//! The process-wide entry points: `init()`, its guard, and the global `flush`/`stats`.
//!
//! Like `sentry::init`, the SDK is a no-op until configured, `init()` returns a guard that
//! flushes with a deadline when dropped, and all sending happens on the SDK's own thread.

use crate::client::{Client, ClientError};
use crate::config::{ConfigBuilder, ConfigError, Resolved};
use crate::context;
use crate::export::FlushReport;
use crate::stats::Stats;
use std::fmt;
use std::time::Duration;

/// Why `init()` failed: bad configuration (the message names the setting and the fix), or the
/// exporter could not start.
#[derive(Debug)]
pub enum InitError {
    /// A setting is invalid.
    Config(ConfigError),
    /// The exporter could not start.
    Client(ClientError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(e) => fmt::Display::fmt(e, f),
            InitError::Client(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Config(e) => Some(e),
            InitError::Client(e) => Some(e),
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Config(e)
    }
}

impl From<ClientError> for InitError {
    fn from(e: ClientError) -> Self {
        InitError::Client(e)
    }
}

/// Keeps the SDK installed. Dropping it delivers what is queued, waiting at most the shutdown
/// timeout (default 2 s) even when the server never answers, then uninstalls the client.
#[must_use = "dropping the guard at once shuts the SDK down; keep it alive for the program's run"]
pub struct OpikGuard {
    client: Option<Client>,
}

impl OpikGuard {
    /// The installed client, or `None` when the SDK is off (nothing configured or disabled).
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// Whether traces are being recorded.
    pub fn is_enabled(&self) -> bool {
        self.client.is_some()
    }
}

impl fmt::Debug for OpikGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpikGuard")
            .field("client", &self.client)
            .finish()
    }
}

impl Drop for OpikGuard {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let report = client.shutdown(client.shutdown_timeout());
            if !report.completed || report.stats.dropped_total() > 0 {
                tracing::warn!(target: "opik", "opik shut down: {}", report.stats);
            }
            context::set_global_client(None);
        }
    }
}

/// Configures the SDK from the environment and `~/.opik.config` (as the Python SDK does) and
/// installs it. With nothing configured, or `OPIK_TRACK_DISABLE=true`, it succeeds, logs one
/// line saying how to enable it, and tracked functions run exactly as untracked ones.
pub fn init() -> Result<OpikGuard, InitError> {
    init_with(ConfigBuilder::new())
}

/// Like [`init`], with settings given in code (they take precedence over the environment).
pub fn init_with(builder: ConfigBuilder) -> Result<OpikGuard, InitError> {
    if cfg!(not(feature = "enabled")) {
        // Built without the `enabled` feature: nothing is recorded, so nothing is started.
        return Ok(OpikGuard { client: None });
    }
    let client = match builder.resolve()? {
        Resolved::Enabled(config) => Client::new(&config)?,
        Resolved::Local(config) => crate::export::local::local_client(&config)?,
        Resolved::Disabled(reason) => {
            tracing::info!(target: "opik", "{reason}");
            return Ok(OpikGuard { client: None });
        }
    };
    if let Some(previous) = context::set_global_client(Some(client.clone())) {
        // A second init replaces the first; deliver what the first one holds.
        previous.shutdown(previous.shutdown_timeout());
    }
    Ok(OpikGuard {
        client: Some(client),
    })
}

/// Delivers everything recorded so far through the installed client, waiting at most
/// `timeout`. Returns at once (completed, zero counts) when the SDK is off.
pub fn flush(timeout: Duration) -> FlushReport {
    match context::global_client() {
        Some(c) => c.flush(timeout),
        None => FlushReport {
            completed: true,
            stats: Stats::default(),
        },
    }
}

/// Like [`flush`], without blocking the async runtime.
pub async fn flush_async(timeout: Duration) -> FlushReport {
    match context::global_client() {
        Some(c) => c.flush_async(timeout).await,
        None => FlushReport {
            completed: true,
            stats: Stats::default(),
        },
    }
}

/// The delivery counters of the installed client (zeros when the SDK is off).
pub fn stats() -> Stats {
    context::global_client().map_or_else(Stats::default, |c| c.stats())
}
