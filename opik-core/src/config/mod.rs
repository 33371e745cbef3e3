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
//! | INI file | [`ConfigBuilder::config_file`] | `OPIK_CONFIG_PATH` | – (default `~/.opik.config`) |
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

mod error;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::{ConfigError, ErrorKind, Origin};

use sources::{
    Env, FileValues, KeyAttributes, ENV_API_KEY, ENV_LOCAL, ENV_LOCAL_FILE, ENV_PROJECT,
    ENV_TRACK_DISABLE, ENV_URL, ENV_WORKSPACE, KEY_API_KEY, KEY_PROJECT, KEY_TRACK_DISABLE,
    KEY_URL, KEY_WORKSPACE,
};

/// Opik Cloud's API base, used when an API key is given without a URL.
pub const CLOUD_URL: &str = "https://www.comet.com/opik/api";
/// Project used when none is configured, the same as the Python SDK's.
pub const DEFAULT_PROJECT_NAME: &str = "Default Project";
/// Workspace used when none is configured; the only one an open-source Opik has.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Default capacity of the exporter's queue, in records.
pub const DEFAULT_QUEUE_CAPACITY: usize = 16_384;
/// Upper bound for [`ConfigBuilder::queue_capacity`]: a bounded queue allocates its slots up
/// front, so an absurd capacity would abort the process instead of buffering.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;
/// Default and maximum number of items per batch request; 1000 is Opik's batch limit.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// Default cap on a batch's uncompressed JSON size.
pub const DEFAULT_BATCH_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Smallest allowed [`ConfigBuilder::batch_max_bytes`]: below this, one ordinary span with a
/// prompt no longer fits, and batching degenerates into a request per record.
pub const MIN_BATCH_MAX_BYTES: usize = 64 * 1024;
/// Default time a partly filled batch waits for more records.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Default time the exporter may spend flushing at shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);
/// Default timeout of one HTTP request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default age after which a still-running span is sent early as a start record.
pub const DEFAULT_LONG_SPAN_THRESHOLD: Duration = Duration::from_secs(5);
/// Default number of retries of one batch after its first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Upper bound for [`ConfigBuilder::max_retries`].
pub const MAX_MAX_RETRIES: u32 = 100;
/// Default time one batch may be retried, from its first attempt.
pub const DEFAULT_RETRY_DEADLINE: Duration = Duration::from_secs(30);

/// An Opik API key.
///
/// A distinct type so the secret cannot end up in logs by accident: `Debug` and `Display` print
/// `<redacted>`; [`ApiKey::expose`] is for the one place that sets the `authorization` header.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself. Call this only to build the `authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

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
    queue_capacity: usize,
    batch_max_items: usize,
    batch_max_bytes: usize,
    flush_interval: Duration,
    shutdown_timeout: Duration,
    request_timeout: Duration,
    connect_timeout: Duration,
    long_span_threshold: Option<Duration>,
    max_retries: u32,
    retry_deadline: Duration,
    local_file: Option<PathBuf>,
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

    /// Capacity of the exporter's queue, in records; when full, new records are dropped rather
    /// than blocking the traced code.
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// Maximum number of items in one batch request (1..=1000).
    pub fn batch_max_items(&self) -> usize {
        self.batch_max_items
    }

    /// Maximum uncompressed JSON size of one batch request, in bytes.
    pub fn batch_max_bytes(&self) -> usize {
        self.batch_max_bytes
    }

    /// How long a partly filled batch waits for more records before it is sent.
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }

    /// How long shutdown may spend flushing what is queued.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Timeout of one HTTP request, connection included.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Timeout for establishing a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Spans running longer than this are sent early as a start record, so they show up in Opik
    /// while still running; `None` sends every span only when it ends. Watched: trace roots,
    /// async spans once they first wait, and sync spans typed `llm`, `tool` or `guardrail`
    /// (see `export::progress`).
    pub fn long_span_threshold(&self) -> Option<Duration> {
        self.long_span_threshold
    }

    /// The JSON lines file the local view writes (`ConfigBuilder::local_file`, else
    /// `OPIK_LOCAL_FILE`); `None` lets the local view pick a new file in the temp directory.
    pub fn local_file(&self) -> Option<&Path> {
        self.local_file.as_deref()
    }

    /// Retries of one batch after its first attempt, for failures where a retry is safe
    /// (network errors, timeouts, 408, 429, 5xx).
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// How long one batch may be retried, from its first attempt; rate-limit pauses asked for
    /// by the server extend it.
    pub fn retry_deadline(&self) -> Duration {
        self.retry_deadline
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
        )
    }
}

/// Builds a [`Config`] from code, the environment and the INI file.
///
/// Setters only record values; nothing is read or checked until [`ConfigBuilder::resolve`], so a
/// builder can be made early and resolved when the SDK starts. Values set here beat the
/// environment and the file.
///
/// `Debug` shows what was set, with the API key redacted.
#[derive(Clone)]
pub struct ConfigBuilder {
    env: Env,
    url: Option<String>,
    api_key: Option<ApiKey>,
    workspace: Option<String>,
    project_name: Option<String>,
    track_disable: Option<bool>,
    local: Option<bool>,
    local_file: Option<PathBuf>,
    config_file: Option<PathBuf>,
    allow_http_api_key: bool,
    queue_capacity: Option<usize>,
    batch_max_items: Option<usize>,
    batch_max_bytes: Option<usize>,
    flush_interval: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    long_span_threshold: Option<Option<Duration>>,
    max_retries: Option<u32>,
    retry_deadline: Option<Duration>,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out so that the env closure is summarized and the key stays redacted even if
        // a field's type changes later.
        f.debug_struct("ConfigBuilder")
            .field("env", &self.env)
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("workspace", &self.workspace)
            .field("project_name", &self.project_name)
            .field("track_disable", &self.track_disable)
            .field("local", &self.local)
            .field("local_file", &self.local_file)
            .field("config_file", &self.config_file)
            .field("allow_http_api_key", &self.allow_http_api_key)
            .field("queue_capacity", &self.queue_capacity)
            .field("batch_max_items", &self.batch_max_items)
            .field("batch_max_bytes", &self.batch_max_bytes)
            .field("flush_interval", &self.flush_interval)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("long_span_threshold", &self.long_span_threshold)
            .field("max_retries", &self.max_retries)
            .field("retry_deadline", &self.retry_deadline)
            .finish()
    }
}

impl ConfigBuilder {
    fn with_source(env: Env) -> Self {
        ConfigBuilder {
            env,
            url: None,
            api_key: None,
            workspace: None,
            project_name: None,
            track_disable: None,
            local: None,
            local_file: None,
            config_file: None,
            allow_http_api_key: false,
            queue_capacity: None,
            batch_max_items: None,
            batch_max_bytes: None,
            flush_interval: None,
            shutdown_timeout: None,
            request_timeout: None,
            connect_timeout: None,
            long_span_threshold: None,
            max_retries: None,
            retry_deadline: None,
        }
    }

    /// A builder that reads the process environment (at [`resolve`](Self::resolve) time).
    pub fn new() -> Self {
        Self::with_source(Env::Process)
    }

    /// A builder that reads environment variables through `env` instead of the process
    /// environment, also for `HOME` (so `~/.opik.config` is only found if `env` gives `HOME`).
    /// Tests use it to stay independent of each other and of the machine.
    pub fn with_env<F>(env: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        Self::with_source(Env::Injected(Arc::new(env)))
    }

    /// [`with_env`](Self::with_env) over a fixed set of variables, e.g.
    /// `ConfigBuilder::with_env_map([("OPIK_API_KEY", "...")])`.
    pub fn with_env_map<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: std::collections::HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::with_env(move |name| map.get(name).cloned())
    }

    /// The Opik API base (`url_override`), e.g. `http://localhost:5173/api` or
    /// `https://www.comet.com/opik/api`. Empty means unset.
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The API key (Opik Cloud or a secured self-hosted install). Empty means unset.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// The workspace (`Comet-Workspace` header); must not be blank.
    #[must_use]
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.workspace = Some(workspace.into());
        self
    }

    /// The default project; must not be blank.
    #[must_use]
    pub fn project_name(mut self, project: impl Into<String>) -> Self {
        self.project_name = Some(project.into());
        self
    }

    /// Turns tracking off (`true`) or forces it on (`false`) regardless of the environment and
    /// file.
    #[must_use]
    pub fn track_disable(mut self, yes: bool) -> Self {
        self.track_disable = Some(yes);
        self
    }

    /// Prints traces locally instead of sending them. Set in code, it beats a URL/key from the
    /// environment or file (see the module docs).
    #[must_use]
    pub fn local(mut self, yes: bool) -> Self {
        self.local = Some(yes);
        self
    }

    /// The JSON lines file the local view appends request bodies to (beats `OPIK_LOCAL_FILE`;
    /// by default a new file in the system temp directory).
    #[must_use]
    pub fn local_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.local_file = Some(path.into());
        self
    }

    /// Reads this INI file instead of `OPIK_CONFIG_PATH` / `~/.opik.config`. It must exist.
    #[must_use]
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Allows sending the API key over plain `http://` to a host that is not loopback. Off by
    /// default because the key would cross the network in clear text; turn it on only for a
    /// trusted network path (e.g. a sidecar or a mesh that encrypts for you).
    #[must_use]
    pub fn allow_http_api_key(mut self, yes: bool) -> Self {
        self.allow_http_api_key = yes;
        self
    }

    /// Capacity of the exporter's queue in records (default 16 384, 1..=16 777 216). When it is
    /// full new records are dropped, so traced code never waits on the network.
    #[must_use]
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = Some(n);
        self
    }

    /// Maximum items per batch request (default and maximum 1000, Opik's batch limit).
    #[must_use]
    pub fn batch_max_items(mut self, n: usize) -> Self {
        self.batch_max_items = Some(n);
        self
    }

    /// Maximum uncompressed JSON bytes per batch request (default 4 MiB, at least 64 KiB). Keeps
    /// requests under proxies' and the server's body limits.
    #[must_use]
    pub fn batch_max_bytes(mut self, n: usize) -> Self {
        self.batch_max_bytes = Some(n);
        self
    }

    /// How long a partly filled batch waits for more records (default 500 ms, must be > 0):
    /// the trade-off between request count and how soon traces appear.
    #[must_use]
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.flush_interval = Some(d);
        self
    }

    /// How long shutdown may spend flushing (default 2 s; zero means do not wait).
    #[must_use]
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.shutdown_timeout = Some(d);
        self
    }

    /// Timeout of one HTTP request (default 10 s, must be > 0).
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = Some(d);
        self
    }

    /// Timeout for connecting (default 3 s, must be > 0).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// Spans running longer than this are sent early as a start record so they are visible
    /// while running (default `Some(5 s)`; `None` never does). Watched: trace roots, async spans
    /// once they first wait, and sync spans typed `llm`, `tool` or `guardrail`; a nested sync
    /// `general` span is sent when it ends.
    #[must_use]
    pub fn long_span_threshold(mut self, d: Option<Duration>) -> Self {
        self.long_span_threshold = Some(d);
        self
    }

    /// Retries of one batch after its first attempt (default 5, at most 100; 0 never retries).
    /// Only failures where a retry is safe are retried: network errors, timeouts, 408, 429,
    /// 500, 502, 503, 504.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// How long one batch may be retried, from its first attempt (default 30 s, must be > 0).
    /// Waits the server asks for with a 429 extend it.
    #[must_use]
    pub fn retry_deadline(mut self, d: Duration) -> Self {
        self.retry_deadline = Some(d);
        self
    }

    /// Reads the environment and the config file, applies precedence and defaults, and checks
    /// everything. See the module docs for the rules.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting, its origin, the bad value (never the API key) and
    /// the fix: a malformed URL, a key that would go over plain http to a remote host, a blank
    /// project or workspace, a knob out of range, an unreadable or unparsable config file, a
    /// boolean that is not one.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        // Knobs first: they only come from code, so a bad one is a bug worth reporting even
        // while tracking is disabled.
        let knobs = self.knobs()?;

        // track_disable beats everything, so it is decided before the file is even needed.
        let mut file: Option<FileValues> = None;
        let mut file_loaded = false;
        let track_disable = match self.track_disable {
            Some(yes) => yes,
            None => match self.env_bool(ENV_TRACK_DISABLE, KEY_TRACK_DISABLE)? {
                Some(yes) => yes,
                None => {
                    file = self.load_file()?;
                    file_loaded = true;
                    match file.as_ref().and_then(|f| f.get(KEY_TRACK_DISABLE)) {
                        Some((raw, origin)) if !raw.trim().is_empty() => {
                            sources::parse_bool(&raw, KEY_TRACK_DISABLE, origin)?
                        }
                        _ => false,
                    }
                }
            },
        };
        if track_disable {
            return Ok(Resolved::Disabled(DisabledReason::TrackDisable));
        }
        if !file_loaded {
            file = self.load_file()?;
        }
        let file = file.unwrap_or_default();

        let local = match self.local {
            Some(yes) => Some(Sourced {
                value: yes,
                origin: Origin::Builder("local"),
            }),
            None => self.env_bool(ENV_LOCAL, "local")?.map(|yes| Sourced {
                value: yes,
                origin: Origin::Env(ENV_LOCAL),
            }),
        };

        let local_file = match &self.local_file {
            Some(path) => Some(path.clone()),
            None => self
                .env
                .get(ENV_LOCAL_FILE)?
                .filter(|p| !p.trim().is_empty())
                .map(PathBuf::from),
        };

        let url = self.pick(self.url.clone(), "url", ENV_URL, KEY_URL, &file, true)?;
        let key = self.pick(
            self.api_key.as_ref().map(|k| k.expose().to_owned()),
            "api_key",
            ENV_API_KEY,
            KEY_API_KEY,
            &file,
            true,
        )?;
        let workspace = self
            .pick(
                self.workspace.clone(),
                "workspace",
                ENV_WORKSPACE,
                KEY_WORKSPACE,
                &file,
                false,
            )?
            .unwrap_or_else(|| Sourced {
                value: DEFAULT_WORKSPACE.to_owned(),
                origin: Origin::Default,
            });
        let project_name = self
            .pick(
                self.project_name.clone(),
                "project_name",
                ENV_PROJECT,
                KEY_PROJECT,
                &file,
                false,
            )?
            .unwrap_or_else(|| Sourced {
                value: DEFAULT_PROJECT_NAME.to_owned(),
                origin: Origin::Default,
            });

        validate::not_quoted(&workspace.value, KEY_WORKSPACE, &workspace.origin, false)?;
        validate::non_blank(
            &workspace.value,
            KEY_WORKSPACE,
            &workspace.origin,
            DEFAULT_WORKSPACE,
        )?;
        validate::not_quoted(
            &project_name.value,
            KEY_PROJECT,
            &project_name.origin,
            false,
        )?;
        validate::non_blank(
            &project_name.value,
            KEY_PROJECT,
            &project_name.origin,
            "my-llm-app",
        )?;

        let key = match key {
            Some(k) => Some(self.check_key(k)?),
            None => None,
        };

        // Which source asked for sending, for the local-vs-enabled rule; a derived URL does not
        // count on its own (it follows the key).
        let strongest_target = [url.as_ref(), key.as_ref().map(|k| &k.0)]
            .into_iter()
            .flatten()
            .map(|s| s.origin.rank())
            .max();

        let base_url = match (&url, &key) {
            (Some(u), _) => {
                validate::not_quoted(&u.value, KEY_URL, &u.origin, false)?;
                Some(Sourced {
                    value: validate::base_url(&u.value, &u.origin)?,
                    origin: u.origin.clone(),
                })
            }
            (None, Some((_, key_base))) => {
                let (raw, origin) = match key_base {
                    Some(derived) => (derived.as_str(), Origin::ApiKeyBaseUrl),
                    None => (CLOUD_URL, Origin::Default),
                };
                Some(Sourced {
                    value: validate::base_url(raw, &origin)?,
                    origin,
                })
            }
            (None, None) => None,
        };

        if let (Some(u), Some((k, _))) = (&base_url, &key) {
            if !self.allow_http_api_key {
                validate::check_transport(&u.value, &u.origin, &k.origin)?;
            }
        }

        let config = Config {
            base_url: base_url.map(|u| Sourced {
                value: u.value.normalized,
                origin: u.origin,
            }),
            api_key: key.map(|(k, _)| Sourced {
                value: ApiKey(k.value),
                origin: k.origin,
            }),
            workspace,
            project_name,
            queue_capacity: knobs.queue_capacity,
            batch_max_items: knobs.batch_max_items,
            batch_max_bytes: knobs.batch_max_bytes,
            flush_interval: knobs.flush_interval,
            shutdown_timeout: knobs.shutdown_timeout,
            request_timeout: knobs.request_timeout,
            connect_timeout: knobs.connect_timeout,
            long_span_threshold: knobs.long_span_threshold,
            max_retries: knobs.max_retries,
            retry_deadline: knobs.retry_deadline,
            local_file,
        };

        let local_rank = local.as_ref().filter(|l| l.value).map(|l| l.origin.rank());
        let resolved = match (strongest_target, local_rank) {
            (None, Some(_)) => Resolved::Local(config),
            (None, None) => Resolved::Disabled(DisabledReason::NothingConfigured),
            (Some(target), Some(local)) if local > target => Resolved::Local(config),
            (Some(_), _) => Resolved::Enabled(config),
        };
        if let Some(config) = resolved.config() {
            tracing::debug!(%config, local = matches!(resolved, Resolved::Local(_)), "opik config resolved");
        }
        Ok(resolved)
    }

    fn load_file(&self) -> Result<Option<FileValues>, ConfigError> {
        match sources::locate_file(self.config_file.as_deref(), &self.env)? {
            Some(location) => sources::load_file(&location),
            None => Ok(None),
        }
    }

    /// An env boolean; empty counts as unset (`VAR=` is how shells and compose files unset).
    fn env_bool(
        &self,
        name: &'static str,
        setting: &'static str,
    ) -> Result<Option<bool>, ConfigError> {
        match self.env.get(name)? {
            Some(raw) if !raw.trim().is_empty() => {
                sources::parse_bool(&raw, setting, Origin::Env(name)).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Applies precedence to one string setting: builder, then env, then file. With
    /// `blank_is_unset` (URL and key), a whitespace-only value is skipped so the next source
    /// applies, and values are trimmed, since surrounding whitespace is never part of either.
    fn pick(
        &self,
        builder: Option<String>,
        method: &'static str,
        env_name: &'static str,
        file_key: &'static str,
        file: &FileValues,
        blank_is_unset: bool,
    ) -> Result<Option<Sourced<String>>, ConfigError> {
        let accept = |value: String, origin: Origin| {
            if !blank_is_unset {
                return Some(Sourced { value, origin });
            }
            let trimmed = value.trim();
            (!trimmed.is_empty()).then(|| Sourced {
                value: trimmed.to_owned(),
                origin,
            })
        };
        if let Some(found) = builder.and_then(|v| accept(v, Origin::Builder(method))) {
            return Ok(Some(found));
        }
        if let Some(found) = self
            .env
            .get(env_name)?
            .and_then(|v| accept(v, Origin::Env(env_name)))
        {
            return Ok(Some(found));
        }
        Ok(file
            .get(file_key)
            .and_then(|(value, origin)| accept(value, origin)))
    }

    /// Checks the key and works out the URL its attributes imply, if any. The key is trimmed:
    /// surrounding whitespace is never part of a key and would break the header.
    fn check_key(
        &self,
        key: Sourced<String>,
    ) -> Result<(Sourced<String>, Option<String>), ConfigError> {
        let mut value = key.value.trim().to_owned();
        validate::not_quoted(&value, KEY_API_KEY, &key.origin, true)?;
        validate::api_key_chars(&value, &key.origin)?;
        let base = match sources::key_attributes(&value) {
            KeyAttributes::None => {
                // "key*" with nothing after the star: the Python SDK sends just "key".
                if let Some(stripped) = value.strip_suffix('*') {
                    if !stripped.contains('*') {
                        value = stripped.to_owned();
                    }
                }
                None
            }
            KeyAttributes::BaseUrl(base) => Some(validate::url_from_key_base(&base).ok_or_else(|| {
                ConfigError::new(
                    ErrorKind::InvalidApiKey,
                    KEY_API_KEY,
                    key.origin.clone(),
                    None,
                    "carries a baseUrl that is not a valid URL",
                    "Set url_override explicitly, or copy the key again from your Comet account settings.",
                )
            })?),
            KeyAttributes::Corrupt => {
                return Err(ConfigError::new(
                    ErrorKind::InvalidApiKey,
                    KEY_API_KEY,
                    key.origin,
                    None,
                    "has a '*' suffix that is not base64-encoded JSON, so it looks truncated or mistyped",
                    "Copy the key again from your Opik/Comet account settings.",
                ))
            }
        };
        Ok((
            Sourced {
                value,
                origin: key.origin,
            },
            base,
        ))
    }

    fn knobs(&self) -> Result<Knobs, ConfigError> {
        let flush_interval = match self.flush_interval {
            Some(d) => validate::nonzero_duration(
                "flush_interval",
                d,
                "a partly filled batch would be sent immediately, over and over",
            )?,
            None => DEFAULT_FLUSH_INTERVAL,
        };
        let request_timeout = match self.request_timeout {
            Some(d) => validate::nonzero_duration(
                "request_timeout",
                d,
                "every request would time out at once",
            )?,
            None => DEFAULT_REQUEST_TIMEOUT,
        };
        let connect_timeout = match self.connect_timeout {
            Some(d) => validate::nonzero_duration(
                "connect_timeout",
                d,
                "every connection attempt would time out at once",
            )?,
            None => DEFAULT_CONNECT_TIMEOUT,
        };
        let retry_deadline = match self.retry_deadline {
            Some(d) => validate::nonzero_duration(
                "retry_deadline",
                d,
                "no failed request could ever be retried",
            )?,
            None => DEFAULT_RETRY_DEADLINE,
        };
        let max_retries = match self.max_retries {
            Some(n) => validate::usize_in_range(
                "max_retries",
                n as usize,
                0,
                Some(MAX_MAX_RETRIES as usize),
                "more retries only prolong an outage; the retry deadline bounds them anyway",
            )? as u32,
            None => DEFAULT_MAX_RETRIES,
        };
        Ok(Knobs {
            max_retries,
            retry_deadline,
            queue_capacity: match self.queue_capacity {
                Some(n) => validate::usize_in_range(
                    "queue_capacity",
                    n,
                    1,
                    Some(MAX_QUEUE_CAPACITY),
                    "the queue preallocates its slots and needs at least one",
                )?,
                None => DEFAULT_QUEUE_CAPACITY,
            },
            batch_max_items: match self.batch_max_items {
                Some(n) => validate::usize_in_range(
                    "batch_max_items",
                    n,
                    1,
                    Some(MAX_BATCH_ITEMS),
                    "Opik accepts at most 1000 items per batch request",
                )?,
                None => MAX_BATCH_ITEMS,
            },
            batch_max_bytes: match self.batch_max_bytes {
                Some(n) => validate::usize_in_range(
                    "batch_max_bytes",
                    n,
                    MIN_BATCH_MAX_BYTES,
                    None,
                    "smaller batches could not hold one ordinary span with its prompt",
                )?,
                None => DEFAULT_BATCH_MAX_BYTES,
            },
            flush_interval,
            shutdown_timeout: self.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
            request_timeout,
            connect_timeout,
            long_span_threshold: self
                .long_span_threshold
                .unwrap_or(Some(DEFAULT_LONG_SPAN_THRESHOLD)),
        })
    }
}

/// Checked exporter knobs.
struct Knobs {
    queue_capacity: usize,
    batch_max_items: usize,
    batch_max_bytes: usize,
    flush_interval: Duration,
    shutdown_timeout: Duration,
    request_timeout: Duration,
    connect_timeout: Duration,
    long_span_threshold: Option<Duration>,
    max_retries: u32,
    retry_deadline: Duration,
}
