//! The process-wide entry points: `init()`, its guard, and the global `flush`/`stats`.
//!
//! Like `sentry::init`, the SDK is a no-op until configured, `init()` returns a guard that
//! flushes with a deadline when dropped, and all sending happens on the SDK's own thread.
//!
//! A second `init()` replaces the first: the last one wins (the first client delivers what it
//! holds and shuts down), and each guard owns its client. Dropping a guard shuts its own client
//! down and uninstalls it only if it is still the installed one, so an older guard dropped
//! later never turns off the SDK that a newer `init()` installed. (An error on the second call,
//! as `tracing`'s `set_global_default` does, would break programs and tests that configure
//! the SDK again on purpose.)
//!
//! Owns: the top of the stack. May import every layer.

use crate::config::{ConfigBuilder, ConfigError, DisabledReason, Resolved};
use crate::context;
use crate::export::{local_client, ClientError};
use crate::pipe::{Client, FlushReport, Stats};
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

    /// Whether traces are being recorded through this guard's client: `false` when the SDK
    /// is off, and once a later `init()` replaced it.
    pub fn is_enabled(&self) -> bool {
        self.client.as_ref().is_some_and(Client::is_accepting)
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
            // Uninstalled first, so that no new trace starts on a client being shut down.
            context::uninstall_global(&client);
            if !client.is_accepting() {
                return; // replaced by a later `init()`, which shut it down then
            }
            let report = client.shutdown(client.shutdown_timeout());
            if !report.completed || report.stats.dropped_total() > 0 {
                tracing::warn!(target: "opik", "opik shut down: {}", report.stats);
            }
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
        Resolved::Local(config) => local_client(&config)?,
        Resolved::Disabled(reason) => {
            tracing::info!(target: "opik", "{reason}");
            return Ok(OpikGuard { client: None });
        }
    };
    if let Some(previous) = context::install_global(client.clone()) {
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

/// Like [`init_with`], but when nothing is configured (no URL, no API key, tracking not
/// disabled) it installs the local view instead of staying off: for examples, demos and
/// command-line tools that should show their traces out of the box, and still send them to Opik
/// as soon as `OPIK_URL_OVERRIDE` / `OPIK_API_KEY` are set. Libraries and services should call
/// [`init`], which stays silent.
pub fn init_or_local(builder: ConfigBuilder) -> Result<OpikGuard, InitError> {
    match builder.resolve()? {
        Resolved::Disabled(DisabledReason::NothingConfigured) => init_with(builder.local(true)),
        _ => init_with(builder),
    }
}
