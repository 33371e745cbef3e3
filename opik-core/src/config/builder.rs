//! [`ConfigBuilder`]: what code sets. Setters only record values; [`ConfigBuilder::resolve`]
//! (in `resolve`) reads the other sources and checks everything.

use super::key::ApiKey;
use super::knobs::KnobsSet;
use super::sources::Env;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Builds a [`Config`](super::Config) from code, the environment and the INI file.
///
/// Setters only record values; nothing is read or checked until [`ConfigBuilder::resolve`], so a
/// builder can be made early and resolved when the SDK starts. Values set here beat the
/// environment and the file.
///
/// `Debug` shows what was set, with the API key redacted.
#[derive(Clone)]
pub struct ConfigBuilder {
    pub(super) env: Env,
    pub(super) url: Option<String>,
    pub(super) api_key: Option<ApiKey>,
    pub(super) workspace: Option<String>,
    pub(super) project_name: Option<String>,
    pub(super) track_disable: Option<bool>,
    pub(super) local: Option<bool>,
    pub(super) local_file: Option<PathBuf>,
    pub(super) environment: Option<String>,
    pub(super) config_file: Option<PathBuf>,
    pub(super) allow_http_api_key: bool,
    pub(super) ssl_cert_file: Option<PathBuf>,
    /// The exporter's knobs code set (checked by `resolve`).
    pub(super) export: KnobsSet,
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
            .field("environment", &self.environment)
            .field("config_file", &self.config_file)
            .field("allow_http_api_key", &self.allow_http_api_key)
            .field("ssl_cert_file", &self.ssl_cert_file)
            .field("export", &self.export)
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
            environment: None,
            config_file: None,
            allow_http_api_key: false,
            ssl_cert_file: None,
            export: KnobsSet::default(),
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

    /// The environment every trace and span is recorded in, e.g. `production` or `staging`
    /// (beats `OPIK_ENVIRONMENT` and `environment` in the config file; at most 150 characters),
    /// as the Python SDK's `environment` setting.
    #[must_use]
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
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

    /// A PEM file of the CA certificates that Opik's server certificate is checked against,
    /// instead of the built-in roots (beats `SSL_CERT_FILE`): for a self-hosted Opik behind a
    /// private CA. As in the Python SDK (and OpenSSL), the file replaces the built-in roots
    /// rather than adding to them, also for presigned storage URLs, so a bundle for a private
    /// CA must hold the public roots too if attachments go to public storage. Ignored when
    /// [`check_tls_certificate`](Self::check_tls_certificate) is off. Read, and checked to
    /// hold a certificate, by [`resolve`](Self::resolve).
    #[must_use]
    pub fn ssl_cert_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_cert_file = Some(path.into());
        self
    }
}
