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
//! | CA certificates | [`ConfigBuilder::ssl_cert_file`] | `SSL_CERT_FILE` | – |
//! | exporter knobs | `knobs` (e.g. [`ConfigBuilder::shutdown_timeout`]) | `OPIK_DEFAULT_FLUSH_TIMEOUT`, ... | the Python SDK's only: `default_flush_timeout`, ... |
//!
//! The exporter knobs the Python SDK also has are read with its names, types and units
//! (`default_flush_timeout`, `log_start_trace_span`, `max_payload_size_mb`,
//! `enable_json_request_compression`, `request_compression_level`, `check_tls_certificate`,
//! `file_upload_background_workers`, `is_attachment_extraction_active`,
//! `min_base64_embedded_attachment_size`); the others only from the environment, as
//! `OPIK_<KNOB>`, since the Python SDK refuses to start on an unknown key in `[opik]`.
//! [`Config::settings`] lists every setting in effect with its origin (the healthcheck's table).
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
//! values, `knob_text` reads knobs' text, `key` handles API keys, `proxy` picks the proxy,
//! `tls` reads the CA certificates file). May import `model` only: everything that runs (the pipe,
//! the exporter) takes a [`Config`] that is already checked.

mod builder;
mod error;
mod key;
mod knob_text;
mod knobs;
mod proxy;
mod resolve;
mod sources;
mod tls;
mod validate;

#[cfg(test)]
mod knob_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use builder::ConfigBuilder;
pub use error::{ConfigError, ErrorKind, Origin};
pub use key::ApiKey;
pub(crate) use knobs::{ExportSettings, KnobOrigins};
pub use knobs::{MAX_BATCH_ITEMS, MAX_MAX_RETRIES, MAX_QUEUE_CAPACITY, MIN_BATCH_MAX_BYTES};
pub(crate) use proxy::{Ignored as ProxyIgnored, ProxyChoice};
pub(crate) use tls::CaBundle;

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
    export_origins: KnobOrigins,
    local_file: Option<PathBuf>,
    environment: Option<Sourced<String>>,
    proxy: ProxyChoice,
    ca_bundle: Option<CaBundle>,
    /// The INI file looked for, and whether it was there.
    config_file: Option<(Sourced<PathBuf>, bool)>,
}

/// One setting in effect, as [`Config::settings`] lists it (the healthcheck's table).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// The setting, spelled as [`ConfigError::setting`] spells it: the INI key of the main
    /// settings (`url_override`, `api_key`, ...), the builder method of the others
    /// (`queue_capacity`, `shutdown_timeout`, ...).
    pub name: &'static str,
    /// The value as shown: the API key masked, durations as `2s`, `unlimited`, `never`.
    pub value: String,
    /// Where the value came from.
    pub origin: Origin,
    /// The environment variable that sets it, if any.
    pub env: Option<&'static str>,
    /// Its key under `[opik]` in `~/.opik.config`, if it has one.
    pub file_key: Option<&'static str>,
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
        self.environment.as_ref().map(|e| e.value.as_str())
    }

    /// The CA certificates file trusted instead of the built-in roots
    /// ([`ConfigBuilder::ssl_cert_file`], else `SSL_CERT_FILE`), if one applies: none while
    /// [`check_tls_certificate`](Config::check_tls_certificate) is off.
    pub fn ssl_cert_file(&self) -> Option<&Path> {
        self.ca_bundle.as_ref().map(|b| b.path.as_path())
    }

    /// Every setting in effect with where it came from, the API key masked: what the
    /// healthcheck prints.
    pub fn settings(&self) -> Vec<Setting> {
        let row = |name, value: String, origin: Origin, env, file_key| Setting {
            name,
            value,
            origin,
            env,
            file_key,
        };
        let none = || "<none>".to_owned();
        let mut out = vec![
            match &self.config_file {
                Some((path, found)) => {
                    let shown = path.value.display().to_string();
                    let value = if *found {
                        shown
                    } else {
                        format!("{shown} (not found)")
                    };
                    row(
                        "config_file",
                        value,
                        path.origin.clone(),
                        Some(sources::ENV_CONFIG_PATH),
                        None,
                    )
                }
                None => row(
                    "config_file",
                    "<no home directory>".to_owned(),
                    Origin::Default,
                    Some(sources::ENV_CONFIG_PATH),
                    None,
                ),
            },
            match &self.base_url {
                Some(u) => row(
                    "url_override",
                    u.value.clone(),
                    u.origin.clone(),
                    Some(sources::ENV_URL),
                    Some(sources::KEY_URL),
                ),
                None => row(
                    "url_override",
                    none(),
                    Origin::Default,
                    Some(sources::ENV_URL),
                    Some(sources::KEY_URL),
                ),
            },
            match &self.api_key {
                Some(k) => row(
                    "api_key",
                    k.value.masked(),
                    k.origin.clone(),
                    Some(sources::ENV_API_KEY),
                    Some(sources::KEY_API_KEY),
                ),
                None => row(
                    "api_key",
                    none(),
                    Origin::Default,
                    Some(sources::ENV_API_KEY),
                    Some(sources::KEY_API_KEY),
                ),
            },
            row(
                "workspace",
                self.workspace.value.clone(),
                self.workspace.origin.clone(),
                Some(sources::ENV_WORKSPACE),
                Some(sources::KEY_WORKSPACE),
            ),
            row(
                "project_name",
                self.project_name.value.clone(),
                self.project_name.origin.clone(),
                Some(sources::ENV_PROJECT),
                Some(sources::KEY_PROJECT),
            ),
            match &self.environment {
                Some(e) => row(
                    "environment",
                    e.value.clone(),
                    e.origin.clone(),
                    Some(sources::ENV_ENVIRONMENT),
                    Some(sources::KEY_ENVIRONMENT),
                ),
                None => row(
                    "environment",
                    none(),
                    Origin::Default,
                    Some(sources::ENV_ENVIRONMENT),
                    Some(sources::KEY_ENVIRONMENT),
                ),
            },
            row(
                "proxy",
                self.proxy.to_string(),
                self.proxy.origin(),
                None,
                None,
            ),
            match &self.ca_bundle {
                Some(b) => row(
                    "ssl_cert_file",
                    b.path.display().to_string(),
                    b.origin.clone(),
                    Some(sources::ENV_SSL_CERT_FILE),
                    None,
                ),
                None => row(
                    "ssl_cert_file",
                    "<none: the built-in roots>".to_owned(),
                    Origin::Default,
                    Some(sources::ENV_SSL_CERT_FILE),
                    None,
                ),
            },
        ];
        out.extend(self.export.describe(&self.export_origins));
        out
    }

    /// The CA certificates to trust instead of the built-in roots, read at resolve time.
    pub(crate) fn ca_bundle(&self) -> Option<&CaBundle> {
        self.ca_bundle.as_ref()
    }

    /// Where a knob's value came from, by its name; `Default` for an unknown name.
    pub(crate) fn knob_origin(&self, knob: &str) -> Origin {
        self.export
            .describe(&self.export_origins)
            .into_iter()
            .find(|s| s.name == knob)
            .map_or(Origin::Default, |s| s.origin)
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
        write!(f, ", proxy={}", self.proxy)?;
        if !self.export.check_tls_certificate {
            f.write_str(", tls=NOT VERIFIED")?;
        } else if let Some(b) = &self.ca_bundle {
            write!(
                f,
                ", ssl_cert_file={} (from {})",
                b.path.display(),
                b.origin
            )?;
        }
        Ok(())
    }
}
