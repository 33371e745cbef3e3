//! Reading the raw sources: the environment (process or injected) and the INI file, plus the
//! small parsers they share with the Python SDK (booleans, enhanced API keys).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ConfigError, ErrorKind, Origin};
use super::knobs::KNOB_FILE_KEYS;

pub(crate) const ENV_URL: &str = "OPIK_URL_OVERRIDE";
pub(crate) const ENV_API_KEY: &str = "OPIK_API_KEY";
pub(crate) const ENV_WORKSPACE: &str = "OPIK_WORKSPACE";
pub(crate) const ENV_PROJECT: &str = "OPIK_PROJECT_NAME";
pub(crate) const ENV_TRACK_DISABLE: &str = "OPIK_TRACK_DISABLE";
pub(crate) const ENV_CONFIG_PATH: &str = "OPIK_CONFIG_PATH";
pub(crate) const ENV_LOCAL: &str = "OPIK_LOCAL";
pub(crate) const ENV_LOCAL_FILE: &str = "OPIK_LOCAL_FILE";
pub(crate) const ENV_ENVIRONMENT: &str = "OPIK_ENVIRONMENT";
/// The CA certificates to trust instead of the built-in roots: the OpenSSL convention the
/// Python SDK follows (it reads no `OPIK_` name for it, and no file key).
pub(crate) const ENV_SSL_CERT_FILE: &str = "SSL_CERT_FILE";

/// Keys read from the `[opik]` section; the same names the Python SDK reads and writes. The
/// exporter knobs' keys are in the knobs' table (`knobs::KNOB_FILE_KEYS`).
pub(crate) const KEY_URL: &str = "url_override";
pub(crate) const KEY_API_KEY: &str = "api_key";
pub(crate) const KEY_WORKSPACE: &str = "workspace";
pub(crate) const KEY_PROJECT: &str = "project_name";
pub(crate) const KEY_TRACK_DISABLE: &str = "track_disable";
pub(crate) const KEY_ENVIRONMENT: &str = "environment";
const FILE_KEYS: [&str; 6] = [
    KEY_ENVIRONMENT,
    KEY_URL,
    KEY_API_KEY,
    KEY_WORKSPACE,
    KEY_PROJECT,
    KEY_TRACK_DISABLE,
];

/// File name of the default config file in the home directory, shared with the Python SDK.
pub(crate) const DEFAULT_FILE_NAME: &str = ".opik.config";

/// Injected environment lookup.
pub(crate) type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where environment variables are read from. Injection exists so tests (which run in parallel
/// threads of one process) never have to mutate the real environment.
#[derive(Clone)]
pub(crate) enum Env {
    Process,
    Injected(Arc<EnvFn>),
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Env::Process => f.write_str("process"),
            Env::Injected(_) => f.write_str("injected"),
        }
    }
}

impl Env {
    /// Reads one variable. A variable that is set but not Unicode is an error rather than
    /// "unset": silently ignoring it would make the SDK behave as if the user had not set it.
    pub(crate) fn get(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match self {
            Env::Injected(f) => Ok(f(name)),
            Env::Process => match std::env::var_os(name) {
                None => Ok(None),
                Some(raw) => raw.into_string().map(Some).map_err(|raw| {
                    let shown = if name == ENV_API_KEY {
                        None
                    } else {
                        Some(raw.to_string_lossy().into_owned())
                    };
                    ConfigError::new(
                        ErrorKind::NotUnicode,
                        setting_of_env(name),
                        Origin::Env(name),
                        shown,
                        "not valid Unicode",
                        format!("Set {name} to a plain UTF-8 value, or unset it."),
                    )
                }),
            },
        }
    }

    /// The home directory used to find `~/.opik.config` and to expand `~` in `OPIK_CONFIG_PATH`.
    /// `USERPROFILE` is the fallback for Windows, where `HOME` is usually not set.
    fn home(&self) -> Result<Option<PathBuf>, ConfigError> {
        for name in ["HOME", "USERPROFILE"] {
            if let Some(home) = self.get(name)? {
                if !home.trim().is_empty() {
                    return Ok(Some(PathBuf::from(home)));
                }
            }
        }
        Ok(None)
    }
}

fn setting_of_env(name: &str) -> &'static str {
    match name {
        ENV_URL => KEY_URL,
        ENV_API_KEY => KEY_API_KEY,
        ENV_WORKSPACE => KEY_WORKSPACE,
        ENV_PROJECT => KEY_PROJECT,
        ENV_TRACK_DISABLE => KEY_TRACK_DISABLE,
        ENV_ENVIRONMENT => KEY_ENVIRONMENT,
        ENV_LOCAL => "local",
        ENV_CONFIG_PATH => "config_file",
        ENV_SSL_CERT_FILE => "ssl_cert_file",
        other => super::knobs::knob_of_env(other).unwrap_or("environment"),
    }
}

/// Parses a boolean the way pydantic (and so the Python SDK) does, so `OPIK_TRACK_DISABLE=on`
/// means the same to both SDKs. Anything else is an error: a typo such as `ture` must not
/// silently leave tracing on (or off).
pub(crate) fn parse_bool(
    raw: &str,
    setting: &'static str,
    origin: Origin,
) -> Result<bool, ConfigError> {
    match bool_word(raw) {
        Some(yes) => Ok(yes),
        None => Err(ConfigError::new(
            ErrorKind::InvalidBool,
            setting,
            origin,
            Some(raw.to_owned()),
            "not a boolean",
            "Use true/1/yes to turn it on or false/0/no to turn it off.",
        )),
    }
}

/// The boolean a word means to pydantic, if any.
pub(crate) fn bool_word(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "t" | "y" => Some(true),
        "0" | "false" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// The config file to read and why.
#[derive(Debug)]
pub(crate) struct FileLocation {
    pub(crate) path: PathBuf,
    /// `Builder`, `Env(OPIK_CONFIG_PATH)` or `Default`. Only a default location may be missing.
    pub(crate) origin: Origin,
}

/// Picks the config file: builder path, else `OPIK_CONFIG_PATH` (blank counts as unset, as in
/// the Python SDK), else `~/.opik.config`. `None` when there is no home directory to look in.
pub(crate) fn locate_file(
    explicit: Option<&Path>,
    env: &Env,
) -> Result<Option<FileLocation>, ConfigError> {
    if let Some(path) = explicit {
        return Ok(Some(FileLocation {
            path: expand_tilde(path, env)?,
            origin: Origin::Builder("config_file"),
        }));
    }
    if let Some(raw) = env.get(ENV_CONFIG_PATH)? {
        let trimmed = raw.trim();
        if !trimmed.is_empty() {
            return Ok(Some(FileLocation {
                path: expand_tilde(Path::new(trimmed), env)?,
                origin: Origin::Env(ENV_CONFIG_PATH),
            }));
        }
    }
    Ok(env.home()?.map(|home| FileLocation {
        path: home.join(DEFAULT_FILE_NAME),
        origin: Origin::Default,
    }))
}

/// Expands a leading `~` like Python's `expanduser`, since `OPIK_CONFIG_PATH=~/x` is often set in
/// files where no shell expands it.
fn expand_tilde(path: &Path, env: &Env) -> Result<PathBuf, ConfigError> {
    let mut parts = path.components();
    let starts_with_tilde = matches!(
        parts.next(),
        Some(std::path::Component::Normal(first)) if first == "~"
    );
    if !starts_with_tilde {
        return Ok(path.to_path_buf());
    }
    match env.home()? {
        Some(home) => Ok(home.join(parts.as_path())),
        // Left as is; opening it fails with an error naming the path, which is the best hint.
        None => Ok(path.to_path_buf()),
    }
}

/// Values found in the `[opik]` section of the config file.
#[derive(Debug, Default)]
pub(crate) struct FileValues {
    path: PathBuf,
    values: HashMap<&'static str, String>,
}

impl FileValues {
    /// The value of `key` and its origin, if the file sets it.
    pub(crate) fn get(&self, key: &'static str) -> Option<(String, Origin)> {
        self.values.get(key).map(|value| {
            (
                value.clone(),
                Origin::File {
                    path: self.path.clone(),
                    key,
                },
            )
        })
    }
}

/// Reads and parses the config file. A missing file is fine only at the default location: a path
/// the user named must exist, or their settings would be silently ignored.
pub(crate) fn load_file(location: &FileLocation) -> Result<Option<FileValues>, ConfigError> {
    let path = &location.path;
    let file_error = |kind, problem: String, fix: &str| {
        ConfigError::new(
            kind,
            "config_file",
            location.origin.clone(),
            Some(path.display().to_string()),
            problem,
            fix,
        )
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && location.origin == Origin::Default =>
        {
            return Ok(None)
        }
        Err(e) => {
            let fix = match location.origin {
                Origin::Env(_) => "Create the file, or point OPIK_CONFIG_PATH at a readable INI file with an [opik] section (or unset it to use ~/.opik.config).",
                Origin::Builder(_) => "Create the file, or pass ConfigBuilder::config_file() the path of a readable INI file with an [opik] section.",
                _ => "Make the file readable, or remove it and configure through OPIK_URL_OVERRIDE / OPIK_API_KEY instead.",
            };
            return Err(file_error(
                ErrorKind::FileUnreadable,
                format!("cannot be read ({e})"),
                fix,
            ));
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        file_error(
            ErrorKind::FileUnparsable,
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "Save the file as UTF-8.",
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    parse_ini(text, path).map(Some).map_err(|problem| {
        file_error(
            ErrorKind::FileUnparsable,
            problem,
            "Fix the file so it is plain INI, e.g. \"[opik]\" on one line, then \"url_override = http://localhost:5173/api\" and \"api_key = ...\" on their own lines.",
        )
    })
}

/// Parses INI text the way Python's `configparser` (with `interpolation=None`) reads it: values
/// are literal (no quote or escape processing), keys are case-insensitive, `[DEFAULT]` supplies
/// values missing from `[opik]`, and a repeated section or key is an error.
fn parse_ini(text: &str, path: &Path) -> Result<FileValues, String> {
    let options = ini::ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        ..ini::ParseOption::default()
    };
    let ini = ini::Ini::load_from_str_opt(text, options).map_err(|e| {
        format!(
            "is not valid INI (line {}, column {}: {})",
            e.line,
            e.col,
            e.msg.trim_end_matches('.')
        )
    })?;

    let mut values = HashMap::new();
    for section in ["opik", "DEFAULT"] {
        let mut sections = ini.section_all(Some(section));
        let Some(props) = sections.next() else {
            continue;
        };
        if sections.next().is_some() {
            return Err(format!(
                "is not valid INI (section [{section}] appears twice)"
            ));
        }
        let mut seen: HashMap<&'static str, ()> = HashMap::new();
        for (key, value) in props.iter() {
            let lower = key.to_ascii_lowercase();
            let Some(known) = FILE_KEYS
                .iter()
                .chain(KNOB_FILE_KEYS)
                .copied()
                .find(|k| *k == lower)
            else {
                // Other keys are Python SDK settings (background_workers, ...): not ours to judge.
                continue;
            };
            if seen.insert(known, ()).is_some() {
                return Err(format!(
                    "is not valid INI (key {known} appears twice in [{section}])"
                ));
            }
            // `[opik]` is read first, so `[DEFAULT]` only fills the gaps.
            values
                .entry(known)
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    Ok(FileValues {
        path: path.to_path_buf(),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bool_parsing_matches_pydantic() {
        for yes in ["1", "true", "TRUE", "Yes", "on", "t", "Y", " true "] {
            assert_eq!(parse_bool(yes, "x", Origin::Default), Ok(true), "{yes}");
        }
        for no in ["0", "false", "False", "no", "OFF", "f", "n"] {
            assert_eq!(parse_bool(no, "x", Origin::Default), Ok(false), "{no}");
        }
        let err = parse_bool("ture", "track_disable", Origin::Env(ENV_TRACK_DISABLE))
            .expect_err("typo must be an error");
        assert_eq!(err.kind(), ErrorKind::InvalidBool);
        assert_eq!(err.value(), Some("ture"));
    }
}
