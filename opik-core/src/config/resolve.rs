//! [`ConfigBuilder::resolve`]: the precedence algorithm of the module docs, applied to what
//! the builder, the environment and the INI file give.

use super::error::{ConfigError, ErrorKind, Origin};
use super::key::{key_attributes, ApiKey, KeyAttributes};
use super::knobs::ExportSettings;
use super::proxy::{self, ProxyChoice};
use super::sources::{
    self, FileLocation, FileValues, ENV_API_KEY, ENV_ENVIRONMENT, ENV_LOCAL, ENV_LOCAL_FILE,
    ENV_PROJECT, ENV_SSL_CERT_FILE, ENV_TRACK_DISABLE, ENV_URL, ENV_WORKSPACE, KEY_API_KEY,
    KEY_ENVIRONMENT, KEY_PROJECT, KEY_TRACK_DISABLE, KEY_URL, KEY_WORKSPACE,
};
use super::tls::{self, CaBundle};
use super::{
    validate, Config, ConfigBuilder, DisabledReason, Resolved, Sourced, CLOUD_URL,
    DEFAULT_PROJECT_NAME, DEFAULT_WORKSPACE,
};
use std::path::{Path, PathBuf};

/// Where the config file was looked for (none without a home directory), and what it holds
/// (none when it is missing from its default location).
type Loaded = (Option<FileLocation>, Option<FileValues>);

impl ConfigBuilder {
    /// Reads the environment and the config file, applies precedence and defaults, and checks
    /// everything. See the module docs for the rules.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting, its origin, the bad value (never the API key) and
    /// the fix: a malformed URL, a key that would go over plain http to a remote host, a blank
    /// project or workspace, a knob out of range or not a number, an unreadable or unparsable
    /// config file, a boolean that is not one, a CA certificates file without certificates.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        // Knobs set in code first: a bad one is a bug in the app, worth reporting even while
        // tracking is disabled.
        let (from_code, code_origins) = ExportSettings::from_code(&self.export);
        from_code.check(&code_origins)?;

        // track_disable beats everything, so it is decided before the file is even needed.
        let mut loaded: Option<Loaded> = None;
        let track_disable = match self.track_disable {
            Some(yes) => yes,
            None => match self.env_bool(ENV_TRACK_DISABLE, KEY_TRACK_DISABLE)? {
                Some(yes) => yes,
                None => {
                    let (_, file) = loaded.insert(self.load_file()?);
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
        let (location, file) = match loaded {
            Some(loaded) => loaded,
            None => self.load_file()?,
        };
        let config_file = location.map(|l| {
            let path = Sourced {
                value: l.path,
                origin: l.origin,
            };
            (path, file.is_some())
        });
        let file = file.unwrap_or_default();
        let (export, export_origins) = ExportSettings::resolve(&self.export, &self.env, &file)?;

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

        let environment = self.pick(
            self.environment.clone(),
            "environment",
            ENV_ENVIRONMENT,
            KEY_ENVIRONMENT,
            &file,
            true,
        )?;
        if let Some(env) = &environment {
            validate::environment(&env.value, &env.origin)?;
        }

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

        // Read only when there is a server to talk to: SSL_CERT_FILE is the whole machine's
        // setting, and a stale one must not break an app that never configured Opik.
        let ca_bundle = if export.check_tls_certificate && base_url.is_some() {
            self.ca_bundle()?
        } else {
            None
        };

        let proxy = match &base_url {
            Some(u) => proxy::choose(&self.env, &u.value, key.is_some())?,
            None => ProxyChoice::Direct,
        };

        let config = Config {
            base_url: base_url.map(|u| Sourced {
                value: u.value.normalized,
                origin: u.origin,
            }),
            api_key: key.map(|(k, _)| Sourced {
                value: ApiKey::new(k.value),
                origin: k.origin,
            }),
            workspace,
            project_name,
            export,
            export_origins,
            local_file,
            environment,
            proxy,
            ca_bundle,
            config_file,
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

    fn load_file(&self) -> Result<Loaded, ConfigError> {
        let location = sources::locate_file(self.config_file.as_deref(), &self.env)?;
        let file = match &location {
            Some(location) => sources::load_file(location)?,
            None => None,
        };
        Ok((location, file))
    }

    /// The CA certificates file: the builder's, else `SSL_CERT_FILE` (blank counts as unset).
    /// The Python SDK reads it from the environment only, so no file key.
    fn ca_bundle(&self) -> Result<Option<CaBundle>, ConfigError> {
        if let Some(path) = &self.ssl_cert_file {
            return tls::read_bundle(path, Origin::Builder("ssl_cert_file")).map(Some);
        }
        match self.env.get(ENV_SSL_CERT_FILE)? {
            Some(raw) if !raw.trim().is_empty() => {
                tls::read_bundle(Path::new(raw.trim()), Origin::Env(ENV_SSL_CERT_FILE)).map(Some)
            }
            _ => Ok(None),
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
        let base = match key_attributes(&value) {
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
}
