//! Configuration: where traces go and how the exporter behaves.
//!
//! Settings come from the same places as in the official Python SDK, so one setup serves both:
//!
//! | setting | builder | environment | `[opik]` key in the INI file |
//! |---|---|---|---|
//! | URL | [`ConfigBuilder::url`] | `OPIK_URL_OVERRIDE` | `url_override` |
//! | API key | [`ConfigBuilder::api_key`] | `OPIK_API_KEY` | `api_key` |
//! | workspace | [`ConfigBuilder::workspace`] | `OPIK_WORKSPACE` | `workspace` |
//! | project | [`ConfigBuilder::project_name`] | `OPIK_PROJECT_NAME` | `project_name` |
//! | disable tracking | [`ConfigBuilder::track_disable`] | `OPIK_TRACK_DISABLE` | `track_disable` |
//! | print locally | [`ConfigBuilder::local`] | `OPIK_LOCAL` | – |
//! | environment | [`ConfigBuilder::environment`] | `OPIK_ENVIRONMENT` | `environment` |
//! | INI file | [`ConfigBuilder::config_file`] | `OPIK_CONFIG_PATH` | – (default `~/.opik.config`) |
//! | proxy | – | `https_proxy`, `http_proxy`, `all_proxy`, `no_proxy` (either case) | – |
//!
//! Precedence is builder > environment > INI file > default. Booleans accept what pydantic
//! accepts (true/1/yes/on/t/y and false/0/no/off/f/n, any case); an empty value counts as unset.
//!
//! What [`ConfigBuilder::resolve`] decides, in order:
//! 1. `track_disable` is true → [`Resolved::Disabled`]`(TrackDisable)`, whatever else is set,
//!    broken or not (only builder knob values are still checked: they are code bugs).
//! 2. Neither a URL nor an API key anywhere → [`Resolved::Local`] if `local` is set, else
//!    [`Resolved::Disabled`]`(NothingConfigured)`. The SDK never guesses a self-hosted server on
//!    `localhost`: sending to a server nobody configured is a surprise, and failing to is noise.
//! 3. `local` is set and comes from a *stronger* source than the URL/key (e.g. `OPIK_LOCAL=1`
//!    while the key sits in `~/.opik.config`) → [`Resolved::Local`]: the user asked for printing
//!    here and now, and a long-lived config file should not override that. When the URL/key
//!    come from the same or a stronger source (`OPIK_LOCAL=1` next to `OPIK_API_KEY`), sending
//!    for real wins.
//! 4. Otherwise [`Resolved::Enabled`]. Key without URL → the `baseUrl` embedded in an enhanced
//!    key (`<key>*<base64 JSON>`, as the Python SDK does), else Opik Cloud ([`CLOUD_URL`]). URL
//!    without key → a self-hosted Opik.
//!
//! Empty (or whitespace-only) URL and API key values count as unset: older `opik configure`
//! versions wrote `api_key =` for "no key", and `VAR=` is the shell idiom for "not set". A blank
//! workspace or project name, on the other hand, is an error, since it would be sent.
//!
//! Proxies: honoured for `https://` URLs (the key travels inside the `CONNECT` tunnel), never
//! for a loopback URL, and never for a plain `http://` URL with an API key (the proxy would read
//! the key); `no_proxy` is respected. The variables are read through the same environment as
//! the rest (injectable in tests), not by the HTTP client; `proxy` has the details.
//!
//! Owns: reading and checking settings (`builder` records what code set, `resolve` applies the
//! precedence above, `sources` reads the environment and the file, `validate` and `knobs` check
//! values, `key` handles API keys, `proxy` picks the proxy). May import `model` only: everything that runs (the pipe,
//! the exporter) takes a [`Config`] that is already checked.

mod builder;
mod error;
mod key;
mod knobs;
mod proxy;
mod resolve;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use builder::ConfigBuilder;
pub use error::{ConfigError, ErrorKind, Origin};
pub use key::ApiKey;
pub(crate) use knobs::ExportSettings;
pub use knobs::{MAX_BATCH_ITEMS, MAX_MAX_RETRIES, MAX_QUEUE_CAPACITY, MIN_BATCH_MAX_BYTES};
pub(crate) use proxy::{Ignored as ProxyIgnored, ProxyChoice};

/// Opik Cloud's API base, used when an API key is given without a URL.
pub const CLOUD_URL: &str = "https://www.comet.com/opik/api";
/// Project used when none is configured, the same as the Python SDK's.
pub const DEFAULT_PROJECT_NAME: &str = "Default Project";
/// Workspace used when none is configured; the only one an open-source Opik has.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Why the SDK is off. Its `Display` is the one log line telling the user how to turn it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// No URL and no API key in the builder, the environment or the config file.
    NothingConfigured,
    /// `track_disable` / `OPIK_TRACK_DISABLE` is true.
    TrackDisable,
}

impl fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisabledReason::NothingConfigured => f.write_str(
                "opik: tracing is off because no Opik server is configured. To send traces, set \
                 OPIK_URL_OVERRIDE (self-hosted, e.g. http://localhost:5173/api) and/or \
                 OPIK_API_KEY (Opik Cloud), or put url_override / api_key under [opik] in \
                 ~/.opik.config (or the file named by OPIK_CONFIG_PATH); to print traces \
                 locally instead, set OPIK_LOCAL=1.",
            ),
            DisabledReason::TrackDisable => f.write_str(
                "opik: tracing is off because track_disable is set (OPIK_TRACK_DISABLE, \
                 track_disable in ~/.opik.config, or ConfigBuilder::track_disable). Unset it \
                 to send traces again.",
            ),
        }
    }
}

/// The outcome of [`ConfigBuilder::resolve`]: what the SDK should do.
#[derive(Clone, Debug)]
pub enum Resolved {
    /// Send traces to [`Config::base_url`].
    Enabled(Config),
    /// Print traces locally instead of sending them. The URL and key are present only if they
    /// were configured (see the module docs for when `local` beats them).
    Local(Config),
    /// Record nothing; log the reason's `Display` once.
    Disabled(DisabledReason),
}

impl Resolved {
    /// The configuration, unless disabled.
    pub fn config(&self) -> Option<&Config> {
        match self {
            Resolved::Enabled(c) | Resolved::Local(c) => Some(c),
            Resolved::Disabled(_) => None,
        }
    }

    /// The configuration, unless disabled.
    pub fn into_config(self) -> Option<Config> {
        match self {
            Resolved::Enabled(c) | Resolved::Local(c) => Some(c),
            Resolved::Disabled(_) => None,
        }
    }
}

/// A value with the place it came from, kept so the summary and errors can name it.
#[derive(Clone, Debug)]
struct Sourced<T> {
    value: T,
    origin: Origin,
}

/// A validated configuration. Built only by [`ConfigBuilder::resolve`], so every value in it has
/// passed the checks: the exporter can use it without re-validating.
///
/// `Debug` and `Display` never show the API key. `Display` is a one-line summary with the origin
/// of each value, suitable for a debug log at startup.
#[derive(Clone, Debug)]
pub struct Config {
    base_url: Option<Sourced<String>>,
    api_key: Option<Sourced<ApiKey>>,
    workspace: Sourced<String>,
    project_name: Sourced<String>,
    export: ExportSettings,
    local_file: Option<PathBuf>,
    environment: Option<String>,
    proxy: ProxyChoice,
}

impl Config {
    /// The API base, normalized (lower-case scheme and host, no default port, no trailing
    /// slash), e.g. `http://127.0.0.1:4000/api`. Always set in [`Resolved::Enabled`]; empty in a
    /// [`Resolved::Local`] configuration that has no URL.
    pub fn base_url(&self) -> &str {
        self.base_url.as_ref().map_or("", |u| u.value.as_str())
    }

    /// The API base if one is configured; `None` only in [`Resolved::Local`].
    pub fn url(&self) -> Option<&str> {
        self.base_url.as_ref().map(|u| u.value.as_str())
    }

    /// Where the URL came from (builder, env var, file, default cloud URL, the key's `baseUrl`).
    pub fn url_origin(&self) -> Option<&Origin> {
        self.base_url.as_ref().map(|u| &u.origin)
    }

    /// The full URL of an API endpoint: `endpoint("/v1/private/traces/batch")` is
    /// `base_url() + "/v1/private/traces/batch"`. A missing leading `/` is added.
    pub fn endpoint(&self, path: &str) -> String {
        let base = self.base_url();
        if path.starts_with('/') {
            format!("{base}{path}")
        } else {
            format!("{base}/{path}")
        }
    }

    /// The API key, if any. Self-hosted Opik usually needs none.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref().map(|k| &k.value)
    }

    /// The workspace, sent as the `Comet-Workspace` header.
    pub fn workspace(&self) -> &str {
        &self.workspace.value
    }

    /// The project traces are logged to unless a call names another.
    pub fn project_name(&self) -> &str {
        &self.project_name.value
    }

    /// The JSON lines file the local view writes (`ConfigBuilder::local_file`, else
    /// `OPIK_LOCAL_FILE`); `None` lets the local view pick a new file in the temp directory.
    pub fn local_file(&self) -> Option<&Path> {
        self.local_file.as_deref()
    }

    /// The environment every trace and span is recorded in (`environment`), if set.
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// The exporter's settings, checked.
    pub(crate) fn export(&self) -> &ExportSettings {
        &self.export
    }

    /// Whether requests to [`Config::base_url`] go through a proxy (see `proxy` for the rules).
    pub(crate) fn proxy(&self) -> &ProxyChoice {
        &self.proxy
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.base_url {
            Some(u) => write!(f, "url_override={} (from {})", u.value, u.origin)?,
            None => f.write_str("url_override=<none>")?,
        }
        match &self.api_key {
            Some(k) => write!(f, ", api_key=<redacted> (from {})", k.origin)?,
            None => f.write_str(", api_key=<none>")?,
        }
        write!(
            f,
            ", workspace={:?} (from {}), project_name={:?} (from {})",
            self.workspace.value,
            self.workspace.origin,
            self.project_name.value,
            self.project_name.origin
        )?;
        write!(f, ", proxy={}", self.proxy)
    }
}
